//! PostgreSQL transaction and row-locking syntax that sqlparser 0.63 does
//! not read, respelled into forms it does (no parser fork):
//!
//! ```text
//!   BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE
//!     -> BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY        modifier = Deferred
//!   SET TRANSACTION NOT DEFERRABLE
//!     -> SET TRANSACTION                                     snapshot = DEFERRABLE_MARKER(off)
//!   SELECT … FOR NO KEY UPDATE OF a, b NOWAIT
//!     -> SELECT … FOR UPDATE OF a NOWAIT FOR UPDATE OF "arbordb:no key update"
//!                 FOR UPDATE OF b NOWAIT FOR UPDATE OF "arbordb:no key update"
//! ```
//!
//! `[NOT] DEFERRABLE` in BEGIN / START TRANSACTION / SET TRANSACTION / SET
//! SESSION CHARACTERISTICS AS TRANSACTION is cut out and put back into the
//! parsed statement where no PostgreSQL text can put anything: BEGIN's
//! `modifier` (Deferred = DEFERRABLE, Immediate = NOT DEFERRABLE; the
//! PostgreSQL dialect parses no modifier) and SET TRANSACTION's `snapshot`
//! (a placeholder `$n` can never be named like [`DEFERRABLE_ON`]). A
//! locking clause's strength travels in a marker clause after it
//! ([`super::locking`] folds it back). Edits are made on the original text
//! at token positions, so strings and comments are never touched.
//!
//! Runs only when the statement text failed to parse as it is.

use sqlparser::ast::{self, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use super::locking::{KEY_SHARE_MARKER, NO_KEY_MARKER};

/// SET TRANSACTION's snapshot placeholder meaning DEFERRABLE.
pub const DEFERRABLE_ON: &str = "arbordb:deferrable";
/// … meaning NOT DEFERRABLE.
pub const DEFERRABLE_OFF: &str = "arbordb:not deferrable";

/// What a parsed transaction statement says about DEFERRABLE, if anything.
pub fn deferrable_of(stmt: &Statement) -> Option<bool> {
    match stmt {
        Statement::StartTransaction { modifier, .. } => match modifier {
            Some(ast::TransactionModifier::Deferred) => Some(true),
            Some(ast::TransactionModifier::Immediate) => Some(false),
            _ => None,
        },
        Statement::Set(ast::Set::SetTransaction {
            snapshot: Some(v), ..
        }) => match &v.value {
            ast::Value::Placeholder(p) if p == DEFERRABLE_ON => Some(true),
            ast::Value::Placeholder(p) if p == DEFERRABLE_OFF => Some(false),
            _ => None,
        },
        _ => None,
    }
}

struct Tok {
    token: Token,
    start: usize,
    end: usize,
}

fn byte_offset(line_starts: &[usize], sql: &str, loc: Location) -> Option<usize> {
    let line = usize::try_from(loc.line).ok()?.checked_sub(1)?;
    let start = *line_starts.get(line)?;
    let col = usize::try_from(loc.column).ok()?.checked_sub(1)?;
    let rest = &sql[start..];
    Some(start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i))
}

fn tokens(sql: &str) -> Option<Vec<Tok>> {
    let dialect = PostgreSqlDialect {};
    let spanned = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let mut line_starts = vec![0];
    line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
    let mut out = Vec::new();
    for t in spanned {
        if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        let start = byte_offset(&line_starts, sql, t.span.start)?;
        let end = byte_offset(&line_starts, sql, t.span.end)?;
        out.push(Tok {
            token: t.token,
            start,
            end,
        });
    }
    Some(out)
}

fn is_kw(toks: &[Tok], i: usize, kw: Keyword) -> bool {
    matches!(toks.get(i), Some(Tok { token: Token::Word(w), .. }) if w.quote_style.is_none() && w.keyword == kw)
}

/// The respelled text and, per statement ordinal, its DEFERRABLE word.
fn respell_text(sql: &str) -> Option<(String, Vec<(usize, bool)>)> {
    let toks = tokens(sql)?;
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut deferrable = Vec::new();
    let mut stmt = 0usize;
    let mut in_stmt = false;
    let mut txn_stmt = false;
    let mut i = 0;
    while i < toks.len() {
        if toks[i].token == Token::SemiColon {
            if in_stmt {
                stmt += 1;
            }
            in_stmt = false;
            i += 1;
            continue;
        }
        if !in_stmt {
            in_stmt = true;
            txn_stmt = is_kw(&toks, i, Keyword::BEGIN)
                || (is_kw(&toks, i, Keyword::START) && is_kw(&toks, i + 1, Keyword::TRANSACTION))
                || (is_kw(&toks, i, Keyword::SET)
                    && (is_kw(&toks, i + 1, Keyword::TRANSACTION)
                        || is_kw(&toks, i + 1, Keyword::SESSION)));
        }
        if txn_stmt && is_kw(&toks, i, Keyword::DEFERRABLE) {
            let not = i > 0 && is_kw(&toks, i - 1, Keyword::NOT);
            let first = if not { i - 1 } else { i };
            let mut start = toks[first].start;
            let mut end = toks[i].end;
            if first > 0 && toks[first - 1].token == Token::Comma {
                start = toks[first - 1].start;
            } else if toks.get(i + 1).is_some_and(|t| t.token == Token::Comma) {
                end = toks[i + 1].end;
            }
            edits.push((start, end, String::new()));
            deferrable.push((stmt, !not));
            i += 1;
            continue;
        }
        if is_kw(&toks, i, Keyword::FOR)
            && let Some((next, text)) = locking_clause(sql, &toks, i)
        {
            edits.push((toks[i].start, toks[next - 1].end, text));
            i = next;
            continue;
        }
        i += 1;
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = sql.to_string();
    for (start, end, text) in edits.into_iter().rev() {
        out.replace_range(start..end, &text);
    }
    Some((out, deferrable))
}

/// A locking clause at `i` (`FOR …`) that sqlparser cannot read: the index
/// after it and its respelling. `None` for clauses it reads as they are.
fn locking_clause(sql: &str, toks: &[Tok], i: usize) -> Option<(usize, String)> {
    let mut j = i + 1;
    let (base, marker) = if is_kw(toks, j, Keyword::NO)
        && is_kw(toks, j + 1, Keyword::KEY)
        && is_kw(toks, j + 2, Keyword::UPDATE)
    {
        j += 3;
        ("UPDATE", Some(NO_KEY_MARKER))
    } else if is_kw(toks, j, Keyword::KEY) && is_kw(toks, j + 1, Keyword::SHARE) {
        j += 2;
        ("SHARE", Some(KEY_SHARE_MARKER))
    } else if is_kw(toks, j, Keyword::UPDATE) {
        j += 1;
        ("UPDATE", None)
    } else if is_kw(toks, j, Keyword::SHARE) {
        j += 1;
        ("SHARE", None)
    } else {
        return None;
    };
    let mut names: Vec<&str> = Vec::new();
    if is_kw(toks, j, Keyword::OF) {
        j += 1;
        loop {
            // A dotted name: word (. word)*.
            let first = j;
            if !matches!(
                toks.get(j),
                Some(Tok {
                    token: Token::Word(_),
                    ..
                })
            ) {
                return None;
            }
            j += 1;
            while toks.get(j).is_some_and(|t| t.token == Token::Period)
                && matches!(
                    toks.get(j + 1),
                    Some(Tok {
                        token: Token::Word(_),
                        ..
                    })
                )
            {
                j += 2;
            }
            names.push(&sql[toks[first].start..toks[j - 1].end]);
            if toks.get(j).is_some_and(|t| t.token == Token::Comma) {
                j += 1;
                continue;
            }
            break;
        }
    }
    let nonblock = if is_kw(toks, j, Keyword::NOWAIT) {
        j += 1;
        " NOWAIT"
    } else if is_kw(toks, j, Keyword::SKIP) && is_kw(toks, j + 1, Keyword::LOCKED) {
        j += 2;
        " SKIP LOCKED"
    } else {
        ""
    };
    if marker.is_none() && names.len() <= 1 {
        return None;
    }
    let one = |of: Option<&str>| {
        let mut s = format!("FOR {base}");
        if let Some(n) = of {
            s.push_str(" OF ");
            s.push_str(n);
        }
        s.push_str(nonblock);
        if let Some(m) = marker {
            s.push_str(&format!(" FOR UPDATE OF \"{m}\""));
        }
        s
    };
    let text = if names.is_empty() {
        one(None)
    } else {
        names
            .iter()
            .map(|n| one(Some(n)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Some((j, text))
}

fn mark_deferrable(stmt: &mut Statement, on: bool) {
    match stmt {
        Statement::StartTransaction { modifier, .. } => {
            *modifier = Some(if on {
                ast::TransactionModifier::Deferred
            } else {
                ast::TransactionModifier::Immediate
            });
        }
        Statement::Set(ast::Set::SetTransaction { snapshot, .. }) => {
            *snapshot = Some(ast::ValueWithSpan {
                value: ast::Value::Placeholder(
                    if on { DEFERRABLE_ON } else { DEFERRABLE_OFF }.to_string(),
                ),
                span: sqlparser::tokenizer::Span::empty(),
            });
        }
        _ => {}
    }
}

/// Parses `sql` after respelling; `None` if there was nothing to respell or
/// the respelled text does not parse either (the caller reports the
/// original error).
pub fn parse_respelled(sql: &str, recursion_limit: usize) -> Option<Vec<Statement>> {
    let (text, deferrable) = respell_text(sql)?;
    let dialect = PostgreSqlDialect {};
    let mut statements = Parser::new(&dialect)
        .with_recursion_limit(recursion_limit)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_statements())
        .ok()?;
    for (i, on) in deferrable {
        if let Some(s) = statements.get_mut(i) {
            mark_deferrable(s, on);
        }
    }
    Some(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sql: &str) -> String {
        respell_text(sql).map(|(t, _)| t).unwrap_or_default()
    }

    #[test]
    fn deferrable_is_cut_with_its_comma() {
        assert_eq!(
            text("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE"),
            "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY"
        );
        assert_eq!(text("begin not deferrable, read only"), "begin  read only");
        let (_, d) =
            respell_text("select 1; ; set transaction deferrable; begin not deferrable").unwrap();
        assert_eq!(d, vec![(1, true), (2, false)]);
    }

    #[test]
    fn deferrable_elsewhere_is_left_alone() {
        assert!(respell_text("select 'deferrable' as deferrable").is_none());
    }

    #[test]
    fn lock_strengths_become_marker_clauses() {
        assert_eq!(
            text("select * from t for no key update nowait"),
            format!("select * from t FOR UPDATE NOWAIT FOR UPDATE OF \"{NO_KEY_MARKER}\"")
        );
        assert_eq!(
            text("select * from t for key share of t skip locked"),
            format!(
                "select * from t FOR SHARE OF t SKIP LOCKED FOR UPDATE OF \"{KEY_SHARE_MARKER}\""
            )
        );
        assert_eq!(
            text("select * from a, b for update of a, b"),
            "select * from a, b FOR UPDATE OF a FOR UPDATE OF b"
        );
        assert!(respell_text("select * from t for update of t nowait").is_none());
    }

    #[test]
    fn respelled_statements_carry_their_marks() {
        let s = parse_respelled(
            "begin isolation level serializable read only deferrable; set transaction not deferrable",
            50,
        )
        .unwrap();
        assert_eq!(deferrable_of(&s[0]), Some(true));
        assert_eq!(deferrable_of(&s[1]), Some(false));
        let s = parse_respelled("select 'it''s' from t for key share", 50).unwrap();
        let Statement::Query(q) = &s[0] else {
            panic!("not a query")
        };
        assert_eq!(q.locks.len(), 2);
    }
}
