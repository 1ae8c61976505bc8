//! psql 15's meta-commands against arbordb, compared with PostgreSQL 15's
//! answers captured in `tests/psql15/` (issue #8).
//!
//! A fresh server gets `tests/psql15/schema.sql`; each meta-command runs as
//! `psql -X -c '<command>'` and its output must be the output part of the
//! capture (everything after psql's last echoed query), character for
//! character. Normalised, because arbordb differs there on purpose:
//!
//! - `\l`: arbordb has one database, `arbordb`, where PostgreSQL lists
//!   `postgres`, `template0`, `template1` and the capture's own; the row
//!   compared is PostgreSQL's `postgres` row with the name replaced, cell by
//!   cell.
//! - `\conninfo`: the database name and port are the connection's.
//!
//! Skipped (with a note) when `psql` is not installed; CI installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use arbordb::Database;
use arbordb::server::{AuthMethod, BackgroundServer, InitialSuperuser, ServerConfig};

fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/psql15")
}

fn psql_installed() -> bool {
    Command::new("psql")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Psql {
    port: u16,
}

impl Psql {
    /// Runs psql with `args`; stdout and stderr together (psql prints
    /// "Did not find any relations." on stderr), and whether it succeeded.
    fn run(&self, args: &[&str]) -> (String, bool) {
        let out = Command::new("psql")
            .args(["-X", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "arbordb"])
            .args(args)
            .env("PGPASSWORD", "")
            .env("PAGER", "")
            .env("PSQL_PAGER", "")
            .env("COLUMNS", "200")
            .output()
            .expect("psql runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (text, out.status.success())
    }
}

/// The output part of a capture: what follows the last echoed query (or
/// the header comments, for a command that sends none).
fn expected_output(capture: &str) -> String {
    let lines: Vec<&str> = capture.lines().collect();
    let start = match lines
        .iter()
        .rposition(|l| *l == "**************************")
    {
        // psql prints a blank line after each echoed query.
        Some(i) => i + 2,
        None => lines.iter().take_while(|l| l.starts_with("-- ")).count(),
    };
    let mut out = lines[start.min(lines.len())..].join("\n");
    out.push('\n');
    out
}

fn start() -> (tempfile::TempDir, BackgroundServer, Psql) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let server = BackgroundServer::start_with(
        db,
        ServerConfig {
            auth: AuthMethod::Trust,
            initial_superuser: Some(InitialSuperuser {
                name: "postgres".into(),
                password: None,
                also: Vec::new(),
            }),
            ..ServerConfig::default()
        },
    )
    .unwrap();
    let psql = Psql {
        port: server.addr().port(),
    };
    let schema = reference_dir().join("schema.sql");
    let (out, ok) = psql.run(&[
        "-v",
        "ON_ERROR_STOP=1",
        "-f",
        schema.to_str().expect("utf-8 path"),
    ]);
    assert!(ok, "schema.sql loads: {out}");
    (dir, server, psql)
}

/// Cells of a psql aligned table's lines (`a | b`), trimmed.
fn cells(line: &str) -> Vec<String> {
    line.split('|').map(|c| c.trim().to_string()).collect()
}

#[test]
fn meta_commands_answer_as_postgresql_15() {
    if !psql_installed() {
        eprintln!("psql is not installed: skipping (CI installs it)");
        return;
    }
    let (_dir, _server, psql) = start();
    let exact = [
        ("dt.txt", "\\dt"),
        ("dt_plus.txt", "\\dt+"),
        ("di.txt", "\\di"),
        ("ds.txt", "\\ds"),
        ("dv.txt", "\\dv"),
        ("d.txt", "\\d"),
        ("d_t.txt", "\\d t"),
        ("d_parent.txt", "\\d parent"),
        ("d_v.txt", "\\d v"),
        ("dn.txt", "\\dn"),
        ("du.txt", "\\du"),
        ("df.txt", "\\df"),
    ];
    let mut failures = Vec::new();
    for (file, command) in exact {
        let capture = std::fs::read_to_string(reference_dir().join(file)).unwrap();
        let want = expected_output(&capture);
        let (got, ok) = psql.run(&["-c", command]);
        if !ok || got != want {
            failures.push(format!(
                "{command} (ok: {ok})\n--- PostgreSQL 15 ---\n{want}--- arbordb ---\n{got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn list_databases_shows_the_one_database_as_postgresql_shows_postgres() {
    if !psql_installed() {
        eprintln!("psql is not installed: skipping (CI installs it)");
        return;
    }
    let (_dir, _server, psql) = start();
    let capture = std::fs::read_to_string(reference_dir().join("l.txt")).unwrap();
    let want = expected_output(&capture);
    let (got, ok) = psql.run(&["-c", "\\l"]);
    assert!(ok, "\\l: {got}");
    let want_lines: Vec<&str> = want.lines().collect();
    let got_lines: Vec<&str> = got.lines().collect();
    // Title, header.
    assert_eq!(
        got_lines.first().map(|l| l.trim()),
        Some("List of databases")
    );
    assert_eq!(cells(got_lines[1]), cells(want_lines[1]), "header");
    let mut pg_row = want_lines
        .iter()
        .map(|l| cells(l))
        .find(|c| c.first().map(String::as_str) == Some("postgres"))
        .expect("PostgreSQL's postgres row");
    pg_row[0] = "arbordb".into();
    assert_eq!(cells(got_lines[3]), pg_row);
    assert_eq!(got_lines.get(4).copied(), Some("(1 row)"));
}

#[test]
fn conninfo_names_the_connection() {
    if !psql_installed() {
        eprintln!("psql is not installed: skipping (CI installs it)");
        return;
    }
    let (_dir, _server, psql) = start();
    let capture = std::fs::read_to_string(reference_dir().join("conninfo.txt")).unwrap();
    let want = expected_output(&capture)
        .replace("\"pgcat\"", "\"arbordb\"")
        .replace("\"5433\"", &format!("\"{}\"", psql.port));
    let (got, ok) = psql.run(&["-c", "\\conninfo"]);
    assert!(ok);
    assert_eq!(got, want);
}
