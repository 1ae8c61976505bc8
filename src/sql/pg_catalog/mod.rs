//! `pg_catalog`'s relations (`pg_class`, `pg_attribute`, `pg_constraint`,
//! …), computed from arbordb's catalog when a statement binds them, as
//! [`super::stat_views`] computes `pg_stat_activity`.
//!
//! ```text
//!   FROM pg_catalog.pg_class c  ──(no table of that name)──▶ Values [rows now]
//!        │                                  ▲
//!        └─ snapshot: schemas, tables (their indexes, constraints),
//!           sequences, roles, read through the statement's transaction
//! ```
//!
//! Column names and types are PostgreSQL 15's ([`data::RELATIONS`], read
//! from PostgreSQL 15.18), except that `name`, `"char"` and `pg_node_tree`
//! columns are `text`, `int2vector` / `oidvector` are `int2[]` / `oid[]`
//! (1-based, as every arbordb array), `aclitem[]` is `text[]` and `xid`
//! is `bigint`.
//!
//! OIDs: tables, indexes, sequences, schemas and roles carry the
//! catalog's object ids; built-in types, `pg_catalog` (11), `public`
//! (2200) and the system relations PostgreSQL's fixed ones. Objects the
//! catalog stores without an id of their own (a primary key's index, the
//! constraints) get one derived from their table's: see [`derived_oid`].
//! `adbin` and `conbin` hold the expression as SQL text (what
//! `pg_get_expr` returns), not a node tree.
//!
//! Owns: the rows of the system relations and the lookups behind
//! `regclass` & co. ([`reg`]) and the catalog functions ([`funcs`]).
//! Never: writes the catalog.

pub mod data;
pub mod funcs;
pub mod info_schema;
pub mod reg;

use crate::catalog::schema::{PG_CATALOG, PG_CATALOG_OID};
use crate::catalog::{Catalog, FkAction, RoleDef, SchemaDef, SequenceDef, TableDef, ViewDef};
use crate::error::{Error, Result};
use crate::txn::Transaction;
use crate::types::{DataType, RegKind, Value};

use super::scan::{TableSource, lock_txn};
use super::stat_views::StatView;

/// The oid of `information_schema` (PostgreSQL 15's, which varies by build).
pub const INFORMATION_SCHEMA_OID: u32 = 13207;
/// The oid of `pg_toast`.
pub const PG_TOAST_OID: u32 = 99;
/// The one database's oid (`pg_stat_activity.datid` says the same).
pub const DATABASE_OID: u32 = 1;
/// `pg_database_owner`, the owner of `public` in PostgreSQL 15.
pub const DATABASE_OWNER_ROLE: u32 = 6171;
/// The default collation (`pg_collation` 100) and "C" (950).
pub const DEFAULT_COLLATION: u32 = 100;
/// `heap` and `btree` in `pg_am`.
pub const HEAP_AM: u32 = 2;
pub const BTREE_AM: u32 = 403;

/// The catalog as one statement sees it.
pub struct Snapshot {
    /// Every schema, the built-in ones included, in name order.
    pub schemas: Vec<SchemaDef>,
    pub tables: Vec<TableDef>,
    pub sequences: Vec<SequenceDef>,
    /// The views of every user schema, in (schema, name) order.
    pub views: Vec<ViewDef>,
    /// Comments on objects that exist (`pg_description`).
    pub comments: Vec<crate::catalog::CommentDef>,
    pub roles: Vec<RoleDef>,
    /// The schemas unqualified names are looked up in, in order
    /// (`pg_catalog` first, as PostgreSQL searches it implicitly).
    pub path: Vec<String>,
}

/// Reads the snapshot through `txn`.
pub fn snapshot(catalog: &Catalog, txn: &mut Transaction) -> Result<Snapshot> {
    let mut schemas = catalog.schemas(txn)?;
    for (name, oid) in [
        (PG_CATALOG, PG_CATALOG_OID),
        ("pg_toast", PG_TOAST_OID),
        ("information_schema", INFORMATION_SCHEMA_OID),
    ] {
        if !schemas.iter().any(|s| s.name == name) {
            schemas.push(SchemaDef {
                name: name.to_string(),
                oid,
            });
        }
    }
    schemas.sort_by(|a, b| a.name.cmp(&b.name));
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for s in &schemas {
        if s.oid == PG_CATALOG_OID || s.oid == PG_TOAST_OID || s.oid == INFORMATION_SCHEMA_OID {
            continue;
        }
        for t in catalog.relation_names(txn, b'T', &s.name)? {
            if let Some(def) = catalog.table(txn, &s.name, &t)? {
                tables.push(def);
            }
        }
        for q in catalog.relation_names(txn, b'Q', &s.name)? {
            if let Some(def) = catalog.sequence(txn, &s.name, &q)? {
                sequences.push(def);
            }
        }
    }
    let views = catalog.views(txn)?;
    let roles = catalog.roles(txn)?;
    let comments = catalog.comments(txn)?;
    let mut path = vec![PG_CATALOG.to_string()];
    for s in super::namespace::existing_path(catalog, txn)? {
        if !path.contains(&s) {
            path.push(s);
        }
    }
    Ok(Snapshot {
        schemas,
        tables,
        sequences,
        views,
        roles,
        comments: Vec::new(),
        path,
    }
    .with_comments(comments))
}

/// The snapshot of the statement running on this thread (`txn` its
/// transaction), for the catalog functions.
pub fn snapshot_in(txn: Option<&super::scan::TxnCell>) -> Result<Snapshot> {
    let (Some(catalog), Some(txn)) = (super::namespace::context_catalog(), txn) else {
        return Err(Error::internal("catalog function outside a statement"));
    };
    let mut txn = lock_txn(txn)?;
    snapshot(&catalog, &mut txn)
}

/// An id for an object the catalog keeps without one (a primary key's
/// index, a constraint): PostgreSQL hands out oids from 16384 up, as the
/// catalog does; these live above 2^31, `slot` within `table`'s block of
/// 256 (0 the primary key's index, 1 its constraint, 2.. constraints of
/// unique indexes, then CHECKs, then FOREIGN KEYs).
pub fn derived_oid(table: u32, slot: u32) -> u32 {
    0x8000_0000u32
        .wrapping_add(table.wrapping_sub(crate::catalog::table::FIRST_OBJECT_ID) << 8)
        .wrapping_add(slot & 0xFF)
}

/// Splits a derived oid into its table's oid and its slot.
pub fn split_derived(oid: u32) -> Option<(u32, u32)> {
    if oid < 0x8000_0000 {
        return None;
    }
    let rel = oid - 0x8000_0000;
    Some((
        (rel >> 8) + crate::catalog::table::FIRST_OBJECT_ID,
        rel & 0xFF,
    ))
}

const SLOT_PK_INDEX: u32 = 0;
const SLOT_PK: u32 = 1;
const SLOT_UNIQUE: u32 = 2;
const SLOT_CHECK: u32 = 96;
const SLOT_FK: u32 = 176;

/// The constraints of one table, as `pg_constraint` lists them.
pub struct ConstraintInfo<'a> {
    pub oid: u32,
    pub name: String,
    pub table: &'a TableDef,
    pub kind: ConstraintKind<'a>,
}

pub enum ConstraintKind<'a> {
    PrimaryKey,
    /// The unique index at this position of `table.indexes`.
    Unique(&'a crate::catalog::IndexDef),
    Check(&'a crate::catalog::CheckDef),
    ForeignKey(&'a crate::catalog::ForeignKeyDef),
}

impl ConstraintInfo<'_> {
    pub fn contype(&self) -> &'static str {
        match self.kind {
            ConstraintKind::PrimaryKey => "p",
            ConstraintKind::Unique(_) => "u",
            ConstraintKind::Check(_) => "c",
            ConstraintKind::ForeignKey(_) => "f",
        }
    }
}

/// One index as `pg_index` / `pg_class` list it.
pub struct IndexInfo<'a> {
    pub oid: u32,
    pub name: String,
    pub table: &'a TableDef,
    pub primary: bool,
    pub unique: bool,
    /// Positions of the key columns in the table, and whether each is DESC.
    pub columns: Vec<(usize, bool)>,
    /// The constraint it implements (primary key or UNIQUE), if any.
    pub constraint: Option<u32>,
}

impl Snapshot {
    pub fn schema_oid(&self, name: &str) -> u32 {
        self.schemas
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.oid)
    }

    pub fn schema_name(&self, oid: u32) -> Option<&str> {
        self.schemas
            .iter()
            .find(|s| s.oid == oid)
            .map(|s| s.name.as_str())
    }

    /// The owner every object reports: the first superuser (the one the
    /// database was created with), else PostgreSQL's bootstrap oid 10.
    pub fn owner(&self) -> u32 {
        self.roles
            .iter()
            .filter(|r| r.superuser)
            .map(|r| r.oid)
            .min()
            .unwrap_or(10)
    }

    pub fn table_by_oid(&self, oid: u32) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.oid == oid)
    }

    pub fn table_named(&self, schema: &str, name: &str) -> Option<&TableDef> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// Every index of `t`, its primary key's first.
    pub fn indexes_of<'a>(&self, t: &'a TableDef) -> Vec<IndexInfo<'a>> {
        let mut out = Vec::new();
        if !t.primary_key.is_empty() {
            out.push(IndexInfo {
                oid: derived_oid(t.oid, SLOT_PK_INDEX),
                name: t.pk_name.clone(),
                table: t,
                primary: true,
                unique: true,
                columns: t.primary_key.iter().map(|c| (*c, false)).collect(),
                constraint: Some(derived_oid(t.oid, SLOT_PK)),
            });
        }
        for (i, ix) in t.indexes.iter().enumerate() {
            out.push(IndexInfo {
                oid: ix.oid,
                name: ix.name.clone(),
                table: t,
                primary: false,
                unique: ix.unique,
                columns: ix.columns.iter().map(|c| (c.column, c.desc)).collect(),
                constraint: (ix.constraint && ix.unique)
                    .then(|| derived_oid(t.oid, SLOT_UNIQUE + i as u32)),
            });
        }
        out
    }

    pub fn all_indexes(&self) -> Vec<IndexInfo<'_>> {
        self.tables
            .iter()
            .flat_map(|t| self.indexes_of(t))
            .collect()
    }

    pub fn index_by_oid(&self, oid: u32) -> Option<IndexInfo<'_>> {
        match split_derived(oid) {
            Some((t, SLOT_PK_INDEX)) => self
                .table_by_oid(t)
                .and_then(|t| self.indexes_of(t).into_iter().find(|i| i.oid == oid)),
            Some(_) => None,
            None => self.all_indexes().into_iter().find(|i| i.oid == oid),
        }
    }

    /// Every constraint of `t`.
    pub fn constraints_of<'a>(&self, t: &'a TableDef) -> Vec<ConstraintInfo<'a>> {
        let mut out = Vec::new();
        if !t.primary_key.is_empty() {
            out.push(ConstraintInfo {
                oid: derived_oid(t.oid, SLOT_PK),
                name: t.pk_name.clone(),
                table: t,
                kind: ConstraintKind::PrimaryKey,
            });
        }
        for (i, ix) in t.indexes.iter().enumerate() {
            if ix.constraint && ix.unique {
                out.push(ConstraintInfo {
                    oid: derived_oid(t.oid, SLOT_UNIQUE + i as u32),
                    name: ix.name.clone(),
                    table: t,
                    kind: ConstraintKind::Unique(ix),
                });
            }
        }
        for (i, c) in t.checks.iter().enumerate() {
            out.push(ConstraintInfo {
                oid: derived_oid(t.oid, SLOT_CHECK + i as u32),
                name: c.name.clone(),
                table: t,
                kind: ConstraintKind::Check(c),
            });
        }
        for (i, f) in t.foreign_keys.iter().enumerate() {
            out.push(ConstraintInfo {
                oid: derived_oid(t.oid, SLOT_FK + i as u32),
                name: f.name.clone(),
                table: t,
                kind: ConstraintKind::ForeignKey(f),
            });
        }
        out
    }

    pub fn constraint_by_oid(&self, oid: u32) -> Option<ConstraintInfo<'_>> {
        let (t, _) = split_derived(oid)?;
        let t = self.table_by_oid(t)?;
        self.constraints_of(t).into_iter().find(|c| c.oid == oid)
    }

    /// Whether an unqualified `name` finds the relation in `schema`
    /// (`pg_table_is_visible`): its schema is on the path and no schema
    /// before it has a relation of that name.
    pub fn relation_visible(&self, schema: &str, name: &str) -> bool {
        for s in &self.path {
            if self.has_relation(s, name) {
                return s == schema;
            }
        }
        false
    }

    fn has_relation(&self, schema: &str, name: &str) -> bool {
        if schema == PG_CATALOG {
            return data::RELATIONS.iter().any(|r| r.name == name);
        }
        self.tables.iter().any(|t| {
            t.schema == schema
                && (t.name == name || self.indexes_of(t).iter().any(|i| i.name == name))
        }) || self
            .sequences
            .iter()
            .any(|q| q.schema == schema && q.name == name)
            || self.view_named(schema, name).is_some()
    }

    /// Keeps the comments whose object exists (a dropped object's stay in
    /// the catalog, never shown: object ids are not reused).
    fn with_comments(mut self, comments: Vec<crate::catalog::CommentDef>) -> Snapshot {
        self.comments = comments
            .into_iter()
            .filter(|c| match c.classoid {
                super::comment::PG_NAMESPACE => self.schema_name(c.objoid).is_some(),
                _ => match self.relation_by_oid(c.objoid) {
                    None => false,
                    Some(_) if c.subid == 0 => true,
                    Some(_) => self.column_count(c.objoid) >= c.subid as usize,
                },
            })
            .collect();
        self
    }

    /// The number of columns of table or view `oid`.
    fn column_count(&self, oid: u32) -> usize {
        match (self.table_by_oid(oid), self.view_by_oid(oid)) {
            (Some(t), _) => t.columns.len(),
            (None, Some(v)) => v.columns.len(),
            _ => 0,
        }
    }

    /// The comment on (`objoid`, `classoid`, `subid`), if any.
    pub fn comment(&self, objoid: u32, classoid: Option<u32>, subid: i32) -> Option<&str> {
        self.comments
            .iter()
            .find(|c| {
                c.objoid == objoid && c.subid == subid && classoid.is_none_or(|k| k == c.classoid)
            })
            .map(|c| c.text.as_str())
    }

    pub fn view_by_oid(&self, oid: u32) -> Option<&ViewDef> {
        self.views.iter().find(|v| v.oid == oid)
    }

    pub fn view_named(&self, schema: &str, name: &str) -> Option<&ViewDef> {
        self.views
            .iter()
            .find(|v| v.schema == schema && v.name == name)
    }

    /// A relation by oid: (schema, name, relkind).
    pub fn relation_by_oid(&self, oid: u32) -> Option<(String, String, char)> {
        if let Some(r) = data::RELATIONS.iter().find(|r| r.oid == oid) {
            return Some((PG_CATALOG.into(), r.name.into(), r.kind));
        }
        if let Some(t) = self.table_by_oid(oid) {
            return Some((t.schema.clone(), t.name.clone(), 'r'));
        }
        if let Some(q) = self.sequences.iter().find(|q| q.oid == oid) {
            return Some((q.schema.clone(), q.name.clone(), 'S'));
        }
        if let Some(v) = self.view_by_oid(oid) {
            return Some((v.schema.clone(), v.name.clone(), 'v'));
        }
        self.index_by_oid(oid)
            .map(|i| (i.table.schema.clone(), i.name.clone(), 'i'))
    }

    /// The oid of the relation `schema.name`.
    pub fn relation_oid(&self, schema: &str, name: &str) -> Option<u32> {
        if schema == PG_CATALOG {
            return data::RELATIONS
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.oid);
        }
        if let Some(t) = self.table_named(schema, name) {
            return Some(t.oid);
        }
        if let Some(q) = self
            .sequences
            .iter()
            .find(|q| q.schema == schema && q.name == name)
        {
            return Some(q.oid);
        }
        if let Some(v) = self.view_named(schema, name) {
            return Some(v.oid);
        }
        self.tables
            .iter()
            .filter(|t| t.schema == schema)
            .flat_map(|t| self.indexes_of(t))
            .find(|i| i.name == name)
            .map(|i| i.oid)
    }

    /// The name of role `oid` (`pg_get_userbyid`).
    pub fn role_name(&self, oid: u32) -> Option<String> {
        if oid == DATABASE_OWNER_ROLE {
            return Some("pg_database_owner".into());
        }
        self.roles
            .iter()
            .find(|r| r.oid == oid)
            .map(|r| r.name.clone())
    }
}

// ---------------------------------------------------------------------------
// Relations.

/// The column type a `name:type` spec names (see the module doc for the
/// types arbordb stands in with).
fn spec_type(t: &str) -> DataType {
    use DataType::*;
    match t {
        "oid" => Oid,
        "smallint" => Int2,
        "integer" => Int4,
        "bigint" | "xid" => Int8,
        "real" => Float4,
        "double precision" => Float8,
        "boolean" => Bool,
        "bytea" => Bytea,
        "timestamp with time zone" => Timestamptz,
        "interval" => Interval,
        "regproc" => Reg(RegKind::Proc),
        "regtype" => Reg(RegKind::Type),
        "int2vector" => Vector(crate::types::VectorKind::Int2),
        "oidvector" => Vector(crate::types::VectorKind::Oid),
        "smallint[]" => Array(Box::new(Int2)),
        "oid[]" => Array(Box::new(Oid)),
        "aclitem[]" | "text[]" | "\"char\"[]" | "name[]" => Array(Box::new(Text)),
        // name, "char", text, pg_node_tree, anyarray
        _ => Text,
    }
}

/// The columns of a system relation.
pub fn columns_of(rel: &data::SysRel) -> Vec<(&'static str, DataType)> {
    rel.columns
        .split(',')
        .filter_map(|c| c.split_once(':'))
        .map(|(n, t)| (n, spec_type(t)))
        .collect()
}

/// The system relation `name` (as written) names, if any: `pg_catalog.X`,
/// or a bare `X` (PostgreSQL searches `pg_catalog` first).
pub fn lookup(name: &[String], source: Option<&TableSource>) -> Result<Option<StatView>> {
    let rel = match name {
        [rel] => rel.as_str(),
        [schema, rel] if schema == PG_CATALOG => rel.as_str(),
        [db, schema, rel] if schema == PG_CATALOG && db == "arbordb" => rel.as_str(),
        [schema, rel] if schema == info_schema::INFORMATION_SCHEMA => {
            return info_schema_lookup(rel, source);
        }
        [db, schema, rel] if schema == info_schema::INFORMATION_SCHEMA && db == "arbordb" => {
            return info_schema_lookup(rel, source);
        }
        _ => return Ok(None),
    };
    let Some(spec) = data::RELATIONS.iter().find(|r| r.name == rel) else {
        return Ok(None);
    };
    let Some(source) = source else {
        return Ok(None);
    };
    let snap = {
        let mut txn = lock_txn(&source.txn)?;
        snapshot(source.shared.catalog(), &mut txn)?
    };
    let columns = columns_of(spec);
    let rows = match rel {
        "pg_stat_user_tables" | "pg_stat_all_tables" => {
            super::table_stats::table_rows(&snap, source.shared.counters(), &columns)
        }
        "pg_stat_user_indexes" | "pg_stat_all_indexes" => {
            super::table_stats::index_rows(&snap, source.shared.counters(), &columns)
        }
        _ => {
            let mut rows = rows::rows(rel, &snap, &columns)?;
            if rel == "pg_class" {
                fill_class_stats(&snap, &source.shared, &columns, &mut rows);
            }
            rows
        }
    };
    Ok(Some(StatView { columns, rows }))
}

/// `pg_class.reltuples` / `relpages` of the analyzed tables (the rows and
/// pages their last ANALYZE counted).
fn fill_class_stats(
    snap: &Snapshot,
    shared: &super::Shared,
    columns: &[(&'static str, DataType)],
    rows: &mut [Vec<Value>],
) {
    let col = |name: &str| columns.iter().position(|(n, _)| *n == name);
    let (Some(oid_col), Some(tuples_col)) = (col("oid"), col("reltuples")) else {
        return;
    };
    let pages_col = col("relpages");
    for t in &snap.tables {
        let Some(stats) = shared.stats().get_tree(t.tree) else {
            continue;
        };
        let pages = shared
            .counters()
            .peek(t.oid)
            .map_or(0, |c| c.relpages.load(std::sync::atomic::Ordering::Relaxed));
        let want = oid(t.oid);
        for row in rows.iter_mut() {
            if row.get(oid_col) == Some(&want) {
                if let Some(v) = row.get_mut(tuples_col) {
                    *v = Value::Float4(stats.rows as f32);
                }
                if let Some(v) = pages_col.and_then(|c| row.get_mut(c)) {
                    *v = Value::Int4(i32::try_from(pages).unwrap_or(i32::MAX));
                }
                break;
            }
        }
    }
}

/// Whether `name` (as written) is `pg_settings`, whose `setting` column
/// is the session's value.
pub fn is_settings_relation(name: &[String]) -> bool {
    match name {
        [rel] => rel == "pg_settings",
        [schema, rel] => schema == PG_CATALOG && rel == "pg_settings",
        [_, schema, rel] => schema == PG_CATALOG && rel == "pg_settings",
        _ => false,
    }
}

/// Makes `pg_settings`' `setting` column `current_setting(name)`, read
/// when the statement runs: the values are the session's, which the
/// binder does not see.
pub fn read_settings_at_execution(plan: &mut super::plan::Plan) {
    let super::plan::Plan::Values { rows, .. } = plan else {
        return;
    };
    let Some(spec) = data::RELATIONS.iter().find(|r| r.name == "pg_settings") else {
        return;
    };
    let columns = columns_of(spec);
    let (Some(name_col), Some(setting_col)) = (
        columns.iter().position(|(n, _)| *n == "name"),
        columns.iter().position(|(n, _)| *n == "setting"),
    ) else {
        return;
    };
    for row in rows.iter_mut() {
        let Some(name) = row.get(name_col).cloned() else {
            continue;
        };
        if let Some(slot) = row.get_mut(setting_col) {
            *slot = super::expr::Expr::Func {
                func: super::functions::Func::CurrentSetting,
                args: vec![name],
                ty: DataType::Text,
            };
        }
    }
}

/// `information_schema.rel`, if it is one of the views arbordb has.
fn info_schema_lookup(rel: &str, source: Option<&TableSource>) -> Result<Option<StatView>> {
    let (Some(view), Some(source)) = (info_schema::VIEWS.iter().find(|v| v.name == rel), source)
    else {
        return Ok(None);
    };
    let snap = {
        let mut txn = lock_txn(&source.txn)?;
        snapshot(source.shared.catalog(), &mut txn)?
    };
    let columns = info_schema::view_columns(view);
    let rows = info_schema::rows(rel, &snap, &columns);
    Ok(Some(StatView { columns, rows }))
}

mod rows;

/// `pg_get_viewdef`'s text of a view: its query as CREATE VIEW stored it,
/// in PostgreSQL's frame (a leading space, a closing semicolon); not
/// PostgreSQL's deparsed, column-qualified form.
pub fn view_def(v: &ViewDef) -> String {
    format!(" {};", v.query.trim_end_matches(';'))
}

/// PostgreSQL's `pg_get_indexdef`'s text of one index.
pub fn index_def(snap: &Snapshot, ix: &IndexInfo<'_>) -> String {
    let t = ix.table;
    let cols: Vec<String> = ix
        .columns
        .iter()
        .map(|(c, desc)| {
            let n = t.columns.get(*c).map_or("?", |c| c.name.as_str());
            let n = funcs::quote_ident(n);
            if *desc { format!("{n} DESC") } else { n }
        })
        .collect();
    let _ = snap;
    format!(
        "CREATE {}INDEX {} ON {}.{} USING btree ({})",
        if ix.unique { "UNIQUE " } else { "" },
        funcs::quote_ident(&ix.name),
        funcs::quote_ident(&t.schema),
        funcs::quote_ident(&t.name),
        cols.join(", ")
    )
}

fn column_list(t: &TableDef, cols: &[usize]) -> String {
    cols.iter()
        .map(|c| funcs::quote_ident(t.columns.get(*c).map_or("?", |c| c.name.as_str())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A relation's name as `regclass` prints it: qualified unless visible.
pub fn relation_display(snap: &Snapshot, schema: &str, name: &str) -> String {
    if snap.relation_visible(schema, name) {
        funcs::quote_ident(name)
    } else {
        format!(
            "{}.{}",
            funcs::quote_ident(schema),
            funcs::quote_ident(name)
        )
    }
}

/// PostgreSQL's `pg_get_constraintdef` text of one constraint.
pub fn constraint_def(snap: &Snapshot, c: &ConstraintInfo<'_>, pretty: bool) -> String {
    let t = c.table;
    match c.kind {
        ConstraintKind::PrimaryKey => format!("PRIMARY KEY ({})", column_list(t, &t.primary_key)),
        ConstraintKind::Unique(ix) => {
            let cols: Vec<usize> = ix.columns.iter().map(|c| c.column).collect();
            format!("UNIQUE ({})", column_list(t, &cols))
        }
        ConstraintKind::Check(ch) => {
            format!("CHECK ({})", funcs::check_display(t, &ch.expr, pretty))
        }
        ConstraintKind::ForeignKey(f) => {
            let target = snap.table_named(&f.ref_schema, &f.ref_table);
            let ref_cols = match target {
                Some(rt) => column_list(rt, &f.ref_columns),
                None => String::new(),
            };
            let mut s = format!(
                "FOREIGN KEY ({}) REFERENCES {}({})",
                column_list(t, &f.columns),
                relation_display(snap, &f.ref_schema, &f.ref_table),
                ref_cols
            );
            if f.match_full {
                s.push_str(" MATCH FULL");
            }
            let action = |a: FkAction| match a {
                FkAction::NoAction => None,
                FkAction::Restrict => Some("RESTRICT"),
                FkAction::Cascade => Some("CASCADE"),
                FkAction::SetNull => Some("SET NULL"),
                FkAction::SetDefault => Some("SET DEFAULT"),
            };
            if let Some(a) = action(f.on_update) {
                s.push_str(&format!(" ON UPDATE {a}"));
            }
            if let Some(a) = action(f.on_delete) {
                s.push_str(&format!(" ON DELETE {a}"));
            }
            s
        }
    }
}

/// A value of a system relation's column.
pub fn oid(o: u32) -> Value {
    Value::Int8(o as i64)
}
