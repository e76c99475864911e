//! Errors of the X.509 domain, carrying the facts a user needs to fix the input.

use thiserror::Error;

/// Everything that can go wrong while building, signing or parsing PKI objects.
#[derive(Debug, Error)]
pub enum PkiError {
    #[error("unknown key type '{0}'")]
    UnknownKeyType(String),
    #[error("unknown profile '{0}'")]
    UnknownProfile(String),
    #[error("the private key could not be decrypted: wrong passphrase or corrupted key file")]
    WrongPassphrase,
    #[error("the private key is encrypted and no passphrase was given")]
    PassphraseRequired,
    #[error("the private key is not readable: {0}")]
    BadKey(String),
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("the CSR is not a valid PKCS#10 request: {0}")]
    BadCsr(String),
    #[error(
        "the CSR's self-signature does not verify: it was altered or was not made with the key it carries"
    )]
    CsrSignature,
    #[error("the CSR uses a key type uca does not sign: {0}")]
    UnsupportedCsrKey(String),
    #[error("the certificate is not valid X.509: {0}")]
    BadCertificate(String),
    #[error("invalid subject '{input}': {reason}")]
    BadSubject { input: String, reason: String },
    #[error("invalid validity: {0}")]
    BadValidity(String),
    #[error("unknown revocation reason '{0}'")]
    UnknownReason(String),
    #[error("the CRL is not usable: {0}")]
    BadCrl(String),
    #[error("invalid name constraint '{input}': {reason}")]
    BadConstraint { input: String, reason: String },
    #[error("{0}")]
    ConstraintViolation(String),
}
