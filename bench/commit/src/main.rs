//! Measures durable commits per second of small transactions against the
//! write-ahead log on real files, at several numbers of concurrent
//! committers, and the disk's own limit (fdatasync calls per second on a
//! preallocated file in the same directory) in the same run.
//!
//! A transaction is what the storage layer logs for a one-row insert: Begin,
//! an Update record (the logical undo), a Redo record (a ~100-byte cell
//! inserted into a leaf), Commit; the
//! commit returns only once its record is durable (group commit).
//!
//! Usage: bench-commit <data dir> [seconds per measurement] [rounds]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arbordb::storage::Lsn;
use arbordb::storage::disk::{OsVfs, Vfs};
use arbordb::storage::wal::{LogicalUndo, PageRedo, Record, RecordBody, TxnId, Wal, WalOptions};

fn fsync_limit(dir: &Path, secs: f64) -> f64 {
    let path = dir.join("fsync_probe");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create probe file");
    let size: u64 = 16 << 20;
    let block = vec![0u8; 8192];
    let mut off = 0;
    while off < size {
        file.write_all_at(&block, off).expect("preallocate");
        off += block.len() as u64;
    }
    file.sync_all().expect("sync");
    let start = Instant::now();
    let mut n = 0u64;
    let mut off = 0;
    while start.elapsed().as_secs_f64() < secs {
        file.write_all_at(&block, off).expect("write");
        file.sync_data().expect("fdatasync");
        off = (off + block.len() as u64) % size;
        n += 1;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(file);
    let _ = std::fs::remove_file(&path);
    rate
}

fn commits_per_sec(dir: &Path, committers: u64, secs: f64) -> (f64, f64) {
    let run_dir = dir.join(format!("c{committers}"));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).expect("create run dir");
    let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(&run_dir));
    let (wal, _) = Wal::open(vfs, WalOptions::default()).expect("open log");
    let wal = Arc::new(wal);
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let flushes_before = wal.stats().flushes.load(Ordering::Relaxed);
    let start = Instant::now();
    let threads: Vec<_> = (0..committers)
        .map(|t| {
            let (wal, stop, total) = (wal.clone(), stop.clone(), total.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let txn = TxnId((t << 40) | (i + 1));
                    let begin = wal
                        .append(&Record {
                            txn,
                            prev_lsn: Lsn(0),
                            body: RecordBody::Begin,
                        })
                        .expect("append");
                    let key = i.to_be_bytes().to_vec();
                    let mut cell = key.clone();
                    cell.extend_from_slice(&[7u8; 92]);
                    let intent = wal
                        .append(&Record {
                            txn,
                            prev_lsn: begin,
                            body: RecordBody::Update {
                                undo: LogicalUndo {
                                    tree: 1,
                                    key,
                                    before: None,
                                },
                            },
                        })
                        .expect("append");
                    let upd = wal
                        .append(&Record {
                            txn,
                            prev_lsn: intent,
                            body: RecordBody::Redo {
                                smo: Lsn(0),
                                redo: PageRedo {
                                    page: 1 + t,
                                    op: cell,
                                },
                            },
                        })
                        .expect("append");
                    wal.append_durable(&Record {
                        txn,
                        prev_lsn: upd,
                        body: RecordBody::Commit,
                    })
                    .expect("commit");
                    total.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("committer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let commits = total.load(Ordering::Relaxed) as f64;
    let flushes = (wal.stats().flushes.load(Ordering::Relaxed) - flushes_before) as f64;
    drop(wal);
    let _ = std::fs::remove_dir_all(&run_dir);
    (commits / elapsed, commits / flushes.max(1.0))
}

/// Durable commits per second through the MVCC layer, as the SQL layer
/// commits: `Transaction::begin`, one new row (an 8-byte key, a 92-byte
/// row) into one shared tree, `commit` (Update record, the tree change,
/// Commit, group flush, End). Returns (commits/s, commits per fdatasync).
fn mvcc_commits_per_sec(dir: &Path, committers: u64, secs: f64) -> (f64, f64) {
    use arbordb::txn::open::Stack;
    use arbordb::txn::{IsolationLevel, TxnOptions};
    let run_dir = dir.join(format!("m{committers}"));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).expect("create run dir");
    let stack = Stack::open_dir(&run_dir, 4096).expect("open database");
    let tree = stack.create_tree().expect("create tree");
    let wal = stack.wal.clone().expect("a file-backed database has a log");
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let flushes_before = wal.stats().flushes.load(Ordering::Relaxed);
    let start = Instant::now();
    let threads: Vec<_> = (0..committers)
        .map(|t| {
            let (stack, tree, stop, total) =
                (stack.clone(), tree.clone(), stop.clone(), total.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut txn = stack
                        .txns
                        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                        .expect("begin");
                    txn.begin_statement().expect("statement");
                    let key = ((t << 40) | i).to_be_bytes();
                    assert!(txn.insert(&tree, &key, &[7u8; 92]).expect("insert"));
                    txn.commit().expect("commit");
                    total.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("committer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let commits = total.load(Ordering::Relaxed) as f64;
    let flushes = (wal.stats().flushes.load(Ordering::Relaxed) - flushes_before) as f64;
    drop(tree);
    drop(stack);
    let _ = std::fs::remove_dir_all(&run_dir);
    (commits / elapsed, commits / flushes.max(1.0))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).map(String::as_str).unwrap_or("bench-data"));
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let levels = [1u64, 8, 32];
    std::fs::create_dir_all(dir).expect("create data dir");
    // The disk is shared and its speed drifts: interleave the measurements
    // in rounds and report medians, so the limit and the commit rates see
    // the same conditions.
    let mut limits = Vec::new();
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let mut per_flush: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let mut mvcc: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let mut mvcc_pf: Vec<Vec<f64>> = vec![Vec::new(); levels.len()];
    let mut ratios = Vec::new();
    for round in 1..=rounds {
        // The limit is measured right before and right after the c1 runs
        // (one fdatasync per commit, so they are what it bounds) and the
        // round's limit is their mean: a drift within the round shows in
        // both.
        let before = fsync_limit(dir, secs);
        let (rate1, pf1) = commits_per_sec(dir, 1, secs);
        let (mrate1, mpf1) = mvcc_commits_per_sec(dir, 1, secs);
        let after = fsync_limit(dir, secs);
        let limit = (before + after) / 2.0;
        print!("round {round}: fsync limit {limit:.0}/s ({before:.0}, {after:.0})");
        limits.push(limit);
        rates[0].push(rate1);
        per_flush[0].push(pf1);
        mvcc[0].push(mrate1);
        mvcc_pf[0].push(mpf1);
        print!(", c1 {rate1:.0}/s ({pf1:.1}/flush)");
        for (i, &c) in levels.iter().enumerate().skip(1) {
            let (rate, pf) = commits_per_sec(dir, c, secs);
            print!(", c{c} {rate:.0}/s ({pf:.1}/flush)");
            rates[i].push(rate);
            per_flush[i].push(pf);
        }
        println!();
        print!("round {round}: MVCC transactions, c1 {mrate1:.0}/s ({mpf1:.1}/flush)");
        for (i, &c) in levels.iter().enumerate().skip(1) {
            let (rate, pf) = mvcc_commits_per_sec(dir, c, secs);
            print!(", c{c} {rate:.0}/s ({pf:.1}/flush)");
            mvcc[i].push(rate);
            mvcc_pf[i].push(pf);
        }
        println!();
        ratios.push(mrate1 / limit);
    }
    let limit = median(limits);
    let r: Vec<f64> = rates.into_iter().map(median).collect();
    let pf: Vec<f64> = per_flush.into_iter().map(median).collect();
    let m: Vec<f64> = mvcc.into_iter().map(median).collect();
    let mpf: Vec<f64> = mvcc_pf.into_iter().map(median).collect();
    println!(
        "medians of {rounds} rounds of {secs} s; commits per fdatasync: c1 {:.1}, c8 {:.1}, c32 {:.1}",
        pf[0], pf[1], pf[2]
    );
    println!(
        "log records only: c1 {:.0}/s, c8 {:.0}/s, c32 {:.0}/s; c1 / fsync limit {:.0}%",
        r[0],
        r[1],
        r[2],
        100.0 * r[0] / limit
    );
    println!(
        "MVCC transactions: commits per fdatasync: c1 {:.1}, c8 {:.1}, c32 {:.1}; c1 / fsync limit {:.0}% (median of the rounds' own ratios {:.0}%)",
        mpf[0],
        mpf[1],
        mpf[2],
        100.0 * m[0] / limit,
        100.0 * median(ratios)
    );
    // The last line: real transactions (what the SQL layer commits).
    let (c1, c8, c32) = (m[0], m[1], m[2]);
    println!(
        "commit: c1 {c1:.0}/s, c8 {c8:.0}/s, c32 {c32:.0}/s; fsync limit {limit:.0}/s; group commit gain {:.1}",
        if c1 > 0.0 { c32 / c1 } else { 0.0 }
    );
}
