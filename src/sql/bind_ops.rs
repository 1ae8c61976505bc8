//! Binding the text-matching operators that are not plain function calls:
//! `~`, `~*`, `!~`, `!~*` and `[NOT] SIMILAR TO … [ESCAPE …]`.
//!
//! ```text
//!   s ~* 'ab+'             -> Func(RegexMatch { case_insensitive, negated: false }, [s, 'ab+'])
//!   s NOT SIMILAR TO 'a%'  -> Func(SimilarTo { escape: None, negated: true }, [s, 'a%'])
//! ```
//!
//! Owns: operand coercion to text and 42883 for other operand types.
//! Never: matches (that is [`super::string_functions`]).

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value};

use super::bind::{Binder, Scope};
use super::coerce::{Category, category};
use super::expr::Expr;
use super::functions::Func;

fn text_like(t: &DataType) -> bool {
    category(t) == Category::String || *t == DataType::Unknown
}

impl Binder {
    fn text_operands(
        &mut self,
        left: &ast::Expr,
        right: &ast::Expr,
        symbol: &str,
        scope: &Scope,
    ) -> Result<(Expr, Expr)> {
        let l = self.bind_expr(left, scope)?;
        let r = self.bind_expr(right, scope)?;
        if !text_like(&l.ty()) || !text_like(&r.ty()) {
            return Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "operator does not exist: {} {symbol} {}",
                    l.ty().name(),
                    r.ty().name()
                ),
            )
            .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts."));
        }
        let l = self.coerce(l, &DataType::Text)?;
        let r = self.coerce(r, &DataType::Text)?;
        Ok((l, r))
    }

    /// `left ~ right` and its case-insensitive / negated forms.
    pub(super) fn bind_regex_op(
        &mut self,
        left: &ast::Expr,
        op: &ast::BinaryOperator,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        use ast::BinaryOperator as B;
        let (case_insensitive, negated, symbol) = match op {
            B::PGRegexMatch => (false, false, "~"),
            B::PGRegexIMatch => (true, false, "~*"),
            B::PGRegexNotMatch => (false, true, "!~"),
            _ => (true, true, "!~*"),
        };
        let (l, r) = self.text_operands(left, right, symbol, scope)?;
        Ok(Expr::Func {
            func: Func::RegexMatch {
                case_insensitive,
                negated,
            },
            args: vec![l, r],
            ty: DataType::Bool,
        })
    }

    /// `expr [NOT] SIMILAR TO pattern [ESCAPE e]` (the escape a literal of
    /// at most one character; empty means none).
    pub(super) fn bind_similar(
        &mut self,
        expr: &ast::Expr,
        pattern: &ast::Expr,
        escape: Option<&ast::Expr>,
        negated: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let (l, r) = self.text_operands(expr, pattern, "~", scope)?;
        let escape = match escape {
            None => None,
            Some(e) => match self.bind_expr(e, scope)? {
                Expr::Const {
                    value: Value::Text(s),
                    ..
                } => {
                    let mut chars = s.chars();
                    match (chars.next(), chars.next()) {
                        (None, _) => Some('\0'),
                        (Some(c), None) => Some(c),
                        _ => {
                            return Err(Error::new(SqlState("22025"), "invalid escape string")
                                .with_hint("Escape string must be empty or one character."));
                        }
                    }
                }
                Expr::Const {
                    value: Value::Null, ..
                } => {
                    return Ok(Expr::Const {
                        value: Value::Null,
                        ty: DataType::Bool,
                    });
                }
                _ => return Err(Error::unsupported("a non-literal SIMILAR TO escape")),
            },
        };
        Ok(Expr::Func {
            func: Func::SimilarTo { escape, negated },
            args: vec![l, r],
            ty: DataType::Bool,
        })
    }
}
