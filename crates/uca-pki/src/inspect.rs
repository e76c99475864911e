//! Reading certificates back: the facts for the ledger and `uca show`, extensions in words.

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Fingerprint, KeyType, PkiError, Serial};

/// One extension, described for people.
#[derive(Debug, Clone, Serialize)]
pub struct ExtensionInfo {
    pub name: String,
    pub oid: String,
    pub critical: bool,
    pub value: String,
}

/// What a certificate says, read with an X.509 parser independent of the one that wrote it.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub serial: String,
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub key_type: String,
    pub signature_algorithm: String,
    pub sans: Vec<String>,
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint of a CA certificate.
    pub path_len: Option<u32>,
    pub fingerprint_sha256: String,
    pub extensions: Vec<ExtensionInfo>,
    #[serde(skip)]
    pub spki_der: Vec<u8>,
    #[serde(skip)]
    pub subject_key_id: Option<Vec<u8>>,
    #[serde(skip)]
    pub authority_key_id: Option<Vec<u8>>,
    #[serde(skip)]
    pub serial_value: Serial,
}

/// Decodes the first `CERTIFICATE` block of a PEM text (or DER bytes as they are).
pub fn certificate_der(data: &[u8]) -> Result<Vec<u8>, PkiError> {
    if !crate::pem::looks_like_pem(data) {
        if data.first() == Some(&0x30) {
            return Ok(data.to_vec());
        }
        return Err(PkiError::BadCertificate("neither PEM nor DER".into()));
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| PkiError::BadCertificate("the PEM text is not UTF-8".into()))?;
    match crate::pem::first(text, &["CERTIFICATE"]) {
        Ok(Some(b)) => Ok(b.der),
        Ok(None) => Err(PkiError::BadCertificate("no CERTIFICATE block".into())),
        Err(e) => Err(PkiError::BadCertificate(e.to_string())),
    }
}

/// Every `CERTIFICATE` block of a PEM text, as DER.
pub fn all_certificates_der(text: &str) -> Result<Vec<Vec<u8>>, PkiError> {
    Ok(crate::pem::blocks(text)
        .map_err(|e| PkiError::BadCertificate(e.to_string()))?
        .into_iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.der)
        .collect())
}

pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, PkiError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::BadCertificate(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    let spki_der = cert.public_key().raw.to_vec();
    let key_type = KeyType::from_spki_der(&spki_der)
        .map(|k| k.to_string())
        .unwrap_or_else(|e| e);
    let common_name = common_name(&cert);
    let mut sans = Vec::new();
    let mut extensions = Vec::new();
    for ext in cert.extensions() {
        let (name, value) = describe(ext.parsed_extension(), &mut sans);
        extensions.push(ExtensionInfo {
            name,
            oid: ext.oid.to_id_string(),
            critical: ext.critical,
            value,
        });
    }
    let serial_value = Serial::from_der_content(cert.raw_serial());
    let mut path_len = None;
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => path_len = bc.path_len_constraint,
            ParsedExtension::SubjectKeyIdentifier(k) => subject_key_id = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec())
            }
            _ => {}
        }
    }
    Ok(CertInfo {
        serial: serial_value.hex(),
        serial_value,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        key_type,
        signature_algorithm: sig_alg_name(&cert.signature_algorithm.algorithm.to_id_string()),
        sans,
        is_ca: cert.is_ca(),
        path_len,
        subject_key_id,
        authority_key_id,
        fingerprint_sha256: Fingerprint::of_der(der).to_string(),
        extensions,
        spki_der,
    })
}

/// The first subject CN, when it is text.
pub fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string)
}

/// A certificate's names as plain text: what a signer pattern or a person matches against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    pub common_name: Option<String>,
    /// DNS names, email addresses, URIs and IP addresses of the SAN, untagged, in order.
    pub sans: Vec<String>,
}

/// The subject CN and the SAN values (DNS, email, URI, IP) of a certificate, untagged.
pub fn cert_names(cert: &X509Certificate<'_>) -> CertNames {
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    sans.push(s.to_string())
                }
                GeneralName::IPAddress(b) => sans.extend(ip_address(b).map(|a| a.to_string())),
                _ => {}
            }
        }
    }
    CertNames {
        common_name: common_name(cert),
        sans,
    }
}

/// An iPAddress SAN's bytes as an address (4 or 16 bytes; anything else is not an address).
pub(crate) fn ip_address(b: &[u8]) -> Option<std::net::IpAddr> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        Some(a.into())
    } else if let Ok(a) = <[u8; 16]>::try_from(b) {
        Some(a.into())
    } else {
        None
    }
}

fn sig_alg_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        other => other.into(),
    }
}

fn general_name(gn: &GeneralName<'_>) -> String {
    match gn {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::IPAddress(b) if b.len() == 4 || b.len() == 16 => {
            format!(
                "IP:{}",
                ip_address(b).map(|a| a.to_string()).unwrap_or_default()
            )
        }
        GeneralName::IPAddress(b) if b.len() == 8 || b.len() == 32 => {
            let half = b.len() / 2;
            let addr = if half == 4 {
                std::net::IpAddr::from([b[0], b[1], b[2], b[3]])
            } else {
                let mut a = [0u8; 16];
                a.copy_from_slice(&b[..16]);
                std::net::IpAddr::from(a)
            };
            let prefix: u32 = b[half..].iter().map(|x| x.count_ones()).sum();
            format!("IP:{addr}/{prefix}")
        }
        GeneralName::DirectoryName(n) => format!("DirName:{n}"),
        other => format!("{other:?}"),
    }
}

fn hex_colon(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn describe(ext: &ParsedExtension<'_>, sans: &mut Vec<String>) -> (String, String) {
    match ext {
        ParsedExtension::BasicConstraints(bc) => {
            let v = match (bc.ca, bc.path_len_constraint) {
                (true, Some(n)) => format!(
                    "CA:TRUE, pathlen:{n} (may sign certificates, at most {n} CAs below it)"
                ),
                (true, None) => "CA:TRUE (may sign certificates)".into(),
                (false, _) => "CA:FALSE (end-entity: cannot sign certificates)".into(),
            };
            ("Basic Constraints".into(), v)
        }
        ParsedExtension::KeyUsage(ku) => {
            let mut v = Vec::new();
            let flags = [
                (ku.digital_signature(), "Digital Signature"),
                (ku.non_repudiation(), "Non Repudiation"),
                (ku.key_encipherment(), "Key Encipherment"),
                (ku.data_encipherment(), "Data Encipherment"),
                (ku.key_agreement(), "Key Agreement"),
                (ku.key_cert_sign(), "Certificate Sign"),
                (ku.crl_sign(), "CRL Sign"),
            ];
            for (on, name) in flags {
                if on {
                    v.push(name);
                }
            }
            ("Key Usage".into(), v.join(", "))
        }
        ParsedExtension::ExtendedKeyUsage(eku) => {
            let mut v = Vec::new();
            if eku.server_auth {
                v.push("TLS Web Server Authentication".to_string());
            }
            if eku.client_auth {
                v.push("TLS Web Client Authentication".to_string());
            }
            if eku.code_signing {
                v.push("Code Signing".to_string());
            }
            if eku.email_protection {
                v.push("E-mail Protection".to_string());
            }
            if eku.time_stamping {
                v.push("Time Stamping".to_string());
            }
            if eku.ocsp_signing {
                v.push("OCSP Signing".to_string());
            }
            if eku.any {
                v.push("Any Extended Key Usage".to_string());
            }
            v.extend(eku.other.iter().map(|o| o.to_id_string()));
            ("Extended Key Usage".into(), v.join(", "))
        }
        ParsedExtension::SubjectKeyIdentifier(k) => {
            ("Subject Key Identifier".into(), hex_colon(k.0))
        }
        ParsedExtension::AuthorityKeyIdentifier(a) => (
            "Authority Key Identifier".into(),
            a.key_identifier
                .as_ref()
                .map(|k| hex_colon(k.0))
                .unwrap_or_else(|| "(no key id)".into()),
        ),
        ParsedExtension::SubjectAlternativeName(san) => {
            let names: Vec<String> = san.general_names.iter().map(general_name).collect();
            sans.extend(names.iter().cloned());
            ("Subject Alternative Name".into(), names.join(", "))
        }
        ParsedExtension::NameConstraints(nc) => {
            let fmt = |t: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                t.as_ref()
                    .map(|v| {
                        v.iter()
                            .map(|s| general_name(&s.base))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let mut parts = Vec::new();
            let p = fmt(&nc.permitted_subtrees);
            if !p.is_empty() {
                parts.push(format!("permitted: {p}"));
            }
            let e = fmt(&nc.excluded_subtrees);
            if !e.is_empty() {
                parts.push(format!("excluded: {e}"));
            }
            ("Name Constraints".into(), parts.join("; "))
        }
        ParsedExtension::CRLDistributionPoints(_) => {
            ("CRL Distribution Points".into(), "present".into())
        }
        ParsedExtension::UnsupportedExtension { .. } => {
            ("(unknown extension)".into(), String::new())
        }
        other => (
            format!("{other:?}").chars().take(40).collect(),
            String::new(),
        ),
    }
}
