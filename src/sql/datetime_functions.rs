//! Date/time, uuid and json functions and operators: `now()`, `extract`,
//! `date_trunc`, `age`, `make_*`, `to_char`, `justify_*`, date/time
//! arithmetic (`date + int`, `timestamp - timestamp`, `interval * float8`,
//! …), `AT TIME ZONE`, `gen_random_uuid()`, `->`, `->>`, `#>`, `#>>`,
//! `json(b)_typeof`.
//!
//! Owns: these functions' signatures (reached from
//! [`super::functions::lookup`]) and their evaluation, and the mixed-type
//! arithmetic operators on datetime values (reached from
//! [`super::expr::binary`]).
//! Never: parses or prints values (that is [`crate::types::datetime`]).
//!
//! timestamptz arithmetic and fields are computed in the session time zone
//! ([`datetime::session_zone`]), as PostgreSQL computes them.

use crate::error::{Error, Result, SqlState};
use crate::types::datetime::{self, *};
use crate::types::{DataType, Interval, Jsonb, Numeric, Value};

use super::bind::Binder;
use super::expr::{BinOp, EvalContext, Expr};
use super::functions::{Func, Signature};

/// An integer bit operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
    Shl,
    Shr,
    Not,
}

/// Which date/time (or uuid / json / bit operator) built-in a bound call
/// runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtFunc {
    Now,
    ClockTimestamp,
    CurrentDate,
    LocalTimestamp,
    LocalTime,
    /// `extract(field FROM x)`: numeric.
    Extract,
    /// `date_part(field, x)`: double precision.
    DatePart,
    DateTrunc,
    Age,
    AgeNow,
    MakeDate,
    MakeTime,
    MakeTimestamp,
    MakeTimestamptz,
    ToChar,
    /// `to_char(number, format)` (`number_format.rs`).
    ToCharNumber,
    /// `to_number(text, format)`.
    ToNumber,
    ToTimestamp,
    JustifyDays,
    JustifyHours,
    JustifyInterval,
    IsFinite,
    /// `timezone(zone, x)`, i.e. `x AT TIME ZONE zone`.
    AtTimeZone,
    GenRandomUuid,
    /// The integer bit operators `&`, `|`, `#`, `<<`, `>>`, `~`.
    Bits(BitOp),
    JsonTypeof,
    /// `->` with a text key or an int index.
    JsonGet,
    /// `->>`.
    JsonGetText,
    /// `#>` with a path literal `{a,b}`.
    JsonPath,
    /// `#>>`.
    JsonPathText,
    /// `ARRAY[a, b, …]` (not strict: elements may be NULL).
    ArrayCtor,
    /// `a[i]`: NULL outside the bounds.
    ArraySubscript,
    /// `array_length(a, dim)` / `array_upper(a, dim)`.
    ArrayLength,
    /// `array_lower(a, dim)`.
    ArrayLower,
    /// `cardinality(a)`.
    Cardinality,
    /// `generate_subscripts(a, dim [, reverse])` as an int array (the set
    /// function unnests it).
    Subscripts,
    /// `information_schema._pg_expandarray(a)` as an array of (x, n)
    /// records (the set function unnests it).
    ExpandArray,
    /// `x op ANY/ALL (array)`.
    ArrayAny {
        op: BinOp,
        all: bool,
    },
}

/// Whether `f` returns NULL for any NULL argument without running.
pub fn is_strict(f: DtFunc) -> bool {
    !matches!(f, DtFunc::ArrayCtor | DtFunc::ArrayAny { .. })
}

/// The overloads of a date/time built-in named `name`.
pub fn lookup(name: &str) -> Vec<Signature> {
    use DataType::*;
    let sig = |args: Vec<DataType>, ret: DataType, f: DtFunc| Signature {
        args,
        ret,
        func: Func::DateTime(f),
    };
    match name {
        "now" | "current_timestamp" | "transaction_timestamp" | "statement_timestamp" => {
            vec![sig(vec![], Timestamptz, DtFunc::Now)]
        }
        "clock_timestamp" => vec![sig(vec![], Timestamptz, DtFunc::ClockTimestamp)],
        "current_date" => vec![sig(vec![], Date, DtFunc::CurrentDate)],
        "localtimestamp" => vec![sig(vec![], Timestamp, DtFunc::LocalTimestamp)],
        "localtime" => vec![sig(vec![], Time, DtFunc::LocalTime)],
        "extract" => [Date, Time, Timestamp, Timestamptz, Interval]
            .into_iter()
            .map(|t| sig(vec![Text, t], Numeric(None), DtFunc::Extract))
            .collect(),
        "date_part" => [Timestamp, Timestamptz, Interval, Time]
            .into_iter()
            .map(|t| sig(vec![Text, t], Float8, DtFunc::DatePart))
            .chain([sig(vec![Text, Date], Float8, DtFunc::DatePart)])
            .collect(),
        "date_trunc" => vec![
            sig(vec![Text, Timestamp], Timestamp, DtFunc::DateTrunc),
            sig(vec![Text, Timestamptz], Timestamptz, DtFunc::DateTrunc),
            sig(vec![Text, Interval], Interval, DtFunc::DateTrunc),
        ],
        "age" => vec![
            sig(vec![Timestamp, Timestamp], Interval, DtFunc::Age),
            sig(vec![Timestamptz, Timestamptz], Interval, DtFunc::Age),
            sig(vec![Timestamp], Interval, DtFunc::AgeNow),
            sig(vec![Timestamptz], Interval, DtFunc::AgeNow),
        ],
        "make_date" => vec![sig(vec![Int4, Int4, Int4], Date, DtFunc::MakeDate)],
        "make_time" => vec![sig(vec![Int4, Int4, Float8], Time, DtFunc::MakeTime)],
        "make_timestamp" => vec![sig(
            vec![Int4, Int4, Int4, Int4, Int4, Float8],
            Timestamp,
            DtFunc::MakeTimestamp,
        )],
        "make_timestamptz" => vec![sig(
            vec![Int4, Int4, Int4, Int4, Int4, Float8],
            Timestamptz,
            DtFunc::MakeTimestamptz,
        )],
        "to_char" => vec![
            sig(vec![Timestamp, Text], Text, DtFunc::ToChar),
            sig(vec![Timestamptz, Text], Text, DtFunc::ToChar),
            sig(vec![Interval, Text], Text, DtFunc::ToChar),
            sig(vec![Int4, Text], Text, DtFunc::ToCharNumber),
            sig(vec![Int8, Text], Text, DtFunc::ToCharNumber),
            sig(vec![Float4, Text], Text, DtFunc::ToCharNumber),
            sig(vec![Float8, Text], Text, DtFunc::ToCharNumber),
            sig(vec![Numeric(None), Text], Text, DtFunc::ToCharNumber),
        ],
        "to_number" => vec![sig(vec![Text, Text], Numeric(None), DtFunc::ToNumber)],
        "to_timestamp" => vec![sig(vec![Float8], Timestamptz, DtFunc::ToTimestamp)],
        "justify_days" => vec![sig(vec![Interval], Interval, DtFunc::JustifyDays)],
        "justify_hours" => vec![sig(vec![Interval], Interval, DtFunc::JustifyHours)],
        "justify_interval" => vec![sig(vec![Interval], Interval, DtFunc::JustifyInterval)],
        "isfinite" => vec![
            sig(vec![Date], Bool, DtFunc::IsFinite),
            sig(vec![Timestamp], Bool, DtFunc::IsFinite),
            sig(vec![Timestamptz], Bool, DtFunc::IsFinite),
            sig(vec![Interval], Bool, DtFunc::IsFinite),
        ],
        "timezone" => vec![
            sig(vec![Text, Timestamptz], Timestamp, DtFunc::AtTimeZone),
            sig(vec![Text, Timestamp], Timestamptz, DtFunc::AtTimeZone),
        ],
        "gen_random_uuid" => vec![sig(vec![], Uuid, DtFunc::GenRandomUuid)],
        "&" | "|" | "#" => {
            let op = match name {
                "&" => BitOp::And,
                "|" => BitOp::Or,
                _ => BitOp::Xor,
            };
            [Int2, Int4, Int8]
                .into_iter()
                .map(|t| sig(vec![t.clone(), t.clone()], t, DtFunc::Bits(op)))
                .collect()
        }
        "<<" | ">>" => {
            let op = if name == "<<" { BitOp::Shl } else { BitOp::Shr };
            [Int2, Int4, Int8]
                .into_iter()
                .map(|t| sig(vec![t.clone(), Int4], t, DtFunc::Bits(op)))
                .collect()
        }
        "~" => [Int2, Int4, Int8]
            .into_iter()
            .map(|t| sig(vec![t.clone()], t, DtFunc::Bits(BitOp::Not)))
            .collect(),
        "jsonb_typeof" => vec![sig(vec![Jsonb], Text, DtFunc::JsonTypeof)],
        "json_typeof" => vec![sig(vec![Json], Text, DtFunc::JsonTypeof)],
        "->" => vec![
            sig(vec![Jsonb, Text], Jsonb, DtFunc::JsonGet),
            sig(vec![Jsonb, Int4], Jsonb, DtFunc::JsonGet),
            sig(vec![Json, Text], Json, DtFunc::JsonGet),
            sig(vec![Json, Int4], Json, DtFunc::JsonGet),
        ],
        "->>" => vec![
            sig(vec![Jsonb, Text], Text, DtFunc::JsonGetText),
            sig(vec![Jsonb, Int4], Text, DtFunc::JsonGetText),
            sig(vec![Json, Text], Text, DtFunc::JsonGetText),
            sig(vec![Json, Int4], Text, DtFunc::JsonGetText),
        ],
        "#>" => vec![
            sig(vec![Jsonb, Text], Jsonb, DtFunc::JsonPath),
            sig(vec![Json, Text], Json, DtFunc::JsonPath),
        ],
        "#>>" => vec![
            sig(vec![Jsonb, Text], Text, DtFunc::JsonPathText),
            sig(vec![Json, Text], Text, DtFunc::JsonPathText),
        ],
        _ => Vec::new(),
    }
}

fn internal(what: &str, v: &Value) -> Error {
    Error::internal(format!("{what}: unexpected argument {v:?}"))
}

fn text_of(v: &Value) -> Result<&str> {
    match v {
        Value::Text(s) => Ok(s),
        other => Err(internal("expected text", other)),
    }
}

fn int_of(v: &Value) -> Result<i64> {
    match v {
        Value::Int2(i) => Ok(*i as i64),
        Value::Int4(i) => Ok(*i as i64),
        Value::Int8(i) => Ok(*i),
        other => Err(internal("expected an integer", other)),
    }
}

fn float_of(v: &Value) -> Result<f64> {
    match v {
        Value::Float8(f) => Ok(*f),
        Value::Float4(f) => Ok(*f as f64),
        other => Err(internal("expected float8", other)),
    }
}

fn ts_overflow() -> Error {
    datetime_overflow("timestamp")
}

fn date_overflow() -> Error {
    datetime_overflow("date")
}

/// Runs a date/time built-in on non-NULL arguments.
pub fn call(
    f: DtFunc,
    args: Vec<Value>,
    types: &[DataType],
    ret: &DataType,
    _ctx: &EvalContext<'_>,
) -> Result<Value> {
    let a = |i: usize| {
        args.get(i)
            .ok_or_else(|| Error::internal("missing argument"))
    };
    let zone = datetime::session_zone();
    Ok(match f {
        DtFunc::ArrayCtor => Value::Array(args.clone()),
        DtFunc::ArraySubscript => match (a(0)?, a(1)?) {
            (Value::Array(items), i) => {
                let i = int_of(i)?;
                if i >= 1 {
                    items.get((i - 1) as usize).cloned().unwrap_or(Value::Null)
                } else {
                    Value::Null
                }
            }
            (x, _) => return Err(internal("subscript", x)),
        },
        DtFunc::ArrayLength | DtFunc::ArrayLower => match (a(0)?, a(1)?) {
            (Value::Array(items), d) => {
                if int_of(d)? != 1 || items.is_empty() {
                    Value::Null
                } else if f == DtFunc::ArrayLower {
                    Value::Int4(1)
                } else {
                    Value::Int4(i32::try_from(items.len()).unwrap_or(i32::MAX))
                }
            }
            (x, _) => return Err(internal("array_length", x)),
        },
        DtFunc::Subscripts => match (a(0)?, a(1)?) {
            (Value::Array(items), d) => {
                let n = i32::try_from(items.len()).unwrap_or(i32::MAX);
                let mut subs: Vec<Value> = if int_of(d)? == 1 {
                    (1..=n).map(Value::Int4).collect()
                } else {
                    Vec::new()
                };
                if matches!(args.get(2), Some(Value::Bool(true))) {
                    subs.reverse();
                }
                Value::Array(subs)
            }
            (x, _) => return Err(internal("generate_subscripts", x)),
        },
        DtFunc::ExpandArray => match a(0)? {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .zip(1..)
                    .map(|(x, n)| Value::Array(vec![x.clone(), Value::Int4(n)]))
                    .collect(),
            ),
            x => return Err(internal("_pg_expandarray", x)),
        },
        DtFunc::Cardinality => match a(0)? {
            Value::Array(items) => Value::Int4(i32::try_from(items.len()).unwrap_or(i32::MAX)),
            x => return Err(internal("cardinality", x)),
        },
        DtFunc::ArrayAny { op, all } => {
            let (x, arr) = (a(0)?, a(1)?);
            let Value::Array(items) = arr else {
                return Ok(Value::Null);
            };
            let ty = types.first().cloned().unwrap_or(DataType::Unknown);
            let mut saw_null = false;
            for item in items {
                if x.is_null() || item.is_null() {
                    saw_null = true;
                    continue;
                }
                let hit = super::expr::binary(op, x, item, &ty)? == Value::Bool(true);
                if hit != all {
                    return Ok(Value::Bool(hit));
                }
            }
            if saw_null {
                Value::Null
            } else {
                Value::Bool(all)
            }
        }
        DtFunc::Now => Value::Timestamptz(statement_now()),
        DtFunc::ClockTimestamp => Value::Timestamptz(clock_now()),
        DtFunc::CurrentDate => {
            Value::Date(timestamp_to_date(zone.utc_to_local(statement_now()).0)?)
        }
        DtFunc::LocalTimestamp => Value::Timestamp(zone.utc_to_local(statement_now()).0),
        DtFunc::LocalTime => Value::Time(
            zone.utc_to_local(statement_now())
                .0
                .rem_euclid(USECS_PER_DAY),
        ),
        DtFunc::Extract | DtFunc::DatePart => {
            let field = text_of(a(0)?)?.to_ascii_lowercase();
            let ty = types.get(1).cloned().unwrap_or(DataType::Unknown);
            let r = extract(&field, a(1)?, &ty, &zone)?;
            match (f, r) {
                (_, None) => Value::Null,
                (DtFunc::Extract, Some(x)) => Value::Numeric(x.to_numeric()?),
                (_, Some(x)) => Value::Float8(x.to_f64()),
            }
        }
        DtFunc::DateTrunc => {
            let field = text_of(a(0)?)?.to_ascii_lowercase();
            date_trunc(&field, a(1)?, &zone)?
        }
        DtFunc::Age => match (a(0)?, a(1)?) {
            (Value::Timestamp(x), Value::Timestamp(y)) => Value::Interval(age(*x, *y)?),
            (Value::Timestamptz(x), Value::Timestamptz(y)) => {
                Value::Interval(age(zone.utc_to_local(*x).0, zone.utc_to_local(*y).0)?)
            }
            (x, _) => return Err(internal("age", x)),
        },
        DtFunc::AgeNow => {
            // age(x) is age(current_date at midnight, x).
            let (local_now, _) = zone.utc_to_local(statement_now());
            let midnight = local_now.div_euclid(USECS_PER_DAY) * USECS_PER_DAY;
            match a(0)? {
                Value::Timestamp(x) => Value::Interval(age(midnight, *x)?),
                Value::Timestamptz(x) => Value::Interval(age(midnight, zone.utc_to_local(*x).0)?),
                x => return Err(internal("age", x)),
            }
        }
        DtFunc::MakeDate => {
            let (y, m, d) = (int_of(a(0)?)?, int_of(a(1)?)?, int_of(a(2)?)?);
            Value::Date(make_date(y, m, d)?)
        }
        DtFunc::MakeTime => {
            let t = make_time(int_of(a(0)?)?, int_of(a(1)?)?, float_of(a(2)?)?)?;
            Value::Time(t)
        }
        DtFunc::MakeTimestamp | DtFunc::MakeTimestamptz => {
            let (y, m, d) = (int_of(a(0)?)?, int_of(a(1)?)?, int_of(a(2)?)?);
            let t = make_time(int_of(a(3)?)?, int_of(a(4)?)?, float_of(a(5)?)?)?;
            let date = make_date(y, m, d)?;
            let ts = (date as i64)
                .checked_mul(USECS_PER_DAY)
                .and_then(|x| x.checked_add(t))
                .filter(|x| ts_in_range(*x))
                .ok_or_else(|| {
                    Error::new(
                        SqlState::DATETIME_FIELD_OVERFLOW,
                        format!(
                            "timestamp out of range: {y}-{m:02}-{d:02} {}",
                            time_to_text(t)
                        ),
                    )
                })?;
            if f == DtFunc::MakeTimestamp {
                Value::Timestamp(ts)
            } else {
                Value::Timestamptz(zone.local_to_utc(ts)?)
            }
        }
        DtFunc::ToCharNumber => {
            let fmt = text_of(a(1)?)?;
            let n = match a(0)? {
                Value::Int2(i) => Numeric::from_i64(i64::from(*i)),
                Value::Int4(i) => Numeric::from_i64(i64::from(*i)),
                Value::Int8(i) => Numeric::from_i64(*i),
                Value::Float4(f) => Numeric::from_f64(f64::from(*f))?,
                Value::Float8(f) => Numeric::from_f64(*f)?,
                Value::Numeric(n) => n.clone(),
                x => return Err(internal("to_char", x)),
            };
            Value::Text(super::number_format::to_char(&n, fmt)?)
        }
        DtFunc::ToNumber => Value::Numeric(super::number_format::to_number(
            text_of(a(0)?)?,
            text_of(a(1)?)?,
        )?),
        DtFunc::ToChar => {
            let fmt = text_of(a(1)?)?;
            match a(0)? {
                Value::Timestamp(t) => match to_char_fields(*t, None) {
                    Some(fields) => Value::Text(to_char(&fields, fmt)),
                    None => Value::Null,
                },
                Value::Timestamptz(t) => {
                    let (local, off) = zone.utc_to_local(*t);
                    let abbr = zone.offset_at_utc(*t).1;
                    match to_char_fields(local, Some((off, abbr))) {
                        Some(fields) => Value::Text(to_char(&fields, fmt)),
                        None => Value::Null,
                    }
                }
                Value::Interval(iv) => Value::Text(to_char(&interval_char_fields(iv), fmt)),
                x => return Err(internal("to_char", x)),
            }
        }
        DtFunc::ToTimestamp => {
            let secs = float_of(a(0)?)?;
            if secs.is_nan() {
                return Err(Error::new(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "timestamp cannot be NaN",
                ));
            }
            if secs == f64::INFINITY {
                Value::Timestamptz(TS_NOEND)
            } else if secs == f64::NEG_INFINITY {
                Value::Timestamptz(TS_NOBEGIN)
            } else {
                let pg = (secs - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY) as f64)
                    * 1e6;
                let pg = pg.round_ties_even();
                if !(MIN_TIMESTAMP as f64..END_TIMESTAMP as f64).contains(&pg) {
                    return Err(Error::new(
                        SqlState::DATETIME_FIELD_OVERFLOW,
                        format!(
                            "timestamp out of range: \"{}\"",
                            crate::types::text::float8_to_text(secs)
                        ),
                    ));
                }
                Value::Timestamptz(pg as i64)
            }
        }
        DtFunc::JustifyDays => Value::Interval(justify_days(interval_of(a(0)?)?)?),
        DtFunc::JustifyHours => Value::Interval(justify_hours(interval_of(a(0)?)?)?),
        DtFunc::JustifyInterval => Value::Interval(justify_interval(interval_of(a(0)?)?)?),
        DtFunc::IsFinite => Value::Bool(match a(0)? {
            Value::Date(d) => is_finite_date(*d),
            Value::Timestamp(t) | Value::Timestamptz(t) => is_finite_ts(*t),
            Value::Interval(_) => true,
            x => return Err(internal("isfinite", x)),
        }),
        DtFunc::AtTimeZone => {
            let z = Zone::lookup(text_of(a(0)?)?)?;
            match a(1)? {
                Value::Timestamptz(t) => Value::Timestamp(z.utc_to_local(*t).0),
                Value::Timestamp(t) => Value::Timestamptz(z.local_to_utc(*t)?),
                x => return Err(internal("timezone", x)),
            }
        }
        DtFunc::GenRandomUuid => Value::Uuid(crate::types::uuid::random_uuid()),
        DtFunc::Bits(op) => {
            let x = int_of(a(0)?)?;
            let y = match op {
                BitOp::Not => 0,
                _ => int_of(a(1)?)?,
            };
            // Shifts work in the operand's width, as PostgreSQL's C
            // shifts do on x86-64 (the count taken modulo the width).
            // int2 shifts as int4 (C promotes it) and is narrowed after.
            let bits: u32 = if matches!(ret, DataType::Int8) {
                64
            } else {
                32
            };
            let shift = |v: i64, left: bool| -> i64 {
                let n = (y as u32) % bits;
                match bits {
                    32 => {
                        let v = v as i32;
                        i64::from(if left {
                            v.wrapping_shl(n)
                        } else {
                            v.wrapping_shr(n)
                        })
                    }
                    _ => {
                        if left {
                            v.wrapping_shl(n)
                        } else {
                            v.wrapping_shr(n)
                        }
                    }
                }
            };
            let v = match op {
                BitOp::And => x & y,
                BitOp::Or => x | y,
                BitOp::Xor => x ^ y,
                BitOp::Not => !x,
                BitOp::Shl => shift(x, true),
                BitOp::Shr => shift(x, false),
            };
            match ret {
                DataType::Int2 => Value::Int2(v as i16),
                DataType::Int4 => Value::Int4(v as i32),
                _ => Value::Int8(v),
            }
        }
        DtFunc::JsonTypeof => Value::Text(json_of(a(0)?)?.type_name().to_string()),
        DtFunc::JsonGet | DtFunc::JsonGetText | DtFunc::JsonPath | DtFunc::JsonPathText
            if matches!(a(0)?, Value::Json(_)) =>
        {
            // json keeps its text: the member comes back as written.
            let Value::Json(text) = a(0)? else {
                return Err(Error::internal("json lookup"));
            };
            let path;
            let steps: Vec<crate::types::json::Step<'_>> = match (f, a(1)?) {
                (DtFunc::JsonGet | DtFunc::JsonGetText, Value::Text(k)) => {
                    vec![crate::types::json::Step::Key(k)]
                }
                (DtFunc::JsonGet | DtFunc::JsonGetText, i) => {
                    vec![crate::types::json::Step::Index(int_of(i)?)]
                }
                (_, p) => {
                    path = parse_text_array(text_of(p)?)?;
                    path.iter()
                        .map(|s| crate::types::json::Step::Either(s))
                        .collect()
                }
            };
            let as_text = matches!(f, DtFunc::JsonGetText | DtFunc::JsonPathText);
            match crate::types::json::json_raw_lookup(text, &steps)? {
                None => Value::Null,
                Some(raw) if as_text => match crate::types::json::parse_json(&raw)? {
                    Jsonb::Null => Value::Null,
                    Jsonb::String(s) => Value::Text(s),
                    _ => Value::Text(raw),
                },
                Some(raw) => Value::Json(raw),
            }
        }
        DtFunc::JsonGet | DtFunc::JsonGetText | DtFunc::JsonPath | DtFunc::JsonPathText => {
            let doc = json_of(a(0)?)?;
            let found = match (f, a(1)?) {
                (DtFunc::JsonGet | DtFunc::JsonGetText, Value::Text(k)) => doc.get_key(k),
                (DtFunc::JsonGet | DtFunc::JsonGetText, i) => doc.get_index(int_of(i)?),
                (_, p) => doc.get_path(&parse_text_array(text_of(p)?)?),
            };
            let as_text = matches!(f, DtFunc::JsonGetText | DtFunc::JsonPathText);
            match found {
                None => Value::Null,
                Some(v) if as_text => match v.as_text() {
                    Some(s) => Value::Text(s),
                    None => Value::Null,
                },
                Some(v) => match ret {
                    DataType::Json => Value::Json(v.to_text()),
                    _ => Value::Jsonb(v.clone()),
                },
            }
        }
    })
}

fn interval_of(v: &Value) -> Result<&Interval> {
    match v {
        Value::Interval(iv) => Ok(iv),
        other => Err(internal("expected interval", other)),
    }
}

fn json_of(v: &Value) -> Result<std::borrow::Cow<'_, Jsonb>> {
    match v {
        Value::Jsonb(j) => Ok(std::borrow::Cow::Borrowed(j)),
        Value::Json(s) => Ok(std::borrow::Cow::Owned(crate::types::json::parse_json(s)?)),
        other => Err(internal("expected json", other)),
    }
}

/// Reads a one-dimensional text array literal `{a,b,"c d"}` (for `#>`).
pub fn parse_text_array(s: &str) -> Result<Vec<String>> {
    let bad = || {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("malformed array literal: \"{s}\""),
        )
    };
    let t = s.trim();
    let inner = t
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Ok(out);
    }
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => cur.push(chars.next().ok_or_else(bad)?),
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            '{' | '}' if !quoted => return Err(bad()),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(bad());
    }
    out.push(cur.trim().to_string());
    Ok(out)
}

fn make_date(y: i64, m: i64, d: i64) -> Result<i32> {
    let overflow = || {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 {
        return Err(overflow());
    }
    // Negative years are BC.
    let year = if y < 0 { y + 1 } else { y };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(year, m) {
        return Err(overflow());
    }
    date_from_ymd(year, m, d).ok_or_else(|| {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date out of range: {y}-{m:02}-{d:02}"),
        )
    })
}

fn make_time(h: i64, m: i64, s: f64) -> Result<i64> {
    let micros = (s * 1e6).round_ties_even();
    if !(0..=24).contains(&h)
        || !(0..=59).contains(&m)
        || !(0.0..=60e6).contains(&micros)
        || (h == 24 && (m > 0 || micros > 0.0))
    {
        return Err(Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!(
                "time field value out of range: {h}:{m:02}:{}",
                crate::types::text::float8_to_text(s)
            ),
        ));
    }
    Ok((h * 60 + m) * USECS_PER_MINUTE + micros as i64)
}

// ---------------------------------------------------------------------------
// Arrays: binding helpers (called from the binder).

fn func(f: DtFunc, args: Vec<Expr>, ty: DataType) -> Expr {
    Expr::Func {
        func: Func::DateTime(f),
        args,
        ty,
    }
}

/// `ARRAY[e1, e2, …]`: the elements' common type, each coerced to it.
pub fn bind_array(b: &mut Binder, elems: Vec<Expr>) -> Result<Expr> {
    if elems.is_empty() {
        return Err(Error::new(
            SqlState::INDETERMINATE_DATATYPE,
            "cannot determine type of empty array",
        )
        .with_hint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."));
    }
    let types: Vec<DataType> = elems.iter().map(|e| e.ty()).collect();
    if types.iter().any(|t| matches!(t, DataType::Array(_))) {
        return Err(Error::unsupported("multidimensional arrays"));
    }
    let ty = super::coerce::common_type(&types, "ARRAY")?;
    let mut out = Vec::with_capacity(elems.len());
    for e in elems {
        out.push(b.coerce(e, &ty)?);
    }
    Ok(func(DtFunc::ArrayCtor, out, DataType::Array(Box::new(ty))))
}

/// `a[i]`.
pub fn bind_subscript(b: &mut Binder, arr: Expr, index: Expr) -> Result<Expr> {
    let DataType::Array(elem) = arr.ty() else {
        return Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "cannot subscript type {} because it does not support subscripting",
                arr.ty().name()
            ),
        ));
    };
    let index = match index.ty() {
        DataType::Int2 | DataType::Int4 | DataType::Unknown => b.coerce(index, &DataType::Int4)?,
        DataType::Int8 | DataType::Numeric(_) | DataType::Float4 | DataType::Float8 => Expr::Cast {
            expr: Box::new(index),
            to: DataType::Int4,
        },
        other => {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "array subscript must have type integer, not {}",
                    other.name()
                ),
            ));
        }
    };
    Ok(func(DtFunc::ArraySubscript, vec![arr, index], *elem))
}

/// Field `name` of record `x`: 42703 when it has none.
pub fn record_field(x: Expr, name: &str) -> Result<Expr> {
    let DataType::Record(fields) = x.ty() else {
        return Err(Error::unsupported("field access on a non-composite value"));
    };
    let Some(i) = fields.iter().position(|(n, _)| n == name) else {
        return Err(Error::new(
            SqlState::UNDEFINED_COLUMN,
            format!("could not identify column \"{name}\" in record data type"),
        ));
    };
    let ty = fields[i].1.clone();
    let index = Expr::Const {
        value: Value::Int4(i as i32 + 1),
        ty: DataType::Int4,
    };
    Ok(func(DtFunc::ArraySubscript, vec![x, index], ty))
}

/// `array_length` / `array_upper` / `array_lower` / `cardinality` on an
/// array argument; `None` when `name` is not one of them.
pub fn bind_array_function(b: &mut Binder, name: &str, args: &[Expr]) -> Option<Result<Expr>> {
    let f = match (name, args.len()) {
        ("array_length" | "array_upper", 2) => DtFunc::ArrayLength,
        ("array_lower", 2) => DtFunc::ArrayLower,
        ("cardinality", 1) => DtFunc::Cardinality,
        ("generate_subscripts[]", 2 | 3) => DtFunc::Subscripts,
        ("_pg_expandarray[]", 1) => DtFunc::ExpandArray,
        _ => return None,
    };
    if !matches!(args.first().map(|a| a.ty()), Some(DataType::Array(_))) {
        return None;
    }
    let mut out = vec![args[0].clone()];
    for (a, ty) in args[1..].iter().zip([DataType::Int4, DataType::Bool]) {
        match b.coerce(a.clone(), &ty) {
            Ok(x) => out.push(x),
            Err(e) => return Some(Err(e)),
        }
    }
    let ret = match f {
        DtFunc::Subscripts => DataType::Array(Box::new(DataType::Int4)),
        DtFunc::ExpandArray => {
            let elem = args[0].ty().devector_element();
            DataType::Array(Box::new(DataType::Record(vec![
                ("x".into(), elem),
                ("n".into(), DataType::Int4),
            ])))
        }
        _ => DataType::Int4,
    };
    Some(Ok(func(f, out, ret)))
}

/// `x op ANY/ALL (array)`: the operator resolved as `x op element`.
pub fn bind_array_any(b: &mut Binder, op: BinOp, all: bool, x: Expr, arr: Expr) -> Result<Expr> {
    let arr = if arr.ty() == DataType::Unknown {
        let elem = match x.ty() {
            DataType::Unknown => DataType::Text,
            t => t,
        };
        b.coerce(arr, &DataType::Array(Box::new(elem)))?
    } else {
        arr
    };
    let DataType::Array(elem) = arr.ty() else {
        return Err(Error::new(
            SqlState("42809"),
            "op ANY/ALL (array) requires array on right side",
        ));
    };
    let probe = Expr::Const {
        value: Value::Null,
        ty: (*elem).clone(),
    };
    let (left, eval) = match b.binary(op, x, probe)? {
        Expr::Binary { left, right, .. } => (*left, right.ty()),
        other => return Err(Error::internal(format!("{op:?} bound to {other:?}"))),
    };
    let arr = if eval == *elem {
        arr
    } else {
        Expr::Cast {
            expr: Box::new(arr),
            to: DataType::Array(Box::new(eval)),
        }
    };
    Ok(func(
        DtFunc::ArrayAny { op, all },
        vec![left, arr],
        DataType::Bool,
    ))
}

// ---------------------------------------------------------------------------
// Operators.

/// Date/time (and mixed-type) arithmetic on non-NULL operands.
pub fn binary(op: BinOp, l: &Value, r: &Value) -> Result<Value> {
    use Value as V;
    let zone = || datetime::session_zone();
    Ok(match (op, l, r) {
        (BinOp::Add, V::Date(d), V::Int4(n)) | (BinOp::Add, V::Int4(n), V::Date(d)) => {
            V::Date(date_plus_days(*d, *n as i64)?)
        }
        (BinOp::Sub, V::Date(d), V::Int4(n)) => V::Date(date_plus_days(*d, -(*n as i64))?),
        (BinOp::Sub, V::Date(a), V::Date(b)) => {
            if !is_finite_date(*a) || !is_finite_date(*b) {
                return Err(Error::new(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "cannot subtract infinite dates",
                ));
            }
            V::Int4(i32::try_from(*a as i64 - *b as i64).map_err(|_| {
                Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")
            })?)
        }
        (BinOp::Add, V::Date(d), V::Interval(iv)) | (BinOp::Add, V::Interval(iv), V::Date(d)) => {
            V::Timestamp(timestamp_plus_interval(date_to_timestamp(*d)?, iv)?)
        }
        (BinOp::Sub, V::Date(d), V::Interval(iv)) => V::Timestamp(timestamp_plus_interval(
            date_to_timestamp(*d)?,
            &interval_neg(iv)?,
        )?),
        (BinOp::Add, V::Date(d), V::Time(t)) | (BinOp::Add, V::Time(t), V::Date(d)) => {
            let ts = date_to_timestamp(*d)?;
            if !is_finite_ts(ts) {
                V::Timestamp(ts)
            } else {
                V::Timestamp(
                    ts.checked_add(*t)
                        .filter(|x| ts_in_range(*x))
                        .ok_or_else(ts_overflow)?,
                )
            }
        }
        (BinOp::Add, V::Timestamp(t), V::Interval(iv))
        | (BinOp::Add, V::Interval(iv), V::Timestamp(t)) => {
            V::Timestamp(timestamp_plus_interval(*t, iv)?)
        }
        (BinOp::Sub, V::Timestamp(t), V::Interval(iv)) => {
            V::Timestamp(timestamp_plus_interval(*t, &interval_neg(iv)?)?)
        }
        (BinOp::Add, V::Timestamptz(t), V::Interval(iv))
        | (BinOp::Add, V::Interval(iv), V::Timestamptz(t)) => {
            V::Timestamptz(timestamptz_plus_interval(*t, iv, &zone())?)
        }
        (BinOp::Sub, V::Timestamptz(t), V::Interval(iv)) => {
            V::Timestamptz(timestamptz_plus_interval(*t, &interval_neg(iv)?, &zone())?)
        }
        (BinOp::Sub, V::Timestamp(a), V::Timestamp(b))
        | (BinOp::Sub, V::Timestamptz(a), V::Timestamptz(b)) => {
            V::Interval(timestamp_diff(*a, *b)?)
        }
        (BinOp::Add, V::Time(t), V::Interval(iv)) | (BinOp::Add, V::Interval(iv), V::Time(t)) => {
            V::Time((t + iv.micros % USECS_PER_DAY).rem_euclid(USECS_PER_DAY))
        }
        (BinOp::Sub, V::Time(t), V::Interval(iv)) => {
            V::Time((t - iv.micros % USECS_PER_DAY).rem_euclid(USECS_PER_DAY))
        }
        (BinOp::Sub, V::Time(a), V::Time(b)) => V::Interval(Interval::new(0, 0, a - b)),
        (BinOp::Add, V::Interval(a), V::Interval(b)) => V::Interval(interval_add(a, b)?),
        (BinOp::Sub, V::Interval(a), V::Interval(b)) => V::Interval(interval_sub(a, b)?),
        (BinOp::Mul, V::Interval(iv), V::Float8(f))
        | (BinOp::Mul, V::Float8(f), V::Interval(iv)) => V::Interval(interval_mul(iv, *f)?),
        (BinOp::Div, V::Interval(iv), V::Float8(f)) => V::Interval(interval_div(iv, *f)?),
        _ => return Err(Error::internal(format!("no {op:?} for {l:?} and {r:?}"))),
    })
}

fn date_plus_days(d: i32, n: i64) -> Result<i32> {
    if !is_finite_date(d) {
        return Ok(d);
    }
    let r = d as i64 + n;
    if !julian_in_date_range(r + POSTGRES_EPOCH_JDATE) {
        return Err(date_overflow());
    }
    Ok(r as i32)
}

/// The mixed-type operator signatures: (left, right, result).
pub fn operator_signatures(op: BinOp) -> Vec<(DataType, DataType, DataType)> {
    use DataType::*;
    match op {
        BinOp::Add => vec![
            (Date, Int4, Date),
            (Int4, Date, Date),
            (Date, Interval, Timestamp),
            (Interval, Date, Timestamp),
            (Date, Time, Timestamp),
            (Time, Date, Timestamp),
            (Timestamp, Interval, Timestamp),
            (Interval, Timestamp, Timestamp),
            (Timestamptz, Interval, Timestamptz),
            (Interval, Timestamptz, Timestamptz),
            (Time, Interval, Time),
            (Interval, Time, Time),
            (Interval, Interval, Interval),
        ],
        BinOp::Sub => vec![
            (Date, Date, Int4),
            (Date, Int4, Date),
            (Date, Interval, Timestamp),
            (Timestamp, Timestamp, Interval),
            (Timestamptz, Timestamptz, Interval),
            (Timestamp, Interval, Timestamp),
            (Timestamptz, Interval, Timestamptz),
            (Time, Time, Interval),
            (Time, Interval, Time),
            (Interval, Interval, Interval),
        ],
        BinOp::Mul => vec![(Interval, Float8, Interval), (Float8, Interval, Interval)],
        BinOp::Div => vec![(Interval, Float8, Interval)],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------
// extract / date_part.

/// An extracted field: an exact decimal `value * 10^-scale`, or ±infinity.
pub enum Extracted {
    Scaled(i128, u32),
    Infinite(bool),
}

impl Extracted {
    fn int(v: i64) -> Option<Extracted> {
        Some(Extracted::Scaled(v as i128, 0))
    }

    fn to_numeric(&self) -> Result<Numeric> {
        match self {
            Extracted::Infinite(neg) => Numeric::parse(if *neg { "-Infinity" } else { "Infinity" }),
            Extracted::Scaled(v, scale) => {
                let neg = *v < 0;
                let digits = v.unsigned_abs().to_string();
                let s = *scale as usize;
                let text = if s == 0 {
                    digits
                } else if digits.len() > s {
                    format!(
                        "{}.{}",
                        &digits[..digits.len() - s],
                        &digits[digits.len() - s..]
                    )
                } else {
                    format!("0.{}{}", "0".repeat(s - digits.len()), digits)
                };
                Numeric::parse(&if neg { format!("-{text}") } else { text })
            }
        }
    }

    fn to_f64(&self) -> f64 {
        match self {
            Extracted::Infinite(neg) => {
                if *neg {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Extracted::Scaled(v, scale) => {
                // Through the decimal text, so 5.5 is exactly 5.5.
                self.to_numeric()
                    .map(|n| n.to_f64())
                    .unwrap_or(*v as f64 / 10f64.powi(*scale as i32))
            }
        }
    }
}

/// Canonical unit name of an `extract` / `date_trunc` field.
fn unit_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => "microseconds",
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => "milliseconds",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "minute" | "minutes" | "m" | "min" | "mins" => "minute",
        "hour" | "hours" | "h" | "hr" | "hrs" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "quarter" | "qtr" => "quarter",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" | "dec" | "decs" => "decade",
        "century" | "centuries" | "c" | "cent" => "century",
        "millennium" | "millennia" | "mil" | "mils" | "millenniums" => "millennium",
        "dow" => "dow",
        "doy" => "doy",
        "isodow" => "isodow",
        "isoyear" => "isoyear",
        "epoch" => "epoch",
        "julian" | "j" => "julian",
        "timezone" => "timezone",
        "timezone_hour" => "timezone_hour",
        "timezone_minute" => "timezone_minute",
        _ => return None,
    })
}

fn not_recognized(field: &str, ty: &DataType) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("unit \"{field}\" not recognized for type {}", ty.name()),
    )
}

fn not_supported(field: &str, ty: &DataType) -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("unit \"{field}\" not supported for type {}", ty.name()),
    )
}

/// ISO 8601 week number and ISO year of a Julian day.
fn iso_week(jd: i64) -> (i64, i64) {
    let dow_monday0 = (j2day(jd) + 6) % 7;
    let thursday = jd - dow_monday0 + 3;
    let (ty, _, _) = j2date(thursday);
    ((thursday - date2j(ty, 1, 1)) / 7 + 1, ty)
}

fn year_fields(unit: &str, year: i64) -> Option<i64> {
    Some(match unit {
        "year" => {
            if year > 0 {
                year
            } else {
                year - 1
            }
        }
        "decade" => {
            if year >= 0 {
                year / 10
            } else {
                -((8 - (year - 1)) / 10)
            }
        }
        "century" => {
            if year > 0 {
                (year + 99) / 100
            } else {
                -((99 - (year - 1)) / 100)
            }
        }
        "millennium" => {
            if year > 0 {
                (year + 999) / 1000
            } else {
                -((999 - (year - 1)) / 1000)
            }
        }
        _ => return None,
    })
}

fn extract(field: &str, v: &Value, ty: &DataType, zone: &Zone) -> Result<Option<Extracted>> {
    let unit = unit_name(field).ok_or_else(|| not_recognized(field, ty))?;
    let infinite_ok = |neg: bool| -> Result<Option<Extracted>> {
        match unit {
            "epoch" | "julian" | "year" | "isoyear" | "decade" | "century" | "millennium" => {
                Ok(Some(Extracted::Infinite(neg)))
            }
            "timezone" | "timezone_hour" | "timezone_minute"
                if !matches!(ty, DataType::Timestamptz) =>
            {
                Err(not_supported(field, ty))
            }
            _ => Ok(None),
        }
    };
    match v {
        Value::Date(d) => {
            if !is_finite_date(*d) {
                if matches!(
                    unit,
                    "hour"
                        | "minute"
                        | "second"
                        | "milliseconds"
                        | "microseconds"
                        | "timezone"
                        | "timezone_hour"
                        | "timezone_minute"
                ) {
                    return Err(not_supported(field, ty));
                }
                return infinite_ok(*d == DATE_NOBEGIN);
            }
            let jd = *d as i64 + POSTGRES_EPOCH_JDATE;
            let (y, m, day) = j2date(jd);
            let r = match unit {
                "day" => day,
                "month" => m,
                "quarter" => (m - 1) / 3 + 1,
                "week" => iso_week(jd).0,
                "dow" => j2day(jd),
                "isodow" => {
                    let w = j2day(jd);
                    if w == 0 { 7 } else { w }
                }
                "doy" => jd - date2j(y, 1, 1) + 1,
                "isoyear" => {
                    let iy = iso_week(jd).1;
                    if iy > 0 { iy } else { iy - 1 }
                }
                "epoch" => (jd - UNIX_EPOCH_JDATE) * SECS_PER_DAY,
                "julian" => jd,
                u => match year_fields(u, y) {
                    Some(x) => x,
                    None => return Err(not_supported(field, ty)),
                },
            };
            Ok(Extracted::int(r))
        }
        Value::Time(t) => time_fields(unit, *t, field, ty),
        Value::Timestamp(t) | Value::Timestamptz(t) => {
            let tz = matches!(v, Value::Timestamptz(_));
            if !is_finite_ts(*t) {
                return infinite_ok(*t == TS_NOBEGIN);
            }
            let (local, off) = if tz { zone.utc_to_local(*t) } else { (*t, 0) };
            let tm = ts_to_tm(local);
            let jd = tm.julian();
            let r = match unit {
                "timezone" | "timezone_hour" | "timezone_minute" => {
                    if !tz {
                        return Err(not_supported(field, ty));
                    }
                    match unit {
                        "timezone" => off as i64,
                        "timezone_hour" => off as i64 / 3600,
                        _ => off as i64 / 60 % 60,
                    }
                }
                "microseconds" | "milliseconds" | "second" | "minute" | "hour" => {
                    return time_fields(unit, local.rem_euclid(USECS_PER_DAY), field, ty);
                }
                "epoch" => {
                    let base = if tz { *t } else { local };
                    let unix = base as i128
                        - (UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) as i128 * USECS_PER_DAY as i128;
                    return Ok(Some(Extracted::Scaled(unix, 6)));
                }
                "julian" => {
                    let frac = local.rem_euclid(USECS_PER_DAY);
                    if frac == 0 {
                        jd
                    } else {
                        // julian + fraction of the day (PostgreSQL prints more digits).
                        let v = jd as i128 * USECS_PER_DAY as i128 + frac as i128;
                        return Ok(Some(Extracted::Scaled(
                            v * 1_000_000 / USECS_PER_DAY as i128,
                            6,
                        )));
                    }
                }
                _ => {
                    let d = Value::Date(timestamp_to_date(local)?);
                    return extract(field, &d, &DataType::Date, zone);
                }
            };
            Ok(Extracted::int(r))
        }
        Value::Interval(iv) => {
            let p = interval_parts(iv);
            let r = match unit {
                "microseconds" => {
                    return Ok(Some(Extracted::Scaled(
                        (p.seconds * USECS_PER_SEC + p.micros) as i128,
                        0,
                    )));
                }
                "milliseconds" => {
                    return Ok(Some(Extracted::Scaled(
                        (p.seconds * USECS_PER_SEC + p.micros) as i128,
                        3,
                    )));
                }
                "second" => {
                    return Ok(Some(Extracted::Scaled(
                        (p.seconds * USECS_PER_SEC + p.micros) as i128,
                        6,
                    )));
                }
                "minute" => p.minutes,
                "hour" => p.hours,
                "day" => p.days,
                "month" => p.months,
                "quarter" => p.months / 3 + 1,
                "year" => p.years,
                "decade" => p.years / 10,
                "century" => p.years / 100,
                "millennium" => p.years / 1000,
                "epoch" => {
                    let secs = p.years as i128 * 31_557_600
                        + p.months as i128 * DAYS_PER_MONTH as i128 * SECS_PER_DAY as i128
                        + iv.days as i128 * SECS_PER_DAY as i128;
                    return Ok(Some(Extracted::Scaled(
                        secs * 1_000_000 + iv.micros as i128,
                        6,
                    )));
                }
                _ => return Err(not_supported(field, ty)),
            };
            Ok(Extracted::int(r))
        }
        other => Err(internal("extract", other)),
    }
}

fn time_fields(unit: &str, t: i64, field: &str, ty: &DataType) -> Result<Option<Extracted>> {
    let sec_us = t % USECS_PER_MINUTE;
    Ok(Some(match unit {
        "microseconds" => Extracted::Scaled(sec_us as i128, 0),
        "milliseconds" => Extracted::Scaled(sec_us as i128, 3),
        "second" => Extracted::Scaled(sec_us as i128, 6),
        "minute" => Extracted::Scaled((t / USECS_PER_MINUTE % 60) as i128, 0),
        "hour" => Extracted::Scaled((t / USECS_PER_HOUR) as i128, 0),
        "epoch" if matches!(ty, DataType::Time) => Extracted::Scaled(t as i128, 6),
        _ => return Err(not_supported(field, ty)),
    }))
}

// ---------------------------------------------------------------------------
// date_trunc.

fn trunc_tm(unit: &str, tm: &mut Tm) -> bool {
    let year = tm.year;
    match unit {
        "millennium" => {
            tm.year = if year > 0 {
                ((year + 999) / 1000) * 1000 - 999
            } else {
                -((999 - (year - 1)) / 1000) * 1000 + 1
            };
            tm.month = 1;
            tm.day = 1;
        }
        "century" => {
            tm.year = if year > 0 {
                ((year + 99) / 100) * 100 - 99
            } else {
                -((99 - (year - 1)) / 100) * 100 + 1
            };
            tm.month = 1;
            tm.day = 1;
        }
        "decade" => {
            if year > 0 {
                tm.year = (year / 10) * 10;
            } else {
                tm.year = -((8 - (year - 1)) / 10) * 10;
            }
            tm.month = 1;
            tm.day = 1;
        }
        "year" => {
            tm.month = 1;
            tm.day = 1;
        }
        "quarter" => {
            tm.month = 3 * ((tm.month - 1) / 3) + 1;
            tm.day = 1;
        }
        "month" => tm.day = 1,
        "week" => {
            let jd = tm.julian();
            let monday = jd - (j2day(jd) + 6) % 7;
            let (y, m, d) = j2date(monday);
            tm.year = y;
            tm.month = m;
            tm.day = d;
        }
        "day" | "hour" | "minute" | "second" | "milliseconds" | "microseconds" => {}
        _ => return false,
    }
    let big = matches!(
        unit,
        "millennium" | "century" | "decade" | "year" | "quarter" | "month" | "week" | "day"
    );
    if big || unit == "hour" {
        tm.minute = 0;
    }
    if big {
        tm.hour = 0;
    }
    if big || matches!(unit, "hour" | "minute") {
        tm.second = 0;
    }
    match unit {
        "milliseconds" => tm.micros = tm.micros / 1000 * 1000,
        "microseconds" => {}
        _ => tm.micros = 0,
    }
    true
}

fn date_trunc(field: &str, v: &Value, zone: &Zone) -> Result<Value> {
    let unit = unit_name(field);
    match v {
        Value::Timestamp(t) | Value::Timestamptz(t) => {
            let tz = matches!(v, Value::Timestamptz(_));
            let ty = if tz {
                DataType::Timestamptz
            } else {
                DataType::Timestamp
            };
            let unit = unit.ok_or_else(|| not_recognized(field, &ty))?;
            if !is_finite_ts(*t) {
                return Ok(v.clone());
            }
            let local = if tz { zone.utc_to_local(*t).0 } else { *t };
            let mut tm = ts_to_tm(local);
            if !trunc_tm(unit, &mut tm) {
                return Err(not_supported(field, &ty));
            }
            let r = tm_to_ts(&tm).ok_or_else(ts_overflow)?;
            Ok(if tz {
                Value::Timestamptz(zone.local_to_utc(r)?)
            } else {
                Value::Timestamp(r)
            })
        }
        Value::Interval(iv) => {
            let ty = DataType::Interval;
            let unit = unit.ok_or_else(|| not_recognized(field, &ty))?;
            if unit == "week" {
                return Err(
                    not_supported(field, &ty).with_detail("Months usually have fractional weeks.")
                );
            }
            let mut months = iv.months as i64;
            let mut days = iv.days as i64;
            let mut micros = iv.micros;
            let trunc = |x: i64, step: i64| x / step * step;
            match unit {
                "millennium" => months = trunc(months, 12000),
                "century" => months = trunc(months, 1200),
                "decade" => months = trunc(months, 120),
                "year" => months = trunc(months, 12),
                "quarter" => months = trunc(months, 3),
                _ => {}
            }
            match unit {
                "millennium" | "century" | "decade" | "year" | "quarter" | "month" => {
                    days = 0;
                    micros = 0;
                }
                "day" => micros = 0,
                "hour" => micros = trunc(micros, USECS_PER_HOUR),
                "minute" => micros = trunc(micros, USECS_PER_MINUTE),
                "second" => micros = trunc(micros, USECS_PER_SEC),
                "milliseconds" => micros = trunc(micros, 1000),
                "microseconds" => {}
                _ => return Err(not_supported(field, &ty)),
            }
            Ok(Value::Interval(Interval::new(
                months as i32,
                days as i32,
                micros,
            )))
        }
        other => Err(internal("date_trunc", other)),
    }
}

// ---------------------------------------------------------------------------
// age.

fn age(a: i64, b: i64) -> Result<Interval> {
    if !is_finite_ts(a) || !is_finite_ts(b) {
        return Err(Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite timestamps",
        ));
    }
    let (t1, t2) = (ts_to_tm(a), ts_to_tm(b));
    let neg = a < b;
    let mut us = t1.micros - t2.micros;
    let mut sec = t1.second - t2.second;
    let mut min = t1.minute - t2.minute;
    let mut hour = t1.hour - t2.hour;
    let mut mday = t1.day - t2.day;
    let mut mon = t1.month - t2.month;
    let mut year = t1.year - t2.year;
    if neg {
        us = -us;
        sec = -sec;
        min = -min;
        hour = -hour;
        mday = -mday;
        mon = -mon;
        year = -year;
    }
    while us < 0 {
        us += USECS_PER_SEC;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    while mday < 0 {
        let base = if neg { t1 } else { t2 };
        mday += days_in_month(base.year, base.month);
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if neg {
        us = -us;
        sec = -sec;
        min = -min;
        hour = -hour;
        mday = -mday;
        mon = -mon;
        year = -year;
    }
    let months = i32::try_from(year * 12 + mon).map_err(|_| interval_overflow())?;
    let days = i32::try_from(mday).map_err(|_| interval_overflow())?;
    Ok(Interval::new(
        months,
        days,
        ((hour * 60 + min) * 60 + sec) * USECS_PER_SEC + us,
    ))
}

// ---------------------------------------------------------------------------
// to_char.

/// The fields `to_char` formats.
pub struct CharFields {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micros: i64,
    /// Julian day (none for intervals).
    julian: Option<i64>,
    /// Day of year (1-based).
    doy: i64,
    zone: Option<(i32, String)>,
    interval: bool,
}

fn to_char_fields(local: i64, zone: Option<(i32, String)>) -> Option<CharFields> {
    if !is_finite_ts(local) {
        return None;
    }
    let tm = ts_to_tm(local);
    let jd = tm.julian();
    Some(CharFields {
        year: tm.year,
        month: tm.month,
        day: tm.day,
        hour: tm.hour,
        minute: tm.minute,
        second: tm.second,
        micros: tm.micros,
        julian: Some(jd),
        doy: jd - date2j(tm.year, 1, 1) + 1,
        zone,
        interval: false,
    })
}

fn interval_char_fields(iv: &Interval) -> CharFields {
    let p = interval_parts(iv);
    CharFields {
        year: p.years,
        month: p.months,
        day: p.days,
        hour: p.hours,
        minute: p.minutes,
        second: p.seconds,
        micros: p.micros,
        julian: None,
        doy: 0,
        zone: None,
        interval: true,
    }
}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn ordinal_suffix(n: i64, upper: bool) -> &'static str {
    let n = n.abs();
    let s = if n % 100 / 10 == 1 {
        "th"
    } else {
        match n % 10 {
            1 => "st",
            2 => "nd",
            3 => "rd",
            _ => "th",
        }
    };
    if upper {
        match s {
            "st" => "ST",
            "nd" => "ND",
            "rd" => "RD",
            _ => "TH",
        }
    } else {
        s
    }
}

/// Applies the case of a pattern (`Month`, `MONTH`, `month`) to a name.
fn cased(name: &str, pattern: &str) -> String {
    let mut p = pattern.chars();
    let first_upper = p.next().is_some_and(|c| c.is_ascii_uppercase());
    let second_upper = p.next().is_some_and(|c| c.is_ascii_uppercase());
    if first_upper && second_upper {
        name.to_ascii_uppercase()
    } else if first_upper {
        name.to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

/// `to_char(timestamp|interval, format)` for the common patterns.
fn to_char(f: &CharFields, fmt: &str) -> String {
    // Longest patterns first; case matters for names.
    const PATTERNS: [&str; 52] = [
        "Y,YYY", "HH24", "HH12", "SSSSS", "SSSS", "YYYY", "IYYY", "MONTH", "Month", "month",
        "A.M.", "P.M.", "a.m.", "p.m.", "B.C.", "A.D.", "b.c.", "a.d.", "DAY", "Day", "day", "YYY",
        "MON", "Mon", "mon", "DDD", "IDDD", "FF1", "FF2", "FF3", "FF4", "FF5", "FF6", "HH", "MI",
        "SS", "MS", "US", "AM", "PM", "am", "pm", "BC", "AD", "YY", "MM", "DY", "Dy", "dy", "DD",
        "CC", "IW",
    ];
    const SHORT: [&str; 13] = [
        "WW", "TZ", "tz", "OF", "bc", "ad", "Y", "D", "J", "Q", "W", "I", "y",
    ];
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let rest = |i: usize| -> String { chars[i..].iter().collect() };
    while i < chars.len() {
        let r = rest(i);
        if r.starts_with('"') {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if r.starts_with('\\') && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        let mut fm = false;
        let mut body = r.as_str();
        if body.starts_with("FM") || body.starts_with("fm") {
            fm = true;
            body = &body[2..];
        }
        // Names and AM/BC markers match case-sensitively; numeric fields
        // in either case (`hh24`, `yyyy`).
        let upper = body.to_ascii_uppercase();
        let pat = PATTERNS
            .iter()
            .chain(SHORT.iter())
            .find(|p| body.starts_with(**p))
            .or_else(|| {
                PATTERNS.iter().chain(SHORT.iter()).find(|p| {
                    p.bytes()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || c == b',')
                        && !matches!(
                            **p,
                            "MONTH" | "MON" | "DAY" | "DY" | "AM" | "PM" | "BC" | "AD" | "TZ"
                        )
                        && upper.starts_with(**p)
                })
            })
            .copied();
        let Some(pat) = pat else {
            if fm {
                // A lone FM: consumed.
                i += 2;
            } else {
                out.push(chars[i]);
                i += 1;
            }
            continue;
        };
        let mut consumed = pat.chars().count() + if fm { 2 } else { 0 };
        let after: String = body.chars().skip(pat.chars().count()).take(2).collect();
        let th = match after.as_str() {
            "TH" => Some(true),
            "th" => Some(false),
            _ => None,
        };
        if th.is_some() {
            consumed += 2;
        }
        let num = |v: i64, width: usize| -> String {
            let s = if fm {
                v.to_string()
            } else if v < 0 {
                format!("-{:0width$}", -v, width = width)
            } else {
                format!("{v:0width$}")
            };
            match th {
                Some(upper) => s + ordinal_suffix(v, upper),
                None => s,
            }
        };
        let name = |n: &str, pattern: &str| -> String {
            let c = cased(n, pattern);
            if fm { c } else { format!("{c:<9}") }
        };
        let year_shown = if f.interval {
            f.year
        } else if f.year <= 0 {
            1 - f.year
        } else {
            f.year
        };
        let hour12 = {
            let h = f.hour % 12;
            if h == 0 { 12 } else { h }
        };
        let pm = f.hour % 24 >= 12;
        let bc = !f.interval && f.year <= 0;
        let jd = f.julian.unwrap_or(0);
        let dow = j2day(jd);
        let text = match pat {
            "HH24" => num(f.hour, 2),
            "HH12" | "HH" => num(hour12, 2),
            "MI" => num(f.minute, 2),
            "SS" => num(f.second, 2),
            "SSSS" | "SSSSS" => num((f.hour * 60 + f.minute) * 60 + f.second, 1),
            "MS" => num(f.micros / 1000, 3),
            "US" => num(f.micros, 6),
            "FF1" | "FF2" | "FF3" | "FF4" | "FF5" | "FF6" => {
                let n = pat[2..].parse::<u32>().unwrap_or(6);
                num(f.micros / 10i64.pow(6 - n), n as usize)
            }
            "AM" | "PM" => (if pm { "PM" } else { "AM" }).to_string(),
            "am" | "pm" => (if pm { "pm" } else { "am" }).to_string(),
            "A.M." | "P.M." => (if pm { "P.M." } else { "A.M." }).to_string(),
            "a.m." | "p.m." => (if pm { "p.m." } else { "a.m." }).to_string(),
            "BC" | "AD" => (if bc { "BC" } else { "AD" }).to_string(),
            "bc" | "ad" => (if bc { "bc" } else { "ad" }).to_string(),
            "B.C." | "A.D." => (if bc { "B.C." } else { "A.D." }).to_string(),
            "b.c." | "a.d." => (if bc { "b.c." } else { "a.d." }).to_string(),
            "Y,YYY" => format!("{},{:03}", year_shown / 1000, year_shown % 1000),
            "YYYY" => num(year_shown, 4),
            "YYY" => num(year_shown % 1000, 3),
            "YY" => num(year_shown % 100, 2),
            "Y" | "y" => num(year_shown % 10, 1),
            "IYYY" => num(iso_week(jd).1, 4),
            "IW" => num(iso_week(jd).0, 2),
            "CC" => num(year_fields("century", f.year).unwrap_or(0), 2),
            "MONTH" | "Month" | "month" => {
                if (1..=12).contains(&f.month) {
                    name(MONTH_NAMES[(f.month - 1) as usize], pat)
                } else {
                    String::new()
                }
            }
            "MON" | "Mon" | "mon" => {
                if (1..=12).contains(&f.month) {
                    cased(&MONTH_NAMES[(f.month - 1) as usize][..3], pat)
                } else {
                    String::new()
                }
            }
            "MM" => num(f.month, 2),
            "DAY" | "Day" | "day" => name(DAY_NAMES[dow as usize], pat),
            "DY" | "Dy" | "dy" => cased(&DAY_NAMES[dow as usize][..3], pat),
            "DDD" => num(f.doy, 3),
            "IDDD" => {
                let (w, _) = iso_week(jd);
                num((w - 1) * 7 + (dow + 6) % 7 + 1, 3)
            }
            "DD" => num(f.day, 2),
            "D" => num(dow + 1, 1),
            "I" => num(iso_week(jd).1 % 10, 1),
            "WW" => num((f.doy - 1) / 7 + 1, 2),
            "W" => num((f.day - 1) / 7 + 1, 1),
            "J" => num(jd, 1),
            "Q" => num((f.month - 1) / 3 + 1, 1),
            "TZ" | "tz" => {
                let abbr = f.zone.as_ref().map(|z| z.1.clone()).unwrap_or_default();
                if pat == "tz" {
                    abbr.to_ascii_lowercase()
                } else {
                    abbr
                }
            }
            "OF" => match &f.zone {
                Some((off, _)) => {
                    let mut s = String::new();
                    datetime::push_offset(&mut s, *off);
                    s
                }
                None => String::new(),
            },
            _ => String::new(),
        };
        out.push_str(&text);
        i += consumed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> i64 {
        crate::types::datetime_parse::parse_timestamp(s).unwrap()
    }

    #[test]
    fn to_char_common_patterns_match_postgres() {
        let f = to_char_fields(ts("2024-01-02 15:04:05.123456"), None).unwrap();
        assert_eq!(
            to_char(&f, "YYYY-MM-DD HH24:MI:SS.US"),
            "2024-01-02 15:04:05.123456"
        );
        let f = to_char_fields(ts("2024-01-02 15:04:05"), None).unwrap();
        assert_eq!(
            to_char(&f, "Day, DD Month YYYY HH12:MI AM"),
            "Tuesday  , 02 January   2024 03:04 PM"
        );
        assert_eq!(
            to_char(
                &f,
                "FMDay FMMonth FMDD Dy Mon MON mon DDD D Q WW IW \"quoted\" YY MS"
            ),
            "Tuesday January 2 Tue Jan JAN jan 002 3 1 01 01 quoted 24 000"
        );
        assert_eq!(
            to_char(&f, "HH24hh24 YYYYth DDth FMHH12 SSSS J CC BC"),
            "1515 2024th 02nd 3 54245 2460312 21 AD"
        );
        let iv = interval_char_fields(&Interval::new(
            0,
            0,
            27 * USECS_PER_HOUR + 3 * USECS_PER_MINUTE,
        ));
        assert_eq!(to_char(&iv, "HH24:MI HH12"), "27:03 03");
    }

    #[test]
    fn age_is_symbolic_like_postgres() {
        assert_eq!(
            interval_to_text(&age(ts("2024-03-01"), ts("2023-01-31")).unwrap()),
            "1 year 1 mon 1 day"
        );
        assert_eq!(
            interval_to_text(&age(ts("2023-01-31"), ts("2024-03-01 12:00")).unwrap()),
            "-1 years -1 mons -1 days -12:00:00"
        );
    }

    #[test]
    fn extract_scales_follow_postgres() {
        let z = Zone::default();
        let x = |f: &str, v: Value, t: DataType| {
            extract(f, &v, &t, &z)
                .unwrap()
                .unwrap()
                .to_numeric()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            x(
                "second",
                Value::Timestamp(ts("2024-01-01 00:00:05.5")),
                DataType::Timestamp
            ),
            "5.500000"
        );
        assert_eq!(
            x(
                "epoch",
                Value::Timestamp(ts("2024-01-01 00:00:05")),
                DataType::Timestamp
            ),
            "1704067205.000000"
        );
        assert_eq!(
            x(
                "epoch",
                Value::Interval(Interval::new(13, 0, 0)),
                DataType::Interval
            ),
            "34149600.000000"
        );
        assert_eq!(
            x(
                "week",
                Value::Date(crate::types::datetime_parse::parse_date("2024-12-30").unwrap()),
                DataType::Date
            ),
            "1"
        );
        assert_eq!(
            x(
                "century",
                Value::Date(crate::types::datetime_parse::parse_date("0001-01-01 BC").unwrap()),
                DataType::Date
            ),
            "-1"
        );
        let e = extract("hour", &Value::Date(0), &DataType::Date, &z)
            .err()
            .unwrap();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            (
                SqlState::FEATURE_NOT_SUPPORTED,
                "unit \"hour\" not supported for type date"
            )
        );
    }
}
