//! The ledger: every certificate the CA signs, with its status. The source of truth.
//!
//! Kept behind [`Ledger`]: the embedded SQLite store in the CA directory by default, or
//! PostgreSQL (`ledger = "postgres://…"`) when several issuers share one CA. Serial uniqueness
//! is the store's job (a primary key), not the caller's.

pub mod copy;
pub mod postgres;
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::Serial;

pub use postgres::{PgLedger, PgTarget};
pub use sqlite::SqliteLedger;

use crate::CaError;
use crate::layout::CaPaths;

/// What went wrong with the ledger (shown after "ledger: ").
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// SQLite refused a statement.
    #[error("{0}")]
    Db(#[from] rusqlite::Error),
    /// PostgreSQL refused a statement, or the connection broke.
    #[error("{}", pg_message(.0))]
    Pg(#[from] ::postgres::Error),
    /// The PostgreSQL server could not be reached or refused the login.
    #[error("cannot connect to {target}: {}", pg_message(.source))]
    Connect {
        target: String,
        #[source]
        source: ::postgres::Error,
    },
    /// The connection broke during COMMIT and the database could not be asked afterwards:
    /// the rows may or may not be there.
    #[error("the connection to {target} broke during a commit and could not be made again ({}): whether the write was recorded is unknown", pg_message(.source))]
    CommitUnknown {
        target: String,
        #[source]
        source: ::postgres::Error,
    },
    /// The `ledger` setting (uca.toml, --ledger or UCA_LEDGER) is not usable.
    #[error("{setting}: {reason}")]
    BadSetting { setting: String, reason: String },
    /// The CA certificates to check the database server against could not be read.
    #[error("sslrootcert {}: {reason}", path.display())]
    TlsRoot { path: PathBuf, reason: String },
    /// The ledger records another CA's certificates.
    #[error("{ledger} belongs to another CA (its CA certificate has fingerprint {found})")]
    ForeignCa { ledger: String, found: String },
    /// A copy's destination already holds certificates.
    #[error("{ledger} already holds {count} certificate(s)")]
    NotEmpty { ledger: String, count: usize },
    /// A copy read back differs from its source.
    #[error("the copy in {ledger} differs from the source: {what}")]
    CopyMismatch { ledger: String, what: String },
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
    #[error("{what} schema version {found} is newer than this uca understands ({supported})")]
    NewerSchema {
        what: &'static str,
        found: String,
        supported: i64,
    },
    /// An earlier uca recorded two issued certificates for one ACME order (a replica that
    /// stalled while finalizing): the one-certificate-per-order rule cannot be set up until one
    /// is revoked.
    #[error("ACME orders with two issued certificates in the ledger: {orders}")]
    TwiceIssued { orders: String },
    /// A commit's write-ahead log could not be synced: the rows are recorded, but whether
    /// they would survive a power loss is unknown.
    #[error("syncing {} after a commit failed ({source}): whether the write would survive a power loss is unknown", path.display())]
    SyncUnknown {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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

    /// The row `uca serve` records for an ACME order before it signs: serial, names, validity
    /// and order, `pending`, without a certificate (see [`AcmeStep::Reserve`]).
    #[allow(clippy::too_many_arguments, reason = "one value per ledger column")]
    pub fn reserved(
        serial: Serial,
        name: &str,
        profile: &str,
        key_type: &str,
        sans: &[uca_pki::San],
        validity: &uca_pki::validity::Validity,
        acme: AcmeOrigin,
        now: OffsetDateTime,
    ) -> CertRecord {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        CertRecord {
            serial,
            name: name.to_string(),
            profile: profile.to_string(),
            key_type: key_type.to_string(),
            sans: sans.iter().map(uca_pki::San::to_string).collect(),
            not_before: validity.not_before,
            not_after: validity.not_after,
            fingerprint_sha256: String::new(),
            status: Status::Pending,
            source: Source::Acme,
            created_at: now,
            updated_at: now,
            superseded_by: None,
            revoked_at: None,
            revocation_reason: None,
            acme: Some(acme),
            cert_pem: String::new(),
        }
    }

    /// A reserved row with its certificate, signed now: what [`AcmeStep::Complete`] records.
    pub fn signed(mut self, cert: &uca_pki::sign::SignedCert, now: OffsetDateTime) -> CertRecord {
        self.fingerprint_sha256 = cert.fingerprint.to_string();
        self.cert_pem = cert.pem.clone();
        self.not_before = cert.not_before;
        self.not_after = cert.not_after;
        self.status = Status::Issued;
        self.updated_at = now.replace_nanosecond(0).unwrap_or(now);
        self
    }

    /// Whether the row holds its certificate (a reservation does not until it is completed).
    pub fn is_signed(&self) -> bool {
        !self.fingerprint_sha256.is_empty()
    }
}

/// A pending ACME reservation older than this belongs to a server that stopped or stalled: a
/// server reserves, signs and completes one in milliseconds. Repair voids it (conditionally: a
/// late completion and the void cannot both take).
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(120);

/// How a reservation gives way to the order's live row (the partial unique index both stores
/// have): it does not take; any other conflict (a serial taken) is an error.
const ONE_LIVE_ROW_PER_ORDER: &str = " ON CONFLICT (acme_order) WHERE acme_order IS NOT NULL AND status IN ('pending', 'issued') DO NOTHING";

/// One step of an ACME issuance by `uca serve`. Concurrent finalizations' steps share one
/// transaction (group commit); each says whether it took.
#[derive(Debug, Clone)]
pub enum AcmeStep {
    /// Records the row before signing ([`CertRecord::reserved`]). Refused (does not take)
    /// while the order already has a pending or issued row, so two replicas never both sign
    /// one order.
    Reserve(CertRecord),
    /// Adds the signed certificate to its reservation, which becomes `issued`; takes only
    /// while the reservation is still pending (a sweeper may have voided it while this server
    /// was stalled, and then the certificate must not be delivered). The certificate it
    /// `replaces` (RFC 9773), if still issued, becomes superseded by it.
    Complete {
        record: CertRecord,
        replaces: Option<Serial>,
    },
    /// Voids a reservation that will not be completed (signing failed, or its server is gone);
    /// takes only while it is still pending.
    Abandon(Serial),
    /// Records a certificate signed without a reservation, `issued` at once, as a server that
    /// owns its ledger does (an embedded ledger has no replica to race for the order). Refused
    /// like [`AcmeStep::Reserve`] while the order already has a pending or issued row; the
    /// certificate it `replaces` becomes superseded as with [`AcmeStep::Complete`].
    Record {
        record: CertRecord,
        replaces: Option<Serial>,
    },
}

impl AcmeStep {
    /// Whether a commit of these steps must be durable when it returns: a completion is what
    /// a client receives. Reservations and voids alone are ordered before the next durable
    /// commit and may be lost with a crash before it: a lost reservation was never completed,
    /// so its certificate was never delivered.
    pub fn durability(steps: &[AcmeStep]) -> Durability {
        if steps
            .iter()
            .any(|s| matches!(s, AcmeStep::Complete { .. } | AcmeStep::Record { .. }))
        {
            Durability::Now
        } else {
            Durability::WithNextSync
        }
    }
}

/// The sync a commit still owes ([`Ledger::acme_steps_owing_sync`]): the rows are committed
/// and visible; they are durable once [`PendingSync::finish`] returns. It syncs the SQLite
/// write-ahead log through a file handle of its own, so it needs neither the CA lock nor the
/// ledger's connection, and the next commit does not wait for this one's disk flush.
#[derive(Debug)]
pub struct PendingSync {
    wal: PathBuf,
    database: PathBuf,
}

impl PendingSync {
    /// Flushes the write-ahead log, which holds the commit's frames; if a checkpoint has
    /// emptied it since, the frames are in the database file, which that checkpoint synced,
    /// and the flush is merely redundant. Should the log be gone (every connection closed
    /// after a full checkpoint), the database file is flushed instead.
    pub fn finish(self) -> Result<(), CaError> {
        let sync = |path: &PathBuf| std::fs::File::open(path).and_then(|f| f.sync_data());
        let synced = match sync(&self.wal) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => sync(&self.database),
            other => other,
        };
        synced.map_err(|source| {
            CaError::Ledger(LedgerError::SyncUnknown {
                path: self.wal.clone(),
                source,
            })
        })
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
    /// Every CA-wide fact, by key.
    fn meta_all(&self) -> Result<Vec<(String, String)>, CaError>;
    /// Records a CA-wide fact, durably.
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), CaError>;
    /// Every file written for plan outputs.
    fn export_stamps(&self) -> Result<Vec<ExportStamp>, CaError>;
    /// The newest CRL stored for every issuer that shares this ledger. A ledger only one
    /// issuer writes (SQLite) stores none: its CRL file is the record.
    fn shared_crl(&self) -> Result<Option<StoredCrl>, CaError> {
        Ok(None)
    }
    /// Stores a signed CRL for the other issuers (a shared ledger; nothing to do otherwise).
    fn store_shared_crl(&mut self, _crl: &StoredCrl) -> Result<(), CaError> {
        Ok(())
    }
    /// Takes (or renews) the lease `name` for `holder` for `secs` seconds; false while another
    /// holder's runs. A ledger only one issuer writes always grants it.
    fn take_lease(&mut self, _name: &str, _holder: &str, _secs: f64) -> Result<bool, CaError> {
        Ok(true)
    }
    /// The steps of ACME issuances, in one transaction; for each, whether it took
    /// ([`AcmeStep`]). Durable when it returns as [`AcmeStep::durability`] says.
    fn acme_steps(&mut self, steps: &[AcmeStep], now: OffsetDateTime)
    -> Result<Vec<bool>, CaError>;
    /// [`Ledger::acme_steps`], committed without waiting for the disk: a sync the steps need
    /// (see [`AcmeStep::durability`]) comes back as a [`PendingSync`] for the caller to finish
    /// after it has let go of the CA, so concurrent issuances do not queue behind each other's
    /// flush. A ledger that cannot separate the two (PostgreSQL) commits durably and owes
    /// nothing.
    fn acme_steps_owing_sync(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<(Vec<bool>, Option<PendingSync>), CaError> {
        Ok((self.acme_steps(steps, now)?, None))
    }
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
    /// Whether the store takes writes now (a PostgreSQL standby, or a primary demoted by a
    /// failover, does not). The embedded store always does.
    fn writable(&self) -> Result<bool, CaError> {
        Ok(true)
    }
    /// Whether a connection kept between visits (`HeldCa`) can serve the next one, after
    /// `idle` without use. The embedded store always can; a database connection cannot once
    /// the server closed it (a restart, a failover), and one idle for a while is asked first.
    fn reusable(&self, _idle: std::time::Duration) -> bool {
        true
    }
    /// Pending rows this writer left behind (the only ones its repair may settle: on a shared
    /// database, another node's pending row may be in the middle of being completed), and ACME
    /// reservations older than [`ABANDONED_AFTER`] from any server (younger ones are being
    /// signed right now).
    fn interrupted(&self) -> Result<Vec<CertRecord>, CaError>;
    /// Records for a NAME, newest first.
    fn by_name(&self, name: &str) -> Result<Vec<CertRecord>, CaError>;
    /// The live row of an ACME order (its certificate, or its reservation while being signed);
    /// voided rows are left out.
    fn by_acme_order(&self, order: &str) -> Result<Option<CertRecord>, CaError>;
}

/// A PostgreSQL error with the server's own message (the client's Display says only "db
/// error").
fn pg_message(e: &::postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                m.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                m.push_str(&format!("; hint: {hint}"));
            }
            m
        }
        None => {
            let mut m = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            m
        }
    }
}

/// How to reach the ledger beyond the CA's `uca.toml`: the command line's `--ledger` (or
/// `UCA_LEDGER`) and the database password from the environment (`PGPASSWORD`).
#[derive(Clone, Default)]
pub struct LedgerAccess {
    pub url: Option<String>,
    pub password: Option<zeroize::Zeroizing<String>>,
}

impl fmt::Debug for LedgerAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerAccess")
            .field("url", &self.url.as_deref().map(postgres::target::redact))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// A signed CRL as a shared ledger stores it, with the revocations it lists (how many, the
/// newest), so an issuer can tell whether it is current without parsing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCrl {
    pub number: u64,
    pub der: Vec<u8>,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub revoked: u64,
    pub latest_revocation: Option<OffsetDateTime>,
}

/// Where a CA's ledger lives.
#[derive(Debug, Clone)]
pub enum LedgerLocation {
    /// `ledger.sqlite` in the CA directory (the default), or another SQLite file.
    Sqlite(PathBuf),
    Postgres(Box<PgTarget>),
}

impl fmt::Display for LedgerLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerLocation::Sqlite(p) => write!(f, "{}", p.display()),
            LedgerLocation::Postgres(t) => write!(f, "{t}"),
        }
    }
}

impl LedgerLocation {
    /// The CA's ledger: `--ledger`, else uca.toml's `ledger`, else `ledger.sqlite` in `paths`.
    pub fn resolve(
        paths: &CaPaths,
        configured: Option<&str>,
        access: &LedgerAccess,
    ) -> Result<LedgerLocation, LedgerError> {
        match access.url.as_deref().or(configured) {
            None => Ok(LedgerLocation::Sqlite(paths.ledger())),
            Some(setting) => Self::parse(setting, access),
        }
    }

    /// A ledger named on its own: a `postgres://` URL or the path of a SQLite file.
    pub fn parse(setting: &str, access: &LedgerAccess) -> Result<LedgerLocation, LedgerError> {
        if postgres::target::is_postgres_url(setting) {
            let password = access.password.as_ref().map(|p| p.as_str());
            return PgTarget::parse(setting, password)
                .map(|t| LedgerLocation::Postgres(Box::new(t)));
        }
        if setting.contains("://") {
            return Err(LedgerError::BadSetting {
                setting: setting.to_string(),
                reason: "a ledger is a postgres:// URL or the path of a SQLite file".into(),
            });
        }
        Ok(LedgerLocation::Sqlite(PathBuf::from(setting)))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, LedgerLocation::Postgres(_))
    }

    /// Opens the ledger (creating or upgrading its schema). `node` names this writer on a
    /// shared database.
    pub fn open(&self, node: &str) -> Result<Box<dyn Ledger + Send>, CaError> {
        Ok(match self {
            LedgerLocation::Sqlite(path) => Box::new(SqliteLedger::open(path)?),
            LedgerLocation::Postgres(target) => Box::new(PgLedger::connect(target, node)?),
        })
    }

    /// [`LedgerLocation::open`] on a connection made for this call alone and not kept: what a
    /// health check must test (a kept one may lead to where the database used to be).
    pub fn open_fresh(&self, node: &str) -> Result<Box<dyn Ledger + Send>, CaError> {
        Ok(match self {
            LedgerLocation::Sqlite(path) => Box::new(SqliteLedger::open(path)?),
            LedgerLocation::Postgres(target) => Box::new(PgLedger::connect_fresh(target, node)?),
        })
    }
}

/// This writer's name in a shared ledger's pending rows: the host and the CA directory.
pub fn node_name(paths: &CaPaths) -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let dir = std::fs::canonicalize(&paths.dir).unwrap_or_else(|_| paths.dir.clone());
    format!("{host}:{}", dir.display())
}
