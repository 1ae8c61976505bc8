//! `conformance`: scores arbordb on the SQLite sqllogictest corpus
//! (`../shared/sqllogictest-corpus`, see its README.md) in the PostgreSQL
//! flavour, record by record.
//!
//! ```text
//! cargo run --release --bin conformance -- [--limit-per-file K] [--timeout-ms T]
//!     [--time-budget-secs S] [--show-failures N] [--corpus DIR] [paths…]
//! ```
//!
//! Each file runs against a fresh `Database::in_memory()` on a worker thread;
//! a statement that takes longer than `--timeout-ms` fails, and so does the
//! rest of its file (the worker is abandoned, still busy). A panic inside the
//! engine fails its record and the file goes on. The run never fails because
//! of what arbordb does not support: it exits 0 after printing a per-file
//! table and the total line
//! `conformance: P passed of N records (F failed, S skipped)`;
//! it exits 2 only on bad arguments. Without the corpus it says so and exits 0.
//!
//! The format, the printing, sorting and hashing rules live in `corpus.rs`,
//! which has no arbordb dependency so the same code can score PostgreSQL.

mod corpus;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use arbordb::{Database, testkit};
use clap::Parser;

use corpus::{Counts, ExecError, Executor, FileOutcome, Limits, Output};

#[derive(Parser, Debug)]
#[command(about = "Score arbordb on the SQLite sqllogictest corpus (PostgreSQL flavour)")]
struct Args {
    /// Count at most K applicable records per file (the rest are skipped).
    #[arg(long, value_name = "K")]
    limit_per_file: Option<usize>,
    /// A statement running longer than this fails (and ends its file).
    #[arg(long, value_name = "MS", default_value_t = 5_000)]
    timeout_ms: u64,
    /// Stop running statements after this many seconds; records not run
    /// count as failed, so totals stay comparable.
    #[arg(long, value_name = "S")]
    time_budget_secs: Option<u64>,
    /// Print the first N failures of each file.
    #[arg(long, value_name = "N", default_value_t = 0)]
    show_failures: usize,
    /// The corpus root (default: ../shared/sqllogictest-corpus beside the crate).
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Files or directories to run, relative to the current directory or to
    /// the corpus root (default: the whole corpus).
    paths: Vec<PathBuf>,
}

/// Abandoned (timed-out, still running) worker threads tolerated before the
/// run stops: each may be spinning on a core.
const HUNG_WORKERS_MAX: usize = 4;

/// arbordb on a worker thread, one fresh in-memory database per file.
struct ArborExecutor {
    requests: Option<mpsc::Sender<String>>,
    replies: mpsc::Receiver<Result<Output, String>>,
    timeout: Duration,
    panics: usize,
    hung: bool,
}

/// Marks a reply that reports an engine panic.
const PANIC_PREFIX: &str = "engine panicked: ";

impl ArborExecutor {
    fn start(timeout: Duration) -> Result<ArborExecutor, String> {
        let db = Database::in_memory().map_err(|e| format!("opening the database: {e}"))?;
        let (request_tx, request_rx) = mpsc::channel::<String>();
        let (reply_tx, reply_rx) = mpsc::channel();
        thread::Builder::new()
            .name("conformance-engine".into())
            .stack_size(arbordb::sql::stack_depth::STATEMENT_STACK_BYTES)
            .spawn(move || {
                let mut session = db.session();
                for sql in request_rx {
                    let reply = match catch_unwind(AssertUnwindSafe(|| session.execute(&sql))) {
                        Ok(Ok(mut results)) => Ok(match results.pop() {
                            Some(r) if r.returns_rows() => Output::Rows {
                                columns: r.columns.len(),
                                rows: r
                                    .rows
                                    .iter()
                                    .map(|row| row.iter().map(testkit::pg_text).collect())
                                    .collect(),
                            },
                            _ => Output::Done,
                        }),
                        Ok(Err(e)) => Err(testkit::error_text(&e)),
                        Err(payload) => {
                            let message = payload
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| payload.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "(no message)".into());
                            Err(format!("{PANIC_PREFIX}{message}"))
                        }
                    };
                    if reply_tx.send(reply).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| format!("spawning the engine thread: {e}"))?;
        Ok(ArborExecutor {
            requests: Some(request_tx),
            replies: reply_rx,
            timeout,
            panics: 0,
            hung: false,
        })
    }
}

impl Executor for ArborExecutor {
    fn execute(&mut self, sql: &str) -> Result<Output, ExecError> {
        let Some(requests) = &self.requests else {
            return Err(ExecError::Fatal("engine thread is gone".into()));
        };
        if requests.send(sql.to_string()).is_err() {
            return Err(ExecError::Fatal("engine thread is gone".into()));
        }
        match self.replies.recv_timeout(self.timeout) {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(e)) => {
                if e.starts_with(PANIC_PREFIX) {
                    self.panics += 1;
                }
                Err(ExecError::Sql(e))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.hung = true;
                // Closing the channel lets the worker exit once it finishes.
                self.requests = None;
                Err(ExecError::Fatal(format!(
                    "timed out after {} ms",
                    self.timeout.as_millis()
                )))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(ExecError::Fatal("engine thread died".into()))
            }
        }
    }
}

/// Stands in for the engine once the time budget is spent.
struct OutOfTime;

impl Executor for OutOfTime {
    fn execute(&mut self, _sql: &str) -> Result<Output, ExecError> {
        Err(ExecError::Fatal("time budget exhausted".into()))
    }
}

fn default_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/sqllogictest-corpus")
}

/// `*.test` files under `dir`, sorted.
fn test_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            test_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "test" || e == "slt") {
            out.push(path);
        }
    }
}

fn main() {
    let args = Args::parse();
    let corpus = args.corpus.clone().unwrap_or_else(default_corpus);
    if args.paths.is_empty() && !corpus.is_dir() {
        println!(
            "conformance: corpus not found at {} — nothing to run (skipped)",
            corpus.display()
        );
        return;
    }
    let roots: Vec<PathBuf> = if args.paths.is_empty() {
        vec![corpus.clone()]
    } else {
        args.paths
            .iter()
            .map(|p| {
                if p.exists() {
                    p.clone()
                } else {
                    corpus.join(p)
                }
            })
            .collect()
    };
    let mut files = Vec::new();
    for root in &roots {
        if root.is_dir() {
            test_files(root, &mut files);
        } else if root.is_file() {
            files.push(root.clone());
        } else {
            eprintln!("conformance: no such file or directory: {}", root.display());
            std::process::exit(2);
        }
    }
    if files.is_empty() {
        println!("conformance: no .test files found — nothing to run (skipped)");
        return;
    }

    let limits = Limits {
        records_per_file: args.limit_per_file,
        failures_kept: args.show_failures,
    };
    let started = Instant::now();
    let budget = args.time_budget_secs.map(Duration::from_secs);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let mut total = Counts::default();
    let (mut panics, mut hung_workers, mut parse_errors) = (0usize, 0usize, 0usize);
    let name_width = files
        .iter()
        .map(|f| display_name(f, &corpus).len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:<name_width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
        "file", "records", "passed", "failed", "skipped", "ms"
    );
    for file in &files {
        let name = display_name(file, &corpus);
        let file_started = Instant::now();
        let text = match std::fs::read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                println!("{name:<name_width$}  cannot read: {e}");
                continue;
            }
        };
        let (records, errors) = corpus::parse(&text);
        parse_errors += errors.len();
        for e in errors.iter().take(args.show_failures) {
            println!("    parse error {name}:{e}");
        }
        let out_of_budget = budget.is_some_and(|b| started.elapsed() >= b);
        let too_many_hung = hung_workers >= HUNG_WORKERS_MAX;
        let outcome: FileOutcome = if out_of_budget || too_many_hung {
            corpus::run_records(&records, &mut OutOfTime, limits)
        } else {
            match ArborExecutor::start(timeout) {
                Ok(mut executor) => {
                    let outcome = corpus::run_records(&records, &mut executor, limits);
                    panics += executor.panics;
                    if executor.hung {
                        hung_workers += 1;
                    }
                    outcome
                }
                Err(e) => {
                    println!("{name:<name_width$}  {e}");
                    continue;
                }
            }
        };
        let c = outcome.counts;
        println!(
            "{name:<name_width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}",
            c.applicable(),
            c.passed,
            c.failed,
            c.skipped,
            file_started.elapsed().as_millis()
        );
        for f in &outcome.failures {
            println!("    {name}:{}: {}", f.line, f.reason);
        }
        if let Some(why) = &outcome.aborted
            && args.show_failures > 0
        {
            println!("    {name}: stopped early: {why}");
        }
        total.add(c);
    }
    if hung_workers >= HUNG_WORKERS_MAX {
        println!(
            "conformance: stopped running after {hung_workers} statements timed out; the rest count as failed"
        );
    }
    println!(
        "conformance: {} passed of {} records ({} failed, {} skipped)",
        total.passed,
        total.applicable(),
        total.failed,
        total.skipped
    );
    println!(
        "conformance: {} files, {} engine panics, {} timeouts, {} unparsed records, {:.1} s",
        files.len(),
        panics,
        hung_workers,
        parse_errors,
        started.elapsed().as_secs_f64()
    );
}

fn display_name(file: &Path, corpus: &Path) -> String {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (file_c, corpus_c) = (canonical(file), canonical(corpus));
    file_c
        .strip_prefix(&corpus_c)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| file.display().to_string())
}

#[cfg(test)]
mod tests;
