//! ACME request bodies: JWS in the flattened JSON serialization (RFC 7515 §7.2.2) with the
//! restrictions of RFC 8555 §6.2.

use serde_json::{Map, Value};

use super::error::{bad_alg, shown};
use super::{Alg, JoseError, Jwk, VerifyingKey, b64_decode, parse_json};

/// A parsed (not yet verified) ACME JWS.
///
/// Parsing checks the form; [`Jws::verify`] checks the signature with the key the caller chose:
/// the `jwk` in the header for newAccount and revokeCert-by-certificate-key, the account's
/// stored key for a `kid`. Until then nothing in here is trustworthy.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The protected header.
    pub protected: Protected,
    /// The decoded payload; empty for POST-as-GET (RFC 8555 §6.3).
    pub payload: Vec<u8>,
    /// The decoded signature.
    signature: Vec<u8>,
    /// The base64url strings as received: the signature is over these, not over a re-encoding.
    protected_b64: String,
    payload_b64: String,
}

/// The protected header of an ACME JWS.
///
/// `nonce` and `url` are optional here because the inner JWS of a key change (RFC 8555 §7.3.5)
/// has no nonce; the caller checks that an outer JWS has both and reports a missing nonce as
/// `badNonce`.
#[derive(Debug, Clone)]
pub struct Protected {
    /// The `alg` value exactly as sent, so an unsupported one can be reported back; checked
    /// against the allow-list by [`Jws::verify`] (or [`Jws::alg`]).
    pub alg: String,
    /// The `nonce` (RFC 8555 §6.5), not yet checked against issued nonces.
    pub nonce: Option<String>,
    /// The `url` (RFC 8555 §6.4), to compare with the URL the request was sent to.
    pub url: Option<String>,
    /// Whose key signed: an embedded JWK or an account URL.
    pub key: KeyRef,
    /// The whole header, for members the caller wants to look at itself.
    pub raw: Map<String, Value>,
}

/// How a JWS names its signing key: RFC 8555 §6.2 requires exactly one of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// `jwk`: the key itself (newAccount, revokeCert signed by the certificate key, the inner
    /// JWS of a key change).
    Jwk(Jwk),
    /// `kid`: the account URL (every other request).
    Kid(String),
}

impl Jws {
    /// Parses a request body. Accepted: a JSON object with exactly the members `protected`,
    /// `payload` and `signature`, all strings of unpadded base64url; the protected header a
    /// JSON object with a string `alg`, exactly one of `jwk` (a valid public JWK) and `kid`
    /// (a non-empty string), `nonce` and `url` strings if present, and neither `crit` nor
    /// `b64: false`. No duplicate member names anywhere.
    ///
    /// Refused as [`JoseError::Malformed`]: the compact serialization, the general
    /// serialization (`signatures`), an unprotected `header`, any other member, and every
    /// violation above, except that a bad `jwk` is [`JoseError::BadPublicKey`] or
    /// [`JoseError::UnsupportedKey`].
    pub fn parse(body: &[u8]) -> Result<Jws, JoseError> {
        let v = parse_json(body)
            .map_err(|e| JoseError::Malformed(format!("the request body is not JSON: {e}")))?;
        Jws::from_json(&v)
    }

    /// [`Jws::parse`] for a JWS already parsed as JSON: the inner JWS of a key change
    /// (RFC 8555 §7.3.5) is the outer JWS's payload.
    pub fn from_json(v: &Value) -> Result<Jws, JoseError> {
        let parts = Flattened::parse(v, "JWS")?;
        let header = parts.header;
        let nonce = optional_string(&header, "nonce")?;
        let url = optional_string(&header, "url")?;
        let key = match (header.get("jwk"), header.get("kid")) {
            (Some(_), Some(_)) => {
                return Err(JoseError::Malformed(
                    "the JWS protected header has both \"jwk\" and \"kid\"; exactly one is allowed"
                        .into(),
                ));
            }
            (None, None) => {
                return Err(JoseError::Malformed(
                    "the JWS protected header has neither \"jwk\" nor \"kid\"; exactly one is required"
                        .into(),
                ));
            }
            (Some(jwk), None) => KeyRef::Jwk(Jwk::from_json(jwk)?),
            (None, Some(Value::String(kid))) if !kid.is_empty() => KeyRef::Kid(kid.clone()),
            (None, Some(_)) => {
                return Err(JoseError::Malformed(
                    "the JWS \"kid\" is not a non-empty string".into(),
                ));
            }
        };
        Ok(Jws {
            protected: Protected {
                alg: parts.alg,
                nonce,
                url,
                key,
                raw: header,
            },
            payload: parts.payload,
            signature: parts.signature,
            protected_b64: parts.protected_b64,
            payload_b64: parts.payload_b64,
        })
    }

    /// Whether this is a POST-as-GET (RFC 8555 §6.3): the payload is the empty string. A
    /// payload of `{}` is not one.
    #[must_use]
    pub fn is_post_as_get(&self) -> bool {
        self.payload_b64.is_empty()
    }

    /// The payload as a JSON object, what every ACME request other than POST-as-GET carries.
    /// An empty payload, non-JSON, duplicate members, or a non-object is malformed.
    pub fn payload_json(&self) -> Result<Value, JoseError> {
        if self.is_post_as_get() {
            return Err(JoseError::Malformed(
                "the JWS payload is empty (POST-as-GET) where a JSON object is required".into(),
            ));
        }
        let v = parse_json(&self.payload)
            .map_err(|e| JoseError::Malformed(format!("the JWS payload is not JSON: {e}")))?;
        if !v.is_object() {
            return Err(JoseError::Malformed(
                "the JWS payload is not a JSON object".into(),
            ));
        }
        Ok(v)
    }

    /// The header's `jwk`, if the JWS names its key that way.
    #[must_use]
    pub fn jwk(&self) -> Option<&Jwk> {
        match &self.protected.key {
            KeyRef::Jwk(jwk) => Some(jwk),
            KeyRef::Kid(_) => None,
        }
    }

    /// The header's `kid` (an account URL), if the JWS names its key that way.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        match &self.protected.key {
            KeyRef::Kid(kid) => Some(kid),
            KeyRef::Jwk(_) => None,
        }
    }

    /// The `alg` if it is one this server verifies, else [`JoseError::BadSignatureAlgorithm`].
    /// `none` and the HMAC algorithms are refused here (RFC 8555 §6.2).
    pub fn alg(&self) -> Result<Alg, JoseError> {
        Alg::parse(&self.protected.alg).ok_or_else(|| bad_alg(&self.protected.alg))
    }

    /// Verifies the signature with `key` over ASCII(protected || '.' || payload) as received.
    ///
    /// [`JoseError::BadSignatureAlgorithm`] if `alg` is not in [`super::ALGORITHMS`] or the key
    /// does not sign with it ([`Jwk::accepts`]); [`JoseError::BadSignature`] if the signature
    /// has the wrong length for the key or does not verify.
    pub fn verify(&self, key: &Jwk) -> Result<(), JoseError> {
        let alg = self.checked_alg(key)?;
        key.verify_signature(alg, self.signing_input().as_bytes(), &self.signature)
    }

    /// [`Jws::verify`] with a key decoded once for many requests.
    pub fn verify_with(&self, key: &VerifyingKey) -> Result<(), JoseError> {
        let alg = self.checked_alg(key.jwk())?;
        key.verify_signature(alg, self.signing_input().as_bytes(), &self.signature)
    }

    /// The `alg`, if this server verifies it and `key` signs with it.
    fn checked_alg(&self, key: &Jwk) -> Result<Alg, JoseError> {
        let alg = self.alg()?;
        if !key.accepts(alg) {
            return Err(bad_alg(&self.protected.alg));
        }
        Ok(alg)
    }

    fn signing_input(&self) -> String {
        format!("{}.{}", self.protected_b64, self.payload_b64)
    }
}

/// The parts of a flattened JWS, shared by ACME requests and external account binding: the
/// checks both need, before either looks at key or MAC members.
pub(super) struct Flattened {
    pub(super) header: Map<String, Value>,
    pub(super) alg: String,
    pub(super) payload: Vec<u8>,
    pub(super) signature: Vec<u8>,
    pub(super) protected_b64: String,
    pub(super) payload_b64: String,
}

impl Flattened {
    /// `what` names the JWS in messages ("JWS", "externalAccountBinding").
    pub(super) fn parse(v: &Value, what: &str) -> Result<Flattened, JoseError> {
        let obj = v.as_object().ok_or_else(|| {
            JoseError::Malformed(format!(
                "the {what} is not a JSON object; ACME requires the flattened JSON serialization"
            ))
        })?;
        for name in obj.keys() {
            match name.as_str() {
                "protected" | "payload" | "signature" => {}
                "header" => {
                    return Err(JoseError::Malformed(format!(
                        "the {what} has an unprotected \"header\"; ACME allows the protected header only"
                    )));
                }
                "signatures" => {
                    return Err(JoseError::Malformed(format!(
                        "the {what} uses the general JSON serialization (\"signatures\"); ACME requires the flattened one"
                    )));
                }
                other => {
                    return Err(JoseError::Malformed(format!(
                        "the {what} has the unexpected member {}",
                        shown(other)
                    )));
                }
            }
        }
        let protected_b64 = part(obj, "protected", what)?;
        let payload_b64 = part(obj, "payload", what)?;
        let signature_b64 = part(obj, "signature", what)?;
        let decode = |s: &str, name: &str| {
            b64_decode(s).ok_or_else(|| {
                JoseError::Malformed(format!(
                    "the {what} {} is not unpadded base64url",
                    shown(name)
                ))
            })
        };
        let protected = decode(protected_b64, "protected")?;
        let payload = decode(payload_b64, "payload")?;
        let signature = decode(signature_b64, "signature")?;

        let header = match parse_json(&protected) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(JoseError::Malformed(format!(
                    "the {what} protected header is not a JSON object"
                )));
            }
            Err(e) => {
                return Err(JoseError::Malformed(format!(
                    "the {what} protected header is not JSON: {e}"
                )));
            }
        };
        if header.contains_key("crit") {
            return Err(JoseError::Malformed(format!(
                "the {what} protected header has \"crit\"; no critical extensions are supported"
            )));
        }
        match header.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => {
                return Err(JoseError::Malformed(format!(
                    "the {what} has \"b64\": false; unencoded payloads (RFC 7797) are not supported"
                )));
            }
            Some(_) => {
                return Err(JoseError::Malformed(format!(
                    "the {what} \"b64\" is not a boolean"
                )));
            }
        }
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.clone(),
            Some(_) => {
                return Err(JoseError::Malformed(format!(
                    "the {what} \"alg\" is not a string"
                )));
            }
            None => {
                return Err(JoseError::Malformed(format!(
                    "the {what} protected header has no \"alg\""
                )));
            }
        };
        Ok(Flattened {
            header,
            alg,
            payload,
            signature,
            protected_b64: protected_b64.to_owned(),
            payload_b64: payload_b64.to_owned(),
        })
    }
}

/// A required string member of the flattened JWS object.
fn part<'a>(obj: &'a Map<String, Value>, name: &str, what: &str) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::Malformed(format!(
            "the {what} {} is not a string",
            shown(name)
        ))),
        None => Err(JoseError::Malformed(format!(
            "the {what} has no {} member",
            shown(name)
        ))),
    }
}

/// An optional string member of a protected header.
pub(super) fn optional_string(
    header: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, JoseError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::Malformed(format!(
            "the protected header {} is not a string",
            shown(name)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64_encode;
    use crate::jose::test_support::{TestKey, body, jws_with, signed};
    use serde_json::json;

    fn parse(v: &Value) -> Result<Jws, JoseError> {
        Jws::parse(&body(v))
    }

    fn malformed(v: &Value, needle: &str) {
        match parse(v) {
            Err(JoseError::Malformed(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }

    /// Parses and verifies with the embedded JWK.
    fn verify_embedded(v: &Value) -> Result<(), JoseError> {
        let jws = parse(v)?;
        let key = jws.jwk().expect("test JWS has a jwk").clone();
        jws.verify(&key)
    }

    #[test]
    fn valid_signatures_verify() {
        let payload = br#"{"termsOfServiceAgreed":true}"#;
        let cases = [
            (TestKey::p256(), Alg::Es256),
            (TestKey::p384(), Alg::Es384),
            (TestKey::p521(), Alg::Es512),
            (TestKey::ed25519(), Alg::EdDsa),
            (TestKey::rsa(), Alg::Rs256),
            (TestKey::rsa(), Alg::Rs384),
            (TestKey::rsa(), Alg::Rs512),
            (TestKey::rsa(), Alg::Ps256),
            (TestKey::rsa(), Alg::Ps384),
            (TestKey::rsa(), Alg::Ps512),
        ];
        for (key, alg) in cases {
            let v = signed(&key, alg, json!({}), payload);
            let jws = parse(&v).unwrap();
            assert_eq!(jws.alg().unwrap(), alg);
            assert_eq!(jws.protected.alg, alg.as_str());
            assert_eq!(jws.protected.nonce.as_deref(), Some("bm9uY2U"));
            assert_eq!(
                jws.protected.url.as_deref(),
                Some("https://ca.example/acme/new-account")
            );
            assert_eq!(jws.jwk(), Some(&key.jwk()));
            assert_eq!(jws.kid(), None);
            assert_eq!(jws.payload, payload);
            assert!(!jws.is_post_as_get());
            assert_eq!(
                jws.payload_json().unwrap(),
                json!({"termsOfServiceAgreed": true})
            );
            jws.verify(&key.jwk())
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        }
    }

    #[test]
    fn kid_and_post_as_get() {
        let key = TestKey::p256();
        let v = signed(
            &key,
            Alg::Es256,
            json!({"jwk": null, "kid": "https://ca.example/acme/acct/1"}),
            b"",
        );
        assert_eq!(v["payload"], "");
        let jws = parse(&v).unwrap();
        assert_eq!(jws.kid(), Some("https://ca.example/acme/acct/1"));
        assert_eq!(
            jws.protected.key,
            KeyRef::Kid("https://ca.example/acme/acct/1".into())
        );
        assert!(jws.jwk().is_none());
        assert!(jws.is_post_as_get());
        assert!(jws.payload.is_empty());
        match jws.payload_json() {
            Err(JoseError::Malformed(m)) => assert!(m.contains("POST-as-GET")),
            other => panic!("{other:?}"),
        }
        jws.verify(&key.jwk()).unwrap();
        // Another key does not verify it.
        assert_eq!(
            jws.verify(&TestKey::p256().jwk()),
            Err(JoseError::BadSignature)
        );

        // "{}" is not POST-as-GET.
        let jws = parse(&signed(&key, Alg::Es256, json!({}), b"{}")).unwrap();
        assert!(!jws.is_post_as_get());
        assert_eq!(jws.payload_json().unwrap(), json!({}));
    }

    #[test]
    fn payload_must_be_a_json_object() {
        let key = TestKey::p256();
        for (payload, needle) in [
            (&b"[1]"[..], "not a JSON object"),
            (b"\"x\"", "not a JSON object"),
            (b"{", "not JSON"),
            (b"{\"a\":1,\"a\":2}", "duplicate member \"a\""),
        ] {
            let jws = parse(&signed(&key, Alg::Es256, json!({}), payload)).unwrap();
            match jws.payload_json() {
                Err(JoseError::Malformed(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn nonce_and_url_optional_but_strings() {
        let key = TestKey::ed25519();
        let jws = parse(&signed(
            &key,
            Alg::EdDsa,
            json!({"nonce": null, "url": null}),
            b"{}",
        ))
        .unwrap();
        assert_eq!(jws.protected.nonce, None);
        assert_eq!(jws.protected.url, None);
        jws.verify(&key.jwk()).unwrap();
        malformed(
            &signed(&key, Alg::EdDsa, json!({"nonce": 5}), b"{}"),
            "\"nonce\" is not a string",
        );
        malformed(
            &signed(&key, Alg::EdDsa, json!({"url": ["x"]}), b"{}"),
            "\"url\" is not a string",
        );
        // Other header members are kept, untouched.
        let jws = parse(&signed(&key, Alg::EdDsa, json!({"x-extra": 1}), b"{}")).unwrap();
        assert_eq!(jws.protected.raw["x-extra"], 1);
        assert_eq!(jws.protected.raw["alg"], "EdDSA");
    }

    fn bad_alg_for(v: &Value, key: &Jwk, alg: &str) {
        let jws = parse(v).unwrap();
        assert_eq!(
            jws.verify(key),
            Err(JoseError::BadSignatureAlgorithm { alg: alg.into() })
        );
    }

    #[test]
    fn algorithm_refusals() {
        let ec = TestKey::p256();
        // alg none with an empty signature, HS256 with a MAC-like signature.
        let v = signed(&ec, Alg::Es256, json!({"alg": "none"}), b"{}");
        let mut none = v.clone();
        none["signature"] = json!("");
        bad_alg_for(&none, &ec.jwk(), "none");
        bad_alg_for(
            &signed(&ec, Alg::Es256, json!({"alg": "HS256"}), b"{}"),
            &ec.jwk(),
            "HS256",
        );
        bad_alg_for(
            &signed(&ec, Alg::Es256, json!({"alg": "es256"}), b"{}"),
            &ec.jwk(),
            "es256",
        );
        assert!(matches!(
            parse(&v).unwrap().alg(),
            Err(JoseError::BadSignatureAlgorithm { .. })
        ));

        // ES256 header, P-384 key (signed with the P-384 key's own ES384).
        let p384 = TestKey::p384();
        bad_alg_for(
            &signed(&p384, Alg::Es384, json!({"alg": "ES256"}), b"{}"),
            &p384.jwk(),
            "ES256",
        );
        // ES384 signature presented for a P-256 key.
        bad_alg_for(
            &signed(&p384, Alg::Es384, json!({}), b"{}"),
            &ec.jwk(),
            "ES384",
        );
        // RS256 with an EC key, EdDSA with an RSA key, ES256 with an Ed25519 key.
        let rsa = TestKey::rsa();
        bad_alg_for(
            &signed(&rsa, Alg::Rs256, json!({}), b"{}"),
            &ec.jwk(),
            "RS256",
        );
        let ed = TestKey::ed25519();
        bad_alg_for(
            &signed(&ed, Alg::EdDsa, json!({}), b"{}"),
            &rsa.jwk(),
            "EdDSA",
        );
        bad_alg_for(
            &signed(&ec, Alg::Es256, json!({}), b"{}"),
            &ed.jwk(),
            "ES256",
        );
        // RS256-signed, header says PS256: the algorithm fits, the signature does not.
        let v = signed(&rsa, Alg::Rs256, json!({"alg": "PS256"}), b"{}");
        assert_eq!(
            parse(&v).unwrap().verify(&rsa.jwk()),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        for key in [TestKey::p256(), TestKey::rsa(), TestKey::ed25519()] {
            let alg = key.alg();
            let good = signed(&key, alg, json!({}), br#"{"a":1}"#);
            verify_embedded(&good).unwrap();

            let mut v = good.clone();
            v["payload"] = json!(b64_encode(br#"{"a":2}"#));
            assert_eq!(
                verify_embedded(&v),
                Err(JoseError::BadSignature),
                "{alg} payload"
            );

            // The protected header changed (a different url) but still valid.
            let header = json!({
                "alg": alg.as_str(),
                "nonce": "bm9uY2U",
                "url": "https://ca.example/acme/other",
                "jwk": key.jwk_json(),
            });
            let mut v = good.clone();
            v["protected"] = json!(b64_encode(header.to_string().as_bytes()));
            assert_eq!(
                verify_embedded(&v),
                Err(JoseError::BadSignature),
                "{alg} protected"
            );

            let mut sig = crate::jose::b64_decode(good["signature"].as_str().unwrap()).unwrap();
            sig[5] ^= 0x40;
            let mut v = good.clone();
            v["signature"] = json!(b64_encode(&sig));
            assert_eq!(
                verify_embedded(&v),
                Err(JoseError::BadSignature),
                "{alg} signature"
            );

            // Wrong lengths: one octet short, one long, empty, enormous.
            for len in [sig.len() - 1, sig.len() + 1, 0, 10_000] {
                let mut s = sig.clone();
                s.resize(len, 0);
                let mut v = good.clone();
                v["signature"] = json!(b64_encode(&s));
                assert_eq!(
                    verify_embedded(&v),
                    Err(JoseError::BadSignature),
                    "{alg} len {len}"
                );
            }
        }
    }

    #[test]
    fn ecdsa_der_signature_refused() {
        // An ASN.1 DER ECDSA signature (what OpenSSL emits) is not the JWS r||s form.
        let key = TestKey::p256();
        let v = jws_with(
            &json!({"alg": "ES256", "nonce": "n", "url": "u", "jwk": key.jwk_json()}),
            b"{}",
            |input| {
                let fixed = key.sign(Alg::Es256, input);
                // r||s wrapped as DER: SEQUENCE { INTEGER r, INTEGER s }, r and s positive.
                let (r, s) = fixed.split_at(32);
                let int = |x: &[u8]| {
                    let mut c = vec![0];
                    c.extend_from_slice(x);
                    let mut t = vec![0x02, u8::try_from(c.len()).unwrap()];
                    t.extend(c);
                    t
                };
                let mut seq = int(r);
                seq.extend(int(s));
                let mut der = vec![0x30, u8::try_from(seq.len()).unwrap()];
                der.extend(seq);
                der
            },
        );
        assert_eq!(verify_embedded(&v), Err(JoseError::BadSignature));
    }

    #[test]
    fn key_reference_refusals() {
        let key = TestKey::p256();
        malformed(
            &signed(
                &key,
                Alg::Es256,
                json!({"kid": "https://ca.example/acct/1"}),
                b"{}",
            ),
            "both \"jwk\" and \"kid\"",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"jwk": null}), b"{}"),
            "neither",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"jwk": null, "kid": ""}), b"{}"),
            "\"kid\" is not a non-empty string",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"jwk": null, "kid": 7}), b"{}"),
            "\"kid\" is not a non-empty string",
        );
        // A private JWK in the header.
        let mut private = key.jwk_json();
        private["d"] = json!("AAAA");
        assert!(matches!(
            parse(&signed(&key, Alg::Es256, json!({"jwk": private}), b"{}")),
            Err(JoseError::BadPublicKey(_))
        ));
        assert!(matches!(
            parse(&signed(
                &key,
                Alg::Es256,
                json!({"jwk": "not an object"}),
                b"{}"
            )),
            Err(JoseError::BadPublicKey(_))
        ));
        assert!(matches!(
            parse(&signed(
                &key,
                Alg::Es256,
                json!({"jwk": {"kty": "oct", "k": "AAAA"}}),
                b"{}"
            )),
            Err(JoseError::BadPublicKey(_))
        ));
    }

    #[test]
    fn header_refusals() {
        let key = TestKey::p256();
        malformed(
            &signed(&key, Alg::Es256, json!({"alg": null}), b"{}"),
            "has no \"alg\"",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"alg": 256}), b"{}"),
            "\"alg\" is not a string",
        );
        malformed(
            &signed(
                &key,
                Alg::Es256,
                json!({"b64": false, "crit": ["b64"]}),
                b"{}",
            ),
            "\"crit\"",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"b64": false}), b"{}"),
            "\"b64\": false",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"b64": "no"}), b"{}"),
            "not a boolean",
        );
        malformed(
            &signed(&key, Alg::Es256, json!({"crit": ["exp"], "exp": 1}), b"{}"),
            "\"crit\"",
        );
        // b64: true is the default and harmless.
        verify_embedded(&signed(&key, Alg::Es256, json!({"b64": true}), b"{}")).unwrap();

        // A header that is not an object, not JSON, or has a duplicate member.
        let sign = |i: &[u8]| key.sign(Alg::Es256, i);
        malformed(&jws_with(&json!(["alg"]), b"{}", sign), "not a JSON object");
        let mut v = signed(&key, Alg::Es256, json!({}), b"{}");
        v["protected"] = json!(b64_encode(b"{\"alg\":"));
        malformed(&v, "protected header is not JSON");
        let dup = format!(
            r#"{{"alg":"ES256","alg":"none","nonce":"n","url":"u","jwk":{}}}"#,
            key.jwk_json()
        );
        v["protected"] = json!(b64_encode(dup.as_bytes()));
        malformed(&v, "duplicate member \"alg\"");
        v["protected"] = json!(b64_encode(b""));
        malformed(&v, "protected header is not JSON");
    }

    #[test]
    fn serialization_refusals() {
        let key = TestKey::p256();
        let good = signed(&key, Alg::Es256, json!({}), b"{}");

        let mut v = good.clone();
        v["header"] = json!({"kid": "x"});
        malformed(&v, "unprotected \"header\"");

        let general = json!({
            "payload": good["payload"],
            "signatures": [{"protected": good["protected"], "signature": good["signature"]}],
        });
        malformed(&general, "general JSON serialization");

        let mut v = good.clone();
        v["extra"] = json!(1);
        malformed(&v, "unexpected member \"extra\"");

        for name in ["protected", "payload", "signature"] {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove(name);
            malformed(&v, &format!("has no \"{name}\""));
            let mut v = good.clone();
            v[name] = json!(1);
            malformed(&v, &format!("\"{name}\" is not a string"));
            // Padded base64url and standard base64 of the same octets.
            let raw = crate::jose::b64_decode(good[name].as_str().unwrap()).unwrap();
            let padded = <base64ct::Base64Url as base64ct::Encoding>::encode_string(&raw);
            let standard = <base64ct::Base64Unpadded as base64ct::Encoding>::encode_string(&raw);
            let mut v = good.clone();
            v[name] = json!(if padded.ends_with('=') {
                padded
            } else {
                format!("{padded}==")
            });
            malformed(&v, &format!("\"{name}\" is not unpadded base64url"));
            if standard != good[name].as_str().unwrap() {
                let mut v = good.clone();
                v[name] = json!(standard);
                malformed(&v, &format!("\"{name}\" is not unpadded base64url"));
            }
        }

        // Compact serialization, non-JSON, other JSON types, duplicate outer members.
        let compact = format!(
            "{}.{}.{}",
            good["protected"].as_str().unwrap(),
            good["payload"].as_str().unwrap(),
            good["signature"].as_str().unwrap()
        );
        match Jws::parse(compact.as_bytes()) {
            Err(JoseError::Malformed(m)) => assert!(m.contains("not JSON"), "{m}"),
            other => panic!("{other:?}"),
        }
        malformed(&json!(compact), "not a JSON object");
        malformed(&json!([good.clone()]), "not a JSON object");
        let dup = format!(
            r#"{{"protected":{},"payload":{},"signature":{},"payload":"e30"}}"#,
            good["protected"], good["payload"], good["signature"]
        );
        match Jws::parse(dup.as_bytes()) {
            Err(JoseError::Malformed(m)) => {
                assert!(m.contains("duplicate member \"payload\""), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn standard_alphabet_signature_refused() {
        // Find a signature whose base64url form has '-' or '_' so the standard form differs.
        let key = TestKey::p256();
        for _ in 0..64 {
            let v = signed(&key, Alg::Es256, json!({}), b"{}");
            let s = v["signature"].as_str().unwrap();
            if s.contains(['-', '_']) {
                let mut bad = v.clone();
                bad["signature"] = json!(s.replace('-', "+").replace('_', "/"));
                malformed(&bad, "\"signature\" is not unpadded base64url");
                return;
            }
        }
        panic!("64 signatures without '-' or '_'");
    }

    #[test]
    fn mangled_input_never_panics() {
        // Every prefix and many byte flips of valid bodies: parse and verify must return, not
        // panic. A tiny xorshift keeps the run deterministic.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for key in [TestKey::p256(), TestKey::ed25519(), TestKey::rsa()] {
            let good = body(&signed(&key, key.alg(), json!({}), b"{\"x\":1}"));
            let jwk = key.jwk();
            let try_one = |b: &[u8]| {
                if let Ok(jws) = Jws::parse(b) {
                    let _ = jws.verify(&jwk);
                    let _ = jws.payload_json();
                }
            };
            for cut in 0..good.len() {
                try_one(&good[..cut]);
            }
            for _ in 0..2000 {
                let mut b = good.clone();
                let flips = 1 + next() % 3;
                for _ in 0..flips {
                    let i = usize::try_from(next() % b.len() as u64).unwrap();
                    b[i] = u8::try_from(next() & 0xff).unwrap();
                }
                try_one(&b);
            }
        }
    }
}
