//! DDL through a crash: a child process creates a table (with a
//! `bigserial` key and so a sequence), fills it and indexes it in one
//! transaction, over and over, and is killed with SIGKILL at a random
//! moment. After each kill, every acknowledged table is there whole (its
//! rows, its index, its sequence); the one in flight is either entirely
//! there or entirely absent; no later one exists. A sequence's nextval is
//! durable though not transactional: after the crash it continues above
//! every value the child was handed.
//!
//! The child is this test binary itself, running the ignored test
//! `sigkill_ddl_child` with `ARBORDB_DDL_DIR` set. Replay a failure with
//! `ARBORDB_DDL_SEED`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arbordb::storage::disk::fault::SplitMix64;
use arbordb::{Database, Session, SqlState, Value};

const ROWS: i64 = 100;

fn fill_sql(i: u64) -> String {
    let values: Vec<String> = (0..ROWS).map(|v| format!("({v}, 'w{v}')")).collect();
    format!(
        "BEGIN; \
         CREATE TABLE t{i} (id bigserial PRIMARY KEY, v int NOT NULL, w text); \
         INSERT INTO t{i} (v, w) VALUES {}; \
         CREATE UNIQUE INDEX t{i}_v ON t{i} (v); \
         COMMIT",
        values.join(", ")
    )
}

fn int(s: &mut Session, sql: &str) -> Result<i64, arbordb::Error> {
    let rows = s.query(sql)?;
    match rows.as_slice() {
        [row] => match row.as_slice() {
            [Value::Int8(n)] => Ok(*n),
            other => panic!("{sql}: {other:?}"),
        },
        other => panic!("{sql}: {other:?}"),
    }
}

/// The child: creates, fills and indexes tables until it is killed.
#[test]
#[ignore = "run by killed_ddl_is_all_or_nothing as a child process"]
fn sigkill_ddl_child() {
    let Some(dir) = std::env::var_os("ARBORDB_DDL_DIR") else {
        return;
    };
    let start: u64 = std::env::var("ARBORDB_DDL_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let db = Database::open(Path::new(&dir)).unwrap();
    let mut s = db.session();
    s.execute("CREATE SEQUENCE IF NOT EXISTS ids").unwrap();
    for i in start.. {
        let v = int(&mut s, "SELECT nextval('ids')").unwrap();
        println!("\nseq {v}");
        s.execute(&fill_sql(i)).unwrap();
        println!("\nack {i}");
    }
}

/// Whether table `t{i}` exists; if it does, that it is whole.
fn check_table(s: &mut Session, i: u64, seed: u64) -> bool {
    match int(s, &format!("SELECT count(*) FROM t{i}")) {
        Err(e) if e.sqlstate == SqlState::UNDEFINED_TABLE => {
            // Nothing of it is left: not its sequence, not its index name.
            let e = int(s, &format!("SELECT nextval('t{i}_id_seq')")).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::UNDEFINED_TABLE, "seed {seed}: t{i}");
            s.execute(&format!("CREATE TABLE t{i}_v (a int)"))
                .unwrap_or_else(|e| panic!("seed {seed}: t{i}_v is taken: {e}"));
            s.execute(&format!("DROP TABLE t{i}_v")).unwrap();
            false
        }
        Err(e) => panic!("seed {seed}: t{i}: {e}"),
        Ok(n) => {
            assert_eq!(n, ROWS, "seed {seed}: t{i} is partly there");
            // Through the unique index: every v once.
            for v in [0, ROWS / 2, ROWS - 1] {
                let n = int(s, &format!("SELECT count(*) FROM t{i} WHERE v = {v}")).unwrap();
                assert_eq!(n, 1, "seed {seed}: t{i} v = {v}");
            }
            let e = s
                .execute(&format!("INSERT INTO t{i} (v) VALUES (3)"))
                .unwrap_err();
            assert_eq!(
                e.sqlstate,
                SqlState::UNIQUE_VIOLATION,
                "seed {seed}: t{i}_v"
            );
            // The sequence continues above the keys handed out.
            let next = int(s, &format!("SELECT nextval('t{i}_id_seq')")).unwrap();
            assert!(next > ROWS, "seed {seed}: t{i}_id_seq gave {next}");
            let max = int(s, &format!("SELECT max(id) FROM t{i}")).unwrap();
            assert!(max >= ROWS, "seed {seed}: t{i} ids end at {max}");
            true
        }
    }
}

#[test]
fn killed_ddl_is_all_or_nothing() {
    run(std::env::var("ARBORDB_DDL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1));
}

/// Four kills in a row, each restart recovering the last. This found
/// issue #4's lost commits: the parent's `Database` of one round lived on
/// in this thread's SQL statement context after it was dropped, and its
/// buffer pool wrote its frames back when the next round's first statement
/// replaced that context, over pages the child (and the parent's recovery)
/// had changed since: the catalog root went back to an older leaf, and the
/// tables committed in between were lost at the next crash. A closing
/// database now flushes and closes its pool and log for every handle.
#[test]
fn killed_ddl_is_all_or_nothing_across_repeated_crashes() {
    run(4);
}

/// The cause of the above without a crash: a database dropped on this
/// thread while another open (here a second thread) then changes the
/// directory; reopening here and running a statement (which replaces this
/// thread's statement context, the last holder of the first open's
/// handles) must not write the first open's pages back over those
/// changes. Every table of the second open is still there afterwards.
#[test]
fn a_closed_database_never_writes_over_a_later_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    {
        let db = Database::open(&path).unwrap();
        let mut s = db.session();
        s.execute("CREATE SEQUENCE ids").unwrap();
        s.execute(&fill_sql(0)).unwrap();
        assert_eq!(int(&mut s, "SELECT nextval('ids')").unwrap(), 1);
        // dropped here; its pages were never written (no checkpoint yet)
    }
    let later = path.clone();
    std::thread::spawn(move || {
        let db = Database::open(&later).unwrap();
        let mut s = db.session();
        for i in 1..=12 {
            s.execute(&fill_sql(i)).unwrap();
        }
    })
    .join()
    .unwrap();
    {
        let db = Database::open(&path).unwrap();
        let mut s = db.session();
        for i in 0..=12 {
            assert!(check_table(&mut s, i, 0), "t{i} missing after reopen");
        }
    }
    let db = Database::open(&path).unwrap();
    let mut s = db.session();
    for i in 0..=12 {
        assert!(check_table(&mut s, i, 0), "t{i} lost by a stale write-back");
    }
    assert!(!check_table(&mut s, 13, 0));
    assert!(int(&mut s, "SELECT nextval('ids')").unwrap() >= 2);
    let report = db.stack().engine.check().unwrap();
    assert!(report.is_ok(), "{report:?}");
}

fn run(rounds: usize) {
    let seed = std::env::var("ARBORDB_DDL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("ARBORDB_DDL_SEED={seed}");
    let mut rng = SplitMix64::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    let mut max_seq = 0i64;
    let mut next = 1u64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_ddl_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ARBORDB_DDL_DIR", dir.path())
            .env("ARBORDB_DDL_START", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(t) = line.strip_prefix("ack ") {
                    let _ = tx.send((true, t.parse::<i64>().unwrap()));
                } else if let Some(v) = line.strip_prefix("seq ") {
                    let _ = tx.send((false, v.parse::<i64>().unwrap()));
                }
            }
        });
        let want = 1 + rng.below(5);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut got = 0;
        let mut take = |(ack, n): (bool, i64), acked: &mut Vec<u64>, got: &mut u64| {
            if ack {
                acked.push(n as u64);
                *got += 1;
            } else {
                max_seq = max_seq.max(n);
            }
        };
        while got < want && Instant::now() < deadline {
            if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
                take(m, &mut acked, &mut got);
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(40_000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        for m in rx.try_iter() {
            take(m, &mut acked, &mut got);
        }
        assert!(
            got > 0,
            "round {round} (seed {seed}): the child acknowledged nothing"
        );
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        for &i in &acked {
            assert!(
                check_table(&mut s, i, seed),
                "round {round} (seed {seed}): acknowledged t{i} is missing (acked {acked:?}, this round from t{next})"
            );
        }
        let last = acked.iter().copied().max().unwrap_or(0);
        let in_flight = check_table(&mut s, last + 1, seed);
        assert!(
            !check_table(&mut s, last + 2, seed),
            "seed {seed}: t{} exists though t{} was in flight",
            last + 2,
            last + 1
        );
        let v = int(&mut s, "SELECT nextval('ids')").unwrap();
        assert!(v > max_seq, "seed {seed}: nextval gave {v} after {max_seq}");
        max_seq = v;
        next = if in_flight { last + 2 } else { last + 1 };
        drop(s);
        drop(db);
    }
}
