//! `uca artifact`: chain of custody for releases.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::exit::{Exit, exit_codes_help};

#[derive(Debug, Subcommand)]
pub enum ArtifactCommand {
    /// Write a sha256sum-format manifest of files and directories
    #[command(
        after_help = "The output is exactly what GNU sha256sum prints (paths relative to --base, sorted
bytewise, LF line ends, coreutils escaping for names with \\, LF or CR), so
'sha256sum -c MANIFEST' checks a release with no uca installed. With --out, modes and
symbolic links go to the sidecar MANIFEST.meta (sha256sum cannot say them). The
manifest and its own files beside it (MANIFEST.meta, MANIFEST.<stage>.p7s, MANIFEST.crl,
MANIFEST.ca.crt) are left out of the walk.

EXAMPLES:
  uca artifact manifest dist --out release/SHA256SUMS
  uca artifact manifest --base dist dist --out SHA256SUMS     # paths relative to dist/
  (cd dist && sha256sum -c ../SHA256SUMS)"
    )]
    Manifest(ManifestArgs),
    /// Sign a manifest for one stage (build, qa, release…): a detached CMS signature
    #[command(
        after_help = "Writes MANIFEST.<stage>.p7s (DER CMS SignedData, detached, with the signer's chain and
signed content type, message digest, signing time and stage). The manifest itself is
never rewritten. Stock OpenSSL verifies it:

  openssl cms -verify -binary -inform DER -in SHA256SUMS.build.p7s -content SHA256SUMS \\
      -CAfile ca.crt -purpose any -out /dev/null

(OpenSSL 3.2+ can check the purpose itself with -purpose codesign. OpenSSL 3.0 cannot
verify Ed25519 CMS signatures: use EC or RSA signing keys where it must.)

EXAMPLES:
  uca issue ci-build --profile code-signing
  uca artifact attest SHA256SUMS --cert ci-build --stage build
  uca artifact attest SHA256SUMS --cert qa.crt --key qa.key --chain chain.pem --stage qa"
    )]
    Attest(AttestArgs),
    /// Check a manifest's attestations against a policy, and optionally the files
    #[command(
        after_help = format!("Checks every MANIFEST.<stage>.p7s beside the manifest: signature, chain to a trusted
root, signer valid at its signing time, not revoked (CRL, MANIFEST.crl beside it, or this
CA's ledger), codeSigning EKU, signer allowed for the stage, age; then that every
required stage is present. --content DIR checks every listed file; --installed DIR also
reports files not in the manifest and, when the sidecar is attested, mode and link
changes (rpm -V style).

Without --policy: --require STAGES [--root FILE]... [--signer STAGE=PATTERN]...; the
root defaults to this CA's certificate only when --dir or UCA_DIR names it.

EXAMPLES:
  uca artifact verify SHA256SUMS --policy release-policy.toml --content dist
  uca artifact verify SHA256SUMS --root ca.crt --require build,qa
  uca artifact verify SHA256SUMS --policy prod.toml --installed /opt/app

{}", exit_codes_help(&[Exit::Ok, Exit::Usage, Exit::NotValid], false))
    )]
    Verify(ArtifactVerifyArgs),
    /// Put the CA certificate and current CRL beside a release, for offline verification
    #[command(
        after_help = "Writes MANIFEST.ca.crt (this CA's certificate chain) and MANIFEST.crl (its current
CRL, from 'uca crl'). 'uca artifact verify' picks MANIFEST.crl up by itself (after
checking its signature against the trusted roots); the CA certificate is a copy for
openssl users and is never trusted just because it is there.

EXAMPLES:
  uca crl && uca artifact bundle release/SHA256SUMS"
    )]
    Bundle(BundleArgs),
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Files and directories to include (directories are walked recursively)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Paths in the manifest are relative to DIR
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub base: PathBuf,
    /// Write the manifest to FILE (and modes/links to FILE.meta) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing manifest (its attestations no longer verify)
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Follow symbolic links instead of recording them
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Do not write the FILE.meta sidecar
    #[arg(long, requires = "out")]
    pub no_meta: bool,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The manifest to sign
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The signer certificate: a PEM/DER file, or the NAME of a certificate this CA issued
    #[arg(long, value_name = "CERT|NAME")]
    pub cert: String,
    /// The signer's private key (PKCS#8, possibly encrypted); default for a NAME: its key.pem
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Intermediate certificates to embed (PEM); default for a NAME: its chain
    #[arg(long, value_name = "CHAIN")]
    pub chain: Option<PathBuf>,
    /// The stage this signature attests
    #[arg(long, value_name = "NAME", default_value = "build")]
    pub stage: String,
    /// Write the signature to FILE (default MANIFEST.<stage>.p7s)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing signature file
    #[arg(long)]
    pub force: bool,
    /// Read the key's passphrase from the first line of FILE (else $UCA_KEY_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ArtifactVerifyArgs {
    /// The manifest; its attestations are the MANIFEST.<stage>.p7s files beside it
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The policy file (TOML): required stages, allowed signers, roots, CRL, max age
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A trusted root certificate (repeatable; without --policy)
    #[arg(long = "root", value_name = "FILE", conflicts_with = "policy")]
    pub roots: Vec<PathBuf>,
    /// Stages that must be attested, comma-separated (without --policy)
    #[arg(
        long,
        value_name = "STAGES",
        value_delimiter = ',',
        conflicts_with = "policy"
    )]
    pub require: Vec<String>,
    /// Who may attest a stage: STAGE=PATTERN, glob over CN or SAN (repeatable; without --policy)
    #[arg(
        long = "signer",
        value_name = "STAGE=PATTERN",
        conflicts_with = "policy"
    )]
    pub signers: Vec<String>,
    /// A CRL to check signers against (in addition to the policy's and MANIFEST.crl)
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
    /// Attestations older than this fail, e.g. 90d (without --policy)
    #[arg(long, value_name = "SPAN", conflicts_with = "policy")]
    pub max_age: Option<String>,
    /// Accept a CRL past its nextUpdate (its age is still shown)
    #[arg(long)]
    pub allow_stale_crl: bool,
    /// Fail an attestation whose signer's revocation cannot be checked (no CRL, no ledger)
    #[arg(long)]
    pub require_revocation: bool,
    /// Check every file of the manifest under DIR (like sha256sum -c)
    #[arg(long, value_name = "DIR", conflicts_with = "installed")]
    pub content: Option<PathBuf>,
    /// Compare the deployed tree DIR with the manifest: modified, missing, extra, modes
    #[arg(long, value_name = "DIR")]
    pub installed: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The release's manifest
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
}
