//! Finding a release's signatures: every `MANIFEST.<stage>.p7s` beside the manifest, read into
//! memory. The only file I/O of verification; judging what was found is pure.

use std::path::{Path, PathBuf};

use crate::CustodyError;
use crate::layout::attestation_stage;

/// A signature file found beside a manifest.
#[derive(Debug, Clone)]
pub struct AttestationFile {
    pub stage: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Every `MANIFEST.<stage>.p7s` beside the manifest, sorted by stage.
pub fn find_attestations(manifest: &Path) -> Result<Vec<AttestationFile>, CustodyError> {
    let io = |p: &Path, e| CustodyError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let dir = match manifest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(base) = manifest.file_name().and_then(|n| n.to_str()) else {
        return Err(CustodyError::NotUtf8Name {
            path: manifest.to_path_buf(),
        });
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
        let entry = entry.map_err(|e| io(&dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stage) = attestation_stage(base, name) else {
            continue;
        };
        let path = entry.path();
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        out.push(AttestationFile {
            stage: stage.to_string(),
            path,
            bytes,
        });
    }
    out.sort_by(|a, b| a.stage.cmp(&b.stage));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_this_manifests_signatures_sorted_by_stage() {
        let d = tempfile::tempdir().unwrap();
        for f in ["M.qa.p7s", "M.build.p7s", "M.crl", "N.qa.p7s", "M.meta"] {
            std::fs::write(d.path().join(f), f).unwrap();
        }
        let found = find_attestations(&d.path().join("M")).unwrap();
        let stages: Vec<_> = found.iter().map(|f| f.stage.as_str()).collect();
        assert_eq!(stages, ["build", "qa"]);
        assert_eq!(found[1].bytes, b"M.qa.p7s");
    }
}
