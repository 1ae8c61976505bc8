//! Table statistics (ANALYZE) and the planner's estimates from them.
//!
//! ```text
//!   ANALYZE t ─▶ one pass over t's visible rows: the row count, and a
//!                reservoir sample of up to SAMPLE rows
//!             ─▶ per column: null fraction, distinct count (from the
//!                sample, scaled as PostgreSQL's Haas–Stokes estimator),
//!                an equi-depth histogram of BOUNDS bounds
//!             ─▶ kept per table (by its row tree) for the planner
//!
//!   rows(Filter p ─ Scan t)  = rows(t) · sel(p)
//!   sel(c = const)           = (1 − null_frac) / ndv(c)
//!   sel(c < const)           = histogram fraction below const
//!   rows(A ⋈ B on a = b)     = rows(A) · rows(B) / max(ndv(a), ndv(b))
//! ```
//!
//! Owns: what statistics are and how estimates use them; PostgreSQL's
//! default selectivities where nothing is known (0.005 for equality,
//! 1/3 for ranges). Estimates only choose plans; they never change answers.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use crate::catalog::row::decode_row;
use crate::error::Result;
use crate::types::Value;

use super::execute::row_key;
use super::expr::{BinOp, Expr, compare_nulls_last};
use super::join::HashJoinKind;
use super::plan::{JoinKind, Plan};
use super::scan::{TableRef, TxnCell, lock_txn};

/// Rows sampled per table (PostgreSQL: 300 × default_statistics_target).
pub const SAMPLE: usize = 30_000;
/// Histogram bounds per column.
pub const BOUNDS: usize = 101;
/// Rows assumed for a table never analyzed.
pub const DEFAULT_ROWS: f64 = 1000.0;

#[derive(Debug, Clone)]
pub struct ColumnStats {
    pub null_frac: f64,
    /// Distinct non-NULL values (estimated).
    pub ndv: f64,
    /// Sorted equi-depth bounds of the non-NULL sample values.
    pub histogram: Vec<Value>,
}

#[derive(Debug, Clone)]
pub struct TableStats {
    pub rows: f64,
    pub columns: Vec<ColumnStats>,
}

/// A small deterministic generator (xorshift) for the reservoir.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Reads every visible row of `table` once and computes its statistics.
pub fn analyze(table: &TableRef, txn: &TxnCell) -> Result<TableStats> {
    let types = table.types();
    let mut sample: Vec<Vec<Value>> = Vec::new();
    let mut rows: u64 = 0;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    {
        let mut t = lock_txn(txn)?;
        let scan = t.scan(&table.rows, Bound::Unbounded, Bound::Unbounded, false)?;
        for r in scan {
            super::signals::check()?;
            let (_, v) = r?;
            rows += 1;
            let slot = if sample.len() < SAMPLE {
                Some(sample.len())
            } else {
                let j = rng.below(rows) as usize;
                (j < SAMPLE).then_some(j)
            };
            if let Some(slot) = slot {
                let mut row = Vec::with_capacity(types.len());
                decode_row(&v, &types, None, &mut row)?;
                if slot == sample.len() {
                    sample.push(row);
                } else {
                    sample[slot] = row;
                }
            }
        }
    }
    let n = sample.len();
    let mut columns = Vec::with_capacity(types.len());
    for c in 0..types.len() {
        let mut values: Vec<Value> = sample
            .iter()
            .filter_map(|r| r.get(c).filter(|v| !v.is_null()).cloned())
            .collect();
        let nulls = n - values.len();
        let mut counts: HashMap<Vec<super::execute::KeyPart>, usize> = HashMap::new();
        for v in &values {
            *counts.entry(row_key(std::slice::from_ref(v))).or_insert(0) += 1;
        }
        let d = counts.len() as f64;
        let f1 = counts.values().filter(|&&k| k == 1).count() as f64;
        let nn = values.len() as f64;
        let total = rows as f64 * (nn / n.max(1) as f64);
        let ndv = if nn == 0.0 {
            0.0
        } else if f1 >= nn {
            // Every sampled value is unique: as unique as the table.
            total
        } else if (nn as u64) >= rows {
            d
        } else {
            (nn * d / (nn - f1 + f1 * nn / total.max(1.0))).clamp(d, total.max(d))
        };
        values.sort_by(|a, b| compare_nulls_last(a, b).unwrap_or(std::cmp::Ordering::Equal));
        let histogram = if values.is_empty() {
            Vec::new()
        } else {
            let k = BOUNDS.min(values.len());
            (0..k)
                .map(|i| values[i * (values.len() - 1) / (k - 1).max(1)].clone())
                .collect()
        };
        columns.push(ColumnStats {
            null_frac: if n == 0 { 0.0 } else { nulls as f64 / n as f64 },
            ndv,
            histogram,
        });
    }
    Ok(TableStats {
        rows: rows as f64,
        columns,
    })
}

/// Where the planner finds a table's statistics.
pub type StatsLookup = dyn Fn(&TableRef) -> Option<Arc<TableStats>> + Send + Sync;
pub type StatsSource = Arc<StatsLookup>;

/// Estimates over plans, with the statistics known for their tables.
pub struct Estimator<'a> {
    pub stats: &'a StatsLookup,
}

const EQ_SEL: f64 = 0.005;
const RANGE_SEL: f64 = 1.0 / 3.0;

impl Estimator<'_> {
    /// The statistics of the base-table column that column `col` of `p`'s
    /// rows is, if it is one.
    fn column(&self, p: &Plan, col: usize) -> Option<(Arc<TableStats>, usize)> {
        match p {
            Plan::Scan { table, .. } => {
                let s = (self.stats)(table)?;
                (col < s.columns.len()).then_some((s, col))
            }
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::Unique { input, .. } => self.column(input, col),
            Plan::Window { input, .. } => self.column(input, col),
            Plan::Project { input, exprs } => match exprs.get(col)? {
                Expr::Column { index, .. } => self.column(input, *index),
                _ => None,
            },
            Plan::Aggregate { input, keys, .. } => match keys.get(col)? {
                Expr::Column { index, .. } => self.column(input, *index),
                _ => None,
            },
            Plan::Join { left, right, .. } => {
                let lw = left.width();
                if col < lw {
                    self.column(left, col)
                } else {
                    self.column(right, col - lw)
                }
            }
            Plan::HashJoin(j) => {
                let lw = j.left.width();
                if col < lw {
                    self.column(&j.left, col)
                } else {
                    self.column(&j.right, col - lw)
                }
            }
            _ => None,
        }
    }

    fn column_expr(&self, p: &Plan, e: &Expr) -> Option<(Arc<TableStats>, usize)> {
        match e {
            Expr::Column { index, .. } => self.column(p, *index),
            Expr::Cast { expr, .. } => self.column_expr(p, expr),
            _ => None,
        }
    }

    /// Distinct values of `e` over `p`'s rows (`rows` of them).
    pub fn ndv(&self, p: &Plan, e: &Expr, rows: f64) -> f64 {
        match self.column_expr(p, e) {
            Some((s, c)) => s.columns[c].ndv.min(rows).max(1.0),
            None => rows.max(1.0),
        }
    }

    /// Estimated rows of `p`.
    pub fn rows(&self, p: &Plan) -> f64 {
        match p {
            Plan::Scan { table, .. } => (self.stats)(table).map_or(DEFAULT_ROWS, |s| s.rows),
            Plan::Values { rows, .. } => rows.len() as f64,
            Plan::FunctionScan { .. } | Plan::WorkTable { .. } => DEFAULT_ROWS,
            Plan::RecursiveUnion { anchor, .. } => self.rows(anchor) * 10.0,
            Plan::ProjectSet { input, .. } => self.rows(input) * 10.0,
            Plan::Lateral { left, .. } => self.rows(left) * 10.0,
            Plan::Filter { input, predicate } => {
                (self.rows(input) * self.selectivity(input, predicate)).max(1.0)
            }
            Plan::Project { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Window { input, .. }
            | Plan::LockRows { input, .. } => self.rows(input),
            Plan::Distinct { input } | Plan::Unique { input, .. } => self.rows(input) * 0.5,
            Plan::Limit { input, limit, .. } => {
                let r = self.rows(input);
                match limit {
                    Some(Expr::Const {
                        value: Value::Int8(n),
                        ..
                    }) => r.min(*n as f64),
                    _ => r,
                }
            }
            Plan::Aggregate { input, keys, .. } => {
                if keys.is_empty() {
                    return 1.0;
                }
                let r = self.rows(input);
                let mut groups = 1.0;
                for k in keys {
                    groups *= self.ndv(input, k, r);
                }
                groups.min(r).max(1.0)
            }
            Plan::SetOp { left, right, .. } => self.rows(left) + self.rows(right),
            Plan::Join {
                kind,
                left,
                right,
                on,
            } => {
                let (l, r) = (self.rows(left), self.rows(right));
                let inner = l * r * on.as_ref().map_or(1.0, |_| RANGE_SEL);
                match kind {
                    JoinKind::Inner => inner,
                    JoinKind::Left => inner.max(l),
                    JoinKind::Right => inner.max(r),
                    JoinKind::Full => inner.max(l + r),
                }
            }
            Plan::HashJoin(j) => {
                let (l, r) = (self.rows(&j.left), self.rows(&j.right));
                let mut dl = 1.0f64;
                let mut dr = 1.0f64;
                for (a, b) in j.left_keys.iter().zip(&j.right_keys) {
                    dl = dl.max(self.ndv(&j.left, a, l));
                    dr = dr.max(self.ndv(&j.right, b, r));
                }
                let inner = l * r / dl.max(dr);
                let semi = l * (dr / dl).min(1.0);
                match j.kind {
                    HashJoinKind::Inner => inner,
                    HashJoinKind::Left => inner.max(l),
                    HashJoinKind::Right => inner.max(r),
                    HashJoinKind::Full => inner.max(l + r),
                    HashJoinKind::Semi => semi.max(1.0),
                    HashJoinKind::Anti | HashJoinKind::NotIn => (l - semi).max(l * 0.1).max(1.0),
                }
            }
        }
    }

    /// The fraction of `input`'s rows for which `pred` is true.
    pub fn selectivity(&self, input: &Plan, pred: &Expr) -> f64 {
        let s = match pred {
            Expr::And(a, b) => self.selectivity(input, a) * self.selectivity(input, b),
            Expr::Or(a, b) => {
                let (x, y) = (self.selectivity(input, a), self.selectivity(input, b));
                x + y - x * y
            }
            Expr::Not(a) => 1.0 - self.selectivity(input, a),
            Expr::IsNull { expr, negated } => {
                let f = self
                    .column_expr(input, expr)
                    .map_or(EQ_SEL, |(s, c)| s.columns[c].null_frac);
                if *negated { 1.0 - f } else { f }
            }
            Expr::Like { negated, .. } => {
                if *negated {
                    0.95
                } else {
                    0.05
                }
            }
            Expr::Binary {
                op, left, right, ..
            } if op.is_comparison() => self.comparison(input, *op, left, right),
            Expr::Const {
                value: Value::Bool(true),
                ..
            } => 1.0,
            Expr::Const { .. } => 0.0,
            _ => RANGE_SEL,
        };
        s.clamp(0.0, 1.0)
    }

    fn comparison(&self, input: &Plan, op: BinOp, left: &Expr, right: &Expr) -> f64 {
        let (col, col_side, value, op) = match (
            self.column_expr(input, left),
            self.column_expr(input, right),
        ) {
            (Some(c), None) => (c, left, right, op),
            (None, Some(c)) => (c, right, left, flip(op)),
            (Some(_), Some(_)) => return if op == BinOp::Eq { EQ_SEL } else { RANGE_SEL },
            (None, None) => {
                return match op {
                    BinOp::Eq => EQ_SEL,
                    BinOp::NotEq => 1.0 - EQ_SEL,
                    _ => RANGE_SEL,
                };
            }
        };
        let (s, c) = col;
        let cs = &s.columns[c];
        let constant = match value {
            Expr::Const { value, .. } => Some(value),
            _ => None,
        };
        match op {
            BinOp::Eq => (1.0 - cs.null_frac) / cs.ndv.max(1.0),
            BinOp::NotEq => (1.0 - cs.null_frac) * (1.0 - 1.0 / cs.ndv.max(1.0)),
            _ => {
                let Some(v) = constant else {
                    return RANGE_SEL;
                };
                // `date_col < timestamp '…'` compares the column cast:
                // so are the bounds (a date's histogram is a timestamp's).
                let cast_bounds;
                let bounds = match col_side {
                    Expr::Cast { expr, to } if matches!(**expr, Expr::Column { .. }) => {
                        let from = expr.ty();
                        let cast: Option<Vec<Value>> = cs
                            .histogram
                            .iter()
                            .map(|b| super::cast::cast(b.clone(), &from, to).ok())
                            .collect();
                        let Some(c) = cast else {
                            return RANGE_SEL;
                        };
                        cast_bounds = c;
                        &cast_bounds
                    }
                    _ => &cs.histogram,
                };
                let Some(below) = histogram_fraction(bounds, v) else {
                    return RANGE_SEL;
                };
                let frac = match op {
                    BinOp::Lt | BinOp::LtEq => below,
                    _ => 1.0 - below,
                };
                (frac * (1.0 - cs.null_frac)).max(0.0001)
            }
        }
    }
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        BinOp::GtEq => BinOp::LtEq,
        other => other,
    }
}

/// The fraction of the histogram's values below `v` (`None` if `v` does
/// not compare with them).
fn histogram_fraction(h: &[Value], v: &Value) -> Option<f64> {
    if h.len() < 2 || v.is_null() {
        return None;
    }
    let mut below = 0usize;
    for b in h {
        match compare_nulls_last(b, v) {
            Ok(std::cmp::Ordering::Less) => below += 1,
            Ok(_) => break,
            Err(_) => return None,
        }
    }
    Some(below as f64 / h.len() as f64)
}

/// The statistics of every analyzed table, by its row tree, and the rows
/// changed since (for auto-analyze).
#[derive(Default)]
pub struct StatsMap {
    tables: parking_lot::RwLock<HashMap<crate::txn::TreeId, Arc<TableStats>>>,
}

impl StatsMap {
    pub fn get(&self, table: &TableRef) -> Option<Arc<TableStats>> {
        self.tables.read().get(&table.rows.id()).cloned()
    }

    /// The statistics of the table whose row tree is `tree`.
    pub fn get_tree(&self, tree: crate::txn::TreeId) -> Option<Arc<TableStats>> {
        self.tables.read().get(&tree).cloned()
    }

    pub fn set(&self, table: &TableRef, stats: TableStats) {
        self.tables.write().insert(table.rows.id(), Arc::new(stats));
    }
}
