//! Cursors: ordered range scans in either direction.
//!
//! ```text
//!   seek(bound) --descend--> leaf --copy page--> buffer --next()--> (key, value) ...
//!        ^                                          | buffer used up
//!        '------ re-seek just past the last key ----'
//! ```
//!
//! A cursor holds no latch between calls: it copies one leaf (8 KiB) under
//! the leaf's shared latch and serves entries from the copy, then re-descends
//! from the root to continue after the last key it returned. So a cursor can
//! live across other operations on the same tree by the same thread, never
//! sees a half-done split, and never deadlocks with a writer. Each entry is
//! returned at most once and in order; an entry inserted or deleted while the
//! scan runs is seen or not depending on whether its leaf was copied before or
//! after the change (the usual guarantee of a latch-only scan; snapshots are
//! the MVCC layer's job).
//!
//! To move past the edge of a leaf, the descent records the leaf's *fences*:
//! the separators just below and above the path it took. A forward scan that
//! runs off a leaf re-seeks at the high fence; a backward scan re-seeks below
//! the low fence. Empty leaves are skipped the same way.
//!
//! A copied leaf may point at overflow chains; those are read while the leaf
//! is latched, one per batch at most (the batch ends after the first overflow
//! cell), so memory stays bounded by one value.

use std::ops::Bound;

use crate::storage::btree::node::{self, LeafValue};
use crate::storage::btree::{Tree, overflow};
use crate::storage::error::StorageResult;
use crate::storage::page::{PAGE_SIZE, PageBuf, node as slotted};

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A range scan over a tree. Iterate with [`Cursor::next_entry`] or as an
/// `Iterator` of `Result<(key, value)>`.
pub struct Cursor {
    tree: Tree,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    reverse: bool,
    buf: Box<PageBuf>,
    /// Forward: next slot to return; backward: one past it.
    pos: usize,
    /// Forward: end of the batch (exclusive); backward: start (inclusive).
    limit: usize,
    /// The value of the one overflow cell of this batch, and its slot.
    big: Option<(usize, Vec<u8>)>,
    /// Where the next batch starts (set after each batch).
    resume: Option<Bound<Vec<u8>>>,
    started: bool,
    done: bool,
}

impl Cursor {
    pub(crate) fn new(tree: Tree, lo: Bound<&[u8]>, hi: Bound<&[u8]>, reverse: bool) -> Cursor {
        Cursor {
            tree,
            lo: owned(lo),
            hi: owned(hi),
            reverse,
            buf: Box::new([0u8; PAGE_SIZE]),
            pos: 0,
            limit: 0,
            big: None,
            resume: None,
            started: false,
            done: false,
        }
    }

    /// The next entry in scan order, or `None` at the end of the range.
    pub fn next_entry(&mut self) -> StorageResult<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let have = if self.reverse {
                self.pos > self.limit
            } else {
                self.pos < self.limit
            };
            if !have {
                let from = if !self.started {
                    self.started = true;
                    if self.reverse {
                        self.hi.clone()
                    } else {
                        self.lo.clone()
                    }
                } else {
                    match self.resume.take() {
                        Some(b) => b,
                        None => {
                            self.done = true;
                            return Ok(None);
                        }
                    }
                };
                if !self.fill(from)? {
                    self.done = true;
                    return Ok(None);
                }
                continue;
            }
            let slot = if self.reverse { self.pos - 1 } else { self.pos };
            let cell = slotted::cell(&self.buf, slot);
            let key = node::leaf_key(cell);
            let in_range = if self.reverse {
                match &self.lo {
                    Bound::Included(l) => key >= &l[..],
                    Bound::Excluded(l) => key > &l[..],
                    Bound::Unbounded => true,
                }
            } else {
                match &self.hi {
                    Bound::Included(h) => key <= &h[..],
                    Bound::Excluded(h) => key < &h[..],
                    Bound::Unbounded => true,
                }
            };
            if !in_range {
                self.done = true;
                return Ok(None);
            }
            let key = key.to_vec();
            let value = match node::leaf_value(cell) {
                LeafValue::Inline(v) => v.to_vec(),
                LeafValue::Overflow { .. } => match self.big.take() {
                    Some((s, v)) if s == slot => v,
                    _ => unreachable!("overflow cell {slot} without its loaded value"),
                },
            };
            if self.reverse {
                self.pos -= 1;
                if self.pos == self.limit {
                    self.resume = Some(Bound::Excluded(key.clone()));
                }
            } else {
                self.pos += 1;
                if self.pos == self.limit {
                    self.resume = Some(Bound::Excluded(key.clone()));
                }
            }
            return Ok(Some((key, value)));
        }
    }

    /// Loads the next batch starting at `from` (a lower bound going forward,
    /// an upper bound going backward). Returns false at the end of the tree.
    fn fill(&mut self, mut from: Bound<Vec<u8>>) -> StorageResult<bool> {
        loop {
            let tree = &self.tree;
            let mut g = tree.read_node(tree.root, None)?;
            let mut fence: Option<Vec<u8>> = None;
            while !slotted::is_leaf(&g) {
                let n = slotted::count(&g);
                let idx = match (&from, self.reverse) {
                    (Bound::Unbounded, false) => 0,
                    (Bound::Unbounded, true) => n,
                    (Bound::Included(k), _) => node::child_index(&g, k),
                    (Bound::Excluded(k), false) => node::child_index(&g, k),
                    (Bound::Excluded(k), true) => node::child_index_before(&g, k),
                };
                if self.reverse {
                    if idx > 0 {
                        fence = Some(node::key_at(&g, idx - 1).to_vec());
                    }
                } else if idx < n {
                    fence = Some(node::key_at(&g, idx).to_vec());
                }
                let level = slotted::level(&g);
                let c = tree.read_node(node::child_at(&g, idx), Some(level - 1))?;
                g = c;
            }
            let n = slotted::count(&g);
            let (start, end) = if self.reverse {
                let end = match &from {
                    Bound::Unbounded => n,
                    Bound::Included(k) => node::upper_bound(&g, k),
                    Bound::Excluded(k) => node::lower_bound(&g, k),
                };
                (0, end)
            } else {
                let start = match &from {
                    Bound::Unbounded => 0,
                    Bound::Included(k) => node::lower_bound(&g, k),
                    Bound::Excluded(k) => node::upper_bound(&g, k),
                };
                (start, n)
            };
            if start >= end {
                drop(g);
                // nothing here: continue past this leaf's fence
                match fence {
                    None => return Ok(false),
                    Some(f) => {
                        from = if self.reverse {
                            Bound::Excluded(f)
                        } else {
                            Bound::Included(f)
                        };
                        continue;
                    }
                }
            }
            self.buf.copy_from_slice(&g[..]);
            self.big = None;
            // end the batch at the first overflow cell in scan order
            let mut first_big = None;
            if self.reverse {
                for s in (start..end).rev() {
                    if matches!(
                        node::leaf_value(slotted::cell(&g, s)),
                        LeafValue::Overflow { .. }
                    ) {
                        first_big = Some(s);
                        break;
                    }
                }
                self.pos = end;
                self.limit = first_big.unwrap_or(start);
            } else {
                for s in start..end {
                    if matches!(
                        node::leaf_value(slotted::cell(&g, s)),
                        LeafValue::Overflow { .. }
                    ) {
                        first_big = Some(s);
                        break;
                    }
                }
                self.pos = start;
                self.limit = first_big.map_or(end, |s| s + 1);
            }
            if let Some(s) = first_big
                && let LeafValue::Overflow { len, first } = node::leaf_value(slotted::cell(&g, s))
            {
                let v = overflow::read(tree.pager(), first, len)?;
                self.big = Some((s, v));
            }
            // when this batch is used up: past its last key; when the batch
            // was the whole rest of the leaf and the leaf ends at a fence,
            // the re-seek from the last key finds the next leaf by itself.
            self.resume = None;
            return Ok(true);
        }
    }
}

impl Iterator for Cursor {
    type Item = StorageResult<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}
