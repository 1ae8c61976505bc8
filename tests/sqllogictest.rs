//! Runs every `sqllogictest/**/*.slt` file against each target, one test
//! function per target (STYLE.md #8: one corpus, many targets):
//!
//! | test                         | database                                   |
//! |------------------------------|--------------------------------------------|
//! | `slt_embedded_in_memory`     | `Database::in_memory()`, `Session::execute` |
//! | `slt_embedded_on_disk`       | `Database::open(tempdir)`                  |
//! | `slt_wire`                   | `BackgroundServer` over `Database::in_memory()`, tokio-postgres simple query |
//! | `slt_postgres_oracle`        | PostgreSQL 15, opt-in: set `ARBORDB_SLT_ORACLE` to a libpq string, e.g. `host=127.0.0.1 port=5433 user=postgres` |
//!
//! A failure names the file and line of every failing record. The harness's
//! own behaviour (SQLSTATE matching, failure collection, named connections)
//! is checked on a scripted fake connection in the `harness_*` tests.

mod common;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::slt::{self, HarnessError, Storage};
use sqllogictest::{DB, DBOutput, DefaultColumnType, Runner};

#[test]
fn slt_embedded_in_memory() {
    slt::check_all("memory", |path| {
        slt::run_file_embedded(path, Storage::Memory)
    });
}

#[test]
fn slt_embedded_on_disk() {
    slt::check_all("disk", |path| slt::run_file_embedded(path, Storage::Disk));
}

#[test]
fn slt_wire() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    slt::check_all("wire", |path| {
        let db = arbordb::Database::in_memory().unwrap();
        let server = arbordb::server::BackgroundServer::start(db).unwrap();
        let addr = server.addr();
        let config = format!(
            "host={} port={} user=postgres dbname=postgres",
            addr.ip(),
            addr.port()
        );
        let failures = rt.block_on(slt::run_file_wire(path, config, "wire"));
        server.shutdown();
        failures
    });
}

/// Checks the `.slt` files themselves against PostgreSQL 15, so an expected
/// result that PostgreSQL disagrees with is caught. Each file gets a fresh
/// database, dropped afterwards. Skipped unless `ARBORDB_SLT_ORACLE` is set.
#[test]
fn slt_postgres_oracle() {
    let Ok(config) = std::env::var("ARBORDB_SLT_ORACLE") else {
        eprintln!("slt_postgres_oracle: ARBORDB_SLT_ORACLE not set, skipped");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let admin = slt::WireConn::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the oracle at {config:?}: {e}"));
        let mut admin = admin;
        let mut n = 0;
        let files = slt::slt_files();
        let mut results = Vec::new();
        for file in &files {
            n += 1;
            let dbname = format!("arbordb_slt_{}_{n}", std::process::id());
            sqllogictest::AsyncDB::run(&mut admin, &format!("CREATE DATABASE {dbname}"))
                .await
                .unwrap();
            let failures =
                slt::run_file_wire(file, format!("{config} dbname={dbname}"), "postgres").await;
            sqllogictest::AsyncDB::run(&mut admin, &format!("DROP DATABASE {dbname} WITH (FORCE)"))
                .await
                .unwrap();
            results.push((file.clone(), failures));
        }
        let mut results = results.into_iter();
        slt::check_all("postgres", |path| {
            let (file, failures) = results.next().unwrap();
            assert_eq!(file, path);
            failures
        });
    });
}

/// A scripted connection: answers each SQL string from a fixed table and
/// counts how many connections the factory made.
struct ScriptedConn {
    answers: VecDeque<(
        &'static str,
        Result<DBOutput<DefaultColumnType>, HarnessError>,
    )>,
}

impl DB for ScriptedConn {
    type Error = HarnessError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, HarnessError> {
        let (want, answer) = self
            .answers
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected SQL {sql:?}"));
        assert_eq!(want, sql.trim());
        answer
    }

    fn error_sql_state(err: &HarnessError) -> Option<String> {
        Some(err.sqlstate.clone())
    }
}

fn division_by_zero() -> HarnessError {
    HarnessError {
        message: "division by zero".into(),
        sqlstate: "22012".into(),
    }
}

fn one_row(v: &str) -> DBOutput<DefaultColumnType> {
    DBOutput::Rows {
        types: vec![DefaultColumnType::Integer],
        rows: vec![vec![v.to_string()]],
    }
}

fn run_scripted(
    script: &str,
    answers: Vec<(
        &'static str,
        Result<DBOutput<DefaultColumnType>, HarnessError>,
    )>,
) -> (Vec<String>, usize) {
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let mut answers = Some(answers);
    let mut runner = Runner::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        // The first connection gets the whole script; later ones share it
        // through the same queue only in tests that use one connection.
        let conn = ScriptedConn {
            answers: answers.take().unwrap_or_default().into(),
        };
        async move { Ok::<_, HarnessError>(conn) }
    });
    runner.add_label(slt::ENGINE_LABEL);
    let records = sqllogictest::parse_with_name(script, "inline.slt").unwrap();
    let failures = futures::executor::block_on(slt::run_records(&mut runner, records));
    (failures, made.load(Ordering::SeqCst))
}

#[test]
fn harness_matches_sqlstate_in_all_three_spellings() {
    let script = "\
statement error 22012
SELECT 1/0

statement error (22012)
SELECT 2/0

statement error division by zero
SELECT 3/0
";
    let (failures, _) = run_scripted(
        script,
        vec![
            ("SELECT 1/0", Err(division_by_zero())),
            ("SELECT 2/0", Err(division_by_zero())),
            ("SELECT 3/0", Err(division_by_zero())),
        ],
    );
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn harness_reports_every_failing_record_with_its_line() {
    let script = "\
query I
SELECT 1
----
2

statement error 42601
SELECT 1/0

query I
SELECT 3
----
3

statement ok
SELECT 1/0
";
    let (failures, _) = run_scripted(
        script,
        vec![
            ("SELECT 1", Ok(one_row("1"))),
            ("SELECT 1/0", Err(division_by_zero())),
            ("SELECT 3", Ok(one_row("3"))),
            ("SELECT 1/0", Err(division_by_zero())),
        ],
    );
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(failures[0].contains("inline.slt:1"), "{}", failures[0]);
    assert!(failures[1].contains("inline.slt:6"), "{}", failures[1]);
    assert!(failures[2].contains("inline.slt:14"), "{}", failures[2]);
}

/// Logs every statement with the id of the connection that ran it.
struct LoggingConn {
    id: usize,
    log: Arc<Mutex<Vec<(usize, String)>>>,
}

impl DB for LoggingConn {
    type Error = HarnessError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, HarnessError> {
        self.log
            .lock()
            .unwrap()
            .push((self.id, sql.trim().to_string()));
        Ok(DBOutput::StatementComplete(0))
    }
}

/// `connection <name>` applies to the one record that follows it; records
/// without one run on the default connection.
#[test]
fn harness_gives_each_named_connection_its_own_session() {
    let script = "\
connection a
statement ok
BEGIN

connection b
statement ok
BEGIN

statement ok
COMMIT

connection a
statement ok
COMMIT
";
    let made = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (counter, conn_log) = (made.clone(), log.clone());
    let mut runner = Runner::new(move || {
        let conn = LoggingConn {
            id: counter.fetch_add(1, Ordering::SeqCst),
            log: conn_log.clone(),
        };
        async move { Ok::<_, HarnessError>(conn) }
    });
    let records = sqllogictest::parse_with_name(script, "conn.slt").unwrap();
    let failures = futures::executor::block_on(slt::run_records(&mut runner, records));
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(made.load(Ordering::SeqCst), 3, "a, b and the default");
    let log = log.lock().unwrap().clone();
    let want: Vec<(usize, String)> = [(0, "BEGIN"), (1, "BEGIN"), (2, "COMMIT"), (0, "COMMIT")]
        .iter()
        .map(|(id, sql)| (*id, sql.to_string()))
        .collect();
    assert_eq!(log, want);
}

#[test]
fn harness_honours_skipif_and_onlyif_for_the_engine_label() {
    let script = "\
skipif arbordb
statement ok
NEVER RUN

onlyif arbordb
query I
SELECT 1
----
1

onlyif postgres
statement ok
NEVER RUN EITHER
";
    let (failures, made) = run_scripted(script, vec![("SELECT 1", Ok(one_row("1")))]);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(made, 1);
}
