//! Binding subqueries in expressions, correlated at any depth.
//!
//! ```text
//!   SELECT (SELECT (SELECT t.a + u.b) FROM u) FROM t
//!
//!   frames while binding the innermost select:  [ t's scope, u's scope ]
//!   `t.a` is not in the innermost scope (empty): found in frame 0 (t)
//!     frame 0 captures Column(t.a) as slot 0        (evaluated on t's row)
//!     frame 1 captures Outer(slot 0) as its slot 0  (passed through u's level)
//!   the innermost select reads `Outer(slot 0)`; `u.b` likewise via frame 1
//! ```
//!
//! Owns: the scope chain (one [`OuterFrame`] per subquery being bound),
//! PostgreSQL's rules for which level a name belongs to (an unqualified
//! name goes to the innermost level that has such a column; a qualified
//! one to the innermost level that has such a table, and is 42703 there if
//! the column is missing), and 42803 for an outer reference to an ungrouped
//! column of a grouped outer query.
//! Never: runs subqueries ([`super::expr::SubPlan`] does, once per outer row).

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};

use super::bind::{AggState, Binder, BoundQuery, Scope};
use super::expr::{BinOp, Expr, SubPlan};
use super::plan::Plan;

/// The enclosing query of a subquery being bound.
pub(super) struct OuterFrame {
    /// What the enclosing query's expressions see.
    scope: Scope,
    /// The enclosing query's aggregation state, set aside while the
    /// subquery binds its own.
    agg: Option<AggState>,
    /// The values the subquery reads from this level: slot i is
    /// `captures[i].1`, an expression over the enclosing query's row.
    captures: Vec<(Capture, Expr)>,
}

/// What a slot holds, to give one value one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// A column of the enclosing query's input row.
    Column(usize),
    /// A GROUP BY key of the enclosing (grouped) query.
    Key(usize),
    /// A slot of the enclosing query's own outer values (a reference that
    /// passes through this level to one further out).
    Slot(usize),
}

impl OuterFrame {
    fn slot(&mut self, capture: Capture, e: Expr) -> usize {
        match self.captures.iter().position(|(c, _)| *c == capture) {
            Some(i) => i,
            None => {
                self.captures.push((capture, e));
                self.captures.len() - 1
            }
        }
    }
}

/// The type of a subquery's only column (42601 otherwise).
fn single_column(q: &BoundQuery) -> Result<crate::types::DataType> {
    match q.columns.as_slice() {
        [c] => Ok(c.data_type.clone()),
        _ => Err(Error::new(
            SqlState::SYNTAX_ERROR,
            "subquery must return only one column",
        )),
    }
}

impl Binder {
    /// Binds `q` as a subquery of the query whose expressions see `scope`:
    /// the plan and the values it reads from enclosing levels.
    fn bind_subplan(&mut self, q: &ast::Query, scope: &Scope) -> Result<(BoundQuery, Vec<Expr>)> {
        let (r, captures) = self.with_outer_frame(scope, |b| b.bind_query(q));
        Ok((r?, captures))
    }

    /// [`Self::bind_subplan`] for the row comparisons of [`super::rows`].
    pub(super) fn bind_subplan_pub(
        &mut self,
        q: &ast::Query,
        scope: &Scope,
    ) -> Result<(BoundQuery, Vec<Expr>)> {
        self.bind_subplan(q, scope)
    }

    /// Runs `f` (binding a subquery or a LATERAL item) one level inside
    /// the query whose expressions see `scope`: its result and the values
    /// it reads from that level, as expressions over that level's row.
    pub(super) fn with_outer_frame<T>(
        &mut self,
        scope: &Scope,
        f: impl FnOnce(&mut Binder) -> Result<T>,
    ) -> (Result<T>, Vec<Expr>) {
        let agg = self.agg.take();
        let saved_ctx = self.agg_forbidden.take();
        self.outer.push(OuterFrame {
            scope: scope.clone(),
            agg,
            captures: Vec::new(),
        });
        let r = f(self);
        let frame = self.outer.pop();
        self.agg_forbidden = saved_ctx;
        let Some(frame) = frame else {
            return (Err(Error::internal("subquery frame vanished")), Vec::new());
        };
        self.agg = frame.agg;
        (r, frame.captures.into_iter().map(|(_, e)| e).collect())
    }

    /// `(SELECT …)` as a value.
    pub(super) fn bind_scalar_subquery(&mut self, q: &ast::Query, scope: &Scope) -> Result<Expr> {
        let (sub, correlated) = self.bind_subplan(q, scope)?;
        let ty = single_column(&sub)?;
        Ok(Expr::Subquery {
            sub: Box::new(SubPlan::new(sub.plan, correlated)),
            ty,
            array: false,
        })
    }

    /// `ARRAY(SELECT …)`: the rows' only column as one array.
    pub(super) fn bind_array_subquery(&mut self, q: &ast::Query, scope: &Scope) -> Result<Expr> {
        let (sub, correlated) = self.bind_subplan(q, scope)?;
        let elem = single_column(&sub)?;
        let elem = if elem == crate::types::DataType::Unknown {
            crate::types::DataType::Text
        } else {
            elem
        };
        if matches!(elem, crate::types::DataType::Array(_)) {
            return Err(Error::unsupported("ARRAY(SELECT …) of arrays"));
        }
        Ok(Expr::Subquery {
            sub: Box::new(SubPlan::new(sub.plan, correlated)),
            ty: crate::types::DataType::Array(Box::new(elem)),
            array: true,
        })
    }

    /// `SET (a, b) = (SELECT x, y …)`: one scalar subquery per target
    /// column, each reading its column of `q` (42601 unless `q` has
    /// exactly `width` columns, as PostgreSQL).
    pub(super) fn bind_multi_column_subquery(
        &mut self,
        q: &ast::Query,
        width: usize,
        scope: &Scope,
    ) -> Result<Vec<Expr>> {
        let (sub, correlated) = self.bind_subplan(q, scope)?;
        if sub.columns.len() != width {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "number of columns does not match number of values",
            ));
        }
        Ok(sub
            .columns
            .iter()
            .enumerate()
            .map(|(index, c)| Expr::Subquery {
                sub: Box::new(SubPlan::new(
                    Plan::Project {
                        input: Box::new(sub.plan.clone()),
                        exprs: vec![Expr::Column {
                            index,
                            ty: c.data_type.clone(),
                        }],
                    },
                    correlated.clone(),
                )),
                ty: c.data_type.clone(),
                array: false,
            })
            .collect())
    }

    /// `[NOT] EXISTS (SELECT …)`.
    pub(super) fn bind_exists(
        &mut self,
        q: &ast::Query,
        negated: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let (sub, correlated) = self.bind_subplan(q, scope)?;
        Ok(Expr::Exists {
            sub: Box::new(SubPlan::new(sub.plan, correlated)),
            negated,
        })
    }

    /// `x op ANY/ALL (subquery)` (and `x IN (subquery)`, which is `= ANY`).
    pub(super) fn bind_quantified(
        &mut self,
        expr: &ast::Expr,
        op: BinOp,
        subquery: &ast::Query,
        all: bool,
        scope: &Scope,
    ) -> Result<Expr> {
        let x = self.bind_expr(expr, scope)?;
        let (sub, correlated) = self.bind_subplan(subquery, scope)?;
        let ty = single_column(&sub)?;
        // Resolve `x op column` to find both sides' comparison type.
        let column = Expr::Column { index: 0, ty };
        let Expr::Binary { left, right, .. } = self.binary(op, x, column)? else {
            return Err(Error::internal("comparison did not bind to an operator"));
        };
        let plan = Plan::Project {
            input: Box::new(sub.plan),
            exprs: vec![*right],
        };
        Ok(Expr::Quantified {
            expr: left,
            op,
            all,
            sub: Box::new(SubPlan::new(plan, correlated)),
        })
    }

    /// `[table.]name` is not a column here (`err` says why): look in the
    /// enclosing queries, innermost first. The reference becomes an
    /// [`Expr::Outer`] slot, passed down through every level in between.
    pub(super) fn outer_column(
        &mut self,
        table: Option<&str>,
        name: &str,
        err: Error,
    ) -> Result<Expr> {
        let searchable = match table {
            None => err.sqlstate == SqlState::UNDEFINED_COLUMN,
            Some(_) => err.sqlstate == SqlState::UNDEFINED_TABLE,
        };
        if !searchable {
            return Err(err);
        }
        for level in (0..self.outer.len()).rev() {
            let scope = &self.outer[level].scope;
            if let Some(t) = table
                && !scope.has_table(t)
            {
                continue;
            }
            match scope.find(table, name) {
                Ok(index) => return self.capture(level, index),
                Err(e) if table.is_none() && e.sqlstate == SqlState::UNDEFINED_COLUMN => continue,
                Err(e) => return Err(e),
            }
        }
        Err(err)
    }

    /// Column `index` of the query at `level` as seen from the innermost
    /// subquery being bound.
    fn capture(&mut self, level: usize, index: usize) -> Result<Expr> {
        let frame = &self.outer[level];
        let column = &frame.scope.columns[index];
        let ty = column.ty.clone();
        let (capture, expr) = match &frame.agg {
            Some(st) if st.strict && !st.in_agg => {
                let key = st
                    .group_asts
                    .iter()
                    .position(|g| st.input_scope.find_ast(g) == Some(index));
                match key {
                    Some(k) => (
                        Capture::Key(k),
                        Expr::Column {
                            index: k,
                            ty: st.group_types[k].clone(),
                        },
                    ),
                    None => {
                        let shown = match &column.table {
                            Some(t) => format!("{t}.{}", column.name),
                            None => column.name.clone(),
                        };
                        return Err(Error::new(
                            SqlState::GROUPING_ERROR,
                            format!("subquery uses ungrouped column \"{shown}\" from outer query"),
                        ));
                    }
                }
            }
            _ => (
                Capture::Column(index),
                Expr::Column {
                    index,
                    ty: ty.clone(),
                },
            ),
        };
        let mut slot = self.outer[level].slot(capture, expr);
        for frame in &mut self.outer[level + 1..] {
            slot = frame.slot(
                Capture::Slot(slot),
                Expr::Outer {
                    slot,
                    ty: ty.clone(),
                },
            );
        }
        Ok(Expr::Outer { slot, ty })
    }
}
