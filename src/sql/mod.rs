//! The SQL layer: parse (sqlparser, PostgreSQL dialect) -> bind -> plan -> execute.
//!
//! ```text
//!   text ──parse──▶ ast::Statement ──bind──▶ Plan + columns ──execute──▶ rows
//!                        │
//!                        └─ SET / SHOW / BEGIN / COMMIT … ──▶ session (settings, block state)
//! ```
//!
//! Owns: statements, session settings, the transaction-block state machine,
//! expression evaluation, plans.
//! Never: talks to the wire or reaches past the catalog/transaction layer.

pub mod activity;
pub mod aggregate;
pub mod alter;
pub mod alter_columns;
pub mod array_functions;
pub mod autoanalyze;
pub mod bind;
pub mod bind_aggregate;
pub mod bind_join;
pub mod bind_ops;
pub mod cast;
pub mod check;
pub mod coerce;
pub mod comment;
pub mod constraints;
pub mod copy;
pub mod datetime_functions;
pub mod ddl;
pub mod dialect;
pub mod dml;
pub mod execute;
pub mod explain;
pub mod expr;
pub mod fk;
pub mod functions;
pub mod grouping_sets;
pub mod join;
pub mod lateral;
pub mod locking;
pub mod modifying_cte;
pub mod namespace;
pub mod number_format;
pub mod optimizer;
pub mod parse;
pub mod pg_catalog;
pub mod plan;
pub mod plan_cache;
pub mod prune;
pub mod recursive;
pub mod regexp_functions;
pub mod roles;
pub mod rows;
pub mod scan;
pub mod sequence;
pub mod session;
pub mod settings;
pub mod signals;
pub mod spill;
pub mod srf;
pub mod stack_depth;
pub mod stat_views;
pub mod stats;
pub mod string_functions;
pub mod subquery;
pub mod table_stats;
pub mod txn_syntax;
pub mod upsert;
pub mod vacuum;
pub mod view;
pub mod window;

pub use session::{PreparedStatement, SessionState};

/// State shared by all sessions of one database: the engine stack, the
/// catalog, and the row-id counters of tables without a primary key.
/// Cheap to clone.
#[derive(Clone)]
pub struct Shared {
    inner: std::sync::Arc<SharedInner>,
}

struct SharedInner {
    stack: crate::txn::open::Stack,
    catalog: crate::catalog::Catalog,
    /// Next hidden row id per row tree, read from the tree on first use. Row
    /// ids are not transactional (like sequences): a rolled-back insert
    /// leaves a gap. Each table has its own atomic, so inserts into one
    /// table never wait for inserts into another.
    rowids: parking_lot::Mutex<
        std::collections::HashMap<crate::txn::TreeId, std::sync::Arc<std::sync::atomic::AtomicI64>>,
    >,
    /// The sequences' values in memory (see `sequence.rs`).
    sequences: sequence::Cache,
    /// ANALYZE's statistics per table (by row tree), for the planner.
    stats: stats::StatsMap,
    /// Per-table activity counters (`pg_stat_user_tables`), by table oid.
    counters: table_stats::TableCountersMap,
    /// The sessions and statement statistics (`pg_stat_activity`, …).
    activity: std::sync::Arc<activity::Activity>,
    /// Counts catalog changes, so prepared plans know when to bind again.
    catalog_generation: plan_cache::CatalogGeneration,
    /// Where queries that outgrow `work_mem` write their temporary files.
    temp: std::sync::Arc<spill::TempArea>,
    /// Whether auto-analyze runs (`SHOW autovacuum`).
    autovacuum: std::sync::atomic::AtomicBool,
}

impl Shared {
    /// Whether auto-analyze runs, as `SHOW autovacuum` says.
    pub fn autovacuum(&self) -> bool {
        self.inner
            .autovacuum
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records whether auto-analyze runs (the database turns it on or off).
    pub fn note_autovacuum(&self, on: bool) {
        self.inner
            .autovacuum
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Opens the catalog of `stack` (creating it in a new data file).
    pub fn new(stack: &crate::txn::open::Stack, temp: spill::TempArea) -> crate::Result<Shared> {
        let catalog = crate::catalog::Catalog::open(stack)?;
        Ok(Shared {
            inner: std::sync::Arc::new(SharedInner {
                stack: stack.clone(),
                catalog,
                rowids: parking_lot::Mutex::new(std::collections::HashMap::new()),
                sequences: sequence::Cache::default(),
                stats: stats::StatsMap::default(),
                counters: table_stats::TableCountersMap::default(),
                activity: std::sync::Arc::default(),
                catalog_generation: plan_cache::CatalogGeneration::default(),
                temp: std::sync::Arc::new(temp),
                autovacuum: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    pub fn stack(&self) -> &crate::txn::open::Stack {
        &self.inner.stack
    }

    pub fn catalog(&self) -> &crate::catalog::Catalog {
        &self.inner.catalog
    }

    pub fn sequences(&self) -> &sequence::Cache {
        &self.inner.sequences
    }

    pub fn activity(&self) -> &std::sync::Arc<activity::Activity> {
        &self.inner.activity
    }

    pub fn stats(&self) -> &stats::StatsMap {
        &self.inner.stats
    }

    /// Every table's activity counters.
    pub fn counters(&self) -> &table_stats::TableCountersMap {
        &self.inner.counters
    }

    /// The temporary area of this database's queries.
    pub fn temp_area(&self) -> &std::sync::Arc<spill::TempArea> {
        &self.inner.temp
    }

    pub fn catalog_generation(&self) -> &plan_cache::CatalogGeneration {
        &self.inner.catalog_generation
    }

    /// A fresh hidden row id for a row of `tree` (a table without a
    /// primary key).
    pub fn next_rowid(&self, tree: &crate::storage::btree::Tree) -> crate::Result<i64> {
        use std::sync::atomic::Ordering;
        let counter = {
            let mut map = self.inner.rowids.lock();
            match map.get(&tree.id()) {
                Some(c) => c.clone(),
                None => {
                    let start = scan::max_rowid(tree)?.map_or(1, |m| m.saturating_add(1));
                    let c = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start));
                    map.insert(tree.id(), c.clone());
                    c
                }
            }
        };
        Ok(counter.fetch_add(1, Ordering::Relaxed))
    }
}
