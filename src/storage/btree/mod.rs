//! B+-trees over byte keys (memcmp order) and byte values, on pages.
//!
//! Background: Bayer & McCreight's B-tree with all records in the leaves
//! (B+-tree), leaves linked to their siblings, interior separators shortened
//! to the shortest byte string that separates two leaves (Bayer & Unterauer's
//! prefix B-trees, suffix truncation only). Concurrency follows latch
//! coupling with an optimistic first descent (Bayer & Schkolnick 1977; the
//! variants are surveyed in Graefe, "A Survey of B-tree Locking Techniques",
//! TODS 2010). We differ from Lehman & Yao's B-link tree in that a reader never
//! has to move right: a split holds the parent's exclusive latch, so a reader
//! coupling down from the parent sees the tree before or after the split,
//! never during.
//!
//! ```text
//!                     root (fixed page, the tree's identity)
//!                  [ c0 | k1 c1 | k2 c2 ]          interior: keys < k1 -> c0,
//!                  /        |         \                       [k1,k2) -> c1, >= k2 -> c2
//!        [a b c] <-> [k1 .. ] <-> [k2 .. z]        leaves: slotted, linked both ways
//!           |
//!        overflow chain for a large value
//! ```
//!
//! # Operations
//! - `get`: shared latches coupled root to leaf.
//! - `insert` / `delete`, optimistic: shared coupling down to the leaf's
//!   parent, exclusive latch on the leaf; if the change fits without a split
//!   (insert) or keeps the leaf at least a quarter full (delete), done.
//! - otherwise pessimistic: exclusive coupling from the root, releasing every
//!   ancestor whenever the newly latched node is *safe* (an insert into it
//!   cannot split it; a delete from it cannot make it underflow). Splits and
//!   merges then run bottom-up inside the latched path.
//! - The root page never moves: a root split moves the root's cells into two
//!   new children; a root interior left with one child absorbs it.
//! - Merges and borrowing: a node under a quarter full merges with its
//!   right sibling (or its left one, if it is the last child) when both fit
//!   in one page; when they do not, the pair shares out its cells about
//!   evenly (redistribution) and the separator between them in the parent is
//!   replaced — for leaves by a new shortest separator, for interior nodes by
//!   rotating through the parent (the old separator comes down, the new one
//!   goes up). A borrow that would need a longer separator than the parent
//!   has room for is skipped (the tree stays correct, only less full). An
//!   emptied page always merges away (unless it is its parent's only child)
//!   and returns to the free list. Every merge and borrow is part of the
//!   delete's one structure change (`structure_change`): the log redoes it
//!   all or nothing.
//! - `insert_if_range_empty` (the first version of a row): the optimistic
//!   descent to the leaf holding `lo`, with the path's upper fence; under
//!   the leaf's exclusive latch, if `[lo, hi)` is empty there and the fence
//!   (or a key `>= hi` in the leaf) shows the range cannot continue in the
//!   next leaf, and the cell fits, the caller's `before` (its undo record)
//!   runs and the cell goes in. Otherwise it declines, having changed
//!   nothing: one descent instead of a read and an insert.
//! - `get` / `get_with` and cursor seeks: shared latches only, the root
//!   through a frame hint (no page-table mutex while the root stays in its
//!   frame); `get_with` lends the value (no allocation for an inline value);
//!   `visit_leaf_range` lends every entry of a short range (the versions
//!   of one key) from the one leaf holding it, or declines.
//! - Cursors (`cursor.rs`) copy one leaf at a time and hold no latch between
//!   calls; they step to the next leaf through the sibling link when the
//!   copied leaf is unchanged, else re-descend from the root.
//!
//! # Latch order (why there is no deadlock)
//! Latches are taken top-down (parent before child), and within one level left
//! to right (a split latches its old right neighbour; a merge latches the left
//! node first, releasing and re-latching the current node if its partner is on
//! its left). Then overflow pages (after the leaf that owns them), then the
//! meta page (allocation and freeing), then a free page being allocated. Every
//! thread acquires in this order, so no cycle of waits can form. Cursors hold
//! at most one leaf at a time and no latch between calls.
//!
//! # Invariants
//! - keys within a node strictly increase (memcmp);
//! - every key under child `i` of an interior node lies in `[k_i, k_{i+1})`;
//! - all leaves are at level 0 and a child is one level below its parent;
//! - the leaves, left to right, form a doubly linked list with `prev` of the
//!   first and `next` of the last equal to 0;
//! - a cell is at most [`MAX_CELL_BYTES`], so a split always yields two halves
//!   that fit;
//! - a page belongs to exactly one tree or to the free list.
//!
//! # Open problems
//! - Splits do not push cells into a sibling first (SQLite's three-way
//!   balance), so a randomly loaded tree's leaves are about 70% full.
//! - Prefix compression inside leaves.

pub mod cursor;
pub mod node;
pub mod overflow;

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use crate::storage::buffer::{PageRead, PageWrite};
use crate::storage::error::{StorageError, StorageResult};
use crate::storage::op::PageOp;
use crate::storage::page::{self, PageBuf, PageId, PageType, node as slotted};
use crate::storage::pager::{Pager, SmoCounters};
pub use cursor::Cursor;
use node::LeafValue;

/// Longest key, in bytes (longer is an error, SQLSTATE 54000).
pub const MAX_KEY_BYTES: usize = 2048;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1 << 30;
/// Largest cell (with its slot, a third of a node's room): a leaf cell
/// bigger than this keeps its value in an overflow chain.
pub const MAX_CELL_BYTES: usize = slotted::CAPACITY / 3 - 2;
/// A node using fewer bytes than this after a delete tries to merge.
pub const MIN_FILL_BYTES: usize = slotted::CAPACITY / 4;
/// Largest interior cell (a separator of maximal length).
const MAX_INTERIOR_CELL: usize = 6 + MAX_KEY_BYTES;

const _: () = assert!(4 + MAX_KEY_BYTES + slotted::OVERFLOW_REF_BYTES <= MAX_CELL_BYTES);
const _: () = assert!(MAX_INTERIOR_CELL <= MAX_CELL_BYTES);

/// A tree's identity: its entry in the tree directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeId(pub u64);

/// A B+-tree: an ordered map from byte keys to byte values. Cheap to clone;
/// many threads may use one tree at once.
#[derive(Clone)]
pub struct Tree {
    pager: Arc<Pager>,
    id: TreeId,
    root: PageId,
    /// The buffer frame the root was last found in (a hint shared by the
    /// clones of this handle): descents latch the root without the
    /// page-table mutex while it stays there.
    root_frame: Arc<AtomicU32>,
}

/// A latched node on the pessimistic path, with the child index taken.
struct Step<'a> {
    g: PageWrite<'a>,
    child: usize,
}

impl Tree {
    pub(crate) fn new(pager: Arc<Pager>, id: TreeId, root: PageId) -> Tree {
        Tree {
            pager,
            id,
            root,
            root_frame: Arc::new(AtomicU32::new(u32::MAX)),
        }
    }

    pub fn id(&self) -> TreeId {
        self.id
    }
    pub fn root(&self) -> PageId {
        self.root
    }
    /// The pages the tree occupies now (nodes and overflow pages), by a
    /// walk from the root ([`crate::storage::check::tree_pages`]).
    pub fn page_count(&self) -> StorageResult<u64> {
        crate::storage::check::tree_pages(&self.pager, self.root)
    }
    pub(crate) fn pager(&self) -> &Pager {
        &self.pager
    }

    /// Formats `root` (already allocated, latched by the caller) as an empty leaf.
    pub(crate) fn format_root(g: &mut PageWrite<'_>) -> StorageResult<()> {
        g.apply(&PageOp::FormatNode {
            level: 0,
            prev: PageId::NONE,
            next: PageId::NONE,
            leftmost: PageId::NONE,
            cells: Vec::new(),
        })
    }

    fn corrupt(&self, page: PageId, reason: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            file: self.pager.pool().file_name().to_string(),
            page,
            reason: reason.into(),
        }
    }

    /// Checks that a latched page is a node at `level` (or any level if
    /// `None`): a parent's pointer is trusted only this far.
    fn expect_node(&self, p: &PageBuf, id: PageId, level: Option<u16>) -> StorageResult<()> {
        let ty = page::page_type(p);
        if ty != Some(PageType::Leaf) && ty != Some(PageType::Interior) {
            return Err(self.corrupt(id, format!("expected a tree node, found {ty:?}")));
        }
        if let Some(l) = level
            && slotted::level(p) != l
        {
            return Err(self.corrupt(
                id,
                format!("node at level {} where {l} expected", slotted::level(p)),
            ));
        }
        Ok(())
    }

    fn read_node(&self, id: PageId, level: Option<u16>) -> StorageResult<PageRead<'_>> {
        let g = self.pager.pool().read(id)?;
        self.expect_node(&g, id, level)?;
        Ok(g)
    }

    fn write_node(&self, id: PageId, level: Option<u16>) -> StorageResult<PageWrite<'_>> {
        let g = self.pager.pool().write(id)?;
        self.expect_node(&g, id, level)?;
        Ok(g)
    }

    /// The root, latched shared (through the frame hint).
    pub(crate) fn read_root(&self) -> StorageResult<PageRead<'_>> {
        let g = self.pager.pool().read_hinted(self.root, &self.root_frame)?;
        self.expect_node(&g, self.root, None)?;
        Ok(g)
    }

    /// Shared-latched leaf whose range holds `key` (coupled from the root).
    fn leaf_for_read(&self, key: &[u8]) -> StorageResult<PageRead<'_>> {
        let mut g = self.read_root()?;
        while !slotted::is_leaf(&g) {
            let level = slotted::level(&g);
            let child = node::child_at(&g, node::child_index(&g, key));
            let c = self.read_node(child, Some(level - 1))?;
            g = c;
        }
        Ok(g)
    }

    /// Exclusive-latched leaf whose range holds `key`, reached with shared
    /// latches above it (the optimistic descent).
    fn leaf_for_write(&self, key: &[u8]) -> StorageResult<PageWrite<'_>> {
        self.leaf_for_write_fenced(key, key).map(|(w, _)| w)
    }

    /// As [`Tree::leaf_for_write`], and whether `hi` is at most the leaf's
    /// upper fence (the tightest separator above the path taken; true when
    /// the path took the last child at every level), so that every key
    /// `>= hi` lies in a later leaf. The fence is read under the latch
    /// coupling of the descent, and the leaf's key range changes only by a
    /// split, merge or borrow that latches the leaf: it stays true while
    /// the caller holds the returned latch.
    fn leaf_for_write_fenced(&self, key: &[u8], hi: &[u8]) -> StorageResult<(PageWrite<'_>, bool)> {
        loop {
            let mut g = self.read_root()?;
            if slotted::is_leaf(&g) {
                drop(g);
                let w = self.write_node(self.root, None)?;
                if slotted::is_leaf(&w) {
                    return Ok((w, true));
                }
                continue; // the root split meanwhile
            }
            let mut below_fence: Option<bool> = None;
            loop {
                let level = slotted::level(&g);
                let idx = node::child_index(&g, key);
                if idx < slotted::count(&g) {
                    below_fence = Some(hi <= node::key_at(&g, idx));
                }
                let child = node::child_at(&g, idx);
                if level == 1 {
                    let w = self.write_node(child, Some(0))?;
                    return Ok((w, below_fence.unwrap_or(true)));
                }
                let c = self.read_node(child, Some(level - 1))?;
                g = c;
            }
        }
    }

    /// Exclusive coupling from the root down to the leaf for `key`, keeping
    /// only the ancestors that `safe` says may change. Returns the path
    /// (ancestors, top first) and the leaf.
    fn path_for_write(
        &self,
        key: &[u8],
        safe: impl Fn(&PageBuf, bool) -> bool,
    ) -> StorageResult<(Vec<Step<'_>>, PageWrite<'_>)> {
        let mut path: Vec<Step<'_>> = Vec::new();
        let mut g = self.write_node(self.root, None)?;
        loop {
            if safe(&g, g.id() == self.root) {
                path.clear();
            }
            if slotted::is_leaf(&g) {
                return Ok((path, g));
            }
            let level = slotted::level(&g);
            let idx = node::child_index(&g, key);
            let c = self.write_node(node::child_at(&g, idx), Some(level - 1))?;
            path.push(Step { g, child: idx });
            g = c;
        }
    }

    /// Reads a leaf cell's value.
    fn value_of(&self, cell: &[u8]) -> StorageResult<Vec<u8>> {
        match node::leaf_value(cell) {
            LeafValue::Inline(v) => Ok(v.to_vec()),
            LeafValue::Overflow { len, first } => overflow::read(&self.pager, first, len),
        }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        let g = self.leaf_for_read(key)?;
        match node::search(&g, key) {
            Ok(i) => Ok(Some(self.value_of(slotted::cell(&g, i))?)),
            Err(_) => Ok(None),
        }
    }

    /// Calls `f` with the value stored under `key` (or `None`), borrowed
    /// from the latched leaf: a point lookup that allocates nothing for an
    /// inline value (an overflow value is read into one buffer). `f` runs
    /// under the leaf's shared latch, so it must not use this tree.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> StorageResult<R> {
        let g = self.leaf_for_read(key)?;
        let Ok(i) = node::search(&g, key) else {
            return Ok(f(None));
        };
        match node::leaf_value(slotted::cell(&g, i)) {
            LeafValue::Inline(v) => Ok(f(Some(v))),
            LeafValue::Overflow { len, first } => {
                let v = overflow::read(&self.pager, first, len)?;
                Ok(f(Some(&v)))
            }
        }
    }

    /// Calls `f` with each entry of `[lo, hi)` in key order, borrowed from
    /// the latched leaf holding `lo`, if that leaf holds the whole range;
    /// otherwise calls nothing and returns false (scan with a cursor). A
    /// short range such as the versions of one key costs one descent, with
    /// no leaf copy and no cursor (an overflow value is read into one
    /// buffer). `f` runs under the leaf's shared latch, so it must not use
    /// this tree.
    ///
    /// The leaf holds the whole range when a key `>= hi` follows the
    /// range in it, or when `hi` is at most the leaf's upper fence (the
    /// separator bounding the path taken, so every key `>= hi` is in a
    /// later leaf), or when it is the last leaf. The leaf stays latched
    /// from the descent to the last call, so no split moves keys out of it
    /// meanwhile.
    pub fn visit_leaf_range(
        &self,
        lo: &[u8],
        hi: &[u8],
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> StorageResult<bool> {
        let mut g = self.read_root()?;
        // Whether `hi` is at most the tightest separator above the path
        // (`None`: the path took the last child at every level).
        let mut below_fence: Option<bool> = None;
        while !slotted::is_leaf(&g) {
            let idx = node::child_index(&g, lo);
            if idx < slotted::count(&g) {
                below_fence = Some(hi <= node::key_at(&g, idx));
            }
            let level = slotted::level(&g);
            let c = self.read_node(node::child_at(&g, idx), Some(level - 1))?;
            g = c;
        }
        let start = node::lower_bound(&g, lo);
        let end = node::lower_bound(&g, hi).max(start);
        let whole = end < slotted::count(&g) || below_fence.unwrap_or(true);
        if !whole {
            return Ok(false);
        }
        for i in start..end {
            let cell = slotted::cell(&g, i);
            let key = node::leaf_key(cell);
            match node::leaf_value(cell) {
                LeafValue::Inline(v) => f(key, v),
                LeafValue::Overflow { len, first } => {
                    let v = overflow::read(&self.pager, first, len)?;
                    f(key, &v);
                }
            }
        }
        Ok(true)
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> StorageResult<bool> {
        let g = self.leaf_for_read(key)?;
        Ok(node::search(&g, key).is_ok())
    }

    /// Runs one tree operation as one structure change for the log: every
    /// page change it makes (leaf change, splits, merges, overflow pages) is
    /// redone all together or not at all, whoever calls the tree (the MVCC
    /// layer writes versions straight into trees). Brackets nest: an outer
    /// caller's bracket (`DurableEngine`) makes the whole outer action atomic.
    fn structure_change<T>(&self, f: impl FnOnce() -> StorageResult<T>) -> StorageResult<T> {
        let log = self.pager.pool().log();
        log.begin_smo();
        let res = f();
        log.end_smo()?;
        res
    }

    /// Inserts or replaces; returns whether a value was replaced.
    pub fn insert(&self, key: &[u8], value: &[u8]) -> StorageResult<bool> {
        self.structure_change(|| self.insert_unbracketed(key, value))
    }

    /// Inserts `key` with `value` in one descent if no key of `[lo, hi)`
    /// is in the tree (`key` must lie in that range): the first version of
    /// a row, whose versions are the range. `before` runs under the leaf's
    /// exclusive latch once the insert is decided, just before the page
    /// changes, so a caller's logical undo record precedes the page's redo
    /// record in the log; an error from it leaves the tree unchanged.
    /// Returns whether it inserted. It declines (returns false, calls
    /// nothing, changes nothing) when the range is not empty, when the
    /// leaf holding `lo` may not hold the whole range (a leaf boundary
    /// falls inside it), when the cell needs an overflow chain, or when the
    /// leaf has no room (a split): the caller then takes the general path
    /// (read the range, then [`Tree::insert`]).
    ///
    /// The leaf is found by `lo`, as in [`Tree::visit_leaf_range`], and
    /// the emptiness check and the insert happen under one exclusive
    /// latch, so no other thread can put a key into the range or split the
    /// leaf in between.
    pub fn insert_if_range_empty<E: From<StorageError>>(
        &self,
        lo: &[u8],
        hi: &[u8],
        key: &[u8],
        value: &[u8],
        before: impl FnOnce() -> Result<(), E>,
    ) -> Result<bool, E> {
        assert!(
            lo <= key && key < hi,
            "insert_if_range_empty: the key lies outside its range"
        );
        if key.len() > MAX_KEY_BYTES || 4 + key.len() + value.len() > MAX_CELL_BYTES {
            return Ok(false); // the general path reports or chains it
        }
        let mut cell = Vec::with_capacity(4 + key.len() + value.len());
        node::leaf_cell(key, value, &mut cell);
        let log = self.pager.pool().log();
        log.begin_smo();
        let res = (|| -> Result<bool, E> {
            let (mut leaf, below_fence) = self.leaf_for_write_fenced(lo, hi)?;
            let start = node::lower_bound(&leaf, lo);
            let count = slotted::count(&leaf);
            let empty = start == count || node::key_at(&leaf, start) >= hi;
            let whole = start < count || below_fence;
            if !(empty && whole && slotted::fits(&leaf, cell.len())) {
                return Ok(false);
            }
            debug_assert_eq!(node::search(&leaf, key), Err(start));
            before()?;
            leaf.apply(&PageOp::InsertCell {
                slot: start as u16,
                cell: &cell,
            })?;
            Ok(true)
        })();
        log.end_smo()?;
        res
    }

    fn insert_unbracketed(&self, key: &[u8], value: &[u8]) -> StorageResult<bool> {
        if key.len() > MAX_KEY_BYTES {
            return Err(StorageError::KeyTooLarge {
                size: key.len(),
                max: MAX_KEY_BYTES,
            });
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(StorageError::ValueTooLarge {
                size: value.len(),
                max: MAX_VALUE_BYTES,
            });
        }
        let mut cell = Vec::with_capacity(8 + key.len() + value.len().min(MAX_CELL_BYTES));
        let mut chain = None;
        if 4 + key.len() + value.len() <= MAX_CELL_BYTES {
            node::leaf_cell(key, value, &mut cell);
        } else {
            let first = overflow::write(&self.pager, value)?;
            chain = Some(first);
            node::overflow_cell(key, value.len() as u64, first, &mut cell);
        }
        let res = self.insert_cell(key, &cell);
        if res.is_err()
            && let Some(first) = chain
        {
            // the chain never became reachable; give its pages back
            let _ = overflow::free(&self.pager, first, value.len() as u64);
        }
        res
    }

    fn insert_cell(&self, key: &[u8], cell: &[u8]) -> StorageResult<bool> {
        // optimistic: only the leaf changes
        {
            let mut leaf = self.leaf_for_write(key)?;
            match node::search(&leaf, key) {
                Ok(i) => {
                    let old = slotted::cell(&leaf, i);
                    if slotted::total_free(&leaf) + old.len() >= cell.len() {
                        let old_value = old_overflow(old);
                        leaf.apply(&PageOp::ReplaceCell {
                            slot: i as u16,
                            cell,
                        })?;
                        self.free_old(old_value)?;
                        return Ok(true);
                    }
                }
                Err(i) => {
                    if slotted::fits(&leaf, cell.len()) {
                        leaf.apply(&PageOp::InsertCell {
                            slot: i as u16,
                            cell,
                        })?;
                        return Ok(false);
                    }
                }
            }
        }
        // pessimistic: the leaf may split, and so may its ancestors
        let (mut path, mut leaf) = self.path_for_write(key, |p, _root| {
            if slotted::is_leaf(p) {
                slotted::fits(p, cell.len())
            } else {
                slotted::fits(p, MAX_INTERIOR_CELL)
            }
        })?;
        let mut replaced = false;
        let slot = match node::search(&leaf, key) {
            Ok(i) => {
                let old = slotted::cell(&leaf, i);
                let old_value = old_overflow(old);
                if slotted::total_free(&leaf) + old.len() >= cell.len() {
                    leaf.apply(&PageOp::ReplaceCell {
                        slot: i as u16,
                        cell,
                    })?;
                    self.free_old(old_value)?;
                    return Ok(true);
                }
                leaf.apply(&PageOp::RemoveCell { slot: i as u16 })?;
                self.free_old(old_value)?;
                replaced = true;
                i
            }
            Err(i) => i,
        };
        self.insert_splitting(&mut path, leaf, slot, cell.to_vec())?;
        Ok(replaced)
    }

    fn free_old(&self, old: Option<(u64, PageId)>) -> StorageResult<()> {
        match old {
            Some((len, first)) => overflow::free(&self.pager, first, len),
            None => Ok(()),
        }
    }

    /// Inserts `cell` at `slot` of `node`, splitting it (and its ancestors on
    /// `path`) as needed.
    fn insert_splitting<'a>(
        &'a self,
        path: &mut Vec<Step<'a>>,
        mut node: PageWrite<'a>,
        mut slot: usize,
        mut cell: Vec<u8>,
    ) -> StorageResult<()> {
        loop {
            if slotted::fits(&node, cell.len()) {
                return node.apply(&PageOp::InsertCell {
                    slot: slot as u16,
                    cell: &cell,
                });
            }
            let n = slotted::count(&node);
            let append = slot == n && slotted::next(&node).is_none() && slotted::is_leaf(&node);
            let mut cells: Vec<Vec<u8>> =
                (0..n).map(|i| slotted::cell(&node, i).to_vec()).collect();
            cells.insert(slot, cell);
            if node.id() == self.root {
                SmoCounters::bump(&self.pager.smo.splits);
                return self.split_root(node, cells);
            }
            let Some(parent) = path.pop() else {
                panic!(
                    "node {} must split but its parent is not latched",
                    node.id()
                );
            };
            let (sep, right) = self.split(&mut node, cells, append)?;
            SmoCounters::bump(&self.pager.smo.splits);
            cell = node::interior_cell(&sep, right);
            slot = parent.child;
            node = parent.g;
        }
    }

    /// Splits a non-root node whose new contents are `cells`: the left part
    /// stays, the right part moves to a new page. Returns the separator and
    /// the new page.
    fn split(
        &self,
        node: &mut PageWrite<'_>,
        cells: Vec<Vec<u8>>,
        append: bool,
    ) -> StorageResult<(Vec<u8>, PageId)> {
        let level = slotted::level(node);
        let mut right = self.pager.allocate()?;
        let rid = right.id();
        if level == 0 {
            let m = if append {
                cells.len() - 1
            } else {
                split_point(&cells)
            };
            let old_next = slotted::next(node);
            right.apply(&PageOp::FormatNode {
                level: 0,
                prev: node.id(),
                next: old_next,
                leftmost: PageId::NONE,
                cells: cells[m..].iter().map(|c| &c[..]).collect(),
            })?;
            node.apply(&PageOp::FormatNode {
                level: 0,
                prev: slotted::prev(node),
                next: rid,
                leftmost: PageId::NONE,
                cells: cells[..m].iter().map(|c| &c[..]).collect(),
            })?;
            drop(right);
            if !old_next.is_none() {
                let mut n = self.write_node(old_next, Some(0))?;
                n.apply(&PageOp::SetPrev(rid))?;
            }
            let sep =
                node::shortest_separator(node::leaf_key(&cells[m - 1]), node::leaf_key(&cells[m]));
            Ok((sep, rid))
        } else {
            let m = split_point(&cells).clamp(1, cells.len().saturating_sub(2).max(1));
            let sep = node::interior_key(&cells[m]).to_vec();
            right.apply(&PageOp::FormatNode {
                level,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost: node::interior_child(&cells[m]),
                cells: cells[m + 1..].iter().map(|c| &c[..]).collect(),
            })?;
            let leftmost = slotted::leftmost(node);
            node.apply(&PageOp::FormatNode {
                level,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost,
                cells: cells[..m].iter().map(|c| &c[..]).collect(),
            })?;
            Ok((sep, rid))
        }
    }

    /// The root's page never changes: its contents move into two new
    /// children and it becomes an interior node one level up.
    fn split_root(&self, mut root: PageWrite<'_>, cells: Vec<Vec<u8>>) -> StorageResult<()> {
        let level = slotted::level(&root);
        let mut a = self.pager.allocate()?;
        let mut b = self.pager.allocate()?;
        let m;
        let sep;
        if level == 0 {
            m = split_point(&cells);
            a.apply(&PageOp::FormatNode {
                level: 0,
                prev: PageId::NONE,
                next: b.id(),
                leftmost: PageId::NONE,
                cells: cells[..m].iter().map(|c| &c[..]).collect(),
            })?;
            b.apply(&PageOp::FormatNode {
                level: 0,
                prev: a.id(),
                next: PageId::NONE,
                leftmost: PageId::NONE,
                cells: cells[m..].iter().map(|c| &c[..]).collect(),
            })?;
            sep =
                node::shortest_separator(node::leaf_key(&cells[m - 1]), node::leaf_key(&cells[m]));
        } else {
            m = split_point(&cells).clamp(1, cells.len().saturating_sub(2).max(1));
            a.apply(&PageOp::FormatNode {
                level,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost: slotted::leftmost(&root),
                cells: cells[..m].iter().map(|c| &c[..]).collect(),
            })?;
            b.apply(&PageOp::FormatNode {
                level,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost: node::interior_child(&cells[m]),
                cells: cells[m + 1..].iter().map(|c| &c[..]).collect(),
            })?;
            sep = node::interior_key(&cells[m]).to_vec();
        }
        let top = node::interior_cell(&sep, b.id());
        root.apply(&PageOp::FormatNode {
            level: level + 1,
            prev: PageId::NONE,
            next: PageId::NONE,
            leftmost: a.id(),
            cells: vec![&top],
        })
    }

    /// Deletes `key`; returns whether it was present.
    pub fn delete(&self, key: &[u8]) -> StorageResult<bool> {
        self.structure_change(|| self.delete_unbracketed(key))
    }

    fn delete_unbracketed(&self, key: &[u8]) -> StorageResult<bool> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(false);
        }
        {
            let mut leaf = self.leaf_for_write(key)?;
            let Ok(i) = node::search(&leaf, key) else {
                return Ok(false);
            };
            let cell = slotted::cell(&leaf, i);
            let after = slotted::used(&leaf) - cell.len() - 2;
            if leaf.id() == self.root || after >= MIN_FILL_BYTES {
                let old = old_overflow(cell);
                leaf.apply(&PageOp::RemoveCell { slot: i as u16 })?;
                self.free_old(old)?;
                return Ok(true);
            }
        }
        let (mut path, mut leaf) = self.path_for_write(key, |p, root| {
            if root {
                slotted::is_leaf(p) || slotted::count(p) >= 2
            } else if slotted::is_leaf(p) {
                slotted::used(p) >= MIN_FILL_BYTES + MAX_CELL_BYTES + 2
            } else {
                slotted::count(p) >= 2 && slotted::used(p) >= MIN_FILL_BYTES + MAX_INTERIOR_CELL + 2
            }
        })?;
        let Ok(i) = node::search(&leaf, key) else {
            return Ok(false);
        };
        let old = old_overflow(slotted::cell(&leaf, i));
        leaf.apply(&PageOp::RemoveCell { slot: i as u16 })?;
        self.free_old(old)?;
        self.rebalance(&mut path, leaf)?;
        Ok(true)
    }

    /// After a removal from `node`: merge underfull nodes up the path, and
    /// collapse a root left with one child.
    fn rebalance<'a>(
        &'a self,
        path: &mut Vec<Step<'a>>,
        mut node: PageWrite<'a>,
    ) -> StorageResult<()> {
        loop {
            if node.id() == self.root {
                return self.collapse_root(node);
            }
            if slotted::used(&node) >= MIN_FILL_BYTES {
                return Ok(());
            }
            let Some(Step {
                g: mut parent,
                child,
            }) = path.pop()
            else {
                return Ok(()); // was safe: an ancestor need not change
            };
            let level = slotted::level(&node);
            let pcount = slotted::count(&parent);
            // the pair (left, right) and the child index of left
            let (left_child, left, right) = if child < pcount {
                let right = self.write_node(node::child_at(&parent, child + 1), Some(level))?;
                (child, node, right)
            } else if child > 0 {
                let nid = node.id();
                drop(node);
                let left = self.write_node(node::child_at(&parent, child - 1), Some(level))?;
                let node = self.write_node(nid, Some(level))?;
                (child - 1, left, node)
            } else {
                return Ok(()); // an only child: nothing to merge with
            };
            match self.merge(&mut parent, left_child, left, right)? {
                Merge::Merged => node = parent,
                Merge::TooBig(left, right) => {
                    // both together are more than a page: share them out
                    return self.redistribute(&mut parent, left_child, left, right);
                }
            }
        }
    }

    /// Moves cells between siblings `left` and `right` (children
    /// `left_child` and `left_child + 1` of `parent`) so that both hold
    /// about half their joint bytes, and replaces their separator in the
    /// parent: the borrow half of rebalancing, for a pair too big to merge.
    /// Leaves keep their sibling links (neither page moves). An interior
    /// pair rotates through the parent: the old separator comes down in
    /// front of `right`'s leftmost child and the new one goes up. Skipped
    /// (the tree stays correct, just less full) when the parent has no room
    /// for a longer separator.
    fn redistribute(
        &self,
        parent: &mut PageWrite<'_>,
        left_child: usize,
        mut left: PageWrite<'_>,
        mut right: PageWrite<'_>,
    ) -> StorageResult<()> {
        let level = slotted::level(&left);
        let sep_slot = left_child;
        let mut cells: Vec<Vec<u8>> =
            Vec::with_capacity(slotted::count(&left) + slotted::count(&right) + 1);
        cells.extend((0..slotted::count(&left)).map(|i| slotted::cell(&left, i).to_vec()));
        if level > 0 {
            let sep = node::interior_key(slotted::cell(parent, sep_slot));
            cells.push(node::interior_cell(sep, slotted::leftmost(&right)));
        }
        cells.extend((0..slotted::count(&right)).map(|i| slotted::cell(&right, i).to_vec()));
        let (m, right_from, right_leftmost, sep) = if level == 0 {
            let m = split_point(&cells);
            let sep =
                node::shortest_separator(node::leaf_key(&cells[m - 1]), node::leaf_key(&cells[m]));
            (m, m, PageId::NONE, sep)
        } else {
            let m = split_point(&cells).clamp(1, cells.len().saturating_sub(2).max(1));
            (
                m,
                m + 1,
                node::interior_child(&cells[m]),
                node::interior_key(&cells[m]).to_vec(),
            )
        };
        let up = node::interior_cell(&sep, right.id());
        let old = slotted::cell(parent, sep_slot).len();
        if slotted::total_free(parent) + old < up.len() {
            return Ok(());
        }
        left.apply(&PageOp::FormatNode {
            level,
            prev: slotted::prev(&left),
            next: slotted::next(&left),
            leftmost: slotted::leftmost(&left),
            cells: cells[..m].iter().map(|c| &c[..]).collect(),
        })?;
        right.apply(&PageOp::FormatNode {
            level,
            prev: slotted::prev(&right),
            next: slotted::next(&right),
            leftmost: right_leftmost,
            cells: cells[right_from..].iter().map(|c| &c[..]).collect(),
        })?;
        parent.apply(&PageOp::ReplaceCell {
            slot: sep_slot as u16,
            cell: &up,
        })?;
        SmoCounters::bump(&self.pager.smo.redistributions);
        Ok(())
    }

    /// Merges `right` (child `left_child + 1` of `parent`) into `left` if
    /// their contents fit one page; frees `right`.
    fn merge<'p>(
        &self,
        parent: &mut PageWrite<'_>,
        left_child: usize,
        mut left: PageWrite<'p>,
        right: PageWrite<'p>,
    ) -> StorageResult<Merge<'p>> {
        let sep_slot = left_child; // cell holding right's separator
        let level = slotted::level(&left);
        let mut cells: Vec<Vec<u8>> = (0..slotted::count(&left))
            .map(|i| slotted::cell(&left, i).to_vec())
            .collect();
        let sep_cell;
        if level == 0 {
            if slotted::used(&left) + slotted::used(&right) > slotted::CAPACITY {
                return Ok(Merge::TooBig(left, right));
            }
        } else {
            let sep = node::interior_key(slotted::cell(parent, sep_slot));
            sep_cell = node::interior_cell(sep, slotted::leftmost(&right));
            if slotted::used(&left) + slotted::used(&right) + sep_cell.len() + 2 > slotted::CAPACITY
            {
                return Ok(Merge::TooBig(left, right));
            }
            cells.push(sep_cell);
        }
        cells.extend((0..slotted::count(&right)).map(|i| slotted::cell(&right, i).to_vec()));
        let next = slotted::next(&right);
        left.apply(&PageOp::FormatNode {
            level,
            prev: slotted::prev(&left),
            next,
            leftmost: slotted::leftmost(&left),
            cells: cells.iter().map(|c| &c[..]).collect(),
        })?;
        if level == 0 && !next.is_none() {
            let mut n = self.write_node(next, Some(0))?;
            n.apply(&PageOp::SetPrev(left.id()))?;
        }
        parent.apply(&PageOp::RemoveCell {
            slot: sep_slot as u16,
        })?;
        drop(left);
        self.pager.free(right)?;
        SmoCounters::bump(&self.pager.smo.merges);
        Ok(Merge::Merged)
    }

    /// A root interior node with no cells has one child: pull it up.
    fn collapse_root(&self, mut root: PageWrite<'_>) -> StorageResult<()> {
        while !slotted::is_leaf(&root) && slotted::count(&root) == 0 {
            let level = slotted::level(&root);
            let child = self.write_node(slotted::leftmost(&root), Some(level - 1))?;
            let cells: Vec<Vec<u8>> = (0..slotted::count(&child))
                .map(|i| slotted::cell(&child, i).to_vec())
                .collect();
            root.apply(&PageOp::FormatNode {
                level: level - 1,
                prev: PageId::NONE,
                next: PageId::NONE,
                leftmost: slotted::leftmost(&child),
                cells: cells.iter().map(|c| &c[..]).collect(),
            })?;
            self.pager.free(child)?;
        }
        Ok(())
    }

    /// Frees every page of the tree, the root included. The caller
    /// guarantees no one else uses the tree.
    pub(crate) fn free_all(&self) -> StorageResult<()> {
        self.free_subtree(self.root, None)
    }

    fn free_subtree(&self, id: PageId, level: Option<u16>) -> StorageResult<()> {
        let g = self.write_node(id, level)?;
        let lvl = slotted::level(&g);
        if lvl == 0 {
            for i in 0..slotted::count(&g) {
                if let Some((len, first)) = old_overflow(slotted::cell(&g, i)) {
                    overflow::free(&self.pager, first, len)?;
                }
            }
        } else {
            let children: Vec<PageId> = (0..=slotted::count(&g))
                .map(|i| node::child_at(&g, i))
                .collect();
            drop(g);
            for c in children {
                self.free_subtree(c, Some(lvl - 1))?;
            }
            let g = self.write_node(id, level)?;
            return self.pager.free(g);
        }
        self.pager.free(g)
    }

    /// A cursor over keys between `lo` and `hi`, ascending.
    pub fn range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Cursor {
        Cursor::new(self.clone(), lo, hi, false)
    }

    /// A cursor over keys between `lo` and `hi`, descending.
    pub fn range_rev(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Cursor {
        Cursor::new(self.clone(), lo, hi, true)
    }

    /// Every entry, ascending.
    pub fn iter(&self) -> Cursor {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Every entry, descending.
    pub fn iter_rev(&self) -> Cursor {
        self.range_rev(Bound::Unbounded, Bound::Unbounded)
    }

    /// A cursor over every key starting with `prefix`.
    pub fn prefix(&self, prefix: &[u8], reverse: bool) -> Cursor {
        let end = prefix_successor(prefix);
        let hi = match &end {
            Some(e) => Bound::Excluded(&e[..]),
            None => Bound::Unbounded,
        };
        Cursor::new(self.clone(), Bound::Included(prefix), hi, reverse)
    }
}

/// What [`Tree::merge`] did.
enum Merge<'a> {
    /// `right` went into `left` and was freed.
    Merged,
    /// Together they are more than a page; both stay latched.
    TooBig(PageWrite<'a>, PageWrite<'a>),
}

/// The overflow chain a leaf cell points at, if any.
fn old_overflow(cell: &[u8]) -> Option<(u64, PageId)> {
    match node::leaf_value(cell) {
        LeafValue::Overflow { len, first } => Some((len, first)),
        LeafValue::Inline(_) => None,
    }
}

/// Where to cut `cells` (with slots) into two halves of about equal bytes:
/// the first index whose prefix reaches half. Both halves are non-empty and
/// fit a page because every cell is at most a third of a page.
fn split_point(cells: &[Vec<u8>]) -> usize {
    let total: usize = cells.iter().map(|c| c.len() + 2).sum();
    let mut acc = 0;
    for (i, c) in cells.iter().enumerate() {
        if acc >= total / 2 {
            return i.clamp(1, cells.len() - 1);
        }
        acc += c.len() + 2;
    }
    cells.len() - 1
}

/// The smallest key greater than every key with prefix `p`, if any.
pub fn prefix_successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut s = p.to_vec();
    while let Some(&last) = s.last() {
        if last == 0xFF {
            s.pop();
        } else {
            *s.last_mut()? += 1;
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn split_point_balances_bytes_and_keeps_both_sides_non_empty() {
        let cells: Vec<Vec<u8>> = vec![vec![0; 2000], vec![0; 10], vec![0; 10], vec![0; 2000]];
        let m = split_point(&cells);
        assert!((1..cells.len()).contains(&m));
        let two = vec![vec![0; 100], vec![0; 100]];
        assert_eq!(split_point(&two), 1);
    }

    #[test]
    fn get_with_lends_what_get_returns_inline_overflow_or_missing() {
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 16,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        let big: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        for i in 0..2000u32 {
            let v = if i % 500 == 7 {
                big.clone()
            } else {
                i.to_le_bytes().repeat(3)
            };
            t.insert(&i.to_be_bytes(), &v).unwrap();
        }
        for i in (0..2100u32).step_by(7) {
            let k = i.to_be_bytes();
            let lent = t.get_with(&k, |v| v.map(<[u8]>::to_vec)).unwrap();
            assert_eq!(lent, t.get(&k).unwrap(), "key {i}");
            assert_eq!(lent.is_some(), i < 2000);
        }
        assert_eq!(
            t.get_with(&7u32.to_be_bytes(), |v| v.map(<[u8]>::len))
                .unwrap(),
            Some(50_000)
        );
        assert_eq!(t.pager().pool().pinned_frames(), 0);
    }

    #[test]
    fn visit_leaf_range_sees_what_a_cursor_sees_or_declines() {
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 64,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        let big: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        // Keys 0, 2, 4, …: each range below has gaps and hits.
        for i in (0..6000u32).step_by(2) {
            let v = if i % 700 == 4 {
                big.clone()
            } else {
                i.to_le_bytes().repeat(20)
            };
            t.insert(&i.to_be_bytes(), &v).unwrap();
        }
        let mut visited_whole = 0;
        let mut declined = 0;
        for lo in (0..6100u32).step_by(3) {
            for width in [0u32, 1, 2, 5, 40, 400] {
                let (l, h) = (lo.to_be_bytes(), (lo + width).to_be_bytes());
                let mut seen = Vec::new();
                let whole = t
                    .visit_leaf_range(&l, &h, |k, v| seen.push((k.to_vec(), v.to_vec())))
                    .unwrap();
                let short = width <= 5;
                if whole {
                    visited_whole += usize::from(short);
                    let scanned: Vec<_> = t
                        .range(Bound::Included(&l), Bound::Excluded(&h))
                        .map(|r| r.unwrap())
                        .collect();
                    assert_eq!(seen, scanned, "range [{lo}, {})", lo + width);
                } else {
                    declined += usize::from(short);
                    assert!(seen.is_empty(), "declining calls nothing");
                }
            }
        }
        assert!(
            visited_whole > 10 * declined,
            "ranges of a few keys are mostly whole: {visited_whole} vs {declined}"
        );
        let all = t
            .visit_leaf_range(&0u32.to_be_bytes(), &u32::MAX.to_be_bytes(), |_, _| {})
            .unwrap();
        assert!(!all, "the whole tree spans many leaves");
        assert_eq!(t.pager().pool().pinned_frames(), 0);
    }

    fn be(k: u64) -> [u8; 8] {
        k.to_be_bytes()
    }

    #[test]
    fn insert_if_range_empty_inserts_only_when_no_key_of_the_range_is_anywhere() {
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 64,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        // Keys 1000, 2000, …: the separator between 1000·i and 1000·(i+1)
        // is a prefix of the right key, strictly inside the gap, so a gap
        // at a leaf boundary is a range that spans two leaves.
        let mut model = std::collections::BTreeMap::new();
        for n in 0..3000u64 {
            let i = n * 7919 % 3000 + 1; // random order: leaves part full
            let v = vec![(i % 251) as u8; 60];
            t.insert(&be(i * 1000), &v).unwrap();
            model.insert(be(i * 1000).to_vec(), v);
        }
        let (mut inserted, mut declined_empty, mut spans) = (0, 0, 0);
        for i in 1..3000u64 {
            let (a, b) = (i * 1000, (i + 1) * 1000);
            // Not empty: the range holds `b`, the first key of the next
            // leaf when the gap is a leaf boundary. Never inserted.
            let mut called = false;
            let r = t
                .insert_if_range_empty(&be(a + 1), &be(b + 1), &be(a + 1), b"x", || {
                    called = true;
                    Ok::<(), StorageError>(())
                })
                .unwrap();
            assert!(!r && !called, "range [{}, {}) holds {b}", a + 1, b + 1);
            // Not empty: the range holds `a`.
            let r = t
                .insert_if_range_empty(&be(a), &be(a + 2), &be(a + 1), b"x", || {
                    Ok::<(), StorageError>(())
                })
                .unwrap();
            assert!(!r, "range [{a}, {}) holds {a}", a + 2);
            // Empty: inserted, unless it spans two leaves (or must split).
            let whole = t.visit_leaf_range(&be(a + 1), &be(b), |_, _| {}).unwrap();
            spans += usize::from(!whole);
            let mut called = 0;
            let key = be(a + 7);
            let r = t
                .insert_if_range_empty(&be(a + 1), &be(b), &key, b"new", || {
                    called += 1;
                    Ok::<(), StorageError>(())
                })
                .unwrap();
            assert_eq!(called, usize::from(r), "before runs once, only to insert");
            if r {
                assert!(
                    whole,
                    "inserted into a range spanning two leaves [{}, {b})",
                    a + 1
                );
                inserted += 1;
                model.insert(key.to_vec(), b"new".to_vec());
            } else {
                declined_empty += 1;
                assert_eq!(t.get(&key).unwrap(), None, "key {}", a + 7);
                // the general path (it may split the leaf)
                t.insert(&key, b"new").unwrap();
                model.insert(key.to_vec(), b"new".to_vec());
            }
            assert!(t.get(&key).unwrap().is_some(), "key {}", a + 7);
        }
        assert!(spans > 20, "leaf boundaries fall inside gaps: {spans}");
        assert!(declined_empty >= spans, "every spanning range declined");
        assert!(
            inserted > 1500,
            "most empty ranges take the one-descent insert: {inserted}"
        );
        let all: Vec<_> = t.iter().map(|r| r.unwrap()).collect();
        assert!(all == model.into_iter().collect::<Vec<_>>());
        assert!(e.check().unwrap().is_ok());
        assert_eq!(t.pager().pool().pinned_frames(), 0);
    }

    #[test]
    fn insert_if_range_empty_changes_nothing_when_before_fails_or_the_cell_is_large() {
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 16,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        t.insert(&be(10), b"ten").unwrap();
        let r = t.insert_if_range_empty(&be(20), &be(30), &be(25), b"v", || {
            Err(StorageError::KeyTooLarge { size: 1, max: 0 })
        });
        assert!(matches!(r, Err(StorageError::KeyTooLarge { .. })));
        assert_eq!(t.get(&be(25)).unwrap(), None);
        let big = vec![7u8; MAX_CELL_BYTES];
        let r = t
            .insert_if_range_empty(&be(20), &be(30), &be(25), &big, || -> StorageResult<()> {
                panic!("an overflow value is left to the general path")
            })
            .unwrap_or(true);
        assert!(!r);
        assert!(
            t.insert_if_range_empty(&be(20), &be(30), &be(25), b"v", || Ok::<(), StorageError>(
                ()
            ))
            .unwrap()
        );
        assert_eq!(t.get(&be(25)).unwrap(), Some(b"v".to_vec()));
        assert!(e.check().unwrap().is_ok());
    }

    #[test]
    fn insert_if_range_empty_admits_one_first_insert_per_range_while_leaves_split() {
        // Two threads race to put the first key into each range [i·16,
        // i·16 + 8) while a third fills the keys between the ranges with
        // large values, splitting the leaves the racers descend to. The
        // check and the insert are one step under the leaf latch, so at
        // most one racer wins a range (a decline — no room, a boundary —
        // leaves it to nobody here).
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 256,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        const RANGES: u64 = 4000;
        // Every other gap filled beforehand, in random order: leaves part
        // full, so a racer's insert usually fits.
        for n in 0..RANGES {
            let i = n * 7919 % RANGES;
            if i.is_multiple_of(2) {
                t.insert(&be(i * 16 + 12), &[8u8; 60]).unwrap();
            }
        }
        let racer = |who: u8| {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut won = Vec::new();
                for n in 0..RANGES {
                    let i = n * 7919 % RANGES; // both racers in one order
                    let key = be(i * 16 + 1 + u64::from(who));
                    let (lo, hi) = (be(i * 16), be(i * 16 + 8));
                    let ok = || Ok::<(), StorageError>(());
                    if t.insert_if_range_empty(&lo, &hi, &key, &[who; 40], ok)
                        .unwrap()
                    {
                        won.push(i);
                    }
                }
                won
            })
        };
        let filler = {
            let t = t.clone();
            std::thread::spawn(move || {
                for n in 0..RANGES {
                    let i = n * 7919 % RANGES;
                    if !i.is_multiple_of(2) {
                        t.insert(&be(i * 16 + 12), &[9u8; 300]).unwrap();
                    }
                }
            })
        };
        let (a, b) = (racer(1), racer(2));
        let (wa, wb) = (a.join().unwrap(), b.join().unwrap());
        filler.join().unwrap();
        let mut winners = vec![0usize; RANGES as usize];
        for i in wa.iter().chain(&wb) {
            winners[*i as usize] += 1;
        }
        for i in 0..RANGES {
            let (lo, hi) = (be(i * 16), be(i * 16 + 8));
            let in_tree = t.range(Bound::Included(&lo), Bound::Excluded(&hi)).count();
            assert!(winners[i as usize] <= 1, "range {i} won twice");
            assert_eq!(in_tree, winners[i as usize], "range {i}");
        }
        let won = wa.len() + wb.len();
        assert!(won > RANGES as usize / 2, "mostly inserted: {won}");
        assert!(e.check().unwrap().is_ok());
        assert_eq!(t.pager().pool().pinned_frames(), 0);
    }

    #[test]
    fn root_page_stays_put_through_growth_and_collapse() {
        let e = crate::storage::Engine::in_memory(crate::storage::EngineOptions {
            buffer_pool_frames: 32,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        let root = t.root();
        for i in 0..3000u32 {
            t.insert(&i.to_be_bytes(), &[0u8; 50]).unwrap();
        }
        let level = slotted::level(&t.pager().pool().read(root).unwrap());
        assert!(level >= 1, "tree did not grow");
        for i in 0..3000u32 {
            assert!(t.delete(&i.to_be_bytes()).unwrap());
        }
        let g = t.pager().pool().read(root).unwrap();
        assert_eq!((slotted::level(&g), slotted::count(&g)), (0, 0));
        drop(g);
        assert_eq!(e.tree(t.id()).unwrap().root(), root);
        assert!(e.check().unwrap().is_ok());
    }
}
