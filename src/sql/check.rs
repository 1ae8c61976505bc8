//! CHECK constraints: naming and validation at CREATE TABLE, enforcement on
//! every row an INSERT, UPDATE or COPY stores.
//!
//! ```text
//!  CREATE TABLE t (x int CHECK (x > 0), y int, CHECK (x < y))
//!    t_x_check   x > 0      one column read:     <table>_<column>_check
//!    t_check     x < y      several (or none):   <table>_check
//!  INSERT INTO t VALUES (0, 1)
//!    ERROR 23514 new row for relation "t" violates check constraint "t_x_check"
//!    DETAIL Failing row contains (0, 1).
//! ```
//!
//! A constraint is stored as SQL text ([`CheckDef`]) and bound again by each
//! writing statement against the table's columns; as in PostgreSQL a check
//! passes unless it is false (NULL passes), and checks run in name order,
//! after NOT NULL and before unique and foreign keys.
//! Owns: PostgreSQL's names for CHECK constraints (a number appended on a
//! clash with another constraint of the table). Never: writes rows.

use sqlparser::ast;

use crate::catalog::{CheckDef, ColumnDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::bind::{Binder, Scope};
use super::expr::{EvalContext, Expr};
use super::session::StmtCx;

/// The scope a table's constraints are bound in: its columns, by name.
fn table_scope(table: &str, columns: &[ColumnDef]) -> Scope {
    Scope::of(
        Some(table.to_string()),
        columns
            .iter()
            .map(|c| (c.name.clone(), c.data_type.clone())),
    )
}

pub(super) fn parse_expr(text: &str) -> Result<ast::Expr> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::internal(format!("stored check {text:?} does not parse: {e}")))
}

fn bind_check(binder: &mut Binder, scope: &Scope, e: &ast::Expr) -> Result<Expr> {
    let bound = binder.bind_expr(e, scope)?;
    binder.coerce_bool(bound, "CHECK")
}

/// The columns (positions) a bound expression reads.
fn columns_read(e: &Expr) -> Vec<usize> {
    let mut e = e.clone();
    let mut seen = Vec::new();
    e.map_columns(&mut |i| {
        if !seen.contains(&i) {
            seen.push(i);
        }
        i
    });
    seen
}

/// A CHECK as CREATE TABLE gives it: its name if it has one, its expression.
pub struct CheckSpec {
    pub name: Option<String>,
    pub expr: ast::Expr,
}

/// Validates and names the CHECK constraints of a new table: each binds to
/// a boolean over `columns`; unnamed ones get PostgreSQL's names, avoiding
/// `taken` (the table's other constraint names). 42710 for a duplicate
/// explicit name.
pub fn define_checks(
    binder: &mut Binder,
    table: &str,
    columns: &[ColumnDef],
    specs: &[CheckSpec],
    taken: &mut Vec<String>,
) -> Result<Vec<CheckDef>> {
    let scope = table_scope(table, columns);
    let mut out: Vec<CheckDef> = Vec::with_capacity(specs.len());
    // Explicit names first: generated names step around them.
    for s in specs {
        if let Some(n) = &s.name {
            if taken.contains(n) {
                return Err(Error::new(
                    SqlState::DUPLICATE_OBJECT,
                    format!("check constraint \"{n}\" already exists"),
                ));
            }
            taken.push(n.clone());
        }
    }
    for s in specs {
        let bound = bind_check(binder, &scope, &s.expr)?;
        let name = match &s.name {
            Some(n) => n.clone(),
            None => {
                let read = columns_read(&bound);
                let base = match read.as_slice() {
                    [c] => format!("{table}_{}_check", columns[*c].name),
                    _ => format!("{table}_check"),
                };
                let n = free_constraint_name(&base, taken);
                taken.push(n.clone());
                n
            }
        };
        out.push(CheckDef {
            name,
            expr: s.expr.to_string(),
        });
    }
    Ok(out)
}

/// 42710: a constraint of that name exists on the table.
pub fn duplicate_constraint(name: &str, table: &str) -> Error {
    Error::new(
        SqlState::DUPLICATE_OBJECT,
        format!("constraint \"{name}\" for relation \"{table}\" already exists"),
    )
}

/// `base`, else `base1`, `base2`, … (PostgreSQL's ChooseConstraintName).
pub fn free_constraint_name(base: &str, taken: &[String]) -> String {
    let mut n = 0usize;
    loop {
        let candidate = if n == 0 {
            base.to_string()
        } else {
            format!("{base}{n}")
        };
        if !taken.contains(&candidate) {
            return candidate;
        }
        n += 1;
    }
}

/// A table's CHECK constraints bound for one statement, in name order.
#[derive(Default)]
pub struct BoundChecks {
    checks: Vec<(String, Expr)>,
}

impl BoundChecks {
    pub fn bind(binder: &mut Binder, def: &TableDef) -> Result<BoundChecks> {
        if def.checks.is_empty() {
            return Ok(BoundChecks::default());
        }
        let scope = table_scope(&def.name, &def.columns);
        let mut checks = Vec::with_capacity(def.checks.len());
        for c in &def.checks {
            let e = parse_expr(&c.expr)?;
            checks.push((c.name.clone(), bind_check(binder, &scope, &e)?));
        }
        checks.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(BoundChecks { checks })
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The bound check expressions.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.checks.iter().map(|(_, e)| e)
    }

    /// 23514 if a check is false for `row` (the row as it will be stored).
    pub fn check(&self, cx: &StmtCx<'_>, def: &TableDef, row: &[Value]) -> Result<()> {
        if self.checks.is_empty() {
            return Ok(());
        }
        let ctx = EvalContext {
            row,
            params: cx.params,
            outer: &[],
            settings: cx.settings,
            txn: Some(cx.txn),
        };
        for (name, e) in &self.checks {
            if e.eval(&ctx)? == Value::Bool(false) {
                return Err(Error::new(
                    SqlState::CHECK_VIOLATION,
                    format!(
                        "new row for relation \"{}\" violates check constraint \"{name}\"",
                        def.name
                    ),
                )
                .with_detail(failing_row(row)));
            }
        }
        Ok(())
    }
}

/// PostgreSQL's `Failing row contains (…).` DETAIL.
pub fn failing_row(row: &[Value]) -> String {
    let shown: Vec<String> = row
        .iter()
        .map(|v| {
            if v.is_null() {
                "null".to_string()
            } else {
                v.to_text()
            }
        })
        .collect();
    format!("Failing row contains ({}).", shown.join(", "))
}
