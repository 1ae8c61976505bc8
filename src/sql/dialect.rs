//! The SQL dialect every statement is parsed with: sqlparser's PostgreSQL
//! dialect, with one shortcut in expression parsing.
//!
//! sqlparser begins every expression by trying to read a type name (for
//! PostgreSQL's `DATE '2020-05-20'` typed literals), and when that fails
//! it builds an error message before trying the token as what it is. For
//! a number, a string literal or NULL / TRUE / FALSE that attempt can never
//! succeed (no type name is a literal), so [`ArborDialect`] reads them at
//! once, exactly as sqlparser's own fallback does. A 1,000-row multi-row
//! INSERT spent most of its parse in those failed attempts.
//!
//! Everything else is PostgreSqlDialect's: the type id it reports is
//! PostgreSqlDialect's (sqlparser's `dialect_of!` checks see PostgreSQL),
//! and each method PostgreSqlDialect overrides is delegated to it. The test
//! below parses every statement of our sqllogictest files with both and
//! requires the same syntax trees.

use std::any::TypeId;

use sqlparser::ast::Expr;
use sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// See the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct ArborDialect;

impl Dialect for ArborDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<PostgreSqlDialect>()
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        let literal = match &parser.peek_token_ref().token {
            Token::Number(..) | Token::SingleQuotedString(_) => true,
            Token::Word(w) => matches!(w.keyword, Keyword::NULL | Keyword::TRUE | Keyword::FALSE),
            _ => false,
        };
        literal.then(|| parser.parse_value().map(Expr::Value))
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        PostgreSqlDialect {}.identifier_quote_style(identifier)
    }
    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        PostgreSqlDialect {}.is_delimited_identifier_start(ch)
    }
    fn is_identifier_start(&self, ch: char) -> bool {
        PostgreSqlDialect {}.is_identifier_start(ch)
    }
    fn is_identifier_part(&self, ch: char) -> bool {
        PostgreSqlDialect {}.is_identifier_part(ch)
    }
    fn supports_unicode_string_literal(&self) -> bool {
        PostgreSqlDialect {}.supports_unicode_string_literal()
    }
    fn is_reserved_for_identifier(&self, kw: Keyword) -> bool {
        PostgreSqlDialect {}.is_reserved_for_identifier(kw)
    }
    fn is_table_alias(&self, kw: &Keyword, parser: &mut Parser) -> bool {
        PostgreSqlDialect {}.is_table_alias(kw, parser)
    }
    fn is_custom_operator_part(&self, ch: char) -> bool {
        PostgreSqlDialect {}.is_custom_operator_part(ch)
    }
    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        PostgreSqlDialect {}.get_next_precedence(parser)
    }
    fn supports_filter_during_aggregation(&self) -> bool {
        PostgreSqlDialect {}.supports_filter_during_aggregation()
    }
    fn supports_group_by_expr(&self) -> bool {
        PostgreSqlDialect {}.supports_group_by_expr()
    }
    fn supports_alter_user_as_alter_role(&self) -> bool {
        PostgreSqlDialect {}.supports_alter_user_as_alter_role()
    }
    fn prec_value(&self, prec: Precedence) -> u8 {
        PostgreSqlDialect {}.prec_value(prec)
    }
    fn allow_extract_custom(&self) -> bool {
        PostgreSqlDialect {}.allow_extract_custom()
    }
    fn allow_extract_single_quotes(&self) -> bool {
        PostgreSqlDialect {}.allow_extract_single_quotes()
    }
    fn supports_create_index_with_clause(&self) -> bool {
        PostgreSqlDialect {}.supports_create_index_with_clause()
    }
    fn supports_explain_with_utility_options(&self) -> bool {
        PostgreSqlDialect {}.supports_explain_with_utility_options()
    }
    fn supports_listen_notify(&self) -> bool {
        PostgreSqlDialect {}.supports_listen_notify()
    }
    fn supports_exclude_constraint(&self) -> bool {
        PostgreSqlDialect {}.supports_exclude_constraint()
    }
    fn supports_factorial_operator(&self) -> bool {
        PostgreSqlDialect {}.supports_factorial_operator()
    }
    fn supports_bitwise_shift_operators(&self) -> bool {
        PostgreSqlDialect {}.supports_bitwise_shift_operators()
    }
    fn supports_comment_on(&self) -> bool {
        PostgreSqlDialect {}.supports_comment_on()
    }
    fn supports_load_extension(&self) -> bool {
        PostgreSqlDialect {}.supports_load_extension()
    }
    fn supports_named_fn_args_with_colon_operator(&self) -> bool {
        PostgreSqlDialect {}.supports_named_fn_args_with_colon_operator()
    }
    fn supports_named_fn_args_with_expr_name(&self) -> bool {
        PostgreSqlDialect {}.supports_named_fn_args_with_expr_name()
    }
    fn supports_empty_projections(&self) -> bool {
        PostgreSqlDialect {}.supports_empty_projections()
    }
    fn supports_nested_comments(&self) -> bool {
        PostgreSqlDialect {}.supports_nested_comments()
    }
    fn supports_string_escape_constant(&self) -> bool {
        PostgreSqlDialect {}.supports_string_escape_constant()
    }
    fn supports_numeric_literal_underscores(&self) -> bool {
        PostgreSqlDialect {}.supports_numeric_literal_underscores()
    }
    fn supports_array_typedef_with_brackets(&self) -> bool {
        PostgreSqlDialect {}.supports_array_typedef_with_brackets()
    }
    fn supports_geometric_types(&self) -> bool {
        PostgreSqlDialect {}.supports_geometric_types()
    }
    fn supports_order_by_using_operator(&self) -> bool {
        PostgreSqlDialect {}.supports_order_by_using_operator()
    }
    fn supports_set_names(&self) -> bool {
        PostgreSqlDialect {}.supports_set_names()
    }
    fn supports_alter_column_type_using(&self) -> bool {
        PostgreSqlDialect {}.supports_alter_column_type_using()
    }
    fn supports_left_associative_joins_without_parens(&self) -> bool {
        PostgreSqlDialect {}.supports_left_associative_joins_without_parens()
    }
    fn supports_notnull_operator(&self) -> bool {
        PostgreSqlDialect {}.supports_notnull_operator()
    }
    fn supports_interval_options(&self) -> bool {
        PostgreSqlDialect {}.supports_interval_options()
    }
    fn supports_insert_table_alias(&self) -> bool {
        PostgreSqlDialect {}.supports_insert_table_alias()
    }
    fn supports_create_table_like_parenthesized(&self) -> bool {
        PostgreSqlDialect {}.supports_create_table_like_parenthesized()
    }
    fn supports_select_wildcard_with_alias(&self) -> bool {
        PostgreSqlDialect {}.supports_select_wildcard_with_alias()
    }
    fn supports_comma_separated_trim(&self) -> bool {
        PostgreSqlDialect {}.supports_comma_separated_trim()
    }
    fn supports_xml_expressions(&self) -> bool {
        PostgreSqlDialect {}.supports_xml_expressions()
    }
    fn supports_aliased_function_args(&self) -> bool {
        PostgreSqlDialect {}.supports_aliased_function_args()
    }
    fn supports_comment_optimizer_hint(&self) -> bool {
        PostgreSqlDialect {}.supports_comment_optimizer_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of every `.slt` file under `sqllogictest/`: the
    /// lines after a `statement` or `query` header up to the `----` or the
    /// blank line that ends them.
    fn slt_statements() -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sqllogictest"
        ))];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|x| x != "slt") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut current: Option<String> = None;
                for line in text.lines() {
                    match current.as_mut() {
                        None => {
                            if line.starts_with("statement ") || line.starts_with("query ") {
                                current = Some(String::new());
                            }
                        }
                        Some(sql) => {
                            if line.trim().is_empty() || line.starts_with("----") {
                                out.push(std::mem::take(sql));
                                current = None;
                            } else {
                                sql.push_str(line);
                                sql.push('\n');
                            }
                        }
                    }
                }
                if let Some(sql) = current {
                    out.push(sql);
                }
            }
        }
        out
    }

    #[test]
    fn every_statement_parses_as_with_the_postgresql_dialect() {
        let statements = slt_statements();
        assert!(
            statements.len() > 1000,
            "found {} statements",
            statements.len()
        );
        let mut differ = Vec::new();
        for sql in &statements {
            let ours = Parser::parse_sql(&ArborDialect, sql);
            let theirs = Parser::parse_sql(&PostgreSqlDialect {}, sql);
            let same = match (&ours, &theirs) {
                (Ok(a), Ok(b)) => a == b,
                (Err(a), Err(b)) => a.to_string() == b.to_string(),
                _ => false,
            };
            if !same {
                differ.push(sql.clone());
            }
        }
        assert!(
            differ.is_empty(),
            "{} differ, first: {:?}",
            differ.len(),
            differ.first()
        );
    }

    #[test]
    fn literals_parse_to_values() {
        for (sql, want) in [
            ("SELECT 1", "SELECT 1"),
            ("SELECT 'a''b'", "SELECT 'a''b'"),
            ("SELECT NULL, TRUE, false", "SELECT NULL, true, false"),
            ("SELECT 1.5e3::numeric", "SELECT 1.5e3::NUMERIC"),
            ("SELECT 'x' || 'y'", "SELECT 'x' || 'y'"),
            ("SELECT DATE '2020-01-01'", "SELECT DATE '2020-01-01'"),
        ] {
            let parsed = Parser::parse_sql(&ArborDialect, sql).unwrap();
            assert_eq!(parsed[0].to_string(), want);
        }
    }
}
