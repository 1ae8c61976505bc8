//! Several threads inserting, deleting and scanning disjoint and overlapping
//! key ranges of the same trees at once, on a pool small enough to evict;
//! then a full check and a comparison with what each thread knows it left.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arbordb::storage::{Engine, EngineOptions};

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn key(owner: u64, n: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(12);
    k.extend_from_slice(&(n % 4096).to_be_bytes()[6..]); // interleave owners in key order
    k.extend_from_slice(&owner.to_be_bytes()[7..]);
    k.extend_from_slice(&n.to_be_bytes()[4..]);
    k
}

#[test]
fn threads_writing_and_scanning_one_tree_leave_it_consistent() {
    let seed = std::env::var("STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_u64);
    eprintln!("STRESS_SEED={seed}");
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 64,
    })
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let shared = engine.create_tree().unwrap(); // overlapping keys: every thread
    let stop = Arc::new(AtomicBool::new(false));
    let writers = 3u64;
    let ops = 4000u64;
    let models: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = std::thread::scope(|s| {
        // a scanner: every scan must be strictly ordered in both directions
        let scanner = {
            let tree = tree.clone();
            let stop = stop.clone();
            s.spawn(move || {
                let mut scans = 0;
                while !stop.load(Ordering::Relaxed) || scans < 3 {
                    let mut last: Option<Vec<u8>> = None;
                    for e in tree.iter() {
                        let (k, v) = e.unwrap();
                        assert!(
                            last.as_ref().is_none_or(|l| *l < k),
                            "forward scan out of order"
                        );
                        assert_eq!(v[..4], k[k.len() - 4..], "value does not belong to key");
                        last = Some(k);
                    }
                    let mut last: Option<Vec<u8>> = None;
                    for e in tree.iter_rev() {
                        let (k, _) = e.unwrap();
                        assert!(
                            last.as_ref().is_none_or(|l| *l > k),
                            "backward scan out of order"
                        );
                        last = Some(k);
                    }
                    scans += 1;
                }
                scans
            })
        };
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let tree = tree.clone();
                let shared = shared.clone();
                s.spawn(move || {
                    let mut next = rng(seed ^ (w + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let mut model = BTreeMap::new();
                    for _ in 0..ops {
                        let r = next();
                        let n = r % 3000;
                        let k = key(w, n);
                        let mut v = (n as u32).to_be_bytes().to_vec();
                        v.resize(4 + (r >> 20) as usize % 200, w as u8);
                        if r % 5 < 3 {
                            tree.insert(&k, &v).unwrap();
                            model.insert(k, v.clone());
                        } else {
                            let had = tree.delete(&k).unwrap();
                            assert_eq!(had, model.remove(&k).is_some(), "lost or phantom key");
                        }
                        // overlapping: all threads hammer the same small key set
                        let sk = (r % 64).to_be_bytes();
                        if r.is_multiple_of(50) {
                            // overflow chains written and freed concurrently
                            shared.insert(&sk, &vec![w as u8; 20_000]).unwrap();
                        } else if r.is_multiple_of(2) {
                            shared.insert(&sk, &v).unwrap();
                        } else {
                            shared.delete(&sk).unwrap();
                        }
                        if r.is_multiple_of(97) {
                            let lo = key(w, n);
                            let got: Vec<_> = tree
                                .range(Bound::Included(&lo[..]), Bound::Unbounded)
                                .take(20)
                                .map(|e| e.unwrap().0)
                                .collect();
                            assert!(got.windows(2).all(|p| p[0] < p[1]));
                        }
                    }
                    model
                })
            })
            .collect();
        let models = handles.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        assert!(scanner.join().unwrap() >= 3);
        models
    });
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "seed {seed}: {report}");
    let mut want: Vec<(Vec<u8>, Vec<u8>)> = models.into_iter().flatten().collect();
    want.sort();
    let got: Vec<_> = tree.iter().map(|e| e.unwrap()).collect();
    assert_eq!(got.len(), want.len(), "seed {seed}");
    assert!(
        got == want,
        "seed {seed}: contents differ from the writers' models"
    );
    for e in shared.iter() {
        let (k, v) = e.unwrap();
        assert_eq!(k.len(), 8);
        assert!(
            v.len() == 20_000 || v.len() < 210,
            "torn value of {} bytes",
            v.len()
        );
    }
}

/// Deleters drain blocks of keys next to blocks nobody touches, so leaves
/// and interior nodes merge and borrow from their siblings while a scanner
/// walks the tree both ways; every key that stays must be seen by every
/// scan, in order, and the tree must check clean and compact afterwards.
#[test]
fn threads_draining_ranges_merge_and_borrow_while_scans_see_every_stable_key() {
    let seed = std::env::var("STRESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xd1a1_u64);
    eprintln!("STRESS_SEED={seed}");
    let engine = Engine::in_memory(EngineOptions {
        buffer_pool_frames: 64,
    })
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let n = 24_000u32;
    let block = |k: u32| (k / 1500) % 4; // blocks 0..3 drained by thread b, block 3 untouched
    let stable = |k: u32| block(k) == 3 || k.is_multiple_of(40);
    let val = |k: u32| {
        let mut v = k.to_be_bytes().to_vec();
        v.resize(4 + (k % 7) as usize * 10, k as u8);
        v
    };
    // insert in a scrambled order, so leaves are not packed
    let mut order: Vec<u32> = (0..n).collect();
    let mut next = rng(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    for &k in &order {
        tree.insert(&k.to_be_bytes(), &val(k)).unwrap();
    }
    let before = engine.tree_stats();
    let done = AtomicBool::new(false);
    let want_stable: Vec<u32> = (0..n).filter(|&k| stable(k)).collect();
    std::thread::scope(|s| {
        let scanner = s.spawn(|| {
            let mut scans = 0;
            while !done.load(Ordering::Relaxed) || scans < 2 {
                for reverse in [false, true] {
                    let mut c = if reverse {
                        tree.iter_rev()
                    } else {
                        tree.iter()
                    };
                    let mut last: Option<u32> = None;
                    let mut seen = Vec::new();
                    while let Some((k, v)) = c.next_ref().unwrap() {
                        let k = u32::from_be_bytes(k.try_into().unwrap());
                        assert_eq!(v, &val(k)[..], "seed {seed}: value does not belong to key");
                        if let Some(l) = last {
                            assert!(
                                if reverse { l > k } else { l < k },
                                "seed {seed}: out of order"
                            );
                        }
                        last = Some(k);
                        if stable(k) {
                            seen.push(k);
                        }
                    }
                    if reverse {
                        seen.reverse();
                    }
                    assert!(
                        seen == want_stable,
                        "seed {seed}: a scan missed a stable key (reverse {reverse})"
                    );
                }
                scans += 1;
            }
        });
        let deleters: Vec<_> = (0..3u32)
            .map(|b| {
                let tree = tree.clone();
                s.spawn(move || {
                    let mut mine: Vec<u32> =
                        (0..n).filter(|&k| block(k) == b && !stable(k)).collect();
                    let mut next = rng(seed ^ (u64::from(b + 1) * 0x9E37_79B9));
                    for i in (1..mine.len()).rev() {
                        mine.swap(i, (next() % (i as u64 + 1)) as usize);
                    }
                    for k in mine {
                        assert!(
                            tree.delete(&k.to_be_bytes()).unwrap(),
                            "seed {seed}: lost key {k}"
                        );
                    }
                })
            })
            .collect();
        for d in deleters {
            d.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        scanner.join().unwrap();
    });
    let report = engine.check().unwrap();
    assert!(report.is_ok(), "seed {seed}: {report}");
    let got: Vec<u32> = tree
        .iter()
        .map(|e| u32::from_be_bytes(e.unwrap().0[..].try_into().unwrap()))
        .collect();
    assert_eq!(got, want_stable, "seed {seed}");
    let stats = engine.tree_stats();
    assert!(
        stats.merges > before.merges,
        "seed {seed}: no merges: {stats:?}"
    );
    assert!(
        stats.redistributions > before.redistributions,
        "seed {seed}: no sibling borrowed: {stats:?}"
    );
}
