//! Execution: runs a [`Plan`] and produces rows.
//!
//! Each operator drains its input into a vector of rows and hands a vector
//! on. That is all queries without tables need; pulled iterators over
//! storage scans replace the leaves when tables arrive.
//!
//! Owns: operator semantics (filter keeps only TRUE, DISTINCT treats NULLs
//! as equal, a stable sort with NULLS LAST by default, LIMIT/OFFSET errors).
//! Never: binds or resolves types.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::aggregate::AggRunner;
use super::expr::{EvalContext, compare_nulls_last};
use super::plan::SortKey;
use super::plan::{JoinKind, Plan, SetOpKind};
use super::scan::{TxnCell, scan_each};

pub type Row = Vec<Value>;

/// What evaluation needs from the session.
pub struct ExecContext<'a> {
    pub params: &'a [Value],
    /// The enclosing query's values a correlated subquery reads (empty at
    /// the top level; see [`super::expr::SubPlan`]).
    pub outer: &'a [Value],
    pub settings: &'a dyn Fn(&str) -> Result<String>,
    /// The statement's transaction (tables are read through it).
    pub txn: Option<&'a TxnCell>,
}

pub fn run(plan: &Plan, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    super::stack_depth::check()?;
    // EXPLAIN ANALYZE counts rows, loops and time per node.
    if super::explain::profiling() {
        let start = std::time::Instant::now();
        let rows = run_node(plan, cx)?;
        super::explain::record(plan, rows.len(), start.elapsed());
        return Ok(rows);
    }
    run_node(plan, cx)
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

/// A consumer of rows; returns `false` when it wants no more.
pub type Sink<'s> = dyn FnMut(Row) -> Result<bool> + 's;

/// Feeds `plan`'s rows to `sink` one at a time without collecting them:
/// scans, filters, projections, limits and hash joins (as their probe side
/// streams) pass each row straight on, so an aggregate, sort or join over
/// them holds only what it keeps. Other
/// nodes (and every node under EXPLAIN ANALYZE, which counts per node)
/// run whole and hand their rows on.
pub fn stream(plan: &Plan, cx: &ExecContext<'_>, sink: &mut Sink<'_>) -> Result<()> {
    super::stack_depth::check()?;
    if super::explain::profiling() {
        for row in run(plan, cx)? {
            if !sink(row)? {
                break;
            }
        }
        return Ok(());
    }
    stream_node(plan, cx, sink)
}

/// [`stream`] of `plan` itself (its inputs still go through [`stream`],
/// so EXPLAIN ANALYZE counts them).
fn stream_node(plan: &Plan, cx: &ExecContext<'_>, sink: &mut Sink<'_>) -> Result<()> {
    match plan {
        Plan::Scan {
            table,
            access,
            with_key,
            needed,
        } => scan_each(
            table,
            access,
            *with_key,
            needed.as_deref(),
            cx.txn,
            &eval_cx(cx, &[]),
            sink,
        ),
        Plan::Filter { input, predicate } => stream(input, cx, &mut |row| {
            if predicate.eval(&eval_cx(cx, &row))? == Value::Bool(true) {
                sink(row)
            } else {
                Ok(true)
            }
        }),
        Plan::Project { input, exprs } => stream(input, cx, &mut |row| {
            let ctx = eval_cx(cx, &row);
            let mut projected = Vec::with_capacity(exprs.len());
            for e in exprs {
                projected.push(e.eval(&ctx)?);
            }
            sink(projected)
        }),
        Plan::Limit {
            input,
            limit,
            offset,
        } if !matches!(input.as_ref(), Plan::Sort { .. }) => {
            let (limit, offset) = limit_offset(limit, offset, cx)?;
            if limit == Some(0) {
                return Ok(());
            }
            let mut skipped = 0;
            let mut taken = 0;
            stream(input, cx, &mut |row| {
                if skipped < offset {
                    skipped += 1;
                    return Ok(true);
                }
                taken += 1;
                let more = limit.is_none_or(|l| taken < l);
                Ok(sink(row)? && more)
            })
        }
        Plan::HashJoin(j) => super::join::stream(j, cx, sink),
        Plan::Sort { input, keys } => sort(plan, input, keys, cx, sink),
        Plan::Window { input, calls } if super::window::one_window(calls) => {
            super::window::stream(input, calls, cx, sink)
        }
        other => {
            for row in run_node(other, cx)? {
                if !sink(row)? {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// `plan`'s rows, collected through [`stream`].
pub fn collect(plan: &Plan, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    stream(plan, cx, &mut |row| {
        out.push(row);
        Ok(true)
    })?;
    Ok(out)
}

/// A LIMIT's and an OFFSET's values (`None`: no limit).
fn limit_offset(
    limit: &Option<super::expr::Expr>,
    offset: &Option<super::expr::Expr>,
    cx: &ExecContext<'_>,
) -> Result<(Option<usize>, usize)> {
    let ctx = eval_cx(cx, &[]);
    let limit = match limit {
        None => None,
        Some(e) => match e.eval(&ctx)? {
            Value::Null => None,
            Value::Int8(n) if n < 0 => {
                return Err(Error::new(SqlState("2201W"), "LIMIT must not be negative"));
            }
            Value::Int8(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            other => return Err(Error::internal(format!("LIMIT evaluated to {other:?}"))),
        },
    };
    let offset = match offset {
        None => 0,
        Some(e) => match e.eval(&ctx)? {
            Value::Null => 0,
            Value::Int8(n) if n < 0 => {
                return Err(Error::new(SqlState("2201X"), "OFFSET must not be negative"));
            }
            Value::Int8(n) => usize::try_from(n).unwrap_or(usize::MAX),
            other => return Err(Error::internal(format!("OFFSET evaluated to {other:?}"))),
        },
    };
    Ok((limit, offset))
}

/// Orders two rows by `keys` (NULLS LAST unless a key says otherwise);
/// the first comparison error lands in `failure`.
fn compare_rows(
    a: &[Value],
    b: &[Value],
    keys: &[SortKey],
    failure: &mut Option<Error>,
) -> Ordering {
    for k in keys {
        let (x, y) = match (a.get(k.column), b.get(k.column)) {
            (Some(x), Some(y)) => (x, y),
            _ => return Ordering::Equal,
        };
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => match compare_nulls_last(x, y) {
                Ok(o) => {
                    if k.desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
                Err(e) => {
                    failure.get_or_insert(e);
                    Ordering::Equal
                }
            },
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Sorts `input`'s rows by `keys` (stable) and feeds them to `sink`:
/// in memory while they fit in `work_mem`, else as sorted runs in
/// temporary files merged at the end ([`super::spill::ExternalSort`]).
fn sort(
    plan: &Plan,
    input: &Plan,
    keys: &[SortKey],
    cx: &ExecContext<'_>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let failure: std::cell::RefCell<Option<Error>> = std::cell::RefCell::new(None);
    let cmp = |a: &Row, b: &Row| match failure.try_borrow_mut() {
        Ok(mut f) => compare_rows(a, b, keys, &mut f),
        Err(_) => Ordering::Equal,
    };
    let mut sorter =
        super::spill::ExternalSort::new(super::settings::work_mem_bytes(cx.settings), cmp);
    let mut pushed: Result<()> = Ok(());
    stream(input, cx, &mut |row| {
        pushed = sorter.push(row);
        Ok(pushed.is_ok() && failure.borrow().is_none())
    })?;
    pushed?;
    if let Some(e) = failure.borrow_mut().take() {
        return Err(e);
    }
    let stats = sorter.finish(&mut |row| {
        if failure.borrow().is_some() {
            return Ok(false);
        }
        sink(row)
    })?;
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    super::explain::note(plan, stats.describe());
    Ok(())
}

/// `ORDER BY keys LIMIT n` without sorting everything: keeps the first
/// `n` rows of the stable sort in a buffer of at most `2n` (cut back to
/// `n` by selection whenever it fills), ties broken by arrival, so the
/// answer is the full stable sort's first `n` rows.
fn top_n(input: &Plan, keys: &[SortKey], n: usize, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let mut failure: Option<Error> = None;
    let mut buf: Vec<(usize, Row)> = Vec::new();
    let cap = n.saturating_mul(2).max(64);
    let mut seq = 0usize;
    let cmp = |a: &(usize, Row), b: &(usize, Row), failure: &mut Option<Error>| {
        compare_rows(&a.1, &b.1, keys, failure).then(a.0.cmp(&b.0))
    };
    stream(input, cx, &mut |row| {
        buf.push((seq, row));
        seq += 1;
        if buf.len() >= cap {
            buf.select_nth_unstable_by(n - 1, |a, b| cmp(a, b, &mut failure));
            buf.truncate(n);
        }
        Ok(failure.is_none())
    })?;
    buf.sort_by(|a, b| cmp(a, b, &mut failure));
    buf.truncate(n);
    match failure {
        Some(e) => Err(e),
        None => Ok(buf.into_iter().map(|(_, r)| r).collect()),
    }
}

fn run_node(plan: &Plan, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    match plan {
        Plan::Scan { .. } | Plan::Filter { .. } | Plan::Project { .. } => {
            let mut out = Vec::new();
            stream_node(plan, cx, &mut |row| {
                out.push(row);
                Ok(true)
            })?;
            Ok(out)
        }
        Plan::Values { rows, .. } => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                super::signals::check()?;
                let ctx = eval_cx(cx, &[]);
                let mut row = Vec::with_capacity(r.len());
                for e in r {
                    row.push(e.eval(&ctx)?);
                }
                out.push(row);
            }
            Ok(out)
        }
        Plan::Distinct { input } => {
            let mut out = Vec::new();
            distinct_spilling(plan, &mut |feed| stream(input, cx, feed), cx, &mut |row| {
                out.push(row);
                Ok(true)
            })?;
            Ok(out)
        }
        Plan::Unique { input, keys } => {
            let rows = run(input, cx)?;
            let mut out: Vec<Row> = Vec::new();
            let mut last: Option<Vec<KeyPart>> = None;
            for row in rows {
                let key: Row = keys
                    .iter()
                    .map(|&k| row.get(k).cloned().unwrap_or(Value::Null))
                    .collect();
                let key = row_key(&key);
                if last.as_ref() != Some(&key) {
                    last = Some(key);
                    out.push(row);
                }
            }
            Ok(out)
        }
        Plan::HashJoin(j) => super::join::run(j, cx),
        Plan::Window { input, calls } if super::window::one_window(calls) => {
            let mut out = Vec::new();
            super::window::stream(input, calls, cx, &mut |row| {
                out.push(row);
                Ok(true)
            })?;
            Ok(out)
        }
        Plan::Window { input, calls } => super::window::run(run(input, cx)?, calls, cx),
        Plan::FunctionScan { calls, ordinality } => super::srf::run_scan(calls, *ordinality, cx),
        Plan::RecursiveUnion {
            anchor,
            recursive,
            all,
            work,
        } => super::recursive::run(anchor, recursive, *all, work, cx),
        Plan::WorkTable { work, .. } => Ok(work.rows()),
        Plan::ProjectSet { input, calls } => {
            super::srf::run_project_set(run(input, cx)?, calls, cx)
        }
        Plan::Lateral {
            kind,
            left,
            right,
            correlated,
            on,
        } => super::lateral::run(*kind, left, right, correlated, on.as_ref(), cx),
        Plan::Join {
            kind,
            left,
            right,
            on,
        } => {
            let l = run(left, cx)?;
            let r = run(right, cx)?;
            let lw = l
                .first()
                .map(|row| row.len())
                .unwrap_or_else(|| left.width());
            let rw = r
                .first()
                .map(|row| row.len())
                .unwrap_or_else(|| right.width());
            let mut right_matched = vec![false; r.len()];
            let mut out = Vec::new();
            for lrow in &l {
                let mut matched = false;
                for (j, rrow) in r.iter().enumerate() {
                    // CancelRequest / statement_timeout: one atomic load.
                    super::signals::check()?;
                    let mut row = Vec::with_capacity(lw + rw);
                    row.extend_from_slice(lrow);
                    row.extend_from_slice(rrow);
                    let keep = match on {
                        None => true,
                        Some(p) => p.eval(&eval_cx(cx, &row))? == Value::Bool(true),
                    };
                    if keep {
                        matched = true;
                        right_matched[j] = true;
                        out.push(row);
                    }
                }
                if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
                    let mut row = lrow.clone();
                    row.extend(std::iter::repeat_n(Value::Null, rw));
                    out.push(row);
                }
            }
            if matches!(kind, JoinKind::Right | JoinKind::Full) {
                for (j, rrow) in r.iter().enumerate() {
                    if !right_matched[j] {
                        let mut row = vec![Value::Null; lw];
                        row.extend_from_slice(rrow);
                        out.push(row);
                    }
                }
            }
            Ok(out)
        }
        Plan::Aggregate { input, keys, aggs } => aggregate(plan, input, keys, aggs, cx),
        Plan::SetOp {
            kind,
            all,
            left,
            right,
        } => {
            let l = run(left, cx)?;
            let r = run(right, cx)?;
            let out = match kind {
                SetOpKind::Union => {
                    let mut rows = l;
                    rows.extend(r);
                    rows
                }
                SetOpKind::Intersect | SetOpKind::Except => {
                    // Multiset semantics: each right row matches one left row.
                    // Without ALL the left side is a set first, or a left row
                    // seen twice would outlive one right match (EXCEPT).
                    let l = if *all { l } else { distinct(l)? };
                    let mut remaining: HashMap<Vec<KeyPart>, usize> = HashMap::new();
                    for row in &r {
                        *remaining.entry(row_key(row)).or_insert(0) += 1;
                    }
                    let mut out = Vec::new();
                    for row in l {
                        let matched = match remaining.get_mut(&row_key(&row)) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                true
                            }
                            _ => false,
                        };
                        if matched == (*kind == SetOpKind::Intersect) {
                            out.push(row);
                        }
                    }
                    out
                }
            };
            if *all {
                return Ok(out);
            }
            let mut rows = out.into_iter();
            let mut distinct = Vec::new();
            distinct_spilling(
                plan,
                &mut |feed| {
                    for row in rows.by_ref() {
                        if !feed(row)? {
                            break;
                        }
                    }
                    Ok(())
                },
                cx,
                &mut |row| {
                    distinct.push(row);
                    Ok(true)
                },
            )?;
            Ok(distinct)
        }
        Plan::Sort { input, keys } => {
            let mut rows = Vec::new();
            sort(plan, input, keys, cx, &mut |row| {
                rows.push(row);
                Ok(true)
            })?;
            Ok(rows)
        }
        Plan::LockRows { input, spec } => super::locking::run(run(input, cx)?, spec, cx),
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            let (limit, offset) = limit_offset(limit, offset, cx)?;
            if let (
                Some(l),
                Plan::Sort {
                    input: sorted,
                    keys,
                },
            ) = (limit, input.as_ref())
                && !super::explain::profiling()
            {
                let n = l.saturating_add(offset);
                if n == 0 {
                    return Ok(Vec::new());
                }
                let rows = top_n(sorted, keys, n, cx)?;
                return Ok(rows.into_iter().skip(offset).collect());
            }
            let rows = collect(input, cx)?;
            Ok(rows
                .into_iter()
                .skip(offset)
                .take(limit.unwrap_or(usize::MAX))
                .collect())
        }
    }
}

/// Partitions a hash aggregation or join spills into at each level.
const SPILL_PARTITIONS: usize = 16;
/// Beyond this many levels of partitions, a partition is processed in
/// memory whatever its size (its keys hash alike at every level).
const MAX_SPILL_LEVEL: u32 = 12;

/// What a hash aggregation did, for EXPLAIN ANALYZE.
#[derive(Default)]
struct AggStats {
    batches: usize,
    peak: usize,
    disk: u64,
}

impl AggStats {
    /// PostgreSQL's `Batches: …  Memory Usage: …` line of a HashAggregate.
    fn describe(&self) -> String {
        let mut line = format!(
            "Batches: {}  Memory Usage: {}kB",
            self.batches,
            self.peak.div_ceil(1024)
        );
        if self.disk > 0 {
            line.push_str(&format!("  Disk Usage: {}kB", self.disk.div_ceil(1024)));
        }
        line
    }
}

/// GROUP BY `keys` computing `aggs`, groups in a hash table while it fits
/// in `work_mem`. Beyond that, input rows of groups not in the table go
/// to [`SPILL_PARTITIONS`] temporary files by a hash of their key (the
/// groups in the table go on absorbing their rows) and each file is
/// aggregated the same way afterwards, with the next level's hash.
fn aggregate(
    plan: &Plan,
    input: &Plan,
    keys: &[super::expr::Expr],
    aggs: &[super::plan::AggCall],
    cx: &ExecContext<'_>,
) -> Result<Vec<Row>> {
    let limit = super::settings::hash_mem_bytes(cx.settings);
    let mut out = Vec::new();
    let mut stats = AggStats {
        batches: 1,
        ..AggStats::default()
    };
    let spilled = aggregate_pass(
        keys,
        aggs,
        cx,
        limit,
        0,
        &mut |feed| stream(input, cx, feed),
        &mut out,
        &mut stats,
    )?;
    let mut work: Vec<(super::spill::SpillRun, u32)> =
        spilled.into_iter().map(|r| (r, 1)).collect();
    while let Some((run, level)) = work.pop() {
        stats.batches += 1;
        stats.disk += run.bytes();
        let mut reader = run.reader()?;
        let more = aggregate_pass(
            keys,
            aggs,
            cx,
            limit,
            level,
            &mut |feed| {
                while let Some(row) = reader.next_row()? {
                    if !feed(row)? {
                        break;
                    }
                }
                Ok(())
            },
            &mut out,
            &mut stats,
        )?;
        work.extend(more.into_iter().map(|r| (r, level + 1)));
    }
    if keys.is_empty() && out.is_empty() {
        // No input rows: one row of the aggregates' empty values.
        let mut row = Vec::with_capacity(aggs.len());
        for a in aggs {
            row.push(AggRunner::new(a).finish(a)?);
        }
        out.push(row);
    }
    if !keys.is_empty() {
        super::explain::note(plan, stats.describe());
    }
    Ok(out)
}

/// One pass of [`aggregate`] over the rows `source` feeds: the groups it
/// could hold go to `out`, the rows of the others come back partitioned.
#[allow(clippy::too_many_arguments)]
fn aggregate_pass(
    keys: &[super::expr::Expr],
    aggs: &[super::plan::AggCall],
    cx: &ExecContext<'_>,
    limit: usize,
    level: u32,
    source: &mut dyn FnMut(&mut Sink<'_>) -> Result<()>,
    out: &mut Vec<Row>,
    stats: &mut AggStats,
) -> Result<Vec<super::spill::SpillRun>> {
    // Groups in order of first appearance: key values, one runner per aggregate.
    type Group = (Row, Vec<AggRunner>);
    let new_group = |key: Row| -> Group { (key, aggs.iter().map(AggRunner::new).collect()) };
    // Aggregates whose state grows with their input (DISTINCT, ORDER BY,
    // string_agg, array_agg, …): each row fed counts as kept.
    let collecting = aggs.iter().any(|a| {
        a.distinct
            || !a.order.is_empty()
            || matches!(
                a.func,
                super::aggregate::AggFunc::StringAgg
                    | super::aggregate::AggFunc::ArrayAgg
                    | super::aggregate::AggFunc::JsonAgg { .. }
                    | super::aggregate::AggFunc::JsonObjectAgg { .. }
            )
    });
    let group_overhead = 64 + aggs.len() * std::mem::size_of::<AggRunner>();
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Vec<KeyPart>, usize> = HashMap::new();
    let mut mem = 0usize;
    let mut parts: Option<super::spill::Partitions> = None;
    source(&mut |row| {
        super::signals::check()?;
        let ctx = eval_cx(cx, &row);
        let mut key = Vec::with_capacity(keys.len());
        for k in keys {
            key.push(k.eval(&ctx)?);
        }
        let gi = if keys.is_empty() {
            if groups.is_empty() {
                groups.push(new_group(Vec::new()));
            }
            0
        } else {
            let rk = row_key(&key);
            match index.get(&rk) {
                Some(&i) => i,
                None if mem > limit && !groups.is_empty() && level < MAX_SPILL_LEVEL => {
                    // The table is full: the row waits for a later pass.
                    let part = super::spill::partition_of(&rk, level, SPILL_PARTITIONS);
                    let p = match &mut parts {
                        Some(p) => p,
                        None => parts.insert(super::spill::Partitions::new(SPILL_PARTITIONS)),
                    };
                    p.push(part, &row)?;
                    return Ok(true);
                }
                None => {
                    mem += 2 * super::spill::row_size(&key) + group_overhead;
                    index.insert(rk, groups.len());
                    groups.push(new_group(key));
                    groups.len() - 1
                }
            }
        };
        if collecting {
            mem += super::spill::row_size(&row);
        }
        for (runner, a) in groups[gi].1.iter_mut().zip(aggs) {
            runner.feed(a, &ctx)?;
        }
        Ok(true)
    })?;
    stats.peak = stats.peak.max(mem);
    drop(index);
    out.reserve(groups.len());
    for (key, runners) in groups {
        let mut row = key;
        for (runner, a) in runners.into_iter().zip(aggs) {
            row.push(runner.finish(a)?);
        }
        out.push(row);
    }
    match parts {
        None => Ok(Vec::new()),
        Some(p) => p.finish(),
    }
}

/// A value as a hashable key with SQL equality within one type: numeric
/// ignores its display scale (`1.0 = 1.00`), floats treat `-0 = 0` and
/// `NaN = NaN`, NULLs group together (as GROUP BY and DISTINCT want).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyPart {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Numeric(String),
    /// A finite numeric: sign, weight and base-10000 digits.
    Decimal {
        negative: bool,
        weight: i16,
        digits: Vec<u16>,
    },
    Text(String),
    Bytes(Vec<u8>),
}

/// `v` as a hashable part of a key (equal exactly when SQL `=` is true
/// for values of one type; NULL is a part of its own).
pub fn key_part(v: &Value) -> KeyPart {
    let float = |f: f64| {
        if f.is_nan() {
            KeyPart::Float(f64::NAN.to_bits())
        } else if f == 0.0 {
            KeyPart::Float(0f64.to_bits())
        } else {
            KeyPart::Float(f.to_bits())
        }
    };
    match v {
        Value::Null => KeyPart::Null,
        Value::Bool(b) => KeyPart::Bool(*b),
        Value::Int2(i) => KeyPart::Int(*i as i64),
        Value::Int4(i) => KeyPart::Int(*i as i64),
        Value::Int8(i) => KeyPart::Int(*i),
        Value::Float4(f) => float(*f as f64),
        Value::Float8(f) => float(*f),
        // Finite digits are canonical (no leading or trailing zero digit),
        // so sign, weight and digits identify the value whatever its
        // display scale; the special values by name.
        Value::Numeric(n) if !n.is_nan() && !n.is_infinite() => KeyPart::Decimal {
            negative: n.sign == crate::types::numeric::NumericSign::Negative
                && !n.digits.is_empty(),
            weight: if n.digits.is_empty() { 0 } else { n.weight },
            digits: n.digits.clone(),
        },
        Value::Numeric(n) => KeyPart::Numeric(n.to_string()),
        Value::Text(s) => KeyPart::Text(s.clone()),
        Value::Bytea(b) => KeyPart::Bytes(b.clone()),
        Value::Date(d) => KeyPart::Int(*d as i64),
        Value::Time(t) | Value::Timestamp(t) | Value::Timestamptz(t) => KeyPart::Int(*t),
        Value::Interval(iv) => KeyPart::Numeric(iv.cmp_key().to_string()),
        Value::Uuid(u) => KeyPart::Bytes(u.to_vec()),
        Value::Json(s) => KeyPart::Text(s.clone()),
        Value::Jsonb(j) => KeyPart::Text(j.to_text()),
        Value::Array(items) => KeyPart::Bytes(crate::catalog::key::encode_key(items)),
    }
}

pub fn row_key(row: &[Value]) -> Vec<KeyPart> {
    row.iter().map(key_part).collect()
}

/// Feeds `sink` the first of each group of equal rows (NULLs equal) of
/// the rows `source` feeds, the rows seen kept in a hash set while it
/// fits in `work_mem`. Beyond that, rows not in the set go to partitions
/// by hash (in arrival order, so each partition's first of a group is the
/// first overall) and each partition is made distinct the same way.
fn distinct_spilling(
    plan: &Plan,
    source: &mut dyn FnMut(&mut Sink<'_>) -> Result<()>,
    cx: &ExecContext<'_>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let limit = super::settings::hash_mem_bytes(cx.settings);
    let mut stats = AggStats {
        batches: 1,
        ..AggStats::default()
    };
    let mut stopped = false;
    let mut work: Vec<(super::spill::SpillRun, u32)> = Vec::new();
    let mut pass = |source: &mut dyn FnMut(&mut Sink<'_>) -> Result<()>,
                    level: u32,
                    stopped: &mut bool,
                    stats: &mut AggStats|
     -> Result<Vec<super::spill::SpillRun>> {
        let mut seen: HashSet<Vec<KeyPart>> = HashSet::new();
        let mut mem = 0usize;
        let mut parts: Option<super::spill::Partitions> = None;
        source(&mut |row| {
            super::signals::check()?;
            let key = row_key(&row);
            if seen.contains(&key) {
                return Ok(true);
            }
            if mem > limit && level < MAX_SPILL_LEVEL {
                let part = super::spill::partition_of(&key, level, SPILL_PARTITIONS);
                let p = match &mut parts {
                    Some(p) => p,
                    None => parts.insert(super::spill::Partitions::new(SPILL_PARTITIONS)),
                };
                p.push(part, &row)?;
                return Ok(true);
            }
            mem += 2 * super::spill::row_size(&row);
            seen.insert(key);
            if !sink(row)? {
                *stopped = true;
                return Ok(false);
            }
            Ok(true)
        })?;
        stats.peak = stats.peak.max(mem);
        match parts {
            Some(p) if !*stopped => p.finish(),
            _ => Ok(Vec::new()),
        }
    };
    let first = pass(source, 0, &mut stopped, &mut stats)?;
    work.extend(first.into_iter().map(|r| (r, 1)));
    while let Some((run, level)) = work.pop() {
        if stopped {
            break;
        }
        stats.batches += 1;
        stats.disk += run.bytes();
        let mut reader = run.reader()?;
        let more = pass(
            &mut |feed| {
                while let Some(row) = reader.next_row()? {
                    if !feed(row)? {
                        break;
                    }
                }
                Ok(())
            },
            level,
            &mut stopped,
            &mut stats,
        )?;
        work.extend(more.into_iter().map(|r| (r, level + 1)));
    }
    if matches!(plan, Plan::Distinct { .. }) {
        super::explain::note(plan, stats.describe());
    }
    Ok(())
}

/// Keeps the first of each group of equal rows (NULLs equal).
fn distinct(rows: Vec<Row>) -> Result<Vec<Row>> {
    let mut seen = HashSet::with_capacity(rows.len());
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(row_key(r)))
        .collect())
}
