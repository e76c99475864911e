//! `uca sign`: certify the public key of a CSR made elsewhere. The private key never comes
//! here, and the profile — not the CSR — decides the extensions.

use time::OffsetDateTime;
use uca_pki::csr::Csr;
use uca_pki::sign::{CaSigner, LeafRequest, SignedCert};
use uca_pki::validity::Validity;
use uca_pki::{Profile, San, Serial};

use crate::issue::parse_name;
use crate::ledger::{AcmeStep, CertRecord, Durability, PendingSync, Source, Status, Transition};
use crate::{Ca, CaError};

/// A CSR to sign and how.
#[derive(Debug, Clone)]
pub struct CsrRequest {
    pub csr: Csr,
    /// CN and ledger NAME; defaults to the CSR's CN.
    pub name: Option<String>,
    pub extra_sans: Vec<San>,
    pub profile: Profile,
    pub days: u32,
    pub no_rules: bool,
    /// Also take the SANs the CSR asks for (each still validated).
    pub accept_csr_sans: bool,
    /// Replace the active certificate of NAME (it becomes `superseded`).
    pub force: bool,
}

/// The signed certificate with what the ledger recorded.
#[derive(Debug, Clone)]
pub struct SignedCsr {
    pub name: String,
    pub sans: Vec<San>,
    pub cert: SignedCert,
    pub clamped: bool,
    /// The CSR asked for extensions that were ignored (e.g. CA:TRUE).
    pub ignored_ca_request: bool,
}

impl Ca {
    /// Signs the CSR, records it, hands it to `deliver` (write a file or print), then marks it
    /// issued. If delivery fails the certificate is voided: it never left this process.
    pub fn sign_csr(
        &mut self,
        signer: &CaSigner,
        req: CsrRequest,
        now: OffsetDateTime,
        deliver: impl FnOnce(&SignedCert) -> Result<(), CaError>,
    ) -> Result<SignedCsr, CaError> {
        let name = match (&req.name, &req.csr.common_name) {
            (Some(n), _) => n.clone(),
            (None, Some(cn)) => cn.clone(),
            (None, None) => {
                return Err(CaError::CsrWithoutName);
            }
        };
        let name_san = parse_name(&name)?;
        let name = name_san.value();
        let mut extra = req.extra_sans.clone();
        if req.accept_csr_sans {
            for s in &req.csr.requested_sans {
                if let Some(kind) = s.strip_prefix("unsupported:") {
                    return Err(CaError::UnsupportedCsrSan {
                        kind: kind.to_string(),
                    });
                }
                extra.push(San::parse(s)?);
            }
        }
        let active: Vec<CertRecord> = self
            .ledger
            .by_name(&name)?
            .into_iter()
            .filter(|r| r.status == Status::Issued && r.source != Source::Root)
            .collect();
        if let Some(current) = active.first()
            && !req.force
        {
            return Err(CaError::AlreadyIssued {
                name,
                serial: current.serial.hex(),
            });
        }
        let rules = if req.no_rules {
            uca_pki::SanRules::none()
        } else {
            self.config.san_rules.clone()
        };
        let sans = rules.sans_for(&name_san, &extra)?;
        if req.days == 0 {
            return Err(CaError::ZeroDays);
        }
        let validity = Validity::starting(now, req.days, Some(signer.window()))?;
        let leaf = LeafRequest {
            subject: self.config.subject.with_common_name(Some(&name)),
            sans: sans.clone(),
            profile: req.profile,
            validity,
            serial: Serial::random().map_err(|e| CaError::Rng(e.to_string()))?,
        };
        let cert = signer.sign_leaf_for(&leaf, &req.csr.public_key)?;
        let record = CertRecord::new(
            &cert,
            &name,
            req.profile.as_str(),
            req.csr.key_type.as_str(),
            &sans,
            Source::Csr,
            Status::Pending,
            now,
        );
        let superseded = self.supersede_older(&record)?;
        self.record_and_deliver(&record, &cert, superseded, now, deliver)?;
        Ok(SignedCsr {
            name,
            sans,
            cert,
            clamped: validity.clamped,
            ignored_ca_request: req.csr.asks_for_ca,
        })
    }
}

impl Ca {
    /// The delivery protocol for certificates whose key lives elsewhere: record `record` as
    /// pending (durably), hand the certificate to `deliver`, then mark it issued (and apply
    /// `on_success`, e.g. superseding the previous one) — or void if delivery failed, since it
    /// never left this process.
    pub(crate) fn record_and_deliver(
        &mut self,
        record: &CertRecord,
        cert: &SignedCert,
        on_success: Vec<Transition>,
        now: OffsetDateTime,
        deliver: impl FnOnce(&SignedCert) -> Result<(), CaError>,
    ) -> Result<(), CaError> {
        self.ledger
            .insert(std::slice::from_ref(record), Durability::Now)?;
        let delivered = deliver(cert);
        let to = if delivered.is_ok() {
            Status::Issued
        } else {
            Status::Void
        };
        let mut changes = vec![Transition {
            serial: cert.serial.clone(),
            to,
            superseded_by: None,
        }];
        if delivered.is_ok() {
            changes.extend(on_success);
        }
        self.ledger.transition(&changes, now, Durability::Now)?;
        delivered?;
        self.ledger.maintain()
    }
}

impl Ca {
    /// Records steps of `uca serve`'s ACME issuances (reservations before signing, completions
    /// after, voids), all in one transaction; for each, whether it took ([`AcmeStep`]).
    pub fn record_acme(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, CaError> {
        let took = self.ledger.acme_steps(steps, now)?;
        // The steps are committed: a failed checkpoint must not report them as failed (the
        // next write tries it again).
        let _ = self.ledger.maintain();
        Ok(took)
    }

    /// [`Ca::record_acme`] without waiting for the disk: the sync the steps need, if any,
    /// comes back for the caller to finish once it has let go of the CA
    /// ([`crate::ledger::PendingSync`]); until then the steps are committed but not durable.
    pub fn record_acme_owing_sync(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<(Vec<bool>, Option<PendingSync>), CaError> {
        let committed = self.ledger.acme_steps_owing_sync(steps, now)?;
        // A checkpoint here syncs the log first, so it only makes the owed sync redundant.
        let _ = self.ledger.maintain();
        Ok(committed)
    }
}
