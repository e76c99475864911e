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
    let der = match pkcs8::der::pem::decode_vec(data) {
        Ok((label, der)) => {
            if label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST" {
                return Err(PkiError::BadCsr(format!(
                    "the PEM block is '{label}', not 'CERTIFICATE REQUEST'"
                )));
            }
            der
        }
        Err(_) if data.first() == Some(&0x30) => data.to_vec(),
        Err(_) if data.starts_with(b"-----BEGIN") => {
            return Err(PkiError::BadCsr("the PEM armor is damaged".into()));
        }
        Err(_) => return Err(PkiError::BadCsr("neither PEM nor DER".into())),
    };
    let (rest, req) =
        X509CertificationRequest::from_der(&der).map_err(|e| PkiError::BadCsr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(PkiError::BadCsr(format!(
            "{} trailing bytes after the request",
            rest.len()
        )));
    }
    req.verify_signature().map_err(|_| PkiError::CsrSignature)?;
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
        common_name,
        requested_sans,
        asks_for_ca,
    })
}
