//! `PageOp`: the one door through which every page of the data file changes.
//!
//! Every modification of a page — a cell inserted into a leaf, a node rebuilt
//! by a split or a merge, a sibling link moved, a page pushed on the free
//! list, the meta page updated — is a [`PageOp`] value. The buffer pool's
//! write guard ([`crate::storage::buffer::PageWrite::apply`]) hands the op to
//! the [`PageLog`](crate::storage::buffer::PageLog) (which returns the LSN of
//! the record it wrote), applies it with [`apply`], stamps the page LSN and
//! marks the frame dirty, all while holding the page's exclusive latch.
//! Recovery will replay a logged op with the same [`apply`] function, so run
//! time and redo cannot drift apart.
//!
//! Ops are *physiological*: they name a page (by the guard they are applied
//! through) and an operation inside it. Each op is self-contained: it carries
//! every byte it writes, so applying it needs nothing but the page.
//!
//! Wire format ([`PageOp::encode`]): one tag byte, then the fields in order,
//! little-endian; byte strings are `u32 length, bytes`; cell lists are
//! `u16 count` then that many byte strings.

use crate::storage::page::{self, PageBuf, PageId, PageType, meta, node};

/// A change to one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageOp<'a> {
    /// Rebuild the page as a tree node holding exactly `cells` (in slot
    /// order). Used for new trees, both halves of a split, merges and root
    /// growth and collapse.
    FormatNode {
        level: u16,
        prev: PageId,
        next: PageId,
        leftmost: PageId,
        cells: Vec<&'a [u8]>,
    },
    /// Insert a cell at a slot of a node.
    InsertCell { slot: u16, cell: &'a [u8] },
    /// Remove the cell at a slot of a node.
    RemoveCell { slot: u16 },
    /// Replace the cell at a slot of a node (the new cell must fit once the
    /// old one is gone).
    ReplaceCell { slot: u16, cell: &'a [u8] },
    /// Set the left sibling link of a leaf.
    SetPrev(PageId),
    /// Set the right sibling link of a leaf.
    SetNext(PageId),
    /// Write one page of an overflow chain.
    FormatOverflow { next: PageId, data: &'a [u8] },
    /// Make the page a free-list page pointing at `next`.
    FormatFree { next: PageId },
    /// Write the meta page.
    SetMeta(meta::Meta),
}

const TAG_FORMAT_NODE: u8 = 1;
const TAG_INSERT: u8 = 2;
const TAG_REMOVE: u8 = 3;
const TAG_REPLACE: u8 = 4;
const TAG_SET_PREV: u8 = 5;
const TAG_SET_NEXT: u8 = 6;
const TAG_OVERFLOW: u8 = 7;
const TAG_FREE: u8 = 8;
const TAG_META: u8 = 9;

/// Applies `op` to the page `id`. The single implementation of every page
/// change, used at run time and (later) for redo. The page LSN is the
/// caller's: [`crate::storage::buffer::PageWrite::apply`] sets it.
///
/// Panics if the op does not fit the page: callers check first, and a
/// logged op that does not fit is a bug.
pub fn apply(p: &mut PageBuf, id: PageId, op: &PageOp<'_>) {
    match op {
        PageOp::FormatNode {
            level,
            prev,
            next,
            leftmost,
            cells,
        } => {
            let ty = if *level == 0 {
                PageType::Leaf
            } else {
                PageType::Interior
            };
            page::format(p, id, ty);
            node::init(p, *level, *prev, *next, *leftmost);
            for (i, c) in cells.iter().enumerate() {
                node::insert(p, i, c);
            }
        }
        PageOp::InsertCell { slot, cell } => node::insert(p, *slot as usize, cell),
        PageOp::RemoveCell { slot } => node::remove(p, *slot as usize),
        PageOp::ReplaceCell { slot, cell } => {
            node::remove(p, *slot as usize);
            node::insert(p, *slot as usize, cell);
        }
        PageOp::SetPrev(v) => node::set_prev(p, *v),
        PageOp::SetNext(v) => node::set_next(p, *v),
        PageOp::FormatOverflow { next, data } => {
            page::format(p, id, PageType::Overflow);
            page::overflow::init(p, *next, data);
        }
        PageOp::FormatFree { next } => {
            page::format(p, id, PageType::Free);
            page::free::init(p, *next);
        }
        PageOp::SetMeta(m) => {
            if page::page_type(p) != Some(PageType::Meta) {
                page::format(p, id, PageType::Meta);
            }
            meta::write(p, m);
        }
    }
}

/// A malformed encoded op.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed page op: {0}")]
pub struct DecodeError(pub &'static str);

impl<'a> PageOp<'a> {
    /// Appends the op's wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        fn bytes(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
        match self {
            PageOp::FormatNode {
                level,
                prev,
                next,
                leftmost,
                cells,
            } => {
                out.push(TAG_FORMAT_NODE);
                out.extend_from_slice(&level.to_le_bytes());
                out.extend_from_slice(&prev.0.to_le_bytes());
                out.extend_from_slice(&next.0.to_le_bytes());
                out.extend_from_slice(&leftmost.0.to_le_bytes());
                out.extend_from_slice(&(cells.len() as u16).to_le_bytes());
                for c in cells {
                    bytes(out, c);
                }
            }
            PageOp::InsertCell { slot, cell } => {
                out.push(TAG_INSERT);
                out.extend_from_slice(&slot.to_le_bytes());
                bytes(out, cell);
            }
            PageOp::RemoveCell { slot } => {
                out.push(TAG_REMOVE);
                out.extend_from_slice(&slot.to_le_bytes());
            }
            PageOp::ReplaceCell { slot, cell } => {
                out.push(TAG_REPLACE);
                out.extend_from_slice(&slot.to_le_bytes());
                bytes(out, cell);
            }
            PageOp::SetPrev(v) => {
                out.push(TAG_SET_PREV);
                out.extend_from_slice(&v.0.to_le_bytes());
            }
            PageOp::SetNext(v) => {
                out.push(TAG_SET_NEXT);
                out.extend_from_slice(&v.0.to_le_bytes());
            }
            PageOp::FormatOverflow { next, data } => {
                out.push(TAG_OVERFLOW);
                out.extend_from_slice(&next.0.to_le_bytes());
                bytes(out, data);
            }
            PageOp::FormatFree { next } => {
                out.push(TAG_FREE);
                out.extend_from_slice(&next.0.to_le_bytes());
            }
            PageOp::SetMeta(m) => {
                out.push(TAG_META);
                out.extend_from_slice(&m.page_count.to_le_bytes());
                out.extend_from_slice(&m.free_head.0.to_le_bytes());
                out.extend_from_slice(&m.free_count.to_le_bytes());
                out.extend_from_slice(&m.directory_root.0.to_le_bytes());
                out.extend_from_slice(&m.next_tree_id.to_le_bytes());
                out.extend_from_slice(&m.checkpoint_lsn.0.to_le_bytes());
            }
        }
    }

    /// Decodes an op from its wire form; the op borrows from `buf`. The whole
    /// of `buf` must be consumed.
    pub fn decode(buf: &'a [u8]) -> Result<PageOp<'a>, DecodeError> {
        let mut r = Reader { buf };
        let op = match r.u8()? {
            TAG_FORMAT_NODE => {
                let level = r.u16()?;
                let prev = PageId(r.u32()?);
                let next = PageId(r.u32()?);
                let leftmost = PageId(r.u32()?);
                let n = r.u16()? as usize;
                let mut cells = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    cells.push(r.bytes()?);
                }
                PageOp::FormatNode {
                    level,
                    prev,
                    next,
                    leftmost,
                    cells,
                }
            }
            TAG_INSERT => PageOp::InsertCell {
                slot: r.u16()?,
                cell: r.bytes()?,
            },
            TAG_REMOVE => PageOp::RemoveCell { slot: r.u16()? },
            TAG_REPLACE => PageOp::ReplaceCell {
                slot: r.u16()?,
                cell: r.bytes()?,
            },
            TAG_SET_PREV => PageOp::SetPrev(PageId(r.u32()?)),
            TAG_SET_NEXT => PageOp::SetNext(PageId(r.u32()?)),
            TAG_OVERFLOW => PageOp::FormatOverflow {
                next: PageId(r.u32()?),
                data: r.bytes()?,
            },
            TAG_FREE => PageOp::FormatFree {
                next: PageId(r.u32()?),
            },
            TAG_META => PageOp::SetMeta(meta::Meta {
                page_count: r.u32()?,
                free_head: PageId(r.u32()?),
                free_count: r.u32()?,
                directory_root: PageId(r.u32()?),
                next_tree_id: r.u64()?,
                checkpoint_lsn: crate::storage::Lsn(r.u64()?),
            }),
            _ => return Err(DecodeError("unknown tag")),
        };
        if !r.buf.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(op)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError("truncated"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Lsn;
    use crate::storage::page::PAGE_SIZE;

    fn all_ops() -> Vec<PageOp<'static>> {
        vec![
            PageOp::FormatNode {
                level: 0,
                prev: PageId(2),
                next: PageId(9),
                leftmost: PageId::NONE,
                cells: vec![b"\x01\x00\x01\x00ab", b"\x01\x00\x00\x00c"],
            },
            PageOp::InsertCell {
                slot: 1,
                cell: b"\x01\x00\x02\x00bxy",
            },
            PageOp::ReplaceCell {
                slot: 0,
                cell: b"\x01\x00\x00\x00a",
            },
            PageOp::RemoveCell { slot: 2 },
            PageOp::SetPrev(PageId(4)),
            PageOp::SetNext(PageId(5)),
            PageOp::FormatOverflow {
                next: PageId(3),
                data: b"payload",
            },
            PageOp::FormatFree { next: PageId(8) },
            PageOp::SetMeta(meta::Meta {
                page_count: 10,
                free_head: PageId(8),
                free_count: 1,
                directory_root: PageId(1),
                next_tree_id: 3,
                checkpoint_lsn: Lsn(99),
            }),
        ]
    }

    #[test]
    fn every_op_decodes_to_itself() {
        for op in all_ops() {
            let mut buf = Vec::new();
            op.encode(&mut buf);
            assert_eq!(PageOp::decode(&buf), Ok(op.clone()));
            // every strict prefix is rejected, never a panic
            for cut in 0..buf.len() {
                assert!(PageOp::decode(&buf[..cut]).is_err(), "{op:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn replaying_decoded_ops_rebuilds_the_same_page() {
        // run time: apply ops directly; redo: apply their decoded encodings
        let ops = &all_ops()[..6];
        let mut live = Box::new([0u8; PAGE_SIZE]);
        let mut redo = Box::new([0u8; PAGE_SIZE]);
        for op in ops {
            apply(&mut live, PageId(7), op);
            let mut buf = Vec::new();
            op.encode(&mut buf);
            apply(&mut redo, PageId(7), &PageOp::decode(&buf).unwrap());
        }
        assert_eq!(live[..], redo[..]);
        assert_eq!(node::count(&live), 2);
        assert_eq!(node::cell(&live, 0), b"\x01\x00\x00\x00a");
        assert_eq!(node::prev(&live), PageId(4));
        assert_eq!(node::next(&live), PageId(5));
    }
}
