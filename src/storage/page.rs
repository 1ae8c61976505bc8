//! Pages: the 8 KiB unit of the data file, their common header, checksums,
//! and the slotted layout that tree nodes use.
//!
//! Every page starts with the same 24-byte header:
//!
//! | offset | size | field    | meaning                                              |
//! |--------|------|----------|------------------------------------------------------|
//! | 0      | 4    | crc32    | CRC-32 (crc32fast) of bytes 4..8192, set on write     |
//! | 4      | 4    | page id  | the page's own number: catches misdirected writes     |
//! | 8      | 8    | page LSN | LSN of the last logged change applied to the page     |
//! | 16     | 1    | type     | [`PageType`]                                          |
//! | 17     | 7    | reserved | zero                                                  |
//!
//! A node page (leaf or interior of a B+-tree) continues with a slotted layout:
//!
//! | offset | size | field         | meaning                                          |
//! |--------|------|---------------|--------------------------------------------------|
//! | 24     | 2    | cell count    | number of slots                                  |
//! | 26     | 2    | content start | lowest byte of the cell area (cells grow down)   |
//! | 28     | 2    | garbage       | bytes of dead cells inside the cell area         |
//! | 30     | 2    | level         | 0 for a leaf, height above the leaves otherwise  |
//! | 32     | 4    | prev          | left sibling leaf (0 = none); 0 on interiors     |
//! | 36     | 4    | next          | right sibling leaf (0 = none); 0 on interiors    |
//! | 40     | 4    | leftmost      | interior: child for keys below the first cell    |
//! | 44     | 4    | reserved      | zero                                             |
//! | 48     | 2·n  | slots         | u16 offset of each cell, in key order            |
//!
//! ```text
//!  0        24          48                 content start           8192
//!  | header | node hdr  | slot slot slot -> |  free  | <- cell cell cell |
//! ```
//!
//! Page 0 is never a node, so a link of 0 means "none". All integers are
//! little-endian. Cell contents are the B+-tree's business
//! (`btree::node`); this module only moves opaque cells around.
//!
//! Invariants (checked by [`validate`] on every read from disk):
//! - the checksum matches and the stored page id is the page's number;
//! - `48 + 2·count <= content start <= 8192`, every slot points inside the
//!   cell area and every cell's length (as the tree's cell format says) stays
//!   inside the page.

use std::fmt;

use crate::storage::Lsn;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 8192;
/// Bytes of the common header.
pub const HEADER_SIZE: usize = 24;
/// Offset of the first slot of a node page.
pub const NODE_SLOTS_OFFSET: usize = 48;

const _: () = assert!(PAGE_SIZE.is_power_of_two());
const _: () = assert!(HEADER_SIZE == 24 && NODE_SLOTS_OFFSET == HEADER_SIZE + 24);
const _: () = assert!(PAGE_SIZE <= u16::MAX as usize + 1);

/// A page's bytes.
pub type PageBuf = [u8; PAGE_SIZE];

/// A page number in the data file; byte offset is `id * PAGE_SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PageId(pub u32);

impl PageId {
    /// Page 0 is the meta page, so 0 doubles as "no page" in links.
    pub const NONE: PageId = PageId(0);
    pub const META: PageId = PageId(0);

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
    pub fn offset(self) -> u64 {
        u64::from(self.0) * PAGE_SIZE as u64
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PageType {
    /// Never formatted (all zeros).
    Zero = 0,
    Meta = 1,
    Free = 2,
    Leaf = 3,
    Interior = 4,
    Overflow = 5,
}

impl PageType {
    pub fn from_u8(b: u8) -> Option<PageType> {
        Some(match b {
            0 => PageType::Zero,
            1 => PageType::Meta,
            2 => PageType::Free,
            3 => PageType::Leaf,
            4 => PageType::Interior,
            5 => PageType::Overflow,
            _ => return None,
        })
    }
}

// ---- little-endian field access -------------------------------------------

#[inline]
pub fn get_u16(p: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([p[off], p[off + 1]])
}
#[inline]
pub fn put_u16(p: &mut [u8], off: usize, v: u16) {
    p[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
#[inline]
pub fn get_u32(p: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([p[off], p[off + 1], p[off + 2], p[off + 3]])
}
#[inline]
pub fn put_u32(p: &mut [u8], off: usize, v: u32) {
    p[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
#[inline]
pub fn get_u64(p: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[off..off + 8]);
    u64::from_le_bytes(b)
}
#[inline]
pub fn put_u64(p: &mut [u8], off: usize, v: u64) {
    p[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

// ---- the common header ----------------------------------------------------

const OFF_CRC: usize = 0;
const OFF_ID: usize = 4;
const OFF_LSN: usize = 8;
const OFF_TYPE: usize = 16;

pub fn page_lsn(p: &PageBuf) -> Lsn {
    Lsn(get_u64(p, OFF_LSN))
}
pub fn set_page_lsn(p: &mut PageBuf, lsn: Lsn) {
    put_u64(p, OFF_LSN, lsn.0)
}
pub fn page_type(p: &PageBuf) -> Option<PageType> {
    PageType::from_u8(p[OFF_TYPE])
}
pub fn stored_page_id(p: &PageBuf) -> PageId {
    PageId(get_u32(p, OFF_ID))
}

/// Clears a page and writes a fresh header (LSN kept by the caller).
pub fn format(p: &mut PageBuf, id: PageId, ty: PageType) {
    let lsn = page_lsn(p);
    p.fill(0);
    put_u32(p, OFF_ID, id.0);
    set_page_lsn(p, lsn);
    p[OFF_TYPE] = ty as u8;
}

/// The checksum of a page's contents (everything after the crc field).
pub fn checksum(p: &PageBuf) -> u32 {
    crc32fast::hash(&p[OFF_CRC + 4..])
}

/// Stamps the checksum into `p`, just before it is written out.
pub fn seal(p: &mut PageBuf) {
    let crc = checksum(p);
    put_u32(p, OFF_CRC, crc);
}

/// Checks a page read from disk: checksum, self id, type, and (for nodes)
/// the slotted structure. Returns a reason on failure.
pub fn validate(p: &PageBuf, id: PageId) -> Result<PageType, String> {
    let stored = get_u32(p, OFF_CRC);
    let actual = checksum(p);
    if stored != actual {
        return Err(format!(
            "page verification failed, calculated checksum {actual:08x} but expected {stored:08x}"
        ));
    }
    if stored_page_id(p) != id {
        return Err(format!(
            "page claims to be block {} (misdirected write)",
            stored_page_id(p)
        ));
    }
    let ty = page_type(p).ok_or_else(|| format!("unknown page type {}", p[OFF_TYPE]))?;
    match ty {
        PageType::Leaf | PageType::Interior => node::validate(p, ty)?,
        PageType::Overflow => {
            if overflow::used(p) > overflow::CAPACITY {
                return Err("overflow page length out of range".into());
            }
        }
        PageType::Zero | PageType::Meta | PageType::Free => {}
    }
    Ok(ty)
}

/// The slotted node layout: opaque cells addressed by slot number.
///
/// A cell's length is read from its own first bytes by [`cell_len`], which
/// knows the two cell formats of the B+-tree (leaf and interior), so that
/// this module can move and validate cells without interpreting them.
pub mod node {
    use super::*;

    pub const OFF_COUNT: usize = 24;
    pub const OFF_CONTENT: usize = 26;
    pub const OFF_GARBAGE: usize = 28;
    pub const OFF_LEVEL: usize = 30;
    pub const OFF_PREV: usize = 32;
    pub const OFF_NEXT: usize = 36;
    pub const OFF_LEFTMOST: usize = 40;

    /// Leaf cell: `klen u16, vlen u16, key, value`; `vlen == OVERFLOW_TAG`
    /// means the value lives in an overflow chain and the cell ends with
    /// `total_len u64, first_page u32` instead of the value.
    pub const OVERFLOW_TAG: u16 = u16::MAX;
    /// Bytes after the key of a leaf cell whose value overflows.
    pub const OVERFLOW_REF_BYTES: usize = 12;

    /// Length in bytes of the cell that starts at `cell` (which may run on
    /// past the cell), or `None` if the stated lengths do not fit in `cell`.
    pub fn cell_len(leaf: bool, cell: &[u8]) -> Option<usize> {
        if cell.len() < 4 {
            return None;
        }
        let klen = get_u16(cell, 0) as usize;
        let len = if leaf {
            let vlen = get_u16(cell, 2);
            if vlen == OVERFLOW_TAG {
                4 + klen + OVERFLOW_REF_BYTES
            } else {
                4 + klen + vlen as usize
            }
        } else {
            if cell.len() < 6 {
                return None;
            }
            6 + klen
        };
        (len <= cell.len()).then_some(len)
    }

    pub fn count(p: &PageBuf) -> usize {
        get_u16(p, OFF_COUNT) as usize
    }
    pub fn level(p: &PageBuf) -> u16 {
        get_u16(p, OFF_LEVEL)
    }
    pub fn is_leaf(p: &PageBuf) -> bool {
        level(p) == 0
    }
    pub fn prev(p: &PageBuf) -> PageId {
        PageId(get_u32(p, OFF_PREV))
    }
    pub fn next(p: &PageBuf) -> PageId {
        PageId(get_u32(p, OFF_NEXT))
    }
    pub fn leftmost(p: &PageBuf) -> PageId {
        PageId(get_u32(p, OFF_LEFTMOST))
    }
    fn content_start(p: &PageBuf) -> usize {
        get_u16_wide(p, OFF_CONTENT)
    }
    fn garbage(p: &PageBuf) -> usize {
        get_u16(p, OFF_GARBAGE) as usize
    }
    /// Content start is stored as u16; 0 stands for PAGE_SIZE (8192 does not fit).
    fn get_u16_wide(p: &PageBuf, off: usize) -> usize {
        match get_u16(p, off) {
            0 => PAGE_SIZE,
            v => v as usize,
        }
    }
    fn set_content_start(p: &mut PageBuf, v: usize) {
        debug_assert!(v <= PAGE_SIZE);
        put_u16(p, OFF_CONTENT, if v == PAGE_SIZE { 0 } else { v as u16 });
    }
    fn slot(p: &PageBuf, i: usize) -> usize {
        get_u16(p, NODE_SLOTS_OFFSET + 2 * i) as usize
    }

    /// The bytes of cell `i`.
    pub fn cell(p: &PageBuf, i: usize) -> &[u8] {
        debug_assert!(i < count(p));
        let off = slot(p, i);
        let len = cell_len(is_leaf(p), &p[off..]).unwrap_or(0);
        &p[off..off + len]
    }

    /// Bytes free between the slot array and the cell area.
    pub fn contiguous_free(p: &PageBuf) -> usize {
        content_start(p) - (NODE_SLOTS_OFFSET + 2 * count(p))
    }
    /// Bytes free if the page were compacted.
    pub fn total_free(p: &PageBuf) -> usize {
        contiguous_free(p) + garbage(p)
    }
    /// Bytes used by slots and live cells.
    pub fn used(p: &PageBuf) -> usize {
        PAGE_SIZE - NODE_SLOTS_OFFSET - total_free(p)
    }
    /// Room a node page offers to cells and slots when empty.
    pub const CAPACITY: usize = PAGE_SIZE - NODE_SLOTS_OFFSET;

    /// Whether a cell of `len` bytes (plus its slot) fits.
    pub fn fits(p: &PageBuf, len: usize) -> bool {
        total_free(p) >= len + 2
    }

    /// Formats `p` as an empty node (header already formatted by the caller).
    pub fn init(p: &mut PageBuf, level: u16, prev: PageId, next: PageId, leftmost: PageId) {
        put_u16(p, OFF_COUNT, 0);
        set_content_start(p, PAGE_SIZE);
        put_u16(p, OFF_GARBAGE, 0);
        put_u16(p, OFF_LEVEL, level);
        put_u32(p, OFF_PREV, prev.0);
        put_u32(p, OFF_NEXT, next.0);
        put_u32(p, OFF_LEFTMOST, leftmost.0);
    }

    pub fn set_prev(p: &mut PageBuf, v: PageId) {
        put_u32(p, OFF_PREV, v.0)
    }
    pub fn set_next(p: &mut PageBuf, v: PageId) {
        put_u32(p, OFF_NEXT, v.0)
    }
    pub fn set_leftmost(p: &mut PageBuf, v: PageId) {
        put_u32(p, OFF_LEFTMOST, v.0)
    }

    /// Rewrites the cell area without holes.
    pub fn compact(p: &mut PageBuf) {
        let n = count(p);
        let leaf = is_leaf(p);
        let mut tmp = [0u8; PAGE_SIZE];
        let mut end = PAGE_SIZE;
        for i in 0..n {
            let off = slot(p, i);
            let len = cell_len(leaf, &p[off..]).unwrap_or(0);
            end -= len;
            tmp[end..end + len].copy_from_slice(&p[off..off + len]);
            put_u16(p, NODE_SLOTS_OFFSET + 2 * i, end as u16);
        }
        p[end..].copy_from_slice(&tmp[end..]);
        set_content_start(p, end);
        put_u16(p, OFF_GARBAGE, 0);
    }

    /// Inserts `cell` at slot `i`, shifting later slots right.
    pub fn insert(p: &mut PageBuf, i: usize, cell: &[u8]) {
        let n = count(p);
        assert!(i <= n, "insert slot {i} beyond count {n}");
        assert!(
            fits(p, cell.len()),
            "cell of {} bytes does not fit",
            cell.len()
        );
        if contiguous_free(p) < cell.len() + 2 {
            compact(p);
        }
        let start = content_start(p) - cell.len();
        p[start..start + cell.len()].copy_from_slice(cell);
        set_content_start(p, start);
        let slots = NODE_SLOTS_OFFSET;
        p.copy_within(slots + 2 * i..slots + 2 * n, slots + 2 * i + 2);
        put_u16(p, slots + 2 * i, start as u16);
        put_u16(p, OFF_COUNT, (n + 1) as u16);
    }

    /// Removes slot `i`; its bytes become garbage.
    pub fn remove(p: &mut PageBuf, i: usize) {
        let n = count(p);
        assert!(i < n, "remove slot {i} beyond count {n}");
        let len = cell(p, i).len();
        let off = slot(p, i);
        let slots = NODE_SLOTS_OFFSET;
        p.copy_within(slots + 2 * i + 2..slots + 2 * n, slots + 2 * i);
        put_u16(p, OFF_COUNT, (n - 1) as u16);
        if off == content_start(p) {
            set_content_start(p, off + len);
        } else {
            let g = garbage(p) + len;
            put_u16(p, OFF_GARBAGE, g as u16);
        }
    }

    /// Checks the slotted structure of a page read from disk.
    pub fn validate(p: &PageBuf, ty: PageType) -> Result<(), String> {
        let n = count(p);
        let cs = content_start(p);
        let leaf = level(p) == 0;
        if leaf != (ty == PageType::Leaf) {
            return Err("node level does not match page type".into());
        }
        if NODE_SLOTS_OFFSET + 2 * n > cs {
            return Err(format!(
                "slot array of {n} slots overlaps cell area at {cs}"
            ));
        }
        let mut live = 0usize;
        for i in 0..n {
            let off = slot(p, i);
            if off < cs || off >= PAGE_SIZE {
                return Err(format!("slot {i} points outside the cell area ({off})"));
            }
            let len = cell_len(leaf, &p[off..])
                .ok_or_else(|| format!("cell {i} runs past the end of the page"))?;
            live += len;
        }
        if live + garbage(p) != PAGE_SIZE - cs {
            return Err("cell area accounting does not add up".into());
        }
        Ok(())
    }
}

/// Overflow pages: a chain holding one large value.
///
/// | offset | size | field | meaning                          |
/// |--------|------|-------|----------------------------------|
/// | 24     | 4    | next  | next page of the chain (0 = end) |
/// | 28     | 4    | used  | bytes of data on this page       |
/// | 32     | ...  | data  | up to `CAPACITY` bytes           |
pub mod overflow {
    use super::*;

    const OFF_NEXT: usize = 24;
    const OFF_USED: usize = 28;
    const OFF_DATA: usize = 32;
    /// Data bytes per overflow page.
    pub const CAPACITY: usize = PAGE_SIZE - OFF_DATA;

    pub fn next(p: &PageBuf) -> PageId {
        PageId(get_u32(p, OFF_NEXT))
    }
    pub fn used(p: &PageBuf) -> usize {
        get_u32(p, OFF_USED) as usize
    }
    pub fn data(p: &PageBuf) -> &[u8] {
        &p[OFF_DATA..OFF_DATA + used(p).min(CAPACITY)]
    }
    pub fn init(p: &mut PageBuf, next: PageId, data: &[u8]) {
        assert!(data.len() <= CAPACITY);
        put_u32(p, OFF_NEXT, next.0);
        put_u32(p, OFF_USED, data.len() as u32);
        p[OFF_DATA..OFF_DATA + data.len()].copy_from_slice(data);
    }
}

/// Free pages: a singly linked list whose head is in the meta page.
///
/// | offset | size | field | meaning                         |
/// |--------|------|-------|---------------------------------|
/// | 24     | 4    | next  | next free page (0 = end of list) |
pub mod free {
    use super::*;

    const OFF_NEXT: usize = 24;

    pub fn next(p: &PageBuf) -> PageId {
        PageId(get_u32(p, OFF_NEXT))
    }
    pub fn init(p: &mut PageBuf, next: PageId) {
        put_u32(p, OFF_NEXT, next.0);
    }
}

/// The meta page (page 0).
///
/// | offset | size | field           | meaning                                   |
/// |--------|------|-----------------|-------------------------------------------|
/// | 24     | 8    | magic           | `b"ARBORDB\0"`                            |
/// | 32     | 4    | format version  | [`FORMAT_VERSION`](meta::FORMAT_VERSION)  |
/// | 36     | 4    | page size       | 8192                                      |
/// | 40     | 4    | page count      | pages in the file, meta page included     |
/// | 44     | 4    | free head       | first free page (0 = none)                |
/// | 48     | 4    | free count      | pages on the free list                    |
/// | 52     | 4    | directory root  | root page of the tree directory           |
/// | 56     | 8    | next tree id    | id the next created tree gets             |
/// | 64     | 8    | checkpoint LSN  | last checkpoint (the log's business)      |
pub mod meta {
    use super::*;

    pub const MAGIC: &[u8; 8] = b"ARBORDB\0";
    pub const FORMAT_VERSION: u32 = 1;

    const OFF_MAGIC: usize = 24;
    const OFF_VERSION: usize = 32;
    const OFF_PAGE_SIZE: usize = 36;
    const OFF_PAGE_COUNT: usize = 40;
    const OFF_FREE_HEAD: usize = 44;
    const OFF_FREE_COUNT: usize = 48;
    const OFF_DIR_ROOT: usize = 52;
    const OFF_NEXT_TREE: usize = 56;
    const OFF_CHECKPOINT: usize = 64;

    /// The mutable fields of the meta page, as one value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Meta {
        pub page_count: u32,
        pub free_head: PageId,
        pub free_count: u32,
        pub directory_root: PageId,
        pub next_tree_id: u64,
        pub checkpoint_lsn: Lsn,
    }

    pub fn read(p: &PageBuf) -> Result<Meta, String> {
        if &p[OFF_MAGIC..OFF_MAGIC + 8] != MAGIC {
            return Err("not an arbordb data file (bad magic)".into());
        }
        let v = get_u32(p, OFF_VERSION);
        if v != FORMAT_VERSION {
            return Err(format!("format version {v}, expected {FORMAT_VERSION}"));
        }
        let ps = get_u32(p, OFF_PAGE_SIZE);
        if ps as usize != PAGE_SIZE {
            return Err(format!("page size {ps}, expected {PAGE_SIZE}"));
        }
        Ok(Meta {
            page_count: get_u32(p, OFF_PAGE_COUNT),
            free_head: PageId(get_u32(p, OFF_FREE_HEAD)),
            free_count: get_u32(p, OFF_FREE_COUNT),
            directory_root: PageId(get_u32(p, OFF_DIR_ROOT)),
            next_tree_id: get_u64(p, OFF_NEXT_TREE),
            checkpoint_lsn: Lsn(get_u64(p, OFF_CHECKPOINT)),
        })
    }

    pub fn write(p: &mut PageBuf, m: &Meta) {
        p[OFF_MAGIC..OFF_MAGIC + 8].copy_from_slice(MAGIC);
        put_u32(p, OFF_VERSION, FORMAT_VERSION);
        put_u32(p, OFF_PAGE_SIZE, PAGE_SIZE as u32);
        put_u32(p, OFF_PAGE_COUNT, m.page_count);
        put_u32(p, OFF_FREE_HEAD, m.free_head.0);
        put_u32(p, OFF_FREE_COUNT, m.free_count);
        put_u32(p, OFF_DIR_ROOT, m.directory_root.0);
        put_u64(p, OFF_NEXT_TREE, m.next_tree_id);
        put_u64(p, OFF_CHECKPOINT, m.checkpoint_lsn.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_cell(k: &[u8], v: &[u8]) -> Vec<u8> {
        let mut c = Vec::new();
        c.extend_from_slice(&(k.len() as u16).to_le_bytes());
        c.extend_from_slice(&(v.len() as u16).to_le_bytes());
        c.extend_from_slice(k);
        c.extend_from_slice(v);
        c
    }

    fn new_leaf() -> Box<PageBuf> {
        let mut p = Box::new([0u8; PAGE_SIZE]);
        format(&mut p, PageId(3), PageType::Leaf);
        node::init(&mut p, 0, PageId::NONE, PageId::NONE, PageId::NONE);
        p
    }

    #[test]
    fn sealed_page_validates_and_any_flipped_byte_is_caught() {
        let mut p = new_leaf();
        node::insert(&mut p, 0, &leaf_cell(b"k", b"v"));
        seal(&mut p);
        assert_eq!(validate(&p, PageId(3)), Ok(PageType::Leaf));
        for off in [0usize, 5, 17, 100, PAGE_SIZE - 1] {
            let mut q = p.clone();
            q[off] ^= 0x40;
            assert!(validate(&q, PageId(3)).is_err(), "flip at {off} not caught");
        }
        assert!(
            validate(&p, PageId(4)).is_err(),
            "misdirected page not caught"
        );
    }

    #[test]
    fn slotted_insert_remove_compact_keep_cells_in_slot_order() {
        let mut p = new_leaf();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut i = 0u32;
        // fill, removing every third cell, so compaction must happen
        loop {
            let c = leaf_cell(&i.to_be_bytes(), &vec![i as u8; (i % 50) as usize]);
            if !node::fits(&p, c.len()) {
                break;
            }
            let at = (i as usize * 7) % (model.len() + 1);
            node::insert(&mut p, at, &c);
            model.insert(at, c);
            if i % 3 == 2 {
                let at = (i as usize) % model.len();
                node::remove(&mut p, at);
                model.remove(at);
            }
            i += 1;
        }
        assert!(i > 100);
        assert_eq!(node::count(&p), model.len());
        for (j, c) in model.iter().enumerate() {
            assert_eq!(node::cell(&p, j), &c[..]);
        }
        seal(&mut p);
        assert!(validate(&p, PageId(3)).is_ok());
        node::compact(&mut p);
        assert_eq!(node::contiguous_free(&p), node::total_free(&p));
        for (j, c) in model.iter().enumerate() {
            assert_eq!(node::cell(&p, j), &c[..]);
        }
    }

    #[test]
    fn slot_pointing_outside_page_is_a_validation_error_not_a_panic() {
        let mut p = new_leaf();
        node::insert(&mut p, 0, &leaf_cell(b"abc", b"def"));
        // claim the cell's key is huge
        let off = get_u16(&p[..], NODE_SLOTS_OFFSET) as usize;
        put_u16(&mut p[..], off, 60000);
        seal(&mut p);
        assert!(validate(&p, PageId(3)).is_err());
    }

    #[test]
    fn meta_roundtrips_and_rejects_bad_magic() {
        let mut p = Box::new([0u8; PAGE_SIZE]);
        format(&mut p, PageId::META, PageType::Meta);
        let m = meta::Meta {
            page_count: 9,
            free_head: PageId(4),
            free_count: 2,
            directory_root: PageId(1),
            next_tree_id: 77,
            checkpoint_lsn: Lsn(5),
        };
        meta::write(&mut p, &m);
        assert_eq!(meta::read(&p), Ok(m));
        p[24] = b'X';
        assert!(meta::read(&p).is_err());
    }
}
