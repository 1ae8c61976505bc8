//! Data modification: INSERT, UPDATE, DELETE and TRUNCATE over the MVCC
//! transaction of the statement.
//!
//! ```text
//!  INSERT  source rows ─▶ typmods, NOT NULL ─▶ txn.insert(row key)        23505 if live
//!                                            └▶ txn.insert(index entries)  23505 on a unique one
//!  UPDATE  Filter(Scan with keys) ─▶ per row: lock_row ─▶ changed? re-check WHERE on the
//!  DELETE                             newest version (READ COMMITTED) ─▶ put / delete + index entries
//! ```
//!
//! Owns: assignment coercion (PostgreSQL's assignment casts, 42804
//! otherwise; 22001 / 22003 from the column's typmod), constraint errors
//! with PostgreSQL's messages and DETAIL, command tags, RETURNING.
//! Invariants: every row write holds its row lock (the txn layer takes
//! it); a row found by the scan is written only after `lock_row` and, if a
//! concurrent writer changed it, only if the newest version still passes
//! the WHERE (EvalPlanQual), so `v = v + 1` loses no update.

use std::ops::Bound;

use sqlparser::ast;

use crate::catalog::row::{decode_row, encode_row};
use crate::catalog::{ColumnDef, TableDef};
use crate::db::{Column, StatementResult};
use crate::error::{Error, Result, SqlState};
use crate::txn::RowLock;
use crate::txn::lock::{RowLockMode, WaitPolicy};
use crate::types::{DataType, Value};

use super::bind::{Binder, Scope, object_name};
use super::cast::apply_typmod;
use super::check::BoundChecks;
use super::coerce::{Category, base, can_coerce_implicit, category, same_base};
use super::execute::{self, Row};
use super::expr::{EvalContext, Expr};
use super::fk;
use super::plan::Plan;
use super::scan::{TableRef, choose_access, index_entry, lock_txn, row_key, rowid_key};
use super::session::StmtCx;
use super::upsert::{self, OnConflictPlan};

fn tag_result(tag: String, returning: Option<(&Returning, Vec<Row>)>) -> StatementResult {
    match returning {
        Some((r, rows)) => StatementResult {
            columns: r.columns.clone(),
            rows,
            tag,
        },
        None => StatementResult {
            columns: Vec::new(),
            rows: Vec::new(),
            tag,
        },
    }
}

/// Converts `e` for storing into `col` as an assignment does: unknown
/// literals and parameters take the column's type, numbers convert among
/// themselves, anything converts to a string type; otherwise 42804. The
/// column's typmod is applied when the row is stored.
pub fn assign_coerce(binder: &mut Binder, e: Expr, col: &ColumnDef) -> Result<Expr> {
    let to = base(&col.data_type);
    let from = e.ty();
    if from == DataType::Unknown {
        return binder.coerce(e, &to);
    }
    if same_base(&from, &to) {
        return Ok(e);
    }
    if !assignable(&from, &to) {
        return Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "column \"{}\" is of type {} but expression is of type {}",
                col.name,
                col.data_type.name(),
                from.name()
            ),
        )
        .with_hint("You will need to rewrite or cast the expression."));
    }
    Ok(Expr::Cast {
        expr: Box::new(e),
        to,
    })
}

/// Whether a value of `from` may be stored in a column of `to` (an
/// implicit or assignment cast; arrays when their elements may be).
fn assignable(from: &DataType, to: &DataType) -> bool {
    if let (DataType::Array(f), DataType::Array(t)) = (from, to) {
        return same_base(f, t) || assignable(f, t);
    }
    can_coerce_implicit(from, to)
        || (category(from) == Category::Numeric && category(to) == Category::Numeric)
        || category(to) == Category::String
        // PostgreSQL's assignment casts among date/time types (pg_cast
        // context 'a'): INSERT … VALUES (CURRENT_TIMESTAMP) into timestamp.
        || matches!(
            (from, to),
            (
                DataType::Timestamptz,
                DataType::Timestamp | DataType::Date | DataType::Time
            ) | (DataType::Timestamp, DataType::Date | DataType::Time)
                | (DataType::Interval, DataType::Time)
        )
}

/// The DEFAULT of `col` bound for an INSERT (NULL if none).
pub(crate) fn default_expr(binder: &mut Binder, col: &ColumnDef) -> Result<Expr> {
    let Some(text) = &col.default else {
        return Ok(Expr::Const {
            value: Value::Null,
            ty: base(&col.data_type),
        });
    };
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let parsed = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::internal(format!("stored default {text:?} does not parse: {e}")))?;
    let bound = binder.bind_expr(&parsed, &Scope::default())?;
    assign_coerce(binder, bound, col)
}

pub(crate) fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// `(a, b)` and `(1, x)` of a key, as DETAIL lines print them.
pub fn format_key(
    def: &TableDef,
    cols: impl Iterator<Item = usize>,
    row: &[Value],
) -> (String, String) {
    let mut names = Vec::new();
    let mut vals = Vec::new();
    for c in cols {
        names.push(
            def.columns
                .get(c)
                .map(|d| d.name.clone())
                .unwrap_or_default(),
        );
        vals.push(match row.get(c) {
            None | Some(Value::Null) => "null".to_string(),
            Some(v) => v.to_text(),
        });
    }
    (names.join(", "), vals.join(", "))
}

fn unique_violation(
    constraint: &str,
    def: &TableDef,
    cols: impl Iterator<Item = usize>,
    row: &[Value],
) -> Error {
    let (names, vals) = format_key(def, cols, row);
    Error::new(
        SqlState::UNIQUE_VIOLATION,
        format!("duplicate key value violates unique constraint \"{constraint}\""),
    )
    .with_detail(format!("Key ({names})=({vals}) already exists."))
}

/// Applies typmods and checks NOT NULL: the row as it will be stored.
pub(crate) fn conform_row(def: &TableDef, row: Row) -> Result<Row> {
    let mut out = Vec::with_capacity(def.columns.len());
    for (v, c) in row.into_iter().zip(&def.columns) {
        out.push(apply_typmod(v, &c.data_type, false)?);
    }
    for (i, c) in def.columns.iter().enumerate() {
        if c.not_null && out[i].is_null() {
            let shown: Vec<String> = out
                .iter()
                .map(|v| {
                    if v.is_null() {
                        "null".to_string()
                    } else {
                        v.to_text()
                    }
                })
                .collect();
            return Err(Error::new(
                SqlState::NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, def.name
                ),
            )
            .with_detail(format!("Failing row contains ({}).", shown.join(", "))));
        }
    }
    Ok(out)
}

/// RETURNING: expressions over the written row, and the result columns.
pub struct Returning {
    exprs: Vec<Expr>,
    columns: Vec<Column>,
}

fn bind_returning(
    binder: &mut Binder,
    items: &Option<Vec<ast::SelectItem>>,
    scope: &Scope,
) -> Result<Option<Returning>> {
    let Some(items) = items else {
        return Ok(None);
    };
    let select = ast::Select {
        projection: items.clone(),
        ..empty_select()
    };
    let (exprs, names) = binder.bind_projection(&select, scope)?;
    let columns = names
        .into_iter()
        .zip(&exprs)
        .map(|(name, e)| Column {
            name,
            data_type: e.ty(),
        })
        .collect();
    Ok(Some(Returning { exprs, columns }))
}

fn empty_select() -> ast::Select {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    match sqlparser::parser::Parser::parse_sql(&dialect, "SELECT 1 FROM t") {
        Ok(mut v) => match v.pop() {
            Some(ast::Statement::Query(q)) => match *q.body {
                ast::SetExpr::Select(s) => *s,
                _ => unreachable_select(),
            },
            _ => unreachable_select(),
        },
        Err(_) => unreachable_select(),
    }
}

fn unreachable_select() -> ! {
    panic!("the parser parses a fixed SELECT");
}

fn eval_all(exprs: &[Expr], row: &[Value], cx: &StmtCx<'_>) -> Result<Row> {
    let ctx = EvalContext {
        row,
        params: cx.params,
        outer: &[],
        settings: cx.settings,
        txn: Some(cx.txn),
    };
    exprs.iter().map(|e| e.eval(&ctx)).collect()
}

/// A bound INSERT: full rows of the table's columns (base types).
pub struct BoundInsert {
    table: TableRef,
    checks: BoundChecks,
    on_conflict: Option<OnConflictPlan>,
    source: Plan,
    returning: Option<Returning>,
}

fn target_table(t: &ast::TableObject) -> Result<&ast::ObjectName> {
    match t {
        ast::TableObject::TableName(n) => Ok(n),
        _ => Err(Error::unsupported("INSERT INTO a table function")),
    }
}

pub fn bind_insert(binder: &mut Binder, ins: &ast::Insert) -> Result<BoundInsert> {
    let on_conflict = match &ins.on {
        None => None,
        Some(ast::OnInsert::OnConflict(oc)) => Some(oc),
        Some(_) => return Err(Error::unsupported("INSERT … ON DUPLICATE KEY UPDATE")),
    };
    if ins.or.is_some() || ins.ignore || ins.replace_into || ins.overwrite {
        return Err(Error::unsupported("this form of INSERT"));
    }
    let name = target_table(&ins.table)?;
    let overriding = super::sequence::overriding_of(ins);
    let (_, scope, table) = binder.bind_table(name, None, false)?;
    let def = table.def.clone();
    let relation = def.name.clone();
    let scope = match &ins.table_alias {
        Some(a) => Scope::of(
            Some(super::bind::ident_name(&a.alias)),
            def.columns
                .iter()
                .map(|c| (c.name.clone(), c.data_type.clone())),
        ),
        None => scope,
    };
    let mut targets = Vec::new();
    // Without a column list the targets are the first columns, as many
    // as the source has (the rest get their defaults).
    let implicit_targets = ins.columns.is_empty();
    if implicit_targets {
        let width = match ins.source.as_deref().map(|q| q.body.as_ref()) {
            Some(ast::SetExpr::Values(v)) => v.rows.first().map_or(0, |r| r.content.len()),
            _ => def.columns.len(),
        };
        targets.extend(0..width.min(def.columns.len()));
        if width > def.columns.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "INSERT has more expressions than target columns",
            ));
        }
    } else {
        for c in &ins.columns {
            let parts = object_name(c);
            let cname = parts.last().cloned().unwrap_or_default();
            let pos = def
                .columns
                .iter()
                .position(|d| d.name == cname)
                .ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!("column \"{cname}\" of relation \"{relation}\" does not exist"),
                    )
                })?;
            if targets.contains(&pos) {
                return Err(Error::new(
                    SqlState("42701"),
                    format!("column \"{cname}\" specified more than once"),
                ));
            }
            targets.push(pos);
        }
    }
    let too_many = || {
        Error::new(
            SqlState::SYNTAX_ERROR,
            "INSERT has more expressions than target columns",
        )
    };
    let too_few = || {
        Error::new(
            SqlState::SYNTAX_ERROR,
            "INSERT has more target columns than expressions",
        )
    };
    let ncols = def.columns.len();
    let source = match &ins.source {
        None => {
            // DEFAULT VALUES
            let mut row = Vec::with_capacity(ncols);
            for c in &def.columns {
                row.push(default_expr(binder, c)?);
            }
            Plan::Values {
                rows: vec![row],
                width: ncols,
            }
        }
        Some(q) => match q.body.as_ref() {
            ast::SetExpr::Values(values)
                if q.with.is_none() && q.order_by.is_none() && q.limit_clause.is_none() =>
            {
                let mut defaults: Vec<Option<Expr>> = vec![None; ncols];
                let mut rows = Vec::with_capacity(values.rows.len());
                for r in &values.rows {
                    if implicit_targets && r.content.len() != targets.len() {
                        return Err(Error::new(
                            SqlState::SYNTAX_ERROR,
                            "VALUES lists must all be the same length",
                        ));
                    }
                    if r.content.len() > targets.len() {
                        return Err(too_many());
                    }
                    if r.content.len() < targets.len() {
                        return Err(too_few());
                    }
                    let mut given: Vec<Option<Expr>> = vec![None; ncols];
                    for (e, &pos) in r.content.iter().zip(&targets) {
                        let col = &def.columns[pos];
                        let identity_default = !is_default_keyword(e)
                            && super::sequence::insert_uses_default(col, overriding)?;
                        given[pos] = Some(if is_default_keyword(e) || identity_default {
                            default_expr(binder, col)?
                        } else {
                            let b = binder.bind_expr(e, &Scope::default())?;
                            assign_coerce(binder, b, col)?
                        });
                    }
                    let mut row = Vec::with_capacity(ncols);
                    for (pos, g) in given.into_iter().enumerate() {
                        row.push(match g {
                            Some(e) => e,
                            None => match &defaults[pos] {
                                Some(d) => d.clone(),
                                None => {
                                    let d = default_expr(binder, &def.columns[pos])?;
                                    defaults[pos] = Some(d.clone());
                                    d
                                }
                            },
                        });
                    }
                    rows.push(row);
                }
                Plan::Values { rows, width: ncols }
            }
            _ => {
                let bound = binder.bind_query(q)?;
                if implicit_targets && bound.columns.len() < targets.len() {
                    targets.truncate(bound.columns.len());
                }
                if bound.columns.len() > targets.len() {
                    return Err(too_many());
                }
                if bound.columns.len() < targets.len() {
                    return Err(too_few());
                }
                let mut exprs = Vec::with_capacity(ncols);
                for (pos, col) in def.columns.iter().enumerate() {
                    let target = match targets.iter().position(|&t| t == pos) {
                        Some(_) if super::sequence::insert_uses_default(col, overriding)? => None,
                        t => t,
                    };
                    exprs.push(match target {
                        Some(j) => {
                            let c = Expr::Column {
                                index: j,
                                ty: bound.columns[j].data_type.clone(),
                            };
                            assign_coerce(binder, c, col)?
                        }
                        None => default_expr(binder, col)?,
                    });
                }
                Plan::Project {
                    input: Box::new(choose_access(bound.plan)),
                    exprs,
                }
            }
        },
    };
    let returning = bind_returning(binder, &ins.returning, &scope)?;
    let checks = BoundChecks::bind(binder, &table.def)?;
    let on_conflict = match on_conflict {
        Some(oc) => Some(upsert::bind(binder, &table, &scope, oc)?),
        None => None,
    };
    Ok(BoundInsert {
        table,
        checks,
        on_conflict,
        source,
        returning,
    })
}

/// Which unique structure a new row collided with, and the colliding key.
pub(crate) enum Duplicate {
    /// The primary key: the row key.
    PrimaryKey(Vec<u8>),
    /// Unique index `def.indexes[i]`: its entry key.
    Index(usize, Vec<u8>),
}

impl Duplicate {
    pub(crate) fn into_error(self, def: &TableDef, row: &[Value]) -> Error {
        match self {
            Duplicate::PrimaryKey(_) => {
                unique_violation(&def.pk_name, def, def.primary_key.iter().copied(), row)
            }
            Duplicate::Index(i, _) => {
                let ix = &def.indexes[i];
                unique_violation(&ix.name, def, ix.columns.iter().map(|c| c.column), row)
            }
        }
    }
}

/// Stores one new row (typmods and NOT NULL applied by the caller), or
/// says which unique key it duplicates; the caller undoes a partial write
/// (the row without all its index entries) by failing or rolling back.
pub(crate) fn try_store_new(
    cx: &StmtCx<'_>,
    table: &TableRef,
    row: &[Value],
) -> Result<Option<Duplicate>> {
    let def = &table.def;
    let key = match row_key(def, row) {
        Some(k) => k,
        None => rowid_key(cx.shared.next_rowid(&table.rows)?),
    };
    let bytes = encode_row(def.schema_version, row);
    let mut txn = lock_txn(cx.txn)?;
    if !txn.insert(&table.rows, &key, &bytes)? {
        return Ok(Some(Duplicate::PrimaryKey(key)));
    }
    for (i, (ix, tree)) in def.indexes.iter().zip(&table.indexes).enumerate() {
        let (k, enforcing) = index_entry(ix, row, &key);
        // A unique entry is locked as a key of its own (a concurrent
        // inserter of the same value waits); any other ends with the row's
        // key, locked just above.
        let inserted = if enforcing {
            txn.insert(tree, &k, &key)?
        } else {
            txn.insert_entry(tree, &k, &key)?
        };
        if !inserted {
            if enforcing {
                return Ok(Some(Duplicate::Index(i, k)));
            }
            return Err(Error::internal(format!(
                "index \"{}\" already has an entry for a new row",
                ix.name
            )));
        }
    }
    Ok(None)
}

/// Stores one new row (typmods and NOT NULL applied by the caller).
pub(crate) fn store_new(cx: &StmtCx<'_>, table: &TableRef, row: &[Value]) -> Result<()> {
    match try_store_new(cx, table, row)? {
        None => Ok(()),
        Some(d) => Err(d.into_error(&table.def, row)),
    }
}

pub fn insert(cx: &StmtCx<'_>, ins: &ast::Insert) -> Result<StatementResult> {
    cx.check_writable("INSERT")?;
    let bound = prepare_insert(cx, ins)?;
    run_insert(cx, &bound)
}

/// Binds `ins`, through the view it names if it names one.
pub fn prepare_insert(cx: &StmtCx<'_>, ins: &ast::Insert) -> Result<BoundInsert> {
    if let ast::TableObject::TableName(n) = &ins.table
        && let Some(rewritten) = super::view::rewrite_insert(cx, n, ins)?
    {
        return prepare_insert(cx, &rewritten);
    }
    bind_insert(&mut cx.binder(), ins)
}

impl BoundInsert {
    /// Whether another execution may run this binding again: it holds no
    /// state of its own (`plan_cache.rs`). ON CONFLICT is bound afresh.
    pub(crate) fn reusable(&self) -> bool {
        self.on_conflict.is_none()
            && super::plan_cache::cacheable(&self.source)
            && self.checks.exprs().all(super::plan_cache::plain)
            && self
                .returning
                .as_ref()
                .is_none_or(|r| r.exprs.iter().all(super::plan_cache::plain))
    }
}

pub fn run_insert(cx: &StmtCx<'_>, bound: &BoundInsert) -> Result<StatementResult> {
    let rows = execute::run(&bound.source, &cx.exec())?;
    let mut returned = Vec::new();
    let mut n = 0usize;
    let mut pending = fk::Pending::default();
    let has_fks = !bound.table.def.foreign_keys.is_empty();
    for row in rows {
        let row = conform_row(&bound.table.def, row)?;
        bound.checks.check(cx, &bound.table.def, &row)?;
        let row = match &bound.on_conflict {
            None => {
                store_new(cx, &bound.table, &row)?;
                row
            }
            Some(oc) => match upsert::insert_or_update(cx, &bound.table, &bound.checks, oc, row)? {
                Some(stored) => stored,
                None => continue,
            },
        };
        n += 1;
        if has_fks {
            pending.inserted(&bound.table, &row);
        }
        if let Some(r) = &bound.returning {
            returned.push(eval_all(&r.exprs, &row, cx)?);
        }
    }
    pending.run(cx)?;
    bound.table.counters.inserted(n as u64);
    Ok(tag_result(
        format!("INSERT 0 {n}"),
        bound.returning.as_ref().map(|r| (r, returned)),
    ))
}

/// A bound UPDATE or DELETE: candidate rows (table columns ++ key), the
/// WHERE to re-check, and for UPDATE the new value of each column.
pub struct BoundModify {
    table: TableRef,
    checks: BoundChecks,
    plan: Plan,
    predicate: Option<Expr>,
    /// UPDATE: one expression per table column over the old row.
    assignments: Option<Vec<Expr>>,
    returning: Option<Returning>,
}

fn bind_target(binder: &mut Binder, twj: &ast::TableWithJoins) -> Result<(Plan, Scope, TableRef)> {
    if !twj.joins.is_empty() {
        return Err(Error::unsupported("joins in the target of UPDATE / DELETE"));
    }
    match &twj.relation {
        ast::TableFactor::Table {
            name, alias, args, ..
        } if args.is_none() => binder.bind_table(name, alias.as_ref(), true),
        _ => Err(Error::unsupported("this target of UPDATE / DELETE")),
    }
}

fn bind_where(
    binder: &mut Binder,
    plan: Plan,
    scope: &Scope,
    selection: &Option<ast::Expr>,
) -> Result<(Plan, Option<Expr>)> {
    let Some(w) = selection else {
        return Ok((plan, None));
    };
    let p = binder.bind_expr(w, scope)?;
    let p = binder.coerce_bool(p, "WHERE")?;
    let plan = choose_access(Plan::Filter {
        input: Box::new(plan),
        predicate: p.clone(),
    });
    Ok((plan, Some(p)))
}

/// `SET` of UPDATE and of ON CONFLICT DO UPDATE: one expression per table
/// column over a row that `scope` describes (unassigned columns keep their
/// value). `column = expr`, `column = DEFAULT`, `(a, b) = (expr, DEFAULT)`
/// and `(a, b) = (SELECT x, y …)`; 42703 for an unknown column, 42601 for
/// one assigned twice or a tuple of the wrong width, as PostgreSQL.
/// `identity_check`: reject assigning a GENERATED ALWAYS column (UPDATE).
pub(crate) fn bind_assignments(
    binder: &mut Binder,
    def: &TableDef,
    items: &[ast::Assignment],
    scope: &Scope,
    identity_check: bool,
) -> Result<Vec<Expr>> {
    let mut assignments: Vec<Expr> = def
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| Expr::Column {
            index: i,
            ty: c.data_type.clone(),
        })
        .collect();
    let mut assigned = Vec::new();
    let mut target_pos = |target: &ast::ObjectName| -> Result<usize> {
        let cname = object_name(target).last().cloned().unwrap_or_default();
        let pos = def
            .columns
            .iter()
            .position(|d| d.name == cname)
            .ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{cname}\" of relation \"{}\" does not exist",
                        def.name
                    ),
                )
            })?;
        if assigned.contains(&pos) {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("multiple assignments to same column \"{cname}\""),
            ));
        }
        assigned.push(pos);
        Ok(pos)
    };
    for a in items {
        // (target position, its source: an AST expression or a bound one)
        let mut sources: Vec<(usize, Result<&ast::Expr, Expr>)> = Vec::new();
        match &a.target {
            ast::AssignmentTarget::ColumnName(target) => {
                sources.push((target_pos(target)?, Ok(&a.value)));
            }
            ast::AssignmentTarget::Tuple(targets) => {
                let mut positions = Vec::with_capacity(targets.len());
                for t in targets {
                    positions.push(target_pos(t)?);
                }
                let width_error = || {
                    Error::new(
                        SqlState::SYNTAX_ERROR,
                        "number of columns does not match number of values",
                    )
                };
                match &a.value {
                    ast::Expr::Tuple(values) => {
                        if values.len() != positions.len() {
                            return Err(width_error());
                        }
                        sources.extend(positions.into_iter().zip(values.iter().map(Ok)));
                    }
                    ast::Expr::Subquery(q) => {
                        let exprs = binder.bind_multi_column_subquery(q, positions.len(), scope)?;
                        sources.extend(positions.into_iter().zip(exprs.into_iter().map(Err)));
                    }
                    _ => {
                        return Err(Error::new(
                            SqlState::SYNTAX_ERROR,
                            "source for a multiple-column UPDATE item must be a sub-SELECT or ROW() expression",
                        ));
                    }
                }
            }
        }
        for (pos, source) in sources {
            let col = &def.columns[pos];
            assignments[pos] = match source {
                Ok(e) if is_default_keyword(e) => default_expr(binder, col)?,
                Ok(e) => {
                    if identity_check {
                        super::sequence::check_update(col)?;
                    }
                    let b = binder.bind_expr(e, scope)?;
                    assign_coerce(binder, b, col)?
                }
                Err(b) => {
                    if identity_check {
                        super::sequence::check_update(col)?;
                    }
                    assign_coerce(binder, b, col)?
                }
            };
        }
    }
    Ok(assignments)
}

/// A placeholder for the row key the target scan appends after the
/// table's columns: no name reaches it and `*` skips it, so the FROM /
/// USING items' columns that follow keep their positions in the row.
fn key_placeholder() -> Scope {
    Scope {
        columns: vec![super::bind::ScopeColumn {
            table: None,
            name: String::new(),
            ty: DataType::Bytea,
            hidden: true,
        }],
    }
}

/// The target of UPDATE / DELETE joined with the FROM / USING items:
/// rows of [target columns, target key, items' columns], and their scope.
fn bind_target_with(
    binder: &mut Binder,
    twj: &ast::TableWithJoins,
    from: Option<&[ast::TableWithJoins]>,
) -> Result<(Plan, Scope, TableRef)> {
    let (plan, scope, table) = bind_target(binder, twj)?;
    let Some(from) = from.filter(|f| !f.is_empty()) else {
        return Ok((plan, scope, table));
    };
    let (fplan, fscope) = binder.bind_from(from)?;
    for c in &fscope.columns {
        if let Some(t) = &c.table
            && scope.has_table(t)
        {
            return Err(Error::new(
                SqlState("42712"),
                format!("table name \"{t}\" specified more than once"),
            ));
        }
    }
    let plan = Plan::Join {
        kind: super::plan::JoinKind::Inner,
        left: Box::new(plan),
        right: Box::new(fplan),
        on: None,
    };
    Ok((plan, scope.concat(key_placeholder()).concat(fscope), table))
}

pub fn bind_update(binder: &mut Binder, u: &ast::Update) -> Result<BoundModify> {
    if u.or.is_some() || u.limit.is_some() || !u.order_by.is_empty() {
        return Err(Error::unsupported("this form of UPDATE"));
    }
    let from = match &u.from {
        None => None,
        Some(ast::UpdateTableFromKind::AfterSet(f)) => Some(f.as_slice()),
        Some(ast::UpdateTableFromKind::BeforeSet(_)) => {
            return Err(Error::unsupported("UPDATE FROM … SET"));
        }
    };
    let (plan, scope, table) = bind_target_with(binder, &u.table, from)?;
    let assignments = bind_assignments(binder, &table.def, &u.assignments, &scope, true)?;
    let (plan, predicate) = bind_where(binder, plan, &scope, &u.selection)?;
    let returning = bind_returning(binder, &u.returning, &scope)?;
    let checks = BoundChecks::bind(binder, &table.def)?;
    Ok(BoundModify {
        table,
        checks,
        plan,
        predicate,
        assignments: Some(assignments),
        returning,
    })
}

pub fn bind_delete(binder: &mut Binder, d: &ast::Delete) -> Result<BoundModify> {
    if !d.tables.is_empty() || d.limit.is_some() || !d.order_by.is_empty() {
        return Err(Error::unsupported("this form of DELETE"));
    }
    let from = match &d.from {
        ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
    };
    let [twj] = from.as_slice() else {
        return Err(Error::unsupported("DELETE from several tables"));
    };
    let (plan, scope, table) = bind_target_with(binder, twj, d.using.as_deref())?;
    let (plan, predicate) = bind_where(binder, plan, &scope, &d.selection)?;
    let returning = bind_returning(binder, &d.returning, &scope)?;
    Ok(BoundModify {
        table,
        checks: BoundChecks::default(),
        plan,
        predicate,
        assignments: None,
        returning,
    })
}

pub fn update(cx: &StmtCx<'_>, u: &ast::Update) -> Result<StatementResult> {
    cx.check_writable("UPDATE")?;
    let bound = prepare_update(cx, u)?;
    run_modify(cx, &bound)
}

/// Binds `u` (through the view it names, if it names one) and plans its
/// FROM.
pub fn prepare_update(cx: &StmtCx<'_>, u: &ast::Update) -> Result<BoundModify> {
    if let Some(rewritten) = super::view::rewrite_update(cx, u)? {
        return prepare_update(cx, &rewritten);
    }
    let mut binder = cx.binder();
    let mut bound = bind_update(&mut binder, u)?;
    if u.from.is_some() {
        bound.plan = super::optimizer::plan(bound.plan, cx.shared, cx.settings)?;
    }
    Ok(bound)
}

pub fn delete(cx: &StmtCx<'_>, d: &ast::Delete) -> Result<StatementResult> {
    cx.check_writable("DELETE")?;
    let bound = prepare_delete(cx, d)?;
    run_modify(cx, &bound)
}

/// Binds `d` (through the view it names, if it names one) and plans its
/// USING.
pub fn prepare_delete(cx: &StmtCx<'_>, d: &ast::Delete) -> Result<BoundModify> {
    if let Some(rewritten) = super::view::rewrite_delete(cx, d)? {
        return prepare_delete(cx, &rewritten);
    }
    let mut binder = cx.binder();
    let mut bound = bind_delete(&mut binder, d)?;
    if d.using.is_some() {
        bound.plan = super::optimizer::plan(bound.plan, cx.shared, cx.settings)?;
    }
    Ok(bound)
}

fn key_of(row: &[Value], ncols: usize) -> Result<Vec<u8>> {
    match row.get(ncols) {
        Some(Value::Bytea(k)) => Ok(k.clone()),
        _ => Err(Error::internal("scan row without its key")),
    }
}

pub fn run_modify(cx: &StmtCx<'_>, bound: &BoundModify) -> Result<StatementResult> {
    let table = &bound.table;
    let def = &table.def;
    let types = table.types();
    let ncols = def.columns.len();
    let candidates = execute::run(&bound.plan, &cx.exec())?;
    // Does the UPDATE change a key column? Then it takes the stronger lock.
    let key_change = bound.assignments.as_ref().is_some_and(|a| {
        def.primary_key
            .iter()
            .any(|&p| !matches!(&a[p], Expr::Column { index, .. } if *index == p))
    });
    let mode = if bound.assignments.is_none() || key_change {
        RowLockMode::Update
    } else {
        RowLockMode::NoKeyUpdate
    };
    let mut count = 0usize;
    let mut returned = Vec::new();
    let mut pending = fk::Pending::default();
    let tracks_fks = !def.foreign_keys.is_empty() || !def.referenced_by.is_empty();
    for mut cand in candidates {
        let key = key_of(&cand, ncols)?;
        let lock =
            lock_txn(cx.txn)?.lock_row(&table.rows, &key, mode, WaitPolicy::Block, &def.name)?;
        let old: Row = match lock {
            RowLock::SelfUpdated | RowLock::Skipped => continue,
            RowLock::Locked { current: None, .. } => continue,
            RowLock::Locked {
                current: Some(bytes),
                changed,
            } => {
                if changed {
                    // EvalPlanQual: the newest version, if it still
                    // qualifies with the FROM / USING rows it joined.
                    let mut row = Vec::with_capacity(cand.len());
                    let h = decode_row(&bytes, &types, None, &mut row)?;
                    def.fill_missing(h.columns, &mut row);
                    row.push(Value::Bytea(key.clone()));
                    row.extend(cand.drain(..).skip(ncols + 1));
                    if let Some(p) = &bound.predicate {
                        let keep = eval_all(std::slice::from_ref(p), &row, cx)?;
                        if keep.first() != Some(&Value::Bool(true)) {
                            continue;
                        }
                    }
                    row
                } else {
                    cand
                }
            }
        };
        match &bound.assignments {
            None => {
                let mut txn = lock_txn(cx.txn)?;
                if !txn.delete(&table.rows, &key)? {
                    continue;
                }
                for (ix, tree) in def.indexes.iter().zip(&table.indexes) {
                    let (k, _) = index_entry(ix, &old, &key);
                    txn.delete(tree, &k)?;
                }
                drop(txn);
                count += 1;
                if tracks_fks {
                    pending.deleted(table, &old[..ncols]);
                }
                if let Some(r) = &bound.returning {
                    returned.push(eval_all(&r.exprs, &old, cx)?);
                }
            }
            Some(assign) => {
                let new = conform_row(def, eval_all(assign, &old, cx)?)?;
                bound.checks.check(cx, def, &new)?;
                if !update_row(cx, table, &old, &key, &new)? {
                    continue;
                }
                count += 1;
                if tracks_fks {
                    pending.updated(table, &old[..ncols], &new);
                }
                if let Some(r) = &bound.returning {
                    // The new row where the old one was, FROM rows after.
                    let mut row = new;
                    row.extend(old.into_iter().skip(ncols));
                    returned.push(eval_all(&r.exprs, &row, cx)?);
                }
            }
        }
    }
    pending.run(cx)?;
    let verb = if bound.assignments.is_some() {
        table.counters.updated(count as u64);
        "UPDATE"
    } else {
        table.counters.deleted(count as u64);
        "DELETE"
    };
    Ok(tag_result(
        format!("{verb} {count}"),
        bound.returning.as_ref().map(|r| (r, returned)),
    ))
}

/// Replaces the locked row `old` (stored under `key`) by `new` (conformed
/// and checked), moving it if its key changes and keeping every index in
/// step. False if the row was gone (deleted by this statement).
pub(crate) fn update_row(
    cx: &StmtCx<'_>,
    table: &TableRef,
    old: &[Value],
    key: &[u8],
    new: &[Value],
) -> Result<bool> {
    let def = &table.def;
    let new_key = row_key(def, new).unwrap_or_else(|| key.to_vec());
    let bytes = encode_row(def.schema_version, new);
    let mut txn = lock_txn(cx.txn)?;
    if new_key != key {
        if !txn.delete(&table.rows, key)? {
            return Ok(false);
        }
        if !txn.insert(&table.rows, &new_key, &bytes)? {
            return Err(unique_violation(
                &def.pk_name,
                def,
                def.primary_key.iter().copied(),
                new,
            ));
        }
    } else if !txn.put(&table.rows, key, &bytes, false)? {
        return Ok(false);
    }
    for (ix, tree) in def.indexes.iter().zip(&table.indexes) {
        let (old_k, _) = index_entry(ix, old, key);
        let (new_k, enforcing) = index_entry(ix, new, &new_key);
        if old_k == new_k {
            if new_key != key {
                txn.put(tree, &new_k, &new_key, false)?;
            }
            continue;
        }
        txn.delete(tree, &old_k)?;
        if !txn.insert(tree, &new_k, &new_key)? && enforcing {
            return Err(unique_violation(
                &ix.name,
                def,
                ix.columns.iter().map(|c| c.column),
                new,
            ));
        }
    }
    Ok(true)
}

pub fn truncate(cx: &StmtCx<'_>, t: &ast::Truncate) -> Result<StatementResult> {
    cx.check_writable("TRUNCATE TABLE")?;
    let binder = cx.binder();
    let Some(source) = binder.tables.clone() else {
        return Err(Error::internal("TRUNCATE without a catalog"));
    };
    let mut tables = Vec::new();
    for target in &t.table_names {
        tables.push(source.open_existing(&target.name)?);
    }
    for table in &tables {
        for r in &table.def.referenced_by {
            if !tables
                .iter()
                .any(|t| t.def.schema == r.schema && t.def.name == r.table)
            {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "cannot truncate a table referenced in a foreign key constraint",
                )
                .with_detail(format!(
                    "Table \"{}\" references \"{}\".",
                    r.table, table.def.name
                ))
                .with_hint(format!(
                    "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                    r.table
                )));
            }
        }
    }
    for table in tables {
        let types = table.types();
        let mut txn = lock_txn(cx.txn)?;
        let rows: Vec<_> = txn
            .scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?
            .collect::<std::result::Result<_, _>>()?;
        let mut row = Vec::new();
        for (key, bytes) in rows {
            let h = decode_row(&bytes, &types, None, &mut row)?;
            table.def.fill_missing(h.columns, &mut row);
            txn.delete(&table.rows, &key)?;
            for (ix, tree) in table.def.indexes.iter().zip(&table.indexes) {
                let (k, _) = index_entry(ix, &row, &key);
                txn.delete(tree, &k)?;
            }
        }
        table.counters.truncated();
    }
    Ok(tag_result("TRUNCATE TABLE".to_string(), None))
}

/// Parameter types and result columns of a DML statement, for Describe.
pub fn describe(binder: &mut Binder, stmt: &ast::Statement) -> Result<Vec<Column>> {
    let returning = match stmt {
        ast::Statement::Insert(i) => bind_insert(binder, i)?.returning,
        ast::Statement::Update(u) => bind_update(binder, u)?.returning,
        ast::Statement::Delete(d) => bind_delete(binder, d)?.returning,
        _ => None,
    };
    Ok(returning.map(|r| r.columns).unwrap_or_default())
}

impl BoundModify {
    /// An UPDATE (`assignments`) or DELETE of the rows `plan` finds, for a
    /// foreign key's action: no RETURNING, the table's CHECKs bound.
    pub(crate) fn internal(
        cx: &StmtCx<'_>,
        table: TableRef,
        plan: Plan,
        predicate: Expr,
        assignments: Option<Vec<Expr>>,
    ) -> Result<BoundModify> {
        let checks = if assignments.is_some() {
            BoundChecks::bind(&mut cx.binder(), &table.def)?
        } else {
            BoundChecks::default()
        };
        Ok(BoundModify {
            table,
            checks,
            plan,
            predicate: Some(predicate),
            assignments,
            returning: None,
        })
    }

    /// Whether another execution may run this binding again: it holds no
    /// state of its own (`plan_cache.rs`).
    pub(crate) fn reusable(&self) -> bool {
        use super::plan_cache::plain;
        super::plan_cache::cacheable(&self.plan)
            && self.predicate.as_ref().is_none_or(plain)
            && self.assignments.iter().flatten().all(plain)
            && self.checks.exprs().all(plain)
            && self
                .returning
                .as_ref()
                .is_none_or(|r| r.exprs.iter().all(plain))
    }

    /// The plan that finds the rows to change (for EXPLAIN).
    pub fn plan_of(self) -> Plan {
        self.plan
    }
}
