//! `uca revoke`: take a certificate back. Ledger only: a sealed CA can still revoke (its last
//! CRL will not show it, and `uca revoke` says so).

use time::OffsetDateTime;
use uca_pki::crl::RevocationReason;

use crate::ledger::{CertRecord, LedgerError, Source, Status};
use crate::{Ca, CaError};

/// What `revoke` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Revoked {
    pub record: CertRecord,
    /// It was revoked before this call: nothing changed.
    pub already: bool,
}

impl Ca {
    /// Revokes NAME's current certificate, or the certificate with that serial.
    pub fn revoke(
        &mut self,
        target: &str,
        reason: RevocationReason,
        now: OffsetDateTime,
    ) -> Result<Revoked, CaError> {
        let records = self.find(target)?;
        // A NAME means its current certificate; a serial means exactly that one.
        let rec = records
            .iter()
            .find(|r| r.status == Status::Issued)
            .or_else(|| records.iter().find(|r| r.status == Status::Revoked))
            .or_else(|| records.iter().find(|r| r.status == Status::Superseded))
            .or(records.first())
            .cloned()
            .ok_or_else(|| CaError::NotInLedger(target.to_string()))?;
        let refuse = |reason: &str| CaError::NotRevocable {
            name: target.to_string(),
            reason: reason.to_string(),
        };
        match (rec.status, rec.source) {
            (Status::Revoked, _) => {
                return Ok(Revoked {
                    record: rec,
                    already: true,
                });
            }
            (_, Source::Root) => {
                return Err(refuse(
                    "it is the CA's own certificate; retire the CA instead",
                ));
            }
            (Status::Void, _) => {
                return Err(refuse(
                    "it was never delivered (void), so nobody can use it",
                ));
            }
            (Status::Pending, _) => {
                return Err(refuse(
                    "it is still pending: being signed (an ACME finalization), or left by an interrupted command, which the next uca command settles",
                ));
            }
            _ => {}
        }
        self.ledger.revoke(&rec.serial, reason.as_str(), now)?;
        let record = self
            .ledger
            .by_serial(&rec.serial)?
            .ok_or_else(|| LedgerError::Vanished {
                serial: rec.serial.clone(),
            })?;
        Ok(Revoked {
            record,
            already: false,
        })
    }
}
