//! Casts between values: which explicit casts exist (`pg_cast` plus I/O
//! conversion through text) and how each converts.
//!
//! Owns: the conversion rules (numeric -> int rounds half away from zero,
//! float -> int rounds half to even, `true::text` is `true`, char(n) loses
//! its trailing spaces on the way to text, …) and their errors.
//! Never: decides *when* to cast; the binder does.

use crate::error::{Error, Result, SqlState};
use crate::types::text::{fit_length, pad_char};
use crate::types::{DataType, Numeric, Value, parse_text};

use super::coerce::{Category, base, category, same_base};

/// 55P02-style "cannot cast" (42846).
fn cannot_cast(from: &DataType, to: &DataType) -> Error {
    Error::new(
        SqlState::CANNOT_COERCE,
        format!("cannot cast type {} to {}", from.name(), to.name()),
    )
}

/// `oid` or one of its alias types (`regclass`, …).
pub fn is_oid_like(ty: &DataType) -> bool {
    matches!(ty, DataType::Oid | DataType::Reg(_))
}

/// Whether an explicit `CAST(x AS to)` from `from` exists.
pub fn can_cast_explicit(from: &DataType, to: &DataType) -> bool {
    if same_base(from, to) || *from == DataType::Unknown {
        return true;
    }
    let (cf, ct) = (category(from), category(to));
    if cf == Category::Numeric && ct == Category::Numeric {
        return true;
    }
    // I/O conversion: anything to and from the string types.
    if cf == Category::String || ct == Category::String {
        return true;
    }
    matches!(
        (from, to),
        (DataType::Bool, DataType::Int4) | (DataType::Int4, DataType::Bool)
    ) || datetime_cast_exists(from, to)
        || matches!((from, to), (DataType::Array(a), DataType::Array(b)) if can_cast_explicit(a, b))
}

/// The casts among date/time types and between json and jsonb (`pg_cast`).
fn datetime_cast_exists(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Date, Timestamp)
            | (Date, Timestamptz)
            | (Timestamp, Date)
            | (Timestamptz, Date)
            | (Timestamp, Timestamptz)
            | (Timestamptz, Timestamp)
            | (Timestamp, Time)
            | (Timestamptz, Time)
            | (Time, Interval)
            | (Interval, Time)
            | (Json, Jsonb)
            | (Jsonb, Json)
    )
}

/// Converts between date/time types (and json / jsonb) in the session zone.
fn datetime_cast(v: &Value, to: &DataType) -> Result<Option<Value>> {
    use crate::types::datetime as dt;
    let zone = dt::session_zone;
    Ok(Some(match (v, to) {
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(dt::date_to_timestamp(*d)?),
        (Value::Date(d), DataType::Timestamptz) => {
            Value::Timestamptz(zone().local_to_utc(dt::date_to_timestamp(*d)?)?)
        }
        (Value::Timestamp(t), DataType::Date) => Value::Date(dt::timestamp_to_date(*t)?),
        (Value::Timestamptz(t), DataType::Date) => {
            Value::Date(dt::timestamp_to_date(zone().utc_to_local(*t).0)?)
        }
        (Value::Timestamp(t), DataType::Timestamptz) => {
            Value::Timestamptz(zone().local_to_utc(*t)?)
        }
        (Value::Timestamptz(t), DataType::Timestamp) => Value::Timestamp(zone().utc_to_local(*t).0),
        (Value::Timestamp(t), DataType::Time) | (Value::Timestamptz(t), DataType::Time) => {
            let local = if matches!(v, Value::Timestamptz(_)) {
                zone().utc_to_local(*t).0
            } else {
                *t
            };
            if !dt::is_finite_ts(local) {
                return Err(Error::new(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "cannot convert infinite timestamp to time",
                ));
            }
            Value::Time(local.rem_euclid(dt::USECS_PER_DAY))
        }
        (Value::Time(t), DataType::Interval) => Value::Interval(dt::Interval::new(0, 0, *t)),
        (Value::Interval(iv), DataType::Time) => {
            Value::Time(iv.micros.rem_euclid(dt::USECS_PER_DAY))
        }
        (Value::Json(s), DataType::Jsonb) => Value::Jsonb(crate::types::json::parse_json(s)?),
        (Value::Jsonb(j), DataType::Json) => Value::Json(j.to_text()),
        _ => return Ok(None),
    }))
}

fn int_range(ty: &DataType) -> (i64, i64, &'static str) {
    match ty {
        DataType::Int2 => (i16::MIN as i64, i16::MAX as i64, "smallint"),
        DataType::Int4 => (i32::MIN as i64, i32::MAX as i64, "integer"),
        _ => (i64::MIN, i64::MAX, "bigint"),
    }
}

fn make_int(v: i64, ty: &DataType) -> Result<Value> {
    let (min, max, name) = int_range(ty);
    if v < min || v > max {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{name} out of range"),
        ));
    }
    Ok(match ty {
        DataType::Int2 => Value::Int2(v as i16),
        DataType::Int4 => Value::Int4(v as i32),
        _ => Value::Int8(v),
    })
}

fn float_to_int(f: f64, ty: &DataType) -> Result<Value> {
    let (min, max, name) = int_range(ty);
    let r = f.round_ties_even();
    // The bounds as PostgreSQL's FLOAT8_FITS_IN_INT* test them.
    if r.is_nan() || r < min as f64 || r >= -(min as f64) {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{name} out of range"),
        ));
    }
    let _ = max;
    make_int(r as i64, ty)
}

fn as_numeric(v: &Value) -> Result<Numeric> {
    Ok(match v {
        Value::Int2(i) => Numeric::from_i64(*i as i64),
        Value::Int4(i) => Numeric::from_i64(*i as i64),
        Value::Int8(i) => Numeric::from_i64(*i),
        Value::Float4(f) => Numeric::from_f32(*f)?,
        Value::Float8(f) => Numeric::from_f64(*f)?,
        Value::Numeric(n) => n.clone(),
        other => return Err(Error::internal(format!("not a number: {other:?}"))),
    })
}

fn as_f64(v: &Value) -> Result<f64> {
    Ok(match v {
        Value::Int2(i) => *i as f64,
        Value::Int4(i) => *i as f64,
        Value::Int8(i) => *i as f64,
        Value::Float4(f) => *f as f64,
        Value::Float8(f) => *f,
        Value::Numeric(n) => n.to_f64(),
        other => return Err(Error::internal(format!("not a number: {other:?}"))),
    })
}

/// float8 -> float4 with PostgreSQL's overflow / underflow checks.
pub fn f64_to_f32(f: f64) -> Result<f32> {
    let r = f as f32;
    if r.is_infinite() && f.is_finite() {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: overflow",
        ));
    }
    if r == 0.0 && f != 0.0 {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: underflow",
        ));
    }
    Ok(r)
}

/// The text a value casts to (`true::text` is `true`, char(n) is trimmed).
pub fn to_text(v: &Value, from: &DataType) -> String {
    match (v, from) {
        (Value::Bool(b), _) => if *b { "true" } else { "false" }.to_string(),
        (Value::Text(s), DataType::Char(_)) => s.trim_end_matches(' ').to_string(),
        _ => v.to_text(),
    }
}

/// Converts `v` of type `from` to `to`. Callers have checked the cast exists
/// (`can_cast_explicit`); a missing one is still an error, never a panic.
pub fn cast(v: Value, from: &DataType, to: &DataType) -> Result<Value> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    if *from == DataType::Unknown {
        let text = match &v {
            Value::Text(s) => s.clone(),
            other => other.to_text(),
        };
        return apply_typmod(parse_text(&base(to), &text)?, to, true);
    }
    if same_base(from, to) {
        return apply_typmod(v, to, true);
    }
    let (cf, ct) = (category(from), category(to));
    let out = match (&v, to) {
        // To a string type: the output function.
        (_, DataType::Text | DataType::Varchar(_) | DataType::Char(_)) => {
            Value::Text(to_text(&v, from))
        }
        // From a string type: the input function.
        (Value::Text(s), _) => {
            let s = if matches!(from, DataType::Char(_)) {
                s.trim_end_matches(' ')
            } else {
                s.as_str()
            };
            parse_text(&base(to), s)?
        }
        (Value::Array(items), DataType::Array(elem)) => {
            let DataType::Array(from_elem) = from else {
                return Err(cannot_cast(from, to));
            };
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(cast(item.clone(), from_elem, elem)?);
            }
            Value::Array(out)
        }
        _ if datetime_cast_exists(from, to) => match datetime_cast(&v, to)? {
            Some(out) => out,
            None => return Err(cannot_cast(from, to)),
        },
        (Value::Bool(b), DataType::Int4) => Value::Int4(*b as i32),
        (Value::Int4(i), DataType::Bool) => Value::Bool(*i != 0),
        // oid and the reg* types share the representation (an Int8 in
        // u32's range); int4 reads as unsigned and back, as in PostgreSQL.
        (Value::Int8(o), DataType::Int4) if is_oid_like(from) => Value::Int4(*o as u32 as i32),
        (Value::Int8(o), _) if is_oid_like(from) && is_oid_like(to) => Value::Int8(*o),
        _ if is_oid_like(to) => match &v {
            Value::Int2(i) => Value::Int8(*i as i32 as u32 as i64),
            Value::Int4(i) => Value::Int8(*i as u32 as i64),
            Value::Int8(i) if (0..=u32::MAX as i64).contains(i) => Value::Int8(*i),
            Value::Int8(_) => {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "OID out of range",
                ));
            }
            _ => return Err(cannot_cast(from, to)),
        },
        _ if cf == Category::Numeric && ct == Category::Numeric => match to {
            DataType::Int2 | DataType::Int4 | DataType::Int8 => match &v {
                Value::Int2(i) => make_int(*i as i64, to)?,
                Value::Int4(i) => make_int(*i as i64, to)?,
                Value::Int8(i) => make_int(*i, to)?,
                Value::Float4(f) => float_to_int(*f as f64, to)?,
                Value::Float8(f) => float_to_int(*f, to)?,
                Value::Numeric(n) => {
                    let (min, max, name) = int_range(to);
                    make_int(n.to_int(min, max, name)?, to)?
                }
                _ => return Err(cannot_cast(from, to)),
            },
            DataType::Numeric(_) => Value::Numeric(as_numeric(&v)?),
            DataType::Float8 => Value::Float8(as_f64(&v)?),
            DataType::Float4 => match &v {
                Value::Float8(f) => Value::Float4(f64_to_f32(*f)?),
                Value::Numeric(n) => parse_text(&DataType::Float4, &n.to_string())?,
                Value::Int8(i) => Value::Float4(*i as f32),
                Value::Int4(i) => Value::Float4(*i as f32),
                Value::Int2(i) => Value::Float4(*i as f32),
                _ => return Err(cannot_cast(from, to)),
            },
            _ => return Err(cannot_cast(from, to)),
        },
        _ => return Err(cannot_cast(from, to)),
    };
    apply_typmod(out, to, true)
}

/// Applies a type modifier: `numeric(p,s)` rounds and checks,
/// `varchar(n)` / `char(n)` truncate (explicit casts) and pad.
pub fn apply_typmod(v: Value, to: &DataType, explicit: bool) -> Result<Value> {
    Ok(match (v, to) {
        (Value::Numeric(n), DataType::Numeric(Some((p, s)))) => {
            Value::Numeric(n.apply_typmod(*p, *s)?)
        }
        (Value::Text(s), DataType::Varchar(Some(n))) => {
            if explicit {
                Value::Text(s.chars().take(*n as usize).collect())
            } else {
                Value::Text(fit_length(&s, *n, "character varying")?)
            }
        }
        (Value::Text(s), DataType::Char(Some(n))) => {
            let cut: String = if explicit {
                s.chars().take(*n as usize).collect()
            } else {
                fit_length(&s, *n, "character")?
            };
            Value::Text(pad_char(&cut, *n))
        }
        // numeric(p,s)[] / varchar(n)[]: each element, as PostgreSQL's
        // array_in applies the element typmod
        (Value::Array(items), DataType::Array(elem)) if elem.has_typmod() => Value::Array(
            items
                .into_iter()
                .map(|v| apply_typmod(v, elem, explicit))
                .collect::<Result<_>>()?,
        ),
        (v, _) => v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_int_rounds_half_to_even_numeric_half_away() {
        assert_eq!(
            cast(Value::Float8(2.5), &DataType::Float8, &DataType::Int4).unwrap(),
            Value::Int4(2)
        );
        assert_eq!(
            cast(Value::Float8(3.5), &DataType::Float8, &DataType::Int4).unwrap(),
            Value::Int4(4)
        );
        let n = Value::Numeric(Numeric::parse("2.5").unwrap());
        assert_eq!(
            cast(n, &DataType::Numeric(None), &DataType::Int4).unwrap(),
            Value::Int4(3)
        );
    }

    #[test]
    fn out_of_range_casts_name_the_target_type() {
        let e = cast(Value::Int8(1 << 40), &DataType::Int8, &DataType::Int4).unwrap_err();
        assert_eq!(e.message, "integer out of range");
        let e = cast(Value::Int4(70000), &DataType::Int4, &DataType::Int2).unwrap_err();
        assert_eq!(e.message, "smallint out of range");
        let e = cast(Value::Float8(1e300), &DataType::Float8, &DataType::Float4).unwrap_err();
        assert_eq!(e.message, "value out of range: overflow");
    }

    #[test]
    fn text_casts_use_input_and_output_functions() {
        assert_eq!(
            cast(Value::Bool(true), &DataType::Bool, &DataType::Text).unwrap(),
            Value::Text("true".into())
        );
        assert_eq!(
            cast(
                Value::Text("a  ".into()),
                &DataType::Char(Some(3)),
                &DataType::Text
            )
            .unwrap(),
            Value::Text("a".into())
        );
        assert_eq!(
            cast(
                Value::Text("abc".into()),
                &DataType::Text,
                &DataType::Varchar(Some(2))
            )
            .unwrap(),
            Value::Text("ab".into())
        );
        let e = cast(Value::Text("abc".into()), &DataType::Text, &DataType::Int4).unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type integer: \"abc\"");
        assert!(!can_cast_explicit(&DataType::Int8, &DataType::Bool));
        assert!(!can_cast_explicit(
            &DataType::Bool,
            &DataType::Numeric(None)
        ));
    }
}
