//! A written version is its writer's lock: an INSERT, UPDATE or DELETE
//! holds the row lock only while it writes, and whoever comes next for the
//! key waits for the writing transaction behind its version (PostgreSQL
//! waits on the tuple's xmin / xmax the same way). Real threads over real B+-trees; each outcome mirrors what
//! PostgreSQL 15 does with the same statements in concurrent psql sessions.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use arbordb::storage::{Engine, EngineOptions, Tree};
use arbordb::txn::{
    IsolationLevel, LockConfig, RowLock, RowLockMode, SsiConfig, Transaction, TxnEngine, TxnError,
    TxnOptions, VolatileXidLog, WaitPolicy, Xid,
};

struct Db {
    _engine: Engine,
    txn: Arc<TxnEngine>,
    t: Tree,
}

fn db(row_locks_max: usize) -> Db {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 512,
    })
    .unwrap();
    let t = engine.create_tree().unwrap();
    let lock = LockConfig {
        deadlock_timeout_ms: 100,
        row_locks_max,
    };
    Db {
        _engine: engine,
        txn: TxnEngine::new(
            Arc::new(VolatileXidLog),
            Xid::FIRST_NORMAL.0,
            lock,
            SsiConfig::default(),
        ),
        t,
    }
}

impl Db {
    fn begin(&self) -> Transaction {
        let mut t = self
            .txn
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        t
    }
}

/// Runs `f` on a thread with its own transaction and checks it is still
/// blocked after a while.
fn blocked<T: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&mut Transaction, &Tree) -> T + Send + 'static,
) -> thread::JoinHandle<(Transaction, T)> {
    let (txn, tree) = (db.txn.clone(), db.t.clone());
    let h = thread::spawn(move || {
        let mut x = txn
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        x.begin_statement().unwrap();
        let r = f(&mut x, &tree);
        (x, r)
    });
    thread::sleep(Duration::from_millis(150));
    assert!(!h.is_finished(), "the second writer waits");
    h
}

#[test]
fn a_transaction_inserting_more_rows_than_the_lock_table_holds_commits() {
    let db = db(64);
    let mut a = db.begin();
    for i in 0u32..5_000 {
        assert!(a.insert(&db.t, &i.to_be_bytes(), b"row").unwrap());
    }
    // Its own lock is the one entry left.
    assert_eq!(db.txn.locks.held_entries(), 1);
    a.commit().unwrap();
    assert_eq!(db.txn.locks.held_entries(), 0);
    let mut r = db.begin();
    assert_eq!(
        r.get(&db.t, &4_999u32.to_be_bytes()).unwrap().unwrap(),
        b"row"
    );
}

#[test]
fn a_transaction_updating_and_deleting_more_rows_than_the_lock_table_holds_commits() {
    let db = db(64);
    let mut a = db.begin();
    for i in 0u32..3_000 {
        assert!(a.insert(&db.t, &i.to_be_bytes(), b"row").unwrap());
    }
    a.commit().unwrap();
    let mut b = db.begin();
    for i in 0u32..3_000 {
        // What an UPDATE statement does per row: lock, then write.
        let locked = b
            .lock_row(
                &db.t,
                &i.to_be_bytes(),
                RowLockMode::NoKeyUpdate,
                WaitPolicy::Block,
                "t",
            )
            .unwrap();
        assert!(matches!(
            locked,
            RowLock::Locked {
                current: Some(_),
                ..
            }
        ));
        assert!(b.put(&db.t, &i.to_be_bytes(), b"new", false).unwrap());
    }
    b.begin_statement().unwrap();
    for i in 0u32..1_500 {
        assert!(b.delete(&db.t, &i.to_be_bytes()).unwrap());
    }
    assert_eq!(db.txn.locks.held_entries(), 1);
    b.commit().unwrap();
    let mut r = db.begin();
    assert_eq!(r.get(&db.t, &0u32.to_be_bytes()).unwrap(), None);
    assert_eq!(
        r.get(&db.t, &2_999u32.to_be_bytes()).unwrap().unwrap(),
        b"new"
    );
}

#[test]
fn key_share_waits_for_a_running_delete_but_not_for_a_running_update() {
    let db = db(1 << 16);
    let mut setup = db.begin();
    assert!(setup.insert(&db.t, b"u", b"1").unwrap());
    assert!(setup.insert(&db.t, b"d", b"1").unwrap());
    setup.commit().unwrap();
    let mut a = db.begin();
    assert!(a.put(&db.t, b"u", b"2", false).unwrap());
    assert!(a.delete(&db.t, b"d").unwrap());
    // The update's version is compatible: the row as committed.
    let mut b = db.begin();
    assert!(matches!(
        b.lock_row(&db.t, b"u", RowLockMode::KeyShare, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::Locked { current: Some(ref r), .. } if r == b"1"
    ));
    // The delete's tombstone is not: NOWAIT fails, and a blocking request
    // waits until the deleter ends, then finds no row.
    let e = b
        .lock_row(&db.t, b"d", RowLockMode::KeyShare, WaitPolicy::NoWait, "t")
        .unwrap_err();
    assert!(matches!(e, TxnError::LockNotAvailable { .. }), "{e:?}");
    let h = blocked(&db, |x, t| {
        x.lock_row(t, b"d", RowLockMode::KeyShare, WaitPolicy::Block, "t")
            .unwrap()
    });
    a.commit().unwrap();
    let (c, locked) = h.join().unwrap();
    assert!(matches!(locked, RowLock::Locked { current: None, .. }));
    c.commit().unwrap();
    b.commit().unwrap();
}

#[test]
fn a_second_insert_of_a_key_waits_then_fails_or_succeeds() {
    for first_commits in [true, false] {
        let db = db(1 << 16);
        let mut a = db.begin();
        assert!(a.insert(&db.t, b"k", b"a").unwrap());
        let h = blocked(&db, |x, t| x.insert(t, b"k", b"b").unwrap());
        if first_commits {
            a.commit().unwrap();
        } else {
            a.rollback().unwrap();
        }
        let (b, inserted) = h.join().unwrap();
        // Committed first: a duplicate (23505 above); rolled back: the
        // second insert goes in.
        assert_eq!(inserted, !first_commits);
        b.commit().unwrap();
        let want: &[u8] = if first_commits { b"a" } else { b"b" };
        assert_eq!(db.begin().get(&db.t, b"k").unwrap().unwrap(), want);
    }
}

#[test]
fn a_rollback_to_savepoint_wakes_the_insert_waiting_behind_it() {
    let db = db(1 << 16);
    let mut a = db.begin();
    a.savepoint("s").unwrap();
    assert!(a.insert(&db.t, b"k", b"a").unwrap());
    let h = blocked(&db, |x, t| x.insert(t, b"k", b"b").unwrap());
    let started = Instant::now();
    a.rollback_to("s").unwrap();
    while !h.is_finished() && started.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(5));
    }
    let woken = h.is_finished();
    a.commit().unwrap();
    let (b, inserted) = h.join().unwrap();
    assert!(woken, "the waiter is woken by the rollback to savepoint");
    assert!(
        inserted,
        "the key is free once the savepoint is rolled back"
    );
    b.commit().unwrap();
    assert_eq!(db.begin().get(&db.t, b"k").unwrap().unwrap(), b"b");
}

#[test]
fn the_inserter_changes_its_row_while_another_waits_for_it() {
    // a: INSERT k; b: INSERT k (waits, holding k's row lock); a: UPDATE k,
    // DELETE-free: a must not wait for b, which waits for a.
    let db = db(1 << 16);
    let mut a = db.begin();
    assert!(a.insert(&db.t, b"k", b"a1").unwrap());
    let h = blocked(&db, |x, t| x.insert(t, b"k", b"b").unwrap());
    a.begin_statement().unwrap();
    assert!(a.put(&db.t, b"k", b"a2", false).unwrap());
    a.begin_statement().unwrap();
    assert!(matches!(
        a.lock_row(&db.t, b"k", RowLockMode::Update, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::SelfUpdated | RowLock::Locked { .. }
    ));
    a.commit().unwrap();
    let (b, inserted) = h.join().unwrap();
    assert!(!inserted, "a's row is there");
    b.commit().unwrap();
    assert_eq!(db.begin().get(&db.t, b"k").unwrap().unwrap(), b"a2");
}

#[test]
fn update_nowait_and_skip_locked_on_a_row_being_inserted() {
    let db = db(1 << 16);
    let mut a = db.begin();
    assert!(a.insert(&db.t, b"k", b"a").unwrap());
    let mut b = db.begin();
    // Blind writes reach the key only through its row lock and then find
    // a's running version: NOWAIT fails with 55P03, SKIP LOCKED skips.
    let e = b
        .lock_row(&db.t, b"k", RowLockMode::Update, WaitPolicy::NoWait, "t")
        .unwrap_err();
    assert!(matches!(e, TxnError::LockNotAvailable { .. }), "{e:?}");
    b.rollback().unwrap();
    let mut c = db.begin();
    assert!(matches!(
        c.lock_row(
            &db.t,
            b"k",
            RowLockMode::Update,
            WaitPolicy::SkipLocked,
            "t"
        )
        .unwrap(),
        RowLock::Skipped
    ));
    // SKIP LOCKED gave its row lock back: a third locker is not blocked.
    let mut d = db.begin();
    assert!(matches!(
        d.lock_row(&db.t, b"k", RowLockMode::KeyShare, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::Locked { current: None, .. }
    ));
    // It found no row, so it holds no lock: the inserter locks its row
    // without waiting.
    a.begin_statement().unwrap();
    assert!(matches!(
        a.lock_row(&db.t, b"k", RowLockMode::Update, WaitPolicy::NoWait, "t")
            .unwrap(),
        RowLock::Locked { .. }
    ));
    d.commit().unwrap();
    a.commit().unwrap();
}

#[test]
fn two_inserters_waiting_for_each_other_deadlock_with_40p01() {
    let db = db(1 << 16);
    let mut a = db.begin();
    assert!(a.insert(&db.t, b"x", b"a").unwrap());
    let (txn, tree) = (db.txn.clone(), db.t.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let h = thread::spawn(move || {
        let mut b = txn
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        b.begin_statement().unwrap();
        assert!(b.insert(&tree, b"y", b"b").unwrap());
        ready_tx.send(()).unwrap();
        let r = b.insert(&tree, b"x", b"b");
        // The victim rolls back, which lets the other one through.
        if r.is_err() {
            drop(b);
            return (None, r);
        }
        (Some(b), r)
    });
    ready_rx.recv().unwrap();
    let ra = a.insert(&db.t, b"y", b"a");
    if ra.is_err() {
        drop(a);
        let (b, rb) = h.join().unwrap();
        assert!(rb.unwrap());
        assert!(matches!(ra, Err(TxnError::Deadlock { .. })), "{ra:?}");
        b.unwrap().commit().unwrap();
        return;
    }
    let (b, rb) = h.join().unwrap();
    let deadlocks = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Err(TxnError::Deadlock { .. })))
        .count();
    assert_eq!(deadlocks, 1, "one victim: {ra:?} {rb:?}");
    assert!(b.is_none());
    a.commit().unwrap();
}
