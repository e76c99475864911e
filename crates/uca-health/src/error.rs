//! Errors of the health crate, each with the facts and a hint.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    Config(#[from] uca_ca::ConfigError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("the health store {}: {message}", path.display())]
    Store { path: PathBuf, message: String },
}

impl HealthError {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            HealthError::Config(e) => e.hint().into(),
            HealthError::Io { .. } => "check the path and its permissions".into(),
            HealthError::Store { .. } => {
                "the store keeps probe history only; move it aside to start afresh".into()
            }
            HealthError::Setup(_) => return None,
        })
    }
}
