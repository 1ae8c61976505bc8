//! Window functions: binding `f(…) OVER (…)` and the `Plan::Window` operator.
//!
//! ```text
//!   SELECT k, v, sum(v) OVER (PARTITION BY k ORDER BY v) FROM t
//!
//!   Project [k, v, Column(2)]        <- the window's value is appended to the row
//!   └── Window [sum(v) partition [k] order [v] RANGE UNBOUNDED PRECEDING..CURRENT ROW]
//!       └── (FROM, WHERE, GROUP BY, HAVING)
//!
//!   per call: sort rows by (partition keys, order keys); per partition,
//!   peer groups are runs of equal order keys; each row's frame is a range
//!   [start, end) of positions in its partition:
//!     ROWS    offsets count rows
//!     GROUPS  offsets count peer groups
//!     RANGE   offsets are distances in the (single) order key's value;
//!             CURRENT ROW includes all peers
//! ```
//!
//! Window functions run after grouping and HAVING, before DISTINCT, ORDER
//! BY and LIMIT; their arguments may contain aggregates. While the select
//! list binds, a window call reads as a placeholder column
//! ([`WINDOW_COLUMN_BASE`] + call number); [`Binder::finish_windows`]
//! renumbers those to the columns the Window operator appends.
//!
//! Owns: the window functions (row_number, rank, dense_rank, percent_rank,
//! cume_dist, ntile, lag, lead, first_value, last_value, nth_value, every
//! aggregate), named windows (`WINDOW w AS (…)`, `OVER w`, `OVER (w …)`),
//! frame validation (42P20) and frame offset errors (22013, 22004).
//! Never: groups (that is `Plan::Aggregate`), or sorts the query's output.

use std::cmp::Ordering;

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::aggregate::{self, AggRunner, OrderKey, sort_by_keys};
use super::bind::{Binder, Scope, ident_name};
use super::bind_aggregate::agg_args;
use super::coerce::{Category, category};
use super::execute::{ExecContext, Row, Sink, row_key};
use super::expr::{EvalContext, Expr, compare};
use super::functions;
use super::plan::{AggCall, Plan};

/// Placeholder column numbers of window calls while the select list binds.
pub const WINDOW_COLUMN_BASE: usize = usize::MAX / 2;

fn windowing_error(msg: impl Into<String>) -> Error {
    Error::new(SqlState("42P20"), msg)
}

/// Which window function a call runs.
#[derive(Debug, Clone)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    /// `ntile(n)`: args [n].
    Ntile,
    /// args [value, offset, default].
    Lag,
    Lead,
    FirstValue,
    LastValue,
    /// args [value, n].
    NthValue,
    /// An aggregate over each row's frame.
    Aggregate(AggCall),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameUnits {
    Rows,
    Range,
    Groups,
}

#[derive(Debug, Clone)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub units: FrameUnits,
    pub start: FrameBound,
    pub end: FrameBound,
}

impl Frame {
    /// PostgreSQL's default: RANGE UNBOUNDED PRECEDING to CURRENT ROW (peers).
    fn default_frame() -> Frame {
        Frame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
        }
    }
}

/// One window function call of a [`Plan::Window`].
#[derive(Debug, Clone)]
pub struct WindowCall {
    pub func: WindowFunc,
    /// Arguments of non-aggregate functions (aggregates carry theirs).
    pub args: Vec<Expr>,
    pub partition: Vec<Expr>,
    pub order: Vec<OrderKey>,
    pub frame: Frame,
    pub ret: DataType,
}

/// Window calls found while binding one SELECT's select list and ORDER BY.
pub struct WindowState {
    calls: Vec<WindowCall>,
    named: Vec<(String, ast::NamedWindowExpr)>,
    /// Inside a window call's arguments or definition.
    inside: Option<&'static str>,
    /// The clause being bound where window functions are not allowed.
    forbidden: Option<&'static str>,
}

impl WindowState {
    pub fn new(named: &[ast::NamedWindowDefinition]) -> Result<WindowState> {
        let mut out: Vec<(String, ast::NamedWindowExpr)> = Vec::with_capacity(named.len());
        for ast::NamedWindowDefinition(name, expr) in named {
            let name = ident_name(name);
            if out.iter().any(|(n, _)| *n == name) {
                return Err(windowing_error(format!(
                    "window \"{name}\" is already defined"
                )));
            }
            out.push((name, expr.clone()));
        }
        Ok(WindowState {
            calls: Vec::new(),
            named: out,
            inside: None,
            forbidden: None,
        })
    }

    fn spec(&self, name: &ast::Ident) -> Result<ast::WindowSpec> {
        let mut n = ident_name(name);
        for _ in 0..=self.named.len() {
            match self.named.iter().find(|(w, _)| *w == n) {
                None => break,
                Some((_, ast::NamedWindowExpr::WindowSpec(spec))) => return Ok(spec.clone()),
                Some((_, ast::NamedWindowExpr::NamedWindow(other))) => n = ident_name(other),
            }
        }
        Err(Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("window \"{}\" does not exist", ident_name(name)),
        ))
    }
}

/// The effective definition of `OVER …`: a named window, or a spec that may
/// copy one (`OVER (w ORDER BY x)`).
fn resolve_spec(state: &WindowState, over: &ast::WindowType) -> Result<ast::WindowSpec> {
    match over {
        ast::WindowType::NamedWindow(name) => state.spec(name),
        ast::WindowType::WindowSpec(spec) => {
            let Some(base_name) = &spec.window_name else {
                return Ok(spec.clone());
            };
            let base = state.spec(base_name)?;
            let shown = ident_name(base_name);
            if !spec.partition_by.is_empty() {
                return Err(windowing_error(format!(
                    "cannot override PARTITION BY clause of window \"{shown}\""
                )));
            }
            if !spec.order_by.is_empty() && !base.order_by.is_empty() {
                return Err(windowing_error(format!(
                    "cannot override ORDER BY clause of window \"{shown}\""
                )));
            }
            if base.window_frame.is_some() {
                return Err(windowing_error(format!(
                    "cannot copy window \"{shown}\" because it has a frame clause"
                )));
            }
            Ok(ast::WindowSpec {
                window_name: None,
                partition_by: base.partition_by,
                order_by: if spec.order_by.is_empty() {
                    base.order_by
                } else {
                    spec.order_by.clone()
                },
                window_frame: spec.window_frame.clone(),
            })
        }
    }
}

impl Binder {
    /// Binds `f` with window functions forbidden (`HAVING`).
    pub(super) fn forbid_windows<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&mut Binder) -> Result<T>,
    ) -> Result<T> {
        let saved = self
            .windows
            .as_mut()
            .and_then(|w| w.forbidden.replace(context));
        let r = f(self);
        if let Some(w) = self.windows.as_mut() {
            w.forbidden = saved;
        }
        r
    }

    /// Takes this SELECT's window calls (restoring the enclosing state)
    /// and, if there are any, puts a Window operator over `input` and
    /// renumbers the placeholder columns in `exprs`.
    pub(super) fn finish_windows(
        &mut self,
        outer: Option<WindowState>,
        input: Plan,
        exprs: &mut [Expr],
    ) -> Plan {
        let state = std::mem::replace(&mut self.windows, outer);
        let calls = state.map(|s| s.calls).unwrap_or_default();
        if calls.is_empty() {
            return input;
        }
        let base = input.width();
        for e in exprs.iter_mut() {
            e.map_columns(&mut |i| {
                if i >= WINDOW_COLUMN_BASE {
                    base + (i - WINDOW_COLUMN_BASE)
                } else {
                    i
                }
            });
        }
        Plan::Window {
            input: Box::new(input),
            calls,
        }
    }

    /// The window call whose arguments are being bound, if any.
    pub(super) fn window_inside(&self) -> Option<&'static str> {
        self.windows.as_ref().and_then(|w| w.inside)
    }

    /// Sets the "inside a window call" marker for the duration of `f`.
    fn inside_window<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Binder) -> Result<T>,
    ) -> Result<T> {
        let saved = self.windows.as_mut().and_then(|w| w.inside.replace(what));
        let saved_agg_in = self.agg.as_ref().map(|a| a.in_agg);
        let r = f(self);
        if let Some(w) = self.windows.as_mut() {
            w.inside = saved;
        }
        if let (Some(a), Some(v)) = (self.agg.as_mut(), saved_agg_in) {
            a.in_agg = v;
        }
        r
    }

    /// `name(…) OVER …`.
    pub(super) fn bind_window_function(
        &mut self,
        name: &str,
        f: &ast::Function,
        over: &ast::WindowType,
        scope: &Scope,
    ) -> Result<Expr> {
        let state = match self.windows.as_ref() {
            Some(w) if w.forbidden.is_none() && self.agg.as_ref().is_none_or(|a| !a.in_agg) => w,
            Some(w) if w.forbidden.is_some() => {
                return Err(windowing_error(format!(
                    "window functions are not allowed in {}",
                    w.forbidden.unwrap_or("this clause")
                )));
            }
            Some(_) => {
                return Err(Error::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate function calls cannot contain window function calls",
                ));
            }
            None => {
                return Err(windowing_error(match self.agg_forbidden {
                    Some(ctx) => format!("window functions are not allowed in {ctx}"),
                    None => "window functions are not allowed here".to_string(),
                }));
            }
        };
        if let Some(what) = state.inside {
            return Err(windowing_error(format!(
                "window functions are not allowed in {what}"
            )));
        }
        let spec = resolve_spec(state, over)?;
        let (partition, order) = self.inside_window("window definitions", |b| {
            let mut partition = Vec::with_capacity(spec.partition_by.len());
            for p in &spec.partition_by {
                let e = b.bind_expr(p, scope)?;
                partition.push(b.orderable(e)?);
            }
            let mut order = Vec::with_capacity(spec.order_by.len());
            for item in &spec.order_by {
                let e = b.bind_expr(&item.expr, scope)?;
                let e = b.orderable(e)?;
                let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
                order.push(OrderKey {
                    expr: e,
                    desc,
                    nulls_first: item.options.nulls_first.unwrap_or(desc),
                });
            }
            Ok((partition, order))
        })?;
        let frame = match &spec.window_frame {
            None => Frame::default_frame(),
            Some(fr) => self.bind_frame(fr, &order)?,
        };
        let (func, args, ret) = self.inside_window("window function arguments", |b| {
            b.window_func(name, f, scope)
        })?;
        let Some(state) = self.windows.as_mut() else {
            return Err(Error::internal("window state vanished"));
        };
        let index = WINDOW_COLUMN_BASE + state.calls.len();
        state.calls.push(WindowCall {
            func,
            args,
            partition,
            order,
            frame,
            ret: ret.clone(),
        });
        Ok(Expr::Column { index, ty: ret })
    }

    /// An ORDER BY / PARTITION BY key: unknown is read as text, and the
    /// type must have an order.
    fn orderable(&mut self, e: Expr) -> Result<Expr> {
        let e = if e.ty() == DataType::Unknown {
            self.coerce(e, &DataType::Text)?
        } else {
            e
        };
        self.binary(super::expr::BinOp::Lt, e.clone(), e.clone())?;
        Ok(e)
    }

    fn window_func(
        &mut self,
        name: &str,
        f: &ast::Function,
        scope: &Scope,
    ) -> Result<(WindowFunc, Vec<Expr>, DataType)> {
        if aggregate::is_aggregate(name) {
            let parts = agg_args(name, f)?;
            if parts.distinct {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "DISTINCT is not implemented for window functions",
                ));
            }
            if !parts.order.is_empty() {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    "aggregate ORDER BY is not implemented for window functions",
                ));
            }
            // Aggregates inside the arguments belong to the query's grouping.
            let mut args = Vec::with_capacity(parts.args.len());
            for a in &parts.args {
                args.push(self.bind_expr(a, scope)?);
            }
            let (agg, args, ret) = self.resolve_aggregate(name, parts.star, args)?;
            let filter = match &f.filter {
                None => None,
                Some(p) => {
                    let p = self.bind_expr(p, scope)?;
                    Some(self.coerce_bool(p, "FILTER")?)
                }
            };
            let call = AggCall {
                func: agg,
                args,
                distinct: false,
                ret: ret.clone(),
                filter,
                order: Vec::new(),
            };
            return Ok((WindowFunc::Aggregate(call), Vec::new(), ret));
        }
        if f.filter.is_some() {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "FILTER is not implemented for non-aggregate window functions",
            ));
        }
        let mut args = Vec::new();
        if let ast::FunctionArguments::List(list) = &f.args {
            if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                return Err(Error::unsupported(format!("this call of {name}")));
            }
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        args.push(self.bind_expr(e, scope)?);
                    }
                    _ => return Err(Error::unsupported(format!("this argument of {name}"))),
                }
            }
        }
        let polymorphic = |e: &Expr| -> Result<DataType> {
            match e.ty() {
                DataType::Unknown => Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    "could not determine polymorphic type because input has type unknown",
                )),
                t => Ok(t),
            }
        };
        let int4 = |b: &mut Binder, e: Expr| -> Result<Option<Expr>> {
            match e.ty() {
                DataType::Int4 => Ok(Some(e)),
                DataType::Int2 | DataType::Unknown => Ok(Some(b.coerce(e, &DataType::Int4)?)),
                _ => Ok(None),
            }
        };
        let simple = |func: WindowFunc, ret: DataType| (func, Vec::new(), ret);
        let n = args.len();
        let found = match (name, n) {
            ("row_number", 0) => Some(simple(WindowFunc::RowNumber, DataType::Int8)),
            ("rank", 0) => Some(simple(WindowFunc::Rank, DataType::Int8)),
            ("dense_rank", 0) => Some(simple(WindowFunc::DenseRank, DataType::Int8)),
            ("percent_rank", 0) => Some(simple(WindowFunc::PercentRank, DataType::Float8)),
            ("cume_dist", 0) => Some(simple(WindowFunc::CumeDist, DataType::Float8)),
            ("ntile", 1) => {
                int4(self, args[0].clone())?.map(|a| (WindowFunc::Ntile, vec![a], DataType::Int4))
            }
            ("first_value" | "last_value", 1) => {
                let ty = polymorphic(&args[0])?;
                let func = if name == "first_value" {
                    WindowFunc::FirstValue
                } else {
                    WindowFunc::LastValue
                };
                Some((func, args.clone(), ty))
            }
            ("nth_value", 2) => {
                let ty = polymorphic(&args[0])?;
                int4(self, args[1].clone())?
                    .map(|k| (WindowFunc::NthValue, vec![args[0].clone(), k], ty))
            }
            ("lag" | "lead", 1..=3) => {
                polymorphic(&args[0])?;
                let func = if name == "lag" {
                    WindowFunc::Lag
                } else {
                    WindowFunc::Lead
                };
                let offset = match args.get(1) {
                    None => Some(Expr::Const {
                        value: Value::Int4(1),
                        ty: DataType::Int4,
                    }),
                    Some(o) => int4(self, o.clone())?,
                };
                match offset {
                    None => None,
                    Some(offset) => {
                        let mut values = vec![args[0].clone()];
                        if let Some(d) = args.get(2) {
                            values.push(d.clone());
                        }
                        let (mut values, ty) = self.unify(values, name)?;
                        let default = if values.len() > 1 {
                            values.remove(1)
                        } else {
                            Expr::Const {
                                value: Value::Null,
                                ty: ty.clone(),
                            }
                        };
                        let value = values.remove(0);
                        Some((func, vec![value, offset, default], ty))
                    }
                }
            }
            _ => None,
        };
        if let Some(found) = found {
            return Ok(found);
        }
        let known = matches!(
            name,
            "row_number"
                | "rank"
                | "dense_rank"
                | "percent_rank"
                | "cume_dist"
                | "ntile"
                | "first_value"
                | "last_value"
                | "nth_value"
                | "lag"
                | "lead"
        );
        if !known && !functions::lookup(name).is_empty() {
            return Err(Error::new(
                SqlState("42809"),
                format!(
                    "OVER specified, but {name} is not a window function nor an aggregate function"
                ),
            ));
        }
        Err(self.no_function(name, &args))
    }

    fn bind_frame(&mut self, fr: &ast::WindowFrame, order: &[OrderKey]) -> Result<Frame> {
        use ast::WindowFrameBound as B;
        let units = match fr.units {
            ast::WindowFrameUnits::Rows => FrameUnits::Rows,
            ast::WindowFrameUnits::Range => FrameUnits::Range,
            ast::WindowFrameUnits::Groups => FrameUnits::Groups,
        };
        let end_ast = fr.end_bound.clone().unwrap_or(B::CurrentRow);
        // The grammar's checks (PostgreSQL reports them from gram.y).
        match (&fr.start_bound, &end_ast) {
            (B::Following(None), _) => {
                return Err(windowing_error("frame start cannot be UNBOUNDED FOLLOWING"));
            }
            (_, B::Preceding(None)) => {
                return Err(windowing_error("frame end cannot be UNBOUNDED PRECEDING"));
            }
            (B::CurrentRow, B::Preceding(Some(_))) => {
                return Err(windowing_error(
                    "frame starting from current row cannot have preceding rows",
                ));
            }
            (B::Following(Some(_)), B::Preceding(Some(_)) | B::CurrentRow) => {
                return Err(windowing_error(
                    "frame starting from following row cannot have preceding rows",
                ));
            }
            _ => {}
        }
        if units == FrameUnits::Groups && order.is_empty() {
            return Err(windowing_error("GROUPS mode requires an ORDER BY clause"));
        }
        let has_offset = |b: &B| matches!(b, B::Preceding(Some(_)) | B::Following(Some(_)));
        if units == FrameUnits::Range
            && (has_offset(&fr.start_bound) || has_offset(&end_ast))
            && order.len() != 1
        {
            return Err(windowing_error(
                "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column",
            ));
        }
        let start = self.bind_bound(&fr.start_bound, units, order)?;
        let end = self.bind_bound(&end_ast, units, order)?;
        Ok(Frame { units, start, end })
    }

    fn bind_bound(
        &mut self,
        b: &ast::WindowFrameBound,
        units: FrameUnits,
        order: &[OrderKey],
    ) -> Result<FrameBound> {
        use ast::WindowFrameBound as B;
        Ok(match b {
            B::CurrentRow => FrameBound::CurrentRow,
            B::Preceding(None) => FrameBound::UnboundedPreceding,
            B::Following(None) => FrameBound::UnboundedFollowing,
            B::Preceding(Some(e)) | B::Following(Some(e)) => {
                let off = self.frame_offset(e, units, order)?;
                if matches!(b, B::Preceding(_)) {
                    FrameBound::Preceding(off)
                } else {
                    FrameBound::Following(off)
                }
            }
        })
    }

    fn frame_offset(
        &mut self,
        e: &ast::Expr,
        units: FrameUnits,
        order: &[OrderKey],
    ) -> Result<Expr> {
        let clause = match units {
            FrameUnits::Rows => "ROWS",
            FrameUnits::Range => "RANGE",
            FrameUnits::Groups => "GROUPS",
        };
        let x = self.forbid_aggregates(clause, |b| {
            b.inside_window("window definitions", |b| b.bind_expr(e, &Scope::default()))
        })?;
        let t = x.ty();
        if units != FrameUnits::Range {
            return match t {
                DataType::Int8 => Ok(x),
                DataType::Unknown | DataType::Int2 | DataType::Int4 => {
                    self.coerce(x, &DataType::Int8)
                }
                t if category(&t) == Category::Numeric => self.explicit_cast(x, &DataType::Int8),
                t => Err(Error::new(
                    SqlState::DATATYPE_MISMATCH,
                    format!(
                        "argument of {clause} must be type bigint, not type {}",
                        t.name()
                    ),
                )),
            };
        }
        let key = order.first().map(|k| k.expr.ty()).unwrap_or(DataType::Int8);
        let unsupported = || {
            Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {} and offset type {}",
                    key.name(),
                    t.name()
                ),
            )
        };
        match key {
            DataType::Int2 | DataType::Int4 | DataType::Int8 => match t {
                DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Unknown => {
                    self.coerce(x, &DataType::Int8)
                }
                _ => Err(unsupported()),
            },
            DataType::Float4 | DataType::Float8 => {
                if category(&t) == Category::Numeric || t == DataType::Unknown {
                    self.coerce(x, &DataType::Float8)
                } else {
                    Err(unsupported())
                }
            }
            DataType::Numeric(_) => match t {
                DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Numeric(_)
                | DataType::Unknown => self.coerce(x, &DataType::Numeric(None)),
                _ => Err(unsupported()),
            },
            other => Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!(
                    "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {}",
                    other.name()
                ),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Execution.

/// Runs the window calls over `rows`: each output row is its input row and
/// one value per call, in the order of the last call's sort.
pub fn run(rows: Vec<Row>, calls: &[WindowCall], cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let n = rows.len();
    let mut results: Vec<Vec<Value>> = (0..n).map(|_| Vec::with_capacity(calls.len())).collect();
    let mut output_order: Vec<usize> = (0..n).collect();
    for call in calls {
        let ctx = |i: usize| EvalContext {
            row: &rows[i],
            params: cx.params,
            outer: cx.outer,
            settings: cx.settings,
            txn: cx.txn,
        };
        let keys = sort_keys(call);
        let mut sorted: Vec<(Vec<Value>, usize)> = Vec::with_capacity(n);
        for i in 0..n {
            let c = ctx(i);
            let mut k = Vec::with_capacity(keys.len());
            for key in &keys {
                k.push(key.expr.eval(&c)?);
            }
            sorted.push((k, i));
        }
        sort_by_keys(&mut sorted, &keys)?;
        let np = call.partition.len();
        let mut start = 0;
        while start < n {
            let pkey = row_key(&sorted[start].0[..np]);
            let mut end = start + 1;
            while end < n && row_key(&sorted[end].0[..np]) == pkey {
                end += 1;
            }
            let part = &sorted[start..end];
            let values = partition_values(call, part, np, &ctx)?;
            for ((_, i), v) in part.iter().zip(values) {
                results[*i].push(v);
            }
            start = end;
        }
        output_order = sorted.into_iter().map(|(_, i)| i).collect();
    }
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    let mut results: Vec<Option<Vec<Value>>> = results.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(n);
    for i in output_order {
        let (Some(mut row), Some(vals)) = (rows[i].take(), results[i].take()) else {
            return Err(Error::internal("window row used twice"));
        };
        row.extend(vals);
        out.push(row);
    }
    Ok(out)
}

/// The keys a window's rows are sorted by: its partition keys (ascending,
/// NULLs last), then its order keys.
fn sort_keys(call: &WindowCall) -> Vec<OrderKey> {
    let mut keys: Vec<OrderKey> = call
        .partition
        .iter()
        .map(|e| OrderKey {
            expr: e.clone(),
            desc: false,
            nulls_first: false,
        })
        .collect();
    keys.extend(call.order.iter().cloned());
    keys
}

/// Whether every call has the same PARTITION BY and ORDER BY: one sort
/// serves them all and partitions can be computed one at a time
/// ([`stream`]).
pub fn one_window(calls: &[WindowCall]) -> bool {
    let spec = |c: &WindowCall| format!("{:?} {:?}", c.partition, c.order);
    match calls.split_first() {
        None => false,
        Some((first, rest)) => {
            let s = spec(first);
            rest.iter().all(|c| spec(c) == s)
        }
    }
}

/// [`run`] for calls of [`one_window`], without holding all input rows:
/// the rows (behind their key values) go through the executor's sort,
/// which spills beyond `work_mem`, and each partition is computed as it
/// comes out of it and handed on, so only the largest partition is held.
/// The rows come out in the window's order, as [`run`]'s do.
pub fn stream(
    input: &Plan,
    calls: &[WindowCall],
    cx: &ExecContext<'_>,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let Some(first) = calls.first() else {
        return super::execute::stream(input, cx, sink);
    };
    let keys = sort_keys(first);
    let nk = keys.len();
    let np = first.partition.len();
    let failure: std::cell::RefCell<Option<Error>> = std::cell::RefCell::new(None);
    let cmp = |a: &Row, b: &Row| match aggregate::compare_keys(&a[..nk], &b[..nk], &keys) {
        Ok(o) => o,
        Err(e) => {
            if let Ok(mut f) = failure.try_borrow_mut() {
                f.get_or_insert(e);
            }
            Ordering::Equal
        }
    };
    let mut sorter =
        super::spill::ExternalSort::new(super::settings::work_mem_bytes(cx.settings), cmp);
    let mut pushed: Result<()> = Ok(());
    super::execute::stream(input, cx, &mut |row| {
        let ctx = EvalContext {
            row: &row,
            params: cx.params,
            outer: cx.outer,
            settings: cx.settings,
            txn: cx.txn,
        };
        let mut keyed = Vec::with_capacity(nk + row.len());
        for k in &keys {
            keyed.push(k.expr.eval(&ctx)?);
        }
        keyed.extend(row);
        pushed = sorter.push(keyed);
        Ok(pushed.is_ok() && failure.borrow().is_none())
    })?;
    pushed?;
    if let Some(e) = failure.borrow_mut().take() {
        return Err(e);
    }
    // The partition being read: key values (with positions) and rows.
    let mut part: Vec<(Vec<Value>, usize)> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let mut stopped = false;
    let flush = |part: &mut Vec<(Vec<Value>, usize)>,
                 rows: &mut Vec<Row>,
                 sink: &mut Sink<'_>|
     -> Result<bool> {
        if part.is_empty() {
            return Ok(true);
        }
        let ctx = |i: usize| EvalContext {
            row: &rows[i],
            params: cx.params,
            outer: cx.outer,
            settings: cx.settings,
            txn: cx.txn,
        };
        let mut values: Vec<std::vec::IntoIter<Value>> = Vec::with_capacity(calls.len());
        for call in calls {
            values.push(partition_values(call, part, np, &ctx)?.into_iter());
        }
        part.clear();
        for mut row in rows.drain(..) {
            for v in values.iter_mut() {
                row.push(v.next().unwrap_or(Value::Null));
            }
            if !sink(row)? {
                return Ok(false);
            }
        }
        Ok(true)
    };
    sorter.finish(&mut |mut keyed| {
        if failure.borrow().is_some() {
            return Ok(false);
        }
        let row = keyed.split_off(nk.min(keyed.len()));
        if let Some((last, _)) = part.last()
            && row_key(&last[..np]) != row_key(&keyed[..np])
            && !flush(&mut part, &mut rows, sink)?
        {
            stopped = true;
            return Ok(false);
        }
        part.push((keyed, rows.len()));
        rows.push(row);
        Ok(true)
    })?;
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    if !stopped {
        flush(&mut part, &mut rows, sink)?;
    }
    Ok(())
}

/// Peer groups of a sorted partition: each position's group number, and
/// each group's [start, end).
struct Peers {
    group: Vec<usize>,
    bounds: Vec<(usize, usize)>,
}

fn peers(part: &[(Vec<Value>, usize)], np: usize) -> Peers {
    let mut group = Vec::with_capacity(part.len());
    let mut bounds: Vec<(usize, usize)> = Vec::new();
    let mut prev: Option<Vec<super::execute::KeyPart>> = None;
    for (k, (vals, _)) in part.iter().enumerate() {
        let key = row_key(&vals[np..]);
        if prev.as_ref() != Some(&key) {
            if let Some(last) = bounds.last_mut() {
                last.1 = k;
            }
            bounds.push((k, part.len()));
            prev = Some(key);
        }
        group.push(bounds.len() - 1);
    }
    Peers { group, bounds }
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(i) => Some(*i as i64),
        Value::Int4(i) => Some(*i as i64),
        Value::Int8(i) => Some(*i),
        _ => None,
    }
}

/// The values of one call for every position of one sorted partition.
fn partition_values<'r>(
    call: &WindowCall,
    part: &[(Vec<Value>, usize)],
    np: usize,
    ctx: &dyn Fn(usize) -> EvalContext<'r>,
) -> Result<Vec<Value>> {
    let m = part.len();
    let p = peers(part, np);
    let row = |k: usize| part[k].1;
    let arg = |a: usize, k: usize| -> Result<Value> {
        match call.args.get(a) {
            Some(e) => e.eval(&ctx(row(k))),
            None => Err(Error::internal("window function argument missing")),
        }
    };
    let mut out = Vec::with_capacity(m);
    match &call.func {
        WindowFunc::RowNumber => {
            for k in 0..m {
                out.push(Value::Int8(k as i64 + 1));
            }
        }
        WindowFunc::Rank => {
            for k in 0..m {
                out.push(Value::Int8(p.bounds[p.group[k]].0 as i64 + 1));
            }
        }
        WindowFunc::DenseRank => {
            for k in 0..m {
                out.push(Value::Int8(p.group[k] as i64 + 1));
            }
        }
        WindowFunc::PercentRank => {
            for k in 0..m {
                let rank = p.bounds[p.group[k]].0 as f64;
                out.push(Value::Float8(if m > 1 {
                    rank / (m - 1) as f64
                } else {
                    0.0
                }));
            }
        }
        WindowFunc::CumeDist => {
            for k in 0..m {
                out.push(Value::Float8(p.bounds[p.group[k]].1 as f64 / m as f64));
            }
        }
        WindowFunc::Ntile => {
            let buckets = arg(0, 0)?;
            let Some(buckets) = int_value(&buckets) else {
                return Ok(vec![Value::Null; m]);
            };
            if buckets <= 0 {
                return Err(Error::new(
                    SqlState("22014"),
                    "argument of ntile must be greater than zero",
                ));
            }
            let (m64, b) = (m as i64, buckets);
            let per = m64 / b;
            let extra = m64 % b;
            // The first `extra` buckets hold one row more.
            for k in 0..m64 {
                let bucket = if per == 0 {
                    k + 1
                } else if k < extra * (per + 1) {
                    k / (per + 1) + 1
                } else {
                    extra + (k - extra * (per + 1)) / per + 1
                };
                out.push(Value::Int4(bucket as i32));
            }
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            for k in 0..m {
                let off = arg(1, k)?;
                let Some(off) = int_value(&off) else {
                    out.push(Value::Null);
                    continue;
                };
                let target = if matches!(call.func, WindowFunc::Lag) {
                    k as i64 - off
                } else {
                    k as i64 + off
                };
                out.push(if target >= 0 && target < m as i64 {
                    arg(0, target as usize)?
                } else {
                    arg(2, k)?
                });
            }
        }
        WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
            for k in 0..m {
                let (s, e) = frame_bounds(call, part, np, &p, k, ctx)?;
                let target = match call.func {
                    WindowFunc::FirstValue => (s < e).then_some(s),
                    WindowFunc::LastValue => (s < e).then(|| e - 1),
                    _ => {
                        let nth = arg(1, k)?;
                        let Some(nth) = int_value(&nth) else {
                            out.push(Value::Null);
                            continue;
                        };
                        if nth <= 0 {
                            return Err(Error::new(
                                SqlState("22016"),
                                "argument of nth_value must be greater than zero",
                            ));
                        }
                        let t = s as i64 + nth - 1;
                        (t < e as i64).then_some(t as usize)
                    }
                };
                out.push(match target {
                    Some(t) => arg(0, t)?,
                    None => Value::Null,
                });
            }
        }
        WindowFunc::Aggregate(agg) => {
            let unbounded_start = matches!(call.frame.start, FrameBound::UnboundedPreceding);
            let mut running = AggRunner::new(agg);
            let mut fed = 0;
            for k in 0..m {
                let (s, e) = frame_bounds(call, part, np, &p, k, ctx)?;
                if unbounded_start && e >= fed {
                    // Frames only grow: feed the new rows.
                    for j in fed..e {
                        running.feed(agg, &ctx(row(j)))?;
                    }
                    fed = e;
                    out.push(running.value(agg)?);
                } else {
                    let mut r = AggRunner::new(agg);
                    for j in s..e.max(s) {
                        r.feed(agg, &ctx(row(j)))?;
                    }
                    out.push(r.finish(agg)?);
                }
            }
        }
    }
    Ok(out)
}

/// A frame offset's value (22004 if NULL, 22013 if negative).
fn offset_value(e: &Expr, start: bool, ctx: &EvalContext<'_>) -> Result<Value> {
    let which = if start { "starting" } else { "ending" };
    let v = e.eval(ctx)?;
    if v.is_null() {
        return Err(Error::new(
            SqlState("22004"),
            format!("frame {which} offset must not be null"),
        ));
    }
    Ok(v)
}

fn rows_offset(e: &Expr, start: bool, ctx: &EvalContext<'_>) -> Result<usize> {
    let v = offset_value(e, start, ctx)?;
    let which = if start { "starting" } else { "ending" };
    match int_value(&v) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(Error::new(
            SqlState("22013"),
            format!("frame {which} offset must not be negative"),
        )),
    }
}

/// A RANGE key or offset as a number.
#[derive(Debug, Clone)]
enum RangeNum {
    Exact(Numeric),
    Float(f64),
}

fn range_num(v: &Value) -> Option<RangeNum> {
    Some(match v {
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) => {
            RangeNum::Exact(Numeric::from_i64(int_value(v)?))
        }
        Value::Numeric(n) => RangeNum::Exact(n.clone()),
        Value::Float4(f) => RangeNum::Float(*f as f64),
        Value::Float8(f) => RangeNum::Float(*f),
        _ => return None,
    })
}

fn range_shift(v: &RangeNum, off: &RangeNum, add: bool) -> Result<RangeNum> {
    Ok(match (v, off) {
        (RangeNum::Exact(a), RangeNum::Exact(b)) => {
            RangeNum::Exact(if add { a.add(b)? } else { a.sub(b)? })
        }
        (RangeNum::Float(a), RangeNum::Float(b)) => {
            RangeNum::Float(if add { a + b } else { a - b })
        }
        _ => return Err(Error::internal("RANGE offset of another type")),
    })
}

fn range_cmp(a: &RangeNum, b: &RangeNum) -> Result<Ordering> {
    match (a, b) {
        (RangeNum::Exact(x), RangeNum::Exact(y)) => Ok(x.cmp_total(y)),
        (RangeNum::Float(x), RangeNum::Float(y)) => compare(&Value::Float8(*x), &Value::Float8(*y)),
        _ => Err(Error::internal("RANGE comparison of two types")),
    }
}

/// The frame [start, end) of position `k` of a sorted partition.
fn frame_bounds<'r>(
    call: &WindowCall,
    part: &[(Vec<Value>, usize)],
    np: usize,
    p: &Peers,
    k: usize,
    ctx: &dyn Fn(usize) -> EvalContext<'r>,
) -> Result<(usize, usize)> {
    let m = part.len();
    let g = p.group[k];
    let ng = p.bounds.len();
    let c = ctx(part[k].1);
    let bound = |b: &FrameBound, start: bool| -> Result<usize> {
        Ok(match (call.frame.units, b) {
            (_, FrameBound::UnboundedPreceding) => 0,
            (_, FrameBound::UnboundedFollowing) => m,
            (FrameUnits::Rows, FrameBound::CurrentRow) => {
                if start {
                    k
                } else {
                    k + 1
                }
            }
            (FrameUnits::Rows, FrameBound::Preceding(e)) => {
                let n = rows_offset(e, start, &c)?;
                let pos = k.saturating_sub(n);
                if start {
                    pos
                } else if n > k {
                    0
                } else {
                    pos + 1
                }
            }
            (FrameUnits::Rows, FrameBound::Following(e)) => {
                let n = rows_offset(e, start, &c)?;
                let pos = k.saturating_add(n);
                if start {
                    pos.min(m)
                } else {
                    pos.saturating_add(1).min(m)
                }
            }
            (_, FrameBound::CurrentRow) => {
                if start {
                    p.bounds[g].0
                } else {
                    p.bounds[g].1
                }
            }
            (FrameUnits::Groups, FrameBound::Preceding(e)) => {
                let n = rows_offset(e, start, &c)?;
                if start {
                    p.bounds[g.saturating_sub(n)].0
                } else if n > g {
                    0
                } else {
                    p.bounds[g - n].1
                }
            }
            (FrameUnits::Groups, FrameBound::Following(e)) => {
                let n = rows_offset(e, start, &c)?;
                let t = g.saturating_add(n);
                if start {
                    if t < ng { p.bounds[t].0 } else { m }
                } else {
                    p.bounds[t.min(ng - 1)].1
                }
            }
            (FrameUnits::Range, FrameBound::Preceding(e) | FrameBound::Following(e)) => {
                range_bound(
                    call,
                    part,
                    np,
                    p,
                    k,
                    e,
                    start,
                    matches!(b, FrameBound::Preceding(_)),
                    &c,
                )?
            }
        })
    };
    let s = bound(&call.frame.start, true)?;
    let e = bound(&call.frame.end, false)?;
    Ok((s, e.max(s)))
}

/// A RANGE bound with an offset: the first position (for a start) or one
/// past the last (for an end) whose key lies within the offset.
#[allow(clippy::too_many_arguments)]
fn range_bound(
    call: &WindowCall,
    part: &[(Vec<Value>, usize)],
    np: usize,
    p: &Peers,
    k: usize,
    e: &Expr,
    start: bool,
    preceding: bool,
    c: &EvalContext<'_>,
) -> Result<usize> {
    let off = offset_value(e, start, c)?;
    let invalid = || {
        Error::new(
            SqlState("22013"),
            "invalid preceding or following size in window function",
        )
    };
    let off = range_num(&off).ok_or_else(invalid)?;
    if range_cmp(&off, &RangeNum::Exact(Numeric::zero())).is_ok_and(|o| o == Ordering::Less)
        || matches!(off, RangeNum::Float(f) if f < 0.0 || f.is_nan())
    {
        return Err(invalid());
    }
    let desc = call.order.first().is_some_and(|o| o.desc);
    let key = |j: usize| part[j].0.get(np).cloned().unwrap_or(Value::Null);
    let cur = key(k);
    let g = p.group[k];
    if cur.is_null() {
        // NULL keys: the frame bound is the peer group of NULLs.
        return Ok(if start { p.bounds[g].0 } else { p.bounds[g].1 });
    }
    let Some(v) = range_num(&cur) else {
        return Err(invalid());
    };
    // In sort order, "preceding" moves toward smaller keys (larger if DESC).
    let toward_smaller = preceding != desc;
    let target = range_shift(&v, &off, !toward_smaller)?;
    // Non-null keys form one contiguous run.
    let nn_start = (0..part.len()).find(|&j| !key(j).is_null()).unwrap_or(0);
    let nn_end = (nn_start..part.len())
        .find(|&j| key(j).is_null())
        .unwrap_or(part.len());
    // before(j): position j lies strictly before the bound.
    let mut lo = nn_start;
    let mut hi = nn_end;
    while lo < hi {
        let mid = (lo + hi) / 2;
        let Some(x) = range_num(&key(mid)) else {
            return Err(invalid());
        };
        let o = range_cmp(&x, &target)?;
        // Distance in sort order: ascending keys compare as they are.
        let o = if desc { o.reverse() } else { o };
        let before = if start {
            o == Ordering::Less
        } else {
            o != Ordering::Greater
        };
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}
