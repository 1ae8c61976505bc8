//! `to_char(number, format)` and `to_number(text, format)`: PostgreSQL's
//! numeric template patterns.
//!
//! | pattern | meaning |
//! |---|---|
//! | `9` | a digit; a leading zero prints as a space |
//! | `0` | a digit, leading zeros printed (and every position after it) |
//! | `.` `D` | the decimal point |
//! | `,` `G` | a group separator, printed once a digit has been |
//! | `S` | the sign (`+` / `-`), next to the number |
//! | `MI` `PL` `SG` | `-` if negative / `+` if positive / either, where written |
//! | `PR` | a negative number in angle brackets |
//! | `EEEE` | scientific notation |
//! | `FM` | fill mode: no padding, no trailing fraction zeros |
//! | `"…"`, other | copied as written |
//!
//! Without a sign pattern a slot is kept in front of the number: `-` or a
//! space (none in fill mode). The value is rounded to the pattern's
//! fraction digits; an integer part too long for it prints every digit
//! position as `#`. `L`, `RN`, `TH`, `V` are not supported (0A000).

use crate::error::{Error, Result, SqlState};
use crate::types::Numeric;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Nine,
    Zero,
    Point,
    Group,
    S,
    Mi,
    Pl,
    Sg,
    Pr,
    Eeee,
    Lit(String),
}

struct Format {
    toks: Vec<Tok>,
    fill: bool,
}

fn parse(fmt: &str) -> Result<Format> {
    let b: Vec<char> = fmt.chars().collect();
    let mut toks = Vec::new();
    let mut fill = false;
    let mut i = 0;
    let upper = |i: usize, n: usize| -> String {
        b.get(i..i + n)
            .map(|s| s.iter().collect::<String>().to_ascii_uppercase())
            .unwrap_or_default()
    };
    while i < b.len() {
        let c = b[i];
        if upper(i, 4) == "EEEE" {
            toks.push(Tok::Eeee);
            i += 4;
            continue;
        }
        let two = upper(i, 2);
        let tok2 = match two.as_str() {
            "FM" => {
                fill = true;
                i += 2;
                continue;
            }
            "MI" => Some(Tok::Mi),
            "PL" => Some(Tok::Pl),
            "SG" => Some(Tok::Sg),
            "PR" => Some(Tok::Pr),
            "RN" | "TH" => {
                return Err(Error::unsupported(format!(
                    "the \"{two}\" pattern of to_char"
                )));
            }
            _ => None,
        };
        if let Some(t) = tok2 {
            toks.push(t);
            i += 2;
            continue;
        }
        match c {
            '9' => toks.push(Tok::Nine),
            '0' => toks.push(Tok::Zero),
            '.' | 'D' | 'd' => toks.push(Tok::Point),
            ',' | 'G' | 'g' => toks.push(Tok::Group),
            'S' | 's' => toks.push(Tok::S),
            'L' | 'l' | 'V' | 'v' => {
                return Err(Error::unsupported(format!(
                    "the \"{c}\" pattern of to_char"
                )));
            }
            '"' => {
                let mut lit = String::new();
                i += 1;
                while i < b.len() && b[i] != '"' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    lit.push(b[i]);
                    i += 1;
                }
                toks.push(Tok::Lit(lit));
            }
            '\\' if i + 1 < b.len() => {
                i += 1;
                toks.push(Tok::Lit(b[i].to_string()));
            }
            other => toks.push(Tok::Lit(other.to_string())),
        }
        i += 1;
    }
    Ok(Format { toks, fill })
}

fn is_digit(t: &Tok) -> bool {
    matches!(t, Tok::Nine | Tok::Zero)
}

/// `to_char(x, fmt)` of a numeric value.
pub fn to_char(x: &Numeric, fmt: &str) -> Result<String> {
    let f = parse(fmt)?;
    if x.is_nan() || x.to_string().contains("Infinity") {
        // PostgreSQL prints every digit position as '#'.
        return Ok(f
            .toks
            .iter()
            .map(|t| match t {
                t if is_digit(t) => "#".to_string(),
                Tok::Point => ".".into(),
                Tok::Lit(s) => s.clone(),
                _ => String::new(),
            })
            .collect());
    }
    if f.toks.contains(&Tok::Eeee) {
        return Ok(scientific(x, &f));
    }
    let point = f.toks.iter().position(|t| *t == Tok::Point);
    let (int_toks, frac_toks): (Vec<usize>, Vec<usize>) = f
        .toks
        .iter()
        .enumerate()
        .filter(|(_, t)| is_digit(t))
        .map(|(i, _)| i)
        .partition(|&i| point.is_none_or(|p| i < p));
    let pre = int_toks.len();
    let post = frac_toks.len();
    let rounded = x.round(post as i32)?;
    let text = rounded.to_string();
    let neg = text.starts_with('-');
    let digits = text.trim_start_matches('-');
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i.to_string(), f.to_string()),
        None => (digits.to_string(), String::new()),
    };
    let frac_digits: Vec<char> = frac_part
        .chars()
        .chain(std::iter::repeat('0'))
        .take(post)
        .collect();
    // A zero integer part prints nothing where a fraction follows (`.50`),
    // except in fill mode with nothing after the point (`0.`).
    let frac_all_zero = frac_digits.iter().all(|c| *c == '0');
    let int_digits: Vec<char> = if int_part == "0" && post > 0 && !(f.fill && frac_all_zero) {
        Vec::new()
    } else {
        int_part.chars().collect()
    };
    let overflow = int_digits.len() > pre;
    let explicit_sign = f
        .toks
        .iter()
        .any(|t| matches!(t, Tok::S | Tok::Mi | Tok::Sg | Tok::Pr));
    // Fill mode drops trailing fraction zeros at '9' positions.
    let last_frac = if f.fill {
        frac_toks
            .iter()
            .enumerate()
            .filter(|&(j, &ti)| f.toks[ti] == Tok::Zero || frac_digits[j] != '0')
            .map(|(j, _)| j + 1)
            .max()
            .unwrap_or(0)
    } else {
        post
    };
    let first_zero = int_toks.iter().position(|&ti| f.toks[ti] == Tok::Zero);
    let anchored_s = f
        .toks
        .iter()
        .position(|t| *t == Tok::S)
        .is_some_and(|s| f.toks.iter().skip(s).any(is_digit));
    let mut out = String::new();
    let mut pending_sign: Option<String> = if anchored_s {
        Some(if neg { "-" } else { "+" }.into())
    } else if explicit_sign {
        if neg && f.toks.contains(&Tok::Pr) {
            Some("<".into())
        } else {
            None
        }
    } else if neg {
        Some("-".into())
    } else if f.fill {
        None
    } else {
        Some(" ".into())
    };
    let mut started = false;
    let mut int_pos = 0;
    let mut frac_pos = 0;
    let lead = pre.saturating_sub(int_digits.len());
    for (ti, t) in f.toks.iter().enumerate() {
        match t {
            Tok::Nine | Tok::Zero if point.is_none_or(|p| ti < p) => {
                let i = int_pos;
                int_pos += 1;
                if overflow {
                    if let Some(s) = pending_sign.take() {
                        out.push_str(&s);
                    }
                    out.push('#');
                    started = true;
                    continue;
                }
                let digit = (i >= lead).then(|| int_digits[i - lead]);
                let zero_fill = first_zero.is_some_and(|z| i >= z);
                match digit {
                    Some(d) => {
                        if let Some(s) = pending_sign.take() {
                            // PR's '<' takes the place of a padding space.
                            if s == "<" && out.ends_with(' ') {
                                out.pop();
                            }
                            out.push_str(&s);
                        }
                        out.push(d);
                        started = true;
                    }
                    None if zero_fill => {
                        if let Some(s) = pending_sign.take() {
                            out.push_str(&s);
                        }
                        out.push('0');
                        started = true;
                    }
                    None if !f.fill => out.push(' '),
                    None => {}
                }
            }
            Tok::Nine | Tok::Zero => {
                let j = frac_pos;
                frac_pos += 1;
                if overflow {
                    out.push('#');
                } else if j < last_frac {
                    out.push(frac_digits[j]);
                }
            }
            Tok::Point => {
                if let Some(s) = pending_sign.take() {
                    out.push_str(&s);
                }
                out.push('.');
                started = true;
            }
            Tok::Group => {
                if started {
                    out.push(',');
                } else if !f.fill {
                    out.push(' ');
                }
            }
            Tok::S if anchored_s => {}
            Tok::S | Tok::Sg => out.push(if neg { '-' } else { '+' }),
            Tok::Mi => {
                if neg {
                    out.push('-');
                } else if !f.fill {
                    out.push(' ');
                }
            }
            Tok::Pl => {
                if !neg {
                    out.push('+');
                } else if !f.fill {
                    out.push(' ');
                }
            }
            Tok::Pr => {
                if neg {
                    out.push('>');
                } else if !f.fill {
                    out.push(' ');
                }
            }
            Tok::Lit(s) => out.push_str(s),
            Tok::Eeee => {}
        }
    }
    if let Some(s) = pending_sign.take()
        && s != " "
    {
        out.insert_str(0, &s);
    }
    Ok(out)
}

/// `9.99EEEE`: one digit before the point, the pattern's fraction digits,
/// a two-digit (or longer) exponent.
fn scientific(x: &Numeric, f: &Format) -> String {
    let post = f
        .toks
        .iter()
        .skip_while(|t| **t != Tok::Point)
        .filter(|t| is_digit(t))
        .count();
    let v: f64 = x.to_string().parse().unwrap_or_default();
    let s = format!("{:.*e}", post, v);
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // The mantissa carries its '-'; a positive number gets a space.
    let sign = if v < 0.0 || f.fill { "" } else { " " };
    format!(
        "{sign}{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// `to_number(text, fmt)`: reads the digits, sign and decimal point the
/// pattern's positions take from `text` (a digit position takes at most
/// one digit; group separators and literal text are skipped).
pub fn to_number(text: &str, fmt: &str) -> Result<Numeric> {
    let f = parse(fmt)?;
    if f.toks.contains(&Tok::Eeee) {
        return Err(Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            "\"EEEE\" not supported for input",
        ));
    }
    let input: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut neg = false;
    let mut digits = String::new();
    let mut frac = String::new();
    let mut in_frac = false;
    let skip_sign = |at: &mut usize, neg: &mut bool| {
        while let Some(&c) = input.get(*at) {
            match c {
                '-' | '<' => *neg = true,
                '+' | ' ' => {}
                _ => break,
            }
            *at += 1;
        }
    };
    for t in &f.toks {
        match t {
            Tok::Nine | Tok::Zero => {
                if !in_frac && digits.is_empty() {
                    skip_sign(&mut at, &mut neg);
                }
                if let Some(c) = input.get(at).filter(|c| c.is_ascii_digit()) {
                    if in_frac {
                        frac.push(*c);
                    } else {
                        digits.push(*c);
                    }
                    at += 1;
                }
            }
            Tok::Point => {
                if digits.is_empty() {
                    skip_sign(&mut at, &mut neg);
                }
                if input.get(at) == Some(&'.') {
                    at += 1;
                }
                in_frac = true;
            }
            Tok::Group => {
                if input.get(at) == Some(&',') {
                    at += 1;
                }
            }
            Tok::S | Tok::Mi | Tok::Pl | Tok::Sg | Tok::Pr => skip_sign(&mut at, &mut neg),
            Tok::Lit(s) => at += s.chars().count(),
            Tok::Eeee => {}
        }
    }
    if input
        .get(at..)
        .is_some_and(|rest| rest.iter().any(|c| *c == '-' || *c == '>'))
    {
        neg |= input[at..].contains(&'-') || input[at..].contains(&'>');
    }
    if digits.is_empty() && frac.is_empty() {
        return Err(Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            "invalid input syntax for type numeric: \" \"",
        ));
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(if digits.is_empty() { "0" } else { &digits });
    if !frac.is_empty() {
        s.push('.');
        s.push_str(&frac);
    }
    Numeric::parse(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(v: &str, f: &str) -> String {
        to_char(&Numeric::parse(v).unwrap(), f).unwrap()
    }

    /// Expected values are PostgreSQL 15's.
    #[test]
    fn to_char_matches_postgresql() {
        let cases = [
            ("1234.5", "9999.99", " 1234.50"),
            ("1234.5", "FM9999.99", "1234.5"),
            ("1234.5", "0000.00", " 1234.50"),
            ("1234.5", "9,999.9", " 1,234.5"),
            ("1234.5", "S9999", "+1235"),
            ("1234.5", "9999MI", "1235 "),
            ("1234.5", "FM999", "###"),
            ("-12.345", "9999.99", "  -12.35"),
            ("-12.345", "FM9999.99", "-12.35"),
            ("-12.345", "0000.00", "-0012.35"),
            ("-12.345", "9,999.9", "   -12.3"),
            ("-12.345", "S9999", "  -12"),
            ("-12.345", "9999MI", "  12-"),
            ("-12.345", "SG999", "- 12"),
            ("0", "9999.99", "     .00"),
            ("0", "FM9999.99", "0."),
            ("0", "99", "  0"),
            ("0.5", "9999.99", "     .50"),
            ("0.5", "FM9999.99", ".5"),
            ("0.5", "0.99", " 0.50"),
            ("-0.004", "9999.99", "     .00"),
            ("-0.004", "FM0.999", "-0.004"),
            ("99.99", "9999.99", "   99.99"),
            ("123456", "9999.99", " ####.##"),
            ("5", "0999", " 0005"),
            ("12", "FM99.99", "12."),
            ("-5", "FM999", "-5"),
            ("1234567.891", "FM999,999,999.00", "1,234,567.89"),
            ("-1234.5", "FM9G999D00", "-1,234.50"),
            ("5", "9999S", "   5+"),
            ("42", "\"Total: \"999", "Total:   42"),
            ("1234.5", "9.9EEEE", " 1.2e+03"),
            ("-12.345", "9.9EEEE", "-1.2e+01"),
            ("-12.345", "999PR", "<12>"),
            ("0", "SG999", "+  0"),
        ];
        let mut wrong = Vec::new();
        for (v, f, want) in cases {
            let got = tc(v, f);
            if got != want {
                wrong.push(format!("to_char({v}, '{f}') = {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn to_number_matches_postgresql() {
        let cases = [
            ("12.3", "99.999", "12.3"),
            ("-1,234.5", "9,999.99", "-1234.5"),
            ("<12>", "99PR", "-12"),
            ("12-", "99MI", "-12"),
            ("  42", "9999", "42"),
            ("12.345", "99.9", "12.3"),
            ("1234", "99", "12"),
        ];
        for (t, f, want) in cases {
            assert_eq!(
                to_number(t, f).unwrap().to_string(),
                want,
                "to_number({t}, {f})"
            );
        }
        assert_eq!(
            to_number("abc", "999").unwrap_err().sqlstate,
            SqlState::INVALID_TEXT_REPRESENTATION
        );
    }
}
