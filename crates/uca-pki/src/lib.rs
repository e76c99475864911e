//! X.509 domain for uca: keys, SANs, profiles, certificate/CSR building and parsing.
//!
//! This crate does no I/O and never reads the clock: callers pass `now` in. That keeps every
//! certificate decision testable and lets the CA crate own files, locking and the ledger.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod color;
pub mod constraints;
pub mod crl;
pub mod csr;
pub mod error;
pub mod inspect;
pub mod key;
pub mod pattern;
pub mod pem;
pub mod profile;
pub mod rate;
pub mod san;
pub mod serial;
pub mod sign;
pub mod span;
pub mod subject;
pub mod validity;
pub mod verify;

pub use color::Color;
pub use error::PkiError;
pub use key::{KeyType, PrivateKey};
pub use profile::Profile;
pub use san::{San, SanError, SanRules};
pub use serial::{Fingerprint, Serial};
pub use span::{Bare, Span, SpanError};
pub use subject::Subject;
