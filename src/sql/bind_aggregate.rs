//! Binding aggregate calls: `count(*)`, `sum(DISTINCT x)`,
//! `string_agg(x, ',' ORDER BY y DESC)`, `count(*) FILTER (WHERE p)`.
//!
//! ```text
//!   SELECT k, sum(v) FILTER (WHERE v > 0) FROM t GROUP BY k
//!   Aggregate keys [k] aggs [sum(v) filter v > 0]   <- AggCall, over the input row
//!   the select list reads the aggregate as Column(1) (keys first, then aggs)
//! ```
//!
//! Owns: overload resolution of aggregates (also for aggregates used as
//! window functions), where aggregates may appear (42803), the FILTER and
//! ORDER BY clauses of a call.
//! Never: accumulates ([`super::aggregate`] does).

use sqlparser::ast::{self, FunctionArg, FunctionArgExpr, FunctionArguments};

use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

use super::aggregate::{self, AggFunc, OrderKey};
use super::bind::{Binder, Scope, type_list};
use super::coerce::{NoMatch, same_base, select_candidate};
use super::expr::{BinOp, Expr};
use super::plan::AggCall;

/// The parts of an aggregate call's argument list.
pub(super) struct AggArgs<'a> {
    pub(super) args: Vec<&'a ast::Expr>,
    pub(super) star: bool,
    pub(super) distinct: bool,
    pub(super) order: &'a [ast::OrderByExpr],
}

/// Splits `f`'s arguments (42601 for `sum(*)`, 0A000 for clauses
/// PostgreSQL does not have).
pub(super) fn agg_args<'a>(name: &str, f: &'a ast::Function) -> Result<AggArgs<'a>> {
    let mut out = AggArgs {
        args: Vec::new(),
        star: false,
        distinct: false,
        order: &[],
    };
    if let FunctionArguments::List(list) = &f.args {
        out.distinct = matches!(
            list.duplicate_treatment,
            Some(ast::DuplicateTreatment::Distinct)
        );
        for c in &list.clauses {
            match c {
                ast::FunctionArgumentClause::OrderBy(items) => out.order = items,
                other => return Err(Error::unsupported(format!("{other} in an aggregate"))),
            }
        }
        if matches!(
            list.args.as_slice(),
            [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]
        ) {
            out.star = true;
        } else {
            for a in &list.args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => out.args.push(e),
                    _ => return Err(Error::unsupported("this aggregate argument")),
                }
            }
        }
    }
    if out.star && name != "count" {
        return Err(Error::new(
            SqlState::SYNTAX_ERROR,
            format!("{name}(*) must be used to call a parameterless aggregate function"),
        ));
    }
    Ok(out)
}

impl Binder {
    pub(super) fn bind_aggregate(&mut self, name: &str, f: &ast::Function) -> Result<Expr> {
        let grouping = |m: String| Error::new(SqlState::GROUPING_ERROR, m);
        if !f.within_group.is_empty() {
            return Err(Error::unsupported("WITHIN GROUP"));
        }
        let Some(state) = self.agg.as_ref() else {
            return Err(grouping(match self.agg_forbidden {
                Some(ctx) => format!("aggregate functions are not allowed in {ctx}"),
                None => "aggregate functions are not allowed here".to_string(),
            }));
        };
        if state.in_agg {
            return Err(grouping(
                "aggregate function calls cannot be nested".to_string(),
            ));
        }
        let scope = state.input_scope.clone();
        let parts = agg_args(name, f)?;
        if let Some(st) = self.agg.as_mut() {
            st.in_agg = true;
        }
        let r = self.bind_agg_parts(name, f, &parts, &scope);
        if let Some(st) = self.agg.as_mut() {
            st.in_agg = false;
        }
        let call = r?;
        let Some(st) = self.agg.as_mut() else {
            return Err(Error::internal("aggregate state vanished"));
        };
        let index = st.group_asts.len() + st.aggs.len();
        let ty = call.ret.clone();
        st.aggs.push(call);
        Ok(Expr::Column { index, ty })
    }

    /// Arguments, FILTER and ORDER BY of one call, bound over `scope`.
    fn bind_agg_parts(
        &mut self,
        name: &str,
        f: &ast::Function,
        parts: &AggArgs<'_>,
        scope: &Scope,
    ) -> Result<AggCall> {
        let mut args = Vec::with_capacity(parts.args.len());
        for a in &parts.args {
            args.push(self.bind_expr(a, scope)?);
        }
        let (func, args, ret) = self.resolve_aggregate(name, parts.star, args)?;
        let filter = match &f.filter {
            None => None,
            Some(p) => {
                let p = self.bind_expr(p, scope).map_err(|e| {
                    if e.sqlstate == SqlState::GROUPING_ERROR {
                        Error::new(
                            SqlState::GROUPING_ERROR,
                            "aggregate functions are not allowed in FILTER",
                        )
                    } else {
                        e
                    }
                })?;
                Some(self.coerce_bool(p, "FILTER")?)
            }
        };
        let mut order = Vec::with_capacity(parts.order.len());
        for item in parts.order {
            let e = self.bind_expr(&item.expr, scope)?;
            let e = if e.ty() == DataType::Unknown {
                self.coerce(e, &DataType::Text)?
            } else {
                e
            };
            // The key's type must be orderable.
            self.binary(BinOp::Lt, e.clone(), e.clone())?;
            if parts.distinct && !parts.args.iter().any(|a| **a == item.expr) {
                return Err(Error::new(
                    SqlState("42P10"),
                    "in an aggregate with DISTINCT, ORDER BY expressions must appear in argument list",
                ));
            }
            let desc = matches!(item.options.sort, Some(ast::OrderBySort::Desc));
            order.push(OrderKey {
                expr: e,
                desc,
                nulls_first: item.options.nulls_first.unwrap_or(desc),
            });
        }
        Ok(AggCall {
            func,
            args,
            distinct: parts.distinct,
            ret,
            filter,
            order,
        })
    }

    /// Picks the overload of aggregate `name` for `args` and coerces them:
    /// the function, the arguments and the result type.
    pub(super) fn resolve_aggregate(
        &mut self,
        name: &str,
        star: bool,
        args: Vec<Expr>,
    ) -> Result<(AggFunc, Vec<Expr>, DataType)> {
        if star {
            return Ok((AggFunc::CountStar, Vec::new(), DataType::Int8));
        }
        if name == "count" {
            if args.len() != 1 {
                return Err(self.no_function(name, &args));
            }
            let mut out = Vec::with_capacity(1);
            for a in args {
                out.push(if a.ty() == DataType::Unknown {
                    self.coerce(a, &DataType::Text)?
                } else {
                    a
                });
            }
            return Ok((AggFunc::Count, out, DataType::Int8));
        }
        let sigs = aggregate::signatures(name);
        let inputs: Vec<DataType> = args.iter().map(|a| a.ty()).collect();
        let ambiguous = || {
            Error::new(
                SqlState::AMBIGUOUS_FUNCTION,
                format!("function {name}({}) is not unique", type_list(&inputs)),
            )
            .with_hint("Could not choose a best candidate function. You might need to add explicit type casts.")
        };
        // PostgreSQL also has sum/avg over interval and money, so an
        // unknown argument is ambiguous there.
        if aggregate::unknown_is_ambiguous(name) && inputs.contains(&DataType::Unknown) {
            return Err(ambiguous());
        }
        let candidates: Vec<Vec<DataType>> = sigs.iter().map(|s| s.args.clone()).collect();
        let i = match select_candidate(&inputs, &candidates) {
            Ok(i) => i,
            Err(NoMatch::None) => return Err(self.no_function(name, &args)),
            Err(NoMatch::Ambiguous) => return Err(ambiguous()),
        };
        let sig = &sigs[i];
        let mut out = Vec::with_capacity(args.len());
        for (a, t) in args.into_iter().zip(&sig.args) {
            out.push(if same_base(&a.ty(), t) {
                a
            } else {
                self.coerce(a, t)?
            });
        }
        Ok((sig.func, out, sig.ret.clone()))
    }
}
