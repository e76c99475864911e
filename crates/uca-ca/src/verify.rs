//! `uca verify`: is this certificate good, according to this CA? Chain and dates, the ledger's
//! view, and a CRL when given.

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::inspect::{all_certificates_der, parse_certificate};
use uca_pki::validity::display_time;
use uca_pki::verify::{ChainCheck, check_chain, read_cert_file};

use crate::ledger::{Ledger, Status};
use crate::{Ca, CaError};

/// The verdict, with reasons in words.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub subject: String,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The ledger status of this serial, if the ledger knows it.
    pub ledger_status: Option<String>,
    #[serde(flatten)]
    pub chain: ChainCheck,
}

impl Ca {
    pub fn verify(
        &self,
        cert_file: &[u8],
        crl: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Verification, CaError> {
        let certs = read_cert_file(cert_file)?;
        let target = &certs[0];
        let info = parse_certificate(target)?;
        let ca_chain = all_certificates_der(self.chain_pem())?;
        let mut chain = check_chain(target, &certs[1..], &self.cert_der, &ca_chain, now)?;
        let record = self.ledger.by_serial(&info.serial_value)?;
        let issued_here = chain.issued_by_anchor;
        match &record {
            Some(r) if r.fingerprint_sha256 == info.fingerprint_sha256 => ledger_findings(r, "it", &mut chain),
            Some(_) => chain.problems.push("the ledger has a different certificate under this serial".into()),
            None if issued_here => chain.problems.push(
                "this CA's ledger has no record of it: it was not issued through uca (or the ledger was replaced)".into(),
            ),
            None if chain.problems.is_empty() => chain.notes.push(
                "issued by an intermediate below this CA: its own ledger (in that CA's directory) knows its status".into(),
            ),
            None => {}
        }
        // An intermediate between the certificate and this CA: this CA's ledger speaks for it.
        let intermediate = chain.signed_by_anchor.clone().filter(|_| !issued_here);
        if let Some((serial, fp)) = &intermediate
            && let Some(r) = self
                .ledger
                .by_serial(serial)?
                .filter(|r| &r.fingerprint_sha256 == fp)
        {
            ledger_findings(&r, &format!("the intermediate '{}'", r.name), &mut chain);
        }
        if let Some(crl) = crl {
            let parsed = uca_pki::crl::parse_crl(crl, &self.cert_info.spki_der)?;
            let checked: Vec<(uca_pki::Serial, String)> =
                std::iter::once((info.serial_value.clone(), "it".to_string()))
                    .filter(|_| issued_here)
                    .chain(
                        intermediate
                            .iter()
                            .map(|(s, _)| (s.clone(), format!("the intermediate {s}"))),
                    )
                    .collect();
            for (serial, who) in checked {
                if let Some((_, at, reason)) = parsed.revoked.iter().find(|(s, _, _)| *s == serial)
                {
                    chain.problems.push(format!(
                        "the CRL lists {who} as revoked on {}{}",
                        display_time(*at),
                        reason
                            .as_ref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ));
                }
            }
            if let Some(next) = parsed.next_update.filter(|n| *n < now) {
                chain.problems.push(format!(
                    "the CRL is stale: its nextUpdate was {}",
                    display_time(next)
                ));
            }
        }
        Ok(Verification {
            valid: chain.problems.is_empty(),
            subject: info.subject.clone(),
            serial: info.serial.clone(),
            not_after: info.not_after,
            ledger_status: record.map(|r| r.status.to_string()),
            chain,
        })
    }
}

/// What the ledger's status of a certificate on the path means for the verdict.
fn ledger_findings(r: &crate::CertRecord, who: &str, chain: &mut uca_pki::verify::ChainCheck) {
    match r.status {
        Status::Revoked => chain.problems.push(format!(
            "{who} is revoked in the ledger since {} (reason: {})",
            r.revoked_at.map(display_time).unwrap_or_default(),
            r.revocation_reason.as_deref().unwrap_or("unspecified")
        )),
        Status::Void => chain.problems.push(format!("the ledger marks {who} void: it was never delivered")),
        Status::Superseded => chain.notes.push(format!(
            "{who} is superseded by {} in the ledger: still valid, but the service should load its newer certificate",
            r.superseded_by.as_deref().unwrap_or("a newer certificate")
        )),
        Status::Pending | Status::Issued => {}
    }
}
