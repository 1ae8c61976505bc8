//! The anomaly catalogue of Adya and Berenson et al. (the interleavings
//! Hermitage runs against PostgreSQL), as SQL sessions on real threads, at
//! each isolation level: every step's outcome — rows, blocking, or the
//! SQLSTATE of the error — is asserted, and the expected outcomes are those
//! PostgreSQL 15 gives.
//!
//! ```text
//!   step  session  statement                               expect
//!   1     T1       begin isolation level repeatable read   ok
//!   2     T1       update test set value = 11 where id = 1 ok
//!   3     T2       update test set value = 12 where id = 1 blocks      (row lock)
//!   4     T1       commit                                  ok
//!   5     T2       <the blocked update returns>            40001
//! ```
//!
//! Each session is a thread owning a connection; a statement expected to
//! block must give no answer within `BLOCK_WINDOW` (one expected to finish
//! may take up to `RESUME_WINDOW`); a blocked statement's answer is
//! collected by a later `Resumes` step. The same scenarios run against
//! arbordb's embedded API always, and against a PostgreSQL server as well
//! when `ARBORDB_ISOLATION_PG` names one (e.g.
//! `host=127.0.0.1 port=5433 user=postgres`), which is how the expectations
//! were checked.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use arbordb::Database;

/// How long a statement may take before it counts as blocked.
const BLOCK_WINDOW: Duration = Duration::from_millis(400);
/// How long a resumed statement may take to answer.
const RESUME_WINDOW: Duration = Duration::from_secs(20);

/// What a statement answered: its rows as text (`1,10;2,20`), or a SQLSTATE.
type Answer = Result<String, String>;

/// A connection a session thread owns.
trait Conn {
    fn run(&mut self, sql: &str) -> Answer;
}

struct Embedded(arbordb::Session);

impl Conn for Embedded {
    fn run(&mut self, sql: &str) -> Answer {
        match self.0.execute(sql) {
            Ok(results) => Ok(results
                .last()
                .map(|r| {
                    r.rows
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|v| v.to_text())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default()),
            Err(e) => Err(e.sqlstate.0.to_string()),
        }
    }
}

struct Remote {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Remote {
    fn connect(url: &str) -> Remote {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (client, conn) = rt
            .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
            .unwrap();
        rt.spawn(conn);
        Remote { rt, client }
    }
}

impl Conn for Remote {
    fn run(&mut self, sql: &str) -> Answer {
        use tokio_postgres::SimpleQueryMessage;
        match self.rt.block_on(self.client.simple_query(sql)) {
            Ok(messages) => Ok(messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect::<Vec<_>>()
                            .join(","),
                    ),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(";")),
            Err(e) => Err(e
                .code()
                .map(|c| c.code().to_string())
                .unwrap_or_else(|| format!("no sqlstate: {e}"))),
        }
    }
}

/// A session: a thread running one statement at a time.
struct Session {
    to: Option<Sender<String>>,
    from: Receiver<Answer>,
    pending: bool,
    thread: Option<JoinHandle<()>>,
}

impl Session {
    fn start(mut conn: Box<dyn Conn + Send>) -> Session {
        let (to, rx) = channel::<String>();
        let (tx, from) = channel::<Answer>();
        let thread = std::thread::spawn(move || {
            for sql in rx {
                if tx.send(conn.run(&sql)).is_err() {
                    break;
                }
            }
        });
        Session {
            to: Some(to),
            from,
            pending: false,
            thread: Some(thread),
        }
    }

    /// Runs `sql`; `None` if it is still running after `window`.
    fn run(&mut self, sql: &str, window: Duration) -> Option<Answer> {
        assert!(!self.pending, "session is blocked; cannot run {sql}");
        self.to.as_ref().unwrap().send(sql.to_string()).unwrap();
        match self.from.recv_timeout(window) {
            Ok(a) => Some(a),
            Err(RecvTimeoutError::Timeout) => {
                self.pending = true;
                None
            }
            Err(RecvTimeoutError::Disconnected) => panic!("session thread died"),
        }
    }

    /// The answer of the blocked statement.
    fn resume(&mut self) -> Answer {
        assert!(self.pending, "session is not blocked");
        self.pending = false;
        self.from
            .recv_timeout(RESUME_WINDOW)
            .expect("blocked statement never finished")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.to.take();
        if !self.pending
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

/// What a step expects.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Any successful answer.
    Done,
    /// Success with exactly these rows.
    Rows(&'static str),
    /// No answer within the block window.
    Blocks,
    /// An error with this SQLSTATE.
    Fails(&'static str),
}
use Expect::*;

/// One step: session index and statement; `None` statement: collect the
/// answer of that session's blocked statement.
type Step = (usize, Option<&'static str>, Expect);

fn s(session: usize, sql: &'static str, expect: Expect) -> Step {
    (session, Some(sql), expect)
}

fn resumes(session: usize, expect: Expect) -> Step {
    (session, None, expect)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

impl Level {
    fn begin(self) -> &'static str {
        match self {
            Level::ReadCommitted => "begin isolation level read committed",
            Level::RepeatableRead => "begin isolation level repeatable read",
            Level::Serializable => "begin isolation level serializable",
        }
    }
}

const LEVELS: [Level; 3] = [
    Level::ReadCommitted,
    Level::RepeatableRead,
    Level::Serializable,
];

/// A database under test: arbordb, and PostgreSQL when configured.
enum Target {
    Arbor(Database),
    Postgres(String),
}

impl Target {
    fn conn(&self) -> Box<dyn Conn + Send> {
        match self {
            Target::Arbor(db) => Box::new(Embedded(db.session())),
            Target::Postgres(url) => Box::new(Remote::connect(url)),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Arbor(_) => "arbordb",
            Target::Postgres(_) => "postgres",
        }
    }
}

fn targets() -> Vec<Target> {
    // PostgreSQL first: a wrong expectation shows as its failure.
    let mut t = Vec::new();
    if let Ok(url) = std::env::var("ARBORDB_ISOLATION_PG") {
        t.push(Target::Postgres(url));
    }
    t.push(Target::Arbor(Database::in_memory().unwrap()));
    t
}

static POSTGRES_TURN: Mutex<()> = Mutex::new(());

/// The tables a scenario starts from, and the query whose rows it ends with.
struct Fixture {
    setup: &'static [&'static str],
    check: &'static str,
}

const TEST: Fixture = Fixture {
    setup: &[
        "drop table if exists test",
        "create table test (id int primary key, value int)",
        "insert into test (id, value) values (1, 10), (2, 20)",
    ],
    check: "select * from test order by id",
};

/// Runs `steps` with `sessions` fresh sessions after the setup, asserting
/// each step; then checks `final_rows` of `select * from test order by id`.
fn scenario(name: &str, level: Level, sessions: usize, steps: &[Step], final_rows: &str) {
    scenario_on(&TEST, name, level, sessions, steps, final_rows)
}

/// [`scenario`] over another fixture.
fn scenario_on(
    fixture: &Fixture,
    name: &str,
    level: Level,
    sessions: usize,
    steps: &[Step],
    final_rows: &str,
) {
    for target in targets() {
        let label = format!("{name} at {level:?} on {}", target.name());
        // Scenarios share PostgreSQL's table `test`: one at a time there.
        let _serial = matches!(target, Target::Postgres(_))
            .then(|| POSTGRES_TURN.lock().unwrap_or_else(|p| p.into_inner()));
        let mut setup = target.conn();
        for stmt in fixture.setup {
            setup
                .run(stmt)
                .unwrap_or_else(|e| panic!("{label}: setup {stmt}: {e}"));
        }
        let mut ss: Vec<Session> = (0..sessions)
            .map(|_| Session::start(target.conn()))
            .collect();
        for (i, (who, sql, expect)) in steps.iter().enumerate() {
            let sql = sql.map(|q| if q == "begin" { level.begin() } else { q });
            let answer = match sql {
                // Only a statement expected to block gets the short
                // window, so a slow machine never fakes a block.
                Some(q) => ss[*who].run(
                    q,
                    if matches!(expect, Blocks) {
                        BLOCK_WINDOW
                    } else {
                        RESUME_WINDOW
                    },
                ),
                None => Some(ss[*who].resume()),
            };
            let what = sql.unwrap_or("<resumed>");
            let ok = match (expect, &answer) {
                (Blocks, None) => true,
                (Done, Some(Result::Ok(_))) => true,
                (Rows(want), Some(Result::Ok(got))) => got == want,
                (Fails(code), Some(Err(got))) => got == code,
                _ => false,
            };
            assert!(
                ok,
                "{label}: step {} (T{}: {what}) expected {expect:?}, got {}",
                i + 1,
                who + 1,
                match &answer {
                    None => "blocked".to_string(),
                    Some(a) => format!("{a:?}"),
                }
            );
        }
        drop(ss);
        let got = setup.run(fixture.check);
        assert_eq!(
            got,
            Result::Ok(final_rows.to_string()),
            "{label}: final table"
        );
    }
}

#[test]
fn g0_dirty_write_is_prevented_by_blocking_at_every_level() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "update test set value = 12 where id = 1", Blocks),
            s(0, "update test set value = 21 where id = 2", Done),
            s(0, "commit", Done),
            resumes(1, if rc { Done } else { Fails("40001") }),
            s(
                1,
                "update test set value = 22 where id = 2",
                if rc { Done } else { Fails("25P02") },
            ),
            s(1, "commit", Done),
        ];
        let fin = if rc { "1,12;2,22" } else { "1,11;2,21" };
        scenario("G0", level, 2, &steps, fin);
    }
}

#[test]
fn g1a_aborted_reads_are_never_seen() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = 101 where id = 1", Done),
            s(1, "select * from test order by id", Rows("1,10;2,20")),
            s(0, "rollback", Done),
            s(1, "select * from test order by id", Rows("1,10;2,20")),
            s(1, "commit", Done),
        ];
        scenario("G1a", level, 2, &steps, "1,10;2,20");
    }
}

#[test]
fn g1b_intermediate_reads_are_never_seen() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = 101 where id = 1", Done),
            s(1, "select * from test order by id", Rows("1,10;2,20")),
            s(0, "update test set value = 11 where id = 1", Done),
            s(0, "commit", Done),
            s(
                1,
                "select * from test order by id",
                Rows(if rc { "1,11;2,20" } else { "1,10;2,20" }),
            ),
            s(1, "commit", Done),
        ];
        scenario("G1b", level, 2, &steps, "1,11;2,20");
    }
}

#[test]
fn g1c_circular_information_flow_is_prevented() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "update test set value = 22 where id = 2", Done),
            s(0, "select * from test where id = 2", Rows("2,20")),
            s(1, "select * from test where id = 1", Rows("1,10")),
            s(0, "commit", Done),
            // Each read the other's row before the other's write: a cycle
            // of two rw-antidependencies, which SSI breaks.
            s(1, "commit", if ser { Fails("40001") } else { Done }),
        ];
        scenario(
            "G1c",
            level,
            2,
            &steps,
            if ser { "1,11;2,20" } else { "1,11;2,22" },
        );
    }
}

#[test]
fn otv_observed_transaction_vanishes_is_prevented() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let mut steps = vec![
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(2, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(0, "update test set value = 19 where id = 2", Done),
            s(1, "update test set value = 12 where id = 1", Blocks),
            s(0, "commit", Done),
            s(2, "select * from test where id = 1", Rows("1,11")),
        ];
        if rc {
            steps.extend([
                resumes(1, Done),
                s(1, "update test set value = 18 where id = 2", Done),
                s(2, "select * from test where id = 2", Rows("2,19")),
                s(1, "commit", Done),
                s(2, "select * from test where id = 2", Rows("2,18")),
                s(2, "select * from test where id = 1", Rows("1,12")),
                s(2, "commit", Done),
            ]);
            scenario("OTV", level, 3, &steps, "1,12;2,18");
        } else {
            steps.extend([
                resumes(1, Fails("40001")),
                s(1, "rollback", Done),
                s(2, "select * from test where id = 2", Rows("2,19")),
                s(2, "commit", Done),
            ]);
            scenario("OTV", level, 3, &steps, "1,11;2,19");
        }
    }
}

#[test]
fn pmp_predicate_many_preceders_is_allowed_only_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "select * from test where value = 30", Rows("")),
            s(1, "insert into test (id, value) values (3, 30)", Done),
            s(1, "commit", Done),
            s(
                0,
                "select * from test where value % 3 = 0",
                Rows(if rc { "3,30" } else { "" }),
            ),
            s(0, "commit", Done),
        ];
        scenario("PMP", level, 2, &steps, "1,10;2,20;3,30");
    }
}

#[test]
fn pmp_write_predicate_rechecks_at_read_committed_and_fails_above() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let mut steps = vec![
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = value + 10", Done),
            s(1, "delete from test where value = 20", Blocks),
            s(0, "commit", Done),
        ];
        if rc {
            // The row that had 20 now has 30: the re-check drops it; the
            // row that now has 20 was not a match when the delete began.
            steps.extend([
                resumes(1, Done),
                s(1, "select * from test where value = 20", Rows("1,20")),
                s(1, "commit", Done),
            ]);
        } else {
            steps.extend([resumes(1, Fails("40001")), s(1, "rollback", Done)]);
        }
        scenario("PMP-write", level, 2, &steps, "1,20;2,30");
    }
}

#[test]
fn p4_lost_update_is_allowed_only_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "select * from test where id = 1", Rows("1,10")),
            s(1, "select * from test where id = 1", Rows("1,10")),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "update test set value = 11 where id = 1", Blocks),
            s(0, "commit", Done),
            resumes(1, if rc { Done } else { Fails("40001") }),
            s(1, if rc { "commit" } else { "rollback" }, Done),
        ];
        scenario("P4", level, 2, &steps, "1,11;2,20");
    }
}

#[test]
fn p4_increment_loses_no_update_at_read_committed() {
    let steps = [
        s(0, "begin", Done),
        s(1, "begin", Done),
        s(0, "update test set value = value + 1 where id = 1", Done),
        s(1, "update test set value = value + 1 where id = 1", Blocks),
        s(0, "commit", Done),
        resumes(1, Done),
        s(1, "commit", Done),
    ];
    scenario("P4-increment", Level::ReadCommitted, 2, &steps, "1,12;2,20");
}

#[test]
fn g_single_read_skew_is_allowed_only_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "select * from test where id = 1", Rows("1,10")),
            s(1, "select * from test where id = 1", Rows("1,10")),
            s(1, "select * from test where id = 2", Rows("2,20")),
            s(1, "update test set value = 12 where id = 1", Done),
            s(1, "update test set value = 18 where id = 2", Done),
            s(1, "commit", Done),
            s(
                0,
                "select * from test where id = 2",
                Rows(if rc { "2,18" } else { "2,20" }),
            ),
            s(0, "commit", Done),
        ];
        scenario("G-single", level, 2, &steps, "1,12;2,18");
    }
}

#[test]
fn g_single_write_skew_on_delete_fails_above_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "select * from test where id = 1", Rows("1,10")),
            s(1, "update test set value = 12 where id = 1", Done),
            s(1, "update test set value = 18 where id = 2", Done),
            s(1, "commit", Done),
            // RC: row 2 now holds 18, so nothing matches; above, the row
            // changed since the snapshot: 40001.
            s(
                0,
                "delete from test where value = 20",
                if rc { Done } else { Fails("40001") },
            ),
            s(0, if rc { "commit" } else { "rollback" }, Done),
        ];
        scenario("G-single-write", level, 2, &steps, "1,12;2,18");
    }
}

#[test]
fn g2_item_write_skew_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(
                0,
                "select * from test where id in (1, 2) order by id",
                Rows("1,10;2,20"),
            ),
            s(
                1,
                "select * from test where id in (1, 2) order by id",
                Rows("1,10;2,20"),
            ),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "update test set value = 21 where id = 2", Done),
            s(0, "commit", Done),
            s(1, "commit", if ser { Fails("40001") } else { Done }),
        ];
        scenario(
            "G2-item",
            level,
            2,
            &steps,
            if ser { "1,11;2,20" } else { "1,11;2,21" },
        );
    }
}

#[test]
fn g2_anti_dependency_cycle_on_a_predicate_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "select * from test where value % 3 = 0", Rows("")),
            s(1, "select * from test where value % 3 = 0", Rows("")),
            s(0, "insert into test (id, value) values (3, 30)", Done),
            s(1, "insert into test (id, value) values (4, 42)", Done),
            s(0, "commit", Done),
            s(1, "commit", if ser { Fails("40001") } else { Done }),
        ];
        scenario(
            "G2",
            level,
            2,
            &steps,
            if ser {
                "1,10;2,20;3,30"
            } else {
                "1,10;2,20;3,30;4,42"
            },
        );
    }
}

#[test]
fn g2_two_edges_with_a_read_only_observer_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(0, "select * from test order by id", Rows("1,10;2,20")),
            s(1, "begin", Done),
            s(1, "update test set value = value + 5 where id = 2", Done),
            s(1, "commit", Done),
            s(2, "begin", Done),
            s(2, "select * from test order by id", Rows("1,10;2,25")),
            s(2, "commit", Done),
            s(
                0,
                "update test set value = 0 where id = 1",
                if ser { Fails("40001") } else { Done },
            ),
            s(0, if ser { "rollback" } else { "commit" }, Done),
        ];
        scenario(
            "G2-two-edges",
            level,
            3,
            &steps,
            if ser { "1,10;2,25" } else { "1,0;2,25" },
        );
    }
}

// ---------------------------------------------------------------------------
// Row locks: SELECT … FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY
// SHARE, NOWAIT, SKIP LOCKED, timeouts and deadlocks.

#[test]
fn for_update_makes_a_writer_wait_until_commit_at_every_level() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(
                0,
                "select * from test where id = 1 for update",
                Rows("1,10"),
            ),
            s(1, "update test set value = 11 where id = 1", Blocks),
            s(0, "commit", Done),
            resumes(1, Done),
        ];
        scenario("FOR UPDATE blocks", level, 2, &steps, "1,11;2,20");
    }
}

#[test]
fn for_update_nowait_fails_with_55p03_on_a_locked_row() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "begin", Done),
            s(
                1,
                "select * from test where id = 2 for update nowait",
                Rows("2,20"),
            ),
            s(
                1,
                "select * from test where id = 1 for update nowait",
                Fails("55P03"),
            ),
            s(1, "select 1", Fails("25P02")),
            s(1, "rollback", Done),
            s(0, "commit", Done),
        ];
        scenario("FOR UPDATE NOWAIT", level, 2, &steps, "1,11;2,20");
    }
}

#[test]
fn for_update_skip_locked_takes_the_rows_nobody_holds() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(
                0,
                "select * from test where id = 1 for update",
                Rows("1,10"),
            ),
            s(1, "begin", Done),
            s(
                1,
                "select * from test order by id for update skip locked",
                Rows("2,20"),
            ),
            s(2, "begin", Done),
            // A queue: the first row nobody holds, and only that one.
            s(
                2,
                "select id from test order by id limit 1 for update skip locked",
                Rows(""),
            ),
            s(1, "rollback", Done),
            s(
                2,
                "select id from test order by id limit 1 for update skip locked",
                Rows("2"),
            ),
            s(2, "commit", Done),
            s(0, "commit", Done),
        ];
        scenario("SKIP LOCKED", level, 3, &steps, "1,10;2,20");
    }
}

#[test]
fn for_update_after_a_wait_rechecks_the_newest_version_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let mut steps = vec![
            s(0, "begin", Done),
            s(0, "update test set value = value + 10 where id = 1", Done),
            s(0, "update test set value = value + 1 where id = 2", Done),
            s(1, "begin", Done),
            s(
                1,
                "select * from test where value >= 10 order by id for update",
                Blocks,
            ),
            s(0, "commit", Done),
        ];
        if rc {
            // Both rows still match, returned as they are now.
            steps.extend([resumes(1, Rows("1,20;2,21")), s(1, "commit", Done)]);
        } else {
            steps.extend([resumes(1, Fails("40001")), s(1, "rollback", Done)]);
        }
        scenario("FOR UPDATE re-check", level, 2, &steps, "1,20;2,21");
    }
}

#[test]
fn for_update_skips_a_row_updated_to_no_longer_match_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let mut steps = vec![
            s(0, "begin", Done),
            s(0, "update test set value = 15 where id = 1", Done),
            s(0, "delete from test where id = 2", Done),
            s(1, "begin", Done),
            s(1, "select * from test where value < 25 for share", Blocks),
            s(0, "commit", Done),
        ];
        if rc {
            steps.extend([resumes(1, Rows("1,15")), s(1, "commit", Done)]);
        } else {
            steps.extend([resumes(1, Fails("40001")), s(1, "rollback", Done)]);
        }
        scenario("FOR SHARE skips", level, 2, &steps, "1,15");
        let steps = [
            s(0, "begin", Done),
            s(0, "update test set value = 30 where id = 1", Done),
            s(1, "begin", Done),
            s(1, "select * from test where value = 10 for update", Blocks),
            s(0, "commit", Done),
            resumes(1, if rc { Rows("") } else { Fails("40001") }),
            s(1, "rollback", Done),
        ];
        scenario(
            "FOR UPDATE no longer matches",
            level,
            2,
            &steps,
            "1,30;2,20",
        );
    }
}

#[test]
fn share_locks_admit_each_other_and_hold_off_writers() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(0, "select * from test where id = 1 for share", Rows("1,10")),
            s(1, "begin", Done),
            s(1, "select * from test where id = 1 for share", Rows("1,10")),
            s(
                1,
                "select * from test where id = 1 for key share",
                Rows("1,10"),
            ),
            s(2, "update test set value = 12 where id = 1", Blocks),
            s(0, "commit", Done),
            s(1, "commit", Done),
            resumes(2, Done),
        ];
        scenario("FOR SHARE", level, 3, &steps, "1,12;2,20");
    }
}

#[test]
fn key_share_admits_a_non_key_update_and_holds_off_a_key_update() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(
                0,
                "select * from test where id = 1 for key share",
                Rows("1,10"),
            ),
            s(1, "begin", Done),
            s(1, "update test set value = 11 where id = 1", Done),
            // FOR KEY SHARE does not wait for the running non-key update
            // and sees the row as its snapshot does.
            s(2, "begin", Done),
            s(
                2,
                "select * from test where id = 1 for key share",
                Rows("1,10"),
            ),
            s(2, "commit", Done),
            s(
                1,
                "select * from test where id = 2 for no key update",
                Rows("2,20"),
            ),
            s(1, "update test set id = 3 where id = 1", Blocks),
            s(0, "commit", Done),
            resumes(1, Done),
            s(1, "commit", Done),
        ];
        scenario("FOR KEY SHARE", level, 3, &steps, "2,20;3,11");
    }
}

#[test]
fn no_key_update_holds_off_for_update_but_not_key_share() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(
                0,
                "select * from test where id = 1 for no key update of test",
                Rows("1,10"),
            ),
            s(1, "begin", Done),
            s(
                1,
                "select * from test t where id = 1 for key share of t",
                Rows("1,10"),
            ),
            s(
                1,
                "select * from test where id = 1 for update nowait",
                Fails("55P03"),
            ),
            s(1, "rollback", Done),
            s(0, "commit", Done),
        ];
        scenario("FOR NO KEY UPDATE", level, 2, &steps, "1,10;2,20");
    }
}

#[test]
fn lock_timeout_and_statement_timeout_end_a_lock_wait() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "set lock_timeout = '50ms'", Done),
            s(1, "update test set value = 12 where id = 1", Fails("55P03")),
            s(1, "begin", Done),
            s(
                1,
                "select * from test where id = 1 for share",
                Fails("55P03"),
            ),
            s(1, "rollback", Done),
            s(1, "set lock_timeout = 0", Done),
            s(1, "set statement_timeout = '50ms'", Done),
            s(1, "delete from test where id = 1", Fails("57014")),
            s(1, "set statement_timeout = 0", Done),
            s(0, "commit", Done),
        ];
        scenario("lock timeouts", level, 2, &steps, "1,11;2,20");
    }
}

#[test]
fn deadlock_over_sql_aborts_the_first_waiter_with_40p01() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, "update test set value = 11 where id = 1", Done),
            s(1, "update test set value = 21 where id = 2", Done),
            s(0, "update test set value = 12 where id = 2", Blocks),
            s(1, "update test set value = 22 where id = 1", Blocks),
            // After deadlock_timeout the first waiter finds the cycle.
            resumes(0, Fails("40P01")),
            resumes(1, Done),
            s(0, "rollback", Done),
            s(1, "commit", Done),
        ];
        scenario("deadlock", level, 2, &steps, "1,22;2,21");
    }
}

#[test]
fn locking_clauses_are_refused_where_postgresql_refuses_them() {
    let steps = [
        s(
            0,
            "select distinct value from test for update",
            Fails("0A000"),
        ),
        s(0, "select count(*) from test for share", Fails("0A000")),
        s(
            0,
            "select value from test group by value for update",
            Fails("0A000"),
        ),
        s(
            0,
            "select sum(value) over () from test for update",
            Fails("0A000"),
        ),
        s(0, "select * from test t for update of test", Fails("42P01")),
        s(0, "begin read only", Done),
        s(0, "select * from test for key share", Fails("25006")),
        s(0, "rollback", Done),
        s(
            0,
            "select * from test order by id desc limit 1 offset 1 for no key update",
            Rows("1,10"),
        ),
    ];
    scenario(
        "locking refusals",
        Level::ReadCommitted,
        1,
        &steps,
        "1,10;2,20",
    );
}

// ---------------------------------------------------------------------------
// DEFERRABLE.

#[test]
fn deferrable_is_read_by_begin_set_transaction_and_the_default() {
    let steps = [
        s(0, "show transaction_deferrable", Rows("off")),
        s(
            0,
            "begin isolation level serializable, read only, deferrable",
            Done,
        ),
        s(0, "show transaction_deferrable", Rows("on")),
        s(0, "select * from test order by id", Rows("1,10;2,20")),
        s(0, "set transaction not deferrable", Fails("25001")),
        s(0, "rollback", Done),
        s(0, "start transaction deferrable", Done),
        s(0, "set transaction not deferrable", Done),
        s(0, "show transaction_deferrable", Rows("off")),
        s(0, "savepoint a", Done),
        s(0, "set transaction deferrable", Fails("25001")),
        s(0, "rollback", Done),
        s(0, "set default_transaction_deferrable = on", Done),
        s(0, "begin", Done),
        s(0, "show transaction_deferrable", Rows("on")),
        s(0, "commit", Done),
        s(
            0,
            "set session characteristics as transaction not deferrable",
            Done,
        ),
        s(0, "show default_transaction_deferrable", Rows("off")),
    ];
    scenario("DEFERRABLE", Level::ReadCommitted, 1, &steps, "1,10;2,20");
}

#[test]
fn serializable_read_only_deferrable_waits_for_a_safe_snapshot() {
    let steps = [
        s(0, "begin isolation level serializable", Done),
        s(0, "select * from test where id = 1", Rows("1,10")),
        s(0, "update test set value = 21 where id = 2", Done),
        s(
            1,
            "begin isolation level serializable read only deferrable",
            Done,
        ),
        // The snapshot waits until no concurrent read-write transaction
        // can make it unsafe.
        s(1, "select * from test order by id", Blocks),
        s(0, "commit", Done),
        // Safe: it runs on the snapshot it waited with, taken before the
        // writer committed.
        resumes(1, Rows("1,10;2,20")),
        s(1, "commit", Done),
    ];
    scenario(
        "DEFERRABLE waits",
        Level::Serializable,
        2,
        &steps,
        "1,10;2,21",
    );
}

// ---------------------------------------------------------------------------
// SSI scenarios of Cahill et al. and Ports & Grittner, over SQL.

const DOCTORS: Fixture = Fixture {
    setup: &[
        "drop table if exists doctors",
        "create table doctors (name text primary key, on_call boolean not null)",
        "insert into doctors values ('alice', true), ('bob', true)",
    ],
    check: "select name from doctors where on_call order by name",
};

#[test]
fn doctors_on_call_write_skew_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let count = "select count(*) from doctors where on_call";
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, count, Rows("2")),
            s(1, count, Rows("2")),
            s(
                0,
                "update doctors set on_call = false where name = 'alice'",
                Done,
            ),
            s(
                1,
                "update doctors set on_call = false where name = 'bob'",
                Done,
            ),
            s(0, "commit", Done),
            s(1, "commit", if ser { Fails("40001") } else { Done }),
        ];
        // Without SSI nobody is left on call.
        scenario_on(
            &DOCTORS,
            "doctors",
            level,
            2,
            &steps,
            if ser { "bob" } else { "" },
        );
    }
}

#[test]
fn doctors_on_call_serial_order_keeps_one_on_call_at_every_level() {
    for level in LEVELS {
        let count = "select count(*) from doctors where on_call";
        let steps = [
            s(0, "begin", Done),
            s(0, count, Rows("2")),
            s(
                0,
                "update doctors set on_call = false where name = 'alice'",
                Done,
            ),
            s(0, "commit", Done),
            s(1, "begin", Done),
            s(1, count, Rows("1")),
            s(1, "commit", Done),
        ];
        scenario_on(&DOCTORS, "doctors serial", level, 2, &steps, "bob");
    }
}

const RECEIPTS: Fixture = Fixture {
    setup: &[
        "drop table if exists ctl",
        "drop table if exists receipt",
        "create table ctl (k text primary key, batch int not null)",
        "create table receipt (no int primary key, batch int not null, amount int not null)",
        "insert into ctl values ('receipt', 1)",
        "insert into receipt values (1, 1, 100), (2, 1, 200)",
    ],
    check: "select batch, count(*) from receipt group by batch order by batch",
};

const NEW_RECEIPT: &str =
    "insert into receipt values (3, (select batch from ctl where k = 'receipt'), 4)";
const CLOSE_BATCH: &str = "update ctl set batch = batch + 1 where k = 'receipt'";
const REPORT_CTL: &str = "select batch from ctl where k = 'receipt'";
const REPORT_BATCH_1: &str = "select sum(amount) from receipt where batch = 1";

/// The read-only anomaly: the report sees batch 1 closed, sums it, and
/// only afterwards a receipt of batch 1 commits.
#[test]
fn receipts_report_read_only_anomaly_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(0, NEW_RECEIPT, Done),
            s(1, "begin", Done),
            s(1, CLOSE_BATCH, Done),
            s(1, "commit", Done),
            s(2, "begin", Done),
            s(2, REPORT_CTL, Rows("2")),
            s(2, REPORT_BATCH_1, Rows("300")),
            s(2, "commit", Done),
            // The report said batch 1 totals 300; this receipt would change it.
            s(0, "commit", if ser { Fails("40001") } else { Done }),
        ];
        scenario_on(
            &RECEIPTS,
            "receipts",
            level,
            3,
            &steps,
            if ser { "1,2" } else { "1,3" },
        );
    }
}

#[test]
fn receipts_without_the_report_commit_at_every_level() {
    for level in LEVELS {
        // The same two writers without the read-only report are serializable
        // (receipt before close).
        let steps = [
            s(0, "begin", Done),
            s(0, NEW_RECEIPT, Done),
            s(1, "begin", Done),
            s(1, CLOSE_BATCH, Done),
            s(1, "commit", Done),
            s(0, "commit", Done),
            s(2, "begin", Done),
            s(2, REPORT_CTL, Rows("2")),
            s(2, REPORT_BATCH_1, Rows("304")),
            s(2, "commit", Done),
        ];
        scenario_on(&RECEIPTS, "receipts serial", level, 3, &steps, "1,3");
    }
}

#[test]
fn receipts_report_before_the_close_commits_is_serializable() {
    for level in LEVELS {
        // The report runs while the close is still open: it sees batch 1
        // still open, so the late receipt of batch 1 is consistent with it.
        let steps = [
            s(0, "begin", Done),
            s(0, NEW_RECEIPT, Done),
            s(1, "begin", Done),
            s(1, CLOSE_BATCH, Done),
            s(2, "begin", Done),
            s(2, REPORT_CTL, Rows("1")),
            s(2, REPORT_BATCH_1, Rows("300")),
            s(2, "commit", Done),
            s(1, "commit", Done),
            s(0, "commit", Done),
        ];
        scenario_on(&RECEIPTS, "receipts early report", level, 3, &steps, "1,3");
    }
}

const BOOKINGS: Fixture = Fixture {
    setup: &[
        "drop table if exists bookings",
        "create table bookings (id int primary key, room int not null, start_h int not null, end_h int not null)",
        "insert into bookings values (1, 1, 8, 10)",
    ],
    check: "select id, start_h, end_h from bookings order by id",
};

/// Overlap check for room 1 between hours `s` and `e`: a range predicate,
/// so the conflicting row does not exist yet when it is read (a phantom).
const OVERLAP_10_12: &str =
    "select count(*) from bookings where room = 1 and start_h < 12 and end_h > 10";
const OVERLAP_11_13: &str =
    "select count(*) from bookings where room = 1 and start_h < 13 and end_h > 11";

#[test]
fn overlapping_bookings_phantom_write_skew_is_prevented_only_at_serializable() {
    for level in LEVELS {
        let ser = level == Level::Serializable;
        let steps = [
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, OVERLAP_10_12, Rows("0")),
            s(1, OVERLAP_11_13, Rows("0")),
            s(0, "insert into bookings values (2, 1, 10, 12)", Done),
            s(1, "insert into bookings values (3, 1, 11, 13)", Done),
            s(0, "commit", Done),
            s(1, "commit", if ser { Fails("40001") } else { Done }),
        ];
        scenario_on(
            &BOOKINGS,
            "bookings",
            level,
            2,
            &steps,
            if ser {
                "1,8,10;2,10,12"
            } else {
                "1,8,10;2,10,12;3,11,13"
            },
        );
    }
}

#[test]
fn overlapping_bookings_in_serial_order_see_each_other() {
    for level in LEVELS {
        let steps = [
            s(0, "begin", Done),
            s(0, OVERLAP_10_12, Rows("0")),
            s(0, "insert into bookings values (2, 1, 10, 12)", Done),
            s(0, "commit", Done),
            s(1, "begin", Done),
            s(1, OVERLAP_11_13, Rows("1")),
            s(1, "rollback", Done),
        ];
        scenario_on(
            &BOOKINGS,
            "bookings serial",
            level,
            2,
            &steps,
            "1,8,10;2,10,12",
        );
    }
}

/// `test` and the table an UPDATE … FROM joins it with.
const TEST_AND_DELTA: Fixture = Fixture {
    setup: &[
        "drop table if exists test",
        "drop table if exists delta",
        "create table test (id int primary key, value int)",
        "insert into test (id, value) values (1, 10), (2, 20)",
        "create table delta (id int primary key, amount int)",
        "insert into delta values (1, 1), (2, 2)",
    ],
    check: "select * from test order by id",
};

const UPDATE_FROM_DELTA: &str = "update test set value = test.value + delta.amount \
     from delta where test.id = delta.id returning test.id, test.value";

#[test]
fn update_from_waits_then_rechecks_the_new_row_at_read_committed() {
    for level in LEVELS {
        let rc = level == Level::ReadCommitted;
        let mut steps = vec![
            s(0, "begin", Done),
            s(1, "begin", Done),
            s(0, UPDATE_FROM_DELTA, Rows("1,11;2,22")),
            // the same target rows through the join: waits for T1
            s(1, UPDATE_FROM_DELTA, Blocks),
            s(0, "commit", Done),
        ];
        if rc {
            // EvalPlanQual: the join is evaluated again on T1's versions,
            // so both increments count (no lost update).
            steps.extend([resumes(1, Rows("1,12;2,24")), s(1, "commit", Done)]);
        } else {
            steps.extend([resumes(1, Fails("40001")), s(1, "rollback", Done)]);
        }
        scenario_on(
            &TEST_AND_DELTA,
            "UPDATE FROM re-check",
            level,
            2,
            &steps,
            if rc { "1,12;2,24" } else { "1,11;2,22" },
        );
    }
}

#[test]
fn update_from_skips_a_target_row_updated_to_no_longer_match_at_read_committed() {
    let steps = [
        s(0, "begin", Done),
        s(0, "update test set value = value + 100 where id = 1", Done),
        s(1, "begin", Done),
        s(
            1,
            "update test set value = delta.amount from delta \
             where test.id = delta.id and test.value < 50 returning test.id, test.value",
            Blocks,
        ),
        s(0, "commit", Done),
        // row 1 is 110 now: the re-check of the WHERE drops it
        resumes(1, Rows("2,2")),
        s(1, "commit", Done),
    ];
    scenario_on(
        &TEST_AND_DELTA,
        "UPDATE FROM re-check drops",
        Level::ReadCommitted,
        2,
        &steps,
        "1,110;2,2",
    );
}
