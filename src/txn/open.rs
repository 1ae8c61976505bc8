//! Opening the one engine of a database: storage, the write-ahead log,
//! recovery, and the transaction layer on top.
//!
//! ```text
//!  open_dir(dir):
//!    DurableEngine::open(dir)                log, redo, undo of the losers (their
//!                                            versions go, with CLRs), committed
//!                                            tree drops freed, checkpoint
//!    TxnEngine::durable(WalXidLog, floor)    xids and stamps restart above every
//!                                            id the log knows (IdLimit records)
//!    start_checkpointer                      timed checkpoints (and by log volume,
//!                                            taken by the committer crossing it)
//!  in_memory():
//!    Engine over MemVfs (no log)  +  TxnEngine::volatile_over(engine)
//! ```
//!
//! Invariants:
//! - a file-backed database always runs with the log on (there is no option);
//! - every version a transaction writes is logged with its logical undo in
//!   the log transaction of the same id, so recovery removes the versions of
//!   every transaction without a Commit record;
//! - a commit returns only after its Commit record is durable;
//! - ids (xids and version stamps share the counter) never reach the limit
//!   last logged durably (`IdLimit`, repeated by every checkpoint), so they
//!   never repeat across restarts.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::storage::btree::Tree;
use crate::storage::disk::{MemVfs, OsVfs, Vfs};
use crate::storage::engine::{Engine, EngineOptions};
use crate::storage::wal::durable::{Checkpointer, DEFAULT_CHECKPOINT_INTERVAL_MS, DurableEngine};
use crate::storage::wal::{Wal, WalOptions};

use super::error::TxnError;
use super::lock::LockConfig;
use super::manager::XidLog;
use super::snapshot::Xid;
use super::ssi::SsiConfig;
use super::transaction::TxnEngine;

/// Everything below the SQL layer, opened together.
#[derive(Clone)]
pub struct Stack {
    pub engine: Engine,
    pub txns: Arc<TxnEngine>,
    /// `None` for an in-memory database.
    pub wal: Option<Arc<Wal>>,
    /// The storage engine with its log (file-backed only).
    pub durable: Option<Arc<DurableEngine>>,
    /// Timed checkpoints (file-backed only); the thread stops, after any
    /// checkpoint in progress, when the last clone of the stack goes.
    pub checkpointer: Option<Arc<Checkpointer>>,
}

impl Stack {
    /// An in-memory engine: pages in memory behind the same buffer pool, no log.
    pub fn in_memory(frames: usize) -> Result<Stack, Error> {
        let engine = Engine::open(
            Arc::new(MemVfs::new()),
            EngineOptions {
                buffer_pool_frames: frames,
            },
        )?;
        Ok(Stack {
            txns: TxnEngine::volatile_over(engine.clone()),
            engine,
            wal: None,
            durable: None,
            checkpointer: None,
        })
    }

    /// Opens (creating on first use) the engine in the existing directory
    /// `dir`, with the log on and crash recovery run first.
    pub fn open_dir(dir: &Path, frames: usize) -> Result<Stack, Error> {
        let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(dir));
        Stack::open_vfs(vfs, frames, WalOptions::default())
    }

    /// [`Stack::open_dir`] over any file layer (tests use fault injection).
    /// Storage and its recovery are [`DurableEngine::open`]'s; this adds the
    /// transaction layer with its xid limit on top.
    pub fn open_vfs(
        vfs: Arc<dyn Vfs>,
        frames: usize,
        wal_options: WalOptions,
    ) -> Result<Stack, Error> {
        let (durable, _report) = DurableEngine::open(
            vfs.clone(),
            EngineOptions {
                buffer_pool_frames: frames,
            },
            wal_options,
        )?;
        let durable = Arc::new(durable);
        let wal = durable.wal().clone();
        let next_id = durable.recovered_id_floor().max(Xid::FIRST_NORMAL.0);
        let xid_log = WalXidLog {
            durable: durable.clone(),
        };
        let txns = TxnEngine::durable(
            Arc::new(xid_log),
            durable.clone(),
            next_id,
            LockConfig::default(),
            SsiConfig::default(),
        );
        let checkpointer = DurableEngine::start_checkpointer(
            &durable,
            Duration::from_millis(DEFAULT_CHECKPOINT_INTERVAL_MS),
        );
        Ok(Stack {
            engine: durable.engine().clone(),
            txns,
            wal: Some(wal),
            durable: Some(durable),
            checkpointer: Some(Arc::new(checkpointer)),
        })
    }

    /// Creates an empty tree; with the log on, as one all-or-nothing,
    /// redo-only action (tree creation is not undone by a rollback).
    pub fn create_tree(&self) -> Result<Tree, Error> {
        match &self.durable {
            Some(d) => Ok(self.engine.tree(d.create_tree()?)?),
            None => Ok(self.engine.create_tree()?),
        }
    }

    /// Closes the database below the SQL layer, for every clone of the
    /// stack: stops the timed checkpointer, writes every dirty page back
    /// (the log first, by the write-ahead rule) and syncs, then closes the
    /// pool and the log, so nothing writes the directory afterwards even if
    /// a clone lingers (a thread-local, a leaked handle). Later use of a
    /// clone fails with 57P01.
    pub fn close(&self) -> Result<(), Error> {
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
        if let Some(wal) = &self.wal {
            wal.flush_all()?;
        }
        let pages = self.engine.shut_down();
        if let Some(wal) = &self.wal {
            wal.close()?;
        }
        Ok(pages?)
    }

    /// Makes everything durable: the log, then the pages.
    pub fn flush(&self) -> Result<(), Error> {
        if let Some(wal) = &self.wal {
            wal.flush_all()?;
        }
        self.engine.flush()?;
        Ok(())
    }
}

/// The transaction manager's durability seam over the write-ahead log.
struct WalXidLog {
    durable: Arc<DurableEngine>,
}

impl XidLog for WalXidLog {
    fn persist_id_limit(&self, limit: u64) -> Result<(), TxnError> {
        Ok(self.durable.reserve_ids(limit)?)
    }

    fn make_commit_durable(&self, _xid: Xid) -> Result<(), TxnError> {
        // Logged transactions commit through their log transaction (Commit
        // record, group flush) before the manager is told; this is only
        // reached for a commit with nothing logged: make the log durable.
        self.durable
            .wal()
            .flush_all()
            .map_err(|e| TxnError::from(Error::from(e)))
    }

    fn record_abort(&self, _xid: Xid) -> Result<(), TxnError> {
        // The rollback itself is logged (Abort, CLRs, End) by the log
        // transaction; without a Commit record a transaction is a loser.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{IsolationLevel, TxnOptions};

    #[test]
    fn committed_versions_survive_reopen_and_xids_restart_above_them() {
        let dir = tempfile::tempdir().unwrap();
        let tree_id;
        let first_xid;
        {
            let s = Stack::open_dir(dir.path(), 64).unwrap();
            let tree = s.engine.create_tree().unwrap();
            tree_id = tree.id();
            let mut t = s
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            first_xid = t.xid();
            t.begin_statement().unwrap();
            assert!(t.insert(&tree, b"k", b"v1").unwrap());
            t.commit().unwrap();
            let mut t = s
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            t.begin_statement().unwrap();
            assert!(t.insert(&tree, b"gone", b"x").unwrap());
            t.rollback().unwrap();
            s.flush().unwrap();
        }
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let tree = s.engine.tree(tree_id).unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        assert!(t.xid().0 > first_xid.0);
        t.begin_statement().unwrap();
        assert_eq!(t.get(&tree, b"k").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(t.get(&tree, b"gone").unwrap(), None);
        t.commit().unwrap();
    }

    #[test]
    fn a_closed_stack_writes_nothing_more_through_any_clone() {
        let dir = tempfile::tempdir().unwrap();
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let tree = s.create_tree().unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        assert!(t.insert(&tree, b"k", b"v").unwrap());
        t.commit().unwrap();
        let clone = s.clone();
        s.close().unwrap();
        let files = |dir: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
            let mut out = Vec::new();
            for sub in [dir.to_path_buf(), dir.join("wal")] {
                for e in std::fs::read_dir(&sub).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_file() {
                        out.push((p.clone(), std::fs::read(&p).unwrap()));
                    }
                }
            }
            out.sort();
            out
        };
        let before = files(dir.path());
        // The clone fails (57P01) instead of writing anything.
        let e = clone
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .and_then(|mut t| {
                t.begin_statement()?;
                t.insert(&tree, b"late", b"x")?;
                t.commit()
            })
            .unwrap_err();
        assert_eq!(Error::from(e).sqlstate.0, "57P01");
        let e = tree.get(b"k").unwrap_err(); // reads fail too, even of cached pages
        assert!(e.to_string().contains("is closed"), "{e}");
        drop((clone, tree, s));
        assert!(before == files(dir.path()), "a closed stack changed a file");
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let tree = s.engine.tree(s.engine.trees().unwrap()[0].0).unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        assert_eq!(t.get(&tree, b"k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(t.get(&tree, b"late").unwrap(), None);
        t.commit().unwrap();
    }

    #[test]
    fn in_memory_stack_runs_transactions() {
        let s = Stack::in_memory(64).unwrap();
        let tree = s.engine.create_tree().unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        assert!(t.insert(&tree, b"a", b"1").unwrap());
        t.begin_statement().unwrap(); // a statement sees the earlier ones' writes
        assert_eq!(t.get(&tree, b"a").unwrap(), Some(b"1".to_vec()));
        t.rollback().unwrap();
    }
}
