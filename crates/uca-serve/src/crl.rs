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
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    /// Serials revoked when it was signed.
    revoked: usize,
    /// The ledger files' (length, mtime) when it was signed: unchanged files mean nothing was
    /// revoked since, without opening the CA (a SQLite ledger).
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
    /// A CRL that `uca crl` wrote since (a higher number, signed by this CA) replaces ours, so
    /// the CLI's CRL is what `/crl` serves. Returns whether it did.
    fn adopt_newer(&self, issuer: &Issuer, ours: u64, stamp: &[(u64, Option<SystemTime>)]) -> bool {
        let path = uca_ca::CaPaths::new(issuer.dir()).crl();
        let Ok(data) = std::fs::read(&path) else {
            return false;
        };
        let Ok(info) = uca_pki::crl::parse_crl(&data, issuer.ca_spki()) else {
            return false;
        };
        let (Some(number), Some(next_update)) = (info.number, info.next_update) else {
            return false;
        };
        if number <= ours {
            return false;
        }
        let der = match std::str::from_utf8(&data) {
            Ok(text) if uca_pki::pem::looks_like_pem(&data) => {
                match uca_pki::pem::first(text, &["X509 CRL"]) {
                    Ok(Some(block)) => block.der,
                    _ => return false,
                }
            }
            _ => data,
        };
        let revoked = info.revoked.len();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Published {
            der,
            number,
            this_update: info.this_update,
            next_update,
            revoked,
            ledger_stamp: stamp.to_vec(),
        });
        true
    }

    /// The shared ledger's newest CRL, built here under the lease when it is missing, stale or
    /// behind the revocations; while another replica builds it, the current one stays.
    fn refresh_shared(
        &self,
        issuer: &Issuer,
        now: OffsetDateTime,
    ) -> Result<bool, uca_ca::CaError> {
        let stored = issuer.visit(|ca| {
            let out = ca.paths.crl();
            ca.shared_crl_until(
                issuer.signer(),
                now + CRL_LIFETIME,
                &out,
                now,
                issuer.node(),
            )
        })?;
        let Some(stored) = stored else {
            return Ok(false);
        };
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|c| c.number == stored.number) {
            return Ok(false);
        }
        *current = Some(Published {
            der: stored.der,
            number: stored.number,
            this_update: stored.this_update,
            next_update: stored.next_update,
            revoked: usize::try_from(stored.revoked).unwrap_or(usize::MAX),
            ledger_stamp: Vec::new(),
        });
        Ok(true)
    }

    pub fn der(&self) -> Option<Vec<u8>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|p| p.der.clone())
    }

    /// Re-signs when the ledger's revocations changed, at half-life, or when there is none yet;
    /// adopts a newer CRL that `uca crl` wrote. On a shared ledger, serves the CRL stored there
    /// (one replica at a time builds it). Blocking. Returns whether the CRL changed.
    pub fn refresh(
        &self,
        issuer: &Issuer,
        force: bool,
        now: OffsetDateTime,
    ) -> Result<bool, uca_ca::CaError> {
        if issuer.ledger_is_shared() {
            return self.refresh_shared(issuer, now);
        }
        let stamp = ledger_stamp(issuer);
        let snapshot = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let due = match &snapshot {
            None => true,
            Some(_) if force => true,
            Some(p) if now >= p.this_update + (p.next_update - p.this_update) / 2 => true,
            Some(p) if p.ledger_stamp != stamp => {
                let adopted = self.adopt_newer(issuer, p.number, &stamp);
                // The ledger changed: only a new revocation needs a new CRL.
                let revoked = issuer.visit(|ca| ca.ledger().revoked())?.len();
                let listed = self
                    .current
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map_or(0, |c| c.revoked);
                if revoked == listed {
                    if let Some(c) = self
                        .current
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .as_mut()
                    {
                        c.ledger_stamp = stamp;
                    }
                    return Ok(adopted);
                }
                true
            }
            Some(_) => false,
        };
        if !due {
            return Ok(false);
        }
        let (crl, revoked) = issuer.visit(|ca| {
            let out = ca.paths.crl();
            let crl =
                ca.publish_crl_until(issuer.signer(), now + CRL_LIFETIME, &out, false, now)?;
            let revoked = ca.ledger().revoked()?.len();
            Ok((crl, revoked))
        })?;
        let published = Published {
            der: crl.der.clone(),
            number: crl.number,
            this_update: now,
            next_update: (now + CRL_LIFETIME).min(issuer.signer().window().1),
            revoked,
            ledger_stamp: ledger_stamp(issuer),
        };
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(published);
        Ok(true)
    }
}
