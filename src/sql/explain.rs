//! EXPLAIN: the plan a statement would run, one node per line, in
//! PostgreSQL's node names (without costs, as `EXPLAIN (COSTS OFF)`).
//!
//! ```text
//!   Index Scan using t_pkey on t          a primary-key lookup or range
//!   Index Scan using t_v_idx on t         a secondary-index range
//!   Seq Scan on t                         everything else
//!     Filter: …                           (the WHERE is always re-checked)
//! ```
//!
//! `EXPLAIN ANALYZE` (queries only) runs the plan with per-node counters
//! and appends PostgreSQL's `(actual time=F..T rows=R loops=L)` to each
//! node: time in ms and rows per loop, averaged over the node's loops.
//! Operators hand on whole row sets, so the time to the first row is the
//! node's total time.
//!
//! Owns: the names of access paths as users see them.
//! Never: runs a statement without ANALYZE.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use sqlparser::ast;

use crate::db::{Column, StatementResult};
use crate::error::{Error, Result};
use crate::types::{DataType, Value};

use super::dml;
use super::plan::{JoinKind, Plan};
use super::scan::Access;
use super::session::StmtCx;

fn scan_line(p: &Plan) -> Option<String> {
    let Plan::Scan { table, access, .. } = p else {
        return None;
    };
    Some(match access {
        Access::Full => format!("Seq Scan on {}", table.def.name),
        Access::Key(k) => {
            let name = match k.index {
                None => table.def.pk_name.as_str(),
                Some(i) => table
                    .def
                    .indexes
                    .get(i)
                    .map(|x| x.name.as_str())
                    .unwrap_or("?"),
            };
            format!("Index Scan using {name} on {}", table.def.name)
        }
    })
}

/// Per-node counters of a profiled run: rows, loops, time.
#[derive(Default, Clone, Copy)]
struct NodeStats {
    rows: usize,
    loops: usize,
    time: Duration,
}

thread_local! {
    static PROFILE: RefCell<Option<HashMap<usize, NodeStats>>> = const { RefCell::new(None) };
    /// Detail lines of a profiled run per node (`Sort Method: …`).
    static DETAILS: RefCell<HashMap<usize, Vec<String>>> = RefCell::new(HashMap::new());
}

/// Under EXPLAIN ANALYZE: `line` is printed under `p`'s line (the last
/// run's, as PostgreSQL shows one run's sort method).
pub fn note(p: &Plan, line: String) {
    note_at(node_id(p), line);
}

/// [`note`] for a node known by its address (a hash join's `HashJoin`).
pub fn note_at(id: usize, line: String) {
    if !profiling() {
        return;
    }
    DETAILS.with(|d| {
        let mut d = d.borrow_mut();
        let lines = d.entry(id).or_default();
        if let Some(at) = lines.iter().position(|l| same_kind(l, &line)) {
            lines[at] = line;
        } else {
            lines.push(line);
        }
    });
}

/// Whether two detail lines say the same thing (a later run replaces it).
fn same_kind(a: &str, b: &str) -> bool {
    a.split(':').next() == b.split(':').next()
}

fn details(id: usize) -> Vec<String> {
    DETAILS.with(|d| d.borrow().get(&id).cloned().unwrap_or_default())
}

fn node_id(p: &Plan) -> usize {
    p as *const Plan as usize
}

/// Whether this thread is running an EXPLAIN ANALYZE.
pub fn profiling() -> bool {
    PROFILE.with(|p| p.borrow().is_some())
}

/// Counts one run of `p` that produced `rows` rows in `time`.
pub fn record(p: &Plan, rows: usize, time: Duration) {
    PROFILE.with(|prof| {
        if let Some(map) = prof.borrow_mut().as_mut() {
            let s = map.entry(node_id(p)).or_default();
            s.rows += rows;
            s.loops += 1;
            s.time += time;
        }
    });
}

fn actual(p: &Plan) -> String {
    let stats = PROFILE.with(|prof| prof.borrow().as_ref().map(|m| m.get(&node_id(p)).copied()));
    match stats {
        None => String::new(),
        Some(None) => " (never executed)".into(),
        Some(Some(s)) => {
            let loops = s.loops.max(1);
            let ms = s.time.as_secs_f64() * 1000.0 / loops as f64;
            format!(
                " (actual time={ms:.3}..{ms:.3} rows={} loops={})",
                s.rows / loops,
                s.loops
            )
        }
    }
}

fn walk(p: &Plan, depth: usize, out: &mut Vec<String>) {
    let pad = if depth == 0 {
        String::new()
    } else {
        format!("{}->  ", " ".repeat(depth * 6 - 4))
    };
    let at = out.len();
    walk_node(p, depth, &pad, out);
    // The node's own line is the first it wrote (Project writes none).
    if out.len() > at && !matches!(p, Plan::Project { .. }) {
        let a = actual(p);
        out[at].push_str(&a);
        let indent = " ".repeat(pad.len() + 2);
        for (n, line) in details(node_id(p)).into_iter().enumerate() {
            out.insert(at + 1 + n, format!("{indent}{line}"));
        }
    }
}

fn walk_node(p: &Plan, depth: usize, pad: &str, out: &mut Vec<String>) {
    let child = |out: &mut Vec<String>, q: &Plan| walk(q, depth + 1, out);
    match p {
        Plan::Scan { .. } => out.push(format!("{pad}{}", scan_line(p).unwrap_or_default())),
        Plan::Values { rows, .. } => {
            if rows.len() == 1 && rows[0].is_empty() {
                out.push(format!("{pad}Result"));
            } else {
                out.push(format!("{pad}Values Scan on \"*VALUES*\""));
            }
        }
        Plan::Filter { input, .. } => {
            if let Some(line) = scan_line(input) {
                out.push(format!("{pad}{line}"));
            } else {
                out.push(format!("{pad}Filter"));
                child(out, input);
            }
        }
        Plan::Project { input, .. } => walk(input, depth, out),
        Plan::Join {
            kind, left, right, ..
        } => {
            let k = match kind {
                JoinKind::Inner => "",
                JoinKind::Left => " Left Join",
                JoinKind::Right => " Right Join",
                JoinKind::Full => " Full Join",
            };
            out.push(format!("{pad}Nested Loop{k}"));
            child(out, left);
            child(out, right);
        }
        Plan::HashJoin(j) => {
            out.push(format!("{pad}{}", j.kind.name()));
            // PostgreSQL shows the build side under a Hash node, second.
            let (probe, build) = if j.build_left {
                (&j.right, &j.left)
            } else {
                (&j.left, &j.right)
            };
            child(out, probe);
            let hpad = format!("{}->  ", " ".repeat((depth + 1) * 6 - 4));
            out.push(format!("{hpad}Hash{}", actual(build)));
            let indent = " ".repeat(hpad.len() + 2);
            for line in details(j.as_ref() as *const _ as usize) {
                out.push(format!("{indent}{line}"));
            }
            walk(build, depth + 2, out);
        }
        Plan::Aggregate { input, keys, .. } => {
            out.push(format!(
                "{pad}{}",
                if keys.is_empty() {
                    "Aggregate"
                } else {
                    "HashAggregate"
                }
            ));
            child(out, input);
        }
        Plan::Distinct { input } => {
            out.push(format!("{pad}HashAggregate"));
            child(out, input);
        }
        Plan::FunctionScan { .. } => out.push(format!("{pad}Function Scan")),
        Plan::RecursiveUnion {
            anchor, recursive, ..
        } => {
            out.push(format!("{pad}Recursive Union"));
            child(out, anchor);
            child(out, recursive);
        }
        Plan::WorkTable { .. } => out.push(format!("{pad}WorkTable Scan")),
        Plan::ProjectSet { input, .. } => {
            out.push(format!("{pad}ProjectSet"));
            child(out, input);
        }
        Plan::Lateral { left, right, .. } => {
            out.push(format!("{pad}Nested Loop"));
            child(out, left);
            child(out, right);
        }
        Plan::Window { input, .. } => {
            out.push(format!("{pad}WindowAgg"));
            child(out, input);
        }
        Plan::Unique { input, .. } => {
            out.push(format!("{pad}Unique"));
            child(out, input);
        }
        Plan::Sort { input, .. } => {
            out.push(format!("{pad}Sort"));
            child(out, input);
        }
        Plan::Limit { input, .. } => {
            out.push(format!("{pad}Limit"));
            child(out, input);
        }
        Plan::LockRows { input, spec } => {
            out.push(format!("{pad}{}", spec.describe()));
            child(out, input);
        }
        Plan::SetOp { left, right, .. } => {
            out.push(format!("{pad}Append"));
            child(out, left);
            child(out, right);
        }
    }
}

pub fn explain(cx: &StmtCx<'_>, stmt: &ast::Statement, analyze: bool) -> Result<StatementResult> {
    if analyze {
        return explain_analyze(cx, stmt);
    }
    let mut binder = cx.binder();
    let (plan, verb) = match stmt {
        ast::Statement::Query(q) => (
            super::optimizer::plan(binder.bind_query(q)?.plan, cx.shared, cx.settings)?,
            None,
        ),
        ast::Statement::Update(u) => (dml::bind_update(&mut binder, u)?.plan_of(), Some("Update")),
        ast::Statement::Delete(d) => (dml::bind_delete(&mut binder, d)?.plan_of(), Some("Delete")),
        _ => return Err(Error::unsupported("EXPLAIN of this statement")),
    };
    let mut lines = Vec::new();
    match verb {
        Some(v) => {
            let name = scan_target(&plan).unwrap_or_default();
            lines.push(format!("{v} on {name}"));
            walk(&plan, 1, &mut lines);
        }
        None => walk(&plan, 0, &mut lines),
    }
    Ok(StatementResult {
        columns: vec![Column {
            name: "QUERY PLAN".into(),
            data_type: DataType::Text,
        }],
        rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        tag: "EXPLAIN".into(),
    })
}

fn scan_target(p: &Plan) -> Option<String> {
    match p {
        Plan::Scan { table, .. } => Some(table.def.name.clone()),
        Plan::Filter { input, .. } => scan_target(input),
        _ => None,
    }
}

/// Clears the profile when dropped, also when the run fails.
struct Profiling;

impl Drop for Profiling {
    fn drop(&mut self) {
        PROFILE.with(|p| *p.borrow_mut() = None);
        DETAILS.with(|d| d.borrow_mut().clear());
    }
}

fn explain_analyze(cx: &StmtCx<'_>, stmt: &ast::Statement) -> Result<StatementResult> {
    let ast::Statement::Query(q) = stmt else {
        return Err(Error::unsupported("EXPLAIN ANALYZE of this statement"));
    };
    let planning = Instant::now();
    let plan = super::optimizer::plan(cx.binder().bind_query(q)?.plan, cx.shared, cx.settings)?;
    let planning = planning.elapsed();
    let _guard = Profiling;
    PROFILE.with(|p| *p.borrow_mut() = Some(HashMap::new()));
    let started = Instant::now();
    super::execute::run(&plan, &cx.exec())?;
    let execution = started.elapsed();
    let mut lines = Vec::new();
    walk(&plan, 0, &mut lines);
    lines.push(format!(
        "Planning Time: {:.3} ms",
        planning.as_secs_f64() * 1000.0
    ));
    lines.push(format!(
        "Execution Time: {:.3} ms",
        execution.as_secs_f64() * 1000.0
    ));
    Ok(StatementResult {
        columns: vec![Column {
            name: "QUERY PLAN".into(),
            data_type: DataType::Text,
        }],
        rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        tag: "EXPLAIN".into(),
    })
}
