//! Row locks: PostgreSQL's four tuple lock modes, FIFO wait queues, timeouts,
//! cancellation and a wait-for-graph deadlock detector.
//!
//! ```text
//!  target (tree, user key)
//!    holders: [(xid 4, {Share}), (xid 7, {KeyShare})]
//!    queue:   [xid 9 wants Update] -> [xid 12 wants Share]      (FIFO)
//!
//!  a waiter sleeps on its own condvar; the releaser grants from the queue
//!  head while the head is compatible with the holders, and wakes each one
//!  granted. After deadlock_timeout_ms the waiter itself walks the wait-for
//!  graph (waiter -> conflicting holders and conflicting waiters ahead of it);
//!  a cycle back to itself makes it the victim (40P01), as in PostgreSQL,
//!  where the backend that runs the check is the one that errors out.
//! ```
//!
//! Conflict table (PostgreSQL's, "X" = conflict):
//!
//! | held \ requested | KEY SHARE | SHARE | NO KEY UPDATE | UPDATE |
//! |---|---|---|---|---|
//! | KEY SHARE        |   |   |   | X |
//! | SHARE            |   |   | X | X |
//! | NO KEY UPDATE    |   | X | X | X |
//! | UPDATE           | X | X | X | X |
//!
//! Writes take locks too: an UPDATE that leaves the key alone takes
//! NO KEY UPDATE, a DELETE or key-changing UPDATE (and an INSERT) takes UPDATE.
//! A write gives its lock back once its version is written
//! ([`LockManager::release_last`], [`LockManager::release_newest_within`]):
//! the version is the lock from then on, and others wait for the writing
//! transaction's own lock ([`LockTarget::transaction`]).
//!
//! Invariants:
//! - Locks are held until [`LockManager::release_all`] (transaction end),
//!   [`LockManager::release_since`] (rollback to a savepoint), or
//!   [`LockManager::release_last`] (an insert's lock, given back at once).
//! - No two holders of a target hold conflicting modes.
//! - A waiter is in exactly one queue, and `waiting` names it; a transaction
//!   waits for at most one lock at a time.
//! - Nobody polls: every wait is a condvar wait that ends by a grant, a
//!   timeout, or a cancel that notifies the same condvar.
//!
//! Differences from PostgreSQL: a new request that is compatible with the
//! holders still queues behind a conflicting waiter (fairness; PostgreSQL lets
//! it through), except when the requester already holds a lock on the target
//! (an upgrade), which would otherwise deadlock with itself. There is no soft
//! deadlock queue rearrangement: soft cycles abort a victim.
//!
//! Open problems: one mutex guards the whole table (sharding it needs the
//! detector to lock every shard in order).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::snapshot::Xid;
use super::{TreeId, TxnError};

/// A row lock mode, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowLockMode {
    /// `FOR KEY SHARE`: the key may not change or vanish.
    KeyShare,
    /// `FOR SHARE`: the row may not change.
    Share,
    /// `FOR NO KEY UPDATE`, and UPDATEs that leave the key alone.
    NoKeyUpdate,
    /// `FOR UPDATE`, DELETE, key-changing UPDATE, INSERT.
    Update,
}

impl RowLockMode {
    pub const ALL: [RowLockMode; 4] = [
        RowLockMode::KeyShare,
        RowLockMode::Share,
        RowLockMode::NoKeyUpdate,
        RowLockMode::Update,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Whether a lock in `self` conflicts with one in `other` held by another
    /// transaction (the table above; it is symmetric).
    pub fn conflicts_with(self, other: RowLockMode) -> bool {
        use RowLockMode::*;
        matches!(
            (self, other),
            (Update, _)
                | (_, Update)
                | (NoKeyUpdate, NoKeyUpdate)
                | (NoKeyUpdate, Share)
                | (Share, NoKeyUpdate)
        )
    }

    /// The modes in a bit set that conflict with `self`, as a bit set.
    fn conflict_bits(self) -> u8 {
        RowLockMode::ALL
            .iter()
            .filter(|m| self.conflicts_with(**m))
            .fold(0, |acc, m| acc | m.bit())
    }

    /// Each mode's conflict set contains the weaker modes' sets, so holding
    /// `self` makes a request for `other` already satisfied if `other <= self`.
    fn covers(self, other: RowLockMode) -> bool {
        other <= self
    }

    pub fn sql_name(self) -> &'static str {
        match self {
            RowLockMode::KeyShare => "FOR KEY SHARE",
            RowLockMode::Share => "FOR SHARE",
            RowLockMode::NoKeyUpdate => "FOR NO KEY UPDATE",
            RowLockMode::Update => "FOR UPDATE",
        }
    }
}

fn strongest(bits: u8) -> Option<RowLockMode> {
    RowLockMode::ALL
        .iter()
        .rev()
        .copied()
        .find(|m| bits & m.bit() != 0)
}

/// What a row lock protects: a user key in a tree, or (in the reserved
/// tree [`XACT_TREE`]) a running transaction, which its writer holds in
/// UPDATE mode from its first write to its end.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockTarget {
    pub tree: TreeId,
    pub key: Vec<u8>,
}

/// The tree id no real tree has (ids count up from the directory's 0),
/// under which a transaction's own lock lives.
pub const XACT_TREE: TreeId = TreeId(u64::MAX);

impl LockTarget {
    /// The lock `xid` holds while it runs: waiting for it (in SHARE mode)
    /// waits for `xid` to commit or abort, as PostgreSQL's XactLockTableWait.
    pub fn transaction(xid: Xid) -> LockTarget {
        LockTarget {
            tree: XACT_TREE,
            key: xid.0.to_be_bytes().to_vec(),
        }
    }

    fn as_transaction(&self) -> Option<u64> {
        if self.tree != XACT_TREE {
            return None;
        }
        let b: [u8; 8] = self.key.as_slice().try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }
}

/// What to do when the lock is not free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Wait (with deadlock detection and timeouts).
    Block,
    /// `NOWAIT`: fail with 55P03.
    NoWait,
    /// `SKIP LOCKED`: return [`LockOutcome::Skipped`].
    SkipLocked,
}

/// A cancel flag that also wakes the wait it interrupts (a CancelRequest, or
/// a session closing). One per session; reset at the start of a statement.
#[derive(Default)]
pub struct CancelToken {
    flag: AtomicBool,
    current: Mutex<Option<(Arc<dyn Wake>, WaitEvent)>>,
}

/// What a session waits for, as `pg_stat_activity` names it:
/// (wait_event_type, wait_event).
pub type WaitEvent = (&'static str, &'static str);

/// Something a [`CancelToken`] can wake: it must take the same mutex the
/// sleeper checks the flag under, then notify.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Requests cancellation and wakes the current wait, if any.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Some((w, _)) = self.current.lock().as_ref() {
            w.wake();
        }
    }

    pub fn is_canceled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Clears the flag (at the start of each statement).
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }

    /// Registers the wait a cancel must interrupt (until [`CancelToken::clear_waker`]).
    /// `event` says what the wait is for.
    pub fn set_waker(&self, w: Arc<dyn Wake>, event: WaitEvent) {
        *self.current.lock() = Some((w, event));
    }

    /// What the session is blocked on now, if anything.
    pub fn waiting_on(&self) -> Option<WaitEvent> {
        self.current.lock().as_ref().map(|(_, e)| *e)
    }

    pub fn clear_waker(&self) {
        *self.current.lock() = None;
    }
}

/// How one lock request may wait.
#[derive(Clone, Copy)]
pub struct LockWait<'a> {
    pub policy: WaitPolicy,
    /// `lock_timeout`: give up this wait after so long (55P03).
    pub lock_timeout: Option<Duration>,
    /// The statement's `statement_timeout` deadline (57014).
    pub deadline: Option<Instant>,
    pub cancel: Option<&'a CancelToken>,
    /// The relation name for NOWAIT's message.
    pub relation: &'a str,
}

impl<'a> LockWait<'a> {
    /// Block without timeouts or cancellation.
    pub fn block(relation: &'a str) -> LockWait<'a> {
        LockWait {
            policy: WaitPolicy::Block,
            lock_timeout: None,
            deadline: None,
            cancel: None,
            relation,
        }
    }

    pub fn with_policy(mut self, policy: WaitPolicy) -> LockWait<'a> {
        self.policy = policy;
        self
    }
}

/// How a lock request ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockOutcome {
    /// Now held. `waited`: another transaction held it first, and the caller
    /// must look at the row again (READ COMMITTED's re-check).
    Acquired { waited: bool },
    /// `SKIP LOCKED` and the row was locked.
    Skipped,
}

/// Limits and timings of the lock manager.
#[derive(Debug, Clone, Copy)]
pub struct LockConfig {
    /// How long a waiter sleeps before it runs the deadlock detector.
    pub deadlock_timeout_ms: u64,
    /// The most (target, transaction) lock entries held at once.
    pub row_locks_max: usize,
}

impl Default for LockConfig {
    fn default() -> LockConfig {
        LockConfig {
            // PostgreSQL's default deadlock_timeout is 1s.
            deadlock_timeout_ms: 1000,
            row_locks_max: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaitState {
    Waiting,
    Granted,
    /// Woken without a grant ([`LockManager::wake_waiters`]): the waiter
    /// holds nothing and looks again at what it waited for.
    Woken,
}

struct Waiter {
    xid: Xid,
    mode: RowLockMode,
    state: Mutex<WaitState>,
    cv: Condvar,
}

impl Wake for Waiter {
    fn wake(&self) {
        let _g = self.state.lock();
        self.cv.notify_all();
    }
}

#[derive(Default)]
struct Entry {
    /// (holder, bit set of modes held).
    holders: Vec<(Xid, u8)>,
    queue: VecDeque<Arc<Waiter>>,
}

impl Entry {
    fn conflicts_with_holders(&self, xid: Xid, mode: RowLockMode) -> bool {
        let bits = mode.conflict_bits();
        self.holders
            .iter()
            .any(|(h, held)| *h != xid && held & bits != 0)
    }

    fn holds(&self, xid: Xid) -> u8 {
        self.holders
            .iter()
            .find(|(h, _)| *h == xid)
            .map_or(0, |(_, b)| *b)
    }
}

#[derive(Default)]
struct Table {
    entries: HashMap<LockTarget, Entry>,
    /// Per transaction, in acquisition order: (target, mode bits this
    /// acquisition added). Savepoint marks are lengths of this list.
    held: HashMap<Xid, Vec<(LockTarget, u8)>>,
    /// The one lock each waiting transaction waits for.
    waiting: HashMap<Xid, LockTarget>,
    held_entries: usize,
}

impl Table {
    fn add_hold(&mut self, xid: Xid, target: &LockTarget, mode: RowLockMode) {
        let entry = self.entries.entry(target.clone()).or_default();
        let add = mode.bit();
        match entry.holders.iter_mut().find(|(h, _)| *h == xid) {
            Some((_, bits)) => {
                assert!(*bits & add == 0, "mode already held");
                *bits |= add;
            }
            None => entry.holders.push((xid, add)),
        }
        self.held
            .entry(xid)
            .or_default()
            .push((target.clone(), add));
        self.held_entries += 1;
    }

    /// Grants from the head of `target`'s queue while compatible; wakes each.
    fn grant_waiters(&mut self, target: &LockTarget) {
        loop {
            let Some(entry) = self.entries.get_mut(target) else {
                return;
            };
            let Some(head) = entry.queue.front() else {
                if entry.holders.is_empty() {
                    self.entries.remove(target);
                }
                return;
            };
            if entry.conflicts_with_holders(head.xid, head.mode) {
                return;
            }
            let Some(w) = entry.queue.pop_front() else {
                return; // unreachable: `front()` just returned the head
            };
            self.add_hold(w.xid, target, w.mode);
            let was = self.waiting.remove(&w.xid);
            assert!(was.as_ref() == Some(target), "waiter not in waiting map");
            let mut st = w.state.lock();
            assert_eq!(*st, WaitState::Waiting);
            *st = WaitState::Granted;
            w.cv.notify_all();
        }
    }

    /// The transactions `xid` (waiting on `target`) waits for: conflicting
    /// holders and conflicting waiters ahead of it.
    fn blockers(&self, xid: Xid) -> Vec<Xid> {
        let Some(target) = self.waiting.get(&xid) else {
            return Vec::new();
        };
        let Some(entry) = self.entries.get(target) else {
            return Vec::new();
        };
        let Some(me) = entry.queue.iter().find(|w| w.xid == xid) else {
            return Vec::new();
        };
        let bits = me.mode.conflict_bits();
        let mut out: Vec<Xid> = entry
            .holders
            .iter()
            .filter(|(h, held)| *h != xid && held & bits != 0)
            .map(|(h, _)| *h)
            .collect();
        for w in entry.queue.iter().take_while(|w| w.xid != xid) {
            if w.xid != xid && w.mode.conflicts_with(me.mode) && !out.contains(&w.xid) {
                out.push(w.xid);
            }
        }
        out
    }

    /// A cycle in the wait-for graph through `start`, as the list of xids
    /// along it (starting with `start`), if there is one.
    fn find_cycle(&self, start: Xid) -> Option<Vec<Xid>> {
        let mut path = vec![start];
        let mut visited = HashSet::new();
        visited.insert(start);
        self.dfs(start, start, &mut path, &mut visited)
            .then_some(path)
    }

    fn dfs(&self, node: Xid, start: Xid, path: &mut Vec<Xid>, visited: &mut HashSet<Xid>) -> bool {
        for next in self.blockers(node) {
            if next == start {
                return true;
            }
            if visited.insert(next) {
                path.push(next);
                if self.dfs(next, start, path, visited) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }

    fn describe_wait(&self, xid: Xid, blocked_by: Xid) -> String {
        let mode = self
            .waiting
            .get(&xid)
            .and_then(|t| self.entries.get(t))
            .and_then(|e| e.queue.iter().find(|w| w.xid == xid))
            .map_or("a lock", |w| w.mode.sql_name());
        match self.waiting.get(&xid).and_then(LockTarget::as_transaction) {
            Some(of) => format!(
                "Transaction {xid} waits for ShareLock on transaction {of}; blocked by transaction {blocked_by}."
            ),
            None => format!(
                "Transaction {xid} waits for {mode} lock on a row; blocked by transaction {blocked_by}."
            ),
        }
    }
}

/// The row lock manager. Shared by all sessions of a database.
pub struct LockManager {
    table: Mutex<Table>,
    config: LockConfig,
}

impl LockManager {
    pub fn new(config: LockConfig) -> LockManager {
        LockManager {
            table: Mutex::new(Table::default()),
            config,
        }
    }

    pub fn config(&self) -> LockConfig {
        self.config
    }

    /// Locks `target` in `mode` for `xid`, waiting as `wait` allows.
    pub fn lock(
        &self,
        xid: Xid,
        target: &LockTarget,
        mode: RowLockMode,
        wait: LockWait<'_>,
    ) -> Result<LockOutcome, TxnError> {
        self.lock_added(xid, target, mode, wait).map(|(o, _)| o)
    }

    /// As [`LockManager::lock`], also saying whether this call added a hold
    /// (false when `xid` already held a covering mode, or was woken without
    /// a grant): then [`LockManager::release_last`] gives it back.
    pub fn lock_added(
        &self,
        xid: Xid,
        target: &LockTarget,
        mode: RowLockMode,
        wait: LockWait<'_>,
    ) -> Result<(LockOutcome, bool), TxnError> {
        assert!(xid.is_normal(), "lock by non-transaction {xid}");
        let waiter = {
            let mut t = self.table.lock();
            assert!(
                !t.waiting.contains_key(&xid),
                "transaction {xid} requests a lock while waiting for another"
            );
            let entry = t.entries.entry(target.clone()).or_default();
            let held = entry.holds(xid);
            if strongest(held).is_some_and(|s| s.covers(mode)) {
                return Ok((LockOutcome::Acquired { waited: false }, false));
            }
            let queue_conflict = held == 0
                && entry
                    .queue
                    .iter()
                    .any(|w| w.xid != xid && w.mode.conflicts_with(mode));
            if !entry.conflicts_with_holders(xid, mode) && !queue_conflict {
                if t.held_entries >= self.config.row_locks_max {
                    Self::drop_if_unused(&mut t, target);
                    return Err(self.out_of_memory());
                }
                t.add_hold(xid, target, mode);
                return Ok((LockOutcome::Acquired { waited: false }, true));
            }
            match wait.policy {
                WaitPolicy::NoWait => {
                    return Err(TxnError::LockNotAvailable {
                        relation: wait.relation.to_string(),
                    });
                }
                WaitPolicy::SkipLocked => return Ok((LockOutcome::Skipped, false)),
                WaitPolicy::Block => {}
            }
            if t.held_entries >= self.config.row_locks_max {
                Self::drop_if_unused(&mut t, target);
                return Err(self.out_of_memory());
            }
            let w = Arc::new(Waiter {
                xid,
                mode,
                state: Mutex::new(WaitState::Waiting),
                cv: Condvar::new(),
            });
            t.entries
                .entry(target.clone())
                .or_default()
                .queue
                .push_back(w.clone());
            t.waiting.insert(xid, target.clone());
            w
        };
        if let Some(c) = wait.cancel {
            c.set_waker(waiter.clone(), ("Lock", "transactionid"));
        }
        let result = self.wait_for_grant(&waiter, target, wait);
        if let Some(c) = wait.cancel {
            c.clear_waker();
        }
        result
    }

    fn drop_if_unused(t: &mut Table, target: &LockTarget) {
        if t.entries
            .get(target)
            .is_some_and(|e| e.holders.is_empty() && e.queue.is_empty())
        {
            t.entries.remove(target);
        }
    }

    fn out_of_memory(&self) -> TxnError {
        TxnError::OutOfLockMemory {
            limit_name: "row_locks_max",
            limit: self.config.row_locks_max,
        }
    }

    fn wait_for_grant(
        &self,
        w: &Arc<Waiter>,
        target: &LockTarget,
        wait: LockWait<'_>,
    ) -> Result<(LockOutcome, bool), TxnError> {
        let start = Instant::now();
        let deadlock_at = start + Duration::from_millis(self.config.deadlock_timeout_ms);
        let timeout_at = wait.lock_timeout.map(|d| start + d);
        let mut deadlock_checked = false;
        let failure = loop {
            let mut st = w.state.lock();
            match *st {
                WaitState::Granted => return Ok((LockOutcome::Acquired { waited: true }, true)),
                WaitState::Woken => return Ok((LockOutcome::Acquired { waited: true }, false)),
                WaitState::Waiting => {}
            }
            if wait.cancel.is_some_and(|c| c.is_canceled()) {
                break TxnError::Canceled;
            }
            let now = Instant::now();
            if wait.deadline.is_some_and(|d| now >= d) {
                break TxnError::StatementTimeout;
            }
            if timeout_at.is_some_and(|d| now >= d) {
                break TxnError::LockTimeout;
            }
            if !deadlock_checked && now >= deadlock_at {
                drop(st);
                deadlock_checked = true;
                let t = self.table.lock();
                match *w.state.lock() {
                    WaitState::Granted => {
                        return Ok((LockOutcome::Acquired { waited: true }, true));
                    }
                    WaitState::Woken => {
                        return Ok((LockOutcome::Acquired { waited: true }, false));
                    }
                    WaitState::Waiting => {}
                }
                if let Some(cycle) = t.find_cycle(w.xid) {
                    let detail = cycle
                        .iter()
                        .enumerate()
                        .map(|(i, x)| t.describe_wait(*x, cycle[(i + 1) % cycle.len()]))
                        .collect::<Vec<_>>()
                        .join("\n");
                    drop(t);
                    break TxnError::Deadlock { detail };
                }
                continue;
            }
            let mut wake_at: Option<Instant> = None;
            for d in [
                (!deadlock_checked).then_some(deadlock_at),
                timeout_at,
                wait.deadline,
            ]
            .into_iter()
            .flatten()
            {
                wake_at = Some(wake_at.map_or(d, |w: Instant| w.min(d)));
            }
            match wake_at {
                Some(at) => {
                    let _ = w.cv.wait_until(&mut st, at);
                }
                None => w.cv.wait(&mut st),
            }
        };
        // Leave the queue, unless the grant raced with the failure.
        let mut t = self.table.lock();
        match *w.state.lock() {
            WaitState::Granted => return Ok((LockOutcome::Acquired { waited: true }, true)),
            WaitState::Woken => return Ok((LockOutcome::Acquired { waited: true }, false)),
            WaitState::Waiting => {}
        }
        if let Some(entry) = t.entries.get_mut(target) {
            entry.queue.retain(|q| !Arc::ptr_eq(q, w));
        }
        let was = t.waiting.remove(&w.xid);
        assert!(was.is_some(), "failed waiter not in waiting map");
        // Those behind us may be grantable now.
        t.grant_waiters(target);
        Err(failure)
    }

    /// Whether every holder of `target` whose lock conflicts with `mode` is
    /// waiting for `xid` itself ([`LockTarget::transaction`]): a writer
    /// whose own version is the newest then needs no hold to write again.
    pub fn held_only_by_waiters_for(
        &self,
        xid: Xid,
        target: &LockTarget,
        mode: RowLockMode,
    ) -> bool {
        let t = self.table.lock();
        let Some(entry) = t.entries.get(target) else {
            return false;
        };
        let mine = LockTarget::transaction(xid);
        let bits = mode.conflict_bits();
        let mut conflicting = entry
            .holders
            .iter()
            .filter(|(h, held)| *h != xid && held & bits != 0)
            .peekable();
        conflicting.peek().is_some() && conflicting.all(|(h, _)| t.waiting.get(h) == Some(&mine))
    }

    /// Gives back the hold the last [`LockManager::lock_added`] of `xid`
    /// added on `target` (its newest acquisition), waking whom it admits.
    pub fn release_last(&self, xid: Xid, target: &LockTarget) {
        let mut t = self.table.lock();
        let Some(list) = t.held.get_mut(&xid) else {
            debug_assert!(false, "release_last without a hold");
            return;
        };
        if list.last().is_none_or(|(held, _)| held != target) {
            debug_assert!(false, "release_last of a hold that is not the newest");
            return;
        }
        let released: Vec<(LockTarget, u8)> = list.pop().into_iter().collect();
        Self::release_entries(&mut t, xid, released);
    }

    /// Gives back `xid`'s newest acquisition when it is on `target` and
    /// `xid` holds nothing on `target` stronger than `strength`: a written
    /// version that strong takes the lock's place. Anything else (an older
    /// acquisition, whose removal would shift savepoint marks, or a
    /// stronger lock, as `FOR UPDATE` before a NO KEY UPDATE) is kept.
    pub fn release_newest_within(&self, xid: Xid, target: &LockTarget, strength: RowLockMode) {
        let mut t = self.table.lock();
        let held = t.entries.get(target).map_or(0, |e| e.holds(xid));
        if strongest(held).is_none_or(|m| m > strength) {
            return;
        }
        let Some(list) = t.held.get_mut(&xid) else {
            return;
        };
        if list.last().is_none_or(|(newest, _)| newest != target) {
            return;
        }
        let released: Vec<(LockTarget, u8)> = list.pop().into_iter().collect();
        Self::release_entries(&mut t, xid, released);
    }

    /// Wakes everyone queued on `target` without granting it: each returns
    /// holding nothing, to look again at what it waited for (a transaction
    /// whose savepoint rollback removed versions others wait behind).
    pub fn wake_waiters(&self, target: &LockTarget) {
        let mut t = self.table.lock();
        let Some(entry) = t.entries.get_mut(target) else {
            return;
        };
        let woken: Vec<Arc<Waiter>> = entry.queue.drain(..).collect();
        for w in woken {
            t.waiting.remove(&w.xid);
            let mut st = w.state.lock();
            *st = WaitState::Woken;
            w.cv.notify_all();
        }
        Self::drop_if_unused(&mut t, target);
    }

    /// A savepoint mark: the number of lock acquisitions `xid` has made.
    pub fn mark(&self, xid: Xid) -> usize {
        self.table.lock().held.get(&xid).map_or(0, Vec::len)
    }

    /// Releases the locks `xid` acquired after `mark` (rollback to savepoint).
    pub fn release_since(&self, xid: Xid, mark: usize) {
        let mut t = self.table.lock();
        let Some(list) = t.held.get_mut(&xid) else {
            return;
        };
        if list.len() <= mark {
            return;
        }
        let released: Vec<(LockTarget, u8)> = list.drain(mark..).collect();
        Self::release_entries(&mut t, xid, released);
    }

    /// Releases every lock of `xid` (transaction end) and wakes waiters.
    pub fn release_all(&self, xid: Xid) {
        let mut t = self.table.lock();
        let released = t.held.remove(&xid).unwrap_or_default();
        Self::release_entries(&mut t, xid, released);
    }

    fn release_entries(t: &mut Table, xid: Xid, released: Vec<(LockTarget, u8)>) {
        assert!(t.held_entries >= released.len());
        t.held_entries -= released.len();
        // Targets with waiters, in release order, each once: a set beside
        // the list, as a bulk load's commit releases 10^5 row locks (a
        // linear `contains` made that quadratic). A target nobody waits for
        // is settled at once: its entry goes when its last holder does, as
        // `grant_waiters` would do (no set insert, clone or second lookup
        // for the common case).
        let mut touched: Vec<LockTarget> = Vec::new();
        let mut seen: std::collections::HashSet<LockTarget> = std::collections::HashSet::new();
        for (target, bits) in released {
            // `released` is built from this xid's holds, which are added and
            // removed with their table entries and holder lists under this
            // same mutex: both lookups succeed unless the lock table has a
            // bug, and then there is nothing of this hold left to release.
            let Some(entry) = t.entries.get_mut(&target) else {
                debug_assert!(false, "held lock has no table entry");
                continue;
            };
            let Some(pos) = entry.holders.iter().position(|(h, _)| *h == xid) else {
                debug_assert!(false, "held lock does not list its holder");
                continue;
            };
            assert!(
                entry.holders[pos].1 & bits == bits,
                "released bits not held"
            );
            entry.holders[pos].1 &= !bits;
            if entry.holders[pos].1 == 0 {
                entry.holders.swap_remove(pos);
            }
            if entry.queue.is_empty() {
                if entry.holders.is_empty() {
                    t.entries.remove(&target);
                }
            } else if seen.insert(target.clone()) {
                touched.push(target);
            }
        }
        for target in touched {
            t.grant_waiters(&target);
        }
        if t.held.get(&xid).is_some_and(Vec::is_empty) {
            t.held.remove(&xid);
        }
    }

    /// The holders of `target` and their strongest modes (diagnostics, tests).
    pub fn holders(&self, target: &LockTarget) -> Vec<(Xid, RowLockMode)> {
        let t = self.table.lock();
        let mut out: Vec<(Xid, RowLockMode)> = t
            .entries
            .get(target)
            .map(|e| {
                e.holders
                    .iter()
                    .filter_map(|(x, b)| strongest(*b).map(|m| (*x, m)))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Whether `xid` is waiting for a lock.
    pub fn is_waiting(&self, xid: Xid) -> bool {
        self.table.lock().waiting.contains_key(&xid)
    }

    /// The number of (target, transaction) lock acquisitions held.
    pub fn held_entries(&self) -> usize {
        self.table.lock().held_entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RowLockMode::*;

    #[test]
    fn conflict_table_matches_postgres() {
        // Rows: held; columns: requested (KeyShare, Share, NoKeyUpdate, Update).
        let want = [
            [false, false, false, true],
            [false, false, true, true],
            [false, true, true, true],
            [true, true, true, true],
        ];
        for (i, held) in RowLockMode::ALL.iter().enumerate() {
            for (j, req) in RowLockMode::ALL.iter().enumerate() {
                assert_eq!(req.conflicts_with(*held), want[i][j], "{held:?} vs {req:?}");
            }
        }
    }

    #[test]
    fn stronger_mode_covers_weaker_conflict_sets() {
        for a in RowLockMode::ALL {
            for b in RowLockMode::ALL {
                if a.covers(b) {
                    assert_eq!(a.conflict_bits() & b.conflict_bits(), b.conflict_bits());
                }
            }
        }
    }

    fn target(k: &str) -> LockTarget {
        LockTarget {
            tree: TreeId(1),
            key: k.as_bytes().to_vec(),
        }
    }

    #[test]
    fn compatible_modes_share_and_nowait_reports_55p03() {
        let m = LockManager::new(LockConfig::default());
        let t = target("a");
        let w = LockWait::block("t");
        assert_eq!(
            m.lock(Xid(2), &t, KeyShare, w).unwrap(),
            LockOutcome::Acquired { waited: false }
        );
        assert!(m.lock(Xid(3), &t, NoKeyUpdate, w).is_ok());
        assert!(
            m.lock(Xid(4), &t, Share, w.with_policy(WaitPolicy::NoWait))
                .is_err()
        );
        let e = m
            .lock(Xid(4), &t, Update, w.with_policy(WaitPolicy::NoWait))
            .unwrap_err();
        assert_eq!(e.sqlstate().code(), "55P03");
        assert_eq!(
            m.lock(Xid(4), &t, Update, w.with_policy(WaitPolicy::SkipLocked))
                .unwrap(),
            LockOutcome::Skipped
        );
        assert_eq!(
            m.holders(&t),
            vec![(Xid(2), KeyShare), (Xid(3), NoKeyUpdate)]
        );
        m.release_all(Xid(2));
        m.release_all(Xid(3));
        assert!(m.holders(&t).is_empty());
        assert_eq!(m.held_entries(), 0);
    }

    #[test]
    fn savepoint_release_drops_only_later_locks() {
        let m = LockManager::new(LockConfig::default());
        let w = LockWait::block("t");
        m.lock(Xid(2), &target("a"), Share, w).unwrap();
        let mark = m.mark(Xid(2));
        m.lock(Xid(2), &target("a"), Update, w).unwrap();
        m.lock(Xid(2), &target("b"), Update, w).unwrap();
        m.release_since(Xid(2), mark);
        assert_eq!(m.holders(&target("a")), vec![(Xid(2), Share)]);
        assert!(m.holders(&target("b")).is_empty());
        assert_eq!(m.held_entries(), 1);
    }

    #[test]
    fn releasing_leaves_no_entry_behind_and_wakes_the_waiter() {
        let m = std::sync::Arc::new(LockManager::new(LockConfig::default()));
        let w = LockWait::block("t");
        // Two acquisitions of one target (Share, then Update) and many others.
        m.lock(Xid(2), &target("k5"), Share, w).unwrap();
        for i in 0..100 {
            m.lock(Xid(2), &target(&format!("k{i}")), Update, w)
                .unwrap();
        }
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || m.lock(Xid(3), &target("k7"), Share, LockWait::block("t")))
        };
        while !m.is_waiting(Xid(3)) {
            std::thread::yield_now();
        }
        m.release_all(Xid(2));
        assert_eq!(
            waiter.join().unwrap().unwrap(),
            LockOutcome::Acquired { waited: true }
        );
        assert_eq!(m.holders(&target("k7")), vec![(Xid(3), Share)]);
        assert_eq!(m.table.lock().entries.len(), 1, "only k7's entry is left");
        m.release_all(Xid(3));
        assert!(m.table.lock().entries.is_empty());
        assert_eq!(m.held_entries(), 0);
    }

    #[test]
    fn row_locks_max_is_enforced_with_53200() {
        let m = LockManager::new(LockConfig {
            deadlock_timeout_ms: 1000,
            row_locks_max: 2,
        });
        let w = LockWait::block("t");
        m.lock(Xid(2), &target("a"), Update, w).unwrap();
        m.lock(Xid(2), &target("b"), Update, w).unwrap();
        let e = m.lock(Xid(2), &target("c"), Update, w).unwrap_err();
        assert_eq!(e.sqlstate().code(), "53200");
        m.release_all(Xid(2));
        assert!(m.lock(Xid(2), &target("c"), Update, w).is_ok());
    }
}
