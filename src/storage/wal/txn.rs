//! Transactions at the storage layer: begin, commit, rollback, and fuzzy
//! checkpoints of the transaction table.
//!
//! ```text
//!  begin ─▶ Begin
//!  row change (tree, key):   Update{undo: key ▸ before}  then its page changes (Redo …)
//!  commit ─▶ Commit, flush (group commit: returns once durable), End
//!  rollback ─▶ Abort, then walk prevLSN back from the last Update:
//!     Update at L: set key back to before (page changes logged as Redo),
//!                  then Clr{undo_next = prevLSN(L)}
//!     Clr: jump to its undo_next       other records: follow prevLSN
//!  ─▶ End
//! ```
//!
//! Invariants:
//! - a row change's Update record precedes every page change it causes, so a
//!   change whose undo is not logged never reaches a page;
//! - logical undo ("make key hold before again") is idempotent, so an undo
//!   step cut short by a crash before its CLR is simply done again;
//! - a CLR is never undone: undo jumps over what it compensated;
//! - commit returns only when the Commit record is durable.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::error::Error;
use crate::storage::Lsn;
use crate::storage::buffer::BufferPool;

use super::WalError;
use super::log::Wal;
use super::pagelog::with_txn;
use super::record::{LogicalUndo, Record, RecordBody, TxnEntry, TxnId, TxnState};

/// Applies a logical undo: make `undo.key` in `undo.tree` hold `undo.before`
/// again (delete it if `None`), through the trees' normal, logged write path.
/// It must be idempotent. The engine implements it over its B+-trees.
pub trait UndoApplier {
    fn apply_undo(&self, undo: &LogicalUndo) -> Result<(), Error>;
    /// Undoes a tree creation: frees `tree` if it exists (idempotent).
    fn undo_create_tree(&self, tree: u64) -> Result<(), Error> {
        let _ = tree;
        Err(Error::new(
            crate::error::SqlState::INTERNAL_ERROR,
            "this undo applier cannot free trees",
        ))
    }
}

#[derive(Debug, Clone, Copy)]
struct Chain {
    state: TxnState,
    /// The transaction's last record.
    last_lsn: Lsn,
    /// Where undo starts: the last record not yet compensated.
    undo_next: Lsn,
    /// The transaction's first record (segments from here on are needed).
    first_lsn: Lsn,
}

/// One transaction's place in the log.
pub struct TxnHandle {
    id: TxnId,
    chain: Mutex<Chain>,
}

impl TxnHandle {
    pub fn id(&self) -> TxnId {
        self.id
    }

    /// Appends the record `body` builds (given its LSN) in this transaction's
    /// chain.
    pub(crate) fn append_in_chain(
        &self,
        wal: &Wal,
        body: impl FnOnce(Lsn) -> RecordBody,
    ) -> Result<Lsn, WalError> {
        self.append_in_chain_as(wal, body, None)
    }

    /// As [`TxnHandle::append_in_chain`], and sets the state under the same
    /// lock, so a checkpoint never sees a Commit (or Abort) record's LSN as
    /// the last one with the state from before it.
    fn append_in_chain_as(
        &self,
        wal: &Wal,
        body: impl FnOnce(Lsn) -> RecordBody,
        state: Option<TxnState>,
    ) -> Result<Lsn, WalError> {
        let mut chain = self.chain.lock();
        let prev = chain.last_lsn;
        let lsn = wal.append_with(|lsn| Record {
            txn: self.id,
            prev_lsn: prev,
            body: body(lsn),
        })?;
        chain.last_lsn = lsn;
        if chain.first_lsn == Lsn(0) {
            chain.first_lsn = lsn;
        }
        if let Some(state) = state {
            chain.state = state;
        }
        Ok(lsn)
    }

    /// The transaction's last record so far: a savepoint's mark.
    pub fn last_lsn(&self) -> Lsn {
        self.chain.lock().last_lsn
    }

    fn entry(&self) -> TxnEntry {
        let c = *self.chain.lock();
        TxnEntry {
            txn: self.id,
            state: c.state,
            last_lsn: c.last_lsn,
            undo_next: c.undo_next,
        }
    }
}

/// The transaction table of a running database.
pub struct TxnManager {
    wal: Arc<Wal>,
    next_id: AtomicU64,
    active: Mutex<HashMap<TxnId, Arc<TxnHandle>>>,
}

impl TxnManager {
    /// `next_id`: the first id to hand out (recovery passes one above every
    /// id in the log).
    pub fn new(wal: Arc<Wal>, next_id: u64) -> TxnManager {
        TxnManager {
            wal,
            next_id: AtomicU64::new(next_id.max(1)),
            active: Mutex::new(HashMap::new()),
        }
    }

    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// Starts a transaction (appends its Begin record).
    pub fn begin(&self) -> Result<Arc<TxnHandle>, WalError> {
        let id = TxnId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.adopt(id, TxnState::Running, Lsn(0), Lsn(0), true)
    }

    /// Starts a transaction whose id the caller chose (the MVCC layer's xid,
    /// from its own never-repeating counter). The id must be new.
    pub fn begin_with_id(&self, id: TxnId) -> Result<Arc<TxnHandle>, WalError> {
        assert!(id.0 != 0, "transaction id 0 means none");
        assert!(
            !self.active.lock().contains_key(&id),
            "transaction id {} is in use",
            id.0
        );
        self.adopt(id, TxnState::Running, Lsn(0), Lsn(0), true)
    }

    /// The running transaction with id `id`.
    pub fn lookup(&self, id: TxnId) -> Option<Arc<TxnHandle>> {
        self.active.lock().get(&id).cloned()
    }

    /// Logs that `txn` created `tree`. Call inside the creation's structure
    /// change, so the record and the creation survive a crash together or
    /// the undo finds no tree.
    pub fn log_create_tree(&self, txn: &TxnHandle, tree: u64) -> Result<Lsn, WalError> {
        let lsn = txn.append_in_chain(&self.wal, |_| RecordBody::CreateTree { tree })?;
        txn.chain.lock().undo_next = lsn;
        Ok(lsn)
    }

    /// Appends a record of `txn` that undo passes over (e.g. `DropTree`).
    pub fn log_in_chain(&self, txn: &TxnHandle, body: RecordBody) -> Result<Lsn, WalError> {
        txn.append_in_chain(&self.wal, |_| body)
    }

    /// Registers a transaction found by recovery (or a new one).
    pub(crate) fn adopt(
        &self,
        id: TxnId,
        state: TxnState,
        last_lsn: Lsn,
        undo_next: Lsn,
        log_begin: bool,
    ) -> Result<Arc<TxnHandle>, WalError> {
        let handle = Arc::new(TxnHandle {
            id,
            chain: Mutex::new(Chain {
                state,
                last_lsn,
                undo_next,
                first_lsn: last_lsn,
            }),
        });
        self.next_id.fetch_max(id.0 + 1, Ordering::Relaxed);
        if log_begin {
            handle.append_in_chain(&self.wal, |_| RecordBody::Begin)?;
        }
        self.active.lock().insert(id, handle.clone());
        Ok(handle)
    }

    /// Logs the undo of a row change `txn` is about to make. Call before the
    /// tree change; then make the change inside [`TxnManager::run`].
    pub fn log_update(&self, txn: &TxnHandle, undo: LogicalUndo) -> Result<Lsn, WalError> {
        let lsn = txn.append_in_chain(&self.wal, |_| RecordBody::Update { undo })?;
        txn.chain.lock().undo_next = lsn;
        Ok(lsn)
    }

    /// Runs `f` with every page change it makes logged in `txn`'s chain.
    pub fn run<T>(&self, txn: &Arc<TxnHandle>, f: impl FnOnce() -> T) -> T {
        with_txn(txn, f)
    }

    /// Commits: the Commit record is durable when this returns.
    pub fn commit(&self, txn: &Arc<TxnHandle>) -> Result<(), WalError> {
        self.commit_with(txn, || {})
    }

    /// Commits, running `durable` once the Commit record is durable and
    /// before the End record (and before the transaction leaves the table a
    /// checkpoint records).
    pub fn commit_with(
        &self,
        txn: &Arc<TxnHandle>,
        durable: impl FnOnce(),
    ) -> Result<(), WalError> {
        let lsn = txn.append_in_chain_as(
            &self.wal,
            |_| RecordBody::Commit,
            Some(TxnState::Committing),
        )?;
        self.wal.flush(lsn)?;
        durable();
        self.finish(txn)
    }

    /// Ends a transaction recovery found committed but not ended.
    pub(crate) fn commit_recovered(&self, txn: &Arc<TxnHandle>) -> Result<(), WalError> {
        self.finish(txn)
    }

    fn finish(&self, txn: &Arc<TxnHandle>) -> Result<(), WalError> {
        txn.append_in_chain(&self.wal, |_| RecordBody::End)?;
        self.active.lock().remove(&txn.id);
        Ok(())
    }

    /// Rolls `txn` back: undoes its row changes newest first, logging a CLR
    /// for each, then ends it.
    pub fn rollback(&self, txn: &Arc<TxnHandle>, undo: &dyn UndoApplier) -> Result<(), Error> {
        let state = txn.chain.lock().state;
        if state != TxnState::Aborting {
            txn.append_in_chain_as(&self.wal, |_| RecordBody::Abort, Some(TxnState::Aborting))?;
        }
        self.undo_until(txn, Lsn(0), undo)?;
        self.finish(txn)?;
        Ok(())
    }

    /// Partial rollback (`ROLLBACK TO SAVEPOINT`): undoes, with CLRs, every
    /// change `txn` logged after `mark` (a [`TxnHandle::last_lsn`] taken
    /// earlier); the transaction goes on running.
    pub fn rollback_to(
        &self,
        txn: &Arc<TxnHandle>,
        mark: Lsn,
        undo: &dyn UndoApplier,
    ) -> Result<(), Error> {
        self.undo_until(txn, mark, undo)
    }

    /// Walks `txn`'s chain back from its undo-next LSN, undoing every Update
    /// and CreateTree above `mark` and writing a CLR after each.
    fn undo_until(
        &self,
        txn: &Arc<TxnHandle>,
        mark: Lsn,
        undo: &dyn UndoApplier,
    ) -> Result<(), Error> {
        let mut next = txn.chain.lock().undo_next;
        while next != Lsn(0) && next > mark {
            let rec = self.wal.read(next)?;
            if rec.txn != txn.id {
                return Err(WalError::Corrupt {
                    lsn: next,
                    reason: format!(
                        "undo chain of transaction {} reached a record of transaction {}",
                        txn.id.0, rec.txn.0
                    ),
                }
                .into());
            }
            let step = match &rec.body {
                RecordBody::Update { undo: u } => {
                    with_txn(txn, || undo.apply_undo(u))?;
                    true
                }
                RecordBody::CreateTree { tree } => {
                    with_txn(txn, || undo.undo_create_tree(*tree))?;
                    true
                }
                _ => false,
            };
            next = if step {
                let undo_next = rec.prev_lsn;
                txn.append_in_chain(&self.wal, |_| RecordBody::Clr { undo_next })?;
                txn.chain.lock().undo_next = undo_next;
                undo_next
            } else {
                match &rec.body {
                    RecordBody::Clr { undo_next } => *undo_next,
                    RecordBody::Begin => Lsn(0),
                    _ => rec.prev_lsn,
                }
            };
        }
        // Nothing above the mark is left to undo: undo continues from the
        // last change at or below it (found again by walking the chain).
        txn.chain.lock().undo_next = next;
        Ok(())
    }

    /// The transaction table, for a checkpoint.
    pub fn table(&self) -> Vec<TxnEntry> {
        self.active.lock().values().map(|t| t.entry()).collect()
    }

    /// The first LSN any active transaction still needs (for segment removal).
    pub fn oldest_first_lsn(&self) -> Option<Lsn> {
        self.active
            .lock()
            .values()
            .map(|t| t.chain.lock().first_lsn)
            .filter(|&l| l != Lsn(0))
            .min()
    }

    /// A fuzzy checkpoint: writers keep going while it runs. Records the
    /// dirty page table and the transaction table, makes every completed
    /// page write durable, publishes the checkpoint, and removes the log
    /// segments nothing needs any more. Returns the checkpoint's LSN.
    pub fn checkpoint(&self, pool: &BufferPool) -> Result<Lsn, Error> {
        self.checkpoint_with(pool, Vec::new)
    }

    /// [`TxnManager::checkpoint`], appending the records `extra` gives
    /// (transaction 0) between the begin record and the end record, after
    /// the transaction table is taken (so analysis, which starts at the
    /// begin record, sees them).
    pub fn checkpoint_with(
        &self,
        pool: &BufferPool,
        extra: impl FnOnce() -> Vec<RecordBody>,
    ) -> Result<Lsn, Error> {
        // Pages dirty since before the previous checkpoint go out now, so
        // the redo start (the oldest recLSN) keeps moving forward.
        let previous = self.wal.checkpoint_lsn();
        pool.flush_dirty_before(previous)?;
        let begin = self.wal.append(&Record {
            txn: TxnId(0),
            prev_lsn: Lsn(0),
            body: RecordBody::CheckpointBegin,
        })?;
        let dirty = pool.dirty_pages();
        let txns = self.table();
        for body in extra() {
            self.wal.append(&Record {
                txn: TxnId(0),
                prev_lsn: Lsn(0),
                body,
            })?;
        }
        // Pages clean now were written before this point: make those writes
        // durable, since redo will not look at records for them before the
        // oldest recLSN. (A page written from here on is in `dirty`.)
        pool.file().sync().map_err(|e| WalError::Io {
            path: pool.file_name().to_string(),
            source: e,
        })?;
        let oldest_rec = dirty.iter().map(|d| d.1).filter(|&l| l != Lsn(0)).min();
        let end = Record {
            txn: TxnId(0),
            prev_lsn: Lsn(0),
            body: RecordBody::CheckpointEnd {
                begin,
                dirty_pages: dirty.iter().map(|&(p, l)| (u64::from(p.0), l)).collect(),
                txns,
            },
        };
        let end_lsn = self.wal.append(&end)?;
        self.wal.flush(end_lsn)?;
        self.wal.set_checkpoint(begin)?;
        let mut keep = begin;
        for l in [oldest_rec, self.oldest_first_lsn()].into_iter().flatten() {
            keep = keep.min(l);
        }
        self.wal.remove_segments_below(keep)?;
        Ok(begin)
    }
}
