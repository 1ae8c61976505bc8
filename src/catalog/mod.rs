//! The catalog layer: schemas, tables, columns and their storage formats.
//!
//! ```text
//!  sql/ ── table definitions, keys of rows ──┐
//!                                            v
//!  catalog/  key.rs   order-preserving key encoding (memcmp order = SQL order)
//!                                            |
//!  txn/  MVCC transactions over byte-keyed trees  <──┘
//! ```
//!
//! So far only the key encoding has landed (see `docs/types.md`); the
//! catalog tree, row encoding and DDL are next (issue 6).
//!
//! Never: parses SQL or reaches past the transaction layer into pages.

pub mod key;
