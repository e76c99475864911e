//! The release's own file names, beside its manifest: the sidecar, one signature per stage, the
//! bundled CRL and CA certificate, and the words uca writes into a signature's content hint. One
//! room, so `artifact manifest`, `attest`, `bundle` and `verify` name files the same way.

use std::path::{Path, PathBuf};

/// The suffix of a stage's signature file: `MANIFEST.<stage>.p7s`.
pub const ATTESTATION_SUFFIX: &str = ".p7s";

/// A manifest's own file beside it: `MANIFEST<suffix>` (the sidecar, signatures, the bundle).
pub fn beside(manifest: &Path, suffix: &str) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The default file for a stage: `MANIFEST.<stage>.p7s`.
pub fn attestation_path(manifest: &Path, stage: &str) -> PathBuf {
    beside(manifest, &format!(".{stage}{ATTESTATION_SUFFIX}"))
}

/// The stage a file named `entry` attests, when it is a signature of the manifest named
/// `manifest_name` (`MANIFEST.<stage>.p7s`).
pub fn attestation_stage<'a>(manifest_name: &str, entry: &'a str) -> Option<&'a str> {
    entry
        .strip_prefix(manifest_name)?
        .strip_prefix('.')?
        .strip_suffix(ATTESTATION_SUFFIX)
}

/// The sidecar of a manifest: `MANIFEST.meta`.
pub fn meta_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".meta")
}

/// The CRL `uca artifact bundle` puts beside a manifest: `MANIFEST.crl`.
pub fn bundled_crl_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".crl")
}

/// The CA certificate `uca artifact bundle` puts beside a manifest: `MANIFEST.ca.crt`.
pub fn bundled_ca_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".ca.crt")
}

/// The first word of the content hint uca writes; signatures from other tools lack it.
const HINT_TAG: &str = "uca-attestation";

/// The description uca writes into a signature's content hint: the stage, and the sidecar's
/// SHA-256 when there is one (so a renamed signature or an edited sidecar shows).
pub fn attestation_description(stage: &str, meta_sha256: Option<&[u8; 32]>) -> String {
    match meta_sha256 {
        Some(h) => format!("{HINT_TAG} stage={stage} meta-sha256={}", hex::encode(h)),
        None => format!("{HINT_TAG} stage={stage}"),
    }
}

/// What a content hint written by [`attestation_description`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub stage: String,
    /// The sidecar digest, hex, when the stage signed one.
    pub meta_sha256: Option<String>,
}

/// Reads back [`attestation_description`]; `None` for a description uca did not write.
pub fn parse_description(d: &str) -> Option<Hint> {
    let mut words = d.split(' ');
    if words.next()? != HINT_TAG {
        return None;
    }
    let mut stage = None;
    let mut meta_sha256 = None;
    for w in words {
        if let Some(s) = w.strip_prefix("stage=") {
            stage = Some(s.to_string());
        } else if let Some(m) = w.strip_prefix("meta-sha256=") {
            meta_sha256 = Some(m.to_string());
        }
    }
    Some(Hint {
        stage: stage?,
        meta_sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_beside_the_manifest() {
        let m = Path::new("out/SHA256SUMS");
        assert_eq!(
            attestation_path(m, "qa"),
            Path::new("out/SHA256SUMS.qa.p7s")
        );
        assert_eq!(meta_path(m), Path::new("out/SHA256SUMS.meta"));
        assert_eq!(bundled_crl_path(m), Path::new("out/SHA256SUMS.crl"));
        assert_eq!(bundled_ca_path(m), Path::new("out/SHA256SUMS.ca.crt"));
        assert_eq!(
            attestation_stage("SHA256SUMS", "SHA256SUMS.qa.p7s"),
            Some("qa")
        );
        assert_eq!(attestation_stage("SHA256SUMS", "SHA256SUMS.crl"), None);
        assert_eq!(attestation_stage("SHA256SUMS", "SHA256SUMSX.qa.p7s"), None);
    }

    #[test]
    fn the_hint_reads_back() {
        let d = attestation_description("build", Some(&[0xab; 32]));
        let h = parse_description(&d).unwrap();
        assert_eq!(h.stage, "build");
        assert_eq!(h.meta_sha256.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(
            parse_description("uca-attestation stage=qa"),
            Some(Hint {
                stage: "qa".into(),
                meta_sha256: None
            })
        );
        assert_eq!(parse_description("made by openssl"), None);
        assert_eq!(parse_description("uca-attestation meta-sha256=00"), None);
    }
}
