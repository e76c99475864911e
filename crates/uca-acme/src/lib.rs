//! The ACME protocol (RFC 8555, 8737, 8738) as plain functions over typed requests, a store and
//! `now`: no sockets, no clock. The server crate owns the network (HTTP, TLS, validation).

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod jose;
