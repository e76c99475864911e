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
/// signature, so the peer must hold the certificate's key.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

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
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The SNI for an identifier: the name, or an address's reverse-mapping name (RFC 8738 §6).
fn sni(id: &Identifier) -> String {
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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Problem::internal(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = ServerName::try_from(sni(&id))
        .map_err(|e| Problem::internal(format!("SNI for {id}: {e}")))?;
    let tls_problem = |why: String| Problem::new(ProblemType::Tls, format!("{id}: {}", short(&why)));
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
fn check_certificate(id: &Identifier, der: &[u8], key_authorization: &str) -> Result<(), Problem> {
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
                            4 => <[u8; 4]>::try_from(*b).ok().map(|a| Identifier::Ip(IpAddr::from(a))),
                            16 => <[u8; 16]>::try_from(*b).ok().map(|a| Identifier::Ip(IpAddr::from(a))),
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
        return Err(refuse("must have exactly one SubjectAltName, the identifier"));
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

    #[test]
    fn sni_of_addresses_is_their_reverse_mapping_name() {
        assert_eq!(sni(&Identifier::Ip("127.0.0.1".parse().unwrap())), "1.0.0.127.in-addr.arpa");
        let v6 = sni(&Identifier::Ip("2001:db8::1".parse().unwrap()));
        assert!(v6.starts_with("1.0.0.0.") && v6.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"), "{v6}");
        assert_eq!(sni(&Identifier::Dns("a.test".into())), "a.test");
    }
}
