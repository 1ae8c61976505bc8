//! Sequences from SQL: CREATE / ALTER / DROP SEQUENCE, `nextval`,
//! `currval`, `setval`, `lastval`, and the sequences behind `serial`
//! and identity columns.
//!
//! ```text
//!  nextval('s')  ─▶ definition (catalog, statement's snapshot)
//!                ─▶ Shared cache[oid]: last, is_called, logged   (one mutex per sequence)
//!                     value = last + increment (or start, first call)
//!                     value beyond `logged`? ─▶ own transaction writes
//!                         state (value + 32 × increment) and commits (durable)
//!                ─▶ session: currval[oid] = value, lastval = value
//! ```
//!
//! nextval and setval are not transactional (PostgreSQL's rule): a
//! rolled-back transaction does not give its values back. They are
//! durable: a value is handed out only after a committed state at or
//! beyond it, so after a crash nextval continues above it.
//!
//! Owns: option defaults and checks with PostgreSQL's messages (22023),
//! 2200H at the bounds without CYCLE, 55000 for currval / lastval before
//! nextval, 22003 for setval out of bounds.
//! Never: writes a sequence's state in the statement's transaction (its
//! row lock would make other sessions' nextval wait for it).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast;
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::catalog::SequenceDef;
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::txn::{IsolationLevel, TxnOptions};
use crate::types::{DataType, Value};

use super::Shared;
use super::bind::{object_name, resolve_type};
use super::expr::EvalContext;
use super::scan::{TxnCell, lock_txn};
use super::session::StmtCx;

/// Values handed out between two logged states (PostgreSQL's SEQ_LOG_VALS).
pub const SEQ_LOG_VALUES: i64 = 32;

const INVALID_PARAMETER: SqlState = SqlState::INVALID_PARAMETER_VALUE;
/// 2200H.
const SEQUENCE_GENERATOR_LIMIT_EXCEEDED: SqlState = SqlState("2200H");

/// Which sequence function a bound call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqFunc {
    Nextval,
    Currval,
    Setval,
    SetvalCalled,
    Lastval,
}

/// The signatures of the sequence functions (empty for other names).
pub fn signatures(name: &str) -> Vec<super::functions::Signature> {
    use super::functions::{Func, Signature};
    let sig = |args: Vec<DataType>, f: SeqFunc| Signature {
        args,
        ret: DataType::Int8,
        func: Func::Sequence(f),
    };
    match name {
        "nextval" => vec![sig(vec![DataType::Text], SeqFunc::Nextval)],
        "currval" => vec![sig(vec![DataType::Text], SeqFunc::Currval)],
        "setval" => vec![
            sig(vec![DataType::Text, DataType::Int8], SeqFunc::Setval),
            sig(
                vec![DataType::Text, DataType::Int8, DataType::Bool],
                SeqFunc::SetvalCalled,
            ),
        ],
        "lastval" => vec![sig(vec![], SeqFunc::Lastval)],
        _ => Vec::new(),
    }
}

/// The in-memory state of one sequence, shared by all sessions.
#[derive(Debug, Default)]
struct Cached {
    loaded: bool,
    last: i64,
    called: bool,
    /// The last value covered by the committed state.
    logged: i64,
}

/// The sequences' in-memory states of one database.
#[derive(Default)]
pub struct Cache {
    map: Mutex<HashMap<u32, Arc<Mutex<Cached>>>>,
}

impl Cache {
    fn entry(&self, oid: u32) -> Arc<Mutex<Cached>> {
        self.map.lock().entry(oid).or_default().clone()
    }

    /// Forgets `oid` (CREATE with a reused oid, ALTER, DROP).
    fn forget(&self, oid: u32) {
        self.map.lock().remove(&oid);
    }
}

/// What one session remembers: currval per sequence, and lastval.
#[derive(Debug, Default)]
pub struct SessionSequences {
    current: HashMap<u32, i64>,
    last: Option<(u32, i64)>,
}

struct Context {
    shared: Shared,
    session: Arc<Mutex<SessionSequences>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Gives this thread the database and the session's sequence memory (the
/// session does this before each statement).
pub fn set_context(shared: &Shared, session: &Arc<Mutex<SessionSequences>>) {
    CONTEXT.with(|c| {
        *c.borrow_mut() = Some(Context {
            shared: shared.clone(),
            session: session.clone(),
        })
    });
}

/// Forgets this thread's context (a database closing: the context holds a
/// handle to it, which would otherwise live until the thread's next
/// statement).
pub fn clear_context() {
    CONTEXT.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            *c = None;
        }
    });
}

fn context() -> Result<(Shared, Arc<Mutex<SessionSequences>>)> {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| (c.shared.clone(), c.session.clone()))
            .ok_or_else(|| Error::internal("sequence function outside a session"))
    })
}

/// Splits `'s.name'` / `'"Mixed"'` as regclass input does.
fn split_regclass(text: &str) -> Result<Vec<String>> {
    let parts = super::pg_catalog::reg::split_name(text);
    if parts.iter().any(String::is_empty) || parts.len() > 3 {
        return Err(Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid name syntax: \"{text}\""),
        ));
    }
    Ok(parts)
}

fn name_from(parts: Vec<String>) -> ast::ObjectName {
    ast::ObjectName(
        parts
            .into_iter()
            .map(|p| ast::ObjectNamePart::Identifier(ast::Ident::with_quote('"', p)))
            .collect(),
    )
}

fn not_a_sequence(text: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{text}\" does not exist"),
    )
}

/// The sequence a regclass-style text names, as the statement sees it.
fn find(shared: &Shared, txn: &TxnCell, text: &str) -> Result<SequenceDef> {
    let name = name_from(split_regclass(text)?);
    let catalog = shared.catalog();
    let mut txn = lock_txn(txn)?;
    let mut found = None;
    let r = super::namespace::resolve(catalog, &mut txn, &name, |txn, s, n| {
        found = catalog.sequence(txn, s, n)?;
        Ok(found.is_some())
    });
    match r {
        Ok(Some(_)) => found.ok_or_else(|| not_a_sequence(text)),
        Ok(None) => Err(not_a_sequence(text)),
        Err(e) if e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => Err(not_a_sequence(text)),
        Err(e) => Err(e),
    }
}

/// Runs `f` in a transaction of its own and commits it (durably).
fn autonomous<T>(
    shared: &Shared,
    f: impl FnOnce(&mut crate::txn::Transaction) -> Result<T>,
) -> Result<T> {
    let mut t = shared
        .stack()
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))?;
    t.begin_statement()?;
    match f(&mut t) {
        Ok(v) => {
            t.commit()?;
            Ok(v)
        }
        Err(e) => {
            let _ = t.rollback();
            Err(e)
        }
    }
}

fn load(shared: &Shared, def: &SequenceDef, c: &mut Cached) -> Result<()> {
    if c.loaded {
        return Ok(());
    }
    let catalog = shared.catalog().clone();
    let oid = def.oid;
    let state = autonomous(shared, |t| Ok(catalog.sequence_state(t, oid)?))?;
    let (last, called) = state.unwrap_or((def.start, false));
    *c = Cached {
        loaded: true,
        last,
        called,
        logged: last,
    };
    Ok(())
}

fn write_state(shared: &Shared, oid: u32, state: Option<(i64, bool)>) -> Result<()> {
    let catalog = shared.catalog().clone();
    autonomous(shared, |t| Ok(catalog.set_sequence_state(t, oid, state)?))
}

/// nextval of `def`.
pub fn next_value(shared: &Shared, def: &SequenceDef) -> Result<i64> {
    let cell = shared.sequences().entry(def.oid);
    let mut c = cell.lock();
    load(shared, def, &mut c)?;
    let value = if !c.called {
        c.last
    } else {
        let next = c.last.checked_add(def.increment);
        let beyond = match next {
            Some(v) => v > def.max || v < def.min,
            None => true,
        };
        if beyond {
            if !def.cycle {
                let (which, bound) = if def.increment > 0 {
                    ("maximum", def.max)
                } else {
                    ("minimum", def.min)
                };
                return Err(Error::new(
                    SEQUENCE_GENERATOR_LIMIT_EXCEEDED,
                    format!(
                        "nextval: reached {which} value of sequence \"{}\" ({bound})",
                        def.name
                    ),
                ));
            }
            if def.increment > 0 { def.min } else { def.max }
        } else {
            next.unwrap_or(def.start)
        }
    };
    let covered = c.called
        && if def.increment > 0 {
            value <= c.logged && value > c.last
        } else {
            value >= c.logged && value < c.last
        };
    if !covered {
        let ahead = def
            .increment
            .checked_mul(SEQ_LOG_VALUES)
            .and_then(|d| value.checked_add(d));
        let logged = match ahead {
            Some(v) if v <= def.max && v >= def.min => v,
            _ => value,
        };
        write_state(shared, def.oid, Some((logged, true)))?;
        c.logged = logged;
    }
    c.last = value;
    c.called = true;
    Ok(value)
}

/// setval: the state is written at once (not transactional).
fn set_value(shared: &Shared, def: &SequenceDef, value: i64, called: bool) -> Result<()> {
    if value < def.min || value > def.max {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!(
                "setval: value {value} is out of bounds for sequence \"{}\" ({}..{})",
                def.name, def.min, def.max
            ),
        ));
    }
    let cell = shared.sequences().entry(def.oid);
    let mut c = cell.lock();
    write_state(shared, def.oid, Some((value, called)))?;
    *c = Cached {
        loaded: true,
        last: value,
        called,
        logged: value,
    };
    Ok(())
}

fn check_writable(txn: Option<&TxnCell>, func: &str) -> Result<()> {
    if let Some(t) = txn
        && lock_txn(t)?.is_read_only()
    {
        return Err(Error::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            format!("cannot execute {func}() in a read-only transaction"),
        ));
    }
    Ok(())
}

/// Runs a sequence function (no argument is NULL).
pub fn call(f: SeqFunc, args: &[Value], ctx: &EvalContext<'_>) -> Result<Value> {
    let (shared, session) = context()?;
    if f == SeqFunc::Lastval {
        return match session.lock().last {
            Some((_, v)) => Ok(Value::Int8(v)),
            None => Err(Error::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                "lastval is not yet defined in this session",
            )),
        };
    }
    let Some(txn) = ctx.txn else {
        return Err(Error::internal("sequence function without a transaction"));
    };
    let text = match args.first() {
        Some(Value::Text(t)) => t.clone(),
        _ => return Err(Error::internal("sequence function without its name")),
    };
    let def = find(&shared, txn, &text)?;
    match f {
        SeqFunc::Nextval => {
            check_writable(Some(txn), "nextval")?;
            let v = next_value(&shared, &def)?;
            let mut s = session.lock();
            s.current.insert(def.oid, v);
            s.last = Some((def.oid, v));
            Ok(Value::Int8(v))
        }
        SeqFunc::Currval => match session.lock().current.get(&def.oid) {
            Some(v) => Ok(Value::Int8(*v)),
            None => Err(Error::new(
                SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "currval of sequence \"{}\" is not yet defined in this session",
                    def.name
                ),
            )),
        },
        SeqFunc::Setval | SeqFunc::SetvalCalled => {
            check_writable(Some(txn), "setval")?;
            let Some(Value::Int8(v)) = args.get(1) else {
                return Err(Error::internal("setval without its value"));
            };
            let called = !matches!(args.get(2), Some(Value::Bool(false)));
            set_value(&shared, &def, *v, called)?;
            if called {
                let mut s = session.lock();
                s.current.insert(def.oid, *v);
                s.last = Some((def.oid, *v));
            }
            Ok(Value::Int8(*v))
        }
        SeqFunc::Lastval => Err(Error::internal("lastval handled above")),
    }
}

// ---------------------------------------------------------------------------
// Identity columns in INSERT and UPDATE.

/// `INSERT … OVERRIDING SYSTEM VALUE` / `OVERRIDING USER VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overriding {
    System,
    User,
}

/// The text with an `OVERRIDING … VALUE` clause blanked out (same
/// positions), and which one it was. sqlparser does not read the clause.
pub fn strip_overriding(sql: &str) -> Option<(String, Overriding)> {
    let lower = sql.to_ascii_lowercase();
    for (phrase, which) in [
        ("overriding system value", Overriding::System),
        ("overriding user value", Overriding::User),
    ] {
        // the words may be separated by any whitespace
        let words: Vec<&str> = phrase.split(' ').collect();
        let mut from = 0;
        while let Some(i) = lower[from..].find(words[0]) {
            let start = from + i;
            let mut at = start + words[0].len();
            let mut ok = true;
            for w in &words[1..] {
                let ws = lower[at..].len() - lower[at..].trim_start().len();
                if ws == 0 || !lower[at + ws..].starts_with(w) {
                    ok = false;
                    break;
                }
                at += ws + w.len();
            }
            if ok {
                let mut out = String::with_capacity(sql.len());
                out.push_str(&sql[..start]);
                out.extend(std::iter::repeat_n(' ', at - start));
                out.push_str(&sql[at..]);
                return Some((out, which));
            }
            from = start + words[0].len();
        }
    }
    None
}

/// Marks the INSERTs of a statement list parsed without the clause
/// (sqlparser's MySQL-only `priority` carries it: PostgreSQL's dialect
/// never sets it).
pub fn mark_overriding(statements: &mut [ast::Statement], which: Overriding) {
    for s in statements {
        if let ast::Statement::Insert(i) = s {
            i.priority = Some(match which {
                Overriding::System => ast::MysqlInsertPriority::HighPriority,
                Overriding::User => ast::MysqlInsertPriority::LowPriority,
            });
        }
    }
}

/// The OVERRIDING clause of a parsed INSERT.
pub fn overriding_of(ins: &ast::Insert) -> Option<Overriding> {
    match ins.priority {
        Some(ast::MysqlInsertPriority::HighPriority) => Some(Overriding::System),
        Some(ast::MysqlInsertPriority::LowPriority) => Some(Overriding::User),
        _ => None,
    }
}

/// Whether an INSERT's explicit value for `col` is replaced by its
/// default (OVERRIDING USER VALUE on an identity column); 428C9 for a
/// GENERATED ALWAYS column without OVERRIDING SYSTEM VALUE.
pub fn insert_uses_default(
    col: &crate::catalog::ColumnDef,
    overriding: Option<Overriding>,
) -> Result<bool> {
    use crate::catalog::table::Identity;
    match (col.identity, overriding) {
        (None, _) => Ok(false),
        (Some(_), Some(Overriding::User)) => Ok(true),
        (Some(Identity::Always), Some(Overriding::System)) => Ok(false),
        (Some(Identity::Always), None) => Err(Error::new(
            SqlState("428C9"),
            format!(
                "cannot insert a non-DEFAULT value into column \"{}\"",
                col.name
            ),
        )
        .with_detail(format!(
            "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
            col.name
        ))
        .with_hint("Use OVERRIDING SYSTEM VALUE to override.")),
        (Some(_), _) => Ok(false),
    }
}

/// 428C9 for an UPDATE setting a GENERATED ALWAYS column to a value.
pub fn check_update(col: &crate::catalog::ColumnDef) -> Result<()> {
    if col.identity == Some(crate::catalog::table::Identity::Always) {
        return Err(Error::new(
            SqlState("428C9"),
            format!("column \"{}\" can only be updated to DEFAULT", col.name),
        )
        .with_detail(format!(
            "Column \"{}\" is an identity column defined as GENERATED ALWAYS.",
            col.name
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Options, CREATE, ALTER, DROP.

fn type_bounds(t: &DataType) -> (i64, i64) {
    match t {
        DataType::Int2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Int4 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    }
}

/// One option as written (values already evaluated).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub data_type: Option<DataType>,
    pub increment: Option<i64>,
    /// `Some(None)`: NO MINVALUE.
    pub min: Option<Option<i64>>,
    pub max: Option<Option<i64>>,
    pub start: Option<i64>,
    /// ALTER … RESTART [WITH n]: `Some(None)` restarts at START.
    pub restart: Option<Option<i64>>,
    pub cache: Option<i64>,
    pub cycle: Option<bool>,
}

fn option_value(e: &ast::Expr) -> Result<i64> {
    let (neg, inner) = match e {
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => (true, expr.as_ref()),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Plus,
            expr,
        } => (false, expr.as_ref()),
        other => (false, other),
    };
    let text = match inner {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.clone(),
            other => {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{other}\""),
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
    let full = if neg { format!("-{text}") } else { text };
    full.parse::<i64>().map_err(|_| {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{full}\" is out of range for type bigint"),
        )
    })
}

/// Reads sqlparser's sequence options.
pub fn options_from(
    opts: &[ast::SequenceOptions],
    data_type: Option<&ast::DataType>,
) -> Result<Options> {
    let mut o = Options::default();
    if let Some(dt) = data_type {
        o.data_type = Some(sequence_type(dt)?);
    }
    for opt in opts {
        match opt {
            ast::SequenceOptions::IncrementBy(e, _) => o.increment = Some(option_value(e)?),
            ast::SequenceOptions::MinValue(e) => {
                o.min = Some(e.as_ref().map(option_value).transpose()?)
            }
            ast::SequenceOptions::MaxValue(e) => {
                o.max = Some(e.as_ref().map(option_value).transpose()?)
            }
            ast::SequenceOptions::StartWith(e, _) => o.start = Some(option_value(e)?),
            ast::SequenceOptions::Cache(e) => o.cache = Some(option_value(e)?),
            ast::SequenceOptions::Cycle(no) => o.cycle = Some(!*no),
        }
    }
    Ok(o)
}

fn sequence_type(dt: &ast::DataType) -> Result<DataType> {
    let (t, _) = resolve_type(dt)?;
    match t {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => Ok(t),
        _ => Err(Error::new(
            INVALID_PARAMETER,
            "sequence type must be smallint, integer, or bigint",
        )),
    }
}

fn invalid(msg: String) -> Error {
    Error::new(INVALID_PARAMETER, msg)
}

/// Applies `o` to `base` (a new sequence's defaults, or the definition
/// ALTER changes) and checks the result as PostgreSQL's init_params does.
pub fn apply_options(base: &mut SequenceDef, o: &Options, creating: bool) -> Result<()> {
    let old_type = base.data_type.clone();
    if let Some(t) = &o.data_type {
        base.data_type = t.clone();
    }
    let (tmin, tmax) = type_bounds(&base.data_type);
    let (old_tmin, old_tmax) = type_bounds(&old_type);
    if let Some(i) = o.increment {
        if i == 0 {
            return Err(invalid("INCREMENT must not be zero".into()));
        }
        base.increment = i;
    }
    let type_changed = o.data_type.is_some() && old_type != base.data_type;
    match o.max {
        Some(Some(v)) => base.max = v,
        Some(None) => base.max = if base.increment > 0 { tmax } else { -1 },
        None if creating => base.max = if base.increment > 0 { tmax } else { -1 },
        None if type_changed && base.max == old_tmax => base.max = tmax,
        None => {}
    }
    match o.min {
        Some(Some(v)) => base.min = v,
        Some(None) => base.min = if base.increment > 0 { 1 } else { tmin },
        None if creating => base.min = if base.increment > 0 { 1 } else { tmin },
        None if type_changed && base.min == old_tmin => base.min = tmin,
        None => {}
    }
    let tname = base.data_type.name();
    if base.max < tmin || base.max > tmax {
        return Err(invalid(format!(
            "MAXVALUE ({}) is out of range for sequence data type {tname}",
            base.max
        )));
    }
    if base.min < tmin || base.min > tmax {
        return Err(invalid(format!(
            "MINVALUE ({}) is out of range for sequence data type {tname}",
            base.min
        )));
    }
    if base.min >= base.max {
        return Err(invalid(format!(
            "MINVALUE ({}) must be less than MAXVALUE ({})",
            base.min, base.max
        )));
    }
    match o.start {
        Some(s) => base.start = s,
        None if creating => {
            base.start = if base.increment > 0 {
                base.min
            } else {
                base.max
            }
        }
        None => {}
    }
    if base.start < base.min {
        return Err(invalid(format!(
            "START value ({}) cannot be less than MINVALUE ({})",
            base.start, base.min
        )));
    }
    if base.start > base.max {
        return Err(invalid(format!(
            "START value ({}) cannot be greater than MAXVALUE ({})",
            base.start, base.max
        )));
    }
    if let Some(Some(r)) = o.restart {
        if r < base.min {
            return Err(invalid(format!(
                "RESTART value ({r}) cannot be less than MINVALUE ({})",
                base.min
            )));
        }
        if r > base.max {
            return Err(invalid(format!(
                "RESTART value ({r}) cannot be greater than MAXVALUE ({})",
                base.max
            )));
        }
    }
    if let Some(c) = o.cache {
        if c <= 0 {
            return Err(invalid(format!("CACHE ({c}) must be greater than zero")));
        }
        base.cache = c;
    }
    if let Some(c) = o.cycle {
        base.cycle = c;
    }
    Ok(())
}

/// `'s.name'` as a string literal naming the sequence for nextval,
/// identifiers quoted where they need it.
pub fn regclass_literal(schema: &str, name: &str) -> String {
    let ident = |s: &str| {
        let plain = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if plain {
            s.to_string()
        } else {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
    };
    let inner = format!("{}.{}", ident(schema), ident(name));
    format!("'{}'", inner.replace('\'', "''"))
}

/// A new sequence's definition before options (bigint, ascending).
pub fn new_def(schema: &str, name: &str) -> SequenceDef {
    SequenceDef {
        oid: 0,
        schema: schema.to_string(),
        name: name.to_string(),
        data_type: DataType::Int8,
        start: 1,
        increment: 1,
        min: 1,
        max: i64::MAX,
        cache: 1,
        cycle: false,
        owned_by: None,
    }
}

/// Creates `def` in the statement's transaction, and forgets any state a
/// rolled-back sequence with the same oid left behind.
pub fn create_stored(cx: &StmtCx<'_>, def: SequenceDef) -> Result<SequenceDef> {
    let created = {
        let mut txn = lock_txn(cx.txn)?;
        cx.shared.catalog().create_sequence(&mut txn, def)?
    };
    cx.shared.sequences().forget(created.oid);
    write_state(cx.shared, created.oid, None)?;
    Ok(created)
}

fn tag(t: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: t.to_string(),
    }
}

/// `CREATE SEQUENCE [IF NOT EXISTS] name [AS type] [options] [OWNED BY NONE]`.
pub fn create_sequence(cx: &StmtCx<'_>, stmt: &ast::Statement) -> Result<StatementResult> {
    let ast::Statement::CreateSequence {
        temporary,
        if_not_exists,
        name,
        data_type,
        sequence_options,
        owned_by,
    } = stmt
    else {
        return Err(Error::internal("not CREATE SEQUENCE"));
    };
    cx.check_writable("CREATE SEQUENCE")?;
    if *temporary {
        return Err(Error::unsupported("temporary sequences"));
    }
    if let Some(o) = owned_by
        && !object_name(o).join(".").eq_ignore_ascii_case("none")
    {
        return Err(Error::unsupported("CREATE SEQUENCE … OWNED BY a column"));
    }
    let (schema, rel) = super::ddl::split_name(cx, name)?;
    let catalog = cx.shared.catalog();
    {
        let mut txn = lock_txn(cx.txn)?;
        if catalog.relation_exists(&mut txn, &schema, &rel)? {
            if *if_not_exists {
                super::signals::notice(super::signals::Notice::new(format!(
                    "relation \"{rel}\" already exists, skipping"
                )));
                return Ok(tag("CREATE SEQUENCE"));
            }
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{rel}\" already exists"),
            ));
        }
    }
    let opts = options_from(sequence_options, data_type.as_ref())?;
    let mut def = new_def(&schema, &rel);
    apply_options(&mut def, &opts, true)?;
    create_stored(cx, def)?;
    Ok(tag("CREATE SEQUENCE"))
}

/// sqlparser reads sequence options only in one order (INCREMENT,
/// MINVALUE, MAXVALUE, START, CACHE, CYCLE); PostgreSQL takes any. The
/// text with every run of options put in that order, if one was not.
pub fn reorder_options(sql: &str) -> Option<String> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let kw = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    // Non-whitespace token indexes.
    let idx: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let at = |k: usize| idx.get(k).map(|&i| &tokens[i]);
    let number_len = |k: usize| -> usize {
        match (at(k), at(k + 1)) {
            (Some(Token::Number(..)), _) => 1,
            (Some(Token::Minus | Token::Plus), Some(Token::Number(..))) => 2,
            _ => 0,
        }
    };
    // One clause at k: (rank, length in tokens).
    let clause = |k: usize| -> Option<(u8, usize)> {
        let t = at(k)?;
        let with_opt = |k: usize, word: &str| usize::from(at(k).is_some_and(|t| kw(t, word)));
        if kw(t, "increment") {
            let by = with_opt(k + 1, "by");
            let n = number_len(k + 1 + by);
            (n > 0).then_some((0, 1 + by + n))
        } else if kw(t, "minvalue") || kw(t, "maxvalue") {
            let n = number_len(k + 1);
            (n > 0).then_some((if kw(t, "minvalue") { 1 } else { 2 }, 1 + n))
        } else if kw(t, "start") {
            let with = with_opt(k + 1, "with");
            let n = number_len(k + 1 + with);
            (n > 0).then_some((3, 1 + with + n))
        } else if kw(t, "cache") {
            let n = number_len(k + 1);
            (n > 0).then_some((4, 1 + n))
        } else if kw(t, "cycle") {
            Some((5, 1))
        } else if kw(t, "no") {
            let next = at(k + 1)?;
            if kw(next, "minvalue") {
                Some((1, 2))
            } else if kw(next, "maxvalue") {
                Some((2, 2))
            } else if kw(next, "cycle") {
                Some((5, 2))
            } else {
                None
            }
        } else {
            None
        }
    };
    let text = |k: usize, n: usize| -> String {
        (k..k + n)
            .filter_map(|j| at(j).map(|t| t.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut out = String::new();
    let mut changed = false;
    let mut k = 0;
    let mut last_raw = 0; // next raw token index not yet copied
    while k < idx.len() {
        let Some(first) = clause(k) else {
            k += 1;
            continue;
        };
        let start = k;
        let mut run = vec![(first.0, k, first.1)];
        k += first.1;
        while let Some((rank, n)) = clause(k) {
            run.push((rank, k, n));
            k += n;
        }
        let mut sorted = run.clone();
        sorted.sort_by_key(|c| c.0);
        if sorted.iter().map(|c| c.1).ne(run.iter().map(|c| c.1)) {
            changed = true;
            for t in &tokens[last_raw..idx[start]] {
                out.push_str(&t.to_string());
            }
            let parts: Vec<String> = sorted.iter().map(|c| text(c.1, c.2)).collect();
            out.push_str(&parts.join(" "));
            last_raw = idx.get(k).copied().unwrap_or(tokens.len());
        }
    }
    if !changed {
        return None;
    }
    for t in &tokens[last_raw..] {
        out.push_str(&t.to_string());
    }
    Some(out)
}

/// The statement sqlparser cannot read (`ALTER SEQUENCE`) stands in the
/// statement list as a CREATE SEQUENCE of this name (no identifier can
/// contain NUL); [`alter_sequence`] reads the original text again.
pub const ALTER_MARKER: &str = "\0alter sequence";

/// The placeholder statement for an `ALTER SEQUENCE` text, if `sql` is one.
pub fn parse_alter_placeholder(sql: &str) -> Option<ast::Statement> {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_lowercase)
        .collect();
    if words != ["alter", "sequence"] {
        return None;
    }
    Some(ast::Statement::CreateSequence {
        temporary: false,
        if_not_exists: false,
        name: ast::ObjectName(vec![ast::ObjectNamePart::Identifier(ast::Ident::new(
            ALTER_MARKER,
        ))]),
        data_type: None,
        sequence_options: Vec::new(),
        owned_by: None,
    })
}

/// Whether `stmt` is the ALTER SEQUENCE placeholder.
pub fn is_alter_placeholder(stmt: &ast::Statement) -> bool {
    matches!(stmt, ast::Statement::CreateSequence { name, .. }
        if object_name(name).first().map(String::as_str) == Some(ALTER_MARKER))
}

/// `ALTER SEQUENCE [IF EXISTS] name option …`: the options of CREATE
/// SEQUENCE plus `RESTART [[WITH] n]`. The text is read again here: the
/// part after the name is parsed as CREATE SEQUENCE's options.
pub fn alter_sequence(cx: &StmtCx<'_>) -> Result<StatementResult> {
    cx.check_writable("ALTER SEQUENCE")?;
    let sql = cx.sql.trim().trim_end_matches(';');
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| Error::new(SqlState::SYNTAX_ERROR, e.to_string()))?;
    let words: Vec<Token> = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    // ALTER SEQUENCE [IF EXISTS] name …
    let mut at = 2;
    let is_word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(x)) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let mut if_exists = false;
    if is_word(words.get(at), "if") && is_word(words.get(at + 1), "exists") {
        if_exists = true;
        at += 2;
    }
    let name_start = at;
    let mut name_end = at;
    if matches!(words.get(name_end), Some(Token::Word(_))) {
        name_end += 1;
        while matches!(words.get(name_end), Some(Token::Period))
            && matches!(words.get(name_end + 1), Some(Token::Word(_)))
        {
            name_end += 2;
        }
    }
    let name_text: String = words[name_start..name_end]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let mut rest: Vec<String> = words[name_end..].iter().map(|t| t.to_string()).collect();
    // RESTART [[WITH] n] is ALTER's own; take it out before the options parse.
    let mut restart = None;
    if let Some(p) = rest.iter().position(|w| w.eq_ignore_ascii_case("restart")) {
        let mut end = p + 1;
        if rest
            .get(end)
            .is_some_and(|w| w.eq_ignore_ascii_case("with"))
        {
            end += 1;
        }
        let mut value = None;
        if let Some(w) = rest.get(end) {
            let (neg, num) = if w == "-" {
                (true, rest.get(end + 1).cloned())
            } else {
                (false, Some(w.clone()))
            };
            if let Some(n) = num.and_then(|n| n.parse::<i64>().ok()) {
                value = Some(if neg { -n } else { n });
                end += if neg { 2 } else { 1 };
            }
        }
        restart = Some(value);
        rest.drain(p..end);
    }
    for unsupported in ["rename", "owner", "owned", "set"] {
        if rest.iter().any(|w| w.eq_ignore_ascii_case(unsupported)) {
            return Err(Error::unsupported(format!(
                "ALTER SEQUENCE … {}",
                unsupported.to_ascii_uppercase()
            )));
        }
    }
    let create = format!("CREATE SEQUENCE {name_text} {}", rest.join(" "));
    let parsed = super::parse::parse(&create)?;
    let Some(ast::Statement::CreateSequence {
        name,
        data_type,
        sequence_options,
        ..
    }) = parsed.into_iter().next()
    else {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{name_text}\""),
        ));
    };
    let mut opts = options_from(&sequence_options, data_type.as_ref())?;
    opts.restart = restart;
    let catalog = cx.shared.catalog();
    let found = {
        let mut txn = lock_txn(cx.txn)?;
        let mut found = None;
        super::namespace::resolve(catalog, &mut txn, &name, |txn, s, n| {
            found = catalog.sequence(txn, s, n)?;
            Ok(found.is_some())
        })?;
        found
    };
    let Some(mut def) = found else {
        let shown = object_name(&name).join(".");
        if if_exists {
            super::signals::notice(super::signals::Notice::new(format!(
                "relation \"{shown}\" does not exist, skipping"
            )));
            return Ok(tag("ALTER SEQUENCE"));
        }
        return Err(not_a_sequence(&shown));
    };
    apply_options(&mut def, &opts, false)?;
    {
        let mut txn = lock_txn(cx.txn)?;
        catalog.update_sequence(&mut txn, &def)?;
    }
    // The in-memory value stays (PostgreSQL keeps last_value): the next
    // nextval steps from it by the new increment.
    if let Some(r) = restart {
        set_value(cx.shared, &def, r.unwrap_or(def.start), false)?;
    }
    Ok(tag("ALTER SEQUENCE"))
}

/// Drops one sequence in `txn` (DROP SEQUENCE, DROP SCHEMA CASCADE, and
/// a table's owned sequences).
pub fn drop_stored(
    shared: &Shared,
    txn: &mut crate::txn::Transaction,
    schema: &str,
    name: &str,
) -> Result<()> {
    let def = shared.catalog().drop_sequence(txn, schema, name)?;
    shared.sequences().forget(def.oid);
    Ok(())
}

/// `DROP SEQUENCE [IF EXISTS] name, … [CASCADE | RESTRICT]`: 2BP01 when
/// a column's default uses a sequence the column owns, unless CASCADE
/// (which drops that default).
pub fn drop_sequence(
    cx: &StmtCx<'_>,
    names: &[ast::ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<StatementResult> {
    cx.check_writable("DROP SEQUENCE")?;
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let mut found = Vec::new();
    for n in names {
        let mut def = None;
        let r = super::namespace::resolve(catalog, &mut txn, n, |txn, s, q| {
            def = catalog.sequence(txn, s, q)?;
            Ok(def.is_some())
        });
        let shown = object_name(n).join(".");
        match r {
            Ok(Some(_)) => found.extend(def),
            Ok(None) if if_exists => super::signals::notice(super::signals::Notice::new(format!(
                "sequence \"{shown}\" does not exist, skipping"
            ))),
            Ok(None) => {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("sequence \"{shown}\" does not exist"),
                ));
            }
            Err(e) if if_exists && e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => {
                super::signals::notice(super::signals::Notice::new(format!(
                    "{}, skipping",
                    e.message
                )))
            }
            Err(e) => return Err(e),
        }
    }
    for def in &found {
        let Some((table_oid, col)) = def.owned_by else {
            continue;
        };
        // The owning table, if it still exists, has the default.
        for tname in catalog.relation_names(&mut txn, b'T', &def.schema)? {
            let Some(mut t) = catalog.table(&mut txn, &def.schema, &tname)? else {
                continue;
            };
            if t.oid != table_oid {
                continue;
            }
            let Some(c) = t.columns.get(usize::from(col)) else {
                continue;
            };
            if !cascade {
                return Err(Error::new(
                    super::namespace::DEPENDENT_OBJECTS_STILL_EXIST,
                    format!(
                        "cannot drop sequence {} because other objects depend on it",
                        def.name
                    ),
                )
                .with_detail(format!(
                    "default value for column {} of table {} depends on sequence {}",
                    c.name, t.name, def.name
                ))
                .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
            }
            super::signals::notice(super::signals::Notice::new(format!(
                "drop cascades to default value for column {} of table {}",
                c.name, t.name
            )));
            t.columns[usize::from(col)].default = None;
            t.columns[usize::from(col)].identity = None;
            catalog.update_table(&mut txn, &t)?;
        }
    }
    for def in found {
        drop_stored(cx.shared, &mut txn, &def.schema, &def.name)?;
    }
    Ok(tag("DROP SEQUENCE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_in_any_order_are_put_in_the_order_sqlparser_reads() {
        assert_eq!(
            reorder_options("CREATE SEQUENCE s START WITH 5 INCREMENT BY -5 NO CYCLE CACHE 2")
                .unwrap(),
            "CREATE SEQUENCE s INCREMENT BY - 5 START WITH 5 CACHE 2 NO CYCLE"
        );
        assert_eq!(
            reorder_options("CREATE SEQUENCE s INCREMENT 1 START 1"),
            None
        );
    }

    #[test]
    fn regclass_names_fold_and_keep_quotes() {
        assert_eq!(split_regclass("S.Seq").unwrap(), vec!["s", "seq"]);
        assert_eq!(split_regclass("\"My.Seq\"").unwrap(), vec!["My.Seq"]);
        assert!(split_regclass("a..b").is_err());
    }

    #[test]
    fn options_default_and_check_as_postgresql_does() {
        let mut d = new_def("public", "s");
        let o = Options {
            increment: Some(-1),
            ..Options::default()
        };
        apply_options(&mut d, &o, true).unwrap();
        assert_eq!((d.min, d.max, d.start), (i64::MIN, -1, -1));
        let mut d = new_def("public", "s");
        let o = Options {
            data_type: Some(DataType::Int2),
            max: Some(Some(40000)),
            ..Options::default()
        };
        let e = apply_options(&mut d, &o, true).unwrap_err();
        assert_eq!(
            e.message,
            "MAXVALUE (40000) is out of range for sequence data type smallint"
        );
        let mut d = new_def("public", "s");
        let o = Options {
            start: Some(0),
            ..Options::default()
        };
        let e = apply_options(&mut d, &o, true).unwrap_err();
        assert_eq!(
            e.message,
            "START value (0) cannot be less than MINVALUE (1)"
        );
    }
}
