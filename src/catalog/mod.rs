//! The catalog layer: schemas, tables, columns and their storage formats.
//!
//! ```text
//!  sql/ ── table definitions, keys of rows ──┐
//!                                            v
//!  catalog/  key.rs   order-preserving key encoding (memcmp order = SQL order)
//!            table.rs table definitions in the catalog tree (tree 1), via MVCC
//!            role.rs  roles and their SCRAM-SHA-256 verifiers, same tree
//!                                            |
//!  txn/  MVCC transactions over byte-keyed trees  <──┘
//! ```
//!
//! Landed: the key encoding (see `docs/types.md`) and table definitions
//! (columns, NOT NULL, primary key, object ids) stored transactionally.
//! Row encoding and the SQL statements are next (issue 6).
//!
//! Never: parses SQL or reaches past the transaction layer into pages.

pub mod key;
pub mod role;
pub mod table;

pub use role::{RoleDef, ScramVerifier, StoredPassword};
pub use table::{Catalog, CatalogError, ColumnDef, TableDef};
