//! The SQL layer: parse (sqlparser, PostgreSQL dialect) -> bind -> plan -> execute.
//!
//! Owns: statements, session settings, expression evaluation, plans.
//! Never: talks to the wire or reaches past the catalog/transaction layer.

use crate::db::{Prepared, StatementResult, TransactionStatus};
use crate::error::{Error, Result};
use crate::types::{DataType, Value};

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

/// A bound, planned statement kept for the extended protocol.
#[derive(Debug, Clone)]
pub struct PreparedStatement {}

/// One session's SQL state.
pub struct SessionState {}

impl SessionState {
    pub fn new(_shared: &Shared) -> SessionState {
        SessionState {}
    }

    pub fn execute_simple(
        &mut self,
        _sql: &str,
        _on_result: &mut dyn FnMut(StatementResult),
    ) -> Result<()> {
        Err(Error::unsupported("SQL execution"))
    }

    pub fn prepare(&mut self, _sql: &str, _param_types: &[Option<DataType>]) -> Result<Prepared> {
        Err(Error::unsupported("SQL execution"))
    }

    pub fn execute_prepared(
        &mut self,
        _prepared: &Prepared,
        _params: &[Value],
    ) -> Result<StatementResult> {
        Err(Error::unsupported("SQL execution"))
    }

    pub fn transaction_status(&self) -> TransactionStatus {
        TransactionStatus::Idle
    }

    pub fn parameter(&self, _name: &str) -> Option<String> {
        None
    }

    pub fn set_parameter(&mut self, name: &str, _value: &str) -> Result<()> {
        Err(Error::unsupported(format!("parameter \"{name}\"")))
    }

    pub fn reported_parameters(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    pub fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }
}
