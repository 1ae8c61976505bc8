//! SSI scenarios over the transaction manager and the SSI bookkeeping, with a
//! small multi-version map standing in for the trees: reads take SIREAD locks
//! and report skipped concurrent versions (conflict out), writes check SIREAD
//! holders (conflict in), as the MVCC layer does.
//!
//! Each expected outcome was checked against PostgreSQL 15 with concurrent
//! psql sessions in the same order of statements (the failing statement and
//! its "Reason code" detail included).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use arbordb::txn::{
    IsolationLevel, KeyRange, Snapshot, SsiConfig, SsiManager, TreeId, TxnError, TxnManager,
    Writer, Xid, is_visible,
};
use parking_lot::Mutex;

const TREE: TreeId = TreeId(7);

/// A key's versions, oldest first: (writer, value or None for a delete).
type Versions = Vec<(Xid, Option<i64>)>;

struct World {
    tm: TxnManager,
    ssi: SsiManager,
    data: Mutex<BTreeMap<String, Versions>>,
}

struct T {
    xid: Xid,
    snap: Snapshot,
}

impl World {
    fn new() -> World {
        World::with_config(SsiConfig::default())
    }

    fn with_config(config: SsiConfig) -> World {
        World {
            tm: TxnManager::volatile(),
            ssi: SsiManager::new(config),
            data: Mutex::new(BTreeMap::new()),
        }
    }

    fn load(&self, rows: &[(&str, i64)]) {
        let mut d = self.data.lock();
        for (k, v) in rows {
            d.insert(k.to_string(), vec![(Xid::FROZEN, Some(*v))]);
        }
    }

    fn begin(&self, read_only: bool) -> T {
        self.begin_deferrable(read_only, false)
    }

    fn begin_deferrable(&self, read_only: bool, deferrable: bool) -> T {
        let xid = self
            .tm
            .begin(IsolationLevel::Serializable, read_only)
            .unwrap();
        let snap = self
            .ssi
            .register(xid, read_only, deferrable, None, None, || {
                self.tm.snapshot(xid)
            })
            .unwrap();
        T { xid, snap }
    }

    fn visible_value(
        &self,
        t: &T,
        versions: &[(Xid, Option<i64>)],
    ) -> Result<Option<i64>, TxnError> {
        for (w, v) in versions.iter().rev() {
            let writer = Writer { xid: *w, cid: 0 };
            if is_visible(&t.snap, 1, writer, |x| self.tm.is_aborted(x)) {
                return Ok(*v);
            }
            if !self.tm.is_aborted(*w) && t.snap.is_concurrent(*w) {
                self.ssi.conflict_out(t.xid, *w)?;
            }
        }
        Ok(None)
    }

    fn read(&self, t: &T, key: &str) -> Result<Option<i64>, TxnError> {
        if self.ssi.is_tracking(t.xid) {
            self.ssi.read_key(t.xid, TREE, key.as_bytes());
        }
        let versions = self.data.lock().get(key).cloned().unwrap_or_default();
        self.visible_value(t, &versions)
    }

    /// Reads every key in [lo, hi).
    fn scan(&self, t: &T, lo: &str, hi: &str) -> Result<Vec<(String, i64)>, TxnError> {
        if self.ssi.is_tracking(t.xid) {
            self.ssi.read_range(
                t.xid,
                TREE,
                KeyRange::new(
                    Bound::Included(lo.as_bytes().to_vec()),
                    Bound::Excluded(hi.as_bytes().to_vec()),
                ),
            );
        }
        let rows: Vec<(String, Versions)> = self
            .data
            .lock()
            .range(lo.to_string()..hi.to_string())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut out = Vec::new();
        for (k, versions) in rows {
            if let Some(v) = self.visible_value(t, &versions)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    fn write(&self, t: &T, key: &str, v: Option<i64>) -> Result<(), TxnError> {
        self.ssi.conflict_in(t.xid, TREE, key.as_bytes())?;
        self.data
            .lock()
            .entry(key.to_string())
            .or_default()
            .push((t.xid, v));
        Ok(())
    }

    fn commit(&self, t: T) -> Result<(), TxnError> {
        if let Err(e) = self.ssi.precommit(t.xid) {
            self.rollback(t);
            return Err(e);
        }
        self.tm.commit(t.xid, true).unwrap();
        self.ssi.commit(t.xid);
        Ok(())
    }

    fn rollback(&self, t: T) {
        self.tm.abort(t.xid, true).unwrap();
        for versions in self.data.lock().values_mut() {
            versions.retain(|(w, _)| *w != t.xid);
        }
        self.tm.forget_aborted(t.xid);
        self.ssi.rollback(t.xid);
    }
}

fn reason(e: &TxnError) -> String {
    match e {
        TxnError::SerializationFailure { detail } => detail.clone(),
        other => panic!("expected a serialization failure, got {other:?}"),
    }
}

/// Doctors on call: both read both rows, each takes a different doctor off
/// call. PostgreSQL: the first COMMIT succeeds, the second fails with
/// "Canceled on identification as a pivot, during commit attempt."
#[test]
fn write_skew_is_prevented_under_serializable() {
    let w = World::new();
    w.load(&[("alice", 1), ("bob", 1)]);
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    for t in [&t1, &t2] {
        assert_eq!(w.scan(t, "a", "z").unwrap().len(), 2);
    }
    w.write(&t1, "alice", Some(0)).unwrap();
    w.write(&t2, "bob", Some(0)).unwrap();
    w.commit(t1).unwrap();
    let e = w.commit(t2).unwrap_err();
    assert_eq!(e.sqlstate().code(), "40001");
    assert_eq!(
        reason(&e),
        "Reason code: Canceled on identification as a pivot, during commit attempt."
    );
    // The invariant "someone is on call" held.
    let check = w.begin(true);
    assert_eq!(w.read(&check, "bob").unwrap(), Some(1));
}

#[test]
fn serial_executions_never_abort() {
    let w = World::new();
    w.load(&[("x", 1), ("y", 1)]);
    for round in 0..20 {
        let t1 = w.begin(false);
        let x = w.read(&t1, "x").unwrap().unwrap();
        w.write(&t1, "y", Some(x + 1)).unwrap();
        w.commit(t1)
            .unwrap_or_else(|e| panic!("round {round} t1: {e}"));
        let t2 = w.begin(false);
        let y = w.read(&t2, "y").unwrap().unwrap();
        w.write(&t2, "x", Some(y + 1)).unwrap();
        w.commit(t2)
            .unwrap_or_else(|e| panic!("round {round} t2: {e}"));
    }
    assert_eq!(w.ssi.sxact_count(), 0, "nothing overlaps: nothing retained");
    assert_eq!(w.ssi.fine_lock_count(), 0);
}

/// Two transactions that read and write disjoint keys, overlapping in time:
/// no rw edge at all, so both commit.
#[test]
fn concurrent_disjoint_transactions_both_commit() {
    let w = World::new();
    w.load(&[("a", 1), ("b", 1)]);
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    w.read(&t1, "a").unwrap();
    w.read(&t2, "b").unwrap();
    w.write(&t1, "a", Some(2)).unwrap();
    w.write(&t2, "b", Some(2)).unwrap();
    w.commit(t2).unwrap();
    w.commit(t1).unwrap();
}

/// Fekete's receipts/report read-only anomaly (PostgreSQL's receipt-report
/// isolation spec): T1 (new receipt) reads the batch number, T2 closes the
/// batch and commits, T3 (read-only report) sees the closed batch but not
/// T1's receipt, then T1 inserts into the old batch. PostgreSQL fails T1's
/// INSERT with "Canceled on identification as a pivot, during write."
#[test]
fn read_only_anomaly_is_prevented_under_serializable() {
    let w = World::new();
    w.load(&[("ctl", 1), ("r/1/0001", 10)]);
    let t1 = w.begin(false);
    assert_eq!(w.read(&t1, "ctl").unwrap(), Some(1));
    let t2 = w.begin(false);
    let b = w.read(&t2, "ctl").unwrap().unwrap();
    w.write(&t2, "ctl", Some(b + 1)).unwrap();
    w.commit(t2).unwrap();
    let t3 = w.begin(true);
    assert_eq!(w.read(&t3, "ctl").unwrap(), Some(2));
    assert_eq!(w.scan(&t3, "r/1/", "r/1/~").unwrap().len(), 1);
    w.commit(t3).unwrap();
    let e = w.write(&t1, "r/1/0002", Some(20)).unwrap_err();
    assert_eq!(
        reason(&e),
        "Reason code: Canceled on identification as a pivot, during write."
    );
    w.rollback(t1);
}

/// The same three transactions, but the report takes its snapshot before the
/// batch is closed: it sees the old batch number, so it is serialized before
/// T2 and no cycle exists (the read-only optimization keeps everyone alive).
#[test]
fn report_before_batch_close_causes_no_false_abort() {
    let w = World::new();
    w.load(&[("ctl", 1), ("r/1/0001", 10)]);
    let t1 = w.begin(false);
    assert_eq!(w.read(&t1, "ctl").unwrap(), Some(1));
    let t3 = w.begin(true);
    let t2 = w.begin(false);
    let b = w.read(&t2, "ctl").unwrap().unwrap();
    w.write(&t2, "ctl", Some(b + 1)).unwrap();
    w.commit(t2).unwrap();
    assert_eq!(w.read(&t3, "ctl").unwrap(), Some(1));
    assert_eq!(w.scan(&t3, "r/1/", "r/1/~").unwrap().len(), 1);
    w.commit(t3).unwrap();
    w.write(&t1, "r/1/0002", Some(20)).unwrap();
    w.commit(t1).unwrap();
}

/// Overlapping bookings checked by a range query: each transaction checks
/// that no booking exists in the slot range, then inserts one. The range
/// SIREAD locks make the phantom visible as a conflict; one of the two fails.
#[test]
fn phantom_write_skew_on_a_range_is_prevented() {
    let w = World::new();
    w.load(&[("room1/0900", 1)]);
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    assert!(w.scan(&t1, "room1/1000", "room1/1100").unwrap().is_empty());
    assert!(w.scan(&t2, "room1/1000", "room1/1100").unwrap().is_empty());
    w.write(&t1, "room1/1000", Some(1)).unwrap();
    w.write(&t2, "room1/1030", Some(2)).unwrap();
    w.commit(t1).unwrap();
    let e = w.commit(t2).unwrap_err();
    assert_eq!(e.sqlstate().code(), "40001");
}

/// A range lock covers only its range: an insert outside it is no conflict.
#[test]
fn inserts_outside_a_scanned_range_do_not_conflict() {
    let w = World::new();
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    assert!(w.scan(&t1, "b", "c").unwrap().is_empty());
    assert!(w.scan(&t2, "x", "y").unwrap().is_empty());
    w.write(&t1, "x5", Some(1)).unwrap();
    w.write(&t2, "d", Some(1)).unwrap();
    w.commit(t1).unwrap();
    w.commit(t2).unwrap();
}

/// Total-cash invariant: two withdrawals each check the sum of two accounts
/// and withdraw from a different one; one must fail or the sum goes negative.
#[test]
fn total_cash_invariant_holds_under_serializable() {
    let w = World::new();
    w.load(&[("acct/1", 50), ("acct/2", 50)]);
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    let s1: i64 = w
        .scan(&t1, "acct/", "acct/~")
        .unwrap()
        .iter()
        .map(|r| r.1)
        .sum();
    let s2: i64 = w
        .scan(&t2, "acct/", "acct/~")
        .unwrap()
        .iter()
        .map(|r| r.1)
        .sum();
    assert!(s1 >= 90 && s2 >= 90);
    w.write(&t1, "acct/1", Some(50 - 90)).unwrap();
    let r2 = w.write(&t2, "acct/2", Some(50 - 90));
    let outcome = match r2 {
        Err(e) => Err(e),
        Ok(()) => {
            w.commit(t1).unwrap();
            w.commit(t2)
        }
    };
    assert_eq!(outcome.unwrap_err().sqlstate().code(), "40001");
    let audit = w.begin(true);
    let total: i64 = w
        .scan(&audit, "acct/", "acct/~")
        .unwrap()
        .iter()
        .map(|r| r.1)
        .sum();
    assert!(total >= 0, "total {total}");
}

/// A committed transaction is never the victim: T0 commits a pivot position
/// first (T1 -> T0 -> T2 with T2 committed); the structure completes with the
/// reader T1 still running, and the reader is the one that fails.
#[test]
fn committed_transactions_are_never_chosen_as_victims() {
    let w = World::new();
    w.load(&[("a", 1), ("b", 1)]);
    let t1 = w.begin(false); // will read a
    let t0 = w.begin(false); // pivot: reads b, writes a
    let t2 = w.begin(false); // writes b
    w.read(&t0, "b").unwrap();
    w.write(&t2, "b", Some(2)).unwrap(); // t0 -> t2
    w.commit(t2).unwrap();
    w.write(&t0, "a", Some(2)).unwrap();
    w.commit(t0).unwrap(); // commits: t0 has an out edge to committed t2
    // t1 reads a: skips t0's committed version (not in its snapshot): t1 -> t0.
    let e = w.read(&t1, "a").unwrap_err();
    assert_eq!(e.sqlstate().code(), "40001");
    w.rollback(t1);
}

#[test]
fn siread_locks_are_kept_after_commit_while_an_overlapping_transaction_runs() {
    let w = World::new();
    w.load(&[("k", 1)]);
    let long = w.begin(false);
    let t1 = w.begin(false);
    w.read(&t1, "k").unwrap();
    w.commit(t1).unwrap();
    assert_eq!(w.ssi.sxact_count(), 2, "t1 retained: `long` overlaps it");
    assert_eq!(w.ssi.fine_lock_count(), 1);
    // Its lock still produces the edge t1 -> long when `long` writes k.
    w.write(&long, "k", Some(5)).unwrap();
    w.commit(long).unwrap();
    assert_eq!(w.ssi.sxact_count(), 0);
    assert_eq!(w.ssi.fine_lock_count(), 0);
}

#[test]
fn fine_locks_are_promoted_to_a_tree_lock_past_the_per_tree_limit() {
    let w = World::with_config(SsiConfig {
        siread_locks_max: 1000,
        siread_locks_per_tree_max: 8,
        serializable_xacts_max: 100,
    });
    let reader = w.begin(false);
    for i in 0..20 {
        w.read(&reader, &format!("k{i:02}")).unwrap();
    }
    assert!(w.ssi.holds_tree_lock(reader.xid, TREE));
    assert_eq!(
        w.ssi.fine_lock_count(),
        0,
        "fine locks released by promotion"
    );
    // The coarse lock still catches a write to a key never read.
    let writer = w.begin(false);
    w.read(&writer, "zz").unwrap();
    w.write(&writer, "unrelated", Some(1)).unwrap();
    // reader -> writer exists now; make writer -> reader too: a cycle.
    w.write(&reader, "zz", Some(1)).unwrap();
    w.commit(reader).unwrap();
    assert_eq!(w.commit(writer).unwrap_err().sqlstate().code(), "40001");
}

#[test]
fn global_siread_limit_bounds_fine_locks() {
    let w = World::with_config(SsiConfig {
        siread_locks_max: 10,
        siread_locks_per_tree_max: 100,
        serializable_xacts_max: 100,
    });
    let ts: Vec<T> = (0..4).map(|_| w.begin(false)).collect();
    for (n, t) in ts.iter().enumerate() {
        for i in 0..5 {
            w.read(t, &format!("t{n}k{i}")).unwrap();
            assert!(w.ssi.fine_lock_count() <= 10);
        }
    }
    assert!(ts.iter().any(|t| w.ssi.holds_tree_lock(t.xid, TREE)));
    for t in ts {
        w.commit(t).unwrap();
    }
}

#[test]
fn read_only_transaction_without_concurrent_writers_is_safe_at_once() {
    let w = World::new();
    w.load(&[("a", 1)]);
    let ro = w.begin(true);
    assert!(w.ssi.is_ro_safe(ro.xid));
    assert!(!w.ssi.is_tracking(ro.xid));
    w.read(&ro, "a").unwrap();
    assert_eq!(w.ssi.fine_lock_count(), 0, "a safe snapshot takes no locks");
    w.commit(ro).unwrap();
}

#[test]
fn read_only_snapshot_becomes_safe_when_concurrent_writers_commit_cleanly() {
    let w = World::new();
    w.load(&[("a", 1)]);
    let rw = w.begin(false);
    let ro = w.begin(true);
    assert!(w.ssi.is_tracking(ro.xid));
    w.read(&ro, "a").unwrap();
    assert_eq!(w.ssi.fine_lock_count(), 1);
    w.write(&rw, "b", Some(1)).unwrap();
    w.commit(rw).unwrap();
    assert!(w.ssi.is_ro_safe(ro.xid));
    assert_eq!(w.ssi.fine_lock_count(), 0, "safe: locks dropped");
    w.commit(ro).unwrap();
}

/// DEFERRABLE: a read-only deferrable transaction waits (on a condvar, in
/// another thread) until the concurrent read-write transaction ends, then
/// runs on a safe snapshot.
#[test]
fn deferrable_read_only_waits_for_a_safe_snapshot() {
    let w = Arc::new(World::new());
    w.load(&[("a", 1)]);
    let rw = w.begin(false);
    w.read(&rw, "a").unwrap();
    let w2 = w.clone();
    let waiter = thread::spawn(move || {
        let t = w2.begin_deferrable(true, true);
        let safe = w2.ssi.is_ro_safe(t.xid);
        let v = w2.read(&t, "a").unwrap();
        w2.commit(t).unwrap();
        (safe, v)
    });
    thread::sleep(Duration::from_millis(100));
    assert!(!waiter.is_finished(), "deferrable must wait for rw to end");
    w.write(&rw, "a", Some(2)).unwrap();
    w.commit(rw).unwrap();
    let (safe, v) = waiter.join().unwrap();
    assert!(safe);
    assert!(v == Some(1) || v == Some(2));
}

/// DEFERRABLE with an unsafe first snapshot: the writer commits with a
/// conflict out to a transaction committed before the read-only snapshot, so
/// that snapshot is unsafe and the deferrable transaction retakes it.
#[test]
fn deferrable_read_only_retakes_an_unsafe_snapshot() {
    let w = Arc::new(World::new());
    w.load(&[("ctl", 1), ("r", 1)]);
    let t1 = w.begin(false);
    w.read(&t1, "ctl").unwrap();
    let t2 = w.begin(false);
    w.write(&t2, "ctl", Some(2)).unwrap();
    w.commit(t2).unwrap(); // t1 -> t2 (t1 read ctl, t2 wrote it)
    let w2 = w.clone();
    let waiter = thread::spawn(move || {
        let t = w2.begin_deferrable(true, true);
        let ctl = w2.read(&t, "ctl").unwrap();
        let safe = w2.ssi.is_ro_safe(t.xid);
        let snap_xmin = t.snap.xmin;
        w2.commit(t).unwrap();
        (ctl, safe, snap_xmin)
    });
    thread::sleep(Duration::from_millis(100));
    assert!(!waiter.is_finished());
    w.write(&t1, "r", Some(5)).unwrap();
    let t1_xid = t1.xid;
    w.commit(t1).unwrap();
    let (ctl, safe, snap_xmin) = waiter.join().unwrap();
    assert!(safe);
    assert_eq!(ctl, Some(2));
    assert!(
        snap_xmin > t1_xid,
        "the safe snapshot was taken after t1 ended"
    );
}

#[test]
fn rolled_back_transactions_leave_no_locks_or_edges() {
    let w = World::new();
    w.load(&[("a", 1)]);
    let t1 = w.begin(false);
    let t2 = w.begin(false);
    w.read(&t1, "a").unwrap();
    w.write(&t2, "a", Some(3)).unwrap();
    w.rollback(t1);
    w.commit(t2).unwrap();
    assert_eq!(w.ssi.sxact_count(), 0);
    assert_eq!(w.ssi.fine_lock_count(), 0);
}

#[test]
fn serializable_xacts_max_is_enforced_with_53200() {
    let w = World::with_config(SsiConfig {
        siread_locks_max: 100,
        siread_locks_per_tree_max: 10,
        serializable_xacts_max: 2,
    });
    let _a = w.begin(false);
    let _b = w.begin(false);
    let xid = w.tm.begin(IsolationLevel::Serializable, false).unwrap();
    let e = w
        .ssi
        .register(xid, false, false, None, None, || w.tm.snapshot(xid))
        .unwrap_err();
    assert_eq!(e.sqlstate().code(), "53200");
}

/// Randomized interleavings of small transfer transactions: whatever commits
/// must be serializable, checked by the invariant the transfers keep (a
/// two-account total), and at least some transactions must commit. The seed
/// is printed on failure.
#[test]
fn random_interleavings_keep_the_total_invariant() {
    let seed: u64 = std::env::var("ARBORDB_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234);
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let w = World::new();
    w.load(&[("acct/1", 100), ("acct/2", 100)]);
    let mut committed = 0;
    for round in 0..200 {
        // Each transaction: read both; if total >= 150 withdraw 150 from one.
        let ta = w.begin(false);
        let tb = w.begin(false);
        let order = next() % 4;
        let run = |t: &T, key: &str| -> Result<(), TxnError> {
            let s: i64 = w.scan(t, "acct/", "acct/~")?.iter().map(|r| r.1).sum();
            if s >= 150 {
                let cur = w.read(t, key)?.unwrap_or(0);
                w.write(t, key, Some(cur - 150))?;
                w.write(t, "acct/3", Some(0))?;
            }
            Ok(())
        };
        let ra = run(&ta, "acct/1");
        let rb = run(&tb, "acct/2");
        let (first, second, rf, rs) = if order < 2 {
            (ta, tb, ra, rb)
        } else {
            (tb, ta, rb, ra)
        };
        for (t, r) in [(first, rf), (second, rs)] {
            match r {
                Ok(()) => {
                    if w.commit(t).is_ok() {
                        committed += 1;
                    }
                }
                Err(e) => {
                    assert_eq!(e.sqlstate().code(), "40001", "seed {seed} round {round}");
                    w.rollback(t);
                }
            }
        }
        let audit = w.begin(true);
        let total: i64 = w
            .scan(&audit, "acct/", "acct/3")
            .unwrap()
            .iter()
            .map(|r| r.1)
            .sum();
        w.commit(audit).unwrap();
        assert!(
            total >= 50,
            "seed {seed} round {round}: write skew let the total reach {total}"
        );
        // Refill for the next round.
        let refill = w.begin(false);
        w.write(&refill, "acct/1", Some(100)).unwrap();
        w.write(&refill, "acct/2", Some(100)).unwrap();
        w.commit(refill).unwrap();
    }
    assert!(committed >= 200, "seed {seed}: only {committed} commits");
    assert_eq!(w.ssi.sxact_count(), 0, "seed {seed}");
}

/// A DEFERRABLE wait ends at the statement deadline with 57014 (and leaves
/// no trace), like any other wait.
#[test]
fn deferrable_wait_ends_at_the_statement_deadline() {
    let w = World::new();
    let rw = w.begin(false);
    w.read(&rw, "a").unwrap();
    let xid = w.tm.begin(IsolationLevel::Serializable, true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_millis(50);
    let e = w
        .ssi
        .register(xid, true, true, None, Some(deadline), || w.tm.snapshot(xid))
        .unwrap_err();
    assert_eq!(e, TxnError::StatementTimeout);
    assert!(std::time::Instant::now() >= deadline);
    assert_eq!(w.ssi.sxact_count(), 1, "only rw remains");
    w.commit(rw).unwrap();
}
