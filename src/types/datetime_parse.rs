//! Text input of date, time, timestamp, timestamptz and interval, after
//! PostgreSQL's `ParseDateTime` / `DecodeDateTime` / `DecodeInterval`.
//!
//! ```text
//!   "Jan 2, 2024 10:00 pm PST"
//!     │ tokenize
//!     ▼
//!   [Word jan] [Number 2] [Number 2024] [Time 10:00] [Word pm] [Word pst]
//!     │ decode: date parts (month name + numbers, or Y-M-D / M/D/Y fields),
//!     │ time, AM/PM, BC, zone (offset, abbreviation or IANA name)
//!     ▼
//!   Fields { y, m, d, time, zone } ──▶ date / time / timestamp / timestamptz
//! ```
//!
//! What is accepted: ISO dates (`2024-01-02`, `20240102`), `M/D/Y` (or
//! `D/M/Y` under DateStyle DMY), month names in any position
//! (`Jan 2 2024`, `2-Jan-2024`, `2024-Jan-02`), `BC`/`AD`, times with
//! fractions to the microsecond (rounded half to even) and AM/PM, the ISO
//! `T` separator, zones as `Z`, `+HH[:MM]`, a few common abbreviations and
//! IANA names, and the special words `epoch`, `infinity`, `-infinity`,
//! `now`, `today`, `tomorrow`, `yesterday`, `allballs`. Intervals: the
//! `postgres` style (`1 year 2 mons -3 days 04:05:06`, `@ … ago`, fractional
//! units cascading down) and ISO 8601 (`P1Y2M3DT4H5M6S`, `P0001-02-03T04:05:06`).
//!
//! Errors as PostgreSQL: 22007 `invalid input syntax for type …`, 22008
//! `date/time field value out of range` (with the DateStyle hint when a
//! month is above 12), 22008 `date out of range` / `timestamp out of
//! range`, 22015 `interval field value out of range`.

use crate::error::{Error, Result, SqlState};

use super::datetime::*;

fn bad(type_name: &str, text: &str) -> Error {
    Error::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {type_name}: \"{text}\""),
    )
}

fn field_overflow(text: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{text}\""),
    )
}

fn md_overflow(text: &str) -> Error {
    field_overflow(text).with_hint("Perhaps you need a different \"datestyle\" setting.")
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A field with `-`, `/` or `.` delimiters (`2024-01-02`, `2-jan-2024`).
    Date(Vec<String>),
    /// `hh:mm[:ss[.f]]`.
    Time(String),
    /// Digits, maybe with a fraction.
    Number(String),
    /// Lower-cased letters (or a zone name with `/`).
    Word(String),
    /// `+hh[:mm]` / `-hh[:mm]`: a signed offset (or signed number).
    Signed(String),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, f: &dyn Fn(char) -> bool| -> String {
        let start = *i;
        while *i < b.len() && f(b[*i]) {
            *i += 1;
        }
        b[start..*i].iter().collect()
    };
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() || c == ',' {
            i += 1;
        } else if c.is_ascii_digit() {
            let digits = take(&mut i, &|c| c.is_ascii_digit());
            match b.get(i) {
                Some(':') => {
                    let rest = take(&mut i, &|c| c.is_ascii_digit() || c == ':' || c == '.');
                    toks.push(Tok::Time(digits + &rest));
                }
                Some(&d) if d == '-' || d == '/' || d == '.' => {
                    // `1.5` is a number; `2024.01.02`, `1-2-2024`, `2-jan-2024` dates.
                    let mut parts = vec![digits];
                    while i < b.len()
                        && b[i] == d
                        && b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric())
                    {
                        i += 1;
                        let part = if b[i].is_ascii_digit() {
                            take(&mut i, &|c| c.is_ascii_digit())
                        } else {
                            take(&mut i, &|c| c.is_ascii_alphabetic()).to_ascii_lowercase()
                        };
                        parts.push(part);
                    }
                    if d == '.' && parts.len() == 2 && parts[1].bytes().all(|c| c.is_ascii_digit())
                    {
                        toks.push(Tok::Number(format!("{}.{}", parts[0], parts[1])));
                    } else if parts.len() == 1 {
                        toks.push(Tok::Number(parts.remove(0)));
                    } else {
                        toks.push(Tok::Date(parts));
                    }
                }
                _ => toks.push(Tok::Number(digits)),
            }
        } else if c == '.' && b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
            let digits = take(&mut i, &|c| c.is_ascii_digit());
            toks.push(Tok::Number(format!("0.{digits}")));
        } else if c.is_ascii_alphabetic() {
            let word = take(&mut i, &|c| c.is_ascii_alphabetic());
            if b.get(i) == Some(&'/') && b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
                // A zone name: America/New_York, Etc/GMT+5.
                let rest = take(&mut i, &|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-')
                });
                toks.push(Tok::Word(word + &rest));
            } else if matches!(b.get(i), Some('-' | '/' | '.'))
                && b.get(i + 1).is_some_and(|c| c.is_ascii_digit())
                && month_number(&word.to_ascii_lowercase()).is_some()
            {
                let d = b[i];
                let mut parts = vec![word.to_ascii_lowercase()];
                while i < b.len()
                    && b[i] == d
                    && b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric())
                {
                    i += 1;
                    parts.push(take(&mut i, &|c| c.is_ascii_alphanumeric()).to_ascii_lowercase());
                }
                toks.push(Tok::Date(parts));
            } else {
                toks.push(Tok::Word(word.to_ascii_lowercase()));
            }
        } else if c == '+' || c == '-' {
            i += 1;
            if b.get(i).is_some_and(|c| c.is_ascii_digit()) {
                let body = take(&mut i, &|c| c.is_ascii_digit() || c == ':' || c == '.');
                toks.push(Tok::Signed(format!("{c}{body}")));
            } else if b.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
                let word = take(&mut i, &|c| c.is_ascii_alphabetic()).to_ascii_lowercase();
                toks.push(Tok::Word(format!("{c}{word}")));
            } else {
                return None;
            }
        } else {
            return None;
        }
    }
    Some(toks)
}

pub fn month_number(w: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| {
            m.starts_with(w)
                && (w.len() == 3 || w.len() == m.len() || (*m == "september" && w == "sept"))
        })
        .map(|p| p as i64 + 1)
}

fn is_day_name(w: &str) -> bool {
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    w.len() >= 3
        && DAYS.iter().any(|d| {
            d.starts_with(w)
                && (w.len() == 3
                    || w.len() == d.len()
                    || matches!(w, "tues" | "wednes" | "thur" | "thurs"))
        })
}

/// A few zone abbreviations PostgreSQL's default set knows: seconds east.
fn zone_abbreviation(w: &str) -> Option<i32> {
    Some(match w {
        "z" | "zulu" | "utc" | "gmt" | "ut" => 0,
        "est" => -5 * 3600,
        "edt" => -4 * 3600,
        "cst" => -6 * 3600,
        "cdt" => -5 * 3600,
        "mst" => -7 * 3600,
        "mdt" => -6 * 3600,
        "pst" => -8 * 3600,
        "pdt" => -7 * 3600,
        "akst" => -9 * 3600,
        "akdt" => -8 * 3600,
        "hst" => -10 * 3600,
        "wet" => 0,
        "west" | "bst" => 3600,
        "cet" | "met" => 3600,
        "cest" | "mest" => 2 * 3600,
        "eet" => 2 * 3600,
        "eest" => 3 * 3600,
        "msk" => 3 * 3600,
        "jst" | "kst" => 9 * 3600,
        "aest" => 10 * 3600,
        "aedt" => 11 * 3600,
        "nzst" => 12 * 3600,
        "nzdt" => 13 * 3600,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    Epoch,
    Infinity,
    NegInfinity,
    Now,
    Today,
    Tomorrow,
    Yesterday,
    Allballs,
}

enum DatePart {
    Num(String),
    Month(i64),
}

#[derive(Default)]
struct Fields {
    date: Option<(i64, i64, i64)>,
    time: Option<i64>,
    offset: Option<i32>,
    zone: Option<Zone>,
    special: Option<Special>,
}

/// Seconds `h:m[:s[.f]]` as microseconds, range-checked (hour up to 24,
/// seconds up to 60 as PostgreSQL allows).
fn parse_time_field(s: &str, text: &str, type_name: &str) -> Result<(i64, i64, i64, i64)> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |p: &str| -> Result<i64> {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) || p.len() > 10 {
            return Err(bad(type_name, text));
        }
        p.parse::<i64>().map_err(|_| bad(type_name, text))
    };
    let (h, m, sec_text) = match parts.as_slice() {
        [h, m] => (num(h)?, m, None),
        [h, m, s] => (num(h)?, m, Some(*s)),
        _ => return Err(bad(type_name, text)),
    };
    // `hh:mm.f` is minutes with a fraction? PostgreSQL reads `mm.ss` there; not supported.
    let m = num(m)?;
    let (sec, micros) = match sec_text {
        None => (0, 0),
        Some(st) => parse_seconds(st).ok_or_else(|| bad(type_name, text))?,
    };
    Ok((h, m, sec, micros))
}

/// `ss[.fff]` -> (seconds, microseconds rounded half to even).
fn parse_seconds(st: &str) -> Option<(i64, i64)> {
    let (whole, frac) = match st.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (st, None),
    };
    if whole.is_empty() || !whole.bytes().all(|c| c.is_ascii_digit()) || whole.len() > 10 {
        return None;
    }
    let sec: i64 = whole.parse().ok()?;
    let micros = match frac {
        None => 0,
        Some(f) => {
            if !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v: f64 = format!("0.{f}").parse().ok()?;
            (v * 1e6).round_ties_even() as i64
        }
    };
    Some((sec, micros))
}

fn adjust_year(y: &str, year: i64) -> i64 {
    if y.len() <= 2 {
        if year < 70 { year + 2000 } else { year + 1900 }
    } else {
        year
    }
}

fn decode_date_parts(
    parts: &[DatePart],
    dmy: bool,
    bc: bool,
    ymd: bool,
    text: &str,
    type_name: &str,
) -> Result<(i64, i64, i64, bool)> {
    let mut month: Option<i64> = None;
    let mut nums: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            DatePart::Month(m) => {
                if month.replace(*m).is_some() {
                    return Err(bad(type_name, text));
                }
            }
            DatePart::Num(n) => nums.push(n),
        }
    }
    let parse = |s: &str| -> Result<i64> {
        if s.len() > 9 {
            return Err(field_overflow(text));
        }
        s.parse::<i64>().map_err(|_| bad(type_name, text))
    };
    let (ys, y, m, d, from_numbers) = match (month, nums.as_slice()) {
        (Some(m), [a, b]) => {
            if a.len() >= 3 {
                (*a, parse(a)?, m, parse(b)?, false)
            } else {
                (*b, parse(b)?, m, parse(a)?, false)
            }
        }
        (None, [a, b, c]) => {
            if a.len() >= 3 || ymd {
                (*a, parse(a)?, parse(b)?, parse(c)?, true)
            } else if dmy {
                (*c, parse(c)?, parse(b)?, parse(a)?, true)
            } else {
                (*c, parse(c)?, parse(a)?, parse(b)?, true)
            }
        }
        _ => return Err(bad(type_name, text)),
    };
    let y = if bc { y } else { adjust_year(ys, y) };
    Ok((y, m, d, from_numbers))
}

/// Tokenizes and decodes a date/time string into fields.
fn decode(text: &str, type_name: &str) -> Result<Fields> {
    let time_only = type_name == "time";
    let toks = tokenize(text).ok_or_else(|| bad(type_name, text))?;
    if toks.is_empty() {
        return Err(bad(type_name, text));
    }
    let mut f = Fields::default();
    let mut parts: Vec<DatePart> = Vec::new();
    let mut bc = false;
    let mut ampm: Option<bool> = None;
    let mut hms: Option<(i64, i64, i64, i64)> = None;
    let mut date_done = false;
    // YYYYMMDD / YYMMDD: always year first.
    let mut concatenated = false;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Date(ps) => {
                if date_done || !parts.is_empty() {
                    return Err(bad(type_name, text));
                }
                for p in ps {
                    if p.bytes().all(|c| c.is_ascii_digit()) {
                        parts.push(DatePart::Num(p.clone()));
                    } else if let Some(m) = month_number(p) {
                        parts.push(DatePart::Month(m));
                    } else {
                        return Err(bad(type_name, text));
                    }
                }
                date_done = true;
            }
            Tok::Time(t) => {
                if hms.is_some() {
                    return Err(bad(type_name, text));
                }
                hms = Some(parse_time_field(t, text, type_name)?);
            }
            Tok::Number(n) => {
                if n.contains('.') {
                    return Err(bad(type_name, text));
                }
                let have_date = date_done || parts.len() >= 3;
                if time_only
                    && hms.is_none()
                    && !have_date
                    && parts.is_empty()
                    && (n.len() == 6 || n.len() == 4)
                {
                    // HHMMSS / HHMM for a time.
                    let h = n[..2].parse().unwrap_or(0);
                    let m = n[2..4].parse().unwrap_or(0);
                    let s = if n.len() == 6 {
                        n[4..].parse().unwrap_or(0)
                    } else {
                        0
                    };
                    hms = Some((h, m, s, 0));
                } else if !have_date
                    && parts.is_empty()
                    && (n.len() == 8 || n.len() == 6)
                    && !matches!(toks.get(i + 1), Some(Tok::Word(w)) if month_number(w).is_some())
                {
                    // YYYYMMDD / YYMMDD.
                    let (y, rest) = n.split_at(n.len() - 4);
                    parts.push(DatePart::Num(y.to_string()));
                    parts.push(DatePart::Num(rest[..2].to_string()));
                    parts.push(DatePart::Num(rest[2..].to_string()));
                    date_done = true;
                    concatenated = true;
                } else if have_date && hms.is_none() && (n.len() == 6 || n.len() == 4) {
                    // HHMMSS / HHMM after a date.
                    let h = n[..2].parse().unwrap_or(0);
                    let m = n[2..4].parse().unwrap_or(0);
                    let s = if n.len() == 6 {
                        n[4..].parse().unwrap_or(0)
                    } else {
                        0
                    };
                    hms = Some((h, m, s, 0));
                } else if !have_date && f.special.is_none() {
                    parts.push(DatePart::Num(n.clone()));
                } else {
                    return Err(bad(type_name, text));
                }
            }
            Tok::Signed(s) => {
                if hms.is_none() && !date_done && parts.is_empty() {
                    return Err(bad(type_name, text));
                }
                let off = parse_signed_offset(s).ok_or_else(|| bad(type_name, text))?;
                if f.offset.replace(off).is_some() {
                    return Err(bad(type_name, text));
                }
            }
            Tok::Word(w) => {
                let w = w.as_str();
                if let Some(m) = month_number(w) {
                    if date_done {
                        return Err(bad(type_name, text));
                    }
                    parts.push(DatePart::Month(m));
                } else if w == "bc" {
                    bc = true;
                } else if w == "ad" {
                    bc = false;
                } else if w == "am" || w == "a" {
                    ampm = Some(false);
                } else if w == "pm" || w == "p" {
                    ampm = Some(true);
                } else if w == "t" || w == "on" || is_day_name(w) {
                } else if let Some(sp) = match w {
                    "epoch" => Some(Special::Epoch),
                    "infinity" | "+infinity" => Some(Special::Infinity),
                    "-infinity" => Some(Special::NegInfinity),
                    "now" => Some(Special::Now),
                    "today" => Some(Special::Today),
                    "tomorrow" => Some(Special::Tomorrow),
                    "yesterday" => Some(Special::Yesterday),
                    "allballs" => Some(Special::Allballs),
                    _ => None,
                } {
                    if f.special.replace(sp).is_some() {
                        return Err(bad(type_name, text));
                    }
                } else if let Some(off) = zone_abbreviation(w) {
                    if f.offset.replace(off).is_some() || f.zone.is_some() {
                        return Err(bad(type_name, text));
                    }
                } else if w.contains('/') {
                    let z = Zone::lookup(w).map_err(|_| {
                        Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("time zone \"{w}\" not recognized"),
                        )
                    })?;
                    f.zone = Some(z);
                } else {
                    return Err(bad(type_name, text));
                }
            }
        }
        i += 1;
    }
    if let Some(sp) = f.special {
        let only_special = parts.is_empty() && hms.is_none() && !bc;
        let with_time_ok = matches!(sp, Special::Today | Special::Tomorrow | Special::Yesterday);
        if !(only_special || (with_time_ok && parts.is_empty())) {
            return Err(bad(type_name, text));
        }
    }
    if !parts.is_empty() {
        let (mut y, m, d, from_numbers) =
            decode_date_parts(&parts, context_dmy(), bc, concatenated, text, type_name)?;
        if bc {
            if y <= 0 {
                return Err(field_overflow(text));
            }
            y = 1 - y;
        } else if y <= 0 {
            return Err(field_overflow(text));
        }
        if !(1..=12).contains(&m) {
            return Err(if from_numbers {
                md_overflow(text)
            } else {
                field_overflow(text)
            });
        }
        if d < 1 || d > days_in_month(y, m) {
            return Err(field_overflow(text));
        }
        f.date = Some((y, m, d));
    } else if bc {
        return Err(bad(type_name, text));
    }
    if let Some((mut h, m, s, us)) = hms {
        if let Some(pm) = ampm {
            if h > 12 {
                return Err(field_overflow(text));
            }
            if pm && h < 12 {
                h += 12;
            } else if !pm && h == 12 {
                h = 0;
            }
        }
        if h > 24 || m > 59 || s > 60 || (h == 24 && (m > 0 || s > 0 || us > 0)) {
            return Err(field_overflow(text));
        }
        f.time = Some(((h * 60 + m) * 60 + s) * USECS_PER_SEC + us);
    } else if ampm.is_some() {
        return Err(bad(type_name, text));
    }
    Ok(f)
}

/// `+hh`, `-hh:mm`, `+hhmm`: seconds east of UTC.
fn parse_signed_offset(s: &str) -> Option<i32> {
    let (neg, body) = (s.starts_with('-'), &s[1..]);
    let (h, m, sec) = if body.contains(':') {
        let p: Vec<&str> = body.split(':').collect();
        match p.as_slice() {
            [h, m] => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?, 0),
            [h, m, s] => (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?),
            _ => return None,
        }
    } else {
        if !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        match body.len() {
            1 | 2 => (body.parse().ok()?, 0, 0),
            3 => (body[..1].parse().ok()?, body[1..].parse().ok()?, 0),
            4 => (body[..2].parse().ok()?, body[2..].parse().ok()?, 0),
            6 => (
                body[..2].parse().ok()?,
                body[2..4].parse().ok()?,
                body[4..].parse().ok()?,
            ),
            _ => return None,
        }
    };
    if h > 15 || m > 59 || sec > 59 {
        return None;
    }
    let v = h * 3600 + m * 60 + sec;
    Some(if neg { -v } else { v })
}

/// Today's date in the session zone, as a Julian-day offset date.
fn local_today() -> i64 {
    let (local, _) = session_zone().utc_to_local(statement_now());
    local.div_euclid(USECS_PER_DAY)
}

/// The local timestamp the fields describe (timestamp and timestamptz).
fn fields_to_local(f: &Fields, text: &str, type_name: &str) -> Result<Option<i64>> {
    let day = match f.special {
        Some(Special::Today) => Some(local_today()),
        Some(Special::Tomorrow) => Some(local_today() + 1),
        Some(Special::Yesterday) => Some(local_today() - 1),
        _ => None,
    };
    let days = match (day, f.date) {
        (Some(d), _) => d,
        (None, Some((y, m, d))) => date2j(y, m, d) - POSTGRES_EPOCH_JDATE,
        (None, None) => return Err(bad(type_name, text)),
    };
    let ts = (days as i128) * USECS_PER_DAY as i128 + f.time.unwrap_or(0) as i128;
    let ts = i64::try_from(ts).ok().filter(|t| ts_in_range(*t));
    Ok(ts)
}

fn timestamp_range(text: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("timestamp out of range: \"{text}\""),
    )
}

/// `date_in`.
pub fn parse_date(text: &str) -> Result<i32> {
    let f = decode(text, "date")?;
    match f.special {
        Some(Special::Infinity) => return Ok(DATE_NOEND),
        Some(Special::NegInfinity) => return Ok(DATE_NOBEGIN),
        Some(Special::Epoch) => return Ok((UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) as i32),
        Some(Special::Now | Special::Today) => return Ok(local_today() as i32),
        Some(Special::Tomorrow) => return Ok(local_today() as i32 + 1),
        Some(Special::Yesterday) => return Ok(local_today() as i32 - 1),
        Some(Special::Allballs) => return Err(bad("date", text)),
        None => {}
    }
    let (y, m, d) = f.date.ok_or_else(|| bad("date", text))?;
    date_from_ymd(y, m, d).ok_or_else(|| {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date out of range: \"{text}\""),
        )
    })
}

/// `timestamp_in` (a zone in the text is ignored, as PostgreSQL does).
pub fn parse_timestamp(text: &str) -> Result<i64> {
    match iso_timestamp(text) {
        Some(ts) => Ok(ts),
        None => parse_timestamp_general(text),
    }
}

/// The ISO form `YYYY-MM-DD HH:MM:SS[.f…]` (up to six fraction digits,
/// year 1 to 9999, fields in range), which drivers, dumps and most INSERTs
/// send, read without the general tokenizer (its token and field vectors
/// were 4% of a bulk load's CPU). `None` for anything else — a zone, `T`,
/// `24:00:00`, a leap second, more digits, spaces — which the general path
/// reads; on what both read they agree (tested below).
fn iso_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if b.len() < 19 || !(at(4, b'-') && at(7, b'-') && at(10, b' ') && at(13, b':') && at(16, b':'))
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        b.get(from..to)?.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut micros = 0;
    if b.len() > 19 {
        let digits = b.len() - 20;
        if !at(19, b'.') || digits == 0 || digits > 6 {
            return None;
        }
        micros = num(20, b.len())? * 10i64.pow(6 - digits as u32);
    }
    if y < 1 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let days = date2j(y, mo, d) - POSTGRES_EPOCH_JDATE;
    let ts = days * USECS_PER_DAY + ((h * 60 + mi) * 60 + sec) * USECS_PER_SEC + micros;
    ts_in_range(ts).then_some(ts)
}

/// `timestamp_in` through the general date/time decoder.
fn parse_timestamp_general(text: &str) -> Result<i64> {
    let f = decode(text, "timestamp")?;
    match f.special {
        Some(Special::Infinity) => return Ok(TS_NOEND),
        Some(Special::NegInfinity) => return Ok(TS_NOBEGIN),
        Some(Special::Epoch) => {
            return Ok((UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY);
        }
        Some(Special::Now) => return Ok(session_zone().utc_to_local(statement_now()).0),
        Some(Special::Allballs) => return Err(bad("timestamp", text)),
        _ => {}
    }
    fields_to_local(&f, text, "timestamp")?.ok_or_else(|| timestamp_range(text))
}

/// `timestamptz_in`: an offset or zone in the text, else the session zone.
pub fn parse_timestamptz(text: &str) -> Result<i64> {
    const NAME: &str = "timestamp with time zone";
    let f = decode(text, NAME)?;
    match f.special {
        Some(Special::Infinity) => return Ok(TS_NOEND),
        Some(Special::NegInfinity) => return Ok(TS_NOBEGIN),
        Some(Special::Epoch) => {
            return Ok((UNIX_EPOCH_JDATE - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY);
        }
        Some(Special::Now) => return Ok(statement_now()),
        Some(Special::Allballs) => return Err(bad(NAME, text)),
        _ => {}
    }
    let local = fields_to_local(&f, text, NAME)?.ok_or_else(|| timestamp_range(text))?;
    let utc = match (&f.offset, &f.zone) {
        (Some(off), _) => local.checked_sub(*off as i64 * USECS_PER_SEC),
        (None, Some(z)) => z.local_to_utc(local).ok(),
        (None, None) => session_zone().local_to_utc(local).ok(),
    };
    utc.filter(|t| ts_in_range(*t))
        .ok_or_else(|| timestamp_range(text))
}

/// `time_in` (a date or zone in the text is ignored).
pub fn parse_time(text: &str) -> Result<i64> {
    let f = decode(text, "time")?;
    match f.special {
        Some(Special::Allballs) => return Ok(0),
        Some(Special::Now) => {
            let (local, _) = session_zone().utc_to_local(statement_now());
            return Ok(local.rem_euclid(USECS_PER_DAY));
        }
        Some(_) => return Err(bad("time", text)),
        None => {}
    }
    let t = f.time.ok_or_else(|| bad("time", text))?;
    if t > USECS_PER_DAY {
        return Err(field_overflow(text));
    }
    Ok(t)
}

// ---------------------------------------------------------------------------
// Interval input.

fn interval_bad(text: &str) -> Error {
    bad("interval", text)
}

fn interval_field_overflow(text: &str) -> Error {
    Error::new(
        SqlState::INTERVAL_FIELD_OVERFLOW,
        format!("interval field value out of range: \"{text}\""),
    )
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Unit {
    Micro,
    Milli,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

fn unit_of(w: &str) -> Option<Unit> {
    Some(match w {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" | "microsecon" => {
            Unit::Micro
        }
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" | "millisecon" => {
            Unit::Milli
        }
        "second" | "seconds" | "s" | "sec" | "secs" => Unit::Second,
        "minute" | "minutes" | "m" | "min" | "mins" => Unit::Minute,
        "hour" | "hours" | "h" | "hr" | "hrs" => Unit::Hour,
        "day" | "days" | "d" => Unit::Day,
        "week" | "weeks" | "w" => Unit::Week,
        "month" | "months" | "mon" | "mons" => Unit::Month,
        "year" | "years" | "y" | "yr" | "yrs" => Unit::Year,
        "decade" | "decades" | "dec" | "decs" => Unit::Decade,
        "century" | "centuries" | "c" | "cent" => Unit::Century,
        "millennium" | "millennia" | "mil" | "mils" => Unit::Millennium,
        _ => return None,
    })
}

/// Accumulates interval fields with overflow checks, as `tm2interval` does.
#[derive(Default)]
struct IvAcc {
    months: i64,
    days: i64,
    micros: i128,
}

impl IvAcc {
    /// Adds `int + frac` (same sign) of `unit`, cascading the fraction.
    fn add(&mut self, unit: Unit, int: i64, frac: f64) {
        let int = int as i128;
        match unit {
            Unit::Micro => self.micros += int + (frac).round_ties_even() as i128,
            Unit::Milli => self.micros += int * 1000 + (frac * 1000.0).round_ties_even() as i128,
            Unit::Second => {
                self.micros += int * USECS_PER_SEC as i128 + (frac * 1e6).round_ties_even() as i128
            }
            Unit::Minute => {
                self.micros +=
                    int * USECS_PER_MINUTE as i128 + (frac * 60e6).round_ties_even() as i128
            }
            Unit::Hour => {
                self.micros +=
                    int * USECS_PER_HOUR as i128 + (frac * 3600e6).round_ties_even() as i128
            }
            Unit::Day => {
                self.days += int as i64;
                self.micros += (frac * USECS_PER_DAY as f64).round_ties_even() as i128;
            }
            Unit::Week => {
                self.days += int as i64 * 7;
                self.fract_days(frac * 7.0);
            }
            Unit::Month => {
                self.months += int as i64;
                self.fract_days(frac * DAYS_PER_MONTH as f64);
            }
            Unit::Year => self.months += int as i64 * 12 + (frac * 12.0).round_ties_even() as i64,
            Unit::Decade => {
                self.months += int as i64 * 120 + (frac * 120.0).round_ties_even() as i64
            }
            Unit::Century => {
                self.months += int as i64 * 1200 + (frac * 1200.0).round_ties_even() as i64
            }
            Unit::Millennium => {
                self.months += int as i64 * 12000 + (frac * 12000.0).round_ties_even() as i64
            }
        }
    }

    /// `AdjustFractDays`: whole days, then the rest as time.
    fn fract_days(&mut self, days: f64) {
        let whole = days.trunc();
        self.days += whole as i64;
        self.micros += ((days - whole) * USECS_PER_DAY as f64).round_ties_even() as i128;
    }

    fn finish(self, negate: bool, text: &str) -> Result<Interval> {
        let (m, d, us) = if negate {
            (-self.months, -self.days, -self.micros)
        } else {
            (self.months, self.days, self.micros)
        };
        let months = i32::try_from(m).map_err(|_| interval_field_overflow(text))?;
        let days = i32::try_from(d).map_err(|_| interval_field_overflow(text))?;
        let micros = i64::try_from(us).map_err(|_| interval_field_overflow(text))?;
        Ok(Interval::new(months, days, micros))
    }
}

/// Splits a signed decimal into (integer part, fraction with the same sign).
fn split_number(s: &str) -> Option<(i64, f64)> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (w, f) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    if (w.is_empty() && f.is_empty())
        || !w.bytes().all(|c| c.is_ascii_digit())
        || !f.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let int: i64 = if w.is_empty() { 0 } else { w.parse().ok()? };
    let frac: f64 = if f.is_empty() {
        0.0
    } else {
        format!("0.{f}").parse().ok()?
    };
    Some(if neg { (-int, -frac) } else { (int, frac) })
}

/// `interval_in`.
pub fn parse_interval(text: &str) -> Result<Interval> {
    let s = text.trim();
    if s.starts_with('P') {
        return parse_iso_interval(s, text);
    }
    let s = s.strip_prefix('@').unwrap_or(s);
    // Tokens: numbers (maybe with an attached unit), time fields, words.
    let mut toks: Vec<String> = Vec::new();
    for raw in s.split_whitespace() {
        let mut rest = raw;
        while !rest.is_empty() {
            let first = rest.chars().next().unwrap_or(' ');
            let len = if first.is_ascii_alphabetic() {
                rest.find(|c: char| !c.is_ascii_alphabetic())
                    .unwrap_or(rest.len())
            } else {
                let body_start = usize::from(first == '+' || first == '-');
                rest[body_start..]
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .map(|p| p + body_start)
                    .unwrap_or(rest.len())
            };
            if len == 0 {
                return Err(interval_bad(text));
            }
            toks.push(rest[..len].to_ascii_lowercase());
            rest = &rest[len..];
        }
    }
    if toks.is_empty() {
        return Err(interval_bad(text));
    }
    let mut ago = false;
    if toks.last().map(String::as_str) == Some("ago") {
        ago = true;
        toks.pop();
    }
    let mut acc = IvAcc::default();
    // Right to left: a unit word names the number before it; a bare number
    // is seconds at the right end and days just before a time field.
    let mut pending_unit: Option<Unit> = None;
    let mut default_unit = Unit::Second;
    let mut seen = 0u32;
    let mut i = toks.len();
    while i > 0 {
        i -= 1;
        let t = toks[i].as_str();
        if t.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let u = unit_of(t).ok_or_else(|| interval_bad(text))?;
            if pending_unit.is_some() {
                return Err(interval_bad(text));
            }
            pending_unit = Some(u);
            continue;
        }
        if t.contains(':') {
            if pending_unit.is_some() {
                return Err(interval_bad(text));
            }
            let (neg, body) = match t.as_bytes().first() {
                Some(b'-') => (true, &t[1..]),
                Some(b'+') => (false, &t[1..]),
                _ => (false, t),
            };
            let parts: Vec<&str> = body.split(':').collect();
            let (h, m, sec) = match parts.as_slice() {
                [h, m] => (*h, *m, None),
                [h, m, s] => (*h, *m, Some(*s)),
                _ => return Err(interval_bad(text)),
            };
            let hv: i64 = h.parse().map_err(|_| interval_bad(text))?;
            let (mv, mfrac) = split_number(m).ok_or_else(|| interval_bad(text))?;
            let (sv, us) = match sec {
                None => (0, 0),
                Some(st) => parse_seconds(st).ok_or_else(|| interval_bad(text))?,
            };
            if mv > 59 || sv > 60 || (mfrac != 0.0 && sec.is_some()) {
                return Err(interval_field_overflow(text));
            }
            let total = hv as i128 * USECS_PER_HOUR as i128
                + mv as i128 * USECS_PER_MINUTE as i128
                + (mfrac * 60e6).round_ties_even() as i128
                + sv as i128 * USECS_PER_SEC as i128
                + us as i128;
            acc.micros += if neg { -total } else { total };
            default_unit = Unit::Day;
            seen |= 1 << 20;
            continue;
        }
        let (int, frac) = split_number(t).ok_or_else(|| interval_bad(text))?;
        let unit = pending_unit.take().unwrap_or(default_unit);
        let bit = 1u32 << (unit as u32);
        if seen & bit != 0 && !matches!(unit, Unit::Second | Unit::Micro | Unit::Milli) {
            return Err(interval_bad(text));
        }
        seen |= bit;
        if int.unsigned_abs() > i32::MAX as u64 * 12000 {
            return Err(interval_field_overflow(text));
        }
        acc.add(unit, int, frac);
        if unit == Unit::Second && default_unit == Unit::Second {
            default_unit = Unit::Second;
        }
    }
    if pending_unit.is_some() {
        return Err(interval_bad(text));
    }
    acc.finish(ago, text)
}

/// ISO 8601 intervals: `P1Y2M3W4DT5H6M7.5S` or `P0001-02-03T04:05:06`.
fn parse_iso_interval(s: &str, text: &str) -> Result<Interval> {
    let body = &s[1..];
    let mut acc = IvAcc::default();
    if body.is_empty() {
        return Err(interval_bad(text));
    }
    // Alternative format: P[YYYY-MM-DD][THH:MM:SS].
    if body.starts_with(|c: char| c.is_ascii_digit())
        && (body.contains('-') || body.contains(':'))
        && !body.contains(['Y', 'M', 'W', 'D', 'H', 'S'])
    {
        let (date, time) = match body.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (body, None),
        };
        if !date.is_empty() {
            let p: Vec<&str> = date.split('-').collect();
            let [y, m, d] = p.as_slice() else {
                return Err(interval_bad(text));
            };
            let y: i64 = y.parse().map_err(|_| interval_bad(text))?;
            let m: i64 = m.parse().map_err(|_| interval_bad(text))?;
            let d: i64 = d.parse().map_err(|_| interval_bad(text))?;
            acc.months += y * 12 + m;
            acc.days += d;
        }
        if let Some(t) = time {
            let (h, m, sec, us) = parse_time_field(t, text, "interval")?;
            acc.micros += ((h * 60 + m) * 60 + sec) as i128 * USECS_PER_SEC as i128 + us as i128;
        }
        return acc.finish(false, text);
    }
    let mut in_time = false;
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('T') {
            if in_time {
                return Err(interval_bad(text));
            }
            in_time = true;
            rest = r;
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .ok_or_else(|| interval_bad(text))?;
        let (num, after) = rest.split_at(end);
        let (int, frac) = split_number(num).ok_or_else(|| interval_bad(text))?;
        let designator = after.chars().next().ok_or_else(|| interval_bad(text))?;
        let unit = match (in_time, designator) {
            (false, 'Y') => Unit::Year,
            (false, 'M') => Unit::Month,
            (false, 'W') => Unit::Week,
            (false, 'D') => Unit::Day,
            (true, 'H') => Unit::Hour,
            (true, 'M') => Unit::Minute,
            (true, 'S') => Unit::Second,
            _ => return Err(interval_bad(text)),
        };
        acc.add(unit, int, frac);
        rest = &after[1..];
    }
    acc.finish(false, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_iso_timestamp_shortcut_agrees_with_the_general_decoder() {
        let mut cases: Vec<String> = [
            "2024-01-05 10:00:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "2000-01-01 00:00:00",
            "1999-12-31 23:59:59.5",
            "2024-02-29 12:34:56.07",
            "2023-02-29 12:34:56",
            "1900-02-29 00:00:00",
            "2000-02-29 00:00:00",
            "2024-04-31 00:00:00",
            "2024-13-01 00:00:00",
            "2024-00-10 00:00:00",
            "2024-01-00 00:00:00",
            "0000-01-01 00:00:00",
            "2024-01-05 24:00:00",
            "2024-01-05 23:60:00",
            "2024-01-05 23:59:60",
            "2024-01-05 10:00:00.",
            "2024-01-05 10:00:00.1234567",
            "2024-01-05 10:00:00+02",
            "2024-01-05T10:00:00",
            " 2024-01-05 10:00:00",
            "2024-01-05 10:00:00 ",
            "2024-1-05 10:00:00",
            "2024-01-05 10:0a:00",
            "20240-01-05 10:00:00",
            "2024-01-05 10:00:00 BC",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = |shift: u32, m: u64| (x >> shift) % m;
            let frac = match f(50, 4) {
                0 => String::new(),
                n => format!(
                    ".{:0w$}",
                    f(30, 10u64.pow(n as u32 * 2)),
                    w = n as usize * 2
                ),
            };
            cases.push(format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{frac}",
                f(0, 10000),
                f(14, 14),
                f(18, 33),
                f(24, 26),
                f(36, 62),
                f(44, 62)
            ));
        }
        let mut fast = 0;
        for c in &cases {
            let general = parse_timestamp_general(c);
            match iso_timestamp(c) {
                Some(v) => {
                    fast += 1;
                    assert_eq!(general.ok(), Some(v), "{c:?}");
                }
                None => assert_eq!(
                    parse_timestamp(c).ok(),
                    general.ok(),
                    "{c:?} goes the general way"
                ),
            }
        }
        assert!(fast > 1000, "the shortcut takes the plain ones: {fast}");
    }

    fn ts(s: &str) -> String {
        timestamp_to_text(parse_timestamp(s).unwrap())
    }

    #[test]
    fn dates_in_every_accepted_form() {
        for (input, out) in [
            ("2024-01-02", "2024-01-02"),
            ("20240102", "2024-01-02"),
            ("1/2/2024", "2024-01-02"),
            ("Jan 2, 2024", "2024-01-02"),
            ("2-Jan-2024", "2024-01-02"),
            ("2024-Jan-02", "2024-01-02"),
            ("January 8, 99 BC", "0099-01-08 BC"),
            ("0001-01-01 BC", "0001-01-01 BC"),
            ("990108", "1999-01-08"),
            ("infinity", "infinity"),
            ("-infinity", "-infinity"),
            ("epoch", "1970-01-01"),
            ("2024-01-02 10:00:00", "2024-01-02"),
            ("5874897-12-31", "5874897-12-31"),
        ] {
            assert_eq!(date_to_text(parse_date(input).unwrap()), out, "{input}");
        }
    }

    #[test]
    fn bad_dates_carry_postgres_sqlstates() {
        let e = parse_date("2024-13-01").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::DATETIME_FIELD_OVERFLOW);
        assert!(e.hint.is_some());
        let e = parse_date("2024-02-30").unwrap_err();
        assert_eq!(
            e.message,
            "date/time field value out of range: \"2024-02-30\""
        );
        assert!(e.hint.is_none());
        let e = parse_date("foo").unwrap_err();
        assert_eq!(
            (e.sqlstate, e.message.as_str()),
            (
                SqlState::INVALID_DATETIME_FORMAT,
                "invalid input syntax for type date: \"foo\""
            )
        );
        let e = parse_date("5874898-01-01").unwrap_err();
        assert_eq!(e.message, "date out of range: \"5874898-01-01\"");
        let e = parse_timestamp("294277-01-01").unwrap_err();
        assert_eq!(e.message, "timestamp out of range: \"294277-01-01\"");
        let e = parse_time("25:00").unwrap_err();
        assert_eq!(e.sqlstate, SqlState::DATETIME_FIELD_OVERFLOW);
    }

    #[test]
    fn timestamps_and_times() {
        assert_eq!(
            ts("2024-01-02 03:04:05.123456789"),
            "2024-01-02 03:04:05.123457"
        );
        assert_eq!(ts("2024-01-02T03:04:05"), "2024-01-02 03:04:05");
        assert_eq!(ts("2024-01-02 3:04 pm"), "2024-01-02 15:04:00");
        assert_eq!(ts("2024-01-02 23:59:60"), "2024-01-03 00:00:00");
        assert_eq!(ts("2024-01-02 24:00:00"), "2024-01-03 00:00:00");
        assert_eq!(ts("Jan 2 2024 10:00"), "2024-01-02 10:00:00");
        let z = Zone::default();
        assert_eq!(
            timestamptz_to_text_in(parse_timestamptz("2024-01-02 03:04:05+02").unwrap(), &z),
            "2024-01-02 01:04:05+00"
        );
        assert_eq!(
            timestamptz_to_text_in(parse_timestamptz("2024-01-02 03:04:05 PST").unwrap(), &z),
            "2024-01-02 11:04:05+00"
        );
        assert_eq!(time_to_text(parse_time("10:00 pm").unwrap()), "22:00:00");
        assert_eq!(time_to_text(parse_time("12:00 am").unwrap()), "00:00:00");
        assert_eq!(time_to_text(parse_time("allballs").unwrap()), "00:00:00");
        assert_eq!(time_to_text(parse_time("24:00").unwrap()), "24:00:00");
    }

    #[test]
    fn intervals_in_postgres_and_iso_forms() {
        for (input, out) in [
            (
                "1 year 2 months 3 days 04:05:06.5",
                "1 year 2 mons 3 days 04:05:06.5",
            ),
            ("-1 day +02:00", "-1 days +02:00:00"),
            ("1.5 years", "1 year 6 mons"),
            ("P1Y2M3DT4H5M6S", "1 year 2 mons 3 days 04:05:06"),
            ("3 days ago", "-3 days"),
            ("100 hours", "100:00:00"),
            ("1 mon -1 day", "1 mon -1 days"),
            ("1 week 2.5 days", "9 days 12:00:00"),
            ("1.5 mons", "1 mon 15 days"),
            ("-1 year -2 mons", "-1 years -2 mons"),
            ("@ 1 hour", "01:00:00"),
            ("10", "00:00:10"),
            ("1:2", "01:02:00"),
            ("1 2:03:04", "1 day 02:03:04"),
            ("2 h 3 m", "02:03:00"),
            ("0.5 sec", "00:00:00.5"),
            ("P1.5Y", "1 year 6 mons"),
            ("PT1.5H", "01:30:00"),
            ("P0001-02-03T04:05:06", "1 year 2 mons 3 days 04:05:06"),
            ("0", "00:00:00"),
        ] {
            assert_eq!(
                interval_to_text(&parse_interval(input).unwrap()),
                out,
                "{input}"
            );
        }
        assert_eq!(
            parse_interval("x").unwrap_err().message,
            "invalid input syntax for type interval: \"x\""
        );
        assert_eq!(
            parse_interval("1 year 99999999999 mons")
                .unwrap_err()
                .sqlstate,
            SqlState::INTERVAL_FIELD_OVERFLOW
        );
    }
}
