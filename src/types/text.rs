//! Text input and output of values in PostgreSQL's formats.
//!
//! Owns: each type's input function (`int4in`, `float8in`, `boolin`, …) and
//! the output forms that are not trivial (floats, bytea).
//! Never: knows about casts between types; that is `sql/`'s job.
//!
//! Float output follows PostgreSQL 15 with `extra_float_digits = 1` (the
//! default): the shortest decimal that reads back to the same value, in
//! fixed notation when the decimal exponent is in `-4..15` (`-4..6` for
//! real) and `d.ddde+XX` otherwise.

use crate::error::{Error, Result, SqlState};

use super::{DataType, Numeric, Value};

fn invalid_syntax(type_name: &str, text: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

fn out_of_range(type_name: &str, text: &str) -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("value \"{text}\" is out of range for type {type_name}"),
    )
}

/// PostgreSQL's `isspace` set, which its input functions trim.
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// `int2in` / `int4in` / `int8in`: optional whitespace, sign, decimal digits.
pub fn parse_int(text: &str, min: i64, max: i64, type_name: &str) -> Result<i64> {
    let s = text.trim_matches(is_pg_space);
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_syntax(type_name, text));
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + (b - b'0') as i128;
        if v > i64::MAX as i128 + 1 {
            return Err(out_of_range(type_name, text));
        }
    }
    let v = if neg { -v } else { v };
    if v < min as i128 || v > max as i128 {
        return Err(out_of_range(type_name, text));
    }
    Ok(v as i64)
}

/// `float8in` / `float4in`: a decimal or `NaN` / `Infinity` / `inf`, any case.
fn parse_float(text: &str, type_name: &str, single: bool) -> Result<f64> {
    let s = text.trim_matches(is_pg_space);
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    // Rust's parser accepts a few spellings PostgreSQL does not ("infin…" is
    // fine in both); reject anything that is not digits/point/exponent or a
    // known special word.
    let special = matches!(unsigned, "nan" | "inf" | "infinity");
    if s.is_empty()
        || (!special
            && !unsigned
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'+' || b == b'-'))
        || (unsigned == "nan" && unsigned.len() != lower.len())
    {
        return Err(invalid_syntax(type_name, text));
    }
    let v: f64 = if single {
        s.parse::<f32>()
            .map(|f| f as f64)
            .map_err(|_| invalid_syntax(type_name, text))?
    } else {
        s.parse::<f64>()
            .map_err(|_| invalid_syntax(type_name, text))?
    };
    if !special {
        let range = || {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("\"{text}\" is out of range for type {type_name}"),
            )
        };
        if v.is_infinite() {
            return Err(range());
        }
        // Underflow: a non-zero mantissa that read as zero.
        let mantissa = unsigned.split('e').next().unwrap_or("");
        if v == 0.0 && mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return Err(range());
        }
    }
    Ok(v)
}

/// `boolin`: `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0` and unique prefixes.
pub fn parse_bool(text: &str) -> Result<bool> {
    let s = text.trim_matches(is_pg_space).to_ascii_lowercase();
    let is_prefix = |word: &str, min: usize| s.len() >= min && word.starts_with(s.as_str());
    if is_prefix("true", 1) || is_prefix("yes", 1) || is_prefix("on", 2) || s == "1" {
        Ok(true)
    } else if is_prefix("false", 1) || is_prefix("no", 1) || is_prefix("off", 2) || s == "0" {
        Ok(false)
    } else {
        Err(invalid_syntax("boolean", text))
    }
}

/// `byteain`: `\x` hex, or the escape format (`\\`, `\ooo`).
fn parse_bytea(text: &str) -> Result<Vec<u8>> {
    let bad = || invalid_syntax("bytea", text);
    if let Some(hex) = text.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut pending: Option<u8> = None;
        for c in hex.chars() {
            if is_pg_space(c) && pending.is_none() {
                continue;
            }
            let d = c.to_digit(16).ok_or_else(|| {
                Error::new(
                    SqlState::INVALID_TEXT_REPRESENTATION,
                    format!("invalid hexadecimal digit: \"{c}\""),
                )
            })? as u8;
            match pending.take() {
                None => pending = Some(d),
                Some(h) => out.push(h * 16 + d),
            }
        }
        if pending.is_some() {
            return Err(Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid hexadecimal data: odd number of digits",
            ));
        }
        return Ok(out);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = bytes.get(i + 1..i + 4).ok_or_else(bad)?;
            if !(b'0'..=b'3').contains(&oct[0])
                || !oct[1..].iter().all(|b| (b'0'..=b'7').contains(b))
            {
                return Err(bad());
            }
            out.push((oct[0] - b'0') * 64 + (oct[1] - b'0') * 8 + (oct[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

/// Checks a string against `varchar(n)` / `char(n)` the way the input
/// function does: longer is an error unless the excess is all spaces.
pub fn fit_length(s: &str, max_chars: u32, type_name: &str) -> Result<String> {
    let n = max_chars as usize;
    match s.char_indices().nth(n) {
        None => Ok(s.to_string()),
        Some((cut, _)) => {
            if s[cut..].chars().all(|c| c == ' ') {
                Ok(s[..cut].to_string())
            } else {
                Err(Error::new(
                    SqlState::STRING_DATA_RIGHT_TRUNCATION,
                    format!("value too long for type {type_name}({max_chars})"),
                ))
            }
        }
    }
}

/// Pads a `char(n)` value with spaces to `n` characters.
pub fn pad_char(s: &str, n: u32) -> String {
    let len = s.chars().count();
    let mut out = s.to_string();
    for _ in len..n as usize {
        out.push(' ');
    }
    out
}

/// See [`super::parse_text`].
pub fn parse_text(ty: &DataType, text: &str) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => Value::Bool(parse_bool(text)?),
        DataType::Int2 => {
            Value::Int2(parse_int(text, i16::MIN as i64, i16::MAX as i64, "smallint")? as i16)
        }
        DataType::Int4 => {
            Value::Int4(parse_int(text, i32::MIN as i64, i32::MAX as i64, "integer")? as i32)
        }
        DataType::Int8 => Value::Int8(parse_int(text, i64::MIN, i64::MAX, "bigint")?),
        DataType::Float4 => Value::Float4(parse_float(text, "real", true)? as f32),
        DataType::Float8 => Value::Float8(parse_float(text, "double precision", false)?),
        DataType::Numeric(typmod) => {
            let n = Numeric::parse(text)?;
            match typmod {
                Some((p, s)) => Value::Numeric(n.apply_typmod(*p, *s)?),
                None => Value::Numeric(n),
            }
        }
        DataType::Text | DataType::Unknown => Value::Text(text.to_string()),
        DataType::Varchar(None) | DataType::Char(None) => Value::Text(text.to_string()),
        DataType::Varchar(Some(n)) => Value::Text(fit_length(text, *n, "character varying")?),
        DataType::Char(Some(n)) => Value::Text(pad_char(&fit_length(text, *n, "character")?, *n)),
        DataType::Bytea => Value::Bytea(parse_bytea(text)?),
        DataType::Date => Value::Date(super::datetime_parse::parse_date(text)?),
        DataType::Time => Value::Time(super::datetime_parse::parse_time(text)?),
        DataType::Timestamp => Value::Timestamp(super::datetime_parse::parse_timestamp(text)?),
        DataType::Timestamptz => {
            Value::Timestamptz(super::datetime_parse::parse_timestamptz(text)?)
        }
        DataType::Interval => Value::Interval(super::datetime_parse::parse_interval(text)?),
        DataType::Uuid => Value::Uuid(super::uuid::parse_uuid(text)?),
        DataType::Json => {
            super::json::parse_json(text)?;
            Value::Json(text.to_string())
        }
        DataType::Jsonb => Value::Jsonb(super::json::parse_json(text)?),
        DataType::Array(elem) => super::array::parse_array(elem, text)?,
        DataType::Record(_) => {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "input of anonymous composite types is not implemented",
            ));
        }
        // `1 2 3`: elements separated by spaces.
        DataType::Vector(k) => {
            let elem = k.element();
            let mut items = Vec::new();
            for part in text.split_ascii_whitespace() {
                items.push(parse_text(&elem, part)?);
            }
            Value::Array(items)
        }
        // oidin: -2147483648 wraps to 2147483648, as in PostgreSQL.
        DataType::Oid => {
            Value::Int8(parse_int(text, i32::MIN as i64, u32::MAX as i64, "oid")? as u32 as i64)
        }
        // Without the catalog only the numeric form reads (the binder and
        // the executor look names up, `sql/pg_catalog`).
        DataType::Reg(k) => Value::Int8(parse_int(text, 0, u32::MAX as i64, k.name())?),
    })
}

/// float8 output (see the module doc).
pub fn float8_to_text(v: f64) -> String {
    float_to_text(v, format!("{v:e}"), 15)
}

/// float4 output (see the module doc).
pub fn float4_to_text(v: f32) -> String {
    float_to_text(v as f64, format!("{v:e}"), 6)
}

/// Renders Rust's shortest round-trip `{:e}` form the way PostgreSQL's
/// `double_to_shortest_decimal` does.
fn float_to_text(v: f64, sci: String, fixed_below: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let (neg, body) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mant, exp) = body.split_once('e').unwrap_or((body, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if v == 0.0 {
        out.push('0');
        return out;
    }
    if (-4..fixed_below).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    }
    out
}

/// bytea output in hex format.
pub fn bytea_to_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    for byte in b {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floats_print_like_postgres_15() {
        for (v, s) in [
            (1e20, "1e+20"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0"),
            (1e-310, "1e-310"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.5, "1.5"),
            (-2.0, "-2"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(float8_to_text(v), s, "{v:?}");
        }
        assert_eq!(float4_to_text(1e6), "1e+06");
        assert_eq!(float4_to_text(123456.0), "123456");
        assert_eq!(float4_to_text(1.1), "1.1");
    }

    #[test]
    fn bad_input_carries_postgres_messages() {
        let e = parse_text(&DataType::Int4, "abc").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION);
        assert_eq!(e.message, "invalid input syntax for type integer: \"abc\"");
        let e = parse_text(&DataType::Int2, "99999").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
        assert_eq!(
            e.message,
            "value \"99999\" is out of range for type smallint"
        );
        let e = parse_text(&DataType::Float4, "1e50").unwrap_err();
        assert_eq!(e.message, "\"1e50\" is out of range for type real");
        let e = parse_text(&DataType::Float8, "1e-400").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
        let e = parse_text(&DataType::Bool, "o").unwrap_err();
        assert_eq!(e.message, "invalid input syntax for type boolean: \"o\"");
        let e = parse_text(&DataType::Int4, "1.5").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION);
        let e = parse_text(&DataType::Varchar(Some(2)), "abc").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::STRING_DATA_RIGHT_TRUNCATION);
    }

    #[test]
    fn good_input_parses() {
        assert_eq!(
            parse_text(&DataType::Int4, " 12 ").unwrap(),
            Value::Int4(12)
        );
        assert_eq!(
            parse_text(&DataType::Int8, "-9223372036854775808").unwrap(),
            Value::Int8(i64::MIN)
        );
        assert_eq!(
            parse_text(&DataType::Bool, "of").unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            parse_text(&DataType::Bool, "TRUE").unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            parse_text(&DataType::Float8, "-Infinity").unwrap(),
            Value::Float8(f64::NEG_INFINITY)
        );
        assert_eq!(
            parse_text(&DataType::Varchar(Some(2)), "ab  ").unwrap(),
            Value::Text("ab".into())
        );
        assert_eq!(
            parse_text(&DataType::Char(Some(3)), "a").unwrap(),
            Value::Text("a  ".into())
        );
        assert_eq!(
            parse_text(&DataType::Bytea, "\\x41").unwrap(),
            Value::Bytea(vec![0x41])
        );
        assert_eq!(
            parse_text(&DataType::Bytea, "a\\\\b").unwrap(),
            Value::Bytea(b"a\\b".to_vec())
        );
        assert_eq!(Value::Bytea(b"a\\b".to_vec()).to_text(), "\\x615c62");
        assert_eq!(Value::Bool(true).to_text(), "t");
    }

    proptest! {
        #[test]
        fn float8_text_round_trips(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            let text = float8_to_text(v);
            let back = match parse_text(&DataType::Float8, &text).unwrap() {
                Value::Float8(f) => f,
                other => panic!("{other:?}"),
            };
            prop_assert!(back.to_bits() == v.to_bits() || (v.is_nan() && back.is_nan()), "{} -> {}", v, text);
        }
    }
}
