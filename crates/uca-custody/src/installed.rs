//! A tree on disk against a manifest: `--content` (every listed file matches, like
//! `sha256sum -c`) and `--installed` (an `rpm -V`-style report: modified, missing, extra, mode
//! and link changes; paths the policy marks mutable are reported, not failed).

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::CustodyError;
use crate::manifest::{Manifest, Meta, MetaKind, display_path};
use crate::policy::glob_match;
use crate::tree::{WalkOptions, hash_all, walk};

/// What differs about one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Modified,
    Missing,
    Extra,
    Mode,
    Link,
    Unreadable,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Modified => "modified",
            Change::Missing => "missing",
            Change::Extra => "extra",
            Change::Mode => "mode",
            Change::Link => "link",
            Change::Unreadable => "unreadable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub change: Change,
    pub path: String,
    pub detail: String,
    /// The policy lists the path as mutable: reported, not a failure.
    pub allowed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TreeReport {
    pub root: String,
    /// Files whose checksum was compared.
    pub checked: usize,
    pub findings: Vec<Finding>,
    pub ok: bool,
}

/// How strict a tree check is.
pub struct TreeCheck<'a> {
    /// Report files on disk that the manifest does not list (installed mode).
    pub extras: bool,
    /// Modes and links to compare, when a valid attestation covers the sidecar.
    pub meta: Option<&'a Meta>,
    /// Globs of paths expected to change.
    pub mutable: &'a [String],
}

fn is_mutable(mutable: &[String], path: &[u8]) -> bool {
    let p = String::from_utf8_lossy(path);
    mutable.iter().any(|g| glob_match(g, &p, true))
}

/// Compares the tree at `root` with `manifest`.
pub fn check_tree(
    root: &Path,
    manifest: &Manifest,
    opts: &TreeCheck<'_>,
) -> Result<TreeReport, CustodyError> {
    // A deployed tree is often reached through a `current -> releases/N` link: judge what it
    // points to.
    let canonical = std::fs::canonicalize(root).map_err(|e| CustodyError::Io {
        path: root.to_path_buf(),
        source: e,
    })?;
    let shown = root;
    let root = canonical.as_path();
    let meta_root = std::fs::metadata(root).map_err(|e| CustodyError::Io {
        path: root.to_path_buf(),
        source: e,
    })?;
    if !meta_root.is_dir() {
        return Err(CustodyError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut findings = Vec::new();
    let mut push = |change: Change, path: &[u8], detail: String| {
        findings.push(Finding {
            change,
            path: display_path(path),
            detail,
            allowed: is_mutable(opts.mutable, path),
        });
    };
    let abs: Vec<PathBuf> = manifest
        .entries
        .iter()
        .map(|e| root.join(std::ffi::OsStr::from_bytes(&e.path)))
        .collect();
    let mut jobs: Vec<(&Path, u64)> = Vec::with_capacity(abs.len());
    let mut present = Vec::with_capacity(abs.len());
    for (e, p) in manifest.entries.iter().zip(&abs) {
        match std::fs::symlink_metadata(p) {
            // An installed tree must hold the file itself, not a link to one elsewhere.
            Ok(m) if m.is_symlink() && opts.extras => push(
                Change::Modified,
                &e.path,
                "is a symbolic link now; the manifest lists a regular file".into(),
            ),
            Ok(m) if m.is_file() || (m.is_symlink() && p.is_file()) => {
                jobs.push((p.as_path(), m.len()));
                present.push(e);
            }
            Ok(_) => push(
                Change::Modified,
                &e.path,
                "is no longer a regular file".into(),
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => push(
                Change::Missing,
                &e.path,
                "listed in the manifest, not on disk".into(),
            ),
            Err(err) => push(Change::Unreadable, &e.path, err.to_string()),
        }
    }
    let hashes = hash_all(&jobs);
    let checked = present.len();
    for (e, h) in present.into_iter().zip(hashes) {
        match h {
            Ok(h) if h == e.sha256 => {}
            Ok(h) => push(
                Change::Modified,
                &e.path,
                format!(
                    "sha256 {} != {} in the manifest",
                    &hex::encode(h)[..16],
                    &hex::encode(e.sha256)[..16]
                ),
            ),
            Err(CustodyError::Io { source, .. }) => {
                push(Change::Unreadable, &e.path, source.to_string())
            }
            Err(other) => push(Change::Unreadable, &e.path, other.to_string()),
        }
    }
    if let Some(meta) = opts.meta {
        for m in &meta.entries {
            let p = root.join(std::ffi::OsStr::from_bytes(&m.path));
            match &m.kind {
                MetaKind::File => {
                    if let Ok(md) = std::fs::symlink_metadata(&p)
                        && md.is_file()
                        && md.mode() & 0o7777 != m.mode
                    {
                        push(
                            Change::Mode,
                            &m.path,
                            format!(
                                "mode {:04o}, manifest says {:04o}",
                                md.mode() & 0o7777,
                                m.mode
                            ),
                        );
                    }
                }
                MetaKind::Link { target } => match std::fs::read_link(&p) {
                    Ok(t) if t.as_os_str().as_bytes() == target.as_slice() => {}
                    Ok(t) => push(
                        Change::Link,
                        &m.path,
                        format!(
                            "points to '{}', manifest says '{}'",
                            display_path(t.as_os_str().as_bytes()),
                            display_path(target)
                        ),
                    ),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                        push(Change::Missing, &m.path, "symbolic link not on disk".into())
                    }
                    Err(_) => push(Change::Link, &m.path, "is no longer a symbolic link".into()),
                },
            }
        }
    }
    if opts.extras {
        let known: HashSet<&[u8]> = manifest
            .entries
            .iter()
            .map(|e| e.path.as_slice())
            .chain(
                opts.meta
                    .iter()
                    .flat_map(|m| m.entries.iter().map(|e| e.path.as_slice())),
            )
            .collect();
        let found = walk(
            root,
            &[root.to_path_buf()],
            &WalkOptions {
                follow_symlinks: false,
                exclude_prefix: None,
            },
        )?;
        let mut extra: Vec<&[u8]> = found
            .files
            .iter()
            .map(|f| f.rel.as_slice())
            .chain(found.links.iter().map(|l| l.0.as_slice()))
            .filter(|p| !known.contains(p))
            .collect();
        extra.sort();
        for p in extra {
            push(Change::Extra, p, "on disk, not in the manifest".into());
        }
    }
    findings.sort_by(|a, b| {
        a.path
            .cmp(&b.path)
            .then(a.change.as_str().cmp(b.change.as_str()))
    });
    let ok = findings.iter().all(|f| f.allowed);
    Ok(TreeReport {
        root: shown.display().to_string(),
        checked,
        findings,
        ok,
    })
}
