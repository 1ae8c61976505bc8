//! The planner's rewrites of a bound plan: predicate pushdown, join
//! ordering, hash joins, and subqueries turned into joins.
//!
//! ```text
//!   Filter a.x = b.x AND b.y = 3 AND EXISTS (… c.k = a.k …)
//!   └── Join (cross)                        Project (original column order)
//!       ├── Scan a           ──optimize──▶  └── Hash Semi Join  a.k = c.k
//!       └── Scan b                              ├── Hash Join  a.x = b.x   (build: the smaller)
//!                                               │   ├── Scan a
//!                                               │   └── Filter b.y = 3 ── Scan b (key access)
//!                                               └── Scan c
//! ```
//!
//! A tree of inner joins and the filters over it is flattened into leaves
//! and conjuncts. Conjuncts over one leaf filter it (and choose its access
//! path); the others join leaves, greedily: from the smallest leaf, add
//! the leaf whose join with the tree so far is estimated smallest
//! ([`super::stats`]), as a hash join on its equality conjuncts (a nested
//! loop when there are none). Subqueries in conjuncts become joins where
//! that keeps the answer:
//!   - `[NOT] EXISTS (… WHERE inner = outer …)`: semi / anti join;
//!   - `x IN (subquery)`: semi join; `x NOT IN (uncorrelated)`: the
//!     NULL-aware anti join ([`super::join::HashJoinKind::NotIn`]);
//!   - `x op (SELECT agg … WHERE inner = outer)` with an aggregate that is
//!     NULL over no rows (not count): a join with the subquery grouped by
//!     its correlation keys (a missing group is NULL, and `x op NULL` is
//!     never true, as no match is).
//!
//! Owns: which rewrites are valid. Never: evaluates.
//! Invariant: the rewritten plan returns the same rows (as a multiset).

use std::sync::Arc;

use crate::types::{DataType, Value};

use super::aggregate::AggFunc;
use super::expr::{BinOp, Expr, SubPlan};
use super::join::{HashJoin, HashJoinKind};
use super::plan::{JoinKind, Plan};
use super::scan::{Access, choose_access};
use super::stats::{self, Estimator};

/// Joins of at most this many leaves try a greedy order from every leaf
/// (n starts of n² steps each); larger ones start from the smallest leaf.
const GREEDY_STARTS_MAX_LEAVES: usize = 12;

/// A join of a tree with a table is an index nested loop when the table
/// has more than this many times the tree's estimated rows (and its key
/// or an index starts with a join column): one key lookup per tree row
/// then reads less than hashing the whole table.
const INDEX_LOOP_FACTOR: f64 = 10.0;

/// What the planner may use.
pub struct Options {
    pub enable_hashjoin: bool,
    /// Table statistics by table name (from ANALYZE).
    pub stats: stats::StatsSource,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            enable_hashjoin: true,
            stats: Arc::new(|_| None),
        }
    }
}

/// The planner's options for a statement: its settings and the
/// statistics of `shared`'s tables.
pub fn options(
    shared: &super::Shared,
    settings: &dyn Fn(&str) -> crate::error::Result<String>,
) -> Options {
    let shared = shared.clone();
    Options {
        enable_hashjoin: settings("enable_hashjoin").map_or(true, |v| v != "off"),
        stats: Arc::new(move |t| shared.stats().get(t)),
    }
}

/// Plans a bound query for execution.
pub fn plan(
    plan: Plan,
    shared: &super::Shared,
    settings: &dyn Fn(&str) -> crate::error::Result<String>,
) -> crate::error::Result<Plan> {
    optimize(plan, &options(shared, settings))
}

/// The rewrites, then column pruning. Fails only with 54001, when the
/// plan nests too deeply for the stack ([`super::stack_depth`]).
pub fn optimize(plan: Plan, opts: &Options) -> crate::error::Result<Plan> {
    let o = Optimizer {
        opts,
        est: Estimator {
            stats: &*opts.stats,
        },
        too_deep: std::cell::Cell::new(false),
    };
    let plan = o.opt(fold_plan(plan));
    if o.too_deep.get() {
        return Err(super::stack_depth::exceeded());
    }
    Ok(super::prune::prune(plan))
}

struct Optimizer<'a> {
    opts: &'a Options,
    est: Estimator<'a>,
    /// Set when a recursion stopped short of the stack's end: the plan is
    /// then only partly rewritten and the statement fails with 54001.
    too_deep: std::cell::Cell<bool>,
}

// ---------------------------------------------------------------------
// Expression helpers

/// The direct sub-expressions of `e` evaluated in `e`'s row (a subquery's
/// correlated values, never the expressions inside its plan).
pub fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Const { .. } | Expr::Param { .. } | Expr::Column { .. } | Expr::Outer { .. } => {
            vec![]
        }
        Expr::Cast { expr, .. }
        | Expr::Negate { expr }
        | Expr::Not(expr)
        | Expr::IsNull { expr, .. }
        | Expr::IsBool { expr, .. } => vec![expr],
        Expr::Binary { left, right, .. }
        | Expr::IsDistinct { left, right, .. }
        | Expr::And(left, right)
        | Expr::Or(left, right) => vec![left, right],
        Expr::Like { expr, pattern, .. } => vec![expr, pattern],
        Expr::Case {
            whens, otherwise, ..
        } => {
            let mut v: Vec<&Expr> = Vec::new();
            for (c, r) in whens {
                v.push(c);
                v.push(r);
            }
            if let Some(o) = otherwise {
                v.push(o);
            }
            v
        }
        Expr::Coalesce { args, .. } | Expr::MinMax { args, .. } | Expr::Func { args, .. } => {
            args.iter().collect()
        }
        Expr::Subquery { sub, .. } | Expr::Exists { sub, .. } => sub.correlated.iter().collect(),
        Expr::Quantified { expr, sub, .. } => {
            let mut v: Vec<&Expr> = vec![expr];
            v.extend(sub.correlated.iter());
            v
        }
    }
}

/// Mutable [`children`].
pub fn children_mut(e: &mut Expr) -> Vec<&mut Expr> {
    match e {
        Expr::Const { .. } | Expr::Param { .. } | Expr::Column { .. } | Expr::Outer { .. } => {
            vec![]
        }
        Expr::Cast { expr, .. }
        | Expr::Negate { expr }
        | Expr::Not(expr)
        | Expr::IsNull { expr, .. }
        | Expr::IsBool { expr, .. } => vec![expr],
        Expr::Binary { left, right, .. }
        | Expr::IsDistinct { left, right, .. }
        | Expr::And(left, right)
        | Expr::Or(left, right) => vec![left, right],
        Expr::Like { expr, pattern, .. } => vec![expr, pattern],
        Expr::Case {
            whens, otherwise, ..
        } => {
            let mut v: Vec<&mut Expr> = Vec::new();
            for (c, r) in whens {
                v.push(c);
                v.push(r);
            }
            if let Some(o) = otherwise {
                v.push(o);
            }
            v
        }
        Expr::Coalesce { args, .. } | Expr::MinMax { args, .. } | Expr::Func { args, .. } => {
            args.iter_mut().collect()
        }
        Expr::Subquery { sub, .. } | Expr::Exists { sub, .. } => {
            sub.correlated.iter_mut().collect()
        }
        Expr::Quantified { expr, sub, .. } => {
            let mut v: Vec<&mut Expr> = vec![expr];
            v.extend(sub.correlated.iter_mut());
            v
        }
    }
}

/// The columns of the row `e` reads.
pub fn columns_of(e: &Expr, out: &mut Vec<usize>) {
    if let Expr::Column { index, .. } = e {
        out.push(*index);
    }
    for c in children(e) {
        columns_of(c, out);
    }
}

/// Whether `e` reads an enclosing query's value.
fn uses_outer(e: &Expr) -> bool {
    matches!(e, Expr::Outer { .. }) || children(e).into_iter().any(uses_outer)
}

/// Whether `e` has a subquery (evaluated per row: keep it out of keys).
fn has_subquery(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Subquery { .. } | Expr::Exists { .. } | Expr::Quantified { .. }
    ) || children(e).into_iter().any(has_subquery)
}

/// Replaces `Outer { slot }` by `values[slot]` (expressions over the
/// enclosing row, which come first in the joined row).
fn substitute_outer(e: &mut Expr, values: &[Expr]) {
    if let Expr::Outer { slot, .. } = e
        && let Some(v) = values.get(*slot)
    {
        *e = v.clone();
        return;
    }
    for c in children_mut(e) {
        substitute_outer(c, values);
    }
}

fn shift(e: &mut Expr, by: usize) {
    e.map_columns(&mut |i| i + by);
}

fn remap(e: &mut Expr, map: &dyn Fn(usize) -> usize) {
    e.map_columns(&mut |i| map(i));
}

/// `a AND b AND …` as a list.
pub fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::And(a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        other => out.push(other),
    }
}

fn and_all(es: Vec<Expr>) -> Option<Expr> {
    super::expr::balanced(es, Expr::And)
}

/// Whether equality of `ty` is the equality of [`super::execute::key_part`]
/// (so a hash join on it finds what `=` finds).
fn hashable(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Bool
            | DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Numeric(_)
            | DataType::Text
            | DataType::Varchar(_)
            | DataType::Date
            | DataType::Timestamp
            | DataType::Timestamptz
            | DataType::Uuid
            | DataType::Bytea
            | DataType::Oid
    )
}

/// `a = b` as its two operands when a hash join may use it.
fn equality(e: &Expr) -> Option<(&Expr, &Expr)> {
    match e {
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } if hashable(&left.ty()) && left.ty() == right.ty() => Some((left, right)),
        _ => None,
    }
}

/// Every expression a plan node holds directly (not its inputs').
fn node_exprs(p: &Plan) -> Option<Vec<&Expr>> {
    Some(match p {
        Plan::Scan { access, .. } => match access {
            Access::Full => vec![],
            Access::Key(k) => {
                let mut v: Vec<&Expr> = k.eq.iter().collect();
                if let Some((e, _)) = &k.lower {
                    v.push(e);
                }
                if let Some((e, _)) = &k.upper {
                    v.push(e);
                }
                v
            }
        },
        Plan::Values { rows, .. } => rows.iter().flatten().collect(),
        Plan::Filter { predicate, .. } => vec![predicate],
        Plan::Project { exprs, .. } => exprs.iter().collect(),
        Plan::Join { on, .. } => on.iter().collect(),
        Plan::Aggregate { keys, aggs, .. } => {
            let mut v: Vec<&Expr> = keys.iter().collect();
            for a in aggs {
                v.extend(a.args.iter());
                v.extend(a.filter.iter());
                v.extend(a.order.iter().map(|o| &o.expr));
            }
            v
        }
        Plan::Window { calls, .. } => {
            let mut v: Vec<&Expr> = Vec::new();
            for c in calls {
                v.extend(c.args.iter());
                v.extend(c.partition.iter());
                v.extend(c.order.iter().map(|o| &o.expr));
                if let super::window::WindowFunc::Aggregate(a) = &c.func {
                    v.extend(a.args.iter());
                    v.extend(a.filter.iter());
                    v.extend(a.order.iter().map(|o| &o.expr));
                }
            }
            v
        }
        Plan::Limit { limit, offset, .. } => limit.iter().chain(offset.iter()).collect(),
        Plan::HashJoin(j) => j
            .left_keys
            .iter()
            .chain(j.right_keys.iter())
            .chain(j.residual.iter())
            .collect(),
        Plan::Distinct { .. } | Plan::Unique { .. } | Plan::Sort { .. } | Plan::SetOp { .. } => {
            vec![]
        }
        Plan::LockRows { .. }
        | Plan::FunctionScan { .. }
        | Plan::ProjectSet { .. }
        | Plan::RecursiveUnion { .. }
        | Plan::WorkTable { .. }
        | Plan::Lateral { .. } => return None,
    })
}

fn inputs(p: &Plan) -> Vec<&Plan> {
    match p {
        Plan::Scan { .. }
        | Plan::Values { .. }
        | Plan::FunctionScan { .. }
        | Plan::WorkTable { .. } => vec![],
        Plan::RecursiveUnion {
            anchor, recursive, ..
        } => vec![anchor, recursive],
        Plan::SetOp { left, right, .. }
        | Plan::Join { left, right, .. }
        | Plan::Lateral { left, right, .. } => vec![left, right],
        Plan::ProjectSet { input, .. } => vec![input],
        Plan::HashJoin(j) => vec![&j.left, &j.right],
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Aggregate { input, .. }
        | Plan::Window { input, .. }
        | Plan::Distinct { input }
        | Plan::Unique { input, .. }
        | Plan::Sort { input, .. }
        | Plan::LockRows { input, .. }
        | Plan::Limit { input, .. } => vec![input],
    }
}

/// Whether anything in `p` reads an enclosing query's value (conservative:
/// true when unsure).
fn plan_uses_outer(p: &Plan) -> bool {
    match node_exprs(p) {
        None => true,
        Some(es) => es.into_iter().any(uses_outer) || inputs(p).into_iter().any(plan_uses_outer),
    }
}

/// The column types of a plan's rows, where they can be told.
pub fn output_types(p: &Plan) -> Option<Vec<DataType>> {
    Some(match p {
        Plan::Scan {
            table,
            with_key,
            needed,
            ..
        } => {
            let mut t = table.types();
            if let Some(m) = needed {
                let mut i = 0;
                t.retain(|_| {
                    i += 1;
                    m.get(i - 1).copied().unwrap_or(true)
                });
            }
            if *with_key {
                t.push(DataType::Bytea);
            }
            t
        }
        Plan::Values { rows, width } => match rows.first() {
            Some(r) if r.len() == *width => r.iter().map(|e| e.ty()).collect(),
            _ if *width == 0 => vec![],
            _ => return None,
        },
        Plan::Project { exprs, .. } => exprs.iter().map(|e| e.ty()).collect(),
        Plan::Aggregate { keys, aggs, .. } => keys
            .iter()
            .map(|e| e.ty())
            .chain(aggs.iter().map(|a| a.ret.clone()))
            .collect(),
        Plan::Window { input, calls } => {
            let mut t = output_types(input)?;
            t.extend(calls.iter().map(|c| c.ret.clone()));
            t
        }
        Plan::Join { left, right, .. } => {
            let mut t = output_types(left)?;
            t.extend(output_types(right)?);
            t
        }
        Plan::HashJoin(j) => {
            let mut t = output_types(&j.left)?;
            if !j.kind.left_only() {
                t.extend(output_types(&j.right)?);
            }
            t
        }
        Plan::SetOp { left, .. } => output_types(left)?,
        Plan::LockRows { input, .. } => output_types(input)?,
        Plan::FunctionScan { .. }
        | Plan::ProjectSet { .. }
        | Plan::Lateral { .. }
        | Plan::RecursiveUnion { .. }
        | Plan::WorkTable { .. } => return None,
        Plan::Filter { input, .. }
        | Plan::Distinct { input }
        | Plan::Unique { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. } => output_types(input)?,
    })
}

// ---------------------------------------------------------------------
// The rewrites

/// A correlated aggregate subquery grouped by its keys: its plan (keys,
/// then the value), the outer key expressions with their types, the
/// value's type.
type Grouped = (Plan, Vec<(Expr, DataType)>, DataType);

/// A subquery's plan split at its correlation: the uncorrelated input,
/// the `outer = inner` key pairs, the other correlated conjuncts.
type Split = (Plan, Vec<(Expr, Expr)>, Option<Expr>);

/// A leaf of a flattened join tree.
struct Leaf {
    plan: Plan,
    /// Where its columns start in the original row.
    offset: usize,
    width: usize,
}

impl Leaf {
    /// Whether `e` reads columns, and only this leaf's.
    fn holds(&self, e: &Expr) -> bool {
        let mut cols = Vec::new();
        columns_of(e, &mut cols);
        !cols.is_empty()
            && cols
                .iter()
                .all(|&c| c >= self.offset && c < self.offset + self.width)
    }
}

/// A subquery conjunct turned into a join with the row of the query.
struct SemiJoin {
    kind: HashJoinKind,
    right: Plan,
    /// Over the query's row (original layout).
    left_keys: Vec<Expr>,
    right_keys: Vec<Expr>,
    /// Over (query's row ++ right row).
    residual: Option<Expr>,
}

impl Optimizer<'_> {
    /// Whether the stack is too full to recurse further (then noted).
    fn stack_full(&self) -> bool {
        let full = super::stack_depth::check().is_err();
        if full {
            self.too_deep.set(true);
        }
        full
    }

    fn opt(&self, plan: Plan) -> Plan {
        if self.stack_full() {
            return plan;
        }
        match plan {
            Plan::Filter { .. }
            | Plan::Join {
                kind: JoinKind::Inner,
                ..
            } => self.join_tree(plan),
            Plan::Join {
                kind,
                left,
                right,
                on,
            } => self.outer_join(kind, self.opt(*left), self.opt(*right), on),
            Plan::Project { input, mut exprs } => {
                for e in &mut exprs {
                    self.opt_subqueries(e);
                }
                Plan::Project {
                    input: Box::new(self.opt(*input)),
                    exprs,
                }
            }
            Plan::Aggregate {
                input,
                mut keys,
                mut aggs,
            } => {
                for e in &mut keys {
                    self.opt_subqueries(e);
                }
                for a in &mut aggs {
                    for e in &mut a.args {
                        self.opt_subqueries(e);
                    }
                }
                Plan::Aggregate {
                    input: Box::new(self.opt(*input)),
                    keys,
                    aggs,
                }
            }
            other => other.map_inputs(|p| self.opt(p)),
        }
    }

    /// Optimizes the plans of the subqueries in `e`.
    fn opt_subqueries(&self, e: &mut Expr) {
        if self.stack_full() {
            return;
        }
        match e {
            Expr::Subquery { sub, .. } | Expr::Exists { sub, .. } => self.opt_subplan(sub),
            Expr::Quantified { sub, .. } => self.opt_subplan(sub),
            _ => {}
        }
        for c in children_mut(e) {
            self.opt_subqueries(c);
        }
    }

    fn opt_subplan(&self, sub: &mut SubPlan) {
        let plan = std::mem::replace(
            &mut sub.plan,
            Plan::Values {
                rows: vec![],
                width: 0,
            },
        );
        sub.plan = self.opt(plan);
    }

    /// Flattens inner joins and filters into leaves and conjuncts.
    fn flatten(&self, plan: Plan, offset: usize, leaves: &mut Vec<Leaf>, conj: &mut Vec<Expr>) {
        if self.stack_full() {
            let width = plan.width();
            leaves.push(Leaf {
                plan,
                offset,
                width,
            });
            return;
        }
        match plan {
            Plan::Join {
                kind: JoinKind::Inner,
                left,
                right,
                on,
            } => {
                let lw = left.width();
                self.flatten(*left, offset, leaves, conj);
                self.flatten(*right, offset + lw, leaves, conj);
                if let Some(on) = on {
                    let mut cs = Vec::new();
                    conjuncts(on, &mut cs);
                    for mut c in cs {
                        shift(&mut c, offset);
                        conj.push(c);
                    }
                }
            }
            Plan::Filter { input, predicate } => {
                self.flatten(*input, offset, leaves, conj);
                let mut cs = Vec::new();
                conjuncts(predicate, &mut cs);
                for mut c in cs {
                    shift(&mut c, offset);
                    conj.push(c);
                }
            }
            other => {
                let width = other.width();
                leaves.push(Leaf {
                    plan: self.opt(other),
                    offset,
                    width,
                });
            }
        }
    }

    fn join_tree(&self, plan: Plan) -> Plan {
        let width = plan.width();
        let types = output_types(&plan);
        let mut leaves = Vec::new();
        let mut conj = Vec::new();
        self.flatten(plan, 0, &mut leaves, &mut conj);
        let conj = factor_ors(conj, &leaves);
        let Some(types) = types.filter(|t| t.len() == width) else {
            return self.rebuild_in_order(leaves, conj);
        };
        // Subqueries that become joins.
        let mut semis: Vec<(SemiJoin, Option<Expr>)> = Vec::new();
        let mut rest = Vec::new();
        for mut c in conj {
            if self.opts.enable_hashjoin {
                // [NOT] EXISTS kept as written too: per outer row by key
                // may beat the join (decided below).
                let written = matches!(c, Expr::Exists { .. } | Expr::Not(_)).then(|| c.clone());
                match self.as_semi_join(c, width) {
                    Ok(s) => {
                        semis.push((s, written));
                        continue;
                    }
                    Err(back) => c = back,
                }
                match self.as_aggregate_join(c, width + extra_width(&leaves, width)) {
                    Ok((leaf, keys, cmp)) => {
                        leaves.push(leaf);
                        rest.extend(keys);
                        rest.push(cmp);
                        continue;
                    }
                    Err(back) => c = back,
                }
            }
            self.opt_subqueries(&mut c);
            rest.push(c);
        }
        // Semi joins whose query columns are one leaf's may apply to that
        // leaf (decided below).
        let mut global_semis = Vec::new();
        let mut leaf_semis = Vec::new();
        for (s, written) in semis {
            let mut cols = Vec::new();
            for k in &s.left_keys {
                columns_of(k, &mut cols);
            }
            if let Some(r) = &s.residual {
                let mut rc = Vec::new();
                columns_of(r, &mut rc);
                cols.extend(rc.into_iter().filter(|&c| c < width));
            }
            let owner = leaves.iter().position(|l| {
                cols.iter()
                    .all(|&c| c >= l.offset && c < l.offset + l.width)
            });
            match owner {
                Some(i) if !cols.is_empty() => leaf_semis.push((i, s, written)),
                _ => global_semis.push(s),
            }
        }
        let total = leaves
            .iter()
            .map(|l| l.offset + l.width)
            .max()
            .unwrap_or(0)
            .max(width);
        // A semi or anti join of one leaf's rows goes where fewer rows
        // reach it: on the leaf, or after the inner joins when they leave
        // fewer rows than the leaf has (TPC-H Q21: lineitem's EXISTS and
        // NOT EXISTS after its join with one nation's suppliers, not over
        // all of lineitem).
        let joined_rows = if leaf_semis.is_empty() || leaves.len() < 2 {
            f64::INFINITY
        } else {
            let trial: Vec<Leaf> = leaves
                .iter()
                .map(|l| Leaf {
                    plan: l.plan.clone(),
                    offset: l.offset,
                    width: l.width,
                })
                .collect();
            let (tree, _) = self.order_joins(trial, rest.clone(), total);
            self.est.rows(&tree)
        };
        // A leaf's rows under the conjuncts that are its own filters.
        let filtered_rows = |leaf: &Leaf, rest: &[Expr]| -> f64 {
            let local: Vec<Expr> = rest
                .iter()
                .filter(|c| !has_subquery(c) && leaf.holds(c))
                .map(|c| {
                    let mut c = c.clone();
                    remap(&mut c, &|x| x - leaf.offset);
                    c
                })
                .collect();
            self.est.rows(&filter(leaf.plan.clone(), local))
        };
        for (i, s, written) in leaf_semis {
            let probe_rows = filtered_rows(&leaves[i], &rest);
            let leaf = &mut leaves[i];
            // Few rows asking a big table that its key or an index finds by
            // the correlation (TPC-H Q4: a quarter's orders, each looking
            // for its late lineitems): the subquery per row, by key.
            if let Some(mut c) = written
                && self.lookup_beats_hash(&s, probe_rows)
            {
                self.opt_subqueries(&mut c);
                rest.push(c);
                continue;
            }
            if joined_rows < probe_rows {
                global_semis.push(s);
                continue;
            }
            let plan = std::mem::replace(
                &mut leaf.plan,
                Plan::Values {
                    rows: vec![],
                    width: 0,
                },
            );
            leaf.plan = apply_semi(plan, s, leaf.offset, leaf.width, width);
        }
        let mut all_types = types;
        for l in &leaves {
            if l.offset >= width {
                match output_types(&l.plan) {
                    Some(t) => all_types.extend(t),
                    None => {
                        return Plan::Values {
                            rows: vec![],
                            width: 0,
                        };
                    }
                }
            }
        }
        let (tree, layout) = self.order_joins(leaves, rest, total);
        // layout[c] = where original column c is in `tree`.
        let mut tree = tree;
        for s in global_semis {
            tree = apply_semi_mapped(tree, s, &layout, width);
        }
        let exprs = (0..width)
            .map(|c| Expr::Column {
                index: layout[c],
                ty: all_types[c].clone(),
            })
            .collect::<Vec<_>>();
        if (0..width).all(|c| layout[c] == c) && tree.width() == width {
            tree
        } else {
            Plan::Project {
                input: Box::new(tree),
                exprs,
            }
        }
    }

    /// Without types the columns cannot be reordered: joins in the
    /// written order, filters pushed to the leaves they read.
    fn rebuild_in_order(&self, leaves: Vec<Leaf>, conj: Vec<Expr>) -> Plan {
        let mut plan: Option<Plan> = None;
        let mut pending: Vec<Expr> = conj
            .into_iter()
            .map(|mut c| {
                self.opt_subqueries(&mut c);
                c
            })
            .collect();
        let mut covered = 0;
        for leaf in leaves {
            let end = leaf.offset + leaf.width;
            let (mine, others): (Vec<Expr>, Vec<Expr>) = pending.into_iter().partition(|c| {
                let mut cols = Vec::new();
                columns_of(c, &mut cols);
                cols.iter().all(|&i| i < end)
            });
            pending = others;
            let next = match plan {
                None => filter(leaf.plan, mine),
                Some(p) => Plan::Join {
                    kind: JoinKind::Inner,
                    left: Box::new(p),
                    right: Box::new(leaf.plan),
                    on: and_all(mine),
                },
            };
            covered = end;
            plan = Some(choose_access(next));
        }
        let _ = covered;
        let plan = plan.unwrap_or(Plan::Values {
            rows: vec![vec![]],
            width: 0,
        });
        filter(plan, pending)
    }

    /// Greedy join order; returns the tree and where each original column
    /// (and each added leaf's) is in it.
    fn order_joins(&self, leaves: Vec<Leaf>, conj: Vec<Expr>, total: usize) -> (Plan, Vec<usize>) {
        let n = leaves.len();
        let spans: Vec<(usize, usize)> = leaves.iter().map(|l| (l.offset, l.width)).collect();
        let leaf_of = |c: usize| spans.iter().position(|&(o, w)| c >= o && c < o + w);
        // Each conjunct's leaves.
        let mut pending: Vec<(Expr, u128)> = Vec::new();
        let mut per_leaf: Vec<Vec<Expr>> = (0..n).map(|_| Vec::new()).collect();
        let mut constant: Vec<Expr> = Vec::new();
        for c in conj {
            let mut cols = Vec::new();
            columns_of(&c, &mut cols);
            let mut mask = 0u128;
            let mut ok = true;
            for col in cols {
                match leaf_of(col) {
                    Some(i) if i < 128 => mask |= 1 << i,
                    _ => ok = false,
                }
            }
            if !ok || mask == 0 {
                constant.push(c);
            } else if mask.count_ones() == 1 {
                let i = mask.trailing_zeros() as usize;
                let mut c = c;
                let off = leaves[i].offset;
                remap(&mut c, &|x| x - off);
                per_leaf[i].push(c);
            } else {
                pending.push((c, mask));
            }
        }
        let mut plans: Vec<Option<Plan>> = (0..n).map(|_| None).collect();
        let mut sizes = Vec::with_capacity(n);
        let mut leaves = leaves;
        for i in 0..n {
            let cs = std::mem::take(&mut per_leaf[i]);
            let plan = std::mem::replace(
                &mut leaves[i].plan,
                Plan::Values {
                    rows: vec![],
                    width: 0,
                },
            );
            let p = push_filter(plan, cs);
            sizes.push(self.est.rows(&p));
            plans[i] = Some(p);
        }
        // Start from the smallest leaf.
        let Some(smallest) = (0..n).min_by(|&a, &b| sizes[a].total_cmp(&sizes[b])) else {
            let plan = filter(
                Plan::Values {
                    rows: vec![vec![]],
                    width: 0,
                },
                constant,
            );
            return (plan, (0..total).collect());
        };
        // Each equality's sides: the leaves each reads, and the distinct
        // values of a side that is one leaf's column (infinite otherwise;
        // capped by the rows at hand when used).
        let side = |e: &Expr| -> u128 {
            let mut cols = Vec::new();
            columns_of(e, &mut cols);
            cols.iter()
                .fold(0u128, |m, &c| m | leaf_of(c).map_or(0, |i| 1 << i))
        };
        let raw_ndv = |e: &Expr, mask: u128| -> f64 {
            if mask.count_ones() != 1 {
                return f64::INFINITY;
            }
            let i = mask.trailing_zeros() as usize;
            let off = leaves[i].offset;
            let mut local = e.clone();
            remap(&mut local, &|x| x - off);
            plans[i]
                .as_ref()
                .map_or(f64::INFINITY, |p| self.est.ndv(p, &local, f64::INFINITY))
        };
        let eqs: Vec<Option<(u128, u128, f64, f64)>> = pending
            .iter()
            .map(|(c, _)| {
                let (a, b) = equality(c)?;
                let (ma, mb) = (side(a), side(b));
                Some((ma, mb, raw_ndv(a, ma), raw_ndv(b, mb)))
            })
            .collect();
        // Rows of joining leaf j to the leaves `in_tree` (`tree_rows` rows),
        // and whether an equality connects them. Several equalities to one
        // leaf multiply, but never below 1 / max(rows on either side): the
        // combined key has no more distinct values than either side rows
        // (TPC-H Q9's partsupp joins lineitem on both of its key columns).
        let estimate = |in_tree: u128, tree_rows: f64, j: usize| -> (f64, bool) {
            let mut key_sel = 1.0f64;
            let mut other_sel = 1.0f64;
            let mut connected = false;
            for (k, (_, mask)) in pending.iter().enumerate() {
                if mask & !(in_tree | 1 << j) != 0 || mask & (1 << j) == 0 {
                    continue;
                }
                if let Some((ma, mb, ra, rb)) = eqs[k]
                    && ((ma & !in_tree == 0 && mb == 1 << j)
                        || (mb & !in_tree == 0 && ma == 1 << j))
                {
                    connected = true;
                    let (rt, rl) = if mb == 1 << j { (ra, rb) } else { (rb, ra) };
                    let da = rt.min(tree_rows).max(1.0);
                    let db = rl.min(sizes[j]).max(1.0);
                    key_sel *= 1.0 / da.max(db);
                    continue;
                }
                other_sel *= 0.33;
            }
            if connected {
                key_sel = key_sel.max(1.0 / tree_rows.max(sizes[j]).max(1.0));
            }
            (
                (tree_rows * sizes[j] * key_sel * other_sel).max(1.0),
                connected,
            )
        };
        // Greedy from `start`: the next leaf is one an equality connects,
        // of the smallest result. Its order and cost (rows made plus the
        // rows hashed, twice as dear: what the executor spends).
        let greedy = |start: usize| -> (Vec<usize>, f64) {
            let mut in_tree: u128 = 1 << start;
            let mut tree_rows = sizes[start];
            let mut order = vec![start];
            let mut cost = 0.0;
            for _ in 1..n {
                let mut best: Option<(usize, f64, bool)> = None;
                for j in 0..n {
                    if in_tree & (1 << j) != 0 {
                        continue;
                    }
                    let (rows, connected) = estimate(in_tree, tree_rows, j);
                    let better = match best {
                        None => true,
                        Some((_, r, c)) => (connected && !c) || (connected == c && rows < r),
                    };
                    if better {
                        best = Some((j, rows, connected));
                    }
                }
                let Some((j, rows, _)) = best else { break };
                cost += rows + 2.0 * tree_rows.min(sizes[j]);
                tree_rows = rows;
                in_tree |= 1 << j;
                order.push(j);
            }
            (order, cost)
        };
        // Greedy from the smallest leaf can walk into the biggest tables
        // first (Q9: nation, supplier, then all of lineitem before part's
        // filter applies): with few leaves, every start is tried and the
        // cheapest kept (the smallest leaf's on a tie).
        let (mut order, mut best_cost) = greedy(smallest);
        if n <= GREEDY_STARTS_MAX_LEAVES {
            for start in (0..n).filter(|&s| s != smallest) {
                let (o, c) = greedy(start);
                if c < best_cost * 0.9 {
                    (order, best_cost) = (o, c);
                }
            }
        }
        let start = order[0];
        let mut layout = vec![usize::MAX; total];
        let place = |layout: &mut Vec<usize>, leaf: &Leaf, at: usize| {
            for k in 0..leaf.width {
                if let Some(slot) = layout.get_mut(leaf.offset + k) {
                    *slot = at + k;
                }
            }
        };
        let mut tree = plans[start].take().unwrap_or(Plan::Values {
            rows: vec![],
            width: 0,
        });
        let mut tree_rows = sizes[start];
        let mut tree_width = leaves[start].width;
        place(&mut layout, &leaves[start], 0);
        let mut in_tree: u128 = 1 << start;
        let mut used = vec![false; pending.len()];
        for &j in &order[1..] {
            let (rows, _) = estimate(in_tree, tree_rows, j);
            let right = plans[j].take().unwrap_or(Plan::Values {
                rows: vec![],
                width: 0,
            });
            let right_rows = sizes[j];
            let leaf = &leaves[j];
            // Conjuncts now covered: keys or residual, over (tree ++ leaf).
            let mut left_keys = Vec::new();
            let mut right_keys = Vec::new();
            let mut residual = Vec::new();
            let off = leaf.offset;
            let lw = leaf.width;
            let tw = tree_width;
            let map_joined = |layout: &Vec<usize>, x: usize| -> usize {
                if x >= off && x < off + lw {
                    tw + (x - off)
                } else {
                    layout.get(x).copied().unwrap_or(x)
                }
            };
            for (k, (c, mask)) in pending.iter().enumerate() {
                if used[k] || mask & !(in_tree | 1 << j) != 0 {
                    continue;
                }
                used[k] = true;
                if let Some((a, b)) = equality(c)
                    && !has_subquery(c)
                {
                    let mut ca = Vec::new();
                    columns_of(a, &mut ca);
                    let mut cb = Vec::new();
                    columns_of(b, &mut cb);
                    let in_leaf = |cs: &[usize]| {
                        !cs.is_empty() && cs.iter().all(|&x| x >= off && x < off + lw)
                    };
                    let in_tr = |cs: &[usize]| {
                        !cs.is_empty() && cs.iter().all(|&x| !(x >= off && x < off + lw))
                    };
                    let pair = if in_tr(&ca) && in_leaf(&cb) {
                        Some((a, b))
                    } else if in_tr(&cb) && in_leaf(&ca) {
                        Some((b, a))
                    } else {
                        None
                    };
                    if let Some((t, l)) = pair {
                        let mut t = t.clone();
                        remap(&mut t, &|x| layout.get(x).copied().unwrap_or(x));
                        let mut l = l.clone();
                        remap(&mut l, &|x| x - off);
                        left_keys.push(t);
                        right_keys.push(l);
                        continue;
                    }
                }
                let mut c = c.clone();
                remap(&mut c, &|x| map_joined(&layout, x));
                residual.push(c);
            }
            // Few tree rows into a big table whose key or index the join
            // keys lead: an index nested loop (a lookup per tree row).
            let keyed_inner = (!left_keys.is_empty()
                && self.opts.enable_hashjoin
                && tree_rows * INDEX_LOOP_FACTOR < right_rows)
                .then(|| keyed_lookup(&right, &left_keys, &right_keys))
                .flatten();
            tree = if let Some(inner) = keyed_inner {
                Plan::Lateral {
                    kind: JoinKind::Inner,
                    left: Box::new(tree),
                    right: Box::new(inner),
                    correlated: left_keys,
                    on: and_all(residual),
                }
            } else if !left_keys.is_empty() && self.opts.enable_hashjoin {
                Plan::HashJoin(Box::new(HashJoin {
                    kind: HashJoinKind::Inner,
                    left: tree,
                    right,
                    left_keys,
                    right_keys,
                    residual: and_all(residual),
                    build_left: tree_rows < right_rows,
                }))
            } else {
                let mut on = Vec::new();
                for (l, r) in left_keys.into_iter().zip(right_keys) {
                    let mut r = r;
                    shift(&mut r, tw);
                    let ty = DataType::Bool;
                    on.push(Expr::Binary {
                        op: BinOp::Eq,
                        left: Box::new(l),
                        right: Box::new(r),
                        ty,
                    });
                }
                on.extend(residual);
                Plan::Join {
                    kind: JoinKind::Inner,
                    left: Box::new(tree),
                    right: Box::new(right),
                    on: and_all(on),
                }
            };
            place(&mut layout, leaf, tw);
            tree_width += lw;
            tree_rows = rows;
            in_tree |= 1 << j;
        }
        // Anything left (cannot happen with every leaf joined) and constants.
        let mut tail = constant;
        for (k, (c, _)) in pending.into_iter().enumerate() {
            if !used[k] {
                tail.push(c);
            }
        }
        let tail = tail
            .into_iter()
            .map(|mut c| {
                remap(&mut c, &|x| layout.get(x).copied().unwrap_or(x));
                c
            })
            .collect();
        (filter(tree, tail), layout)
    }

    /// Whether a semi / anti join is better run as its subquery per probe
    /// row (`probe_rows` of them): under a tenth of the build side's rows,
    /// and the build side is a table whose primary key or an index starts
    /// with a correlation column, so each row's subquery reads by key.
    fn lookup_beats_hash(&self, s: &SemiJoin, probe_rows: f64) -> bool {
        let table = match &s.right {
            Plan::Scan { table, .. } => table,
            Plan::Filter { input, .. } => match &**input {
                Plan::Scan { table, .. } => table,
                _ => return false,
            },
            _ => return false,
        };
        let def = &table.def;
        let leads = |c: usize| {
            def.primary_key.first() == Some(&c)
                || def
                    .indexes
                    .iter()
                    .any(|ix| ix.columns.first().is_some_and(|k| k.column == c))
        };
        let keyed = s
            .right_keys
            .iter()
            .any(|k| matches!(k, Expr::Column { index, .. } if leads(*index)));
        keyed && probe_rows * INDEX_LOOP_FACTOR < self.est.rows(&s.right)
    }

    /// `[NOT] EXISTS`, `IN`, `NOT IN` as a join (the conjunct back if not).
    fn as_semi_join(&self, c: Expr, width: usize) -> Result<SemiJoin, Expr> {
        match c {
            Expr::Exists { sub, negated } => {
                self.exists_join(*sub, negated, width)
                    .map_err(|sub| Expr::Exists {
                        sub: Box::new(sub),
                        negated,
                    })
            }
            Expr::Not(inner) => match *inner {
                Expr::Exists { sub, negated } => {
                    self.exists_join(*sub, !negated, width).map_err(|sub| {
                        Expr::Not(Box::new(Expr::Exists {
                            sub: Box::new(sub),
                            negated,
                        }))
                    })
                }
                Expr::Quantified {
                    expr,
                    op: BinOp::Eq,
                    all: false,
                    sub,
                } if sub.correlated.is_empty() => match self.in_join(*expr, *sub, true, width) {
                    Ok(s) => Ok(s),
                    Err((expr, sub)) => Err(Expr::Not(Box::new(Expr::Quantified {
                        expr: Box::new(expr),
                        op: BinOp::Eq,
                        all: false,
                        sub: Box::new(sub),
                    }))),
                },
                other => Err(Expr::Not(Box::new(other))),
            },
            Expr::Quantified {
                expr,
                op: BinOp::Eq,
                all: false,
                sub,
            } => match self.in_join(*expr, *sub, false, width) {
                Ok(s) => Ok(s),
                Err((expr, sub)) => Err(Expr::Quantified {
                    expr: Box::new(expr),
                    op: BinOp::Eq,
                    all: false,
                    sub: Box::new(sub),
                }),
            },
            other => Err(other),
        }
    }

    #[allow(clippy::result_large_err)]
    fn exists_join(&self, sub: SubPlan, anti: bool, width: usize) -> Result<SemiJoin, SubPlan> {
        if sub.correlated.is_empty() {
            return Err(sub);
        }
        // EXISTS reads no columns: projections and DISTINCT do not matter.
        let mut core = &sub.plan;
        while let Plan::Project { input, .. } | Plan::Distinct { input } = core {
            core = input;
        }
        let Some((input, keys, residual)) = split_correlated(core, &sub.correlated, width) else {
            return Err(sub);
        };
        let (lk, rk) = keys.into_iter().unzip();
        Ok(SemiJoin {
            kind: if anti {
                HashJoinKind::Anti
            } else {
                HashJoinKind::Semi
            },
            right: self.opt(input),
            left_keys: lk,
            right_keys: rk,
            residual,
        })
    }

    #[allow(clippy::result_large_err)]
    fn in_join(
        &self,
        expr: Expr,
        sub: SubPlan,
        not: bool,
        width: usize,
    ) -> Result<SemiJoin, (Expr, SubPlan)> {
        let ty = expr.ty();
        let Plan::Project { input, exprs } = &sub.plan else {
            return Err((expr, sub));
        };
        let [key] = exprs.as_slice() else {
            return Err((expr, sub));
        };
        if !hashable(&ty) || key.ty() != ty || uses_outer(key) || has_subquery(&expr) {
            return Err((expr, sub));
        }
        let mut cols = Vec::new();
        columns_of(&expr, &mut cols);
        if cols.is_empty() {
            return Err((expr, sub));
        }
        if sub.correlated.is_empty() {
            if plan_uses_outer(input) {
                return Err((expr, sub));
            }
            return Ok(SemiJoin {
                kind: if not {
                    HashJoinKind::NotIn
                } else {
                    HashJoinKind::Semi
                },
                right: self.opt((**input).clone()),
                left_keys: vec![expr],
                right_keys: vec![key.clone()],
                residual: None,
            });
        }
        if not {
            return Err((expr, sub));
        }
        let Some((inner, keys, residual)) = split_correlated(input, &sub.correlated, width) else {
            return Err((expr, sub));
        };
        let (mut lk, mut rk): (Vec<Expr>, Vec<Expr>) = keys.into_iter().unzip();
        lk.insert(0, expr);
        rk.insert(0, key.clone());
        Ok(SemiJoin {
            kind: HashJoinKind::Semi,
            right: self.opt(inner),
            left_keys: lk,
            right_keys: rk,
            residual,
        })
    }

    /// `x op (SELECT agg(…) FROM … WHERE inner = outer …)` as a leaf (the
    /// subquery grouped by its correlation keys, at original offset `at`),
    /// the key equalities and the comparison, over the original row.
    fn as_aggregate_join(&self, c: Expr, at: usize) -> Result<(Leaf, Vec<Expr>, Expr), Expr> {
        let Expr::Binary {
            op,
            left,
            right,
            ty,
        } = c
        else {
            return Err(c);
        };
        let rebuild = |left: Box<Expr>, right: Box<Expr>| Expr::Binary {
            op,
            left,
            right,
            ty: ty.clone(),
        };
        if !op.is_comparison() {
            return Err(rebuild(left, right));
        }
        let (sub_on_right, sub, other) = match (&*left, &*right) {
            (
                _,
                Expr::Subquery {
                    sub, array: false, ..
                },
            ) if !has_subquery(&left) => (true, sub, &left),
            (
                Expr::Subquery {
                    sub, array: false, ..
                },
                _,
            ) if !has_subquery(&right) => (false, sub, &right),
            _ => return Err(rebuild(left, right)),
        };
        let _ = other;
        let Some((leaf_plan, outer_keys, value_ty)) = self.grouped_subquery(sub, at) else {
            return Err(rebuild(left, right));
        };
        let nkeys = outer_keys.len();
        let value = Expr::Column {
            index: at + nkeys,
            ty: value_ty,
        };
        let mut key_eqs = Vec::new();
        for (i, (k, kty)) in outer_keys.into_iter().enumerate() {
            key_eqs.push(Expr::Binary {
                op: BinOp::Eq,
                left: Box::new(k),
                right: Box::new(Expr::Column {
                    index: at + i,
                    ty: kty,
                }),
                ty: DataType::Bool,
            });
        }
        let cmp = if sub_on_right {
            rebuild(left, Box::new(value))
        } else {
            rebuild(Box::new(value), right)
        };
        let width = leaf_plan.width();
        Ok((
            Leaf {
                plan: leaf_plan,
                offset: at,
                width,
            },
            key_eqs,
            cmp,
        ))
    }

    /// The grouped form of a correlated scalar aggregate subquery: its
    /// plan (key columns, then the value), the outer key expressions with
    /// their types, and the value's type.
    fn grouped_subquery(&self, sub: &SubPlan, _at: usize) -> Option<Grouped> {
        if sub.correlated.is_empty() {
            return None;
        }
        let (value, agg) = match &sub.plan {
            Plan::Project { input, exprs } if exprs.len() == 1 => {
                (Some(exprs[0].clone()), &**input)
            }
            p @ Plan::Aggregate { .. } => (None, p),
            _ => return None,
        };
        let Plan::Aggregate { input, keys, aggs } = agg else {
            return None;
        };
        if !keys.is_empty() || aggs.is_empty() {
            return None;
        }
        if aggs.iter().any(|a| {
            matches!(a.func, AggFunc::Count | AggFunc::CountStar)
                || a.args.iter().any(uses_outer)
                || a.filter.as_ref().is_some_and(uses_outer)
                || a.order.iter().any(|o| uses_outer(&o.expr))
        }) {
            return None;
        }
        if value
            .as_ref()
            .is_some_and(|v| uses_outer(v) || has_subquery(v))
        {
            return None;
        }
        let (inner, keys, residual) = split_correlated(input, &sub.correlated, 0)?;
        if residual.is_some() || keys.is_empty() {
            return None;
        }
        let nkeys = keys.len();
        let mut outer_keys = Vec::new();
        let mut group = Vec::new();
        for (o, i) in keys {
            outer_keys.push((o, i.ty()));
            group.push(i);
        }
        let agg_plan = Plan::Aggregate {
            input: Box::new(self.opt(inner)),
            keys: group.clone(),
            aggs: aggs.clone(),
        };
        let mut exprs: Vec<Expr> = group
            .iter()
            .enumerate()
            .map(|(i, g)| Expr::Column {
                index: i,
                ty: g.ty(),
            })
            .collect();
        let value = match value {
            Some(mut v) => {
                shift(&mut v, nkeys);
                v
            }
            None => Expr::Column {
                index: nkeys,
                ty: aggs[0].ret.clone(),
            },
        };
        let value_ty = value.ty();
        exprs.push(value);
        Some((
            Plan::Project {
                input: Box::new(agg_plan),
                exprs,
            },
            outer_keys,
            value_ty,
        ))
    }

    /// An outer join: ON conjuncts over the inner side alone filter it,
    /// equalities become hash keys.
    fn outer_join(&self, kind: JoinKind, left: Plan, right: Plan, on: Option<Expr>) -> Plan {
        let lw = left.width();
        let mut cs = Vec::new();
        if let Some(on) = on {
            conjuncts(on, &mut cs);
        }
        let mut left_push = Vec::new();
        let mut right_push = Vec::new();
        let mut lk = Vec::new();
        let mut rk = Vec::new();
        let mut residual = Vec::new();
        for mut c in cs {
            self.opt_subqueries(&mut c);
            let mut cols = Vec::new();
            columns_of(&c, &mut cols);
            let all_left = !cols.is_empty() && cols.iter().all(|&x| x < lw);
            let all_right = !cols.is_empty() && cols.iter().all(|&x| x >= lw);
            if all_right && kind == JoinKind::Left && !has_subquery(&c) {
                remap(&mut c, &|x| x - lw);
                right_push.push(c);
                continue;
            }
            if all_left && kind == JoinKind::Right && !has_subquery(&c) {
                left_push.push(c);
                continue;
            }
            if let Some((a, b)) = equality(&c)
                && !has_subquery(&c)
            {
                let mut ca = Vec::new();
                columns_of(a, &mut ca);
                let mut cb = Vec::new();
                columns_of(b, &mut cb);
                let l = |v: &[usize]| !v.is_empty() && v.iter().all(|&x| x < lw);
                let r = |v: &[usize]| !v.is_empty() && v.iter().all(|&x| x >= lw);
                let pair = if l(&ca) && r(&cb) {
                    Some((a.clone(), b.clone()))
                } else if l(&cb) && r(&ca) {
                    Some((b.clone(), a.clone()))
                } else {
                    None
                };
                if let Some((x, mut y)) = pair {
                    remap(&mut y, &|i| i - lw);
                    lk.push(x);
                    rk.push(y);
                    continue;
                }
            }
            residual.push(c);
        }
        let left = push_filter(left, left_push);
        let right = push_filter(right, right_push);
        if lk.is_empty() || !self.opts.enable_hashjoin {
            let mut on = Vec::new();
            for (l, mut r) in lk.into_iter().zip(rk) {
                shift(&mut r, lw);
                on.push(Expr::Binary {
                    op: BinOp::Eq,
                    left: Box::new(l),
                    right: Box::new(r),
                    ty: DataType::Bool,
                });
            }
            on.extend(residual);
            return Plan::Join {
                kind,
                left: Box::new(left),
                right: Box::new(right),
                on: and_all(on),
            };
        }
        let kind = match kind {
            JoinKind::Inner => HashJoinKind::Inner,
            JoinKind::Left => HashJoinKind::Left,
            JoinKind::Right => HashJoinKind::Right,
            JoinKind::Full => HashJoinKind::Full,
        };
        Plan::HashJoin(Box::new(HashJoin {
            kind,
            left,
            right,
            left_keys: lk,
            right_keys: rk,
            residual: and_all(residual),
            build_left: false,
        }))
    }
}

/// The inner side of an index nested loop ([`Plan::Lateral`]): `right`
/// (a table, or a table under its filter, read in full and not reading an
/// enclosing query) with each right key equal to its left key as an outer
/// value, so the scan, run once per tree row, finds its rows through the
/// primary key or an index that starts with a key column. `None` if no
/// key or index does.
fn keyed_lookup(right: &Plan, left_keys: &[Expr], right_keys: &[Expr]) -> Option<Plan> {
    let plain_scan = |p: &Plan| {
        matches!(
            p,
            Plan::Scan {
                access: Access::Full,
                with_key: false,
                ..
            }
        )
    };
    let (scan, mut conj) = match right {
        p @ Plan::Scan { .. } if plain_scan(p) => (p.clone(), Vec::new()),
        Plan::Filter { input, predicate } if plain_scan(input) => {
            let mut cs = Vec::new();
            conjuncts(predicate.clone(), &mut cs);
            ((**input).clone(), cs)
        }
        _ => return None,
    };
    if plan_uses_outer(right) || left_keys.iter().any(has_subquery) {
        return None;
    }
    for (slot, (l, r)) in left_keys.iter().zip(right_keys).enumerate() {
        conj.push(Expr::Binary {
            op: BinOp::Eq,
            left: Box::new(r.clone()),
            right: Box::new(Expr::Outer { slot, ty: l.ty() }),
            ty: DataType::Bool,
        });
    }
    let inner = choose_access(Plan::Filter {
        input: Box::new(scan),
        predicate: and_all(conj)?,
    });
    // Keyed by a join key (not by a constant range of the table's own).
    let Plan::Filter { input, .. } = &inner else {
        return None;
    };
    match &**input {
        Plan::Scan {
            access: Access::Key(k),
            ..
        } if k.eq.first().is_some_and(uses_outer) => Some(inner),
        _ => None,
    }
}

/// The arms of `a OR b OR …`.
fn disjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Or(a, b) => {
            disjuncts(*a, out);
            disjuncts(*b, out);
        }
        other => out.push(other),
    }
}

/// Whether an expression may be evaluated once more, or not at all,
/// without changing anything but the work done: no subquery and no
/// function call (which may be volatile).
pub fn repeatable(e: &Expr) -> bool {
    !matches!(
        e,
        Expr::Func { .. } | Expr::Subquery { .. } | Expr::Exists { .. } | Expr::Quantified { .. }
    ) && children(e).into_iter().all(repeatable)
}

/// What makes two conjuncts of OR arms the same: their structure, with
/// `a = b` the same as `b = a`.
fn or_arm_key(e: &Expr) -> String {
    if let Expr::Binary {
        op: BinOp::Eq,
        left,
        right,
        ..
    } = e
    {
        let (l, r) = (format!("{left:?}"), format!("{right:?}"));
        return if l <= r {
            format!("Eq({l}, {r})")
        } else {
            format!("Eq({r}, {l})")
        };
    }
    format!("{e:?}")
}

/// OR conjuncts made useful to the join planner, as PostgreSQL's
/// canonicalize_qual and extract_restriction_or_clauses do:
///   - a conjunct every arm has is pulled out:
///     `(x AND a) OR (x AND b)` → `x AND (a OR b)` (TPC-H Q19's join key);
///   - for a leaf that every arm restricts, the OR of those restrictions is
///     added as a filter of that leaf, the whole OR staying as it was:
///     `(p.b = 1 AND l.q < 5) OR (p.b = 2 AND l.q > 9)` adds
///     `p.b = 1 OR p.b = 2` on p and `l.q < 5 OR l.q > 9` on l.
///
/// Both keep the answer: the pulled-out conjunct is true wherever the OR
/// is, and an added filter is implied by the OR it came from.
fn factor_ors(conj: Vec<Expr>, leaves: &[Leaf]) -> Vec<Expr> {
    let mut out = Vec::with_capacity(conj.len());
    for c in conj {
        if !matches!(c, Expr::Or(..)) || !repeatable(&c) {
            out.push(c);
            continue;
        }
        let mut arms_e = Vec::new();
        disjuncts(c, &mut arms_e);
        let mut arms: Vec<Vec<Expr>> = arms_e
            .into_iter()
            .map(|a| {
                let mut cs = Vec::new();
                conjuncts(a, &mut cs);
                cs
            })
            .collect();
        // Conjuncts of the first arm found in every other one.
        let key = or_arm_key;
        let mut common = Vec::new();
        if let Some((first, others)) = arms.split_first() {
            for c in first {
                let k = key(c);
                if others.iter().all(|a| a.iter().any(|x| key(x) == k))
                    && !common.iter().any(|x: &Expr| key(x) == k)
                {
                    common.push(c.clone());
                }
            }
        }
        if !common.is_empty() {
            let keys: Vec<String> = common.iter().map(key).collect();
            for a in &mut arms {
                a.retain(|x| !keys.contains(&key(x)));
            }
            out.extend(common);
            // An arm left with nothing is TRUE: so is the whole OR.
            if arms.iter().any(|a| a.is_empty()) {
                continue;
            }
        }
        // Each leaf's restriction, if every arm has one.
        for leaf in leaves {
            let per_arm: Vec<Vec<Expr>> = arms
                .iter()
                .map(|a| a.iter().filter(|x| leaf.holds(x)).cloned().collect())
                .collect();
            let every = per_arm.iter().all(|r: &Vec<Expr>| !r.is_empty());
            let whole = per_arm.iter().zip(&arms).all(|(r, a)| r.len() == a.len());
            if !every || whole {
                continue;
            }
            let ors: Vec<Expr> = per_arm.into_iter().filter_map(and_all).collect();
            if let Some(restriction) = super::expr::balanced(ors, Expr::Or) {
                out.push(restriction);
            }
        }
        let rebuilt: Vec<Expr> = arms.into_iter().filter_map(and_all).collect();
        if let Some(or) = super::expr::balanced(rebuilt, Expr::Or) {
            out.push(or);
        }
    }
    out
}

/// How far added leaves already reach past the original row.
fn extra_width(leaves: &[Leaf], width: usize) -> usize {
    leaves
        .iter()
        .map(|l| l.offset + l.width)
        .max()
        .unwrap_or(0)
        .saturating_sub(width)
}

fn filter(plan: Plan, conj: Vec<Expr>) -> Plan {
    match and_all(conj) {
        None => plan,
        Some(predicate) => Plan::Filter {
            input: Box::new(plan),
            predicate,
        },
    }
}

/// Filters `plan` by conjuncts over its own row, choosing a scan's access.
fn push_filter(plan: Plan, conj: Vec<Expr>) -> Plan {
    if conj.is_empty() {
        return plan;
    }
    match plan {
        Plan::Filter { input, predicate } => {
            let mut all = Vec::new();
            conjuncts(predicate, &mut all);
            all.extend(conj);
            push_filter(*input, all)
        }
        p @ Plan::Scan { .. } => choose_access(filter(p, conj)),
        // A semi or anti join's rows are some of its left input's rows,
        // column for column: the filter applies before the probe (TPC-H
        // Q21's `l_receiptdate > l_commitdate` under EXISTS / NOT EXISTS).
        Plan::HashJoin(mut j) if j.kind.left_only() => {
            let left = std::mem::replace(
                &mut j.left,
                Plan::Values {
                    rows: vec![],
                    width: 0,
                },
            );
            j.left = push_filter(left, conj);
            Plan::HashJoin(j)
        }
        other => filter(other, conj),
    }
}

/// The part of a correlated subquery's plan that does not read the
/// enclosing row, the equalities `outer expression = inner expression`
/// that tie it to that row, and the other conjuncts reading the row, over
/// (enclosing row of `width` columns ++ inner row). `None` if the outer
/// values are read anywhere but in the conjuncts of the top filter.
fn split_correlated(core: &Plan, correlated: &[Expr], width: usize) -> Option<Split> {
    let Plan::Filter { input, predicate } = core else {
        return None;
    };
    if plan_uses_outer(input) {
        return None;
    }
    let mut cs = Vec::new();
    conjuncts(predicate.clone(), &mut cs);
    let mut inner = Vec::new();
    let mut keys = Vec::new();
    let mut residual = Vec::new();
    for c in cs {
        if !uses_outer(&c) {
            inner.push(c);
            continue;
        }
        if let Some((a, b)) = equality(&c)
            && !has_subquery(&c)
        {
            let outer_only = |e: &Expr| {
                let mut cols = Vec::new();
                columns_of(e, &mut cols);
                cols.is_empty() && uses_outer(e)
            };
            let inner_only = |e: &Expr| {
                let mut cols = Vec::new();
                columns_of(e, &mut cols);
                !cols.is_empty() && !uses_outer(e)
            };
            let pair = if outer_only(a) && inner_only(b) {
                Some((a, b))
            } else if outer_only(b) && inner_only(a) {
                Some((b, a))
            } else {
                None
            };
            if let Some((o, i)) = pair {
                let mut o = o.clone();
                substitute_outer(&mut o, correlated);
                keys.push((o, i.clone()));
                continue;
            }
        }
        let mut c = c;
        shift(&mut c, width);
        substitute_outer(&mut c, correlated);
        residual.push(c);
    }
    if keys.is_empty() {
        return None;
    }
    // Correlated values that themselves read outer queries' values stay
    // correct: they are evaluated in the enclosing row's context.
    Some((filter((**input).clone(), inner), keys, and_all(residual)))
}

/// Applies a semi join to one leaf (its columns at `offset` in the
/// original row of `width` columns).
fn apply_semi(plan: Plan, s: SemiJoin, offset: usize, leaf_width: usize, width: usize) -> Plan {
    let map = |x: usize| -> usize {
        if x >= offset && x < offset + leaf_width {
            x - offset
        } else if x >= width {
            x - width + leaf_width
        } else {
            x
        }
    };
    finish_semi(plan, s, &map)
}

fn apply_semi_mapped(tree: Plan, s: SemiJoin, layout: &[usize], width: usize) -> Plan {
    let tw = tree.width();
    let map = |x: usize| -> usize {
        if x >= width {
            x - width + tw
        } else {
            layout.get(x).copied().unwrap_or(x)
        }
    };
    finish_semi(tree, s, &map)
}

fn finish_semi(left: Plan, s: SemiJoin, map: &dyn Fn(usize) -> usize) -> Plan {
    let mut lk = s.left_keys;
    for k in &mut lk {
        remap(k, map);
    }
    let residual = s.residual.map(|mut r| {
        remap(&mut r, map);
        r
    });
    Plan::HashJoin(Box::new(HashJoin {
        kind: s.kind,
        left,
        right: s.right,
        left_keys: lk,
        right_keys: s.right_keys,
        residual,
        build_left: false,
    }))
}

/// Folds the constant parts of what runs per row: filters, projections,
/// join conditions, aggregate keys and arguments. TPC-H's `l_shipdate <
/// date '1994-01-01' + interval '1 year'` added the interval for each of
/// 600k rows, and the estimator, which reads a histogram only against a
/// constant, guessed 1/3 for it.
fn fold_plan(plan: Plan) -> Plan {
    if super::stack_depth::check().is_err() {
        return plan;
    }
    match plan.map_inputs(fold_plan) {
        Plan::Filter {
            input,
            mut predicate,
        } => {
            fold_constants(&mut predicate);
            Plan::Filter { input, predicate }
        }
        Plan::Project { input, mut exprs } => {
            exprs.iter_mut().for_each(fold_constants);
            Plan::Project { input, exprs }
        }
        Plan::Join {
            kind,
            left,
            right,
            mut on,
        } => {
            on.iter_mut().for_each(fold_constants);
            Plan::Join {
                kind,
                left,
                right,
                on,
            }
        }
        Plan::Aggregate {
            input,
            mut keys,
            mut aggs,
        } => {
            keys.iter_mut().for_each(fold_constants);
            for a in &mut aggs {
                a.args.iter_mut().for_each(fold_constants);
                a.filter.iter_mut().for_each(fold_constants);
            }
            Plan::Aggregate { input, keys, aggs }
        }
        other => other,
    }
}

/// Folds constant subexpressions without columns, parameters or
/// subqueries (`1 + 2`, `date '1998-12-01' - interval '90 days'`); an
/// expression whose evaluation fails is left for the executor to report.
pub fn fold_constants(e: &mut Expr) {
    for c in children_mut(e) {
        fold_constants(c);
    }
    // A strict operator with a NULL operand is NULL whatever the other
    // operand is, so the other is never evaluated: PostgreSQL folds
    // `col / 0 = NULL` to NULL before any row is read, and so never
    // divides by zero there. (`||` is left alone: array concatenation
    // with NULL is not NULL.)
    let null_operand = |x: &Expr| {
        matches!(
            x,
            Expr::Const {
                value: Value::Null,
                ..
            }
        )
    };
    match e {
        Expr::Binary {
            op,
            left,
            right,
            ty,
        } if *op != BinOp::Concat && (null_operand(left) || null_operand(right)) => {
            let ty = ty.clone();
            *e = Expr::Const {
                value: Value::Null,
                ty,
            };
            return;
        }
        Expr::Negate { expr } if null_operand(expr) => {
            let ty = e.ty();
            *e = Expr::Const {
                value: Value::Null,
                ty,
            };
            return;
        }
        _ => {}
    }
    if matches!(e, Expr::Const { .. }) || !foldable(e) {
        return;
    }
    let settings = |_: &str| -> crate::error::Result<String> {
        Err(crate::error::Error::internal("no settings while folding"))
    };
    let ctx = super::expr::EvalContext {
        row: &[],
        params: &[],
        outer: &[],
        settings: &settings,
        txn: None,
    };
    if let Ok(value) = e.eval(&ctx) {
        let ty = e.ty();
        if matches!(value, Value::Null) || ty != DataType::Unknown {
            *e = Expr::Const { value, ty };
        }
    }
}

fn foldable(e: &Expr) -> bool {
    match e {
        Expr::Const { .. } => true,
        Expr::Binary { .. }
        | Expr::Negate { .. }
        | Expr::Not(_)
        | Expr::And(..)
        | Expr::Or(..)
        | Expr::IsNull { .. } => {
            e.ty() != DataType::Timestamptz
                && children(e).into_iter().all(|c| {
                    matches!(c, Expr::Const { ty, .. } if *ty != DataType::Timestamptz && *ty != DataType::Unknown)
                })
        }
        _ => false,
    }
}
