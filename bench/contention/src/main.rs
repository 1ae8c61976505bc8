//! The bank workload over the PostgreSQL protocol: `sessions` clients move
//! money between `accounts` accounts at one isolation level for `secs`
//! seconds, retrying a transfer that fails with 40001 or 40P01, as an
//! application would. The same binary runs against arbordb and PostgreSQL,
//! so the two numbers differ only by the server.
//!
//! ```text
//!   bench-contention URL LEVEL SESSIONS SECS [ACCOUNTS]
//!   -> one line: tps=… aborts=… abort_rate=… p50_us=… p99_us=… total_ok=…
//! ```
//!
//! A transfer: BEGIN ISOLATION LEVEL …; read the source balance; if it
//! covers the amount, debit the source and credit the target (lower id
//! first); COMMIT. Latency is per committed transfer, retries included (what
//! the application waits). At the end the total of all balances must be
//! unchanged and (above READ COMMITTED, where PostgreSQL allows it too) no
//! balance negative; otherwise the run fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

const START_BALANCE: i64 = 1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    aborts: u64,
    latencies_us: Vec<u64>,
}

fn is_retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// The server's own message and SQLSTATE, not tokio-postgres's "db error".
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

async fn connect(url: &str) -> Result<Client, String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("connect {url}: {}", describe(&e)))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn setup(url: &str, accounts: i32) -> Result<(), String> {
    let c = connect(url).await?;
    let fail = |e: tokio_postgres::Error| format!("setup: {}", describe(&e));
    c.batch_execute("DROP TABLE IF EXISTS bench_accounts")
        .await
        .map_err(fail)?;
    c.batch_execute("CREATE TABLE bench_accounts (id int PRIMARY KEY, balance bigint NOT NULL)")
        .await
        .map_err(fail)?;
    let values: Vec<String> = (1..=accounts)
        .map(|i| format!("({i}, {START_BALANCE})"))
        .collect();
    c.batch_execute(&format!(
        "INSERT INTO bench_accounts VALUES {}",
        values.join(", ")
    ))
    .await
    .map_err(fail)?;
    Ok(())
}

/// One transfer attempt; `Ok(false)` when the source could not cover it
/// (the transaction still commits: a read-only transfer).
async fn transfer(
    c: &Client,
    begin: &str,
    stmts: &Statements,
    from: i32,
    to: i32,
    amount: i64,
) -> Result<bool, tokio_postgres::Error> {
    c.batch_execute(begin).await?;
    let result = async {
        let row = c.query_one(&stmts.read, &[&from]).await?;
        let balance: i64 = row.get(0);
        if balance < amount {
            return Ok(false);
        }
        let (first, second) = if from < to {
            ((from, -amount), (to, amount))
        } else {
            ((to, amount), (from, -amount))
        };
        c.execute(&stmts.add, &[&first.1, &first.0]).await?;
        c.execute(&stmts.add, &[&second.1, &second.0]).await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(moved) => {
            c.batch_execute("COMMIT").await?;
            Ok(moved)
        }
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

struct Statements {
    read: tokio_postgres::Statement,
    add: tokio_postgres::Statement,
}

async fn session(
    url: String,
    level: String,
    accounts: i32,
    deadline: Instant,
    seed: u64,
) -> Result<Tally, String> {
    let c = connect(&url).await?;
    let fail = |e: tokio_postgres::Error| format!("session: {}", describe(&e));
    let stmts = Statements {
        read: c
            .prepare("SELECT balance FROM bench_accounts WHERE id = $1")
            .await
            .map_err(fail)?,
        add: c
            .prepare("UPDATE bench_accounts SET balance = balance + $1 WHERE id = $2")
            .await
            .map_err(fail)?,
    };
    let begin = format!("BEGIN ISOLATION LEVEL {level}");
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::default();
    while Instant::now() < deadline {
        let from = 1 + rng.below(accounts as u64) as i32;
        let mut to = 1 + rng.below(accounts as u64 - 1) as i32;
        if to >= from {
            to += 1;
        }
        let amount = 1 + rng.below(100) as i64;
        let started = Instant::now();
        loop {
            match transfer(&c, &begin, &stmts, from, to, amount).await {
                Ok(_) => break,
                Err(e) if is_retryable(&e) => {
                    tally.aborts += 1;
                    if Instant::now() >= deadline {
                        return Ok(tally);
                    }
                }
                Err(e) => return Err(format!("transfer: {}", describe(&e))),
            }
        }
        tally.ok += 1;
        tally
            .latencies_us
            .push(started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64);
    }
    Ok(tally)
}

/// The total never changes at any level. No balance goes negative at
/// REPEATABLE READ and SERIALIZABLE; at READ COMMITTED it may, as in
/// PostgreSQL: the balance check reads a value that a concurrent debit
/// changes before this transfer's UPDATE re-reads it (check-then-act
/// without FOR UPDATE), so the check is skipped there.
async fn audit(url: &str, accounts: i32, level: &str) -> Result<(), String> {
    let c = connect(url).await?;
    let row = c
        .query_one(
            "SELECT sum(balance)::bigint, min(balance), count(*)::bigint FROM bench_accounts",
            &[],
        )
        .await
        .map_err(|e| format!("audit: {}", describe(&e)))?;
    let (sum, min, n): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let want = i64::from(accounts) * START_BALANCE;
    let negative_allowed = level.eq_ignore_ascii_case("read committed");
    if sum != want || (min < 0 && !negative_allowed) || n != i64::from(accounts) {
        return Err(format!(
            "invariant broken: total {sum} (want {want}), min balance {min}, {n} accounts"
        ));
    }
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: bench-contention URL LEVEL SESSIONS SECS [ACCOUNTS]";
    let url = args.first().ok_or(usage)?.clone();
    let level = args.get(1).ok_or(usage)?.replace('-', " ").to_uppercase();
    let sessions: usize = args.get(2).and_then(|s| s.parse().ok()).ok_or(usage)?;
    let secs: f64 = args.get(3).and_then(|s| s.parse().ok()).ok_or(usage)?;
    let accounts: i32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100);
    if accounts < 2 || sessions == 0 {
        return Err(usage.to_string());
    }
    setup(&url, accounts).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let url = Arc::new(url);
    let mut handles = Vec::new();
    for i in 0..sessions {
        handles.push(tokio::spawn(session(
            url.to_string(),
            level.clone(),
            accounts,
            deadline,
            0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9),
        )));
    }
    let mut total = Tally::default();
    for h in handles {
        let t = h.await.map_err(|e| format!("session task: {e}"))??;
        total.ok += t.ok;
        total.aborts += t.aborts;
        total.latencies_us.extend(t.latencies_us);
    }
    let elapsed = started.elapsed().as_secs_f64();
    audit(&url, accounts, &level).await?;
    total.latencies_us.sort_unstable();
    let attempts = total.ok + total.aborts;
    let abort_rate = if attempts == 0 {
        0.0
    } else {
        100.0 * total.aborts as f64 / attempts as f64
    };
    Ok(format!(
        "tps={:.0} aborts={} abort_rate={:.1} p50_us={} p99_us={} total_ok={}",
        total.ok as f64 / elapsed,
        total.aborts,
        abort_rate,
        percentile(&total.latencies_us, 0.50),
        percentile(&total.latencies_us, 0.99),
        total.ok
    ))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(line) => println!("{line}"),
        Err(e) => {
            println!("error={}", e.replace('\n', " "));
            std::process::exit(1);
        }
    }
}
