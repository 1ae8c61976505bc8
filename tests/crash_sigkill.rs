//! A real process killed with SIGKILL in the middle of a write-heavy
//! workload, many times in a row, each restart recovering the last one's
//! crash: every commit that was acknowledged (printed after `commit`
//! returned) is there, and no transaction is partly there.
//!
//! The child is this test binary itself, running the ignored test
//! `sigkill_child` with `ARBORDB_SIGKILL_DIR` set. Transaction `t` writes two
//! keys (which ones follows from `t`) with values that start with `t`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arbordb::storage::btree::TreeId;
use arbordb::storage::disk::fault::SplitMix64;
use arbordb::storage::disk::{OsVfs, Vfs};
use arbordb::storage::engine::EngineOptions;
use arbordb::storage::wal::WalOptions;
use arbordb::storage::wal::durable::DurableEngine;

const KEYS: u64 = 61;

fn keys_of(t: u64) -> [u64; 2] {
    let a = t % KEYS;
    let b = (a + 1 + t % (KEYS - 1)) % KEYS;
    [a, b]
}

fn value_of(t: u64, k: u64) -> Vec<u8> {
    let mut v = t.to_le_bytes().to_vec();
    // Some values need overflow pages.
    let pad = (t % 5) as usize * 900;
    v.extend((0..pad).map(|i| (i as u64 + t + k) as u8));
    v
}

fn open(dir: &Path) -> DurableEngine {
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(dir));
    let (db, _) = DurableEngine::open(
        vfs,
        EngineOptions {
            buffer_pool_frames: 32,
        },
        WalOptions {
            segment_bytes: 1 << 20,
            wal_buffer_bytes: 1 << 20,
        },
    )
    .unwrap();
    db
}

fn tree(db: &DurableEngine) -> TreeId {
    match db.engine().tree(TreeId(1)) {
        Ok(t) => t.id(),
        Err(_) => db.create_tree().unwrap(),
    }
}

/// The child: commits transactions until it is killed.
#[test]
#[ignore = "run by killed_child_loses_no_acknowledged_commit as a child process"]
fn sigkill_child() {
    let Ok(dir) = std::env::var("ARBORDB_SIGKILL_DIR") else {
        return;
    };
    let start: u64 = std::env::var("ARBORDB_SIGKILL_START")
        .unwrap()
        .parse()
        .unwrap();
    let db = open(Path::new(&dir));
    let tree = tree(&db);
    let mut out = std::io::stdout().lock();
    for t in start.. {
        let txn = db.begin().unwrap();
        for k in keys_of(t) {
            db.insert(&txn, tree, &k.to_be_bytes(), &value_of(t, k))
                .unwrap();
        }
        if t % 50 == 0 {
            db.checkpoint().unwrap();
        }
        db.commit(&txn).unwrap();
        writeln!(out, "ack {t}").unwrap();
        out.flush().unwrap();
    }
}

/// Checks the recovered state against the acknowledged commits; returns the
/// largest transaction found.
fn verify(db: &DurableEngine, acked: &[u64], round: usize) -> u64 {
    let tree = tree(db);
    let report = db.engine().check().unwrap();
    assert!(report.is_ok(), "round {round}: tree check: {report}");
    let max_acked = acked.iter().copied().max().unwrap_or(0);
    let mut found: BTreeMap<u64, u64> = BTreeMap::new();
    for k in 0..KEYS {
        if let Some(v) = db.get(tree, &k.to_be_bytes()).unwrap() {
            let t = u64::from_le_bytes(v[..8].try_into().unwrap());
            assert_eq!(
                v,
                value_of(t, k),
                "round {round}: key {k} holds a torn value"
            );
            assert!(
                keys_of(t).contains(&k),
                "round {round}: txn {t} never wrote key {k}"
            );
            assert!(
                t <= max_acked + 1,
                "round {round}: key {k} holds txn {t}, beyond the one in flight"
            );
            found.insert(k, t);
        }
    }
    for k in 0..KEYS {
        if let Some(last) = acked
            .iter()
            .copied()
            .filter(|&t| keys_of(t).contains(&k))
            .max()
        {
            let t = found.get(&k).copied();
            assert!(
                t.is_some_and(|t| t >= last),
                "round {round}: acknowledged txn {last} lost on key {k} (found {t:?})"
            );
        }
    }
    // Atomicity: a transaction seen on one key is on its other key too (or
    // a later transaction overwrote it there).
    for (&k, &t) in &found {
        for other in keys_of(t) {
            if other != k {
                let o = found.get(&other).copied();
                assert!(
                    o.is_some_and(|o| o >= t),
                    "round {round}: txn {t} is on key {k} but not on key {other} (found {o:?})"
                );
            }
        }
    }
    found.values().copied().max().unwrap_or(0).max(max_acked)
}

#[test]
fn killed_child_loses_no_acknowledged_commit_and_leaves_no_partial_transaction() {
    let rounds: usize = std::env::var("ARBORDB_SIGKILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let seed = std::env::var("ARBORDB_SIGKILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("ARBORDB_SIGKILL_SEED={seed}");
    let mut rng = SplitMix64::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    let mut next = 1u64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "sigkill_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("ARBORDB_SIGKILL_DIR", dir.path())
            .env("ARBORDB_SIGKILL_START", next.to_string())
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
                    let _ = tx.send(t.parse::<u64>().unwrap());
                }
            }
        });
        // Let it commit a while, then kill it at a random moment.
        let want = 20 + rng.below(150);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut got = 0;
        while got < want && Instant::now() < deadline {
            if let Ok(t) = rx.recv_timeout(Duration::from_millis(100)) {
                acked.push(t);
                got += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        acked.extend(rx.try_iter());
        assert!(
            got > 0,
            "round {round} (seed {seed}): the child committed nothing"
        );
        let db = open(dir.path());
        let max = verify(&db, &acked, round);
        next = max + 1;
        // Leave without a clean shutdown either.
        std::mem::forget(db);
    }
}
