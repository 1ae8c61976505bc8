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
use super::join::HashJoinKind;
use super::optimizer::{children_mut, columns_of, output_types, repeatable};
use super::plan::Plan;

/// Prunes `plan`, whose every output column is read (so its layout is
/// unchanged).
pub fn prune(plan: Plan) -> Plan {
    let w = plan.width();
    prune_node(plan, vec![true; w]).0
}

/// Where each of a node's original output columns is in its pruned
/// output ([`DROPPED`] if it is not there).
type Map = Vec<usize>;

/// A column a pruned node no longer outputs.
const DROPPED: usize = usize::MAX;

fn identity(width: usize) -> Map {
    (0..width).collect()
}

/// Rewrites the columns of `e` through `map` (a column nothing maps stays
/// as it is: it was not read, or the caller marked it needed).
fn remap(e: &mut Expr, map: &[usize]) {
    e.map_columns(&mut |c| match map.get(c) {
        Some(&n) if n != DROPPED => n,
        _ => c,
    });
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

/// Prunes `plan` given which of its output columns are read (`need`, one
/// per column): returns the pruned plan, which outputs at least the needed
/// columns, in their order, and where each original column went.
fn prune_node(plan: Plan, need: Vec<bool>) -> (Plan, Map) {
    // Too deep for the stack: left unpruned, which is always correct (the
    // executor then fails the statement with 54001 before going deeper).
    if super::stack_depth::check().is_err() {
        let w = plan.width();
        return (plan, identity(w));
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
            let mut map = Vec::with_capacity(ncols + 1);
            let mut at = 0;
            for &keep in &mask {
                map.push(if keep { at } else { DROPPED });
                at += usize::from(keep);
            }
            if with_key {
                // The row key, which locking and DML read, always stays.
                map.push(at);
            }
            let needed = if mask.iter().all(|&b| b) {
                None
            } else {
                Some(mask)
            };
            let plan = Plan::Scan {
                table,
                access,
                with_key,
                needed,
            };
            (plan, map)
        }
        Plan::Filter {
            input,
            mut predicate,
        } => {
            prune_subqueries(&mut predicate);
            let mut n = need;
            n.resize(input.width(), false);
            mark(&mut n, &predicate);
            let (input, map) = prune_node(*input, n);
            remap(&mut predicate, &map);
            let plan = Plan::Filter {
                input: Box::new(input),
                predicate,
            };
            (plan, map)
        }
        Plan::Project { input, exprs } => {
            let mut kept = Vec::with_capacity(exprs.len());
            let mut map = Vec::with_capacity(exprs.len());
            for (i, mut e) in exprs.into_iter().enumerate() {
                // Left out only without calls (they may be volatile, as
                // nextval or random) or subqueries: nothing else changes.
                if !need.get(i).copied().unwrap_or(true) && repeatable(&e) {
                    map.push(DROPPED);
                    continue;
                }
                prune_subqueries(&mut e);
                map.push(kept.len());
                kept.push(e);
            }
            let mut n = vec![false; input.width()];
            for e in &kept {
                mark(&mut n, e);
            }
            let (input, imap) = prune_node(*input, n);
            for e in &mut kept {
                remap(e, &imap);
            }
            let plan = Plan::Project {
                input: Box::new(input),
                exprs: kept,
            };
            (plan, map)
        }
        Plan::Aggregate {
            input,
            mut keys,
            mut aggs,
        } => {
            let mut n = vec![false; input.width()];
            let each = |e: &mut Expr, n: &mut Vec<bool>| {
                prune_subqueries(e);
                mark(n, e);
            };
            for k in &mut keys {
                each(k, &mut n);
            }
            for a in &mut aggs {
                for e in &mut a.args {
                    each(e, &mut n);
                }
                if let Some(f) = &mut a.filter {
                    each(f, &mut n);
                }
                for o in &mut a.order {
                    each(&mut o.expr, &mut n);
                }
            }
            let (input, imap) = prune_node(*input, n);
            for k in &mut keys {
                remap(k, &imap);
            }
            for a in &mut aggs {
                for e in &mut a.args {
                    remap(e, &imap);
                }
                if let Some(f) = &mut a.filter {
                    remap(f, &imap);
                }
                for o in &mut a.order {
                    remap(&mut o.expr, &imap);
                }
            }
            let w = keys.len() + aggs.len();
            let plan = Plan::Aggregate {
                input: Box::new(input),
                keys,
                aggs,
            };
            (plan, identity(w))
        }
        Plan::Sort { input, mut keys } => {
            let mut n = need;
            n.resize(input.width(), false);
            for k in &keys {
                if let Some(x) = n.get_mut(k.column) {
                    *x = true;
                }
            }
            let (input, map) = prune_node(*input, n);
            for k in &mut keys {
                if let Some(&c) = map.get(k.column)
                    && c != DROPPED
                {
                    k.column = c;
                }
            }
            let plan = Plan::Sort {
                input: Box::new(input),
                keys,
            };
            (plan, map)
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let mut n = need;
            n.resize(input.width(), false);
            let (input, map) = prune_node(*input, n);
            let plan = Plan::Limit {
                input: Box::new(input),
                limit,
                offset,
            };
            (plan, map)
        }
        Plan::HashJoin(mut j) => {
            let lw = j.left.width();
            let rw = j.right.width();
            let (mut ln, mut rn) = split_need(&need, lw, rw, j.kind.left_only());
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
            // Only the side that is hashed and held is cut down to exactly
            // its needed columns; the probe side's rows move on as they are.
            let build_left = j.build_left && j.kind == HashJoinKind::Inner;
            let left = std::mem::replace(&mut j.left, empty());
            let (left, lmap) = narrow(left, &ln, build_left);
            let right = std::mem::replace(&mut j.right, empty());
            let (right, rmap) = narrow(right, &rn, !build_left);
            let joined = joined_map(&lmap, &rmap, left.width());
            for k in &mut j.left_keys {
                remap(k, &lmap);
            }
            for k in &mut j.right_keys {
                remap(k, &rmap);
            }
            if let Some(r) = &mut j.residual {
                remap(r, &joined);
            }
            j.left = left;
            j.right = right;
            let map = if j.kind.left_only() { lmap } else { joined };
            (Plan::HashJoin(j), map)
        }
        Plan::Join {
            kind,
            left,
            right,
            mut on,
        } => {
            let lw = left.width();
            let rw = right.width();
            let (mut ln, mut rn) = split_need(&need, lw, rw, false);
            if let Some(p) = &mut on {
                prune_subqueries(p);
                split_mark(p, lw, &mut ln, &mut rn);
            }
            let (left, lmap) = prune_node(*left, ln);
            let (right, rmap) = prune_node(*right, rn);
            let map = joined_map(&lmap, &rmap, left.width());
            if let Some(p) = &mut on {
                remap(p, &map);
            }
            let plan = Plan::Join {
                kind,
                left: Box::new(left),
                right: Box::new(right),
                on,
            };
            (plan, map)
        }
        // Everything else reads all of its inputs' columns.
        other => {
            let w = other.width();
            (other.map_inputs(all), identity(w))
        }
    }
}

/// A join's `need` (over left ++ right) split into each side's.
fn split_need(need: &[bool], lw: usize, rw: usize, left_only: bool) -> (Vec<bool>, Vec<bool>) {
    let mut ln = vec![false; lw];
    let mut rn = vec![false; rw];
    for (i, &b) in need.iter().enumerate() {
        if !b {
            continue;
        }
        if i < lw {
            ln[i] = true;
        } else if !left_only && i - lw < rw {
            rn[i - lw] = true;
        }
    }
    (ln, rn)
}

/// The map of a joined row (left ++ right) from its sides' maps, the
/// pruned left side `lw2` wide.
fn joined_map(lmap: &[usize], rmap: &[usize], lw2: usize) -> Map {
    let mut map = lmap.to_vec();
    map.extend(
        rmap.iter()
            .map(|&c| if c == DROPPED { DROPPED } else { lw2 + c }),
    );
    map
}

/// A hash join's input pruned to `need`; the build side (`build`) then
/// cut down to exactly the needed columns (a Project) when the pruned
/// plan still outputs others (a filter's, an aggregate's): its rows are
/// hashed and held for the whole probe, so the columns nothing reads are
/// not held. TPC-H Q21 holds 600k lineitem rows twice: 2 of 16 columns
/// each.
fn narrow(plan: Plan, need: &[bool], build: bool) -> (Plan, Map) {
    let (plan, map) = prune_node(plan, need.to_vec());
    if !build {
        return (plan, map);
    }
    let kept = need.iter().filter(|&&k| k).count();
    let width = plan.width();
    if kept == 0 || kept == width {
        return (plan, map);
    }
    let Some(types) = output_types(&plan) else {
        return (plan, map);
    };
    if types.len() != width {
        return (plan, map);
    }
    let mut exprs = Vec::with_capacity(kept);
    let mut out = vec![DROPPED; map.len()];
    for (orig, &c) in map.iter().enumerate() {
        if need.get(orig).copied().unwrap_or(false)
            && let Some(ty) = types.get(c)
        {
            out[orig] = exprs.len();
            exprs.push(Expr::Column {
                index: c,
                ty: ty.clone(),
            });
        }
    }
    let plan = Plan::Project {
        input: Box::new(plan),
        exprs,
    };
    (plan, out)
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
