//! The transaction manager: hands out transaction ids and version stamps,
//! keeps the active set and the aborted set, takes snapshots, ends
//! transactions and computes the vacuum watermark.
//!
//! ```text
//!   begin ──> Active ──commit──> (durable via XidLog) ──> gone: committed
//!               │
//!               └──abort──> Aborted (in `aborted` until its versions are
//!                           undone, then forget_aborted) ──> gone
//! ```
//!
//! Status of an xid below `next_id`: `Active` if in the active set,
//! `Aborted` if in the aborted set, otherwise committed. That keeps the
//! status table as small as the set of running and not-yet-undone
//! transactions, whatever the number of transactions ever run.
//!
//! Invariants:
//! - Xids and version stamps come from one counter and are strictly increasing;
//!   the counter never hands out an id at or above the limit last persisted
//!   through [`XidLog::persist_id_limit`], so ids never repeat across restarts.
//! - A commit becomes visible (leaves the active set) only after
//!   [`XidLog::make_commit_durable`] returned Ok.
//! - An xid leaves the aborted set only when the caller says its versions are
//!   gone from the trees ([`TxnManager::forget_aborted`]).
//! - Snapshots are taken under the same mutex that changes the active set,
//!   so a snapshot is a consistent cut.
//!
//! Seam to the log: [`XidLog`]. The WAL engineer's log implements it (a
//! commit record + group-commit flush; an id-limit record, recovered as the
//! start of the counter). [`VolatileXidLog`] serves in-memory databases.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use super::snapshot::{Snapshot, Xid};
use super::{IsolationLevel, TxnError};

/// How many ids the manager reserves per [`XidLog::persist_id_limit`] call.
/// Each call waits for a log flush under the manager's lock, and every row
/// written takes a stamp (one per table row and index entry), so a block of
/// 4096 cost a flush every two 1000-row INSERTs (6% of a bulk load's
/// CPU, besides the wait). A crash skips at most one block of the 64-bit
/// id space.
pub const ID_RESERVATION_BLOCK: u64 = 1 << 16;

/// What the transaction manager needs from the write-ahead log.
pub trait XidLog: Send + Sync {
    /// Persist that ids below `limit` may have been handed out; after a crash
    /// the counter restarts at (at least) the last persisted limit.
    fn persist_id_limit(&self, limit: u64) -> Result<(), TxnError>;
    /// Append `xid`'s commit record and wait until it is durable.
    fn make_commit_durable(&self, xid: Xid) -> Result<(), TxnError>;
    /// Note that `xid` aborted. Need not be durable: a transaction without a
    /// commit record is a loser at recovery.
    fn record_abort(&self, xid: Xid) -> Result<(), TxnError>;
}

/// An [`XidLog`] for in-memory databases: nothing survives, nothing to wait for.
#[derive(Debug, Default)]
pub struct VolatileXidLog;

impl XidLog for VolatileXidLog {
    fn persist_id_limit(&self, _limit: u64) -> Result<(), TxnError> {
        Ok(())
    }
    fn make_commit_durable(&self, _xid: Xid) -> Result<(), TxnError> {
        Ok(())
    }
    fn record_abort(&self, _xid: Xid) -> Result<(), TxnError> {
        Ok(())
    }
}

/// The status of a transaction id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XidStatus {
    Active,
    Committed,
    Aborted,
    /// Not handed out yet.
    Future,
}

/// What the manager knows about a running transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveTxn {
    pub isolation: IsolationLevel,
    pub read_only: bool,
    /// The xmin of the snapshot this transaction currently uses (its horizon
    /// for vacuum), or `None` before its first snapshot.
    pub snapshot_xmin: Option<Xid>,
}

struct State {
    /// The next id to hand out (xid or stamp).
    next_id: u64,
    /// Ids below this may be handed out without asking the log.
    id_limit: u64,
    active: BTreeMap<Xid, ActiveTxn>,
    aborted: HashSet<Xid>,
    /// Aborted xids whose versions are gone, each with the id counter at
    /// that moment: they stay in `aborted` until everyone who may still
    /// hold a copy of one of their versions has finished (see
    /// [`TxnManager::forget_aborted`]).
    forgotten: VecDeque<(Xid, u64)>,
    /// Work outside transactions that reads versions (vacuum passes): the
    /// id counter at each one's start, with how many started then.
    pins: BTreeMap<u64, usize>,
    /// Commits so far (a sequence number; the latest commit's number).
    last_commit_seq: u64,
}

/// The transaction manager. Shared by all sessions of a database.
pub struct TxnManager {
    state: Mutex<State>,
    log: Arc<dyn XidLog>,
}

impl TxnManager {
    /// A manager whose counter starts at `recovered_next_id` (the limit
    /// recovered from the log; [`Xid::FIRST_NORMAL`] for a new database).
    pub fn new(log: Arc<dyn XidLog>, recovered_next_id: u64) -> TxnManager {
        let next_id = recovered_next_id.max(Xid::FIRST_NORMAL.0);
        TxnManager {
            state: Mutex::new(State {
                next_id,
                id_limit: next_id,
                active: BTreeMap::new(),
                aborted: HashSet::new(),
                forgotten: VecDeque::new(),
                pins: BTreeMap::new(),
                last_commit_seq: 0,
            }),
            log,
        }
    }

    /// A manager for an in-memory database.
    pub fn volatile() -> TxnManager {
        TxnManager::new(Arc::new(VolatileXidLog), Xid::FIRST_NORMAL.0)
    }

    fn take_id(&self, st: &mut State) -> Result<u64, TxnError> {
        if st.next_id >= st.id_limit {
            let limit = st.next_id + ID_RESERVATION_BLOCK;
            self.log.persist_id_limit(limit)?;
            st.id_limit = limit;
        }
        let id = st.next_id;
        st.next_id += 1;
        assert!(id < st.id_limit);
        Ok(id)
    }

    /// Starts a transaction and returns its id.
    pub fn begin(&self, isolation: IsolationLevel, read_only: bool) -> Result<Xid, TxnError> {
        let mut st = self.state.lock();
        let xid = Xid(self.take_id(&mut st)?);
        let prev = st.active.insert(
            xid,
            ActiveTxn {
                isolation,
                read_only,
                snapshot_xmin: None,
            },
        );
        assert!(prev.is_none(), "xid {xid} handed out twice");
        Ok(xid)
    }

    /// A fresh version stamp (orders the versions of one key: newer writes
    /// get larger stamps). The caller must hold the key's row lock.
    pub fn next_stamp(&self) -> Result<u64, TxnError> {
        let mut st = self.state.lock();
        self.take_id(&mut st)
    }

    /// Takes a snapshot for `xid` and makes its xmin the transaction's vacuum
    /// horizon (replacing the horizon of its previous snapshot: READ COMMITTED
    /// calls this once per statement).
    pub fn snapshot(&self, xid: Xid) -> Result<Snapshot, TxnError> {
        let mut st = self.state.lock();
        let xmax = Xid(st.next_id);
        let active: Vec<Xid> = st.active.keys().copied().filter(|x| *x != xid).collect();
        let xmin = active
            .first()
            .copied()
            .unwrap_or(xmax)
            .min(if xid.is_normal() { xid } else { xmax });
        let txn = st
            .active
            .get_mut(&xid)
            .ok_or(TxnError::NotInProgress(xid))?;
        txn.snapshot_xmin = Some(xmin);
        Ok(Snapshot::new(xid, xmin, xmax, active))
    }

    /// The number of the latest commit (grows by one per commit). SSI reads it
    /// with each serializable snapshot.
    pub fn last_commit_seq(&self) -> u64 {
        self.state.lock().last_commit_seq
    }

    /// Commits `xid`: makes it durable (if it wrote) and then visible.
    /// Returns the commit's sequence number.
    pub fn commit(&self, xid: Xid, wrote: bool) -> Result<u64, TxnError> {
        if !self.state.lock().active.contains_key(&xid) {
            return Err(TxnError::NotInProgress(xid));
        }
        if wrote {
            // Outside the mutex: many committers share one flush.
            self.log.make_commit_durable(xid)?;
        }
        let mut st = self.state.lock();
        let removed = st.active.remove(&xid);
        assert!(removed.is_some(), "xid {xid} ended twice");
        st.last_commit_seq += 1;
        trim_forgotten(&mut st);
        Ok(st.last_commit_seq)
    }

    /// Aborts `xid`. If it `wrote`, it stays in the aborted set until the
    /// caller has undone its versions and calls [`TxnManager::forget_aborted`].
    pub fn abort(&self, xid: Xid, wrote: bool) -> Result<(), TxnError> {
        let mut st = self.state.lock();
        if st.active.remove(&xid).is_none() {
            return Err(TxnError::NotInProgress(xid));
        }
        if wrote {
            st.aborted.insert(xid);
        }
        drop(st);
        if wrote {
            self.log.record_abort(xid)?;
        }
        Ok(())
    }

    /// The versions of aborted `xid` are gone from every tree. It still
    /// counts as aborted until every transaction running now (and every
    /// vacuum pass, [`TxnManager::pin`]) has finished: one of them may hold
    /// a copy of a version it read before the undo removed it (a scan's
    /// leaf batch, the versions a writer or vacuum pass is deciding on),
    /// and forgetting at once would make that copy look committed: a reader
    /// saw a deadlock victim's debit without its credit, and a prune could
    /// take such a version for one every snapshot sees and remove the
    /// committed versions below it.
    pub fn forget_aborted(&self, xid: Xid) {
        let mut st = self.state.lock();
        assert!(
            st.aborted.contains(&xid),
            "forget_aborted({xid}) of an xid not aborted"
        );
        let mark = st.next_id;
        st.forgotten.push_back((xid, mark));
        trim_forgotten(&mut st);
    }

    /// Holds back forgetting aborted xids (and counts in the vacuum
    /// watermark) while work outside any transaction reads versions.
    pub fn pin(&self) -> Result<HorizonPin<'_>, TxnError> {
        let mut st = self.state.lock();
        // An id of its own: a forget before the pin has a mark <= `at`, one
        // after it a mark > `at`.
        let at = self.take_id(&mut st)?;
        *st.pins.entry(at).or_default() += 1;
        Ok(HorizonPin { manager: self, at })
    }

    /// How many aborted xids are kept only because someone may still hold
    /// a copy of their versions (diagnostics, tests).
    pub fn forgotten_pending(&self) -> usize {
        self.state.lock().forgotten.len()
    }

    pub fn is_aborted(&self, xid: Xid) -> bool {
        self.state.lock().aborted.contains(&xid)
    }

    pub fn status(&self, xid: Xid) -> XidStatus {
        let st = self.state.lock();
        if xid == Xid::FROZEN {
            XidStatus::Committed
        } else if xid.0 >= st.next_id || xid == Xid::INVALID {
            XidStatus::Future
        } else if st.active.contains_key(&xid) {
            XidStatus::Active
        } else if st.aborted.contains(&xid) {
            XidStatus::Aborted
        } else {
            XidStatus::Committed
        }
    }

    pub fn active_txn(&self, xid: Xid) -> Option<ActiveTxn> {
        self.state.lock().active.get(&xid).copied()
    }

    /// The number of running transactions.
    pub fn active_count(&self) -> usize {
        self.state.lock().active.len()
    }

    /// The vacuum watermark: every snapshot in use, and every snapshot taken
    /// from now on, has `xmin >= oldest_xmin()`. So a committed version whose
    /// writer is below it is visible to all of them, and the versions it
    /// superseded are visible to none (see docs/mvcc.md, "Vacuum").
    pub fn oldest_xmin(&self) -> Xid {
        oldest_xmin(&self.state.lock())
    }
}

fn oldest_xmin(st: &State) -> Xid {
    let mut horizon = Xid(st.next_id);
    for (xid, txn) in &st.active {
        horizon = horizon.min(*xid);
        if let Some(x) = txn.snapshot_xmin {
            horizon = horizon.min(x);
        }
    }
    horizon
}

/// Drops from the aborted set the forgotten xids nobody can hold a copy
/// of a version of any more: every transaction and pin that began before
/// the forget (ids below its mark) has ended. A transaction's snapshot
/// xmin below the mark holds it back too (conservative: such a snapshot
/// may belong to a later transaction).
fn trim_forgotten(st: &mut State) {
    let Some(&(_, first)) = st.forgotten.front() else {
        return;
    };
    let mut horizon = oldest_xmin(st).0;
    if let Some((&pin, _)) = st.pins.first_key_value() {
        horizon = horizon.min(pin);
    }
    if first > horizon {
        return;
    }
    while let Some(&(xid, mark)) = st.forgotten.front() {
        if mark > horizon {
            break;
        }
        st.aborted.remove(&xid);
        st.forgotten.pop_front();
    }
}

/// See [`TxnManager::pin`].
pub struct HorizonPin<'a> {
    manager: &'a TxnManager,
    at: u64,
}

impl Drop for HorizonPin<'_> {
    fn drop(&mut self) {
        let mut st = self.manager.state.lock();
        if let Some(n) = st.pins.get_mut(&self.at) {
            *n -= 1;
            if *n == 0 {
                st.pins.remove(&self.at);
            }
        }
        trim_forgotten(&mut st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    const RC: IsolationLevel = IsolationLevel::ReadCommitted;

    #[test]
    fn a_forgotten_abort_stays_aborted_while_someone_may_hold_its_versions() {
        let m = TxnManager::volatile();
        let reader = m.begin(RC, true).unwrap();
        let victim = m.begin(RC, false).unwrap();
        let pin = m.pin().unwrap();
        m.abort(victim, true).unwrap();
        m.forget_aborted(victim);
        // The reader may have copied a leaf holding the victim's versions
        // before the undo removed them.
        assert!(m.is_aborted(victim));
        assert_eq!(m.status(victim), XidStatus::Aborted);
        m.commit(reader, false).unwrap();
        // A vacuum pass that began before the forget holds it back too.
        assert!(m.is_aborted(victim));
        drop(pin);
        assert!(!m.is_aborted(victim));
        assert_eq!(m.forgotten_pending(), 0);
        // With nobody running, forgetting is immediate.
        let second = m.begin(RC, false).unwrap();
        m.abort(second, true).unwrap();
        m.forget_aborted(second);
        assert!(!m.is_aborted(second));
    }

    #[test]
    fn snapshot_excludes_running_and_later_transactions() {
        let m = TxnManager::volatile();
        let t1 = m.begin(RC, false).unwrap();
        let t2 = m.begin(RC, false).unwrap();
        let t3 = m.begin(RC, false).unwrap();
        m.commit(t2, true).unwrap();
        let s = m.snapshot(t3).unwrap();
        assert!(!s.finished_before(t1), "t1 still runs");
        assert!(s.finished_before(t2), "t2 committed");
        let t4 = m.begin(RC, false).unwrap();
        assert!(!s.finished_before(t4), "t4 began after the snapshot");
        assert_eq!(s.xmin, t1);
        assert_eq!(&*s.active, &[t1]);
    }

    #[test]
    fn status_table_tracks_commit_abort_and_forget() {
        let m = TxnManager::volatile();
        let a = m.begin(RC, false).unwrap();
        let b = m.begin(RC, false).unwrap();
        assert_eq!(m.status(a), XidStatus::Active);
        m.commit(a, true).unwrap();
        m.abort(b, true).unwrap();
        assert_eq!(m.status(a), XidStatus::Committed);
        assert_eq!(m.status(b), XidStatus::Aborted);
        assert_eq!(m.status(Xid(b.0 + 100)), XidStatus::Future);
        m.forget_aborted(b);
        assert!(!m.is_aborted(b));
        assert_eq!(m.commit(a, false), Err(TxnError::NotInProgress(a)));
    }

    #[test]
    fn stamps_and_xids_share_one_increasing_counter() {
        let m = TxnManager::volatile();
        let a = m.begin(RC, false).unwrap();
        let s1 = m.next_stamp().unwrap();
        let b = m.begin(RC, false).unwrap();
        let s2 = m.next_stamp().unwrap();
        assert!(a.0 < s1 && s1 < b.0 && b.0 < s2);
    }

    struct CountingLog {
        limit: AtomicU64,
        commits: AtomicU64,
    }
    impl XidLog for CountingLog {
        fn persist_id_limit(&self, limit: u64) -> Result<(), TxnError> {
            self.limit.store(limit, Ordering::SeqCst);
            Ok(())
        }
        fn make_commit_durable(&self, _xid: Xid) -> Result<(), TxnError> {
            self.commits.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        fn record_abort(&self, _xid: Xid) -> Result<(), TxnError> {
            Ok(())
        }
    }

    #[test]
    fn ids_never_repeat_across_a_restart_from_the_persisted_limit() {
        let log = Arc::new(CountingLog {
            limit: AtomicU64::new(0),
            commits: AtomicU64::new(0),
        });
        let m = TxnManager::new(log.clone(), Xid::FIRST_NORMAL.0);
        let mut last = Xid::INVALID;
        for _ in 0..(ID_RESERVATION_BLOCK + 10) {
            let x = m.begin(RC, true).unwrap();
            m.commit(x, false).unwrap();
            last = x;
        }
        assert!(log.limit.load(Ordering::SeqCst) > last.0);
        assert_eq!(log.commits.load(Ordering::SeqCst), 0, "read-only commits");
        // "Restart": a new manager from the persisted limit.
        let m2 = TxnManager::new(log.clone(), log.limit.load(Ordering::SeqCst));
        let x = m2.begin(RC, false).unwrap();
        assert!(x > last, "{x} after restart must exceed {last}");
        m2.commit(x, true).unwrap();
        assert_eq!(log.commits.load(Ordering::SeqCst), 1);
    }

    struct FailingLog;
    impl XidLog for FailingLog {
        fn persist_id_limit(&self, _limit: u64) -> Result<(), TxnError> {
            Ok(())
        }
        fn make_commit_durable(&self, _xid: Xid) -> Result<(), TxnError> {
            Err(TxnError::Lower(crate::Error::new(
                crate::SqlState::IO_ERROR,
                "fsync failed",
            )))
        }
        fn record_abort(&self, _xid: Xid) -> Result<(), TxnError> {
            Ok(())
        }
    }

    #[test]
    fn commit_is_not_visible_when_the_log_fails() {
        let m = TxnManager::new(Arc::new(FailingLog), 2);
        let a = m.begin(RC, false).unwrap();
        let b = m.begin(RC, false).unwrap();
        assert!(m.commit(a, true).is_err());
        let s = m.snapshot(b).unwrap();
        assert!(!s.finished_before(a), "a failed commit stays invisible");
        assert_eq!(m.status(a), XidStatus::Active);
        m.abort(a, true).unwrap();
        assert_eq!(m.status(a), XidStatus::Aborted);
    }

    #[test]
    fn oldest_xmin_is_held_back_by_the_oldest_snapshot_in_use() {
        let m = TxnManager::volatile();
        let old = m.begin(IsolationLevel::RepeatableRead, true).unwrap();
        let _ = m.snapshot(old).unwrap();
        let w = m.begin(RC, false).unwrap();
        m.commit(w, true).unwrap();
        assert_eq!(m.oldest_xmin(), old);
        m.commit(old, false).unwrap();
        assert!(m.oldest_xmin() > w, "nothing running: horizon at next id");
    }
}
