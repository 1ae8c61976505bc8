//! Cell formats of B+-tree nodes and searches inside one node.
//!
//! Leaf cell (inline value):
//!
//! | offset  | size | field | meaning          |
//! |---------|------|-------|------------------|
//! | 0       | 2    | klen  | key length       |
//! | 2       | 2    | vlen  | value length     |
//! | 4       | klen | key   |                  |
//! | 4+klen  | vlen | value |                  |
//!
//! Leaf cell (overflow value), `vlen == 0xFFFF`:
//!
//! | offset  | size | field      | meaning                          |
//! |---------|------|------------|----------------------------------|
//! | 0       | 2    | klen       | key length                       |
//! | 2       | 2    | 0xFFFF     | marks an overflow value          |
//! | 4       | klen | key        |                                  |
//! | 4+klen  | 8    | total len  | value length in bytes            |
//! | 12+klen | 4    | first page | first page of the overflow chain |
//!
//! Interior cell: `klen u16, child u32, key`. An interior node with cells
//! `(k1,c1) … (kn,cn)` and leftmost child `c0` sends keys `< k1` to `c0` and
//! keys in `[ki, ki+1)` to `ci`. Child *index* `i` below means `c_i`.

use std::cmp::Ordering;

use crate::storage::page::{PageBuf, PageId, get_u16, get_u32, get_u64, node};

/// A leaf cell's value: inline bytes, or where the overflow chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafValue<'a> {
    Inline(&'a [u8]),
    Overflow { len: u64, first: PageId },
}

pub fn leaf_key(cell: &[u8]) -> &[u8] {
    let klen = get_u16(cell, 0) as usize;
    &cell[4..4 + klen]
}

pub fn leaf_value(cell: &[u8]) -> LeafValue<'_> {
    let klen = get_u16(cell, 0) as usize;
    let vlen = get_u16(cell, 2);
    if vlen == node::OVERFLOW_TAG {
        LeafValue::Overflow {
            len: get_u64(cell, 4 + klen),
            first: PageId(get_u32(cell, 12 + klen)),
        }
    } else {
        LeafValue::Inline(&cell[4 + klen..4 + klen + vlen as usize])
    }
}

pub fn interior_key(cell: &[u8]) -> &[u8] {
    let klen = get_u16(cell, 0) as usize;
    &cell[6..6 + klen]
}

pub fn interior_child(cell: &[u8]) -> PageId {
    PageId(get_u32(cell, 2))
}

pub fn leaf_cell(key: &[u8], value: &[u8], out: &mut Vec<u8>) {
    debug_assert!(value.len() < node::OVERFLOW_TAG as usize);
    out.clear();
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

pub fn overflow_cell(key: &[u8], len: u64, first: PageId, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&node::OVERFLOW_TAG.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&first.0.to_le_bytes());
}

pub fn interior_cell(key: &[u8], child: PageId) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + key.len());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(&child.0.to_le_bytes());
    out.extend_from_slice(key);
    out
}

/// The key of slot `i` of a node of either kind.
pub fn key_at(p: &PageBuf, i: usize) -> &[u8] {
    let c = node::cell(p, i);
    if node::is_leaf(p) {
        leaf_key(c)
    } else {
        interior_key(c)
    }
}

/// Binary search for `key` among the node's cells: `Ok(slot)` if present,
/// `Err(slot)` where it would be inserted.
pub fn search(p: &PageBuf, key: &[u8]) -> Result<usize, usize> {
    let (mut lo, mut hi) = (0usize, node::count(p));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match key_at(p, mid).cmp(key) {
            Ordering::Less => lo = mid + 1,
            Ordering::Greater => hi = mid,
            Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// First slot whose key is `>= key`.
pub fn lower_bound(p: &PageBuf, key: &[u8]) -> usize {
    match search(p, key) {
        Ok(i) | Err(i) => i,
    }
}

/// First slot whose key is `> key`.
pub fn upper_bound(p: &PageBuf, key: &[u8]) -> usize {
    match search(p, key) {
        Ok(i) => i + 1,
        Err(i) => i,
    }
}

/// Child index for `key` in an interior node (the child whose range holds
/// `key`).
pub fn child_index(p: &PageBuf, key: &[u8]) -> usize {
    upper_bound(p, key)
}

/// Child index whose range holds the keys just below `key` (for backward
/// seeks with an exclusive bound).
pub fn child_index_before(p: &PageBuf, key: &[u8]) -> usize {
    lower_bound(p, key)
}

/// The page of child index `i` (0 = leftmost).
pub fn child_at(p: &PageBuf, i: usize) -> PageId {
    if i == 0 {
        node::leftmost(p)
    } else {
        interior_child(node::cell(p, i - 1))
    }
}

/// The shortest key `s` with `left < s <= right` (both from adjacent
/// leaves, `left < right`): a prefix of `right`, one byte past the common
/// prefix. Short separators keep interior nodes wide.
pub fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    debug_assert!(left < right);
    let common = left
        .iter()
        .zip(right.iter())
        .take_while(|(a, b)| a == b)
        .count();
    let s = right[..(common + 1).min(right.len())].to_vec();
    debug_assert!(left < &s[..] && &s[..] <= right);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_is_short_and_between() {
        for (l, r, want) in [
            (&b"apple"[..], &b"banana"[..], &b"b"[..]),
            (b"abc", b"abd", b"abd"),
            (b"ab", b"abc", b"abc"),
            (b"", b"a", b"a"),
            (b"abcx", b"abd", b"abd"),
        ] {
            let s = shortest_separator(l, r);
            assert_eq!(s, want, "{l:?} {r:?}");
            assert!(l < &s[..] && &s[..] <= r);
        }
    }

    #[test]
    fn cells_decode_what_they_encode() {
        let mut c = Vec::new();
        leaf_cell(b"key", b"value", &mut c);
        assert_eq!(leaf_key(&c), b"key");
        assert_eq!(leaf_value(&c), LeafValue::Inline(b"value"));
        assert_eq!(node::cell_len(true, &c), Some(c.len()));
        overflow_cell(b"k", 1 << 26, PageId(9), &mut c);
        assert_eq!(
            leaf_value(&c),
            LeafValue::Overflow {
                len: 1 << 26,
                first: PageId(9)
            }
        );
        assert_eq!(node::cell_len(true, &c), Some(c.len()));
        let c = interior_cell(b"sep", PageId(4));
        assert_eq!(
            (interior_key(&c), interior_child(&c)),
            (&b"sep"[..], PageId(4))
        );
        assert_eq!(node::cell_len(false, &c), Some(c.len()));
    }
}
