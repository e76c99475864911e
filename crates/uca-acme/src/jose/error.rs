//! What can be wrong with a JWS or a JWK, in the categories ACME's problem types need.

/// Why a JWS, a JWK or an external account binding was refused.
///
/// Each variant maps to one ACME problem type (RFC 8555 §6.7), see [`JoseError::acme_type`]; the
/// text says what was wrong (which member, which algorithm) so a client author can fix it. No
/// variant ever carries key material or signature bytes, and client-supplied strings are
/// shortened before they are quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// The request is not a JWS as RFC 8555 §6.2 allows: not the flattened JSON serialization,
    /// a member missing or of the wrong type, bad base64url, an unsupported header (`crit`,
    /// `b64`), both or neither of `jwk`/`kid`.
    #[error("{0}")]
    Malformed(String),
    /// The `alg` is not one this server verifies, or does not fit the key (ES256 with a P-384
    /// key, RS256 with an EC key). `alg` is the client's value, shortened if long.
    #[error("JWS algorithm {alg:?} is not accepted for this key; accepted algorithms: {}", super::ALGORITHMS.join(", "))]
    BadSignatureAlgorithm {
        /// The `alg` header value as the client sent it (shortened).
        alg: String,
    },
    /// The signature (or the external account binding's MAC) does not verify.
    #[error("JWS signature is invalid")]
    BadSignature,
    /// The JWK is not a valid public key: a private member is present, a coordinate has the
    /// wrong length, the point is not on the curve, the RSA exponent is even.
    #[error("bad public key: {0}")]
    BadPublicKey(String),
    /// The JWK is well formed but of a kind this server does not accept: an unknown `kty` or
    /// curve, a symmetric key, an RSA modulus shorter than 2048 or longer than 8192 bits.
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
}

impl JoseError {
    /// The ACME problem type (the part after `urn:ietf:params:acme:error:`) this error is
    /// reported as. `BadSignature` is `malformed`, as RFC 8555 has no type of its own for it;
    /// a failed external account binding MAC may deserve `unauthorized`, which the caller
    /// knows and this layer does not.
    #[must_use]
    pub fn acme_type(&self) -> &'static str {
        match self {
            Self::Malformed(_) | Self::BadSignature => "malformed",
            Self::BadSignatureAlgorithm { .. } => "badSignatureAlgorithm",
            Self::BadPublicKey(_) | Self::UnsupportedKey(_) => "badPublicKey",
        }
    }
}

/// A client-supplied string made safe to quote in an error: at most 64 characters (cut on a
/// character boundary, "…" appended), Debug-escaped with its quotes.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}…", s.get(..cut).unwrap_or_default()),
    }
}

/// The alg as [`JoseError::BadSignatureAlgorithm`] carries it: the client's value, shortened.
pub(crate) fn bad_alg(alg: &str) -> JoseError {
    const MAX: usize = 64;
    let alg = match alg.char_indices().nth(MAX) {
        None => alg.to_owned(),
        Some((cut, _)) => format!("{}…", alg.get(..cut).unwrap_or_default()),
    };
    JoseError::BadSignatureAlgorithm { alg }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_quotes_escapes_and_shortens() {
        assert_eq!(shown("ES256"), "\"ES256\"");
        assert_eq!(shown("a\"b\n"), "\"a\\\"b\\n\"");
        let long = "é".repeat(100);
        let s = shown(&long);
        assert!(s.ends_with('…'));
        assert_eq!(s.chars().filter(|c| *c == 'é').count(), 64);
        let JoseError::BadSignatureAlgorithm { alg } = bad_alg(&long) else {
            panic!("wrong variant")
        };
        assert_eq!(alg.chars().count(), 65);
    }

    #[test]
    fn problem_types() {
        assert_eq!(JoseError::Malformed(String::new()).acme_type(), "malformed");
        assert_eq!(JoseError::BadSignature.acme_type(), "malformed");
        assert_eq!(bad_alg("none").acme_type(), "badSignatureAlgorithm");
        assert_eq!(
            JoseError::BadPublicKey(String::new()).acme_type(),
            "badPublicKey"
        );
        assert_eq!(
            JoseError::UnsupportedKey(String::new()).acme_type(),
            "badPublicKey"
        );
        let msg = bad_alg("none").to_string();
        assert!(msg.contains("\"none\"") && msg.contains("ES256"), "{msg}");
    }
}
