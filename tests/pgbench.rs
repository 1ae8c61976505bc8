//! PostgreSQL 15's own pgbench, unmodified, against arbordb: `pgbench -i
//! -s 1` (table creation, COPY load, VACUUM, primary keys), then every
//! built-in script (tpcb-like, simple-update, select-only) in each query
//! mode (simple, extended, prepared) with 4 clients for a few seconds. Each
//! run must exit 0 with no failed transaction and have done some work.
//! Skips (with a note) when pgbench is not installed.

use std::path::Path;
use std::process::Command;

use arbordb::Database;
use arbordb::server::BackgroundServer;

const PGBENCH: &str = "/usr/lib/postgresql/15/bin/pgbench";

/// Seconds per run: short, CI runs 9 of them.
const SECONDS: &str = "2";

fn pgbench(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new(PGBENCH)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres")
        .env_remove("PGPASSWORD")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A number pgbench printed after `label`.
fn reported(text: &str, label: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(label))?;
    line[label.len()..]
        .split_whitespace()
        .next()?
        .split('/')
        .next()?
        .parse()
        .ok()
}

#[test]
fn pgbench_initializes_and_runs_every_builtin_script_in_every_query_mode() {
    if !Path::new(PGBENCH).exists() {
        eprintln!("note: {PGBENCH} is not installed; skipping the pgbench test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = BackgroundServer::start(Database::open(dir.path()).unwrap()).unwrap();
    let port = srv.addr().port();

    let (ok, out) = pgbench(port, &["-i", "-s", "1", "-q"]);
    assert!(ok, "pgbench -i failed:\n{out}");
    assert!(out.contains("done in"), "{out}");

    for mode in ["simple", "extended", "prepared"] {
        for script in ["tpcb-like", "simple-update", "select-only"] {
            let (ok, out) = pgbench(
                port,
                &[
                    "-b", script, "-M", mode, "-c", "4", "-j", "2", "-T", SECONDS,
                ],
            );
            assert!(ok, "pgbench -b {script} -M {mode} failed:\n{out}");
            assert_eq!(
                reported(&out, "number of failed transactions:"),
                Some(0),
                "{script} -M {mode}:\n{out}"
            );
            let done = reported(&out, "number of transactions actually processed:");
            assert!(
                done.is_some_and(|n| n > 0),
                "{script} -M {mode} did nothing:\n{out}"
            );
        }
    }
}
