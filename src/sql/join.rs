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
use super::spill::{Partitions, SpillRun, partition_of, row_size};

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
///
/// A build side larger than `work_mem` makes it a grace hash join: both
/// sides are partitioned by a hash of their key into temporary files and
/// joined partition by partition ([`partitioned`]).
pub fn stream(j: &HashJoin, cx: &ExecContext<'_>, sink: &mut Sink<'_>) -> Result<()> {
    let limit = super::settings::hash_mem_bytes(cx.settings);
    let side = Side::of(j);
    let mut rows: Vec<Row> = Vec::new();
    let mut mem = 0usize;
    let mut parts: Option<Partitions> = None;
    let mut build_null = false;
    let keep_null_build = matches!(j.kind, HashJoinKind::Right | HashJoinKind::Full);
    let route = |p: &mut Partitions, row: Row, build_null: &mut bool| -> Result<()> {
        match key_of(side.build_keys, &row, cx)? {
            Some(k) => p.push(partition_of(&k, 0, SPILL_PARTITIONS), &row),
            None => {
                *build_null = true;
                // Never matched, but a right or full join emits it.
                if keep_null_build {
                    p.push(0, &row)?;
                }
                Ok(())
            }
        }
    };
    super::execute::stream(side.build, cx, &mut |row| {
        if let Some(p) = &mut parts {
            route(p, row, &mut build_null)?;
            return Ok(true);
        }
        mem += row_size(&row);
        rows.push(row);
        if mem > limit {
            let mut p = Partitions::new(SPILL_PARTITIONS);
            for row in rows.drain(..) {
                route(&mut p, row, &mut build_null)?;
            }
            rows = Vec::new();
            parts = Some(p);
        }
        Ok(true)
    })?;
    let Some(parts) = parts else {
        super::explain::note_at(
            j as *const HashJoin as usize,
            format!("Batches: 1  Memory Usage: {}kB", mem.div_ceil(1024)),
        );
        join_in_memory(
            j,
            &side,
            &rows,
            &mut |probe| super::execute::stream(side.probe, cx, probe),
            cx,
            sink,
        )?;
        return Ok(());
    };
    // NOT IN a set with a NULL is never true (the set is not empty: it
    // outgrew work_mem).
    if j.kind == HashJoinKind::NotIn && build_null {
        return Ok(());
    }
    let build = parts.finish_all()?;
    let mut probe = Partitions::new(SPILL_PARTITIONS);
    let rw = j.right.width();
    let mut stopped = false;
    super::execute::stream(side.probe, cx, &mut |row| {
        match key_of(side.probe_keys, &row, cx)? {
            Some(k) => probe.push(partition_of(&k, 0, SPILL_PARTITIONS), &row)?,
            // A NULL key matches nothing: out at once if the join keeps it.
            None => {
                let out = match j.kind {
                    HashJoinKind::Left | HashJoinKind::Full => {
                        let mut row = row;
                        row.extend(std::iter::repeat_n(Value::Null, rw));
                        Some(row)
                    }
                    HashJoinKind::Anti => Some(row),
                    _ => None,
                };
                if let Some(row) = out
                    && !sink(row)?
                {
                    stopped = true;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    })?;
    if stopped {
        return Ok(());
    }
    let probe = probe.finish_all()?;
    let mut stats = JoinStats {
        batches: SPILL_PARTITIONS,
        peak: limit,
    };
    for (b, p) in build.into_iter().zip(probe) {
        if partitioned(j, &side, b, p, 1, limit, cx, sink, &mut stats)? {
            break;
        }
    }
    super::explain::note_at(
        j as *const HashJoin as usize,
        format!(
            "Batches: {}  Memory Usage: {}kB",
            stats.batches,
            stats.peak.div_ceil(1024)
        ),
    );
    Ok(())
}

/// Partitions a hash join spills into at each level.
const SPILL_PARTITIONS: usize = 16;
/// Beyond this many levels a partition is joined in memory whatever its
/// size (its keys hash alike at every level, e.g. one key).
const MAX_SPILL_LEVEL: u32 = 6;

struct JoinStats {
    batches: usize,
    peak: usize,
}

/// Which input is hashed (build) and which streams through (probe).
struct Side<'j> {
    build: &'j Plan,
    build_keys: &'j [Expr],
    probe: &'j Plan,
    probe_keys: &'j [Expr],
    /// Output rows are probe ++ build (else build ++ probe).
    probe_first: bool,
}

impl Side<'_> {
    fn of(j: &HashJoin) -> Side<'_> {
        if j.build_left && j.kind == HashJoinKind::Inner {
            Side {
                build: &j.left,
                build_keys: &j.left_keys,
                probe: &j.right,
                probe_keys: &j.right_keys,
                probe_first: false,
            }
        } else {
            Side {
                build: &j.right,
                build_keys: &j.right_keys,
                probe: &j.left,
                probe_keys: &j.left_keys,
                probe_first: true,
            }
        }
    }
}

/// Joins one pair of partition files (build, probe): in memory if the
/// build rows fit, else partitioned again with the next level's hash.
/// Returns whether the sink wanted no more rows.
#[allow(clippy::too_many_arguments)]
fn partitioned(
    j: &HashJoin,
    side: &Side<'_>,
    build: Option<SpillRun>,
    probe: Option<SpillRun>,
    level: u32,
    limit: usize,
    cx: &ExecContext<'_>,
    sink: &mut Sink<'_>,
    stats: &mut JoinStats,
) -> Result<bool> {
    super::signals::check()?;
    let mut rows = Vec::new();
    let mut mem = 0usize;
    let mut reader = build.map(SpillRun::reader).transpose()?;
    let mut sub: Option<Partitions> = None;
    if let Some(r) = &mut reader {
        while let Some(row) = r.next_row()? {
            if let Some(p) = &mut sub {
                push_keyed(p, side.build_keys, row, level, cx)?;
                continue;
            }
            mem += row_size(&row);
            rows.push(row);
            if mem > limit && level < MAX_SPILL_LEVEL {
                let mut p = Partitions::new(SPILL_PARTITIONS);
                for row in rows.drain(..) {
                    push_keyed(&mut p, side.build_keys, row, level, cx)?;
                }
                rows = Vec::new();
                sub = Some(p);
            }
        }
    }
    drop(reader);
    let mut probe = probe.map(SpillRun::reader).transpose()?;
    let Some(sub) = sub else {
        stats.peak = stats.peak.max(mem);
        return join_in_memory(
            j,
            side,
            &rows,
            &mut |feed| {
                if let Some(r) = &mut probe {
                    while let Some(row) = r.next_row()? {
                        if !feed(row)? {
                            break;
                        }
                    }
                }
                Ok(())
            },
            cx,
            sink,
        );
    };
    stats.batches += SPILL_PARTITIONS - 1;
    let build = sub.finish_all()?;
    let mut psub = Partitions::new(SPILL_PARTITIONS);
    if let Some(r) = &mut probe {
        while let Some(row) = r.next_row()? {
            push_keyed(&mut psub, side.probe_keys, row, level, cx)?;
        }
    }
    drop(probe);
    for (b, p) in build.into_iter().zip(psub.finish_all()?) {
        if partitioned(j, side, b, p, level + 1, limit, cx, sink, stats)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `row` to its key's partition at `level` (a NULL key, kept only
/// for a right or full join's unmatched build rows, to partition 0).
fn push_keyed(
    p: &mut Partitions,
    keys: &[Expr],
    row: Row,
    level: u32,
    cx: &ExecContext<'_>,
) -> Result<()> {
    let part = match key_of(keys, &row, cx)? {
        Some(k) => partition_of(&k, level, p.len()),
        None => 0,
    };
    p.push(part, &row)
}

/// The join of the build rows `r` with the rows `probe` feeds, through a
/// hash table of `r`. Returns whether the sink wanted no more rows.
fn join_in_memory(
    j: &HashJoin,
    side: &Side<'_>,
    r: &[Row],
    probe: &mut dyn FnMut(&mut Sink<'_>) -> Result<()>,
    cx: &ExecContext<'_>,
    sink: &mut Sink<'_>,
) -> Result<bool> {
    let lw = j.left.width();
    let rw = j.right.width();
    let (table, right_null) = build(side.build_keys, r, cx)?;
    if !side.probe_first {
        // An inner join built on the left rows, the right ones streaming.
        if table.is_empty() {
            return Ok(false);
        }
        let mut stopped = false;
        probe(&mut |rrow| {
            let Some(k) = key_of(side.probe_keys, &rrow, cx)? else {
                return Ok(true);
            };
            let Some(ms) = table.get(&k).map(Matches::as_slice) else {
                return Ok(true);
            };
            let mut probe = Some(rrow);
            for (n, &i) in ms.iter().enumerate() {
                let row = pair(&mut probe, &r[i], false, n + 1 == ms.len());
                if passes(&j.residual, &row, cx)? && !sink(row)? {
                    stopped = true;
                    return Ok(false);
                }
            }
            Ok(true)
        })?;
        return Ok(stopped);
    }
    if j.kind == HashJoinKind::NotIn {
        let mut stopped = false;
        if r.is_empty() {
            probe(&mut |lrow| {
                let more = sink(lrow)?;
                stopped = !more;
                Ok(more)
            })?;
            return Ok(stopped);
        }
        if right_null {
            return Ok(false);
        }
        probe(&mut |lrow| {
            if let Some(k) = key_of(side.probe_keys, &lrow, cx)?
                && !table.contains_key(&k)
                && !sink(lrow)?
            {
                stopped = true;
                return Ok(false);
            }
            Ok(true)
        })?;
        return Ok(stopped);
    }
    // An inner or semi join with nothing to match has no rows: the probe
    // side need not run at all.
    if table.is_empty() && matches!(j.kind, HashJoinKind::Inner | HashJoinKind::Semi) {
        return Ok(false);
    }
    let mut right_matched = vec![false; r.len()];
    let mut stopped = false;
    probe(&mut |lrow| {
        let ms: &[usize] = match key_of(side.probe_keys, &lrow, cx)? {
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
                    return Ok(true);
                }
            }
        }
    }
    Ok(stopped)
}
