//! sqllogictest adapters and the driver that runs `sqllogictest/**/*.slt`.
//!
//! ```text
//!   sqllogictest/**/*.slt ──parse_file──> records ──Runner::run (one by one)──┐
//!                                                                            v
//!   Target::Memory  Database::in_memory()      ─┐                    failures: Vec<String>
//!   Target::Disk    Database::open(tempdir)    ─┼─ EmbeddedConn (Session::execute)
//!   Target::Wire    BackgroundServer + tokio-postgres ─ WireConn (simple query)
//!   Target::Oracle  PostgreSQL 15 (opt-in)            ─ WireConn
//! ```
//!
//! Each file runs on a fresh database. `connection <name>` records get their
//! own session (embedded) or client (wire) on that database, made by the
//! runner's connection factory. A failing record does not stop its file: every
//! failure is collected with its file and line, and the test fails at the end
//! listing them all.
//!
//! Printing convention (shared with the `.slt` authors; see
//! `arbordb::testkit`): PostgreSQL text format, `NULL`, `(empty)`; type
//! letters I/R/T from the result column types, not validated (the runner's
//! default column validator is lenient). Errors print as
//! `"<message> (SQLSTATE <code>)"`, so `statement error 22012`,
//! `statement error division by zero` and `statement error (22012)` all work.

use std::fmt;
use std::path::{Path, PathBuf};

use arbordb::testkit;
use arbordb::{Database, Session};
use async_trait::async_trait;
use sqllogictest::{AsyncDB, DB, DBOutput, DefaultColumnType, MakeConnection, Record, Runner};

/// Labels every target carries, usable in `skipif` / `onlyif`.
pub const ENGINE_LABEL: &str = "arbordb";

/// The error every adapter returns: a message and a SQLSTATE.
#[derive(Debug, Clone)]
pub struct HarnessError {
    pub message: String,
    pub sqlstate: String,
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SQLSTATE {})", self.message, self.sqlstate)
    }
}

impl std::error::Error for HarnessError {}

impl From<arbordb::Error> for HarnessError {
    fn from(e: arbordb::Error) -> HarnessError {
        HarnessError {
            message: e.message.clone(),
            sqlstate: e.sqlstate.code().to_string(),
        }
    }
}

impl From<tokio_postgres::Error> for HarnessError {
    fn from(e: tokio_postgres::Error) -> HarnessError {
        match e.as_db_error() {
            Some(db) => HarnessError {
                message: db.message().to_string(),
                sqlstate: db.code().code().to_string(),
            },
            // Not an ErrorResponse: the connection broke. 08006 is
            // connection_failure.
            None => HarnessError {
                message: e.to_string(),
                sqlstate: "08006".to_string(),
            },
        }
    }
}

fn column_type(letter: char) -> DefaultColumnType {
    match letter {
        'I' => DefaultColumnType::Integer,
        'R' => DefaultColumnType::FloatingPoint,
        _ => DefaultColumnType::Text,
    }
}

/// One embedded session as a sqllogictest connection.
pub struct EmbeddedConn {
    session: Session,
}

impl EmbeddedConn {
    pub fn new(db: &Database) -> EmbeddedConn {
        EmbeddedConn {
            session: db.session(),
        }
    }
}

impl DB for EmbeddedConn {
    type Error = HarnessError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, HarnessError> {
        let mut results = self.session.execute(sql)?;
        // A multi-statement string reports its last statement, as psql shows.
        Ok(match results.pop() {
            None => DBOutput::StatementComplete(0),
            Some(r) if r.returns_rows() => DBOutput::Rows {
                types: r
                    .columns
                    .iter()
                    .map(|c| column_type(testkit::slt_type_letter(&c.data_type)))
                    .collect(),
                rows: r
                    .rows
                    .iter()
                    .map(|row| row.iter().map(testkit::slt_text).collect())
                    .collect(),
            },
            Some(r) => DBOutput::StatementComplete(testkit::tag_row_count(&r.tag)),
        })
    }

    fn engine_name(&self) -> &str {
        ENGINE_LABEL
    }

    fn error_sql_state(err: &HarnessError) -> Option<String> {
        Some(err.sqlstate.clone())
    }
}

/// One tokio-postgres client as a sqllogictest connection, using the simple
/// query protocol (text results, as psql sees them).
pub struct WireConn {
    client: tokio_postgres::Client,
    connection_task: tokio::task::JoinHandle<()>,
}

impl WireConn {
    /// Connects with a libpq-style configuration string. Must run inside a
    /// tokio runtime (the connection is driven by a spawned task).
    pub async fn connect(config: &str) -> Result<WireConn, HarnessError> {
        let (client, connection) = tokio_postgres::connect(config, tokio_postgres::NoTls).await?;
        let connection_task = tokio::spawn(async move {
            // An error here (the server went away) shows up again as the
            // client's next query failing, where it is reported.
            let _ = connection.await;
        });
        Ok(WireConn {
            client,
            connection_task,
        })
    }
}

fn wire_text(value: Option<&str>) -> String {
    match value {
        None => testkit::NULL_TEXT.to_string(),
        Some("") => testkit::EMPTY_TEXT.to_string(),
        Some(s) => s.to_string(),
    }
}

#[async_trait]
impl AsyncDB for WireConn {
    type Error = HarnessError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, HarnessError> {
        use tokio_postgres::SimpleQueryMessage;
        let messages = self.client.simple_query(sql).await?;
        // Like the embedded adapter, report the last statement's output.
        let mut last = DBOutput::StatementComplete(0);
        let mut current: Option<(usize, Vec<Vec<String>>)> = None;
        for message in messages {
            match message {
                SimpleQueryMessage::RowDescription(columns) => {
                    current = Some((columns.len(), Vec::new()));
                }
                SimpleQueryMessage::Row(row) => {
                    let values = (0..row.len()).map(|i| wire_text(row.get(i))).collect();
                    match &mut current {
                        Some((_, rows)) => rows.push(values),
                        None => current = Some((row.len(), vec![values])),
                    }
                }
                SimpleQueryMessage::CommandComplete(count) => {
                    last = match current.take() {
                        // The simple protocol does not carry column types;
                        // the validator is lenient, so report them as text.
                        Some((width, rows)) => DBOutput::Rows {
                            types: vec![DefaultColumnType::Text; width],
                            rows,
                        },
                        None => DBOutput::StatementComplete(count),
                    };
                }
                _ => {}
            }
        }
        Ok(last)
    }

    async fn shutdown(&mut self) {
        self.connection_task.abort();
    }

    fn engine_name(&self) -> &str {
        ENGINE_LABEL
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &HarnessError) -> Option<String> {
        Some(err.sqlstate.clone())
    }
}

/// The root of the `.slt` corpus: `sqllogictest/`, or `$ARBORDB_SLT_DIR`.
pub fn slt_dir() -> PathBuf {
    match std::env::var_os("ARBORDB_SLT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("sqllogictest"),
    }
}

/// Every `*.slt` file under [`slt_dir`], sorted, recursively; only those
/// whose path contains `$ARBORDB_SLT_FILTER` when that is set.
pub fn slt_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "slt") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&slt_dir(), &mut files);
    if let Ok(filter) = std::env::var("ARBORDB_SLT_FILTER") {
        files.retain(|f| f.to_string_lossy().contains(&filter));
    }
    files.sort();
    files
}

/// Runs every record of one parsed file, collecting each failure (file and
/// line come from the runner's error location). Stops at `halt`.
pub async fn run_records<D, M>(
    runner: &mut Runner<D, M>,
    records: Vec<Record<DefaultColumnType>>,
) -> Vec<String>
where
    D: AsyncDB<ColumnType = DefaultColumnType>,
    M: MakeConnection<Conn = D>,
{
    let mut failures = Vec::new();
    for record in records {
        if let Record::Halt { .. } = record {
            break;
        }
        if let Err(e) = runner.run_async(record).await {
            failures.push(e.display(false).to_string());
        }
    }
    runner.shutdown_async().await;
    failures
}

/// Parses one file into records, or a failure naming the file.
pub fn parse(path: &Path) -> Result<Vec<Record<DefaultColumnType>>, String> {
    sqllogictest::parse_file(path).map_err(|e| format!("{}: parse error: {e}", path.display()))
}

/// Labels a target adds on top of [`ENGINE_LABEL`].
fn labels<D, M>(runner: &mut Runner<D, M>, target_label: &str)
where
    D: AsyncDB,
    M: MakeConnection<Conn = D>,
{
    runner.add_label(ENGINE_LABEL);
    runner.add_label(target_label);
}

/// Where an embedded target keeps its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Memory,
    Disk,
}

/// Runs one file on a fresh embedded database; returns its failures.
pub fn run_file_embedded(path: &Path, storage: Storage) -> Vec<String> {
    let records = match parse(path) {
        Ok(records) => records,
        Err(e) => return vec![e],
    };
    let tempdir;
    let db = match storage {
        Storage::Memory => Database::in_memory(),
        Storage::Disk => {
            tempdir = match tempfile::tempdir() {
                Ok(dir) => dir,
                Err(e) => return vec![format!("{}: tempdir: {e}", path.display())],
            };
            Database::open(tempdir.path())
        }
    };
    let db = match db {
        Ok(db) => db,
        Err(e) => return vec![format!("{}: opening the database: {e}", path.display())],
    };
    let factory_db = db.clone();
    let mut runner = Runner::new(move || {
        let db = factory_db.clone();
        async move { Ok::<_, HarnessError>(EmbeddedConn::new(&db)) }
    });
    labels(
        &mut runner,
        match storage {
            Storage::Memory => "memory",
            Storage::Disk => "disk",
        },
    );
    futures::executor::block_on(run_records(&mut runner, records))
}

/// Runs one file over the wire: each `connection` gets a new client made
/// from `config` (a libpq-style string). `target_label` is `wire` for
/// arbordb's server, `postgres` for the PostgreSQL oracle.
pub async fn run_file_wire(path: &Path, config: String, target_label: &str) -> Vec<String> {
    let records = match parse(path) {
        Ok(records) => records,
        Err(e) => return vec![e],
    };
    let mut runner = Runner::new(move || {
        let config = config.clone();
        async move { WireConn::connect(&config).await }
    });
    labels(&mut runner, target_label);
    run_records(&mut runner, records).await
}

/// Runs `run_one` over every `.slt` file and panics listing every failure,
/// grouped by file, if there were any.
pub fn check_all(target: &str, mut run_one: impl FnMut(&Path) -> Vec<String>) {
    let files = slt_files();
    assert!(
        !files.is_empty(),
        "no .slt files under {}",
        slt_dir().display()
    );
    let mut report = String::new();
    let mut failed = 0;
    for file in &files {
        let failures = run_one(file);
        if !failures.is_empty() {
            failed += failures.len();
            report.push_str(&format!(
                "\n=== {} ({} failing records)\n",
                file.display(),
                failures.len()
            ));
            for f in &failures {
                report.push_str(f);
                report.push('\n');
            }
        }
    }
    assert!(
        failed == 0,
        "sqllogictest [{target}]: {failed} failing records in {} files:{report}",
        files.len()
    );
}
