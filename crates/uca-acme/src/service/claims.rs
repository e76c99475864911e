//! Work under way on this server: the challenges being validated and the orders being signed.
//!
//! On the embedded store no other server can pick these up, so they are not written to it: a
//! claim is a name in memory, and a crash ends the work with the process. The store then still
//! holds the step before (a pending challenge, a ready order) and the client may simply ask
//! again, where a recorded `processing` would wait for a repair. Two fewer write transactions
//! per order. A shared store records its claims (another replica must see them).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::Acme;
use crate::model::{Challenge, ChallengeStatus, Order, OrderStatus};

/// The IDs of the challenges and orders this server is working on (IDs never repeat across
/// kinds).
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// Each held ID with the ticket of the claim that holds it.
    held: Mutex<HashMap<String, u64>>,
    tickets: AtomicU64,
}

impl Claims {
    /// Claims `id`; `None` while someone else holds it.
    pub(crate) fn take(self: &Arc<Self>, id: &str) -> Option<Claim> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.contains_key(id) {
            return None;
        }
        let ticket = self.tickets.fetch_add(1, Ordering::Relaxed);
        held.insert(id.to_string(), ticket);
        Some(Claim {
            claims: self.clone(),
            id: id.to_string(),
            ticket,
        })
    }

    /// Every ID held now.
    pub(crate) fn held(&self) -> Vec<String> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Whether `id` is being worked on now.
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }
}

/// A claim: let go once its work is recorded or failed ([`Claim::release`]), and in any
/// case when dropped (a task that ended early).
#[derive(Debug)]
pub struct Claim {
    claims: Arc<Claims>,
    id: String,
    ticket: u64,
}

impl Claim {
    /// Lets the ID go, if this claim still holds it (a later claim of it is left alone).
    pub fn release(&self) {
        let mut held = self.claims.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(&self.id) == Some(&self.ticket) {
            held.remove(&self.id);
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.release();
    }
}

/// Asked with the store held: a holder writes its outcome with the store held and lets go
/// after, so what a reader finds here agrees with what it read in the same turn.
impl Acme {
    /// Whether this server is validating or signing `id` now, on the embedded store.
    pub(crate) fn working_on(&self, id: &str) -> bool {
        self.claims.as_ref().is_some_and(|c| c.holds(id))
    }

    /// The IDs this server is working on (none on a shared store).
    pub(crate) fn busy(&self) -> Vec<String> {
        self.claims.as_ref().map(|c| c.held()).unwrap_or_default()
    }

    /// Claims `id` when the store is the embedded one (else `None`; a shared store claims in
    /// its rows).
    pub(crate) fn claim(&self, id: &str) -> Option<Claim> {
        self.claims.as_ref().and_then(|c| c.take(id))
    }

    /// A challenge this server is validating is `processing`, though the embedded store still
    /// says pending.
    pub(crate) fn show_validation(&self, challenge: &mut Challenge) {
        if challenge.status == ChallengeStatus::Pending && self.working_on(&challenge.id) {
            challenge.status = ChallengeStatus::Processing;
        }
    }

    /// An order this server is signing is `processing`, though the embedded store still says
    /// ready.
    pub(crate) fn show_signing(&self, order: &mut Order) {
        if order.status == OrderStatus::Ready && self.working_on(&order.id) {
            order.status = OrderStatus::Processing;
        }
    }
}

#[cfg(test)]
impl Acme {
    /// Claims recorded in the store as on a shared one, to test that path on SQLite.
    pub(crate) fn recording_claims(mut self) -> Acme {
        self.claims = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_held_once_until_it_is_dropped() {
        let claims = Arc::new(Claims::default());
        let first = claims.take("o1").expect("free");
        assert!(claims.holds("o1"));
        assert!(claims.take("o1").is_none(), "held twice");
        let other = claims.take("c1").expect("another ID is free");
        drop(first);
        assert!(!claims.holds("o1"));
        assert!(claims.holds("c1"));
        let again = claims.take("o1").expect("released");
        drop(other);
        assert!(!claims.holds("c1"));
        // Released early, then claimed by another: the first one's drop leaves that alone.
        again.release();
        let later = claims.take("o1").expect("released early");
        drop(again);
        assert!(claims.holds("o1"));
        drop(later);
        assert!(!claims.holds("o1"));
    }
}
