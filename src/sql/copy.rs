//! `COPY table [(cols)] FROM STDIN` and `COPY table|(query) TO STDOUT`, in
//! PostgreSQL's text and CSV formats.
//!
//! ```text
//!  COPY t FROM STDIN ─▶ start() ─▶ CopyIn (held by the session)
//!     CopyData* ─▶ CopyIn::feed: bytes ─▶ complete lines ─▶ fields ─▶ row
//!                                 ─▶ typmods, NOT NULL ─▶ dml::store_new
//!     CopyDone  ─▶ CopyIn::finish (a last line without newline) ─▶ "COPY n"
//!  COPY t TO STDOUT ─▶ start() ─▶ rows ─▶ one text value per data line
//! ```
//!
//! Owns: the options (FORMAT text|csv, HEADER, DELIMITER, NULL, QUOTE,
//! ESCAPE, FREEZE accepted and ignored: every row is an MVCC version of the
//! COPY's transaction), the text and CSV line formats in both directions,
//! and PostgreSQL's errors with their CONTEXT line (`COPY t, line 3,
//! column a: "x"`).
//!
//! Invariants:
//! - Lines are numbered from 1 as PostgreSQL numbers them (a HEADER line
//!   counts); a CSV record spanning lines is numbered by its last line.
//! - A COPY TO STDOUT result has no columns; each row is one text value,
//!   a complete data line including its newline (the server sends each as
//!   one CopyData).
//! - Bytes that are not UTF-8 are 22021, never a panic.

use std::ops::Bound;

use sqlparser::ast;

use crate::catalog::row::decode_row;
use crate::db::StatementResult;
use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value, parse_text};

use super::bind::{ident_name, object_name};
use super::check::BoundChecks;
use super::coerce::base;
use super::dml::{conform_row, default_expr, store_new};
use super::execute;
use super::expr::{EvalContext, Expr};
use super::scan::{TableRef, choose_access, lock_txn};
use super::session::StmtCx;

/// SQLSTATE 22021: bytes that are not valid UTF-8.
const CHARACTER_NOT_IN_REPERTOIRE: SqlState = SqlState("22021");

/// Rows stored per lock of the transaction.
const BATCH: usize = 256;

/// The format options of one COPY.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyOptions {
    pub csv: bool,
    pub delimiter: u8,
    pub null: String,
    pub header: bool,
    pub quote: u8,
    pub escape: u8,
}

impl CopyOptions {
    fn from_ast(options: &[ast::CopyOption], legacy: &[ast::CopyLegacyOption]) -> Result<Self> {
        let mut csv = false;
        let mut delimiter = None;
        let mut null = None;
        let mut header = false;
        let mut quote = None;
        let mut escape = None;
        for o in options {
            match o {
                ast::CopyOption::Format(f) => match f.value.to_ascii_lowercase().as_str() {
                    "text" => csv = false,
                    "csv" => csv = true,
                    "binary" => return Err(Error::unsupported("COPY in binary format")),
                    other => {
                        return Err(Error::new(
                            SqlState::INVALID_PARAMETER_VALUE,
                            format!("COPY format \"{other}\" not recognized"),
                        ));
                    }
                },
                ast::CopyOption::Freeze(_) => {}
                ast::CopyOption::Delimiter(c) => delimiter = Some(single_byte(*c, "delimiter")?),
                ast::CopyOption::Null(s) => null = Some(s.clone()),
                ast::CopyOption::Header(h) => header = *h,
                ast::CopyOption::Quote(c) => quote = Some(single_byte(*c, "quote")?),
                ast::CopyOption::Escape(c) => escape = Some(single_byte(*c, "escape")?),
                ast::CopyOption::Encoding(e) => {
                    let e = e.to_ascii_lowercase().replace(['-', '_'], "");
                    if e != "utf8" && e != "unicode" {
                        return Err(Error::unsupported(format!("COPY ENCODING {e}")));
                    }
                }
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        for o in legacy {
            match o {
                ast::CopyLegacyOption::Csv(opts) => {
                    csv = true;
                    for c in opts {
                        match c {
                            ast::CopyLegacyCsvOption::Header => header = true,
                            ast::CopyLegacyCsvOption::Quote(q) => {
                                quote = Some(single_byte(*q, "quote")?)
                            }
                            ast::CopyLegacyCsvOption::Escape(q) => {
                                escape = Some(single_byte(*q, "escape")?)
                            }
                            other => {
                                return Err(Error::unsupported(format!("COPY option {other}")));
                            }
                        }
                    }
                }
                ast::CopyLegacyOption::Delimiter(c) => {
                    delimiter = Some(single_byte(*c, "delimiter")?)
                }
                ast::CopyLegacyOption::Null(s) => null = Some(s.clone()),
                ast::CopyLegacyOption::Header => header = true,
                other => return Err(Error::unsupported(format!("COPY option {other}"))),
            }
        }
        if !csv && (quote.is_some() || escape.is_some()) {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                if quote.is_some() {
                    "COPY quote available only in CSV mode"
                } else {
                    "COPY escape available only in CSV mode"
                },
            ));
        }
        if !csv && header {
            // PostgreSQL 15 accepts HEADER in text mode too.
        }
        let delimiter = delimiter.unwrap_or(if csv { b',' } else { b'\t' });
        if matches!(delimiter, b'\r' | b'\n') || (!csv && delimiter == b'\\') {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "COPY delimiter cannot be newline or carriage return",
            ));
        }
        let null = null.unwrap_or_else(|| if csv { String::new() } else { "\\N".into() });
        if null.contains(['\r', '\n']) {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "COPY null representation cannot use newline or carriage return",
            ));
        }
        let quote = quote.unwrap_or(b'"');
        if csv && quote == delimiter {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "COPY delimiter and quote must be different",
            ));
        }
        Ok(CopyOptions {
            csv,
            delimiter,
            null,
            header,
            quote,
            escape: escape.unwrap_or(quote),
        })
    }
}

fn single_byte(c: char, what: &str) -> Result<u8> {
    if c.is_ascii() {
        Ok(c as u8)
    } else {
        Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("COPY {what} must be a single one-byte character"),
        ))
    }
}

/// What a COPY statement starts.
pub enum Copied {
    /// COPY … TO STDOUT: its data lines (see the module invariants).
    Out(StatementResult),
    /// COPY … FROM STDIN: the client sends the data next.
    In(Box<CopyIn>),
}

/// sqlparser reads COPY's boolean options (`FREEZE`, `HEADER`) only as
/// TRUE / FALSE; PostgreSQL also takes ON / OFF / YES / NO / 1 / 0
/// (pgbench sends `with (freeze on)`). The COPY statement with those
/// spelled TRUE / FALSE, or `None` when `sql` is no such COPY.
pub fn spell_booleans(sql: &str) -> Option<String> {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::tokenizer::{Token, Tokenizer};
    let mut tokens = Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize().ok()?;
    let first = tokens.iter().find(|t| !matches!(t, Token::Whitespace(_)))?;
    if !matches!(first, Token::Word(w) if w.value.eq_ignore_ascii_case("copy")) {
        return None;
    }
    let mut changed = false;
    let mut after_option = false;
    for t in tokens.iter_mut() {
        if matches!(t, Token::Whitespace(_)) {
            continue;
        }
        if after_option {
            let value = match &*t {
                Token::Word(w) if w.quote_style.is_none() => {
                    match w.value.to_ascii_lowercase().as_str() {
                        "on" | "yes" => Some(true),
                        "off" | "no" => Some(false),
                        _ => None,
                    }
                }
                Token::Number(n, _) if n == "1" => Some(true),
                Token::Number(n, _) if n == "0" => Some(false),
                _ => None,
            };
            if let Some(v) = value {
                *t = Token::make_keyword(if v { "TRUE" } else { "FALSE" });
                changed = true;
            }
        }
        after_option = matches!(&*t, Token::Word(w) if w.quote_style.is_none()
            && (w.value.eq_ignore_ascii_case("freeze") || w.value.eq_ignore_ascii_case("header")));
    }
    changed.then(|| tokens.iter().map(|t| t.to_string()).collect())
}

/// Whether `stmt` is a COPY FROM STDIN (its data follows the statement).
pub fn is_copy_in(stmt: &ast::Statement) -> bool {
    matches!(
        stmt,
        ast::Statement::Copy {
            to: false,
            target: ast::CopyTarget::Stdin,
            ..
        }
    )
}

/// Starts the COPY statement `stmt` in the statement's transaction.
pub fn start(cx: &StmtCx<'_>, stmt: &ast::Statement) -> Result<Copied> {
    let ast::Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        values,
    } = stmt
    else {
        return Err(Error::internal(
            "copy::start on a statement that is not COPY",
        ));
    };
    let opts = CopyOptions::from_ast(options, legacy_options)?;
    match (to, target) {
        (false, ast::CopyTarget::Stdin) => {}
        (true, ast::CopyTarget::Stdout) => {}
        (_, ast::CopyTarget::File { .. } | ast::CopyTarget::Program { .. }) => {
            return Err(Error::new(
                SqlState("42501"),
                "must be superuser or have privileges of the pg_read_server_files role to COPY to or from a file",
            )
            .with_hint("Anyone can COPY to stdout or from stdin. psql's \\copy command also works for anyone."));
        }
        (false, _) | (true, _) => {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "COPY direction and target do not match",
            ));
        }
    }
    if !values.is_empty() {
        return Err(Error::unsupported("COPY data inline in the statement"));
    }
    if *to {
        return copy_out(cx, source, &opts).map(Copied::Out);
    }
    cx.check_writable("COPY FROM")?;
    let ast::CopySource::Table {
        table_name,
        columns,
    } = source
    else {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            "COPY FROM does not take a query",
        ));
    };
    let binder = cx.binder();
    let Some(tables) = binder.tables.clone() else {
        return Err(Error::internal("COPY without a catalog"));
    };
    let table = tables.open_existing(table_name)?;
    let targets = target_columns(&table, columns)?;
    let mut binder = cx.binder();
    let mut defaults = Vec::new();
    for (i, c) in table.def.columns.iter().enumerate() {
        if !targets.contains(&i) {
            defaults.push((i, default_expr(&mut binder, c)?));
        }
    }
    let types = targets
        .iter()
        .map(|&i| base(&table.def.columns[i].data_type))
        .collect();
    let name = object_name(table_name).last().cloned().unwrap_or_default();
    let skip_header = opts.header;
    let checks = BoundChecks::bind(&mut binder, &table.def)?;
    Ok(Copied::In(Box::new(CopyIn {
        table,
        checks,
        name,
        targets,
        types,
        defaults,
        opts,
        pending: Vec::new(),
        line: 0,
        rows: 0,
        skip_header,
        ended: false,
        batch: Vec::new(),
    })))
}

/// The positions of the listed columns (all of them when none are listed).
fn target_columns(table: &TableRef, columns: &[ast::Ident]) -> Result<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..table.def.columns.len()).collect());
    }
    let mut out = Vec::with_capacity(columns.len());
    for id in columns {
        let name = ident_name(id);
        let Some(i) = table.def.columns.iter().position(|c| c.name == name) else {
            return Err(Error::new(
                SqlState::UNDEFINED_COLUMN,
                format!(
                    "column \"{name}\" of relation \"{}\" does not exist",
                    table.def.name
                ),
            ));
        };
        if out.contains(&i) {
            return Err(Error::new(
                SqlState("42701"),
                format!("column \"{name}\" specified more than once"),
            ));
        }
        out.push(i);
    }
    Ok(out)
}

/// A COPY FROM STDIN in progress.
pub struct CopyIn {
    table: TableRef,
    /// The table's CHECK constraints, bound once for the whole COPY.
    checks: BoundChecks,
    /// The table's name as the CONTEXT line shows it.
    name: String,
    /// Table positions of the data's columns, in data order.
    targets: Vec<usize>,
    /// Input types of `targets`.
    types: Vec<DataType>,
    /// Columns not in the data and their DEFAULT expressions.
    defaults: Vec<(usize, Expr)>,
    opts: CopyOptions,
    /// Bytes after the last complete line.
    pending: Vec<u8>,
    /// Number of the last line read.
    line: u64,
    rows: u64,
    skip_header: bool,
    /// `\.` was seen: the rest is ignored.
    ended: bool,
    /// Rows parsed but not stored yet, with their line numbers and text.
    batch: Vec<(u64, Vec<Value>)>,
}

impl std::fmt::Debug for CopyIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CopyIn({}, line {})", self.name, self.line)
    }
}

impl CopyIn {
    /// Number of columns in the data (for CopyInResponse).
    pub fn columns(&self) -> usize {
        self.targets.len()
    }

    /// Takes the next bytes of data: every complete line is stored.
    pub fn feed(&mut self, cx: &StmtCx<'_>, data: &[u8]) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.pending.extend_from_slice(data);
        let mut start = 0;
        let mut in_quote = false;
        let mut i = 0;
        let buf = std::mem::take(&mut self.pending);
        while i < buf.len() {
            let b = buf[i];
            if self.opts.csv {
                if in_quote {
                    if b == self.opts.escape
                        && self.opts.escape != self.opts.quote
                        && i + 1 < buf.len()
                    {
                        i += 2;
                        continue;
                    }
                    if b == self.opts.quote {
                        in_quote = false;
                    }
                    i += 1;
                    continue;
                }
                if b == self.opts.quote {
                    in_quote = true;
                    i += 1;
                    continue;
                }
            } else if b == b'\\' {
                // An escaped character (even an escaped newline) is data.
                i += 2;
                continue;
            }
            if b == b'\n' {
                let line = &buf[start..i];
                self.line(cx, line)?;
                start = i + 1;
                if self.ended {
                    return Ok(());
                }
            }
            i += 1;
        }
        self.pending = buf[start.min(buf.len())..].to_vec();
        if self.batch.len() >= BATCH {
            self.flush(cx)?;
        }
        Ok(())
    }

    /// The end of the data: a last line without newline, then the tag.
    pub fn finish(&mut self, cx: &StmtCx<'_>) -> Result<StatementResult> {
        if !self.ended && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(cx, &rest)?;
        }
        self.flush(cx)?;
        self.table.counters.inserted(self.rows);
        Ok(StatementResult {
            columns: Vec::new(),
            rows: Vec::new(),
            tag: format!("COPY {}", self.rows),
        })
    }

    fn context(&self, line: u64) -> String {
        format!("COPY {}, line {}", self.name, line)
    }

    /// One line (without its `\n`).
    fn line(&mut self, cx: &StmtCx<'_>, raw: &[u8]) -> Result<()> {
        self.line += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw).map_err(|e| {
            let at = raw.get(e.valid_up_to()).copied().unwrap_or(0);
            Error::new(
                CHARACTER_NOT_IN_REPERTOIRE,
                format!("invalid byte sequence for encoding \"UTF8\": 0x{at:02x}"),
            )
            .with_context(self.context(self.line))
        })?;
        if self.skip_header {
            self.skip_header = false;
            return Ok(());
        }
        if text == "\\." {
            self.ended = true;
            return Ok(());
        }
        let line_cx = || format!("{}: \"{}\"", self.context(self.line), text);
        let fields = if self.opts.csv {
            split_csv(text, &self.opts)
        } else {
            split_text(text, &self.opts)
        }
        .map_err(|e| e.with_context(line_cx()))?;
        if fields.len() > self.targets.len() {
            return Err(Error::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                "extra data after last expected column",
            )
            .with_context(line_cx()));
        }
        if fields.len() < self.targets.len() {
            let missing = &self.table.def.columns[self.targets[fields.len()]].name;
            return Err(Error::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                format!("missing data for column \"{missing}\""),
            )
            .with_context(line_cx()));
        }
        let mut row = vec![Value::Null; self.table.def.columns.len()];
        for ((field, &pos), ty) in fields.into_iter().zip(&self.targets).zip(&self.types) {
            if let Some(s) = field {
                row[pos] = parse_text(ty, &s).map_err(|e| {
                    e.with_context(format!(
                        "{}, column {}: \"{}\"",
                        self.context(self.line),
                        self.table.def.columns[pos].name,
                        s
                    ))
                })?;
            }
        }
        if !self.defaults.is_empty() {
            let ctx = EvalContext {
                row: &[],
                params: &[],
                outer: &[],
                settings: cx.settings,
                txn: Some(cx.txn),
            };
            for (pos, e) in &self.defaults {
                row[*pos] = e.eval(&ctx)?;
            }
        }
        let row = conform_row(&self.table.def, row).map_err(|e| e.with_context(line_cx()))?;
        self.checks
            .check(cx, &self.table.def, &row)
            .map_err(|e| e.with_context(line_cx()))?;
        self.batch.push((self.line, row));
        Ok(())
    }

    /// Stores the parsed rows.
    fn flush(&mut self, cx: &StmtCx<'_>) -> Result<()> {
        let mut pending = super::fk::Pending::default();
        let has_fks = !self.table.def.foreign_keys.is_empty();
        for (line, row) in std::mem::take(&mut self.batch) {
            store_new(cx, &self.table, &row).map_err(|e| e.with_context(self.context(line)))?;
            if has_fks {
                pending.inserted(&self.table, &row);
            }
            self.rows += 1;
        }
        pending.run(cx)
    }
}

/// A text-format line's fields; `None` is NULL.
fn split_text(line: &str, opts: &CopyOptions) -> Result<Vec<Option<String>>> {
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut start = 0;
    loop {
        // Find the end of this field: the next unescaped delimiter.
        let mut i = start;
        while i < bytes.len() && bytes[i] != opts.delimiter {
            i += if bytes[i] == b'\\' { 2 } else { 1 };
        }
        let end = i.min(bytes.len());
        let raw = &line[start..end];
        fields.push(if raw == opts.null {
            None
        } else {
            Some(unescape_text(raw)?)
        });
        if end >= bytes.len() {
            break;
        }
        start = end + 1;
    }
    Ok(fields)
}

/// De-escapes a text-format field: `\b \f \n \r \t \v`, octal `\NNN`,
/// hex `\xHH`, and a backslash before any other character.
fn unescape_text(raw: &str) -> Result<String> {
    if !raw.contains('\\') {
        return Ok(raw.to_string());
    }
    let b = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let Some(&c) = b.get(i + 1) else {
            // A lone backslash at the end of the field is kept.
            out.push(b'\\');
            break;
        };
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match b.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 {
                    match b.get(i).and_then(|d| (*d as char).to_digit(16)) {
                        Some(d) => {
                            v = v * 16 + d;
                            i += 1;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.push(b'x');
                } else {
                    out.push(v as u8);
                }
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|e| {
        let at = e.as_bytes().get(e.utf8_error().valid_up_to()).copied();
        Error::new(
            CHARACTER_NOT_IN_REPERTOIRE,
            format!(
                "invalid byte sequence for encoding \"UTF8\": 0x{:02x}",
                at.unwrap_or(0)
            ),
        )
    })
}

/// A CSV record's fields; `None` is NULL (an unquoted field equal to the
/// NULL string).
fn split_csv(record: &str, opts: &CopyOptions) -> Result<Vec<Option<String>>> {
    let b = record.as_bytes();
    let mut fields = Vec::new();
    let mut i = 0;
    loop {
        let mut value: Vec<u8> = Vec::new();
        let mut quoted = false;
        let start = i;
        let mut in_quote = false;
        while i < b.len() {
            let c = b[i];
            if in_quote {
                if c == opts.escape && b.get(i + 1) == Some(&opts.quote) {
                    value.push(opts.quote);
                    i += 2;
                    continue;
                }
                if c == opts.escape
                    && opts.escape != opts.quote
                    && b.get(i + 1) == Some(&opts.escape)
                {
                    value.push(opts.escape);
                    i += 2;
                    continue;
                }
                if c == opts.quote {
                    in_quote = false;
                    i += 1;
                    continue;
                }
                value.push(c);
                i += 1;
                continue;
            }
            if c == opts.delimiter {
                break;
            }
            if c == opts.quote {
                in_quote = true;
                quoted = true;
                i += 1;
                continue;
            }
            value.push(c);
            i += 1;
        }
        if in_quote {
            return Err(Error::new(
                SqlState::BAD_COPY_FILE_FORMAT,
                "unterminated CSV quoted field",
            ));
        }
        let raw = &record[start..i];
        if !quoted && raw == opts.null {
            fields.push(None);
        } else {
            fields.push(Some(String::from_utf8(value).map_err(|_| {
                Error::new(
                    CHARACTER_NOT_IN_REPERTOIRE,
                    "invalid byte sequence for encoding \"UTF8\"",
                )
            })?));
        }
        if i >= b.len() {
            break;
        }
        i += 1;
    }
    Ok(fields)
}

/// COPY … TO STDOUT: the rows of a table (or query) as data lines.
fn copy_out(
    cx: &StmtCx<'_>,
    source: &ast::CopySource,
    opts: &CopyOptions,
) -> Result<StatementResult> {
    let (names, rows): (Vec<String>, Vec<Vec<Value>>) = match source {
        ast::CopySource::Query(q) => {
            let mut binder = cx.binder();
            let bound = binder.bind_query(q)?;
            let plan = choose_access(bound.plan);
            let rows = execute::run(&plan, &cx.exec())?;
            (bound.columns.into_iter().map(|c| c.name).collect(), rows)
        }
        ast::CopySource::Table {
            table_name,
            columns,
        } => {
            let binder = cx.binder();
            let Some(tables) = binder.tables.clone() else {
                return Err(Error::internal("COPY without a catalog"));
            };
            let table = tables.open_existing(table_name)?;
            let targets = target_columns(&table, columns)?;
            let types = table.types();
            let mut txn = lock_txn(cx.txn)?;
            let mut out = Vec::new();
            let mut row = Vec::new();
            for item in txn.scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)? {
                let (_, bytes) = item?;
                let h = decode_row(&bytes, &types, None, &mut row)?;
                table.def.fill_missing(h.columns, &mut row);
                out.push(
                    targets
                        .iter()
                        .map(|&i| row.get(i).cloned().unwrap_or(Value::Null))
                        .collect(),
                );
            }
            (
                targets
                    .iter()
                    .map(|&i| table.def.columns[i].name.clone())
                    .collect(),
                out,
            )
        }
    };
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if opts.header {
        let fields: Vec<Option<String>> = names.into_iter().map(Some).collect();
        lines.push(vec![Value::Text(format_line(&fields, opts))]);
    }
    let n = rows.len();
    for row in rows {
        let fields: Vec<Option<String>> = row
            .iter()
            .map(|v| (!v.is_null()).then(|| v.to_text()))
            .collect();
        lines.push(vec![Value::Text(format_line(&fields, opts))]);
    }
    Ok(StatementResult {
        columns: Vec::new(),
        rows: lines,
        tag: format!("COPY {n}"),
    })
}

/// One output line, newline included.
pub fn format_line(fields: &[Option<String>], opts: &CopyOptions) -> String {
    let mut out = String::new();
    let delim = opts.delimiter as char;
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        match f {
            None => out.push_str(&opts.null),
            Some(s) if opts.csv => {
                let q = opts.quote as char;
                let e = opts.escape as char;
                let needs = s.is_empty() && opts.null.is_empty()
                    || *s == opts.null
                    || s.contains([delim, q, '\r', '\n'])
                    || s == "\\.";
                if needs {
                    out.push(q);
                    for c in s.chars() {
                        if c == q || c == e {
                            out.push(e);
                        }
                        out.push(c);
                    }
                    out.push(q);
                } else {
                    out.push_str(s);
                }
            }
            Some(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' if delim == '\t' => out.push_str("\\t"),
                        '\u{8}' => out.push_str("\\b"),
                        '\u{c}' => out.push_str("\\f"),
                        '\u{b}' => out.push_str("\\v"),
                        c if c == delim => {
                            out.push('\\');
                            out.push(c);
                        }
                        c => out.push(c),
                    }
                }
            }
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> CopyOptions {
        CopyOptions::from_ast(&[], &[]).unwrap()
    }

    fn csv() -> CopyOptions {
        CopyOptions::from_ast(&[ast::CopyOption::Format(ast::Ident::new("csv"))], &[]).unwrap()
    }

    #[test]
    fn boolean_option_words_are_spelled_for_sqlparser() {
        assert_eq!(
            spell_booleans("copy t from stdin with (freeze on, header off)").as_deref(),
            Some("copy t from stdin with (freeze TRUE, header FALSE)")
        );
        assert_eq!(spell_booleans("copy t from stdin with (freeze)"), None);
        assert_eq!(spell_booleans("select on"), None);
    }

    #[test]
    fn text_fields_split_on_unescaped_delimiters_and_read_escapes() {
        let f = split_text("1\ta\\tb\t\\N\t\\\\N\t\\101\\x42", &text()).unwrap();
        assert_eq!(
            f,
            vec![
                Some("1".into()),
                Some("a\tb".into()),
                None,
                Some("\\N".into()),
                Some("AB".into())
            ]
        );
        assert_eq!(split_text("", &text()).unwrap(), vec![Some(String::new())]);
    }

    #[test]
    fn csv_fields_honour_quotes_and_the_unquoted_null() {
        let f = split_csv("1,\"a,\"\"b\"\"\",,\"\"", &csv()).unwrap();
        assert_eq!(
            f,
            vec![
                Some("1".into()),
                Some("a,\"b\"".into()),
                None,
                Some(String::new())
            ]
        );
        assert!(split_csv("\"open", &csv()).is_err());
    }

    #[test]
    fn output_lines_round_trip_through_the_input_parsers() {
        let fields = vec![
            Some("x\ty\\z\nw".to_string()),
            None,
            Some(String::new()),
            Some("a,\"b\"".into()),
        ];
        for opts in [text(), csv()] {
            let line = format_line(&fields, &opts);
            let line = line.strip_suffix('\n').unwrap();
            let back = if opts.csv {
                split_csv(line, &opts).unwrap()
            } else {
                split_text(line, &opts).unwrap()
            };
            assert_eq!(back, fields, "{opts:?}: {line:?}");
        }
    }
}
