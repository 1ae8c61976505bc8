//! `regclass`, `regtype`, `regnamespace`, `regproc`, `regrole`: their
//! input (a name, looked up as PostgreSQL does, or a number) and output
//! (the name, qualified only when the search path would not find it).
//!
//! ```text
//!   't'::regclass          -> 16397     (public.t, found on the path)
//!   16397::regclass::text  -> 't'       ('s.t' when not visible)
//!   0::regclass            -> '-'       (unknown oids print as numbers)
//! ```

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, RegKind, Value};

use super::data::{PROCS, TYPES};
use super::funcs::{format_type, quote_ident};
use super::{Snapshot, relation_display};

/// Splits `a.b` / `"A".b` into its parts, unquoted names folded to lower case.
pub(crate) fn split_name(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = text.trim().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
        } else if c == '"' {
            quoted = true;
        } else if c == '.' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.extend(c.to_lowercase());
        }
    }
    parts.push(cur);
    parts
}

/// The oid a reg* literal names; PostgreSQL's error when there is none.
pub fn input(snap: &Snapshot, kind: RegKind, text: &str) -> Result<u32> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u32>().map_err(|_| {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("value \"{t}\" is out of range for type oid"),
            )
        });
    }
    if t == "-" {
        return Ok(0);
    }
    match kind {
        RegKind::Class => {
            let parts = split_name(t);
            let found = match parts.as_slice() {
                [name] => snap.path.iter().find_map(|s| snap.relation_oid(s, name)),
                [schema, name] | [_, schema, name] => snap.relation_oid(schema, name),
                _ => None,
            };
            found.ok_or_else(|| super::funcs::undefined_relation(t))
        }
        RegKind::Namespace => {
            let parts = split_name(t);
            match parts.as_slice() {
                [name] => snap
                    .schemas
                    .iter()
                    .find(|s| s.name == *name)
                    .map(|s| s.oid)
                    .ok_or_else(|| {
                        Error::new(
                            SqlState("3F000"),
                            format!("schema \"{name}\" does not exist"),
                        )
                    }),
                _ => Err(Error::new(SqlState::SYNTAX_ERROR, "invalid name syntax")),
            }
        }
        RegKind::Role => {
            let parts = split_name(t);
            let name = parts.first().cloned().unwrap_or_default();
            if name == "pg_database_owner" {
                return Ok(super::DATABASE_OWNER_ROLE);
            }
            snap.roles
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.oid)
                .ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("role \"{name}\" does not exist"),
                    )
                })
        }
        RegKind::Proc => {
            let parts = split_name(t);
            let name = parts.last().cloned().unwrap_or_default();
            let hits: Vec<u32> = PROCS.iter().filter(|p| p.1 == name).map(|p| p.0).collect();
            match hits.as_slice() {
                [o] => Ok(*o),
                [] => Err(Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("function \"{t}\" does not exist"),
                )),
                _ => Err(Error::new(
                    SqlState::AMBIGUOUS_FUNCTION,
                    format!("more than one function named \"{t}\""),
                )),
            }
        }
        RegKind::Type => type_input(t).ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!("type \"{t}\" does not exist"),
            )
        }),
    }
}

/// A type name as `regtype` reads it (`integer`, `int4`, `varchar`,
/// `character varying`, `text[]`, …).
fn type_input(t: &str) -> Option<u32> {
    let lower = t.to_lowercase();
    let name = lower.strip_prefix("pg_catalog.").unwrap_or(&lower).trim();
    if let Some(elem) = name.strip_suffix("[]") {
        let e = type_input(elem)?;
        return TYPES
            .iter()
            .find(|r| r.0 == e)
            .map(|r| r.8)
            .filter(|a| *a != 0);
    }
    // Drop a modifier: `varchar(10)`, `numeric(10,2)`.
    let base = name.split('(').next().unwrap_or(name).trim();
    let alias = match base {
        "integer" | "int" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "boolean" => "bool",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "character varying" => "varchar",
        "character" | "char" => "bpchar",
        "\"char\"" => "char",
        "decimal" => "numeric",
        "timestamp without time zone" | "timestamp" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" | "time" => "time",
        other => other,
    };
    TYPES.iter().find(|r| r.1 == alias).map(|r| r.0)
}

/// The text a reg* value prints as.
pub fn output(snap: &Snapshot, kind: RegKind, o: u32) -> String {
    if o == 0 {
        return "-".into();
    }
    let found = match kind {
        RegKind::Class => snap
            .relation_by_oid(o)
            .map(|(s, n, _)| relation_display(snap, &s, &n)),
        RegKind::Type => TYPES.iter().any(|r| r.0 == o).then(|| format_type(o, -1)),
        RegKind::Namespace => snap.schema_name(o).map(quote_ident),
        RegKind::Role => snap.role_name(o).map(|n| quote_ident(&n)),
        RegKind::Proc => PROCS.iter().find(|p| p.0 == o).map(|p| p.1.to_string()),
    };
    found.unwrap_or_else(|| o.to_string())
}

/// Converts the reg* values of a result to their text (the types' output
/// functions run with the catalog, when the rows are sent), and the
/// int2vector / oidvector values to theirs.
pub fn output_rows(snap: &Snapshot, types: &[DataType], rows: &mut [Vec<Value>]) {
    for row in rows.iter_mut() {
        for (v, t) in row.iter_mut().zip(types) {
            convert(snap, t, v);
        }
    }
}

fn convert(snap: &Snapshot, t: &DataType, v: &mut Value) {
    match (t, &mut *v) {
        (DataType::Reg(k), Value::Int8(o)) => *v = Value::Text(output(snap, *k, *o as u32)),
        (DataType::Record(fields), Value::Array(items)) => {
            for ((_, t), item) in fields.iter().zip(items.iter_mut()) {
                convert(snap, t, item);
            }
            *v = Value::Text(record_text(items));
        }
        // int2vector / oidvector print space-separated.
        (DataType::Vector(_), Value::Array(items)) => {
            let parts: Vec<String> = items.iter().map(Value::to_text).collect();
            *v = Value::Text(parts.join(" "));
        }
        (DataType::Array(e), Value::Array(items)) => {
            for item in items.iter_mut() {
                convert(snap, e, item);
            }
        }
        _ => {}
    }
}

/// A record's text (`record_out`): `(a,b)`, NULL fields empty, a field
/// quoted when it is empty or holds `"`, `\\`, `(`, `)`, `,` or white space.
fn record_text(items: &[Value]) -> String {
    let mut out = String::from("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if item.is_null() {
            continue;
        }
        let t = item.to_text();
        let quote = t.is_empty()
            || t.chars()
                .any(|c| matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_whitespace());
        if quote {
            out.push('"');
            for c in t.chars() {
                if c == '"' || c == '\\' {
                    out.push(c);
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&t);
        }
    }
    out.push(')');
    out
}

/// Whether any of `types` prints through [`output_rows`].
pub fn needs_output(types: &[DataType]) -> bool {
    fn reg(t: &DataType) -> bool {
        match t {
            DataType::Reg(_) | DataType::Vector(_) | DataType::Record(_) => true,
            DataType::Array(e) => reg(e),
            _ => false,
        }
    }
    types.iter().any(reg)
}
