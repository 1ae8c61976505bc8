//! The storage engine with its log: B+-trees that survive crashes, with
//! transactions at this layer (begin / commit / rollback).
//!
//! ```text
//!  DurableEngine::open(vfs)
//!    1 Wal::open                      find the end of the log (torn tail cut)
//!    2 recover_pages(data file)       analysis + redo into the data file
//!    3 Engine::open_with_log          the trees, their pages logged by WalPageLog
//!    4 recovery::undo                 roll back the losers by tree and key (CLRs)
//!    5 checkpoint                     recovery is done; the log can shrink
//!
//!  insert(txn, tree, key, value)
//!    Update{undo: key ▸ old value}    logical undo, before any page changes
//!    begin_smo                        every page change of the tree operation
//!      Tree::insert                   (leaf change, splits, overflow pages) is
//!    end_smo                          one redo-only, all-or-nothing action
//!
//!  insert_new_if_range_empty(txn, tree, [lo, hi), key, value)
//!    begin_smo
//!      descend to the leaf of lo, exclusive latch; [lo, hi) empty there
//!      and wholly inside the leaf, room for the cell? else decline
//!      Update{undo: key ▸ none}       still before the page change
//!      InsertCell                     the leaf's redo record
//!    end_smo
//! ```
//!
//! A tree operation is bracketed as one structure change (the tree brackets
//! each insert and delete itself, so writers that call trees directly, like
//! the MVCC layer, get the same guarantee; brackets nest), so redo applies
//! all of its page changes or none; a crash inside a split cannot leave a
//! half-split tree. The rollback of a row change is the inverse tree
//! operation, found by tree and key wherever the key lives by then.
//!
//! [`DurableEngine::create_tree`] is redo-only (bootstrap trees);
//! [`DurableEngine::create_tree_in`] logs `CreateTree` in the transaction,
//! so a rollback (or recovery's undo of a loser) frees the tree again.
//! [`DurableEngine::drop_tree_at_commit`] logs `DropTree` before the Commit;
//! the caller frees the tree after the commit, and recovery frees the
//! committed drops it finds (the checkpoint lists those not yet freed).
//!
//! The tree releases its page latches when the operation returns, just
//! before `end_smo` is logged; the structure-change gate of
//! [`WalPageLog`] keeps every other thread's page changes out of that
//! window (docs/wal.md, "The structure-change gate"). Open problem: the
//! gate serialises tree writes; logging `end_smo` inside the tree before the
//! latches go would let them run in parallel again.
//!
//! Checkpoints: after recovery, every `checkpoint_log_bytes` of log (taken
//! by the committer that crosses the mark), and on a timer
//! ([`DurableEngine::start_checkpointer`]; `txn::open::Stack` starts one).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::Error;
use crate::storage::Lsn;
use crate::storage::btree::{Tree, TreeId};
use crate::storage::buffer::PageLog;
use crate::storage::disk::{FileIo, Vfs};
use crate::storage::engine::{DATA_FILE_NAME, Engine, EngineOptions};
use crate::storage::error::StorageError;

use super::WalError;
use super::log::{Wal, WalOptions};
use super::pagelog::WalPageLog;
use super::record::{LogicalUndo, Record, RecordBody, TreeDrop, TxnId};
use super::recovery::{self, Analysis, RedoStats};
use super::txn::{TxnHandle, TxnManager, UndoApplier};

/// What opening found and did.
#[derive(Debug, Clone)]
pub struct RecoveryReport {
    pub analysis: Analysis,
    pub redo: RedoStats,
    pub losers_rolled_back: usize,
    pub torn_tail: bool,
}

/// A transaction of the durable engine.
pub type Txn = Arc<TxnHandle>;

/// The storage engine with write-ahead logging and crash recovery.
pub struct DurableEngine {
    engine: Engine,
    log: Arc<WalPageLog>,
    txns: TxnManager,
    /// A checkpoint is taken after this many bytes of log since the last.
    checkpoint_log_bytes: AtomicU64,
    /// The log's end when the last checkpoint finished.
    last_checkpoint_end: AtomicU64,
    /// One checkpoint at a time.
    checkpointing: Mutex<()>,
    /// The checkpointer thread, if one runs: a checkpoint due by log volume
    /// is asked of it, so no committer waits for a checkpoint to finish.
    checkpointer: Mutex<Weak<CheckpointerShared>>,
    /// Drops logged (`DropTree`) and not yet freed. A checkpoint records
    /// them (`TreeDrops`), so recovery can free the committed ones.
    drops: Mutex<Vec<TreeDrop>>,
    /// The highest id limit logged (`IdLimit`); a checkpoint repeats it.
    id_limit: Mutex<u64>,
    /// Above every transaction id and version stamp the log knows of.
    recovered_id_floor: u64,
}

/// The logical undo of inserting `key` into `tree`: delete it.
fn undo_insert(tree: &Tree, key: &[u8]) -> LogicalUndo {
    LogicalUndo {
        tree: tree.id().0,
        key: key.to_vec(),
        before: None,
    }
}

/// Log volume between checkpoints, by default.
pub const DEFAULT_CHECKPOINT_LOG_BYTES: u64 = 64 << 20;

/// Time between timed checkpoints, by default (PostgreSQL's
/// `checkpoint_timeout`).
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 300_000;

/// The timed-checkpoint thread of one engine; dropping this stops it (and
/// waits for a checkpoint in progress).
pub struct Checkpointer {
    shared: Arc<CheckpointerShared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct CheckpointerShared {
    state: Mutex<CheckpointerState>,
    wake: Condvar,
    /// Checkpoints this thread has taken.
    taken: AtomicU64,
}

struct CheckpointerState {
    stop: bool,
    interval: Duration,
    /// A checkpoint is due by log volume: take one now.
    requested: bool,
}

impl CheckpointerShared {
    fn run(&self, db: &Weak<DurableEngine>) {
        let mut st = self.state.lock();
        loop {
            // Checked before every wait: a stop set before this thread
            // first waited sent its wake-up to nobody.
            if st.stop {
                return;
            }
            if !st.requested {
                let interval = st.interval;
                let timed_out = self.wake.wait_for(&mut st, interval).timed_out();
                if st.stop {
                    return;
                }
                if !timed_out && !st.requested {
                    // The interval changed: wait the new one from now.
                    continue;
                }
            }
            st.requested = false;
            drop(st);
            let Some(db) = db.upgrade() else { return };
            let idle = db.wal().next_lsn().0 == db.last_checkpoint_end.load(Ordering::Relaxed);
            if !idle {
                match db.checkpoint_if_idle() {
                    Ok(taken) => {
                        self.taken.fetch_add(u64::from(taken), Ordering::Relaxed);
                    }
                    Err(e) => tracing::error!(error = %e, "timed checkpoint failed"),
                }
            }
            drop(db);
            st = self.state.lock();
        }
    }
}

impl Checkpointer {
    /// Changes the time between checkpoints (the next one is `interval`
    /// from now).
    pub fn set_interval(&self, interval: Duration) {
        self.shared.state.lock().interval = interval;
        self.shared.wake.notify_all();
    }

    /// Checkpoints the thread has taken (tests, monitoring).
    pub fn checkpoints_taken(&self) -> u64 {
        self.shared.taken.load(Ordering::Relaxed)
    }

    /// Stops the thread and waits for a checkpoint in progress (a database
    /// closing does this even while other handles to the stack remain).
    pub fn stop(&self) {
        self.shared.state.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.lock().take() {
            // The thread may hold the last handle to the engine and drop
            // it, but it never drops the Checkpointer: joining cannot wait
            // for ourselves.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}

struct EngineUndo<'a> {
    engine: &'a Engine,
    log: &'a WalPageLog,
}

impl UndoApplier for EngineUndo<'_> {
    fn apply_undo(&self, undo: &LogicalUndo) -> Result<(), Error> {
        let tree = self.engine.tree(TreeId(undo.tree))?;
        self.log.begin_smo();
        let res = match &undo.before {
            Some(v) => tree.insert(&undo.key, v).map(|_| ()),
            None => tree.delete(&undo.key).map(|_| ()),
        };
        self.log.end_smo()?;
        Ok(res?)
    }

    fn undo_create_tree(&self, tree: u64) -> Result<(), Error> {
        free_tree(self.engine, self.log, TreeId(tree))
    }
}

/// Frees `tree` (every page, and its directory entry) as one structure
/// change; nothing to do if it is gone already (undo and recovery repeat it).
fn free_tree(engine: &Engine, log: &WalPageLog, tree: TreeId) -> Result<(), Error> {
    match engine.tree(tree) {
        Ok(_) => {}
        Err(StorageError::NoSuchTree(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    log.begin_smo();
    let res = engine.drop_tree(tree);
    log.end_smo()?;
    Ok(res?)
}

impl DurableEngine {
    /// Opens (creating on first use) the engine in `vfs`, recovering from
    /// the log first.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        options: EngineOptions,
        wal_options: WalOptions,
    ) -> Result<(DurableEngine, RecoveryReport), Error> {
        let data_path = Path::new(DATA_FILE_NAME);
        // The log is always created before the data file gets a page, so a
        // data file with content and no log was not made by an interrupted
        // creation: its log was removed, or the file came from elsewhere (a
        // bare storage file). Starting a log over it would call its pages
        // garbage; refuse and touch nothing.
        if !vfs.exists(&super::control::control_path()) && vfs.exists(data_path) {
            let len = vfs
                .open(data_path, false)
                .and_then(|f| f.len())
                .map_err(|e| WalError::Io {
                    path: DATA_FILE_NAME.to_string(),
                    source: e,
                })?;
            if len > 0 {
                return Err(WalError::Corrupt {
                    lsn: Lsn(0),
                    reason: format!(
                        "\"{DATA_FILE_NAME}\" holds {len} bytes but the write-ahead log \
                         (wal/control) is missing; refusing to open rather than start \
                         a new log over it"
                    ),
                }
                .into());
            }
        }
        let (mut wal, mut report) = Wal::open(vfs.clone(), wal_options.clone())?;
        let io = |path: &str, e: std::io::Error| WalError::Io {
            path: path.to_string(),
            source: e,
        };
        if !report.created && wal.checkpoint_lsn() == Lsn(0) {
            // Every open ends with a checkpoint: none means the very first
            // open never finished, so nothing was ever acknowledged. Start
            // afresh (data file first, then the control file, then the
            // segments, each step durable, so a crash here is harmless).
            tracing::warn!("the database's first open never finished; creating it afresh");
            drop(wal);
            if vfs.exists(data_path) {
                vfs.remove(data_path).map_err(|e| io(DATA_FILE_NAME, e))?;
                vfs.sync_dir(Path::new("")).map_err(|e| io(".", e))?;
            }
            let wal_dir = Path::new(super::segment::WAL_DIR);
            let control = super::control::control_path();
            if vfs.exists(&control) {
                vfs.remove(&control).map_err(|e| io("wal/control", e))?;
                vfs.sync_dir(wal_dir).map_err(|e| io("wal", e))?;
            }
            (wal, report) = Wal::open(vfs.clone(), wal_options)?;
        }
        let wal = Arc::new(wal);
        if !report.created && !vfs.exists(data_path) {
            // A checkpoint may have called pages clean that only the data
            // file holds: without it, committed data would be lost.
            return Err(WalError::Corrupt {
                lsn: wal.checkpoint_lsn(),
                reason: format!(
                    "data file \"{DATA_FILE_NAME}\" is missing but the log has checkpoints"
                ),
            }
            .into());
        }
        let file: Arc<dyn FileIo> = vfs
            .open(data_path, true)
            .map_err(|e| io(DATA_FILE_NAME, e))?;
        if report.created {
            // The log is created before the data file: a data file older
            // than the log is the leftover of a creation cut short.
            file.set_len(0).map_err(|e| io(DATA_FILE_NAME, e))?;
            file.sync().map_err(|e| io(DATA_FILE_NAME, e))?;
        }
        // The data file's directory entry is durable before any checkpoint
        // can call its pages clean.
        vfs.sync_dir(Path::new("")).map_err(|e| WalError::Io {
            path: ".".to_string(),
            source: e,
        })?;
        let (analysis, redo) =
            recovery::recover_pages(&wal, file, DATA_FILE_NAME, options.buffer_pool_frames)?;
        let log = Arc::new(WalPageLog::new(wal.clone()));
        let engine = Engine::open_with_log(vfs, options, log.clone())?;
        let txns = TxnManager::new(wal, analysis.max_txn + 1);
        let recovered_id_floor = analysis.id_limit.max(analysis.max_txn + 1);
        let losers = recovery::undo(
            &analysis,
            &txns,
            &EngineUndo {
                engine: &engine,
                log: &log,
            },
        )?;
        let db = DurableEngine {
            engine,
            log,
            txns,
            checkpoint_log_bytes: AtomicU64::new(DEFAULT_CHECKPOINT_LOG_BYTES),
            last_checkpoint_end: AtomicU64::new(0),
            checkpointing: Mutex::new(()),
            checkpointer: Mutex::new(Weak::new()),
            drops: Mutex::new(Vec::new()),
            id_limit: Mutex::new(recovered_id_floor),
            recovered_id_floor,
        };
        // Drops that committed before the crash: no snapshot survives a
        // restart, so nothing can read those trees any more.
        for tree in analysis.committed_drops() {
            free_tree(&db.engine, &db.log, TreeId(tree))?;
        }
        db.checkpoint()?;
        let report = RecoveryReport {
            analysis,
            redo,
            losers_rolled_back: losers,
            torn_tail: report.torn_tail,
        };
        Ok((db, report))
    }

    /// The trees underneath (reads, checks; writes go through this type).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn wal(&self) -> &Arc<Wal> {
        self.txns.wal()
    }

    fn atomically<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        self.log.begin_smo();
        let res = f();
        self.log.end_smo()?;
        res
    }

    /// Creates a tree (redo-only: survives a rollback).
    pub fn create_tree(&self) -> Result<TreeId, Error> {
        self.atomically(|| Ok(self.engine.create_tree()?.id()))
    }

    /// Starts a transaction.
    pub fn begin(&self) -> Result<Txn, Error> {
        Ok(self.txns.begin()?)
    }

    /// Starts a transaction with the id `id` (the MVCC layer's xid).
    pub fn begin_with_id(&self, id: u64) -> Result<Txn, Error> {
        Ok(self.txns.begin_with_id(TxnId(id))?)
    }

    /// The first id the MVCC counter may hand out after this open: above
    /// every transaction id in the log and every id limit logged, so above
    /// every xid and version stamp ever used.
    pub fn recovered_id_floor(&self) -> u64 {
        self.recovered_id_floor
    }

    /// Logs that ids below `limit` may be handed out from now on and waits
    /// until that is durable (once per block of ids), so that no id handed
    /// out is ever handed out again after a crash.
    pub fn reserve_ids(&self, limit: u64) -> Result<(), Error> {
        let mut current = self.id_limit.lock();
        let lsn = self.wal().append(&Record {
            txn: TxnId(0),
            prev_lsn: Lsn(0),
            body: RecordBody::IdLimit { limit },
        })?;
        *current = (*current).max(limit);
        drop(current);
        self.wal().flush(lsn)?;
        Ok(())
    }

    /// Creates a tree within `txn`: if `txn` rolls back (or is running at a
    /// crash), undo frees the tree again. The creation and its `CreateTree`
    /// record are one structure change.
    pub fn create_tree_in(&self, txn: &Txn) -> Result<TreeId, Error> {
        self.atomically(|| {
            let id = self.engine.create_tree()?.id();
            self.txns.log_create_tree(txn, id.0)?;
            Ok(id)
        })
    }

    /// Inserts a new key (one that did not exist: its undo deletes it) into
    /// `tree` within `txn`; the MVCC layer's version insert.
    pub fn insert_new(
        &self,
        txn: &Txn,
        tree: &Tree,
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, Error> {
        self.txns.log_update(txn, undo_insert(tree, key))?;
        self.txns.run(txn, || Ok(tree.insert(key, value)?))
    }

    /// The MVCC layer's first version of a row in one tree descent
    /// ([`Tree::insert_if_range_empty`]): inserts `key` (in `[lo, hi)`)
    /// within `txn` if the range is empty, logging the Update record (undo:
    /// delete `key`) under the leaf's latch after the check and before the
    /// page change, so the logical undo precedes the page's redo record as
    /// in [`DurableEngine::insert_new`]. Returns whether it inserted; when
    /// the tree declines, nothing is logged and the caller takes the
    /// general path (read the versions, then `insert_new`).
    pub fn insert_new_if_range_empty(
        &self,
        txn: &Txn,
        tree: &Tree,
        lo: &[u8],
        hi: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, Error> {
        self.txns.run(txn, || {
            tree.insert_if_range_empty(lo, hi, key, value, || -> Result<(), Error> {
                self.txns.log_update(txn, undo_insert(tree, key))?;
                Ok(())
            })
        })
    }

    /// Logs that `txn` drops `tree` (call just before committing `txn`);
    /// the tree stays until [`DurableEngine::free_dropped_tree`], which the
    /// caller calls once the commit is durable and no snapshot can read it.
    pub fn drop_tree_at_commit(&self, txn: &Txn, tree: TreeId) -> Result<(), Error> {
        let mut drops = self.drops.lock();
        self.txns
            .log_in_chain(txn, RecordBody::DropTree { tree: tree.0 })?;
        drops.push(TreeDrop {
            tree: tree.0,
            txn: TxnId(txn.id().0),
            committed: false,
        });
        Ok(())
    }

    /// Frees a tree whose drop committed (redo-only, one structure change).
    pub fn free_dropped_tree(&self, tree: TreeId) -> Result<(), Error> {
        free_tree(&self.engine, &self.log, tree)?;
        self.drops.lock().retain(|d| d.tree != tree.0);
        Ok(())
    }

    /// Partial rollback of `txn` to `mark` (a [`TxnHandle::last_lsn`]):
    /// `ROLLBACK TO SAVEPOINT`, with CLRs.
    pub fn rollback_to(&self, txn: &Txn, mark: Lsn) -> Result<(), Error> {
        self.txns.rollback_to(
            txn,
            mark,
            &EngineUndo {
                engine: &self.engine,
                log: &self.log,
            },
        )
    }

    /// Sets `key` in `tree` to `value` within `txn`.
    pub fn insert(&self, txn: &Txn, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), Error> {
        let t = self.engine.tree(tree)?;
        let before = t.get(key)?;
        self.txns.log_update(
            txn,
            LogicalUndo {
                tree: tree.0,
                key: key.to_vec(),
                before,
            },
        )?;
        self.txns.run(txn, || {
            self.atomically(|| Ok(t.insert(key, value).map(|_| ())?))
        })
    }

    /// Deletes `key` from `tree` within `txn`; whether it was there.
    pub fn delete(&self, txn: &Txn, tree: TreeId, key: &[u8]) -> Result<bool, Error> {
        let t = self.engine.tree(tree)?;
        let Some(before) = t.get(key)? else {
            return Ok(false);
        };
        self.txns.log_update(
            txn,
            LogicalUndo {
                tree: tree.0,
                key: key.to_vec(),
                before: Some(before),
            },
        )?;
        self.txns
            .run(txn, || self.atomically(|| Ok(t.delete(key)?)))
    }

    /// Reads `key` from `tree` (no isolation at this layer: the newest value).
    pub fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.engine.tree(tree)?.get(key)?)
    }

    /// Commits `txn`; returns once its commit record is durable. Takes a
    /// checkpoint when `checkpoint_log_bytes` of log have accumulated.
    pub fn commit(&self, txn: &Txn) -> Result<(), Error> {
        self.txns.commit_with(txn, || {
            let mut drops = self.drops.lock();
            for d in drops.iter_mut().filter(|d| d.txn == txn.id()) {
                d.committed = true;
            }
        })?;
        let grown = self
            .wal()
            .next_lsn()
            .0
            .saturating_sub(self.last_checkpoint_end.load(Ordering::Relaxed));
        if grown >= self.checkpoint_log_bytes.load(Ordering::Relaxed) {
            let checkpointer = self.checkpointer.lock().upgrade();
            match checkpointer {
                // Taken off this committer's path (its locks are still
                // held: a checkpoint here stalled everyone behind them).
                Some(c) => {
                    c.state.lock().requested = true;
                    c.wake.notify_all();
                }
                None => {
                    self.checkpoint_if_idle()?;
                }
            }
        }
        Ok(())
    }

    /// Sets the log volume between checkpoints.
    pub fn set_checkpoint_log_bytes(&self, bytes: u64) {
        self.checkpoint_log_bytes
            .store(bytes.max(1), Ordering::Relaxed);
    }

    /// Takes a checkpoint unless one is already running; returns whether
    /// it took one.
    fn checkpoint_if_idle(&self) -> Result<bool, Error> {
        match self.checkpointing.try_lock() {
            Some(_guard) => self.checkpoint_now().map(|_| true),
            None => Ok(false),
        }
    }

    fn checkpoint_now(&self) -> Result<Lsn, Error> {
        let lsn = self.txns.checkpoint_with(self.engine.pager().pool(), || {
            vec![
                RecordBody::IdLimit {
                    limit: *self.id_limit.lock(),
                },
                RecordBody::TreeDrops {
                    drops: self.drops.lock().clone(),
                },
            ]
        })?;
        self.last_checkpoint_end
            .store(self.wal().next_lsn().0, Ordering::Relaxed);
        Ok(lsn)
    }

    /// Starts the thread that takes a checkpoint every `interval` when new
    /// log was written since the last one (writers keep going: checkpoints
    /// are fuzzy). The thread holds only a weak handle between checkpoints;
    /// dropping the returned [`Checkpointer`] stops it and waits for a
    /// checkpoint in progress, so nothing writes the directory afterwards.
    pub fn start_checkpointer(db: &Arc<DurableEngine>, interval: Duration) -> Checkpointer {
        let shared = Arc::new(CheckpointerShared {
            state: Mutex::new(CheckpointerState {
                stop: false,
                interval,
                requested: false,
            }),
            wake: Condvar::new(),
            taken: AtomicU64::new(0),
        });
        let weak: Weak<DurableEngine> = Arc::downgrade(db);
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("arbordb-checkpointer".into())
            .spawn(move || thread_shared.run(&weak))
            .map_err(|e| tracing::error!(error = %e, "could not start the checkpointer thread"))
            .ok();
        if thread.is_some() {
            *db.checkpointer.lock() = Arc::downgrade(&shared);
        }
        Checkpointer {
            shared,
            thread: Mutex::new(thread),
        }
    }

    /// Rolls `txn` back by tree and key, writing CLRs.
    pub fn rollback(&self, txn: &Txn) -> Result<(), Error> {
        self.txns.rollback(
            txn,
            &EngineUndo {
                engine: &self.engine,
                log: &self.log,
            },
        )?;
        self.drops.lock().retain(|d| d.txn != txn.id());
        Ok(())
    }

    /// A fuzzy checkpoint (writers keep going); removes log segments no
    /// longer needed. Returns its LSN.
    pub fn checkpoint(&self) -> Result<Lsn, Error> {
        let _guard = self.checkpointing.lock();
        self.checkpoint_now()
    }
}
