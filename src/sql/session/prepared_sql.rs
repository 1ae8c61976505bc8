//! SQL-level prepared statements: `PREPARE name [(types)] AS statement`,
//! `EXECUTE name [(values)]`, `DEALLOCATE [PREPARE] name | ALL`.
//!
//! Owns: the session's map of SQL-prepared statements. They are prepared
//! exactly like a protocol Parse ([`SessionState::prepare`]) and run like a
//! Bind + Execute, so both paths bind and execute one way.
//! Never: touches the protocol's named statements; after `DEALLOCATE ALL`
//! (and `DISCARD ALL`) the server clears those itself when
//! [`SessionState::take_deallocated_all`] says so.

use std::sync::Arc;

use sqlparser::ast::{self, Statement};

use crate::db::{Prepared, StatementResult};
use crate::error::{Error, Result, SqlState};

use super::{SessionState, tag_only};
use crate::sql::bind::{ident_name, object_name, resolve_type};
use crate::sql::parse::parse;

/// SQLSTATE 26000: no prepared statement of that name.
const INVALID_SQL_STATEMENT_NAME: SqlState = SqlState("26000");
/// SQLSTATE 42P05: a prepared statement of that name exists.
const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");

fn missing(name: &str) -> Error {
    Error::new(
        INVALID_SQL_STATEMENT_NAME,
        format!("prepared statement \"{name}\" does not exist"),
    )
}

impl SessionState {
    /// `PREPARE name [(types)] AS statement`.
    pub(super) fn sql_prepare(
        &mut self,
        name: &ast::Ident,
        data_types: &[ast::DataType],
        statement: &Statement,
    ) -> Result<StatementResult> {
        let name = ident_name(name);
        if self.sql_prepared.contains_key(&name) {
            return Err(Error::new(
                DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let types = data_types
            .iter()
            .map(|t| resolve_type(t).map(|(t, _)| Some(t)))
            .collect::<Result<Vec<_>>>()?;
        let prepared = self.prepare(&statement.to_string(), &types)?;
        self.sql_prepared.insert(name, Arc::new(prepared));
        Ok(tag_only("PREPARE"))
    }

    /// `EXECUTE name [(values)]`: the values are evaluated as one SELECT of
    /// casts to the parameter types, then the statement runs with them.
    pub(super) fn sql_execute(
        &mut self,
        name: &ast::ObjectName,
        parameters: &[ast::Expr],
    ) -> Result<StatementResult> {
        let name = object_name(name).join(".");
        let prepared = self
            .sql_prepared
            .get(&name)
            .cloned()
            .ok_or_else(|| missing(&name))?;
        if parameters.len() != prepared.param_types.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                format!("wrong number of parameters for prepared statement \"{name}\""),
            )
            .with_detail(format!(
                "Expected {} parameters but got {}.",
                prepared.param_types.len(),
                parameters.len()
            )));
        }
        let values = if parameters.is_empty() {
            Vec::new()
        } else {
            let items: Vec<String> = parameters
                .iter()
                .zip(&prepared.param_types)
                .map(|(e, t)| format!("CAST(({e}) AS {})", t.name()))
                .collect();
            let select = format!("SELECT {}", items.join(", "));
            let Some(stmt) = parse(&select)?.pop() else {
                return Err(Error::internal("EXECUTE: no parameter query"));
            };
            let r = self.run_in_txn(&stmt, &select, None, &[])?;
            r.rows.into_iter().next().unwrap_or_default()
        };
        let Some(stmt) = &prepared.inner.statement else {
            return Ok(tag_only(""));
        };
        self.run(
            stmt,
            &prepared.inner.sql,
            Some(&values),
            &prepared.param_types,
        )
    }

    /// `DEALLOCATE [PREPARE] name | ALL`.
    pub(super) fn sql_deallocate(&mut self, name: &ast::Ident) -> Result<StatementResult> {
        if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
            self.deallocate_all();
            return Ok(tag_only("DEALLOCATE ALL"));
        }
        let name = ident_name(name);
        self.sql_prepared
            .remove(&name)
            .map(|_| tag_only("DEALLOCATE"))
            .ok_or_else(|| missing(&name))
    }

    /// Forgets every prepared statement, SQL-level here and (through
    /// [`SessionState::take_deallocated_all`]) the protocol's.
    pub(super) fn deallocate_all(&mut self) {
        self.sql_prepared.clear();
        self.deallocated_all = true;
    }

    /// Whether `DEALLOCATE ALL` or `DISCARD ALL` ran since the last call:
    /// the protocol's named statements are to be dropped too.
    pub fn take_deallocated_all(&mut self) -> bool {
        std::mem::take(&mut self.deallocated_all)
    }

    /// The result columns of `EXECUTE name`, for Describe.
    pub(super) fn sql_prepared_columns(&self, name: &ast::ObjectName) -> Option<Prepared> {
        let name = object_name(name).join(".");
        self.sql_prepared.get(&name).map(|p| (**p).clone())
    }
}
