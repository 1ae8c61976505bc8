//! Tests of the corpus runner itself, on inline snippets whose counts are
//! known, against a scripted executor (no engine involved). MD5 values were
//! computed independently (Python's hashlib).

use std::collections::HashMap;

use super::corpus::{
    self, Condition, ExecError, Executor, Expected, Kind, Limits, Output, SortMode, md5,
};

/// Answers statements from a table; unknown SQL fails as a SQL error.
struct Scripted {
    answers: HashMap<String, Result<Output, ExecError>>,
    seen: Vec<String>,
}

impl Scripted {
    fn new(answers: &[(&str, Result<Output, ExecError>)]) -> Scripted {
        Scripted {
            answers: answers
                .iter()
                .map(|(sql, out)| (sql.to_string(), out.clone()))
                .collect(),
            seen: Vec::new(),
        }
    }
}

impl Executor for Scripted {
    fn execute(&mut self, sql: &str) -> Result<Output, ExecError> {
        self.seen.push(sql.to_string());
        self.answers
            .get(sql)
            .cloned()
            .unwrap_or_else(|| Err(ExecError::Sql(format!("no answer for {sql:?}"))))
    }
}

fn rows(columns: usize, values: &[&[Option<&str>]]) -> Result<Output, ExecError> {
    Ok(Output::Rows {
        columns,
        rows: values
            .iter()
            .map(|r| r.iter().map(|v| v.map(str::to_string)).collect())
            .collect(),
    })
}

fn ints(values: &[&str]) -> Result<Output, ExecError> {
    Ok(Output::Rows {
        columns: 1,
        rows: values.iter().map(|v| vec![Some(v.to_string())]).collect(),
    })
}

fn run(text: &str, executor: &mut Scripted) -> corpus::FileOutcome {
    let (records, errors) = corpus::parse(text);
    assert!(errors.is_empty(), "{errors:?}");
    corpus::run_records(&records, executor, Limits::default())
}

#[test]
fn md5_matches_rfc_1321_vectors() {
    let cases = [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(md5::hex_digest(input.as_bytes()), want, "md5({input:?})");
    }
}

#[test]
fn md5_is_the_same_fed_in_pieces_across_block_boundaries() {
    let data = vec![b'a'; 1000];
    assert_eq!(md5::hex_digest(&data), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    for split in [1, 55, 56, 63, 64, 65, 127, 999] {
        let mut h = md5::Md5::new();
        h.update(&data[..split]);
        h.update(&data[split..]);
        assert_eq!(
            md5::to_hex(&h.finish()),
            "cabe45dcc9ae5b66ba86600cca6b8ba8",
            "split at {split}"
        );
    }
}

#[test]
fn result_hash_is_md5_of_values_each_followed_by_newline() {
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        corpus::hash_values(&v(&["1", "2"])),
        "6ddb4095eb719e2a9f0a3f95677d24e0"
    );
    assert_eq!(
        corpus::hash_values(&v(&["1", "2", "3", "4", "5", "6", "7", "8", "9"])),
        "22e400a2ddbb013acf2a5852d6ab69fc"
    );
}

#[test]
fn parser_normalises_crlf_comments_sort_modes_and_labels() {
    let text = "hash-threshold 8\r\n\r\nskipif mysql # aggregate syntax\r\nonlyif postgresql\r\nquery III rowsort label-xyz\r\nSELECT 1,\r\n  2, 3\r\n----\r\n30 values hashing to 3C13DEE48D9356AE19AF2515E05E6B54\r\n\r\n# a comment\r\nstatement error\r\nDROP TABLE nope\r\n\r\nquery T valuesort\r\nSELECT 'x'\r\n----\r\nx\r\n\r\nonlyif mssql\r\nhalt\r\n";
    let (records, errors) = corpus::parse(text);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].kind, Kind::HashThreshold(8));
    assert_eq!(
        records[1].conditions,
        vec![
            Condition::SkipIf("mysql".into()),
            Condition::OnlyIf("postgresql".into())
        ]
    );
    assert_eq!(records[1].line, 5);
    assert_eq!(
        records[1].kind,
        Kind::Query {
            types: "III".into(),
            sort: SortMode::Rows,
            label: Some("label-xyz".into()),
            sql: "SELECT 1,\n  2, 3".into(),
            expected: Some(Expected::Hash {
                count: 30,
                md5: "3c13dee48d9356ae19af2515e05e6b54".into()
            }),
        }
    );
    assert!(records[1].applies_to("postgresql"));
    assert_eq!(
        records[2].kind,
        Kind::Statement {
            expect_error: true,
            sql: "DROP TABLE nope".into()
        }
    );
    assert!(records[2].conditions.is_empty(), "conditions do not leak");
    assert!(matches!(
        &records[3].kind,
        Kind::Query { sort: SortMode::Values, label: None, expected: Some(Expected::Values(v)), .. } if v == &["x"]
    ));
    assert_eq!(records[4].kind, Kind::Halt);
    assert!(!records[4].applies_to("postgresql"));
}

#[test]
fn parser_reports_unknown_records_and_keeps_going() {
    let text = "frobnicate 3\nSELECT 1\n\nquery I bogussort\nSELECT 1\n----\n1\n\nstatement ok\nSELECT 2\n";
    let (records, errors) = corpus::parse(text);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].line, errors[1].line), (1, 4));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].line, 9);
}

#[test]
fn values_print_by_type_letter_like_the_reference_runner() {
    use corpus::print_value as p;
    assert_eq!(p(None, 'I'), "NULL");
    assert_eq!(p(None, 'T'), "NULL");
    assert_eq!(p(Some("-7"), 'I'), "-7");
    assert_eq!(p(Some("2.5"), 'I'), "2");
    assert_eq!(p(Some("abc"), 'I'), "0");
    assert_eq!(p(Some("t"), 'I'), "1");
    assert_eq!(p(Some("99999999999999999999"), 'I'), "9223372036854775807");
    assert_eq!(p(Some("1"), 'R'), "1.000");
    assert_eq!(p(Some("-2.5"), 'R'), "-2.500");
    assert_eq!(p(Some("12.34567"), 'R'), "12.346");
    assert_eq!(p(Some("33.3333333333333333"), 'R'), "33.333");
    assert_eq!(p(Some("1e+15"), 'R'), "1000000000000000.000");
    assert_eq!(p(Some(""), 'T'), "(empty)");
    assert_eq!(p(Some("a\tb\u{e9}"), 'T'), "a@b@@");
    assert_eq!(p(Some("42"), 'T'), "42");
}

#[test]
fn sort_modes_order_rows_values_or_nothing() {
    let data: Vec<Vec<Option<String>>> = [["2", "b"], ["1", "z"], ["10", "a"]]
        .iter()
        .map(|r| r.iter().map(|v| Some(v.to_string())).collect())
        .collect();
    let got = |sort| corpus::result_values("IT", sort, &data);
    assert_eq!(got(SortMode::Unsorted), ["2", "b", "1", "z", "10", "a"]);
    // rows compare as strings, column by column (strcmp), as the C runner does
    assert_eq!(got(SortMode::Rows), ["1", "z", "10", "a", "2", "b"]);
    assert_eq!(got(SortMode::Values), ["1", "10", "2", "a", "b", "z"]);
}

/// A snippet exercising every counting rule, with the counts worked out by
/// hand: 5 passed, 2 failed, 4 skipped.
#[test]
fn counts_follow_conditions_halt_and_failures() {
    let text = "\
statement ok
CREATE TABLE t1(a INTEGER, b TEXT)

skipif postgresql # not in postgres
statement ok
CREATE INDEX i1 ON t1 USING magic

onlyif mysql
query I nosort
SELECT 1
----
1

onlyif postgresql
query I nosort
SELECT 2
----
2

query IT rowsort
SELECT a, b FROM t1
----
1
x
2
(empty)

statement error
SELECT nonsense

statement error
SELECT 2

query I nosort
SELECT 3
----
4

onlyif mssql
halt

query R nosort
SELECT 1.5
----
1.500

halt

query I nosort
SELECT 5
----
5

statement ok
SELECT 6
";
    let mut ex = Scripted::new(&[
        ("CREATE TABLE t1(a INTEGER, b TEXT)", Ok(Output::Done)),
        ("SELECT 2", ints(&["2"])),
        (
            "SELECT a, b FROM t1",
            rows(2, &[&[Some("2"), Some("")], &[Some("1"), Some("x")]]),
        ),
        ("SELECT 3", ints(&["3"])),
        ("SELECT 1.5", ints(&["1.5"])),
    ]);
    let outcome = run(text, &mut ex);
    assert_eq!(
        (
            outcome.counts.passed,
            outcome.counts.failed,
            outcome.counts.skipped
        ),
        (5, 2, 4),
        "{outcome:#?}"
    );
    let failed_lines: Vec<usize> = outcome.failures.iter().map(|f| f.line).collect();
    assert_eq!(failed_lines, [31, 34], "{outcome:#?}");
    assert!(
        !ex.seen
            .iter()
            .any(|s| s.contains("magic") || s == "SELECT 1" || s == "SELECT 5")
    );
}

#[test]
fn hash_threshold_decides_between_values_and_hash() {
    let nine = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
    // Default threshold 8: nine values are compared by hash.
    let hashed = "\
query I nosort
SELECT x
----
9 values hashing to 22e400a2ddbb013acf2a5852d6ab69fc
";
    let mut ex = Scripted::new(&[("SELECT x", ints(&nine))]);
    assert_eq!(run(hashed, &mut ex).counts.passed, 1);
    // A wrong hash fails.
    let wrong = hashed.replace("22e4", "33e4");
    let mut ex = Scripted::new(&[("SELECT x", ints(&nine))]);
    assert_eq!(run(&wrong, &mut ex).counts.failed, 1);
    // hash-threshold 0 never hashes: the values are listed.
    let listed = format!(
        "hash-threshold 0\n\nquery I nosort\nSELECT x\n----\n{}\n",
        nine.join("\n")
    );
    let mut ex = Scripted::new(&[("SELECT x", ints(&nine))]);
    assert_eq!(run(&listed, &mut ex).counts.passed, 1);
    // hash-threshold 20: the hash form no longer matches nine listed values.
    let raised = format!("hash-threshold 20\n\n{hashed}");
    let mut ex = Scripted::new(&[("SELECT x", ints(&nine))]);
    assert_eq!(run(&raised, &mut ex).counts.failed, 1);
}

#[test]
fn hashing_uses_sorted_printed_values() {
    // rowsort of (5,e),(1,a),... then hash of "1\na\n2\nb\n…"
    let text = "\
query IT rowsort
SELECT n, s
----
10 values hashing to c95c9beca2de21325cc0b7764d8cbc5b

query IT valuesort
SELECT n, s
----
10 values hashing to ef513004a66d09132b6e3a8dc7da0ea2
";
    let data = rows(
        2,
        &[
            &[Some("5"), Some("e")],
            &[Some("3"), Some("c")],
            &[Some("1"), Some("a")],
            &[Some("4"), Some("d")],
            &[Some("2"), Some("b")],
        ],
    );
    let mut ex = Scripted::new(&[("SELECT n, s", data)]);
    let outcome = run(text, &mut ex);
    assert_eq!(outcome.counts.passed, 2, "{outcome:#?}");
}

#[test]
fn queries_sharing_a_label_must_agree() {
    let text = "\
query I rowsort label-1
SELECT a
----
1
2

query I rowsort label-1
SELECT b
----
1
2

query I rowsort label-1
SELECT c
";
    let mut ex = Scripted::new(&[
        ("SELECT a", ints(&["2", "1"])),
        ("SELECT b", ints(&["1", "2"])),
        ("SELECT c", ints(&["1", "3"])),
    ]);
    let outcome = run(text, &mut ex);
    assert_eq!((outcome.counts.passed, outcome.counts.failed), (2, 1));
    assert!(outcome.failures[0].reason.contains("label-1"));
}

#[test]
fn wrong_column_count_and_missing_rows_fail() {
    let text = "\
query II nosort
SELECT 1
----
1

query I nosort
CREATE TABLE x(a INT)
----
";
    let mut ex = Scripted::new(&[
        ("SELECT 1", ints(&["1"])),
        ("CREATE TABLE x(a INT)", Ok(Output::Done)),
    ]);
    let outcome = run(text, &mut ex);
    assert_eq!(outcome.counts.failed, 2, "{outcome:#?}");
    assert!(outcome.failures[0].reason.contains("columns"));
}

/// After a fatal error (a timeout) the rest of the file is failed without
/// being run, so the totals still count every applicable record.
#[test]
fn a_timeout_fails_the_rest_of_the_file_without_running_it() {
    let text = "\
statement ok
SELECT 1

statement ok
SELECT pg_sleep(100)

statement ok
SELECT 2

skipif postgresql
statement ok
SELECT 3
";
    let mut ex = Scripted::new(&[
        ("SELECT 1", Ok(Output::Done)),
        (
            "SELECT pg_sleep(100)",
            Err(ExecError::Fatal("timed out after 5 ms".into())),
        ),
        ("SELECT 2", Ok(Output::Done)),
    ]);
    let outcome = run(text, &mut ex);
    assert_eq!(
        (
            outcome.counts.passed,
            outcome.counts.failed,
            outcome.counts.skipped
        ),
        (1, 2, 1)
    );
    assert_eq!(ex.seen, ["SELECT 1", "SELECT pg_sleep(100)"]);
    assert!(outcome.aborted.is_some());
    assert!(outcome.failures[1].reason.starts_with("not run"));
}

#[test]
fn limit_per_file_skips_records_beyond_it() {
    let text = "statement ok\nA\n\nstatement ok\nB\n\nstatement ok\nC\n";
    let (records, _) = corpus::parse(text);
    let mut ex = Scripted::new(&[("A", Ok(Output::Done)), ("B", Ok(Output::Done))]);
    let limits = Limits {
        records_per_file: Some(2),
        ..Limits::default()
    };
    let outcome = corpus::run_records(&records, &mut ex, limits);
    assert_eq!(
        (
            outcome.counts.passed,
            outcome.counts.failed,
            outcome.counts.skipped
        ),
        (2, 0, 1)
    );
}
