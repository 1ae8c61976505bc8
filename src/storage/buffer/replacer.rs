//! 2Q replacement (Johnson & Shasha, "2Q: A Low Overhead High Performance
//! Buffer Management Replacement Algorithm", VLDB 1994), the "full" version.
//!
//! ```text
//!   miss, not remembered        hit while in A1in: stays (correlated refs)
//!  ----------------------> A1in (FIFO, ~25% of frames) --evict--> A1out
//!                                                          (ghost ids, ~50%)
//!   miss, remembered in A1out                                     |
//!  ----------------------> Am (LRU) <------------------------------'
//!                           ^  hit: move to the MRU end
//! ```
//!
//! A page read once (every page of a large scan) enters A1in and leaves it
//! in FIFO order without ever touching Am, so a scan of any length cannot
//! push the hot set (pages referenced again after a while, which live in Am)
//! out of the pool. Only a page referenced again after it left A1in — while
//! its id is still remembered in A1out — is promoted into Am.
//!
//! All operations are O(1) except victim search, which walks from the cold
//! end of a list past frames that are pinned (the pool decides evictability).
//! The structure lives under the pool's page-table mutex.

use std::collections::{HashMap, VecDeque};

use crate::storage::page::PageId;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum List {
    Free,
    A1in,
    Am,
}

#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    list: List,
}

#[derive(Clone, Copy)]
struct Ends {
    head: u32, // most recent
    tail: u32, // least recent
    len: usize,
}

const EMPTY: Ends = Ends {
    head: NIL,
    tail: NIL,
    len: 0,
};

/// 2Q state over frame indices.
pub struct TwoQ {
    links: Vec<Link>,
    free: Vec<u32>,
    a1in: Ends,
    am: Ends,
    a1in_target: usize,
    a1out: VecDeque<PageId>,
    a1out_set: HashMap<PageId, u32>,
    a1out_max: usize,
}

impl TwoQ {
    pub fn new(frames: usize) -> TwoQ {
        TwoQ {
            links: vec![
                Link {
                    prev: NIL,
                    next: NIL,
                    list: List::Free,
                };
                frames
            ],
            free: (0..frames as u32).rev().collect(),
            a1in: EMPTY,
            am: EMPTY,
            a1in_target: (frames / 4).max(1),
            a1out: VecDeque::new(),
            a1out_set: HashMap::new(),
            a1out_max: (frames / 2).max(1),
        }
    }

    /// A frame that has never held a page (or was released), if any.
    pub fn take_free(&mut self) -> Option<usize> {
        self.free.pop().map(|f| f as usize)
    }

    fn ends(&mut self, l: List) -> &mut Ends {
        match l {
            List::A1in => &mut self.a1in,
            List::Am => &mut self.am,
            List::Free => unreachable!("free frames are not linked"),
        }
    }

    fn unlink(&mut self, f: usize) {
        let Link { prev, next, list } = self.links[f];
        if list == List::Free {
            return;
        }
        if prev != NIL {
            self.links[prev as usize].next = next;
        } else {
            self.ends(list).head = next;
        }
        if next != NIL {
            self.links[next as usize].prev = prev;
        } else {
            self.ends(list).tail = prev;
        }
        self.ends(list).len -= 1;
        self.links[f] = Link {
            prev: NIL,
            next: NIL,
            list: List::Free,
        };
    }

    fn push_head(&mut self, f: usize, list: List) {
        assert_eq!(self.links[f].list, List::Free, "frame {f} linked twice");
        let head = self.ends(list).head;
        self.links[f] = Link {
            prev: NIL,
            next: head,
            list,
        };
        if head != NIL {
            self.links[head as usize].prev = f as u32;
        } else {
            self.ends(list).tail = f as u32;
        }
        let e = self.ends(list);
        e.head = f as u32;
        e.len += 1;
    }

    /// Frame `f` was hit in the pool.
    pub fn hit(&mut self, f: usize) {
        if self.links[f].list == List::Am {
            self.unlink(f);
            self.push_head(f, List::Am);
        }
    }

    /// Frame `f` now holds page `id`, just read in (or created).
    pub fn admit(&mut self, f: usize, id: PageId) {
        if self.a1out_set.remove(&id).is_some() {
            self.push_head(f, List::Am);
        } else {
            self.push_head(f, List::A1in);
        }
    }

    /// Frame `f`, which held `id`, is being reused for another page.
    pub fn evict(&mut self, f: usize, id: PageId) {
        if self.links[f].list == List::A1in {
            self.remember(id);
        }
        self.unlink(f);
    }

    /// Frame `f` holds nothing any more (a failed read).
    pub fn release(&mut self, f: usize) {
        self.unlink(f);
        self.free.push(f as u32);
    }

    fn remember(&mut self, id: PageId) {
        if self.a1out_set.insert(id, 0).is_none() {
            self.a1out.push_back(id);
        }
        while self.a1out.len() > self.a1out_max {
            if let Some(old) = self.a1out.pop_front() {
                self.a1out_set.remove(&old);
            }
        }
        // a1out may hold stale ids that were promoted; keep the deque bounded
        if self.a1out.len() > 2 * self.a1out_max {
            self.a1out.retain(|p| self.a1out_set.contains_key(p));
        }
    }

    /// The first frame, in eviction order, for which `ok` holds: A1in's
    /// oldest first while A1in is over its share, else Am's least recent.
    pub fn find_victim(&self, mut ok: impl FnMut(usize) -> bool) -> Option<usize> {
        let order = if self.a1in.len > self.a1in_target || self.am.len == 0 {
            [self.a1in.tail, self.am.tail]
        } else {
            [self.am.tail, self.a1in.tail]
        };
        for start in order {
            let mut f = start;
            while f != NIL {
                if ok(f as usize) {
                    return Some(f as usize);
                }
                f = self.links[f as usize].prev;
            }
        }
        None
    }

    #[cfg(test)]
    fn in_am(&self, f: usize) -> bool {
        self.links[f].list == List::Am
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a pool of `frames` over page references; returns hits.
    fn simulate(q: &mut TwoQ, frames: &mut [Option<PageId>], refs: &[u32]) -> usize {
        let mut hits = 0;
        for &r in refs {
            let id = PageId(r);
            if let Some(f) = frames.iter().position(|x| *x == Some(id)) {
                q.hit(f);
                hits += 1;
                continue;
            }
            let f = match q.take_free() {
                Some(f) => f,
                None => {
                    let f = q.find_victim(|_| true).unwrap();
                    q.evict(f, frames[f].unwrap());
                    f
                }
            };
            frames[f] = Some(id);
            q.admit(f, id);
        }
        hits
    }

    #[test]
    fn a_long_scan_does_not_evict_the_hot_set() {
        let n = 64;
        let mut q = TwoQ::new(n);
        let mut frames = vec![None; n];
        // establish a hot set of 16 pages: referenced, pushed out of A1in by
        // once-only traffic, referenced again -> promoted to Am
        let hot: Vec<u32> = (1..=16).collect();
        simulate(&mut q, &mut frames, &hot);
        let filler: Vec<u32> = (1000..1000 + n as u32).collect();
        simulate(&mut q, &mut frames, &filler);
        assert_eq!(
            simulate(&mut q, &mut frames, &hot),
            0,
            "hot pages should have left A1in"
        );
        // a scan of 20x the pool, each page once, with the hot set in use
        // only before and after
        let scan: Vec<u32> = (10_000..10_000 + 20 * n as u32).collect();
        simulate(&mut q, &mut frames, &scan);
        let hits = simulate(&mut q, &mut frames, &hot);
        assert_eq!(hits, hot.len(), "scan flushed hot pages out of the pool");
        for (f, id) in frames.iter().enumerate() {
            if id.is_some_and(|id| id.0 <= 16) {
                assert!(q.in_am(f), "hot page outside Am");
            }
        }
    }

    #[test]
    fn victims_skip_frames_the_pool_refuses() {
        let mut q = TwoQ::new(4);
        for i in 0..4 {
            let f = q.take_free().unwrap();
            q.admit(f, PageId(i + 1));
        }
        // refuse everything but frame 2
        assert_eq!(q.find_victim(|f| f == 2), Some(2));
        assert_eq!(q.find_victim(|_| false), None);
    }
}
