//! Interoperability with OpenSSL (3.x, `openssl` on PATH): keys OpenSSL generated, JWKs read
//! from the SPKI DER it wrote, `spki_der()` compared byte for byte with that DER, and JWSes
//! signed by OpenSSL verified here. Thumbprints are recomputed by Python's json and hashlib, an
//! implementation that shares nothing with ours.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::test_support::{der_read, jws_with, pad_to, strip_zeros};
use super::{Alg, Jwk, Jws, b64_encode};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "uca-acme-jose-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a program, panicking with its stderr if it fails; returns stdout.
fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An OpenSSL-generated private key in `dir`, with its public SPKI DER.
struct OsslKey {
    dir: TempDir,
    spki: Vec<u8>,
}

impl OsslKey {
    fn generate(genpkey_args: &[&str]) -> OsslKey {
        let dir = TempDir::new();
        let key = dir.path("key.pem");
        let mut args = vec!["genpkey"];
        args.extend_from_slice(genpkey_args);
        args.extend_from_slice(&["-out", p(&key)]);
        run("openssl", &args);
        let spki = run(
            "openssl",
            &["pkey", "-in", p(&key), "-pubout", "-outform", "DER"],
        );
        OsslKey { dir, spki }
    }

    /// Signs `input` the way a JWS `alg` needs, with OpenSSL; ECDSA's DER signature is turned
    /// into the fixed r||s form JWS uses (RFC 7518 §3.4).
    fn sign(&self, alg: Alg, input: &[u8]) -> Vec<u8> {
        let data = self.dir.path("input");
        std::fs::write(&data, input).unwrap();
        let key = self.dir.path("key.pem");
        let digest = match alg {
            Alg::Es256 | Alg::Rs256 | Alg::Ps256 => "-sha256",
            Alg::Es384 | Alg::Rs384 | Alg::Ps384 => "-sha384",
            Alg::Es512 | Alg::Rs512 | Alg::Ps512 => "-sha512",
            Alg::EdDsa => {
                return run(
                    "openssl",
                    &[
                        "pkeyutl",
                        "-sign",
                        "-rawin",
                        "-inkey",
                        p(&key),
                        "-in",
                        p(&data),
                    ],
                );
            }
        };
        let mut args = vec!["dgst", digest, "-sign", p(&key)];
        if matches!(alg, Alg::Ps256 | Alg::Ps384 | Alg::Ps512) {
            args.extend_from_slice(&[
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ]);
        }
        args.push(p(&data));
        let sig = run("openssl", &args);
        let coordinate = match alg {
            Alg::Es256 => 32,
            Alg::Es384 => 48,
            Alg::Es512 => 66,
            _ => return sig,
        };
        // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
        let (tag, seq, _) = der_read(&sig);
        assert_eq!(tag, 0x30);
        let (_, r, rest) = der_read(seq);
        let (_, s, _) = der_read(rest);
        let mut fixed = pad_to(strip_zeros(r), coordinate);
        fixed.extend(pad_to(strip_zeros(s), coordinate));
        fixed
    }
}

/// Reads the JWK out of a SubjectPublicKeyInfo by taking the DER apart (not by re-encoding).
fn jwk_from_spki(der: &[u8]) -> Value {
    const EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    let (_, spki, trailing) = der_read(der);
    assert!(trailing.is_empty());
    let (_, alg, rest) = der_read(spki);
    let (tag, bits, _) = der_read(rest);
    assert_eq!(tag, 0x03);
    assert_eq!(bits[0], 0, "unused bits");
    let key = &bits[1..];
    let (_, oid, params) = der_read(alg);
    match oid {
        EC => {
            let (_, curve, _) = der_read(params);
            let crv = match curve {
                [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => "P-256",
                [0x2b, 0x81, 0x04, 0x00, 0x22] => "P-384",
                [0x2b, 0x81, 0x04, 0x00, 0x23] => "P-521",
                other => panic!("curve OID {other:02x?}"),
            };
            assert_eq!(key[0], 0x04, "uncompressed point");
            let (x, y) = key[1..].split_at((key.len() - 1) / 2);
            json!({"kty": "EC", "crv": crv, "x": b64_encode(x), "y": b64_encode(y)})
        }
        RSA => {
            let (_, seq, _) = der_read(key);
            let (_, n, rest) = der_read(seq);
            let (_, e, _) = der_read(rest);
            json!({"kty": "RSA", "n": b64_encode(strip_zeros(n)), "e": b64_encode(strip_zeros(e))})
        }
        ED25519 => json!({"kty": "OKP", "crv": "Ed25519", "x": b64_encode(key)}),
        other => panic!("key OID {other:02x?}"),
    }
}

/// The RFC 7638 thumbprint as Python computes it from the JWK's required members.
fn python_thumbprint(jwk: &Value) -> String {
    let script = r#"
import base64, hashlib, json, sys
jwk = json.loads(sys.argv[1])
required = {"EC": ["crv", "kty", "x", "y"], "RSA": ["e", "kty", "n"], "OKP": ["crv", "kty", "x"]}
canon = json.dumps({k: jwk[k] for k in required[jwk["kty"]]}, sort_keys=True, separators=(",", ":"))
print(base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).decode().rstrip("="), end="")
"#;
    String::from_utf8(run("python3", &["-c", script, &jwk.to_string()])).unwrap()
}

fn check(genpkey_args: &[&str], algs: &[Alg], expect: &str) {
    let key = OsslKey::generate(genpkey_args);
    let jwk_json = jwk_from_spki(&key.spki);
    let jwk = Jwk::from_json(&jwk_json).unwrap();
    assert_eq!(jwk.to_string(), expect);
    assert_eq!(
        jwk.spki_der(),
        key.spki,
        "{expect}: SPKI differs from OpenSSL's"
    );
    assert_eq!(jwk.to_json(), jwk_json);
    assert_eq!(jwk.thumbprint(), python_thumbprint(&jwk_json), "{expect}");

    for alg in algs {
        let header = json!({
            "alg": alg.as_str(),
            "nonce": "bm9uY2U",
            "url": "https://ca.example/acme/new-order",
            "jwk": jwk_json,
        });
        let payload = br#"{"identifiers":[{"type":"dns","value":"example.org"}]}"#;
        let v = jws_with(&header, payload, |input| key.sign(*alg, input));
        let jws = Jws::parse(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(jws.jwk(), Some(&jwk));
        jws.verify(&jwk)
            .unwrap_or_else(|e| panic!("{expect} {alg}: OpenSSL's signature refused: {e}"));

        // The same signature over another payload does not verify.
        let mut forged = v.clone();
        forged["payload"] = json!(b64_encode(b"{}"));
        let jws = Jws::parse(&serde_json::to_vec(&forged).unwrap()).unwrap();
        assert_eq!(jws.verify(&jwk), Err(super::JoseError::BadSignature));
    }
}

#[test]
fn openssl_ec_p256() {
    check(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        &[Alg::Es256],
        "EC P-256",
    );
}

#[test]
fn openssl_ec_p384() {
    check(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        &[Alg::Es384],
        "EC P-384",
    );
}

#[test]
fn openssl_ec_p521() {
    check(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        &[Alg::Es512],
        "EC P-521",
    );
}

#[test]
fn openssl_rsa_2048() {
    check(
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        &[Alg::Rs256, Alg::Ps256, Alg::Rs512, Alg::Ps384],
        "RSA 2048-bit",
    );
}

#[test]
fn openssl_rsa_3072_exponent_3() {
    check(
        &[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-pkeyopt",
            "rsa_keygen_pubexp:3",
        ],
        &[Alg::Rs384, Alg::Ps512],
        "RSA 3072-bit",
    );
}

#[test]
fn openssl_ed25519() {
    check(&["-algorithm", "ED25519"], &[Alg::EdDsa], "Ed25519");
}

#[test]
fn openssl_rsa_1024_refused() {
    let key = OsslKey::generate(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]);
    match Jwk::from_json(&jwk_from_spki(&key.spki)) {
        Err(super::JoseError::UnsupportedKey(m)) => assert!(m.contains("1024 bits"), "{m}"),
        other => panic!("{other:?}"),
    }
}
