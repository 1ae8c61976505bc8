//! `ALTER TABLE t ADD [CONSTRAINT name] PRIMARY KEY (cols)`: the primary
//! key built on a table that has rows.
//!
//! ```text
//!  hidden-rowid table                  primary-keyed table
//!  rows tree: rowid ─▶ row    ──▶     new rows tree: key(pk cols) ─▶ row
//!  index trees: key ++ rowid  ──▶     rebuilt: key ++ pk key
//!  old trees dropped in the same transaction; the definition gets
//!  primary_key, pk_name, the new tree ids and NOT NULL on the key columns
//! ```
//!
//! Choice: the table is rewritten into a primary-keyed one (rows stored
//! under their key), not given a unique index acting as the key: lookups
//! by key are then one tree descent, as for a table created with its key,
//! and the two kinds of table are indistinguishable afterwards.
//!
//! Errors as PostgreSQL's: 42P16 for a second primary key, 42703 for an
//! unknown column, 23502 when a key column holds NULLs, 23505 `could not
//! create unique index` with the duplicated key, 42P07 when the
//! constraint's name is taken.

use std::ops::Bound;

use sqlparser::ast;

use crate::catalog::row::decode_row;
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};

use super::bind::ident_name;
use super::dml::format_key;
use super::scan::{TableRef, index_entry, lock_txn, row_key};
use super::session::StmtCx;

/// 42P16: the table definition is invalid.
const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");

pub fn alter_table(cx: &StmtCx<'_>, at: &ast::AlterTable) -> Result<StatementResult> {
    // A view (ALTER VIEW, or ALTER TABLE naming a view): view.rs.
    if let Some(r) = super::view::alter_view(cx, at)? {
        return Ok(r);
    }
    cx.check_writable("ALTER TABLE")?;
    // Every action runs through alter_columns.rs (columns, names) and
    // constraints.rs (constraints); this file builds the primary key.
    if let Some(r) = super::alter_columns::run(cx, at)? {
        return Ok(r);
    }
    match at.operations.as_slice() {
        [op] => Err(Error::unsupported(format!("ALTER TABLE {op}"))),
        _ => Err(Error::unsupported("ALTER TABLE with these actions")),
    }
}

/// `ADD [CONSTRAINT name] PRIMARY KEY (cols)` on `table`.
pub fn add_primary_key(
    cx: &StmtCx<'_>,
    table: &TableRef,
    pk: &ast::PrimaryKeyConstraint,
) -> Result<()> {
    let mut def = (*table.def).clone();
    if !def.primary_key.is_empty() {
        return Err(Error::new(
            INVALID_TABLE_DEFINITION,
            format!(
                "multiple primary keys for table \"{}\" are not allowed",
                def.name
            ),
        ));
    }
    let mut key = Vec::with_capacity(pk.columns.len());
    for c in &pk.columns {
        let ast::Expr::Identifier(id) = &c.column.expr else {
            return Err(Error::unsupported("primary keys over expressions"));
        };
        let name = ident_name(id);
        let Some(pos) = def.columns.iter().position(|d| d.name == name) else {
            return Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    def.name
                ),
            ));
        };
        if !key.contains(&pos) {
            key.push(pos);
        }
    }
    let pk_name = pk
        .name
        .as_ref()
        .map(ident_name)
        .unwrap_or_else(|| format!("{}_pkey", def.name));
    let catalog = cx.shared.catalog();
    let types = table.types();
    let mut txn = lock_txn(cx.txn)?;
    if catalog.relation_exists(&mut txn, &def.schema, &pk_name)? {
        return Err(Error::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{pk_name}\" already exists"),
        ));
    }
    def.primary_key = key.clone();
    def.pk_name = pk_name.clone();
    for &p in &key {
        def.columns[p].not_null = true;
    }
    let rows_tree = txn.create_tree()?;
    let mut index_trees = Vec::with_capacity(def.indexes.len());
    for _ in &def.indexes {
        index_trees.push(txn.create_tree()?);
    }
    let old: Vec<_> = txn
        .scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?
        .collect::<std::result::Result<_, _>>()?;
    let mut row = Vec::new();
    for (_, bytes) in old {
        let h = decode_row(&bytes, &types, None, &mut row)?;
        table.def.fill_missing(h.columns, &mut row);
        for &p in &key {
            if row.get(p).is_none_or(|v| v.is_null()) {
                return Err(Error::new(
                    SqlState::NOT_NULL_VIOLATION,
                    format!(
                        "column \"{}\" of relation \"{}\" contains null values",
                        def.columns[p].name, def.name
                    ),
                ));
            }
        }
        let Some(k) = row_key(&def, &row) else {
            return Err(Error::internal("primary key without columns"));
        };
        if !txn.insert(&rows_tree, &k, &bytes)? {
            let (cols, vals) = format_key(&def, key.iter().copied(), &row);
            return Err(Error::new(
                SqlState::UNIQUE_VIOLATION,
                format!("could not create unique index \"{pk_name}\""),
            )
            .with_detail(format!("Key ({cols})=({vals}) is duplicated.")));
        }
        for (ix, tree) in def.indexes.iter().zip(&index_trees) {
            let (ik, _) = index_entry(ix, &row, &k);
            txn.insert(tree, &ik, &k)?;
        }
    }
    txn.drop_tree(def.tree)?;
    def.tree = rows_tree.id();
    for (ix, tree) in def.indexes.iter_mut().zip(&index_trees) {
        txn.drop_tree(ix.tree)?;
        ix.tree = tree.id();
    }
    catalog.update_table(&mut txn, &def)?;
    Ok(())
}
