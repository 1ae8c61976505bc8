//! Prepared SELECTs over the wire keep their plan between executions
//! (`src/sql/plan_cache.rs`); each test here changes what a plan was bound
//! against between two executions of one tokio-postgres prepared
//! statement — from another connection or with a SET — and checks that
//! the second execution answers as a fresh bind would. A stale plan would
//! read a dropped tree or index, an old column layout, another schema's
//! table, an old view body, or the time of the first execution.
//!
//! | changed between executions            | by          | checked answer          |
//! |---------------------------------------|-------------|-------------------------|
//! | DROP COLUMN + ADD COLUMN of that name | other conn  | the new column's value  |
//! | ADD COLUMN, rows in the new layout    | other conn  | the new rows            |
//! | DROP TABLE + CREATE TABLE             | other conn  | the new table's rows    |
//! | DROP INDEX, CREATE INDEX, more rows   | other conn  | every matching row      |
//! | CREATE OR REPLACE VIEW                | other conn  | the new body's values   |
//! | TRUNCATE                              | other conn  | no rows                 |
//! | SET search_path, set_config()         | same conn   | the other schema's row  |
//! | the clock                             | —           | a later now()           |

use std::time::Duration;

use arbordb::Database;
use arbordb::server::BackgroundServer;
use tokio_postgres::{Client, NoTls, Statement};

fn server() -> BackgroundServer {
    BackgroundServer::start(Database::in_memory().unwrap()).unwrap()
}

async fn connect(srv: &BackgroundServer) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=postgres", srv.addr().port()),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The text column of each row `stmt` returns for `id`.
async fn texts(c: &Client, stmt: &Statement, id: i32) -> Vec<String> {
    c.query(stmt, &[&id])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The int column of each row `stmt` returns for `v`.
async fn ids(c: &Client, stmt: &Statement, v: &str) -> Vec<i32> {
    c.query(stmt, &[&v])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn setup(c: &Client) {
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'one'), (2, 'two')",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_column_dropped_and_added_again_by_another_session_is_read_anew() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    let lookup = a.prepare("SELECT v FROM t WHERE id = $1").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    b.batch_execute(
        "ALTER TABLE t DROP COLUMN v;
         ALTER TABLE t ADD COLUMN v text DEFAULT 'new'",
    )
    .await
    .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["new"]);
    b.batch_execute("UPDATE t SET v = 'newer' WHERE id = 2")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 2).await, ["newer"]);
}

#[tokio::test]
async fn rows_written_after_another_session_adds_a_column_are_read() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    let lookup = a.prepare("SELECT v FROM t WHERE id = $1").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    b.batch_execute(
        "ALTER TABLE t ADD COLUMN w int DEFAULT 7;
         INSERT INTO t VALUES (3, 'three', 8)",
    )
    .await
    .unwrap();
    assert_eq!(texts(&a, &lookup, 3).await, ["three"]);
    let w = a.prepare("SELECT w FROM t WHERE id = $1").await.unwrap();
    let got: Vec<i32> = a
        .query(&w, &[&1i32])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, [7]);
}

#[tokio::test]
async fn a_table_dropped_and_created_again_by_another_session_is_read_anew() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    let lookup = a.prepare("SELECT v FROM t WHERE id = $1").await.unwrap();
    let scan = a
        .prepare("SELECT v FROM t WHERE id >= $1 ORDER BY id")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    assert_eq!(texts(&a, &scan, 1).await, ["one", "two"]);
    b.batch_execute(
        "DROP TABLE t;
         CREATE TABLE t (id int PRIMARY KEY, v text);
         INSERT INTO t VALUES (1, 'uno')",
    )
    .await
    .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["uno"]);
    assert_eq!(texts(&a, &scan, 1).await, ["uno"]);
    // A table dropped for good: the error a fresh bind gives.
    b.batch_execute("DROP TABLE t").await.unwrap();
    let e = a.query(&lookup, &[&1i32]).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("42P01"), "{e}");
}

#[tokio::test]
async fn an_index_dropped_or_created_by_another_session_misses_no_row() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    a.batch_execute("CREATE INDEX t_v ON t (v)").await.unwrap();
    let by_v = a
        .prepare("SELECT id FROM t WHERE v = $1 ORDER BY id")
        .await
        .unwrap();
    // The plan reads t_v; it must not outlive the index.
    assert_eq!(ids(&a, &by_v, "one").await, [1]);
    assert_eq!(ids(&a, &by_v, "one").await, [1]);
    b.batch_execute("DROP INDEX t_v; INSERT INTO t VALUES (3, 'one')")
        .await
        .unwrap();
    assert_eq!(ids(&a, &by_v, "one").await, [1, 3]);
    b.batch_execute("CREATE INDEX t_v2 ON t (v); INSERT INTO t VALUES (4, 'one')")
        .await
        .unwrap();
    assert_eq!(ids(&a, &by_v, "one").await, [1, 3, 4]);
    b.batch_execute("DROP INDEX t_v2; CREATE INDEX t_v3 ON t (v); INSERT INTO t VALUES (5, 'one')")
        .await
        .unwrap();
    assert_eq!(ids(&a, &by_v, "one").await, [1, 3, 4, 5]);
}

#[tokio::test]
async fn a_view_replaced_by_another_session_answers_with_its_new_body() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    a.batch_execute("CREATE VIEW tv AS SELECT id, v AS w FROM t")
        .await
        .unwrap();
    let lookup = a.prepare("SELECT w FROM tv WHERE id = $1").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    b.batch_execute("CREATE OR REPLACE VIEW tv AS SELECT id, upper(v) AS w FROM t")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["ONE"]);
    b.batch_execute("CREATE OR REPLACE VIEW tv AS SELECT id + 1 AS id, v AS w FROM t")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 2).await, ["one"]);
}

#[tokio::test]
async fn a_table_truncated_by_another_session_is_read_empty() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    let lookup = a.prepare("SELECT v FROM t WHERE id = $1").await.unwrap();
    assert_eq!(texts(&a, &lookup, 2).await, ["two"]);
    b.batch_execute("TRUNCATE t").await.unwrap();
    assert!(texts(&a, &lookup, 2).await.is_empty());
    b.batch_execute("INSERT INTO t VALUES (2, 'again')")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 2).await, ["again"]);
}

#[tokio::test]
async fn search_path_set_between_executions_chooses_the_table() {
    let srv = server();
    let (a, b) = (connect(&srv).await, connect(&srv).await);
    setup(&a).await;
    b.batch_execute(
        "CREATE SCHEMA s2;
         CREATE TABLE s2.t (id int PRIMARY KEY, v text);
         INSERT INTO s2.t VALUES (1, 's2 one')",
    )
    .await
    .unwrap();
    let lookup = a.prepare("SELECT v FROM t WHERE id = $1").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    a.batch_execute("SET search_path = s2, public")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["s2 one"]);
    a.batch_execute("RESET search_path").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    // Inside a block, SET LOCAL, then the block's end restores the path.
    a.batch_execute("BEGIN; SET LOCAL search_path = s2")
        .await
        .unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["s2 one"]);
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
    // set_config() in a prepared statement changes the path as SET does.
    let set_path = a
        .prepare("SELECT set_config('search_path', $1, false)")
        .await
        .unwrap();
    a.query(&set_path, &[&"s2, public"]).await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["s2 one"]);
    a.query(&set_path, &[&"public"]).await.unwrap();
    assert_eq!(texts(&a, &lookup, 1).await, ["one"]);
}

#[tokio::test]
async fn the_time_is_read_on_each_execution() {
    let srv = server();
    let a = connect(&srv).await;
    setup(&a).await;
    for sql in [
        "SELECT now()::text FROM t WHERE id = $1",
        "SELECT 'now'::timestamptz::text FROM t WHERE id = $1",
        "SELECT current_timestamp::text FROM t WHERE id = $1",
    ] {
        let stmt = a.prepare(sql).await.unwrap();
        let first = texts(&a, &stmt, 1).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let second = texts(&a, &stmt, 1).await;
        assert_eq!(first.len(), 1);
        assert_ne!(first, second, "{sql}: the second execution's time");
    }
}

#[tokio::test]
async fn parameters_are_read_on_each_execution() {
    let srv = server();
    let a = connect(&srv).await;
    setup(&a).await;
    let lookup = a
        .prepare("SELECT v FROM t WHERE id = $1 LIMIT $2")
        .await
        .unwrap();
    for (id, limit, want) in [(1, 1i64, vec!["one"]), (2, 1, vec!["two"]), (2, 0, vec![])] {
        let got: Vec<String> = a
            .query(&lookup, &[&id, &limit])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(got, want, "id {id} limit {limit}");
    }
}
