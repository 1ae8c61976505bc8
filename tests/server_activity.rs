//! What one session sees of the others over the wire: `pg_stat_activity`
//! (state, query, lock waits), `pg_cancel_backend` / `pg_terminate_backend`
//! with PostgreSQL's permission rules, `pg_stat_statements` (normalised
//! text, calls, latency percentiles), and LISTEN / NOTIFY delivered only
//! at commit, to idle clients too.

mod common;

use std::time::{Duration, Instant};

use common::wire::{PASSWORD, code, connect, scram_server as server};
use tokio_postgres::{Client, SimpleQueryMessage};

/// The session's backend pid, asked with a simple query: a prepared one
/// would leave tokio-postgres closing its statement in the background,
/// and a session terminated meanwhile would answer that Close with the
/// FATAL the test waits for.
async fn pid(c: &Client) -> i32 {
    let rows = c.simple_query("SELECT pg_backend_pid()").await.unwrap();
    rows.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .unwrap()
}

/// Polls `f` until it returns Some, for up to 20 s.
async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "condition not reached in 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pg_stat_activity_shows_each_session_its_state_and_lock_waits() {
    let srv = server();
    let watcher = connect(&srv, "admin", PASSWORD).await;
    let holder = connect(&srv, "admin", PASSWORD).await;
    let waiter = connect(&srv, "admin", PASSWORD).await;
    let (holder_pid, waiter_pid) = (pid(&holder.client).await, pid(&waiter.client).await);
    assert_ne!(holder_pid, waiter_pid);
    watcher
        .client
        .batch_execute(
            "CREATE TABLE acct (id int PRIMARY KEY, v int); INSERT INTO acct VALUES (1, 0)",
        )
        .await
        .unwrap();
    holder
        .client
        .batch_execute("BEGIN; UPDATE acct SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    let blocked = tokio::spawn(async move {
        let r = waiter
            .client
            .execute("UPDATE acct SET v = 2 WHERE id = 1", &[])
            .await;
        (waiter, r)
    });

    let q = "SELECT pid, state, wait_event_type, wait_event, query, usename, application_name \
             FROM pg_stat_activity ORDER BY pid";
    let rows = eventually(|| async {
        let rows = watcher.client.query(q, &[]).await.unwrap();
        let waiting = rows
            .iter()
            .any(|r| r.get::<_, i32>(0) == waiter_pid && r.get::<_, Option<String>>(3).is_some());
        waiting.then_some(rows)
    })
    .await;
    let by_pid = |p: i32| {
        rows.iter()
            .find(|r| r.get::<_, i32>(0) == p)
            .unwrap_or_else(|| panic!("pid {p} missing from pg_stat_activity"))
    };
    let w = by_pid(waiter_pid);
    assert_eq!(w.get::<_, String>(1), "active");
    assert_eq!(w.get::<_, Option<String>>(2).as_deref(), Some("Lock"));
    assert_eq!(
        w.get::<_, Option<String>>(3).as_deref(),
        Some("transactionid")
    );
    assert_eq!(w.get::<_, String>(4), "UPDATE acct SET v = 2 WHERE id = 1");
    let h = by_pid(holder_pid);
    assert_eq!(h.get::<_, String>(1), "idle in transaction");
    assert_eq!(h.get::<_, Option<String>>(2), None);
    assert_eq!(
        h.get::<_, String>(4),
        "BEGIN; UPDATE acct SET v = 1 WHERE id = 1"
    );
    assert_eq!(h.get::<_, String>(5), "admin");
    assert_eq!(h.get::<_, String>(6), "admin");
    // The watcher sees itself running this very query.
    let me = pid(&watcher.client).await;
    assert_eq!(by_pid(me).get::<_, String>(1), "active");
    assert_eq!(by_pid(me).get::<_, String>(4), q);

    // The lock wait is canceled from another session: 57014 there only.
    let canceled: bool = watcher
        .client
        .query_one("SELECT pg_cancel_backend($1)", &[&waiter_pid])
        .await
        .unwrap()
        .get(0);
    assert!(canceled);
    let (waiter, r) = blocked.await.unwrap();
    assert_eq!(code(&r.unwrap_err()).0, "57014");
    holder.client.batch_execute("COMMIT").await.unwrap();
    let v: i32 = waiter
        .client
        .query_one("SELECT v FROM acct WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 1);

    // A session that leaves leaves the view.
    drop(holder);
    eventually(|| async {
        let n: i64 = watcher
            .client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&holder_pid],
            )
            .await
            .unwrap()
            .get(0);
        (n == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn pg_terminate_backend_closes_the_session_with_57p01() {
    let srv = server();
    let admin = connect(&srv, "admin", PASSWORD).await;
    let mut idle = connect(&srv, "admin", PASSWORD).await;
    let busy = connect(&srv, "admin", PASSWORD).await;
    let (idle_pid, busy_pid) = (pid(&idle.client).await, pid(&busy.client).await);

    // An idle session is closed at once, without sending anything.
    let done: bool = admin
        .client
        .query_one("SELECT pg_terminate_backend($1)", &[&idle_pid])
        .await
        .unwrap()
        .get(0);
    assert!(done);
    let end = tokio::time::timeout(Duration::from_secs(20), &mut idle.closed)
        .await
        .expect("the terminated session was not closed")
        .unwrap();
    assert_eq!(end.as_deref(), Some("57P01"));
    assert!(idle.client.simple_query("SELECT 1").await.is_err());

    // A busy one: its statement ends with 57P01 and the connection closes.
    let running = tokio::spawn(async move {
        let r = busy.client.simple_query("SELECT pg_sleep(30)").await;
        (busy, r)
    });
    eventually(|| async {
        let rows = admin
            .client
            .query(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                &[&busy_pid],
            )
            .await
            .unwrap();
        (!rows.is_empty()).then_some(())
    })
    .await;
    let started = Instant::now();
    admin
        .client
        .query_one("SELECT pg_terminate_backend($1)", &[&busy_pid])
        .await
        .unwrap();
    let (busy, r) = running.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    let e = r.unwrap_err();
    assert_eq!(
        code(&e),
        (
            "57P01".into(),
            "terminating connection due to administrator command".into()
        )
    );
    assert!(busy.client.simple_query("SELECT 1").await.is_err());

    // An unknown pid: false and a warning, as PostgreSQL.
    let f: bool = admin
        .client
        .query_one("SELECT pg_terminate_backend(1)", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!f);
    // The server serves everyone else as before; the closed sessions leave
    // pg_stat_activity once their threads are done.
    eventually(|| async {
        let n: i64 = admin
            .client
            .query_one("SELECT count(*) FROM pg_stat_activity", &[])
            .await
            .unwrap()
            .get(0);
        (n == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn signalling_another_roles_session_needs_privilege() {
    let srv = server();
    let admin = connect(&srv, "admin", PASSWORD).await;
    admin
        .client
        .batch_execute("CREATE ROLE bob LOGIN PASSWORD 'b'; CREATE ROLE carol LOGIN PASSWORD 'c'")
        .await
        .unwrap();
    let bob = connect(&srv, "bob", "b").await;
    let bob2 = connect(&srv, "bob", "b").await;
    let carol = connect(&srv, "carol", "c").await;
    let (admin_pid, bob2_pid, carol_pid) = (
        pid(&admin.client).await,
        pid(&bob2.client).await,
        pid(&carol.client).await,
    );
    let e = bob
        .client
        .query_one("SELECT pg_terminate_backend($1)", &[&admin_pid])
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "42501".into(),
            "must be a superuser to terminate superuser process".into()
        )
    );
    let e = bob
        .client
        .query_one("SELECT pg_cancel_backend($1)", &[&carol_pid])
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        (
            "42501".into(),
            "must be a member of the role whose query is being canceled or member of pg_signal_backend"
                .into()
        )
    );
    // Its own role's sessions it may signal.
    let ok: bool = bob
        .client
        .query_one("SELECT pg_cancel_backend($1)", &[&bob2_pid])
        .await
        .unwrap()
        .get(0);
    assert!(ok);
    drop(carol);
}

#[tokio::test]
async fn pg_stat_statements_groups_by_normalised_text_with_percentiles() {
    let srv = server();
    let c = connect(&srv, "admin", PASSWORD).await;
    c.client
        .batch_execute("CREATE TABLE kv (k int PRIMARY KEY, v text)")
        .await
        .unwrap();
    c.client
        .query_one("SELECT pg_stat_statements_reset()", &[])
        .await
        .unwrap();
    let insert = c
        .client
        .prepare("INSERT INTO kv VALUES ($1, $2)")
        .await
        .unwrap();
    for k in 0..200i32 {
        c.client
            .execute(&insert, &[&k, &format!("v{k}")])
            .await
            .unwrap();
    }
    for k in [3, 5, 7] {
        c.client
            .simple_query(&format!("SELECT v FROM kv WHERE k = {k}"))
            .await
            .unwrap();
    }
    // A failed statement is not counted.
    assert!(
        c.client
            .simple_query("SELECT v FROM kv WHERE k = 'x'")
            .await
            .is_err()
    );

    let rows = c
        .client
        .query(
            "SELECT query, calls, rows, total_exec_time, min_exec_time, max_exec_time, \
                    mean_exec_time, p50_exec_time, p95_exec_time, p99_exec_time \
             FROM pg_stat_statements ORDER BY calls DESC, query",
            &[],
        )
        .await
        .unwrap();
    let find = |text: &str| {
        rows.iter()
            .find(|r| r.get::<_, String>(0) == text)
            .unwrap_or_else(|| {
                let all: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                panic!("{text:?} not in pg_stat_statements: {all:?}")
            })
    };
    let ins = find("INSERT INTO kv VALUES ($1, $2)");
    assert_eq!(ins.get::<_, i64>(1), 200);
    assert_eq!(ins.get::<_, i64>(2), 200);
    let (total, min, max, mean, p50, p95, p99): (f64, f64, f64, f64, f64, f64, f64) = (
        ins.get(3),
        ins.get(4),
        ins.get(5),
        ins.get(6),
        ins.get(7),
        ins.get(8),
        ins.get(9),
    );
    assert!(
        min > 0.0 && min <= mean && mean <= max,
        "{min} {mean} {max}"
    );
    assert!((total / 200.0 - mean).abs() < 1e-6 * total.max(1.0));
    // Each percentile is within a bucket (5%) of the range it must lie in.
    assert!(p50 <= p95 && p95 <= p99, "{p50} {p95} {p99}");
    assert!(
        p50 >= min / 1.06 && p99 <= max * 1.06,
        "{min} {p50} {p99} {max}"
    );
    let sel = find("SELECT v FROM kv WHERE k = $1");
    assert_eq!(sel.get::<_, i64>(1), 3);
    assert_eq!(sel.get::<_, i64>(2), 3);

    // Resetting needs superuser.
    c.client
        .batch_execute("CREATE ROLE dave LOGIN PASSWORD 'd'")
        .await
        .unwrap();
    let dave = connect(&srv, "dave", "d").await;
    let e = dave
        .client
        .query_one("SELECT pg_stat_statements_reset()", &[])
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, "42501");
}

#[tokio::test]
async fn notify_reaches_listeners_at_commit_only() {
    let srv = server();
    let mut listener = connect(&srv, "admin", PASSWORD).await;
    let sender = connect(&srv, "admin", PASSWORD).await;
    let sender_pid = pid(&sender.client).await;
    listener.client.batch_execute("LISTEN jobs").await.unwrap();
    let channels = listener.client.simple_query("SELECT 1").await.unwrap();
    assert!(matches!(
        channels.last(),
        Some(SimpleQueryMessage::CommandComplete(1))
    ));

    // Inside a transaction nothing goes out until COMMIT.
    sender
        .client
        .batch_execute(
            "BEGIN; NOTIFY jobs, 'first'; NOTIFY jobs, 'first'; SELECT pg_notify('jobs', 'second')",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(listener.notifications.try_recv().is_err());
    sender.client.batch_execute("COMMIT").await.unwrap();
    // The listener is idle: it is woken, not waiting for its next query.
    let mut got = Vec::new();
    for _ in 0..2 {
        let n = tokio::time::timeout(Duration::from_secs(20), listener.notifications.recv())
            .await
            .expect("notification not delivered to an idle listener")
            .unwrap();
        got.push((
            n.channel().to_owned(),
            n.payload().to_owned(),
            n.process_id(),
        ));
    }
    let sender_pid = sender_pid as u32 as i32;
    assert_eq!(
        got,
        vec![
            ("jobs".to_owned(), "first".to_owned(), sender_pid),
            ("jobs".to_owned(), "second".to_owned(), sender_pid),
        ]
    );

    // A rolled-back NOTIFY is never sent; another channel is not heard.
    sender
        .client
        .batch_execute("BEGIN; NOTIFY jobs, 'never'; ROLLBACK; NOTIFY other, 'x'")
        .await
        .unwrap();
    // UNLISTEN stops delivery.
    listener.client.batch_execute("UNLISTEN *").await.unwrap();
    sender
        .client
        .batch_execute("NOTIFY jobs, 'late'")
        .await
        .unwrap();
    listener.client.simple_query("SELECT 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(listener.notifications.try_recv().is_err());

    // The payload limit and an empty channel are 22023.
    let e = sender
        .client
        .query_one("SELECT pg_notify('', 'x')", &[])
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        ("22023".into(), "channel name cannot be empty".into())
    );
    let big = "x".repeat(8000);
    let e = sender
        .client
        .query_one("SELECT pg_notify('jobs', $1)", &[&big])
        .await
        .unwrap_err();
    assert_eq!(code(&e), ("22023".into(), "payload string too long".into()));
}
