//! Detached CMS (RFC 5652) SignedData over a manifest: built by hand from the `cms` crate's
//! types (its builder cannot be used, see docs/DESIGN.md) and checked with aws-lc through
//! x509-parser, so `openssl cms -verify` and uca judge the same bytes independently.
//!
//! One SignerInfo per file, identified by issuer and serial; signed attributes: content type,
//! message digest, signing time and an ESS content hint (RFC 2634) whose description names
//! the stage, so a signature file renamed to another stage is caught.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Sequence};
use sha2::Digest;
use time::OffsetDateTime;
use uca_pki::{KeyType, PrivateKey};
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
const ID_CONTENT_HINT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const SHA256_RSA: &str = "1.2.840.113549.1.1.11";
const SHA384_RSA: &str = "1.2.840.113549.1.1.12";
const SHA512_RSA: &str = "1.2.840.113549.1.1.13";
const RSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Why a signature file is not a valid signature over the content. Each has its own words:
/// the verifier's table shows them to auditors.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignatureProblem {
    #[error("not a CMS signature file ({0})")]
    NotCms(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("the signer's certificate is not embedded in the signature")]
    SignerNotEmbedded,
    #[error(
        "signed different content: the manifest changed after it was signed, or this signature belongs to another manifest (message digest differs)"
    )]
    DigestMismatch,
    #[error(
        "the signature does not verify with the signer certificate's key (forged or corrupted)"
    )]
    BadSignature,
}

/// ESS ContentHints (RFC 2634 §2.9): a description and the content type.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct ContentHints {
    #[asn1(optional = "true")]
    description: Option<String>,
    content_type: ObjectIdentifier,
}

/// What was signed, by whom, when: the facts a verified signature gives the policy.
#[derive(Debug, Clone)]
pub struct Opened {
    pub signer_der: Vec<u8>,
    /// Every certificate embedded in the signature (the signer's included).
    pub certs: Vec<Vec<u8>>,
    pub signing_time: Option<OffsetDateTime>,
    /// The content hint's description, where uca writes the stage.
    pub description: Option<String>,
    pub digest: &'static str,
}

fn digest_for(key: KeyType) -> (ObjectIdentifier, &'static str) {
    match key {
        KeyType::EcP384 => (SHA384, "SHA-384"),
        KeyType::Ed25519 => (SHA512, "SHA-512"),
        _ => (SHA256, "SHA-256"),
    }
}

fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    Some(match *oid {
        SHA256 => sha2::Sha256::digest(data).to_vec(),
        SHA384 => sha2::Sha384::digest(data).to_vec(),
        SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

fn alg(oid: &str, null_params: bool) -> Result<AlgorithmIdentifierOwned, der::Error> {
    Ok(AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new(oid).map_err(der::Error::from)?,
        parameters: null_params.then(Any::null),
    })
}

fn signature_alg(key: KeyType) -> Result<AlgorithmIdentifierOwned, der::Error> {
    match key {
        KeyType::EcP256 => alg(ECDSA_SHA256, false),
        KeyType::EcP384 => alg(ECDSA_SHA384, false),
        KeyType::Ed25519 => alg(ED25519, false),
        _ => alg(SHA256_RSA, true),
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, der::Error> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

fn time_any(t: OffsetDateTime) -> Result<Any, der::Error> {
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| der::ErrorKind::DateTime)?;
    let d = std::time::Duration::from_secs(secs);
    // RFC 5652 §11.3: UTCTime for 1950–2049, GeneralizedTime otherwise.
    if t.year() < 2050 {
        Any::encode_from(&UtcTime::from_unix_duration(d)?)
    } else {
        Any::encode_from(&GeneralizedTime::from_unix_duration(d)?)
    }
}

/// Signs `content` detached: the result is a DER ContentInfo with no eContent.
pub fn sign_detached(
    content: &[u8],
    key: &PrivateKey,
    cert_der: &[u8],
    chain: &[Vec<u8>],
    signing_time: OffsetDateTime,
    description: &str,
) -> Result<Vec<u8>, String> {
    let e = |e: der::Error| format!("encoding the signature failed: {e}");
    let cert = Certificate::from_der(cert_der).map_err(|e| format!("bad certificate: {e}"))?;
    let (digest_oid, _) = digest_for(key.key_type());
    let md = digest(&digest_oid, content).ok_or("unsupported digest")?;
    let hints = ContentHints {
        description: Some(description.to_string()),
        content_type: ID_DATA,
    };
    let attrs: Vec<Attribute> = vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(e)?).map_err(e)?,
        attribute(ID_SIGNING_TIME, time_any(signing_time).map_err(e)?).map_err(e)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(md).map_err(e)?).map_err(e)?,
        )
        .map_err(e)?,
        attribute(ID_CONTENT_HINT, Any::encode_from(&hints).map_err(e)?).map_err(e)?,
    ];
    let signed_attrs = SetOfVec::try_from(attrs).map_err(e)?;
    // The signature covers the DER SET OF the attributes (RFC 5652 §5.4), not the [0] form.
    let to_sign = signed_attrs.to_der().map_err(e)?;
    let signature = key.sign(&to_sign).map_err(|e| e.to_string())?;
    let tbs = cert.tbs_certificate();
    let signer = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: AlgorithmIdentifierOwned {
            oid: digest_oid,
            parameters: None,
        },
        signed_attrs: Some(signed_attrs),
        signature_algorithm: signature_alg(key.key_type()).map_err(e)?,
        signature: OctetString::new(signature).map_err(e)?,
        unsigned_attrs: None,
    };
    let mut certs = vec![CertificateChoices::Certificate(cert.clone())];
    for der in chain {
        let c = Certificate::from_der(der).map_err(|e| format!("bad chain certificate: {e}"))?;
        if c != cert {
            certs.push(CertificateChoices::Certificate(c));
        }
    }
    let mut digests = SetOfVec::new();
    digests
        .insert(AlgorithmIdentifierOwned {
            oid: digest_oid,
            parameters: None,
        })
        .map_err(e)?;
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: digests,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet::try_from(certs).map_err(e)?),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer]).map_err(e)?,
    };
    let ci = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&sd).map_err(e)?,
    };
    ci.to_der().map_err(e)
}

/// DER of a signature file that may also be PEM (`CMS` or `PKCS7`).
fn der_of(p7s: &[u8]) -> Result<Vec<u8>, SignatureProblem> {
    if uca_pki::pem::looks_like_pem(p7s) {
        let text = std::str::from_utf8(p7s)
            .map_err(|_| SignatureProblem::NotCms("PEM text that is not UTF-8".into()))?;
        return uca_pki::pem::first(text, &["CMS", "PKCS7"])
            .map_err(|e| SignatureProblem::NotCms(e.to_string()))?
            .map(|b| b.der)
            .ok_or_else(|| SignatureProblem::NotCms("no CMS or PKCS7 PEM block".into()));
    }
    Ok(p7s.to_vec())
}

fn find_attr<'a>(attrs: &'a [Attribute], oid: &ObjectIdentifier) -> Option<&'a Any> {
    attrs
        .iter()
        .find(|a| a.oid == *oid)
        .and_then(|a| a.values.iter().next())
}

fn parse_time(any: &Any) -> Option<OffsetDateTime> {
    let secs = if let Ok(t) = any.decode_as::<UtcTime>() {
        t.to_unix_duration().as_secs()
    } else {
        any.decode_as::<GeneralizedTime>()
            .ok()?
            .to_unix_duration()
            .as_secs()
    };
    OffsetDateTime::from_unix_timestamp(i64::try_from(secs).ok()?).ok()
}

/// The signature algorithm as X.509 names it, for x509-parser's verifier: CMS producers may
/// write the bare key algorithm (`rsaEncryption`, `id-ecPublicKey`) and let the digest decide.
fn x509_signature_alg(
    sig: &AlgorithmIdentifierOwned,
    digest_oid: &ObjectIdentifier,
) -> Result<Vec<u8>, SignatureProblem> {
    let by_digest = |sha256: &str, sha384: &str, sha512: &str| match *digest_oid {
        SHA256 => Ok(sha256.to_string()),
        SHA384 => Ok(sha384.to_string()),
        SHA512 => Ok(sha512.to_string()),
        other => Err(SignatureProblem::Unsupported(format!(
            "digest algorithm {other} is not supported (SHA-256, SHA-384, SHA-512 are)"
        ))),
    };
    let oid = sig.oid.to_string();
    let (name, null) = match oid.as_str() {
        RSA_ENCRYPTION => (by_digest(SHA256_RSA, SHA384_RSA, SHA512_RSA)?, true),
        EC_PUBLIC_KEY => (by_digest(ECDSA_SHA256, ECDSA_SHA384, ECDSA_SHA512)?, false),
        SHA256_RSA | SHA384_RSA | SHA512_RSA => (oid.clone(), true),
        ECDSA_SHA256 | ECDSA_SHA384 | ECDSA_SHA512 | ED25519 => (oid.clone(), false),
        RSA_PSS => {
            return sig
                .to_der()
                .map_err(|e| SignatureProblem::NotCms(e.to_string()));
        }
        other => {
            return Err(SignatureProblem::Unsupported(format!(
                "signature algorithm {other} is not supported"
            )));
        }
    };
    alg(&name, null)
        .and_then(|a| a.to_der())
        .map_err(|e| SignatureProblem::NotCms(e.to_string()))
}

fn check_signature(
    signer_der: &[u8],
    alg_der: &[u8],
    signature: &[u8],
    data: &[u8],
) -> Result<(), SignatureProblem> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(signer_der)
        .map_err(|e| SignatureProblem::NotCms(format!("embedded certificate: {e}")))?;
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(alg_der)
        .map_err(|e| SignatureProblem::NotCms(e.to_string()))?;
    let bits = x509_parser::der_parser::asn1_rs::BitString::new(0, signature);
    match x509_parser::verify::verify_signature(cert.public_key(), &alg, &bits, data) {
        Ok(()) => Ok(()),
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => {
            Err(SignatureProblem::Unsupported(
                "the signer's key and signature algorithm are not a supported pair".into(),
            ))
        }
        Err(_) => Err(SignatureProblem::BadSignature),
    }
}

/// Parses a detached signature and checks it cryptographically against `content`: digest,
/// content type, and the signature with the embedded signer certificate. Whether that
/// certificate is trusted is the policy's business.
pub fn open_detached(p7s: &[u8], content: &[u8]) -> Result<Opened, SignatureProblem> {
    let der = der_of(p7s)?;
    let ci = ContentInfo::from_der(&der).map_err(|e| SignatureProblem::NotCms(e.to_string()))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(SignatureProblem::NotCms(format!(
            "content type {} is not signedData",
            ci.content_type
        )));
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e: der::Error| SignatureProblem::NotCms(e.to_string()))?;
    if sd.encap_content_info.econtent.is_some() {
        return Err(SignatureProblem::Unsupported(
            "the signature embeds its content; uca expects a detached signature (openssl cms -sign -binary without -nodetach)".into(),
        ));
    }
    let infos: Vec<&SignerInfo> = sd.signer_infos.0.iter().collect();
    let [info] = infos.as_slice() else {
        return Err(SignatureProblem::Unsupported(format!(
            "{} signers in one file; uca expects one signer per stage file",
            infos.len()
        )));
    };
    let certs: Vec<Certificate> = sd
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let signer = certs
        .iter()
        .find(|c| match &info.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate().issuer() == &isn.issuer
                    && c.tbs_certificate().serial_number() == &isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => c
                .tbs_certificate()
                .get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, s)| s == ski.clone()),
        })
        .ok_or(SignatureProblem::SignerNotEmbedded)?;
    let signer_der = signer
        .to_der()
        .map_err(|e| SignatureProblem::NotCms(e.to_string()))?;
    let digest_oid = info.digest_alg.oid;
    let alg_der = x509_signature_alg(&info.signature_algorithm, &digest_oid)?;
    let digest_name = match digest_oid {
        SHA256 => "SHA-256",
        SHA384 => "SHA-384",
        SHA512 => "SHA-512",
        other => {
            return Err(SignatureProblem::Unsupported(format!(
                "digest algorithm {other} is not supported (SHA-256, SHA-384, SHA-512 are)"
            )));
        }
    };
    let mut signing_time = None;
    let mut description = None;
    match &info.signed_attrs {
        Some(attrs) => {
            let list: Vec<Attribute> = attrs.iter().cloned().collect();
            let ct = find_attr(&list, &ID_CONTENT_TYPE)
                .and_then(|a| a.decode_as::<ObjectIdentifier>().ok())
                .ok_or_else(|| {
                    SignatureProblem::NotCms("the content-type attribute is missing".into())
                })?;
            if ct != sd.encap_content_info.econtent_type {
                return Err(SignatureProblem::NotCms(
                    "the content-type attribute does not match the content".into(),
                ));
            }
            let md = find_attr(&list, &ID_MESSAGE_DIGEST)
                .and_then(|a| a.decode_as::<OctetString>().ok())
                .ok_or_else(|| {
                    SignatureProblem::NotCms("the message-digest attribute is missing".into())
                })?;
            let want = digest(&digest_oid, content)
                .ok_or_else(|| SignatureProblem::Unsupported("unsupported digest".into()))?;
            if md.as_bytes() != want.as_slice() {
                return Err(SignatureProblem::DigestMismatch);
            }
            signing_time = find_attr(&list, &ID_SIGNING_TIME).and_then(parse_time);
            description = find_attr(&list, &ID_CONTENT_HINT)
                .and_then(|a| a.decode_as::<ContentHints>().ok())
                .and_then(|h| h.description);
            let signed = attrs
                .to_der()
                .map_err(|e| SignatureProblem::NotCms(e.to_string()))?;
            check_signature(&signer_der, &alg_der, info.signature.as_bytes(), &signed)?;
        }
        // No signed attributes: the signature is over the content itself.
        None => match check_signature(&signer_der, &alg_der, info.signature.as_bytes(), content) {
            Err(SignatureProblem::BadSignature) => return Err(SignatureProblem::DigestMismatch),
            other => other?,
        },
    }
    let mut all = Vec::with_capacity(certs.len());
    for c in &certs {
        all.push(
            c.to_der()
                .map_err(|e| SignatureProblem::NotCms(e.to_string()))?,
        );
    }
    Ok(Opened {
        signer_der,
        certs: all,
        signing_time,
        description,
        digest: digest_name,
    })
}
