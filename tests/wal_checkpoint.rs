//! Fuzzy checkpoints by log volume and on a timer: the log does not grow
//! without bound (old segments are removed), and recovery after a power loss
//! starts from the newest checkpoint and keeps every commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbordb::storage::disk::Vfs;
use arbordb::storage::disk::fault::{FaultVfs, LossMode};
use arbordb::storage::engine::EngineOptions;
use arbordb::storage::wal::WalOptions;
use arbordb::storage::wal::durable::DurableEngine;

fn open(vfs: &FaultVfs) -> DurableEngine {
    let vfs: Arc<dyn Vfs> = Arc::new(vfs.clone());
    DurableEngine::open(
        vfs,
        EngineOptions {
            buffer_pool_frames: 32,
        },
        WalOptions {
            segment_bytes: 64 * 1024,
            wal_buffer_bytes: 64 * 1024,
        },
    )
    .unwrap()
    .0
}

#[test]
fn checkpoints_by_log_volume_keep_the_log_bounded_and_recovery_short() {
    let vfs = FaultVfs::new(1);
    let db = open(&vfs);
    db.set_checkpoint_log_bytes(256 * 1024);
    let tree = db.create_tree().unwrap();
    let mut most_segments = 0;
    for t in 0..600u32 {
        let txn = db.begin().unwrap();
        db.insert(&txn, tree, &(t % 50).to_be_bytes(), &[t as u8; 1500])
            .unwrap();
        db.commit(&txn).unwrap();
        most_segments = most_segments.max(db.wal().segment_starts().len());
    }
    let written = db.wal().next_lsn().0;
    assert!(
        written > 1 << 20,
        "the workload wrote {written} bytes of log"
    );
    // 256 KiB between checkpoints, 64 KiB segments: a handful at most.
    assert!(most_segments <= 12, "{most_segments} segments kept");
    let checkpoint = db.wal().checkpoint_lsn();
    assert!(
        checkpoint.0 > written / 2,
        "a recent checkpoint: {checkpoint:?}"
    );
    std::mem::forget(db);
    vfs.restart(LossMode::PowerLoss);
    let vfs_dyn: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let (db, report) = DurableEngine::open(
        vfs_dyn,
        EngineOptions {
            buffer_pool_frames: 32,
        },
        WalOptions::default(),
    )
    .unwrap();
    assert_eq!(
        report.analysis.checkpoint, checkpoint,
        "recovery starts at the newest checkpoint"
    );
    for k in 0..50u32 {
        let last = (0..600u32).filter(|t| t % 50 == k).max().unwrap();
        assert_eq!(
            db.get(tree, &k.to_be_bytes()).unwrap().unwrap(),
            vec![last as u8; 1500],
            "key {k}"
        );
    }
    assert!(db.engine().check().unwrap().is_ok());
}

#[test]
fn the_timer_checkpoints_while_writers_keep_going() {
    let vfs = FaultVfs::new(2);
    let db = Arc::new(open(&vfs));
    let tree = db.create_tree().unwrap();
    let first = db.wal().checkpoint_lsn();
    let timer = DurableEngine::spawn_checkpointer(&db, Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut t = 0u32;
    while db.wal().checkpoint_lsn() == first && Instant::now() < deadline {
        let txn = db.begin().unwrap();
        db.insert(&txn, tree, &t.to_be_bytes(), b"v").unwrap();
        db.commit(&txn).unwrap();
        t += 1;
    }
    assert!(
        db.wal().checkpoint_lsn() > first,
        "the timer took a checkpoint"
    );
    drop(db);
    timer.join().unwrap(); // the thread ends with the last handle
}
