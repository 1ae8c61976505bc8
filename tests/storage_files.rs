//! The data file on disk: reopen after a clean close keeps everything;
//! a flipped byte is reported (naming file and page) by the next read and
//! by the checker; data many times the pool size works.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use arbordb::storage::engine::DATA_FILE_NAME;
use arbordb::storage::{Engine, EngineOptions, PAGE_SIZE, StorageError};
use arbordb::{Error, SqlState};

fn opts(frames: usize) -> EngineOptions {
    EngineOptions {
        buffer_pool_frames: frames,
    }
}

fn key(i: u32) -> [u8; 4] {
    (i.wrapping_mul(2_654_435_761)).to_be_bytes()
}

#[test]
fn reopen_after_clean_close_finds_every_tree_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (a_id, b_id);
    {
        let e = Engine::open_dir(dir.path(), opts(32)).unwrap();
        let a = e.create_tree().unwrap();
        let b = e.create_tree().unwrap();
        let gone = e.create_tree().unwrap();
        for i in 0..5000u32 {
            a.insert(&key(i), &i.to_le_bytes()).unwrap();
            gone.insert(&key(i), b"x").unwrap();
        }
        b.insert(b"big", &vec![9u8; 100_000]).unwrap();
        b.insert(b"small", b"s").unwrap();
        e.drop_tree(gone.id()).unwrap();
        (a_id, b_id) = (a.id(), b.id());
        e.close().unwrap();
    }
    let e = Engine::open_dir(dir.path(), opts(32)).unwrap();
    let ids: Vec<_> = e.trees().unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec![a_id, b_id]);
    let a = e.tree(a_id).unwrap();
    for i in 0..5000u32 {
        assert_eq!(
            a.get(&key(i)).unwrap(),
            Some(i.to_le_bytes().to_vec()),
            "key {i}"
        );
    }
    assert_eq!(a.iter().count(), 5000);
    let b = e.tree(b_id).unwrap();
    assert_eq!(b.get(b"big").unwrap(), Some(vec![9u8; 100_000]));
    assert_eq!(b.get(b"small").unwrap(), Some(b"s".to_vec()));
    let report = e.check().unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(
        report.free_pages >= 5,
        "dropped tree's pages not free: {report}"
    );
    // a new tree reuses freed pages instead of growing the file
    let (pages, _) = e.page_counts().unwrap();
    let c = e.create_tree().unwrap();
    for i in 0..1000u32 {
        c.insert(&key(i), b"y").unwrap();
    }
    assert_eq!(e.page_counts().unwrap().0, pages);
}

#[test]
fn a_flipped_byte_on_disk_is_reported_by_the_next_read_and_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open_dir(dir.path(), opts(16)).unwrap();
    let t = e.create_tree().unwrap();
    for i in 0..3000u32 {
        t.insert(&key(i), &[1u8; 40]).unwrap();
    }
    e.discard_cache().unwrap();
    // find a leaf: the one holding key(0)
    let path = dir.path().join(DATA_FILE_NAME);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let pages = f.metadata().unwrap().len() / PAGE_SIZE as u64;
    let mut victim = None;
    for p in 2..pages {
        let mut buf = vec![0u8; PAGE_SIZE];
        f.read_exact_at(&mut buf, p * PAGE_SIZE as u64).unwrap();
        if buf.windows(4).any(|w| w == key(0)) && buf[16] == 3 {
            victim = Some(p);
            break;
        }
    }
    let victim = victim.expect("leaf with key 0");
    let off = victim * PAGE_SIZE as u64 + 4000;
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, off).unwrap();
    f.write_all_at(&[b[0] ^ 0x10], off).unwrap();
    f.sync_all().unwrap();

    let err = t.get(&key(0)).unwrap_err();
    match &err {
        StorageError::Corrupt { file, page, .. } => {
            assert_eq!(file, DATA_FILE_NAME);
            assert_eq!(u64::from(page.0), victim);
        }
        other => panic!("expected corruption, got {other}"),
    }
    let top: Error = err.into();
    assert_eq!(top.sqlstate, SqlState::DATA_CORRUPTED);
    assert!(
        top.message.contains(&format!("block {victim}")),
        "{}",
        top.message
    );
    // still reported, not cached, on the second read; scans fail too
    assert!(t.get(&key(0)).is_err());
    assert!(t.iter().any(|r| r.is_err()));
    let report = e.check().unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .faults
            .iter()
            .any(|f| f.contains(&format!("block {victim}"))),
        "{report}"
    );
    // other leaves still answer
    let ok = (0..3000u32).filter(|&i| t.get(&key(i)).is_ok()).count();
    assert!(ok > 2000, "{ok}");
}

#[test]
fn data_many_times_the_pool_works_and_memory_stays_bounded() {
    let e = Engine::in_memory(opts(16)).unwrap();
    let t = e.create_tree().unwrap();
    let n = 20_000u32;
    for i in 0..n {
        t.insert(&key(i), &[i as u8; 100]).unwrap();
    }
    let (pages, _) = e.page_counts().unwrap();
    assert!(pages > 16 * 10, "data only {pages} pages");
    for i in (0..n).step_by(7) {
        assert_eq!(t.get(&key(i)).unwrap(), Some(vec![i as u8; 100]));
    }
    assert_eq!(t.iter().count(), n as usize);
    let s = e.pool_stats();
    assert!(s.evictions > u64::from(pages), "{s:?}");
    assert!(e.check().unwrap().is_ok());
}

#[test]
fn oversized_keys_are_rejected_with_54000_and_64_mib_values_round_trip() {
    let e = Engine::in_memory(opts(64)).unwrap();
    let t = e.create_tree().unwrap();
    let err: Error = t.insert(&[0u8; 2049], b"v").unwrap_err().into();
    assert_eq!(err.sqlstate, SqlState::PROGRAM_LIMIT_EXCEEDED);
    t.insert(&[0u8; 2048], b"max key").unwrap();
    let big: Vec<u8> = (0..64 << 20).map(|i: u32| (i % 253) as u8).collect();
    t.insert(b"big", &big).unwrap();
    assert!(t.get(b"big").unwrap() == Some(big.clone()));
    let (pages_with, _) = e.page_counts().unwrap();
    assert!(pages_with > 8000);
    t.insert(b"big", b"small now").unwrap();
    let report = e.check().unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(report.free_pages > 8000, "old chain not freed: {report}");
}

#[test]
fn opening_a_file_that_is_not_a_data_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(DATA_FILE_NAME), vec![0xAB; PAGE_SIZE * 2]).unwrap();
    let err = Engine::open_dir(dir.path(), opts(16))
        .err()
        .expect("opened garbage");
    assert_eq!(Error::from(err).sqlstate, SqlState::DATA_CORRUPTED);
}
