//! Row constructors in comparisons: `(a, b) = (1, 2)`,
//! `ROW(a, b) < ROW(c, d)`, `(a, b) IN ((1, 2), (3, 4))`,
//! `(a, b) IN (SELECT x, y …)`, `(a, b) op ANY/ALL (SELECT …)`,
//! `(a, b) IS [NOT] DISTINCT FROM (c, d)`.
//!
//! ```text
//!   (a, b, c) < (x, y, z)
//!   a < x OR (a = x AND (b < y OR (b = y AND c < z)))
//! ```
//!
//! Owns: PostgreSQL's row-comparison semantics (make_row_comparison_op):
//! `=` is the AND of the pairs' `=`, `<>` the OR of their `<>`, and the
//! ordering operators compare left to right, deciding at the first pair
//! that is unequal or NULL (the expansion above gives exactly that under
//! three-valued logic), with PostgreSQL's 42601 / 42804 / 42883 errors.
//! A row against a subquery compares each of the subquery's rows with the
//! outer row's values passed in as correlated slots.
//! Never: has a row (record) type; a row outside a comparison is 0A000.

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value};

use super::bind::{Binder, Scope, object_name};
use super::expr::{BinOp, Expr, SubPlan};
use super::plan::Plan;

/// The fields of a row constructor: `(a, b)` or `ROW(a, …)`.
pub(super) fn row_items(e: &ast::Expr) -> Option<Vec<&ast::Expr>> {
    match e {
        ast::Expr::Tuple(items) => Some(items.iter().collect()),
        ast::Expr::Nested(inner) => row_items(inner),
        ast::Expr::Function(f)
            if f.over.is_none()
                && object_name(&f.name).last().map(String::as_str) == Some("row") =>
        {
            match &f.args {
                ast::FunctionArguments::None => Some(Vec::new()),
                ast::FunctionArguments::List(list) => {
                    let mut out = Vec::with_capacity(list.args.len());
                    for a in &list.args {
                        match a {
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e),
                            _ => return None,
                        }
                    }
                    Some(out)
                }
                ast::FunctionArguments::Subquery(_) => None,
            }
        }
        _ => None,
    }
}

fn unequal() -> Error {
    Error::new(
        SqlState::SYNTAX_ERROR,
        "unequal number of entries in row expressions",
    )
}

impl Binder {
    fn bind_items(&mut self, items: &[&ast::Expr], scope: &Scope) -> Result<Vec<Expr>> {
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            out.push(self.bind_expr(e, scope)?);
        }
        Ok(out)
    }

    /// `left op right` where one side is a row constructor.
    pub(super) fn bind_row_binary(
        &mut self,
        op: BinOp,
        left: &ast::Expr,
        right: &ast::Expr,
        scope: &Scope,
    ) -> Result<Expr> {
        let l = match row_items(left) {
            Some(items) => self.bind_items(&items, scope)?,
            None => return Err(self.not_a_row(op, left, true, scope)),
        };
        let r = match right {
            ast::Expr::Subquery(q) => {
                if !op.is_comparison() {
                    return Err(self.row_op_error(op, &l, &l));
                }
                self.bind_multi_column_subquery(q, l.len(), scope)?
            }
            _ => match row_items(right) {
                Some(items) => self.bind_items(&items, scope)?,
                None => return Err(self.not_a_row(op, right, false, scope)),
            },
        };
        self.row_compare(op, l, r)
    }

    /// `(1, 2) = 1`: PostgreSQL's 42883 for `record = integer`.
    fn not_a_row(&mut self, op: BinOp, scalar: &ast::Expr, left: bool, scope: &Scope) -> Error {
        let ty = match self.bind_expr(scalar, scope) {
            Ok(e) => e.ty(),
            Err(e) => return e,
        };
        let (l, r) = if left {
            (ty.name().to_string(), "record".to_string())
        } else {
            ("record".to_string(), ty.name().to_string())
        };
        Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("operator does not exist: {l} {} {r}", op.symbol()),
        )
        .with_hint(
            "No operator matches the given name and argument types. You might need to add explicit type casts.",
        )
    }

    fn row_op_error(&mut self, op: BinOp, l: &[Expr], r: &[Expr]) -> Error {
        match (l.first(), r.first()) {
            (Some(a), Some(b)) => match self.binary(op, a.clone(), b.clone()) {
                Ok(e) if e.ty() != DataType::Bool => Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "row comparison operator must yield type boolean, not type {}",
                        e.ty().name()
                    ),
                ),
                Ok(_) => Error::new(
                    SqlState::UNDEFINED_FUNCTION,
                    format!(
                        "could not determine interpretation of row comparison operator {}",
                        op.symbol()
                    ),
                ),
                Err(e) => e,
            },
            _ => unequal(),
        }
    }

    /// Compares two rows of bound fields.
    pub(super) fn row_compare(&mut self, op: BinOp, l: Vec<Expr>, r: Vec<Expr>) -> Result<Expr> {
        if l.len() != r.len() {
            return Err(unequal());
        }
        if !op.is_comparison() {
            return Err(self.row_op_error(op, &l, &r));
        }
        if l.is_empty() {
            return Err(Error::unsupported("comparing empty rows"));
        }
        let mut pairs = Vec::with_capacity(l.len());
        for (a, b) in l.into_iter().zip(r) {
            pairs.push((a, b));
        }
        match op {
            BinOp::Eq | BinOp::NotEq => {
                let mut acc: Option<Expr> = None;
                for (a, b) in pairs {
                    let c = self.binary(op, a, b)?;
                    acc = Some(match acc {
                        None => c,
                        Some(p) if op == BinOp::Eq => Expr::And(Box::new(p), Box::new(c)),
                        Some(p) => Expr::Or(Box::new(p), Box::new(c)),
                    });
                }
                acc.ok_or_else(unequal)
            }
            _ => {
                let strict = match op {
                    BinOp::Lt | BinOp::LtEq => BinOp::Lt,
                    _ => BinOp::Gt,
                };
                let mut rev = pairs.into_iter().rev();
                let Some((a, b)) = rev.next() else {
                    return Err(unequal());
                };
                let mut acc = self.binary(op, a, b)?;
                for (a, b) in rev {
                    let lt = self.binary(strict, a.clone(), b.clone())?;
                    let eq = self.binary(BinOp::Eq, a, b)?;
                    acc = Expr::Or(
                        Box::new(lt),
                        Box::new(Expr::And(Box::new(eq), Box::new(acc))),
                    );
                }
                Ok(acc)
            }
        }
    }

    /// `(a, b) IS [NOT] DISTINCT FROM (c, d)`.
    pub(super) fn bind_row_distinct(
        &mut self,
        left: &ast::Expr,
        right: &ast::Expr,
        negated: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let (Some(li), Some(ri)) = (row_items(left), row_items(right)) else {
            return Err(Error::unsupported(
                "IS DISTINCT FROM between a row and a value",
            ));
        };
        let l = self.bind_items(&li, scope)?;
        let r = self.bind_items(&ri, scope)?;
        if l.len() != r.len() {
            return Err(unequal());
        }
        let mut acc: Option<Expr> = None;
        for (a, b) in l.into_iter().zip(r) {
            let (left, right) = match self.binary(BinOp::Eq, a, b)? {
                Expr::Binary { left, right, .. } => (left, right),
                other => return Err(Error::internal(format!("= bound to {other:?}"))),
            };
            let d = Expr::IsDistinct {
                left,
                right,
                negated,
            };
            acc = Some(match acc {
                None => d,
                Some(p) if negated => Expr::And(Box::new(p), Box::new(d)),
                Some(p) => Expr::Or(Box::new(p), Box::new(d)),
            });
        }
        acc.ok_or_else(unequal)
    }

    /// `(a, b) [NOT] IN ((1, 2), …)`.
    pub(super) fn bind_row_in_list(
        &mut self,
        items: &[&ast::Expr],
        list: &[ast::Expr],
        negated: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_items(items, scope)?;
        let mut acc: Option<Expr> = None;
        for item in list {
            let Some(fields) = row_items(item) else {
                return Err(self.not_a_row(BinOp::Eq, item, false, scope));
            };
            let r = self.bind_items(&fields, scope)?;
            let eq = self.row_compare(BinOp::Eq, x.clone(), r)?;
            acc = Some(match acc {
                None => eq,
                Some(prev) => Expr::Or(Box::new(prev), Box::new(eq)),
            });
        }
        let acc =
            acc.ok_or_else(|| Error::new(SqlState::SYNTAX_ERROR, "syntax error at or near \")\""))?;
        Ok(if negated {
            Expr::Not(Box::new(acc))
        } else {
            acc
        })
    }

    /// `(a, b) op ANY/ALL (SELECT x, y …)` (`IN` is `= ANY`): each of the
    /// subquery's rows is compared with the outer row's values, passed in
    /// as slots after the subquery's own correlated values; the comparison
    /// feeds `true = ANY/ALL`, which has the NULL semantics of a row
    /// comparison against a set (PostgreSQL's ROWCOMPARE sublink).
    pub(super) fn bind_row_quantified(
        &mut self,
        items: &[&ast::Expr],
        op: BinOp,
        subquery: &ast::Query,
        all: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_items(items, scope)?;
        let (sub, mut correlated) = self.bind_subplan_pub(subquery, scope)?;
        if sub.columns.len() > x.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "subquery has too many columns",
            ));
        }
        if sub.columns.len() < x.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "subquery has too few columns",
            ));
        }
        let base = correlated.len();
        let mut outer = Vec::with_capacity(x.len());
        for (i, e) in x.into_iter().enumerate() {
            outer.push(Expr::Outer {
                slot: base + i,
                ty: e.ty(),
            });
            correlated.push(e);
        }
        let inner = sub
            .columns
            .iter()
            .enumerate()
            .map(|(index, c)| Expr::Column {
                index,
                ty: c.data_type.clone(),
            })
            .collect();
        let cmp = self.row_compare(op, outer, inner)?;
        let plan = Plan::Project {
            input: Box::new(sub.plan),
            exprs: vec![cmp],
        };
        Ok(Expr::Quantified {
            expr: Box::new(Expr::Const {
                value: Value::Bool(true),
                ty: DataType::Bool,
            }),
            op: BinOp::Eq,
            all,
            sub: Box::new(SubPlan::new(plan, correlated)),
        })
    }
}
