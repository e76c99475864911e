//! Key types, key generation, and PKCS#8 files (plain and PBES2-encrypted).

use std::fmt;
use std::str::FromStr;

use pkcs8::der::pem::LineEnding;
use pkcs8::der::{Decode, Encode};
use pkcs8::{EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use zeroize::Zeroizing;

use crate::PkiError;

/// The key algorithms uca generates and signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    EcP256,
    EcP384,
    Ed25519,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub const ALL: [KeyType; 6] = [
        KeyType::EcP256,
        KeyType::EcP384,
        KeyType::Ed25519,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    /// The flag value, e.g. `ec-p256`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Ed25519 => "ed25519",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    /// Comma-separated list of accepted names, for hints.
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    /// The signature algorithm a key of this type signs with (SHA-384 for P-384, as RFC 5480
    /// recommends pairing hash strength with curve size).
    pub fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &rcgen::PKCS_RSA_SHA256,
        }
    }

    /// Generates a fresh key pair from the operating system's CSPRNG.
    pub fn generate(self) -> Result<PrivateKey, PkiError> {
        let gen_err = |e: rcgen::Error| PkiError::KeyGeneration(e.to_string());
        let pair = match self {
            KeyType::Rsa2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyType::Rsa3072 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072)
            }
            KeyType::Rsa4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
            other => KeyPair::generate_for(other.signature_algorithm()),
        }
        .map_err(gen_err)?;
        Ok(PrivateKey {
            pair,
            key_type: self,
        })
    }

    /// Recognizes a DER SubjectPublicKeyInfo (from a certificate or a CSR).
    pub fn from_spki_der(spki: &[u8]) -> Result<KeyType, String> {
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;
        let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
            .map_err(|e| format!("unreadable public key: {e}"))?;
        let alg = info.algorithm.algorithm.to_id_string();
        match alg.as_str() {
            "1.2.840.113549.1.1.1" => {
                let bits = match info.parsed() {
                    Ok(PublicKey::RSA(rsa)) => rsa.key_size(),
                    _ => 0,
                };
                match bits {
                    2048 => Ok(KeyType::Rsa2048),
                    3072 => Ok(KeyType::Rsa3072),
                    4096 => Ok(KeyType::Rsa4096),
                    n => Err(format!(
                        "RSA key of {n} bits (uca signs RSA 2048, 3072 and 4096)"
                    )),
                }
            }
            "1.2.840.10045.2.1" => {
                let curve = info
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    "1.2.840.10045.3.1.7" => Ok(KeyType::EcP256),
                    "1.3.132.0.34" => Ok(KeyType::EcP384),
                    other => Err(format!("EC curve {other} (uca signs P-256 and P-384)")),
                }
            }
            "1.3.101.112" => Ok(KeyType::Ed25519),
            other => Err(format!("public key algorithm {other}")),
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase();
        let alias = match norm.as_str() {
            "p256" | "ecdsa-p256" | "ec" | "p-256" => "ec-p256",
            "p384" | "ecdsa-p384" | "p-384" => "ec-p384",
            "rsa" | "rsa2048" => "rsa-2048",
            "rsa3072" => "rsa-3072",
            "rsa4096" => "rsa-4096",
            other => other,
        };
        KeyType::ALL
            .into_iter()
            .find(|k| k.as_str() == alias)
            .ok_or_else(|| PkiError::UnknownKeyType(s.to_string()))
    }
}

/// A private key with its type. The secret material is zeroized on drop (rcgen's `KeyPair`
/// implements `Zeroize`) and never shows in `Debug`.
pub struct PrivateKey {
    pair: KeyPair,
    key_type: KeyType,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <secret>)", self.key_type)
    }
}

/// Parameters of the key-derivation used for encrypted keys, reported to users so the
/// deliberate cost of unlocking the CA is visible.
pub const KDF_DESCRIPTION: &str = "PBES2: scrypt (N=2^14, r=8, p=1) + AES-256-CBC";

impl PrivateKey {
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Signs `msg` with this key's signature algorithm (see [`KeyType::signature_algorithm`]):
    /// DER ECDSA, raw Ed25519 or PKCS#1 v1.5 RSA, as X.509 and CMS carry them.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, PkiError> {
        use rcgen::SigningKey;
        self.pair
            .sign(msg)
            .map_err(|e| PkiError::BadKey(format!("signing failed: {e}")))
    }

    pub(crate) fn pair(&self) -> &KeyPair {
        &self.pair
    }

    pub(crate) fn into_pair(self) -> KeyPair {
        self.pair
    }

    /// DER SubjectPublicKeyInfo of this key.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// Unencrypted PKCS#8 DER, version 1 (no embedded public key): OpenSSL 3.0 cannot read the
    /// v2 form that the Ed25519 backends produce.
    fn pkcs8_v1_der(&self) -> Result<Zeroizing<Vec<u8>>, PkiError> {
        let der = self.pair.serialized_der();
        let mut info =
            PrivateKeyInfoRef::from_der(der).map_err(|e| PkiError::BadKey(e.to_string()))?;
        if info.public_key.is_none() {
            return Ok(Zeroizing::new(der.to_vec()));
        }
        info.public_key = None;
        info.to_der()
            .map(Zeroizing::new)
            .map_err(|e| PkiError::BadKey(e.to_string()))
    }

    /// Unencrypted PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pem(&self) -> Result<Zeroizing<String>, PkiError> {
        let der = self.pkcs8_v1_der()?;
        pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, &der)
            .map(Zeroizing::new)
            .map_err(|e| PkiError::BadKey(e.to_string()))
    }

    /// Encrypted PKCS#8 PEM (`ENCRYPTED PRIVATE KEY`), see [`KDF_DESCRIPTION`].
    pub fn to_encrypted_pem(&self, passphrase: &[u8]) -> Result<Zeroizing<String>, PkiError> {
        let der = self.pkcs8_v1_der()?;
        let info =
            PrivateKeyInfoRef::from_der(&der).map_err(|e| PkiError::BadKey(e.to_string()))?;
        let doc = info
            .encrypt(passphrase)
            .map_err(|e| PkiError::BadKey(format!("encryption failed: {e}")))?;
        pkcs8::der::pem::encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, doc.as_bytes())
            .map(Zeroizing::new)
            .map_err(|e| PkiError::BadKey(e.to_string()))
    }

    /// Reads a PKCS#8 key from PEM (plain or encrypted) or DER. `passphrase` is only used for
    /// encrypted keys; an encrypted key without one is [`PkiError::PassphraseRequired`].
    pub fn from_pem_or_der(data: &[u8], passphrase: Option<&[u8]>) -> Result<PrivateKey, PkiError> {
        let (label, der) = if crate::pem::looks_like_pem(data) {
            let text = std::str::from_utf8(data)
                .map_err(|_| PkiError::BadKey("the PEM text is not UTF-8".into()))?;
            let blocks = crate::pem::blocks(text).map_err(|e| PkiError::BadKey(e.to_string()))?;
            let block = blocks
                .iter()
                .find(|b| b.label.ends_with("PRIVATE KEY"))
                .or(blocks.first())
                .ok_or_else(|| PkiError::BadKey("no PEM block".into()))?;
            (block.label.clone(), Zeroizing::new(block.der.clone()))
        } else if data.first() == Some(&0x30) {
            ("PRIVATE KEY".to_string(), Zeroizing::new(data.to_vec()))
        } else {
            return Err(PkiError::BadKey("not a PEM or DER key".into()));
        };
        let plain = match label.as_str() {
            "ENCRYPTED PRIVATE KEY" => {
                let pass = passphrase.ok_or(PkiError::PassphraseRequired)?;
                let enc = EncryptedPrivateKeyInfoRef::from_der(&der)
                    .map_err(|e| PkiError::BadKey(e.to_string()))?;
                check_kdf_cost(&enc.encryption_algorithm)?;
                let doc = enc.decrypt(pass).map_err(|_| PkiError::WrongPassphrase)?;
                Zeroizing::new(doc.as_bytes().to_vec())
            }
            "PRIVATE KEY" => der,
            other => {
                return Err(PkiError::BadKey(format!(
                    "PEM label '{other}' is not a PKCS#8 key (convert with 'openssl pkcs8 -topk8')"
                )));
            }
        };
        Self::from_pkcs8_der(&plain)
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, PkiError> {
        PrivateKeyInfoRef::from_der(der).map_err(|e| PkiError::BadKey(e.to_string()))?;
        let pair = KeyPair::try_from(der).map_err(|e| PkiError::BadKey(e.to_string()))?;
        let key_type =
            KeyType::from_spki_der(&pair.subject_public_key_info()).map_err(PkiError::BadKey)?;
        // RSA keys load with rcgen's default RSA algorithm; make sure we sign with ours.
        let pair = if key_type.is_rsa() && pair.algorithm() != key_type.signature_algorithm() {
            KeyPair::from_pkcs8_der_and_sign_algo(
                &der.to_vec().into(),
                key_type.signature_algorithm(),
            )
            .map_err(|e| PkiError::BadKey(e.to_string()))?
        } else {
            pair
        };
        Ok(PrivateKey { pair, key_type })
    }
}

/// The most memory an encrypted key's scrypt may ask for (128·N·r bytes): 64 MiB, four times
/// what uca writes (N=2^14, r=8) and twice OpenSSL's default limit.
const MAX_SCRYPT_MEMORY: u64 = 64 << 20;
/// The most scrypt work (128·N·r·p bytes mixed) and PBKDF2 iterations a key file may ask for.
const MAX_SCRYPT_WORK: u64 = 256 << 20;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Refuses key-derivation parameters that would take gigabytes or minutes before the
/// passphrase is even tried: a key file's header must not be able to exhaust the machine.
fn check_kdf_cost(scheme: &pkcs8::pkcs5::EncryptionScheme) -> Result<(), PkiError> {
    use pkcs8::pkcs5::EncryptionScheme;
    use pkcs8::pkcs5::pbes2::Kdf;
    let EncryptionScheme::Pbes2(params) = scheme else {
        return Ok(());
    };
    match &params.kdf {
        Kdf::Scrypt(s) => {
            let (n, r, p) = (
                s.cost_parameter,
                u64::from(s.block_size),
                u64::from(s.parallelization),
            );
            let memory = n.checked_mul(r).and_then(|x| x.checked_mul(128));
            let work = memory.and_then(|m| m.checked_mul(p));
            if memory.is_none_or(|m| m > MAX_SCRYPT_MEMORY)
                || work.is_none_or(|w| w > MAX_SCRYPT_WORK)
            {
                return Err(PkiError::BadKey(format!(
                    "the key's scrypt parameters (N={n}, r={r}, p={p}) ask for more than uca allows (at most {} MiB)",
                    MAX_SCRYPT_MEMORY >> 20
                )));
            }
        }
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ITERATIONS => {
            return Err(PkiError::BadKey(format!(
                "the key's PBKDF2 iteration count ({}) is more than uca allows ({MAX_PBKDF2_ITERATIONS})",
                p.iteration_count
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Reports whether a key file is encrypted, without decrypting it.
pub fn is_encrypted_pem(data: &[u8]) -> bool {
    std::str::from_utf8(data)
        .map(|s| s.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        .unwrap_or(false)
}

/// A strong random passphrase for `uca init --generate-passphrase`: 32 characters from an
/// unambiguous alphabet (about 160 bits), in dash-separated groups so a person can copy it.
pub fn generate_passphrase() -> Result<Zeroizing<String>, PkiError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = Zeroizing::new(String::with_capacity(40));
    let mut count = 0;
    while count < 32 {
        let mut b = [0u8; 1];
        getrandom::fill(&mut b).map_err(|e| PkiError::KeyGeneration(e.to_string()))?;
        // Rejection sampling keeps the choice uniform.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(b[0]) >= limit {
            continue;
        }
        if count > 0 && count % 8 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(b[0]) % ALPHABET.len()]));
        count += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_type_round_trips_through_encrypted_pem() {
        for kt in [
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Ed25519,
            KeyType::Rsa2048,
        ] {
            let key = kt.generate().unwrap();
            let pem = key.to_encrypted_pem(b"pw").unwrap();
            let back = PrivateKey::from_pem_or_der(pem.as_bytes(), Some(b"pw")).unwrap();
            assert_eq!(back.key_type(), kt);
            assert_eq!(back.public_key_der(), key.public_key_der());
            assert!(matches!(
                PrivateKey::from_pem_or_der(pem.as_bytes(), Some(b"wrong")),
                Err(PkiError::WrongPassphrase)
            ));
            assert!(matches!(
                PrivateKey::from_pem_or_der(pem.as_bytes(), None),
                Err(PkiError::PassphraseRequired)
            ));
        }
    }

    #[test]
    fn key_type_names_parse() {
        for kt in KeyType::ALL {
            assert_eq!(kt.as_str().parse::<KeyType>().unwrap(), kt);
        }
        assert!("dsa".parse::<KeyType>().is_err());
    }
}
