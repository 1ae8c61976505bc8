//! The row lock manager under real threads: blocking and wake-up, FIFO order,
//! shared grants, deadlocks between two and three transactions, lock and
//! statement timeouts, cancellation. Waits are condvar waits; these tests
//! also check that a blocked thread really is parked (it has not returned)
//! and that it wakes promptly when released.

use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use arbordb::txn::{
    CancelToken, LockConfig, LockManager, LockOutcome, LockTarget, LockWait, RowLockMode, TreeId,
    TxnError, WaitPolicy, Xid,
};

use RowLockMode::*;

fn target(k: &str) -> LockTarget {
    LockTarget {
        tree: TreeId(1),
        key: k.as_bytes().to_vec(),
    }
}

fn manager(deadlock_timeout_ms: u64) -> Arc<LockManager> {
    Arc::new(LockManager::new(LockConfig {
        deadlock_timeout_ms,
        row_locks_max: 10_000,
    }))
}

fn wait_until_waiting(m: &LockManager, xid: Xid) {
    let start = Instant::now();
    while !m.is_waiting(xid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{xid} never waited"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_second_writer_blocks_until_the_first_releases() {
    let m = manager(10_000);
    let w = LockWait::block("t");
    m.lock(Xid(2), &target("r"), Update, w).unwrap();
    let m2 = m.clone();
    let h = thread::spawn(move || m2.lock(Xid(3), &target("r"), NoKeyUpdate, LockWait::block("t")));
    wait_until_waiting(&m, Xid(3));
    thread::sleep(Duration::from_millis(30));
    assert!(!h.is_finished(), "the waiter must still be parked");
    let released = Instant::now();
    m.release_all(Xid(2));
    assert_eq!(
        h.join().unwrap().unwrap(),
        LockOutcome::Acquired { waited: true }
    );
    assert!(
        released.elapsed() < Duration::from_millis(500),
        "woken promptly"
    );
    assert_eq!(m.holders(&target("r")), vec![(Xid(3), NoKeyUpdate)]);
}

#[test]
fn waiters_are_woken_in_arrival_order() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("r"), Update, LockWait::block("t"))
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for x in [3u64, 4, 5] {
        let (m2, tx) = (m.clone(), tx.clone());
        handles.push(thread::spawn(move || {
            m2.lock(Xid(x), &target("r"), Update, LockWait::block("t"))
                .unwrap();
            tx.send(x).unwrap();
            thread::sleep(Duration::from_millis(20));
            m2.release_all(Xid(x));
        }));
        wait_until_waiting(&m, Xid(x));
    }
    m.release_all(Xid(2));
    let order: Vec<u64> = (0..3).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(order, vec![3, 4, 5]);
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn compatible_waiters_at_the_head_are_granted_together() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("r"), Update, LockWait::block("t"))
        .unwrap();
    let mut hs = Vec::new();
    for x in [3u64, 4] {
        let m2 = m.clone();
        hs.push(thread::spawn(move || {
            m2.lock(Xid(x), &target("r"), Share, LockWait::block("t"))
        }));
        wait_until_waiting(&m, Xid(x));
    }
    let m2 = m.clone();
    let upd = thread::spawn(move || m2.lock(Xid(5), &target("r"), Update, LockWait::block("t")));
    wait_until_waiting(&m, Xid(5));
    m.release_all(Xid(2));
    for h in hs {
        assert!(h.join().unwrap().is_ok());
    }
    assert_eq!(
        m.holders(&target("r")),
        vec![(Xid(3), Share), (Xid(4), Share)]
    );
    assert!(m.is_waiting(Xid(5)), "UPDATE waits for both sharers");
    // A new KEY SHARE is compatible with the holders but queues behind UPDATE.
    assert_eq!(
        m.lock(
            Xid(6),
            &target("r"),
            KeyShare,
            LockWait::block("t").with_policy(WaitPolicy::SkipLocked)
        )
        .unwrap(),
        LockOutcome::Skipped
    );
    m.release_all(Xid(3));
    m.release_all(Xid(4));
    assert!(upd.join().unwrap().is_ok());
}

#[test]
fn key_share_does_not_block_a_no_key_update() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("r"), KeyShare, LockWait::block("t"))
        .unwrap();
    let nowait = LockWait::block("t").with_policy(WaitPolicy::NoWait);
    assert!(m.lock(Xid(3), &target("r"), NoKeyUpdate, nowait).is_ok());
    let e = m.lock(Xid(4), &target("r"), Share, nowait).unwrap_err();
    assert_eq!(
        e,
        TxnError::LockNotAvailable {
            relation: "t".into()
        }
    );
}

#[test]
fn deadlock_between_two_transactions_aborts_one_with_40p01() {
    let m = manager(50);
    let w = LockWait::block("t");
    m.lock(Xid(2), &target("a"), Update, w).unwrap();
    m.lock(Xid(3), &target("b"), Update, w).unwrap();
    let spawn = |x: u64, k: &'static str| {
        let m2 = m.clone();
        thread::spawn(move || {
            let r = m2.lock(Xid(x), &target(k), Update, LockWait::block("t"));
            // The victim's transaction ends: its locks go.
            if r.is_err() {
                m2.release_all(Xid(x));
            }
            r
        })
    };
    let h2 = spawn(2, "b");
    let h3 = spawn(3, "a");
    let (r2, r3) = (h2.join().unwrap(), h3.join().unwrap());
    let errors: Vec<&TxnError> = [&r2, &r3]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(errors.len(), 1, "exactly one victim: {r2:?} {r3:?}");
    assert_eq!(errors[0].sqlstate().code(), "40P01");
    match errors[0] {
        TxnError::Deadlock { detail } => {
            assert!(detail.contains("blocked by transaction"), "{detail}")
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn deadlock_among_three_transactions_is_detected() {
    let m = manager(50);
    let w = LockWait::block("t");
    for (x, k) in [(2, "a"), (3, "b"), (4, "c")] {
        m.lock(Xid(x), &target(k), Update, w).unwrap();
    }
    let hs: Vec<_> = [(2u64, "b"), (3, "c"), (4, "a")]
        .into_iter()
        .map(|(x, k)| {
            let m2 = m.clone();
            thread::spawn(move || {
                let r = m2.lock(Xid(x), &target(k), Update, LockWait::block("t"));
                if r.is_err() {
                    m2.release_all(Xid(x));
                } else {
                    thread::sleep(Duration::from_millis(10));
                    m2.release_all(Xid(x));
                }
                r
            })
        })
        .collect();
    let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let victims = results.iter().filter(|r| r.is_err()).count();
    assert!((1..3).contains(&victims), "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.sqlstate().code(), "40P01");
        }
    }
}

#[test]
fn a_long_wait_without_a_cycle_is_not_a_deadlock() {
    let m = manager(20);
    m.lock(Xid(2), &target("a"), Update, LockWait::block("t"))
        .unwrap();
    let m2 = m.clone();
    let h = thread::spawn(move || m2.lock(Xid(3), &target("a"), Update, LockWait::block("t")));
    thread::sleep(Duration::from_millis(100)); // well past deadlock_timeout
    m.release_all(Xid(2));
    assert_eq!(
        h.join().unwrap().unwrap(),
        LockOutcome::Acquired { waited: true }
    );
}

#[test]
fn lock_timeout_ends_the_wait_with_55p03() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("a"), Update, LockWait::block("t"))
        .unwrap();
    let start = Instant::now();
    let mut w = LockWait::block("t");
    w.lock_timeout = Some(Duration::from_millis(60));
    let e = m.lock(Xid(3), &target("a"), Share, w).unwrap_err();
    assert_eq!(e, TxnError::LockTimeout);
    assert_eq!(e.sqlstate().code(), "55P03");
    assert!(start.elapsed() >= Duration::from_millis(60));
    assert!(!m.is_waiting(Xid(3)), "the waiter left the queue");
    // And the queue is clean: the holder's release grants nobody stale.
    m.release_all(Xid(2));
    assert!(m.holders(&target("a")).is_empty());
}

#[test]
fn statement_timeout_ends_the_wait_with_57014() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("a"), Update, LockWait::block("t"))
        .unwrap();
    let mut w = LockWait::block("t");
    w.deadline = Some(Instant::now() + Duration::from_millis(40));
    let e = m.lock(Xid(3), &target("a"), Update, w).unwrap_err();
    assert_eq!(e, TxnError::StatementTimeout);
    assert_eq!(e.sqlstate().code(), "57014");
}

#[test]
fn cancel_wakes_a_waiter_at_once_with_57014() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("a"), Update, LockWait::block("t"))
        .unwrap();
    let token = Arc::new(CancelToken::new());
    let (m2, t2) = (m.clone(), token.clone());
    let h = thread::spawn(move || {
        let mut w = LockWait::block("t");
        w.cancel = Some(&t2);
        m2.lock(Xid(3), &target("a"), Update, w)
    });
    wait_until_waiting(&m, Xid(3));
    let start = Instant::now();
    token.cancel();
    let e = h.join().unwrap().unwrap_err();
    assert_eq!(e, TxnError::Canceled);
    assert!(start.elapsed() < Duration::from_millis(500));
    assert!(!m.is_waiting(Xid(3)));
}

#[test]
fn a_failed_waiter_unblocks_compatible_waiters_behind_it() {
    let m = manager(10_000);
    m.lock(Xid(2), &target("a"), Share, LockWait::block("t"))
        .unwrap();
    let m2 = m.clone();
    let upd = thread::spawn(move || {
        let mut w = LockWait::block("t");
        w.lock_timeout = Some(Duration::from_millis(80));
        m2.lock(Xid(3), &target("a"), Update, w)
    });
    wait_until_waiting(&m, Xid(3));
    // KEY SHARE queues behind the UPDATE waiter...
    let m3 = m.clone();
    let ks = thread::spawn(move || m3.lock(Xid(4), &target("a"), KeyShare, LockWait::block("t")));
    wait_until_waiting(&m, Xid(4));
    // ...and is granted when the UPDATE waiter times out.
    assert_eq!(upd.join().unwrap().unwrap_err(), TxnError::LockTimeout);
    assert!(ks.join().unwrap().is_ok());
}

#[test]
fn upgrade_from_share_to_update_waits_for_other_sharers_only() {
    let m = manager(10_000);
    let w = LockWait::block("t");
    m.lock(Xid(2), &target("a"), Share, w).unwrap();
    m.lock(Xid(3), &target("a"), Share, w).unwrap();
    let m2 = m.clone();
    let h = thread::spawn(move || m2.lock(Xid(2), &target("a"), Update, LockWait::block("t")));
    wait_until_waiting(&m, Xid(2));
    m.release_all(Xid(3));
    assert!(h.join().unwrap().is_ok());
    assert_eq!(m.holders(&target("a")), vec![(Xid(2), Update)]);
    m.release_all(Xid(2));
    assert_eq!(m.held_entries(), 0);
}
