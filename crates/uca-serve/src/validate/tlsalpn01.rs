//! tls-alpn-01 (RFC 8737; RFC 8738 §6 for IP addresses): a TLS handshake offering only ALPN
//! `acme-tls/1` must present a certificate with exactly one SAN, the identifier, and a critical
//! acmeIdentifier extension holding SHA-256 of the key authorization.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use uca_acme::service::ValidationJob;
use uca_acme::{Identifier, Problem, ProblemType};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::{Validator, short};

const ACME_TLS_1: &[u8] = b"acme-tls/1";
/// id-pe-acmeIdentifier (RFC 8737 §6.1).
const ACME_IDENTIFIER_OID: &str = "1.3.6.1.5.5.7.1.31";

/// Accepts any certificate (the checks are ours, below) but still verifies the handshake
/// signature, so the peer must hold the certificate's key. The signature is checked against the
/// certificate's public key directly: webpki would refuse to parse a certificate with the
/// critical acmeIdentifier extension it does not know, which every tls-alpn-01 certificate has.
#[derive(Debug)]
pub(super) struct AnyCertificate;

/// The aws-lc verification algorithm of a TLS signature scheme (the ones TLS 1.2 and 1.3 use).
fn algorithm(
    scheme: SignatureScheme,
) -> Option<&'static dyn aws_lc_rs::signature::VerificationAlgorithm> {
    use aws_lc_rs::signature as sig;
    Some(match scheme {
        SignatureScheme::ECDSA_NISTP256_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
        SignatureScheme::ECDSA_NISTP384_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
        SignatureScheme::ECDSA_NISTP521_SHA512 => &sig::ECDSA_P521_SHA512_ASN1,
        SignatureScheme::ED25519 => &sig::ED25519,
        SignatureScheme::RSA_PSS_SHA256 => &sig::RSA_PSS_2048_8192_SHA256,
        SignatureScheme::RSA_PSS_SHA384 => &sig::RSA_PSS_2048_8192_SHA384,
        SignatureScheme::RSA_PSS_SHA512 => &sig::RSA_PSS_2048_8192_SHA512,
        SignatureScheme::RSA_PKCS1_SHA256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        SignatureScheme::RSA_PKCS1_SHA384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        SignatureScheme::RSA_PKCS1_SHA512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

const SCHEMES: [SignatureScheme; 10] = [
    SignatureScheme::ECDSA_NISTP256_SHA256,
    SignatureScheme::ECDSA_NISTP384_SHA384,
    SignatureScheme::ECDSA_NISTP521_SHA512,
    SignatureScheme::ED25519,
    SignatureScheme::RSA_PSS_SHA256,
    SignatureScheme::RSA_PSS_SHA384,
    SignatureScheme::RSA_PSS_SHA512,
    SignatureScheme::RSA_PKCS1_SHA256,
    SignatureScheme::RSA_PKCS1_SHA384,
    SignatureScheme::RSA_PKCS1_SHA512,
];

fn verify_handshake(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    tls13: bool,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature);
    // TLS 1.3 signs CertificateVerify with PSS, ECDSA or EdDSA only (RFC 8446 §4.2.3).
    let pkcs1 = matches!(
        dss.scheme,
        SignatureScheme::RSA_PKCS1_SHA256
            | SignatureScheme::RSA_PKCS1_SHA384
            | SignatureScheme::RSA_PKCS1_SHA512
    );
    if tls13 && pkcs1 {
        return Err(bad());
    }
    let alg = algorithm(dss.scheme).ok_or_else(bad)?;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding))?;
    let key = parsed.public_key().subject_public_key.data.as_ref();
    aws_lc_rs::signature::UnparsedPublicKey::new(alg, key)
        .verify(message, dss.signature())
        .map_err(|_| bad())?;
    Ok(HandshakeSignatureValid::assertion())
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_handshake(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SCHEMES.to_vec()
    }
}

/// A TLS client for validation: any certificate (checked by the caller where it matters), the
/// handshake signature verified, these ALPN protocols.
pub(super) fn client_config(alpn: &[&[u8]]) -> Result<rustls::ClientConfig, Problem> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Problem::internal(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// The SNI for an identifier: the name, or an address's reverse-mapping name (RFC 8738 §6).
pub(super) fn sni(id: &Identifier) -> String {
    match id {
        Identifier::Dns(n) => n.clone(),
        Identifier::Ip(IpAddr::V4(v4)) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        Identifier::Ip(IpAddr::V6(v6)) => {
            let mut labels: Vec<String> = Vec::new();
            for byte in v6.octets().iter().rev() {
                labels.push(format!("{:x}", byte & 0x0f));
                labels.push(format!("{:x}", byte >> 4));
            }
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

pub(super) async fn validate(v: &Validator, job: &ValidationJob) -> Result<(), Problem> {
    let id = job.identifier().clone();
    let targets = v.targets(&id, v.settings.tlsalpn01_port).await?;
    let config = client_config(&[ACME_TLS_1])?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = ServerName::try_from(sni(&id))
        .map_err(|e| Problem::internal(format!("SNI for {id}: {e}")))?;
    let tls_problem =
        |why: String| Problem::new(ProblemType::Tls, format!("{id}: {}", short(&why)));
    let mut last = String::new();
    for addr in targets {
        let tcp = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                last = format!("{addr}: {e}");
                continue;
            }
        };
        let tls = connector
            .connect(server_name.clone(), tcp)
            .await
            .map_err(|e| tls_problem(format!("TLS handshake with {addr} failed: {e}")))?;
        let (_, conn) = tls.get_ref();
        if conn.alpn_protocol() != Some(ACME_TLS_1) {
            return Err(Problem::new(
                ProblemType::Unauthorized,
                format!("{id}: the server at {addr} did not negotiate ALPN acme-tls/1"),
            ));
        }
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| tls_problem(format!("{addr} presented no certificate")))?;
        return check_certificate(&id, cert.as_ref(), &job.key_authorization);
    }
    Err(Problem::new(
        ProblemType::Connection,
        format!("{id}: could not connect for tls-alpn-01: {}", short(&last)),
    ))
}

/// RFC 8737 §3: one SAN equal to the identifier, and the critical acmeIdentifier extension
/// with the digest of the key authorization.
pub fn check_certificate(
    id: &Identifier,
    der: &[u8],
    key_authorization: &str,
) -> Result<(), Problem> {
    let refuse = |why: &str| {
        Problem::new(
            ProblemType::Unauthorized,
            format!("{id}: the tls-alpn-01 certificate {why}"),
        )
    };
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(der)
        .map_err(|_| refuse("does not parse"))?;
    let mut names = Vec::new();
    let mut digest = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for gn in &san.general_names {
                    names.push(match gn {
                        GeneralName::DNSName(n) => Some(Identifier::Dns(n.to_ascii_lowercase())),
                        GeneralName::IPAddress(b) => match b.len() {
                            4 => <[u8; 4]>::try_from(*b)
                                .ok()
                                .map(|a| Identifier::Ip(IpAddr::from(a))),
                            16 => <[u8; 16]>::try_from(*b)
                                .ok()
                                .map(|a| Identifier::Ip(IpAddr::from(a))),
                            _ => None,
                        },
                        _ => None,
                    });
                }
            }
            _ if ext.oid.to_id_string() == ACME_IDENTIFIER_OID => {
                if !ext.critical {
                    return Err(refuse("has a non-critical acmeIdentifier extension"));
                }
                // The value is a DER OCTET STRING of the 32-byte digest.
                match ext.value {
                    [0x04, 0x20, rest @ ..] if rest.len() == 32 => digest = Some(rest.to_vec()),
                    _ => return Err(refuse("has a malformed acmeIdentifier extension")),
                }
            }
            _ => {}
        }
    }
    if names.len() != 1 || names[0].as_ref() != Some(id) {
        return Err(refuse(
            "must have exactly one SubjectAltName, the identifier",
        ));
    }
    let want = Sha256::digest(key_authorization.as_bytes());
    match digest {
        None => Err(refuse("has no acmeIdentifier extension")),
        Some(d) if d.as_slice() == want.as_slice() => Ok(()),
        Some(_) => Err(refuse("carries another key authorization's digest")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tls-alpn-01 certificate as clients build it (rcgen, as lego's Go code does the same).
    fn alpn_cert(names: &[&str], key_authorization: &str, critical: bool) -> Vec<u8> {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut ext = rcgen::CustomExtension::new_acme_identifier(&Sha256::digest(
            key_authorization.as_bytes(),
        ));
        ext.set_criticality(critical);
        params.custom_extensions = vec![ext];
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_certificate_must_name_the_identifier_alone_and_carry_the_digest_critically() {
        let id = Identifier::Dns("app.test".into());
        let ka = "token.thumbprint";
        assert!(check_certificate(&id, &alpn_cert(&["app.test"], ka, true), ka).is_ok());
        for (der, why) in [
            (
                alpn_cert(&["app.test"], "other.key", true),
                "another key authorization's digest",
            ),
            (alpn_cert(&["app.test"], ka, false), "non-critical"),
            (
                alpn_cert(&["app.test", "b.test"], ka, true),
                "exactly one SubjectAltName",
            ),
            (
                alpn_cert(&["evil.test"], ka, true),
                "exactly one SubjectAltName",
            ),
        ] {
            let p = check_certificate(&id, &der, ka).unwrap_err();
            assert_eq!(p.kind, ProblemType::Unauthorized);
            assert!(p.detail.contains(why), "{}", p.detail);
        }
        let ip = Identifier::Ip("127.0.0.1".parse().unwrap());
        assert!(check_certificate(&ip, &alpn_cert(&["127.0.0.1"], ka, true), ka).is_ok());
        assert!(check_certificate(&id, b"not a certificate", ka).is_err());
    }

    #[test]
    fn sni_of_addresses_is_their_reverse_mapping_name() {
        assert_eq!(
            sni(&Identifier::Ip("127.0.0.1".parse().unwrap())),
            "1.0.0.127.in-addr.arpa"
        );
        let v6 = sni(&Identifier::Ip("2001:db8::1".parse().unwrap()));
        assert!(
            v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"),
            "{v6}"
        );
        assert_eq!(sni(&Identifier::Dns("a.test".into())), "a.test");
    }
}
