//! Bound expressions and their evaluation.
//!
//! The binder produces an [`Expr`] tree in which every node has a type and
//! every operand has already been converted (by explicit [`Expr::Cast`]
//! nodes) to the type its operator works on, so evaluation never guesses:
//! `1 + 2.5` is bound as `Add(Cast(1 AS numeric), 2.5)`.
//!
//! ```text
//!   SELECT 1 + 2.5 > $1
//!   Binary(Gt, numeric)
//!   ├── Binary(Add, numeric)
//!   │   ├── Cast(numeric) ── Const(1, int4)
//!   │   └── Const(2.5, numeric)
//!   └── Param($1, numeric)        <- type inferred from the other side
//! ```
//!
//! Owns: SQL's three-valued logic, arithmetic with PostgreSQL's overflow
//! and division-by-zero errors, comparisons in each type's order.
//! Never: resolves names or types (that is [`super::bind`]).

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::cast;
use super::execute::{self, ExecContext};
use super::functions::{self, Func};
use super::plan::Plan;

/// A binary operator, applied to two operands of one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `||` on text (operands converted to text first).
    Concat,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Pow => "^",
            BinOp::Eq => "=",
            BinOp::NotEq => "<>",
            BinOp::Lt => "<",
            BinOp::LtEq => "<=",
            BinOp::Gt => ">",
            BinOp::GtEq => ">=",
            BinOp::Concat => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        )
    }
}

/// A bound, typed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Const {
        value: Value,
        ty: DataType,
    },
    /// `$n` (0-based index), of the type declared or inferred for it.
    Param {
        index: usize,
        ty: DataType,
    },
    /// A column of the input row.
    Column {
        index: usize,
        ty: DataType,
    },
    Cast {
        expr: Box<Expr>,
        to: DataType,
    },
    /// Operands have the operator's operand type; `ty` is the result type.
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: DataType,
    },
    Negate {
        expr: Box<Expr>,
    },
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IS [NOT] TRUE/FALSE/UNKNOWN`; `value: None` is UNKNOWN.
    IsBool {
        expr: Box<Expr>,
        value: Option<bool>,
        negated: bool,
    },
    /// `IS [NOT] DISTINCT FROM`, operands of one type.
    IsDistinct {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    /// Searched CASE (simple CASE is bound into comparisons).
    Case {
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
        ty: DataType,
    },
    Coalesce {
        args: Vec<Expr>,
        ty: DataType,
    },
    /// GREATEST / LEAST over arguments of one type.
    MinMax {
        args: Vec<Expr>,
        greatest: bool,
        ty: DataType,
    },
    Func {
        func: Func,
        args: Vec<Expr>,
        ty: DataType,
    },
    /// A value of the enclosing query's row that a correlated subquery
    /// reads: slot `slot` of [`EvalContext::outer`] (see [`SubPlan`]).
    Outer {
        slot: usize,
        ty: DataType,
    },
    /// A scalar subquery: its only column of its only row (NULL if none).
    Subquery {
        sub: Box<SubPlan>,
        ty: DataType,
        /// `ARRAY(SELECT …)`: every row's value as one array (`ty` is the
        /// array type), instead of the only row's.
        array: bool,
    },
    Exists {
        sub: Box<SubPlan>,
        negated: bool,
    },
    /// `expr op ANY/ALL (subquery)` (`IN` is `= ANY`); the plan's one
    /// column has expr's type.
    Quantified {
        expr: Box<Expr>,
        op: BinOp,
        all: bool,
        sub: Box<SubPlan>,
    },
    /// `[NOT] LIKE / ILIKE` on text.
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    },
}

/// A subquery in an expression.
///
/// ```text
///   SELECT (SELECT u.y FROM u WHERE u.k = t.k) FROM t
///   Subquery
///   ├── correlated: [Column(t.k)]            <- evaluated on t's row
///   └── plan: Project [u.y]
///            └── Filter u.k = Outer(slot 0)  <- reads correlated[0]
/// ```
///
/// Each outer reference is a slot: `correlated[i]` is evaluated in the
/// enclosing query's row and read inside the plan as `Expr::Outer { slot: i }`.
/// A reference two levels out is passed down level by level (the middle
/// subquery captures it as one of its own slots). A subquery without
/// correlated slots runs once per statement and keeps its rows; a
/// correlated one runs once per outer row.
#[derive(Debug, Clone)]
pub struct SubPlan {
    pub plan: Plan,
    pub correlated: Vec<Expr>,
    pub cache: SubqueryCache,
}

impl SubPlan {
    pub fn new(plan: Plan, correlated: Vec<Expr>) -> SubPlan {
        SubPlan {
            plan,
            correlated,
            cache: SubqueryCache::default(),
        }
    }

    /// The subquery's rows for the current outer row.
    fn rows<'s>(&'s self, ctx: &EvalContext<'_>) -> Result<std::borrow::Cow<'s, [Vec<Value>]>> {
        if self.correlated.is_empty() {
            return self
                .cache
                .rows(&self.plan, ctx)
                .map(|rows| std::borrow::Cow::Borrowed(rows.as_slice()));
        }
        let mut outer = Vec::with_capacity(self.correlated.len());
        for e in &self.correlated {
            outer.push(e.eval(ctx)?);
        }
        let cx = ExecContext {
            params: ctx.params,
            settings: ctx.settings,
            outer: &outer,
            txn: ctx.txn,
        };
        execute::run(&self.plan, &cx).map(std::borrow::Cow::Owned)
    }
}

/// The rows of an uncorrelated subquery, computed on first use and kept
/// for the rest of the statement (they cannot change between rows).
#[derive(Debug, Clone, Default)]
pub struct SubqueryCache(std::sync::OnceLock<Result<Vec<Vec<Value>>>>);

impl SubqueryCache {
    fn rows(&self, plan: &Plan, ctx: &EvalContext<'_>) -> Result<&Vec<Vec<Value>>> {
        self.0
            .get_or_init(|| run_subquery(plan, ctx))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What evaluation may read besides the expression: the input row, the
/// parameter values, the enclosing query's values a correlated subquery
/// reads (`outer`, empty at the top level) and the session (for
/// `current_setting`).
pub struct EvalContext<'a> {
    pub row: &'a [Value],
    pub params: &'a [Value],
    pub outer: &'a [Value],
    pub settings: &'a dyn Fn(&str) -> Result<String>,
    /// The statement's transaction, for subqueries over tables.
    pub txn: Option<&'a super::scan::TxnCell>,
}

impl Expr {
    /// Renumbers every column of the input row this expression reads
    /// (`Expr::Column`, also in a subquery's correlated values, never the
    /// columns inside a subquery's own plan).
    pub fn map_columns(&mut self, f: &mut dyn FnMut(usize) -> usize) {
        match self {
            Expr::Column { index, .. } => *index = f(*index),
            Expr::Const { .. } | Expr::Param { .. } | Expr::Outer { .. } => {}
            Expr::Cast { expr, .. }
            | Expr::Negate { expr }
            | Expr::Not(expr)
            | Expr::IsNull { expr, .. }
            | Expr::IsBool { expr, .. } => expr.map_columns(f),
            Expr::Binary { left, right, .. }
            | Expr::IsDistinct { left, right, .. }
            | Expr::And(left, right)
            | Expr::Or(left, right) => {
                left.map_columns(f);
                right.map_columns(f);
            }
            Expr::Like { expr, pattern, .. } => {
                expr.map_columns(f);
                pattern.map_columns(f);
            }
            Expr::Case {
                whens, otherwise, ..
            } => {
                for (c, r) in whens {
                    c.map_columns(f);
                    r.map_columns(f);
                }
                if let Some(o) = otherwise {
                    o.map_columns(f);
                }
            }
            Expr::Coalesce { args, .. } | Expr::MinMax { args, .. } | Expr::Func { args, .. } => {
                for a in args {
                    a.map_columns(f);
                }
            }
            Expr::Subquery { sub, .. } | Expr::Exists { sub, .. } => {
                for c in &mut sub.correlated {
                    c.map_columns(f);
                }
            }
            Expr::Quantified { expr, sub, .. } => {
                expr.map_columns(f);
                for c in &mut sub.correlated {
                    c.map_columns(f);
                }
            }
        }
    }

    pub fn ty(&self) -> DataType {
        match self {
            Expr::Const { ty, .. }
            | Expr::Param { ty, .. }
            | Expr::Column { ty, .. }
            | Expr::Binary { ty, .. }
            | Expr::Case { ty, .. }
            | Expr::Coalesce { ty, .. }
            | Expr::MinMax { ty, .. }
            | Expr::Func { ty, .. }
            | Expr::Outer { ty, .. }
            | Expr::Subquery { ty, .. } => ty.clone(),
            Expr::Cast { to, .. } => to.clone(),
            Expr::Negate { expr } => expr.ty(),
            Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::IsNull { .. }
            | Expr::IsBool { .. }
            | Expr::IsDistinct { .. }
            | Expr::Exists { .. }
            | Expr::Quantified { .. }
            | Expr::Like { .. } => DataType::Bool,
        }
    }

    /// [`Expr::eval`] borrowing the value of a column, constant or
    /// parameter instead of cloning it (an operator reads its operands;
    /// copying a numeric or text per row only to drop it is the cost).
    pub fn eval_ref<'a>(&'a self, ctx: &'a EvalContext<'a>) -> Result<std::borrow::Cow<'a, Value>> {
        use std::borrow::Cow;
        match self {
            Expr::Const { value, .. } => Ok(Cow::Borrowed(value)),
            Expr::Column { index, .. } => ctx
                .row
                .get(*index)
                .map(Cow::Borrowed)
                .ok_or_else(|| Error::internal(format!("column {index} is not in the row"))),
            other => other.eval(ctx).map(Cow::Owned),
        }
    }

    pub fn eval(&self, ctx: &EvalContext<'_>) -> Result<Value> {
        if !matches!(
            self,
            Expr::Const { .. } | Expr::Param { .. } | Expr::Column { .. } | Expr::Outer { .. }
        ) {
            super::stack_depth::check()?;
        }
        match self {
            Expr::Const { value, .. } => Ok(value.clone()),
            Expr::Param { index, .. } => ctx
                .params
                .get(*index)
                .cloned()
                .ok_or_else(|| no_parameter(*index)),
            Expr::Column { index, .. } => ctx
                .row
                .get(*index)
                .cloned()
                .ok_or_else(|| Error::internal(format!("column {index} is not in the row"))),
            Expr::Outer { slot, .. } => ctx
                .outer
                .get(*slot)
                .cloned()
                .ok_or_else(|| Error::internal(format!("outer slot {slot} is not set"))),
            Expr::Cast { expr, to } => {
                let from = expr.ty();
                let v = expr.eval(ctx)?;
                match (&from, to, &v) {
                    (_, _, Value::Null) => Ok(Value::Null),
                    (DataType::Reg(k), t, Value::Int8(o))
                        if super::coerce::category(t) == super::coerce::Category::String =>
                    {
                        let snap = super::pg_catalog::snapshot_in(ctx.txn)?;
                        let text = super::pg_catalog::reg::output(&snap, *k, *o as u32);
                        cast::cast(Value::Text(text), &DataType::Text, to)
                    }
                    (f, DataType::Reg(k), Value::Text(s))
                        if super::coerce::category(f) == super::coerce::Category::String =>
                    {
                        let snap = super::pg_catalog::snapshot_in(ctx.txn)?;
                        let o = super::pg_catalog::reg::input(&snap, *k, s)?;
                        Ok(Value::Int8(o as i64))
                    }
                    _ => cast::cast(v, &from, to),
                }
            }
            Expr::Binary {
                op, left, right, ..
            } => {
                let l = left.eval_ref(ctx)?;
                let r = right.eval_ref(ctx)?;
                if l.is_null() || r.is_null() {
                    return Ok(Value::Null);
                }
                binary(*op, &l, &r, &left.ty())
            }
            Expr::Negate { expr } => negate(expr.eval(ctx)?),
            Expr::Not(e) => Ok(match e.eval(ctx)? {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            }),
            Expr::And(a, b) => {
                let l = as_bool(a.eval(ctx)?)?;
                if l == Some(false) {
                    return Ok(Value::Bool(false));
                }
                let r = as_bool(b.eval(ctx)?)?;
                Ok(match (l, r) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                })
            }
            Expr::Or(a, b) => {
                let l = as_bool(a.eval(ctx)?)?;
                if l == Some(true) {
                    return Ok(Value::Bool(true));
                }
                let r = as_bool(b.eval(ctx)?)?;
                Ok(match (l, r) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                })
            }
            Expr::IsNull { expr, negated } => {
                Ok(Value::Bool(expr.eval(ctx)?.is_null() != *negated))
            }
            Expr::IsBool {
                expr,
                value,
                negated,
            } => {
                let v = as_bool(expr.eval(ctx)?)?;
                Ok(Value::Bool((v == *value) != *negated))
            }
            Expr::IsDistinct {
                left,
                right,
                negated,
            } => {
                let l = left.eval(ctx)?;
                let r = right.eval(ctx)?;
                let distinct = match (l.is_null(), r.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    (false, false) => compare(&l, &r)? != Ordering::Equal,
                };
                Ok(Value::Bool(distinct != *negated))
            }
            Expr::Case {
                whens, otherwise, ..
            } => {
                for (cond, result) in whens {
                    if as_bool(cond.eval(ctx)?)? == Some(true) {
                        return result.eval(ctx);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(ctx),
                    None => Ok(Value::Null),
                }
            }
            Expr::Coalesce { args, .. } => {
                for a in args {
                    let v = a.eval(ctx)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Ok(Value::Null)
            }
            Expr::MinMax { args, greatest, .. } => {
                let mut best: Option<Value> = None;
                for a in args {
                    let v = a.eval(ctx)?;
                    if v.is_null() {
                        continue;
                    }
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let o = compare(&v, &b)?;
                            if (*greatest && o == Ordering::Greater)
                                || (!*greatest && o == Ordering::Less)
                            {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                Ok(best.unwrap_or(Value::Null))
            }
            Expr::Func { func, args, ty } => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(a.eval(ctx)?);
                }
                let types: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
                functions::call(*func, values, &types, ty, ctx)
            }
            Expr::Subquery {
                sub, array: true, ..
            } => {
                let rows = sub.rows(ctx)?;
                Ok(Value::Array(
                    rows.iter()
                        .map(|r| r.first().cloned().unwrap_or(Value::Null))
                        .collect(),
                ))
            }
            Expr::Subquery { sub, .. } => {
                let rows = sub.rows(ctx)?;
                match rows.len() {
                    0 => Ok(Value::Null),
                    1 => Ok(rows
                        .first()
                        .and_then(|r| r.first())
                        .cloned()
                        .unwrap_or(Value::Null)),
                    _ => Err(Error::new(
                        SqlState::CARDINALITY_VIOLATION,
                        "more than one row returned by a subquery used as an expression",
                    )),
                }
            }
            Expr::Exists { sub, negated } => Ok(Value::Bool(sub.rows(ctx)?.is_empty() == *negated)),
            Expr::Quantified { expr, op, all, sub } => {
                let x = expr.eval(ctx)?;
                let rows = sub.rows(ctx)?;
                let ty = expr.ty();
                let mut saw_null = false;
                for row in rows.iter() {
                    let v = row.first().cloned().unwrap_or(Value::Null);
                    if x.is_null() || v.is_null() {
                        saw_null = true;
                        continue;
                    }
                    let hit = binary(*op, &x, &v, &ty)? == Value::Bool(true);
                    if hit != *all {
                        // ANY found a match, or ALL found a failure.
                        return Ok(Value::Bool(hit));
                    }
                }
                Ok(if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*all)
                })
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                let v = expr.eval(ctx)?;
                let p = pattern.eval(ctx)?;
                match (v, p) {
                    (Value::Text(s), Value::Text(p)) => {
                        let m = if *case_insensitive {
                            like(&s.to_lowercase(), &p.to_lowercase(), *escape)?
                        } else {
                            like(&s, &p, *escape)?
                        };
                        Ok(Value::Bool(m != *negated))
                    }
                    _ => Ok(Value::Null),
                }
            }
        }
    }
}

/// Runs an (uncorrelated) subquery's plan with the statement's parameters.
fn run_subquery(plan: &Plan, ctx: &EvalContext<'_>) -> Result<Vec<Vec<Value>>> {
    let cx = ExecContext {
        params: ctx.params,
        settings: ctx.settings,
        outer: &[],
        txn: ctx.txn,
    };
    execute::run(plan, &cx)
}

/// `items[0] op items[1] op …` for an associative `op` (`Expr::And`,
/// `Expr::Or`) as a balanced tree, built without recursion: its depth is
/// log2 of the count, so a WHERE of thousands of conjuncts does not nest
/// thousands deep for every later walk over it. Evaluation still visits
/// the operands left to right and stops at the same one. `None` if empty.
pub fn balanced(mut items: Vec<Expr>, op: fn(Box<Expr>, Box<Expr>) -> Expr) -> Option<Expr> {
    while items.len() > 1 {
        let mut paired = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            paired.push(match it.next() {
                Some(b) => op(Box::new(a), Box::new(b)),
                None => a,
            });
        }
        items = paired;
    }
    items.pop()
}

pub fn no_parameter(index: usize) -> Error {
    Error::new(
        SqlState::UNDEFINED_PARAMETER,
        format!("there is no parameter ${}", index + 1),
    )
}

fn as_bool(v: Value) -> Result<Option<bool>> {
    match v {
        Value::Bool(b) => Ok(Some(b)),
        Value::Null => Ok(None),
        other => Err(Error::internal(format!(
            "expected a boolean, got {other:?}"
        ))),
    }
}

fn out_of_range(name: &str) -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{name} out of range"),
    )
}

pub fn division_by_zero() -> Error {
    Error::new(SqlState::DIVISION_BY_ZERO, "division by zero")
}

fn negate(v: Value) -> Result<Value> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::Int2(i) => Value::Int2(i.checked_neg().ok_or_else(|| out_of_range("smallint"))?),
        Value::Int4(i) => Value::Int4(i.checked_neg().ok_or_else(|| out_of_range("integer"))?),
        Value::Int8(i) => Value::Int8(i.checked_neg().ok_or_else(|| out_of_range("bigint"))?),
        Value::Float4(f) => Value::Float4(-f),
        Value::Float8(f) => Value::Float8(-f),
        Value::Numeric(n) => Value::Numeric(n.neg()),
        Value::Interval(iv) => Value::Interval(crate::types::datetime::interval_neg(&iv)?),
        other => return Err(Error::internal(format!("cannot negate {other:?}"))),
    })
}

/// Checked integer arithmetic on i64 operands, range-checked to the type.
fn int_arith(op: BinOp, a: i64, b: i64, min: i64, max: i64, name: &str) -> Result<i64> {
    let r = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div => {
            if b == 0 {
                return Err(division_by_zero());
            }
            a.checked_div(b)
        }
        BinOp::Mod => {
            if b == 0 {
                return Err(division_by_zero());
            }
            Some(a.checked_rem(b).unwrap_or(0))
        }
        _ => return Err(Error::internal(format!("{op:?} is not arithmetic"))),
    };
    match r {
        Some(v) if v >= min && v <= max => Ok(v),
        _ => Err(out_of_range(name)),
    }
}

fn float_arith(op: BinOp, a: f64, b: f64) -> Result<f64> {
    let r = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                return Err(division_by_zero());
            }
            a / b
        }
        BinOp::Pow => return functions::float_pow(a, b),
        _ => return Err(Error::internal(format!("{op:?} is not float arithmetic"))),
    };
    check_float(
        r,
        a.is_infinite() || b.is_infinite(),
        (op == BinOp::Mul && (a == 0.0 || b == 0.0))
            || (op == BinOp::Div && a == 0.0)
            || !matches!(op, BinOp::Mul | BinOp::Div),
    )
}

/// PostgreSQL's float overflow / underflow checks on a result.
pub fn check_float(r: f64, inf_ok: bool, zero_ok: bool) -> Result<f64> {
    if r.is_infinite() && !inf_ok {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: overflow",
        ));
    }
    if r == 0.0 && !zero_ok {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: underflow",
        ));
    }
    Ok(r)
}

fn numeric_arith(op: BinOp, a: &Numeric, b: &Numeric) -> Result<Numeric> {
    match op {
        BinOp::Add => a.add(b),
        BinOp::Sub => a.sub(b),
        BinOp::Mul => a.mul(b),
        BinOp::Div => a.div(b),
        BinOp::Mod => a.rem(b),
        _ => Err(Error::internal(format!("{op:?} is not numeric arithmetic"))),
    }
}

/// Applies a non-logical binary operator to two non-null operands of `ty`.
pub fn binary(op: BinOp, l: &Value, r: &Value, ty: &DataType) -> Result<Value> {
    if op.is_comparison() {
        let o = compare(l, r)?;
        let b = match op {
            BinOp::Eq => o == Ordering::Equal,
            BinOp::NotEq => o != Ordering::Equal,
            BinOp::Lt => o == Ordering::Less,
            BinOp::LtEq => o != Ordering::Greater,
            BinOp::Gt => o == Ordering::Greater,
            _ => o != Ordering::Less,
        };
        return Ok(Value::Bool(b));
    }
    if op == BinOp::Concat {
        return Ok(match (l, r) {
            (Value::Bytea(a), Value::Bytea(b)) => {
                let mut out = a.clone();
                out.extend_from_slice(b);
                Value::Bytea(out)
            }
            _ => Value::Text(format!("{}{}", cast::to_text(l, ty), cast::to_text(r, ty))),
        });
    }
    Ok(match (l, r) {
        (Value::Int2(a), Value::Int2(b)) => Value::Int2(int_arith(
            op,
            *a as i64,
            *b as i64,
            i16::MIN as i64,
            i16::MAX as i64,
            "smallint",
        )? as i16),
        (Value::Int4(a), Value::Int4(b)) => Value::Int4(int_arith(
            op,
            *a as i64,
            *b as i64,
            i32::MIN as i64,
            i32::MAX as i64,
            "integer",
        )? as i32),
        (Value::Int8(a), Value::Int8(b)) => {
            Value::Int8(int_arith(op, *a, *b, i64::MIN, i64::MAX, "bigint")?)
        }
        (Value::Float8(a), Value::Float8(b)) => Value::Float8(float_arith(op, *a, *b)?),
        (Value::Float4(a), Value::Float4(b)) => {
            let r = float_arith(op, *a as f64, *b as f64)?;
            Value::Float4(cast::f64_to_f32(r)?)
        }
        (Value::Numeric(a), Value::Numeric(b)) => Value::Numeric(numeric_arith(op, a, b)?),
        _ => super::datetime_functions::binary(op, l, r)?,
    })
}

fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Compares two non-null values of one type in that type's order (text in
/// byte order, i.e. the C collation; NaN above every float).
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    Ok(match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int2(x), Value::Int2(y)) => x.cmp(y),
        (Value::Int4(x), Value::Int4(y)) => x.cmp(y),
        (Value::Int8(x), Value::Int8(y)) => x.cmp(y),
        (Value::Float4(x), Value::Float4(y)) => float_cmp(*x as f64, *y as f64),
        (Value::Float8(x), Value::Float8(y)) => float_cmp(*x, *y),
        (Value::Numeric(x), Value::Numeric(y)) => x.cmp_total(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bytea(x), Value::Bytea(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y))
        | (Value::Timestamp(x), Value::Timestamp(y))
        | (Value::Timestamptz(x), Value::Timestamptz(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.cmp_key().cmp(&y.cmp_key()),
        (Value::Uuid(x), Value::Uuid(y)) => x.cmp(y),
        (Value::Jsonb(x), Value::Jsonb(y)) => x.cmp_jsonb(y),
        (Value::Array(x), Value::Array(y)) => crate::types::array::compare_arrays(x, y, compare)?,
        _ => return Err(Error::internal(format!("cannot compare {a:?} with {b:?}"))),
    })
}

/// Sort order for ORDER BY: NULLs compare as larger than every value.
pub fn compare_nulls_last(a: &Value, b: &Value) -> Result<Ordering> {
    Ok(match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => compare(a, b)?,
    })
}

/// SQL LIKE: `%` any run, `_` one character, `escape` (default `\`) quotes.
pub fn like(s: &str, pattern: &str, escape: Option<char>) -> Result<bool> {
    let esc = escape.unwrap_or('\\');
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    // Tokens: Some(c) literal, None for '_', and a separate marker for '%'.
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Lit(char),
        One,
        Any,
    }
    let mut toks = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        let c = p[i];
        if c == esc {
            let next = p.get(i + 1).ok_or_else(|| {
                Error::new(
                    SqlState("22025"),
                    "LIKE pattern must not end with escape character",
                )
            })?;
            toks.push(Tok::Lit(*next));
            i += 2;
            continue;
        }
        toks.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            c => Tok::Lit(c),
        });
        i += 1;
    }
    // Iterative matcher with backtracking to the last '%'.
    let (mut si, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if ti < toks.len() && (toks[ti] == Tok::One || toks[ti] == Tok::Lit(s[si])) {
            si += 1;
            ti += 1;
        } else if ti < toks.len() && toks[ti] == Tok::Any {
            star = Some((ti, si));
            ti += 1;
        } else if let Some((st, ss)) = star {
            ti = st + 1;
            si = ss + 1;
            star = Some((st, ss + 1));
        } else {
            return Ok(false);
        }
    }
    while ti < toks.len() && toks[ti] == Tok::Any {
        ti += 1;
    }
    Ok(ti == toks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_overflow_and_division_by_zero_have_postgres_errors() {
        let e = binary(
            BinOp::Add,
            &Value::Int4(i32::MAX),
            &Value::Int4(1),
            &DataType::Int4,
        )
        .unwrap_err();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            (SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")
        );
        let e = binary(
            BinOp::Mul,
            &Value::Int8(i64::MAX),
            &Value::Int8(2),
            &DataType::Int8,
        )
        .unwrap_err();
        assert_eq!(e.message, "bigint out of range");
        let e = binary(
            BinOp::Div,
            &Value::Int2(1),
            &Value::Int2(0),
            &DataType::Int2,
        )
        .unwrap_err();
        assert_eq!(e.sqlstate, SqlState::DIVISION_BY_ZERO);
        assert_eq!(
            binary(
                BinOp::Mod,
                &Value::Int4(i32::MIN),
                &Value::Int4(-1),
                &DataType::Int4
            )
            .unwrap(),
            Value::Int4(0)
        );
        assert_eq!(
            binary(
                BinOp::Div,
                &Value::Int4(-7),
                &Value::Int4(2),
                &DataType::Int4
            )
            .unwrap(),
            Value::Int4(-3)
        );
    }

    #[test]
    fn float_nan_sorts_above_everything_and_equals_itself() {
        assert_eq!(
            compare(&Value::Float8(f64::NAN), &Value::Float8(f64::NAN)).unwrap(),
            Ordering::Equal
        );
        assert_eq!(
            compare(&Value::Float8(f64::NAN), &Value::Float8(f64::INFINITY)).unwrap(),
            Ordering::Greater
        );
        let e = binary(
            BinOp::Mul,
            &Value::Float8(1e300),
            &Value::Float8(1e300),
            &DataType::Float8,
        )
        .unwrap_err();
        assert_eq!(e.message, "value out of range: overflow");
    }

    #[test]
    fn like_matches_wildcards_and_escapes() {
        assert!(like("abc", "a%", None).unwrap());
        assert!(like("abc", "_b_", None).unwrap());
        assert!(!like("abc", "b%", None).unwrap());
        assert!(like("a%c", "a\\%c", None).unwrap());
        assert!(!like("abc", "a\\%c", None).unwrap());
        assert!(like("aXbXc", "%b%c", None).unwrap());
        assert!(like("", "%", None).unwrap());
    }
}
