//! The control file `wal/control` (ARIES' "master record"): where recovery
//! starts reading, i.e. the LSN of the last complete checkpoint's begin record.
//!
//! It has two slots in separate 4 KiB blocks and writes alternate between
//! them, so a torn write can only damage the slot being written; the other
//! still holds the previous checkpoint. The valid slot with the higher
//! sequence number wins.
//!
//! Slot layout:
//!
//! | offset | size | meaning                                    |
//! |-------:|-----:|--------------------------------------------|
//! |      0 |    8 | magic `ARBORCTL`                           |
//! |      8 |    4 | format version (1)                         |
//! |     12 |    4 | reserved, zero                             |
//! |     16 |    8 | sequence number (incremented every write)  |
//! |     24 |    8 | LSN of the last checkpoint's begin record  |
//! |     32 |    8 | segment size of the log                    |
//! |     40 |    4 | CRC32 of bytes 0..40                       |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::storage::Lsn;
use crate::storage::disk::{FileIo, Vfs};

use super::WalError;
use super::segment::WAL_DIR;

const MAGIC: &[u8; 8] = b"ARBORCTL";
const VERSION: u32 = 1;
const SLOT_BYTES: usize = 44;
const SLOT_STRIDE: u64 = 4096;

/// Path of the control file.
pub fn control_path() -> PathBuf {
    Path::new(WAL_DIR).join("control")
}

/// What the control file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub sequence: u64,
    pub checkpoint: Lsn,
    pub segment_bytes: u64,
}

fn encode(c: &Control) -> [u8; SLOT_BYTES] {
    let mut b = [0u8; SLOT_BYTES];
    b[0..8].copy_from_slice(MAGIC);
    b[8..12].copy_from_slice(&VERSION.to_le_bytes());
    b[16..24].copy_from_slice(&c.sequence.to_le_bytes());
    b[24..32].copy_from_slice(&c.checkpoint.0.to_le_bytes());
    b[32..40].copy_from_slice(&c.segment_bytes.to_le_bytes());
    let crc = crc32fast::hash(&b[0..40]);
    b[40..44].copy_from_slice(&crc.to_le_bytes());
    b
}

fn decode(b: &[u8; SLOT_BYTES]) -> Option<Control> {
    let u64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(a)
    };
    if &b[0..8] != MAGIC
        || b[8..12] != VERSION.to_le_bytes()
        || crc32fast::hash(&b[0..40]).to_le_bytes() != b[40..44]
    {
        return None;
    }
    Some(Control {
        sequence: u64_at(16),
        checkpoint: Lsn(u64_at(24)),
        segment_bytes: u64_at(32),
    })
}

fn io_err(source: std::io::Error) -> WalError {
    WalError::Io {
        path: control_path().display().to_string(),
        source,
    }
}

/// The open control file.
pub struct ControlFile {
    file: Arc<dyn FileIo>,
    current: Control,
}

impl ControlFile {
    /// Reads the control file; `Ok(None)` if it does not exist (a log whose
    /// creation never finished). Both slots unreadable is corruption.
    pub fn open(vfs: &dyn Vfs) -> Result<Option<ControlFile>, WalError> {
        let path = control_path();
        if !vfs.exists(&path) {
            return Ok(None);
        }
        let file = vfs.open(&path, false).map_err(io_err)?;
        let mut best: Option<Control> = None;
        for slot in 0..2u64 {
            let mut b = [0u8; SLOT_BYTES];
            if file.read_at(&mut b, slot * SLOT_STRIDE).is_ok()
                && let Some(c) = decode(&b)
                && best.is_none_or(|b| c.sequence > b.sequence)
            {
                best = Some(c);
            }
        }
        match best {
            Some(current) => Ok(Some(ControlFile { file, current })),
            None => Err(WalError::Corrupt {
                lsn: Lsn(0),
                reason: format!(
                    "control file {} has no valid slot; the last checkpoint is unknown",
                    path.display()
                ),
            }),
        }
    }

    /// Creates the control file (durably, directory entry included).
    pub fn create(
        vfs: &dyn Vfs,
        checkpoint: Lsn,
        segment_bytes: u64,
    ) -> Result<ControlFile, WalError> {
        let path = control_path();
        let file = vfs.open(&path, true).map_err(io_err)?;
        file.set_len(0).map_err(io_err)?;
        let mut cf = ControlFile {
            file,
            current: Control {
                sequence: 0,
                checkpoint,
                segment_bytes,
            },
        };
        cf.write(checkpoint)?;
        vfs.sync_dir(Path::new(WAL_DIR)).map_err(io_err)?;
        Ok(cf)
    }

    /// What the control file says now.
    pub fn get(&self) -> Control {
        self.current
    }

    /// Durably records `checkpoint` as the last complete checkpoint.
    pub fn write(&mut self, checkpoint: Lsn) -> Result<(), WalError> {
        let next = Control {
            sequence: self.current.sequence + 1,
            checkpoint,
            segment_bytes: self.current.segment_bytes,
        };
        let slot = next.sequence % 2;
        self.file
            .write_at(&encode(&next), slot * SLOT_STRIDE)
            .map_err(io_err)?;
        self.file.sync().map_err(io_err)?;
        self.current = next;
        Ok(())
    }
}
