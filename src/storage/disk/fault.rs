//! A fault-injecting [`Vfs`]: files in memory that remember what is durable,
//! so a test can "pull the plug" at a chosen write or sync and then look at
//! exactly what a real disk could hold after the crash.
//!
//! ```text
//!            write_at / set_len            sync              restart(mode)
//!  process ────────────────────▶ pending ─────────▶ durable ───────────────▶ next boot
//!                                 (page cache)      (platter)   keeps durable + what the
//!                                                               LossMode lets survive of
//!                                                               pending (all, none, a torn
//!                                                               prefix, a random subset)
//! ```
//!
//! Model, per file: `durable` bytes (what an fsync made permanent) plus an
//! ordered list of `pending` operations (writes and length changes not yet
//! synced). Reads see `durable` with `pending` applied, like the page cache.
//! Directory entries are durable only after [`Vfs::sync_dir`]: a file created
//! (or removed) since the last directory sync may vanish (or come back) after
//! a power loss.
//!
//! A crash is triggered by a [`CrashPoint`] (the Nth write, the Nth sync, or
//! the Nth I/O operation of either kind) or by [`FaultVfs::crash_now`]. From
//! that moment every operation on every handle fails with an I/O error: the
//! "process" is dead. The write that crashes may leave a torn prefix of
//! itself in `pending`. [`FaultVfs::restart`] then decides what survives and
//! begins a new generation; handles from before the crash keep failing.
//!
//! Randomness comes from one seed ([`FaultVfs::seed`]); tests print it on
//! failure so a run can be replayed exactly.
//!
//! Invariants:
//! - after `restart(LossMode::PowerLoss)`, every file holds exactly the bytes
//!   of its last completed `sync` (or nothing, if its entry was never synced);
//! - a completed `sync` is never undone by any mode;
//! - no operation succeeds between a crash and the following `restart`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{FileIo, Vfs};

/// When the simulated crash happens. Counts start at 1 and include every
/// operation since the `FaultVfs` was created (across restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// During the Nth `write_at`: a random prefix of it (possibly empty) reaches
    /// the page cache, then the process dies.
    Write(u64),
    /// At the Nth `sync`: the process dies before the sync takes effect.
    Sync(u64),
    /// At the Nth I/O operation (writes, length changes and syncs together).
    Op(u64),
}

/// What of the not-yet-durable state survives a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossMode {
    /// The process died but the OS did not: every completed write survives
    /// (what `kill -9` does), and so does a torn prefix of a crashing write.
    ProcessKill,
    /// Power loss: everything not synced is gone.
    PowerLoss,
    /// Power loss on a disk that wrote some of its cache: each pending
    /// operation independently survives whole, is dropped, or (writes only)
    /// survives as a torn prefix; unsynced directory changes survive or not
    /// at random.
    Chaos,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct FileState {
    /// Bytes that survive any crash.
    durable: Vec<u8>,
    /// Operations since the last sync, oldest first.
    pending: Vec<Pending>,
    /// `durable` with `pending` applied: what reads see.
    current: Vec<u8>,
}

/// A tiny deterministic generator (splitmix64): enough for fault choices,
/// and reproducible from the printed seed.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        self.next_u64() % n
    }
}

#[derive(Clone)]
struct State {
    seed: u64,
    rng: SplitMix64,
    /// Incremented by every restart; handles of older generations are dead.
    generation: u64,
    crashed: bool,
    crash_point: Option<CrashPoint>,
    /// How long every `sync` takes, to model a real disk.
    sync_delay: std::time::Duration,
    writes: u64,
    syncs: u64,
    ops: u64,
    next_id: u64,
    /// Name -> file id, as the process sees the directory.
    names: BTreeMap<PathBuf, u64>,
    /// Name -> file id, as it survives a power loss (after `sync_dir`).
    durable_names: BTreeMap<PathBuf, u64>,
    files: BTreeMap<u64, FileState>,
}

fn crashed_error() -> io::Error {
    io::Error::other("simulated crash: the process is dead")
}

impl State {
    fn check_alive(&self, generation: u64) -> io::Result<()> {
        if self.crashed || generation != self.generation {
            return Err(crashed_error());
        }
        Ok(())
    }

    /// Counts one operation; returns true if it is the one that crashes.
    fn count(&mut self, is_write: bool, is_sync: bool) -> bool {
        self.ops += 1;
        if is_write {
            self.writes += 1;
        }
        if is_sync {
            self.syncs += 1;
        }
        match self.crash_point {
            Some(CrashPoint::Write(n)) => is_write && self.writes == n,
            Some(CrashPoint::Sync(n)) => is_sync && self.syncs == n,
            Some(CrashPoint::Op(n)) => self.ops == n,
            None => false,
        }
    }

    fn file(&mut self, id: u64) -> io::Result<&mut FileState> {
        self.files
            .get_mut(&id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "file was removed"))
    }
}

fn apply(data: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write {
            offset,
            data: bytes,
        } => {
            let start = *offset as usize;
            let end = start + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[start..end].copy_from_slice(bytes);
        }
        Pending::SetLen(len) => data.resize(*len as usize, 0),
    }
}

/// The fault-injecting directory. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct FaultVfs {
    state: Arc<Mutex<State>>,
}

impl FaultVfs {
    /// An empty directory whose random choices all derive from `seed`.
    pub fn new(seed: u64) -> FaultVfs {
        FaultVfs {
            state: Arc::new(Mutex::new(State {
                seed,
                rng: SplitMix64::new(seed),
                generation: 0,
                crashed: false,
                crash_point: None,
                sync_delay: std::time::Duration::ZERO,
                writes: 0,
                syncs: 0,
                ops: 0,
                next_id: 0,
                names: BTreeMap::new(),
                durable_names: BTreeMap::new(),
                files: BTreeMap::new(),
            })),
        }
    }

    /// An independent copy of this directory and all its state (durable and
    /// pending bytes, counters, the random generator): replay many different
    /// crashes from one prepared state.
    pub fn fork(&self) -> FaultVfs {
        FaultVfs {
            state: Arc::new(Mutex::new(self.state.lock().clone())),
        }
    }

    /// The seed every random choice derives from: print it on failure.
    pub fn seed(&self) -> u64 {
        self.state.lock().seed
    }

    /// Arms (or, with `None`, disarms) the crash trigger.
    pub fn set_crash_point(&self, point: Option<CrashPoint>) {
        self.state.lock().crash_point = point;
    }

    /// Makes every file `sync` take `delay` (slept outside any lock), like a
    /// disk with a real flush latency.
    pub fn set_sync_delay(&self, delay: std::time::Duration) {
        self.state.lock().sync_delay = delay;
    }

    /// Crashes immediately: every later operation fails until `restart`.
    pub fn crash_now(&self) {
        self.state.lock().crashed = true;
    }

    /// Whether the simulated process is dead.
    pub fn is_crashed(&self) -> bool {
        self.state.lock().crashed
    }

    /// Number of `write_at` calls so far.
    pub fn write_count(&self) -> u64 {
        self.state.lock().writes
    }

    /// Number of `sync` calls so far.
    pub fn sync_count(&self) -> u64 {
        self.state.lock().syncs
    }

    /// Number of I/O operations (writes, length changes, syncs) so far.
    pub fn op_count(&self) -> u64 {
        self.state.lock().ops
    }

    /// Boots the machine again after a crash (or crashes first, if the process
    /// is still alive): decides what of the pending state survives according
    /// to `mode`, makes the survivors durable, disarms the crash point and
    /// starts a new generation. Handles opened before are dead.
    pub fn restart(&self, mode: LossMode) {
        let mut st = self.state.lock();
        let st = &mut *st;
        // Directory entries first.
        let names = match mode {
            LossMode::ProcessKill => st.names.clone(),
            LossMode::PowerLoss => st.durable_names.clone(),
            LossMode::Chaos => {
                let mut names = st.durable_names.clone();
                let all: Vec<PathBuf> = st
                    .names
                    .keys()
                    .chain(st.durable_names.keys())
                    .cloned()
                    .collect();
                for name in all {
                    if st.names.get(&name) != st.durable_names.get(&name) && st.rng.below(2) == 0 {
                        match st.names.get(&name) {
                            Some(&id) => names.insert(name, id),
                            None => names.remove(&name),
                        };
                    }
                }
                names
            }
        };
        for file in st.files.values_mut() {
            let pending = std::mem::take(&mut file.pending);
            let mut data = std::mem::take(&mut file.durable);
            for op in &pending {
                match mode {
                    LossMode::ProcessKill => apply(&mut data, op),
                    LossMode::PowerLoss => {}
                    LossMode::Chaos => match (st.rng.below(3), op) {
                        (0, _) => apply(&mut data, op),
                        (
                            1,
                            Pending::Write {
                                offset,
                                data: bytes,
                            },
                        ) if !bytes.is_empty() => {
                            let keep = st.rng.below(bytes.len() as u64) as usize;
                            let torn = Pending::Write {
                                offset: *offset,
                                data: bytes[..keep].to_vec(),
                            };
                            apply(&mut data, &torn);
                        }
                        _ => {}
                    },
                }
            }
            file.current = data.clone();
            file.durable = data;
        }
        let live: std::collections::BTreeSet<u64> = names.values().copied().collect();
        st.files.retain(|id, _| live.contains(id));
        st.names = names.clone();
        st.durable_names = names;
        st.crashed = false;
        st.crash_point = None;
        st.generation += 1;
    }

    /// The bytes a file holds now (as reads see them), for assertions.
    pub fn contents(&self, name: &Path) -> Option<Vec<u8>> {
        let st = self.state.lock();
        let id = st.names.get(name)?;
        st.files.get(id).map(|f| f.current.clone())
    }
}

struct FaultFile {
    state: Arc<Mutex<State>>,
    id: u64,
    generation: u64,
}

impl FileIo for FaultFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check_alive(self.generation)?;
        super::read_from_memory(&st.file(self.id)?.current, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check_alive(self.generation)?;
        st.file(self.id)?;
        let crash = st.count(true, false);
        let data = if crash {
            let keep = st.rng.below(buf.len() as u64 + 1) as usize;
            buf[..keep].to_vec()
        } else {
            buf.to_vec()
        };
        let op = Pending::Write { offset, data };
        let file = st.file(self.id)?;
        apply(&mut file.current, &op);
        file.pending.push(op);
        if crash {
            st.crashed = true;
            return Err(crashed_error());
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let delay = self.state.lock().sync_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut st = self.state.lock();
        st.check_alive(self.generation)?;
        st.file(self.id)?;
        if st.count(false, true) {
            st.crashed = true;
            return Err(crashed_error());
        }
        let file = st.file(self.id)?;
        file.pending.clear();
        file.durable = file.current.clone();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut st = self.state.lock();
        st.check_alive(self.generation)?;
        Ok(st.file(self.id)?.current.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        st.check_alive(self.generation)?;
        st.file(self.id)?;
        if st.count(false, false) {
            st.crashed = true;
            return Err(crashed_error());
        }
        let op = Pending::SetLen(len);
        let file = st.file(self.id)?;
        apply(&mut file.current, &op);
        file.pending.push(op);
        Ok(())
    }
}

impl FaultVfs {
    fn handle(&self, st: &State, id: u64) -> Arc<dyn FileIo> {
        Arc::new(FaultFile {
            state: self.state.clone(),
            id,
            generation: st.generation,
        })
    }
}

impl Vfs for FaultVfs {
    fn open(&self, name: &Path, create: bool) -> io::Result<Arc<dyn FileIo>> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed_error());
        }
        if let Some(&id) = st.names.get(name) {
            return Ok(self.handle(&st, id));
        }
        if !create {
            return Err(io::ErrorKind::NotFound.into());
        }
        let id = st.next_id;
        st.next_id += 1;
        st.files.insert(id, FileState::default());
        st.names.insert(name.to_path_buf(), id);
        Ok(self.handle(&st, id))
    }

    fn exists(&self, name: &Path) -> bool {
        self.state.lock().names.contains_key(name)
    }

    fn remove(&self, name: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed_error());
        }
        let id = st.names.remove(name).ok_or(io::ErrorKind::NotFound)?;
        // The data stays reachable while the durable directory still names it.
        if !st.durable_names.values().any(|&d| d == id) {
            st.files.remove(&id);
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let st = self.state.lock();
        if st.crashed {
            return Err(crashed_error());
        }
        Ok(st
            .names
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }

    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        if self.state.lock().crashed {
            return Err(crashed_error());
        }
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut st = self.state.lock();
        if st.crashed {
            return Err(crashed_error());
        }
        if st.count(false, true) {
            st.crashed = true;
            return Err(crashed_error());
        }
        let st = &mut *st;
        st.durable_names.retain(|p, _| p.parent() != Some(dir));
        for (p, &id) in &st.names {
            if p.parent() == Some(dir) {
                st.durable_names.insert(p.clone(), id);
            }
        }
        // Files no name reaches any more are gone for good.
        let live: std::collections::BTreeSet<u64> = st
            .names
            .values()
            .chain(st.durable_names.values())
            .copied()
            .collect();
        st.files.retain(|id, _| live.contains(id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    fn setup(vfs: &FaultVfs) -> Arc<dyn FileIo> {
        vfs.create_dir_all(Path::new("d")).unwrap();
        let f = vfs.open(&name("d/f"), true).unwrap();
        vfs.sync_dir(Path::new("d")).unwrap();
        f
    }

    #[test]
    fn power_loss_keeps_exactly_the_synced_bytes() {
        let vfs = FaultVfs::new(1);
        let f = setup(&vfs);
        f.write_at(b"durable", 0).unwrap();
        f.sync().unwrap();
        f.write_at(b"DURABLE-and-lost", 0).unwrap();
        vfs.restart(LossMode::PowerLoss);
        assert_eq!(vfs.contents(&name("d/f")).unwrap(), b"durable");
        assert!(
            f.read_at(&mut [0u8; 1], 0).is_err(),
            "old handle must be dead"
        );
    }

    #[test]
    fn process_kill_keeps_completed_writes() {
        let vfs = FaultVfs::new(2);
        let f = setup(&vfs);
        f.write_at(b"abc", 0).unwrap();
        vfs.restart(LossMode::ProcessKill);
        let f = vfs.open(&name("d/f"), false).unwrap();
        let mut buf = [0u8; 3];
        f.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn crash_at_nth_write_tears_it_and_kills_the_process() {
        for seed in 0..20 {
            let vfs = FaultVfs::new(seed);
            let f = setup(&vfs);
            vfs.set_crash_point(Some(CrashPoint::Write(2)));
            f.write_at(&[1u8; 100], 0).unwrap();
            assert!(f.write_at(&[2u8; 100], 100).is_err());
            assert!(vfs.is_crashed());
            assert!(f.write_at(&[3u8; 1], 0).is_err(), "seed {seed}");
            vfs.restart(LossMode::ProcessKill);
            let data = vfs.contents(&name("d/f")).unwrap();
            assert!(data.len() >= 100 && data.len() <= 200, "seed {seed}");
            assert!(data[..100].iter().all(|&b| b == 1), "seed {seed}");
            assert!(data[100..].iter().all(|&b| b == 2), "seed {seed}");
        }
    }

    #[test]
    fn crash_at_sync_means_the_sync_did_not_happen() {
        let vfs = FaultVfs::new(3);
        let f = setup(&vfs);
        let syncs = vfs.sync_count();
        vfs.set_crash_point(Some(CrashPoint::Sync(syncs + 1)));
        f.write_at(b"x", 0).unwrap();
        assert!(f.sync().is_err());
        vfs.restart(LossMode::PowerLoss);
        assert_eq!(vfs.contents(&name("d/f")).unwrap(), b"");
    }

    #[test]
    fn unsynced_directory_entries_vanish_on_power_loss() {
        let vfs = FaultVfs::new(4);
        let f = vfs.open(&name("d/new"), true).unwrap();
        f.write_at(b"x", 0).unwrap();
        f.sync().unwrap();
        vfs.restart(LossMode::PowerLoss);
        assert!(!vfs.exists(&name("d/new")));
    }

    #[test]
    fn unsynced_removal_is_undone_by_power_loss() {
        let vfs = FaultVfs::new(5);
        let f = setup(&vfs);
        f.write_at(b"keep", 0).unwrap();
        f.sync().unwrap();
        vfs.remove(&name("d/f")).unwrap();
        assert!(!vfs.exists(&name("d/f")));
        vfs.restart(LossMode::PowerLoss);
        assert_eq!(vfs.contents(&name("d/f")).unwrap(), b"keep");
        vfs.remove(&name("d/f")).unwrap();
        vfs.sync_dir(Path::new("d")).unwrap();
        vfs.restart(LossMode::PowerLoss);
        assert!(!vfs.exists(&name("d/f")));
    }

    #[test]
    fn chaos_never_undoes_a_sync_and_is_reproducible_from_its_seed() {
        let run = |seed: u64| {
            let vfs = FaultVfs::new(seed);
            let f = setup(&vfs);
            f.write_at(&[9u8; 64], 0).unwrap();
            f.sync().unwrap();
            for i in 0..8u8 {
                f.write_at(&[i; 32], 64 + u64::from(i) * 32).unwrap();
            }
            vfs.restart(LossMode::Chaos);
            vfs.contents(&name("d/f")).unwrap()
        };
        for seed in 0..50 {
            let a = run(seed);
            assert_eq!(a, run(seed), "seed {seed}: not reproducible");
            assert!(
                a.len() >= 64 && a[..64].iter().all(|&b| b == 9),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn set_len_is_pending_until_synced() {
        let vfs = FaultVfs::new(6);
        let f = setup(&vfs);
        f.write_at(b"0123456789", 0).unwrap();
        f.sync().unwrap();
        f.set_len(4).unwrap();
        assert_eq!(f.len().unwrap(), 4);
        vfs.restart(LossMode::PowerLoss);
        assert_eq!(vfs.contents(&name("d/f")).unwrap(), b"0123456789");
    }
}
