//! Certificate revocation lists (RFC 5280 section 5): reasons, building, reading.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::{PkiError, Serial};

/// Why a certificate was revoked (RFC 5280 5.3.1), as operators type it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
}

impl RevocationReason {
    pub const ALL: [RevocationReason; 7] = [
        RevocationReason::KeyCompromise,
        RevocationReason::Superseded,
        RevocationReason::CessationOfOperation,
        RevocationReason::AffiliationChanged,
        RevocationReason::CaCompromise,
        RevocationReason::CertificateHold,
        RevocationReason::Unspecified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Unspecified => "unspecified",
            RevocationReason::KeyCompromise => "keyCompromise",
            RevocationReason::CaCompromise => "caCompromise",
            RevocationReason::AffiliationChanged => "affiliationChanged",
            RevocationReason::Superseded => "superseded",
            RevocationReason::CessationOfOperation => "cessationOfOperation",
            RevocationReason::CertificateHold => "certificateHold",
        }
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The CRL entry's reasonCode; `None` for unspecified, which RFC 5280 says SHOULD be
    /// expressed by leaving the extension out.
    fn to_rcgen(self) -> Option<rcgen::RevocationReason> {
        use rcgen::RevocationReason as R;
        Some(match self {
            RevocationReason::Unspecified => return None,
            RevocationReason::KeyCompromise => R::KeyCompromise,
            RevocationReason::CaCompromise => R::CaCompromise,
            RevocationReason::AffiliationChanged => R::AffiliationChanged,
            RevocationReason::Superseded => R::Superseded,
            RevocationReason::CessationOfOperation => R::CessationOfOperation,
            RevocationReason::CertificateHold => R::CertificateHold,
        })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().to_ascii_lowercase() == norm)
            .ok_or_else(|| PkiError::UnknownReason(s.to_string()))
    }
}

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    pub serial: Serial,
    pub revoked_at: OffsetDateTime,
    pub reason: RevocationReason,
}

/// A signed CRL.
#[derive(Debug, Clone)]
pub struct SignedCrl {
    pub der: Vec<u8>,
    pub pem: String,
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub entries: usize,
}

pub(crate) fn crl_params(
    entries: &[RevokedEntry],
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    authority_key_id: Vec<u8>,
) -> Result<rcgen::CertificateRevocationListParams, PkiError> {
    if next_update <= this_update {
        return Err(PkiError::BadValidity(
            "the CRL's nextUpdate must be after its thisUpdate".into(),
        ));
    }
    Ok(rcgen::CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: rcgen::SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: entries
            .iter()
            .map(|e| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(e.serial.as_bytes()),
                revocation_time: e.revoked_at,
                reason_code: e.reason.to_rcgen(),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::PreSpecified(authority_key_id),
    })
}

/// What a CRL says, read back with an independent parser.
#[derive(Debug, Clone)]
pub struct CrlInfo {
    pub issuer: String,
    pub number: Option<u64>,
    pub this_update: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub revoked: Vec<(Serial, OffsetDateTime, Option<String>)>,
}

/// Parses a CRL (PEM or DER) and checks its signature with the issuer's SubjectPublicKeyInfo.
pub fn parse_crl(data: &[u8], issuer_spki_der: &[u8]) -> Result<CrlInfo, PkiError> {
    use x509_parser::prelude::FromDer;
    let der = if crate::pem::looks_like_pem(data) {
        let text = std::str::from_utf8(data)
            .map_err(|_| PkiError::BadCrl("the PEM text is not UTF-8".into()))?;
        crate::pem::first(text, &["X509 CRL"])
            .map_err(|e| PkiError::BadCrl(e.to_string()))?
            .ok_or_else(|| PkiError::BadCrl("no 'X509 CRL' block".into()))?
            .der
    } else {
        data.to_vec()
    };
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
        .map_err(|e| PkiError::BadCrl(e.to_string()))?;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(issuer_spki_der)
        .map_err(|e| PkiError::BadCrl(e.to_string()))?;
    crl.verify_signature(&spki)
        .map_err(|_| PkiError::BadCrl("its signature does not verify with this CA's key".into()))?;
    let revoked = crl
        .iter_revoked_certificates()
        .map(|r| {
            let reason = r.reason_code().map(|(_, rc)| reason_name(rc.0));
            (
                Serial::from_der_content(r.raw_serial()),
                r.revocation_date.to_datetime(),
                reason,
            )
        })
        .collect();
    Ok(CrlInfo {
        issuer: crl.issuer().to_string(),
        number: crl.crl_number().and_then(|n| u64::try_from(n).ok()),
        this_update: crl.last_update().to_datetime(),
        next_update: crl.next_update().map(|t| t.to_datetime()),
        revoked,
    })
}

/// RFC 5280 reason names for CRL reason codes, spelled as `uca revoke` takes them.
fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "caCompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => return format!("reason {code}"),
    }
    .to_string()
}
