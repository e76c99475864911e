//! Checking a certificate against a CA: the chain, the dates, the signatures. Every finding is
//! a sentence, because `uca verify` exists to say *why not*.

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::PkiError;
use crate::inspect::all_certificates_der;
use crate::validity::display_time;

/// The outcome of a chain check.
#[derive(Debug, Clone, Serialize)]
pub struct ChainCheck {
    /// Subjects from the certificate up to the trust anchor, as far as the chain was built.
    pub path: Vec<String>,
    /// Reasons the certificate is not valid; empty when it is.
    pub problems: Vec<String>,
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

fn dates(cert: &X509Certificate<'_>, now: OffsetDateTime, who: &str, problems: &mut Vec<String>) {
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    if now < nb {
        problems.push(format!(
            "{who} is not valid yet: notBefore is {}",
            display_time(nb)
        ));
    }
    if now > na {
        problems.push(format!("{who} expired on {}", display_time(na)));
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
        problems: Vec::new(),
        notes: Vec::new(),
        issued_by_anchor: false,
        signed_by_anchor: None,
        path_der: vec![target.to_vec()],
    };
    dates(&leaf, now, "the certificate", &mut out.problems);
    let mut current = leaf;
    for depth in 0..8 {
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
                dates(&anchor_cert, now, "the CA certificate", &mut out.problems);
                path_limits(&out.path_der, &mut out.problems);
                return Ok(out);
            }
            out.problems.push(format!(
                "{} names this CA as its issuer, but its signature does not verify with this CA's key (another CA with the same name?)",
                if depth == 0 { "the certificate".to_string() } else { format!("the intermediate {}", current.subject()) }
            ));
            return Ok(out);
        }
        if current.subject().as_raw() == current.issuer().as_raw() {
            out.problems.push(format!(
                "no path to this CA ({}): the chain ends at another root, {}",
                anchor_cert.subject(),
                current.subject()
            ));
            return Ok(out);
        }
        let Some(next) = pool.iter().find(|c| {
            c.subject().as_raw() == current.issuer().as_raw()
                && !out.path_der.iter().any(|d| d.as_slice() == c.as_raw())
                && current.verify_signature(Some(c.public_key())).is_ok()
        }) else {
            out.problems.push(format!(
                "no path to this CA ({}): nothing here issued {} (its issuer is {})",
                anchor_cert.subject(),
                current.subject(),
                current.issuer()
            ));
            return Ok(out);
        };
        if !next.is_ca() {
            out.problems.push(format!(
                "{} signed a certificate but is not a CA",
                next.subject()
            ));
        }
        out.path.push(next.subject().to_string());
        out.path_der.push(next.as_raw().to_vec());
        dates(
            next,
            now,
            &format!("the intermediate {}", next.subject()),
            &mut out.problems,
        );
        current = next.clone();
    }
    out.problems
        .push("the chain is longer than 8 certificates".into());
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
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        out.push(crate::San::Ip(std::net::IpAddr::from(a)));
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        out.push(crate::San::Ip(std::net::IpAddr::from(a)));
                    }
                }
                _ => {}
            }
        }
        return out;
    }
    if let Some(cn) = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        && let Ok(san) = crate::San::parse(cn)
        && matches!(san, crate::San::Dns(_) | crate::San::Ip(_))
    {
        out.push(san);
    }
    out
}

/// What each CA on a built path (target first, anchor last) allows below it: keyCertSign,
/// pathLenConstraint (intermediates below it) and name constraints (names of everything below
/// it). RFC 5280 §6.1; the limits a CA was made with must hold for every chain through it.
fn path_limits(path_der: &[Vec<u8>], problems: &mut Vec<String>) {
    let parsed: Vec<X509Certificate<'_>> = path_der
        .iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    if parsed.len() != path_der.len() {
        problems.push("a certificate on the path cannot be parsed".into());
        return;
    }
    for (k, ca) in parsed.iter().enumerate().skip(1) {
        let who = ca.subject().to_string();
        if let Ok(Some(ku)) = ca.key_usage()
            && !ku.value.key_cert_sign()
        {
            problems.push(format!(
                "{who} signed a certificate, but its keyUsage does not allow keyCertSign"
            ));
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
            problems.push(format!(
                "{who} allows {max} intermediate CA(s) below it (pathLenConstraint), but this chain has {below}"
            ));
        }
        match crate::constraints::NameConstraints::from_cert_der(&path_der[k]) {
            Ok(None) => {}
            Ok(Some(nc)) => {
                for sub in &parsed[..k] {
                    for name in claimed_names(sub) {
                        if let Err(why) = nc.check(&name) {
                            problems.push(format!(
                                "{} violates the name constraints of {who}: {why}",
                                sub.subject()
                            ));
                        }
                    }
                }
            }
            Err(e) => problems.push(format!("{who}: {e}")),
        }
    }
}
