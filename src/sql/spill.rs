//! Temporary files for operators that outgrow `work_mem`: sorts, hash
//! aggregations and hash joins write rows here and read them back.
//!
//! ```text
//!   <data-dir>/tmp/                  emptied when the database opens
//!     spill.<pid>.<n>                one run / partition, removed on drop
//!
//!   file  = block*
//!   block = payload length u32 LE | row count u32 LE | CRC32 u32 LE | payload
//!   payload = row*                   row::encode_tagged (count, tagged values)
//! ```
//!
//! The CRC32 (crc32fast) covers the length, the count and the payload; a
//! block that does not match, ends early or does not decode is XX001, never
//! wrong rows. An in-memory database spills to a private directory under
//! the system's temporary directory, removed with the database.
//!
//! Owns: the temporary area, the file format, memory estimates of rows,
//! and the external sort (sorted runs, k-way merge).
//! Invariant: every file is removed when its handle drops: when the query
//! ends, fails or is canceled.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock, Weak};

use crate::catalog::row::{decode_tagged, encode_tagged};
use crate::error::{Error, Result, SqlState};
use crate::types::Value;

use super::execute::Row;

/// A block is written once its payload reaches this many bytes.
const BLOCK_BYTES: usize = 8 * 1024;
/// A block header: payload length, row count, CRC32.
const HEADER_BYTES: usize = 12;
/// No block is larger (a longer length field is corruption).
const MAX_BLOCK_BYTES: usize = 1 << 30;
/// At most this many runs are merged at once (more are merged in passes),
/// fewer if their read buffers would not fit in `work_mem`, but never
/// fewer than [`MIN_FAN_IN`] (as PostgreSQL's tuplesort, MINORDER 6).
const MERGE_FAN_IN: usize = 64;
const MIN_FAN_IN: usize = 6;

/// Temporary files created by this process so far (tests read it).
static FILES_CREATED: AtomicU64 = AtomicU64::new(0);
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);
static NEXT_AREA: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_FILES_CREATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many temporary files this process has created.
pub fn files_created() -> u64 {
    FILES_CREATED.load(AtomicOrdering::Relaxed)
}

/// How many temporary files statements run on this thread have created
/// (an embedded session runs its statements on the caller's thread).
pub fn files_created_on_this_thread() -> u64 {
    THREAD_FILES_CREATED.with(std::cell::Cell::get)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(
        SqlState::IO_ERROR,
        format!(
            "could not {what} temporary file \"{}\": {e}",
            path.display()
        ),
    )
}

fn corrupt(path: &Path, what: &str) -> Error {
    Error::new(
        SqlState::DATA_CORRUPTED,
        format!("temporary file \"{}\" is corrupt: {what}", path.display()),
    )
}

/// Where one database's temporary files go.
#[derive(Debug)]
pub struct TempArea {
    dir: PathBuf,
    /// A private directory (in-memory database): removed with the area.
    private: bool,
}

impl TempArea {
    /// `<data_dir>/tmp`, emptied of what an earlier run left behind.
    pub fn in_data_dir(data_dir: &Path) -> Result<TempArea> {
        let dir = data_dir.join("tmp");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                Error::new(
                    SqlState::IO_ERROR,
                    format!(
                        "could not remove temporary directory \"{}\": {e}",
                        dir.display()
                    ),
                )
            })?;
        }
        Ok(TempArea {
            dir,
            private: false,
        })
    }

    /// A directory of its own under the system's temporary directory,
    /// created on first use and removed when the area drops.
    pub fn private() -> TempArea {
        let n = NEXT_AREA.fetch_add(1, AtomicOrdering::Relaxed);
        TempArea {
            dir: std::env::temp_dir().join(format!("arbordb-tmp-{}-{n}", std::process::id())),
            private: true,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A new empty file, open for writing.
    fn create_file(&self) -> Result<(TempFile, File)> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_error("create", &self.dir, e))?;
        let n = NEXT_FILE.fetch_add(1, AtomicOrdering::Relaxed);
        let path = self.dir.join(format!("spill.{}.{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("create", &path, e))?;
        FILES_CREATED.fetch_add(1, AtomicOrdering::Relaxed);
        THREAD_FILES_CREATED.with(|n| n.set(n.get() + 1));
        Ok((TempFile { path }, file))
    }
}

impl Drop for TempArea {
    fn drop(&mut self) {
        if self.private {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

thread_local! {
    /// The temporary area of the database whose statement runs here.
    static CURRENT: RefCell<Weak<TempArea>> = const { RefCell::new(Weak::new()) };
}

/// Makes `area` this thread's temporary area (the session does this
/// before each statement). Held weakly: the database owns it.
pub fn set_context(area: &Arc<TempArea>) {
    CURRENT.with(|c| *c.borrow_mut() = Arc::downgrade(area));
}

/// The thread's temporary area; without a database (unit tests) one for
/// the process.
fn current() -> Arc<TempArea> {
    if let Some(a) = CURRENT.with(|c| c.borrow().upgrade()) {
        return a;
    }
    static FALLBACK: OnceLock<Arc<TempArea>> = OnceLock::new();
    FALLBACK
        .get_or_init(|| Arc::new(TempArea::private()))
        .clone()
}

/// A file in the temporary area, removed when dropped. Only a writer or
/// a reader holds it open: a sort's finished runs wait closed, so their
/// number is not bounded by the process's open files.
struct TempFile {
    path: PathBuf,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The estimated memory of a value: its inline size and what it owns.
pub fn value_size(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytea(b) => b.len(),
            Value::Numeric(n) => n.digits.len() * 2,
            Value::Array(items) => items.iter().map(value_size).sum(),
            Value::Jsonb(_) => 64,
            _ => 0,
        }
}

/// The estimated memory of a row held in a vector of rows.
pub fn row_size(row: &[Value]) -> usize {
    std::mem::size_of::<Row>() + row.iter().map(value_size).sum::<usize>()
}

/// Rows written to a new temporary file, block by block.
pub struct SpillWriter {
    file: TempFile,
    out: BufWriter<File>,
    block: Vec<u8>,
    block_rows: u32,
    rows: u64,
    bytes: u64,
}

impl SpillWriter {
    pub fn new() -> Result<SpillWriter> {
        let (file, handle) = current().create_file()?;
        Ok(SpillWriter {
            file,
            out: BufWriter::with_capacity(BLOCK_BYTES + HEADER_BYTES, handle),
            block: Vec::with_capacity(BLOCK_BYTES + 256),
            block_rows: 0,
            rows: 0,
            bytes: 0,
        })
    }

    pub fn push(&mut self, row: &[Value]) -> Result<()> {
        encode_tagged(&mut self.block, row);
        self.block_rows += 1;
        self.rows += 1;
        if self.block.len() >= BLOCK_BYTES || self.block_rows == u32::MAX {
            self.flush_block()?;
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block_rows == 0 {
            return Ok(());
        }
        let len = u32::try_from(self.block.len())
            .ok()
            .filter(|&l| (l as usize) < MAX_BLOCK_BYTES)
            .ok_or_else(|| {
                Error::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    "row too large for a temporary file",
                )
            })?;
        let mut header = [0u8; HEADER_BYTES];
        header[0..4].copy_from_slice(&len.to_le_bytes());
        header[4..8].copy_from_slice(&self.block_rows.to_le_bytes());
        let crc = block_crc(&header[0..8], &self.block);
        header[8..12].copy_from_slice(&crc.to_le_bytes());
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(&self.block))
            .map_err(|e| io_error("write to", &self.file.path, e))?;
        self.bytes += (HEADER_BYTES + self.block.len()) as u64;
        self.block.clear();
        self.block_rows = 0;
        Ok(())
    }

    /// The file, complete, ready to be read from the start.
    pub fn finish(mut self) -> Result<SpillRun> {
        self.flush_block()?;
        let SpillWriter {
            file,
            out,
            rows,
            bytes,
            ..
        } = self;
        // Flushed and closed.
        out.into_inner()
            .map_err(|e| io_error("write to", &file.path, e.into_error()))?;
        Ok(SpillRun { file, rows, bytes })
    }
}

fn block_crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(header);
    h.update(payload);
    h.finalize()
}

/// A finished temporary file of rows.
pub struct SpillRun {
    file: TempFile,
    rows: u64,
    bytes: u64,
}

impl SpillRun {
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reads the rows back in the order they were written (the file is
    /// removed when the reader drops).
    pub fn reader(self) -> Result<SpillReader> {
        let handle =
            File::open(&self.file.path).map_err(|e| io_error("open", &self.file.path, e))?;
        Ok(SpillReader {
            input: BufReader::with_capacity(BLOCK_BYTES + HEADER_BYTES, handle),
            file: self.file,
            block: Vec::new(),
            at: 0,
            left_in_block: 0,
            blocks: 0,
        })
    }

    #[cfg(test)]
    fn path(&self) -> &Path {
        &self.file.path
    }
}

/// Rows read back from a [`SpillRun`], block by block, each block's CRC
/// checked before any of its rows is handed out.
pub struct SpillReader {
    input: BufReader<File>,
    file: TempFile,
    block: Vec<u8>,
    at: usize,
    left_in_block: u32,
    blocks: u64,
}

impl SpillReader {
    /// The next row, `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        if self.left_in_block == 0 {
            if self.at != self.block.len() {
                return Err(corrupt(&self.file.path, "trailing bytes in a block"));
            }
            if !self.read_block()? {
                return Ok(None);
            }
        }
        let mut row = Vec::new();
        decode_tagged(&self.block, &mut self.at, &mut row)
            .map_err(|e| corrupt(&self.file.path, &e.message))?;
        self.left_in_block -= 1;
        Ok(Some(row))
    }

    /// Reads the next block; `false` at a clean end of the file.
    fn read_block(&mut self) -> Result<bool> {
        let path = &self.file.path;
        let mut header = [0u8; HEADER_BYTES];
        let mut got = 0;
        while got < HEADER_BYTES {
            match self.input.read(&mut header[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error("read", path, e)),
            }
        }
        if got == 0 {
            return Ok(false);
        }
        if got < HEADER_BYTES {
            return Err(corrupt(path, "block header cut short"));
        }
        let word =
            |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let len = word(0) as usize;
        let rows = word(4);
        let crc = word(8);
        if len >= MAX_BLOCK_BYTES || rows == 0 {
            return Err(corrupt(
                path,
                &format!("block {} has a bad header", self.blocks),
            ));
        }
        self.block.clear();
        self.block.resize(len, 0);
        self.input.read_exact(&mut self.block).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(path, &format!("block {} cut short", self.blocks))
            } else {
                io_error("read", path, e)
            }
        })?;
        if block_crc(&header[0..8], &self.block) != crc {
            return Err(corrupt(
                path,
                &format!("checksum mismatch in block {}", self.blocks),
            ));
        }
        self.blocks += 1;
        self.at = 0;
        self.left_in_block = rows;
        Ok(true)
    }
}

/// The rows a hash of `level` assigns to partition `i` of `n`.
pub fn partition_of<K: std::hash::Hash>(key: &K, level: u32, n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher();
    h.write_u32(level.wrapping_mul(0x9E37_79B9) ^ 0x5bd1_e995);
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

/// `n` partition files written side by side, each created with its
/// first row.
pub struct Partitions {
    writers: Vec<Option<SpillWriter>>,
}

impl Partitions {
    pub fn new(n: usize) -> Partitions {
        Partitions {
            writers: (0..n).map(|_| None).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.writers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.writers.is_empty()
    }

    pub fn push(&mut self, part: usize, row: &[Value]) -> Result<()> {
        let Some(slot) = self.writers.get_mut(part) else {
            return Err(Error::internal(format!("no partition {part}")));
        };
        let w = match slot {
            Some(w) => w,
            None => slot.insert(SpillWriter::new()?),
        };
        w.push(row)
    }

    /// The non-empty partitions' files.
    pub fn finish(self) -> Result<Vec<SpillRun>> {
        self.writers
            .into_iter()
            .flatten()
            .map(SpillWriter::finish)
            .collect()
    }

    /// Every partition's file (`None`: no row), by partition number.
    pub fn finish_all(self) -> Result<Vec<Option<SpillRun>>> {
        self.writers
            .into_iter()
            .map(|w| w.map(SpillWriter::finish).transpose())
            .collect()
    }
}

/// What a sort did, for EXPLAIN ANALYZE.
#[derive(Debug, Clone, Copy, Default)]
pub struct SortStats {
    pub external: bool,
    /// Peak memory (in memory) or bytes written (external).
    pub bytes: u64,
}

impl SortStats {
    /// PostgreSQL's `Sort Method: …` line.
    pub fn describe(&self) -> String {
        let kb = self.bytes.div_ceil(1024);
        if self.external {
            format!("Sort Method: external merge  Disk: {kb}kB")
        } else {
            format!("Sort Method: quicksort  Memory: {kb}kB")
        }
    }
}

/// A stable sort of rows that keeps at most about `limit` bytes of them
/// in memory: beyond that, sorted runs go to temporary files and are
/// merged at the end.
pub struct ExternalSort<C: FnMut(&Row, &Row) -> Ordering> {
    cmp: C,
    limit: usize,
    rows: Vec<Row>,
    mem: usize,
    peak: usize,
    runs: Vec<SpillRun>,
}

impl<C: FnMut(&Row, &Row) -> Ordering> ExternalSort<C> {
    pub fn new(limit: usize, cmp: C) -> ExternalSort<C> {
        ExternalSort {
            cmp,
            limit,
            rows: Vec::new(),
            mem: 0,
            peak: 0,
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Row) -> Result<()> {
        self.mem += row_size(&row);
        self.rows.push(row);
        if self.mem > self.limit && self.rows.len() > 1 {
            self.spill_run()?;
        }
        Ok(())
    }

    fn spill_run(&mut self) -> Result<()> {
        self.peak = self.peak.max(self.mem);
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(&mut self.cmp);
        let mut w = SpillWriter::new()?;
        for r in &rows {
            w.push(r)?;
        }
        self.runs.push(w.finish()?);
        self.mem = 0;
        Ok(())
    }

    /// Feeds the sorted rows to `sink` (which returns `false` to stop).
    pub fn finish(mut self, sink: &mut dyn FnMut(Row) -> Result<bool>) -> Result<SortStats> {
        if self.runs.is_empty() {
            let peak = self.mem.max(self.peak) as u64;
            let mut rows = std::mem::take(&mut self.rows);
            rows.sort_by(&mut self.cmp);
            for r in rows {
                if !sink(r)? {
                    break;
                }
            }
            return Ok(SortStats {
                external: false,
                bytes: peak,
            });
        }
        if !self.rows.is_empty() {
            self.spill_run()?;
        }
        let mut runs = std::mem::take(&mut self.runs);
        let mut disk: u64 = runs.iter().map(SpillRun::bytes).sum();
        // Merge passes until one merge can take every run; merging
        // neighbours keeps the sort stable.
        // Each run being merged holds a read buffer and a block.
        let fan_in =
            (self.limit / (2 * (BLOCK_BYTES + HEADER_BYTES))).clamp(MIN_FAN_IN, MERGE_FAN_IN);
        // Passes: each merges neighbouring groups of `fan_in` runs into
        // one (a pass reads every row once) until one merge takes them all.
        while runs.len() > fan_in {
            let mut next = Vec::with_capacity(runs.len().div_ceil(fan_in));
            let mut rest = runs.into_iter().peekable();
            while rest.peek().is_some() {
                let group: Vec<SpillRun> = rest.by_ref().take(fan_in).collect();
                if group.len() == 1 {
                    next.extend(group);
                    continue;
                }
                let mut w = SpillWriter::new()?;
                merge(group, &mut self.cmp, &mut |row| {
                    w.push(&row)?;
                    Ok(true)
                })?;
                let merged = w.finish()?;
                disk += merged.bytes();
                next.push(merged);
                super::signals::check()?;
            }
            runs = next;
        }
        merge(runs, &mut self.cmp, sink)?;
        Ok(SortStats {
            external: true,
            bytes: disk,
        })
    }
}

/// K-way merge of sorted runs through a binary heap of the runs' heads;
/// equal rows come out in run order (a stable merge).
fn merge<C: FnMut(&Row, &Row) -> Ordering>(
    runs: Vec<SpillRun>,
    cmp: &mut C,
    sink: &mut dyn FnMut(Row) -> Result<bool>,
) -> Result<()> {
    let mut readers = Vec::with_capacity(runs.len());
    for r in runs {
        readers.push(r.reader()?);
    }
    // heap[i] = (head row, run index); a min-heap by (row, run).
    let mut heap: Vec<(Row, usize)> = Vec::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some(row) = r.next_row()? {
            heap.push((row, i));
        }
    }
    let mut less = |a: &(Row, usize), b: &(Row, usize)| cmp(&a.0, &b.0).then(a.1.cmp(&b.1)).is_lt();
    for i in (0..heap.len() / 2).rev() {
        sift_down(&mut heap, i, &mut less);
    }
    while !heap.is_empty() {
        super::signals::check()?;
        let run = heap[0].1;
        let next = readers
            .get_mut(run)
            .map(SpillReader::next_row)
            .transpose()?
            .flatten();
        let row = match next {
            Some(next) => std::mem::replace(&mut heap[0].0, next),
            None => {
                let last = heap.len() - 1;
                heap.swap(0, last);
                match heap.pop() {
                    Some((row, _)) => row,
                    None => break,
                }
            }
        };
        sift_down(&mut heap, 0, &mut less);
        if !sink(row)? {
            break;
        }
    }
    Ok(())
}

fn sift_down<T>(heap: &mut [T], mut i: usize, less: &mut impl FnMut(&T, &T) -> bool) {
    loop {
        let l = 2 * i + 1;
        if l >= heap.len() {
            return;
        }
        let r = l + 1;
        let child = if r < heap.len() && less(&heap[r], &heap[l]) {
            r
        } else {
            l
        };
        if less(&heap[child], &heap[i]) {
            heap.swap(child, i);
            i = child;
        } else {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: i64) -> Vec<Row> {
        (0..n)
            .map(|i| {
                vec![
                    Value::Int8((i * 7919) % 1000),
                    Value::Text(format!("row {i}")),
                ]
            })
            .collect()
    }

    #[test]
    fn a_private_area_goes_with_its_database_and_a_data_dir_area_is_emptied() {
        let area = Arc::new(TempArea::private());
        set_context(&area);
        let mut w = SpillWriter::new().unwrap();
        w.push(&[Value::Int4(1)]).unwrap();
        let run = w.finish().unwrap();
        assert!(run.path().starts_with(area.dir()));
        let dir = area.dir().to_path_buf();
        assert!(dir.is_dir());
        drop(run);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        drop(area);
        assert!(!dir.exists(), "the private directory outlived its area");

        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("tmp").join("nested")).unwrap();
        std::fs::write(data.path().join("tmp").join("spill.9.9"), b"old").unwrap();
        let area = TempArea::in_data_dir(data.path()).unwrap();
        assert!(!area.dir().exists());
        drop(area);
        assert!(data.path().exists(), "the data directory itself stays");
    }

    /// A sort of many runs keeps them closed until the merge reads them
    /// (at most 64 at once), so it never runs out of file descriptors.
    #[cfg(target_os = "linux")]
    #[test]
    fn finished_runs_hold_no_file_descriptor() {
        let open = || std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
        let before = open();
        let mut runs = Vec::new();
        for i in 0..400 {
            let mut w = SpillWriter::new().unwrap();
            w.push(&[Value::Int4(i)]).unwrap();
            runs.push(w.finish().unwrap());
        }
        // Other tests of this process open files too: a margin, far below 400.
        assert!(
            open() < before + 100,
            "{} descriptors for 400 runs",
            open() - before
        );
        let mut r = runs.pop().unwrap().reader().unwrap();
        assert_eq!(r.next_row().unwrap(), Some(vec![Value::Int4(399)]));
        let mut s = ExternalSort::new(1, |a: &Row, b: &Row| b.len().cmp(&a.len()));
        for i in 0..3000 {
            s.push(vec![Value::Int4(i)]).unwrap();
        }
        let mut n = 0;
        s.finish(&mut |_| {
            n += 1;
            Ok(true)
        })
        .unwrap();
        assert_eq!(n, 3000);
    }

    #[test]
    fn spilled_rows_read_back_in_order() {
        let mut w = SpillWriter::new().unwrap();
        let input = rows(5000);
        for r in &input {
            w.push(r).unwrap();
        }
        let run = w.finish().unwrap();
        let path = run.path().to_path_buf();
        assert!(path.exists());
        let mut r = run.reader().unwrap();
        let mut back = Vec::new();
        while let Some(row) = r.next_row().unwrap() {
            back.push(row);
        }
        assert_eq!(back, input);
        drop(r);
        assert!(!path.exists(), "the file goes with its reader");
    }

    #[test]
    fn a_corrupted_block_is_xx001_not_wrong_rows() {
        let mut w = SpillWriter::new().unwrap();
        for r in &rows(3000) {
            w.push(r).unwrap();
        }
        let run = w.finish().unwrap();
        let path = run.path().to_path_buf();
        // Flip one byte in the middle of the file (inside some block).
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let mut r = run.reader().unwrap();
        let err = loop {
            match r.next_row() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a corrupted file read to its end"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.sqlstate, SqlState::DATA_CORRUPTED, "{err:?}");
        assert!(err.message.contains("checksum mismatch"), "{}", err.message);

        // Cut short: also XX001.
        let mut w = SpillWriter::new().unwrap();
        for r in &rows(3000) {
            w.push(r).unwrap();
        }
        let run = w.finish().unwrap();
        let len = std::fs::metadata(run.path()).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(run.path())
            .unwrap();
        f.set_len(len - 5).unwrap();
        let mut r = run.reader().unwrap();
        let err = loop {
            match r.next_row() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a truncated file read to its end"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.sqlstate, SqlState::DATA_CORRUPTED, "{err:?}");
    }

    #[test]
    fn external_sort_is_stable_and_matches_an_in_memory_sort() {
        let input = rows(20_000);
        let by_first = |a: &Row, b: &Row| match (&a[0], &b[0]) {
            (Value::Int8(x), Value::Int8(y)) => x.cmp(y),
            _ => Ordering::Equal,
        };
        // A small limit: many runs, and more than one merge pass.
        let mut s = ExternalSort::new(16 * 1024, by_first);
        for r in input.clone() {
            s.push(r).unwrap();
        }
        let mut out = Vec::new();
        let stats = s
            .finish(&mut |r| {
                out.push(r);
                Ok(true)
            })
            .unwrap();
        assert!(stats.external);
        let mut want = input;
        want.sort_by(by_first);
        assert_eq!(out, want);
    }
}
