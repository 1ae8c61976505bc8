//! Tables through SQL over the embedded API: transactional DDL, durability
//! across a reopen, two sessions inserting one primary key, and no lost
//! update for `v = v + 1` at READ COMMITTED with several threads.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use arbordb::{Database, Session, SqlState, Value};

fn one(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn count(s: &mut Session, sql: &str) -> i64 {
    match one(s, sql).as_slice() {
        [row] => match row.as_slice() {
            [Value::Int8(n)] => *n,
            other => panic!("{sql}: {other:?}"),
        },
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn create_table_in_a_rolled_back_transaction_leaves_nothing() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("BEGIN; CREATE TABLE gone (a int PRIMARY KEY); INSERT INTO gone VALUES (1)")
        .unwrap();
    assert_eq!(count(&mut s, "SELECT count(*) FROM gone"), 1);
    // Another session does not see the uncommitted table.
    let mut other = db.session();
    let e = other.execute("SELECT * FROM gone").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::UNDEFINED_TABLE);
    s.execute("ROLLBACK").unwrap();
    let e = s.execute("SELECT * FROM gone").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::UNDEFINED_TABLE);
    // The name is free again, and a committed DROP is undone by ROLLBACK too.
    s.execute("CREATE TABLE gone (b text)").unwrap();
    s.execute("BEGIN; DROP TABLE gone; ROLLBACK").unwrap();
    assert_eq!(count(&mut s, "SELECT count(*) FROM gone"), 0);
}

#[test]
fn an_error_in_a_multi_statement_query_undoes_the_whole_query() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a int PRIMARY KEY)").unwrap();
    let e = s
        .execute("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)")
        .unwrap_err();
    assert_eq!(e.sqlstate, SqlState::UNIQUE_VIOLATION);
    assert_eq!(e.detail.as_deref(), Some("Key (a)=(1) already exists."));
    assert_eq!(count(&mut s, "SELECT count(*) FROM t"), 0);
}

#[test]
fn savepoints_undo_to_the_mark_and_resume_a_failed_block() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a int PRIMARY KEY)").unwrap();
    s.execute("BEGIN; INSERT INTO t VALUES (1); SAVEPOINT sp; INSERT INTO t VALUES (2)")
        .unwrap();
    assert!(s.execute("INSERT INTO t VALUES (1)").is_err());
    let e = s.execute("SELECT 1").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::IN_FAILED_SQL_TRANSACTION);
    s.execute("ROLLBACK TO SAVEPOINT sp; INSERT INTO t VALUES (3); COMMIT")
        .unwrap();
    let rows = one(&mut s, "SELECT a FROM t ORDER BY a");
    assert_eq!(rows, vec![vec![Value::Int4(1)], vec![Value::Int4(3)]]);
}

#[test]
fn read_only_transactions_reject_writes_with_25006() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (a int)").unwrap();
    s.execute("BEGIN READ ONLY").unwrap();
    let e = s.execute("INSERT INTO t VALUES (1)").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::READ_ONLY_SQL_TRANSACTION);
    assert_eq!(
        e.message,
        "cannot execute INSERT in a read-only transaction"
    );
    s.execute("ROLLBACK").unwrap();
    s.execute("SET default_transaction_read_only = on").unwrap();
    let e = s.execute("CREATE TABLE u (a int)").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::READ_ONLY_SQL_TRANSACTION);
}

#[test]
fn rows_and_tables_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.execute("CREATE TABLE t (k bigint PRIMARY KEY, v text, n numeric(8,3))")
            .unwrap();
        s.execute("CREATE TABLE heap (x int)").unwrap();
        s.execute("INSERT INTO t VALUES (1, 'one', 1.5), (2, NULL, -2.25)")
            .unwrap();
        s.execute("INSERT INTO heap VALUES (7), (7)").unwrap();
        s.execute("BEGIN; INSERT INTO t VALUES (3, 'uncommitted', 0); ROLLBACK")
            .unwrap();
        db.flush().unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    let rows = one(&mut s, "SELECT k, v, n FROM t ORDER BY k");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][1], Value::Text("one".into()));
    assert_eq!(rows[1][1], Value::Null);
    assert_eq!(rows[1][2].to_text(), "-2.250");
    // Hidden row ids continue after the ones already used.
    s.execute("INSERT INTO heap VALUES (8)").unwrap();
    assert_eq!(count(&mut s, "SELECT count(*) FROM heap"), 3);
    let e = s
        .execute("INSERT INTO t VALUES (1, 'again', 0)")
        .unwrap_err();
    assert_eq!(e.sqlstate, SqlState::UNIQUE_VIOLATION);
}

#[test]
fn a_second_session_inserting_the_same_key_waits_then_fails_or_succeeds() {
    for first_commits in [true, false] {
        let db = Database::in_memory().unwrap();
        let mut a = db.session();
        a.execute("CREATE TABLE t (k int PRIMARY KEY, who text)")
            .unwrap();
        a.execute("BEGIN; INSERT INTO t VALUES (1, 'a')").unwrap();
        let db2 = db.clone();
        let started = Arc::new(Barrier::new(2));
        let b_started = started.clone();
        let b = thread::spawn(move || {
            let mut b = db2.session();
            b_started.wait();
            let r = b.execute("INSERT INTO t VALUES (1, 'b')");
            (r.map(|_| ()), std::time::Instant::now())
        });
        started.wait();
        // b blocks on a's uncommitted row.
        thread::sleep(Duration::from_millis(150));
        assert!(!b.is_finished(), "the second inserter must wait");
        let ended = std::time::Instant::now();
        a.execute(if first_commits { "COMMIT" } else { "ROLLBACK" })
            .unwrap();
        let (r, finished) = b.join().unwrap();
        assert!(finished >= ended);
        let who = one(&mut a, "SELECT who FROM t");
        if first_commits {
            let e = r.unwrap_err();
            assert_eq!(e.sqlstate, SqlState::UNIQUE_VIOLATION);
            assert_eq!(who, vec![vec![Value::Text("a".into())]]);
        } else {
            r.unwrap();
            assert_eq!(who, vec![vec![Value::Text("b".into())]]);
        }
    }
}

#[test]
fn concurrent_increments_at_read_committed_lose_no_update() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE counters (id int PRIMARY KEY, v int NOT NULL)")
        .unwrap();
    s.execute("INSERT INTO counters VALUES (1, 0), (2, 0)")
        .unwrap();
    const THREADS: usize = 4;
    const ROUNDS: usize = 50;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || {
                let mut s = db.session();
                for i in 0..ROUNDS {
                    // Some in explicit blocks, some autocommit.
                    if i % 2 == 0 {
                        s.execute("BEGIN; UPDATE counters SET v = v + 1 WHERE id = 1; UPDATE counters SET v = v + 1 WHERE v >= 0 AND id = 2; COMMIT")
                            .unwrap();
                    } else {
                        s.execute("UPDATE counters SET v = v + 1").unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let rows = one(&mut s, "SELECT id, v FROM counters ORDER BY id");
    let n = (THREADS * ROUNDS) as i32;
    assert_eq!(
        rows,
        vec![
            vec![Value::Int4(1), Value::Int4(n)],
            vec![Value::Int4(2), Value::Int4(n)]
        ]
    );
}

#[test]
fn repeatable_read_update_of_a_concurrently_changed_row_is_40001() {
    let db = Database::in_memory().unwrap();
    let mut a = db.session();
    let mut b = db.session();
    a.execute("CREATE TABLE t (k int PRIMARY KEY, v int)")
        .unwrap();
    a.execute("INSERT INTO t VALUES (1, 0)").unwrap();
    a.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT * FROM t")
        .unwrap();
    b.execute("UPDATE t SET v = 5 WHERE k = 1").unwrap();
    let e = a.execute("UPDATE t SET v = v + 1 WHERE k = 1").unwrap_err();
    assert_eq!(e.sqlstate, SqlState::SERIALIZATION_FAILURE);
    assert_eq!(
        e.message,
        "could not serialize access due to concurrent update"
    );
    a.execute("ROLLBACK").unwrap();
    assert_eq!(one(&mut a, "SELECT v FROM t"), vec![vec![Value::Int4(5)]]);
}

#[test]
fn a_unique_index_makes_a_concurrent_duplicate_wait_then_fail() {
    let db = Database::in_memory().unwrap();
    let mut a = db.session();
    a.execute("CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE)")
        .unwrap();
    a.execute("BEGIN; INSERT INTO u VALUES (1, 'x@y')").unwrap();
    let db2 = db.clone();
    let b = thread::spawn(move || {
        let mut b = db2.session();
        b.execute("INSERT INTO u VALUES (2, 'x@y')").map(|_| ())
    });
    thread::sleep(Duration::from_millis(150));
    assert!(!b.is_finished(), "the second inserter waits for the first");
    a.execute("COMMIT").unwrap();
    let e = b.join().unwrap().unwrap_err();
    assert_eq!(e.sqlstate, SqlState::UNIQUE_VIOLATION);
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"u_email_key\""
    );
    assert_eq!(
        e.detail.as_deref(),
        Some("Key (email)=(x@y) already exists.")
    );
}

#[test]
fn explain_names_the_access_path_and_lookups_agree_with_scans() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (k int PRIMARY KEY, g int, v text)")
        .unwrap();
    s.execute("CREATE INDEX t_g ON t (g DESC)").unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let k = next() % 60;
        let g = next() % 7;
        let sql = match next() % 3 {
            0 => format!("INSERT INTO t VALUES ({k}, {g}, 'v{k}')"),
            1 => format!("UPDATE t SET g = {g} WHERE k = {k}"),
            _ => format!("DELETE FROM t WHERE k = {k}"),
        };
        let _ = s.execute(&sql);
    }
    let plan = |s: &mut Session, q: &str| -> String {
        one(s, &format!("EXPLAIN {q}"))
            .into_iter()
            .map(|r| r[0].to_text())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        plan(&mut s, "SELECT * FROM t WHERE k = 5"),
        "Index Scan using t_pkey on t"
    );
    assert_eq!(
        plan(&mut s, "SELECT * FROM t WHERE g = 5"),
        "Index Scan using t_g on t"
    );
    assert_eq!(
        plan(&mut s, "SELECT * FROM t WHERE v = 'x'"),
        "Seq Scan on t"
    );
    for g in 0..7 {
        for (indexed, full) in [
            (format!("g = {g}"), format!("g + 0 = {g}")),
            (format!("g > {g}"), format!("g + 0 > {g}")),
            (
                format!("g <= {g} AND g >= 2"),
                format!("g + 0 <= {g} AND g + 0 >= 2"),
            ),
            (format!("k < {}", g * 9), format!("k + 0 < {}", g * 9)),
        ] {
            let a = one(
                &mut s,
                &format!("SELECT k, g FROM t WHERE {indexed} ORDER BY k"),
            );
            let b = one(
                &mut s,
                &format!("SELECT k, g FROM t WHERE {full} ORDER BY k"),
            );
            assert_eq!(a, b, "{indexed}");
        }
    }
}
