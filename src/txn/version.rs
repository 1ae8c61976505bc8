//! How versions are stored in a tree: the key and value formats.
//!
//! Every write adds a version; the tree key is the user key, escaped so that
//! no encoded key is a prefix of another, followed by the version stamp
//! inverted so that the newest version of a key sorts first:
//!
//! ```text
//!  tree order (memcmp):
//!   "ab" 00 00 | !stamp 9   -> header{xid 7, cid 0, TOMBSTONE}        newest
//!   "ab" 00 00 | !stamp 5   -> header{xid 4, cid 2} row "v2"
//!   "ab" 00 00 | !stamp 3   -> header{xid 4, cid 0} row "v1"           oldest
//!   "abc" 00 00 | !stamp 8  -> header{xid 6, cid 0} row "w"
//! ```
//!
//! Key format:
//!
//! | offset | size | meaning |
//! |---|---|---|
//! | 0 | n' | user key with each `00` byte written as `00 FF` |
//! | n' | 2 | terminator `00 00` (sorts below any escaped byte) |
//! | n'+2 | 8 | `u64::MAX - stamp`, big-endian (newest first) |
//!
//! Value format:
//!
//! | offset | size | meaning |
//! |---|---|---|
//! | 0 | 1 | flags: bit 0 = tombstone (a delete); other bits zero |
//! | 1 | 8 | writer xid, big-endian |
//! | 9 | 4 | writer command id, big-endian |
//! | 13 | rest | the row bytes (empty for a tombstone) |
//!
//! Invariants:
//! - `encode_key` is strictly order-preserving on (user key ascending, stamp
//!   descending) and prefix-free across user keys, so one user key's versions
//!   are contiguous and a range of user keys is a range of tree keys.
//! - Stamps of one key are assigned under its exclusive row lock, so stamp
//!   order is the order in which the versions were written.
//! - Decoding never panics on foreign bytes: a malformed key or value is
//!   [`VersionFormatError`].

use super::snapshot::{CommandId, Writer, Xid};

/// Size of the version suffix after the terminator.
pub const STAMP_BYTES: usize = 8;
/// Size of the value header.
pub const VALUE_HEADER_BYTES: usize = 13;
const _: () = assert!(VALUE_HEADER_BYTES == 1 + 8 + 4);

const FLAG_TOMBSTONE: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_TOMBSTONE;

/// Bytes that are not a version key or value (corruption or a foreign tree).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionFormatError {
    #[error("version key is malformed: {0}")]
    Key(&'static str),
    #[error("version value is malformed: {0}")]
    Value(&'static str),
}

/// The escaped user key plus terminator: the common prefix of all versions
/// of `user_key`, and the lower bound of its key range.
pub fn encode_user_prefix(user_key: &[u8], out: &mut Vec<u8>) {
    for &b in user_key {
        if b == 0 {
            out.extend_from_slice(&[0x00, 0xFF]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[0x00, 0x00]);
}

/// The tree key of version `stamp` of `user_key`.
pub fn encode_key(user_key: &[u8], stamp: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + 2 + STAMP_BYTES + 2);
    encode_user_prefix(user_key, &mut out);
    out.extend_from_slice(&(u64::MAX - stamp).to_be_bytes());
    out
}

/// Splits a tree key into (user key, stamp).
pub fn decode_key(key: &[u8]) -> Result<(Vec<u8>, u64), VersionFormatError> {
    let mut user = Vec::with_capacity(key.len().saturating_sub(STAMP_BYTES + 2));
    let mut i = 0;
    loop {
        match key.get(i) {
            None => return Err(VersionFormatError::Key("missing terminator")),
            Some(0x00) => match key.get(i + 1) {
                Some(0x00) => {
                    i += 2;
                    break;
                }
                Some(0xFF) => {
                    user.push(0);
                    i += 2;
                }
                _ => return Err(VersionFormatError::Key("bad escape after 00")),
            },
            Some(&b) => {
                user.push(b);
                i += 1;
            }
        }
    }
    let suffix: [u8; STAMP_BYTES] = key
        .get(i..)
        .and_then(|s| s.try_into().ok())
        .ok_or(VersionFormatError::Key("stamp is not 8 bytes"))?;
    Ok((user, u64::MAX - u64::from_be_bytes(suffix)))
}

/// A tree key above every version of `user_key` and at or below every
/// version of any greater user key: the exclusive end of its versions.
pub fn versions_end(user_key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(user_key.len() + 2 + STAMP_BYTES + 1);
    encode_user_prefix(user_key, &mut out);
    out.extend_from_slice(&[0xFF; STAMP_BYTES]);
    out.push(0x00);
    out
}

/// A decoded version value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionValue<'a> {
    pub writer: Writer,
    /// `None` for a tombstone.
    pub row: Option<&'a [u8]>,
}

/// Encodes a version value: a row, or a tombstone if `row` is `None`.
pub fn encode_value(writer: Writer, row: Option<&[u8]>) -> Vec<u8> {
    assert!(writer.xid.is_normal() || writer.xid == Xid::FROZEN);
    let body = row.unwrap_or(&[]);
    let mut out = Vec::with_capacity(VALUE_HEADER_BYTES + body.len());
    out.push(if row.is_none() { FLAG_TOMBSTONE } else { 0 });
    out.extend_from_slice(&writer.xid.0.to_be_bytes());
    out.extend_from_slice(&writer.cid.to_be_bytes());
    out.extend_from_slice(body);
    debug_assert_eq!(decode_value(&out).ok().map(|v| v.writer), Some(writer));
    out
}

/// Decodes a version value.
pub fn decode_value(bytes: &[u8]) -> Result<VersionValue<'_>, VersionFormatError> {
    let header = bytes
        .get(..VALUE_HEADER_BYTES)
        .ok_or(VersionFormatError::Value("shorter than its header"))?;
    let flags = header[0];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(VersionFormatError::Value("unknown flag bits"));
    }
    let mut xid = [0u8; 8];
    xid.copy_from_slice(&header[1..9]);
    let mut cid = [0u8; 4];
    cid.copy_from_slice(&header[9..13]);
    let xid = Xid(u64::from_be_bytes(xid));
    if xid == Xid::INVALID {
        return Err(VersionFormatError::Value("writer xid is 0"));
    }
    let body = &bytes[VALUE_HEADER_BYTES..];
    let row = if flags & FLAG_TOMBSTONE != 0 {
        if !body.is_empty() {
            return Err(VersionFormatError::Value("tombstone with a body"));
        }
        None
    } else {
        Some(body)
    };
    Ok(VersionValue {
        writer: Writer {
            xid,
            cid: CommandId::from_be_bytes(cid),
        },
        row,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newest_version_of_a_key_sorts_first() {
        let old = encode_key(b"k", 3);
        let new = encode_key(b"k", 9);
        assert!(new < old);
    }

    #[test]
    fn a_key_and_its_extension_do_not_interleave() {
        // Without escaping, "a"'s versions could sort after "a\x00..." keys.
        let a_new = encode_key(b"a", u64::MAX);
        let a_old = encode_key(b"a", 0);
        let a0 = encode_key(b"a\x00", 5);
        let ab = encode_key(b"ab", 5);
        assert!(a_new < a_old && a_old < a0 && a0 < ab);
        assert!(a_old < versions_end(b"a") && versions_end(b"a") <= a0);
    }

    #[test]
    fn decode_rejects_malformed_keys_and_values() {
        assert!(decode_key(b"abc").is_err());
        assert!(decode_key(b"a\x00\x01xxxxxxxx").is_err());
        assert!(decode_key(b"a\x00\x00short").is_err());
        assert!(decode_value(&[0; 5]).is_err());
        assert!(decode_value(&[0x80; 13]).is_err());
        let mut tomb = encode_value(
            Writer {
                xid: Xid(5),
                cid: 0,
            },
            None,
        );
        tomb.push(1);
        assert!(decode_value(&tomb).is_err());
        assert!(decode_value(&[0; 13]).is_err(), "xid 0");
    }

    #[test]
    fn tombstones_and_rows_round_trip() {
        let w = Writer {
            xid: Xid(77),
            cid: 4,
        };
        let t = encode_value(w, None);
        assert_eq!(t.len(), VALUE_HEADER_BYTES);
        assert_eq!(
            decode_value(&t).unwrap(),
            VersionValue {
                writer: w,
                row: None
            }
        );
        let r = encode_value(w, Some(b"row"));
        assert_eq!(decode_value(&r).unwrap().row, Some(&b"row"[..]));
    }

    proptest! {
        #[test]
        fn key_encoding_preserves_order_and_round_trips(
            a in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFFu8), any::<u8>()], 0..8),
            b in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xFFu8), any::<u8>()], 0..8),
            sa in any::<u64>(),
            sb in any::<u64>(),
        ) {
            let ka = encode_key(&a, sa);
            let kb = encode_key(&b, sb);
            let want = a.cmp(&b).then(sb.cmp(&sa));
            prop_assert_eq!(ka.cmp(&kb), want);
            prop_assert_eq!(decode_key(&ka).unwrap(), (a.clone(), sa));
            let mut prefix = Vec::new();
            encode_user_prefix(&a, &mut prefix);
            prop_assert!(ka.starts_with(&prefix));
            prop_assert!(ka < versions_end(&a));
            if a < b {
                prop_assert!(versions_end(&a) <= kb);
            }
        }

        #[test]
        fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_key(&bytes);
            let _ = decode_value(&bytes);
        }
    }
}
