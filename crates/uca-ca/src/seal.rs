//! `uca seal`: the closed-system move. A final CRL, then the CA key is overwritten, synced and
//! unlinked, and the ledger records when. Nothing can be signed by this CA afterwards.

use std::io::Write;

use time::OffsetDateTime;
use uca_pki::crl::SignedCrl;
use uca_pki::sign::CaSigner;

use crate::fsio::{self, io_err};
use crate::{Ca, CaError};

const SEALED_AT: &str = "sealed_at";

impl Ca {
    /// When the CA was sealed, if it was.
    pub fn sealed_at(&self) -> Result<Option<String>, CaError> {
        self.ledger.meta(SEALED_AT)
    }

    /// Fails with [`CaError::Sealed`] (or a missing key) when this CA cannot sign.
    /// Refuses if the CA has been sealed (whether or not a key is still at hand somewhere).
    pub fn ensure_not_sealed(&self) -> Result<(), CaError> {
        match self.sealed_at()? {
            Some(since) => Err(CaError::Sealed {
                dir: self.paths.dir.clone(),
                since: Some(since),
            }),
            None => Ok(()),
        }
    }

    pub fn ensure_can_sign(&self) -> Result<(), CaError> {
        if let Some(since) = self.sealed_at()? {
            return Err(CaError::Sealed {
                dir: self.paths.dir.clone(),
                since: Some(since),
            });
        }
        if !self.paths.ca_key().exists() {
            return Err(CaError::KeyMissing {
                path: self.paths.ca_key(),
            });
        }
        Ok(())
    }

    /// Writes the final CRL (nextUpdate `crl_until`, at most the CA's notAfter), records the
    /// sealing, then destroys the key. Recording first means a crash in between leaves a CA that
    /// is sealed with a key file still to destroy, which `seal` finishes ([`Ca::finish_seal`]),
    /// rather than an unsealed CA without its key.
    pub fn seal(
        &mut self,
        signer: CaSigner,
        crl_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<SignedCrl, CaError> {
        let crl_path = self.paths.crl();
        let crl = self.publish_crl_until(&signer, crl_until, &crl_path, false, now)?;
        drop(signer);
        self.ledger
            .set_meta(SEALED_AT, &uca_pki::validity::display_time(now))?;
        destroy(&self.paths.ca_key())?;
        Ok(crl)
    }

    /// Destroys a key file left behind by an interrupted seal; `Ok(false)` if there was none.
    pub fn finish_seal(&mut self) -> Result<bool, CaError> {
        if self.sealed_at()?.is_some() && self.paths.ca_key().exists() {
            destroy(&self.paths.ca_key())?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Overwrites the file with random bytes, syncs, unlinks, syncs the directory. On filesystems
/// that copy on write or keep snapshots the old blocks may survive; the README says so.
fn destroy(path: &std::path::Path) -> Result<(), CaError> {
    let len = std::fs::metadata(path).map_err(io_err("stat", path))?.len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    let mut noise = vec![0u8; usize::try_from(len).unwrap_or(0)];
    getrandom::fill(&mut noise).map_err(|e| CaError::Rng(e.to_string()))?;
    f.write_all(&noise).map_err(io_err("overwrite", path))?;
    f.sync_all().map_err(io_err("fsync", path))?;
    drop(f);
    std::fs::remove_file(path).map_err(io_err("remove", path))?;
    fsio::fsync_dir(&fsio::parent_of(path))
}
