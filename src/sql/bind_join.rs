//! Binding FROM lists: comma lists, joins (ON, USING, NATURAL, CROSS) and
//! LATERAL items.
//!
//! ```text
//!   SELECT * FROM l FULL JOIN r USING (k)
//!
//!   Project [coalesce(l.k, r.k) AS k, l.k, l.a, r.k, r.b]   scope: k, l.a, r.b
//!   └── Join full on l.k = r.k                               (l.k, r.k hidden)
//! ```
//!
//! USING and NATURAL merge each named pair into one column placed first,
//! as PostgreSQL outputs them: the left value for INNER and LEFT joins,
//! the right for RIGHT, `COALESCE(left, right)` for FULL, in the pair's
//! common type. The joined columns stay in the row, reachable only by
//! their qualified names ([`super::bind::ScopeColumn::hidden`]).
//!
//! Owns: the scope of a FROM list, PostgreSQL's USING errors (42703 for a
//! column missing on one side, 42702 for one that appears twice there,
//! 42701 for one named twice in USING), and which items are LATERAL.
//! Never: executes joins ([`super::execute`], [`super::lateral`]).

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

use super::bind::{Binder, Scope, ScopeColumn, object_name};
use super::coerce::common_type;
use super::expr::{BinOp, Expr};
use super::lateral::join_plan;
use super::plan::{JoinKind, Plan};

/// Whether a FROM item may read the items to its left: LATERAL subqueries
/// and every function call (LATERAL without the keyword, as in PostgreSQL).
fn is_lateral(tf: &ast::TableFactor) -> bool {
    matches!(
        tf,
        ast::TableFactor::Derived { lateral: true, .. }
            | ast::TableFactor::Function { .. }
            | ast::TableFactor::UNNEST { .. }
            | ast::TableFactor::Table { args: Some(_), .. }
    )
}

/// The first relation name among FROM columns (named by the 42P10 of a
/// LATERAL reference under a RIGHT or FULL join).
fn item_table(scope: &Scope) -> Option<&str> {
    scope.columns.iter().find_map(|c| c.table.as_deref())
}

fn duplicate_tables(left: &Scope, right: &Scope) -> Result<()> {
    for c in &right.columns {
        if let Some(t) = &c.table
            && left.has_table(t)
        {
            return Err(Error::new(
                SqlState("42712"),
                format!("table name \"{t}\" specified more than once"),
            ));
        }
    }
    Ok(())
}

impl Binder {
    /// FROM: items joined by commas, CROSS, INNER, LEFT, RIGHT and FULL
    /// joins with ON, USING or NATURAL.
    pub(super) fn bind_from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Plan, Scope)> {
        let mut acc: Option<(Plan, Scope)> = None;
        for twj in from {
            acc = Some(match acc {
                None => self.bind_join_tree(twj)?,
                Some((lplan, lscope)) => {
                    // A LATERAL item after a comma sees the items before it.
                    let (r, correlated) = if is_lateral(&twj.relation) {
                        self.with_outer_frame(&lscope, |b| b.bind_join_tree(twj))
                    } else {
                        (self.bind_join_tree(twj), Vec::new())
                    };
                    let (rplan, rscope) = r?;
                    duplicate_tables(&lscope, &rscope)?;
                    let plan = join_plan(
                        JoinKind::Inner,
                        lplan,
                        rplan,
                        correlated,
                        None,
                        item_table(&lscope),
                    )?;
                    (plan, lscope.concat(rscope))
                }
            });
        }
        acc.ok_or_else(|| Error::internal("empty FROM list"))
    }

    /// One comma-separated item: a relation and the joins on it.
    fn bind_join_tree(&mut self, twj: &ast::TableWithJoins) -> Result<(Plan, Scope)> {
        let (mut plan, mut scope) = self.bind_table_factor(&twj.relation)?;
        for join in &twj.joins {
            use ast::JoinOperator as J;
            let (kind, constraint) = match &join.join_operator {
                J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
                J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
                J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
                J::FullOuter(c) => (JoinKind::Full, Some(c)),
                J::CrossJoin(_) => (JoinKind::Inner, None),
                other => {
                    return Err(Error::unsupported(format!(
                        "join {}",
                        format!("{other:?}")
                            .chars()
                            .take_while(|c| c.is_alphanumeric())
                            .collect::<String>()
                    )));
                }
            };
            let (r, correlated) = if is_lateral(&join.relation) {
                self.with_outer_frame(&scope, |b| b.bind_table_factor(&join.relation))
            } else {
                (self.bind_table_factor(&join.relation), Vec::new())
            };
            let (rplan, rscope) = r?;
            duplicate_tables(&scope, &rscope)?;
            let left_table = item_table(&scope).map(str::to_string);
            let using: Option<Vec<String>> = match constraint {
                Some(ast::JoinConstraint::Using(cols)) => Some(using_names(cols)?),
                Some(ast::JoinConstraint::Natural) => Some(natural_names(&scope, &rscope)),
                _ => None,
            };
            if let Some(names) = using {
                (plan, scope) =
                    self.bind_using(kind, (plan, scope), (rplan, rscope), correlated, &names)?;
                continue;
            }
            let combined = scope.concat(rscope);
            let on = match constraint {
                None | Some(ast::JoinConstraint::None) => None,
                Some(ast::JoinConstraint::On(e)) => {
                    let p =
                        self.forbid_aggregates("JOIN conditions", |b| b.bind_expr(e, &combined))?;
                    Some(self.coerce_bool(p, "JOIN/ON")?)
                }
                Some(_) => return Err(Error::internal("join constraint")),
            };
            plan = join_plan(kind, plan, rplan, correlated, on, left_table.as_deref())?;
            scope = combined;
        }
        Ok((plan, scope))
    }

    /// `left JOIN right USING (names)`: the join on equal pairs, then the
    /// merged columns first.
    fn bind_using(
        &mut self,
        kind: JoinKind,
        (lplan, lscope): (Plan, Scope),
        (rplan, rscope): (Plan, Scope),
        correlated: Vec<Expr>,
        names: &[String],
    ) -> Result<(Plan, Scope)> {
        let find = |scope: &Scope, name: &str, side: &str| -> Result<usize> {
            let hits: Vec<usize> = scope
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.hidden && c.name == name)
                .map(|(i, _)| i)
                .collect();
            match hits.as_slice() {
                [i] => Ok(*i),
                [] => Err(Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{name}\" specified in USING clause does not exist in {side} table"
                    ),
                )),
                _ => Err(Error::new(
                    SqlState::AMBIGUOUS_COLUMN,
                    format!("common column name \"{name}\" appears more than once in {side} table"),
                )),
            }
        };
        let lw = lscope.columns.len();
        let left_table = item_table(&lscope).map(str::to_string);
        let mut on: Option<Expr> = None;
        let mut merged = Vec::with_capacity(names.len());
        let mut merged_scope = Vec::with_capacity(names.len());
        let mut hide_left = Vec::new();
        let mut hide_right = Vec::new();
        for name in names {
            let li = find(&lscope, name, "left")?;
            let ri = find(&rscope, name, "right")?;
            let lt = lscope.columns[li].ty.clone();
            let rt = rscope.columns[ri].ty.clone();
            let l = Expr::Column {
                index: li,
                ty: lt.clone(),
            };
            let r = Expr::Column {
                index: lw + ri,
                ty: rt.clone(),
            };
            let ty = match common_type(&[lt, rt], "JOIN/USING")? {
                DataType::Unknown => DataType::Text,
                t => t,
            };
            let eq = self.binary(BinOp::Eq, l.clone(), r.clone())?;
            let eq = self.coerce_bool(eq, "JOIN/USING")?;
            on = Some(match on {
                None => eq,
                Some(p) => Expr::And(Box::new(p), Box::new(eq)),
            });
            let l = self.coerce(l, &ty)?;
            let r = self.coerce(r, &ty)?;
            merged.push(match kind {
                JoinKind::Inner | JoinKind::Left => l,
                JoinKind::Right => r,
                JoinKind::Full => Expr::Coalesce {
                    args: vec![l, r],
                    ty: ty.clone(),
                },
            });
            merged_scope.push(ScopeColumn {
                table: None,
                name: name.clone(),
                ty,
                hidden: false,
            });
            hide_left.push(li);
            hide_right.push(ri);
        }
        let join = join_plan(kind, lplan, rplan, correlated, on, left_table.as_deref())?;
        let mut exprs = merged;
        let mut columns = merged_scope;
        for (i, c) in lscope.columns.into_iter().enumerate() {
            exprs.push(Expr::Column {
                index: i,
                ty: c.ty.clone(),
            });
            columns.push(ScopeColumn {
                hidden: c.hidden || hide_left.contains(&i),
                ..c
            });
        }
        for (i, c) in rscope.columns.into_iter().enumerate() {
            exprs.push(Expr::Column {
                index: lw + i,
                ty: c.ty.clone(),
            });
            columns.push(ScopeColumn {
                hidden: c.hidden || hide_right.contains(&i),
                ..c
            });
        }
        Ok((
            Plan::Project {
                input: Box::new(join),
                exprs,
            },
            Scope { columns },
        ))
    }
}

/// `USING (a, b)`: the names, each once (42701).
fn using_names(cols: &[ast::ObjectName]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(cols.len());
    for c in cols {
        let parts = object_name(c);
        let [name] = parts.as_slice() else {
            return Err(Error::new(
                SqlState::SYNTAX_ERROR,
                "syntax error in USING clause: qualified column names are not allowed",
            ));
        };
        if out.contains(name) {
            return Err(Error::new(
                SqlState("42701"),
                format!("column name \"{name}\" appears more than once in USING clause"),
            ));
        }
        out.push(name.clone());
    }
    Ok(out)
}

/// NATURAL: the visible column names both sides have, in the left's order.
fn natural_names(left: &Scope, right: &Scope) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &left.columns {
        if !c.hidden
            && right.columns.iter().any(|r| !r.hidden && r.name == c.name)
            && !out.contains(&c.name)
        {
            out.push(c.name.clone());
        }
    }
    out
}
