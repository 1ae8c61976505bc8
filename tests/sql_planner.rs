//! The planner's choices as EXPLAIN shows them: hash joins for equi-joins
//! (the build side under `Hash`, the smaller input by ANALYZE's row
//! counts), subqueries turned into semi / anti joins, nested loops when
//! `enable_hashjoin` is off, and the same answers either way.

use arbordb::{Database, Session, Value};

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn plan(s: &mut Session, q: &str) -> String {
    rows(s, &format!("EXPLAIN {q}"))
        .into_iter()
        .map(|r| r[0].to_text())
        .collect::<Vec<_>>()
        .join("\n")
}

fn setup() -> Session {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE big (id int PRIMARY KEY, k int, v int)")
        .unwrap();
    s.execute("CREATE TABLE small (k int PRIMARY KEY, name text)")
        .unwrap();
    let values: Vec<String> = (1..=400)
        .map(|i| format!("({i}, {}, {})", i % 20, i * 3))
        .collect();
    s.execute(&format!("INSERT INTO big VALUES {}", values.join(", ")))
        .unwrap();
    let values: Vec<String> = (0..10).map(|i| format!("({i}, 'n{i}')")).collect();
    s.execute(&format!("INSERT INTO small VALUES {}", values.join(", ")))
        .unwrap();
    s.execute("ANALYZE big").unwrap();
    s.execute("ANALYZE small").unwrap();
    s
}

#[test]
fn equi_joins_are_hash_joins_built_on_the_smaller_input() {
    let mut s = setup();
    let q = "SELECT big.id, small.name FROM big, small WHERE big.k = small.k AND big.v > 30";
    assert_eq!(
        plan(&mut s, q),
        "Hash Join\n  ->  Seq Scan on big\n  ->  Hash\n        ->  Seq Scan on small"
    );
    // Written the other way round, the small table is still the one hashed.
    let q2 = "SELECT big.id, small.name FROM small JOIN big ON small.k = big.k WHERE big.v > 30";
    assert_eq!(plan(&mut s, q2), plan(&mut s, q));
    let hashed = rows(&mut s, &format!("{q} ORDER BY 1"));
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(
        plan(&mut s, q),
        "Nested Loop\n  ->  Seq Scan on small\n  ->  Seq Scan on big"
    );
    assert_eq!(rows(&mut s, &format!("{q} ORDER BY 1")), hashed);
    assert_eq!(hashed.len(), 191);
}

#[test]
fn exists_and_in_subqueries_become_semi_and_anti_joins() {
    let mut s = setup();
    let cases = [
        (
            "SELECT k FROM small WHERE EXISTS (SELECT 1 FROM big WHERE big.k = small.k AND big.v > 600)",
            "Hash Semi Join",
            vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        ),
        (
            "SELECT k FROM small WHERE NOT EXISTS (SELECT 1 FROM big WHERE big.k = small.k + 5)",
            "Hash Anti Join",
            vec![],
        ),
        (
            "SELECT k FROM small WHERE k IN (SELECT id FROM big WHERE v < 20)",
            "Hash Semi Join",
            vec![1, 2, 3, 4, 5, 6],
        ),
        (
            "SELECT k FROM small WHERE k NOT IN (SELECT id FROM big)",
            "Hash Anti Join",
            vec![0],
        ),
        (
            "SELECT k FROM small WHERE k NOT IN (SELECT NULLIF(id, 3) FROM big)",
            "Hash Anti Join",
            vec![],
        ),
    ];
    for (q, node, expected) in cases {
        let p = plan(&mut s, q);
        assert!(p.starts_with(node), "{q}:\n{p}");
        let got: Vec<i64> = rows(&mut s, &format!("{q} ORDER BY 1"))
            .into_iter()
            .map(|r| match r[0] {
                Value::Int4(v) => v as i64,
                ref other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, expected, "{q}");
        s.execute("SET enable_hashjoin = off").unwrap();
        let p = plan(&mut s, q);
        assert!(!p.contains("Hash"), "{q}:\n{p}");
        let again: Vec<i64> = rows(&mut s, &format!("{q} ORDER BY 1"))
            .into_iter()
            .map(|r| match r[0] {
                Value::Int4(v) => v as i64,
                ref other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(again, expected, "{q} without hash joins");
        s.execute("SET enable_hashjoin = on").unwrap();
    }
}

#[test]
fn explain_analyze_counts_rows_and_loops_per_node() {
    let mut s = setup();
    let q = "SELECT big.id, small.name FROM big, small WHERE big.k = small.k AND big.v > 30";
    let lines: Vec<String> = rows(&mut s, &format!("EXPLAIN ANALYZE {q}"))
        .into_iter()
        .map(|r| r[0].to_text())
        .collect();
    let shape: Vec<String> = lines
        .iter()
        .map(|l| match l.find(" (actual time=") {
            Some(i) => {
                let tail = &l[i..];
                let rows = tail.find(" rows=").map_or("", |j| &tail[j..]);
                format!("{}{}", &l[..i], rows)
            }
            None => l.split(':').next().unwrap_or_default().to_string(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "Hash Join rows=191 loops=1)",
            "  ->  Seq Scan on big rows=390 loops=1)",
            "  ->  Hash rows=10 loops=1)",
            // `Batches: 1  Memory Usage: 1kB`: the build side fit in work_mem.
            "        Batches",
            "        ->  Seq Scan on small rows=10 loops=1)",
            "Planning Time",
            "Execution Time",
        ]
    );
    // A failed run leaves no profile behind: the next EXPLAIN is plain.
    assert!(
        s.query("EXPLAIN ANALYZE SELECT 1 / (k - k) FROM small")
            .is_err()
    );
    assert_eq!(plan(&mut s, "SELECT * FROM small"), "Seq Scan on small");
}

#[test]
fn a_selective_leaf_starts_the_join_order_when_that_is_cheaper() {
    // TPC-H Q9's shape: the smallest table (nation) leads only through
    // supp into all of fact, while part's filter keeps 1 row in 20. Greedy
    // from the smallest leaf joins every fact row before part applies;
    // starting from part, fact is probed once against 20 part rows.
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE nation (nk int PRIMARY KEY, name text);
         CREATE TABLE supp (sk int PRIMARY KEY, nk int);
         CREATE TABLE part (pk int PRIMARY KEY, name text);
         CREATE TABLE fact (id int PRIMARY KEY, sk int, pk int);
         INSERT INTO nation SELECT g, 'n' || g FROM generate_series(0, 4) g;
         INSERT INTO supp SELECT g, g % 5 FROM generate_series(0, 49) g;
         INSERT INTO part SELECT g, CASE WHEN g % 20 = 0 THEN 'green' ELSE 'red' END
             FROM generate_series(0, 399) g;
         INSERT INTO fact SELECT g, g % 50, g % 400 FROM generate_series(0, 1999) g;
         ANALYZE nation; ANALYZE supp; ANALYZE part; ANALYZE fact",
    )
    .unwrap();
    let q = "SELECT nation.name, count(*) FROM nation, supp, fact, part
             WHERE nation.nk = supp.nk AND supp.sk = fact.sk AND fact.pk = part.pk
               AND part.name LIKE '%green%' GROUP BY nation.name";
    let p = plan(&mut s, q);
    // The innermost join (the most indented scan and its probe side):
    // fact probing a hash of part.
    let lines: Vec<&str> = p.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(deepest) = (0..lines.len()).max_by_key(|&i| (indent(lines[i]), i)) else {
        panic!("no plan")
    };
    let innermost: Vec<&str> = lines[deepest.saturating_sub(2)..=deepest]
        .iter()
        .map(|l| l.trim())
        .collect();
    assert_eq!(
        innermost,
        ["->  Seq Scan on fact", "->  Hash", "->  Seq Scan on part"],
        "{p}"
    );
    let hashed = rows(&mut s, &format!("{q} ORDER BY 1"));
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(rows(&mut s, &format!("{q} ORDER BY 1")), hashed);
    // part rows 0, 20, …, 380 (pk % 20 = 0); fact rows with pk % 20 = 0 are
    // 100, with sk = id % 50 spread evenly over every nation.
    let counts: Vec<i64> = hashed
        .iter()
        .map(|r| match r[1] {
            Value::Int8(n) => n,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(counts.iter().sum::<i64>(), 100);
}

#[test]
fn a_filter_on_a_semi_joined_table_applies_before_the_probe() {
    let mut s = setup();
    let q = "SELECT k FROM small WHERE EXISTS (SELECT 1 FROM big WHERE big.k = small.k AND big.v > small.k)
             AND NOT EXISTS (SELECT 1 FROM big WHERE big.k = small.k AND big.v > 1190)
             AND small.name <> 'n4'";
    let p = plan(&mut s, q);
    let lines: Vec<&str> = p.lines().map(str::trim).collect();
    // Anti join over the semi join over the scan, which filters (EXPLAIN
    // shows a scan's own filter as the scan); no Filter above the joins.
    assert_eq!(
        lines[..3],
        [
            "Hash Anti Join",
            "->  Hash Semi Join",
            "->  Seq Scan on small"
        ],
        "{p}"
    );
    assert!(!p.contains("Filter"), "{p}");
    let hashed = rows(&mut s, &format!("{q} ORDER BY 1"));
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(rows(&mut s, &format!("{q} ORDER BY 1")), hashed);
    // big.k = id % 20 and v = 3 id: v > 1190 only for id 397..400
    // (k 17, 18, 19, 0); small.k is 0..9, so only k = 0 is excluded.
    let ks: Vec<i64> = hashed
        .iter()
        .map(|r| match r[0] {
            Value::Int4(v) => i64::from(v),
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ks, vec![1, 2, 3, 5, 6, 7, 8, 9]);
}

#[test]
fn constant_arithmetic_is_folded_so_estimates_read_the_histogram() {
    // 10 of a's 400 rows pass each filter; b has 100. Read as constants
    // (the interval added once, the date column's bounds compared as
    // timestamps), a's estimate is 10 rows and a is the side hashed; the
    // unfolded `5 + 5` and `date + interval` were guessed at 1/3 (133 rows,
    // more than b's 100).
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE a (id int PRIMARY KEY, k int, n int, d date);
         CREATE TABLE b (k int PRIMARY KEY, name text);
         INSERT INTO a SELECT g, g % 100, g, date '2000-01-01' + g FROM generate_series(1, 400) g;
         INSERT INTO b SELECT g, 'b' || g FROM generate_series(0, 99) g;
         ANALYZE a; ANALYZE b",
    )
    .unwrap();
    let hashed_a = "Hash Join\n  ->  Seq Scan on b\n  ->  Hash\n        ->  Seq Scan on a";
    for filter in [
        "a.n < 11",
        "a.n < 5 + 6",
        "a.d < date '2000-01-01' + interval '11 days'",
    ] {
        let q = format!("SELECT a.id, b.name FROM a, b WHERE a.k = b.k AND {filter}");
        assert_eq!(plan(&mut s, &q), hashed_a, "{filter}");
        assert_eq!(rows(&mut s, &q).len(), 10, "{filter}");
    }
}

/// An OR whose every arm has the same join condition (TPC-H Q19) is a
/// hash join on it, not a nested loop over every pair; the per-table
/// parts of the arms filter each side first. Same answer as the nested
/// loop that evaluates the OR as written.
#[test]
fn a_join_condition_common_to_every_or_arm_is_the_hash_key() {
    let mut s = setup();
    let q = "SELECT count(*), sum(big.v) FROM big, small \
             WHERE (big.k = small.k AND small.name = 'n1' AND big.v < 300) \
                OR (big.k = small.k AND small.name = 'n2' AND big.v > 900) \
                OR (small.k = big.k AND small.name = 'n3')";
    let p = plan(&mut s, q);
    assert!(p.contains("Hash Join"), "{p}");
    assert!(!p.contains("Nested Loop"), "{p}");
    let hashed = rows(&mut s, q);
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(rows(&mut s, q), hashed);
    assert_ne!(hashed[0][0], Value::Int8(0));
}

/// An EXISTS over one table's rows runs after that table's join with a
/// selective one when the join leaves fewer rows (TPC-H Q21), and on the
/// table itself when it does not; the answer is the same either way.
#[test]
fn a_semi_join_goes_where_fewer_rows_reach_it() {
    let mut s = setup();
    s.execute("CREATE TABLE other (k int, w int)").unwrap();
    s.execute("INSERT INTO other SELECT g % 30, g FROM generate_series(1, 300) g")
        .unwrap();
    s.execute("ANALYZE other").unwrap();
    let selective = "SELECT big.id FROM big, small \
                     WHERE big.k = small.k AND small.name = 'n3' \
                     AND EXISTS (SELECT 1 FROM other WHERE other.k = big.k AND other.w <> big.v)";
    let p = plan(&mut s, selective);
    let semi = p.find("Hash Semi Join").expect(&p);
    let join = p.find("Hash Join").expect(&p);
    assert!(semi < join, "the semi join should be above the join:\n{p}");
    // Joined with three rows of `many` each, big's rows triple: the semi
    // join filters big first.
    s.execute("CREATE TABLE many (k int)").unwrap();
    s.execute("INSERT INTO many SELECT g % 20 FROM generate_series(1, 60) g")
        .unwrap();
    s.execute("ANALYZE many").unwrap();
    let wide = "SELECT big.id FROM big, many \
                WHERE big.k = many.k \
                AND EXISTS (SELECT 1 FROM other WHERE other.k = big.k AND other.w <> big.v)";
    let p = plan(&mut s, wide);
    let semi = p.find("Hash Semi Join").expect(&p);
    let join = p.find("Hash Join").expect(&p);
    assert!(join < semi, "the semi join should be on big:\n{p}");
    let answers: Vec<_> = [selective, wide]
        .iter()
        .map(|q| rows(&mut s, &format!("{q} ORDER BY 1")))
        .collect();
    s.execute("SET enable_hashjoin = off").unwrap();
    for (q, a) in [selective, wide].iter().zip(&answers) {
        assert_eq!(&rows(&mut s, &format!("{q} ORDER BY 1")), a, "{q}");
    }
    assert!(!answers[0].is_empty() && answers[0].len() < answers[1].len());
    assert_eq!(answers[1].len(), 3 * 400);
}

fn stat(s: &mut Session, table: &str, column: &str) -> i64 {
    match rows(
        s,
        &format!("SELECT {column} FROM pg_stat_user_tables WHERE relname = '{table}'"),
    )
    .first()
    .and_then(|r| r.first())
    {
        Some(Value::Int8(n)) => *n,
        other => panic!("{table}.{column}: {other:?}"),
    }
}

/// A correlated subquery that stays a subquery (count(*) per outer row,
/// a scalar lookup) finds its rows by key for each outer row, through the
/// primary key or an index on the correlated column, instead of reading
/// the whole inner table each time.
#[test]
fn a_correlated_subquery_reads_its_rows_by_key() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE cu (id int PRIMARY KEY, name text)")
        .unwrap();
    s.execute("CREATE TABLE od (id int PRIMARY KEY, cust int, amt int)")
        .unwrap();
    s.execute("CREATE INDEX od_cust ON od (cust)").unwrap();
    s.execute("INSERT INTO cu SELECT g, 'c' || g FROM generate_series(1, 200) g")
        .unwrap();
    s.execute("INSERT INTO od SELECT g, g % 200 + 1, g % 97 FROM generate_series(1, 4000) g")
        .unwrap();
    let (seq, idx) = (
        stat(&mut s, "od", "seq_scan"),
        stat(&mut s, "od", "idx_scan"),
    );
    let counted = rows(
        &mut s,
        "SELECT sum(n)::int8, min(n), max(n) FROM \
         (SELECT (SELECT count(*) FROM od WHERE od.cust = cu.id) AS n FROM cu) t",
    );
    assert_eq!(
        counted,
        vec![vec![Value::Int8(4000), Value::Int8(20), Value::Int8(20)]]
    );
    assert_eq!(stat(&mut s, "od", "seq_scan"), seq);
    assert_eq!(stat(&mut s, "od", "idx_scan"), idx + 200);
    let looked_up = rows(
        &mut s,
        "SELECT sum((SELECT amt FROM od WHERE od.id = cu.id * 3)) FROM cu",
    );
    let expected: i64 = (1..=200).map(|i| i64::from((i * 3) % 97)).sum();
    assert_eq!(looked_up, vec![vec![Value::Int8(expected)]]);
    assert_eq!(stat(&mut s, "od", "seq_scan"), seq);
    assert_eq!(stat(&mut s, "od", "idx_scan"), idx + 400);
}

/// A few rows joined into a big table by its primary key or an index run
/// as an index nested loop: one lookup per row instead of hashing the
/// whole table. NULL keys match nothing, and the answer is the one of
/// the hash join and of the plain nested loop.
#[test]
fn few_rows_into_a_big_table_are_an_index_nested_loop() {
    let mut s = setup();
    s.execute("CREATE TABLE huge (id int PRIMARY KEY, g int, pad text)")
        .unwrap();
    s.execute("CREATE INDEX huge_g ON huge (g)").unwrap();
    s.execute("INSERT INTO huge SELECT n, n % 500, 'p' || n FROM generate_series(1, 20000) n")
        .unwrap();
    s.execute("INSERT INTO small VALUES (100, NULL)").unwrap();
    s.execute("ANALYZE huge").unwrap();
    s.execute("ANALYZE small").unwrap();
    let by_pk = "SELECT small.k, huge.pad FROM small JOIN huge ON huge.id = small.k * 7 \
                 WHERE small.name <> 'n4'";
    let p = plan(&mut s, by_pk);
    assert!(p.contains("Nested Loop"), "{p}");
    assert!(p.contains("Index Scan using huge_pkey on huge"), "{p}");
    let by_index = "SELECT small.k, huge.id FROM small, huge WHERE huge.g = small.k + 490";
    let p = plan(&mut s, by_index);
    assert!(p.contains("Index Scan using huge_g on huge"), "{p}");
    let nulls = "SELECT count(*), 0 FROM small JOIN huge ON huge.g = CASE WHEN small.k > 5 THEN NULL ELSE small.k END";
    let queries = [by_pk, by_index, nulls];
    let looped: Vec<_> = queries
        .iter()
        .map(|q| rows(&mut s, &format!("{q} ORDER BY 1, 2")))
        .collect();
    assert_eq!(looped[0].len(), 8);
    assert_eq!(looped[1].len(), 10 * 40);
    assert_eq!(looped[2], vec![vec![Value::Int8(6 * 40), Value::Int4(0)]]);
    s.execute("SET enable_hashjoin = off").unwrap();
    for (q, a) in queries.iter().zip(&looped) {
        assert_eq!(&rows(&mut s, &format!("{q} ORDER BY 1, 2")), a, "{q}");
    }
}

/// EXISTS / NOT EXISTS from a few rows into a big table whose key starts
/// with the correlation column run per row by key (TPC-H Q4), not as a
/// hash join that reads the whole big table; the answers are the hash
/// join's (enable_hashjoin off keeps the join out).
#[test]
fn exists_from_few_rows_into_a_big_table_reads_by_key() {
    let db = Database::in_memory().unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE ord (id int PRIMARY KEY, day int)")
        .unwrap();
    s.execute("CREATE TABLE item (ord int, n int, late bool, PRIMARY KEY (ord, n))")
        .unwrap();
    s.execute("INSERT INTO ord SELECT g, g % 100 FROM generate_series(1, 2000) g")
        .unwrap();
    s.execute("INSERT INTO item SELECT g / 4, g % 4, g % 7 = 0 FROM generate_series(4, 8003) g")
        .unwrap();
    s.execute("ANALYZE ord").unwrap();
    s.execute("ANALYZE item").unwrap();
    let q_exists = "SELECT count(*) FROM ord WHERE day = 5 \
                    AND EXISTS (SELECT 1 FROM item WHERE item.ord = ord.id AND item.late)";
    let q_not = "SELECT count(*) FROM ord WHERE day = 5 \
                 AND NOT EXISTS (SELECT 1 FROM item WHERE item.ord = ord.id AND item.late)";
    let (seq, idx) = (
        stat(&mut s, "item", "seq_scan"),
        stat(&mut s, "item", "idx_scan"),
    );
    let with = rows(&mut s, q_exists);
    let without = rows(&mut s, q_not);
    assert_eq!(stat(&mut s, "item", "seq_scan"), seq);
    assert_eq!(stat(&mut s, "item", "idx_scan"), idx + 2 * 20);
    let total = |r: &[Vec<Value>]| match r[0][0] {
        Value::Int8(n) => n,
        ref v => panic!("{v:?}"),
    };
    assert_eq!(total(&with) + total(&without), 20);
    assert!(total(&with) > 0 && total(&without) > 0);
    s.execute("SET enable_hashjoin = off").unwrap();
    assert_eq!(rows(&mut s, q_exists), with);
    assert_eq!(rows(&mut s, q_not), without);
}
