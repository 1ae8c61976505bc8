//! Order-preserving key encoding: `encode(a) < encode(b)` (as bytes, the
//! B+-trees' order) exactly when `a < b` in SQL's ascending order, NULLs
//! last, for values of one type. A key of several columns is the
//! concatenation of their encodings: every encoding is prefix-free, so the
//! first differing column decides.
//!
//! Layout of one column (see `docs/types.md` for the full tables):
//!
//! | bytes | meaning |
//! |---|---|
//! | 1 | `0x01` a value follows, `0x02` NULL (nothing follows) |
//! | n | the value's payload, by type (below) |
//!
//! | type | payload |
//! |---|---|
//! | boolean | 1 byte: `00` false, `01` true |
//! | smallint / integer / bigint | 2 / 4 / 8 bytes big-endian, sign bit flipped |
//! | real / double precision | 4 / 8 bytes: IEEE bits, all flipped if negative else sign bit flipped; `-0` as `0`, every NaN as the canonical positive NaN (above +Infinity) |
//! | numeric | class byte (`00` -Inf, `01` negative, `02` zero, `03` positive, `04` +Inf, `05` NaN); finite non-zero: weight (i16, sign flipped, BE), each base-10000 digit + 1 as u16 BE, then `00 00`; all of these bytes inverted for negatives |
//! | text / bytea | bytes with `00` written as `00 FF`, then `00 00` |
//! | date | 4 bytes: days since 2000-01-01, big-endian, sign bit flipped (∓infinity are `i32::MIN`/`MAX`) |
//! | time / timestamp / timestamptz | 8 bytes: microseconds, big-endian, sign bit flipped (timestamptz in UTC) |
//! | interval | 16 bytes: the total duration in microseconds with 30-day months (`interval_cmp_value`), i128 big-endian, sign bit flipped |
//! | uuid | the 16 bytes as they are (uuid order is bytewise) |
//!
//! Invariants: encodings of one type are prefix-free; equal SQL values
//! (`1.0 = 1.00`, `-0 = 0`, `NaN = NaN`) encode identically.

use crate::types::Value;
use crate::types::numeric::{Numeric, NumericSign};

/// First byte of a non-NULL column.
pub const PRESENT: u8 = 0x01;
/// First (and only) byte of a NULL column: above every value (NULLS LAST).
pub const NULL: u8 = 0x02;

/// Appends the key encoding of `v` to `out`.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    if let Value::Null = v {
        out.push(NULL);
        return;
    }
    out.push(PRESENT);
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int2(x) => out.extend_from_slice(&((*x as u16) ^ 0x8000).to_be_bytes()),
        Value::Int4(x) => out.extend_from_slice(&((*x as u32) ^ 0x8000_0000).to_be_bytes()),
        Value::Int8(x) => {
            out.extend_from_slice(&((*x as u64) ^ 0x8000_0000_0000_0000).to_be_bytes())
        }
        Value::Float4(f) => {
            let f = if f.is_nan() {
                f32::NAN
            } else if *f == 0.0 {
                0.0
            } else {
                *f
            };
            let bits = f.to_bits();
            let k = if bits & 0x8000_0000 != 0 {
                !bits
            } else {
                bits ^ 0x8000_0000
            };
            out.extend_from_slice(&k.to_be_bytes());
        }
        Value::Float8(f) => {
            let f = if f.is_nan() {
                f64::NAN
            } else if *f == 0.0 {
                0.0
            } else {
                *f
            };
            let bits = f.to_bits();
            let k = if bits & (1 << 63) != 0 {
                !bits
            } else {
                bits ^ (1 << 63)
            };
            out.extend_from_slice(&k.to_be_bytes());
        }
        Value::Numeric(n) => encode_numeric(n, out),
        Value::Text(s) => encode_bytes(s.as_bytes(), out),
        Value::Bytea(b) => encode_bytes(b, out),
        Value::Date(d) => out.extend_from_slice(&((*d as u32) ^ 0x8000_0000).to_be_bytes()),
        Value::Time(t) | Value::Timestamp(t) | Value::Timestamptz(t) => {
            out.extend_from_slice(&((*t as u64) ^ 0x8000_0000_0000_0000).to_be_bytes())
        }
        Value::Interval(iv) => {
            out.extend_from_slice(&((iv.cmp_key() as u128) ^ (1u128 << 127)).to_be_bytes())
        }
        Value::Uuid(u) => out.extend_from_slice(u),
        // json has no ordering in SQL; jsonb keys use their normalised text
        // (equal jsonb values encode alike; the order is not jsonb's).
        Value::Json(s) => encode_bytes(s.as_bytes(), out),
        Value::Jsonb(j) => encode_bytes(j.to_text().as_bytes(), out),
        // Each element's encoding (they start with 01 or 02), then 00:
        // element by element, a shorter array first, as `array_cmp`.
        Value::Array(items) => {
            for item in items {
                encode_value(item, out);
            }
            out.push(0x00);
        }
    }
}

/// The key of a row: its key columns' encodings, concatenated.
pub fn encode_key(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        encode_value(v, &mut out);
    }
    out
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn encode_numeric(n: &Numeric, out: &mut Vec<u8>) {
    let negative = match n.sign {
        NumericSign::NegativeInfinity => return out.push(0x00),
        NumericSign::PositiveInfinity => return out.push(0x04),
        NumericSign::NaN => return out.push(0x05),
        _ if n.digits.is_empty() => return out.push(0x02),
        NumericSign::Negative => true,
        NumericSign::Positive => false,
    };
    out.push(if negative { 0x01 } else { 0x03 });
    let start = out.len();
    out.extend_from_slice(&((n.weight as u16) ^ 0x8000).to_be_bytes());
    for &d in &n.digits {
        out.extend_from_slice(&(d + 1).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    if negative {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::*;
    use crate::sql::expr::compare_nulls_last;

    fn key(v: &Value) -> Vec<u8> {
        encode_key(std::slice::from_ref(v))
    }

    /// The property: byte order of the encodings is the SQL order.
    fn check_pair(a: &Value, b: &Value) -> Result<(), TestCaseError> {
        let sql = compare_nulls_last(a, b).unwrap();
        let bytes = key(a).cmp(&key(b));
        prop_assert_eq!(sql, bytes, "{:?} vs {:?}", a, b);
        Ok(())
    }

    fn numeric() -> impl Strategy<Value = Value> {
        prop_oneof![
            8 => (any::<i64>(), 0u32..12).prop_map(|(m, s)| {
                let t = format!("{}e-{}", m, s);
                Value::Numeric(Numeric::parse(&t).unwrap())
            }),
            2 => (-3i64..3, 0u32..3).prop_map(|(m, s)| {
                Value::Numeric(Numeric::parse(&format!("{m}e-{s}")).unwrap())
            }),
            1 => prop_oneof![
                Just(Value::Numeric(Numeric::nan())),
                Just(Value::Numeric(Numeric::infinity(false))),
                Just(Value::Numeric(Numeric::infinity(true))),
            ],
        ]
    }

    fn float8() -> impl Strategy<Value = Value> {
        prop_oneof![
            6 => any::<f64>().prop_map(Value::Float8),
            3 => (-4i32..4).prop_map(|i| Value::Float8(f64::from(i) / 2.0)),
            1 => prop_oneof![
                Just(Value::Float8(f64::NAN)),
                Just(Value::Float8(-f64::NAN)),
                Just(Value::Float8(-0.0)),
                Just(Value::Float8(f64::INFINITY)),
                Just(Value::Float8(f64::NEG_INFINITY)),
            ],
        ]
    }

    fn text() -> impl Strategy<Value = Value> {
        // a small alphabet with NUL and a high byte makes prefixes and
        // escapes likely
        proptest::collection::vec(
            prop_oneof![Just('\0'), Just('a'), Just('b'), Just('\u{ff}')],
            0..6,
        )
        .prop_map(|c| Value::Text(c.into_iter().collect()))
    }

    fn with_null(s: impl Strategy<Value = Value>) -> impl Strategy<Value = Value> {
        prop_oneof![9 => s, 1 => Just(Value::Null)]
    }

    proptest! {
        #[test]
        fn int_key_order_is_sql_order(a in with_null(any::<i64>().prop_map(Value::Int8)),
                                      b in with_null(any::<i64>().prop_map(Value::Int8)),
                                      c in any::<i32>(), d in any::<i32>(),
                                      e in any::<i16>(), f in any::<i16>()) {
            check_pair(&a, &b)?;
            check_pair(&Value::Int4(c), &Value::Int4(d))?;
            check_pair(&Value::Int2(e), &Value::Int2(f))?;
        }

        #[test]
        fn float_key_order_is_sql_order(a in with_null(float8()), b in with_null(float8()),
                                        c in any::<f32>(), d in any::<f32>()) {
            check_pair(&a, &b)?;
            check_pair(&Value::Float4(c), &Value::Float4(d))?;
        }

        #[test]
        fn numeric_key_order_is_sql_order(a in with_null(numeric()), b in with_null(numeric())) {
            check_pair(&a, &b)?;
        }

        #[test]
        fn text_and_bytea_key_order_is_sql_order(a in with_null(text()), b in with_null(text())) {
            check_pair(&a, &b)?;
            if let (Value::Text(x), Value::Text(y)) = (&a, &b) {
                check_pair(&Value::Bytea(x.as_bytes().to_vec()), &Value::Bytea(y.as_bytes().to_vec()))?;
            }
        }

        #[test]
        fn multi_column_key_order_is_lexicographic_sql_order(
            a in (with_null(text()), with_null(any::<i32>().prop_map(Value::Int4))),
            b in (with_null(text()), with_null(any::<i32>().prop_map(Value::Int4))),
        ) {
            let sql = compare_nulls_last(&a.0, &b.0).unwrap()
                .then(compare_nulls_last(&a.1, &b.1).unwrap());
            let bytes = encode_key(&[a.0.clone(), a.1.clone()])
                .cmp(&encode_key(&[b.0.clone(), b.1.clone()]));
            prop_assert_eq!(sql, bytes);
        }
    }

    fn date() -> impl Strategy<Value = Value> {
        prop_oneof![
            8 => (-2_451_545i32..2_147_483_494 - 2_451_545).prop_map(Value::Date),
            2 => (-3i32..3).prop_map(Value::Date),
            1 => prop_oneof![Just(Value::Date(i32::MIN)), Just(Value::Date(i32::MAX))],
        ]
    }

    fn timestamp(tz: bool) -> impl Strategy<Value = Value> {
        let make = move |t: i64| {
            if tz {
                Value::Timestamptz(t)
            } else {
                Value::Timestamp(t)
            }
        };
        prop_oneof![
            8 => (crate::types::datetime::MIN_TIMESTAMP..crate::types::datetime::END_TIMESTAMP).prop_map(make),
            2 => (-3i64..3).prop_map(make),
            1 => prop_oneof![Just(make(i64::MIN)), Just(make(i64::MAX))],
        ]
    }

    fn interval() -> impl Strategy<Value = Value> {
        // Small parts make `1 mon` vs `30 days` style ties likely.
        prop_oneof![
            (any::<i32>(), any::<i32>(), any::<i64>())
                .prop_map(|(m, d, us)| { Value::Interval(crate::types::Interval::new(m, d, us)) }),
            (-2i32..3, -61i32..61, -3i64..3).prop_map(|(m, d, us)| {
                Value::Interval(crate::types::Interval::new(m, d, us * 43_200_000_000))
            }),
        ]
    }

    fn uuid() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<[u8; 16]>().prop_map(Value::Uuid),
            (0u8..3, 0u8..3).prop_map(|(a, b)| {
                let mut u = [0u8; 16];
                u[0] = a;
                u[15] = b;
                Value::Uuid(u)
            }),
        ]
    }

    proptest! {
        #[test]
        fn date_and_time_key_order_is_sql_order(a in with_null(date()), b in with_null(date()),
                                                 c in with_null((0i64..=86_400_000_000).prop_map(Value::Time)),
                                                 d in with_null((0i64..=86_400_000_000).prop_map(Value::Time))) {
            check_pair(&a, &b)?;
            check_pair(&c, &d)?;
        }

        #[test]
        fn timestamp_key_order_is_sql_order(a in with_null(timestamp(false)), b in with_null(timestamp(false)),
                                             c in with_null(timestamp(true)), d in with_null(timestamp(true))) {
            check_pair(&a, &b)?;
            check_pair(&c, &d)?;
        }

        #[test]
        fn interval_key_order_is_sql_order_by_total_duration(a in with_null(interval()), b in with_null(interval())) {
            check_pair(&a, &b)?;
        }

        #[test]
        fn uuid_key_order_is_sql_order(a in with_null(uuid()), b in with_null(uuid())) {
            check_pair(&a, &b)?;
        }
    }

    #[test]
    fn equal_intervals_share_a_key() {
        let iv = |m, d, us| Value::Interval(crate::types::Interval::new(m, d, us));
        assert_eq!(key(&iv(1, 0, 0)), key(&iv(0, 30, 0)));
        assert_eq!(key(&iv(0, 1, 0)), key(&iv(0, 0, 86_400_000_000)));
        assert_eq!(
            key(&iv(1, 0, 0)).cmp(&key(&iv(0, 29, 86_400_000_001))),
            Ordering::Less
        );
    }

    #[test]
    fn bool_and_equal_sql_values_encode_alike() {
        check_pair(&Value::Bool(false), &Value::Bool(true)).unwrap();
        let n = |s: &str| Value::Numeric(Numeric::parse(s).unwrap());
        assert_eq!(key(&n("1.0")), key(&n("1.00")));
        assert_eq!(key(&n("0")), key(&n("-0.000")));
        assert_eq!(key(&Value::Float8(-0.0)), key(&Value::Float8(0.0)));
        assert_eq!(
            key(&Value::Float8(-f64::NAN)),
            key(&Value::Float8(f64::NAN))
        );
        assert_eq!(
            key(&Value::Text("a".into())).cmp(&key(&Value::Text("a\0".into()))),
            Ordering::Less
        );
    }
}
