//! PostgreSQL's text wire format for values ("format code 0").
//!
//! Owns: the seam between the wire and the type library's text forms.
//! Never: defines a text form of its own for long. Output is
//! `Value::to_text()` and input `types::parse_text()` from the SQL layer;
//! until those land on main, the minimal forms below stand in for them
//! (PostgreSQL's output for the few value kinds that exist so far) and are
//! deleted when they do.

use crate::error::{Error, Result, SqlState};
use crate::types::numeric::NumericSign;
use crate::types::{DataType, Numeric, Value};

/// The text form of a non-NULL value, as PostgreSQL prints it.
pub fn encode(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_owned(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Float4(v) => float_text(f64::from(*v), 6),
        Value::Float8(v) => float_text(*v, 15),
        Value::Numeric(n) => numeric_text(n),
        Value::Text(s) => s.clone(),
        Value::Bytea(b) => {
            let mut s = String::with_capacity(2 + 2 * b.len());
            s.push_str("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
    }
}

/// Shortest round-trip digits, in exponent form outside PostgreSQL's range
/// (exponent < -4 or >= `digits`), e.g. `1e+21`, `1.5e-07`.
fn float_text(v: f64, digits: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let exp = v.abs().log10().floor() as i32;
    if (-4..digits).contains(&exp) {
        return format!("{v}");
    }
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((mantissa, e)) => {
            let (sign, e) = e.strip_prefix('-').map_or(("+", e), |e| ("-", e));
            format!("{mantissa}e{sign}{e:0>2}")
        }
        None => s,
    }
}

fn numeric_text(n: &Numeric) -> String {
    match n.sign {
        NumericSign::NaN => return "NaN".into(),
        NumericSign::PositiveInfinity => return "Infinity".into(),
        NumericSign::NegativeInfinity => return "-Infinity".into(),
        NumericSign::Positive | NumericSign::Negative => {}
    }
    let mut s = String::new();
    if n.sign == NumericSign::Negative && !n.digits.is_empty() {
        s.push('-');
    }
    let digit_at = |w: i32| -> u16 {
        let idx = i32::from(n.weight) - w;
        usize::try_from(idx)
            .ok()
            .and_then(|i| n.digits.get(i).copied())
            .unwrap_or(0)
    };
    // Integer part: base-10000 digits of weight >= 0.
    if n.weight < 0 || n.digits.is_empty() {
        s.push('0');
    } else {
        for w in (0..=i32::from(n.weight)).rev() {
            let d = digit_at(w);
            if w == i32::from(n.weight) {
                s.push_str(&d.to_string());
            } else {
                s.push_str(&format!("{d:04}"));
            }
        }
    }
    if n.dscale > 0 {
        s.push('.');
        let mut frac = String::new();
        let mut w = -1;
        while frac.len() < usize::from(n.dscale) {
            frac.push_str(&format!("{:04}", digit_at(w)));
            w -= 1;
        }
        frac.truncate(usize::from(n.dscale));
        s.push_str(&frac);
    }
    s
}

/// Parses the text form of a parameter of type `ty`.
pub fn decode(ty: &DataType, s: &str) -> Result<Value> {
    let invalid = || {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {}: \"{s}\"", ty.name()),
        )
    };
    let out_of_range = || {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{s}\" is out of range for type {}", ty.name()),
        )
    };
    let int = |s: &str| -> Result<i64> {
        let t = s.trim();
        if t.is_empty()
            || !t
                .trim_start_matches(['+', '-'])
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        t.parse::<i64>().map_err(|_| out_of_range())
    };
    Ok(match ty {
        DataType::Bool => match s.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "y" | "yes" | "on" | "1" => Value::Bool(true),
            "f" | "false" | "n" | "no" | "off" | "0" => Value::Bool(false),
            _ => return Err(invalid()),
        },
        DataType::Int2 => Value::Int2(i16::try_from(int(s)?).map_err(|_| out_of_range())?),
        DataType::Int4 => Value::Int4(i32::try_from(int(s)?).map_err(|_| out_of_range())?),
        DataType::Int8 => Value::Int8(int(s)?),
        DataType::Float4 => Value::Float4(s.trim().parse::<f32>().map_err(|_| invalid())?),
        DataType::Float8 => Value::Float8(s.trim().parse::<f64>().map_err(|_| invalid())?),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
            Value::Text(s.to_owned())
        }
        other => {
            return Err(Error::unsupported(format!(
                "text input for parameters of type {}",
                other.name()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_text_follows_dscale() {
        let n = Numeric {
            digits: vec![1234, 5678],
            weight: 0,
            sign: NumericSign::Positive,
            dscale: 4,
        };
        assert_eq!(encode(&Value::Numeric(n)), "1234.5678");
        let n = Numeric {
            digits: vec![1],
            weight: -1,
            sign: NumericSign::Negative,
            dscale: 4,
        };
        assert_eq!(encode(&Value::Numeric(n)), "-0.0001");
        let n = Numeric {
            digits: vec![3, 5000],
            weight: 0,
            sign: NumericSign::Positive,
            dscale: 20,
        };
        assert_eq!(encode(&Value::Numeric(n)), "3.50000000000000000000");
        let n = Numeric {
            digits: vec![1],
            weight: 2,
            sign: NumericSign::Positive,
            dscale: 0,
        };
        assert_eq!(encode(&Value::Numeric(n)), "100000000");
    }

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(encode(&Value::Float8(0.1)), "0.1");
        assert_eq!(encode(&Value::Float8(1e21)), "1e+21");
        assert_eq!(encode(&Value::Float8(1.5e-7)), "1.5e-07");
        assert_eq!(encode(&Value::Float8(f64::INFINITY)), "Infinity");
        assert_eq!(encode(&Value::Float8(3.0)), "3");
    }

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
        assert_eq!(decode(&DataType::Bool, "yes").unwrap(), Value::Bool(true));
    }
}
