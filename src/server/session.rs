//! One connection's state: its [`Session`], its prepared statements and
//! portals, and the single door through which statements run.
//!
//! ```text
//!   connection thread (socket, runtime of its own)
//!   ----------------------------------------------
//!   ConnState::run(f)    lock Session, catch_unwind(f(&mut session)),
//!                        status, changed parameters, unlock
//!   ConnState::spawn(f)  the same on a blocking thread, for the simple
//!                        protocol, whose results stream back through a
//!                        channel while later statements of the string run
//! ```
//!
//! Invariants:
//! - The `Session` mutex is held only while a statement runs; never across
//!   an `.await`. One connection runs one statement at a time, so it is
//!   never contended.
//! - Every run records the session's transaction status and changed
//!   parameters under the same lock, so ReadyForQuery and ParameterStatus
//!   always describe the state the last statement left behind.
//! - A panic inside the engine becomes an XX000 error for this connection;
//!   it never unwinds into the runtime.
//! - The other mutexes here guard plain maps and are held for a few
//!   instructions, never across an `.await`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::db::{Prepared, Session, StatementResult, TransactionStatus};
use crate::error::{Error, Result};
use crate::sql::signals::SessionSignals;
use crate::types::Value;

/// A statement made by Parse.
#[derive(Debug)]
pub(crate) enum Statement {
    /// An empty query string: describes as NoData, executes as EmptyQueryResponse.
    Empty,
    Prepared(Arc<Prepared>),
}

/// How far a portal has run.
#[derive(Debug)]
pub(crate) enum PortalState {
    NotStarted,
    /// A row-returning statement ran; `rows` are the ones not yet sent.
    Rows {
        result: StatementResult,
        next_row: usize,
        /// The session time zone the statement ran in (timestamptz output).
        zone: crate::types::datetime::Zone,
    },
    /// A statement without rows ran to completion; it cannot run again.
    Done,
}

/// A portal made by Bind.
#[derive(Debug)]
pub(crate) struct Portal {
    pub statement: Arc<Statement>,
    pub params: Vec<Value>,
    /// One format code per result column.
    pub result_formats: Vec<i16>,
    pub state: PortalState,
}

/// What a blocking run produced, with the session state it left behind.
pub(crate) struct Outcome<T> {
    pub result: Result<T>,
    pub status: TransactionStatus,
    pub changed_parameters: Vec<(String, String)>,
    /// `DEALLOCATE ALL` / `DISCARD ALL` ran: named statements are dropped.
    pub deallocated_all: bool,
}

/// Per-connection state, stored in pgwire's session extensions.
pub(crate) struct ConnState {
    pub peer: SocketAddr,
    session: Arc<Mutex<Session>>,
    /// The session's cancel token and notices (readable without its lock).
    pub signals: Arc<SessionSignals>,
    /// Transaction status after the last statement (for ReadyForQuery).
    status: Mutex<TransactionStatus>,
    /// Reported parameters changed since the last ReadyForQuery.
    pending_parameters: Mutex<Vec<(String, String)>>,
    pub statements: Mutex<HashMap<String, Arc<Statement>>>,
    pub portals: Mutex<HashMap<String, Portal>>,
}

impl ConnState {
    pub fn new(peer: SocketAddr, session: Session, status: TransactionStatus) -> ConnState {
        ConnState {
            peer,
            signals: session.signals(),
            session: Arc::new(Mutex::new(session)),
            status: Mutex::new(status),
            pending_parameters: Mutex::new(Vec::new()),
            statements: Mutex::new(HashMap::new()),
            portals: Mutex::new(HashMap::new()),
        }
    }

    /// Starts `f` on a blocking thread with the session locked.
    pub fn spawn<T, F>(&self, f: F) -> JoinHandle<Outcome<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T> + Send + 'static,
    {
        let session = self.session.clone();
        tokio::task::spawn_blocking(move || run_locked(&mut session.lock(), f))
    }

    /// Waits for a run started by [`ConnState::spawn`] and records the
    /// session state it left behind.
    pub async fn finish<T>(&self, handle: JoinHandle<Outcome<T>>) -> Result<T> {
        let outcome = match handle.await {
            Ok(outcome) => outcome,
            // The closure catches panics, so this is a cancelled runtime.
            Err(e) => return Err(Error::internal(format!("statement task failed: {e}"))),
        };
        self.record(outcome)
    }

    /// Records the session state a run left behind; its result.
    fn record<T>(&self, outcome: Outcome<T>) -> Result<T> {
        *self.status.lock() = outcome.status;
        if outcome.deallocated_all {
            self.statements.lock().clear();
        }
        if !outcome.changed_parameters.is_empty() {
            let mut pending = self.pending_parameters.lock();
            for (name, value) in outcome.changed_parameters {
                pending.retain(|(n, _)| *n != name);
                pending.push((name, value));
            }
        }
        outcome.result
    }

    /// Runs `f` with the session locked, right here on the connection's
    /// thread: each client has a thread of its own (`spawn_connection` in
    /// mod.rs), so a statement that waits blocks nobody else, and a thread
    /// hop would cost more than most statements.
    pub async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T> + Send + 'static,
    {
        let outcome = run_locked(&mut self.session.lock(), f);
        self.record(outcome)
    }

    /// Transaction status after the last statement.
    pub fn status(&self) -> TransactionStatus {
        *self.status.lock()
    }

    /// Takes the reported parameters changed since the last call.
    pub fn take_pending_parameters(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.pending_parameters.lock())
    }

    /// Drops every portal: the transaction they lived in has ended.
    pub fn drop_portals_if_idle(&self) {
        if self.status() == TransactionStatus::Idle {
            self.portals.lock().clear();
        }
    }
}

/// Runs `f` over the locked session, a panic becoming an XX000 error, and
/// collects the state it left behind.
fn run_locked<T>(session: &mut Session, f: impl FnOnce(&mut Session) -> Result<T>) -> Outcome<T> {
    let result = match std::panic::catch_unwind(AssertUnwindSafe(|| f(session))) {
        Ok(result) => result,
        Err(panic) => Err(Error::internal(format!(
            "internal error: statement execution panicked: {}",
            panic_message(panic.as_ref())
        ))),
    };
    Outcome {
        result,
        status: session.transaction_status(),
        changed_parameters: session.take_changed_parameters(),
        deallocated_all: session.take_deallocated_all(),
    }
}

/// The message of a panic payload (`&str` or `String`), if it has one.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;
    use crate::error::SqlState;

    fn conn() -> ConnState {
        let db = Database::in_memory().unwrap();
        ConnState::new(
            "127.0.0.1:1".parse().unwrap(),
            db.session(),
            TransactionStatus::Idle,
        )
    }

    #[tokio::test]
    async fn a_panicking_statement_is_an_internal_error_and_the_session_lives_on() {
        let conn = conn();
        let e = conn
            .run(|_session| -> Result<()> { panic!("boom in the executor") })
            .await
            .unwrap_err();
        assert_eq!(e.sqlstate, SqlState::INTERNAL_ERROR);
        assert!(e.message.contains("boom in the executor"), "{}", e.message);
        // The mutex is not poisoned and the session still answers.
        let status = conn
            .run(|session| Ok(session.transaction_status()))
            .await
            .unwrap();
        assert_eq!(status, TransactionStatus::Idle);
    }

    #[test]
    fn panic_messages_are_recovered_from_str_and_string_payloads() {
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "static");
        let p = std::panic::catch_unwind(|| panic!("{}", 7)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "7");
    }
}
