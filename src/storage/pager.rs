//! The pager: the data file's meta page, page allocation and the free list.
//!
//! ```text
//!  meta (page 0): page count, free head ---> [free] ---> [free] ---> 0
//!  allocate: pop the free head, else grow the file by one page
//!  free:     format the page as a free page pointing at the old head
//! ```
//!
//! Every change is a [`PageOp`] on the meta page and on the page taken or
//! given back, so allocation is a self-contained redo-only action that the log
//! can record as it stands. The meta page's latch serialises allocations.
//!
//! Latch order: a caller may hold tree latches when it allocates or frees;
//! the pager then takes the meta latch, and (allocation) the free page's. No
//! one holds the meta latch while waiting for a tree latch.
//!
//! Invariants:
//! - `free count` equals the length of the chain from `free head`;
//! - every page below `page count` other than 0 is in exactly one tree (as a
//!   node or an overflow page) or on the free list (verified by `check`).

use std::sync::Arc;

use crate::storage::Lsn;
use crate::storage::buffer::{BufferPool, PageLog, PageWrite};
use crate::storage::disk::FileIo;
use crate::storage::error::{StorageError, StorageResult};
use crate::storage::op::PageOp;
use crate::storage::page::{self, PageId, PageType, meta, meta::Meta};

/// The pool plus the meta page and free list.
pub struct Pager {
    pool: BufferPool,
    /// Structure changes of the trees in this file, counted.
    pub(crate) smo: SmoCounters,
}

/// Counts of B+-tree structure changes, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TreeStats {
    /// Nodes split in two (root splits included).
    pub splits: u64,
    /// Sibling pairs merged into one node.
    pub merges: u64,
    /// Sibling pairs that shared out their cells (borrowing).
    pub redistributions: u64,
}

#[derive(Default)]
pub(crate) struct SmoCounters {
    pub(crate) splits: std::sync::atomic::AtomicU64,
    pub(crate) merges: std::sync::atomic::AtomicU64,
    pub(crate) redistributions: std::sync::atomic::AtomicU64,
}

impl SmoCounters {
    pub(crate) fn bump(c: &std::sync::atomic::AtomicU64) {
        c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> TreeStats {
        use std::sync::atomic::Ordering::Relaxed;
        TreeStats {
            splits: self.splits.load(Relaxed),
            merges: self.merges.load(Relaxed),
            redistributions: self.redistributions.load(Relaxed),
        }
    }
}

impl Pager {
    /// Opens the pager over `file`, formatting it if empty. A new file gets
    /// its meta page and an empty directory tree root at page 1.
    pub fn open(
        file: Arc<dyn FileIo>,
        file_name: &str,
        frames: usize,
        log: Arc<dyn PageLog>,
    ) -> StorageResult<Pager> {
        let len = file.len().map_err(|source| StorageError::Io {
            file: file_name.to_string(),
            source,
        })?;
        let pool = BufferPool::new(file, file_name, frames, log);
        let pager = Pager {
            pool,
            smo: SmoCounters::default(),
        };
        if len == 0 {
            let mut m = pager.pool.create(PageId::META)?;
            let mut root = pager.pool.create(PageId(1))?;
            root.apply(&PageOp::FormatNode {
                level: 0,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost: PageId::NONE,
                cells: Vec::new(),
            })?;
            m.apply(&PageOp::SetMeta(Meta {
                page_count: 2,
                free_head: PageId::NONE,
                free_count: 0,
                directory_root: PageId(1),
                next_tree_id: 1,
                checkpoint_lsn: Lsn(0),
            }))?;
            drop((m, root));
            pager.pool.flush_all()?;
        } else if len % page::PAGE_SIZE as u64 != 0 {
            return Err(StorageError::BadFile {
                file: file_name.to_string(),
                reason: format!("length {len} is not a multiple of the page size"),
            });
        }
        let m = pager.meta()?;
        if u64::from(m.page_count) * (page::PAGE_SIZE as u64) < len {
            return Err(StorageError::BadFile {
                file: file_name.to_string(),
                reason: format!("meta page counts {} pages, file is longer", m.page_count),
            });
        }
        Ok(pager)
    }

    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    fn bad_meta(&self, reason: String) -> StorageError {
        StorageError::Corrupt {
            file: self.pool.file_name().to_string(),
            page: PageId::META,
            reason,
        }
    }

    /// The meta page's fields.
    pub fn meta(&self) -> StorageResult<Meta> {
        let g = self.pool.read(PageId::META)?;
        if page::page_type(&g) != Some(PageType::Meta) {
            return Err(self.bad_meta("page 0 is not a meta page".into()));
        }
        meta::read(&g).map_err(|r| self.bad_meta(r))
    }

    /// Changes the meta page with `f` under its exclusive latch; returns what
    /// `f` returned.
    pub fn update_meta<T>(&self, f: impl FnOnce(&mut Meta) -> T) -> StorageResult<T> {
        let mut g = self.pool.write(PageId::META)?;
        let mut m = meta::read(&g).map_err(|r| self.bad_meta(r))?;
        let out = f(&mut m);
        g.apply(&PageOp::SetMeta(m))?;
        Ok(out)
    }

    /// Takes a page for the caller, latched exclusive. Its contents are
    /// unspecified: the caller's first act must be a formatting op.
    pub fn allocate(&self) -> StorageResult<PageWrite<'_>> {
        let mut mg = self.pool.write(PageId::META)?;
        let mut m = meta::read(&mg).map_err(|r| self.bad_meta(r))?;
        if !m.free_head.is_none() {
            let id = m.free_head;
            if id.0 >= m.page_count {
                return Err(self.bad_meta(format!("free head {id} beyond page count")));
            }
            let g = self.pool.write(id)?;
            if page::page_type(&g) != Some(PageType::Free) {
                return Err(StorageError::Corrupt {
                    file: self.pool.file_name().to_string(),
                    page: id,
                    reason: "page on the free list is not a free page".into(),
                });
            }
            m.free_head = page::free::next(&g);
            m.free_count = m.free_count.saturating_sub(1);
            mg.apply(&PageOp::SetMeta(m))?;
            return Ok(g);
        }
        if m.page_count == u32::MAX {
            return Err(StorageError::FileFull {
                file: self.pool.file_name().to_string(),
                pages: u64::from(m.page_count),
            });
        }
        let id = PageId(m.page_count);
        m.page_count += 1;
        let g = self.pool.create(id)?;
        mg.apply(&PageOp::SetMeta(m))?;
        Ok(g)
    }

    /// Returns `page` (latched exclusive by the caller, no longer reachable
    /// from any tree) to the free list.
    pub fn free(&self, mut page: PageWrite<'_>) -> StorageResult<()> {
        assert!(page.id() != PageId::META, "freeing the meta page");
        let mut mg = self.pool.write(PageId::META)?;
        let mut m = meta::read(&mg).map_err(|r| self.bad_meta(r))?;
        page.apply(&PageOp::FormatFree { next: m.free_head })?;
        m.free_head = page.id();
        m.free_count += 1;
        mg.apply(&PageOp::SetMeta(m))?;
        Ok(())
    }

    /// Flushes every dirty page and syncs the file.
    pub fn flush(&self) -> StorageResult<()> {
        self.pool.flush_all()
    }
}

impl Drop for Pager {
    fn drop(&mut self) {
        // best effort: a clean shutdown writes everything back; callers who
        // need to see the error call `Engine::close`
        let _ = self.pool.flush_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::buffer::NoLog;
    use crate::storage::disk::MemFile;

    fn format_overflow(g: &mut PageWrite<'_>) {
        g.apply(&PageOp::FormatOverflow {
            next: PageId::NONE,
            data: b"x",
        })
        .unwrap();
    }

    #[test]
    fn freed_pages_are_reused_before_the_file_grows() {
        let file = Arc::new(MemFile::default());
        let p = Pager::open(file.clone(), "t", 16, Arc::new(NoLog)).unwrap();
        let mut ids = Vec::new();
        for _ in 0..5 {
            let mut g = p.allocate().unwrap();
            format_overflow(&mut g);
            ids.push(g.id());
        }
        assert_eq!(ids, (2..7).map(PageId).collect::<Vec<_>>());
        for &id in &ids[1..3] {
            p.free(p.pool().write(id).unwrap()).unwrap();
        }
        let m = p.meta().unwrap();
        assert_eq!((m.free_count, m.free_head, m.page_count), (2, PageId(4), 7));
        let a = p.allocate().unwrap().id();
        let b = p.allocate().unwrap().id();
        assert_eq!((a, b), (PageId(4), PageId(3)));
        assert_eq!(p.allocate().unwrap().id(), PageId(7));
    }

    #[test]
    fn reopen_keeps_meta_and_free_list() {
        let file = Arc::new(MemFile::default());
        {
            let p = Pager::open(file.clone(), "t", 16, Arc::new(NoLog)).unwrap();
            let mut g = p.allocate().unwrap();
            format_overflow(&mut g);
            p.free(g).unwrap();
            p.flush().unwrap();
        }
        let p = Pager::open(file, "t", 16, Arc::new(NoLog)).unwrap();
        let m = p.meta().unwrap();
        assert_eq!((m.page_count, m.free_count, m.free_head), (3, 1, PageId(2)));
        assert_eq!(m.directory_root, PageId(1));
    }

    #[test]
    fn a_file_that_is_not_ours_is_rejected() {
        let file = Arc::new(MemFile::default());
        file.write_at(&[7u8; page::PAGE_SIZE], 0).unwrap();
        assert!(Pager::open(file, "t", 16, Arc::new(NoLog)).is_err());
    }
}
