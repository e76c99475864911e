//! Durable, atomic file operations: temp + fsync + rename, private modes, filesystem syncs.
//!
//! Single files go through [`write_atomic`]. Batches write many files unsynced into staging
//! directories and then pay for one [`sync_filesystem`] instead of one fsync per file; the
//! staging directory is renamed (or exchanged) into place only after that sync.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::CaError;

/// Mode of private keys.
pub const KEY_MODE: u32 = 0o600;
/// Mode of certificates and other public files.
pub const PUBLIC_MODE: u32 = 0o644;
/// Mode of directories that hold keys.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

pub(crate) fn io_err<'a>(
    op: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> CaError + 'a {
    move |source| CaError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// A random suffix for temporary names, so concurrent writers never collide.
pub(crate) fn random_suffix() -> String {
    let mut b = [0u8; 6];
    // A failing CSPRNG only weakens uniqueness of a temp name; the pid keeps it distinct.
    let _ = getrandom::fill(&mut b);
    format!("{}-{}", std::process::id(), hex::encode(b))
}

/// Creates a file that must not exist yet, with `mode`, and writes `data` (no fsync).
///
/// The mode is applied at creation, so the umask can only narrow it: a key created 0600 is
/// never more readable, and certificates follow the operator's umask like any other file.
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err("create", path))?;
    f.write_all(data).map_err(io_err("write", path))?;
    Ok(())
}

/// Replaces `path` atomically: a reader sees the old bytes or the new ones, never a mix, and
/// after a crash the file is either old or new and complete.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    write_atomic_owned(path, data, mode, None)
}

/// [`write_atomic`], and the file gets `owner` (uid, gid) before it appears under its name, so a
/// key is never visible with the wrong owner, even for an instant.
pub fn write_atomic_owned(
    path: &Path,
    data: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), CaError> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", random_suffix()));
    let result = (|| {
        write_new(&tmp, data, mode)?;
        if let Some((uid, gid)) = owner {
            chown(&tmp, uid, gid)?;
        }
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        fsync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a directory entry durable (the rename or create inside it).
pub fn fsync_dir(dir: &Path) -> Result<(), CaError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err("fsync", dir))
}

/// Flushes every dirty page of the filesystem that holds `dir`: one call instead of an fsync
/// per file for a batch.
pub fn sync_filesystem(dir: &Path) -> Result<(), CaError> {
    let f = File::open(dir).map_err(io_err("open", dir))?;
    rustix::fs::syncfs(&f).map_err(|e| CaError::Io {
        op: "syncfs",
        path: dir.to_path_buf(),
        source: e.into(),
    })
}

/// Creates a directory with mode 0700 (the umask can only narrow it).
pub fn create_private_dir(path: &Path) -> Result<(), CaError> {
    fs::DirBuilder::new()
        .mode(PRIVATE_DIR_MODE)
        .create(path)
        .map_err(io_err("create directory", path))
}

/// Moves `staged` to `target`. If `target` exists, the two are swapped in one step
/// (`renameat2(RENAME_EXCHANGE)`), so readers never see a missing or half-replaced directory;
/// the old content is then at `staged`. Returns whether a swap happened.
pub fn move_into_place(staged: &Path, target: &Path) -> Result<bool, CaError> {
    if target.exists() {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            staged,
            rustix::fs::CWD,
            target,
            rustix::fs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| CaError::Io {
            op: "exchange",
            path: target.to_path_buf(),
            source: e.into(),
        })?;
        Ok(true)
    } else {
        fs::rename(staged, target).map_err(io_err("rename", target))?;
        Ok(false)
    }
}

/// Removes a directory tree if it exists.
pub fn remove_tree(path: &Path) -> Result<(), CaError> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CaError::Io {
            op: "remove",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Sets the owner of a file or directory.
pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), CaError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(io_err("chown", path))
}

/// Sets the mode of a file or directory exactly (used where the operator asked for a mode).
pub fn chmod(path: &Path, mode: u32) -> Result<(), CaError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_err("chmod", path))
}

/// A file to write: contents, mode, owner.
pub struct PendingFile {
    pub path: PathBuf,
    pub data: zeroize::Zeroizing<Vec<u8>>,
    pub mode: u32,
    pub owner: Option<(u32, u32)>,
}

/// Writes many files atomically with one sync per filesystem: each goes to a temporary name
/// (mode and owner set at once), one `syncfs` makes them all durable, then each is renamed over
/// its target. A crash leaves every target either old or new, plus temp files to ignore.
pub fn write_files(files: &[PendingFile]) -> Result<(), CaError> {
    let cleanup = |staged: &[(PathBuf, &Path)]| {
        for (tmp, _) in staged {
            let _ = fs::remove_file(tmp);
        }
    };
    remove_stale_temps(files);
    // Staging is independent per file: spread it over the cores, keep every outcome so that a
    // failure can clean up what the others wrote.
    let indexed: Vec<usize> = (0..files.len()).collect();
    let attempts = crate::parallel::map(&indexed, |&i| {
        let f = &files[i];
        let dir = parent_of(&f.path);
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", random_suffix()));
        let result = write_new(&tmp, &f.data, f.mode).and_then(|()| match f.owner {
            Some((uid, gid)) => chown(&tmp, uid, gid),
            None => Ok(()),
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        Ok::<_, CaError>(result.map(|()| (tmp, i)))
    })?;
    let mut staged: Vec<(PathBuf, &Path)> = Vec::with_capacity(files.len());
    let mut failed = None;
    for a in attempts {
        match a {
            Ok((tmp, i)) => staged.push((tmp, files[i].path.as_path())),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        cleanup(&staged);
        return Err(e);
    }
    let mut synced = std::collections::HashSet::new();
    for (tmp, _) in &staged {
        use std::os::unix::fs::MetadataExt;
        let dev = fs::metadata(tmp).map(|m| m.dev()).unwrap_or(0);
        if synced.insert(dev)
            && let Err(e) = sync_filesystem(&parent_of(tmp))
        {
            cleanup(&staged);
            return Err(e);
        }
    }
    for (i, (tmp, target)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, target) {
            cleanup(&staged[i..]);
            return Err(io_err("rename", target)(e));
        }
    }
    Ok(())
}

/// Fails if no entry can be created in `dir` (permissions, a read-only or immutable directory):
/// creates and removes a uniquely named empty directory.
pub fn probe_writable(dir: &Path) -> Result<(), CaError> {
    let probe = dir.join(format!(".probe-{}", random_suffix()));
    create_private_dir(&probe)?;
    fs::remove_dir(&probe).map_err(io_err("remove", &probe))
}

/// Writes a new file durably and atomically, refusing to replace one that exists (even one
/// created a moment ago by someone else): temp + fsync, then a no-replace rename.
pub fn write_new_durable(path: &Path, data: &[u8], mode: u32) -> Result<(), CaError> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", random_suffix()));
    let result = (|| {
        write_new(&tmp, data, mode)?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err("fsync", &tmp))?;
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            &tmp,
            rustix::fs::CWD,
            path,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| CaError::Io {
            op: "create",
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        fsync_dir(&dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes temporary files an interrupted earlier write left next to these targets
/// (`.NAME.tmp-…`): they may hold key material, with the target's mode, under no useful name.
fn remove_stale_temps(files: &[PendingFile]) {
    let mut by_dir: std::collections::HashMap<PathBuf, std::collections::HashSet<String>> =
        std::collections::HashMap::new();
    for f in files {
        if let Some(name) = f.path.file_name() {
            by_dir
                .entry(parent_of(&f.path))
                .or_default()
                .insert(format!(".{}.tmp-", name.to_string_lossy()));
        }
    }
    for (dir, prefixes) in by_dir {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(idx) = n.find(".tmp-") else { continue };
            if n.starts_with('.') && prefixes.contains(&n[..idx + 5]) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}
