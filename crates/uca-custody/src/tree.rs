//! Walking a release tree and hashing it on every core.
//!
//! Files are hashed largest first from a shared queue, so one big file and many small ones keep
//! all cores busy; each worker reuses one read buffer. SHA-256 runs on the CPU's SHA extensions
//! where it has them.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::CustodyError;
use crate::manifest::{Entry, Manifest, Meta, MetaEntry, MetaKind};

/// Read size per call: large enough that syscalls vanish next to hashing.
const BUF: usize = 256 * 1024;

/// A file found by a walk: where it is, what the manifest calls it, how big it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub abs: PathBuf,
    pub rel: Vec<u8>,
    pub size: u64,
    pub mode: u32,
}

/// Everything a walk found.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<Found>,
    /// Symbolic links that were recorded, not followed: relative path, target, mode.
    pub links: Vec<(Vec<u8>, Vec<u8>, u32)>,
}

/// Options of `uca artifact manifest`.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Follow symbolic links (to files and directories) instead of recording them.
    pub follow_symlinks: bool,
    /// The manifest being written (absolute): it, and files beside it named after it plus a
    /// suffix (`M.meta`, `M.build.p7s`, `M.crl`), are not part of the release.
    pub exclude_prefix: Option<PathBuf>,
}

fn rel_bytes(base: &Path, abs: &Path) -> Option<Vec<u8>> {
    let rel = abs.strip_prefix(base).ok()?;
    let bytes = rel.as_os_str().as_bytes();
    (!bytes.is_empty()).then(|| bytes.to_vec())
}

fn io_err(path: &Path, e: std::io::Error) -> CustodyError {
    CustodyError::Io {
        path: path.to_path_buf(),
        source: e,
    }
}

/// Walks `paths` (files or directories, recursively) below `base`.
pub fn walk(base: &Path, paths: &[PathBuf], opts: &WalkOptions) -> Result<Walk, CustodyError> {
    let base = fs::canonicalize(base).map_err(|e| io_err(base, e))?;
    let mut out = Walk::default();
    let mut stack: Vec<PathBuf> = Vec::new();
    for p in paths {
        // Canonicalize the parent only, so a symlink named on the command line stays a link.
        let abs = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
                fs::canonicalize(parent)
                    .map_err(|e| io_err(parent, e))?
                    .join(name)
            }
            (None, _) | (_, None) => fs::canonicalize(p).map_err(|e| io_err(p, e))?,
            (Some(_), Some(name)) => std::env::current_dir()
                .map_err(|e| io_err(p, e))?
                .join(name),
        };
        fs::symlink_metadata(&abs).map_err(|e| io_err(p, e))?;
        if abs != base && !abs.starts_with(&base) {
            return Err(CustodyError::OutsideBase {
                path: p.clone(),
                base: base.clone(),
            });
        }
        stack.push(abs);
    }
    // Directories already entered, so followed links cannot loop.
    let mut seen_dirs = std::collections::HashSet::new();
    while let Some(abs) = stack.pop() {
        let meta = if opts.follow_symlinks {
            fs::metadata(&abs)
        } else {
            fs::symlink_metadata(&abs)
        }
        .map_err(|e| io_err(&abs, e))?;
        let ft = meta.file_type();
        if let Some(out) = &opts.exclude_prefix
            && !ft.is_dir()
            && is_manifest_family(out, &abs)
        {
            continue;
        }
        if ft.is_dir() {
            if !seen_dirs.insert((meta.dev(), meta.ino())) {
                continue;
            }
            for entry in fs::read_dir(&abs).map_err(|e| io_err(&abs, e))? {
                let entry = entry.map_err(|e| io_err(&abs, e))?;
                stack.push(entry.path());
            }
        } else if ft.is_file() {
            let rel = rel_bytes(&base, &abs).ok_or_else(|| CustodyError::OutsideBase {
                path: abs.clone(),
                base: base.clone(),
            })?;
            out.files.push(Found {
                abs,
                rel,
                size: meta.len(),
                mode: meta.mode() & 0o7777,
            });
        } else if ft.is_symlink() {
            let target = fs::read_link(&abs).map_err(|e| io_err(&abs, e))?;
            let rel = rel_bytes(&base, &abs).ok_or_else(|| CustodyError::OutsideBase {
                path: abs.clone(),
                base: base.clone(),
            })?;
            out.links
                .push((rel, target.as_os_str().as_bytes().to_vec(), 0o777));
        } else {
            let kind = if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "a device"
            };
            return Err(CustodyError::SpecialFile { path: abs, kind });
        }
    }
    Ok(out)
}

/// `path` is the manifest `out` itself or one of its own files beside it: `OUT.meta`,
/// `OUT.<stage>.p7s`, `OUT.crl`, `OUT.ca.crt`.
fn is_manifest_family(out: &Path, path: &Path) -> bool {
    let (Some(out_name), Some(name)) = (out.file_name(), path.file_name()) else {
        return false;
    };
    let (out_name, name) = (out_name.as_bytes(), name.as_bytes());
    if out.parent() != path.parent() || !name.starts_with(out_name) {
        return false;
    }
    let suffix = &name[out_name.len()..];
    suffix.is_empty()
        || [&b".meta"[..], b".crl", b".ca.crt"].contains(&suffix)
        || (suffix.starts_with(b".") && suffix.ends_with(b".p7s") && suffix.len() > 5)
}

/// SHA-256 of one file, read with `buf`.
pub fn hash_file(path: &Path, buf: &mut [u8]) -> Result<[u8; 32], CustodyError> {
    let mut f = File::open(path).map_err(|e| io_err(path, e))?;
    let mut h = Sha256::new();
    loop {
        match f.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(path, e)),
        }
    }
    Ok(h.finalize().into())
}

/// Hashes `paths` on every core; the result is in the order given. `Err` entries are kept per
/// file so a verification can name every unreadable file, not just the first.
pub fn hash_all(paths: &[(&Path, u64)]) -> Vec<Result<[u8; 32], CustodyError>> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(paths.len().max(1));
    // Largest first: the longest jobs start early and the small ones fill in around them.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by(|&a, &b| paths[b].1.cmp(&paths[a].1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Slot>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    let work = || {
        let mut buf = vec![0u8; BUF];
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&idx) = order.get(i) else { break };
            done.push((idx, hash_file(paths[idx].0, &mut buf)));
            if done.len() >= 256 {
                flush(&results, &mut done);
            }
        }
        flush(&results, &mut done);
    };
    if threads < 2 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results
        .into_iter()
        .zip(paths)
        .map(|(r, (path, _))| {
            r.unwrap_or_else(|| {
                Err(CustodyError::NotHashed {
                    path: path.to_path_buf(),
                })
            })
        })
        .collect()
}

type Slot = Option<Result<[u8; 32], CustodyError>>;

fn flush(results: &Mutex<Vec<Slot>>, done: &mut Vec<(usize, Result<[u8; 32], CustodyError>)>) {
    let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
    for (idx, res) in done.drain(..) {
        r[idx] = Some(res);
    }
}

/// The manifest (and sidecar) of a walk. Any unreadable file is an error: a manifest never
/// silently leaves a file out.
pub fn build(walk: &Walk) -> Result<(Manifest, Meta), CustodyError> {
    let jobs: Vec<(&Path, u64)> = walk
        .files
        .iter()
        .map(|f| (f.abs.as_path(), f.size))
        .collect();
    let hashes = hash_all(&jobs);
    let mut entries = Vec::with_capacity(walk.files.len());
    let mut meta = Vec::with_capacity(walk.files.len() + walk.links.len());
    for (f, h) in walk.files.iter().zip(hashes) {
        entries.push(Entry {
            path: f.rel.clone(),
            sha256: h?,
        });
        meta.push(MetaEntry {
            path: f.rel.clone(),
            mode: f.mode,
            kind: MetaKind::File,
        });
    }
    for (rel, target, mode) in &walk.links {
        meta.push(MetaEntry {
            path: rel.clone(),
            mode: *mode,
            kind: MetaKind::Link {
                target: target.clone(),
            },
        });
    }
    let manifest = Manifest::from_entries(entries)?;
    meta.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((manifest, Meta { entries: meta }))
}
