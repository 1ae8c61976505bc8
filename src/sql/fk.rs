//! FOREIGN KEY constraints: definition at CREATE TABLE, the dependency on
//! DROP TABLE, and enforcement at the end of each writing statement, as
//! PostgreSQL's RI triggers do (AFTER ROW, fired at statement end).
//!
//! ```text
//!  INSERT / UPDATE child row (key columns changed, none NULL)
//!    └▶ end of statement: parent key ─▶ lock_row FOR KEY SHARE on the parent row
//!         gone ─▶ 23503 insert or update on table "c" violates foreign key constraint "c_p_fkey"
//!  DELETE / key-changing UPDATE of a parent row
//!    └▶ end of statement: child rows with the old key (a scan of the child,
//!       narrowed by an index on the key columns when there is one)
//!         NO ACTION / RESTRICT ─▶ 23503 … is still referenced from table "c"
//!         CASCADE  ─▶ DELETE the children / UPDATE them to the new key
//!         SET NULL / SET DEFAULT ─▶ UPDATE the children's key columns
//! ```
//!
//! The end-of-statement step starts a new command (so this statement's own
//! writes are visible, and under READ COMMITTED a fresh snapshot sees rows
//! committed meanwhile). The FOR KEY SHARE lock makes a concurrent DELETE
//! of the parent wait for the child's transaction, and a child insert wait
//! for a parent's uncommitted delete, then fail.
//! Owns: PostgreSQL's FK names (`c_p_fkey`), 42830 / 42804 checks at
//! definition, validation of existing rows (ALTER TABLE ADD FOREIGN KEY;
//! the catalog side is constraints.rs, DROP TABLE's 2BP01 is ddl.rs).
//! Never: writes rows except through `dml::run_modify`.

use std::sync::Arc;

use sqlparser::ast;

use crate::catalog::{FkAction, FkRef, ForeignKeyDef, TableDef};
use crate::error::{Error, Result, SqlState};
use crate::txn::RowLock;
use crate::txn::lock::{RowLockMode, WaitPolicy};
use crate::types::{DataType, Value};

use super::bind::{ident_name, object_name};
use super::cast::cast;
use super::check::{duplicate_constraint, free_constraint_name};
use super::coerce::{Category, base, category, same_base};
use super::dml::{self, format_key};
use super::execute::Row;
use super::expr::{BinOp, Expr};
use super::plan::Plan;
use super::scan::{Access, TableRef, choose_access, encode_column, lock_txn, row_key};
use super::session::StmtCx;

/// A FOREIGN KEY as CREATE TABLE gives it.
pub struct FkSpec {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub ref_table: ast::ObjectName,
    pub ref_columns: Vec<String>,
    pub on_delete: Option<ast::ReferentialAction>,
    pub on_update: Option<ast::ReferentialAction>,
    pub match_full: bool,
}

impl FkSpec {
    pub fn from_ast(
        fk: &ast::ForeignKeyConstraint,
        name: Option<String>,
        columns: Vec<String>,
    ) -> Result<FkSpec> {
        if matches!(
            fk.match_kind,
            Some(ast::ConstraintReferenceMatchKind::Partial)
        ) {
            return Err(Error::unsupported("MATCH PARTIAL"));
        }
        if fk.characteristics.is_some() {
            return Err(Error::unsupported("DEFERRABLE foreign keys"));
        }
        Ok(FkSpec {
            name: name.or_else(|| fk.name.as_ref().map(ident_name)),
            columns,
            ref_table: fk.foreign_table.clone(),
            ref_columns: fk.referred_columns.iter().map(ident_name).collect(),
            on_delete: fk.on_delete,
            on_update: fk.on_update,
            match_full: matches!(fk.match_kind, Some(ast::ConstraintReferenceMatchKind::Full)),
        })
    }
}

fn action(a: Option<ast::ReferentialAction>) -> FkAction {
    match a {
        None | Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
        Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
        Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
        Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
    }
}

fn positions(def: &TableDef, cols: &[String]) -> Result<Vec<usize>> {
    cols.iter()
        .map(|c| {
            def.columns
                .iter()
                .position(|d| d.name == *c)
                .ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{c}\" referenced in foreign key constraint does not exist"
                        ),
                    )
                })
        })
        .collect()
}

fn open_table(cx: &StmtCx<'_>, schema: &str, name: &str) -> Result<Option<TableRef>> {
    let catalog = cx.shared.catalog();
    let def = {
        let mut txn = lock_txn(cx.txn)?;
        catalog.table(&mut txn, schema, name)?
    };
    let Some(def) = def else {
        return Ok(None);
    };
    let rows = catalog.rows(&def)?;
    let indexes = catalog.index_trees(&def)?;
    let counters = cx.shared.counters().get(def.oid);
    Ok(Some(TableRef {
        def: Arc::new(def),
        rows,
        indexes,
        counters,
    }))
}

/// Where a parent key lives: the primary key (`None`) or unique index `i`,
/// with, per key column in that structure's order, the index into the
/// foreign key's column lists.
pub(super) fn parent_key_order(
    parent: &TableDef,
    ref_columns: &[usize],
) -> Option<(Option<usize>, Vec<usize>)> {
    let matches = |cols: &[usize]| -> Option<Vec<usize>> {
        if cols.len() != ref_columns.len() {
            return None;
        }
        cols.iter()
            .map(|c| ref_columns.iter().position(|r| r == c))
            .collect()
    };
    if !parent.primary_key.is_empty()
        && let Some(order) = matches(&parent.primary_key)
    {
        return Some((None, order));
    }
    parent.indexes.iter().enumerate().find_map(|(i, ix)| {
        if !ix.unique {
            return None;
        }
        let cols: Vec<usize> = ix.columns.iter().map(|c| c.column).collect();
        matches(&cols).map(|o| (Some(i), o))
    })
}

/// Validates and names the foreign keys of the new table `def` (already in
/// the catalog, with its primary key and unique indexes); adds them to
/// `def` and returns the referenced tables with `referenced_by` extended
/// (`def` itself is extended in place for a self-reference).
pub fn define(
    cx: &StmtCx<'_>,
    def: &mut TableDef,
    specs: &[FkSpec],
    taken: &mut Vec<String>,
) -> Result<Vec<TableDef>> {
    let mut parents: Vec<TableDef> = Vec::new();
    for s in specs {
        if let Some(n) = &s.name
            && taken.contains(n)
        {
            return Err(duplicate_constraint(n, &def.name));
        }
    }
    for s in specs {
        let (ref_schema, ref_name) = super::ddl::split_name(cx, &s.ref_table)?;
        let self_ref = ref_schema == def.schema && ref_name == def.name;
        let parent: TableDef = if self_ref {
            def.clone()
        } else if let Some(p) = parents
            .iter()
            .find(|p| p.schema == ref_schema && p.name == ref_name)
        {
            p.clone()
        } else {
            let catalog = cx.shared.catalog();
            let mut txn = lock_txn(cx.txn)?;
            catalog
                .table(&mut txn, &ref_schema, &ref_name)?
                .ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_TABLE,
                        format!(
                            "relation \"{}\" does not exist",
                            object_name(&s.ref_table).join(".")
                        ),
                    )
                })?
        };
        let columns = positions(def, &s.columns)?;
        let ref_columns = if s.ref_columns.is_empty() {
            if parent.primary_key.is_empty() {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("there is no primary key for referenced table \"{ref_name}\""),
                ));
            }
            parent.primary_key.clone()
        } else {
            positions(&parent, &s.ref_columns)?
        };
        if columns.len() != ref_columns.len() {
            return Err(Error::new(
                SqlState("42830"),
                "number of referencing and referenced columns for foreign key disagree",
            ));
        }
        if parent_key_order(&parent, &ref_columns).is_none() {
            return Err(Error::new(
                SqlState("42830"),
                format!(
                    "there is no unique constraint matching given keys for referenced table \"{ref_name}\""
                ),
            ));
        }
        let name = match &s.name {
            Some(n) => n.clone(),
            None => {
                let cols: Vec<&str> = columns
                    .iter()
                    .map(|&c| def.columns[c].name.as_str())
                    .collect();
                free_constraint_name(&format!("{}_{}_fkey", def.name, cols.join("_")), taken)
            }
        };
        for (&c, &r) in columns.iter().zip(&ref_columns) {
            let (ct, rt) = (&def.columns[c].data_type, &parent.columns[r].data_type);
            let compatible = same_base(ct, rt)
                || (category(ct) == Category::Numeric && category(rt) == Category::Numeric)
                || (category(ct) == Category::String && category(rt) == Category::String);
            if !compatible {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!("foreign key constraint \"{name}\" cannot be implemented"),
                )
                .with_detail(format!(
                    "Key columns \"{}\" and \"{}\" are of incompatible types: {} and {}.",
                    def.columns[c].name,
                    parent.columns[r].name,
                    ct.name(),
                    rt.name()
                )));
            }
        }
        taken.push(name.clone());
        let on_delete = action(s.on_delete);
        let on_update = action(s.on_update);
        def.foreign_keys.push(ForeignKeyDef {
            name: name.clone(),
            columns,
            ref_schema: ref_schema.clone(),
            ref_table: ref_name.clone(),
            ref_columns,
            on_delete,
            on_update,
            match_full: s.match_full,
        });
        let r = FkRef {
            schema: def.schema.clone(),
            table: def.name.clone(),
            constraint: name,
        };
        if self_ref {
            def.referenced_by.push(r);
        } else if let Some(p) = parents
            .iter_mut()
            .find(|p| p.schema == ref_schema && p.name == ref_name)
        {
            p.referenced_by.push(r);
        } else {
            let mut p = parent;
            p.referenced_by.push(r);
            parents.push(p);
        }
    }
    Ok(parents)
}

/// The foreign-key work one statement queues and runs at its end.
#[derive(Default)]
pub struct Pending {
    /// Child rows to check: table, foreign key index, the row.
    checks: Vec<(TableRef, usize, Row)>,
    /// Parent rows deleted (new `None`) or re-keyed.
    parents: Vec<(TableRef, Row, Option<Row>)>,
}

fn key_changed(cols: &[usize], old: &[Value], new: &[Value]) -> bool {
    cols.iter().any(|&c| old.get(c) != new.get(c))
}

impl Pending {
    /// A new row of `table`.
    pub fn inserted(&mut self, table: &TableRef, row: &[Value]) {
        for i in 0..table.def.foreign_keys.len() {
            self.checks.push((table.clone(), i, row.to_vec()));
        }
    }

    /// A row of `table` changed from `old` to `new`.
    pub fn updated(&mut self, table: &TableRef, old: &[Value], new: &[Value]) {
        for (i, f) in table.def.foreign_keys.iter().enumerate() {
            if key_changed(&f.columns, old, new) {
                self.checks.push((table.clone(), i, new.to_vec()));
            }
        }
        if !table.def.referenced_by.is_empty() {
            self.parents
                .push((table.clone(), old.to_vec(), Some(new.to_vec())));
        }
    }

    /// A row of `table` deleted.
    pub fn deleted(&mut self, table: &TableRef, old: &[Value]) {
        if !table.def.referenced_by.is_empty() {
            self.parents.push((table.clone(), old.to_vec(), None));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.parents.is_empty()
    }

    /// Runs the queued work in a new command: parent actions first (their
    /// cascades queue and run their own), then the child checks.
    pub fn run(self, cx: &StmtCx<'_>) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        lock_txn(cx.txn)?.begin_statement()?;
        for (parent, old, new) in &self.parents {
            for r in &parent.def.referenced_by {
                parent_changed(cx, parent, r, old, new.as_deref())?;
            }
        }
        for (child, i, row) in &self.checks {
            check_child(cx, child, &child.def.foreign_keys[*i], row)?;
        }
        Ok(())
    }
}

/// The parent key of `fk` for `row`'s referencing values, in the parent
/// structure's key order, cast to the parent's column types; `None` if a
/// value is NULL (MATCH SIMPLE: no check). MATCH FULL with some NULLs is
/// 23503.
fn referenced_values(
    child: &TableDef,
    fk: &ForeignKeyDef,
    parent: &TableDef,
    row: &[Value],
) -> Result<Option<Vec<Value>>> {
    let nulls = fk.columns.iter().filter(|&&c| row[c].is_null()).count();
    if nulls > 0 {
        if fk.match_full && nulls < fk.columns.len() {
            return Err(Error::new(
                SqlState::FOREIGN_KEY_VIOLATION,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    child.name, fk.name
                ),
            )
            .with_detail("MATCH FULL does not allow mixing of null and nonnull key values."));
        }
        return Ok(None);
    }
    let mut out = Vec::with_capacity(fk.columns.len());
    for (&c, &r) in fk.columns.iter().zip(&fk.ref_columns) {
        let from = base(&child.columns[c].data_type);
        let to: DataType = base(&parent.columns[r].data_type);
        out.push(if from == to {
            row[c].clone()
        } else {
            cast(row[c].clone(), &from, &to)?
        });
    }
    Ok(Some(out))
}

/// Whether the parent row with key `values` (in `fk.ref_columns` order)
/// exists, locking it FOR KEY SHARE.
fn lock_parent(
    cx: &StmtCx<'_>,
    parent: &TableRef,
    fk: &ForeignKeyDef,
    values: &[Value],
) -> Result<bool> {
    let def = &parent.def;
    let Some((index, order)) = parent_key_order(def, &fk.ref_columns) else {
        return Err(Error::new(
            SqlState("42830"),
            format!(
                "there is no unique constraint matching given keys for referenced table \"{}\"",
                def.name
            ),
        ));
    };
    let mut txn = lock_txn(cx.txn)?;
    let key = match index {
        None => {
            let mut row = vec![Value::Null; def.columns.len()];
            for (j, &r) in fk.ref_columns.iter().enumerate() {
                row[r] = values[j].clone();
            }
            match row_key(def, &row) {
                Some(k) => k,
                None => return Ok(false),
            }
        }
        Some(i) => {
            let ix = &def.indexes[i];
            let mut k = Vec::new();
            for (c, &j) in ix.columns.iter().zip(&order) {
                encode_column(&values[j], c.desc, &mut k);
            }
            match txn.lock_row(
                &parent.indexes[i],
                &k,
                RowLockMode::KeyShare,
                WaitPolicy::Block,
                &def.name,
            )? {
                RowLock::Locked {
                    current: Some(pk), ..
                } => pk,
                RowLock::SelfUpdated => match txn.get(&parent.indexes[i], &k)? {
                    Some(pk) => pk,
                    None => return Ok(false),
                },
                _ => return Ok(false),
            }
        }
    };
    Ok(
        match txn.lock_row(
            &parent.rows,
            &key,
            RowLockMode::KeyShare,
            WaitPolicy::Block,
            &def.name,
        )? {
            RowLock::Locked { current, .. } => current.is_some(),
            RowLock::SelfUpdated => txn.get(&parent.rows, &key)?.is_some(),
            RowLock::Skipped => false,
        },
    )
}

fn open_parent(cx: &StmtCx<'_>, fk: &ForeignKeyDef) -> Result<TableRef> {
    open_table(cx, &fk.ref_schema, &fk.ref_table)?.ok_or_else(|| {
        Error::internal(format!(
            "foreign key \"{}\" references a missing table",
            fk.name
        ))
    })
}

/// ALTER TABLE ADD FOREIGN KEY / VALIDATE CONSTRAINT: every existing row
/// of `child` has its parent (locked FOR KEY SHARE, so it stays until this
/// transaction ends), else 23503 for the first row without one.
pub fn validate_existing(cx: &StmtCx<'_>, child: &TableRef, fk: &ForeignKeyDef) -> Result<()> {
    let parent = open_parent(cx, fk)?;
    for (_, row) in super::alter_columns::all_rows(cx, child)? {
        super::signals::check()?;
        check_child_in(cx, child, &parent, fk, &row)?;
    }
    Ok(())
}

fn check_child(cx: &StmtCx<'_>, child: &TableRef, fk: &ForeignKeyDef, row: &[Value]) -> Result<()> {
    // opened again: a self-reference sees the definition as it is now
    let parent = open_parent(cx, fk)?;
    check_child_in(cx, child, &parent, fk, row)
}

fn check_child_in(
    cx: &StmtCx<'_>,
    child: &TableRef,
    parent: &TableRef,
    fk: &ForeignKeyDef,
    row: &[Value],
) -> Result<()> {
    let Some(values) = referenced_values(&child.def, fk, &parent.def, row)? else {
        return Ok(());
    };
    if lock_parent(cx, parent, fk, &values)? {
        return Ok(());
    }
    let (names, vals) = format_key(&child.def, fk.columns.iter().copied(), row);
    Err(Error::new(
        SqlState::FOREIGN_KEY_VIOLATION,
        format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            child.def.name, fk.name
        ),
    )
    .with_detail(format!(
        "Key ({names})=({vals}) is not present in table \"{}\".",
        parent.def.name
    )))
}

/// The child rows referencing the parent key in `old`: a filtered scan
/// of the child (narrowed by a usable index).
fn children_plan(
    child: &TableRef,
    fk: &ForeignKeyDef,
    parent: &TableDef,
    old: &[Value],
) -> Result<Option<(Plan, Expr)>> {
    let mut pred: Option<Expr> = None;
    for (&c, &r) in fk.columns.iter().zip(&fk.ref_columns) {
        let v = &old[r];
        if v.is_null() {
            return Ok(None);
        }
        let ct = base(&child.def.columns[c].data_type);
        let from = base(&parent.columns[r].data_type);
        let value = if from == ct {
            v.clone()
        } else {
            cast(v.clone(), &from, &ct)?
        };
        let eq = Expr::Binary {
            op: BinOp::Eq,
            left: Box::new(Expr::Column {
                index: c,
                ty: ct.clone(),
            }),
            right: Box::new(Expr::Const { value, ty: ct }),
            ty: DataType::Bool,
        };
        pred = Some(match pred {
            None => eq,
            Some(p) => Expr::And(Box::new(p), Box::new(eq)),
        });
    }
    let Some(pred) = pred else {
        return Ok(None);
    };
    let plan = choose_access(Plan::Filter {
        input: Box::new(Plan::Scan {
            table: child.clone(),
            access: Access::Full,
            with_key: true,
            needed: None,
        }),
        predicate: pred.clone(),
    });
    Ok(Some((plan, pred)))
}

/// Whether a live parent row still has the key of `old` (NO ACTION looks
/// again at statement end: another row may carry the key now).
fn parent_key_still_exists(
    cx: &StmtCx<'_>,
    parent: &TableRef,
    fk: &ForeignKeyDef,
    old: &[Value],
) -> Result<bool> {
    let values: Vec<Value> = fk.ref_columns.iter().map(|&r| old[r].clone()).collect();
    lock_parent(cx, parent, fk, &values)
}

fn parent_changed(
    cx: &StmtCx<'_>,
    parent: &TableRef,
    r: &FkRef,
    old: &[Value],
    new: Option<&[Value]>,
) -> Result<()> {
    let Some(child) = open_table(cx, &r.schema, &r.table)? else {
        return Ok(());
    };
    let Some(fk) = child
        .def
        .foreign_keys
        .iter()
        .find(|f| f.name == r.constraint)
        .cloned()
    else {
        return Ok(());
    };
    if let Some(new) = new
        && !key_changed(&fk.ref_columns, old, new)
    {
        return Ok(());
    }
    let act = if new.is_some() {
        fk.on_update
    } else {
        fk.on_delete
    };
    let Some((plan, pred)) = children_plan(&child, &fk, &parent.def, old)? else {
        return Ok(());
    };
    match act {
        FkAction::NoAction | FkAction::Restrict => {
            if act == FkAction::NoAction && parent_key_still_exists(cx, parent, &fk, old)? {
                return Ok(());
            }
            let found = super::execute::run(&plan, &cx.exec())?;
            if found.is_empty() {
                return Ok(());
            }
            let (names, vals) = format_key(&parent.def, fk.ref_columns.iter().copied(), old);
            Err(Error::new(
                SqlState::FOREIGN_KEY_VIOLATION,
                format!(
                    "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                    parent.def.name, fk.name, child.def.name
                ),
            )
            .with_detail(format!(
                "Key ({names})=({vals}) is still referenced from table \"{}\".",
                child.def.name
            )))
        }
        FkAction::Cascade if new.is_none() => {
            dml::run_modify(
                cx,
                &dml::BoundModify::internal(cx, child, plan, pred, None)?,
            )?;
            Ok(())
        }
        FkAction::Cascade | FkAction::SetNull | FkAction::SetDefault => {
            let mut assignments: Vec<Expr> = child
                .def
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| Expr::Column {
                    index: i,
                    ty: c.data_type.clone(),
                })
                .collect();
            let mut binder = cx.binder();
            for (&c, &p) in fk.columns.iter().zip(&fk.ref_columns) {
                let col = &child.def.columns[c];
                assignments[c] = match (act, new) {
                    (FkAction::Cascade, Some(new)) => {
                        let from = base(&parent.def.columns[p].data_type);
                        let to = base(&col.data_type);
                        let v = if from == to {
                            new[p].clone()
                        } else {
                            cast(new[p].clone(), &from, &to)?
                        };
                        Expr::Const { value: v, ty: to }
                    }
                    (FkAction::SetNull, _) => Expr::Const {
                        value: Value::Null,
                        ty: base(&col.data_type),
                    },
                    _ => dml::default_expr(&mut binder, col)?,
                };
            }
            dml::run_modify(
                cx,
                &dml::BoundModify::internal(cx, child, plan, pred, Some(assignments))?,
            )?;
            Ok(())
        }
    }
}
