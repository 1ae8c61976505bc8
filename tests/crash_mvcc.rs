//! Crashes under the MVCC write path: versions written by `txn::Transaction`
//! go straight into B+-trees (not through `DurableEngine`'s bracketed row
//! changes), so every tree operation must still be one structure change for
//! the log. A crash in the middle of a split must recover to a tree the
//! checker passes, holding every acknowledged commit.
//!
//! Seeded; a failure prints the seed (`ARBORDB_CRASH_MVCC_SEED=n` reruns one).

use std::sync::Arc;

use arbordb::storage::disk::Vfs;
use arbordb::storage::disk::fault::{CrashPoint, FaultVfs, LossMode, SplitMix64};
use arbordb::storage::wal::WalOptions;
use arbordb::txn::open::Stack;
use arbordb::txn::{IsolationLevel, TxnOptions};

const FRAMES: usize = 32;

fn open(vfs: &FaultVfs) -> Result<Stack, arbordb::Error> {
    let vfs: Arc<dyn Vfs> = Arc::new(vfs.clone());
    Stack::open_vfs(
        vfs,
        FRAMES,
        WalOptions {
            segment_bytes: 256 * 1024,
            wal_buffer_bytes: 256 * 1024,
        },
    )
}

fn key(t: u32, k: u32) -> Vec<u8> {
    // interleave transactions across the key space so splits land everywhere
    format!("{:06}-{t:04}", k * 7919 % 1000).into_bytes()
}

/// Runs transactions of 40 inserts each until an error (the crash);
/// returns the transactions whose commit returned Ok.
fn workload(s: &Stack, tree: arbordb::storage::btree::TreeId, seed: u64) -> Vec<u32> {
    let mut rng = SplitMix64::new(seed);
    let tree = match s.engine.tree(tree) {
        Ok(t) => t,
        Err(_) => return Vec::new(),
    };
    let mut acked = Vec::new();
    for t in 0..25u32 {
        let Ok(mut txn) = s.txns.begin(TxnOptions::new(IsolationLevel::ReadCommitted)) else {
            break;
        };
        if txn.begin_statement().is_err() {
            break;
        }
        let value = vec![(rng.below(250) + 1) as u8; 150 + rng.below(200) as usize];
        let ok = (0..40u32).all(|k| txn.insert(&tree, &key(t, k), &value).is_ok());
        if !ok {
            break;
        }
        if txn.commit().is_err() {
            break;
        }
        acked.push(t);
    }
    acked
}

fn run_case(seed: u64) {
    let vfs = FaultVfs::new(seed);
    let tree_id = {
        let s = open(&vfs).unwrap_or_else(|e| panic!("seed {seed}: first open: {e}"));
        let tree = s.create_tree().unwrap().id();
        s.flush().unwrap();
        tree
    };
    // how many I/O operations the whole workload takes, on a copy
    let total_ops = {
        let probe = vfs.fork();
        let before = probe.op_count();
        let s = open(&probe).unwrap();
        let acked = workload(&s, tree_id, seed);
        assert_eq!(
            acked.len(),
            25,
            "seed {seed}: the workload runs without a crash"
        );
        drop(s);
        probe.op_count() - before
    };
    let mut rng = SplitMix64::new(seed ^ 0x9e37_79b9_7f4a_7c15);
    let crash_at = vfs.op_count() + 1 + rng.below(total_ops.max(1));
    vfs.set_crash_point(Some(CrashPoint::Op(crash_at)));
    let acked = match open(&vfs) {
        Ok(s) => workload(&s, tree_id, seed),
        // the crash point fell inside opening (recovery, checkpoint): nothing acked
        Err(e) => {
            assert!(
                vfs.is_crashed(),
                "seed {seed}: open failed without a crash: {e}"
            );
            Vec::new()
        }
    };
    let mode = if seed.is_multiple_of(2) {
        LossMode::PowerLoss
    } else {
        LossMode::Chaos
    };
    vfs.set_crash_point(None);
    vfs.restart(mode);
    let s = open(&vfs).unwrap_or_else(|e| panic!("seed {seed}: recovery ({mode:?}): {e}"));
    let report = s.engine.check().unwrap();
    assert!(
        report.is_ok(),
        "seed {seed}: crash at op {crash_at} ({mode:?}) left a broken tree:\n{report}"
    );
    let tree = s.engine.tree(tree_id).unwrap();
    let mut txn = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    txn.begin_statement().unwrap();
    for &t in &acked {
        for k in 0..40u32 {
            assert!(
                txn.get(&tree, &key(t, k)).unwrap().is_some(),
                "seed {seed}: acknowledged transaction {t} lost key {k} (crash at op {crash_at}, {mode:?})"
            );
        }
    }
}

#[test]
fn a_crash_during_mvcc_writes_recovers_whole_trees_and_every_acknowledged_commit() {
    if let Some(seed) = std::env::var("ARBORDB_CRASH_MVCC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_case(seed);
        return;
    }
    let cases: u64 = std::env::var("ARBORDB_CRASH_MVCC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    for seed in 0..cases {
        run_case(seed);
    }
}
