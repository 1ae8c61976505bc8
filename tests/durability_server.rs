//! Durability of the real server, checked from outside as a client sees it:
//! the `arbordb` binary on a data directory, several tokio-postgres clients
//! committing small transactions concurrently, SIGKILL at a random moment,
//! restart on the same directory, and then
//!
//! - every commit the client saw acknowledged is there (a COMMIT whose
//!   answer the kill cut off is in doubt: whole or absent, never half);
//! - no transaction is partly there: a transfer between two accounts keeps
//!   the total, each client's counter equals the number of its items, and
//!   nothing a client rolled back is visible;
//! - the secondary indexes agree with the table (lookups through each index,
//!   checked with EXPLAIN to be index scans, return exactly the rows a
//!   sequential scan finds);
//! - `arbordb check` passes on the stopped directory (every other round it
//!   is the one that recovers the crash, the server the rest of the time).
//!
//! ```text
//!  round r:  start server (recovers r-1's crash) ─ verify ─ clients commit ─ SIGKILL
//!            then one of: nothing │ cut the log's unflushed tail │ garbage over it
//!                         │ `arbordb check` recovers │ (once) a corrupt mid-log record
//! ```
//!
//! The log-tail variants change only bytes no acknowledgment can depend on:
//! the tail after the last Commit, the last IdLimit, every checkpoint's end
//! record and the record of the highest page LSN on disk (a page is written
//! only once the log is durable up to its LSN). So they stand for a power
//! loss that tore the last, unsynced batch. A corrupt record in the middle
//! of the log must stop the server from starting, with a message naming the
//! LSN, and the directory must be left as it was (the byte is put back and
//! the rounds go on).
//!
//! `ARBORDB_KILL_ROUNDS=N` (default 6) and `ARBORDB_KILL_SEED=n` for soak
//! runs; the seed is printed first, and every failure names seed and round.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arbordb::storage::Lsn;
use arbordb::storage::disk::fault::SplitMix64;
use arbordb::storage::disk::{OsVfs, Vfs};
use arbordb::storage::wal::RecordBody;
use arbordb::storage::wal::control::ControlFile;
use arbordb::storage::wal::reader::{Found, LogReader};
use arbordb::storage::wal::segment::{Segments, segment_path};

const BIN: &str = env!("CARGO_BIN_EXE_arbordb");

/// Concurrent committing clients.
const CLIENTS: u64 = 6;
/// Accounts money moves between; their total never changes.
const ACCOUNTS: i32 = 24;
const START_BALANCE: i64 = 1000;
/// Values of `items.grp` (the column of the secondary index).
const GROUPS: i32 = 7;
/// Ids of client `c` are `c * ID_SPACE + k`; rolled-back ones are negative.
const ID_SPACE: i64 = 1_000_000_000;
/// Segment file header bytes (docs/wal.md: outside the LSN space).
const SEGMENT_HEADER_BYTES: u64 = 32;
const PAGE_BYTES: usize = 8192;

// ---------------------------------------------------------------------------
// The server process

struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
}

/// Starts the binary on `dir` (port 0). `Err` carries the exit status and
/// stderr when it exits instead of listening.
fn start(dir: &Path) -> Result<Server, (Option<i32>, String)> {
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            "127.0.0.1:0",
            // A small pool, so pages are stolen (written before their
            // transaction commits) and evicted all the time.
            "--buffer-pool",
            "1MiB",
            "--superuser",
            "tester",
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn arbordb");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("piped stderr");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .and_then(|a| a.parse().ok())
                        .unwrap_or_else(|| panic!("unparsable address in {line:?}"));
                    return Ok(Server { child, addr, log });
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            // Let the reader thread take the last lines.
            std::thread::sleep(Duration::from_millis(100));
            let text = log.lock().unwrap().join("\n");
            return Err((status.code(), text));
        }
        assert!(
            Instant::now() < deadline,
            "server did not start within 60 s: {}",
            log.lock().unwrap().join("\n")
        );
    }
}

impl Server {
    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn sigkill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("wait after SIGKILL");
    }

    /// SIGTERM and the exit status (0: a clean shutdown).
    fn stop(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s.code();
            }
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(addr: SocketAddr) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=tester dbname=db connect_timeout=10",
            addr.port()
        ),
        tokio_postgres::NoTls,
    )
    .await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// `arbordb check` on a stopped directory: (passed, its output).
fn arbordb_check(dir: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["check", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run arbordb check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains(" 0 faults"), text)
}

// ---------------------------------------------------------------------------
// What the clients were told

/// One client's acknowledged history. Each client runs one operation at a
/// time, so at most one of each kind is in doubt when the server dies.
#[derive(Debug, Default)]
struct Ledger {
    /// Transfer transactions acknowledged: the client's counter, and its
    /// items are exactly `1..=txns`.
    txns: u64,
    /// The transfer whose COMMIT was sent but not answered.
    txn_in_doubt: bool,
    singles: BTreeSet<i64>,
    single_in_doubt: Option<i64>,
    deleted: BTreeSet<i64>,
    delete_in_doubt: Option<i64>,
    /// Test-side sequence for single ids (never reused, even when a kill
    /// left one in doubt and it turned out absent).
    next_single: i64,
    /// Sequence for the ids of rolled-back transactions.
    next_rollback: i64,
    acked_commits: u64,
    in_doubt_seen: u64,
}

type Ledgers = Vec<Arc<Mutex<Ledger>>>;

/// The kinds of statement outcome a client distinguishes.
enum Outcome {
    /// The server answered with an error: the statement (or, for COMMIT,
    /// the transaction) did not take effect.
    Refused,
    /// No answer: the connection broke (the server was killed).
    Lost,
}

fn classify(e: &tokio_postgres::Error) -> Outcome {
    if e.as_db_error().is_some() {
        Outcome::Refused
    } else {
        Outcome::Lost
    }
}

fn pad_for(rng: &mut SplitMix64) -> String {
    // Some rows large enough to need overflow pages.
    let len = match rng.below(10) {
        0 => 3000 + rng.below(6000),
        1..=3 => 200 + rng.below(800),
        _ => rng.below(60),
    } as usize;
    let ch = (b'a' + rng.below(26) as u8) as char;
    std::iter::repeat_n(ch, len).collect()
}

fn tag_of(client: u64, k: u64) -> String {
    format!("t{client}-{k}")
}

fn grp_of(client: u64, k: u64) -> i32 {
    ((client * 31 + k * 7) % GROUPS as u64) as i32
}

/// One client: commits until the server dies. Returns when the connection
/// is gone.
async fn client_loop(addr: SocketAddr, c: u64, ledger: Arc<Mutex<Ledger>>, seed: u64) {
    let Ok(db) = connect(addr).await else {
        return;
    };
    let mut rng = SplitMix64::new(seed);
    loop {
        let r = rng.below(20);
        let lost = if r < 10 {
            transfer(&db, c, &ledger, &mut rng).await
        } else if r < 15 {
            insert_single(&db, c, &ledger, &mut rng).await
        } else if r < 17 {
            delete_single(&db, &ledger, &mut rng).await
        } else {
            rolled_back(&db, c, &ledger, &mut rng).await
        };
        if lost {
            return;
        }
    }
}

/// BEGIN; insert item k; counter += 1; rewrite an older item; move money
/// between two accounts (in id order, so transfers never deadlock); COMMIT.
/// Returns whether the connection was lost.
async fn transfer(
    db: &tokio_postgres::Client,
    c: u64,
    ledger: &Mutex<Ledger>,
    rng: &mut SplitMix64,
) -> bool {
    let k = ledger.lock().unwrap().txns + 1;
    let id = c as i64 * ID_SPACE + k as i64;
    let a = 1 + rng.below(ACCOUNTS as u64) as i32;
    let mut b = 1 + rng.below(ACCOUNTS as u64 - 1) as i32;
    if b >= a {
        b += 1;
    }
    let amount = 1 + rng.below(50) as i64;
    let (first, first_delta, second, second_delta) = if a < b {
        (a, -amount, b, amount)
    } else {
        (b, amount, a, -amount)
    };
    let pad = pad_for(rng);
    let older = 1 + rng.below(k) as i64;
    let older_pad = pad_for(rng);
    let steps = async {
        db.batch_execute("BEGIN").await?;
        db.execute(
            "INSERT INTO items (id, client, grp, tag, pad) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &(c as i32), &grp_of(c, k), &tag_of(c, k), &pad],
        )
        .await?;
        db.execute(
            "UPDATE counters SET n = n + 1 WHERE client = $1",
            &[&(c as i32)],
        )
        .await?;
        if older < k as i64 {
            db.execute(
                "UPDATE items SET pad = $1 WHERE id = $2",
                &[&older_pad, &(c as i64 * ID_SPACE + older)],
            )
            .await?;
        }
        db.execute(
            "UPDATE accounts SET bal = bal + $1 WHERE id = $2",
            &[&first_delta, &first],
        )
        .await?;
        db.execute(
            "UPDATE accounts SET bal = bal + $1 WHERE id = $2",
            &[&second_delta, &second],
        )
        .await?;
        Ok::<(), tokio_postgres::Error>(())
    };
    if let Err(e) = steps.await {
        return match classify(&e) {
            Outcome::Lost => true,
            Outcome::Refused => db.batch_execute("ROLLBACK").await.is_err(),
        };
    }
    ledger.lock().unwrap().txn_in_doubt = true;
    match db.batch_execute("COMMIT").await {
        Ok(()) => {
            let mut l = ledger.lock().unwrap();
            l.txns = k;
            l.txn_in_doubt = false;
            l.acked_commits += 1;
            false
        }
        Err(e) => match classify(&e) {
            Outcome::Lost => true,
            Outcome::Refused => {
                ledger.lock().unwrap().txn_in_doubt = false;
                false
            }
        },
    }
}

/// An autocommit INSERT of a fresh id.
async fn insert_single(
    db: &tokio_postgres::Client,
    c: u64,
    ledger: &Mutex<Ledger>,
    rng: &mut SplitMix64,
) -> bool {
    let id = {
        let mut l = ledger.lock().unwrap();
        l.next_single += 1;
        let id = c as i64 * ID_SPACE + l.next_single;
        l.single_in_doubt = Some(id);
        id
    };
    let note = pad_for(rng);
    match db
        .execute(
            "INSERT INTO singles (id, client, note) VALUES ($1, $2, $3)",
            &[&id, &(c as i32), &note],
        )
        .await
    {
        Ok(1) => {
            let mut l = ledger.lock().unwrap();
            l.singles.insert(id);
            l.single_in_doubt = None;
            l.acked_commits += 1;
            false
        }
        Ok(n) => panic!("INSERT of one fresh row reported {n} rows"),
        Err(e) => match classify(&e) {
            Outcome::Lost => true,
            Outcome::Refused => {
                ledger.lock().unwrap().single_in_doubt = None;
                false
            }
        },
    }
}

/// An autocommit DELETE of one of this client's acknowledged singles.
async fn delete_single(
    db: &tokio_postgres::Client,
    ledger: &Mutex<Ledger>,
    rng: &mut SplitMix64,
) -> bool {
    let victim = {
        let mut l = ledger.lock().unwrap();
        if l.singles.is_empty() {
            return false;
        }
        let i = rng.below(l.singles.len() as u64) as usize;
        let Some(&id) = l.singles.iter().nth(i) else {
            return false;
        };
        l.delete_in_doubt = Some(id);
        id
    };
    match db
        .execute("DELETE FROM singles WHERE id = $1", &[&victim])
        .await
    {
        Ok(1) => {
            let mut l = ledger.lock().unwrap();
            l.singles.remove(&victim);
            l.deleted.insert(victim);
            l.delete_in_doubt = None;
            l.acked_commits += 1;
            false
        }
        Ok(n) => panic!("DELETE of acknowledged single {victim} removed {n} rows"),
        Err(e) => match classify(&e) {
            Outcome::Lost => true,
            Outcome::Refused => {
                ledger.lock().unwrap().delete_in_doubt = None;
                false
            }
        },
    }
}

/// A transaction that writes and then rolls back: none of it may ever be
/// seen, whether the ROLLBACK was answered or the kill cut it short.
async fn rolled_back(
    db: &tokio_postgres::Client,
    c: u64,
    ledger: &Mutex<Ledger>,
    rng: &mut SplitMix64,
) -> bool {
    let id = {
        let mut l = ledger.lock().unwrap();
        l.next_rollback += 1;
        -(c as i64 * ID_SPACE + l.next_rollback)
    };
    let account = 1 + rng.below(ACCOUNTS as u64) as i32;
    let pad = pad_for(rng);
    let steps = async {
        db.batch_execute("BEGIN").await?;
        db.execute(
            "INSERT INTO items (id, client, grp, tag, pad) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &(c as i32), &0i32, &format!("rb{id}"), &pad],
        )
        .await?;
        db.execute(
            "UPDATE accounts SET bal = bal + 1000000 WHERE id = $1",
            &[&account],
        )
        .await?;
        db.execute(
            "UPDATE counters SET n = n + 1000 WHERE client = $1",
            &[&(c as i32)],
        )
        .await?;
        db.batch_execute("ROLLBACK").await?;
        Ok::<(), tokio_postgres::Error>(())
    };
    match steps.await {
        Ok(()) => false,
        Err(e) => match classify(&e) {
            Outcome::Lost => true,
            Outcome::Refused => db.batch_execute("ROLLBACK").await.is_err(),
        },
    }
}

// ---------------------------------------------------------------------------
// Checking the restarted server

async fn setup(db: &tokio_postgres::Client) {
    let mut sql = String::from(
        "CREATE TABLE accounts (id int PRIMARY KEY, bal bigint NOT NULL);
         CREATE TABLE counters (client int PRIMARY KEY, n bigint NOT NULL);
         CREATE TABLE items (id bigint PRIMARY KEY, client int NOT NULL, grp int NOT NULL,
                             tag text NOT NULL, pad text);
         CREATE INDEX items_grp ON items (grp);
         CREATE UNIQUE INDEX items_tag ON items (tag);
         CREATE TABLE singles (id bigint PRIMARY KEY, client int NOT NULL, note text);
         CREATE INDEX singles_client ON singles (client);",
    );
    let accounts: Vec<String> = (1..=ACCOUNTS)
        .map(|a| format!("({a}, {START_BALANCE})"))
        .collect();
    sql.push_str(&format!(
        "INSERT INTO accounts VALUES {};",
        accounts.join(", ")
    ));
    let counters: Vec<String> = (0..CLIENTS).map(|c| format!("({c}, 0)")).collect();
    sql.push_str(&format!(
        "INSERT INTO counters VALUES {};",
        counters.join(", ")
    ));
    db.batch_execute(&sql).await.expect("schema");
}

async fn plan(db: &tokio_postgres::Client, sql: &str) -> String {
    let mut text = String::new();
    for m in db
        .simple_query(&format!("EXPLAIN {sql}"))
        .await
        .expect("EXPLAIN")
    {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            text.push_str(r.get(0).unwrap_or(""));
            text.push('\n');
        }
    }
    text
}

/// Compares the restarted database with the ledgers, then resolves what
/// was in doubt (so the next round starts from exact knowledge).
async fn verify(db: &tokio_postgres::Client, ledgers: &Ledgers, ctx: &str) {
    // Sequential scans.
    let mut items: BTreeMap<i64, (i32, i32, String)> = BTreeMap::new();
    for row in db
        .query("SELECT id, client, grp, tag FROM items", &[])
        .await
        .unwrap_or_else(|e| panic!("{ctx}: scan items: {e}"))
    {
        items.insert(row.get(0), (row.get(1), row.get(2), row.get(3)));
    }
    let counters: BTreeMap<i32, i64> = db
        .query("SELECT client, n FROM counters", &[])
        .await
        .unwrap_or_else(|e| panic!("{ctx}: scan counters: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let balances: BTreeMap<i32, i64> = db
        .query("SELECT id, bal FROM accounts", &[])
        .await
        .unwrap_or_else(|e| panic!("{ctx}: scan accounts: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let singles: BTreeMap<i64, i32> = db
        .query("SELECT id, client FROM singles", &[])
        .await
        .unwrap_or_else(|e| panic!("{ctx}: scan singles: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    // No partial transfer: the money is all there.
    assert_eq!(
        balances.len(),
        ACCOUNTS as usize,
        "{ctx}: accounts {balances:?}"
    );
    let total: i64 = balances.values().sum();
    assert_eq!(
        total,
        ACCOUNTS as i64 * START_BALANCE,
        "{ctx}: a transfer is partly there (or a rolled-back one is): {balances:?}"
    );
    // Nothing rolled back is visible.
    let negative: Vec<&i64> = items.keys().filter(|&&id| id < 0).collect();
    assert!(
        negative.is_empty(),
        "{ctx}: rows of rolled-back transactions survived: {negative:?}"
    );

    for (c, ledger) in ledgers.iter().enumerate() {
        let c = c as u64;
        let mut l = ledger.lock().unwrap();
        let n = counters
            .get(&(c as i32))
            .copied()
            .unwrap_or_else(|| panic!("{ctx}: counter row of client {c} missing"));
        assert!(n >= 0, "{ctx}: counter {n}");
        let n = n as u64;
        let allowed_extra = u64::from(l.txn_in_doubt);
        assert!(
            n >= l.txns && n <= l.txns + allowed_extra,
            "{ctx}: client {c}: {} transfers acknowledged{}, counter says {n}",
            l.txns,
            if l.txn_in_doubt {
                " (one in doubt)"
            } else {
                ""
            }
        );
        // Items of this transaction stream: exactly 1..=n, with their tags.
        let mine: Vec<i64> = items
            .range(c as i64 * ID_SPACE..(c as i64 + 1) * ID_SPACE)
            .map(|(&id, _)| id - c as i64 * ID_SPACE)
            .collect();
        let expected: Vec<i64> = (1..=n as i64).collect();
        assert_eq!(
            mine, expected,
            "{ctx}: client {c}: items disagree with the counter {n} (a partial transaction)"
        );
        for k in 1..=n {
            let (client, grp, tag) = &items[&(c as i64 * ID_SPACE + k as i64)];
            assert_eq!(
                (*client, *grp, tag.as_str()),
                (c as i32, grp_of(c, k), tag_of(c, k).as_str()),
                "{ctx}: client {c} item {k}"
            );
        }
        if l.txn_in_doubt {
            l.in_doubt_seen += 1;
        }
        l.txns = n;
        l.txn_in_doubt = false;

        // Singles: every acknowledged insert there, every acknowledged
        // delete gone, nothing else but what was in doubt.
        let present: BTreeSet<i64> = singles
            .range(c as i64 * ID_SPACE..(c as i64 + 1) * ID_SPACE)
            .map(|(&id, _)| id)
            .collect();
        let lost: Vec<&i64> = l.singles.difference(&present).collect();
        let lost: Vec<&i64> = lost
            .into_iter()
            .filter(|id| l.delete_in_doubt != Some(**id))
            .collect();
        assert!(
            lost.is_empty(),
            "{ctx}: client {c}: acknowledged inserts lost: {lost:?}"
        );
        let resurrected: Vec<&i64> = l.deleted.intersection(&present).collect();
        assert!(
            resurrected.is_empty(),
            "{ctx}: client {c}: acknowledged deletes undone: {resurrected:?}"
        );
        let unknown: Vec<&i64> = present
            .iter()
            .filter(|id| !l.singles.contains(id) && l.single_in_doubt != Some(**id))
            .collect();
        assert!(
            unknown.is_empty(),
            "{ctx}: client {c}: rows nobody was told of: {unknown:?}"
        );
        if let Some(id) = l.single_in_doubt.take() {
            l.in_doubt_seen += 1;
            if present.contains(&id) {
                l.singles.insert(id);
            }
        }
        if let Some(id) = l.delete_in_doubt.take() {
            l.in_doubt_seen += 1;
            if !present.contains(&id) {
                l.singles.remove(&id);
                l.deleted.insert(id);
            }
        }
    }

    // The indexes agree with the table. First, that these really are index
    // scans (and the full scans above are not).
    let by_grp = "SELECT id FROM items WHERE grp = 3";
    let p = plan(db, by_grp).await;
    assert!(p.contains("Index Scan using items_grp"), "{ctx}: {p}");
    let p = plan(db, "SELECT id, client, grp, tag FROM items").await;
    assert!(p.contains("Seq Scan"), "{ctx}: {p}");
    let mut through_grp = BTreeSet::new();
    for g in 0..GROUPS {
        for row in db
            .query("SELECT id, grp FROM items WHERE grp = $1", &[&g])
            .await
            .unwrap_or_else(|e| panic!("{ctx}: items by grp: {e}"))
        {
            let id: i64 = row.get(0);
            let grp: i32 = row.get(1);
            assert_eq!(
                grp, g,
                "{ctx}: index items_grp returned a row of another group"
            );
            assert!(
                through_grp.insert(id),
                "{ctx}: items_grp returned {id} twice"
            );
        }
    }
    let scanned: BTreeSet<i64> = items.keys().copied().collect();
    assert_eq!(
        through_grp, scanned,
        "{ctx}: index items_grp disagrees with the table"
    );
    // The unique index, whole: a range over every tag (all start with 't').
    let all_tags = "SELECT id, tag FROM items WHERE tag >= 't'";
    let p = plan(db, all_tags).await;
    assert!(p.contains("Index Scan using items_tag"), "{ctx}: {p}");
    let through_tag: BTreeMap<i64, String> = db
        .query(all_tags, &[])
        .await
        .unwrap_or_else(|e| panic!("{ctx}: items by tag: {e}"))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let scanned_tags: BTreeMap<i64, String> = items
        .iter()
        .map(|(&id, (_, _, tag))| (id, tag.clone()))
        .collect();
    assert_eq!(
        through_tag, scanned_tags,
        "{ctx}: index items_tag disagrees with the table"
    );
    let p = plan(db, "SELECT id FROM items WHERE tag = 'x'").await;
    assert!(p.contains("Index Scan using items_tag"), "{ctx}: {p}");
    for (id, (_, _, tag)) in sample(&items, 25) {
        let rows = db
            .query("SELECT id FROM items WHERE tag = $1", &[tag])
            .await
            .unwrap_or_else(|e| panic!("{ctx}: items by tag: {e}"));
        let got: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(got, vec![*id], "{ctx}: index items_tag for {tag:?}");
    }
    let p = plan(db, "SELECT id FROM singles WHERE client = 1").await;
    assert!(p.contains("Index Scan using singles_client"), "{ctx}: {p}");
    for c in 0..CLIENTS as i32 {
        let got: BTreeSet<i64> = db
            .query("SELECT id FROM singles WHERE client = $1", &[&c])
            .await
            .unwrap_or_else(|e| panic!("{ctx}: singles by client: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        let want: BTreeSet<i64> = singles
            .iter()
            .filter(|&(_, &cl)| cl == c)
            .map(|(&id, _)| id)
            .collect();
        assert_eq!(got, want, "{ctx}: index singles_client for client {c}");
    }
    // And the primary keys: a range through each finds every row, and
    // point lookups find sampled ones.
    for (table, pkey) in [("items", "items_pkey"), ("singles", "singles_pkey")] {
        let sql = format!("SELECT id FROM {table} WHERE id >= 0");
        let p = plan(db, &sql).await;
        assert!(
            p.contains(&format!("Index Scan using {pkey}")),
            "{ctx}: {p}"
        );
        let got: BTreeSet<i64> = db
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{ctx}: {sql}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        let want: BTreeSet<i64> = if table == "items" {
            items.keys().copied().collect()
        } else {
            singles.keys().copied().collect()
        };
        assert_eq!(got, want, "{ctx}: {pkey} disagrees with the table scan");
    }
    let p = plan(db, "SELECT id FROM singles WHERE id = 5").await;
    assert!(p.contains("Index Scan using singles_pkey"), "{ctx}: {p}");
    for (id, _) in sample(&singles, 25) {
        let n = db
            .query("SELECT id FROM singles WHERE id = $1", &[id])
            .await
            .unwrap_or_else(|e| panic!("{ctx}: singles by id: {e}"))
            .len();
        assert_eq!(n, 1, "{ctx}: primary key lookup of single {id}");
    }
}

/// About `n` entries of `map`, spread over it.
fn sample<K, V>(map: &BTreeMap<K, V>, n: usize) -> impl Iterator<Item = (&K, &V)> {
    let step = (map.len() / n.max(1)).max(1);
    map.iter().step_by(step)
}

// ---------------------------------------------------------------------------
// The log on disk after a kill

/// What a read-only pass over the stopped directory's log found.
#[derive(Debug)]
struct LogScan {
    segment_bytes: u64,
    /// Start of the last segment file.
    last_segment: Lsn,
    /// The end of the valid log.
    end: Lsn,
    /// Every record from the checkpoint on: (lsn, end).
    records: Vec<(Lsn, Lsn)>,
    /// Nothing below this may be cut: it holds every acknowledged commit,
    /// every id limit, every checkpoint, and every page change on disk.
    keep_below: Lsn,
}

fn scan_log(dir: &Path) -> LogScan {
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(dir));
    let control = ControlFile::open(vfs.as_ref())
        .expect("control file")
        .expect("a control file exists")
        .get();
    let segments = Segments::open(vfs, control.segment_bytes).expect("segments");
    let last_segment = *segments.starts().last().expect("a segment");
    let mut reader = LogReader::new(&segments);
    let mut pos = control.checkpoint;
    let mut records = Vec::new();
    let mut keep_below = control.checkpoint;
    while let Found::Record(rec, next) = reader.at(pos).expect("read the log") {
        records.push((pos, next));
        if matches!(
            rec.body,
            RecordBody::Commit
                | RecordBody::CheckpointBegin
                | RecordBody::CheckpointEnd { .. }
                | RecordBody::IdLimit { .. }
        ) {
            keep_below = next;
        }
        pos = next;
    }
    let end = pos;
    // The write-ahead rule, seen from outside: no page on disk is ahead of
    // the log, and a page LSN is always the start of a record.
    let data = std::fs::read(dir.join("arbordb.data")).expect("read the data file");
    for (page, bytes) in data.chunks(PAGE_BYTES).enumerate() {
        if bytes.len() < 16 {
            continue;
        }
        let lsn = Lsn(u64::from_le_bytes(
            bytes[8..16].try_into().expect("8 bytes"),
        ));
        if lsn < control.checkpoint {
            continue;
        }
        assert!(
            lsn < end,
            "page {page} has LSN {} beyond the log's end {}: written before its log",
            lsn.0,
            end.0
        );
        let at = records
            .binary_search_by_key(&lsn, |&(l, _)| l)
            .unwrap_or_else(|_| panic!("page {page} has LSN {} between records", lsn.0));
        keep_below = keep_below.max(records[at].1);
    }
    LogScan {
        segment_bytes: control.segment_bytes,
        last_segment,
        end,
        records,
        keep_below,
    }
}

fn segment_file(dir: &Path, lsn: Lsn, segment_bytes: u64) -> (PathBuf, u64) {
    let start = lsn.0 - lsn.0 % segment_bytes;
    (
        dir.join(segment_path(Lsn(start))),
        SEGMENT_HEADER_BYTES + lsn.0 % segment_bytes,
    )
}

/// What a round does to the directory between the kill and the restart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum AfterKill {
    Nothing,
    /// Truncate the last segment file inside the unflushed tail.
    CutTail,
    /// Overwrite part of the unflushed tail with garbage (a torn write).
    GarbageTail,
    /// `arbordb check` opens (and so recovers) the crashed directory.
    CheckRecovers,
}

/// Damages the tail the way a power loss during the last write could.
/// Returns (cut point, whether a torn record was left for recovery to find).
fn damage_tail(dir: &Path, how: AfterKill, rng: &mut SplitMix64) -> (Lsn, bool) {
    let scan = scan_log(dir);
    let from = scan.keep_below.max(scan.last_segment);
    let to = scan.end.max(from);
    let cut = Lsn(from.0 + rng.below(to.0 - from.0 + 1));
    let (path, offset) = segment_file(dir, cut, scan.segment_bytes);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open the last segment");
    match how {
        AfterKill::CutTail => {
            file.set_len(offset).expect("truncate the segment");
            (cut, false)
        }
        AfterKill::GarbageTail => {
            // From the cut to past the end of the log: the last write torn
            // from its end (docs/wal.md: a crash damages only the last
            // batch, from its end).
            let n = (to.0 - cut.0) as usize + 1 + rng.below(512) as usize;
            let garbage: Vec<u8> = (0..n).map(|_| (rng.below(255) + 1) as u8).collect();
            file.write_all_at(&garbage, offset).expect("write garbage");
            (cut, true)
        }
        other => unreachable!("{other:?} is not a tail damage"),
    }
}

/// Flips a byte inside a record that has valid records after it and is
/// after the last checkpoint: the server must refuse to start, name the
/// corruption, and change nothing. The byte is put back afterwards.
fn corrupt_mid_log_record_is_a_hard_error(dir: &Path, rng: &mut SplitMix64, ctx: &str) {
    let scan = scan_log(dir);
    // The first two records are the checkpoint's; choose one after them
    // that is not the last.
    if scan.records.len() < 5 {
        eprintln!("{ctx}: log too short for the mid-log corruption check; skipped");
        return;
    }
    let i = 2 + rng.below(scan.records.len() as u64 - 3) as usize;
    let (lsn, next) = scan.records[i];
    // Past the length field, so the record still claims its place.
    let at = Lsn(lsn.0 + 8 + rng.below(next.0 - lsn.0 - 8));
    let (path, offset) = segment_file(dir, at, scan.segment_bytes);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .expect("open segment");
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).expect("read byte");
    let before = std::fs::read(&path).expect("read segment");
    file.write_all_at(&[byte[0] ^ 0x20], offset)
        .expect("flip byte");
    match start(dir) {
        Ok(server) => panic!(
            "{ctx}: the server started over a corrupt record at LSN {} (byte {}): {}",
            lsn.0,
            at.0,
            server.log_text()
        ),
        Err((code, log)) => {
            assert_eq!(code, Some(1), "{ctx}: exit status; log: {log}");
            assert!(
                log.contains("write-ahead log is corrupt at LSN"),
                "{ctx}: the refusal names the corruption: {log}"
            );
        }
    }
    let mut after = std::fs::read(&path).expect("read segment");
    after[offset as usize] = byte[0];
    assert!(
        before[..offset as usize] == after[..offset as usize]
            && before[offset as usize + 1..] == after[offset as usize + 1..],
        "{ctx}: the refused start changed the log"
    );
    file.write_all_at(&byte, offset).expect("restore byte");
}

// ---------------------------------------------------------------------------

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn killed_server_keeps_every_acknowledged_commit() {
    let rounds = env_u64("ARBORDB_KILL_ROUNDS").unwrap_or(6).max(1);
    let seed = env_u64("ARBORDB_KILL_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!("durability_server: ARBORDB_KILL_SEED={seed} ARBORDB_KILL_ROUNDS={rounds}");
    let mut rng = SplitMix64::new(seed);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).expect("data dir");
    let ledgers: Ledgers = (0..CLIENTS)
        .map(|_| Arc::new(Mutex::new(Ledger::default())))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let corrupt_round = if rounds >= 3 {
        1 + rng.below(rounds - 1)
    } else {
        u64::MAX
    };
    let mut stats: BTreeMap<&str, u64> = BTreeMap::new();
    for round in 0..rounds {
        let ctx = format!("seed {seed} round {round}");
        let round_start = Instant::now();
        let mut server = start(&dir).unwrap_or_else(|(code, log)| {
            panic!("{ctx}: the server did not restart (exit {code:?}): {log}")
        });
        let started = round_start.elapsed();
        runtime.block_on(async {
            let db = connect(server.addr)
                .await
                .unwrap_or_else(|e| panic!("{ctx}: connect: {e}"));
            if round == 0 {
                setup(&db).await;
            }
            verify(&db, &ledgers, &ctx).await;
        });
        let verified = round_start.elapsed();
        // The workload, and a SIGKILL at a random moment of it.
        let kill_after = Duration::from_millis(100 + rng.below(1200));
        let handles: Vec<_> = ledgers
            .iter()
            .enumerate()
            .map(|(c, l)| {
                runtime.spawn(client_loop(
                    server.addr,
                    c as u64,
                    l.clone(),
                    rng.next_u64(),
                ))
            })
            .collect();
        std::thread::sleep(kill_after);
        server.sigkill();
        runtime.block_on(async {
            for h in handles {
                tokio::time::timeout(Duration::from_secs(30), h)
                    .await
                    .unwrap_or_else(|_| panic!("{ctx}: a client hung after the kill"))
                    .expect("client task");
            }
        });
        let log = server.log_text();
        assert!(
            !log.contains("panicked"),
            "{ctx}: the server panicked: {log}"
        );
        drop(server);

        if round == corrupt_round {
            corrupt_mid_log_record_is_a_hard_error(&dir, &mut rng, &ctx);
            *stats.entry("mid-log corruption refused").or_default() += 1;
        }
        let how = match rng.below(4) {
            0 => AfterKill::Nothing,
            1 => AfterKill::CutTail,
            2 => AfterKill::GarbageTail,
            _ => AfterKill::CheckRecovers,
        };
        match how {
            AfterKill::Nothing => {}
            AfterKill::CutTail | AfterKill::GarbageTail => {
                let (cut, torn) = damage_tail(&dir, how, &mut rng);
                if torn {
                    // Recovery must see the garbage and say so.
                    let server = start(&dir).unwrap_or_else(|(code, log)| {
                        panic!(
                            "{ctx}: no restart after garbage at LSN {} (exit {code:?}): {log}",
                            cut.0
                        )
                    });
                    let log = server.log_text();
                    assert!(
                        log.contains("torn or corrupt record"),
                        "{ctx}: garbage at LSN {} not reported: {log}",
                        cut.0
                    );
                    // Checked by the next round's start (already recovered).
                    server.stop();
                }
            }
            AfterKill::CheckRecovers => {
                let (ok, out) = arbordb_check(&dir);
                assert!(ok, "{ctx}: arbordb check on the crashed directory: {out}");
            }
        }
        eprintln!(
            "{ctx}: start {:.1}s, verify {:.1}s, killed after {} ms, {how:?}, round {:.1}s",
            started.as_secs_f64(),
            (verified - started).as_secs_f64(),
            kill_after.as_millis(),
            round_start.elapsed().as_secs_f64()
        );
        *stats
            .entry(match how {
                AfterKill::Nothing => "plain kill",
                AfterKill::CutTail => "cut tail",
                AfterKill::GarbageTail => "garbage tail",
                AfterKill::CheckRecovers => "check recovered",
            })
            .or_default() += 1;
    }
    // The last crash, recovered and checked; then a clean stop and check.
    let server = start(&dir).unwrap_or_else(|(code, log)| {
        panic!("seed {seed} final: the server did not restart (exit {code:?}): {log}")
    });
    runtime.block_on(async {
        let db = connect(server.addr).await.expect("connect");
        verify(&db, &ledgers, &format!("seed {seed} final")).await;
    });
    assert_eq!(server.stop(), Some(0), "clean shutdown");
    let (ok, out) = arbordb_check(&dir);
    assert!(ok, "seed {seed}: arbordb check after the last round: {out}");

    let acked: u64 = ledgers
        .iter()
        .map(|l| l.lock().unwrap().acked_commits)
        .sum();
    let in_doubt: u64 = ledgers
        .iter()
        .map(|l| l.lock().unwrap().in_doubt_seen)
        .sum();
    assert!(
        acked >= rounds,
        "the workload barely ran: {acked} acknowledged commits in {rounds} rounds"
    );
    eprintln!(
        "durability_server: seed {seed}: {rounds} kill rounds, {acked} acknowledged commits, \
         0 lost ({in_doubt} in doubt at a kill, resolved whole); {stats:?}"
    );
}
