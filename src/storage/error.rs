//! The storage layer's errors: what can go wrong below the trees.
//!
//! Each variant maps to exactly one SQLSTATE when it crosses into
//! [`crate::Error`]: corruption is `XX001`, I/O is `58030`, a size limit is
//! `54000`, an exhausted buffer pool is `53200` (out of memory), and asking
//! for a tree that does not exist is `XX000` (a caller bug that reached us),
//! and a closed database used through a handle that outlived it is `57P01`.

use std::io;

use crate::error::{Error, SqlState};
use crate::storage::page::PageId;

/// An error from the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A page failed its checksum or structural validation on read.
    #[error("could not read block {page} in file \"{file}\": {reason}")]
    Corrupt {
        file: String,
        page: PageId,
        reason: String,
    },
    /// The data file as a whole is not an arbordb file, or of another format.
    #[error("invalid data file \"{file}\": {reason}")]
    BadFile { file: String, reason: String },
    /// The operating system refused a read, write or sync.
    #[error("I/O error on \"{file}\": {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    /// A key longer than [`crate::storage::btree::MAX_KEY_BYTES`].
    #[error("index row size {size} exceeds maximum {max} for a key")]
    KeyTooLarge { size: usize, max: usize },
    /// A value longer than [`crate::storage::btree::MAX_VALUE_BYTES`].
    #[error("value size {size} exceeds maximum {max}")]
    ValueTooLarge { size: usize, max: usize },
    /// Every frame of the buffer pool is pinned.
    #[error("no unpinned buffers available (buffer pool of {frames} frames)")]
    PoolExhausted { frames: usize },
    /// The data file reached the largest page number a `PageId` can hold.
    #[error("data file \"{file}\" is full ({pages} pages)")]
    FileFull { file: String, pages: u64 },
    /// The database was closed; a handle that outlived it was used.
    #[error("database file \"{file}\" is closed")]
    Closed { file: String },
    /// No tree with this id exists.
    #[error("tree {0} does not exist")]
    NoSuchTree(u64),
    /// The write-ahead log failed (I/O, corruption, a poisoned log).
    #[error(transparent)]
    Wal(#[from] crate::storage::wal::WalError),
}

impl StorageError {
    /// The SQLSTATE this error carries to a client.
    pub fn sqlstate(&self) -> SqlState {
        match self {
            StorageError::Corrupt { .. } | StorageError::BadFile { .. } => SqlState::DATA_CORRUPTED,
            StorageError::Io { .. } => SqlState::IO_ERROR,
            StorageError::KeyTooLarge { .. }
            | StorageError::ValueTooLarge { .. }
            | StorageError::FileFull { .. } => SqlState::PROGRAM_LIMIT_EXCEEDED,
            StorageError::PoolExhausted { .. } => SqlState("53200"),
            StorageError::NoSuchTree(_) => SqlState::INTERNAL_ERROR,
            // PostgreSQL's admin_shutdown: the database went away under us.
            StorageError::Closed { .. } => SqlState("57P01"),
            StorageError::Wal(e) => e.sqlstate(),
        }
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Error {
        Error::new(e.sqlstate(), e.to_string())
    }
}

/// Results of the storage layer.
pub type StorageResult<T> = Result<T, StorageError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_names_file_and_page_and_maps_to_xx001() {
        let e = StorageError::Corrupt {
            file: "arbordb.data".into(),
            page: PageId(7),
            reason: "checksum mismatch".into(),
        };
        let top: Error = e.into();
        assert_eq!(top.sqlstate, SqlState::DATA_CORRUPTED);
        assert!(top.message.contains("arbordb.data"), "{}", top.message);
        assert!(top.message.contains("block 7"), "{}", top.message);
    }

    #[test]
    fn limits_map_to_54000_and_io_to_58030() {
        let e: Error = StorageError::KeyTooLarge {
            size: 5000,
            max: 2048,
        }
        .into();
        assert_eq!(e.sqlstate, SqlState::PROGRAM_LIMIT_EXCEEDED);
        let e: Error = StorageError::Io {
            file: "f".into(),
            source: io::ErrorKind::Other.into(),
        }
        .into();
        assert_eq!(e.sqlstate, SqlState::IO_ERROR);
    }
}
