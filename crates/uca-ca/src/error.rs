//! Errors of CA operations, each carrying the facts; the binary words the hint.

use std::path::PathBuf;

use thiserror::Error;
use uca_pki::{PkiError, SanError};

use crate::deploy::ExportFormat;
use crate::ledger::LedgerError;

#[derive(Debug, Error)]
pub enum CaError {
    #[error("no CA at {}", dir.display())]
    NotFound { dir: PathBuf },
    #[error("a CA already exists at {}", dir.display())]
    AlreadyExists { dir: PathBuf },
    #[error("{} exists and is not empty", dir.display())]
    NotEmpty { dir: PathBuf },
    #[error(transparent)]
    Config(#[from] crate::toml_file::ConfigError),
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    San(#[from] SanError),
    #[error("'{name}' already has a certificate (serial {serial})")]
    AlreadyIssued { name: String, serial: String },
    #[error("'{0}' is named twice in one call")]
    DuplicateName(String),
    #[error("invalid NAME '{name}': {reason}")]
    BadName { name: String, reason: String },
    #[error("nothing in the ledger matches '{0}'")]
    NotInLedger(String),
    #[error("the CA certificate {} is damaged: {reason}", path.display())]
    BadCaCert { path: PathBuf, reason: String },
    #[error("the operating system's random generator failed: {0}")]
    Rng(String),
    /// `--days 0` for a certificate.
    #[error("--days must be at least 1")]
    ZeroDays,
    /// `uca crl --days 0`.
    #[error("--days must be at least 1: a CRL must not be born expired")]
    ZeroCrlDays,
    /// The CA's own validity ends before a CRL made now would start.
    #[error("the CA expires before the CRL could be valid")]
    CrlAfterCaExpiry,
    /// `uca passphrase` given the same passphrase twice.
    #[error("the new passphrase is the same as the old one")]
    SamePassphrase,
    /// A leaf named like one of this CA's intermediates.
    #[error("'{name}' is an intermediate CA of this CA; a leaf cannot take its name")]
    NameIsIntermediate { name: String },
    /// `uca sign` without --name for a CSR that has no CN.
    #[error("the CSR has no CN; name the certificate with --name NAME")]
    CsrWithoutName,
    /// `uca sign --accept-csr-sans` for a CSR asking for a kind of name uca does not certify.
    #[error("the CSR asks for a {kind} name; uca certifies DNS, IP, email and URI names only")]
    UnsupportedCsrSan { kind: String },
    #[error("unknown export format '{value}' (one of {})", ExportFormat::names())]
    UnknownExportFormat { value: String },
    /// NAME was issued from a CSR (or is revoked or superseded): uca holds no key to export.
    #[error(
        "'{name}' has no current certificate with its key here (only 'uca issue' keeps keys; CSR-signed certificates are exported by their owners)"
    )]
    NoKeyHere { name: String },
    #[error("the {format} export needs a NAME")]
    ExportNeedsName { format: ExportFormat },
    #[error(
        "the {format} export needs a password (--password, --password-file or UCA_EXPORT_PASSWORD)"
    )]
    ExportNeedsPassword { format: ExportFormat },
    /// An export's output directory (or its parent) is a file.
    #[error("{} exists and is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// Building a PKCS#12 file failed.
    #[error("PKCS#12: {0}")]
    Pkcs12(#[source] p12_keystore::error::Error),
    /// The issued key.pem is not PEM.
    #[error("key.pem: {0}")]
    IssuedKeyPem(uca_pki::pem::PemError),
    /// The issued key.pem holds no PKCS#8 key.
    #[error("key.pem holds no PRIVATE KEY")]
    IssuedKeyMissing,
    /// A plan output's password_file has an empty first line.
    #[error("the password file {} is empty", path.display())]
    EmptyPasswordFile { path: PathBuf },
    /// `uca trust --target` names no target.
    #[error("unknown trust target '{value}' (system, nss, java)")]
    UnknownTrustTarget { value: String },
    #[error("the CA at {} is sealed: its key was destroyed{}", dir.display(), since.as_ref().map(|s| format!(" on {s}")).unwrap_or_default())]
    Sealed { dir: PathBuf, since: Option<String> },
    #[error("the CA key {} is missing", path.display())]
    KeyMissing { path: PathBuf },
    #[error("cannot renew '{name}': {reason}")]
    NotRenewable {
        name: String,
        reason: String,
        hint: String,
    },
    #[error("cannot revoke '{name}': {reason}")]
    NotRevocable { name: String, reason: String },
}
