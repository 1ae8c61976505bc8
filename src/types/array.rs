//! One-dimensional arrays of the scalar types: `{1,2,NULL}` text input and
//! output with PostgreSQL's quoting, and their order.
//!
//! A value is [`Value::Array`]: the elements in order, lower bound 1 (the
//! element type is the column's `DataType::Array(elem)`). Multi-dimensional
//! arrays and explicit bounds (`[0:1]={…}`) are not supported yet (0A000).
//!
//! Output (`array_out`): elements in their type's text form, double-quoted
//! when empty, equal to `NULL` (any case), or containing `{ } , " \` or
//! white space, with `"` and `\` backslash-escaped inside quotes; NULL
//! elements print as `NULL`.
//!
//! Order (`array_cmp`): element by element (a NULL element above every
//! value), then the shorter array first.

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlState};

use super::{DataType, Value};

fn needs_quotes(s: &str) -> bool {
    s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace())
}

/// `array_out` for a one-dimensional array.
pub fn array_to_text(items: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if v.is_null() {
            out.push_str("NULL");
            continue;
        }
        let t = v.to_text();
        if needs_quotes(&t) {
            out.push('"');
            for c in t.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&t);
        }
    }
    out.push('}');
    out
}

fn malformed(text: &str, detail: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{text}\""),
    )
    .with_detail(detail.to_string())
}

/// `array_in` for a one-dimensional array of `elem`.
pub fn parse_array(elem: &DataType, text: &str) -> Result<Value> {
    let s = text.trim_matches(|c: char| c.is_ascii_whitespace());
    if s.starts_with('[') {
        return Err(Error::unsupported("array literals with explicit bounds"));
    }
    let Some(inner) = s.strip_prefix('{') else {
        return Err(malformed(
            text,
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let chars: Vec<char> = inner.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(&mut i);
    if chars.get(i) == Some(&'}') {
        i += 1;
        skip_ws(&mut i);
        if i != chars.len() {
            return Err(malformed(text, "Junk after closing right brace."));
        }
        return Ok(Value::Array(items));
    }
    loop {
        skip_ws(&mut i);
        let (raw, quoted) = match chars.get(i) {
            None => return Err(malformed(text, "Unexpected end of input.")),
            Some('{') => return Err(Error::unsupported("multidimensional arrays")),
            Some('"') => {
                i += 1;
                let mut v = String::new();
                loop {
                    match chars.get(i) {
                        None => return Err(malformed(text, "Unexpected end of input.")),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some(c) => v.push(*c),
                                None => return Err(malformed(text, "Unexpected end of input.")),
                            }
                            i += 1;
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1;
                        }
                    }
                }
                (v, true)
            }
            Some(_) => {
                let mut v = String::new();
                while let Some(&c) = chars.get(i) {
                    match c {
                        ',' | '}' => break,
                        '{' | '"' => {
                            return Err(malformed(text, "Unexpected array element."));
                        }
                        '\\' => {
                            i += 1;
                            match chars.get(i) {
                                Some(c) => v.push(*c),
                                None => return Err(malformed(text, "Unexpected end of input.")),
                            }
                        }
                        c => v.push(c),
                    }
                    i += 1;
                }
                (
                    v.trim_end_matches(|c: char| c.is_ascii_whitespace())
                        .to_string(),
                    false,
                )
            }
        };
        if !quoted && raw.is_empty() {
            return Err(malformed(text, "Unexpected \",\" character."));
        }
        items.push(if !quoted && raw.eq_ignore_ascii_case("null") {
            Value::Null
        } else {
            super::parse_text(elem, &raw)?
        });
        skip_ws(&mut i);
        match chars.get(i) {
            Some(',') => i += 1,
            Some('}') => {
                i += 1;
                skip_ws(&mut i);
                if i != chars.len() {
                    return Err(malformed(text, "Junk after closing right brace."));
                }
                return Ok(Value::Array(items));
            }
            None => return Err(malformed(text, "Unexpected end of input.")),
            Some(_) => return Err(malformed(text, "Unexpected array element.")),
        }
    }
}

/// `array_cmp`, given the element comparison.
pub fn compare_arrays(
    a: &[Value],
    b: &[Value],
    cmp: impl Fn(&Value, &Value) -> Result<Ordering>,
) -> Result<Ordering> {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => cmp(x, y)?,
        };
        if o != Ordering::Equal {
            return Ok(o);
        }
    }
    Ok(a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_text_round_trips_with_postgres_quoting() {
        let v = parse_array(&DataType::Text, r#"{a, "b c" ,NULL,"NULL","",\"x,"q\"\\"}"#).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Text("a".into()),
                Value::Text("b c".into()),
                Value::Null,
                Value::Text("NULL".into()),
                Value::Text("".into()),
                Value::Text("\"x".into()),
                Value::Text("q\"\\".into()),
            ])
        );
        let Value::Array(items) = &v else { panic!() };
        assert_eq!(
            array_to_text(items),
            r#"{a,"b c",NULL,"NULL","","\"x","q\"\\"}"#
        );
        assert_eq!(
            parse_array(&DataType::Int4, " { 1 , 2 } ").unwrap(),
            Value::Array(vec![Value::Int4(1), Value::Int4(2)])
        );
        assert_eq!(
            parse_array(&DataType::Int4, "{}").unwrap(),
            Value::Array(vec![])
        );
        for bad in ["1,2", "{1,2", "{1,,2}", "{1}x", "{\"a}"] {
            let e = parse_array(&DataType::Int4, bad).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION, "{bad}");
        }
        assert_eq!(
            parse_array(&DataType::Int4, "{a}").unwrap_err().message,
            "invalid input syntax for type integer: \"a\""
        );
    }
}
