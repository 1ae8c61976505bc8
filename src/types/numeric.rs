//! `numeric`: exact decimal arithmetic with PostgreSQL's rounding and scale
//! rules.
//!
//! The representation is PostgreSQL's own: base-10000 digits, a weight (the
//! power of 10000 of the first digit), a sign, and a display scale (digits
//! after the decimal point). It maps one to one onto the binary wire format.

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
