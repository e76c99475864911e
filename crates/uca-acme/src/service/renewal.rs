//! ACME Renewal Information (RFC 9773): when a certificate should be renewed, and newOrder's
//! `replaces`, which links a renewal to the certificate it replaces.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::json;
use uca_pki::Serial;

use super::{Acme, Reply, render, store_problem};
use crate::model::{Account, OrderStatus};
use crate::problem::{Problem, ProblemType};

/// How long clients should wait before asking again (RFC 9773 §4.3: Retry-After).
pub const RENEWAL_INFO_RETRY_SECS: u64 = 6 * 3600;

/// A certificate named the ARI way: the issuer's key identifier and the serial (§4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertId {
    pub key_id: Vec<u8>,
    pub serial: Serial,
}

impl CertId {
    /// `base64url(AKI keyIdentifier) "." base64url(serial INTEGER content)`.
    pub fn parse(s: &str) -> Result<CertId, Problem> {
        let bad =
            |why: &str| Problem::malformed(format!("'{s}' is not an ARI certificate ID: {why}"));
        let (aki, serial) = s
            .split_once('.')
            .ok_or_else(|| bad("it has no '.' between key identifier and serial"))?;
        let key_id = Base64UrlUnpadded::decode_vec(aki)
            .map_err(|_| bad("the key identifier is not unpadded base64url"))?;
        let serial_bytes = Base64UrlUnpadded::decode_vec(serial)
            .map_err(|_| bad("the serial is not unpadded base64url"))?;
        if key_id.is_empty() || serial_bytes.is_empty() || serial_bytes.len() > 21 {
            return Err(bad("empty key identifier, or a serial of the wrong size"));
        }
        Ok(CertId {
            key_id,
            serial: Serial::from_der_content(&serial_bytes),
        })
    }
}

/// What the ledger says of a certificate, for its renewal window.
#[derive(Debug, Clone, Copy)]
pub struct RenewalFacts {
    pub not_before: i64,
    pub not_after: i64,
    pub revoked: bool,
}

/// The suggested window (§4.2): the last third of the lifetime (ending a ninth of it before
/// notAfter, so an on-time renewal never races expiry), or at once for a revoked certificate.
pub fn renewal_info(facts: RenewalFacts, now: i64) -> Reply {
    let (start, end) = if facts.revoked {
        (now - 3600, now)
    } else {
        let life = (facts.not_after - facts.not_before).max(0);
        (facts.not_before + life * 2 / 3, facts.not_after - life / 9)
    };
    let mut reply = Reply::json(
        200,
        json!({
            "suggestedWindow": {
                "start": render::timestamp(start),
                "end": render::timestamp(end),
            }
        }),
    );
    reply.retry_after = Some(if facts.revoked {
        3600
    } else {
        RENEWAL_INFO_RETRY_SECS
    });
    reply
}

impl Acme {
    /// newOrder's `replaces` (§5): a certificate of this CA that this account obtained and that
    /// no other order is replacing or has replaced. Returns the ID as sent, for the order.
    pub(super) fn check_replaces(
        &self,
        account: &Account,
        value: &serde_json::Value,
    ) -> Result<String, Problem> {
        let text = value
            .as_str()
            .ok_or_else(|| Problem::malformed("'replaces' must be an ARI certificate ID string"))?;
        let id = CertId::parse(text)?;
        if let Some(ours) = &self.settings.ca_key_id
            && *ours != id.key_id
        {
            return Err(Problem::malformed(
                "'replaces' names a certificate of another issuer",
            ));
        }
        let serial = id.serial.hex();
        let store = self.store();
        let tx = store.read();
        tx.cert_by_serial(&serial)
            .map_err(store_problem)?
            .filter(|c| c.account == account.id)
            .ok_or_else(|| {
                Problem::malformed("'replaces' names no certificate this account obtained")
                    .with_status(404)
            })?;
        let taken = tx
            .replacing_orders_of(&account.id)
            .map_err(store_problem)?
            .into_iter()
            .filter(|o| o.status != OrderStatus::Invalid)
            .filter_map(|o| o.replaces.and_then(|r| CertId::parse(&r).ok()))
            .any(|other| other.serial == id.serial);
        if taken {
            return Err(Problem::new(
                ProblemType::AlreadyReplaced,
                format!("certificate {serial} is already being replaced by another order"),
            )
            .with_status(409));
        }
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_ids_are_key_id_dot_serial() {
        // RFC 9773 §4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21.
        let id = CertId::parse("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(id.key_id.len(), 20);
        assert_eq!(id.key_id[0], 0x69);
        assert_eq!(id.serial.hex(), "87654321");
        for bad in [
            "",
            "abc",
            ".AIdlQyE",
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.",
            "a+b.c",
            "aYhb=.AIdl",
        ] {
            assert!(CertId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_window_is_the_last_third_or_now_when_revoked() {
        let day = 86_400;
        let facts = RenewalFacts {
            not_before: 0,
            not_after: 90 * day,
            revoked: false,
        };
        let r = renewal_info(facts, 10 * day);
        let v = match &r.body {
            super::super::Body::Json(v) => v.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(v["suggestedWindow"]["start"], render::timestamp(60 * day));
        assert_eq!(v["suggestedWindow"]["end"], render::timestamp(80 * day));
        assert_eq!(r.retry_after, Some(RENEWAL_INFO_RETRY_SECS));
        let revoked = renewal_info(
            RenewalFacts {
                revoked: true,
                ..facts
            },
            10 * day,
        );
        let v = match &revoked.body {
            super::super::Body::Json(v) => v.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(v["suggestedWindow"]["end"], render::timestamp(10 * day));
    }
}
