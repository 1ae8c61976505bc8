//! `arbordb check`: a sound database passes (exit 0), a flipped byte in a
//! page on disk is reported as a fault (exit 1), and a directory held by a
//! running process is refused (exit 2) rather than checked under its feet.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Output};

use arbordb::Database;

const BIN: &str = env!("CARGO_BIN_EXE_arbordb");

fn check(dir: &Path) -> Output {
    Command::new(BIN)
        .args(["check", "--data-dir"])
        .arg(dir)
        .output()
        .unwrap()
}

/// A database with one tree of a few thousand keys (many pages), committed
/// through the log, then closed.
fn build(dir: &Path) {
    let db = Database::open(dir).unwrap();
    let durable = db.stack().durable.clone().expect("file-backed has a log");
    let tree = durable.create_tree().unwrap();
    let txn = durable.begin().unwrap();
    for i in 0..3000u32 {
        let key = format!("key-{i:08}");
        durable
            .insert(&txn, tree, key.as_bytes(), &[i as u8; 100])
            .unwrap();
    }
    durable.commit(&txn).unwrap();
    db.flush().unwrap();
}

#[test]
fn check_passes_a_sound_database_and_reports_a_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());

    let out = check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "sound database must pass: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 faults"), "{stdout}");
    let entries: u64 = stdout
        .split(", ")
        .find_map(|part| part.strip_suffix(" entries"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {stdout}"));
    assert!(entries >= 3000, "the 3000 keys are counted: {stdout}");

    // Flip one byte in the middle of page 3 (a tree page by now).
    let data = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.path().join("arbordb.data"))
        .unwrap();
    assert!(
        data.metadata().unwrap().len() > 4 * 8192,
        "several pages written"
    );
    let offset = 3 * 8192 + 4000;
    let mut byte = [0u8; 1];
    data.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x5a;
    data.write_all_at(&byte, offset).unwrap();
    data.sync_all().unwrap();
    drop(data);

    let out = check(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a flipped byte must be a fault: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("checksum") || stdout.contains("XX001"),
        "the fault names the checksum: {stdout}"
    );
}

#[test]
fn check_refuses_a_database_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Database::open(dir.path()).unwrap();
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_data_file_without_its_log_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    std::fs::remove_dir_all(dir.path().join("wal")).unwrap();
    let data = dir.path().join("arbordb.data");
    let before = std::fs::read(&data).unwrap();
    assert!(!before.is_empty());
    let out = check(dir.path());
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("write-ahead log"), "{stderr}");
    let e = Database::open(dir.path()).err().expect("open is refused");
    assert!(e.message.contains("wal/control"), "{}", e.message);
    assert_eq!(
        std::fs::read(&data).unwrap(),
        before,
        "the data file was changed"
    );
    assert!(
        !dir.path().join("wal/control").exists(),
        "a new log was started"
    );
}
