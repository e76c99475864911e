//! The uca CA as state: its directory, config, ledger, lock, and the issuance flows.
//!
//! Every flow keeps one invariant: no certificate exists that the ledger does not know. A
//! certificate is recorded `pending` before any file is written, files land atomically, and
//! only then is it marked `issued`; [`Ca::open`] repairs whatever a crash interrupted.

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod ca;
pub mod config;
mod error;
pub mod fsio;
mod init;
mod issue;
pub mod layout;
pub mod ledger;
mod lock;
mod parallel;
mod sign;

pub use ca::{Ca, Repair};
pub use config::Config;
pub use error::CaError;
pub use init::{InitOptions, InitResult, init};
pub use issue::{IssueRequest, Issued};
pub use layout::{CaPaths, IssuedPaths};
pub use ledger::{CertRecord, Durability, Ledger, Source, Status};
pub use sign::{CsrRequest, SignedCsr};
