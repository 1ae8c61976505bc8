//! `COMMENT ON { TABLE | VIEW | INDEX | SEQUENCE | COLUMN | SCHEMA } name
//! IS 'text' | NULL`: the object is found as PostgreSQL finds it (a
//! relation along `search_path`, `table.column`, a schema by name), with
//! its errors (42P01, 42703, 3F000, 42809 for a relation of another kind),
//! and the comment is stored in the catalog ([`crate::catalog::comment`]).
//! `obj_description`, `col_description` and `pg_description` read them
//! ([`super::pg_catalog`]).

use sqlparser::ast::{self, CommentObject};

use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::types::RegKind;

use super::bind::object_name;
use super::pg_catalog::{self, reg};
use super::scan::lock_txn;
use super::session::StmtCx;
use super::view::WRONG_OBJECT_TYPE;

/// `pg_class` and `pg_namespace`: the classes of commented objects.
pub const PG_CLASS: u32 = 1259;
pub const PG_NAMESPACE: u32 = 2615;

/// Runs one COMMENT statement.
pub fn comment_on(
    cx: &StmtCx<'_>,
    object_type: &CommentObject,
    name: &ast::ObjectName,
    comment: Option<&str>,
) -> Result<StatementResult> {
    cx.check_writable("COMMENT")?;
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let snap = pg_catalog::snapshot(catalog, &mut txn)?;
    let parts = object_name(name);
    let quoted = |p: &[String]| {
        p.iter()
            .map(|s| super::string_functions::quote_ident(s))
            .collect::<Vec<_>>()
            .join(".")
    };
    let (objoid, classoid, subid) = match object_type {
        CommentObject::Schema => {
            let [schema] = parts.as_slice() else {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    "schema name cannot be qualified",
                ));
            };
            let Some(s) = snap.schemas.iter().find(|s| s.name == *schema) else {
                return Err(Error::new(
                    super::namespace::INVALID_SCHEMA_NAME,
                    format!("schema \"{schema}\" does not exist"),
                ));
            };
            (s.oid, PG_NAMESPACE, 0)
        }
        CommentObject::Column => {
            let Some((column, relation)) = parts.split_last() else {
                return Err(Error::internal("empty column name"));
            };
            if relation.is_empty() {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    "column name must be qualified",
                ));
            }
            let oid = reg::input(&snap, RegKind::Class, &quoted(relation))?;
            let columns: Vec<&str> = if let Some(t) = snap.table_by_oid(oid) {
                t.columns.iter().map(|c| c.name.as_str()).collect()
            } else if let Some(v) = snap.view_by_oid(oid) {
                v.columns.iter().map(|c| c.name.as_str()).collect()
            } else {
                return Err(wrong_kind(relation, "a table, view or sequence"));
            };
            let Some(pos) = columns.iter().position(|c| c == column) else {
                let rel = relation.last().cloned().unwrap_or_default();
                return Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!("column \"{column}\" of relation \"{rel}\" does not exist"),
                ));
            };
            (oid, PG_CLASS, pos as i32 + 1)
        }
        kind @ (CommentObject::Table
        | CommentObject::View
        | CommentObject::Index
        | CommentObject::Sequence) => {
            let oid = reg::input(&snap, RegKind::Class, &quoted(&parts))?;
            let relkind = snap.relation_by_oid(oid).map(|(_, _, k)| k);
            let (want, what) = match kind {
                CommentObject::Table => ('r', "a table"),
                CommentObject::View => ('v', "a view"),
                CommentObject::Index => ('i', "an index"),
                _ => ('S', "a sequence"),
            };
            if relkind != Some(want) {
                return Err(wrong_kind(&parts, what));
            }
            (oid, PG_CLASS, 0)
        }
        other => {
            return Err(Error::unsupported(format!("COMMENT ON {other}")));
        }
    };
    // An empty comment removes it, as in PostgreSQL.
    let text = comment.filter(|c| !c.is_empty());
    catalog.set_comment(&mut txn, objoid, classoid, subid, text)?;
    Ok(StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: "COMMENT".into(),
    })
}

fn wrong_kind(parts: &[String], what: &str) -> Error {
    let name = parts.last().cloned().unwrap_or_default();
    Error::new(WRONG_OBJECT_TYPE, format!("\"{name}\" is not {what}"))
}
