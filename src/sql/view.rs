//! Views from SQL: CREATE [OR REPLACE] VIEW, DROP VIEW, reading a view in
//! FROM, and the dependency rules that keep views valid when the tables
//! and views under them change.
//!
//! ```text
//!  CREATE VIEW v (x) AS SELECT a, b FROM t WHERE a > 0
//!    bind the query now  -> columns x integer, b text; reads table t (a, b)
//!    catalog 'V'(public, v): query text, search_path [public], columns, deps
//!
//!  SELECT * FROM v JOIN u USING (x)
//!    FROM v  -> parse and bind v's text again (search_path as at CREATE)
//!            -> its plan, under the stored column names and types
//! ```
//!
//! Choice: the query is stored as SQL text and bound again by every
//! statement that reads the view (as a derived table is), so a view always
//! reads its tables' current trees and indexes, and no second format for
//! plans exists. What PostgreSQL fixes at CREATE time is kept with it: the
//! output column names and types, and the schemas unqualified names were
//! looked up in. A table column renamed under a view is renamed in the
//! view's text (and a renamed relation too), so the view keeps working.
//!
//! Owns: PostgreSQL's errors for views (42P07, 42P16 for OR REPLACE
//! changing columns, 42809 for DROP of the wrong kind, 2BP01 with the
//! dependency tree in DETAIL, 42P17 for a view reaching itself, 55000 for
//! writes through a view that is not automatically updatable).
//! Never: stores plans; a view's rows are always its query's rows now.

use std::cell::RefCell;
use std::collections::HashSet;
use std::sync::Arc;

use sqlparser::ast;

use crate::catalog::{Catalog, DepKind, ViewColumn, ViewDef, ViewDep};
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::txn::Transaction;
use crate::types::DataType;

use super::bind::{Binder, Params, Scope, TableSource, ident_name};
use super::expr::Expr;
use super::namespace::DEPENDENT_OBJECTS_STILL_EXIST;
use super::plan::Plan;
use super::scan::{TableRef, lock_txn};
use super::session::StmtCx;
use super::signals::{Notice, notice};

/// 42P16.
const INVALID_TABLE_DEFINITION: SqlState = SqlState("42P16");
/// 42809.
pub const WRONG_OBJECT_TYPE: SqlState = SqlState("42809");
/// 42P17.
const INVALID_OBJECT_DEFINITION: SqlState = SqlState("42P17");

/// A relation a name in FROM resolved to.
pub enum Relation {
    Table(TableRef),
    View(Arc<ViewDef>),
}

thread_local! {
    /// The relations the query being bound for CREATE VIEW reads directly
    /// (`None`: no CREATE VIEW is binding).
    static RECORDING: RefCell<Option<Vec<(DepKind, String, String)>>> = const { RefCell::new(None) };
    /// The views being expanded on this thread, outermost first.
    static EXPANDING: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn record(kind: DepKind, schema: &str, name: &str) {
    if EXPANDING.with(|e| !e.borrow().is_empty()) {
        return;
    }
    RECORDING.with(|r| {
        if let Some(deps) = r.borrow_mut().as_mut()
            && !deps
                .iter()
                .any(|(k, s, n)| *k == kind && s == schema && n == name)
        {
            deps.push((kind, schema.to_string(), name.to_string()));
        }
    });
}

/// Records the relations read while it lives; stops on drop (also when
/// binding fails).
struct Recording;

impl Recording {
    fn start() -> Recording {
        RECORDING.with(|r| *r.borrow_mut() = Some(Vec::new()));
        Recording
    }
    fn take(self) -> Vec<(DepKind, String, String)> {
        RECORDING.with(|r| r.borrow_mut().take().unwrap_or_default())
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        RECORDING.with(|r| *r.borrow_mut() = None);
    }
}

/// Marks view `oid` as being expanded while it lives.
struct Expanding;

impl Expanding {
    fn enter(oid: u32, name: &str) -> Result<Expanding> {
        EXPANDING.with(|e| {
            let mut e = e.borrow_mut();
            if e.contains(&oid) {
                return Err(infinite_recursion(name));
            }
            e.push(oid);
            Ok(Expanding)
        })
    }
}

impl Drop for Expanding {
    fn drop(&mut self) {
        EXPANDING.with(|e| {
            e.borrow_mut().pop();
        });
    }
}

fn infinite_recursion(name: &str) -> Error {
    Error::new(
        INVALID_OBJECT_DEFINITION,
        format!("infinite recursion detected in rules for relation \"{name}\""),
    )
}

impl TableSource {
    /// Opens the table or view `name` (looked up along `search_path`, or
    /// `s.x`); `None` if there is neither.
    pub fn open_relation(&self, name: &ast::ObjectName) -> Result<Option<Relation>> {
        let catalog = self.shared.catalog();
        let mut table = None;
        let mut view = None;
        let hit = {
            let mut txn = lock_txn(&self.txn)?;
            match super::namespace::resolve(catalog, &mut txn, name, |txn, s, n| {
                table = catalog.table(txn, s, n)?;
                if table.is_some() {
                    return Ok(true);
                }
                view = catalog.view(txn, s, n)?;
                Ok(view.is_some())
            }) {
                // A query names a relation of a missing schema: 42P01.
                Err(e) if e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => None,
                Err(e) => return Err(e),
                Ok(hit) => hit,
            }
        };
        if hit.is_none() {
            return Ok(None);
        }
        if let Some(def) = table {
            record(DepKind::Table, &def.schema, &def.name);
            let rows = catalog.rows(&def)?;
            let indexes = catalog.index_trees(&def)?;
            let counters = self.shared.counters().get(def.oid);
            return Ok(Some(Relation::Table(TableRef {
                def: Arc::new(def),
                rows,
                indexes,
                counters,
            })));
        }
        Ok(view.map(|v| {
            record(DepKind::View, &v.schema, &v.name);
            Relation::View(Arc::new(v))
        }))
    }

    /// The view `name` resolves to, if it resolves to a view.
    pub fn open_view(&self, name: &ast::ObjectName) -> Result<Option<Arc<ViewDef>>> {
        Ok(match self.open_relation(name)? {
            Some(Relation::View(v)) => Some(v),
            _ => None,
        })
    }
}

/// Parses a stored view query.
fn parse_query(view: &ViewDef) -> Result<ast::Query> {
    let mut stmts = super::parse::parse(&view.query)?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(ast::Statement::Query(q)), true) => Ok(*q),
        _ => Err(Error::new(
            SqlState::DATA_CORRUPTED,
            format!("definition of view \"{}\" is not a query", view.name),
        )),
    }
}

impl Binder {
    /// A view in FROM: its query bound now (as a derived table), under the
    /// view's column names (or the alias's) and types.
    pub(super) fn bind_view(
        &mut self,
        view: &ViewDef,
        alias: Option<&ast::TableAlias>,
    ) -> Result<(Plan, Scope)> {
        let (plan, types) = self.expand_view(view)?;
        let mut names: Vec<String> = view.columns.iter().map(|c| c.name.clone()).collect();
        let label = match alias {
            Some(a) => {
                if a.columns.len() > names.len() {
                    return Err(Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!(
                            "table \"{}\" has {} columns available but {} columns specified",
                            ident_name(&a.name),
                            names.len(),
                            a.columns.len()
                        ),
                    ));
                }
                for (i, c) in a.columns.iter().enumerate() {
                    names[i] = ident_name(&c.name);
                }
                ident_name(&a.name)
            }
            None => view.name.clone(),
        };
        Ok((plan, Scope::of(Some(label), names.into_iter().zip(types))))
    }

    /// The plan of `view`'s query with exactly the view's columns and
    /// types, and those types.
    pub(super) fn expand_view(&mut self, view: &ViewDef) -> Result<(Plan, Vec<DataType>)> {
        let _guard = Expanding::enter(view.oid, &view.name)?;
        let query = parse_query(view)?;
        let Some(tables) = self.tables.clone() else {
            return Err(Error::internal("a view outside a statement"));
        };
        let mut inner = Binder::new(Params {
            types: Vec::new(),
            allowed: false,
        })
        .with_tables(tables);
        let bound =
            super::namespace::with_search_path(&view.search_path, || inner.bind_query(&query))
                .map_err(|mut e| {
                    // A position in the view's text means nothing to the client.
                    e.position = None;
                    e
                })?;
        let n = view.columns.len();
        if bound.columns.len() < n {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "view \"{}\" has {} columns but its query returns {}",
                    view.name,
                    n,
                    bound.columns.len()
                ),
            ));
        }
        let types: Vec<DataType> = view.columns.iter().map(|c| c.data_type.clone()).collect();
        let same = bound.columns.len() == n
            && bound
                .columns
                .iter()
                .zip(&types)
                .all(|(c, t)| c.data_type == *t);
        if same {
            return Ok((bound.plan, types));
        }
        // `SELECT *` over a table that gained columns since CREATE VIEW
        // (PostgreSQL expanded the star then), or a type to restate.
        let mut exprs = Vec::with_capacity(n);
        for (i, t) in types.iter().enumerate() {
            let col = Expr::Column {
                index: i,
                ty: bound.columns[i].data_type.clone(),
            };
            exprs.push(if bound.columns[i].data_type == *t {
                col
            } else {
                inner.explicit_cast(col, t)?
            });
        }
        Ok((
            Plan::Project {
                input: Box::new(bound.plan),
                exprs,
            },
            types,
        ))
    }
}

fn tag(t: &str) -> StatementResult {
    StatementResult {
        columns: Vec::new(),
        rows: Vec::new(),
        tag: t.to_string(),
    }
}

/// The identifiers (as names) SQL text uses, and whether it has a `*`.
fn words(sql: &str) -> (HashSet<String>, bool) {
    use sqlparser::tokenizer::{Token, Tokenizer};
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut out = HashSet::new();
    let mut star = false;
    match Tokenizer::new(&dialect, sql).tokenize() {
        Ok(tokens) => {
            for t in tokens {
                match t {
                    Token::Word(w) => {
                        out.insert(ident_name(&ast::Ident {
                            value: w.value,
                            quote_style: w.quote_style,
                            span: sqlparser::tokenizer::Span::empty(),
                        }));
                    }
                    Token::Mul => star = true,
                    _ => {}
                }
            }
        }
        // Unreadable text: assume it uses everything.
        Err(_) => star = true,
    }
    (out, star)
}

/// A view's type for a query column: an unknown literal is text, as in
/// PostgreSQL 15.
fn view_type(t: &DataType) -> DataType {
    match t {
        DataType::Unknown => DataType::Text,
        t => t.clone(),
    }
}

/// Whether `schema.name` can be written without its schema: the schema is
/// on the search path.
fn visible(catalog: &Catalog, txn: &mut Transaction, schema: &str) -> Result<bool> {
    Ok(super::namespace::existing_path(catalog, txn)?
        .iter()
        .any(|s| s == schema))
}

/// `name` or `schema.name`, as PostgreSQL's messages name objects.
pub fn display_name(
    catalog: &Catalog,
    txn: &mut Transaction,
    schema: &str,
    name: &str,
) -> Result<String> {
    Ok(if visible(catalog, txn, schema)? {
        name.to_string()
    } else {
        format!("{schema}.{name}")
    })
}

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`.
pub fn create_view(cx: &StmtCx<'_>, cv: &ast::CreateView) -> Result<StatementResult> {
    if cv.if_not_exists {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{}\"", not_word(cx.sql)),
        ));
    }
    if cv.materialized {
        return Err(Error::unsupported("materialized views"));
    }
    if cv.temporary {
        return Err(Error::unsupported("temporary views"));
    }
    if cv.or_alter || cv.secure || cv.to.is_some() || cv.params.is_some() {
        return Err(Error::unsupported("this form of CREATE VIEW"));
    }
    if !matches!(cv.options, ast::CreateTableOptions::None) {
        return Err(Error::unsupported("view options (WITH …)"));
    }
    cx.check_writable("CREATE VIEW")?;
    let (schema, name) = super::ddl::split_name(cx, &cv.name)?;
    let catalog = cx.shared.catalog();
    let search_path = {
        let mut txn = lock_txn(cx.txn)?;
        super::namespace::existing_path(catalog, &mut txn)?
    };
    // Bind the query as a SELECT would (no parameters: 42P02).
    let mut binder = Binder::new(Params {
        types: Vec::new(),
        allowed: false,
    })
    .with_source(cx.sql)
    .with_tables(TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    });
    let recording = Recording::start();
    let bound = binder.bind_query(&cv.query)?;
    let read = recording.take();
    if cv.columns.len() > bound.columns.len() {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            "CREATE VIEW specifies more column names than columns",
        ));
    }
    let mut columns: Vec<ViewColumn> = bound
        .columns
        .iter()
        .map(|c| ViewColumn {
            name: c.name.clone(),
            data_type: view_type(&c.data_type),
        })
        .collect();
    for (c, named) in columns.iter_mut().zip(&cv.columns) {
        c.name = ident_name(&named.name);
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|d| d.name == c.name) {
            return Err(Error::new(
                SqlState("42701"),
                format!("column \"{}\" specified more than once", c.name),
            ));
        }
    }
    let query = cv.query.to_string();
    let (used, star) = words(&query);
    let mut depends = Vec::with_capacity(read.len());
    {
        let mut txn = lock_txn(cx.txn)?;
        for (kind, s, n) in read {
            let cols = match kind {
                DepKind::Table => match catalog.table(&mut txn, &s, &n)? {
                    Some(t) => t
                        .columns
                        .iter()
                        .filter(|c| star || used.contains(&c.name))
                        .map(|c| c.name.clone())
                        .collect(),
                    None => Vec::new(),
                },
                DepKind::View => Vec::new(),
            };
            depends.push(ViewDep {
                kind,
                schema: s,
                name: n,
                columns: cols,
            });
        }
    }
    let def = ViewDef {
        oid: 0,
        schema: schema.clone(),
        name: name.clone(),
        columns,
        query,
        search_path,
        depends,
    };
    let mut txn = lock_txn(cx.txn)?;
    match catalog.view(&mut txn, &schema, &name)? {
        Some(old) if cv.or_replace => {
            // A cycle through other views is accepted, as in PostgreSQL;
            // reading it is 42P17.
            check_replacement(&old, &def)?;
            let new = ViewDef {
                oid: old.oid,
                ..def
            };
            catalog.update_view(&mut txn, &new)?;
        }
        Some(_) => {
            return Err(Error::new(
                SqlState::DUPLICATE_TABLE,
                format!("relation \"{name}\" already exists"),
            ));
        }
        None => {
            if cv.or_replace && catalog.relation_exists(&mut txn, &schema, &name)? {
                return Err(Error::new(
                    WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a view"),
                ));
            }
            catalog.create_view(&mut txn, def)?;
        }
    }
    Ok(tag("CREATE VIEW"))
}

/// The word after `IF` in `CREATE VIEW IF NOT EXISTS` as the user wrote it
/// (PostgreSQL's syntax error names it).
fn not_word(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    lower
        .find(" if ")
        .and_then(|at| {
            let rest = &sql[at + 4..];
            let rest = rest.trim_start();
            rest.split(|c: char| !c.is_alphanumeric() && c != '_')
                .next()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "NOT".to_string())
}

/// CREATE OR REPLACE VIEW may add columns at the end, nothing else.
fn check_replacement(old: &ViewDef, new: &ViewDef) -> Result<()> {
    if new.columns.len() < old.columns.len() {
        return Err(Error::new(
            INVALID_TABLE_DEFINITION,
            "cannot drop columns from view",
        ));
    }
    for (o, n) in old.columns.iter().zip(&new.columns) {
        if o.name != n.name {
            return Err(Error::new(
                INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change name of view column \"{}\" to \"{}\"",
                    o.name, n.name
                ),
            )
            .with_hint(
                "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.",
            ));
        }
        if o.data_type != n.data_type {
            return Err(Error::new(
                INVALID_TABLE_DEFINITION,
                format!(
                    "cannot change data type of view column \"{}\" from {} to {}",
                    o.name,
                    o.data_type.name(),
                    n.data_type.name()
                ),
            ));
        }
    }
    Ok(())
}

/// A dependent view and its line in PostgreSQL's report.
pub type Reported = (ViewDef, String);

/// What is being dropped, for the dependency report.
#[derive(Debug, Clone)]
pub struct Dropped {
    /// "table", "view", or "column c of table" (the noun before the name).
    pub what: String,
    pub schema: String,
    pub name: String,
    /// For a column: its name (the views using it depend on it).
    pub column: Option<String>,
}

impl Dropped {
    pub fn relation(what: &str, schema: &str, name: &str) -> Dropped {
        Dropped {
            what: what.to_string(),
            schema: schema.to_string(),
            name: name.to_string(),
            column: None,
        }
    }
}

/// The views that depend (directly or through other views) on `roots`, in
/// PostgreSQL's report order, each with its report line and the root it
/// was reached from; the views among `roots` themselves are not dependents.
pub fn dependents(
    catalog: &Catalog,
    txn: &mut Transaction,
    roots: &[Dropped],
) -> Result<Vec<(ViewDef, String, usize)>> {
    let mut all = catalog.views(txn)?;
    if all.is_empty() {
        return Ok(Vec::new());
    }
    all.sort_by_key(|v| v.oid);
    let path = super::namespace::existing_path(catalog, txn)?;
    let show = |schema: &str, name: &str| {
        if path.iter().any(|p| p == schema) {
            name.to_string()
        } else {
            format!("{schema}.{name}")
        }
    };
    let is_root = |v: &ViewDef| {
        roots
            .iter()
            .any(|r| r.what == "view" && r.schema == v.schema && r.name == v.name)
    };
    let mut out: Vec<(ViewDef, String, usize)> = Vec::new();
    for (ri, r) in roots.iter().enumerate() {
        let described = match &r.column {
            Some(c) => format!("column {c} of {} {}", r.what, show(&r.schema, &r.name)),
            None => format!("{} {}", r.what, show(&r.schema, &r.name)),
        };
        visit(
            &all,
            &is_root,
            &show,
            (&r.schema, &r.name, r.column.as_deref()),
            &described,
            ri,
            &mut out,
        );
    }
    Ok(out)
}

/// Depth first from `object` (schema, name, column): each view reading
/// it, then that view's own dependents.
fn visit(
    all: &[ViewDef],
    is_root: &dyn Fn(&ViewDef) -> bool,
    show: &dyn Fn(&str, &str) -> String,
    object: (&str, &str, Option<&str>),
    described: &str,
    root: usize,
    out: &mut Vec<(ViewDef, String, usize)>,
) {
    let (schema, name, column) = object;
    for v in all {
        let hit = match column {
            Some(c) => v.uses_column(schema, name, c),
            None => v.depends_on(schema, name),
        };
        if !hit || is_root(v) || out.iter().any(|(o, _, _)| o.oid == v.oid) {
            continue;
        }
        let shown = format!("view {}", show(&v.schema, &v.name));
        out.push((v.clone(), format!("{shown} depends on {described}"), root));
        visit(
            all,
            is_root,
            show,
            (&v.schema, &v.name, None),
            &shown,
            root,
            out,
        );
    }
}

/// Before dropping `roots`: without CASCADE, 2BP01 if views depend on
/// them; with CASCADE, the NOTICE and the dependent views dropped.
pub fn drop_dependents(
    catalog: &Catalog,
    txn: &mut Transaction,
    roots: &[Dropped],
    cascade: bool,
) -> Result<()> {
    let deps = dependents(catalog, txn, roots)?;
    let Some((_, _, first)) = deps.first() else {
        return Ok(());
    };
    if !cascade {
        let r = &roots[*first];
        let shown = display_name(catalog, txn, &r.schema, &r.name)?;
        let object = match &r.column {
            Some(c) => format!("column {c} of {} {shown}", r.what),
            None => format!("{} {shown}", r.what),
        };
        let lines: Vec<&str> = deps.iter().map(|(_, l, _)| l.as_str()).collect();
        return Err(Error::new(
            DEPENDENT_OBJECTS_STILL_EXIST,
            format!("cannot drop {object} because other objects depend on it"),
        )
        .with_detail(lines.join("\n"))
        .with_hint("Use DROP ... CASCADE to drop the dependent objects too."));
    }
    let mut lines = Vec::with_capacity(deps.len());
    for (v, _, _) in &deps {
        lines.push(format!(
            "drop cascades to view {}",
            display_name(catalog, txn, &v.schema, &v.name)?
        ));
    }
    cascade_notice(&lines);
    for (v, _, _) in &deps {
        txn.begin_statement()?;
        if catalog.view(txn, &v.schema, &v.name)?.is_some() {
            catalog.drop_view(txn, &v.schema, &v.name)?;
        }
    }
    Ok(())
}

/// PostgreSQL's NOTICE for what a CASCADE dropped.
pub fn cascade_notice(lines: &[String]) {
    match lines {
        [] => {}
        [one] => notice(Notice::new(one.clone())),
        many => {
            let mut n = Notice::new(format!("drop cascades to {} other objects", many.len()));
            n.detail = Some(many.join("\n"));
            notice(n);
        }
    }
}

/// 42809 for DROP VIEW of another kind of relation (or DROP TABLE of a
/// view), with PostgreSQL's hint.
fn wrong_kind(
    catalog: &Catalog,
    txn: &mut Transaction,
    schema: &str,
    name: &str,
    expected: &str,
) -> Result<Option<Error>> {
    let (actual, hint) = if catalog.view(txn, schema, name)?.is_some() {
        ("view", "Use DROP VIEW to remove a view.")
    } else if catalog.table(txn, schema, name)?.is_some() {
        ("table", "Use DROP TABLE to remove a table.")
    } else if catalog.sequence(txn, schema, name)?.is_some() {
        ("sequence", "Use DROP SEQUENCE to remove a sequence.")
    } else if catalog.index_table(txn, schema, name)?.is_some() {
        ("index", "Use DROP INDEX to remove an index.")
    } else {
        return Ok(None);
    };
    if actual == expected {
        return Ok(None);
    }
    Ok(Some(
        Error::new(WRONG_OBJECT_TYPE, format!("\"{name}\" is not a {expected}")).with_hint(hint),
    ))
}

/// DROP TABLE of `name` that is not a table: 42809 if it names a view.
pub fn drop_table_of_view(
    catalog: &Catalog,
    txn: &mut Transaction,
    name: &ast::ObjectName,
) -> Result<Option<Error>> {
    let hit = super::namespace::resolve(catalog, txn, name, |txn, s, n| {
        Ok(catalog.view(txn, s, n)?.is_some())
    });
    match hit {
        Ok(Some((s, n))) => wrong_kind(catalog, txn, &s, &n, "table"),
        _ => Ok(None),
    }
}

/// `DROP VIEW [IF EXISTS] name, … [CASCADE | RESTRICT]`.
pub fn drop_view(
    cx: &StmtCx<'_>,
    names: &[ast::ObjectName],
    if_exists: bool,
    cascade: bool,
) -> Result<StatementResult> {
    cx.check_writable("DROP VIEW")?;
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let mut found: Vec<Dropped> = Vec::new();
    for n in names {
        let rel = super::namespace::split(n)?.1;
        let hit = match super::namespace::resolve(catalog, &mut txn, n, |txn, s, r| {
            Ok(catalog.relation_exists(txn, s, r)?)
        }) {
            Err(e) if if_exists && e.sqlstate == super::namespace::INVALID_SCHEMA_NAME => {
                notice(Notice::new(format!("{}, skipping", e.message)));
                continue;
            }
            r => r?,
        };
        match hit {
            Some((s, r)) => {
                if let Some(e) = wrong_kind(catalog, &mut txn, &s, &r, "view")? {
                    return Err(e);
                }
                if !found.iter().any(|f| f.schema == s && f.name == r) {
                    found.push(Dropped::relation("view", &s, &r));
                }
            }
            None if if_exists => {
                notice(Notice::new(format!(
                    "view \"{rel}\" does not exist, skipping"
                )));
            }
            None => {
                return Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("view \"{rel}\" does not exist"),
                ));
            }
        }
    }
    drop_dependents(catalog, &mut txn, &found, cascade)?;
    for f in &found {
        txn.begin_statement()?;
        if catalog.view(&mut txn, &f.schema, &f.name)?.is_some() {
            catalog.drop_view(&mut txn, &f.schema, &f.name)?;
        }
    }
    Ok(tag("DROP VIEW"))
}

/// ALTER TABLE … DROP COLUMN: 2BP01 (or, with CASCADE, drop them) for the
/// views that use the column.
pub fn before_drop_column(
    cx: &StmtCx<'_>,
    schema: &str,
    table: &str,
    column: &str,
    cascade: bool,
) -> Result<()> {
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let root = Dropped {
        what: "table".into(),
        schema: schema.to_string(),
        name: table.to_string(),
        column: Some(column.to_string()),
    };
    drop_dependents(catalog, &mut txn, &[root], cascade)
}

/// ALTER TABLE … ALTER COLUMN TYPE: 0A000 if a view uses the column.
pub fn before_alter_column_type(
    cx: &StmtCx<'_>,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<()> {
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    let mut users: Vec<ViewDef> = catalog
        .views(&mut txn)?
        .into_iter()
        .filter(|v| v.uses_column(schema, table, column))
        .collect();
    users.sort_by_key(|v| v.oid);
    if let Some(v) = users.first() {
        let shown = display_name(catalog, &mut txn, &v.schema, &v.name)?;
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "cannot alter type of a column used by a view or rule",
        )
        .with_detail(format!(
            "rule _RETURN on view {shown} depends on column \"{column}\""
        )));
    }
    Ok(())
}

/// After ALTER TABLE … RENAME COLUMN `old` TO `new` of `schema.table`:
/// the views using it read the new name (their own column names stay).
pub fn after_rename_column(
    cx: &StmtCx<'_>,
    schema: &str,
    table: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    for mut v in catalog.views(&mut txn)? {
        if !v.uses_column(schema, table, old) {
            continue;
        }
        v.query = super::alter_columns::rename_identifier(&v.query, old, new);
        for d in &mut v.depends {
            if d.kind == DepKind::Table && d.schema == schema && d.name == table {
                for c in &mut d.columns {
                    if c == old {
                        *c = new.to_string();
                    }
                }
            }
        }
        txn.begin_statement()?;
        catalog.update_view(&mut txn, &v)?;
    }
    Ok(())
}

/// After a table or view `schema.old` is renamed to `new`: the views
/// reading it name it by its new name.
pub fn after_rename_relation(
    catalog: &Catalog,
    txn: &mut Transaction,
    schema: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    for mut v in catalog.views(txn)? {
        if !v.depends_on(schema, old) {
            continue;
        }
        v.query = super::alter_columns::rename_identifier(&v.query, old, new);
        for d in &mut v.depends {
            if d.schema == schema && d.name == old {
                d.name = new.to_string();
            }
        }
        txn.begin_statement()?;
        catalog.update_view(txn, &v)?;
    }
    Ok(())
}

/// ALTER VIEW / ALTER TABLE `name` RENAME TO `new` of a view.
pub fn rename_view(cx: &StmtCx<'_>, view: &ViewDef, new: &str) -> Result<()> {
    let catalog = cx.shared.catalog();
    let mut txn = lock_txn(cx.txn)?;
    if catalog.relation_exists(&mut txn, &view.schema, new)? {
        return Err(Error::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{new}\" already exists"),
        ));
    }
    let renamed = ViewDef {
        name: new.to_string(),
        ..view.clone()
    };
    catalog.rename_view(&mut txn, view, &renamed)?;
    after_rename_relation(catalog, &mut txn, &view.schema, &view.name, new)
}

/// The views a DROP SCHEMA finds: those in the schema, then those
/// elsewhere that read a relation of it (directly or through views), each
/// with the line PostgreSQL's report gives it.
pub fn schema_dependents(
    catalog: &Catalog,
    txn: &mut Transaction,
    schema: &str,
    tables: &[String],
) -> Result<(Vec<Reported>, Vec<Reported>)> {
    let mut inside = Vec::new();
    for v in catalog.views(txn)? {
        if v.schema == schema {
            let shown = display_name(catalog, txn, &v.schema, &v.name)?;
            inside.push((v, format!("view {shown} depends on schema {schema}")));
        }
    }
    inside.sort_by_key(|(v, _)| v.oid);
    let mut roots: Vec<Dropped> = tables
        .iter()
        .map(|t| Dropped::relation("table", schema, t))
        .collect();
    roots.extend(
        inside
            .iter()
            .map(|(v, _)| Dropped::relation("view", schema, &v.name)),
    );
    let outside = dependents(catalog, txn, &roots)?
        .into_iter()
        .filter(|(v, _, _)| v.schema != schema)
        .map(|(v, l, _)| (v, l))
        .collect();
    Ok((inside, outside))
}

/// Why INSERT / UPDATE / DELETE cannot write through a view of `query`
/// (PostgreSQL's DETAIL, in PostgreSQL's order of checks), or `None` if
/// it is automatically updatable.
pub fn not_updatable_reason(query: &ast::Query) -> Option<&'static str> {
    const SINGLE: &str =
        "Views that do not select from a single table or view are not automatically updatable.";
    let select = match query.body.as_ref() {
        ast::SetExpr::Select(s) => Some(s),
        ast::SetExpr::Query(q) if query.with.is_none() && query.limit_clause.is_none() => {
            return not_updatable_reason(q);
        }
        _ => None,
    };
    if let Some(select) = select {
        if select.distinct.is_some() {
            return Some("Views containing DISTINCT are not automatically updatable.");
        }
        let grouped = !matches!(&select.group_by,
            ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        if grouped {
            return Some("Views containing GROUP BY are not automatically updatable.");
        }
        if select.having.is_some() {
            return Some("Views containing HAVING are not automatically updatable.");
        }
    }
    if matches!(query.body.as_ref(), ast::SetExpr::SetOperation { .. }) {
        return Some(
            "Views containing UNION, INTERSECT, or EXCEPT are not automatically updatable.",
        );
    }
    if query.with.is_some() {
        return Some("Views containing WITH are not automatically updatable.");
    }
    if query.limit_clause.is_some() || query.fetch.is_some() {
        return Some("Views containing LIMIT or OFFSET are not automatically updatable.");
    }
    let Some(select) = select else {
        return Some(SINGLE);
    };
    if select.projection.iter().any(projection_aggregates) {
        return Some("Views that return aggregate functions are not automatically updatable.");
    }
    if select.from.len() != 1
        || !select.from[0].joins.is_empty()
        || !matches!(
            select.from[0].relation,
            ast::TableFactor::Table { args: None, .. }
        )
    {
        return Some(SINGLE);
    }
    None
}

/// Whether a select item calls an aggregate or window function (a
/// conservative look at the outermost call).
fn projection_aggregates(item: &ast::SelectItem) -> bool {
    let e = match item {
        ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return false,
    };
    let text = e.to_string().to_ascii_lowercase();
    [
        "count(",
        "sum(",
        "avg(",
        "min(",
        "max(",
        "bool_and(",
        "bool_or(",
        "every(",
        "string_agg(",
        "array_agg(",
        "stddev",
        "variance(",
        "var_pop(",
        "var_samp(",
    ]
    .iter()
    .any(|f| {
        text.starts_with(f) || text.contains(&format!(" {f}")) || text.contains(&format!("({f}"))
    })
}

/// 55000 for a write through a view that is not automatically updatable.
pub fn not_updatable(view: &ViewDef, action: &str, reason: &str) -> Error {
    let (verb, hint_verb, event) = match action {
        "INSERT" => ("insert into", "inserting into", "INSERT"),
        "UPDATE" => ("update", "updating", "UPDATE"),
        _ => ("delete from", "deleting from", "DELETE"),
    };
    Error::new(
        SqlState("55000"),
        format!("cannot {verb} view \"{}\"", view.name),
    )
    .with_detail(reason)
    .with_hint(format!(
        "To enable {hint_verb} the view, provide an INSTEAD OF {event} trigger or an unconditional ON {event} DO INSTEAD rule."
    ))
}

/// The stored query of `view`, parsed.
pub fn view_query(view: &ViewDef) -> Result<ast::Query> {
    parse_query(view)
}

/// Marks an ALTER TABLE statement that was written ALTER VIEW.
const ALTER_VIEW_MARK: &str = "\0alter view";

/// `ALTER VIEW [IF EXISTS] name RENAME …`, which sqlparser does not read:
/// parsed as ALTER TABLE and marked, so the action checks the relation is
/// a view (42809 otherwise, as PostgreSQL).
pub fn parse_alter_view(sql: &str, recursion_limit: usize) -> Option<Vec<ast::Statement>> {
    let trimmed = sql.trim_start();
    let lead = sql.len() - trimmed.len();
    let head = trimmed.get(..5)?;
    if !head.eq_ignore_ascii_case("alter") {
        return None;
    }
    let rest = trimmed[5..].trim_start();
    let word = rest.get(..4)?;
    if !word.eq_ignore_ascii_case("view")
        || rest[4..].chars().next().is_some_and(|c| !c.is_whitespace())
    {
        return None;
    }
    let after = &rest[4..];
    let text = format!("{}ALTER TABLE{}", &sql[..lead], after);
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut statements = sqlparser::parser::Parser::new(&dialect)
        .with_recursion_limit(recursion_limit)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_statements())
        .ok()?;
    let [ast::Statement::AlterTable(at)] = statements.as_mut_slice() else {
        return None;
    };
    at.on_cluster = Some(ast::Ident::new(ALTER_VIEW_MARK));
    Some(statements)
}

/// Whether this ALTER TABLE was written ALTER VIEW.
pub fn is_alter_view(at: &ast::AlterTable) -> bool {
    at.on_cluster
        .as_ref()
        .is_some_and(|i| i.value == ALTER_VIEW_MARK)
}

/// ALTER TABLE / ALTER VIEW naming a view (`None`: it names no view, the
/// caller goes on with tables). Only RENAME TO is supported on views.
pub fn alter_view(cx: &StmtCx<'_>, at: &ast::AlterTable) -> Result<Option<StatementResult>> {
    let source = TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    };
    let view = source.open_view(&at.name)?;
    let Some(view) = view else {
        if is_alter_view(at) {
            let catalog = cx.shared.catalog();
            let mut txn = lock_txn(cx.txn)?;
            let hit = super::namespace::resolve(catalog, &mut txn, &at.name, |txn, s, n| {
                Ok(catalog.relation_exists(txn, s, n)?)
            })?;
            let name = super::namespace::split(&at.name)?.1;
            return match hit {
                Some(_) => Err(Error::new(
                    WRONG_OBJECT_TYPE,
                    format!("\"{name}\" is not a view"),
                )),
                None if at.if_exists => {
                    notice(Notice::new(format!(
                        "relation \"{name}\" does not exist, skipping"
                    )));
                    Ok(Some(tag("ALTER VIEW")))
                }
                None => Err(Error::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{name}\" does not exist"),
                )),
            };
        }
        return Ok(None);
    };
    cx.check_writable(if is_alter_view(at) {
        "ALTER VIEW"
    } else {
        "ALTER TABLE"
    })?;
    let result = if is_alter_view(at) {
        "ALTER VIEW"
    } else {
        "ALTER TABLE"
    };
    match at.operations.as_slice() {
        [ast::AlterTableOperation::RenameTable { table_name }] => {
            let n = match table_name {
                ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n) => n,
            };
            let new = super::namespace::split(n)?.1;
            rename_view(cx, &view, &new)?;
            Ok(Some(tag(result)))
        }
        [ast::AlterTableOperation::RenameColumn { .. }] => {
            Err(Error::unsupported("ALTER VIEW … RENAME COLUMN"))
        }
        _ if is_alter_view(at) => Err(Error::unsupported("this form of ALTER VIEW")),
        [ast::AlterTableOperation::AddColumn { .. }] => Err(Error::new(
            WRONG_OBJECT_TYPE,
            format!(
                "ALTER action ADD COLUMN cannot be performed on relation \"{}\"",
                view.name
            ),
        )
        .with_detail("This operation is not supported for views.")),
        _ => Err(Error::new(
            WRONG_OBJECT_TYPE,
            format!("\"{}\" is not a table", view.name),
        )),
    }
}

/// The view a DML statement's target `name` names, if it names one.
fn target_view(cx: &StmtCx<'_>, name: &ast::ObjectName) -> Result<Option<Arc<ViewDef>>> {
    let source = TableSource {
        shared: cx.shared.clone(),
        txn: cx.txn.clone(),
    };
    // A table is found first and costs one lookup; only a miss looks further.
    if source.open(name)?.is_some() {
        return Ok(None);
    }
    source.open_view(name)
}

/// The target of UPDATE / DELETE, if it is a plain name.
fn modify_target(twj: &ast::TableWithJoins) -> Option<&ast::ObjectName> {
    match &twj.relation {
        ast::TableFactor::Table {
            name, args: None, ..
        } if twj.joins.is_empty() => Some(name),
        _ => None,
    }
}

/// INSERT into a view: the INSERT on its base relation, or 55000.
pub fn rewrite_insert(
    cx: &StmtCx<'_>,
    name: &ast::ObjectName,
    _ins: &ast::Insert,
) -> Result<Option<ast::Insert>> {
    let Some(view) = target_view(cx, name)? else {
        return Ok(None);
    };
    Err(refuse(&view, "INSERT")?)
}

/// UPDATE of a view: the UPDATE of its base relation, or 55000.
pub fn rewrite_update(cx: &StmtCx<'_>, u: &ast::Update) -> Result<Option<ast::Update>> {
    let Some(name) = modify_target(&u.table) else {
        return Ok(None);
    };
    let Some(view) = target_view(cx, name)? else {
        return Ok(None);
    };
    Err(refuse(&view, "UPDATE")?)
}

/// DELETE from a view: the DELETE from its base relation, or 55000.
pub fn rewrite_delete(cx: &StmtCx<'_>, d: &ast::Delete) -> Result<Option<ast::Delete>> {
    let from = match &d.from {
        ast::FromTable::WithFromKeyword(v) | ast::FromTable::WithoutKeyword(v) => v,
    };
    let [twj] = from.as_slice() else {
        return Ok(None);
    };
    let Some(name) = modify_target(twj) else {
        return Ok(None);
    };
    let Some(view) = target_view(cx, name)? else {
        return Ok(None);
    };
    Err(refuse(&view, "DELETE")?)
}

/// The error for a write through `view`: 55000 with PostgreSQL's reason.
fn refuse(view: &ViewDef, action: &str) -> Result<Error> {
    let query = parse_query(view)?;
    Ok(match not_updatable_reason(&query) {
        Some(reason) => not_updatable(view, action, reason),
        None => Error::unsupported("writing through an automatically updatable view"),
    })
}
