//! `uca artifact verify`: what OpenSSL signs verifies, and every kind of tampering or doubtful
//! signer fails with exit 7 and its own words, never a pass and never a panic: changed
//! manifests, swapped or garbage signatures, signers from another CA or outside a CA's
//! constraints, revoked or expired signers, missing or renamed stages.

use std::path::PathBuf;

use crate::support::artifact::*;
use crate::support::*;

#[test]
fn uca_verifies_openssl_cms_signatures_with_and_without_attributes() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    let qa = env.issue("qa-bot", &["--profile", "code-signing"]);
    let (cert, key, chain) = (qa.cert, qa.key, qa.chain);
    let p7s = env.path("rel/M.qa.p7s");
    cms_sign(&cert, &key, Some(&chain), &m, &p7s, &[]);
    let (c, v) = verify_json(&env, &["rel/M", "--require", "qa"]);
    assert_eq!(c, 0, "{v:#}");
    let r = row(&v, "qa");
    assert_eq!(r["ok"], true, "{v:#}");
    assert_eq!(r["signer"], "qa-bot");
    assert!(r["signed_at"].is_string(), "{v:#}");
    assert!(
        words(r, "notes").contains("does not name its stage"),
        "{v:#}"
    );
    // openssl writes no sidecar digest: the sidecar is not covered.
    assert_eq!(v["meta_covered"], false, "{v:#}");
    let human = expect(&verify(&env, &["rel/M", "--require", "qa"]), 0);
    assert!(
        human.contains("HOLDS") && human.contains("qa-bot"),
        "{human}"
    );

    // No signed attributes at all: the signature is over the manifest itself.
    std::fs::remove_file(&p7s).unwrap();
    cms_sign(&cert, &key, Some(&chain), &m, &p7s, &["-noattr"]);
    let (c, v) = verify_json(&env, &["rel/M", "--require", "qa"]);
    assert_eq!(c, 0, "{v:#}");
    let r = row(&v, "qa");
    assert!(
        words(r, "notes").contains("does not name its stage"),
        "{v:#}"
    );
    assert!(words(r, "notes").contains("no signing time"), "{v:#}");
    // ... and it still binds the content.
    let mut bytes = std::fs::read(&m).unwrap();
    bytes[0] = if bytes[0] == b'a' { b'b' } else { b'a' };
    write(&m, &bytes);
    assert_fails(
        &env,
        &["rel/M", "--require", "qa"],
        "qa",
        "signed different content",
    );
}

/// `--json` must say the verdict once: the exit code's. The report's own `holds` (attestations
/// only) is flattened into the same object, so the document has two "holds" keys and every
/// last-key-wins reader (serde_json, jq, Python) sees `true` for a tampered tree.
#[test]

fn json_holds_is_the_overall_verdict() {
    let env = TempCa::new();
    signed_release(&env);
    write(&env.path("tree/lib/data.bin"), b"patched");
    for flag in ["--content", "--installed"] {
        let out = env
            .uca()
            .args([
                "--json",
                "artifact",
                "verify",
                "rel/M",
                "--require",
                "build",
                flag,
                "tree",
            ])
            .output()
            .unwrap();
        assert_eq!(code(&out), 7, "{}", text(&out));
        let raw = stdout(&out);
        assert_eq!(
            raw.matches("\"holds\"").count(),
            1,
            "one verdict, not two:\n{raw}"
        );
        let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            v["holds"], false,
            "{flag}: exit 7 but holds is true:\n{raw}"
        );
    }
}

#[test]
fn changed_manifest_line_and_swapped_signature_sign_different_content() {
    let env = TempCa::new();
    let m = signed_release(&env);
    let good = std::fs::read(&m).unwrap();
    // One hex digit of one line, still a well-formed manifest.
    let mut bytes = good.clone();
    let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[second + 5] = if bytes[second + 5] == b'f' {
        b'e'
    } else {
        b'f'
    };
    write(&m, &bytes);
    assert_fails(
        &env,
        &["rel/M", "--require", "build"],
        "build",
        "signed different content",
    );
    write(&m, &good);
    assert_eq!(verify_json(&env, &["rel/M", "--require", "build"]).0, 0);
    // A signature made for another manifest, copied in.
    write(&env.path("other/file"), b"another release\n");
    let out = manifest(&env, &["--base", "other", "other", "--out", "rel/N"]);
    expect(&out, 0);
    attest(&env, "rel/N", "ci-build", "build");
    copy(&env.path("rel/N.build.p7s"), &env.path("rel/M.build.p7s"));
    assert_fails(
        &env,
        &["rel/M", "--require", "build"],
        "build",
        "signed different content",
    );
}

/// A second CA (`uca init --dir other`) with a code-signing certificate `ci-build`.
fn other_ca(env: &TempCa) -> PathBuf {
    let other = env.path("other");
    uca_bare()
        .current_dir(env.tmp.path())
        .args(["init", "--no-passphrase", "--dir", other.utf8()])
        .assert()
        .success();
    uca_bare()
        .current_dir(env.tmp.path())
        .args([
            "--dir",
            other.utf8(),
            "issue",
            "ci-build",
            "--profile",
            "code-signing",
        ])
        .assert()
        .success();
    other
}

#[test]
fn signer_from_another_ca_fails() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    let other = other_ca(&env);
    let issued = other.join("issued/ci-build");
    // Signed with the certificate and key as files, no chain embedded.
    let out = env
        .uca()
        .args(["artifact", "attest", "rel/M", "--cert"])
        .arg(issued.join("cert.pem"))
        .arg("--key")
        .arg(issued.join("key.pem"))
        .output()
        .unwrap();
    expect(&out, 0);
    let root = env.ca_cert();
    assert_fails(
        &env,
        &["rel/M", "--require", "build", "--root", root.utf8()],
        "build",
        "does not chain to a trusted root",
    );
    // The default root (this CA) is no different.
    assert_fails(
        &env,
        &["rel/M", "--require", "build"],
        "build",
        "does not chain to a trusted root",
    );
    // Trusting the other CA makes it hold: the signature itself is fine.
    let other_root = other.join("ca.crt");
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--root", other_root.utf8()],
    );
    assert_eq!(c, 0, "{v:#}");

    // Signed by NAME in the other CA: its root is embedded in the signature. Still refused.
    std::fs::remove_file(env.path("rel/M.build.p7s")).unwrap();
    let out = uca_bare()
        .current_dir(env.tmp.path())
        .args([
            "--dir",
            other.utf8(),
            "artifact",
            "attest",
            "rel/M",
            "--cert",
            "ci-build",
        ])
        .output()
        .unwrap();
    expect(&out, 0);
    for args in [
        &["rel/M", "--require", "build", "--root", root.utf8()][..],
        &["rel/M", "--require", "build"][..],
    ] {
        let (c, v) = verify_json(&env, args);
        assert_eq!(c, 7, "{v:#}");
        assert_eq!(row(&v, "build")["ok"], false, "{v:#}");
        expect(&verify(&env, args), 7);
    }
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--root", other_root.utf8()],
    );
    assert_eq!(c, 0, "{v:#}");
}

/// A signature by another uca CA's certificate embeds that CA's (self-signed) root, as `attest
/// --cert NAME` does by default; the verdict must still say why: no chain to a trusted root.
#[test]

fn signer_from_another_ca_with_its_root_embedded_does_not_chain() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    let other = other_ca(&env);
    let out = uca_bare()
        .current_dir(env.tmp.path())
        .args([
            "--dir",
            other.utf8(),
            "artifact",
            "attest",
            "rel/M",
            "--cert",
            "ci-build",
        ])
        .output()
        .unwrap();
    expect(&out, 0);
    let v = assert_fails(
        &env,
        &[
            "rel/M",
            "--require",
            "build",
            "--root",
            env.ca_cert().utf8(),
        ],
        "build",
        "does not chain to a trusted root",
    );
    let r = row(&v, "build");
    assert!(!words(r, "problems").contains("longer than"), "{v:#}");
    assert!(r["chain"].as_array().unwrap().len() <= 2, "{v:#}");
}

/// Regression: with no --dir and no UCA_DIR, a ./pki that merely sits in the working directory
/// was trusted; it must be named to be trusted.
#[test]
fn a_pki_beside_the_manifest_is_not_a_trust_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    expect(
        &uca_in(dir, &["--dir", "pki", "init", "--no-passphrase"]),
        0,
    );
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "issue",
                "ci-build",
                "--profile",
                "code-signing",
            ],
        ),
        0,
    );
    write(&dir.join("tree/app"), b"evil\n");
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "artifact",
                "manifest",
                "--base",
                "tree",
                "tree",
                "--out",
                "SHA256SUMS",
            ],
        ),
        0,
    );
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "artifact",
                "attest",
                "SHA256SUMS",
                "--cert",
                "ci-build",
                "--stage",
                "build",
            ],
        ),
        0,
    );
    // No --dir, no UCA_DIR: the ./pki beside it is not trusted.
    let out = uca_in(
        dir,
        &["artifact", "verify", "SHA256SUMS", "--require", "build"],
    );
    let all = expect(&out, 2);
    assert!(all.contains("no trusted root"), "{all}");
    let hint = all
        .lines()
        .find(|l| l.contains("hint"))
        .unwrap_or_else(|| panic!("no hint:\n{all}"));
    assert!(hint.contains("--dir"), "{all}");
    assert!(!all.contains("HOLDS"), "{all}");
    // Named explicitly, it is trusted.
    let out = uca_in(
        dir,
        &[
            "--dir",
            "pki",
            "artifact",
            "verify",
            "SHA256SUMS",
            "--require",
            "build",
        ],
    );
    let all = expect(&out, 0);
    assert!(all.contains("HOLDS"), "{all}");
}

/// `uca intermediate NAME --parent pki --dir CHILD EXTRA --no-passphrase` (parent unencrypted).
fn intermediate(env: &TempCa, name: &str, child: &str, extra: &[&str]) -> PathBuf {
    let out = uca_bare()
        .current_dir(env.tmp.path())
        .args(["intermediate", name, "--parent", "pki", "--dir", child])
        .args(extra)
        .arg("--no-passphrase")
        .output()
        .unwrap();
    expect(&out, 0);
    let dir = env.path(child);
    assert!(dir.join("ca.crt").is_file(), "no {child}/ca.crt");
    assert!(
        dir.join("private/ca.key").is_file(),
        "no {child}/private/ca.key"
    );
    dir
}

const ROGUE_CA_EXT: &str =
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign";

fn codesign_ext(dns: &str) -> String {
    format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=codeSigning\nsubjectAltName=DNS:{dns}"
    )
}

/// Regression: a code-signing leaf under a rogue CA below a `--path-len 0` intermediate held;
/// `artifact verify` and `uca verify` must both name pathLenConstraint.
#[test]
fn signer_below_a_path_len_0_intermediate_is_refused_by_artifact_verify_and_verify() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let help = uca_in(env.tmp.path(), &["intermediate", "--help"]);
    let help = expect(&help, 0);
    assert!(
        help.contains("--path-len") && help.contains("--dir names the NEW child directory"),
        "{help}"
    );
    let sub = intermediate(&env, "sub", "sub", &["--path-len", "0"]);
    // A rogue sub-CA signed with the intermediate's key, below its pathlen 0.
    let (rogue, rogue_key) = forge(
        env.tmp.path(),
        "rogue",
        "/CN=rogue",
        ROGUE_CA_EXT,
        (&sub.join("ca.crt"), &sub.join("private/ca.key")),
        None,
    );
    let (leaf, leaf_key) = forge(
        env.tmp.path(),
        "leaf",
        "/CN=build",
        &codesign_ext("build.svc.internal"),
        (&rogue, &rogue_key),
        None,
    );
    let chain = env.path("chain.pem");
    cat(&[&rogue, &sub.join("ca.crt")], &chain);
    let m = release(&env);
    cms_sign(
        &leaf,
        &leaf_key,
        Some(&chain),
        &m,
        &env.path("rel/M.build.p7s"),
        &[],
    );
    let out = env.run(&[
        "artifact",
        "verify",
        "rel/M",
        "--require",
        "build",
        "--root",
        "pki/ca.crt",
    ]);
    let all = expect(&out, 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("pathLenConstraint"), "{all}");

    // `uca verify` of the leaf with its chain, from the root CA.
    let lwc = env.path("leaf-with-chain.pem");
    cat(&[&leaf, &chain], &lwc);
    let all = expect(&env.run(&["verify", lwc.utf8()]), 7);
    assert!(all.contains("NOT valid"), "{all}");
    assert!(all.contains("pathLenConstraint"), "{all}");
}

/// Regression: a signer outside an intermediate's `--permit-dns` subtree held; inside it holds.
#[test]
fn signer_outside_the_name_constraints_is_refused() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let help = expect(&uca_in(env.tmp.path(), &["intermediate", "--help"]), 0);
    assert!(help.contains("--permit-dns"), "{help}");
    let sub2 = intermediate(&env, "sub2", "sub2", &["--permit-dns", "svc.internal"]);
    let (ca, ca_key) = (sub2.join("ca.crt"), sub2.join("private/ca.key"));
    let m = release(&env);
    let p7s = env.path("rel/M.build.p7s");
    let args = [
        "artifact",
        "verify",
        "rel/M",
        "--require",
        "build",
        "--root",
        "pki/ca.crt",
    ];

    // Outside the permitted subtree.
    let (out_leaf, out_key) = forge(
        env.tmp.path(),
        "outside",
        "/CN=build",
        &codesign_ext("build.ci.internal"),
        (&ca, &ca_key),
        None,
    );
    cms_sign(&out_leaf, &out_key, Some(&ca), &m, &p7s, &[]);
    let all = expect(&env.run(&args), 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("name constraints"), "{all}");
    assert!(all.contains("build.ci.internal"), "{all}");

    // Inside: holds.
    std::fs::remove_file(&p7s).unwrap();
    let (in_leaf, in_key) = forge(
        env.tmp.path(),
        "inside",
        "/CN=build",
        &codesign_ext("build.svc.internal"),
        (&ca, &ca_key),
        None,
    );
    cms_sign(&in_leaf, &in_key, Some(&ca), &m, &p7s, &[]);
    let all = expect(&env.run(&args), 0);
    assert!(all.contains("HOLDS"), "{all}");
}

#[test]
fn revoked_signer_fails_by_ledger_by_crl_and_by_bundled_crl() {
    let env = TempCa::new();
    signed_release(&env);
    // Offline copies, made before the revocation: the release and the root.
    let offline = env.path("offline");
    for f in ["M", "M.meta", "M.build.p7s"] {
        copy(&env.path(&format!("rel/{f}")), &offline.join("rel").join(f));
    }
    copy(&env.ca_cert(), &offline.join("ca.crt"));
    let offline_verify = |args: &[&str]| -> (i32, serde_json::Value) {
        let out = uca_bare()
            .current_dir(&offline)
            .args(["--json", "artifact", "verify"])
            .args(args)
            .output()
            .unwrap();
        let c = code(&out);
        (
            c,
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out))),
        )
    };
    assert!(!offline.join("pki").exists());
    let (c, v) = offline_verify(&["rel/M", "--require", "build", "--root", "ca.crt"]);
    assert_eq!(c, 0, "{v:#}");
    assert!(
        words(row(&v, "build"), "notes").contains("revocation not checked"),
        "{v:#}"
    );
    assert_eq!(verify_json(&env, &["rel/M", "--require", "build"]).0, 0);

    env.uca()
        .args(["revoke", "ci-build", "--reason", "keyCompromise"])
        .assert()
        .success();
    // On the CA's machine: the ledger knows.
    let v = assert_fails(&env, &["rel/M", "--require", "build"], "build", "revoked");
    assert!(
        words(row(&v, "build"), "problems").contains("ledger"),
        "{v:#}"
    );

    // Elsewhere, with the CRL.
    env.uca().arg("crl").assert().success();
    copy(&env.ca_dir().join("crl.pem"), &offline.join("crl.pem"));
    let (c, v) = offline_verify(&[
        "rel/M",
        "--require",
        "build",
        "--root",
        "ca.crt",
        "--crl",
        "crl.pem",
    ]);
    assert_eq!(c, 7, "{v:#}");
    let p = words(row(&v, "build"), "problems");
    assert!(p.contains("revoked") && p.contains("crl.pem"), "{p}");
    assert_eq!(v["crls"][0]["stale"], false, "{v:#}");

    // Elsewhere, with the CRL bundled beside the manifest (picked up by itself).
    env.uca()
        .args(["artifact", "bundle", "rel/M"])
        .assert()
        .success();
    assert!(env.path("rel/M.ca.crt").is_file());
    copy(&env.path("rel/M.crl"), &offline.join("rel/M.crl"));
    let (c, v) = offline_verify(&["rel/M", "--require", "build", "--root", "ca.crt"]);
    assert_eq!(c, 7, "{v:#}");
    let p = words(row(&v, "build"), "problems");
    assert!(p.contains("revoked") && p.contains("M.crl"), "{p}");
}

#[test]
fn expired_signer_fails() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    let (cert, key) = OpensslCa::new(&env, "ossl").issue(
        "old-signer",
        "ext_codesign",
        "20200101000000Z",
        "20210101000000Z",
    );
    let eku = openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(eku.contains("Code Signing"), "{eku}");
    cms_sign(&cert, &key, None, &m, &env.path("rel/M.build.p7s"), &[]);
    assert_fails(&env, &["rel/M", "--require", "build"], "build", "expired");
}

#[test]
fn missing_required_stage() {
    let env = TempCa::new();
    signed_release(&env);
    let (c, v) = verify_json(&env, &["rel/M", "--require", "build,qa"]);
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["holds"], false);
    assert_eq!(v["missing"], serde_json::json!(["qa"]), "{v:#}");
    assert_eq!(row(&v, "build")["ok"], true);
    let human = expect(&verify(&env, &["rel/M", "--require", "build,qa"]), 7);
    assert!(
        human.contains("MISSING") && human.contains("M.qa.p7s"),
        "{human}"
    );
    // Nothing at all.
    std::fs::remove_file(env.path("rel/M.build.p7s")).unwrap();
    let (c, v) = verify_json(&env, &["rel/M", "--require", "build"]);
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["missing"], serde_json::json!(["build"]), "{v:#}");
}

#[test]
fn renamed_stage_file_is_caught() {
    let env = TempCa::new();
    signed_release(&env);
    copy(&env.path("rel/M.build.p7s"), &env.path("rel/M.release.p7s"));
    assert_fails(
        &env,
        &["rel/M", "--require", "build"],
        "release",
        "but is filed as",
    );
    let (c, v) = verify_json(&env, &["rel/M", "--require", "build,release"]);
    assert_eq!(c, 7);
    assert_eq!(v["missing"], serde_json::json!(["release"]), "{v:#}");
    // Moved rather than copied: build is missing and release is refused.
    std::fs::remove_file(env.path("rel/M.build.p7s")).unwrap();
    let (c, v) = verify_json(&env, &["rel/M", "--require", "release"]);
    assert_eq!(c, 7);
    assert_eq!(v["missing"], serde_json::json!(["release"]), "{v:#}");
    assert!(words(row(&v, "release"), "problems").contains("but is filed as"));
}

#[test]
fn garbage_or_corrupt_signature_files_fail() {
    let env = TempCa::new();
    signed_release(&env);
    let p7s = env.path("rel/M.build.p7s");
    let good = std::fs::read(&p7s).unwrap();
    let args = ["rel/M", "--require", "build"];
    // The last bytes of the file are the signature value: flip one.
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    write(&p7s, &bad);
    assert_fails(&env, &args, "build", "does not verify");
    for (what, bytes) in [
        ("garbage", b"this is not a signature\n".to_vec()),
        ("empty", Vec::new()),
        ("truncated", good[..good.len() / 2].to_vec()),
        (
            "pem garbage",
            b"-----BEGIN CMS-----\n!!!!\n-----END CMS-----\n".to_vec(),
        ),
    ] {
        write(&p7s, &bytes);
        let (c, v) = verify_json(&env, &args);
        assert_eq!(c, 7, "{what}: {v:#}");
        assert_eq!(row(&v, "build")["ok"], false, "{what}: {v:#}");
        if what == "garbage" {
            assert!(
                words(row(&v, "build"), "problems").contains("not a CMS signature"),
                "{v:#}"
            );
        }
        expect(&verify(&env, &args), 7);
    }
}

#[test]
fn malformed_manifests_fail_with_the_line() {
    let env = TempCa::new();
    let m = signed_release(&env);
    let good = std::fs::read_to_string(&m).unwrap();
    let hash = "ab".repeat(32);
    let first = good.lines().next().unwrap();
    let cut = good.find('\n').unwrap() + 1 + 30;
    for (what, body, want) in [
        ("truncated", good[..cut].to_string(), "manifest line 2"),
        ("dot-dot", format!("{hash}  ../x\n"), "manifest line 1"),
        (
            "dot-dot later",
            format!("{first}\n{hash}  a/../../x\n"),
            "manifest line 2",
        ),
        (
            "absolute",
            format!("{hash}  /etc/passwd\n"),
            "manifest line 1",
        ),
        (
            "duplicate",
            format!("{first}\n{first}\n"),
            "listed more than once",
        ),
        (
            "duplicate ./",
            format!("{hash}  a\n{hash}  ./a\n"),
            "listed more than once",
        ),
        ("empty", String::new(), "empty"),
        ("crlf", good.replace('\n', "\r\n"), "manifest line"),
    ] {
        write(&m, body.as_bytes());
        let out = verify(&env, &["rel/M", "--require", "build", "--content", "tree"]);
        let all = expect(&out, 7);
        assert!(all.contains(want), "{what}: expected {want:?}:\n{all}");
        if what == "dot-dot" {
            assert!(all.contains(".."), "{all}");
        }
        // Nobody signs it either.
        let out = env
            .uca()
            .args([
                "artifact", "attest", "rel/M", "--cert", "ci-build", "--stage", "qa",
            ])
            .output()
            .unwrap();
        assert_ne!(code(&out), 0, "{what}: attest accepted it:\n{}", text(&out));
        assert!(!env.path("rel/M.qa.p7s").exists());
    }
}
