//! The PostgreSQL-wire server: pgwire handlers over [`crate::Session`].
//!
//! Owns: listening, startup and authentication, the simple and extended query
//! protocols, ParameterStatus / ReadyForQuery / ErrorResponse, shutdown.
//! Never: executes SQL itself; every statement goes through the embedded API
//! on its connection's own thread, and no lock is held across an `.await`.
//!
//! ```text
//!  serve(db, listener, shutdown)
//!    ├─ accept loop ──thread──▶ connection::run       (one thread per client)
//!    │                           ├─ startup.rs        role lookup, parameters
//!    │                           │   └─ auth.rs       trust / SCRAM-SHA-256 / md5
//!    │                           └─ query.rs          simple + extended protocol
//!    │                                 └─ session.rs  Session on spawn_blocking
//!    │                                 └─ wire.rs     RowDescription, DataRow, errors
//!    │                                       ├─ text.rs    format 0
//!    │                                       └─ binary.rs  format 1
//!    └─ shutdown: stop accepting; idle clients get FATAL 57P01; running
//!       statements finish and answer; after SHUTDOWN_GRACE_MS the rest
//!       are cut off.
//! ```
//!
//! Invariants:
//! - One thread per connection, with a single-threaded runtime of its own
//!   ([`spawn_connection`]), as DESIGN.md allows ("a worker thread per
//!   session"): the thread that reads a message runs its statement and
//!   writes the answer. The listener's runtime only accepts.
//! - One [`Session`](crate::Session) per connection, behind a mutex held
//!   only while one of its statements runs.
//! - A failing statement never ends its connection; a panicking one is
//!   reported as XX000 and never ends the server.
//! - ReadyForQuery carries `Session::transaction_status()`.
//!
//! Open problems:
//! - Extended-protocol messages between two Syncs are not one implicit
//!   transaction yet (each Execute is its own): `Session` has no "Sync"
//!   entry point. Likewise an error in Bind (bad parameter) inside a
//!   transaction block does not mark the block failed.
//! - TLS is optional (tls.rs); SCRAM-SHA-256-PLUS (channel binding) and
//!   COPY are not offered.
//! - Binary format covers bool, int2/4/8, float4/8, numeric, text types and
//!   bytea; date/time/uuid follow when `Value` has them.

mod auth;
mod binary;
mod connection;
mod copy;
mod frame;
mod query;
mod session;
mod startup;
mod text;
mod tls;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use pgwire::api::RandomPidSecretKeyGenerator;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::db::Database;
use crate::error::{Error, Result};
use crate::sql::signals::SessionSignals;

pub use auth::{AuthMethod, is_loopback};
pub use startup::is_trusted_peer;
pub use tls::Tls;

/// The `server_version` reported to clients: PostgreSQL 15 compatible
/// (drivers parse the leading number).
pub const SERVER_VERSION: &str = concat!("15.0 (arbordb ", env!("CARGO_PKG_VERSION"), ")");

/// How long running statements may take to finish after shutdown starts.
pub const SHUTDOWN_GRACE_MS: u64 = 5_000;

/// Connections served at once by default (PostgreSQL's max_connections).
pub const MAX_CONNECTIONS_DEFAULT: usize = 100;

/// SQLSTATE 53300: too many connections.
const TOO_MANY_CONNECTIONS: crate::error::SqlState = crate::error::SqlState("53300");

/// The name of the superuser created on a database's first start when none
/// is given (PostgreSQL's conventional one).
pub const DEFAULT_SUPERUSER: &str = "postgres";

/// The role created when a database has none yet.
#[derive(Clone, PartialEq, Eq)]
pub struct InitialSuperuser {
    pub name: String,
    /// Without one, the superuser can connect only where trust applies.
    pub password: Option<String>,
    /// More superusers created with it (same password): the server started
    /// without a name creates the OS user's role and `postgres`.
    pub also: Vec<String>,
}

impl std::fmt::Debug for InitialSuperuser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialSuperuser")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("also", &self.also)
            .finish()
    }
}

impl Default for InitialSuperuser {
    fn default() -> InitialSuperuser {
        InitialSuperuser {
            name: DEFAULT_SUPERUSER.to_owned(),
            password: None,
            also: Vec::new(),
        }
    }
}

/// Limits and policies of one server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Clients served at once; one more gets FATAL 53300 and is closed.
    pub max_connections: usize,
    /// How long running statements may take to finish after shutdown starts.
    pub shutdown_grace_ms: u64,
    /// How clients authenticate.
    pub auth: AuthMethod,
    /// Created before serving if the database has no role yet; `None`
    /// creates nothing.
    pub initial_superuser: Option<InitialSuperuser>,
    /// TLS for clients that ask (SSLRequest); `None` answers 'N'.
    pub tls: Option<Tls>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_connections: MAX_CONNECTIONS_DEFAULT,
            shutdown_grace_ms: SHUTDOWN_GRACE_MS,
            auth: AuthMethod::default(),
            initial_superuser: Some(InitialSuperuser::default()),
            tls: None,
        }
    }
}

/// What every connection shares: the database, the key generator, the
/// authentication policy and the cancel keys.
pub(crate) struct Backend {
    db: Database,
    keys: RandomPidSecretKeyGenerator,
    auth: AuthMethod,
    /// Derives mock SCRAM salts for names without a verifier (auth.rs).
    mock_key: [u8; 32],
    tls: Option<Tls>,
    /// BackendKeyData of every connection past startup: pid -> secret key
    /// and the session signals a CancelRequest with that key fires. Weak:
    /// a closed connection's entry dies with its session, however the
    /// connection ended, and is pruned at the next registration.
    cancel_keys: parking_lot::Mutex<HashMap<i32, (SecretKey, Weak<SessionSignals>)>>,
}

impl Backend {
    /// Remembers a connection's key so a CancelRequest can find it.
    pub(crate) fn register_cancel_key(
        &self,
        pid: i32,
        key: SecretKey,
        signals: Arc<SessionSignals>,
    ) {
        let mut keys = self.cancel_keys.lock();
        keys.retain(|_, (_, s)| s.strong_count() > 0);
        keys.insert(pid, (key, Arc::downgrade(&signals)));
    }
}

#[async_trait::async_trait]
impl CancelHandler for Backend {
    /// Cancels the statement running on the connection with that pid, if
    /// the key matches; answers nothing either way (as PostgreSQL).
    async fn on_cancel_request(&self, request: CancelRequest) {
        let target = {
            let keys = self.cancel_keys.lock();
            keys.get(&request.pid)
                .filter(|(key, _)| key.eq_value(&request.secret_key))
                .and_then(|(_, signals)| signals.upgrade())
        };
        match target {
            Some(signals) => {
                tracing::info!(pid = request.pid, "cancel request");
                signals.cancel();
            }
            None => tracing::info!(
                pid = request.pid,
                "cancel request with a wrong key or pid ignored"
            ),
        }
    }
}

/// Serves `db` on `listener` until `shutdown` resolves, then stops
/// accepting, closes idle connections with FATAL 57P01, lets running
/// statements finish for up to [`SHUTDOWN_GRACE_MS`], and returns.
pub async fn serve(
    db: Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    serve_with(db, listener, shutdown, ServerConfig::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    db: Database,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    config: ServerConfig,
) -> Result<()> {
    if let Some(superuser) = config.initial_superuser.clone() {
        let db = db.clone();
        tokio::task::spawn_blocking(move || create_initial_superuser(&db, &superuser))
            .await
            .map_err(|e| {
                Error::internal(format!("could not create the initial superuser: {e}"))
            })??;
    }
    let mut mock_key = [0u8; 32];
    crate::catalog::role::random_bytes(&mut mock_key)?;
    let backend = Arc::new(Backend {
        db,
        keys: RandomPidSecretKeyGenerator::default(),
        auth: config.auth,
        mock_key,
        tls: config.tls.clone(),
        cancel_keys: parking_lot::Mutex::new(HashMap::new()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let (abort_tx, abort_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    if connections.len() >= config.max_connections {
                        tracing::warn!(%peer, max_connections = config.max_connections,
                            "connection refused: too many clients");
                        tokio::spawn(refuse(tcp));
                    } else {
                        match spawn_connection(backend.clone(), tcp, stop_rx.clone(), abort_rx.clone()) {
                            Ok(done) => {
                                connections.spawn(done);
                            }
                            Err(e) => {
                                tracing::warn!(%peer, error = %e, "connection dropped: could not start its thread");
                            }
                        }
                    }
                }
                Err(e) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = connections.join_next(), if !connections.is_empty() => {
                log_connection_end(done);
            }
        }
    }
    drop(listener);
    tracing::info!(
        connections = connections.len(),
        "shutting down: no new connections"
    );
    // Receivers may all be gone already; nothing to tell then.
    let _ = stop_tx.send(true);
    let grace = tokio::time::sleep(Duration::from_millis(config.shutdown_grace_ms));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            done = connections.join_next() => match done {
                Some(done) => log_connection_end(done),
                None => break,
            },
            _ = &mut grace => {
                tracing::warn!(
                    connections = connections.len(),
                    "shutdown grace period over: closing connections still running statements"
                );
                // Running statements are canceled (their sessions end with
                // FATAL 57P01); what still runs after a moment is left to
                // finish on its own thread.
                let _ = abort_tx.send(true);
                for (_, signals) in backend.cancel_keys.lock().values() {
                    if let Some(signals) = signals.upgrade() {
                        signals.terminate();
                    }
                }
                let cut = tokio::time::sleep(Duration::from_millis(ABORT_WAIT_MS));
                tokio::pin!(cut);
                loop {
                    tokio::select! {
                        done = connections.join_next() => match done {
                            Some(done) => log_connection_end(done),
                            None => break,
                        },
                        _ = &mut cut => break,
                    }
                }
                connections.abort_all();
                break;
            }
        }
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Creates `superuser` if `db` has no role yet (its first start).
fn create_initial_superuser(db: &Database, superuser: &InitialSuperuser) -> Result<()> {
    let mut names = vec![superuser.name.as_str()];
    names.extend(superuser.also.iter().map(String::as_str));
    let created = crate::catalog::role::bootstrap_superusers(
        db.stack(),
        &names,
        superuser.password.as_deref(),
    )?;
    if created {
        tracing::info!(superuser = %superuser.name, "created the initial superuser");
    }
    Ok(())
}

/// Tells a client over the limit why it is turned away, then closes.
async fn refuse(mut tcp: tokio::net::TcpStream) {
    use bytes::BytesMut;
    use tokio::io::AsyncWriteExt;
    let info = wire::fatal_info(TOO_MANY_CONNECTIONS, "sorry, too many clients already");
    let message = pgwire::messages::PgWireBackendMessage::ErrorResponse(info.into());
    let mut buf = BytesMut::new();
    if message.encode(&mut buf).is_ok() {
        // The client may be gone already; nothing more to do then.
        let _ = tcp.write_all(&buf).await;
    }
    let _ = tcp.shutdown().await;
    // Drain what the client sent (its startup packet) for a moment, so that
    // closing with unread bytes does not reset the connection before the
    // client has read the error.
    let mut sink = [0u8; 1024];
    let drain = async {
        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut tcp, &mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(REFUSE_DRAIN_MS), drain).await;
}

/// How long a refused connection's input is drained before closing.
const REFUSE_DRAIN_MS: u64 = 1_000;

/// How long connections cut off at the end of the shutdown grace period
/// get to notice before the server stops waiting for them.
const ABORT_WAIT_MS: u64 = 1_000;

/// How a connection's thread ended: normally, or with a panic's payload.
type ConnectionEnd = std::result::Result<(), Box<dyn std::any::Any + Send>>;

/// Serves one client on a thread of its own, with its own single-threaded
/// runtime, as PostgreSQL serves each client in a process of its own: the
/// thread that reads a message runs its statement and writes the answer,
/// with no hop to another thread between them (a statement's waits, for a
/// lock or a commit's flush, block only its own client). The returned
/// future resolves when the thread ends. `abort` cuts the connection off at
/// its next wait.
fn spawn_connection(
    backend: Arc<Backend>,
    tcp: tokio::net::TcpStream,
    stop: watch::Receiver<bool>,
    mut abort: watch::Receiver<bool>,
) -> std::io::Result<impl Future<Output = ConnectionEnd> + Send + 'static> {
    let tcp = tcp.into_std()?;
    let (done_tx, done_rx) = oneshot::channel::<ConnectionEnd>();
    std::thread::Builder::new()
        .name("arbordb-conn".into())
        .stack_size(crate::sql::stack_depth::STATEMENT_STACK_BYTES)
        .spawn(move || {
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // Its blocking threads run multi-statement simple queries.
                    .thread_stack_size(crate::sql::stack_depth::STATEMENT_STACK_BYTES)
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::warn!(error = %e, "connection dropped: could not start its runtime");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let tcp = match tokio::net::TcpStream::from_std(tcp) {
                        Ok(tcp) => tcp,
                        Err(e) => {
                            tracing::warn!(error = %e, "connection dropped: could not register its socket");
                            return;
                        }
                    };
                    tokio::select! {
                        () = connection::run(backend, tcp, stop) => {}
                        // An error means the server is gone: stop as well.
                        _ = abort.wait_for(|a| *a) => {}
                    }
                });
            }));
            // The server may have stopped waiting; nothing to tell then.
            let _ = done_tx.send(served);
        })?;
    Ok(async move {
        match done_rx.await {
            Ok(end) => end,
            Err(_) => Ok(()),
        }
    })
}

fn log_connection_end(done: std::result::Result<ConnectionEnd, tokio::task::JoinError>) {
    let panic = match done {
        Ok(Err(panic)) => panic,
        Err(e) if e.is_panic() => e.into_panic(),
        _ => return,
    };
    let message = session::panic_message(panic.as_ref());
    tracing::error!("connection thread panicked: {message}");
}

/// A server on its own thread and tokio runtime, listening on
/// `127.0.0.1:<free port>`, for tests and embedders. Dropping it shuts the
/// server down and waits for it.
pub struct BackgroundServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Starts serving `db` on a free loopback port.
    pub fn start(db: Database) -> Result<BackgroundServer> {
        BackgroundServer::start_with(db, ServerConfig::default())
    }

    /// [`BackgroundServer::start`] with explicit limits. The initial
    /// superuser exists when this returns.
    pub fn start_with(db: Database, config: ServerConfig) -> Result<BackgroundServer> {
        let mut config = config;
        if let Some(superuser) = config.initial_superuser.take() {
            create_initial_superuser(&db, &superuser)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("arbordb-server")
            .thread_stack_size(crate::sql::stack_depth::STATEMENT_STACK_BYTES)
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("arbordb-server".into())
            .spawn(move || {
                let grace_ms = config.shutdown_grace_ms;
                let served = runtime.block_on(serve_with(
                    db,
                    listener,
                    async move {
                        // A dropped sender also means stop.
                        let _ = stop_rx.await;
                    },
                    config,
                ));
                if let Err(e) = served {
                    tracing::error!(error = %e, "background server failed");
                }
                // Blocking statements cut off by the grace period must not
                // hold the caller's drop forever.
                runtime.shutdown_timeout(Duration::from_millis(grace_ms));
            })
            .map_err(|e| Error::internal(format!("could not start server thread: {e}")))?;
        Ok(BackgroundServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until it has stopped.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may have stopped on its own; nothing to tell then.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("background server thread panicked");
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
