//! One client connection, from the first byte to the close.
//!
//! ```text
//!  accept ─▶ negotiate (SSLRequest → 'S' + TLS, or 'N') ─▶ loop {
//!              next message ───────────────▶ pgwire::process_message ─▶ handlers
//!              │ decode error                 │ Err: ErrorResponse; extended → skip to Sync
//!              │   → FATAL 08P01, close       │      FATAL → close
//!              │ Terminate / EOF → close
//!              │ server stopping and no message waiting
//!              │   → FATAL 57P01, close
//!            }
//! ```
//!
//! Owns: the message loop (a copy of pgwire's `process_socket`, plus the
//! shutdown check and our error reporting), the startup timeout.
//! Never: interrupts a message being processed; a statement that started
//! runs to completion and its answer is sent before shutdown closes the
//! connection.

use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use bytes::BytesMut;
use futures::SinkExt;
use pgwire::api::{ClientInfo, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::{NotificationResponse, ReadyForQuery};
use pgwire::messages::{DecodeContext, PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{MaybeTls, PgWireMessageServerCodec, negotiate_tls, process_message};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;

use crate::db::TransactionStatus;
use crate::error::SqlState;
use crate::sql::signals::SessionSignals;

use super::Backend;
use super::frame;
use super::query::{log_error, wire_status};
use super::session::{self, ConnState};
use super::wire;

/// How long a client may take from connecting to finishing startup
/// (PostgreSQL's authentication_timeout is one minute).
const STARTUP_TIMEOUT_MS: u64 = 60_000;

type Socket = Framed<MaybeTls, PgWireMessageServerCodec<String>>;

/// Resolves once the server has been told to stop.
async fn stopping(stop: &mut watch::Receiver<bool>) {
    // An error means the server is gone: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves one client until it leaves, errs fatally, or the server stops.
pub(crate) async fn run(backend: Arc<Backend>, tcp: TcpStream, mut stop: watch::Receiver<bool>) {
    let peer = tcp.peer_addr().ok();
    let startup_deadline = tokio::time::sleep(Duration::from_millis(STARTUP_TIMEOUT_MS));
    tokio::pin!(startup_deadline);

    let negotiated = tokio::select! {
        _ = &mut startup_deadline => return,
        _ = stopping(&mut stop) => return,
        socket = negotiate_tls::<String>(tcp, backend.tls.as_ref().map(|t| t.acceptor.clone())) => socket,
    };
    let mut socket = match negotiated {
        Ok(Some(socket)) => socket,
        // A direct-TLS handshake and we have no TLS: nothing to say.
        Ok(None) => return,
        Err(e) => {
            tracing::debug!(?peer, error = %e, "connection closed during negotiation");
            return;
        }
    };
    // Bytes are read here, not by the Framed's decoder: each message is cut
    // out and validated by frame.rs before pgwire decodes it. Whatever the
    // negotiation already read comes first.
    let mut inbox = socket.read_buffer_mut().split();

    loop {
        let startup_packet = matches!(socket.state(), PgWireConnectionState::AwaitingStartup);
        let frame = match frame::next_frame(&mut inbox, startup_packet) {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                let in_startup = startup_packet
                    || matches!(
                        socket.state(),
                        PgWireConnectionState::AuthenticationInProgress
                    );
                let signals = socket
                    .session_extensions()
                    .get::<ConnState>()
                    .map(|c| c.signals.clone());
                let read = tokio::select! {
                    // Bytes already sent are processed before a shutdown is noticed.
                    biased;
                    read = socket.get_mut().read_buf(&mut inbox) => read,
                    _ = woken(signals.as_deref()) => {
                        if !after_message(&mut socket).await {
                            return;
                        }
                        continue;
                    }
                    _ = &mut startup_deadline, if in_startup => {
                        tracing::info!(?peer, "closing connection: startup timed out");
                        return;
                    }
                    _ = stopping(&mut stop) => {
                        let info = wire::fatal_info(
                            SqlState::ADMIN_SHUTDOWN,
                            "terminating connection due to administrator command",
                        );
                        let _ = socket.send(PgWireBackendMessage::ErrorResponse(info.into())).await;
                        let _ = socket.close().await;
                        tracing::debug!(?peer, "connection closed by server shutdown");
                        return;
                    }
                };
                match read {
                    Ok(0) => {
                        if !inbox.is_empty() {
                            tracing::debug!(?peer, "client left in the middle of a message");
                        }
                        break;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!(?peer, error = %e, "connection read failed");
                        break;
                    }
                }
            }
            Err(reason) => {
                reject(&mut socket, peer, reason).await;
                break;
            }
        };
        let message = match decode(&socket, frame, startup_packet) {
            Ok(PgWireFrontendMessage::Terminate(_)) => break,
            Ok(message) => message,
            Err(reason) => {
                reject(&mut socket, peer, reason).await;
                break;
            }
        };
        let is_extended = message.is_extended_query();
        let is_cancel = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let processed = process_message(
            message,
            &mut socket,
            backend.clone(),
            backend.clone(),
            backend.clone(),
            backend.clone(),
            backend.clone(),
        )
        .await;
        if let Err(e) = processed {
            match report_error(&mut socket, e, is_extended).await {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
        if is_cancel {
            break;
        }
        if !after_message(&mut socket).await {
            return;
        }
    }
    if let Some(conn) = socket.session_extensions().get::<ConnState>() {
        tracing::debug!(peer = %conn.peer, "connection closed");
    }
}

/// Resolves when the session is signalled (a notification arrived or it
/// was terminated); never before startup made a session.
async fn woken(signals: Option<&SessionSignals>) {
    match signals {
        Some(s) => s.woken().await,
        None => std::future::pending().await,
    }
}

/// Between messages: a session ended by `pg_terminate_backend` is closed
/// with FATAL 57P01; an idle one (ready for a query, no transaction open)
/// gets the notifications delivered to it, as PostgreSQL sends them
/// between transactions. Returns whether the connection lives on.
async fn after_message(socket: &mut Socket) -> bool {
    let Some(conn) = socket.session_extensions().get::<ConnState>() else {
        return true;
    };
    if conn.signals.is_terminated() {
        let info = wire::fatal_info(
            SqlState::ADMIN_SHUTDOWN,
            "terminating connection due to administrator command",
        );
        let _ = socket
            .send(PgWireBackendMessage::ErrorResponse(info.into()))
            .await;
        let _ = socket.close().await;
        tracing::info!(peer = %conn.peer, "connection terminated by pg_terminate_backend");
        return false;
    }
    let idle = conn.status() == TransactionStatus::Idle
        && matches!(socket.state(), PgWireConnectionState::ReadyForQuery);
    if !idle {
        return true;
    }
    let notifications = conn.signals.take_notifications();
    if notifications.is_empty() {
        return true;
    }
    for n in notifications {
        let message = NotificationResponse::new(n.pid, n.channel, n.payload);
        if socket
            .feed(PgWireBackendMessage::NotificationResponse(message))
            .await
            .is_err()
        {
            return false;
        }
    }
    socket.flush().await.is_ok()
}

/// Decodes one validated frame with pgwire, in the connection's state.
fn decode(
    socket: &Socket,
    mut frame: BytesMut,
    startup_packet: bool,
) -> Result<PgWireFrontendMessage, String> {
    let mut ctx = DecodeContext::new(socket.protocol_version());
    ctx.awaiting_frontend_ssl = false;
    ctx.awaiting_frontend_startup = startup_packet;
    // frame.rs has checked every field, so the decoder cannot run past the
    // frame; should it still panic, that is this connection's end only.
    let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        PgWireFrontendMessage::decode(&mut frame, &ctx)
    }));
    match decoded {
        Ok(Ok(Some(message))) => Ok(message),
        Ok(Ok(None)) => Err("invalid message format: incomplete message".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!(
            "invalid message format: {}",
            session::panic_message(panic.as_ref())
        )),
    }
}

/// Answers a message that cannot be decoded with FATAL 08P01 and closes: the
/// stream cannot be trusted past it.
async fn reject(socket: &mut Socket, peer: Option<std::net::SocketAddr>, reason: String) {
    tracing::info!(?peer, "closing connection: {reason}");
    let info = wire::fatal_info(SqlState::PROTOCOL_VIOLATION, reason);
    let _ = socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await;
    let _ = socket.close().await;
}

/// Sends the ErrorResponse for a failed message. Extended-protocol errors
/// make the connection skip messages until Sync; simple-protocol ones are
/// followed by ReadyForQuery. Returns whether the connection lives on.
async fn report_error(
    socket: &mut Socket,
    error: PgWireError,
    is_extended: bool,
) -> Result<bool, PgWireError> {
    if let PgWireError::IoError(e) = &error {
        tracing::debug!(error = %e, "connection I/O error");
        return Ok(false);
    }
    let conn = socket.session_extensions().get::<ConnState>();
    let info: ErrorInfo = error.into();
    let fatal = info.is_fatal();
    let peer = conn
        .as_ref()
        .map(|c| c.peer)
        .unwrap_or_else(|| socket.socket_addr());
    log_error(peer, &info.code, &info.message);
    socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    if fatal {
        let _ = socket.close().await;
        return Ok(false);
    }
    if is_extended {
        socket.set_state(PgWireConnectionState::AwaitingSync);
    } else {
        let status = conn
            .as_ref()
            .map(|c| wire_status(c.status()))
            .unwrap_or_else(|| socket.transaction_status());
        socket.set_state(PgWireConnectionState::ReadyForQuery);
        socket
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
    }
    Ok(true)
}
