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
