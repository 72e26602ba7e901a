//! The writer lock: an advisory exclusive lock on `LOCK`, holding the owner's process id.
//!
//! The lock is an `flock(2)` on an open file description, so it conflicts between processes and
//! between two opens in one process, and the kernel releases it when the holder dies (`kill -9`
//! included): a stale `LOCK` file never blocks the next writer.

use std::fs::{File, OpenOptions};
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

#[cfg(unix)]
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a valid, owned descriptor.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(IndexError::io(path, err))
    }
}

#[cfg(unix)]
fn lock_blocking(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        // SAFETY: flock on a valid, owned descriptor.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(IndexError::io(path, err));
        }
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File, path: &Path) -> Result<bool> {
    Err(IndexError::Invalid {
        path: path.to_path_buf(),
        detail: "writer locking is implemented for Unix only".into(),
    })
}

#[cfg(not(unix))]
fn lock_blocking(file: &File, path: &Path) -> Result<()> {
    try_lock(file, path).map(|_| ())
}
