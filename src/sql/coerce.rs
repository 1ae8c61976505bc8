//! Type resolution: categories, implicit casts, and PostgreSQL's rules for
//! choosing among overloaded operators and functions
//! (`func_select_candidate`) and for finding a common type
//! (`select_common_type`, used by CASE, COALESCE, VALUES, …).
//!
//! Owns: which conversions happen silently and which candidate wins.
//! Never: converts values (that is [`super::cast`]).

use crate::error::{Error, Result, SqlState};
use crate::types::DataType;

/// PostgreSQL's `typcategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Bool,
    Numeric,
    String,
    /// `D`: date, time, timestamp, timestamptz.
    DateTime,
    /// `T`: interval.
    Timespan,
    User,
    Unknown,
    Other,
}

pub fn category(ty: &DataType) -> Category {
    match ty {
        DataType::Bool => Category::Bool,
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Float4
        | DataType::Float8
        | DataType::Numeric(_)
        | DataType::Oid
        | DataType::Reg(_) => Category::Numeric,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => Category::String,
        DataType::Date | DataType::Time | DataType::Timestamp | DataType::Timestamptz => {
            Category::DateTime
        }
        DataType::Interval => Category::Timespan,
        DataType::Bytea | DataType::Uuid | DataType::Json | DataType::Jsonb => Category::User,
        DataType::Unknown => Category::Unknown,
        _ => Category::Other,
    }
}

/// The preferred type of each category (`typispreferred`).
pub fn is_preferred(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Float8
            | DataType::Text
            | DataType::Bool
            | DataType::Timestamptz
            | DataType::Interval
    )
}

/// The type without its modifier (`numeric(10,2)` -> `numeric`).
pub fn base(ty: &DataType) -> DataType {
    match ty {
        DataType::Numeric(_) => DataType::Numeric(None),
        DataType::Varchar(_) => DataType::Varchar(None),
        DataType::Char(_) => DataType::Char(None),
        DataType::Array(elem) => DataType::Array(Box::new(base(elem))),
        other => other.clone(),
    }
}

pub fn same_base(a: &DataType, b: &DataType) -> bool {
    base(a) == base(b)
}

/// Rank in the numeric implicit-cast chain int2 < int4 < int8 < numeric < float4 < float8.
fn numeric_rank(ty: &DataType) -> Option<u8> {
    Some(match ty {
        DataType::Int2 => 0,
        DataType::Int4 => 1,
        DataType::Int8 => 2,
        DataType::Numeric(_) => 3,
        DataType::Float4 => 4,
        DataType::Float8 => 5,
        _ => return None,
    })
}

/// Whether `from` converts to `to` implicitly (pg_cast context 'i').
pub fn can_coerce_implicit(from: &DataType, to: &DataType) -> bool {
    if same_base(from, to) || *from == DataType::Unknown {
        return true;
    }
    if let (Some(a), Some(b)) = (numeric_rank(from), numeric_rank(to)) {
        return a < b;
    }
    // pg_cast: int2/int4/int8 -> oid and regclass & co. implicitly, and
    // oid <-> reg* binary-coercibly.
    let oid_like = |t: &DataType| matches!(t, DataType::Oid | DataType::Reg(_));
    if oid_like(to)
        && (oid_like(from) || matches!(from, DataType::Int2 | DataType::Int4 | DataType::Int8))
    {
        return true;
    }
    matches!(
        (base(from), base(to)),
        (DataType::Varchar(None), DataType::Text)
            | (DataType::Char(None), DataType::Text)
            | (DataType::Text, DataType::Varchar(None))
            | (DataType::Text, DataType::Char(None))
            | (DataType::Varchar(None), DataType::Char(None))
            | (DataType::Char(None), DataType::Varchar(None))
            | (DataType::Date, DataType::Timestamp)
            | (DataType::Date, DataType::Timestamptz)
            | (DataType::Timestamp, DataType::Timestamptz)
            | (DataType::Time, DataType::Interval)
    )
}

/// Why candidate selection failed.
pub enum NoMatch {
    None,
    Ambiguous,
}

/// Chooses among overloaded signatures as `func_select_candidate` does.
/// `inputs` may contain `Unknown` (untyped literals and parameters).
pub fn select_candidate(
    inputs: &[DataType],
    candidates: &[Vec<DataType>],
) -> Result<usize, NoMatch> {
    // Exact match first (an unknown input matches nothing exactly here).
    if let Some(i) = candidates
        .iter()
        .position(|c| c.len() == inputs.len() && c.iter().zip(inputs).all(|(c, i)| same_base(c, i)))
    {
        return Ok(i);
    }
    // A binary operator with one unknown side: try the other side's type for both.
    if inputs.len() == 2 {
        let known = match (&inputs[0], &inputs[1]) {
            (DataType::Unknown, t) | (t, DataType::Unknown) if *t != DataType::Unknown => Some(t),
            _ => None,
        };
        if let Some(t) = known
            && let Some(i) = candidates
                .iter()
                .position(|c| c.len() == 2 && same_base(&c[0], t) && same_base(&c[1], t))
        {
            return Ok(i);
        }
    }
    let mut live: Vec<usize> = (0..candidates.len())
        .filter(|&i| {
            let c = &candidates[i];
            c.len() == inputs.len() && inputs.iter().zip(c).all(|(i, c)| can_coerce_implicit(i, c))
        })
        .collect();
    if live.is_empty() {
        return Err(NoMatch::None);
    }
    if live.len() == 1 {
        return Ok(live[0]);
    }
    // Most exact matches.
    let exact = |c: &Vec<DataType>| {
        inputs
            .iter()
            .zip(c)
            .filter(|(i, c)| **i != DataType::Unknown && same_base(i, c))
            .count()
    };
    keep_max(&mut live, |i| exact(&candidates[i]));
    if live.len() == 1 {
        return Ok(live[0]);
    }
    // Most preferred types where a conversion is needed.
    let preferred = |c: &Vec<DataType>| {
        inputs
            .iter()
            .zip(c)
            .filter(|(i, c)| **i != DataType::Unknown && !same_base(i, c) && is_preferred(c))
            .count()
    };
    keep_max(&mut live, |i| preferred(&candidates[i]));
    if live.len() == 1 {
        return Ok(live[0]);
    }
    // Unknown inputs: pick a category per position (string wins), then
    // prefer the category's preferred type.
    if inputs.contains(&DataType::Unknown) {
        for (pos, input) in inputs.iter().enumerate() {
            if *input != DataType::Unknown {
                continue;
            }
            let cats: Vec<Category> = live
                .iter()
                .map(|&i| category(&candidates[i][pos]))
                .collect();
            let chosen = if cats.contains(&Category::String) {
                Category::String
            } else if cats.iter().all(|c| *c == cats[0]) {
                cats[0]
            } else {
                return Err(NoMatch::Ambiguous);
            };
            live.retain(|&i| category(&candidates[i][pos]) == chosen);
            if live.iter().any(|&i| is_preferred(&candidates[i][pos])) {
                live.retain(|&i| is_preferred(&candidates[i][pos]));
            }
        }
        if live.len() == 1 {
            return Ok(live[0]);
        }
        // All known inputs of one type: assume the unknowns are that type too.
        let known: Vec<&DataType> = inputs.iter().filter(|t| **t != DataType::Unknown).collect();
        if let Some(first) = known.first()
            && known.iter().all(|t| same_base(t, first))
        {
            let fits: Vec<usize> =
                live.iter()
                    .copied()
                    .filter(|&i| {
                        inputs.iter().zip(&candidates[i]).all(|(inp, c)| {
                            *inp != DataType::Unknown || can_coerce_implicit(first, c)
                        })
                    })
                    .collect();
            if fits.len() == 1 {
                return Ok(fits[0]);
            }
        }
    }
    Err(NoMatch::Ambiguous)
}

fn keep_max(live: &mut Vec<usize>, score: impl Fn(usize) -> usize) {
    let best = live.iter().map(|&i| score(i)).max().unwrap_or(0);
    live.retain(|&i| score(i) == best);
}

/// `select_common_type`: the type that a set of branches (CASE results,
/// COALESCE arguments, a VALUES column, …) is coerced to. `context` names
/// the construct in the error (`CASE`, `COALESCE`, `VALUES`, …).
pub fn common_type(types: &[DataType], context: &str) -> Result<DataType> {
    let mut chosen: Option<DataType> = None;
    for t in types {
        if *t == DataType::Unknown {
            continue;
        }
        match &chosen {
            None => chosen = Some(t.clone()),
            Some(c) => {
                if same_base(c, t) {
                    // Keep a typmod only if every branch agrees on it.
                    if c != t {
                        chosen = Some(base(c));
                    }
                    continue;
                }
                if category(c) != category(t) {
                    return Err(Error::new(
                        SqlState::DATATYPE_MISMATCH,
                        format!(
                            "{context} types {} and {} cannot be matched",
                            c.name(),
                            t.name()
                        ),
                    ));
                }
                if !is_preferred(c) && can_coerce_implicit(c, t) && !can_coerce_implicit(t, c) {
                    chosen = Some(t.clone());
                }
            }
        }
    }
    let chosen = chosen.unwrap_or(DataType::Text);
    // Every branch must be able to convert to the winner.
    for t in types {
        if !can_coerce_implicit(t, &chosen) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "{context} could not convert type {} to {}",
                    t.name(),
                    chosen.name()
                ),
            ));
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn numeric_operands_widen_like_postgres() {
        let cands = vec![
            vec![Int4, Int4],
            vec![Int8, Int8],
            vec![Float4, Float4],
            vec![Float4, Float8],
            vec![Float8, Float8],
            vec![Numeric(None), Numeric(None)],
        ];
        let pick = |a: DataType, b: DataType| {
            cands[select_candidate(&[a, b], &cands).ok().unwrap()].clone()
        };
        assert_eq!(pick(Int4, Int8), vec![Int8, Int8]);
        assert_eq!(pick(Float4, Int4), vec![Float4, Float8]);
        assert_eq!(
            pick(Int4, Numeric(None)),
            vec![Numeric(None), Numeric(None)]
        );
        assert_eq!(pick(Int4, Unknown), vec![Int4, Int4]);
    }

    #[test]
    fn unknown_arguments_prefer_the_categorys_preferred_type() {
        let cands = vec![vec![Float8], vec![Numeric(None)]];
        assert_eq!(select_candidate(&[Unknown], &cands).ok(), Some(0));
        let cands = vec![vec![Text], vec![Char(None)], vec![Bytea]];
        assert_eq!(select_candidate(&[Unknown], &cands).ok(), Some(0));
    }

    #[test]
    fn common_type_picks_the_wider_type_and_rejects_mixed_categories() {
        assert_eq!(
            common_type(&[Int4, Numeric(None)], "CASE").unwrap(),
            Numeric(None)
        );
        assert_eq!(common_type(&[Unknown, Unknown], "CASE").unwrap(), Text);
        assert_eq!(common_type(&[Unknown, Int8], "CASE").unwrap(), Int8);
        let e = common_type(&[Int4, Bool], "CASE").unwrap_err();
        assert_eq!(
            e.message,
            "CASE types integer and boolean cannot be matched"
        );
    }
}
