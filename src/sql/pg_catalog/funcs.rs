//! The catalog functions psql and drivers call: `format_type`,
//! `pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_expr`,
//! `pg_table_is_visible`, `pg_get_userbyid`, `obj_description`, the
//! privilege checks, sizes, … (PostgreSQL 15's results for arbordb's
//! objects).

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, RegKind, Value};

use super::super::expr::EvalContext;
use super::super::functions::{Func, Signature};
use super::data::PROCS;
use super::{Snapshot, snapshot_in};

/// Which catalog function a bound call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatFunc {
    FormatType,
    GetIndexdef,
    GetConstraintdef,
    GetExpr,
    TableIsVisible,
    /// pg_type_is_visible, pg_function_is_visible, pg_collation_is_visible,
    /// pg_operator_is_visible, pg_opclass_is_visible: every built-in is.
    AlwaysVisible,
    GetUserById,
    /// obj_description(oid [, catalog]).
    ObjDescription,
    /// col_description(table oid, column number).
    ColDescription,
    /// shobj_description: no comments on shared objects (roles,
    /// databases) yet.
    NoDescription,
    EncodingToChar,
    /// `pg_partition_ancestors` as an array (`unnest` makes it a set).
    PartitionAncestors,
    /// `pg_listening_channels` as an array.
    ListeningChannels,
    RelationIsPublishable,
    /// pg_table_size & co.: bytes.
    RelationSize(SizeKind),
    SizePretty,
    CurrentSchemas,
    /// has_*_privilege, pg_has_role: a superuser has every privilege.
    HasPrivilege,
    /// pg_get_viewdef, pg_get_triggerdef, pg_get_statisticsobjdef_columns,
    /// pg_get_function_result, pg_get_function_arguments.
    GetDef(DefKind),
    ToReg(RegKind),
    /// `pg_get_serial_sequence(table, column)`: the sequence of a serial
    /// or identity column, schema-qualified.
    SerialSequence,
}

/// Which pages a size function counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeKind {
    /// `pg_relation_size`, `pg_table_size`: the relation's own tree.
    Relation,
    /// `pg_indexes_size`: the table's index trees.
    Indexes,
    /// `pg_total_relation_size`: both.
    Total,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefKind {
    View,
    Trigger,
    Statistics,
    FunctionResult,
    FunctionArguments,
}

/// The overloads of catalog function `name`.
pub fn lookup(name: &str) -> Vec<Signature> {
    use DataType::*;
    let regclass = || Reg(RegKind::Class);
    let sig = |args: Vec<DataType>, ret: DataType, f: CatFunc| Signature {
        args,
        ret,
        func: Func::Catalog(f),
    };
    match name {
        "format_type" => vec![sig(vec![Oid, Int4], Text, CatFunc::FormatType)],
        "pg_get_indexdef" => vec![
            sig(vec![Oid], Text, CatFunc::GetIndexdef),
            sig(vec![Oid, Int4, Bool], Text, CatFunc::GetIndexdef),
        ],
        "pg_get_constraintdef" => vec![
            sig(vec![Oid], Text, CatFunc::GetConstraintdef),
            sig(vec![Oid, Bool], Text, CatFunc::GetConstraintdef),
        ],
        "pg_get_expr" => vec![
            sig(vec![Text, Oid], Text, CatFunc::GetExpr),
            sig(vec![Text, Oid, Bool], Text, CatFunc::GetExpr),
        ],
        "pg_table_is_visible" => vec![sig(vec![Oid], Bool, CatFunc::TableIsVisible)],
        "pg_type_is_visible"
        | "pg_function_is_visible"
        | "pg_collation_is_visible"
        | "pg_operator_is_visible"
        | "pg_opclass_is_visible" => {
            vec![sig(vec![Oid], Bool, CatFunc::AlwaysVisible)]
        }
        "pg_get_userbyid" => vec![sig(vec![Oid], Text, CatFunc::GetUserById)],
        "obj_description" => vec![
            sig(vec![Oid], Text, CatFunc::ObjDescription),
            sig(vec![Oid, Text], Text, CatFunc::ObjDescription),
        ],
        "col_description" => vec![sig(vec![Oid, Int4], Text, CatFunc::ColDescription)],
        "shobj_description" => vec![sig(vec![Oid, Text], Text, CatFunc::NoDescription)],
        "pg_encoding_to_char" => vec![sig(vec![Int4], Text, CatFunc::EncodingToChar)],
        "pg_partition_ancestors[]" => vec![sig(
            vec![regclass()],
            Array(Box::new(regclass())),
            CatFunc::PartitionAncestors,
        )],
        "pg_listening_channels[]" => vec![sig(
            vec![],
            Array(Box::new(Text)),
            CatFunc::ListeningChannels,
        )],
        "pg_relation_is_publishable" => {
            vec![sig(vec![regclass()], Bool, CatFunc::RelationIsPublishable)]
        }
        "pg_table_size" | "pg_relation_size" => vec![sig(
            vec![regclass()],
            Int8,
            CatFunc::RelationSize(SizeKind::Relation),
        )],
        "pg_total_relation_size" => vec![sig(
            vec![regclass()],
            Int8,
            CatFunc::RelationSize(SizeKind::Total),
        )],
        "pg_indexes_size" => vec![sig(
            vec![regclass()],
            Int8,
            CatFunc::RelationSize(SizeKind::Indexes),
        )],
        "pg_size_pretty" => vec![
            sig(vec![Int8], Text, CatFunc::SizePretty),
            sig(vec![Numeric(None)], Text, CatFunc::SizePretty),
        ],
        "current_schemas" => vec![sig(
            vec![Bool],
            Array(Box::new(Text)),
            CatFunc::CurrentSchemas,
        )],
        "has_table_privilege"
        | "has_schema_privilege"
        | "has_database_privilege"
        | "has_sequence_privilege"
        | "has_function_privilege"
        | "has_any_column_privilege"
        | "pg_has_role" => {
            let mut v = Vec::new();
            for first in [Text, Oid] {
                v.push(sig(vec![first.clone(), Text], Bool, CatFunc::HasPrivilege));
                for second in [Text, Oid] {
                    v.push(sig(
                        vec![first.clone(), second, Text],
                        Bool,
                        CatFunc::HasPrivilege,
                    ));
                }
            }
            v
        }
        "has_column_privilege" => {
            let mut v = Vec::new();
            for first in [Text, Oid] {
                for col in [Text, Int2] {
                    v.push(sig(
                        vec![first.clone(), col.clone(), Text],
                        Bool,
                        CatFunc::HasPrivilege,
                    ));
                    v.push(sig(
                        vec![Text, first.clone(), col, Text],
                        Bool,
                        CatFunc::HasPrivilege,
                    ));
                }
            }
            v
        }
        "pg_get_viewdef" => vec![
            sig(vec![Oid], Text, CatFunc::GetDef(DefKind::View)),
            sig(vec![Oid, Bool], Text, CatFunc::GetDef(DefKind::View)),
        ],
        "pg_get_triggerdef" => vec![
            sig(vec![Oid], Text, CatFunc::GetDef(DefKind::Trigger)),
            sig(vec![Oid, Bool], Text, CatFunc::GetDef(DefKind::Trigger)),
        ],
        "pg_get_statisticsobjdef_columns" => {
            vec![sig(vec![Oid], Text, CatFunc::GetDef(DefKind::Statistics))]
        }
        "pg_get_function_result" => vec![sig(
            vec![Oid],
            Text,
            CatFunc::GetDef(DefKind::FunctionResult),
        )],
        "pg_get_function_arguments" | "pg_get_function_identity_arguments" => vec![sig(
            vec![Oid],
            Text,
            CatFunc::GetDef(DefKind::FunctionArguments),
        )],
        "to_regclass" => vec![sig(vec![Text], regclass(), CatFunc::ToReg(RegKind::Class))],
        "pg_get_serial_sequence" => vec![sig(vec![Text, Text], Text, CatFunc::SerialSequence)],
        "to_regtype" => vec![sig(
            vec![Text],
            Reg(RegKind::Type),
            CatFunc::ToReg(RegKind::Type),
        )],
        "to_regnamespace" => vec![sig(
            vec![Text],
            Reg(RegKind::Namespace),
            CatFunc::ToReg(RegKind::Namespace),
        )],
        "to_regrole" => vec![sig(
            vec![Text],
            Reg(RegKind::Role),
            CatFunc::ToReg(RegKind::Role),
        )],
        _ => Vec::new(),
    }
}

fn oid_arg(v: Option<&Value>) -> Option<u32> {
    match v {
        Some(Value::Int8(o)) => Some(*o as u32),
        Some(Value::Int4(o)) => Some(*o as u32),
        _ => None,
    }
}

/// Runs a catalog function (NULL arguments are handled here: most give
/// NULL, `format_type(t, NULL)` does not).
pub fn call(f: CatFunc, args: &[Value], ctx: &EvalContext<'_>) -> Result<Value> {
    let first_null = args.first().is_some_and(Value::is_null);
    if first_null && !matches!(f, CatFunc::HasPrivilege) {
        return Ok(Value::Null);
    }
    Ok(match f {
        CatFunc::FormatType => {
            let Some(t) = oid_arg(args.first()) else {
                return Ok(Value::Null);
            };
            let typmod = match args.get(1) {
                Some(Value::Int4(m)) => *m,
                _ => -1,
            };
            Value::Text(format_type(t, typmod))
        }
        CatFunc::GetExpr => match args.first() {
            Some(Value::Text(s)) => Value::Text(s.clone()),
            _ => Value::Null,
        },
        CatFunc::AlwaysVisible => Value::Bool(true),
        CatFunc::NoDescription => Value::Null,
        CatFunc::EncodingToChar => Value::Text(
            match args.first() {
                Some(Value::Int4(6)) => "UTF8",
                Some(Value::Int4(0)) => "SQL_ASCII",
                _ => "",
            }
            .to_string(),
        ),
        CatFunc::HasPrivilege => {
            if args.iter().any(Value::is_null) {
                return Ok(Value::Null);
            }
            Value::Bool(true)
        }
        CatFunc::SizePretty => Value::Text(match args.first() {
            Some(Value::Int8(n)) => size_pretty(*n as i128),
            Some(Value::Numeric(n)) => {
                let text = n.to_string();
                let whole = text.split('.').next().unwrap_or("0");
                size_pretty(whole.parse::<i128>().unwrap_or(0))
            }
            _ => return Ok(Value::Null),
        }),
        CatFunc::ListeningChannels => Value::Array(
            super::super::activity::listening_channels()?
                .into_iter()
                .map(Value::Text)
                .collect(),
        ),
        CatFunc::GetDef(DefKind::FunctionResult) => {
            let Some(o) = oid_arg(args.first()) else {
                return Ok(Value::Null);
            };
            match PROCS.iter().find(|p| p.0 == o) {
                Some(p) => {
                    let t = format_type(p.3, -1);
                    Value::Text(if p.5 { format!("SETOF {t}") } else { t })
                }
                None => Value::Null,
            }
        }
        CatFunc::GetDef(DefKind::FunctionArguments) => {
            let Some(o) = oid_arg(args.first()) else {
                return Ok(Value::Null);
            };
            match PROCS.iter().find(|p| p.0 == o) {
                Some(p) => Value::Text(
                    p.4.iter()
                        .map(|t| format_type(*t, -1))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                None => Value::Null,
            }
        }
        CatFunc::GetDef(DefKind::View) => return call_with_snapshot(f, args, ctx),
        CatFunc::GetDef(_) => Value::Null,
        _ => return call_with_snapshot(f, args, ctx),
    })
}

/// Bytes of the pages relation `o`'s trees occupy (8192 per page). A
/// table's primary key is its row tree, so its index counts 0 bytes and
/// the table's size includes it; a system relation or a view has none
/// of its own and counts 0; a sequence one page. NULL if `o` names no
/// relation, as in PostgreSQL.
fn relation_size(snap: &super::Snapshot, o: u32, kind: SizeKind) -> Result<Value> {
    const PAGE: i64 = 8192;
    let Some(catalog) = super::super::namespace::context_catalog() else {
        return Err(crate::error::Error::internal(
            "catalog function outside a statement",
        ));
    };
    let pages = |tree: &crate::storage::btree::Tree| -> Result<i64> {
        let n = tree
            .page_count()
            .map_err(|e| crate::error::Error::internal(e.to_string()))?;
        Ok(i64::try_from(n).unwrap_or(i64::MAX / PAGE))
    };
    if let Some(t) = snap.table_by_oid(o) {
        let own = if kind == SizeKind::Indexes {
            0
        } else {
            pages(&catalog.rows(t)?)?
        };
        let mut idx = 0;
        if kind != SizeKind::Relation {
            for tree in catalog.index_trees(t)? {
                idx += pages(&tree)?;
            }
        }
        return Ok(Value::Int8((own + idx).saturating_mul(PAGE)));
    }
    if let Some(ix) = snap.index_by_oid(o) {
        if ix.primary || kind == SizeKind::Indexes {
            return Ok(Value::Int8(0));
        }
        let table = ix.table;
        let Some(pos) = table.indexes.iter().position(|i| i.oid == o) else {
            return Ok(Value::Int8(0));
        };
        let trees = catalog.index_trees(table)?;
        let n = match trees.get(pos) {
            Some(tree) => pages(tree)?,
            None => 0,
        };
        return Ok(Value::Int8(n.saturating_mul(PAGE)));
    }
    Ok(match snap.relation_by_oid(o) {
        Some((_, _, 'S')) if kind != SizeKind::Indexes => Value::Int8(PAGE),
        Some(_) => Value::Int8(0),
        None => Value::Null,
    })
}

fn call_with_snapshot(f: CatFunc, args: &[Value], ctx: &EvalContext<'_>) -> Result<Value> {
    let snap = snapshot_in(ctx.txn)?;
    let o = oid_arg(args.first());
    Ok(match f {
        CatFunc::ObjDescription => {
            let class = match args.get(1) {
                Some(Value::Text(c)) => match c.rsplit('.').next() {
                    Some("pg_class") => Some(super::super::comment::PG_CLASS),
                    Some("pg_namespace") => Some(super::super::comment::PG_NAMESPACE),
                    _ => return Ok(Value::Null),
                },
                _ => None,
            };
            o.and_then(|o| snap.comment(o, class, 0))
                .map_or(Value::Null, |t| Value::Text(t.to_string()))
        }
        CatFunc::ColDescription => {
            let col = match args.get(1) {
                Some(Value::Int4(n)) => *n,
                _ => return Ok(Value::Null),
            };
            o.and_then(|o| snap.comment(o, Some(super::super::comment::PG_CLASS), col))
                .map_or(Value::Null, |t| Value::Text(t.to_string()))
        }
        CatFunc::GetDef(DefKind::View) => match o.and_then(|o| snap.view_by_oid(o)) {
            Some(v) => Value::Text(super::view_def(v)),
            None => Value::Null,
        },
        CatFunc::GetIndexdef => {
            let Some(ix) = o.and_then(|o| snap.index_by_oid(o)) else {
                return Ok(Value::Null);
            };
            match args.get(1) {
                Some(Value::Int4(k)) if *k > 0 => {
                    match ix
                        .columns
                        .get(*k as usize - 1)
                        .and_then(|(c, _)| ix.table.columns.get(*c))
                    {
                        Some(c) => Value::Text(quote_ident(&c.name)),
                        None => Value::Text(String::new()),
                    }
                }
                _ => Value::Text(super::index_def(&snap, &ix)),
            }
        }
        CatFunc::GetConstraintdef => match o.and_then(|o| snap.constraint_by_oid(o)) {
            Some(c) => Value::Text(super::constraint_def(
                &snap,
                &c,
                matches!(args.get(1), Some(Value::Bool(true))),
            )),
            None => Value::Null,
        },
        CatFunc::TableIsVisible => match o.and_then(|o| snap.relation_by_oid(o)) {
            Some((schema, name, _)) => Value::Bool(snap.relation_visible(&schema, &name)),
            None => Value::Null,
        },
        CatFunc::GetUserById => {
            let o = o.unwrap_or(0);
            Value::Text(
                snap.role_name(o)
                    .unwrap_or_else(|| format!("unknown (OID={o})")),
            )
        }
        CatFunc::PartitionAncestors => {
            // No partitioning: a relation is its only ancestor.
            match o.and_then(|o| snap.relation_by_oid(o).map(|_| o)) {
                Some(o) => Value::Array(vec![Value::Int8(o as i64)]),
                None => Value::Array(Vec::new()),
            }
        }
        CatFunc::RelationIsPublishable => Value::Bool(
            o.and_then(|o| snap.relation_by_oid(o))
                .is_some_and(|(s, _, k)| k == 'r' && s != "pg_catalog"),
        ),
        CatFunc::RelationSize(kind) => match o {
            Some(o) => relation_size(&snap, o, kind)?,
            None => Value::Null,
        },
        CatFunc::CurrentSchemas => {
            let implicit = matches!(args.first(), Some(Value::Bool(true)));
            Value::Array(
                snap.path
                    .iter()
                    .filter(|s| implicit || s.as_str() != "pg_catalog")
                    .map(|s| Value::Text(s.clone()))
                    .collect(),
            )
        }
        CatFunc::ToReg(kind) => match args.first() {
            Some(Value::Text(s)) => match super::reg::input(&snap, kind, s) {
                Ok(o) => Value::Int8(o as i64),
                Err(_) => Value::Null,
            },
            _ => Value::Null,
        },
        CatFunc::SerialSequence => {
            let (Some(Value::Text(table)), Some(Value::Text(column))) = (args.first(), args.get(1))
            else {
                return Ok(Value::Null);
            };
            // The table name is parsed as SQL (lower-cased unless quoted),
            // the column name taken literally, as PostgreSQL does.
            let o = super::reg::input(&snap, RegKind::Class, table)?;
            let Some(t) = snap.table_by_oid(o) else {
                return Ok(Value::Null);
            };
            let Some(pos) = t.columns.iter().position(|c| c.name == *column) else {
                return Err(Error::new(
                    crate::error::SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{column}\" of relation \"{}\" does not exist",
                        t.name
                    ),
                ));
            };
            match snap
                .sequences
                .iter()
                .find(|q| q.owned_by == Some((t.oid, pos as u16)))
            {
                Some(q) => Value::Text(format!(
                    "{}.{}",
                    quote_ident(&q.schema),
                    quote_ident(&q.name)
                )),
                None => Value::Null,
            }
        }
        _ => return Err(Error::internal(format!("{f:?} has no snapshot form"))),
    })
}

/// PostgreSQL 15's `pg_size_pretty`: bytes below 10 kB, then kB, MB, GB,
/// TB, each rounded half away from zero.
pub fn size_pretty(size: i128) -> String {
    const LIMIT: i128 = 10 * 1024;
    const LIMIT2: i128 = LIMIT * 2 - 1;
    let half_rounded = |x: i128| (x + if x < 0 { -1 } else { 1 }) / 2;
    if size.abs() < LIMIT {
        return format!("{size} bytes");
    }
    let mut s = size >> 9;
    for unit in ["kB", "MB", "GB"] {
        if s.abs() < LIMIT2 {
            return format!("{} {unit}", half_rounded(s));
        }
        s >>= 10;
    }
    format!("{} TB", half_rounded(s))
}

/// `format_type(type, typmod)`: the SQL name of a type, with its modifier.
pub fn format_type(type_oid: u32, typmod: i32) -> String {
    if let Some(t) = super::rows::type_with_typmod(type_oid, typmod) {
        return match t {
            DataType::Char(None) if typmod < 0 => "character".into(),
            DataType::Reg(k) => k.name().into(),
            t => t.name(),
        };
    }
    match super::data::TYPES.iter().find(|r| r.0 == type_oid) {
        Some(r) => match r.1 {
            "char" => "\"char\"".into(),
            n if r.5 == 'A' && n.starts_with('_') => format!("{}[]", &n[1..]),
            n => n.into(),
        },
        None if type_oid == 0 => "-".into(),
        None => "???".into(),
    }
}

pub use crate::sql::string_functions::quote_ident;

/// A column default as `pg_get_expr` shows it: a serial's
/// `nextval('s.t_id_seq')` as `nextval('t_id_seq'::regclass)`.
pub fn default_display(snap: &Snapshot, col: &crate::catalog::ColumnDef, default: &str) -> String {
    if let Some(inner) = default
        .strip_prefix("nextval('")
        .and_then(|r| r.strip_suffix("')"))
    {
        let parts: Vec<&str> = inner.splitn(2, '.').collect();
        let unquote = |s: &str| s.trim_matches('"').replace("\"\"", "\"");
        if let [schema, name] = parts.as_slice() {
            let shown = super::relation_display(snap, &unquote(schema), &unquote(name));
            return format!("nextval('{}'::regclass)", shown.replace('\'', "''"));
        }
    }
    literal_display(default, &col.data_type)
}

/// A constant as PostgreSQL deparses it for a column of type `ty`: a
/// string literal carries its type (`'x'::text`), a number not of the
/// column's numeric type too (`0::numeric`).
fn literal_display(expr: &str, ty: &DataType) -> String {
    let e = expr.trim();
    let is_string = e.starts_with('\'') && e.ends_with('\'') && e.len() >= 2;
    let is_int = !e.is_empty()
        && e.trim_start_matches('-')
            .chars()
            .all(|c| c.is_ascii_digit())
        && e != "-";
    // The constant's type, without the column's modifier.
    let type_name = |t: &DataType| match t {
        DataType::Char(_) => "bpchar".to_string(),
        DataType::Varchar(_) => "character varying".to_string(),
        DataType::Numeric(_) => "numeric".to_string(),
        t => t.name(),
    };
    if is_string {
        return format!("{e}::{}", type_name(ty));
    }
    if is_int
        && matches!(
            ty,
            DataType::Numeric(_) | DataType::Float4 | DataType::Float8
        )
    {
        return if e.starts_with('-') {
            format!("'{e}'::{}", type_name(ty))
        } else {
            format!("{e}::{}", type_name(ty))
        };
    }
    e.to_string()
}

/// A CHECK expression as `pg_get_constraintdef` shows it: integer
/// constants compared with a numeric column carry `::numeric`, string
/// constants their type, as PostgreSQL's deparser prints the implicit
/// casts it added.
pub fn check_display(t: &crate::catalog::TableDef, expr: &str, pretty: bool) -> String {
    use sqlparser::ast;
    let Ok(parsed) = super::super::check::parse_expr(expr) else {
        return expr.to_string();
    };
    fn column_type<'a>(t: &'a crate::catalog::TableDef, e: &ast::Expr) -> Option<&'a DataType> {
        match e {
            ast::Expr::Identifier(id) => {
                let n = super::super::bind::ident_name(id);
                t.columns.iter().find(|c| c.name == n).map(|c| &c.data_type)
            }
            ast::Expr::Nested(inner) => column_type(t, inner),
            _ => None,
        }
    }
    fn show(
        t: &crate::catalog::TableDef,
        e: &ast::Expr,
        other: Option<&DataType>,
        top: bool,
        pretty: bool,
    ) -> String {
        match e {
            ast::Expr::BinaryOp { left, op, right } => {
                let lt = column_type(t, left);
                let rt = column_type(t, right);
                let s = format!(
                    "{} {op} {}",
                    show(t, left, rt, false, pretty),
                    show(t, right, lt, false, pretty)
                );
                if top && pretty { s } else { format!("({s})") }
            }
            ast::Expr::Nested(inner) => show(t, inner, other, top, pretty),
            ast::Expr::Identifier(id) => {
                let n = super::super::bind::ident_name(id);
                match t.columns.iter().find(|c| c.name == n).map(|c| &c.data_type) {
                    // varchar compares as text: PostgreSQL shows the cast.
                    Some(DataType::Varchar(_)) if other.is_some() => {
                        format!("({})::text", quote_ident(&n))
                    }
                    _ => quote_ident(&n),
                }
            }
            ast::Expr::Value(v) => {
                let text = v.to_string();
                let shown = match other {
                    Some(DataType::Varchar(_)) => literal_display(&text, &DataType::Text),
                    Some(ty) => literal_display(&text, ty),
                    None => text.clone(),
                };
                // Plain (not pretty) output parenthesizes a cast number.
                match shown.strip_prefix(text.as_str()) {
                    Some(rest) if !pretty && rest.starts_with("::") && !text.starts_with('\'') => {
                        format!("({text}){rest}")
                    }
                    _ => shown,
                }
            }
            other => other.to_string(),
        }
    }
    show(t, &parsed, None, true, pretty)
}

/// `pg_proc`'s rows: the built-in functions arbordb has.
pub fn proc_rows(snap: &Snapshot, cols: &[(&'static str, DataType)]) -> Vec<Vec<Value>> {
    let owner = snap.owner();
    PROCS
        .iter()
        .map(|p| {
            cols.iter()
                .map(|(name, ty)| match *name {
                    "oid" => super::oid(p.0),
                    "proname" => Value::Text(p.1.to_string()),
                    "pronamespace" => super::oid(crate::catalog::schema::PG_CATALOG_OID),
                    "proowner" => super::oid(owner),
                    "prolang" => super::oid(12),
                    "procost" => Value::Float4(1.0),
                    "prorows" => Value::Float4(if p.5 { 1000.0 } else { 0.0 }),
                    "prosupport" => Value::Text("-".into()),
                    "prokind" => Value::Text(p.2.to_string()),
                    "proisstrict" => Value::Bool(true),
                    "proretset" => Value::Bool(p.5),
                    "provolatile" => Value::Text("i".into()),
                    "proparallel" => Value::Text("s".into()),
                    "pronargs" => Value::Int2(p.4.len() as i16),
                    "pronargdefaults" => Value::Int2(0),
                    "prorettype" => super::oid(p.3),
                    "proargtypes" => Value::Array(p.4.iter().map(|t| super::oid(*t)).collect()),
                    "prosrc" => Value::Text(p.1.to_string()),
                    _ => match ty {
                        DataType::Bool => Value::Bool(false),
                        DataType::Int8 | DataType::Oid => Value::Int8(0),
                        _ => Value::Null,
                    },
                })
                .collect()
        })
        .collect()
}

/// 42P01 for a relation name `regclass` cannot find.
pub fn undefined_relation(name: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_TABLE,
        format!("relation \"{name}\" does not exist"),
    )
}
