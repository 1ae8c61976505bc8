//! The background vacuum: a thread that runs [`TxnEngine::vacuum_tree`] over
//! the registered trees — or, started with [`Vacuumer::start_all`], over
//! every tree of the storage engine (what a database runs) — every
//! `interval`, or at once when kicked.
//!
//! ```text
//!   writers ──prune their key on every write──┐
//!   Vacuumer thread: sleep(interval | kick) ──> vacuum_tree(t) for t in trees
//!                    (watermark = TxnManager::oldest_xmin at pass start)
//!                    skipping a tree until the dead versions it may hold
//!                    (keys its last pass left pending + churn since, see
//!                    TxnEngine::churn) reach 50 + 20% of its entries
//! ```
//!
//! Invariants:
//! - The thread sleeps on a condvar (interval timeout, kick, or stop), never
//!   polls; dropping the [`Vacuumer`] stops and joins it.
//! - A pass removes only versions no snapshot can see (the rule in
//!   `docs/mvcc.md`), so it may run concurrently with any reader or writer.
//! - An error in a pass (an I/O error, a corrupt page) is counted and the
//!   tree is retried next pass; the thread never dies of it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::storage::btree::{Tree, TreeId};
use crate::storage::engine::Engine;

use super::transaction::{TxnEngine, VacuumStats};

#[derive(Default)]
struct Control {
    stop: bool,
    kicked: bool,
}

struct Shared {
    engine: Arc<TxnEngine>,
    trees: Mutex<Vec<Tree>>,
    /// Every tree of this storage engine, listed at the start of each pass
    /// (every tree holds versioned keys: the catalog's, tables', indexes').
    all_of: Option<Engine>,
    control: Mutex<Control>,
    cv: Condvar,
    passes: AtomicU64,
    seen: AtomicU64,
    removed: AtomicU64,
    errors: AtomicU64,
    /// Signalled after each pass (for [`Vacuumer::wait_for_pass`]).
    pass_done: Condvar,
    pass_lock: Mutex<()>,
}

/// Counters of the background vacuum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacuumerStats {
    pub passes: u64,
    /// Versions the passes looked at (a skipped tree adds none).
    pub versions_seen: u64,
    pub versions_removed: u64,
    pub errors: u64,
}

/// The background vacuum thread and the trees it looks after.
pub struct Vacuumer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Vacuumer {
    /// Starts the thread: a pass every `interval` (and whenever kicked).
    pub fn start(engine: Arc<TxnEngine>, interval: Duration) -> std::io::Result<Vacuumer> {
        Vacuumer::spawn(engine, None, interval)
    }

    /// Starts the thread over every tree `storage` has (listed anew each
    /// pass, so tables created later are covered and dropped ones left).
    pub fn start_all(
        engine: Arc<TxnEngine>,
        storage: Engine,
        interval: Duration,
    ) -> std::io::Result<Vacuumer> {
        Vacuumer::spawn(engine, Some(storage), interval)
    }

    fn spawn(
        engine: Arc<TxnEngine>,
        all_of: Option<Engine>,
        interval: Duration,
    ) -> std::io::Result<Vacuumer> {
        let shared = Arc::new(Shared {
            engine,
            trees: Mutex::new(Vec::new()),
            all_of,
            control: Mutex::new(Control::default()),
            cv: Condvar::new(),
            passes: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            removed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            pass_done: Condvar::new(),
            pass_lock: Mutex::new(()),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("arbordb-vacuum".into())
            .spawn(move || run(&s, interval))?;
        Ok(Vacuumer {
            shared,
            thread: Some(thread),
        })
    }

    /// Adds a tree to vacuum (a table or index created or opened).
    pub fn register(&self, tree: Tree) {
        let mut trees = self.shared.trees.lock();
        if !trees.iter().any(|t| t.id() == tree.id()) {
            trees.push(tree);
        }
    }

    /// Stops vacuuming a tree (it is being dropped).
    pub fn unregister(&self, id: TreeId) {
        self.shared.trees.lock().retain(|t| t.id() != id);
    }

    /// Asks for a pass now.
    pub fn kick(&self) {
        let mut c = self.shared.control.lock();
        c.kicked = true;
        self.shared.cv.notify_all();
    }

    /// Waits until more than `passes` passes have finished, or `timeout`.
    /// Returns the pass count then.
    pub fn wait_for_pass(&self, passes: u64, timeout: Duration) -> u64 {
        let deadline = std::time::Instant::now() + timeout;
        let mut g = self.shared.pass_lock.lock();
        while self.shared.passes.load(Ordering::SeqCst) <= passes {
            if self
                .shared
                .pass_done
                .wait_until(&mut g, deadline)
                .timed_out()
            {
                break;
            }
        }
        self.shared.passes.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> VacuumerStats {
        VacuumerStats {
            passes: self.shared.passes.load(Ordering::SeqCst),
            versions_seen: self.shared.seen.load(Ordering::SeqCst),
            versions_removed: self.shared.removed.load(Ordering::SeqCst),
            errors: self.shared.errors.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Vacuumer {
    fn drop(&mut self) {
        {
            let mut c = self.shared.control.lock();
            c.stop = true;
            self.shared.cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the last pass over a tree found.
struct LastPass {
    churn: u64,
    entries: u64,
    pending: u64,
}

/// PostgreSQL's `autovacuum_vacuum_threshold` and `_scale_factor`.
const VACUUM_THRESHOLD: u64 = 50;
const VACUUM_SCALE_PERCENT: u64 = 20;

impl LastPass {
    /// Whether the tree may hold enough dead versions to walk it again.
    fn due(&self, churn: u64) -> bool {
        let dead = self.pending + churn.saturating_sub(self.churn);
        dead >= VACUUM_THRESHOLD + self.entries * VACUUM_SCALE_PERCENT / 100
    }
}

fn run(s: &Shared, interval: Duration) {
    // Per tree, from its last pass: the churn count when it started, the
    // versions it left and the keys it left with versions to remove later.
    // A tree is walked again once the dead versions it may hold (those
    // keys plus the churn since) reach PostgreSQL's autovacuum threshold:
    // 50 + 0.2 x its entries. Below it, writers prune their own keys.
    let mut last: HashMap<TreeId, LastPass> = HashMap::new();
    loop {
        {
            let mut c = s.control.lock();
            if !c.stop && !c.kicked {
                let _ = s.cv.wait_for(&mut c, interval);
            }
            if c.stop {
                return;
            }
            c.kicked = false;
        }
        let mut trees: Vec<Tree> = s.trees.lock().clone();
        if let Some(storage) = &s.all_of {
            match storage.trees() {
                Ok(ids) => {
                    for (id, _) in ids {
                        if trees.iter().any(|t| t.id() == id) {
                            continue;
                        }
                        // A tree dropped since the listing is skipped.
                        if let Ok(t) = storage.tree(id) {
                            trees.push(t);
                        }
                    }
                }
                Err(e) => {
                    s.errors.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(error = %e, "vacuum could not list the trees");
                }
            }
        }
        last.retain(|id, _| trees.iter().any(|t| t.id() == *id));
        let mut total = VacuumStats::default();
        for tree in &trees {
            let churn = s.engine.churn(tree.id());
            if let Some(l) = last.get(&tree.id())
                && !l.due(churn)
            {
                continue;
            }
            match s.engine.vacuum_tree(tree) {
                Ok(st) => {
                    total.versions_seen += st.versions_seen;
                    total.versions_removed += st.versions_removed;
                    last.insert(
                        tree.id(),
                        LastPass {
                            churn,
                            entries: (st.versions_seen - st.versions_removed) as u64,
                            pending: st.keys_pending as u64,
                        },
                    );
                }
                Err(e) => {
                    s.errors.fetch_add(1, Ordering::SeqCst);
                    tracing::warn!(tree = tree.id().0, error = %e, "vacuum pass failed");
                }
            }
        }
        s.seen
            .fetch_add(total.versions_seen as u64, Ordering::SeqCst);
        s.removed
            .fetch_add(total.versions_removed as u64, Ordering::SeqCst);
        let _g = s.pass_lock.lock();
        s.passes.fetch_add(1, Ordering::SeqCst);
        s.pass_done.notify_all();
    }
}
