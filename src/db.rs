//! The embedded API: [`Database`] and [`Session`].
//!
//! Owns: opening a data directory (creating it, taking `arbordb.lock` so only
//! one process uses it), the in-memory database, and sessions that execute
//! SQL and return typed rows. The server, the tests and the benchmarks all go
//! through this door; there is no second, simpler engine.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result, SqlState};
use crate::sql;
use crate::types::{DataType, Value};

/// Name of the lock file inside a data directory.
pub const LOCK_FILE_NAME: &str = "arbordb.lock";

/// How often the background vacuum passes over every tree (writers also
/// prune each key they write).
const VACUUM_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// The background vacuum, or none if its thread cannot start (writers'
/// pruning still bounds hot rows).
fn start_vacuum(stack: &crate::txn::open::Stack) -> Option<crate::txn::Vacuumer> {
    crate::txn::Vacuumer::start_all(stack.txns.clone(), stack.engine.clone(), VACUUM_INTERVAL)
        .map_err(|e| tracing::warn!(error = %e, "background vacuum not started"))
        .ok()
}

/// The auto-analyze thread, or none if it cannot start (explicit ANALYZE
/// still works).
fn start_autoanalyze(shared: &sql::Shared, on: bool) -> Option<sql::autoanalyze::AutoAnalyzer> {
    let a = sql::autoanalyze::AutoAnalyzer::start(shared.clone(), on, sql::autoanalyze::INTERVAL)
        .map_err(|e| tracing::warn!(error = %e, "auto-analyze not started"))
        .ok();
    shared.note_autovacuum(a.is_some() && on);
    a
}

/// Buffer pool frames of an in-memory database.
const IN_MEMORY_POOL_FRAMES: usize = 256;

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of 8 KiB frames in the buffer pool.
    pub buffer_pool_frames: usize,
    /// Auto-analyze (PostgreSQL's `autovacuum`): on by default for a data
    /// directory; an in-memory database starts with it off (see
    /// [`Database::set_autovacuum`]).
    pub autovacuum: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            // 128 MiB of 8 KiB pages.
            buffer_pool_frames: 16 * 1024,
            autovacuum: true,
        }
    }
}

/// An open database: a data directory (or memory) and everything shared by
/// its sessions. Cheap to clone; the last clone dropped closes it.
#[derive(Clone)]
pub struct Database {
    inner: Arc<DatabaseInner>,
}

struct DatabaseInner {
    /// The auto-analyze thread; stops first (it runs transactions).
    autoanalyze: Option<sql::autoanalyze::AutoAnalyzer>,
    /// The background vacuum over every tree; first, so it stops before
    /// the engine closes.
    _vacuum: Option<crate::txn::Vacuumer>,
    /// The one engine: storage, the log (file-backed only), the txn layer.
    /// Declared first so it is dropped (and flushed) before the lock is let go.
    stack: crate::txn::open::Stack,
    /// `None` for an in-memory database.
    data_dir: Option<PathBuf>,
    /// Held open (and locked) for the life of the database.
    _lock: Option<File>,
    #[allow(dead_code)]
    options: Options,
    shared: sql::Shared,
}

impl Drop for DatabaseInner {
    fn drop(&mut self) {
        // Close before the lock is let go, and for every clone of the
        // stack: the SQL layer's per-thread statement context keeps clones
        // of it past the last `Database` handle. A pool that outlived its
        // database used to write its frames back whenever that clone went,
        // over pages a later open of the directory had changed (recovery
        // rewrote them, or another process did): committed rows were lost
        // at the next crash (issue #4; tests/crash_ddl.rs).
        drop(self.autoanalyze.take());
        drop(self._vacuum.take());
        sql::namespace::clear_context();
        sql::sequence::clear_context();
        if let Err(e) = self.stack.close() {
            tracing::error!(error = %e, "closing the database failed");
        }
    }
}

impl Database {
    /// Opens (creating on first use) the database in `data_dir` with default options.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(data_dir, Options::default())
    }

    /// Opens (creating on first use) the database in `data_dir`.
    ///
    /// Fails with a clear message if another process holds the directory's lock.
    pub fn open_with(data_dir: impl AsRef<Path>, options: Options) -> Result<Database> {
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::new(
                SqlState::IO_ERROR,
                format!("could not create data directory \"{}\": {e}", dir.display()),
            )
        })?;
        let lock_path = dir.join(LOCK_FILE_NAME);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                Error::new(
                    SqlState::IO_ERROR,
                    format!("could not open lock file \"{}\": {e}", lock_path.display()),
                )
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::new(
                    SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!(
                        "data directory \"{}\" is in use by another arbordb process (lock file \"{}\" is held)",
                        dir.display(),
                        lock_path.display()
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(Error::new(
                    SqlState::IO_ERROR,
                    format!("could not lock \"{}\": {e}", lock_path.display()),
                ));
            }
        }
        // What a query spilled before a crash is of no use: emptied first.
        let temp = sql::spill::TempArea::in_data_dir(dir)?;
        let stack = crate::txn::open::Stack::open_dir(dir, options.buffer_pool_frames)?;
        let shared = sql::Shared::new(&stack, temp)?;
        Ok(Database {
            inner: Arc::new(DatabaseInner {
                autoanalyze: start_autoanalyze(&shared, options.autovacuum),
                _vacuum: start_vacuum(&stack),
                data_dir: Some(dir.to_path_buf()),
                _lock: Some(lock),
                options,
                shared,
                stack,
            }),
        })
    }

    /// A database that lives in memory (on the same B+-trees, over a memory
    /// page store) and disappears when the last handle is dropped.
    pub fn in_memory() -> Result<Database> {
        // Pages live in memory anyway: a small pool in front of them keeps
        // opening cheap (the conformance runner opens one per file).
        let options = Options {
            buffer_pool_frames: IN_MEMORY_POOL_FRAMES,
            autovacuum: false,
        };
        let stack = crate::txn::open::Stack::in_memory(options.buffer_pool_frames)?;
        let shared = sql::Shared::new(&stack, sql::spill::TempArea::private())?;
        Ok(Database {
            inner: Arc::new(DatabaseInner {
                autoanalyze: start_autoanalyze(&shared, options.autovacuum),
                _vacuum: start_vacuum(&stack),
                data_dir: None,
                _lock: None,
                options,
                shared,
                stack,
            }),
        })
    }

    /// Turns auto-analyze on or off for the whole database (PostgreSQL's
    /// `autovacuum`, a server-wide setting there too); on: a pass at once.
    pub fn set_autovacuum(&self, on: bool) {
        if let Some(a) = &self.inner.autoanalyze {
            a.set_enabled(on);
            self.inner.shared.note_autovacuum(on);
        }
    }

    /// Whether auto-analyze runs.
    pub fn autovacuum(&self) -> bool {
        self.inner.autoanalyze.as_ref().is_some_and(|a| a.enabled())
    }

    /// Asks auto-analyze for a pass now (if it is on).
    pub fn kick_autoanalyze(&self) {
        if let Some(a) = &self.inner.autoanalyze {
            a.kick();
        }
    }

    /// The data directory, or `None` for an in-memory database.
    pub fn data_dir(&self) -> Option<&Path> {
        self.inner.data_dir.as_deref()
    }

    /// The engine under this database: trees, the log, the transaction layer.
    pub fn stack(&self) -> &crate::txn::open::Stack {
        &self.inner.stack
    }

    /// Makes everything committed so far durable in the data file (the log,
    /// then the pages). Dropping the last handle does the same, best effort.
    pub fn flush(&self) -> Result<()> {
        self.inner.stack.flush()
    }

    /// Walks every tree and verifies checksums, key order within and across
    /// pages, sibling links, separator bounds, overflow chains, and that every
    /// page is in exactly one tree or on the free list. Meant for a quiet
    /// database (no concurrent writers).
    pub fn check(&self) -> Result<crate::storage::check::CheckReport> {
        Ok(self.inner.stack.engine.check()?)
    }

    /// Opens a new session (a connection's worth of state).
    pub fn session(&self) -> Session {
        let signals = Arc::new(sql::signals::SessionSignals::new());
        Session {
            _db: self.clone(),
            state: sql::SessionState::new(&self.inner.shared, signals.clone()),
            signals,
        }
    }
}

/// The error of a session ended by `pg_terminate_backend`.
pub fn terminated() -> Error {
    Error::new(
        SqlState::ADMIN_SHUTDOWN,
        "terminating connection due to administrator command",
    )
}

/// A column of a result: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: DataType,
}

/// What one statement produced. A `COPY … TO STDOUT` result has no
/// columns, a `COPY n` tag, and one text value per row: a complete data
/// line, newline included.
#[derive(Debug, Clone, PartialEq)]
pub struct StatementResult {
    /// Result columns; empty for statements that return no rows.
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// The command tag, as PostgreSQL sends it: `SELECT 2`, `SET`, `BEGIN`, …
    pub tag: String,
}

impl StatementResult {
    /// Whether the statement returns rows (a RowDescription is sent for it).
    pub fn returns_rows(&self) -> bool {
        !self.columns.is_empty()
    }
}

/// The transaction state reported in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// 'I': not in a transaction block.
    Idle,
    /// 'T': in a transaction block.
    InBlock,
    /// 'E': in a failed transaction block; statements are rejected until ROLLBACK.
    Failed,
}

/// A statement parsed and bound for the extended protocol.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Parameter types, declared or inferred (`$1` is `param_types[0]`).
    pub param_types: Vec<DataType>,
    /// Result columns (empty if the statement returns no rows).
    pub columns: Vec<Column>,
    #[allow(dead_code)] // read by sql::SessionState::execute_prepared once it plans
    pub(crate) inner: sql::PreparedStatement,
}

/// One session: settings, the transaction in progress, prepared state.
pub struct Session {
    _db: Database,
    state: sql::SessionState,
    /// Cancel and notices, shared with whoever serves the session.
    signals: Arc<sql::signals::SessionSignals>,
}

impl Session {
    /// The simple query protocol: parses all of `sql` first (a syntax error
    /// runs nothing), then runs each statement in turn, handing each result
    /// to `on_result`; stops at the first error and returns it.
    pub fn execute_simple(
        &mut self,
        sql: &str,
        on_result: &mut dyn FnMut(StatementResult),
    ) -> Result<()> {
        self.check_terminated()?;
        let _scope = self.enter_statement();
        let r = self.state.execute_simple(sql, &mut |result| {
            on_result(result);
            sql::signals::next_statement();
        });
        r.map_err(|e| self.terminated_error(e))
    }

    /// 57P01 once `pg_terminate_backend` ended this session.
    fn check_terminated(&self) -> Result<()> {
        if self.signals.is_terminated() {
            return Err(terminated());
        }
        Ok(())
    }

    /// A statement interrupted by `pg_terminate_backend` reports 57P01,
    /// not the cancel (57014) that stopped it.
    fn terminated_error(&self, e: Error) -> Error {
        if self.signals.is_terminated() && e.sqlstate == SqlState::QUERY_CANCELED {
            terminated()
        } else {
            e
        }
    }

    /// This session's pid, as `pg_backend_pid()` and `pg_stat_activity`
    /// show it (a server sends it in BackendKeyData).
    pub fn pid(&self) -> i32 {
        self.state.pid()
    }

    /// Tells `pg_stat_activity` who this session serves.
    pub fn set_client(&self, addr: Option<std::net::SocketAddr>, superuser: bool) {
        self.state.set_client(addr, superuser);
    }

    /// Makes this session's signals current for a run, with the
    /// `statement_timeout` in force now.
    fn enter_statement(&self) -> sql::signals::Scope {
        let timeout = self
            .state
            .parameter("statement_timeout")
            .and_then(|v| sql::signals::parse_timeout(&v));
        sql::signals::enter(self.signals.clone(), timeout)
    }

    /// The session's cancel token and pending notices: a server keeps this
    /// to cancel the running statement (CancelRequest) and to send notices.
    pub fn signals(&self) -> Arc<sql::signals::SessionSignals> {
        self.signals.clone()
    }

    /// Runs every statement in `sql` and collects the results.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<StatementResult>> {
        let mut results = Vec::new();
        self.execute_simple(sql, &mut |r| results.push(r))?;
        Ok(results)
    }

    /// Runs one statement and returns its rows (a convenience for embedders).
    pub fn query(&mut self, sql: &str) -> Result<Vec<Vec<Value>>> {
        let mut results = self.execute(sql)?;
        Ok(results.pop().map(|r| r.rows).unwrap_or_default())
    }

    /// The extended protocol's Parse: one statement, with parameter types the
    /// client declared (`None` or `Unknown` = infer).
    pub fn prepare(&mut self, sql: &str, param_types: &[Option<DataType>]) -> Result<Prepared> {
        self.state.prepare(sql, param_types)
    }

    /// The extended protocol's Bind + Execute: runs a prepared statement with
    /// parameter values already decoded to their types.
    pub fn execute_prepared(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
    ) -> Result<StatementResult> {
        self.check_terminated()?;
        let _scope = self.enter_statement();
        let r = self.state.execute_prepared(prepared, params);
        r.map_err(|e| self.terminated_error(e))
    }

    /// Whether `DEALLOCATE ALL` or `DISCARD ALL` ran since the last call:
    /// a server drops its protocol-level named statements too.
    pub fn take_deallocated_all(&mut self) -> bool {
        self.state.take_deallocated_all()
    }

    /// After a `COPY … FROM STDIN` ran: the number of data columns the
    /// client is to send (the statement ends with [`Session::copy_done`]).
    pub fn copy_in_columns(&self) -> Option<usize> {
        self.state.copy_in_columns()
    }

    /// The next bytes of a running COPY FROM STDIN.
    pub fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        self.state.copy_data(data)
    }

    /// The end of a COPY FROM STDIN's data: its result (`COPY n`).
    pub fn copy_done(&mut self) -> Result<StatementResult> {
        self.state.copy_done()
    }

    /// The client gave up a COPY FROM STDIN: the error it ends with.
    pub fn copy_fail(&mut self, message: &str) -> Error {
        self.state.copy_fail(message)
    }

    /// Transaction state for ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.state.transaction_status()
    }

    /// The current value of a session parameter, as SHOW prints it.
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.state.parameter(name)
    }

    /// Sets a session parameter (as `SET name = value` would, e.g. from startup options).
    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<()> {
        self.state.set_parameter(name, value)
    }

    /// The parameters PostgreSQL reports in ParameterStatus at startup, with values.
    pub fn reported_parameters(&self) -> Vec<(String, String)> {
        self.state.reported_parameters()
    }

    /// Reported parameters changed since the last call (send as ParameterStatus).
    pub fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        self.state.take_changed_parameters()
    }
}
