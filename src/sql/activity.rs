//! Who is connected and what they run: the rows of `pg_stat_activity`,
//! per-statement latency statistics (`pg_stat_statements`, with p50/p95/p99),
//! `pg_cancel_backend` / `pg_terminate_backend`, and `LISTEN` / `NOTIFY`.
//!
//! ```text
//!   SessionState::new ──register──▶ Activity.backends[pid] = Backend
//!   each statement:  Backend.live ← active, query, query_start
//!                    Activity.statements[(user, normalised text)] += latency
//!   COMMIT with NOTIFYs ──▶ every Backend listening on the channel:
//!                            signals.push_notification + wake
//!   pg_terminate_backend(pid) ──▶ signals.terminate(): the statement running
//!                            there ends with 57014, the server then closes
//!                            the connection with FATAL 57P01
//!   SessionState dropped ──▶ Activity.backends.remove(pid)
//! ```
//!
//! Owns: backend pids (unique per database), the statement normaliser
//! (constants become `$n`), the latency histogram, channel membership.
//! Never: blocks on a session's lock (every field read from another
//! session is behind its own short mutex), keeps statement text unbounded
//! (at most [`STATEMENTS_MAX`] entries, each text cut at
//! [`QUERY_TEXT_MAX`] bytes).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, Result, SqlState};
use crate::types::datetime::clock_now;

use super::signals::{Notice, NoticeSeverity, Notification, SessionSignals};

/// How many distinct statements are tracked (pg_stat_statements.max).
pub const STATEMENTS_MAX: usize = 5000;
/// Longest statement text kept (pg_stat_activity's track_activity_query_size).
pub const QUERY_TEXT_MAX: usize = 1024;
/// NOTIFY's payload limit, as PostgreSQL's.
pub const PAYLOAD_MAX: usize = 7999;

/// Every session of one database.
#[derive(Default)]
pub struct Activity {
    backends: Mutex<BTreeMap<i32, Arc<Backend>>>,
    next_pid: AtomicI32,
    /// By query id (a hash of role and normalised text), as
    /// pg_stat_statements keys its entries: a repeat call allocates nothing.
    statements: Mutex<HashMap<i64, TrackedStatement>>,
}

/// One session as others see it.
pub struct Backend {
    pub pid: i32,
    /// When the session began (timestamptz microseconds).
    pub backend_start: i64,
    pub signals: Arc<SessionSignals>,
    live: Mutex<Live>,
    /// Channels this session listens on (committed LISTENs).
    listening: Mutex<BTreeSet<String>>,
}

/// What a session is doing, for `pg_stat_activity`.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub user: String,
    pub superuser: bool,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub client_port: Option<i32>,
    /// `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`.
    pub state: &'static str,
    /// The last statement's text (the running one while `active`).
    pub query: String,
    pub query_start: Option<i64>,
    pub xact_start: Option<i64>,
    pub state_change: Option<i64>,
    /// `(wait_event_type, wait_event)` while blocked.
    pub wait: Option<(&'static str, &'static str)>,
}

/// One row of `pg_stat_activity`.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub pid: i32,
    pub backend_start: i64,
    pub live: Live,
    /// What its statement is blocked on now, if anything.
    pub wait: Option<crate::txn::lock::WaitEvent>,
}

/// Latency statistics of one normalised statement.
#[derive(Debug, Clone)]
pub struct StatementStats {
    pub calls: u64,
    pub rows: u64,
    pub total_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Sum of squares, for the standard deviation.
    sum_sq: f64,
    histogram: Histogram,
}

/// One entry of the statement table: whose, which text, and its numbers.
#[derive(Debug, Clone)]
struct TrackedStatement {
    user: String,
    query: String,
    stats: StatementStats,
}

/// One row of `pg_stat_statements`.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub user: String,
    pub query: String,
    pub queryid: i64,
    pub calls: i64,
    pub rows: i64,
    pub total_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub stddev_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// Latencies in buckets growing by [`BUCKET_RATIO`] from 1 µs: a quantile
/// read from it is within half a bucket (2.5%) of the true value, in a
/// constant [`BUCKETS`] counters whatever the number of calls.
#[derive(Debug, Clone)]
struct Histogram {
    counts: Vec<u32>,
}

const BUCKET_RATIO: f64 = 1.05;
/// 1 µs · 1.05^500 ≈ 11 hours: the last bucket holds everything longer.
const BUCKETS: usize = 500;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
        }
    }

    fn bucket(micros: f64) -> usize {
        if micros <= 1.0 {
            return 0;
        }
        ((micros.ln() / BUCKET_RATIO.ln()) as usize + 1).min(BUCKETS - 1)
    }

    fn record(&mut self, micros: f64) {
        let b = Histogram::bucket(micros);
        self.counts[b] = self.counts[b].saturating_add(1);
    }

    /// The `q` quantile (0..=1) in milliseconds: the geometric middle of
    /// the bucket holding it.
    fn quantile_ms(&self, q: f64) -> f64 {
        let total: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0u64;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                if b == 0 {
                    return 0.001;
                }
                let lo = BUCKET_RATIO.powi(b as i32 - 1);
                let hi = lo * BUCKET_RATIO;
                return (lo * hi).sqrt() / 1000.0;
            }
        }
        0.0
    }
}

impl StatementStats {
    fn new() -> StatementStats {
        StatementStats {
            calls: 0,
            rows: 0,
            total_ms: 0.0,
            min_ms: f64::INFINITY,
            max_ms: 0.0,
            sum_sq: 0.0,
            histogram: Histogram::new(),
        }
    }

    fn record(&mut self, elapsed: Duration, rows: u64) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.calls += 1;
        self.rows += rows;
        self.total_ms += ms;
        self.sum_sq += ms * ms;
        self.min_ms = self.min_ms.min(ms);
        self.max_ms = self.max_ms.max(ms);
        self.histogram.record(ms * 1000.0);
    }
}

impl Activity {
    /// Adds a session; its entry leaves with the returned guard.
    pub fn register(self: &Arc<Activity>, signals: Arc<SessionSignals>) -> Registration {
        let mut backends = self.backends.lock();
        // Pids are positive, unique among live sessions, and not reused
        // soon (a cancel key aimed at a gone session finds nobody).
        let mut pid;
        loop {
            pid = self.next_pid.fetch_add(1, Ordering::Relaxed) & 0x3fff_ffff;
            if pid == 0 {
                continue;
            }
            pid += 1000;
            if !backends.contains_key(&pid) {
                break;
            }
        }
        let now = clock_now();
        let backend = Arc::new(Backend {
            pid,
            backend_start: now,
            signals,
            live: Mutex::new(Live {
                // An embedded session is its database's owner; a server
                // sets what the role really is (set_client).
                superuser: true,
                state: "idle",
                state_change: Some(now),
                ..Live::default()
            }),
            listening: Mutex::new(BTreeSet::new()),
        });
        backends.insert(pid, backend.clone());
        Registration {
            activity: self.clone(),
            backend,
        }
    }

    /// The sessions now, ordered by pid.
    pub fn rows(&self) -> Vec<ActivityRow> {
        let backends: Vec<Arc<Backend>> = self.backends.lock().values().cloned().collect();
        backends
            .iter()
            .map(|b| ActivityRow {
                pid: b.pid,
                backend_start: b.backend_start,
                live: b.live.lock().clone(),
                wait: b.signals.waiting_on(),
            })
            .collect()
    }

    pub fn backend(&self, pid: i32) -> Option<Arc<Backend>> {
        self.backends.lock().get(&pid).cloned()
    }

    /// Adds one execution of `query` (already normalised) by `user`.
    pub fn record_statement(&self, user: &str, query: &str, elapsed: Duration, rows: u64) {
        let id = query_id(user, query);
        let mut statements = self.statements.lock();
        if let Some(t) = statements.get_mut(&id) {
            t.stats.record(elapsed, rows);
            return;
        }
        if statements.len() >= STATEMENTS_MAX {
            // As pg_stat_statements: make room by dropping the least-called
            // entries (a tenth, so eviction is not paid on every new one).
            let mut calls: Vec<u64> = statements.values().map(|t| t.stats.calls).collect();
            calls.sort_unstable();
            let cut = calls[STATEMENTS_MAX / 10];
            statements.retain(|_, t| t.stats.calls > cut);
        }
        let mut stats = StatementStats::new();
        stats.record(elapsed, rows);
        statements.insert(
            id,
            TrackedStatement {
                user: user.to_owned(),
                query: query.to_owned(),
                stats,
            },
        );
    }

    /// The statement statistics, most total time first.
    pub fn statement_rows(&self) -> Vec<StatementRow> {
        let statements = self.statements.lock();
        let mut rows: Vec<StatementRow> = statements
            .iter()
            .map(|(&queryid, t)| {
                let (user, query, s) = (&t.user, &t.query, &t.stats);
                let calls = s.calls.max(1) as f64;
                let mean = s.total_ms / calls;
                let variance = (s.sum_sq / calls - mean * mean).max(0.0);
                StatementRow {
                    user: user.clone(),
                    query: query.clone(),
                    queryid,
                    calls: s.calls as i64,
                    rows: s.rows as i64,
                    total_ms: s.total_ms,
                    min_ms: if s.calls == 0 { 0.0 } else { s.min_ms },
                    max_ms: s.max_ms,
                    mean_ms: mean,
                    stddev_ms: variance.sqrt(),
                    p50_ms: s.histogram.quantile_ms(0.50),
                    p95_ms: s.histogram.quantile_ms(0.95),
                    p99_ms: s.histogram.quantile_ms(0.99),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
        rows
    }

    pub fn reset_statements(&self) {
        self.statements.lock().clear();
    }

    /// Delivers committed notifications to every session listening on
    /// their channels (the sender's own session included, as PostgreSQL).
    pub fn deliver(&self, sender: i32, notifications: &[(String, String)]) {
        if notifications.is_empty() {
            return;
        }
        let backends: Vec<Arc<Backend>> = self.backends.lock().values().cloned().collect();
        for b in backends {
            let listening = b.listening.lock();
            let mut woke = false;
            for (channel, payload) in notifications {
                if listening.contains(channel) {
                    b.signals.push_notification(Notification {
                        pid: sender,
                        channel: channel.clone(),
                        payload: payload.clone(),
                    });
                    woke = true;
                }
            }
            drop(listening);
            if woke {
                b.signals.wake();
            }
        }
    }
}

/// A session's entry in [`Activity`], removed when this drops.
pub struct Registration {
    activity: Arc<Activity>,
    backend: Arc<Backend>,
}

impl Registration {
    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    pub fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.activity.backends.lock().remove(&self.backend.pid);
    }
}

impl Backend {
    /// Changes what `pg_stat_activity` shows for this session.
    pub fn update(&self, f: impl FnOnce(&mut Live)) {
        f(&mut self.live.lock());
    }

    pub fn live(&self) -> Live {
        self.live.lock().clone()
    }

    /// Applies committed LISTEN / UNLISTEN changes (`None`: UNLISTEN *).
    pub fn apply_listen(&self, changes: &[ListenChange]) {
        let mut listening = self.listening.lock();
        for c in changes {
            match c {
                ListenChange::Listen(ch) => {
                    listening.insert(ch.clone());
                }
                ListenChange::Unlisten(ch) => {
                    listening.remove(ch);
                }
                ListenChange::UnlistenAll => listening.clear(),
            }
        }
    }
}

/// A LISTEN or UNLISTEN waiting for its transaction to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenChange {
    Listen(String),
    Unlisten(String),
    UnlistenAll,
}

/// What a session's transaction will announce and change at commit.
#[derive(Debug, Default)]
pub struct Pending {
    pub notifications: Vec<(String, String)>,
    pub listen: Vec<ListenChange>,
}

impl Pending {
    /// Queues a NOTIFY: 22023 for an empty channel or an oversized
    /// payload; a duplicate of one already queued is dropped (PostgreSQL
    /// folds identical notifications of one transaction).
    pub fn notify(&mut self, channel: &str, payload: &str) -> Result<()> {
        if channel.is_empty() {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "channel name cannot be empty",
            ));
        }
        if channel.len() >= 64 {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "channel name too long",
            ));
        }
        if payload.len() > PAYLOAD_MAX {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "payload string too long",
            ));
        }
        let n = (channel.to_owned(), payload.to_owned());
        if !self.notifications.contains(&n) {
            self.notifications.push(n);
        }
        Ok(())
    }
}

/// A stable id of a normalised statement (FNV-1a over user and text).
pub fn query_id(user: &str, query: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in user.bytes().chain([0u8]).chain(query.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h as i64
}

/// A statement's text with its constants replaced by `$n` (numbered after
/// the highest parameter the text already has), so that executions that
/// differ only in constants share one `pg_stat_statements` entry, as
/// PostgreSQL's normaliser does. String literals (`'…'`, `E'…'`, `$$…$$`)
/// and numbers become parameters; identifiers, quoted identifiers and
/// comments are kept as written. The text is cut at [`QUERY_TEXT_MAX`].
pub fn normalize(sql: &str) -> String {
    let text = sql.trim().trim_end_matches(';').trim_end();
    let bytes = text.as_bytes();
    let mut next = highest_param(text) + 1;
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let prev_ident = i > 0 && is_ident_byte(bytes[i - 1]);
        let literal_end = match c {
            b'\'' => Some(skip_quoted(bytes, i, b'\'', false)),
            b'E' | b'e' | b'X' | b'x' | b'B' | b'b' | b'N' | b'n'
                if !prev_ident && bytes.get(i + 1) == Some(&b'\'') =>
            {
                Some(skip_quoted(bytes, i + 1, b'\'', c == b'E' || c == b'e'))
            }
            b'"' => {
                i = skip_quoted(bytes, i, b'"', false);
                continue;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                continue;
            }
            b'$' => {
                if let Some(end) = dollar_quote_end(text, i) {
                    Some(end)
                } else {
                    // A parameter `$n`: kept.
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
            }
            b'0'..=b'9' if !prev_ident => Some(skip_number(bytes, i)),
            b'.' if !prev_ident && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                Some(skip_number(bytes, i))
            }
            _ => None,
        };
        match literal_end {
            Some(end) => {
                out.push_str(&text[last..i]);
                out.push('$');
                out.push_str(&next.to_string());
                next += 1;
                i = end;
                last = end;
            }
            None => {
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    out.push_str(&text[last.min(text.len())..]);
    if out.len() > QUERY_TEXT_MAX {
        let mut cut = QUERY_TEXT_MAX;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The end (one past the closing quote) of a quoted token starting at
/// `start`; a doubled quote inside is part of it, and with `escapes`
/// (an `E'…'` string) so is a backslash and the byte after it.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

fn skip_number(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            i = j;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// For `$tag$…$tag$` starting at `start`, the end of the closing tag.
fn dollar_quote_end(text: &str, start: usize) -> Option<usize> {
    let rest = &text[start + 1..];
    let tag_len = rest.find('$')?;
    let tag = &rest[..tag_len];
    if !tag
        .bytes()
        .all(|b| b.is_ascii_alphabetic() || b == b'_' || b >= 0x80)
    {
        return None;
    }
    let delimiter = &text[start..start + tag_len + 2];
    let body = start + tag_len + 2;
    let close = text[body..].find(delimiter)?;
    Some(body + close + delimiter.len())
}

fn highest_param(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut best = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && (i == 0 || !is_ident_byte(bytes[i - 1])) {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 1
                && let Ok(n) = text[i + 1..j].parse::<usize>()
            {
                best = best.max(n);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    best
}

// ---- the running session, for the SQL functions -------------------------

struct Context {
    activity: Arc<Activity>,
    backend: Arc<Backend>,
    superuser: bool,
    user: String,
    pending: Arc<Mutex<Pending>>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Gives this thread the session's entry (the session does this before
/// each statement).
pub fn set_context(registration: &Registration, user: &str, pending: &Arc<Mutex<Pending>>) {
    let superuser = registration.backend.live.lock().superuser;
    CONTEXT.with(|c| {
        *c.borrow_mut() = Some(Context {
            activity: registration.activity.clone(),
            backend: registration.backend.clone(),
            superuser,
            user: user.to_owned(),
            pending: pending.clone(),
        })
    });
}

fn with_context<T>(f: impl FnOnce(&Context) -> Result<T>) -> Result<T> {
    CONTEXT.with(|c| match c.borrow().as_ref() {
        Some(cx) => f(cx),
        None => Err(Error::internal("no session for an activity function")),
    })
}

/// `pg_backend_pid()`.
pub fn backend_pid() -> Result<i32> {
    with_context(|cx| Ok(cx.backend.pid))
}

/// The channels this session listens on (`pg_listening_channels()`),
/// in name order.
pub fn listening_channels() -> Result<Vec<String>> {
    with_context(|cx| {
        let mut v: Vec<String> = cx.backend.listening.lock().iter().cloned().collect();
        v.sort();
        Ok(v)
    })
}

/// The sessions of this database with what each waits on, for
/// `pg_stat_activity`.
pub fn activity_rows() -> Result<Vec<ActivityRow>> {
    with_context(|cx| Ok(cx.activity.rows()))
}

/// The statement statistics, for `pg_stat_statements`.
pub fn statement_rows() -> Result<Vec<StatementRow>> {
    with_context(|cx| Ok(cx.activity.statement_rows()))
}

/// `pg_stat_statements_reset()`: 42501 unless a superuser.
pub fn reset_statements() -> Result<()> {
    with_context(|cx| {
        if !cx.superuser {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                "permission denied for function pg_stat_statements_reset",
            ));
        }
        cx.activity.reset_statements();
        Ok(())
    })
}

/// `pg_cancel_backend(pid)` (`terminate: false`) and
/// `pg_terminate_backend(pid)`: whether the signal was sent. A pid that
/// is no session gives a WARNING and false; signalling a superuser's
/// session, or another role's, needs superuser (42501), as PostgreSQL.
pub fn signal_backend(pid: i32, terminate: bool) -> Result<bool> {
    with_context(|cx| {
        let Some(target) = cx.activity.backend(pid) else {
            super::signals::notice(Notice {
                severity: NoticeSeverity::Warning,
                sqlstate: SqlState::WARNING,
                message: format!("PID {pid} is not a PostgreSQL backend process"),
                detail: None,
                hint: None,
            });
            return Ok(false);
        };
        let target_live = target.live();
        if target_live.superuser && !cx.superuser {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                if terminate {
                    "must be a superuser to terminate superuser process"
                } else {
                    "must be a superuser to cancel superuser query"
                },
            ));
        }
        if !cx.superuser && target_live.user != cx.user {
            return Err(Error::new(
                SqlState::INSUFFICIENT_PRIVILEGE,
                if terminate {
                    "must be a member of the role whose process is being terminated or member of pg_signal_backend"
                } else {
                    "must be a member of the role whose query is being canceled or member of pg_signal_backend"
                },
            ));
        }
        if terminate {
            target.signals.terminate();
        } else {
            target.signals.cancel();
        }
        Ok(true)
    })
}

/// `pg_notify(channel, payload)` and `NOTIFY`: queued until commit.
pub fn notify(channel: &str, payload: &str) -> Result<()> {
    with_context(|cx| cx.pending.lock().notify(channel, payload))
}

/// The SQL functions over sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityFunc {
    BackendPid,
    CancelBackend,
    TerminateBackend,
    Notify,
    StatementsReset,
}

pub fn signatures(name: &str) -> Vec<super::functions::Signature> {
    use super::functions::{Func, Signature};
    use crate::types::DataType::{Bool, Int4, Text};
    let sig = |args, ret, f| Signature {
        args,
        ret,
        func: Func::Activity(f),
    };
    match name {
        "pg_backend_pid" => vec![sig(vec![], Int4, ActivityFunc::BackendPid)],
        "pg_cancel_backend" => vec![sig(vec![Int4], Bool, ActivityFunc::CancelBackend)],
        "pg_terminate_backend" => vec![sig(vec![Int4], Bool, ActivityFunc::TerminateBackend)],
        // PostgreSQL returns void; arbordb returns an empty text.
        "pg_notify" => vec![sig(vec![Text, Text], Text, ActivityFunc::Notify)],
        "pg_stat_statements_reset" => vec![sig(vec![], Text, ActivityFunc::StatementsReset)],
        _ => Vec::new(),
    }
}

pub fn call(f: ActivityFunc, args: &[crate::types::Value]) -> Result<crate::types::Value> {
    use crate::types::Value;
    let int = |i: usize| match args.get(i) {
        Some(Value::Int4(v)) => Ok(*v),
        other => Err(Error::internal(format!(
            "expected an integer, got {other:?}"
        ))),
    };
    let text = |i: usize| match args.get(i) {
        Some(Value::Text(v)) => Ok(v.as_str()),
        Some(Value::Null) => Ok(""),
        other => Err(Error::internal(format!("expected text, got {other:?}"))),
    };
    Ok(match f {
        ActivityFunc::BackendPid => Value::Int4(backend_pid()?),
        ActivityFunc::CancelBackend => Value::Bool(signal_backend(int(0)?, false)?),
        ActivityFunc::TerminateBackend => Value::Bool(signal_backend(int(0)?, true)?),
        ActivityFunc::Notify => {
            notify(text(0)?, text(1)?)?;
            Value::Text(String::new())
        }
        ActivityFunc::StatementsReset => {
            reset_statements()?;
            Value::Text(String::new())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_become_parameters() {
        assert_eq!(
            normalize("SELECT a FROM t WHERE id = 42 AND name = 'x''y';"),
            "SELECT a FROM t WHERE id = $1 AND name = $2"
        );
        assert_eq!(
            normalize("update t set v = v + 1.5e3 where k = $1"),
            "update t set v = v + $2 where k = $1"
        );
        assert_eq!(
            normalize("select t1.c2, \"x 1\" from t1 -- 5\n where c = E'\\'' "),
            "select t1.c2, \"x 1\" from t1 -- 5\n where c = $1"
        );
        assert_eq!(normalize("select $$a'b$$, .5"), "select $1, $2");
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let mut h = Histogram::new();
        for us in 1..=10_000u32 {
            h.record(f64::from(us));
        }
        for (q, want_ms) in [(0.5, 5.0), (0.95, 9.5), (0.99, 9.9)] {
            let got = h.quantile_ms(q);
            assert!(
                (got - want_ms).abs() / want_ms < 0.03,
                "q{q}: {got} vs {want_ms}"
            );
        }
    }

    #[test]
    fn pids_are_unique_and_leave_with_the_session() {
        let activity = Arc::new(Activity::default());
        let a = activity.register(Arc::new(SessionSignals::new()));
        let b = activity.register(Arc::new(SessionSignals::new()));
        assert_ne!(a.backend().pid, b.backend().pid);
        assert_eq!(activity.rows().len(), 2);
        drop(a);
        let rows = activity.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].pid, b.backend().pid);
    }

    #[test]
    fn notifications_reach_listeners_only() {
        let activity = Arc::new(Activity::default());
        let a = activity.register(Arc::new(SessionSignals::new()));
        let b = activity.register(Arc::new(SessionSignals::new()));
        b.backend()
            .apply_listen(&[ListenChange::Listen("jobs".into())]);
        activity.deliver(
            a.backend().pid,
            &[("jobs".into(), "1".into()), ("other".into(), "2".into())],
        );
        assert!(a.backend().signals.take_notifications().is_empty());
        let got = b.backend().signals.take_notifications();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].channel, "jobs");
        assert_eq!(got[0].payload, "1");
        assert_eq!(got[0].pid, a.backend().pid);
    }

    #[test]
    fn a_full_statement_table_drops_the_least_called() {
        let activity = Activity::default();
        for i in 0..STATEMENTS_MAX {
            let calls = if i < 10 { 5 } else { 1 };
            for _ in 0..calls {
                activity.record_statement("u", &format!("q{i}"), Duration::from_micros(10), 1);
            }
        }
        activity.record_statement("u", "new", Duration::from_micros(10), 1);
        let rows = activity.statement_rows();
        assert!(rows.len() <= STATEMENTS_MAX);
        assert!(rows.iter().any(|r| r.query == "new"));
        assert!(rows.iter().any(|r| r.query == "q0" && r.calls == 5));
    }
}
