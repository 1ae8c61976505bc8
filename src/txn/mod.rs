//! The transaction layer: MVCC versions, snapshots, row locks and SSI.
//!
//! ```text
//!  sql/ ── begin / get / scan / put / delete / lock_row / commit ──┐
//!                                                                  v
//!  txn/  manager.rs   xids, stamps, active + aborted sets, snapshots, watermark
//!        snapshot.rs  Snapshot (xmin, xmax, active) and the visibility rule
//!        version.rs   tree key = user key ++ !stamp (newest first); value header
//!        lock.rs      row locks: 4 PostgreSQL modes, FIFO queues, deadlocks
//!        ssi.rs       SIREAD locks, rw-antidependencies, dangerous structures
//!        transaction.rs  the API: get/scan/insert/put/delete/lock_row, savepoints,
//!                     commit/rollback, isolation levels, pruning and vacuum
//!        vacuum.rs    the background vacuum thread over registered trees
//!                                                                  |
//!  storage/  trees of byte keys -> byte values  <──────────────────┘
//! ```
//!
//! The design, its invariants and its open problems are written up in
//! `docs/mvcc.md` (a grid of versions × snapshots, the lock conflict table,
//! the SSI checks and the vacuum watermark rule).
//!
//! Never: parses SQL, knows row formats, or reaches past the trees into pages.

pub mod error;
pub mod lock;
pub mod manager;
pub mod open;
pub mod snapshot;
pub mod ssi;
pub mod transaction;
pub mod vacuum;
pub mod version;

pub use error::TxnError;
pub use lock::{
    CancelToken, LockConfig, LockManager, LockOutcome, LockTarget, LockWait, RowLockMode,
    WaitPolicy,
};
pub use manager::{TxnManager, VolatileXidLog, XidLog, XidStatus};
pub use snapshot::{CommandId, Snapshot, Writer, Xid, is_visible};
pub use ssi::{KeyRange, SsiConfig, SsiManager};
pub use transaction::{RowLock, Scan, Transaction, TxnEngine, TxnOptions, VacuumStats};
pub use vacuum::{Vacuumer, VacuumerStats};

/// Lock targets and SIREAD locks name trees by the storage engine's id.
pub use crate::storage::btree::TreeId;

/// The isolation levels PostgreSQL offers (READ UNCOMMITTED behaves as READ
/// COMMITTED there, and the SQL layer maps it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl IsolationLevel {
    /// As `SHOW transaction_isolation` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            IsolationLevel::ReadCommitted => "read committed",
            IsolationLevel::RepeatableRead => "repeatable read",
            IsolationLevel::Serializable => "serializable",
        }
    }

    /// Whether one snapshot serves the whole transaction.
    pub fn uses_transaction_snapshot(self) -> bool {
        !matches!(self, IsolationLevel::ReadCommitted)
    }
}
