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
//! This module is not part of the database's public API (`#[doc(hidden)]`).
//! Its tests pin the printing convention with PostgreSQL 15's own output, so
//! they also guard `types/`' text output.

use crate::error::Error;
use crate::types::{DataType, Value};

/// What a NULL prints as in `.slt` results.
pub const NULL_TEXT: &str = "NULL";
/// What an empty string prints as in `.slt` results (an empty line would end
/// the record).
pub const EMPTY_TEXT: &str = "(empty)";

/// The PostgreSQL text-format output of a value; `None` for NULL. The
/// conversion itself is `types/`'s ([`Value::to_text`]), the same the server
/// sends, so the embedded and wire targets print alike.
pub fn pg_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        v => Some(v.to_text()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;
    use crate::types::Numeric;
    use crate::types::numeric::NumericSign;

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
