//! Checking a certificate against a CA: the chain, the dates, the signatures. Every finding is
//! a typed [`Problem`] whose `Display` is the sentence `uca verify` prints (it exists to say *why
//! not*) and whose [`Coded::code`] is the stable word scripts match on.

use std::fmt;
use std::ops::{Deref, DerefMut};

use serde::Serialize;
use serde::ser::SerializeStruct;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;
use crate::inspect::all_certificates_der;
use crate::validity::display_time;

/// Longest chain [`check_chain`] builds before giving up.
pub const MAX_CHAIN: usize = 8;

/// A finding with a stable machine word beside its sentence, so callers branch on the variant
/// (or scripts on the code) and never on English.
pub trait Coded: fmt::Display {
    /// A stable snake_case word for the kind of finding (`--json` `problem_codes[]`).
    fn code(&self) -> &'static str;
}

/// Findings in the order they were made. Serialized as two parallel arrays, `problems` (the
/// sentences, as before) and `problem_codes`, so the JSON stays readable and gains a stable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems<P>(pub Vec<P>);

impl<P> Default for Problems<P> {
    fn default() -> Self {
        Problems(Vec::new())
    }
}

impl<P> Deref for Problems<P> {
    type Target = Vec<P>;
    fn deref(&self) -> &Vec<P> {
        &self.0
    }
}

impl<P> DerefMut for Problems<P> {
    fn deref_mut(&mut self) -> &mut Vec<P> {
        &mut self.0
    }
}

impl<P: Coded> Problems<P> {
    /// The sentences, in order.
    pub fn sentences(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// The codes, in the same order as [`Problems::sentences`].
    pub fn codes(&self) -> Vec<&'static str> {
        self.0.iter().map(Coded::code).collect()
    }
}

impl<P: Coded> Serialize for Problems<P> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Problems", 2)?;
        st.serialize_field("problems", &self.sentences())?;
        st.serialize_field("problem_codes", &self.codes())?;
        st.end()
    }
}

/// Which certificate of the path a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The certificate being checked.
    Target,
    /// The trust anchor: this CA's own certificate.
    Anchor,
    /// A certificate between the two, by subject.
    Intermediate(String),
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Target => f.write_str("the certificate"),
            Who::Anchor => f.write_str("the CA certificate"),
            Who::Intermediate(s) => write!(f, "the intermediate {s}"),
        }
    }
}

/// Where a path that does not reach the anchor stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathEnd {
    /// At a self-signed certificate that is not the anchor.
    OtherRoot { root: String },
    /// At a certificate whose issuer is not among the certificates at hand.
    UnknownIssuer { subject: String, issuer: String },
}

/// Why a certificate is not valid according to a CA (RFC 5280 path validation, as uca does it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `now` is before a certificate's notBefore.
    NotYetValid {
        who: Who,
        not_before: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// `now` is after a certificate's notAfter.
    Expired {
        who: Who,
        not_after: OffsetDateTime,
        at: OffsetDateTime,
    },
    /// The issuer name is the anchor's, but the anchor's key did not make the signature.
    BadSignature { who: Who },
    /// The chain does not reach the anchor.
    NoPath { anchor: String, ends_at: PathEnd },
    /// A certificate that signed another is not a CA (basicConstraints).
    NotACa { subject: String },
    /// The chain did not end within [`MAX_CHAIN`] certificates.
    ChainTooLong { max: usize },
    /// A certificate of an already built path cannot be parsed again.
    Unparsable,
    /// A CA on the path signed a certificate but its keyUsage lacks keyCertSign.
    NoKeyCertSign { ca: String },
    /// More intermediates below a CA than its pathLenConstraint allows.
    PathLen { ca: String, max: u32, below: usize },
    /// A name below a CA is outside that CA's name constraints.
    NameConstraint {
        subject: String,
        ca: String,
        why: String,
    },
    /// A CA's name constraints cannot be read.
    BadNameConstraints { ca: String, error: String },
}

impl Coded for Problem {
    fn code(&self) -> &'static str {
        match self {
            Problem::NotYetValid { .. } => "not_yet_valid",
            Problem::Expired { .. } => "expired",
            Problem::BadSignature { .. } => "bad_signature",
            Problem::NoPath { .. } => "no_path",
            Problem::NotACa { .. } => "not_a_ca",
            Problem::ChainTooLong { .. } => "chain_too_long",
            Problem::Unparsable => "unparsable_certificate",
            Problem::NoKeyCertSign { .. } => "no_key_cert_sign",
            Problem::PathLen { .. } => "path_len",
            Problem::NameConstraint { .. } => "name_constraint",
            Problem::BadNameConstraints { .. } => "bad_name_constraints",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotYetValid {
                who, not_before, ..
            } => write!(
                f,
                "{who} is not valid yet: notBefore is {}",
                display_time(*not_before)
            ),
            Problem::Expired { who, not_after, .. } => {
                write!(f, "{who} expired on {}", display_time(*not_after))
            }
            Problem::BadSignature { who } => write!(
                f,
                "{who} names this CA as its issuer, but its signature does not verify with this CA's key (another CA with the same name?)"
            ),
            Problem::NoPath {
                anchor,
                ends_at: PathEnd::OtherRoot { root },
            } => write!(
                f,
                "no path to this CA ({anchor}): the chain ends at another root, {root}"
            ),
            Problem::NoPath {
                anchor,
                ends_at: PathEnd::UnknownIssuer { subject, issuer },
            } => {
                write!(
                    f,
                    "no path to this CA ({anchor}): nothing here issued {subject} (its issuer is {issuer})"
                )
            }
            Problem::NotACa { subject } => {
                write!(f, "{subject} signed a certificate but is not a CA")
            }
            Problem::ChainTooLong { max } => {
                write!(f, "the chain is longer than {max} certificates")
            }
            Problem::Unparsable => f.write_str("a certificate on the path cannot be parsed"),
            Problem::NoKeyCertSign { ca } => write!(
                f,
                "{ca} signed a certificate, but its keyUsage does not allow keyCertSign"
            ),
            Problem::PathLen { ca, max, below } => write!(
                f,
                "{ca} allows {max} intermediate CA(s) below it (pathLenConstraint), but this chain has {below}"
            ),
            Problem::NameConstraint { subject, ca, why } => {
                write!(f, "{subject} violates the name constraints of {ca}: {why}")
            }
            Problem::BadNameConstraints { ca, error } => write!(f, "{ca}: {error}"),
        }
    }
}

/// The outcome of a chain check.
#[derive(Debug, Clone, Serialize)]
pub struct ChainCheck {
    /// Subjects from the certificate up to the trust anchor, as far as the chain was built.
    pub path: Vec<String>,
    /// Reasons the certificate is not valid; empty when it is.
    #[serde(flatten)]
    pub problems: Problems<Problem>,
    /// Things worth knowing that do not make it invalid.
    pub notes: Vec<String>,
    /// This CA signed the certificate itself (rather than an intermediate below it).
    pub issued_by_anchor: bool,
    /// Serial and SHA-256 fingerprint of the certificate on the path that this CA signed
    /// directly (the target, or the intermediate below the CA): the one this CA's ledger and
    /// CRL speak for.
    #[serde(skip)]
    pub signed_by_anchor: Option<(crate::Serial, String)>,
    /// DER of every certificate on the path, target first, anchor last (as far as it was built).
    #[serde(skip)]
    pub path_der: Vec<Vec<u8>>,
}

/// Reads the certificates of a PEM file (or one DER certificate): the first is the one to
/// check, the others are offered as intermediates.
pub fn read_cert_file(data: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    if crate::pem::looks_like_pem(data) {
        let text = std::str::from_utf8(data)
            .map_err(|_| PkiError::BadCertificate("the PEM text is not UTF-8".into()))?;
        let certs = all_certificates_der(text)?;
        if certs.is_empty() {
            return Err(PkiError::BadCertificate(
                "the file holds no CERTIFICATE block".into(),
            ));
        }
        Ok(certs)
    } else if data.first() == Some(&0x30) {
        Ok(vec![data.to_vec()])
    } else {
        Err(PkiError::BadCertificate("neither PEM nor DER".into()))
    }
}

fn dates(cert: &X509Certificate<'_>, at: OffsetDateTime, who: Who, problems: &mut Vec<Problem>) {
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    if at < not_before {
        problems.push(Problem::NotYetValid {
            who: who.clone(),
            not_before,
            at,
        });
    }
    if at > not_after {
        problems.push(Problem::Expired { who, not_after, at });
    }
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| PkiError::BadCertificate(e.to_string()))
}

/// Builds the path from `target` to `anchor` through `intermediates` (and the CA's own chain),
/// checking each signature and validity window at `now`.
pub fn check_chain(
    target: &[u8],
    offered: &[Vec<u8>],
    anchor: &[u8],
    ca_chain: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<ChainCheck, PkiError> {
    let leaf = parse(target)?;
    let anchor_cert = parse(anchor)?;
    let mut pool: Vec<X509Certificate<'_>> = Vec::new();
    for der in offered.iter().chain(ca_chain.iter()) {
        pool.push(parse(der)?);
    }
    let mut out = ChainCheck {
        path: vec![leaf.subject().to_string()],
        problems: Problems::default(),
        notes: Vec::new(),
        issued_by_anchor: false,
        signed_by_anchor: None,
        path_der: vec![target.to_vec()],
    };
    dates(&leaf, now, Who::Target, &mut out.problems);
    let mut current = leaf;
    for depth in 0..MAX_CHAIN {
        // The anchor first: the CA this directory is.
        if current.issuer().as_raw() == anchor_cert.subject().as_raw() {
            if current
                .verify_signature(Some(anchor_cert.public_key()))
                .is_ok()
            {
                out.issued_by_anchor = depth == 0;
                out.signed_by_anchor = Some((
                    crate::Serial::from_der_content(current.raw_serial()),
                    crate::Fingerprint::of_der(current.as_raw()).to_string(),
                ));
                if current.as_raw() != anchor_cert.as_raw() {
                    out.path.push(anchor_cert.subject().to_string());
                    out.path_der.push(anchor.to_vec());
                }
                dates(&anchor_cert, now, Who::Anchor, &mut out.problems);
                path_limits(&out.path_der, &mut out.problems);
                return Ok(out);
            }
            out.problems.push(Problem::BadSignature {
                who: if depth == 0 {
                    Who::Target
                } else {
                    Who::Intermediate(current.subject().to_string())
                },
            });
            return Ok(out);
        }
        if current.subject().as_raw() == current.issuer().as_raw() {
            out.problems.push(Problem::NoPath {
                anchor: anchor_cert.subject().to_string(),
                ends_at: PathEnd::OtherRoot {
                    root: current.subject().to_string(),
                },
            });
            return Ok(out);
        }
        let Some(next) = pool.iter().find(|c| {
            c.subject().as_raw() == current.issuer().as_raw()
                && !out.path_der.iter().any(|d| d.as_slice() == c.as_raw())
                && current.verify_signature(Some(c.public_key())).is_ok()
        }) else {
            out.problems.push(Problem::NoPath {
                anchor: anchor_cert.subject().to_string(),
                ends_at: PathEnd::UnknownIssuer {
                    subject: current.subject().to_string(),
                    issuer: current.issuer().to_string(),
                },
            });
            return Ok(out);
        };
        if !next.is_ca() {
            out.problems.push(Problem::NotACa {
                subject: next.subject().to_string(),
            });
        }
        out.path.push(next.subject().to_string());
        out.path_der.push(next.as_raw().to_vec());
        dates(
            next,
            now,
            Who::Intermediate(next.subject().to_string()),
            &mut out.problems,
        );
        current = next.clone();
    }
    out.problems.push(Problem::ChainTooLong { max: MAX_CHAIN });
    Ok(out)
}

/// The DNS names and IP addresses a certificate claims (its SANs; its CN as a DNS name when it
/// has no SAN, as browsers read it), for name-constraint checks.
fn claimed_names(cert: &X509Certificate<'_>) -> Vec<crate::San> {
    use x509_parser::extensions::GeneralName;
    let mut out = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => out.push(crate::San::Dns(d.to_ascii_lowercase())),
                GeneralName::IPAddress(b) => {
                    out.extend(crate::inspect::ip_address(b).map(crate::San::Ip));
                }
                _ => {}
            }
        }
        return out;
    }
    if let Some(cn) = crate::inspect::common_name(cert)
        && let Ok(san) = crate::San::parse(&cn)
        && matches!(san, crate::San::Dns(_) | crate::San::Ip(_))
    {
        out.push(san);
    }
    out
}

/// What each CA on a built path (target first, anchor last) allows below it: keyCertSign,
/// pathLenConstraint (intermediates below it) and name constraints (names of everything below
/// it). RFC 5280 §6.1; the limits a CA was made with must hold for every chain through it.
fn path_limits(path_der: &[Vec<u8>], problems: &mut Vec<Problem>) {
    let parsed: Vec<X509Certificate<'_>> = path_der
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    if parsed.len() != path_der.len() {
        problems.push(Problem::Unparsable);
        return;
    }
    for (k, ca) in parsed.iter().enumerate().skip(1) {
        let who = ca.subject().to_string();
        if let Ok(Some(ku)) = ca.key_usage()
            && !ku.value.key_cert_sign()
        {
            problems.push(Problem::NoKeyCertSign { ca: who.clone() });
        }
        // Intermediates between this CA and the target, not counting self-issued ones.
        let below = parsed[1..k]
            .iter()
            .filter(|c| c.subject().as_raw() != c.issuer().as_raw())
            .count();
        if let Ok(Some(bc)) = ca.basic_constraints()
            && let Some(max) = bc.value.path_len_constraint
            && below > max as usize
        {
            problems.push(Problem::PathLen {
                ca: who.clone(),
                max,
                below,
            });
        }
        match crate::constraints::NameConstraints::from_cert_der(&path_der[k]) {
            Ok(None) => {}
            Ok(Some(nc)) => {
                for sub in &parsed[..k] {
                    for name in claimed_names(sub) {
                        if let Err(why) = nc.check(&name) {
                            problems.push(Problem::NameConstraint {
                                subject: sub.subject().to_string(),
                                ca: who.clone(),
                                why,
                            });
                        }
                    }
                }
            }
            Err(e) => problems.push(Problem::BadNameConstraints {
                ca: who,
                error: e.to_string(),
            }),
        }
    }
}
