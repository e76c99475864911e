//! `uca crl`: a CRL of everything revoked, numbered from the ledger.

use std::path::Path;

use time::{Duration, OffsetDateTime};
use uca_pki::crl::{RevocationReason, RevokedEntry, SignedCrl};
use uca_pki::sign::CaSigner;

use crate::fsio::{self, PUBLIC_MODE};
use crate::{Ca, CaError, StoredCrl};

/// The lease of the issuer that builds the shared CRL, and how long one build may hold it.
const CRL_LEASE: &str = "crl";
const CRL_LEASE_SECS: f64 = 30.0;

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
        // Every issuer sharing the ledger serves the newest CRL, whoever signed it.
        self.ledger.store_shared_crl(&StoredCrl {
            number: crl.number,
            der: crl.der.clone(),
            this_update: crl.this_update,
            next_update: crl.next_update,
            revoked: entries.len() as u64,
            latest_revocation: entries.iter().map(|e| e.revoked_at).max(),
        })?;
        Ok(crl)
    }

    /// For issuers sharing a ledger (replicas): the newest stored CRL when it lists exactly the
    /// revocations recorded now and is not past half its life; otherwise, under the `crl`
    /// lease, a new one valid until `next_update`, written to `out` (PEM) and stored. `None`
    /// while another issuer holds the lease (it is building one; ask again shortly).
    pub fn shared_crl_until(
        &mut self,
        signer: &CaSigner,
        next_update: OffsetDateTime,
        out: &Path,
        now: OffsetDateTime,
        holder: &str,
    ) -> Result<Option<StoredCrl>, CaError> {
        let revoked = self.ledger.revoked()?;
        let count = revoked.len() as u64;
        let latest = revoked.iter().map(|r| r.1).max();
        if let Some(stored) = self.ledger.shared_crl()?
            && stored.revoked == count
            && stored.latest_revocation == latest
            && now < stored.this_update + (stored.next_update - stored.this_update) / 2
        {
            return Ok(Some(stored));
        }
        if !self.ledger.take_lease(CRL_LEASE, holder, CRL_LEASE_SECS)? {
            return Ok(None);
        }
        self.publish_crl_until(signer, next_update, out, false, now)?;
        self.ledger.shared_crl()
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
