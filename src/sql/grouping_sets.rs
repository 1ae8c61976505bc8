//! `GROUP BY GROUPING SETS (…)`, `ROLLUP (…)`, `CUBE (…)` and the
//! `GROUPING(…)` function.
//!
//! ```text
//!   SELECT a, b, sum(c), grouping(a, b) FROM t GROUP BY ROLLUP (a, b)
//!
//!   sets: {a, b}, {a}, {}            keys of the query: a, b, then the set id
//!   Union All
//!   ├── Project [a, b, 0, sum]       <- Aggregate keys [a, b]
//!   ├── Project [a, NULL, 1, sum]    <- Aggregate keys [a]
//!   └── Project [NULL, NULL, 2, sum] <- Aggregate keys []
//!   grouping(a, b) = CASE set id WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 3 END
//! ```
//!
//! Owns: expanding a GROUP BY list into its grouping sets as PostgreSQL
//! does (a plain item is in every set, the sets of several items are
//! their cross product, duplicates are kept), the plan that aggregates
//! once per set, and GROUPING's bit masks (the leftmost argument is the
//! highest bit, set when the argument is not grouped in the row's set).
//! Never: accumulates (the sets' aggregates are ordinary
//! [`Plan::Aggregate`]s).

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Value};

use super::bind::{Binder, object_name};
use super::expr::{BinOp, Expr};
use super::plan::{AggCall, Plan, SetOpKind};

/// The GROUP BY of a query with grouping sets, as the binder keeps it.
#[derive(Debug, Clone)]
pub(super) struct GroupingSets {
    /// Each set: indexes into the query's distinct keys.
    pub(super) sets: Vec<Vec<usize>>,
    /// The key column that holds the row's set number (after the keys).
    pub(super) id_column: usize,
}

/// One GROUP BY item's sets, each a list of expressions.
type ItemSets<'a> = Vec<Vec<&'a ast::Expr>>;

/// Whether a GROUP BY list uses grouping sets at all.
pub(super) fn has_sets(items: &[ast::Expr]) -> bool {
    items.iter().any(|e| {
        matches!(
            e,
            ast::Expr::GroupingSets(_) | ast::Expr::Rollup(_) | ast::Expr::Cube(_)
        ) || matches!(e, ast::Expr::Tuple(t) if t.is_empty())
    })
}

/// A `rollup(…)` / `cube(…)` written inside GROUPING SETS parses as a call.
fn nested_call(e: &ast::Expr) -> Option<(&'static str, Vec<&ast::Expr>)> {
    let ast::Expr::Function(f) = e else {
        return None;
    };
    let name = object_name(&f.name).last().cloned().unwrap_or_default();
    let kind = match name.as_str() {
        "rollup" => "rollup",
        "cube" => "cube",
        _ => return None,
    };
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let mut args = Vec::with_capacity(list.args.len());
    for a in &list.args {
        match a {
            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => args.push(e),
            _ => return None,
        }
    }
    Some((kind, args))
}

/// `(a, b)` inside ROLLUP / CUBE is one unit of two expressions.
fn unit(e: &ast::Expr) -> Vec<&ast::Expr> {
    match e {
        ast::Expr::Tuple(items) => items.iter().collect(),
        ast::Expr::Nested(inner) => vec![inner.as_ref()],
        other => vec![other],
    }
}

fn rollup<'a>(units: Vec<Vec<&'a ast::Expr>>) -> ItemSets<'a> {
    (0..=units.len())
        .rev()
        .map(|n| units[..n].iter().flatten().copied().collect())
        .collect()
}

fn cube<'a>(units: Vec<Vec<&'a ast::Expr>>) -> Result<ItemSets<'a>> {
    if units.len() > 12 {
        return Err(Error::new(
            SqlState("54001"),
            "CUBE is limited to 12 elements",
        ));
    }
    let n = units.len();
    // PostgreSQL lists the full set first and the empty set last.
    let mut masks: Vec<u32> = (0..1u32 << n).rev().collect();
    masks.sort_by_key(|m| std::cmp::Reverse(m.count_ones()));
    Ok(masks
        .into_iter()
        .map(|m| {
            (0..n)
                .filter(|i| m & (1 << (n - 1 - i)) != 0)
                .flat_map(|i| units[i].iter().copied())
                .collect()
        })
        .collect())
}

/// The sets one GROUP BY item stands for.
fn item_sets(e: &ast::Expr) -> Result<ItemSets<'_>> {
    Ok(match e {
        ast::Expr::Tuple(t) if t.is_empty() => vec![Vec::new()],
        ast::Expr::Rollup(units) => rollup(units.iter().map(|u| u.iter().collect()).collect()),
        ast::Expr::Cube(units) => cube(units.iter().map(|u| u.iter().collect()).collect())?,
        ast::Expr::GroupingSets(sets) => {
            let mut out = Vec::new();
            for s in sets {
                // A set of one element may itself be ROLLUP / CUBE / ().
                if let [one] = s.as_slice() {
                    if let Some((kind, args)) = nested_call(one) {
                        let units = args.into_iter().map(unit).collect();
                        out.extend(if kind == "rollup" {
                            rollup(units)
                        } else {
                            cube(units)?
                        });
                        continue;
                    }
                    if matches!(one, ast::Expr::Tuple(t) if t.is_empty()) {
                        out.push(Vec::new());
                        continue;
                    }
                }
                out.push(s.iter().collect());
            }
            out
        }
        other => vec![vec![other]],
    })
}

/// The grouping sets of a GROUP BY list: the cross product of its items'
/// sets, in PostgreSQL's order.
pub(super) fn expand(items: &[ast::Expr]) -> Result<ItemSets<'_>> {
    let mut acc: ItemSets<'_> = vec![Vec::new()];
    for item in items {
        let sets = item_sets(item)?;
        let mut next = Vec::with_capacity(acc.len() * sets.len());
        for a in &acc {
            for s in &sets {
                let mut joined = a.clone();
                joined.extend(s.iter().copied());
                next.push(joined);
            }
        }
        acc = next;
        if acc.len() > 4096 {
            return Err(Error::new(
                SqlState("54001"),
                "too many grouping sets present (maximum 4096)",
            ));
        }
    }
    Ok(acc)
}

/// The plan of a query with grouping sets: one aggregation of `input` per
/// set, each padded to all keys (NULL where a key is not grouped), the set
/// number, then the aggregates; the sets' rows one after another.
pub(super) fn plan(input: Plan, keys: &[Expr], aggs: Vec<AggCall>, gs: &GroupingSets) -> Plan {
    let mut branches = Vec::with_capacity(gs.sets.len());
    for (number, set) in gs.sets.iter().enumerate() {
        let agg = Plan::Aggregate {
            input: Box::new(input.clone()),
            keys: set.iter().map(|&k| keys[k].clone()).collect(),
            aggs: aggs.clone(),
        };
        let mut exprs = Vec::with_capacity(keys.len() + 1 + aggs.len());
        for (k, key) in keys.iter().enumerate() {
            let ty = key.ty();
            exprs.push(match set.iter().position(|&x| x == k) {
                Some(index) => Expr::Column { index, ty },
                None => Expr::Const {
                    value: Value::Null,
                    ty,
                },
            });
        }
        exprs.push(Expr::Const {
            value: Value::Int4(number as i32),
            ty: DataType::Int4,
        });
        for (i, a) in aggs.iter().enumerate() {
            exprs.push(Expr::Column {
                index: set.len() + i,
                ty: a.ret.clone(),
            });
        }
        branches.push(Plan::Project {
            input: Box::new(agg),
            exprs,
        });
    }
    let mut it = branches.into_iter();
    let first = it.next().unwrap_or(Plan::Values {
        rows: Vec::new(),
        width: keys.len() + 1 + aggs.len(),
    });
    it.fold(first, |left, right| Plan::SetOp {
        kind: SetOpKind::Union,
        all: true,
        left: Box::new(left),
        right: Box::new(right),
    })
}

/// The placeholder GROUP BY expression of the set-number column: an
/// identifier no query can write.
pub(super) fn id_placeholder() -> ast::Expr {
    ast::Expr::Identifier(ast::Ident::new("\u{0}grouping set"))
}

fn not_grouping() -> Error {
    Error::new(
        SqlState::GROUPING_ERROR,
        "arguments to GROUPING must be grouping expressions of the associated query level",
    )
}

impl Binder {
    /// `GROUPING(a, …)`: an int4 bit mask of the arguments not grouped in
    /// the row's set (0 everywhere without grouping sets).
    pub(super) fn bind_grouping(&mut self, f: &ast::Function) -> Result<Expr> {
        if let Some(ctx) = self.agg_forbidden {
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                format!("grouping operations are not allowed in {ctx}"),
            ));
        }
        let args: Vec<&ast::Expr> = match &f.args {
            ast::FunctionArguments::List(list) if list.duplicate_treatment.is_none() => {
                let mut out = Vec::with_capacity(list.args.len());
                for a in &list.args {
                    match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e),
                        _ => return Err(not_grouping()),
                    }
                }
                out
            }
            _ => return Err(not_grouping()),
        };
        if args.len() > 31 {
            return Err(Error::new(
                SqlState("54023"),
                "GROUPING must have fewer than 32 arguments",
            ));
        }
        let first_arg = |b: &Binder| match args.first() {
            Some(a) => b.position_at(a, not_grouping()),
            None => not_grouping(),
        };
        let Some(st) = self.agg.as_ref() else {
            return Err(first_arg(self));
        };
        if st.in_agg {
            return Err(Error::new(
                SqlState::GROUPING_ERROR,
                "aggregate function calls cannot contain grouping operations",
            ));
        }
        if !st.strict || st.group_asts.is_empty() {
            return Err(first_arg(self));
        }
        let sets = st.grouping.clone();
        let mut keys = Vec::with_capacity(args.len());
        for a in &args {
            match self.group_key(a) {
                Some(Expr::Column { index, .. }) => keys.push(index),
                _ => return Err(self.position_at(a, not_grouping())),
            }
        }
        let mask = |set: &[usize]| -> i32 {
            keys.iter()
                .fold(0, |m, k| (m << 1) | i32::from(!set.contains(k)))
        };
        let Some(gs) = sets else {
            return Ok(Expr::Const {
                value: Value::Int4(0),
                ty: DataType::Int4,
            });
        };
        let id = Expr::Column {
            index: gs.id_column,
            ty: DataType::Int4,
        };
        let mut whens = Vec::with_capacity(gs.sets.len());
        for (number, set) in gs.sets.iter().enumerate() {
            let is = self.binary(
                BinOp::Eq,
                id.clone(),
                Expr::Const {
                    value: Value::Int4(number as i32),
                    ty: DataType::Int4,
                },
            )?;
            whens.push((
                is,
                Expr::Const {
                    value: Value::Int4(mask(set)),
                    ty: DataType::Int4,
                },
            ));
        }
        Ok(Expr::Case {
            whens,
            otherwise: None,
            ty: DataType::Int4,
        })
    }
}

/// Whether `name` is `grouping` (the only grouping operation).
pub(super) fn is_grouping(name: &str) -> bool {
    name == "grouping"
}
