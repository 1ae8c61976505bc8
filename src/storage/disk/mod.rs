//! The file boundary. Everything the engine persists goes through [`FileIo`]
//! (one file) and [`Vfs`] (a directory of files), so that the same engine runs
//! on real files, on memory (the in-memory database), and on a
//! fault-injecting layer that simulates crashes and torn writes in tests.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub mod fault;

/// One file, addressed by byte offset. Implementations are safe to share
/// between threads; concurrent writes to disjoint ranges are allowed.
pub trait FileIo: Send + Sync {
    /// Reads exactly `buf.len()` bytes at `offset`; reading past the end is an
    /// `UnexpectedEof` error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every completed write durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// A directory of files.
pub trait Vfs: Send + Sync {
    /// Opens `name` (a path relative to the VFS root), creating it if `create`.
    fn open(&self, name: &Path, create: bool) -> io::Result<Arc<dyn FileIo>>;
    /// Whether `name` exists.
    fn exists(&self, name: &Path) -> bool;
    /// Removes `name`.
    fn remove(&self, name: &Path) -> io::Result<()>;
    /// Names of the files directly inside directory `dir`, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Creates directory `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Makes the directory's entries (created and removed files) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// Real files under a root directory.
pub struct OsVfs {
    root: PathBuf,
}

impl OsVfs {
    pub fn new(root: impl Into<PathBuf>) -> OsVfs {
        OsVfs { root: root.into() }
    }
}

struct OsFile {
    file: File,
}

impl FileIo for OsFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

impl Vfs for OsVfs {
    fn open(&self, name: &Path, create: bool) -> io::Result<Arc<dyn FileIo>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(self.root.join(name))?;
        Ok(Arc::new(OsFile { file }))
    }
    fn exists(&self, name: &Path) -> bool {
        self.root.join(name).exists()
    }
    fn remove(&self, name: &Path) -> io::Result<()> {
        std::fs::remove_file(self.root.join(name))
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.root.join(dir))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                names.push(dir.join(entry.file_name()));
            }
        }
        names.sort();
        Ok(names)
    }
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(self.root.join(dir))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(self.root.join(dir))?.sync_all()
    }
}

/// Files in memory: the in-memory database, and the base of test layers.
#[derive(Default)]
pub struct MemVfs {
    files: Mutex<BTreeMap<PathBuf, Arc<MemFile>>>,
}

impl MemVfs {
    pub fn new() -> MemVfs {
        MemVfs::default()
    }
}

/// One file in memory.
#[derive(Default)]
pub struct MemFile {
    data: RwLock<Vec<u8>>,
}

/// Copies `buf.len()` bytes of an in-memory file at `offset` into `buf`;
/// `UnexpectedEof` past the end, as [`FileIo::read_at`] specifies.
pub(crate) fn read_from_memory(data: &[u8], buf: &mut [u8], offset: u64) -> io::Result<()> {
    let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
    let end = start
        .checked_add(buf.len())
        .filter(|&end| end <= data.len())
        .ok_or(io::ErrorKind::UnexpectedEof)?;
    buf.copy_from_slice(&data[start..end]);
    Ok(())
}

impl FileIo for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_from_memory(&self.data.read(), buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut data = self.data.write();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(buf);
        Ok(())
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.data.read().len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.data.write().resize(len, 0);
        Ok(())
    }
}

impl Vfs for MemVfs {
    fn open(&self, name: &Path, create: bool) -> io::Result<Arc<dyn FileIo>> {
        let mut files = self.files.lock();
        if let Some(f) = files.get(name) {
            return Ok(f.clone());
        }
        if !create {
            return Err(io::ErrorKind::NotFound.into());
        }
        let f = Arc::new(MemFile::default());
        files.insert(name.to_path_buf(), f.clone());
        Ok(f)
    }
    fn exists(&self, name: &Path) -> bool {
        self.files.lock().contains_key(name)
    }
    fn remove(&self, name: &Path) -> io::Result<()> {
        self.files
            .lock()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .lock()
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }
    fn create_dir_all(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(vfs: &dyn Vfs) {
        vfs.create_dir_all(Path::new("wal")).unwrap();
        let f = vfs.open(Path::new("wal/0001"), true).unwrap();
        f.write_at(b"hello", 3).unwrap();
        assert_eq!(f.len().unwrap(), 8);
        let mut buf = [0u8; 8];
        f.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"\0\0\0hello");
        assert!(f.read_at(&mut buf, 1).is_err(), "read past end must fail");
        f.set_len(2).unwrap();
        assert_eq!(f.len().unwrap(), 2);
        assert_eq!(
            vfs.list(Path::new("wal")).unwrap(),
            vec![PathBuf::from("wal/0001")]
        );
        vfs.remove(Path::new("wal/0001")).unwrap();
        assert!(!vfs.exists(Path::new("wal/0001")));
    }

    #[test]
    fn mem_vfs_reads_what_was_written() {
        roundtrip(&MemVfs::new());
    }

    #[test]
    fn os_vfs_reads_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        roundtrip(&OsVfs::new(dir.path()));
    }
}
