//! date, time, timestamp, timestamptz and interval: PostgreSQL's
//! representations, calendar arithmetic, time zones, and text output.
//! (Text input is [`super::datetime_parse`].)
//!
//! Representations are PostgreSQL's own, so the binary wire format and the
//! key encoding are plain integers:
//!
//! | type | Rust | meaning |
//! |------|------|---------|
//! | date | `i32` | days since 2000-01-01; `i32::MIN` is `-infinity`, `i32::MAX` `infinity` |
//! | time | `i64` | microseconds since midnight, `0..=86_400_000_000` |
//! | timestamp | `i64` | microseconds since 2000-01-01 00:00 (local, no zone); `i64::MIN` / `i64::MAX` are ∓infinity |
//! | timestamptz | `i64` | microseconds since 2000-01-01 00:00 UTC; shown in the session's `TimeZone` |
//! | interval | [`Interval`] | months, days and microseconds, kept apart as PostgreSQL keeps them |
//!
//! ```text
//!   calendar date ──date2j──▶ Julian day ──(- 2451545)──▶ date (i32)
//!        ▲                        │
//!        └────────j2date──────────┘     timestamp = date * 86_400_000_000 + time
//! ```
//!
//! Invariants: a finite date lies in Julian days `0..DATE_END_JULIAN`
//! (4714-11-24 BC .. 5874897-12-31); a finite timestamp in
//! `MIN_TIMESTAMP..END_TIMESTAMP` (4714-11-24 BC .. 294276-12-31). Years are
//! astronomical inside (1 BC is year 0) and printed with ` BC` outside.
//!
//! The session time zone and the statement's start time (for `now()`) are
//! a per-thread [`Context`], set by the SQL session before it binds and runs
//! a statement and by the server before it formats rows.

use std::cell::RefCell;
use std::sync::Arc;

use crate::error::{Error, Result, SqlState};

pub const USECS_PER_SEC: i64 = 1_000_000;
pub const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
pub const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
pub const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;
pub const SECS_PER_DAY: i64 = 86_400;
/// Julian day of 2000-01-01, PostgreSQL's epoch.
pub const POSTGRES_EPOCH_JDATE: i64 = 2_451_545;
/// Julian day of 1970-01-01.
pub const UNIX_EPOCH_JDATE: i64 = 2_440_588;
/// First Julian day past the last valid date (5874898-01-01).
pub const DATE_END_JULIAN: i64 = 2_147_483_494;
/// First invalid timestamp (294277-01-01 00:00), as microseconds.
pub const END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
/// First valid timestamp (4714-11-24 BC 00:00), as microseconds.
pub const MIN_TIMESTAMP: i64 = -211_813_488_000_000_000;
pub const DATE_NOBEGIN: i32 = i32::MIN;
pub const DATE_NOEND: i32 = i32::MAX;
pub const TS_NOBEGIN: i64 = i64::MIN;
pub const TS_NOEND: i64 = i64::MAX;
/// Days in a month as interval comparison and justification count them.
pub const DAYS_PER_MONTH: i64 = 30;

/// An interval as PostgreSQL stores it: the three parts never mix on
/// their own (`1 mon` is not `30 days`, though they compare equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Interval {
        Interval {
            months,
            days,
            micros,
        }
    }

    /// The value intervals are compared and hashed by: the total duration
    /// with 30-day months and 24-hour days (`interval_cmp_value`).
    pub fn cmp_key(&self) -> i128 {
        (self.months as i128 * DAYS_PER_MONTH as i128 + self.days as i128) * USECS_PER_DAY as i128
            + self.micros as i128
    }
}

pub fn datetime_overflow(what: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("{what} out of range"),
    )
}

pub fn interval_overflow() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

// ---------------------------------------------------------------------------
// Calendar.

/// Julian day of a (proleptic Gregorian, astronomical-year) date.
pub fn date2j(year: i64, month: i64, day: i64) -> i64 {
    let (mut y, mut m) = (year, month);
    if m > 2 {
        m += 1;
        y += 4800;
    } else {
        m += 13;
        y += 4799;
    }
    let century = y.div_euclid(100);
    y * 365 - 32167 + y.div_euclid(4) - century + century.div_euclid(4) + 7834 * m / 256 + day
}

/// The date of a Julian day (`jd >= 0`): (year, month, day).
pub fn j2date(jd: i64) -> (i64, i64, i64) {
    let mut julian = jd + 32044;
    let mut quad = julian / 146097;
    let extra = (julian - quad * 146097) * 4 + 3;
    julian += 60 + quad * 3 + extra / 146097;
    quad = julian / 1461;
    julian -= quad * 1461;
    let mut y = julian * 4 / 1461;
    julian = if y != 0 {
        (julian + 305) % 365
    } else {
        (julian + 306) % 366
    } + 123;
    y += quad * 4;
    let year = y - 4800;
    let quad = julian * 2141 / 65536;
    let day = julian - 7834 * quad / 256;
    let month = (quad + 10) % 12 + 1;
    (year, month, day)
}

pub fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

pub fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(year) {
                29
            } else {
                28
            }
        }
    }
}

/// Day of the week of a Julian day, 0 = Sunday.
pub fn j2day(jd: i64) -> i64 {
    (jd + 1).rem_euclid(7)
}

/// A broken-down date and time (astronomical year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tm {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub micros: i64,
}

impl Tm {
    pub fn julian(&self) -> i64 {
        date2j(self.year, self.month, self.day)
    }

    pub fn time_micros(&self) -> i64 {
        ((self.hour * 60 + self.minute) * 60 + self.second) * USECS_PER_SEC + self.micros
    }
}

/// Whether a Julian day is a valid date.
pub fn julian_in_date_range(jd: i64) -> bool {
    (0..DATE_END_JULIAN).contains(&jd)
}

pub fn is_finite_ts(ts: i64) -> bool {
    ts != TS_NOBEGIN && ts != TS_NOEND
}

pub fn is_finite_date(d: i32) -> bool {
    d != DATE_NOBEGIN && d != DATE_NOEND
}

pub fn ts_in_range(ts: i64) -> bool {
    (MIN_TIMESTAMP..END_TIMESTAMP).contains(&ts)
}

/// A date (days since 2000-01-01) from calendar fields; `None` out of range.
pub fn date_from_ymd(year: i64, month: i64, day: i64) -> Option<i32> {
    let jd = date2j(year, month, day);
    if !julian_in_date_range(jd) {
        return None;
    }
    i32::try_from(jd - POSTGRES_EPOCH_JDATE).ok()
}

/// Calendar fields of a finite date.
pub fn date_to_ymd(d: i32) -> (i64, i64, i64) {
    j2date(d as i64 + POSTGRES_EPOCH_JDATE)
}

/// A timestamp from broken-down fields; `None` out of range.
pub fn tm_to_ts(tm: &Tm) -> Option<i64> {
    let jd = tm.julian();
    let days = jd - POSTGRES_EPOCH_JDATE;
    let ts = (days as i128) * USECS_PER_DAY as i128 + tm.time_micros() as i128;
    let ts = i64::try_from(ts).ok()?;
    ts_in_range(ts).then_some(ts)
}

/// Broken-down fields of a finite timestamp.
pub fn ts_to_tm(ts: i64) -> Tm {
    let days = ts.div_euclid(USECS_PER_DAY);
    let time = ts.rem_euclid(USECS_PER_DAY);
    let (year, month, day) = j2date(days + POSTGRES_EPOCH_JDATE);
    Tm {
        year,
        month,
        day,
        hour: time / USECS_PER_HOUR,
        minute: time / USECS_PER_MINUTE % 60,
        second: time / USECS_PER_SEC % 60,
        micros: time % USECS_PER_SEC,
    }
}

// ---------------------------------------------------------------------------
// Time zones.

/// Rules read from a TZif file: transitions (UTC seconds since 1970) and
/// the offset (seconds east of UTC) and abbreviation in force from each.
#[derive(Debug)]
pub struct TzRules {
    pub name: String,
    transitions: Vec<i64>,
    /// Index into `types` for each transition.
    transition_types: Vec<usize>,
    /// (offset east, is_dst, abbreviation)
    types: Vec<(i32, bool, String)>,
}

/// A session time zone.
#[derive(Debug, Clone)]
pub enum Zone {
    /// A fixed offset, seconds east of UTC (UTC itself, `+05:30`, POSIX `<+05>-05`).
    Fixed { offset: i32, name: String },
    /// An IANA zone from the system's zoneinfo files.
    Rules(Arc<TzRules>),
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::Fixed {
            offset: 0,
            name: "UTC".into(),
        }
    }
}

const ZONEINFO_DIR: &str = "/usr/share/zoneinfo";

fn read_be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn read_be_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a TZif file (version 2 or later: the 64-bit block). Times after
/// the last transition keep the last offset (the footer rule is not read).
fn parse_tzif(name: &str, b: &[u8]) -> Option<TzRules> {
    let header = |at: usize| -> Option<[usize; 6]> {
        if b.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut c = [0usize; 6];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = usize::try_from(read_be_i32(b, at + 20 + 4 * i)?).ok()?;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = header(0)?;
    let version = *b.get(4)?;
    let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (at, time_size) = if version >= b'2' {
        (44 + v1_len, 8)
    } else {
        (0, 4)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = header(at)?;
    let _ = (isut, isstd, leap);
    let mut p = at + 44;
    let mut transitions = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        transitions.push(if time_size == 8 {
            read_be_i64(b, p + 8 * i)?
        } else {
            read_be_i32(b, p + 4 * i)? as i64
        });
    }
    p += timecnt * time_size;
    let transition_types: Vec<usize> = b.get(p..p + timecnt)?.iter().map(|&t| t as usize).collect();
    p += timecnt;
    let chars_at = p + typecnt * 6;
    let chars = b.get(chars_at..chars_at + charcnt)?;
    let mut types = Vec::with_capacity(typecnt);
    for i in 0..typecnt {
        let off = read_be_i32(b, p + 6 * i)?;
        let dst = *b.get(p + 6 * i + 4)? != 0;
        let idx = *b.get(p + 6 * i + 5)? as usize;
        let abbr: String = chars
            .get(idx..)?
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as char)
            .collect();
        types.push((off, dst, abbr));
    }
    if types.is_empty() || transition_types.iter().any(|&t| t >= types.len()) {
        return None;
    }
    Some(TzRules {
        name: name.to_string(),
        transitions,
        transition_types,
        types,
    })
}

impl TzRules {
    /// The type in force at `unix_secs`.
    fn type_at(&self, unix_secs: i64) -> &(i32, bool, String) {
        let i = self.transitions.partition_point(|&t| t <= unix_secs);
        let ty = if i == 0 {
            // Before the first transition: the first standard-time type.
            self.types.iter().position(|t| !t.1).unwrap_or(0)
        } else {
            self.transition_types.get(i - 1).copied().unwrap_or(0)
        };
        &self.types[ty.min(self.types.len() - 1)]
    }
}

/// Seconds from 2000-01-01 to 1970-01-01 (negative).
const PG_TO_UNIX_SECS: i64 = (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;

impl Zone {
    /// Looks a zone up by the name `SET TimeZone` accepted. Unknown names
    /// are an error (22023), as in PostgreSQL.
    pub fn lookup(name: &str) -> Result<Zone> {
        let invalid = || {
            Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("time zone \"{name}\" not recognized"),
            )
        };
        let n = name.trim();
        if n.eq_ignore_ascii_case("utc")
            || n.eq_ignore_ascii_case("gmt")
            || n.eq_ignore_ascii_case("z")
        {
            return Ok(Zone::Fixed {
                offset: 0,
                name: n.to_ascii_uppercase(),
            });
        }
        // POSIX `<+05>-05` (what SET TimeZone = 5 stores) or `UTC+3`.
        if let Some(offset) = posix_fixed_offset(n) {
            return Ok(Zone::Fixed {
                offset,
                name: n.to_string(),
            });
        }
        if let Some(offset) = parse_offset_text(n) {
            return Ok(Zone::Fixed {
                offset,
                name: n.to_string(),
            });
        }
        if n.is_empty()
            || n.contains("..")
            || n.starts_with('/')
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        {
            return Err(invalid());
        }
        if let Ok(cache) = RULES_CACHE.lock()
            && let Some((_, rules)) = cache.iter().find(|(k, _)| k == n)
        {
            return Ok(Zone::Rules(rules.clone()));
        }
        let read = |candidate: &str| std::fs::read(format!("{ZONEINFO_DIR}/{candidate}")).ok();
        let bytes = read(n).or_else(|| {
            // Case-insensitive names: try the canonical capitalisation.
            let canon: String = n
                .split('/')
                .map(|part| {
                    part.split('_')
                        .map(|w| {
                            let mut c = w.chars();
                            match c.next() {
                                Some(f) => {
                                    f.to_ascii_uppercase().to_string()
                                        + &c.as_str().to_ascii_lowercase()
                                }
                                None => String::new(),
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("_")
                })
                .collect::<Vec<_>>()
                .join("/");
            read(&canon)
        });
        match bytes.and_then(|b| parse_tzif(n, &b)) {
            Some(rules) => {
                let rules = Arc::new(rules);
                if let Ok(mut cache) = RULES_CACHE.lock()
                    && cache.len() < 256
                {
                    cache.push((n.to_string(), rules.clone()));
                }
                Ok(Zone::Rules(rules))
            }
            None => Err(invalid()),
        }
    }

    /// Offset east of UTC in seconds at the UTC instant `ts` (timestamptz
    /// micros), and the zone abbreviation.
    pub fn offset_at_utc(&self, ts: i64) -> (i32, String) {
        match self {
            Zone::Fixed { offset, .. } => (*offset, fixed_abbrev(*offset)),
            Zone::Rules(r) => {
                let (off, _, abbr) = r.type_at(ts.div_euclid(USECS_PER_SEC) + PG_TO_UNIX_SECS);
                (*off, abbr.clone())
            }
        }
    }

    /// The offset to use for a local (wall-clock) time, resolving gaps and
    /// overlaps as PostgreSQL's `DetermineTimeZoneOffset` does: in a
    /// spring-forward gap the offset before the transition, in a fall-back
    /// overlap the offset after it.
    pub fn offset_for_local(&self, local: i64) -> i32 {
        match self {
            Zone::Fixed { offset, .. } => *offset,
            Zone::Rules(r) => {
                let secs = local.div_euclid(USECS_PER_SEC) + PG_TO_UNIX_SECS;
                let before = r.type_at(secs - SECS_PER_DAY).0;
                let after = r.type_at(secs + SECS_PER_DAY).0;
                if before == after {
                    // No transition nearby (or several that cancel): the
                    // offset in force at the candidate instant.
                    return r.type_at(secs - before as i64).0;
                }
                let bt = secs - before as i64;
                let at = secs - after as i64;
                let bt_ok = r.type_at(bt).0 == before;
                let at_ok = r.type_at(at).0 == after;
                match (bt_ok, at_ok) {
                    (true, false) => before,
                    (false, true) => after,
                    _ => {
                        if bt > at {
                            before
                        } else {
                            after
                        }
                    }
                }
            }
        }
    }

    /// UTC instant of a local timestamp in this zone.
    pub fn local_to_utc(&self, local: i64) -> Result<i64> {
        if !is_finite_ts(local) {
            return Ok(local);
        }
        let off = self.offset_for_local(local) as i64 * USECS_PER_SEC;
        let utc = local
            .checked_sub(off)
            .filter(|t| ts_in_range(*t))
            .ok_or_else(|| datetime_overflow("timestamp"))?;
        Ok(utc)
    }

    /// Local wall-clock timestamp of a UTC instant, and the offset used.
    pub fn utc_to_local(&self, utc: i64) -> (i64, i32) {
        if !is_finite_ts(utc) {
            return (utc, 0);
        }
        let (off, _) = self.offset_at_utc(utc);
        (utc.saturating_add(off as i64 * USECS_PER_SEC), off)
    }

    pub fn name(&self) -> &str {
        match self {
            Zone::Fixed { name, .. } => name,
            Zone::Rules(r) => &r.name,
        }
    }
}

fn fixed_abbrev(offset: i32) -> String {
    if offset == 0 {
        return "UTC".into();
    }
    let mut s = String::new();
    push_offset(&mut s, offset);
    s
}

/// `<+05>-05`, `<-03>+03`, `UTC+3`, `GMT-2`: POSIX zones with no DST rule,
/// whose sign counts hours *west* of Greenwich.
fn posix_fixed_offset(n: &str) -> Option<i32> {
    let rest = if let Some(r) = n.strip_prefix('<') {
        let close = r.find('>')?;
        &r[close + 1..]
    } else {
        let letters = n.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        if letters < 3 {
            return None;
        }
        &n[letters..]
    };
    if rest.is_empty() {
        return None;
    }
    parse_hms_offset(rest).map(|west| -west)
}

/// `+HH`, `-HH:MM`, `+HHMM`, `HH:MM:SS` (unsigned means positive): seconds.
fn parse_hms_offset(s: &str) -> Option<i32> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit() || c == b':') {
        return None;
    }
    let parts: Vec<&str> = body.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h] if h.len() <= 2 => (h.parse::<i32>().ok()?, 0, 0),
        [hm] if hm.len() == 4 => (hm[..2].parse().ok()?, hm[2..].parse().ok()?, 0),
        [h, m] => (h.parse().ok()?, m.parse().ok()?, 0),
        [h, m, s] => (h.parse().ok()?, m.parse().ok()?, s.parse().ok()?),
        _ => return None,
    };
    if h > 15 * 24 || m > 59 || sec > 59 {
        return None;
    }
    let v = h * 3600 + m * 60 + sec;
    Some(if neg { -v } else { v })
}

/// An offset written as a zone name (`+05:30`, `-08`) is POSIX, counting
/// hours *west*, as PostgreSQL reads it (`AT TIME ZONE '+05'` is UTC-5):
/// seconds east.
fn parse_offset_text(n: &str) -> Option<i32> {
    if !n.starts_with(['+', '-']) {
        return None;
    }
    parse_hms_offset(n)
        .filter(|o| o.abs() <= 15 * 3600 + 59 * 60)
        .map(|west| -west)
}

/// Zone rules already read, by the name asked for.
static RULES_CACHE: std::sync::Mutex<Vec<(String, Arc<TzRules>)>> =
    std::sync::Mutex::new(Vec::new());

/// The per-thread statement context: session zone and statement time.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub zone: Zone,
    /// Statement start as timestamptz microseconds; `None` reads the clock.
    pub now: Option<i64>,
    /// `DateStyle`'s field order is DMY (else MDY; YMD is read like MDY).
    pub dmy: bool,
}

thread_local! {
    static CONTEXT: RefCell<Context> = RefCell::new(Context::default());
    /// Whether [`statement_now`] ran since [`take_now_read`] last did.
    static NOW_READ: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the statement time was read on this thread since the last call
/// (and forgets it): a plan bound meanwhile may hold a value of this
/// moment, such as `'now'::timestamptz` or `date 'today'` folded to a
/// constant, so it must not be kept for a later execution.
pub fn take_now_read() -> bool {
    NOW_READ.with(|n| n.replace(false))
}

/// Sets the calling thread's context (the SQL session does this before
/// each statement; the server before it formats a result's rows).
pub fn set_context(ctx: Context) {
    CONTEXT.with(|c| *c.borrow_mut() = ctx);
}

/// Sets only the zone, keeping the statement time.
pub fn set_zone(zone: Zone) {
    CONTEXT.with(|c| c.borrow_mut().zone = zone);
}

pub fn session_zone() -> Zone {
    CONTEXT.with(|c| c.borrow().zone.clone())
}

pub fn context_dmy() -> bool {
    CONTEXT.with(|c| c.borrow().dmy)
}

/// The clock as timestamptz microseconds.
pub fn clock_now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    d - PG_TO_UNIX_SECS * USECS_PER_SEC
}

/// The current statement's start time (`now()`, `current_timestamp`).
pub fn statement_now() -> i64 {
    NOW_READ.with(|n| n.set(true));
    CONTEXT.with(|c| c.borrow().now).unwrap_or_else(clock_now)
}

/// Builds the context from the session's `TimeZone` and `DateStyle`
/// settings; an unreadable zone falls back to UTC.
pub fn context_from_settings(time_zone: &str, date_style: &str) -> Context {
    Context {
        zone: Zone::lookup(time_zone).unwrap_or_default(),
        now: Some(clock_now()),
        dmy: date_style.to_ascii_uppercase().contains("DMY"),
    }
}

// ---------------------------------------------------------------------------
// Output (DateStyle ISO, IntervalStyle postgres).

fn push_year(out: &mut String, year: i64) -> bool {
    let bc = year <= 0;
    let shown = if bc { 1 - year } else { year };
    out.push_str(&format!("{shown:04}"));
    bc
}

/// Appends `SS[.ffffff]` with trailing zeros of the fraction dropped.
fn push_seconds(out: &mut String, sec: i64, micros: i64) {
    out.push_str(&format!("{:02}", sec.abs()));
    if micros != 0 {
        let f = format!("{:06}", micros.abs());
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
}

/// Appends a UTC offset as PostgreSQL prints it: `+HH`, `+HH:MM`, `+HH:MM:SS`.
pub fn push_offset(out: &mut String, offset: i32) {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    out.push(sign);
    out.push_str(&format!("{:02}", a / 3600));
    if !a.is_multiple_of(3600) {
        out.push_str(&format!(":{:02}", a / 60 % 60));
        if !a.is_multiple_of(60) {
            out.push_str(&format!(":{:02}", a % 60));
        }
    }
}

pub fn date_to_text(d: i32) -> String {
    match d {
        DATE_NOBEGIN => "-infinity".into(),
        DATE_NOEND => "infinity".into(),
        _ => {
            let (y, m, day) = date_to_ymd(d);
            let mut s = String::with_capacity(13);
            let bc = push_year(&mut s, y);
            s.push_str(&format!("-{m:02}-{day:02}"));
            if bc {
                s.push_str(" BC");
            }
            s
        }
    }
}

pub fn time_to_text(t: i64) -> String {
    let mut s = format!(
        "{:02}:{:02}:",
        t / USECS_PER_HOUR,
        t / USECS_PER_MINUTE % 60
    );
    push_seconds(&mut s, t / USECS_PER_SEC % 60, t % USECS_PER_SEC);
    s
}

fn tm_to_text(tm: &Tm, offset: Option<i32>) -> String {
    let mut s = String::with_capacity(32);
    let bc = push_year(&mut s, tm.year);
    s.push_str(&format!(
        "-{:02}-{:02} {:02}:{:02}:",
        tm.month, tm.day, tm.hour, tm.minute
    ));
    push_seconds(&mut s, tm.second, tm.micros);
    if let Some(off) = offset {
        push_offset(&mut s, off);
    }
    if bc {
        s.push_str(" BC");
    }
    s
}

pub fn timestamp_to_text(ts: i64) -> String {
    match ts {
        TS_NOBEGIN => "-infinity".into(),
        TS_NOEND => "infinity".into(),
        _ => tm_to_text(&ts_to_tm(ts), None),
    }
}

/// timestamptz output in `zone`.
pub fn timestamptz_to_text_in(ts: i64, zone: &Zone) -> String {
    match ts {
        TS_NOBEGIN => "-infinity".into(),
        TS_NOEND => "infinity".into(),
        _ => {
            let (local, off) = zone.utc_to_local(ts);
            tm_to_text(&ts_to_tm(local), Some(off))
        }
    }
}

/// timestamptz output in the session zone.
pub fn timestamptz_to_text(ts: i64) -> String {
    CONTEXT.with(|c| timestamptz_to_text_in(ts, &c.borrow().zone))
}

/// The fields of an interval as `interval2itm` splits them (each part
/// keeps the sign of its source field).
pub struct IntervalParts {
    pub years: i64,
    pub months: i64,
    pub days: i64,
    pub hours: i64,
    pub minutes: i64,
    pub seconds: i64,
    pub micros: i64,
}

pub fn interval_parts(iv: &Interval) -> IntervalParts {
    let t = iv.micros;
    IntervalParts {
        years: iv.months as i64 / 12,
        months: iv.months as i64 % 12,
        days: iv.days as i64,
        hours: t / USECS_PER_HOUR,
        minutes: t / USECS_PER_MINUTE % 60,
        seconds: t / USECS_PER_SEC % 60,
        micros: t % USECS_PER_SEC,
    }
}

/// Interval output in IntervalStyle `postgres` (`EncodeInterval`).
pub fn interval_to_text(iv: &Interval) -> String {
    let p = interval_parts(iv);
    let mut s = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    for (v, unit) in [(p.years, "year"), (p.months, "mon"), (p.days, "day")] {
        if v == 0 {
            continue;
        }
        if !is_zero {
            s.push(' ');
        }
        if is_before && v > 0 {
            s.push('+');
        }
        s.push_str(&format!("{v} {unit}{}", if v != 1 { "s" } else { "" }));
        is_before = v < 0;
        is_zero = false;
    }
    if is_zero || p.hours != 0 || p.minutes != 0 || p.seconds != 0 || p.micros != 0 {
        let minus = p.hours < 0 || p.minutes < 0 || p.seconds < 0 || p.micros < 0;
        if !is_zero {
            s.push(' ');
        }
        if minus {
            s.push('-');
        } else if is_before {
            s.push('+');
        }
        s.push_str(&format!("{:02}:{:02}:", p.hours.abs(), p.minutes.abs()));
        push_seconds(&mut s, p.seconds, p.micros);
    }
    s
}

// ---------------------------------------------------------------------------
// Arithmetic.

/// Adds months to a broken-down date, clamping the day to the month's end.
fn add_months_tm(tm: &mut Tm, months: i64) -> Result<()> {
    let total = tm.year * 12 + (tm.month - 1) + months;
    tm.year = total.div_euclid(12);
    tm.month = total.rem_euclid(12) + 1;
    let dim = days_in_month(tm.year, tm.month);
    if tm.day > dim {
        tm.day = dim;
    }
    Ok(())
}

/// `timestamp + interval` on a local timestamp (`timestamp_pl_interval`).
pub fn timestamp_plus_interval(ts: i64, iv: &Interval) -> Result<i64> {
    if !is_finite_ts(ts) {
        return Ok(ts);
    }
    let mut ts = ts;
    if iv.months != 0 {
        let mut tm = ts_to_tm(ts);
        add_months_tm(&mut tm, iv.months as i64)?;
        ts = tm_to_ts(&tm).ok_or_else(|| datetime_overflow("timestamp"))?;
    }
    if iv.days != 0 {
        let mut tm = ts_to_tm(ts);
        let jd = tm.julian() + iv.days as i64;
        if !(0..=DATE_END_JULIAN * 2).contains(&jd) {
            return Err(datetime_overflow("timestamp"));
        }
        let (y, m, d) = j2date(jd);
        tm.year = y;
        tm.month = m;
        tm.day = d;
        ts = tm_to_ts(&tm).ok_or_else(|| datetime_overflow("timestamp"))?;
    }
    let ts = ts
        .checked_add(iv.micros)
        .filter(|t| ts_in_range(*t))
        .ok_or_else(|| datetime_overflow("timestamp"))?;
    Ok(ts)
}

/// `timestamptz + interval`: months and days step in the session zone's
/// wall-clock time (so a day across a DST change is 23 or 25 hours).
pub fn timestamptz_plus_interval(ts: i64, iv: &Interval, zone: &Zone) -> Result<i64> {
    if !is_finite_ts(ts) {
        return Ok(ts);
    }
    let mut ts = ts;
    if iv.months != 0 || iv.days != 0 {
        let (local, _) = zone.utc_to_local(ts);
        let stepped = timestamp_plus_interval(local, &Interval::new(iv.months, iv.days, 0))?;
        ts = zone.local_to_utc(stepped)?;
    }
    ts.checked_add(iv.micros)
        .filter(|t| ts_in_range(*t))
        .ok_or_else(|| datetime_overflow("timestamp"))
}

pub fn interval_neg(iv: &Interval) -> Result<Interval> {
    Ok(Interval::new(
        iv.months.checked_neg().ok_or_else(interval_overflow)?,
        iv.days.checked_neg().ok_or_else(interval_overflow)?,
        iv.micros.checked_neg().ok_or_else(interval_overflow)?,
    ))
}

pub fn interval_add(a: &Interval, b: &Interval) -> Result<Interval> {
    Ok(Interval::new(
        a.months
            .checked_add(b.months)
            .ok_or_else(interval_overflow)?,
        a.days.checked_add(b.days).ok_or_else(interval_overflow)?,
        a.micros
            .checked_add(b.micros)
            .ok_or_else(interval_overflow)?,
    ))
}

pub fn interval_sub(a: &Interval, b: &Interval) -> Result<Interval> {
    interval_add(a, &interval_neg(b)?)
}

/// `TSROUND`: rounds to microsecond precision of a seconds value.
fn tsround(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

/// `interval * float8` (`interval_mul`).
pub fn interval_mul(iv: &Interval, factor: f64) -> Result<Interval> {
    if factor.is_nan() {
        return Err(interval_overflow());
    }
    let month_d = iv.months as f64 * factor;
    if !(i32::MIN as f64..=i32::MAX as f64).contains(&month_d) {
        return Err(interval_overflow());
    }
    let day_d = iv.days as f64 * factor;
    if !(i32::MIN as f64..=i32::MAX as f64).contains(&day_d) {
        return Err(interval_overflow());
    }
    let months = month_d as i32;
    let mut days = day_d as i32;
    let month_remainder_days =
        tsround((iv.months as f64 * factor - months as f64) * DAYS_PER_MONTH as f64);
    let mut sec_remainder = tsround(
        (iv.days as f64 * factor - days as f64 + month_remainder_days
            - month_remainder_days.trunc())
            * SECS_PER_DAY as f64,
    );
    if sec_remainder.abs() >= SECS_PER_DAY as f64 {
        let whole = (sec_remainder / SECS_PER_DAY as f64).trunc();
        days = days
            .checked_add(whole as i32)
            .ok_or_else(interval_overflow)?;
        sec_remainder -= whole * SECS_PER_DAY as f64;
    }
    days = days
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(interval_overflow)?;
    let micros_d =
        (iv.micros as f64 * factor + sec_remainder * USECS_PER_SEC as f64).round_ties_even();
    if !(i64::MIN as f64..i64::MAX as f64).contains(&micros_d) {
        return Err(interval_overflow());
    }
    Ok(Interval::new(months, days, micros_d as i64))
}

/// `interval / float8` (`interval_div`).
pub fn interval_div(iv: &Interval, factor: f64) -> Result<Interval> {
    if factor == 0.0 {
        return Err(Error::new(SqlState::DIVISION_BY_ZERO, "division by zero"));
    }
    if factor.is_nan() {
        return Err(interval_overflow());
    }
    let months = (iv.months as f64 / factor) as i32;
    let mut days = (iv.days as f64 / factor) as i32;
    let month_remainder_days =
        tsround((iv.months as f64 / factor - months as f64) * DAYS_PER_MONTH as f64);
    let mut sec_remainder = tsround(
        (iv.days as f64 / factor - days as f64 + month_remainder_days
            - month_remainder_days.trunc())
            * SECS_PER_DAY as f64,
    );
    if sec_remainder.abs() >= SECS_PER_DAY as f64 {
        let whole = (sec_remainder / SECS_PER_DAY as f64).trunc();
        days = days
            .checked_add(whole as i32)
            .ok_or_else(interval_overflow)?;
        sec_remainder -= whole * SECS_PER_DAY as f64;
    }
    days = days
        .checked_add(month_remainder_days.trunc() as i32)
        .ok_or_else(interval_overflow)?;
    let micros_d =
        (iv.micros as f64 / factor + sec_remainder * USECS_PER_SEC as f64).round_ties_even();
    if !(i64::MIN as f64..i64::MAX as f64).contains(&micros_d) {
        return Err(interval_overflow());
    }
    Ok(Interval::new(months, days, micros_d as i64))
}

/// `timestamp - timestamp` (`timestamp_mi`): microseconds, then whole
/// days split off (`interval_justify_hours`).
pub fn timestamp_diff(a: i64, b: i64) -> Result<Interval> {
    if !is_finite_ts(a) || !is_finite_ts(b) {
        return Err(Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            "cannot subtract infinite timestamps",
        ));
    }
    let d = a.checked_sub(b).ok_or_else(interval_overflow)?;
    justify_hours(&Interval::new(0, 0, d))
}

pub fn justify_hours(iv: &Interval) -> Result<Interval> {
    let mut days = iv.days as i64 + iv.micros / USECS_PER_DAY;
    let mut micros = iv.micros % USECS_PER_DAY;
    if days > 0 && micros < 0 {
        micros += USECS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= USECS_PER_DAY;
        days += 1;
    }
    Ok(Interval::new(
        iv.months,
        i32::try_from(days).map_err(|_| interval_overflow())?,
        micros,
    ))
}

pub fn justify_days(iv: &Interval) -> Result<Interval> {
    let mut months = iv.months as i64 + iv.days as i64 / DAYS_PER_MONTH;
    let mut days = iv.days as i64 % DAYS_PER_MONTH;
    if months > 0 && days < 0 {
        days += DAYS_PER_MONTH;
        months -= 1;
    } else if months < 0 && days > 0 {
        days -= DAYS_PER_MONTH;
        months += 1;
    }
    Ok(Interval::new(
        i32::try_from(months).map_err(|_| interval_overflow())?,
        days as i32,
        iv.micros,
    ))
}

pub fn justify_interval(iv: &Interval) -> Result<Interval> {
    let mut months = iv.months as i64;
    let mut days = iv.days as i64;
    let mut micros = iv.micros;
    months += days / DAYS_PER_MONTH;
    days %= DAYS_PER_MONTH;
    days += micros / USECS_PER_DAY;
    micros %= USECS_PER_DAY;
    months += days / DAYS_PER_MONTH;
    days %= DAYS_PER_MONTH;
    if months > 0 && (days < 0 || (days == 0 && micros < 0)) {
        days += DAYS_PER_MONTH;
        months -= 1;
    } else if months < 0 && (days > 0 || (days == 0 && micros > 0)) {
        days -= DAYS_PER_MONTH;
        months += 1;
    }
    if days > 0 && micros < 0 {
        micros += USECS_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= USECS_PER_DAY;
        days += 1;
    }
    Ok(Interval::new(
        i32::try_from(months).map_err(|_| interval_overflow())?,
        i32::try_from(days).map_err(|_| interval_overflow())?,
        micros,
    ))
}

/// `date` as a timestamp at midnight.
pub fn date_to_timestamp(d: i32) -> Result<i64> {
    match d {
        DATE_NOBEGIN => Ok(TS_NOBEGIN),
        DATE_NOEND => Ok(TS_NOEND),
        _ => {
            let ts = d as i64 * USECS_PER_DAY;
            if ts_in_range(ts) {
                Ok(ts)
            } else {
                Err(Error::new(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "date out of range for timestamp",
                ))
            }
        }
    }
}

/// The date part of a timestamp.
pub fn timestamp_to_date(ts: i64) -> Result<i32> {
    match ts {
        TS_NOBEGIN => Ok(DATE_NOBEGIN),
        TS_NOEND => Ok(DATE_NOEND),
        _ => i32::try_from(ts.div_euclid(USECS_PER_DAY)).map_err(|_| datetime_overflow("date")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn julian_day_conversions_are_inverse() {
        assert_eq!(date2j(2000, 1, 1), POSTGRES_EPOCH_JDATE);
        assert_eq!(date2j(1970, 1, 1), UNIX_EPOCH_JDATE);
        assert_eq!(date2j(-4713, 11, 24), 0);
        for jd in (0..DATE_END_JULIAN).step_by(9973) {
            let (y, m, d) = j2date(jd);
            assert_eq!(date2j(y, m, d), jd, "{y}-{m}-{d}");
        }
        assert_eq!(j2date(DATE_END_JULIAN - 1), (5874897, 12, 31));
    }

    #[test]
    fn output_matches_postgres_iso_and_postgres_interval_style() {
        assert_eq!(
            date_to_text(date_from_ymd(2024, 1, 2).unwrap()),
            "2024-01-02"
        );
        assert_eq!(
            date_to_text(date_from_ymd(0, 1, 1).unwrap()),
            "0001-01-01 BC"
        );
        assert_eq!(date_to_text(DATE_NOEND), "infinity");
        assert_eq!(time_to_text(USECS_PER_DAY), "24:00:00");
        assert_eq!(time_to_text(USECS_PER_HOUR + 500_000), "01:00:00.5");
        let iv = |m, d, us| interval_to_text(&Interval::new(m, d, us));
        assert_eq!(
            iv(14, 3, 4 * USECS_PER_HOUR + 5 * USECS_PER_MINUTE + 6_500_000),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(iv(0, -1, 2 * USECS_PER_HOUR), "-1 days +02:00:00");
        assert_eq!(iv(0, 0, 0), "00:00:00");
        assert_eq!(iv(0, 0, -USECS_PER_SEC), "-00:00:01");
        assert_eq!(iv(1, -1, 0), "1 mon -1 days");
        assert_eq!(iv(0, 0, 100 * USECS_PER_HOUR), "100:00:00");
        let z = Zone::Fixed {
            offset: 19800,
            name: "x".into(),
        };
        assert_eq!(timestamptz_to_text_in(0, &z), "2000-01-01 05:30:00+05:30");
    }

    #[test]
    fn month_arithmetic_clamps_to_the_end_of_the_month() {
        let jan31 = tm_to_ts(&Tm {
            year: 2024,
            month: 1,
            day: 31,
            ..Tm::default()
        })
        .unwrap();
        let r = timestamp_plus_interval(jan31, &Interval::new(1, 0, 0)).unwrap();
        assert_eq!(timestamp_to_text(r), "2024-02-29 00:00:00");
        let d = timestamp_diff(r, jan31).unwrap();
        assert_eq!(interval_to_text(&d), "29 days");
        assert_eq!(
            interval_to_text(&interval_mul(&Interval::new(1, 0, 0), 0.5).unwrap()),
            "15 days"
        );
        assert_eq!(
            interval_to_text(&interval_div(&Interval::new(0, 1, 0), 3.0).unwrap()),
            "08:00:00"
        );
    }

    #[test]
    fn zoneinfo_rules_resolve_dst_like_postgres() {
        let Ok(ny) = Zone::lookup("America/New_York") else {
            return; // no zoneinfo on this machine
        };
        // 2024-03-10 02:30 does not exist in New York: read with the offset before (EST).
        let local = tm_to_ts(&Tm {
            year: 2024,
            month: 3,
            day: 10,
            hour: 2,
            minute: 30,
            ..Tm::default()
        })
        .unwrap();
        let utc = ny.local_to_utc(local).unwrap();
        assert_eq!(timestamptz_to_text_in(utc, &ny), "2024-03-10 03:30:00-04");
        // 2024-11-03 01:30 happens twice: the later (EST) reading.
        let local = tm_to_ts(&Tm {
            year: 2024,
            month: 11,
            day: 3,
            hour: 1,
            minute: 30,
            ..Tm::default()
        })
        .unwrap();
        let utc = ny.local_to_utc(local).unwrap();
        assert_eq!(timestamptz_to_text_in(utc, &ny), "2024-11-03 01:30:00-05");
        assert!(Zone::lookup("No/Such_Zone").is_err());
    }
}
