//! The log manager: appends records into a memory buffer, makes them durable
//! on demand with group commit, and reads them back.
//!
//! ```text
//!  appenders ──append──▶ [ buffer: LSN buf_start .. next ]      (mutex, memcpy only)
//!                              │ flush(lsn): the first waiter becomes the flusher,
//!                              ▼ takes the whole buffer, writes + fdatasyncs it
//!                        [ in flight ] ──write_and_sync──▶ segments
//!  committers wait on a condvar; one fdatasync acknowledges every record
//!  in the batch, and the next batch builds up while this one syncs.
//! ```
//!
//! Invariants:
//! - `durable` is always a record boundary, and every record below it is on
//!   disk (synced, directory entries included);
//! - at most one flusher runs at a time, and it writes one batch and syncs it
//!   before the next batch is written (so a crash damages only the last batch);
//! - after a failed write or sync the log is poisoned: every later append and
//!   flush fails, because what reached the disk is no longer known;
//! - the buffer holds at most about `wal_buffer_bytes` (an appender that finds
//!   it full flushes first).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex};

use crate::storage::Lsn;
use crate::storage::disk::Vfs;

use super::WalError;
use super::control::ControlFile;
use super::reader::{self, Found, LogReader, find_end};
use super::record::{Record, RecordBody, TxnId, plausible_len};
use super::segment::{Segments, WAL_DIR, parse_segment_name};

/// Sizes of the log.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Size of one segment file's data, in bytes. Fixed when the log is
    /// created; a different value on reopen is ignored (with a warning).
    pub segment_bytes: u64,
    /// Appended-but-unflushed bytes kept in memory before an appender flushes.
    pub wal_buffer_bytes: usize,
}

impl Default for WalOptions {
    fn default() -> WalOptions {
        WalOptions {
            segment_bytes: 16 << 20,
            wal_buffer_bytes: 4 << 20,
        }
    }
}

/// What opening the log found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenReport {
    /// LSN of the last complete checkpoint's begin record: recovery starts here.
    pub checkpoint: Lsn,
    /// The end of the log: the next record goes here.
    pub end: Lsn,
    /// Whether a torn or corrupt tail was cut off at `end`.
    pub torn_tail: bool,
    /// Whether the log was created by this open.
    pub created: bool,
}

struct State {
    /// Appended records not yet handed to a flusher.
    buf: Vec<u8>,
    /// LSN of `buf[0]`.
    buf_start: Lsn,
    /// The batch being written by the flusher, and its LSN.
    inflight: Option<(Lsn, Arc<Vec<u8>>)>,
    flushing: bool,
    /// Every record below this LSN is durable.
    durable: Lsn,
    /// Set when a write or sync failed: the log is unusable.
    failed: Option<String>,
    /// Set by [`Wal::close`]: nothing is appended or written any more.
    closed: bool,
}

/// Counters for tests and benchmarks.
#[derive(Debug, Default)]
pub struct WalStats {
    pub records: AtomicU64,
    pub flushes: AtomicU64,
    pub bytes_flushed: AtomicU64,
}

/// The write-ahead log of one data directory.
pub struct Wal {
    segments: Segments,
    options: WalOptions,
    state: Mutex<State>,
    flushed: Condvar,
    control: Mutex<ControlFile>,
    stats: WalStats,
}

impl Wal {
    /// Opens the log in `wal/` of `vfs`, creating it if there is none. An
    /// existing log is scanned from its last checkpoint to its end; a torn
    /// tail is cut off (and logged), a corrupt record followed by valid ones
    /// is an error.
    pub fn open(vfs: Arc<dyn Vfs>, options: WalOptions) -> Result<(Wal, OpenReport), WalError> {
        assert!(
            options.segment_bytes >= 4096 && options.segment_bytes <= u32::MAX as u64,
            "segment_bytes out of range"
        );
        let control = match ControlFile::open(vfs.as_ref()) {
            Ok(Some(control)) => control,
            Ok(None) => return Wal::create(vfs, options),
            Err(e) => {
                // A control file torn while it was first written: harmless
                // if the log holds nothing but its initial checkpoint.
                if Wal::holds_only_initial_checkpoint(&vfs, &options) {
                    tracing::warn!("finishing a log creation that a crash cut short");
                    return Wal::create(vfs, options);
                }
                return Err(e);
            }
        };
        let mut options = options;
        let c = control.get();
        if c.segment_bytes != options.segment_bytes {
            tracing::warn!(
                log = c.segment_bytes,
                requested = options.segment_bytes,
                "the log's segment size was fixed at creation; using it"
            );
            options.segment_bytes = c.segment_bytes;
        }
        let segments = Segments::open(vfs, options.segment_bytes)?;
        let holds_checkpoint = segments
            .first_lsn()
            .zip(segments.end_capacity())
            .is_some_and(|(first, end)| first <= c.checkpoint && c.checkpoint < end);
        if !holds_checkpoint {
            return Err(WalError::Corrupt {
                lsn: c.checkpoint,
                reason: "the log segment holding the last checkpoint is missing".into(),
            });
        }
        let (end, damaged) = find_end(&segments, c.checkpoint)?;
        if end <= c.checkpoint {
            return Err(WalError::Corrupt {
                lsn: c.checkpoint,
                reason: "the last checkpoint's record is not a valid record".into(),
            });
        }
        if damaged {
            tracing::warn!(
                lsn = end.0,
                "write-ahead log ends in a torn or corrupt record (a crash cut its \
                 last write short); the log ends there"
            );
        }
        segments.truncate_at(end)?;
        let wal = Wal::new(segments, options, control, end);
        let report = OpenReport {
            checkpoint: c.checkpoint,
            end,
            torn_tail: damaged,
            created: false,
        };
        Ok((wal, report))
    }

    fn new(segments: Segments, options: WalOptions, control: ControlFile, end: Lsn) -> Wal {
        Wal {
            segments,
            options,
            state: Mutex::new(State {
                buf: Vec::new(),
                buf_start: end,
                inflight: None,
                flushing: false,
                durable: end,
                failed: None,
                closed: false,
            }),
            flushed: Condvar::new(),
            control: Mutex::new(control),
            stats: WalStats::default(),
        }
    }

    /// The two records every new log starts with.
    fn initial_records() -> Result<Vec<u8>, WalError> {
        let mut bytes = Vec::new();
        let begin = Record {
            txn: TxnId(0),
            prev_lsn: Lsn(0),
            body: RecordBody::CheckpointBegin,
        };
        begin.encode_into(Lsn(0), &mut bytes)?;
        let end_rec = Record {
            txn: TxnId(0),
            prev_lsn: Lsn(0),
            body: RecordBody::CheckpointEnd {
                begin: Lsn(0),
                dirty_pages: Vec::new(),
                txns: Vec::new(),
            },
        };
        end_rec.encode_into(Lsn(bytes.len() as u64), &mut bytes)?;
        Ok(bytes)
    }

    fn holds_only_initial_checkpoint(vfs: &Arc<dyn Vfs>, options: &WalOptions) -> bool {
        let Ok(initial) = Wal::initial_records() else {
            return false;
        };
        let Ok(segments) = Segments::open(vfs.clone(), options.segment_bytes) else {
            return false;
        };
        match segments.starts().as_slice() {
            [] => true,
            [Lsn(0)] => matches!(
                find_end(&segments, Lsn(0)),
                Ok((end, _)) if end.0 <= initial.len() as u64
            ),
            _ => false,
        }
    }

    fn create(vfs: Arc<dyn Vfs>, options: WalOptions) -> Result<(Wal, OpenReport), WalError> {
        // Leftovers of a creation a crash cut short: nothing can depend on them,
        // since no page is written before the log exists.
        let dir = std::path::Path::new(WAL_DIR);
        if let Ok(names) = vfs.list(dir) {
            for name in names {
                if parse_segment_name(&name).is_some() {
                    vfs.remove(&name).map_err(|e| WalError::Io {
                        path: name.display().to_string(),
                        source: e,
                    })?;
                }
            }
        }
        let segments = Segments::create(vfs.clone(), options.segment_bytes)?;
        // The first record (LSN 0) is a checkpoint, so LSN 0 never names a
        // page change and can mean "none".
        let bytes = Wal::initial_records()?;
        segments.write_and_sync(Lsn(0), &bytes)?;
        let control = ControlFile::create(vfs.as_ref(), Lsn(0), options.segment_bytes)?;
        let end = Lsn(bytes.len() as u64);
        let wal = Wal::new(segments, options, control, end);
        let report = OpenReport {
            checkpoint: Lsn(0),
            end,
            torn_tail: false,
            created: true,
        };
        Ok((wal, report))
    }

    /// Appends `record`; returns its LSN. The record is not durable until a
    /// `flush` covers it.
    pub fn append(&self, record: &Record) -> Result<Lsn, WalError> {
        self.append_inner(|lsn, buf| record.encode_into(lsn, buf))
    }

    /// Appends the record `build` makes for the LSN it will get (for records
    /// that name their own LSN, like the first record of a structure change).
    pub fn append_with(&self, build: impl FnOnce(Lsn) -> Record) -> Result<Lsn, WalError> {
        self.append_inner(|lsn, buf| build(lsn).encode_into(lsn, buf))
    }

    fn append_inner(
        &self,
        encode: impl FnOnce(Lsn, &mut Vec<u8>) -> Result<(), WalError>,
    ) -> Result<Lsn, WalError> {
        let mut st = self.state.lock();
        loop {
            if let Some(f) = &st.failed {
                return Err(WalError::Failed(f.clone()));
            }
            if st.closed {
                return Err(WalError::Closed);
            }
            if st.buf.len() < self.options.wal_buffer_bytes {
                break;
            }
            let last = Lsn(st.buf_start.0 + st.buf.len() as u64 - 1);
            drop(st);
            self.flush(last)?;
            st = self.state.lock();
        }
        let lsn = Lsn(st.buf_start.0 + st.buf.len() as u64);
        encode(lsn, &mut st.buf)?;
        self.stats.records.fetch_add(1, Ordering::Relaxed);
        Ok(lsn)
    }

    /// Appends `record` and waits until it is durable; returns its LSN.
    pub fn append_durable(&self, record: &Record) -> Result<Lsn, WalError> {
        let lsn = self.append(record)?;
        self.flush(lsn)?;
        Ok(lsn)
    }

    /// Returns once the record at `lsn` (and everything before it) is
    /// durable. Concurrent callers share one write and fdatasync.
    pub fn flush(&self, lsn: Lsn) -> Result<(), WalError> {
        let mut st = self.state.lock();
        loop {
            if st.durable > lsn {
                return Ok(());
            }
            if let Some(f) = &st.failed {
                return Err(WalError::Failed(f.clone()));
            }
            if st.closed {
                return Err(WalError::Closed);
            }
            if st.flushing {
                self.flushed.wait(&mut st);
                continue;
            }
            if st.buf.is_empty() {
                // `lsn` was never appended: nothing can make it durable.
                debug_assert!(false, "flush({lsn:?}) beyond the end of the log");
                return Ok(());
            }
            // Become the flusher for everything appended so far.
            let batch = Arc::new(std::mem::take(&mut st.buf));
            let start = st.buf_start;
            st.buf_start = Lsn(start.0 + batch.len() as u64);
            st.inflight = Some((start, batch.clone()));
            st.flushing = true;
            drop(st);
            let result = self.segments.write_and_sync(start, &batch);
            st = self.state.lock();
            st.inflight = None;
            st.flushing = false;
            match result {
                Ok(()) => {
                    assert!(st.durable == start, "batches are flushed in order");
                    st.durable = Lsn(start.0 + batch.len() as u64);
                    self.stats.flushes.fetch_add(1, Ordering::Relaxed);
                    self.stats
                        .bytes_flushed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::error!(error = %e, "write-ahead log flush failed; the log is unusable");
                    st.failed = Some(e.to_string());
                }
            }
            self.flushed.notify_all();
        }
    }

    /// Makes everything appended so far durable.
    pub fn flush_all(&self) -> Result<(), WalError> {
        let next = self.next_lsn();
        if next.0 == 0 {
            return Ok(());
        }
        if self.durable_lsn() >= next {
            return Ok(());
        }
        self.flush(Lsn(next.0 - 1))
    }

    /// Makes everything appended so far durable and closes the log: later
    /// appends and flushes fail with [`WalError::Closed`], so a handle that
    /// outlives its database never writes into a log a later open owns.
    /// Reading stays possible.
    pub fn close(&self) -> Result<(), WalError> {
        let res = self.flush_all();
        let mut st = self.state.lock();
        // A flush by another thread may still be in flight: let it finish,
        // so nothing is written after this returns.
        while st.flushing {
            self.flushed.wait(&mut st);
        }
        st.closed = true;
        res
    }

    /// Every record below this LSN is durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.state.lock().durable
    }

    /// The LSN the next record will get.
    pub fn next_lsn(&self) -> Lsn {
        let st = self.state.lock();
        Lsn(st.buf_start.0 + st.buf.len() as u64)
    }

    /// Reads the record at `lsn`, wherever it is (buffer, in flight, disk).
    pub fn read(&self, lsn: Lsn) -> Result<Record, WalError> {
        {
            let st = self.state.lock();
            let from_mem = |start: Lsn, bytes: &[u8]| -> Option<Result<Record, WalError>> {
                if lsn < start || lsn.0 >= start.0 + bytes.len() as u64 {
                    return None;
                }
                let off = (lsn.0 - start.0) as usize;
                let rest = &bytes[off..];
                let Some(len) = plausible_len(rest).filter(|&l| l <= rest.len()) else {
                    return Some(Err(WalError::Corrupt {
                        lsn,
                        reason: "no record starts at this LSN".into(),
                    }));
                };
                Some(Record::decode(lsn, &rest[..len]))
            };
            if let Some(r) = from_mem(st.buf_start, &st.buf) {
                return r;
            }
            if let Some((start, batch)) = &st.inflight
                && let Some(r) = from_mem(*start, batch)
            {
                return r;
            }
            if lsn >= st.buf_start {
                return Err(WalError::Corrupt {
                    lsn,
                    reason: "LSN beyond the end of the log".into(),
                });
            }
        }
        // Written to the segments before it left the in-flight slot.
        match reader::read_one(&self.segments, lsn)? {
            Found::Record(r, _) => Ok(r),
            Found::Invalid => Err(WalError::Corrupt {
                lsn,
                reason: "no valid record at this LSN".into(),
            }),
        }
    }

    /// Iterates the durable records from `from` (a record boundary) to the
    /// durable end. Damage before the end is an error.
    pub fn iter_from(&self, from: Lsn) -> LogIter<'_> {
        LogIter {
            reader: LogReader::new(&self.segments),
            pos: from,
            end: self.durable_lsn(),
        }
    }

    /// LSN of the last complete checkpoint, as the control file says.
    pub fn checkpoint_lsn(&self) -> Lsn {
        self.control.lock().get().checkpoint
    }

    /// Durably records `begin` (a checkpoint begin record whose end record is
    /// durable) as the point recovery starts from.
    pub fn set_checkpoint(&self, begin: Lsn) -> Result<(), WalError> {
        assert!(
            begin < self.durable_lsn(),
            "a checkpoint is published only once its records are durable"
        );
        self.control.lock().write(begin)
    }

    /// Removes every segment wholly below `lsn`, never the one being appended
    /// to, nor anything at or after the last checkpoint. Returns the count.
    pub fn remove_segments_below(&self, lsn: Lsn) -> Result<usize, WalError> {
        let lsn = lsn.min(self.checkpoint_lsn());
        self.segments.remove_below(lsn, self.next_lsn())
    }

    /// Start LSNs of the segments present.
    pub fn segment_starts(&self) -> Vec<Lsn> {
        self.segments.starts()
    }

    /// The size of a segment's data in bytes.
    pub fn segment_bytes(&self) -> u64 {
        self.options.segment_bytes
    }

    pub fn stats(&self) -> &WalStats {
        &self.stats
    }
}

/// Records in LSN order, as `(lsn, record)`.
pub struct LogIter<'a> {
    reader: LogReader<'a>,
    pos: Lsn,
    end: Lsn,
}

impl Iterator for LogIter<'_> {
    type Item = Result<(Lsn, Record), WalError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let lsn = self.pos;
        match self.reader.at(lsn) {
            Ok(Found::Record(r, next)) => {
                self.pos = next;
                Some(Ok((lsn, r)))
            }
            Ok(Found::Invalid) => {
                self.pos = self.end;
                Some(Err(WalError::Corrupt {
                    lsn,
                    reason: "invalid record before the durable end of the log".into(),
                }))
            }
            Err(e) => {
                self.pos = self.end;
                Some(Err(e))
            }
        }
    }
}
