//! Array built-ins over one-dimensional arrays: `string_to_array`,
//! `array_to_string`, `array_position`, `array_append`, `array_prepend`,
//! `array_cat`, `array_remove`, `array_replace` (and `||` on arrays).
//!
//! ```text
//!   string_to_array('a,b,,c', ',', '')  -> {a,b,NULL,c}
//!   array_to_string('{1,NULL,3}', '-', '*') -> 1-*-3
//!   array_append('{1}', 2) -> {1,2}    array_cat(NULL, '{1}') -> {1}
//! ```
//!
//! Owns: binding (the element type comes from the array argument, as
//! PostgreSQL's anyarray / anyelement resolution does) and evaluation.
//! Never: handles multi-dimensional arrays (arbordb has none).

use crate::error::Result;
use crate::types::{DataType, Value};

use super::bind::Binder;
use super::expr::Expr;
use super::functions::Func;

/// Which array built-in a bound call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrayFunc {
    StringToArray,
    ArrayToString,
    Position,
    Append,
    Prepend,
    Cat,
    /// `array_remove(a, x)`: every element not distinct from `x` removed.
    Remove,
    /// `array_replace(a, from, to)`.
    Replace,
}

fn call_expr(f: ArrayFunc, args: Vec<Expr>, ty: DataType) -> Expr {
    Expr::Func {
        func: Func::Array(f),
        args,
        ty,
    }
}

/// The array type of `e`, resolving an unknown literal as `fallback[]`.
fn array_arg(b: &mut Binder, e: Expr, fallback: &DataType) -> Result<(Expr, DataType)> {
    let e = match e.ty() {
        DataType::Unknown => b.coerce(e, &DataType::Array(Box::new(fallback.clone())))?,
        _ => e,
    };
    match e.ty() {
        DataType::Array(elem) => Ok((e, *elem)),
        _ => Err(b.no_function("array function", std::slice::from_ref(&e))),
    }
}

/// Binds `name(args)` if it is one of this module's functions.
pub fn bind(b: &mut Binder, name: &str, args: &[Expr]) -> Option<Result<Expr>> {
    let f = match (name, args.len()) {
        ("string_to_array", 2 | 3) => ArrayFunc::StringToArray,
        ("array_to_string", 2 | 3) => ArrayFunc::ArrayToString,
        ("array_position", 2) => ArrayFunc::Position,
        ("array_append", 2) => ArrayFunc::Append,
        ("array_prepend", 2) => ArrayFunc::Prepend,
        ("array_cat", 2) => ArrayFunc::Cat,
        ("array_remove", 2) => ArrayFunc::Remove,
        ("array_replace", 3) => ArrayFunc::Replace,
        _ => return None,
    };
    Some(bind_call(b, name, f, args.to_vec()))
}

fn bind_call(b: &mut Binder, name: &str, f: ArrayFunc, args: Vec<Expr>) -> Result<Expr> {
    let text = DataType::Text;
    match f {
        ArrayFunc::StringToArray => {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                out.push(b.coerce(a, &text)?);
            }
            Ok(call_expr(f, out, DataType::Array(Box::new(text))))
        }
        ArrayFunc::ArrayToString => {
            let mut it = args.into_iter();
            let Some(arr) = it.next() else {
                return Err(b.no_function(name, &[]));
            };
            if !matches!(arr.ty(), DataType::Array(_)) {
                return Err(b.no_function(name, &[arr]));
            }
            let mut out = vec![arr];
            for a in it {
                out.push(b.coerce(a, &text)?);
            }
            Ok(call_expr(f, out, text))
        }
        ArrayFunc::Replace => {
            let [arr, from, to]: [Expr; 3] = args
                .try_into()
                .map_err(|_| crate::error::Error::internal("array function arity"))?;
            let fallback = match from.ty() {
                DataType::Unknown => text.clone(),
                t => t,
            };
            let (arr, elem) = array_arg(b, arr, &fallback)?;
            let from = b.coerce(from, &elem)?;
            let to = b.coerce(to, &elem)?;
            Ok(call_expr(
                f,
                vec![arr, from, to],
                DataType::Array(Box::new(elem)),
            ))
        }
        ArrayFunc::Position | ArrayFunc::Append | ArrayFunc::Remove => {
            let [arr, x]: [Expr; 2] = args
                .try_into()
                .map_err(|_| crate::error::Error::internal("array function arity"))?;
            let fallback = match x.ty() {
                DataType::Unknown => text.clone(),
                t => t,
            };
            let (arr, elem) = array_arg(b, arr, &fallback)?;
            let x = b.coerce(x, &elem)?;
            let ret = if f == ArrayFunc::Position {
                DataType::Int4
            } else {
                DataType::Array(Box::new(elem))
            };
            Ok(call_expr(f, vec![arr, x], ret))
        }
        ArrayFunc::Prepend => {
            let [x, arr]: [Expr; 2] = args
                .try_into()
                .map_err(|_| crate::error::Error::internal("array function arity"))?;
            let fallback = match x.ty() {
                DataType::Unknown => text.clone(),
                t => t,
            };
            let (arr, elem) = array_arg(b, arr, &fallback)?;
            let x = b.coerce(x, &elem)?;
            Ok(call_expr(f, vec![x, arr], DataType::Array(Box::new(elem))))
        }
        ArrayFunc::Cat => {
            let [l, r]: [Expr; 2] = args
                .try_into()
                .map_err(|_| crate::error::Error::internal("array function arity"))?;
            let ty = match (l.ty(), r.ty()) {
                (DataType::Array(e), _) | (_, DataType::Array(e)) => DataType::Array(e),
                _ => DataType::Array(Box::new(text.clone())),
            };
            let l = b.coerce(l, &ty)?;
            let r = b.coerce(r, &ty)?;
            Ok(call_expr(f, vec![l, r], ty))
        }
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(items) => items,
        _ => &[],
    }
}

/// Evaluates a call; these functions are not strict (NULL arguments have
/// PostgreSQL's meanings, listed per function).
pub fn call(f: ArrayFunc, args: &[Value]) -> Result<Value> {
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    Ok(match f {
        ArrayFunc::StringToArray => {
            let Value::Text(s) = arg(0) else {
                return Ok(Value::Null);
            };
            let null_str = match arg(2) {
                Value::Text(n) => Some(n.as_str()),
                _ => None,
            };
            let parts: Vec<String> = if s.is_empty() {
                Vec::new()
            } else {
                match arg(1) {
                    // NULL delimiter: one element per character.
                    Value::Null => s.chars().map(String::from).collect(),
                    Value::Text(d) if d.is_empty() => vec![s.clone()],
                    Value::Text(d) => s.split(d.as_str()).map(String::from).collect(),
                    _ => return Ok(Value::Null),
                }
            };
            Value::Array(
                parts
                    .into_iter()
                    .map(|p| {
                        if Some(p.as_str()) == null_str {
                            Value::Null
                        } else {
                            Value::Text(p)
                        }
                    })
                    .collect(),
            )
        }
        ArrayFunc::ArrayToString => {
            let (Value::Array(xs), Value::Text(sep)) = (arg(0), arg(1)) else {
                return Ok(Value::Null);
            };
            let null_str = match arg(2) {
                Value::Text(n) => Some(n.as_str()),
                _ => None,
            };
            let mut parts = Vec::with_capacity(xs.len());
            for x in xs {
                match (x, null_str) {
                    (Value::Null, Some(n)) => parts.push(n.to_string()),
                    (Value::Null, None) => {}
                    (v, _) => parts.push(v.to_text()),
                }
            }
            Value::Text(parts.join(sep))
        }
        ArrayFunc::Position => {
            let Value::Array(xs) = arg(0) else {
                return Ok(Value::Null);
            };
            // IS NOT DISTINCT FROM: a NULL finds the first NULL element.
            let needle = arg(1);
            match xs.iter().position(|x| x == needle) {
                Some(i) => Value::Int4(i as i32 + 1),
                None => Value::Null,
            }
        }
        // Not strict in the element: NULL removes / replaces NULLs.
        ArrayFunc::Remove => match arg(0) {
            Value::Array(xs) => Value::Array(xs.iter().filter(|x| *x != arg(1)).cloned().collect()),
            _ => Value::Null,
        },
        ArrayFunc::Replace => match arg(0) {
            Value::Array(xs) => Value::Array(
                xs.iter()
                    .map(|x| {
                        if x == arg(1) {
                            arg(2).clone()
                        } else {
                            x.clone()
                        }
                    })
                    .collect(),
            ),
            _ => Value::Null,
        },
        ArrayFunc::Append => {
            let mut out = items(arg(0)).to_vec();
            out.push(arg(1).clone());
            Value::Array(out)
        }
        ArrayFunc::Prepend => {
            let mut out = vec![arg(0).clone()];
            out.extend_from_slice(items(arg(1)));
            Value::Array(out)
        }
        ArrayFunc::Cat => match (arg(0), arg(1)) {
            (Value::Null, Value::Null) => Value::Null,
            (l, r) => {
                let mut out = items(l).to_vec();
                out.extend_from_slice(items(r));
                Value::Array(out)
            }
        },
    })
}
