//! ALTER TABLE on constraints: ADD FOREIGN KEY / CHECK (validated over the
//! existing rows unless NOT VALID), VALIDATE CONSTRAINT, DROP CONSTRAINT
//! of a primary key, UNIQUE, FOREIGN KEY or CHECK constraint.
//!
//! ```text
//!  ALTER TABLE c ADD FOREIGN KEY (a) REFERENCES p      every row of c: parent locked FOR KEY SHARE
//!    c.foreign_keys += c_a_fkey, p.referenced_by += (c, c_a_fkey)   (one transaction)
//!  ALTER TABLE p DROP CONSTRAINT p_pkey [CASCADE]
//!    foreign keys whose parent key is p_pkey ─▶ 2BP01, or dropped with CASCADE
//!    rows re-keyed by hidden row id (rewrite); key columns stay NOT NULL
//!  ALTER TABLE p DROP CONSTRAINT p_k_key               the index goes (tree freed at commit)
//! ```
//!
//! (ADD PRIMARY KEY lives in alter.rs, ADD UNIQUE in alter_columns.rs.)
//! NOT VALID skips the check of existing rows only: new rows are checked
//! from the start, as in PostgreSQL; VALIDATE CONSTRAINT checks them again
//! (no "not yet validated" mark is stored, so validating a valid constraint
//! simply succeeds).
//!
//! Owns: PostgreSQL's messages for these actions (42704 unknown
//! constraint, 42710 name taken, 42809 VALIDATE of another kind, 2BP01
//! with the dependents in DETAIL, 23514 `is violated by some row`).
//! Never: leaves a foreign key listed on only one side of the reference.

use sqlparser::ast;

use crate::catalog::{CheckDef, TableDef};
use crate::error::{Error, Result, SqlState};

use super::alter_columns::{all_rows, rewrite, write_def};
use super::bind::ident_name;
use super::check::{BoundChecks, CheckSpec, define_checks, duplicate_constraint};
use super::fk::{FkSpec, parent_key_order};
use super::scan::{TableRef, lock_txn};
use super::session::StmtCx;

fn undefined_constraint(name: &str, table: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_OBJECT,
        format!("constraint \"{name}\" of relation \"{table}\" does not exist"),
    )
}

/// Every constraint name of `def` (primary key, UNIQUE, CHECK, FOREIGN KEY).
fn constraint_names(def: &TableDef) -> Vec<String> {
    let mut out = Vec::new();
    if !def.primary_key.is_empty() {
        out.push(def.pk_name.clone());
    }
    out.extend(
        def.indexes
            .iter()
            .filter(|i| i.constraint)
            .map(|i| i.name.clone()),
    );
    out.extend(def.checks.iter().map(|c| c.name.clone()));
    out.extend(def.foreign_keys.iter().map(|f| f.name.clone()));
    out
}

/// `table` with definition `def` (same trees).
fn with_def(table: &TableRef, def: TableDef) -> TableRef {
    TableRef {
        def: std::sync::Arc::new(def),
        rows: table.rows.clone(),
        indexes: table.indexes.clone(),
        counters: table.counters.clone(),
    }
}

/// Starts the next command of the statement, so its catalog writes so far
/// are visible to what follows.
pub(super) fn next_command(cx: &StmtCx<'_>) -> Result<()> {
    lock_txn(cx.txn)?.begin_statement()?;
    Ok(())
}

/// `ADD [CONSTRAINT name] FOREIGN KEY (cols) REFERENCES p [(cols)] …`.
pub fn add_foreign_key(
    cx: &StmtCx<'_>,
    table: &TableRef,
    fk: &ast::ForeignKeyConstraint,
    not_valid: bool,
) -> Result<()> {
    let columns = fk.columns.iter().map(ident_name).collect();
    let spec = FkSpec::from_ast(fk, None, columns)?;
    let mut def = (*table.def).clone();
    let mut taken = constraint_names(&def);
    let parents = super::fk::define(cx, &mut def, std::slice::from_ref(&spec), &mut taken)?;
    let Some(added) = def.foreign_keys.last().cloned() else {
        return Err(Error::internal("foreign key not defined"));
    };
    if !not_valid {
        super::fk::validate_existing(cx, &with_def(table, def.clone()), &added)?;
    }
    next_command(cx)?;
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    catalog.update_table(&mut txn, &def)?;
    for p in &parents {
        catalog.update_table(&mut txn, p)?;
    }
    Ok(())
}

/// 23514 unless `check` holds (or is NULL) for every row of `table`.
fn validate_check(cx: &StmtCx<'_>, table: &TableRef, check: &CheckDef) -> Result<()> {
    let mut only = (*table.def).clone();
    only.checks = vec![check.clone()];
    let mut binder = cx.binder();
    let bound = BoundChecks::bind(&mut binder, &only)?;
    for (_, row) in all_rows(cx, table)? {
        super::signals::check()?;
        if let Err(e) = bound.check(cx, &only, &row) {
            if e.sqlstate == SqlState::CHECK_VIOLATION {
                return Err(Error::new(
                    SqlState::CHECK_VIOLATION,
                    format!(
                        "check constraint \"{}\" of relation \"{}\" is violated by some row",
                        check.name, only.name
                    ),
                ));
            }
            return Err(e);
        }
    }
    Ok(())
}

/// `ADD [CONSTRAINT name] CHECK (expr) [NOT VALID]`.
pub fn add_check(
    cx: &StmtCx<'_>,
    table: &TableRef,
    c: &ast::CheckConstraint,
    not_valid: bool,
) -> Result<()> {
    let mut def = (*table.def).clone();
    let mut taken = constraint_names(&def);
    let name = c.name.as_ref().map(ident_name);
    if let Some(n) = &name
        && taken.contains(n)
    {
        return Err(duplicate_constraint(n, &def.name));
    }
    let mut binder = cx.binder();
    let defined = define_checks(
        &mut binder,
        &def.name,
        &def.columns,
        &[CheckSpec {
            name,
            expr: (*c.expr).clone(),
        }],
        &mut taken,
    )?;
    let [check] = defined.as_slice() else {
        return Err(Error::internal("check constraint not defined"));
    };
    if !not_valid {
        validate_check(cx, table, check)?;
    }
    def.checks.push(check.clone());
    write_def(cx, &def)
}

/// `VALIDATE CONSTRAINT name`: checks the existing rows against a FOREIGN
/// KEY or CHECK constraint (one added NOT VALID).
pub fn validate_constraint(cx: &StmtCx<'_>, table: &TableRef, name: &str) -> Result<()> {
    let def = &table.def;
    if let Some(c) = def.checks.iter().find(|c| c.name == name) {
        return validate_check(cx, table, c);
    }
    if let Some(f) = def.foreign_keys.iter().find(|f| f.name == name) {
        return super::fk::validate_existing(cx, table, f);
    }
    if def.has_constraint(name) {
        return Err(Error::new(
            SqlState("42809"),
            format!(
                "constraint \"{name}\" of relation \"{}\" is not a foreign key or check constraint",
                def.name
            ),
        ));
    }
    Err(undefined_constraint(name, &def.name))
}

/// Which unique structure of `def` backs a parent key: the primary key
/// (`None`) or the index of that name.
fn backing(def: &TableDef, ref_columns: &[usize]) -> Option<Option<String>> {
    parent_key_order(def, ref_columns).map(|(i, _)| i.map(|i| def.indexes[i].name.clone()))
}

/// The foreign keys (referencing table, constraint) whose parent key in
/// `def` is the primary key (`index` `None`) or the named index.
fn dependents(
    cx: &StmtCx<'_>,
    def: &TableDef,
    index: Option<&str>,
) -> Result<Vec<(String, String, String)>> {
    let catalog = cx.shared.catalog();
    let mut out = Vec::new();
    for r in &def.referenced_by {
        let child = if r.schema == def.schema && r.table == def.name {
            Some(def.clone())
        } else {
            let mut txn = lock_txn(cx.txn)?;
            catalog.table(&mut txn, &r.schema, &r.table)?
        };
        let Some(child) = child else { continue };
        let Some(fk) = child.foreign_keys.iter().find(|f| f.name == r.constraint) else {
            continue;
        };
        if backing(def, &fk.ref_columns) == Some(index.map(str::to_string)) {
            out.push((r.schema.clone(), r.table.clone(), r.constraint.clone()));
        }
    }
    Ok(out)
}

/// 2BP01 for dropping constraint `name` of `def` that the foreign keys
/// `deps` need, unless `cascade`: then they are dropped (a NOTICE lists
/// them) from their tables, and from `def` (a self-reference, or its
/// `referenced_by` list).
fn drop_dependents(
    cx: &StmtCx<'_>,
    def: &mut TableDef,
    name: &str,
    deps: &[(String, String, String)],
    cascade: bool,
) -> Result<()> {
    if deps.is_empty() {
        return Ok(());
    }
    if !cascade {
        let lines: Vec<String> = deps
            .iter()
            .map(|(_, t, c)| format!("constraint {c} on table {t} depends on index {name}"))
            .collect();
        return Err(Error::new(
            super::namespace::DEPENDENT_OBJECTS_STILL_EXIST,
            format!(
                "cannot drop constraint {name} on table {} because other objects depend on it",
                def.name
            ),
        )
        .with_detail(lines.join("\n"))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    let lines: Vec<String> = deps
        .iter()
        .map(|(_, t, c)| format!("drop cascades to constraint {c} on table {t}"))
        .collect();
    if let [one] = lines.as_slice() {
        super::signals::notice(super::signals::Notice::new(one.clone()));
    } else {
        let mut n =
            super::signals::Notice::new(format!("drop cascades to {} other objects", lines.len()));
        n.detail = Some(lines.join("\n"));
        super::signals::notice(n);
    }
    let catalog = cx.shared.catalog();
    for (s, t, c) in deps {
        def.referenced_by
            .retain(|r| !(&r.schema == s && &r.table == t && &r.constraint == c));
        if *s == def.schema && *t == def.name {
            def.foreign_keys.retain(|f| &f.name != c);
            continue;
        }
        next_command(cx)?;
        let mut txn = lock_txn(cx.txn)?;
        if let Some(mut child) = catalog.table(&mut txn, s, t)? {
            child.foreign_keys.retain(|f| &f.name != c);
            catalog.update_table(&mut txn, &child)?;
        }
    }
    Ok(())
}

/// `DROP CONSTRAINT [IF EXISTS] name [CASCADE | RESTRICT]`.
pub fn drop_constraint(
    cx: &StmtCx<'_>,
    table: &TableRef,
    name: &str,
    if_exists: bool,
    cascade: bool,
) -> Result<()> {
    let mut def = (*table.def).clone();
    if let Some(pos) = def.checks.iter().position(|c| c.name == name) {
        def.checks.remove(pos);
        return write_def(cx, &def);
    }
    if let Some(pos) = def.foreign_keys.iter().position(|f| f.name == name) {
        let fk = def.foreign_keys.remove(pos);
        let own = (def.schema.clone(), def.name.clone());
        let forget = |d: &mut TableDef| {
            d.referenced_by
                .retain(|r| !(r.schema == own.0 && r.table == own.1 && r.constraint == name));
        };
        if fk.ref_schema == def.schema && fk.ref_table == def.name {
            forget(&mut def);
        } else {
            let catalog = cx.shared.catalog();
            let mut txn = lock_txn(cx.txn)?;
            if let Some(mut parent) = catalog.table(&mut txn, &fk.ref_schema, &fk.ref_table)? {
                forget(&mut parent);
                catalog.update_table(&mut txn, &parent)?;
            }
        }
        next_command(cx)?;
        return write_def(cx, &def);
    }
    if !def.primary_key.is_empty() && def.pk_name == name {
        let deps = dependents(cx, &def, None)?;
        drop_dependents(cx, &mut def, name, &deps, cascade)?;
        // The key columns keep NOT NULL, as in PostgreSQL.
        def.primary_key.clear();
        def.pk_name = String::new();
        next_command(cx)?;
        return rewrite(cx, table, def, Ok);
    }
    if let Some(pos) = def
        .indexes
        .iter()
        .position(|i| i.constraint && i.name == name)
    {
        let deps = dependents(cx, &def, Some(name))?;
        drop_dependents(cx, &mut def, name, &deps, cascade)?;
        let ix = def.indexes.remove(pos);
        next_command(cx)?;
        let catalog = cx.shared.catalog();
        let mut txn = lock_txn(cx.txn)?;
        catalog.forget_index_name(&mut txn, &def.schema, &ix.name)?;
        txn.drop_tree(ix.tree)?;
        catalog.update_table(&mut txn, &def)?;
        return Ok(());
    }
    if if_exists {
        super::signals::notice(super::signals::Notice::new(format!(
            "constraint \"{name}\" of relation \"{}\" does not exist, skipping",
            def.name
        )));
        return Ok(());
    }
    Err(undefined_constraint(name, &def.name))
}
