//! Authentication as real clients see it: SCRAM-SHA-256 with tokio-postgres
//! and psql, md5 for md5-stored passwords, trust on loopback, and
//! PostgreSQL 15's answers for a wrong password (28P01), an unknown role
//! (28P01 under SCRAM so role existence does not leak, 28000 under trust) and
//! a role without LOGIN (28000).
//!
//! | method | role            | password | answer |
//! |--------|-----------------|----------|--------|
//! | scram  | superuser       | right    | connected |
//! | scram  | superuser       | wrong    | FATAL 28P01 password authentication failed |
//! | scram  | unknown         | any      | FATAL 28P01 (same message) |
//! | scram  | no password     | any      | FATAL 28P01 |
//! | trust  | unknown         | —        | FATAL 28000 role "x" does not exist |
//! | trust  | NOLOGIN         | —        | FATAL 28000 not permitted to log in |
//! | md5    | md5-stored      | right    | connected (AuthenticationMD5Password) |
//! | md5    | SCRAM-stored    | right    | connected (SCRAM, as PostgreSQL does) |

use std::process::Command;

use arbordb::Database;
use arbordb::catalog::Catalog;
use arbordb::catalog::role::{RoleDef, StoredPassword};
use arbordb::server::{AuthMethod, BackgroundServer, InitialSuperuser, ServerConfig};
use arbordb::txn::{IsolationLevel, TxnOptions};

const PASSWORD: &str = "s3cret pässword";

fn server(auth: AuthMethod, db: Database) -> BackgroundServer {
    BackgroundServer::start_with(
        db,
        ServerConfig {
            auth,
            initial_superuser: Some(InitialSuperuser {
                name: "admin".into(),
                password: Some(PASSWORD.into()),
                also: Vec::new(),
            }),
            ..ServerConfig::default()
        },
    )
    .unwrap()
}

/// Adds a role through the catalog directly (below SQL).
fn add_role(db: &Database, role: RoleDef) {
    let stack = db.stack();
    let catalog = Catalog::open(stack).unwrap();
    let mut txn = stack
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    txn.begin_statement().unwrap();
    catalog.create_role(&mut txn, role).unwrap();
    txn.commit().unwrap();
}

async fn connect(
    srv: &BackgroundServer,
    user: &str,
    password: Option<&str>,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(srv.addr().port())
        .user(user)
        .dbname("arbordb");
    if let Some(p) = password {
        config.password(p);
    }
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The SQLSTATE and message of a failed connection.
fn db_error(e: tokio_postgres::Error) -> (String, String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {e}"));
    (
        db.code().code().to_owned(),
        db.severity().to_owned(),
        db.message().to_owned(),
    )
}

#[tokio::test]
async fn scram_accepts_the_right_password_and_refuses_a_wrong_one_with_28p01() {
    let srv = server(AuthMethod::Scram, Database::in_memory().unwrap());
    let client = connect(&srv, "admin", Some(PASSWORD)).await.unwrap();
    let row = client.query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "admin");

    let e = connect(&srv, "admin", Some("wrong")).await.unwrap_err();
    assert_eq!(
        db_error(e),
        (
            "28P01".into(),
            "FATAL".into(),
            "password authentication failed for user \"admin\"".into()
        )
    );
    // No password at all: the driver cannot answer the SASL request.
    assert!(connect(&srv, "admin", None).await.is_err());
}

#[tokio::test]
async fn scram_answers_an_unknown_role_exactly_as_a_wrong_password() {
    let db = Database::in_memory().unwrap();
    let srv = server(AuthMethod::Scram, db.clone());
    let mut nopw = RoleDef::new("nopw");
    nopw.login = true;
    add_role(&db, nopw);
    for user in ["ghost", "nopw"] {
        let e = connect(&srv, user, Some(PASSWORD)).await.unwrap_err();
        assert_eq!(
            db_error(e),
            (
                "28P01".into(),
                "FATAL".into(),
                format!("password authentication failed for user \"{user}\"")
            ),
            "{user}"
        );
    }
}

#[tokio::test]
async fn trust_on_loopback_needs_an_existing_role_that_may_log_in() {
    let db = Database::in_memory().unwrap();
    let srv = server(AuthMethod::TrustLoopback, db.clone());
    let mut nologin = RoleDef::new("reader");
    nologin.password = Some(StoredPassword::from_sql(PASSWORD).unwrap());
    add_role(&db, nologin);
    // Loopback is trusted: no password asked for.
    let client = connect(&srv, "admin", None).await.unwrap();
    let row = client.query_one("SELECT 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    let e = connect(&srv, "ghost", None).await.unwrap_err();
    assert_eq!(
        db_error(e),
        (
            "28000".into(),
            "FATAL".into(),
            "role \"ghost\" does not exist".into()
        )
    );
    let e = connect(&srv, "reader", None).await.unwrap_err();
    assert_eq!(
        db_error(e),
        (
            "28000".into(),
            "FATAL".into(),
            "role \"reader\" is not permitted to log in".into()
        )
    );
}

#[tokio::test]
async fn a_nologin_role_is_refused_after_a_correct_scram_exchange() {
    let db = Database::in_memory().unwrap();
    let srv = server(AuthMethod::Scram, db.clone());
    let mut nologin = RoleDef::new("reader");
    nologin.password = Some(StoredPassword::from_sql(PASSWORD).unwrap());
    add_role(&db, nologin);
    let e = connect(&srv, "reader", Some(PASSWORD)).await.unwrap_err();
    assert_eq!(db_error(e).0, "28000");
    let e = connect(&srv, "reader", Some("wrong")).await.unwrap_err();
    assert_eq!(db_error(e).0, "28P01");
}

#[tokio::test]
async fn md5_method_uses_md5_for_md5_hashes_and_scram_for_verifiers() {
    let db = Database::in_memory().unwrap();
    let srv = server(AuthMethod::Md5, db.clone());
    let mut old = RoleDef::new("legacy");
    old.login = true;
    // md5(password ++ user), as PostgreSQL's password_encryption = md5 stores it.
    let hash = format!("md5{:x}", md5::compute(format!("{PASSWORD}legacy")));
    old.password = Some(StoredPassword::from_sql(&hash).unwrap());
    add_role(&db, old);
    let client = connect(&srv, "legacy", Some(PASSWORD)).await.unwrap();
    let (ok, out) = psql(&srv, "legacy", PASSWORD, "SELECT 1").unwrap_or((true, "1".into()));
    assert!(ok && out.trim() == "1", "psql answers md5 too: {out}");
    let row = client.query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "legacy");
    let e = connect(&srv, "legacy", Some("wrong")).await.unwrap_err();
    assert_eq!(db_error(e).0, "28P01");
    // The superuser has a SCRAM verifier: SCRAM is used for it.
    connect(&srv, "admin", Some(PASSWORD)).await.unwrap();
    let e = connect(&srv, "admin", Some("wrong")).await.unwrap_err();
    assert_eq!(db_error(e).0, "28P01");
}

#[tokio::test]
async fn the_initial_superuser_is_created_once_and_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let srv = server(AuthMethod::Scram, Database::open(dir.path()).unwrap());
        connect(&srv, "admin", Some(PASSWORD)).await.unwrap();
    }
    // A later start naming someone else creates nobody: the roles exist.
    let srv = BackgroundServer::start_with(
        Database::open(dir.path()).unwrap(),
        ServerConfig {
            auth: AuthMethod::Scram,
            initial_superuser: Some(InitialSuperuser {
                name: "intruder".into(),
                password: Some("x".into()),
                also: Vec::new(),
            }),
            ..ServerConfig::default()
        },
    )
    .unwrap();
    connect(&srv, "admin", Some(PASSWORD)).await.unwrap();
    let e = connect(&srv, "intruder", Some("x")).await.unwrap_err();
    assert_eq!(db_error(e).0, "28P01");
}

/// Runs psql against the server; `None` when psql is not installed.
fn psql(srv: &BackgroundServer, user: &str, password: &str, sql: &str) -> Option<(bool, String)> {
    let out = Command::new("psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-h",
            "127.0.0.1",
            "-p",
            &srv.addr().port().to_string(),
            "-U",
            user,
            "-d",
            "arbordb",
            "-c",
            sql,
        ])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .ok()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

#[test]
fn psql_logs_in_with_scram_and_reports_a_wrong_password() {
    let srv = server(AuthMethod::Scram, Database::in_memory().unwrap());
    let Some((ok, out)) = psql(&srv, "admin", PASSWORD, "SELECT 40 + 2") else {
        eprintln!("psql is not installed; skipping");
        return;
    };
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "42");
    let (ok, out) = psql(&srv, "admin", "wrong", "SELECT 1").unwrap();
    assert!(!ok);
    assert!(
        out.contains("FATAL:  password authentication failed for user \"admin\""),
        "{out}"
    );
}

/// A self-signed certificate and key made by openssl; `None` without it.
fn self_signed(dir: &std::path::Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    made.status.success().then_some((cert, key))
}

#[test]
fn psql_requiring_tls_gets_it_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let Some((cert, key)) = self_signed(dir.path()) else {
        eprintln!("openssl is not installed; skipping");
        return;
    };
    let tls = arbordb::server::Tls::from_pem_files(&cert, &key).unwrap();
    let plain = server(AuthMethod::Scram, Database::in_memory().unwrap());
    let secure = BackgroundServer::start_with(
        Database::in_memory().unwrap(),
        ServerConfig {
            auth: AuthMethod::Scram,
            initial_superuser: Some(InitialSuperuser {
                name: "admin".into(),
                password: Some(PASSWORD.into()),
                also: Vec::new(),
            }),
            tls: Some(tls),
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let run = |srv: &BackgroundServer, sslmode: &str| {
        let out = Command::new("psql")
            .args(["-X", "-A", "-t", "-c", "SELECT 'over ' || 'tls'"])
            .arg(format!(
                "host=127.0.0.1 port={} user=admin dbname=arbordb sslmode={sslmode}",
                srv.addr().port()
            ))
            .env("PGPASSWORD", PASSWORD)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .ok()?;
        Some((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    };
    let Some((ok, out)) = run(&secure, "require") else {
        eprintln!("psql is not installed; skipping");
        return;
    };
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "over tls");
    // Without a certificate the SSLRequest is answered 'N'.
    let (ok, out) = run(&plain, "require").unwrap();
    assert!(!ok);
    assert!(out.contains("server does not support SSL"), "{out}");
    let (ok, out) = run(&plain, "prefer").unwrap();
    assert!(ok, "prefer falls back to no TLS: {out}");
}

#[tokio::test]
async fn is_superuser_at_startup_says_what_the_role_is() {
    let db = Database::in_memory().unwrap();
    let srv = server(AuthMethod::Scram, db.clone());
    let mut clerk = RoleDef::new("clerk");
    clerk.login = true;
    clerk.password = Some(StoredPassword::from_sql(PASSWORD).unwrap());
    add_role(&db, clerk);
    for (user, expected) in [("admin", "on"), ("clerk", "off")] {
        let (_client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(srv.addr().port())
            .user(user)
            .password(PASSWORD)
            .dbname("arbordb")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap();
        assert_eq!(
            connection.parameter("is_superuser"),
            Some(expected),
            "{user}"
        );
        assert_eq!(
            connection.parameter("session_authorization"),
            Some(user),
            "{user}"
        );
    }
}
