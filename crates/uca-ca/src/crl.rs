//! `uca crl`: a CRL of everything revoked, numbered from the ledger.

use std::path::Path;

use time::{Duration, OffsetDateTime};
use uca_pki::crl::{RevocationReason, RevokedEntry, SignedCrl};
use uca_pki::sign::CaSigner;

use crate::fsio::{self, PUBLIC_MODE};
use crate::{Ca, CaError};

/// Default CRL lifetime: a week, re-published by cron well before.
pub const DEFAULT_CRL_DAYS: u32 = 7;

impl Ca {
    /// Signs a CRL valid for `days` and writes it to `out` (PEM, or DER with `der`). The CRL
    /// number is consumed from the ledger first, so numbers only ever grow.
    pub fn publish_crl(
        &mut self,
        signer: &CaSigner,
        days: u32,
        out: &Path,
        der: bool,
        now: OffsetDateTime,
    ) -> Result<SignedCrl, CaError> {
        if days == 0 {
            return Err(CaError::ZeroCrlDays);
        }
        let now = now.replace_nanosecond(0).unwrap_or(now);
        // Past the CA's own notAfter the date is cut back anyway; a huge --days just means that.
        let until = now
            .checked_add(Duration::days(i64::from(days)))
            .unwrap_or(signer.window().1);
        self.publish_crl_until(signer, until, out, der, now)
    }

    /// Signs a CRL whose nextUpdate is `next_update`, cut back to the CA's own notAfter (a CRL
    /// cannot speak for a CA beyond its life).
    pub fn publish_crl_until(
        &mut self,
        signer: &CaSigner,
        next_update: OffsetDateTime,
        out: &Path,
        der: bool,
        now: OffsetDateTime,
    ) -> Result<SignedCrl, CaError> {
        let this_update = now.replace_nanosecond(0).unwrap_or(now);
        let next_update = next_update.min(signer.window().1);
        if next_update <= this_update {
            return Err(CaError::CrlAfterCaExpiry);
        }
        let entries = self.revoked_entries()?;
        let number = self.ledger.next_crl_number()?;
        let crl = signer.sign_crl(&entries, number, this_update, next_update)?;
        let bytes = if der {
            crl.der.as_slice()
        } else {
            crl.pem.as_bytes()
        };
        fsio::write_atomic(out, bytes, PUBLIC_MODE)?;
        Ok(crl)
    }

    fn revoked_entries(&self) -> Result<Vec<RevokedEntry>, CaError> {
        self.ledger
            .revoked()?
            .into_iter()
            .map(|(serial, revoked_at, reason)| {
                Ok(RevokedEntry {
                    serial,
                    revoked_at,
                    reason: reason.parse::<RevocationReason>()?,
                })
            })
            .collect()
    }
}
