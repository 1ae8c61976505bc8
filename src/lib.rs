//! arbordb: a single-node relational SQL database that speaks the PostgreSQL
//! wire protocol.
//!
//! The crate is layered as `../shared/DESIGN.md` describes; every arrow points
//! down and no layer reaches past the one beneath it:
//!
//! ```text
//!  server/    pgwire handlers, sessions on the wire           (async, tokio)
//!  db         Database / Session: the embedded API, the server's only door
//!  sql/       parse -> bind -> plan -> execute                (sync)
//!  types/     SQL data types and values, their text forms     (leaf library)
//!  storage/   disk/ buffer/ btree/ wal/                      (pages, log)
//! ```
//!
//! `types/` is not a layer of its own: it is the vocabulary of values that
//! `sql/`, the catalog and the server all speak, so it sits beside them as a
//! leaf module with no dependencies on any layer.

pub mod catalog;
pub mod db;
pub mod error;
pub mod server;
pub mod sql;
pub mod storage;
pub mod txn;
pub mod types;

/// Test support shared by the harnesses and fuzz targets; not a stable API.
#[doc(hidden)]
pub mod testkit;

/// Fuzz targets (cargo-fuzz and `tests/fuzz_smoke.rs`); not a stable API.
#[doc(hidden)]
pub mod fuzzing;

pub use db::{Column, Database, Options, Prepared, Session, StatementResult, TransactionStatus};
pub use error::{Error, Result, SqlState};
pub use types::{DataType, Value};
