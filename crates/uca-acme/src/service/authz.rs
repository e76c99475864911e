//! Authorizations (§7.5, deactivation §7.5.2) and challenges (§7.5.1, §8).

use std::sync::Arc;

use serde_json::Value;

use super::{
    Acme, Claim, KeyForm, Limit, Post, Reply, paths, payload_object, render, require_account,
    store_problem,
};
use crate::identifier::Identifier;
use crate::model::{
    Account, Authz, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, OrderStatus,
};
use crate::problem::Problem;
use crate::store::{Commit, Tx};

/// A challenge the client asked to be checked: what the validator must find, and where.
#[derive(Debug, Clone)]
pub struct ValidationJob {
    pub challenge: Challenge,
    pub authz: Authz,
    /// `token.thumbprint` (§8.1), recomputed from the account key now.
    pub key_authorization: String,
    pub base: String,
    /// This server's hold on the challenge while it validates, on the embedded store
    /// ([`Claim`]); a shared store records `processing` instead.
    pub claim: Option<Arc<Claim>>,
}

impl ValidationJob {
    pub fn identifier(&self) -> &Identifier {
        &self.authz.identifier
    }

    pub fn kind(&self) -> ChallengeType {
        self.challenge.kind
    }
}

/// A challenge POST either answers at once or needs the validator.
#[derive(Debug)]
pub enum ChallengeStep {
    Reply(Reply),
    Validate(Box<ValidationJob>),
}

impl Acme {
    /// POST /acme/authz/ID: read it (POST-as-GET), or deactivate it (§7.5.2).
    pub fn authz(&self, post: &Post<'_>, id: &str, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        // Its challenges are read with it: neither expiry nor deactivation changes them.
        let (mut authz, mut challenges) = self
            .store()
            .reading(|tx| {
                let Some(authz) = owned_authz_in(tx, account, id)? else {
                    return Ok(None);
                };
                let challenges = tx.challenges_of(&authz.id)?;
                Ok(Some((authz, challenges)))
            })
            .map_err(store_problem)?
            .ok_or_else(Problem::not_found)?;
        for challenge in &mut challenges {
            self.show_validation(challenge);
        }
        let reply = |authz: &Authz| {
            Ok(Reply::json(
                200,
                render::authz(post.base, authz, &challenges),
            ))
        };
        if authz.status == AuthzStatus::Pending && authz.expires <= now {
            self.store()
                .write(Commit::Lazy, |tx| {
                    tx.set_authz_status(&authz.id, AuthzStatus::Expired)
                })
                .map_err(store_problem)?;
            authz.status = AuthzStatus::Expired;
        }
        if auth.jws.is_post_as_get() {
            return reply(&authz);
        }
        let payload = payload_object(&auth)?;
        match payload.get("status") {
            Some(Value::String(s)) if s == "deactivated" => {}
            _ => {
                return Err(Problem::malformed(
                    "an authorization can only be updated with {\"status\": \"deactivated\"}",
                ));
            }
        }
        if !matches!(authz.status, AuthzStatus::Pending | AuthzStatus::Valid) {
            return Err(Problem::malformed(format!(
                "a {} authorization cannot be deactivated",
                authz.status
            )));
        }
        let order_id = authz.order.clone();
        self.store()
            .write(Commit::Lazy, |tx| {
                tx.set_authz_status(&authz.id, AuthzStatus::Deactivated)?;
                // The order can no longer be completed (§7.1.6: an order whose authorization
                // is deactivated becomes invalid).
                if let Some(order) = tx.order(&order_id)?
                    && matches!(order.status, OrderStatus::Pending | OrderStatus::Ready)
                    && !self.working_on(&order_id)
                {
                    let doc =
                        Problem::unauthorized("an authorization of the order was deactivated")
                            .to_json()
                            .to_string();
                    tx.fail_order(&order_id, &doc)?;
                }
                Ok(())
            })
            .map_err(store_problem)?;
        authz.status = AuthzStatus::Deactivated;
        reply(&authz)
    }

    /// POST /acme/chall/ID: POST-as-GET reads it; `{}` asks for validation (§7.5.1), which
    /// the caller runs and reports back with [`Acme::finish_validation`].
    pub fn challenge(&self, post: &Post<'_>, id: &str, now: i64) -> Result<ChallengeStep, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?.clone();
        let answering = !auth.jws.is_post_as_get();
        // On the embedded store an answer to a pending challenge claims it in the same turn at
        // the store as the read, so the read decides: a validation writes its outcome with the
        // store held and lets go after. One being validated shows as processing.
        let (mut challenge, authz, early_claim) = self
            .store()
            .reading(|tx| {
                let Some(mut challenge) = tx.challenge(id)? else {
                    return Ok(None);
                };
                let Some(authz) = owned_authz_in(tx, &account, &challenge.authz)? else {
                    return Ok(None);
                };
                let claim = if answering && challenge.status == ChallengeStatus::Pending {
                    self.claim(id)
                } else {
                    None
                };
                if claim.is_none() {
                    self.show_validation(&mut challenge);
                }
                Ok(Some((challenge, authz, claim)))
            })
            .map_err(store_problem)?
            .ok_or_else(Problem::not_found)?;
        let up = format!("{}{}{}", post.base, paths::AUTHZ, authz.id);
        let reply = |c: &Challenge| {
            Reply::json(200, render::challenge(post.base, c)).link(up.clone(), "up")
        };
        if auth.jws.is_post_as_get() {
            return Ok(ChallengeStep::Reply(reply(&challenge)));
        }
        let payload = payload_object(&auth)?;
        if !payload.is_empty() {
            return Err(Problem::malformed(
                "a challenge is answered with an empty JSON object {}",
            ));
        }
        // §7.5.1: a request on a challenge that is not pending changes nothing.
        if challenge.status != ChallengeStatus::Pending || authz.status != AuthzStatus::Pending {
            let mut r = reply(&challenge);
            if challenge.status == ChallengeStatus::Processing {
                r.retry_after = Some(1);
            }
            return Ok(ChallengeStep::Reply(r));
        }
        if authz.expires <= now {
            return Err(Problem::malformed("the authorization has expired"));
        }
        // A target that keeps failing is not tried again until its failures age out.
        self.check_limit(Limit::Failures, &authz.identifier.to_stored(), now)
            .map_err(|secs| {
                super::rate_limited(
                    &format!("failed validations of {}", authz.identifier),
                    self.settings.limits.failed_validations_per_identifier,
                    secs,
                )
            })?;
        // The claim: taken with the read on the embedded store, in the store's row on a shared
        // one.
        let (claimed, claim) = match &self.claims {
            Some(_) => (early_claim.is_some(), early_claim.map(Arc::new)),
            None => {
                let claimed = self
                    .store()
                    .write(Commit::Lazy, |tx| {
                        tx.move_challenge(
                            &challenge.id,
                            ChallengeStatus::Pending,
                            ChallengeStatus::Processing,
                        )
                    })
                    .map_err(store_problem)?;
                (claimed, None)
            }
        };
        if !claimed {
            let mut current = self
                .store()
                .read()
                .challenge(id)
                .map_err(store_problem)?
                .ok_or_else(Problem::not_found)?;
            self.show_validation(&mut current);
            let mut r = reply(&current);
            if current.status == ChallengeStatus::Processing {
                r.retry_after = Some(1);
            }
            return Ok(ChallengeStep::Reply(r));
        }
        let key_authorization = format!("{}.{}", challenge.token, account.thumbprint);
        challenge.status = ChallengeStatus::Processing;
        Ok(ChallengeStep::Validate(Box::new(ValidationJob {
            challenge,
            authz,
            key_authorization,
            base: post.base.to_string(),
            claim,
        })))
    }

    /// Records a validation's outcome: the challenge and its authorization become valid (and
    /// the order ready once all are), or invalid with the problem (and the order with them).
    pub fn finish_validation(
        &self,
        job: &ValidationJob,
        outcome: Result<(), Problem>,
        now: i64,
    ) -> Result<Reply, Problem> {
        let ch = &job.challenge;
        let authz = &job.authz;
        // The outcome, and the challenge as it now is, in one transaction.
        let current = self
            .store()
            .write(Commit::Lazy, |tx| {
                // Deactivated, invalid and valid are final (§7.1.6): a validation finishing after
                // the authorization moved on records its own outcome and nothing more.
                let still_pending = tx
                    .authz(&authz.id)?
                    .is_some_and(|a| a.status == AuthzStatus::Pending);
                match &outcome {
                    Ok(()) => {
                        tx.finish_challenge(&ch.id, ChallengeStatus::Valid, Some(now), None)?;
                        if still_pending {
                            tx.set_authz_status(&authz.id, AuthzStatus::Valid)?;
                            let all_valid = tx
                                .authzs_of_order(&authz.order)?
                                .iter()
                                .all(|a| a.status == AuthzStatus::Valid);
                            if all_valid {
                                tx.move_order(
                                    &authz.order,
                                    OrderStatus::Pending,
                                    OrderStatus::Ready,
                                )?;
                            }
                        }
                    }
                    Err(p) => {
                        let _ = self.take_limit_in(
                            tx,
                            Limit::Failures,
                            &authz.identifier.to_stored(),
                            now,
                        );
                        let doc = p.to_json().to_string();
                        tx.finish_challenge(&ch.id, ChallengeStatus::Invalid, None, Some(&doc))?;
                        if still_pending {
                            tx.set_authz_status(&authz.id, AuthzStatus::Invalid)?;
                            if tx
                                .order(&authz.order)?
                                .is_some_and(|o| o.status == OrderStatus::Pending)
                            {
                                tx.fail_order(&authz.order, &doc)?;
                            }
                        }
                    }
                }
                tx.challenge(&ch.id)
            })
            .map_err(store_problem)?
            .ok_or_else(Problem::not_found)?;
        if let Some(claim) = &job.claim {
            claim.release();
        }
        let up = format!("{}{}{}", job.base, paths::AUTHZ, authz.id);
        Ok(Reply::json(200, render::challenge(&job.base, &current)).link(up, "up"))
    }
}

/// An authorization of `account`, read through a store the caller holds (`None` when there is
/// none, or it is another account's: not found either way).
fn owned_authz_in(
    tx: &Tx<'_>,
    account: &Account,
    id: &str,
) -> Result<Option<Authz>, crate::store::StoreError> {
    Ok(tx.authz(id)?.filter(|a| a.account == account.id))
}
