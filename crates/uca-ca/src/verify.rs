//! `uca verify`: is this certificate good, according to this CA? Chain and dates, the ledger's
//! view, and a CRL when given.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::Serial;
use uca_pki::inspect::{all_certificates_der, parse_certificate};
use uca_pki::validity::display_time;
use uca_pki::verify::{ChainCheck, Coded, Problem, Problems, check_chain, read_cert_file};

use crate::ledger::Status;
use crate::{Ca, CaError};

/// The verdict, with reasons in words (and codes).
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub valid: bool,
    pub subject: String,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The ledger status of this serial, if the ledger knows it.
    pub ledger_status: Option<String>,
    /// Subjects from the certificate up to this CA, as far as the chain was built.
    pub path: Vec<String>,
    /// The chain's problems, then the ledger's and the CRL's; empty when valid.
    #[serde(flatten)]
    pub problems: Problems<VerifyProblem>,
    /// Things worth knowing that do not make it invalid.
    pub notes: Vec<String>,
    /// This CA signed the certificate itself (rather than an intermediate below it).
    pub issued_by_anchor: bool,
}

/// The certificate a ledger or CRL finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whom {
    /// The certificate being verified.
    It,
    /// The intermediate this CA signed, by its ledger name.
    IntermediateNamed(String),
    /// The intermediate this CA signed, by serial (a CRL knows no names).
    IntermediateSerial(Serial),
}

impl fmt::Display for Whom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Whom::It => f.write_str("it"),
            Whom::IntermediateNamed(n) => write!(f, "the intermediate '{n}'"),
            Whom::IntermediateSerial(s) => write!(f, "the intermediate {s}"),
        }
    }
}

/// Why `uca verify` says NOT valid: the chain's findings, or what this CA's ledger and CRL say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyProblem {
    /// The chain, dates and limits ([`check_chain`]).
    Chain(Problem),
    /// The ledger holds another certificate under this serial.
    LedgerMismatch,
    /// This CA signed it, but its ledger does not know it.
    NotInLedger,
    /// The ledger marks it revoked.
    RevokedInLedger {
        who: Whom,
        since: Option<OffsetDateTime>,
        reason: Option<String>,
    },
    /// The ledger marks it void: it was never delivered.
    Void { who: Whom },
    /// The CRL given lists it.
    RevokedInCrl {
        who: Whom,
        since: OffsetDateTime,
        reason: Option<String>,
    },
    /// The CRL given is past its nextUpdate.
    CrlStale { next_update: OffsetDateTime },
}

impl Coded for VerifyProblem {
    fn code(&self) -> &'static str {
        match self {
            VerifyProblem::Chain(p) => p.code(),
            VerifyProblem::LedgerMismatch => "ledger_mismatch",
            VerifyProblem::NotInLedger => "not_in_ledger",
            VerifyProblem::RevokedInLedger { .. } | VerifyProblem::RevokedInCrl { .. } => "revoked",
            VerifyProblem::Void { .. } => "void",
            VerifyProblem::CrlStale { .. } => "crl_stale",
        }
    }
}

impl fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyProblem::Chain(p) => p.fmt(f),
            VerifyProblem::LedgerMismatch => {
                f.write_str("the ledger has a different certificate under this serial")
            }
            VerifyProblem::NotInLedger => f.write_str(
                "this CA's ledger has no record of it: it was not issued through uca (or the ledger was replaced)",
            ),
            VerifyProblem::RevokedInLedger { who, since, reason } => write!(
                f,
                "{who} is revoked in the ledger since {} (reason: {})",
                since.map(display_time).unwrap_or_default(),
                reason.as_deref().unwrap_or("unspecified")
            ),
            VerifyProblem::Void { who } => {
                write!(f, "the ledger marks {who} void: it was never delivered")
            }
            VerifyProblem::RevokedInCrl { who, since, reason } => write!(
                f,
                "the CRL lists {who} as revoked on {}{}",
                display_time(*since),
                reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            VerifyProblem::CrlStale { next_update } => write!(
                f,
                "the CRL is stale: its nextUpdate was {}",
                display_time(*next_update)
            ),
        }
    }
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
        let chain = check_chain(target, &certs[1..], &self.cert_der, &ca_chain, now)?;
        let ChainCheck {
            path,
            problems: chain_problems,
            mut notes,
            issued_by_anchor: issued_here,
            signed_by_anchor,
            ..
        } = chain;
        let mut problems = Problems(
            chain_problems
                .0
                .into_iter()
                .map(VerifyProblem::Chain)
                .collect(),
        );
        let record = self.ledger.by_serial(&info.serial_value)?;
        match &record {
            Some(r) if r.fingerprint_sha256 == info.fingerprint_sha256 => {
                ledger_findings(r, Whom::It, &mut problems, &mut notes)
            }
            Some(_) => problems.push(VerifyProblem::LedgerMismatch),
            None if issued_here => problems.push(VerifyProblem::NotInLedger),
            None if problems.is_empty() => notes.push(
                "issued by an intermediate below this CA: its own ledger (in that CA's directory) knows its status".into(),
            ),
            None => {}
        }
        // An intermediate between the certificate and this CA: this CA's ledger speaks for it.
        let intermediate = signed_by_anchor.filter(|_| !issued_here);
        if let Some((serial, fp)) = &intermediate
            && let Some(r) = self
                .ledger
                .by_serial(serial)?
                .filter(|r| &r.fingerprint_sha256 == fp)
        {
            ledger_findings(
                &r,
                Whom::IntermediateNamed(r.name.clone()),
                &mut problems,
                &mut notes,
            );
        }
        if let Some(crl) = crl {
            let parsed = uca_pki::crl::parse_crl(crl, &self.cert_info.spki_der)?;
            let checked: Vec<(Serial, Whom)> =
                std::iter::once((info.serial_value.clone(), Whom::It))
                    .filter(|_| issued_here)
                    .chain(
                        intermediate
                            .iter()
                            .map(|(s, _)| (s.clone(), Whom::IntermediateSerial(s.clone()))),
                    )
                    .collect();
            for (serial, who) in checked {
                if let Some((_, at, reason)) = parsed.revoked.iter().find(|(s, _, _)| *s == serial)
                {
                    problems.push(VerifyProblem::RevokedInCrl {
                        who,
                        since: *at,
                        reason: reason.clone(),
                    });
                }
            }
            if let Some(next_update) = parsed.next_update.filter(|n| *n < now) {
                problems.push(VerifyProblem::CrlStale { next_update });
            }
        }
        Ok(Verification {
            valid: problems.is_empty(),
            subject: info.subject.clone(),
            serial: info.serial.clone(),
            not_after: info.not_after,
            ledger_status: record.map(|r| r.status.to_string()),
            path,
            problems,
            notes,
            issued_by_anchor: issued_here,
        })
    }
}

/// What the ledger's status of a certificate on the path means for the verdict.
fn ledger_findings(
    r: &crate::CertRecord,
    who: Whom,
    problems: &mut Problems<VerifyProblem>,
    notes: &mut Vec<String>,
) {
    match r.status {
        Status::Revoked => problems.push(VerifyProblem::RevokedInLedger {
            who,
            since: r.revoked_at,
            reason: r.revocation_reason.clone(),
        }),
        Status::Void => problems.push(VerifyProblem::Void { who }),
        Status::Superseded => notes.push(format!(
            "{who} is superseded by {} in the ledger: still valid, but the service should load its newer certificate",
            r.superseded_by.as_deref().unwrap_or("a newer certificate")
        )),
        Status::Pending | Status::Issued => {}
    }
}
