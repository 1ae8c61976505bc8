//! Bounded memory (issue #7): queries beyond `work_mem` really spill to
//! temporary files under `<data-dir>/tmp`, EXPLAIN ANALYZE says so, and
//! the files are gone when the statement ends: after success, after an
//! error half-way through, after a statement_timeout cancel, and at
//! startup after whatever an earlier process left.

use std::path::Path;

use arbordb::sql::spill::files_created;
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
    let in_memory = one(&mut s, &format!("SELECT count(*) FROM ({JOIN}) t"));

    s.execute("SET work_mem = '64kB'").unwrap();
    assert!(spills(&mut s, dir.path(), SORT));
    assert!(spills(&mut s, dir.path(), AGG));
    assert!(spills(&mut s, dir.path(), JOIN));
    assert!(spills(&mut s, dir.path(), DISTINCT));
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
