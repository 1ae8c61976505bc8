//! The storage engine: files, pages, the buffer pool, B+-trees and the log.
//!
//! ```text
//!  btree/   ordered byte-key -> byte-value maps over pages
//!  buffer/  fixed pool of page frames: pins, latches, dirty flags, eviction
//!  wal/     write-ahead log, group commit, checkpoints, ARIES recovery
//!  disk/    the file boundary: real files, memory files, fault injection
//! ```
//!
//! Never: knows about rows, SQL types or sessions.

pub mod disk;
pub mod wal;

/// A log sequence number: the byte position of a record in the write-ahead
/// log. Every page header stores the LSN of the last change applied to it;
/// `Lsn(0)` means "no change logged yet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

pub mod buffer;
pub mod error;
pub mod op;
pub mod page;
pub mod pager;

pub use error::{StorageError, StorageResult};
pub use page::{PAGE_SIZE, PageId};
pub mod btree;
pub mod check;
pub mod engine;

pub use btree::{Cursor, Tree, TreeId};
pub use check::CheckReport;
pub use engine::{Engine, EngineOptions};
