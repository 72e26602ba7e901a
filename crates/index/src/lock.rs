//! The writer lock: an advisory exclusive lock on `LOCK`, holding the owner's process id.
//!
//! The lock is the standard library's exclusive file lock (`File::lock`/`File::try_lock`: `flock(2)`
//! on Unix, `LockFileEx` on Windows) on an open file description, so it conflicts between processes
//! and between two opens in one process, and the operating system releases it when the holder dies
//! (`kill -9` included): a stale `LOCK` file never blocks the next writer.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IndexError, Result};

/// A held writer lock; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    path: PathBuf,
    _file: File,
}

impl WriterLock {
    /// Takes the lock at `path`, waiting for the holder if `wait`, else failing with
    /// [`IndexError::Locked`] naming the holder's pid.
    pub fn acquire(path: &Path, wait: bool) -> Result<WriterLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| IndexError::io(path, e))?;
        if !try_lock(&file, path)? {
            if !wait {
                let mut s = String::new();
                let _ = (&file).read_to_string(&mut s);
                let pid = s.trim().parse().unwrap_or(0);
                return Err(IndexError::Locked {
                    path: path.to_path_buf(),
                    pid,
                });
            }
            lock_blocking(&file, path)?;
        }
        file.set_len(0).map_err(|e| IndexError::io(path, e))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| IndexError::io(path, e))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| IndexError::io(path, e))?;
        Ok(WriterLock {
            path: path.to_path_buf(),
            _file: file,
        })
    }

    /// The `LOCK` file held.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Tries to take the lock without waiting: `Ok(false)` when another holder has it.
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(IndexError::io(path, e)),
    }
}

/// Waits for the lock.
fn lock_blocking(file: &File, path: &Path) -> Result<()> {
    file.lock().map_err(|e| IndexError::io(path, e))
}
