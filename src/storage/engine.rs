//! The storage engine's front door: a data file opened through a [`Vfs`],
//! and the trees inside it, by [`TreeId`].
//!
//! ```text
//!  Engine --> Pager (meta page, free list) --> BufferPool --> FileIo ("arbordb.data")
//!     |
//!     '--> directory tree (root in the meta page): TreeId (u64 BE) -> root page (u32 LE)
//! ```
//!
//! The directory is itself a B+-tree (id 0), so any number of trees fit.
//! A tree's root page never changes while the tree exists, so a [`Tree`]
//! handle stays valid until the tree is dropped.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::storage::btree::{Tree, TreeId};
use crate::storage::buffer::{NoLog, PageLog, PoolStats};
use crate::storage::check::{self, CheckReport};
use crate::storage::disk::{MemVfs, OsVfs, Vfs};
use crate::storage::error::{StorageError, StorageResult};
use crate::storage::page::{PageId, get_u32};
use crate::storage::pager::Pager;

/// Name of the data file inside a data directory.
pub const DATA_FILE_NAME: &str = "arbordb.data";

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Frames in the buffer pool (8 KiB each); at least
    /// [`crate::storage::buffer::MIN_FRAMES`].
    pub buffer_pool_frames: usize,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            buffer_pool_frames: 16 * 1024,
        }
    }
}

/// An open data file and its trees. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pager: Arc<Pager>,
    directory: Tree,
    roots: Mutex<HashMap<TreeId, PageId>>,
    /// Serialises tree creation and dropping (directory + meta updates).
    ddl: Mutex<()>,
    _vfs: Arc<dyn Vfs>,
}

impl Engine {
    /// Opens (creating if missing) the data file in `vfs` without a log.
    pub fn open(vfs: Arc<dyn Vfs>, options: EngineOptions) -> StorageResult<Engine> {
        Engine::open_with_log(vfs, options, Arc::new(NoLog))
    }

    /// Opens the data file with `log` as the write-ahead log.
    pub fn open_with_log(
        vfs: Arc<dyn Vfs>,
        options: EngineOptions,
        log: Arc<dyn PageLog>,
    ) -> StorageResult<Engine> {
        let file = vfs
            .open(Path::new(DATA_FILE_NAME), true)
            .map_err(|source| StorageError::Io {
                file: DATA_FILE_NAME.to_string(),
                source,
            })?;
        let pager = Arc::new(Pager::open(
            file,
            DATA_FILE_NAME,
            options.buffer_pool_frames,
            log,
        )?);
        let meta = pager.meta()?;
        let directory = Tree::new(pager.clone(), TreeId(0), meta.directory_root);
        Ok(Engine {
            inner: Arc::new(Inner {
                pager,
                directory,
                roots: Mutex::new(HashMap::new()),
                ddl: Mutex::new(()),
                _vfs: vfs,
            }),
        })
    }

    /// Opens the data file in directory `dir` (which must exist).
    pub fn open_dir(dir: impl AsRef<Path>, options: EngineOptions) -> StorageResult<Engine> {
        Engine::open(Arc::new(OsVfs::new(dir.as_ref())), options)
    }

    /// An engine whose pages live in memory behind the same buffer pool.
    pub fn in_memory(options: EngineOptions) -> StorageResult<Engine> {
        Engine::open(Arc::new(MemVfs::new()), options)
    }

    pub(crate) fn pager(&self) -> &Arc<Pager> {
        &self.inner.pager
    }
    pub(crate) fn directory(&self) -> &Tree {
        &self.inner.directory
    }

    /// Creates an empty tree.
    pub fn create_tree(&self) -> StorageResult<Tree> {
        // One structure change for the log (meta, root page, directory),
        // entered before the DDL mutex: the log's structure-change gate is
        // always taken first.
        let log = self.inner.pager.pool().log();
        log.begin_smo();
        let res = self.create_tree_unbracketed();
        log.end_smo()?;
        res
    }

    fn create_tree_unbracketed(&self) -> StorageResult<Tree> {
        let _ddl = self.inner.ddl.lock();
        let id = TreeId(self.inner.pager.update_meta(|m| {
            let id = m.next_tree_id;
            m.next_tree_id += 1;
            id
        })?);
        let root = {
            let mut g = self.inner.pager.allocate()?;
            Tree::format_root(&mut g)?;
            g.id()
        };
        self.inner
            .directory
            .insert(&id.0.to_be_bytes(), &root.0.to_le_bytes())?;
        self.inner.roots.lock().insert(id, root);
        Ok(Tree::new(self.inner.pager.clone(), id, root))
    }

    /// The tree with id `id`.
    pub fn tree(&self, id: TreeId) -> StorageResult<Tree> {
        if let Some(&root) = self.inner.roots.lock().get(&id) {
            return Ok(Tree::new(self.inner.pager.clone(), id, root));
        }
        let v = self
            .inner
            .directory
            .get(&id.0.to_be_bytes())?
            .ok_or(StorageError::NoSuchTree(id.0))?;
        let root = self.decode_root(id, &v)?;
        self.inner.roots.lock().insert(id, root);
        Ok(Tree::new(self.inner.pager.clone(), id, root))
    }

    fn decode_root(&self, id: TreeId, v: &[u8]) -> StorageResult<PageId> {
        if v.len() != 4 {
            return Err(StorageError::Corrupt {
                file: DATA_FILE_NAME.to_string(),
                page: self.inner.directory.root(),
                reason: format!("directory entry for tree {} is malformed", id.0),
            });
        }
        Ok(PageId(get_u32(v, 0)))
    }

    /// Every tree's id and root page, in id order.
    pub fn trees(&self) -> StorageResult<Vec<(TreeId, PageId)>> {
        let mut out = Vec::new();
        for e in self.inner.directory.iter() {
            let (k, v) = e?;
            let mut b = [0u8; 8];
            if k.len() != 8 {
                return Err(StorageError::Corrupt {
                    file: DATA_FILE_NAME.to_string(),
                    page: self.inner.directory.root(),
                    reason: "directory key is not a tree id".into(),
                });
            }
            b.copy_from_slice(&k);
            let id = TreeId(u64::from_be_bytes(b));
            out.push((id, self.decode_root(id, &v)?));
        }
        Ok(out)
    }

    /// Drops a tree and frees all its pages. The caller guarantees that no
    /// one uses the tree any more.
    pub fn drop_tree(&self, id: TreeId) -> StorageResult<()> {
        let log = self.inner.pager.pool().log();
        log.begin_smo();
        let res = self.drop_tree_unbracketed(id);
        log.end_smo()?;
        res
    }

    fn drop_tree_unbracketed(&self, id: TreeId) -> StorageResult<()> {
        let _ddl = self.inner.ddl.lock();
        let tree = self.tree(id)?;
        self.inner.directory.delete(&id.0.to_be_bytes())?;
        self.inner.roots.lock().remove(&id);
        tree.free_all()
    }

    /// Walks every tree and the free list and reports every fault found.
    /// Meant for a quiescent engine (no concurrent writers).
    pub fn check(&self) -> StorageResult<CheckReport> {
        check::check(self)
    }

    /// Writes every dirty page back and syncs the data file.
    pub fn flush(&self) -> StorageResult<()> {
        self.inner.pager.flush()
    }

    /// Writes every dirty page back without syncing (what SQLite's commit
    /// does with `synchronous = OFF`).
    pub fn write_back(&self) -> StorageResult<()> {
        self.inner.pager.pool().write_back()
    }

    /// Flushes and closes (dropping the last handle to the engine and its
    /// trees also flushes, ignoring errors).
    pub fn close(self) -> StorageResult<()> {
        self.flush()
    }

    /// Flushes and closes the engine for every handle: afterwards no handle
    /// (a clone, a tree) reads or writes the file any more; each request
    /// fails with [`StorageError::Closed`]. A database closing does this, so
    /// a handle left somewhere cannot write old frames back over a data
    /// file that a later open (or another process) has changed.
    pub fn shut_down(&self) -> StorageResult<()> {
        self.inner.pager.pool().close()
    }

    /// Buffer pool counters.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pager.pool().stats()
    }

    /// Counts of tree splits, merges and redistributions since open.
    pub fn tree_stats(&self) -> crate::storage::pager::TreeStats {
        self.inner.pager.smo.get()
    }

    /// Pages in the data file, and how many are free.
    pub fn page_counts(&self) -> StorageResult<(u32, u32)> {
        let m = self.inner.pager.meta()?;
        Ok((m.page_count, m.free_count))
    }

    /// Drops every cached page (after a flush), so the next reads come from
    /// the file. For tests that change the file underneath.
    pub fn discard_cache(&self) -> StorageResult<()> {
        self.flush()?;
        self.inner.pager.pool().discard_all();
        Ok(())
    }
}
