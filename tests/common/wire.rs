//! A server under test and clients of it over the wire (tokio-postgres):
//! an in-process [`BackgroundServer`] that asks for SCRAM passwords, and a
//! [`Conn`] whose connection task hands on what arrives between replies —
//! notices, notifications, and how the connection ended.

use arbordb::Database;
use arbordb::server::{AuthMethod, BackgroundServer, InitialSuperuser, ServerConfig};
use futures::StreamExt;
use tokio_postgres::error::DbError;
use tokio_postgres::{AsyncMessage, Client, NoTls, Notification};

/// The password of [`scram_server`]'s superuser `admin`.
pub const PASSWORD: &str = "pw-for-admin";

/// A server over a fresh database that asks every client for a SCRAM
/// password, with the superuser `admin` / [`PASSWORD`].
pub fn scram_server() -> BackgroundServer {
    BackgroundServer::start_with(
        Database::in_memory().unwrap(),
        ServerConfig {
            auth: AuthMethod::Scram,
            initial_superuser: Some(InitialSuperuser {
                name: "admin".into(),
                password: Some(PASSWORD.into()),
                also: Vec::new(),
            }),
            ..ServerConfig::default()
        },
    )
    .unwrap()
}

/// A connected client (its application_name is the role's name), the
/// notices and notifications sent to it, and a receiver that fires when
/// the connection ends: with the SQLSTATE (or the error text) that ended
/// it, `None` for a clean close.
pub struct Conn {
    pub client: Client,
    pub notices: tokio::sync::mpsc::UnboundedReceiver<DbError>,
    pub notifications: tokio::sync::mpsc::UnboundedReceiver<Notification>,
    pub closed: tokio::sync::oneshot::Receiver<Option<String>>,
}

/// Logs in to `srv` as `user` with `password`.
pub async fn try_connect(
    srv: &BackgroundServer,
    user: &str,
    password: &str,
) -> Result<Conn, tokio_postgres::Error> {
    let mut c = tokio_postgres::Config::new();
    c.host("127.0.0.1")
        .port(srv.addr().port())
        .user(user)
        .password(password)
        .dbname("arbordb")
        .application_name(user);
    let (client, mut connection) = c.connect(NoTls).await?;
    let (notice_tx, notices) = tokio::sync::mpsc::unbounded_channel();
    let (notify_tx, notifications) = tokio::sync::mpsc::unbounded_channel();
    let (closed_tx, closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        let mut end = None;
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notice(n)) => {
                    let _ = notice_tx.send(n);
                }
                Ok(AsyncMessage::Notification(n)) => {
                    let _ = notify_tx.send(n);
                }
                Ok(_) => {}
                Err(e) => {
                    end = Some(
                        e.as_db_error()
                            .map(|d| d.code().code().to_owned())
                            .unwrap_or_else(|| e.to_string()),
                    );
                    break;
                }
            }
        }
        let _ = closed_tx.send(end);
    });
    Ok(Conn {
        client,
        notices,
        notifications,
        closed,
    })
}

/// [`try_connect`], which must succeed.
pub async fn connect(srv: &BackgroundServer, user: &str, password: &str) -> Conn {
    match try_connect(srv, user, password).await {
        Ok(c) => c,
        Err(e) => panic!("{user} could not log in: {e}"),
    }
}

/// A server error's SQLSTATE and message.
pub fn code(e: &tokio_postgres::Error) -> (String, String) {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("expected a server error, got {e}"));
    (db.code().code().to_owned(), db.message().to_owned())
}
