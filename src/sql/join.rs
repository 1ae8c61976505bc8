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
//! The build side is collected and hashed; the probe side streams through
//! it and the joined rows go straight on to the consumer ([`stream`]), so
//! a chain of joins holds only its hash tables, never an intermediate
//! result.
//!
//! Owns: the join semantics above, keys compared with SQL equality of one
//! type ([`super::execute::key_part`]: the planner only makes hash joins of
//! keys whose equality that is).
//! Invariant: the answer is the nested-loop join's (modulo row order).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::error::Result;
use crate::types::Value;

use super::execute::{ExecContext, KeyPart, Row, Sink, key_part};
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

/// A row's join key: a single-column key (the common case) is its one
/// part, hashed without a vector around it; an integer or date key then
/// needs no allocation per row at all.
#[derive(Debug, PartialEq, Eq, Hash)]
enum JoinKey {
    One(KeyPart),
    Many(Vec<KeyPart>),
}

/// The join key of `row`, `None` if a part is NULL (it matches nothing).
fn key_of(keys: &[Expr], row: &[Value], cx: &ExecContext<'_>) -> Result<Option<JoinKey>> {
    let ctx = eval_cx(cx, row);
    if let [k] = keys {
        let v = k.eval_ref(&ctx)?;
        if v.is_null() {
            return Ok(None);
        }
        return Ok(Some(JoinKey::One(key_part(&v))));
    }
    let mut parts = Vec::with_capacity(keys.len());
    for k in keys {
        let v = k.eval_ref(&ctx)?;
        if v.is_null() {
            return Ok(None);
        }
        parts.push(key_part(&v));
    }
    Ok(Some(JoinKey::Many(parts)))
}

/// The build rows of one key: one index inline (a key column of the
/// build side, as in a foreign-key join), more in a vector.
#[derive(Debug)]
enum Matches {
    One(usize),
    Many(Vec<usize>),
}

impl Matches {
    fn as_slice(&self) -> &[usize] {
        match self {
            Matches::One(i) => std::slice::from_ref(i),
            Matches::Many(v) => v,
        }
    }

    fn push(&mut self, i: usize) {
        match self {
            Matches::One(first) => *self = Matches::Many(vec![*first, i]),
            Matches::Many(v) => v.push(i),
        }
    }
}

/// Rows of `rows` by key; rows with a NULL key part are left out. Also
/// says whether some row had a NULL key.
type Table = HashMap<JoinKey, Matches>;

fn build(keys: &[Expr], rows: &[Row], cx: &ExecContext<'_>) -> Result<(Table, bool)> {
    let mut table: Table = HashMap::with_capacity(rows.len());
    let mut saw_null = false;
    for (i, row) in rows.iter().enumerate() {
        super::signals::check()?;
        match key_of(keys, row, cx)? {
            Some(k) => match table.entry(k) {
                Entry::Occupied(mut e) => e.get_mut().push(i),
                Entry::Vacant(e) => {
                    e.insert(Matches::One(i));
                }
            },
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
    let mut out = Vec::new();
    stream(j, cx, &mut |row| {
        out.push(row);
        Ok(true)
    })?;
    Ok(out)
}

/// The probe row and a build row joined, `probe ++ build` if
/// `probe_first`, else `build ++ probe`; the probe row is moved in when
/// `last` (no later match needs it), copied otherwise.
fn pair(probe: &mut Option<Row>, build: &[Value], probe_first: bool, last: bool) -> Row {
    if last && let Some(mut p) = probe.take() {
        if probe_first {
            p.extend_from_slice(build);
            return p;
        }
        let mut row = Vec::with_capacity(build.len() + p.len());
        row.extend_from_slice(build);
        row.append(&mut p);
        return row;
    }
    let p: &[Value] = probe.as_deref().unwrap_or(&[]);
    let mut row = Vec::with_capacity(p.len() + build.len());
    if probe_first {
        row.extend_from_slice(p);
        row.extend_from_slice(build);
    } else {
        row.extend_from_slice(build);
        row.extend_from_slice(p);
    }
    row
}

/// Feeds the join's rows to `sink` as the probe side streams through the
/// built table (an inner, left, semi or anti join's rows come out while
/// the probe input is still being read; a right or full join's unmatched
/// build rows at the end). The probe row is moved into the last row it
/// makes, so a key match (the common foreign-key join) copies only the
/// build row's values.
pub fn stream(j: &HashJoin, cx: &ExecContext<'_>, sink: &mut Sink<'_>) -> Result<()> {
    let lw = j.left.width();
    let rw = j.right.width();
    if j.build_left && j.kind == HashJoinKind::Inner {
        // Build on the left rows, stream the right ones through.
        let l = super::execute::collect(&j.left, cx)?;
        let (table, _) = build(&j.left_keys, &l, cx)?;
        if table.is_empty() {
            return Ok(());
        }
        return super::execute::stream(&j.right, cx, &mut |rrow| {
            let Some(k) = key_of(&j.right_keys, &rrow, cx)? else {
                return Ok(true);
            };
            let Some(ms) = table.get(&k).map(Matches::as_slice) else {
                return Ok(true);
            };
            let mut probe = Some(rrow);
            for (n, &i) in ms.iter().enumerate() {
                let row = pair(&mut probe, &l[i], false, n + 1 == ms.len());
                if passes(&j.residual, &row, cx)? && !sink(row)? {
                    return Ok(false);
                }
            }
            Ok(true)
        });
    }
    let r = super::execute::collect(&j.right, cx)?;
    let (table, right_null) = build(&j.right_keys, &r, cx)?;
    if j.kind == HashJoinKind::NotIn {
        if r.is_empty() {
            return super::execute::stream(&j.left, cx, sink);
        }
        if right_null {
            return Ok(());
        }
        return super::execute::stream(&j.left, cx, &mut |lrow| {
            if let Some(k) = key_of(&j.left_keys, &lrow, cx)?
                && !table.contains_key(&k)
            {
                return sink(lrow);
            }
            Ok(true)
        });
    }
    // An inner or semi join with nothing to match has no rows: the probe
    // side need not run at all.
    if table.is_empty() && matches!(j.kind, HashJoinKind::Inner | HashJoinKind::Semi) {
        return Ok(());
    }
    let mut right_matched = vec![false; r.len()];
    let mut stopped = false;
    super::execute::stream(&j.left, cx, &mut |lrow| {
        let ms: &[usize] = match key_of(&j.left_keys, &lrow, cx)? {
            Some(k) => table.get(&k).map_or(&[], Matches::as_slice),
            None => &[],
        };
        if j.kind.left_only() {
            // Semi / anti: whether some build row matches (and passes).
            let mut matched = false;
            for &i in ms {
                if j.residual.is_none() || passes(&j.residual, &joined(&lrow, &r[i]), cx)? {
                    matched = true;
                    break;
                }
            }
            let keep = matches!(
                (j.kind, matched),
                (HashJoinKind::Semi, true) | (HashJoinKind::Anti, false)
            );
            if keep && !sink(lrow)? {
                stopped = true;
                return Ok(false);
            }
            return Ok(true);
        }
        let mut matched = false;
        let mut probe = Some(lrow);
        for (n, &i) in ms.iter().enumerate() {
            let last =
                n + 1 == ms.len() && !matches!(j.kind, HashJoinKind::Left | HashJoinKind::Full);
            let row = pair(&mut probe, &r[i], true, last);
            if !passes(&j.residual, &row, cx)? {
                continue;
            }
            matched = true;
            right_matched[i] = true;
            if !sink(row)? {
                stopped = true;
                return Ok(false);
            }
        }
        if !matched
            && matches!(j.kind, HashJoinKind::Left | HashJoinKind::Full)
            && let Some(mut row) = probe
        {
            row.extend(std::iter::repeat_n(Value::Null, rw));
            if !sink(row)? {
                stopped = true;
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if !stopped && matches!(j.kind, HashJoinKind::Right | HashJoinKind::Full) {
        for (i, rrow) in r.iter().enumerate() {
            if !right_matched[i] {
                let mut row = vec![Value::Null; lw];
                row.extend_from_slice(rrow);
                if !sink(row)? {
                    break;
                }
            }
        }
    }
    Ok(())
}
