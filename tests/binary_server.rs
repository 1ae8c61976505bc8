//! The real `arbordb` binary: it serves on the address it logs, refuses a
//! second instance on the same data directory, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_arbordb");

/// A running server process and the lines of its stderr.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts the binary on a free port and waits for its "listening on" line.
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--buffer-pool",
                "8MiB",
                "--superuser",
                "tester",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = log
                .recv_timeout(left)
                .expect("server did not log its address in time");
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split_whitespace().next().unwrap();
                break addr.parse().unwrap();
            }
        };
        Server { child, addr, log }
    }

    fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }

    /// The log, once it contains every one of `needles` (or after 10 s).
    fn log_containing(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = String::new();
        while !needles.iter().all(|n| log.contains(n)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    log.push_str(&line);
                    log.push('\n');
                }
                Err(_) => break,
            }
        }
        log
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only if a test failed half-way: do not leave the process behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(addr: SocketAddr) -> (tokio_postgres::Client, tokio::task::JoinHandle<()>) {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={} user=tester dbname=db", addr.port()),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    let server_version = connection.parameter("server_version").unwrap().to_owned();
    assert!(server_version.starts_with("15."), "{server_version}");
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    (client, task)
}

#[tokio::test]
async fn binary_serves_refuses_a_second_instance_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());

    let (client, task) = connect(server.addr).await;
    let row = client.query_one("SELECT 1 + 1 AS two", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>("two"), 2);
    let e = client
        .simple_query("SELECT 2147483647 + 1")
        .await
        .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("22003"));
    let row = client
        .query_one("SELECT $1::text || 'b'", &[&"a"])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "ab",
        "still usable after the error"
    );

    // A second server on the same directory refuses to start.
    let second = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(!second.status.success(), "second instance must fail");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by another arbordb process"),
        "lock message on stderr: {stderr}"
    );
    assert!(
        stderr.contains("arbordb.lock"),
        "names the lock file: {stderr}"
    );

    // The log has a line per connection (peer, user, database) and one per
    // error (SQLSTATE and message).
    let needles = [
        "connection authorized",
        "peer=127.0.0.1:",
        "user=tester",
        "database=db",
        "22003",
        "integer out of range",
    ];
    let log = server.log_containing(&needles);
    for n in needles {
        assert!(log.contains(n), "log lacks {n:?}:\n{log}");
    }

    // SIGTERM with a client still connected: clean exit, status 0.
    server.signal("-TERM");
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("server did not exit within 10 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    // The client was told why (57P01) and its connection ended.
    task.await.unwrap();
    assert!(client.is_closed());
    drop(client);
}

#[test]
fn binary_exits_zero_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path());
    server.signal("-INT");
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("server did not exit within 10 s of SIGINT");
    assert!(status.success(), "exit status {status:?}");
    // Once stopped, the directory is free for the next server.
    let mut again = Server::start(dir.path());
    again.signal("-TERM");
    assert!(
        again
            .wait_timeout(Duration::from_secs(10))
            .unwrap()
            .success()
    );
}

#[test]
fn binary_rejects_bad_flags_with_a_message() {
    let out = Command::new(BIN)
        .args(["--buffer-pool", "12 parsecs"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid unit"));

    let out = Command::new(BIN)
        .args(["--listen", "not-an-address"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn binary_help_documents_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--data-dir", "--listen", "--buffer-pool", "serve"] {
        assert!(help.contains(flag), "--help mentions {flag}:\n{help}");
    }
    assert!(
        help.contains("./arbordb-data")
            && help.contains("127.0.0.1:5432")
            && help.contains("128MiB")
    );
}
