//! Errors of the custody crate: each carries the facts (path, line); the binary words the hint.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    #[error("manifest line {line}: {message}")]
    ManifestLine { line: usize, message: String },
    #[error("manifest sidecar line {line}: {message}")]
    MetaLine { line: usize, message: String },
    #[error("the manifest is empty")]
    EmptyManifest,
    #[error("the path '{0}' is listed more than once")]
    DuplicatePath(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is outside the base directory {}", path.display(), base.display())]
    OutsideBase { path: PathBuf, base: PathBuf },
    #[error("{} is {kind}, not a file, directory or symbolic link", path.display())]
    SpecialFile { path: PathBuf, kind: &'static str },
    #[error(transparent)]
    Config(#[from] uca_ca::ConfigError),
    /// A tree to compare against a manifest is not a directory.
    #[error("{} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// A manifest whose file name is not UTF-8: its signature files cannot be named.
    #[error("{} has no UTF-8 file name", path.display())]
    NotUtf8Name { path: PathBuf },
    #[error(transparent)]
    Pki(#[from] uca_pki::PkiError),
    /// A hashing worker ended without a result for this file (a bug, not an input problem).
    #[error("internal error: a file was not hashed ({})", path.display())]
    NotHashed { path: PathBuf },
}
