//! The catalog layer: schemas, tables, columns and their storage formats.
//!
//! ```text
//!  sql/ ── table definitions, keys of rows ──┐
//!                                            v
//!  catalog/  key.rs   order-preserving key encoding (memcmp order = SQL order)
//!            table.rs table definitions in the catalog tree (tree 1), via MVCC
//!            role.rs  roles and their SCRAM-SHA-256 verifiers, same tree
//!            schema.rs schemas (namespaces), same tree
//!            sequence.rs sequences: definitions and non-transactional values
//!            view.rs  views: query text, columns, dependencies, same tree
//!            comment.rs comments on objects (pg_description), same tree
//!            row.rs   the stored row format (schema version, null bitmap, values)
//!                                            |
//!  txn/  MVCC transactions over byte-keyed trees  <──┘
//! ```
//!
//! Landed: the key encoding (see `docs/types.md`), table definitions
//! (columns, NOT NULL, defaults, primary key, indexes, object ids) stored
//! transactionally, and the row format.
//!
//! Never: parses SQL or reaches past the transaction layer into pages.

pub mod comment;
pub mod key;
pub mod role;
pub mod row;
pub mod schema;
pub mod sequence;
pub mod table;
pub mod view;

pub use comment::CommentDef;
pub use role::{RoleDef, ScramVerifier, StoredPassword};
pub use schema::SchemaDef;
pub use sequence::SequenceDef;
pub use table::{
    Catalog, CatalogError, CheckDef, ColumnDef, FkAction, FkRef, ForeignKeyDef, IndexColumn,
    IndexDef, TableDef,
};
pub use view::{DepKind, ViewColumn, ViewDef, ViewDep};
