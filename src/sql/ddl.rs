//! Data definition: CREATE TABLE, CREATE INDEX, DROP TABLE / INDEX.
//!
//! ```text
//!  CREATE TABLE t (a int PRIMARY KEY, b text UNIQUE, c int DEFAULT 1 NOT NULL)
//!    catalog 'T'(public, t)   columns, defaults as SQL text, pk [a] "t_pkey"
//!    catalog 'I'(public, t_b_key) -> t        index t_b_key (unique) on (b)
//! ```
//!
//! Every change goes through the statement's transaction, so DDL commits
//! and rolls back with it (a rolled-back CREATE TABLE leaves no entry).
//! Owns: PostgreSQL's names for constraints and indexes (`t_pkey`,
//! `t_b_key`, `t_b_idx`, with a number appended on a clash), validation of
//! defaults at CREATE time, building an index over existing rows.
//! Never: touches row trees except to fill a new index.

use std::ops::Bound;

use sqlparser::ast;

use crate::catalog::row::decode_row;
use crate::catalog::table::Identity;
use crate::catalog::{ColumnDef, IndexColumn, TableDef};
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

use super::bind::{Binder, TableSource, ident_name, resolve_type};
use super::check::{CheckSpec, define_checks};
use super::dml::{assign_coerce, format_key};
use super::fk::{FkSpec, define as define_foreign_keys};
use super::scan::{index_entry, lock_txn};
use super::session::StmtCx;

/// PostgreSQL's CommandCounterIncrement: later steps of one DDL statement
/// see (and may change again) the catalog rows its earlier steps wrote.
fn next_command(cx: &StmtCx<'_>) -> Result<()> {
    lock_txn(cx.txn)?.begin_statement()?;
    Ok(())
}

fn tag(t: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: t.to_string(),
    }
}

/// `(schema, name)` a CREATE of relation `name` makes (the written
/// schema, else the first schema of `search_path`).
pub fn split_name(cx: &StmtCx<'_>, name: &ast::ObjectName) -> Result<(String, String)> {
    let mut txn = lock_txn(cx.txn)?;
    super::namespace::creation_target(cx.shared.catalog(), &mut txn, name)
}

/// `serial`, `bigserial`, `smallserial` (and `serial4`, …): the integer
/// type behind them.
fn serial_type(dt: &ast::DataType) -> Option<DataType> {
    match dt.to_string().to_ascii_lowercase().as_str() {
        "serial" | "serial4" => Some(DataType::Int4),
        "bigserial" | "serial8" => Some(DataType::Int8),
        "smallserial" | "serial2" => Some(DataType::Int2),
        _ => None,
    }
}

fn both_default_and_identity(column: &str, table: &str) -> Error {
    Error::new(
        SqlState::SYNTAX_ERROR,
        format!("both default and identity specified for column \"{column}\" of table \"{table}\""),
    )
}

/// CREATE INDEX logs a progress line every this many rows of the table.
const INDEX_PROGRESS_ROWS: usize = 100_000;

/// The types rows can store today (one-dimensional arrays of the others
/// too).
fn storable(t: &DataType) -> bool {
    if let DataType::Array(elem) = t {
        return !matches!(elem.as_ref(), DataType::Array(_)) && storable(elem);
    }
    matches!(
        t,
        DataType::Bool
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Float4
            | DataType::Float8
            | DataType::Numeric(_)
            | DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Bytea
            | DataType::Date
            | DataType::Time
            | DataType::Timestamp
            | DataType::Timestamptz
            | DataType::Interval
            | DataType::Uuid
            | DataType::Json
            | DataType::Jsonb
    )
}

fn column_type(dt: &ast::DataType) -> Result<DataType> {
    let (t, _) = resolve_type(dt)?;
    if !storable(&t) {
        return Err(Error::unsupported(format!("columns of type {}", t.name())));
    }
    Ok(t)
}

fn column_names(cols: &[ast::IndexColumn]) -> Result<Vec<String>> {
    cols.iter()
        .map(|c| match &c.column.expr {
            ast::Expr::Identifier(id) => Ok(ident_name(id)),
            other => Err(Error::unsupported(format!("index expression {other}"))),
        })
        .collect()
}

/// A name not yet taken by a relation: `base`, else `base1`, `base2`, …
fn free_name(cx: &StmtCx<'_>, schema: &str, base: &str, taken: &[String]) -> Result<String> {
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    for n in 0.. {
        let candidate = if n == 0 {
            base.to_string()
        } else {
            format!("{base}{n}")
        };
        if !taken.contains(&candidate) && !catalog.relation_exists(&mut txn, schema, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(Error::internal("no free name"))
}

/// Binds a DEFAULT expression for `col` (as INSERT will) to check it.
fn check_default(binder: &mut Binder, col: &ColumnDef, e: &ast::Expr) -> Result<()> {
    let bound = binder.bind_expr(e, &Default::default())?;
    assign_coerce(binder, bound, col)?;
    Ok(())
}

pub fn create_table(cx: &StmtCx<'_>, ct: &ast::CreateTable) -> Result<StatementResult> {
    cx.check_writable("CREATE TABLE")?;
    if ct.query.is_some() || ct.like.is_some() || ct.clone.is_some() {
        return Err(Error::unsupported("CREATE TABLE AS / LIKE"));
    }
    if ct.or_replace || ct.external {
        return Err(Error::unsupported("this form of CREATE TABLE"));
    }
    let (schema, name) = split_name(cx, &ct.name)?;
    let catalog = cx.shared.catalog();
    {
        let mut txn = lock_txn(cx.txn)?;
        if ct.if_not_exists && catalog.relation_exists(&mut txn, &schema, &name)? {
            // PostgreSQL: NOTICE relation "t" already exists, skipping
            return Ok(tag("CREATE TABLE"));
        }
    }
    let mut binder = cx.binder();
    let mut columns = Vec::with_capacity(ct.columns.len());
    let mut pk: Option<(Vec<String>, Option<String>)> = None;
    // (constraint name, columns)
    let mut uniques: Vec<(Option<String>, Vec<String>)> = Vec::new();
    let mut checks: Vec<CheckSpec> = Vec::new();
    let mut fks: Vec<FkSpec> = Vec::new();
    let multiple_pk = |name: &str| {
        Error::new(
            SqlState("42P16"),
            format!("multiple primary keys for table \"{name}\" are not allowed"),
        )
    };
    // Columns backed by a sequence: (position, options, identity kind).
    let mut generated: Vec<(usize, super::sequence::Options)> = Vec::new();
    for c in &ct.columns {
        let serial = serial_type(&c.data_type);
        let col_type = match &serial {
            Some(t) => t.clone(),
            None => column_type(&c.data_type)?,
        };
        let mut col = ColumnDef::new(ident_name(&c.name), col_type);
        if let Some(t) = serial {
            col.not_null = true;
            generated.push((
                columns.len(),
                super::sequence::Options {
                    data_type: Some(t),
                    ..Default::default()
                },
            ));
        }
        let mut default_ast = None;
        for opt in &c.options {
            let cname = opt.name.as_ref().map(ident_name);
            match &opt.option {
                ast::ColumnOption::Null => {}
                ast::ColumnOption::NotNull => col.not_null = true,
                ast::ColumnOption::Default(e) => {
                    if col.identity.is_some() {
                        return Err(both_default_and_identity(&col.name, &name));
                    }
                    col.default = Some(e.to_string());
                    default_ast = Some(e.clone());
                }
                ast::ColumnOption::Generated {
                    generated_as,
                    sequence_options,
                    generation_expr: None,
                    ..
                } => {
                    col.identity = Some(match generated_as {
                        ast::GeneratedAs::Always => Identity::Always,
                        ast::GeneratedAs::ByDefault => Identity::ByDefault,
                        ast::GeneratedAs::ExpStored => {
                            return Err(Error::unsupported("generated columns"));
                        }
                    });
                    if col.default.is_some() || generated.iter().any(|g| g.0 == columns.len()) {
                        return Err(both_default_and_identity(&col.name, &name));
                    }
                    if !matches!(
                        col.data_type,
                        DataType::Int2 | DataType::Int4 | DataType::Int8
                    ) {
                        return Err(Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            "identity column type must be smallint, integer, or bigint",
                        ));
                    }
                    col.not_null = true;
                    let mut o = super::sequence::options_from(
                        sequence_options.as_deref().unwrap_or(&[]),
                        None,
                    )?;
                    o.data_type = Some(col.data_type.clone());
                    generated.push((columns.len(), o));
                }
                ast::ColumnOption::PrimaryKey(_) => {
                    if pk.is_some() {
                        return Err(multiple_pk(&name));
                    }
                    pk = Some((vec![col.name.clone()], cname));
                }
                ast::ColumnOption::Unique(_) => uniques.push((cname, vec![col.name.clone()])),
                ast::ColumnOption::ForeignKey(fk) => {
                    fks.push(FkSpec::from_ast(fk, cname, vec![col.name.clone()])?);
                }
                ast::ColumnOption::Check(c) => checks.push(CheckSpec {
                    name: cname.or_else(|| c.name.as_ref().map(ident_name)),
                    expr: (*c.expr).clone(),
                }),
                other => {
                    return Err(Error::unsupported(format!("column option {other}")));
                }
            }
        }
        if let Some(e) = &default_ast {
            check_default(&mut binder, &col, e)?;
        }
        columns.push(col);
    }
    for tc in &ct.constraints {
        match tc {
            ast::TableConstraint::PrimaryKey(p) => {
                if pk.is_some() {
                    return Err(multiple_pk(&name));
                }
                pk = Some((column_names(&p.columns)?, p.name.as_ref().map(ident_name)));
            }
            ast::TableConstraint::Unique(u) => {
                uniques.push((u.name.as_ref().map(ident_name), column_names(&u.columns)?));
            }
            ast::TableConstraint::ForeignKey(fk) => {
                let cols = fk.columns.iter().map(ident_name).collect();
                fks.push(FkSpec::from_ast(fk, None, cols)?);
            }
            ast::TableConstraint::Check(c) => checks.push(CheckSpec {
                name: c.name.as_ref().map(ident_name),
                expr: (*c.expr).clone(),
            }),
            other => return Err(Error::unsupported(format!("table constraint {other}"))),
        }
    }
    for (cols, what) in pk
        .iter()
        .map(|(c, _)| (c, "primary key"))
        .chain(uniques.iter().map(|(_, c)| (c, "unique")))
    {
        for c in cols {
            if !columns.iter().any(|d| d.name == *c) {
                let _ = what;
                return Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{c}\" named in key does not exist"),
                ));
            }
        }
    }
    let pk_cols: Vec<&str> = pk
        .as_ref()
        .map(|(c, _)| c.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut taken = Vec::new();
    let pk_name = match &pk {
        Some((_, Some(n))) => Some(n.clone()),
        Some((_, None)) => Some(free_name(cx, &schema, &format!("{name}_pkey"), &taken)?),
        None => None,
    };
    if let Some(n) = &pk_name {
        taken.push(n.clone());
    }
    let mut unique_names = Vec::new();
    for (cname, cols) in &uniques {
        let n = match cname {
            Some(n) => n.clone(),
            None => free_name(
                cx,
                &schema,
                &format!("{name}_{}_key", cols.join("_")),
                &taken,
            )?,
        };
        taken.push(n.clone());
        unique_names.push(n);
    }
    // serial / identity: the sequences' names, and the defaults using them.
    let mut sequences = Vec::with_capacity(generated.len());
    for (pos, opts) in generated {
        let col = &mut columns[pos];
        let seq = free_name(cx, &schema, &format!("{name}_{}_seq", col.name), &taken)?;
        taken.push(seq.clone());
        col.default = Some(format!(
            "nextval({})",
            super::sequence::regclass_literal(&schema, &seq)
        ));
        sequences.push((pos, seq, opts));
    }
    let mut constraint_names = taken.clone();
    let check_defs = define_checks(&mut binder, &name, &columns, &checks, &mut constraint_names)?;
    let mut def = {
        let mut txn = lock_txn(cx.txn)?;
        catalog.create_table_named(
            &mut txn,
            &schema,
            &name,
            columns,
            &pk_cols,
            pk_name.as_deref(),
        )?
    };
    for (pos, seq, opts) in sequences {
        let mut q = super::sequence::new_def(&schema, &seq);
        super::sequence::apply_options(&mut q, &opts, true)?;
        q.owned_by = Some((def.oid, pos as u16));
        next_command(cx)?;
        super::sequence::create_stored(cx, q)?;
    }
    for ((_, cols), iname) in uniques.iter().zip(unique_names) {
        // A UNIQUE constraint equal to the primary key adds no index.
        let positions = positions(&def, cols)?;
        if positions == def.primary_key {
            continue;
        }
        let icols = positions
            .into_iter()
            .map(|column| IndexColumn {
                column,
                desc: false,
            })
            .collect();
        next_command(cx)?;
        let mut txn = lock_txn(cx.txn)?;
        catalog.create_index(&mut txn, &mut def, &iname, icols, true)?;
        // The index implements a UNIQUE constraint (pg_constraint lists
        // it; DROP CONSTRAINT, not DROP INDEX, removes it).
        if let Some(ix) = def.indexes.iter_mut().find(|i| i.name == iname) {
            ix.constraint = true;
            std::mem::drop(txn);
            next_command(cx)?;
            let mut txn = lock_txn(cx.txn)?;
            catalog.update_table(&mut txn, &def)?;
        }
    }
    if !check_defs.is_empty() || !fks.is_empty() {
        def.checks = check_defs;
        next_command(cx)?;
        let parents = define_foreign_keys(cx, &mut def, &fks, &mut constraint_names)?;
        let mut txn = lock_txn(cx.txn)?;
        catalog.update_table(&mut txn, &def)?;
        for p in &parents {
            catalog.update_table(&mut txn, p)?;
        }
    }
    Ok(tag("CREATE TABLE"))
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
                        format!("column \"{c}\" does not exist"),
                    )
                })
        })
        .collect()
}

pub fn create_index(cx: &StmtCx<'_>, ci: &ast::CreateIndex) -> Result<StatementResult> {
    cx.check_writable("CREATE INDEX")?;
    if ci.predicate.is_some() {
        return Err(Error::unsupported("partial indexes"));
    }
    if !ci.include.is_empty() {
        return Err(Error::unsupported("INCLUDE"));
    }
    if let Some(u) = &ci.using
        && !u.to_string().eq_ignore_ascii_case("btree")
    {
        return Err(Error::unsupported(format!("index method {u}")));
    }
    let source = TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    };
    let table = source.open_existing(&ci.table_name)?;
    let mut def = (*table.def).clone();
    let mut icols = Vec::with_capacity(ci.columns.len());
    let mut names = Vec::with_capacity(ci.columns.len());
    for c in &ci.columns {
        let ast::Expr::Identifier(id) = &c.column.expr else {
            return Err(Error::unsupported("index expressions"));
        };
        let cname = ident_name(id);
        let column = def
            .columns
            .iter()
            .position(|d| d.name == cname)
            .ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{cname}\" does not exist"),
                )
            })?;
        let desc = matches!(c.column.options.sort, Some(ast::OrderBySort::Desc));
        if c.column.options.nulls_first.is_some_and(|nf| nf != desc) {
            return Err(Error::unsupported(
                "NULLS FIRST/LAST other than the default",
            ));
        }
        names.push(cname);
        icols.push(IndexColumn { column, desc });
    }
    let schema = def.schema.clone();
    let iname = match &ci.name {
        Some(n) => super::namespace::split(n)?.1,
        None => free_name(
            cx,
            &schema,
            &format!("{}_{}_idx", def.name, names.join("_")),
            &[],
        )?,
    };
    let catalog = cx.shared.catalog();
    {
        let mut txn = lock_txn(cx.txn)?;
        if catalog.relation_exists(&mut txn, &schema, &iname)? {
            if ci.if_not_exists {
                return Ok(tag("CREATE INDEX"));
            }
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{iname}\" already exists"),
            ));
        }
    }
    let index = {
        let mut txn = lock_txn(cx.txn)?;
        catalog.create_index(&mut txn, &mut def, &iname, icols, ci.unique)?
    };
    let tree = cx.shared.stack().engine.tree(index.tree)?;
    // Fill from the rows this statement sees.
    let types = table.types();
    let mut txn = lock_txn(cx.txn)?;
    let rows: Vec<_> = txn
        .scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?
        .collect::<std::result::Result<_, _>>()?;
    let mut row = Vec::new();
    let total = rows.len();
    for (n, (pk, bytes)) in rows.into_iter().enumerate() {
        if n > 0 && n % INDEX_PROGRESS_ROWS == 0 {
            tracing::info!(index = %iname, rows = n, of = total, "building index");
        }
        let h = decode_row(&bytes, &types, None, &mut row)?;
        def.fill_missing(h.columns, &mut row);
        let (k, enforcing) = index_entry(&index, &row, &pk);
        if !txn.insert(&tree, &k, &pk)? && enforcing {
            let (cols, vals) = format_key(&def, index.columns.iter().map(|c| c.column), &row);
            return Err(Error::new(
                SqlState::UNIQUE_VIOLATION,
                format!("could not create unique index \"{iname}\""),
            )
            .with_detail(format!("Key ({cols})=({vals}) is duplicated.")));
        }
    }
    Ok(tag("CREATE INDEX"))
}

/// DROP … IF EXISTS of `s.x` without a schema `s`: a NOTICE, then
/// nothing to drop: an empty `(schema, name)` the caller skips.
fn skip_missing_schema(
    r: Result<Option<(String, String)>>,
    if_exists: bool,
) -> Result<Option<(String, String)>> {
    match r {
        Err(e) if if_exists && e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => {
            super::signals::notice(super::signals::Notice::new(format!(
                "{}, skipping",
                e.message
            )));
            Ok(Some((String::new(), String::new())))
        }
        r => r,
    }
}

/// Before DROP TABLE of `dropping`: foreign keys of other tables that
/// reference them are dependents (2BP01 unless CASCADE, which drops those
/// constraints), and the tables they reference forget their foreign keys.
fn drop_foreign_keys(
    txn: &mut crate::txn::Transaction,
    catalog: &crate::catalog::Catalog,
    dropping: &[(String, String)],
    cascade: bool,
) -> Result<()> {
    let gone = |s: &str, t: &str| dropping.iter().any(|(a, b)| a == s && b == t);
    let mut dependents = Vec::new();
    let mut referenced = Vec::new();
    for (schema, name) in dropping {
        let Some(def) = catalog.table(txn, schema, name)? else {
            continue;
        };
        for r in &def.referenced_by {
            if !gone(&r.schema, &r.table) {
                dependents.push((r.clone(), def.name.clone()));
            }
        }
        for fk in &def.foreign_keys {
            if !gone(&fk.ref_schema, &fk.ref_table) {
                referenced.push((
                    fk.ref_schema.clone(),
                    fk.ref_table.clone(),
                    schema.clone(),
                    name.clone(),
                    fk.name.clone(),
                ));
            }
        }
    }
    if !dependents.is_empty() {
        let lines: Vec<String> = dependents
            .iter()
            .map(|(r, t)| {
                if cascade {
                    format!(
                        "drop cascades to constraint {} on table {}",
                        r.constraint, r.table
                    )
                } else {
                    format!(
                        "constraint {} on table {} depends on table {t}",
                        r.constraint, r.table
                    )
                }
            })
            .collect();
        if !cascade {
            return Err(Error::new(
                super::namespace::DEPENDENT_OBJECTS_STILL_EXIST,
                format!(
                    "cannot drop table {} because other objects depend on it",
                    dependents[0].1
                ),
            )
            .with_detail(lines.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        if lines.len() == 1 {
            super::signals::notice(super::signals::Notice::new(lines[0].clone()));
        } else {
            let mut n = super::signals::Notice::new(format!(
                "drop cascades to {} other objects",
                lines.len()
            ));
            n.detail = Some(lines.join("\n"));
            super::signals::notice(n);
        }
        for (r, _) in &dependents {
            txn.begin_statement()?;
            if let Some(mut child) = catalog.table(txn, &r.schema, &r.table)? {
                child.foreign_keys.retain(|f| f.name != r.constraint);
                catalog.update_table(txn, &child)?;
            }
        }
    }
    for (rs, rt, schema, name, constraint) in referenced {
        txn.begin_statement()?;
        if let Some(mut parent) = catalog.table(txn, &rs, &rt)? {
            parent
                .referenced_by
                .retain(|r| !(r.schema == schema && r.table == name && r.constraint == constraint));
            catalog.update_table(txn, &parent)?;
        }
    }
    Ok(())
}

pub fn drop(
    cx: &StmtCx<'_>,
    object_type: &ast::ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    cascade: bool,
) -> Result<StatementResult> {
    let catalog = cx.shared.catalog();
    match object_type {
        ast::ObjectType::Table => {
            cx.check_writable("DROP TABLE")?;
            let mut txn = lock_txn(cx.txn)?;
            let mut found = Vec::new();
            for n in names {
                let name = super::namespace::split(n)?.1;
                let hit = skip_missing_schema(
                    super::namespace::resolve(catalog, &mut txn, n, |txn, s, t| {
                        Ok(catalog.table(txn, s, t)?.is_some())
                    }),
                    if_exists,
                )?;
                if let Some(hit) = hit {
                    found.push(hit);
                } else if let Some(e) = super::view::drop_table_of_view(catalog, &mut txn, n)? {
                    return Err(e);
                } else if !if_exists {
                    return Err(Error::new(
                        SqlState::UNDEFINED_TABLE,
                        format!("table \"{name}\" does not exist"),
                    ));
                } else {
                    super::signals::notice(super::signals::Notice::new(format!(
                        "table \"{name}\" does not exist, skipping"
                    )));
                }
            }
            let found: Vec<(String, String)> =
                found.into_iter().filter(|(s, _)| !s.is_empty()).collect();
            let roots: Vec<super::view::Dropped> = found
                .iter()
                .map(|(s, t)| super::view::Dropped::relation("table", s, t))
                .collect();
            super::view::drop_dependents(catalog, &mut txn, &roots, cascade)?;
            drop_foreign_keys(&mut txn, catalog, &found, cascade)?;
            for (schema, name) in found {
                if !schema.is_empty() {
                    txn.begin_statement()?;
                    let def = catalog.drop_table(&mut txn, &schema, &name)?;
                    // serial and identity columns' sequences go with it
                    for q in catalog.sequences_owned_by(&mut txn, &schema, def.oid)? {
                        super::sequence::drop_stored(cx.shared, &mut txn, &schema, &q.name)?;
                    }
                }
            }
            Ok(tag("DROP TABLE"))
        }
        ast::ObjectType::Index => {
            cx.check_writable("DROP INDEX")?;
            let mut txn = lock_txn(cx.txn)?;
            let mut found = Vec::new();
            for n in names {
                let name = super::namespace::split(n)?.1;
                let hit = skip_missing_schema(
                    super::namespace::resolve(catalog, &mut txn, n, |txn, s, i| {
                        Ok(catalog.index_table(txn, s, i)?.is_some())
                    }),
                    if_exists,
                )?;
                if let Some(hit) = hit {
                    found.push(hit);
                } else if !if_exists {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("index \"{name}\" does not exist"),
                    ));
                } else {
                    super::signals::notice(super::signals::Notice::new(format!(
                        "index \"{name}\" does not exist, skipping"
                    )));
                }
            }
            std::mem::drop(txn);
            for (schema, name) in found.into_iter().filter(|(s, _)| !s.is_empty()) {
                next_command(cx)?;
                let mut txn = lock_txn(cx.txn)?;
                if let Some(t) = catalog.index_table(&mut txn, &schema, &name)?
                    && t.indexes.iter().any(|i| i.constraint && i.name == name)
                {
                    return Err(Error::new(
                        super::namespace::DEPENDENT_OBJECTS_STILL_EXIST,
                        format!(
                            "cannot drop index {name} because constraint {name} on table {} requires it",
                            t.name
                        ),
                    )
                    .with_hint(format!(
                        "You can drop constraint {name} on table {} instead.",
                        t.name
                    )));
                }
                catalog.drop_index(&mut txn, &schema, &name)?;
            }
            Ok(tag("DROP INDEX"))
        }
        other => Err(Error::unsupported(format!("DROP {other}"))),
    }
}
