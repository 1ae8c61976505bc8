//! Test support shared by the sqllogictest harness (`tests/sqllogictest.rs`),
//! the conformance runner (`src/bin/conformance/`) and the fuzz targets.
//!
//! Owns: the *result-printing convention* of our `.slt` files — how one
//! [`Value`] becomes the string a test file compares with — and the
//! SQLSTATE-bearing error text the harness matches `statement error` against.
//! Never: executes SQL or decides what a query means; it only prints what the
//! embedded API returned.
//!
//! ```text
//!   Session::execute ──> StatementResult { columns, rows: Vec<Vec<Value>> }
//!                                              │ slt_text (per value)
//!                                              v
//!      Value::Null ─> "NULL"    Text("") ─> "(empty)"    Bool(true) ─> "t"
//!      Float8(1e15) ─> "1e+15"  Numeric ─> "12.50"       other ─> PostgreSQL text
//! ```
//!
//! Invariants:
//! - [`pg_text`] prints exactly what PostgreSQL 15 prints for the value in
//!   text format (`extra_float_digits = 1`, the default), so the embedded
//!   targets and the wire target compare against the same expected lines.
//! - [`slt_text`] differs from [`pg_text`] only for NULL and the empty string.
//!
//! This module is not part of the database's public API (`#[doc(hidden)]`);
//! once `types/` owns text output, [`pg_text`] should delegate to it.

use crate::error::Error;
use crate::types::numeric::NumericSign;
use crate::types::{DataType, Numeric, Value};

/// What a NULL prints as in `.slt` results.
pub const NULL_TEXT: &str = "NULL";
/// What an empty string prints as in `.slt` results (an empty line would end
/// the record).
pub const EMPTY_TEXT: &str = "(empty)";

/// The PostgreSQL text-format output of a value; `None` for NULL.
pub fn pg_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Float4(v) => float_text(f64::from(*v), format!("{v:e}"), F32_DIGITS),
        Value::Float8(v) => float_text(*v, format!("{v:e}"), F64_DIGITS),
        Value::Numeric(n) => numeric_text(n),
        Value::Text(s) => s.clone(),
        Value::Bytea(bytes) => {
            let mut out = String::with_capacity(2 + 2 * bytes.len());
            out.push_str("\\x");
            for b in bytes {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    })
}

/// A value as `.slt` result lines print it: PostgreSQL text, `NULL` for
/// NULL, `(empty)` for the empty string.
pub fn slt_text(value: &Value) -> String {
    match pg_text(value) {
        None => NULL_TEXT.to_string(),
        Some(s) if s.is_empty() => EMPTY_TEXT.to_string(),
        Some(s) => s,
    }
}

/// The sqllogictest column-type letter for a result column: `I` for integer
/// types, `R` for floating point and numeric, `T` for everything else.
pub fn slt_type_letter(data_type: &DataType) -> char {
    match data_type {
        DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Oid => 'I',
        DataType::Float4 | DataType::Float8 | DataType::Numeric(_) => 'R',
        _ => 'T',
    }
}

/// The error text `statement error <regex>` is matched against: the message
/// followed by the SQLSTATE, so a file can write `statement error 22012` as
/// well as `statement error division by zero`.
pub fn error_text(error: &Error) -> String {
    format!("{} (SQLSTATE {})", error.message, error.sqlstate.code())
}

/// The affected-row count PostgreSQL's command tag carries (`INSERT 0 5` is 5,
/// `SELECT 3` is 3); 0 for tags without one (`CREATE TABLE`).
pub fn tag_row_count(tag: &str) -> u64 {
    tag.rsplit(' ')
        .next()
        .and_then(|last| last.parse().ok())
        .unwrap_or(0)
}

/// Decimal digits below which float8 output stays in fixed notation (DBL_DIG).
const F64_DIGITS: i32 = 15;
/// The same for float4 (FLT_DIG).
const F32_DIGITS: i32 = 6;

/// PostgreSQL's float output: the shortest digits that round-trip (Rust's `{:e}`
/// gives exactly those), printed in fixed notation when the decimal exponent
/// is in `-4..digits`, else as `d.ddde+XX` with at least two exponent digits.
fn float_text(value: f64, shortest_sci: String, digits: i32) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // shortest_sci looks like "-1.2345e17" or "0e0".
    let (negative, unsigned) = match shortest_sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, shortest_sci.as_str()),
    };
    let (mantissa, exponent) = unsigned.split_once('e').unwrap_or((unsigned, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits_str: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if value == 0.0 {
        out.push('0');
        return out;
    }
    let n = digits_str.len() as i32;
    if exponent < -4 || exponent >= digits {
        out.push_str(&digits_str[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits_str[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.unsigned_abs()));
    } else if exponent >= 0 {
        let int_len = (exponent + 1) as usize;
        if digits_str.len() <= int_len {
            out.push_str(&digits_str);
            out.extend(std::iter::repeat_n('0', int_len - digits_str.len()));
        } else {
            out.push_str(&digits_str[..int_len]);
            out.push('.');
            out.push_str(&digits_str[int_len..]);
        }
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(&digits_str);
    }
    out
}

/// PostgreSQL's numeric output (`get_str_from_var`): base-10000 digits, the
/// integer part without leading zeros, exactly `dscale` fraction digits.
fn numeric_text(n: &Numeric) -> String {
    match n.sign {
        NumericSign::NaN => return "NaN".into(),
        NumericSign::PositiveInfinity => return "Infinity".into(),
        NumericSign::NegativeInfinity => return "-Infinity".into(),
        NumericSign::Positive | NumericSign::Negative => {}
    }
    let digit_at = |weight: i32| -> u16 {
        // digits[i] has weight `n.weight - i`.
        let index = i32::from(n.weight) - weight;
        usize::try_from(index)
            .ok()
            .and_then(|i| n.digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut out = String::new();
    if n.sign == NumericSign::Negative && !n.digits.iter().all(|d| *d == 0) {
        out.push('-');
    }
    if n.weight < 0 {
        out.push('0');
    } else {
        for w in (0..=i32::from(n.weight)).rev() {
            let d = digit_at(w);
            if w == i32::from(n.weight) {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if n.dscale > 0 {
        out.push('.');
        let mut fraction = String::new();
        let mut w = -1;
        while fraction.len() < usize::from(n.dscale) {
            fraction.push_str(&format!("{:04}", digit_at(w)));
            w -= 1;
        }
        fraction.truncate(usize::from(n.dscale));
        out.push_str(&fraction);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn numeric(sign: NumericSign, weight: i16, dscale: u16, digits: &[u16]) -> Value {
        Value::Numeric(Numeric {
            digits: digits.to_vec(),
            weight,
            sign,
            dscale,
        })
    }

    #[test]
    fn null_and_empty_string_have_placeholders() {
        assert_eq!(slt_text(&Value::Null), "NULL");
        assert_eq!(slt_text(&Value::Text(String::new())), "(empty)");
        assert_eq!(slt_text(&Value::Text("a b".into())), "a b");
        assert_eq!(pg_text(&Value::Null), None);
    }

    #[test]
    fn bools_and_integers_print_as_postgres_does() {
        assert_eq!(slt_text(&Value::Bool(true)), "t");
        assert_eq!(slt_text(&Value::Bool(false)), "f");
        assert_eq!(slt_text(&Value::Int2(-32768)), "-32768");
        assert_eq!(slt_text(&Value::Int8(i64::MAX)), "9223372036854775807");
    }

    /// Expected strings are PostgreSQL 15's output for the same values.
    #[test]
    fn floats_print_shortest_with_postgres_exponent_rules() {
        let cases: &[(f64, &str)] = &[
            (1e15, "1e+15"),
            (1e16, "1e+16"),
            (1e14, "100000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1.5e-7, "1.5e-07"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1.25e300, "1.25e+300"),
            (2.5, "2.5"),
            (-123.456, "-123.456"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(slt_text(&Value::Float8(*v)), *want, "float8 {v:e}");
        }
        let cases: &[(f32, &str)] = &[
            (1e15, "1e+15"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123456.0, "123456"),
            (0.1, "0.1"),
            (0.00001, "1e-05"),
            (f32::INFINITY, "Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(slt_text(&Value::Float4(*v)), *want, "float4 {v:e}");
        }
    }

    #[test]
    fn numerics_print_with_their_display_scale() {
        use NumericSign::*;
        // 12.50: digits [12, 5000], weight 0, dscale 2
        assert_eq!(slt_text(&numeric(Positive, 0, 2, &[12, 5000])), "12.50");
        // 123456789.0001: [1, 2345, 6789, 1], weight 2, dscale 4
        assert_eq!(
            slt_text(&numeric(Negative, 2, 4, &[1, 2345, 6789, 1])),
            "-123456789.0001"
        );
        // 0.000012: [0012] at weight -2 (0.0000|12), dscale 6
        assert_eq!(slt_text(&numeric(Positive, -2, 6, &[1200])), "0.000012");
        // 10000: [1] at weight 1, dscale 0 — trailing zero digit groups implied
        assert_eq!(slt_text(&numeric(Positive, 1, 0, &[1])), "10000");
        // zero with scale
        assert_eq!(slt_text(&numeric(Positive, 0, 3, &[])), "0.000");
        assert_eq!(slt_text(&numeric(Negative, 0, 0, &[])), "0");
        assert_eq!(slt_text(&numeric(NaN, 0, 0, &[])), "NaN");
        assert_eq!(slt_text(&numeric(NegativeInfinity, 0, 0, &[])), "-Infinity");
    }

    #[test]
    fn bytea_prints_as_hex() {
        assert_eq!(slt_text(&Value::Bytea(vec![0xde, 0xad, 0x01])), "\\xdead01");
    }

    #[test]
    fn type_letters_follow_the_slt_convention() {
        assert_eq!(slt_type_letter(&DataType::Int8), 'I');
        assert_eq!(slt_type_letter(&DataType::Numeric(None)), 'R');
        assert_eq!(slt_type_letter(&DataType::Float4), 'R');
        assert_eq!(slt_type_letter(&DataType::Bool), 'T');
        assert_eq!(slt_type_letter(&DataType::Varchar(Some(3))), 'T');
    }

    #[test]
    fn error_text_carries_the_sqlstate() {
        let e = Error::new(SqlState::DIVISION_BY_ZERO, "division by zero");
        assert_eq!(error_text(&e), "division by zero (SQLSTATE 22012)");
    }

    #[test]
    fn row_count_comes_from_the_tag() {
        assert_eq!(tag_row_count("INSERT 0 5"), 5);
        assert_eq!(tag_row_count("SELECT 3"), 3);
        assert_eq!(tag_row_count("UPDATE 0"), 0);
        assert_eq!(tag_row_count("CREATE TABLE"), 0);
        assert_eq!(tag_row_count(""), 0);
    }
}
