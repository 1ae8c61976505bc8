//! LATERAL: FROM items that read the items to their left.
//!
//! ```text
//!   SELECT t.a, s.b FROM t, LATERAL (SELECT t.a * 10 AS b) s
//!
//!   Lateral inner, correlated [t.a]
//!   ├── Scan t                       row (2)   -> outer values [2]
//!   └── Project [Outer(0) * 10]                -> (20)  => (2, 20)
//! ```
//!
//! The right side is bound like a correlated subquery whose enclosing
//! query is the left side (one [`super::subquery`] frame whose scope is
//! the left items' columns): a reference to a left column becomes an outer
//! slot, and the slots' expressions over the left row are `correlated`.
//! A right side that reads nothing from the left is an ordinary join.
//! Functions in FROM are LATERAL without the keyword, as in PostgreSQL.
//!
//! Owns: binding the right side in that frame, the 42P10 for a LATERAL
//! reference under RIGHT / FULL joins, and the nested-loop that runs the
//! right side once per left row (LEFT pads with NULLs).
//! Never: decorrelates (a planner's job).

use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::execute::{ExecContext, Row, run as run_plan};
use super::expr::{EvalContext, Expr};
use super::plan::{JoinKind, Plan};

/// The join of `left` and `right`, lateral when `correlated` is not empty.
pub(super) fn join_plan(
    kind: JoinKind,
    left: Plan,
    right: Plan,
    correlated: Vec<Expr>,
    on: Option<Expr>,
    left_table: Option<&str>,
) -> Result<Plan> {
    if correlated.is_empty() {
        return Ok(Plan::Join {
            kind,
            left: Box::new(left),
            right: Box::new(right),
            on,
        });
    }
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        return Err(Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!(
                "invalid reference to FROM-clause entry for table \"{}\"",
                left_table.unwrap_or("?")
            ),
        )
        .with_detail("The combining JOIN type must be INNER or LEFT for a LATERAL reference."));
    }
    Ok(Plan::Lateral {
        kind,
        left: Box::new(left),
        right: Box::new(right),
        correlated,
        on,
    })
}

/// Runs a lateral join: `right` once per left row.
pub fn run(
    kind: JoinKind,
    left: &Plan,
    right: &Plan,
    correlated: &[Expr],
    on: Option<&Expr>,
    cx: &ExecContext<'_>,
) -> Result<Vec<Row>> {
    let rows = run_plan(left, cx)?;
    let rw = right.width();
    let mut out = Vec::new();
    for lrow in rows {
        super::signals::check()?;
        let ctx = EvalContext {
            row: &lrow,
            params: cx.params,
            outer: cx.outer,
            settings: cx.settings,
            txn: cx.txn,
        };
        let mut outer = Vec::with_capacity(correlated.len());
        for e in correlated {
            outer.push(e.eval(&ctx)?);
        }
        let rcx = ExecContext {
            params: cx.params,
            outer: &outer,
            settings: cx.settings,
            txn: cx.txn,
        };
        let mut matched = false;
        for rrow in run_plan(right, &rcx)? {
            let mut row = Vec::with_capacity(lrow.len() + rrow.len());
            row.extend_from_slice(&lrow);
            row.extend(rrow);
            let keep = match on {
                None => true,
                Some(p) => {
                    let c = EvalContext {
                        row: &row,
                        params: cx.params,
                        outer: cx.outer,
                        settings: cx.settings,
                        txn: cx.txn,
                    };
                    p.eval(&c)? == Value::Bool(true)
                }
            };
            if keep {
                matched = true;
                out.push(row);
            }
        }
        if !matched && kind == JoinKind::Left {
            let mut row = lrow;
            row.extend(std::iter::repeat_n(Value::Null, rw));
            out.push(row);
        }
    }
    Ok(out)
}
