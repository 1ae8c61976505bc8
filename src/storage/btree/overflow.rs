//! Overflow chains: values too large to sit in a leaf cell.
//!
//! ```text
//!  leaf cell [klen|FFFF|key|total len|first] --> [ovf: next|used|data] --> ... --> 0
//! ```
//!
//! A chain is written completely (last page first, so each page is formatted
//! once with its `next`) before the cell pointing at it is inserted, so no
//! reader can reach a half-written chain. A chain is read while its leaf is
//! latched shared, and freed while the leaf is latched exclusive, so it cannot
//! be freed under a reader. Latch order: leaf, then chain pages, then meta.

use crate::storage::error::{StorageError, StorageResult};
use crate::storage::op::PageOp;
use crate::storage::page::{PageId, PageType, overflow, page_type};
use crate::storage::pager::Pager;

/// Writes `value` as a chain; returns its first page.
pub fn write(pager: &Pager, value: &[u8]) -> StorageResult<PageId> {
    let mut next = PageId::NONE;
    let chunks = value.len().div_ceil(overflow::CAPACITY).max(1);
    for i in (0..chunks).rev() {
        let start = i * overflow::CAPACITY;
        let end = (start + overflow::CAPACITY).min(value.len());
        let mut g = pager.allocate()?;
        g.apply(&PageOp::FormatOverflow {
            next,
            data: &value[start..end],
        })?;
        next = g.id();
    }
    Ok(next)
}

fn bad(pager: &Pager, page: PageId, reason: &str) -> StorageError {
    StorageError::Corrupt {
        file: pager.pool().file_name().to_string(),
        page,
        reason: reason.to_string(),
    }
}

fn pages_for(len: u64) -> u64 {
    len.div_ceil(overflow::CAPACITY as u64).max(1)
}

/// Reads a chain of `len` bytes starting at `first`.
pub fn read(pager: &Pager, first: PageId, len: u64) -> StorageResult<Vec<u8>> {
    let cap = usize::try_from(len).map_err(|_| bad(pager, first, "overflow length too large"))?;
    let mut out = Vec::with_capacity(cap.min(1 << 30));
    let mut id = first;
    for _ in 0..pages_for(len) {
        if id.is_none() {
            return Err(bad(pager, first, "overflow chain ends early"));
        }
        let g = pager.pool().read(id)?;
        if page_type(&g) != Some(PageType::Overflow) {
            return Err(bad(pager, id, "expected an overflow page"));
        }
        out.extend_from_slice(overflow::data(&g));
        id = overflow::next(&g);
    }
    if out.len() as u64 != len || !id.is_none() {
        return Err(bad(pager, first, "overflow chain length mismatch"));
    }
    Ok(out)
}

/// Frees a chain of `len` bytes starting at `first`.
pub fn free(pager: &Pager, first: PageId, len: u64) -> StorageResult<()> {
    let mut id = first;
    for _ in 0..pages_for(len) {
        if id.is_none() {
            break;
        }
        let g = pager.pool().write(id)?;
        if page_type(&g) != Some(PageType::Overflow) {
            return Err(bad(pager, id, "expected an overflow page"));
        }
        let next = overflow::next(&g);
        pager.free(g)?;
        id = next;
    }
    Ok(())
}

/// The pages of a chain, for the checker: `(pages, bytes)` or a fault.
pub fn walk(pager: &Pager, first: PageId, len: u64) -> StorageResult<Result<Vec<PageId>, String>> {
    let mut id = first;
    let mut pages = Vec::new();
    let mut bytes = 0u64;
    for _ in 0..pages_for(len) {
        if id.is_none() {
            return Ok(Err(format!("overflow chain at {first} ends early")));
        }
        let g = pager.pool().read(id)?;
        if page_type(&g) != Some(PageType::Overflow) {
            return Ok(Err(format!(
                "page {id} in overflow chain is not an overflow page"
            )));
        }
        pages.push(id);
        bytes += overflow::data(&g).len() as u64;
        id = overflow::next(&g);
    }
    if bytes != len || !id.is_none() {
        return Ok(Err(format!(
            "overflow chain at {first} holds {bytes} bytes, cell says {len}"
        )));
    }
    Ok(Ok(pages))
}
