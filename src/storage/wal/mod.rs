//! The write-ahead log and crash recovery, after ARIES (Mohan, Haderle,
//! Lindsay, Pirahesh, Schwarz: "ARIES: A Transaction Recovery Method
//! Supporting Fine-Granularity Locking and Partial Rollbacks Using
//! Write-Ahead Logging", TODS 1992).
//!
//! ```text
//!  LSN timeline (byte positions in the log)
//!  0        ckpt-begin   ckpt-end        T1 upd    T1 commit       durable ▏  buffer
//!  |-[ckpt]-----|----------|-----...------|----------|-------------------▏--------->
//!               ^ control file points here: recovery's analysis starts here
//! ```
//!
//! Parts:
//! - [`record`]: the record format (header with length, CRC, txn id, prevLSN).
//! - [`segment`]: fixed-size, preallocated segment files named by start LSN.
//! - [`log`]: the log manager: append, group-commit flush, read, checkpoints.
//! - [`reader`]: sequential reading and the torn-tail / corruption decision.
//! - [`control`]: the control file naming the last checkpoint.
//!
//! How we differ from the paper: the master record is our own two-slot
//! control file in `wal/`; structure changes (splits, merges, allocation) are
//! single redo-only `Structure` records covering every page they touch
//! instead of nested top actions; undo information is logical (tree, key,
//! before-image), never a page offset.
//!
//! Invariants:
//! - LSN 0 is the first checkpoint's begin record; no page change has LSN 0.
//! - a record is valid only at the LSN it was written for (the CRC covers it).
//! - a record is acknowledged durable only after the fdatasync of its batch
//!   (and of the directory, for a new segment) returned.
//! - a page is written only after the log is durable up to its page LSN (the
//!   buffer pool calls [`Wal::flush`] with the page LSN before writing it).
//! - an invalid record followed by a valid one is an error, never silent loss.
//!
//! Open problems: segment files are preallocated but not recycled; a torn
//! tail search reads the rest of the last segment on every open.

pub mod control;
pub mod durable;
pub mod log;
pub mod pagelog;
pub mod reader;
pub mod record;
pub mod recovery;
pub mod segment;
pub mod txn;

pub use log::{LogIter, OpenReport, Wal, WalOptions, WalStats};
pub use record::{LogicalUndo, PageRedo, Record, RecordBody, TreeDrop, TxnEntry, TxnId, TxnState};

use crate::error::{Error, SqlState};
use crate::storage::Lsn;

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("I/O error on write-ahead log file \"{path}\": {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("write-ahead log is corrupt at LSN {}: {reason}", lsn.0)]
    Corrupt { lsn: Lsn, reason: String },
    #[error("write-ahead log record of {bytes} bytes is too large")]
    RecordTooLarge { bytes: usize },
    #[error("write-ahead log is unusable after an earlier write failure: {0}")]
    Failed(String),
    /// The database was closed; a handle that outlived it was used.
    #[error("write-ahead log is closed (its database was closed)")]
    Closed,
}

impl WalError {
    /// The SQLSTATE this error carries to a client.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            WalError::Io { .. } | WalError::Failed(_) => SqlState::IO_ERROR,
            WalError::Corrupt { .. } => SqlState::DATA_CORRUPTED,
            WalError::RecordTooLarge { .. } => SqlState::PROGRAM_LIMIT_EXCEEDED,
            // PostgreSQL's admin_shutdown: the database went away under us.
            WalError::Closed => SqlState("57P01"),
        }
    }
}

impl From<WalError> for Error {
    fn from(e: WalError) -> Error {
        Error::new(e.sqlstate(), e.to_string())
    }
}
