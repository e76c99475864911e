//! revokeCert (§7.6): by the account that obtained the certificate, by the certificate's own
//! key, or by an account holding valid authorizations for all of its names.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::Value;
use uca_pki::crl::RevocationReason;
use uca_pki::inspect::CertInfo;

use super::{Acme, KeyForm, Post, Signer, payload_object, store_problem};
use crate::identifier::Identifier;
use crate::problem::{Problem, ProblemType};

/// An authorized revocation for the caller to carry out in the ledger (and then the CRL).
#[derive(Debug, Clone)]
pub struct RevokeJob {
    pub cert: CertInfo,
    pub reason: RevocationReason,
}

/// The RFC 5280 reason codes a client may give (§7.6): not caCompromise (2), certificateHold
/// (6), the unused 7, removeFromCRL (8), or the attribute-authority ones (9, 10).
pub fn acme_reason(code: i64) -> Option<RevocationReason> {
    Some(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        _ => return None,
    })
}

impl Acme {
    /// POST /acme/revoke-cert: decides whether the signer may revoke; the caller checks the
    /// ledger (known, not yet revoked) and revokes.
    pub fn revoke(&self, post: &Post<'_>, now: i64) -> Result<RevokeJob, Problem> {
        let auth = self.authenticate(post, KeyForm::Either, now)?;
        let payload = payload_object(&auth)?;
        let b64 = payload
            .get("certificate")
            .and_then(Value::as_str)
            .ok_or_else(|| Problem::malformed("the payload has no 'certificate' string"))?;
        let der = Base64UrlUnpadded::decode_vec(b64)
            .map_err(|_| Problem::malformed("'certificate' is not unpadded base64url DER"))?;
        let cert = uca_pki::inspect::parse_certificate(&der)
            .map_err(|e| Problem::malformed(format!("'certificate' does not parse: {e}")))?;
        let reason = match payload.get("reason") {
            None => RevocationReason::Unspecified,
            Some(v) => v.as_i64().and_then(acme_reason).ok_or_else(|| {
                Problem::new(
                    ProblemType::BadRevocationReason,
                    format!("reason {v} is not accepted; use 0, 1, 3, 4 or 5 (RFC 5280 §5.3.1)"),
                )
            })?,
        };
        let allowed = match &auth.signer {
            Signer::Key(jwk) => jwk.spki_der() == cert.spki_der,
            Signer::Account(account) => {
                let store = self.store();
                let tx = store.read();
                let owner = tx
                    .cert_by_serial(&cert.serial)
                    .map_err(store_problem)?
                    .is_some_and(|c| c.account == account.id);
                owner || {
                    let names = cert_identifiers(&cert);
                    !names.is_empty()
                        && names.iter().try_fold(true, |all, id| {
                            Ok::<bool, Problem>(
                                all && tx
                                    .holds_valid_authz(&account.id, id, now)
                                    .map_err(store_problem)?,
                            )
                        })?
                }
            }
        };
        if !allowed {
            return Err(Problem::unauthorized(
                "only the account that obtained the certificate, an account with valid authorizations for all its names, or the certificate's own key may revoke it",
            ));
        }
        Ok(RevokeJob { cert, reason })
    }
}

/// The DNS and IP names a certificate certifies.
fn cert_identifiers(cert: &CertInfo) -> Vec<Identifier> {
    cert.sans
        .iter()
        .filter_map(|s| {
            if let Some(n) = s.strip_prefix("DNS:") {
                Some(Identifier::Dns(n.to_ascii_lowercase()))
            } else {
                s.strip_prefix("IP:")
                    .and_then(|ip| ip.parse().ok())
                    .map(Identifier::Ip)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_a_client_may_give() {
        assert_eq!(acme_reason(1), Some(RevocationReason::KeyCompromise));
        for code in [2, 6, 7, 8, 9, 10, -1, 11] {
            assert_eq!(acme_reason(code), None, "{code}");
        }
    }
}
