//! Auto-analyze: a background thread that ANALYZEs a table once enough of
//! it changed, by PostgreSQL's rule.
//!
//! ```text
//!   every INTERVAL (or kick):
//!     for each user table t (read in a transaction of its own):
//!       n_mod_since_analyze(t) > THRESHOLD + SCALE_FACTOR × reltuples(t)
//!         ─▶ ANALYZE t in its own transaction (autoanalyze_count += 1)
//!         ─▶ bump the catalog generation (kept plans bind again)
//! ```
//!
//! `reltuples` is the row count of t's last ANALYZE (0 if never analyzed).
//! Statistics live in memory, so a table from before the server started
//! (untouched since and not analyzed yet) is analyzed in the first pass.
//! Invariants: the thread never runs inside a client's statement and no
//! client waits on it (ANALYZE reads through an MVCC snapshot); an error
//! (a table dropped meanwhile, an I/O error) is logged and the table is
//! looked at again next pass; dropping the [`AutoAnalyzer`] stops and
//! joins the thread. Off (the thread idles) while [`AutoAnalyzer::set_enabled`]
//! says so: in-memory databases start with it off, so tests that compare
//! plans stay deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::error::Result;
use crate::txn::{IsolationLevel, TxnOptions};

use super::Shared;
use super::scan::{TableRef, TxnCell};

/// `autovacuum_analyze_threshold`.
pub const THRESHOLD: f64 = 50.0;
/// `autovacuum_analyze_scale_factor`.
pub const SCALE_FACTOR: f64 = 0.1;
/// How often the thread looks at the counters (PostgreSQL's
/// autovacuum_naptime is 1 min; arbordb's tables are small and the check
/// reads counters only).
pub const INTERVAL: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Control {
    stop: bool,
    kicked: bool,
}

struct Inner {
    shared: Shared,
    enabled: AtomicBool,
    control: Mutex<Control>,
    cv: Condvar,
    /// Passes finished, and tables analyzed, since the start.
    passes: AtomicU64,
    analyzed: AtomicU64,
    /// The tables there were when the thread started.
    from_before_start: std::collections::HashSet<u32>,
}

/// The auto-analyze thread of one database.
pub struct AutoAnalyzer {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl AutoAnalyzer {
    /// Starts the thread: a pass every `interval` (and whenever kicked).
    pub fn start(
        shared: Shared,
        enabled: bool,
        interval: Duration,
    ) -> std::io::Result<AutoAnalyzer> {
        let from_before_start = match user_tables(&shared) {
            Ok(tables) => tables.into_iter().map(|(_, _, def)| def.oid).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "auto-analyze could not list the tables at start");
                Default::default()
            }
        };
        let inner = Arc::new(Inner {
            from_before_start,
            shared,
            enabled: AtomicBool::new(enabled),
            control: Mutex::new(Control::default()),
            cv: Condvar::new(),
            passes: AtomicU64::new(0),
            analyzed: AtomicU64::new(0),
        });
        let i = inner.clone();
        let thread = std::thread::Builder::new()
            .name("arbordb-autoanalyze".into())
            .spawn(move || run(&i, interval))?;
        Ok(AutoAnalyzer {
            inner,
            thread: Some(thread),
        })
    }

    /// Turns auto-analyze on or off (`autovacuum`); on: a pass at once.
    pub fn set_enabled(&self, on: bool) {
        self.inner.enabled.store(on, Ordering::SeqCst);
        if on {
            self.kick();
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::SeqCst)
    }

    /// Asks for a pass now.
    pub fn kick(&self) {
        let mut c = self.inner.control.lock();
        c.kicked = true;
        self.inner.cv.notify_all();
    }

    /// Tables analyzed by the thread so far.
    pub fn analyzed(&self) -> u64 {
        self.inner.analyzed.load(Ordering::Relaxed)
    }

    /// Passes finished so far.
    pub fn passes(&self) -> u64 {
        self.inner.passes.load(Ordering::Relaxed)
    }
}

impl Drop for AutoAnalyzer {
    fn drop(&mut self) {
        {
            let mut c = self.inner.control.lock();
            c.stop = true;
            self.inner.cv.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(inner: &Inner, interval: Duration) {
    loop {
        {
            let mut c = inner.control.lock();
            if !c.stop && !c.kicked {
                inner.cv.wait_for(&mut c, interval);
            }
            if c.stop {
                return;
            }
            c.kicked = false;
        }
        if inner.enabled.load(Ordering::SeqCst) {
            match pass(inner) {
                Ok(n) => {
                    inner.analyzed.fetch_add(n, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "auto-analyze pass failed"),
            }
        }
        inner.passes.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a table with `changed` rows changed since its last ANALYZE,
/// which counted `reltuples` rows, is due (PostgreSQL's rule).
pub fn due(changed: u64, reltuples: f64) -> bool {
    changed as f64 > THRESHOLD + SCALE_FACTOR * reltuples.max(0.0)
}

/// A read-only READ COMMITTED transaction of the thread's own, its first
/// statement begun.
fn read_only_txn(shared: &Shared) -> Result<crate::txn::Transaction> {
    let mut t = shared
        .stack()
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted).read_only())?;
    t.begin_statement()?;
    Ok(t)
}

/// Every user table now (schema, name, definition), read in a
/// transaction of its own.
fn user_tables(shared: &Shared) -> Result<Vec<(String, String, crate::catalog::TableDef)>> {
    let catalog = shared.catalog();
    let mut t = read_only_txn(shared)?;
    let mut out = Vec::new();
    for s in catalog.schemas(&mut t)? {
        for name in catalog.relation_names(&mut t, b'T', &s.name)? {
            if let Some(def) = catalog.table(&mut t, &s.name, &name)? {
                out.push((s.name.clone(), name, def));
            }
        }
    }
    let _ = t.commit();
    Ok(out)
}

/// One look at every table; ANALYZEs those due. The tables analyzed.
fn pass(inner: &Inner) -> Result<u64> {
    let shared = &inner.shared;
    let mut names = Vec::new();
    let mut live = std::collections::HashSet::new();
    for (schema, name, def) in user_tables(shared)? {
        live.insert(def.oid);
        let stats = shared.stats().get_tree(def.tree);
        let due_now = match shared.counters().peek(def.oid) {
            Some(c) => due(
                c.n_mod_since_analyze.load(Ordering::Relaxed),
                stats.map_or(0.0, |s| s.rows),
            ),
            // Untouched since the server started and never analyzed: a
            // table from before the start, whose statistics (held in
            // memory) the restart lost. Analyzed once, so the planner
            // does not fall back on its defaults for it.
            None => stats.is_none() && inner.from_before_start.contains(&def.oid),
        };
        if due_now {
            names.push((schema, name, def.oid));
        }
    }
    // Dropped tables' counters go, unless a table handle (a kept plan)
    // still counts into them: a table created by a transaction not yet
    // committed is not in `live` either.
    shared.counters().retain_unused(&live);
    let mut n = 0;
    for (schema, name, oid) in names {
        {
            if inner.control.lock().stop {
                break;
            }
        }
        match analyze_one(shared, &schema, &name, oid) {
            Ok(true) => n += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(table = %name, error = %e, "auto-analyze of a table failed")
            }
        }
    }
    Ok(n)
}

/// ANALYZE `schema.name` in a transaction of its own, if it is still the
/// table `oid` (not dropped, nor dropped and created again).
fn analyze_one(shared: &Shared, schema: &str, name: &str, oid: u32) -> Result<bool> {
    let catalog = shared.catalog();
    let mut t = read_only_txn(shared)?;
    let def = match catalog.table(&mut t, schema, name) {
        Ok(Some(def)) if def.oid == oid => def,
        Ok(_) => {
            let _ = t.rollback();
            return Ok(false);
        }
        Err(e) => {
            let _ = t.rollback();
            return Err(e.into());
        }
    };
    let table = TableRef {
        rows: catalog.rows(&def)?,
        indexes: catalog.index_trees(&def)?,
        counters: shared.counters().get(def.oid),
        def: Arc::new(def),
    };
    let cell = TxnCell::new(t);
    let r = super::vacuum::analyze_table(shared, &table, &cell, true);
    let t = cell.into_inner();
    match r {
        Ok(()) => {
            let _ = t.commit();
            // As after an explicit ANALYZE: kept plans bind again.
            shared.catalog_generation().bump();
            Ok(true)
        }
        Err(e) => {
            let _ = t.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_is_postgres_threshold_plus_scale_factor() {
        assert!(!due(50, 0.0));
        assert!(due(51, 0.0));
        assert!(!due(150, 1000.0));
        assert!(due(151, 1000.0));
    }
}
