//! The buffer pool: a fixed number of page frames over one data file.
//!
//! ```text
//!            page table (Mutex)                 frames (fixed, allocated once)
//!   PageId ---------------------> frame index --> [ RwLock<FrameState> | pin | dirty ]
//!                 2Q replacer (same mutex) picks victims among unpinned frames
//! ```
//!
//! - **Pins.** [`BufferPool::read`] / [`BufferPool::write`] return guards that
//!   hold a pin and the frame's latch (shared or exclusive) and release both
//!   on drop, latch first. A pinned frame is never evicted.
//! - **Latches.** One `parking_lot::RwLock` per frame protects its bytes. The
//!   latch order (see `btree`) is the caller's business; the pool itself only
//!   ever *tries* latches it does not own while holding the table mutex, so it
//!   adds no edge to the waits-for graph.
//! - **The one door.** [`PageWrite`] has no `DerefMut`: the only way to change
//!   a page is [`PageWrite::apply`] with a [`PageOp`], which logs the op
//!   through the pool's [`PageLog`], applies it, stamps the page LSN and marks
//!   the frame dirty.
//! - **Write-ahead.** Before a dirty page is written (eviction or flush) the
//!   pool calls [`PageLog::flush_to`] with the page's LSN: steal / no-force.
//! - **Replacement.** 2Q (see [`replacer`]), chosen because it keeps a long
//!   scan from flushing the hot set, at O(1) cost per access.
//! - **Bounded memory.** `frames * PAGE_SIZE` bytes of page data, whatever the
//!   data size; when every frame is pinned, a request fails with
//!   [`StorageError::PoolExhausted`] rather than growing.
//!
//! Invariants:
//! - a frame is in the page table iff its state's `valid` is set or a load
//!   into it is in progress (its exclusive latch is held by the loader);
//! - a frame with `pin > 0` is never chosen as a victim;
//! - a dirty frame is written out before its frame is reused;
//! - bytes read from disk are checksum- and structure-validated before any
//!   guard to them is handed out.

pub mod replacer;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::storage::Lsn;
use crate::storage::disk::FileIo;
use crate::storage::error::{StorageError, StorageResult};
use crate::storage::op::{self, PageOp};
use crate::storage::page::{self, PAGE_SIZE, PageBuf, PageId};
use replacer::TwoQ;

/// Fewest frames a pool may have: enough for the deepest latch path of a
/// structure change plus a few concurrent operations.
pub const MIN_FRAMES: usize = 16;

/// The log, as the buffer pool sees it. The WAL implements this; until it
/// lands, [`NoLog`] stands in.
pub trait PageLog: Send + Sync {
    /// Logs `op` about to be applied to page `page`; returns its LSN, which
    /// becomes the page LSN.
    fn append(&self, page: PageId, op: &PageOp<'_>) -> StorageResult<Lsn>;
    /// Makes the log durable up to and including `lsn` (the write-ahead rule,
    /// called before a page with that LSN is written out).
    fn flush_to(&self, lsn: Lsn) -> io::Result<()>;
    /// Logs `op` as the first change to page `page` since the page was last
    /// clean; `before` is the page's whole content. A log keeps a full page
    /// image here so that redo can rebuild a page whose write was torn.
    fn append_first(&self, page: PageId, before: &PageBuf, op: &PageOp<'_>) -> StorageResult<Lsn> {
        let _ = before;
        self.append(page, op)
    }
    /// A structure change (split, merge, allocation) begins on this thread:
    /// the ops until the matching [`PageLog::end_smo`] are one atomic,
    /// redo-only action. Calls nest.
    fn begin_smo(&self) {}
    /// Ends the structure change begun by [`PageLog::begin_smo`].
    fn end_smo(&self) -> StorageResult<()> {
        Ok(())
    }
}

/// No log: every op gets `Lsn(0)`; nothing to flush.
pub struct NoLog;

impl PageLog for NoLog {
    fn append(&self, _page: PageId, _op: &PageOp<'_>) -> StorageResult<Lsn> {
        Ok(Lsn(0))
    }
    fn flush_to(&self, _lsn: Lsn) -> io::Result<()> {
        Ok(())
    }
}

struct FrameState {
    id: PageId,
    valid: bool,
    buf: Box<PageBuf>,
}

struct Frame {
    latch: RwLock<FrameState>,
    pin: AtomicU32,
    dirty: AtomicBool,
    /// LSN of the change that made the frame dirty (recLSN in ARIES).
    rec_lsn: AtomicU64,
    /// Bumped, under the exclusive latch, whenever the frame's bytes change
    /// or it takes in another page: a [`Stamp`] taken under a shared latch
    /// is still good iff the version has not moved.
    version: AtomicU64,
}

/// Which frame held a page and at what version, taken while the page was
/// latched ([`PageRead::stamp`]). [`BufferPool::read_if_unchanged`] re-latches
/// the page only if nothing changed it since: a cursor uses this to step to
/// a sibling from a leaf it copied earlier, without re-descending the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    frame: u32,
    version: u64,
}

struct Table {
    map: HashMap<PageId, usize, BuildHasherDefault<IdHasher>>,
    q: TwoQ,
}

/// Page ids are small dense integers: a multiplicative hash is enough, and
/// much cheaper than SipHash on the hottest path of the pool.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.0 = (u64::from(v) ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Counters, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    pub writes: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    writes: AtomicU64,
}

/// A fixed pool of page frames over one file.
pub struct BufferPool {
    file: Arc<dyn FileIo>,
    file_name: String,
    frames: Box<[Frame]>,
    table: Mutex<Table>,
    log: Arc<dyn PageLog>,
    counters: Counters,
    /// Set by [`BufferPool::close`]: the pool reads and writes nothing more.
    closed: AtomicBool,
    /// Recovery's pool: redo may legitimately write a page older than its
    /// disk copy (a restored image), so the stale-write check is off.
    redo: bool,
}

enum Mode {
    Read,
    Write,
    /// A page that has never been written: no read, zeroed frame.
    Create,
}

enum Got<'a> {
    Read(RwLockReadGuard<'a, FrameState>),
    Write(RwLockWriteGuard<'a, FrameState>),
}

impl BufferPool {
    /// A pool of `frames` frames (at least [`MIN_FRAMES`]) over `file`.
    pub fn new(
        file: Arc<dyn FileIo>,
        file_name: impl Into<String>,
        frames: usize,
        log: Arc<dyn PageLog>,
    ) -> BufferPool {
        let frames = frames.max(MIN_FRAMES);
        let frames: Box<[Frame]> = (0..frames)
            .map(|_| Frame {
                latch: RwLock::new(FrameState {
                    id: PageId::NONE,
                    valid: false,
                    buf: Box::new([0u8; PAGE_SIZE]),
                }),
                pin: AtomicU32::new(0),
                dirty: AtomicBool::new(false),
                rec_lsn: AtomicU64::new(0),
                version: AtomicU64::new(0),
            })
            .collect();
        let n = frames.len();
        BufferPool {
            file,
            file_name: file_name.into(),
            frames,
            table: Mutex::new(Table {
                map: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
                q: TwoQ::new(n),
            }),
            log,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            redo: false,
        }
    }

    /// This pool is recovery's: redo rebuilds pages from logged images, so
    /// a page it writes may be older than a torn or half-changed disk copy.
    pub fn for_redo(mut self) -> BufferPool {
        self.redo = true;
        self
    }

    /// Writes every dirty page out, syncs the file, and closes the pool:
    /// from then on it reads and writes nothing (every request fails with
    /// [`StorageError::Closed`]), so a handle that outlives its database
    /// can never write an old frame over pages a later open changed.
    pub fn close(&self) -> StorageResult<()> {
        let res = self.flush_all();
        self.closed.store(true, Ordering::Release);
        res
    }

    /// Whether [`BufferPool::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn closed_error(&self) -> StorageError {
        StorageError::Closed {
            file: self.file_name.clone(),
        }
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }
    pub fn file_name(&self) -> &str {
        &self.file_name
    }
    pub fn file(&self) -> &Arc<dyn FileIo> {
        &self.file
    }
    pub fn log(&self) -> &Arc<dyn PageLog> {
        &self.log
    }

    pub fn stats(&self) -> PoolStats {
        PoolStats {
            hits: self.counters.hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            evictions: self.counters.evictions.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
        }
    }

    /// Pins page `id` and latches it shared.
    pub fn read(&self, id: PageId) -> StorageResult<PageRead<'_>> {
        match self.fetch(id, Mode::Read)? {
            (frame, Got::Read(g)) => Ok(PageRead {
                pool: self,
                frame,
                g: ManuallyDrop::new(g),
            }),
            (frame, Got::Write(g)) => Ok(PageRead {
                pool: self,
                frame,
                g: ManuallyDrop::new(RwLockWriteGuard::downgrade(g)),
            }),
        }
    }

    /// Pins page `id` and latches it shared if it has not changed since
    /// `stamp` was taken (same frame, same version); `None` otherwise. Takes
    /// no table mutex: the frame is pinned and latched directly, and the
    /// version check under the latch tells whether it still holds the page.
    /// The page is not moved in the replacement order.
    pub fn read_if_unchanged(&self, id: PageId, stamp: Stamp) -> Option<PageRead<'_>> {
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let f = stamp.frame as usize;
        let frame = self.frames.get(f)?;
        // Pin first: an evictor that saw the pin at 0 has either taken the
        // exclusive latch already (then we wait for it and see a new
        // version) or will fail its `try_write` against our shared latch.
        frame.pin.fetch_add(1, Ordering::AcqRel);
        let g = frame.latch.read();
        if g.valid && g.id == id && frame.version.load(Ordering::Acquire) == stamp.version {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Some(PageRead {
                pool: self,
                frame: f,
                g: ManuallyDrop::new(g),
            });
        }
        drop(g);
        self.unpin(f);
        None
    }

    /// Pins page `id` and latches it shared, trying first the frame `hint`
    /// remembers (no page-table mutex if the page is still there) and
    /// storing the frame it was found in. For the few hottest pages (a
    /// tree's root), whose every access would otherwise take the table
    /// mutex. A hinted hit does not move the page in the replacement order.
    pub fn read_hinted(&self, id: PageId, hint: &AtomicU32) -> StorageResult<PageRead<'_>> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(self.closed_error());
        }
        let f = hint.load(Ordering::Relaxed) as usize;
        if let Some(frame) = self.frames.get(f) {
            // as in `read_if_unchanged`: pin, then latch, then check
            frame.pin.fetch_add(1, Ordering::AcqRel);
            let g = frame.latch.read();
            if g.valid && g.id == id {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(PageRead {
                    pool: self,
                    frame: f,
                    g: ManuallyDrop::new(g),
                });
            }
            drop(g);
            self.unpin(f);
        }
        let g = self.read(id)?;
        hint.store(g.frame as u32, Ordering::Relaxed);
        Ok(g)
    }

    /// Pins page `id` and latches it exclusive.
    pub fn write(&self, id: PageId) -> StorageResult<PageWrite<'_>> {
        self.fetch_write(id, Mode::Write)
    }

    /// Pins and latches exclusive a page that has never been written to the
    /// file (just allocated past its end). Its frame starts zeroed.
    pub fn create(&self, id: PageId) -> StorageResult<PageWrite<'_>> {
        self.fetch_write(id, Mode::Create)
    }

    fn fetch_write(&self, id: PageId, mode: Mode) -> StorageResult<PageWrite<'_>> {
        match self.fetch(id, mode)? {
            (frame, Got::Write(g)) => Ok(PageWrite {
                pool: self,
                frame,
                g: ManuallyDrop::new(g),
            }),
            (_, Got::Read(_)) => unreachable!("write fetch returned a shared latch"),
        }
    }

    fn unpin(&self, frame: usize) {
        let before = self.frames[frame].pin.fetch_sub(1, Ordering::AcqRel);
        assert!(before > 0, "unpin of unpinned frame {frame}");
    }

    fn corrupt(&self, id: PageId, reason: String) -> StorageError {
        StorageError::Corrupt {
            file: self.file_name.clone(),
            page: id,
            reason,
        }
    }

    fn io(&self, source: io::Error) -> StorageError {
        StorageError::Io {
            file: self.file_name.clone(),
            source,
        }
    }

    fn fetch(&self, id: PageId, mode: Mode) -> StorageResult<(usize, Got<'_>)> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(self.closed_error());
        }
        loop {
            let mut t = self.table.lock();
            if let Some(&f) = t.map.get(&id) {
                let frame = &self.frames[f];
                frame.pin.fetch_add(1, Ordering::AcqRel);
                t.q.hit(f);
                drop(t);
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                let got = match mode {
                    Mode::Read => Got::Read(frame.latch.read()),
                    Mode::Write | Mode::Create => Got::Write(frame.latch.write()),
                };
                let ok = match &got {
                    Got::Read(g) => g.valid && g.id == id,
                    Got::Write(g) => g.valid && g.id == id,
                };
                if ok {
                    return Ok((f, got));
                }
                // the load we waited for failed; try again ourselves
                drop(got);
                self.unpin(f);
                continue;
            }
            // a miss: find a frame
            let (f, from_free) = match t.q.take_free() {
                Some(f) => (f, true),
                None => {
                    let frames = &self.frames;
                    let victim = t.q.find_victim(|f| {
                        frames[f].pin.load(Ordering::Acquire) == 0 && !frames[f].latch.is_locked()
                    });
                    let Some(f) = victim else {
                        return Err(StorageError::PoolExhausted {
                            frames: self.frames.len(),
                        });
                    };
                    if self.frames[f].dirty.load(Ordering::Acquire) {
                        // write it out without holding the table, then retry
                        self.frames[f].pin.fetch_add(1, Ordering::AcqRel);
                        drop(t);
                        let res = {
                            let g = self.frames[f].latch.read();
                            self.write_out(f, &g)
                        };
                        self.unpin(f);
                        res?;
                        continue;
                    }
                    (f, false)
                }
            };
            let frame = &self.frames[f];
            // pin 0 and not latched (checked above, under the table mutex,
            // which every pinner holds): the latch is free.
            let Some(mut g) = frame.latch.try_write() else {
                if from_free {
                    t.q.release(f);
                }
                drop(t);
                std::thread::yield_now();
                continue;
            };
            if g.valid {
                t.map.remove(&g.id);
                t.q.evict(f, g.id);
                self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            }
            t.map.insert(id, f);
            t.q.admit(f, id);
            frame.pin.fetch_add(1, Ordering::AcqRel);
            frame.version.fetch_add(1, Ordering::AcqRel);
            g.id = id;
            g.valid = false;
            drop(t);
            self.counters.misses.fetch_add(1, Ordering::Relaxed);
            let loaded = match mode {
                Mode::Create => {
                    g.buf.fill(0);
                    Ok(())
                }
                Mode::Read | Mode::Write => self.load(id, &mut g.buf),
            };
            if let Err(e) = loaded {
                let mut t = self.table.lock();
                if t.map.get(&id) == Some(&f) {
                    t.map.remove(&id);
                }
                drop(g);
                self.unpin(f);
                t.q.release(f);
                drop(t);
                return Err(e);
            }
            g.valid = true;
            frame.dirty.store(false, Ordering::Release);
            return Ok((f, Got::Write(g)));
        }
    }

    fn load(&self, id: PageId, buf: &mut PageBuf) -> StorageResult<()> {
        self.file
            .read_at(&mut buf[..], id.offset())
            .map_err(|e| self.io(e))?;
        page::validate(buf, id).map_err(|r| self.corrupt(id, r))?;
        Ok(())
    }

    fn write_out(&self, f: usize, g: &FrameState) -> StorageResult<()> {
        let frame = &self.frames[f];
        if !g.valid || !frame.dirty.load(Ordering::Acquire) {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(self.closed_error());
        }
        self.log
            .flush_to(page::page_lsn(&g.buf))
            .map_err(|e| self.io(e))?;
        #[cfg(debug_assertions)]
        self.check_not_stale(g);
        let mut copy: Box<PageBuf> = g.buf.clone();
        page::seal(&mut copy);
        self.file
            .write_at(&copy[..], g.id.offset())
            .map_err(|e| self.io(e))?;
        frame.dirty.store(false, Ordering::Release);
        self.counters.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Debug builds: a page about to be written must not be older than its
    /// disk copy. Page LSNs only grow, and every frame starts as the disk
    /// copy (or a new page) and only moves forward, so a disk copy with a
    /// higher LSN means this frame is stale: something else (another pool
    /// over the same file) wrote the page since, and this write would undo
    /// it. Recovery's pool is exempt (redo restores older images); a disk
    /// copy that does not validate (torn, never written) is not compared.
    #[cfg(debug_assertions)]
    fn check_not_stale(&self, g: &FrameState) {
        if self.redo {
            return;
        }
        let mut disk: Box<PageBuf> = Box::new([0u8; PAGE_SIZE]);
        if self.file.read_at(&mut disk[..], g.id.offset()).is_err()
            || page::validate(&disk, g.id).is_err()
        {
            return;
        }
        let (on_disk, ours) = (page::page_lsn(&disk), page::page_lsn(&g.buf));
        assert!(
            on_disk <= ours,
            "stale page write: {} of \"{}\" has LSN {} on disk, the frame being written has {}",
            g.id,
            self.file_name,
            on_disk.0,
            ours.0
        );
    }

    /// Writes every dirty page out (honouring the write-ahead rule) and syncs
    /// the file.
    pub fn flush_all(&self) -> StorageResult<()> {
        self.write_back()?;
        self.file.sync().map_err(|e| self.io(e))
    }

    /// Writes every dirty page out (honouring the write-ahead rule), without
    /// waiting for the file to be durable.
    pub fn write_back(&self) -> StorageResult<()> {
        for f in 0..self.frames.len() {
            if self.frames[f].dirty.load(Ordering::Acquire) {
                let g = self.frames[f].latch.read();
                self.write_out(f, &g)?;
            }
        }
        Ok(())
    }

    /// Drops every cached page without writing it (for tests that simulate a
    /// restart after a clean flush, or corruption on disk).
    pub fn discard_all(&self) {
        let mut t = self.table.lock();
        for f in 0..self.frames.len() {
            let frame = &self.frames[f];
            if frame.pin.load(Ordering::Acquire) != 0 {
                continue;
            }
            if let Some(mut g) = frame.latch.try_write()
                && g.valid
            {
                t.map.remove(&g.id);
                t.q.release(f);
                g.valid = false;
                frame.version.fetch_add(1, Ordering::AcqRel);
                frame.dirty.store(false, Ordering::Release);
            }
        }
    }

    /// The dirty page table: every dirty page and its recLSN (the LSN of the
    /// change that made it dirty). Fuzzy: pages may change while it is taken.
    pub fn dirty_pages(&self) -> Vec<(PageId, Lsn)> {
        let mut out = Vec::new();
        for frame in self.frames.iter() {
            if frame.dirty.load(Ordering::Acquire) {
                let g = frame.latch.read();
                if g.valid && frame.dirty.load(Ordering::Acquire) {
                    out.push((g.id, Lsn(frame.rec_lsn.load(Ordering::Acquire))));
                }
            }
        }
        out
    }

    /// Writes out every page that has been dirty since before `lsn` (its
    /// recLSN is older), honouring the write-ahead rule; returns how many.
    /// A checkpoint does this so the redo start, and the log it keeps,
    /// move forward even for pages that stay hot in the pool.
    pub fn flush_dirty_before(&self, lsn: Lsn) -> StorageResult<usize> {
        let mut written = 0;
        for f in 0..self.frames.len() {
            let frame = &self.frames[f];
            if frame.dirty.load(Ordering::Acquire) && frame.rec_lsn.load(Ordering::Acquire) < lsn.0
            {
                let g = frame.latch.read();
                if frame.rec_lsn.load(Ordering::Acquire) < lsn.0 {
                    self.write_out(f, &g)?;
                    written += 1;
                }
            }
        }
        Ok(written)
    }

    /// Number of frames currently pinned (for leak tests).
    pub fn pinned_frames(&self) -> usize {
        self.frames
            .iter()
            .filter(|f| f.pin.load(Ordering::Acquire) > 0)
            .count()
    }
}

/// A pinned page latched shared.
pub struct PageRead<'a> {
    pool: &'a BufferPool,
    frame: usize,
    g: ManuallyDrop<RwLockReadGuard<'a, FrameState>>,
}

impl PageRead<'_> {
    pub fn id(&self) -> PageId {
        self.g.id
    }

    /// Where and at what version this page is held: good until the page
    /// next changes or leaves its frame.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            frame: self.frame as u32,
            version: self.pool.frames[self.frame].version.load(Ordering::Acquire),
        }
    }
}

impl Deref for PageRead<'_> {
    type Target = PageBuf;
    fn deref(&self) -> &PageBuf {
        &self.g.buf
    }
}

impl Drop for PageRead<'_> {
    fn drop(&mut self) {
        // SAFETY: the guard is dropped here and nowhere else, and never used
        // after; the latch must be released before the pin.
        unsafe { ManuallyDrop::drop(&mut self.g) };
        self.pool.unpin(self.frame);
    }
}

/// A pinned page latched exclusive. Changes go through [`PageWrite::apply`].
pub struct PageWrite<'a> {
    pool: &'a BufferPool,
    frame: usize,
    g: ManuallyDrop<RwLockWriteGuard<'a, FrameState>>,
}

impl PageWrite<'_> {
    pub fn id(&self) -> PageId {
        self.g.id
    }

    /// The one door: logs `op`, applies it, sets the page LSN, marks dirty.
    pub fn apply(&mut self, op: &PageOp<'_>) -> StorageResult<()> {
        let id = self.g.id;
        let frame = &self.pool.frames[self.frame];
        let was_dirty = frame.dirty.load(Ordering::Acquire);
        let lsn = if was_dirty {
            self.pool.log.append(id, op)?
        } else {
            self.pool.log.append_first(id, &self.g.buf, op)?
        };
        if !was_dirty {
            frame.rec_lsn.store(lsn.0, Ordering::Release);
        }
        let st: &mut FrameState = &mut self.g;
        let before = page::page_lsn(&st.buf);
        assert!(
            lsn == Lsn(0) || lsn >= before,
            "page LSN went backwards on {id}"
        );
        op::apply(&mut st.buf, id, op);
        page::set_page_lsn(&mut st.buf, lsn.max(before));
        frame.version.fetch_add(1, Ordering::AcqRel);
        frame.dirty.store(true, Ordering::Release);
        Ok(())
    }
}

impl PageWrite<'_> {
    /// Recovery's door: re-applies an op that is already in the log at
    /// `lsn`, without logging it again. The caller has checked that the page
    /// does not already contain it.
    pub fn redo(&mut self, op: &PageOp<'_>, lsn: Lsn) {
        let id = self.g.id;
        let st: &mut FrameState = &mut self.g;
        assert!(
            page::page_lsn(&st.buf) < lsn,
            "redo of a change {id} already has"
        );
        op::apply(&mut st.buf, id, op);
        page::set_page_lsn(&mut st.buf, lsn);
        self.mark_dirty_by_redo(lsn);
    }

    /// Recovery's door for a logged full page image: the page becomes
    /// `image` (zero-padded), then `op` at `lsn` is applied to it.
    pub fn redo_image(&mut self, image: &[u8], op: &PageOp<'_>, lsn: Lsn) {
        assert!(image.len() <= PAGE_SIZE, "page image too large");
        let id = self.g.id;
        let st: &mut FrameState = &mut self.g;
        st.buf.fill(0);
        st.buf[..image.len()].copy_from_slice(image);
        op::apply(&mut st.buf, id, op);
        page::set_page_lsn(&mut st.buf, lsn);
        self.mark_dirty_by_redo(lsn);
    }

    /// Recovery's door for the image of a page whose change was cut short:
    /// the page becomes `image` (zero-padded), as it was before that change;
    /// its LSN is set to `lsn`, the image's record.
    pub fn restore_image(&mut self, image: &[u8], lsn: Lsn) {
        assert!(image.len() <= PAGE_SIZE, "page image too large");
        let st: &mut FrameState = &mut self.g;
        st.buf.fill(0);
        st.buf[..image.len()].copy_from_slice(image);
        page::set_page_lsn(&mut st.buf, lsn);
        self.mark_dirty_by_redo(lsn);
    }

    fn mark_dirty_by_redo(&self, lsn: Lsn) {
        let frame = &self.pool.frames[self.frame];
        frame.version.fetch_add(1, Ordering::AcqRel);
        if !frame.dirty.load(Ordering::Acquire) {
            frame.rec_lsn.store(lsn.0, Ordering::Release);
            frame.dirty.store(true, Ordering::Release);
        }
    }
}

impl Deref for PageWrite<'_> {
    type Target = PageBuf;
    fn deref(&self) -> &PageBuf {
        &self.g.buf
    }
}

impl Drop for PageWrite<'_> {
    fn drop(&mut self) {
        // SAFETY: as for `PageRead`: dropped once, here, never used after.
        unsafe { ManuallyDrop::drop(&mut self.g) };
        self.pool.unpin(self.frame);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::disk::MemFile;
    use crate::storage::page::{PageType, meta};

    fn pool(frames: usize) -> (Arc<MemFile>, BufferPool) {
        let file = Arc::new(MemFile::default());
        let p = BufferPool::new(file.clone(), "test.data", frames, Arc::new(NoLog));
        (file, p)
    }

    fn stamp(g: &mut PageWrite<'_>, n: u32) {
        g.apply(&PageOp::FormatOverflow {
            next: PageId(n),
            data: &n.to_le_bytes(),
        })
        .unwrap();
    }

    #[test]
    fn pages_many_times_the_pool_round_trip_through_eviction() {
        let (_file, pool) = pool(16);
        for i in 1..=200u32 {
            let mut g = pool.create(PageId(i)).unwrap();
            stamp(&mut g, i);
        }
        for i in (1..=200u32).rev() {
            let g = pool.read(PageId(i)).unwrap();
            assert_eq!(page::overflow::next(&g), PageId(i));
            assert_eq!(page::overflow::data(&g), &i.to_le_bytes());
        }
        let s = pool.stats();
        assert!(s.evictions >= 184, "{s:?}");
        assert!(s.writes >= 184, "{s:?}");
        assert_eq!(pool.pinned_frames(), 0);
    }

    #[test]
    fn a_stamp_is_good_until_the_page_changes_or_leaves_its_frame() {
        let (_file, pool) = pool(16);
        for i in 1..=3u32 {
            let mut g = pool.create(PageId(i)).unwrap();
            stamp(&mut g, i);
        }
        let s1 = pool.read(PageId(1)).unwrap().stamp();
        let s2 = pool.read(PageId(2)).unwrap().stamp();
        // unchanged: re-latched without the page table
        let g = pool.read_if_unchanged(PageId(1), s1).unwrap();
        assert_eq!(page::overflow::next(&g), PageId(1));
        drop(g);
        // another page's stamp does not fit this page
        assert!(pool.read_if_unchanged(PageId(3), s1).is_none());
        // a change invalidates it
        stamp(&mut pool.write(PageId(2)).unwrap(), 9);
        assert!(pool.read_if_unchanged(PageId(2), s2).is_none());
        // so does leaving the frame, even if the page comes back unchanged
        for i in 10..=60u32 {
            let mut g = pool.create(PageId(i)).unwrap();
            stamp(&mut g, i);
        }
        let back = pool.read(PageId(1)).unwrap();
        assert_eq!(page::overflow::next(&back), PageId(1));
        drop(back);
        assert!(pool.read_if_unchanged(PageId(1), s1).is_none());
        assert_eq!(pool.pinned_frames(), 0);
    }

    #[test]
    fn a_hinted_read_finds_the_page_wherever_it_went() {
        let (_file, pool) = pool(16);
        for i in 1..=40u32 {
            let mut g = pool.create(PageId(i)).unwrap();
            stamp(&mut g, i);
        }
        let hint = AtomicU32::new(u32::MAX);
        for round in 0..3u32 {
            // the hint is empty, stale, or points at a frame now holding
            // another page: the read still returns page 5
            let g = pool.read_hinted(PageId(5), &hint).unwrap();
            assert_eq!(page::overflow::next(&g), PageId(5), "round {round}");
            drop(g);
            let g = pool.read_hinted(PageId(5), &hint).unwrap();
            assert_eq!(g.id(), PageId(5));
            drop(g);
            for i in 10..=40u32 {
                drop(pool.read(PageId(i)).unwrap());
            }
        }
        assert_eq!(pool.pinned_frames(), 0);
    }

    #[test]
    fn a_closed_pool_flushed_its_pages_and_reads_and_writes_nothing_more() {
        let (file, pool) = pool(16);
        {
            let mut g = pool.create(PageId(2)).unwrap();
            stamp(&mut g, 2);
        }
        pool.close().unwrap();
        assert!(pool.is_closed());
        let mut b = [0u8; PAGE_SIZE];
        file.read_at(&mut b, PageId(2).offset()).unwrap();
        assert_eq!(
            page::overflow::next(&b),
            PageId(2),
            "close flushed the page"
        );
        assert!(matches!(
            pool.read(PageId(2)),
            Err(StorageError::Closed { .. })
        ));
        assert!(matches!(
            pool.create(PageId(3)),
            Err(StorageError::Closed { .. })
        ));
        assert_eq!(pool.pinned_frames(), 0);
    }

    /// Two pools over one file: the second moves page 1 on; the first, now
    /// stale, must not write its older copy back (debug builds check it).
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "stale page write")]
    fn writing_a_page_older_than_its_disk_copy_is_caught() {
        struct Counter(AtomicU64);
        impl PageLog for Counter {
            fn append(&self, _: PageId, _: &PageOp<'_>) -> StorageResult<Lsn> {
                Ok(Lsn(self.0.fetch_add(10, Ordering::SeqCst) + 10))
            }
            fn flush_to(&self, _: Lsn) -> io::Result<()> {
                Ok(())
            }
        }
        let file = Arc::new(MemFile::default());
        let log = Arc::new(Counter(AtomicU64::new(0)));
        let old = BufferPool::new(file.clone(), "t", 16, log.clone());
        let new = BufferPool::new(file.clone(), "t", 16, log);
        stamp(&mut old.create(PageId(1)).unwrap(), 1); // LSN 10, dirty
        stamp(&mut new.create(PageId(1)).unwrap(), 2); // LSN 20
        new.flush_all().unwrap();
        let _ = old.flush_all();
    }

    #[test]
    fn all_frames_pinned_is_an_error_not_growth() {
        let (_file, pool) = pool(16);
        let mut held = Vec::new();
        for i in 1..=16u32 {
            held.push(pool.create(PageId(i)).unwrap());
        }
        match pool.create(PageId(17)) {
            Err(StorageError::PoolExhausted { frames: 16 }) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("pool grew past its frames"),
        }
        drop(held);
        assert!(pool.create(PageId(17)).is_ok());
    }

    #[test]
    fn flipped_byte_on_disk_is_reported_naming_file_and_page() {
        let (file, pool) = pool(16);
        {
            let mut g = pool.create(PageId(3)).unwrap();
            stamp(&mut g, 3);
        }
        pool.flush_all().unwrap();
        pool.discard_all();
        let mut b = [0u8; 1];
        let off = PageId(3).offset() + 100;
        file.read_at(&mut b, off).unwrap();
        file.write_at(&[b[0] ^ 1], off).unwrap();
        let err = pool
            .read(PageId(3))
            .err()
            .expect("corrupt page was returned");
        let msg = err.to_string();
        assert!(matches!(
            err,
            StorageError::Corrupt {
                page: PageId(3),
                ..
            }
        ));
        assert!(
            msg.contains("test.data") && msg.contains("block 3"),
            "{msg}"
        );
        // and again: a failed load leaves nothing cached
        assert!(pool.read(PageId(3)).is_err());
        assert_eq!(pool.pinned_frames(), 0);
    }

    #[test]
    fn write_ahead_hook_sees_page_lsn_before_the_write() {
        struct Log {
            next: AtomicU64,
            flushed: AtomicU64,
            file: Arc<MemFile>,
        }
        impl PageLog for Log {
            fn append(&self, _: PageId, _: &PageOp<'_>) -> StorageResult<Lsn> {
                Ok(Lsn(self.next.fetch_add(10, Ordering::SeqCst) + 10))
            }
            fn flush_to(&self, lsn: Lsn) -> io::Result<()> {
                // the page must not be on disk yet
                let mut b = [0u8; PAGE_SIZE];
                if self.file.read_at(&mut b, PageId(1).offset()).is_ok() {
                    assert_ne!(page::page_lsn(&b), lsn, "page written before log flush");
                }
                self.flushed.fetch_max(lsn.0, Ordering::SeqCst);
                Ok(())
            }
        }
        let file = Arc::new(MemFile::default());
        let log = Arc::new(Log {
            next: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
            file: file.clone(),
        });
        let pool = BufferPool::new(file.clone(), "t", 16, log.clone());
        {
            let mut g = pool.create(PageId(1)).unwrap();
            stamp(&mut g, 1);
            stamp(&mut g, 2);
            assert_eq!(page::page_lsn(&g), Lsn(20));
        }
        pool.flush_all().unwrap();
        assert_eq!(log.flushed.load(Ordering::SeqCst), 20);
        let mut b = [0u8; PAGE_SIZE];
        file.read_at(&mut b, PageId(1).offset()).unwrap();
        assert_eq!(page::page_lsn(&b), Lsn(20));
    }

    #[test]
    fn concurrent_readers_and_writers_on_a_small_pool_see_whole_pages() {
        let (_file, pool) = pool(16);
        let pages = 64u32;
        for i in 1..=pages {
            let mut g = pool.create(PageId(i)).unwrap();
            g.apply(&PageOp::SetMeta(meta::Meta {
                page_count: i,
                free_head: PageId(i),
                free_count: 0,
                directory_root: PageId(0),
                next_tree_id: 0,
                checkpoint_lsn: Lsn(0),
            }))
            .unwrap();
        }
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let pool = &pool;
                s.spawn(move || {
                    for n in 0..2000u32 {
                        let id = PageId(1 + (n * 7 + t * 13) % pages);
                        if n % 3 == 0 {
                            let mut g = pool.write(id).unwrap();
                            let m = meta::read(&g).unwrap();
                            g.apply(&PageOp::SetMeta(meta::Meta {
                                free_count: m.free_count + 1,
                                ..m
                            }))
                            .unwrap();
                        } else {
                            let g = pool.read(id).unwrap();
                            assert_eq!(page::page_type(&g), Some(PageType::Meta));
                            let m = meta::read(&g).unwrap();
                            assert_eq!(m.page_count, id.0, "frame holds the wrong page");
                        }
                    }
                });
            }
        });
        let total: u32 = (1..=pages)
            .map(|i| {
                meta::read(&pool.read(PageId(i)).unwrap())
                    .unwrap()
                    .free_count
            })
            .sum();
        assert_eq!(total, 4 * 667, "lost updates");
        assert_eq!(pool.pinned_frames(), 0);
    }
}
