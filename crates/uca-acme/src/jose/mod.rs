//! JOSE as ACME uses it (RFC 8555 §6.2, RFC 7515, 7517, 7638): flattened JWS, public JWKs,
//! thumbprints, and the HMAC of external account binding.
//!
//! Sans-I/O and strict: every request body goes through [`Jws::parse`], which accepts only what
//! RFC 8555 §6.2 allows (the flattened JSON serialization, a protected header only, exactly one
//! of `jwk`/`kid`, no `crit`, no unencoded payload), and [`Jws::verify`], which accepts only the
//! asymmetric algorithms in [`ALGORITHMS`] and only with a key of the matching type. JSON with
//! duplicate member names is refused everywhere (RFC 7515 §5.2 allows either refusing or taking
//! the last; refusing leaves no room for two parsers to disagree). Nothing here panics on any
//! input; errors are [`JoseError`]s that say what was wrong.

mod eab;
mod error;
mod jwk;
mod jws;
mod spki;

#[cfg(test)]
mod openssl_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use eab::{EabJws, MacAlg, parse_eab};
pub use error::JoseError;
pub use jwk::{Curve, Jwk, VerifyingKey};
pub use jws::{Jws, KeyRef, Protected};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JWS signature algorithm this server verifies (RFC 7518 §3.1, RFC 8037 §3.1).
///
/// Only asymmetric algorithms: RFC 8555 §6.2 forbids `none` and MAC algorithms on requests (MACs
/// appear only inside external account binding, see [`MacAlg`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256, the one algorithm RFC 8555 §6.2 says servers MUST support.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// Ed25519 (RFC 8037), which RFC 8555 §6.2 says servers SHOULD support.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256 (MGF1 SHA-256, salt as long as the hash).
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
}

impl Alg {
    /// Every algorithm, in the order [`ALGORITHMS`] lists them.
    pub const ALL: [Alg; 10] = [
        Alg::Es256,
        Alg::Es384,
        Alg::Es512,
        Alg::EdDsa,
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
    ];

    /// The algorithm named by a JWS `alg` value; names are case-sensitive (RFC 7515 §4.1.1), so
    /// `es256` is not ES256. `None` for anything not accepted, including `none` and `HS256`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The `alg` value naming this algorithm.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
        }
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `alg` values [`Jws::verify`] accepts, for the `algorithms` field of a
/// `badSignatureAlgorithm` problem (RFC 8555 §6.2).
pub const ALGORITHMS: &[&str] = &[
    "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];

/// Base64url without padding (RFC 7515 §2), the only encoding JOSE allows. `None` for padding,
/// the standard alphabet, whitespace, or non-canonical trailing bits.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(s).ok()
}

/// Base64url without padding.
pub(crate) fn b64_encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Parses JSON, refusing duplicate member names at any depth (which `serde_json::Value` would
/// silently resolve to the last one). The error text names the problem, never the input.
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|v| v.0)
        .map_err(|e| e.to_string())
}

/// A `serde_json::Value` whose deserialization fails on a duplicate member name.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(StrictValue(Value::Array(out)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member {}",
                    error::shown(&key)
                )));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(StrictValue(Value::Object(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_list_matches_the_enum() {
        let names: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names, ALGORITHMS);
        for a in Alg::ALL {
            assert_eq!(Alg::parse(a.as_str()), Some(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        for bad in [
            "none", "HS256", "es256", "ES256 ", "", "EDDSA", "Ed25519", "RS1",
        ] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64_decode("AQAB"), Some(vec![1, 0, 1]));
        assert_eq!(b64_decode(""), Some(vec![]));
        assert_eq!(b64_decode("-_8"), Some(vec![0xfb, 0xff]));
        assert_eq!(b64_encode(&[0xfb, 0xff]), "-_8");
        // Padding, the standard alphabet, whitespace, non-canonical trailing bits.
        for bad in ["AQ==", "AQ=", "+/8", "AQ AB", "AQAB\n", "AR", "A", "AQA="] {
            assert_eq!(b64_decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_duplicates_refused_at_any_depth() {
        assert!(parse_json(br#"{"a":1,"b":[{"c":2}]}"#).is_ok());
        let e = parse_json(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(e.contains("duplicate member \"a\""), "{e}");
        assert!(parse_json(br#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(parse_json(br#"[{"a":1,"a":1}]"#).is_err());
        // Same behaviour as serde_json otherwise.
        let v =
            parse_json(br#"{"n":-1,"u":18446744073709551615,"f":1.5,"z":null,"t":true}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"n":-1,"u":18446744073709551615u64,"f":1.5,"z":null,"t":true})
        );
        assert!(parse_json(b"{} x").is_err());
        assert!(parse_json(b"\xff").is_err());
        assert!(parse_json(b"").is_err());
    }
}
