//! Aggregate functions: signatures, result types and accumulators.
//!
//! ```text
//!   SELECT x, count(*), avg(y) FROM … GROUP BY x
//!   Aggregate keys [x] aggs [count(*), avg(y)]   -> rows (x, count, avg)
//!   (no GROUP BY and no input rows: one row, count = 0, others NULL)
//! ```
//!
//! Owns: what each aggregate returns for each argument type (as PostgreSQL:
//! `sum(int4)` is bigint, `sum(int8)` and `avg(int)` are numeric, …) and how
//! it accumulates. NULL inputs are skipped by every aggregate.
//! Never: groups rows; [`super::execute`] does.

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::execute::{KeyPart, row_key};
use super::expr::{EvalContext, Expr, compare};
use super::plan::AggCall;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `count(*)`: counts rows, not values.
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
    BoolAnd,
    BoolOr,
    StringAgg,
    /// `array_agg(x)`: every value, NULLs included, in input order.
    ArrayAgg,
    /// `json_agg` / `jsonb_agg`: the values as a JSON array.
    JsonAgg {
        binary: bool,
    },
    /// `json_object_agg` / `jsonb_object_agg`: (key, value) pairs.
    JsonObjectAgg {
        binary: bool,
    },
    VarSamp,
    VarPop,
    StddevSamp,
    StddevPop,
}

/// Whether `name` is an aggregate function.
pub fn is_aggregate(name: &str) -> bool {
    matches!(
        name,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "bool_and"
            | "bool_or"
            | "every"
            | "string_agg"
            | "array_agg"
            | "json_agg"
            | "jsonb_agg"
            | "json_object_agg"
            | "jsonb_object_agg"
            | "variance"
            | "var_samp"
            | "var_pop"
            | "stddev"
            | "stddev_samp"
            | "stddev_pop"
    )
}

/// Whether an unknown-typed argument makes `name` ambiguous (PostgreSQL
/// also has versions over interval and money).
pub fn unknown_is_ambiguous(name: &str) -> bool {
    matches!(name, "sum" | "avg")
}

/// One ORDER BY key inside an aggregate call (`string_agg(x, ',' ORDER BY y)`)
/// or a window's ORDER BY.
#[derive(Debug, Clone)]
pub struct OrderKey {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// Compares two rows of ORDER BY key values, key by key, with each key's
/// direction and NULL placement.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[OrderKey]) -> Result<Ordering> {
    for ((x, y), k) in a.iter().zip(b).zip(keys) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = compare(x, y)?;
                if k.desc { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(Ordering::Equal)
}

/// Sorts `items` stably by their key rows; the first comparison error wins.
pub fn sort_by_keys<T>(items: &mut [(Vec<Value>, T)], keys: &[OrderKey]) -> Result<()> {
    let mut failure = None;
    items.sort_by(|a, b| match compare_keys(&a.0, &b.0, keys) {
        Ok(o) => o,
        Err(e) => {
            failure.get_or_insert(e);
            Ordering::Equal
        }
    });
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One aggregate call over one group: FILTER, DISTINCT and ORDER BY around
/// an [`Accumulator`]. With ORDER BY the arguments are kept and fed in
/// order when the group ends.
#[derive(Debug, Clone)]
pub struct AggRunner {
    acc: Accumulator,
    seen: HashSet<Vec<KeyPart>>,
    buffered: Vec<(Vec<Value>, Vec<Value>)>,
}

impl AggRunner {
    pub fn new(call: &AggCall) -> AggRunner {
        let ty = call.args.first().map(|e| e.ty()).unwrap_or(DataType::Int8);
        AggRunner {
            acc: Accumulator::new(call.func, &ty),
            seen: HashSet::new(),
            buffered: Vec::new(),
        }
    }

    /// Adds the input row `ctx.row`.
    pub fn feed(&mut self, call: &AggCall, ctx: &EvalContext<'_>) -> Result<()> {
        if let Some(p) = &call.filter
            && p.eval(ctx)? != Value::Bool(true)
        {
            return Ok(());
        }
        let mut args = Vec::with_capacity(call.args.len());
        for e in &call.args {
            args.push(e.eval(ctx)?);
        }
        if !call.order.is_empty() {
            let mut keys = Vec::with_capacity(call.order.len());
            for k in &call.order {
                keys.push(k.expr.eval(ctx)?);
            }
            self.buffered.push((keys, args));
            return Ok(());
        }
        self.add(call, args)
    }

    fn add(&mut self, call: &AggCall, args: Vec<Value>) -> Result<()> {
        if call.distinct && !self.seen.insert(row_key(&args)) {
            return Ok(());
        }
        self.acc.update(call.func, &args)
    }

    /// The aggregate's value over the rows fed so far (the runner can go
    /// on; window frames read it row by row).
    pub fn value(&self, call: &AggCall) -> Result<Value> {
        if self.buffered.is_empty() {
            return self.acc.clone().finish(call.func, &call.ret);
        }
        let mut done = self.clone();
        let mut rows = std::mem::take(&mut done.buffered);
        sort_by_keys(&mut rows, &call.order)?;
        for (_, args) in rows {
            done.add(call, args)?;
        }
        done.acc.finish(call.func, &call.ret)
    }

    pub fn finish(self, call: &AggCall) -> Result<Value> {
        if self.buffered.is_empty() {
            return self.acc.finish(call.func, &call.ret);
        }
        self.value(call)
    }
}

/// One overload: argument types (after coercion) and the result type.
pub struct AggSignature {
    pub func: AggFunc,
    pub args: Vec<DataType>,
    pub ret: DataType,
}

/// The element types `array_agg` and the JSON aggregates take.
fn agg_element_types() -> Vec<DataType> {
    use DataType::*;
    vec![
        Int2,
        Int4,
        Int8,
        Numeric(None),
        Float4,
        Float8,
        Text,
        Varchar(None),
        Char(None),
        Bool,
        Bytea,
        Date,
        Time,
        Timestamp,
        Timestamptz,
        Interval,
        Uuid,
        Json,
        Jsonb,
        Oid,
    ]
}

/// The overloads of aggregate `name` (`count(*)` is handled by the binder).
pub fn signatures(name: &str) -> Vec<AggSignature> {
    use DataType::*;
    let num = || Numeric(None);
    let sig = |func: AggFunc, args: Vec<DataType>, ret: DataType| AggSignature { func, args, ret };
    match name {
        "sum" => vec![
            sig(AggFunc::Sum, vec![Int2], Int8),
            sig(AggFunc::Sum, vec![Int4], Int8),
            sig(AggFunc::Sum, vec![Int8], num()),
            sig(AggFunc::Sum, vec![num()], num()),
            sig(AggFunc::Sum, vec![Float4], Float4),
            sig(AggFunc::Sum, vec![Float8], Float8),
        ],
        "avg" => vec![
            sig(AggFunc::Avg, vec![Int2], num()),
            sig(AggFunc::Avg, vec![Int4], num()),
            sig(AggFunc::Avg, vec![Int8], num()),
            sig(AggFunc::Avg, vec![num()], num()),
            sig(AggFunc::Avg, vec![Float4], Float8),
            sig(AggFunc::Avg, vec![Float8], Float8),
        ],
        "min" | "max" => {
            let f = if name == "min" {
                AggFunc::Min
            } else {
                AggFunc::Max
            };
            [
                Int2,
                Int4,
                Int8,
                num(),
                Float4,
                Float8,
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
            ]
            .into_iter()
            .map(|t| sig(f, vec![t.clone()], t))
            .collect()
        }
        "json_agg" | "jsonb_agg" | "json_object_agg" | "jsonb_object_agg" => {
            let binary = name.starts_with("jsonb");
            let (ret, object) = match name {
                "json_agg" | "jsonb_agg" => (if binary { Jsonb } else { Json }, false),
                _ => (if binary { Jsonb } else { Json }, true),
            };
            let values = agg_element_types();
            if object {
                let f = AggFunc::JsonObjectAgg { binary };
                let mut out = Vec::new();
                for k in [Text, Varchar(None), Int4, Int8] {
                    for v in &values {
                        out.push(sig(f, vec![k.clone(), v.clone()], ret.clone()));
                    }
                }
                out
            } else {
                let f = AggFunc::JsonAgg { binary };
                values
                    .into_iter()
                    .map(|t| sig(f, vec![t], ret.clone()))
                    .collect()
            }
        }
        "array_agg" => agg_element_types()
            .into_iter()
            .map(|t| sig(AggFunc::ArrayAgg, vec![t.clone()], Array(Box::new(t))))
            .collect(),
        "bool_and" | "every" => vec![sig(AggFunc::BoolAnd, vec![Bool], Bool)],
        "bool_or" => vec![sig(AggFunc::BoolOr, vec![Bool], Bool)],
        "string_agg" => vec![
            sig(AggFunc::StringAgg, vec![Text, Text], Text),
            sig(AggFunc::StringAgg, vec![Bytea, Bytea], Bytea),
        ],
        "variance" | "var_samp" | "var_pop" | "stddev" | "stddev_samp" | "stddev_pop" => {
            let f = match name {
                "variance" | "var_samp" => AggFunc::VarSamp,
                "var_pop" => AggFunc::VarPop,
                "stddev" | "stddev_samp" => AggFunc::StddevSamp,
                _ => AggFunc::StddevPop,
            };
            vec![
                sig(f, vec![Int2], num()),
                sig(f, vec![Int4], num()),
                sig(f, vec![Int8], num()),
                sig(f, vec![num()], num()),
                sig(f, vec![Float4], Float8),
                sig(f, vec![Float8], Float8),
            ]
        }
        _ => Vec::new(),
    }
}

/// Built JSON text as `json` (verbatim) or `jsonb` (parsed).
fn json_value(text: String, binary: bool) -> Result<Value> {
    Ok(if binary {
        Value::Jsonb(crate::types::json::parse_json(&text)?)
    } else {
        Value::Json(text)
    })
}

/// `acc + x` with both as scaled i128s (the larger scale kept, as
/// numeric addition keeps it), `None` when that leaves the i128 range.
fn scaled_add((m, d): (i128, u16), x: &Numeric) -> Option<(i128, u16)> {
    let xm = x.to_scaled()?;
    let scale = d.max(x.dscale);
    let up = |v: i128, by: u16| -> Option<i128> {
        if v == 0 || by == 0 {
            return Some(v);
        }
        v.checked_mul(10i128.checked_pow(u32::from(by))?)
    };
    let sum = up(m, scale - d)?.checked_add(up(xm, scale - x.dscale)?)?;
    Some((sum, scale))
}

fn bigint_out_of_range() -> Error {
    Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "bigint out of range")
}

/// The running state of one aggregate over one group.
#[derive(Debug, Clone)]
pub enum Accumulator {
    Count(i64),
    /// Sum of integers kept in i128 (exact for any count of int8 values
    /// that fits in memory), with the number of values seen.
    IntSum {
        sum: i128,
        n: i64,
    },
    /// Sum of numerics: `fast` holds the running sum as `m * 10^-scale`
    /// while it fits an i128 (no allocation per row); `sum` takes over
    /// exactly once it would not.
    NumericSum {
        sum: Numeric,
        n: i64,
        fast: Option<(i128, u16)>,
    },
    FloatSum {
        sum: f64,
        n: i64,
    },
    Extreme(Option<Value>),
    Bool(Option<bool>),
    Concat(Option<String>),
    ConcatBytes(Option<Vec<u8>>),
    /// `array_agg`'s values; `None` until the first row.
    Collect(Option<Vec<Value>>),
    /// `json_object_agg`'s (key, value) pairs; `None` until the first row.
    Pairs(Option<Vec<(Value, Value)>>),
    /// Count, sum and sum of squares, exact (variance of integers and numeric).
    Moments {
        n: i64,
        sum: Numeric,
        sum2: Numeric,
    },
    /// PostgreSQL's float8_accum: count, sum and the Youngs-Cramer sum of
    /// squared differences.
    FloatMoments {
        n: f64,
        sx: f64,
        sxx: f64,
    },
}

impl Accumulator {
    pub fn new(func: AggFunc, arg_type: &DataType) -> Accumulator {
        match func {
            AggFunc::CountStar | AggFunc::Count => Accumulator::Count(0),
            AggFunc::Sum | AggFunc::Avg => match arg_type {
                DataType::Int2 | DataType::Int4 | DataType::Int8 => {
                    Accumulator::IntSum { sum: 0, n: 0 }
                }
                DataType::Float4 | DataType::Float8 => Accumulator::FloatSum { sum: 0.0, n: 0 },
                _ => Accumulator::NumericSum {
                    sum: Numeric::zero(),
                    n: 0,
                    fast: Some((0, 0)),
                },
            },
            AggFunc::Min | AggFunc::Max => Accumulator::Extreme(None),
            AggFunc::BoolAnd | AggFunc::BoolOr => Accumulator::Bool(None),
            AggFunc::StringAgg if *arg_type == DataType::Bytea => Accumulator::ConcatBytes(None),
            AggFunc::StringAgg => Accumulator::Concat(None),
            AggFunc::ArrayAgg | AggFunc::JsonAgg { .. } => Accumulator::Collect(None),
            AggFunc::JsonObjectAgg { .. } => Accumulator::Pairs(None),
            AggFunc::VarSamp | AggFunc::VarPop | AggFunc::StddevSamp | AggFunc::StddevPop => {
                match arg_type {
                    DataType::Float4 | DataType::Float8 => Accumulator::FloatMoments {
                        n: 0.0,
                        sx: 0.0,
                        sxx: 0.0,
                    },
                    _ => Accumulator::Moments {
                        n: 0,
                        sum: Numeric::zero(),
                        sum2: Numeric::zero(),
                    },
                }
            }
        }
    }

    /// Adds one row's argument values (`args` empty for `count(*)`).
    pub fn update(&mut self, func: AggFunc, args: &[Value]) -> Result<()> {
        if func == AggFunc::CountStar {
            if let Accumulator::Count(n) = self {
                *n = n.checked_add(1).ok_or_else(bigint_out_of_range)?;
            }
            return Ok(());
        }
        let Some(v) = args.first() else {
            return Err(Error::internal("aggregate without an argument"));
        };
        // array_agg keeps NULLs (it is not strict), so do the JSON ones.
        if let Accumulator::Collect(items) = self {
            items.get_or_insert_with(Vec::new).push(v.clone());
            return Ok(());
        }
        if let Accumulator::Pairs(pairs) = self {
            if v.is_null() {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "field name must not be null",
                ));
            }
            let value = args.get(1).cloned().unwrap_or(Value::Null);
            pairs.get_or_insert_with(Vec::new).push((v.clone(), value));
            return Ok(());
        }
        if v.is_null() {
            return Ok(());
        }
        match self {
            Accumulator::Collect(_) | Accumulator::Pairs(_) => {}
            Accumulator::Count(n) => *n = n.checked_add(1).ok_or_else(bigint_out_of_range)?,
            Accumulator::IntSum { sum, n } => {
                let x = match v {
                    Value::Int2(i) => *i as i128,
                    Value::Int4(i) => *i as i128,
                    Value::Int8(i) => *i as i128,
                    other => return Err(Error::internal(format!("integer sum of {other:?}"))),
                };
                *sum = sum.checked_add(x).ok_or_else(bigint_out_of_range)?;
                *n += 1;
            }
            Accumulator::NumericSum { sum, n, fast } => {
                let Value::Numeric(x) = v else {
                    return Err(Error::internal(format!("numeric sum of {v:?}")));
                };
                *n += 1;
                if let Some(acc) = fast {
                    if let Some(next) = scaled_add(*acc, x) {
                        *acc = next;
                        return Ok(());
                    }
                    let (m, d) = *acc;
                    *sum = sum.add(&Numeric::from_scaled_exact(m, d)?)?;
                    *fast = None;
                }
                *sum = sum.add(x)?;
            }
            Accumulator::FloatSum { sum, n } => {
                let x = match v {
                    Value::Float4(f) => *f as f64,
                    Value::Float8(f) => *f,
                    other => return Err(Error::internal(format!("float sum of {other:?}"))),
                };
                *sum += x;
                *n += 1;
            }
            Accumulator::Extreme(best) => {
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let o = compare(v, b)?;
                        (func == AggFunc::Min && o == Ordering::Less)
                            || (func == AggFunc::Max && o == Ordering::Greater)
                    }
                };
                if replace {
                    *best = Some(v.clone());
                }
            }
            Accumulator::Bool(state) => {
                let Value::Bool(b) = v else {
                    return Err(Error::internal(format!("bool aggregate of {v:?}")));
                };
                *state = Some(match (func, *state) {
                    (AggFunc::BoolAnd, Some(s)) => s && *b,
                    (AggFunc::BoolOr, Some(s)) => s || *b,
                    (_, None) => *b,
                    (_, Some(s)) => s,
                });
            }
            Accumulator::ConcatBytes(state) => {
                let Value::Bytea(s) = v else {
                    return Err(Error::internal(format!("string_agg of {v:?}")));
                };
                match state {
                    None => *state = Some(s.clone()),
                    Some(acc) => {
                        if let Some(Value::Bytea(sep)) = args.get(1) {
                            acc.extend_from_slice(sep);
                        }
                        acc.extend_from_slice(s);
                    }
                }
            }
            Accumulator::Moments { n, sum, sum2 } => {
                let x = match v {
                    Value::Int2(i) => Numeric::from_i64(*i as i64),
                    Value::Int4(i) => Numeric::from_i64(*i as i64),
                    Value::Int8(i) => Numeric::from_i64(*i),
                    Value::Numeric(x) => x.clone(),
                    other => return Err(Error::internal(format!("variance of {other:?}"))),
                };
                *sum2 = sum2.add(&x.mul(&x)?)?;
                *sum = sum.add(&x)?;
                *n += 1;
            }
            Accumulator::FloatMoments { n, sx, sxx } => {
                let x = match v {
                    Value::Float4(f) => *f as f64,
                    Value::Float8(f) => *f,
                    other => return Err(Error::internal(format!("variance of {other:?}"))),
                };
                *n += 1.0;
                *sx += x;
                if *n > 1.0 {
                    let tmp = x * *n - *sx;
                    *sxx += tmp * tmp / (*n * (*n - 1.0));
                } else {
                    *sxx = 0.0;
                }
            }
            Accumulator::Concat(state) => {
                let Value::Text(s) = v else {
                    return Err(Error::internal(format!("string_agg of {v:?}")));
                };
                match state {
                    None => *state = Some(s.clone()),
                    Some(acc) => {
                        if let Some(Value::Text(sep)) = args.get(1) {
                            acc.push_str(sep);
                        }
                        acc.push_str(s);
                    }
                }
            }
        }
        Ok(())
    }

    /// The aggregate's result, of type `ret`.
    pub fn finish(self, func: AggFunc, ret: &DataType) -> Result<Value> {
        Ok(match self {
            Accumulator::Count(n) => Value::Int8(n),
            Accumulator::IntSum { n: 0, .. }
            | Accumulator::NumericSum { n: 0, .. }
            | Accumulator::FloatSum { n: 0, .. } => Value::Null,
            Accumulator::IntSum { sum, n } => {
                if func == AggFunc::Avg {
                    Value::Numeric(Numeric::from_i128(sum).div(&Numeric::from_i64(n))?)
                } else if *ret == DataType::Int8 {
                    Value::Int8(i64::try_from(sum).map_err(|_| bigint_out_of_range())?)
                } else {
                    Value::Numeric(Numeric::from_i128(sum))
                }
            }
            Accumulator::NumericSum { sum, n, fast } => {
                let sum = match fast {
                    Some((m, d)) => sum.add(&Numeric::from_scaled_exact(m, d)?)?,
                    None => sum,
                };
                if func == AggFunc::Avg {
                    Value::Numeric(sum.div(&Numeric::from_i64(n))?)
                } else {
                    Value::Numeric(sum)
                }
            }
            Accumulator::FloatSum { sum, n } => {
                if func == AggFunc::Avg {
                    Value::Float8(sum / n as f64)
                } else if *ret == DataType::Float4 {
                    Value::Float4(sum as f32)
                } else {
                    Value::Float8(sum)
                }
            }
            Accumulator::Extreme(v) => v.unwrap_or(Value::Null),
            Accumulator::Bool(b) => b.map(Value::Bool).unwrap_or(Value::Null),
            Accumulator::Concat(s) => s.map(Value::Text).unwrap_or(Value::Null),
            Accumulator::ConcatBytes(s) => s.map(Value::Bytea).unwrap_or(Value::Null),
            Accumulator::Collect(None) | Accumulator::Pairs(None) => Value::Null,
            Accumulator::Collect(Some(items)) => match func {
                AggFunc::JsonAgg { binary } => {
                    let mut out = String::from("[");
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        crate::types::json::push_value(&mut out, v);
                    }
                    out.push(']');
                    json_value(out, binary)?
                }
                _ => Value::Array(items),
            },
            Accumulator::Pairs(Some(pairs)) => {
                let binary = matches!(func, AggFunc::JsonObjectAgg { binary: true });
                let mut out = String::from("{ ");
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    crate::types::json::push_json_string(&mut out, &k.to_text());
                    out.push_str(" : ");
                    crate::types::json::push_value(&mut out, v);
                }
                out.push_str(" }");
                json_value(out, binary)?
            }
            Accumulator::Moments { n, sum, sum2 } => {
                let sample = matches!(func, AggFunc::VarSamp | AggFunc::StddevSamp);
                if n == 0 || (sample && n == 1) {
                    return Ok(Value::Null);
                }
                // numeric_stddev_internal: (N * sumX2 - sumX^2) / (N * (N - 1)) or / N^2.
                let vn = Numeric::from_i64(n);
                let numerator = vn.mul(&sum2)?.sub(&sum.mul(&sum)?)?;
                if numerator.cmp_total(&Numeric::zero()) != Ordering::Greater {
                    return Ok(Value::Numeric(Numeric::zero()));
                }
                let denominator = if sample {
                    vn.mul(&Numeric::from_i64(n - 1))?
                } else {
                    vn.mul(&vn)?
                };
                let variance = numerator.div(&denominator)?;
                if matches!(func, AggFunc::VarSamp | AggFunc::VarPop) {
                    Value::Numeric(variance)
                } else {
                    let scale = display_scale(&variance);
                    Value::Numeric(variance.sqrt()?.round(scale)?)
                }
            }
            Accumulator::FloatMoments { n, sxx, .. } => {
                let sample = matches!(func, AggFunc::VarSamp | AggFunc::StddevSamp);
                if n == 0.0 || (sample && n == 1.0) {
                    return Ok(Value::Null);
                }
                let variance = if sample { sxx / (n - 1.0) } else { sxx / n };
                if matches!(func, AggFunc::VarSamp | AggFunc::VarPop) {
                    Value::Float8(variance)
                } else {
                    Value::Float8(variance.sqrt())
                }
            }
        })
    }
}

/// The number of decimals a numeric shows.
fn display_scale(n: &Numeric) -> i32 {
    n.to_string()
        .split_once('.')
        .map(|(_, d)| d.len() as i32)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(func: AggFunc, ty: DataType, ret: DataType, values: &[Value]) -> Value {
        let mut acc = Accumulator::new(func, &ty);
        for v in values {
            acc.update(func, std::slice::from_ref(v)).unwrap();
        }
        acc.finish(func, &ret).unwrap()
    }

    #[test]
    fn sums_and_averages_have_postgres_types_and_scales() {
        let ints = [Value::Int4(1), Value::Int4(2), Value::Null];
        assert_eq!(
            run(AggFunc::Sum, DataType::Int4, DataType::Int8, &ints),
            Value::Int8(3)
        );
        assert_eq!(
            run(AggFunc::Avg, DataType::Int4, DataType::Numeric(None), &ints).to_text(),
            "1.5000000000000000"
        );
        let big = [Value::Int8(i64::MAX), Value::Int8(i64::MAX)];
        assert_eq!(
            run(AggFunc::Sum, DataType::Int8, DataType::Numeric(None), &big).to_text(),
            "18446744073709551614"
        );
        assert_eq!(
            run(AggFunc::Sum, DataType::Int4, DataType::Int8, &[]),
            Value::Null
        );
        assert_eq!(
            run(AggFunc::Count, DataType::Int4, DataType::Int8, &ints),
            Value::Int8(2)
        );
    }

    #[test]
    fn min_max_and_bool_aggregates_skip_nulls() {
        let vals = [Value::Int4(3), Value::Null, Value::Int4(1)];
        assert_eq!(
            run(AggFunc::Min, DataType::Int4, DataType::Int4, &vals),
            Value::Int4(1)
        );
        assert_eq!(
            run(AggFunc::Max, DataType::Int4, DataType::Int4, &vals),
            Value::Int4(3)
        );
        let bools = [Value::Bool(true), Value::Null, Value::Bool(false)];
        assert_eq!(
            run(AggFunc::BoolAnd, DataType::Bool, DataType::Bool, &bools),
            Value::Bool(false)
        );
        assert_eq!(
            run(AggFunc::BoolOr, DataType::Bool, DataType::Bool, &bools),
            Value::Bool(true)
        );
    }
}
