//! `WITH RECURSIVE`: a query that reads its own previous rows.
//!
//! ```text
//!   WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3)
//!
//!   RecursiveUnion all
//!   ├── Project [1]                         anchor:      (1)
//!   └── Project [n + 1]                     iteration 1: reads (1)   -> (2)
//!       └── Filter n < 3                    iteration 2: reads (2)   -> (3)
//!           └── WorkTable                   iteration 3: reads (3)   -> none: done
//! ```
//!
//! As PostgreSQL evaluates it: the non-recursive term's rows are the
//! result so far and the working table; then the recursive term runs over
//! the working table, its rows (for UNION: only rows not seen before) are
//! appended to the result and become the next working table, until an
//! iteration adds nothing. UNION therefore ends a cycle once it stops
//! producing new rows; UNION ALL runs until the recursive term is empty.
//!
//! The working table is a cell shared by the [`Plan::RecursiveUnion`] and
//! the [`Plan::WorkTable`] leaves of its recursive term (clones of the plan
//! share it; the executor runs one iteration at a time).
//!
//! Owns: recognising a self-referencing CTE, the column types (the
//! non-recursive term's; 42804 when the recursive term's do not fit), the
//! iteration.
//! Never: `SEARCH` / `CYCLE` clauses (sqlparser does not parse them).

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;
use sqlparser::ast::{self, SetExpr};

use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

use super::bind::{Binder, ident_name};
use super::coerce::common_type;
use super::execute::{ExecContext, Row, row_key, run as run_plan};
use super::plan::Plan;

/// The rows of one iteration, shared by a recursive union and its reads.
#[derive(Debug, Clone, Default)]
pub struct WorkTable(Arc<Mutex<Vec<Row>>>);

impl WorkTable {
    pub fn rows(&self) -> Vec<Row> {
        self.0.lock().clone()
    }
}

/// A bound self-referencing CTE: its plan, column names and types.
pub(super) struct RecursiveCte {
    pub plan: Plan,
    pub names: Vec<String>,
    pub types: Vec<DataType>,
}

impl Binder {
    /// `name AS (non-recursive UNION [ALL] recursive)`: `None` when the
    /// query does not read itself (it is then an ordinary CTE).
    pub(super) fn bind_recursive_cte(
        &mut self,
        name: &str,
        cte: &ast::Cte,
    ) -> Result<Option<RecursiveCte>> {
        let q = &cte.query;
        let SetExpr::SetOperation {
            left,
            op: ast::SetOperator::Union,
            set_quantifier,
            right,
        } = q.body.as_ref()
        else {
            return Ok(None);
        };
        if q.with.is_some() {
            return Ok(None);
        }
        let all = match set_quantifier {
            ast::SetQuantifier::All => true,
            ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
            _ => return Ok(None),
        };
        self.recursive_pending.push(name.to_string());
        let l = self.body_plan(left);
        self.recursive_pending.pop();
        let (lplan, mut names, types) = l?;
        if cte.alias.columns.len() > names.len() {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                format!(
                    "WITH query \"{name}\" has {} columns available but {} columns specified",
                    names.len(),
                    cte.alias.columns.len()
                ),
            ));
        }
        for (n, a) in names.iter_mut().zip(&cte.alias.columns) {
            *n = ident_name(&a.name);
        }
        let work = WorkTable::default();
        let refs_before = self.push_work_table(name, &work, &names, &types);
        let r = self.body_plan(right);
        let refs = self.pop_work_table(refs_before);
        let (rplan, _, rtypes) = r?;
        if refs == 0 {
            return Ok(None);
        }
        if q.order_by.is_some() {
            return Err(Error::unsupported("ORDER BY in a recursive query"));
        }
        if q.limit_clause.is_some() || q.fetch.is_some() {
            return Err(Error::unsupported("LIMIT in a recursive query"));
        }
        if rtypes.len() != types.len() {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "each UNION query must have the same number of columns",
            ));
        }
        for (i, (l, r)) in types.iter().zip(&rtypes).enumerate() {
            if l != r && common_type(&[l.clone(), r.clone()], "UNION").ok().as_ref() != Some(l) {
                return Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "recursive query \"{name}\" column {} has type {} in non-recursive term but type {} overall",
                        i + 1,
                        l.name(),
                        common_type(&[l.clone(), r.clone()], "UNION")
                            .map(|t| t.name())
                            .unwrap_or_else(|_| r.name())
                    ),
                )
                .with_hint("Cast the output of the non-recursive term to the correct type."));
            }
        }
        let rplan = self.conform_columns(rplan, &rtypes, &types)?;
        Ok(Some(RecursiveCte {
            plan: Plan::RecursiveUnion {
                anchor: Box::new(lplan),
                recursive: Box::new(rplan),
                all,
                work,
            },
            names,
            types,
        }))
    }
}

/// Runs a recursive union to its fixpoint.
pub fn run(
    anchor: &Plan,
    recursive: &Plan,
    all: bool,
    work: &WorkTable,
    cx: &ExecContext<'_>,
) -> Result<Vec<Row>> {
    let mut seen = HashSet::new();
    let mut keep_new = |rows: Vec<Row>| -> Vec<Row> {
        if all {
            return rows;
        }
        rows.into_iter()
            .filter(|r| seen.insert(row_key(r)))
            .collect()
    };
    let mut working = keep_new(run_plan(anchor, cx)?);
    let mut out = working.clone();
    while !working.is_empty() {
        super::signals::check()?;
        *work.0.lock() = working;
        let next = keep_new(run_plan(recursive, cx)?);
        out.extend(next.iter().cloned());
        working = next;
    }
    work.0.lock().clear();
    Ok(out)
}
