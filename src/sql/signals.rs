//! What a running statement hears from outside — a CancelRequest, its
//! `statement_timeout` — and what it says besides its result: NOTICE and
//! WARNING messages.
//!
//! ```text
//!  server (async)                        blocking thread running the session
//!  CancelRequest(pid, key) ─▶ SessionSignals::cancel()
//!                               └─ CancelToken flag ───▶ signals::check() in the
//!                                  (wakes a lock wait)     executor's loops → 57014
//!  NoticeResponse ◀─ take_notices() ◀──────────────────── signals::notice(...)
//!
//!  db::Session::execute_* ─ enter(signals, statement_timeout) ─▶ Scope (thread-local)
//! ```
//!
//! Each session has one [`SessionSignals`], shared with the server. While a
//! session executes, [`enter`] makes it the thread's current one, so code
//! deep in the executor reaches it without every context struct carrying
//! it; the [`Scope`] it returns restores the previous state when dropped.
//!
//! Invariants:
//! - [`check`] is cheap enough for every row: an atomic load, and the clock
//!   only every [`CLOCK_CHECK_ROWS`] calls.
//! - Outside a scope, [`check`] succeeds and [`notice`] drops the message
//!   (a statement run with no session listening has no one to tell).
//! - The cancel flag is cleared when a scope is entered: a cancel aimed at
//!   an earlier statement never stops a later one. (As in PostgreSQL, a
//!   cancel that arrives before its statement started may be lost.)

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Error, Result, SqlState};
use crate::txn::{CancelToken, TxnError};

/// How many [`check`] calls pass between two reads of the clock.
pub const CLOCK_CHECK_ROWS: u32 = 256;
/// Notices kept for the client at most; later ones are dropped (a runaway
/// loop of notices must not fill memory).
pub const NOTICES_MAX: usize = 10_000;

/// How severe a notice is (the severity field of NoticeResponse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeSeverity {
    Warning,
    Notice,
    Info,
    Log,
    Debug,
}

impl NoticeSeverity {
    /// As PostgreSQL spells it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeSeverity::Warning => "WARNING",
            NoticeSeverity::Notice => "NOTICE",
            NoticeSeverity::Info => "INFO",
            NoticeSeverity::Log => "LOG",
            NoticeSeverity::Debug => "DEBUG",
        }
    }
}

/// A message a statement sends besides its result (NoticeResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub severity: NoticeSeverity,
    pub sqlstate: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl Notice {
    /// A NOTICE with SQLSTATE 00000 (e.g. `table "x" does not exist, skipping`).
    pub fn new(message: impl Into<String>) -> Notice {
        Notice {
            severity: NoticeSeverity::Notice,
            sqlstate: SqlState::SUCCESSFUL_COMPLETION,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// A WARNING with the given SQLSTATE.
    pub fn warning(sqlstate: SqlState, message: impl Into<String>) -> Notice {
        Notice {
            severity: NoticeSeverity::Warning,
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
}

/// A NOTIFY delivered to a listening session, not yet sent to its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notifying session's pid.
    pub pid: i32,
    pub channel: String,
    pub payload: String,
}

/// Notifications kept for a client that does not read them; beyond this
/// the oldest are dropped (PostgreSQL's queue is 8 GB, then NOTIFY fails).
const NOTIFICATIONS_MAX: usize = 10_000;

/// One session's signals: its cancel token, the notices and notifications
/// not yet sent, and whether `pg_terminate_backend` asked it to end.
#[derive(Default)]
pub struct SessionSignals {
    cancel: Arc<CancelToken>,
    notices: Mutex<Vec<Notice>>,
    notifications: Mutex<std::collections::VecDeque<Notification>>,
    terminated: std::sync::atomic::AtomicBool,
    /// Wakes whoever serves the session while it is idle (a notification
    /// arrived, or it was terminated).
    wake: tokio::sync::Notify,
}

impl SessionSignals {
    pub fn new() -> SessionSignals {
        SessionSignals::default()
    }

    /// Interrupts the statement running now, if any (a CancelRequest).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The token lock waits listen to.
    pub fn cancel_token(&self) -> Arc<CancelToken> {
        self.cancel.clone()
    }

    /// Ends the session: its running statement is canceled, and whoever
    /// serves it closes it (FATAL 57P01) at the next chance.
    pub fn terminate(&self) {
        self.terminated
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.cancel.cancel();
        self.wake();
    }

    /// What the session's statement is blocked on now (a row lock, …).
    pub fn waiting_on(&self) -> Option<crate::txn::lock::WaitEvent> {
        self.cancel.waiting_on()
    }

    pub fn is_terminated(&self) -> bool {
        self.terminated.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Wakes the task waiting in [`SessionSignals::woken`].
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves after the next [`SessionSignals::wake`] (or at once if one
    /// came since the last wait).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    pub fn push_notification(&self, n: Notification) {
        let mut q = self.notifications.lock();
        if q.len() >= NOTIFICATIONS_MAX {
            q.pop_front();
        }
        q.push_back(n);
    }

    /// The notifications delivered since the last call, oldest first.
    pub fn take_notifications(&self) -> Vec<Notification> {
        self.notifications.lock().drain(..).collect()
    }

    /// The notices raised since the last call, oldest first.
    pub fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.notices.lock())
    }

    fn push(&self, n: Notice) {
        let mut notices = self.notices.lock();
        if notices.len() < NOTICES_MAX {
            notices.push(n);
        }
    }
}

struct Current {
    signals: Arc<SessionSignals>,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    calls: u32,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Makes `signals` the thread's current ones until the returned scope drops.
#[must_use = "the signals apply only while the scope lives"]
pub struct Scope {
    previous: Option<Current>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Enters a statement scope: clears the cancel flag and starts the
/// `statement_timeout` clock (`None`: no timeout).
pub fn enter(signals: Arc<SessionSignals>, timeout: Option<Duration>) -> Scope {
    signals.cancel.reset();
    let current = Current {
        signals,
        timeout,
        deadline: timeout.map(|t| Instant::now() + t),
        calls: 0,
    };
    let previous = CURRENT.with(|c| c.borrow_mut().replace(current));
    Scope { previous }
}

/// Restarts the `statement_timeout` clock: the next statement of the same
/// query string begins.
pub fn next_statement() {
    CURRENT.with(|c| {
        if let Some(cur) = c.borrow_mut().as_mut() {
            cur.deadline = cur.timeout.map(|t| Instant::now() + t);
        }
    });
}

/// 57014 if the running statement was canceled or ran out of time.
pub fn check() -> Result<()> {
    CURRENT.with(|c| {
        let mut c = c.borrow_mut();
        let Some(cur) = c.as_mut() else {
            return Ok(());
        };
        if cur.signals.cancel.is_canceled() {
            return Err(Error::from(TxnError::Canceled));
        }
        cur.calls = cur.calls.wrapping_add(1);
        if cur.calls % CLOCK_CHECK_ROWS == 0
            && let Some(deadline) = cur.deadline
            && Instant::now() >= deadline
        {
            return Err(Error::from(TxnError::StatementTimeout));
        }
        Ok(())
    })
}

/// The running statement's deadline, for waits that must end with it.
pub fn deadline() -> Option<Instant> {
    CURRENT.with(|c| c.borrow().as_ref().and_then(|cur| cur.deadline))
}

/// The current session's cancel token (for the transactions it begins).
pub fn cancel_token() -> Option<Arc<CancelToken>> {
    CURRENT.with(|c| c.borrow().as_ref().map(|cur| cur.signals.cancel.clone()))
}

/// Hands a notice to the client of the running statement.
pub fn notice(n: Notice) {
    CURRENT.with(|c| {
        if let Some(cur) = c.borrow().as_ref() {
            cur.signals.push(n);
        }
    });
}

/// `statement_timeout` as SHOW prints it (`0`, `250ms`, `5s`, `2min`, `1h`,
/// `1d`) as a duration; `None` for 0 (no timeout) or an unreadable value.
pub fn parse_timeout(shown: &str) -> Option<Duration> {
    let s = shown.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    (ms > 0).then(|| Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_scope_checks_pass_and_notices_go_nowhere() {
        assert!(check().is_ok());
        notice(Notice::new("unheard"));
        assert!(cancel_token().is_none());
    }

    #[test]
    fn a_cancel_stops_the_running_statement_with_57014_and_not_the_next() {
        let signals = Arc::new(SessionSignals::new());
        {
            let _scope = enter(signals.clone(), None);
            assert!(check().is_ok());
            signals.cancel();
            let e = check().unwrap_err();
            assert_eq!(e.sqlstate, SqlState::QUERY_CANCELED);
            assert_eq!(e.message, "canceling statement due to user request");
        }
        assert!(check().is_ok(), "the scope is gone");
        let _scope = enter(signals.clone(), None);
        assert!(check().is_ok(), "entering clears an old cancel");
    }

    #[test]
    fn the_timeout_fires_after_its_deadline_and_restarts_per_statement() {
        let signals = Arc::new(SessionSignals::new());
        let _scope = enter(signals, Some(Duration::from_millis(30)));
        for _ in 0..CLOCK_CHECK_ROWS * 4 {
            assert!(check().is_ok());
        }
        std::thread::sleep(Duration::from_millis(40));
        let mut e = None;
        for _ in 0..CLOCK_CHECK_ROWS {
            if let Err(err) = check() {
                e = Some(err);
                break;
            }
        }
        let e = e.expect("the timeout fires within CLOCK_CHECK_ROWS checks");
        assert_eq!(e.message, "canceling statement due to statement timeout");
        next_statement();
        for _ in 0..CLOCK_CHECK_ROWS * 2 {
            assert!(check().is_ok(), "a new statement has a new deadline");
        }
    }

    #[test]
    fn notices_reach_the_session_in_order_and_scopes_nest() {
        let outer = Arc::new(SessionSignals::new());
        let inner = Arc::new(SessionSignals::new());
        let _a = enter(outer.clone(), None);
        notice(Notice::new("one"));
        {
            let _b = enter(inner.clone(), None);
            notice(Notice::new("inner"));
        }
        notice(Notice::warning(SqlState::WARNING, "two"));
        let got: Vec<String> = outer
            .take_notices()
            .into_iter()
            .map(|n| n.message)
            .collect();
        assert_eq!(got, ["one", "two"]);
        assert_eq!(inner.take_notices().len(), 1);
        assert!(outer.take_notices().is_empty());
    }

    #[test]
    fn timeouts_read_as_show_prints_them() {
        assert_eq!(parse_timeout("0"), None);
        assert_eq!(parse_timeout("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_timeout("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("2min"), Some(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("7"), Some(Duration::from_millis(7)));
        assert_eq!(parse_timeout("soon"), None);
    }
}
