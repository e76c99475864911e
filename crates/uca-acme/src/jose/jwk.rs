//! Public JSON Web Keys (RFC 7517, 7518 §6, RFC 8037) as ACME account keys: parsed strictly,
//! compared by their canonical members, thumbprinted (RFC 7638) and written as DER SPKI.

use aws_lc_rs::signature::{
    self, EcdsaVerificationAlgorithm, ParsedPublicKey, RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::{Map, Value};

use super::error::shown;
use super::{Alg, JoseError, b64_decode, b64_encode, spki};

/// An elliptic curve an EC account key may be on (RFC 7518 §6.2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1), signs ES256.
    P256,
    /// NIST P-384 (secp384r1), signs ES384.
    P384,
    /// NIST P-521 (secp521r1), signs ES512.
    P521,
}

impl Curve {
    /// The JWK `crv` value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
        }
    }

    /// The one algorithm a key on this curve signs with (RFC 7518 §3.4 ties the curve to the
    /// hash, so ES256 with a P-384 key is refused).
    #[must_use]
    pub fn alg(self) -> Alg {
        match self {
            Curve::P256 => Alg::Es256,
            Curve::P384 => Alg::Es384,
            Curve::P521 => Alg::Es512,
        }
    }

    /// Octets in a coordinate (and in each of r and s of a signature): RFC 7518 §6.2.1.2 wants
    /// exactly this many, leading zeros included.
    fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    fn parse(crv: &str) -> Option<Curve> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.name() == crv)
    }

    fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
        }
    }

    fn spki_algorithm(self) -> &'static [u8] {
        match self {
            Curve::P256 => spki::ALG_EC_P256,
            Curve::P384 => spki::ALG_EC_P384,
            Curve::P521 => spki::ALG_EC_P521,
        }
    }
}

/// Smallest RSA modulus accepted, in bits: what the CA/Browser Forum and aws-lc's
/// `RSA_*_2048_8192_*` verifiers require.
const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: aws-lc verifies nothing longer, and a longer key only
/// costs the server time.
const RSA_MAX_BITS: usize = 8192;
/// Largest RSA public exponent accepted, in bits: aws-lc refuses longer exponents, and every
/// real key uses 65537 or 3.
const RSA_MAX_EXPONENT_BITS: usize = 33;
/// Ed25519 public keys are 32 octets (RFC 8032 §5.1.5).
const ED25519_LEN: usize = 32;
/// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1,
/// RFC 8037 §2). An account key sent with its private half is refused rather than stripped:
/// the client has leaked it, and the server must not store or echo it.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A validated public key from a JWK: an EC key on P-256/P-384/P-521, an RSA key of 2048 to 8192
/// bits, or an Ed25519 key.
///
/// Opaque so that every `Jwk` has passed [`Jwk::from_json`]'s checks. Equality is equality of
/// the key itself (the RFC 7638 required members), so two JWKs of one key with different
/// optional members (`kid`, `use`, `alg`) are equal, as RFC 8555 §7.3.4 and §7.3.5 need when
/// comparing keys. Members other than the required ones are ignored, `alg` included: RFC 8555
/// ties algorithm to key type only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Jwk {
    key: Key,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    /// `x` and `y` are exactly `crv.coordinate_len()` octets; the point is on the curve.
    Ec { crv: Curve, x: Vec<u8>, y: Vec<u8> },
    /// `n` is 2048..=8192 bits, odd, without leading zero octets; `e` is odd, > 1, at most 33
    /// bits, without leading zero octets.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// `x` is 32 octets.
    Ed25519 { x: Vec<u8> },
}

impl Jwk {
    /// Parses a public JWK, refusing anything that is not a usable public key.
    ///
    /// Refused: a non-object; a missing or non-string `kty`, `crv`, `x`, `y`, `n`, `e`; bad
    /// base64url; any private member (`d`, RSA's `p` `q` `dp` `dq` `qi` `oth`, symmetric `k`);
    /// EC coordinates not of the curve's exact length or a point not on the curve; an RSA `n`
    /// or `e` with a leading zero octet, `n` even or outside 2048..=8192 bits, `e` even, 1, or
    /// longer than 33 bits; an Ed25519 key not of 32 octets. Key types and curves other than
    /// EC P-256/384/521, RSA and OKP Ed25519 are [`JoseError::UnsupportedKey`]; everything
    /// else is [`JoseError::BadPublicKey`].
    ///
    /// An Ed25519 key is checked for length only: aws-lc decodes the point when verifying, so
    /// a key that is not a valid point verifies nothing.
    pub fn from_json(v: &Value) -> Result<Jwk, JoseError> {
        let obj = v
            .as_object()
            .ok_or_else(|| JoseError::BadPublicKey("the JWK is not a JSON object".into()))?;
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(JoseError::BadPublicKey(format!(
                "the JWK has the private member {}; send the public key only",
                shown(m)
            )));
        }
        match string_member(obj, "kty")? {
            "EC" => parse_ec(obj),
            "RSA" => parse_rsa(obj),
            "OKP" => parse_okp(obj),
            "oct" => Err(JoseError::UnsupportedKey(
                "a symmetric (\"oct\") JWK cannot be an account key".into(),
            )),
            other => Err(JoseError::UnsupportedKey(format!(
                "JWK key type {} is not supported (EC, RSA and OKP are)",
                shown(other)
            ))),
        }
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members, in lexicographic order and
    /// without whitespace, base64url-encoded. ACME uses it in key authorizations (RFC 8555
    /// §8.1); it is also a stable identifier of the key.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.canonical_json().as_bytes());
        b64_encode(digest.as_ref())
    }

    /// The canonical public JWK: only the required members (`crv`,`kty`,`x`,`y` for EC,
    /// `e`,`kty`,`n` for RSA, `crv`,`kty`,`x` for OKP). This is what an account object shows
    /// and what the server stores; parsing it back gives an equal `Jwk`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match &self.key {
            Key::Ec { crv, x, y } => {
                m.insert("crv".into(), crv.name().into());
                m.insert("kty".into(), "EC".into());
                m.insert("x".into(), b64_encode(x).into());
                m.insert("y".into(), b64_encode(y).into());
            }
            Key::Rsa { n, e } => {
                m.insert("e".into(), b64_encode(e).into());
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), b64_encode(n).into());
            }
            Key::Ed25519 { x } => {
                m.insert("crv".into(), "Ed25519".into());
                m.insert("kty".into(), "OKP".into());
                m.insert("x".into(), b64_encode(x).into());
            }
        }
        Value::Object(m)
    }

    /// The DER `SubjectPublicKeyInfo` of the key, byte for byte what `openssl pkey -pubout
    /// -outform DER` writes: id-ecPublicKey with the named curve and the uncompressed point,
    /// rsaEncryption with NULL parameters, or id-Ed25519. RFC 8555 §11.1 forbids a certificate
    /// for the account key; comparing this with a CSR's SPKI bytes detects that.
    #[must_use]
    pub fn spki_der(&self) -> Vec<u8> {
        match &self.key {
            Key::Ec { crv, x, y } => spki::ec(crv.spki_algorithm(), x, y),
            Key::Rsa { n, e } => spki::rsa(n, e),
            Key::Ed25519 { x } => spki::ed25519(x),
        }
    }

    /// Whether this key signs with `alg`: an EC key only with its curve's algorithm (P-256
    /// ES256, P-384 ES384, P-521 ES512), an RSA key with RS256/384/512 and PS256/384/512, an
    /// Ed25519 key with EdDSA.
    #[must_use]
    pub fn accepts(&self, alg: Alg) -> bool {
        match &self.key {
            Key::Ec { crv, .. } => crv.alg() == alg,
            Key::Rsa { .. } => matches!(
                alg,
                Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512
            ),
            Key::Ed25519 { .. } => alg == Alg::EdDsa,
        }
    }

    /// The JWK `kty`: "EC", "RSA" or "OKP".
    #[must_use]
    pub fn kty(&self) -> &'static str {
        match &self.key {
            Key::Ec { .. } => "EC",
            Key::Rsa { .. } => "RSA",
            Key::Ed25519 { .. } => "OKP",
        }
    }

    /// The curve of an EC key, `None` for RSA and Ed25519.
    #[must_use]
    pub fn curve(&self) -> Option<Curve> {
        match &self.key {
            Key::Ec { crv, .. } => Some(*crv),
            Key::Rsa { .. } | Key::Ed25519 { .. } => None,
        }
    }

    /// Verifies `sig` over `message` with `alg`. A signature of the wrong length for the key
    /// (ECDSA r||s is twice the coordinate length, RSA as long as the modulus, Ed25519 64
    /// octets) is [`JoseError::BadSignature`]; an `alg` the key does not sign with is
    /// [`JoseError::BadSignatureAlgorithm`].
    pub(crate) fn verify_signature(
        &self,
        alg: Alg,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        self.verify_signature_with(None, alg, message, sig)
    }

    /// [`Jwk::verify_signature`] with the key already decoded, when the caller has it.
    fn verify_signature_with(
        &self,
        parsed: Option<&ParsedPublicKey>,
        alg: Alg,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        if !self.accepts(alg) {
            return Err(super::error::bad_alg(alg.as_str()));
        }
        let verified = match &self.key {
            Key::Ec { crv, x, y } => {
                if sig.len() != 2 * crv.coordinate_len() {
                    return Err(JoseError::BadSignature);
                }
                match parsed {
                    Some(key) => key.verify_sig(message, sig),
                    None => UnparsedPublicKey::new(crv.verification(), sec1_point(x, y))
                        .verify(message, sig),
                }
            }
            Key::Rsa { n, e } => {
                if sig.len() != n.len() {
                    return Err(JoseError::BadSignature);
                }
                let params = match alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    Alg::Es256 | Alg::Es384 | Alg::Es512 | Alg::EdDsa => {
                        return Err(super::error::bad_alg(alg.as_str()));
                    }
                };
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(params, message, sig)
            }
            Key::Ed25519 { x } => {
                if sig.len() != 64 {
                    return Err(JoseError::BadSignature);
                }
                match parsed {
                    Some(key) => key.verify_sig(message, sig),
                    None => UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig),
                }
            }
        };
        verified.map_err(|_| JoseError::BadSignature)
    }
}

/// A key that verifies many signatures: the JWK with its public key decoded once. Decoding an
/// EC point and checking it is on the curve costs about a tenth of a P-256 verification, paid
/// on every request of an account otherwise. (RSA keys are used as they are.)
#[derive(Clone)]
pub struct VerifyingKey {
    jwk: Jwk,
    parsed: Option<ParsedPublicKey>,
}

impl VerifyingKey {
    #[must_use]
    pub fn new(jwk: Jwk) -> VerifyingKey {
        // A key that does not decode is left to the plain path, which refuses every signature.
        let parsed = match &jwk.key {
            Key::Ec { crv, x, y } => {
                ParsedPublicKey::new(crv.verification(), sec1_point(x, y)).ok()
            }
            Key::Ed25519 { x } => ParsedPublicKey::new(&signature::ED25519, x).ok(),
            Key::Rsa { .. } => None,
        };
        VerifyingKey { jwk, parsed }
    }

    #[must_use]
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    pub(crate) fn verify_signature(
        &self,
        alg: Alg,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), JoseError> {
        self.jwk
            .verify_signature_with(self.parsed.as_ref(), alg, message, sig)
    }
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.jwk.fmt(f)
    }
}

impl std::fmt::Display for Jwk {
    /// What kind of key this is, for messages and logs: "EC P-256", "RSA 2048-bit", "Ed25519".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            Key::Ec { crv, .. } => write!(f, "EC {}", crv.name()),
            Key::Rsa { n, .. } => write!(f, "RSA {}-bit", bit_len(n)),
            Key::Ed25519 { .. } => f.write_str("Ed25519"),
        }
    }
}

impl std::fmt::Debug for Jwk {
    /// The kind of key and its thumbprint: enough to tell keys apart without dumping them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kind", &self.to_string())
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl Jwk {
    /// The JSON the thumbprint hashes (RFC 7638 §3.2): required members, sorted, no whitespace.
    /// Every value is base64url or a fixed name, so no escaping is needed.
    fn canonical_json(&self) -> String {
        match &self.key {
            Key::Ec { crv, x, y } => format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                crv.name(),
                b64_encode(x),
                b64_encode(y)
            ),
            Key::Rsa { n, e } => format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64_encode(e),
                b64_encode(n)
            ),
            Key::Ed25519 { x } => {
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64_encode(x))
            }
        }
    }
}

fn parse_ec(obj: &Map<String, Value>) -> Result<Jwk, JoseError> {
    let crv_name = string_member(obj, "crv")?;
    let crv = Curve::parse(crv_name).ok_or_else(|| {
        JoseError::UnsupportedKey(format!(
            "EC curve {} is not supported (P-256, P-384 and P-521 are)",
            shown(crv_name)
        ))
    })?;
    let x = coordinate(obj, "x", crv)?;
    let y = coordinate(obj, "y", crv)?;
    // aws-lc decodes the point and runs EC_KEY_check_key: on the curve, not the identity.
    ParsedPublicKey::new(crv.verification(), sec1_point(&x, &y)).map_err(|_| {
        JoseError::BadPublicKey(format!("the EC point is not on curve {}", crv.name()))
    })?;
    Ok(Jwk {
        key: Key::Ec { crv, x, y },
    })
}

fn coordinate(obj: &Map<String, Value>, name: &str, crv: Curve) -> Result<Vec<u8>, JoseError> {
    let bytes = bytes_member(obj, name)?;
    if bytes.len() != crv.coordinate_len() {
        return Err(JoseError::BadPublicKey(format!(
            "JWK member {} is {} octets; {} coordinates are exactly {}",
            shown(name),
            bytes.len(),
            crv.name(),
            crv.coordinate_len()
        )));
    }
    Ok(bytes)
}

fn parse_rsa(obj: &Map<String, Value>) -> Result<Jwk, JoseError> {
    let n = unsigned_member(obj, "n")?;
    let e = unsigned_member(obj, "e")?;
    let bits = bit_len(&n);
    if bits < RSA_MIN_BITS {
        return Err(JoseError::UnsupportedKey(format!(
            "the RSA modulus is {bits} bits; at least {RSA_MIN_BITS} are required"
        )));
    }
    if bits > RSA_MAX_BITS {
        return Err(JoseError::UnsupportedKey(format!(
            "the RSA modulus is {bits} bits; at most {RSA_MAX_BITS} are supported"
        )));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(JoseError::BadPublicKey("the RSA modulus is even".into()));
    }
    if e.last().is_none_or(|b| b & 1 == 0) {
        return Err(JoseError::BadPublicKey(
            "the RSA public exponent is even".into(),
        ));
    }
    if e == [1] {
        return Err(JoseError::BadPublicKey(
            "the RSA public exponent is 1".into(),
        ));
    }
    if bit_len(&e) > RSA_MAX_EXPONENT_BITS {
        return Err(JoseError::UnsupportedKey(format!(
            "the RSA public exponent is {} bits; at most {RSA_MAX_EXPONENT_BITS} are supported",
            bit_len(&e)
        )));
    }
    Ok(Jwk {
        key: Key::Rsa { n, e },
    })
}

fn parse_okp(obj: &Map<String, Value>) -> Result<Jwk, JoseError> {
    let crv = string_member(obj, "crv")?;
    if crv != "Ed25519" {
        return Err(JoseError::UnsupportedKey(format!(
            "OKP curve {} is not supported (Ed25519 is)",
            shown(crv)
        )));
    }
    let x = bytes_member(obj, "x")?;
    if x.len() != ED25519_LEN {
        return Err(JoseError::BadPublicKey(format!(
            "JWK member \"x\" is {} octets; Ed25519 keys are exactly {ED25519_LEN}",
            x.len()
        )));
    }
    Ok(Jwk {
        key: Key::Ed25519 { x },
    })
}

/// A required string member of the JWK.
fn string_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::BadPublicKey(format!(
            "JWK member {} is not a string",
            shown(name)
        ))),
        None => Err(JoseError::BadPublicKey(format!(
            "the JWK has no {} member",
            shown(name)
        ))),
    }
}

/// A required base64url member of the JWK, decoded.
fn bytes_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JoseError> {
    b64_decode(string_member(obj, name)?).ok_or_else(|| {
        JoseError::BadPublicKey(format!(
            "JWK member {} is not unpadded base64url",
            shown(name)
        ))
    })
}

/// A required "Base64urlUInt" member (RFC 7518 §2): non-empty, no leading zero octet.
fn unsigned_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, JoseError> {
    let bytes = bytes_member(obj, name)?;
    match bytes.first() {
        None => Err(JoseError::BadPublicKey(format!(
            "JWK member {} is empty",
            shown(name)
        ))),
        Some(0) => Err(JoseError::BadPublicKey(format!(
            "JWK member {} has a leading zero octet",
            shown(name)
        ))),
        Some(_) => Ok(bytes),
    }
}

/// Significant bits of a big-endian unsigned number.
fn bit_len(be: &[u8]) -> usize {
    let mut rest = be.iter().skip_while(|b| **b == 0);
    match rest.next() {
        None => 0,
        Some(top) => (8 - top.leading_zeros() as usize) + 8 * rest.count(),
    }
}

/// The uncompressed SEC 1 point 0x04 || x || y, the form aws-lc's EC verifiers take.
fn sec1_point(x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + x.len() + y.len());
    p.push(0x04);
    p.extend_from_slice(x);
    p.extend_from_slice(y);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::test_support::TestKey;
    use serde_json::json;

    /// RFC 7638 §3.1's example key (with its optional members) and thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = Jwk::from_json(&json!({
            "kty": "RSA",
            "n": RFC7638_N,
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(
            jwk.to_json(),
            json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"})
        );
        assert_eq!(jwk.to_string(), "RSA 2048-bit");
        assert_eq!(jwk.kty(), "RSA");
        assert_eq!(jwk.curve(), None);
    }

    #[test]
    fn canonical_json_is_sorted_and_compact() {
        for key in [
            TestKey::p256(),
            TestKey::p384(),
            TestKey::p521(),
            TestKey::ed25519(),
            TestKey::rsa(),
        ] {
            let jwk = key.jwk();
            // serde_json's Map is sorted (no preserve_order), so its compact form is RFC 7638's.
            assert_eq!(
                jwk.canonical_json(),
                serde_json::to_string(&jwk.to_json()).unwrap()
            );
            let round = Jwk::from_json(&jwk.to_json()).unwrap();
            assert_eq!(round, jwk);
            assert_eq!(round.thumbprint(), jwk.thumbprint());
            assert_eq!(jwk.thumbprint().len(), 43);
        }
    }

    #[test]
    fn equality_ignores_optional_members() {
        let key = TestKey::p256();
        let mut with_extras = key.jwk_json();
        with_extras["kid"] = json!("some-id");
        with_extras["use"] = json!("sig");
        with_extras["alg"] = json!("ES256");
        assert_eq!(Jwk::from_json(&with_extras).unwrap(), key.jwk());
        assert_ne!(TestKey::p256().jwk(), key.jwk());
        let dbg = format!("{:?}", key.jwk());
        assert!(
            dbg.contains("EC P-256") && dbg.contains(&key.jwk().thumbprint()),
            "{dbg}"
        );
    }

    #[test]
    fn accepts_only_the_matching_algorithms() {
        let table: [(TestKey, &[Alg]); 5] = [
            (TestKey::p256(), &[Alg::Es256]),
            (TestKey::p384(), &[Alg::Es384]),
            (TestKey::p521(), &[Alg::Es512]),
            (TestKey::ed25519(), &[Alg::EdDsa]),
            (
                TestKey::rsa(),
                &[
                    Alg::Rs256,
                    Alg::Rs384,
                    Alg::Rs512,
                    Alg::Ps256,
                    Alg::Ps384,
                    Alg::Ps512,
                ],
            ),
        ];
        for (key, good) in table {
            let jwk = key.jwk();
            for alg in Alg::ALL {
                assert_eq!(jwk.accepts(alg), good.contains(&alg), "{jwk} {alg}");
            }
        }
        assert_eq!(TestKey::p384().jwk().curve(), Some(Curve::P384));
        assert_eq!(TestKey::p521().jwk().to_string(), "EC P-521");
        assert_eq!(TestKey::ed25519().jwk().kty(), "OKP");
    }

    fn refused(v: Value) -> JoseError {
        Jwk::from_json(&v).unwrap_err()
    }

    fn assert_bad(v: Value, needle: &str) {
        match refused(v) {
            JoseError::BadPublicKey(m) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            e => panic!("expected BadPublicKey({needle}), got {e:?}"),
        }
    }

    fn assert_unsupported(v: Value, needle: &str) {
        match refused(v) {
            JoseError::UnsupportedKey(m) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            e => panic!("expected UnsupportedKey({needle}), got {e:?}"),
        }
    }

    #[test]
    fn private_members_refused() {
        for m in PRIVATE_MEMBERS {
            let mut ec = TestKey::p256().jwk_json();
            ec[*m] = json!("AQAB");
            assert_bad(ec, &format!("private member \"{m}\""));
            let mut rsa = TestKey::rsa().jwk_json();
            rsa[*m] = json!("AQAB");
            assert_bad(rsa, &format!("private member \"{m}\""));
        }
        let mut ed = TestKey::ed25519().jwk_json();
        ed["d"] = json!("AAAA");
        assert_bad(ed, "private member \"d\"");
    }

    #[test]
    fn structure_refused() {
        assert_bad(json!("a string"), "not a JSON object");
        assert_bad(json!({"crv": "P-256"}), "no \"kty\"");
        assert_bad(json!({"kty": 1}), "\"kty\" is not a string");
        assert_unsupported(json!({"kty": "oct", "alg": "HS256"}), "symmetric");
        assert_unsupported(json!({"kty": "DSA"}), "key type \"DSA\"");
        let mut ec = TestKey::p256().jwk_json();
        ec.as_object_mut().unwrap().remove("y");
        assert_bad(ec, "no \"y\"");
        let mut ec = TestKey::p256().jwk_json();
        ec["x"] = json!(5);
        assert_bad(ec, "\"x\" is not a string");
    }

    #[test]
    fn ec_refusals() {
        let good = TestKey::p256().jwk_json();
        let x = good["x"].as_str().unwrap().to_owned();
        let y = good["y"].as_str().unwrap().to_owned();

        let mut v = good.clone();
        v["crv"] = json!("secp256k1");
        assert_unsupported(v, "curve \"secp256k1\"");
        let mut v = good.clone();
        v["crv"] = json!("P-384");
        assert_bad(v, "P-384 coordinates are exactly 48");

        // One octet short, one octet long (a leading zero added).
        let xb = b64_decode(&x).unwrap();
        let mut v = good.clone();
        v["x"] = json!(b64_encode(&xb[1..]));
        assert_bad(v, "\"x\" is 31 octets");
        let mut v = good.clone();
        let mut long = vec![0];
        long.extend_from_slice(&xb);
        v["x"] = json!(b64_encode(&long));
        assert_bad(v, "\"x\" is 33 octets");

        // Padded and standard-alphabet base64.
        let mut v = good.clone();
        v["y"] = json!(format!("{y}="));
        assert_bad(v, "\"y\" is not unpadded base64url");
        let mut v = good.clone();
        v["x"] =
            json!(<base64ct::Base64Unpadded as base64ct::Encoding>::encode_string(&[0xfb; 32]));
        assert_bad(v, "\"x\" is not unpadded base64url");

        // A point off the curve: flip the last bit of y.
        let mut yb = b64_decode(&y).unwrap();
        *yb.last_mut().unwrap() ^= 1;
        let mut v = good.clone();
        v["y"] = json!(b64_encode(&yb));
        assert_bad(v, "not on curve P-256");
        // (0, 0) is not on P-256 either.
        let mut v = good;
        v["x"] = json!(b64_encode(&[0; 32]));
        v["y"] = json!(b64_encode(&[0; 32]));
        assert_bad(v, "not on curve");
    }

    #[test]
    fn rsa_refusals() {
        let good = TestKey::rsa().jwk_json();
        let n = b64_decode(good["n"].as_str().unwrap()).unwrap();
        let with_n = |n: &[u8]| {
            let mut v = good.clone();
            v["n"] = json!(b64_encode(n));
            v
        };
        let with_e = |e: &[u8]| {
            let mut v = good.clone();
            v["e"] = json!(b64_encode(e));
            v
        };

        // 2047 bits: top bit of a 256-octet modulus cleared.
        let mut short = n.clone();
        short[0] = 0x7f;
        assert_unsupported(with_n(&short), "2047 bits; at least 2048");
        assert_unsupported(with_n(&n[..128]), "1024 bits");
        let mut huge = vec![0xff; 1025];
        huge[1024] = 0x01;
        assert_unsupported(with_n(&huge), "8200 bits; at most 8192");
        let mut lead = vec![0];
        lead.extend_from_slice(&n);
        assert_bad(with_n(&lead), "\"n\" has a leading zero octet");
        assert_bad(with_n(&[]), "\"n\" is empty");
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert_bad(with_n(&even), "modulus is even");

        assert_bad(with_e(&[0, 1, 0, 1]), "\"e\" has a leading zero octet");
        assert_bad(with_e(&[]), "\"e\" is empty");
        assert_bad(with_e(&[1, 0, 0]), "exponent is even");
        assert_bad(with_e(&[1]), "exponent is 1");
        assert_unsupported(with_e(&[2, 0, 0, 0, 1]), "34 bits");
        // 3 and 2^32+1 (33 bits) are fine.
        Jwk::from_json(&with_e(&[3])).unwrap();
        Jwk::from_json(&with_e(&[1, 0, 0, 0, 1])).unwrap();
    }

    #[test]
    fn okp_refusals() {
        let good = TestKey::ed25519().jwk_json();
        let mut v = good.clone();
        v["crv"] = json!("Ed448");
        assert_unsupported(v, "OKP curve \"Ed448\"");
        let mut v = good.clone();
        v["crv"] = json!("X25519");
        assert_unsupported(v, "\"X25519\"");
        let mut v = good;
        v["x"] = json!(b64_encode(&[9; 31]));
        assert_bad(v, "31 octets; Ed25519 keys are exactly 32");
    }

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0, 0x80, 0]), 16);
        assert_eq!(bit_len(&[1, 0, 1]), 17);
    }

    #[test]
    fn spki_matches_aws_lc() {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        for key in [TestKey::p256(), TestKey::p384(), TestKey::p521()] {
            let TestKey::Ec(pair, _) = &key else {
                unreachable!()
            };
            let der = pair.public_key().as_der().unwrap();
            assert_eq!(key.jwk().spki_der(), der.as_ref(), "{}", key.jwk());
        }
        let rsa = TestKey::rsa();
        let TestKey::Rsa(pair) = &rsa else {
            unreachable!()
        };
        let der = pair.public_key().as_der().unwrap();
        assert_eq!(rsa.jwk().spki_der(), der.as_ref());
        let ed = TestKey::ed25519();
        let TestKey::Ed(pair) = &ed else {
            unreachable!()
        };
        let der = pair.public_key().as_der().unwrap();
        assert_eq!(ed.jwk().spki_der(), der.as_ref());
    }
}
