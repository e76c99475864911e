//! Unguessable values: resource IDs and challenge tokens (RFC 8555 §10.5, §11.3).

use base64ct::{Base64UrlUnpadded, Encoding};

/// The system random source failed (nothing sensible can be done but refuse the request).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RandomError;

pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| RandomError)
}

/// 128 random bits, base64url: challenge tokens (RFC 8555 §8.1 asks for at least 128 bits).
pub fn token() -> Result<String, RandomError> {
    let mut raw = [0u8; 16];
    fill(&mut raw)?;
    Ok(Base64UrlUnpadded::encode_string(&raw))
}

/// A resource ID: the creation time in milliseconds as 12 hex digits, then 96 random bits
/// base64url (28 characters). Time first, as UUIDv7 does, so that IDs made one after another
/// sort one after another and the store's primary-key indexes grow at their right edge: a
/// new order touches the same few pages as the last one instead of one anywhere in an index
/// that grows with every certificate. The random part keeps it unguessable.
pub fn id() -> Result<String, RandomError> {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut raw = [0u8; 12];
    fill(&mut raw)?;
    Ok(format!(
        "{:012x}{}",
        ms & 0xffff_ffff_ffff,
        Base64UrlUnpadded::encode_string(&raw)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_url_safe_and_sort_by_creation_time() {
        let first = id().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| id().unwrap()).collect();
        for id in &ids {
            assert_eq!(id.len(), 28, "{id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{id}"
            );
            assert!(*id > first, "{id} sorts before the earlier {first}");
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        assert_ne!(token().unwrap(), token().unwrap());
    }
}
