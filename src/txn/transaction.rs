//! The transaction API the SQL layer uses: MVCC reads and writes over the
//! B+-trees, row locks, the three isolation levels, savepoints and pruning.
//!
//! ```text
//!  TxnEngine (one per database): TxnManager + LockManager + SsiManager
//!     └─ begin(options) -> Transaction
//!          begin_statement()        new command id; READ COMMITTED: new snapshot
//!          get / scan               newest version the snapshot sees; SIREAD locks
//!          lock_row                 FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE
//!          insert / put / delete    row lock, first-updater-wins check, SSI
//!                                   conflict-in, a new version (stamp), prune
//!          savepoint / rollback_to / release
//!          commit / rollback        SSI pre-commit, durable commit, undo, unlock
//! ```
//!
//! The first statement takes the snapshot (as PostgreSQL does: `BEGIN` itself
//! takes none), so a transaction sees everything committed before its first
//! statement. A write holds the row lock only while it runs (an UPDATE or
//! DELETE keeps it where its version would be weaker than the lock), and
//! its uncommitted version is the lock from then on: whoever holds a key's row lock and
//! finds another running transaction's version as the newest waits for that
//! transaction ([`LockTarget::transaction`]) and looks again
//! (`settled_versions`). So after the wait the newest version is committed
//! or the caller's own, and it is the one to check.
//!
//! - READ COMMITTED: a new snapshot per statement. [`Transaction::lock_row`]
//!   returns the newest version and whether it differs from the one the
//!   statement saw; the caller re-evaluates its condition on it and writes
//!   from it (PostgreSQL's EvalPlanQual), so `v = v + 1` loses no update.
//! - REPEATABLE READ: one snapshot; writing or locking a row whose newest
//!   version the snapshot cannot see fails with 40001 (first updater wins).
//! - SERIALIZABLE: as REPEATABLE READ, plus SSI (`ssi.rs`).
//!
//! Invariants:
//! - Every write is made under an UPDATE or NO KEY UPDATE row lock, or by
//!   the transaction whose own uncommitted version is the key's newest
//!   (which nobody else writes above); its stamp is drawn under that
//!   exclusion, and drawn again after any wait, so stamps order the versions
//!   of a key.
//! - A transaction holds its own lock from before its first write until
//!   its end, released only after its undo (abort) or its commit.
//! - The undo (the log chain, or the in-memory list) holds exactly the
//!   versions and trees this transaction created and has not undone;
//!   rollback removes them (newest first) before the locks go.
//! - A tree dropped by a transaction is freed only after its commit, once
//!   every snapshot sees that commit (`free_dropped_trees`).
//! - Pruning removes only versions no snapshot can see: those older than the
//!   newest version whose writer committed below the vacuum watermark (and
//!   that version too if it is a tombstone).
//!
//! With a log (file-backed databases) a transaction owns a log transaction
//! with its xid as id, begun at its first write (read-only transactions log
//! nothing and never wait for a flush): each version insert is an Update
//! record (undo: delete that version key) before the tree change; commit is
//! the log's group commit; rollback, `ROLLBACK TO SAVEPOINT` (to the log
//! position of the savepoint) and recovery's loser pass undo through the log
//! with CLRs. Without a log, an in-memory undo list does the same.
//! Pruning and vacuum deletes are redo-only (docs/mvcc.md says why).
//!
//! An INSERT of a key with no versions (the usual case) checks and inserts
//! in one tree descent ([`Tree::insert_if_range_empty`]; the Update record
//! is logged under the leaf latch between the check and the page change).
//! When the tree declines (versions exist, the range may cross a leaf
//! boundary, the leaf must split) the general path reads the versions and
//! inserts. A log transaction that ends with nothing live (the one-descent
//! insert began it, then found a duplicate) is ended at commit without a
//! Commit record.
//!
//! Open problems: SERIALIZABLE inserts take the general path (their
//! conflict-in check sits between the duplicate check and the insert).
//! Scans take their SIREAD range lock on the whole requested
//! range at the start (a LIMIT that stops early over-locks: false positives,
//! never missed conflicts).

use std::ops::Bound;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::storage::Lsn;
use crate::storage::btree::{Cursor, Tree, TreeId};
use crate::storage::engine::Engine;
use crate::storage::error::StorageError;
use crate::storage::wal::durable::{DurableEngine, Txn};

use super::lock::{
    CancelToken, LockConfig, LockManager, LockOutcome, LockTarget, LockWait, RowLockMode,
    WaitPolicy,
};
use super::manager::{TxnManager, XidLog, XidStatus};
use super::snapshot::{CommandId, Snapshot, Writer, Xid, is_visible};
use super::ssi::{KeyRange, SsiConfig, SsiManager};
use super::version;
use super::{IsolationLevel, TxnError};

impl From<StorageError> for TxnError {
    fn from(e: StorageError) -> TxnError {
        TxnError::Lower(e.into())
    }
}

impl From<version::VersionFormatError> for TxnError {
    fn from(e: version::VersionFormatError) -> TxnError {
        TxnError::Lower(crate::Error::new(
            crate::SqlState::DATA_CORRUPTED,
            e.to_string(),
        ))
    }
}

/// The transaction machinery of one database.
pub struct TxnEngine {
    pub manager: TxnManager,
    pub locks: LockManager,
    pub ssi: SsiManager,
    /// The trees (for transactional tree creation and drops); `None` when
    /// the caller only hands trees in.
    storage: Option<Engine>,
    /// The storage engine with its log (file-backed databases): every
    /// version a transaction writes is logged with its undo there.
    durable: Option<Arc<DurableEngine>>,
    /// Trees whose drop committed, with the dropping xid: freed once every
    /// snapshot sees that commit (xid below the vacuum watermark).
    pending_drops: Mutex<Vec<(Xid, TreeId)>>,
    /// Freeing a tree takes it exclusively; a vacuum pass shares it, so a
    /// pass never walks pages that are being freed.
    tree_gate: RwLock<()>,
    /// Counts of writes that leave an older version or a deletion behind,
    /// per shard of tree ids ([`TxnEngine::churn`]): the background vacuum
    /// passes over a tree only when its shard moved (or it left versions
    /// to remove later), so a pass costs the trees that changed, not the
    /// database.
    churn: [std::sync::atomic::AtomicU64; CHURN_SHARDS],
}

/// Shards of [`TxnEngine::churn`]; trees sharing one are vacuumed together.
const CHURN_SHARDS: usize = 64;

/// How to start a transaction.
#[derive(Clone)]
pub struct TxnOptions {
    pub isolation: IsolationLevel,
    pub read_only: bool,
    /// Only meaningful for SERIALIZABLE READ ONLY.
    pub deferrable: bool,
    /// The session's cancel token (CancelRequest), if any.
    pub cancel: Option<Arc<CancelToken>>,
}

impl TxnOptions {
    pub fn new(isolation: IsolationLevel) -> TxnOptions {
        TxnOptions {
            isolation,
            read_only: false,
            deferrable: false,
            cancel: None,
        }
    }

    pub fn read_only(mut self) -> TxnOptions {
        self.read_only = true;
        self
    }

    pub fn deferrable(mut self) -> TxnOptions {
        self.deferrable = true;
        self
    }
}

/// What pruning or a vacuum pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VacuumStats {
    pub versions_seen: usize,
    pub versions_removed: usize,
    /// Keys left with versions a later pass may remove (more than one
    /// version, or a deletion), once no snapshot needs them.
    pub keys_pending: usize,
}

impl TxnEngine {
    pub fn new(
        log: Arc<dyn XidLog>,
        recovered_next_id: u64,
        lock: LockConfig,
        ssi: SsiConfig,
    ) -> Arc<TxnEngine> {
        Arc::new(TxnEngine::build(
            TxnManager::new(log, recovered_next_id),
            lock,
            ssi,
            None,
            None,
        ))
    }

    fn build(
        manager: TxnManager,
        lock: LockConfig,
        ssi: SsiConfig,
        storage: Option<Engine>,
        durable: Option<Arc<DurableEngine>>,
    ) -> TxnEngine {
        TxnEngine {
            manager,
            locks: LockManager::new(lock),
            ssi: SsiManager::new(ssi),
            storage,
            durable,
            pending_drops: Mutex::new(Vec::new()),
            tree_gate: RwLock::new(()),
            churn: std::array::from_fn(|_| std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// How many writes so far left an older version or a deletion in tree
    /// `id` or another of its shard: unchanged since a vacuum pass that
    /// left nothing pending means the tree has nothing to remove.
    pub fn churn(&self, id: TreeId) -> u64 {
        self.churn[(id.0 as usize) % CHURN_SHARDS].load(std::sync::atomic::Ordering::Acquire)
    }

    fn note_churn(&self, id: TreeId) {
        self.churn[(id.0 as usize) % CHURN_SHARDS]
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Over a file-backed engine with its log: every version write is
    /// logged with its logical undo in a log transaction with the xid as
    /// its id; commit is the log's (group) commit; rollback, savepoints and
    /// recovery undo through the log.
    pub fn durable(
        log: Arc<dyn XidLog>,
        durable: Arc<DurableEngine>,
        recovered_next_id: u64,
        lock: LockConfig,
        ssi: SsiConfig,
    ) -> Arc<TxnEngine> {
        Arc::new(TxnEngine::build(
            TxnManager::new(log, recovered_next_id),
            lock,
            ssi,
            Some(durable.engine().clone()),
            Some(durable),
        ))
    }

    /// For in-memory databases.
    pub fn volatile() -> Arc<TxnEngine> {
        Arc::new(TxnEngine::build(
            TxnManager::volatile(),
            LockConfig::default(),
            SsiConfig::default(),
            None,
            None,
        ))
    }

    /// For in-memory databases over `engine` (transactional tree creation
    /// and drops through the in-memory undo list).
    pub fn volatile_over(engine: Engine) -> Arc<TxnEngine> {
        Arc::new(TxnEngine::build(
            TxnManager::volatile(),
            LockConfig::default(),
            SsiConfig::default(),
            Some(engine),
            None,
        ))
    }

    /// Whether versions are logged (a file-backed database).
    pub fn is_logged(&self) -> bool {
        self.durable.is_some()
    }

    fn tree_exists(&self, id: TreeId) -> Result<bool, TxnError> {
        let Some(storage) = &self.storage else {
            return Ok(true);
        };
        match storage.tree(id) {
            Ok(_) => Ok(true),
            Err(StorageError::NoSuchTree(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Frees the trees whose drop every snapshot now sees committed.
    /// Returns how many were freed.
    pub fn free_dropped_trees(&self) -> Result<usize, TxnError> {
        let ready: Vec<TreeId> = {
            let mut pending = self.pending_drops.lock();
            if pending.is_empty() {
                return Ok(0);
            }
            let horizon = self.manager.oldest_xmin();
            let (ready, keep): (Vec<_>, Vec<_>) =
                pending.drain(..).partition(|(x, _)| *x < horizon);
            *pending = keep;
            ready.into_iter().map(|(_, t)| t).collect()
        };
        let _gate = self.tree_gate.write();
        for (i, &tree) in ready.iter().enumerate() {
            let res = match (&self.durable, &self.storage) {
                (Some(d), _) => d.free_dropped_tree(tree).map_err(TxnError::from),
                (None, Some(s)) => match s.drop_tree(tree) {
                    Ok(()) | Err(StorageError::NoSuchTree(_)) => Ok(()),
                    Err(e) => Err(e.into()),
                },
                (None, None) => Ok(()),
            };
            if let Err(e) = res {
                // Keep the rest for the next try.
                let mut pending = self.pending_drops.lock();
                pending.extend(ready[i..].iter().map(|&t| (Xid::FROZEN, t)));
                return Err(e);
            }
        }
        Ok(ready.len())
    }

    /// Drops committed but not yet freed (waiting for older snapshots).
    pub fn pending_tree_drops(&self) -> usize {
        self.pending_drops.lock().len()
    }

    /// Starts a transaction (no snapshot yet: the first statement takes it).
    pub fn begin(self: &Arc<Self>, options: TxnOptions) -> Result<Transaction, TxnError> {
        let xid = self.manager.begin(options.isolation, options.read_only)?;
        Ok(Transaction {
            engine: self.clone(),
            xid,
            options,
            snapshot: None,
            ssi_registered: false,
            cid: 0,
            statements: 0,
            writes: 0,
            undo: Vec::new(),
            wal: None,
            drops: Vec::new(),
            savepoints: Vec::new(),
            finished: false,
            xact_locked: false,
            lock_timeout: None,
            statement_deadline: None,
        })
    }

    /// Removes every version of `tree` no snapshot can see any more.
    pub fn vacuum_tree(&self, tree: &Tree) -> Result<VacuumStats, TxnError> {
        let _gate = self.tree_gate.read();
        if !self.tree_exists(tree.id())? {
            return Ok(VacuumStats::default());
        }
        // Aborted writers stay aborted while this pass may hold copies of
        // their versions (TxnManager::forget_aborted).
        let _pin = self.manager.pin()?;
        let horizon = self.manager.oldest_xmin();
        let mut stats = VacuumStats::default();
        let mut cursor = tree.iter();
        let mut group: Vec<VersionRec> = Vec::new();
        let mut group_key: Option<Vec<u8>> = None;
        loop {
            let next = cursor.next_entry()?;
            let decoded = match &next {
                Some((k, v)) => Some((version::decode_key(k)?, v)),
                None => None,
            };
            let same = matches!((&decoded, &group_key), (Some(((u, _), _)), Some(g)) if u == g);
            if !same {
                if let Some(key) = group_key.take() {
                    stats.versions_seen += group.len();
                    let removed = self.prune_versions(tree, &key, &group, horizon)?;
                    stats.versions_removed += removed;
                    let left = group.len() - removed;
                    if left > 1 || (left == 1 && group[0].row.is_none()) {
                        stats.keys_pending += 1;
                    }
                }
                group.clear();
            }
            let Some(((user, stamp), value)) = decoded else {
                break;
            };
            let v = version::decode_value(value)?;
            group.push(VersionRec {
                stamp,
                writer: v.writer,
                row: v.row.map(<[u8]>::to_vec),
            });
            group_key = Some(user);
        }
        Ok(stats)
    }

    /// Deletes the versions of `key` (given newest first) that no snapshot
    /// can see, given the watermark `horizon`. Returns how many went.
    fn prune_versions(
        &self,
        tree: &Tree,
        key: &[u8],
        versions: &[VersionRec],
        horizon: Xid,
    ) -> Result<usize, TxnError> {
        let all_see = versions
            .iter()
            .position(|v| v.writer.xid < horizon && !self.manager.is_aborted(v.writer.xid));
        let Some(i) = all_see else {
            return Ok(0);
        };
        let from = if versions[i].row.is_none() { i } else { i + 1 };
        let mut removed = 0;
        for v in &versions[from..] {
            if tree.delete(&version::encode_key(key, v.stamp))? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// One version as read from a tree.
#[derive(Debug, Clone)]
struct VersionRec {
    stamp: u64,
    writer: Writer,
    row: Option<Vec<u8>>,
}

/// What [`Transaction::lock_row`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowLock {
    /// Locked. `current` is the newest version (`None`: the row is deleted or
    /// never existed); `changed`: it is not the version this statement's
    /// snapshot sees, so a READ COMMITTED caller must re-check its condition
    /// on `current` (PostgreSQL's EvalPlanQual).
    Locked {
        current: Option<Vec<u8>>,
        changed: bool,
    },
    /// `SKIP LOCKED` and another transaction holds a conflicting lock.
    Skipped,
    /// The row was already written by this very statement (skip it, as
    /// PostgreSQL does: an UPDATE never revisits the rows it made).
    SelfUpdated,
}

/// The in-memory undo list of a database without a log (a logged
/// transaction undoes through its log records instead).
#[derive(Clone)]
enum Undo {
    Version {
        tree: Tree,
        key: Vec<u8>,
        stamp: u64,
    },
    CreatedTree(TreeId),
}

#[derive(Debug, Clone)]
struct SavepointMark {
    name: String,
    writes: usize,
    undo: usize,
    drops: usize,
    /// The log transaction's last record at the savepoint (0: none yet).
    lsn: Lsn,
    locks: usize,
    /// Whether the transaction's own lock was held at the savepoint.
    xact_locked: bool,
}

/// A running transaction. Dropping it unfinished rolls it back.
pub struct Transaction {
    engine: Arc<TxnEngine>,
    xid: Xid,
    options: TxnOptions,
    snapshot: Option<Snapshot>,
    ssi_registered: bool,
    cid: CommandId,
    statements: u64,
    /// Writes made and not undone (versions, tree creations and drops).
    writes: usize,
    /// Without a log: how to undo them.
    undo: Vec<Undo>,
    /// With a log: the log transaction (same id as the xid), begun at the
    /// first write, so read-only transactions log nothing.
    wal: Option<Txn>,
    /// Trees to drop when this transaction commits.
    drops: Vec<TreeId>,
    savepoints: Vec<SavepointMark>,
    finished: bool,
    /// Whether this transaction holds its own lock
    /// ([`LockTarget::transaction`]), taken before its first write.
    xact_locked: bool,
    /// `lock_timeout` for row-lock waits.
    pub lock_timeout: Option<Duration>,
    /// The current statement's `statement_timeout` deadline.
    pub statement_deadline: Option<Instant>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("xid", &self.xid)
            .field("isolation", &self.options.isolation)
            .field("cid", &self.cid)
            .finish()
    }
}

fn lock_target(tree: &Tree, key: &[u8]) -> LockTarget {
    LockTarget {
        tree: tree.id(),
        key: key.to_vec(),
    }
}

/// The versions of `key` in `tree`, newest first: from the one leaf that
/// usually holds them all ([`Tree::visit_leaf_range`]), else by a cursor.
fn versions_of(tree: &Tree, key: &[u8]) -> Result<Vec<VersionRec>, TxnError> {
    let mut lo = Vec::new();
    version::encode_user_prefix(key, &mut lo);
    let hi = version::versions_end(key);
    let mut out = Vec::new();
    let mut bad = None;
    let whole = tree.visit_leaf_range(&lo, &hi, |k, v| {
        if bad.is_none() {
            match version_rec(key, k, v) {
                Ok(rec) => out.push(rec),
                Err(e) => bad = Some(e),
            }
        }
    })?;
    if let Some(e) = bad {
        return Err(e);
    }
    if whole {
        return Ok(out);
    }
    out.clear();
    let mut cursor = tree.range(Bound::Included(&lo), Bound::Excluded(&hi));
    while let Some((k, v)) = cursor.next_ref()? {
        out.push(version_rec(key, k, v)?);
    }
    Ok(out)
}

/// One stored version of `key`: its tree key `k` and value `v`.
fn version_rec(key: &[u8], k: &[u8], v: &[u8]) -> Result<VersionRec, TxnError> {
    let (user, stamp) = version::decode_key(k)?;
    if user != key {
        return Err(version::VersionFormatError::Key("version outside its key's range").into());
    }
    let v = version::decode_value(v)?;
    Ok(VersionRec {
        stamp,
        writer: v.writer,
        row: v.row.map(<[u8]>::to_vec),
    })
}

/// What a read needs: the snapshot, command id, and SSI tracking. Cheap to
/// clone; a [`Scan`] owns one, so it does not borrow the transaction.
#[derive(Clone)]
struct ReadView {
    engine: Arc<TxnEngine>,
    xid: Xid,
    snapshot: Snapshot,
    cid: CommandId,
    tracking: bool,
}

impl ReadView {
    /// The index of the version visible to this view (versions newest
    /// first), reporting skipped concurrent writers to SSI.
    fn choose(&self, versions: &[VersionRec]) -> Result<Option<usize>, TxnError> {
        let m = &self.engine.manager;
        for (i, v) in versions.iter().enumerate() {
            if is_visible(&self.snapshot, self.cid, v.writer, |x| m.is_aborted(x)) {
                return Ok(Some(i));
            }
            if self.tracking
                && self.snapshot.is_concurrent(v.writer.xid)
                && !m.is_aborted(v.writer.xid)
            {
                self.engine.ssi.conflict_out(self.xid, v.writer.xid)?;
            }
        }
        Ok(None)
    }
}

impl Transaction {
    pub fn xid(&self) -> Xid {
        self.xid
    }

    pub fn isolation(&self) -> IsolationLevel {
        self.options.isolation
    }

    pub fn is_read_only(&self) -> bool {
        self.options.read_only
    }

    pub fn command_id(&self) -> CommandId {
        self.cid
    }

    /// Whether the transaction has written anything (not undone).
    pub fn has_writes(&self) -> bool {
        self.writes > 0
    }

    /// The log transaction, begun on first use (file-backed databases).
    fn log_txn(&mut self) -> Result<Option<Txn>, TxnError> {
        let Some(d) = &self.engine.durable else {
            return Ok(None);
        };
        if self.wal.is_none() {
            self.wal = Some(d.begin_with_id(self.xid.0)?);
        }
        Ok(self.wal.clone())
    }

    /// Creates a tree in this transaction (`CREATE TABLE`): it is freed
    /// again if the transaction rolls back, is rolled back to an earlier
    /// savepoint, or is running at a crash.
    pub fn create_tree(&mut self) -> Result<Tree, TxnError> {
        self.check_writable("CREATE TABLE")?;
        let tree = match (self.log_txn()?, &self.engine.durable) {
            (Some(txn), Some(d)) => {
                let id = d.create_tree_in(&txn)?;
                d.engine().tree(id)?
            }
            _ => {
                let storage = self.engine.storage.as_ref().ok_or_else(|| {
                    TxnError::Lower(crate::Error::new(
                        crate::SqlState::INTERNAL_ERROR,
                        "this transaction engine has no storage to create trees in",
                    ))
                })?;
                let t = storage.create_tree()?;
                self.undo.push(Undo::CreatedTree(t.id()));
                t
            }
        };
        self.writes += 1;
        Ok(tree)
    }

    /// Drops a tree in this transaction (`DROP TABLE`): nothing happens to
    /// it unless the transaction commits; then it is freed once no snapshot
    /// can still read it (a snapshot older than the commit may).
    pub fn drop_tree(&mut self, tree: TreeId) -> Result<(), TxnError> {
        self.check_writable("DROP TABLE")?;
        if !self.drops.contains(&tree) {
            self.drops.push(tree);
            self.writes += 1;
        }
        Ok(())
    }

    /// Changes isolation, read-only and deferrable before the first
    /// statement (`SET TRANSACTION`). After it, 25001 as in PostgreSQL.
    pub fn set_characteristics(
        &mut self,
        isolation: IsolationLevel,
        read_only: bool,
        deferrable: bool,
    ) -> Result<(), TxnError> {
        if self.snapshot.is_some() {
            if isolation != self.options.isolation {
                return Err(TxnError::TooLate(
                    "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                ));
            }
            if self.options.read_only && !read_only {
                return Err(TxnError::TooLate(
                    "transaction read-write mode must be set before any query",
                ));
            }
        }
        self.options.isolation = isolation;
        self.options.read_only = read_only;
        self.options.deferrable = deferrable;
        Ok(())
    }

    /// Starts a statement: a new command id (so it sees the transaction's
    /// earlier writes), and under READ COMMITTED a new snapshot.
    pub fn begin_statement(&mut self) -> Result<(), TxnError> {
        self.check_active()?;
        if self.statements > 0 {
            self.cid = self.cid.checked_add(1).ok_or(TxnError::TooLate(
                "cannot have more than 2^32-2 commands in a transaction",
            ))?;
        }
        self.statements += 1;
        if self.snapshot.is_none() || !self.options.isolation.uses_transaction_snapshot() {
            self.take_snapshot()?;
        }
        Ok(())
    }

    fn take_snapshot(&mut self) -> Result<(), TxnError> {
        let e = &self.engine;
        let xid = self.xid;
        let snap = if self.options.isolation == IsolationLevel::Serializable {
            assert!(
                !self.ssi_registered,
                "a serializable transaction takes one snapshot"
            );
            let s = e.ssi.register(
                xid,
                self.options.read_only,
                self.options.deferrable,
                self.options.cancel.as_deref(),
                self.statement_deadline,
                || e.manager.snapshot(xid),
            )?;
            self.ssi_registered = true;
            s
        } else {
            e.manager.snapshot(xid)?
        };
        self.snapshot = Some(snap);
        Ok(())
    }

    fn check_active(&self) -> Result<(), TxnError> {
        if self.finished {
            Err(TxnError::NotInProgress(self.xid))
        } else {
            Ok(())
        }
    }

    fn view(&mut self) -> Result<ReadView, TxnError> {
        self.check_active()?;
        if self.snapshot.is_none() {
            self.begin_statement()?;
        }
        let snapshot = self
            .snapshot
            .clone()
            .ok_or(TxnError::NotInProgress(self.xid))?;
        let tracking = self.ssi_registered && self.engine.ssi.is_tracking(self.xid);
        Ok(ReadView {
            engine: self.engine.clone(),
            xid: self.xid,
            snapshot,
            cid: self.cid,
            tracking,
        })
    }

    /// The snapshot in use (after the first statement).
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The row under `key` as this statement sees it.
    pub fn get(&mut self, tree: &Tree, key: &[u8]) -> Result<Option<Vec<u8>>, TxnError> {
        let view = self.view()?;
        if view.tracking {
            self.engine.ssi.read_key(self.xid, tree.id(), key);
        }
        let versions = versions_of(tree, key)?;
        Ok(view
            .choose(&versions)?
            .and_then(|i| versions.into_iter().nth(i))
            .and_then(|v| v.row))
    }

    /// The rows with keys in (`start`, `end`) as this statement sees them,
    /// ascending or (`reverse`) descending.
    pub fn scan(
        &mut self,
        tree: &Tree,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
        reverse: bool,
    ) -> Result<Scan, TxnError> {
        let view = self.view()?;
        if view.tracking {
            self.engine.ssi.read_range(
                self.xid,
                tree.id(),
                KeyRange::new(owned(start), owned(end)),
            );
        }
        let lo_buf;
        let lo = match start {
            Bound::Included(k) => {
                let mut p = Vec::new();
                version::encode_user_prefix(k, &mut p);
                lo_buf = p;
                Bound::Included(&lo_buf[..])
            }
            Bound::Excluded(k) => {
                lo_buf = version::versions_end(k);
                Bound::Included(&lo_buf[..])
            }
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi_buf;
        let hi = match end {
            Bound::Included(k) => {
                hi_buf = version::versions_end(k);
                Bound::Excluded(&hi_buf[..])
            }
            Bound::Excluded(k) => {
                let mut p = Vec::new();
                version::encode_user_prefix(k, &mut p);
                hi_buf = p;
                Bound::Excluded(&hi_buf[..])
            }
            Bound::Unbounded => Bound::Unbounded,
        };
        let cursor = if reverse {
            tree.range_rev(lo, hi)
        } else {
            tree.range(lo, hi)
        };
        Ok(Scan {
            view,
            cursor,
            reverse,
            pending: None,
            done: false,
        })
    }

    fn wait<'a>(&'a self, policy: WaitPolicy, relation: &'a str) -> LockWait<'a> {
        LockWait {
            policy,
            lock_timeout: self.lock_timeout,
            deadline: self.statement_deadline,
            cancel: self.options.cancel.as_deref(),
            relation,
        }
    }

    /// Takes `key`'s row lock in `mode`; says whether a hold was added. An
    /// uncommitted version is a lock its writer holds: when this
    /// transaction's version is the newest and every conflicting holder of
    /// the row lock waits for this transaction (behind that version), it
    /// goes on without the row lock; waiting for them would deadlock.
    fn lock_key(
        &self,
        tree: &Tree,
        key: &[u8],
        mode: RowLockMode,
        policy: WaitPolicy,
        relation: &str,
    ) -> Result<(LockOutcome, bool), TxnError> {
        let target = lock_target(tree, key);
        let locks = &self.engine.locks;
        let first = locks.lock_added(
            self.xid,
            &target,
            mode,
            self.wait(WaitPolicy::SkipLocked, relation),
        )?;
        if first.0 != LockOutcome::Skipped {
            return Ok(first);
        }
        if self.owns_newest(tree, key)? && locks.held_only_by_waiters_for(self.xid, &target, mode) {
            return Ok((LockOutcome::Acquired { waited: false }, false));
        }
        if policy == WaitPolicy::SkipLocked {
            return Ok(first);
        }
        locks.lock_added(self.xid, &target, mode, self.wait(policy, relation))
    }

    /// Whether the newest version of `key` (aborted writers' garbage
    /// aside) is this transaction's.
    fn owns_newest(&self, tree: &Tree, key: &[u8]) -> Result<bool, TxnError> {
        let m = &self.engine.manager;
        Ok(versions_of(tree, key)?
            .iter()
            .find(|v| !m.is_aborted(v.writer.xid))
            .is_some_and(|v| v.writer.xid == self.xid))
    }

    /// The versions of `key` once no other running transaction's version is
    /// the newest: an INSERT gives its row lock back once its version is in
    /// the tree, so holding the row lock, one may still find a running
    /// inserter's version, and waits for that transaction to end (as
    /// PostgreSQL waits for a tuple's xmin). With `skip_running` (FOR KEY
    /// SHARE) a running writer's version is passed over instead, by
    /// [`Transaction::check_newest`]. Returns the versions and whether it
    /// waited, or `None` when SKIP LOCKED skips the row.
    fn settled_versions(
        &self,
        tree: &Tree,
        key: &[u8],
        policy: WaitPolicy,
        relation: &str,
        skip_running: bool,
    ) -> Result<Option<(Vec<VersionRec>, bool)>, TxnError> {
        let m = &self.engine.manager;
        let mut waited = false;
        loop {
            let versions = versions_of(tree, key)?;
            // FOR KEY SHARE passes over a running row version (an insert's,
            // or a NO KEY UPDATE's) but waits for a running tombstone.
            let running = versions
                .iter()
                .find(|v| !m.is_aborted(v.writer.xid))
                .filter(|v| !(skip_running && v.row.is_some()))
                .map(|v| v.writer.xid)
                .filter(|&x| x != self.xid && m.status(x) == XidStatus::Active);
            let Some(writer) = running else {
                return Ok(Some((versions, waited)));
            };
            let target = LockTarget::transaction(writer);
            let locks = &self.engine.locks;
            match locks.lock_added(
                self.xid,
                &target,
                RowLockMode::Share,
                self.wait(policy, relation),
            )? {
                (LockOutcome::Skipped, _) => return Ok(None),
                (LockOutcome::Acquired { .. }, added) => {
                    if added {
                        locks.release_last(self.xid, &target);
                    }
                }
            }
            waited = true;
        }
    }

    /// Takes this transaction's own lock before its first write, so that
    /// others can wait behind its versions ([`Transaction::settled_versions`]).
    fn hold_xact_lock(&mut self) -> Result<(), TxnError> {
        if !self.xact_locked {
            self.engine.locks.lock(
                self.xid,
                &LockTarget::transaction(self.xid),
                RowLockMode::Update,
                self.wait(WaitPolicy::Block, ""),
            )?;
            self.xact_locked = true;
        }
        Ok(())
    }

    /// `SELECT … FOR <mode> [NOWAIT | SKIP LOCKED]` on one row: locks it and
    /// returns its newest version. REPEATABLE READ and SERIALIZABLE fail with
    /// 40001 if that version is newer than the snapshot's.
    pub fn lock_row(
        &mut self,
        tree: &Tree,
        key: &[u8],
        mode: RowLockMode,
        policy: WaitPolicy,
        relation: &str,
    ) -> Result<RowLock, TxnError> {
        let view = self.view()?;
        if self.options.read_only {
            return Err(TxnError::ReadOnly {
                statement: format!("SELECT {}", mode.sql_name()),
            });
        }
        // Its own lock first, so that the row lock is the newest
        // acquisition when the write that follows gives it back.
        self.hold_xact_lock()?;
        let added = match self.lock_key(tree, key, mode, policy, relation)? {
            (LockOutcome::Skipped, _) => return Ok(RowLock::Skipped),
            (LockOutcome::Acquired { .. }, added) => added,
        };
        // FOR KEY SHARE is compatible with the NO KEY UPDATE lock of a
        // running writer, and an insert's version is not the row yet: a
        // running writer's version is passed over.
        let skip_running = mode == RowLockMode::KeyShare;
        let release = |locks: &LockManager| {
            if added {
                locks.release_last(self.xid, &lock_target(tree, key));
            }
        };
        let Some((versions, _)) =
            self.settled_versions(tree, key, policy, relation, skip_running)?
        else {
            // SKIP LOCKED behind a running inserter: the row lock goes too.
            release(&self.engine.locks);
            return Ok(RowLock::Skipped);
        };
        let locked = self.check_newest(&view, &versions, skip_running)?;
        if matches!(locked, RowLock::Locked { current: None, .. }) {
            // No row, so nothing locked (as in PostgreSQL): an inserter of
            // the key must not wait for this transaction.
            release(&self.engine.locks);
        }
        Ok(locked)
    }

    /// Compares the newest version (we hold the row lock: it is committed or
    /// our own, or with `skip_running` the first one that is) with the one
    /// the snapshot sees.
    fn check_newest(
        &self,
        view: &ReadView,
        versions: &[VersionRec],
        skip_running: bool,
    ) -> Result<RowLock, TxnError> {
        // Versions of an aborted writer whose undo failed stay invisible
        // garbage: the newest real version is the first other one.
        let m = &self.engine.manager;
        let running_other =
            |x: Xid| skip_running && x != self.xid && m.status(x) == XidStatus::Active;
        let Some(newest_at) = versions
            .iter()
            .position(|v| !(m.is_aborted(v.writer.xid) || running_other(v.writer.xid)))
        else {
            return Ok(RowLock::Locked {
                current: None,
                changed: false,
            });
        };
        let newest = &versions[newest_at];
        if newest.writer.xid == self.xid && newest.writer.cid >= self.cid {
            return Ok(RowLock::SelfUpdated);
        }
        let seen = view.choose(versions)?;
        let changed = seen != Some(newest_at);
        if changed && self.options.isolation.uses_transaction_snapshot() {
            return Err(if newest.row.is_none() {
                TxnError::ConcurrentDelete
            } else {
                TxnError::ConcurrentUpdate
            });
        }
        Ok(RowLock::Locked {
            current: newest.row.clone(),
            changed,
        })
    }

    fn check_writable(&self, statement: &str) -> Result<(), TxnError> {
        self.check_active()?;
        if self.options.read_only {
            return Err(TxnError::ReadOnly {
                statement: statement.to_string(),
            });
        }
        Ok(())
    }

    /// Appends a version of `key` (the row lock is held) with `stamp`, or
    /// a new stamp if `None`. Returns nothing; prunes what the new version
    /// makes dead.
    fn append_version(
        &mut self,
        tree: &Tree,
        key: &[u8],
        row: Option<&[u8]>,
        older: &[VersionRec],
        stamp: Option<u64>,
    ) -> Result<(), TxnError> {
        if self.ssi_registered {
            self.engine.ssi.conflict_in(self.xid, tree.id(), key)?;
        }
        let stamp = match stamp {
            Some(s) => s,
            None => self.engine.manager.next_stamp()?,
        };
        let writer = Writer {
            xid: self.xid,
            cid: self.cid,
        };
        let tree_key = version::encode_key(key, stamp);
        let value = version::encode_value(writer, row);
        let engine = self.engine.clone();
        let replaced = match (self.log_txn()?, &engine.durable) {
            // Logged: an Update record (undo: delete this version key)
            // before the tree change, in the log transaction's chain.
            (Some(txn), Some(d)) => d.insert_new(&txn, tree, &tree_key, &value)?,
            _ => {
                let r = tree.insert(&tree_key, &value)?;
                self.undo.push(Undo::Version {
                    tree: tree.clone(),
                    key: key.to_vec(),
                    stamp,
                });
                r
            }
        };
        assert!(!replaced, "version stamp {stamp} reused");
        self.writes += 1;
        if !older.is_empty() || row.is_none() {
            self.engine.note_churn(tree.id());
        }
        let horizon = self.engine.manager.oldest_xmin();
        self.engine.prune_versions(tree, key, older, horizon)?;
        Ok(())
    }

    /// INSERT: adds `row` under `key` unless a live row is there. Returns
    /// false for a duplicate (the SQL layer reports 23505). Waits for an
    /// uncommitted writer of the key first, as a unique check does.
    ///
    /// The row lock is held only while the insert runs: then the new
    /// version itself is the lock (whoever takes the row lock next waits
    /// for this transaction behind it), so a statement that inserts
    /// millions of rows holds no lock entry per row.
    pub fn insert(&mut self, tree: &Tree, key: &[u8], row: &[u8]) -> Result<bool, TxnError> {
        self.check_writable("INSERT")?;
        let view = self.view()?;
        self.hold_xact_lock()?;
        let (_, added) = self.lock_key(tree, key, RowLockMode::Update, WaitPolicy::Block, "")?;
        let inserted = self.insert_locked(&view, tree, key, row);
        if added {
            self.engine
                .locks
                .release_last(self.xid, &lock_target(tree, key));
        }
        inserted
    }

    /// INSERT of an entry whose key embeds a key this transaction has
    /// already locked (a non-unique index entry ends with its row's key):
    /// as [`Transaction::insert`] without taking a lock of its own, since
    /// every writer of that entry holds the row's lock first.
    pub fn insert_entry(&mut self, tree: &Tree, key: &[u8], row: &[u8]) -> Result<bool, TxnError> {
        self.check_writable("INSERT")?;
        let view = self.view()?;
        self.hold_xact_lock()?;
        self.insert_locked(&view, tree, key, row)
    }

    /// The insert once nobody else can write `key`.
    fn insert_locked(
        &mut self,
        view: &ReadView,
        tree: &Tree,
        key: &[u8],
        row: &[u8],
    ) -> Result<bool, TxnError> {
        // Usually the key has no versions at all: check that and insert in
        // one descent. Under SSI the conflict-in check must precede the
        // insert and follow the duplicate check, so SERIALIZABLE takes the
        // general path. The stamp is drawn under the row lock either way,
        // and drawn again after a wait (the writer waited for may have
        // drawn later ones while it owned the newest version).
        let mut stamp = None;
        if !self.ssi_registered {
            let s = self.engine.manager.next_stamp()?;
            if self.insert_first_version(tree, key, row, s)? {
                return Ok(true);
            }
            stamp = Some(s);
        }
        let Some((versions, waited)) =
            self.settled_versions(tree, key, WaitPolicy::Block, "", false)?
        else {
            unreachable_skip()
        };
        if waited {
            stamp = None;
        }
        let m = &self.engine.manager;
        let newest = versions.iter().find(|v| !m.is_aborted(v.writer.xid));
        if newest.is_some_and(|v| v.row.is_some()) {
            // Under SSI a duplicate found is still a read of the key.
            if view.tracking {
                self.engine.ssi.read_key(self.xid, tree.id(), key);
            }
            return Ok(false);
        }
        self.append_version(tree, key, Some(row), &versions, stamp)?;
        Ok(true)
    }

    /// The first version of `key`, if it has none at all, in one tree
    /// descent: the tree checks that the versions range is empty and
    /// inserts under one leaf latch ([`Tree::insert_if_range_empty`]; with
    /// a log, the Update record goes in between). Returns false, having
    /// changed nothing, when the tree declines: versions exist (a
    /// duplicate, or dead versions to prune), they may span two leaves, or
    /// the leaf must split.
    fn insert_first_version(
        &mut self,
        tree: &Tree,
        key: &[u8],
        row: &[u8],
        stamp: u64,
    ) -> Result<bool, TxnError> {
        let mut lo = Vec::with_capacity(key.len() + 4 + version::STAMP_BYTES);
        version::encode_user_prefix(key, &mut lo);
        let hi = version::versions_end(key);
        let tree_key = version::encode_key(key, stamp);
        let writer = Writer {
            xid: self.xid,
            cid: self.cid,
        };
        let value = version::encode_value(writer, Some(row));
        let engine = self.engine.clone();
        let inserted = match (self.log_txn()?, &engine.durable) {
            (Some(txn), Some(d)) => {
                d.insert_new_if_range_empty(&txn, tree, &lo, &hi, &tree_key, &value)?
            }
            _ => {
                let done = tree.insert_if_range_empty(&lo, &hi, &tree_key, &value, || {
                    Ok::<(), StorageError>(())
                })?;
                if done {
                    self.undo.push(Undo::Version {
                        tree: tree.clone(),
                        key: key.to_vec(),
                        stamp,
                    });
                }
                done
            }
        };
        if inserted {
            self.writes += 1;
        }
        Ok(inserted)
    }

    /// UPDATE of one row to `row`: `key_changed` says whether the update
    /// changes the key columns (UPDATE lock) or not (NO KEY UPDATE). Call
    /// [`Transaction::lock_row`] first to re-check under READ COMMITTED; a
    /// blind put overwrites the newest version. Returns false if there was
    /// no live row to update.
    pub fn put(
        &mut self,
        tree: &Tree,
        key: &[u8],
        row: &[u8],
        key_changed: bool,
    ) -> Result<bool, TxnError> {
        self.check_writable("UPDATE")?;
        let mode = if key_changed {
            RowLockMode::Update
        } else {
            RowLockMode::NoKeyUpdate
        };
        self.write(tree, key, Some(row), mode)
    }

    /// DELETE of one row. Returns false if there was no live row.
    pub fn delete(&mut self, tree: &Tree, key: &[u8]) -> Result<bool, TxnError> {
        self.check_writable("DELETE")?;
        self.write(tree, key, None, RowLockMode::Update)
    }

    fn write(
        &mut self,
        tree: &Tree,
        key: &[u8],
        row: Option<&[u8]>,
        mode: RowLockMode,
    ) -> Result<bool, TxnError> {
        let view = self.view()?;
        self.hold_xact_lock()?;
        let (_, added) = self.lock_key(tree, key, mode, WaitPolicy::Block, "")?;
        let Some((versions, _)) = self.settled_versions(tree, key, WaitPolicy::Block, "", false)?
        else {
            unreachable_skip()
        };
        let target = lock_target(tree, key);
        match self.check_newest(&view, &versions, false)? {
            RowLock::Locked { current: None, .. } | RowLock::SelfUpdated => {
                if added {
                    self.engine.locks.release_last(self.xid, &target);
                }
                Ok(false)
            }
            RowLock::Skipped => unreachable_skip(),
            RowLock::Locked {
                current: Some(_), ..
            } => {
                self.append_version(tree, key, row, &versions, None)?;
                // The version is the lock from now on, where it is as
                // strong: a tombstone as UPDATE, a row as NO KEY UPDATE
                // (FOR KEY SHARE passes over it). So a statement changing
                // millions of rows holds no lock entry per row.
                let strength = if row.is_none() {
                    RowLockMode::Update
                } else {
                    RowLockMode::NoKeyUpdate
                };
                self.engine
                    .locks
                    .release_newest_within(self.xid, &target, strength);
                Ok(true)
            }
        }
    }

    /// `SAVEPOINT name`.
    pub fn savepoint(&mut self, name: &str) -> Result<(), TxnError> {
        self.check_active()?;
        self.savepoints.push(SavepointMark {
            name: name.to_string(),
            writes: self.writes,
            undo: self.undo.len(),
            drops: self.drops.len(),
            lsn: self.wal.as_ref().map_or(Lsn(0), |t| t.last_lsn()),
            locks: self.engine.locks.mark(self.xid),
            xact_locked: self.xact_locked,
        });
        Ok(())
    }

    fn find_savepoint(&self, name: &str) -> Result<usize, TxnError> {
        self.savepoints
            .iter()
            .rposition(|s| s.name == name)
            .ok_or_else(|| TxnError::NoSuchSavepoint(name.to_string()))
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes the writes and releases the row
    /// locks taken since; the savepoint stays.
    pub fn rollback_to(&mut self, name: &str) -> Result<(), TxnError> {
        self.check_active()?;
        let i = self.find_savepoint(name)?;
        let mark = self.savepoints[i].clone();
        self.savepoints.truncate(i + 1);
        match (&self.wal, &self.engine.durable) {
            (Some(txn), Some(d)) => d.rollback_to(txn, mark.lsn)?,
            _ => self.undo_to(mark.undo)?,
        }
        let undid = self.writes != mark.writes;
        self.writes = mark.writes;
        self.drops.truncate(mark.drops);
        self.engine.locks.release_since(self.xid, mark.locks);
        if !mark.xact_locked {
            // Taken after the savepoint, so released with its locks.
            self.xact_locked = false;
        } else if undid {
            // Those waiting behind versions just removed look again.
            self.engine
                .locks
                .wake_waiters(&LockTarget::transaction(self.xid));
        }
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`: forgets it and the savepoints after it.
    pub fn release(&mut self, name: &str) -> Result<(), TxnError> {
        self.check_active()?;
        let i = self.find_savepoint(name)?;
        self.savepoints.truncate(i);
        Ok(())
    }

    /// Undoes the in-memory undo list down to `len` entries, newest first.
    fn undo_to(&mut self, len: usize) -> Result<(), TxnError> {
        while self.undo.len() > len {
            let Some(u) = self.undo.last() else {
                break; // unreachable: len() > len >= 0
            };
            match u {
                Undo::Version { tree, key, stamp } => {
                    let existed = tree.delete(&version::encode_key(key, *stamp))?;
                    assert!(existed, "undo of version {stamp} that is not there");
                }
                Undo::CreatedTree(id) => {
                    if let Some(s) = &self.engine.storage {
                        let _gate = self.engine.tree_gate.write();
                        match s.drop_tree(*id) {
                            Ok(()) | Err(StorageError::NoSuchTree(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            }
            self.undo.pop();
        }
        Ok(())
    }

    /// Commits. On a serialization failure or a failed commit record the
    /// transaction is rolled back and the error returned.
    pub fn commit(mut self) -> Result<(), TxnError> {
        self.check_active()?;
        if self.ssi_registered
            && let Err(e) = self.engine.ssi.precommit(self.xid)
        {
            let _ = self.abort();
            return Err(e);
        }
        let wrote = self.writes > 0;
        let engine = self.engine.clone();
        let mut via_xid_log = wrote;
        if wrote && let Some(d) = &engine.durable {
            // The log's commit: DropTree records, Commit, group flush, End.
            let logged = (|| -> Result<(), TxnError> {
                let Some(txn) = self.log_txn()? else {
                    return Ok(());
                };
                for &tree in &self.drops {
                    d.drop_tree_at_commit(&txn, tree)?;
                }
                d.commit(&txn)?;
                Ok(())
            })();
            if let Err(e) = logged {
                let _ = self.abort();
                return Err(e);
            }
            via_xid_log = false;
        } else if let (Some(txn), Some(d)) = (self.wal.take(), &engine.durable) {
            // A log transaction with nothing live (its one-descent insert
            // declined into a duplicate, or a savepoint undid its writes):
            // end it, so checkpoints stop listing it; nothing needs a flush.
            if let Err(e) = d.rollback(&txn) {
                let _ = self.abort();
                return Err(e.into());
            }
        }
        if let Err(e) = engine.manager.commit(self.xid, via_xid_log) {
            let _ = self.abort();
            return Err(e);
        }
        self.finished = true;
        self.wal = None;
        if self.ssi_registered {
            engine.ssi.commit(self.xid);
        }
        engine.locks.release_all(self.xid);
        if !self.drops.is_empty() {
            engine
                .pending_drops
                .lock()
                .extend(self.drops.iter().map(|&t| (self.xid, t)));
        }
        if let Err(e) = engine.free_dropped_trees() {
            // The commit stands; the trees are freed by a later attempt.
            tracing::warn!(error = %e, "could not free dropped trees yet");
        }
        Ok(())
    }

    /// Rolls back: undoes every write, then releases locks.
    pub fn rollback(mut self) -> Result<(), TxnError> {
        self.check_active()?;
        self.abort()
    }

    fn abort(&mut self) -> Result<(), TxnError> {
        self.finished = true;
        let wrote = self.writes > 0 || self.wal.is_some();
        let ended = self.engine.manager.abort(self.xid, wrote);
        // Versions stay invisible while the xid is in the aborted set, so a
        // failed undo leaves garbage for vacuum, never wrong answers.
        let engine = self.engine.clone();
        let undone = match (self.wal.take(), &engine.durable) {
            // Through the log: Abort, each Update undone newest first with
            // a CLR, End (what recovery does for a loser).
            (Some(txn), Some(d)) => d.rollback(&txn).map_err(TxnError::from),
            _ => self.undo_to(0),
        };
        self.drops.clear();
        if wrote && undone.is_ok() {
            engine.manager.forget_aborted(self.xid);
        }
        if self.ssi_registered {
            engine.ssi.rollback(self.xid);
        }
        engine.locks.release_all(self.xid);
        if let Err(e) = engine.free_dropped_trees() {
            tracing::warn!(error = %e, "could not free dropped trees yet");
        }
        ended.and(undone)
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.abort();
        }
    }
}

fn unreachable_skip() -> ! {
    panic!("a blocking lock never skips");
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A user key and its row.
pub type KeyRow = (Vec<u8>, Vec<u8>);

/// A scan's rows, visible to the statement that opened it, in key order.
pub struct Scan {
    view: ReadView,
    cursor: Cursor,
    reverse: bool,
    /// One entry read past the current key's group.
    pending: Option<(Vec<u8>, VersionRec)>,
    done: bool,
}

impl Scan {
    fn next_entry(&mut self) -> Result<Option<(Vec<u8>, VersionRec)>, TxnError> {
        if let Some(p) = self.pending.take() {
            return Ok(Some(p));
        }
        // Borrowed from the cursor: only the user key and the row are copied.
        let Some((k, v)) = self.cursor.next_ref()? else {
            return Ok(None);
        };
        let (user, stamp) = version::decode_key(k)?;
        let v = version::decode_value(v)?;
        Ok(Some((
            user,
            VersionRec {
                stamp,
                writer: v.writer,
                row: v.row.map(<[u8]>::to_vec),
            },
        )))
    }

    fn next_row(&mut self) -> Result<Option<KeyRow>, TxnError> {
        while !self.done {
            let Some((key, first)) = self.next_entry()? else {
                self.done = true;
                break;
            };
            let mut group = vec![first];
            loop {
                match self.next_entry()? {
                    Some((k, v)) if k == key => group.push(v),
                    Some(other) => {
                        self.pending = Some(other);
                        break;
                    }
                    None => break,
                }
            }
            if self.reverse {
                group.reverse();
            }
            debug_assert!(group.windows(2).all(|w| w[0].stamp > w[1].stamp));
            if let Some(i) = self.view.choose(&group)?
                && let Some(row) = group.swap_remove(i).row
            {
                return Ok(Some((key, row)));
            }
        }
        Ok(None)
    }
}

impl Iterator for Scan {
    type Item = Result<KeyRow, TxnError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_row() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

// A session's transaction moves between the server's worker threads.
const _: () = {
    const fn assert_send<T: Send>() {}
    assert_send::<Transaction>();
    assert_send::<Scan>();
    const fn assert_sync<T: Sync>() {}
    assert_sync::<TxnEngine>();
};
