//! The watcher knows its own CA: a certificate this CA issued that is still served after being
//! revoked (Red) or renewed/superseded (Yellow: reload the service), and the CA's CRL nextUpdate
//! watched like an expiry. The CA directory is opened briefly for each look, never held, so
//! `uca issue` and friends are not blocked by a running watcher.

use std::path::PathBuf;

use time::OffsetDateTime;
use uca_ca::{Ca, CaPaths, Status as LedgerStatus};
use uca_pki::Serial;
use uca_pki::validity::display_time;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::HealthError;
use crate::endpoint::CaFinding;
use crate::probe::SeenCert;
use uca_pki::Color;
use uca_pki::Span;

/// The CA's CRL turns an endpoint Yellow in its last day before nextUpdate.
pub const CRL_WARN_SECONDS: i64 = 86_400;

/// A uca CA directory to cross-check served certificates against.
#[derive(Debug, Clone)]
pub struct CaWatch {
    pub dir: PathBuf,
    /// How to reach its ledger when it is not the directory's own file.
    pub ledger: uca_ca::LedgerAccess,
}

/// What to check for one endpoint: its leaf, and its expiry thresholds for the CRL.
pub struct Question<'a> {
    pub leaf: &'a SeenCert,
    pub warn: Span,
    pub crit: Span,
}

impl CaWatch {
    /// A watch on `dir` when it is a CA directory.
    pub fn at(dir: &std::path::Path, ledger: &uca_ca::LedgerAccess) -> Option<CaWatch> {
        CaPaths::is_ca(dir).then(|| CaWatch {
            dir: dir.to_path_buf(),
            ledger: ledger.clone(),
        })
    }

    /// Findings for each question, in order (empty for leaves this CA did not issue); `None`
    /// when the CA is busy with another uca process (never waited for).
    pub fn findings(
        &self,
        questions: &[Question<'_>],
        now: OffsetDateTime,
    ) -> Result<Option<Vec<Vec<CaFinding>>>, HealthError> {
        let Some((ca, _)) =
            Ca::open_if_free(&self.dir, &self.ledger).map_err(|source| HealthError::Ca {
                dir: self.dir.clone(),
                source,
            })?
        else {
            // Another uca process is working on the CA: keep what is known, look again later.
            return Ok(None);
        };
        let info = ca.cert_info();
        let spki = info.spki_der.clone();
        let ca_subject = info.subject.clone();
        let crl = std::fs::read(CaPaths::new(&self.dir).crl())
            .ok()
            .and_then(|d| uca_pki::crl::parse_crl(&d, &spki).ok());
        let mut out = Vec::with_capacity(questions.len());
        for q in questions {
            let mut found = Vec::new();
            let Ok((_, leaf)) = X509Certificate::from_der(&q.leaf.der) else {
                out.push(found);
                continue;
            };
            let ours = leaf.issuer().to_string() == ca_subject
                && x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki)
                    .ok()
                    .is_some_and(|(_, k)| leaf.verify_signature(Some(&k)).is_ok());
            if !ours {
                out.push(found);
                continue;
            }
            let serial = Serial::from_der_content(leaf.raw_serial());
            match ca.ledger().by_serial(&serial) {
                Ok(Some(rec)) => match rec.status {
                    LedgerStatus::Revoked => found.push(CaFinding {
                        color: Color::Red,
                        reason: format!(
                            "serving serial {}, revoked{}{}: replace the certificate",
                            serial.hex(),
                            rec.revoked_at
                                .map(|t| format!(" on {}", display_time(t)))
                                .unwrap_or_default(),
                            rec.revocation_reason
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        ),
                    }),
                    LedgerStatus::Superseded => found.push(CaFinding {
                        color: Color::Yellow,
                        reason: format!(
                            "serving serial {}, superseded by {} on {}: reload the service",
                            serial.hex(),
                            rec.superseded_by
                                .as_deref()
                                .unwrap_or("a newer certificate"),
                            display_time(rec.updated_at)
                        ),
                    }),
                    LedgerStatus::Void => found.push(CaFinding {
                        color: Color::Yellow,
                        reason: format!(
                            "serving serial {}, which the ledger marks void (never delivered)",
                            serial.hex()
                        ),
                    }),
                    _ => {}
                },
                Ok(None) => found.push(CaFinding {
                    color: Color::Yellow,
                    reason: format!(
                        "serving serial {}, signed by this CA but not in its ledger",
                        serial.hex()
                    ),
                }),
                Err(e) => {
                    return Err(HealthError::Ledger(e));
                }
            }
            // A CRL is re-published long before it runs out (uca crl: 7 days by default), so it
            // is judged on its own scale, not the certificates': Yellow in its last day, Red
            // once past nextUpdate (relying parties then reject everything it covers).
            if let Some(next) = crl.as_ref().and_then(|c| c.next_update) {
                let left = (next - now).whole_seconds();
                if left <= 0 {
                    found.push(CaFinding {
                        color: Color::Red,
                        reason: format!(
                            "the CA's CRL is past its nextUpdate ({}): run uca crl",
                            display_time(next)
                        ),
                    });
                } else if left <= CRL_WARN_SECONDS {
                    found.push(CaFinding {
                        color: Color::Yellow,
                        reason: format!(
                            "the CA's CRL runs out at {}: run uca crl",
                            display_time(next)
                        ),
                    });
                }
            }
            out.push(found);
        }
        Ok(Some(out))
    }
}
