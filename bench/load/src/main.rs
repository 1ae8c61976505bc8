//! The load workload of issue 6 over the PostgreSQL protocol. The same
//! binary runs against arbordb and PostgreSQL, so two numbers differ only by
//! the server.
//!
//! ```text
//!   bench-load URL load ROWS [BATCH]          -> rows_per_s=… secs=…
//!   bench-load URL pk ROWS LOOKUPS SESSIONS   -> per_s=… secs=… rows=…
//!   bench-load URL range ROWS LOOKUPS SESSIONS -> per_s=… secs=… rows=…
//! ```
//!
//! `load` (re)creates `bench_load (id bigint PRIMARY KEY, a int, t text,
//! n numeric(12,2), ts timestamp)` with the secondary index `bench_load_a`
//! on `a`, then inserts ROWS rows in multi-row INSERTs of BATCH rows (simple
//! query protocol, each statement its own transaction), ids in random
//! order. `pk` runs LOOKUPS prepared `WHERE id = $1` point lookups split over
//! SESSIONS connections; `range` runs prepared `WHERE a BETWEEN $1 AND $1 +
//! 9` index range lookups (ten rows each, `a` is a permutation of 0..ROWS).
//! Every lookup checks its row count, so a wrong answer fails the run.

use std::time::Instant;

use tokio_postgres::{Client, NoTls};

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

/// `a` of row `id`: a permutation of 0..rows (7919 is prime, coprime to
/// the row counts used; `load` checks it).
fn a_of(id: u64, rows: u64) -> u64 {
    (id * 7919) % rows
}

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

fn row_literal(id: u64, rows: u64) -> String {
    let secs = id;
    let day = 1 + secs / 86_400;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    format!(
        "({id}, {}, 'row {id} of the load benchmark', {}.{:02}, '2024-01-{day:02} {h:02}:{m:02}:{s:02}')",
        a_of(id, rows),
        id / 100,
        id % 100
    )
}

async fn load(url: &str, rows: u64, batch: u64) -> Result<String, String> {
    if rows % 7919 == 0 {
        return Err("ROWS must not be a multiple of 7919".into());
    }
    let c = connect(url).await?;
    let fail = |e: tokio_postgres::Error| format!("load: {}", describe(&e));
    c.batch_execute("DROP TABLE IF EXISTS bench_load")
        .await
        .map_err(fail)?;
    c.batch_execute(
        "CREATE TABLE bench_load (id bigint PRIMARY KEY, a int NOT NULL, t text, \
         n numeric(12,2), ts timestamp)",
    )
    .await
    .map_err(fail)?;
    c.batch_execute("CREATE INDEX bench_load_a ON bench_load (a)")
        .await
        .map_err(fail)?;
    // ids in a random order: a shuffled 0..rows
    let mut ids: Vec<u64> = (0..rows).collect();
    let mut rng = Rng(0x5eed_10ad);
    for i in (1..ids.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        ids.swap(i, j);
    }
    let started = Instant::now();
    for chunk in ids.chunks(batch as usize) {
        let values: Vec<String> = chunk.iter().map(|&id| row_literal(id, rows)).collect();
        c.batch_execute(&format!("INSERT INTO bench_load VALUES {}", values.join(", ")))
            .await
            .map_err(fail)?;
    }
    let secs = started.elapsed().as_secs_f64();
    let n: i64 = c
        .query_one("SELECT count(*) FROM bench_load", &[])
        .await
        .map_err(fail)?
        .get(0);
    if n as u64 != rows {
        return Err(format!("load: {n} rows after loading {rows}"));
    }
    Ok(format!(
        "rows_per_s={:.0} secs={secs:.2}",
        rows as f64 / secs
    ))
}

async fn lookups(
    url: String,
    range: bool,
    rows: u64,
    count: u64,
    seed: u64,
) -> Result<u64, String> {
    let c = connect(&url).await?;
    let fail = |e: tokio_postgres::Error| format!("lookup: {}", describe(&e));
    let sql = if range {
        "SELECT id, a, t FROM bench_load WHERE a BETWEEN $1 AND $1 + 9"
    } else {
        "SELECT id, a, t, n, ts FROM bench_load WHERE id = $1"
    };
    let stmt = c.prepare(sql).await.map_err(fail)?;
    let mut rng = Rng(seed | 1);
    let mut seen = 0u64;
    for _ in 0..count {
        if range {
            let lo = rng.below(rows - 9) as i32;
            let got = c.query(&stmt, &[&lo]).await.map_err(fail)?;
            if got.len() != 10 {
                return Err(format!("range lookup at {lo}: {} rows, want 10", got.len()));
            }
            seen += got.len() as u64;
        } else {
            let id = rng.below(rows) as i64;
            let got = c.query(&stmt, &[&id]).await.map_err(fail)?;
            if got.len() != 1 {
                return Err(format!("pk lookup of {id}: {} rows, want 1", got.len()));
            }
            seen += 1;
        }
    }
    Ok(seen)
}

async fn run(args: &[String]) -> Result<String, String> {
    let num = |i: usize, default: Option<u64>| -> Result<u64, String> {
        match args.get(i) {
            Some(s) => s.parse().map_err(|_| format!("bad number {s:?}")),
            None => default.ok_or_else(|| "missing argument".to_string()),
        }
    };
    let url = args.get(1).ok_or("usage: bench-load URL load|pk|range …")?;
    match args.get(2).map(String::as_str) {
        Some("load") => load(url, num(3, None)?, num(4, Some(1000))?).await,
        Some(mode @ ("pk" | "range")) => {
            let (rows, total, sessions) = (num(3, None)?, num(4, None)?, num(5, Some(8))?);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for s in 0..sessions {
                let per = total / sessions + u64::from(s < total % sessions);
                tasks.push(tokio::spawn(lookups(
                    url.clone(),
                    mode == "range",
                    rows,
                    per,
                    0x9e37_79b9_7f4a_7c15 ^ (s + 1),
                )));
            }
            let mut seen = 0;
            for t in tasks {
                seen += t.await.map_err(|e| e.to_string())??;
            }
            let secs = started.elapsed().as_secs_f64();
            Ok(format!(
                "per_s={:.0} secs={secs:.2} rows={seen}",
                total as f64 / secs
            ))
        }
        _ => Err("usage: bench-load URL load|pk|range …".into()),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match run(&args).await {
        Ok(line) => println!("{line}"),
        Err(e) => {
            println!("error={e}");
            std::process::exit(1);
        }
    }
}
