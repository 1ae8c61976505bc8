//! ALTER TABLE on columns and names: ADD / DROP / RENAME COLUMN, ALTER
//! COLUMN SET / DROP DEFAULT, SET / DROP NOT NULL, TYPE … [USING …],
//! RENAME TO, ADD UNIQUE; the dispatch of every ALTER TABLE action (the
//! constraint actions run in constraints.rs, ADD PRIMARY KEY in alter.rs).
//!
//! ```text
//!  ADD COLUMN c int DEFAULT 7        catalog only: c.missing = 7, schema version + 1
//!    row written before  [k, v]      ──read──▶ [k, v, 7]   (row stores 2 columns)
//!    row written after   [k, v, 3]   ──read──▶ [k, v, 3]
//!  ADD COLUMN r float8 DEFAULT random()     volatile: the table is rewritten
//!  DROP COLUMN, ALTER COLUMN TYPE           rewritten (new row and index trees,
//!                                           old ones dropped at commit)
//! ```
//!
//! Owns: PostgreSQL's messages for these actions (42701, 42703, 23502
//! `contains null values`, 42804 with the USING hint, 42P07), the choice
//! between a catalog-only change and a rewrite.
//! Never: evaluates a volatile default once for all rows.

use std::ops::Bound;

use sqlparser::ast;

use crate::catalog::row::{decode_row, encode_row};
use crate::catalog::{ColumnDef, IndexColumn, TableDef};
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::bind::{Scope, TableSource, ident_name, resolve_type};
use super::cast::apply_typmod;
use super::dml::{assign_coerce, default_expr, format_key};
use super::expr::{EvalContext, Expr};
use super::scan::{TableRef, index_entry, lock_txn, row_key, rowid_key};
use super::session::StmtCx;

fn tag() -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: "ALTER TABLE".into(),
    }
}

fn no_column(c: &str, table: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_COLUMN,
        format!("column \"{c}\" of relation \"{table}\" does not exist"),
    )
}

fn next_command(cx: &StmtCx<'_>) -> Result<()> {
    lock_txn(cx.txn)?.begin_statement()?;
    Ok(())
}

/// Whether this module runs `op`.
fn handles(op: &ast::AlterTableOperation) -> bool {
    use ast::AlterTableOperation as O;
    matches!(
        op,
        O::AddColumn { .. }
            | O::DropColumn { .. }
            | O::RenameColumn { .. }
            | O::RenameTable { .. }
            | O::AlterColumn { .. }
            | O::AddConstraint {
                constraint: ast::TableConstraint::Unique(_)
                    | ast::TableConstraint::PrimaryKey(_)
                    | ast::TableConstraint::ForeignKey(_)
                    | ast::TableConstraint::Check(_),
                ..
            }
            | O::DropConstraint { .. }
            | O::ValidateConstraint { .. }
    )
}

/// Runs the actions of `at` if this module handles all of them (`None`:
/// the caller handles the statement).
pub fn run(cx: &StmtCx<'_>, at: &ast::AlterTable) -> Result<Option<StatementResult>> {
    if at.operations.is_empty() || !at.operations.iter().all(handles) {
        return Ok(None);
    }
    cx.check_writable("ALTER TABLE")?;
    let source = TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    };
    if source.open(&at.name)?.is_none() {
        if at.if_exists {
            let n = super::namespace::split(&at.name)?.1;
            super::signals::notice(super::signals::Notice::new(format!(
                "relation \"{n}\" does not exist, skipping"
            )));
            return Ok(Some(tag()));
        }
        source.open_existing(&at.name)?;
    }
    let mut name = at.name.clone();
    for (i, op) in at.operations.iter().enumerate() {
        if i > 0 {
            next_command(cx)?;
        }
        let table = source.open_existing(&name)?;
        if let Some(renamed) = run_one(cx, &table, op)? {
            name = renamed;
        }
    }
    Ok(Some(tag()))
}

/// One action; `Some(new name)` after RENAME TO.
fn run_one(
    cx: &StmtCx<'_>,
    table: &TableRef,
    op: &ast::AlterTableOperation,
) -> Result<Option<ast::ObjectName>> {
    use ast::AlterTableOperation as O;
    let def = &table.def;
    match op {
        O::AddColumn {
            if_not_exists,
            column_def,
            ..
        } => add_column(cx, table, column_def, *if_not_exists)?,
        O::DropColumn {
            column_names,
            if_exists,
            drop_behavior,
            ..
        } => {
            for c in column_names {
                let c = ident_name(c);
                let Some(pos) = def.columns.iter().position(|d| d.name == c) else {
                    if *if_exists {
                        super::signals::notice(super::signals::Notice::new(format!(
                            "column \"{c}\" of relation \"{}\" does not exist, skipping",
                            def.name
                        )));
                        continue;
                    }
                    return Err(no_column(&c, &def.name));
                };
                let cascade = matches!(drop_behavior, Some(ast::DropBehavior::Cascade));
                super::view::before_drop_column(cx, &def.schema, &def.name, &c, cascade)?;
                drop_column(cx, table, pos, cascade)?;
            }
        }
        O::RenameColumn {
            old_column_name,
            new_column_name,
        } => {
            let (old, new) = (ident_name(old_column_name), ident_name(new_column_name));
            rename_column(cx, def, &old, &new)?;
            super::view::after_rename_column(cx, &def.schema, &def.name, &old, &new)?;
        }
        O::RenameTable { table_name } => {
            let n = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => n,
            };
            let new = super::namespace::split(n)?.1;
            let mut txn = lock_txn(cx.txn)?;
            rename_table(cx, &mut txn, def, &new)?;
            super::view::after_rename_relation(
                cx.shared.catalog(),
                &mut txn,
                &def.schema,
                &def.name,
                &new,
            )?;
            let mut parts = vec![ast::ObjectNamePart::Identifier(ast::Ident::with_quote(
                '"',
                def.schema.clone(),
            ))];
            parts.push(ast::ObjectNamePart::Identifier(ast::Ident::with_quote(
                '"', new,
            )));
            return Ok(Some(ast::ObjectName(parts)));
        }
        O::AlterColumn { column_name, op } => {
            let c = ident_name(column_name);
            let pos = def
                .columns
                .iter()
                .position(|d| d.name == c)
                .ok_or_else(|| no_column(&c, &def.name))?;
            alter_column(cx, table, pos, op)?;
        }
        O::AddConstraint {
            constraint: ast::TableConstraint::Unique(u),
            ..
        } => add_unique(cx, table, u)?,
        O::AddConstraint {
            constraint: ast::TableConstraint::PrimaryKey(pk),
            ..
        } => super::alter::add_primary_key(cx, table, pk)?,
        O::AddConstraint {
            constraint: ast::TableConstraint::ForeignKey(fk),
            not_valid,
        } => super::constraints::add_foreign_key(cx, table, fk, *not_valid)?,
        O::AddConstraint {
            constraint: ast::TableConstraint::Check(c),
            not_valid,
        } => super::constraints::add_check(cx, table, c, *not_valid)?,
        O::DropConstraint {
            if_exists,
            name,
            drop_behavior,
        } => super::constraints::drop_constraint(
            cx,
            table,
            &ident_name(name),
            *if_exists,
            matches!(drop_behavior, Some(ast::DropBehavior::Cascade)),
        )?,
        O::ValidateConstraint { name } => {
            super::constraints::validate_constraint(cx, table, &ident_name(name))?
        }
        other => return Err(Error::unsupported(format!("ALTER TABLE {other}"))),
    }
    Ok(None)
}

pub(super) fn write_def(cx: &StmtCx<'_>, def: &TableDef) -> Result<()> {
    let mut txn = lock_txn(cx.txn)?;
    cx.shared.catalog().update_table(&mut txn, def)?;
    Ok(())
}

/// Reads every row of `table` as its definition sees it (missing values
/// filled in), with its key.
pub(super) fn all_rows(cx: &StmtCx<'_>, table: &TableRef) -> Result<Vec<(Vec<u8>, Vec<Value>)>> {
    let types = table.types();
    let mut txn = lock_txn(cx.txn)?;
    let raw: Vec<_> = txn
        .scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::with_capacity(raw.len());
    for (k, bytes) in raw {
        let mut row = Vec::with_capacity(types.len());
        let h = decode_row(&bytes, &types, None, &mut row)?;
        table.def.fill_missing(h.columns, &mut row);
        out.push((k, row));
    }
    Ok(out)
}

/// Rewrites the table under `new` (its columns, key and indexes) with the
/// rows `map` makes of the old ones: new row and index trees, the old
/// ones dropped when the transaction commits.
pub(super) fn rewrite(
    cx: &StmtCx<'_>,
    table: &TableRef,
    mut new: TableDef,
    mut map: impl FnMut(Vec<Value>) -> Result<Vec<Value>>,
) -> Result<()> {
    let rows = all_rows(cx, table)?;
    for c in &mut new.columns {
        c.missing = None;
    }
    new.schema_version = new.schema_version.saturating_add(1);
    let mut txn = lock_txn(cx.txn)?;
    let rows_tree = txn.create_tree()?;
    let mut index_trees = Vec::with_capacity(new.indexes.len());
    for _ in &new.indexes {
        index_trees.push(txn.create_tree()?);
    }
    drop(txn);
    for (old_key, row) in rows {
        super::signals::check()?;
        let row = map(row)?;
        let row = super::dml::conform_row(&new, row)?;
        let key = match row_key(&new, &row) {
            Some(k) => k,
            None if table.def.primary_key.is_empty() => old_key,
            None => rowid_key(cx.shared.next_rowid(&rows_tree)?),
        };
        let bytes = encode_row(new.schema_version, &row);
        let mut txn = lock_txn(cx.txn)?;
        if !txn.insert(&rows_tree, &key, &bytes)? {
            let (cols, vals) = format_key(&new, new.primary_key.iter().copied(), &row);
            return Err(Error::new(
                SqlState::UNIQUE_VIOLATION,
                format!("could not create unique index \"{}\"", new.pk_name),
            )
            .with_detail(format!("Key ({cols})=({vals}) is duplicated.")));
        }
        for (ix, tree) in new.indexes.iter().zip(&index_trees) {
            let (ik, enforcing) = index_entry(ix, &row, &key);
            if !txn.insert(tree, &ik, &key)? && enforcing {
                let (cols, vals) = format_key(&new, ix.columns.iter().map(|c| c.column), &row);
                return Err(Error::new(
                    SqlState::UNIQUE_VIOLATION,
                    format!("could not create unique index \"{}\"", ix.name),
                )
                .with_detail(format!("Key ({cols})=({vals}) is duplicated.")));
            }
        }
    }
    let mut txn = lock_txn(cx.txn)?;
    txn.drop_tree(table.def.tree)?;
    new.tree = rows_tree.id();
    for ix in &table.def.indexes {
        txn.drop_tree(ix.tree)?;
    }
    for (ix, tree) in new.indexes.iter_mut().zip(&index_trees) {
        ix.tree = tree.id();
    }
    cx.shared.catalog().update_table(&mut txn, &new)?;
    Ok(())
}

/// Functions whose value changes from row to row: a default calling one
/// is evaluated per row (the table is rewritten), as PostgreSQL does.
fn is_volatile(default_sql: &str) -> bool {
    let s = default_sql.to_ascii_lowercase();
    [
        "nextval(",
        "random(",
        "gen_random_uuid(",
        "clock_timestamp(",
        "timeofday(",
        "setval(",
        "setseed(",
    ]
    .iter()
    .any(|f| s.contains(f))
}

fn eval(cx: &StmtCx<'_>, e: &Expr, row: &[Value]) -> Result<Value> {
    e.eval(&EvalContext {
        row,
        params: cx.params,
        outer: &[],
        settings: cx.settings,
        txn: Some(cx.txn),
    })
}

fn contains_nulls(column: &str, table: &str) -> Error {
    Error::new(
        SqlState::NOT_NULL_VIOLATION,
        format!("column \"{column}\" of relation \"{table}\" contains null values"),
    )
}

fn add_column(
    cx: &StmtCx<'_>,
    table: &TableRef,
    c: &ast::ColumnDef,
    if_not_exists: bool,
) -> Result<()> {
    let def = &table.def;
    let name = ident_name(&c.name);
    if def.columns.iter().any(|d| d.name == name) {
        if if_not_exists {
            super::signals::notice(super::signals::Notice::new(format!(
                "column \"{name}\" of relation \"{}\" already exists, skipping",
                def.name
            )));
            return Ok(());
        }
        return Err(Error::new(
            SqlState("42701"),
            format!(
                "column \"{name}\" of relation \"{}\" already exists",
                def.name
            ),
        ));
    }
    let (t, _) = resolve_type(&c.data_type)?;
    let mut col = ColumnDef::new(name.clone(), t);
    for opt in &c.options {
        match &opt.option {
            ast::ColumnOption::Null => {}
            ast::ColumnOption::NotNull => col.not_null = true,
            ast::ColumnOption::Default(e) => col.default = Some(e.to_string()),
            other => {
                return Err(Error::unsupported(format!(
                    "ALTER TABLE ADD COLUMN with {other}"
                )));
            }
        }
    }
    let mut binder = cx.binder();
    let default = default_expr(&mut binder, &col)?;
    let mut new = (**def).clone();
    new.columns.push(col.clone());
    let volatile = col.default.as_deref().is_some_and(is_volatile);
    if volatile {
        return rewrite(cx, table, new, |mut row| {
            row.push(eval(cx, &default, &row)?);
            Ok(row)
        });
    }
    // One value for every existing row: stored as the missing value.
    let v = apply_typmod(eval(cx, &default, &[])?, &col.data_type, false)?;
    if v.is_null() && col.not_null && !all_rows(cx, table)?.is_empty() {
        return Err(contains_nulls(&name, &def.name));
    }
    let last = new.columns.len() - 1;
    new.columns[last].missing = (!v.is_null()).then_some(v);
    new.schema_version = new.schema_version.saturating_add(1);
    write_def(cx, &new)
}

fn drop_column(cx: &StmtCx<'_>, table: &TableRef, pos: usize, cascade: bool) -> Result<()> {
    let def = &table.def;
    let cname = def.columns[pos].name.clone();
    let mut new = (**def).clone();
    drop_column_foreign_keys(cx, def, &mut new, pos, cascade)?;
    new.columns.remove(pos);
    let shift = |p: usize| if p > pos { p - 1 } else { p };
    // Indexes over the column go with it; a key over it stops being one.
    let mut dropped_indexes = Vec::new();
    new.indexes.retain(|ix| {
        let keep = !ix.columns.iter().any(|c| c.column == pos);
        if !keep {
            dropped_indexes.push(ix.name.clone());
        }
        keep
    });
    for ix in &mut new.indexes {
        for c in &mut ix.columns {
            c.column = shift(c.column);
        }
    }
    if new.primary_key.contains(&pos) {
        new.primary_key.clear();
    } else {
        new.primary_key = new.primary_key.iter().map(|&p| shift(p)).collect();
    }
    // CHECKs naming the column go with it, as in PostgreSQL.
    new.checks.retain(|c| !mentions_identifier(&c.expr, &cname));
    {
        let mut txn = lock_txn(cx.txn)?;
        let catalog = cx.shared.catalog();
        for i in &dropped_indexes {
            catalog.forget_index_name(&mut txn, &def.schema, i)?;
        }
        for q in catalog.sequences_owned_by(&mut txn, &def.schema, def.oid)? {
            match q.owned_by {
                Some((_, c)) if usize::from(c) == pos => {
                    super::sequence::drop_stored(cx.shared, &mut txn, &def.schema, &q.name)?;
                }
                Some((t, c)) if usize::from(c) > pos => {
                    let mut q = q.clone();
                    q.owned_by = Some((t, c - 1));
                    catalog.update_sequence(&mut txn, &q)?;
                }
                _ => {}
            }
        }
    }
    // rewrite() drops every old index tree, those of the dropped indexes too.
    rewrite(cx, table, new, |mut row| {
        row.remove(pos);
        Ok(row)
    })
}

/// The foreign keys of DROP COLUMN (`new` is `def` being changed; column
/// `pos` not yet removed), as PostgreSQL's dependencies have them:
/// - a foreign key of this table over the column goes with it;
/// - one of another table (or this one) referencing the column needs
///   CASCADE (2BP01 otherwise, naming it) and is then dropped from its
///   table, with a NOTICE;
/// - every other one has its column positions in this table shifted.
fn drop_column_foreign_keys(
    cx: &StmtCx<'_>,
    def: &TableDef,
    new: &mut TableDef,
    pos: usize,
    cascade: bool,
) -> Result<()> {
    if def.foreign_keys.is_empty() && def.referenced_by.is_empty() {
        return Ok(());
    }
    let shift = |p: usize| if p > pos { p - 1 } else { p };
    let is_self = |schema: &str, table: &str| schema == def.schema && table == def.name;
    let catalog = cx.shared.catalog();
    // Referencing foreign keys (of other tables, and this table's own
    // that reference the column without being over it).
    let mut dependent = Vec::new();
    // Tables whose foreign keys reference this one (other than `def`).
    let mut tables: Vec<(String, String)> = Vec::new();
    for r in &def.referenced_by {
        if is_self(&r.schema, &r.table) {
            if let Some(fk) = def.foreign_keys.iter().find(|f| f.name == r.constraint)
                && fk.ref_columns.contains(&pos)
                && !fk.columns.contains(&pos)
            {
                dependent.push((r.schema.clone(), r.table.clone(), r.constraint.clone()));
            }
            continue;
        }
        let child = {
            let mut txn = lock_txn(cx.txn)?;
            catalog.table(&mut txn, &r.schema, &r.table)?
        };
        let Some(child) = child else { continue };
        let Some(fk) = child.foreign_keys.iter().find(|f| f.name == r.constraint) else {
            continue;
        };
        if fk.ref_columns.contains(&pos) {
            dependent.push((r.schema.clone(), r.table.clone(), r.constraint.clone()));
        } else {
            tables.push((child.schema.clone(), child.name.clone()));
        }
    }
    if !dependent.is_empty() {
        let column = &def.columns[pos].name;
        let lines: Vec<String> = dependent
            .iter()
            .map(|(_, t, c)| {
                format!(
                    "constraint {c} on table {t} depends on column {column} of table {}",
                    def.name
                )
            })
            .collect();
        if !cascade {
            return Err(Error::new(
                super::namespace::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop column {column} of table {} because other objects depend on it",
                    def.name
                ),
            )
            .with_detail(lines.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        let notices: Vec<String> = dependent
            .iter()
            .map(|(_, t, c)| format!("drop cascades to constraint {c} on table {t}"))
            .collect();
        if let [one] = notices.as_slice() {
            super::signals::notice(super::signals::Notice::new(one.clone()));
        } else {
            let mut n = super::signals::Notice::new(format!(
                "drop cascades to {} other objects",
                notices.len()
            ));
            n.detail = Some(notices.join("\n"));
            super::signals::notice(n);
        }
    }
    // This table's own foreign keys over the column go with it; their
    // parents forget them.
    let gone: Vec<_> = new
        .foreign_keys
        .iter()
        .filter(|f| {
            f.columns.contains(&pos)
                || dependent
                    .iter()
                    .any(|(s, t, c)| is_self(s, t) && *c == f.name)
        })
        .cloned()
        .collect();
    for fk in &gone {
        if is_self(&fk.ref_schema, &fk.ref_table) {
            new.referenced_by
                .retain(|r| !(is_self(&r.schema, &r.table) && r.constraint == fk.name));
            continue;
        }
        super::constraints::next_command(cx)?;
        let mut txn = lock_txn(cx.txn)?;
        if let Some(mut parent) = catalog.table(&mut txn, &fk.ref_schema, &fk.ref_table)? {
            parent
                .referenced_by
                .retain(|r| !(is_self(&r.schema, &r.table) && r.constraint == fk.name));
            catalog.update_table(&mut txn, &parent)?;
        }
    }
    new.foreign_keys
        .retain(|f| !gone.iter().any(|g| g.name == f.name));
    for fk in &mut new.foreign_keys {
        for c in &mut fk.columns {
            *c = shift(*c);
        }
        if is_self(&fk.ref_schema, &fk.ref_table) {
            for c in &mut fk.ref_columns {
                *c = shift(*c);
            }
        }
    }
    // Other tables' foreign keys: dropped (CASCADE) or re-pointed, one
    // write per table with every change to it.
    for (s, t, c) in &dependent {
        new.referenced_by
            .retain(|r| !(&r.schema == s && &r.table == t && &r.constraint == c));
    }
    for (s, t, _) in &dependent {
        tables.push((s.clone(), t.clone()));
    }
    tables.sort();
    tables.dedup();
    for (s, t) in tables.iter().filter(|(s, t)| !is_self(s, t)) {
        super::constraints::next_command(cx)?;
        let mut txn = lock_txn(cx.txn)?;
        let Some(mut child) = catalog.table(&mut txn, s, t)? else {
            continue;
        };
        child.foreign_keys.retain(|f| {
            !dependent
                .iter()
                .any(|(ds, dt, dc)| ds == s && dt == t && *dc == f.name)
        });
        for fk in &mut child.foreign_keys {
            if is_self(&fk.ref_schema, &fk.ref_table) {
                for c in &mut fk.ref_columns {
                    *c = shift(*c);
                }
            }
        }
        catalog.update_table(&mut txn, &child)?;
    }
    Ok(())
}

/// Whether SQL text `sql` names identifier `name` (a word token).
pub(super) fn mentions_identifier(sql: &str, name: &str) -> bool {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::tokenizer::Tokenizer::new(&dialect, sql)
        .tokenize()
        .map(|tokens| {
            tokens.iter().any(|t| {
                matches!(t, sqlparser::tokenizer::Token::Word(w) if ident_name(&ast::Ident {
                    value: w.value.clone(),
                    quote_style: w.quote_style,
                    span: sqlparser::tokenizer::Span::empty(),
                }) == name)
            })
        })
        .unwrap_or(true)
}

/// `sql` with identifier `old` renamed to `new` (quoted when it must be).
pub(super) fn rename_identifier(sql: &str, old: &str, new: &str) -> String {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(tokens) = sqlparser::tokenizer::Tokenizer::new(&dialect, sql).tokenize() else {
        return sql.to_string();
    };
    let plain = new
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && new
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    let shown = if plain {
        new.to_string()
    } else {
        format!("\"{}\"", new.replace('"', "\"\""))
    };
    tokens
        .iter()
        .map(|t| match t {
            sqlparser::tokenizer::Token::Word(w)
                if ident_name(&ast::Ident {
                    value: w.value.clone(),
                    quote_style: w.quote_style,
                    span: sqlparser::tokenizer::Span::empty(),
                }) == old =>
            {
                shown.clone()
            }
            other => other.to_string(),
        })
        .collect()
}

fn rename_column(cx: &StmtCx<'_>, def: &TableDef, old: &str, new_name: &str) -> Result<()> {
    let Some(pos) = def.columns.iter().position(|d| d.name == old) else {
        return Err(Error::new(
            SqlState::UNDEFINED_COLUMN,
            format!("column \"{old}\" does not exist"),
        ));
    };
    if def.columns.iter().any(|d| d.name == new_name) {
        return Err(Error::new(
            SqlState("42701"),
            format!(
                "column \"{new_name}\" of relation \"{}\" already exists",
                def.name
            ),
        ));
    }
    let mut new = def.clone();
    new.columns[pos].name = new_name.to_string();
    for c in &mut new.checks {
        c.expr = rename_identifier(&c.expr, old, new_name);
    }
    write_def(cx, &new)
}

fn rename_table(
    cx: &StmtCx<'_>,
    txn: &mut crate::txn::Transaction,
    def: &TableDef,
    new_name: &str,
) -> Result<()> {
    let catalog = cx.shared.catalog();
    if catalog.relation_exists(txn, &def.schema, new_name)? {
        return Err(Error::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{new_name}\" already exists"),
        ));
    }
    let old = def.name.clone();
    let mut new = def.clone();
    new.name = new_name.to_string();
    // Foreign keys name their tables: follow the rename on both sides.
    for fk in &mut new.foreign_keys {
        if fk.ref_schema == def.schema && fk.ref_table == old {
            fk.ref_table = new_name.to_string();
        }
    }
    for r in &mut new.referenced_by {
        if r.schema == def.schema && r.table == old {
            r.table = new_name.to_string();
        }
    }
    catalog.rename_table(txn, def, &new)?;
    let others: Vec<(String, String)> = def
        .foreign_keys
        .iter()
        .map(|f| (f.ref_schema.clone(), f.ref_table.clone()))
        .chain(
            def.referenced_by
                .iter()
                .map(|r| (r.schema.clone(), r.table.clone())),
        )
        .filter(|(s, t)| !(s == &def.schema && t == &old))
        .collect();
    for (s, t) in others {
        txn.begin_statement()?;
        let Some(mut o) = catalog.table(txn, &s, &t)? else {
            continue;
        };
        for fk in &mut o.foreign_keys {
            if fk.ref_schema == def.schema && fk.ref_table == old {
                fk.ref_table = new_name.to_string();
            }
        }
        for r in &mut o.referenced_by {
            if r.schema == def.schema && r.table == old {
                r.table = new_name.to_string();
            }
        }
        catalog.update_table(txn, &o)?;
    }
    Ok(())
}

fn alter_column(
    cx: &StmtCx<'_>,
    table: &TableRef,
    pos: usize,
    op: &ast::AlterColumnOperation,
) -> Result<()> {
    use ast::AlterColumnOperation as A;
    let def = &table.def;
    let mut new = (**def).clone();
    let cname = def.columns[pos].name.clone();
    match op {
        A::SetDefault { value } => {
            new.columns[pos].default = Some(value.to_string());
            let mut binder = cx.binder();
            default_expr(&mut binder, &new.columns[pos])?;
            write_def(cx, &new)
        }
        A::DropDefault => {
            new.columns[pos].default = None;
            write_def(cx, &new)
        }
        A::SetNotNull => {
            if !def.columns[pos].not_null {
                for (_, row) in all_rows(cx, table)? {
                    if row.get(pos).is_none_or(Value::is_null) {
                        return Err(contains_nulls(&cname, &def.name));
                    }
                }
            }
            new.columns[pos].not_null = true;
            write_def(cx, &new)
        }
        A::DropNotNull => {
            if def.primary_key.contains(&pos) {
                return Err(Error::new(
                    SqlState("42P16"),
                    format!("column \"{cname}\" is in a primary key"),
                ));
            }
            new.columns[pos].not_null = false;
            write_def(cx, &new)
        }
        A::SetDataType {
            data_type, using, ..
        } => {
            let (to, _) = resolve_type(data_type)?;
            super::view::before_alter_column_type(cx, &def.schema, &def.name, &cname)?;
            new.columns[pos].data_type = to.clone();
            let mut binder = cx.binder();
            let scope = Scope::of(
                Some(def.name.clone()),
                def.columns
                    .iter()
                    .map(|c| (c.name.clone(), c.data_type.clone())),
            );
            let conv = match using {
                Some(e) => {
                    let b = binder.bind_expr(e, &scope)?;
                    assign_coerce(&mut binder, b, &new.columns[pos])?
                }
                None => {
                    let col = Expr::Column {
                        index: pos,
                        ty: def.columns[pos].data_type.clone(),
                    };
                    assign_coerce(&mut binder, col, &new.columns[pos]).map_err(|_| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "column \"{cname}\" cannot be cast automatically to type {}",
                                to.name()
                            ),
                        )
                        .with_hint(format!(
                            "You might need to specify \"USING {cname}::{}\".",
                            to.name()
                        ))
                    })?
                }
            };
            if new.columns[pos].default.is_some() {
                default_expr(&mut binder, &new.columns[pos])?;
            }
            rewrite(cx, table, new, |mut row| {
                let v = eval(cx, &conv, &row)?;
                row[pos] = v;
                Ok(row)
            })
        }
        other => Err(Error::unsupported(format!("ALTER COLUMN {other}"))),
    }
}

/// `ADD [CONSTRAINT name] UNIQUE (cols)`: a unique index marked as the
/// constraint's, built over the existing rows.
fn add_unique(cx: &StmtCx<'_>, table: &TableRef, u: &ast::UniqueConstraint) -> Result<()> {
    let def = &table.def;
    let mut cols = Vec::with_capacity(u.columns.len());
    let mut names = Vec::new();
    for c in &u.columns {
        let ast::Expr::Identifier(id) = &c.column.expr else {
            return Err(Error::unsupported("UNIQUE over expressions"));
        };
        let n = ident_name(id);
        let column = def
            .columns
            .iter()
            .position(|d| d.name == n)
            .ok_or_else(|| no_column(&n, &def.name))?;
        names.push(n);
        cols.push(IndexColumn {
            column,
            desc: false,
        });
    }
    let catalog = cx.shared.catalog();
    let iname = match &u.name {
        Some(n) => ident_name(n),
        None => {
            let base = format!("{}_{}_key", def.name, names.join("_"));
            let mut txn = lock_txn(cx.txn)?;
            let mut n = 0;
            loop {
                let cand = if n == 0 {
                    base.clone()
                } else {
                    format!("{base}{n}")
                };
                if !catalog.relation_exists(&mut txn, &def.schema, &cand)? {
                    break cand;
                }
                n += 1;
            }
        }
    };
    let mut new = (**def).clone();
    let index = {
        let mut txn = lock_txn(cx.txn)?;
        catalog.create_index(&mut txn, &mut new, &iname, cols, true)?
    };
    if let Some(ix) = new.indexes.iter_mut().find(|i| i.name == iname) {
        ix.constraint = true;
    }
    next_command(cx)?;
    write_def(cx, &new)?;
    let tree = cx.shared.stack().engine.tree(index.tree)?;
    let rows = all_rows(cx, table)?;
    let total = rows.len();
    let mut txn = lock_txn(cx.txn)?;
    for (n, (key, row)) in rows.into_iter().enumerate() {
        if n > 0 && n % 100_000 == 0 {
            tracing::info!(index = %iname, rows = n, of = total, "building index");
        }
        let (k, enforcing) = index_entry(&index, &row, &key);
        if !txn.insert(&tree, &k, &key)? && enforcing {
            let (c, v) = format_key(&new, index.columns.iter().map(|c| c.column), &row);
            return Err(Error::new(
                SqlState::UNIQUE_VIOLATION,
                format!("could not create unique index \"{iname}\""),
            )
            .with_detail(format!("Key ({c})=({v}) is duplicated.")));
        }
    }
    Ok(())
}
