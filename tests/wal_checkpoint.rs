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
    let timer = DurableEngine::start_checkpointer(&db, Duration::from_millis(20));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut t = 0u32;
    // (The checkpoint is published before the thread counts it.)
    while timer.checkpoints_taken() == 0 && Instant::now() < deadline {
        let txn = db.begin().unwrap();
        db.insert(&txn, tree, &t.to_be_bytes(), b"v").unwrap();
        db.commit(&txn).unwrap();
        t += 1;
    }
    assert!(
        db.wal().checkpoint_lsn() > first,
        "the timer took a checkpoint"
    );
    assert!(timer.checkpoints_taken() >= 1);
    // Idle: no new log, no checkpoint.
    drop(timer); // stops the thread (and waits for it)
    let idle_from = db.wal().checkpoint_lsn();
    let timer = DurableEngine::start_checkpointer(&db, Duration::from_millis(10));
    std::thread::sleep(Duration::from_millis(100));
    let taken = timer.checkpoints_taken();
    drop(timer);
    assert!(taken <= 1, "{taken} checkpoints of an idle log");
    // The only log since then is at most one checkpoint's own records.
    let after = db.wal().checkpoint_lsn();
    assert!(
        after == idle_from || taken == 1,
        "{idle_from:?} -> {after:?}"
    );
}

/// With a checkpointer running, a checkpoint due by log volume is taken by
/// its thread, not by the committer that crossed the line (which would make
/// that commit, and every transaction waiting for its locks, wait for the
/// pages to be written).
#[test]
fn checkpoints_due_by_volume_are_taken_off_the_committers_path() {
    let vfs = FaultVfs::new(3);
    let db = Arc::new(open(&vfs));
    db.set_checkpoint_log_bytes(64 * 1024);
    let tree = db.create_tree().unwrap();
    // The timer alone would not fire during the test.
    let timer = DurableEngine::start_checkpointer(&db, Duration::from_secs(3600));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut t = 0u32;
    while (timer.checkpoints_taken() < 3 || t < 400) && Instant::now() < deadline {
        let txn = db.begin().unwrap();
        db.insert(&txn, tree, &(t % 50).to_be_bytes(), &[t as u8; 1500])
            .unwrap();
        db.commit(&txn).unwrap();
        t += 1;
    }
    assert!(
        timer.checkpoints_taken() >= 3,
        "{} checkpoints by the thread after {t} commits",
        timer.checkpoints_taken()
    );
    // The writer may have outrun the thread (a slow or busy machine), so the
    // last checkpoints may lie far apart. With writing paused, each commit
    // of more than the checkpoint distance asks for one more checkpoint;
    // waiting for it each time, the last ones have nobody racing them (the
    // first may already have been running).
    for _ in 0..3 {
        let taken = timer.checkpoints_taken();
        let txn = db.begin().unwrap();
        for k in 0..50u32 {
            db.insert(&txn, tree, &k.to_be_bytes(), &[7u8; 1500])
                .unwrap();
        }
        db.commit(&txn).unwrap();
        let waited = Instant::now();
        while timer.checkpoints_taken() == taken && waited.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(
            timer.checkpoints_taken() > taken,
            "the thread took the requested checkpoint"
        );
    }
    drop(timer); // waits for a checkpoint in progress
    let written = db.wal().next_lsn().0;
    let checkpoint = db.wal().checkpoint_lsn();
    assert!(
        checkpoint.0 > written / 4,
        "a recent checkpoint: {checkpoint:?} of {written}"
    );
    let kept = db.wal().segment_starts().len();
    assert!(
        kept <= 12,
        "{kept} segments kept: {:?}, checkpoint {checkpoint:?}, written {written}",
        db.wal().segment_starts()
    );
}

/// Segment files in `dir/wal`.
fn wal_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().len() == 16)
                .count()
        })
        .unwrap_or(0)
}

/// The server's configuration of the stack (MVCC transactions over the log
/// on real files, the timed checkpointer `Stack` starts), with small
/// segments and short checkpoint distances so a few seconds of writing go
/// through dozens of segments and checkpoints.
#[test]
fn a_long_mvcc_write_workload_keeps_wal_bounded_and_never_waits_for_a_checkpoint() {
    use arbordb::storage::disk::OsVfs;
    use arbordb::txn::open::Stack;
    use arbordb::txn::{IsolationLevel, TxnOptions};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const WRITERS: u64 = 4;
    const KEYS_PER_WRITER: u64 = 64;
    const SEGMENT_BYTES: u64 = 256 * 1024;
    const CHECKPOINT_LOG_BYTES: u64 = 1 << 20;
    const LOG_TO_WRITE: u64 = 12 << 20;
    let dir = tempfile::tempdir().unwrap();
    let wal_options = WalOptions {
        segment_bytes: SEGMENT_BYTES,
        wal_buffer_bytes: 256 * 1024,
    };
    let open_stack = || {
        let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(dir.path()));
        Stack::open_vfs(vfs, 256, wal_options.clone()).unwrap()
    };
    let stack = open_stack();
    let durable = stack.durable.clone().unwrap();
    durable.set_checkpoint_log_bytes(CHECKPOINT_LOG_BYTES);
    stack
        .checkpointer
        .as_ref()
        .expect("a file-backed stack checkpoints on a timer")
        .set_interval(Duration::from_millis(40));
    let tree = stack.create_tree().unwrap();
    let tree_id = tree.id();
    let start_lsn = durable.wal().next_lsn().0;
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    // Commits that finished while an explicit checkpoint was running.
    let commits_during_checkpoints = Arc::new(AtomicU64::new(0));
    let in_checkpoint = Arc::new(AtomicBool::new(false));
    let last_values = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (stack, tree, stop, commits, during, in_checkpoint, last_values) = (
                stack.clone(),
                tree.clone(),
                stop.clone(),
                commits.clone(),
                commits_during_checkpoints.clone(),
                in_checkpoint.clone(),
                last_values.clone(),
            );
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut txn = stack
                        .txns
                        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                        .unwrap();
                    txn.begin_statement().unwrap();
                    let mut written = Vec::new();
                    for j in 0..3 {
                        let k = w * KEYS_PER_WRITER + (i * 3 + j) % KEYS_PER_WRITER;
                        let value = vec![(i % 251) as u8; 700 + (i % 5) as usize * 100];
                        let key = k.to_be_bytes();
                        if !txn.put(&tree, &key, &value, false).unwrap() {
                            assert!(txn.insert(&tree, &key, &value).unwrap());
                        }
                        written.push((k, value));
                    }
                    let checkpoint_before = in_checkpoint.load(Ordering::SeqCst);
                    txn.commit().unwrap();
                    if checkpoint_before && in_checkpoint.load(Ordering::SeqCst) {
                        during.fetch_add(1, Ordering::Relaxed);
                    }
                    let mut last = last_values.lock().unwrap();
                    for (k, v) in written {
                        last.insert(k, v);
                    }
                    drop(last);
                    commits.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    // Explicit checkpoints beside the timed and volume ones, to see
    // whether commits finish while one runs.
    let checkpointer = {
        let (durable, stop, in_checkpoint) = (durable.clone(), stop.clone(), in_checkpoint.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(25));
                in_checkpoint.store(true, Ordering::SeqCst);
                durable.checkpoint().unwrap();
                in_checkpoint.store(false, Ordering::SeqCst);
                n += 1;
            }
            n
        })
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut most_files = 0;
    let mut checkpoints_seen = std::collections::BTreeSet::new();
    while durable.wal().next_lsn().0 - start_lsn < LOG_TO_WRITE && Instant::now() < deadline {
        most_files = most_files.max(wal_files(dir.path()));
        checkpoints_seen.insert(durable.wal().checkpoint_lsn());
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let explicit = checkpointer.join().unwrap();
    let written = durable.wal().next_lsn().0 - start_lsn;
    let timed = stack.checkpointer.as_ref().unwrap().checkpoints_taken();
    let commits = commits.load(Ordering::Relaxed);
    let during = commits_during_checkpoints.load(Ordering::Relaxed);
    assert!(
        written >= LOG_TO_WRITE / 2,
        "only {written} bytes of log in 90 s ({commits} commits)"
    );
    // Written: dozens of segments; kept: about two checkpoint distances.
    let bound = (3 * CHECKPOINT_LOG_BYTES / SEGMENT_BYTES + 4) as usize;
    assert!(
        most_files <= bound,
        "wal/ held {most_files} segments (bound {bound}) after {written} bytes of log"
    );
    assert!(checkpoints_seen.len() >= 5, "{checkpoints_seen:?}");
    assert!(timed >= 1, "the timer never checkpointed");
    assert!(
        during >= 1,
        "no commit finished during any of {explicit} checkpoints ({commits} commits)"
    );
    eprintln!(
        "{written} bytes of log, {commits} commits, at most {most_files} segments; \
         {explicit} explicit and {timed} timed checkpoints, {during} commits finished inside one"
    );
    drop(tree);
    drop(durable);
    drop(stack); // stops the checkpointer, which may be mid-checkpoint

    let stack = open_stack();
    let tree = stack.engine.tree(tree_id).unwrap();
    let mut txn = stack
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    txn.begin_statement().unwrap();
    for (k, v) in last_values.lock().unwrap().iter() {
        assert_eq!(
            txn.get(&tree, &k.to_be_bytes()).unwrap().as_ref(),
            Some(v),
            "key {k} after reopening"
        );
    }
    txn.commit().unwrap();
    assert!(stack.engine.check().unwrap().is_ok());
}
