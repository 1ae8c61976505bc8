//! Logical plans: the relational operators a bound query is made of.
//!
//! ```text
//!   SELECT a + 1 AS b FROM (VALUES (2), (1)) t(a) WHERE a > 0 ORDER BY b LIMIT 1
//!
//!   Limit 1
//!   └── Sort [col 0 asc]
//!       └── Project [a + 1]
//!           └── Filter a > 0
//!               └── Values [[2], [1]]
//! ```
//!
//! Owns: the shape of a query after binding. A query without FROM reads
//! `Values` with one empty row, as PostgreSQL's `Result` node does.
//! Never: evaluates; [`super::execute`] runs plans.

use super::aggregate::{AggFunc, OrderKey};
use super::expr::Expr;
use super::scan::{Access, TableRef};
use crate::types::DataType;

/// One ORDER BY key: a column of the input and its direction.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub column: usize,
    pub desc: bool,
    pub nulls_first: bool,
}

/// One aggregate call of an [`Plan::Aggregate`].
#[derive(Debug, Clone)]
pub struct AggCall {
    pub func: AggFunc,
    /// Arguments over the aggregate's input row (empty for `count(*)`).
    pub args: Vec<Expr>,
    pub distinct: bool,
    pub ret: DataType,
    /// `FILTER (WHERE …)`: only rows where it is true are aggregated.
    pub filter: Option<Expr>,
    /// `ORDER BY` inside the call: the order values are fed in.
    pub order: Vec<OrderKey>,
}

/// How a join keeps rows without a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Only matching pairs (a CROSS join is INNER without a condition).
    Inner,
    /// Also left rows without a match, padded with NULLs.
    Left,
    Right,
    Full,
}

/// UNION / INTERSECT / EXCEPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

#[derive(Debug, Clone)]
pub enum Plan {
    /// The rows of a table the statement sees: its columns, then (if
    /// `with_key`) the row's key as bytea, for UPDATE and DELETE.
    Scan {
        table: TableRef,
        access: Access,
        with_key: bool,
        /// The columns the plan above reads (`None`: all): only those are
        /// decoded and output, in table order ([`super::prune`]).
        needed: Option<Vec<bool>>,
    },
    /// Both inputs have the same column types; `all` keeps duplicates
    /// (multiset semantics), otherwise the result is distinct.
    SetOp {
        kind: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    /// Literal rows (each of `width` expressions).
    Values {
        rows: Vec<Vec<Expr>>,
        width: usize,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Nested-loop join; output rows are left columns then right columns.
    Join {
        kind: JoinKind,
        left: Box<Plan>,
        right: Box<Plan>,
        on: Option<Expr>,
    },
    /// Groups rows by `keys`; outputs `keys ++ aggs` per group (one row
    /// with no keys and no input rows).
    Aggregate {
        input: Box<Plan>,
        keys: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    /// Window functions ([`super::window`]): each row with one value per
    /// call appended.
    Window {
        input: Box<Plan>,
        calls: Vec<super::window::WindowCall>,
    },
    /// Functions in FROM ([`super::srf`]) side by side: one column per
    /// call, then the row number if `ordinality`.
    FunctionScan {
        calls: Vec<super::srf::SrfCall>,
        ordinality: bool,
    },
    /// Set-returning calls of a select list: each input row with one value
    /// per call appended, once per row of the longest set.
    ProjectSet {
        input: Box<Plan>,
        calls: Vec<super::srf::SrfCall>,
    },
    /// A join whose right side reads the left row (LATERAL): `right` runs
    /// once per left row, `correlated` evaluated over that row being its
    /// outer values (as a correlated subquery's, [`super::expr::SubPlan`]).
    Lateral {
        kind: JoinKind,
        left: Box<Plan>,
        right: Box<Plan>,
        correlated: Vec<Expr>,
        on: Option<Expr>,
    },
    /// `WITH RECURSIVE` ([`super::recursive`]): `anchor`'s rows, then
    /// `recursive` over the previous iteration's rows (in `work`) until an
    /// iteration adds none; `all: false` keeps only rows not seen before.
    RecursiveUnion {
        anchor: Box<Plan>,
        recursive: Box<Plan>,
        all: bool,
        work: super::recursive::WorkTable,
    },
    /// The working table of the enclosing recursive union.
    WorkTable {
        work: super::recursive::WorkTable,
        width: usize,
    },
    /// Removes duplicate rows (NULLs count as equal), keeping the first.
    Distinct {
        input: Box<Plan>,
    },
    /// `DISTINCT ON (…)`: of each run of rows (sorted below) equal in the
    /// `keys` columns (NULLs equal), only the first.
    Unique {
        input: Box<Plan>,
        keys: Vec<usize>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    /// `SELECT … FOR UPDATE` and the other locking clauses
    /// ([`super::locking`]): locks each input row (whose last column is its
    /// row key) and re-checks it if it changed.
    LockRows {
        input: Box<Plan>,
        spec: Box<super::locking::LockSpec>,
    },
    /// `limit`/`offset` are int8 expressions, evaluated once when run.
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    /// An equi-join the planner chose ([`super::join`]).
    HashJoin(Box<super::join::HashJoin>),
}

impl Plan {
    /// The number of columns each output row has.
    pub fn width(&self) -> usize {
        match self {
            Plan::Scan {
                table,
                with_key,
                needed,
                ..
            } => {
                let cols = needed.as_ref().map_or(table.def.columns.len(), |m| {
                    m.iter().filter(|&&b| b).count()
                });
                cols + usize::from(*with_key)
            }
            Plan::Values { width, .. } => *width,
            Plan::FunctionScan { calls, ordinality } => calls.len() + usize::from(*ordinality),
            Plan::ProjectSet { input, calls } => input.width() + calls.len(),
            Plan::RecursiveUnion { anchor, .. } => anchor.width(),
            Plan::WorkTable { width, .. } => *width,
            Plan::Lateral { left, right, .. } => left.width() + right.width(),
            Plan::Project { exprs, .. } => exprs.len(),
            Plan::Aggregate { keys, aggs, .. } => keys.len() + aggs.len(),
            Plan::Join { left, right, .. } => left.width() + right.width(),
            Plan::HashJoin(j) => j.width(),
            Plan::SetOp { left, .. } => left.width(),
            Plan::Window { input, calls } => input.width() + calls.len(),
            Plan::Filter { input, .. }
            | Plan::Distinct { input }
            | Plan::Unique { input, .. }
            | Plan::Sort { input, .. }
            | Plan::LockRows { input, .. }
            | Plan::Limit { input, .. } => input.width(),
        }
    }
}

/// A placeholder plan (no rows, no columns) for moving inputs out.
const EMPTY: Plan = Plan::Values {
    rows: Vec::new(),
    width: 0,
};

impl Plan {
    /// Rebuilds the plan with `f` applied to each direct input.
    pub fn map_inputs(self, mut f: impl FnMut(Plan) -> Plan) -> Plan {
        let mut b = |p: Box<Plan>| Box::new(f(*p));
        match self {
            p @ (Plan::Scan { .. }
            | Plan::Values { .. }
            | Plan::FunctionScan { .. }
            | Plan::WorkTable { .. }) => p,
            Plan::SetOp {
                kind,
                all,
                left,
                right,
            } => Plan::SetOp {
                kind,
                all,
                left: b(left),
                right: b(right),
            },
            Plan::Filter { input, predicate } => Plan::Filter {
                input: b(input),
                predicate,
            },
            Plan::Project { input, exprs } => Plan::Project {
                input: b(input),
                exprs,
            },
            Plan::Join {
                kind,
                left,
                right,
                on,
            } => Plan::Join {
                kind,
                left: b(left),
                right: b(right),
                on,
            },
            Plan::ProjectSet { input, calls } => Plan::ProjectSet {
                input: b(input),
                calls,
            },
            Plan::RecursiveUnion {
                anchor,
                recursive,
                all,
                work,
            } => Plan::RecursiveUnion {
                anchor: b(anchor),
                recursive: b(recursive),
                all,
                work,
            },
            Plan::Lateral {
                kind,
                left,
                right,
                correlated,
                on,
            } => Plan::Lateral {
                kind,
                left: b(left),
                right: b(right),
                correlated,
                on,
            },
            Plan::HashJoin(mut j) => {
                let left = std::mem::replace(&mut j.left, EMPTY);
                j.left = f(left);
                let right = std::mem::replace(&mut j.right, EMPTY);
                j.right = f(right);
                Plan::HashJoin(j)
            }
            Plan::Aggregate { input, keys, aggs } => Plan::Aggregate {
                input: b(input),
                keys,
                aggs,
            },
            Plan::Distinct { input } => Plan::Distinct { input: b(input) },
            Plan::Unique { input, keys } => Plan::Unique {
                input: b(input),
                keys,
            },
            Plan::Window { input, calls } => Plan::Window {
                input: b(input),
                calls,
            },
            Plan::Sort { input, keys } => Plan::Sort {
                input: b(input),
                keys,
            },
            Plan::LockRows { input, spec } => Plan::LockRows {
                input: b(input),
                spec,
            },
            Plan::Limit {
                input,
                limit,
                offset,
            } => Plan::Limit {
                input: b(input),
                limit,
                offset,
            },
        }
    }
}
