//! The stored row format: what a table's tree holds under each row key.
//!
//! ```text
//!  format | schema version | column count n | null bitmap | values of the non-NULL columns
//!   u8=1  |   varint        |   varint       | ceil(n/8) B | in column order, by type
//! ```
//!
//! | field | size | meaning |
//! |---|---:|---|
//! | format | 1 | row format version, `1` |
//! | schema version | 1–5 | LEB128 varint: the table's schema version when the row was written |
//! | column count n | 1–5 | LEB128 varint: columns stored (a row written before `ADD COLUMN` has fewer; readers fill in the rest) |
//! | null bitmap | ⌈n/8⌉ | bit `i % 8` of byte `i / 8` set: column i is NULL and has no value bytes |
//! | values | … | each non-NULL column, by its type (below) |
//!
//! | type | bytes |
//! |---|---|
//! | boolean | 1: `0` or `1` |
//! | smallint / integer / bigint | 2 / 4 / 8, little-endian two's complement |
//! | real / double precision | 4 / 8, IEEE-754 bits little-endian (NaN payloads and `-0` kept) |
//! | numeric | varint length, then `0x01`, sign (0 +, 1 −, 2 NaN, 3 +Infinity, 4 −Infinity), weight i16, display scale u16, base-10000 digits u16 each, all LE (rows written before 2026-12-04: PostgreSQL's text output, which never starts with byte 1, still read) |
//! | text / varchar / char | varint length, then UTF-8 (char(n) stored padded) |
//! | bytea | varint length, then the bytes |
//! | date | 4: days since 2000-01-01, i32 LE |
//! | time / timestamp / timestamptz | 8: µs (since midnight / since 2000-01-01 UTC), i64 LE |
//! | interval | 16: months i32, days i32, µs i64, LE |
//! | uuid | 16 bytes |
//! | json | varint length, then the text as given |
//! | array (one dimension) | varint length of the rest, element count (varint), null bitmap of the elements, each non-NULL element as its type above |
//! | any other type (jsonb) | varint length, then the value's text output, read back with the type's input function |
//!
//! Invariants: a row decodes or the table is corrupt (XX001), never a
//! panic; decoding skips the columns the reader does not need without
//! building their values.

use crate::error::{Error, Result, SqlState};
use crate::types::{DataType, Numeric, Value, parse_text};

/// The row format version written today.
pub const ROW_FORMAT: u8 = 1;

fn corrupt(what: &str) -> Error {
    Error::new(
        SqlState::DATA_CORRUPTED,
        format!("stored row is corrupt: {what}"),
    )
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Encodes `values` (one per column, already of the columns' types).
pub fn encode_row(schema_version: u32, values: &[Value]) -> Vec<u8> {
    let n = values.len();
    let mut out = Vec::with_capacity(8 + n.div_ceil(8) + n * 8);
    out.push(ROW_FORMAT);
    put_varint(&mut out, u64::from(schema_version));
    put_varint(&mut out, n as u64);
    let bitmap_at = out.len();
    out.resize(bitmap_at + n.div_ceil(8), 0);
    for (i, v) in values.iter().enumerate() {
        if v.is_null() {
            out[bitmap_at + i / 8] |= 1 << (i % 8);
        } else {
            put_value(&mut out, v);
        }
    }
    out
}

/// The bytes of one non-NULL value (the table above).
fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int2(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Int4(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Int8(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Float4(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
        Value::Float8(x) => out.extend_from_slice(&x.to_bits().to_le_bytes()),
        Value::Numeric(x) => put_bytes(out, &numeric_bytes(x)),
        Value::Text(s) => put_bytes(out, s.as_bytes()),
        Value::Bytea(b) => put_bytes(out, b),
        Value::Date(d) => out.extend_from_slice(&d.to_le_bytes()),
        Value::Time(t) | Value::Timestamp(t) | Value::Timestamptz(t) => {
            out.extend_from_slice(&t.to_le_bytes())
        }
        Value::Interval(iv) => {
            out.extend_from_slice(&iv.months.to_le_bytes());
            out.extend_from_slice(&iv.days.to_le_bytes());
            out.extend_from_slice(&iv.micros.to_le_bytes());
        }
        Value::Uuid(u) => out.extend_from_slice(u),
        Value::Json(j) => put_bytes(out, j.as_bytes()),
        Value::Array(items) => {
            let mut a = Vec::with_capacity(2 + items.len().div_ceil(8) + items.len() * 8);
            put_varint(&mut a, items.len() as u64);
            let bitmap_at = a.len();
            a.resize(bitmap_at + items.len().div_ceil(8), 0);
            for (i, x) in items.iter().enumerate() {
                if x.is_null() {
                    a[bitmap_at + i / 8] |= 1 << (i % 8);
                } else {
                    put_value(&mut a, x);
                }
            }
            put_bytes(out, &a);
        }
        #[allow(unreachable_patterns)]
        other => put_bytes(out, other.to_text().as_bytes()),
    }
}

/// A bounds-checked reader over a stored row.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .ok_or_else(|| corrupt("length overflows"))?;
        let s = self
            .b
            .get(self.at..end)
            .ok_or_else(|| corrupt("row ends early"))?;
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            v |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    fn counted(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| corrupt("length too large"))?;
        self.take(n)
    }
}

/// The header of a stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowHeader {
    pub schema_version: u32,
    pub columns: usize,
}

/// Decodes a row of a table whose columns have `types`. With `needed`,
/// only the columns with `needed[i]` are read and output, in table order
/// (the others are skipped over, not built); without, all of them.
/// Columns the row does not store (added later) are `Null`; the caller
/// fills in their defaults ([`RowHeader::columns`] says how many are
/// stored).
pub fn decode_row(
    bytes: &[u8],
    types: &[DataType],
    needed: Option<&[bool]>,
    out: &mut Vec<Value>,
) -> Result<RowHeader> {
    out.clear();
    let mut r = Reader { b: bytes, at: 0 };
    let format = r.take(1)?[0];
    if format != ROW_FORMAT {
        return Err(corrupt(&format!("unknown row format {format}")));
    }
    let schema_version =
        u32::try_from(r.varint()?).map_err(|_| corrupt("schema version too large"))?;
    let n = usize::try_from(r.varint()?).map_err(|_| corrupt("column count too large"))?;
    if n > types.len() {
        return Err(corrupt(&format!(
            "row has {n} columns, the table {}",
            types.len()
        )));
    }
    let want = |i: usize| needed.is_none_or(|m| m.get(i).copied().unwrap_or(true));
    let bitmap = r.take(n.div_ceil(8))?;
    for (i, ty) in types.iter().enumerate().take(n) {
        let null = bitmap[i / 8] & (1 << (i % 8)) != 0;
        if !want(i) {
            if !null {
                match fixed_size(ty) {
                    Some(size) => {
                        r.take(size)?;
                    }
                    None => {
                        r.counted()?;
                    }
                }
            }
            continue;
        }
        out.push(if null {
            Value::Null
        } else {
            read_value(&mut r, ty)?
        });
    }
    for i in n..types.len() {
        if want(i) {
            out.push(Value::Null);
        }
    }
    if r.at != bytes.len() {
        return Err(corrupt(&format!("{} trailing bytes", bytes.len() - r.at)));
    }
    Ok(RowHeader {
        schema_version,
        columns: n,
    })
}

/// The stored size of a value of a fixed-width type (`None`: stored with
/// its length).
fn fixed_size(ty: &DataType) -> Option<usize> {
    Some(match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Time
        | DataType::Timestamp
        | DataType::Timestamptz => 8,
        DataType::Interval | DataType::Uuid => 16,
        _ => return None,
    })
}

/// The first byte of a numeric stored in binary (its text form, stored
/// before, starts with a digit, `-`, `N` or `I`).
const NUMERIC_BINARY: u8 = 1;

/// A numeric's stored bytes: its fields (canonical: no leading or trailing
/// zero digit, zero positive with weight 0), read back without parsing.
fn numeric_bytes(x: &Numeric) -> Vec<u8> {
    use crate::types::numeric::NumericSign;
    let finite = matches!(x.sign, NumericSign::Positive | NumericSign::Negative);
    let mut digits: &[u16] = if finite { &x.digits } else { &[] };
    let mut weight = x.weight;
    while let Some((0, rest)) = digits.split_first() {
        digits = rest;
        weight = weight.saturating_sub(1);
    }
    while let Some((0, rest)) = digits.split_last() {
        digits = rest;
    }
    if digits.is_empty() {
        weight = 0;
    }
    let sign = if finite && digits.is_empty() {
        NumericSign::Positive
    } else {
        x.sign
    };
    let mut b = Vec::with_capacity(6 + 2 * digits.len());
    b.push(NUMERIC_BINARY);
    b.push(match sign {
        NumericSign::Positive => 0,
        NumericSign::Negative => 1,
        NumericSign::NaN => 2,
        NumericSign::PositiveInfinity => 3,
        NumericSign::NegativeInfinity => 4,
    });
    b.extend_from_slice(&weight.to_le_bytes());
    b.extend_from_slice(&x.dscale.to_le_bytes());
    for d in digits {
        b.extend_from_slice(&d.to_le_bytes());
    }
    b
}

/// [`numeric_bytes`] read back, checked: digits below 10000 with no
/// leading or trailing zero digit, none for NaN and the infinities.
fn numeric_from_bytes(raw: &[u8]) -> Result<Numeric> {
    use crate::types::numeric::NumericSign;
    let bad = || corrupt("numeric");
    if raw.len() < 6 || !raw.len().is_multiple_of(2) {
        return Err(bad());
    }
    let sign = match raw[1] {
        0 => NumericSign::Positive,
        1 => NumericSign::Negative,
        2 => NumericSign::NaN,
        3 => NumericSign::PositiveInfinity,
        4 => NumericSign::NegativeInfinity,
        _ => return Err(bad()),
    };
    let weight = i16::from_le_bytes([raw[2], raw[3]]);
    let dscale = u16::from_le_bytes([raw[4], raw[5]]);
    let digits: Vec<u16> = raw[6..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let finite = matches!(sign, NumericSign::Positive | NumericSign::Negative);
    if digits.iter().any(|&d| d >= 10000)
        || (!finite && !digits.is_empty())
        || (digits.is_empty() && (weight != 0 || sign == NumericSign::Negative))
        || digits.first() == Some(&0)
        || digits.last() == Some(&0)
    {
        return Err(bad());
    }
    Ok(Numeric {
        digits,
        weight,
        sign,
        dscale,
    })
}

/// One non-NULL value of type `ty`.
fn read_value(r: &mut Reader<'_>, ty: &DataType) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => {
            let b = r.take(1)?[0];
            Value::Bool(b != 0)
        }
        DataType::Int2 => Value::Int2(i16::from_le_bytes(r.array()?)),
        DataType::Int4 => Value::Int4(i32::from_le_bytes(r.array()?)),
        DataType::Int8 => Value::Int8(i64::from_le_bytes(r.array()?)),
        DataType::Float4 => Value::Float4(f32::from_bits(u32::from_le_bytes(r.array()?))),
        DataType::Float8 => Value::Float8(f64::from_bits(u64::from_le_bytes(r.array()?))),
        DataType::Date => Value::Date(i32::from_le_bytes(r.array()?)),
        DataType::Time => Value::Time(i64::from_le_bytes(r.array()?)),
        DataType::Timestamp => Value::Timestamp(i64::from_le_bytes(r.array()?)),
        DataType::Timestamptz => Value::Timestamptz(i64::from_le_bytes(r.array()?)),
        DataType::Interval => {
            let months = i32::from_le_bytes(r.array()?);
            let days = i32::from_le_bytes(r.array()?);
            let micros = i64::from_le_bytes(r.array()?);
            Value::Interval(crate::types::datetime::Interval {
                months,
                days,
                micros,
            })
        }
        DataType::Uuid => Value::Uuid(r.array()?),
        DataType::Array(elem) => {
            let raw = r.counted()?;
            let mut a = Reader { b: raw, at: 0 };
            let n = usize::try_from(a.varint()?).map_err(|_| corrupt("array too long"))?;
            let bitmap = a.take(n.div_ceil(8))?;
            let mut items = Vec::with_capacity(n.min(raw.len()));
            for i in 0..n {
                if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                    items.push(Value::Null);
                } else {
                    items.push(read_value(&mut a, elem)?);
                }
            }
            if a.at != raw.len() {
                return Err(corrupt("trailing bytes in an array"));
            }
            Value::Array(items)
        }
        _ => decode_var(ty, r.counted()?)?,
    })
}

fn decode_var(ty: &DataType, raw: &[u8]) -> Result<Value> {
    let text = || std::str::from_utf8(raw).map_err(|_| corrupt("text is not UTF-8"));
    Ok(match ty {
        DataType::Bytea => Value::Bytea(raw.to_vec()),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) => {
            Value::Text(text()?.to_string())
        }
        DataType::Numeric(_) if raw.first() == Some(&NUMERIC_BINARY) => {
            Value::Numeric(numeric_from_bytes(raw)?)
        }
        DataType::Numeric(_) => {
            Value::Numeric(Numeric::parse(text()?).map_err(|_| corrupt("numeric"))?)
        }
        DataType::Json => Value::Json(text()?.to_string()),
        other => parse_text(other, text()?).map_err(|e| corrupt(&e.message))?,
    })
}

/// Values written without a schema ([`encode_tagged`]): each value's type
/// tag, then (unless NULL) its bytes as a stored row has them; an array
/// is its element count and each element tagged (a record's fields differ
/// in type).
const TAG_TYPES: [(u8, DataType); 17] = [
    (1, DataType::Bool),
    (2, DataType::Int2),
    (3, DataType::Int4),
    (4, DataType::Int8),
    (5, DataType::Float4),
    (6, DataType::Float8),
    (7, DataType::Numeric(None)),
    (8, DataType::Text),
    (9, DataType::Bytea),
    (10, DataType::Date),
    (11, DataType::Time),
    (12, DataType::Timestamp),
    (13, DataType::Timestamptz),
    (14, DataType::Interval),
    (15, DataType::Uuid),
    (16, DataType::Json),
    (17, DataType::Jsonb),
];
const TAG_NULL: u8 = 0;
const TAG_ARRAY: u8 = 18;

fn tag_of(v: &Value) -> u8 {
    match v {
        Value::Null => TAG_NULL,
        Value::Bool(_) => 1,
        Value::Int2(_) => 2,
        Value::Int4(_) => 3,
        Value::Int8(_) => 4,
        Value::Float4(_) => 5,
        Value::Float8(_) => 6,
        Value::Numeric(_) => 7,
        Value::Text(_) => 8,
        Value::Bytea(_) => 9,
        Value::Date(_) => 10,
        Value::Time(_) => 11,
        Value::Timestamp(_) => 12,
        Value::Timestamptz(_) => 13,
        Value::Interval(_) => 14,
        Value::Uuid(_) => 15,
        Value::Json(_) => 16,
        Value::Jsonb(_) => 17,
        Value::Array(_) => TAG_ARRAY,
    }
}

fn put_tagged(out: &mut Vec<u8>, v: &Value) {
    out.push(tag_of(v));
    match v {
        Value::Null => {}
        Value::Array(items) => {
            put_varint(out, items.len() as u64);
            for x in items {
                put_tagged(out, x);
            }
        }
        other => put_value(out, other),
    }
}

/// Appends `values` to `out` self-described (no schema needed to read
/// them back): the value count, then each value tagged with its type.
/// Temporary (spill) files hold rows this way.
pub fn encode_tagged(out: &mut Vec<u8>, values: &[Value]) {
    put_varint(out, values.len() as u64);
    for v in values {
        put_tagged(out, v);
    }
}

fn read_tagged(r: &mut Reader<'_>, depth: usize) -> Result<Value> {
    let tag = r.take(1)?[0];
    match tag {
        TAG_NULL => Ok(Value::Null),
        TAG_ARRAY => {
            if depth > 64 {
                return Err(corrupt("arrays nested too deep"));
            }
            let n = usize::try_from(r.varint()?).map_err(|_| corrupt("array too long"))?;
            let mut items = Vec::with_capacity(n.min(r.b.len() - r.at));
            for _ in 0..n {
                items.push(read_tagged(r, depth + 1)?);
            }
            Ok(Value::Array(items))
        }
        t => match TAG_TYPES.iter().find(|(x, _)| *x == t) {
            Some((_, ty)) => read_value(r, ty),
            None => Err(corrupt(&format!("unknown value tag {t}"))),
        },
    }
}

/// Reads one row [`encode_tagged`] wrote at `bytes[*at..]` into `out`
/// (cleared first) and moves `at` past it; XX001 if the bytes are not one.
pub fn decode_tagged(bytes: &[u8], at: &mut usize, out: &mut Vec<Value>) -> Result<()> {
    out.clear();
    let mut r = Reader { b: bytes, at: *at };
    let n = usize::try_from(r.varint()?).map_err(|_| corrupt("value count too large"))?;
    out.reserve(n.min(bytes.len() - r.at));
    for _ in 0..n {
        out.push(read_tagged(&mut r, 0)?);
    }
    *at = r.at;
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn tagged_rows_round_trip_without_a_schema() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int2(-2),
            Value::Int4(7),
            Value::Int8(i64::MIN),
            Value::Float4(-0.0),
            Value::Float8(f64::NAN),
            Value::Numeric(Numeric::parse("1.500").unwrap()),
            Value::Text("héllo".into()),
            Value::Bytea(vec![0, 255]),
            Value::Date(-3),
            Value::Time(5),
            Value::Timestamp(-6),
            Value::Timestamptz(7),
            Value::Uuid([9; 16]),
            Value::Json("{\"a\": 1}".into()),
            Value::Array(vec![Value::Int4(1), Value::Null, Value::Text("x".into())]),
        ];
        let mut out = Vec::new();
        encode_tagged(&mut out, &row);
        encode_tagged(&mut out, &[]);
        let mut at = 0;
        let mut back = Vec::new();
        decode_tagged(&out, &mut at, &mut back).unwrap();
        assert_eq!(format!("{back:?}"), format!("{row:?}"));
        decode_tagged(&out, &mut at, &mut back).unwrap();
        assert!(back.is_empty());
        assert_eq!(at, out.len());
        // Cut short or with an unknown tag: XX001, not a panic.
        for cut in 0..out.len() - 1 {
            let mut at = 0;
            let _ = decode_tagged(&out[..cut], &mut at, &mut back);
        }
        let mut at = 0;
        let e = decode_tagged(&[1, 99], &mut at, &mut back).unwrap_err();
        assert_eq!(e.sqlstate, SqlState::DATA_CORRUPTED);
    }
    use super::*;

    fn types() -> Vec<DataType> {
        vec![
            DataType::Bool,
            DataType::Int2,
            DataType::Int4,
            DataType::Int8,
            DataType::Float4,
            DataType::Float8,
            DataType::Numeric(Some((10, 3))),
            DataType::Text,
            DataType::Varchar(Some(4)),
            DataType::Char(Some(3)),
            DataType::Bytea,
        ]
    }

    fn sample() -> Vec<Value> {
        vec![
            Value::Bool(true),
            Value::Int2(-7),
            Value::Null,
            Value::Int8(i64::MIN),
            Value::Float4(-0.0),
            Value::Float8(f64::NAN),
            Value::Numeric(Numeric::parse("12.500").unwrap()),
            Value::Text("héllo\0x".into()),
            Value::Null,
            Value::Text("ab ".into()),
            Value::Bytea(vec![0, 255, 7]),
        ]
    }

    #[test]
    fn rows_round_trip_exactly_including_scale_nan_and_negative_zero() {
        let b = encode_row(3, &sample());
        let mut out = Vec::new();
        let h = decode_row(&b, &types(), None, &mut out).unwrap();
        assert_eq!(h.schema_version, 3);
        assert_eq!(h.columns, 11);
        assert_eq!(out[6].to_text(), "12.500");
        let Value::Float4(z) = out[4] else { panic!() };
        assert!(z.is_sign_negative());
        let Value::Float8(nan) = out[5] else { panic!() };
        assert!(nan.is_nan());
        for i in [0, 1, 2, 3, 7, 8, 9, 10] {
            assert_eq!(out[i], sample()[i], "column {i}");
        }
    }

    #[test]
    fn unneeded_columns_are_skipped_and_short_rows_padded() {
        let b = encode_row(1, &sample());
        let mut needed = vec![false; 11];
        needed[7] = true;
        let mut out = Vec::new();
        decode_row(&b, &types(), Some(&needed), &mut out).unwrap();
        assert_eq!(out, vec![Value::Text("héllo\0x".into())]);
        // Every other selection of columns reads what the full decode does.
        let mut all = Vec::new();
        decode_row(&b, &types(), None, &mut all).unwrap();
        for bits in [
            0b101_0101_0101u32,
            0b010_1010_1010,
            0b111_1111_1110,
            0b100_0000_0001,
        ] {
            let needed: Vec<bool> = (0..11).map(|i| bits & (1 << i) != 0).collect();
            decode_row(&b, &types(), Some(&needed), &mut out).unwrap();
            let expect: Vec<Value> = (0..11)
                .filter(|&i| needed[i])
                .map(|i| all[i].clone())
                .collect();
            // Debug, since NaN is not equal to itself.
            assert_eq!(format!("{out:?}"), format!("{expect:?}"), "{bits:b}");
        }
        // A row written before two columns were added.
        let short = encode_row(1, &[Value::Int4(5)]);
        decode_row(
            &short,
            &[DataType::Int4, DataType::Text, DataType::Bool],
            None,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, vec![Value::Int4(5), Value::Null, Value::Null]);
    }

    #[test]
    fn numerics_round_trip_in_binary_and_old_text_rows_still_read() {
        let values = [
            "0",
            "0.000",
            "-0.5",
            "1",
            "12345678901234567890.0123456789",
            "-99999.9999",
            "0.00000001",
            "1e100",
            "NaN",
            "Infinity",
            "-Infinity",
        ];
        let ty = [DataType::Numeric(None)];
        for v in values {
            let n = Numeric::parse(v).unwrap();
            let row = encode_row(1, &[Value::Numeric(n.clone())]);
            let mut out = Vec::new();
            decode_row(&row, &ty, None, &mut out).unwrap();
            assert_eq!(out, vec![Value::Numeric(n.clone())], "{v}");
            assert_eq!(out[0].to_text(), Value::Numeric(n.clone()).to_text());
            // The text form rows held before the binary one.
            let mut old = vec![ROW_FORMAT, 1, 1, 0];
            put_bytes(&mut old, n.to_string().as_bytes());
            decode_row(&old, &ty, None, &mut out).unwrap();
            assert_eq!(out, vec![Value::Numeric(n)], "{v} as text");
        }
        // Bad binary numerics are corrupt, not values.
        for bad in [
            &[1u8, 9, 0, 0, 0, 0][..],
            &[1, 0, 0, 0, 0, 0, 0x10, 0x27],
            &[1, 0, 0, 0, 0, 0, 0, 0],
            &[1, 2, 0, 0, 0, 0, 1, 0],
            &[1, 1, 0, 0, 0, 0],
        ] {
            let mut row = vec![ROW_FORMAT, 1, 1, 0];
            put_bytes(&mut row, bad);
            let mut out = Vec::new();
            let e = decode_row(&row, &ty, None, &mut out).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::DATA_CORRUPTED, "{bad:?}");
        }
    }

    #[test]
    fn truncated_or_garbled_rows_are_corrupt_not_panics() {
        let b = encode_row(1, &sample());
        let mut out = Vec::new();
        for cut in 0..b.len() {
            let e = decode_row(&b[..cut], &types(), None, &mut out).unwrap_err();
            assert_eq!(e.sqlstate, SqlState::DATA_CORRUPTED);
        }
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..2000 {
            let mut g = b.clone();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % g.len();
            g[i] = (seed >> 32) as u8;
            let _ = decode_row(&g, &types(), None, &mut out);
        }
    }
}
