//! Endpoint health: probes (TCP, TLS, HTTP(S) with uca's own client certificates), a window of
//! results per endpoint, Green/Yellow/Red with reasons in words, a prediction of the next color
//! change, and the views: Prometheus metrics, JSON, a self-contained HTML page.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cawatch;
pub mod check;
pub mod endpoint;
pub mod error;
pub mod probe;
pub mod spec;
pub mod store;
pub mod targets;
pub mod views;
pub mod watch;
pub mod window;

pub use error::HealthError;
