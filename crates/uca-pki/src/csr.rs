//! PKCS#10 certificate signing requests made elsewhere (openssl, keytool, Go).
//!
//! Only the public key and the names are taken from a CSR, after its self-signature checks
//! out; the CA's profile decides everything else (a CSR asking for CA:TRUE still gets a leaf).

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::sign::PublicKey;
use crate::{KeyType, PkiError};

/// What uca reads out of a verified CSR.
#[derive(Debug, Clone)]
pub struct Csr {
    pub public_key: PublicKey,
    /// The request's SubjectPublicKeyInfo, DER, as sent (compared with ACME account keys).
    pub spki_der: Vec<u8>,
    pub key_type: KeyType,
    pub common_name: Option<String>,
    /// SANs the requester asked for, each as a `dns:`/`ip:`/`email:`/`uri:` value that
    /// [`crate::San::parse`] reads with its type forced (other name forms are kept as
    /// `unsupported:` so that accepting them fails loudly).
    pub requested_sans: Vec<String>,
    /// The request asked for basicConstraints CA:TRUE (ignored, but worth telling the user).
    pub asks_for_ca: bool,
}

/// Parses a CSR in PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`) or DER, and checks
/// its self-signature.
pub fn parse_csr(data: &[u8]) -> Result<Csr, PkiError> {
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(PkiError::BadCsr("the file is empty".into()));
    }
    let der = if crate::pem::looks_like_pem(data) {
        let text = std::str::from_utf8(data)
            .map_err(|_| PkiError::BadCsr("the PEM text is not UTF-8".into()))?;
        match crate::pem::first(text, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]) {
            Ok(Some(block)) => block.der,
            Ok(None) => {
                let labels: Vec<String> = crate::pem::blocks(text)
                    .map(|bs| bs.into_iter().map(|b| b.label).collect())
                    .unwrap_or_default();
                return Err(PkiError::BadCsr(
                    if labels.iter().any(|l| l == "CERTIFICATE") {
                        "this is a certificate, not a certificate request".into()
                    } else {
                        format!(
                            "the PEM block is '{}', not 'CERTIFICATE REQUEST'",
                            labels.join("', '")
                        )
                    },
                ));
            }
            Err(e) => return Err(PkiError::BadCsr(e.to_string())),
        }
    } else if data.first() == Some(&0x30) {
        data.to_vec()
    } else {
        return Err(PkiError::BadCsr("neither PEM nor DER".into()));
    };
    let (rest, req) = match X509CertificationRequest::from_der(&der) {
        Ok(parsed) => parsed,
        Err(e) => {
            if x509_parser::parse_x509_certificate(&der).is_ok() {
                return Err(PkiError::BadCsr(
                    "this is a certificate, not a certificate request".into(),
                ));
            }
            return Err(PkiError::BadCsr(format!(
                "malformed or truncated DER ({e})"
            )));
        }
    };
    if !rest.is_empty() {
        return Err(PkiError::BadCsr(format!(
            "{} trailing bytes after the request",
            rest.len()
        )));
    }
    // The key type first: a key uca cannot certify is reported as such, not as tampering.
    KeyType::from_spki_der(req.certification_request_info.subject_pki.raw)
        .map_err(PkiError::UnsupportedCsrKey)?;
    req.verify_signature().map_err(|e| match e {
        x509_parser::error::X509Error::SignatureUnsupportedAlgorithm => {
            PkiError::UnsupportedCsrKey(format!(
                "signature algorithm {} (uca checks ECDSA, Ed25519 and RSA PKCS#1 v1.5 signatures)",
                req.signature_algorithm.algorithm.to_id_string()
            ))
        }
        _ => PkiError::CsrSignature,
    })?;
    let info = &req.certification_request_info;
    let spki_der = info.subject_pki.raw;
    let public_key = PublicKey::from_spki_der(spki_der)?;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string);
    let mut requested_sans = Vec::new();
    let mut asks_for_ca = false;
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            match ext {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for gn in &san.general_names {
                        requested_sans.push(match gn {
                            GeneralName::DNSName(s) => format!("dns:{s}"),
                            GeneralName::IPAddress(b) => match b.len() {
                                4 => format!(
                                    "ip:{}",
                                    std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])
                                ),
                                16 => {
                                    let mut a = [0u8; 16];
                                    a.copy_from_slice(b);
                                    format!("ip:{}", std::net::Ipv6Addr::from(a))
                                }
                                _ => "unsupported:malformed IP address".to_string(),
                            },
                            GeneralName::RFC822Name(s) => format!("email:{s}"),
                            GeneralName::URI(s) => format!("uri:{s}"),
                            GeneralName::OtherName(oid, _) => {
                                format!("unsupported:otherName {}", oid.to_id_string())
                            }
                            GeneralName::RegisteredID(oid) => {
                                format!("unsupported:registeredID {}", oid.to_id_string())
                            }
                            GeneralName::DirectoryName(n) => {
                                format!("unsupported:directoryName {n}")
                            }
                            other => format!("unsupported:{other:?}"),
                        });
                    }
                }
                ParsedExtension::BasicConstraints(bc) => asks_for_ca |= bc.ca,
                _ => {}
            }
        }
    }
    Ok(Csr {
        key_type: public_key.key_type(),
        public_key,
        spki_der: spki_der.to_vec(),
        common_name,
        requested_sans,
        asks_for_ca,
    })
}
