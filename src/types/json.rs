//! `json` and `jsonb`: a small hand-written JSON parser (RFC 8259, as
//! PostgreSQL's `json_lex` accepts it), the jsonb tree and its printing.
//!
//! Why hand-written: it is ~300 lines, gives PostgreSQL's error details
//! ("Token "abc" is invalid.", "The input string ended unexpectedly.")
//! directly, and reads numbers straight into [`Numeric`] (jsonb numbers are
//! numerics: `2.50` keeps its scale, `1.0 = 1`), which a general-purpose
//! crate would first turn into floats.
//!
//! `json` keeps the input text verbatim (validated). `jsonb` is the tree
//! [`Jsonb`], normalised as PostgreSQL's jsonb is:
//!
//! - object keys sorted by length, then bytes; a duplicate key keeps the
//!   last value;
//! - printed with `", "` between elements and `": "` after keys.
//!
//! Order (`jsonb_cmp`): Object > Array > Boolean > Number > String > Null;
//! objects and arrays with more members are greater; then member by member.

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlState};

use super::Numeric;

#[derive(Debug, Clone, PartialEq)]
pub enum Jsonb {
    Null,
    Bool(bool),
    Number(Numeric),
    String(String),
    Array(Vec<Jsonb>),
    /// Sorted by (key length, key bytes), keys unique.
    Object(Vec<(String, Jsonb)>),
}

/// PostgreSQL adds `CONTEXT: JSON data, line 1: …`; arbordb's errors have
/// no context field yet, so the text is not repeated.
trait JsonContext {
    fn with_hint_context(self, text: &str) -> Self;
}

impl JsonContext for Error {
    fn with_hint_context(self, _text: &str) -> Error {
        self
    }
}

fn json_error(text: &str, detail: String) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        "invalid input syntax for type json",
    )
    .with_detail(detail)
    .with_hint_context(text)
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 6400;

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn ended(&self) -> Error {
        json_error(self.s, "The input string ended unexpectedly.".into())
    }

    /// "Token "x" is invalid." for the token starting at `start`.
    fn invalid_token(&self, start: usize) -> Error {
        let mut end = start;
        while end < self.b.len()
            && !matches!(
                self.b[end],
                b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b']' | b'}' | b'[' | b'{'
            )
        {
            end += 1;
        }
        if end == start {
            end = (start + 1).min(self.b.len());
        }
        let tok = self.s.get(start..end).unwrap_or("");
        json_error(self.s, format!("Token \"{tok}\" is invalid."))
    }

    fn expected(&self, what: &str) -> Error {
        let start = self.i;
        let mut end = start;
        while end < self.b.len() && !matches!(self.b[end], b' ' | b'\t' | b'\n' | b'\r') {
            end += 1;
            if end > start
                && matches!(
                    self.b[end - 1],
                    b',' | b':' | b']' | b'}' | b'[' | b'{' | b'"'
                )
            {
                break;
            }
        }
        let tok = self.s.get(start..end).unwrap_or("");
        json_error(self.s, format!("Expected {what}, but found \"{tok}\"."))
    }

    fn value(&mut self) -> Result<Jsonb> {
        self.ws();
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.ended());
        };
        match c {
            b'{' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "stack depth limit exceeded",
                    ));
                }
                self.i += 1;
                let mut members: Vec<(String, Jsonb)> = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Jsonb::Object(members));
                }
                loop {
                    self.ws();
                    match self.b.get(self.i) {
                        None => return Err(self.ended()),
                        Some(b'"') => {}
                        Some(_) => return Err(self.expected("string or \"}\"")),
                    }
                    let k = self.string()?;
                    self.ws();
                    match self.b.get(self.i) {
                        None => return Err(self.ended()),
                        Some(b':') => self.i += 1,
                        Some(_) => return Err(self.expected("\":\"")),
                    }
                    let v = self.value()?;
                    members.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        None => return Err(self.ended()),
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            break;
                        }
                        Some(_) => return Err(self.expected("\",\" or \"}\"")),
                    }
                }
                self.depth -= 1;
                Ok(Jsonb::Object(normalize_object(members)))
            }
            b'[' => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "stack depth limit exceeded",
                    ));
                }
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Jsonb::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        None => return Err(self.ended()),
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            break;
                        }
                        Some(_) => return Err(self.expected("\",\" or \"]\"")),
                    }
                }
                self.depth -= 1;
                Ok(Jsonb::Array(items))
            }
            b'"' => Ok(Jsonb::String(self.string()?)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let start = self.i;
                for (word, v) in [
                    ("true", Jsonb::Bool(true)),
                    ("false", Jsonb::Bool(false)),
                    ("null", Jsonb::Null),
                ] {
                    if self.s[start..].starts_with(word) {
                        let end = start + word.len();
                        if self.b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric()) {
                            self.i = end;
                            return Ok(v);
                        }
                    }
                }
                Err(self.invalid_token(start))
            }
        }
    }

    fn number(&mut self) -> Result<Jsonb> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.b.get(p.i).is_some_and(|c| c.is_ascii_digit()) {
                p.i += 1;
            }
            p.i - s
        };
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.invalid_token(start));
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.invalid_token(start));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.invalid_token(start));
            }
        }
        if self
            .b
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
        {
            return Err(self.invalid_token(start));
        }
        let text = &self.s[start..self.i];
        Ok(Jsonb::Number(Numeric::parse(text)?))
    }

    fn string(&mut self) -> Result<String> {
        // At the opening quote.
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.ended());
            };
            match c {
                b'"' => {
                    self.i += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(&e) = self.b.get(self.i + 1) else {
                        return Err(self.ended());
                    };
                    self.i += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hex = |p: &Self, at: usize| -> Option<u32> {
                                u32::from_str_radix(p.s.get(at..at + 4)?, 16).ok()
                            };
                            let Some(cp) = hex(self, self.i) else {
                                return Err(json_error(
                                    self.s,
                                    "\"\\u\" must be followed by four hexadecimal digits.".into(),
                                ));
                            };
                            self.i += 4;
                            let ch = if (0xD800..0xDC00).contains(&cp) {
                                let low = if self.s.get(self.i..self.i + 2) == Some("\\u") {
                                    hex(self, self.i + 2)
                                } else {
                                    None
                                };
                                match low {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        self.i += 6;
                                        char::from_u32(
                                            0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00),
                                        )
                                    }
                                    _ => None,
                                }
                            } else if cp == 0 {
                                return Err(Error::new(
                                    SqlState("22P05"),
                                    "unsupported Unicode escape sequence",
                                )
                                .with_detail("\\u0000 cannot be converted to text."));
                            } else {
                                char::from_u32(cp)
                            };
                            match ch {
                                Some(ch) => out.push(ch),
                                None => {
                                    return Err(json_error(
                                        self.s,
                                        "Unicode low surrogate must follow a high surrogate."
                                            .into(),
                                    ));
                                }
                            }
                        }
                        _ => {
                            let esc = self.s.get(self.i - 2..self.i).unwrap_or("\\");
                            return Err(json_error(
                                self.s,
                                format!("Escape sequence \"{esc}\" is invalid."),
                            ));
                        }
                    }
                }
                c if c < 0x20 => {
                    return Err(json_error(
                        self.s,
                        "Character with value 0x".to_string()
                            + &format!("{c:02x} must be escaped."),
                    ));
                }
                _ => {
                    // Copy one UTF-8 character.
                    let ch_len = self.s[self.i..]
                        .chars()
                        .next()
                        .map(char::len_utf8)
                        .unwrap_or(1);
                    out.push_str(&self.s[self.i..self.i + ch_len]);
                    self.i += ch_len;
                }
            }
        }
    }
}

fn key_order(a: &str, b: &str) -> Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Sorts keys as jsonb does and keeps the last of duplicate keys.
pub fn normalize_object(mut members: Vec<(String, Jsonb)>) -> Vec<(String, Jsonb)> {
    // Stable sort keeps input order among equal keys; keep the last.
    members.sort_by(|a, b| key_order(&a.0, &b.0));
    let mut out: Vec<(String, Jsonb)> = Vec::with_capacity(members.len());
    for (k, v) in members {
        match out.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => out.push((k, v)),
        }
    }
    out
}

/// One step of a `json` lookup: an object key or an array index.
pub enum Step<'a> {
    Key(&'a str),
    Index(i64),
    /// A `#>` path element: a key for objects, an index for arrays.
    Either(&'a str),
}

/// `json -> …` / `json #> …`: the text of the member a path leads to, as it
/// is written in `text` (json keeps its input text; of duplicate keys the
/// last wins, as in PostgreSQL). `text` must be valid JSON.
pub fn json_raw_lookup(text: &str, steps: &[Step<'_>]) -> Result<Option<String>> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let mut span = (0, text.len());
    for step in steps {
        p.i = span.0;
        p.ws();
        let Some(&c) = p.b.get(p.i) else {
            return Ok(None);
        };
        let mut found: Option<(usize, usize)> = None;
        match c {
            b'{' => {
                let key = match step {
                    Step::Key(k) | Step::Either(k) => *k,
                    Step::Index(_) => return Ok(None),
                };
                p.i += 1;
                loop {
                    p.ws();
                    if p.b.get(p.i) == Some(&b'}') {
                        break;
                    }
                    let k = p.string()?;
                    p.ws();
                    p.i += 1; // ':'
                    p.ws();
                    let start = p.i;
                    p.value()?;
                    if k == key {
                        found = Some((start, p.i));
                    }
                    p.ws();
                    if p.b.get(p.i) == Some(&b',') {
                        p.i += 1;
                    } else {
                        break;
                    }
                }
            }
            b'[' => {
                let index = match step {
                    Step::Index(i) => *i,
                    Step::Either(s) => match s.trim().parse::<i64>() {
                        Ok(i) => i,
                        Err(_) => return Ok(None),
                    },
                    Step::Key(_) => return Ok(None),
                };
                p.i += 1;
                let mut items = Vec::new();
                loop {
                    p.ws();
                    if p.b.get(p.i) == Some(&b']') {
                        break;
                    }
                    let start = p.i;
                    p.value()?;
                    items.push((start, p.i));
                    p.ws();
                    if p.b.get(p.i) == Some(&b',') {
                        p.i += 1;
                    } else {
                        break;
                    }
                }
                let len = items.len() as i64;
                let i = if index < 0 { len + index } else { index };
                if i >= 0 {
                    found = items.get(i as usize).copied();
                }
            }
            _ => return Ok(None),
        }
        match found {
            Some(f) => span = f,
            None => return Ok(None),
        }
    }
    let raw = text.get(span.0..span.1).unwrap_or("").trim();
    Ok(Some(raw.to_string()))
}

/// Parses JSON text into the jsonb tree (22P02 on bad input).
pub fn parse_json(text: &str) -> Result<Jsonb> {
    let mut p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i < p.b.len() {
        return Err(p.expected("end of input"));
    }
    Ok(v)
}

/// Appends a JSON string literal with PostgreSQL's escaping (`escape_json`).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `v` as `to_json` renders it: numbers and booleans as JSON
/// literals (NaN and the infinities as strings), NULL as `null`, json and
/// jsonb as themselves, arrays element by element, timestamps in ISO 8601
/// with a `T`, everything else as a string of its text output.
pub fn push_value(out: &mut String, v: &super::Value) {
    use super::Value as V;
    match v {
        V::Null => out.push_str("null"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Int2(_) | V::Int4(_) | V::Int8(_) | V::Numeric(_) | V::Float4(_) | V::Float8(_) => {
            let t = v.to_text();
            if t.parse::<f64>().is_ok_and(f64::is_finite) {
                out.push_str(&t);
            } else {
                push_json_string(out, &t);
            }
        }
        V::Json(s) => out.push_str(s),
        V::Jsonb(j) => j.write(out),
        V::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push(']');
        }
        V::Timestamp(_) | V::Timestamptz(_) => {
            let t = v.to_text();
            let mut iso = t.replacen(' ', "T", 1);
            // `+00` becomes `+00:00`, as PostgreSQL's JSON timestamps.
            if matches!(v, V::Timestamptz(_)) {
                let tail = iso.len().saturating_sub(3);
                if let Some(sign) = iso[tail..].chars().next()
                    && (sign == '+' || sign == '-')
                    && iso[tail + 1..].bytes().all(|b| b.is_ascii_digit())
                {
                    iso.push_str(":00");
                }
            }
            push_json_string(out, &iso);
        }
        other => push_json_string(out, &other.to_text()),
    }
}

impl Jsonb {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }

    fn write(&self, out: &mut String) {
        match self {
            Jsonb::Null => out.push_str("null"),
            Jsonb::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Jsonb::Number(n) => out.push_str(&n.to_string()),
            Jsonb::String(s) => push_json_string(out, s),
            Jsonb::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Jsonb::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    push_json_string(out, k);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// `jsonb_typeof`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Jsonb::Null => "null",
            Jsonb::Bool(_) => "boolean",
            Jsonb::Number(_) => "number",
            Jsonb::String(_) => "string",
            Jsonb::Array(_) => "array",
            Jsonb::Object(_) => "object",
        }
    }

    /// `-> text`: an object member.
    pub fn get_key(&self, key: &str) -> Option<&Jsonb> {
        match self {
            Jsonb::Object(m) => m
                .binary_search_by(|(k, _)| key_order(k, key))
                .ok()
                .map(|i| &m[i].1),
            _ => None,
        }
    }

    /// `-> int`: an array element, negative counting from the end.
    pub fn get_index(&self, index: i64) -> Option<&Jsonb> {
        match self {
            Jsonb::Array(items) => {
                let len = items.len() as i64;
                let i = if index < 0 { len + index } else { index };
                if i < 0 { None } else { items.get(i as usize) }
            }
            _ => None,
        }
    }

    /// `#>`: follows a path of keys / indexes.
    pub fn get_path(&self, path: &[String]) -> Option<&Jsonb> {
        let mut cur = self;
        for step in path {
            cur = match cur {
                Jsonb::Object(_) => cur.get_key(step)?,
                Jsonb::Array(_) => cur.get_index(step.trim().parse::<i64>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// `->>`: text of a scalar, JSON text of a container, NULL for null.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Jsonb::Null => None,
            Jsonb::String(s) => Some(s.clone()),
            other => Some(other.to_text()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Jsonb::Null => 0,
            Jsonb::String(_) => 1,
            Jsonb::Number(_) => 2,
            Jsonb::Bool(_) => 3,
            Jsonb::Array(_) => 4,
            Jsonb::Object(_) => 5,
        }
    }

    /// jsonb's btree order (see the module doc).
    pub fn cmp_jsonb(&self, other: &Jsonb) -> Ordering {
        match (self, other) {
            (Jsonb::Null, Jsonb::Null) => Ordering::Equal,
            (Jsonb::Bool(a), Jsonb::Bool(b)) => a.cmp(b),
            (Jsonb::Number(a), Jsonb::Number(b)) => a.cmp_total(b),
            (Jsonb::String(a), Jsonb::String(b)) => a
                .len()
                .cmp(&b.len())
                .then_with(|| a.as_bytes().cmp(b.as_bytes())),
            (Jsonb::Array(a), Jsonb::Array(b)) => a.len().cmp(&b.len()).then_with(|| {
                a.iter()
                    .zip(b)
                    .map(|(x, y)| x.cmp_jsonb(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            }),
            (Jsonb::Object(a), Jsonb::Object(b)) => a.len().cmp(&b.len()).then_with(|| {
                a.iter()
                    .zip(b)
                    .map(|((ka, va), (kb, vb))| key_order(ka, kb).then_with(|| va.cmp_jsonb(vb)))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            }),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonb_normalises_keys_and_prints_like_postgres() {
        let v = parse_json(r#"{"b":1, "a" : [1,2.50,{"c":null}], "aa":true, "b":2}"#).unwrap();
        assert_eq!(
            v.to_text(),
            r#"{"a": [1, 2.50, {"c": null}], "b": 2, "aa": true}"#
        );
        assert_eq!(parse_json(r#""x\u00e9\n""#).unwrap().to_text(), "\"xé\\n\"");
        assert_eq!(parse_json("1e3").unwrap().to_text(), "1000");
        assert_eq!(
            parse_json(r#""\ud83d\ude00""#).unwrap(),
            Jsonb::String("😀".into())
        );
    }

    #[test]
    fn bad_json_names_the_problem() {
        let e = parse_json(r#"{"a":1"#).unwrap_err();
        assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION);
        assert_eq!(
            e.detail.as_deref(),
            Some("The input string ended unexpectedly.")
        );
        let e = parse_json("abc").unwrap_err();
        assert_eq!(e.detail.as_deref(), Some("Token \"abc\" is invalid."));
        for bad in [
            "",
            "01",
            "1.",
            "[1,]",
            "{\"a\" 1}",
            "tru",
            "\"\\x\"",
            "[1] 2",
            "-",
            "1e",
        ] {
            assert!(parse_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lookups_and_order() {
        let v = parse_json(r#"{"a":{"b":[10,20]}}"#).unwrap();
        let path = vec!["a".to_string(), "b".to_string(), "1".to_string()];
        assert_eq!(v.get_path(&path).unwrap().to_text(), "20");
        assert_eq!(
            parse_json("[1,2,3]")
                .unwrap()
                .get_index(-1)
                .unwrap()
                .to_text(),
            "3"
        );
        let one = parse_json("1.0").unwrap();
        assert_eq!(one.cmp_jsonb(&parse_json("1").unwrap()), Ordering::Equal);
        assert_eq!(
            parse_json("{\"a\":1}")
                .unwrap()
                .cmp_jsonb(&parse_json("[1,2,3]").unwrap()),
            Ordering::Greater
        );
        assert_eq!(
            parse_json("[1,2]")
                .unwrap()
                .cmp_jsonb(&parse_json("[1,3]").unwrap()),
            Ordering::Less
        );
    }
}
