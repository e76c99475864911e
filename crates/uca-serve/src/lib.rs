//! `uca serve`: the network side of the ACME server. HTTPS in front of the protocol core
//! (`uca-acme`), challenge validation (the only code that reaches out on a client's behalf),
//! and the CA side: the key unlocked once, one short ledger write per certificate, the CRL.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod acme_store;
pub mod crl;
pub mod disk_pool;
pub mod issuer;
pub mod metrics;
pub mod router;
pub mod server;
pub mod tls;
pub mod validate;

pub use disk_pool::DiskPool;
pub use issuer::Issuer;
pub use router::{AppState, router};
pub use server::{ServeError, serve};
pub use tls::{CertSource, ServerCert};
pub use validate::{NetPolicy, ValidationSettings, Validator};
