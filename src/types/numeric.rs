//! `numeric`: exact decimal arithmetic with PostgreSQL's rounding and scale
//! rules.
//!
//! The representation is PostgreSQL's own: base-10000 digits, a weight (the
//! power of 10000 of the first digit), a sign, and a display scale (digits
//! after the decimal point). It maps one to one onto the binary wire format.
//!
//! ```text
//!   1234567.89  (dscale 2)
//!   digits = [123, 4567, 8900]      weight = 1  (123 * 10000^1)
//!            ^^^  ^^^^  ^^^^
//!            w=1  w=0   w=-1
//! ```
//!
//! Arithmetic works on a second, internal form, [`Dec`]: an unsigned
//! magnitude in little-endian base-10000 limbs and a *decimal* scale, so the
//! value is `mag * 10^-scale`. Converting between the two is cheap, and every
//! operation on `Dec` is exact; rounding happens in one place
//! ([`Dec::round_to`]), half away from zero, as PostgreSQL rounds.
//!
//! Invariants (checked by `debug_assert!` where values are built):
//! - `digits` has no leading and no trailing zero digits; zero is
//!   `digits = []`, `weight = 0`, sign `Positive`.
//! - no digit is >= 10000.
//! - a finite value has no non-zero decimal digit beyond `dscale`.
//!
//! Result scales follow `numeric.c`: `+`/`-` keep the larger input dscale,
//! `*` adds the dscales, `/` uses `select_div_scale` (at least 16 significant
//! digits, never less than either input's dscale).

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result, SqlState};

/// Sign or special value of a [`Numeric`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumericSign {
    Positive,
    Negative,
    NaN,
    PositiveInfinity,
    NegativeInfinity,
}

/// An exact decimal number (or NaN / ±Infinity).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Numeric {
    /// Base-10000 digits, most significant first, no leading or trailing zero digits.
    pub digits: Vec<u16>,
    /// Power of 10000 of `digits[0]`.
    pub weight: i16,
    pub sign: NumericSign,
    /// Number of decimal digits after the point shown on output.
    pub dscale: u16,
}

/// Base of a digit.
const NBASE: u32 = 10000;
/// Decimal digits per base-10000 digit.
const DEC_DIGITS: i64 = 4;
/// Largest display scale PostgreSQL stores (`NUMERIC_DSCALE_MAX`).
pub const NUMERIC_DSCALE_MAX: i64 = 0x3FFF;
/// Most decimal digits before the point PostgreSQL accepts (`NUMERIC_WEIGHT_MAX`
/// is 0x7FFF base-10000 digits, but numeric_in caps input at 131072 digits).
pub const NUMERIC_INT_DIGITS_MAX: i64 = 131072;
/// Minimum significant digits of a division result (`NUMERIC_MIN_SIG_DIGITS`).
const NUMERIC_MIN_SIG_DIGITS: i64 = 16;
/// Largest display scale a division result gets (`NUMERIC_MAX_DISPLAY_SCALE`).
const NUMERIC_MAX_DISPLAY_SCALE: i64 = 1000;

fn overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

fn division_by_zero() -> Error {
    Error::new(SqlState::DIVISION_BY_ZERO, "division by zero")
}

// ---------------------------------------------------------------------------
// Magnitudes: little-endian base-10000 limbs, no high zero limbs.

type Mag = Vec<u32>;

fn mag_trim(m: &mut Mag) {
    while m.last() == Some(&0) {
        m.pop();
    }
}

fn mag_cmp(a: &[u32], b: &[u32]) -> Ordering {
    debug_assert!(a.last() != Some(&0) && b.last() != Some(&0));
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    for i in (0..a.len()).rev() {
        match a[i].cmp(&b[i]) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

fn mag_add(a: &[u32], b: &[u32]) -> Mag {
    let n = a.len().max(b.len());
    let mut out = Vec::with_capacity(n + 1);
    let mut carry = 0u32;
    for i in 0..n {
        let s = a.get(i).copied().unwrap_or(0) + b.get(i).copied().unwrap_or(0) + carry;
        out.push(s % NBASE);
        carry = s / NBASE;
    }
    if carry > 0 {
        out.push(carry);
    }
    mag_trim(&mut out);
    out
}

/// `a - b`; requires `a >= b`.
fn mag_sub(a: &[u32], b: &[u32]) -> Mag {
    debug_assert!(mag_cmp(a, b) != Ordering::Less);
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i64;
    for (i, &ai) in a.iter().enumerate() {
        let mut d = ai as i64 - b.get(i).copied().unwrap_or(0) as i64 - borrow;
        if d < 0 {
            d += NBASE as i64;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out.push(d as u32);
    }
    debug_assert!(borrow == 0);
    mag_trim(&mut out);
    out
}

fn mag_mul(a: &[u32], b: &[u32]) -> Mag {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut acc = vec![0u64; a.len() + b.len()];
    for (i, &ai) in a.iter().enumerate() {
        if ai == 0 {
            continue;
        }
        let mut carry = 0u64;
        for (j, &bj) in b.iter().enumerate() {
            let t = acc[i + j] + ai as u64 * bj as u64 + carry;
            acc[i + j] = t % NBASE as u64;
            carry = t / NBASE as u64;
        }
        let mut k = i + b.len();
        while carry > 0 {
            let t = acc[k] + carry;
            acc[k] = t % NBASE as u64;
            carry = t / NBASE as u64;
            k += 1;
        }
    }
    let mut out: Mag = acc.into_iter().map(|d| d as u32).collect();
    mag_trim(&mut out);
    out
}

fn mag_mul_small(a: &[u32], m: u32) -> Mag {
    debug_assert!(m <= NBASE);
    let mut out = Vec::with_capacity(a.len() + 1);
    let mut carry = 0u64;
    for &d in a {
        let t = d as u64 * m as u64 + carry;
        out.push((t % NBASE as u64) as u32);
        carry = t / NBASE as u64;
    }
    while carry > 0 {
        out.push((carry % NBASE as u64) as u32);
        carry /= NBASE as u64;
    }
    mag_trim(&mut out);
    out
}

/// Multiplies by `10^k`.
fn mag_shift(a: &[u32], k: u64) -> Mag {
    if a.is_empty() {
        return Vec::new();
    }
    let limbs = (k / 4) as usize;
    let rest = (k % 4) as u32;
    let mut out = vec![0u32; limbs];
    out.extend_from_slice(a);
    if rest > 0 {
        out = mag_mul_small(&out, 10u32.pow(rest));
    }
    out
}

fn mag_pow10(k: u64) -> Mag {
    mag_shift(&[1], k)
}

/// Quotient and remainder of `a / b`; `b` must be non-zero.
///
/// Schoolbook long division, one base-10000 quotient digit at a time; each
/// digit is found by binary search over `0..10000`, so every step is an
/// obviously correct compare of `b * q` against the running remainder.
fn mag_divmod(a: &[u32], b: &[u32]) -> (Mag, Mag) {
    assert!(!b.is_empty(), "division by a zero magnitude");
    if mag_cmp(a, b) == Ordering::Less {
        return (Vec::new(), a.to_vec());
    }
    let mut q = vec![0u32; a.len()];
    let mut r: Mag = Vec::new();
    for i in (0..a.len()).rev() {
        // r = r * 10000 + a[i]
        r.insert(0, a[i]);
        mag_trim(&mut r);
        if mag_cmp(&r, b) == Ordering::Less {
            continue;
        }
        let (mut lo, mut hi) = (1u32, NBASE - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if mag_cmp(&mag_mul_small(b, mid), &r) == Ordering::Greater {
                hi = mid - 1;
            } else {
                lo = mid;
            }
        }
        r = mag_sub(&r, &mag_mul_small(b, lo));
        q[i] = lo;
    }
    mag_trim(&mut q);
    (q, r)
}

/// Floor of the square root (Newton's method from above).
fn mag_isqrt(n: &[u32]) -> Mag {
    if n.is_empty() {
        return Vec::new();
    }
    // 10^ceil(digits/2) >= sqrt(n): start above the root and descend.
    let digits = mag_decimal_digits(n) as u64;
    let mut x = mag_pow10(digits.div_ceil(2));
    loop {
        let (q, _) = mag_divmod(n, &x);
        let (y, _) = mag_divmod(&mag_add(&x, &q), &[2]);
        if mag_cmp(&y, &x) != Ordering::Less {
            return x;
        }
        x = y;
    }
}

fn mag_is_zero(a: &[u32]) -> bool {
    a.is_empty()
}

/// Number of decimal digits of a magnitude (0 for zero).
fn mag_decimal_digits(a: &[u32]) -> i64 {
    match a.last() {
        None => 0,
        Some(&top) => {
            let top_digits = if top >= 1000 {
                4
            } else if top >= 100 {
                3
            } else if top >= 10 {
                2
            } else {
                1
            };
            (a.len() as i64 - 1) * DEC_DIGITS + top_digits
        }
    }
}

// ---------------------------------------------------------------------------
// Dec: a finite value as magnitude and decimal scale.

/// A finite decimal `(-1)^neg * mag * 10^-scale` used while computing.
#[derive(Debug, Clone)]
struct Dec {
    neg: bool,
    mag: Mag,
    scale: u64,
}

impl Dec {
    fn is_zero(&self) -> bool {
        mag_is_zero(&self.mag)
    }

    /// The magnitude brought to `scale` (>= self.scale).
    fn mag_at(&self, scale: u64) -> Mag {
        debug_assert!(scale >= self.scale);
        mag_shift(&self.mag, scale - self.scale)
    }

    /// Rounds (half away from zero) or extends to exactly `rscale` decimals.
    fn round_to(&self, rscale: u64) -> Dec {
        if rscale >= self.scale {
            return Dec {
                neg: self.neg,
                mag: self.mag_at(rscale),
                scale: rscale,
            };
        }
        let k = self.scale - rscale;
        let divisor = mag_pow10(k);
        let (mut q, r) = mag_divmod(&self.mag, &divisor);
        if mag_cmp(&mag_mul_small(&r, 2), &divisor) != Ordering::Less {
            q = mag_add(&q, &[1]);
        }
        Dec {
            neg: self.neg,
            mag: q,
            scale: rscale,
        }
    }

    /// Truncates (toward zero) to `rscale` decimals.
    fn trunc_to(&self, rscale: u64) -> Dec {
        if rscale >= self.scale {
            return self.round_to(rscale);
        }
        let divisor = mag_pow10(self.scale - rscale);
        let (q, _) = mag_divmod(&self.mag, &divisor);
        Dec {
            neg: self.neg,
            mag: q,
            scale: rscale,
        }
    }

    fn add(&self, other: &Dec) -> Dec {
        let scale = self.scale.max(other.scale);
        let a = self.mag_at(scale);
        let b = other.mag_at(scale);
        if self.neg == other.neg {
            return Dec {
                neg: self.neg,
                mag: mag_add(&a, &b),
                scale,
            };
        }
        match mag_cmp(&a, &b) {
            Ordering::Equal => Dec {
                neg: false,
                mag: Vec::new(),
                scale,
            },
            Ordering::Greater => Dec {
                neg: self.neg,
                mag: mag_sub(&a, &b),
                scale,
            },
            Ordering::Less => Dec {
                neg: other.neg,
                mag: mag_sub(&b, &a),
                scale,
            },
        }
    }

    fn negate(&self) -> Dec {
        Dec {
            neg: !self.neg && !self.is_zero(),
            mag: self.mag.clone(),
            scale: self.scale,
        }
    }

    fn mul(&self, other: &Dec) -> Dec {
        let mag = mag_mul(&self.mag, &other.mag);
        Dec {
            neg: self.neg != other.neg && !mag.is_empty(),
            mag,
            scale: self.scale + other.scale,
        }
    }

    /// `self / other` rounded (or truncated) to `rscale`; `other` non-zero.
    fn div(&self, other: &Dec, rscale: u64, round: bool) -> Dec {
        debug_assert!(!other.is_zero());
        // value = (A / 10^sa) / (B / 10^sb); want Q = value * 10^rscale.
        // Q = A * 10^(sb + rscale - sa) / B; one extra digit decides rounding.
        let extra = if round { 1 } else { 0 };
        let e = other.scale as i128 + rscale as i128 + extra - self.scale as i128;
        let (n, d) = if e >= 0 {
            (mag_shift(&self.mag, e as u64), other.mag.clone())
        } else {
            (self.mag.clone(), mag_shift(&other.mag, (-e) as u64))
        };
        let (mut q, _) = mag_divmod(&n, &d);
        if round {
            // q has one extra digit: round it away (half away from zero;
            // the digits beyond it only matter when that digit is exactly
            // 5, and then the result rounds up either way).
            let (q10, r10) = mag_divmod(&q, &[10]);
            q = q10;
            if r10.first().copied().unwrap_or(0) >= 5 {
                q = mag_add(&q, &[1]);
            }
        }
        Dec {
            neg: self.neg != other.neg && !q.is_empty(),
            mag: q,
            scale: rscale,
        }
    }

    fn cmp(&self, other: &Dec) -> Ordering {
        let a_zero = self.is_zero();
        let b_zero = other.is_zero();
        let a_sign = if a_zero {
            0
        } else if self.neg {
            -1
        } else {
            1
        };
        let b_sign = if b_zero {
            0
        } else if other.neg {
            -1
        } else {
            1
        };
        if a_sign != b_sign {
            return a_sign.cmp(&b_sign);
        }
        let scale = self.scale.max(other.scale);
        let o = mag_cmp(&self.mag_at(scale), &other.mag_at(scale));
        if a_sign < 0 { o.reverse() } else { o }
    }

    /// Decimal weight: the number of digits before the point (may be <= 0
    /// for values below 1; 0 for zero).
    fn int_digits(&self) -> i64 {
        if self.is_zero() {
            0
        } else {
            mag_decimal_digits(&self.mag) - self.scale as i64
        }
    }
}

// ---------------------------------------------------------------------------
// Scaled i128: the fast path for the common case.
//
// A finite numeric has no non-zero digit beyond its dscale, so it is
// exactly `m * 10^-dscale` for an integer `m`. When `m` fits an i128,
// `+`, `-`, `*` and comparisons are one or two machine operations and
// need no rounding (`+` keeps the larger dscale, `*` adds them, as
// numeric.c does); the result is built back without a long division.
// Whenever an intermediate would overflow, the caller takes the exact
// base-10000 path instead, so results never differ.

/// `10^k` for `k` in `0..=38` (the powers an i128 holds).
const POW10: [i128; 39] = {
    let mut t = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn pow10_i128(k: i64) -> Option<i128> {
    usize::try_from(k).ok().and_then(|k| POW10.get(k).copied())
}

/// `m * 10^k` (k >= 0), `None` on overflow.
fn scale_up(m: i128, k: i64) -> Option<i128> {
    if m == 0 {
        return Some(0);
    }
    m.checked_mul(pow10_i128(k)?)
}

impl Numeric {
    /// The value as `m` with `value = m * 10^-dscale`, if finite and `m`
    /// fits an i128.
    pub fn to_scaled(&self) -> Option<i128> {
        if !self.is_finite() {
            return None;
        }
        if self.digits.is_empty() {
            return Some(0);
        }
        // At most 9 base-10000 digits (36 decimal digits) accumulate
        // without overflow.
        if self.digits.len() > 9 {
            return None;
        }
        let mut acc: i128 = 0;
        for &d in &self.digits {
            acc = acc * NBASE as i128 + d as i128;
        }
        // acc = value * 10000^frac_limbs.
        let frac_limbs = self.digits.len() as i64 - 1 - self.weight as i64;
        let e = self.dscale as i64 - frac_limbs * DEC_DIGITS;
        let m = if e >= 0 {
            scale_up(acc, e)?
        } else {
            // Exact when the digits beyond dscale are zero, as they are in
            // a canonical value; anything else takes the exact path.
            let p = pow10_i128(-e)?;
            if acc % p != 0 {
                return None;
            }
            acc / p
        };
        Some(if self.sign == NumericSign::Negative {
            -m
        } else {
            m
        })
    }

    /// `m * 10^-dscale` as a numeric of display scale `dscale` (`None` if
    /// the digits cannot be aligned within an i128; the caller falls back).
    pub fn from_scaled(m: i128, dscale: u16) -> Option<Numeric> {
        if dscale as i64 > NUMERIC_DSCALE_MAX {
            return None;
        }
        if m == 0 {
            let mut z = Numeric::zero();
            z.dscale = dscale;
            return Some(z);
        }
        // Align the decimal point to a base-10000 digit boundary.
        let pad = (DEC_DIGITS - dscale as i64 % DEC_DIGITS) % DEC_DIGITS;
        let mut u = m.unsigned_abs().checked_mul(POW10[pad as usize] as u128)?;
        let frac_limbs = (dscale as i64 + pad) / DEC_DIGITS;
        let mut limbs = [0u16; 12];
        let mut n = 0;
        while u > 0 {
            limbs[n] = (u % NBASE as u128) as u16;
            u /= NBASE as u128;
            n += 1;
        }
        let weight = n as i64 - 1 - frac_limbs;
        // Little-endian limbs; skip the low zero limbs (no trailing zero
        // digits in the canonical form).
        let low = limbs[..n].iter().take_while(|&&d| d == 0).count();
        let digits: Vec<u16> = limbs[low..n].iter().rev().copied().collect();
        Some(Numeric {
            digits,
            weight: i16::try_from(weight).ok()?,
            sign: if m < 0 {
                NumericSign::Negative
            } else {
                NumericSign::Positive
            },
            dscale,
        })
    }

    /// [`Numeric::from_scaled`] that never fails to build: outside the
    /// fast path the value goes through the exact form.
    pub fn from_scaled_exact(m: i128, dscale: u16) -> Result<Numeric> {
        if let Some(n) = Numeric::from_scaled(m, dscale) {
            return Ok(n);
        }
        let mut mag = Vec::new();
        let mut u = m.unsigned_abs();
        while u > 0 {
            mag.push((u % NBASE as u128) as u32);
            u /= NBASE as u128;
        }
        let d = Dec {
            neg: m < 0,
            mag,
            scale: dscale as u64,
        };
        Numeric::from_dec(&d, dscale as i64)
    }

    /// `a + b` on scaled values, `None` when it leaves the fast path.
    fn add_scaled(&self, other: &Numeric) -> Option<Numeric> {
        let (a, b) = (self.to_scaled()?, other.to_scaled()?);
        let d = self.dscale.max(other.dscale);
        let a = scale_up(a, (d - self.dscale) as i64)?;
        let b = scale_up(b, (d - other.dscale) as i64)?;
        Numeric::from_scaled(a.checked_add(b)?, d)
    }

    fn mul_scaled(&self, other: &Numeric) -> Option<Numeric> {
        let (a, b) = (self.to_scaled()?, other.to_scaled()?);
        let d = u16::try_from(self.dscale as u32 + other.dscale as u32).ok()?;
        Numeric::from_scaled(a.checked_mul(b)?, d)
    }

    /// Plain decimal text (`-12.50`, no exponent, at most 36 digits) on
    /// the fast path; `None` for anything else.
    fn parse_plain(text: &str) -> Option<Numeric> {
        let b = text.as_bytes();
        let (neg, body) = match b.first()? {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        if body.is_empty() || body.len() > 37 {
            return None;
        }
        let mut m: i128 = 0;
        let mut frac: Option<u16> = None;
        let mut digits = 0;
        for &c in body {
            match c {
                b'0'..=b'9' => {
                    m = m * 10 + (c - b'0') as i128;
                    digits += 1;
                    if let Some(f) = frac.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if frac.is_none() => frac = Some(0),
                _ => return None,
            }
        }
        if digits == 0 {
            return None;
        }
        Numeric::from_scaled(if neg { -m } else { m }, frac.unwrap_or(0))
    }
}

// ---------------------------------------------------------------------------
// Numeric <-> Dec

impl Numeric {
    /// Zero with display scale 0.
    pub fn zero() -> Numeric {
        Numeric {
            digits: Vec::new(),
            weight: 0,
            sign: NumericSign::Positive,
            dscale: 0,
        }
    }

    pub fn nan() -> Numeric {
        Numeric {
            digits: Vec::new(),
            weight: 0,
            sign: NumericSign::NaN,
            dscale: 0,
        }
    }

    pub fn infinity(negative: bool) -> Numeric {
        Numeric {
            digits: Vec::new(),
            weight: 0,
            sign: if negative {
                NumericSign::NegativeInfinity
            } else {
                NumericSign::PositiveInfinity
            },
            dscale: 0,
        }
    }

    pub fn is_nan(&self) -> bool {
        self.sign == NumericSign::NaN
    }

    pub fn is_infinite(&self) -> bool {
        matches!(
            self.sign,
            NumericSign::PositiveInfinity | NumericSign::NegativeInfinity
        )
    }

    fn is_finite(&self) -> bool {
        matches!(self.sign, NumericSign::Positive | NumericSign::Negative)
    }

    fn is_zero(&self) -> bool {
        self.is_finite() && self.digits.is_empty()
    }

    fn to_dec(&self) -> Dec {
        debug_assert!(self.is_finite());
        let mut mag: Mag = self.digits.iter().rev().map(|&d| d as u32).collect();
        let frac_limbs = self.digits.len() as i64 - 1 - self.weight as i64;
        let scale = if frac_limbs >= 0 {
            (frac_limbs * DEC_DIGITS) as u64
        } else {
            let mut shifted = vec![0u32; (-frac_limbs) as usize];
            shifted.append(&mut mag);
            mag = shifted;
            0
        };
        mag_trim(&mut mag);
        Dec {
            neg: self.sign == NumericSign::Negative && !mag.is_empty(),
            mag,
            scale,
        }
    }

    /// Builds a numeric from `d` rounded to `dscale`; checks PostgreSQL's limits.
    fn from_dec(d: &Dec, dscale: i64) -> Result<Numeric> {
        if dscale > NUMERIC_DSCALE_MAX {
            return Err(overflow());
        }
        let dscale = dscale.max(0);
        let d = d.round_to(dscale as u64);
        if d.int_digits() > NUMERIC_INT_DIGITS_MAX {
            return Err(overflow());
        }
        if d.is_zero() {
            let mut z = Numeric::zero();
            z.dscale = dscale as u16;
            return Ok(z);
        }
        // Align the scale to whole base-10000 digits.
        let pad = (DEC_DIGITS as u64 - d.scale % DEC_DIGITS as u64) % DEC_DIGITS as u64;
        let mag = mag_shift(&d.mag, pad);
        let frac_limbs = ((d.scale + pad) / DEC_DIGITS as u64) as i64;
        let mut digits: Vec<u16> = mag.iter().rev().map(|&x| x as u16).collect();
        let weight = mag.len() as i64 - 1 - frac_limbs;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        let weight = i16::try_from(weight).map_err(|_| overflow())?;
        let n = Numeric {
            digits,
            weight,
            sign: if d.neg {
                NumericSign::Negative
            } else {
                NumericSign::Positive
            },
            dscale: dscale as u16,
        };
        debug_assert!(n.digits.first() != Some(&0) && n.digits.last() != Some(&0));
        debug_assert!(n.digits.iter().all(|&x| (x as u32) < NBASE));
        Ok(n)
    }

    // -----------------------------------------------------------------------
    // Text input and output.

    /// Parses PostgreSQL's numeric text form: optional whitespace and sign,
    /// digits with an optional point, an optional exponent; or `NaN`,
    /// `Infinity`, `inf` (any case).
    pub fn parse(text: &str) -> Result<Numeric> {
        let bad = || {
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!("invalid input syntax for type numeric: \"{text}\""),
            )
        };
        if let Some(n) = Numeric::parse_plain(text) {
            return Ok(n);
        }
        let s = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let (neg, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        if lower == "nan" && s.len() == body.len() {
            return Ok(Numeric::nan());
        }
        if lower == "infinity" || lower == "inf" {
            return Ok(Numeric::infinity(neg));
        }
        let bytes = body.as_bytes();
        let mut i = 0;
        let mut digits = String::new();
        let mut frac_len: i64 = 0;
        let mut seen_point = false;
        let mut any_digit = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                digits.push(c as char);
                any_digit = true;
                if seen_point {
                    frac_len += 1;
                }
            } else if c == b'.' && !seen_point {
                seen_point = true;
            } else {
                break;
            }
            i += 1;
        }
        if !any_digit {
            return Err(bad());
        }
        let mut exp: i64 = 0;
        if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
            i += 1;
            let mut exp_neg = false;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                exp_neg = bytes[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                exp = exp
                    .saturating_mul(10)
                    .saturating_add((bytes[i] - b'0') as i64);
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            // NUMERIC_MAX_PRECISION-style bound on the exponent itself.
            if exp > 2 * NUMERIC_INT_DIGITS_MAX {
                return Err(overflow());
            }
            if exp_neg {
                exp = -exp;
            }
        }
        if i != bytes.len() {
            return Err(bad());
        }
        let dscale = (frac_len - exp).max(0);
        if dscale > NUMERIC_DSCALE_MAX {
            return Err(overflow());
        }
        let mag = decimal_str_to_mag(&digits);
        let scale = frac_len - exp;
        let dec = if scale >= 0 {
            Dec {
                neg,
                mag,
                scale: scale as u64,
            }
        } else {
            let int_digits = mag_decimal_digits(&mag) - scale;
            if int_digits > NUMERIC_INT_DIGITS_MAX {
                return Err(overflow());
            }
            Dec {
                neg,
                mag: mag_shift(&mag, (-scale) as u64),
                scale: 0,
            }
        };
        let dec = Dec {
            neg: dec.neg && !dec.is_zero(),
            ..dec
        };
        Numeric::from_dec(&dec, dscale)
    }

    // -----------------------------------------------------------------------
    // Conversions.

    pub fn from_i64(v: i64) -> Numeric {
        Numeric::from_i128(v as i128)
    }

    pub fn from_i128(v: i128) -> Numeric {
        let mut mag = Vec::new();
        let mut u = v.unsigned_abs();
        while u > 0 {
            mag.push((u % NBASE as u128) as u32);
            u /= NBASE as u128;
        }
        let d = Dec {
            neg: v < 0,
            mag,
            scale: 0,
        };
        // An i128 has at most 39 digits: always within the limits.
        match Numeric::from_dec(&d, 0) {
            Ok(n) => n,
            Err(_) => unreachable!("an i128 always fits numeric"),
        }
    }

    /// Rounds to an integer (half away from zero) if it fits an i128.
    fn to_i128_rounded(&self) -> Option<i128> {
        let d = self.to_dec().round_to(0);
        let mut v: i128 = 0;
        for &limb in d.mag.iter().rev() {
            v = v.checked_mul(NBASE as i128)?.checked_add(limb as i128)?;
        }
        Some(if d.neg { -v } else { v })
    }

    /// Converts to an integer type's range, rounding half away from zero.
    /// `type_name` names the errors: `smallint`, `integer`, `bigint`.
    pub fn to_int(&self, min: i64, max: i64, type_name: &str) -> Result<i64> {
        match self.sign {
            NumericSign::NaN => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert NaN to {type_name}"),
                ));
            }
            NumericSign::PositiveInfinity | NumericSign::NegativeInfinity => {
                return Err(Error::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("cannot convert infinity to {type_name}"),
                ));
            }
            _ => {}
        }
        let out_of_range = || {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                format!("{type_name} out of range"),
            )
        };
        // A quick bound before building an i128 from a huge number.
        if self.weight > 8 {
            return Err(out_of_range());
        }
        let v = self.to_i128_rounded().ok_or_else(out_of_range)?;
        if v < min as i128 || v > max as i128 {
            return Err(out_of_range());
        }
        Ok(v as i64)
    }

    /// The nearest f64 (via the exact decimal text, so correctly rounded).
    pub fn to_f64(&self) -> f64 {
        match self.sign {
            NumericSign::NaN => f64::NAN,
            NumericSign::PositiveInfinity => f64::INFINITY,
            NumericSign::NegativeInfinity => f64::NEG_INFINITY,
            _ => self.to_string().parse::<f64>().unwrap_or(f64::NAN),
        }
    }

    /// float8 -> numeric as PostgreSQL 15 does it: through `%.15g` text.
    pub fn from_f64(v: f64) -> Result<Numeric> {
        Numeric::from_float_digits(v, 15)
    }

    /// float4 -> numeric as PostgreSQL 15 does it: through `%.6g` text.
    pub fn from_f32(v: f32) -> Result<Numeric> {
        if v.is_finite() {
            Numeric::parse(&strip_sci(&format!("{:.5e}", v)))
        } else {
            Numeric::from_float_digits(v as f64, 6)
        }
    }

    fn from_float_digits(v: f64, sig: usize) -> Result<Numeric> {
        if v.is_nan() {
            return Ok(Numeric::nan());
        }
        if v.is_infinite() {
            return Ok(Numeric::infinity(v < 0.0));
        }
        Numeric::parse(&strip_sci(&format!("{:.*e}", sig - 1, v)))
    }

    // -----------------------------------------------------------------------
    // Arithmetic.

    pub fn neg(&self) -> Numeric {
        let mut n = self.clone();
        n.sign = match self.sign {
            NumericSign::Positive if !self.digits.is_empty() => NumericSign::Negative,
            NumericSign::Positive => NumericSign::Positive,
            NumericSign::Negative => NumericSign::Positive,
            NumericSign::NaN => NumericSign::NaN,
            NumericSign::PositiveInfinity => NumericSign::NegativeInfinity,
            NumericSign::NegativeInfinity => NumericSign::PositiveInfinity,
        };
        n
    }

    pub fn abs(&self) -> Numeric {
        let mut n = self.clone();
        n.sign = match self.sign {
            NumericSign::Negative => NumericSign::Positive,
            NumericSign::NegativeInfinity => NumericSign::PositiveInfinity,
            s => s,
        };
        n
    }

    /// -1, 0 or 1 (NaN for NaN), with scale 0, as `sign(numeric)`.
    pub fn signum(&self) -> Numeric {
        match self.sign {
            NumericSign::NaN => Numeric::nan(),
            NumericSign::Negative | NumericSign::NegativeInfinity => Numeric::from_i64(-1),
            NumericSign::PositiveInfinity => Numeric::from_i64(1),
            NumericSign::Positive if self.digits.is_empty() => Numeric::zero(),
            NumericSign::Positive => Numeric::from_i64(1),
        }
    }

    fn inf_sign(&self) -> i32 {
        match self.sign {
            NumericSign::PositiveInfinity => 1,
            NumericSign::NegativeInfinity => -1,
            _ => 0,
        }
    }

    fn sign_of(&self) -> i32 {
        match self.sign {
            NumericSign::Negative | NumericSign::NegativeInfinity => -1,
            NumericSign::Positive if self.digits.is_empty() => 0,
            _ => 1,
        }
    }

    pub fn add(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        match (self.inf_sign(), other.inf_sign()) {
            (0, 0) => {}
            (a, b) if a != 0 && b != 0 && a != b => return Ok(Numeric::nan()),
            (a, 0) => return Ok(Numeric::infinity(a < 0)),
            (_, b) => return Ok(Numeric::infinity(b < 0)),
        }
        if let Some(n) = self.add_scaled(other) {
            return Ok(n);
        }
        let dscale = self.dscale.max(other.dscale) as i64;
        Numeric::from_dec(&self.to_dec().add(&other.to_dec()), dscale)
    }

    pub fn sub(&self, other: &Numeric) -> Result<Numeric> {
        self.add(&other.neg())
    }

    pub fn mul(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        if self.is_infinite() || other.is_infinite() {
            let s = self.sign_of() * other.sign_of();
            return Ok(if s == 0 {
                Numeric::nan()
            } else {
                Numeric::infinity(s < 0)
            });
        }
        if let Some(n) = self.mul_scaled(other) {
            return Ok(n);
        }
        let dscale = self.dscale as i64 + other.dscale as i64;
        Numeric::from_dec(&self.to_dec().mul(&other.to_dec()), dscale)
    }

    /// `select_div_scale`: at least 16 significant digits, no fewer
    /// decimals than either input shows, at most 1000.
    fn div_scale(&self, other: &Numeric) -> i64 {
        let (w1, d1) = match self.digits.first() {
            Some(&d) => (self.weight as i64, d),
            None => (0, 0),
        };
        let (w2, d2) = match other.digits.first() {
            Some(&d) => (other.weight as i64, d),
            None => (0, 0),
        };
        let mut qweight = w1 - w2;
        if d1 <= d2 {
            qweight -= 1;
        }
        let rscale = NUMERIC_MIN_SIG_DIGITS - qweight * DEC_DIGITS;
        rscale
            .max(self.dscale as i64)
            .max(other.dscale as i64)
            .clamp(0, NUMERIC_MAX_DISPLAY_SCALE)
    }

    pub fn div(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        if self.is_infinite() {
            if other.is_zero() {
                return Err(division_by_zero());
            }
            if other.is_infinite() {
                return Ok(Numeric::nan());
            }
            return Ok(Numeric::infinity(self.sign_of() * other.sign_of() < 0));
        }
        if other.is_infinite() {
            return Ok(Numeric::zero());
        }
        if other.is_zero() {
            return Err(division_by_zero());
        }
        let rscale = self.div_scale(other);
        let q = self.to_dec().div(&other.to_dec(), rscale as u64, true);
        Numeric::from_dec(&q, rscale)
    }

    /// `div(numeric, numeric)`: the quotient truncated toward zero.
    pub fn div_trunc(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        if other.is_zero() {
            return Err(division_by_zero());
        }
        if self.is_infinite() {
            if other.is_infinite() {
                return Ok(Numeric::nan());
            }
            return Ok(Numeric::infinity(self.sign_of() * other.sign_of() < 0));
        }
        if other.is_infinite() {
            return Ok(Numeric::zero());
        }
        let q = self.to_dec().div(&other.to_dec(), 0, false);
        Numeric::from_dec(&q, 0)
    }

    /// `%`: `a - trunc(a / b) * b`, with the larger input dscale.
    pub fn rem(&self, other: &Numeric) -> Result<Numeric> {
        if self.is_nan() || other.is_nan() {
            return Ok(Numeric::nan());
        }
        if other.is_zero() {
            return Err(division_by_zero());
        }
        if self.is_infinite() {
            return Ok(Numeric::nan());
        }
        if other.is_infinite() {
            return Ok(self.clone());
        }
        let a = self.to_dec();
        let b = other.to_dec();
        let q = a.div(&b, 0, false);
        let r = a.add(&q.mul(&b).negate());
        Numeric::from_dec(&r, self.dscale.max(other.dscale) as i64)
    }

    /// `sqrt(numeric)` with PostgreSQL's result scale: at least 16
    /// significant digits, never fewer decimals than the input shows.
    pub fn sqrt(&self) -> Result<Numeric> {
        let negative = || {
            Error::new(
                SqlState("2201F"),
                "cannot take square root of a negative number",
            )
        };
        match self.sign {
            NumericSign::NaN | NumericSign::PositiveInfinity => return Ok(self.clone()),
            NumericSign::NegativeInfinity => return Err(negative()),
            NumericSign::Negative if !self.digits.is_empty() => return Err(negative()),
            _ => {}
        }
        let weight = if self.digits.is_empty() {
            0
        } else {
            self.weight as i64
        };
        let sweight = (weight + 1) * DEC_DIGITS / 2 - 1;
        let rscale = (NUMERIC_MIN_SIG_DIGITS - sweight)
            .max(self.dscale as i64)
            .clamp(0, NUMERIC_MAX_DISPLAY_SCALE) as u64;
        // value = m * 10^-s; sqrt(value) * 10^(r+1) = sqrt(m * 10^(2(r+1) - s)).
        let d = self.to_dec();
        let e = 2 * (rscale + 1) as i128 - d.scale as i128;
        let n = if e >= 0 {
            mag_shift(&d.mag, e as u64)
        } else {
            mag_divmod(&d.mag, &mag_pow10((-e) as u64)).0
        };
        let root = mag_isqrt(&n);
        // One extra digit decides the rounding (half away from zero).
        let (mut q, extra) = mag_divmod(&root, &[10]);
        if extra.first().copied().unwrap_or(0) >= 5 {
            q = mag_add(&q, &[1]);
        }
        let r = Dec {
            neg: false,
            mag: q,
            scale: rscale,
        };
        Numeric::from_dec(&r, rscale as i64)
    }

    /// `round(x, s)`: rounds half away from zero to `s` decimals (`s` may be
    /// negative); the result shows `max(s, 0)` decimals.
    pub fn round(&self, scale: i32) -> Result<Numeric> {
        self.round_or_trunc(scale, true)
    }

    /// `trunc(x, s)`: truncates toward zero to `s` decimals.
    pub fn trunc(&self, scale: i32) -> Result<Numeric> {
        self.round_or_trunc(scale, false)
    }

    fn round_or_trunc(&self, scale: i32, round: bool) -> Result<Numeric> {
        if !self.is_finite() {
            return Ok(self.clone());
        }
        let scale = (scale as i64).clamp(-NUMERIC_INT_DIGITS_MAX - 1, NUMERIC_DSCALE_MAX);
        let d = self.to_dec();
        let r = if scale >= 0 {
            if round {
                d.round_to(scale as u64)
            } else {
                d.trunc_to(scale as u64)
            }
        } else {
            // Round at 10^-scale: divide, round to an integer, multiply back.
            let k = (-scale) as u64;
            let shifted = Dec {
                neg: d.neg,
                mag: d.mag.clone(),
                scale: d.scale + k,
            };
            let i = if round {
                shifted.round_to(0)
            } else {
                shifted.trunc_to(0)
            };
            Dec {
                neg: i.neg && !i.mag.is_empty(),
                mag: mag_shift(&i.mag, k),
                scale: 0,
            }
        };
        let r = Dec {
            neg: r.neg && !r.is_zero(),
            ..r
        };
        Numeric::from_dec(&r, scale.max(0))
    }

    /// `ceil` / `floor`.
    pub fn ceil(&self) -> Result<Numeric> {
        self.to_integral(true)
    }

    pub fn floor(&self) -> Result<Numeric> {
        self.to_integral(false)
    }

    fn to_integral(&self, up: bool) -> Result<Numeric> {
        if !self.is_finite() {
            return Ok(self.clone());
        }
        let d = self.to_dec();
        let t = d.trunc_to(0);
        let exact = t.cmp(&d) == Ordering::Equal;
        let r = if exact || (up == d.neg) {
            t
        } else if up {
            t.add(&Dec {
                neg: false,
                mag: vec![1],
                scale: 0,
            })
        } else {
            t.add(&Dec {
                neg: true,
                mag: vec![1],
                scale: 0,
            })
        };
        let r = Dec {
            neg: r.neg && !r.is_zero(),
            ..r
        };
        Numeric::from_dec(&r, 0)
    }

    /// Coerces to `numeric(precision, scale)`: rounds to `scale` and checks
    /// that the integer digits fit (22003 `numeric field overflow`).
    pub fn apply_typmod(&self, precision: u16, scale: u16) -> Result<Numeric> {
        let field_overflow = |detail: String| {
            Error::new(
                SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                "numeric field overflow",
            )
            .with_detail(detail)
        };
        if self.is_nan() {
            return Ok(self.clone());
        }
        if self.is_infinite() {
            return Err(field_overflow(format!(
                "A field with precision {precision}, scale {scale} cannot hold an infinite value."
            )));
        }
        let max_digits = precision as i64 - scale as i64;
        // Already within the scale (the usual case: a literal of a
        // numeric(p,s) column): nothing to round, only the scale to set.
        if self.dscale <= scale && max_digits >= 0 && !self.digits.is_empty() {
            if self.int_digits() <= max_digits {
                let mut n = self.clone();
                n.dscale = scale;
                return Ok(n);
            }
        } else {
            let rounded = Numeric::from_dec(&self.to_dec(), scale as i64)?;
            if rounded.to_dec().int_digits() <= max_digits {
                return Ok(rounded);
            }
        }
        let bound = if max_digits > 0 {
            format!("10^{max_digits}")
        } else {
            "1".to_string()
        };
        Err(field_overflow(format!(
            "A field with precision {precision}, scale {scale} must round to an absolute value less than {bound}."
        )))
    }

    /// Decimal digits before the point of a finite non-zero value
    /// (0 for one below 1).
    fn int_digits(&self) -> i64 {
        match self.digits.first() {
            Some(&d) if self.weight >= 0 => {
                let lead = match d {
                    0..=9 => 1,
                    10..=99 => 2,
                    100..=999 => 3,
                    _ => 4,
                };
                self.weight as i64 * DEC_DIGITS + lead
            }
            _ => 0,
        }
    }

    /// PostgreSQL's total order for numeric: NaN equals NaN and sorts above
    /// everything; -Infinity < finite values < +Infinity. The display scale
    /// does not matter (`1.0 = 1.00`).
    pub fn cmp_total(&self, other: &Numeric) -> Ordering {
        fn rank(n: &Numeric) -> i32 {
            match n.sign {
                NumericSign::NegativeInfinity => 0,
                NumericSign::Positive | NumericSign::Negative => 1,
                NumericSign::PositiveInfinity => 2,
                NumericSign::NaN => 3,
            }
        }
        let (ra, rb) = (rank(self), rank(other));
        if ra != rb || ra != 1 {
            return ra.cmp(&rb);
        }
        // Finite: digits are canonical (no leading or trailing zero digit,
        // zero has none), so a value is its sign, weight and digit string;
        // compare those without building magnitudes (sorts and filters
        // call this per row).
        let sign = |n: &Numeric| -> i32 {
            if n.digits.is_empty() {
                0
            } else if n.sign == NumericSign::Negative {
                -1
            } else {
                1
            }
        };
        let (sa, sb) = (sign(self), sign(other));
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let mag = self
            .weight
            .cmp(&other.weight)
            .then_with(|| self.digits.as_slice().cmp(other.digits.as_slice()));
        if sa < 0 { mag.reverse() } else { mag }
    }
}

/// `d.ddddde±x` -> the same with trailing fraction zeros removed, so the
/// parsed display scale matches `%g`'s.
fn strip_sci(s: &str) -> String {
    match s.split_once('e') {
        Some((mant, exp)) => {
            let mant = if mant.contains('.') {
                mant.trim_end_matches('0').trim_end_matches('.')
            } else {
                mant
            };
            format!("{mant}e{exp}")
        }
        None => s.to_string(),
    }
}

fn decimal_str_to_mag(digits: &str) -> Mag {
    let bytes = digits.as_bytes();
    let mut mag = Vec::with_capacity(bytes.len() / 4 + 1);
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(4);
        let mut limb = 0u32;
        for &b in &bytes[start..end] {
            limb = limb * 10 + (b - b'0') as u32;
        }
        mag.push(limb);
        end = start;
    }
    mag_trim(&mut mag);
    mag
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sign {
            NumericSign::NaN => return f.write_str("NaN"),
            NumericSign::PositiveInfinity => return f.write_str("Infinity"),
            NumericSign::NegativeInfinity => return f.write_str("-Infinity"),
            _ => {}
        }
        let mut out = String::new();
        if self.sign == NumericSign::Negative && !self.digits.is_empty() {
            out.push('-');
        }
        // Integer part: digit positions weight..=0.
        if self.weight < 0 || self.digits.is_empty() {
            out.push('0');
        } else {
            for i in 0..=self.weight as usize {
                let d = self.digits.get(i).copied().unwrap_or(0);
                if i == 0 {
                    out.push_str(&d.to_string());
                } else {
                    out.push_str(&format!("{d:04}"));
                }
            }
        }
        if self.dscale > 0 {
            out.push('.');
            let mut frac = String::with_capacity(self.dscale as usize + 4);
            // Fraction digit groups have weights -1, -2, ...
            let mut w: i64 = -1;
            while (frac.len() as u64) < self.dscale as u64 {
                let idx = self.weight as i64 - w;
                let d = if idx >= 0 {
                    self.digits.get(idx as usize).copied().unwrap_or(0)
                } else {
                    0
                };
                frac.push_str(&format!("{d:04}"));
                w -= 1;
            }
            frac.truncate(self.dscale as usize);
            out.push_str(&frac);
        }
        f.write_str(&out)
    }
}

impl std::str::FromStr for Numeric {
    type Err = Error;
    fn from_str(s: &str) -> Result<Numeric> {
        Numeric::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap()
    }

    #[test]
    fn cmp_total_on_digits_agrees_with_exact_comparison() {
        let vals = [
            "0",
            "0.00",
            "-0.0",
            "1",
            "1.0",
            "1.00001",
            "0.9999",
            "-1",
            "-1.5",
            "-0.0001",
            "10000",
            "9999.9999",
            "10000.0001",
            "123456789.123",
            "-123456789.124",
            "0.00010",
            "0.0001",
            "1e20",
            "-1e-20",
            "99999999",
            "100000000",
        ];
        for a in vals {
            for b in vals {
                let (x, y) = (n(a), n(b));
                assert_eq!(x.cmp_total(&y), x.to_dec().cmp(&y.to_dec()), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn parse_then_print_keeps_the_display_scale() {
        for (input, shown) in [
            ("0", "0"),
            ("0.000", "0.000"),
            ("-0.0", "0.0"),
            ("1.5", "1.5"),
            ("  12.340 ", "12.340"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            ("-123456789.000123456789", "-123456789.000123456789"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+7", "7"),
            ("10000", "10000"),
            ("0.0001", "0.0001"),
            ("12345678901234567890.5", "12345678901234567890.5"),
            ("NaN", "NaN"),
            ("-inf", "-Infinity"),
            ("Infinity", "Infinity"),
        ] {
            assert_eq!(n(input).to_string(), shown, "input {input:?}");
        }
    }

    #[test]
    fn bad_numeric_text_is_22p02() {
        for bad in ["", "abc", ".", "1e", "1.2.3", "- 1", "1 2", "-nan"] {
            let e = Numeric::parse(bad).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::INVALID_TEXT_REPRESENTATION, "{bad:?}");
        }
        assert_eq!(
            Numeric::parse("abc").unwrap_err().message,
            "invalid input syntax for type numeric: \"abc\""
        );
        assert_eq!(
            Numeric::parse("1e1000000").unwrap_err().sqlstate,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE
        );
    }

    #[test]
    fn division_uses_select_div_scale() {
        // Results taken from PostgreSQL 15.
        for (a, b, q) in [
            ("7.0", "2", "3.5000000000000000"),
            ("1", "3", "0.33333333333333333333"),
            ("2", "7", "0.28571428571428571429"),
            ("100000", "3", "33333.333333333333"),
            ("1e-20", "3", "0.0000000000000000000033333333333333333333"),
            ("-1", "3", "-0.33333333333333333333"),
            ("2", "3", "0.66666666666666666667"),
            ("10", "4", "2.5000000000000000"),
        ] {
            assert_eq!(n(a).div(&n(b)).unwrap().to_string(), q, "{a} / {b}");
        }
        assert_eq!(
            n("1").div(&n("0")).unwrap_err().sqlstate,
            SqlState::DIVISION_BY_ZERO
        );
    }

    #[test]
    fn multiplication_adds_scales_and_chains_exactly() {
        let third = n("1.0").div(&n("3.0")).unwrap();
        assert_eq!(
            third.mul(&n("3")).unwrap().to_string(),
            "0.99999999999999999999"
        );
        assert_eq!(n("1.5").mul(&n("2.25")).unwrap().to_string(), "3.375");
        assert_eq!(n("-0.1").mul(&n("0.1")).unwrap().to_string(), "-0.01");
    }

    #[test]
    fn remainder_round_and_trunc_match_postgres() {
        assert_eq!(n("5").rem(&n("3.0")).unwrap().to_string(), "2.0");
        assert_eq!(n("-7.5").rem(&n("2")).unwrap().to_string(), "-1.5");
        assert_eq!(n("2.5").round(0).unwrap().to_string(), "3");
        assert_eq!(n("-2.45").round(1).unwrap().to_string(), "-2.5");
        assert_eq!(n("-2.45").trunc(1).unwrap().to_string(), "-2.4");
        assert_eq!(n("1234.5").round(-2).unwrap().to_string(), "1200");
        assert_eq!(n("-0.4").round(0).unwrap().to_string(), "0");
        assert_eq!(n("2.1").ceil().unwrap().to_string(), "3");
        assert_eq!(n("-2.1").floor().unwrap().to_string(), "-3");
        assert_eq!(n("-2.1").ceil().unwrap().to_string(), "-2");
    }

    #[test]
    fn sqrt_uses_postgres_result_scale() {
        for (x, root) in [
            ("2.0", "1.414213562373095"),
            ("2", "1.414213562373095"),
            ("100", "10.000000000000000"),
            ("0.0001", "0.01000000000000000"),
            ("1e-10", "0.000010000000000000000"),
            ("123456789.123", "11111.11106609056"),
            ("0", "0.000000000000000"),
        ] {
            assert_eq!(n(x).sqrt().unwrap().to_string(), root, "sqrt({x})");
        }
        assert_eq!(n("-1").sqrt().unwrap_err().sqlstate, SqlState("2201F"));
    }

    #[test]
    fn special_values_follow_postgres() {
        let inf = n("inf");
        assert!(inf.sub(&inf).unwrap().is_nan());
        assert!(inf.mul(&n("0")).unwrap().is_nan());
        assert!(n("NaN").add(&n("1")).unwrap().is_nan());
        assert_eq!(n("1").div(&inf).unwrap().to_string(), "0");
        assert_eq!(n("NaN").cmp_total(&n("NaN")), Ordering::Equal);
        assert_eq!(n("NaN").cmp_total(&inf), Ordering::Greater);
        assert_eq!(n("-inf").cmp_total(&n("-1e100")), Ordering::Less);
        assert_eq!(n("1.0").cmp_total(&n("1.00")), Ordering::Equal);
    }

    #[test]
    fn integer_casts_round_and_check_range() {
        assert_eq!(
            n("2.5")
                .to_int(i32::MIN as i64, i32::MAX as i64, "integer")
                .unwrap(),
            3
        );
        assert_eq!(
            n("-2.5")
                .to_int(i32::MIN as i64, i32::MAX as i64, "integer")
                .unwrap(),
            -3
        );
        let e = n("1e10")
            .to_int(i32::MIN as i64, i32::MAX as i64, "integer")
            .unwrap_err();
        assert_eq!(e.message, "integer out of range");
        assert_eq!(e.sqlstate, SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
        let e = n("NaN").to_int(i64::MIN, i64::MAX, "bigint").unwrap_err();
        assert_eq!(e.message, "cannot convert NaN to bigint");
    }

    #[test]
    fn float_conversions_go_through_pg_digit_counts() {
        assert_eq!(Numeric::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Numeric::from_f64(1.5e-7).unwrap().to_string(), "0.00000015");
        assert_eq!(
            Numeric::from_f64(0.30000000000000004).unwrap().to_string(),
            "0.3"
        );
        assert_eq!(
            Numeric::from_f32(12345678.9).unwrap().to_string(),
            "12345700"
        );
        assert_eq!(n("0.1").to_f64(), 0.1);
    }

    #[test]
    fn typmod_rounds_and_reports_field_overflow() {
        assert_eq!(
            n("123.456").apply_typmod(10, 1).unwrap().to_string(),
            "123.5"
        );
        assert_eq!(n("0.001").apply_typmod(10, 2).unwrap().to_string(), "0.00");
        let e = n("12345.678").apply_typmod(5, 2).unwrap_err();
        assert_eq!(e.message, "numeric field overflow");
        assert_eq!(
            e.detail.as_deref(),
            Some(
                "A field with precision 5, scale 2 must round to an absolute value less than 10^3."
            )
        );
    }

    #[test]
    fn typmod_without_rounding_matches_rounding_through_dec() {
        // What apply_typmod computed before its no-rounding shortcut.
        let by_dec = |x: &Numeric, p: u16, s: u16| -> Option<Numeric> {
            let r = Numeric::from_dec(&x.to_dec(), s as i64).ok()?;
            (r.to_dec().int_digits() <= p as i64 - s as i64).then_some(r)
        };
        let texts = [
            "0",
            "-0.5",
            "5",
            "12.3",
            "99.99",
            "100",
            "-9999",
            "10000",
            "12345678.9",
            "0.0001",
            "0.00012",
            "123456789012.34",
            "1e-3",
            "-1234.5678",
            "7.00",
            "9999.9999",
            "10000.0",
        ];
        for t in texts {
            let x = n(t);
            for (p, s) in [
                (12, 2),
                (4, 0),
                (6, 4),
                (8, 4),
                (3, 5),
                (1, 0),
                (20, 6),
                (5, 5),
            ] {
                let got = x.apply_typmod(p, s).ok();
                let want = by_dec(&x, p, s);
                assert_eq!(
                    got.as_ref().map(|v| (v.to_string(), v.dscale)),
                    want.as_ref().map(|v| (v.to_string(), v.dscale)),
                    "{t} as numeric({p},{s})"
                );
                if let (Some(g), Some(w)) = (got, want) {
                    assert_eq!(g.digits, w.digits, "{t} as numeric({p},{s})");
                    assert_eq!(g.weight, w.weight, "{t} as numeric({p},{s})");
                }
            }
        }
    }

    fn dec_string(v: i128, scale: u32) -> String {
        let neg = v < 0;
        let digits = v.unsigned_abs().to_string();
        let s = if scale == 0 {
            digits
        } else {
            let padded = format!("{:0>width$}", digits, width = scale as usize + 1);
            let (i, f) = padded.split_at(padded.len() - scale as usize);
            format!("{i}.{f}")
        };
        if neg && v != 0 { format!("-{s}") } else { s }
    }

    proptest! {
        #[test]
        fn print_parse_round_trips(v in any::<i64>(), scale in 0u32..30) {
            let text = dec_string(v as i128, scale);
            let parsed = Numeric::parse(&text).unwrap();
            prop_assert_eq!(parsed.to_string(), text.clone());
            prop_assert_eq!(Numeric::parse(&parsed.to_string()).unwrap(), parsed);
        }

        #[test]
        fn integer_arithmetic_agrees_with_i128(a in any::<i64>(), b in any::<i64>()) {
            let (na, nb) = (Numeric::from_i64(a), Numeric::from_i64(b));
            let (a, b) = (a as i128, b as i128);
            prop_assert_eq!(na.add(&nb).unwrap().to_string(), (a + b).to_string());
            prop_assert_eq!(na.sub(&nb).unwrap().to_string(), (a - b).to_string());
            prop_assert_eq!(na.mul(&nb).unwrap().to_string(), (a * b).to_string());
            if b != 0 {
                prop_assert_eq!(na.div_trunc(&nb).unwrap().to_string(), (a / b).to_string());
                prop_assert_eq!(na.rem(&nb).unwrap().to_string(), (a % b).to_string());
            }
            prop_assert_eq!(na.cmp_total(&nb), a.cmp(&b));
        }

        #[test]
        fn scaled_addition_agrees_with_i128(a in any::<i64>(), b in any::<i64>(), sa in 0u32..8, sb in 0u32..8) {
            let na = Numeric::parse(&dec_string(a as i128, sa)).unwrap();
            let nb = Numeric::parse(&dec_string(b as i128, sb)).unwrap();
            let s = sa.max(sb);
            let exact = a as i128 * 10i128.pow(s - sa) + b as i128 * 10i128.pow(s - sb);
            prop_assert_eq!(na.add(&nb).unwrap().to_string(), dec_string(exact, s));
        }

        #[test]
        fn division_rounds_half_away_from_zero(a in any::<i32>(), b in any::<i32>()) {
            prop_assume!(b != 0);
            let q = Numeric::from_i64(a as i64).div(&Numeric::from_i64(b as i64)).unwrap();
            let scale = q.dscale as u32;
            // Exact reference: round(a * 10^scale / b) half away from zero.
            let num = a as i128 * 10i128.pow(scale);
            let den = b as i128;
            let mut qi = num / den;
            let r = num % den;
            if 2 * r.abs() >= den.abs() {
                qi += if (num < 0) != (den < 0) { -1 } else { 1 };
            }
            prop_assert_eq!(q.to_string(), dec_string(qi, scale));
        }
    }
}
