//! Connection startup: protocol negotiation, trust authentication on
//! loopback, startup parameters, ParameterStatus and BackendKeyData.
//!
//! ```text
//!  client                         server
//!  SSLRequest          ───────▶   'N' (no TLS configured; pgwire answers)
//!  StartupMessage      ───────▶   peer loopback? else FATAL 28000
//!   user, database,               open Session, apply startup parameters
//!   options, params…              AuthenticationOk
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

use crate::error::{Error, SqlState};

use super::Backend;
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
        ("is_superuser", "on"),
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

/// Whether trust authentication accepts a connection from `ip`: only
/// loopback peers (IPv4-mapped IPv6 loopback included) for now.
pub fn is_trusted_peer(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
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
        let PgWireFrontendMessage::Startup(startup) = message else {
            // Trust needs no password exchange; anything else here is noise.
            return Ok(());
        };
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

        if !is_trusted_peer(peer.ip()) {
            tracing::warn!(%peer, %user, %database, "connection rejected: not a loopback peer");
            return Err(fatal(
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
                format!(
                    "no trust entry for host \"{}\", user \"{user}\", database \"{database}\": \
                     arbordb only supports trust authentication from loopback addresses so far",
                    peer.ip()
                ),
            ));
        }
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

        // Open the session and apply the settings on a blocking thread: the
        // engine is synchronous and may touch storage.
        let db = self.db.clone();
        let session_user = user.clone();
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

        let (pid, secret_key) = self.keys.generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
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
