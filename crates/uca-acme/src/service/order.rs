//! newOrder (§7.4), reading orders and an account's orders list (§7.1.2.1), finalize and
//! certificate download (§7.4.2).

use std::sync::Arc;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uca_pki::csr::Csr;

use super::{
    Acme, Body, Claim, KeyForm, Limit, Post, Reply, paths, payload_object, render, require_account,
    require_post_as_get, store_problem,
};
use crate::identifier::{Identifier, IdentifierError};
use crate::model::{
    Authz, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, IssuedCert, Order, OrderStatus,
};
use crate::problem::{Problem, ProblemType, Subproblem};
use crate::random;
use crate::store::Commit;

/// By default, a finalization claimed longer ago than this was abandoned by a server that
/// stopped (signing takes milliseconds): another may settle it. The ledger uses the same age for
/// its rows.
pub const ABANDONED_AFTER_SECS: i64 = 120;

/// The lease of the replica that sweeps abandoned finalizations, and how long it lasts.
const SWEEP_LEASE: &str = "sweep_abandoned";
const SWEEP_LEASE_SECS: i64 = 60;

/// A finalize request that passed every check: the caller signs it and records it.
#[derive(Debug, Clone)]
pub struct IssueJob {
    pub order: Order,
    pub csr: Csr,
    /// The certificate's validity: from the order's notBefore (or now) to its notAfter (or
    /// the default lifetime).
    pub not_before: i64,
    pub not_after: i64,
    pub base: String,
    /// This server's hold on the order while it signs, on the embedded store ([`Claim`]); a
    /// shared store records `processing` with the server's name instead.
    pub claim: Option<Arc<Claim>>,
}

/// What the caller did with an [`IssueJob`].
#[derive(Debug, Clone)]
pub struct Issued {
    /// Serial, lowercase hex.
    pub serial: String,
    /// Leaf and issuer chain, PEM.
    pub chain_pem: String,
    /// The leaf's notAfter, unix seconds.
    pub not_after: i64,
}

/// Finalize either answers at once (a refusal, or an order already done) or needs signing.
#[derive(Debug)]
pub enum FinalizeStep {
    Reply(Reply),
    Issue(Box<IssueJob>),
}

fn parse_time(v: Option<&Value>, field: &str) -> Result<Option<i64>, Problem> {
    let Some(v) = v else { return Ok(None) };
    let s = v
        .as_str()
        .ok_or_else(|| Problem::malformed(format!("'{field}' must be an RFC 3339 string")))?;
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| Problem::malformed(format!("'{field}' is not an RFC 3339 date: {e}")))?;
    Ok(Some(t.unix_timestamp()))
}

impl Acme {
    /// POST /acme/new-order.
    pub fn new_order(&self, post: &Post<'_>, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        let payload = payload_object(&auth)?;
        let list = payload
            .get("identifiers")
            .and_then(Value::as_array)
            .ok_or_else(|| Problem::malformed("'identifiers' must be an array"))?;
        if list.is_empty() {
            return Err(Problem::malformed("an order needs at least one identifier"));
        }
        if list.len() > self.settings.max_identifiers {
            return Err(Problem::new(
                ProblemType::RejectedIdentifier,
                format!(
                    "{} identifiers; at most {} per order",
                    list.len(),
                    self.settings.max_identifiers
                ),
            ));
        }
        let mut identifiers = Vec::new();
        let mut unsupported = Vec::new();
        for v in list {
            match Identifier::from_json(v) {
                Ok(id) => identifiers.push(id),
                Err(IdentifierError::UnsupportedType(t)) => unsupported.push(t),
                Err(e) => return Err(Problem::new(ProblemType::RejectedIdentifier, e.to_string())),
            }
        }
        if !unsupported.is_empty() {
            return Err(Problem::new(
                ProblemType::UnsupportedIdentifier,
                format!(
                    "identifier type(s) {} are not supported (use dns or ip)",
                    unsupported.join(", ")
                ),
            ));
        }
        identifiers.sort();
        identifiers.dedup();
        self.check_names(account, &identifiers)?;
        let not_before = parse_time(payload.get("notBefore"), "notBefore")?;
        let not_after = parse_time(payload.get("notAfter"), "notAfter")?;
        let start = not_before.unwrap_or(now);
        if let Some(nb) = not_before
            && nb < now - 3600
        {
            return Err(Problem::malformed(
                "'notBefore' lies more than an hour in the past",
            ));
        }
        if let Some(na) = not_after {
            if na <= start {
                return Err(Problem::malformed(
                    "'notAfter' must come after 'notBefore' (or now)",
                ));
            }
            let max = i64::from(self.settings.max_days) * 86_400;
            if na - start > max {
                return Err(Problem::malformed(format!(
                    "the requested lifetime exceeds this server's maximum of {} days",
                    self.settings.max_days
                )));
            }
        }
        let replaces = match payload.get("replaces") {
            None => None,
            Some(v) => Some(self.check_replaces(account, v)?),
        };
        let profile = match payload.get("profile") {
            None => None,
            Some(v) => Some(self.check_profile(account, v)?),
        };
        self.take_limit(Limit::Orders, &account.id, now)
            .map_err(|secs| {
                super::rate_limited(
                    "new orders from this account",
                    self.settings.limits.new_orders_per_account,
                    secs,
                )
            })?;
        let new_id = || random::id().map_err(|e| Problem::internal(e.to_string()));
        let new_token = || random::token().map_err(|e| Problem::internal(e.to_string()));
        let expires = now + self.settings.order_lifetime;
        let order = Order {
            id: new_id()?,
            account: account.id.clone(),
            status: OrderStatus::Pending,
            identifiers: identifiers.clone(),
            not_before,
            not_after,
            expires,
            error: None,
            certificate: None,
            created_at: now,
            replaces,
            profile,
        };
        let mut authzs = Vec::new();
        let mut challenges = Vec::new();
        for id in &identifiers {
            let authz = Authz {
                id: new_id()?,
                order: order.id.clone(),
                account: account.id.clone(),
                identifier: id.authorization_target(),
                wildcard: id.is_wildcard(),
                status: AuthzStatus::Pending,
                expires,
            };
            // §7.1.3/§8: a wildcard only by dns-01 (it proves the zone); an IP never by dns-01
            // (RFC 8738 §7).
            let kinds: &[ChallengeType] = match id {
                Identifier::Dns(_) if authz.wildcard => &[ChallengeType::Dns01],
                Identifier::Dns(_) => &[
                    ChallengeType::Http01,
                    ChallengeType::Dns01,
                    ChallengeType::TlsAlpn01,
                ],
                Identifier::Ip(_) => &[ChallengeType::Http01, ChallengeType::TlsAlpn01],
            };
            for kind in kinds {
                challenges.push(Challenge {
                    id: new_id()?,
                    authz: authz.id.clone(),
                    kind: *kind,
                    token: new_token()?,
                    status: ChallengeStatus::Pending,
                    validated: None,
                    error: None,
                });
            }
            authzs.push(authz);
        }
        self.store()
            .write(Commit::Lazy, |tx| {
                tx.insert_order(&order)?;
                for a in &authzs {
                    tx.insert_authz(a)?;
                }
                for c in &challenges {
                    tx.insert_challenge(c)?;
                }
                Ok(())
            })
            .map_err(store_problem)?;
        let url = format!("{}{}{}", post.base, paths::ORDER, order.id);
        Ok(Reply::json(201, render::order(post.base, &order, &authzs)).at(url))
    }

    /// Refuses identifiers outside the server's policy, the account's external key's
    /// patterns, or the CA's name constraints, each with its own subproblem (§6.7.1).
    fn check_names(
        &self,
        account: &crate::model::Account,
        ids: &[Identifier],
    ) -> Result<(), Problem> {
        let eab_policy = match &account.eab_kid {
            Some(kid) => {
                let key = self.store().read().eab(kid).map_err(store_problem)?;
                match key {
                    Some(k) => Some(k.allow),
                    None => {
                        return Err(Problem::unauthorized(format!(
                            "the external account key '{kid}' this account was bound with has been removed"
                        )));
                    }
                }
            }
            None => None,
        };
        let mut subs = Vec::new();
        for id in ids {
            let mut why = self.settings.policy.refusal(id);
            if why.is_none()
                && let Some(allow) = &eab_policy
                && !allow.is_empty()
            {
                let san = id.san();
                let allowed = allow
                    .iter()
                    .any(|p| crate::policy::NamePattern::parse(p).is_ok_and(|p| p.matches(&san)));
                if !allowed {
                    why = Some(format!(
                        "'{id}' is not among the names this account's external key may obtain ({})",
                        allow.join(", ")
                    ));
                }
            }
            if why.is_none()
                && let Some(nc) = &self.settings.constraints
                && let Err(e) = nc.check(&id.authorization_target().san())
            {
                why = Some(format!("'{id}' is outside the CA's name constraints: {e}"));
            }
            if let Some(detail) = why {
                subs.push(Subproblem {
                    kind: ProblemType::RejectedIdentifier,
                    detail,
                    identifier: id.clone(),
                });
            }
        }
        if subs.is_empty() {
            return Ok(());
        }
        let detail = if subs.len() == 1 {
            subs[0].detail.clone()
        } else {
            format!("{} identifiers are refused", subs.len())
        };
        Err(Problem::new(ProblemType::RejectedIdentifier, detail).with_subproblems(subs))
    }

    /// newOrder's `profile`: one the server offers and the account's external key allows.
    fn check_profile(&self, account: &crate::model::Account, v: &Value) -> Result<String, Problem> {
        let name = v
            .as_str()
            .ok_or_else(|| Problem::malformed("'profile' must be a string"))?;
        let offered: Vec<&str> = self
            .settings
            .profiles
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        if !offered.contains(&name) {
            return Err(Problem::new(
                ProblemType::InvalidProfile,
                format!(
                    "profile '{}' is not offered here (offered: {})",
                    name.chars().take(64).collect::<String>(),
                    if offered.is_empty() {
                        "none".to_string()
                    } else {
                        offered.join(", ")
                    }
                ),
            ));
        }
        if let Some(kid) = &account.eab_kid
            && let Some(key) = self.store().read().eab(kid).map_err(store_problem)?
            && !key.profiles.is_empty()
            && !key.profiles.iter().any(|p| p == name)
        {
            return Err(Problem::new(
                ProblemType::InvalidProfile,
                format!(
                    "this account's external key allows the profiles {}, not '{name}'",
                    key.profiles.join(", ")
                ),
            ));
        }
        Ok(name.to_string())
    }

    /// An order of the signing account, with its authorizations.
    fn owned_order(
        &self,
        account: &crate::model::Account,
        id: &str,
    ) -> Result<(Order, Vec<Authz>), Problem> {
        let found = self
            .store()
            .reading(|tx| {
                let Some(mut order) = tx.order(id)?.filter(|o| o.account == account.id) else {
                    return Ok(None);
                };
                self.show_signing(&mut order);
                Ok(Some((order, tx.authzs_of_order(id)?)))
            })
            .map_err(store_problem)?;
        found.ok_or_else(Problem::not_found)
    }

    /// POST-as-GET /acme/order/ID.
    pub fn order(&self, post: &Post<'_>, id: &str, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        require_post_as_get(&auth)?;
        let (mut order, authzs) = self.owned_order(account, id)?;
        self.expire_order(&mut order, now)?;
        let mut reply = Reply::json(200, render::order(post.base, &order, &authzs));
        if order.status == OrderStatus::Processing {
            reply.retry_after = Some(1);
        }
        Ok(reply)
    }

    /// A pending or ready order past its expiry becomes invalid (§7.1.6), when next read.
    fn expire_order(&self, order: &mut Order, now: i64) -> Result<(), Problem> {
        if matches!(order.status, OrderStatus::Pending | OrderStatus::Ready) && order.expires <= now
        {
            let doc = Problem::malformed("the order expired")
                .to_json()
                .to_string();
            // An order this server is signing finishes first, as a recorded `processing` one
            // would (asked with the store held: see `claims`).
            let expired = self
                .store()
                .write(Commit::Lazy, |tx| {
                    if self.working_on(&order.id) {
                        return Ok(false);
                    }
                    tx.fail_order(&order.id, &doc).map(|_| true)
                })
                .map_err(store_problem)?;
            if expired {
                order.status = OrderStatus::Invalid;
                order.error = Some(doc);
            } else {
                order.status = OrderStatus::Processing;
            }
        }
        Ok(())
    }

    /// POST-as-GET /acme/acct/ID/orders[?cursor=N]: `{"orders": [...]}` with a `next` link.
    pub fn orders_list(&self, post: &Post<'_>, id: &str, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        require_post_as_get(&auth)?;
        if account.id != id {
            return Err(Problem::unauthorized(
                "an account can only list its own orders",
            ));
        }
        let cursor: u64 = match post.path.split_once('?') {
            None => 0,
            Some((_, q)) => q
                .strip_prefix("cursor=")
                .and_then(|c| c.parse().ok())
                .ok_or_else(|| Problem::malformed("the only query is ?cursor=N"))?,
        };
        let page = self.settings.orders_page;
        // §7.1.2.1: pending and valid orders (and the steps between); invalid ones are left out.
        let listed = [
            OrderStatus::Pending,
            OrderStatus::Ready,
            OrderStatus::Processing,
            OrderStatus::Valid,
        ];
        let orders = self
            .store()
            .read()
            .orders_of(id, &listed, cursor.saturating_mul(page), page + 1)
            .map_err(store_problem)?;
        let more = orders.len() as u64 > page;
        let urls: Vec<String> = orders
            .iter()
            .take(usize::try_from(page).unwrap_or(usize::MAX))
            .map(|o| format!("{}{}{}", post.base, paths::ORDER, o.id))
            .collect();
        let mut reply = Reply::json(200, serde_json::json!({ "orders": urls }));
        if more {
            reply = reply.link(
                format!(
                    "{}{}{id}/orders?cursor={}",
                    post.base,
                    paths::ACCOUNT,
                    cursor + 1
                ),
                "next",
            );
        }
        Ok(reply)
    }

    /// POST /acme/order/ID/finalize: checks the CSR against the order and claims the order
    /// for signing (ready → processing), or says why not.
    pub fn finalize(&self, post: &Post<'_>, id: &str, now: i64) -> Result<FinalizeStep, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        let payload = payload_object(&auth)?;
        // On the embedded store a ready order is claimed in the same turn at the store as the
        // read, so the read decides (a signing records its outcome with the store held and
        // lets go after), with the account-key check in it. The CSR is parsed first for that
        // check; its problems are reported after the order's.
        let csr = finalize_csr(&payload);
        let (mut order, is_account_key, early_claim) = self
            .store()
            .reading(|tx| {
                let Some(mut order) = tx.order(id)?.filter(|o| o.account == account.id) else {
                    return Ok(None);
                };
                let claim = if order.status == OrderStatus::Ready && order.expires > now {
                    self.claim(id)
                } else {
                    None
                };
                if claim.is_none() {
                    self.show_signing(&mut order);
                }
                let is_account_key = match (&claim, &csr) {
                    (Some(_), Ok(csr)) => tx.is_account_key(&csr.spki_der)?,
                    _ => false,
                };
                Ok(Some((order, is_account_key, claim)))
            })
            .map_err(store_problem)?
            .ok_or_else(Problem::not_found)?;
        self.expire_order(&mut order, now)?;
        match order.status {
            OrderStatus::Ready => {}
            OrderStatus::Pending => {
                return Err(Problem::new(
                    ProblemType::OrderNotReady,
                    "the order's authorizations are not all valid yet",
                ));
            }
            other => {
                return Err(Problem::new(
                    ProblemType::OrderNotReady,
                    format!("the order is {other}; only a ready order can be finalized"),
                ));
            }
        }
        let csr = csr?;
        check_csr_names(&csr, &order.identifiers)?;
        // The account-key check and the claim: read above under the claim taken in memory on
        // the embedded store; one transaction on a shared one (a refusal writes nothing).
        let (claimed, claim) = match &self.claims {
            Some(_) if is_account_key => (None, None),
            Some(_) => (Some(early_claim.is_some()), early_claim.map(Arc::new)),
            None => {
                let claimed = self
                    .store()
                    .write(Commit::Lazy, |tx| {
                        if tx.is_account_key(&csr.spki_der)? {
                            return Ok(None);
                        }
                        tx.claim_order(&order.id, &self.settings.node, now)
                            .map(Some)
                    })
                    .map_err(store_problem)?;
                (claimed, None)
            }
        };
        let Some(claimed) = claimed else {
            return Err(Problem::new(
                ProblemType::BadCsr,
                "the CSR's public key is an ACME account key; a certificate needs a key of its own (RFC 8555 §11.1)",
            ));
        };
        if !claimed {
            return Err(Problem::new(
                ProblemType::OrderNotReady,
                "the order is already being finalized",
            ));
        }
        let not_before = order.not_before.unwrap_or(now);
        let not_after = order
            .not_after
            .unwrap_or(not_before + i64::from(self.settings.default_days) * 86_400);
        order.status = OrderStatus::Processing;
        Ok(FinalizeStep::Issue(Box::new(IssueJob {
            order,
            csr,
            not_before,
            not_after,
            base: post.base.to_string(),
            claim,
        })))
    }

    /// Records the outcome of an [`IssueJob`]: the order becomes valid with its certificate,
    /// or returns to ready (the client may finalize again) with the problem. After an
    /// undecided one ([`Problem::undecided`]) a shared store's order stays processing for the
    /// sweeper to settle; the embedded store's is ready again when the job ends, and a new
    /// finalize gets whatever certificate the ledger holds for it (the ledger refuses a second).
    pub fn finish_issue(
        &self,
        job: &IssueJob,
        outcome: Result<Issued, Problem>,
    ) -> Result<Reply, Problem> {
        let issued = match outcome {
            Ok(i) => i,
            // The certificate may be in the ledger: a recorded claim stays until the sweeper
            // settles it from what the ledger holds (an in-memory one ends with the job).
            Err(p) if p.undecided => return Err(p),
            // An in-memory claim is let go; a recorded one is released in the store.
            Err(p) if let Some(claim) = &job.claim => {
                claim.release();
                return Err(p);
            }
            Err(p) => {
                self.store()
                    .write(Commit::Lazy, |tx| {
                        tx.release_claim(&job.order.id, Some(&self.settings.node), i64::MIN)
                    })
                    .map_err(store_problem)?;
                return Err(p);
            }
        };
        // Recorded and read back in one transaction.
        let cert = issued_cert(&job.order, &issued);
        let (order, authzs) = self
            .store()
            .write(Commit::Lazy, |tx| {
                tx.insert_cert(&cert)?;
                tx.order(&job.order.id)?
                    .map(|order| tx.authzs_of_order(&order.id).map(|a| (order, a)))
                    .transpose()
            })
            .map_err(store_problem)?
            .ok_or_else(|| Problem::internal("the order vanished"))?;
        if let Some(claim) = &job.claim {
            claim.release();
        }
        let url = format!("{}{}{}", job.base, paths::ORDER, order.id);
        Ok(Reply::json(200, render::order(&job.base, &order, &authzs)).at(url))
    }

    /// The order is valid with this certificate (also the crash repair's way to finish an
    /// order whose certificate reached the ledger). Committed lazily: the certificate is
    /// already durable in the ledger, and [`Acme::repair`] restores this from it.
    pub fn record_issued(&self, order: &Order, issued: &Issued) -> Result<(), Problem> {
        let cert = issued_cert(order, issued);
        self.store()
            .write(Commit::Lazy, |tx| tx.insert_cert(&cert))
            .map(|_| ())
            .map_err(store_problem)
    }

    /// Orders a crash left behind, at start: the caller says, from the ledger, whether each
    /// got its certificate. Those that did become valid; `processing` ones that did not are
    /// ready again. `processing` means claimed by this server (it signs nothing yet), or by
    /// any server longer ago than `settings.abandoned_after`. `ready` orders are asked about too:
    /// the store commits the end of an order lazily (the ledger is the durable record), so a
    /// power loss can roll an order back to before its finalize while its certificate is safe
    /// in the ledger.
    /// `issued_of` answers for all candidates at once (one visit to the ledger), by order ID
    /// ([`LedgerView`]); when it cannot, nothing changes (repair must not guess).
    pub fn repair(
        &self,
        now: i64,
        issued_of: impl FnOnce(&[Order]) -> Result<LedgerView, String>,
    ) -> Result<(usize, usize), Problem> {
        let stuck = {
            let store = self.store();
            let tx = store.read();
            let mut orders = tx
                .abandoned_orders(
                    Some(&self.settings.node),
                    now - self.settings.abandoned_after,
                )
                .map_err(store_problem)?;
            orders.extend(
                tx.orders_with_status(OrderStatus::Ready)
                    .map_err(store_problem)?,
            );
            orders
        };
        let claim = (
            Some(self.settings.node.as_str()),
            now - self.settings.abandoned_after,
        );
        self.settle(stuck, claim, issued_of)
    }

    /// The periodic form of [`Acme::repair`] for replicas on a shared store: finalizations
    /// another server claimed longer ago than `settings.abandoned_after` and never finished (it
    /// stopped). One replica at a time does it, under a lease; `None` when another holds it.
    pub fn sweep_abandoned(
        &self,
        now: i64,
        issued_of: impl FnOnce(&[Order]) -> Result<LedgerView, String>,
    ) -> Result<Option<(usize, usize)>, Problem> {
        let stuck = self
            .store()
            .write(Commit::Lazy, |tx| {
                if !tx.take_lease(
                    SWEEP_LEASE,
                    &self.settings.node,
                    now,
                    now + SWEEP_LEASE_SECS,
                )? {
                    return Ok(None);
                }
                tx.abandoned_orders(None, now - self.settings.abandoned_after)
                    .map(Some)
            })
            .map_err(store_problem)?;
        match stuck {
            None => Ok(None),
            Some(orders) => self
                .settle(
                    orders,
                    (None, now - self.settings.abandoned_after),
                    issued_of,
                )
                .map(Some),
        }
    }

    /// Completes or reopens `stuck` orders from what the ledger holds. `given_up` says which
    /// claims may be released (the node and time `release_claim` checks): a claim another server
    /// took since the orders were read is left to it.
    fn settle(
        &self,
        stuck: Vec<Order>,
        given_up: (Option<&str>, i64),
        issued_of: impl FnOnce(&[Order]) -> Result<LedgerView, String>,
    ) -> Result<(usize, usize), Problem> {
        if stuck.is_empty() {
            return Ok((0, 0));
        }
        let mut view = issued_of(&stuck).map_err(|e| {
            Problem::internal(format!(
                "the ledger cannot say which orders got a certificate: {e}"
            ))
        })?;
        let (mut finished, mut reopened) = (0, 0);
        for order in stuck {
            match view.issued.remove(&order.id) {
                Some(issued) => {
                    self.record_issued(&order, &issued)?;
                    finished += 1;
                }
                None if order.status == OrderStatus::Ready => {}
                // A server is signing it now (it claimed the order again since it was read).
                None if view.signing.contains(&order.id) => {}
                None => {
                    let moved = self
                        .store()
                        .write(Commit::Durable, |tx| {
                            tx.release_claim(&order.id, given_up.0, given_up.1)
                        })
                        .map_err(store_problem)?;
                    reopened += usize::from(moved);
                }
            }
        }
        Ok((finished, reopened))
    }

    /// POST-as-GET /acme/cert/ID: the chain as `application/pem-certificate-chain`.
    pub fn certificate(&self, post: &Post<'_>, id: &str, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        require_post_as_get(&auth)?;
        let cert = self
            .store()
            .read()
            .cert(id)
            .map_err(store_problem)?
            .filter(|c| c.account == account.id)
            .ok_or_else(Problem::not_found)?;
        Ok(Reply {
            status: 200,
            location: None,
            links: Vec::new(),
            retry_after: None,
            body: Body::PemChain(cert.chain_pem),
        })
    }
}

/// What the ledger says of the orders a repair or sweep looks at, by order ID.
#[derive(Debug, Default)]
pub struct LedgerView {
    /// Orders whose certificate is in the ledger, with their chain.
    pub issued: std::collections::HashMap<String, Issued>,
    /// Orders a server is signing right now (a fresh reservation in the ledger): left alone.
    pub signing: std::collections::HashSet<String>,
}

/// §7.4: the CSR names exactly the order's identifiers (SANs, and a CN if present must be
/// one of them).
pub fn check_csr_names(csr: &Csr, ordered: &[Identifier]) -> Result<(), Problem> {
    let mut named = Vec::new();
    for s in &csr.requested_sans {
        let id = match s.split_once(':') {
            Some(("dns", v)) => Identifier::Dns(v.to_ascii_lowercase()),
            Some(("ip", v)) => match v.parse() {
                Ok(ip) => Identifier::Ip(ip),
                Err(_) => {
                    return Err(Problem::new(
                        ProblemType::BadCsr,
                        format!("bad IP SAN '{v}'"),
                    ));
                }
            },
            _ => {
                return Err(Problem::new(
                    ProblemType::BadCsr,
                    format!("the CSR asks for a SAN of a kind this server does not certify: {s}"),
                ));
            }
        };
        named.push(id);
    }
    named.sort();
    named.dedup();
    let mut want = ordered.to_vec();
    want.sort();
    if let Some(cn) = &csr.common_name {
        let cn_id = match cn.parse() {
            Ok(ip) => Identifier::Ip(ip),
            Err(_) => Identifier::Dns(cn.to_ascii_lowercase()),
        };
        if !want.contains(&cn_id) {
            return Err(Problem::new(
                ProblemType::BadCsr,
                format!("the CSR's common name '{cn}' is not one of the order's identifiers"),
            ));
        }
        if named.is_empty() {
            named.push(cn_id);
        }
    }
    if named != want {
        let extra: Vec<String> = named
            .iter()
            .filter(|n| !want.contains(n))
            .map(|n| n.value())
            .collect();
        let missing: Vec<String> = want
            .iter()
            .filter(|n| !named.contains(n))
            .map(|n| n.value())
            .collect();
        return Err(Problem::new(
            ProblemType::BadCsr,
            format!(
                "the CSR must name exactly the order's identifiers (extra: [{}], missing: [{}])",
                extra.join(", "),
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The CSR of a finalize request's payload (§7.4), parsed.
fn finalize_csr(payload: &serde_json::Map<String, Value>) -> Result<Csr, Problem> {
    let csr_b64 = payload
        .get("csr")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::malformed("the payload has no 'csr' string"))?;
    let der = Base64UrlUnpadded::decode_vec(csr_b64)
        .map_err(|_| Problem::new(ProblemType::BadCsr, "'csr' is not unpadded base64url"))?;
    if der.first() != Some(&0x30) {
        return Err(Problem::new(ProblemType::BadCsr, "'csr' is not a DER CSR"));
    }
    uca_pki::csr::parse_csr(&der).map_err(|e| Problem::new(ProblemType::BadCsr, e.to_string()))
}

/// The store's record of an order's certificate (its ID is the order's).
fn issued_cert(order: &Order, issued: &Issued) -> IssuedCert {
    IssuedCert {
        id: order.id.clone(),
        serial: issued.serial.clone(),
        order: order.id.clone(),
        account: order.account.clone(),
        chain_pem: issued.chain_pem.clone(),
        not_after: Some(issued.not_after),
    }
}
