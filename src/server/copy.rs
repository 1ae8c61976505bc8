//! COPY over the wire: `COPY … FROM STDIN` (CopyInResponse, then the
//! client's CopyData / CopyDone / CopyFail) and `COPY … TO STDOUT`
//! (CopyOutResponse, CopyData per line, CopyDone).
//!
//! ```text
//!  Query / Execute ─▶ Session ran COPY FROM STDIN ─▶ start_copy_in:
//!      CopyInResponse, connection state CopyInProgress
//!  CopyData* ─▶ buffered here; every FLUSH_BYTES ─▶ Session::copy_data
//!  CopyDone  ─▶ Session::copy_data(rest) + copy_done ─▶ CommandComplete "COPY n"
//!               (simple: ReadyForQuery; extended: the client's Sync answers)
//!  CopyFail  ─▶ Session::copy_fail ─▶ ErrorResponse 57014
//! ```
//!
//! Owns: the copy-in buffer and the deferred error of one connection.
//! Invariants: the session sees the data in order and whole (CopyData
//! boundaries need not be line boundaries: the SQL side cuts lines). An
//! error while storing is kept and reported at CopyDone, after which
//! PostgreSQL's clients expect it; later CopyData are dropped until then.

use std::fmt::Debug;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use parking_lot::Mutex;
use pgwire::api::copy::CopyHandler;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail, CopyInResponse, CopyOutResponse};
use pgwire::messages::response::CommandComplete;

use crate::db::StatementResult;
use crate::error::{Error, SqlState};

use super::Backend;
use super::query::{conn_state, user_error, wire_status};
use super::session::ConnState;
use super::wire;

/// Buffered CopyData handed to the session at once (pgbench sends one
/// CopyData per row; a blocking-thread hop per row would dominate).
const FLUSH_BYTES: usize = 256 * 1024;

/// The copy-in of one connection.
#[derive(Default)]
pub(crate) struct CopyInState {
    inner: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    buffer: Vec<u8>,
    error: Option<Error>,
    extended: bool,
}

/// Whether a statement result is COPY TO STDOUT's data (see
/// [`StatementResult`]).
pub(crate) fn is_copy_out(result: &StatementResult) -> bool {
    result.columns.is_empty() && result.tag.starts_with("COPY ")
}

/// Enters copy-in mode after a COPY FROM STDIN of `columns` columns.
pub(crate) async fn start_copy_in<C>(
    client: &mut C,
    columns: usize,
    extended: bool,
) -> PgWireResult<()>
where
    C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let state = client
        .session_extensions()
        .get_or_insert_with(CopyInState::default);
    *state.inner.lock() = Pending {
        buffer: Vec::new(),
        error: None,
        extended,
    };
    let n = i16::try_from(columns).unwrap_or(i16::MAX);
    client.set_state(PgWireConnectionState::CopyInProgress(extended));
    client
        .send(PgWireBackendMessage::CopyInResponse(CopyInResponse::new(
            0,
            n,
            vec![0; usize::try_from(n).unwrap_or(0)],
        )))
        .await?;
    Ok(())
}

/// Sends COPY TO STDOUT's data and its CommandComplete.
pub(crate) async fn send_copy_out<C>(client: &mut C, result: &StatementResult) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    // The column count is not carried by the result; clients read the
    // lines, not the count.
    client
        .feed(PgWireBackendMessage::CopyOutResponse(CopyOutResponse::new(
            0,
            0,
            Vec::new(),
        )))
        .await?;
    for row in &result.rows {
        if let Some(crate::types::Value::Text(line)) = row.first() {
            client
                .feed(PgWireBackendMessage::CopyData(CopyData::new(
                    line.clone().into_bytes().into(),
                )))
                .await?;
        }
    }
    client
        .feed(PgWireBackendMessage::CopyDone(CopyDone::new()))
        .await?;
    client
        .feed(PgWireBackendMessage::CommandComplete(CommandComplete::new(
            result.tag.clone(),
        )))
        .await?;
    Ok(())
}

fn copy_state<C: ClientInfo>(client: &C) -> std::sync::Arc<CopyInState> {
    client
        .session_extensions()
        .get_or_insert_with(CopyInState::default)
}

/// Hands `data` to the session; an error is kept for CopyDone.
async fn feed_session(conn: &ConnState, state: &CopyInState, data: Vec<u8>) {
    if data.is_empty() {
        return;
    }
    if let Err(e) = conn.run(move |s| s.copy_data(&data)).await {
        state.inner.lock().error.get_or_insert(e);
    }
}

#[async_trait]
impl CopyHandler for Backend {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let state = copy_state(client);
        let full = {
            let mut p = state.inner.lock();
            if p.error.is_some() {
                return Ok(());
            }
            p.buffer.extend_from_slice(&copy_data.data);
            (p.buffer.len() >= FLUSH_BYTES).then(|| std::mem::take(&mut p.buffer))
        };
        if let Some(data) = full {
            feed_session(&conn, &state, data).await;
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = conn_state(client)?;
        let state = copy_state(client);
        let (data, error, extended) = {
            let mut p = state.inner.lock();
            (std::mem::take(&mut p.buffer), p.error.take(), p.extended)
        };
        let outcome = match error {
            Some(e) => Err(e),
            None => {
                conn.run(move |s| {
                    if !data.is_empty() {
                        s.copy_data(&data)?;
                    }
                    s.copy_done()
                })
                .await
            }
        };
        client.set_transaction_status(wire_status(conn.status()));
        match outcome {
            Ok(result) => {
                client
                    .send(PgWireBackendMessage::CommandComplete(CommandComplete::new(
                        result.tag,
                    )))
                    .await?;
                Ok(())
            }
            Err(e) if extended => {
                // The client's Sync answers with ReadyForQuery.
                super::query::log_error(conn.peer, e.sqlstate.code(), &e.message);
                client
                    .send(PgWireBackendMessage::ErrorResponse(
                        wire::error_info(&e).into(),
                    ))
                    .await?;
                Ok(())
            }
            Err(e) => Err(user_error(&e)),
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let state = copy_state(client);
        *state.inner.lock() = Pending::default();
        let Ok(conn) = conn_state(client) else {
            return user_error(&Error::new(
                SqlState::PROTOCOL_VIOLATION,
                "COPY before startup completed",
            ));
        };
        let message = fail.message;
        let e = match conn.run(move |s| Ok(s.copy_fail(&message))).await {
            Ok(e) | Err(e) => e,
        };
        client.set_transaction_status(wire_status(conn.status()));
        user_error(&e)
    }
}
