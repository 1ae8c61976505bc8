//! The regular-expression functions that return positions, arrays and
//! sets: `regexp_match`, `regexp_matches` (a set, all matches with `g`),
//! `regexp_split_to_table` / `regexp_split_to_array`, `regexp_instr`,
//! `regexp_substr` (all arguments); and `width_bucket`, `num_nulls`,
//! `num_nonnulls`.
//!
//! ```text
//!   regexp_matches('foobarbequebazilbarfbonk', '(b[^b]+)(b[^b]+)', 'g')
//!   -> {bar,beque}, {bazil,barf}
//!   regexp_split_to_array('abc', 'b*')  -> {a,c}   (empty matches at the
//!                                                   start, the end and right
//!                                                   after a match are skipped)
//! ```
//!
//! Owns: PostgreSQL's match walk (setup_regexp_matches: after an empty
//! match the search moves on one character; the split skips degenerate
//! matches), 1-based character positions, and PostgreSQL's 22023 / 2201G
//! argument errors. Patterns compile as in [`super::string_functions`].
//! Never: binds (the signatures are in [`super::functions`]).

use regex::Regex;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::string_functions::{compile_with_flags, global_flag};

/// One match: its byte range and its groups' byte ranges.
struct Match {
    start: usize,
    end: usize,
    groups: Vec<Option<(usize, usize)>>,
}

/// The matches of `re` in `s` from byte `from`, as PostgreSQL walks them;
/// `all`: every match (else the first); `skip_degenerate`: drop empty
/// matches at the start or end of `s` or right after the previous match.
fn matches(re: &Regex, s: &str, from: usize, all: bool, skip_degenerate: bool) -> Vec<Match> {
    let mut out = Vec::new();
    let mut at = from;
    let mut prev_end = from;
    while at <= s.len() {
        let Some(caps) = re.captures_at(s, at) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        if !skip_degenerate || (m.start() < s.len() && m.end() > prev_end) {
            out.push(Match {
                start: m.start(),
                end: m.end(),
                groups: (1..caps.len())
                    .map(|i| caps.get(i).map(|g| (g.start(), g.end())))
                    .collect(),
            });
        }
        prev_end = m.end();
        if !all {
            break;
        }
        at = m.end();
        if m.start() == m.end() {
            // Step over one character.
            match s[at..].chars().next() {
                Some(c) => at += c.len_utf8(),
                None => break,
            }
        }
    }
    out
}

fn option_error(func: &str) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("{func}() does not support the \"global\" option"),
    )
}

/// The pattern compiled with `flags`, 22023 if `g` is among them.
fn compile_no_global(func: &str, pattern: &str, flags: &str) -> Result<Regex> {
    if global_flag(flags)? {
        let e = option_error(func);
        return Err(if func == "regexp_match" {
            e.with_hint("Use the regexp_matches function instead.")
        } else {
            e
        });
    }
    compile_with_flags(pattern, flags)
}

/// A match as PostgreSQL's text[]: its groups, or the whole match when the
/// pattern has none (NULL for a group that did not take part).
fn match_array(s: &str, m: &Match) -> Value {
    if m.groups.is_empty() {
        return Value::Array(vec![Value::Text(s[m.start..m.end].to_string())]);
    }
    Value::Array(
        m.groups
            .iter()
            .map(|g| match g {
                Some((a, b)) => Value::Text(s[*a..*b].to_string()),
                None => Value::Null,
            })
            .collect(),
    )
}

/// `regexp_match(s, p [, flags])`: the first match's array, NULL without one.
pub fn regexp_match(s: &str, pattern: &str, flags: &str) -> Result<Value> {
    let re = compile_no_global("regexp_match", pattern, flags)?;
    Ok(matches(&re, s, 0, false, false)
        .first()
        .map(|m| match_array(s, m))
        .unwrap_or(Value::Null))
}

/// `regexp_matches(s, p [, flags])`: one array per match (all with `g`).
pub fn regexp_matches(s: &str, pattern: &str, flags: &str) -> Result<Vec<Value>> {
    let all = global_flag(flags)?;
    let re = compile_with_flags(pattern, &flags.replace('g', ""))?;
    Ok(matches(&re, s, 0, all, false)
        .iter()
        .map(|m| match_array(s, m))
        .collect())
}

/// `regexp_split_to_table(s, p [, flags])`: the pieces between matches.
pub fn regexp_split(func: &str, s: &str, pattern: &str, flags: &str) -> Result<Vec<Value>> {
    let re = compile_no_global(func, pattern, flags)?;
    let mut out = Vec::new();
    let mut from = 0;
    for m in matches(&re, s, 0, true, true) {
        out.push(Value::Text(s[from..m.start].to_string()));
        from = m.end;
    }
    out.push(Value::Text(s[from..].to_string()));
    Ok(out)
}

fn bad_parameter(name: &str, v: i64) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": {v}"),
    )
}

/// The byte offset of 1-based character `start` (or the end of `s`).
fn byte_of_char(s: &str, start: i64) -> usize {
    s.char_indices()
        .nth((start - 1).max(0) as usize)
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

fn char_pos(s: &str, byte: usize) -> i32 {
    s[..byte].chars().count() as i32 + 1
}

/// The `n`th match from character `start`, and the byte range of its
/// group `subexpr` (0: the whole match); None without one.
fn nth_match(
    func: &str,
    s: &str,
    pattern: &str,
    start: i64,
    n: i64,
    flags: &str,
    subexpr: i64,
) -> Result<Option<(usize, usize)>> {
    if start <= 0 {
        return Err(bad_parameter("start", start));
    }
    if n <= 0 {
        return Err(bad_parameter("n", n));
    }
    if subexpr < 0 {
        return Err(bad_parameter("subexpr", subexpr));
    }
    let re = compile_no_global(func, pattern, flags)?;
    let from = byte_of_char(s, start);
    if from >= s.len() && start as usize > s.chars().count() + 1 {
        return Ok(None);
    }
    let found = matches(&re, s, from, true, false);
    let Some(m) = found.get((n - 1) as usize) else {
        return Ok(None);
    };
    if subexpr == 0 {
        return Ok(Some((m.start, m.end)));
    }
    Ok(m.groups.get((subexpr - 1) as usize).copied().flatten())
}

/// `regexp_instr(s, p [, start [, n [, endoption [, flags [, subexpr]]]]])`.
pub fn regexp_instr(
    s: &str,
    pattern: &str,
    start: i64,
    n: i64,
    endoption: i64,
    flags: &str,
    subexpr: i64,
) -> Result<i32> {
    if start <= 0 {
        return Err(bad_parameter("start", start));
    }
    if n <= 0 {
        return Err(bad_parameter("n", n));
    }
    if endoption != 0 && endoption != 1 {
        return Err(bad_parameter("endoption", endoption));
    }
    Ok(
        match nth_match("regexp_instr", s, pattern, start, n, flags, subexpr)? {
            None => 0,
            Some((a, b)) => char_pos(s, if endoption == 1 { b } else { a }),
        },
    )
}

/// `regexp_substr(s, p [, start [, n [, flags [, subexpr]]]])`.
pub fn regexp_substr(
    s: &str,
    pattern: &str,
    start: i64,
    n: i64,
    flags: &str,
    subexpr: i64,
) -> Result<Value> {
    Ok(
        match nth_match("regexp_substr", s, pattern, start, n, flags, subexpr)? {
            None => Value::Null,
            Some((a, b)) => Value::Text(s[a..b].to_string()),
        },
    )
}

fn bucket_error(msg: &str) -> Error {
    Error::new(SqlState("2201G"), msg.to_string())
}

fn int_out_of_range() -> Error {
    Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "integer out of range")
}

/// `width_bucket(operand, low, high, count)` over float8.
pub fn width_bucket_f64(x: f64, low: f64, high: f64, count: i32) -> Result<i32> {
    if count <= 0 {
        return Err(bucket_error("count must be greater than zero"));
    }
    if x.is_nan() || low.is_nan() || high.is_nan() {
        return Err(bucket_error(
            "operand, lower bound, and upper bound cannot be NaN",
        ));
    }
    if low.is_infinite() || high.is_infinite() {
        return Err(bucket_error("lower and upper bounds must be finite"));
    }
    let inside = |num: f64, den: f64| -> i32 {
        let q = if den.is_infinite() {
            (num / 2.0) / (den / 2.0)
        } else {
            num / den
        };
        let r = (f64::from(count) * q).floor();
        let r = if r >= f64::from(count) {
            count - 1
        } else {
            r as i32
        };
        r + 1
    };
    if low < high {
        if x < low {
            Ok(0)
        } else if x >= high {
            count.checked_add(1).ok_or_else(int_out_of_range)
        } else {
            Ok(inside(x - low, high - low))
        }
    } else if low > high {
        if x > low {
            Ok(0)
        } else if x <= high {
            count.checked_add(1).ok_or_else(int_out_of_range)
        } else {
            Ok(inside(low - x, low - high))
        }
    } else {
        Err(bucket_error("lower bound cannot equal upper bound"))
    }
}

/// `width_bucket(operand, low, high, count)` over numeric, exactly.
pub fn width_bucket_numeric(x: &Numeric, low: &Numeric, high: &Numeric, count: i32) -> Result<i32> {
    use std::cmp::Ordering::*;
    if count <= 0 {
        return Err(bucket_error("count must be greater than zero"));
    }
    if x.is_nan() || low.is_nan() || high.is_nan() {
        return Err(bucket_error(
            "operand, lower bound, and upper bound cannot be NaN",
        ));
    }
    if low.is_infinite() || high.is_infinite() {
        return Err(bucket_error("lower and upper bounds must be finite"));
    }
    let inside = |num: Numeric, den: Numeric| -> Result<i32> {
        let scaled = num.mul(&Numeric::from_i64(i64::from(count)))?;
        let q = scaled.div_trunc(&den)?;
        let r = q.to_int(i64::MIN, i64::MAX, "bigint")?;
        Ok((r.min(i64::from(count) - 1) + 1) as i32)
    };
    match low.cmp_total(high) {
        Less => {
            if x.cmp_total(low) == Less {
                Ok(0)
            } else if x.cmp_total(high) != Less {
                count.checked_add(1).ok_or_else(int_out_of_range)
            } else {
                inside(x.sub(low)?, high.sub(low)?)
            }
        }
        Greater => {
            if x.cmp_total(low) == Greater {
                Ok(0)
            } else if x.cmp_total(high) != Greater {
                count.checked_add(1).ok_or_else(int_out_of_range)
            } else {
                inside(low.sub(x)?, low.sub(high)?)
            }
        }
        Equal => Err(bucket_error("lower bound cannot equal upper bound")),
    }
}

/// `num_nulls(…)` / `num_nonnulls(…)`.
pub fn count_nulls(args: &[Value], nulls: bool) -> Value {
    let n = args.iter().filter(|v| v.is_null() == nulls).count();
    Value::Int4(n as i32)
}

/// The element type of the arrays these functions return.
pub fn text_array() -> DataType {
    DataType::Array(Box::new(DataType::Text))
}
