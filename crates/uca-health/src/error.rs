//! Errors of the health crate, each with the facts; the binary words the hint.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::probe::TlsError;
use crate::targets::TargetError;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A targets file refused, at `FILE:LINE:COLUMN`.
    #[error(transparent)]
    Config(#[from] uca_ca::ConfigError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `uca health check`'s flags describe a target the rules refuse; worded with the flags.
    #[error("{}", .0.for_flags())]
    Flags(TargetError),
    /// No TLS client configuration for a target (`target` is `None` for the one-shot check,
    /// whose only target is the URL on the command line).
    #[error("{}{error}", target.as_ref().map(|t| format!("target '{t}': ")).unwrap_or_default())]
    Tls {
        target: Option<String>,
        error: TlsError,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The CA directory could not be opened for the ledger and CRL check.
    #[error("the CA in {}: {source}", dir.display())]
    Ca {
        dir: PathBuf,
        source: uca_ca::CaError,
    },
    #[error("the CA ledger: {0}")]
    Ledger(uca_ca::CaError),
    #[error("the health store {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
}
