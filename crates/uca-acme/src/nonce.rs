//! Replay nonces (RFC 8555 §6.5): 128 random bits, single use, expiring, never on disk.
//!
//! Outstanding nonces live in memory only: a restart invalidates them, and clients recover
//! through `badNonce`, which carries a fresh one. The pool is bounded, so a client that fetches
//! nonces without using them evicts the oldest instead of growing the server.

use std::collections::{HashMap, VecDeque};

use base64ct::{Base64UrlUnpadded, Encoding};

/// How long a nonce stays redeemable.
pub const NONCE_LIFETIME_SECS: i64 = 3600;

/// At most this many outstanding nonces; the oldest go first.
pub const MAX_OUTSTANDING: usize = 100_000;

/// The outstanding nonces of one server process.
#[derive(Debug, Default)]
pub struct NoncePool {
    expires: HashMap<[u8; 16], i64>,
    order: VecDeque<[u8; 16]>,
}

impl NoncePool {
    pub fn new() -> NoncePool {
        NoncePool::default()
    }

    /// A fresh nonce, redeemable once until `now + NONCE_LIFETIME_SECS` (unix seconds).
    pub fn issue(&mut self, now: i64) -> Result<String, crate::RandomError> {
        let mut raw = [0u8; 16];
        crate::random::fill(&mut raw)?;
        while self.order.len() >= MAX_OUTSTANDING {
            if let Some(old) = self.order.pop_front() {
                self.expires.remove(&old);
            }
        }
        self.expires.insert(raw, now + NONCE_LIFETIME_SECS);
        self.order.push_back(raw);
        Ok(Base64UrlUnpadded::encode_string(&raw))
    }

    /// Consumes `nonce`: true only the first time, before it expires.
    pub fn redeem(&mut self, nonce: &str, now: i64) -> bool {
        let mut raw = [0u8; 16];
        match Base64UrlUnpadded::decode(nonce, &mut raw) {
            Ok(decoded) if decoded.len() == 16 => {}
            _ => return false,
        }
        // The queue keeps the key until it is evicted; a redeemed key is only dropped from the
        // map, so a replay finds nothing.
        match self.expires.remove(&raw) {
            Some(expires) => now <= expires,
            None => false,
        }
    }

    /// Outstanding (issued, not yet redeemed or evicted) nonces.
    pub fn outstanding(&self) -> usize {
        self.expires.len()
    }

    /// Drops expired nonces and queue entries whose nonce was redeemed.
    pub fn sweep(&mut self, now: i64) {
        self.expires.retain(|_, exp| *exp >= now);
        let live = &self.expires;
        self.order.retain(|k| live.contains_key(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_redeemed_once_and_not_after_it_expires() {
        let mut pool = NoncePool::new();
        let n = pool.issue(1000).unwrap();
        assert_eq!(n.len(), 22);
        assert!(pool.redeem(&n, 1001));
        assert!(!pool.redeem(&n, 1002), "replay");
        let old = pool.issue(1000).unwrap();
        assert!(!pool.redeem(&old, 1000 + NONCE_LIFETIME_SECS + 1), "expired");
        assert!(!pool.redeem("not-a-nonce", 1000));
        assert!(!pool.redeem("", 1000));
        assert!(!pool.redeem("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1000));
        let a = pool.issue(1000).unwrap();
        let b = pool.issue(1000).unwrap();
        assert_ne!(a, b);
        pool.sweep(1000 + NONCE_LIFETIME_SECS + 1);
        assert_eq!(pool.outstanding(), 0);
    }
}
