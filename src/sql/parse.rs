//! The seam over sqlparser: SQL text in, statements or a PostgreSQL-shaped
//! syntax error out.
//!
//! Owns: the dialect choice (PostgreSQL), the recursion limit, and turning
//! sqlparser's `"... at Line: L, Column: C"` messages into 42601
//! `syntax error at or near "X"` (or `at end of input`) with a 1-based
//! character `position`, as PostgreSQL reports them.
//! Never: looks at what the statements mean.

use sqlparser::ast::Statement;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::error::{Error, Result, SqlState};

/// Deepest nesting sqlparser may recurse into before giving up (54001).
const PARSER_RECURSION_LIMIT: usize = 200;

/// 54001: what PostgreSQL reports when an expression nests too deeply.
pub const STATEMENT_TOO_COMPLEX: SqlState = SqlState("54001");

/// Parses every statement in `sql`. An empty string (or only `;`) gives none.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    // sqlparser reads PostgreSQL's CREATE USER as Snowflake's: roles.rs
    // rewrites it to CREATE ROLE (same positions) and restores its LOGIN.
    let rewrite = super::roles::rewrite_create_user(sql);
    let text = rewrite.as_ref().map_or(sql, |r| r.sql.as_str());
    let dialect = super::dialect::ArborDialect;
    let parsed = Parser::new(&dialect)
        .with_recursion_limit(PARSER_RECURSION_LIMIT)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_statements());
    let parsed = parsed.or_else(|e| {
        // PostgreSQL's VACUUM / ANALYZE and COPY option forms that
        // sqlparser does not read.
        if let Some(stmt) = super::vacuum::parse(sql) {
            return Ok(vec![stmt]);
        }
        // INSERT … OVERRIDING {SYSTEM | USER} VALUE: sequence.rs blanks
        // the clause out and marks the INSERT.
        if let Some((blanked, mark)) = super::sequence::strip_overriding(sql) {
            let again = Parser::new(&dialect)
                .with_recursion_limit(PARSER_RECURSION_LIMIT)
                .try_with_sql(&blanked)
                .and_then(|mut p| p.parse_statements());
            if let Ok(mut statements) = again {
                super::sequence::mark_overriding(&mut statements, mark);
                return Ok(statements);
            }
        }
        if let Some(reordered) = super::sequence::reorder_options(sql) {
            let again = Parser::new(&dialect)
                .with_recursion_limit(PARSER_RECURSION_LIMIT)
                .try_with_sql(&reordered)
                .and_then(|mut p| p.parse_statements());
            if let Ok(statements) = again {
                return Ok(statements);
            }
        }
        // ALTER SEQUENCE: sequence.rs reads the text itself.
        if let Some(stmt) = super::sequence::parse_alter_placeholder(sql) {
            return Ok(vec![stmt]);
        }
        if let Some(respelled) = super::copy::spell_booleans(sql) {
            let again = Parser::new(&dialect)
                .with_recursion_limit(PARSER_RECURSION_LIMIT)
                .try_with_sql(&respelled)
                .and_then(|mut p| p.parse_statements());
            if let Ok(statements) = again {
                return Ok(statements);
            }
        }
        // DEFERRABLE, FOR NO KEY UPDATE / FOR KEY SHARE, OF lists.
        if let Some(statements) = super::txn_syntax::parse_respelled(text, PARSER_RECURSION_LIMIT) {
            return Ok(statements);
        }
        // BETWEEN SYMMETRIC / ASYMMETRIC and TRIM(TRAILING FROM s), which
        // sqlparser does not read.
        if let Some(respelled) = respell_unparsed_forms(text) {
            let again = Parser::new(&dialect)
                .with_recursion_limit(PARSER_RECURSION_LIMIT)
                .try_with_sql(&respelled)
                .and_then(|mut p| p.parse_statements());
            if let Ok(statements) = again {
                return Ok(statements);
            }
        }
        // ALTER VIEW … RENAME: read as ALTER TABLE, marked (view.rs).
        if let Some(statements) = super::view::parse_alter_view(sql, PARSER_RECURSION_LIMIT) {
            return Ok(statements);
        }
        Err(e)
    });
    let mut statements = parsed.map_err(|e| syntax_error(sql, e))?;
    if let Some(r) = &rewrite {
        r.mark_users(&mut statements);
    }
    Ok(statements)
}

/// The function a respelled `x BETWEEN SYMMETRIC a AND b` wraps its lower
/// bound in (`x BETWEEN arbordb_between_symmetric(a) AND b`); the binder
/// reads it back as the symmetric form.
pub const BETWEEN_SYMMETRIC_MARK: &str = "arbordb_between_symmetric";

/// `sql` with `BETWEEN SYMMETRIC low AND` respelled as
/// `BETWEEN arbordb_between_symmetric(low) AND`, `BETWEEN ASYMMETRIC` as
/// `BETWEEN`, and `TRIM(TRAILING FROM s)` (or LEADING / BOTH) as
/// `TRIM(TRAILING ' ' FROM s)`; `None` when there is none of them.
fn respell_unparsed_forms(sql: &str) -> Option<String> {
    let dialect = super::dialect::ArborDialect;
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let mut out = String::with_capacity(sql.len() + 32);
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        out.push_str(&tokens[i].to_string());
        // TRIM(LEADING | TRAILING | BOTH FROM s): the space is implied.
        if matches!(tokens[i], Token::Word(_))
            && ["leading", "trailing", "both"]
                .iter()
                .any(|w| is_word(&tokens[i], w))
        {
            let mut j = i + 1;
            while matches!(tokens.get(j), Some(Token::Whitespace(_))) {
                j += 1;
            }
            if tokens.get(j).is_some_and(|t| is_word(t, "from")) {
                out.push_str(" ' '");
                changed = true;
            }
            i += 1;
            continue;
        }
        if !is_word(&tokens[i], "between") {
            i += 1;
            continue;
        }
        // The next non-space token.
        let mut j = i + 1;
        while matches!(tokens.get(j), Some(Token::Whitespace(_))) {
            j += 1;
        }
        let Some(next) = tokens.get(j) else { break };
        if is_word(next, "asymmetric") {
            changed = true;
            i = j + 1;
            continue;
        }
        if !is_word(next, "symmetric") {
            i += 1;
            continue;
        }
        // The lower bound: up to AND at the same nesting depth.
        let mut k = j + 1;
        let mut depth = 0i32;
        let mut low = String::new();
        while let Some(t) = tokens.get(k) {
            match t {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                t if depth == 0 && is_word(t, "and") => break,
                _ => {}
            }
            low.push_str(&t.to_string());
            k += 1;
        }
        if k >= tokens.len() {
            return None;
        }
        out.push_str(&format!(" {BETWEEN_SYMMETRIC_MARK}({}) ", low.trim()));
        changed = true;
        i = k;
    }
    changed.then_some(out)
}

/// Converts a 1-based (line, column) location into a 1-based character offset.
pub fn char_position(sql: &str, loc: Location) -> Option<u32> {
    if loc.line == 0 {
        return None;
    }
    let mut offset = 0u64;
    for (i, line) in sql.split('\n').enumerate() {
        if (i as u64) + 1 == loc.line {
            return u32::try_from(offset + loc.column).ok();
        }
        offset += line.chars().count() as u64 + 1;
    }
    None
}

fn end_of_input(sql: &str) -> Error {
    Error::new(SqlState::SYNTAX_ERROR, "syntax error at end of input")
        .with_position(sql.chars().count() as u32 + 1)
}

fn syntax_error(sql: &str, e: ParserError) -> Error {
    let message = match e {
        ParserError::RecursionLimitExceeded => {
            return Error::new(STATEMENT_TOO_COMPLEX, "stack depth limit exceeded").with_hint(
                "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.",
            );
        }
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
    };
    let loc = parse_location(&message);
    let found_eof = message.contains("found: EOF");
    if message.starts_with("Unterminated string literal") || message.contains("Unterminated dollar")
    {
        let pos = loc.and_then(|l| char_position(sql, l)).unwrap_or(1);
        let rest: String = sql.chars().skip(pos as usize - 1).collect();
        return Error::new(
            SqlState::SYNTAX_ERROR,
            format!("unterminated quoted string at or near \"{rest}\""),
        )
        .with_position(pos);
    }
    if found_eof {
        return end_of_input(sql);
    }
    let Some(loc) = loc else {
        return end_of_input(sql);
    };
    let Some(pos) = char_position(sql, loc) else {
        return end_of_input(sql);
    };
    // Find the token that starts at the error location to quote it.
    let dialect = super::dialect::ArborDialect;
    let token = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()
        .and_then(|tokens| {
            tokens
                .into_iter()
                .find(|t| t.span.start == loc && !matches!(t.token, Token::Whitespace(_)))
        });
    match token {
        Some(t) if t.token == Token::EOF => end_of_input(sql),
        Some(t) => Error::new(
            SqlState::SYNTAX_ERROR,
            format!("syntax error at or near \"{}\"", t.token),
        )
        .with_position(pos),
        None => {
            let word: String = sql
                .chars()
                .skip(pos as usize - 1)
                .take_while(|c| !c.is_whitespace())
                .collect();
            if word.is_empty() {
                end_of_input(sql)
            } else {
                Error::new(
                    SqlState::SYNTAX_ERROR,
                    format!("syntax error at or near \"{word}\""),
                )
                .with_position(pos)
            }
        }
    }
}

/// Extracts the trailing `at Line: L, Column: C` from a sqlparser message.
fn parse_location(message: &str) -> Option<Location> {
    let idx = message.rfind(" at Line: ")?;
    let rest = &message[idx + " at Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some(Location {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(sql: &str) -> Error {
        parse(sql).unwrap_err()
    }

    #[test]
    fn syntax_errors_quote_the_token_and_its_position() {
        let e = err("select 1 2");
        assert_eq!(e.sqlstate, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "syntax error at or near \"2\"");
        assert_eq!(e.position, Some(10));
        let e = err("selec 1");
        assert_eq!(e.message, "syntax error at or near \"selec\"");
        assert_eq!(e.position, Some(1));
        let e = err("select 1;\nselect 1 2");
        assert_eq!(e.position, Some(20));
    }

    #[test]
    fn truncated_statements_report_end_of_input() {
        let e = err("select 1 +");
        assert_eq!(e.message, "syntax error at end of input");
        assert_eq!(e.position, Some(11));
    }

    #[test]
    fn unterminated_strings_are_syntax_errors() {
        let e = err("select 'abc");
        assert_eq!(e.sqlstate, SqlState::SYNTAX_ERROR);
        assert_eq!(e.message, "unterminated quoted string at or near \"'abc\"");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let sql = format!("select {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(err(&sql).sqlstate, STATEMENT_TOO_COMPLEX);
    }

    #[test]
    fn empty_input_has_no_statements() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse(" ; ").unwrap().is_empty());
    }
}
