//! Per-table activity counters: the rows of `pg_stat_user_tables`,
//! `pg_stat_all_tables` and `pg_stat_user_indexes`, and what auto-analyze
//! ([`super::autoanalyze`]) decides from.
//!
//! ```text
//!   scan_each (one scan)      ─▶ seq_scan/idx_scan += 1, tup_read += n   (once per scan)
//!   INSERT/UPDATE/DELETE end  ─▶ n_tup_* += tag count, live/dead/mod      (once per statement)
//!   ANALYZE / VACUUM          ─▶ last_*, *_count, n_live_tup, resets
//! ```
//!
//! Like PostgreSQL's cumulative statistics they live in memory only, per
//! database (keyed by the table's oid), and start from zero when the
//! database is opened. Every counter is an atomic: a statement adds its
//! totals once, never per row, and never takes a lock on the write path.
//! Unlike PostgreSQL, `n_live_tup`, `n_dead_tup` and `n_mod_since_analyze`
//! count a statement's changes when it ends, also if its transaction later
//! rolls back (they are estimates; the next ANALYZE corrects `n_live_tup`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::types::datetime::clock_now;
use crate::types::{DataType, Value};

use super::pg_catalog::{Snapshot, oid};

/// The counters of one index (the primary key's included).
#[derive(Default, Debug)]
pub struct IndexCounters {
    pub idx_scan: AtomicU64,
    pub idx_tup_read: AtomicU64,
    pub idx_tup_fetch: AtomicU64,
}

/// The counters of one table.
#[derive(Default, Debug)]
pub struct TableCounters {
    pub seq_scan: AtomicU64,
    pub seq_tup_read: AtomicU64,
    pub idx_scan: AtomicU64,
    pub idx_tup_fetch: AtomicU64,
    pub n_tup_ins: AtomicU64,
    pub n_tup_upd: AtomicU64,
    pub n_tup_del: AtomicU64,
    pub n_live_tup: AtomicI64,
    pub n_dead_tup: AtomicI64,
    pub n_mod_since_analyze: AtomicU64,
    pub n_ins_since_vacuum: AtomicU64,
    /// Timestamps (microseconds, as `timestamptz`); 0: never.
    pub last_vacuum: AtomicI64,
    pub last_analyze: AtomicI64,
    pub last_autoanalyze: AtomicI64,
    pub vacuum_count: AtomicU64,
    pub analyze_count: AtomicU64,
    pub autoanalyze_count: AtomicU64,
    /// Pages of the row tree at the last ANALYZE (`pg_class.relpages`).
    pub relpages: AtomicU64,
    /// The primary key's index (the row tree itself).
    pub pkey: IndexCounters,
    /// Secondary indexes, by index oid (a rename keeps its counts).
    indexes: RwLock<HashMap<u32, Arc<IndexCounters>>>,
}

fn add(c: &AtomicU64, n: u64) {
    if n > 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// Lowers `c` by `n`, not below zero.
fn sub_saturating(c: &AtomicU64, n: u64) {
    let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(n))
    });
}

impl TableCounters {
    /// One full scan that read `rows` rows.
    pub fn seq_scanned(&self, rows: u64) {
        add(&self.seq_scan, 1);
        add(&self.seq_tup_read, rows);
    }

    /// One scan of the index with oid `index` (`None`: the primary key)
    /// that fetched `rows` rows.
    pub fn index_scanned(&self, index: Option<u32>, rows: u64) {
        add(&self.idx_scan, 1);
        add(&self.idx_tup_fetch, rows);
        let record = |c: &IndexCounters| {
            add(&c.idx_scan, 1);
            add(&c.idx_tup_read, rows);
            add(&c.idx_tup_fetch, rows);
        };
        match index {
            None => record(&self.pkey),
            Some(oid) => {
                if let Some(c) = self.indexes.read().get(&oid) {
                    record(c);
                    return;
                }
                let c = self.indexes.write().entry(oid).or_default().clone();
                record(&c);
            }
        }
    }

    /// The counters of the secondary index with oid `oid`, if it was ever
    /// scanned.
    pub fn index(&self, oid: u32) -> Option<Arc<IndexCounters>> {
        self.indexes.read().get(&oid).cloned()
    }

    /// A statement inserted `n` rows.
    pub fn inserted(&self, n: u64) {
        if n == 0 {
            return;
        }
        add(&self.n_tup_ins, n);
        self.n_live_tup.fetch_add(n as i64, Ordering::Relaxed);
        add(&self.n_mod_since_analyze, n);
        add(&self.n_ins_since_vacuum, n);
    }

    /// A statement updated `n` rows (each leaves a dead version).
    pub fn updated(&self, n: u64) {
        if n == 0 {
            return;
        }
        add(&self.n_tup_upd, n);
        self.n_dead_tup.fetch_add(n as i64, Ordering::Relaxed);
        add(&self.n_mod_since_analyze, n);
    }

    /// A statement deleted `n` rows.
    pub fn deleted(&self, n: u64) {
        if n == 0 {
            return;
        }
        add(&self.n_tup_del, n);
        self.n_live_tup.fetch_sub(n as i64, Ordering::Relaxed);
        self.n_dead_tup.fetch_add(n as i64, Ordering::Relaxed);
        add(&self.n_mod_since_analyze, n);
    }

    /// TRUNCATE: no rows are left, live or dead.
    pub fn truncated(&self) {
        self.n_live_tup.store(0, Ordering::Relaxed);
        self.n_dead_tup.store(0, Ordering::Relaxed);
    }

    /// ANALYZE (auto or not) counted `rows` rows, having seen
    /// `mod_before` changes when it began.
    pub fn analyzed(&self, rows: u64, mod_before: u64, auto: bool) {
        self.n_live_tup.store(rows as i64, Ordering::Relaxed);
        sub_saturating(&self.n_mod_since_analyze, mod_before);
        let now = clock_now();
        if auto {
            self.last_autoanalyze.store(now, Ordering::Relaxed);
            add(&self.autoanalyze_count, 1);
        } else {
            self.last_analyze.store(now, Ordering::Relaxed);
            add(&self.analyze_count, 1);
        }
    }

    /// VACUUM removed what no snapshot can see.
    pub fn vacuumed(&self) {
        self.n_dead_tup.store(0, Ordering::Relaxed);
        self.n_ins_since_vacuum.store(0, Ordering::Relaxed);
        self.last_vacuum.store(clock_now(), Ordering::Relaxed);
        add(&self.vacuum_count, 1);
    }
}

/// Every table's counters, by table oid.
#[derive(Default)]
pub struct TableCountersMap {
    tables: RwLock<HashMap<u32, Arc<TableCounters>>>,
}

impl TableCountersMap {
    /// The counters of table `oid` (created at zero on first use).
    pub fn get(&self, oid: u32) -> Arc<TableCounters> {
        if let Some(c) = self.tables.read().get(&oid) {
            return c.clone();
        }
        self.tables.write().entry(oid).or_default().clone()
    }

    /// The counters of table `oid`, if it has any yet.
    pub fn peek(&self, oid: u32) -> Option<Arc<TableCounters>> {
        self.tables.read().get(&oid).cloned()
    }

    /// Forgets tables not in `live` (dropped ones) whose counters nobody
    /// holds and which count nothing yet, so that a table created by a
    /// transaction not yet committed keeps what its statements counted.
    pub fn retain_unused(&self, live: &std::collections::HashSet<u32>) {
        self.tables.write().retain(|oid, c| {
            live.contains(oid)
                || Arc::strong_count(c) > 1
                || c.n_mod_since_analyze.load(Ordering::Relaxed) > 0
        });
    }

    /// Every (oid, counters) pair.
    pub fn all(&self) -> Vec<(u32, Arc<TableCounters>)> {
        self.tables
            .read()
            .iter()
            .map(|(o, c)| (*o, c.clone()))
            .collect()
    }
}

type Columns = [(&'static str, DataType)];

/// One row built by column name; unset columns are NULL.
struct Row<'a> {
    cols: &'a Columns,
    values: Vec<Value>,
}

impl Row<'_> {
    fn set(&mut self, name: &str, v: Value) {
        if let Some(i) = self.cols.iter().position(|(n, _)| *n == name) {
            self.values[i] = v;
        }
    }

    fn count(&mut self, name: &str, c: &AtomicU64) {
        let v = c.load(Ordering::Relaxed);
        self.set(name, Value::Int8(i64::try_from(v).unwrap_or(i64::MAX)));
    }

    fn time(&mut self, name: &str, c: &AtomicI64) {
        match c.load(Ordering::Relaxed) {
            0 => self.set(name, Value::Null),
            t => self.set(name, Value::Timestamptz(t)),
        }
    }
}

fn row(cols: &Columns) -> Row<'_> {
    Row {
        cols,
        values: vec![Value::Null; cols.len()],
    }
}

/// The rows of `pg_stat_user_tables` / `pg_stat_all_tables`: one per user
/// table of `snap`.
pub fn table_rows(snap: &Snapshot, map: &TableCountersMap, cols: &Columns) -> Vec<Vec<Value>> {
    let zero = TableCounters::default();
    snap.tables
        .iter()
        .map(|t| {
            let held = map.peek(t.oid);
            let c = held.as_deref().unwrap_or(&zero);
            let mut r = row(cols);
            r.set("relid", oid(t.oid));
            r.set("schemaname", Value::Text(t.schema.clone()));
            r.set("relname", Value::Text(t.name.clone()));
            r.count("seq_scan", &c.seq_scan);
            r.count("seq_tup_read", &c.seq_tup_read);
            r.count("idx_scan", &c.idx_scan);
            r.count("idx_tup_fetch", &c.idx_tup_fetch);
            r.count("n_tup_ins", &c.n_tup_ins);
            r.count("n_tup_upd", &c.n_tup_upd);
            r.count("n_tup_del", &c.n_tup_del);
            r.set("n_tup_hot_upd", Value::Int8(0));
            let live = c.n_live_tup.load(Ordering::Relaxed).max(0);
            r.set("n_live_tup", Value::Int8(live));
            let dead = c.n_dead_tup.load(Ordering::Relaxed).max(0);
            r.set("n_dead_tup", Value::Int8(dead));
            r.count("n_mod_since_analyze", &c.n_mod_since_analyze);
            r.count("n_ins_since_vacuum", &c.n_ins_since_vacuum);
            r.time("last_vacuum", &c.last_vacuum);
            r.time("last_analyze", &c.last_analyze);
            r.time("last_autoanalyze", &c.last_autoanalyze);
            r.count("vacuum_count", &c.vacuum_count);
            r.set("autovacuum_count", Value::Int8(0));
            r.count("analyze_count", &c.analyze_count);
            r.count("autoanalyze_count", &c.autoanalyze_count);
            r.values
        })
        .collect()
}

/// The rows of `pg_stat_user_indexes` / `pg_stat_all_indexes`: one per
/// index of a user table (its primary key's first).
pub fn index_rows(snap: &Snapshot, map: &TableCountersMap, cols: &Columns) -> Vec<Vec<Value>> {
    let zero = IndexCounters::default();
    let mut out = Vec::new();
    for t in &snap.tables {
        let held = map.peek(t.oid);
        for ix in snap.indexes_of(t) {
            let counted = match (&held, ix.primary) {
                (Some(c), false) => c.index(ix.oid),
                _ => None,
            };
            let c: &IndexCounters = match (&held, ix.primary) {
                (Some(c), true) => &c.pkey,
                _ => counted.as_deref().unwrap_or(&zero),
            };
            let mut r = row(cols);
            r.set("relid", oid(t.oid));
            r.set("indexrelid", oid(ix.oid));
            r.set("schemaname", Value::Text(t.schema.clone()));
            r.set("relname", Value::Text(t.name.clone()));
            r.set("indexrelname", Value::Text(ix.name.clone()));
            r.count("idx_scan", &c.idx_scan);
            r.count("idx_tup_read", &c.idx_tup_read);
            r.count("idx_tup_fetch", &c.idx_tup_fetch);
            out.push(r.values);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_counts_move_the_estimates() {
        let c = TableCounters::default();
        c.inserted(10);
        c.updated(3);
        c.deleted(2);
        assert_eq!(c.n_tup_ins.load(Ordering::Relaxed), 10);
        assert_eq!(c.n_live_tup.load(Ordering::Relaxed), 8);
        assert_eq!(c.n_dead_tup.load(Ordering::Relaxed), 5);
        assert_eq!(c.n_mod_since_analyze.load(Ordering::Relaxed), 15);
        c.analyzed(8, 12, false);
        assert_eq!(c.n_mod_since_analyze.load(Ordering::Relaxed), 3);
        assert_eq!(c.analyze_count.load(Ordering::Relaxed), 1);
        c.vacuumed();
        assert_eq!(c.n_dead_tup.load(Ordering::Relaxed), 0);
        c.index_scanned(Some(7), 4);
        c.index_scanned(None, 1);
        assert_eq!(c.idx_scan.load(Ordering::Relaxed), 2);
        assert_eq!(
            c.index(7).map(|i| i.idx_tup_read.load(Ordering::Relaxed)),
            Some(4)
        );
    }
}
