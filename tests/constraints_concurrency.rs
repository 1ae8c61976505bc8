//! Constraints under concurrency over the embedded API, sessions on threads:
//! INSERT … ON CONFLICT waits for a concurrent writer of the key and then
//! updates or inserts (never 23505), concurrent upserts lose no increment,
//! and REPEATABLE READ sees 40001 for a conflicting row its snapshot misses,
//! as PostgreSQL 15 answers.

use std::thread;
use std::time::Duration;

use arbordb::{Database, Session, SqlState, Value};

fn one(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn tag(s: &mut Session, sql: &str) -> String {
    let mut r = s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    r.pop().map(|r| r.tag).unwrap_or_default()
}

#[test]
fn upsert_counts_inserted_and_updated_rows_in_its_tag() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE kv (k int PRIMARY KEY, v int)")
        .unwrap();
    s.execute("INSERT INTO kv VALUES (1, 1)").unwrap();
    assert_eq!(
        tag(
            &mut s,
            "INSERT INTO kv VALUES (1, 5), (2, 5) ON CONFLICT DO NOTHING"
        ),
        "INSERT 0 1"
    );
    assert_eq!(
        tag(
            &mut s,
            "INSERT INTO kv VALUES (1, 5), (2, 5), (3, 5) ON CONFLICT (k) DO UPDATE SET v = kv.v + 10 WHERE kv.k = 1"
        ),
        "INSERT 0 2"
    );
    assert_eq!(
        one(&mut s, "SELECT k, v FROM kv ORDER BY k"),
        vec![
            vec![Value::Int4(1), Value::Int4(11)],
            vec![Value::Int4(2), Value::Int4(5)],
            vec![Value::Int4(3), Value::Int4(5)],
        ]
    );
}

#[test]
fn upsert_waits_for_a_concurrent_insert_of_its_key_then_updates_or_inserts() {
    for first_commits in [true, false] {
        let db = Database::in_memory().unwrap();
        let mut a = db.session();
        a.execute("CREATE TABLE t (k int PRIMARY KEY, who text)")
            .unwrap();
        a.execute("BEGIN; INSERT INTO t VALUES (1, 'a')").unwrap();
        let db2 = db.clone();
        let b = thread::spawn(move || {
            let mut b = db2.session();
            b.execute(
                "INSERT INTO t VALUES (1, 'b') ON CONFLICT (k) DO UPDATE SET who = t.who || '+b'",
            )
            .map(|mut r| r.pop().map(|r| r.tag))
        });
        thread::sleep(Duration::from_millis(150));
        assert!(!b.is_finished(), "the upsert waits for the first inserter");
        a.execute(if first_commits { "COMMIT" } else { "ROLLBACK" })
            .unwrap();
        let tag = b.join().unwrap().unwrap();
        assert_eq!(tag.as_deref(), Some("INSERT 0 1"));
        let want = if first_commits { "a+b" } else { "b" };
        assert_eq!(
            one(&mut a, "SELECT who FROM t"),
            vec![vec![Value::Text(want.into())]]
        );
    }
}

#[test]
fn upsert_through_a_unique_index_waits_then_updates() {
    let db = Database::in_memory().unwrap();
    let mut a = db.session();
    a.execute("CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, n int)")
        .unwrap();
    a.execute("BEGIN; INSERT INTO u VALUES (1, 'x@y', 1)")
        .unwrap();
    let db2 = db.clone();
    let b = thread::spawn(move || {
        let mut b = db2.session();
        b.execute("INSERT INTO u VALUES (2, 'x@y', 1) ON CONFLICT (email) DO UPDATE SET n = u.n + EXCLUDED.n")
            .map(|_| ())
    });
    thread::sleep(Duration::from_millis(150));
    assert!(!b.is_finished());
    a.execute("COMMIT").unwrap();
    b.join().unwrap().unwrap();
    assert_eq!(
        one(&mut a, "SELECT id, email, n FROM u"),
        vec![vec![
            Value::Int4(1),
            Value::Text("x@y".into()),
            Value::Int4(2)
        ]]
    );
}

#[test]
fn concurrent_upserts_of_one_key_lose_no_increment_and_never_fail() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE hits (page text PRIMARY KEY, n int NOT NULL)")
        .unwrap();
    const THREADS: usize = 4;
    const ROUNDS: usize = 40;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            thread::spawn(move || {
                let mut s = db.session();
                for i in 0..ROUNDS {
                    let page = if (i + t) % 2 == 0 { "home" } else { "about" };
                    s.execute(&format!(
                        "INSERT INTO hits VALUES ('{page}', 1) ON CONFLICT (page) DO UPDATE SET n = hits.n + 1"
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let half = (THREADS * ROUNDS / 2) as i32;
    assert_eq!(
        one(&mut s, "SELECT page, n FROM hits ORDER BY page"),
        vec![
            vec![Value::Text("about".into()), Value::Int4(half)],
            vec![Value::Text("home".into()), Value::Int4(half)],
        ]
    );
}

#[test]
fn repeatable_read_upsert_of_a_row_its_snapshot_misses_is_40001() {
    let db = Database::in_memory().unwrap();
    let mut a = db.session();
    let mut b = db.session();
    a.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
        .unwrap();
    a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM t")
        .unwrap();
    b.execute("INSERT INTO t VALUES (1, 0)").unwrap();
    let e = a
        .execute("INSERT INTO t VALUES (1, 5) ON CONFLICT (k) DO UPDATE SET v = 9")
        .unwrap_err();
    assert_eq!(e.sqlstate, SqlState::SERIALIZATION_FAILURE);
    a.execute("ROLLBACK").unwrap();
    assert_eq!(one(&mut a, "SELECT v FROM t"), vec![vec![Value::Int4(0)]]);
}

fn fk_tables(db: &Database) {
    let mut s = db.session();
    s.execute("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (pid int REFERENCES p)")
        .unwrap();
    s.execute("INSERT INTO p VALUES (1)").unwrap();
}

#[test]
fn a_parent_delete_waits_for_a_referencing_insert_then_fails_or_succeeds() {
    for child_commits in [true, false] {
        let db = Database::in_memory().unwrap();
        fk_tables(&db);
        let mut a = db.session();
        a.execute("BEGIN; INSERT INTO c VALUES (1)").unwrap();
        let db2 = db.clone();
        let b = thread::spawn(move || {
            let mut b = db2.session();
            b.execute("DELETE FROM p WHERE id = 1").map(|_| ())
        });
        thread::sleep(Duration::from_millis(150));
        assert!(
            !b.is_finished(),
            "the delete waits for the child's FOR KEY SHARE lock"
        );
        a.execute(if child_commits { "COMMIT" } else { "ROLLBACK" })
            .unwrap();
        let r = b.join().unwrap();
        let parents = one(&mut a, "SELECT count(*) FROM p");
        if child_commits {
            let e = r.unwrap_err();
            assert_eq!(e.sqlstate, SqlState::FOREIGN_KEY_VIOLATION);
            assert_eq!(
                e.message,
                "update or delete on table \"p\" violates foreign key constraint \"c_pid_fkey\" on table \"c\""
            );
            assert_eq!(
                e.detail.as_deref(),
                Some("Key (id)=(1) is still referenced from table \"c\".")
            );
            assert_eq!(parents, vec![vec![Value::Int8(1)]]);
        } else {
            r.unwrap();
            assert_eq!(parents, vec![vec![Value::Int8(0)]]);
        }
    }
}

#[test]
fn a_referencing_insert_waits_for_a_parent_delete_then_fails_or_succeeds() {
    for delete_commits in [true, false] {
        let db = Database::in_memory().unwrap();
        fk_tables(&db);
        let mut a = db.session();
        a.execute("BEGIN; DELETE FROM p WHERE id = 1").unwrap();
        let db2 = db.clone();
        let b = thread::spawn(move || {
            let mut b = db2.session();
            b.execute("INSERT INTO c VALUES (1)").map(|_| ())
        });
        thread::sleep(Duration::from_millis(150));
        assert!(
            !b.is_finished(),
            "the insert waits for the parent's deleter"
        );
        a.execute(if delete_commits { "COMMIT" } else { "ROLLBACK" })
            .unwrap();
        let r = b.join().unwrap();
        if delete_commits {
            let e = r.unwrap_err();
            assert_eq!(e.sqlstate, SqlState::FOREIGN_KEY_VIOLATION);
            assert_eq!(
                e.detail.as_deref(),
                Some("Key (pid)=(1) is not present in table \"p\".")
            );
        } else {
            r.unwrap();
            assert_eq!(one(&mut a, "SELECT pid FROM c"), vec![vec![Value::Int4(1)]]);
        }
    }
}

#[test]
fn a_reference_to_a_parent_row_another_session_is_inserting_fails_at_once() {
    // PostgreSQL 15: the parent row is not there for the child's check
    // (its snapshot does not see it), so the insert fails with 23503
    // without waiting for the parent's inserter.
    let db = Database::in_memory().unwrap();
    fk_tables(&db);
    let mut a = db.session();
    a.execute("BEGIN; INSERT INTO p VALUES (2)").unwrap();
    let mut b = db.session();
    // A wait would end in 55P03 instead of 23503.
    b.execute("SET lock_timeout = '2s'").unwrap();
    let started = std::time::Instant::now();
    let e = b.execute("INSERT INTO c VALUES (2)").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::FOREIGN_KEY_VIOLATION);
    assert_eq!(
        e.detail.as_deref(),
        Some("Key (pid)=(2) is not present in table \"p\".")
    );
    assert!(started.elapsed() < Duration::from_secs(1), "no wait");
    a.execute("COMMIT").unwrap();
    b.execute("INSERT INTO c VALUES (2)").unwrap();
}
