//! The checker: walks every tree and the free list and reports faults.
//!
//! ```text
//!  meta -> directory tree -> each tree: nodes (order, bounds, levels), leaf
//!          chain (prev/next), overflow chains;  free list;  then every page
//!          below the page count must have been claimed exactly once
//! ```
//!
//! Verifies: checksums and node structure (every page is read through the
//! pool, which validates it); keys strictly increasing within a node and
//! across leaves; every key inside its parent's separator bounds; child
//! levels; leaf sibling links in both directions; overflow chain lengths;
//! free-list length against the meta page; and that every page is in exactly
//! one tree or on the free list (none leaked, none shared).
//!
//! A read error on a page (a bad checksum) is reported as a fault and the walk
//! goes on with the rest. The checker assumes a quiescent engine.

use std::fmt;

use crate::storage::btree::node::{self, LeafValue};
use crate::storage::btree::{Tree, TreeId, overflow};
use crate::storage::engine::Engine;
use crate::storage::error::StorageResult;
use crate::storage::page::{PageBuf, PageId, PageType, free, node as slotted, page_type};

/// What the checker found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub trees: usize,
    pub pages: u32,
    pub tree_pages: u32,
    pub overflow_pages: u32,
    pub free_pages: u32,
    pub entries: u64,
    /// Non-root tree nodes using less than a quarter of their page
    /// (`btree::MIN_FILL_BYTES`): legal, but a measure of how compact the
    /// trees are after deletes.
    pub underfull_nodes: u32,
    pub faults: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.faults.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} trees, {} pages ({} tree, {} overflow, {} free), {} entries, {} under-full nodes, {} faults",
            self.trees,
            self.pages,
            self.tree_pages,
            self.overflow_pages,
            self.free_pages,
            self.entries,
            self.underfull_nodes,
            self.faults.len()
        )?;
        for fault in &self.faults {
            writeln!(f, "  {fault}")?;
        }
        Ok(())
    }
}

struct Walk<'a> {
    engine: &'a Engine,
    owner: Vec<Option<u64>>,
    report: CheckReport,
}

/// Owner tag for free pages in the ownership map.
const FREE_OWNER: u64 = u64::MAX;

impl Walk<'_> {
    fn claim(&mut self, id: PageId, owner: u64) -> bool {
        let Some(slot) = self.owner.get_mut(id.0 as usize) else {
            self.report
                .faults
                .push(format!("page {id} is beyond the page count"));
            return false;
        };
        if id.is_none() {
            self.report
                .faults
                .push("a link points at the meta page".into());
            return false;
        }
        if let Some(prev) = *slot {
            let name = |o: u64| {
                if o == FREE_OWNER {
                    "the free list".to_string()
                } else {
                    format!("tree {o}")
                }
            };
            let msg = format!("page {id} is in both {} and {}", name(prev), name(owner));
            self.report.faults.push(msg);
            return false;
        }
        *slot = Some(owner);
        true
    }

    fn read(&mut self, id: PageId) -> StorageResult<Option<Box<PageBuf>>> {
        match self.engine.pager().pool().read(id) {
            Ok(g) => Ok(Some(Box::new(*g))),
            Err(e @ crate::storage::StorageError::Corrupt { .. }) => {
                self.report.faults.push(e.to_string());
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn tree(&mut self, tree: &Tree) -> StorageResult<()> {
        let mut leaves = Vec::new();
        let mut last_key: Option<Vec<u8>> = None;
        self.node(
            tree.id(),
            tree.root(),
            None,
            None,
            None,
            &mut leaves,
            &mut last_key,
        )?;
        for (i, &(id, prev, next)) in leaves.iter().enumerate() {
            let want_prev = if i == 0 {
                PageId::NONE
            } else {
                leaves[i - 1].0
            };
            let want_next = leaves.get(i + 1).map_or(PageId::NONE, |l| l.0);
            if prev != want_prev {
                self.report.faults.push(format!(
                    "tree {}: leaf {id} has prev {prev}, expected {want_prev}",
                    tree.id().0
                ));
            }
            if next != want_next {
                self.report.faults.push(format!(
                    "tree {}: leaf {id} has next {next}, expected {want_next}",
                    tree.id().0
                ));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        tree: TreeId,
        id: PageId,
        level: Option<u16>,
        lo: Option<&[u8]>,
        hi: Option<&[u8]>,
        leaves: &mut Vec<(PageId, PageId, PageId)>,
        last_key: &mut Option<Vec<u8>>,
    ) -> StorageResult<()> {
        let t = tree.0;
        if !self.claim(id, t) {
            return Ok(());
        }
        self.report.tree_pages += 1;
        let Some(p) = self.read(id)? else {
            return Ok(());
        };
        let ty = page_type(&p);
        if ty != Some(PageType::Leaf) && ty != Some(PageType::Interior) {
            self.report
                .faults
                .push(format!("tree {t}: page {id} is {ty:?}, not a node"));
            return Ok(());
        }
        if level.is_some() && slotted::used(&p) < crate::storage::btree::MIN_FILL_BYTES {
            self.report.underfull_nodes += 1;
        }
        let lvl = slotted::level(&p);
        if let Some(l) = level
            && l != lvl
        {
            self.report
                .faults
                .push(format!("tree {t}: page {id} at level {lvl}, expected {l}"));
            return Ok(());
        }
        let n = slotted::count(&p);
        for i in 0..n {
            let k = node::key_at(&p, i);
            if i > 0 && node::key_at(&p, i - 1) >= k {
                self.report
                    .faults
                    .push(format!("tree {t}: page {id} keys out of order at slot {i}"));
            }
            if lo.is_some_and(|lo| k < lo) || hi.is_some_and(|hi| k >= hi) {
                self.report.faults.push(format!(
                    "tree {t}: page {id} slot {i} outside its parent's separator bounds"
                ));
            }
        }
        if lvl == 0 {
            leaves.push((id, slotted::prev(&p), slotted::next(&p)));
            for i in 0..n {
                let cell = slotted::cell(&p, i);
                let k = node::leaf_key(cell);
                if last_key.as_deref().is_some_and(|l| l >= k) {
                    self.report.faults.push(format!(
                        "tree {t}: page {id} key order broken across leaves"
                    ));
                }
                *last_key = Some(k.to_vec());
                self.report.entries += 1;
                if let LeafValue::Overflow { len, first } = node::leaf_value(cell) {
                    match overflow::walk(self.engine.pager(), first, len) {
                        Ok(Ok(pages)) => {
                            for pg in pages {
                                if self.claim(pg, t) {
                                    self.report.overflow_pages += 1;
                                }
                            }
                        }
                        Ok(Err(fault)) => self.report.faults.push(format!("tree {t}: {fault}")),
                        Err(e) => self.report.faults.push(format!("tree {t}: {e}")),
                    }
                }
            }
            return Ok(());
        }
        if slotted::prev(&p) != PageId::NONE || slotted::next(&p) != PageId::NONE {
            self.report
                .faults
                .push(format!("tree {t}: interior page {id} has sibling links"));
        }
        for i in 0..=n {
            let child = node::child_at(&p, i);
            let clo = if i == 0 {
                lo
            } else {
                Some(node::key_at(&p, i - 1))
            };
            let chi = if i == n {
                hi
            } else {
                Some(node::key_at(&p, i))
            };
            self.node(tree, child, Some(lvl - 1), clo, chi, leaves, last_key)?;
        }
        Ok(())
    }
}

/// The pages of the tree rooted at `root`: its nodes and the overflow pages
/// of its values (what `pg_relation_size` reports, times the page size).
/// Safe beside writers: each page is copied out of its latch before it is
/// read, a page is counted once, and one that is not a node (freed by a
/// concurrent merge) is skipped, so the count is an estimate under writes.
pub fn tree_pages(pager: &crate::storage::pager::Pager, root: PageId) -> StorageResult<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root];
    let mut pages = 0u64;
    while let Some(id) = stack.pop() {
        if id == PageId::NONE || !seen.insert(id) {
            continue;
        }
        let p: Box<PageBuf> = match pager.pool().read(id) {
            Ok(g) => Box::new(*g),
            Err(crate::storage::StorageError::Corrupt { .. }) => continue,
            Err(e) => return Err(e),
        };
        let ty = page_type(&p);
        if ty != Some(PageType::Leaf) && ty != Some(PageType::Interior) {
            continue;
        }
        pages += 1;
        let n = slotted::count(&p);
        if slotted::level(&p) == 0 {
            for i in 0..n {
                let cell = slotted::cell(&p, i);
                if let LeafValue::Overflow { len, first } = node::leaf_value(cell)
                    && let Ok(Ok(chain)) = overflow::walk(pager, first, len)
                {
                    pages += chain.len() as u64;
                }
            }
        } else {
            for i in 0..=n {
                stack.push(node::child_at(&p, i));
            }
        }
    }
    Ok(pages)
}

/// Checks the whole engine.
pub fn check(engine: &Engine) -> StorageResult<CheckReport> {
    let meta = engine.pager().meta()?;
    let mut w = Walk {
        engine,
        owner: vec![None; meta.page_count as usize],
        report: CheckReport {
            pages: meta.page_count,
            ..CheckReport::default()
        },
    };
    if let Some(o) = w.owner.first_mut() {
        *o = Some(FREE_OWNER - 1); // the meta page
    }
    let directory = engine.directory().clone();
    w.tree(&directory)?;
    let trees = engine.trees()?;
    w.report.trees = trees.len();
    for (id, _root) in trees {
        let tree = engine.tree(id)?;
        w.tree(&tree)?;
    }
    // free list
    let mut id = meta.free_head;
    let mut n = 0u32;
    while !id.is_none() {
        if n > meta.page_count || !w.claim(id, FREE_OWNER) {
            w.report.faults.push("free list is cyclic or shared".into());
            break;
        }
        n += 1;
        let Some(p) = w.read(id)? else { break };
        if page_type(&p) != Some(PageType::Free) {
            w.report
                .faults
                .push(format!("page {id} on the free list is not a free page"));
            break;
        }
        id = free::next(&p);
    }
    w.report.free_pages = n;
    if n != meta.free_count {
        w.report.faults.push(format!(
            "free list holds {n} pages, meta page says {}",
            meta.free_count
        ));
    }
    for (i, o) in w.owner.iter().enumerate() {
        if o.is_none() {
            w.report
                .faults
                .push(format!("page {i} is in no tree and not on the free list"));
        }
    }
    Ok(w.report)
}

#[cfg(test)]
mod tests {
    use crate::storage::op::PageOp;
    use crate::storage::page::PageId;
    use crate::storage::{Engine, EngineOptions};

    #[test]
    fn a_leaked_page_and_a_broken_sibling_link_are_faults() {
        let e = Engine::in_memory(EngineOptions {
            buffer_pool_frames: 16,
        })
        .unwrap();
        let t = e.create_tree().unwrap();
        for i in 0..2000u32 {
            t.insert(&i.to_be_bytes(), &[1u8; 20]).unwrap();
        }
        assert!(e.check().unwrap().is_ok());
        // leak: allocate a page nobody owns
        let leaked = {
            let mut g = e.pager().allocate().unwrap();
            g.apply(&PageOp::FormatOverflow {
                next: PageId::NONE,
                data: b"",
            })
            .unwrap();
            g.id()
        };
        let r = e.check().unwrap();
        assert!(
            r.faults
                .iter()
                .any(|f| f.contains(&format!("page {leaked} is in no tree"))),
            "{r}"
        );
        // break a sibling link of the first leaf
        let first_leaf = {
            let mut id = t.root();
            loop {
                let g = e.pager().pool().read(id).unwrap();
                if crate::storage::page::node::is_leaf(&g) {
                    break id;
                }
                id = crate::storage::page::node::leftmost(&g);
            }
        };
        e.pager()
            .pool()
            .write(first_leaf)
            .unwrap()
            .apply(&PageOp::SetNext(PageId::NONE))
            .unwrap();
        let r = e.check().unwrap();
        assert!(r.faults.iter().any(|f| f.contains("has next")), "{r}");
    }
}
