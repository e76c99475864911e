//! Replay nonces (RFC 8555 §6.5): unpredictable, single use, expiring, never on disk.
//!
//! Stateless until used: a nonce is `issued-at ‖ counter ‖ MAC(key, issued-at ‖ counter)`, so
//! handing one out stores nothing (a newNonce flood costs no memory) and any holder of the key
//! can check one later (the replicas of the PostgreSQL deployment share it). Redeemed nonces
//! are remembered until they expire; when that set is full, the oldest are dropped and every
//! nonce issued before them is refused from then on, so nothing can be replayed.

use std::collections::BTreeSet;

use base64ct::{Base64UrlUnpadded, Encoding};

/// How long a nonce stays redeemable.
pub const NONCE_LIFETIME_SECS: i64 = 3600;

/// At most this many redeemed nonces are remembered (16 bytes each, plus the set's overhead).
pub const MAX_REMEMBERED: usize = 200_000;

const MAC_LEN: usize = 16;
const RAW_LEN: usize = 8 + 8 + MAC_LEN;

/// The nonces of one server (or of replicas sharing its key).
pub struct NoncePool {
    key: aws_lc_rs::hmac::Key,
    counter: u64,
    /// (issued-at, counter) of redeemed nonces, oldest first.
    used: BTreeSet<(i64, u64)>,
    /// Nonces issued before this (unix seconds) are refused: their redemption may have been
    /// forgotten to keep the set bounded.
    floor: i64,
}

impl std::fmt::Debug for NoncePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoncePool")
            .field("used", &self.used.len())
            .field("floor", &self.floor)
            .finish_non_exhaustive()
    }
}

impl NoncePool {
    /// A pool with a fresh random key (nonces of an earlier process are then refused, and
    /// clients recover through `badNonce`).
    pub fn new() -> Result<NoncePool, crate::RandomError> {
        let mut key = [0u8; 32];
        crate::random::fill(&mut key)?;
        let mut start = [0u8; 8];
        crate::random::fill(&mut start)?;
        Ok(NoncePool::with_key(&key, u64::from_be_bytes(start) >> 1))
    }

    /// A pool over a shared key.
    pub fn with_key(key: &[u8], counter_start: u64) -> NoncePool {
        NoncePool {
            key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key),
            counter: counter_start,
            used: BTreeSet::new(),
            floor: i64::MIN,
        }
    }

    fn mac(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let tag = aws_lc_rs::hmac::sign(&self.key, body);
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&tag.as_ref()[..MAC_LEN]);
        out
    }

    /// A fresh nonce, redeemable once until `now + NONCE_LIFETIME_SECS` (unix seconds).
    pub fn issue(&mut self, now: i64) -> Result<String, crate::RandomError> {
        self.counter = self.counter.wrapping_add(1);
        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&now.to_be_bytes());
        raw[8..16].copy_from_slice(&self.counter.to_be_bytes());
        let mac = self.mac(&raw[..16]);
        raw[16..].copy_from_slice(&mac);
        Ok(Base64UrlUnpadded::encode_string(&raw))
    }

    /// The (issued-at, counter) of `nonce` if it is one of ours (by its MAC) and has not
    /// expired; says nothing about whether it was used (see [`NoncePool::redeem`], or the
    /// shared store's used set).
    pub fn verify(&self, nonce: &str, now: i64) -> Option<(i64, u64)> {
        let mut raw = [0u8; RAW_LEN];
        match Base64UrlUnpadded::decode(nonce, &mut raw) {
            Ok(decoded) if decoded.len() == RAW_LEN => {}
            _ => return None,
        }
        let (body, mac) = raw.split_at(16);
        if aws_lc_rs::constant_time::verify_slices_are_equal(mac, &self.mac(body)).is_err() {
            return None;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&body[..8]);
        let issued = i64::from_be_bytes(ts);
        let mut ctr = [0u8; 8];
        ctr.copy_from_slice(&body[8..16]);
        let counter = u64::from_be_bytes(ctr);
        if issued > now + 60 || now - issued > NONCE_LIFETIME_SECS || issued < self.floor {
            return None;
        }
        Some((issued, counter))
    }

    /// Consumes `nonce`: true only for one of ours, the first time, before it expires.
    pub fn redeem(&mut self, nonce: &str, now: i64) -> bool {
        let Some(id) = self.verify(nonce, now) else {
            return false;
        };
        if !self.used.insert(id) {
            return false;
        }
        while self.used.len() > MAX_REMEMBERED {
            if let Some((oldest, _)) = self.used.pop_first() {
                self.floor = self.floor.max(oldest + 1);
            }
        }
        true
    }

    /// Redeemed nonces remembered now.
    pub fn remembered(&self) -> usize {
        self.used.len()
    }

    /// Forgets redemptions of nonces that have expired anyway.
    pub fn sweep(&mut self, now: i64) {
        let cut = now - NONCE_LIFETIME_SECS;
        self.used = self.used.split_off(&(cut, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_redeemed_once_and_not_after_it_expires() {
        let mut pool = NoncePool::new().unwrap();
        let n = pool.issue(1000).unwrap();
        assert_eq!(n.len(), 43);
        assert!(pool.redeem(&n, 1001));
        assert!(!pool.redeem(&n, 1002), "replay");
        let old = pool.issue(1000).unwrap();
        assert!(
            !pool.redeem(&old, 1000 + NONCE_LIFETIME_SECS + 1),
            "expired"
        );
        assert!(!pool.redeem("not-a-nonce", 1000));
        assert!(!pool.redeem("", 1000));
        assert!(!pool.redeem(&"A".repeat(43), 1000), "forged");
        let a = pool.issue(1000).unwrap();
        let b = pool.issue(1000).unwrap();
        assert_ne!(a, b);
        // Another key's nonce, even well-formed, is refused.
        let mut other = NoncePool::new().unwrap();
        assert!(!pool.redeem(&other.issue(1000).unwrap(), 1000));
        // A flipped bit anywhere breaks the MAC.
        let mut raw = Base64UrlUnpadded::decode_vec(&a).unwrap();
        raw[3] ^= 1;
        assert!(!pool.redeem(&Base64UrlUnpadded::encode_string(&raw), 1000));
        assert!(pool.redeem(&a, 1000));
        pool.sweep(1000 + NONCE_LIFETIME_SECS + 1);
        assert_eq!(pool.remembered(), 0);
    }

    #[test]
    fn replicas_sharing_the_key_accept_each_others_nonces_once() {
        let mut one = NoncePool::with_key(b"shared key of the replicas", 1);
        let mut two = NoncePool::with_key(b"shared key of the replicas", 1 << 40);
        let n = one.issue(50).unwrap();
        assert!(two.redeem(&n, 51));
        assert!(!two.redeem(&n, 52));
    }

    #[test]
    fn a_full_memory_drops_the_oldest_and_refuses_everything_as_old() {
        let mut pool = NoncePool::with_key(b"k", 0);
        let early = pool.issue(10).unwrap();
        let nonces: Vec<String> = (0..=MAX_REMEMBERED)
            .map(|_| pool.issue(20).unwrap())
            .collect();
        for n in &nonces {
            assert!(pool.redeem(n, 21));
        }
        assert_eq!(pool.remembered(), MAX_REMEMBERED);
        // The dropped redemption's issue time is now the floor: older nonces are refused.
        assert!(!pool.redeem(&early, 21));
        assert!(!pool.redeem(&nonces[0], 21));
    }
}
