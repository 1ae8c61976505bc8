//! The simple and extended query protocols over [`crate::Session`].
//!
//! ```text
//!  simple:   Query ─▶ per statement: NoticeResponse* [RowDescription] DataRow* CommandComplete
//!                     | ErrorResponse (stops)      | EmptyQueryResponse
//!                     ParameterStatus* ReadyForQuery(I/T/E)
//!
//!  extended: Parse ─▶ Session::prepare           ─▶ ParseComplete
//!            Bind  ─▶ decode params (text/binary) ─▶ BindComplete
//!            Describe S ─▶ ParameterDescription, RowDescription | NoData
//!            Describe P ─▶ RowDescription (portal formats) | NoData
//!            Execute(max_rows) ─▶ DataRow* CommandComplete | PortalSuspended
//!            Close ─▶ CloseComplete
//!            Sync  ─▶ ParameterStatus* ReadyForQuery(I/T/E)
//!            (after an error, messages up to Sync are skipped)
//! ```
//!
//! Owns: the message sequences above and the per-connection statements and
//! portals. pgwire decodes and frames messages; every handler here is
//! overridden so that nothing reaches pgwire's own portal store.
//! Never: holds a lock across an `.await`; statements run through
//! [`ConnState::run`] on a blocking thread.
//!
//! Invariants:
//! - ReadyForQuery carries the session's transaction status as of the last
//!   statement, never a status tracked on the side.
//! - A portal's rows are produced once (on its first Execute) and handed out
//!   in `max_rows` chunks; a suspended portal never re-runs its statement.
//! - Portals do not outlive their transaction: when a Sync or Query leaves
//!   the session idle, every portal is dropped.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::portal::Portal as PgPortal;
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::Response;
use pgwire::api::stmt::NoopQueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Close, CloseComplete, Describe, Execute, Parse, ParseComplete,
    PortalSuspended, Sync as PgSync, TARGET_TYPE_BYTE_PORTAL, TARGET_TYPE_BYTE_STATEMENT,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ReadyForQuery, TransactionStatus as WireStatus,
};
use pgwire::messages::simplequery::Query;
use pgwire::messages::startup::ParameterStatus;

use crate::db::{StatementResult, TransactionStatus};
use crate::error::{Error, Result, SqlState};
use crate::sql::signals::Notice;
use crate::types::{DataType, Value};

use super::Backend;
use super::session::{ConnState, Portal, PortalState, Statement};
use super::{binary, copy, text, wire};

/// SQLSTATE 22021: a byte sequence that is not valid UTF-8.
const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");
/// SQLSTATE 34000: no such portal.
const INVALID_CURSOR_NAME: SqlState = SqlState("34000");
/// SQLSTATE 42P03: a portal of that name exists.
const DUPLICATE_CURSOR: SqlState = SqlState("42P03");
/// SQLSTATE 42P05: a prepared statement of that name exists.
const DUPLICATE_PREPARED_STATEMENT: SqlState = SqlState("42P05");

/// ReadyForQuery's status byte for a session status.
pub(crate) fn wire_status(status: TransactionStatus) -> WireStatus {
    match status {
        TransactionStatus::Idle => WireStatus::Idle,
        TransactionStatus::InBlock => WireStatus::Transaction,
        TransactionStatus::Failed => WireStatus::Error,
    }
}

/// Whether a query string holds no statement at all (only `;` and spaces).
fn is_empty_query(sql: &str) -> bool {
    sql.chars().all(|c| c == ';' || c.is_whitespace())
}

pub(crate) fn user_error(e: &Error) -> PgWireError {
    PgWireError::UserError(Box::new(wire::error_info(e)))
}

/// Logs one error sent to a client: its SQLSTATE and message.
pub(crate) fn log_error(peer: std::net::SocketAddr, sqlstate: &str, message: &str) {
    tracing::info!(%peer, sqlstate, "ERROR: {message}");
}

/// The connection's state; absent only if a message arrives before startup
/// finished, which pgwire's state machine prevents.
pub(crate) fn conn_state<C: ClientInfo>(client: &C) -> PgWireResult<Arc<ConnState>> {
    client
        .session_extensions()
        .get::<ConnState>()
        .ok_or_else(|| {
            user_error(&Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "query message before startup completed",
            ))
        })
}

/// The name pgwire decoded (None for the unnamed statement or portal).
fn name_of(name: &Option<String>) -> &str {
    name.as_deref().unwrap_or("")
}

/// Sends pending ParameterStatus messages and ReadyForQuery.
async fn ready_for_query<C>(client: &mut C, conn: &ConnState) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for (name, value) in conn.take_pending_parameters() {
        client
            .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                name, value,
            )))
            .await?;
    }
    let status = wire_status(conn.status());
    client.set_transaction_status(status);
    client.set_state(PgWireConnectionState::ReadyForQuery);
    client
        .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
            status,
        )))
        .await?;
    Ok(())
}

/// Feeds one statement's complete result (simple protocol: text format).
async fn feed_result<C>(
    client: &mut C,
    result: &StatementResult,
    zone: &crate::types::datetime::Zone,
) -> Result<(), SendError>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if copy::is_copy_out(result) {
        return copy::send_copy_out(client, result)
            .await
            .map_err(SendError::Io);
    }
    if result.returns_rows() {
        let formats = vec![wire::FORMAT_TEXT; result.columns.len()];
        client
            .feed(PgWireBackendMessage::RowDescription(wire::row_description(
                &result.columns,
                &formats,
            )))
            .await
            .map_err(|e| SendError::Io(e.into()))?;
        for row in &result.rows {
            crate::types::datetime::set_zone(zone.clone());
            let row = wire::data_row(&result.columns, &formats, row).map_err(SendError::Sql)?;
            client
                .feed(PgWireBackendMessage::DataRow(row))
                .await
                .map_err(|e| SendError::Io(e.into()))?;
        }
    }
    client
        .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
            result.tag.clone(),
        )))
        .await
        .map_err(|e| SendError::Io(e.into()))?;
    Ok(())
}

/// What the blocking thread hands the simple-query loop.
enum Event {
    Notice(Notice),
    /// A result, with the session time zone it was computed in.
    Result(StatementResult, crate::types::datetime::Zone),
}

/// What a simple query has sent of its results so far.
#[derive(Default)]
struct SentResults {
    statements: usize,
    /// A value that could not be encoded; later results are not sent.
    error: Option<Error>,
}

impl SentResults {
    async fn send<C>(&mut self, client: &mut C, event: Event) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (result, zone) = match event {
            Event::Notice(n) => {
                return client
                    .feed(PgWireBackendMessage::NoticeResponse(
                        wire::notice_info(&n).into(),
                    ))
                    .await
                    .map_err(PgWireError::from);
            }
            Event::Result(result, zone) => (result, zone),
        };
        self.statements += 1;
        if self.error.is_some() {
            return Ok(());
        }
        match feed_result(client, &result, &zone).await {
            Ok(()) => Ok(()),
            Err(SendError::Io(e)) => Err(e),
            Err(SendError::Sql(e)) => {
                self.error = Some(e);
                Ok(())
            }
        }
    }
}

/// Whether `sql` holds at most one statement: no `;` but at its end. (A
/// `;` inside a literal or comment makes this say no, which only costs
/// the streaming path.)
fn is_one_statement(sql: &str) -> bool {
    let body = sql.trim_end().trim_end_matches(';');
    !body.contains(';')
}

/// Feeds the notices the session raised and nobody has sent yet.
async fn feed_notices<C>(client: &mut C, conn: &ConnState) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in conn.signals.take_notices() {
        client
            .feed(PgWireBackendMessage::NoticeResponse(
                wire::notice_info(&n).into(),
            ))
            .await?;
    }
    Ok(())
}

/// Why sending a result stopped: the socket failed, or a value could not be
/// encoded (reported to the client as an ErrorResponse).
enum SendError {
    Io(PgWireError),
    Sql(Error),
}

#[async_trait]
impl SimpleQueryHandler for Backend {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        client.set_state(PgWireConnectionState::QueryInProgress);
        // A simple Query ends the unnamed portal, as in PostgreSQL.
        conn.portals.lock().remove("");

        if is_empty_query(&query.query) {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
            return ready_for_query(client, &conn).await;
        }

        let sql = query.query;
        let signals = conn.signals.clone();
        let mut sent = SentResults::default();
        let outcome = if is_one_statement(&sql) {
            // One statement: it runs right here, its result is sent after.
            let ran = conn
                .run(move |session| {
                    let mut events = Vec::new();
                    let ran = session.execute_simple(&sql, &mut |result| {
                        events.extend(signals.take_notices().into_iter().map(Event::Notice));
                        events.push(Event::Result(
                            result,
                            crate::types::datetime::session_zone(),
                        ));
                    });
                    Ok((events, ran.map(|()| session.copy_in_columns())))
                })
                .await;
            let (events, outcome) = match ran {
                Ok(ran) => ran,
                Err(e) => (Vec::new(), Err(e)),
            };
            for event in events {
                sent.send(client, event).await?;
            }
            outcome
        } else {
            // Several: results stream from a blocking thread one statement
            // at a time, each after the notices it raised; the channel
            // bounds how many wait in memory.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(2);
            let handle = conn.spawn(move |session| {
                session.execute_simple(&sql, &mut |result| {
                    // A closed channel means the client is gone; the
                    // statements still run to completion, as in PostgreSQL.
                    for n in signals.take_notices() {
                        let _ = tx.blocking_send(Event::Notice(n));
                    }
                    let _ = tx.blocking_send(Event::Result(
                        result,
                        crate::types::datetime::session_zone(),
                    ));
                })?;
                Ok(session.copy_in_columns())
            });
            while let Some(event) = rx.recv().await {
                sent.send(client, event).await?;
            }
            conn.finish(handle).await
        };
        let SentResults {
            statements,
            error: send_error,
        } = sent;
        // Notices of the statement that failed come before its error.
        feed_notices(client, &conn).await?;
        if send_error.is_none()
            && let Ok(Some(columns)) = outcome
        {
            // COPY FROM STDIN: the data comes next (src/server/copy.rs).
            return copy::start_copy_in(client, columns, false).await;
        }
        let error = send_error.or(outcome.err());
        match error {
            Some(e) => {
                log_error(conn.peer, e.sqlstate.code(), &e.message);
                client
                    .feed(PgWireBackendMessage::ErrorResponse(
                        wire::error_info(&e).into(),
                    ))
                    .await?;
            }
            None if statements == 0 => {
                // Only comments: PostgreSQL treats it as an empty query.
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
            }
            None => {}
        }
        conn.drop_portals_if_idle();
        ready_for_query(client, &conn).await
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // on_query is overridden and never calls this.
        Err(user_error(&Error::internal(
            "simple query dispatched to the default handler",
        )))
    }
}

/// Decodes Bind's parameter values to the prepared statement's types.
fn decode_params(bind: &Bind, types: &[DataType], statement_name: &str) -> Result<Vec<Value>> {
    if bind.parameters.len() != types.len() {
        return Err(Error::new(
            SqlState::PROTOCOL_VIOLATION,
            format!(
                "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires {}",
                bind.parameters.len(),
                types.len()
            ),
        ));
    }
    let formats = wire::resolve_formats(
        &bind.parameter_format_codes,
        bind.parameters.len(),
        "parameter formats",
    )?;
    let mut values = Vec::with_capacity(types.len());
    for (i, ((param, ty), format)) in bind.parameters.iter().zip(types).zip(&formats).enumerate() {
        let Some(bytes) = param else {
            values.push(Value::Null);
            continue;
        };
        let value = if *format == wire::FORMAT_BINARY {
            binary::decode(ty, bytes).map_err(|e| e.into_error(i + 1))?
        } else {
            let s = std::str::from_utf8(bytes).map_err(|e| {
                let at = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
                Error::new(
                    CHARACTER_NOT_IN_REPERTOIRE,
                    format!("invalid byte sequence for encoding \"UTF8\": 0x{at:02x}"),
                )
            })?;
            text::decode(ty, s)?
        };
        values.push(value);
    }
    Ok(values)
}

#[async_trait]
impl ExtendedQueryHandler for Backend {
    type Statement = String;
    type QueryParser = NoopQueryParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        // Parse is overridden; pgwire's parser and portal store stay unused.
        Arc::new(NoopQueryParser)
    }

    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let name = name_of(&message.name).to_owned();
        if name.is_empty() {
            // The unnamed statement is replaced even if the new one fails.
            conn.statements.lock().remove("");
        } else if conn.statements.lock().contains_key(&name) {
            return Err(user_error(&Error::new(
                DUPLICATE_PREPARED_STATEMENT,
                format!("prepared statement \"{name}\" already exists"),
            )));
        }
        let types = message
            .type_oids
            .iter()
            .map(|oid| wire::data_type_from_oid(*oid))
            .collect::<Result<Vec<_>>>()
            .map_err(|e| user_error(&e))?;
        let statement = if is_empty_query(&message.query) {
            Statement::Empty
        } else {
            let sql = message.query;
            let prepared = conn
                .run(move |session| session.prepare(&sql, &types))
                .await
                .map_err(|e| user_error(&e))?;
            Statement::Prepared(Arc::new(prepared))
        };
        conn.statements.lock().insert(name, Arc::new(statement));
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let statement_name = name_of(&message.statement_name);
        let portal_name = name_of(&message.portal_name).to_owned();
        let statement = conn
            .statements
            .lock()
            .get(statement_name)
            .cloned()
            .ok_or_else(|| user_error(&statement_missing(statement_name)))?;
        if portal_name.is_empty() {
            conn.portals.lock().remove("");
        } else if conn.portals.lock().contains_key(&portal_name) {
            return Err(user_error(&Error::new(
                DUPLICATE_CURSOR,
                format!("portal \"{portal_name}\" already exists"),
            )));
        }
        let (params, result_formats) = match statement.as_ref() {
            Statement::Empty => {
                let params = decode_params(&message, &[], statement_name);
                (params, Ok(Vec::new()))
            }
            Statement::Prepared(p) => {
                let params = decode_params(&message, &p.param_types, statement_name);
                let formats = wire::resolve_formats(
                    &message.result_column_format_codes,
                    p.columns.len(),
                    "result formats",
                )
                .and_then(|f| wire::check_result_formats(&p.columns, &f).map(|()| f));
                (params, formats)
            }
        };
        let params = params.map_err(|e| user_error(&e))?;
        let result_formats = result_formats.map_err(|e| user_error(&e))?;
        conn.portals.lock().insert(
            portal_name,
            Portal {
                statement,
                params,
                result_formats,
                state: PortalState::NotStarted,
            },
        );
        client
            .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let name = name_of(&message.name);
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                let statement = conn
                    .statements
                    .lock()
                    .get(name)
                    .cloned()
                    .ok_or_else(|| user_error(&statement_missing(name)))?;
                match statement.as_ref() {
                    Statement::Empty => {
                        client
                            .feed(PgWireBackendMessage::ParameterDescription(
                                ParameterDescription::new(Vec::new()),
                            ))
                            .await?;
                        client
                            .feed(PgWireBackendMessage::NoData(NoData::new()))
                            .await?;
                    }
                    Statement::Prepared(p) => {
                        let oids = p.param_types.iter().map(DataType::oid).collect();
                        client
                            .feed(PgWireBackendMessage::ParameterDescription(
                                ParameterDescription::new(oids),
                            ))
                            .await?;
                        if p.columns.is_empty() {
                            client
                                .feed(PgWireBackendMessage::NoData(NoData::new()))
                                .await?;
                        } else {
                            // Formats are not known before Bind: text.
                            let formats = vec![wire::FORMAT_TEXT; p.columns.len()];
                            client
                                .feed(PgWireBackendMessage::RowDescription(wire::row_description(
                                    &p.columns, &formats,
                                )))
                                .await?;
                        }
                    }
                }
            }
            TARGET_TYPE_BYTE_PORTAL => {
                let description = {
                    let portals = conn.portals.lock();
                    let portal = portals
                        .get(name)
                        .ok_or_else(|| user_error(&portal_missing(name)))?;
                    match portal.statement.as_ref() {
                        Statement::Prepared(p) if !p.columns.is_empty() => {
                            Some(wire::row_description(&p.columns, &portal.result_formats))
                        }
                        _ => None,
                    }
                };
                let message = match description {
                    Some(d) => PgWireBackendMessage::RowDescription(d),
                    None => PgWireBackendMessage::NoData(NoData::new()),
                };
                client.feed(message).await?;
            }
            other => {
                return Err(user_error(&Error::new(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("invalid DESCRIBE message subtype {other}"),
                )));
            }
        }
        Ok(())
    }

    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let name = name_of(&message.name).to_owned();
        // Take the portal out while it runs; it goes back unless finished.
        let mut portal = conn
            .portals
            .lock()
            .remove(&name)
            .ok_or_else(|| user_error(&portal_missing(&name)))?;
        let result = execute_portal(client, &conn, &name, &mut portal, message.max_rows).await;
        conn.portals.lock().insert(name, portal);
        result
    }

    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        conn.drop_portals_if_idle();
        ready_for_query(client, &conn).await
    }

    async fn on_close<C>(&self, client: &mut C, message: Close) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let name = name_of(&message.name);
        // Closing something that does not exist is not an error.
        match message.target_type {
            TARGET_TYPE_BYTE_STATEMENT => {
                conn.statements.lock().remove(name);
            }
            TARGET_TYPE_BYTE_PORTAL => {
                conn.portals.lock().remove(name);
            }
            other => {
                return Err(user_error(&Error::new(
                    SqlState::PROTOCOL_VIOLATION,
                    format!("invalid CLOSE message subtype {other}"),
                )));
            }
        }
        client
            .feed(PgWireBackendMessage::CloseComplete(CloseComplete::new()))
            .await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        _client: &mut C,
        _portal: &PgPortal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // on_execute is overridden and never calls this.
        Err(user_error(&Error::internal(
            "execute dispatched to the default handler",
        )))
    }
}

fn statement_missing(name: &str) -> Error {
    let message = if name.is_empty() {
        "unnamed prepared statement does not exist".to_owned()
    } else {
        format!("prepared statement \"{name}\" does not exist")
    };
    Error::new(SqlState::INVALID_SQL_STATEMENT_NAME, message)
}

fn portal_missing(name: &str) -> Error {
    Error::new(
        INVALID_CURSOR_NAME,
        format!("portal \"{name}\" does not exist"),
    )
}

/// Runs (or continues) `portal`, sending at most `max_rows` rows (0 or
/// negative = all).
async fn execute_portal<C>(
    client: &mut C,
    conn: &ConnState,
    name: &str,
    portal: &mut Portal,
    max_rows: i32,
) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    if matches!(portal.state, PortalState::NotStarted) {
        let prepared = match portal.statement.as_ref() {
            Statement::Empty => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                return Ok(());
            }
            Statement::Prepared(p) => p.clone(),
        };
        let params = std::mem::take(&mut portal.params);
        let outcome = conn
            .run(move |session| {
                let result = session.execute_prepared(&prepared, &params)?;
                Ok((
                    result,
                    crate::types::datetime::session_zone(),
                    session.copy_in_columns(),
                ))
            })
            .await;
        feed_notices(client, conn).await?;
        let (result, zone, copy_in) = outcome.map_err(|e| user_error(&e))?;
        if let Some(columns) = copy_in {
            portal.state = PortalState::Done;
            return copy::start_copy_in(client, columns, true).await;
        }
        if copy::is_copy_out(&result) {
            portal.state = PortalState::Done;
            return copy::send_copy_out(client, &result).await;
        }
        if !result.returns_rows() {
            portal.state = PortalState::Done;
            client
                .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                    result.tag,
                )))
                .await?;
            return Ok(());
        }
        portal.state = PortalState::Rows {
            result,
            next_row: 0,
            zone,
        };
    }
    match &mut portal.state {
        PortalState::NotStarted => Err(user_error(&Error::internal("portal did not start"))),
        PortalState::Done => Err(user_error(&Error::new(
            SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("portal \"{name}\" cannot be run"),
        ))),
        PortalState::Rows {
            result,
            next_row,
            zone,
        } => {
            let remaining = result.rows.len().saturating_sub(*next_row);
            let limit = usize::try_from(max_rows)
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or(remaining);
            let end = *next_row + limit.min(remaining);
            let sent = end - *next_row;
            for row in result.rows.get(*next_row..end).unwrap_or_default() {
                crate::types::datetime::set_zone(zone.clone());
                let row = wire::data_row(&result.columns, &portal.result_formats, row)
                    .map_err(|e| user_error(&e))?;
                client.feed(PgWireBackendMessage::DataRow(row)).await?;
            }
            let suspended = end < result.rows.len();
            let chunked = *next_row > 0 || suspended;
            *next_row = end;
            if suspended {
                client
                    .feed(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                    .await?;
            } else {
                // Like PostgreSQL, a SELECT fetched in chunks reports the rows
                // of the last chunk.
                let tag = match result.tag.split_once(' ') {
                    Some(("SELECT", _)) if chunked => format!("SELECT {sent}"),
                    _ => result.tag.clone(),
                };
                client
                    .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        tag,
                    )))
                    .await?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_queries_are_only_semicolons_and_space() {
        assert!(is_empty_query(""));
        assert!(is_empty_query(" ;\n; "));
        assert!(!is_empty_query("';'"));
        assert!(!is_empty_query("SELECT 1"));
    }

    #[test]
    fn session_status_maps_to_ready_for_query_byte() {
        assert_eq!(wire_status(TransactionStatus::Idle) as u8, b'I');
        assert_eq!(wire_status(TransactionStatus::InBlock) as u8, b'T');
        assert_eq!(wire_status(TransactionStatus::Failed) as u8, b'E');
    }

    #[test]
    fn only_strings_without_an_inner_semicolon_count_as_one_statement() {
        assert!(is_one_statement("SELECT 1"));
        assert!(is_one_statement("SELECT 1;  \n"));
        assert!(is_one_statement("END;;"));
        assert!(!is_one_statement("BEGIN; SELECT 1"));
        assert!(!is_one_statement("SELECT ';'"));
    }
}
