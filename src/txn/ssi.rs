//! Serializable snapshot isolation: SIREAD locks, rw-antidependencies and
//! the dangerous-structure check, after Cahill, Röhm & Fekete (SIGMOD 2008)
//! and Ports & Grittner, "Serializable Snapshot Isolation in PostgreSQL"
//! (VLDB 2012), whose PostgreSQL implementation (`predicate.c`,
//! `README-SSI`) this follows check for check.
//!
//! ```text
//!   T1 ──rw──> T2 ──rw──> T3        T1 read a version T2 overwrote (T1 did
//!     (in)   pivot   (out)          not see it); T2 read one T3 overwrote.
//!
//!   Dangerous structure: a pivot T2 with an rw edge in and an rw edge out,
//!   where T3 commits first (and, if T1 is READ ONLY, T3 committed before
//!   T1's snapshot). One of them is aborted with 40001; never a committed one.
//! ```
//!
//! Edges are found two ways, as in PostgreSQL:
//! - *conflict in*: a writer of key k finds SIREAD locks on k (a key lock, a
//!   range lock containing k, or a whole-tree lock) held by a concurrent
//!   serializable reader R: edge R -> writer. Key locks on absent keys and
//!   range locks cover inserts, so phantoms are covered.
//! - *conflict out*: a reader skips a version of k written by a concurrent
//!   writer W (one its snapshot does not see): edge reader -> W.
//!
//! Differences from PostgreSQL: the lock targets are user keys, key ranges and
//! whole trees (PostgreSQL: tuples, pages, relations), so promotion goes from
//! keys and ranges straight to the tree. There is no two-phase commit, so
//! "prepared" means "passed the pre-commit check". Old committed transactions
//! are not summarized into an SLRU: they are kept (with their locks) until no
//! overlapping transaction remains, and `serializable_xacts_max` bounds how
//! many may exist (53200 beyond it).
//!
//! Invariants:
//! - Only serializable transactions appear here; others neither take SIREAD
//!   locks nor check for conflicts (as in PostgreSQL).
//! - A committed transaction is never chosen as a victim; a prepared one only
//!   when the caller is that transaction.
//! - A committed transaction and its SIREAD locks stay until every active
//!   serializable transaction's snapshot saw it commit.
//! - Fine (key and range) locks never exceed `siread_locks_max`, and one
//!   transaction holds at most `siread_locks_per_tree_max` in one tree before
//!   they are promoted to a whole-tree lock.
//! - A READ ONLY transaction found safe (no concurrent read-write transaction
//!   can make it part of an anomaly) drops its locks and edges and is no
//!   longer tracked; a DEFERRABLE one waits for such a safe snapshot.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::lock::{CancelToken, Wake};
use super::snapshot::{Snapshot, Xid};
use super::{TreeId, TxnError};

/// Limits of the SSI bookkeeping.
#[derive(Debug, Clone, Copy)]
pub struct SsiConfig {
    /// Most key and range SIREAD locks held at once, all transactions together.
    pub siread_locks_max: usize,
    /// Most key and range locks one transaction holds in one tree before they
    /// are promoted to a lock on the whole tree.
    pub siread_locks_per_tree_max: usize,
    /// Most serializable transactions tracked (running and retained).
    pub serializable_xacts_max: usize,
}

impl Default for SsiConfig {
    fn default() -> SsiConfig {
        SsiConfig {
            siread_locks_max: 64 * 1024,
            siread_locks_per_tree_max: 512,
            serializable_xacts_max: 16 * 1024,
        }
    }
}

/// A range of user keys read by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Bound<Vec<u8>>,
    pub end: Bound<Vec<u8>>,
}

impl KeyRange {
    pub fn new(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> KeyRange {
        KeyRange { start, end }
    }

    pub fn all() -> KeyRange {
        KeyRange::new(Bound::Unbounded, Bound::Unbounded)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        };
        let below = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        };
        above && below
    }
}

#[derive(Default)]
struct HeldLocks {
    keys: HashSet<Vec<u8>>,
    ranges: Vec<KeyRange>,
    whole: bool,
}

impl HeldLocks {
    fn fine_count(&self) -> usize {
        self.keys.len() + self.ranges.len()
    }
}

#[derive(Default)]
struct TreeLocks {
    keys: HashMap<Vec<u8>, Vec<Xid>>,
    ranges: HashMap<Xid, Vec<KeyRange>>,
    whole: HashSet<Xid>,
}

struct Sxact {
    snapshot: Snapshot,
    /// The SSI commit sequence number when the snapshot was taken.
    last_commit_before_snapshot: u64,
    /// Declared READ ONLY, or (after commit) wrote nothing.
    read_only: bool,
    declared_read_only: bool,
    did_write: bool,
    doomed: bool,
    prepare_seq: Option<u64>,
    commit_seq: Option<u64>,
    /// The earliest prepare_seq among committed transactions this one had an
    /// rw edge out to when it committed (PostgreSQL's CONFLICT_OUT flag).
    earliest_out_conflict_commit: Option<u64>,
    /// Readers R with R -rw-> self.
    in_conflicts: HashSet<Xid>,
    /// Writers W with self -rw-> W.
    out_conflicts: HashSet<Xid>,
    /// READ ONLY only: concurrent read-write transactions that may still make
    /// this snapshot unsafe.
    unsafe_candidates: HashSet<Xid>,
    /// Read-write only: READ ONLY transactions listing self as a candidate.
    watching_ro: HashSet<Xid>,
    ro_safe: bool,
    ro_unsafe: bool,
    locks: HashMap<TreeId, HeldLocks>,
}

impl Sxact {
    fn committed(&self) -> bool {
        self.commit_seq.is_some()
    }
    fn prepared(&self) -> bool {
        self.prepare_seq.is_some()
    }
}

#[derive(Default)]
struct SsiState {
    sxacts: HashMap<Xid, Sxact>,
    trees: HashMap<TreeId, TreeLocks>,
    last_commit_seq: u64,
    fine_locks: usize,
}

struct SsiShared {
    state: Mutex<SsiState>,
    /// DEFERRABLE transactions wait here for their snapshot to be judged.
    judged: Condvar,
    config: SsiConfig,
}

impl Wake for SsiShared {
    fn wake(&self) {
        let _g = self.state.lock();
        self.judged.notify_all();
    }
}

fn failure(reason: impl Into<String>) -> TxnError {
    TxnError::SerializationFailure {
        detail: format!("Reason code: {}", reason.into()),
    }
}

/// A serializable transaction the bookkeeping should hold is gone: a bug in
/// this module, reported as XX000 rather than taking the process down.
fn missing_sxact(xid: Xid) -> TxnError {
    TxnError::Lower(crate::error::Error::internal(format!(
        "serializable transaction {xid} is missing from the SSI table"
    )))
}

/// The SSI bookkeeping of a database.
pub struct SsiManager {
    shared: Arc<SsiShared>,
}

impl SsiManager {
    pub fn new(config: SsiConfig) -> SsiManager {
        SsiManager {
            shared: Arc::new(SsiShared {
                state: Mutex::new(SsiState::default()),
                judged: Condvar::new(),
                config,
            }),
        }
    }

    pub fn config(&self) -> SsiConfig {
        self.shared.config
    }

    /// Registers serializable transaction `xid` and returns its snapshot,
    /// taken by `take_snapshot` while the SSI state is locked (so the set of
    /// concurrent transactions SSI records matches the snapshot).
    ///
    /// A `read_only` and `deferrable` transaction waits until its snapshot is
    /// known safe, retaking it as often as it turns out unsafe (Ports &
    /// Grittner, section 4.3); `cancel` and the statement `deadline`
    /// interrupt that wait with 57014.
    pub fn register(
        &self,
        xid: Xid,
        read_only: bool,
        deferrable: bool,
        cancel: Option<&CancelToken>,
        deadline: Option<Instant>,
        mut take_snapshot: impl FnMut() -> Result<Snapshot, TxnError>,
    ) -> Result<Snapshot, TxnError> {
        let mut st = self.shared.state.lock();
        assert!(
            !st.sxacts.contains_key(&xid),
            "sxact {xid} registered twice"
        );
        loop {
            if st.sxacts.len() >= self.shared.config.serializable_xacts_max {
                Self::clear_old(&mut st);
                if st.sxacts.len() >= self.shared.config.serializable_xacts_max {
                    return Err(TxnError::OutOfLockMemory {
                        limit_name: "serializable_xacts_max",
                        limit: self.shared.config.serializable_xacts_max,
                    });
                }
            }
            let snapshot = take_snapshot()?;
            assert_eq!(snapshot.owner, xid);
            let mut unsafe_candidates = HashSet::new();
            if read_only {
                for (other, sx) in &st.sxacts {
                    if !sx.committed() && !sx.doomed && !sx.declared_read_only {
                        unsafe_candidates.insert(*other);
                    }
                }
            }
            let ro_safe = read_only && unsafe_candidates.is_empty();
            for other in &unsafe_candidates {
                // collected from `st.sxacts` above, under the same lock
                if let Some(sx) = st.sxacts.get_mut(other) {
                    sx.watching_ro.insert(xid);
                }
            }
            let lcbs = st.last_commit_seq;
            st.sxacts.insert(
                xid,
                Sxact {
                    snapshot: snapshot.clone(),
                    last_commit_before_snapshot: lcbs,
                    read_only,
                    declared_read_only: read_only,
                    did_write: false,
                    doomed: false,
                    prepare_seq: None,
                    commit_seq: None,
                    earliest_out_conflict_commit: None,
                    in_conflicts: HashSet::new(),
                    out_conflicts: HashSet::new(),
                    unsafe_candidates,
                    watching_ro: HashSet::new(),
                    ro_safe,
                    ro_unsafe: false,
                    locks: HashMap::new(),
                },
            );
            if !(read_only && deferrable) || ro_safe {
                return Ok(snapshot);
            }
            if let Some(c) = cancel {
                c.set_waker(self.shared.clone(), ("IPC", "SafeSnapshot"));
            }
            let verdict = loop {
                let Some(sx) = st.sxacts.get(&xid) else {
                    break Err(missing_sxact(xid));
                };
                if sx.ro_safe {
                    break Ok(true);
                }
                if sx.ro_unsafe {
                    break Ok(false);
                }
                if cancel.is_some_and(|c| c.is_canceled()) {
                    break Err(TxnError::Canceled);
                }
                match deadline {
                    Some(d) if Instant::now() >= d => break Err(TxnError::StatementTimeout),
                    Some(d) => {
                        let _ = self.shared.judged.wait_until(&mut st, d);
                    }
                    None => self.shared.judged.wait(&mut st),
                }
            };
            if let Some(c) = cancel {
                c.clear_waker();
            }
            match verdict {
                Ok(true) => return Ok(snapshot),
                Ok(false) => Self::remove_sxact(&mut st, xid),
                Err(e) => {
                    Self::remove_sxact(&mut st, xid);
                    Self::clear_old(&mut st);
                    return Err(e);
                }
            }
        }
    }

    /// Whether reads of `xid` must take SIREAD locks and check for conflicts
    /// out (false for non-serializable and for safe read-only transactions).
    pub fn is_tracking(&self, xid: Xid) -> bool {
        self.shared
            .state
            .lock()
            .sxacts
            .get(&xid)
            .is_some_and(|s| !s.ro_safe && !s.committed())
    }

    /// `xid` read `key` in `tree` (found or not: an absent key's lock covers
    /// its later insertion).
    pub fn read_key(&self, xid: Xid, tree: TreeId, key: &[u8]) {
        let mut st = self.shared.state.lock();
        self.add_lock(&mut st, xid, tree, Fine::Key(key));
    }

    /// `xid` scanned `range` of `tree` (every key in it, present or not).
    pub fn read_range(&self, xid: Xid, tree: TreeId, range: KeyRange) {
        let mut st = self.shared.state.lock();
        // A point range (`WHERE pk = $1` scans [k, k]) is a key lock: found
        // by hash on a write, where ranges are checked one by one.
        if let (Bound::Included(s), Bound::Included(e)) = (&range.start, &range.end)
            && s == e
        {
            self.add_lock(&mut st, xid, tree, Fine::Key(s));
            return;
        }
        self.add_lock(&mut st, xid, tree, Fine::Range(range));
    }

    /// `xid` read all of `tree`.
    pub fn read_tree(&self, xid: Xid, tree: TreeId) {
        let mut st = self.shared.state.lock();
        if Self::trackable(&st, xid) {
            Self::promote(&mut st, xid, tree);
        }
    }

    fn trackable(st: &SsiState, xid: Xid) -> bool {
        st.sxacts
            .get(&xid)
            .is_some_and(|s| !s.ro_safe && !s.committed())
    }

    fn add_lock(&self, st: &mut SsiState, xid: Xid, tree: TreeId, lock: Fine<'_>) {
        if !Self::trackable(st, xid) {
            return;
        }
        let config = self.shared.config;
        let Some(sx) = st.sxacts.get_mut(&xid) else {
            return; // unreachable: `trackable` just found it under this lock
        };
        let held = sx.locks.entry(tree).or_default();
        if held.whole {
            return;
        }
        let covered = match &lock {
            Fine::Key(k) => held.keys.contains(*k) || held.ranges.iter().any(|r| r.contains(k)),
            Fine::Range(r) => held.ranges.contains(r),
        };
        if covered {
            return;
        }
        if held.fine_count() + 1 > config.siread_locks_per_tree_max
            || st.fine_locks + 1 > config.siread_locks_max
        {
            Self::promote(st, xid, tree);
            return;
        }
        let tl = st.trees.entry(tree).or_default();
        match lock {
            Fine::Key(k) => {
                held.keys.insert(k.to_vec());
                tl.keys.entry(k.to_vec()).or_default().push(xid);
            }
            Fine::Range(r) => {
                held.ranges.push(r.clone());
                tl.ranges.entry(xid).or_default().push(r);
            }
        }
        st.fine_locks += 1;
        assert!(st.fine_locks <= config.siread_locks_max);
    }

    /// Replaces `xid`'s fine locks in `tree` with one whole-tree lock.
    fn promote(st: &mut SsiState, xid: Xid, tree: TreeId) {
        let Some(sx) = st.sxacts.get_mut(&xid) else {
            return; // only called from `add_lock`, which holds `xid`'s entry
        };
        let held = sx.locks.entry(tree).or_default();
        if held.whole {
            return;
        }
        let keys = std::mem::take(&mut held.keys);
        let ranges = std::mem::take(&mut held.ranges);
        held.whole = true;
        let released = keys.len() + ranges.len();
        let tl = st.trees.entry(tree).or_default();
        for k in keys {
            Self::unlist_key(tl, &k, xid);
        }
        tl.ranges.remove(&xid);
        tl.whole.insert(xid);
        assert!(st.fine_locks >= released);
        st.fine_locks -= released;
    }

    fn unlist_key(tl: &mut TreeLocks, key: &[u8], xid: Xid) {
        if let Some(v) = tl.keys.get_mut(key) {
            v.retain(|x| *x != xid);
            if v.is_empty() {
                tl.keys.remove(key);
            }
        }
    }

    fn release_locks(st: &mut SsiState, xid: Xid) {
        let Some(sx) = st.sxacts.get_mut(&xid) else {
            return;
        };
        let locks = std::mem::take(&mut sx.locks);
        for (tree, held) in locks {
            let released = held.fine_count();
            if let Some(tl) = st.trees.get_mut(&tree) {
                for k in &held.keys {
                    Self::unlist_key(tl, k, xid);
                }
                tl.ranges.remove(&xid);
                tl.whole.remove(&xid);
                if tl.keys.is_empty() && tl.ranges.is_empty() && tl.whole.is_empty() {
                    st.trees.remove(&tree);
                }
            }
            assert!(st.fine_locks >= released);
            st.fine_locks -= released;
        }
    }

    /// Reader `reader` skipped a version written by `writer` that its
    /// snapshot does not see (PostgreSQL's CheckForSerializableConflictOut).
    pub fn conflict_out(&self, reader: Xid, writer: Xid) -> Result<(), TxnError> {
        let mut st = self.shared.state.lock();
        let Some(r) = st.sxacts.get(&reader) else {
            return Ok(());
        };
        if r.ro_safe {
            return Ok(());
        }
        if r.doomed {
            return Err(failure(
                "Canceled on identification as a pivot, during conflict out checking.",
            ));
        }
        if writer == reader {
            return Ok(());
        }
        let Some(w) = st.sxacts.get(&writer) else {
            return Ok(()); // not serializable, or long gone (not concurrent)
        };
        if w.doomed {
            return Ok(());
        }
        // A read-only reader appears to run before a committed writer unless
        // the writer has a conflict out to something committed before the
        // reader's snapshot.
        if r.read_only
            && w.committed()
            && w.earliest_out_conflict_commit
                .is_none_or(|e| r.last_commit_before_snapshot < e)
        {
            return Ok(());
        }
        if !r.snapshot.is_concurrent(writer) || r.out_conflicts.contains(&writer) {
            return Ok(());
        }
        Self::flag_rw_conflict(&mut st, reader, writer, reader)
    }

    /// Writer `writer` is about to write `key` in `tree` (insert, update or
    /// delete): finds concurrent SIREAD holders (CheckForSerializableConflictIn).
    pub fn conflict_in(&self, writer: Xid, tree: TreeId, key: &[u8]) -> Result<(), TxnError> {
        let mut st = self.shared.state.lock();
        let Some(w) = st.sxacts.get_mut(&writer) else {
            return Ok(());
        };
        if w.doomed {
            return Err(failure(
                "Canceled on identification as a pivot, during conflict in checking.",
            ));
        }
        w.did_write = true;
        let Some(tl) = st.trees.get(&tree) else {
            return Ok(());
        };
        let mut holders: Vec<Xid> = tl.whole.iter().copied().collect();
        if let Some(v) = tl.keys.get(key) {
            holders.extend(v.iter().copied());
        }
        for (x, ranges) in &tl.ranges {
            if ranges.iter().any(|r| r.contains(key)) {
                holders.push(*x);
            }
        }
        holders.sort();
        holders.dedup();
        for reader in holders {
            if reader == writer {
                continue;
            }
            let w = &st.sxacts[&writer];
            let r = &st.sxacts[&reader];
            if r.doomed || r.out_conflicts.contains(&writer) {
                continue;
            }
            if r.committed() && !w.snapshot.is_concurrent(reader) {
                continue;
            }
            Self::flag_rw_conflict(&mut st, reader, writer, writer)?;
        }
        Ok(())
    }

    /// Records reader -rw-> writer and checks for a dangerous structure
    /// around it (OnConflict_CheckForSerializationFailure). `me` is the
    /// calling transaction, the only one that can be failed right away.
    fn flag_rw_conflict(
        st: &mut SsiState,
        reader: Xid,
        writer: Xid,
        me: Xid,
    ) -> Result<(), TxnError> {
        assert!(reader != writer);
        st.sxacts
            .get_mut(&reader)
            .ok_or_else(|| missing_sxact(reader))?
            .out_conflicts
            .insert(writer);
        st.sxacts
            .get_mut(&writer)
            .ok_or_else(|| missing_sxact(writer))?
            .in_conflicts
            .insert(reader);
        let r = &st.sxacts[&reader];
        let w = &st.sxacts[&writer];

        // R -> W -> T2 with W committed and T2 committed before W.
        let mut fail = w.committed() && w.earliest_out_conflict_commit.is_some();

        // W became a pivot with an out edge to a T2 that committed first.
        if !fail {
            fail = w
                .out_conflicts
                .iter()
                .filter_map(|t| st.sxacts.get(t))
                .any(|t2| {
                    t2.prepare_seq.is_some_and(|p| {
                        r.commit_seq.is_none_or(|c| p <= c)
                            && w.commit_seq.is_none_or(|c| p <= c)
                            && (!r.read_only || p <= r.last_commit_before_snapshot)
                    })
                });
        }

        // R became a pivot (T0 -> R -> W) with W prepared first.
        if !fail
            && !r.read_only
            && let Some(wp) = w.prepare_seq
        {
            fail = r
                .in_conflicts
                .iter()
                .filter_map(|t| st.sxacts.get(t))
                .any(|t0| {
                    !t0.doomed
                        && t0.commit_seq.is_none_or(|c| c >= wp)
                        && (!t0.read_only || t0.last_commit_before_snapshot >= wp)
                });
        }

        if !fail {
            return Ok(());
        }
        if me == writer {
            return Err(failure(
                "Canceled on identification as a pivot, during write.",
            ));
        }
        if w.prepared() {
            assert_eq!(me, reader);
            return Err(failure(format!(
                "Canceled on conflict out to pivot {writer}, during read."
            )));
        }
        if let Some(w) = st.sxacts.get_mut(&writer) {
            w.doomed = true; // present: found above under this lock
        }
        Ok(())
    }

    /// The pre-commit check (PreCommit_CheckForSerializationFailure): fails a
    /// doomed transaction, dooms pivots whose out edge leads here, and marks
    /// the transaction prepared.
    pub fn precommit(&self, xid: Xid) -> Result<(), TxnError> {
        let mut st = self.shared.state.lock();
        let Some(me) = st.sxacts.get(&xid) else {
            return Ok(());
        };
        if me.doomed {
            return Err(failure(
                "Canceled on identification as a pivot, during commit attempt.",
            ));
        }
        let mut to_doom = Vec::new();
        for near in &me.in_conflicts {
            let Some(n) = st.sxacts.get(near) else {
                continue;
            };
            if n.committed() || n.doomed {
                continue;
            }
            let dangerous = n.in_conflicts.iter().any(|far| {
                *far == xid
                    || st
                        .sxacts
                        .get(far)
                        .is_some_and(|f| !f.committed() && !f.read_only && !f.doomed)
            });
            if dangerous {
                if n.prepared() {
                    return Err(failure(
                        "Canceled on commit attempt with conflict in from prepared pivot.",
                    ));
                }
                to_doom.push(*near);
            }
        }
        for near in to_doom {
            if let Some(n) = st.sxacts.get_mut(&near) {
                n.doomed = true; // present: found above under this lock
            }
        }
        st.last_commit_seq += 1;
        let seq = st.last_commit_seq;
        if let Some(me) = st.sxacts.get_mut(&xid) {
            me.prepare_seq = Some(seq); // present: found at the top under this lock
        }
        Ok(())
    }

    /// `xid` committed (after [`SsiManager::precommit`] and the transaction
    /// manager's commit). Its locks stay while overlapping transactions run.
    pub fn commit(&self, xid: Xid) {
        let mut st = self.shared.state.lock();
        let Some(me) = st.sxacts.get(&xid) else {
            return;
        };
        assert!(me.prepared(), "sxact {xid} committed without precommit");
        let earliest = me
            .out_conflicts
            .iter()
            .filter_map(|w| st.sxacts.get(w))
            .filter(|w| w.committed())
            .filter_map(|w| w.prepare_seq)
            .min();
        let did_write = me.did_write;
        let watching: Vec<Xid> = me.watching_ro.iter().copied().collect();
        let candidates: Vec<Xid> = me.unsafe_candidates.iter().copied().collect();
        let ro_safe = me.ro_safe;
        st.last_commit_seq += 1;
        let seq = st.last_commit_seq;
        if let Some(me) = st.sxacts.get_mut(&xid) {
            // present: found at the top under this lock
            me.commit_seq = Some(seq);
            me.earliest_out_conflict_commit = earliest;
            if !me.did_write {
                me.read_only = true;
            }
            me.watching_ro.clear();
            me.unsafe_candidates.clear();
        }
        // Judge the read-only transactions that were waiting on us.
        for ro in watching {
            let Some(lcbs) = st.sxacts.get(&ro).map(|r| r.last_commit_before_snapshot) else {
                continue; // a watcher leaves every watching list before it goes
            };
            if did_write && earliest.is_some_and(|e| e <= lcbs) {
                Self::flag_unsafe(&mut st, ro);
            } else {
                let Some(r) = st.sxacts.get_mut(&ro) else {
                    continue; // a watcher leaves every watching list before it goes
                };
                r.unsafe_candidates.remove(&xid);
                if r.unsafe_candidates.is_empty() && !r.ro_unsafe {
                    Self::flag_safe(&mut st, ro);
                }
            }
        }
        for rw in candidates {
            if let Some(w) = st.sxacts.get_mut(&rw) {
                w.watching_ro.remove(&xid);
            }
        }
        if ro_safe {
            Self::remove_sxact(&mut st, xid);
        }
        self.shared.judged.notify_all();
        Self::clear_old(&mut st);
    }

    fn flag_unsafe(st: &mut SsiState, ro: Xid) {
        let Some(r) = st.sxacts.get_mut(&ro) else {
            return; // a watcher leaves every watching list before it goes
        };
        r.ro_unsafe = true;
        let cands: Vec<Xid> = r.unsafe_candidates.drain().collect();
        for c in cands {
            if let Some(w) = st.sxacts.get_mut(&c) {
                w.watching_ro.remove(&ro);
            }
        }
    }

    /// A safe read-only transaction: no anomaly can involve it, so it drops
    /// its locks and edges and is tracked no more.
    fn flag_safe(st: &mut SsiState, ro: Xid) {
        if let Some(r) = st.sxacts.get_mut(&ro) {
            r.ro_safe = true;
        }
        Self::release_locks(st, ro);
        Self::unlink_edges(st, ro);
    }

    fn unlink_edges(st: &mut SsiState, xid: Xid) {
        let Some(sx) = st.sxacts.get_mut(&xid) else {
            return;
        };
        let ins: Vec<Xid> = sx.in_conflicts.drain().collect();
        let outs: Vec<Xid> = sx.out_conflicts.drain().collect();
        for i in ins {
            if let Some(o) = st.sxacts.get_mut(&i) {
                o.out_conflicts.remove(&xid);
            }
        }
        for o in outs {
            if let Some(w) = st.sxacts.get_mut(&o) {
                w.in_conflicts.remove(&xid);
            }
        }
    }

    /// `xid` rolled back: it leaves no trace (its locks go at once).
    pub fn rollback(&self, xid: Xid) {
        let mut st = self.shared.state.lock();
        if !st.sxacts.contains_key(&xid) {
            return;
        }
        Self::remove_sxact(&mut st, xid);
        self.shared.judged.notify_all();
        Self::clear_old(&mut st);
    }

    fn remove_sxact(st: &mut SsiState, xid: Xid) {
        let Some(sx) = st.sxacts.get(&xid) else {
            return;
        };
        let watching: Vec<Xid> = sx.watching_ro.iter().copied().collect();
        let candidates: Vec<Xid> = sx.unsafe_candidates.iter().copied().collect();
        for ro in watching {
            if let Some(r) = st.sxacts.get_mut(&ro) {
                r.unsafe_candidates.remove(&xid);
                if r.unsafe_candidates.is_empty() && !r.ro_unsafe && !r.ro_safe {
                    Self::flag_safe(st, ro);
                }
            }
        }
        for rw in candidates {
            if let Some(w) = st.sxacts.get_mut(&rw) {
                w.watching_ro.remove(&xid);
            }
        }
        Self::release_locks(st, xid);
        Self::unlink_edges(st, xid);
        st.sxacts.remove(&xid);
    }

    /// Drops committed transactions no running serializable transaction
    /// overlaps: every running one's snapshot saw them commit.
    fn clear_old(st: &mut SsiState) {
        let running: Vec<&Snapshot> = st
            .sxacts
            .values()
            .filter(|s| !s.committed())
            .map(|s| &s.snapshot)
            .collect();
        let old: Vec<Xid> = st
            .sxacts
            .iter()
            .filter(|(_, s)| s.committed())
            .filter(|(x, _)| running.iter().all(|snap| snap.finished_before(**x)))
            .map(|(x, _)| *x)
            .collect();
        for x in old {
            Self::remove_sxact(st, x);
        }
    }

    /// Number of serializable transactions tracked (running and retained).
    pub fn sxact_count(&self) -> usize {
        self.shared.state.lock().sxacts.len()
    }

    /// Number of key and range SIREAD locks held.
    pub fn fine_lock_count(&self) -> usize {
        self.shared.state.lock().fine_locks
    }

    /// Whether `xid` holds a whole-tree SIREAD lock on `tree`.
    pub fn holds_tree_lock(&self, xid: Xid, tree: TreeId) -> bool {
        self.shared
            .state
            .lock()
            .sxacts
            .get(&xid)
            .and_then(|s| s.locks.get(&tree))
            .is_some_and(|h| h.whole)
    }

    /// Whether `xid` has been chosen as a victim and will fail.
    pub fn is_doomed(&self, xid: Xid) -> bool {
        self.lock_state().sxacts.get(&xid).is_some_and(|s| s.doomed)
    }

    /// Whether read-only `xid` is known safe (tracked no more).
    pub fn is_ro_safe(&self, xid: Xid) -> bool {
        self.lock_state()
            .sxacts
            .get(&xid)
            .is_some_and(|s| s.ro_safe)
    }

    fn lock_state(&self) -> MutexGuard<'_, SsiState> {
        self.shared.state.lock()
    }
}

enum Fine<'a> {
    Key(&'a [u8]),
    Range(KeyRange),
}
