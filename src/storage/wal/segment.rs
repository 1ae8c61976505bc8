//! Log segments: the log is one stream of bytes (LSN = position in it) cut
//! into fixed-size files under `wal/`, each named by the LSN it starts at.
//!
//! ```text
//!  LSN  0              S              2S             3S
//!       |--- segment 0 --|--- segment 1 --|--- segment 2 --|
//!  file wal/0000000000000000  wal/0000000001000000  ...      (S = 16 MiB here)
//!       [hdr 32][ S bytes of records, a record may run on into the next file ]
//! ```
//!
//! A segment file is a 32-byte header followed by exactly `segment_bytes` of
//! log data; it is preallocated (zero-filled) when created so that appending
//! never changes the file's size and `fdatasync` has no metadata to flush.
//! Zeros are not a valid record, so the log ends at the first zero header.
//!
//! Segment header:
//!
//! | offset | size | meaning                                  |
//! |-------:|-----:|------------------------------------------|
//! |      0 |    8 | magic `ARBORWAL`                         |
//! |      8 |    4 | format version (1)                       |
//! |     12 |    4 | reserved, zero                           |
//! |     16 |    8 | LSN of the segment's first byte          |
//! |     24 |    4 | segment data size in bytes               |
//! |     28 |    4 | CRC32 of bytes 0..28                     |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::storage::Lsn;
use crate::storage::disk::{FileIo, Vfs};

use super::WalError;

pub const SEGMENT_HEADER_BYTES: u64 = 32;
const MAGIC: &[u8; 8] = b"ARBORWAL";
const VERSION: u32 = 1;
/// The directory of the log, relative to the data directory.
pub const WAL_DIR: &str = "wal";

/// Path of the segment starting at `start`.
pub fn segment_path(start: Lsn) -> PathBuf {
    Path::new(WAL_DIR).join(format!("{:016X}", start.0))
}

/// The start LSN a segment file name stands for, if it is one.
pub fn parse_segment_name(path: &Path) -> Option<Lsn> {
    let name = path.file_name()?.to_str()?;
    if name.len() != 16 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(name, 16).ok().map(Lsn)
}

fn header(start: Lsn, segment_bytes: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES as usize];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&start.0.to_le_bytes());
    h[24..28].copy_from_slice(&(segment_bytes as u32).to_le_bytes());
    let crc = crc32fast::hash(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

fn io_err(path: &Path, source: std::io::Error) -> WalError {
    WalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Checks a segment's header; `Err` says what is wrong with it.
fn check_header(file: &dyn FileIo, start: Lsn, segment_bytes: u64) -> Result<(), String> {
    let mut h = [0u8; SEGMENT_HEADER_BYTES as usize];
    file.read_at(&mut h, 0)
        .map_err(|e| format!("cannot read header: {e}"))?;
    if &h[0..8] != MAGIC {
        return Err("bad magic".into());
    }
    if crc32fast::hash(&h[0..28]).to_le_bytes() != h[28..32] {
        return Err("header checksum mismatch".into());
    }
    if h[8..12] != VERSION.to_le_bytes() {
        return Err("unknown format version".into());
    }
    if h[16..24] != start.0.to_le_bytes() {
        return Err("start LSN does not match the file name".into());
    }
    if h[24..28] != (segment_bytes as u32).to_le_bytes() {
        return Err(format!(
            "segment size {} differs from the log's {segment_bytes}",
            u32::from_le_bytes([h[24], h[25], h[26], h[27]])
        ));
    }
    Ok(())
}

/// The segments of one log: sorted by start LSN, contiguous.
pub struct Segments {
    vfs: Arc<dyn Vfs>,
    pub segment_bytes: u64,
    /// Start LSN -> file. Only the single flusher adds segments; removal
    /// never touches the segment being appended to.
    files: RwLock<BTreeMap<u64, Arc<dyn FileIo>>>,
}

impl Segments {
    /// An empty set (a new log); the directory is created.
    pub fn create(vfs: Arc<dyn Vfs>, segment_bytes: u64) -> Result<Segments, WalError> {
        vfs.create_dir_all(Path::new(WAL_DIR))
            .map_err(|e| io_err(Path::new(WAL_DIR), e))?;
        Ok(Segments {
            vfs,
            segment_bytes,
            files: RwLock::new(BTreeMap::new()),
        })
    }

    /// Opens the segments found in `wal/`. A missing segment between two
    /// present ones, or a bad header on any but the newest, is corruption; a
    /// bad header on the newest is a segment whose creation a crash cut short,
    /// and it is removed.
    pub fn open(vfs: Arc<dyn Vfs>, segment_bytes: u64) -> Result<Segments, WalError> {
        let dir = Path::new(WAL_DIR);
        let names = vfs.list(dir).map_err(|e| io_err(dir, e))?;
        let mut starts: Vec<Lsn> = names.iter().filter_map(|p| parse_segment_name(p)).collect();
        starts.sort();
        let mut files = BTreeMap::new();
        for (i, &start) in starts.iter().enumerate() {
            let path = segment_path(start);
            if start.0 % segment_bytes != 0 {
                return Err(WalError::Corrupt {
                    lsn: start,
                    reason: format!(
                        "segment {} does not start on a {segment_bytes}-byte boundary",
                        path.display()
                    ),
                });
            }
            if let Some(&prev) = files.keys().next_back()
                && prev + segment_bytes != start.0
            {
                return Err(WalError::Corrupt {
                    lsn: Lsn(prev + segment_bytes),
                    reason: format!(
                        "log segment {} is missing",
                        segment_path(Lsn(prev + segment_bytes)).display()
                    ),
                });
            }
            let file = vfs.open(&path, false).map_err(|e| io_err(&path, e))?;
            if let Err(reason) = check_header(file.as_ref(), start, segment_bytes) {
                if i + 1 == starts.len() {
                    tracing::warn!(
                        segment = %path.display(),
                        %reason,
                        "removing a log segment whose creation was cut short by a crash"
                    );
                    vfs.remove(&path).map_err(|e| io_err(&path, e))?;
                    vfs.sync_dir(dir).map_err(|e| io_err(dir, e))?;
                    break;
                }
                return Err(WalError::Corrupt {
                    lsn: start,
                    reason: format!("log segment {}: {reason}", path.display()),
                });
            }
            files.insert(start.0, file);
        }
        Ok(Segments {
            vfs,
            segment_bytes,
            files: RwLock::new(files),
        })
    }

    /// Start LSN of the segment holding `lsn`.
    pub fn segment_start(&self, lsn: Lsn) -> u64 {
        lsn.0 - lsn.0 % self.segment_bytes
    }

    /// The first LSN any present segment holds.
    pub fn first_lsn(&self) -> Option<Lsn> {
        self.files.read().keys().next().map(|&s| Lsn(s))
    }

    /// One past the last LSN the present segments can hold.
    pub fn end_capacity(&self) -> Option<Lsn> {
        self.files
            .read()
            .keys()
            .next_back()
            .map(|&s| Lsn(s + self.segment_bytes))
    }

    /// Start LSNs of the present segments, oldest first.
    pub fn starts(&self) -> Vec<Lsn> {
        self.files.read().keys().map(|&s| Lsn(s)).collect()
    }

    /// The file of the segment starting at `start`, creating (preallocating,
    /// syncing, and making its directory entry durable) if absent.
    pub fn file_for_write(&self, start: u64) -> Result<Arc<dyn FileIo>, WalError> {
        if let Some(f) = self.files.read().get(&start) {
            return Ok(f.clone());
        }
        let path = segment_path(Lsn(start));
        let file = self.vfs.open(&path, true).map_err(|e| io_err(&path, e))?;
        let zeros = vec![0u8; 1 << 20];
        let total = SEGMENT_HEADER_BYTES + self.segment_bytes;
        let mut off = 0;
        while off < total {
            let n = (total - off).min(zeros.len() as u64) as usize;
            file.write_at(&zeros[..n], off)
                .map_err(|e| io_err(&path, e))?;
            off += n as u64;
        }
        file.write_at(&header(Lsn(start), self.segment_bytes), 0)
            .map_err(|e| io_err(&path, e))?;
        file.sync().map_err(|e| io_err(&path, e))?;
        let dir = Path::new(WAL_DIR);
        self.vfs.sync_dir(dir).map_err(|e| io_err(dir, e))?;
        self.files.write().insert(start, file.clone());
        Ok(file)
    }

    /// Writes `data` at `lsn` (possibly across segments) and syncs each file
    /// written, in order: no byte of a later segment is written before the
    /// earlier one is durable.
    pub fn write_and_sync(&self, lsn: Lsn, data: &[u8]) -> Result<(), WalError> {
        let mut pos = lsn.0;
        let mut rest = data;
        while !rest.is_empty() {
            let start = pos - pos % self.segment_bytes;
            let room = (start + self.segment_bytes - pos) as usize;
            let n = room.min(rest.len());
            let file = self.file_for_write(start)?;
            let path = segment_path(Lsn(start));
            file.write_at(&rest[..n], SEGMENT_HEADER_BYTES + (pos - start))
                .map_err(|e| io_err(&path, e))?;
            file.sync().map_err(|e| io_err(&path, e))?;
            pos += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Reads as many bytes at `lsn` as the present segments hold, up to
    /// `buf.len()`; returns how many were read.
    pub fn read(&self, lsn: Lsn, buf: &mut [u8]) -> Result<usize, WalError> {
        let mut pos = lsn.0;
        let mut done = 0;
        while done < buf.len() {
            let start = pos - pos % self.segment_bytes;
            let Some(file) = self.files.read().get(&start).cloned() else {
                break;
            };
            let path = segment_path(Lsn(start));
            // A segment whose preallocation a crash cut short is shorter than
            // its size: the bytes it lacks read as the end of the log.
            let file_len = file.len().map_err(|e| io_err(&path, e))?;
            let present = file_len.saturating_sub(SEGMENT_HEADER_BYTES + (pos - start));
            let wanted = (start + self.segment_bytes - pos).min((buf.len() - done) as u64);
            let n = wanted.min(present) as usize;
            file.read_at(
                &mut buf[done..done + n],
                SEGMENT_HEADER_BYTES + (pos - start),
            )
            .map_err(|e| io_err(&path, e))?;
            done += n;
            pos += n as u64;
            if (n as u64) < wanted {
                break;
            }
        }
        Ok(done)
    }

    /// Zeroes the log from `from` to the end of its segment, and removes every
    /// later segment: the log then ends at `from`. A segment file shorter
    /// than its size (its preallocation, or a later write, cut short) is
    /// filled up with zeros again, so appending never changes its size.
    pub fn truncate_at(&self, from: Lsn) -> Result<(), WalError> {
        let start = self.segment_start(from);
        let file = self.files.read().get(&start).cloned();
        if let Some(file) = file {
            let path = segment_path(Lsn(start));
            let end = start + self.segment_bytes;
            let total = SEGMENT_HEADER_BYTES + self.segment_bytes;
            let file_len = file.len().map_err(|e| io_err(&path, e))?;
            // LSNs below `present_end` have bytes in the file.
            let present_end = start
                + file_len
                    .saturating_sub(SEGMENT_HEADER_BYTES)
                    .min(self.segment_bytes);
            let zeros = vec![0u8; 1 << 20];
            let mut pos = from.0;
            // Only the non-zero stretch needs zeroing; find where it ends.
            let mut last_nonzero = None;
            let mut chunk = vec![0u8; 1 << 20];
            while pos < present_end {
                let n = ((present_end - pos) as usize).min(chunk.len());
                file.read_at(&mut chunk[..n], SEGMENT_HEADER_BYTES + (pos - start))
                    .map_err(|e| io_err(&path, e))?;
                if let Some(i) = chunk[..n].iter().rposition(|&b| b != 0) {
                    last_nonzero = Some(pos + i as u64);
                }
                pos += n as u64;
            }
            let mut wrote = false;
            if let Some(last) = last_nonzero {
                let mut pos = from.0;
                while pos <= last {
                    let n = ((last + 1 - pos) as usize).min(zeros.len());
                    file.write_at(&zeros[..n], SEGMENT_HEADER_BYTES + (pos - start))
                        .map_err(|e| io_err(&path, e))?;
                    pos += n as u64;
                }
                wrote = true;
            }
            if file_len < total {
                tracing::warn!(
                    segment = %path.display(),
                    bytes = file_len,
                    expected = total,
                    "log segment is shorter than its size; filling it up with zeros"
                );
                let mut off = file_len;
                while off < total {
                    let n = (total - off).min(zeros.len() as u64) as usize;
                    file.write_at(&zeros[..n], off)
                        .map_err(|e| io_err(&path, e))?;
                    off += n as u64;
                }
                wrote = true;
            }
            if wrote {
                file.sync().map_err(|e| io_err(&path, e))?;
            }
            debug_assert!(end == present_end || file_len < total);
        }
        // Newest first, so a crash leaves a prefix of the log.
        let later: Vec<u64> = self
            .files
            .read()
            .range(start + 1..)
            .rev()
            .map(|(&s, _)| s)
            .collect();
        self.remove(&later)
    }

    /// Removes the segments `starts`, in that order, each removal durable
    /// before the next: a crash leaves the present segments contiguous.
    fn remove(&self, starts: &[u64]) -> Result<(), WalError> {
        let dir = Path::new(WAL_DIR);
        for &s in starts {
            let path = segment_path(Lsn(s));
            self.vfs.remove(&path).map_err(|e| io_err(&path, e))?;
            self.files.write().remove(&s);
            self.vfs.sync_dir(dir).map_err(|e| io_err(dir, e))?;
        }
        Ok(())
    }

    /// Removes every segment that lies wholly below `lsn`, except the one
    /// holding `keep` (the append position). Returns how many were removed.
    pub fn remove_below(&self, lsn: Lsn, keep: Lsn) -> Result<usize, WalError> {
        let keep_start = self.segment_start(keep);
        let old: Vec<u64> = self
            .files
            .read()
            .keys()
            .copied()
            .filter(|&s| s + self.segment_bytes <= lsn.0 && s != keep_start)
            .collect();
        self.remove(&old)?;
        Ok(old.len())
    }
}
