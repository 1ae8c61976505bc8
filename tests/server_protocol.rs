//! The PostgreSQL wire protocol as clients see it: startup, ParameterStatus,
//! the simple and extended protocols, errors and their SQLSTATEs, and
//! robustness against malformed input. Each test starts its own
//! [`BackgroundServer`] over an in-memory database.
//!
//! Two kinds of client: tokio-postgres (a real driver, binary results) and a
//! raw protocol client over a `TcpStream` for the byte-level sequences a
//! driver hides (EmptyQueryResponse, SSLRequest, garbage).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use arbordb::Database;
use arbordb::server::BackgroundServer;

fn server() -> BackgroundServer {
    BackgroundServer::start(Database::in_memory().unwrap()).unwrap()
}

// ---------------------------------------------------------------- raw client

/// One backend message: its type byte and body.
type Msg = (u8, Vec<u8>);

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn frame(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = 196608i32.to_be_bytes().to_vec(); // protocol 3.0
    for (k, v) in params {
        body.extend(cstr(k));
        body.extend(cstr(v));
    }
    body.push(0);
    let mut m = (body.len() as i32 + 4).to_be_bytes().to_vec();
    m.extend(body);
    m
}

fn query(sql: &str) -> Vec<u8> {
    frame(b'Q', &cstr(sql))
}

fn parse(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut body = cstr(name);
    body.extend(cstr(sql));
    body.extend((oids.len() as i16).to_be_bytes());
    for o in oids {
        body.extend(o.to_be_bytes());
    }
    frame(b'P', &body)
}

fn bind(
    portal: &str,
    statement: &str,
    params: &[Option<&[u8]>],
    result_formats: &[i16],
) -> Vec<u8> {
    let mut body = cstr(portal);
    body.extend(cstr(statement));
    body.extend(0i16.to_be_bytes()); // all parameters in text
    body.extend((params.len() as i16).to_be_bytes());
    for p in params {
        match p {
            Some(b) => {
                body.extend((b.len() as i32).to_be_bytes());
                body.extend_from_slice(b);
            }
            None => body.extend((-1i32).to_be_bytes()),
        }
    }
    body.extend((result_formats.len() as i16).to_be_bytes());
    for f in result_formats {
        body.extend(f.to_be_bytes());
    }
    frame(b'B', &body)
}

fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut body = vec![kind];
    body.extend(cstr(name));
    frame(b'D', &body)
}

fn execute(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut body = cstr(portal);
    body.extend(max_rows.to_be_bytes());
    frame(b'E', &body)
}

fn sync() -> Vec<u8> {
    frame(b'S', &[])
}

/// The fields of an ErrorResponse / NoticeResponse body.
fn fields(body: &[u8]) -> HashMap<u8, String> {
    let mut out = HashMap::new();
    let mut rest = body;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            break;
        }
        let end = tail.iter().position(|b| *b == 0).unwrap();
        out.insert(code, String::from_utf8(tail[..end].to_vec()).unwrap());
        rest = &tail[end + 1..];
    }
    out
}

struct Raw {
    s: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw { s }
    }

    /// Connects and completes startup; returns the startup messages.
    fn login(addr: SocketAddr) -> (Raw, Vec<Msg>) {
        let mut raw = Raw::connect(addr);
        raw.send(&startup_message(&[
            ("user", "postgres"),
            ("database", "db"),
        ]));
        let msgs = raw.until_ready();
        assert_eq!(msgs[0].0, b'R', "first reply is Authentication");
        assert_eq!(msgs[0].1, 0i32.to_be_bytes(), "AuthenticationOk");
        (raw, msgs)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// The next message, or `None` at end of stream.
    fn read(&mut self) -> Option<Msg> {
        let mut head = [0u8; 5];
        match self.s.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read failed: {e}"),
        }
        let len = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut body = vec![0u8; len - 4];
        self.s.read_exact(&mut body).unwrap();
        Some((head[0], body))
    }

    /// Messages up to and including ReadyForQuery.
    fn until_ready(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        loop {
            let m = self.read().expect("connection closed before ReadyForQuery");
            let done = m.0 == b'Z';
            out.push(m);
            if done {
                return out;
            }
        }
    }

    /// Whether the server closed the connection (possibly after some messages).
    fn closed(&mut self) -> (Vec<Msg>, bool) {
        let mut out = Vec::new();
        loop {
            match self.read() {
                None => return (out, true),
                Some(m) => out.push(m),
            }
        }
    }
}

fn types(msgs: &[Msg]) -> Vec<u8> {
    msgs.iter().map(|m| m.0).collect()
}

fn error_code(msgs: &[Msg]) -> Option<String> {
    msgs.iter()
        .find(|m| m.0 == b'E')
        .and_then(|m| fields(&m.1).get(&b'C').cloned())
}

/// The server still answers a fresh client.
fn assert_serving(addr: SocketAddr) {
    let (mut raw, _) = Raw::login(addr);
    raw.send(&query(""));
    assert_eq!(types(&raw.until_ready()), b"IZ");
}

// ---------------------------------------------------------------- startup

#[tokio::test]
async fn startup_reports_postgres_15_parameters_to_a_driver() {
    let srv = server();
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname=shop application_name=probe",
            srv.addr().port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let param = |n: &str| connection.parameter(n).map(str::to_owned);
    let version = param("server_version").unwrap();
    assert!(version.starts_with("15."), "server_version {version}");
    assert_eq!(param("server_encoding").as_deref(), Some("UTF8"));
    assert_eq!(param("client_encoding").as_deref(), Some("UTF8"));
    assert_eq!(param("DateStyle").as_deref(), Some("ISO, MDY"));
    assert_eq!(param("integer_datetimes").as_deref(), Some("on"));
    assert_eq!(param("standard_conforming_strings").as_deref(), Some("on"));
    assert!(param("TimeZone").is_some());
    drop(connection);
    drop(client);
}

#[test]
fn ssl_request_is_refused_with_n_and_startup_continues() {
    let srv = server();
    let mut raw = Raw::connect(srv.addr());
    let mut ssl = 8i32.to_be_bytes().to_vec();
    ssl.extend(80877103i32.to_be_bytes());
    raw.send(&ssl);
    let mut answer = [0u8; 1];
    raw.s.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"N");
    raw.send(&startup_message(&[("user", "postgres")]));
    let msgs = raw.until_ready();
    assert_eq!(msgs.last().unwrap().1, b"I");
}

#[test]
fn startup_sends_parameter_status_then_backend_key_data_then_ready() {
    let srv = server();
    let (_a, msgs_a) = Raw::login(srv.addr());
    let (_b, msgs_b) = Raw::login(srv.addr());
    for msgs in [&msgs_a, &msgs_b] {
        let t = types(msgs);
        let k = t.iter().position(|b| *b == b'K').expect("BackendKeyData");
        assert!(
            t[1..k].iter().all(|b| *b == b'S'),
            "ParameterStatus before key: {t:?}"
        );
        assert_eq!(&t[k + 1..], b"Z");
        assert_eq!(msgs.last().unwrap().1, b"I", "idle after startup");
    }
    let key = |msgs: &[Msg]| msgs.iter().find(|m| m.0 == b'K').unwrap().1.clone();
    assert_ne!(
        key(&msgs_a),
        key(&msgs_b),
        "each connection has its own key"
    );
}

#[test]
fn startup_without_user_is_rejected_with_28000() {
    let srv = server();
    let mut raw = Raw::connect(srv.addr());
    raw.send(&startup_message(&[("database", "db")]));
    let (msgs, closed) = raw.closed();
    assert!(closed);
    assert_eq!(error_code(&msgs).as_deref(), Some("28000"));
    assert_eq!(
        fields(&msgs[0].1).get(&b'S').map(String::as_str),
        Some("FATAL")
    );
    assert_serving(srv.addr());
}

/// A connection from a non-loopback address must use SCRAM-SHA-256. Needs a
/// non-loopback address on this machine; the server listens on all of them.
#[test]
fn non_loopback_peer_must_authenticate_with_scram() {
    let Some(ip) = local_non_loopback_ip() else {
        eprintln!("no non-loopback address on this machine; checked by is_trusted_peer's tests");
        assert!(!arbordb::server::is_trusted_peer(
            "10.1.2.3".parse().unwrap()
        ));
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("0.0.0.0:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = rt.spawn(arbordb::server::serve(
        Database::in_memory().unwrap(),
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));
    let mut raw = Raw::connect(SocketAddr::new(ip, port));
    raw.send(&startup_message(&[("user", "postgres")]));
    // AuthenticationSASL (10) offering SCRAM-SHA-256, not AuthenticationOk.
    let (ty, body) = raw.read().unwrap();
    assert_eq!(ty, b'R');
    assert_eq!(body[..4], 10i32.to_be_bytes());
    assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
    // A query instead of the SASL response is refused and nothing runs.
    raw.send(&query("SELECT 1"));
    let (msgs, closed) = raw.closed();
    assert!(closed);
    assert_eq!(error_code(&msgs).as_deref(), Some("08P01"));
    assert!(!types(&msgs).contains(&b'T'), "no statement ran: {msgs:?}");
    // Loopback on the same listener is still trusted.
    assert_serving(SocketAddr::new("127.0.0.1".parse().unwrap(), port));
    stop_tx.send(()).unwrap();
    rt.block_on(served).unwrap().unwrap();
}

fn local_non_loopback_ip() -> Option<std::net::IpAddr> {
    // Connecting a UDP socket sends nothing; it only picks the source address.
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("10.255.255.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

// ---------------------------------------------------------------- simple protocol

#[test]
fn empty_query_gets_empty_query_response() {
    let srv = server();
    let (mut raw, _) = Raw::login(srv.addr());
    for q in ["", "  ", ";", " ; ;"] {
        raw.send(&query(q));
        let msgs = raw.until_ready();
        assert_eq!(types(&msgs), b"IZ", "for {q:?}");
        assert_eq!(msgs[1].1, b"I");
    }
}

// ---------------------------------------------------------------- extended protocol

#[test]
fn empty_prepared_statement_describes_as_no_data_and_executes_empty() {
    let srv = server();
    let (mut raw, _) = Raw::login(srv.addr());
    let mut batch = parse("e", "", &[]);
    batch.extend(describe(b'S', "e"));
    batch.extend(bind("p", "e", &[], &[]));
    batch.extend(describe(b'P', "p"));
    batch.extend(execute("p", 0));
    batch.extend(sync());
    raw.send(&batch);
    let msgs = raw.until_ready();
    // ParseComplete, ParameterDescription, NoData, BindComplete, NoData,
    // EmptyQueryResponse, ReadyForQuery.
    assert_eq!(types(&msgs), b"1tn2nIZ");
    assert_eq!(msgs[1].1, 0i16.to_be_bytes(), "no parameters");
}

#[test]
fn extended_errors_skip_to_sync_and_name_the_missing_object() {
    let srv = server();
    let (mut raw, _) = Raw::login(srv.addr());
    let mut batch = bind("", "nope", &[], &[]);
    batch.extend(execute("", 0));
    batch.extend(parse("", "", &[]));
    batch.extend(sync());
    raw.send(&batch);
    let msgs = raw.until_ready();
    // One error; Execute and Parse after it are skipped until Sync.
    assert_eq!(types(&msgs), b"EZ");
    let f = fields(&msgs[0].1);
    assert_eq!(f[&b'C'], "26000");
    assert_eq!(f[&b'M'], "prepared statement \"nope\" does not exist");
    assert_eq!(f[&b'S'], "ERROR");

    raw.send(&[describe(b'P', "ghost"), sync()].concat());
    let msgs = raw.until_ready();
    assert_eq!(types(&msgs), b"EZ");
    assert_eq!(fields(&msgs[0].1)[&b'C'], "34000");

    // The connection is fine afterwards.
    raw.send(&query(""));
    assert_eq!(types(&raw.until_ready()), b"IZ");
}

#[test]
fn named_statements_cannot_be_redefined_but_unnamed_can() {
    let srv = server();
    let (mut raw, _) = Raw::login(srv.addr());
    raw.send(
        &[
            parse("s1", "", &[]),
            parse("", "", &[]),
            parse("", "", &[]),
            sync(),
        ]
        .concat(),
    );
    assert_eq!(types(&raw.until_ready()), b"111Z");
    raw.send(&[parse("s1", "", &[]), sync()].concat());
    let msgs = raw.until_ready();
    assert_eq!(error_code(&msgs).as_deref(), Some("42P05"));
    // Close, then the name is free again; closing twice is no error.
    let close = |kind: u8, name: &str| {
        let mut body = vec![kind];
        body.extend(cstr(name));
        frame(b'C', &body)
    };
    raw.send(
        &[
            close(b'S', "s1"),
            close(b'S', "s1"),
            parse("s1", "", &[]),
            sync(),
        ]
        .concat(),
    );
    assert_eq!(types(&raw.until_ready()), b"331Z");
}

#[test]
fn bind_checks_parameter_count_and_format_codes() {
    let srv = server();
    let (mut raw, _) = Raw::login(srv.addr());
    raw.send(
        &[
            parse("e", "", &[]),
            bind("", "e", &[Some(b"1")], &[]),
            sync(),
        ]
        .concat(),
    );
    let msgs = raw.until_ready();
    assert_eq!(types(&msgs), b"1EZ");
    let f = fields(&msgs[1].1);
    assert_eq!(f[&b'C'], "08P01");
    assert_eq!(
        f[&b'M'],
        "bind message supplies 1 parameters, but prepared statement \"e\" requires 0"
    );
}

// ---------------------------------------------------------------- robustness

#[test]
fn unknown_message_type_closes_only_that_connection() {
    let srv = server();
    let (mut other, _) = Raw::login(srv.addr());
    let (mut raw, _) = Raw::login(srv.addr());
    raw.send(&frame(b'?', b"garbage"));
    let (msgs, closed) = raw.closed();
    assert!(closed, "a connection with garbage is closed");
    assert_eq!(error_code(&msgs).as_deref(), Some("08P01"));
    // The other session and new ones are unaffected.
    other.send(&query(""));
    assert_eq!(types(&other.until_ready()), b"IZ");
    assert_serving(srv.addr());
}

#[test]
fn truncated_messages_and_abrupt_closes_leave_the_server_serving() {
    let srv = server();
    // Half a startup packet, then gone.
    {
        let mut raw = Raw::connect(srv.addr());
        raw.send(&startup_message(&[("user", "x")])[..6]);
    }
    // Half a Query, then gone.
    {
        let (mut raw, _) = Raw::login(srv.addr());
        raw.send(&query("SELECT 1")[..7]);
    }
    // A length field that lies low: FATAL 08P01, the stream is not read on.
    {
        let (mut raw, _) = Raw::login(srv.addr());
        raw.send(&[&[b'Q', 0, 0, 0, 1][..], &query("")].concat());
        let (msgs, closed) = raw.closed();
        assert!(closed);
        assert_eq!(
            types(&msgs),
            b"E",
            "no EmptyQueryResponse for the hidden query"
        );
        assert_eq!(error_code(&msgs).as_deref(), Some("08P01"));
    }
    // A Parse declaring more parameter types than it carries (found by the
    // wire fuzzer): answered with 08P01, no panic.
    {
        let (mut raw, _) = Raw::login(srv.addr());
        let mut body = cstr("s1");
        body.extend(cstr("SELECT 1"));
        body.extend(2i16.to_be_bytes());
        body.extend(23u32.to_be_bytes());
        raw.send(&frame(b'P', &body));
        let (msgs, closed) = raw.closed();
        assert!(closed);
        assert_eq!(error_code(&msgs).as_deref(), Some("08P01"));
    }
    // A Bind whose parameter length runs past the message.
    {
        let (mut raw, _) = Raw::login(srv.addr());
        let mut body = cstr("");
        body.extend(cstr(""));
        body.extend(0i16.to_be_bytes());
        body.extend(1i16.to_be_bytes());
        body.extend(1_000_000i32.to_be_bytes());
        raw.send(&frame(b'B', &body));
        let (msgs, closed) = raw.closed();
        assert!(closed);
        assert_eq!(
            error_code(&msgs).as_deref(),
            Some("08P01"),
            "answered, then closed"
        );
    }
    // A startup packet claiming an absurd length.
    {
        let mut raw = Raw::connect(srv.addr());
        raw.send(&[0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
        let _ = raw.closed();
    }
    assert_serving(srv.addr());
}

// ---------------------------------------------------------------- limits

#[test]
fn a_client_over_the_connection_limit_gets_53300_and_others_carry_on() {
    let config = arbordb::server::ServerConfig {
        max_connections: 1,
        ..Default::default()
    };
    let srv = BackgroundServer::start_with(Database::in_memory().unwrap(), config).unwrap();
    let (mut first, _) = Raw::login(srv.addr());
    let mut second = Raw::connect(srv.addr());
    second.send(&startup_message(&[("user", "postgres")]));
    let (msgs, closed) = second.closed();
    assert!(closed);
    let f = fields(&msgs[0].1);
    assert_eq!(f[&b'S'], "FATAL");
    assert_eq!(f[&b'C'], "53300");
    assert_eq!(f[&b'M'], "sorry, too many clients already");
    // The first client is unaffected; once it leaves, its slot is free.
    first.send(&query(""));
    assert_eq!(types(&first.until_ready()), b"IZ");
    first.send(&frame(b'X', &[]));
    assert!(first.closed().1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut raw = Raw::connect(srv.addr());
        raw.send(&startup_message(&[("user", "postgres")]));
        match raw.read() {
            Some((b'R', _)) => break,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => panic!("slot never freed: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_closes_idle_connections_with_57p01() {
    let srv = server();
    let addr = srv.addr();
    let (mut raw, _) = Raw::login(addr);
    srv.shutdown();
    let (msgs, closed) = raw.closed();
    assert!(closed);
    assert_eq!(error_code(&msgs).as_deref(), Some("57P01"));
    assert!(TcpStream::connect(addr).is_err(), "no longer listening");
}
