//! What a running statement hears and says over the wire: CancelRequest
//! (tokio-postgres' cancel token, psql's key data) and statement_timeout
//! stop it with 57014 and leave the session usable; NOTICE messages reach
//! the client (tokio-postgres' AsyncMessage::Notice, psql's stderr); role
//! statements change who may log in.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::wire::{PASSWORD, code, scram_server as server, try_connect};
use tokio_postgres::error::DbError;

/// Long enough to be interrupted: 10^5 x 10^3 pairs, no row kept.
const LONG_QUERY: &str = "WITH d(x) AS (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) \
     SELECT count(*) FROM (SELECT a.x FROM d a, d b, d c, d e, d f) l \
     JOIN (SELECT g.x FROM d g, d h, d i) r ON l.x + r.x < 0";

/// A client whose notices arrive on the returned channel.
async fn connect(
    srv: &arbordb::server::BackgroundServer,
    user: &str,
    password: &str,
) -> Result<
    (
        tokio_postgres::Client,
        tokio::sync::mpsc::UnboundedReceiver<DbError>,
    ),
    tokio_postgres::Error,
> {
    let c = try_connect(srv, user, password).await?;
    Ok((c.client, c.notices))
}

#[tokio::test]
async fn a_cancel_request_stops_the_running_query_with_57014() {
    let srv = server();
    let (client, _notices) = connect(&srv, "admin", PASSWORD).await.unwrap();
    // A safety net: should the cancel be lost, the test ends anyway.
    client
        .batch_execute("SET statement_timeout = '60s'")
        .await
        .unwrap();
    let cancel = client.cancel_token();
    let started = Instant::now();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let e = client.simple_query(LONG_QUERY).await.unwrap_err();
    canceller.await.unwrap();
    assert_eq!(
        code(&e),
        (
            "57014".into(),
            "canceling statement due to user request".into()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // The session carries on, and the next statement is not canceled.
    let row = client.query_one("SELECT 6 * 7", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
}

#[tokio::test]
async fn statement_timeout_stops_a_query_that_runs_too_long() {
    let srv = server();
    let (client, _notices) = connect(&srv, "admin", PASSWORD).await.unwrap();
    client
        .batch_execute("SET statement_timeout = 200")
        .await
        .unwrap();
    let started = Instant::now();
    let e = client.simple_query(LONG_QUERY).await.unwrap_err();
    assert_eq!(
        code(&e),
        (
            "57014".into(),
            "canceling statement due to statement timeout".into()
        )
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    // Extended protocol too.
    let e = client.query(LONG_QUERY, &[]).await.unwrap_err();
    assert_eq!(code(&e).0, "57014");
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
}

#[tokio::test]
async fn notices_reach_the_client_before_the_command_completes() {
    let srv = server();
    let (client, mut notices) = connect(&srv, "admin", PASSWORD).await.unwrap();
    client
        .batch_execute("DROP ROLE IF EXISTS ghost")
        .await
        .unwrap();
    let n = notices.recv().await.unwrap();
    assert_eq!(n.severity(), "NOTICE");
    assert_eq!(n.code().code(), "00000");
    assert_eq!(n.message(), "role \"ghost\" does not exist, skipping");
    // Extended protocol.
    client
        .execute("DROP ROLE IF EXISTS ghost2", &[])
        .await
        .unwrap();
    let n = notices.recv().await.unwrap();
    assert_eq!(n.message(), "role \"ghost2\" does not exist, skipping");
    // Notices raised before an error still arrive, then the error.
    let e = client
        .batch_execute("DROP ROLE IF EXISTS ghost3, ghost4; DROP ROLE ghost5")
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "42704");
    let a = notices.recv().await.unwrap();
    let b = notices.recv().await.unwrap();
    assert_eq!(a.message(), "role \"ghost3\" does not exist, skipping");
    assert_eq!(b.message(), "role \"ghost4\" does not exist, skipping");
}

#[tokio::test]
async fn roles_made_in_sql_log_in_with_their_passwords() {
    let srv = server();
    let (admin, _n) = connect(&srv, "admin", PASSWORD).await.unwrap();
    admin
        .batch_execute("CREATE USER bob PASSWORD 'first'")
        .await
        .unwrap();
    let e = admin.batch_execute("CREATE ROLE bob").await.unwrap_err();
    assert_eq!(
        code(&e),
        ("42710".into(), "role \"bob\" already exists".into())
    );
    let (bob, _n) = connect(&srv, "bob", "first").await.unwrap();
    let row = bob.query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "bob");
    let e = bob.batch_execute("CREATE ROLE eve").await.unwrap_err();
    assert_eq!(code(&e).0, "42501");
    // bob may change his own password.
    bob.batch_execute("ALTER ROLE bob PASSWORD 'second'")
        .await
        .unwrap();
    let e = connect(&srv, "bob", "first").await.err().unwrap();
    assert_eq!(code(&e).0, "28P01");
    connect(&srv, "bob", "second").await.unwrap();
    // A rolled-back CREATE leaves no role behind.
    admin
        .batch_execute("BEGIN; CREATE USER carol PASSWORD 'c'; ROLLBACK")
        .await
        .unwrap();
    let e = connect(&srv, "carol", "c").await.err().unwrap();
    assert_eq!(code(&e).0, "28P01");
    admin.batch_execute("ALTER ROLE bob NOLOGIN").await.unwrap();
    let e = connect(&srv, "bob", "second").await.err().unwrap();
    assert_eq!(code(&e).0, "28000");
    drop(bob);
    admin.batch_execute("DROP ROLE bob").await.unwrap();
    let e = connect(&srv, "bob", "second").await.err().unwrap();
    assert_eq!(code(&e).0, "28P01");
}

#[test]
fn psql_shows_notices_and_cancels_with_its_key() {
    let srv = server();
    let port = srv.addr().port().to_string();
    let psql = |sql: &str| {
        Command::new("psql")
            .args([
                "-X",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "admin",
                "-d",
                "x",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
    };
    let Ok(out) = psql("DROP ROLE IF EXISTS ghost") else {
        eprintln!("psql is not installed; skipping");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("NOTICE:  role \"ghost\" does not exist, skipping"),
        "{stderr}"
    );
    let out = psql("DROP TABLE IF EXISTS nosuch_t").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("NOTICE:  table \"nosuch_t\" does not exist, skipping"),
        "{stderr}"
    );
    // SIGINT makes psql send a CancelRequest with the connection's key.
    let child = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "admin",
            "-d",
            "x",
        ])
        .args(["-c", LONG_QUERY])
        .env("PGPASSWORD", PASSWORD)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("canceling statement due to user request"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_cancel_request_ends_a_wait_for_a_row_lock() {
    let srv = server();
    let (a, _na) = connect(&srv, "admin", PASSWORD).await.unwrap();
    let (b, _nb) = connect(&srv, "admin", PASSWORD).await.unwrap();
    a.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)")
        .await
        .unwrap();
    a.batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    let cancel = b.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let started = Instant::now();
    let e = b
        .batch_execute("UPDATE t SET v = 2 WHERE id = 1")
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert_eq!(
        code(&e),
        (
            "57014".into(),
            "canceling statement due to user request".into()
        )
    );
    assert!(started.elapsed() >= Duration::from_millis(250), "it waited");
    a.batch_execute("ROLLBACK").await.unwrap();
    b.batch_execute("UPDATE t SET v = 3 WHERE id = 1")
        .await
        .unwrap();
    let row = a.query_one("SELECT v FROM t", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 3);
}

#[tokio::test]
async fn shutdown_cuts_off_a_statement_still_running_after_the_grace_period() {
    let srv = arbordb::server::BackgroundServer::start_with(
        arbordb::Database::in_memory().unwrap(),
        arbordb::server::ServerConfig {
            auth: arbordb::server::AuthMethod::Scram,
            shutdown_grace_ms: 300,
            initial_superuser: Some(arbordb::server::InitialSuperuser {
                name: "admin".into(),
                password: Some(PASSWORD.into()),
                also: Vec::new(),
            }),
            ..arbordb::server::ServerConfig::default()
        },
    )
    .unwrap();
    let busy = try_connect(&srv, "admin", PASSWORD).await.unwrap();
    let idle = try_connect(&srv, "admin", PASSWORD).await.unwrap();
    let running = tokio::spawn(async move { busy.client.simple_query(LONG_QUERY).await });
    // The long query is under way on its connection's thread.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    tokio::task::spawn_blocking(move || srv.shutdown())
        .await
        .unwrap();
    // Grace (300 ms) plus the wait for cut-off connections (1 s), with room.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    let cut = running.await.unwrap();
    assert!(cut.is_err(), "the running query was not cut off: {cut:?}");
    // The idle client was told (57P01) and its connection is closed.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), idle.closed)
            .await
            .unwrap()
            .unwrap(),
        Some("57P01".into())
    );
    assert!(idle.client.simple_query("SELECT 1").await.is_err());
}
