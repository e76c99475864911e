//! One writer at a time per CA directory: an advisory lock on `DIR/.lock`.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::CaError;
use crate::fsio::io_err;

/// Held for the lifetime of a [`crate::Ca`]; the OS releases it when the process exits, even
/// on `kill -9`, so a crash never leaves the CA locked.
#[derive(Debug)]
pub struct CaLock {
    _file: File,
}

impl CaLock {
    /// Takes the lock only if it is free right now (`None` when another process holds it).
    pub fn try_acquire(path: &Path) -> Result<Option<CaLock>, CaError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open lock file", path))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(CaLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
        }
    }

    /// Takes the lock, calling `on_wait` once if another process holds it, then blocking.
    pub fn acquire(path: &Path, on_wait: &mut dyn FnMut()) -> Result<CaLock, CaError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open lock file", path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(io_err("lock", path))?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", path)(e)),
        }
        Ok(CaLock { _file: file })
    }
}
