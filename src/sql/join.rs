//! Hash joins: equi-joins of every kind the planner makes, by building a
//! hash table on one input and probing it with the other.
//!
//! ```text
//!   Hash Join (l.k = r.k, residual)        build: r's rows by key (NULL keys never match)
//!   ├── probe: l                            each l row looks up its key, checks the
//!   └── build: r                            residual on (l ++ r), emits the pairs
//!
//!   kind      rows out                         columns
//!   Inner     matching pairs                   l ++ r
//!   Left      + l rows without a match         l ++ r (NULLs)
//!   Right     + r rows without a match         (NULLs) ++ r
//!   Full      both                             l ++ r
//!   Semi      l rows with a match (once)       l          EXISTS, IN
//!   Anti      l rows without a match           l          NOT EXISTS
//!   NotIn     l rows whose key is not NULL,    l          NOT IN (uncorrelated):
//!             without a match, none if r has              x NOT IN (… NULL …) is
//!             a NULL key; all if r is empty               never true
//! ```
//!
//! Owns: the join semantics above, keys compared with SQL equality of one
//! type ([`super::execute::row_key`]: the planner only makes hash joins of
//! keys whose equality that is).
//! Invariant: the answer is the nested-loop join's (modulo row order).

use std::collections::HashMap;

use crate::error::Result;
use crate::types::Value;

use super::execute::{ExecContext, KeyPart, Row, row_key};
use super::expr::{EvalContext, Expr};
use super::plan::Plan;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashJoinKind {
    Inner,
    Left,
    Right,
    Full,
    Semi,
    Anti,
    NotIn,
}

impl HashJoinKind {
    /// Whether the output has only the left (probe) input's columns.
    pub fn left_only(self) -> bool {
        matches!(
            self,
            HashJoinKind::Semi | HashJoinKind::Anti | HashJoinKind::NotIn
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            HashJoinKind::Inner => "Hash Join",
            HashJoinKind::Left => "Hash Left Join",
            HashJoinKind::Right => "Hash Right Join",
            HashJoinKind::Full => "Hash Full Join",
            HashJoinKind::Semi => "Hash Semi Join",
            HashJoinKind::Anti | HashJoinKind::NotIn => "Hash Anti Join",
        }
    }
}

/// An equi-join: `left_keys[i] = right_keys[i]` for every i, then
/// `residual` over the joined row (left columns, then right columns).
#[derive(Debug, Clone)]
pub struct HashJoin {
    pub kind: HashJoinKind,
    pub left: Plan,
    pub right: Plan,
    /// Over the left input's row.
    pub left_keys: Vec<Expr>,
    /// Over the right input's row.
    pub right_keys: Vec<Expr>,
    pub residual: Option<Expr>,
    /// Inner joins only: build the table on the left input (the smaller
    /// one) and probe with the right; the output columns stay l ++ r.
    pub build_left: bool,
}

impl HashJoin {
    pub fn width(&self) -> usize {
        if self.kind.left_only() {
            self.left.width()
        } else {
            self.left.width() + self.right.width()
        }
    }
}

fn eval_cx<'r>(cx: &'r ExecContext<'_>, row: &'r [Value]) -> EvalContext<'r> {
    EvalContext {
        row,
        params: cx.params,
        outer: cx.outer,
        settings: cx.settings,
        txn: cx.txn,
    }
}

/// The join key of `row`, `None` if a part is NULL (it matches nothing).
fn key_of(keys: &[Expr], row: &[Value], cx: &ExecContext<'_>) -> Result<Option<Vec<KeyPart>>> {
    let ctx = eval_cx(cx, row);
    let mut vals = Vec::with_capacity(keys.len());
    for k in keys {
        let v = k.eval(&ctx)?;
        if v.is_null() {
            return Ok(None);
        }
        vals.push(v);
    }
    Ok(Some(row_key(&vals)))
}

/// Rows of `rows` by key; rows with a NULL key part are left out. Also
/// says whether some row had a NULL key.
type Table = HashMap<Vec<KeyPart>, Vec<usize>>;

fn build(keys: &[Expr], rows: &[Row], cx: &ExecContext<'_>) -> Result<(Table, bool)> {
    let mut table: Table = HashMap::with_capacity(rows.len());
    let mut saw_null = false;
    for (i, row) in rows.iter().enumerate() {
        super::signals::check()?;
        match key_of(keys, row, cx)? {
            Some(k) => table.entry(k).or_default().push(i),
            None => saw_null = true,
        }
    }
    Ok((table, saw_null))
}

fn joined(l: &[Value], r: &[Value]) -> Row {
    let mut row = Vec::with_capacity(l.len() + r.len());
    row.extend_from_slice(l);
    row.extend_from_slice(r);
    row
}

fn passes(residual: &Option<Expr>, row: &[Value], cx: &ExecContext<'_>) -> Result<bool> {
    match residual {
        None => Ok(true),
        Some(p) => Ok(p.eval(&eval_cx(cx, row))? == Value::Bool(true)),
    }
}

pub fn run(j: &HashJoin, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let lw = j.left.width();
    let rw = j.right.width();
    let mut out = Vec::new();
    if j.build_left && j.kind == HashJoinKind::Inner {
        // Build on the left rows, stream the right ones through.
        let l = super::execute::collect(&j.left, cx)?;
        let (table, _) = build(&j.left_keys, &l, cx)?;
        if table.is_empty() {
            return Ok(out);
        }
        super::execute::stream(&j.right, cx, &mut |rrow| {
            let Some(k) = key_of(&j.right_keys, &rrow, cx)? else {
                return Ok(true);
            };
            if let Some(ms) = table.get(&k) {
                for &i in ms {
                    let row = joined(&l[i], &rrow);
                    if passes(&j.residual, &row, cx)? {
                        out.push(row);
                    }
                }
            }
            Ok(true)
        })?;
        return Ok(out);
    }
    let r = super::execute::collect(&j.right, cx)?;
    let (table, right_null) = build(&j.right_keys, &r, cx)?;
    if j.kind == HashJoinKind::NotIn {
        if r.is_empty() {
            return super::execute::collect(&j.left, cx);
        }
        if right_null {
            return Ok(out);
        }
        super::execute::stream(&j.left, cx, &mut |lrow| {
            if let Some(k) = key_of(&j.left_keys, &lrow, cx)?
                && !table.contains_key(&k)
            {
                out.push(lrow);
            }
            Ok(true)
        })?;
        return Ok(out);
    }
    // An inner or semi join with nothing to match has no rows: the probe
    // side need not run at all.
    if table.is_empty() && matches!(j.kind, HashJoinKind::Inner | HashJoinKind::Semi) {
        return Ok(out);
    }
    let mut right_matched = vec![false; r.len()];
    super::execute::stream(&j.left, cx, &mut |lrow| {
        let mut matched = false;
        if let Some(k) = key_of(&j.left_keys, &lrow, cx)?
            && let Some(ms) = table.get(&k)
        {
            for &i in ms {
                let row = joined(&lrow, &r[i]);
                if !passes(&j.residual, &row, cx)? {
                    continue;
                }
                matched = true;
                match j.kind {
                    HashJoinKind::Semi | HashJoinKind::Anti => break,
                    _ => {
                        right_matched[i] = true;
                        out.push(row);
                    }
                }
            }
        }
        match j.kind {
            HashJoinKind::Semi if matched => out.push(lrow),
            HashJoinKind::Anti if !matched => out.push(lrow),
            HashJoinKind::Left | HashJoinKind::Full if !matched => {
                let mut row = lrow;
                row.extend(std::iter::repeat_n(Value::Null, rw));
                out.push(row);
            }
            _ => {}
        }
        Ok(true)
    })?;
    if matches!(j.kind, HashJoinKind::Right | HashJoinKind::Full) {
        for (i, rrow) in r.iter().enumerate() {
            if !right_matched[i] {
                let mut row = vec![Value::Null; lw];
                row.extend_from_slice(rrow);
                out.push(row);
            }
        }
    }
    Ok(out)
}
