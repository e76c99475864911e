//! Building and signing certificates: the self-signed root and leaves under a CA.

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData};
use time::OffsetDateTime;

use crate::constraints::NameConstraints;
use crate::crl::{RevokedEntry, SignedCrl};
use crate::inspect::parse_certificate;
use crate::validity::Validity;
use crate::{Fingerprint, KeyType, PkiError, PrivateKey, Profile, San, Serial, Subject};

/// A freshly signed certificate with the facts the ledger records.
#[derive(Debug, Clone)]
pub struct SignedCert {
    pub der: Vec<u8>,
    pub pem: String,
    pub serial: Serial,
    pub fingerprint: Fingerprint,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl SignedCert {
    fn from_rcgen(cert: rcgen::Certificate, serial: Serial, validity: &Validity) -> SignedCert {
        let der = cert.der().to_vec();
        SignedCert {
            pem: cert.pem(),
            fingerprint: Fingerprint::of_der(&der),
            der,
            serial,
            not_before: validity.not_before,
            not_after: validity.not_after,
        }
    }
}

/// What a leaf certificate should say. The profile decides the extensions.
#[derive(Debug, Clone)]
pub struct LeafRequest {
    /// Subject with the CN (CN is dropped if longer than the 64-character X.520 bound;
    /// the SAN then carries the name and is marked critical if the subject ends up empty).
    pub subject: Subject,
    pub sans: Vec<San>,
    pub profile: Profile,
    pub validity: Validity,
    pub serial: Serial,
}

/// What an intermediate CA certificate should say.
#[derive(Debug, Clone)]
pub struct CaRequest {
    pub subject: Subject,
    pub validity: Validity,
    pub serial: Serial,
    /// pathLenConstraint: how many CAs may sit below this one (0: it signs leaves only).
    pub path_len: u8,
    pub constraints: NameConstraints,
}

/// A public key to certify, from a CSR (the private key stays with the requester).
#[derive(Debug, Clone)]
pub struct PublicKey {
    spki: rcgen::SubjectPublicKeyInfo,
    key_type: KeyType,
}

impl PublicKey {
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey, PkiError> {
        let key_type = KeyType::from_spki_der(der).map_err(PkiError::UnsupportedCsrKey)?;
        let spki = rcgen::SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| PkiError::UnsupportedCsrKey(e.to_string()))?;
        Ok(PublicKey { spki, key_type })
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }
}

/// The root key of a CA: the self-signed certificate's parameters.
pub fn self_signed_root(
    subject: &Subject,
    key: &PrivateKey,
    validity: &Validity,
    serial: Serial,
) -> Result<SignedCert, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject.to_rcgen()?;
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(serial.as_bytes()));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = key_identifier(key.pair());
    let cert = params
        .self_signed(key.pair())
        .map_err(|e| PkiError::Signing(e.to_string()))?;
    Ok(SignedCert::from_rcgen(cert, serial, validity))
}

/// A CA certificate with its unlocked key, ready to sign.
pub struct CaSigner {
    issuer: rcgen::Issuer<'static, KeyPair>,
    key_type: KeyType,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    /// The CA certificate's subjectKeyIdentifier: the AKI of everything it signs.
    key_id: Vec<u8>,
    /// basicConstraints pathLenConstraint (None: unlimited).
    path_len: Option<u32>,
    constraints: Option<NameConstraints>,
}

impl std::fmt::Debug for CaSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaSigner({}, <key>)", self.key_type)
    }
}

impl CaSigner {
    /// Pairs a CA certificate with its key, refusing a key that does not belong to it or a
    /// certificate that cannot sign certificates.
    pub fn new(ca_cert_der: &[u8], key: PrivateKey) -> Result<CaSigner, PkiError> {
        let info = parse_certificate(ca_cert_der)?;
        if !info.is_ca {
            return Err(PkiError::BadCertificate(
                "the CA certificate is not a CA (basicConstraints CA:FALSE)".into(),
            ));
        }
        if info.spki_der != key.public_key_der() {
            return Err(PkiError::BadKey(
                "the CA key does not match the CA certificate".into(),
            ));
        }
        let key_type = key.key_type();
        let pair = key.into_pair();
        let issuer = rcgen::Issuer::from_ca_cert_der(&ca_cert_der.to_vec().into(), pair)
            .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        if !issuer.key_usages().is_empty()
            && !issuer.key_usages().contains(&KeyUsagePurpose::KeyCertSign)
        {
            return Err(PkiError::BadCertificate(
                "the CA certificate's keyUsage lacks keyCertSign".into(),
            ));
        }
        let key_id = info.subject_key_id.clone().unwrap_or_else(|| {
            key_identifier_bytes(&rcgen::SubjectPublicKeyInfo::from_der(&info.spki_der).ok())
        });
        let constraints = NameConstraints::from_cert_der(ca_cert_der)?;
        Ok(CaSigner {
            issuer,
            key_type,
            not_before: info.not_before,
            not_after: info.not_after,
            key_id,
            path_len: info.path_len,
            constraints,
        })
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The CA's own validity window, which every leaf must fit inside.
    pub fn window(&self) -> (OffsetDateTime, OffsetDateTime) {
        (self.not_before, self.not_after)
    }

    /// The CA's name constraints, if its certificate has them.
    pub fn constraints(&self) -> Option<&NameConstraints> {
        self.constraints.as_ref()
    }

    /// The CA's pathLenConstraint (None: unlimited).
    pub fn path_len(&self) -> Option<u32> {
        self.path_len
    }

    /// Signs a CRL listing `entries`.
    pub fn sign_crl(
        &self,
        entries: &[RevokedEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<SignedCrl, PkiError> {
        let params = crate::crl::crl_params(
            entries,
            number,
            this_update,
            next_update,
            self.key_id.clone(),
        )?;
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|e| PkiError::Signing(e.to_string()))?;
        let der = crl.der().to_vec();
        let pem = crl.pem().map_err(|e| PkiError::Signing(e.to_string()))?;
        Ok(SignedCrl {
            der,
            pem,
            number,
            this_update,
            next_update,
            entries: entries.len(),
        })
    }

    /// Signs an intermediate CA certificate for a key uca generated.
    pub fn sign_intermediate(
        &self,
        req: &CaRequest,
        key: &PrivateKey,
    ) -> Result<SignedCert, PkiError> {
        self.sign_ca(req, key.pair())
    }

    /// Signs an intermediate CA certificate for the public key of a CSR (Vault, OpenBao, …).
    pub fn sign_intermediate_for(
        &self,
        req: &CaRequest,
        key: &PublicKey,
    ) -> Result<SignedCert, PkiError> {
        self.sign_ca(req, &key.spki)
    }

    fn sign_ca(
        &self,
        req: &CaRequest,
        public_key: &impl PublicKeyData,
    ) -> Result<SignedCert, PkiError> {
        if let Some(parent) = self.path_len {
            if parent == 0 {
                return Err(PkiError::ConstraintViolation(
                    "this CA's pathLenConstraint is 0: it may not sign other CAs".into(),
                ));
            }
            if u32::from(req.path_len) >= parent {
                return Err(PkiError::ConstraintViolation(format!(
                    "this CA's pathLenConstraint is {parent}, so an intermediate below it may have at most {}",
                    parent - 1
                )));
            }
        }
        if let Some(ours) = &self.constraints {
            ours.check_child(&req.constraints)
                .map_err(PkiError::ConstraintViolation)?;
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = req.subject.to_rcgen()?;
        params.not_before = req.validity.not_before;
        params.not_after = req.validity.not_after;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(req.serial.as_bytes()));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(req.path_len));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = key_identifier(public_key);
        if !req.constraints.is_empty() {
            params.name_constraints = Some(req.constraints.to_rcgen());
        }
        let cert = params
            .signed_by(public_key, &self.issuer)
            .map_err(|e| PkiError::Signing(e.to_string()))?;
        Ok(SignedCert::from_rcgen(
            cert,
            req.serial.clone(),
            &req.validity,
        ))
    }

    /// Signs a leaf for a key uca generated.
    pub fn sign_leaf(&self, req: &LeafRequest, key: &PrivateKey) -> Result<SignedCert, PkiError> {
        self.sign(req, key.key_type(), key.pair())
    }

    /// Signs a leaf for a public key from a CSR.
    pub fn sign_leaf_for(
        &self,
        req: &LeafRequest,
        key: &PublicKey,
    ) -> Result<SignedCert, PkiError> {
        self.sign(req, key.key_type, &key.spki)
    }

    fn sign(
        &self,
        req: &LeafRequest,
        key_type: KeyType,
        public_key: &impl PublicKeyData,
    ) -> Result<SignedCert, PkiError> {
        let mut params = CertificateParams::default();
        let mut subject = req.subject.clone();
        if subject
            .common_name
            .as_ref()
            .is_some_and(|cn| cn.chars().count() > 64)
        {
            subject.common_name = None;
        }
        // Relying parties (OpenSSL among them) check a hostname-like CN against a CA's DNS
        // constraints when the certificate has no DNS SAN: a CN such as "10.0.0.5" would then
        // fail. The SAN carries the name; under DNS constraints the CN must be a permitted DNS
        // name or go.
        if let (Some(nc), Some(cn)) = (&self.constraints, &subject.common_name) {
            let permitted = matches!(San::parse(cn), Ok(San::Dns(ref d)) if nc.check(&San::Dns(d.clone())).is_ok());
            if !nc.permitted_dns.is_empty() && !permitted {
                subject.common_name = None;
            }
        }
        params.distinguished_name = subject.to_rcgen()?;
        params.not_before = req.validity.not_before;
        params.not_after = req.validity.not_after;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(req.serial.as_bytes()));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = req.profile.key_usages(key_type.is_rsa());
        params.extended_key_usages = req.profile.extended_key_usages();
        params.use_authority_key_identifier_extension = true;
        params.key_identifier_method = key_identifier(public_key);
        params.subject_alt_names = req
            .sans
            .iter()
            .map(San::to_rcgen)
            .collect::<Result<_, _>>()
            .map_err(|e| PkiError::Signing(e.to_string()))?;
        if let Some(nc) = &self.constraints {
            for san in &req.sans {
                nc.check(san).map_err(PkiError::ConstraintViolation)?;
            }
        }
        if params.subject_alt_names.is_empty() {
            return Err(PkiError::Signing(
                "a leaf certificate needs at least one SAN".into(),
            ));
        }
        let cert = params
            .signed_by(public_key, &self.issuer)
            .map_err(|e| PkiError::Signing(e.to_string()))?;
        Ok(SignedCert::from_rcgen(
            cert,
            req.serial.clone(),
            &req.validity,
        ))
    }
}

/// The subject key identifier, by RFC 7093 section 2 method 1: the leftmost 160 bits of the
/// SHA-256 of the subjectPublicKey BIT STRING value (not of the whole SubjectPublicKeyInfo),
/// a method linters and other CAs recognize.
fn key_identifier(public_key: &impl PublicKeyData) -> rcgen::KeyIdMethod {
    rcgen::KeyIdMethod::PreSpecified(key_identifier_bytes(&Some(public_key)))
}

fn key_identifier_bytes(public_key: &Option<impl PublicKeyData>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    match public_key {
        Some(k) => Sha256::digest(k.der_bytes())[..20].to_vec(),
        None => Vec::new(),
    }
}
