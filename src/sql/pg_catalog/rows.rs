//! The rows of each system relation, from a [`Snapshot`].
//!
//! A row is built by column name ([`Row::set`]); a column not set reads
//! false (boolean), 0 (integer and oid columns) or NULL, which is what
//! PostgreSQL has there for the features arbordb does not have
//! (inheritance, row security, rules, TOAST, …).

use crate::catalog::schema::{PG_CATALOG, PG_CATALOG_OID, PUBLIC_OID};
use crate::catalog::{FkAction, TableDef};
use crate::error::Result;
use crate::types::{DataType, Value};

use super::data::{RELATIONS, TYPES};
use super::{
    BTREE_AM, ConstraintKind, DATABASE_OID, DATABASE_OWNER_ROLE, DEFAULT_COLLATION, HEAP_AM,
    Snapshot, columns_of, oid,
};

type Columns = [(&'static str, DataType)];

struct Row<'a> {
    cols: &'a Columns,
    values: Vec<Value>,
}

impl<'a> Row<'a> {
    fn new(cols: &'a Columns) -> Row<'a> {
        let values = cols
            .iter()
            .map(|(_, t)| match t {
                DataType::Bool => Value::Bool(false),
                DataType::Int2 => Value::Int2(0),
                DataType::Int4 => Value::Int4(0),
                DataType::Int8 | DataType::Oid | DataType::Reg(_) => Value::Int8(0),
                DataType::Float4 => Value::Float4(0.0),
                _ => Value::Null,
            })
            .collect();
        Row { cols, values }
    }

    fn set(mut self, name: &str, v: Value) -> Row<'a> {
        if let Some(i) = self.cols.iter().position(|(n, _)| *n == name) {
            self.values[i] = v;
        }
        self
    }

    fn done(self) -> Vec<Value> {
        self.values
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn ch(c: char) -> Value {
    Value::Text(c.to_string())
}

fn int2s(v: impl IntoIterator<Item = i16>) -> Value {
    Value::Array(v.into_iter().map(Value::Int2).collect())
}

fn oids(v: impl IntoIterator<Item = u32>) -> Value {
    Value::Array(v.into_iter().map(oid).collect())
}

/// The rows of system relation `rel`.
pub fn rows(rel: &str, snap: &Snapshot, cols: &Columns) -> Result<Vec<Vec<Value>>> {
    Ok(match rel {
        "pg_namespace" => namespaces(snap, cols),
        "pg_class" => classes(snap, cols),
        "pg_attribute" => attributes(snap, cols),
        "pg_type" => types(snap, cols),
        "pg_attrdef" => attrdefs(snap, cols),
        "pg_index" => indexes(snap, cols),
        "pg_constraint" => constraints(snap, cols),
        "pg_am" => [
            (HEAP_AM, "heap", "heap_tableam_handler", 't'),
            (BTREE_AM, "btree", "bthandler", 'i'),
            (405, "hash", "hashhandler", 'i'),
            (783, "gist", "gisthandler", 'i'),
            (2742, "gin", "ginhandler", 'i'),
            (4000, "spgist", "spghandler", 'i'),
            (3580, "brin", "brinhandler", 'i'),
        ]
        .into_iter()
        .map(|(o, n, h, k)| {
            Row::new(cols)
                .set("oid", oid(o))
                .set("amname", text(n))
                .set("amhandler", text(h))
                .set("amtype", ch(k))
                .done()
        })
        .collect(),
        "pg_collation" => [
            (DEFAULT_COLLATION, "default", 'd', None),
            (950, "C", 'c', Some("C")),
            (951, "POSIX", 'c', Some("POSIX")),
        ]
        .into_iter()
        .map(|(o, n, p, c)| {
            let c = c.map_or(Value::Null, text);
            Row::new(cols)
                .set("oid", oid(o))
                .set("collname", text(n))
                .set("collnamespace", oid(PG_CATALOG_OID))
                .set("collowner", oid(snap.owner()))
                .set("collprovider", ch(p))
                .set("collisdeterministic", Value::Bool(true))
                .set("collencoding", Value::Int4(-1))
                .set("collcollate", c.clone())
                .set("collctype", c)
                .done()
        })
        .collect(),
        "pg_database" => vec![
            Row::new(cols)
                .set("oid", oid(DATABASE_OID))
                .set("datname", text("arbordb"))
                .set("datdba", oid(snap.owner()))
                .set("encoding", Value::Int4(6))
                .set("datlocprovider", ch('c'))
                .set("datallowconn", Value::Bool(true))
                .set("datconnlimit", Value::Int4(-1))
                .set("dattablespace", oid(1663))
                .set("datcollate", text("C.UTF-8"))
                .set("datctype", text("C.UTF-8"))
                .done(),
        ],
        "pg_roles" | "pg_authid" => roles(snap, cols, rel == "pg_roles"),
        "pg_user" => snap
            .roles
            .iter()
            .filter(|r| r.login)
            .map(|r| {
                Row::new(cols)
                    .set("usename", text(&r.name))
                    .set("usesysid", oid(r.oid))
                    .set("usecreatedb", Value::Bool(r.create_db))
                    .set("usesuper", Value::Bool(r.superuser))
                    .set("userepl", Value::Bool(r.replication))
                    .set("usebypassrls", Value::Bool(r.bypass_rls))
                    .set("passwd", text("********"))
                    .done()
            })
            .collect(),
        "pg_proc" => super::funcs::proc_rows(snap, cols),
        "pg_sequence" => snap
            .sequences
            .iter()
            .map(|q| {
                Row::new(cols)
                    .set("seqrelid", oid(q.oid))
                    .set("seqtypid", oid(q.data_type.oid()))
                    .set("seqstart", Value::Int8(q.start))
                    .set("seqincrement", Value::Int8(q.increment))
                    .set("seqmax", Value::Int8(q.max))
                    .set("seqmin", Value::Int8(q.min))
                    .set("seqcache", Value::Int8(q.cache))
                    .set("seqcycle", Value::Bool(q.cycle))
                    .done()
            })
            .collect(),
        "pg_sequences" => snap
            .sequences
            .iter()
            .map(|q| {
                Row::new(cols)
                    .set("schemaname", text(&q.schema))
                    .set("sequencename", text(&q.name))
                    .set("sequenceowner", owner_name(snap))
                    .set("data_type", oid(q.data_type.oid()))
                    .set("start_value", Value::Int8(q.start))
                    .set("min_value", Value::Int8(q.min))
                    .set("max_value", Value::Int8(q.max))
                    .set("increment_by", Value::Int8(q.increment))
                    .set("cycle", Value::Bool(q.cycle))
                    .set("cache_size", Value::Int8(q.cache))
                    .set("last_value", Value::Null)
                    .done()
            })
            .collect(),
        "pg_tablespace" => [(1663, "pg_default"), (1664, "pg_global")]
            .into_iter()
            .map(|(o, n)| {
                Row::new(cols)
                    .set("oid", oid(o))
                    .set("spcname", text(n))
                    .set("spcowner", oid(snap.owner()))
                    .done()
            })
            .collect(),
        "pg_tables" => {
            let mut out: Vec<Vec<Value>> = RELATIONS
                .iter()
                .filter(|r| r.kind == 'r')
                .map(|r| {
                    Row::new(cols)
                        .set("schemaname", text(PG_CATALOG))
                        .set("tablename", text(r.name))
                        .set("tableowner", owner_name(snap))
                        .done()
                })
                .collect();
            out.extend(snap.tables.iter().map(|t| {
                Row::new(cols)
                    .set("schemaname", text(&t.schema))
                    .set("tablename", text(&t.name))
                    .set("tableowner", owner_name(snap))
                    .set("hasindexes", Value::Bool(has_index(t)))
                    .set("hastriggers", Value::Bool(has_triggers(t)))
                    .done()
            }));
            out
        }
        // `setting` is the session's value: the binder turns it into
        // `current_setting(name)` (see `pg_catalog::SETTINGS_RELATION`).
        "pg_settings" => crate::sql::settings::params()
            .into_iter()
            .map(|p| {
                Row::new(cols)
                    .set("name", text(p.name))
                    .set("setting", text(p.boot))
                    .set("unit", p.unit.map_or(Value::Null, text))
                    .set("category", text("Ungrouped"))
                    .set("short_desc", text(p.description))
                    .set("context", text(p.context))
                    .set("vartype", text(p.vartype))
                    .set("source", text("default"))
                    .set(
                        "enumvals",
                        p.enumvals.map_or(Value::Null, |v| {
                            Value::Array(v.iter().map(|e| text(e)).collect())
                        }),
                    )
                    .set("boot_val", text(p.boot))
                    .set("reset_val", text(p.boot))
                    .set("pending_restart", Value::Bool(false))
                    .done()
            })
            .collect(),
        "pg_description" => snap
            .comments
            .iter()
            .map(|c| {
                Row::new(cols)
                    .set("objoid", oid(c.objoid))
                    .set("classoid", oid(c.classoid))
                    .set("objsubid", Value::Int4(c.subid))
                    .set("description", text(&c.text))
                    .done()
            })
            .collect(),
        "pg_views" => snap
            .views
            .iter()
            .map(|v| {
                Row::new(cols)
                    .set("schemaname", text(&v.schema))
                    .set("viewname", text(&v.name))
                    .set("viewowner", owner_name(snap))
                    .set("definition", text(&super::view_def(v)))
                    .done()
            })
            .collect(),
        "pg_indexes" => snap
            .all_indexes()
            .iter()
            .map(|i| {
                Row::new(cols)
                    .set("schemaname", text(&i.table.schema))
                    .set("tablename", text(&i.table.name))
                    .set("indexname", text(&i.name))
                    .set("indexdef", text(&super::index_def(snap, i)))
                    .done()
            })
            .collect(),
        "pg_depend" => snap
            .sequences
            .iter()
            .filter_map(|q| {
                let (table, col) = q.owned_by?;
                let identity = snap
                    .table_by_oid(table)
                    .and_then(|t| t.columns.get(col as usize))
                    .is_some_and(|c| c.identity.is_some());
                Some(
                    Row::new(cols)
                        .set("classid", oid(1259))
                        .set("objid", oid(q.oid))
                        .set("refclassid", oid(1259))
                        .set("refobjid", oid(table))
                        .set("refobjsubid", Value::Int4(col as i32 + 1))
                        .set("deptype", ch(if identity { 'i' } else { 'a' }))
                        .done(),
                )
            })
            .collect(),
        // Features arbordb does not have: no rows, PostgreSQL's columns.
        _ => Vec::new(),
    })
}

fn owner_name(snap: &Snapshot) -> Value {
    snap.role_name(snap.owner())
        .map_or(Value::Null, Value::Text)
}

fn has_index(t: &TableDef) -> bool {
    !t.primary_key.is_empty() || !t.indexes.is_empty()
}

/// Foreign keys are triggers in PostgreSQL, on both tables.
fn has_triggers(t: &TableDef) -> bool {
    !t.foreign_keys.is_empty() || !t.referenced_by.is_empty()
}

fn namespaces(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    snap.schemas
        .iter()
        .map(|s| {
            let owner = if s.oid == PUBLIC_OID {
                DATABASE_OWNER_ROLE
            } else {
                snap.owner()
            };
            Row::new(cols)
                .set("oid", oid(s.oid))
                .set("nspname", text(&s.name))
                .set("nspowner", oid(owner))
                .done()
        })
        .collect()
}

fn class_row<'a>(cols: &'a Columns, snap: &Snapshot, o: u32, name: &str, ns: u32) -> Row<'a> {
    Row::new(cols)
        .set("oid", oid(o))
        .set("relname", text(name))
        .set("relnamespace", oid(ns))
        .set("relowner", oid(snap.owner()))
        .set("relfilenode", oid(o))
        .set("reltuples", Value::Float4(-1.0))
        .set("relpersistence", ch('p'))
        .set("relispopulated", Value::Bool(true))
}

fn classes(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in RELATIONS {
        let natts = columns_of(r).len() as i16;
        out.push(
            class_row(cols, snap, r.oid, r.name, PG_CATALOG_OID)
                .set("relam", oid(if r.kind == 'r' { HEAP_AM } else { 0 }))
                .set("relkind", ch(r.kind))
                .set("relnatts", Value::Int2(natts))
                .set("relreplident", ch('n'))
                .set("relhasrules", Value::Bool(r.kind == 'v'))
                .done(),
        );
    }
    for t in &snap.tables {
        let ns = snap.schema_oid(&t.schema);
        out.push(
            class_row(cols, snap, t.oid, &t.name, ns)
                .set("relam", oid(HEAP_AM))
                .set("relkind", ch('r'))
                .set("relnatts", Value::Int2(t.columns.len() as i16))
                .set("relchecks", Value::Int2(t.checks.len() as i16))
                .set("relhasindex", Value::Bool(has_index(t)))
                .set("relhastriggers", Value::Bool(has_triggers(t)))
                .set("relreplident", ch('d'))
                .done(),
        );
        for ix in snap.indexes_of(t) {
            out.push(
                class_row(cols, snap, ix.oid, &ix.name, ns)
                    .set("relam", oid(BTREE_AM))
                    .set("relkind", ch('i'))
                    .set("relnatts", Value::Int2(ix.columns.len() as i16))
                    .set("relreplident", ch('n'))
                    .done(),
            );
        }
    }
    for q in &snap.sequences {
        let ns = snap.schema_oid(&q.schema);
        out.push(
            class_row(cols, snap, q.oid, &q.name, ns)
                .set("relkind", ch('S'))
                .set("relnatts", Value::Int2(3))
                .set("relreplident", ch('n'))
                .done(),
        );
    }
    // A view is a relation with an ON SELECT rule (`_RETURN`).
    for v in &snap.views {
        let ns = snap.schema_oid(&v.schema);
        out.push(
            class_row(cols, snap, v.oid, &v.name, ns)
                .set("relfilenode", oid(0))
                .set("relkind", ch('v'))
                .set("relnatts", Value::Int2(v.columns.len() as i16))
                .set("relhasrules", Value::Bool(true))
                .set("relreplident", ch('n'))
                .done(),
        );
    }
    out
}

/// pg_type's facts about a column type: (oid, typlen, typbyval, typalign,
/// typstorage, collation).
fn type_facts(t: &DataType) -> (u32, i16, bool, char, char, u32) {
    let o = t.oid();
    match TYPES.iter().find(|r| r.0 == o) {
        Some(r) => (o, r.2, r.3, r.13, r.14, r.15),
        None => (o, -1, false, 'i', 'x', 0),
    }
}

fn typmod(t: &DataType) -> i32 {
    match t {
        // PostgreSQL stores (p << 16 | s) + 4 and n + 4 (VARHDRSZ).
        DataType::Numeric(Some((p, s))) => ((i32::from(*p) << 16) | i32::from(*s)) + 4,
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => *n as i32 + 4,
        DataType::Array(e) => typmod(e),
        _ => -1,
    }
}

/// The typmod `format_type` reads back (see [`typmod`]).
pub fn type_with_typmod(type_oid: u32, typmod: i32) -> Option<DataType> {
    let n = (typmod >= 4).then(|| (typmod - 4) as u32);
    let scalar = |o: u32| -> Option<DataType> {
        use DataType::*;
        Some(match o {
            16 => Bool,
            17 => Bytea,
            20 => Int8,
            21 => Int2,
            23 => Int4,
            25 => Text,
            26 => Oid,
            114 => Json,
            700 => Float4,
            701 => Float8,
            1042 => Char(n),
            1043 => Varchar(n),
            1082 => Date,
            1083 => Time,
            1114 => Timestamp,
            1184 => Timestamptz,
            1186 => Interval,
            1700 => Numeric(n.map(|m| ((m >> 16) as u16, (m & 0xFFFF) as u16))),
            2950 => Uuid,
            3802 => Jsonb,
            22 => Vector(crate::types::VectorKind::Int2),
            30 => Vector(crate::types::VectorKind::Oid),
            24 => Reg(crate::types::RegKind::Proc),
            2205 => Reg(crate::types::RegKind::Class),
            2206 => Reg(crate::types::RegKind::Type),
            4089 => Reg(crate::types::RegKind::Namespace),
            4096 => Reg(crate::types::RegKind::Role),
            _ => return None,
        })
    };
    if let Some(t) = scalar(type_oid) {
        return Some(t);
    }
    let row = TYPES.iter().find(|r| r.0 == type_oid)?;
    if row.5 == 'A' && row.7 != 0 {
        return scalar(row.7).map(|e| DataType::Array(Box::new(e)));
    }
    None
}

fn attribute_row<'a>(cols: &'a Columns, rel: u32, num: i16, name: &str, ty: &DataType) -> Row<'a> {
    let (type_oid, len, byval, align, storage, coll) = type_facts(ty);
    Row::new(cols)
        .set("attrelid", oid(rel))
        .set("attname", text(name))
        .set("atttypid", oid(type_oid))
        .set("attstattarget", Value::Int4(-1))
        .set("attlen", Value::Int2(len))
        .set("attnum", Value::Int2(num))
        .set(
            "attndims",
            Value::Int4(i32::from(matches!(ty, DataType::Array(_)))),
        )
        .set("attcacheoff", Value::Int4(-1))
        .set("atttypmod", Value::Int4(typmod(ty)))
        .set("attbyval", Value::Bool(byval))
        .set("attalign", ch(align))
        .set("attstorage", ch(storage))
        .set("attcompression", text(""))
        .set("attidentity", text(""))
        .set("attgenerated", text(""))
        .set("attislocal", Value::Bool(true))
        .set("attcollation", oid(coll))
}

fn attributes(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in RELATIONS {
        for (i, (n, t)) in columns_of(r).iter().enumerate() {
            out.push(attribute_row(cols, r.oid, i as i16 + 1, n, t).done());
        }
    }
    for t in &snap.tables {
        for (i, c) in t.columns.iter().enumerate() {
            let identity = match c.identity {
                Some(crate::catalog::table::Identity::Always) => "a",
                Some(crate::catalog::table::Identity::ByDefault) => "d",
                None => "",
            };
            out.push(
                attribute_row(cols, t.oid, i as i16 + 1, &c.name, &c.data_type)
                    .set("attnotnull", Value::Bool(c.not_null))
                    .set(
                        "atthasdef",
                        Value::Bool(c.default.is_some() && c.identity.is_none()),
                    )
                    .set("atthasmissing", Value::Bool(c.missing.is_some()))
                    .set("attidentity", text(identity))
                    .done(),
            );
        }
        for ix in snap.indexes_of(t) {
            for (i, (c, _)) in ix.columns.iter().enumerate() {
                if let Some(c) = t.columns.get(*c) {
                    out.push(
                        attribute_row(cols, ix.oid, i as i16 + 1, &c.name, &c.data_type).done(),
                    );
                }
            }
        }
    }
    for v in &snap.views {
        for (i, c) in v.columns.iter().enumerate() {
            out.push(attribute_row(cols, v.oid, i as i16 + 1, &c.name, &c.data_type).done());
        }
    }
    for q in &snap.sequences {
        for (i, (n, ty)) in [
            ("last_value", DataType::Int8),
            ("log_cnt", DataType::Int8),
            ("is_called", DataType::Bool),
        ]
        .iter()
        .enumerate()
        {
            out.push(
                attribute_row(cols, q.oid, i as i16 + 1, n, ty)
                    .set("attnotnull", Value::Bool(true))
                    .done(),
            );
        }
    }
    out
}

fn types(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    TYPES
        .iter()
        .map(|r| {
            Row::new(cols)
                .set("oid", oid(r.0))
                .set("typname", text(r.1))
                .set("typnamespace", oid(PG_CATALOG_OID))
                .set("typowner", oid(snap.owner()))
                .set("typlen", Value::Int2(r.2))
                .set("typbyval", Value::Bool(r.3))
                .set("typtype", ch(r.4))
                .set("typcategory", ch(r.5))
                .set("typispreferred", Value::Bool(r.6))
                .set("typisdefined", Value::Bool(true))
                .set("typdelim", ch(','))
                .set(
                    "typsubscript",
                    text(if r.5 == 'A' {
                        "array_subscript_handler"
                    } else {
                        "-"
                    }),
                )
                .set("typelem", oid(r.7))
                .set("typarray", oid(r.8))
                .set("typinput", text(r.9))
                .set("typoutput", text(r.10))
                .set("typreceive", text(r.11))
                .set("typsend", text(r.12))
                .set("typmodin", text("-"))
                .set("typmodout", text("-"))
                .set("typanalyze", text("-"))
                .set("typalign", ch(r.13))
                .set("typstorage", ch(r.14))
                .set("typtypmod", Value::Int4(-1))
                .set("typcollation", oid(r.15))
                .done()
        })
        .collect()
}

fn attrdefs(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in &snap.tables {
        for (i, c) in t.columns.iter().enumerate() {
            let (Some(d), None) = (&c.default, c.identity) else {
                continue;
            };
            out.push(
                Row::new(cols)
                    .set("adrelid", oid(t.oid))
                    .set("adnum", Value::Int2(i as i16 + 1))
                    .set("adbin", text(&super::funcs::default_display(snap, c, d)))
                    .done(),
            );
        }
    }
    out
}

fn indexes(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    snap.all_indexes()
        .iter()
        .map(|ix| {
            let n = ix.columns.len() as i16;
            let collations = ix.columns.iter().map(|(c, _)| {
                ix.table
                    .columns
                    .get(*c)
                    .map_or(0, |c| type_facts(&c.data_type).5)
            });
            Row::new(cols)
                .set("indexrelid", oid(ix.oid))
                .set("indrelid", oid(ix.table.oid))
                .set("indnatts", Value::Int2(n))
                .set("indnkeyatts", Value::Int2(n))
                .set("indisunique", Value::Bool(ix.unique))
                .set("indisprimary", Value::Bool(ix.primary))
                .set("indimmediate", Value::Bool(ix.unique))
                .set("indisvalid", Value::Bool(true))
                .set("indisready", Value::Bool(true))
                .set("indislive", Value::Bool(true))
                .set(
                    "indkey",
                    int2s(ix.columns.iter().map(|(c, _)| *c as i16 + 1)),
                )
                .set("indcollation", oids(collations))
                .set("indclass", oids(ix.columns.iter().map(|_| 0)))
                .set(
                    "indoption",
                    int2s(ix.columns.iter().map(|(_, d)| if *d { 3 } else { 0 })),
                )
                .done()
        })
        .collect()
}

fn fk_action(a: FkAction) -> char {
    match a {
        FkAction::NoAction => 'a',
        FkAction::Restrict => 'r',
        FkAction::Cascade => 'c',
        FkAction::SetNull => 'n',
        FkAction::SetDefault => 'd',
    }
}

fn constraints(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in &snap.tables {
        let ns = snap.schema_oid(&t.schema);
        for c in snap.constraints_of(t) {
            let attnums = |v: &[usize]| int2s(v.iter().map(|c| *c as i16 + 1));
            let mut row = Row::new(cols)
                .set("oid", oid(c.oid))
                .set("conname", text(&c.name))
                .set("connamespace", oid(ns))
                .set("contype", text(c.contype()))
                .set("convalidated", Value::Bool(true))
                .set("conrelid", oid(t.oid))
                .set("confupdtype", text(" "))
                .set("confdeltype", text(" "))
                .set("confmatchtype", text(" "))
                .set("conislocal", Value::Bool(true));
            match c.kind {
                ConstraintKind::PrimaryKey => {
                    row = row
                        .set(
                            "conindid",
                            oid(super::derived_oid(t.oid, super::SLOT_PK_INDEX)),
                        )
                        .set("conkey", attnums(&t.primary_key));
                }
                ConstraintKind::Unique(ix) => {
                    let cols: Vec<usize> = ix.columns.iter().map(|c| c.column).collect();
                    row = row
                        .set("conindid", oid(ix.oid))
                        .set("conkey", attnums(&cols));
                }
                ConstraintKind::Check(ch) => {
                    row = row.set("conkey", attnums(&check_columns(t, &ch.expr))).set(
                        "conbin",
                        text(&super::funcs::check_display(t, &ch.expr, false)),
                    );
                }
                ConstraintKind::ForeignKey(f) => {
                    let target = snap.table_named(&f.ref_schema, &f.ref_table);
                    let index = target.and_then(|rt| {
                        snap.indexes_of(rt)
                            .into_iter()
                            .find(|i| {
                                i.unique && {
                                    let mut a: Vec<usize> =
                                        i.columns.iter().map(|(c, _)| *c).collect();
                                    let mut b = f.ref_columns.clone();
                                    a.sort_unstable();
                                    b.sort_unstable();
                                    a == b
                                }
                            })
                            .map(|i| i.oid)
                    });
                    row = row
                        .set("conindid", oid(index.unwrap_or(0)))
                        .set("confrelid", oid(target.map_or(0, |t| t.oid)))
                        .set("confupdtype", ch(fk_action(f.on_update)))
                        .set("confdeltype", ch(fk_action(f.on_delete)))
                        .set("confmatchtype", ch(if f.match_full { 'f' } else { 's' }))
                        .set("conkey", attnums(&f.columns))
                        .set("confkey", attnums(&f.ref_columns));
                }
            }
            out.push(row.done());
        }
    }
    out
}

/// The columns a CHECK expression names (its `conkey`), in table order.
fn check_columns(t: &TableDef, expr: &str) -> Vec<usize> {
    let words: Vec<String> = expr
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .map(|w| w.to_lowercase())
        .collect();
    t.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| words.contains(&c.name))
        .map(|(i, _)| i)
        .collect()
}

fn roles(snap: &Snapshot, cols: &Columns, masked: bool) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = snap
        .roles
        .iter()
        .map(|r| {
            let password = match (&r.password, masked) {
                (None, _) => Value::Null,
                (Some(_), true) => text("********"),
                // The verifier is not shown (arbordb has no pg_authid
                // privilege check yet).
                (Some(_), false) => Value::Null,
            };
            Row::new(cols)
                .set("oid", oid(r.oid))
                .set("rolname", text(&r.name))
                .set("rolsuper", Value::Bool(r.superuser))
                .set("rolinherit", Value::Bool(r.inherit))
                .set("rolcreaterole", Value::Bool(r.create_role))
                .set("rolcreatedb", Value::Bool(r.create_db))
                .set("rolcanlogin", Value::Bool(r.login))
                .set("rolreplication", Value::Bool(r.replication))
                .set("rolbypassrls", Value::Bool(r.bypass_rls))
                .set("rolconnlimit", Value::Int4(-1))
                .set("rolpassword", password)
                .done()
        })
        .collect();
    out.push(
        Row::new(cols)
            .set("oid", oid(DATABASE_OWNER_ROLE))
            .set("rolname", text("pg_database_owner"))
            .set("rolinherit", Value::Bool(true))
            .set("rolconnlimit", Value::Int4(-1))
            .done(),
    );
    out
}
