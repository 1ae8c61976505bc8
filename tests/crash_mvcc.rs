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
        .unwrap_or(8);
    for seed in 0..cases {
        run_case(seed);
    }
}

// ---------------------------------------------------------------------------
// Mixed MVCC workloads through the log: several transactions open at once
// (interleaved on one thread, so a seed replays exactly), some committing,
// some rolling back (whole or to a savepoint), some still running at the
// crash; tables created and dropped inside transactions. After recovery:
// every acknowledged commit is there, no version of any other transaction
// is left in a tree (not even an invisible one), trees created by losers
// are gone, trees dropped by winners are gone, ids are fresh, and the
// storage check passes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arbordb::storage::btree::TreeId;
use arbordb::txn::Transaction;
use arbordb::txn::version::{decode_key, decode_value};

/// What one transaction of the model has done so far.
#[derive(Clone, Default)]
struct Pending {
    /// key -> new value (None: deleted), in the main tree.
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    created: Vec<TreeId>,
    dropped: Vec<TreeId>,
}

struct Open {
    txn: Transaction,
    pending: Pending,
    savepoint: Option<Pending>,
}

/// The committed state the database must hold.
#[derive(Clone, Default)]
struct Model {
    rows: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Trees created by committed transactions and not dropped by one.
    trees: BTreeSet<TreeId>,
    /// Trees created by a loser, or dropped by a winner: gone.
    gone: BTreeSet<TreeId>,
    committed_xids: BTreeSet<u64>,
}

impl Model {
    fn apply(&mut self, xid: u64, p: &Pending) {
        for (k, v) in &p.writes {
            match v {
                Some(v) => self.rows.insert(k.clone(), v.clone()),
                None => self.rows.remove(k),
            };
        }
        for t in &p.created {
            self.trees.insert(*t);
        }
        for t in &p.dropped {
            self.trees.remove(t);
            self.gone.insert(*t);
        }
        self.committed_xids.insert(xid);
    }
}

/// What a run up to the crash acknowledged.
struct Outcome {
    model: Model,
    /// A commit that failed with the crash: it may or may not have landed.
    in_doubt: Option<(u64, Pending)>,
    /// Every xid handed out.
    max_xid: u64,
    /// Trees created by transactions that did not commit (rolled back or
    /// running at the crash; an in-doubt one's are in `in_doubt`).
    loser_trees: Vec<TreeId>,
}

const MIXED_KEYS: u64 = 160;

fn mixed_key(k: u64) -> Vec<u8> {
    format!("row{:05}", k * 7919 % 100_000).into_bytes()
}

/// The row each transaction sees first: the committed model plus its own
/// pending writes.
fn current(model: &Model, p: &Pending, k: &[u8]) -> Option<Vec<u8>> {
    match p.writes.get(k) {
        Some(v) => v.clone(),
        None => model.rows.get(k).cloned(),
    }
}

/// Runs a seeded mixed workload until it ends or the first error (the
/// crash). `model` is the committed state before it.
fn mixed_workload(s: &Stack, tree_id: TreeId, seed: u64, start: Model, steps: u32) -> Outcome {
    let mut rng = SplitMix64::new(seed);
    let mut out = Outcome {
        model: start,
        in_doubt: None,
        max_xid: 0,
        loser_trees: Vec::new(),
    };
    let Ok(tree) = s.engine.tree(tree_id) else {
        return out;
    };
    let mut open: Vec<Open> = Vec::new();
    // key -> index into `open` of the transaction holding its row lock
    let mut owner: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut crashed = false;
    let debug = std::env::var("ARBORDB_CRASH_MVCC_DEBUG").is_ok();
    for _ in 0..steps {
        let choice = rng.below(100);
        if open.is_empty() || (open.len() < 4 && choice < 12) {
            match s.txns.begin(TxnOptions::new(IsolationLevel::ReadCommitted)) {
                Ok(txn) => {
                    out.max_xid = out.max_xid.max(txn.xid().0);
                    open.push(Open {
                        txn,
                        pending: Pending::default(),
                        savepoint: None,
                    });
                }
                Err(_) => {
                    crashed = true;
                    break;
                }
            }
            continue;
        }
        let i = rng.below(open.len() as u64) as usize;
        let xid = open[i].txn.xid().0;
        // Trees some open transaction drops already (DROP TABLE takes the
        // catalog row's lock, so two transactions never drop one table).
        let taken: BTreeSet<TreeId> = open
            .iter()
            .flat_map(|o| o.pending.dropped.iter().copied())
            .collect();
        let r: Result<(), arbordb::txn::TxnError> = (|| {
            let o = &mut open[i];
            o.txn.begin_statement()?;
            match choice {
                // writes
                12..=69 => {
                    let k = mixed_key(rng.below(MIXED_KEYS));
                    if owner.get(&k).is_some_and(|&x| x != xid) {
                        return Ok(()); // another open transaction holds it
                    }
                    let value = vec![(rng.below(250) + 1) as u8; 40 + rng.below(260) as usize];
                    let live = current(&out.model, &o.pending, &k).is_some();
                    owner.insert(k.clone(), xid);
                    if debug {
                        eprintln!(
                            "xid {xid}: write {} (live {live})",
                            String::from_utf8_lossy(&k)
                        );
                    }
                    if !live {
                        assert!(o.txn.insert(&tree, &k, &value)?, "seed {seed}: insert");
                        o.pending.writes.insert(k, Some(value));
                    } else if rng.below(4) == 0 {
                        assert!(o.txn.delete(&tree, &k)?, "seed {seed}: delete");
                        o.pending.writes.insert(k, None);
                    } else {
                        assert!(o.txn.put(&tree, &k, &value, false)?, "seed {seed}: put");
                        o.pending.writes.insert(k, Some(value));
                    }
                }
                70..=72 => {
                    let t = o.txn.create_tree()?;
                    o.pending.created.push(t.id());
                }
                73..=74 => {
                    // drop a committed tree no open transaction drops
                    let candidates: Vec<TreeId> = out
                        .model
                        .trees
                        .iter()
                        .copied()
                        .filter(|t| !taken.contains(t) && !o.pending.dropped.contains(t))
                        .collect();
                    if let Some(&t) = candidates.first() {
                        o.txn.drop_tree(t)?;
                        o.pending.dropped.push(t);
                    }
                }
                75..=78 => {
                    o.txn.savepoint("sp")?;
                    o.savepoint = Some(o.pending.clone());
                }
                79..=82 => {
                    if let Some(sp) = o.savepoint.clone() {
                        o.txn.rollback_to("sp")?;
                        for t in &o.pending.created {
                            if !sp.created.contains(t) {
                                out.loser_trees.push(*t);
                            }
                        }
                        o.pending = sp;
                    }
                }
                _ => {}
            }
            Ok(())
        })();
        if debug {
            eprintln!(
                "xid {xid}: choice {choice} -> {}",
                if r.is_ok() { "ok" } else { "err" }
            );
        }
        if r.is_err() {
            crashed = true;
            break;
        }
        if choice >= 83 {
            let o = open.swap_remove(i);
            owner.retain(|_, x| *x != xid);
            if choice < 93 {
                let pending = o.pending.clone();
                let res = o.txn.commit();
                if debug {
                    eprintln!("xid {xid}: commit {res:?}");
                }
                match res {
                    Ok(()) => out.model.apply(xid, &pending),
                    Err(_) => {
                        out.in_doubt = Some((xid, pending));
                        crashed = true;
                        break;
                    }
                }
            } else {
                out.loser_trees.extend(o.pending.created.iter().copied());
                if o.txn.rollback().is_err() {
                    crashed = true;
                    break;
                }
            }
        }
    }
    let _ = crashed;
    // Whatever is still open is running at the crash (or at the end).
    for o in open.drain(..) {
        out.loser_trees.extend(o.pending.created.iter().copied());
        std::mem::forget(o.txn); // a crash does not roll back
    }
    out
}

/// Checks the recovered database against what the run acknowledged.
fn check_recovered(s: &Stack, tree_id: TreeId, out: &Outcome, what: &str) -> Model {
    let report = s.engine.check().unwrap();
    assert!(report.is_ok(), "{what}: storage check:\n{report}");
    let tree = s.engine.tree(tree_id).unwrap();
    // Was the in-doubt commit applied? Decide from its xid's versions.
    let mut writers: BTreeSet<u64> = BTreeSet::new();
    let mut max_stamp = 0;
    for e in tree.iter() {
        let (k, v) = e.unwrap();
        let (_, stamp) = decode_key(&k).unwrap();
        max_stamp = max_stamp.max(stamp);
        writers.insert(decode_value(&v).unwrap().writer.xid.0);
    }
    let mut model = out.model.clone();
    if let Some((xid, p)) = &out.in_doubt {
        let landed = writers.contains(xid)
            || p.created.iter().any(|t| s.engine.tree(*t).is_ok())
            || p.dropped.iter().any(|t| s.engine.tree(*t).is_err());
        if std::env::var("ARBORDB_CRASH_MVCC_DEBUG").is_ok() {
            eprintln!(
                "in doubt {xid}: versions {}, created {:?}, dropped {:?} -> {:?}, trees {:?}",
                writers.contains(xid),
                p.created,
                p.dropped,
                p.dropped
                    .iter()
                    .map(|t| s.engine.tree(*t).is_ok())
                    .collect::<Vec<_>>(),
                s.engine.trees().unwrap()
            );
        }
        if landed {
            model.apply(*xid, p);
        } else {
            model.gone.extend(p.created.iter().copied());
        }
    }
    for w in &writers {
        assert!(
            *w == 1 || model.committed_xids.contains(w),
            "{what}: a version by xid {w}, which never committed, survived recovery"
        );
    }
    let mut txn = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    assert!(
        txn.xid().0 > out.max_xid && txn.xid().0 > max_stamp,
        "{what}: xid {} after recovery is not above every id used (xid {}, stamp {max_stamp})",
        txn.xid().0,
        out.max_xid
    );
    txn.begin_statement().unwrap();
    let rows: BTreeMap<Vec<u8>, Vec<u8>> = txn
        .scan(
            &tree,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
        )
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    if rows != model.rows {
        let missing: Vec<_> = model
            .rows
            .keys()
            .filter(|k| !rows.contains_key(*k))
            .collect();
        let extra: Vec<_> = rows
            .keys()
            .filter(|k| !model.rows.contains_key(*k))
            .collect();
        let wrong = model
            .rows
            .iter()
            .filter(|(k, v)| rows.get(*k).is_some_and(|r| r != *v))
            .count();
        panic!(
            "{what}: rows differ from the acknowledged commits: {} missing, {} extra, {wrong} with another value (e.g. missing {:?}, extra {:?})",
            missing.len(),
            extra.len(),
            missing.first().map(|k| String::from_utf8_lossy(k)),
            extra.first().map(|k| String::from_utf8_lossy(k)),
        );
    }
    txn.commit().unwrap();
    for t in &model.trees {
        assert!(
            s.engine.tree(*t).is_ok(),
            "{what}: committed tree {} is missing",
            t.0
        );
    }
    for t in model.gone.iter().chain(out.loser_trees.iter().filter(|t| {
        out.in_doubt
            .as_ref()
            .is_none_or(|(_, p)| !p.created.contains(t))
    })) {
        assert!(
            s.engine.tree(*t).is_err() || model.trees.contains(t),
            "{what}: tree {} should have been freed (trees {:?}, committed {:?}, gone {:?}, losers {:?}, in doubt {:?})",
            t.0,
            s.engine.trees().unwrap(),
            model.trees,
            model.gone,
            out.loser_trees,
            out.in_doubt
                .as_ref()
                .map(|(x, p)| (x, p.created.clone(), p.dropped.clone())),
        );
    }
    model
}

fn run_mixed_case(seed: u64) {
    const STEPS: u32 = 220;
    let vfs = FaultVfs::new(seed);
    let tree_id = {
        let s = open(&vfs).unwrap_or_else(|e| panic!("seed {seed}: first open: {e}"));
        let tree = s.create_tree().unwrap().id();
        s.flush().unwrap();
        tree
    };
    let total_ops = {
        let probe = vfs.fork();
        let before = probe.op_count();
        let s = open(&probe).unwrap();
        let out = mixed_workload(&s, tree_id, seed, Model::default(), STEPS);
        assert!(
            out.in_doubt.is_none(),
            "seed {seed}: the workload runs without a crash"
        );
        drop(s);
        probe.op_count() - before
    };
    let mut rng = SplitMix64::new(seed ^ 0x5851_f42d_4c95_7f2d);
    let at = vfs.op_count() + 1 + rng.below(total_ops.max(1));
    let point = if rng.below(2) == 0 {
        CrashPoint::Op(at)
    } else {
        CrashPoint::Write(vfs.write_count() + 1 + rng.below(total_ops.max(1)))
    };
    vfs.set_crash_point(Some(point));
    let out = match open(&vfs) {
        Ok(s) => mixed_workload(&s, tree_id, seed, Model::default(), STEPS),
        Err(e) => {
            assert!(
                vfs.is_crashed(),
                "seed {seed}: open failed without a crash: {e}"
            );
            Outcome {
                model: Model::default(),
                in_doubt: None,
                max_xid: 0,
                loser_trees: Vec::new(),
            }
        }
    };
    let mode = match seed % 3 {
        0 => LossMode::PowerLoss,
        1 => LossMode::Chaos,
        _ => LossMode::ProcessKill,
    };
    vfs.set_crash_point(None);
    vfs.restart(mode);
    // Half the cases crash again during recovery (redo, undo's CLRs or the
    // checkpoint), then recover from that.
    if rng.below(2) == 0 {
        let probe = vfs.fork();
        let before = probe.op_count();
        drop(open(&probe).unwrap_or_else(|e| panic!("seed {seed}: recovery ({mode:?}): {e}")));
        let recovery_ops = probe.op_count() - before;
        vfs.set_crash_point(Some(CrashPoint::Op(
            vfs.op_count() + 1 + rng.below(recovery_ops.max(1)),
        )));
        if let Ok(s) = open(&vfs) {
            drop(s);
        }
        vfs.set_crash_point(None);
        vfs.restart(LossMode::Chaos);
    }
    let what = format!("seed {seed}: crash at {point:?} ({mode:?})");
    let s = open(&vfs).unwrap_or_else(|e| panic!("{what}: recovery: {e}"));
    let model = check_recovered(&s, tree_id, &out, &what);
    // After recovery the database goes on: new writes (fresh stamps) win
    // over every recovered version, and a clean reopen agrees.
    let after = mixed_workload(&s, tree_id, seed ^ 1, model, 60);
    assert!(after.in_doubt.is_none(), "{what}: workload after recovery");
    drop(s);
    let s = open(&vfs).unwrap_or_else(|e| panic!("{what}: reopen: {e}"));
    check_recovered(
        &s,
        tree_id,
        &after,
        &format!("{what}, after the second run"),
    );
}

#[test]
fn mixed_mvcc_workloads_recover_exactly_the_acknowledged_commits() {
    if let Some(seed) = std::env::var("ARBORDB_CRASH_MVCC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_mixed_case(seed);
        return;
    }
    let cases: u64 = std::env::var("ARBORDB_CRASH_MVCC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    for seed in 0..cases {
        run_mixed_case(seed);
    }
}

// ---------------------------------------------------------------------------
// Large rollbacks through the log.

type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn raw(s: &Stack, tree: TreeId) -> Entries {
    s.engine
        .tree(tree)
        .unwrap()
        .iter()
        .map(|e| e.unwrap())
        .collect()
}

/// 300 committed rows, then a transaction that inserts 2500 rows (many
/// splits), updates and deletes committed ones, and creates a tree.
fn big_setup(s: &Stack) -> TreeId {
    let tree = s.create_tree().unwrap();
    let mut t = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    t.begin_statement().unwrap();
    for i in 0..300u32 {
        assert!(
            t.insert(&tree, format!("base{i:05}").as_bytes(), &[1; 120])
                .unwrap()
        );
    }
    t.commit().unwrap();
    tree.id()
}

fn big_writes(s: &Stack, tree: TreeId, t: &mut arbordb::txn::Transaction) -> TreeId {
    let tree = s.engine.tree(tree).unwrap();
    t.begin_statement().unwrap();
    for i in 0..1200u32 {
        assert!(
            t.insert(
                &tree,
                format!("new{:05}", i * 7919 % 1200).as_bytes(),
                &[2; 200]
            )
            .unwrap()
        );
    }
    for i in (0..300u32).step_by(3) {
        assert!(
            t.put(&tree, format!("base{i:05}").as_bytes(), &[3; 900], false)
                .unwrap()
        );
    }
    for i in (1..300u32).step_by(3) {
        assert!(t.delete(&tree, format!("base{i:05}").as_bytes()).unwrap());
    }
    t.create_tree().unwrap().id()
}

#[test]
fn a_large_rolled_back_transaction_leaves_the_tree_as_it_was() {
    let vfs = FaultVfs::new(7);
    let s = open(&vfs).unwrap();
    let tree = big_setup(&s);
    let before = raw(&s, tree);
    let mut t = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    // ROLLBACK TO SAVEPOINT first: back to the savepoint's tree exactly.
    t.begin_statement().unwrap();
    assert!(
        t.insert(&s.engine.tree(tree).unwrap(), b"kept-until-rollback", b"x")
            .unwrap()
    );
    t.savepoint("a").unwrap();
    let at_savepoint = raw(&s, tree);
    let created = big_writes(&s, tree, &mut t);
    assert!(raw(&s, tree).len() > before.len() + 1000);
    t.rollback_to("a").unwrap();
    assert!(
        raw(&s, tree) == at_savepoint,
        "ROLLBACK TO restores the tree at the savepoint"
    );
    assert!(
        s.engine.tree(created).is_err(),
        "the tree created after the savepoint is freed"
    );
    // Then the whole transaction, written again and rolled back.
    let created = big_writes(&s, tree, &mut t);
    t.rollback().unwrap();
    assert!(raw(&s, tree) == before, "rollback restores the tree");
    assert!(
        s.engine.tree(created).is_err(),
        "the rolled-back transaction's tree is freed"
    );
    let report = s.engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    // And the rollback survives a crash: reopened, the same.
    drop(s);
    vfs.restart(LossMode::PowerLoss);
    let s = open(&vfs).unwrap();
    assert!(raw(&s, tree) == before);
    assert!(s.engine.check().unwrap().is_ok());
}

#[test]
fn a_large_transaction_in_flight_at_a_crash_is_undone_by_recovery() {
    for mode in [LossMode::PowerLoss, LossMode::Chaos] {
        let vfs = FaultVfs::new(11);
        let s = open(&vfs).unwrap();
        let tree = big_setup(&s);
        let before = raw(&s, tree);
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        let created = big_writes(&s, tree, &mut t);
        // Its log records and some of its pages reach the disk (steal).
        s.wal.as_ref().unwrap().flush_all().unwrap();
        s.engine.write_back().unwrap();
        vfs.crash_now();
        std::mem::forget(t);
        drop(s);
        vfs.restart(mode);
        let s = open(&vfs).unwrap_or_else(|e| panic!("{mode:?}: recovery: {e}"));
        assert!(
            raw(&s, tree) == before,
            "{mode:?}: recovery undoes the loser"
        );
        assert!(
            s.engine.tree(created).is_err(),
            "{mode:?}: the loser's tree is freed"
        );
        let report = s.engine.check().unwrap();
        assert!(report.is_ok(), "{mode:?}: {report}");
    }
}

// ---------------------------------------------------------------------------
// Concurrent writers: four threads committing MVCC transactions into one
// tree (their keys interleave, so their splits touch the same pages and the
// meta page), crashed at a random I/O operation. The interleaving differs
// from run to run; what must hold does not: the storage check passes, every
// acknowledged commit is there, and no version of another transaction is.

type Acked = Vec<(u64, Vec<Vec<u8>>)>;

const THREADS: u32 = 4;
const TXNS: u32 = 12;

/// Four threads committing until the end or the crash: the acknowledged
/// commits and the commits that failed (in doubt).
fn concurrent_workload(vfs: &FaultVfs, tree_id: TreeId) -> (Acked, Vec<u64>) {
    match open(vfs) {
        Err(_) => (Vec::new(), Vec::new()),
        Ok(s) => {
            let handles: Vec<_> = (0..THREADS)
                .map(|th| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        let mut acked = Vec::new();
                        let mut in_doubt = None;
                        let Ok(tree) = s.engine.tree(tree_id) else {
                            return (acked, in_doubt);
                        };
                        for t in 0..TXNS {
                            let Ok(mut txn) =
                                s.txns.begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                            else {
                                break;
                            };
                            let keys: Vec<Vec<u8>> = (0..15u32)
                                .map(|k| {
                                    format!("{:05}-{th}-{t:03}", (k * 7919 + t * 31) % 10_000)
                                        .into_bytes()
                                })
                                .collect();
                            let ok = txn.begin_statement().is_ok()
                                && keys
                                    .iter()
                                    .all(|k| txn.insert(&tree, k, &[th as u8 + 1; 180]).is_ok());
                            let xid = txn.xid().0;
                            if !ok {
                                std::mem::forget(txn); // running at the crash
                                break;
                            }
                            if txn.commit().is_err() {
                                in_doubt = Some(xid);
                                break;
                            }
                            acked.push((xid, keys));
                        }
                        (acked, in_doubt)
                    })
                })
                .collect();
            let mut acked = Vec::new();
            let mut in_doubt = Vec::new();
            for h in handles {
                let (a, d) = h.join().unwrap();
                acked.extend(a);
                in_doubt.extend(d);
            }
            drop(s);
            (acked, in_doubt)
        }
    }
}

fn run_concurrent_case(seed: u64) {
    let vfs = FaultVfs::new(seed);
    let tree_id = {
        let s = open(&vfs).unwrap();
        let t = s.create_tree().unwrap().id();
        s.flush().unwrap();
        t
    };
    // How many operations the workload takes, on a copy (the interleaving,
    // and so the count, varies a little from run to run).
    let probe = vfs.fork();
    let before = probe.op_count();
    let (all, _) = concurrent_workload(&probe, tree_id);
    assert_eq!(
        all.len(),
        (THREADS * TXNS) as usize,
        "seed {seed}: the workload runs"
    );
    let budget = probe.op_count() - before;
    let mut rng = SplitMix64::new(seed ^ 0xc2b2_ae3d_27d4_eb4f);
    vfs.set_crash_point(Some(CrashPoint::Op(vfs.op_count() + 1 + rng.below(budget))));
    let (acked, in_doubt) = concurrent_workload(&vfs, tree_id);
    let mode = match seed % 3 {
        0 => LossMode::PowerLoss,
        1 => LossMode::Chaos,
        _ => LossMode::ProcessKill,
    };
    vfs.set_crash_point(None);
    vfs.restart(mode);
    let what = format!("seed {seed} ({mode:?}, {} acked)", acked.len());
    let s = open(&vfs).unwrap_or_else(|e| panic!("{what}: recovery: {e}"));
    let report = s.engine.check().unwrap();
    assert!(report.is_ok(), "{what}: storage check:\n{report}");
    let tree = s.engine.tree(tree_id).unwrap();
    let acked_xids: BTreeSet<u64> = acked.iter().map(|(x, _)| *x).collect();
    let mut writers = BTreeSet::new();
    for e in tree.iter() {
        let (_, v) = e.unwrap();
        writers.insert(decode_value(&v).unwrap().writer.xid.0);
    }
    let mut txn = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    txn.begin_statement().unwrap();
    for (xid, keys) in &acked {
        for k in keys {
            assert!(
                txn.get(&tree, k).unwrap().is_some(),
                "{what}: acknowledged xid {xid} lost {:?}",
                String::from_utf8_lossy(k)
            );
        }
    }
    for w in &writers {
        assert!(
            acked_xids.contains(w) || in_doubt.contains(w),
            "{what}: xid {w} never committed but left versions"
        );
    }
    txn.commit().unwrap();
}

#[test]
fn concurrent_mvcc_writers_crash_and_recover() {
    let cases: u64 = std::env::var("ARBORDB_CRASH_MVCC_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    for seed in 0..cases {
        run_concurrent_case(seed);
    }
}

// ---------------------------------------------------------------------------
// The one-descent insert begins the log transaction before it knows whether
// it will write; a transaction left with nothing live must still end it.

#[test]
fn a_transaction_left_with_no_writes_ends_its_log_transaction() {
    let vfs = FaultVfs::new(5);
    let s = open(&vfs).unwrap();
    let tree = s.create_tree().unwrap();
    let begin = || {
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        t
    };
    let mut t = begin();
    assert!(t.insert(&tree, b"k", b"v").unwrap());
    t.commit().unwrap();
    // Its only insert finds a duplicate (the one-descent insert declined).
    let mut t = begin();
    assert!(!t.insert(&tree, b"k", b"w").unwrap());
    t.commit().unwrap();
    // Its only write is undone by ROLLBACK TO SAVEPOINT.
    let mut t = begin();
    t.savepoint("a").unwrap();
    assert!(t.insert(&tree, b"k2", b"v").unwrap());
    t.rollback_to("a").unwrap();
    t.commit().unwrap();
    s.wal.as_ref().unwrap().flush_all().unwrap();
    vfs.crash_now();
    drop(s);
    vfs.restart(LossMode::PowerLoss);
    let dvfs: Arc<dyn Vfs> = Arc::new(vfs.clone());
    let (d, report) = arbordb::storage::wal::durable::DurableEngine::open(
        dvfs,
        arbordb::storage::engine::EngineOptions {
            buffer_pool_frames: FRAMES,
        },
        WalOptions {
            segment_bytes: 256 * 1024,
            wal_buffer_bytes: 256 * 1024,
        },
    )
    .unwrap();
    assert_eq!(
        report.losers_rolled_back, 0,
        "every transaction ended in the log: {report:?}"
    );
    drop(d);
    let s = open(&vfs).unwrap();
    let tree = s.engine.tree(tree.id()).unwrap();
    let mut t = s
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    t.begin_statement().unwrap();
    assert_eq!(t.get(&tree, b"k").unwrap(), Some(b"v".to_vec()));
    assert_eq!(t.get(&tree, b"k2").unwrap(), None);
}
