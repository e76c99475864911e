//! The ledger: every certificate the CA signs, with its status. The source of truth.
//!
//! Kept behind [`Ledger`] so a replicated store (PostgreSQL) can stand in for the embedded
//! SQLite one later. Serial uniqueness is the store's job (a primary key), not the caller's.

mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::Serial;

pub use sqlite::SqliteLedger;

use crate::CaError;

/// What went wrong with the ledger (shown after "ledger: ").
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite refused a statement.
    #[error("{0}")]
    Db(#[from] rusqlite::Error),
    /// The database file could not be opened.
    #[error("{}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// The CA directory has no ledger.sqlite.
    #[error("{} is missing: without it uca cannot know what this CA has signed", path.display())]
    Missing { path: PathBuf },
    #[error("ledger schema version {found} is newer than this uca understands ({supported})")]
    NewerSchema { found: String, supported: i64 },
    /// The CA lock could not be taken (so the ledger cannot be opened).
    #[error("the CA lock could not be taken")]
    Unlocked,
    #[error("bad timestamp {value}: {source}")]
    BadTimestamp {
        value: i64,
        #[source]
        source: time::error::ComponentRange,
    },
    #[error("bad serial '{value}'")]
    BadSerial { value: String },
    /// A stored SAN that is not `KIND:VALUE` of a kind uca certifies.
    #[error("bad SAN '{value}'")]
    BadSan { value: String },
    /// A row's JSON SAN list does not parse.
    #[error("bad SAN list: {0}")]
    BadSanList(#[source] serde_json::Error),
    /// A JSON value could not be written to the ledger.
    #[error("{0}")]
    Json(#[source] serde_json::Error),
    /// A status or source column holds a word this uca does not know.
    #[error("unknown {column} '{value}' in the ledger")]
    UnknownWord { column: &'static str, value: String },
    #[error("serial {serial} is already in the ledger (serials must be unique)")]
    DuplicateSerial { serial: Serial },
    #[error("serial {serial} is not in the ledger")]
    UnknownSerial { serial: Serial },
    /// A serial just written is gone when read back.
    #[error("serial {serial} vanished")]
    Vanished { serial: Serial },
    /// Renewal's issuance returned no certificate.
    #[error("renewal issued nothing")]
    NothingIssued,
}

/// Where a certificate is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Signed and recorded, files not yet confirmed in place (a crash here is repaired on
    /// the next run).
    Pending,
    /// Delivered and current.
    Issued,
    /// Replaced by a newer certificate for the same NAME (still valid until it expires).
    Superseded,
    /// Taken back.
    Revoked,
    /// Signed but never delivered (the process died before its files were in place); its key
    /// never left the process, so it cannot be in use.
    Void,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Issued => "issued",
            Status::Superseded => "superseded",
            Status::Revoked => "revoked",
            Status::Void => "void",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => Status::Pending,
            "issued" => Status::Issued,
            "superseded" => Status::Superseded,
            "revoked" => Status::Revoked,
            "void" => Status::Void,
            other => {
                return Err(LedgerError::UnknownWord {
                    column: "status",
                    value: other.to_string(),
                });
            }
        })
    }
}

/// How a certificate came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The CA's own self-signed certificate.
    Root,
    /// `uca issue`: key and certificate made here, files under `issued/NAME`.
    Issue,
    /// `uca sign`: a CSR made elsewhere; the key never came here.
    Csr,
    /// `uca serve`: an ACME client's CSR, finalized by its account's order.
    Acme,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Root => "root",
            Source::Issue => "issue",
            Source::Csr => "csr",
            Source::Acme => "acme",
        }
    }
}

impl FromStr for Source {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "root" => Source::Root,
            "issue" => Source::Issue,
            "csr" => Source::Csr,
            "acme" => Source::Acme,
            other => {
                return Err(LedgerError::UnknownWord {
                    column: "source",
                    value: other.to_string(),
                });
            }
        })
    }
}

/// One ledger row.
#[derive(Debug, Clone, Serialize)]
pub struct CertRecord {
    #[serde(serialize_with = "ser_serial")]
    pub serial: Serial,
    pub name: String,
    pub profile: String,
    pub key_type: String,
    pub sans: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub fingerprint_sha256: String,
    pub status: Status,
    pub source: Source,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    /// For [`Source::Acme`]: the account and order that obtained it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeOrigin>,
    /// The certificate, PEM; empty in [`Ledger::summaries`] rows.
    #[serde(skip)]
    pub cert_pem: String,
}

impl CertRecord {
    /// The row for a certificate just signed.
    #[allow(clippy::too_many_arguments, reason = "one value per ledger column")]
    pub fn new(
        cert: &uca_pki::sign::SignedCert,
        name: &str,
        profile: &str,
        key_type: &str,
        sans: &[uca_pki::San],
        source: Source,
        status: Status,
        now: OffsetDateTime,
    ) -> CertRecord {
        // The store keeps whole seconds; the row returned now must equal the row read later.
        let now = now.replace_nanosecond(0).unwrap_or(now);
        CertRecord {
            serial: cert.serial.clone(),
            name: name.to_string(),
            profile: profile.to_string(),
            key_type: key_type.to_string(),
            sans: sans.iter().map(uca_pki::San::to_string).collect(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            fingerprint_sha256: cert.fingerprint.to_string(),
            status,
            source,
            created_at: now,
            updated_at: now,
            superseded_by: None,
            revoked_at: None,
            revocation_reason: None,
            acme: None,
            cert_pem: cert.pem.clone(),
        }
    }
}

/// Which ACME account and order obtained a certificate (resource IDs as in their URLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcmeOrigin {
    pub account: String,
    pub order: String,
}

fn ser_serial<S: serde::Serializer>(s: &Serial, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&s.hex())
}

/// One file an export wrote for a plan output, and which certificate it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportStamp {
    pub path: std::path::PathBuf,
    pub name: String,
    pub format: String,
    pub serial: String,
    /// Format, modes and owner of the output, so a change in any of them re-exports.
    pub settings: String,
    /// SHA-256 over the files as written (names, modes, contents): a file changed on disk since
    /// (edited, chmod'ed, truncated) re-exports.
    pub digest: String,
    pub updated_at: OffsetDateTime,
}

/// A status change to apply.
#[derive(Debug, Clone)]
pub struct Transition {
    pub serial: Serial,
    pub to: Status,
    pub superseded_by: Option<Serial>,
}

/// When a write must be on stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Durable when the call returns.
    Now,
    /// Atomic and ordered, but made durable by the caller's next filesystem sync of the CA
    /// directory (the issue flow syncs its files and the ledger together, once).
    WithNextSync,
}

/// The ledger interface the CA flows use.
pub trait Ledger {
    /// Records new certificates, all or none. Fails on a duplicate serial.
    fn insert(&mut self, records: &[CertRecord], durability: Durability) -> Result<(), CaError>;
    /// Applies status changes, all or none.
    fn transition(
        &mut self,
        changes: &[Transition],
        now: OffsetDateTime,
        durability: Durability,
    ) -> Result<(), CaError>;
    /// Housekeeping after a successful write (e.g. folding a grown log into the store); called
    /// only after the flow's own durability point, so it never changes what a failed command
    /// leaves behind.
    fn maintain(&mut self) -> Result<(), CaError>;
    /// Marks a certificate revoked, durably, with its time and RFC 5280 reason name.
    fn revoke(&mut self, serial: &Serial, reason: &str, at: OffsetDateTime) -> Result<(), CaError>;
    /// Every revoked certificate: serial, revocation time, reason name.
    fn revoked(&self) -> Result<Vec<(Serial, OffsetDateTime, String)>, CaError>;
    /// The next CRL number, durably consumed (never handed out twice, never decreasing).
    fn next_crl_number(&mut self) -> Result<u64, CaError>;
    /// A CA-wide fact (e.g. when the CA was sealed).
    fn meta(&self, key: &str) -> Result<Option<String>, CaError>;
    /// Records a CA-wide fact, durably.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), CaError>;
    /// Every file written for plan outputs.
    fn export_stamps(&self) -> Result<Vec<ExportStamp>, CaError>;
    /// Records (or updates) files written for plan outputs, durably.
    fn record_exports(&mut self, stamps: &[ExportStamp]) -> Result<(), CaError>;
    /// Forgets the outputs of NAME (its component left the plan).
    fn forget_exports(&mut self, name: &str) -> Result<(), CaError>;
    /// Every record without its certificate PEM, oldest first: for listings of many rows.
    fn summaries(&self) -> Result<Vec<CertRecord>, CaError>;
    /// Every record, oldest first.
    fn all(&self) -> Result<Vec<CertRecord>, CaError>;
    /// Records with the given status.
    fn with_status(&self, status: Status) -> Result<Vec<CertRecord>, CaError>;
    fn by_serial(&self, serial: &Serial) -> Result<Option<CertRecord>, CaError>;
    /// Records for a NAME, newest first.
    fn by_name(&self, name: &str) -> Result<Vec<CertRecord>, CaError>;
    /// The certificate an ACME order obtained, if it reached the ledger.
    fn by_acme_order(&self, order: &str) -> Result<Option<CertRecord>, CaError>;
}
