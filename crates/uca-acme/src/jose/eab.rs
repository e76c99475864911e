//! External account binding (RFC 8555 §7.3.4): the newAccount payload's
//! `externalAccountBinding` is a flattened JWS, MAC'd with a key the CA handed out beforehand,
//! whose payload is the account key. It proves the new account belongs to whoever holds that
//! MAC key.

use aws_lc_rs::hmac;
use serde_json::Value;

use super::error::shown;
use super::jws::{Flattened, optional_string};
use super::{JoseError, Jwk, parse_json};

/// The MAC algorithm of an external account binding (RFC 7518 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacAlg {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
}

impl MacAlg {
    /// The algorithm named by an `alg` value, `None` for anything but HS256/384/512.
    #[must_use]
    pub fn parse(s: &str) -> Option<MacAlg> {
        [MacAlg::Hs256, MacAlg::Hs384, MacAlg::Hs512]
            .into_iter()
            .find(|a| a.as_str() == s)
    }

    /// The `alg` value naming this algorithm.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            MacAlg::Hs256 => "HS256",
            MacAlg::Hs384 => "HS384",
            MacAlg::Hs512 => "HS512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            MacAlg::Hs256 => hmac::HMAC_SHA256,
            MacAlg::Hs384 => hmac::HMAC_SHA384,
            MacAlg::Hs512 => hmac::HMAC_SHA512,
        }
    }
}

/// A parsed (not yet verified) external account binding.
///
/// The caller looks up the MAC key by [`EabJws::kid`], then calls [`EabJws::verify`].
#[derive(Debug, Clone)]
pub struct EabJws {
    alg: MacAlg,
    kid: String,
    url: String,
    /// The payload: the key the binding claims to bind.
    jwk: Jwk,
    mac: Vec<u8>,
    protected_b64: String,
    payload_b64: String,
}

/// Parses the `externalAccountBinding` value of a newAccount payload.
///
/// Besides the flattened-JWS rules of [`super::Jws::parse`] (exactly `protected`, `payload`,
/// `signature`; no `crit`, no `b64: false`), RFC 8555 §7.3.4 requires: `alg` a MAC algorithm
/// (HS256/384/512; anything else, RS256 included, is [`JoseError::Malformed`], not
/// `badSignatureAlgorithm`, whose algorithm list is for the outer JWS), `kid` a non-empty
/// string, `url` a string, no `nonce`; and no `jwk` either, the key being the payload. The
/// payload must be a public JWK.
pub fn parse_eab(v: &Value) -> Result<EabJws, JoseError> {
    const WHAT: &str = "externalAccountBinding";
    let parts = Flattened::parse(v, WHAT)?;
    let header = &parts.header;
    let alg = MacAlg::parse(&parts.alg).ok_or_else(|| {
        JoseError::Malformed(format!(
            "the {WHAT} alg {} is not a MAC algorithm (HS256, HS384, HS512)",
            shown(&parts.alg)
        ))
    })?;
    if header.contains_key("nonce") {
        return Err(JoseError::Malformed(format!(
            "the {WHAT} protected header has a \"nonce\"; RFC 8555 §7.3.4 forbids one"
        )));
    }
    if header.contains_key("jwk") {
        return Err(JoseError::Malformed(format!(
            "the {WHAT} protected header has a \"jwk\"; the account key belongs in the payload"
        )));
    }
    let kid = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        Some(_) => {
            return Err(JoseError::Malformed(format!(
                "the {WHAT} \"kid\" is not a non-empty string"
            )));
        }
        None => {
            return Err(JoseError::Malformed(format!(
                "the {WHAT} protected header has no \"kid\""
            )));
        }
    };
    let url = optional_string(header, "url")?.ok_or_else(|| {
        JoseError::Malformed(format!("the {WHAT} protected header has no \"url\""))
    })?;
    let payload = parse_json(&parts.payload)
        .map_err(|e| JoseError::Malformed(format!("the {WHAT} payload is not JSON: {e}")))?;
    let jwk = Jwk::from_json(&payload).map_err(|e| {
        JoseError::Malformed(format!(
            "the {WHAT} payload is not a usable public JWK: {e}"
        ))
    })?;
    Ok(EabJws {
        alg,
        kid,
        url,
        jwk,
        mac: parts.signature,
        protected_b64: parts.protected_b64,
        payload_b64: parts.payload_b64,
    })
}

impl EabJws {
    /// The MAC key identifier the CA issued with the key: look the MAC key up by it.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The MAC algorithm.
    #[must_use]
    pub fn alg(&self) -> MacAlg {
        self.alg
    }

    /// The `url` header value (must equal the outer JWS's `url`).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Checks the binding in RFC 8555 §7.3.4's order: the `url` equals the outer JWS's `url`
    /// ([`JoseError::Malformed`] if not), the MAC verifies with `mac_key` in constant time
    /// ([`JoseError::BadSignature`] if not; an empty `mac_key`, which anyone could use, never
    /// verifies), and the payload is the same key as `outer_jwk` (compared by its RFC 7638
    /// members; [`JoseError::Malformed`] if not).
    ///
    /// RFC 8555 names no problem type for a failed binding; a caller may prefer
    /// `unauthorized` for `BadSignature` here.
    pub fn verify(
        &self,
        mac_key: &[u8],
        outer_jwk: &Jwk,
        outer_url: &str,
    ) -> Result<(), JoseError> {
        if self.url != outer_url {
            return Err(JoseError::Malformed(
                "the externalAccountBinding \"url\" differs from the request's \"url\"".into(),
            ));
        }
        if mac_key.is_empty() {
            return Err(JoseError::BadSignature);
        }
        let key = hmac::Key::new(self.alg.hmac(), mac_key);
        let input = format!("{}.{}", self.protected_b64, self.payload_b64);
        hmac::verify(&key, input.as_bytes(), &self.mac).map_err(|_| JoseError::BadSignature)?;
        if self.jwk != *outer_jwk {
            return Err(JoseError::Malformed(
                "the externalAccountBinding payload is not the account key the request is signed with"
                    .into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::b64_encode;
    use crate::jose::test_support::{TestKey, jws_with};
    use serde_json::json;

    const URL: &str = "https://ca.example/acme/new-account";
    const MAC_KEY: &[u8] = b"an external account MAC key of 64 octets, as long as SHA-512...";

    fn eab_with(header: Value, payload: &[u8], mac_alg: hmac::Algorithm, mac_key: &[u8]) -> Value {
        jws_with(&header, payload, |input| {
            hmac::sign(&hmac::Key::new(mac_alg, mac_key), input)
                .as_ref()
                .to_vec()
        })
    }

    fn eab(key: &TestKey, alg: MacAlg) -> Value {
        eab_with(
            json!({"alg": alg.as_str(), "kid": "kid-1", "url": URL}),
            key.jwk_json().to_string().as_bytes(),
            alg.hmac(),
            MAC_KEY,
        )
    }

    fn malformed(v: &Value, needle: &str) {
        match parse_eab(v) {
            Err(JoseError::Malformed(m)) => assert!(m.contains(needle), "{m:?} lacks {needle:?}"),
            other => panic!("expected Malformed({needle}), got {other:?}"),
        }
    }

    #[test]
    fn all_mac_algorithms_verify() {
        let key = TestKey::p256();
        for alg in [MacAlg::Hs256, MacAlg::Hs384, MacAlg::Hs512] {
            let e = parse_eab(&eab(&key, alg)).unwrap();
            assert_eq!(e.kid(), "kid-1");
            assert_eq!(e.url(), URL);
            assert_eq!(e.alg(), alg);
            e.verify(MAC_KEY, &key.jwk(), URL).unwrap();
            assert_eq!(MacAlg::parse(alg.as_str()), Some(alg));
        }
        assert_eq!(MacAlg::parse("hs256"), None);
        // RSA and Ed25519 account keys bind the same way.
        for key in [TestKey::rsa(), TestKey::ed25519()] {
            let e = parse_eab(&eab(&key, MacAlg::Hs256)).unwrap();
            e.verify(MAC_KEY, &key.jwk(), URL).unwrap();
        }
    }

    #[test]
    fn payload_with_optional_members_is_the_same_key() {
        let key = TestKey::p384();
        let mut jwk = key.jwk_json();
        jwk["kid"] = json!("whatever");
        let v = eab_with(
            json!({"alg": "HS256", "kid": "k", "url": URL}),
            jwk.to_string().as_bytes(),
            hmac::HMAC_SHA256,
            MAC_KEY,
        );
        parse_eab(&v)
            .unwrap()
            .verify(MAC_KEY, &key.jwk(), URL)
            .unwrap();
    }

    #[test]
    fn wrong_mac_key_or_tampering() {
        let key = TestKey::p256();
        let e = parse_eab(&eab(&key, MacAlg::Hs256)).unwrap();
        assert_eq!(
            e.verify(b"another key", &key.jwk(), URL),
            Err(JoseError::BadSignature)
        );
        assert_eq!(e.verify(b"", &key.jwk(), URL), Err(JoseError::BadSignature));
        // A MAC made with the empty key still does not verify with the empty key.
        let v = eab_with(
            json!({"alg": "HS256", "kid": "k", "url": URL}),
            key.jwk_json().to_string().as_bytes(),
            hmac::HMAC_SHA256,
            b"",
        );
        assert_eq!(
            parse_eab(&v).unwrap().verify(b"", &key.jwk(), URL),
            Err(JoseError::BadSignature)
        );
        // Truncated MAC, MAC of another algorithm's length, a changed header.
        let mut v = eab(&key, MacAlg::Hs256);
        let mac = crate::jose::b64_decode(v["signature"].as_str().unwrap()).unwrap();
        v["signature"] = json!(b64_encode(&mac[..16]));
        assert_eq!(
            parse_eab(&v).unwrap().verify(MAC_KEY, &key.jwk(), URL),
            Err(JoseError::BadSignature)
        );
        let mut v = eab(&key, MacAlg::Hs512);
        v["protected"] = json!(b64_encode(
            json!({"alg": "HS256", "kid": "kid-1", "url": URL})
                .to_string()
                .as_bytes()
        ));
        assert_eq!(
            parse_eab(&v).unwrap().verify(MAC_KEY, &key.jwk(), URL),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn url_mismatch() {
        let key = TestKey::p256();
        let e = parse_eab(&eab(&key, MacAlg::Hs256)).unwrap();
        match e.verify(MAC_KEY, &key.jwk(), "https://ca.example/acme/other") {
            Err(JoseError::Malformed(m)) => assert!(m.contains("\"url\" differs"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn payload_not_the_outer_key() {
        let key = TestKey::p256();
        let e = parse_eab(&eab(&key, MacAlg::Hs256)).unwrap();
        for other in [TestKey::p256(), TestKey::ed25519()] {
            match e.verify(MAC_KEY, &other.jwk(), URL) {
                Err(JoseError::Malformed(m)) => assert!(m.contains("not the account key"), "{m}"),
                r => panic!("{r:?}"),
            }
        }
        // Payloads that are not a public JWK at all.
        for (payload, needle) in [
            (&b""[..], "not JSON"),
            (b"{}", "not a usable public JWK"),
            (b"\"jwk\"", "not a usable public JWK"),
        ] {
            let v = eab_with(
                json!({"alg": "HS256", "kid": "k", "url": URL}),
                payload,
                hmac::HMAC_SHA256,
                MAC_KEY,
            );
            malformed(&v, needle);
        }
        let mut private = key.jwk_json();
        private["d"] = json!("AAAA");
        let v = eab_with(
            json!({"alg": "HS256", "kid": "k", "url": URL}),
            private.to_string().as_bytes(),
            hmac::HMAC_SHA256,
            MAC_KEY,
        );
        malformed(&v, "private member \"d\"");
    }

    #[test]
    fn header_refusals() {
        let key = TestKey::p256();
        let jwk = key.jwk_json().to_string();
        let with = |header: Value| eab_with(header, jwk.as_bytes(), hmac::HMAC_SHA256, MAC_KEY);

        malformed(
            &with(json!({"alg": "RS256", "kid": "k", "url": URL})),
            "alg \"RS256\" is not a MAC",
        );
        malformed(
            &with(json!({"alg": "none", "kid": "k", "url": URL})),
            "alg \"none\"",
        );
        malformed(&with(json!({"kid": "k", "url": URL})), "no \"alg\"");
        malformed(
            &with(json!({"alg": "HS256", "kid": "k", "url": URL, "nonce": "bm9uY2U"})),
            "\"nonce\"",
        );
        malformed(
            &with(json!({"alg": "HS256", "kid": "k", "url": URL, "jwk": key.jwk_json()})),
            "\"jwk\"",
        );
        malformed(&with(json!({"alg": "HS256", "url": URL})), "no \"kid\"");
        malformed(
            &with(json!({"alg": "HS256", "kid": "", "url": URL})),
            "\"kid\" is not a non-empty string",
        );
        malformed(
            &with(json!({"alg": "HS256", "kid": 1, "url": URL})),
            "\"kid\" is not a non-empty string",
        );
        malformed(&with(json!({"alg": "HS256", "kid": "k"})), "no \"url\"");
        malformed(
            &with(json!({"alg": "HS256", "kid": "k", "url": 1})),
            "\"url\" is not a string",
        );
        malformed(
            &with(json!({"alg": "HS256", "kid": "k", "url": URL, "crit": ["x"], "x": 1})),
            "\"crit\"",
        );

        // Serialization rules as for the outer JWS.
        let mut v = with(json!({"alg": "HS256", "kid": "k", "url": URL}));
        v["header"] = json!({});
        malformed(&v, "externalAccountBinding has an unprotected \"header\"");
        malformed(
            &json!("a.b.c"),
            "externalAccountBinding is not a JSON object",
        );
        let mut v = with(json!({"alg": "HS256", "kid": "k", "url": URL}));
        v["signature"] = json!(format!("{}=", v["signature"].as_str().unwrap()));
        malformed(&v, "\"signature\" is not unpadded base64url");
    }
}
