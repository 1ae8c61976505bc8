//! Data-modifying statements in `WITH`:
//! `WITH moved AS (DELETE FROM a WHERE … RETURNING *) INSERT INTO b SELECT * FROM moved`,
//! and `INSERT` / `UPDATE … RETURNING` in `WITH` before a SELECT, INSERT,
//! UPDATE or DELETE.
//!
//! ```text
//!   WITH d AS (DELETE FROM a RETURNING *), n AS (SELECT count(*) FROM d)
//!   INSERT INTO log SELECT * FROM n
//!
//!   1. DELETE FROM a RETURNING *      -> rows of d (materialized)
//!   2. SELECT count(*) FROM d         -> rows of n (reads d's rows)
//!   3. INSERT INTO log SELECT * FROM n   (d and n are VALUES lists here)
//! ```
//!
//! Owns: running each `WITH` item of such a statement exactly once, in
//! order, whether or not anything reads it (as PostgreSQL does), all in
//! the statement's transaction and snapshot, and handing their RETURNING
//! rows to the items after them and to the main statement.
//! Never: binds or runs DML itself ([`super::dml`] does).
//!
//! Known difference: PostgreSQL's main query does not see the rows the
//! WITH statements changed in their tables (only their RETURNING rows);
//! here a later item reading such a table sees the changes.

use std::cell::RefCell;

use sqlparser::ast::{self, SetExpr, Statement};

use crate::db::{Column, StatementResult};
use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::bind::{Binder, ident_name};
use super::session::StmtCx;

/// A `WITH` item already run: its name, columns and rows.
#[derive(Clone)]
struct Materialized {
    name: String,
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
}

thread_local! {
    /// The items of the statement being run, visible to every binder the
    /// statement creates ([`seed`]).
    static ITEMS: RefCell<Vec<Materialized>> = const { RefCell::new(Vec::new()) };
}

/// Clears [`ITEMS`] when the statement ends, also on error.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        ITEMS.with(|i| i.borrow_mut().clear());
    }
}

fn is_modifying(body: &SetExpr) -> bool {
    matches!(
        body,
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_)
    )
}

/// Whether `q` is a statement this module runs: a `WITH` holding a
/// data-modifying item, or a `WITH … INSERT/UPDATE/DELETE`.
pub fn applies(q: &ast::Query) -> bool {
    match &q.with {
        None => false,
        Some(w) => {
            is_modifying(&q.body) || w.cte_tables.iter().any(|c| is_modifying(&c.query.body))
        }
    }
}

/// Gives `binder` the items run so far as `WITH` queries.
pub(super) fn seed(binder: &mut Binder) {
    ITEMS.with(|items| {
        for m in items.borrow().iter() {
            binder.push_materialized_cte(&m.name, m.columns.clone(), &m.rows);
        }
    });
}

/// Runs a data-modifying statement's body (`INSERT`, `UPDATE`, `DELETE`).
fn run_dml(cx: &StmtCx<'_>, stmt: &Statement) -> Result<StatementResult> {
    match stmt {
        Statement::Insert(i) => super::dml::insert(cx, i),
        Statement::Update(u) => super::dml::update(cx, u),
        Statement::Delete(d) => super::dml::delete(cx, d),
        _ => Err(Error::unsupported("this statement in WITH")),
    }
}

/// Runs a query (SELECT, VALUES, set operation) with the items so far.
fn run_query(cx: &StmtCx<'_>, q: &ast::Query) -> Result<StatementResult> {
    let mut binder = cx.binder();
    let bound = binder.bind_query(q)?;
    let plan = super::optimizer::plan(bound.plan, cx.shared, cx.settings)?;
    let rows = super::execute::run(&plan, &cx.exec())?;
    Ok(StatementResult {
        tag: format!("SELECT {}", rows.len()),
        columns: bound.columns,
        rows,
    })
}

/// Runs `q` (see [`applies`]): each `WITH` item once, in order, then the
/// main statement over their rows.
pub fn run(cx: &StmtCx<'_>, q: &ast::Query) -> Result<StatementResult> {
    let Some(with) = &q.with else {
        return run_query(cx, q);
    };
    if with.recursive {
        return Err(Error::unsupported(
            "data-modifying statements in WITH RECURSIVE",
        ));
    }
    let _reset = Reset;
    ITEMS.with(|i| i.borrow_mut().clear());
    for cte in &with.cte_tables {
        if cte.from.is_some() {
            return Err(Error::unsupported("CTE FROM"));
        }
        let name = ident_name(&cte.alias.name);
        if ITEMS.with(|i| i.borrow().iter().any(|m| m.name == name)) {
            return Err(Error::new(
                SqlState("42712"),
                format!("WITH query name \"{name}\" specified more than once"),
            ));
        }
        let result = match &*cte.query.body {
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
                if cte.query.with.is_some() {
                    return Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        "WITH clause containing a data-modifying statement must be at the top level",
                    ));
                }
                run_dml(cx, s)?
            }
            _ => run_query(cx, &cte.query)?,
        };
        let mut columns = result.columns;
        if cte.alias.columns.len() > columns.len() {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                format!(
                    "WITH query \"{name}\" has {} columns available but {} columns specified",
                    columns.len(),
                    cte.alias.columns.len()
                ),
            ));
        }
        for (c, a) in columns.iter_mut().zip(&cte.alias.columns) {
            c.name = ident_name(&a.name);
        }
        ITEMS.with(|i| {
            i.borrow_mut().push(Materialized {
                name,
                columns,
                rows: result.rows,
            })
        });
    }
    match &*q.body {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => run_dml(cx, s),
        _ => {
            let mut main = q.clone();
            main.with = None;
            run_query(cx, &main)
        }
    }
}

/// The result columns of `q` (see [`applies`]) without running it, and its
/// parameter types inferred in `binder` (for Describe).
pub fn describe(binder: &mut Binder, q: &ast::Query) -> Result<Vec<Column>> {
    let Some(with) = &q.with else {
        return Ok(binder.bind_query(q)?.columns);
    };
    for cte in &with.cte_tables {
        let name = ident_name(&cte.alias.name);
        let mut columns = match &*cte.query.body {
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
                super::dml::describe(binder, s)?
            }
            _ => binder.bind_query(&cte.query)?.columns,
        };
        for (c, a) in columns.iter_mut().zip(&cte.alias.columns) {
            c.name = ident_name(&a.name);
        }
        binder.push_materialized_cte(&name, columns, &[]);
    }
    match &*q.body {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) => {
            super::dml::describe(binder, s)
        }
        _ => {
            let mut main = q.clone();
            main.with = None;
            Ok(binder.bind_query(&main)?.columns)
        }
    }
}
