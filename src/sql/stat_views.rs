//! `pg_stat_activity` and `pg_stat_statements`: relations whose rows are
//! read from [`super::activity`] when a statement binds them (a plan
//! holding them is never kept for a later execution, see
//! [`super::plan_cache::note_present_rows`], so each one sees the present).
//!
//! ```text
//!   FROM pg_stat_activity  ──(no table of that name)──▶ Values [rows now]
//! ```
//!
//! A user table of the same name wins, as it would in PostgreSQL when it
//! comes first on the search path. `pg_stat_statements` has PostgreSQL
//! 15's column names for what arbordb measures, plus `p50_exec_time`,
//! `p95_exec_time` and `p99_exec_time` (milliseconds, from a histogram
//! with 5% buckets).

use crate::error::Result;
use crate::types::{DataType, Value};

use super::activity;
use super::expr::Expr;
use super::plan::Plan;

/// A system view: its columns and the rows it has now.
pub struct StatView {
    pub columns: Vec<(&'static str, DataType)>,
    pub rows: Vec<Vec<Value>>,
}

/// The view `name` (as written, possibly schema-qualified) names, if any.
pub fn lookup(name: &[String]) -> Result<Option<StatView>> {
    let (schema, rel) = match name {
        [rel] => (None, rel.as_str()),
        [schema, rel] => (Some(schema.as_str()), rel.as_str()),
        _ => return Ok(None),
    };
    match (schema, rel) {
        (None | Some("pg_catalog"), "pg_stat_activity") => Ok(Some(stat_activity()?)),
        (None | Some("public"), "pg_stat_statements") => Ok(Some(stat_statements()?)),
        _ => Ok(None),
    }
}

/// The view as a plan leaf.
pub fn plan(view: &StatView) -> Plan {
    let rows = view
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .zip(&view.columns)
                .map(|(v, (_, ty))| Expr::Const {
                    value: v.clone(),
                    ty: ty.clone(),
                })
                .collect()
        })
        .collect();
    Plan::Values {
        rows,
        width: view.columns.len(),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, text)
}

fn opt_ts(t: Option<i64>) -> Value {
    t.map_or(Value::Null, Value::Timestamptz)
}

fn stat_activity() -> Result<StatView> {
    use DataType::{Int4, Int8, Text, Timestamptz};
    let columns = vec![
        ("datid", Int8),
        ("datname", Text),
        ("pid", Int4),
        ("leader_pid", Int4),
        ("usesysid", Int8),
        ("usename", Text),
        ("application_name", Text),
        ("client_addr", Text),
        ("client_hostname", Text),
        ("client_port", Int4),
        ("backend_start", Timestamptz),
        ("xact_start", Timestamptz),
        ("query_start", Timestamptz),
        ("state_change", Timestamptz),
        ("wait_event_type", Text),
        ("wait_event", Text),
        ("state", Text),
        ("backend_xid", Text),
        ("backend_xmin", Text),
        ("query_id", Int8),
        ("query", Text),
        ("backend_type", Text),
    ];
    let rows = activity::activity_rows()?
        .into_iter()
        .map(|row| {
            let live = row.live;
            let wait = if live.state == "active" {
                row.wait
            } else {
                None
            };
            vec![
                Value::Int8(1),
                text("arbordb"),
                Value::Int4(row.pid),
                Value::Null,
                Value::Null,
                text(&live.user),
                text(&live.application_name),
                opt_text(live.client_addr.as_deref()),
                Value::Null,
                // A local (embedded) session has no port: -1 as for a
                // Unix-socket client in PostgreSQL.
                Value::Int4(live.client_port.unwrap_or(-1)),
                Value::Timestamptz(row.backend_start),
                opt_ts(live.xact_start),
                opt_ts(live.query_start),
                opt_ts(live.state_change),
                opt_text(wait.map(|w| w.0)),
                opt_text(wait.map(|w| w.1)),
                text(live.state),
                Value::Null,
                Value::Null,
                Value::Null,
                text(&live.query),
                text("client backend"),
            ]
        })
        .collect();
    Ok(StatView { columns, rows })
}

fn stat_statements() -> Result<StatView> {
    use DataType::{Bool, Float8, Int8, Text};
    let columns = vec![
        ("userid", Text),
        ("dbid", Int8),
        ("toplevel", Bool),
        ("queryid", Int8),
        ("query", Text),
        ("calls", Int8),
        ("total_exec_time", Float8),
        ("min_exec_time", Float8),
        ("max_exec_time", Float8),
        ("mean_exec_time", Float8),
        ("stddev_exec_time", Float8),
        ("p50_exec_time", Float8),
        ("p95_exec_time", Float8),
        ("p99_exec_time", Float8),
        ("rows", Int8),
    ];
    let rows = activity::statement_rows()?
        .into_iter()
        .map(|s| {
            vec![
                text(&s.user),
                Value::Int8(1),
                Value::Bool(true),
                Value::Int8(s.queryid),
                text(&s.query),
                Value::Int8(s.calls),
                Value::Float8(s.total_ms),
                Value::Float8(s.min_ms),
                Value::Float8(s.max_ms),
                Value::Float8(s.mean_ms),
                Value::Float8(s.stddev_ms),
                Value::Float8(s.p50_ms),
                Value::Float8(s.p95_ms),
                Value::Float8(s.p99_ms),
                Value::Int8(s.rows),
            ]
        })
        .collect();
    Ok(StatView { columns, rows })
}
