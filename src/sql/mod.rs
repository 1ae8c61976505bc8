//! The SQL layer: parse (sqlparser, PostgreSQL dialect) -> bind -> plan -> execute.
//!
//! ```text
//!   text ──parse──▶ ast::Statement ──bind──▶ Plan + columns ──execute──▶ rows
//!                        │
//!                        └─ SET / SHOW / BEGIN / COMMIT … ──▶ session (settings, block state)
//! ```
//!
//! Owns: statements, session settings, the transaction-block state machine,
//! expression evaluation, plans.
//! Never: talks to the wire or reaches past the catalog/transaction layer.

pub mod aggregate;
pub mod bind;
pub mod bind_aggregate;
pub mod cast;
pub mod coerce;
pub mod datetime_functions;
pub mod execute;
pub mod expr;
pub mod functions;
pub mod parse;
pub mod plan;
pub mod roles;
pub mod session;
pub mod settings;
pub mod signals;
pub mod subquery;
pub mod window;

pub use session::{PreparedStatement, SessionState};

/// State shared by all sessions of one database.
pub struct Shared {}

impl Shared {
    pub fn new() -> Shared {
        Shared {}
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}
