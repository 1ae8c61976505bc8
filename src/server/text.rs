//! PostgreSQL's text wire format for values ("format code 0").
//!
//! Owns: the seam between the wire and the type library's text forms.
//! Never: defines a text form of its own. Output is [`Value::to_text`] and
//! input [`types::parse_text`] (each type's PostgreSQL output and input
//! function), so the wire prints exactly what the engine and the test
//! harness print.

use crate::error::Result;
use crate::types::{self, DataType, Value};

/// The text form of a non-NULL value, as PostgreSQL prints it.
pub fn encode(value: &Value) -> String {
    value.to_text()
}

/// Parses the text form of a parameter of type `ty`. A parameter whose type
/// is still unknown stays text, for the statement to coerce.
pub fn decode(ty: &DataType, s: &str) -> Result<Value> {
    match ty {
        DataType::Unknown => Ok(Value::Text(s.to_owned())),
        // `'pg_class'` for a regclass parameter: a name the statement looks
        // up in the catalog (the wire has none).
        DataType::Reg(_) if !s.trim().bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Value::Text(s.to_owned()))
        }
        ty => types::parse_text(ty, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    #[test]
    fn text_parameters_parse_or_fail_with_sqlstate() {
        assert_eq!(decode(&DataType::Int4, "41").unwrap(), Value::Int4(41));
        assert_eq!(
            decode(&DataType::Int4, "x").unwrap_err().sqlstate,
            SqlState::INVALID_TEXT_REPRESENTATION
        );
        assert_eq!(
            decode(&DataType::Int2, "40000").unwrap_err().sqlstate,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
        assert_eq!(
            decode(&DataType::Unknown, "anything").unwrap(),
            Value::Text("anything".into())
        );
    }

    #[test]
    fn output_is_the_type_library_text_form() {
        assert_eq!(encode(&Value::Bool(true)), "t");
        assert_eq!(encode(&Value::Float8(1e21)), "1e+21");
        assert_eq!(encode(&Value::Bytea(vec![0xde, 0xad])), "\\xdead");
    }
}
