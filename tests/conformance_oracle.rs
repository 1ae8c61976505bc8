//! Checks the conformance runner itself by scoring PostgreSQL 15 with it:
//! the same `corpus.rs` the `conformance` binary uses, with PostgreSQL as the
//! executor over the simple query protocol (text results, as the reference
//! runner read them through ODBC). PostgreSQL's known score on this corpus
//! is 266,593 of 268,154 records (`../shared/SCOREBOARD.md`); a runner whose
//! parsing, printing, sorting or hashing were off would land far from it.
//!
//! Opt-in and slow (the whole corpus, a few minutes):
//!
//! ```text
//! ARBORDB_CONFORMANCE_ORACLE="host=127.0.0.1 port=5433 user=postgres" \
//!     cargo test --release --test conformance_oracle -- --ignored --nocapture
//! ```

#[path = "../src/bin/conformance/corpus.rs"]
#[allow(dead_code)]
mod corpus;

use std::path::{Path, PathBuf};

use corpus::{Counts, ExecError, Executor, Limits, Output};

struct Postgres<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Executor for Postgres<'_> {
    fn execute(&mut self, sql: &str) -> Result<Output, ExecError> {
        use tokio_postgres::SimpleQueryMessage;
        let messages = self
            .rt
            .block_on(self.client.simple_query(sql))
            .map_err(|e| match e.as_db_error() {
                Some(db) => {
                    ExecError::Sql(format!("{} (SQLSTATE {})", db.message(), db.code().code()))
                }
                None => ExecError::Fatal(e.to_string()),
            })?;
        let mut output = Output::Done;
        for m in messages {
            match m {
                SimpleQueryMessage::RowDescription(columns) => {
                    output = Output::Rows {
                        columns: columns.len(),
                        rows: Vec::new(),
                    }
                }
                SimpleQueryMessage::Row(row) => {
                    if let Output::Rows { rows, .. } = &mut output {
                        rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).map(str::to_string))
                                .collect(),
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(output)
    }
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            corpus_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "test") {
            out.push(p);
        }
    }
}

#[test]
#[ignore = "scores PostgreSQL on the whole corpus; needs ARBORDB_CONFORMANCE_ORACLE"]
fn runner_scores_postgres_close_to_its_known_result() {
    let Ok(config) = std::env::var("ARBORDB_CONFORMANCE_ORACLE") else {
        eprintln!("ARBORDB_CONFORMANCE_ORACLE not set, skipped");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sqllogictest-corpus");
    if !root.is_dir() {
        eprintln!("no corpus at {}, skipped", root.display());
        return;
    }
    let mut files = Vec::new();
    corpus_files(&root, &mut files);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connect = |config: String| {
        rt.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = connection.await;
            });
            client
        })
    };
    let admin = connect(config.clone());
    let mut total = Counts::default();
    for (n, file) in files.iter().enumerate() {
        let dbname = format!("arbordb_conformance_{}_{n}", std::process::id());
        rt.block_on(admin.simple_query(&format!("CREATE DATABASE {dbname}")))
            .unwrap();
        let client = connect(format!("{config} dbname={dbname}"));
        rt.block_on(client.simple_query("SET statement_timeout = 10000"))
            .unwrap();
        let mut pg = Postgres { rt: &rt, client };
        let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
        let (records, errors) = corpus::parse(&text);
        assert!(errors.is_empty(), "{}: {errors:?}", file.display());
        let outcome = corpus::run_records(
            &records,
            &mut pg,
            Limits {
                records_per_file: None,
                failures_kept: 3,
            },
        );
        drop(pg);
        rt.block_on(admin.simple_query(&format!("DROP DATABASE {dbname} WITH (FORCE)")))
            .unwrap();
        let c = outcome.counts;
        println!(
            "{:<48} {:>7} {:>7} {:>7}",
            file.strip_prefix(&root).unwrap().display(),
            c.passed,
            c.failed,
            c.skipped
        );
        for f in &outcome.failures {
            println!("    :{}: {}", f.line, f.reason);
        }
        total.add(c);
    }
    println!(
        "conformance (PostgreSQL): {} passed of {} records ({} failed, {} skipped)",
        total.passed,
        total.applicable(),
        total.failed,
        total.skipped
    );
    // Every record that applies is counted, exactly the README's number.
    assert_eq!(total.applicable(), 268_154);
    // Within 0.5% of PostgreSQL's published score (266,593).
    assert!(
        total.passed.abs_diff(266_593) < 1_340,
        "PostgreSQL scored {} with this runner; expected about 266,593",
        total.passed
    );
}
