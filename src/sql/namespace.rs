//! Schemas from SQL: `search_path` resolution of relation names, the
//! schema a CREATE puts an unqualified object in, CREATE SCHEMA and
//! DROP SCHEMA [CASCADE | RESTRICT].
//!
//! ```text
//!  search_path = '"$user", public'   session_authorization = alice
//!    t           -> alice.t if schema alice exists and has t, else public.t
//!    s.t         -> s.t (3F000 if there is no schema s)
//!    db.s.t      -> s.t
//!    CREATE t    -> the first schema of the path that exists (3F000 if none)
//! ```
//!
//! The session hands each statement's thread its `search_path`, its user
//! and the catalog ([`set_context`]), as it hands over the time zone, so
//! every name lookup of the statement resolves the same way without
//! threading the settings through every binder call.
//!
//! Owns: parsing `search_path` (`"$user"`, quoted names, commas), the
//! order of lookup, PostgreSQL's messages for schemas (3F000, 42P06,
//! 2BP01, 42939 for `pg_` names).
//! Never: reads rows of tables; DROP SCHEMA CASCADE drops the relations
//! through the catalog as DROP TABLE does.

use std::cell::RefCell;

use sqlparser::ast;

use crate::catalog::Catalog;
use crate::catalog::schema::PG_CATALOG;
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::txn::Transaction;

use super::bind::{ident_name, object_name};
use super::scan::lock_txn;
use super::session::StmtCx;
use super::signals::{Notice, notice};

/// 3F000.
pub const INVALID_SCHEMA_NAME: SqlState = SqlState("3F000");
/// 2BP01.
pub const DEPENDENT_OBJECTS_STILL_EXIST: SqlState = SqlState("2BP01");

#[derive(Default)]
struct Context {
    search_path: String,
    user: String,
    catalog: Option<Catalog>,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
}

/// Gives this thread the session's `search_path`, user and catalog (the
/// session does this before each statement).
pub fn set_context(search_path: &str, user: &str, catalog: Option<Catalog>) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        // Into the strings already there (no allocation per statement).
        c.search_path.clear();
        c.search_path.push_str(search_path);
        c.user.clear();
        c.user.push_str(user);
        c.catalog = catalog;
    });
}

/// Forgets this thread's catalog (a database closing: see
/// `sequence::clear_context`).
pub fn clear_context() {
    CONTEXT.with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.catalog = None;
        }
    });
}

/// Runs `f` with `search_path` set to exactly `schemas` (a view's query
/// binds with the path it was created under), then restores the path.
pub fn with_search_path<T>(schemas: &[String], f: impl FnOnce() -> T) -> T {
    let path = schemas
        .iter()
        .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let saved = CONTEXT.with(|c| std::mem::replace(&mut c.borrow_mut().search_path, path));
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(p) = self.0.take() {
                CONTEXT.with(|c| c.borrow_mut().search_path = p);
            }
        }
    }
    let _restore = Restore(Some(saved));
    f()
}

/// The schema names of `search_path`, in order, `$user` replaced.
pub fn path_entries() -> Vec<String> {
    CONTEXT.with(|c| {
        let c = c.borrow();
        parse_path(&c.search_path, &c.user)
    })
}

pub(super) fn context_catalog() -> Option<Catalog> {
    CONTEXT.with(|c| c.borrow().catalog.clone())
}

/// Splits a `search_path` value: comma-separated names, each plain
/// (folded to lower case) or double-quoted (`""` is a quote).
pub fn parse_path(path: &str, user: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = path.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            break;
        };
        let mut name = String::new();
        let quoted = first == '"';
        if quoted {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        name.push('"');
                    } else {
                        break;
                    }
                } else {
                    name.push(c);
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c.is_whitespace() {
                    break;
                }
                name.extend(c.to_lowercase());
                chars.next();
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() == Some(&',') {
            chars.next();
        }
        if name == "$user" {
            if !user.is_empty() {
                out.push(user.to_string());
            }
        } else if !name.is_empty() || quoted {
            out.push(name);
        }
    }
    out
}

/// The schemas of the path that exist, in order (what unqualified names
/// are looked up in).
pub fn existing_path(catalog: &Catalog, txn: &mut Transaction) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for s in path_entries() {
        if s != PG_CATALOG && !out.contains(&s) && catalog.schema_exists(txn, &s)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// `current_schema()`: the first schema of the path that exists.
pub fn current_schema(txn: Option<&super::scan::TxnCell>) -> Result<Option<String>> {
    let (Some(catalog), Some(txn)) = (context_catalog(), txn) else {
        return Ok(path_entries().into_iter().next());
    };
    let mut txn = lock_txn(txn)?;
    for s in path_entries() {
        if catalog.schema_exists(&mut txn, &s)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// A relation name split into its schema (if written) and its name.
pub fn split(name: &ast::ObjectName) -> Result<(Option<String>, String)> {
    let parts = object_name(name);
    match parts.as_slice() {
        [n] => Ok((None, n.clone())),
        [s, n] | [_, s, n] => Ok((Some(s.clone()), n.clone())),
        _ => Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!(
                "improper qualified name (too many dotted names): {}",
                parts.join(".")
            ),
        )),
    }
}

fn no_schema(s: &str) -> Error {
    Error::new(
        INVALID_SCHEMA_NAME,
        format!("schema \"{s}\" does not exist"),
    )
}

/// The schema a relation named `name` is looked up in: the written one
/// (3F000 if it does not exist), else the first schema of the path in
/// which `exists(schema)` holds. `Ok(None)`: no such relation.
pub fn resolve(
    catalog: &Catalog,
    txn: &mut Transaction,
    name: &ast::ObjectName,
    mut exists: impl FnMut(&mut Transaction, &str, &str) -> Result<bool>,
) -> Result<Option<(String, String)>> {
    let (schema, rel) = split(name)?;
    match schema {
        Some(s) => {
            if !catalog.schema_exists(txn, &s)? {
                return Err(no_schema(&s));
            }
            Ok(exists(txn, &s, &rel)?.then_some((s, rel)))
        }
        None => {
            for s in existing_path(catalog, txn)? {
                if exists(txn, &s, &rel)? {
                    return Ok(Some((s, rel)));
                }
            }
            Ok(None)
        }
    }
}

/// The schema and name a CREATE of `name` makes: the written schema
/// (3F000 if it does not exist), else the first schema of the path.
pub fn creation_target(
    catalog: &Catalog,
    txn: &mut Transaction,
    name: &ast::ObjectName,
) -> Result<(String, String)> {
    let (schema, rel) = split(name)?;
    match schema {
        Some(s) => {
            if !catalog.schema_exists(txn, &s)? {
                return Err(no_schema(&s));
            }
            Ok((s, rel))
        }
        None => match existing_path(catalog, txn)?.into_iter().next() {
            Some(s) => Ok((s, rel)),
            None => Err(Error::new(
                INVALID_SCHEMA_NAME,
                "no schema has been selected to create in",
            )),
        },
    }
}

fn tag(t: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: t.to_string(),
    }
}

fn schema_name(name: &ast::ObjectName) -> Result<String> {
    let parts = object_name(name);
    match parts.as_slice() {
        [n] => Ok(n.clone()),
        _ => Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("improper qualified name (too many dotted names): {name}"),
        )),
    }
}

/// `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]`.
pub fn create_schema(
    cx: &StmtCx<'_>,
    name: &ast::SchemaName,
    if_not_exists: bool,
) -> Result<StatementResult> {
    cx.check_writable("CREATE SCHEMA")?;
    let name = match name {
        ast::SchemaName::Simple(n) | ast::SchemaName::NamedAuthorization(n, _) => schema_name(n)?,
        ast::SchemaName::UnnamedAuthorization(role) => ident_name(role),
    };
    if name.starts_with("pg_") {
        return Err(Error::new(
            SqlState("42939"),
            format!("unacceptable schema name \"{name}\""),
        )
        .with_detail("The prefix \"pg_\" is reserved for system schemas."));
    }
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    if if_not_exists && catalog.schema_exists(&mut txn, &name)? {
        notice(Notice::new(format!(
            "schema \"{name}\" already exists, skipping"
        )));
        return Ok(tag("CREATE SCHEMA"));
    }
    catalog.create_schema(&mut txn, &name)?;
    Ok(tag("CREATE SCHEMA"))
}

/// `DROP SCHEMA [IF EXISTS] name, … [CASCADE | RESTRICT]`.
pub fn drop_schema(
    cx: &StmtCx<'_>,
    names: &[ast::ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<StatementResult> {
    cx.check_writable("DROP SCHEMA")?;
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let mut found = Vec::new();
    for n in names {
        let s = schema_name(n)?;
        if s == PG_CATALOG {
            return Err(Error::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {s} because it is required by the database system"),
            ));
        }
        if catalog.schema_exists(&mut txn, &s)? {
            if !found.contains(&s) {
                found.push(s);
            }
        } else if if_exists {
            notice(Notice::new(format!(
                "schema \"{s}\" does not exist, skipping"
            )));
        } else {
            return Err(no_schema(&s));
        }
    }
    // Dependents: the tables and sequences of each schema.
    let mut dependents: Vec<(String, String, &str)> = Vec::new();
    for s in &found {
        for (kind, what) in [(b'T', "table"), (b'Q', "sequence")] {
            for rel in catalog.relation_names(&mut txn, kind, s)? {
                // A serial column's sequence goes with its table.
                if kind == b'Q'
                    && catalog
                        .sequence(&mut txn, s, &rel)?
                        .is_some_and(|q| q.owned_by.is_some())
                {
                    continue;
                }
                dependents.push((s.clone(), rel, what));
            }
        }
    }
    // Views: those in the schemas, and those elsewhere reading them.
    let mut views: Vec<(crate::catalog::ViewDef, String)> = Vec::new();
    for s in &found {
        let tables: Vec<String> = dependents
            .iter()
            .filter(|(ds, _, what)| ds == s && *what == "table")
            .map(|(_, r, _)| r.clone())
            .collect();
        let (inside, outside) = super::view::schema_dependents(catalog, &mut txn, s, &tables)?;
        for v in outside.into_iter().chain(inside) {
            if !views.iter().any(|(w, _)| w.oid == v.0.oid) {
                views.push(v);
            }
        }
    }
    if !dependents.is_empty() || !views.is_empty() {
        let mut lines: Vec<String> = dependents
            .iter()
            .map(|(s, r, what)| {
                let owner = found.iter().find(|f| *f == s).cloned().unwrap_or_default();
                if cascade {
                    format!("drop cascades to {what} {s}.{r}")
                } else {
                    format!("{what} {s}.{r} depends on schema {owner}")
                }
            })
            .collect();
        for (v, line) in &views {
            lines.push(if cascade {
                format!(
                    "drop cascades to view {}",
                    super::view::display_name(catalog, &mut txn, &v.schema, &v.name)?
                )
            } else {
                line.clone()
            });
        }
        if !cascade {
            let s = dependents
                .first()
                .map(|d| &d.0)
                .or_else(|| found.first())
                .cloned()
                .unwrap_or_default();
            return Err(Error::new(
                DEPENDENT_OBJECTS_STILL_EXIST,
                format!("cannot drop schema {s} because other objects depend on it"),
            )
            .with_detail(lines.join("\n"))
            .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
        }
        if lines.len() == 1 {
            notice(Notice::new(lines[0].clone()));
        } else {
            let mut n = Notice::new(format!("drop cascades to {} other objects", lines.len()));
            n.detail = Some(lines.join("\n"));
            notice(n);
        }
        for (v, _) in &views {
            txn.begin_statement()?;
            if catalog.view(&mut txn, &v.schema, &v.name)?.is_some() {
                catalog.drop_view(&mut txn, &v.schema, &v.name)?;
            }
        }
        std::mem::drop(txn);
        for (s, rel, what) in &dependents {
            lock_txn(cx.txn)?.begin_statement()?;
            let mut txn = lock_txn(cx.txn)?;
            if *what == "table" {
                if catalog.table(&mut txn, s, rel)?.is_some() {
                    catalog.drop_table(&mut txn, s, rel)?;
                }
            } else if catalog.sequence(&mut txn, s, rel)?.is_some() {
                super::sequence::drop_stored(cx.shared, &mut txn, s, rel)?;
            }
        }
        lock_txn(cx.txn)?.begin_statement()?;
        let mut txn = lock_txn(cx.txn)?;
        for s in &found {
            catalog.drop_schema(&mut txn, s)?;
        }
        return Ok(tag("DROP SCHEMA"));
    }
    for s in &found {
        catalog.drop_schema(&mut txn, s)?;
    }
    Ok(tag("DROP SCHEMA"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_parses_quotes_user_and_case_as_postgresql_does() {
        assert_eq!(
            parse_path("\"$user\", public", "bob"),
            vec!["bob", "public"]
        );
        assert_eq!(parse_path("\"$user\", public", ""), vec!["public"]);
        assert_eq!(
            parse_path("S1,\"My \"\"S\"\"\" ,x", "u"),
            vec!["s1", "My \"S\"", "x"]
        );
        assert!(parse_path("", "u").is_empty());
        assert_eq!(parse_path("  a  ", "u"), vec!["a"]);
    }
}
