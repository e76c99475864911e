//! Unguessable values: resource IDs and challenge tokens (RFC 8555 §10.5, §11.3).

use base64ct::{Base64UrlUnpadded, Encoding};

/// The system random source failed (nothing sensible can be done but refuse the request).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| RandomError)
}

/// 128 random bits, base64url: resource IDs and challenge tokens.
pub fn token() -> Result<String, RandomError> {
    let mut raw = [0u8; 16];
    fill(&mut raw)?;
    Ok(Base64UrlUnpadded::encode_string(&raw))
}
