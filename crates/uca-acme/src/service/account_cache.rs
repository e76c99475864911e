//! Accounts this process has seen, with their keys decoded: a request signed by an account
//! (every request of an order) finds it here rather than in the store, without taking the
//! store's lock or parsing the stored key again.
//!
//! Only for a store no other process writes accounts to (the embedded one): on a shared store
//! another replica may deactivate an account or change its key at any moment. Here every such
//! write goes through this process, which forgets the account once the write is done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::jose::VerifyingKey;
use crate::model::Account;

/// How many accounts are kept; past that the cache starts over (a server with more active
/// accounts than this reads some from the store again, nothing worse).
pub(crate) const ACCOUNT_CACHE_CAPACITY: usize = 4096;

/// An account as the store had it, with its key ready to verify.
#[derive(Debug)]
pub(crate) struct KnownAccount {
    pub account: Account,
    pub key: VerifyingKey,
}

pub(crate) struct AccountCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

struct Inner {
    /// Changes whenever an account is forgotten: a reader that looked at the store before a
    /// write and comes back after it must not keep what it read.
    generation: u64,
    accounts: HashMap<String, Arc<KnownAccount>>,
}

/// What a lookup found: the account, or the generation to hand back to
/// [`AccountCache::remember`] with what the store says.
pub(crate) enum Lookup {
    Known(Arc<KnownAccount>),
    Unknown { generation: u64 },
}

impl AccountCache {
    pub(crate) fn new(capacity: usize) -> AccountCache {
        AccountCache {
            inner: Mutex::new(Inner {
                generation: 0,
                accounts: HashMap::new(),
            }),
            capacity,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the map consistent, so a poisoned lock is still good.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lookup(&self, id: &str) -> Lookup {
        let inner = self.inner();
        match inner.accounts.get(id) {
            Some(known) => Lookup::Known(known.clone()),
            None => Lookup::Unknown {
                generation: inner.generation,
            },
        }
    }

    /// Keeps an account read from the store after [`AccountCache::lookup`] said `generation`,
    /// unless an account was forgotten since (the read may predate that write).
    pub(crate) fn remember(&self, generation: u64, known: KnownAccount) -> Arc<KnownAccount> {
        let known = Arc::new(known);
        let mut inner = self.inner();
        if inner.generation == generation {
            if inner.accounts.len() >= self.capacity {
                inner.accounts.clear();
            }
            inner
                .accounts
                .insert(known.account.id.clone(), known.clone());
        }
        known
    }

    /// Drops an account after a write to it (status, contact, key), whether or not the write
    /// took: the next request reads it from the store.
    pub(crate) fn forget(&self, id: &str) {
        let mut inner = self.inner();
        inner.accounts.remove(id);
        inner.generation = inner.generation.wrapping_add(1);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner().accounts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::test_support;
    use crate::model::AccountStatus;

    fn known(id: &str) -> KnownAccount {
        let key = test_support::TestKey::p256();
        let jwk = key.jwk();
        KnownAccount {
            account: Account {
                id: id.into(),
                jwk: jwk.to_json().to_string(),
                thumbprint: jwk.thumbprint(),
                status: AccountStatus::Valid,
                contact: Vec::new(),
                eab_kid: None,
                created_at: 0,
            },
            key: VerifyingKey::new(jwk),
        }
    }

    fn generation(cache: &AccountCache, id: &str) -> u64 {
        match cache.lookup(id) {
            Lookup::Unknown { generation } => generation,
            Lookup::Known(_) => panic!("{id} should not be known yet"),
        }
    }

    #[test]
    fn a_remembered_account_is_found_until_it_is_forgotten() {
        let cache = AccountCache::new(8);
        let g = generation(&cache, "a");
        cache.remember(g, known("a"));
        assert!(matches!(cache.lookup("a"), Lookup::Known(k) if k.account.id == "a"));
        cache.forget("a");
        assert!(matches!(cache.lookup("a"), Lookup::Unknown { .. }));
    }

    #[test]
    fn a_read_from_before_a_write_is_not_kept() {
        let cache = AccountCache::new(8);
        let before = generation(&cache, "a");
        // The store is read, then another request deactivates the account and forgets it,
        // then the first request comes back with what it read.
        cache.forget("a");
        let stale = cache.remember(before, known("a"));
        assert_eq!(stale.account.id, "a", "the caller still gets what it read");
        assert!(matches!(cache.lookup("a"), Lookup::Unknown { .. }));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let cache = AccountCache::new(2);
        for id in ["a", "b", "c"] {
            let g = generation(&cache, id);
            cache.remember(g, known(id));
        }
        assert_eq!(cache.len(), 1);
        assert!(matches!(cache.lookup("c"), Lookup::Known(_)));
    }
}
