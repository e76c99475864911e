//! The DER `SubjectPublicKeyInfo` (RFC 5280 §4.1.2.7) of a JWK, byte for byte as OpenSSL writes
//! it, so an account key can be compared with a CSR's key (RFC 8555 §11.1) by comparing bytes.
//!
//! Only the three shapes below are ever written, from values [`super::Jwk`] has already checked,
//! so a few lines of DER writing do instead of a DER library.

/// `AlgorithmIdentifier` of an EC key on P-256: id-ecPublicKey (1.2.840.10045.2.1) with the
/// named curve prime256v1 (1.2.840.10045.3.1.7) as parameters.
pub(super) const ALG_EC_P256: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
/// id-ecPublicKey with secp384r1 (1.3.132.0.34).
pub(super) const ALG_EC_P384: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x22,
];
/// id-ecPublicKey with secp521r1 (1.3.132.0.35).
pub(super) const ALG_EC_P521: &[u8] = &[
    0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
    0x00, 0x23,
];
/// rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters (RFC 3279 §2.3.1).
const ALG_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// id-Ed25519 (1.3.101.112), parameters absent (RFC 8410 §3).
const ALG_ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;

/// SPKI of an EC key: `alg` is one of the `ALG_EC_*` identifiers, the key the uncompressed
/// point 0x04 || x || y (SEC 1 §2.3.3), which is what OpenSSL writes by default.
pub(super) fn ec(alg: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x.len() + y.len());
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    spki(alg, &point)
}

/// SPKI of an RSA key: the key is `RSAPublicKey ::= SEQUENCE { n INTEGER, e INTEGER }`
/// (RFC 8017 Appendix A.1.1). `n` and `e` are unsigned big-endian without leading zeros.
pub(super) fn rsa(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut ints = unsigned_integer(n);
    ints.extend_from_slice(&unsigned_integer(e));
    spki(ALG_RSA, &tlv(SEQUENCE, &ints))
}

/// SPKI of an Ed25519 key: the key is the 32-octet public key itself (RFC 8410 §4).
pub(super) fn ed25519(x: &[u8]) -> Vec<u8> {
    spki(ALG_ED25519, x)
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm, subjectPublicKey BIT STRING }`, the bit
/// string with no unused bits.
fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(1 + key.len());
    bits.push(0x00);
    bits.extend_from_slice(key);
    let mut body = alg.to_vec();
    body.extend_from_slice(&tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// A DER INTEGER holding a non-negative value given big-endian without leading zeros: a 0x00
/// octet goes in front when the high bit is set, so the value does not read as negative.
fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(magnitude.len() + 1);
    if magnitude.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0x00);
    }
    content.extend_from_slice(magnitude);
    tlv(INTEGER, &content)
}

/// Tag, definite length in the shortest form (X.690 §10.1), content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 10);
    out.push(tag);
    match u8::try_from(content.len()) {
        Ok(short @ 0..=0x7f) => out.push(short),
        _ => {
            let octets = content.len().to_be_bytes();
            let significant: Vec<u8> = octets.into_iter().skip_while(|b| *b == 0).collect();
            // At most size_of::<usize>() octets, so the count always fits the low 7 bits.
            out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0x7f));
            out.extend_from_slice(&significant);
        }
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_shortest_form() {
        assert_eq!(tlv(0x04, &[]), [0x04, 0x00]);
        assert_eq!(tlv(0x04, &[7; 0x7f])[..2], [0x04, 0x7f]);
        assert_eq!(tlv(0x04, &[7; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[7; 0xff])[..3], [0x04, 0x81, 0xff]);
        assert_eq!(tlv(0x04, &[7; 0x100])[..4], [0x04, 0x82, 0x01, 0x00]);
        assert_eq!(tlv(0x04, &[7; 0x1234]).len(), 4 + 0x1234);
    }

    #[test]
    fn integers_stay_non_negative() {
        assert_eq!(unsigned_integer(&[0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(
            unsigned_integer(&[0x01, 0x00, 0x01]),
            [0x02, 0x03, 0x01, 0x00, 0x01]
        );
        assert_eq!(unsigned_integer(&[]), [0x02, 0x01, 0x00]);
    }
}
