//! The transaction API over real B+-trees (an in-memory engine), with real
//! interleavings on threads. Each expected outcome was checked against
//! PostgreSQL 15 by running the same statements in the same order in
//! concurrent psql sessions; the SQL each test mirrors is in its comment.
//!
//! | anomaly / behaviour                 | RC        | RR        | SER       |
//! |-------------------------------------|-----------|-----------|-----------|
//! | dirty write (G0)                    | blocks    | blocks    | blocks    |
//! | aborted read (G1a)                  | prevented | prevented | prevented |
//! | lost update (P4)                    | re-check  | 40001     | 40001     |
//! | read skew (G-single)                | allowed   | prevented | prevented |
//! | write skew (G2-item)                | allowed   | allowed   | 40001     |

use std::ops::Bound;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use arbordb::storage::{Engine, EngineOptions, Tree};
use arbordb::txn::{
    IsolationLevel, RowLock, RowLockMode, Transaction, TxnEngine, TxnError, TxnOptions, WaitPolicy,
};

use IsolationLevel::*;

struct Db {
    _engine: Engine,
    txn: Arc<TxnEngine>,
    t: Tree,
}

fn db() -> Db {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 256,
    })
    .unwrap();
    let t = engine.create_tree().unwrap();
    Db {
        _engine: engine,
        txn: TxnEngine::volatile(),
        t,
    }
}

fn int(v: &[u8]) -> i64 {
    i64::from_be_bytes(v.try_into().unwrap())
}

fn b(v: i64) -> [u8; 8] {
    v.to_be_bytes()
}

impl Db {
    fn begin(&self, iso: IsolationLevel) -> Transaction {
        let mut t = self.txn.begin(TxnOptions::new(iso)).unwrap();
        t.begin_statement().unwrap();
        t
    }

    fn load(&self, rows: &[(&str, i64)]) {
        let mut t = self.begin(ReadCommitted);
        for (k, v) in rows {
            assert!(t.insert(&self.t, k.as_bytes(), &b(*v)).unwrap());
        }
        t.commit().unwrap();
    }

    fn get(&self, t: &mut Transaction, k: &str) -> Option<i64> {
        t.get(&self.t, k.as_bytes()).unwrap().map(|v| int(&v))
    }

    fn read_committed(&self, k: &str) -> Option<i64> {
        let mut t = self.begin(ReadCommitted);
        let v = self.get(&mut t, k);
        t.commit().unwrap();
        v
    }

    fn all(&self, t: &mut Transaction, reverse: bool) -> Vec<(String, i64)> {
        t.scan(&self.t, Bound::Unbounded, Bound::Unbounded, reverse)
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (String::from_utf8(k).unwrap(), int(&v))
            })
            .collect()
    }

    /// `UPDATE t SET v = f(v) WHERE k = key AND pred(v)`, PostgreSQL style:
    /// read with the statement's snapshot, lock, re-check on the newest.
    fn update_where(
        &self,
        t: &mut Transaction,
        key: &str,
        pred: impl Fn(i64) -> bool,
        f: impl Fn(i64) -> i64,
    ) -> Result<bool, TxnError> {
        t.begin_statement()?;
        let Some(seen) = t.get(&self.t, key.as_bytes())? else {
            return Ok(false);
        };
        if !pred(int(&seen)) {
            return Ok(false);
        }
        let current = match t.lock_row(
            &self.t,
            key.as_bytes(),
            RowLockMode::NoKeyUpdate,
            WaitPolicy::Block,
            "t",
        )? {
            RowLock::Locked {
                current: Some(c), ..
            } => int(&c),
            RowLock::Locked { current: None, .. } | RowLock::SelfUpdated => return Ok(false),
            RowLock::Skipped => unreachable!(),
        };
        if !pred(current) {
            return Ok(false);
        }
        t.put(&self.t, key.as_bytes(), &b(f(current)), false)
    }
}

#[test]
fn own_writes_are_visible_to_later_statements_and_invisible_to_others() {
    let d = db();
    let mut t1 = d.begin(ReadCommitted);
    assert!(t1.insert(&d.t, b"a", &b(1)).unwrap());
    assert_eq!(d.get(&mut t1, "a"), None, "same statement does not see it");
    t1.begin_statement().unwrap();
    assert_eq!(d.get(&mut t1, "a"), Some(1));
    assert_eq!(
        d.read_committed("a"),
        None,
        "uncommitted: invisible to others"
    );
    t1.commit().unwrap();
    assert_eq!(d.read_committed("a"), Some(1));
}

#[test]
fn scans_return_the_visible_version_of_each_key_in_both_directions() {
    let d = db();
    d.load(&[("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]);
    let mut w = d.begin(ReadCommitted);
    w.put(&d.t, b"c", &b(30), false).unwrap();
    assert!(w.delete(&d.t, b"d").unwrap());
    w.commit().unwrap();
    let mut r = d.begin(ReadCommitted);
    let fwd = d.all(&mut r, false);
    assert_eq!(
        fwd,
        vec![
            ("a".into(), 1),
            ("b".into(), 2),
            ("c".into(), 30),
            ("e".into(), 5)
        ]
    );
    let mut rev = d.all(&mut r, true);
    rev.reverse();
    assert_eq!(rev, fwd);
    let mid: Vec<Vec<u8>> = r
        .scan(&d.t, Bound::Excluded(b"a"), Bound::Included(b"c"), true)
        .unwrap()
        .map(|x| x.unwrap().0)
        .collect();
    assert_eq!(mid, vec![b"c".to_vec(), b"b".to_vec()]);
    let half: Vec<Vec<u8>> = r
        .scan(&d.t, Bound::Included(b"b"), Bound::Excluded(b"e"), false)
        .unwrap()
        .map(|x| x.unwrap().0)
        .collect();
    assert_eq!(half, vec![b"b".to_vec(), b"c".to_vec()]);
}

/// G0 at every level: T1 `UPDATE t SET v = 10 WHERE k = 'x'`; T2's update of
/// the same row blocks until T1 commits.
#[test]
fn dirty_write_g0_is_prevented_by_blocking_at_every_level() {
    for iso in [ReadCommitted, RepeatableRead, Serializable] {
        let d = Arc::new(db());
        d.load(&[("x", 0)]);
        let mut t1 = d.begin(iso);
        t1.put(&d.t, b"x", &b(10), false).unwrap();
        let d2 = d.clone();
        let h = thread::spawn(move || {
            let mut t2 = d2.begin(iso);
            let r = t2.put(&d2.t, b"x", &b(20), false);
            match r {
                Ok(_) => t2.commit().map(|_| "committed"),
                Err(e) => Err(e),
            }
        });
        thread::sleep(Duration::from_millis(50));
        assert!(!h.is_finished(), "{iso:?}: the second writer must block");
        t1.commit().unwrap();
        let r = h.join().unwrap();
        match iso {
            ReadCommitted => {
                assert_eq!(r.unwrap(), "committed");
                assert_eq!(d.read_committed("x"), Some(20));
            }
            _ => {
                assert_eq!(r.unwrap_err(), TxnError::ConcurrentUpdate, "{iso:?}");
                assert_eq!(d.read_committed("x"), Some(10));
            }
        }
    }
}

/// A blocked REPEATABLE READ writer proceeds if the holder rolls back.
#[test]
fn blocked_writer_proceeds_when_the_holder_rolls_back() {
    let d = Arc::new(db());
    d.load(&[("x", 0)]);
    let mut t1 = d.begin(ReadCommitted);
    t1.put(&d.t, b"x", &b(10), false).unwrap();
    let d2 = d.clone();
    let h = thread::spawn(move || {
        let mut t2 = d2.begin(RepeatableRead);
        t2.put(&d2.t, b"x", &b(20), false)?;
        t2.commit()
    });
    thread::sleep(Duration::from_millis(30));
    t1.rollback().unwrap();
    h.join().unwrap().unwrap();
    assert_eq!(d.read_committed("x"), Some(20));
}

/// G1a: T2 never sees the write of T1, which aborts.
#[test]
fn aborted_read_g1a_is_prevented() {
    let d = db();
    d.load(&[("x", 1)]);
    let mut t1 = d.begin(ReadCommitted);
    t1.put(&d.t, b"x", &b(99), false).unwrap();
    assert_eq!(d.read_committed("x"), Some(1));
    t1.rollback().unwrap();
    assert_eq!(d.read_committed("x"), Some(1));
    // The undone version is physically gone.
    assert_eq!(d.t.iter().count_entries(), 1);
}

trait CountEntries {
    fn count_entries(self) -> usize;
}

impl CountEntries for arbordb::storage::Cursor {
    fn count_entries(mut self) -> usize {
        let mut n = 0;
        while self.next_entry().unwrap().is_some() {
            n += 1;
        }
        n
    }
}

/// P4 under READ COMMITTED: `UPDATE counters SET v = v + 1` from many
/// threads loses nothing, because a blocked writer re-reads the newest
/// version after the wait.
#[test]
fn lost_update_p4_is_prevented_at_read_committed_by_the_recheck() {
    let d = Arc::new(db());
    d.load(&[("counter", 0)]);
    let threads = 4;
    let per_thread = 25;
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let d = d.clone();
            thread::spawn(move || {
                for _ in 0..per_thread {
                    let mut t = d.begin(ReadCommitted);
                    assert!(
                        d.update_where(&mut t, "counter", |_| true, |v| v + 1)
                            .unwrap()
                    );
                    t.commit().unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(d.read_committed("counter"), Some(threads * per_thread));
}

/// P4 under REPEATABLE READ: both read 0; T1 sets 1 and commits; T2's update
/// fails with 40001 "could not serialize access due to concurrent update".
#[test]
fn lost_update_p4_fails_with_40001_at_repeatable_read_and_serializable() {
    for iso in [RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("x", 0)]);
        let mut t1 = d.begin(iso);
        let mut t2 = d.begin(iso);
        assert_eq!(d.get(&mut t1, "x"), Some(0));
        assert_eq!(d.get(&mut t2, "x"), Some(0));
        t1.put(&d.t, b"x", &b(1), false).unwrap();
        t1.commit().unwrap();
        let e = t2.put(&d.t, b"x", &b(1), false).unwrap_err();
        assert_eq!(e.sqlstate().code(), "40001");
        assert_eq!(
            arbordb::Error::from(e).message,
            "could not serialize access due to concurrent update"
        );
    }
}

/// PostgreSQL's EvalPlanQual, as checked on PostgreSQL 15:
/// T1 `UPDATE t SET v = 10 WHERE k = 'a'`; T2 `UPDATE t SET v = v * 2 + 1
/// WHERE v = 0` blocks on a; T1 commits; T2 re-checks a (v = 10: no longer
/// matches, skipped) and updates b. Result: a = 10, b = 1.
#[test]
fn read_committed_writer_rechecks_its_condition_after_waiting() {
    let d = Arc::new(db());
    d.load(&[("a", 0), ("b", 0)]);
    let mut t1 = d.begin(ReadCommitted);
    t1.put(&d.t, b"a", &b(10), false).unwrap();
    let d2 = d.clone();
    let h = thread::spawn(move || {
        let mut t2 = d2.begin(ReadCommitted);
        // One statement over both rows, with one snapshot.
        let rows = d2.all(&mut t2, false);
        let mut updated = 0;
        for (k, v) in rows {
            if v != 0 {
                continue;
            }
            match t2
                .lock_row(
                    &d2.t,
                    k.as_bytes(),
                    RowLockMode::NoKeyUpdate,
                    WaitPolicy::Block,
                    "t",
                )
                .unwrap()
            {
                RowLock::Locked {
                    current: Some(c), ..
                } if int(&c) == 0 => {
                    t2.put(&d2.t, k.as_bytes(), &b(int(&c) * 2 + 1), false)
                        .unwrap();
                    updated += 1;
                }
                _ => {}
            }
        }
        t2.commit().unwrap();
        updated
    });
    thread::sleep(Duration::from_millis(50));
    t1.commit().unwrap();
    assert_eq!(h.join().unwrap(), 1);
    assert_eq!(d.read_committed("a"), Some(10));
    assert_eq!(d.read_committed("b"), Some(1));
}

/// PostgreSQL 15: RR T1 reads; T2 `DELETE FROM t WHERE k = 'b'` (autocommit);
/// T1 `UPDATE t SET v = 5 WHERE k = 'b'` fails: "could not serialize access
/// due to concurrent delete".
#[test]
fn repeatable_read_update_of_a_concurrently_deleted_row_fails_with_40001() {
    let d = db();
    d.load(&[("b", 0)]);
    let mut t1 = d.begin(RepeatableRead);
    assert_eq!(d.get(&mut t1, "b"), Some(0));
    let mut t2 = d.begin(ReadCommitted);
    assert!(t2.delete(&d.t, b"b").unwrap());
    t2.commit().unwrap();
    let e = t1.put(&d.t, b"b", &b(5), false).unwrap_err();
    assert_eq!(e, TxnError::ConcurrentDelete);
    assert_eq!(
        arbordb::Error::from(e).message,
        "could not serialize access due to concurrent delete"
    );
}

/// G-single (read skew): T1 reads x; T2 moves 10 from x to y and commits;
/// T1 reads y. RC sees the new y (total off by 10: allowed, as in
/// PostgreSQL); RR and SER see the old y.
#[test]
fn read_skew_g_single_is_allowed_at_read_committed_only() {
    for iso in [ReadCommitted, RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("x", 50), ("y", 50)]);
        let mut t1 = d.begin(iso);
        let x = d.get(&mut t1, "x").unwrap();
        let mut t2 = d.begin(ReadCommitted);
        t2.put(&d.t, b"x", &b(40), false).unwrap();
        t2.put(&d.t, b"y", &b(60), false).unwrap();
        t2.commit().unwrap();
        t1.begin_statement().unwrap();
        let y = d.get(&mut t1, "y").unwrap();
        t1.commit().unwrap();
        if iso == ReadCommitted {
            assert_eq!(x + y, 110, "RC sees the new y");
        } else {
            assert_eq!(x + y, 100, "{iso:?} sees one snapshot");
        }
    }
}

/// G2-item (doctors on call): both read both rows, each takes a different
/// doctor off call. RR: both commit (the invariant breaks, as in PostgreSQL);
/// SER: the second COMMIT fails with 40001.
#[test]
fn write_skew_is_allowed_at_repeatable_read_and_prevented_under_serializable() {
    for iso in [RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("alice", 1), ("bob", 1)]);
        let mut t1 = d.begin(iso);
        let mut t2 = d.begin(iso);
        let on1: i64 = d.all(&mut t1, false).iter().map(|r| r.1).sum();
        let on2: i64 = d.all(&mut t2, false).iter().map(|r| r.1).sum();
        assert_eq!((on1, on2), (2, 2));
        t1.begin_statement().unwrap();
        t1.put(&d.t, b"alice", &b(0), false).unwrap();
        t2.begin_statement().unwrap();
        t2.put(&d.t, b"bob", &b(0), false).unwrap();
        t1.commit().unwrap();
        let r2 = t2.commit();
        let mut check = d.begin(ReadCommitted);
        let on: i64 = d.all(&mut check, false).iter().map(|r| r.1).sum();
        if iso == RepeatableRead {
            r2.unwrap();
            assert_eq!(on, 0, "RR lets write skew break the invariant");
        } else {
            assert_eq!(r2.unwrap_err().sqlstate().code(), "40001");
            assert_eq!(on, 1);
        }
    }
}

#[test]
fn rollback_to_savepoint_undoes_later_writes_and_releases_their_locks() {
    let d = db();
    d.load(&[("a", 1)]);
    let mut t = d.begin(ReadCommitted);
    t.savepoint("s").unwrap();
    t.put(&d.t, b"a", &b(2), false).unwrap();
    assert!(t.insert(&d.t, b"b", &b(3)).unwrap());
    t.rollback_to("s").unwrap();
    t.begin_statement().unwrap();
    assert_eq!(d.get(&mut t, "a"), Some(1));
    assert_eq!(d.get(&mut t, "b"), None);
    // The lock on b went with the rollback: another transaction can take it.
    let mut other = d.begin(ReadCommitted);
    assert!(matches!(
        other
            .lock_row(&d.t, b"b", RowLockMode::Update, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::Locked { .. }
    ));
    other.rollback().unwrap();
    assert!(t.insert(&d.t, b"c", &b(4)).unwrap());
    t.release("s").unwrap();
    assert_eq!(
        t.rollback_to("s").unwrap_err().sqlstate().code(),
        "3B001",
        "released savepoints are gone"
    );
    t.commit().unwrap();
    assert_eq!(d.read_committed("c"), Some(4));
    assert_eq!(d.read_committed("a"), Some(1));
}

#[test]
fn select_for_update_nowait_and_skip_locked() {
    let d = db();
    d.load(&[("a", 1), ("b", 2)]);
    let mut t1 = d.begin(ReadCommitted);
    assert!(matches!(
        t1.lock_row(&d.t, b"a", RowLockMode::Update, WaitPolicy::Block, "t")
            .unwrap(),
        RowLock::Locked {
            current: Some(_),
            changed: false
        }
    ));
    let mut t2 = d.begin(ReadCommitted);
    let e = t2
        .lock_row(&d.t, b"a", RowLockMode::Share, WaitPolicy::NoWait, "t")
        .unwrap_err();
    assert_eq!(e.sqlstate().code(), "55P03");
    assert_eq!(
        arbordb::Error::from(e).message,
        "could not obtain lock on row in relation \"t\""
    );
    assert_eq!(
        t2.lock_row(&d.t, b"a", RowLockMode::Update, WaitPolicy::SkipLocked, "t")
            .unwrap(),
        RowLock::Skipped
    );
    // FOR KEY SHARE does not conflict with FOR NO KEY UPDATE.
    let mut t3 = d.begin(ReadCommitted);
    t3.lock_row(&d.t, b"b", RowLockMode::NoKeyUpdate, WaitPolicy::Block, "t")
        .unwrap();
    assert!(matches!(
        t2.lock_row(&d.t, b"b", RowLockMode::KeyShare, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::Locked { .. }
    ));
}

#[test]
fn deadlock_between_two_writers_aborts_one_with_40p01() {
    let d = Arc::new(db());
    d.load(&[("a", 0), ("b", 0)]);
    let run = |first: &'static str, second: &'static str| {
        let d = d.clone();
        thread::spawn(move || -> Result<(), TxnError> {
            let mut t = d.begin(ReadCommitted);
            t.put(&d.t, first.as_bytes(), &b(1), false)?;
            thread::sleep(Duration::from_millis(50));
            t.put(&d.t, second.as_bytes(), &b(1), false)?;
            t.commit()
        })
    };
    // deadlock_timeout is PostgreSQL's 1 s: the victim is found after it.
    let h1 = run("a", "b");
    let h2 = run("b", "a");
    let (r1, r2) = (h1.join().unwrap(), h2.join().unwrap());
    let errs: Vec<_> = [&r1, &r2]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(errs.len(), 1, "{r1:?} {r2:?}");
    assert_eq!(errs[0].sqlstate().code(), "40P01");
}

#[test]
fn read_only_transactions_reject_writes_with_25006() {
    let d = db();
    let mut t = d
        .txn
        .begin(TxnOptions::new(RepeatableRead).read_only())
        .unwrap();
    t.begin_statement().unwrap();
    let e = t.insert(&d.t, b"a", &b(1)).unwrap_err();
    assert_eq!(e.sqlstate().code(), "25006");
    assert_eq!(
        arbordb::Error::from(e).message,
        "cannot execute INSERT in a read-only transaction"
    );
}

#[test]
fn set_transaction_isolation_after_the_first_query_fails_with_25001() {
    let d = db();
    let mut t = d.txn.begin(TxnOptions::new(ReadCommitted)).unwrap();
    t.set_characteristics(RepeatableRead, false, false).unwrap();
    t.begin_statement().unwrap();
    assert_eq!(t.isolation(), RepeatableRead);
    let e = t
        .set_characteristics(Serializable, false, false)
        .unwrap_err();
    assert_eq!(e.sqlstate().code(), "25001");
    assert_eq!(
        arbordb::Error::from(e).message,
        "SET TRANSACTION ISOLATION LEVEL must be called before any query"
    );
}

/// The snapshot of REPEATABLE READ is taken by the first statement, not by
/// BEGIN (PostgreSQL: a commit between BEGIN and the first SELECT is seen).
#[test]
fn repeatable_read_snapshot_is_taken_at_the_first_statement() {
    let d = db();
    d.load(&[("x", 1)]);
    let mut t1 = d.txn.begin(TxnOptions::new(RepeatableRead)).unwrap();
    let mut w = d.begin(ReadCommitted);
    w.put(&d.t, b"x", &b(2), false).unwrap();
    w.commit().unwrap();
    t1.begin_statement().unwrap();
    assert_eq!(d.get(&mut t1, "x"), Some(2));
}

/// A row updated many times stays a handful of versions: each write prunes
/// the versions no snapshot can see. A long snapshot holds versions back;
/// when it ends, a vacuum pass removes them.
#[test]
fn pruning_and_vacuum_keep_a_hot_row_small() {
    let d = db();
    d.load(&[("hot", 0)]);
    for i in 1..=2000 {
        let mut t = d.begin(ReadCommitted);
        t.put(&d.t, b"hot", &b(i), false).unwrap();
        t.commit().unwrap();
    }
    assert!(d.t.iter().count_entries() <= 2, "pruned on write");
    let mut old = d.begin(RepeatableRead);
    assert_eq!(d.get(&mut old, "hot"), Some(2000));
    for i in 0..100 {
        let mut t = d.begin(ReadCommitted);
        t.put(&d.t, b"hot", &b(3000 + i), false).unwrap();
        t.commit().unwrap();
    }
    assert_eq!(
        d.get(&mut old, "hot"),
        Some(2000),
        "the old snapshot still reads"
    );
    assert!(
        d.t.iter().count_entries() > 50,
        "held back by the old snapshot"
    );
    old.commit().unwrap();
    let stats = d.txn.vacuum_tree(&d.t).unwrap();
    assert!(stats.versions_removed > 50, "{stats:?}");
    assert_eq!(d.t.iter().count_entries(), 1);
    assert_eq!(d.read_committed("hot"), Some(3099));
    // A deleted row vanishes entirely once no snapshot needs it.
    let mut t = d.begin(ReadCommitted);
    t.delete(&d.t, b"hot").unwrap();
    t.commit().unwrap();
    d.txn.vacuum_tree(&d.t).unwrap();
    assert_eq!(d.t.iter().count_entries(), 0);
}

/// The bank: sessions move money between accounts at SERIALIZABLE with
/// retries on 40001/40P01, and an auditor sums the balances; the total never
/// changes and no balance goes negative.
#[test]
fn bank_transfers_at_serializable_keep_the_total_and_no_overdraft() {
    let d = Arc::new(db());
    let accounts = 6;
    let rows: Vec<(String, i64)> = (0..accounts).map(|i| (format!("acct{i}"), 100)).collect();
    let refs: Vec<(&str, i64)> = rows.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    d.load(&refs);
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let d = d.clone();
            thread::spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ w;
                let mut rnd = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let mut retries = 0;
                for _ in 0..30 {
                    let from = format!("acct{}", rnd() % accounts);
                    let to = format!("acct{}", rnd() % accounts);
                    let amount = (rnd() % 80) as i64;
                    loop {
                        let r = (|| -> Result<(), TxnError> {
                            let mut t = d.txn.begin(TxnOptions::new(Serializable))?;
                            t.begin_statement()?;
                            let bal = int(&t.get(&d.t, from.as_bytes())?.unwrap());
                            if bal < amount || from == to {
                                return t.commit();
                            }
                            t.put(&d.t, from.as_bytes(), &b(bal - amount), false)?;
                            t.begin_statement()?;
                            let tb = int(&t.get(&d.t, to.as_bytes())?.unwrap());
                            t.put(&d.t, to.as_bytes(), &b(tb + amount), false)?;
                            t.commit()
                        })();
                        match r {
                            Ok(()) => break,
                            Err(e) if e.is_retryable() => retries += 1,
                            Err(e) => panic!("worker {w}: {e:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    let auditor = {
        let d = d.clone();
        thread::spawn(move || {
            for _ in 0..20 {
                let mut t = d
                    .txn
                    .begin(TxnOptions::new(Serializable).read_only())
                    .unwrap();
                t.begin_statement().unwrap();
                let all = d.all(&mut t, false);
                let total: i64 = all.iter().map(|r| r.1).sum();
                assert_eq!(total, 600, "auditor saw {all:?}");
                assert!(all.iter().all(|r| r.1 >= 0));
                let _ = t.commit();
            }
        })
    };
    for h in workers {
        h.join().unwrap();
    }
    auditor.join().unwrap();
    let mut t = d.begin(ReadCommitted);
    let all = d.all(&mut t, false);
    assert_eq!(all.iter().map(|r| r.1).sum::<i64>(), 600);
    assert!(all.iter().all(|r| r.1 >= 0), "{all:?}");
}

/// At REPEATABLE READ write skew breaks a constraint spanning two rows (as in
/// PostgreSQL): two withdrawals each check the joint balance and debit a
/// different account; both commit and the joint balance goes negative.
#[test]
fn bank_write_skew_breaks_the_joint_balance_at_repeatable_read() {
    let d = db();
    d.load(&[("joint1", 50), ("joint2", 50)]);
    let mut t1 = d.begin(RepeatableRead);
    let mut t2 = d.begin(RepeatableRead);
    let s1: i64 = d.all(&mut t1, false).iter().map(|r| r.1).sum();
    let s2: i64 = d.all(&mut t2, false).iter().map(|r| r.1).sum();
    assert!(s1 >= 90 && s2 >= 90);
    t1.put(&d.t, b"joint1", &b(50 - 90), false).unwrap();
    t2.put(&d.t, b"joint2", &b(50 - 90), false).unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
    let mut c = d.begin(ReadCommitted);
    let total: i64 = d.all(&mut c, false).iter().map(|r| r.1).sum();
    assert_eq!(total, -80);
}

/// G1b (intermediate read): T1 writes x = 101 then x = 102; T2 reads x
/// between them and after, seeing only the committed original, then T1's
/// final value once it commits — never 101. Prevented at every level.
#[test]
fn intermediate_read_g1b_is_prevented_at_every_level() {
    for iso in [ReadCommitted, RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("x", 10)]);
        let mut t1 = d.begin(ReadCommitted);
        t1.put(&d.t, b"x", &b(101), false).unwrap();
        let mut t2 = d.begin(iso);
        assert_eq!(d.get(&mut t2, "x"), Some(10));
        t1.begin_statement().unwrap();
        t1.put(&d.t, b"x", &b(102), false).unwrap();
        t2.begin_statement().unwrap();
        assert_eq!(d.get(&mut t2, "x"), Some(10));
        t1.commit().unwrap();
        t2.begin_statement().unwrap();
        let after = d.get(&mut t2, "x");
        if iso == ReadCommitted {
            assert_eq!(after, Some(102));
        } else {
            assert_eq!(after, Some(10), "{iso:?}");
        }
        t2.commit().unwrap();
    }
}

/// G1c (circular information flow): T1 writes x, T2 writes y, then each
/// reads the other's row: neither sees the other's uncommitted write.
#[test]
fn circular_information_flow_g1c_is_prevented_at_every_level() {
    for iso in [ReadCommitted, RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("x", 10), ("y", 20)]);
        let mut t1 = d.begin(iso);
        let mut t2 = d.begin(iso);
        t1.put(&d.t, b"x", &b(11), false).unwrap();
        t2.put(&d.t, b"y", &b(22), false).unwrap();
        t1.begin_statement().unwrap();
        t2.begin_statement().unwrap();
        assert_eq!(d.get(&mut t1, "y"), Some(20), "{iso:?}");
        assert_eq!(d.get(&mut t2, "x"), Some(10), "{iso:?}");
        t1.commit().unwrap();
        let r2 = t2.commit();
        if iso == Serializable {
            // T1 -rw-> T2 and T2 -rw-> T1: PostgreSQL fails the second commit.
            assert_eq!(r2.unwrap_err().sqlstate().code(), "40001");
        } else {
            r2.unwrap();
        }
    }
}

/// OTV (observed transaction vanishes), at READ COMMITTED: T1 writes x = 11,
/// y = 19; T2's update of x blocks; T1 commits; T2 updates y; T3 reading in
/// between sees T1's values and, after T2 commits, T2's — never a mix.
#[test]
fn observed_transaction_vanishes_otv_is_prevented_at_read_committed() {
    let d = Arc::new(db());
    d.load(&[("x", 10), ("y", 20)]);
    let mut t1 = d.begin(ReadCommitted);
    t1.put(&d.t, b"x", &b(11), false).unwrap();
    t1.put(&d.t, b"y", &b(19), false).unwrap();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let d2 = d.clone();
    let t2h = thread::spawn(move || {
        let mut t2 = d2.begin(ReadCommitted);
        t2.put(&d2.t, b"x", &b(12), false).unwrap(); // blocks on T1
        t2.begin_statement().unwrap();
        t2.put(&d2.t, b"y", &b(18), false).unwrap();
        go_rx.recv().unwrap();
        t2.commit().unwrap();
    });
    thread::sleep(Duration::from_millis(30));
    t1.commit().unwrap();
    let mut t3 = d.begin(ReadCommitted);
    let (x, y) = (d.get(&mut t3, "x").unwrap(), d.get(&mut t3, "y").unwrap());
    assert_eq!((x, y), (11, 19));
    go_tx.send(()).unwrap();
    t2h.join().unwrap();
    t3.begin_statement().unwrap();
    let (x, y) = (d.get(&mut t3, "x").unwrap(), d.get(&mut t3, "y").unwrap());
    assert_eq!((x, y), (12, 18));
}

/// PMP (predicate-many-preceders): T1 scans a range and finds nothing; T2
/// inserts into it and commits; T1 scans again. RC sees the new row
/// (allowed, as in PostgreSQL); RR and SER do not.
#[test]
fn predicate_many_preceders_pmp_is_allowed_at_read_committed_only() {
    for iso in [ReadCommitted, RepeatableRead, Serializable] {
        let d = db();
        d.load(&[("a", 1)]);
        let mut t1 = d.begin(iso);
        let found = |t: &mut Transaction| {
            t.scan(&d.t, Bound::Included(b"m"), Bound::Excluded(b"n"), false)
                .unwrap()
                .count()
        };
        assert_eq!(found(&mut t1), 0);
        let mut t2 = d.begin(ReadCommitted);
        assert!(t2.insert(&d.t, b"m1", &b(30)).unwrap());
        t2.commit().unwrap();
        t1.begin_statement().unwrap();
        let n = found(&mut t1);
        assert_eq!(n, usize::from(iso == ReadCommitted), "{iso:?}");
        t1.commit().unwrap();
    }
}

/// G2 (anti-dependency cycle over predicates): each transaction checks that a
/// range is empty and inserts into it. RR: both commit (a phantom pair);
/// SER: the second commit fails with 40001.
#[test]
fn anti_dependency_cycle_g2_is_prevented_only_under_serializable() {
    for iso in [RepeatableRead, Serializable] {
        let d = db();
        let mut t1 = d.begin(iso);
        let mut t2 = d.begin(iso);
        for t in [&mut t1, &mut t2] {
            let n = t
                .scan(
                    &d.t,
                    Bound::Included(b"slot/"),
                    Bound::Excluded(b"slot0"),
                    false,
                )
                .unwrap()
                .count();
            assert_eq!(n, 0);
        }
        t1.begin_statement().unwrap();
        assert!(t1.insert(&d.t, b"slot/1", &b(1)).unwrap());
        t2.begin_statement().unwrap();
        assert!(t2.insert(&d.t, b"slot/2", &b(2)).unwrap());
        t1.commit().unwrap();
        let r2 = t2.commit();
        if iso == Serializable {
            assert_eq!(r2.unwrap_err().sqlstate().code(), "40001");
        } else {
            r2.unwrap();
        }
    }
}

/// A concurrent insert of the same key waits for the inserter and then
/// reports a duplicate (PostgreSQL: the unique check waits, then 23505).
#[test]
fn concurrent_insert_of_the_same_key_waits_then_finds_a_duplicate() {
    let d = Arc::new(db());
    let mut t1 = d.begin(ReadCommitted);
    assert!(t1.insert(&d.t, b"k", &b(1)).unwrap());
    let d2 = d.clone();
    let h = thread::spawn(move || {
        let mut t2 = d2.begin(ReadCommitted);
        let r = t2.insert(&d2.t, b"k", &b(2)).unwrap();
        t2.commit().unwrap();
        r
    });
    thread::sleep(Duration::from_millis(30));
    assert!(!h.is_finished());
    t1.commit().unwrap();
    assert!(
        !h.join().unwrap(),
        "duplicate after the first inserter committed"
    );
    assert_eq!(d.read_committed("k"), Some(1));
}

/// The background vacuum removes the versions a long snapshot held back,
/// once it ends, without anyone writing the row again.
#[test]
fn background_vacuum_removes_versions_once_no_snapshot_needs_them() {
    let d = db();
    d.load(&[("hot", 0)]);
    let vac = arbordb::txn::Vacuumer::start(d.txn.clone(), Duration::from_secs(3600)).unwrap();
    vac.register(d.t.clone());
    let mut old = d.begin(RepeatableRead);
    assert_eq!(d.get(&mut old, "hot"), Some(0));
    for i in 1..=50 {
        let mut t = d.begin(ReadCommitted);
        t.put(&d.t, b"hot", &b(i), false).unwrap();
        t.commit().unwrap();
    }
    let before = d.t.iter().count_entries();
    assert!(before > 40, "held back: {before}");
    old.commit().unwrap();
    let passes = vac.stats().passes;
    vac.kick();
    assert!(vac.wait_for_pass(passes, Duration::from_secs(10)) > passes);
    assert_eq!(d.t.iter().count_entries(), 1);
    assert_eq!(d.read_committed("hot"), Some(50));
    let st = vac.stats();
    assert!(st.versions_removed as usize >= before - 1, "{st:?}");
    assert_eq!(st.errors, 0);
}

/// A pass walks a tree again only once the dead versions it may hold reach
/// PostgreSQL's autovacuum threshold (50 + 20% of its entries), counting
/// the versions a snapshot held back at the last pass, so those go without
/// anyone writing the rows again.
#[test]
fn background_vacuum_passes_over_a_tree_only_while_it_has_work() {
    let d = db();
    let keys: Vec<String> = (0..200).map(|i| format!("k{i:03}")).collect();
    let rows: Vec<(&str, i64)> = keys.iter().map(|k| (k.as_str(), 0)).collect();
    d.load(&rows);
    let vac = arbordb::txn::Vacuumer::start(d.txn.clone(), Duration::from_secs(3600)).unwrap();
    vac.register(d.t.clone());
    let pass = || {
        let passes = vac.stats().passes;
        vac.kick();
        assert!(vac.wait_for_pass(passes, Duration::from_secs(10)) > passes);
        vac.stats()
    };
    let first = pass(); // never walked: walked
    assert!(first.versions_seen >= 200, "{first:?}");
    let mut old = d.begin(RepeatableRead);
    assert_eq!(d.get(&mut old, "k000"), Some(0));
    for k in &keys {
        let mut t = d.begin(ReadCommitted);
        t.put(&d.t, k.as_bytes(), &b(1), false).unwrap();
        t.commit().unwrap();
    }
    // 200 dead versions >= 50 + 40: walked, but held back by `old`.
    let second = pass();
    assert!(second.versions_seen > first.versions_seen, "{second:?}");
    assert_eq!(d.t.iter().count_entries(), 400);
    old.commit().unwrap();
    // No write since, yet the 200 pending keys make it due: they go.
    let third = pass();
    assert!(third.versions_seen > second.versions_seen, "{third:?}");
    assert_eq!(d.t.iter().count_entries(), 200);
    // Nothing left and nothing written: the tree is not walked again.
    let fourth = pass();
    assert_eq!(fourth.versions_seen, third.versions_seen, "{fourth:?}");
    // 10 deletions are below 50 + 40: not walked either.
    let delete = |ks: &[String]| {
        for k in ks {
            let mut t = d.begin(ReadCommitted);
            assert!(t.delete(&d.t, k.as_bytes()).unwrap());
            t.commit().unwrap();
        }
    };
    delete(&keys[..10]);
    let fifth = pass();
    assert_eq!(fifth.versions_seen, fourth.versions_seen, "{fifth:?}");
    // 100 more are over it: walked, and every deleted key is gone.
    delete(&keys[10..110]);
    let sixth = pass();
    assert!(sixth.versions_seen > fifth.versions_seen, "{sixth:?}");
    assert_eq!(d.t.iter().count_entries(), 90);
    assert_eq!(d.read_committed("k150"), Some(1));
    assert_eq!(sixth.errors, 0);
}

/// The file stays about the size of the live data under many updates of one
/// row (the issue asks for a million; 20 000 keep the test fast in debug
/// builds, and the bound does not grow with the count): with a 1 KiB row,
/// 20 000 unpruned versions would need ~2 500 pages.
#[test]
fn file_size_stays_bounded_under_many_updates_of_one_row() {
    let d = db();
    let row = vec![7u8; 1024];
    let mut t = d.begin(ReadCommitted);
    assert!(t.insert(&d.t, b"row", &row).unwrap());
    t.commit().unwrap();
    for i in 0..20_000u32 {
        let mut t = d.begin(ReadCommitted);
        let mut r = row.clone();
        r[..4].copy_from_slice(&i.to_be_bytes());
        t.put(&d.t, b"row", &r, false).unwrap();
        t.commit().unwrap();
    }
    let (pages, free) = d._engine.page_counts().unwrap();
    assert!(pages - free <= 8, "pages in use: {pages} - {free} free");
    assert!(pages <= 16, "file grew to {pages} pages");
    // The newest version and the one before it (which snapshots that do not
    // see the newest still read) remain; vacuum then leaves one.
    assert_eq!(d.t.iter().count_entries(), 2);
    d.txn.vacuum_tree(&d.t).unwrap();
    assert_eq!(d.t.iter().count_entries(), 1);
}

/// Threads withdraw from random accounts after checking (by a range scan)
/// that the total stays at or above zero afterwards. SERIALIZABLE with
/// retries must keep the invariant whatever the interleaving; the seed is
/// printed on failure (set ARBORDB_TEST_SEED to replay the choices).
#[test]
fn concurrent_withdrawals_never_break_the_total_invariant_under_serializable() {
    let seed: u64 = std::env::var("ARBORDB_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xa11ce);
    let d = Arc::new(db());
    d.load(&[
        ("acct/0", 30),
        ("acct/1", 30),
        ("acct/2", 30),
        ("acct/3", 30),
    ]);
    let hs: Vec<_> = (0..4u64)
        .map(|w| {
            let d = d.clone();
            thread::spawn(move || {
                let mut s = seed ^ (w.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
                let mut rnd = move || {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    s
                };
                let mut commits = 0;
                for _ in 0..40 {
                    let key = format!("acct/{}", rnd() % 4);
                    let amount = (rnd() % 25 + 1) as i64;
                    let r = (|| -> Result<bool, TxnError> {
                        let mut t = d.txn.begin(TxnOptions::new(Serializable))?;
                        t.begin_statement()?;
                        let mut total = 0;
                        for row in t.scan(
                            &d.t,
                            Bound::Included(b"acct/"),
                            Bound::Excluded(b"acct0"),
                            false,
                        )? {
                            total += int(&row?.1);
                        }
                        if total - amount < 0 {
                            t.commit()?;
                            return Ok(false);
                        }
                        // Widen the window between the check and the write.
                        thread::sleep(Duration::from_millis(1));
                        t.begin_statement()?;
                        let cur = int(&t.get(&d.t, key.as_bytes())?.unwrap());
                        t.put(&d.t, key.as_bytes(), &b(cur - amount), false)?;
                        t.commit()?;
                        Ok(true)
                    })();
                    match r {
                        Ok(true) => commits += 1,
                        Ok(false) => {}
                        Err(e) => assert!(e.is_retryable(), "seed {seed}: {e:?}"),
                    }
                }
                commits
            })
        })
        .collect();
    let commits: i32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
    let mut t = d.begin(ReadCommitted);
    let total: i64 = d.all(&mut t, false).iter().map(|r| r.1).sum();
    assert!(
        total >= 0,
        "seed {seed}: total {total} after {commits} withdrawals"
    );
    assert!(commits > 0, "seed {seed}: nothing committed");
}

/// An INSERT of a key with no versions checks and inserts in one tree
/// descent; a key that has versions (a live row, a tombstone, versions
/// over several leaves kept by an old snapshot) takes the general path.
#[test]
fn insert_finds_versions_across_leaves_duplicates_and_tombstones() {
    let d = db();
    let row = |i: u8| vec![i; 700];
    let mut t = d.begin(ReadCommitted);
    assert!(t.insert(&d.t, b"hot", &row(1)).unwrap());
    assert!(!t.insert(&d.t, b"hot", &row(2)).unwrap(), "own duplicate");
    t.commit().unwrap();
    // An old snapshot keeps every version: 40 of 700 bytes span leaves.
    let mut old = d.begin(RepeatableRead);
    assert_eq!(old.get(&d.t, b"hot").unwrap(), Some(row(1)));
    for i in 2..=40u8 {
        let mut t = d.begin(ReadCommitted);
        assert!(t.put(&d.t, b"hot", &row(i), false).unwrap());
        t.commit().unwrap();
    }
    let mut t = d.begin(ReadCommitted);
    assert!(!t.insert(&d.t, b"hot", &row(99)).unwrap(), "duplicate");
    assert!(t.delete(&d.t, b"hot").unwrap());
    t.commit().unwrap();
    let versions = d.t.prefix(b"hot", false).count();
    assert_eq!(versions, 41, "40 rows and a tombstone");
    assert!(
        !d.t.visit_leaf_range(b"hot", b"hou", |_, _| {}).unwrap(),
        "the versions span more than one leaf"
    );
    let mut t = d.begin(ReadCommitted);
    assert!(
        t.insert(&d.t, b"hot", &row(41)).unwrap(),
        "over a tombstone"
    );
    t.commit().unwrap();
    let mut t = d.begin(ReadCommitted);
    assert!(
        !t.insert(&d.t, b"hot", &row(42)).unwrap(),
        "duplicate again"
    );
    assert_eq!(t.get(&d.t, b"hot").unwrap(), Some(row(41)));
    // Neighbours of the long key: fresh keys on both sides of it.
    assert!(t.insert(&d.t, b"hos", &row(3)).unwrap());
    assert!(t.insert(&d.t, b"hotter", &row(4)).unwrap());
    assert!(!t.insert(&d.t, b"hotter", &row(5)).unwrap());
    t.commit().unwrap();
    assert_eq!(old.get(&d.t, b"hot").unwrap(), Some(row(1)), "old snapshot");
    assert_eq!(old.get(&d.t, b"hotter").unwrap(), None);
    old.commit().unwrap();
    let mut t = d.begin(ReadCommitted);
    assert_eq!(t.get(&d.t, b"hotter").unwrap(), Some(row(4)));
    t.commit().unwrap();
}
