//! Fuzz targets, shared by the cargo-fuzz project (`fuzz/fuzz_targets/*.rs`)
//! and the deterministic smoke test (`tests/fuzz_smoke.rs`), so the same
//! function is fed by libFuzzer on nightly and by a seeded generator in
//! `cargo test`.
//!
//! ```text
//!   bytes ──> sql(data)   UTF-8 (lossy) ──> Session::execute on a fresh in-memory database
//!   bytes ──> wire(data)  TCP to one BackgroundServer ──> raw bytes, or bytes after a
//!                         valid startup; then: is the server still answering?
//! ```
//!
//! Property of both targets: nothing panics — not the caller, not a server
//! task (the server catches task panics, so a panic hook counts them and the
//! target panics on their behalf) — and the server keeps accepting and
//! answering new connections.
//!
//! Not part of the database's API (`#[doc(hidden)]` in `lib.rs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::db::{Database, Session};
use crate::server::BackgroundServer;

/// Statements run before the fuzzed SQL, so it has tables to find.
pub const SQL_SETUP: &str = "CREATE TABLE t (a integer PRIMARY KEY, b text, c double precision); \
     INSERT INTO t VALUES (1, 'one', 1.5), (2, NULL, -0.0), (3, '', 1e300)";

/// Panics seen anywhere in the process since [`install_panic_counter`].
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic in the process (server tasks included), keeping the
/// previous hook's output. Idempotent.
pub fn install_panic_counter() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics counted so far.
pub fn panics_seen() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Runs `data` (as UTF-8, lossily) as SQL on `session`: the simple protocol
/// first, then the extended protocol's prepare. Errors are fine; panics are
/// not.
pub fn sql_on(session: &mut Session, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = session.execute(&text);
    let _ = session.prepare(&text, &[]);
    // A failed transaction block must not leak into the next input.
    let _ = session.execute("ROLLBACK");
}

/// The SQL target: a fresh in-memory database with [`SQL_SETUP`] applied,
/// then `data` as SQL.
pub fn sql(data: &[u8]) {
    let Ok(db) = Database::in_memory() else {
        return;
    };
    let mut session = db.session();
    let _ = session.execute(SQL_SETUP);
    sql_on(&mut session, data);
}

/// The one server the wire target talks to, started on first use.
pub fn wire_server() -> Option<SocketAddr> {
    static SERVER: OnceLock<Option<BackgroundServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let db = Database::in_memory().ok()?;
            BackgroundServer::start(db).ok()
        })
        .as_ref()
        .map(BackgroundServer::addr)
}

/// How long the wire target waits for the server per input.
const WIRE_IO_TIMEOUT_MS: u64 = 1_000;

/// A protocol 3.0 StartupMessage for user and database `postgres`.
pub fn startup_message() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for part in ["user", "postgres", "database", "postgres"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    message
}

/// Reads backend messages until ReadyForQuery (`Z`); `false` on an
/// ErrorResponse, EOF, a malformed frame or a timeout.
fn read_until_ready(stream: &mut TcpStream) -> bool {
    read_frames_until_ready(stream, false)
}

/// Reads backend messages until ReadyForQuery (`Z`): `true` then; `false` on
/// EOF, a malformed frame, a timeout, or an ErrorResponse unless `errors_ok`.
fn read_frames_until_ready(stream: &mut TcpStream, errors_ok: bool) -> bool {
    loop {
        let mut header = [0u8; 5];
        if stream.read_exact(&mut header).is_err() {
            return false;
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if !(4..=1 << 20).contains(&len) {
            return false;
        }
        let mut body = vec![0u8; len - 4];
        if stream.read_exact(&mut body).is_err() {
            return false;
        }
        match header[0] {
            b'Z' => return true,
            b'E' if !errors_ok => return false,
            _ => {}
        }
    }
}

/// Connects and completes startup; the stream is ready for queries.
fn connect_ready(addr: SocketAddr) -> Option<TcpStream> {
    let timeout = Duration::from_millis(WIRE_IO_TIMEOUT_MS);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    stream.write_all(&startup_message()).ok()?;
    read_until_ready(&mut stream).then_some(stream)
}

/// Whether the server accepts a new connection and answers a simple query
/// with ReadyForQuery (an error response to the query is fine).
pub fn server_answers(addr: SocketAddr) -> bool {
    let Some(mut stream) = connect_ready(addr) else {
        return false;
    };
    let sql = b"SELECT 1\0";
    let mut query = vec![b'Q'];
    query.extend_from_slice(&((sql.len() + 4) as u32).to_be_bytes());
    query.extend_from_slice(sql);
    if stream.write_all(&query).is_err() {
        return false;
    }
    read_frames_until_ready(&mut stream, true)
}

/// The wire target. The first byte picks the phase: even, `data[1..]` is
/// sent right after a valid startup (the query loop sees it); odd, it is
/// the first thing on the connection (startup parsing sees it). The client
/// then half-closes and drains the answer. Panics if any panic happened in
/// the process or the server stops answering.
pub fn wire(data: &[u8]) {
    install_panic_counter();
    let Some(addr) = wire_server() else {
        panic!("wire target: could not start the server");
    };
    let before = panics_seen();
    let (phase, payload) = match data.split_first() {
        Some((phase, rest)) => (*phase, rest),
        None => (1, data),
    };
    let stream = if phase % 2 == 0 {
        connect_ready(addr)
    } else {
        let timeout = Duration::from_millis(WIRE_IO_TIMEOUT_MS);
        TcpStream::connect_timeout(&addr, timeout)
            .ok()
            .filter(|s| s.set_read_timeout(Some(timeout)).is_ok())
            .filter(|s| s.set_write_timeout(Some(timeout)).is_ok())
    };
    if let Some(mut stream) = stream {
        // The server may close on bad input before reading it all.
        let _ = stream.write_all(payload);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
    assert!(
        server_answers(addr),
        "wire target: the server stopped answering after {} input bytes",
        data.len()
    );
    let after = panics_seen();
    assert!(
        after == before,
        "wire target: {} panic(s) while serving this input",
        after - before
    );
}
