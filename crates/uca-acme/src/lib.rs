//! The ACME protocol (RFC 8555, 8737, 8738) as plain functions over typed requests, a store and
//! `now`: no sockets, no clock. The server crate owns the network (HTTP, TLS, validation) and
//! the CA (signing, the ledger); this crate decides what every request means.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod identifier;
pub mod jose;
pub mod model;
pub mod nonce;
pub mod policy;
pub mod problem;
pub mod random;
pub mod ratelimit;
pub mod service;
pub mod store;

pub use identifier::Identifier;
pub use problem::{Problem, ProblemType};
pub use random::RandomError;
pub use service::{Acme, AcmeSettings, Body, EabMode, Post, Reply};
pub use store::Store;
