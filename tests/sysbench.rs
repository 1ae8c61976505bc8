//! sysbench's own pgsql OLTP scripts, unmodified, against arbordb with a
//! SCRAM password: `oltp_read_write prepare` (SERIAL keys, CHAR(120)
//! DEFAULT '', multi-row INSERTs, CREATE INDEX), then a short run of
//! oltp_read_write, oltp_read_only and oltp_point_select with 2 threads
//! (named statements with int8/varchar parameters for int4/char columns,
//! binary results, BEGIN/COMMIT prepared), then `cleanup`. Each command must
//! exit 0, a run must commit transactions and report few ignored errors
//! (the retried deadlocks and duplicate keys PostgreSQL reports as well).
//! Skips (with a note) when sysbench is not installed (`.ci/run` installs it).

use std::process::Command;

use arbordb::Database;
use arbordb::server::{AuthMethod, BackgroundServer, InitialSuperuser, ServerConfig};

const SYSBENCH: &str = "sysbench";
const PASSWORD: &str = "sysb3nch";

fn sysbench(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new(SYSBENCH)
        .args([
            "--db-driver=pgsql",
            "--pgsql-host=127.0.0.1",
            &format!("--pgsql-port={port}"),
            "--pgsql-user=bench",
            &format!("--pgsql-password={PASSWORD}"),
            "--pgsql-db=postgres",
            "--tables=2",
            "--table-size=1000",
        ])
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The first number after `label` on its line.
fn reported(text: &str, label: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn sysbench_oltp_scripts_prepare_run_and_clean_up_unmodified() {
    if !Command::new(SYSBENCH)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("note: sysbench is not installed; skipping the sysbench test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = BackgroundServer::start_with(
        Database::open(dir.path()).unwrap(),
        ServerConfig {
            auth: AuthMethod::Scram,
            initial_superuser: Some(InitialSuperuser {
                name: "bench".into(),
                password: Some(PASSWORD.into()),
                also: Vec::new(),
            }),
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let port = srv.addr().port();

    let (ok, out) = sysbench(port, &["oltp_read_write", "prepare"]);
    assert!(ok, "sysbench prepare failed:\n{out}");
    assert!(
        out.contains("Creating a secondary index on 'sbtest2'"),
        "{out}"
    );

    for script in ["oltp_read_write", "oltp_read_only", "oltp_point_select"] {
        let (ok, out) = sysbench(port, &["--threads=2", "--time=3", script, "run"]);
        assert!(ok, "sysbench {script} run failed:\n{out}");
        assert!(
            reported(&out, "transactions:").is_some_and(|n| n > 0),
            "{script} committed nothing:\n{out}"
        );
        // sysbench retries 40P01, 40001 and 23505: two threads deleting and
        // re-inserting the same random id meet those in PostgreSQL too (15
        // ignored errors per ~2,000 transactions of this run there), so a
        // few are expected, a lot would mean lock or snapshot trouble.
        let transactions = reported(&out, "transactions:").unwrap_or(0);
        let ignored = reported(&out, "ignored errors:");
        assert!(
            ignored.is_some_and(|n| n <= 3 + transactions / 20),
            "{script}:\n{out}"
        );
    }

    let (ok, out) = sysbench(port, &["oltp_read_write", "cleanup"]);
    assert!(ok, "sysbench cleanup failed:\n{out}");
    assert!(out.contains("Dropping table 'sbtest2'"), "{out}");
    srv.shutdown();
}
