//! The CRL the server publishes at `/crl`: re-signed after every revocation (by ACME, or by
//! `uca revoke` from the CLI, noticed when the ledger changes) and long before nextUpdate.

use std::sync::RwLock;
use std::time::SystemTime;

use time::{Duration, OffsetDateTime};

use crate::issuer::Issuer;

/// CRLs the server signs are valid this long and re-signed at half-life.
pub const CRL_LIFETIME: Duration = Duration::days(2);

#[derive(Debug, Clone)]
struct Published {
    der: Vec<u8>,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    /// Serials revoked when it was signed.
    revoked: usize,
    /// The ledger files' (length, mtime) when it was signed: unchanged files mean nothing was
    /// revoked since, without opening the CA.
    ledger_stamp: Vec<(u64, Option<SystemTime>)>,
}

/// The current CRL, DER.
#[derive(Debug, Default)]
pub struct CrlCache {
    current: RwLock<Option<Published>>,
}

fn ledger_stamp(issuer: &Issuer) -> Vec<(u64, Option<SystemTime>)> {
    let db = uca_ca::CaPaths::new(issuer.dir()).ledger();
    [db.clone(), db.with_extension("sqlite-wal")]
        .iter()
        .map(|p| match std::fs::metadata(p) {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => (0, None),
        })
        .collect()
}

impl CrlCache {
    pub fn der(&self) -> Option<Vec<u8>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|p| p.der.clone())
    }

    /// Re-signs when the ledger's revocations changed, at half-life, or when there is none yet.
    /// Blocking. Returns whether a new CRL was signed.
    pub fn refresh(&self, issuer: &Issuer, force: bool, now: OffsetDateTime) -> Result<bool, uca_ca::CaError> {
        let stamp = ledger_stamp(issuer);
        let due = {
            let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                None => true,
                Some(p) => {
                    force
                        || now >= p.this_update + (p.next_update - p.this_update) / 2
                        || (p.ledger_stamp != stamp && {
                            // The ledger changed: only a new revocation needs a new CRL.
                            let revoked = issuer.visit(|ca| ca.ledger().revoked())?;
                            revoked.len() != p.revoked
                        })
                }
            }
        };
        if !due {
            if let Some(p) = self.current.write().unwrap_or_else(|p| p.into_inner()).as_mut() {
                p.ledger_stamp = stamp;
            }
            return Ok(false);
        }
        let (crl, revoked) = issuer.visit(|ca| {
            let out = ca.paths.crl();
            let crl = ca.publish_crl_until(issuer.signer(), now + CRL_LIFETIME, &out, false, now)?;
            let revoked = ca.ledger().revoked()?.len();
            Ok((crl, revoked))
        })?;
        let published = Published {
            der: crl.der.clone(),
            this_update: now,
            next_update: (now + CRL_LIFETIME).min(issuer.signer().window().1),
            revoked,
            ledger_stamp: ledger_stamp(issuer),
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(published);
        Ok(true)
    }
}
