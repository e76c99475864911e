//! Errors of the custody crate: each carries the facts (path, line) and has a hint.

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

impl CustodyError {
    /// What to do next, in one line.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CustodyError::ManifestLine { .. } | CustodyError::EmptyManifest => {
                "a manifest is 'SHA256  PATH' lines as sha256sum prints them; rebuild it with 'uca artifact manifest'".into()
            }
            CustodyError::MetaLine { .. } => {
                "the sidecar is written by 'uca artifact manifest --out'; rebuild both together".into()
            }
            CustodyError::DuplicatePath(_) => {
                "each file may appear once; rebuild the manifest with 'uca artifact manifest'".into()
            }
            CustodyError::Io { .. } => "check the path and its permissions".into(),
            CustodyError::OutsideBase { .. } => {
                "name paths inside --base (default: the current directory), or pass a --base that contains them".into()
            }
            CustodyError::SpecialFile { .. } => {
                "a release tree holds files, directories and links; remove it or name the paths to include".into()
            }
            CustodyError::Config(e) => e.hint().into(),
            CustodyError::NotADirectory { .. }
            | CustodyError::NotUtf8Name { .. }
            | CustodyError::Pki(_)
            | CustodyError::NotHashed { .. } => return None,
        })
    }
}
