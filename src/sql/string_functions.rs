//! String functions beyond the basics in [`super::functions`]: regular
//! expressions (`~`, `regexp_replace`, `substring(… FROM pattern)`, SIMILAR
//! TO), `format`, `split_part`, `translate`, `to_hex`, `quote_*`, `md5`.
//!
//! ```text
//!   'abc' ~ 'b+'         -> Func::RegexMatch  -> regex::Regex (cached per thread)
//!   PostgreSQL ARE flags: i c n m s x g  ->  (?i) (?m) (?s) (?x), g = all matches
//!   SIMILAR TO 'a%'      -> translated to ^(?:a.*)$ (PostgreSQL's similar_to_escape)
//!   regexp_replace(s, p, '\1-\&')  -> replacement "${1}-${0}"
//! ```
//!
//! Regular expressions run on the `regex` crate, which differs from
//! PostgreSQL's ARE engine (no back-references, no lookahead; documented
//! in docs/compatibility.md); a pattern it cannot compile is 2201B.
//! Owns: the text semantics of these functions and their errors.
//! Never: resolves overloads (that is [`super::functions::lookup`]).

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

use crate::error::{Error, Result, SqlState};
use crate::types::Value;

/// Compiled patterns kept per thread (a statement runs on one thread).
const REGEX_CACHE_MAX: usize = 64;

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

fn invalid_regex(e: impl std::fmt::Display) -> Error {
    Error::new(
        SqlState("2201B"),
        format!("invalid regular expression: {e}"),
    )
}

/// Compiles `pattern` (already in the regex crate's syntax, with flags).
fn compile(pattern: &str) -> Result<Regex> {
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(pattern).cloned()) {
        return Ok(r);
    }
    let r = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 24)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => invalid_regex(s.lines().last().unwrap_or("").trim()),
            other => invalid_regex(other),
        })?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= REGEX_CACHE_MAX {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
    });
    Ok(r)
}

/// Parsed regex flags: the inline-flag prefix and whether `g` was given.
struct Flags {
    prefix: String,
    global: bool,
}

/// PostgreSQL's flag letters. Without `n`, `.` matches a newline and `^`/`$`
/// match only at the ends (the regex crate's `(?s)`).
fn parse_flags(flags: &str, case_insensitive: bool, allow_global: bool) -> Result<Flags> {
    let mut ci = case_insensitive;
    let mut newline = false;
    let mut expanded = false;
    let mut global = false;
    for c in flags.chars() {
        match c {
            'i' => ci = true,
            'c' => ci = false,
            'n' | 'm' => newline = true,
            's' => newline = false,
            'x' => expanded = true,
            't' => expanded = false,
            'g' if allow_global => global = true,
            _ => {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("invalid regular expression option: \"{c}\""),
                ));
            }
        }
    }
    let mut prefix = String::from("(?");
    if ci {
        prefix.push('i');
    }
    if newline {
        prefix.push('m');
    } else {
        prefix.push('s');
    }
    if expanded {
        prefix.push('x');
    }
    prefix.push(')');
    Ok(Flags { prefix, global })
}

/// Rewrites PostgreSQL ARE escapes the regex crate spells differently.
fn translate_are(pattern: &str) -> Result<String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('m' | 'M' | 'y') => out.push_str(r"\b"),
            Some('Y') => out.push_str(r"\B"),
            Some('Z') => out.push_str(r"\z"),
            Some(d @ '1'..='9') => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("back-references (\\{d}) in regular expressions are not supported"),
                ));
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => return Err(invalid_regex("invalid escape \\ sequence")),
        }
    }
    // The crate has no lookaround: say so rather than fail obscurely.
    if ["(?=", "(?!", "(?<=", "(?<!"]
        .iter()
        .any(|l| pattern.contains(l))
    {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "lookahead constraints in regular expressions are not supported",
        ));
    }
    Ok(out)
}

fn regex_for(pattern: &str, flags: &Flags) -> Result<Regex> {
    compile(&format!("{}{}", flags.prefix, translate_are(pattern)?))
}

/// `pattern` compiled with PostgreSQL's flag letters (`g` is not one).
pub(super) fn compile_with_flags(pattern: &str, flags: &str) -> Result<Regex> {
    regex_for(pattern, &parse_flags(flags, false, false)?)
}

/// Whether `flags` has `g` (22023 for a letter that is not a flag).
pub(super) fn global_flag(flags: &str) -> Result<bool> {
    Ok(parse_flags(flags, false, true)?.global)
}

/// `s ~ p` (and `~*`, `!~`, `!~*`).
pub fn regex_match(s: &str, pattern: &str, case_insensitive: bool) -> Result<bool> {
    let flags = parse_flags("", case_insensitive, false)?;
    Ok(regex_for(pattern, &flags)?.is_match(s))
}

/// `regexp_like(s, p [, flags])`.
pub fn regexp_like(s: &str, pattern: &str, flags: &str) -> Result<bool> {
    let flags = parse_flags(flags, false, false)?;
    Ok(regex_for(pattern, &flags)?.is_match(s))
}

/// `regexp_count(s, p [, start [, flags]])`.
pub fn regexp_count(s: &str, pattern: &str, start: i64, flags: &str) -> Result<i32> {
    if start <= 0 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid value for parameter \"start\": {start}"),
        ));
    }
    let flags = parse_flags(flags, false, false)?;
    let re = regex_for(pattern, &flags)?;
    let from = char_offset(s, start - 1);
    Ok(re.find_iter(&s[from..]).count() as i32)
}

/// `regexp_substr(s, p)`: the first match, NULL without one.
pub fn regexp_substr(s: &str, pattern: &str, flags: &str) -> Result<Value> {
    let flags = parse_flags(flags, false, false)?;
    let re = regex_for(pattern, &flags)?;
    Ok(re
        .find(s)
        .map(|m| Value::Text(m.as_str().to_string()))
        .unwrap_or(Value::Null))
}

/// The byte offset of character `n` (0-based) of `s`, or its length.
fn char_offset(s: &str, n: i64) -> usize {
    s.char_indices()
        .nth(n.max(0) as usize)
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

/// A PostgreSQL replacement string (`\1`…`\9`, `\&`, `\\`) in the regex
/// crate's syntax (`${1}`, `${0}`, `$$` for a dollar).
fn translate_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d @ '1'..='9') => {
                    chars.next();
                    out.push_str(&format!("${{{d}}}"));
                }
                Some('&') => {
                    chars.next();
                    out.push_str("${0}");
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    out
}

/// `regexp_replace(s, p, r [, flags])`: the first match, or all with `g`.
pub fn regexp_replace(s: &str, pattern: &str, replacement: &str, flags: &str) -> Result<String> {
    let flags = parse_flags(flags, false, true)?;
    let re = regex_for(pattern, &flags)?;
    let rep = translate_replacement(replacement);
    Ok(if flags.global {
        re.replace_all(s, rep.as_str()).into_owned()
    } else {
        re.replace(s, rep.as_str()).into_owned()
    })
}

/// `substring(s FROM pattern)`: the first parenthesized group's match if
/// the pattern has one, else the whole match; NULL without a match.
pub fn substring_regex(s: &str, pattern: &str) -> Result<Value> {
    let flags = parse_flags("", false, false)?;
    let re = regex_for(pattern, &flags)?;
    let Some(caps) = re.captures(s) else {
        return Ok(Value::Null);
    };
    let m = if re.captures_len() > 1 {
        caps.get(1)
    } else {
        caps.get(0)
    };
    Ok(m.map(|m| Value::Text(m.as_str().to_string()))
        .unwrap_or(Value::Null))
}

/// PostgreSQL's `similar_to_escape`: a SIMILAR TO pattern as an anchored
/// regular expression. `escape` None is the default `\`; Some('\0') is no
/// escape character.
pub fn similar_to_regex(pattern: &str, escape: Option<char>) -> Result<String> {
    let esc = match escape {
        None => Some('\\'),
        Some('\0') => None,
        Some(c) => Some(c),
    };
    let mut out = String::from("^(?:");
    let mut chars = pattern.chars();
    let mut in_bracket = false;
    let mut separators = 0;
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            let Some(n) = chars.next() else {
                return Err(Error::new(SqlState("2201B"), "invalid escape string")
                    .with_hint("Escape string must be empty or one character."));
            };
            if n == '"' {
                // \" … \" marks the part substring(… SIMILAR …) returns.
                separators += 1;
                out.push_str(if separators == 1 { "(" } else { ")" });
            } else {
                out.push_str(&regex::escape(&n.to_string()));
            }
            continue;
        }
        if in_bracket {
            if c == ']' {
                in_bracket = false;
            }
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
            continue;
        }
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '[' => {
                in_bracket = true;
                out.push('[');
            }
            '.' | '^' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push_str(")$");
    Ok(out)
}

/// `s [NOT] SIMILAR TO p [ESCAPE e]`.
pub fn similar_to(s: &str, pattern: &str, escape: Option<char>) -> Result<bool> {
    let re = compile(&format!("(?s){}", similar_to_regex(pattern, escape)?))?;
    Ok(re.is_match(s))
}

/// `substring(s SIMILAR p ESCAPE e)` / `substring(s FROM p FOR e)`.
pub fn substring_similar(s: &str, pattern: &str, escape: &str) -> Result<Value> {
    let mut chars = escape.chars();
    let esc = match (chars.next(), chars.next()) {
        (None, _) => Some('\0'),
        (Some(c), None) => Some(c),
        _ => {
            return Err(Error::new(SqlState("22025"), "invalid escape string")
                .with_hint("Escape string must be empty or one character."));
        }
    };
    let translated = similar_to_regex(pattern, esc)?;
    let re = compile(&format!("(?s){translated}"))?;
    let Some(caps) = re.captures(s) else {
        return Ok(Value::Null);
    };
    let m = if re.captures_len() > 1 {
        caps.get(1)
    } else {
        caps.get(0)
    };
    Ok(m.map(|m| Value::Text(m.as_str().to_string()))
        .unwrap_or(Value::Null))
}

/// `split_part(s, delimiter, n)`; negative n counts from the end.
pub fn split_part(s: &str, delim: &str, n: i64) -> Result<String> {
    if n == 0 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "field position must not be zero",
        ));
    }
    if delim.is_empty() {
        return Ok(if n == 1 || n == -1 {
            s.to_string()
        } else {
            String::new()
        });
    }
    let parts: Vec<&str> = s.split(delim).collect();
    let idx = if n > 0 {
        (n - 1) as usize
    } else {
        let back = (-n) as usize;
        if back > parts.len() {
            return Ok(String::new());
        }
        parts.len() - back
    };
    Ok(parts.get(idx).map(|p| p.to_string()).unwrap_or_default())
}

/// `translate(s, from, to)`: characters of `from` become the character at
/// the same place in `to`, or are dropped when `to` is shorter.
pub fn translate(s: &str, from: &str, to: &str) -> String {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    s.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect()
}

/// `quote_ident`: double quotes unless the name is a plain lower-case
/// identifier that is not a keyword.
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_reserved_keyword(s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Keywords `quote_ident` must quote (PostgreSQL quotes every keyword that
/// is not unreserved; this list has the reserved ones people meet).
fn is_reserved_keyword(s: &str) -> bool {
    matches!(
        s,
        "all"
            | "analyse"
            | "analyze"
            | "and"
            | "any"
            | "array"
            | "as"
            | "asc"
            | "asymmetric"
            | "between"
            | "bigint"
            | "bit"
            | "boolean"
            | "both"
            | "case"
            | "cast"
            | "char"
            | "character"
            | "check"
            | "coalesce"
            | "collate"
            | "column"
            | "constraint"
            | "create"
            | "current_catalog"
            | "current_date"
            | "current_role"
            | "current_time"
            | "current_timestamp"
            | "current_user"
            | "dec"
            | "decimal"
            | "default"
            | "deferrable"
            | "desc"
            | "distinct"
            | "do"
            | "else"
            | "end"
            | "except"
            | "exists"
            | "extract"
            | "false"
            | "fetch"
            | "float"
            | "for"
            | "foreign"
            | "from"
            | "grant"
            | "greatest"
            | "group"
            | "having"
            | "in"
            | "initially"
            | "inout"
            | "int"
            | "integer"
            | "intersect"
            | "interval"
            | "into"
            | "lateral"
            | "leading"
            | "least"
            | "limit"
            | "localtime"
            | "localtimestamp"
            | "national"
            | "nchar"
            | "none"
            | "normalize"
            | "not"
            | "null"
            | "nullif"
            | "numeric"
            | "offset"
            | "on"
            | "only"
            | "or"
            | "order"
            | "out"
            | "overlay"
            | "placing"
            | "position"
            | "precision"
            | "primary"
            | "real"
            | "references"
            | "returning"
            | "row"
            | "select"
            | "session_user"
            | "setof"
            | "smallint"
            | "some"
            | "substring"
            | "symmetric"
            | "table"
            | "then"
            | "time"
            | "timestamp"
            | "to"
            | "trailing"
            | "treat"
            | "trim"
            | "true"
            | "union"
            | "unique"
            | "user"
            | "using"
            | "values"
            | "varchar"
            | "variadic"
            | "when"
            | "where"
            | "window"
            | "with"
            | "xmlattributes"
            | "xmlconcat"
            | "xmlelement"
            | "xmlexists"
            | "xmlforest"
            | "xmlnamespaces"
            | "xmlparse"
            | "xmlpi"
            | "xmlroot"
            | "xmlserialize"
            | "xmltable"
            | "authorization"
            | "binary"
            | "collation"
            | "concurrently"
            | "cross"
            | "current_schema"
            | "freeze"
            | "full"
            | "ilike"
            | "inner"
            | "is"
            | "isnull"
            | "join"
            | "left"
            | "like"
            | "natural"
            | "notnull"
            | "outer"
            | "overlaps"
            | "right"
            | "similar"
            | "tablesample"
            | "verbose"
    )
}

/// `quote_literal`: single quotes, doubled inside; backslashes make it an
/// `E'…'` string with them doubled.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `to_hex` of an int4 or int8 (negative numbers in two's complement of
/// their width).
pub fn to_hex(v: &Value) -> Result<String> {
    Ok(match v {
        Value::Int4(i) => format!("{:x}", *i as u32),
        Value::Int8(i) => format!("{:x}", *i as u64),
        other => return Err(Error::internal(format!("to_hex of {other:?}"))),
    })
}

/// `md5(text)` / `md5(bytea)`: the digest in lower-case hex.
pub fn md5_hex(v: &Value) -> Result<String> {
    Ok(match v {
        Value::Text(s) => format!("{:x}", md5::compute(s.as_bytes())),
        Value::Bytea(b) => format!("{:x}", md5::compute(b)),
        other => return Err(Error::internal(format!("md5 of {other:?}"))),
    })
}

fn format_error(msg: impl Into<String>) -> Error {
    Error::new(SqlState::INVALID_PARAMETER_VALUE, msg)
}

/// `format(fmt, args…)` with `%s`, `%I`, `%L`, `%%`, positions (`%2$s`)
/// and widths (`%-10s`, `%*s`). `args` are the arguments as text (NULL
/// kept as `None`).
pub fn format(fmt: &str, args: &[Option<String>]) -> Result<String> {
    let mut out = String::new();
    let chars: Vec<char> = fmt.chars().collect();
    let mut i = 0;
    let mut next_arg = 0usize;
    let take = |n: usize| -> Result<Option<String>> {
        args.get(n)
            .cloned()
            .ok_or_else(|| format_error("too few arguments for format()"))
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&first) = chars.get(i) else {
            return Err(format_error("unterminated format() type specifier")
                .with_hint("For a single \"%\" use \"%%\"."));
        };
        if first == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        // [position$][flags][width]type
        let mut j = i;
        let mut num = String::new();
        while j < chars.len() && chars[j].is_ascii_digit() {
            num.push(chars[j]);
            j += 1;
        }
        let mut position = None;
        if !num.is_empty() && chars.get(j) == Some(&'$') {
            let p: usize = num
                .parse()
                .map_err(|_| format_error("number is out of range"))?;
            if p == 0 {
                return Err(format_error(
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            position = Some(p - 1);
            j += 1;
        } else {
            j = i;
        }
        let mut left = false;
        if chars.get(j) == Some(&'-') {
            left = true;
            j += 1;
        }
        let mut width: Option<i64> = None;
        if chars.get(j) == Some(&'*') {
            j += 1;
            let w = take(next_arg)?;
            next_arg += 1;
            let w: i64 = match w {
                None => 0,
                Some(t) => t
                    .trim()
                    .parse()
                    .map_err(|_| format_error("width argument must be an integer"))?,
            };
            if w < 0 {
                left = true;
            }
            width = Some(w.abs());
        } else {
            let mut wd = String::new();
            while j < chars.len() && chars[j].is_ascii_digit() {
                wd.push(chars[j]);
                j += 1;
            }
            if !wd.is_empty() {
                width = Some(
                    wd.parse()
                        .map_err(|_| format_error("number is out of range"))?,
                );
            }
        }
        let Some(&ty) = chars.get(j) else {
            return Err(format_error("unterminated format() type specifier")
                .with_hint("For a single \"%\" use \"%%\"."));
        };
        let n = match position {
            Some(p) => {
                next_arg = p + 1;
                p
            }
            None => {
                next_arg += 1;
                next_arg - 1
            }
        };
        let piece = match ty {
            's' => take(n)?.unwrap_or_default(),
            'I' => match take(n)? {
                Some(s) => quote_ident(&s),
                None => {
                    return Err(Error::new(
                        SqlState("22004"),
                        "null values cannot be formatted as an SQL identifier",
                    ));
                }
            },
            'L' => match take(n)? {
                Some(s) => quote_literal(&s),
                None => "NULL".to_string(),
            },
            other => {
                return Err(format_error(format!(
                    "unrecognized format() type specifier \"{other}\""
                ))
                .with_hint("For a single \"%\" use \"%%\"."));
            }
        };
        let len = piece.chars().count() as i64;
        match width {
            Some(w) if w > len => {
                let pad = " ".repeat((w - len) as usize);
                if left {
                    out.push_str(&piece);
                    out.push_str(&pad);
                } else {
                    out.push_str(&pad);
                    out.push_str(&piece);
                }
            }
            _ => out.push_str(&piece),
        }
        i = j + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_flags_and_escapes_follow_postgres() {
        assert!(regex_match("ABC", "b", true).unwrap());
        assert!(!regex_match("ABC", "b", false).unwrap());
        // Without the n flag '.' matches a newline.
        assert!(regexp_like("a\nb", "a.b", "").unwrap());
        assert!(!regexp_like("a\nb", "a.b", "n").unwrap());
        assert!(regexp_like("x", "X", "i").unwrap());
        assert_eq!(
            regexp_like("x", "X", "z").unwrap_err().sqlstate,
            SqlState::INVALID_PARAMETER_VALUE
        );
        assert_eq!(
            regex_match("a", "(", false).unwrap_err().sqlstate,
            SqlState("2201B")
        );
    }

    #[test]
    fn replacement_strings_use_backslash_groups() {
        assert_eq!(
            regexp_replace("abc abc", "(b)(c)", r"\2\1[\&]$", "g").unwrap(),
            "acb[bc]$ acb[bc]$"
        );
        assert_eq!(regexp_replace("aaa", "a", "b", "").unwrap(), "baa");
    }

    #[test]
    fn similar_to_translates_wildcards_and_escapes() {
        assert!(similar_to("abc", "a%", None).unwrap());
        assert!(similar_to("abc", "a_c", None).unwrap());
        assert!(!similar_to("abc", "b%", None).unwrap());
        assert!(similar_to("a.c", "a.c", None).unwrap());
        assert!(!similar_to("abc", "a.c", None).unwrap());
        assert!(similar_to("a%", "a#%", Some('#')).unwrap());
        assert!(similar_to("abab", "(ab)+", None).unwrap());
        assert!(similar_to("b", "[a-c]", None).unwrap());
    }

    #[test]
    fn format_handles_positions_widths_and_quoting() {
        let a = |v: &[Option<&str>]| -> Vec<Option<String>> {
            v.iter().map(|x| x.map(str::to_string)).collect()
        };
        assert_eq!(format("%s-%s", &a(&[Some("x"), None])).unwrap(), "x-");
        assert_eq!(
            format("%2$s %1$s", &a(&[Some("a"), Some("b")])).unwrap(),
            "b a"
        );
        assert_eq!(
            format("[%5s|%-5s]", &a(&[Some("ab"), Some("cd")])).unwrap(),
            "[   ab|cd   ]"
        );
        assert_eq!(
            format("%I %L %L", &a(&[Some("A b"), Some("it's"), None])).unwrap(),
            "\"A b\" 'it''s' NULL"
        );
        assert_eq!(format("100%%", &[]).unwrap(), "100%");
        assert!(format("%s %s", &a(&[Some("x")])).is_err());
        assert!(format("%z", &a(&[Some("x")])).is_err());
    }

    #[test]
    fn split_part_translate_and_quote() {
        assert_eq!(split_part("a,b,c", ",", 2).unwrap(), "b");
        assert_eq!(split_part("a,b,c", ",", -1).unwrap(), "c");
        assert_eq!(split_part("a,b,c", ",", 5).unwrap(), "");
        assert!(split_part("a", ",", 0).is_err());
        assert_eq!(translate("12345", "143", "ax"), "a2x5");
        assert_eq!(quote_ident("abc"), "abc");
        assert_eq!(quote_ident("Abc"), "\"Abc\"");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_literal("a'b"), "'a''b'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(to_hex(&Value::Int4(-1)).unwrap(), "ffffffff");
        assert_eq!(to_hex(&Value::Int8(255)).unwrap(), "ff");
    }
}
