//! Test helpers: keys generated with aws-lc-rs, their JWKs, and hand-built flattened JWSes, so
//! the tests sign exactly what they mean to (including the malformed).

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use super::{Alg, Jwk, b64_encode};

/// A signing key of one of the kinds ACME accepts.
pub(crate) enum TestKey {
    /// An ECDSA key and the algorithm it signs with.
    Ec(EcdsaKeyPair, Alg),
    /// One RSA-2048 key shared by all tests (generating one takes a while).
    Rsa(&'static RsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl TestKey {
    pub(crate) fn p256() -> TestKey {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        TestKey::Ec(pair, Alg::Es256)
    }

    pub(crate) fn p384() -> TestKey {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        TestKey::Ec(pair, Alg::Es384)
    }

    pub(crate) fn p521() -> TestKey {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P521_SHA512_FIXED_SIGNING).unwrap();
        TestKey::Ec(pair, Alg::Es512)
    }

    pub(crate) fn ed25519() -> TestKey {
        TestKey::Ed(Ed25519KeyPair::generate().unwrap())
    }

    pub(crate) fn rsa() -> TestKey {
        static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
        TestKey::Rsa(KEY.get_or_init(|| RsaKeyPair::generate(KeySize::Rsa2048).unwrap()))
    }

    /// The algorithm tests sign with by default.
    pub(crate) fn alg(&self) -> Alg {
        match self {
            TestKey::Ec(_, alg) => *alg,
            TestKey::Rsa(_) => Alg::Rs256,
            TestKey::Ed(_) => Alg::EdDsa,
        }
    }

    /// The public JWK, built from the raw public key (not through `Jwk`).
    pub(crate) fn jwk_json(&self) -> Value {
        match self {
            TestKey::Ec(pair, alg) => {
                let point = pair.public_key().as_ref();
                let (crv, len) = match alg {
                    Alg::Es256 => ("P-256", 32),
                    Alg::Es384 => ("P-384", 48),
                    _ => ("P-521", 66),
                };
                assert_eq!(point.len(), 1 + 2 * len);
                assert_eq!(point[0], 4);
                json!({
                    "kty": "EC",
                    "crv": crv,
                    "x": b64_encode(&point[1..=len]),
                    "y": b64_encode(&point[1 + len..]),
                })
            }
            TestKey::Rsa(pair) => {
                // RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }
                let der = pair.public_key().as_ref();
                let (tag, seq, _) = der_read(der);
                assert_eq!(tag, 0x30);
                let (_, n, rest) = der_read(seq);
                let (_, e, _) = der_read(rest);
                json!({
                    "kty": "RSA",
                    "n": b64_encode(strip_zeros(n)),
                    "e": b64_encode(strip_zeros(e)),
                })
            }
            TestKey::Ed(pair) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64_encode(pair.public_key().as_ref()),
            }),
        }
    }

    pub(crate) fn jwk(&self) -> Jwk {
        Jwk::from_json(&self.jwk_json()).unwrap()
    }

    /// Signs `msg` with `alg`, which must fit the key type (the hash follows the alg for RSA).
    pub(crate) fn sign(&self, alg: Alg, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            TestKey::Ec(pair, own) => {
                assert_eq!(alg, *own, "an EC test key signs with its own alg only");
                pair.sign(&rng, msg).unwrap().as_ref().to_vec()
            }
            TestKey::Rsa(pair) => {
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_SHA256,
                    Alg::Rs384 => &signature::RSA_PKCS1_SHA384,
                    Alg::Rs512 => &signature::RSA_PKCS1_SHA512,
                    Alg::Ps256 => &signature::RSA_PSS_SHA256,
                    Alg::Ps384 => &signature::RSA_PSS_SHA384,
                    Alg::Ps512 => &signature::RSA_PSS_SHA512,
                    other => panic!("RSA cannot sign {other}"),
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(enc, &rng, msg, &mut sig).unwrap();
                sig
            }
            TestKey::Ed(pair) => {
                assert_eq!(alg, Alg::EdDsa);
                pair.sign(msg).as_ref().to_vec()
            }
        }
    }
}

/// A flattened JWS body from a protected header (any JSON value, so tests can send non-objects),
/// a payload and a signing function over the signing input.
pub(crate) fn jws_with(
    protected: &Value,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Vec<u8>,
) -> Value {
    let p = b64_encode(protected.to_string().as_bytes());
    let pl = b64_encode(payload);
    let sig = sign(format!("{p}.{pl}").as_bytes());
    json!({"protected": p, "payload": pl, "signature": b64_encode(&sig)})
}

/// A flattened JWS signed by `key` with `alg` (which the header also names unless the test
/// overrode "alg" in `extra`). The header has "nonce", "url" and "jwk", then `extra` merged in
/// (a null value removes a member).
pub(crate) fn signed(key: &TestKey, alg: Alg, extra: Value, payload: &[u8]) -> Value {
    let mut header = json!({
        "alg": alg.as_str(),
        "nonce": "bm9uY2U",
        "url": "https://ca.example/acme/new-account",
        "jwk": key.jwk_json(),
    });
    merge(&mut header, extra);
    jws_with(&header, payload, |input| key.sign(alg, input))
}

/// Sets each member of `extra` in `target`; a null removes it.
pub(crate) fn merge(target: &mut Value, extra: Value) {
    let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) else {
        panic!("merge needs two objects")
    };
    for (k, v) in e {
        if v.is_null() {
            t.remove(&k);
        } else {
            t.insert(k, v);
        }
    }
}

/// The body bytes of a JWS value.
pub(crate) fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// One DER TLV with a short or long length: (tag, content, rest). Test-only, trusts its input.
pub(crate) fn der_read(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        l if l < 0x80 => (usize::from(l), 2),
        l => {
            let count = usize::from(l & 0x7f);
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// A DER INTEGER's content as an unsigned magnitude.
pub(crate) fn strip_zeros(int: &[u8]) -> &[u8] {
    let skip = int.iter().take_while(|b| **b == 0).count();
    &int[skip..]
}

/// Left-pads a big-endian number to `len` octets.
pub(crate) fn pad_to(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; len - bytes.len()];
    out.extend_from_slice(bytes);
    out
}
