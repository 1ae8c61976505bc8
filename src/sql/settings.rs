//! Session settings (GUCs): what `SET`, `RESET` and `SHOW` read and write.
//!
//! ```text
//!   effective(name) = local[name]  (SET LOCAL, until the block ends)
//!                   ∨ session[name] (SET, RESET; rolled back with the block)
//!                   ∨ the parameter's default
//!   BEGIN    -> saved = session
//!   COMMIT   -> local cleared
//!   ROLLBACK -> session = saved, local cleared
//! ```
//!
//! Owns: the known parameters, their canonical names (`DateStyle`,
//! `TimeZone`), validation and normalization of values (`utf-8` -> `UTF8`,
//! `5000` ms -> `5s`), which ones are reported to clients (GUC_REPORT), and
//! PostgreSQL's errors (42704 unknown, 55P02 read-only, 22023 bad value).
//! Never: applies a setting's effect elsewhere; readers ask for values.

use std::collections::HashMap;

use crate::error::{Error, Result, SqlState};

// `set_config(name, value, is_local)`'s assignments of the statement
// running on this thread, applied by the session once it succeeds (an
// expression cannot reach the session's settings).
thread_local! {
    static PENDING: std::cell::RefCell<Vec<(&'static str, String, bool)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Validates `set_config`'s assignment and queues it; the value as
/// `current_setting` will show it. 42704 / 22023 / 55P02 as SET.
pub fn queue_set_config(name: &str, value: &str, local: bool) -> Result<String> {
    let p = find(name)?;
    let mut scratch = Settings::default();
    scratch.set(p.name, value, local)?;
    let shown = scratch.get(p.name)?;
    PENDING.with(|q| q.borrow_mut().push((p.name, value.to_string(), local)));
    Ok(shown)
}

/// Takes the queued `set_config` assignments (see [`queue_set_config`]).
pub fn take_set_configs() -> Vec<(&'static str, String, bool)> {
    PENDING.with(|q| std::mem::take(&mut *q.borrow_mut()))
}

/// One parameter as `pg_settings` lists it: name, boot value, vartype,
/// unit, context, enum values and description (the current value is the
/// session's, read at execution with `current_setting`).
pub struct ParamInfo {
    pub name: &'static str,
    pub boot: &'static str,
    pub vartype: &'static str,
    pub unit: Option<&'static str>,
    pub context: &'static str,
    pub enumvals: Option<&'static [&'static str]>,
    pub description: &'static str,
}

/// Every parameter, for `pg_settings`.
pub fn params() -> Vec<ParamInfo> {
    PARAMS
        .iter()
        .map(|p| {
            let (vartype, unit, enumvals) = match p.kind {
                Kind::Bool | Kind::ServerBool => ("bool", None, None),
                Kind::Int { .. } => ("integer", None, None),
                Kind::Millis => ("integer", Some("ms"), None),
                Kind::MemoryKb { .. } => ("integer", Some("kB"), None),
                Kind::Enum(v) => ("enum", None, Some(v)),
                Kind::ReadOnly if p.default.parse::<i64>().is_ok() => ("integer", None, None),
                Kind::ReadOnly | Kind::Encoding | Kind::DateStyle | Kind::TimeZone | Kind::Text => {
                    ("string", None, None)
                }
            };
            ParamInfo {
                name: p.name,
                boot: p.default,
                vartype,
                unit,
                context: match p.kind {
                    Kind::ReadOnly => "internal",
                    Kind::ServerBool => "sighup",
                    _ => "user",
                },
                enumvals,
                description: p.description,
            }
        })
        .collect()
}

/// 55P02: `parameter "x" cannot be changed`.
const CANT_CHANGE_RUNTIME_PARAM: SqlState = SqlState("55P02");

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// Fixed for the life of the server.
    ReadOnly,
    /// A boolean of the server's configuration (PostgreSQL's `sighup`
    /// context): shown, never SET in a session.
    ServerBool,
    Bool,
    Int {
        min: i64,
        max: i64,
    },
    /// A duration in milliseconds, shown in the largest exact unit.
    Millis,
    /// An amount of memory in kB (at least `min_kb`), shown in the
    /// largest exact unit (`4MB`, `64kB`), as PostgreSQL's `work_mem`.
    MemoryKb {
        min_kb: i64,
    },
    Enum(&'static [&'static str]),
    Encoding,
    DateStyle,
    TimeZone,
    /// Free text (application_name, search_path, …).
    Text,
}

struct Param {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    /// Sent to clients in ParameterStatus (GUC_REPORT).
    reported: bool,
    description: &'static str,
}

const ISOLATION_LEVELS: &[&str] = &[
    "serializable",
    "repeatable read",
    "read committed",
    "read uncommitted",
];

const PARAMS: &[Param] = &[
    Param {
        name: "autovacuum",
        default: "on",
        kind: Kind::ServerBool,
        reported: false,
        description: "Starts the autovacuum subprocess.",
    },
    Param {
        name: "application_name",
        default: "",
        kind: Kind::Text,
        reported: true,
        description: "Sets the application name to be reported in statistics and logs.",
    },
    Param {
        name: "block_size",
        default: "8192",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the size of a disk block.",
    },
    Param {
        name: "bytea_output",
        default: "hex",
        kind: Kind::Enum(&["escape", "hex"]),
        reported: false,
        description: "Sets the output format for bytea.",
    },
    Param {
        name: "client_encoding",
        default: "UTF8",
        kind: Kind::Encoding,
        reported: true,
        description: "Sets the client's character set encoding.",
    },
    Param {
        name: "client_min_messages",
        default: "notice",
        kind: Kind::Enum(&[
            "debug5", "debug4", "debug3", "debug2", "debug1", "debug", "log", "notice", "warning",
            "error",
        ]),
        reported: false,
        description: "Sets the message levels that are sent to the client.",
    },
    Param {
        name: "DateStyle",
        default: "ISO, MDY",
        kind: Kind::DateStyle,
        reported: true,
        description: "Sets the display format for date and time values.",
    },
    Param {
        name: "default_table_access_method",
        default: "heap",
        kind: Kind::Enum(&["heap"]),
        reported: false,
        description: "Sets the default table access method for new tables.",
    },
    Param {
        name: "default_tablespace",
        default: "",
        kind: Kind::Text,
        reported: false,
        description: "Sets the default tablespace to create tables and indexes in.",
    },
    Param {
        name: "default_transaction_isolation",
        default: "read committed",
        kind: Kind::Enum(ISOLATION_LEVELS),
        reported: false,
        description: "Sets the transaction isolation level of each new transaction.",
    },
    Param {
        name: "default_transaction_read_only",
        default: "off",
        kind: Kind::Bool,
        reported: false,
        description: "Sets the default read-only status of new transactions.",
    },
    Param {
        name: "default_transaction_deferrable",
        default: "off",
        kind: Kind::Bool,
        reported: false,
        description: "Sets the default deferrable status of new transactions.",
    },
    Param {
        name: "enable_hashjoin",
        default: "on",
        kind: Kind::Bool,
        reported: false,
        description: "Enables the planner's use of hash join plans.",
    },
    Param {
        name: "extra_float_digits",
        default: "1",
        kind: Kind::Int { min: -15, max: 3 },
        reported: false,
        description: "Sets the number of digits displayed for floating-point values.",
    },
    Param {
        name: "idle_in_transaction_session_timeout",
        default: "0",
        kind: Kind::Millis,
        reported: false,
        description: "Sets the maximum allowed idle time between queries, when in a transaction.",
    },
    Param {
        name: "integer_datetimes",
        default: "on",
        kind: Kind::ReadOnly,
        reported: true,
        description: "Shows whether datetimes are integer based.",
    },
    Param {
        name: "IntervalStyle",
        default: "postgres",
        kind: Kind::Enum(&["postgres", "postgres_verbose", "sql_standard", "iso_8601"]),
        reported: true,
        description: "Sets the display format for interval values.",
    },
    Param {
        name: "is_superuser",
        default: "on",
        kind: Kind::ReadOnly,
        reported: true,
        description: "Shows whether the current user is a superuser.",
    },
    Param {
        name: "jit",
        // PostgreSQL 15's default; arbordb has no JIT: the value is only
        // accepted and shown.
        default: "on",
        kind: Kind::Bool,
        reported: false,
        description: "Allow JIT compilation.",
    },
    Param {
        name: "lc_collate",
        default: "C",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the collation order locale.",
    },
    Param {
        name: "lc_ctype",
        default: "C",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the character classification and case conversion locale.",
    },
    Param {
        name: "lock_timeout",
        default: "0",
        kind: Kind::Millis,
        reported: false,
        description: "Sets the maximum allowed duration of any wait for a lock.",
    },
    Param {
        name: "max_index_keys",
        default: "32",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the maximum number of index keys.",
    },
    Param {
        name: "max_identifier_length",
        default: "63",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the maximum identifier length.",
    },
    Param {
        name: "row_security",
        default: "on",
        kind: Kind::Bool,
        reported: false,
        description: "Enable row security.",
    },
    Param {
        name: "search_path",
        default: "\"$user\", public",
        kind: Kind::Text,
        reported: false,
        description: "Sets the schema search order for names that are not schema-qualified.",
    },
    Param {
        name: "server_encoding",
        default: "UTF8",
        kind: Kind::ReadOnly,
        reported: true,
        description: "Shows the server (database) character set encoding.",
    },
    Param {
        name: "server_version",
        default: "15.0",
        kind: Kind::ReadOnly,
        reported: true,
        description: "Shows the server version.",
    },
    Param {
        name: "server_version_num",
        default: "150000",
        kind: Kind::ReadOnly,
        reported: false,
        description: "Shows the server version as an integer.",
    },
    Param {
        name: "session_authorization",
        default: "postgres",
        kind: Kind::Text,
        reported: true,
        description: "Sets the session user name.",
    },
    Param {
        name: "standard_conforming_strings",
        default: "on",
        kind: Kind::Bool,
        reported: true,
        description: "Causes '...' strings to treat backslashes literally.",
    },
    Param {
        name: "statement_timeout",
        default: "0",
        kind: Kind::Millis,
        reported: false,
        description: "Sets the maximum allowed duration of any statement.",
    },
    Param {
        name: "synchronous_commit",
        // arbordb always waits for the commit record to be durable; the
        // other levels are accepted and commit as durably as "on".
        default: "on",
        kind: Kind::Enum(&["local", "remote_write", "remote_apply", "on", "off"]),
        reported: false,
        description: "Sets the current transaction's synchronization level.",
    },
    Param {
        name: "TimeZone",
        default: "UTC",
        kind: Kind::TimeZone,
        reported: true,
        description: "Sets the time zone for displaying and interpreting time stamps.",
    },
    Param {
        name: "transaction_deferrable",
        default: "off",
        kind: Kind::Bool,
        reported: false,
        description: "Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures.",
    },
    Param {
        name: "transaction_isolation",
        default: "read committed",
        kind: Kind::Enum(ISOLATION_LEVELS),
        reported: false,
        description: "Sets the current transaction's isolation level.",
    },
    Param {
        name: "transaction_read_only",
        default: "off",
        kind: Kind::Bool,
        reported: false,
        description: "Sets the current transaction's read-only status.",
    },
    Param {
        name: "work_mem",
        default: "4MB",
        kind: Kind::MemoryKb { min_kb: 64 },
        reported: false,
        description: "Sets the maximum memory to be used for query workspaces.",
    },
];

fn find(name: &str) -> Result<&'static Param> {
    PARAMS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            Error::new(
                SqlState::UNDEFINED_OBJECT,
                format!(
                    "unrecognized configuration parameter \"{}\"",
                    name.to_lowercase()
                ),
            )
        })
}

/// The canonical spelling of a parameter name (`datestyle` -> `DateStyle`).
pub fn canonical_name(name: &str) -> Result<&'static str> {
    find(name).map(|p| p.name)
}

fn invalid_value(name: &str, value: &str) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!(
            "invalid value for parameter \"{}\": \"{value}\"",
            name.to_lowercase()
        ),
    )
}

fn show_millis(ms: i64) -> String {
    if ms == 0 {
        return "0".into();
    }
    for (unit, factor) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms % factor == 0 {
            return format!("{}{unit}", ms / factor);
        }
    }
    format!("{ms}ms")
}

pub(super) fn parse_millis(name: &str, value: &str) -> Result<i64> {
    let v = value.trim();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '-' || c == '.' || c == '+'))
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let bad = || {
        invalid_value(name, value).with_hint(
            "Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".",
        )
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(bad()),
    };
    let ms = (n * factor).round();
    if !(0.0..=i32::MAX as f64).contains(&ms) {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{} ms is outside the valid range for parameter \"{}\" (0 .. 2147483647)",
                ms,
                name.to_lowercase()
            ),
        ));
    }
    Ok(ms as i64)
}

/// A kB amount as PostgreSQL shows it: in the largest unit it is a whole
/// number of (`4096` -> `4MB`, `1536` -> `1536kB`).
fn show_kb(kb: i64) -> String {
    if kb != 0 {
        for (unit, factor) in [("TB", 1 << 30), ("GB", 1 << 20), ("MB", 1 << 10)] {
            if kb % factor == 0 {
                return format!("{}{unit}", kb / factor);
            }
        }
    }
    format!("{kb}kB")
}

/// The leading number of a memory value as C's `strtol(…, 0)` then (for a
/// fraction or exponent) `strtod` read it, as PostgreSQL's `parse_int`:
/// the number and the rest, `None` if there is no number.
fn leading_number(v: &str) -> Option<(f64, &str)> {
    let b = v.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let digits_from = |start: usize, radix: u32| {
        let end = v[start..]
            .find(|c: char| !c.is_digit(radix))
            .map_or(v.len(), |n| start + n);
        (
            end,
            v[start..end].chars().fold(0f64, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
            }),
        )
    };
    // Hexadecimal and octal integers, as strtol with base 0.
    if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        let (end, n) = digits_from(i + 2, 16);
        return Some((sign * n, &v[end..]));
    }
    let (int_end, _) = digits_from(i, 10);
    let fraction = matches!(b.get(int_end), Some(b'.' | b'e' | b'E'));
    if !fraction {
        if int_end == i {
            return None;
        }
        if b.get(i) == Some(&b'0') {
            let (end, n) = digits_from(i, 8);
            return Some((sign * n, &v[end..]));
        }
        let (end, n) = digits_from(i, 10);
        return Some((sign * n, &v[end..]));
    }
    // strtod: the longest prefix that is a decimal float.
    let mut end = int_end;
    if b.get(end) == Some(&b'.') {
        end += 1;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    if end == i || (end == i + 1 && b.get(i) == Some(&b'.')) {
        return None;
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(b.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        if b.get(e).is_some_and(u8::is_ascii_digit) {
            while b.get(e).is_some_and(u8::is_ascii_digit) {
                e += 1;
            }
            end = e;
        }
    }
    let n: f64 = v[i..end].parse().ok()?;
    Some((sign * n, &v[end..]))
}

/// A memory setting in kB, as PostgreSQL 15 reads one: a number (C
/// syntax) and an optional unit `B`, `kB`, `MB`, `GB` or `TB` (case
/// matters), rounded to whole kB, at least `min_kb` and at most
/// `i32::MAX`, with PostgreSQL's messages and hints (22023).
pub(super) fn parse_kb(name: &str, value: &str, min_kb: i64) -> Result<i64> {
    let v = value.trim_start();
    let Some((n, rest)) = leading_number(v) else {
        return Err(invalid_value(name, value));
    };
    let unit = rest.trim();
    let factor = match unit {
        "" | "kB" => 1.0,
        "B" => 1.0 / 1024.0,
        "MB" => 1024.0,
        "GB" => 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(invalid_value(name, value).with_hint(
                "Valid units for this parameter are \"B\", \"kB\", \"MB\", \"GB\", and \"TB\".",
            ));
        }
    };
    let kb = (n * factor).round_ties_even();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&kb) {
        return Err(invalid_value(name, value).with_hint("Value exceeds integer range."));
    }
    let kb = kb as i64;
    if kb < min_kb {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "{kb} kB is outside the valid range for parameter \"{}\" ({min_kb} .. {})",
                name.to_lowercase(),
                i32::MAX
            ),
        ));
    }
    Ok(kb)
}

/// The memory of a hash table (hash aggregation, DISTINCT, hash join):
/// `work_mem` times PostgreSQL 15's default `hash_mem_multiplier`, 2.0
/// (not settable here).
pub fn hash_mem_bytes(settings: &dyn Fn(&str) -> Result<String>) -> usize {
    work_mem_bytes(settings).saturating_mul(2)
}

/// `work_mem` in bytes, from a settings reader (4MB if it cannot be read).
pub fn work_mem_bytes(settings: &dyn Fn(&str) -> Result<String>) -> usize {
    let kb = settings("work_mem")
        .ok()
        .and_then(|v| parse_kb("work_mem", &v, 64).ok())
        .unwrap_or(4096);
    usize::try_from(kb).unwrap_or(4096).saturating_mul(1024)
}

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match crate::types::text::parse_bool(value) {
        Ok(b) => Ok(b),
        Err(_) => Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!(
                "parameter \"{}\" requires a Boolean value",
                name.to_lowercase()
            ),
        )),
    }
}

fn normalize_datestyle(value: &str) -> Result<String> {
    let mut style: Option<&str> = None;
    let mut order: Option<&str> = None;
    for part in value.split(',') {
        let p = part.trim().to_ascii_lowercase();
        match p.as_str() {
            "iso" => style = Some("ISO"),
            "sql" => style = Some("SQL"),
            "postgres" => style = Some("Postgres"),
            "german" => style = Some("German"),
            "mdy" | "us" | "noneuropean" => order = Some("MDY"),
            "dmy" | "european" | "euro" => order = Some("DMY"),
            "ymd" => order = Some("YMD"),
            "default" => {
                style.get_or_insert("ISO");
                order.get_or_insert("MDY");
            }
            _ => {
                return Err(invalid_value("DateStyle", value)
                    .with_detail(format!("Unrecognized key word: \"{}\".", part.trim())));
            }
        }
    }
    let style = style.unwrap_or("ISO");
    let order = order.unwrap_or(if style == "German" { "DMY" } else { "MDY" });
    Ok(format!("{style}, {order}"))
}

fn normalize_timezone(value: &str) -> Result<String> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("utc") || v.eq_ignore_ascii_case("etc/utc") {
        return Ok(if v.len() == 3 {
            "UTC".into()
        } else {
            "Etc/UTC".into()
        });
    }
    if v.eq_ignore_ascii_case("gmt") {
        return Ok("GMT".into());
    }
    // A bare number of hours east of Greenwich: POSIX spells the sign the other way.
    if let Ok(hours) = v.parse::<i32>() {
        if !(-15..=15).contains(&hours) {
            return Err(invalid_value("TimeZone", value));
        }
        let sign = if hours >= 0 { '+' } else { '-' };
        let posix_sign = if hours > 0 { '-' } else { '+' };
        return Ok(format!(
            "<{sign}{:02}>{posix_sign}{:02}",
            hours.abs(),
            hours.abs()
        ));
    }
    // Offsets written as zone names (`+05:30`), POSIX zones (`<+05>-05`)
    // and the zoneinfo names the type library can read.
    if crate::types::datetime::Zone::lookup(v).is_ok() {
        return Ok(v.to_string());
    }
    let plausible = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if plausible && (v.contains('/') || v.len() <= 5) {
        Ok(v.to_string())
    } else {
        Err(invalid_value("TimeZone", value))
    }
}

/// Validates and normalizes `value` for `p`.
fn normalize(p: &Param, value: &str) -> Result<String> {
    match p.kind {
        Kind::ReadOnly => Err(Error::new(
            CANT_CHANGE_RUNTIME_PARAM,
            format!("parameter \"{}\" cannot be changed", p.name.to_lowercase()),
        )),
        Kind::ServerBool => Err(Error::new(
            CANT_CHANGE_RUNTIME_PARAM,
            format!(
                "parameter \"{}\" cannot be changed now",
                p.name.to_lowercase()
            ),
        )),
        Kind::Bool => Ok(if parse_bool(p.name, value)? {
            "on"
        } else {
            "off"
        }
        .into()),
        Kind::Int { min, max } => {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| invalid_value(p.name, value))?;
            if n < min || n > max {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!(
                        "{n} is outside the valid range for parameter \"{}\" ({min} .. {max})",
                        p.name.to_lowercase()
                    ),
                ));
            }
            Ok(n.to_string())
        }
        Kind::Millis => Ok(show_millis(parse_millis(p.name, value)?)),
        Kind::MemoryKb { min_kb } => Ok(show_kb(parse_kb(p.name, value, min_kb)?)),
        Kind::Enum(values) => {
            let v = value.trim().to_ascii_lowercase();
            match values.iter().find(|x| **x == v) {
                Some(x) => Ok(x.to_string()),
                None => Err(invalid_value(p.name, value)
                    .with_hint(format!("Available values: {}.", values.join(", ")))),
            }
        }
        Kind::Encoding => {
            let v = value.trim().to_ascii_uppercase().replace(['-', '_'], "");
            if v == "UTF8" || v == "UNICODE" {
                Ok("UTF8".into())
            } else if v == "SQLASCII" {
                Err(Error::unsupported("client_encoding SQL_ASCII"))
            } else {
                Err(Error::unsupported(format!(
                    "client_encoding \"{}\" (only UTF8)",
                    value.trim()
                )))
            }
        }
        Kind::DateStyle => normalize_datestyle(value),
        Kind::TimeZone => normalize_timezone(value),
        Kind::Text => {
            if p.name == "application_name" {
                // PostgreSQL keeps printable ASCII and at most 63 bytes.
                let cleaned: String = value
                    .chars()
                    .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
                    .take(63)
                    .collect();
                Ok(cleaned)
            } else {
                Ok(value.to_string())
            }
        }
    }
}

/// One session's settings.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    session: HashMap<&'static str, String>,
    local: HashMap<&'static str, String>,
    /// `session` as it was at BEGIN (restored by ROLLBACK).
    saved: Option<HashMap<&'static str, String>>,
    /// The reported values last handed out by `take_changed`.
    last_reported: HashMap<&'static str, String>,
    /// Names the state of `session` and `local` (the transaction
    /// characteristics aside): a fresh number from [`NEXT_VERSION`] on each
    /// change, so a plan kept at one version was bound under exactly these
    /// settings (also after a clone is restored).
    version: u64,
    /// `version` when `take_changed` last ran (nothing to compare before
    /// the next change).
    reported_version: Option<u64>,
}

/// Source of [`Settings::version`] numbers (process-wide, never reused).
static NEXT_VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The transaction characteristics BEGIN sets locally in every block; no
/// plan depends on them, so they do not change [`Settings::version`].
fn is_characteristic(name: &str) -> bool {
    matches!(
        name,
        "transaction_isolation" | "transaction_read_only" | "transaction_deferrable"
    )
}

impl Settings {
    pub fn new() -> Settings {
        let mut s = Settings::default();
        // Sessions never share a version: a plan kept by one (perhaps over
        // its uncommitted DDL or its temporary tables) is never another's.
        s.changed();
        if let Ok(tz) = std::env::var("TZ")
            && let Ok(tz) = normalize_timezone(&tz)
        {
            s.session.insert("TimeZone", tz);
        }
        s.last_reported = s.reported().into_iter().collect();
        s
    }

    /// Sets a parameter of the server's configuration for this session (as
    /// the server started it), which SET cannot change.
    pub fn set_server_value(&mut self, name: &str, value: &str) -> Result<()> {
        let p = find(name)?;
        self.session.insert(p.name, value.to_string());
        self.changed();
        Ok(())
    }

    /// The effective value, as SHOW prints it.
    pub fn get(&self, name: &str) -> Result<String> {
        let p = find(name)?;
        Ok(self
            .local
            .get(p.name)
            .or_else(|| self.session.get(p.name))
            .cloned()
            .unwrap_or_else(|| p.default.to_string()))
    }

    /// The settings' state (see the field); changes whenever a setting
    /// other than the transaction characteristics may have changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn changed(&mut self) {
        self.version = NEXT_VERSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `local` holds anything but the transaction characteristics.
    fn has_local_settings(&self) -> bool {
        self.local.keys().any(|k| !is_characteristic(k))
    }

    /// `SET [SESSION] name = value` (or `SET LOCAL` with `local`).
    pub fn set(&mut self, name: &str, value: &str, local: bool) -> Result<()> {
        let p = find(name)?;
        let v = normalize(p, value)?;
        if !is_characteristic(p.name) {
            self.changed();
        }
        if local {
            self.local.insert(p.name, v);
        } else {
            self.local.remove(p.name);
            self.session.insert(p.name, v);
        }
        Ok(())
    }

    /// `RESET name` / `SET name TO DEFAULT`.
    pub fn reset(&mut self, name: &str, local: bool) -> Result<()> {
        let p = find(name)?;
        if let Kind::ReadOnly | Kind::ServerBool = p.kind {
            // As SET says it.
            return normalize(p, p.default).map(|_| ());
        }
        if !is_characteristic(p.name) {
            self.changed();
        }
        if local {
            self.local.insert(p.name, p.default.to_string());
        } else {
            self.local.remove(p.name);
            self.session.remove(p.name);
        }
        Ok(())
    }

    /// `RESET ALL`: every settable parameter back to its default.
    pub fn reset_all(&mut self) {
        self.changed();
        let keep_auth = self.session.get("session_authorization").cloned();
        // The server's configuration stays as the session was given it.
        self.session
            .retain(|name, _| find(name).is_ok_and(|p| matches!(p.kind, Kind::ServerBool)));
        self.local.clear();
        if let Some(a) = keep_auth {
            self.session.insert("session_authorization", a);
        }
    }

    pub fn begin(&mut self) {
        self.saved = Some(self.session.clone());
    }

    pub fn commit(&mut self) {
        if self.has_local_settings() {
            self.changed();
        }
        self.local.clear();
        self.saved = None;
    }

    pub fn rollback(&mut self) {
        if self.has_local_settings() || self.saved.as_ref().is_some_and(|s| *s != self.session) {
            self.changed();
        }
        if let Some(saved) = self.saved.take() {
            self.session = saved;
        }
        self.local.clear();
    }

    /// The GUC_REPORT parameters with their values.
    pub fn reported(&self) -> Vec<(&'static str, String)> {
        PARAMS
            .iter()
            .filter(|p| p.reported)
            .map(|p| (p.name, self.get(p.name).unwrap_or_default()))
            .collect()
    }

    /// Reported parameters whose value changed since the last call.
    pub fn take_changed(&mut self) -> Vec<(String, String)> {
        // Reported parameters are never transaction characteristics: with
        // no change since the last call there is nothing to compare.
        if self.reported_version == Some(self.version) {
            return Vec::new();
        }
        self.reported_version = Some(self.version);
        let mut changed = Vec::new();
        for (name, value) in self.reported() {
            if self.last_reported.get(name) != Some(&value) {
                changed.push((name.to_string(), value.clone()));
                self.last_reported.insert(name, value);
            }
        }
        changed
    }

    /// SHOW ALL: (name, setting, description) for every parameter.
    pub fn all(&self) -> Vec<(String, String, String)> {
        let mut rows: Vec<(String, String, String)> = PARAMS
            .iter()
            .map(|p| {
                (
                    p.name.to_string(),
                    self.get(p.name).unwrap_or_default(),
                    p.description.to_string(),
                )
            })
            .collect();
        rows.sort_by_key(|r| r.0.to_lowercase());
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_mem_reads_and_shows_like_postgres_15() {
        let mut s = Settings::new();
        assert_eq!(s.get("work_mem").unwrap(), "4MB");
        for (input, shown) in [
            ("64kB", "64kB"),
            ("1024kB", "1MB"),
            ("1536kB", "1536kB"),
            ("100", "100kB"),
            ("100.5", "100kB"),
            ("1e3", "1000kB"),
            (" 4 MB ", "4MB"),
            ("1.5MB", "1536kB"),
            ("65537B", "64kB"),
            ("0x40", "64kB"),
            ("1TB", "1TB"),
            ("2147483647kB", "2147483647kB"),
        ] {
            s.set("work_mem", input, false).unwrap();
            assert_eq!(s.get("work_mem").unwrap(), shown, "{input}");
        }
        for (input, message, hint) in [
            (
                "63kB",
                "63 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)",
                None,
            ),
            (
                "10B",
                "0 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)",
                None,
            ),
            (
                "-1",
                "-1 kB is outside the valid range for parameter \"work_mem\" (64 .. 2147483647)",
                None,
            ),
            (
                "4mb",
                "invalid value for parameter \"work_mem\": \"4mb\"",
                Some("Valid units"),
            ),
            (
                "abc",
                "invalid value for parameter \"work_mem\": \"abc\"",
                None,
            ),
            (
                "2048GB",
                "invalid value for parameter \"work_mem\": \"2048GB\"",
                Some("Value exceeds integer range."),
            ),
        ] {
            let e = s.set("work_mem", input, false).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::INVALID_PARAMETER_VALUE, "{input}");
            assert_eq!(e.message, message, "{input}");
            match hint {
                None => assert_eq!(e.hint, None, "{input}"),
                Some(h) => assert!(
                    e.hint.as_deref().is_some_and(|x| x.starts_with(h)),
                    "{input}"
                ),
            }
        }
        let mut s = Settings::new();
        s.set("work_mem", "64kB", false).unwrap();
        assert_eq!(work_mem_bytes(&|n| s.get(n)), 64 * 1024);
    }

    #[test]
    fn values_are_normalized_like_postgres() {
        let mut s = Settings::new();
        s.set("client_encoding", "utf-8", false).unwrap();
        assert_eq!(s.get("CLIENT_ENCODING").unwrap(), "UTF8");
        s.set("statement_timeout", "5000", false).unwrap();
        assert_eq!(s.get("statement_timeout").unwrap(), "5s");
        s.set("statement_timeout", "1500", false).unwrap();
        assert_eq!(s.get("statement_timeout").unwrap(), "1500ms");
        s.set("statement_timeout", "90s", false).unwrap();
        assert_eq!(s.get("statement_timeout").unwrap(), "90s");
        s.set("datestyle", "iso", false).unwrap();
        assert_eq!(s.get("DateStyle").unwrap(), "ISO, MDY");
        s.set("standard_conforming_strings", "true", false).unwrap();
        assert_eq!(s.get("standard_conforming_strings").unwrap(), "on");
    }

    #[test]
    fn bad_settings_carry_postgres_sqlstates() {
        let mut s = Settings::new();
        let e = s.set("foo", "1", false).unwrap_err();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            (
                SqlState::UNDEFINED_OBJECT,
                "unrecognized configuration parameter \"foo\""
            )
        );
        let e = s.set("server_version", "1", false).unwrap_err();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            (
                CANT_CHANGE_RUNTIME_PARAM,
                "parameter \"server_version\" cannot be changed"
            )
        );
        let e = s.set("IntervalStyle", "x", false).unwrap_err();
        assert_eq!(e.sqlstate, SqlState::INVALID_PARAMETER_VALUE);
        assert_eq!(
            e.message,
            "invalid value for parameter \"intervalstyle\": \"x\""
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("Available values: postgres, postgres_verbose, sql_standard, iso_8601.")
        );
    }

    #[test]
    fn rollback_restores_session_values_and_drops_local_ones() {
        let mut s = Settings::new();
        s.set("application_name", "a", false).unwrap();
        s.begin();
        s.set("application_name", "b", false).unwrap();
        s.set("statement_timeout", "7", true).unwrap();
        assert_eq!(s.get("statement_timeout").unwrap(), "7ms");
        s.rollback();
        assert_eq!(s.get("application_name").unwrap(), "a");
        assert_eq!(s.get("statement_timeout").unwrap(), "0");
        s.begin();
        s.set("application_name", "c", false).unwrap();
        s.commit();
        assert_eq!(s.get("application_name").unwrap(), "c");
    }

    #[test]
    fn changed_reported_parameters_are_handed_out_once() {
        let mut s = Settings::new();
        assert!(s.take_changed().is_empty());
        s.set("application_name", "x", false).unwrap();
        s.set("statement_timeout", "5", false).unwrap();
        assert_eq!(
            s.take_changed(),
            vec![("application_name".to_string(), "x".to_string())]
        );
        assert!(s.take_changed().is_empty());
    }
}
