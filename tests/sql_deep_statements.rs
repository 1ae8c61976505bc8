//! Statements whose trees nest deeply run on a thread with Rust's default
//! 2 MiB stack, or fail with PostgreSQL's 54001 `stack depth limit
//! exceeded` — never overflow the stack, which would abort the process.
//! sqllogictest's select5 (a 49-table join with 49 ANDs) once did.

use std::thread;

use arbordb::{Database, Session, SqlState, Value};

/// Rust's default for spawned threads, and what tokio's blocking pool
/// gives when not told otherwise.
const DEFAULT_STACK_BYTES: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with a 2 MiB stack.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    thread::Builder::new()
        .stack_size(DEFAULT_STACK_BYTES)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn session() -> Session {
    Database::in_memory().unwrap().session()
}

#[test]
fn a_join_of_sixty_four_tables_runs_on_a_default_stack() {
    let rows = on_small_stack(|| {
        let mut s = session();
        let n = 64;
        for i in 1..=n {
            s.execute(&format!(
                "CREATE TABLE t{i} (a{i} int PRIMARY KEY, b{i} int, x{i} text)"
            ))
            .unwrap();
            // t{i}.b{i} points at row (i % 5) + 1 of the next table.
            let values: Vec<String> = (1..=5)
                .map(|r| format!("({r}, {}, 't{i} row {r}')", (r + i) % 5 + 1))
                .collect();
            s.execute(&format!("INSERT INTO t{i} VALUES {}", values.join(", ")))
                .unwrap();
        }
        let from: Vec<String> = (1..=n).map(|i| format!("t{i}")).collect();
        let mut conds: Vec<String> = (1..n).map(|i| format!("b{i} = a{}", i + 1)).collect();
        conds.push("a1 = 3".into());
        let sql = format!(
            "SELECT x1, x{n} FROM {} WHERE {}",
            from.join(", "),
            conds.join(" AND ")
        );
        s.query(&sql).unwrap()
    });
    // Following the chain from t1 row 3: row r of t{i} leads to row (r + i) % 5 + 1.
    let mut r = 3;
    for i in 1..64 {
        r = (r + i) % 5 + 1;
    }
    assert_eq!(
        rows,
        vec![vec![
            Value::Text("t1 row 3".into()),
            Value::Text(format!("t64 row {r}")),
        ]]
    );
}

#[test]
fn a_where_of_thousands_of_ands_and_ors_binds_and_runs() {
    let counts = on_small_stack(|| {
        let mut s = session();
        s.execute("CREATE TABLE t (a int PRIMARY KEY, b int)")
            .unwrap();
        s.execute("INSERT INTO t SELECT g, g % 7 FROM generate_series(1, 100) g")
            .unwrap();
        let ands: Vec<String> = (0..5000).map(|i| format!("a <> {}", 1000 + i)).collect();
        let ors: Vec<String> = (0..5000).map(|i| format!("a = {}", 10 * i)).collect();
        let count = |s: &mut Session, w: &str| -> Value {
            s.query(&format!("SELECT count(*) FROM t WHERE b = 3 AND {w}"))
                .unwrap()
                .remove(0)
                .remove(0)
        };
        (
            count(&mut s, &ands.join(" AND ")),
            count(&mut s, &format!("({})", ors.join(" OR "))),
        )
    });
    // b = 3: a in {3, 10, 17, …, 94} (14 rows), none of them 1000 or more.
    assert_eq!(counts.0, Value::Int8(14));
    // Of those, multiples of 10: 10 and 80 (a % 7 = 3).
    assert_eq!(counts.1, Value::Int8(2));
}

#[test]
fn an_expression_too_deep_for_the_stack_fails_with_54001() {
    let results = on_small_stack(|| {
        let mut s = session();
        // sqlparser reads a chain of + in a loop, so its tree is as deep
        // as the chain is long; binding it recurses once per operator.
        let sum = format!("SELECT 1{}", " + 1".repeat(20_000));
        let deep = s.query(&sum).map_err(|e| (e.sqlstate, e.message));
        // The session is still usable afterwards.
        let after = s.query("SELECT 1 + 1").unwrap();
        (deep, after)
    });
    assert_eq!(
        results.0,
        Err((SqlState("54001"), "stack depth limit exceeded".to_string()))
    );
    assert_eq!(results.1, vec![vec![Value::Int4(2)]]);
}

#[test]
fn nested_subqueries_run_on_a_statement_stack_and_fail_cleanly_on_a_small_one() {
    let nested = |stack: usize| {
        thread::Builder::new()
            .stack_size(stack)
            .spawn(|| {
                let depth = 90;
                let sql = format!("SELECT {}1{}", "(SELECT ".repeat(depth), ")".repeat(depth));
                session().query(&sql).map_err(|e| e.sqlstate)
            })
            .unwrap()
            .join()
            .unwrap()
    };
    // The stack the server gives each statement holds it, as PostgreSQL's does.
    assert_eq!(
        nested(arbordb::sql::stack_depth::STATEMENT_STACK_BYTES),
        Ok(vec![vec![Value::Int4(1)]])
    );
    // A quarter of Rust's default does not: a clean error, not an abort.
    assert_eq!(nested(DEFAULT_STACK_BYTES / 4), Err(SqlState("54001")));
}

#[tokio::test]
async fn the_server_runs_statements_on_a_stack_that_holds_deep_subqueries() {
    let srv = arbordb::server::BackgroundServer::start(Database::in_memory().unwrap()).unwrap();
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=postgres", srv.addr().port()),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    // Too deep for a 2 MiB stack in a debug build (54001 above), not for
    // the server's statement threads.
    let depth = 90;
    let sql = format!("SELECT {}1{}", "(SELECT ".repeat(depth), ")".repeat(depth));
    let row = client.query_one(&sql, &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    // Too deep for any stack: an error, and the connection lives on.
    let sum = format!("SELECT 1{}", " + 1".repeat(200_000));
    let err = client.simple_query(&sum).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("54001"));
    let row = client.query_one("SELECT 2", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}
