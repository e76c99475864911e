//! Files: paths as the `&str` arguments judges take, writing and reading test files, modes, and
//! the snapshot that proves a failed command changed nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A path as a command-line argument.
pub trait PathUtf8 {
    /// The path as UTF-8 text (every test path is).
    fn utf8(&self) -> &str;
}

impl PathUtf8 for Path {
    fn utf8(&self) -> &str {
        self.to_str().expect("utf-8 path")
    }
}

/// Writes a file, creating its parent directories.
pub fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

/// Copies a file, creating the target's parent directories.
pub fn copy(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::copy(from, to).unwrap();
}

/// The concatenation of `files` written to `out`.
pub fn cat(files: &[&Path], out: &Path) {
    let mut all = Vec::new();
    for f in files {
        all.extend(read_bytes(f));
    }
    write(out, &all);
}

/// A test file's bytes.
pub fn read_bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// A test file's text.
pub fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// The permission bits of a file or directory.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Every file under `dir` with its bytes and mode: compare before/after to prove a failed
/// command changed nothing. SQLite's `*-shm` files are left out: the shared-memory index of a
/// WAL, rebuilt from the WAL whenever needed, which every reader updates.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with("-shm") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                out.insert(p.clone(), (Vec::new(), meta.permissions().mode()));
                stack.push(p);
            } else {
                out.insert(p.clone(), (read_bytes(&p), meta.permissions().mode()));
            }
        }
    }
    out
}
