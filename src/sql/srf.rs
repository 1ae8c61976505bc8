//! Set-returning functions: `generate_series` (int4, int8, numeric,
//! timestamp and timestamptz with an interval step) and `unnest(array)`,
//! in FROM and in the select list.
//!
//! ```text
//!   SELECT * FROM unnest('{1,2}'::int[], '{a,b,c}'::text[]) WITH ORDINALITY
//!   FunctionScan [unnest, unnest] ordinality     -> (1,a,1) (2,b,2) (NULL,c,3)
//!
//!   SELECT x, generate_series(1, x) FROM t
//!   Project [x, col 1] <- ProjectSet [generate_series(1, x)] <- Scan t
//! ```
//!
//! In FROM, several functions (`unnest(a, b)` is `unnest(a), unnest(b)`)
//! run side by side: the scan has as many rows as the longest, the others
//! padded with NULLs, then the row number if `WITH ORDINALITY`. Arguments
//! are evaluated once per scan (per outer row when they are LATERAL
//! references). A scalar function in FROM gives one row.
//!
//! In the select list, as PostgreSQL 10+ evaluates them (its ProjectSet):
//! every set-returning call of the list runs in lockstep for each input
//! row, giving as many rows as the longest (the shorter ones padded with
//! NULL, none when all are empty); a call inside another call's arguments
//! runs at a lower level first. While the select list is bound, each call
//! becomes a placeholder column ([`SRF_COLUMN_BASE`] + call number) that
//! [`Binder::finish_srfs`] turns into a column of the ProjectSet rows.
//!
//! Owns: overload resolution of the set-returning functions, FROM column
//! names (the function's, or the alias's), and their errors (22023 for a
//! zero step, 0A000 where PostgreSQL forbids them: WHERE, CASE, aggregate
//! arguments, …).
//! Never: multi-dimensional arrays (they wait for arrays to have them).

use sqlparser::ast;

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value};

use super::bind::{Binder, Scope, ident_name, object_name, type_list};
use super::coerce::{NoMatch, select_candidate};
use super::execute::{ExecContext, Row};
use super::expr::{BinOp, EvalContext, Expr};
use super::plan::Plan;

/// Which set-returning function a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetFunc {
    /// args [start, stop, step] of one type (int4, int8 or numeric).
    GenerateSeries,
    /// args [start, stop, step]: timestamp(tz), timestamp(tz), interval.
    GenerateSeriesTime,
    /// args [array]: its elements.
    Unnest,
    /// A scalar function in FROM: args [the call], one row.
    Scalar,
    /// args [text, pattern, flags]: one text[] per match (all with `g`).
    RegexpMatches,
    /// args [text, pattern, flags]: the pieces between matches.
    RegexpSplit,
}

/// One call of a set-returning function: arguments over the input row.
#[derive(Debug, Clone)]
pub struct SrfCall {
    pub func: SetFunc,
    pub args: Vec<Expr>,
    pub ty: DataType,
}

/// Select-list calls are placeholder columns from here up while binding.
pub const SRF_COLUMN_BASE: usize = usize::MAX / 4;

/// Set-returning calls of the select list being bound.
#[derive(Debug, Default)]
pub struct SrfState {
    /// Each call and its level (0: reads only the input row).
    calls: Vec<(SrfCall, usize)>,
    /// Set while binding where PostgreSQL forbids them (`CASE`, …).
    pub(super) forbidden: Option<&'static str>,
    /// Argument counts while [`SrfState::lend_args`] has them.
    lent: Vec<usize>,
}

impl SrfState {
    /// Appends every call's arguments to `exprs` (so a renumbering of
    /// `exprs` reaches them too); [`SrfState::return_args`] takes them back.
    pub(super) fn lend_args(&mut self, exprs: &mut Vec<Expr>) {
        self.lent = Vec::with_capacity(self.calls.len());
        for (c, _) in &mut self.calls {
            self.lent.push(c.args.len());
            exprs.append(&mut c.args);
        }
    }

    pub(super) fn return_args(&mut self, exprs: &mut Vec<Expr>, listed: usize) {
        let mut lent = exprs.split_off(listed).into_iter();
        for ((c, _), n) in self.calls.iter_mut().zip(&self.lent) {
            c.args = lent.by_ref().take(*n).collect();
        }
    }
}

/// Whether `name` is a set-returning function.
pub fn is_set_function(name: &str) -> bool {
    matches!(
        name,
        "generate_series"
            | "unnest"
            | "pg_partition_ancestors"
            | "pg_listening_channels"
            | "regexp_matches"
            | "regexp_split_to_table"
            | "generate_subscripts"
            | "_pg_expandarray"
    )
}

/// Some set-returning functions are `unnest` of an array-valued built-in
/// (the catalog ones of [`super::pg_catalog::funcs`], `generate_subscripts`
/// of [`super::datetime_functions`]): its name for `name`.
fn array_form(name: &str) -> Option<&'static str> {
    match name {
        "pg_partition_ancestors" => Some("pg_partition_ancestors[]"),
        "pg_listening_channels" => Some("pg_listening_channels[]"),
        "generate_subscripts" => Some("generate_subscripts[]"),
        "_pg_expandarray" => Some("_pg_expandarray[]"),
        _ => None,
    }
}

fn not_allowed(what: impl std::fmt::Display) -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("set-returning functions are not allowed in {what}"),
    )
}

fn lateral_hint(e: Error) -> Error {
    e.with_hint("You might be able to move the set-returning function into a LATERAL FROM item.")
}

/// A FROM item that calls functions, from any of sqlparser's shapes.
pub(super) struct FromFunction<'a> {
    pub name: String,
    pub args: Vec<&'a ast::Expr>,
    pub ordinality: bool,
    pub alias: Option<&'a ast::TableAlias>,
}

impl<'a> FromFunction<'a> {
    pub fn from_factor(tf: &'a ast::TableFactor) -> Result<Option<FromFunction<'a>>> {
        fn plain(args: &[ast::FunctionArg]) -> Result<Vec<&ast::Expr>> {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => out.push(e),
                    _ => return Err(Error::unsupported("this argument of a function in FROM")),
                }
            }
            Ok(out)
        }
        fn fname(name: &ast::ObjectName) -> Result<String> {
            let parts = object_name(name);
            if parts.len() > 1 && !super::bind::known_function_schema(&parts) {
                return Err(Error::unsupported("schema-qualified functions"));
            }
            Ok(parts.last().cloned().unwrap_or_default())
        }
        Ok(Some(match tf {
            ast::TableFactor::Table {
                name,
                alias,
                args: Some(args),
                with_ordinality,
                ..
            } => {
                if args.settings.is_some() {
                    return Err(Error::unsupported("SETTINGS in a function in FROM"));
                }
                FromFunction {
                    name: fname(name)?,
                    args: plain(&args.args)?,
                    ordinality: *with_ordinality,
                    alias: alias.as_ref(),
                }
            }
            ast::TableFactor::Function {
                name,
                args,
                with_ordinality,
                alias,
                ..
            } => FromFunction {
                name: fname(name)?,
                args: plain(args)?,
                ordinality: *with_ordinality,
                alias: alias.as_ref(),
            },
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset,
                with_ordinality,
                ..
            } => {
                if *with_offset {
                    return Err(Error::unsupported("UNNEST … WITH OFFSET"));
                }
                FromFunction {
                    name: "unnest".into(),
                    args: array_exprs.iter().collect(),
                    ordinality: *with_ordinality,
                    alias: alias.as_ref(),
                }
            }
            _ => return Ok(None),
        }))
    }
}

impl Binder {
    /// A function call in FROM: `name(args…) [WITH ORDINALITY] [AS alias[(columns)]]`.
    pub(super) fn bind_from_function(&mut self, f: &FromFunction<'_>) -> Result<(Plan, Scope)> {
        let mut bound = Vec::with_capacity(f.args.len());
        for a in &f.args {
            let x =
                self.forbid_aggregates("functions in FROM", |b| b.bind_expr(a, &Scope::default()))?;
            bound.push(x);
        }
        let calls: Vec<SrfCall> = match f.name.as_str() {
            "generate_series" => vec![self.resolve_series(bound)?],
            "unnest" if bound.len() > 1 => {
                let mut calls = Vec::with_capacity(bound.len());
                for a in bound {
                    calls.push(self.resolve_unnest(vec![a])?);
                }
                calls
            }
            "unnest" => vec![self.resolve_unnest(bound)?],
            "regexp_matches" | "regexp_split_to_table" => {
                vec![self.resolve_regexp_srf(&f.name, bound)?]
            }
            name if array_form(name).is_some() => {
                let array = self.call_function(array_form(name).unwrap_or(name), bound)?;
                vec![self.resolve_unnest(vec![array])?]
            }
            name => {
                let e = self.call_function(name, bound)?;
                let ty = e.ty();
                vec![SrfCall {
                    func: SetFunc::Scalar,
                    args: vec![e],
                    ty,
                }]
            }
        };
        // A single function names its column after the alias, several keep
        // the function's name; an alias's column list renames in order.
        let mut names: Vec<String> = vec![f.name.clone(); calls.len()];
        let mut types: Vec<DataType> = calls.iter().map(|c| c.ty.clone()).collect();
        if f.ordinality {
            names.push("ordinality".into());
            types.push(DataType::Int8);
        }
        let table = match f.alias {
            None => f.name.clone(),
            Some(a) => {
                let t = ident_name(&a.name);
                if a.columns.len() > names.len() {
                    return Err(Error::new(
                        SqlState::INVALID_COLUMN_REFERENCE,
                        format!(
                            "table \"{t}\" has {} columns available but {} columns specified",
                            names.len(),
                            a.columns.len()
                        ),
                    ));
                }
                if a.columns.is_empty() && calls.len() == 1 {
                    names[0] = t.clone();
                }
                for (n, c) in names.iter_mut().zip(&a.columns) {
                    *n = ident_name(&c.name);
                }
                t
            }
        };
        Ok((
            Plan::FunctionScan {
                calls,
                ordinality: f.ordinality,
            },
            Scope::of(Some(table), names.into_iter().zip(types)),
        ))
    }

    /// A set-returning call in an expression: a placeholder column of the
    /// select list's ProjectSet, or 0A000 where sets are not allowed.
    pub(super) fn bind_srf_call(&mut self, name: &str, args: Vec<Expr>) -> Result<Expr> {
        if self.agg.as_ref().is_some_and(|a| a.in_agg) {
            return Err(lateral_hint(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "aggregate function calls cannot contain set-returning function calls",
            )));
        }
        if self.window_inside().is_some() {
            return Err(lateral_hint(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                "window function calls cannot contain set-returning function calls",
            )));
        }
        let Some(state) = self.srfs.as_ref() else {
            return Err(not_allowed(self.agg_forbidden.unwrap_or("this context")));
        };
        if let Some(ctx) = state.forbidden {
            let e = not_allowed(ctx);
            return Err(if matches!(ctx, "CASE" | "COALESCE") {
                lateral_hint(e)
            } else {
                e
            });
        }
        let call = match name {
            "generate_series" => self.resolve_series(args)?,
            "regexp_matches" | "regexp_split_to_table" => self.resolve_regexp_srf(name, args)?,
            name if array_form(name).is_some() => {
                let array = self.call_function(array_form(name).unwrap_or(name), args)?;
                self.resolve_unnest(vec![array])?
            }
            _ => self.resolve_unnest(args)?,
        };
        let Some(state) = self.srfs.as_mut() else {
            return Err(Error::internal("set-returning state vanished"));
        };
        let mut level = 0;
        for a in &call.args {
            a.clone().map_columns(&mut |i| {
                if i >= SRF_COLUMN_BASE
                    && let Some((_, l)) = state.calls.get(i - SRF_COLUMN_BASE)
                {
                    level = level.max(l + 1);
                }
                i
            });
        }
        let ty = call.ty.clone();
        state.calls.push((call, level));
        Ok(Expr::Column {
            index: SRF_COLUMN_BASE + state.calls.len() - 1,
            ty,
        })
    }

    /// Binds `f` where set-returning functions are not allowed (`what`).
    pub(super) fn forbid_srfs<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Binder) -> Result<T>,
    ) -> Result<T> {
        let saved = self.srfs.as_mut().map(|s| s.forbidden.replace(what));
        let r = f(self);
        if let (Some(s), Some(v)) = (self.srfs.as_mut(), saved) {
            s.forbidden = v;
        }
        r
    }

    /// Puts the ProjectSet levels of the select list's set-returning calls
    /// over `input` and points `exprs`' placeholders at their columns.
    pub(super) fn finish_srfs(
        &mut self,
        state: Option<SrfState>,
        input: Plan,
        exprs: &mut [Expr],
    ) -> Plan {
        let calls = state.map(|s| s.calls).unwrap_or_default();
        if calls.is_empty() {
            return input;
        }
        let base = input.width();
        // Calls in level order; position[k] is call k's column.
        let mut order: Vec<usize> = (0..calls.len()).collect();
        order.sort_by_key(|&k| calls[k].1);
        let mut position = vec![0; calls.len()];
        for (p, &k) in order.iter().enumerate() {
            position[k] = base + p;
        }
        let mut remap = |i: usize| {
            if i >= SRF_COLUMN_BASE {
                position.get(i - SRF_COLUMN_BASE).copied().unwrap_or(i)
            } else {
                i
            }
        };
        for e in exprs.iter_mut() {
            e.map_columns(&mut remap);
        }
        let mut plan = input;
        let mut levels: Vec<(usize, Vec<SrfCall>)> = Vec::new();
        for &k in &order {
            let (call, level) = &calls[k];
            let mut call = call.clone();
            for a in &mut call.args {
                a.map_columns(&mut remap);
            }
            match levels.last_mut() {
                Some((l, v)) if l == level => v.push(call),
                _ => levels.push((*level, vec![call])),
            }
        }
        for (_, calls) in levels {
            plan = Plan::ProjectSet {
                input: Box::new(plan),
                calls,
            };
        }
        plan
    }

    fn ambiguous(&self, name: &str, inputs: &[DataType]) -> Error {
        Error::new(
            SqlState::AMBIGUOUS_FUNCTION,
            format!("function {name}({}) is not unique", type_list(inputs)),
        )
        .with_hint(
            "Could not choose a best candidate function. You might need to add explicit type casts.",
        )
    }

    fn resolve_series(&mut self, args: Vec<Expr>) -> Result<SrfCall> {
        use DataType::*;
        let inputs: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        let mut candidates = Vec::new();
        for t in [Int4, Int8, Numeric(None)] {
            candidates.push(vec![t.clone(), t.clone()]);
            candidates.push(vec![t.clone(), t.clone(), t]);
        }
        for t in [Timestamp, Timestamptz] {
            candidates.push(vec![t.clone(), t, Interval]);
        }
        let i = match select_candidate(&inputs, &candidates) {
            Ok(i) => i,
            Err(NoMatch::None) => return Err(self.no_function("generate_series", &args)),
            Err(NoMatch::Ambiguous) => return Err(self.ambiguous("generate_series", &inputs)),
        };
        let sig = candidates[i].clone();
        let ty = sig[0].clone();
        let mut out = Vec::with_capacity(3);
        for (a, t) in args.into_iter().zip(&sig) {
            out.push(self.coerce(a, t)?);
        }
        let func = if sig.get(2) == Some(&Interval) {
            SetFunc::GenerateSeriesTime
        } else {
            SetFunc::GenerateSeries
        };
        if out.len() == 2 {
            out.push(Expr::Const {
                value: match ty {
                    Int4 => Value::Int4(1),
                    Int8 => Value::Int8(1),
                    _ => Value::Numeric(crate::types::Numeric::from_i64(1)),
                },
                ty: ty.clone(),
            });
        }
        Ok(SrfCall {
            func,
            args: out,
            ty,
        })
    }

    /// `regexp_matches` / `regexp_split_to_table` (text, text [, text]).
    fn resolve_regexp_srf(&mut self, name: &str, args: Vec<Expr>) -> Result<SrfCall> {
        if !(2..=3).contains(&args.len())
            || !args.iter().all(|a| {
                matches!(
                    a.ty(),
                    DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown
                )
            })
        {
            return Err(self.no_function(name, &args));
        }
        let mut out = Vec::with_capacity(3);
        for a in args {
            out.push(self.coerce(a, &DataType::Text)?);
        }
        if out.len() == 2 {
            out.push(Expr::Const {
                value: Value::Text(String::new()),
                ty: DataType::Text,
            });
        }
        Ok(if name == "regexp_matches" {
            SrfCall {
                func: SetFunc::RegexpMatches,
                args: out,
                ty: super::regexp_functions::text_array(),
            }
        } else {
            SrfCall {
                func: SetFunc::RegexpSplit,
                args: out,
                ty: DataType::Text,
            }
        })
    }

    fn resolve_unnest(&mut self, args: Vec<Expr>) -> Result<SrfCall> {
        match args.as_slice() {
            [a] => match a.ty() {
                DataType::Array(elem) => Ok(SrfCall {
                    func: SetFunc::Unnest,
                    args,
                    ty: *elem,
                }),
                DataType::Unknown => Err(self.ambiguous("unnest", &[DataType::Unknown])),
                _ => Err(self.no_function("unnest", &args)),
            },
            _ => Err(self.no_function("unnest", &args)),
        }
    }
}

/// Largest number of rows one set-returning call materializes.
const SERIES_ROWS_MAX: usize = 100_000_000;

fn too_many() -> Error {
    Error::new(
        SqlState::PROGRAM_LIMIT_EXCEEDED,
        format!("generate_series would return more than {SERIES_ROWS_MAX} rows"),
    )
}

fn zero_step() -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        "step size cannot equal zero",
    )
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

/// The values one call returns for `row`.
fn call_values(call: &SrfCall, row: &[Value], cx: &ExecContext<'_>) -> Result<Vec<Value>> {
    let ctx = eval_cx(cx, row);
    let mut values = Vec::with_capacity(call.args.len());
    for a in &call.args {
        values.push(a.eval(&ctx)?);
    }
    if call.func == SetFunc::Scalar {
        return Ok(values);
    }
    if values.iter().any(Value::is_null) {
        return Ok(Vec::new());
    }
    match (call.func, values.as_slice()) {
        (SetFunc::GenerateSeries, [Value::Int4(a), Value::Int4(b), Value::Int4(s)]) => {
            int_series(*a as i64, *b as i64, *s as i64, |v| Value::Int4(v as i32))
        }
        (SetFunc::GenerateSeries, [Value::Int8(a), Value::Int8(b), Value::Int8(s)]) => {
            int_series(*a, *b, *s, Value::Int8)
        }
        (SetFunc::GenerateSeries, [Value::Numeric(a), Value::Numeric(b), Value::Numeric(s)]) => {
            numeric_series(a, b, s)
        }
        (SetFunc::GenerateSeriesTime, [a, b, s]) => time_series(a, b, s),
        (SetFunc::Unnest, [Value::Array(items)]) => Ok(items.clone()),
        (SetFunc::RegexpMatches, [Value::Text(s), Value::Text(p), Value::Text(f)]) => {
            super::regexp_functions::regexp_matches(s, p, f)
        }
        (SetFunc::RegexpSplit, [Value::Text(s), Value::Text(p), Value::Text(f)]) => {
            super::regexp_functions::regexp_split("regexp_split_to_table", s, p, f)
        }
        (_, other) => Err(Error::internal(format!(
            "set-returning {:?} over {other:?}",
            call.func
        ))),
    }
}

/// Side by side: as many rows as the longest list, the others NULL-padded.
fn zip_sets(sets: Vec<Vec<Value>>, mut emit: impl FnMut(usize, Vec<Value>)) {
    let n = sets.iter().map(Vec::len).max().unwrap_or(0);
    let mut iters: Vec<_> = sets.into_iter().map(Vec::into_iter).collect();
    for i in 0..n {
        let vals = iters
            .iter_mut()
            .map(|it| it.next().unwrap_or(Value::Null))
            .collect();
        emit(i, vals);
    }
}

/// A FROM function scan: its rows.
pub fn run_scan(calls: &[SrfCall], ordinality: bool, cx: &ExecContext<'_>) -> Result<Vec<Row>> {
    let mut sets = Vec::with_capacity(calls.len());
    for c in calls {
        sets.push(call_values(c, &[], cx)?);
    }
    let mut out = Vec::new();
    zip_sets(sets, |i, mut row| {
        if ordinality {
            row.push(Value::Int8(i as i64 + 1));
        }
        out.push(row);
    });
    Ok(out)
}

/// ProjectSet: each input row once per row of its calls' sets.
pub fn run_project_set(
    rows: Vec<Row>,
    calls: &[SrfCall],
    cx: &ExecContext<'_>,
) -> Result<Vec<Row>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        super::signals::check()?;
        let mut sets = Vec::with_capacity(calls.len());
        for c in calls {
            sets.push(call_values(c, &row, cx)?);
        }
        zip_sets(sets, |_, vals| {
            let mut r = row.clone();
            r.extend(vals);
            out.push(r);
        });
    }
    Ok(out)
}

fn int_series(start: i64, stop: i64, step: i64, make: impl Fn(i64) -> Value) -> Result<Vec<Value>> {
    if step == 0 {
        return Err(zero_step());
    }
    let (start, stop, step) = (start as i128, stop as i128, step as i128);
    let count = if (step > 0 && start > stop) || (step < 0 && start < stop) {
        0
    } else {
        ((stop - start) / step + 1) as u128
    };
    if count > SERIES_ROWS_MAX as u128 {
        return Err(too_many());
    }
    Ok((0..count as i128)
        .map(|k| make((start + k * step) as i64))
        .collect())
}

fn numeric_series(start: &Numeric, stop: &Numeric, step: &Numeric) -> Result<Vec<Value>> {
    use std::cmp::Ordering;
    for (v, what) in [(start, "start"), (stop, "stop"), (step, "step size")] {
        if v.is_nan() {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("{what} value cannot be NaN"),
            ));
        }
        if v.is_infinite() {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("{what} value cannot be infinity"),
            ));
        }
    }
    let dir = step.cmp_total(&Numeric::zero());
    if dir == Ordering::Equal {
        return Err(zero_step());
    }
    let mut out = Vec::new();
    let mut v = start.clone();
    loop {
        let o = v.cmp_total(stop);
        if (dir == Ordering::Greater && o == Ordering::Greater)
            || (dir == Ordering::Less && o == Ordering::Less)
        {
            break;
        }
        if out.len() >= SERIES_ROWS_MAX {
            return Err(too_many());
        }
        super::signals::check()?;
        out.push(Value::Numeric(v.clone()));
        v = v.add(step)?;
    }
    Ok(out)
}

/// Timestamps from `start` by `step` while not past `stop` (PostgreSQL's
/// generate_series_timestamp: the direction is the step's sign against
/// the zero interval).
fn time_series(start: &Value, stop: &Value, step: &Value) -> Result<Vec<Value>> {
    use std::cmp::Ordering;
    let zero = Value::Interval(crate::types::Interval::new(0, 0, 0));
    let dir = super::expr::compare(step, &zero)?;
    if dir == Ordering::Equal {
        return Err(zero_step());
    }
    let mut out = Vec::new();
    let mut v = start.clone();
    loop {
        let o = super::expr::compare(&v, stop)?;
        if (dir == Ordering::Greater && o == Ordering::Greater)
            || (dir == Ordering::Less && o == Ordering::Less)
        {
            break;
        }
        if out.len() >= SERIES_ROWS_MAX {
            return Err(too_many());
        }
        super::signals::check()?;
        let next = super::datetime_functions::binary(BinOp::Add, &v, step)?;
        out.push(v);
        v = next;
    }
    Ok(out)
}
