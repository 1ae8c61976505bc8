//! The SQLite sqllogictest corpus format: parsing, result printing, sorting,
//! hashing, and running one file against an [`Executor`] with per-record
//! counts.
//!
//! Engine-agnostic on purpose (no `arbordb` imports): the same code scores
//! arbordb (`main.rs`) and PostgreSQL itself (`tests/conformance_oracle.rs`
//! includes this file), so the runner can be checked against PostgreSQL 15's
//! known score.
//!
//! ```text
//!  file text ──parse──> [Record { line, conditions, kind, sql }]
//!                              │ applies_to("postgresql")?  no ─> skipped
//!                              v yes
//!        Executor::execute(sql) ─> rows of Option<String> (PostgreSQL text)
//!                              │ print by type letter (I: integer, R: %.3f, T: text)
//!                              │ sort (nosort | rowsort | valuesort)
//!                              v
//!        n > hash-threshold ?  "n values hashing to md5(v1\n v2\n … vn\n)" : values
//!                              │ compare with the expected lines; labels must agree
//!                              v
//!                     passed / failed, counted per record
//! ```
//!
//! Invariants:
//! - Every statement or query record is counted exactly once: passed,
//!   failed, or skipped (not for this flavour, or after `halt`).
//! - A failing record never stops the file; only `halt` does.
//! - The hash is the corpus's: MD5 over each printed value followed by `\n`,
//!   in lowercase hex (the reference C runner's `md5_add(value); md5_add("\n")`).

use std::collections::HashMap;
use std::fmt;

/// The flavour label we run as: `skipif postgresql` / `onlyif postgresql`.
pub const FLAVOUR: &str = "postgresql";

/// Hash threshold in force before any `hash-threshold` record: the C
/// runner's default (five corpus files rely on it).
pub const DEFAULT_HASH_THRESHOLD: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    SkipIf(String),
    OnlyIf(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortMode {
    /// `nosort` (or no mode given): the engine's order.
    Unsorted,
    /// `rowsort`: rows compared column by column as strings.
    Rows,
    /// `valuesort`: every value on its own, as strings.
    Values,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// One value per line.
    Values(Vec<String>),
    /// `N values hashing to <md5>`.
    Hash { count: usize, md5: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Statement {
        expect_error: bool,
        sql: String,
    },
    Query {
        types: String,
        sort: SortMode,
        label: Option<String>,
        sql: String,
        /// `None` when the query has no `----` section.
        expected: Option<Expected>,
    },
    HashThreshold(usize),
    Halt,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the record's first line (its `statement`/`query`).
    pub line: usize,
    pub conditions: Vec<Condition>,
    pub kind: Kind,
}

impl Record {
    /// Whether the record applies to `flavour`: no `skipif flavour`, and no
    /// `onlyif` naming another engine.
    pub fn applies_to(&self, flavour: &str) -> bool {
        self.conditions.iter().all(|c| match c {
            Condition::SkipIf(label) => label != flavour,
            Condition::OnlyIf(label) => label == flavour,
        })
    }

    /// Statements and queries are what the counts count.
    pub fn is_counted(&self) -> bool {
        matches!(self.kind, Kind::Statement { .. } | Kind::Query { .. })
    }
}

/// A line the parser could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The words of a directive line, stopping at a `#` comment
/// (`skipif mysql # aggregate syntax` is `["skipif", "mysql"]`).
fn directive_words(line: &str) -> Vec<&str> {
    line.split_whitespace()
        .take_while(|w| !w.starts_with('#'))
        .collect()
}

fn parse_hash_line(line: &str) -> Option<Expected> {
    // "30 values hashing to 3c13dee48d9356ae19af2515e05e6b54"
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [count, "values", "hashing", "to", md5]
            if md5.len() == 32 && md5.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Some(Expected::Hash {
                count: count.parse().ok()?,
                md5: md5.to_ascii_lowercase(),
            })
        }
        _ => None,
    }
}

/// Parses a whole corpus file. Lines may end in CRLF. Records are separated
/// by blank lines; `#` lines are comments; `skipif`/`onlyif` lines attach to
/// the next record. Unknown directives are errors (returned alongside the
/// records that did parse, so one odd line costs one record, not the file).
pub fn parse(text: &str) -> (Vec<Record>, Vec<ParseError>) {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut conditions = Vec::new();
    let mut i = 0;
    // Lines from `start` up to the next blank line (or the end).
    let block_end = |start: usize| {
        let mut j = start;
        while j < lines.len() && !lines[j].trim().is_empty() {
            j += 1;
        }
        j
    };
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let words = directive_words(line);
        let line_no = i + 1;
        let mut record = |kind: Kind, conditions: &mut Vec<Condition>| {
            records.push(Record {
                line: line_no,
                conditions: std::mem::take(conditions),
                kind,
            });
        };
        match words.as_slice() {
            ["skipif", label, ..] => {
                conditions.push(Condition::SkipIf(label.to_string()));
                i += 1;
            }
            ["onlyif", label, ..] => {
                conditions.push(Condition::OnlyIf(label.to_string()));
                i += 1;
            }
            ["halt", ..] => {
                record(Kind::Halt, &mut conditions);
                i += 1;
            }
            ["hash-threshold", n, ..] => match n.parse() {
                Ok(n) => {
                    record(Kind::HashThreshold(n), &mut conditions);
                    i += 1;
                }
                Err(_) => {
                    errors.push(ParseError {
                        line: line_no,
                        message: format!("bad hash-threshold {n:?}"),
                    });
                    conditions.clear();
                    i = block_end(i);
                }
            },
            ["statement", outcome, ..] if *outcome == "ok" || *outcome == "error" => {
                let end = block_end(i + 1);
                let sql = lines[i + 1..end].join("\n");
                record(
                    Kind::Statement {
                        expect_error: *outcome == "error",
                        sql,
                    },
                    &mut conditions,
                );
                i = end;
            }
            ["query", types, rest @ ..] => {
                let sort = match rest.first() {
                    None | Some(&"nosort") => Some(SortMode::Unsorted),
                    Some(&"rowsort") => Some(SortMode::Rows),
                    Some(&"valuesort") => Some(SortMode::Values),
                    Some(_) => None,
                };
                let end = block_end(i + 1);
                let Some(sort) = sort else {
                    errors.push(ParseError {
                        line: line_no,
                        message: format!("unknown sort mode in {trimmed:?}"),
                    });
                    conditions.clear();
                    i = end;
                    continue;
                };
                let label = rest.get(1).map(|l| l.to_string());
                let body = &lines[i + 1..end];
                let (sql_lines, expected) = match body.iter().position(|l| l.trim() == "----") {
                    None => (body, None),
                    Some(sep) => {
                        let results = &body[sep + 1..];
                        let expected = match results {
                            [single] => parse_hash_line(single)
                                .unwrap_or_else(|| Expected::Values(vec![single.to_string()])),
                            _ => Expected::Values(results.iter().map(|v| v.to_string()).collect()),
                        };
                        (&body[..sep], Some(expected))
                    }
                };
                record(
                    Kind::Query {
                        types: types.to_string(),
                        sort,
                        label,
                        sql: sql_lines.join("\n"),
                        expected,
                    },
                    &mut conditions,
                );
                i = end;
            }
            _ => {
                errors.push(ParseError {
                    line: line_no,
                    message: format!("unknown record {trimmed:?}"),
                });
                conditions.clear();
                i = block_end(i);
            }
        }
    }
    (records, errors)
}

/// What one statement returned: `Rows` for a query (its column count and
/// rows of PostgreSQL-text values, `None` for NULL), `Done` otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Done,
    Rows {
        columns: usize,
        rows: Vec<Vec<Option<String>>>,
    },
}

/// Runs one statement. An `Err` is the statement's error text.
pub trait Executor {
    fn execute(&mut self, sql: &str) -> Result<Output, ExecError>;
}

/// Why a statement produced no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecError {
    /// The engine rejected it (an error response); the file goes on.
    Sql(String),
    /// The engine cannot go on (timed out, crashed): the rest of the file is
    /// failed without running.
    Fatal(String),
}

/// `strtoll`-style: leading blanks, a sign, digits; 0 when there are none.
/// This is how the reference runner reads a text value in an `I` column.
fn c_integer_prefix(text: &str) -> i64 {
    let s = text.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut value: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        let d = i64::from(b - b'0');
        value = match value.checked_mul(10).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        }) {
            Some(v) => v,
            None => return if negative { i64::MIN } else { i64::MAX },
        };
    }
    value
}

/// `strtod`-style: the longest prefix that is a number; 0 when none.
fn c_float_prefix(text: &str) -> f64 {
    let s = text.trim_start();
    // Try successively shorter prefixes; values here are short.
    let mut end = s.len();
    while end > 0 {
        if let Some(prefix) = s.get(..end)
            && let Ok(v) = prefix.parse::<f64>()
        {
            // Rust accepts "inf"/"nan"/"infinity" like strtod does.
            return v;
        }
        end -= 1;
    }
    0.0
}

/// Prints one value the way the reference runner does for its column type
/// letter: `I` as a 64-bit integer, `R` as `%.3f`, anything else as text;
/// NULL as `NULL`, the empty string as `(empty)`, and bytes outside
/// printable ASCII as `@`.
pub fn print_value(value: Option<&str>, type_letter: char) -> String {
    let Some(text) = value else {
        return "NULL".to_string();
    };
    let printed = match type_letter {
        'I' => {
            // PostgreSQL booleans print as t/f; as an integer they are 1/0.
            match text {
                "t" => "1".to_string(),
                "f" => "0".to_string(),
                _ => c_integer_prefix(text).to_string(),
            }
        }
        'R' => format!("{:.3}", c_float_prefix(text)),
        _ if text.is_empty() => "(empty)".to_string(),
        _ => text.to_string(),
    };
    printed
        .bytes()
        .map(|b| {
            if (b' '..=b'~').contains(&b) {
                b as char
            } else {
                '@'
            }
        })
        .collect()
}

/// The values of a result in comparison order, after printing and sorting.
pub fn result_values(types: &str, sort: SortMode, rows: &[Vec<Option<String>>]) -> Vec<String> {
    let letters: Vec<char> = types.chars().collect();
    let mut printed: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(i, v)| print_value(v.as_deref(), letters.get(i).copied().unwrap_or('T')))
                .collect()
        })
        .collect();
    match sort {
        SortMode::Unsorted => printed.into_iter().flatten().collect(),
        SortMode::Rows => {
            printed.sort();
            printed.into_iter().flatten().collect()
        }
        SortMode::Values => {
            let mut values: Vec<String> = printed.drain(..).flatten().collect();
            values.sort();
            values
        }
    }
}

/// The corpus's hash of a result: MD5 of every value followed by `\n`.
pub fn hash_values(values: &[String]) -> String {
    let mut md5 = md5::Md5::new();
    for v in values {
        md5.update(v.as_bytes());
        md5.update(b"\n");
    }
    md5::to_hex(&md5.finish())
}

/// Counts of one file (or a whole run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    /// Records that apply (passed + failed).
    pub fn applicable(&self) -> usize {
        self.passed + self.failed
    }

    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

/// One failing record, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub line: usize,
    pub reason: String,
}

/// How a file's run went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileOutcome {
    pub counts: Counts,
    pub failures: Vec<Failure>,
    /// Set when the run of the file stopped early (timeout, crash, budget).
    pub aborted: Option<String>,
}

/// Limits for one file's run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Count at most this many applicable records; the rest are skipped.
    pub records_per_file: Option<usize>,
    /// Keep at most this many failures in [`FileOutcome::failures`].
    pub failures_kept: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            records_per_file: None,
            failures_kept: 20,
        }
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    let mut out: String = s.chars().take(max_chars).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Checks a query's output against its record; `Err` says why it failed.
fn check_query(
    types: &str,
    sort: SortMode,
    expected: Option<&Expected>,
    output: Output,
    hash_threshold: usize,
) -> Result<Vec<String>, String> {
    let (columns, rows) = match output {
        Output::Rows { columns, rows } => (columns, rows),
        Output::Done => return Err("statement returned no rows description".into()),
    };
    if columns != types.chars().count() {
        return Err(format!(
            "wrong number of columns: expected {} ({types}), got {columns}",
            types.chars().count()
        ));
    }
    let values = result_values(types, sort, &rows);
    let hashed = hash_threshold > 0 && values.len() > hash_threshold;
    let actual_lines = if hashed {
        vec![format!(
            "{} values hashing to {}",
            values.len(),
            hash_values(&values)
        )]
    } else {
        values.clone()
    };
    let expected_lines = match expected {
        None => return Ok(values),
        Some(Expected::Values(v)) => v.clone(),
        Some(Expected::Hash { count, md5 }) => vec![format!("{count} values hashing to {md5}")],
    };
    if actual_lines == expected_lines {
        Ok(values)
    } else {
        Err(format!(
            "wrong result: expected [{}], got [{}]",
            truncate(&expected_lines.join(", "), 200),
            truncate(&actual_lines.join(", "), 200)
        ))
    }
}

/// Runs the applicable records of one parsed file, in order, counting each.
pub fn run_records(records: &[Record], executor: &mut dyn Executor, limits: Limits) -> FileOutcome {
    let mut outcome = FileOutcome::default();
    let mut hash_threshold = DEFAULT_HASH_THRESHOLD;
    // label -> hash of the first result seen with that label
    let mut labels: HashMap<String, String> = HashMap::new();
    let mut halted = false;
    let fail = |outcome: &mut FileOutcome, line: usize, reason: String| {
        outcome.counts.failed += 1;
        if outcome.failures.len() < limits.failures_kept {
            outcome.failures.push(Failure { line, reason });
        }
    };
    for record in records {
        let applies = record.applies_to(FLAVOUR);
        if !record.is_counted() {
            if applies && !halted && outcome.aborted.is_none() {
                match record.kind {
                    Kind::Halt => halted = true,
                    Kind::HashThreshold(n) => hash_threshold = n,
                    _ => {}
                }
            }
            continue;
        }
        let over_limit = limits
            .records_per_file
            .is_some_and(|max| outcome.counts.applicable() >= max);
        if !applies || halted || over_limit {
            outcome.counts.skipped += 1;
            continue;
        }
        if let Some(why) = &outcome.aborted {
            let reason = format!("not run: {why}");
            fail(&mut outcome, record.line, reason);
            continue;
        }
        let sql = match &record.kind {
            Kind::Statement { sql, .. } | Kind::Query { sql, .. } => sql.as_str(),
            Kind::HashThreshold(_) | Kind::Halt => continue,
        };
        let result = executor.execute(sql);
        if let Err(ExecError::Fatal(why)) = &result {
            fail(&mut outcome, record.line, why.clone());
            outcome.aborted = Some(why.clone());
            continue;
        }
        let verdict: Result<(), String> = match (&record.kind, result) {
            (Kind::Statement { expect_error, .. }, result) => match (expect_error, result) {
                (false, Ok(_)) | (true, Err(_)) => Ok(()),
                (false, Err(ExecError::Sql(e) | ExecError::Fatal(e))) => {
                    Err(format!("statement failed: {}", truncate(&e, 200)))
                }
                (true, Ok(_)) => Err("statement succeeded but an error was expected".into()),
            },
            (
                Kind::Query {
                    types,
                    sort,
                    label,
                    expected,
                    ..
                },
                result,
            ) => match result {
                Err(ExecError::Sql(e) | ExecError::Fatal(e)) => {
                    Err(format!("query failed: {}", truncate(&e, 200)))
                }
                Ok(output) => check_query(types, *sort, expected.as_ref(), output, hash_threshold)
                    .and_then(|values| match label {
                        None => Ok(()),
                        Some(label) => {
                            let hash = hash_values(&values);
                            match labels.get(label) {
                                Some(previous) if *previous != hash => Err(format!(
                                    "result differs from an earlier query labelled {label}"
                                )),
                                Some(_) => Ok(()),
                                None => {
                                    labels.insert(label.clone(), hash);
                                    Ok(())
                                }
                            }
                        }
                    }),
            },
            (Kind::HashThreshold(_) | Kind::Halt, _) => Ok(()),
        };
        match verdict {
            Ok(()) => outcome.counts.passed += 1,
            Err(reason) => fail(&mut outcome, record.line, reason),
        }
    }
    outcome
}

/// MD5 (RFC 1321), just enough for result hashes. Not for security.
pub mod md5 {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];

    /// K[i] = floor(2^32 * |sin(i + 1)|), computed once.
    fn k() -> [u32; 64] {
        let mut k = [0u32; 64];
        for (i, slot) in k.iter_mut().enumerate() {
            *slot = ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32;
        }
        k
    }

    pub struct Md5 {
        state: [u32; 4],
        buffer: Vec<u8>,
        length_bytes: u64,
        k: [u32; 64],
    }

    impl Md5 {
        pub fn new() -> Md5 {
            Md5 {
                state: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
                buffer: Vec::with_capacity(64),
                length_bytes: 0,
                k: k(),
            }
        }

        pub fn update(&mut self, mut data: &[u8]) {
            self.length_bytes = self.length_bytes.wrapping_add(data.len() as u64);
            while !data.is_empty() {
                let take = (64 - self.buffer.len()).min(data.len());
                self.buffer.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.buffer.len() == 64 {
                    let mut block = [0u8; 64];
                    block.copy_from_slice(&self.buffer);
                    self.compress(&block);
                    self.buffer.clear();
                }
            }
        }

        pub fn finish(mut self) -> [u8; 16] {
            let bit_length = self.length_bytes.wrapping_mul(8);
            let mut tail = vec![0x80u8];
            while (self.buffer.len() + tail.len()) % 64 != 56 {
                tail.push(0);
            }
            tail.extend_from_slice(&bit_length.to_le_bytes());
            // update() would count the padding into the length; feed blocks directly.
            let mut rest = std::mem::take(&mut self.buffer);
            rest.extend_from_slice(&tail);
            for chunk in rest.chunks_exact(64) {
                let mut block = [0u8; 64];
                block.copy_from_slice(chunk);
                self.compress(&block);
            }
            let mut out = [0u8; 16];
            for (i, word) in self.state.iter().enumerate() {
                out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
            }
            out
        }

        fn compress(&mut self, block: &[u8; 64]) {
            let mut m = [0u32; 16];
            for (i, word) in m.iter_mut().enumerate() {
                *word = u32::from_le_bytes([
                    block[i * 4],
                    block[i * 4 + 1],
                    block[i * 4 + 2],
                    block[i * 4 + 3],
                ]);
            }
            let [mut a, mut b, mut c, mut d] = self.state;
            for (i, shift) in S.iter().enumerate() {
                let (f, g) = match i / 16 {
                    0 => ((b & c) | (!b & d), i),
                    1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                    2 => (b ^ c ^ d, (3 * i + 5) % 16),
                    _ => (c ^ (b | !d), (7 * i) % 16),
                };
                let rotated = a
                    .wrapping_add(f)
                    .wrapping_add(self.k[i])
                    .wrapping_add(m[g])
                    .rotate_left(*shift);
                a = d;
                d = c;
                c = b;
                b = b.wrapping_add(rotated);
            }
            self.state[0] = self.state[0].wrapping_add(a);
            self.state[1] = self.state[1].wrapping_add(b);
            self.state[2] = self.state[2].wrapping_add(c);
            self.state[3] = self.state[3].wrapping_add(d);
        }
    }

    impl Default for Md5 {
        fn default() -> Md5 {
            Md5::new()
        }
    }

    pub fn to_hex(digest: &[u8; 16]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[allow(dead_code)] // used by the tests
    pub fn hex_digest(data: &[u8]) -> String {
        let mut md5 = Md5::new();
        md5.update(data);
        to_hex(&md5.finish())
    }
}
