//! Chain of custody for what ships: `sha256sum`-format manifests, detached CMS attestations by
//! stage, a policy that says which stages and signers production needs, and the checks of a
//! release and of an installed tree against them. No network, no clock: callers pass `now`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod cms;
pub mod error;
pub mod installed;
pub mod layout;
pub mod manifest;
pub mod policy;
pub mod tree;
pub mod verify;

pub use error::CustodyError;
