//! Bounded memory (issue #7): queries beyond `work_mem` really spill to
//! temporary files under `<data-dir>/tmp`, EXPLAIN ANALYZE says so, and
//! the files are gone when the statement ends: after success, after an
//! error half-way through, after a statement_timeout cancel, and at
//! startup after whatever an earlier process left.

use std::path::Path;

// Counted per thread: the tests run side by side, each on its own thread.
use arbordb::sql::spill::files_created_on_this_thread as files_created;
use arbordb::{Database, Session, SqlState, Value};

fn tmp_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir.join("tmp")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn one(s: &mut Session, sql: &str) -> Vec<Value> {
    let rows = s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(rows.len(), 1, "{sql}");
    rows.into_iter().next().unwrap()
}

fn explain(s: &mut Session, sql: &str) -> String {
    s.query(&format!("EXPLAIN ANALYZE {sql}"))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| r[0].to_text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `sql` and says whether it created temporary files, checking the
/// temporary directory is empty afterwards.
fn spills(s: &mut Session, dir: &Path, sql: &str) -> bool {
    let before = files_created();
    s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(
        tmp_entries(dir),
        Vec::<String>::new(),
        "left behind by {sql}"
    );
    files_created() > before
}

fn setup(dir: &Path) -> Session {
    let db = Database::open(dir).unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE a (id int, k int)").unwrap();
    s.execute("CREATE TABLE b (id int, k int)").unwrap();
    s.execute(
        "INSERT INTO a SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g % 3000 END \
         FROM generate_series(1, 20000) g",
    )
    .unwrap();
    s.execute("INSERT INTO b SELECT g, g % 4000 FROM generate_series(1, 20000) g")
        .unwrap();
    s.execute("ANALYZE a").unwrap();
    s.execute("ANALYZE b").unwrap();
    s
}

const SORT: &str = "SELECT g FROM generate_series(1, 30000) g ORDER BY g DESC";
const AGG: &str = "SELECT g % 10000, count(*) FROM generate_series(1, 30000) g GROUP BY 1";
const DISTINCT: &str = "SELECT DISTINCT g % 10000 FROM generate_series(1, 30000) g";
const WINDOW: &str = "SELECT g, sum(g) OVER (PARTITION BY g % 100 ORDER BY g) \
                      FROM generate_series(1, 15000) g";
const JOIN: &str = "SELECT count(*) FROM a LEFT JOIN b ON a.k = b.k";

#[test]
fn work_mem_decides_whether_operators_spill_and_files_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path());
    // At the default 4MB nothing here needs the disk.
    assert!(!spills(&mut s, dir.path(), SORT));
    assert!(!spills(&mut s, dir.path(), AGG));
    assert!(!spills(&mut s, dir.path(), JOIN));
    assert!(!spills(&mut s, dir.path(), DISTINCT));
    assert!(!spills(&mut s, dir.path(), WINDOW));
    let in_memory = one(&mut s, &format!("SELECT count(*) FROM ({JOIN}) t"));

    s.execute("SET work_mem = '64kB'").unwrap();
    assert!(spills(&mut s, dir.path(), SORT));
    assert!(spills(&mut s, dir.path(), AGG));
    assert!(spills(&mut s, dir.path(), JOIN));
    assert!(spills(&mut s, dir.path(), DISTINCT));
    assert!(spills(&mut s, dir.path(), WINDOW));
    assert_eq!(
        one(&mut s, &format!("SELECT count(*) FROM ({JOIN}) t")),
        in_memory
    );
    // The files went to the data directory's tmp (created on first use).
    assert!(dir.path().join("tmp").is_dir());

    let plan = explain(&mut s, SORT);
    assert!(
        plan.contains("Sort Method: external merge  Disk: "),
        "{plan}"
    );
    let plan = explain(&mut s, AGG);
    assert!(plan.contains("Disk Usage: "), "{plan}");
    assert!(!plan.contains("Batches: 1 "), "{plan}");
    let plan = explain(&mut s, DISTINCT);
    assert!(plan.contains("Disk Usage: "), "{plan}");
    let plan = explain(&mut s, JOIN);
    assert!(plan.contains("Batches: "), "{plan}");
    assert!(!plan.contains("Batches: 1 "), "{plan}");

    s.execute("RESET work_mem").unwrap();
    let plan = explain(&mut s, SORT);
    assert!(plan.contains("Sort Method: quicksort  Memory: "), "{plan}");
    let plan = explain(&mut s, JOIN);
    assert!(plan.contains("Batches: 1  Memory Usage: "), "{plan}");
    assert_eq!(tmp_entries(dir.path()), Vec::<String>::new());
}

#[test]
fn an_error_after_spilling_removes_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path());
    s.execute("SET work_mem = '64kB'").unwrap();
    for sql in [
        // The last row divides by zero, long after the first runs spilled.
        "SELECT g FROM generate_series(1, 30000) g ORDER BY 1 / (30000 - g)",
        "SELECT g % 10000, sum(1 / (g - 30000)) FROM generate_series(1, 30000) g GROUP BY 1",
        // While the partitions are joined: b.id = 18999 (k 2999) has matches.
        "SELECT count(*) FROM a JOIN b ON a.k = b.k WHERE 1 / (b.id - 18999) > a.id",
    ] {
        let before = files_created();
        let e = s.query(sql).unwrap_err();
        assert_eq!(e.sqlstate, SqlState::DIVISION_BY_ZERO, "{sql}: {e}");
        assert!(
            files_created() > before,
            "{sql} did not spill before failing"
        );
        assert_eq!(tmp_entries(dir.path()), Vec::<String>::new(), "{sql}");
    }
    // The session goes on.
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM (SELECT g FROM generate_series(1, 20000) g ORDER BY g) t"
        ),
        vec![Value::Int8(20000)]
    );
}

#[test]
fn a_statement_timeout_during_a_spilled_sort_removes_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = setup(dir.path());
    s.execute("SET work_mem = '64kB'").unwrap();
    s.execute("SET statement_timeout = '300ms'").unwrap();
    let before = files_created();
    let e = s
        .query(
            "SELECT count(*) FROM (SELECT a.id, b.id FROM a JOIN b ON a.k = b.k \
             ORDER BY b.id DESC, a.id) t",
        )
        .unwrap_err();
    assert_eq!(e.sqlstate, SqlState::QUERY_CANCELED, "{e}");
    assert!(files_created() > before, "canceled before spilling");
    assert_eq!(tmp_entries(dir.path()), Vec::<String>::new());
}

#[test]
fn startup_empties_the_temporary_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    std::fs::write(dir.path().join("tmp").join("spill.1.1"), b"left by a crash").unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(tmp_entries(dir.path()), Vec::<String>::new());
    drop(db);
}

/// Every type goes through a spill file and comes back equal: sorted,
/// grouped, made distinct and joined at 64kB, the answers are the ones at
/// 4MB (sorted rows exactly, the others as multisets), NULLs, NaN, -0,
/// numeric display scales, arrays and JSON included.
#[test]
fn spilled_answers_equal_in_memory_answers_for_every_type() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE t (id int, i2 smallint, i8 bigint, f4 real, f8 float8, n numeric, \
         tx text, c char(3), vc varchar(6), b bytea, d date, ts timestamp, tz timestamptz, \
         tm time, iv interval, u uuid, j json, jb jsonb, arr int[], ta text[], bo bool)",
    )
    .unwrap();
    s.execute(
        "INSERT INTO t SELECT g, \
           CASE WHEN g % 7 = 0 THEN NULL ELSE (g % 300)::smallint END, \
           (g % 500)::bigint * 1000000007, \
           CASE g % 13 WHEN 0 THEN NULL WHEN 1 THEN 'NaN'::real WHEN 2 THEN '-0'::real ELSE (g % 400)::real / 3 END, \
           CASE g % 11 WHEN 0 THEN 'NaN'::float8 WHEN 1 THEN '-0'::float8 WHEN 2 THEN 0::float8 \
             WHEN 3 THEN 'Infinity'::float8 ELSE (g % 600)::float8 / 7 END, \
           CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN ((g % 90)::numeric / 4)::numeric(10, 4) ELSE (g % 90)::numeric / 4 END, \
           CASE WHEN g % 9 = 0 THEN NULL ELSE repeat(chr(97 + g % 26), g % 30) || (g % 700) END, \
           chr(65 + g % 26), \
           'v' || (g % 800), \
           ('\\x' || lpad(to_hex(g % 900), 4, '0'))::bytea, \
           DATE '2000-01-01' + (g % 1000), \
           TIMESTAMP '2020-02-29 12:00:00' + (g % 1100) * INTERVAL '1 hour', \
           TIMESTAMPTZ '2020-02-29 12:00:00+00' + (g % 1200) * INTERVAL '1 minute', \
           TIME '00:00:00' + (g % 1300) * INTERVAL '1 second', \
           (g % 40) * INTERVAL '1 day' + (g % 24) * INTERVAL '1 hour' + (g % 3) * INTERVAL '1 month', \
           md5((g % 1400)::text)::uuid, \
           ('{\"k\": ' || (g % 1500) || '}')::json, \
           ('{\"a\": [' || (g % 1600) || ', null], \"b\": \"x\"}')::jsonb, \
           ARRAY[g % 1700, NULL, g % 3], \
           ARRAY['s' || (g % 1800), NULL], \
           CASE WHEN g % 4 = 0 THEN NULL ELSE g % 3 = 0 END \
         FROM generate_series(1, 1500) g",
    )
    .unwrap();
    let columns = [
        "i2", "i8", "f4", "f8", "n", "tx", "c", "vc", "b", "d", "ts", "tz", "tm", "iv", "u", "jb",
        "arr", "ta", "bo",
    ];
    let text = |rows: Vec<Vec<Value>>| -> Vec<String> {
        rows.into_iter()
            .map(|r| {
                r.iter()
                    .map(|v| {
                        if v.is_null() {
                            "NULL".into()
                        } else {
                            v.to_text()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let mut queries: Vec<(String, bool)> = Vec::new();
    for c in columns {
        queries.push((
            format!("SELECT id, {c}, j FROM t ORDER BY {c} DESC, id"),
            true,
        ));
        queries.push((
            format!("SELECT {c}, count(*), min(id), sum(id) FROM t GROUP BY {c}"),
            false,
        ));
        queries.push((format!("SELECT DISTINCT {c} FROM t"), false));
        queries.push((
            format!("SELECT string_agg(id::text, ',' ORDER BY id), array_agg({c}::text ORDER BY id) FROM t GROUP BY id % 700"),
            false,
        ));
    }
    // (Columns the planner hash-joins on; floats and intervals join by nested loops.)
    for c in ["i2", "i8", "n", "tx", "vc", "d", "u"] {
        queries.push((
            format!(
                "SELECT x.id, y.id FROM t x LEFT JOIN t y ON x.{c} = y.{c} AND x.id < y.id + 50"
            ),
            false,
        ));
    }
    let before = files_created();
    for (q, ordered) in &queries {
        s.execute("RESET work_mem").unwrap();
        let mut want = text(s.query(q).unwrap_or_else(|e| panic!("{q}: {e}")));
        s.execute("SET work_mem = '64kB'").unwrap();
        let mut got = text(s.query(q).unwrap_or_else(|e| panic!("{q} at 64kB: {e}")));
        if !ordered {
            want.sort();
            got.sort();
        }
        assert_eq!(got.len(), want.len(), "{q}");
        assert!(got == want, "{q}: the answers at 64kB differ");
    }
    assert!(files_created() > before + 50, "too few spills");
    assert_eq!(tmp_entries(dir.path()), Vec::<String>::new());
}

/// The hash of a join holds only the columns the query reads: 3,000 rows
/// with a 400-byte text column nothing above the join reads fit in a
/// 512kB hash (work_mem 256kB × hash_mem_multiplier 2) as two columns,
/// where whole rows would need 1.6MB and spill.
#[test]
fn a_hash_join_holds_only_the_columns_the_query_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE wide (id int, pad text, tag int)")
        .unwrap();
    s.execute("CREATE TABLE probe (id int, w int)").unwrap();
    s.execute("INSERT INTO wide SELECT g, repeat('x', 400), g % 7 FROM generate_series(1, 3000) g")
        .unwrap();
    s.execute("INSERT INTO probe SELECT g, g % 3000 + 1 FROM generate_series(1, 30000) g")
        .unwrap();
    s.execute("ANALYZE wide").unwrap();
    s.execute("ANALYZE probe").unwrap();
    s.execute("SET work_mem = '256kB'").unwrap();
    let q = "SELECT wide.tag, count(*) FROM probe JOIN wide ON wide.id = probe.w \
             WHERE wide.pad LIKE 'x%' GROUP BY wide.tag ORDER BY 1";
    let plan = explain(&mut s, q);
    assert!(plan.contains("Hash Join"), "{plan}");
    let hash = plan
        .lines()
        .skip_while(|l| !l.contains("->  Hash ("))
        .nth(1)
        .unwrap_or_default();
    assert!(hash.contains("Batches: 1  Memory Usage: "), "{plan}");
    assert!(!spills(&mut s, dir.path(), q), "{plan}");
    let rows = s.query(q).unwrap();
    assert_eq!(rows.len(), 7);
    let total: i64 = rows
        .iter()
        .map(|r| match r[1] {
            Value::Int8(n) => n,
            ref v => panic!("{v:?}"),
        })
        .sum();
    assert_eq!(total, 30000);
    // The answer is the one of the unpruned nested loop.
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(s.query(q).unwrap(), rows);
}
