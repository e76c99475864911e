//! Errors of CA operations, each able to say what to do next.

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

impl CaError {
    /// The next thing to try, as a command where there is one.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            CaError::NotFound { dir } => format!(
                "create one with 'uca init --dir {}', or point at an existing CA with --dir or UCA_DIR",
                dir.display()
            ),
            CaError::AlreadyExists { dir } => format!(
                "uca never overwrites a CA; use another --dir, or inspect this one with 'uca list --dir {}'",
                dir.display()
            ),
            CaError::NotEmpty { .. } => "choose a new or empty directory for the CA".into(),
            CaError::Config(e) => e.hint().into(),
            CaError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "check the directory's owner and permissions (the CA directory must be writable by this user)".into()
            }
            CaError::Io { .. } => "check that the path exists and the disk is not full".into(),
            CaError::Ledger(_) => "the ledger is ledger.sqlite in the CA directory; restore it from backup if it is damaged".into(),
            CaError::Pki(PkiError::WrongPassphrase) => {
                "check the passphrase (--passphrase-file FILE or UCA_PASSPHRASE); 'openssl pkey -in private/ca.key' tests it independently".into()
            }
            CaError::Pki(PkiError::PassphraseRequired) => {
                "give the CA passphrase with --passphrase-file FILE or the UCA_PASSPHRASE environment variable".into()
            }
            CaError::Pki(PkiError::UnsupportedCsrKey(_)) => format!(
                "make the key as one of {} (e.g. openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256)",
                uca_pki::KeyType::names()
            ),
            CaError::Pki(PkiError::UnknownKeyType(_)) => format!("use one of: {}", uca_pki::KeyType::names()),
            CaError::Pki(PkiError::UnknownProfile(_)) => format!("use one of: {}", uca_pki::Profile::names()),
            CaError::Pki(PkiError::BadCsr(_)) | CaError::Pki(PkiError::CsrSignature) => {
                "inspect it with 'openssl req -in FILE -noout -text' (add -inform DER for DER); uca needs a PKCS#10 request signed with the key it carries".into()
            }
            CaError::Pki(PkiError::BadKey(_)) => {
                "the key file is damaged or not PKCS#8; for the CA key (private/ca.key), restore it from your backup".into()
            }
            CaError::San(_) => uca_pki::san::SAN_HINT.into(),
            CaError::AlreadyIssued { name, .. } => {
                format!("add --force to replace the certificate of '{name}' (the old one stays in the ledger as superseded), or see it with 'uca show {name}'")
            }
            CaError::BadName { .. } => "a NAME is a host name (rmq1), an IP address or an email address; put URIs in --san".into(),
            CaError::DuplicateName(n) => format!("name '{n}' once per call (NAMEs are compared after lowercasing)"),
            CaError::ZeroDays
            | CaError::ZeroCrlDays
            | CaError::CrlAfterCaExpiry
            | CaError::SamePassphrase
            | CaError::NameIsIntermediate { .. }
            | CaError::CsrWithoutName
            | CaError::UnsupportedCsrSan { .. }
            | CaError::UnknownExportFormat { .. }
            | CaError::NoKeyHere { .. }
            | CaError::ExportNeedsName { .. }
            | CaError::ExportNeedsPassword { .. }
            | CaError::NotADirectory { .. }
            | CaError::Pkcs12(_)
            | CaError::IssuedKeyPem(_)
            | CaError::IssuedKeyMissing
            | CaError::EmptyPasswordFile { .. }
            | CaError::UnknownTrustTarget { .. } => {
                "see 'uca help' for the command's options and examples".into()
            }
            CaError::Sealed { .. } => {
                "a sealed CA can only list, show, verify and revoke; issue from an intermediate made before sealing, or create a new CA with 'uca init --dir NEW_DIR'".into()
            }
            CaError::KeyMissing { .. } => "restore private/ca.key from your backup; a CA without its key cannot sign".into(),
            CaError::NotRenewable { hint, .. } => hint.clone(),
            CaError::NotRevocable { .. } => "'uca list' shows what can be revoked".into(),
            CaError::Pki(PkiError::UnknownReason(_)) => format!("use one of: {}", uca_pki::crl::RevocationReason::names()),
            CaError::Pki(PkiError::BadConstraint { .. }) => {
                "DNS subtrees look like svc.internal (or .svc.internal), IP ranges like 10.0.0.0/8".into()
            }
            CaError::Pki(PkiError::ConstraintViolation(_)) => {
                "the CA's name constraints and path length bound what it may sign; 'uca show' on the CA certificate lists them".into()
            }
            CaError::Pki(PkiError::BadValidity(_)) => {
                "use --days between 1 and 36500; an expired CA is replaced, not used (uca init, or a new intermediate)".into()
            }
            CaError::Pki(PkiError::BadCrl(_)) => "make a fresh one with 'uca crl'".into(),
            CaError::NotInLedger(_) => "'uca list' shows every NAME and serial the CA knows".into(),
            _ => return None,
        })
    }
}
