//! ALTER TABLE and sequences over the embedded API, checking what SQL
//! cannot show: ADD COLUMN with a constant default leaves the row tree
//! alone (rows keep their schema version; readers fill the value in),
//! while a volatile default and ALTER COLUMN TYPE rewrite it; nextval
//! survives a reopen without repeating a value.

use arbordb::catalog::{Catalog, TableDef};
use arbordb::txn::{IsolationLevel, TxnOptions};
use arbordb::{Database, Value};

fn table(db: &Database, name: &str) -> TableDef {
    let cat = Catalog::open(db.stack()).unwrap();
    let mut t = db
        .stack()
        .txns
        .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
        .unwrap();
    t.begin_statement().unwrap();
    let def = cat.table(&mut t, "public", name).unwrap().unwrap();
    t.rollback().unwrap();
    def
}

fn int(db: &Database, sql: &str) -> i64 {
    let rows = db.session().query(sql).unwrap();
    match rows.as_slice() {
        [row] => match row.as_slice() {
            [Value::Int8(n)] => *n,
            [Value::Int4(n)] => i64::from(*n),
            other => panic!("{sql}: {other:?}"),
        },
        other => panic!("{sql}: {other:?}"),
    }
}

#[test]
fn add_column_with_a_constant_default_does_not_rewrite_and_a_volatile_one_does() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE t (k int PRIMARY KEY, v text)")
        .unwrap();
    let values: Vec<String> = (0..500).map(|i| format!("({i}, 'v{i}')")).collect();
    s.execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
        .unwrap();
    let before = table(&db, "t");
    s.execute("ALTER TABLE t ADD COLUMN c int DEFAULT 7")
        .unwrap();
    let after = table(&db, "t");
    assert_eq!(
        after.tree, before.tree,
        "a constant default rewrote the table"
    );
    assert!(after.schema_version > before.schema_version);
    assert_eq!(int(&db, "SELECT sum(c) FROM t"), 7 * 500);
    s.execute("ALTER TABLE t ADD COLUMN r float8 DEFAULT random()")
        .unwrap();
    let volatile = table(&db, "t");
    assert_ne!(
        volatile.tree, after.tree,
        "a volatile default needs a rewrite"
    );
    assert!(int(&db, "SELECT count(DISTINCT r) FROM t") > 400);
    assert_eq!(int(&db, "SELECT sum(c) FROM t"), 7 * 500);
    s.execute("ALTER TABLE t ALTER COLUMN c TYPE bigint")
        .unwrap();
    assert_ne!(table(&db, "t").tree, volatile.tree);
    assert_eq!(
        int(&db, "SELECT count(*) FROM t WHERE c = 7 AND k < 10"),
        10
    );
}

#[test]
fn nextval_survives_a_reopen_and_never_repeats() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    {
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        s.execute("CREATE SEQUENCE s").unwrap();
        for _ in 0..40 {
            last = int(&db, "SELECT nextval('s')");
        }
        assert_eq!(last, 40);
        s.execute("CREATE TABLE t (id serial PRIMARY KEY, v int)")
            .unwrap();
        s.execute("INSERT INTO t (v) VALUES (1), (2), (3)").unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    let next = int(&db, "SELECT nextval('s')");
    assert!(next > last, "nextval gave {next} after {last}");
    let mut s = db.session();
    s.execute("INSERT INTO t (v) VALUES (4)").unwrap();
    assert_eq!(int(&db, "SELECT count(DISTINCT id) FROM t"), 4);
}
