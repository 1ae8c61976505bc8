//! Connection startup: protocol negotiation, authentication (auth.rs),
//! startup parameters, ParameterStatus and BackendKeyData.
//!
//! ```text
//!  client                         server
//!  SSLRequest          ───────▶   'N' (no TLS configured; pgwire answers)
//!  StartupMessage      ───────▶   look up the role; trust, or SCRAM / md5 (auth.rs)
//!   user, database,               role without LOGIN → FATAL 28000
//!   options, params…              open Session, apply startup parameters
//!                      ◀───────   AuthenticationOk
//!                      ◀───────   ParameterStatus × reported parameters
//!                      ◀───────   BackendKeyData (pid, random secret)
//!                      ◀───────   ReadyForQuery 'I'
//! ```
//!
//! Owns: deciding who may connect and what the session starts with.
//! Never: runs SQL; parameters go through `Session::set_parameter`.

use std::fmt::Debug;
use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    StartupHandler, protocol_negotiation, save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, PgWireConnectionState, PidSecretKeyGenerator};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult, SEVERITY_WARNING};
use pgwire::messages::response::{NoticeResponse, ReadyForQuery};
use pgwire::messages::startup::{Authentication, BackendKeyData, ParameterStatus};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use bytes::Bytes;
use parking_lot::Mutex;
use pgwire::messages::startup::PasswordMessageFamily;

use crate::catalog::role::{self, RoleDef};
use crate::error::{Error, SqlState};

use super::Backend;
use super::auth::{self, Check, Stage};
use super::session::ConnState;
use super::wire;

/// Startup parameters that are not session settings.
const NOT_SETTINGS: [&str; 4] = ["user", "database", "options", "replication"];

/// Parameters every PostgreSQL 15 server reports at startup, with the value
/// sent when the session does not report the parameter itself. The
/// session's own values always win; this only keeps drivers (which read
/// `server_version`, `integer_datetimes`, … unconditionally) working.
fn default_reported_parameters(user: &str, application_name: &str) -> Vec<(String, String)> {
    [
        ("application_name", application_name),
        ("client_encoding", "UTF8"),
        ("DateStyle", "ISO, MDY"),
        ("default_transaction_read_only", "off"),
        ("in_hot_standby", "off"),
        ("integer_datetimes", "on"),
        ("IntervalStyle", "postgres"),
        ("server_encoding", "UTF8"),
        ("server_version", super::SERVER_VERSION),
        ("session_authorization", user),
        ("standard_conforming_strings", "on"),
        ("TimeZone", "Etc/UTC"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Whether the default method trusts a connection from `ip` (a loopback peer,
/// IPv4-mapped IPv6 loopback included); other peers must authenticate.
pub fn is_trusted_peer(ip: IpAddr) -> bool {
    auth::is_loopback(ip)
}

/// Splits the `options` startup parameter (`-c name=value`, `-cname=value`,
/// `--name=value`, backslash escapes a space) into settings.
pub fn parse_options(options: &str) -> Result<Vec<(String, String)>, Error> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let bad = |w: &str| {
        Error::new(
            SqlState::PROTOCOL_VIOLATION,
            format!("invalid command-line argument for server process: {w}"),
        )
        .with_hint("Only -c name=value and --name=value options are supported.")
    };
    let mut settings = Vec::new();
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next().ok_or_else(|| bad(&w))?
        } else if let Some(rest) = w.strip_prefix("--") {
            rest.to_owned()
        } else if let Some(rest) = w.strip_prefix("-c") {
            rest.to_owned()
        } else {
            return Err(bad(&w));
        };
        let (name, value) = setting.split_once('=').ok_or_else(|| bad(&setting))?;
        // PostgreSQL accepts '-' for '_' in names given this way.
        settings.push((name.replace('-', "_"), value.to_owned()));
    }
    Ok(settings)
}

fn fatal(sqlstate: SqlState, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(wire::fatal_info(sqlstate, message)))
}

fn fatal_from(e: &Error) -> PgWireError {
    let mut info = wire::error_info(e);
    info.severity = pgwire::error::SEVERITY_FATAL.to_owned();
    info.severity_nonlocalized = Some(pgwire::error::SEVERITY_FATAL.to_owned());
    PgWireError::UserError(Box::new(info))
}

/// What the client asked for at startup, kept until authentication is done.
struct StartupInfo {
    peer: SocketAddr,
    user: String,
    database: String,
    application_name: String,
    settings: Vec<(String, String)>,
}

/// A connection between StartupMessage and the end of authentication.
struct Authenticating {
    info: StartupInfo,
    role: Option<RoleDef>,
    stage: Mutex<Option<Stage>>,
}

fn password_failed(user: &str) -> PgWireError {
    fatal(
        SqlState::INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\""),
    )
}

fn malformed_scram(detail: impl Into<String>) -> PgWireError {
    let mut info = wire::fatal_info(SqlState::PROTOCOL_VIOLATION, "malformed SCRAM message");
    info.detail = Some(detail.into());
    PgWireError::UserError(Box::new(info))
}

#[async_trait]
impl StartupHandler for Backend {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(startup) => self.begin_startup(client, startup).await,
            PgWireFrontendMessage::PasswordMessageFamily(m) => {
                self.continue_authentication(client, m).await
            }
            _ if matches!(
                client.state(),
                PgWireConnectionState::AuthenticationInProgress
            ) =>
            {
                // Nothing but password messages before authentication ends.
                Err(fatal(
                    SqlState::PROTOCOL_VIOLATION,
                    "expected password response, got another message",
                ))
            }
            // A second SSLRequest and the like before startup: nothing to do.
            _ => Ok(()),
        }
    }
}

impl Backend {
    async fn begin_startup<C>(
        &self,
        client: &mut C,
        startup: pgwire::messages::startup::Startup,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        protocol_negotiation(client, &startup).await?;
        save_startup_parameters_to_metadata(client, &startup);
        let peer: SocketAddr = client.socket_addr();
        let meta = client.metadata();
        let user = meta.get("user").cloned().unwrap_or_default();
        let database = meta
            .get("database")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let application_name = meta.get("application_name").cloned().unwrap_or_default();

        if user.is_empty() {
            return Err(fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                "no PostgreSQL user name specified in startup packet",
            ));
        }

        let mut settings: Vec<(String, String)> = startup
            .parameters
            .iter()
            .filter(|(k, _)| !NOT_SETTINGS.contains(&k.as_str()) && !k.starts_with("_pq_."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(options) = startup.parameters.get("options") {
            settings.extend(parse_options(options).map_err(|e| fatal_from(&e))?);
        }
        let info = StartupInfo {
            peer,
            user,
            database,
            application_name,
            settings,
        };

        // The role is read in a transaction of its own, on a blocking thread.
        let stack = self.db.stack().clone();
        let name = info.user.clone();
        let role = tokio::task::spawn_blocking(move || role::lookup_role(&stack, &name))
            .await
            .map_err(|e| {
                fatal(
                    SqlState::INTERNAL_ERROR,
                    format!("could not look up role: {e}"),
                )
            })?
            .map_err(|e| fatal_from(&e))?;

        let check = self.auth.check_for(peer.ip());
        match check {
            Check::Trust => {
                let Some(role) = role else {
                    tracing::info!(%peer, user = %info.user, "connection rejected: no such role");
                    return Err(fatal(
                        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                        format!("role \"{}\" does not exist", info.user),
                    ));
                };
                self.finish_startup(client, info, role).await
            }
            Check::Md5OrScram if auth::md5_hash(role.as_ref()).is_some() => {
                let stored = auth::md5_hash(role.as_ref()).unwrap_or_default().to_owned();
                let mut salt = [0u8; 4];
                role::random_bytes(&mut salt).map_err(|e| fatal_from(&e))?;
                let expected = auth::md5_response(&stored, &salt);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.session_extensions().insert(Authenticating {
                    info,
                    role,
                    stage: Mutex::new(Some(Stage::Md5 { expected })),
                });
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::MD5Password(salt.to_vec()),
                    ))
                    .await?;
                Ok(())
            }
            Check::Scram | Check::Md5OrScram => {
                let target = auth::scram_target(&self.mock_key, &info.user, role.as_ref());
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.session_extensions().insert(Authenticating {
                    info,
                    role,
                    stage: Mutex::new(Some(Stage::ScramFirst(target))),
                });
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec![auth::SCRAM_SHA_256.to_owned()],
                    )))
                    .await?;
                Ok(())
            }
        }
    }

    async fn continue_authentication<C>(
        &self,
        client: &mut C,
        message: PasswordMessageFamily,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let pending = client.session_extensions().get::<Authenticating>();
        let stage = pending.as_ref().and_then(|p| p.stage.lock().take());
        let (Some(pending), Some(stage)) = (pending, stage) else {
            return Err(fatal(
                SqlState::PROTOCOL_VIOLATION,
                "unexpected password message",
            ));
        };
        let user = pending.info.user.clone();
        let peer = pending.info.peer;
        match stage {
            Stage::ScramFirst(target) => {
                let first = message
                    .into_sasl_initial_response()
                    .map_err(|_| fatal(SqlState::PROTOCOL_VIOLATION, "expected SASL response"))?;
                if first.auth_method != auth::SCRAM_SHA_256 {
                    return Err(fatal(
                        SqlState::PROTOCOL_VIOLATION,
                        "client selected an invalid SASL authentication mechanism",
                    ));
                }
                let data = first
                    .data
                    .ok_or_else(|| malformed_scram("The message is empty."))?;
                let (server_first, waiting) = auth::scram_server()
                    .on_client_first_message_with_secret(&data, target.secret)
                    .map_err(|e| malformed_scram(e.to_string()))?;
                *pending.stage.lock() = Some(Stage::ScramFinal {
                    waiting: Box::new(waiting),
                    genuine: target.genuine,
                    failure_detail: target.failure_detail,
                });
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::SASLContinue(Bytes::from(server_first)),
                    ))
                    .await?;
                Ok(())
            }
            Stage::ScramFinal {
                waiting,
                genuine,
                failure_detail,
            } => {
                let last = message
                    .into_sasl_response()
                    .map_err(|_| fatal(SqlState::PROTOCOL_VIOLATION, "expected SASL response"))?;
                match waiting.on_client_final_message(&last.data) {
                    Ok(server_final) if genuine => {
                        client
                            .feed(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(Bytes::from(server_final)),
                            ))
                            .await?;
                        self.authenticated(client, pending).await
                    }
                    Ok(_) | Err(PgWireError::InvalidPassword(_)) => {
                        let detail = failure_detail.unwrap_or_else(|| {
                            format!("Password does not match for user \"{user}\".")
                        });
                        tracing::info!(%peer, %user, "password authentication failed: {detail}");
                        Err(password_failed(&user))
                    }
                    Err(e) => Err(malformed_scram(e.to_string())),
                }
            }
            Stage::Md5 { expected } => {
                let password = message.into_password().map_err(|_| {
                    fatal(SqlState::PROTOCOL_VIOLATION, "expected password response")
                })?;
                if password.password == expected {
                    self.authenticated(client, pending).await
                } else {
                    tracing::info!(%peer, %user, "md5 authentication failed: password does not match");
                    Err(password_failed(&user))
                }
            }
        }
    }

    async fn authenticated<C>(
        &self,
        client: &mut C,
        pending: std::sync::Arc<Authenticating>,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(role) = pending.role.clone() else {
            // A mock exchange never succeeds; be safe if it somehow did.
            return Err(password_failed(&pending.info.user));
        };
        let info = StartupInfo {
            peer: pending.info.peer,
            user: pending.info.user.clone(),
            database: pending.info.database.clone(),
            application_name: pending.info.application_name.clone(),
            settings: pending.info.settings.clone(),
        };
        self.finish_startup(client, info, role).await
    }

    /// After authentication: refuses roles without LOGIN, opens the session,
    /// applies the startup settings and answers AuthenticationOk,
    /// ParameterStatus, BackendKeyData and ReadyForQuery.
    async fn finish_startup<C>(
        &self,
        client: &mut C,
        info: StartupInfo,
        role: RoleDef,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let StartupInfo {
            peer,
            user,
            database,
            application_name,
            settings,
        } = info;
        if !role.login {
            tracing::info!(%peer, %user, "connection rejected: role may not log in");
            return Err(fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!("role \"{user}\" is not permitted to log in"),
            ));
        }

        // Open the session and apply the settings on a blocking thread: the
        // engine is synchronous and may touch storage.
        let db = self.db.clone();
        let session_user = user.clone();
        let (client_addr, client_superuser) = (peer, role.superuser);
        let opened = tokio::task::spawn_blocking(move || {
            let mut session = db.session();
            // The session runs as the user who connected. A session that
            // cannot take the setting keeps its default; the client never
            // asked for it, so it hears nothing about it.
            let _ = session.set_parameter("session_authorization", &session_user);
            let mut ignored = Vec::new();
            for (name, value) in &settings {
                match session.set_parameter(name, value) {
                    Ok(()) => {}
                    // A value PostgreSQL takes but arbordb does not support
                    // yet (client_encoding SQL_ASCII): carry on without it,
                    // and say so. Anything else (unknown parameter, bad
                    // value) is FATAL, as in PostgreSQL.
                    Err(e) if e.sqlstate == SqlState::FEATURE_NOT_SUPPORTED => {
                        ignored.push((name.clone(), e));
                    }
                    Err(e) => return Err(e),
                }
            }
            session.set_client(Some(client_addr), client_superuser);
            let reported = session.reported_parameters();
            let _ = session.take_changed_parameters();
            let status = session.transaction_status();
            Ok((session, reported, status, ignored))
        })
        .await
        .map_err(|e| {
            fatal(
                SqlState::INTERNAL_ERROR,
                format!("could not start session: {e}"),
            )
        })?;
        let (session, reported, status, ignored) = opened.map_err(|e| fatal_from(&e))?;

        for (name, e) in &ignored {
            tracing::info!(%peer, parameter = %name, error = %e, "startup parameter ignored");
        }

        let mut parameters = reported;
        for (name, value) in default_reported_parameters(&user, &application_name) {
            if !parameters
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                parameters.push((name, value));
            }
        }

        // What the role is, not the session's default (SHOW is_superuser
        // does not follow yet; docs/compatibility.md).
        let superuser = if role.superuser { "on" } else { "off" };
        parameters.retain(|(n, _)| !n.eq_ignore_ascii_case("is_superuser"));
        parameters.push(("is_superuser".to_owned(), superuser.to_owned()));

        // The pid is the session's own (pg_backend_pid, pg_stat_activity);
        // only the secret key comes from the generator.
        let (_, secret_key) = self.keys.generate(client);
        let pid = session.pid();
        client.set_pid_and_secret_key(pid, secret_key.clone());
        self.register_cancel_key(pid, secret_key.clone(), session.signals());
        client
            .session_extensions()
            .insert(ConnState::new(peer, session, status));

        client
            .feed(PgWireBackendMessage::Authentication(Authentication::Ok))
            .await?;
        for (name, value) in parameters {
            client
                .feed(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name, value,
                )))
                .await?;
        }
        client
            .feed(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
                pid, secret_key,
            )))
            .await?;
        for (_, e) in ignored {
            let mut info = ErrorInfo::new(
                SEVERITY_WARNING.to_owned(),
                e.sqlstate.code().to_owned(),
                e.message,
            );
            info.severity_nonlocalized = Some(SEVERITY_WARNING.to_owned());
            client
                .feed(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                    info,
                )))
                .await?;
        }
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                super::query::wire_status(status),
            )))
            .await?;
        client.set_state(PgWireConnectionState::ReadyForQuery);
        tracing::info!(%peer, %user, %database, application_name = %application_name, pid, "connection authorized");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_are_trusted() {
        assert!(is_trusted_peer("127.0.0.1".parse().unwrap()));
        assert!(is_trusted_peer("127.8.9.10".parse().unwrap()));
        assert!(is_trusted_peer("::1".parse().unwrap()));
        assert!(is_trusted_peer("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_trusted_peer("10.0.0.1".parse().unwrap()));
        assert!(!is_trusted_peer("192.168.1.2".parse().unwrap()));
        assert!(!is_trusted_peer("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!is_trusted_peer("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn options_parameter_yields_settings() {
        assert_eq!(
            parse_options("-c DateStyle=ISO,\\ DMY --search-path=public -cwork_mem=4MB").unwrap(),
            vec![
                ("DateStyle".to_owned(), "ISO, DMY".to_owned()),
                ("search_path".to_owned(), "public".to_owned()),
                ("work_mem".to_owned(), "4MB".to_owned()),
            ]
        );
        assert_eq!(parse_options("  ").unwrap(), vec![]);
        assert!(parse_options("-x").is_err());
        assert!(parse_options("-c").is_err());
        assert!(parse_options("-c novalue").is_err());
    }

    #[test]
    fn defaults_cover_what_postgres_reports() {
        let d = default_reported_parameters("alice", "psql");
        let get = |n: &str| d.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("server_encoding"), Some("UTF8"));
        assert_eq!(get("client_encoding"), Some("UTF8"));
        assert_eq!(get("DateStyle"), Some("ISO, MDY"));
        assert_eq!(get("integer_datetimes"), Some("on"));
        assert_eq!(get("standard_conforming_strings"), Some("on"));
        assert_eq!(get("session_authorization"), Some("alice"));
        assert!(get("server_version").unwrap().starts_with("15."));
    }
}
