//! `information_schema`'s views, computed from the same [`Snapshot`] as
//! `pg_catalog`'s relations: what tools written against the SQL standard
//! (ORMs, schema browsers, migration tools) read instead of `pg_class`.
//!
//! ```text
//!   FROM information_schema.columns ──▶ rows(snapshot) ──▶ Values
//! ```
//!
//! Columns and their order are PostgreSQL 15's. Its domains are their base
//! types, as PostgreSQL's RowDescription sends them: `sql_identifier` is
//! text (arbordb's `name`), `cardinal_number` integer, `character_data`
//! and `yes_or_no` text. Rows follow PostgreSQL 15's definitions of the
//! views for a superuser (who may see every object): system relations are
//! listed too, NOT NULL columns are CHECK constraints named
//! `{schema oid}_{table oid}_{attnum}_not_null`.
//!
//! Owns: the rows. Never: writes the catalog.

use crate::catalog::FkAction;
use crate::catalog::schema::PG_CATALOG;
use crate::types::{DataType, Value};

use super::data::RELATIONS;
use super::{ConstraintKind, Snapshot, columns_of};

/// The schema these views live in.
pub const INFORMATION_SCHEMA: &str = "information_schema";

/// The catalog name every row reports (`current_database()`).
const CATALOG: &str = "arbordb";

/// An `information_schema` view: name, columns as `name:type`.
pub struct InfoView {
    pub name: &'static str,
    pub columns: &'static str,
}

pub const VIEWS: &[InfoView] = &[
    InfoView {
        name: "schemata",
        columns: "catalog_name:name,schema_name:name,schema_owner:name,default_character_set_catalog:name,default_character_set_schema:name,default_character_set_name:name,sql_path:text",
    },
    InfoView {
        name: "tables",
        columns: "table_catalog:name,table_schema:name,table_name:name,table_type:text,self_referencing_column_name:name,reference_generation:text,user_defined_type_catalog:name,user_defined_type_schema:name,user_defined_type_name:name,is_insertable_into:text,is_typed:text,commit_action:text",
    },
    InfoView {
        name: "columns",
        columns: "table_catalog:name,table_schema:name,table_name:name,column_name:name,ordinal_position:integer,column_default:text,is_nullable:text,data_type:text,character_maximum_length:integer,character_octet_length:integer,numeric_precision:integer,numeric_precision_radix:integer,numeric_scale:integer,datetime_precision:integer,interval_type:text,interval_precision:integer,character_set_catalog:name,character_set_schema:name,character_set_name:name,collation_catalog:name,collation_schema:name,collation_name:name,domain_catalog:name,domain_schema:name,domain_name:name,udt_catalog:name,udt_schema:name,udt_name:name,scope_catalog:name,scope_schema:name,scope_name:name,maximum_cardinality:integer,dtd_identifier:name,is_self_referencing:text,is_identity:text,identity_generation:text,identity_start:text,identity_increment:text,identity_maximum:text,identity_minimum:text,identity_cycle:text,is_generated:text,generation_expression:text,is_updatable:text",
    },
    InfoView {
        name: "views",
        columns: "table_catalog:name,table_schema:name,table_name:name,view_definition:text,check_option:text,is_updatable:text,is_insertable_into:text,is_trigger_updatable:text,is_trigger_deletable:text,is_trigger_insertable_into:text",
    },
    InfoView {
        name: "table_constraints",
        columns: "constraint_catalog:name,constraint_schema:name,constraint_name:name,table_catalog:name,table_schema:name,table_name:name,constraint_type:text,is_deferrable:text,initially_deferred:text,enforced:text,nulls_distinct:text",
    },
    InfoView {
        name: "key_column_usage",
        columns: "constraint_catalog:name,constraint_schema:name,constraint_name:name,table_catalog:name,table_schema:name,table_name:name,column_name:name,ordinal_position:integer,position_in_unique_constraint:integer",
    },
    InfoView {
        name: "referential_constraints",
        columns: "constraint_catalog:name,constraint_schema:name,constraint_name:name,unique_constraint_catalog:name,unique_constraint_schema:name,unique_constraint_name:name,match_option:text,update_rule:text,delete_rule:text",
    },
    InfoView {
        name: "constraint_column_usage",
        columns: "table_catalog:name,table_schema:name,table_name:name,column_name:name,constraint_catalog:name,constraint_schema:name,constraint_name:name",
    },
    InfoView {
        name: "check_constraints",
        columns: "constraint_catalog:name,constraint_schema:name,constraint_name:name,check_clause:text",
    },
    InfoView {
        name: "sequences",
        columns: "sequence_catalog:name,sequence_schema:name,sequence_name:name,data_type:text,numeric_precision:integer,numeric_precision_radix:integer,numeric_scale:integer,start_value:text,minimum_value:text,maximum_value:text,increment:text,cycle_option:text",
    },
];

/// The columns of view `v`.
pub fn view_columns(v: &InfoView) -> Vec<(&'static str, DataType)> {
    v.columns
        .split(',')
        .filter_map(|c| c.split_once(':'))
        .map(|(n, t)| {
            let ty = if t == "integer" {
                DataType::Int4
            } else {
                DataType::Text
            };
            (n, ty)
        })
        .collect()
}

type Columns = [(&'static str, DataType)];

/// A row built by column name; columns not set are NULL.
struct Row<'a> {
    cols: &'a Columns,
    values: Vec<Value>,
}

impl<'a> Row<'a> {
    fn new(cols: &'a Columns) -> Row<'a> {
        Row {
            cols,
            values: vec![Value::Null; cols.len()],
        }
    }

    fn set(mut self, name: &str, v: Value) -> Row<'a> {
        if let Some(i) = self.cols.iter().position(|(n, _)| *n == name) {
            self.values[i] = v;
        }
        self
    }

    fn text(self, name: &str, s: &str) -> Row<'a> {
        self.set(name, Value::Text(s.to_string()))
    }

    fn int(self, name: &str, n: Option<i32>) -> Row<'a> {
        self.set(name, n.map_or(Value::Null, Value::Int4))
    }

    fn yes(self, name: &str, b: bool) -> Row<'a> {
        self.text(name, if b { "YES" } else { "NO" })
    }

    fn done(self) -> Vec<Value> {
        self.values
    }
}

/// The rows of view `name`.
pub fn rows(name: &str, snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    match name {
        "schemata" => schemata(snap, cols),
        "tables" => tables(snap, cols),
        "columns" => columns(snap, cols),
        "views" => snap
            .views
            .iter()
            .map(|v| {
                Row::new(cols)
                    .text("table_catalog", CATALOG)
                    .text("table_schema", &v.schema)
                    .text("table_name", &v.name)
                    .text("view_definition", &super::view_def(v))
                    .text("check_option", "NONE")
                    // arbordb's views are read-only (no auto-updatable
                    // views yet), unlike PostgreSQL's simple ones.
                    .yes("is_updatable", false)
                    .yes("is_insertable_into", false)
                    .yes("is_trigger_updatable", false)
                    .yes("is_trigger_deletable", false)
                    .yes("is_trigger_insertable_into", false)
                    .done()
            })
            .collect(),
        "table_constraints" => table_constraints(snap, cols),
        "key_column_usage" => key_column_usage(snap, cols),
        "referential_constraints" => referential_constraints(snap, cols),
        "constraint_column_usage" => constraint_column_usage(snap, cols),
        "check_constraints" => check_constraints(snap, cols),
        // An identity column's sequence is the column's, not listed.
        "sequences" => snap
            .sequences
            .iter()
            .filter(|q| !is_identity_sequence(snap, q))
            .map(|q| {
                let (precision, _) = numeric_facts(&q.data_type);
                Row::new(cols)
                    .text("sequence_catalog", CATALOG)
                    .text("sequence_schema", &q.schema)
                    .text("sequence_name", &q.name)
                    .text("data_type", &q.data_type.name())
                    .int("numeric_precision", precision)
                    .int("numeric_precision_radix", Some(2))
                    .int("numeric_scale", Some(0))
                    .text("start_value", &q.start.to_string())
                    .text("minimum_value", &q.min.to_string())
                    .text("maximum_value", &q.max.to_string())
                    .text("increment", &q.increment.to_string())
                    .yes("cycle_option", q.cycle)
                    .done()
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn is_identity_sequence(snap: &Snapshot, q: &crate::catalog::SequenceDef) -> bool {
    q.owned_by.is_some_and(|(table, col)| {
        snap.table_by_oid(table)
            .and_then(|t| t.columns.get(col as usize))
            .is_some_and(|c| c.identity.is_some())
    })
}

fn schemata(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    snap.schemas
        .iter()
        .map(|s| {
            let owner = if s.oid == crate::catalog::schema::PUBLIC_OID {
                "pg_database_owner".to_string()
            } else {
                snap.role_name(snap.owner()).unwrap_or_default()
            };
            Row::new(cols)
                .text("catalog_name", CATALOG)
                .text("schema_name", &s.name)
                .text("schema_owner", &owner)
                .done()
        })
        .collect()
}

fn table_row<'a>(cols: &'a Columns, schema: &str, name: &str, kind: &str) -> Row<'a> {
    Row::new(cols)
        .text("table_catalog", CATALOG)
        .text("table_schema", schema)
        .text("table_name", name)
        .text("table_type", kind)
        .yes("is_insertable_into", kind == "BASE TABLE")
        .yes("is_typed", false)
}

fn tables(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in RELATIONS {
        let kind = if r.kind == 'v' { "VIEW" } else { "BASE TABLE" };
        out.push(table_row(cols, PG_CATALOG, r.name, kind).done());
    }
    for v in VIEWS {
        out.push(table_row(cols, INFORMATION_SCHEMA, v.name, "VIEW").done());
    }
    for t in &snap.tables {
        out.push(table_row(cols, &t.schema, &t.name, "BASE TABLE").done());
    }
    for v in &snap.views {
        out.push(table_row(cols, &v.schema, &v.name, "VIEW").done());
    }
    out
}

/// (numeric_precision, numeric_scale) of a numeric type, PostgreSQL's
/// binary precision for integers and floats.
fn numeric_facts(t: &DataType) -> (Option<i32>, Option<i32>) {
    match t {
        DataType::Int2 => (Some(16), Some(0)),
        DataType::Int4 => (Some(32), Some(0)),
        DataType::Int8 => (Some(64), Some(0)),
        DataType::Float4 => (Some(24), None),
        DataType::Float8 => (Some(53), None),
        DataType::Numeric(Some((p, s))) => (Some(i32::from(*p)), Some(i32::from(*s))),
        _ => (None, None),
    }
}

/// The type facts of one column row of `information_schema.columns`.
fn column_type_row<'a>(row: Row<'a>, t: &DataType) -> Row<'a> {
    let data_type = match t {
        DataType::Array(_) => "ARRAY".to_string(),
        t => super::funcs::format_type(t.oid(), -1),
    };
    let (precision, scale) = numeric_facts(t);
    let radix = match t {
        DataType::Numeric(_) => Some(10),
        _ if precision.is_some() => Some(2),
        _ => None,
    };
    // UTF-8: up to 4 bytes a character; 1 GB for unbounded strings.
    let (max_len, octets) = match t {
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => {
            (Some(*n as i32), Some(*n as i32 * 4))
        }
        DataType::Char(None) => (Some(1), Some(4)),
        DataType::Varchar(None) | DataType::Text => (None, Some(1_073_741_824)),
        _ => (None, None),
    };
    let datetime = match t {
        DataType::Date => Some(0),
        DataType::Time | DataType::Timestamp | DataType::Timestamptz | DataType::Interval => {
            Some(6)
        }
        _ => None,
    };
    let udt = super::data::TYPES
        .iter()
        .find(|r| r.0 == t.oid())
        .map_or_else(|| t.name(), |r| r.1.to_string());
    row.text("data_type", &data_type)
        .int("character_maximum_length", max_len)
        .int("character_octet_length", octets)
        .int("numeric_precision", precision)
        .int("numeric_precision_radix", radix)
        .int("numeric_scale", scale)
        .int("datetime_precision", datetime)
        .text("udt_catalog", CATALOG)
        .text("udt_schema", PG_CATALOG)
        .text("udt_name", &udt)
        .yes("is_self_referencing", false)
        .yes("identity_cycle", false)
        .text("is_generated", "NEVER")
}

fn column_row<'a>(cols: &'a Columns, schema: &str, table: &str, pos: usize, name: &str) -> Row<'a> {
    Row::new(cols)
        .text("table_catalog", CATALOG)
        .text("table_schema", schema)
        .text("table_name", table)
        .text("column_name", name)
        .int("ordinal_position", Some(pos as i32 + 1))
        .text("dtd_identifier", &(pos + 1).to_string())
        .yes("is_identity", false)
}

fn columns(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for r in RELATIONS {
        for (i, (n, t)) in columns_of(r).iter().enumerate() {
            let row = column_row(cols, PG_CATALOG, r.name, i, n).yes("is_nullable", true);
            out.push(
                column_type_row(row, t)
                    .yes("is_updatable", r.kind == 'r')
                    .done(),
            );
        }
    }
    for v in VIEWS {
        for (i, (n, t)) in view_columns(v).iter().enumerate() {
            let row = column_row(cols, INFORMATION_SCHEMA, v.name, i, n).yes("is_nullable", true);
            out.push(column_type_row(row, t).yes("is_updatable", false).done());
        }
    }
    for t in &snap.tables {
        for (i, c) in t.columns.iter().enumerate() {
            let not_null = c.not_null || t.primary_key.contains(&i);
            let mut row = column_row(cols, &t.schema, &t.name, i, &c.name)
                .yes("is_nullable", !not_null)
                .yes("is_updatable", true);
            if let Some(d) = c.default.as_deref().filter(|_| c.identity.is_none()) {
                row = row.text("column_default", &super::funcs::default_display(snap, c, d));
            }
            row = column_type_row(row, &c.data_type);
            if let Some(identity) = c.identity {
                let generation = match identity {
                    crate::catalog::table::Identity::Always => "ALWAYS",
                    crate::catalog::table::Identity::ByDefault => "BY DEFAULT",
                };
                row = row
                    .yes("is_identity", true)
                    .text("identity_generation", generation);
                let seq = snap
                    .sequences
                    .iter()
                    .find(|q| q.owned_by == Some((t.oid, i as u16)));
                if let Some(q) = seq {
                    row = row
                        .text("identity_start", &q.start.to_string())
                        .text("identity_increment", &q.increment.to_string())
                        .text("identity_maximum", &q.max.to_string())
                        .text("identity_minimum", &q.min.to_string())
                        .yes("identity_cycle", q.cycle);
                }
            }
            out.push(row.done());
        }
    }
    for v in &snap.views {
        for (i, c) in v.columns.iter().enumerate() {
            let row = column_row(cols, &v.schema, &v.name, i, &c.name)
                .yes("is_nullable", true)
                .yes("is_updatable", false);
            out.push(column_type_row(row, &c.data_type).done());
        }
    }
    out
}

/// The NOT NULL constraints PostgreSQL 15 lists as CHECKs: (name, column).
fn not_null_checks<'a>(snap: &Snapshot, t: &'a crate::catalog::TableDef) -> Vec<(String, &'a str)> {
    let ns = snap.schema_oid(&t.schema);
    t.columns
        .iter()
        .enumerate()
        .filter(|(i, c)| c.not_null || t.primary_key.contains(i))
        .map(|(i, c)| {
            (
                format!("{ns}_{}_{}_not_null", t.oid, i + 1),
                c.name.as_str(),
            )
        })
        .collect()
}

fn constraint_row<'a>(cols: &'a Columns, t: &crate::catalog::TableDef, name: &str) -> Row<'a> {
    Row::new(cols)
        .text("constraint_catalog", CATALOG)
        .text("constraint_schema", &t.schema)
        .text("constraint_name", name)
        .text("table_catalog", CATALOG)
        .text("table_schema", &t.schema)
        .text("table_name", &t.name)
}

fn table_constraints(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in &snap.tables {
        for c in snap.constraints_of(t) {
            let (kind, nulls_distinct) = match c.kind {
                ConstraintKind::PrimaryKey => ("PRIMARY KEY", None),
                ConstraintKind::Unique(_) => ("UNIQUE", Some(true)),
                ConstraintKind::Check(_) => ("CHECK", None),
                ConstraintKind::ForeignKey(_) => ("FOREIGN KEY", None),
            };
            let mut row = constraint_row(cols, t, &c.name)
                .text("constraint_type", kind)
                .yes("is_deferrable", false)
                .yes("initially_deferred", false)
                .yes("enforced", true);
            if let Some(d) = nulls_distinct {
                row = row.yes("nulls_distinct", d);
            }
            out.push(row.done());
        }
        for (name, _) in not_null_checks(snap, t) {
            out.push(
                constraint_row(cols, t, &name)
                    .text("constraint_type", "CHECK")
                    .yes("is_deferrable", false)
                    .yes("initially_deferred", false)
                    .yes("enforced", true)
                    .done(),
            );
        }
    }
    out
}

/// The columns (positions in `t`) of a primary key, UNIQUE or foreign
/// key constraint; none for a CHECK.
fn key_columns(t: &crate::catalog::TableDef, kind: &ConstraintKind<'_>) -> Vec<usize> {
    match kind {
        ConstraintKind::PrimaryKey => t.primary_key.clone(),
        ConstraintKind::Unique(ix) => ix.columns.iter().map(|c| c.column).collect(),
        ConstraintKind::ForeignKey(f) => f.columns.clone(),
        ConstraintKind::Check(_) => Vec::new(),
    }
}

fn key_column_usage(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in &snap.tables {
        for c in snap.constraints_of(t) {
            for (k, col) in key_columns(t, &c.kind).into_iter().enumerate() {
                let Some(column) = t.columns.get(col) else {
                    continue;
                };
                // A foreign key column's position in the referenced key.
                let in_unique = match c.kind {
                    ConstraintKind::ForeignKey(_) => Some(k as i32 + 1),
                    _ => None,
                };
                out.push(
                    constraint_row(cols, t, &c.name)
                        .text("column_name", &column.name)
                        .int("ordinal_position", Some(k as i32 + 1))
                        .int("position_in_unique_constraint", in_unique)
                        .done(),
                );
            }
        }
    }
    out
}

fn rule_name(a: FkAction) -> &'static str {
    match a {
        FkAction::NoAction => "NO ACTION",
        FkAction::Restrict => "RESTRICT",
        FkAction::Cascade => "CASCADE",
        FkAction::SetNull => "SET NULL",
        FkAction::SetDefault => "SET DEFAULT",
    }
}

/// The name of the primary key or UNIQUE constraint of `schema.table`
/// over exactly `columns` (what a foreign key references).
fn unique_constraint_over(
    snap: &Snapshot,
    schema: &str,
    table: &str,
    columns: &[usize],
) -> Option<String> {
    let t = snap.table_named(schema, table)?;
    snap.constraints_of(t)
        .into_iter()
        .find(|c| {
            let mut have = key_columns(t, &c.kind);
            let mut want = columns.to_vec();
            have.sort_unstable();
            want.sort_unstable();
            matches!(
                c.kind,
                ConstraintKind::PrimaryKey | ConstraintKind::Unique(_)
            ) && have == want
        })
        .map(|c| c.name)
}

fn referential_constraints(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for t in &snap.tables {
        for f in &t.foreign_keys {
            let unique = unique_constraint_over(snap, &f.ref_schema, &f.ref_table, &f.ref_columns);
            let mut row = Row::new(cols)
                .text("constraint_catalog", CATALOG)
                .text("constraint_schema", &t.schema)
                .text("constraint_name", &f.name)
                .text("match_option", if f.match_full { "FULL" } else { "NONE" })
                .text("update_rule", rule_name(f.on_update))
                .text("delete_rule", rule_name(f.on_delete));
            if let Some(u) = unique {
                row = row
                    .text("unique_constraint_catalog", CATALOG)
                    .text("unique_constraint_schema", &f.ref_schema)
                    .text("unique_constraint_name", &u);
            }
            out.push(row.done());
        }
    }
    out
}

fn constraint_column_usage(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut push = |table: &crate::catalog::TableDef,
                    column: &str,
                    owner: &crate::catalog::TableDef,
                    name: &str| {
        out.push(
            Row::new(cols)
                .text("table_catalog", CATALOG)
                .text("table_schema", &table.schema)
                .text("table_name", &table.name)
                .text("column_name", column)
                .text("constraint_catalog", CATALOG)
                .text("constraint_schema", &owner.schema)
                .text("constraint_name", name)
                .done(),
        );
    };
    for t in &snap.tables {
        for c in snap.constraints_of(t) {
            match c.kind {
                // A foreign key uses the referenced table's columns.
                ConstraintKind::ForeignKey(f) => {
                    if let Some(r) = snap.table_named(&f.ref_schema, &f.ref_table) {
                        for &col in &f.ref_columns {
                            if let Some(column) = r.columns.get(col) {
                                push(r, &column.name, t, &c.name);
                            }
                        }
                    }
                }
                ConstraintKind::Check(check) => {
                    for column in &t.columns {
                        if super::super::alter_columns::mentions_identifier(
                            &check.expr,
                            &column.name,
                        ) {
                            push(t, &column.name, t, &c.name);
                        }
                    }
                }
                _ => {
                    for col in key_columns(t, &c.kind) {
                        if let Some(column) = t.columns.get(col) {
                            push(t, &column.name, t, &c.name);
                        }
                    }
                }
            }
        }
    }
    out
}

fn check_constraints(snap: &Snapshot, cols: &Columns) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let row = |t: &crate::catalog::TableDef, name: &str, clause: &str| {
        Row::new(cols)
            .text("constraint_catalog", CATALOG)
            .text("constraint_schema", &t.schema)
            .text("constraint_name", name)
            .text("check_clause", clause)
            .done()
    };
    for t in &snap.tables {
        for c in snap.constraints_of(t) {
            if let ConstraintKind::Check(_) = c.kind {
                let def = super::constraint_def(snap, &c, false);
                let clause = def.strip_prefix("CHECK ").unwrap_or(&def);
                out.push(row(t, &c.name, clause));
            }
        }
        for (name, column) in not_null_checks(snap, t) {
            out.push(row(
                t,
                &name,
                &format!("{} IS NOT NULL", super::funcs::quote_ident(column)),
            ));
        }
    }
    out
}
