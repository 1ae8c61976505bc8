//! Random operation sequences against the B+-tree and against
//! `std::collections::BTreeMap`, compared result by result, with keys and
//! values of every size class and a pool small enough to force evictions.

use std::collections::BTreeMap;
use std::ops::Bound;

use arbordb::storage::btree::{MAX_CELL_BYTES, MAX_KEY_BYTES};
use arbordb::storage::{Engine, EngineOptions, Tree};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Vec<u8>, Vec<u8>),
    Delete(usize, Vec<u8>),
    Get(usize, Vec<u8>),
    Scan(usize, Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    Prefix(usize, Vec<u8>, bool),
}

const TREES: usize = 3;

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(0u8..4, 0..4),            // tiny, many collisions
        4 => prop::collection::vec(any::<u8>(), 1..24),       // random short
        1 => Just(Vec::new()),                                 // empty
        1 => (0u8..3, MAX_KEY_BYTES - 8..=MAX_KEY_BYTES)      // near the key limit
            .prop_map(|(b, n)| vec![b; n]),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..16),
        1 => Just(Vec::new()),
        1 => (0usize..40).prop_map(|d| vec![7u8; MAX_CELL_BYTES - 24 - d]), // around the inline limit
        1 => (20_000usize..40_000).prop_map(|n| (0..n).map(|i| (i % 251) as u8).collect()), // overflow
    ]
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key().prop_map(Bound::Included),
        2 => key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TREES;
    prop_oneof![
        8 => (t.clone(), key(), value()).prop_map(|(t, k, v)| Op::Insert(t, k, v)),
        4 => (t.clone(), key()).prop_map(|(t, k)| Op::Delete(t, k)),
        2 => (t.clone(), key()).prop_map(|(t, k)| Op::Get(t, k)),
        1 => (t.clone(), bound(), bound(), any::<bool>()).prop_map(|(t, a, b, r)| Op::Scan(t, a, b, r)),
        1 => (t, prop::collection::vec(0u8..4, 0..3), any::<bool>()).prop_map(|(t, p, r)| Op::Prefix(t, p, r)),
    ]
}

fn scan_model(
    m: &BTreeMap<Vec<u8>, Vec<u8>>,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    // BTreeMap::range panics on inverted ranges; filter instead
    let inside = |k: &Vec<u8>| {
        (match lo {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        }) && (match hi {
            Bound::Included(h) => k <= h,
            Bound::Excluded(h) => k < h,
            Bound::Unbounded => true,
        })
    };
    let mut v: Vec<_> = m
        .iter()
        .filter(|(k, _)| inside(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rev {
        v.reverse();
    }
    v
}

fn collect(c: arbordb::storage::Cursor) -> Vec<(Vec<u8>, Vec<u8>)> {
    c.map(|e| e.unwrap()).collect()
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn run(ops: Vec<Op>) {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 16,
    })
    .unwrap();
    let trees: Vec<Tree> = (0..TREES).map(|_| engine.create_tree().unwrap()).collect();
    let mut models = vec![BTreeMap::new(); TREES];
    for op in ops {
        match op {
            Op::Insert(t, k, v) => {
                let replaced = trees[t].insert(&k, &v).unwrap();
                assert_eq!(replaced, models[t].insert(k, v).is_some());
            }
            Op::Delete(t, k) => {
                assert_eq!(trees[t].delete(&k).unwrap(), models[t].remove(&k).is_some());
            }
            Op::Get(t, k) => {
                assert_eq!(trees[t].get(&k).unwrap().as_ref(), models[t].get(&k));
            }
            Op::Scan(t, lo, hi, rev) => {
                let got = if rev {
                    collect(trees[t].range_rev(as_ref(&lo), as_ref(&hi)))
                } else {
                    collect(trees[t].range(as_ref(&lo), as_ref(&hi)))
                };
                assert_eq!(got, scan_model(&models[t], &lo, &hi, rev));
            }
            Op::Prefix(t, p, rev) => {
                let got = collect(trees[t].prefix(&p, rev));
                let mut want: Vec<_> = models[t]
                    .iter()
                    .filter(|(k, _)| k.starts_with(&p))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want);
            }
        }
    }
    for (t, tree) in trees.iter().enumerate() {
        let all = scan_model(&models[t], &Bound::Unbounded, &Bound::Unbounded, false);
        assert_eq!(collect(tree.iter()), all);
        let mut rev = all;
        rev.reverse();
        assert_eq!(collect(tree.iter_rev()), rev);
    }
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    // dropping every tree gives every page back
    for tree in &trees {
        engine.drop_tree(tree.id()).unwrap();
    }
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        report.tree_pages + report.free_pages + 1,
        report.pages,
        "{report}"
    );
    assert_eq!(
        report.tree_pages, 1,
        "only the directory root should remain: {report}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn tree_matches_btreemap_under_random_operations(ops in prop::collection::vec(op(), 1..300)) {
        run(ops);
    }
}

/// Many small keys: deep trees, many splits and merges, in a small pool.
#[test]
fn thousands_of_keys_split_and_merge_back_to_one_leaf() {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 32,
    })
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let mut model = BTreeMap::new();
    let mut x: u64 = 0x9E3779B97F4A7C15;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let k = (x % 50_000).to_be_bytes().to_vec();
        let v = i.to_le_bytes().repeat((x % 8) as usize);
        tree.insert(&k, &v).unwrap();
        model.insert(k, v);
    }
    assert!(engine.check().unwrap().is_ok());
    let (pages_full, _) = engine.page_counts().unwrap();
    assert!(pages_full > 50, "{pages_full}");
    let keys: Vec<_> = model.keys().cloned().collect();
    for (i, k) in keys.iter().enumerate() {
        if i % 10 != 0 {
            assert!(tree.delete(k).unwrap());
            model.remove(k);
        }
    }
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(
        report.free_pages > pages_full / 2,
        "merges did not free pages: {report}"
    );
    let got: Vec<_> = tree.iter().map(|e| e.unwrap()).collect();
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want);
    for k in model.keys().cloned().collect::<Vec<_>>() {
        assert!(tree.delete(&k).unwrap());
    }
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        report.tree_pages, 2,
        "directory root + empty tree root: {report}"
    );
}

/// Draining ranges of keys next to full leaves: under-full nodes borrow
/// from full siblings (no merge fits), sparse neighbours merge, and the
/// tree stays compact: every page left is in use, about as few as the
/// remaining bytes need.
#[test]
fn range_deletes_borrow_from_full_siblings_and_leave_the_tree_compact() {
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 32,
    })
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let mut model = BTreeMap::new();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..30_000 {
        let k = (rnd() % 60_000).to_be_bytes().to_vec();
        let v = vec![k[7]; (rnd() % 90) as usize];
        tree.insert(&k, &v).unwrap();
        model.insert(k, v);
    }
    let full = engine.check().unwrap();
    let before = engine.tree_stats();
    // drain every other run of 3000 key values, keeping one key in 50
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    for (i, k) in keys.iter().enumerate() {
        let kv = u64::from_be_bytes(k[..].try_into().unwrap());
        if (kv / 3000) % 2 == 0 && i % 50 != 0 {
            assert!(tree.delete(k).unwrap());
            model.remove(k);
        }
    }
    // and thin the rest at random
    for (i, k) in keys.iter().enumerate() {
        if model.contains_key(k) && i % 3 == 0 && rnd() % 2 == 0 {
            assert!(tree.delete(k).unwrap());
            model.remove(k);
        }
    }
    let got: Vec<_> = tree.iter().map(|e| e.unwrap()).collect();
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(got, want);
    let mut rev: Vec<_> = tree.iter_rev().map(|e| e.unwrap()).collect();
    rev.reverse();
    assert_eq!(rev, want);
    for (k, v) in model.iter().step_by(17) {
        assert_eq!(tree.get(k).unwrap().as_ref(), Some(v));
    }
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "{report}");
    let stats = engine.tree_stats();
    assert!(stats.merges > before.merges, "{stats:?}");
    assert!(stats.merges > before.merges, "{stats:?}");
    let live: usize = model.iter().map(|(k, v)| 4 + k.len() + v.len() + 2).sum();
    let quarter = arbordb::storage::btree::MIN_FILL_BYTES;
    let tree_pages = (report.tree_pages - 1) as usize; // minus the directory root
    eprintln!(
        "{stats:?} tree pages {tree_pages} live {live} bound {} {report}",
        live.div_ceil(quarter)
    );
    assert!(stats.redistributions > before.redistributions, "{stats:?}");
    // compact: no non-root node is left under a quarter full (without
    // borrowing, nodes next to full siblings would stay that way), and the
    // pages are about as few as the remaining bytes need
    assert_eq!(report.underfull_nodes, 0, "{report}");
    let live: usize = model.iter().map(|(k, v)| 4 + k.len() + v.len() + 2).sum();
    let tree_pages = (report.tree_pages - 1) as usize; // minus the directory root
    assert!(
        tree_pages <= live.div_ceil(arbordb::storage::btree::MIN_FILL_BYTES),
        "{tree_pages} pages for {live} live bytes (was {} pages full): {report}",
        full.tree_pages
    );
}
