//! [`Storage`]: every write the [`crate::Writer`] makes to an index directory goes through this
//! small trait (redb's `StorageBackend`, tantivy's `Directory`), so that tests can model a crash
//! that loses every write not followed by a sync (`tests/crash.rs`).
//!
//! Only writes, syncs, renames, deletions and the writer's redb open go through it; reads (the maps
//! of row and graph files, `meta.sum`, hashing `meta.redb`) use the file system directly, which is
//! sound because a backend writes through to the real files: a read sees what was written, synced or
//! not, as it does on a real file system. Production code uses [`FileSystem`].

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// A file open for writing through a [`Storage`].
pub trait StorageFile: Debug + Send + Sync {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `data` at `offset` (not durable until [`StorageFile::sync`]).
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()>;
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes the file's contents durable (`fsync`); its name is durable after [`Storage::sync_dir`].
    fn sync(&self) -> io::Result<()>;
}

/// Where a writer's changes to an index directory go.
pub trait Storage: Debug + Send + Sync {
    /// Opens `path` for reading and writing, creating it (empty) when `create` and it is missing.
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>>;
    /// Renames `from` to `to` atomically, replacing `to` (durable after [`Storage::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Deletes `path` (durable after [`Storage::sync_dir`]).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Makes creations, renames and deletions in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Opens the redb database at `path` for writing (creating it when `create`) with `builder`'s settings.
    fn open_redb(
        &self,
        builder: &redb::Builder,
        path: &Path,
        create: bool,
    ) -> Result<redb::Database, redb::DatabaseError>;
}

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystem;

/// A [`File`] as a [`StorageFile`].
#[derive(Debug)]
struct RealFile(File);

impl StorageFile for RealFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = &self.0;
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(buf)
        }
    }

    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut f = &self.0;
            f.seek(SeekFrom::Start(offset))?;
            f.write_all(data)
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_all()
    }
}

impl Storage for FileSystem {
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(Box::new(RealFile(f)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        #[cfg(unix)]
        File::open(dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn open_redb(
        &self,
        builder: &redb::Builder,
        path: &Path,
        create: bool,
    ) -> Result<redb::Database, redb::DatabaseError> {
        if create {
            builder.create(path)
        } else {
            builder.open(path)
        }
    }
}
