//! Column pruning: tells each table scan which of its columns the plan
//! above it reads, so the scan decodes only those (the others come out
//! NULL and are never looked at).
//!
//! ```text
//!   Aggregate sum(c5 * c6)                  needs {5, 6, 10} of the scan's 16
//!   └── Filter c10 >= date '1994-01-01'
//!       └── Scan lineitem          ──prune──▶ Scan lineitem needed [5, 6, 10]
//! ```
//!
//! Runs top-down after the optimizer: a node is given the set of its
//! output columns its parent reads and works out the set of its input
//! columns it needs for them (its own expressions' columns, plus the
//! passed-through ones). Nodes whose column use is not spelled out here
//! (windows, set operations, DISTINCT, locking, LATERAL, recursion) need
//! all their inputs' columns, which is always correct.
//!
//! A semi or anti join's build side, whose columns nothing above reads,
//! is also cut down to the ones its keys and residual use (a Project), so
//! the rows it holds are narrow.
//!
//! Owns: that analysis. Invariant: every column a node reads is in the
//! set its input is given, so pruning never changes an answer; a subtree
//! left unpruned (`needed: None`) is always correct.

use super::expr::Expr;
use super::join::HashJoin;
use super::optimizer::{children_mut, columns_of, output_types};
use super::plan::Plan;

/// Prunes `plan`, whose every output column is read.
pub fn prune(plan: Plan) -> Plan {
    let w = plan.width();
    prune_node(plan, vec![true; w])
}

fn mark(need: &mut [bool], e: &Expr) {
    let mut cols = Vec::new();
    columns_of(e, &mut cols);
    for c in cols {
        if let Some(n) = need.get_mut(c) {
            *n = true;
        }
    }
}

/// Prunes the plans of the subqueries inside `e` (each reads all of its
/// own output).
fn prune_subqueries(e: &mut Expr) {
    if super::stack_depth::check().is_err() {
        return;
    }
    match e {
        Expr::Subquery { sub, .. } | Expr::Exists { sub, .. } | Expr::Quantified { sub, .. } => {
            let p = std::mem::replace(
                &mut sub.plan,
                Plan::Values {
                    rows: vec![],
                    width: 0,
                },
            );
            sub.plan = prune(p);
        }
        _ => {}
    }
    for c in children_mut(e) {
        prune_subqueries(c);
    }
}

fn all(p: Plan) -> Plan {
    prune(p)
}

fn prune_node(plan: Plan, need: Vec<bool>) -> Plan {
    // Too deep for the stack: left unpruned, which is always correct (the
    // executor then fails the statement with 54001 before going deeper).
    if super::stack_depth::check().is_err() {
        return plan;
    }
    match plan {
        Plan::Scan {
            table,
            access,
            with_key,
            needed: _,
        } => {
            let ncols = table.def.columns.len();
            let mask: Vec<bool> = (0..ncols)
                .map(|i| need.get(i).copied().unwrap_or(true))
                .collect();
            let needed = if mask.iter().all(|&b| b) {
                None
            } else {
                Some(mask)
            };
            Plan::Scan {
                table,
                access,
                with_key,
                needed,
            }
        }
        Plan::Filter {
            input,
            mut predicate,
        } => {
            prune_subqueries(&mut predicate);
            let mut n = need;
            n.resize(input.width(), false);
            mark(&mut n, &predicate);
            Plan::Filter {
                input: Box::new(prune_node(*input, n)),
                predicate,
            }
        }
        Plan::Project { input, mut exprs } => {
            let mut n = vec![false; input.width()];
            for e in &mut exprs {
                prune_subqueries(e);
                mark(&mut n, e);
            }
            Plan::Project {
                input: Box::new(prune_node(*input, n)),
                exprs,
            }
        }
        Plan::Aggregate {
            input,
            mut keys,
            mut aggs,
        } => {
            let mut n = vec![false; input.width()];
            for k in &mut keys {
                prune_subqueries(k);
                mark(&mut n, k);
            }
            for a in &mut aggs {
                for e in &mut a.args {
                    prune_subqueries(e);
                    mark(&mut n, e);
                }
                if let Some(f) = &mut a.filter {
                    prune_subqueries(f);
                    mark(&mut n, f);
                }
                for o in &mut a.order {
                    prune_subqueries(&mut o.expr);
                    mark(&mut n, &o.expr);
                }
            }
            Plan::Aggregate {
                input: Box::new(prune_node(*input, n)),
                keys,
                aggs,
            }
        }
        Plan::Sort { input, keys } => {
            let mut n = need;
            n.resize(input.width(), false);
            for k in &keys {
                if let Some(x) = n.get_mut(k.column) {
                    *x = true;
                }
            }
            Plan::Sort {
                input: Box::new(prune_node(*input, n)),
                keys,
            }
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let mut n = need;
            n.resize(input.width(), false);
            Plan::Limit {
                input: Box::new(prune_node(*input, n)),
                limit,
                offset,
            }
        }
        Plan::HashJoin(mut j) => {
            let lw = j.left.width();
            let rw = j.right.width();
            let mut ln = vec![false; lw];
            let mut rn = vec![false; rw];
            for (i, &b) in need.iter().enumerate() {
                if !b {
                    continue;
                }
                if i < lw {
                    ln[i] = true;
                } else if !j.kind.left_only() && i - lw < rw {
                    rn[i - lw] = true;
                }
            }
            for k in &mut j.left_keys {
                prune_subqueries(k);
                mark(&mut ln, k);
            }
            for k in &mut j.right_keys {
                prune_subqueries(k);
                mark(&mut rn, k);
            }
            if let Some(r) = &mut j.residual {
                prune_subqueries(r);
                split_mark(r, lw, &mut ln, &mut rn);
            }
            let left = std::mem::replace(&mut j.left, empty());
            j.left = prune_node(left, ln);
            let right = std::mem::replace(&mut j.right, empty());
            let right = prune_node(right, rn.clone());
            j.right = if j.kind.left_only() {
                narrow_build(&mut j, right, &rn)
            } else {
                right
            };
            Plan::HashJoin(j)
        }
        Plan::Join {
            kind,
            left,
            right,
            mut on,
        } => {
            let lw = left.width();
            let rw = right.width();
            let mut ln = vec![false; lw];
            let mut rn = vec![false; rw];
            for (i, &b) in need.iter().enumerate() {
                if b && i < lw {
                    ln[i] = true;
                } else if b && i - lw < rw {
                    rn[i - lw] = true;
                }
            }
            if let Some(p) = &mut on {
                prune_subqueries(p);
                split_mark(p, lw, &mut ln, &mut rn);
            }
            Plan::Join {
                kind,
                left: Box::new(prune_node(*left, ln)),
                right: Box::new(prune_node(*right, rn)),
                on,
            }
        }
        // Everything else reads all of its inputs' columns.
        other => other.map_inputs(all),
    }
}

/// The build side of a semi or anti join cut down to the columns its keys
/// and residual read (`keep`), which are remapped to match: its rows are
/// hashed and held for the whole probe and nothing above the join sees
/// them, so the columns pruned to NULL need not be held either (TPC-H
/// Q21 holds 600k lineitem rows twice: 2 of 16 columns each).
fn narrow_build(j: &mut HashJoin, right: Plan, keep: &[bool]) -> Plan {
    let kept = keep.iter().filter(|&&k| k).count();
    if kept == 0 || kept == keep.len() {
        return right;
    }
    let Some(types) = output_types(&right) else {
        return right;
    };
    if types.len() != keep.len() {
        return right;
    }
    let mut at = vec![usize::MAX; keep.len()];
    let mut exprs = Vec::with_capacity(kept);
    for (i, ty) in types.into_iter().enumerate() {
        if keep[i] {
            at[i] = exprs.len();
            exprs.push(Expr::Column { index: i, ty });
        }
    }
    for k in &mut j.right_keys {
        k.map_columns(&mut |c| at.get(c).copied().unwrap_or(c));
    }
    let lw = j.left.width();
    if let Some(r) = &mut j.residual {
        r.map_columns(&mut |c| {
            if c < lw {
                c
            } else {
                at.get(c - lw).map_or(c, |&n| lw + n)
            }
        });
    }
    Plan::Project {
        input: Box::new(right),
        exprs,
    }
}

/// Marks the columns of `e` (over left ++ right) in the side they are of.
fn split_mark(e: &Expr, lw: usize, ln: &mut [bool], rn: &mut [bool]) {
    let mut cols = Vec::new();
    columns_of(e, &mut cols);
    for c in cols {
        if c < lw {
            if let Some(x) = ln.get_mut(c) {
                *x = true;
            }
        } else if let Some(x) = rn.get_mut(c - lw) {
            *x = true;
        }
    }
}

fn empty() -> Plan {
    Plan::Values {
        rows: vec![],
        width: 0,
    }
}
