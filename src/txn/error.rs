//! `TxnError`: what the transaction layer can fail with, each variant with
//! exactly one SQLSTATE and PostgreSQL's message text.

use crate::error::{Error, SqlState};

use super::Xid;

/// An operating error of the transaction layer (conflicts, waits that end,
/// exhausted limits). Broken invariants are asserted, never returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxnError {
    /// SSI found a dangerous structure (40001). `detail` is PostgreSQL's
    /// "Reason code: …" line.
    #[error("could not serialize access due to read/write dependencies among transactions")]
    SerializationFailure { detail: String },

    /// REPEATABLE READ / SERIALIZABLE writer found the row updated by a
    /// transaction its snapshot cannot see (40001).
    #[error("could not serialize access due to concurrent update")]
    ConcurrentUpdate,

    /// As [`TxnError::ConcurrentUpdate`], but the newer version is a delete.
    #[error("could not serialize access due to concurrent delete")]
    ConcurrentDelete,

    /// The deadlock detector chose this transaction as the victim (40P01).
    /// `detail` names the cycle.
    #[error("deadlock detected")]
    Deadlock { detail: String },

    /// `NOWAIT` found the row locked (55P03).
    #[error("could not obtain lock on row in relation \"{relation}\"")]
    LockNotAvailable { relation: String },

    /// A row-lock wait outlasted `lock_timeout_ms` (55P03).
    #[error("canceling statement due to lock timeout")]
    LockTimeout,

    /// The statement outlasted `statement_timeout_ms` (57014).
    #[error("canceling statement due to statement timeout")]
    StatementTimeout,

    /// The session's cancel token fired (a CancelRequest) (57014).
    #[error("canceling statement due to user request")]
    Canceled,

    /// A lock table is full (53200), as PostgreSQL's "out of shared memory".
    #[error("out of shared memory")]
    OutOfLockMemory {
        limit_name: &'static str,
        limit: usize,
    },

    /// A write was attempted by a READ ONLY transaction (25006).
    #[error("cannot execute {statement} in a read-only transaction")]
    ReadOnly { statement: String },

    /// The transaction id is not (or no longer) active: a caller bug surfaced
    /// as an error because it can follow a session-level misuse (25P01).
    #[error("transaction {0} is not in progress")]
    NotInProgress(Xid),

    /// A transaction setting changed too late (25001), e.g. `SET TRANSACTION
    /// ISOLATION LEVEL` after the first query.
    #[error("{0}")]
    TooLate(&'static str),

    /// `ROLLBACK TO` / `RELEASE` of an unknown savepoint (3B001).
    #[error("savepoint \"{0}\" does not exist")]
    NoSuchSavepoint(String),

    /// An error from the layer below (the log or the trees) passed through
    /// with its own SQLSTATE.
    #[error("{}", .0.message)]
    Lower(Error),
}

impl TxnError {
    /// The one SQLSTATE of this error.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            TxnError::SerializationFailure { .. }
            | TxnError::ConcurrentUpdate
            | TxnError::ConcurrentDelete => SqlState::SERIALIZATION_FAILURE,
            TxnError::Deadlock { .. } => SqlState::DEADLOCK_DETECTED,
            TxnError::LockNotAvailable { .. } | TxnError::LockTimeout => {
                SqlState::LOCK_NOT_AVAILABLE
            }
            TxnError::StatementTimeout | TxnError::Canceled => SqlState::QUERY_CANCELED,
            TxnError::OutOfLockMemory { .. } => SqlState::OUT_OF_MEMORY,
            TxnError::ReadOnly { .. } => SqlState::READ_ONLY_SQL_TRANSACTION,
            TxnError::NotInProgress(_) => SqlState::NO_ACTIVE_SQL_TRANSACTION,
            TxnError::TooLate(_) => SqlState::ACTIVE_SQL_TRANSACTION,
            TxnError::NoSuchSavepoint(_) => SqlState::INVALID_SAVEPOINT_SPECIFICATION,
            TxnError::Lower(e) => e.sqlstate,
        }
    }

    /// Whether retrying the whole transaction may succeed (40001, 40P01).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.sqlstate(),
            SqlState::SERIALIZATION_FAILURE | SqlState::DEADLOCK_DETECTED
        )
    }
}

impl From<TxnError> for Error {
    fn from(e: TxnError) -> Error {
        let sqlstate = e.sqlstate();
        match e {
            TxnError::Lower(inner) => inner,
            TxnError::SerializationFailure { ref detail } => {
                let detail = detail.clone();
                Error::new(sqlstate, e.to_string())
                    .with_detail(detail)
                    .with_hint("The transaction might succeed if retried.")
            }
            TxnError::Deadlock { ref detail } => {
                let detail = detail.clone();
                Error::new(sqlstate, e.to_string())
                    .with_detail(detail)
                    .with_hint("See server log for query details.")
            }
            TxnError::OutOfLockMemory { limit_name, limit } => Error::new(sqlstate, e.to_string())
                .with_hint(format!(
                    "You might need to increase {limit_name} (now {limit})."
                )),
            _ => Error::new(sqlstate, e.to_string()),
        }
    }
}

impl From<Error> for TxnError {
    fn from(e: Error) -> TxnError {
        TxnError::Lower(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_postgres_sqlstate_and_message() {
        let cases: Vec<(TxnError, &str, &str)> = vec![
            (
                TxnError::SerializationFailure {
                    detail: "Reason code: x".into(),
                },
                "40001",
                "could not serialize access due to read/write dependencies among transactions",
            ),
            (
                TxnError::ConcurrentUpdate,
                "40001",
                "could not serialize access due to concurrent update",
            ),
            (
                TxnError::ConcurrentDelete,
                "40001",
                "could not serialize access due to concurrent delete",
            ),
            (
                TxnError::Deadlock { detail: "d".into() },
                "40P01",
                "deadlock detected",
            ),
            (
                TxnError::LockNotAvailable {
                    relation: "t".into(),
                },
                "55P03",
                "could not obtain lock on row in relation \"t\"",
            ),
            (
                TxnError::LockTimeout,
                "55P03",
                "canceling statement due to lock timeout",
            ),
            (
                TxnError::StatementTimeout,
                "57014",
                "canceling statement due to statement timeout",
            ),
            (
                TxnError::Canceled,
                "57014",
                "canceling statement due to user request",
            ),
        ];
        for (e, code, msg) in cases {
            let top: Error = e.into();
            assert_eq!(top.sqlstate.code(), code, "{msg}");
            assert_eq!(top.message, msg);
        }
    }

    #[test]
    fn serialization_failure_carries_reason_and_retry_hint() {
        let top: Error = TxnError::SerializationFailure {
            detail: "Reason code: Canceled on identification as a pivot, during commit attempt."
                .into(),
        }
        .into();
        assert_eq!(
            top.detail.as_deref(),
            Some("Reason code: Canceled on identification as a pivot, during commit attempt.")
        );
        assert_eq!(
            top.hint.as_deref(),
            Some("The transaction might succeed if retried.")
        );
    }

    #[test]
    fn lower_errors_keep_their_sqlstate() {
        let inner = Error::new(SqlState::IO_ERROR, "disk full");
        let e = TxnError::from(inner.clone());
        assert_eq!(e.sqlstate(), SqlState::IO_ERROR);
        assert!(!e.is_retryable());
        assert_eq!(Error::from(e), inner);
    }
}
