//! Built-in scalar functions: their signatures (for overload resolution)
//! and their implementations.
//!
//! Owns: the function catalog — `abs`, `length`, `round`, `substr`, … —
//! each as (name, argument types, result type, [`Func`]).
//! Never: picks an overload; [`super::coerce::select_candidate`] does.

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::expr::{EvalContext, check_float};

/// Which built-in a bound call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Abs,
    Length,
    OctetLength,
    Upper,
    Lower,
    Initcap,
    Round,
    RoundScale,
    Trunc,
    TruncScale,
    Ceil,
    Floor,
    Sign,
    Mod,
    Div,
    Power,
    Sqrt,
    Exp,
    Ln,
    Pi,
    Concat,
    ConcatWs,
    /// `json_build_object` / `jsonb_build_object` (variadic key, value).
    JsonBuildObject {
        binary: bool,
    },
    /// `json_build_array` / `jsonb_build_array`.
    JsonBuildArray {
        binary: bool,
    },
    Substr,
    SubstrLen,
    Replace,
    Repeat,
    Reverse,
    Btrim,
    Ltrim,
    Rtrim,
    Left,
    Right,
    Strpos,
    Lpad,
    Rpad,
    Chr,
    Ascii,
    StartsWith,
    Version,
    CurrentSetting,
    /// `set_config(name, value, is_local)`: queued for the session.
    SetConfig,
    CurrentDatabase,
    CurrentSchema,
    CurrentUser,
    /// nextval, currval, setval, lastval (`super::sequence`).
    Sequence(super::sequence::SeqFunc),
    /// Array built-ins (`super::array_functions`).
    Array(super::array_functions::ArrayFunc),
    Activity(super::activity::ActivityFunc),
    /// Catalog functions (`super::pg_catalog::funcs`).
    Catalog(super::pg_catalog::funcs::CatFunc),
    /// Date/time, uuid and json built-ins (`super::datetime_functions`).
    DateTime(super::datetime_functions::DtFunc),
    // String functions in `string_functions`.
    SplitPart,
    Md5,
    Translate,
    ToHex,
    QuoteIdent,
    QuoteLiteral,
    QuoteNullable,
    Format,
    RegexpReplace,
    RegexpLike,
    RegexpCount,
    RegexpSubstr,
    /// `regexp_match`, `regexp_split_to_array`, `regexp_instr`,
    /// `width_bucket`, `num_nulls` / `num_nonnulls`
    /// ([`super::regexp_functions`]).
    RegexpMatch,
    RegexpSplitToArray,
    RegexpInstr,
    WidthBucket,
    NumNulls,
    NumNonnulls,
    /// `substring(s FROM pattern)`.
    SubstringRegex,
    /// `substring(s SIMILAR pattern ESCAPE e)`.
    SubstringSimilar,
    /// `~`, `~*`, `!~`, `!~*`.
    RegexMatch {
        case_insensitive: bool,
        negated: bool,
    },
    /// `[NOT] SIMILAR TO`: args [s, pattern] and an optional escape;
    /// `escape` None is the default `\`, `\0` is none.
    SimilarTo {
        escape: Option<char>,
        negated: bool,
    },
    // Math.
    Cbrt,
    Log10,
    Degrees,
    Radians,
    Sin,
    Cos,
    Tan,
    Cot,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Random,
    Setseed,
    /// `pg_sleep(seconds)`: waits, listening for cancel and statement_timeout.
    PgSleep,
    Gcd,
    Lcm,
    Scale,
}

/// One overload of a built-in.
pub struct Signature {
    pub args: Vec<DataType>,
    pub ret: DataType,
    pub func: Func,
}

/// Functions taking any number of arguments of any type (`concat`).
pub fn is_variadic_any(name: &str) -> Option<Func> {
    match name {
        "concat" => Some(Func::Concat),
        "concat_ws" => Some(Func::ConcatWs),
        "format" => Some(Func::Format),
        "json_build_object" => Some(Func::JsonBuildObject { binary: false }),
        "jsonb_build_object" => Some(Func::JsonBuildObject { binary: true }),
        "json_build_array" => Some(Func::JsonBuildArray { binary: false }),
        "jsonb_build_array" => Some(Func::JsonBuildArray { binary: true }),
        _ => None,
    }
}

/// Built JSON text as `json` (kept verbatim) or `jsonb` (parsed).
fn json_result(text: String, binary: bool) -> Result<Value> {
    Ok(if binary {
        Value::Jsonb(crate::types::json::parse_json(&text)?)
    } else {
        Value::Json(text)
    })
}

/// The overloads of `name` (lower case), empty if there is no such function.
pub fn lookup(name: &str) -> Vec<Signature> {
    use super::regexp_functions as rf;
    use DataType::*;
    let num = || Numeric(None);
    let sig = |args: Vec<DataType>, ret: DataType, func: Func| Signature { args, ret, func };
    let numeric_unary = |f: Func| {
        vec![
            sig(vec![Int2], Int2, f),
            sig(vec![Int4], Int4, f),
            sig(vec![Int8], Int8, f),
            sig(vec![Float4], Float4, f),
            sig(vec![Float8], Float8, f),
            sig(vec![num()], num(), f),
        ]
    };
    match name {
        "abs" => numeric_unary(Func::Abs),
        "length" | "char_length" | "character_length" => vec![
            sig(vec![Text], Int4, Func::Length),
            sig(vec![Char(None)], Int4, Func::Length),
            sig(vec![Bytea], Int4, Func::OctetLength),
        ],
        "octet_length" => vec![
            sig(vec![Text], Int4, Func::OctetLength),
            sig(vec![Bytea], Int4, Func::OctetLength),
        ],
        "upper" => vec![sig(vec![Text], Text, Func::Upper)],
        "lower" => vec![sig(vec![Text], Text, Func::Lower)],
        "initcap" => vec![sig(vec![Text], Text, Func::Initcap)],
        "round" => vec![
            sig(vec![Float8], Float8, Func::Round),
            sig(vec![num()], num(), Func::Round),
            sig(vec![num(), Int4], num(), Func::RoundScale),
        ],
        "trunc" => vec![
            sig(vec![Float8], Float8, Func::Trunc),
            sig(vec![num()], num(), Func::Trunc),
            sig(vec![num(), Int4], num(), Func::TruncScale),
        ],
        "ceil" | "ceiling" => vec![
            sig(vec![Float8], Float8, Func::Ceil),
            sig(vec![num()], num(), Func::Ceil),
        ],
        "floor" => vec![
            sig(vec![Float8], Float8, Func::Floor),
            sig(vec![num()], num(), Func::Floor),
        ],
        "sign" => vec![
            sig(vec![Float8], Float8, Func::Sign),
            sig(vec![num()], num(), Func::Sign),
        ],
        "mod" => vec![
            sig(vec![Int2, Int2], Int2, Func::Mod),
            sig(vec![Int4, Int4], Int4, Func::Mod),
            sig(vec![Int8, Int8], Int8, Func::Mod),
            sig(vec![num(), num()], num(), Func::Mod),
        ],
        "div" => vec![sig(vec![num(), num()], num(), Func::Div)],
        "power" | "pow" => vec![sig(vec![Float8, Float8], Float8, Func::Power)],
        "sqrt" => vec![
            sig(vec![Float8], Float8, Func::Sqrt),
            sig(vec![num()], num(), Func::Sqrt),
        ],
        "exp" => vec![sig(vec![Float8], Float8, Func::Exp)],
        "ln" => vec![sig(vec![Float8], Float8, Func::Ln)],
        "pi" => vec![sig(vec![], Float8, Func::Pi)],
        "substr" => vec![
            sig(vec![Text, Int4], Text, Func::Substr),
            sig(vec![Text, Int4, Int4], Text, Func::SubstrLen),
        ],
        "substring" => vec![
            sig(vec![Text, Int4], Text, Func::Substr),
            sig(vec![Text, Int4, Int4], Text, Func::SubstrLen),
            sig(vec![Text, Text], Text, Func::SubstringRegex),
            sig(vec![Text, Text, Text], Text, Func::SubstringSimilar),
        ],
        "replace" => vec![sig(vec![Text, Text, Text], Text, Func::Replace)],
        "repeat" => vec![sig(vec![Text, Int4], Text, Func::Repeat)],
        "reverse" => vec![sig(vec![Text], Text, Func::Reverse)],
        "btrim" => vec![
            sig(vec![Text], Text, Func::Btrim),
            sig(vec![Text, Text], Text, Func::Btrim),
        ],
        "ltrim" => vec![
            sig(vec![Text], Text, Func::Ltrim),
            sig(vec![Text, Text], Text, Func::Ltrim),
        ],
        "rtrim" => vec![
            sig(vec![Text], Text, Func::Rtrim),
            sig(vec![Text, Text], Text, Func::Rtrim),
        ],
        "left" => vec![sig(vec![Text, Int4], Text, Func::Left)],
        "right" => vec![sig(vec![Text, Int4], Text, Func::Right)],
        "strpos" | "position" => vec![sig(vec![Text, Text], Int4, Func::Strpos)],
        "lpad" => vec![
            sig(vec![Text, Int4], Text, Func::Lpad),
            sig(vec![Text, Int4, Text], Text, Func::Lpad),
        ],
        "rpad" => vec![
            sig(vec![Text, Int4], Text, Func::Rpad),
            sig(vec![Text, Int4, Text], Text, Func::Rpad),
        ],
        "chr" => vec![sig(vec![Int4], Text, Func::Chr)],
        "ascii" => vec![sig(vec![Text], Int4, Func::Ascii)],
        "starts_with" => vec![sig(vec![Text, Text], Bool, Func::StartsWith)],
        "version" => vec![sig(vec![], Text, Func::Version)],
        "current_setting" => vec![sig(vec![Text], Text, Func::CurrentSetting)],
        "set_config" => vec![sig(vec![Text, Text, Bool], Text, Func::SetConfig)],
        "current_database" => vec![sig(vec![], Text, Func::CurrentDatabase)],
        "current_schema" => vec![sig(vec![], Text, Func::CurrentSchema)],
        "current_user" | "session_user" | "user" => vec![sig(vec![], Text, Func::CurrentUser)],
        "split_part" => vec![sig(vec![Text, Text, Int4], Text, Func::SplitPart)],
        "md5" => vec![
            sig(vec![Text], Text, Func::Md5),
            sig(vec![Bytea], Text, Func::Md5),
        ],
        "translate" => vec![sig(vec![Text, Text, Text], Text, Func::Translate)],
        "to_hex" => vec![
            sig(vec![Int4], Text, Func::ToHex),
            sig(vec![Int8], Text, Func::ToHex),
        ],
        "quote_ident" => vec![sig(vec![Text], Text, Func::QuoteIdent)],
        "quote_literal" => [Text, Int2, Int4, Int8, Float4, Float8, num(), Bool]
            .into_iter()
            .map(|t| sig(vec![t], Text, Func::QuoteLiteral))
            .collect(),
        "quote_nullable" => vec![sig(vec![Text], Text, Func::QuoteNullable)],
        "regexp_replace" => vec![
            sig(vec![Text, Text, Text], Text, Func::RegexpReplace),
            sig(vec![Text, Text, Text, Text], Text, Func::RegexpReplace),
        ],
        "regexp_like" => vec![
            sig(vec![Text, Text], Bool, Func::RegexpLike),
            sig(vec![Text, Text, Text], Bool, Func::RegexpLike),
        ],
        "regexp_count" => vec![
            sig(vec![Text, Text], Int4, Func::RegexpCount),
            sig(vec![Text, Text, Int4], Int4, Func::RegexpCount),
            sig(vec![Text, Text, Int4, Text], Int4, Func::RegexpCount),
        ],
        "regexp_substr" => vec![
            sig(vec![Text, Text], Text, Func::RegexpSubstr),
            sig(vec![Text, Text, Int4], Text, Func::RegexpSubstr),
            sig(vec![Text, Text, Int4, Int4], Text, Func::RegexpSubstr),
            sig(vec![Text, Text, Int4, Int4, Text], Text, Func::RegexpSubstr),
            sig(
                vec![Text, Text, Int4, Int4, Text, Int4],
                Text,
                Func::RegexpSubstr,
            ),
        ],
        "regexp_match" => vec![
            sig(vec![Text, Text], rf::text_array(), Func::RegexpMatch),
            sig(vec![Text, Text, Text], rf::text_array(), Func::RegexpMatch),
        ],
        "regexp_split_to_array" => vec![
            sig(vec![Text, Text], rf::text_array(), Func::RegexpSplitToArray),
            sig(
                vec![Text, Text, Text],
                rf::text_array(),
                Func::RegexpSplitToArray,
            ),
        ],
        "regexp_instr" => vec![
            sig(vec![Text, Text], Int4, Func::RegexpInstr),
            sig(vec![Text, Text, Int4], Int4, Func::RegexpInstr),
            sig(vec![Text, Text, Int4, Int4], Int4, Func::RegexpInstr),
            sig(vec![Text, Text, Int4, Int4, Int4], Int4, Func::RegexpInstr),
            sig(
                vec![Text, Text, Int4, Int4, Int4, Text],
                Int4,
                Func::RegexpInstr,
            ),
            sig(
                vec![Text, Text, Int4, Int4, Int4, Text, Int4],
                Int4,
                Func::RegexpInstr,
            ),
        ],
        "width_bucket" => vec![
            sig(vec![Float8, Float8, Float8, Int4], Int4, Func::WidthBucket),
            sig(vec![num(), num(), num(), Int4], Int4, Func::WidthBucket),
        ],
        "cbrt" => vec![sig(vec![Float8], Float8, Func::Cbrt)],
        "log10" => vec![sig(vec![Float8], Float8, Func::Log10)],
        "log" => vec![sig(vec![Float8], Float8, Func::Log10)],
        "degrees" => vec![sig(vec![Float8], Float8, Func::Degrees)],
        "radians" => vec![sig(vec![Float8], Float8, Func::Radians)],
        "sin" => vec![sig(vec![Float8], Float8, Func::Sin)],
        "cos" => vec![sig(vec![Float8], Float8, Func::Cos)],
        "tan" => vec![sig(vec![Float8], Float8, Func::Tan)],
        "cot" => vec![sig(vec![Float8], Float8, Func::Cot)],
        "asin" => vec![sig(vec![Float8], Float8, Func::Asin)],
        "acos" => vec![sig(vec![Float8], Float8, Func::Acos)],
        "atan" => vec![sig(vec![Float8], Float8, Func::Atan)],
        "atan2" => vec![sig(vec![Float8, Float8], Float8, Func::Atan2)],
        "sinh" => vec![sig(vec![Float8], Float8, Func::Sinh)],
        "cosh" => vec![sig(vec![Float8], Float8, Func::Cosh)],
        "tanh" => vec![sig(vec![Float8], Float8, Func::Tanh)],
        "random" => vec![sig(vec![], Float8, Func::Random)],
        // PostgreSQL returns void; arbordb returns an empty text.
        "setseed" => vec![sig(vec![Float8], Text, Func::Setseed)],
        // PostgreSQL returns void; arbordb returns an empty text.
        "pg_sleep" => vec![sig(vec![Float8], Text, Func::PgSleep)],
        "gcd" => vec![
            sig(vec![Int4, Int4], Int4, Func::Gcd),
            sig(vec![Int8, Int8], Int8, Func::Gcd),
        ],
        "lcm" => vec![
            sig(vec![Int4, Int4], Int4, Func::Lcm),
            sig(vec![Int8, Int8], Int8, Func::Lcm),
        ],
        "scale" => vec![sig(vec![num()], Int4, Func::Scale)],
        "nextval" | "currval" | "setval" | "lastval" => super::sequence::signatures(name),
        "pg_backend_pid"
        | "pg_cancel_backend"
        | "pg_terminate_backend"
        | "pg_notify"
        | "pg_stat_statements_reset" => super::activity::signatures(name),
        _ => {
            let catalog = super::pg_catalog::funcs::lookup(name);
            if catalog.is_empty() {
                super::datetime_functions::lookup(name)
            } else {
                catalog
            }
        }
    }
}

/// The text PostgreSQL-compatible drivers parse from `version()`.
pub const VERSION_STRING: &str = "PostgreSQL 15.0 (arbordb 0.1.0) on x86_64-pc-linux-gnu, 64-bit";

fn text_arg(v: &Value) -> Result<&str> {
    match v {
        Value::Text(s) => Ok(s),
        other => Err(Error::internal(format!("expected text, got {other:?}"))),
    }
}

fn int_arg(v: &Value) -> Result<i64> {
    match v {
        Value::Int2(i) => Ok(*i as i64),
        Value::Int4(i) => Ok(*i as i64),
        Value::Int8(i) => Ok(*i),
        other => Err(Error::internal(format!(
            "expected an integer, got {other:?}"
        ))),
    }
}

fn numeric_arg(v: &Value) -> Result<&Numeric> {
    match v {
        Value::Numeric(n) => Ok(n),
        other => Err(Error::internal(format!("expected numeric, got {other:?}"))),
    }
}

fn float_arg(v: &Value) -> Result<f64> {
    match v {
        Value::Float8(f) => Ok(*f),
        other => Err(Error::internal(format!("expected float8, got {other:?}"))),
    }
}

/// `power(float8, float8)` with PostgreSQL's domain checks.
pub fn float_pow(a: f64, b: f64) -> Result<f64> {
    if a == 0.0 && b < 0.0 {
        return Err(Error::new(
            SqlState("2201F"),
            "zero raised to a negative power is undefined",
        ));
    }
    if a < 0.0 && b.fract() != 0.0 {
        return Err(Error::new(
            SqlState("2201F"),
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = a.powf(b);
    check_float(
        r,
        a.is_infinite() || b.is_infinite(),
        a == 0.0 || r.is_nan() || b.is_infinite(),
    )
}

fn trim_chars(s: &str, chars: &str, left: bool, right: bool) -> String {
    let set: Vec<char> = chars.chars().collect();
    let mut out = s;
    if left {
        out = out.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        out = out.trim_end_matches(|c| set.contains(&c));
    }
    out.to_string()
}

/// A character's upper case as PostgreSQL's upper() gives it: character by
/// character (`towupper`), so a character whose full upper case is several
/// characters (`ß` -> `SS`) stays as it is.
fn upper_char(c: char) -> char {
    let mut m = c.to_uppercase();
    match (m.next(), m.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// A character's lower case, character by character as upper_char (the
/// simple mapping: no final-sigma rule, `İ` -> `i`).
fn lower_char(c: char) -> char {
    if c == '\u{130}' {
        // The one character whose full lower case is two characters.
        return 'i';
    }
    let mut m = c.to_lowercase();
    match (m.next(), m.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn pad(s: &str, len: i64, fill: &str, left: bool) -> String {
    let len = len.max(0) as usize;
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= len {
        return chars[..len].iter().collect();
    }
    let fill: Vec<char> = fill.chars().collect();
    if fill.is_empty() {
        return s.to_string();
    }
    let padding: String = fill.iter().cycle().take(len - chars.len()).collect();
    if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    }
}

/// Largest string a text function may build (PostgreSQL's 1 GB field limit).
const TEXT_BYTES_MAX: usize = (1 << 30) - 1;

fn too_long() -> Error {
    Error::new(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        "requested length too large",
    )
}

/// Runs `func` on evaluated arguments (of the types the signature wants).
pub fn call(
    func: Func,
    args: Vec<Value>,
    types: &[DataType],
    ret: &DataType,
    ctx: &EvalContext<'_>,
) -> Result<Value> {
    // concat / concat_ws treat NULL specially; everything else is strict.
    match func {
        Func::NumNulls | Func::NumNonnulls => {
            return Ok(super::regexp_functions::count_nulls(
                &args,
                func == Func::NumNulls,
            ));
        }
        Func::Concat => {
            let mut out = String::new();
            for (v, t) in args.iter().zip(types) {
                if !v.is_null() {
                    let _ = t;
                    out.push_str(&v.to_text());
                }
            }
            return Ok(Value::Text(out));
        }
        Func::DateTime(f) if !super::datetime_functions::is_strict(f) => {
            return super::datetime_functions::call(f, args, types, ret, ctx);
        }
        Func::ConcatWs => {
            let Some(sep) = args.first() else {
                return Ok(Value::Null);
            };
            if sep.is_null() {
                return Ok(Value::Null);
            }
            let sep = sep.to_text();
            let parts: Vec<String> = args
                .iter()
                .zip(types)
                .skip(1)
                .filter(|(v, _)| !v.is_null())
                .map(|(v, _)| v.to_text())
                .collect();
            return Ok(Value::Text(parts.join(&sep)));
        }
        Func::JsonBuildObject { binary } => {
            if !args.len().is_multiple_of(2) {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "argument list must have even number of elements",
                )
                .with_hint(format!(
                    "The arguments of {} must consist of alternating keys and values.",
                    if binary {
                        "jsonb_build_object()"
                    } else {
                        "json_build_object()"
                    }
                )));
            }
            let mut out = String::from("{");
            for (i, pair) in args.chunks(2).enumerate() {
                if pair[0].is_null() {
                    return Err(Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        format!("argument {} cannot be null", 2 * i + 1),
                    )
                    .with_hint("Object keys should be text."));
                }
                if i > 0 {
                    out.push_str(", ");
                }
                crate::types::json::push_json_string(&mut out, &pair[0].to_text());
                out.push_str(" : ");
                crate::types::json::push_value(&mut out, &pair[1]);
            }
            out.push('}');
            return json_result(out, binary);
        }
        Func::JsonBuildArray { binary } => {
            let mut out = String::from("[");
            for (i, v) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                crate::types::json::push_value(&mut out, v);
            }
            out.push(']');
            return json_result(out, binary);
        }
        Func::Format => {
            let Some(Value::Text(fmt)) = args.first() else {
                return Ok(Value::Null);
            };
            let rest: Vec<Option<String>> = args
                .iter()
                .skip(1)
                .map(|v| (!v.is_null()).then(|| v.to_text()))
                .collect();
            return Ok(Value::Text(super::string_functions::format(fmt, &rest)?));
        }
        Func::QuoteNullable => {
            return Ok(Value::Text(match args.first() {
                Some(Value::Text(s)) => super::string_functions::quote_literal(s),
                _ => "NULL".to_string(),
            }));
        }
        Func::Random => return Ok(Value::Float8(random_double())),
        Func::Array(f) => return super::array_functions::call(f, &args),
        Func::Catalog(f) => return super::pg_catalog::funcs::call(f, &args, ctx),
        _ => {}
    }
    if args.iter().any(|a| a.is_null()) {
        return Ok(Value::Null);
    }
    if let Some(v) = call_more(func, &args)? {
        return Ok(v);
    }
    let a = |i: usize| {
        args.get(i)
            .ok_or_else(|| Error::internal("missing argument"))
    };
    Ok(match func {
        Func::Abs => match a(0)? {
            Value::Int2(i) => Value::Int2(i.checked_abs().ok_or_else(|| out_of_range("smallint"))?),
            Value::Int4(i) => Value::Int4(i.checked_abs().ok_or_else(|| out_of_range("integer"))?),
            Value::Int8(i) => Value::Int8(i.checked_abs().ok_or_else(|| out_of_range("bigint"))?),
            Value::Float4(f) => Value::Float4(f.abs()),
            Value::Float8(f) => Value::Float8(f.abs()),
            Value::Numeric(n) => Value::Numeric(n.abs()),
            other => return Err(Error::internal(format!("abs of {other:?}"))),
        },
        Func::Length => {
            let s = text_arg(a(0)?)?;
            let s = if matches!(types[0], DataType::Char(_)) {
                s.trim_end_matches(' ')
            } else {
                s
            };
            Value::Int4(s.chars().count() as i32)
        }
        Func::OctetLength => match a(0)? {
            Value::Bytea(b) => Value::Int4(b.len() as i32),
            v => Value::Int4(text_arg(v)?.len() as i32),
        },
        Func::Upper => Value::Text(map_case(text_arg(a(0)?)?, true)),
        Func::Lower => Value::Text(map_case(text_arg(a(0)?)?, false)),
        Func::Initcap => {
            let mut out = String::new();
            let mut start = true;
            for c in text_arg(a(0)?)?.chars() {
                if c.is_alphanumeric() {
                    out.push(if start { upper_char(c) } else { lower_char(c) });
                    start = false;
                } else {
                    out.push(c);
                    start = true;
                }
            }
            Value::Text(out)
        }
        Func::Round => match a(0)? {
            Value::Float8(f) => Value::Float8(f.round_ties_even()),
            v => Value::Numeric(numeric_arg(v)?.round(0)?),
        },
        Func::RoundScale => {
            let s = int_arg(a(1)?)?.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            Value::Numeric(numeric_arg(a(0)?)?.round(s)?)
        }
        Func::Trunc => match a(0)? {
            Value::Float8(f) => Value::Float8(f.trunc()),
            v => Value::Numeric(numeric_arg(v)?.trunc(0)?),
        },
        Func::TruncScale => {
            let s = int_arg(a(1)?)?.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
            Value::Numeric(numeric_arg(a(0)?)?.trunc(s)?)
        }
        Func::Ceil => match a(0)? {
            Value::Float8(f) => Value::Float8(f.ceil()),
            v => Value::Numeric(numeric_arg(v)?.ceil()?),
        },
        Func::Floor => match a(0)? {
            Value::Float8(f) => Value::Float8(f.floor()),
            v => Value::Numeric(numeric_arg(v)?.floor()?),
        },
        Func::Sign => match a(0)? {
            Value::Float8(f) => Value::Float8(if f.is_nan() {
                f64::NAN
            } else if *f > 0.0 {
                1.0
            } else if *f < 0.0 {
                -1.0
            } else {
                0.0
            }),
            v => Value::Numeric(numeric_arg(v)?.signum()),
        },
        Func::Mod => super::expr::binary(super::expr::BinOp::Mod, a(0)?, a(1)?, ret)?,
        Func::Div => Value::Numeric(numeric_arg(a(0)?)?.div_trunc(numeric_arg(a(1)?)?)?),
        Func::Power => Value::Float8(float_pow(float_arg(a(0)?)?, float_arg(a(1)?)?)?),
        Func::Sqrt => {
            if let Value::Numeric(n) = a(0)? {
                return Ok(Value::Numeric(n.sqrt()?));
            }
            let f = float_arg(a(0)?)?;
            if f < 0.0 {
                return Err(Error::new(
                    SqlState("2201F"),
                    "cannot take square root of a negative number",
                ));
            }
            Value::Float8(f.sqrt())
        }
        Func::Exp => {
            let f = float_arg(a(0)?)?;
            Value::Float8(check_float(
                f.exp(),
                f.is_infinite(),
                f == f64::NEG_INFINITY || f.is_nan(),
            )?)
        }
        Func::Ln => {
            let f = float_arg(a(0)?)?;
            if f == 0.0 {
                return Err(Error::new(
                    SqlState("2201E"),
                    "cannot take logarithm of zero",
                ));
            }
            if f < 0.0 {
                return Err(Error::new(
                    SqlState("2201E"),
                    "cannot take logarithm of a negative number",
                ));
            }
            Value::Float8(f.ln())
        }
        Func::Pi => Value::Float8(std::f64::consts::PI),
        Func::Substr | Func::SubstrLen => {
            let s: Vec<char> = text_arg(a(0)?)?.chars().collect();
            let start = int_arg(a(1)?)?;
            let end = if func == Func::SubstrLen {
                let len = int_arg(a(2)?)?;
                if len < 0 {
                    return Err(Error::new(
                        SqlState("22011"),
                        "negative substring length not allowed",
                    ));
                }
                start.saturating_add(len)
            } else {
                i64::MAX
            };
            let from = start.max(1) as usize - 1;
            let to = (end.max(1) as usize - 1).min(s.len());
            Value::Text(if from >= to {
                String::new()
            } else {
                s[from..to].iter().collect()
            })
        }
        Func::Replace => {
            let (s, from, to) = (text_arg(a(0)?)?, text_arg(a(1)?)?, text_arg(a(2)?)?);
            Value::Text(if from.is_empty() {
                s.to_string()
            } else {
                s.replace(from, to)
            })
        }
        Func::Repeat => {
            let s = text_arg(a(0)?)?;
            let n = int_arg(a(1)?)?.max(0) as usize;
            if s.len().saturating_mul(n) > TEXT_BYTES_MAX {
                return Err(too_long());
            }
            Value::Text(s.repeat(n))
        }
        Func::Reverse => Value::Text(text_arg(a(0)?)?.chars().rev().collect()),
        Func::Btrim | Func::Ltrim | Func::Rtrim => {
            let s = text_arg(a(0)?)?;
            let chars = if args.len() > 1 {
                text_arg(a(1)?)?
            } else {
                " "
            };
            Value::Text(trim_chars(
                s,
                chars,
                func != Func::Rtrim,
                func != Func::Ltrim,
            ))
        }
        Func::Left | Func::Right => {
            let s: Vec<char> = text_arg(a(0)?)?.chars().collect();
            let n = int_arg(a(1)?)?;
            let len = s.len() as i64;
            let count = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            Value::Text(if func == Func::Left {
                s[..count].iter().collect()
            } else {
                s[s.len() - count..].iter().collect()
            })
        }
        Func::Strpos => {
            let (s, sub) = (text_arg(a(0)?)?, text_arg(a(1)?)?);
            Value::Int4(match s.find(sub) {
                Some(byte) => s[..byte].chars().count() as i32 + 1,
                None => 0,
            })
        }
        Func::Lpad | Func::Rpad => {
            let s = text_arg(a(0)?)?;
            let len = int_arg(a(1)?)?;
            // A negative length is an empty result, not a huge one.
            if len > (TEXT_BYTES_MAX / 4) as i64 {
                return Err(too_long());
            }
            let fill = if args.len() > 2 {
                text_arg(a(2)?)?
            } else {
                " "
            };
            Value::Text(pad(s, len, fill, func == Func::Lpad))
        }
        Func::Chr => {
            let code = int_arg(a(0)?)?;
            if code == 0 {
                return Err(Error::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    "null character not permitted",
                ));
            }
            let c = u32::try_from(code)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| {
                    Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "requested character too large for encoding: ".to_string()
                            + &code.to_string(),
                    )
                })?;
            Value::Text(c.to_string())
        }
        Func::Ascii => Value::Int4(
            text_arg(a(0)?)?
                .chars()
                .next()
                .map(|c| c as i32)
                .unwrap_or(0),
        ),
        Func::StartsWith => Value::Bool(text_arg(a(0)?)?.starts_with(text_arg(a(1)?)?)),
        Func::Version => Value::Text(VERSION_STRING.to_string()),
        Func::CurrentSetting => Value::Text((ctx.settings)(text_arg(a(0)?)?)?),
        Func::SetConfig => {
            let local = matches!(a(2)?, Value::Bool(true));
            Value::Text(super::settings::queue_set_config(
                text_arg(a(0)?)?,
                text_arg(a(1)?)?,
                local,
            )?)
        }
        Func::CurrentDatabase => Value::Text("arbordb".to_string()),
        Func::CurrentSchema => match super::namespace::current_schema(ctx.txn)? {
            Some(s) => Value::Text(s),
            None => Value::Null,
        },
        Func::CurrentUser => Value::Text((ctx.settings)("session_authorization")?),
        Func::DateTime(f) => return super::datetime_functions::call(f, args, types, ret, ctx),
        Func::Sequence(f) => return super::sequence::call(f, &args, ctx),
        Func::Activity(f) => return super::activity::call(f, &args),
        _ => return Err(Error::internal(format!("{func:?} is handled elsewhere"))),
    })
}

/// upper()/lower() character by character, as PostgreSQL's towupper does:
/// a character whose mapping is more than one character (`ß`) stays.
fn map_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| if upper { upper_char(c) } else { lower_char(c) })
        .collect()
}

/// The functions added after the first set: strict (no NULL argument
/// reaches here); `None` for a function this does not run.
fn call_more(func: Func, args: &[Value]) -> Result<Option<Value>> {
    use super::regexp_functions as rf;
    use super::string_functions as sf;
    let a = |i: usize| {
        args.get(i)
            .ok_or_else(|| Error::internal("missing argument"))
    };
    let t = |i: usize| -> Result<&str> { text_arg(a(i)?) };
    let f = |i: usize| -> Result<f64> { float_arg(a(i)?) };
    let opt_text = |i: usize| -> Result<&str> {
        match args.get(i) {
            None => Ok(""),
            Some(v) => text_arg(v),
        }
    };
    let float = |x: f64| Ok(Some(Value::Float8(x)));
    let out_of_range_input = || {
        Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "input is out of range",
        )
    };
    match func {
        Func::SplitPart => Ok(Some(Value::Text(sf::split_part(
            t(0)?,
            t(1)?,
            int_arg(a(2)?)?,
        )?))),
        Func::Md5 => Ok(Some(Value::Text(sf::md5_hex(a(0)?)?))),
        Func::Translate => Ok(Some(Value::Text(sf::translate(t(0)?, t(1)?, t(2)?)))),
        Func::ToHex => Ok(Some(Value::Text(sf::to_hex(a(0)?)?))),
        Func::QuoteIdent => Ok(Some(Value::Text(sf::quote_ident(t(0)?)))),
        Func::QuoteLiteral => Ok(Some(Value::Text(sf::quote_literal(&a(0)?.to_text())))),
        Func::RegexpReplace => Ok(Some(Value::Text(sf::regexp_replace(
            t(0)?,
            t(1)?,
            t(2)?,
            opt_text(3)?,
        )?))),
        Func::RegexpLike => Ok(Some(Value::Bool(sf::regexp_like(
            t(0)?,
            t(1)?,
            opt_text(2)?,
        )?))),
        Func::RegexpCount => {
            let start = match args.get(2) {
                None => 1,
                Some(v) => int_arg(v)?,
            };
            Ok(Some(Value::Int4(sf::regexp_count(
                t(0)?,
                t(1)?,
                start,
                opt_text(3)?,
            )?)))
        }
        Func::RegexpSubstr => {
            let int = |i: usize, d: i64| args.get(i).map_or(Ok(d), int_arg);
            Ok(Some(rf::regexp_substr(
                t(0)?,
                t(1)?,
                int(2, 1)?,
                int(3, 1)?,
                opt_text(4)?,
                int(5, 0)?,
            )?))
        }
        Func::RegexpInstr => {
            let int = |i: usize, d: i64| args.get(i).map_or(Ok(d), int_arg);
            Ok(Some(Value::Int4(rf::regexp_instr(
                t(0)?,
                t(1)?,
                int(2, 1)?,
                int(3, 1)?,
                int(4, 0)?,
                opt_text(5)?,
                int(6, 0)?,
            )?)))
        }
        Func::RegexpMatch => Ok(Some(rf::regexp_match(t(0)?, t(1)?, opt_text(2)?)?)),
        Func::RegexpSplitToArray => Ok(Some(Value::Array(rf::regexp_split(
            "regexp_split_to_array",
            t(0)?,
            t(1)?,
            opt_text(2)?,
        )?))),
        Func::WidthBucket => {
            let count = int_arg(a(3)?)? as i32;
            Ok(Some(Value::Int4(match (a(0)?, a(1)?, a(2)?) {
                (Value::Numeric(x), Value::Numeric(l), Value::Numeric(h)) => {
                    rf::width_bucket_numeric(x, l, h, count)?
                }
                _ => rf::width_bucket_f64(f(0)?, f(1)?, f(2)?, count)?,
            })))
        }
        Func::SubstringRegex => Ok(Some(sf::substring_regex(t(0)?, t(1)?)?)),
        Func::SubstringSimilar => Ok(Some(sf::substring_similar(t(0)?, t(1)?, t(2)?)?)),
        Func::RegexMatch {
            case_insensitive,
            negated,
        } => Ok(Some(Value::Bool(
            sf::regex_match(t(0)?, t(1)?, case_insensitive)? != negated,
        ))),
        Func::SimilarTo { escape, negated } => Ok(Some(Value::Bool(
            sf::similar_to(t(0)?, t(1)?, escape)? != negated,
        ))),
        Func::Cbrt => float(f(0)?.cbrt()),
        Func::Log10 => {
            let x = f(0)?;
            if x == 0.0 {
                return Err(Error::new(
                    SqlState("2201E"),
                    "cannot take logarithm of zero",
                ));
            }
            if x < 0.0 {
                return Err(Error::new(
                    SqlState("2201E"),
                    "cannot take logarithm of a negative number",
                ));
            }
            float(x.log10())
        }
        Func::Degrees => float(f(0)? / RADIANS_PER_DEGREE),
        Func::Radians => float(f(0)? * RADIANS_PER_DEGREE),
        Func::Sin => float(f(0)?.sin()),
        Func::Cos => float(f(0)?.cos()),
        Func::Tan => float(f(0)?.tan()),
        Func::Cot => float(1.0 / f(0)?.tan()),
        Func::Asin | Func::Acos => {
            let x = f(0)?;
            if !(-1.0..=1.0).contains(&x) {
                return Err(out_of_range_input());
            }
            float(if func == Func::Asin {
                x.asin()
            } else {
                x.acos()
            })
        }
        Func::Atan => float(f(0)?.atan()),
        Func::Atan2 => float(f(0)?.atan2(f(1)?)),
        Func::Sinh => float(f(0)?.sinh()),
        Func::Cosh => float(f(0)?.cosh()),
        Func::Tanh => float(f(0)?.tanh()),
        Func::Setseed => {
            let x = f(0)?;
            if !(-1.0..=1.0).contains(&x) || x.is_nan() {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "setseed parameter {} is out of allowed range [-1,1]",
                        Value::Float8(x).to_text()
                    ),
                ));
            }
            set_seed(x);
            Ok(Some(Value::Text(String::new())))
        }
        Func::PgSleep => {
            pg_sleep(f(0)?)?;
            Ok(Some(Value::Text(String::new())))
        }
        Func::Gcd | Func::Lcm => {
            let (x, y) = (int_arg(a(0)?)?, int_arg(a(1)?)?);
            let (min, max, name) = match a(0)? {
                Value::Int4(_) => (i32::MIN as i64, i32::MAX as i64, "integer"),
                _ => (i64::MIN, i64::MAX, "bigint"),
            };
            let g = gcd(x as i128, y as i128);
            let r = if func == Func::Gcd {
                g
            } else if x == 0 || y == 0 {
                0
            } else {
                (x as i128 / g * y as i128).abs()
            };
            if r < min as i128 || r > max as i128 {
                return Err(out_of_range(name));
            }
            Ok(Some(match a(0)? {
                Value::Int4(_) => Value::Int4(r as i32),
                _ => Value::Int8(r as i64),
            }))
        }
        Func::Scale => {
            let n = numeric_arg(a(0)?)?;
            if n.is_nan() || n.is_infinite() {
                return Ok(Some(Value::Null));
            }
            let text = n.to_string();
            Ok(Some(Value::Int4(
                text.split_once('.')
                    .map(|(_, d)| d.len() as i32)
                    .unwrap_or(0),
            )))
        }
        _ => Ok(None),
    }
}

/// PostgreSQL's constant for degrees() and radians().
const RADIANS_PER_DEGREE: f64 = 0.017_453_292_519_943_295;

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a.abs()
}

/// Sleeps `secs` seconds (NaN, negative: not at all) in slices short enough
/// that a cancel or statement_timeout ends it promptly.
fn pg_sleep(secs: f64) -> Result<()> {
    /// The longest slice between two signal checks.
    const SLICE_MS: u64 = 10;
    if secs.is_nan() || secs <= 0.0 {
        return Ok(());
    }
    let total = std::time::Duration::from_secs_f64(secs.min(1e9));
    let end = std::time::Instant::now() + total;
    loop {
        super::signals::check()?;
        let now = std::time::Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(std::time::Duration::from_millis(SLICE_MS)));
    }
}

// random() and setseed(): PostgreSQL 15's pg_prng (xoroshiro128**, seeded
// through splitmix64), so a seeded sequence matches PostgreSQL's. The state
// is per thread: a statement runs on one thread, but a connection's next
// statement may run on another.
thread_local! {
    static PRNG: std::cell::Cell<Option<(u64, u64)>> = const { std::cell::Cell::new(None) };
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut v = *state;
    v = (v ^ (v >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v = (v ^ (v >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    v ^ (v >> 31)
}

fn seed_state(mut seed: u64) -> (u64, u64) {
    let s0 = splitmix64(&mut seed);
    let s1 = splitmix64(&mut seed);
    if s0 == 0 && s1 == 0 { (1, 0) } else { (s0, s1) }
}

fn set_seed(x: f64) {
    let seed = (((1u64 << 52) - 1) as f64 * x) as i64;
    PRNG.with(|p| p.set(Some(seed_state(seed as u64))));
}

fn random_double() -> f64 {
    PRNG.with(|p| {
        let (s0, s1) = p.get().unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            seed_state(t ^ (std::process::id() as u64) << 32)
        });
        let sx = s1 ^ s0;
        let val = s0.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        p.set(Some((
            s0.rotate_left(24) ^ sx ^ (sx << 16),
            sx.rotate_left(37),
        )));
        ((val >> 12) as f64) * (2f64).powi(-52)
    })
}

fn out_of_range(name: &str) -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("{name} out of range"),
    )
}
