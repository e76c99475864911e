//! `uca artifact` (manifest, attest, verify, bundle), judged by GNU sha256sum and OpenSSL: the
//! manifest is sha256sum's own text, the attestations are CMS that `openssl cms` verifies (and
//! uca verifies what `openssl cms -sign` makes), and every kind of tampering fails with its own
//! words, never a pass and never a panic.

use crate::support::artifact::*;
use crate::support::*;

use std::path::{Path, PathBuf};
use std::process::Output;

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

/// The coreutils text for `sha256sum -- FILES` run in `dir`.
fn sha256sum_in(dir: &Path, files: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("sha256sum")
        .arg("--")
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

// ---------------------------------------------------------------------------------------------
// 1. The manifest is sha256sum's text.

#[test]
fn manifest_is_byte_for_byte_sha256sum_and_sha256sum_c_accepts_it() {
    let env = TempCa::new();
    // A simple tree whose names test bytewise order: upper case first, '-' < '/' < '0'.
    let simple = env.path("simple");
    for (name, data) in [
        ("B.txt", "upper\n"),
        ("a-b", "dash\n"),
        ("a/b", "slash\n"),
        ("a0", "zero\n"),
        ("lib/deep/x.so", "so\n"),
        ("z", ""),
    ] {
        write(&simple.join(name), data.as_bytes());
    }
    let ours = uca_bare()
        .current_dir(&simple)
        .args(["artifact", "manifest", "."])
        .output()
        .unwrap();
    expect(&ours, 0);
    let expected = std::process::Command::new("sh")
        .arg("-c")
        .arg("find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum --")
        .current_dir(&simple)
        .output()
        .unwrap();
    assert!(expected.status.success(), "{}", text(&expected));
    assert!(!expected.stdout.is_empty());
    assert_eq!(
        stdout(&ours),
        stdout(&expected),
        "uca's manifest differs from find | LC_ALL=C sort | sha256sum"
    );
    // The same bytes from outside with --base.
    let based = manifest(&env, &["--base", "simple", "simple"]);
    expect(&based, 0);
    assert_eq!(based.stdout, expected.stdout);
    let check = std::process::Command::new("sha256sum")
        .args(["--strict", "-c", "-"])
        .current_dir(&simple)
        .stdin(
            std::fs::File::open({
                let p = env.path("simple.sums");
                std::fs::write(&p, &ours.stdout).unwrap();
                p
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));

    // Odd names: a space, a backslash, a newline (coreutils escapes the last two).
    let odd = env.path("odd");
    let names = ["with space", "back\\slash", "new\nline", "sub/plain"];
    for (i, n) in names.iter().enumerate() {
        write(&odd.join(n), format!("content {i}\n").as_bytes());
    }
    let out = manifest(&env, &["--base", "odd", "odd", "--out", "odd.sums"]);
    expect(&out, 0);
    let manifest = std::fs::read(env.path("odd.sums")).unwrap();
    // Each line is exactly what sha256sum prints for that file.
    for n in names {
        let line = sha256sum_in(&odd, &[n]);
        assert!(
            manifest.windows(line.len()).any(|w| w == line.as_slice()),
            "sha256sum's line {:?} is not in the manifest:\n{}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&manifest)
        );
    }
    assert_eq!(
        manifest.iter().filter(|&&b| b == b'\n').count(),
        names.len(),
        "one line per file:\n{}",
        String::from_utf8_lossy(&manifest)
    );
    let check = std::process::Command::new("sha256sum")
        .args(["--strict", "-c", "../odd.sums"])
        .current_dir(&odd)
        .output()
        .unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", text(&check));
    assert_eq!(
        stdout(&check).matches(": OK").count(),
        names.len(),
        "{}",
        text(&check)
    );
    // And sha256sum -c notices a change.
    write(&odd.join("new\nline"), b"changed\n");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "../odd.sums"])
        .current_dir(&odd)
        .output()
        .unwrap();
    assert!(!check.status.success(), "{}", text(&check));
}

// ---------------------------------------------------------------------------------------------
// 2. Determinism.

fn touch(path: &Path, date: &str) {
    let out = run("touch", &["-h", "-d", date, path.utf8()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn same_content_in_any_order_and_mtime_gives_identical_manifest_and_sidecar() {
    let env = TempCa::new();
    let files: [(&str, &[u8], u32); 5] = [
        ("a/1", b"one\n", 0o644),
        ("b/2", b"two\n", 0o600),
        ("b/sub/3", b"three\n", 0o755),
        ("c", b"", 0o644),
        ("d e", b"spaced\n", 0o640),
    ];
    let make = |root: &str, order: &[usize], date: &str| {
        let dir = env.path(root);
        for &i in order {
            let (name, data, mode) = files[i];
            write(&dir.join(name), data);
            chmod(&dir.join(name), mode);
            touch(&dir.join(name), date);
        }
        std::os::unix::fs::symlink("b/sub/3", dir.join("link")).unwrap();
        touch(&dir.join("link"), date);
    };
    make("t1", &[0, 1, 2, 3, 4], "2001-02-03 04:05:06");
    make("t2", &[4, 3, 2, 1, 0], "2024-12-31 23:59:59");
    for (t, m) in [("t1", "m1"), ("t2", "m2")] {
        let out = manifest(&env, &["--base", t, t, "--out", m]);
        expect(&out, 0);
    }
    let m1 = std::fs::read(env.path("m1")).unwrap();
    let m2 = std::fs::read(env.path("m2")).unwrap();
    assert_eq!(m1, m2, "manifests differ");
    assert_eq!(String::from_utf8_lossy(&m1).lines().count(), files.len());
    let s1 = std::fs::read(env.path("m1.meta")).unwrap();
    let s2 = std::fs::read(env.path("m2.meta")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&s1),
        String::from_utf8_lossy(&s2),
        "sidecars differ"
    );
    let side = String::from_utf8_lossy(&s1);
    assert!(
        side.starts_with("# uca manifest meta v1: MODE TYPE PATH [TARGET]\n"),
        "{side}"
    );
    assert!(side.contains("0755 f b/sub/3\n"), "{side}");
    assert!(side.contains("0600 f b/2\n"), "{side}");
    assert!(side.contains("0777 l link b/sub/3\n"), "{side}");
    // Stdout form is the same bytes as the file, run after run.
    for t in ["t1", "t2", "t1"] {
        let out = manifest(&env, &["--base", t, t]);
        expect(&out, 0);
        assert_eq!(out.stdout, m1);
    }
}

#[test]
fn manifest_out_refuses_to_overwrite_and_leaves_itself_and_links_out() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("app"), b"app\n");
    std::os::unix::fs::symlink("app", tree.join("alias")).unwrap();
    // Writing inside the tree: the manifest, its sidecar and signatures are not release files.
    write(&tree.join("SUMS.build.p7s"), b"an old signature");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/SUMS"]);
    expect(&out, 0);
    let m = std::fs::read_to_string(tree.join("SUMS")).unwrap();
    assert_eq!(m.lines().count(), 1, "only app is a release file:\n{m}");
    assert!(m.ends_with("  app\n"), "{m}");
    let meta = std::fs::read_to_string(tree.join("SUMS.meta")).unwrap();
    assert!(meta.contains(" l alias app\n"), "{meta}");
    // Again: refused, exit 5, nothing changed.
    let before = snapshot(&tree);
    write(&tree.join("app"), b"app v2\n");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/SUMS"]);
    let all = expect(&out, 5);
    assert!(all.contains("exists"), "{all}");
    assert_eq!(
        std::fs::read(tree.join("SUMS")).unwrap(),
        before[&tree.join("SUMS")].0
    );
    // --force replaces it.
    let out = manifest(
        &env,
        &["--base", "tree", "tree", "--out", "tree/SUMS", "--force"],
    );
    expect(&out, 0);
    let m2 = std::fs::read_to_string(tree.join("SUMS")).unwrap();
    assert_ne!(m, m2);
    // --follow-symlinks: the link is hashed as a file under its own name.
    let out = manifest(
        &env,
        &[
            "--base",
            "tree",
            "tree/app",
            "tree/alias",
            "--follow-symlinks",
        ],
    );
    expect(&out, 0);
    let followed = stdout(&out);
    let lines: Vec<&str> = followed.lines().collect();
    assert_eq!(lines.len(), 2, "{followed}");
    assert!(
        lines[0].ends_with("  alias") && lines[1].ends_with("  app"),
        "{followed}"
    );
    assert_eq!(lines[0][..64], lines[1][..64]);
}

/// Only the manifest's own files (the manifest, `MANIFEST.meta`, `MANIFEST.*.p7s` beside it) are
/// left out of the walk, as the help says ("files named MANIFEST*"): not every path that happens
/// to start with the same bytes, such as a directory `Mods/` beside `--out tree/M`.
#[test]

fn manifest_out_inside_the_tree_leaves_out_only_its_own_files() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("Mods/lib.so"), b"module\n");
    write(&tree.join("keep"), b"kept\n");
    write(&tree.join("M.build.p7s"), b"an old signature");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/M"]);
    expect(&out, 0);
    let m = std::fs::read_to_string(tree.join("M")).unwrap();
    assert!(m.contains("  keep\n"), "{m}");
    assert!(!m.contains("M.build.p7s"), "{m}");
    assert!(
        m.contains("  Mods/lib.so\n"),
        "Mods/lib.so was silently left out:\n{m}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. OpenSSL verifies what uca attests.

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

// ---------------------------------------------------------------------------------------------
// 4. uca verifies what OpenSSL signs.

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

// ---------------------------------------------------------------------------------------------
// 5. Tampering: each fails with exit 7 and its own words.

#[test]
fn changed_file_is_reported_modified_with_content() {
    let env = TempCa::new();
    signed_release(&env);
    let args = ["rel/M", "--require", "build", "--content", "tree"];
    let (c, v) = verify_json(&env, &args);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["content"]["ok"], true, "{v:#}");
    assert_eq!(v["content"]["checked"], 3, "{v:#}");
    write(&env.path("tree/lib/data.bin"), b"patched");
    let (c, v) = verify_json(&env, &args);
    assert_eq!(c, 7, "{v:#}");
    // (What "holds" says here is json_holds_is_the_overall_verdict's business.)
    // The signatures are fine; the files are not.
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    let f = v["content"]["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["change"], "modified");
    assert_eq!(f[0]["path"], "lib/data.bin");
    assert_eq!(f[0]["allowed"], false);
    let human = expect(&verify(&env, &args), 7);
    assert!(
        human.contains("modified") && human.contains("lib/data.bin"),
        "{human}"
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
fn signer_not_allowed_by_the_policy() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    env.issue("ci-build", &["--profile", "code-signing"]);
    env.issue("qa-bot", &["--profile", "code-signing"]);
    attest(&env, "rel/M", "ci-build", "build");
    attest(&env, "rel/M", "ci-build", "qa"); // the build machine may not sign off QA
    let policy = env.path("policy.toml");
    write(
        &policy,
        br#"require = ["build", "qa"]
roots = ["pki/ca.crt"]
max_age = "90d"

[stages.build]
signers = ["ci-*"]

[stages.qa]
signers = ["cn:qa-bot"]
"#,
    );
    let v = assert_fails(
        &env,
        &["rel/M", "--policy", policy.utf8()],
        "qa",
        "may not attest stage",
    );
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    assert!(
        words(row(&v, "qa"), "problems").contains("cn:qa-bot"),
        "{v:#}"
    );
    // The same rule from the command line.
    assert_fails(
        &env,
        &["rel/M", "--require", "build,qa", "--signer", "qa=cn:qa-*"],
        "qa",
        "may not attest stage",
    );
    // The right signer: it holds.
    std::fs::remove_file(env.path("rel/M.qa.p7s")).unwrap();
    attest(&env, "rel/M", "qa-bot", "qa");
    let (c, v) = verify_json(&env, &["rel/M", "--policy", policy.utf8()]);
    assert_eq!(c, 0, "{v:#}");
    // A "san:" pattern that matches none of the signer's SANs.
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "qa", "--signer", "qa=san:nobody-*"],
    );
    assert_eq!(c, 7, "{v:#}");
}

// ---------------------------------------------------------------------------------------------
// 6. Bad input: never a pass, never a panic.

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

/// `uca artifact manifest ARGS` in `dir` as an unprivileged user: as is when not root; as root,
/// through `setpriv` as nobody (root reads mode 000 files). None when that is impossible.
fn manifest_unprivileged(dir: &Path, args: &[&str]) -> Option<Output> {
    let uid = stdout(&run("id", &["-u"])).trim().to_string();
    if uid != "0" {
        return Some(
            uca_bare()
                .current_dir(dir)
                .args(["artifact", "manifest"])
                .args(args)
                .output()
                .unwrap(),
        );
    }
    let drop = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let probe = std::process::Command::new("setpriv")
        .args(drop)
        .arg("true")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let mut c = std::process::Command::new("setpriv");
    c.args(drop)
        .arg(assert_cmd::cargo::cargo_bin("uca"))
        .args(["artifact", "manifest"])
        .args(args)
        .current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("UCA_") {
            c.env_remove(&k);
        }
    }
    Some(c.output().unwrap())
}

#[test]
fn unreadable_file_stops_the_manifest() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("ok"), b"fine\n");
    write(&tree.join("secret"), b"no\n");
    chmod(&tree.join("secret"), 0o000);
    std::fs::create_dir_all(env.path("rel")).unwrap();
    // Reachable by an unprivileged user: the temp dir and tree readable, rel/ writable.
    chmod(env.tmp.path(), 0o755);
    chmod(&tree, 0o755);
    chmod(&env.path("rel"), 0o777);
    let args = ["--base", "tree", "tree", "--out", "rel/M"];
    let Some(out) = manifest_unprivileged(env.tmp.path(), &args) else {
        eprintln!("skipped: running as root and cannot drop privileges with setpriv");
        return;
    };
    let c = code(&out);
    assert_ne!(c, 0, "{}", text(&out));
    assert!(stderr(&out).contains("secret"), "{}", text(&out));
    assert!(!env.path("rel/M").exists(), "a manifest was written");
    assert!(!env.path("rel/M.meta").exists(), "a sidecar was written");
    let out = manifest_unprivileged(env.tmp.path(), &["--base", "tree", "tree"]).unwrap();
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // Readable again: the same command works (so the failure above was the unreadable file).
    chmod(&tree.join("secret"), 0o644);
    let out = manifest_unprivileged(env.tmp.path(), &args).unwrap();
    expect(&out, 0);
    assert_eq!(
        std::fs::read_to_string(env.path("rel/M"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn policy_with_unknown_key_is_a_usage_error_with_its_location() {
    let env = TempCa::new();
    signed_release(&env);
    let policy = env.path("policy.toml");
    for (body, loc) in [
        (
            "require = [\"build\"]\nroots = [\"pki/ca.crt\"]\nrequires = [\"qa\"]\n",
            ":3:1:",
        ),
        (
            "require = [\"build\"]\nroots = [\"pki/ca.crt\"]\n[stages.build]\nsigner = [\"ci-*\"]\n",
            ":4:",
        ),
    ] {
        write(&policy, body.as_bytes());
        let out = verify(&env, &["rel/M", "--policy", policy.utf8()]);
        let all = expect(&out, 2);
        assert!(
            all.contains(&format!("policy.toml{loc}")),
            "expected policy.toml{loc}:\n{all}"
        );
        let out = env
            .uca()
            .args([
                "--json",
                "artifact",
                "verify",
                "rel/M",
                "--policy",
                policy.utf8(),
            ])
            .output()
            .unwrap();
        let all = expect(&out, 2);
        assert!(all.contains(&format!("policy.toml{loc}")), "{all}");
    }
    // The valid policy holds, so the failures above were the unknown keys.
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\n[stages.build]\nsigners = [\"ci-*\"]\n",
    );
    expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 0);
}

// ---------------------------------------------------------------------------------------------
// 7. --installed: an rpm -V style report.

#[test]
fn installed_tree_reports_every_kind_of_change() {
    let env = TempCa::new();
    signed_release(&env);
    let policy = env.path("policy.toml");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\nmutable = [\"etc/*.conf\"]\n",
    );
    let tree = env.path("tree");
    let args = ["rel/M", "--policy", policy.utf8(), "--installed", "tree"];
    let check = |want_code: i32| -> Vec<serde_json::Value> {
        let (c, v) = verify_json(&env, &args);
        assert_eq!(c, want_code, "{v:#}");
        assert_eq!(v["meta_covered"], true, "{v:#}");
        assert!(
            v.get("content").is_none() || v["content"].is_null(),
            "{v:#}"
        );
        v["installed"]["findings"].as_array().unwrap().clone()
    };
    assert!(check(0).is_empty());
    let only = |findings: &[serde_json::Value], change: &str, path: &str| {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0]["change"], change, "{findings:#?}");
        assert_eq!(findings[0]["path"], path, "{findings:#?}");
        assert_eq!(findings[0]["allowed"], false, "{findings:#?}");
    };

    // Extra file.
    write(&tree.join("lib/extra.so"), b"dropped in\n");
    only(&check(7), "extra", "lib/extra.so");
    std::fs::remove_file(tree.join("lib/extra.so")).unwrap();
    // Missing file.
    let data = std::fs::read(tree.join("lib/data.bin")).unwrap();
    std::fs::remove_file(tree.join("lib/data.bin")).unwrap();
    only(&check(7), "missing", "lib/data.bin");
    write(&tree.join("lib/data.bin"), &data);
    chmod(&tree.join("lib/data.bin"), 0o644);
    assert!(check(0).is_empty());
    // Modified file (same mode).
    let app = std::fs::read(tree.join("bin/app")).unwrap();
    write(&tree.join("bin/app"), b"#!/bin/sh\necho trojan\n");
    only(&check(7), "modified", "bin/app");
    write(&tree.join("bin/app"), &app);
    // Mode change.
    chmod(&tree.join("bin/app"), 0o777);
    let f = check(7);
    only(&f, "mode", "bin/app");
    assert!(f[0]["detail"].as_str().unwrap().contains("0777"), "{f:#?}");
    assert!(f[0]["detail"].as_str().unwrap().contains("0755"), "{f:#?}");
    chmod(&tree.join("bin/app"), 0o755);
    // Symlink retargeted.
    std::fs::remove_file(tree.join("current")).unwrap();
    std::os::unix::fs::symlink("etc/app.conf", tree.join("current")).unwrap();
    only(&check(7), "link", "current");
    std::fs::remove_file(tree.join("current")).unwrap();
    std::os::unix::fs::symlink("bin/app", tree.join("current")).unwrap();
    assert!(check(0).is_empty());

    // A mutable path changed: reported, allowed, the policy holds.
    write(&tree.join("etc/app.conf"), b"level = debug\n");
    let f = check(0);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["change"], "modified");
    assert_eq!(f[0]["path"], "etc/app.conf");
    assert_eq!(f[0]["allowed"], true);
    let human = expect(&verify(&env, &args), 0);
    assert!(human.contains("mutable: allowed"), "{human}");
    // ... but not together with anything else.
    write(&tree.join("stray"), b"x\n");
    let f = check(7);
    assert_eq!(f.len(), 2, "{f:#?}");
    let human = expect(&verify(&env, &args), 7);
    assert!(
        human.contains("extra") && human.contains("stray"),
        "{human}"
    );
    // Without the policy nothing is mutable.
    std::fs::remove_file(tree.join("stray")).unwrap();
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--installed", "tree"],
    );
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["installed"]["findings"][0]["allowed"], false, "{v:#}");
}

/// The attested sidecar says `bin/app` is a regular file with mode 0755: a symbolic link in its
/// place (here to a 0600 copy outside the tree, same bytes today) is a change `--installed` must
/// report, like `rpm -V` reports a file type change.
#[test]

fn installed_file_replaced_by_a_symlink_is_reported() {
    let env = TempCa::new();
    signed_release(&env);
    let tree = env.path("tree");
    let outside = env.path("elsewhere/app");
    copy(&tree.join("bin/app"), &outside);
    chmod(&outside, 0o600);
    std::fs::remove_file(tree.join("bin/app")).unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("bin/app")).unwrap();
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--installed", "tree"],
    );
    assert_eq!(v["meta_covered"], true, "{v:#}");
    let findings = v["installed"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["path"] == "bin/app" && f["allowed"] == false),
        "no finding for bin/app: {v:#}"
    );
    assert_eq!(c, 7, "{v:#}");
}

// ---------------------------------------------------------------------------------------------
// 8. Age and stale CRLs.

#[test]
fn old_attestation_and_stale_crl_fail() {
    let env = TempCa::new();
    signed_release(&env);
    // A CRL that went stale in 2020, signed by this CA with openssl ca.
    let stale = env.path("stale.crl");
    OpensslCa::new(&env, "ossl").crl("20200101000000Z", "20200108000000Z", &stale);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_fails(
        &env,
        &["rel/M", "--require", "build", "--max-age", "1s"],
        "build",
        "ago",
    );
    assert_eq!(
        verify_json(&env, &["rel/M", "--require", "build", "--max-age", "1h"]).0,
        0
    );

    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--crl", stale.utf8()],
    );
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["holds"], false);
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    assert_eq!(v["crls"][0]["stale"], true, "{v:#}");
    assert!(
        v["crls"][0]["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("nextUpdate"),
        "{v:#}"
    );
    let human = expect(
        &verify(
            &env,
            &["rel/M", "--require", "build", "--crl", stale.utf8()],
        ),
        7,
    );
    assert!(human.contains("nextUpdate"), "{human}");
    let (c, v) = verify_json(
        &env,
        &[
            "rel/M",
            "--require",
            "build",
            "--crl",
            stale.utf8(),
            "--allow-stale-crl",
        ],
    );
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["crls"][0]["stale"], true, "{v:#}");
    // Through a policy: crl relative to the policy file.
    let policy = env.path("policy.toml");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\ncrl = \"stale.crl\"\n",
    );
    let human = expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 7);
    assert!(human.contains("nextUpdate"), "{human}");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\ncrl = \"stale.crl\"\nallow_stale_crl = true\n",
    );
    expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 0);
    // A CRL bundled beside the manifest is used by itself, stale or not.
    copy(&stale, &env.path("rel/M.crl"));
    let human = expect(&verify(&env, &["rel/M", "--require", "build"]), 7);
    assert!(
        human.contains("M.crl") && human.contains("nextUpdate"),
        "{human}"
    );
}
