//! Opening the one engine of a database: storage, the write-ahead log,
//! recovery, and the transaction layer on top.
//!
//! ```text
//!  open_dir(dir):
//!    DurableEngine::open(dir)                log, redo, undo of storage losers, checkpoint
//!                                            (storage::wal::durable; every page change logged)
//!    TxnEngine::new(WalXidLog, limit)        xids restart above every id ever handed out
//!  in_memory():
//!    Engine over MemVfs (no log)  +  TxnEngine::volatile()
//! ```
//!
//! The xid limit file `xid_limit` (two slots, so a torn write never loses the
//! older limit):
//!
//! | offset | size | meaning                                   |
//! |-------:|-----:|-------------------------------------------|
//! |  0 / 16|    8 | id limit, u64 little-endian               |
//! |  8 / 24|    4 | CRC-32 of the 8 limit bytes, little-endian |
//! | 12 / 28|    4 | zero                                      |
//!
//! Slot `(limit / ID_RESERVATION_BLOCK) % 2` is written; the reader takes the
//! largest valid slot. Ids (xids and version stamps share the counter) never
//! reach the persisted limit, so a restarted counter is above every stamp in
//! every tree.
//!
//! Invariants:
//! - a file-backed database always runs with the log on (there is no option);
//! - a commit returns only after the log is durable up to that point, so the
//!   committed versions' page changes are redone after a crash.
//!
//! Open problem (docs/mvcc.md): MVCC row changes go to the trees directly,
//! not through `DurableEngine`'s logical-undo `Update` records and
//! all-or-nothing tree operations, so versions of a transaction still running
//! at a crash survive recovery and read as committed, and a crash inside a
//! split of an MVCC write is not covered. A clean close is exact.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::{Error, SqlState};
use crate::storage::btree::Tree;
use crate::storage::disk::{FileIo, MemVfs, OsVfs, Vfs};
use crate::storage::engine::{Engine, EngineOptions};
use crate::storage::wal::durable::DurableEngine;
use crate::storage::wal::{Wal, WalOptions};

use super::error::TxnError;
use super::lock::LockConfig;
use super::manager::{ID_RESERVATION_BLOCK, XidLog};
use super::snapshot::Xid;
use super::ssi::SsiConfig;
use super::transaction::TxnEngine;

/// Name of the xid limit file inside a data directory.
pub const XID_LIMIT_FILE_NAME: &str = "xid_limit";

/// Everything below the SQL layer, opened together.
#[derive(Clone)]
pub struct Stack {
    pub engine: Engine,
    pub txns: Arc<TxnEngine>,
    /// `None` for an in-memory database.
    pub wal: Option<Arc<Wal>>,
    /// The storage engine with its log (file-backed only).
    pub durable: Option<Arc<DurableEngine>>,
}

fn io_error(file: &str, e: std::io::Error) -> Error {
    Error::new(
        SqlState::IO_ERROR,
        format!("could not access file \"{file}\": {e}"),
    )
}

impl Stack {
    /// An in-memory engine: pages in memory behind the same buffer pool, no log.
    pub fn in_memory(frames: usize) -> Result<Stack, Error> {
        let engine = Engine::open(
            Arc::new(MemVfs::new()),
            EngineOptions {
                buffer_pool_frames: frames,
            },
        )?;
        Ok(Stack {
            engine,
            txns: TxnEngine::volatile(),
            wal: None,
            durable: None,
        })
    }

    /// Opens (creating on first use) the engine in the existing directory
    /// `dir`, with the log on and crash recovery run first.
    pub fn open_dir(dir: &Path, frames: usize) -> Result<Stack, Error> {
        let vfs: Arc<dyn Vfs> = Arc::new(OsVfs::new(dir));
        Stack::open_vfs(vfs, frames, WalOptions::default())
    }

    /// [`Stack::open_dir`] over any file layer (tests use fault injection).
    /// Storage and its recovery are [`DurableEngine::open`]'s; this adds the
    /// transaction layer with its xid limit on top.
    pub fn open_vfs(
        vfs: Arc<dyn Vfs>,
        frames: usize,
        wal_options: WalOptions,
    ) -> Result<Stack, Error> {
        let (durable, _report) = DurableEngine::open(
            vfs.clone(),
            EngineOptions {
                buffer_pool_frames: frames,
            },
            wal_options,
        )?;
        let durable = Arc::new(durable);
        let wal = durable.wal().clone();
        let xid_log = WalXidLog::open(vfs, wal.clone())?;
        let next_id = xid_log.recovered_limit.max(Xid::FIRST_NORMAL.0);
        let txns = TxnEngine::new(
            Arc::new(xid_log),
            next_id,
            LockConfig::default(),
            SsiConfig::default(),
        );
        Ok(Stack {
            engine: durable.engine().clone(),
            txns,
            wal: Some(wal),
            durable: Some(durable),
        })
    }

    /// Creates an empty tree; with the log on, as one all-or-nothing,
    /// redo-only action (tree creation is not undone by a rollback).
    pub fn create_tree(&self) -> Result<Tree, Error> {
        match &self.durable {
            Some(d) => Ok(self.engine.tree(d.create_tree()?)?),
            None => Ok(self.engine.create_tree()?),
        }
    }

    /// Makes everything durable: the log, then the pages.
    pub fn flush(&self) -> Result<(), Error> {
        if let Some(wal) = &self.wal {
            wal.flush_all()?;
        }
        self.engine.flush()?;
        Ok(())
    }
}

/// The transaction manager's durability seam over the write-ahead log and
/// the xid limit file.
struct WalXidLog {
    wal: Arc<Wal>,
    limit_file: Arc<dyn FileIo>,
    recovered_limit: u64,
    write: Mutex<()>,
}

const SLOT_BYTES: usize = 16;

fn decode_slot(b: &[u8]) -> Option<u64> {
    let limit = u64::from_le_bytes(b.get(0..8)?.try_into().ok()?);
    let crc = u32::from_le_bytes(b.get(8..12)?.try_into().ok()?);
    (crc32fast::hash(&limit.to_le_bytes()) == crc && limit != 0).then_some(limit)
}

fn encode_slot(limit: u64) -> [u8; SLOT_BYTES] {
    let mut b = [0u8; SLOT_BYTES];
    b[0..8].copy_from_slice(&limit.to_le_bytes());
    b[8..12].copy_from_slice(&crc32fast::hash(&limit.to_le_bytes()).to_le_bytes());
    b
}

impl WalXidLog {
    fn open(vfs: Arc<dyn Vfs>, wal: Arc<Wal>) -> Result<WalXidLog, Error> {
        let name = XID_LIMIT_FILE_NAME;
        let file = vfs
            .open(Path::new(name), true)
            .map_err(|e| io_error(name, e))?;
        let len = file.len().map_err(|e| io_error(name, e))?;
        let mut recovered_limit = 0;
        if len >= (2 * SLOT_BYTES) as u64 {
            let mut buf = [0u8; 2 * SLOT_BYTES];
            file.read_at(&mut buf, 0).map_err(|e| io_error(name, e))?;
            for slot in buf.chunks(SLOT_BYTES) {
                if let Some(l) = decode_slot(slot) {
                    recovered_limit = recovered_limit.max(l);
                }
            }
        } else if len != 0 {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "file \"{name}\" has {len} bytes, expected {}",
                    2 * SLOT_BYTES
                ),
            ));
        } else {
            file.write_at(&[0u8; 2 * SLOT_BYTES], 0)
                .and_then(|_| file.sync())
                .map_err(|e| io_error(name, e))?;
            vfs.sync_dir(Path::new("")).map_err(|e| io_error(name, e))?;
        }
        Ok(WalXidLog {
            wal,
            limit_file: file,
            recovered_limit,
            write: Mutex::new(()),
        })
    }
}

impl XidLog for WalXidLog {
    fn persist_id_limit(&self, limit: u64) -> Result<(), TxnError> {
        let _w = self.write.lock();
        let slot = (limit / ID_RESERVATION_BLOCK) % 2;
        self.limit_file
            .write_at(&encode_slot(limit), slot * SLOT_BYTES as u64)
            .and_then(|_| self.limit_file.sync())
            .map_err(|e| TxnError::from(io_error(XID_LIMIT_FILE_NAME, e)))
    }

    fn make_commit_durable(&self, _xid: Xid) -> Result<(), TxnError> {
        self.wal
            .flush_all()
            .map_err(|e| TxnError::from(Error::from(e)))
    }

    fn record_abort(&self, _xid: Xid) -> Result<(), TxnError> {
        // The in-memory undo list removes the versions through the logged
        // tree writes; nothing more to log.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{IsolationLevel, TxnOptions};

    #[test]
    fn xid_limit_slots_round_trip_and_reject_a_bad_crc() {
        let s = encode_slot(8192);
        assert_eq!(decode_slot(&s), Some(8192));
        let mut bad = s;
        bad[0] ^= 1;
        assert_eq!(decode_slot(&bad), None);
        assert_eq!(decode_slot(&[0u8; 16]), None);
    }

    #[test]
    fn committed_versions_survive_reopen_and_xids_restart_above_them() {
        let dir = tempfile::tempdir().unwrap();
        let tree_id;
        let first_xid;
        {
            let s = Stack::open_dir(dir.path(), 64).unwrap();
            let tree = s.engine.create_tree().unwrap();
            tree_id = tree.id();
            let mut t = s
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            first_xid = t.xid();
            t.begin_statement().unwrap();
            assert!(t.insert(&tree, b"k", b"v1").unwrap());
            t.commit().unwrap();
            let mut t = s
                .txns
                .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
                .unwrap();
            t.begin_statement().unwrap();
            assert!(t.insert(&tree, b"gone", b"x").unwrap());
            t.rollback().unwrap();
            s.flush().unwrap();
        }
        let s = Stack::open_dir(dir.path(), 64).unwrap();
        let tree = s.engine.tree(tree_id).unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        assert!(t.xid().0 > first_xid.0);
        t.begin_statement().unwrap();
        assert_eq!(t.get(&tree, b"k").unwrap(), Some(b"v1".to_vec()));
        assert_eq!(t.get(&tree, b"gone").unwrap(), None);
        t.commit().unwrap();
    }

    #[test]
    fn in_memory_stack_runs_transactions() {
        let s = Stack::in_memory(64).unwrap();
        let tree = s.engine.create_tree().unwrap();
        let mut t = s
            .txns
            .begin(TxnOptions::new(IsolationLevel::ReadCommitted))
            .unwrap();
        t.begin_statement().unwrap();
        assert!(t.insert(&tree, b"a", b"1").unwrap());
        t.begin_statement().unwrap(); // a statement sees the earlier ones' writes
        assert_eq!(t.get(&tree, b"a").unwrap(), Some(b"1".to_vec()));
        t.rollback().unwrap();
    }
}
