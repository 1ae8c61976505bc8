//! Cursors: ordered range scans in either direction.
//!
//! ```text
//!   seek(bound) --descend--> leaf --copy page--> buffer --next_ref()--> (&key, &value) ...
//!                             |                    | buffer used up
//!                             |   leaf unchanged?  v
//!                             '<-- sibling link --- step:  yes: latch the sibling, copy it
//!                                                          no:  re-seek just past the last key
//! ```
//!
//! A cursor holds no latch and no pin between calls: it copies one leaf
//! (8 KiB) under the leaf's shared latch and serves entries from the copy.
//! So a cursor can live across other operations on the same tree by the same
//! thread, never sees a half-done split, and never deadlocks with a writer.
//! Each entry is returned at most once and in order; an entry inserted or
//! deleted while the scan runs is seen or not depending on whether its leaf
//! was copied before or after the change (the usual guarantee of a
//! latch-only scan; snapshots are the MVCC layer's job).
//!
//! **Moving to the next leaf.** With the copy the cursor keeps the leaf's
//! [`Stamp`] (frame and version). When the copy is used up it re-latches the
//! leaf *only if it is unchanged* ([`BufferPool::read_if_unchanged`], no
//! page-table mutex) and follows the sibling link:
//! - forward: holding the unchanged leaf shared, latch its `next` shared
//!   (left to right, the latch order), then let the leaf go. Every key above
//!   the copy's last key is, at that instant, in `next` or beyond it.
//! - backward: the latch order forbids waiting for the left sibling while
//!   holding the right one. So: read `prev` from the unchanged leaf, let it
//!   go, latch `prev`, and accept it only if it still links to the leaf and
//!   the leaf is *still* unchanged (checked while holding `prev`, left to
//!   right). A redistribution or merge between the two changes the leaf's
//!   version, so a key can never slip past the cursor unseen.
//!
//! If the leaf changed (a split, a merge, a redistribution, or just an
//! insert), the cursor falls back to a descent from the root to just past
//! the last key it returned. The descent records the leaf's *fences* (the
//! separators just below and above the path it took); an empty leaf is
//! skipped by re-seeking at its fence.
//!
//! A copied leaf may point at overflow chains; those are read while the leaf
//! is latched, one per batch at most (the batch ends after the first overflow
//! cell), so memory stays bounded by one value.
//!
//! **Allocation.** [`Cursor::next_ref`] lends the key and value out of the
//! copy: a scan allocates nothing per row (the owned [`Cursor::next_entry`]
//! and the `Iterator` copy them). [`Cursor::seek`] re-positions a cursor with
//! new bounds, reusing its buffer and bound storage, so a caller that does
//! many short range scans allocates once.

use std::ops::Bound;

use crate::storage::btree::node::{self, LeafValue};
use crate::storage::btree::{Tree, overflow};
use crate::storage::buffer::{PageRead, Stamp};
use crate::storage::error::StorageResult;
use crate::storage::page::{PAGE_SIZE, PageBuf, PageId, PageType, node as slotted};

/// A bound whose key storage is reused across seeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    Included,
    Excluded,
    Unbounded,
}

struct OwnedBound {
    edge: Edge,
    key: Vec<u8>,
}

impl OwnedBound {
    fn new(b: Bound<&[u8]>) -> OwnedBound {
        let mut o = OwnedBound {
            edge: Edge::Unbounded,
            key: Vec::new(),
        };
        o.set(b);
        o
    }
    fn set(&mut self, b: Bound<&[u8]>) {
        self.key.clear();
        self.edge = match b {
            Bound::Included(k) => {
                self.key.extend_from_slice(k);
                Edge::Included
            }
            Bound::Excluded(k) => {
                self.key.extend_from_slice(k);
                Edge::Excluded
            }
            Bound::Unbounded => Edge::Unbounded,
        };
    }
    fn get(&self) -> Bound<&[u8]> {
        match self.edge {
            Edge::Included => Bound::Included(&self.key),
            Edge::Excluded => Bound::Excluded(&self.key),
            Edge::Unbounded => Bound::Unbounded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Unstarted,
    Running,
    Done,
}

/// A range scan over a tree. Iterate with [`Cursor::next_ref`] (borrowed,
/// no allocation), [`Cursor::next_entry`] or as an `Iterator` of
/// `Result<(key, value)>`.
pub struct Cursor {
    tree: Tree,
    lo: OwnedBound,
    hi: OwnedBound,
    b: Batch,
    /// Scratch for the key a re-descent resumes after.
    resume: Vec<u8>,
    /// Scratch for the fence keys of a descent.
    fences: [Vec<u8>; 2],
    state: State,
}

/// The copied leaf and the part of it still to return.
struct Batch {
    reverse: bool,
    buf: Box<PageBuf>,
    /// Forward: next slot to return; backward: one past it.
    pos: usize,
    /// Forward: end of the batch (exclusive); backward: start (inclusive).
    limit: usize,
    /// The value of the one overflow cell of this batch, and its slot.
    big: Option<(usize, Vec<u8>)>,
    /// The leaf the buffer was copied from, and its stamp at the copy.
    leaf: Option<(PageId, Stamp)>,
    /// Whether the batch runs to the leaf's edge in scan direction (then the
    /// next batch may come from the sibling).
    at_edge: bool,
}

impl Cursor {
    pub(crate) fn new(tree: Tree, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool) -> Cursor {
        Cursor {
            tree,
            lo: OwnedBound::new(lo),
            hi: OwnedBound::new(hi),
            b: Batch {
                reverse,
                buf: Box::new([0u8; PAGE_SIZE]),
                pos: 0,
                limit: 0,
                big: None,
                leaf: None,
                at_edge: false,
            },
            resume: Vec::new(),
            fences: [Vec::new(), Vec::new()],
            state: State::Unstarted,
        }
    }

    /// Re-positions the cursor over keys between `lo` and `hi` (descending
    /// if `reverse`), as if it had just been made by [`Tree::range`] /
    /// [`Tree::range_rev`], reusing its buffers: a short range scan after the
    /// first one allocates nothing.
    pub fn seek(&mut self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool) {
        self.lo.set(lo);
        self.hi.set(hi);
        let b = &mut self.b;
        b.reverse = reverse;
        b.pos = 0;
        b.limit = 0;
        b.big = None;
        b.leaf = None;
        b.at_edge = false;
        self.state = State::Unstarted;
    }

    /// The next entry in scan order, copied out, or `None` at the end of the
    /// range.
    pub fn next_entry(&mut self) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self.next_ref()?.map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    /// The next entry in scan order, borrowed from the cursor (valid until
    /// the next call), or `None` at the end of the range.
    pub fn next_ref(&mut self) -> StorageResult<Option<(&[u8], &[u8])>> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Unstarted => {
                    self.state = State::Running;
                    let src = if self.b.reverse { &self.hi } else { &self.lo };
                    let edge = src.edge;
                    let mut key = std::mem::take(&mut self.resume);
                    key.clear();
                    key.extend_from_slice(&src.key);
                    let from = match edge {
                        Edge::Included => Bound::Included(&key[..]),
                        Edge::Excluded => Bound::Excluded(&key[..]),
                        Edge::Unbounded => Bound::Unbounded,
                    };
                    let found = self.fill(from);
                    self.resume = key;
                    if !found? {
                        self.state = State::Done;
                        return Ok(None);
                    }
                    continue;
                }
                State::Running => {}
            }
            let b = &self.b;
            let have = if b.reverse {
                b.pos > b.limit
            } else {
                b.pos < b.limit
            };
            if !have {
                if !self.next_batch()? {
                    self.state = State::Done;
                    return Ok(None);
                }
                continue;
            }
            let slot = if b.reverse { b.pos - 1 } else { b.pos };
            let key = node::leaf_key(slotted::cell(&b.buf, slot));
            let in_range = if b.reverse {
                match self.lo.get() {
                    Bound::Included(l) => key >= l,
                    Bound::Excluded(l) => key > l,
                    Bound::Unbounded => true,
                }
            } else {
                match self.hi.get() {
                    Bound::Included(h) => key <= h,
                    Bound::Excluded(h) => key < h,
                    Bound::Unbounded => true,
                }
            };
            if !in_range {
                self.state = State::Done;
                return Ok(None);
            }
            let b = &mut self.b;
            if b.reverse {
                b.pos -= 1;
            } else {
                b.pos += 1;
            }
            let cell = slotted::cell(&b.buf, slot);
            let key = node::leaf_key(cell);
            let value: &[u8] = match node::leaf_value(cell) {
                LeafValue::Inline(v) => v,
                LeafValue::Overflow { .. } => match &b.big {
                    Some((s, v)) if *s == slot => v,
                    _ => unreachable!("overflow cell {slot} without its loaded value"),
                },
            };
            return Ok(Some((key, value)));
        }
    }

    /// Loads the batch after the used-up one: from the sibling leaf if the
    /// current one is unchanged and the batch ran to its edge, else by a
    /// re-descent past the batch's last key. False at the end of the tree.
    fn next_batch(&mut self) -> StorageResult<bool> {
        if self.b.at_edge
            && let Some(found) = self.step_sibling()?
        {
            return Ok(found);
        }
        // the last key of the used-up batch, in scan order
        let b = &self.b;
        let last = if b.reverse { b.limit } else { b.limit - 1 };
        let mut key = std::mem::take(&mut self.resume);
        key.clear();
        key.extend_from_slice(node::leaf_key(slotted::cell(&b.buf, last)));
        let found = self.fill(Bound::Excluded(&key));
        self.resume = key;
        found
    }

    /// Steps to the sibling of the copied leaf in scan direction, skipping
    /// empty leaves. `Some(found)` if the step was safe (the leaf was
    /// unchanged); `None` if the caller must re-descend.
    fn step_sibling(&mut self) -> StorageResult<Option<bool>> {
        let tree = &self.tree;
        let pool = tree.pager().pool();
        let reverse = self.b.reverse;
        loop {
            let Some((id, stamp)) = self.b.leaf else {
                return Ok(None);
            };
            let Some(g) = pool.read_if_unchanged(id, stamp) else {
                return Ok(None);
            };
            let sib = if reverse {
                slotted::prev(&g)
            } else {
                slotted::next(&g)
            };
            if sib.is_none() {
                return Ok(Some(false)); // the unchanged edge leaf: the end
            }
            let s = if reverse {
                drop(g);
                let s = pool.read(sib)?;
                if !is_leaf_page(&s) || slotted::next(&s) != id {
                    return Ok(None);
                }
                // still the leaf we copied (checked holding its left
                // neighbour: left to right)
                let Some(again) = pool.read_if_unchanged(id, stamp) else {
                    return Ok(None);
                };
                drop(again);
                s
            } else {
                // coupled: the leaf stays latched until its right neighbour is
                let s = tree.read_node(sib, Some(0))?;
                drop(g);
                s
            };
            let n = slotted::count(&s);
            if n == 0 {
                self.b.leaf = Some((s.id(), s.stamp()));
                continue;
            }
            self.b.load(tree, &s, 0, n)?;
            return Ok(Some(true));
        }
    }

    /// Loads the next batch starting at `from` (a lower bound going forward,
    /// an upper bound going backward) by a descent from the root. Returns
    /// false at the end of the tree.
    fn fill(&mut self, from: Bound<&[u8]>) -> StorageResult<bool> {
        let [mut fence, mut past] = std::mem::take(&mut self.fences);
        let found = self.fill_with(from, &mut fence, &mut past);
        self.fences = [fence, past];
        found
    }

    /// [`Cursor::fill`] with scratch space: `fence` receives the separator
    /// bounding the leaf on the far side (the deepest one the path passes),
    /// `past` the one a re-seek past an empty leaf starts at.
    fn fill_with(
        &mut self,
        from: Bound<&[u8]>,
        fence: &mut Vec<u8>,
        past: &mut Vec<u8>,
    ) -> StorageResult<bool> {
        let tree = &self.tree;
        let reverse = self.b.reverse;
        let mut past_set = false;
        loop {
            let from = match (past_set, reverse) {
                (false, _) => from,
                (true, true) => Bound::Excluded(&past[..]),
                (true, false) => Bound::Included(&past[..]),
            };
            let mut g = tree.read_root()?;
            let mut fence_set = false;
            while !slotted::is_leaf(&g) {
                let n = slotted::count(&g);
                let idx = match (from, reverse) {
                    (Bound::Unbounded, false) => 0,
                    (Bound::Unbounded, true) => n,
                    (Bound::Included(k), _) => node::child_index(&g, k),
                    (Bound::Excluded(k), false) => node::child_index(&g, k),
                    (Bound::Excluded(k), true) => node::child_index_before(&g, k),
                };
                let f = if reverse {
                    idx.checked_sub(1)
                } else {
                    (idx < n).then_some(idx)
                };
                if let Some(f) = f {
                    fence.clear();
                    fence.extend_from_slice(node::key_at(&g, f));
                    fence_set = true;
                }
                let level = slotted::level(&g);
                let c = tree.read_node(node::child_at(&g, idx), Some(level - 1))?;
                g = c;
            }
            let n = slotted::count(&g);
            let (start, end) = if reverse {
                let end = match from {
                    Bound::Unbounded => n,
                    Bound::Included(k) => node::upper_bound(&g, k),
                    Bound::Excluded(k) => node::lower_bound(&g, k),
                };
                (0, end)
            } else {
                let start = match from {
                    Bound::Unbounded => 0,
                    Bound::Included(k) => node::lower_bound(&g, k),
                    Bound::Excluded(k) => node::upper_bound(&g, k),
                };
                (start, n)
            };
            if start < end {
                self.b.load(tree, &g, start, end)?;
                return Ok(true);
            }
            drop(g);
            // nothing here: continue past this leaf's fence
            if !fence_set {
                return Ok(false);
            }
            std::mem::swap(past, fence);
            past_set = true;
        }
    }
}

impl Batch {
    /// Copies latched leaf `g` and makes slots `start..end` (non-empty) the
    /// batch, cut short at the first overflow cell in scan order.
    fn load(
        &mut self,
        tree: &Tree,
        g: &PageRead<'_>,
        start: usize,
        end: usize,
    ) -> StorageResult<()> {
        debug_assert!(start < end);
        self.buf.copy_from_slice(&g[..]);
        self.leaf = Some((g.id(), g.stamp()));
        self.big = None;
        let is_big = |s: usize| {
            matches!(
                node::leaf_value(slotted::cell(g, s)),
                LeafValue::Overflow { .. }
            )
        };
        let first_big = if self.reverse {
            (start..end).rev().find(|&s| is_big(s))
        } else {
            (start..end).find(|&s| is_big(s))
        };
        if self.reverse {
            self.pos = end;
            self.limit = first_big.unwrap_or(start);
            self.at_edge = self.limit == 0;
        } else {
            self.pos = start;
            self.limit = first_big.map_or(end, |s| s + 1);
            self.at_edge = self.limit == slotted::count(g);
        }
        if let Some(s) = first_big
            && let LeafValue::Overflow { len, first } = node::leaf_value(slotted::cell(g, s))
        {
            let v = overflow::read(tree.pager(), first, len)?;
            self.big = Some((s, v));
        }
        Ok(())
    }
}

/// Whether a page latched without trusting who pointed at it is a leaf.
fn is_leaf_page(p: &PageBuf) -> bool {
    crate::storage::page::page_type(p) == Some(PageType::Leaf) && slotted::is_leaf(p)
}

impl Iterator for Cursor {
    type Item = StorageResult<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::{Engine, EngineOptions};
    use std::ops::Bound;

    fn key(i: u32) -> [u8; 4] {
        i.to_be_bytes()
    }

    /// Changes between every step of a scan (splits, merges, emptied
    /// leaves around the cursor) never make it skip a key that stayed in
    /// the tree the whole time, nor return one twice or out of order.
    #[test]
    fn a_scan_with_changes_between_steps_sees_every_stable_key_once_in_order() {
        for seed in 1..=6u64 {
            for reverse in [false, true] {
                let e = Engine::in_memory(EngineOptions {
                    buffer_pool_frames: 16,
                })
                .unwrap();
                let t = e.create_tree().unwrap();
                // even keys are stable; odd keys come and go
                for i in 0..4000u32 {
                    t.insert(&key(i), &[i as u8; 60]).unwrap();
                }
                let mut x = seed;
                let mut rnd = move || {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                };
                let mut c = if reverse { t.iter_rev() } else { t.iter() };
                let mut seen = Vec::new();
                let mut n = 0u64;
                while let Some((k, v)) = c.next_ref().unwrap() {
                    let k = u32::from_be_bytes(k.try_into().unwrap());
                    assert_eq!(v, &[k as u8; 60][..], "seed {seed}");
                    seen.push(k);
                    n += 1;
                    if n.is_multiple_of(7) {
                        // a burst of odd-key churn somewhere in the tree
                        let base = (rnd() % 4000) as u32 | 1;
                        for j in 0..40u32 {
                            let k = ((base + 2 * j) % 4000) | 1;
                            if rnd() % 2 == 0 {
                                t.delete(&key(k)).unwrap();
                            } else {
                                t.insert(&key(k), &[k as u8; 60]).unwrap();
                            }
                        }
                    }
                }
                let ordered = seen
                    .windows(2)
                    .all(|w| if reverse { w[0] > w[1] } else { w[0] < w[1] });
                assert!(
                    ordered,
                    "seed {seed} reverse {reverse}: out of order or repeated"
                );
                let stable: Vec<u32> = seen.iter().copied().filter(|k| k % 2 == 0).collect();
                let mut want: Vec<u32> = (0..4000).step_by(2).collect();
                if reverse {
                    want.reverse();
                }
                assert_eq!(
                    stable, want,
                    "seed {seed} reverse {reverse}: a stable key was missed"
                );
                assert!(e.check().unwrap().is_ok());
            }
        }
    }

    /// A scan of a tree nobody changes moves leaf to leaf by the sibling
    /// links: about two page accesses per leaf (re-check the copied leaf,
    /// latch the next), not a descent from the root per leaf.
    #[test]
    fn a_quiet_scan_follows_sibling_links_instead_of_descending() {
        let e = Engine::in_memory(EngineOptions {
            buffer_pool_frames: 64,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        for i in 0..20_000u32 {
            t.insert(&key(i.wrapping_mul(2_654_435_761)), &[1; 100])
                .unwrap();
        }
        let tree_pages = u64::from(e.check().unwrap().tree_pages);
        for reverse in [false, true] {
            let before = e.pool_stats();
            let mut c = if reverse { t.iter_rev() } else { t.iter() };
            let mut rows = 0;
            while c.next_ref().unwrap().is_some() {
                rows += 1;
            }
            assert_eq!(rows, 20_000);
            let after = e.pool_stats();
            let accesses = (after.hits + after.misses) - (before.hits + before.misses);
            let per_page = if reverse { 3 } else { 2 };
            assert!(
                accesses <= per_page * tree_pages + 8,
                "reverse {reverse}: {accesses} page accesses for {tree_pages} tree pages"
            );
        }
    }

    /// `seek` re-positions a used cursor: same results as a fresh one.
    #[test]
    fn a_reused_cursor_seeks_like_a_new_one() {
        let e = Engine::in_memory(EngineOptions {
            buffer_pool_frames: 16,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        for i in (0..3000u32).step_by(3) {
            t.insert(&key(i), &key(i)).unwrap();
        }
        let mut c = t.iter();
        let mut x = 0x9e37u64;
        for _ in 0..200 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = ((x >> 33) % 3100) as u32;
            let b = a + ((x >> 13) % 40) as u32;
            let rev = x & 1 == 1;
            let (lo, hi) = (key(a), key(b));
            let (lo, hi) = (Bound::Included(&lo[..]), Bound::Excluded(&hi[..]));
            c.seek(lo, hi, rev);
            let mut got = Vec::new();
            while let Some((k, _)) = c.next_ref().unwrap() {
                got.push(k.to_vec());
            }
            let fresh = if rev {
                t.range_rev(lo, hi)
            } else {
                t.range(lo, hi)
            };
            let want: Vec<Vec<u8>> = fresh.map(|e| e.unwrap().0).collect();
            assert_eq!(got, want, "range {a}..{b} reverse {rev}");
            let model: Vec<u32> = if rev {
                (a..b).rev().filter(|i| i % 3 == 0).collect()
            } else {
                (a..b).filter(|i| i % 3 == 0 && *i < 3000).collect()
            };
            let model: Vec<u32> = model.into_iter().filter(|i| *i < 3000).collect();
            let got: Vec<u32> = got
                .iter()
                .map(|k| u32::from_be_bytes(k[..].try_into().unwrap()))
                .collect();
            assert_eq!(got, model);
        }
    }
}
