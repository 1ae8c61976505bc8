//! Per-table activity counters (`pg_stat_user_tables`,
//! `pg_stat_user_indexes`), relation sizes, and auto-analyze (issues #7,
//! #8).

use arbordb::{Database, Session, Value};

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn int(s: &mut Session, sql: &str) -> i64 {
    match rows(s, sql).first().and_then(|r| r.first()) {
        Some(Value::Int8(n)) => *n,
        Some(Value::Int4(n)) => i64::from(*n),
        other => panic!("{sql}: {other:?}"),
    }
}

fn stat(s: &mut Session, table: &str, column: &str) -> i64 {
    int(
        s,
        &format!("SELECT {column} FROM pg_stat_user_tables WHERE relname = '{table}'"),
    )
}

#[test]
fn statements_are_counted_per_table() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id int PRIMARY KEY, k int, v text)")
        .unwrap();
    s.execute("CREATE INDEX t_k ON t (k)").unwrap();
    s.execute("CREATE TABLE other (a int)").unwrap();
    assert_eq!(stat(&mut s, "t", "n_tup_ins"), 0);
    s.execute("INSERT INTO t SELECT g, g % 10, 'x' FROM generate_series(1, 100) g")
        .unwrap();
    s.execute("UPDATE t SET v = 'y' WHERE id <= 30").unwrap();
    s.execute("DELETE FROM t WHERE id > 90").unwrap();
    assert_eq!(stat(&mut s, "t", "n_tup_ins"), 100);
    assert_eq!(stat(&mut s, "t", "n_tup_upd"), 30);
    assert_eq!(stat(&mut s, "t", "n_tup_del"), 10);
    assert_eq!(stat(&mut s, "t", "n_live_tup"), 90);
    assert_eq!(stat(&mut s, "t", "n_dead_tup"), 40);
    assert_eq!(stat(&mut s, "t", "n_mod_since_analyze"), 140);
    assert_eq!(stat(&mut s, "other", "n_tup_ins"), 0);

    let seq = stat(&mut s, "t", "seq_scan");
    let read = stat(&mut s, "t", "seq_tup_read");
    rows(&mut s, "SELECT count(*) FROM t");
    assert_eq!(stat(&mut s, "t", "seq_scan"), seq + 1);
    assert_eq!(stat(&mut s, "t", "seq_tup_read"), read + 90);

    let idx = stat(&mut s, "t", "idx_scan");
    rows(&mut s, "SELECT v FROM t WHERE id = 5");
    assert_eq!(stat(&mut s, "t", "idx_scan"), idx + 1);
    rows(&mut s, "SELECT v FROM t WHERE k = 3");
    assert_eq!(stat(&mut s, "t", "idx_scan"), idx + 2);
    let k_scans = int(
        &mut s,
        "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 't_k'",
    );
    assert_eq!(k_scans, 1);
    let k_read = int(
        &mut s,
        "SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 't_k'",
    );
    assert_eq!(k_read, 9);

    // relid is the table's pg_class oid; the view has one row per table.
    let joined = int(
        &mut s,
        "SELECT count(*) FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE c.relname = s.relname AND s.schemaname = 'public'",
    );
    assert_eq!(joined, 2);
    assert_eq!(int(&mut s, "SELECT count(*) FROM pg_stat_all_tables"), 2);

    // ANALYZE and VACUUM.
    assert_eq!(stat(&mut s, "t", "analyze_count"), 0);
    s.execute("ANALYZE t").unwrap();
    assert_eq!(stat(&mut s, "t", "analyze_count"), 1);
    assert_eq!(stat(&mut s, "t", "n_mod_since_analyze"), 0);
    assert_eq!(stat(&mut s, "t", "n_live_tup"), 90);
    let analyzed = rows(
        &mut s,
        "SELECT last_analyze IS NOT NULL, last_vacuum IS NULL FROM pg_stat_user_tables \
         WHERE relname = 't'",
    );
    assert_eq!(analyzed, vec![vec![Value::Bool(true), Value::Bool(true)]]);
    s.execute("VACUUM t").unwrap();
    assert_eq!(stat(&mut s, "t", "vacuum_count"), 1);
    assert_eq!(stat(&mut s, "t", "n_dead_tup"), 0);
    assert_eq!(stat(&mut s, "t", "n_ins_since_vacuum"), 0);
    let reltuples = rows(&mut s, "SELECT reltuples FROM pg_class WHERE relname = 't'");
    assert_eq!(reltuples, vec![vec![Value::Float4(90.0)]]);
    assert!(int(&mut s, "SELECT relpages FROM pg_class WHERE relname = 't'") >= 1);

    // A rolled-back statement's rows are still counted in n_tup_ins, as
    // PostgreSQL counts them.
    s.execute("BEGIN").unwrap();
    s.execute("INSERT INTO t VALUES (1000, 1, 'z')").unwrap();
    s.execute("ROLLBACK").unwrap();
    assert_eq!(stat(&mut s, "t", "n_tup_ins"), 101);

    // A dropped table has no row; a new one starts at zero.
    s.execute("DROP TABLE other").unwrap();
    assert_eq!(
        int(
            &mut s,
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'other'"
        ),
        0
    );
}

#[test]
fn sizes_count_the_pages_of_the_trees() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (id int PRIMARY KEY, k int, v text)")
        .unwrap();
    s.execute("CREATE INDEX t_k ON t (k)").unwrap();
    let empty = int(&mut s, "SELECT pg_relation_size('t')");
    s.execute("INSERT INTO t SELECT g, g % 100, repeat('x', 50) FROM generate_series(1, 10000) g")
        .unwrap();
    let table = int(&mut s, "SELECT pg_relation_size('t')");
    let index = int(&mut s, "SELECT pg_relation_size('t_k')");
    let indexes = int(&mut s, "SELECT pg_indexes_size('t')");
    let total = int(&mut s, "SELECT pg_total_relation_size('t')");
    assert!(table > empty, "{table} > {empty}");
    assert!(table >= 10000 * 50, "{table}");
    assert_eq!(table % 8192, 0);
    assert!(index > 0);
    assert_eq!(indexes, index);
    assert_eq!(total, table + indexes);
    assert_eq!(int(&mut s, "SELECT pg_table_size('t')"), table);
    let pretty = rows(&mut s, "SELECT pg_size_pretty(pg_total_relation_size('t'))");
    assert!(
        matches!(&pretty[0][0], Value::Text(t) if t.ends_with("kB") || t.ends_with("MB")),
        "{pretty:?}"
    );
}

fn wait_for(s: &mut Session, sql: &str, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if rows(s, sql) == vec![vec![Value::Bool(true)]] {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn auto_analyze_runs_after_enough_changes() {
    let db = Database::in_memory().unwrap();
    // An in-memory database starts with auto-analyze off.
    assert!(!db.autovacuum());
    db.set_autovacuum(true);
    let mut s = db.session();
    s.execute("CREATE TABLE busy (id int PRIMARY KEY, v int)")
        .unwrap();
    s.execute("CREATE TABLE quiet (id int PRIMARY KEY, v int)")
        .unwrap();
    // A prepared plan kept before the statistics exist.
    let prepared = s
        .prepare("SELECT count(*) FROM busy WHERE v = $1", &[None])
        .unwrap();
    let r = s.execute_prepared(&prepared, &[Value::Int4(3)]).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int8(0)]]);
    s.execute("INSERT INTO busy SELECT g, g % 7 FROM generate_series(1, 500) g")
        .unwrap();
    s.execute("INSERT INTO quiet SELECT g, g FROM generate_series(1, 50) g")
        .unwrap();
    db.kick_autoanalyze();
    wait_for(
        &mut s,
        "SELECT autoanalyze_count >= 1 AND last_autoanalyze IS NOT NULL AND n_mod_since_analyze = 0 \
         FROM pg_stat_user_tables WHERE relname = 'busy'",
        "busy auto-analyzed",
    );
    // The planner's row count is the analyzed one.
    let reltuples = rows(
        &mut s,
        "SELECT reltuples FROM pg_class WHERE relname = 'busy'",
    );
    assert_eq!(reltuples, vec![vec![Value::Float4(500.0)]]);
    assert_eq!(stat(&mut s, "busy", "analyze_count"), 0);
    // 50 changes are not more than the threshold of 50.
    db.kick_autoanalyze();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(stat(&mut s, "quiet", "autoanalyze_count"), 0);
    let reltuples = rows(
        &mut s,
        "SELECT reltuples FROM pg_class WHERE relname = 'quiet'",
    );
    assert_eq!(reltuples, vec![vec![Value::Float4(-1.0)]]);
    // The kept plan still answers (it was bound again after the analyze).
    let r = s.execute_prepared(&prepared, &[Value::Int4(3)]).unwrap();
    assert_eq!(r.rows, vec![vec![Value::Int8(72)]]);

    // A table dropped while due is no trouble for the thread.
    s.execute("CREATE TABLE gone (id int PRIMARY KEY)").unwrap();
    s.execute("INSERT INTO gone SELECT g FROM generate_series(1, 100) g")
        .unwrap();
    s.execute("DROP TABLE gone").unwrap();
    db.kick_autoanalyze();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(int(&mut s, "SELECT count(*) FROM pg_stat_user_tables"), 2);
    drop(s);
    drop(db);
}

#[test]
fn auto_analyze_is_on_for_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert!(db.autovacuum());
    let mut s = db.session();
    s.execute("CREATE TABLE t (id int PRIMARY KEY)").unwrap();
    s.execute("INSERT INTO t SELECT g FROM generate_series(1, 200) g")
        .unwrap();
    db.kick_autoanalyze();
    wait_for(
        &mut s,
        "SELECT autoanalyze_count = 1 FROM pg_stat_user_tables WHERE relname = 't'",
        "t auto-analyzed",
    );
    db.set_autovacuum(false);
    assert!(!db.autovacuum());
}

#[test]
fn statistics_a_restart_lost_are_gathered_again_in_the_first_pass() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.execute("CREATE TABLE kept (id int PRIMARY KEY, v int)")
            .unwrap();
        s.execute("INSERT INTO kept SELECT g, g % 3 FROM generate_series(1, 40) g")
            .unwrap();
        s.execute("ANALYZE kept").unwrap();
        assert_eq!(
            rows(
                &mut s,
                "SELECT reltuples FROM pg_class WHERE relname = 'kept'"
            ),
            vec![vec![Value::Float4(40.0)]]
        );
    }
    // Statistics are held in memory: the restart loses them, and the
    // auto-analyzer gathers them again without waiting for 50 changes.
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    db.kick_autoanalyze();
    wait_for(
        &mut s,
        "SELECT reltuples = 40 FROM pg_class WHERE relname = 'kept'",
        "kept analyzed again after the restart",
    );
    assert_eq!(stat(&mut s, "kept", "autoanalyze_count"), 1);
    // Analyzed once: the next passes leave it alone.
    db.kick_autoanalyze();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(stat(&mut s, "kept", "autoanalyze_count"), 1);
}

/// `SHOW autovacuum` says whether auto-analyze runs: on for a data
/// directory, off for an in-memory database, and a session cannot change
/// it (55P02, as PostgreSQL's sighup parameters), not even by RESET ALL.
#[test]
fn show_autovacuum_tells_whether_auto_analyze_runs() {
    let show = |s: &mut Session| rows(s, "SHOW autovacuum")[0][0].to_text();
    let mem = Database::in_memory().unwrap();
    let mut s = mem.session();
    assert_eq!(show(&mut s), "off");
    let e = s.execute("SET autovacuum = on").unwrap_err();
    assert_eq!(e.sqlstate.0, "55P02");
    s.execute("RESET ALL").unwrap();
    assert_eq!(show(&mut s), "off");
    mem.set_autovacuum(true);
    assert_eq!(show(&mut mem.session()), "on");

    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    assert_eq!(show(&mut s), "on");
    assert_eq!(
        rows(&mut s, "SELECT current_setting('autovacuum')"),
        vec![vec![Value::Text("on".into())]]
    );
}
