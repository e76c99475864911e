//! `uca artifact attest`: CMS attestations that `openssl cms -verify` accepts for every key
//! type (Ed25519 by RFC 8419, checked by hand), and refused to certificates not made for
//! code signing.

use std::path::Path;

use crate::support::artifact::*;
use crate::support::*;

/// `openssl cms -verify` of a detached DER signature: (ok, output).
fn openssl_cms_verify(p7s: &Path, content: &Path, ca: &Path) -> (bool, String) {
    let out = run(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            p7s.utf8(),
            "-content",
            content.utf8(),
            "-CAfile",
            ca.utf8(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    (out.status.success(), text(&out))
}

/// Fields of one `openssl asn1parse` line: (offset, header length, length).
fn asn1_fields(line: &str) -> (usize, usize, usize) {
    let offset = line.split(':').next().unwrap().trim().parse().unwrap();
    let after = |key: &str| -> usize {
        let rest = &line[line.find(key).unwrap() + key.len()..];
        rest.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (offset, after("hl="), after(" l="))
}

/// RFC 8419 by hand for an Ed25519 attestation (OpenSSL 3.0's `cms -verify` cannot verify
/// Ed25519 with signed attributes: "eddsa_digest_signverify_init:invalid digest"): the message
/// digest attribute is SHA-512 of the content, and the signature over the DER SET OF signed
/// attributes verifies with `openssl pkeyutl -rawin`. Returns (digest ok, signature ok).
fn ed25519_rfc8419_check(env: &TempCa, p7s: &Path, content: &Path, cert: &Path) -> (bool, bool) {
    let der = std::fs::read(p7s).unwrap();
    let parsed = openssl(&["asn1parse", "-inform", "DER", "-in", p7s.utf8()]);
    assert!(
        parsed.contains(":sha512"),
        "digest must be SHA-512:\n{parsed}"
    );
    assert!(parsed.contains(":ED25519"), "{parsed}");
    let attrs_line = parsed
        .lines()
        .rev()
        .find(|l| l.contains("cont [ 0 ]"))
        .unwrap();
    let sig_line = parsed
        .lines()
        .rev()
        .find(|l| l.contains("OCTET STRING"))
        .unwrap();
    let (ao, ah, al) = asn1_fields(attrs_line);
    let (so, sh, sl) = asn1_fields(sig_line);
    let mut attrs = der[ao..ao + ah + al].to_vec();
    assert_eq!(attrs[0], 0xa0, "signedAttrs [0] IMPLICIT");
    attrs[0] = 0x31; // signed as a SET OF (RFC 5652 §5.4)
    let sig = &der[so + sh..so + sh + sl];
    assert_eq!(sig.len(), 64, "an Ed25519 signature");
    let dir = env.path("ed-check");
    std::fs::create_dir_all(&dir).unwrap();
    write(&dir.join("attrs.der"), &attrs);
    write(&dir.join("sig.bin"), sig);
    write(
        &dir.join("pub.pem"),
        openssl(&["x509", "-in", cert.utf8(), "-noout", "-pubkey"]).as_bytes(),
    );
    let out = run("openssl", &["dgst", "-sha512", "-binary", content.utf8()]);
    assert!(out.status.success());
    let md = out.stdout;
    let digest_ok = attrs.windows(md.len()).any(|w| w == md.as_slice());
    let v = run(
        "openssl",
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            dir.join("pub.pem").utf8(),
            "-rawin",
            "-in",
            dir.join("attrs.der").utf8(),
            "-sigfile",
            dir.join("sig.bin").utf8(),
        ],
    );
    (digest_ok, v.status.success())
}

#[test]
fn openssl_cms_verifies_uca_attestations_for_every_key_type() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    let tampered = env.path("rel/M.tampered");
    let mut bytes = std::fs::read(&m).unwrap();
    bytes[10] = if bytes[10] == b'0' { b'1' } else { b'0' };
    write(&tampered, &bytes);
    let ca = env.ca_cert();
    let mut stages = Vec::new();
    for (key, stage) in [
        ("ec-p256", "p256"),
        ("ec-p384", "p384"),
        ("ed25519", "ed25519"),
        ("rsa-2048", "rsa"),
    ] {
        let name = format!("sign-{stage}");
        let cert = env
            .issue(&name, &["--profile", "code-signing", "--key", key])
            .cert;
        attest(&env, "rel/M", &name, stage);
        stages.push(stage);
        let p7s = env.path(&format!("rel/M.{stage}.p7s"));
        if key == "ed25519" {
            let (digest, sig) = ed25519_rfc8419_check(&env, &p7s, &m, &cert);
            assert!(digest && sig, "{key}: digest {digest}, signature {sig}");
            let (digest, _) = ed25519_rfc8419_check(&env, &p7s, &tampered, &cert);
            assert!(!digest, "{key}: the digest matched a changed manifest");
            // Newer OpenSSL may verify Ed25519 CMS itself; when it does, it must agree.
            let (ok, _) = openssl_cms_verify(&p7s, &m, &ca);
            if ok {
                assert!(!openssl_cms_verify(&p7s, &tampered, &ca).0);
            }
            continue;
        }
        let (ok, out) = openssl_cms_verify(&p7s, &m, &ca);
        assert!(ok, "{key}: openssl cms -verify failed:\n{out}");
        let (ok, out) = openssl_cms_verify(&p7s, &tampered, &ca);
        assert!(!ok, "{key}: openssl accepted a changed manifest:\n{out}");
    }
    // uca agrees: every stage holds.
    let require = stages.join(",");
    let (c, v) = verify_json(&env, &["rel/M", "--require", &require]);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["holds"], true);
    assert_eq!(v["rows"].as_array().unwrap().len(), 4, "{v:#}");
    assert_eq!(v["meta_covered"], true, "{v:#}");
}

#[test]
fn server_certificate_cannot_attest() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    env.issue("web", &["--profile", "server"]);
    let out = env
        .uca()
        .args(["artifact", "attest", "rel/M", "--cert", "web"])
        .output()
        .unwrap();
    let all = expect(&out, 2);
    assert!(all.contains("code signing"), "{all}");
    assert!(!env.path("rel/M.build.p7s").exists());
    // Signed anyway, by OpenSSL.
    cms_sign(
        &env.issued("web", "cert.pem"),
        &env.issued("web", "key.pem"),
        Some(&env.issued("web", "chain.pem")),
        &m,
        &env.path("rel/M.build.p7s"),
        &[],
    );
    assert_fails(
        &env,
        &["rel/M", "--require", "build"],
        "build",
        "not for code signing",
    );
}
