//! The bank workload of `bench/contention.sh`, embedded (no SQL, no wire):
//! sessions move money between 100 accounts for a fixed time at each
//! isolation level with 1, 8 and 32 sessions, retrying 40001 / 40P01, and
//! print throughput, abort rate and p50/p99 latency. Ignored by default (a
//! measurement, not a check); run with
//! `cargo test --release --test txn_contention -- --ignored --nocapture`.
//! It still asserts what must hold: money is conserved, no account is
//! negative, and every error is a retryable one.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use arbordb::storage::{Engine, EngineOptions, Tree};
use arbordb::txn::{
    IsolationLevel, RowLock, RowLockMode, TxnEngine, TxnError, TxnOptions, WaitPolicy,
};

const ACCOUNTS: u64 = 100;
const START_BALANCE: i64 = 1000;

fn key(i: u64) -> Vec<u8> {
    format!("acct{i:04}").into_bytes()
}

fn int(v: &[u8]) -> i64 {
    i64::from_be_bytes(v.try_into().unwrap())
}

fn transfer(
    txn: &Arc<TxnEngine>,
    t: &Tree,
    iso: IsolationLevel,
    a: u64,
    b: u64,
    amount: i64,
) -> Result<(), TxnError> {
    let mut x = txn.begin(TxnOptions::new(iso))?;
    // Lower key first, as a careful application does, to avoid deadlocks.
    let (first, second, d1, d2) = if a < b {
        (a, b, -amount, amount)
    } else {
        (b, a, amount, -amount)
    };
    for (k, delta) in [(first, d1), (second, d2)] {
        // `UPDATE accounts SET balance = balance + delta WHERE id = k`: lock
        // the row and compute from its newest version (READ COMMITTED's
        // re-check; 40001 at the higher levels if it changed).
        x.begin_statement()?;
        let cur = match x.lock_row(
            t,
            &key(k),
            RowLockMode::NoKeyUpdate,
            WaitPolicy::Block,
            "accounts",
        )? {
            RowLock::Locked {
                current: Some(c), ..
            } => int(&c),
            other => panic!("account {k}: {other:?}"),
        };
        if cur + delta < 0 {
            return x.rollback();
        }
        x.put(t, &key(k), &(cur + delta).to_be_bytes(), false)?;
    }
    x.commit()
}

struct Outcome {
    commits: u64,
    aborts: u64,
    latencies_us: Vec<u64>,
}

fn run(iso: IsolationLevel, sessions: u64, duration: Duration) -> Outcome {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 1024,
    })
    .unwrap();
    let t = engine.create_tree().unwrap();
    let txn = TxnEngine::volatile();
    {
        let mut x = txn
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        x.begin_statement().unwrap();
        for i in 0..ACCOUNTS {
            assert!(x.insert(&t, &key(i), &START_BALANCE.to_be_bytes()).unwrap());
        }
        x.commit().unwrap();
    }
    let deadline = Instant::now() + duration;
    let hs: Vec<_> = (0..sessions)
        .map(|s| {
            let (txn, t) = (txn.clone(), t.clone());
            thread::spawn(move || {
                let mut rng = 0x2545_f491_4f6c_dd1du64 ^ (s + 1).wrapping_mul(0x9e37_79b9);
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mut out = Outcome {
                    commits: 0,
                    aborts: 0,
                    latencies_us: Vec::new(),
                };
                while Instant::now() < deadline {
                    let a = next() % ACCOUNTS;
                    let b = (a + 1 + next() % (ACCOUNTS - 1)) % ACCOUNTS;
                    let amount = (next() % 100) as i64;
                    let start = Instant::now();
                    loop {
                        match transfer(&txn, &t, iso, a, b, amount) {
                            Ok(()) => break,
                            Err(e) => {
                                assert!(e.is_retryable(), "{e:?}");
                                out.aborts += 1;
                            }
                        }
                    }
                    out.commits += 1;
                    out.latencies_us.push(start.elapsed().as_micros() as u64);
                }
                out
            })
        })
        .collect();
    let mut total = Outcome {
        commits: 0,
        aborts: 0,
        latencies_us: Vec::new(),
    };
    for h in hs {
        let o = h.join().unwrap();
        total.commits += o.commits;
        total.aborts += o.aborts;
        total.latencies_us.extend(o.latencies_us);
    }
    let mut x = txn
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    x.begin_statement().unwrap();
    let mut sum = 0;
    for i in 0..ACCOUNTS {
        let v = int(&x.get(&t, &key(i)).unwrap().unwrap());
        assert!(v >= 0, "account {i} is {v}");
        sum += v;
    }
    assert_eq!(sum, START_BALANCE * ACCOUNTS as i64, "money not conserved");
    total
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
#[ignore]
fn contention_bank_embedded() {
    let secs: f64 = std::env::var("ARBORDB_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let duration = Duration::from_secs_f64(secs);
    for iso in [
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable,
    ] {
        for sessions in [1u64, 8, 32] {
            let mut o = run(iso, sessions, duration);
            o.latencies_us.sort_unstable();
            let attempts = o.commits + o.aborts;
            println!(
                "contention(embedded): {:<16} {:>2} sessions  {:>8.0} tps  abort {:>5.2}%  p50 {:>6} us  p99 {:>7} us",
                iso.as_str(),
                sessions,
                o.commits as f64 / secs,
                100.0 * o.aborts as f64 / attempts.max(1) as f64,
                percentile(&o.latencies_us, 0.50),
                percentile(&o.latencies_us, 0.99),
            );
            assert!(o.commits > 0);
        }
    }
}
