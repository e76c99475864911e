//! `uca artifact`: manifests, attestations, verification, offline bundles.

pub mod attest;
pub mod bundle;
pub mod manifest;
pub mod verify;

use std::path::Path;

use crate::exit::CliError;

/// Reads a file named on the command line, or says which one could not be read.
pub(crate) fn read_arg(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| {
        CliError::usage(
            format!("cannot read {what} {}: {e}", path.display()),
            Some("check the path".to_string()),
        )
    })
}
