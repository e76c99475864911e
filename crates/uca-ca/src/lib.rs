//! The uca CA as state: its directory, config, ledger, lock, and the issuance flows.
//!
//! Every flow keeps one invariant: no certificate exists that the ledger does not know. A
//! certificate is recorded `pending` before any file is written, files land atomically, and
//! only then is it marked `issued`; [`Ca::open`] repairs whatever a crash interrupted.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ca;
pub mod config;
mod crl;
pub mod deploy;
mod error;
pub mod expiry;
pub mod fsio;
mod held;
mod init;
pub(crate) mod intermediate;
pub(crate) mod issue;
pub mod layout;
pub mod ledger;
mod lock;
mod parallel;
mod passphrase;
mod renew;
mod revoke;
mod seal;
mod sign;
pub mod toml_file;
mod verify;

pub use ca::{CA_FINGERPRINT_KEY, Ca, Repair};
pub use config::{AcmeSection, Config, EabPolicy, ServeSection};
pub use crl::DEFAULT_CRL_DAYS;
pub use deploy::{
    ExportFormat, ExportOptions, Exported, ExportedFile, FileMode, FileRole, FormatFile, ModeError,
    Owner, OwnerError,
};
pub use error::CaError;
pub use held::HeldCa;
pub use init::{InitOptions, InitResult, init};
pub use intermediate::{INTERMEDIATE, IntermediateOptions};
pub use issue::{IssueRequest, Issued};
pub use layout::{CaPaths, IssuedPaths};
pub use ledger::{
    AcmeOrigin, AcmeStep, CertRecord, Durability, Ledger, LedgerAccess, LedgerError,
    LedgerLocation, Source, Status, StoredCrl,
};
pub use renew::{RenewRequest, Renewed};
pub use revoke::Revoked;
pub use sign::{CsrRequest, SignedCsr};
pub use toml_file::{ConfigError, ConfigFile, TomlFile};
pub use verify::Verification;
