//! The binder: sqlparser's AST in, typed [`Expr`] trees and logical
//! [`Plan`]s out, with PostgreSQL's errors.
//!
//! Owns: name resolution (output names as `FigureColname` picks them),
//! literal typing (`1` int4, `3000000000` int8, `1.5` numeric, `'x'`
//! unknown), operator and function overload resolution with implicit casts,
//! unknown-literal and `$n` parameter type inference, and the 0A000 answer
//! for every construct that is not supported yet.
//! Never: evaluates anything except unknown literals being read as the type
//! they were resolved to (as PostgreSQL does at parse analysis).
//!
//! ```text
//!   SELECT $1 + 1 AS x        params: [Unknown]
//!     bind `$1 + 1`: inputs (unknown, int4) -> operator int4 + int4
//!     coerce $1 to int4        params: [Int4]    <- inferred
//!   Project [x: int4] <- Values [[]]             <- one empty row: no FROM
//! ```

use sqlparser::ast;
use sqlparser::ast::Spanned;
use sqlparser::ast::{
    BinaryOperator, CastKind, FunctionArg, FunctionArgExpr, FunctionArguments, SelectItem, SetExpr,
    UnaryOperator,
};

use crate::db::Column;
use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::aggregate;
use super::cast::{self, can_cast_explicit};
use super::coerce::{self, Category, NoMatch, category, common_type, same_base, select_candidate};
use super::expr::{BinOp, Expr, no_parameter};
use super::functions::{self, Func};
use super::plan::{AggCall, Plan, SetOpKind, SortKey};
pub use super::scan::TableSource;
use super::scan::{Access, TableRef};

/// Deepest expression nesting the binder follows (54001 beyond it).
const BIND_DEPTH_MAX: usize = 1000;

/// A bound query: its plan and result columns.
pub struct BoundQuery {
    pub plan: Plan,
    pub columns: Vec<Column>,
}

/// Parameter types while binding: declared, inferred, or `Unknown` (not
/// yet known). `allowed` is false in the simple query protocol, where any
/// `$n` is 42P02.
pub struct Params {
    pub types: Vec<DataType>,
    pub allowed: bool,
}

/// A `WITH` query in scope.
struct Cte {
    name: String,
    plan: Plan,
    columns: Vec<Column>,
    /// How many FROM items have read it (a recursive term's self-references).
    refs: std::cell::Cell<usize>,
}

pub struct Binder {
    /// The statement text, to turn AST locations into error positions.
    source: String,
    /// The queries enclosing the subquery being bound (innermost last), for
    /// correlated references ([`super::subquery`]).
    pub(super) outer: Vec<super::subquery::OuterFrame>,
    /// `WITH` queries visible here (innermost last).
    ctes: Vec<Cte>,
    /// Names of `WITH RECURSIVE` queries being bound (self-references are 0A000).
    pub(super) recursive_pending: Vec<String>,
    pub params: Params,
    depth: usize,
    /// The next column reference keeps an int2vector / oidvector type (a
    /// bare select-list column, a subscripted one) instead of reading as
    /// the element type's array.
    keep_vector: bool,
    /// Set while binding the select list, HAVING and ORDER BY of a query
    /// that may aggregate.
    pub(super) agg: Option<AggState>,
    /// The clause being bound where aggregates are not allowed.
    pub(super) agg_forbidden: Option<&'static str>,
    /// Window calls of the SELECT whose select list is being bound.
    pub(super) windows: Option<super::window::WindowState>,
    /// Set-returning calls of the select list being bound ([`super::srf`]).
    pub(super) srfs: Option<super::srf::SrfState>,
    /// Set just before binding a SELECT that is a leaf of a set operation:
    /// its unknown-typed output columns (`SELECT '2'`) stay unknown, so the
    /// set operation resolves them against the other side, as PostgreSQL
    /// does (`SELECT 1 UNION SELECT '2'` is integer). Taken by that SELECT.
    set_op_leaf: bool,
    /// Where table names resolve (the catalog through the statement's
    /// transaction); `None`: no tables (a FROM naming one is 42P01).
    pub(super) tables: Option<TableSource>,
}

/// Aggregation while binding one SELECT.
pub(super) struct AggState {
    /// Grouped (GROUP BY, HAVING or aggregates seen): a column outside an
    /// aggregate must be a group key.
    pub(super) strict: bool,
    pub(super) group_asts: Vec<ast::Expr>,
    pub(super) group_types: Vec<DataType>,
    pub(super) aggs: Vec<AggCall>,
    /// Inside an aggregate's arguments.
    pub(super) in_agg: bool,
    /// `GROUPING SETS` / `ROLLUP` / `CUBE` ([`super::grouping_sets`]).
    pub(super) grouping: Option<super::grouping_sets::GroupingSets>,
    pub(super) input_scope: Scope,
}

fn strip_nested(e: &ast::Expr) -> &ast::Expr {
    match e {
        ast::Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

/// One column visible to expressions: its relation's name, its name, its type.
#[derive(Debug, Clone)]
pub struct ScopeColumn {
    pub table: Option<String>,
    pub name: String,
    pub ty: DataType,
    /// Merged away by `JOIN … USING` / `NATURAL`: only `table.name` finds
    /// it, and `*` skips it (the merged column stands for it).
    pub hidden: bool,
}

/// The columns a query's expressions can see (empty without FROM), in the
/// order of the input row: a join's scope is its left scope, then its right.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// The columns of one relation named `table`.
    pub fn of(
        table: Option<String>,
        columns: impl IntoIterator<Item = (String, DataType)>,
    ) -> Scope {
        Scope {
            columns: columns
                .into_iter()
                .map(|(name, ty)| ScopeColumn {
                    table: table.clone(),
                    name,
                    ty,
                    hidden: false,
                })
                .collect(),
        }
    }

    pub fn concat(mut self, other: Scope) -> Scope {
        self.columns.extend(other.columns);
        self
    }

    pub fn has_table(&self, table: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.table.as_deref() == Some(table))
    }

    /// The input position of `[table.]name`.
    pub fn find(&self, table: Option<&str>, name: &str) -> Result<usize> {
        if let Some(t) = table
            && !self.has_table(t)
        {
            return Err(Error::new(
                SqlState::UNDEFINED_TABLE,
                format!("missing FROM-clause entry for table \"{t}\""),
            ));
        }
        let hits: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                c.name == name
                    && match table {
                        None => !c.hidden,
                        Some(_) => c.table.as_deref() == table,
                    }
            })
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [i] => Ok(*i),
            [] => Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                match table {
                    Some(t) => format!("column {t}.{name} does not exist"),
                    None => format!("column \"{name}\" does not exist"),
                },
            )),
            _ => Err(Error::new(
                SqlState::AMBIGUOUS_COLUMN,
                format!("column reference \"{name}\" is ambiguous"),
            )),
        }
    }

    fn column(&self, index: usize) -> Expr {
        Expr::Column {
            index,
            ty: self.columns[index].ty.clone(),
        }
    }

    /// Resolves an identifier or `table.column` AST to a column position.
    pub(super) fn find_ast(&self, e: &ast::Expr) -> Option<usize> {
        match e {
            ast::Expr::Identifier(id) => self.find(None, &ident_name(id)).ok(),
            ast::Expr::CompoundIdentifier(ids) if ids.len() == 2 => self
                .find(Some(&ident_name(&ids[0])), &ident_name(&ids[1]))
                .ok(),
            _ => None,
        }
    }
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::unsupported(what)
}

/// Lower-cases unquoted identifiers, as PostgreSQL folds them.
pub fn ident_name(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

pub fn object_name(name: &ast::ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(id) => ident_name(id),
            ast::ObjectNamePart::Function(f) => ident_name(&f.name),
        })
        .collect()
}

/// Names an AST node's variant for 0A000 messages (`Subquery`, `Array`, …).
fn variant_name<T: std::fmt::Debug>(node: &T) -> String {
    format!("{node:?}")
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Maps a SQL type name to our type and the internal name that
/// `FigureColname` uses for casts (`integer` -> `int4`).
pub fn resolve_type(dt: &ast::DataType) -> Result<(DataType, &'static str)> {
    use ast::DataType as A;
    fn char_len(l: &Option<ast::CharacterLength>) -> Result<Option<u32>> {
        match l {
            None => Ok(None),
            Some(ast::CharacterLength::IntegerLength { length, .. }) => {
                if *length == 0 {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "length for type varchar must be at least 1",
                    ));
                }
                u32::try_from(*length).map(Some).map_err(|_| {
                    Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "length for type varchar cannot exceed 10485760",
                    )
                })
            }
            Some(ast::CharacterLength::Max) => Err(unsupported("varchar(max)")),
        }
    }
    fn numeric(info: &ast::ExactNumberInfo) -> Result<DataType> {
        let bad = |p: u64| {
            Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("NUMERIC precision {p} must be between 1 and 1000"),
            )
        };
        Ok(match info {
            ast::ExactNumberInfo::None => DataType::Numeric(None),
            ast::ExactNumberInfo::Precision(p) => {
                if *p < 1 || *p > 1000 {
                    return Err(bad(*p));
                }
                DataType::Numeric(Some((*p as u16, 0)))
            }
            ast::ExactNumberInfo::PrecisionAndScale(p, s) => {
                if *p < 1 || *p > 1000 {
                    return Err(bad(*p));
                }
                if *s < 0 || *s as u64 > *p {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("NUMERIC scale {s} must be between 0 and precision {p}"),
                    ));
                }
                DataType::Numeric(Some((*p as u16, *s as u16)))
            }
        })
    }
    Ok(match dt {
        A::Bool | A::Boolean => (DataType::Bool, "bool"),
        A::SmallInt(_) | A::Int2(_) => (DataType::Int2, "int2"),
        A::Int(_) | A::Integer(_) | A::Int4(_) => (DataType::Int4, "int4"),
        A::BigInt(_) | A::Int8(_) => (DataType::Int8, "int8"),
        A::Real | A::Float4 => (DataType::Float4, "float4"),
        A::DoublePrecision | A::Float8 | A::Double(ast::ExactNumberInfo::None) => {
            (DataType::Float8, "float8")
        }
        A::Float(ast::ExactNumberInfo::None) => (DataType::Float8, "float8"),
        A::Float(ast::ExactNumberInfo::Precision(p)) => {
            if *p < 1 || *p > 53 {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "precision for type float must be {}",
                        if *p < 1 {
                            "at least 1 bit"
                        } else {
                            "less than 54 bits"
                        }
                    ),
                ));
            }
            if *p <= 24 {
                (DataType::Float4, "float4")
            } else {
                (DataType::Float8, "float8")
            }
        }
        A::Numeric(info) | A::Decimal(info) | A::Dec(info) => (numeric(info)?, "numeric"),
        A::Text => (DataType::Text, "text"),
        A::Regclass => (DataType::Reg(crate::types::RegKind::Class), "regclass"),
        A::Varchar(l) | A::CharacterVarying(l) | A::CharVarying(l) => {
            (DataType::Varchar(char_len(l)?), "varchar")
        }
        A::Char(l) | A::Character(l) => (DataType::Char(Some(char_len(l)?.unwrap_or(1))), "bpchar"),
        A::Bytea => (DataType::Bytea, "bytea"),
        A::Date => (DataType::Date, "date"),
        A::Time(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => {
            (DataType::Time, "time")
        }
        A::Timestamp(_, ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone) => {
            (DataType::Timestamp, "timestamp")
        }
        A::Timestamp(_, _) => (DataType::Timestamptz, "timestamptz"),
        A::Interval { .. } => (DataType::Interval, "interval"),
        A::Uuid => (DataType::Uuid, "uuid"),
        A::JSON => (DataType::Json, "json"),
        A::JSONB => (DataType::Jsonb, "jsonb"),
        A::Array(
            ast::ArrayElemTypeDef::SquareBracket(elem, _)
            | ast::ArrayElemTypeDef::Qualified(elem, _),
        ) => {
            let (elem, _) = resolve_type(elem)?;
            if matches!(elem, DataType::Array(_)) {
                return Err(unsupported("multidimensional arrays"));
            }
            (DataType::Array(Box::new(elem)), "array")
        }
        A::Custom(name, mods) => {
            let parts = object_name(name);
            let last = parts.last().map(String::as_str).unwrap_or("");
            if parts.len() > 1 && parts[0] != "pg_catalog" {
                return Err(Error::new(
                    SqlState::UNDEFINED_OBJECT,
                    format!("type \"{}\" does not exist", parts.join(".")),
                ));
            }
            if !mods.is_empty() && !matches!(last, "bpchar" | "varchar") {
                return Err(unsupported(format!("type modifiers on {last}")));
            }
            match last {
                "int2" => (DataType::Int2, "int2"),
                "int4" => (DataType::Int4, "int4"),
                "int8" => (DataType::Int8, "int8"),
                "float4" => (DataType::Float4, "float4"),
                "float8" => (DataType::Float8, "float8"),
                "bool" => (DataType::Bool, "bool"),
                "text" => (DataType::Text, "text"),
                "bpchar" => {
                    let n = mods.first().and_then(|m| m.parse().ok());
                    (DataType::Char(n), "bpchar")
                }
                "varchar" => {
                    let n = mods.first().and_then(|m| m.parse().ok());
                    (DataType::Varchar(n), "varchar")
                }
                "date" => (DataType::Date, "date"),
                "time" => (DataType::Time, "time"),
                "timestamp" => (DataType::Timestamp, "timestamp"),
                "timestamptz" => (DataType::Timestamptz, "timestamptz"),
                "interval" => (DataType::Interval, "interval"),
                "uuid" => (DataType::Uuid, "uuid"),
                "json" => (DataType::Json, "json"),
                "jsonb" => (DataType::Jsonb, "jsonb"),
                "oid" => (DataType::Oid, "oid"),
                "regclass" => (DataType::Reg(crate::types::RegKind::Class), "regclass"),
                "regtype" => (DataType::Reg(crate::types::RegKind::Type), "regtype"),
                "regnamespace" => (
                    DataType::Reg(crate::types::RegKind::Namespace),
                    "regnamespace",
                ),
                "regproc" | "regprocedure" => {
                    (DataType::Reg(crate::types::RegKind::Proc), "regproc")
                }
                "regrole" => (DataType::Reg(crate::types::RegKind::Role), "regrole"),
                // `name` and `"char"` are text here (the system relations'
                // name and "char" columns are text; see docs/compatibility.md).
                "name" => (DataType::Text, "name"),
                "char" => (DataType::Text, "char"),
                "timetz" => {
                    return Err(unsupported(format!("type {last}")));
                }
                other => {
                    return Err(Error::new(
                        SqlState::UNDEFINED_OBJECT,
                        format!("type \"{other}\" does not exist"),
                    ));
                }
            }
        }
        other => return Err(unsupported(format!("type {other}"))),
    })
}

/// `FigureColname`: the output name PostgreSQL gives an unaliased
/// expression, with its strength (2 = a real name, 1 = a fallback such as a
/// cast's type or `case`, 0 = `?column?`).
pub fn figure_colname(e: &ast::Expr) -> (String, u8) {
    use ast::Expr as E;
    match e {
        E::Identifier(id) => (ident_name(id), 2),
        E::CompoundIdentifier(ids) => (ids.last().map(ident_name).unwrap_or_default(), 2),
        E::Nested(inner) => figure_colname(inner),
        E::Function(f) => (object_name(&f.name).last().cloned().unwrap_or_default(), 2),
        E::Cast {
            expr, data_type, ..
        } => {
            let (name, strength) = figure_colname(expr);
            if strength <= 1 {
                match resolve_type(data_type) {
                    Ok((_, n)) => (n.to_string(), 1),
                    Err(_) => (name, strength),
                }
            } else {
                (name, strength)
            }
        }
        E::TypedString(ts) => match resolve_type(&ts.data_type) {
            Ok((_, n)) => (n.to_string(), 1),
            Err(_) => ("?column?".into(), 0),
        },
        E::Case { .. } => ("case".into(), 1),
        E::Ceil { .. } => ("ceil".into(), 2),
        E::Floor { .. } => ("floor".into(), 2),
        E::Position { .. } => ("position".into(), 2),
        E::Substring { .. } => ("substring".into(), 2),
        E::Trim { .. } => ("btrim".into(), 2),
        E::Exists { .. } => ("exists".into(), 2),
        E::Subquery(q) => (subquery_colname(q), 2),
        E::Extract { .. } => ("extract".into(), 2),
        E::Array(_) => ("array".into(), 2),
        E::CompoundFieldAccess { root, access_chain } => {
            figure_colname(&qualified_root(root, access_chain).0)
        }
        E::AtTimeZone { .. } => ("timezone".into(), 2),
        E::Interval(_) => ("interval".into(), 1),
        _ => ("?column?".into(), 0),
    }
}

/// The lower bound of a respelled `BETWEEN SYMMETRIC` (see
/// `parse::BETWEEN_SYMMETRIC_MARK`), if `low` is one.
fn symmetric_low(low: &ast::Expr) -> Option<&ast::Expr> {
    let ast::Expr::Function(f) = low else {
        return None;
    };
    if object_name(&f.name) != [super::parse::BETWEEN_SYMMETRIC_MARK] {
        return None;
    }
    match &f.args {
        FunctionArguments::List(l) => match l.args.as_slice() {
            [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a qualified function name `schema.f` names a built-in: the
/// schema is `pg_catalog`, or `information_schema` for its helper
/// `_pg_expandarray`.
pub(super) fn known_function_schema(parts: &[String]) -> bool {
    match parts {
        [schema, _] if schema == "pg_catalog" => true,
        [schema, f] => schema == "information_schema" && f == "_pg_expandarray",
        _ => false,
    }
}

/// A column reference of an int2vector / oidvector type relabelled as the
/// element type's array (the values already are arrays): what every
/// operator, function and cast sees.
fn devector(e: Expr) -> Expr {
    match e {
        Expr::Column {
            index,
            ty: ty @ DataType::Vector(_),
        } => Expr::Column {
            index,
            ty: ty.devector(),
        },
        Expr::Outer {
            slot,
            ty: ty @ DataType::Vector(_),
        } => Expr::Outer {
            slot,
            ty: ty.devector(),
        },
        e => e,
    }
}

/// The expression a field-access chain starts from: `root` followed by the
/// chain's leading `.name` steps, as one (compound) identifier when `root`
/// is a name; and the rest of the chain.
fn qualified_root<'a>(
    root: &ast::Expr,
    chain: &'a [ast::AccessExpr],
) -> (ast::Expr, &'a [ast::AccessExpr]) {
    let mut parts = match root {
        ast::Expr::Identifier(id) => vec![id.clone()],
        ast::Expr::CompoundIdentifier(ids) => ids.clone(),
        _ => return (root.clone(), chain),
    };
    let mut used = 0;
    for step in chain {
        match step {
            ast::AccessExpr::Dot(ast::Expr::Identifier(id)) => {
                parts.push(id.clone());
                used += 1;
            }
            _ => break,
        }
    }
    let expr = if parts.len() == 1 {
        ast::Expr::Identifier(parts.remove(0))
    } else {
        ast::Expr::CompoundIdentifier(parts)
    };
    (expr, &chain[used..])
}

/// A scalar subquery's name: its first output column's.
fn subquery_colname(q: &ast::Query) -> String {
    let mut body = q.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left;
    }
    match body {
        SetExpr::Select(s) => match s.projection.first() {
            Some(SelectItem::ExprWithAlias { alias, .. }) => ident_name(alias),
            Some(SelectItem::UnnamedExpr(e)) => figure_colname(e).0,
            _ => "?column?".into(),
        },
        SetExpr::Query(q) => subquery_colname(q),
        SetExpr::Values(_) => "column1".into(),
        _ => "?column?".into(),
    }
}

/// The candidate signatures of a binary operator: (left, right) -> result,
/// evaluated on operands converted to `eval`.
struct OpSig {
    args: Vec<DataType>,
    eval: DataType,
    result: DataType,
    /// Operands keep their own types (`args`), e.g. `timestamp + interval`.
    mixed: bool,
}

fn operator_signatures(op: BinOp) -> Vec<OpSig> {
    use DataType::*;
    let num = Numeric(None);
    let same = |t: DataType, result: Option<DataType>| OpSig {
        args: vec![t.clone(), t.clone()],
        eval: t.clone(),
        result: result.unwrap_or(t),
        mixed: false,
    };
    let cross = |a: DataType, b: DataType, wide: DataType, result: Option<DataType>| OpSig {
        args: vec![a, b],
        eval: wide.clone(),
        result: result.unwrap_or(wide),
        mixed: false,
    };
    let mut sigs = Vec::new();
    let cross_pairs = [
        (Int2, Int4, Int4),
        (Int4, Int2, Int4),
        (Int2, Int8, Int8),
        (Int8, Int2, Int8),
        (Int4, Int8, Int8),
        (Int8, Int4, Int8),
        (Float4, Float8, Float8),
        (Float8, Float4, Float8),
    ];
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
            for t in [Int2, Int4, Int8, Float4, Float8, num] {
                sigs.push(same(t, None));
            }
            for (a, b, w) in cross_pairs {
                sigs.push(cross(a, b, w, None));
            }
            for (a, b, result) in super::datetime_functions::operator_signatures(op) {
                sigs.push(OpSig {
                    args: vec![a, b],
                    eval: Unknown,
                    result,
                    mixed: true,
                });
            }
        }
        BinOp::Mod => {
            for t in [Int2, Int4, Int8, num] {
                sigs.push(same(t, None));
            }
        }
        BinOp::Pow => sigs.push(same(Float8, None)),
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
            for t in [
                Int2,
                Int4,
                Int8,
                Float4,
                Float8,
                num,
                Text,
                Bool,
                Bytea,
                Date,
                Time,
                Timestamp,
                Timestamptz,
                Interval,
                Uuid,
                Jsonb,
                Oid,
            ] {
                sigs.push(same(t, Some(Bool)));
            }
            for (a, b, w) in cross_pairs {
                sigs.push(cross(a, b, w, Some(Bool)));
            }
        }
        BinOp::Concat => {}
    }
    sigs
}

pub(super) fn type_list(types: &[DataType]) -> String {
    types
        .iter()
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_stringish(t: &DataType) -> bool {
    category(t) == Category::String
}

impl Binder {
    pub fn new(params: Params) -> Binder {
        Binder {
            source: String::new(),
            outer: Vec::new(),
            ctes: Vec::new(),
            recursive_pending: Vec::new(),
            params,
            depth: 0,
            keep_vector: false,
            agg: None,
            agg_forbidden: None,
            windows: None,
            srfs: None,
            set_op_leaf: false,
            tables: None,
        }
    }

    /// Lets FROM name tables, read through `tables`.
    pub fn with_tables(mut self, tables: TableSource) -> Binder {
        self.tables = Some(tables);
        self
    }

    /// Remembers the statement text so errors can carry a position.
    pub fn with_source(mut self, sql: &str) -> Binder {
        self.source = sql.to_string();
        self
    }

    /// Gives an error the position of `e` (1-based, in characters) if the
    /// error is about that node and has none yet: an unknown column or
    /// function, or a literal that is not valid for its type.
    /// `err` at `e`'s position (unless it has one).
    pub(super) fn position_at(&self, e: &ast::Expr, err: Error) -> Error {
        if err.position.is_some() || self.source.is_empty() {
            return err;
        }
        match super::parse::char_position(&self.source, e.span().start) {
            Some(pos) => err.with_position(pos),
            None => err,
        }
    }

    fn locate(&self, e: &ast::Expr, err: Error) -> Error {
        if err.position.is_some() || self.source.is_empty() {
            return err;
        }
        let node = match e {
            ast::Expr::Cast { expr, .. } => expr.as_ref(),
            other => other,
        };
        let about_node = match node {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => matches!(
                err.sqlstate,
                SqlState::UNDEFINED_COLUMN
                    | SqlState::UNDEFINED_TABLE
                    | SqlState::AMBIGUOUS_COLUMN
                    | SqlState::GROUPING_ERROR
            ),
            ast::Expr::Function(_) => matches!(
                err.sqlstate,
                SqlState::UNDEFINED_FUNCTION
                    | SqlState::AMBIGUOUS_FUNCTION
                    | SqlState::GROUPING_ERROR
            ),
            ast::Expr::Value(_) | ast::Expr::TypedString(_) => matches!(
                err.sqlstate,
                SqlState::INVALID_TEXT_REPRESENTATION | SqlState::NUMERIC_VALUE_OUT_OF_RANGE
            ),
            _ => false,
        };
        if !about_node {
            return err;
        }
        match super::parse::char_position(&self.source, node.span().start) {
            Some(pos) => err.with_position(pos),
            None => err,
        }
    }

    // -----------------------------------------------------------------------
    // Coercion.

    /// Converts `e` to `to` implicitly: reads unknown literals as `to`,
    /// infers unknown parameters as `to`, wraps others in a cast.
    pub fn coerce(&mut self, e: Expr, to: &DataType) -> Result<Expr> {
        let from = e.ty();
        if from == *to {
            return Ok(e);
        }
        match e {
            Expr::Const {
                value: Value::Text(text),
                ty: DataType::Unknown,
            } if matches!(to, DataType::Reg(_)) => {
                let DataType::Reg(kind) = to else {
                    return Err(Error::internal("reg type vanished"));
                };
                let oid = self.reg_input(*kind, &text)?;
                Ok(Expr::Const {
                    value: Value::Int8(oid as i64),
                    ty: to.clone(),
                })
            }
            Expr::Const {
                value,
                ty: DataType::Unknown,
            } => Ok(Expr::Const {
                value: cast::cast(value, &DataType::Unknown, to)?,
                ty: to.clone(),
            }),
            Expr::Param {
                index,
                ty: DataType::Unknown,
            } => {
                let base = coerce::base(to);
                if let Some(slot) = self.params.types.get_mut(index) {
                    *slot = base.clone();
                }
                let p = Expr::Param {
                    index,
                    ty: base.clone(),
                };
                if base == *to {
                    Ok(p)
                } else {
                    Ok(Expr::Cast {
                        expr: Box::new(p),
                        to: to.clone(),
                    })
                }
            }
            e => Ok(Expr::Cast {
                expr: Box::new(e),
                to: to.clone(),
            }),
        }
    }

    /// A `regclass` (& co.) literal's oid, looked up in the statement's
    /// catalog as PostgreSQL reads it at parse analysis.
    fn reg_input(&self, kind: crate::types::RegKind, text: &str) -> Result<u32> {
        let Some(source) = &self.tables else {
            return match cast::cast(
                Value::Text(text.to_string()),
                &DataType::Unknown,
                &DataType::Reg(kind),
            )? {
                Value::Int8(o) => Ok(o as u32),
                _ => Err(Error::internal("reg literal")),
            };
        };
        let snap = {
            let mut txn = super::scan::lock_txn(&source.txn)?;
            super::pg_catalog::snapshot(source.shared.catalog(), &mut txn)?
        };
        super::pg_catalog::reg::input(&snap, kind, text)
    }

    /// Coerces to boolean for `context` (`WHERE`, `AND`, `CASE/WHEN`, …).
    pub(super) fn coerce_bool(&mut self, e: Expr, context: &str) -> Result<Expr> {
        let t = e.ty();
        if t == DataType::Bool || t == DataType::Unknown {
            return self.coerce(e, &DataType::Bool);
        }
        Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "argument of {context} must be type boolean, not type {}",
                t.name()
            ),
        ))
    }

    /// An explicit cast (`CAST(e AS t)`, `e::t`).
    pub(super) fn explicit_cast(&mut self, e: Expr, to: &DataType) -> Result<Expr> {
        let from = e.ty();
        if from == DataType::Unknown {
            return self.coerce(e, to);
        }
        if !can_cast_explicit(&from, to) {
            return Err(Error::new(
                SqlState::CANNOT_COERCE,
                format!("cannot cast type {} to {}", from.name(), to.name()),
            ));
        }
        if from == *to {
            return Ok(e);
        }
        Ok(Expr::Cast {
            expr: Box::new(e),
            to: to.clone(),
        })
    }

    /// Finds the common type of `exprs` and coerces each to it.
    pub(super) fn unify(
        &mut self,
        exprs: Vec<Expr>,
        context: &str,
    ) -> Result<(Vec<Expr>, DataType)> {
        let types: Vec<DataType> = exprs.iter().map(|e| e.ty()).collect();
        let ty = common_type(&types, context)?;
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            out.push(self.coerce(e, &ty)?);
        }
        Ok((out, ty))
    }

    // -----------------------------------------------------------------------
    // Operators.

    pub fn binary(&mut self, op: BinOp, left: Expr, right: Expr) -> Result<Expr> {
        let (lt, rt) = (left.ty(), right.ty());
        if op == BinOp::Concat {
            // Arrays: array_cat, array_append, array_prepend (an unknown
            // literal next to an array is an array, as in PostgreSQL).
            let is_array = |t: &DataType| matches!(t, DataType::Array(_));
            let array_op = match (is_array(&lt), is_array(&rt)) {
                (true, true) => Some("array_cat"),
                (true, false) if rt == DataType::Unknown => Some("array_cat"),
                (false, true) if lt == DataType::Unknown => Some("array_cat"),
                (true, false) => Some("array_append"),
                (false, true) if !is_stringish(&lt) => Some("array_prepend"),
                _ => None,
            };
            if let Some(name) = array_op {
                let (left, right) = match (name, &lt, &rt) {
                    ("array_cat", DataType::Unknown, t) | ("array_cat", t, DataType::Unknown) => {
                        let t = t.clone();
                        (self.coerce(left, &t)?, self.coerce(right, &t)?)
                    }
                    _ => (left, right),
                };
                if let Some(r) = super::array_functions::bind(self, name, &[left, right]) {
                    return r;
                }
                return Err(self.no_operator(op, &lt, &rt));
            }
            if lt == DataType::Bytea && rt == DataType::Bytea {
                return Ok(Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    ty: DataType::Bytea,
                });
            }
            let l_ok = is_stringish(&lt) || lt == DataType::Unknown;
            let r_ok = is_stringish(&rt) || rt == DataType::Unknown;
            if (l_ok && (r_ok || rt != DataType::Unknown)) || (r_ok && lt != DataType::Unknown) {
                // text || text, or anynonarray || text: both sides as text.
                let left = self.concat_operand(left)?;
                let right = self.concat_operand(right)?;
                return Ok(Expr::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                    ty: DataType::Text,
                });
            }
            return Err(self.no_operator(op, &lt, &rt));
        }
        // Arrays compare element by element (`array_eq`, `array_lt`, …).
        let is_array = |t: &DataType| matches!(t, DataType::Array(_));
        if op.is_comparison()
            && (is_array(&lt) || is_array(&rt))
            && (is_array(&lt) || lt == DataType::Unknown)
            && (is_array(&rt) || rt == DataType::Unknown)
        {
            if is_array(&lt) && is_array(&rt) && !coerce::same_base(&lt, &rt) {
                return Err(self.no_operator(op, &lt, &rt));
            }
            let ty = if is_array(&lt) {
                lt.clone()
            } else {
                rt.clone()
            };
            let left = self.coerce(left, &ty)?;
            let right = self.coerce(right, &ty)?;
            return Ok(Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
                ty: DataType::Bool,
            });
        }
        let sigs = operator_signatures(op);
        let inputs = [lt.clone(), rt.clone()];
        let arith = !op.is_comparison();
        if arith && lt == DataType::Unknown && rt == DataType::Unknown {
            return Err(self.ambiguous_operator(op, &lt, &rt));
        }
        let candidates: Vec<Vec<DataType>> = sigs.iter().map(|s| s.args.clone()).collect();
        let chosen = match select_candidate(&inputs, &candidates) {
            Ok(i) => &sigs[i],
            Err(NoMatch::None) => return Err(self.no_operator(op, &lt, &rt)),
            Err(NoMatch::Ambiguous) => return Err(self.ambiguous_operator(op, &lt, &rt)),
        };
        let (eval, result) = (chosen.eval.clone(), chosen.result.clone());
        let (left, right) = if chosen.mixed {
            let (lt, rt) = (chosen.args[0].clone(), chosen.args[1].clone());
            (self.coerce(left, &lt)?, self.coerce(right, &rt)?)
        } else {
            (self.coerce(left, &eval)?, self.coerce(right, &eval)?)
        };
        Ok(Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty: result,
        })
    }

    fn concat_operand(&mut self, e: Expr) -> Result<Expr> {
        match e.ty() {
            DataType::Text => Ok(e),
            DataType::Unknown => self.coerce(e, &DataType::Text),
            _ => Ok(Expr::Cast {
                expr: Box::new(e),
                to: DataType::Text,
            }),
        }
    }

    fn no_operator(&self, op: BinOp, l: &DataType, r: &DataType) -> Error {
        Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("operator does not exist: {} {} {}", l.name(), op.symbol(), r.name()),
        )
        .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
    }

    fn ambiguous_operator(&self, op: BinOp, l: &DataType, r: &DataType) -> Error {
        Error::new(
            SqlState::AMBIGUOUS_FUNCTION,
            format!("operator is not unique: {} {} {}", l.name(), op.symbol(), r.name()),
        )
        .with_hint("Could not choose a best candidate operator. You might need to add explicit type casts.")
    }

    // -----------------------------------------------------------------------
    // Expressions.

    pub fn bind_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        super::stack_depth::check()?;
        self.depth += 1;
        if self.depth > BIND_DEPTH_MAX {
            self.depth -= 1;
            return Err(Error::new(
                super::parse::STATEMENT_TOO_COMPLEX,
                "stack depth limit exceeded",
            ));
        }
        let r = match self.group_key(e) {
            Some(key) => Ok(key),
            None => self
                .bind_expr_inner(e, scope)
                .map_err(|err| self.locate(e, err)),
        };
        self.depth -= 1;
        r
    }

    /// In a grouped query, an expression equal to a GROUP BY key reads the key.
    pub(super) fn group_key(&self, e: &ast::Expr) -> Option<Expr> {
        let st = self.agg.as_ref()?;
        if !st.strict || st.in_agg {
            return None;
        }
        let e = strip_nested(e);
        // Column references match by the column they name (`x`, `"x"`, `t.x`).
        let column_of = |x: &ast::Expr| st.input_scope.find_ast(x);
        let target = column_of(e);
        let i = st
            .group_asts
            .iter()
            .position(|g| g == e || (target.is_some() && column_of(g) == target))?;
        Some(Expr::Column {
            index: i,
            ty: st.group_types[i].clone(),
        })
    }

    /// 42803 for a column used outside an aggregate in a grouped query.
    fn check_ungrouped(&self, scope: &Scope, index: usize) -> Result<()> {
        if let Some(st) = &self.agg
            && st.strict
            && !st.in_agg
        {
            let c = &scope.columns[index];
            let shown = match &c.table {
                Some(t) => format!("{t}.{}", c.name),
                None => c.name.clone(),
            };
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                format!(
                    "column \"{shown}\" must appear in the GROUP BY clause or be used in an aggregate function"
                ),
            ));
        }
        Ok(())
    }

    fn bind_expr_inner(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        use ast::Expr as E;
        match e {
            E::Value(v) => self.bind_value(&v.value, false),
            E::Identifier(id) => {
                let keep = std::mem::take(&mut self.keep_vector);
                let name = ident_name(id);
                let col = match scope.find(None, &name) {
                    Ok(i) => {
                        self.check_ungrouped(scope, i)?;
                        Ok(scope.column(i))
                    }
                    Err(err) => self.outer_column(None, &name, err),
                };
                col.map(|c| if keep { c } else { devector(c) })
            }
            E::CompoundIdentifier(ids) => {
                // `s.t.c`: the schema is not part of a scope's names.
                if ids.len() != 2 && ids.len() != 3 {
                    return Err(unsupported("qualified names with more than three parts"));
                }
                let keep = std::mem::take(&mut self.keep_vector);
                let n = ids.len();
                let (t, c) = (ident_name(&ids[n - 2]), ident_name(&ids[n - 1]));
                let col = match scope.find(Some(&t), &c) {
                    Ok(i) => {
                        self.check_ungrouped(scope, i)?;
                        Ok(scope.column(i))
                    }
                    Err(err) => self.outer_column(Some(&t), &c, err),
                };
                col.map(|c| if keep { c } else { devector(c) })
            }
            E::Nested(inner) => self.bind_expr(inner, scope),
            E::UnaryOp { op, expr } => self.bind_unary(*op, expr, scope),
            E::BinaryOp { left, op, right } => self.bind_binary(left, op, right, scope),
            E::IsNull(x) | E::IsNotNull(x) => Ok(Expr::IsNull {
                expr: Box::new(self.bind_expr(x, scope)?),
                negated: matches!(e, E::IsNotNull(_)),
            }),
            E::IsTrue(x)
            | E::IsNotTrue(x)
            | E::IsFalse(x)
            | E::IsNotFalse(x)
            | E::IsUnknown(x)
            | E::IsNotUnknown(x) => {
                let (value, negated, ctx) = match e {
                    E::IsTrue(_) => (Some(true), false, "IS TRUE"),
                    E::IsNotTrue(_) => (Some(true), true, "IS NOT TRUE"),
                    E::IsFalse(_) => (Some(false), false, "IS FALSE"),
                    E::IsNotFalse(_) => (Some(false), true, "IS NOT FALSE"),
                    E::IsUnknown(_) => (None, false, "IS UNKNOWN"),
                    _ => (None, true, "IS NOT UNKNOWN"),
                };
                let x = self.bind_expr(x, scope)?;
                let x = self.coerce_bool(x, ctx)?;
                Ok(Expr::IsBool {
                    expr: Box::new(x),
                    value,
                    negated,
                })
            }
            E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b)
                if super::rows::row_items(a).is_some() || super::rows::row_items(b).is_some() =>
            {
                self.bind_row_distinct(a, b, matches!(e, E::IsNotDistinctFrom(..)), scope)
            }
            E::IsDistinctFrom(a, b) | E::IsNotDistinctFrom(a, b) => {
                let l = self.bind_expr(a, scope)?;
                let r = self.bind_expr(b, scope)?;
                match self.binary(BinOp::Eq, l, r)? {
                    Expr::Binary { left, right, .. } => Ok(Expr::IsDistinct {
                        left,
                        right,
                        negated: matches!(e, E::IsNotDistinctFrom(..)),
                    }),
                    other => Err(Error::internal(format!("= bound to {other:?}"))),
                }
            }
            E::InList {
                expr,
                list,
                negated,
            } if super::rows::row_items(expr).is_some() => {
                let items = super::rows::row_items(expr).unwrap_or_default();
                self.bind_row_in_list(&items, list, *negated, scope)
            }
            E::InList {
                expr,
                list,
                negated,
            } => {
                let x = self.bind_expr(expr, scope)?;
                let mut acc: Option<Expr> = None;
                for item in list {
                    let item = self.bind_expr(item, scope)?;
                    let eq = self.binary(BinOp::Eq, x.clone(), item)?;
                    acc = Some(match acc {
                        None => eq,
                        Some(prev) => Expr::Or(Box::new(prev), Box::new(eq)),
                    });
                }
                let acc = acc.ok_or_else(|| {
                    Error::new(SqlState::SYNTAX_ERROR, "syntax error at or near \")\"")
                })?;
                Ok(if *negated {
                    Expr::Not(Box::new(acc))
                } else {
                    acc
                })
            }
            E::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind_expr(expr, scope)?;
                // `BETWEEN SYMMETRIC` (respelled by parse.rs): either order.
                let (low, symmetric) = match symmetric_low(low) {
                    Some(inner) => (inner, true),
                    None => (&**low, false),
                };
                let lo = self.bind_expr(low, scope)?;
                let hi = self.bind_expr(high, scope)?;
                let ge = self.binary(BinOp::GtEq, x.clone(), lo.clone())?;
                let le = self.binary(BinOp::LtEq, x.clone(), hi.clone())?;
                let mut both = Expr::And(Box::new(ge), Box::new(le));
                if symmetric {
                    let ge = self.binary(BinOp::GtEq, x.clone(), hi)?;
                    let le = self.binary(BinOp::LtEq, x, lo)?;
                    let swapped = Expr::And(Box::new(ge), Box::new(le));
                    both = Expr::Or(Box::new(both), Box::new(swapped));
                }
                Ok(if *negated {
                    Expr::Not(Box::new(both))
                } else {
                    both
                })
            }
            E::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | E::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any {
                    return Err(unsupported("LIKE ANY"));
                }
                let case_insensitive = matches!(e, E::ILike { .. });
                self.bind_like(
                    expr,
                    pattern,
                    escape_char.as_deref(),
                    *negated,
                    case_insensitive,
                    scope,
                )
            }
            E::SimilarTo {
                negated,
                expr,
                pattern,
                escape_char,
            } => self.bind_similar(expr, pattern, escape_char.as_deref(), *negated, scope),
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.forbid_srfs("CASE", |b| {
                let operand = match operand {
                    Some(o) => Some(b.bind_expr(o, scope)?),
                    None => None,
                };
                let mut conds = Vec::with_capacity(conditions.len());
                let mut results = Vec::with_capacity(conditions.len() + 1);
                for w in conditions {
                    let c = b.bind_expr(&w.condition, scope)?;
                    let c = match &operand {
                        Some(o) => b.binary(BinOp::Eq, o.clone(), c)?,
                        None => b.coerce_bool(c, "CASE/WHEN")?,
                    };
                    conds.push(c);
                    results.push(b.bind_expr(&w.result, scope)?);
                }
                // PostgreSQL resolves the ELSE branch's type first.
                let has_else = else_result.is_some();
                if let Some(x) = else_result {
                    results.insert(0, b.bind_expr(x, scope)?);
                }
                let (mut results, ty) = b.unify(results, "CASE")?;
                let otherwise = if has_else {
                    Some(Box::new(results.remove(0)))
                } else {
                    None
                };
                Ok(Expr::Case {
                    whens: conds.into_iter().zip(results).collect(),
                    otherwise,
                    ty,
                })
            }),
            E::Collate { expr, collation } => {
                let x = self.bind_expr(expr, scope)?;
                self.bind_collate(x, collation)
            }
            E::Cast {
                kind,
                expr,
                data_type,
                format,
            } => {
                if format.is_some() || matches!(kind, CastKind::TryCast | CastKind::SafeCast) {
                    return Err(unsupported(format!("{kind:?}")));
                }
                let (to, _) = resolve_type(data_type)?;
                let x = self.bind_output_expr(expr, scope)?;
                // int2vector / oidvector to text: space-separated, as
                // their output function prints them.
                if matches!(x.ty(), DataType::Vector(_))
                    && matches!(to, DataType::Text | DataType::Varchar(_))
                {
                    let sep = Expr::Const {
                        value: Value::Text(" ".into()),
                        ty: DataType::Text,
                    };
                    let args = [devector(x), sep];
                    let text = match super::array_functions::bind(self, "array_to_string", &args) {
                        Some(r) => r?,
                        None => return Err(Error::internal("array_to_string is missing")),
                    };
                    return self.explicit_cast(text, &to);
                }
                self.explicit_cast(devector(x), &to)
            }
            E::TypedString(ts) => {
                let (to, _) = resolve_type(&ts.data_type)?;
                let text = ts
                    .value
                    .clone()
                    .into_string()
                    .ok_or_else(|| unsupported("this typed literal"))?;
                self.coerce(
                    Expr::Const {
                        value: Value::Text(text),
                        ty: DataType::Unknown,
                    },
                    &to,
                )
            }
            E::Function(f) => self.bind_function(f, scope),
            E::Array(arr) => {
                let mut elems = Vec::with_capacity(arr.elem.len());
                for e in &arr.elem {
                    elems.push(self.bind_expr(e, scope)?);
                }
                super::datetime_functions::bind_array(self, elems)
            }
            E::CompoundFieldAccess { root, access_chain } => {
                // `c.confkey[1]`: the root and the leading `.name` steps
                // are one qualified column name.
                let (root, rest) = qualified_root(root, access_chain);
                let named = matches!(
                    root,
                    ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
                );
                self.keep_vector = named;
                let x = self.bind_expr(&root, scope);
                self.keep_vector = false;
                let mut x = x?;
                // int2vector / oidvector subscripts count from 0.
                let base = match x.ty() {
                    DataType::Vector(_) => 1,
                    _ => 0,
                };
                x = devector(x);
                for step in rest {
                    match step {
                        ast::AccessExpr::Subscript(ast::Subscript::Index { index }) => {
                            let mut i = self.bind_expr(index, scope)?;
                            if base != 0 {
                                let one = Expr::Const {
                                    value: Value::Int4(base),
                                    ty: DataType::Int4,
                                };
                                i = self.binary(BinOp::Add, i, one)?;
                            }
                            x = super::datetime_functions::bind_subscript(self, x, i)?;
                        }
                        ast::AccessExpr::Dot(ast::Expr::Identifier(field))
                            if matches!(x.ty(), DataType::Record(_)) =>
                        {
                            x = super::datetime_functions::record_field(x, &ident_name(field))?;
                        }
                        _ => return Err(unsupported("array slices and field access")),
                    }
                }
                Ok(x)
            }
            E::Extract { field, expr, .. } => {
                let name = match field {
                    ast::DateTimeField::Custom(id) => ident_name(id),
                    other => other.to_string().to_lowercase(),
                };
                let x = self.bind_expr(expr, scope)?;
                let f = Expr::Const {
                    value: Value::Text(name),
                    ty: DataType::Text,
                };
                self.call_function("extract", vec![f, x])
            }
            E::AtTimeZone {
                timestamp,
                time_zone,
            } => {
                let ts = self.bind_expr(timestamp, scope)?;
                let ts = if ts.ty() == DataType::Unknown {
                    self.coerce(ts, &DataType::Timestamptz)?
                } else {
                    ts
                };
                let zone = self.bind_expr(time_zone, scope)?;
                self.call_function("timezone", vec![zone, ts])
            }
            E::Interval(iv) => {
                let text = match iv.value.as_ref() {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        ast::Value::Number(n, _) => n.clone(),
                        _ => return Err(unsupported("this interval literal")),
                    },
                    _ => return Err(unsupported("INTERVAL over an expression")),
                };
                // `INTERVAL '2' DAY`: a bare number takes the leading field's unit.
                let text = match &iv.leading_field {
                    Some(field)
                        if iv.last_field.is_none() && text.trim().parse::<f64>().is_ok() =>
                    {
                        format!("{text} {field}")
                    }
                    _ => text,
                };
                self.coerce(
                    Expr::Const {
                        value: Value::Text(text),
                        ty: DataType::Unknown,
                    },
                    &DataType::Interval,
                )
            }
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                if !matches!(
                    field,
                    ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime)
                ) {
                    return Err(unsupported("CEIL/FLOOR with a field"));
                }
                let name = if matches!(e, E::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                let x = self.bind_expr(expr, scope)?;
                self.call_function(name, vec![x])
            }
            E::Position { expr, r#in } => {
                let needle = self.bind_expr(expr, scope)?;
                let hay = self.bind_expr(r#in, scope)?;
                self.call_function("strpos", vec![hay, needle])
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                shorthand,
                ..
            } => {
                let name = if *shorthand { "substr" } else { "substring" };
                let mut args = vec![self.bind_expr(expr, scope)?];
                match (substring_from, substring_for) {
                    (Some(f), None) => args.push(self.bind_expr(f, scope)?),
                    (Some(f), Some(n)) => {
                        args.push(self.bind_expr(f, scope)?);
                        args.push(self.bind_expr(n, scope)?);
                    }
                    (None, Some(n)) => {
                        args.push(Expr::Const {
                            value: Value::Int4(1),
                            ty: DataType::Int4,
                        });
                        args.push(self.bind_expr(n, scope)?);
                    }
                    (None, None) => {}
                }
                self.call_function(name, args)
            }
            E::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters,
            } => {
                if trim_characters.is_some() {
                    return Err(unsupported("TRIM with a character list"));
                }
                let name = match trim_where {
                    Some(ast::TrimWhereField::Leading) => "ltrim",
                    Some(ast::TrimWhereField::Trailing) => "rtrim",
                    _ => "btrim",
                };
                let mut args = vec![self.bind_expr(expr, scope)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, scope)?);
                }
                self.call_function(name, args)
            }
            E::Subquery(q) => self.bind_scalar_subquery(q, scope),
            E::Exists { subquery, negated } => self.bind_exists(subquery, *negated, scope),
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let q = match super::rows::row_items(expr) {
                    Some(items) => {
                        self.bind_row_quantified(&items, BinOp::Eq, subquery, false, scope)?
                    }
                    None => self.bind_quantified(expr, BinOp::Eq, subquery, false, scope)?,
                };
                Ok(if *negated { Expr::Not(Box::new(q)) } else { q })
            }
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            }
            | E::AllOp {
                left,
                compare_op,
                right,
            } => {
                let all = matches!(e, E::AllOp { .. });
                let op = match compare_op {
                    BinaryOperator::Eq => BinOp::Eq,
                    BinaryOperator::NotEq => BinOp::NotEq,
                    BinaryOperator::Lt => BinOp::Lt,
                    BinaryOperator::LtEq => BinOp::LtEq,
                    BinaryOperator::Gt => BinOp::Gt,
                    BinaryOperator::GtEq => BinOp::GtEq,
                    other => return Err(unsupported(format!("{other} ANY/ALL"))),
                };
                match strip_nested(right) {
                    E::Subquery(q) if super::rows::row_items(left).is_some() => {
                        let items = super::rows::row_items(left).unwrap_or_default();
                        self.bind_row_quantified(&items, op, q, all, scope)
                    }
                    E::Subquery(q) => self.bind_quantified(left, op, q, all, scope),
                    other => {
                        let x = self.bind_expr(left, scope)?;
                        let arr = self.bind_expr(other, scope)?;
                        super::datetime_functions::bind_array_any(self, op, all, x, arr)
                    }
                }
            }
            other => Err(unsupported(format!("expression {}", variant_name(other)))),
        }
    }

    fn bind_value(&mut self, v: &ast::Value, negate: bool) -> Result<Expr> {
        use ast::Value as V;
        Ok(match v {
            V::Number(s, _) => {
                let text = if negate { format!("-{s}") } else { s.clone() };
                number_literal(&text)?
            }
            V::SingleQuotedString(s)
            | V::EscapedStringLiteral(s)
            | V::UnicodeStringLiteral(s)
            | V::NationalStringLiteral(s) => Expr::Const {
                value: Value::Text(s.clone()),
                ty: DataType::Unknown,
            },
            V::DollarQuotedString(d) => Expr::Const {
                value: Value::Text(d.value.clone()),
                ty: DataType::Unknown,
            },
            V::Boolean(b) => Expr::Const {
                value: Value::Bool(*b),
                ty: DataType::Bool,
            },
            V::Null => Expr::Const {
                value: Value::Null,
                ty: DataType::Unknown,
            },
            V::Placeholder(p) => self.bind_param(p)?,
            other => return Err(unsupported(format!("literal {other}"))),
        })
    }

    fn bind_param(&mut self, p: &str) -> Result<Expr> {
        let n: usize = p
            .strip_prefix('$')
            .and_then(|d| d.parse().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{p}\""),
                )
            })?;
        let index = n - 1;
        if index >= self.params.types.len() {
            if !self.params.allowed || n > u16::MAX as usize {
                return Err(no_parameter(index));
            }
            self.params.types.resize(n, DataType::Unknown);
        }
        Ok(Expr::Param {
            index,
            ty: self.params.types[index].clone(),
        })
    }

    fn bind_unary(&mut self, op: UnaryOperator, expr: &ast::Expr, scope: &Scope) -> Result<Expr> {
        match op {
            UnaryOperator::Not => {
                let x = self.bind_expr(expr, scope)?;
                Ok(Expr::Not(Box::new(self.coerce_bool(x, "NOT")?)))
            }
            UnaryOperator::Minus | UnaryOperator::Plus => {
                let minus = op == UnaryOperator::Minus;
                // A negative numeric literal is one constant (`-2147483648` is int4).
                if minus
                    && let ast::Expr::Value(v) = expr
                    && matches!(v.value, ast::Value::Number(..))
                {
                    return self.bind_value(&v.value, true);
                }
                let x = self.bind_expr(expr, scope)?;
                let t = x.ty();
                let sym = if minus { "-" } else { "+" };
                match t {
                    DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Float4 | DataType::Float8 | DataType::Numeric(_) | DataType::Interval => {
                        Ok(if minus { Expr::Negate { expr: Box::new(x) } } else { x })
                    }
                    DataType::Unknown => Err(Error::new(
                        SqlState::AMBIGUOUS_FUNCTION,
                        format!("operator is not unique: {sym} unknown"),
                    )
                    .with_hint("Could not choose a best candidate operator. You might need to add explicit type casts.")),
                    other => Err(Error::new(
                        SqlState::UNDEFINED_FUNCTION,
                        format!("operator does not exist: {sym} {}", other.name()),
                    )
                    .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")),
                }
            }
            UnaryOperator::PGAbs => {
                let x = self.bind_expr(expr, scope)?;
                self.call_function("abs", vec![x])
            }
            UnaryOperator::PGSquareRoot | UnaryOperator::PGCubeRoot => {
                let x = self.bind_expr(expr, scope)?;
                let f = if op == UnaryOperator::PGSquareRoot {
                    "sqrt"
                } else {
                    "cbrt"
                };
                self.call_function(f, vec![x])
            }
            UnaryOperator::BitwiseNot => {
                let x = self.bind_expr(expr, scope)?;
                self.call_function("~", vec![x])
            }
            other => Err(unsupported(format!("operator {other}"))),
        }
    }

    fn bind_binary(
        &mut self,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        use BinaryOperator as B;
        let bop = match op {
            B::And | B::Or => return self.bind_bool_chain(left, op, right, scope),
            B::PGRegexMatch | B::PGRegexIMatch | B::PGRegexNotMatch | B::PGRegexNotIMatch => {
                return self.bind_regex_op(left, op, right, scope);
            }
            B::PGLikeMatch | B::PGNotLikeMatch | B::PGILikeMatch | B::PGNotILikeMatch => {
                let negated = matches!(op, B::PGNotLikeMatch | B::PGNotILikeMatch);
                let ci = matches!(op, B::PGILikeMatch | B::PGNotILikeMatch);
                return self.bind_like(left, right, None, negated, ci, scope);
            }
            B::Plus => BinOp::Add,
            B::Minus => BinOp::Sub,
            B::Multiply => BinOp::Mul,
            B::Divide => BinOp::Div,
            B::Modulo => BinOp::Mod,
            B::PGExp => BinOp::Pow,
            B::Eq => BinOp::Eq,
            B::NotEq => BinOp::NotEq,
            B::Lt => BinOp::Lt,
            B::LtEq => BinOp::LtEq,
            B::Gt => BinOp::Gt,
            B::GtEq => BinOp::GtEq,
            B::StringConcat => BinOp::Concat,
            B::Arrow
            | B::LongArrow
            | B::HashArrow
            | B::HashLongArrow
            | B::BitwiseAnd
            | B::BitwiseOr
            | B::PGBitwiseXor
            | B::PGBitwiseShiftLeft
            | B::PGBitwiseShiftRight => {
                let l = self.bind_expr(left, scope)?;
                let r = self.bind_expr(right, scope)?;
                return self.call_function(&op.to_string(), vec![l, r]);
            }
            B::PGCustomBinaryOperator(parts) => {
                let op = custom_operator(parts)?;
                return self.bind_binary(left, &op, right, scope);
            }
            other => return Err(unsupported(format!("operator {other}"))),
        };
        if super::rows::row_items(left).is_some() || super::rows::row_items(right).is_some() {
            return self.bind_row_binary(bop, left, right, scope);
        }
        let l = self.bind_expr(left, scope)?;
        let r = self.bind_expr(right, scope)?;
        self.binary(bop, l, r)
    }

    /// `a AND b AND c …` (or OR) bound in a loop along the chain, not a
    /// recursion per operator: sqlparser builds such a chain left-deep, and
    /// a WHERE joining dozens of tables has dozens of ANDs. The operands
    /// become a balanced tree ([`super::expr::balanced`]). A link that is a
    /// GROUP BY key is bound whole.
    fn bind_bool_chain(
        &mut self,
        left: &ast::Expr,
        op: &BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        let and = *op == BinaryOperator::And;
        let ctx = if and { "AND" } else { "OR" };
        // The operands from the right: `right`, then down the left spine.
        let mut operands = vec![right];
        let mut node = left;
        while let ast::Expr::BinaryOp {
            left: l,
            op: o,
            right: r,
        } = node
            && o == op
            && self.group_key(node).is_none()
        {
            operands.push(r);
            node = l;
        }
        operands.push(node);
        let mut bound = Vec::with_capacity(operands.len());
        for operand in operands.into_iter().rev() {
            let b = self.bind_expr(operand, scope)?;
            bound.push(self.coerce_bool(b, ctx)?);
        }
        let op = if and { Expr::And } else { Expr::Or };
        super::expr::balanced(bound, op)
            .ok_or_else(|| Error::internal("a boolean chain without operands"))
    }

    fn bind_like(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        case_insensitive: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_expr(expr, scope)?;
        let p = self.bind_expr(pattern, scope)?;
        let op = if case_insensitive { "~~*" } else { "~~" };
        for t in [x.ty(), p.ty()] {
            if !(is_stringish(&t) || t == DataType::Unknown) {
                return Err(Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!("operator does not exist: {} {op} {}", x.ty().name(), p.ty().name()),
                )
                .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."));
            }
        }
        let x = self.coerce(x, &DataType::Text)?;
        let p = self.coerce(p, &DataType::Text)?;
        let escape = match escape {
            None => None,
            Some(ast::Expr::Value(v)) => match &v.value {
                ast::Value::SingleQuotedString(s) | ast::Value::EscapedStringLiteral(s) => {
                    let mut chars = s.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Some(c),
                        // ESCAPE '' turns escaping off. Text never holds NUL,
                        // so NUL as the escape character never matches.
                        (None, _) => Some('\0'),
                        _ => {
                            return Err(Error::new(SqlState("22025"), "invalid escape string")
                                .with_hint("Escape string must be empty or one character."));
                        }
                    }
                }
                _ => return Err(unsupported("this LIKE escape")),
            },
            Some(_) => return Err(unsupported("a non-literal LIKE escape")),
        };
        Ok(Expr::Like {
            expr: Box::new(x),
            pattern: Box::new(p),
            escape,
            case_insensitive,
            negated,
        })
    }

    fn bind_function(&mut self, f: &ast::Function, scope: &Scope) -> Result<Expr> {
        let parts = object_name(&f.name);
        let name = parts.last().cloned().unwrap_or_default();
        if parts.len() > 1 && !known_function_schema(&parts) {
            return Err(unsupported("schema-qualified functions"));
        }
        if let Some(over) = &f.over {
            return self.bind_window_function(&name, f, over, scope);
        }
        if aggregate::is_aggregate(&name) {
            return self.bind_aggregate(&name, f);
        }
        if super::grouping_sets::is_grouping(&name) {
            return self.bind_grouping(f);
        }
        if f.filter.is_some() || !f.within_group.is_empty() {
            return Err(unsupported(format!("FILTER / WITHIN GROUP on {name}")));
        }
        if name == "row" {
            return Err(unsupported("row constructors"));
        }
        let args: Vec<&ast::Expr> = match &f.args {
            FunctionArguments::None => Vec::new(),
            FunctionArguments::Subquery(q) if name == "array" && parts.len() == 1 => {
                return self.bind_array_subquery(q, scope);
            }
            FunctionArguments::Subquery(_) => return Err(unsupported("subqueries")),
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(unsupported("aggregate functions"));
                }
                let mut out = Vec::with_capacity(list.args.len());
                for a in &list.args {
                    match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => out.push(e),
                        FunctionArg::Unnamed(_) => return Err(unsupported("aggregate functions")),
                        _ => return Err(unsupported("named function arguments")),
                    }
                }
                out
            }
        };
        let mut bound = Vec::with_capacity(args.len());
        for a in args {
            bound.push(if name == "coalesce" {
                self.forbid_srfs("COALESCE", |b| b.bind_expr(a, scope))?
            } else {
                self.bind_expr(a, scope)?
            });
        }
        if super::srf::is_set_function(&name) {
            return self.bind_srf_call(&name, bound);
        }
        match name.as_str() {
            "coalesce" => {
                let (args, ty) = self.unify(bound, "COALESCE")?;
                Ok(Expr::Coalesce { args, ty })
            }
            "greatest" | "least" => {
                let ctx = if name == "greatest" {
                    "GREATEST"
                } else {
                    "LEAST"
                };
                let (args, ty) = self.unify(bound, ctx)?;
                // The type must have an ordering.
                if let Some(a) = args.first() {
                    self.binary(BinOp::Lt, a.clone(), a.clone())?;
                }
                Ok(Expr::MinMax {
                    args,
                    greatest: name == "greatest",
                    ty,
                })
            }
            "pg_typeof" if bound.len() == 1 => {
                // A regtype: prints as the type's name, compares as its oid.
                let oid = super::coerce::base(&bound[0].ty()).oid();
                Ok(Expr::Const {
                    value: Value::Int8(i64::from(oid)),
                    ty: DataType::Reg(crate::types::RegKind::Type),
                })
            }
            "nullif" => {
                if bound.len() != 2 {
                    return Err(self.no_function(&name, &bound));
                }
                let mut it = bound.into_iter();
                let (a, b) = (it.next(), it.next());
                let (Some(a), Some(b)) = (a, b) else {
                    return Err(Error::internal("nullif arity"));
                };
                // Resolved as `a = b`; the result has a's type after that
                // resolution. PostgreSQL has cross-type `=` among the integer
                // types and between the float types (int24eq, float48eq), so
                // there a keeps its own type: NULLIF(int2, 0) is smallint.
                let same_kind = |x: &DataType, y: &DataType| {
                    let int = |t: &DataType| {
                        matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
                    };
                    let float = |t: &DataType| matches!(t, DataType::Float4 | DataType::Float8);
                    (int(x) && int(y)) || (float(x) && float(y))
                };
                let keep = same_kind(&a.ty(), &b.ty()).then(|| a.clone());
                let eq = self.binary(BinOp::Eq, a, b)?;
                let a = match (&eq, keep) {
                    (_, Some(a)) => a,
                    (Expr::Binary { left, .. }, None) => (**left).clone(),
                    (other, None) => {
                        return Err(Error::internal(format!("= bound to {other:?}")));
                    }
                };
                let ty = a.ty();
                Ok(Expr::Case {
                    whens: vec![(
                        eq,
                        Expr::Const {
                            value: Value::Null,
                            ty: ty.clone(),
                        },
                    )],
                    otherwise: Some(Box::new(a)),
                    ty,
                })
            }
            _ => match super::datetime_functions::bind_array_function(self, &name, &bound) {
                Some(r) => r,
                None => match super::array_functions::bind(self, &name, &bound) {
                    Some(r) => r,
                    None => self.call_function(&name, bound),
                },
            },
        }
    }

    pub(super) fn no_function(&self, name: &str, args: &[Expr]) -> Error {
        let types: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name}({}) does not exist", type_list(&types)),
        )
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
    }

    /// Resolves a call of the built-in `name` and coerces its arguments.
    pub fn call_function(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        if matches!(name, "generate_subscripts[]" | "_pg_expandarray[]")
            && let Some(r) = super::datetime_functions::bind_array_function(self, name, &args)
        {
            return r;
        }
        if let "num_nulls" | "num_nonnulls" = name {
            // VARIADIC "any": at least one argument of any type.
            if args.is_empty() {
                return Err(self.no_function(name, &args));
            }
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                out.push(if a.ty() == DataType::Unknown {
                    self.coerce(a, &DataType::Text)?
                } else {
                    a
                });
            }
            return Ok(Expr::Func {
                func: if name == "num_nulls" {
                    Func::NumNulls
                } else {
                    Func::NumNonnulls
                },
                args: out,
                ty: DataType::Int4,
            });
        }
        if let Some(func) = functions::is_variadic_any(name) {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                out.push(if a.ty() == DataType::Unknown {
                    self.coerce(a, &DataType::Text)?
                } else {
                    a
                });
            }
            if matches!(func, Func::ConcatWs | Func::Format) && out.is_empty() {
                return Err(self.no_function(name, &out));
            }
            let ty = match func {
                Func::JsonBuildObject { binary: true } | Func::JsonBuildArray { binary: true } => {
                    DataType::Jsonb
                }
                Func::JsonBuildObject { .. } | Func::JsonBuildArray { .. } => DataType::Json,
                _ => DataType::Text,
            };
            return Ok(Expr::Func {
                func,
                args: out,
                ty,
            });
        }
        let sigs = functions::lookup(name);
        let inputs: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        let candidates: Vec<Vec<DataType>> = sigs.iter().map(|s| s.args.clone()).collect();
        let i = match select_candidate(&inputs, &candidates) {
            Ok(i) => i,
            Err(NoMatch::None) => return Err(self.no_function(name, &args)),
            Err(NoMatch::Ambiguous) => {
                return Err(Error::new(
                    SqlState::AMBIGUOUS_FUNCTION,
                    format!("function {name}({}) is not unique", type_list(&inputs)),
                )
                .with_hint("Could not choose a best candidate function. You might need to add explicit type casts."));
            }
        };
        let sig = &sigs[i];
        let mut out = Vec::with_capacity(args.len());
        for (a, t) in args.into_iter().zip(&sig.args) {
            // Keep char(n) as it is where the signature wants bpchar.
            if same_base(&a.ty(), t) {
                out.push(a);
            } else {
                out.push(self.coerce(a, t)?);
            }
        }
        Ok(Expr::Func {
            func: sig.func,
            args: out,
            ty: sig.ret.clone(),
        })
    }

    // -----------------------------------------------------------------------
    // Queries.

    /// Output columns of unknown type become text, as PostgreSQL resolves them.
    fn resolve_outputs(&mut self, exprs: Vec<Expr>) -> Result<Vec<Expr>> {
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            out.push(if e.ty() == DataType::Unknown {
                self.coerce(e, &DataType::Text)?
            } else {
                e
            });
        }
        Ok(out)
    }

    pub fn bind_query(&mut self, q: &ast::Query) -> Result<BoundQuery> {
        super::stack_depth::check()?;
        let ctes_before = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                if cte.from.is_some() {
                    return Err(unsupported("CTE FROM"));
                }
                let name = ident_name(&cte.alias.name);
                if self.ctes[ctes_before..].iter().any(|c| c.name == name) {
                    self.ctes.truncate(ctes_before);
                    return Err(Error::new(
                        SqlState("42712"),
                        format!("WITH query name \"{name}\" specified more than once"),
                    ));
                }
                if with.recursive {
                    match self.bind_recursive_cte(&name, cte) {
                        Ok(Some(rc)) => {
                            let columns = rc
                                .names
                                .into_iter()
                                .zip(rc.types)
                                .map(|(name, data_type)| Column { name, data_type })
                                .collect();
                            self.ctes.push(Cte {
                                name,
                                plan: rc.plan,
                                columns,
                                refs: Default::default(),
                            });
                            continue;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            self.ctes.truncate(ctes_before);
                            return Err(e);
                        }
                    }
                    self.recursive_pending.push(name.clone());
                }
                let bound = self.bind_query(&cte.query);
                if with.recursive {
                    self.recursive_pending.pop();
                }
                let mut bound = match bound {
                    Ok(b) => b,
                    Err(e) => {
                        self.ctes.truncate(ctes_before);
                        return Err(e);
                    }
                };
                if cte.alias.columns.len() > bound.columns.len() {
                    self.ctes.truncate(ctes_before);
                    return Err(Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!(
                            "WITH query \"{name}\" has {} columns available but {} columns specified",
                            bound.columns.len(),
                            cte.alias.columns.len()
                        ),
                    ));
                }
                for (c, a) in bound.columns.iter_mut().zip(&cte.alias.columns) {
                    c.name = ident_name(&a.name);
                }
                self.ctes.push(Cte {
                    name,
                    plan: bound.plan,
                    columns: bound.columns,
                    refs: Default::default(),
                });
            }
        }
        let r = self.bind_query_body(q);
        self.ctes.truncate(ctes_before);
        r
    }

    fn bind_query_body(&mut self, q: &ast::Query) -> Result<BoundQuery> {
        if !q.locks.is_empty() {
            super::locking::check_set_operation(&q.locks, &q.body)?;
        }
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(unsupported("this query clause"));
        }
        let order: &[ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(order) => match &order.kind {
                ast::OrderByKind::Expressions(items) => items,
                ast::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
            },
        };
        let body = self.bind_body(&q.body, order)?;
        let Body {
            input,
            exprs,
            names,
            distinct,
            unique,
            sort: keys,
            visible,
            ..
        } = body;
        let columns: Vec<Column> = names
            .iter()
            .zip(&exprs)
            .map(|(n, e)| Column {
                name: n.clone(),
                data_type: e.ty(),
            })
            .collect();
        let mut plan = Plan::Project {
            input: Box::new(input),
            exprs,
        };
        if distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if let Some(keys) = unique {
            plan = Plan::Unique {
                input: Box::new(plan),
                keys,
            };
        }
        let (limit, offset) = self.bind_limit(q)?;
        if !q.locks.is_empty() {
            plan = super::locking::lock_rows(q, plan, &limit, &offset)?;
        }
        if limit.is_some() || offset.is_some() {
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        if columns.len() > visible || plan.width() > visible {
            let exprs = columns[..visible]
                .iter()
                .enumerate()
                .map(|(i, c)| Expr::Column {
                    index: i,
                    ty: c.data_type.clone(),
                })
                .collect();
            plan = Plan::Project {
                input: Box::new(plan),
                exprs,
            };
        }
        Ok(BoundQuery {
            plan,
            columns: columns.into_iter().take(visible).collect(),
        })
    }

    /// ORDER BY: output names, positions, or expressions over the input
    /// (appended to `exprs` as hidden columns).
    pub(super) fn resolve_order(
        &mut self,
        items: &[ast::OrderByExpr],
        names: &[String],
        exprs: &mut Vec<Expr>,
        scope: &Scope,
        distinct: bool,
    ) -> Result<Vec<SortKey>> {
        let visible = names.len();
        let mut keys = Vec::with_capacity(items.len());
        for item in items {
            let column = self.order_column(&item.expr, names, exprs, visible, scope, distinct)?;
            let desc = match &item.options.sort {
                None | Some(ast::OrderBySort::Asc) => false,
                Some(ast::OrderBySort::Desc) => true,
                Some(_) => return Err(unsupported("ORDER BY USING")),
            };
            let nulls_first = item.options.nulls_first.unwrap_or(desc);
            // The column's type must be orderable.
            if let Some(e) = exprs.get(column) {
                self.binary(BinOp::Lt, e.clone(), e.clone())?;
            }
            keys.push(SortKey {
                column,
                desc,
                nulls_first,
            });
        }
        Ok(keys)
    }

    fn order_column(
        &mut self,
        e: &ast::Expr,
        names: &[String],
        exprs: &mut Vec<Expr>,
        visible: usize,
        scope: &Scope,
        distinct: bool,
    ) -> Result<usize> {
        if let ast::Expr::Value(v) = e
            && let ast::Value::Number(s, _) = &v.value
        {
            let pos: i64 = s
                .parse()
                .map_err(|_| unsupported("non-integer ORDER BY constants"))?;
            if pos < 1 || pos as usize > visible {
                return Err(Error::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    format!("ORDER BY position {pos} is not in select list"),
                ));
            }
            return Ok(pos as usize - 1);
        }
        if let ast::Expr::Identifier(id) = e {
            let name = ident_name(id);
            let hits: Vec<usize> = names[..visible]
                .iter()
                .enumerate()
                .filter(|(_, n)| **n == name)
                .map(|(i, _)| i)
                .collect();
            if hits.len() > 1 {
                return Err(Error::new(
                    SqlState::AMBIGUOUS_COLUMN,
                    format!("ORDER BY \"{name}\" is ambiguous"),
                ));
            }
            if let Some(&i) = hits.first() {
                return Ok(i);
            }
        }
        if distinct {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
            ));
        }
        let bound = self.bind_expr(e, scope)?;
        let bound = if bound.ty() == DataType::Unknown {
            self.coerce(bound, &DataType::Text)?
        } else {
            bound
        };
        exprs.push(bound);
        Ok(exprs.len() - 1)
    }

    fn bind_limit(&mut self, q: &ast::Query) -> Result<(Option<Expr>, Option<Expr>)> {
        let scope = Scope::default();
        let mut limit = None;
        let mut offset = None;
        match &q.limit_clause {
            None => {}
            Some(ast::LimitClause::LimitOffset {
                limit: l,
                offset: o,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported("LIMIT BY"));
                }
                if let Some(l) = l {
                    limit = Some(self.bind_count(l, &scope)?);
                }
                if let Some(o) = o {
                    offset = Some(self.bind_count(&o.value, &scope)?);
                }
            }
            Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "LIMIT #,# syntax is not supported",
                )
                .with_hint("Use separate LIMIT and OFFSET clauses."));
            }
        }
        if let Some(fetch) = &q.fetch {
            if fetch.with_ties || fetch.percent {
                return Err(unsupported("FETCH WITH TIES / PERCENT"));
            }
            limit = Some(match &fetch.quantity {
                Some(e) => self.bind_count(e, &scope)?,
                None => Expr::Const {
                    value: Value::Int8(1),
                    ty: DataType::Int8,
                },
            });
        }
        Ok((limit, offset))
    }

    fn bind_count(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        let x = self.forbid_aggregates("LIMIT", |b| b.bind_expr(e, scope))?;
        match x.ty() {
            DataType::Int8 => Ok(x),
            DataType::Unknown => self.coerce(x, &DataType::Int8),
            t if category(&t) == Category::Numeric => self.explicit_cast(x, &DataType::Int8),
            t => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of LIMIT must be type bigint, not type {}",
                    t.name()
                ),
            )),
        }
    }

    fn bind_body(&mut self, body: &SetExpr, order: &[ast::OrderByExpr]) -> Result<Body> {
        if let SetExpr::Select(s) = body {
            return self.bind_select(s, order);
        }
        let mut b = self.bind_body_unordered(body)?;
        b.visible = b.names.len();
        let mut exprs = std::mem::take(&mut b.exprs);
        b.sort = self.resolve_order(order, &b.names, &mut exprs, &b.scope, b.distinct)?;
        b.exprs = exprs;
        Ok(b)
    }

    fn bind_body_unordered(&mut self, body: &SetExpr) -> Result<Body> {
        match body {
            SetExpr::Select(s) => self.bind_select(s, &[]),
            SetExpr::Values(v) => self.bind_values(v),
            SetExpr::Query(q) => {
                // A parenthesized query: bind it whole, then read its columns.
                let inner = self.bind_query(q)?;
                let exprs = inner
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Expr::Column {
                        index: i,
                        ty: c.data_type.clone(),
                    })
                    .collect();
                Ok(Body {
                    input: inner.plan,
                    scope: Scope::of(
                        None,
                        inner
                            .columns
                            .iter()
                            .map(|c| (c.name.clone(), c.data_type.clone())),
                    ),
                    exprs,
                    names: inner.columns.into_iter().map(|c| c.name).collect(),
                    distinct: false,
                    unique: None,
                    sort: Vec::new(),
                    visible: 0,
                })
            }
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => self.bind_set_operation(left, *op, *set_quantifier, right),
            SetExpr::Table(_) => Err(unsupported("TABLE")),
            _ => Err(unsupported("data-modifying statements in a query")),
        }
    }

    /// A body as a plan producing exactly its output columns.
    pub(super) fn body_plan(
        &mut self,
        body: &SetExpr,
    ) -> Result<(Plan, Vec<String>, Vec<DataType>)> {
        let b = self.bind_body(body, &[])?;
        let mut types: Vec<DataType> = b.exprs.iter().map(|e| e.ty()).collect();
        let width = b.exprs.len();
        let mut plan = Plan::Project {
            input: Box::new(b.input),
            exprs: b.exprs,
        };
        if b.distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if let Some(keys) = b.unique {
            plan = Plan::Unique {
                input: Box::new(Plan::Sort {
                    input: Box::new(plan),
                    keys: b.sort,
                }),
                keys,
            };
            if width > b.names.len() {
                let exprs = types[..b.names.len()]
                    .iter()
                    .enumerate()
                    .map(|(index, ty): (usize, &DataType)| Expr::Column {
                        index,
                        ty: ty.clone(),
                    })
                    .collect();
                plan = Plan::Project {
                    input: Box::new(plan),
                    exprs,
                };
                types.truncate(b.names.len());
            }
        }
        Ok((plan, b.names, types))
    }

    /// Wraps `plan` so its columns have `types`.
    pub(super) fn conform_columns(
        &mut self,
        plan: Plan,
        from: &[DataType],
        to: &[DataType],
    ) -> Result<Plan> {
        if from == to {
            return Ok(plan);
        }
        let mut exprs = Vec::with_capacity(to.len());
        for (i, (f, t)) in from.iter().zip(to).enumerate() {
            let col = Expr::Column {
                index: i,
                ty: f.clone(),
            };
            exprs.push(self.coerce(col, t)?);
        }
        Ok(Plan::Project {
            input: Box::new(plan),
            exprs,
        })
    }

    fn bind_set_operation(
        &mut self,
        left: &SetExpr,
        op: ast::SetOperator,
        quantifier: ast::SetQuantifier,
        right: &SetExpr,
    ) -> Result<Body> {
        let (kind, name) = match op {
            ast::SetOperator::Union => (SetOpKind::Union, "UNION"),
            ast::SetOperator::Intersect => (SetOpKind::Intersect, "INTERSECT"),
            ast::SetOperator::Except => (SetOpKind::Except, "EXCEPT"),
            ast::SetOperator::Minus => return Err(unsupported("MINUS")),
        };
        let all = match quantifier {
            ast::SetQuantifier::All => true,
            ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
            other => return Err(unsupported(format!("{name} {other}"))),
        };
        self.set_op_leaf = matches!(left, SetExpr::Select(_));
        let (lplan, names, ltypes) = self.body_plan(left)?;
        self.set_op_leaf = matches!(right, SetExpr::Select(_));
        let (rplan, _, rtypes) = self.body_plan(right)?;
        self.set_op_leaf = false;
        if ltypes.len() != rtypes.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("each {name} query must have the same number of columns"),
            ));
        }
        let mut types = Vec::with_capacity(ltypes.len());
        for (l, r) in ltypes.iter().zip(&rtypes) {
            types.push(common_type(&[l.clone(), r.clone()], name)?);
        }
        let lplan = self.conform_columns(lplan, &ltypes, &types)?;
        let rplan = self.conform_columns(rplan, &rtypes, &types)?;
        let exprs = types
            .iter()
            .enumerate()
            .map(|(i, t)| Expr::Column {
                index: i,
                ty: t.clone(),
            })
            .collect();
        Ok(Body {
            input: Plan::SetOp {
                kind,
                all,
                left: Box::new(lplan),
                right: Box::new(rplan),
            },
            scope: Scope::of(None, names.iter().cloned().zip(types)),
            exprs,
            names,
            distinct: false,
            unique: None,
            sort: Vec::new(),
            visible: 0,
        })
    }

    fn bind_values(&mut self, v: &ast::Values) -> Result<Body> {
        let width = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
        let mut columns: Vec<Vec<Expr>> = vec![Vec::with_capacity(v.rows.len()); width];
        let scope = Scope::default();
        for row in &v.rows {
            if row.content.len() != width {
                return Err(Error::new(
                    SqlState::SYNTAX_ERROR,
                    "VALUES lists must all be the same length",
                ));
            }
            for (j, e) in row.content.iter().enumerate() {
                columns[j].push(self.forbid_aggregates("VALUES", |b| b.bind_expr(e, &scope))?);
            }
        }
        let mut types = Vec::with_capacity(width);
        let mut unified = Vec::with_capacity(width);
        for col in columns {
            let (col, ty) = self.unify(col, "VALUES")?;
            let ty = if ty == DataType::Unknown {
                DataType::Text
            } else {
                ty
            };
            let mut fixed = Vec::with_capacity(col.len());
            for e in col {
                fixed.push(self.coerce(e, &ty)?);
            }
            types.push(ty);
            unified.push(fixed);
        }
        let nrows = v.rows.len();
        let rows: Vec<Vec<Expr>> = (0..nrows)
            .map(|i| unified.iter().map(|c| c[i].clone()).collect())
            .collect();
        let names: Vec<String> = (1..=width).map(|i| format!("column{i}")).collect();
        let exprs = types
            .iter()
            .enumerate()
            .map(|(i, t)| Expr::Column {
                index: i,
                ty: t.clone(),
            })
            .collect();
        Ok(Body {
            input: Plan::Values { rows, width },
            scope: Scope::of(None, names.iter().cloned().zip(types)),
            exprs,
            names,
            distinct: false,
            unique: None,
            sort: Vec::new(),
            visible: 0,
        })
    }

    fn bind_select(&mut self, s: &ast::Select, order: &[ast::OrderByExpr]) -> Result<Body> {
        let set_op_leaf = std::mem::take(&mut self.set_op_leaf);
        if s.top.is_some()
            || s.into.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
        {
            return Err(unsupported("this SELECT clause"));
        }
        if !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
        {
            return Err(unsupported("this SELECT clause"));
        }
        if s.qualify.is_some() {
            return Err(unsupported("QUALIFY"));
        }
        if s.exclude.is_some() {
            return Err(unsupported("EXCLUDE"));
        }
        let group_items: &[ast::Expr] = match &s.group_by {
            ast::GroupByExpr::Expressions(exprs, mods) if mods.is_empty() => exprs,
            _ => return Err(unsupported("GROUP BY ALL / WITH ROLLUP")),
        };
        let (distinct, distinct_on): (bool, &[ast::Expr]) = match &s.distinct {
            None | Some(ast::Distinct::All) => (false, &[]),
            Some(ast::Distinct::Distinct) => (true, &[]),
            Some(ast::Distinct::On(on)) => (false, on),
        };
        let mut unique = None;
        // A derived table binds its own aggregates and window calls.
        let outer_agg = self.agg.take();
        let outer_windows = self.windows.take();
        let outer_srfs = self.srfs.take();
        let (mut input, scope) = if s.from.is_empty() {
            (
                Plan::Values {
                    rows: vec![Vec::new()],
                    width: 0,
                },
                Scope::default(),
            )
        } else {
            self.bind_from(&s.from)?
        };
        if let Some(w) = &s.selection {
            let p = self.forbid_aggregates("WHERE", |b| b.bind_expr(w, &scope))?;
            let p = self.coerce_bool(p, "WHERE")?;
            input = Plan::Filter {
                input: Box::new(input),
                predicate: p,
            };
        }
        // GROUP BY keys: input expressions, output positions or output aliases.
        let mut group_asts = Vec::with_capacity(group_items.len());
        let mut group_exprs = Vec::with_capacity(group_items.len());
        let mut grouping = None;
        if super::grouping_sets::has_sets(group_items) {
            // Grouping sets: the distinct expressions of all sets are the
            // keys, then the set number.
            let mut sets = Vec::new();
            for set in super::grouping_sets::expand(group_items)? {
                let mut members = Vec::with_capacity(set.len());
                for g in set {
                    let target = self.group_target(g, &s.projection, &scope)?;
                    let target = strip_nested(target);
                    let k = match group_asts.iter().position(|x| x == target) {
                        Some(k) => k,
                        None => {
                            let bound = self
                                .forbid_aggregates("GROUP BY", |b| b.bind_expr(target, &scope))?;
                            group_asts.push(target.clone());
                            group_exprs.push(bound);
                            group_asts.len() - 1
                        }
                    };
                    if !members.contains(&k) {
                        members.push(k);
                    }
                }
                members.sort_unstable();
                sets.push(members);
            }
            grouping = Some(super::grouping_sets::GroupingSets {
                sets,
                id_column: group_asts.len(),
            });
            group_asts.push(super::grouping_sets::id_placeholder());
        } else {
            for g in group_items {
                let target = self.group_target(g, &s.projection, &scope)?;
                let bound = self.forbid_aggregates("GROUP BY", |b| b.bind_expr(target, &scope))?;
                group_asts.push(strip_nested(target).clone());
                group_exprs.push(bound);
            }
        }
        let mut strict = !group_items.is_empty() || s.having.is_some();
        let mut group_types: Vec<DataType> = group_exprs.iter().map(|e| e.ty()).collect();
        if grouping.is_some() {
            group_types.push(DataType::Int4);
        }
        let mut attempt = 0;
        let (exprs, names, sort, having) = loop {
            attempt += 1;
            self.windows = Some(super::window::WindowState::new(&s.named_window)?);
            self.srfs = Some(super::srf::SrfState::default());
            self.agg = Some(AggState {
                strict,
                group_asts: group_asts.clone(),
                group_types: group_types.clone(),
                aggs: Vec::new(),
                in_agg: false,
                grouping: grouping.clone(),
                input_scope: scope.clone(),
            });
            let (exprs, names) = self.bind_projection(s, &scope)?;
            let found = self.agg.as_ref().is_some_and(|a| !a.aggs.is_empty());
            if found && !strict && attempt == 1 {
                // Aggregates make this a grouped query: bind again, strictly.
                strict = true;
                continue;
            }
            let having = match &s.having {
                Some(h) => {
                    let h = self.forbid_srfs("HAVING", |b| {
                        b.forbid_windows("HAVING", |b| b.bind_expr(h, &scope))
                    })?;
                    Some(self.coerce_bool(h, "HAVING")?)
                }
                None => None,
            };
            let mut exprs = if set_op_leaf && order.is_empty() {
                exprs
            } else {
                self.resolve_outputs(exprs)?
            };
            let mut sort = self.resolve_order(order, &names, &mut exprs, &scope, distinct)?;
            if !distinct_on.is_empty() {
                let (keys, on) = self.distinct_on(distinct_on, sort, &names, &mut exprs, &scope)?;
                sort = keys;
                unique = Some(on);
            }
            if !strict && self.agg.as_ref().is_some_and(|a| !a.aggs.is_empty()) {
                return Err(unsupported("aggregates only in ORDER BY"));
            }
            break (exprs, names, sort, having);
        };
        let state = self.agg.take();
        self.agg = outer_agg;
        if strict {
            let aggs = state.map(|st| st.aggs).unwrap_or_default();
            input = match &grouping {
                Some(gs) => super::grouping_sets::plan(input, &group_exprs, aggs, gs),
                None => Plan::Aggregate {
                    input: Box::new(input),
                    keys: group_exprs,
                    aggs,
                },
            };
            if let Some(h) = having {
                input = Plan::Filter {
                    input: Box::new(input),
                    predicate: h,
                };
            }
        }
        let mut srf_state = std::mem::replace(&mut self.srfs, outer_srfs);
        let mut exprs = exprs;
        let listed = exprs.len();
        if let Some(st) = srf_state.as_mut() {
            st.lend_args(&mut exprs);
        }
        let input = self.finish_windows(outer_windows, input, &mut exprs);
        if let Some(st) = srf_state.as_mut() {
            st.return_args(&mut exprs, listed);
        }
        let input = self.finish_srfs(srf_state, input, &mut exprs);
        let visible = names.len();
        Ok(Body {
            input,
            scope,
            exprs,
            names,
            distinct,
            unique,
            sort,
            visible,
        })
    }

    /// `DISTINCT ON (…)` (PostgreSQL's transformDistinctOnClause): its
    /// columns, and the sort that brings each group's first row (in ORDER
    /// BY's order) to the front: the ORDER BY items that are DISTINCT ON
    /// expressions must come first (42P10 otherwise), the DISTINCT ON
    /// expressions ORDER BY does not name follow them.
    fn distinct_on(
        &mut self,
        on: &[ast::Expr],
        sort: Vec<SortKey>,
        names: &[String],
        exprs: &mut Vec<Expr>,
        scope: &Scope,
    ) -> Result<(Vec<SortKey>, Vec<usize>)> {
        // An expression written twice is one column (as PostgreSQL matches
        // target entries by equal()).
        let same = |exprs: &[Expr], c: usize| {
            let shown = format!("{:?}", exprs[c]);
            (0..c)
                .find(|&j| format!("{:?}", exprs[j]) == shown)
                .unwrap_or(c)
        };
        let visible = names.len();
        let mut cols = Vec::with_capacity(on.len());
        for e in on {
            let c = self.order_column(e, names, exprs, visible, scope, false)?;
            let c = same(exprs, c);
            if !cols.iter().any(|&(x, _)| x == c) {
                cols.push((c, e));
            }
        }
        let mismatch = |b: &Binder, e: &ast::Expr| {
            b.position_at(
                e,
                Error::new(
                    SqlState::INVALID_COLUMN_REFERENCE,
                    "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                ),
            )
        };
        let mut keys = Vec::with_capacity(sort.len() + cols.len());
        let mut rest = Vec::new();
        for mut k in sort {
            k.column = same(exprs, k.column);
            match cols.iter().find(|&&(c, _)| c == k.column) {
                Some(&(_, e)) if !rest.is_empty() => return Err(mismatch(self, e)),
                Some(_) => keys.push(k),
                None => rest.push(k),
            }
        }
        for &(c, e) in &cols {
            if keys.iter().any(|k| k.column == c) {
                continue;
            }
            if !rest.is_empty() {
                return Err(mismatch(self, e));
            }
            if let Some(x) = exprs.get(c) {
                self.binary(BinOp::Eq, x.clone(), x.clone())?;
            }
            keys.push(SortKey {
                column: c,
                desc: false,
                nulls_first: false,
            });
        }
        keys.extend(rest);
        Ok((keys, cols.into_iter().map(|(c, _)| c).collect()))
    }

    /// What a GROUP BY item refers to: an output column by position, an
    /// output alias that is not an input column, or the expression itself.
    fn group_target<'a>(
        &self,
        g: &'a ast::Expr,
        projection: &'a [SelectItem],
        scope: &Scope,
    ) -> Result<&'a ast::Expr> {
        let item_expr = |item: &'a SelectItem| match item {
            SelectItem::UnnamedExpr(e) => Some(e),
            SelectItem::ExprWithAlias { expr, .. } => Some(expr),
            _ => None,
        };
        if let ast::Expr::Value(v) = g
            && let ast::Value::Number(n, _) = &v.value
        {
            let pos: usize = n.parse().unwrap_or(0);
            return projection
                .get(pos.wrapping_sub(1))
                .and_then(item_expr)
                .ok_or_else(|| {
                    Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!("GROUP BY position {n} is not in select list"),
                    )
                });
        }
        if let ast::Expr::Identifier(id) = g {
            let name = ident_name(id);
            if !scope.columns.iter().any(|c| c.name == name) {
                for item in projection {
                    if let SelectItem::ExprWithAlias { expr, alias } = item
                        && ident_name(alias) == name
                    {
                        return Ok(expr);
                    }
                }
            }
        }
        Ok(g)
    }

    /// A select-list expression: a bare column keeps its int2vector /
    /// oidvector type (it prints as one), anything else binds as usual.
    fn bind_output_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Expr> {
        self.keep_vector = matches!(
            e,
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
        );
        let r = self.bind_expr(e, scope);
        self.keep_vector = false;
        r
    }

    pub(super) fn bind_projection(
        &mut self,
        s: &ast::Select,
        scope: &Scope,
    ) -> Result<(Vec<Expr>, Vec<String>)> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    exprs.push(self.bind_output_expr(e, scope)?);
                    names.push(figure_colname(e).0);
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    exprs.push(self.bind_output_expr(expr, scope)?);
                    names.push(ident_name(alias));
                }
                SelectItem::Wildcard(_) => {
                    if scope.columns.is_empty() && s.from.is_empty() {
                        return Err(Error::new(
                            SqlState::SYNTAX_ERROR,
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    self.expand_wildcard(scope, None, &mut exprs, &mut names)?;
                }
                SelectItem::QualifiedWildcard(
                    ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                    _,
                ) => {
                    let parts = object_name(name);
                    let [table] = parts.as_slice() else {
                        return Err(unsupported("schema-qualified wildcards"));
                    };
                    if !scope.has_table(table) {
                        return Err(Error::new(
                            SqlState::UNDEFINED_TABLE,
                            format!("missing FROM-clause entry for table \"{table}\""),
                        ));
                    }
                    self.expand_wildcard(scope, Some(table), &mut exprs, &mut names)?;
                }
                SelectItem::QualifiedWildcard(..) => {
                    return Err(unsupported("this wildcard"));
                }
                SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
            }
        }
        Ok((exprs, names))
    }

    /// `*` or `t.*`: every column (of `table`), bound as a reference so a
    /// grouped query checks each against GROUP BY.
    fn expand_wildcard(
        &mut self,
        scope: &Scope,
        table: Option<&str>,
        exprs: &mut Vec<Expr>,
        names: &mut Vec<String>,
    ) -> Result<()> {
        for (i, c) in scope.columns.clone().into_iter().enumerate() {
            if table.is_some() && c.table.as_deref() != table {
                continue;
            }
            if table.is_none() && c.hidden {
                continue;
            }
            let column = ast::Ident::with_quote('"', c.name.clone());
            let id = match &c.table {
                Some(t) => ast::Expr::CompoundIdentifier(vec![
                    ast::Ident::with_quote('"', t.clone()),
                    column,
                ]),
                None => ast::Expr::Identifier(column),
            };
            if scope.find_ast(&id) == Some(i) {
                exprs.push(self.bind_output_expr(&id, scope)?);
            } else {
                // Two columns share the name (`unnest(a, b)`): by position.
                let key = self
                    .agg
                    .as_ref()
                    .filter(|st| st.strict && !st.in_agg)
                    .map(|st| {
                        st.group_asts
                            .iter()
                            .position(|g| st.input_scope.find_ast(g) == Some(i))
                            .map(|k| Expr::Column {
                                index: k,
                                ty: st.group_types[k].clone(),
                            })
                    });
                exprs.push(match key {
                    Some(Some(k)) => k,
                    _ => {
                        self.check_ungrouped(scope, i)?;
                        scope.column(i)
                    }
                });
            }
            names.push(c.name.clone());
        }
        Ok(())
    }

    /// Binds with aggregates forbidden (`WHERE`, `GROUP BY`, …).
    pub(super) fn forbid_aggregates<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&mut Binder) -> Result<T>,
    ) -> Result<T> {
        let saved_agg = self.agg.take();
        let saved_ctx = self.agg_forbidden.replace(context);
        let r = f(self);
        self.agg = saved_agg;
        self.agg_forbidden = saved_ctx;
        r
    }

    pub(super) fn bind_table_factor(&mut self, tf: &ast::TableFactor) -> Result<(Plan, Scope)> {
        super::stack_depth::check()?;
        match tf {
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                // A LATERAL one reads the items to its left through an
                // outer frame that bind_from sets up ([`super::lateral`]).
                let _ = lateral;
                let Some(alias) = alias else {
                    return Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        "subquery in FROM must have an alias",
                    )
                    .with_hint("For example, FROM (SELECT ...) [AS] foo."));
                };
                // A derived table sees nothing of the query around it.
                let outer_agg = self.agg.take();
                let inner = self.bind_query(subquery);
                self.agg = outer_agg;
                let inner = inner?;
                let mut names: Vec<String> = inner.columns.iter().map(|c| c.name.clone()).collect();
                let table = ident_name(&alias.name);
                if alias.columns.len() > names.len() {
                    return Err(Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!(
                            "table \"{table}\" has {} columns available but {} columns specified",
                            names.len(),
                            alias.columns.len()
                        ),
                    ));
                }
                for (i, c) in alias.columns.iter().enumerate() {
                    names[i] = ident_name(&c.name);
                }
                let scope = Scope::of(
                    Some(table),
                    names
                        .into_iter()
                        .zip(inner.columns.iter().map(|c| c.data_type.clone())),
                );
                Ok((inner.plan, scope))
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    return Err(unsupported("aliases on parenthesized joins"));
                }
                self.bind_from(std::slice::from_ref(table_with_joins))
            }
            ast::TableFactor::Table {
                name, alias, args, ..
            } if args.is_none() && self.cte(name).is_some() => {
                let Some(cte) = self.cte(name) else {
                    return Err(Error::internal("CTE vanished"));
                };
                cte.refs.set(cte.refs.get() + 1);
                let mut names: Vec<String> = cte.columns.iter().map(|c| c.name.clone()).collect();
                let types: Vec<DataType> =
                    cte.columns.iter().map(|c| c.data_type.clone()).collect();
                let plan = cte.plan.clone();
                let table = match alias {
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
                    None => cte.name.clone(),
                };
                Ok((plan, Scope::of(Some(table), names.into_iter().zip(types))))
            }
            ast::TableFactor::Table { name, .. }
                if object_name(name).len() == 1
                    && self.recursive_pending.contains(&object_name(name)[0]) =>
            {
                Err(Error::new(
                    SqlState("42P19"),
                    format!(
                        "recursive query \"{}\" does not have the form non-recursive-term UNION [ALL] recursive-term",
                        object_name(name)[0]
                    ),
                ))
            }
            ast::TableFactor::Table {
                name, alias, args, ..
            } if args.is_none() => {
                let relation = match &self.tables {
                    Some(source) => source.open_relation(name)?,
                    None => None,
                };
                match relation {
                    Some(super::view::Relation::Table(table)) => {
                        let (plan, scope) = self.bind_opened_table(table, alias.as_ref(), false)?;
                        Ok((plan, scope))
                    }
                    Some(super::view::Relation::View(view)) => {
                        self.bind_view(&view, alias.as_ref())
                    }
                    None => {
                        let parts = object_name(name);
                        let view = match super::stat_views::lookup(&parts)? {
                            Some(view) => Some(view),
                            None => super::pg_catalog::lookup(&parts, self.tables.as_ref())?,
                        };
                        match view {
                            Some(view) => Ok(self.bind_stat_view(name, alias.as_ref(), &view)),
                            None => Err(self.relation_not_found(name)),
                        }
                    }
                }
            }
            other => match super::srf::FromFunction::from_factor(other)? {
                Some(f) => self.bind_from_function(&f),
                None => Err(unsupported(format!("FROM {}", variant_name(other)))),
            },
        }
    }
}

impl Binder {
    /// A system view in FROM ([`super::stat_views`]): its rows as they are
    /// now, named by the alias if there is one.
    fn bind_stat_view(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
        view: &super::stat_views::StatView,
    ) -> (Plan, Scope) {
        let mut names: Vec<String> = view.columns.iter().map(|(n, _)| n.to_string()).collect();
        let label = match alias {
            Some(a) => {
                for (i, c) in a.columns.iter().enumerate().take(names.len()) {
                    names[i] = ident_name(&c.name);
                }
                ident_name(&a.name)
            }
            None => object_name(name).last().cloned().unwrap_or_default(),
        };
        let types = view.columns.iter().map(|(_, t)| t.clone());
        super::plan_cache::note_present_rows();
        let mut plan = super::stat_views::plan(view);
        if super::pg_catalog::is_settings_relation(&object_name(name)) {
            super::pg_catalog::read_settings_at_execution(&mut plan);
        }
        (plan, Scope::of(Some(label), names.into_iter().zip(types)))
    }

    /// A table in FROM (or the target of UPDATE / DELETE): a scan leaf and
    /// the scope of its columns, named by the alias if there is one.
    pub(super) fn bind_table(
        &mut self,
        name: &ast::ObjectName,
        alias: Option<&ast::TableAlias>,
        with_key: bool,
    ) -> Result<(Plan, Scope, TableRef)> {
        let Some(source) = &self.tables else {
            return Err(self.relation_not_found(name));
        };
        let Some(table) = source.open(name)? else {
            return Err(self.relation_not_found(name));
        };
        let (plan, scope) = self.bind_opened_table(table.clone(), alias, with_key)?;
        Ok((plan, scope, table))
    }

    /// 42P01 for `name`, at its position in the statement.
    pub(super) fn relation_not_found(&self, name: &ast::ObjectName) -> Error {
        let relation = object_name(name).join(".");
        let e = Error::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{relation}\" does not exist"),
        );
        match super::parse::char_position(&self.source, name.span().start) {
            Some(pos) if !self.source.is_empty() => e.with_position(pos),
            _ => e,
        }
    }

    /// The scan leaf and scope of an opened table.
    pub(super) fn bind_opened_table(
        &mut self,
        table: TableRef,
        alias: Option<&ast::TableAlias>,
        with_key: bool,
    ) -> Result<(Plan, Scope)> {
        let mut names: Vec<String> = table.def.columns.iter().map(|c| c.name.clone()).collect();
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
            None => table.def.name.clone(),
        };
        let scope = Scope::of(Some(label), names.into_iter().zip(table.types()));
        let plan = Plan::Scan {
            table,
            access: Access::Full,
            with_key,
            needed: None,
        };
        Ok((plan, scope))
    }

    /// Makes `name` read `work` (a recursive CTE's working table) while its
    /// recursive term binds; the count of references so far.
    /// A `WITH` item already run ([`super::modifying_cte`]): its rows as a
    /// VALUES list under `name`.
    pub(super) fn push_materialized_cte(
        &mut self,
        name: &str,
        columns: Vec<Column>,
        rows: &[Vec<Value>],
    ) {
        super::plan_cache::note_present_rows();
        let plan = Plan::Values {
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .zip(&columns)
                        .map(|(v, c)| Expr::Const {
                            value: v.clone(),
                            ty: c.data_type.clone(),
                        })
                        .collect()
                })
                .collect(),
            width: columns.len(),
        };
        self.ctes.push(Cte {
            name: name.to_string(),
            plan,
            columns,
            refs: Default::default(),
        });
    }

    pub(super) fn push_work_table(
        &mut self,
        name: &str,
        work: &super::recursive::WorkTable,
        names: &[String],
        types: &[DataType],
    ) -> usize {
        self.ctes.push(Cte {
            name: name.to_string(),
            plan: Plan::WorkTable {
                work: work.clone(),
                width: types.len(),
            },
            columns: names
                .iter()
                .zip(types)
                .map(|(n, t)| Column {
                    name: n.clone(),
                    data_type: t.clone(),
                })
                .collect(),
            refs: Default::default(),
        });
        self.ctes.len() - 1
    }

    /// Removes the working table pushed at `at`: how often it was read.
    pub(super) fn pop_work_table(&mut self, at: usize) -> usize {
        let refs = self.ctes.get(at).map(|c| c.refs.get()).unwrap_or(0);
        self.ctes.truncate(at);
        refs
    }

    /// The innermost `WITH` query called `name` (an unqualified name).
    fn cte(&self, name: &ast::ObjectName) -> Option<&Cte> {
        let parts = object_name(name);
        let [n] = parts.as_slice() else {
            return None;
        };
        self.ctes.iter().rev().find(|c| c.name == *n)
    }
}

/// What a SELECT or VALUES body binds to before ORDER BY / LIMIT.
struct Body {
    input: Plan,
    scope: Scope,
    /// Output expressions, then hidden ORDER BY expressions.
    exprs: Vec<Expr>,
    names: Vec<String>,
    distinct: bool,
    /// `DISTINCT ON`: the columns of `exprs` it keeps one row per, after
    /// `sort`.
    unique: Option<Vec<usize>>,
    sort: Vec<SortKey>,
    /// How many of `exprs` are output columns.
    visible: usize,
}

impl Binder {
    /// `expr COLLATE name`: text compares byte-wise (the C collation), so
    /// `default`, `C`, `POSIX` and `ucs_basic` are accepted and change
    /// nothing; another name is 42704 as PostgreSQL says for a collation
    /// that does not exist.
    fn bind_collate(&mut self, x: Expr, collation: &ast::ObjectName) -> Result<Expr> {
        let parts = object_name(collation);
        let known = match parts.as_slice() {
            [n] | [_, n] => matches!(n.as_str(), "default" | "C" | "POSIX" | "ucs_basic"),
            _ => false,
        } && (parts.len() == 1 || parts[0] == "pg_catalog");
        if !known {
            return Err(Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!(
                    "collation \"{}\" for encoding \"UTF8\" does not exist",
                    parts.join(".")
                ),
            ));
        }
        let ty = x.ty();
        if ty == DataType::Unknown {
            return self.coerce(x, &DataType::Text);
        }
        if !is_stringish(&ty) && !matches!(&ty, DataType::Array(e) if is_stringish(e)) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!("collations are not supported by type {}", ty.name()),
            ));
        }
        Ok(x)
    }
}

/// `OPERATOR(schema.op)`: the built-in operator `op` (only `pg_catalog`
/// holds operators), as if written bare.
fn custom_operator(parts: &[String]) -> Result<BinaryOperator> {
    use BinaryOperator as B;
    let (schema, op) = match parts {
        [op] => (None, op.as_str()),
        [schema, op] => (Some(schema.as_str()), op.as_str()),
        _ => {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!(
                    "improper qualified name (too many dotted names): {}",
                    parts.join(".")
                ),
            ));
        }
    };
    if let Some(s) = schema
        && s != "pg_catalog"
    {
        return Err(Error::new(
            super::namespace::INVALID_SCHEMA_NAME,
            format!("schema \"{s}\" does not exist"),
        ));
    }
    Ok(match op {
        "~" => B::PGRegexMatch,
        "~*" => B::PGRegexIMatch,
        "!~" => B::PGRegexNotMatch,
        "!~*" => B::PGRegexNotIMatch,
        "~~" => B::PGLikeMatch,
        "!~~" => B::PGNotLikeMatch,
        "~~*" => B::PGILikeMatch,
        "!~~*" => B::PGNotILikeMatch,
        "=" => B::Eq,
        "<>" | "!=" => B::NotEq,
        "<" => B::Lt,
        "<=" => B::LtEq,
        ">" => B::Gt,
        ">=" => B::GtEq,
        "+" => B::Plus,
        "-" => B::Minus,
        "*" => B::Multiply,
        "/" => B::Divide,
        "%" => B::Modulo,
        "^" => B::PGExp,
        "||" => B::StringConcat,
        "->" => B::Arrow,
        "->>" => B::LongArrow,
        "#>" => B::HashArrow,
        "#>>" => B::HashLongArrow,
        "&" => B::BitwiseAnd,
        "|" => B::BitwiseOr,
        "#" => B::PGBitwiseXor,
        "<<" => B::PGBitwiseShiftLeft,
        ">>" => B::PGBitwiseShiftRight,
        other => {
            return Err(unsupported(format!("operator {other}")));
        }
    })
}

/// Types a numeric literal as PostgreSQL does: int4, else int8, else numeric.
fn number_literal(text: &str) -> Result<Expr> {
    let is_integer = text.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if is_integer {
        if let Ok(v) = text.parse::<i32>() {
            return Ok(Expr::Const {
                value: Value::Int4(v),
                ty: DataType::Int4,
            });
        }
        if let Ok(v) = text.parse::<i64>() {
            return Ok(Expr::Const {
                value: Value::Int8(v),
                ty: DataType::Int8,
            });
        }
    }
    let n = Numeric::parse(text).map_err(|e| {
        if e.sqlstate == SqlState::INVALID_TEXT_REPRESENTATION {
            Error::new(
                SqlState::SYNTAX_ERROR,
                format!("trailing junk after numeric literal at or near \"{text}\""),
            )
        } else {
            e
        }
    })?;
    Ok(Expr::Const {
        value: Value::Numeric(n),
        ty: DataType::Numeric(None),
    })
}
