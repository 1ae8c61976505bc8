//! One session's SQL state: settings, the transaction-block state machine,
//! and the dispatch of each statement to the binder/executor or to the
//! utility commands (SET, SHOW, RESET, BEGIN, COMMIT, ROLLBACK).
//!
//! ```text
//!            BEGIN                      error
//!   Idle ───────────────▶ InBlock ───────────────▶ Failed
//!    ▲                       │                       │
//!    └──── COMMIT/ROLLBACK ──┘                       │
//!    └──────────── ROLLBACK (or COMMIT, reported as ROLLBACK) ──┘
//!   In Failed, every other statement is 25P02.
//! ```
//!
//! Owns: command tags, 25P02, settings rollback with the block, SHOW's
//! result shape, the extended protocol's prepare/execute.
//! Never: evaluates expressions itself.

use sqlparser::ast;
use sqlparser::ast::Statement;

use crate::db::{Column, Prepared, StatementResult, TransactionStatus};
use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value, parse_text};
use std::collections::HashMap;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::txn::{IsolationLevel, TxnOptions};

use super::Shared;
use super::bind::{Binder, Params, TableSource, ident_name, object_name};
use super::copy::{self, Copied, CopyIn};
use super::execute::{self, ExecContext};
use super::parse::parse;
use super::plan_cache::{CachedPlan, Kept, PlanSlot};
use super::scan::{TxnCell, lock_txn};
use super::settings::{Settings, canonical_name, parse_millis};
use super::{ddl, dml};

mod prepared_sql;

/// A statement kept for the extended protocol: parsed once, bound again on
/// each execution with the parameter types fixed at prepare time (a
/// SELECT reuses its last plan while it is current, `plan_cache.rs`).
#[derive(Debug, Clone)]
pub struct PreparedStatement {
    /// `None` for an empty query string.
    statement: Option<Box<Statement>>,
    /// The statement text, for error positions.
    sql: String,
    /// `sql` normalised for `pg_stat_statements`, once at prepare time
    /// rather than on every execution.
    normalized: String,
    /// The plan of the last execution, while still valid (`plan_cache.rs`).
    pub(crate) plan: Arc<PlanSlot>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BlockState {
    Idle,
    InBlock {
        /// Whether a query has run in the block (SET TRANSACTION is too late then).
        queried: bool,
    },
    Failed,
}

/// One session's SQL state.
pub struct SessionState {
    shared: Shared,
    settings: Settings,
    block: BlockState,
    /// The transaction in progress: the block's, or an implicit one (an
    /// autocommit statement, or the statements of one simple query).
    txn: Option<Arc<TxnCell>>,
    /// `txn` was begun implicitly (not by BEGIN).
    implicit: bool,
    /// Savepoints of the block, outermost first.
    savepoints: Vec<String>,
    /// A COPY FROM STDIN waiting for its data.
    copy_in: Option<Box<CopyIn>>,
    /// currval / lastval of this session.
    sequences: Arc<parking_lot::Mutex<super::sequence::SessionSequences>>,
    /// Statements made by SQL `PREPARE` (`prepared_sql.rs`).
    sql_prepared: HashMap<String, Arc<Prepared>>,
    /// `DEALLOCATE ALL` / `DISCARD ALL` ran: the server drops its statements.
    deallocated_all: bool,
    /// This session in `pg_stat_activity` (its pid, state and query).
    registration: super::activity::Registration,
    /// NOTIFYs and LISTENs waiting for the transaction to commit.
    pending: Arc<parking_lot::Mutex<super::activity::Pending>>,
    /// The transaction ran a statement that may change the catalog: its
    /// end (or a rollback to a savepoint) makes kept plans stale.
    catalog_dirty: bool,
    /// The kept-plan slot of the prepared statement executing now.
    plan_slot: Option<Arc<PlanSlot>>,
    /// What each statement's thread context takes from the settings, as
    /// of one settings version.
    derived: Option<Derived>,
}

/// The parts of a statement's thread context read from the settings
/// ([`SessionState::set_datetime_context`]), kept while the settings
/// version stays: looking them up, parsing the zone and copying the
/// strings again cost more than a point read's plan.
struct Derived {
    settings_version: u64,
    zone: crate::types::datetime::Zone,
    dmy: bool,
    search_path: String,
    user: String,
}

/// What a data statement runs with.
pub struct StmtCx<'a> {
    pub shared: &'a Shared,
    pub txn: &'a Arc<TxnCell>,
    pub settings: &'a dyn Fn(&str) -> Result<String>,
    pub params: &'a [Value],
    pub param_types: &'a [DataType],
    pub params_allowed: bool,
    pub sql: &'a str,
}

impl StmtCx<'_> {
    /// A binder that sees the catalog through the statement's transaction.
    pub fn binder(&self) -> Binder {
        let mut b = Binder::new(Params {
            types: self.param_types.to_vec(),
            allowed: self.params_allowed,
        })
        .with_source(self.sql)
        .with_tables(TableSource {
            shared: self.shared.clone(),
            txn: self.txn.clone(),
        });
        // The WITH items a data-modifying WITH statement has run so far.
        super::modifying_cte::seed(&mut b);
        b
    }

    pub fn exec(&self) -> ExecContext<'_> {
        ExecContext {
            params: self.params,
            outer: &[],
            settings: self.settings,
            txn: Some(self.txn),
        }
    }

    /// 25006 unless the transaction may write.
    pub fn check_writable(&self, statement: &str) -> Result<()> {
        if lock_txn(self.txn)?.is_read_only() {
            return Err(Error::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                format!("cannot execute {statement} in a read-only transaction"),
            ));
        }
        Ok(())
    }
}

fn isolation_level(name: &str) -> IsolationLevel {
    match name {
        "serializable" => IsolationLevel::Serializable,
        "repeatable read" => IsolationLevel::RepeatableRead,
        _ => IsolationLevel::ReadCommitted,
    }
}

/// Turns the oid values of a query's reg* output columns (regclass,
/// regtype, …) into names, as read by the statement's snapshot.
fn reg_output(
    shared: &Shared,
    txn: &Arc<TxnCell>,
    columns: &[Column],
    rows: &mut [Vec<Value>],
) -> Result<()> {
    let reg = |c: &Column| super::pg_catalog::reg::needs_output(std::slice::from_ref(&c.data_type));
    if !columns.iter().any(reg) {
        return Ok(());
    }
    let types: Vec<DataType> = columns.iter().map(|c| c.data_type.clone()).collect();
    let snap = {
        let mut t = lock_txn(txn)?;
        super::pg_catalog::snapshot(shared.catalog(), &mut t)?
    };
    super::pg_catalog::reg::output_rows(&snap, &types, rows);
    Ok(())
}

fn tag_only(tag: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: tag.to_string(),
    }
}

fn in_failed_block() -> Error {
    Error::new(
        SqlState::IN_FAILED_SQL_TRANSACTION,
        "current transaction is aborted, commands ignored until end of transaction block",
    )
}

/// Whether a statement may run in a failed block.
fn ends_block(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Commit { .. } | Statement::Rollback { .. })
}

/// The leading keywords of a statement, to name it in 0A000 answers.
fn statement_kind(stmt: &Statement) -> String {
    let text = stmt.to_string();
    let words: Vec<&str> = text
        .split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .take(2)
        .collect();
    if words.is_empty() {
        "this statement".to_string()
    } else {
        words.join(" ")
    }
}

/// `quote_identifier`: quotes unless the name is a plain lower-case word.
fn quote_identifier(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// How a SET value was written: `DEFAULT`, or a list of words/literals.
enum SetValue {
    Default,
    Text(String),
}

fn set_value(name: &str, values: &[ast::Expr]) -> Result<SetValue> {
    let list_quote = name.eq_ignore_ascii_case("search_path");
    let mut parts = Vec::with_capacity(values.len());
    for v in values {
        let part = match v {
            ast::Expr::Identifier(id) => {
                if id.quote_style.is_none()
                    && id.value.eq_ignore_ascii_case("default")
                    && values.len() == 1
                {
                    return Ok(SetValue::Default);
                }
                ident_name(id)
            }
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(s, _) => s.clone(),
                ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                    s.clone()
                }
                ast::Value::DollarQuotedString(d) => d.value.clone(),
                ast::Value::Boolean(b) => if *b { "true" } else { "false" }.to_string(),
                other => {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        format!("syntax error at or near \"{other}\""),
                    ));
                }
            },
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                    format!("-{}", v.value)
                }
                _ => {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        "syntax error at or near \"-\"",
                    ));
                }
            },
            other => {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{other}\""),
                ));
            }
        };
        parts.push(if list_quote {
            quote_identifier(&part)
        } else {
            part
        });
    }
    Ok(SetValue::Text(parts.join(", ")))
}

fn isolation_name(level: &ast::TransactionIsolationLevel) -> Result<&'static str> {
    Ok(match level {
        ast::TransactionIsolationLevel::ReadUncommitted => "read uncommitted",
        ast::TransactionIsolationLevel::ReadCommitted => "read committed",
        ast::TransactionIsolationLevel::RepeatableRead => "repeatable read",
        ast::TransactionIsolationLevel::Serializable => "serializable",
        ast::TransactionIsolationLevel::Snapshot => {
            return Err(Error::unsupported("ISOLATION LEVEL SNAPSHOT"));
        }
    })
}

/// The type a parameter value has (for values handed in by the server).
fn value_type(v: &Value) -> DataType {
    match v {
        Value::Null => DataType::Unknown,
        Value::Bool(_) => DataType::Bool,
        Value::Int2(_) => DataType::Int2,
        Value::Int4(_) => DataType::Int4,
        Value::Int8(_) => DataType::Int8,
        Value::Float4(_) => DataType::Float4,
        Value::Float8(_) => DataType::Float8,
        Value::Numeric(_) => DataType::Numeric(None),
        Value::Text(_) => DataType::Text,
        Value::Bytea(_) => DataType::Bytea,
        Value::Date(_) => DataType::Date,
        Value::Time(_) => DataType::Time,
        Value::Timestamp(_) => DataType::Timestamp,
        Value::Timestamptz(_) => DataType::Timestamptz,
        Value::Interval(_) => DataType::Interval,
        Value::Uuid(_) => DataType::Uuid,
        Value::Json(_) => DataType::Json,
        Value::Jsonb(_) => DataType::Jsonb,
        Value::Array(items) => DataType::Array(Box::new(
            items
                .iter()
                .find(|v| !v.is_null())
                .map(value_type)
                .unwrap_or(DataType::Text),
        )),
    }
}

/// Makes a parameter value fit its declared type (text is read with the
/// type's input function; other mismatches are cast).
fn conform_param(v: Value, ty: &DataType) -> Result<Value> {
    let from = value_type(&v);
    if v.is_null() || super::coerce::same_base(&from, ty) || *ty == DataType::Unknown {
        return Ok(v);
    }
    match v {
        // A reg* name is looked up once the statement's transaction can
        // read the catalog ([`resolve_reg_params`]).
        Value::Text(s)
            if matches!(ty, DataType::Reg(_)) && !s.trim().bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Value::Text(s))
        }
        Value::Text(s) => parse_text(ty, &s),
        other => super::cast::cast(other, &from, ty),
    }
}

/// Parameters of a reg* type given by name (`'pg_class'`), as oids looked
/// up through `txn` (42P01 & co. as the cast); `None` when there are none.
fn resolve_reg_params(
    shared: &Shared,
    txn: &Arc<TxnCell>,
    params: &[Value],
    types: &[DataType],
) -> Result<Option<Vec<Value>>> {
    let named = |(v, t): (&Value, &DataType)| matches!((v, t), (Value::Text(_), DataType::Reg(_)));
    if !params.iter().zip(types).any(named) {
        return Ok(None);
    }
    let snap = {
        let mut t = lock_txn(txn)?;
        super::pg_catalog::snapshot(shared.catalog(), &mut t)?
    };
    let mut out = params.to_vec();
    for (v, t) in out.iter_mut().zip(types) {
        if let (Value::Text(s), DataType::Reg(k)) = (&*v, t) {
            *v = Value::Int8(i64::from(super::pg_catalog::reg::input(&snap, *k, s)?));
        }
    }
    Ok(Some(out))
}

impl SessionState {
    pub fn new(shared: &Shared, signals: Arc<super::signals::SessionSignals>) -> SessionState {
        let registration = shared.activity().register(signals);
        let mut settings = Settings::new();
        if !shared.autovacuum() {
            // Known to exist: the table of parameters has it.
            let _ = settings.set_server_value("autovacuum", "off");
        }
        SessionState {
            registration,
            pending: Arc::default(),
            shared: shared.clone(),
            settings,
            block: BlockState::Idle,
            txn: None,
            implicit: false,
            savepoints: Vec::new(),
            copy_in: None,
            sequences: Arc::default(),
            sql_prepared: HashMap::new(),
            deallocated_all: false,
            catalog_dirty: false,
            plan_slot: None,
            derived: None,
        }
    }

    /// Gives this thread the session's time zone, DateStyle and the
    /// statement's start time (read by date/time input, output and `now()`).
    fn set_datetime_context(&mut self) {
        let version = self.settings.version();
        let derived = match self.derived.take() {
            Some(d) if d.settings_version == version => d,
            _ => {
                let tz = self.settings.get("TimeZone").unwrap_or_default();
                let style = self.settings.get("DateStyle").unwrap_or_default();
                let base = crate::types::datetime::context_from_settings(&tz, &style);
                Derived {
                    settings_version: version,
                    zone: base.zone,
                    dmy: base.dmy,
                    search_path: self.settings.get("search_path").unwrap_or_default(),
                    user: self
                        .settings
                        .get("session_authorization")
                        .unwrap_or_default(),
                }
            }
        };
        crate::types::datetime::set_context(crate::types::datetime::Context {
            zone: derived.zone.clone(),
            now: Some(crate::types::datetime::clock_now()),
            dmy: derived.dmy,
        });
        super::namespace::set_context(
            &derived.search_path,
            &derived.user,
            Some(self.shared.catalog().clone()),
        );
        super::sequence::set_context(&self.shared, &self.sequences);
        super::spill::set_context(self.shared.temp_area());
        super::activity::set_context(&self.registration, &derived.user, &self.pending);
        self.derived = Some(derived);
    }

    /// This session's pid (BackendKeyData, `pg_backend_pid()`).
    pub fn pid(&self) -> i32 {
        self.registration.backend().pid
    }

    /// Who the session serves, for `pg_stat_activity`.
    pub fn set_client(&self, addr: Option<std::net::SocketAddr>, superuser: bool) {
        self.registration.backend().update(|live| {
            live.client_addr = addr.map(|a| a.ip().to_string());
            live.client_port = addr.map(|a| i32::from(a.port()));
            live.superuser = superuser;
        });
        self.publish_state();
    }

    /// A query string begins: `pg_stat_activity` shows it as active.
    fn enter_query(&self, sql: &str) {
        let now = crate::types::datetime::clock_now();
        let idle = self.block == BlockState::Idle && self.txn.is_none();
        self.registration.backend().update(|live| {
            live.state = "active";
            live.query = truncate_text(sql, super::activity::QUERY_TEXT_MAX);
            live.query_start = Some(now);
            live.state_change = Some(now);
            if idle || live.xact_start.is_none() {
                live.xact_start = Some(now);
            }
        });
    }

    /// After a query string: the idle state, the session's user and
    /// application name as they are now; committed notifications go out.
    fn leave_query(&mut self) {
        if self.block == BlockState::Idle && self.txn.is_none() {
            let pending = std::mem::take(&mut *self.pending.lock());
            self.announce(pending);
        }
        self.publish_state();
    }

    fn publish_state(&self) {
        let state = match (&self.block, &self.txn) {
            (BlockState::Failed, _) => "idle in transaction (aborted)",
            (BlockState::InBlock { .. }, _) => "idle in transaction",
            (BlockState::Idle, Some(_)) => "idle in transaction",
            (BlockState::Idle, None) => "idle",
        };
        let user = self
            .settings
            .get("session_authorization")
            .unwrap_or_default();
        let application_name = self.settings.get("application_name").unwrap_or_default();
        let now = crate::types::datetime::clock_now();
        self.registration.backend().update(|live| {
            if live.state != state {
                live.state_change = Some(now);
            }
            live.state = state;
            if state == "idle" {
                live.xact_start = None;
            }
            live.user = user;
            live.application_name = application_name;
        });
    }

    /// Applies a committed transaction's LISTENs and sends its NOTIFYs.
    fn announce(&self, pending: super::activity::Pending) {
        let backend = self.registration.backend();
        backend.apply_listen(&pending.listen);
        self.registration
            .activity()
            .deliver(backend.pid, &pending.notifications);
    }

    /// Adds a finished statement to `pg_stat_statements`.
    /// `normalized`: the text as [`super::activity::normalize`] gives it.
    fn record_statement(&self, normalized: &str, elapsed: Duration, result: &StatementResult) {
        let rows = if result.columns.is_empty() {
            result
                .tag
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        } else {
            result.rows.len() as u64
        };
        let user = self
            .settings
            .get("session_authorization")
            .unwrap_or_default();
        self.registration
            .activity()
            .record_statement(&user, normalized, elapsed, rows);
    }

    pub fn execute_simple(
        &mut self,
        sql: &str,
        on_result: &mut dyn FnMut(StatementResult),
    ) -> Result<()> {
        let statements = parse(sql)?;
        // Several statements in one query form one implicit transaction:
        // an error undoes the SETs that ran before it.
        let implicit = self.block == BlockState::Idle && statements.len() > 1;
        if implicit {
            self.settings.begin();
        }
        if let Some(i) = statements.iter().position(copy::is_copy_in)
            && i + 1 != statements.len()
        {
            return Err(Error::unsupported(
                "COPY FROM STDIN followed by more statements in one query",
            ));
        }
        self.enter_query(sql);
        let r = self.run_statements(sql, &statements, implicit, on_result);
        self.leave_query();
        r
    }

    fn run_statements(
        &mut self,
        sql: &str,
        statements: &[Statement],
        implicit: bool,
        on_result: &mut dyn FnMut(StatementResult),
    ) -> Result<()> {
        for stmt in statements {
            let started = Instant::now();
            let r = self.run(stmt, sql, None, &[]);
            if let Ok(result) = &r {
                if statements.len() == 1 {
                    let text = super::activity::normalize(sql);
                    self.record_statement(&text, started.elapsed(), result);
                } else {
                    let text = super::activity::normalize(&stmt.to_string());
                    self.record_statement(&text, started.elapsed(), result);
                }
            }
            if r.is_ok() && self.copy_in.is_some() {
                // The data follows; copy_done ends the statement.
                return Ok(());
            }
            let r = r.and_then(|r| {
                if !implicit {
                    self.end_implicit()?;
                }
                Ok(r)
            });
            match r {
                Ok(r) => on_result(r),
                Err(e) => {
                    if implicit && self.block == BlockState::Idle {
                        self.settings.rollback();
                    }
                    self.fail();
                    return Err(e);
                }
            }
        }
        if implicit && self.block == BlockState::Idle {
            if let Err(e) = self.end_implicit() {
                self.settings.rollback();
                self.fail();
                return Err(e);
            }
            self.settings.commit();
        }
        Ok(())
    }

    /// An error aborts the implicit transaction, or the block: its work is
    /// undone at once (to the innermost savepoint, which `ROLLBACK TO`
    /// can resume from) and its locks released, as PostgreSQL does.
    fn fail(&mut self) {
        if self.catalog_dirty {
            // A rollback to a savepoint may undo catalog changes.
            self.shared.catalog_generation().bump();
        }
        match self.block {
            BlockState::InBlock { .. } => {
                self.block = BlockState::Failed;
                match (self.savepoints.last().cloned(), self.txn.clone()) {
                    (Some(sp), Some(txn)) => {
                        if let Ok(mut t) = lock_txn(&txn)
                            && t.rollback_to(&sp).is_ok()
                        {
                            return;
                        }
                        self.savepoints.clear();
                        let _ = self.finish_txn(false);
                    }
                    _ => {
                        let _ = self.finish_txn(false);
                    }
                }
            }
            BlockState::Failed => {}
            BlockState::Idle => {
                let _ = self.finish_txn(false);
            }
        }
    }

    pub fn prepare(&mut self, sql: &str, param_types: &[Option<DataType>]) -> Result<Prepared> {
        let mut statements = parse(sql)?;
        if statements.len() > 1 {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let declared: Vec<DataType> = param_types
            .iter()
            .map(|t| t.clone().unwrap_or(DataType::Unknown))
            .collect();
        let Some(stmt) = statements.pop() else {
            return Ok(Prepared {
                param_types: declared
                    .into_iter()
                    .map(|t| {
                        if t == DataType::Unknown {
                            DataType::Text
                        } else {
                            t
                        }
                    })
                    .collect(),
                columns: Vec::new(),
                inner: PreparedStatement {
                    statement: None,
                    sql: String::new(),
                    normalized: String::new(),
                    plan: Arc::default(),
                },
            });
        };
        if self.block == BlockState::Failed && !ends_block(&stmt) {
            return Err(in_failed_block());
        }
        self.set_datetime_context();
        let (types, columns) = match &stmt {
            Statement::Query(_)
            | Statement::Insert(_)
            | Statement::Update(_)
            | Statement::Delete(_) => self.describe(&stmt, sql, declared)?,
            Statement::ShowVariable { variable } => {
                let columns = self.show_columns(variable)?;
                (declared, columns)
            }
            Statement::Execute { name: Some(n), .. } => {
                let columns = self
                    .sql_prepared_columns(n)
                    .map(|p| p.columns)
                    .unwrap_or_default();
                (declared, columns)
            }
            _ => (declared, Vec::new()),
        };
        let param_types = types
            .into_iter()
            .map(|t| {
                if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                }
            })
            .collect();
        Ok(Prepared {
            param_types,
            columns,
            inner: PreparedStatement {
                statement: Some(Box::new(stmt)),
                sql: sql.to_string(),
                normalized: super::activity::normalize(sql),
                plan: Arc::default(),
            },
        })
    }

    /// Binds a statement for Describe: its parameter types and columns,
    /// reading the catalog through the block's transaction or a short one.
    fn describe(
        &mut self,
        stmt: &Statement,
        sql: &str,
        declared: Vec<DataType>,
    ) -> Result<(Vec<DataType>, Vec<Column>)> {
        let txn = match &self.txn {
            Some(t) => t.clone(),
            None => {
                let mut options = self.txn_options()?;
                options.read_only = true;
                let mut t = self.shared.stack().txns.begin(options)?;
                t.begin_statement()?;
                Arc::new(TxnCell::new(t))
            }
        };
        let mut binder = Binder::new(Params {
            types: declared,
            allowed: true,
        })
        .with_source(sql)
        .with_tables(TableSource {
            shared: self.shared.clone(),
            txn,
        });
        let columns = match stmt {
            Statement::Query(q) if super::modifying_cte::applies(q) => {
                super::modifying_cte::describe(&mut binder, q)?
            }
            Statement::Query(q) => binder.bind_query(q)?.columns,
            other => dml::describe(&mut binder, other)?,
        };
        Ok((binder.params.types, columns))
    }

    pub fn execute_prepared(
        &mut self,
        prepared: &Prepared,
        params: &[Value],
    ) -> Result<StatementResult> {
        let Some(stmt) = &prepared.inner.statement else {
            return Ok(tag_only(""));
        };
        if params.len() != prepared.param_types.len() {
            return Err(Error::new(
                SqlState::PROTOCOL_VIOLATION,
                format!(
                    "bind message supplies {} parameters, but prepared statement \"\" requires {}",
                    params.len(),
                    prepared.param_types.len()
                ),
            ));
        }
        let mut values = Vec::with_capacity(params.len());
        for (v, t) in params.iter().zip(&prepared.param_types) {
            values.push(conform_param(v.clone(), t)?);
        }
        self.enter_query(&prepared.inner.sql);
        let started = Instant::now();
        // Only a query or DML keeps its plan (not `EXECUTE name`, whose
        // statement a DEALLOCATE and PREPARE may replace).
        self.plan_slot = matches!(
            **stmt,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
        )
        .then(|| prepared.inner.plan.clone());
        let r = self.run(
            stmt,
            &prepared.inner.sql,
            Some(&values),
            &prepared.param_types,
        );
        self.plan_slot = None;
        let r = r.and_then(|r| {
            if self.copy_in.is_none() {
                self.end_implicit()?;
            }
            Ok(r)
        });
        match &r {
            Ok(result) => {
                self.record_statement(&prepared.inner.normalized, started.elapsed(), result)
            }
            Err(_) => self.fail(),
        }
        self.leave_query();
        r
    }

    /// The number of data columns of the COPY FROM STDIN waiting for its
    /// data, if the last statement was one.
    pub fn copy_in_columns(&self) -> Option<usize> {
        self.copy_in.as_ref().map(|c| c.columns())
    }

    /// Runs `f` over the waiting COPY with a statement context.
    fn with_copy<T>(&mut self, f: impl FnOnce(&mut CopyIn, &StmtCx<'_>) -> Result<T>) -> Result<T> {
        let Some(mut copy) = self.copy_in.take() else {
            return Err(Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "unexpected COPY data: no COPY FROM STDIN is running",
            ));
        };
        let txn = self.current_txn()?;
        let settings = &self.settings;
        let lookup = |name: &str| settings.get(name);
        let cx = StmtCx {
            shared: &self.shared,
            txn: &txn,
            settings: &lookup,
            params: &[],
            param_types: &[],
            params_allowed: false,
            sql: "",
        };
        let r = f(&mut copy, &cx);
        if r.is_ok() {
            self.copy_in = Some(copy);
        }
        r
    }

    /// CopyData: the next bytes of the running COPY FROM STDIN. An error
    /// ends the COPY and fails the transaction.
    pub fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        let r = self.with_copy(|c, cx| c.feed(cx, data));
        if r.is_err() {
            self.copy_in = None;
            self.fail();
        }
        r
    }

    /// CopyDone: stores what is left and ends the statement (`COPY n`).
    pub fn copy_done(&mut self) -> Result<StatementResult> {
        let r = self.with_copy(|c, cx| c.finish(cx)).and_then(|r| {
            self.copy_in = None;
            self.end_implicit()?;
            Ok(r)
        });
        if r.is_err() {
            self.copy_in = None;
            self.fail();
        }
        r
    }

    /// CopyFail from the client: the COPY and its transaction fail.
    pub fn copy_fail(&mut self, message: &str) -> Error {
        self.copy_in = None;
        self.fail();
        Error::new(
            SqlState::QUERY_CANCELED,
            format!("COPY from stdin failed: {message}"),
        )
    }

    /// Runs one statement. `params` is `None` in the simple protocol.
    fn run(
        &mut self,
        stmt: &Statement,
        sql: &str,
        params: Option<&[Value]>,
        param_types: &[DataType],
    ) -> Result<StatementResult> {
        self.set_datetime_context();
        if self.block == BlockState::Failed && !ends_block(stmt) {
            return Err(in_failed_block());
        }
        if matches!(stmt, Statement::Vacuum(_)) && self.block != BlockState::Idle {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "VACUUM cannot run inside a transaction block",
            ));
        }
        match stmt {
            Statement::StartTransaction {
                modes,
                begin,
                transaction,
                modifier,
                ..
            } => {
                let deferrable = super::txn_syntax::deferrable_of(stmt);
                if modifier.is_some() && deferrable.is_none() {
                    return Err(Error::unsupported("BEGIN with a transaction modifier"));
                }
                let tag = if *begin || transaction.is_none() {
                    "BEGIN"
                } else {
                    "START TRANSACTION"
                };
                if matches!(self.block, BlockState::InBlock { .. }) {
                    // PostgreSQL warns "there is already a transaction in progress".
                    return Ok(tag_only(tag));
                }
                self.settings.begin();
                self.block = BlockState::InBlock { queried: false };
                let default_iso = self.settings.get("default_transaction_isolation")?;
                self.settings
                    .set("transaction_isolation", &default_iso, true)?;
                let default_ro = self.settings.get("default_transaction_read_only")?;
                self.settings
                    .set("transaction_read_only", &default_ro, true)?;
                let default_deferrable = match deferrable {
                    Some(d) => bool_word(d).to_string(),
                    None => self.settings.get("default_transaction_deferrable")?,
                };
                self.settings
                    .set("transaction_deferrable", &default_deferrable, true)?;
                self.apply_transaction_modes(modes)?;
                self.savepoints.clear();
                if self.txn.is_some() {
                    // An implicit transaction (earlier statements of this
                    // query) becomes the block's.
                    self.implicit = false;
                    self.sync_characteristics()?;
                } else {
                    let options = self.txn_options()?;
                    self.txn = Some(Arc::new(TxnCell::new(
                        self.shared.stack().txns.begin(options)?,
                    )));
                    self.implicit = false;
                }
                Ok(tag_only(tag))
            }
            Statement::Commit { chain, .. } => {
                if *chain {
                    return Err(Error::unsupported("COMMIT AND CHAIN"));
                }
                let failed = self.block == BlockState::Failed;
                self.block = BlockState::Idle;
                self.savepoints.clear();
                if failed {
                    self.settings.rollback();
                    self.finish_txn(false)?;
                    return Ok(tag_only("ROLLBACK"));
                }
                match self.finish_txn(true) {
                    Ok(()) => {
                        self.settings.commit();
                        Ok(tag_only("COMMIT"))
                    }
                    Err(e) => {
                        self.settings.rollback();
                        Err(e)
                    }
                }
            }
            Statement::Rollback { chain, savepoint } => {
                if *chain {
                    return Err(Error::unsupported("ROLLBACK AND CHAIN"));
                }
                if let Some(name) = savepoint {
                    return self.rollback_to_savepoint(&ident_name(name));
                }
                self.settings.rollback();
                self.block = BlockState::Idle;
                self.savepoints.clear();
                self.finish_txn(false)?;
                Ok(tag_only("ROLLBACK"))
            }
            Statement::Savepoint { name } => {
                let name = ident_name(name);
                if self.block == BlockState::Idle {
                    return Err(Error::new(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let txn = self.current_txn()?;
                lock_txn(&txn)?.savepoint(&name)?;
                self.savepoints.push(name);
                Ok(tag_only("SAVEPOINT"))
            }
            Statement::ReleaseSavepoint { name } => {
                let name = ident_name(name);
                if self.block == BlockState::Idle {
                    return Err(Error::new(
                        SqlState::NO_ACTIVE_SQL_TRANSACTION,
                        "RELEASE SAVEPOINT can only be used in transaction blocks",
                    ));
                }
                let Some(pos) = self.savepoints.iter().rposition(|s| *s == name) else {
                    return Err(Error::new(
                        SqlState::INVALID_SAVEPOINT_SPECIFICATION,
                        format!("savepoint \"{name}\" does not exist"),
                    ));
                };
                let txn = self.current_txn()?;
                lock_txn(&txn)?.release(&name)?;
                self.savepoints.truncate(pos);
                Ok(tag_only("RELEASE"))
            }
            Statement::Set(set) => self.run_set(set),
            Statement::ShowVariable { variable } => self.show(variable),
            Statement::Reset(r) => {
                match &r.reset {
                    ast::Reset::ALL => self.settings.reset_all(),
                    ast::Reset::SessionAuthorization => {
                        self.settings.reset("session_authorization", false)?
                    }
                    ast::Reset::ConfigurationParameter(name) => {
                        let name = object_name(name).join(".");
                        self.reset_parameter(&name)?;
                    }
                }
                Ok(tag_only("RESET"))
            }
            Statement::Discard { object_type } => {
                if !matches!(object_type, ast::DiscardObject::ALL) {
                    return Err(Error::unsupported(format!("DISCARD {object_type}")));
                }
                if self.block != BlockState::Idle {
                    return Err(Error::new(
                        SqlState::ACTIVE_SQL_TRANSACTION,
                        "DISCARD ALL cannot run inside a transaction block",
                    ));
                }
                self.settings.reset_all();
                self.deallocate_all();
                self.registration
                    .backend()
                    .apply_listen(&[super::activity::ListenChange::UnlistenAll]);
                Ok(tag_only("DISCARD ALL"))
            }
            Statement::Prepare {
                name,
                data_types,
                statement,
            } => self.sql_prepare(name, data_types, statement),
            Statement::Execute {
                name: Some(name),
                parameters,
                immediate: false,
                into,
                using,
                ..
            } if into.is_empty() && using.is_empty() => self.sql_execute(name, parameters),
            Statement::Deallocate { name, .. } => self.sql_deallocate(name),
            Statement::LISTEN { channel } => {
                let change = super::activity::ListenChange::Listen(ident_name(channel));
                self.pending.lock().listen.push(change);
                Ok(tag_only("LISTEN"))
            }
            Statement::UNLISTEN { channel } => {
                let change = if channel.quote_style.is_none() && channel.value == "*" {
                    super::activity::ListenChange::UnlistenAll
                } else {
                    super::activity::ListenChange::Unlisten(ident_name(channel))
                };
                self.pending.lock().listen.push(change);
                Ok(tag_only("UNLISTEN"))
            }
            Statement::NOTIFY { channel, payload } => {
                self.pending
                    .lock()
                    .notify(&ident_name(channel), payload.as_deref().unwrap_or(""))?;
                Ok(tag_only("NOTIFY"))
            }
            other => {
                super::settings::take_set_configs();
                let r = self.run_in_txn(other, sql, params, param_types)?;
                // set_config() calls of a statement that succeeded.
                for (name, value, local) in super::settings::take_set_configs() {
                    self.assign(name, SetValue::Text(value), local)?;
                }
                Ok(r)
            }
        }
    }

    /// A statement that reads or writes data: runs in the block's
    /// transaction, or in an implicit one the caller commits. One that may
    /// change the catalog makes every kept plan stale (`plan_cache.rs`).
    fn run_in_txn(
        &mut self,
        stmt: &Statement,
        sql: &str,
        params: Option<&[Value]>,
        param_types: &[DataType],
    ) -> Result<StatementResult> {
        let changes_catalog = !matches!(
            stmt,
            Statement::Query(_)
                | Statement::Insert(_)
                | Statement::Update(_)
                | Statement::Delete(_)
                | Statement::Copy { .. }
                | Statement::Explain { .. }
        );
        if changes_catalog {
            self.catalog_dirty = true;
        }
        let r = self.run_data_statement(stmt, sql, params, param_types);
        if changes_catalog {
            self.shared.catalog_generation().bump();
        }
        r
    }

    fn run_data_statement(
        &mut self,
        stmt: &Statement,
        sql: &str,
        params: Option<&[Value]>,
        param_types: &[DataType],
    ) -> Result<StatementResult> {
        // The slot is this statement's only: nested statements never see it.
        let slot = self.plan_slot.take();
        // Read before the statement's snapshot (the plan is kept with it).
        let generation = self.shared.catalog_generation().current();
        let txn = self.start_statement()?;
        let slot = match slot {
            Some(s) if lock_txn(&txn)?.isolation() == IsolationLevel::ReadCommitted => Some(s),
            _ => None,
        };
        let settings_version = self.settings.version();
        if let BlockState::InBlock { queried } = &mut self.block {
            *queried = true;
        }
        let resolved = match params {
            Some(p) => resolve_reg_params(&self.shared, &txn, p, param_types)?,
            None => None,
        };
        let params = resolved.as_deref().or(params);
        let settings = &self.settings;
        let lookup = |name: &str| settings.get(name);
        let cx = StmtCx {
            shared: &self.shared,
            txn: &txn,
            settings: &lookup,
            params: params.unwrap_or(&[]),
            param_types,
            params_allowed: params.is_some(),
            sql,
        };
        // The plan this prepared statement kept, if it is still current.
        let kept = slot.as_ref().and_then(|slot| {
            let now = cx.shared.catalog_generation().settled()?;
            slot.get(now, settings_version)
        });
        // Keeps what this execution bound for the next one.
        let keep = |kept: Kept| {
            if let Some(slot) = &slot {
                slot.keep(CachedPlan {
                    generation,
                    settings_version,
                    kept,
                });
            }
        };
        match stmt {
            stmt if super::roles::is_role_statement(stmt) => super::roles::run(&cx, stmt),
            Statement::Query(q) if super::modifying_cte::applies(q) => {
                super::modifying_cte::run(&cx, q)
            }
            Statement::Query(q) => {
                if let Some(kept) = &kept
                    && let Kept::Query { plan, columns } = &kept.kept
                {
                    let mut rows = execute::run(plan, &cx.exec())?;
                    reg_output(&self.shared, &txn, columns, &mut rows)?;
                    return Ok(StatementResult {
                        tag: format!("SELECT {}", rows.len()),
                        columns: columns.clone(),
                        rows,
                    });
                }
                let watch = super::plan_cache::BindWatch::start();
                let mut binder = cx.binder();
                let bound = binder.bind_query(q)?;
                let plan = super::optimizer::plan(bound.plan, cx.shared, cx.settings)?;
                let timeless = watch.timeless();
                let mut rows = execute::run(&plan, &cx.exec())?;
                reg_output(&self.shared, &txn, &bound.columns, &mut rows)?;
                if timeless && super::plan_cache::cacheable(&plan) {
                    keep(Kept::Query {
                        plan,
                        columns: bound.columns.clone(),
                    });
                }
                Ok(StatementResult {
                    tag: format!("SELECT {}", rows.len()),
                    columns: bound.columns,
                    rows,
                })
            }
            Statement::Insert(i) => {
                cx.check_writable("INSERT")?;
                if let Some(kept) = &kept
                    && let Kept::Insert(bound) = &kept.kept
                {
                    return dml::run_insert(&cx, bound);
                }
                let watch = super::plan_cache::BindWatch::start();
                let bound = dml::prepare_insert(&cx, i)?;
                let timeless = watch.timeless();
                let r = dml::run_insert(&cx, &bound);
                if timeless && bound.reusable() {
                    keep(Kept::Insert(bound));
                }
                r
            }
            Statement::Update(_) | Statement::Delete(_) => {
                let is_update = matches!(stmt, Statement::Update(_));
                cx.check_writable(if is_update { "UPDATE" } else { "DELETE" })?;
                if let Some(kept) = &kept
                    && let Kept::Modify(bound) = &kept.kept
                {
                    return dml::run_modify(&cx, bound);
                }
                let watch = super::plan_cache::BindWatch::start();
                let bound = match stmt {
                    Statement::Update(u) => dml::prepare_update(&cx, u)?,
                    Statement::Delete(d) => dml::prepare_delete(&cx, d)?,
                    _ => return Err(Error::internal("UPDATE / DELETE mismatch")),
                };
                let timeless = watch.timeless();
                let r = dml::run_modify(&cx, &bound);
                if timeless && bound.reusable() {
                    keep(Kept::Modify(bound));
                }
                r
            }
            Statement::CreateSchema {
                schema_name,
                if_not_exists,
                ..
            } => super::namespace::create_schema(&cx, schema_name, *if_not_exists),
            Statement::Drop {
                object_type: ast::ObjectType::Schema,
                if_exists,
                names,
                cascade,
                ..
            } => super::namespace::drop_schema(&cx, names, *if_exists, *cascade),
            stmt @ Statement::CreateSequence { .. } => {
                if super::sequence::is_alter_placeholder(stmt) {
                    super::sequence::alter_sequence(&cx)
                } else {
                    super::sequence::create_sequence(&cx, stmt)
                }
            }
            Statement::Drop {
                object_type: ast::ObjectType::Sequence,
                if_exists,
                names,
                cascade,
                ..
            } => super::sequence::drop_sequence(&cx, names, *if_exists, *cascade),
            Statement::CreateView(cv) => super::view::create_view(&cx, cv),
            Statement::Comment {
                object_type,
                object_name,
                comment,
                ..
            } => super::comment::comment_on(&cx, object_type, object_name, comment.as_deref()),
            Statement::Drop {
                object_type: ast::ObjectType::View,
                if_exists,
                names,
                cascade,
                ..
            } => super::view::drop_view(&cx, names, *if_exists, *cascade),
            Statement::CreateTable(ct) => ddl::create_table(&cx, ct),
            Statement::CreateIndex(ci) => ddl::create_index(&cx, ci),
            Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                ..
            } => ddl::drop(&cx, object_type, *if_exists, names, *cascade),
            Statement::Truncate(t) => dml::truncate(&cx, t),
            Statement::AlterTable(at) => super::alter::alter_table(&cx, at),
            Statement::Analyze(a) => super::vacuum::analyze(&cx, a),
            Statement::Vacuum(v) => super::vacuum::vacuum(&cx, v),
            Statement::Copy { .. } => match copy::start(&cx, stmt)? {
                Copied::Out(r) => Ok(r),
                Copied::In(c) => {
                    self.copy_in = Some(c);
                    Ok(tag_only(""))
                }
            },
            Statement::Explain {
                statement, analyze, ..
            } => super::explain::explain(&cx, statement, *analyze),
            other => Err(Error::unsupported(statement_kind(other))),
        }
    }

    /// The transaction of the block (or of the implicit transaction).
    fn current_txn(&self) -> Result<Arc<TxnCell>> {
        self.txn
            .clone()
            .ok_or_else(|| Error::internal("no transaction in progress"))
    }

    /// Options for a new transaction from the session's settings.
    fn txn_options(&self) -> Result<TxnOptions> {
        let in_block = self.block != BlockState::Idle;
        let (iso, ro) = if in_block {
            ("transaction_isolation", "transaction_read_only")
        } else {
            (
                "default_transaction_isolation",
                "default_transaction_read_only",
            )
        };
        let deferrable = if in_block {
            "transaction_deferrable"
        } else {
            "default_transaction_deferrable"
        };
        let mut o = TxnOptions::new(isolation_level(&self.settings.get(iso)?));
        o.read_only = self.settings.get(ro)? == "on";
        o.deferrable = self.settings.get(deferrable)? == "on";
        // A CancelRequest also interrupts the transaction's lock waits.
        o.cancel = super::signals::cancel_token();
        Ok(o)
    }

    /// Pushes the block's isolation and access mode to its transaction.
    fn sync_characteristics(&mut self) -> Result<()> {
        let Some(txn) = self.txn.clone() else {
            return Ok(());
        };
        let o = self.txn_options()?;
        lock_txn(&txn)?.set_characteristics(o.isolation, o.read_only, o.deferrable)?;
        Ok(())
    }

    /// Starts a statement: the transaction (begun now outside a block),
    /// a new command id and (READ COMMITTED) snapshot, the timeouts.
    fn start_statement(&mut self) -> Result<Arc<TxnCell>> {
        let txn = match &self.txn {
            Some(t) => t.clone(),
            None => {
                let options = self.txn_options()?;
                let t = Arc::new(TxnCell::new(self.shared.stack().txns.begin(options)?));
                self.txn = Some(t.clone());
                self.implicit = true;
                t
            }
        };
        let lock_ms = parse_millis("lock_timeout", &self.settings.get("lock_timeout")?)?;
        let stmt_ms = parse_millis(
            "statement_timeout",
            &self.settings.get("statement_timeout")?,
        )?;
        {
            let mut t = lock_txn(&txn)?;
            t.lock_timeout = (lock_ms > 0).then(|| Duration::from_millis(lock_ms as u64));
            t.statement_deadline =
                (stmt_ms > 0).then(|| Instant::now() + Duration::from_millis(stmt_ms as u64));
            t.begin_statement()?;
        }
        Ok(txn)
    }

    /// Ends the current transaction (if any): commit or roll back.
    fn finish_txn(&mut self, commit: bool) -> Result<()> {
        // A transaction that changed the catalog: kept plans are stale once
        // its end is visible (the guard bumps the generation as it drops).
        let shared = self.shared.clone();
        let _ending =
            std::mem::take(&mut self.catalog_dirty).then(|| shared.catalog_generation().ending());
        let Some(cell) = self.txn.take() else {
            if !commit {
                self.pending.lock().notifications.clear();
                self.pending.lock().listen.clear();
            }
            return Ok(());
        };
        self.implicit = false;
        let txn = match Arc::try_unwrap(cell) {
            Ok(m) => m.into_inner(),
            Err(_) => {
                return Err(Error::internal(
                    "transaction still referenced at its end; rolled back",
                ));
            }
        };
        let pending = std::mem::take(&mut *self.pending.lock());
        if commit {
            txn.commit()?;
            self.announce(pending);
        } else {
            txn.rollback()?;
        }
        Ok(())
    }

    /// Commits the implicit transaction of an autocommit statement.
    fn end_implicit(&mut self) -> Result<()> {
        if self.implicit && self.block == BlockState::Idle {
            self.finish_txn(true)?;
        }
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes the work since, and a failed
    /// block is usable again.
    fn rollback_to_savepoint(&mut self, name: &str) -> Result<StatementResult> {
        if self.block == BlockState::Idle {
            return Err(Error::new(
                SqlState::NO_ACTIVE_SQL_TRANSACTION,
                "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
            ));
        }
        let Some(pos) = self.savepoints.iter().rposition(|s| s == name) else {
            return Err(Error::new(
                SqlState::INVALID_SAVEPOINT_SPECIFICATION,
                format!("savepoint \"{name}\" does not exist"),
            ));
        };
        let txn = self.current_txn()?;
        lock_txn(&txn)?.rollback_to(name)?;
        if self.catalog_dirty {
            self.shared.catalog_generation().bump();
        }
        self.savepoints.truncate(pos + 1);
        self.block = BlockState::InBlock { queried: true };
        Ok(tag_only("ROLLBACK"))
    }

    fn reset_parameter(&mut self, name: &str) -> Result<()> {
        let canonical = canonical_name(name)?;
        if is_transaction_parameter(canonical) {
            return Ok(());
        }
        self.settings.reset(canonical, false)
    }

    /// `SET TRANSACTION [NOT] DEFERRABLE` inside a block, with PostgreSQL's
    /// two refusals.
    fn set_deferrable(&mut self, queried: bool, on: bool) -> Result<()> {
        if !self.savepoints.is_empty() {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION [NOT] DEFERRABLE cannot be called within a subtransaction",
            ));
        }
        if queried {
            return Err(Error::new(
                SqlState::ACTIVE_SQL_TRANSACTION,
                "SET TRANSACTION [NOT] DEFERRABLE must be called before any query",
            ));
        }
        self.settings
            .set("transaction_deferrable", bool_word(on), true)
    }

    fn apply_transaction_modes(&mut self, modes: &[ast::TransactionMode]) -> Result<()> {
        for m in modes {
            match m {
                ast::TransactionMode::IsolationLevel(level) => {
                    self.settings
                        .set("transaction_isolation", isolation_name(level)?, true)?;
                }
                ast::TransactionMode::AccessMode(mode) => {
                    let ro = matches!(mode, ast::TransactionAccessMode::ReadOnly);
                    self.settings.set(
                        "transaction_read_only",
                        if ro { "on" } else { "off" },
                        true,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn run_set(&mut self, set: &ast::Set) -> Result<StatementResult> {
        match set {
            ast::Set::SingleAssignment {
                scope,
                hivevar,
                variable,
                values,
            } => {
                if *hivevar {
                    return Err(Error::unsupported("SET HIVEVAR"));
                }
                let local = match scope {
                    None | Some(ast::ContextModifier::Session) => false,
                    Some(ast::ContextModifier::Local) => true,
                    Some(ast::ContextModifier::Global) => {
                        return Err(Error::unsupported("SET GLOBAL"));
                    }
                };
                let name = object_name(variable).join(".");
                let value = set_value(&name, values)?;
                self.assign(&name, value, local)?;
                Ok(tag_only("SET"))
            }
            ast::Set::SetTimeZone { local, value } => {
                let value = match value {
                    ast::Expr::Identifier(id)
                        if id.quote_style.is_none()
                            && (id.value.eq_ignore_ascii_case("local")
                                || id.value.eq_ignore_ascii_case("default")) =>
                    {
                        SetValue::Default
                    }
                    other => set_value("TimeZone", std::slice::from_ref(other))?,
                };
                self.assign("TimeZone", value, *local)?;
                Ok(tag_only("SET"))
            }
            ast::Set::SetNames { charset_name, .. } => {
                self.assign(
                    "client_encoding",
                    SetValue::Text(charset_name.value.clone()),
                    false,
                )?;
                Ok(tag_only("SET"))
            }
            ast::Set::SetNamesDefault {} => {
                self.assign("client_encoding", SetValue::Default, false)?;
                Ok(tag_only("SET"))
            }
            ast::Set::SetTransaction {
                modes,
                snapshot,
                session,
            } => {
                let deferrable = super::txn_syntax::deferrable_of(&Statement::Set(set.clone()));
                if snapshot.is_some() && deferrable.is_none() {
                    return Err(Error::unsupported("SET TRANSACTION SNAPSHOT"));
                }
                if *session {
                    if let Some(d) = deferrable {
                        self.settings
                            .set("default_transaction_deferrable", bool_word(d), false)?;
                    }
                    for m in modes {
                        match m {
                            ast::TransactionMode::IsolationLevel(level) => {
                                self.settings.set(
                                    "default_transaction_isolation",
                                    isolation_name(level)?,
                                    false,
                                )?;
                            }
                            ast::TransactionMode::AccessMode(mode) => {
                                let ro = matches!(mode, ast::TransactionAccessMode::ReadOnly);
                                self.settings.set(
                                    "default_transaction_read_only",
                                    if ro { "on" } else { "off" },
                                    false,
                                )?;
                            }
                        }
                    }
                } else if let BlockState::InBlock { queried } = self.block {
                    if queried
                        && modes
                            .iter()
                            .any(|m| matches!(m, ast::TransactionMode::IsolationLevel(_)))
                    {
                        return Err(Error::new(
                            SqlState::ACTIVE_SQL_TRANSACTION,
                            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                        ));
                    }
                    self.apply_transaction_modes(modes)?;
                    if let Some(d) = deferrable {
                        self.set_deferrable(queried, d)?;
                    }
                    self.sync_characteristics()?;
                }
                // Outside a block PostgreSQL warns and does nothing.
                Ok(tag_only("SET"))
            }
            ast::Set::SetSessionAuthorization(p) => {
                match &p.kind {
                    ast::SetSessionAuthorizationParamKind::Default => {
                        self.settings.reset("session_authorization", false)?
                    }
                    ast::SetSessionAuthorizationParamKind::User(u) => {
                        self.settings
                            .set("session_authorization", &u.value, false)?
                    }
                }
                Ok(tag_only("SET"))
            }
            ast::Set::SetRole { .. } => Err(Error::unsupported("SET ROLE")),
            _ => Err(Error::unsupported("this form of SET")),
        }
    }

    fn assign(&mut self, name: &str, value: SetValue, local: bool) -> Result<()> {
        let canonical = canonical_name(name)?;
        if local && self.block == BlockState::Idle {
            // PostgreSQL: WARNING "SET LOCAL can only be used in transaction blocks"; no effect.
            // Still validate the name and value as it does.
            if let SetValue::Text(v) = &value {
                let mut scratch = self.settings.clone();
                scratch.set(canonical, v, true)?;
            }
            return Ok(());
        }
        if is_transaction_parameter(canonical) {
            let SetValue::Text(v) = value else {
                return Ok(());
            };
            match self.block {
                BlockState::InBlock { queried } if canonical == "transaction_deferrable" => {
                    let mut scratch = self.settings.clone();
                    scratch.set(canonical, &v, true)?;
                    let on = scratch.get(canonical)? == "on";
                    self.set_deferrable(queried, on)?;
                    self.sync_characteristics()
                }
                BlockState::InBlock { queried } => {
                    if queried && canonical == "transaction_isolation" {
                        return Err(Error::new(
                            SqlState::ACTIVE_SQL_TRANSACTION,
                            "SET TRANSACTION ISOLATION LEVEL must be called before any query",
                        ));
                    }
                    self.settings.set(canonical, &v, true)?;
                    self.sync_characteristics()
                }
                // Outside a block there is no transaction to change; validate only.
                _ => self.settings.clone().set(canonical, &v, true),
            }
        } else {
            match value {
                SetValue::Default => self.settings.reset(canonical, local),
                SetValue::Text(v) => self.settings.set(canonical, &v, local),
            }
        }
    }

    fn show_name(variable: &[ast::Ident]) -> String {
        let words: Vec<String> = variable.iter().map(|i| i.value.to_lowercase()).collect();
        match words.join(" ").as_str() {
            "transaction isolation level" => "transaction_isolation".to_string(),
            "time zone" => "TimeZone".to_string(),
            "session authorization" => "session_authorization".to_string(),
            _ => words.join("."),
        }
    }

    fn show_columns(&self, variable: &[ast::Ident]) -> Result<Vec<Column>> {
        let name = Self::show_name(variable);
        if name == "all" {
            return Ok(["name", "setting", "description"]
                .iter()
                .map(|n| Column {
                    name: n.to_string(),
                    data_type: DataType::Text,
                })
                .collect());
        }
        Ok(vec![Column {
            name: canonical_name(&name)?.to_string(),
            data_type: DataType::Text,
        }])
    }

    fn show(&self, variable: &[ast::Ident]) -> Result<StatementResult> {
        let name = Self::show_name(variable);
        let columns = self.show_columns(variable)?;
        let rows = if name == "all" {
            self.settings
                .all()
                .into_iter()
                .map(|(n, v, d)| vec![Value::Text(n), Value::Text(v), Value::Text(d)])
                .collect()
        } else {
            vec![vec![Value::Text(self.parameter_value(&name)?)]]
        };
        Ok(StatementResult {
            columns,
            rows,
            tag: "SHOW".to_string(),
        })
    }

    /// A parameter's value; transaction_* outside a block show the defaults.
    fn parameter_value(&self, name: &str) -> Result<String> {
        let canonical = canonical_name(name)?;
        if self.block == BlockState::Idle {
            match canonical {
                "transaction_isolation" => {
                    return self.settings.get("default_transaction_isolation");
                }
                "transaction_read_only" => {
                    return self.settings.get("default_transaction_read_only");
                }
                "transaction_deferrable" => {
                    return self.settings.get("default_transaction_deferrable");
                }
                _ => {}
            }
        }
        self.settings.get(canonical)
    }

    pub fn transaction_status(&self) -> TransactionStatus {
        match self.block {
            BlockState::Idle => TransactionStatus::Idle,
            BlockState::InBlock { .. } => TransactionStatus::InBlock,
            BlockState::Failed => TransactionStatus::Failed,
        }
    }

    pub fn parameter(&self, name: &str) -> Option<String> {
        self.parameter_value(name).ok()
    }

    pub fn set_parameter(&mut self, name: &str, value: &str) -> Result<()> {
        self.assign(name, SetValue::Text(value.to_string()), false)
    }

    pub fn reported_parameters(&self) -> Vec<(String, String)> {
        self.settings
            .reported()
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect()
    }

    pub fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        self.settings.take_changed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;

    fn session() -> crate::db::Session {
        Database::in_memory().unwrap().session()
    }

    #[test]
    fn a_regclass_parameter_given_by_name_is_looked_up_in_the_catalog() {
        let mut s = session();
        s.execute("CREATE TABLE named_t (a int)").unwrap();
        let p = s
            .prepare("SELECT $1::regclass::oid, $1::regclass", &[])
            .unwrap();
        let r = s
            .execute_prepared(&p, &[Value::Text("named_t".into())])
            .unwrap();
        let Value::Int8(o) = r.rows[0][0] else {
            panic!("an oid: {:?}", r.rows[0][0]);
        };
        assert!(o > 0);
        assert_eq!(r.rows[0][1], Value::Text("named_t".into()));
        let e = s
            .execute_prepared(&p, &[Value::Text("no_such".into())])
            .unwrap_err();
        assert_eq!(e.sqlstate, SqlState::UNDEFINED_TABLE);
        let by_oid = s.execute_prepared(&p, &[Value::Int8(o)]).unwrap();
        assert_eq!(by_oid.rows[0][0], Value::Int8(o));
    }

    #[test]
    fn prepare_infers_parameter_types_from_context() {
        let mut s = session();
        let p = s
            .prepare("SELECT $1 + 1, $2::int8, $3 = 'x', $4", &[])
            .unwrap();
        assert_eq!(
            p.param_types,
            vec![
                DataType::Int4,
                DataType::Int8,
                DataType::Text,
                DataType::Text
            ]
        );
        let names: Vec<&str> = p.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["?column?", "int8", "?column?", "?column?"]);
        assert_eq!(p.columns[0].data_type, DataType::Int4);
        let r = s
            .execute_prepared(
                &p,
                &[
                    Value::Int4(41),
                    Value::Int8(7),
                    Value::Text("x".into()),
                    Value::Null,
                ],
            )
            .unwrap();
        assert_eq!(
            r.rows,
            vec![vec![
                Value::Int4(42),
                Value::Int8(7),
                Value::Bool(true),
                Value::Null
            ]]
        );
        assert_eq!(r.tag, "SELECT 1");
    }

    #[test]
    fn declared_parameter_types_win_and_text_values_are_read_as_them() {
        let mut s = session();
        let p = s.prepare("SELECT $1", &[Some(DataType::Int8)]).unwrap();
        assert_eq!(p.param_types, vec![DataType::Int8]);
        assert_eq!(p.columns[0].data_type, DataType::Int8);
        let r = s.execute_prepared(&p, &[Value::Text("12".into())]).unwrap();
        assert_eq!(r.rows, vec![vec![Value::Int8(12)]]);
        let e = s.execute_prepared(&p, &[]).unwrap_err();
        assert_eq!(e.sqlstate, SqlState::PROTOCOL_VIOLATION);
    }

    #[test]
    fn parameters_in_the_simple_protocol_are_42p02() {
        let mut s = session();
        let e = s.execute("SELECT $1").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::UNDEFINED_PARAMETER);
        assert_eq!(e.message, "there is no parameter $1");
    }

    #[test]
    fn an_error_in_a_block_fails_it_until_rollback() {
        let mut s = session();
        assert_eq!(s.transaction_status(), TransactionStatus::Idle);
        s.execute("BEGIN").unwrap();
        assert_eq!(s.transaction_status(), TransactionStatus::InBlock);
        assert!(s.execute("SELECT 1/0").is_err());
        assert_eq!(s.transaction_status(), TransactionStatus::Failed);
        let p = s.prepare("SELECT 1", &[]).unwrap_err();
        assert_eq!(p.sqlstate, SqlState::IN_FAILED_SQL_TRANSACTION);
        let r = s.execute("COMMIT").unwrap();
        assert_eq!(r[0].tag, "ROLLBACK");
        assert_eq!(s.transaction_status(), TransactionStatus::Idle);
        // Outside a block, errors leave the session idle.
        assert!(s.execute("SELECT 1/0").is_err());
        assert_eq!(s.transaction_status(), TransactionStatus::Idle);
    }

    #[test]
    fn command_tags_are_postgres_tags() {
        let mut s = session();
        let tags: Vec<String> = s
            .execute("BEGIN; SELECT 1; SET application_name = 'a'; SHOW application_name; COMMIT; START TRANSACTION; ROLLBACK; RESET ALL")
            .unwrap()
            .into_iter()
            .map(|r| r.tag)
            .collect();
        assert_eq!(
            tags,
            [
                "BEGIN",
                "SELECT 1",
                "SET",
                "SHOW",
                "COMMIT",
                "START TRANSACTION",
                "ROLLBACK",
                "RESET"
            ]
        );
    }

    #[test]
    fn a_failing_multi_statement_query_undoes_its_sets() {
        let mut s = session();
        assert!(s.execute("SET application_name = 'x'; SELECT 1/0").is_err());
        assert_eq!(s.parameter("application_name").as_deref(), Some(""));
        s.execute("SET application_name = 'y'; SELECT 1").unwrap();
        assert_eq!(s.parameter("application_name").as_deref(), Some("y"));
    }

    #[test]
    fn reported_parameters_and_their_changes() {
        let mut s = session();
        let reported = s.reported_parameters();
        let names: Vec<&str> = reported.iter().map(|(n, _)| n.as_str()).collect();
        for n in [
            "server_version",
            "server_encoding",
            "client_encoding",
            "application_name",
            "DateStyle",
            "IntervalStyle",
            "TimeZone",
            "integer_datetimes",
            "standard_conforming_strings",
            "is_superuser",
            "session_authorization",
        ] {
            assert!(names.contains(&n), "{n} not reported");
        }
        assert!(s.take_changed_parameters().is_empty());
        s.set_parameter("application_name", "psql").unwrap();
        s.execute("SET DateStyle = 'iso, dmy'").unwrap();
        let changed = s.take_changed_parameters();
        assert_eq!(
            changed,
            vec![
                ("application_name".to_string(), "psql".to_string()),
                ("DateStyle".to_string(), "ISO, DMY".to_string())
            ]
        );
        assert!(s.take_changed_parameters().is_empty());
    }

    #[test]
    fn show_names_its_column_after_the_parameter() {
        let mut s = session();
        let r = s.execute("SHOW datestyle").unwrap();
        assert_eq!(r[0].columns[0].name, "DateStyle");
        let p = s.prepare("SHOW TimeZone", &[]).unwrap();
        assert_eq!(p.columns[0].name, "TimeZone");
        let all = s.execute("SHOW ALL").unwrap();
        assert_eq!(all[0].columns.len(), 3);
        assert!(all[0].rows.len() > 20);
    }

    #[test]
    fn unsupported_statements_are_0a000() {
        let mut s = session();
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "EXPLAIN ANALYZE DELETE FROM t",
        ] {
            let e = s.execute(sql).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::FEATURE_NOT_SUPPORTED, "{sql}: {e}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A cheap stand-in for the fuzz target: mangled statements.
        let mut s = session();
        let seeds = [
            "SELECT 1 + 2 * 3",
            "SELECT 'a' || 1",
            "SELECT CASE WHEN $1 THEN 1 END",
            "VALUES (1), (2)",
            "SET x TO 1",
            "SELECT 1e999999",
            "SELECT -9223372036854775808",
            "SELECT abs(-2147483648)",
            "SELECT round(1.5, 2147483647)",
            "SELECT repeat('x', 2147483647)",
            "SELECT lpad('x', 2147483647)",
            "SELECT 1::numeric(1000, 1000)",
            "SELECT substr('abc', -2147483648, 2147483647)",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for base in seeds {
            let _ = s.execute(base);
            for _ in 0..50 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let chars: Vec<char> = base.chars().collect();
                let cut = (seed as usize) % (chars.len() + 1);
                let mangled: String = chars[..cut]
                    .iter()
                    .chain(chars[cut..].iter().rev())
                    .collect();
                let _ = s.execute(&mangled);
                let _ = s.prepare(&mangled, &[]);
            }
            let _ = s.execute("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod position_tests {
    use crate::db::Database;

    fn position(sql: &str) -> Option<u32> {
        let mut s = Database::in_memory().unwrap().session();
        s.execute(sql).unwrap_err().position
    }

    #[test]
    fn bind_errors_point_at_the_offending_node_as_postgres_does() {
        assert_eq!(position("select nope"), Some(8));
        assert_eq!(position("select 1, foo(1)"), Some(11));
        assert_eq!(position("select 'abc'::int"), Some(8));
        assert_eq!(position("select t.x from (values (1)) t(y)"), Some(8));
        assert_eq!(
            position("select x from (values (1)) t(x) group by x + 1"),
            Some(8)
        );
        let mut s = Database::in_memory().unwrap().session();
        let p = s.prepare("select 1, nope", &[]).unwrap_err();
        assert_eq!(p.position, Some(11));
    }
}

/// The per-transaction parameters `SET` changes only inside a block.
fn is_transaction_parameter(canonical: &str) -> bool {
    matches!(
        canonical,
        "transaction_isolation" | "transaction_read_only" | "transaction_deferrable"
    )
}

fn bool_word(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn truncate_text(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_owned()
}
