//! The bound and optimized plan of a prepared SELECT, or the binding of a
//! prepared INSERT, UPDATE or DELETE ([`Kept`]), kept for its next Execute
//! while nothing it was bound against has changed.
//!
//! Background: PostgreSQL's plan cache (`utils/cache/plancache.c`) keeps a
//! prepared statement's plan and marks it invalid when a shared-invalidation
//! message names a relation, function or type it depends on. We differ: one
//! database-wide catalog generation stands for every dependency (any
//! catalog change makes every kept plan stale), and a plan holding a value
//! read at bind time is never kept, where PostgreSQL keeps its
//! parse-time constants (`'now'::timestamptz`) in the plan.
//!
//! ```text
//!   Execute ─▶ READ COMMITTED? simple plan? ─▶ slot holds (catalog gen, settings version)?
//!                 │ no                              │ equal          │ differ / empty
//!                 ▼                                 ▼                ▼
//!            bind + optimize                  run the kept plan   bind + optimize, keep it
//! ```
//!
//! A plan depends on the catalog (tables, columns, indexes, trees, views),
//! on the session's settings (search_path, session_authorization,
//! DateStyle/TimeZone for literals, planner switches) and on statistics.
//! The catalog generation counts catalog changes: a session bumps it after
//! each statement that may write the catalog (DDL, ANALYZE, VACUUM, roles,
//! grants, …: everything but queries, DML, COPY, EXPLAIN and the utility
//! commands that run outside a transaction) and again when such a
//! transaction ends (commit, rollback, rollback to a savepoint, a failed
//! statement). The settings version names the session's settings: a fresh
//! process-wide number per change, and per session.
//!
//! Invariants (why a kept plan is one a fresh bind would produce):
//! - A plan is kept with the generation read *before* the snapshot it was
//!   bound under, and used only if the generation read *after* the using
//!   statement's snapshot is equal and no catalog-changing commit is in
//!   flight (`in_flight`, raised before such a commit becomes visible and
//!   lowered after its bump). So every catalog commit the using snapshot
//!   sees was already seen by the binding snapshot.
//! - A plan is used only under the settings version it was bound under;
//!   two sessions never share a version, so a plan bound over one
//!   session's uncommitted DDL or temporary tables is never another's,
//!   even if they share a prepared statement.
//! - Only READ COMMITTED statements keep or use plans: their snapshot is
//!   the statement's own. Under REPEATABLE READ / SERIALIZABLE the catalog
//!   is read through the transaction's older snapshot, so they bind afresh.
//! - Only plans without per-execution state are kept ([`cacheable`]):
//!   scans, filters, projections, sorts, limits, DISTINCT and aggregates
//!   over plain expressions; no subqueries, joins, locking clauses,
//!   set-returning functions or recursive work tables. Parameters stay
//!   `Param` nodes and functions (`now()`, `nextval`, `current_user`) stay
//!   calls, evaluated on each execution. A DML binding is kept when its
//!   row source, WHERE, SET, CHECK and RETURNING expressions are
//!   (`BoundInsert::reusable`, `BoundModify::reusable`); ON CONFLICT binds
//!   afresh.
//! - A bind that folded a value of the moment into the plan keeps nothing
//!   ([`BindWatch`]): rows of a system view (`pg_stat_activity`, the
//!   `pg_catalog` relations), a data-modifying WITH item's rows, or the
//!   statement time (`'now'::timestamptz`, `date 'today'`).
//!
//! Open problems: every statement under REPEATABLE READ or SERIALIZABLE
//! binds each time; DDL on one table drops the plans over every other
//! table too; a plan is kept per prepared statement, not shared by the
//! sessions preparing the same text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::db::Column;

use super::dml::{BoundInsert, BoundModify};
use super::expr::Expr;
use super::plan::Plan;
use super::scan::Access;

/// The catalog generation of one database (shared by its sessions).
#[derive(Debug, Default)]
pub struct CatalogGeneration {
    generation: AtomicU64,
    /// Catalog-changing transactions between "about to commit" and "bumped".
    in_flight: AtomicU64,
}

impl CatalogGeneration {
    /// The generation now (to keep a plan with: read before its snapshot).
    pub fn current(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The generation, if no catalog-changing commit is in flight (to use a
    /// plan with: read after the statement's snapshot).
    pub fn settled(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) != 0 {
            return None;
        }
        Some(self.generation.load(Ordering::SeqCst))
    }

    /// Every kept plan is stale from now on.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks a catalog-changing transaction end in flight until the guard
    /// drops (which bumps the generation).
    pub fn ending(&self) -> EndGuard<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        EndGuard(self)
    }
}

/// See [`CatalogGeneration::ending`].
pub struct EndGuard<'a>(&'a CatalogGeneration);

impl Drop for EndGuard<'_> {
    fn drop(&mut self) {
        self.0.bump();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

thread_local! {
    /// Whether a bind on this thread folded rows of the moment into its
    /// plan since the last [`BindWatch::start`].
    static PRESENT_ROWS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the plan being bound holds rows read now (a system view's,
/// a materialised WITH item's): it answers for this execution only.
pub fn note_present_rows() {
    PRESENT_ROWS.with(|p| p.set(true));
}

/// Watches one bind (and optimization) for values of the moment folded
/// into its plan: [`note_present_rows`] and reads of the statement time.
#[must_use = "ask the watch whether the plan may be kept"]
pub struct BindWatch(());

impl BindWatch {
    pub fn start() -> BindWatch {
        PRESENT_ROWS.with(|p| p.set(false));
        crate::types::datetime::take_now_read();
        BindWatch(())
    }

    /// Whether nothing since [`BindWatch::start`] folded a value of the
    /// moment into the plan (it may serve a later execution).
    pub fn timeless(self) -> bool {
        let rows = PRESENT_ROWS.with(|p| p.replace(false));
        let now = crate::types::datetime::take_now_read();
        !rows && !now
    }
}

/// A kept plan and what it was bound against.
#[derive(Debug)]
pub struct CachedPlan {
    pub generation: u64,
    pub settings_version: u64,
    pub kept: Kept,
}

/// What a prepared statement keeps of its last execution.
pub enum Kept {
    Query {
        plan: Plan,
        columns: Vec<Column>,
    },
    Insert(BoundInsert),
    /// An UPDATE or DELETE.
    Modify(BoundModify),
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Query { columns, .. } => write!(f, "Kept::Query({} columns)", columns.len()),
            Kept::Insert(_) => f.write_str("Kept::Insert"),
            Kept::Modify(_) => f.write_str("Kept::Modify"),
        }
    }
}

/// A prepared statement's kept plan (empty until its first Execute).
#[derive(Debug, Default)]
pub struct PlanSlot(Mutex<Option<Arc<CachedPlan>>>);

impl PlanSlot {
    /// The kept plan, if it was bound at `generation` under `settings_version`.
    pub fn get(&self, generation: u64, settings_version: u64) -> Option<Arc<CachedPlan>> {
        let kept = self.0.lock();
        kept.as_ref()
            .filter(|c| c.generation == generation && c.settings_version == settings_version)
            .cloned()
    }

    /// The kept plan, whatever it was bound against (for tests).
    #[cfg(test)]
    pub fn kept(&self) -> Option<Arc<CachedPlan>> {
        self.0.lock().clone()
    }

    pub fn keep(&self, plan: CachedPlan) {
        *self.0.lock() = Some(Arc::new(plan));
    }
}

/// Whether `plan` may run again on another execution: it holds no state
/// of its own (see the module invariants).
pub fn cacheable(plan: &Plan) -> bool {
    match plan {
        Plan::Scan { access, .. } => match access {
            Access::Full => true,
            Access::Key(k) => {
                k.eq.iter().all(plain)
                    && k.lower.as_ref().is_none_or(|(e, _)| plain(e))
                    && k.upper.as_ref().is_none_or(|(e, _)| plain(e))
            }
        },
        Plan::Values { rows, .. } => rows.iter().flatten().all(plain),
        Plan::Filter { input, predicate } => cacheable(input) && plain(predicate),
        Plan::Project { input, exprs } => cacheable(input) && exprs.iter().all(plain),
        Plan::Distinct { input } | Plan::Sort { input, .. } => cacheable(input),
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            cacheable(input)
                && limit.as_ref().is_none_or(plain)
                && offset.as_ref().is_none_or(plain)
        }
        Plan::Aggregate { input, keys, aggs } => {
            cacheable(input)
                && keys.iter().all(plain)
                && aggs.iter().all(|a| {
                    a.args.iter().all(plain)
                        && a.filter.as_ref().is_none_or(plain)
                        && a.order.is_empty()
                })
        }
        _ => false,
    }
}

pub(crate) fn plain(e: &Expr) -> bool {
    let own = matches!(
        e,
        Expr::Const { .. }
            | Expr::Param { .. }
            | Expr::Column { .. }
            | Expr::Cast { .. }
            | Expr::Binary { .. }
            | Expr::Negate { .. }
            | Expr::Not(_)
            | Expr::And(..)
            | Expr::Or(..)
            | Expr::IsNull { .. }
            | Expr::IsBool { .. }
            | Expr::IsDistinct { .. }
            | Expr::Case { .. }
            | Expr::Coalesce { .. }
            | Expr::MinMax { .. }
            | Expr::Func { .. }
            | Expr::Like { .. }
    );
    own && super::optimizer::children(e).into_iter().all(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{DataType, Value};

    #[test]
    fn a_plan_is_used_only_at_the_generation_and_settings_it_was_kept_with() {
        let slot = PlanSlot::default();
        assert!(slot.get(0, 0).is_none());
        slot.keep(CachedPlan {
            generation: 3,
            settings_version: 7,
            kept: Kept::Query {
                plan: Plan::Values {
                    rows: vec![vec![Expr::Const {
                        value: Value::Int4(1),
                        ty: DataType::Int4,
                    }]],
                    width: 1,
                },
                columns: Vec::new(),
            },
        });
        assert!(slot.get(3, 7).is_some());
        assert!(slot.get(4, 7).is_none());
        assert!(slot.get(3, 8).is_none());
    }

    #[test]
    fn a_commit_in_flight_unsettles_the_generation_and_bumps_it_at_the_end() {
        let g = CatalogGeneration::default();
        let before = g.current();
        assert_eq!(g.settled(), Some(before));
        {
            let _guard = g.ending();
            assert_eq!(g.settled(), None);
        }
        assert_eq!(g.settled(), Some(before + 1));
        g.bump();
        assert_eq!(g.current(), before + 2);
    }
}

#[cfg(test)]
mod session_tests {
    use std::sync::Arc;

    use crate::Database;
    use crate::db::Session;
    use crate::types::{DataType, Value};

    fn run(s: &mut Session, sql: &str) {
        s.execute(sql).unwrap();
    }

    fn lookup(s: &mut Session, p: &crate::db::Prepared) -> Vec<Vec<Value>> {
        s.execute_prepared(p, &[Value::Int4(1)]).unwrap().rows
    }

    fn text(v: &str) -> Vec<Vec<Value>> {
        vec![vec![Value::Text(v.into())]]
    }

    #[test]
    fn a_kept_plan_is_dropped_when_the_catalog_or_settings_change() {
        let db = Database::in_memory().unwrap();
        let (mut a, mut b) = (db.session(), db.session());
        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut a, "INSERT INTO t VALUES (1, 'x')");
        let p = a
            .prepare("SELECT v FROM t WHERE id = $1", &[Some(DataType::Int4)])
            .unwrap();
        assert_eq!(lookup(&mut a, &p), text("x"));
        assert!(
            p.inner.plan.kept().is_some(),
            "a point lookup keeps its plan"
        );
        assert_eq!(lookup(&mut a, &p), text("x"));

        // Another session replaces the table: the new one is read.
        run(&mut b, "DROP TABLE t");
        run(&mut b, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut b, "INSERT INTO t VALUES (1, 'y')");
        assert_eq!(lookup(&mut a, &p), text("y"));

        // An uncommitted replacement in another session is not seen...
        run(&mut b, "BEGIN");
        run(&mut b, "DROP TABLE t");
        run(&mut b, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut b, "INSERT INTO t VALUES (1, 'b')");
        assert_eq!(lookup(&mut a, &p), text("y"));
        // ... until it commits.
        run(&mut b, "COMMIT");
        assert_eq!(lookup(&mut a, &p), text("b"));

        // The session's own DDL in a block, then rolled back.
        run(&mut a, "BEGIN");
        run(&mut a, "DELETE FROM t");
        run(&mut a, "ALTER TABLE t RENAME TO t_old");
        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut a, "INSERT INTO t VALUES (1, 'z')");
        assert_eq!(lookup(&mut a, &p), text("z"));
        run(&mut a, "ROLLBACK");
        assert_eq!(lookup(&mut a, &p), text("b"));

        // And to a savepoint.
        run(&mut a, "BEGIN");
        run(&mut a, "SAVEPOINT s");
        run(&mut a, "DROP TABLE t");
        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        assert_eq!(lookup(&mut a, &p), Vec::<Vec<Value>>::new());
        run(&mut a, "ROLLBACK TO SAVEPOINT s");
        assert_eq!(lookup(&mut a, &p), text("b"));
        run(&mut a, "COMMIT");

        // search_path decides which table the name means.
        run(&mut b, "CREATE SCHEMA s2");
        run(&mut b, "CREATE TABLE s2.t (id int PRIMARY KEY, v text)");
        run(&mut b, "INSERT INTO s2.t VALUES (1, 's2')");
        assert_eq!(lookup(&mut a, &p), text("b"));
        run(&mut a, "SET search_path = s2, public");
        assert_eq!(lookup(&mut a, &p), text("s2"));
        run(&mut a, "RESET search_path");
        assert_eq!(lookup(&mut a, &p), text("b"));

        // A new index is used by the next execution and answers the same.
        run(&mut b, "CREATE INDEX t_v ON t (v)");
        let by_v = a
            .prepare("SELECT id FROM t WHERE v = $1", &[Some(DataType::Text)])
            .unwrap();
        let rows = a
            .execute_prepared(&by_v, &[Value::Text("b".into())])
            .unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Int4(1)]]);
        run(&mut b, "DROP INDEX t_v");
        let rows = a
            .execute_prepared(&by_v, &[Value::Text("b".into())])
            .unwrap();
        assert_eq!(rows.rows, vec![vec![Value::Int4(1)]]);
    }

    fn prepare(s: &mut Session, sql: &str) -> crate::db::Prepared {
        s.prepare(sql, &[]).unwrap()
    }

    fn exec(s: &mut Session, p: &crate::db::Prepared) -> Vec<Vec<Value>> {
        s.execute_prepared(p, &[]).unwrap().rows
    }

    #[test]
    fn a_plan_holding_rows_or_times_read_at_bind_time_is_not_kept() {
        let db = Database::in_memory().unwrap();
        let mut a = db.session();
        let sessions = prepare(&mut a, "SELECT count(*) FROM pg_stat_activity");
        let before = exec(&mut a, &sessions);
        let _b = db.session();
        let after = exec(&mut a, &sessions);
        assert_ne!(before, after, "a second session shows in pg_stat_activity");
        assert!(sessions.inner.plan.kept().is_none());

        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY)");
        let tables = prepare(
            &mut a,
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relname LIKE 't%'",
        );
        let before = exec(&mut a, &tables);
        assert!(tables.inner.plan.kept().is_none());
        assert_eq!(exec(&mut a, &tables), before);

        for sql in [
            "SELECT 'now'::timestamptz",
            "SELECT timestamp 'now'",
            "SELECT now() + '0 seconds'::interval",
        ] {
            let p = prepare(&mut a, sql);
            let first = exec(&mut a, &p);
            std::thread::sleep(std::time::Duration::from_millis(2));
            let second = exec(&mut a, &p);
            assert_ne!(first, second, "{sql} reads the time of each execution");
        }
        let literal = prepare(&mut a, "SELECT date 'today' - 1");
        exec(&mut a, &literal);
        assert!(literal.inner.plan.kept().is_none());
        let call = prepare(&mut a, "SELECT now()");
        exec(&mut a, &call);
        assert!(
            call.inner.plan.kept().is_some(),
            "now() is a call, run on each execution"
        );
    }

    #[test]
    fn sessions_sharing_a_prepared_statement_never_share_its_plan() {
        let db = Database::in_memory().unwrap();
        let (mut a, mut b) = (db.session(), db.session());
        run(&mut a, "BEGIN");
        run(&mut a, "CREATE TABLE t2 (id int PRIMARY KEY, v text)");
        run(&mut a, "INSERT INTO t2 VALUES (1, 'mine')");
        let p = a
            .prepare("SELECT v FROM t2 WHERE id = $1", &[Some(DataType::Int4)])
            .unwrap();
        assert_eq!(lookup(&mut a, &p), text("mine"));
        assert!(p.inner.plan.kept().is_some());
        // b does not see a's uncommitted table, kept plan or not.
        let e = b.execute_prepared(&p, &[Value::Int4(1)]).unwrap_err();
        assert_eq!(e.sqlstate.0, "42P01", "{e:?}");
        run(&mut a, "ROLLBACK");
        let e = a.execute_prepared(&p, &[Value::Int4(1)]).unwrap_err();
        assert_eq!(e.sqlstate.0, "42P01", "{e:?}");
    }

    #[test]
    fn analyze_and_settings_make_the_next_execution_bind_again() {
        let db = Database::in_memory().unwrap();
        let (mut a, mut b) = (db.session(), db.session());
        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut a, "INSERT INTO t VALUES (1, 'x')");
        let p = a
            .prepare("SELECT v FROM t WHERE id = $1", &[Some(DataType::Int4)])
            .unwrap();
        let kept = |p: &crate::db::Prepared| p.inner.plan.kept().map(|k| Arc::as_ptr(&k));
        lookup(&mut a, &p);
        let first = kept(&p);
        lookup(&mut a, &p);
        assert_eq!(kept(&p), first, "nothing changed: the plan is reused");
        run(&mut b, "ANALYZE t");
        lookup(&mut a, &p);
        let second = kept(&p);
        assert_ne!(second, first, "new statistics: bound again");
        run(&mut a, "SET enable_hashjoin = off");
        assert_eq!(lookup(&mut a, &p), text("x"));
        assert_ne!(kept(&p), second, "a planner switch: bound again");
    }

    #[test]
    fn session_settings_between_executions_change_the_answer() {
        let db = Database::in_memory().unwrap();
        let mut a = db.session();
        let utc = prepare(
            &mut a,
            "SELECT '2020-01-01 00:00'::timestamptz = '2020-01-01 00:00+00'::timestamptz",
        );
        run(&mut a, "SET TimeZone = 'UTC'");
        assert_eq!(exec(&mut a, &utc), vec![vec![Value::Bool(true)]]);
        run(&mut a, "SET TimeZone = 'Europe/Paris'");
        assert_eq!(exec(&mut a, &utc), vec![vec![Value::Bool(false)]]);

        let day = prepare(&mut a, "SELECT extract(month FROM '01/02/2020'::date)::int");
        run(&mut a, "SET DateStyle = 'ISO, MDY'");
        assert_eq!(exec(&mut a, &day), vec![vec![Value::Int4(1)]]);
        run(&mut a, "SET DateStyle = 'ISO, DMY'");
        assert_eq!(exec(&mut a, &day), vec![vec![Value::Int4(2)]]);
        // SET LOCAL lasts until the block ends.
        run(&mut a, "BEGIN");
        run(&mut a, "SET LOCAL DateStyle = 'ISO, MDY'");
        assert_eq!(exec(&mut a, &day), vec![vec![Value::Int4(1)]]);
        run(&mut a, "COMMIT");
        assert_eq!(exec(&mut a, &day), vec![vec![Value::Int4(2)]]);

        let user = prepare(&mut a, "SELECT current_user");
        let me = exec(&mut a, &user);
        run(&mut a, "CREATE ROLE alice");
        run(&mut a, "SET SESSION AUTHORIZATION alice");
        assert_eq!(exec(&mut a, &user), text("alice"));
        run(&mut a, "RESET SESSION AUTHORIZATION");
        assert_eq!(exec(&mut a, &user), me);
    }

    #[test]
    fn sequences_and_views_are_read_on_each_execution() {
        let db = Database::in_memory().unwrap();
        let (mut a, mut b) = (db.session(), db.session());
        run(&mut a, "CREATE SEQUENCE s");
        let next = prepare(&mut a, "SELECT nextval('s')");
        assert_eq!(exec(&mut a, &next), vec![vec![Value::Int8(1)]]);
        assert_eq!(exec(&mut a, &next), vec![vec![Value::Int8(2)]]);
        run(&mut b, "DROP SEQUENCE s");
        run(&mut b, "CREATE SEQUENCE s START 10");
        assert_eq!(exec(&mut a, &next), vec![vec![Value::Int8(10)]]);

        run(&mut a, "CREATE TABLE t (id int PRIMARY KEY, v text)");
        run(&mut a, "INSERT INTO t VALUES (1, 'x')");
        run(&mut a, "CREATE VIEW v AS SELECT id, v AS w FROM t");
        let p = a
            .prepare("SELECT w FROM v WHERE id = $1", &[Some(DataType::Int4)])
            .unwrap();
        assert_eq!(lookup(&mut a, &p), text("x"));
        run(
            &mut b,
            "CREATE OR REPLACE VIEW v AS SELECT id, upper(v) AS w FROM t",
        );
        assert_eq!(lookup(&mut a, &p), text("X"));
        run(&mut b, "TRUNCATE t");
        assert_eq!(lookup(&mut a, &p), Vec::<Vec<Value>>::new());
    }

    fn exec_with(s: &mut Session, p: &crate::db::Prepared, params: &[Value]) -> String {
        match s.execute_prepared(p, params) {
            Ok(r) => r.tag,
            Err(e) => e.sqlstate.code().to_owned(),
        }
    }

    fn kept_kind(p: &crate::db::Prepared) -> Option<String> {
        p.inner.plan.kept().map(|k| format!("{:?}", k.kept))
    }

    #[test]
    fn prepared_dml_keeps_its_binding_until_the_catalog_changes() {
        let db = Database::in_memory().unwrap();
        let (mut a, mut b) = (db.session(), db.session());
        run(
            &mut a,
            "CREATE TABLE t (id int PRIMARY KEY, a int, ts timestamptz)",
        );
        let ins = a
            .prepare(
                "INSERT INTO t VALUES ($1, $2, CURRENT_TIMESTAMP)",
                &[Some(DataType::Int4), Some(DataType::Int4)],
            )
            .unwrap();
        let upd = a
            .prepare(
                "UPDATE t SET a = a + $1 WHERE id = $2",
                &[Some(DataType::Int4), Some(DataType::Int4)],
            )
            .unwrap();
        let del = a
            .prepare("DELETE FROM t WHERE id = $1", &[Some(DataType::Int4)])
            .unwrap();
        let int = Value::Int4;
        assert_eq!(exec_with(&mut a, &ins, &[int(1), int(10)]), "INSERT 0 1");
        assert_eq!(kept_kind(&ins).as_deref(), Some("Kept::Insert"));
        assert_eq!(exec_with(&mut a, &ins, &[int(2), int(20)]), "INSERT 0 1");
        // A kept INSERT still checks its keys.
        assert_eq!(exec_with(&mut a, &ins, &[int(2), int(20)]), "23505");
        assert_eq!(exec_with(&mut a, &upd, &[int(5), int(1)]), "UPDATE 1");
        assert_eq!(kept_kind(&upd).as_deref(), Some("Kept::Modify"));
        assert_eq!(exec_with(&mut a, &upd, &[int(5), int(1)]), "UPDATE 1");
        assert_eq!(exec_with(&mut a, &upd, &[int(5), int(9)]), "UPDATE 0");
        let sum = |s: &mut Session| {
            s.execute("SELECT sum(a)::int, count(ts)::int FROM t")
                .unwrap()
                .remove(0)
                .rows
        };
        assert_eq!(sum(&mut a), vec![vec![int(40), int(2)]]);

        // A CHECK added by another session binds into the next execution.
        run(&mut b, "ALTER TABLE t ADD CONSTRAINT small CHECK (a < 100)");
        assert_eq!(exec_with(&mut a, &upd, &[int(500), int(1)]), "23514");
        assert_eq!(exec_with(&mut a, &ins, &[int(3), int(300)]), "23514");
        // So does an index: rows inserted by a kept INSERT are found by it.
        run(&mut b, "CREATE INDEX t_a ON t (a)");
        assert_eq!(exec_with(&mut a, &ins, &[int(3), int(30)]), "INSERT 0 1");
        assert_eq!(exec_with(&mut a, &ins, &[int(4), int(31)]), "INSERT 0 1");
        let plan = format!(
            "{:?}",
            b.execute("EXPLAIN SELECT id FROM t WHERE a = 31").unwrap()[0].rows
        );
        assert!(plan.contains("t_a"), "not an index scan: {plan}");
        let by_index = b
            .execute("SELECT id FROM t WHERE a = 31")
            .unwrap()
            .remove(0)
            .rows;
        assert_eq!(by_index, vec![vec![int(4)]]);

        // A table replaced by another session is the one changed next.
        assert_eq!(exec_with(&mut a, &del, &[int(1)]), "DELETE 1");
        assert_eq!(kept_kind(&del).as_deref(), Some("Kept::Modify"));
        run(&mut b, "DROP TABLE t");
        run(
            &mut b,
            "CREATE TABLE t (id int PRIMARY KEY, a int, ts timestamptz)",
        );
        run(&mut b, "INSERT INTO t VALUES (1, 1, now()), (2, 2, now())");
        assert_eq!(exec_with(&mut a, &del, &[int(1)]), "DELETE 1");
        assert_eq!(exec_with(&mut a, &upd, &[int(1), int(2)]), "UPDATE 1");
        assert_eq!(sum(&mut a), vec![vec![int(3), int(1)]]);
    }
}
