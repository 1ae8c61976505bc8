//! `SELECT … FOR UPDATE | FOR NO KEY UPDATE | FOR SHARE | FOR KEY SHARE
//! [OF t] [NOWAIT | SKIP LOCKED]`: PostgreSQL's LockRows node.
//!
//! ```text
//!   SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
//!
//!   Project [id]                       (drops the hidden row key)
//!   └── Limit 1
//!       └── LockRows FOR UPDATE SKIP LOCKED   locks row by row, at most offset + limit
//!           └── Sort [id]
//!               └── Project [id, state, key]  (the row key forwarded)
//!                   └── Filter state = 'new'
//!                       └── Scan jobs (with key)
//! ```
//!
//! As in PostgreSQL, LockRows sits below LIMIT (so `SKIP LOCKED LIMIT 1`
//! takes the first row nobody holds, and only that one) and above ORDER BY.
//! After a wait, READ COMMITTED re-reads the newest version and re-checks
//! the WHERE on it (EvalPlanQual): a row updated to no longer match, or
//! deleted, is skipped; a row that still matches is returned as it is now
//! (re-projected, not re-sorted). REPEATABLE READ and SERIALIZABLE fail with
//! 40001 when the row changed after their snapshot ([`Transaction::lock_row`]).
//!
//! Owns: binding the locking clauses (strength, OF, wait policy, the
//! restrictions PostgreSQL has: no DISTINCT, GROUP BY, HAVING, aggregates,
//! window functions, set operations, VALUES) and running LockRows.
//! Never: parses (`txn_syntax.rs` respells FOR NO KEY UPDATE / FOR KEY SHARE
//! and OF lists for sqlparser), decides visibility (`txn/`).
//!
//! One table per query level: locking over a join or a subquery in FROM is
//! 0A000 (listed in docs/compatibility.md).
//!
//! [`Transaction::lock_row`]: crate::txn::Transaction::lock_row

use sqlparser::ast;

use crate::catalog::row::decode_row;
use crate::error::{Error, Result, SqlState};
use crate::txn::{RowLock, RowLockMode, WaitPolicy};
use crate::types::{DataType, Value};

use super::bind::ident_name;
use super::execute::{ExecContext, Row};
use super::expr::{EvalContext, Expr};
use super::plan::Plan;
use super::scan::{TableRef, lock_txn};

/// The OF name `txn_syntax` writes after a clause to say that clause was
/// `FOR NO KEY UPDATE` (sqlparser reads only UPDATE and SHARE).
pub const NO_KEY_MARKER: &str = "arbordb:no key update";
/// Likewise for `FOR KEY SHARE`.
pub const KEY_SHARE_MARKER: &str = "arbordb:key share";

/// What a LockRows node locks and how.
#[derive(Debug, Clone)]
pub struct LockSpec {
    pub table: TableRef,
    pub mode: RowLockMode,
    pub policy: WaitPolicy,
    /// Re-evaluation of a changed row, bottom-up from the scan's row
    /// (columns ++ key) to the LockRows input's row shape.
    steps: Vec<Step>,
    /// The LIMIT and OFFSET above, so no more rows than needed are locked.
    limit: Option<Expr>,
    offset: Option<Expr>,
}

#[derive(Debug, Clone)]
enum Step {
    Filter(Expr),
    Project(Vec<Expr>),
}

impl LockSpec {
    /// `FOR UPDATE SKIP LOCKED` and the like, for EXPLAIN.
    pub fn describe(&self) -> String {
        let mut s = format!("LockRows {}", self.mode.sql_name());
        match self.policy {
            WaitPolicy::Block => {}
            WaitPolicy::NoWait => s.push_str(" NOWAIT"),
            WaitPolicy::SkipLocked => s.push_str(" SKIP LOCKED"),
        }
        s
    }
}

/// One clause, with the marker clause that may follow it folded in.
struct Clause {
    mode: RowLockMode,
    policy: WaitPolicy,
    of: Option<ast::ObjectName>,
}

fn marker_of(of: &Option<ast::ObjectName>) -> Option<RowLockMode> {
    let name = of.as_ref()?;
    let [ast::ObjectNamePart::Identifier(id)] = name.0.as_slice() else {
        return None;
    };
    if id.quote_style != Some('"') {
        return None;
    }
    match id.value.as_str() {
        NO_KEY_MARKER => Some(RowLockMode::NoKeyUpdate),
        KEY_SHARE_MARKER => Some(RowLockMode::KeyShare),
        _ => None,
    }
}

fn clauses(locks: &[ast::LockClause]) -> Vec<Clause> {
    let mut out: Vec<Clause> = Vec::new();
    for l in locks {
        if let Some(mode) = marker_of(&l.of) {
            if let Some(last) = out.last_mut() {
                last.mode = mode;
            }
            continue;
        }
        out.push(Clause {
            mode: match l.lock_type {
                ast::LockType::Update => RowLockMode::Update,
                ast::LockType::Share => RowLockMode::Share,
            },
            policy: match l.nonblock {
                None => WaitPolicy::Block,
                Some(ast::NonBlock::Nowait) => WaitPolicy::NoWait,
                Some(ast::NonBlock::SkipLocked) => WaitPolicy::SkipLocked,
            },
            of: l.of.clone(),
        });
    }
    out
}

/// PostgreSQL's order of wait policies: NOWAIT over SKIP LOCKED over waiting.
fn policy_rank(p: WaitPolicy) -> u8 {
    match p {
        WaitPolicy::Block => 0,
        WaitPolicy::SkipLocked => 1,
        WaitPolicy::NoWait => 2,
    }
}

fn not_allowed(mode: RowLockMode, what: &str) -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("{} is not allowed with {what}", mode.sql_name()),
    )
}

/// The strongest mode of the clauses (for messages before a table is known).
fn first_mode(locks: &[ast::LockClause]) -> RowLockMode {
    clauses(locks)
        .first()
        .map_or(RowLockMode::Update, |c| c.mode)
}

/// Checks a set operation under a locking clause (PostgreSQL refuses it).
pub fn check_set_operation(locks: &[ast::LockClause], body: &ast::SetExpr) -> Result<()> {
    match body {
        ast::SetExpr::SetOperation { .. } => {
            Err(not_allowed(first_mode(locks), "UNION/INTERSECT/EXCEPT"))
        }
        ast::SetExpr::Values(_) => Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!(
                "{} cannot be applied to VALUES",
                first_mode(locks).sql_name()
            ),
        )),
        _ => Ok(()),
    }
}

/// Puts a LockRows node over `plan` (the query's rows after ORDER BY,
/// before LIMIT). `limit`/`offset` are the query's, which stay above.
pub fn lock_rows(
    q: &ast::Query,
    plan: Plan,
    limit: &Option<Expr>,
    offset: &Option<Expr>,
) -> Result<Plan> {
    let clauses = clauses(&q.locks);
    let Some(first) = clauses.first() else {
        return Ok(plan);
    };
    check_set_operation(&q.locks, &q.body)?;
    let ast::SetExpr::Select(s) = q.body.as_ref() else {
        return Err(Error::unsupported(format!(
            "{} on this kind of query",
            first.mode.sql_name()
        )));
    };
    let mode0 = first.mode;
    if s.distinct.is_some() {
        return Err(not_allowed(mode0, "DISTINCT clause"));
    }
    if matches!(&s.group_by, ast::GroupByExpr::Expressions(e, _) if !e.is_empty())
        || matches!(&s.group_by, ast::GroupByExpr::All(_))
    {
        return Err(not_allowed(mode0, "GROUP BY clause"));
    }
    if s.having.is_some() {
        return Err(not_allowed(mode0, "HAVING clause"));
    }
    if contains(&plan, &|p| matches!(p, Plan::Aggregate { .. })) {
        return Err(not_allowed(mode0, "aggregate functions"));
    }
    if contains(&plan, &|p| matches!(p, Plan::Window { .. })) {
        return Err(not_allowed(mode0, "window functions"));
    }
    // The relation names the clauses may use: the FROM item's alias or name.
    let refname = match s.from.as_slice() {
        [] => None,
        [twj] if twj.joins.is_empty() => match &twj.relation {
            ast::TableFactor::Table { name, alias, .. } => Some(match alias {
                Some(a) => ident_name(&a.name),
                None => name
                    .0
                    .last()
                    .and_then(|p| p.as_ident())
                    .map(ident_name)
                    .unwrap_or_default(),
            }),
            _ => {
                return Err(Error::unsupported(format!(
                    "{} over a subquery or function in FROM",
                    mode0.sql_name()
                )));
            }
        },
        _ => {
            return Err(Error::unsupported(format!(
                "{} over a join",
                mode0.sql_name()
            )));
        }
    };
    let mut mode = None::<RowLockMode>;
    let mut policy = WaitPolicy::Block;
    for c in &clauses {
        if let Some(of) = &c.of {
            let parts: Vec<String> =
                of.0.iter()
                    .map(|p| p.as_ident().map(ident_name).unwrap_or_default())
                    .collect();
            if parts.len() != 1 {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!(
                        "{} must specify unqualified relation names",
                        c.mode.sql_name()
                    ),
                ));
            }
            if refname.as_deref() != Some(parts[0].as_str()) {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!(
                        "relation \"{}\" in {} clause not found in FROM clause",
                        parts[0],
                        c.mode.sql_name()
                    ),
                ));
            }
        }
        mode = Some(mode.map_or(c.mode, |m| m.max(c.mode)));
        if policy_rank(c.policy) > policy_rank(policy) {
            policy = c.policy;
        }
    }
    let mode = mode.unwrap_or(mode0);
    if refname.is_none() {
        // SELECT without FROM: nothing to lock.
        return Ok(plan);
    }
    let (plan, table, steps) = forward_key(plan)?;
    Ok(Plan::LockRows {
        input: Box::new(plan),
        spec: Box::new(LockSpec {
            table,
            mode,
            policy,
            steps,
            limit: limit.clone(),
            offset: offset.clone(),
        }),
    })
}

fn contains(plan: &Plan, pred: &dyn Fn(&Plan) -> bool) -> bool {
    if pred(plan) {
        return true;
    }
    let mut found = false;
    plan.clone().map_inputs(|p| {
        found |= contains(&p, pred);
        p
    });
    found
}

/// Makes the scan emit its row key and every Project above it forward it
/// as the last column; returns the re-evaluation steps for changed rows.
fn forward_key(plan: Plan) -> Result<(Plan, TableRef, Vec<Step>)> {
    match plan {
        Plan::Scan { table, access, .. } => {
            let t = table.clone();
            Ok((
                Plan::Scan {
                    table,
                    access,
                    with_key: true,
                    needed: None,
                },
                t,
                Vec::new(),
            ))
        }
        Plan::Filter { input, predicate } => {
            let (input, table, mut steps) = forward_key(*input)?;
            steps.push(Step::Filter(predicate.clone()));
            Ok((
                Plan::Filter {
                    input: Box::new(input),
                    predicate,
                },
                table,
                steps,
            ))
        }
        Plan::Project { input, mut exprs } => {
            let (input, table, mut steps) = forward_key(*input)?;
            exprs.push(Expr::Column {
                index: input.width() - 1,
                ty: DataType::Bytea,
            });
            steps.push(Step::Project(exprs.clone()));
            Ok((
                Plan::Project {
                    input: Box::new(input),
                    exprs,
                },
                table,
                steps,
            ))
        }
        Plan::Sort { input, keys } => {
            let (input, table, steps) = forward_key(*input)?;
            Ok((
                Plan::Sort {
                    input: Box::new(input),
                    keys,
                },
                table,
                steps,
            ))
        }
        _ => Err(Error::unsupported("FOR UPDATE/FOR SHARE on this query")),
    }
}

fn eval_count(e: &Option<Expr>, cx: &EvalContext<'_>) -> Result<Option<usize>> {
    match e {
        None => Ok(None),
        Some(e) => match e.eval(cx)? {
            Value::Int8(n) if n >= 0 => Ok(Some(n as usize)),
            // NULL is no limit; a negative one is LIMIT's error, reported above.
            _ => Ok(None),
        },
    }
}

fn eval_cx<'r>(cx: &'r ExecContext<'_>, row: &'r [Value]) -> EvalContext<'r> {
    EvalContext {
        row,
        params: cx.params,
        outer: cx.outer,
        settings: cx.settings,
        txn: cx.txn,
    }
}

/// Runs LockRows over the candidate rows (each ending with its row key):
/// locks each, re-checks a changed one, and returns the rows that stay, at
/// most OFFSET + LIMIT of them.
pub fn run(rows: Vec<Row>, spec: &LockSpec, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let Some(cell) = cx.txn else {
        return Err(Error::internal("LockRows without a transaction"));
    };
    if lock_txn(cell)?.is_read_only() {
        return Err(Error::new(
            SqlState::READ_ONLY_SQL_TRANSACTION,
            format!(
                "cannot execute SELECT {} in a read-only transaction",
                spec.mode.sql_name()
            ),
        ));
    }
    let none: [Value; 0] = [];
    let want = {
        let ecx = eval_cx(cx, &none);
        match eval_count(&spec.limit, &ecx)? {
            Some(l) => Some(l.saturating_add(eval_count(&spec.offset, &ecx)?.unwrap_or(0))),
            None => None,
        }
    };
    let types = spec.table.types();
    let relation = spec.table.def.name.as_str();
    let mut out = Vec::new();
    for row in rows {
        if want.is_some_and(|w| out.len() >= w) {
            break;
        }
        super::signals::check()?;
        let Some(Value::Bytea(key)) = row.last() else {
            return Err(Error::internal("LockRows row without its key"));
        };
        let key = key.clone();
        let lock =
            lock_txn(cell)?.lock_row(&spec.table.rows, &key, spec.mode, spec.policy, relation)?;
        match lock {
            RowLock::Skipped | RowLock::SelfUpdated => continue,
            RowLock::Locked { current: None, .. } => continue,
            RowLock::Locked { changed: false, .. } => out.push(row),
            RowLock::Locked {
                current: Some(bytes),
                changed: true,
            } => {
                // EvalPlanQual: the newest version through the WHERE and
                // the projections again.
                let mut now = Vec::with_capacity(types.len() + 1);
                decode_row(&bytes, &types, None, &mut now)?;
                now.push(Value::Bytea(key));
                let mut keep = true;
                for step in &spec.steps {
                    match step {
                        Step::Filter(p) => {
                            if p.eval(&eval_cx(cx, &now))? != Value::Bool(true) {
                                keep = false;
                                break;
                            }
                        }
                        Step::Project(exprs) => {
                            let ecx = eval_cx(cx, &now);
                            let mut next = Vec::with_capacity(exprs.len());
                            for e in exprs {
                                next.push(e.eval(&ecx)?);
                            }
                            now = next;
                        }
                    }
                }
                if keep {
                    out.push(now);
                }
            }
        }
    }
    Ok(out)
}
