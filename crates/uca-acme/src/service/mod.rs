//! What each ACME request means: authentication of the JWS (§6), then one function per
//! resource. Plain functions over the store, the nonce pool and `now`; the two steps that need
//! the outside world (validating a challenge, signing a certificate) are handed back to the
//! caller as jobs and their outcome handed in again, so this module never does network I/O.

mod account;
mod account_cache;
mod authz;
mod claims;
mod order;
mod render;
mod renewal;
mod revoke;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use uca_pki::constraints::NameConstraints;

pub use authz::{ChallengeStep, ValidationJob};
pub use claims::Claim;
pub use order::{
    ABANDONED_AFTER_SECS, FinalizeStep, IssueJob, Issued, LedgerView, check_csr_names,
};
pub use renewal::{CertId, RENEWAL_INFO_RETRY_SECS, RenewalFacts, renewal_info};
pub use revoke::{RevokeJob, acme_reason};

use crate::jose::{JoseError, Jwk, Jws, KeyRef, VerifyingKey};
use crate::model::{Account, AccountStatus};
use crate::nonce::NoncePool;
use crate::policy::NamePolicy;
use crate::problem::{Problem, ProblemType};
use crate::ratelimit::{Limiter, Rate};
use crate::store::{Store, StoreError};
use account_cache::{ACCOUNT_CACHE_CAPACITY, AccountCache, KnownAccount, Lookup};

/// Whether new accounts must be bound to an external account key (§7.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EabMode {
    Off,
    Optional,
    Required,
}

impl EabMode {
    pub fn parse(s: &str) -> Option<EabMode> {
        match s {
            "off" => Some(EabMode::Off),
            "optional" => Some(EabMode::Optional),
            "required" => Some(EabMode::Required),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EabMode::Off => "off",
            EabMode::Optional => "optional",
            EabMode::Required => "required",
        }
    }
}

/// The rate limits (`[acme]`), each `None` when off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Accounts created per source address.
    pub new_accounts_per_ip: Option<Rate>,
    /// Orders per account.
    pub new_orders_per_account: Option<Rate>,
    /// Failed validations per identifier (a target that keeps failing is not tried again
    /// until the limit allows).
    pub failed_validations_per_identifier: Option<Rate>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            new_accounts_per_ip: Some(Rate {
                count: 50,
                period_secs: 3600.0,
            }),
            new_orders_per_account: Some(Rate {
                count: 300,
                period_secs: 3600.0,
            }),
            failed_validations_per_identifier: Some(Rate {
                count: 20,
                period_secs: 3600.0,
            }),
        }
    }
}

/// The limiters of one server process.
#[derive(Debug)]
struct Limiters {
    accounts: Limiter,
    orders: Limiter,
    failures: Limiter,
}

/// How the server decides.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    pub eab: EabMode,
    pub policy: NamePolicy,
    /// The issuing CA's name constraints: an identifier outside them is refused at newOrder
    /// rather than failing at signing.
    pub constraints: Option<NameConstraints>,
    /// Lifetime of a certificate whose order asks for none.
    pub default_days: u32,
    /// The longest lifetime an order's notBefore/notAfter may ask for.
    pub max_days: u32,
    /// Seconds a pending order and its authorizations stay usable.
    pub order_lifetime: i64,
    /// Identifiers per order.
    pub max_identifiers: usize,
    /// Orders per page of an account's orders list.
    pub orders_page: u64,
    /// The issuing CA's subject key identifier: ARI certificate IDs (RFC 9773) name it.
    pub ca_key_id: Option<Vec<u8>>,
    /// Certificate profiles offered (draft-aaron-acme-profiles), by name with a description,
    /// in the directory's order; the first is the default.
    pub profiles: Vec<(String, String)>,
    pub limits: RateLimits,
    /// This server's name in the orders it claims for finalization: on a shared store, what
    /// tells its own interrupted claims from those of a replica still at work.
    pub node: String,
    /// Seconds after which a finalization claimed by a server that never finished it counts
    /// as abandoned ([`ABANDONED_AFTER_SECS`] by default).
    pub abandoned_after: i64,
}

impl Default for AcmeSettings {
    fn default() -> Self {
        AcmeSettings {
            eab: EabMode::Required,
            policy: NamePolicy::default(),
            constraints: None,
            default_days: 90,
            max_days: 397,
            order_lifetime: 24 * 3600,
            max_identifiers: 100,
            orders_page: 50,
            ca_key_id: None,
            profiles: Vec::new(),
            limits: RateLimits::default(),
            node: "local".into(),
            abandoned_after: ABANDONED_AFTER_SECS,
        }
    }
}

/// A response before HTTP: the transport adds `Replay-Nonce`, the directory `Link` and
/// `Cache-Control`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    /// `Link` headers: (URL, rel).
    pub links: Vec<(String, &'static str)>,
    pub retry_after: Option<u64>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Value),
    /// `application/pem-certificate-chain`.
    PemChain(String),
    Empty,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            location: None,
            links: Vec::new(),
            retry_after: None,
            body: Body::Json(body),
        }
    }

    fn at(mut self, location: String) -> Reply {
        self.location = Some(location);
        self
    }

    fn link(mut self, url: String, rel: &'static str) -> Reply {
        self.links.push((url, rel));
        self
    }
}

/// One POST as received: `base` is the scheme and authority the client used
/// (`https://ca.example:8443`), `path` the request target with its query.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// Where the request came from (rate limits per address); `None` when unknown.
    pub peer: Option<std::net::IpAddr>,
    pub base: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
}

impl Post<'_> {
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.path)
    }
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub(crate) enum Signer {
    /// `kid`: an existing, valid account.
    Account(Account),
    /// `jwk`: a key (newAccount, revocation by the certificate's key).
    Key(Jwk),
}

/// A request whose JWS checked out.
pub(crate) struct Authenticated {
    pub jws: Jws,
    pub signer: Signer,
}

/// Which key form a resource takes (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyForm {
    Kid,
    Jwk,
    Either,
}

/// The resource paths, under the server's base URL.
pub mod paths {
    pub const DIRECTORY: &str = "/acme/directory";
    pub const NEW_NONCE: &str = "/acme/new-nonce";
    pub const NEW_ACCOUNT: &str = "/acme/new-account";
    pub const NEW_ORDER: &str = "/acme/new-order";
    pub const REVOKE_CERT: &str = "/acme/revoke-cert";
    pub const KEY_CHANGE: &str = "/acme/key-change";
    pub const ACCOUNT: &str = "/acme/acct/";
    pub const ORDER: &str = "/acme/order/";
    pub const AUTHZ: &str = "/acme/authz/";
    pub const CHALLENGE: &str = "/acme/chall/";
    pub const CERT: &str = "/acme/cert/";
    pub const RENEWAL_INFO: &str = "/acme/renewal-info";
}

/// The ACME server's state: settings, the store, outstanding nonces.
pub struct Acme {
    pub settings: AcmeSettings,
    /// One store on SQLite; on a shared database, several connections, so requests do not
    /// queue behind one another's round trips.
    stores: Vec<Mutex<Store>>,
    next_store: std::sync::atomic::AtomicUsize,
    nonces: Mutex<NoncePool>,
    limits: Limiters,
    /// The store is shared with other replicas: redeemed nonces and rate-limit cells live in
    /// it, not in this process.
    shared: bool,
    /// Accounts with their keys decoded; `None` on a shared store.
    accounts: Option<AccountCache>,
    /// Challenges being validated and orders being signed, in memory; `None` on a shared
    /// store, which records its claims.
    claims: Option<Arc<claims::Claims>>,
    /// On the embedded store, a connection of its own that copies the log into the database
    /// file ([`Acme::checkpoint`]), and the log's size as the serving connection last left it.
    checkpoints: Option<Mutex<Store>>,
    log_pages: Option<Arc<AtomicI64>>,
}

/// The log size (pages) from which [`Acme::checkpoint`] copies it: SQLite's own threshold, so
/// a quiet server syncs no more often than it would by itself.
pub const CHECKPOINT_PAST_PAGES: i64 = 1000;

/// The log size (pages) past which the serving connection checkpoints by itself, inside a
/// request: a backstop for when [`Acme::checkpoint`] is not called often enough (SQLite's
/// default is 1,000, about 4 MB, which is where it did so before, holding every request).
pub const CHECKPOINT_BACKSTOP_PAGES: i64 = 25_000;

/// The rate limits, by what they count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Accounts,
    Orders,
    Failures,
}

impl Limit {
    fn name(self) -> &'static str {
        match self {
            Limit::Accounts => "new_accounts_per_ip",
            Limit::Orders => "new_orders_per_account",
            Limit::Failures => "failed_validations_per_identifier",
        }
    }
}

/// Microseconds to whole seconds of Retry-After (at least 1).
fn wait_secs(us: i64) -> u64 {
    u64::try_from(us.saturating_add(999_999) / 1_000_000)
        .unwrap_or(1)
        .max(1)
}

/// Why the ACME server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AcmeStartError {
    #[error(transparent)]
    Random(#[from] crate::RandomError),
    #[error("the ACME store failed: {0}")]
    Store(#[from] StoreError),
}

pub(crate) fn store_problem(e: StoreError) -> Problem {
    Problem::internal(format!("the ACME store failed: {e}"))
}

pub(crate) fn jose_problem(e: JoseError) -> Problem {
    match e {
        JoseError::BadSignatureAlgorithm { .. } => {
            let mut p = Problem::new(ProblemType::BadSignatureAlgorithm, e.to_string());
            p.algorithms = Some(crate::jose::ALGORITHMS.to_vec());
            p
        }
        JoseError::BadPublicKey(_) | JoseError::UnsupportedKey(_) => {
            Problem::new(ProblemType::BadPublicKey, e.to_string())
        }
        _ => Problem::malformed(e.to_string()),
    }
}

impl Acme {
    /// The server's state. On a shared store the nonce key comes from it (the first replica
    /// to start stores one), so a nonce from one replica is good on another. Fails if the
    /// system's random source or the shared store does.
    pub fn new(settings: AcmeSettings, store: Store) -> Result<Acme, AcmeStartError> {
        Self::with_connections(settings, store, Vec::new())
    }

    /// [`Acme::new`] with more connections to the same shared store, used in turn.
    pub fn with_connections(
        settings: AcmeSettings,
        mut store: Store,
        more: Vec<Store>,
    ) -> Result<Acme, AcmeStartError> {
        let limits = Limiters {
            accounts: Limiter::new(settings.limits.new_accounts_per_ip),
            orders: Limiter::new(settings.limits.new_orders_per_account),
            failures: Limiter::new(settings.limits.failed_validations_per_identifier),
        };
        let shared = store.is_shared();
        let nonces = if shared {
            let mut fresh = [0u8; 32];
            crate::random::fill(&mut fresh)?;
            let key = store.write(crate::store::Commit::Durable, |tx| tx.nonce_key(&fresh))?;
            let mut start = [0u8; 8];
            crate::random::fill(&mut start)?;
            NoncePool::with_key(&key, u64::from_be_bytes(start) >> 1)
        } else {
            NoncePool::new()?
        };
        let checkpoints = if shared {
            None
        } else {
            store.another_connection()?
        };
        let log_pages = checkpoints.as_ref().and(store.log_pages());
        if checkpoints.is_some() {
            store.checkpoint_past(CHECKPOINT_BACKSTOP_PAGES);
        }
        let stores = std::iter::once(store).chain(more).map(Mutex::new).collect();
        Ok(Acme {
            settings,
            stores,
            next_store: std::sync::atomic::AtomicUsize::new(0),
            nonces: Mutex::new(nonces),
            limits,
            shared,
            accounts: (!shared).then(|| AccountCache::new(ACCOUNT_CACHE_CAPACITY)),
            claims: (!shared).then(Default::default),
            checkpoints: checkpoints.map(Mutex::new),
            log_pages,
        })
    }

    /// Copies the embedded store's write-ahead log into its database file once it has grown
    /// past [`CHECKPOINT_PAST_PAGES`], for the server to call every fraction of a second. Most
    /// of the log is copied (and the disk flushed) while requests go on; only what they wrote
    /// meanwhile is copied with writes held off, so the log starts over at the next commit
    /// instead of growing. What the first pass found; `None` when there was nothing to do (or
    /// on a shared store).
    pub fn checkpoint(&self) -> Result<Option<crate::store::Checkpointed>, Problem> {
        let (Some(connection), Some(pages)) = (&self.checkpoints, &self.log_pages) else {
            return Ok(None);
        };
        if pages.load(Ordering::Relaxed) < CHECKPOINT_PAST_PAGES {
            return Ok(None);
        }
        let mut connection = connection.lock().unwrap_or_else(|p| p.into_inner());
        let found = connection.checkpoint().map_err(store_problem)?;
        if found.is_some_and(|c| c.log > 0) {
            let _writes_held = self.store();
            let last = connection.checkpoint().map_err(store_problem)?;
            // All copied: the log starts over at the next commit, which reports its new size;
            // until then there is nothing to do.
            if last.is_some_and(|c| c.copied == c.log) {
                pages.store(0, Ordering::Relaxed);
            }
        }
        Ok(found)
    }

    /// A store connection: a free one if there is one, else the next in turn.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a transaction half-applied (the database
        // rolls back an uncommitted one), so a poisoned lock is still safe to use.
        let n = self.stores.len();
        let start = self
            .next_store
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % n;
        for i in 0..n {
            match self.stores[(start + i) % n].try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        self.stores[start].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the store is shared with other replicas.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// A fresh nonce for a `Replay-Nonce` header.
    pub fn nonce(&self, now: i64) -> Result<String, Problem> {
        let mut pool = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        pool.issue(now)
            .map_err(|e| Problem::internal(e.to_string()))
    }

    /// Consumes a request's nonce: one of ours, unexpired, the first time (on a shared store,
    /// the first time on any replica).
    fn redeem_nonce(&self, nonce: &str, now: i64) -> Result<bool, Problem> {
        if !self.shared {
            let mut pool = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
            return Ok(pool.redeem(nonce, now));
        }
        let verified = {
            let pool = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
            pool.verify(nonce, now)
        };
        let Some((issued, counter)) = verified else {
            return Ok(false);
        };
        self.store()
            .redeem_nonce(issued, counter as i64)
            .map_err(store_problem)
    }

    fn limiter(&self, which: Limit) -> &Limiter {
        match which {
            Limit::Accounts => &self.limits.accounts,
            Limit::Orders => &self.limits.orders,
            Limit::Failures => &self.limits.failures,
        }
    }

    /// Counts an event against a limit, or says how many seconds to wait. On a shared store
    /// the cell is in the store; if the store fails, this process's own cell decides.
    pub(crate) fn take_limit(&self, which: Limit, key: &str, now: i64) -> Result<(), u64> {
        let limiter = self.limiter(which);
        if let Some((interval, tolerance)) = limiter.cell_us()
            && self.shared
            && let Ok(decided) =
                self.store()
                    .take_rate(which.name(), key, now * 1_000_000, interval, tolerance)
        {
            return decided.map_err(wait_secs);
        }
        limiter.take(key, now as f64)
    }

    /// [`Acme::take_limit`] inside a write already open.
    pub(crate) fn take_limit_in(
        &self,
        tx: &crate::store::Tx<'_>,
        which: Limit,
        key: &str,
        now: i64,
    ) -> Result<(), u64> {
        let limiter = self.limiter(which);
        match limiter.cell_us() {
            Some((interval, tolerance)) if self.shared => {
                match tx.take_rate(which.name(), key, now * 1_000_000, interval, tolerance) {
                    Ok(decided) => decided.map_err(wait_secs),
                    Err(_) => limiter.take(key, now as f64),
                }
            }
            _ => limiter.take(key, now as f64),
        }
    }

    /// Whether a limit allows an event now, without counting it.
    pub(crate) fn check_limit(&self, which: Limit, key: &str, now: i64) -> Result<(), u64> {
        let limiter = self.limiter(which);
        if let Some((_, tolerance)) = limiter.cell_us()
            && self.shared
            && let Ok(decided) =
                self.store()
                    .read()
                    .check_rate(which.name(), key, now * 1_000_000, tolerance)
        {
            return decided.map_err(wait_secs);
        }
        limiter.check(key, now as f64)
    }

    /// Drops expired nonces and aged-out rate-limit entries (called now and then by the
    /// server); on a shared store, from the store.
    pub fn sweep_nonces(&self, now: i64) {
        let mut pool = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        pool.sweep(now);
        drop(pool);
        let t = now as f64;
        self.limits.accounts.sweep(t);
        self.limits.orders.sweep(t);
        self.limits.failures.sweep(t);
        if self.shared {
            // Best effort: the next sweep tries again.
            let _ = self.store().write(crate::store::Commit::Lazy, |tx| {
                tx.prune_rates(now * 1_000_000)?;
                tx.prune(
                    &crate::store::Retention::nonces_at(now),
                    crate::store::PRUNE_BATCH,
                )
            });
        }
    }

    /// Removes what `keep` lets go: orders that can no longer lead anywhere (invalid, or
    /// expired unfinished) and valid ones whose certificate expired, with their
    /// authorizations, challenges and certificate records, and on a shared store the redeemed
    /// nonces that expired. (One server keeps used nonces in memory, where they expire by
    /// themselves.) The ledger keeps every certificate.
    pub fn prune(&self, keep: &crate::store::Retention) -> Result<crate::store::Pruned, Problem> {
        // The store is taken per step, so requests go on between them.
        let mut total = crate::store::Pruned::default();
        loop {
            let (pruned, more) = self.store().prune_step(keep).map_err(store_problem)?;
            total.add(&pruned);
            if !more {
                return Ok(total);
            }
        }
    }

    /// The directory object (§7.1.1).
    pub fn directory(&self, base: &str) -> Reply {
        let mut meta = serde_json::json!({
            "externalAccountRequired": self.settings.eab == EabMode::Required,
        });
        if let Some(obj) = meta.as_object_mut() {
            obj.insert("website".into(), Value::String(format!("{base}/")));
            if !self.settings.profiles.is_empty() {
                let profiles: serde_json::Map<String, Value> = self
                    .settings
                    .profiles
                    .iter()
                    .map(|(name, what)| (name.clone(), Value::String(what.clone())))
                    .collect();
                obj.insert("profiles".into(), Value::Object(profiles));
            }
        }
        Reply::json(
            200,
            serde_json::json!({
                "newNonce": format!("{base}{}", paths::NEW_NONCE),
                "newAccount": format!("{base}{}", paths::NEW_ACCOUNT),
                "newOrder": format!("{base}{}", paths::NEW_ORDER),
                "revokeCert": format!("{base}{}", paths::REVOKE_CERT),
                "keyChange": format!("{base}{}", paths::KEY_CHANGE),
                "renewalInfo": format!("{base}{}", paths::RENEWAL_INFO),
                "meta": meta,
            }),
        )
    }

    /// Checks a POST's JWS (§6.2–§6.5): content type, flattened JWS, nonce, URL, key form,
    /// account, signature. Every failure is a problem and changes nothing but the nonce.
    pub(crate) fn authenticate(
        &self,
        post: &Post<'_>,
        form: KeyForm,
        now: i64,
    ) -> Result<Authenticated, Problem> {
        match post.content_type {
            Some(ct) if media_type(ct) == "application/jose+json" => {}
            Some(ct) => {
                return Err(Problem::malformed(format!(
                    "content type '{ct}' is not application/jose+json"
                ))
                .with_status(415));
            }
            None => {
                return Err(Problem::malformed(
                    "a Content-Type of application/jose+json is required",
                )
                .with_status(415));
            }
        }
        let jws = Jws::parse(post.body).map_err(jose_problem)?;
        let Some(nonce) = jws.protected.nonce.as_deref() else {
            return Err(Problem::new(
                ProblemType::BadNonce,
                "the protected header has no nonce",
            ));
        };
        if !self.redeem_nonce(nonce, now)? {
            return Err(Problem::new(
                ProblemType::BadNonce,
                "the nonce is unknown, used or expired; retry with the one in Replay-Nonce",
            ));
        }
        let url = post.url();
        match jws.protected.url.as_deref() {
            Some(u) if u == url => {}
            Some(u) => {
                return Err(Problem::unauthorized(format!(
                    "the protected header's url '{u}' is not the request URL '{url}'"
                )));
            }
            None => return Err(Problem::malformed("the protected header has no url")),
        }
        let signer = match (&jws.protected.key, form) {
            (KeyRef::Jwk(_), KeyForm::Kid) => {
                return Err(Problem::malformed(
                    "this resource takes requests signed by an account ('kid'), not a 'jwk'",
                ));
            }
            (KeyRef::Kid(_), KeyForm::Jwk) => {
                return Err(Problem::malformed(
                    "this resource takes a 'jwk', not an account 'kid'",
                ));
            }
            (KeyRef::Jwk(jwk), _) => {
                jws.verify(jwk).map_err(jose_problem)?;
                Signer::Key(jwk.clone())
            }
            (KeyRef::Kid(kid), _) => {
                let prefix = format!("{}{}", post.base, paths::ACCOUNT);
                let id = kid
                    .strip_prefix(&prefix)
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .ok_or_else(|| {
                        Problem::new(
                            ProblemType::AccountDoesNotExist,
                            format!("'{kid}' is not an account URL of this server"),
                        )
                    })?;
                let known = self.known_account(id)?.ok_or_else(|| {
                    Problem::new(ProblemType::AccountDoesNotExist, "no such account")
                })?;
                jws.verify_with(&known.key).map_err(jose_problem)?;
                if known.account.status != AccountStatus::Valid {
                    // §7.3.6: 401 for a deactivated account.
                    return Err(Problem::unauthorized(format!(
                        "the account is {}",
                        known.account.status
                    ))
                    .with_status(401));
                }
                Signer::Account(known.account.clone())
            }
        };
        Ok(Authenticated { jws, signer })
    }

    /// An account with its key decoded: from the cache when this process owns the store,
    /// else from the store.
    fn known_account(&self, id: &str) -> Result<Option<std::sync::Arc<KnownAccount>>, Problem> {
        let generation = match self.accounts.as_ref().map(|c| c.lookup(id)) {
            Some(Lookup::Known(known)) => return Ok(Some(known)),
            Some(Lookup::Unknown { generation }) => Some(generation),
            None => None,
        };
        let Some(account) = self.store().read().account(id).map_err(store_problem)? else {
            return Ok(None);
        };
        let known = KnownAccount {
            key: VerifyingKey::new(account_jwk(&account)?),
            account,
        };
        Ok(Some(match (&self.accounts, generation) {
            (Some(cache), Some(generation)) => cache.remember(generation, known),
            _ => std::sync::Arc::new(known),
        }))
    }

    /// Call after any write to an account: a cached copy would be stale.
    pub(crate) fn forget_account(&self, id: &str) {
        if let Some(cache) = &self.accounts {
            cache.forget(id);
        }
    }

    pub(crate) fn account_url(base: &str, id: &str) -> String {
        format!("{base}{}{id}", paths::ACCOUNT)
    }
}

/// The key a stored account holds.
pub(crate) fn account_jwk(account: &Account) -> Result<Jwk, Problem> {
    let v: Value = serde_json::from_str(&account.jwk)
        .map_err(|e| Problem::internal(format!("stored account key is not JSON: {e}")))?;
    Jwk::from_json(&v).map_err(|e| Problem::internal(format!("stored account key: {e}")))
}

/// `application/jose+json; charset=...` → `application/jose+json`.
fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A `rateLimited` problem (429) with its Retry-After.
pub(crate) fn rate_limited(what: &str, rate: Option<Rate>, retry_after: u64) -> Problem {
    let limit = rate.map(|r| format!(" (limit: {r})")).unwrap_or_default();
    let mut p = Problem::new(
        ProblemType::RateLimited,
        format!("too many {what}{limit}; retry in {retry_after} s"),
    );
    p.retry_after = Some(retry_after);
    p
}

/// The account behind a `kid`-signed request.
pub(crate) fn require_account(auth: &Authenticated) -> Result<&Account, Problem> {
    match &auth.signer {
        Signer::Account(a) => Ok(a),
        Signer::Key(_) => Err(Problem::malformed(
            "this request must be signed by an account",
        )),
    }
}

/// The payload of a request that must be POST-as-GET (§6.3).
pub(crate) fn require_post_as_get(auth: &Authenticated) -> Result<(), Problem> {
    if auth.jws.is_post_as_get() {
        Ok(())
    } else {
        Err(Problem::malformed(
            "this resource is read with POST-as-GET: the payload must be empty",
        ))
    }
}

/// The payload as a JSON object (not POST-as-GET).
pub(crate) fn payload_object(
    auth: &Authenticated,
) -> Result<serde_json::Map<String, Value>, Problem> {
    match auth.jws.payload_json().map_err(jose_problem)? {
        Value::Object(m) => Ok(m),
        _ => Err(Problem::malformed("the payload must be a JSON object")),
    }
}

/// The ID at the end of `path` after `prefix` (no further slashes, no query).
pub fn id_after<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let id = path.strip_prefix(prefix)?;
    let id = id.split('?').next().unwrap_or(id);
    (!id.is_empty() && !id.contains('/')).then_some(id)
}
