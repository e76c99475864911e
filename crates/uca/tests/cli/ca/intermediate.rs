//! `uca intermediate` and `uca sign --profile intermediate`: constraints, pathlen, CRL, Vault.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

/// How many PEM certificates a file holds.
fn count_certs(p: &Path) -> usize {
    read_text(p).matches("-----BEGIN CERTIFICATE-----").count()
}

/// `uca --dir DIR` on another CA directory, passphrase set, run in the temp dir.
fn uca_at(env: &TempCa, dir: &Path) -> assert_cmd::Command {
    let mut c = env.uca_at(dir);
    c.env("UCA_PASSPHRASE", PASS);
    c
}

/// Runs `uca intermediate NAME --parent PARENT --dir CHILD EXTRA` with the parent's passphrase.
fn intermediate(env: &TempCa, name: &str, parent: &Path, child: &Path, extra: &[&str]) -> Output {
    uca_bare()
        .current_dir(env.tmp.path())
        .env("UCA_PASSPHRASE", PASS)
        .args([
            "intermediate",
            name,
            "--parent",
            parent.utf8(),
            "--dir",
            child.utf8(),
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Same, asserting success.
fn intermediate_ok(env: &TempCa, name: &str, parent: &Path, child: &Path, extra: &[&str]) {
    let out = intermediate(env, name, parent, child, extra);
    assert!(
        out.status.success(),
        "uca intermediate {name} {extra:?} failed:\n{}",
        stderr(&out)
    );
}

/// `openssl verify -x509_strict -CAfile ROOT [-untrusted CHAIN] CERT` → (success, stdout+stderr).
fn verify(root: &Path, untrusted: Option<&Path>, cert: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["verify", "-x509_strict", "-CAfile", root.utf8()];
    if let Some(u) = untrusted {
        args.extend(["-untrusted", u.utf8()]);
    }
    args.extend_from_slice(extra);
    args.push(cert.utf8());
    let out = run("openssl", &args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const LEAF_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth";

/// A root at env.ca_dir() ("Test Root") and a child at `child` constrained to svc.internal and
/// 10.0.0.0/8, its key under the same passphrase.
fn root_and_constrained_child(env: &TempCa) -> PathBuf {
    env.init(&["--name", "Test Root"]);
    let child = env.path("child");
    intermediate_ok(
        env,
        "Issuing 1",
        &env.ca_dir(),
        &child,
        &[
            "--permit-dns",
            "svc.internal",
            "--permit-ip",
            "10.0.0.0/8",
            "--same-passphrase",
        ],
    );
    child
}

/// The intermediate has CA extensions and name constraints; its leaves verify via -untrusted.
#[test]
fn constrained_intermediate_has_ca_extensions_and_its_leaves_verify() {
    let env = TempCa::new();
    let child = root_and_constrained_child(&env);

    let ca = child.join("ca.crt");
    let text = x509_text(&ca);
    assert!(text.contains("Issuer: CN = Test Root"), "{text}");
    assert!(text.contains("Subject: CN = Issuing 1"), "{text}");
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE, pathlen:0".into()))
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some((true, "Certificate Sign, CRL Sign".into()))
    );
    let (nc_critical, _) = extension(&text, "X509v3 Name Constraints").expect("name constraints");
    assert!(nc_critical, "{text}");
    assert!(text.contains("DNS:svc.internal"), "{text}");
    assert!(text.contains("IP:10.0.0.0/255.0.0.0"), "{text}");
    assert!(!text.contains("Excluded"), "{text}");
    assert!(extension(&text, "X509v3 Subject Key Identifier").is_some());
    let root_text = x509_text(&env.ca_cert());
    let root_ski = extension(&root_text, "X509v3 Subject Key Identifier")
        .unwrap()
        .1;
    assert_eq!(
        extension(&text, "X509v3 Authority Key Identifier").map(|(_, v)| v),
        Some(root_ski)
    );
    assert!(verify(&env.ca_cert(), None, &ca, &[]).0);

    // The directory: root.crt is the root, ca-chain.pem starts with the intermediate.
    assert_eq!(
        std::fs::read(child.join("root.crt")).unwrap(),
        std::fs::read(env.ca_cert()).unwrap()
    );
    let chain = read_text(&child.join("ca-chain.pem"));
    assert!(chain.starts_with(read_text(&ca).trim_end()), "{chain}");
    assert_eq!(count_certs(&child.join("ca-chain.pem")), 2);
    let key = child.join("private/ca.key");
    assert_eq!(mode(&key), 0o600);
    assert!(read_text(&key).starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    openssl(&[
        "pkey",
        "-in",
        key.utf8(),
        "-passin",
        &format!("pass:{PASS}"),
        "-noout",
    ]);

    // The parent's ledger knows it as an intermediate.
    let list = env.json(&["list"]);
    let entry = list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Issuing 1")
        .unwrap_or_else(|| panic!("no intermediate in the parent's list: {list}"));
    assert_eq!(entry["profile"], "intermediate", "{entry}");
    assert_eq!(
        entry["serial"].as_str().unwrap(),
        serial_of(&ca).to_lowercase()
    );

    // A leaf from the child.
    uca_at(&env, &child)
        .args(["issue", "rmq1.svc.internal", "--san", "10.1.2.3"])
        .assert()
        .success();
    let dir = child.join("issued/rmq1.svc.internal");
    let (cert, chain_pem, fullchain) = (
        dir.join("cert.pem"),
        dir.join("chain.pem"),
        dir.join("fullchain.pem"),
    );
    assert!(x509_text(&cert).contains("Issuer: CN = Issuing 1"));
    assert_eq!(read_text(&chain_pem), chain);
    assert_eq!(count_certs(&fullchain), 3);
    let (ok, msg) = verify(&child.join("root.crt"), Some(&chain_pem), &cert, &[]);
    assert!(ok && msg.contains("OK"), "{msg}");
    let (ok, msg) = verify(&child.join("root.crt"), None, &cert, &[]);
    assert!(!ok, "the leaf verified without its intermediate: {msg}");
    uca_at(&env, &child)
        .arg("verify")
        .arg(&fullchain)
        .assert()
        .success();
}

/// Names outside the child's constraints are refused (exit 2, hint) and nothing changes.
#[test]
fn names_outside_the_constraints_are_refused() {
    let env = TempCa::new();
    let child = root_and_constrained_child(&env);
    let csr = make_csr(&env.path("evil.csr"), EC_P256, "/CN=evil.example.com", &[]);
    let before = snapshot(&child);
    for (args, message) in [
        (
            vec!["issue", "rmq1"],
            "DNS:rmq1 is outside the permitted DNS subtrees",
        ),
        (
            vec!["issue", "web.svc.internal", "--san", "192.168.1.1"],
            "IP:192.168.1.1 is outside the permitted",
        ),
        (
            vec!["sign", csr.utf8()],
            "DNS:evil.example.com is outside the permitted DNS subtrees",
        ),
    ] {
        let out = uca_at(&env, &child).args(&args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(message) && err.contains("hint:"),
            "{args:?}: {err}"
        );
        assert_eq!(before, snapshot(&child), "{args:?} changed the child");
    }
}

/// A leaf forged with the child's key for a name outside its constraints fails openssl verify.
#[test]
fn forged_leaf_outside_the_constraints_fails_openssl_verify() {
    let env = TempCa::new();
    let child = root_and_constrained_child(&env);
    let (ca, key, root, chain) = (
        child.join("ca.crt"),
        child.join("private/ca.key"),
        child.join("root.crt"),
        child.join("ca-chain.pem"),
    );
    // Control: the same forging path inside the constraints verifies.
    let good = forge(
        env.tmp.path(),
        "good",
        "/CN=ok.svc.internal",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:ok.svc.internal,IP:10.9.9.9"),
        (&ca, &key),
        Some(PASS),
    )
    .0;
    let (ok, msg) = verify(&root, Some(&chain), &good, &[]);
    assert!(ok, "{msg}");
    for (stem, subj, san) in [
        ("evil", "/CN=evil.example.com", "DNS:evil.example.com"),
        (
            "evilip",
            "/CN=ok.svc.internal",
            "DNS:ok.svc.internal,IP:192.168.1.1",
        ),
    ] {
        let bad = forge(
            env.tmp.path(),
            stem,
            subj,
            &format!("{LEAF_EXT}\nsubjectAltName={san}"),
            (&ca, &key),
            Some(PASS),
        )
        .0;
        let (ok, msg) = verify(&root, Some(&chain), &bad, &[]);
        assert!(!ok, "{san}: {msg}");
        assert!(msg.contains("permitted subtree violation"), "{san}: {msg}");
    }
}

/// pathlen 1 allows one more CA level; below pathlen 0 or a too-large --path-len: exit 2.
#[test]
fn path_length_is_enforced() {
    let env = TempCa::new();
    env.init(&["--name", "Test Root"]);
    let (mid, sub) = (env.path("mid"), env.path("sub"));
    intermediate_ok(
        &env,
        "Mid",
        &env.ca_dir(),
        &mid,
        &["--path-len", "1", "--no-passphrase"],
    );
    assert_eq!(
        extension(&x509_text(&mid.join("ca.crt")), "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE, pathlen:1".into()))
    );
    intermediate_ok(&env, "Sub", &mid, &sub, &["--no-passphrase"]);
    let sub_text = x509_text(&sub.join("ca.crt"));
    assert!(sub_text.contains("Issuer: CN = Mid"), "{sub_text}");
    assert_eq!(
        extension(&sub_text, "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE, pathlen:0".into()))
    );
    assert_eq!(count_certs(&sub.join("ca-chain.pem")), 3);
    assert_eq!(
        std::fs::read(sub.join("root.crt")).unwrap(),
        std::fs::read(env.ca_cert()).unwrap()
    );

    uca_at(&env, &sub)
        .args(["issue", "leaf1"])
        .assert()
        .success();
    let dir = sub.join("issued/leaf1");
    assert_eq!(count_certs(&dir.join("fullchain.pem")), 4);
    let (ok, msg) = verify(
        &sub.join("root.crt"),
        Some(&dir.join("chain.pem")),
        &dir.join("cert.pem"),
        &[],
    );
    assert!(ok, "{msg}");

    let before = snapshot(env.tmp.path());
    let out = intermediate(
        &env,
        "SubSub",
        &sub,
        &env.path("subsub"),
        &["--no-passphrase"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may not sign other CAs"),
        "{}",
        stderr(&out)
    );
    let out = intermediate(
        &env,
        "Sub2",
        &mid,
        &env.path("sub2"),
        &["--path-len", "1", "--no-passphrase"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pathLenConstraint is 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, snapshot(env.tmp.path()));

    // openssl agrees: a CA forged below Sub breaks the chain of its leaves.
    let rogue = forge(
        env.tmp.path(),
        "rogue",
        "/CN=Rogue",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign",
        (&sub.join("ca.crt"), &sub.join("private/ca.key")),
        None,
    )
    .0;
    let leaf = forge(
        env.tmp.path(),
        "rogue-leaf",
        "/CN=x.example",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:x.example"),
        (&rogue, &env.path("rogue.key")),
        None,
    )
    .0;
    let untrusted = env.path("rogue-chain.pem");
    cat(&[&rogue, &sub.join("ca-chain.pem")], &untrusted);
    let (ok, msg) = verify(&env.ca_cert(), Some(&untrusted), &leaf, &[]);
    assert!(
        !ok && msg.contains("path length constraint exceeded"),
        "{msg}"
    );
}

/// The child signs its own CRL; openssl's -crl_check then rejects its revoked leaf.
#[test]
fn child_crl_is_signed_by_the_child_and_revokes_its_leaf() {
    let env = TempCa::new();
    let child = root_and_constrained_child(&env);
    uca_at(&env, &child)
        .args(["issue", "web.svc.internal", "ok.svc.internal"])
        .assert()
        .success();
    uca_at(&env, &child)
        .args(["revoke", "web.svc.internal", "--reason", "keyCompromise"])
        .assert()
        .success();
    uca_at(&env, &child).arg("crl").assert().success();
    let crl = child.join("crl.pem");
    let ca = child.join("ca.crt");
    let out = openssl_crl_verify(&crl, &ca, false);
    assert!(
        out.status.success() && out.stderr.contains("verify OK"),
        "{}",
        out.stderr
    );
    let out = openssl_crl_verify(&crl, &env.ca_cert(), false);
    assert!(
        !out.status.success(),
        "the child's CRL verified against the root"
    );
    let text = openssl(&["crl", "-in", crl.utf8(), "-noout", "-text"]);
    assert!(text.contains("Issuer: CN = Issuing 1"), "{text}");
    let revoked = serial_of(&child.join("issued/web.svc.internal/cert.pem")).to_lowercase();
    assert!(
        text.to_ascii_lowercase().contains(&revoked),
        "{revoked} not in {text}"
    );

    let trust = env.path("trust.pem");
    cat(&[&env.ca_cert(), &ca], &trust);
    let check = |name: &str| {
        verify(
            &trust,
            None,
            &child.join(format!("issued/{name}/cert.pem")),
            &["-crl_check", "-CRLfile", crl.utf8()],
        )
    };
    let (ok, msg) = check("web.svc.internal");
    assert!(!ok && msg.contains("certificate revoked"), "{msg}");
    let (ok, msg) = check("ok.svc.internal");
    assert!(ok, "{msg}");
}

/// Vault/OpenBao: a CA CSR is signed as a constrained intermediate whose leaves verify.
#[test]
fn vault_style_csr_is_signed_as_an_intermediate() {
    let env = TempCa::new();
    env.init(&["--name", "Test Root"]);
    let csr = make_csr(&env.path("v.csr"), EC_P256, "/CN=Vault Intermediate", &[]);
    let (vkey, vcrt) = (env.path("v.key"), env.path("v.crt"));
    env.uca_pass()
        .args(["sign", "--profile", "intermediate", csr.utf8()])
        .args(["--out", vcrt.utf8(), "--permit-dns", "vault.internal"])
        .assert()
        .success();

    // The file: the intermediate, then its issuers (here the root).
    assert_eq!(count_certs(&vcrt), 2);
    let pem = read_text(&vcrt);
    assert!(
        pem.trim_end()
            .ends_with(read_text(&env.ca_cert()).trim_end()),
        "{pem}"
    );
    let (ok, msg) = verify(&env.ca_cert(), None, &vcrt, &[]);
    assert!(ok, "{msg}");
    let text = x509_text(&vcrt);
    assert!(text.contains("Subject: CN = Vault Intermediate"), "{text}");
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE, pathlen:0".into()))
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some((true, "Certificate Sign, CRL Sign".into()))
    );
    let (critical, _) = extension(&text, "X509v3 Name Constraints").expect("name constraints");
    assert!(critical && text.contains("DNS:vault.internal"), "{text}");
    // The certificate carries the CSR's key.
    assert_eq!(cert_pubkey(&vcrt), key_pubkey(&vkey));

    let list = env.json(&["list"]);
    assert!(
        list["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "Vault Intermediate" && c["profile"] == "intermediate"),
        "{list}"
    );

    // What Vault then issues with that key.
    let leaf = forge(
        env.tmp.path(),
        "a",
        "/CN=a.vault.internal",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:a.vault.internal"),
        (&vcrt, &vkey),
        None,
    )
    .0;
    let (ok, msg) = verify(&env.ca_cert(), Some(&vcrt), &leaf, &[]);
    assert!(ok && msg.contains("OK"), "{msg}");
    let outside = forge(
        env.tmp.path(),
        "b",
        "/CN=b.example.com",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:b.example.com"),
        (&vcrt, &vkey),
        None,
    )
    .0;
    let (ok, msg) = verify(&env.ca_cert(), Some(&vcrt), &outside, &[]);
    assert!(!ok && msg.contains("permitted subtree violation"), "{msg}");
}

/// Bad constraints, pathlen or subtrees: exit 2, a hint, no child dir, nothing changed.
#[test]
fn bad_intermediate_requests_change_nothing() {
    let env = TempCa::new();
    env.init(&["--name", "Test Root"]);
    let root = env.ca_dir();
    let (leafonly, mid, cm) = (env.path("leafonly"), env.path("mid"), env.path("cm"));
    intermediate_ok(&env, "Leaf Only", &root, &leafonly, &["--no-passphrase"]);
    intermediate_ok(
        &env,
        "Mid",
        &root,
        &mid,
        &["--path-len", "1", "--no-passphrase"],
    );
    intermediate_ok(
        &env,
        "Constrained Mid",
        &root,
        &cm,
        &[
            "--path-len",
            "1",
            "--permit-dns",
            "svc.internal",
            "--permit-ip",
            "10.0.0.0/8",
            "--no-passphrase",
        ],
    );
    let csr = make_csr(&env.path("v.csr"), EC_P256, "/CN=Vault Intermediate", &[]);

    let new = env.path("new");
    let cases: Vec<(&Path, Vec<&str>, &str)> = vec![
        (&root, vec!["--permit-ip", "10.0.0.1/8"], "host bits"),
        (&root, vec!["--permit-ip", "10.0.0.0/33"], "10.0.0.0/33"),
        (&root, vec!["--permit-ip", "nonsense"], "nonsense"),
        (&root, vec!["--permit-dns", "bad name"], "bad name"),
        (&leafonly, vec![], "may not sign other CAs"),
        (&mid, vec!["--path-len", "1"], "pathLenConstraint is 1"),
        (&mid, vec!["--path-len", "7"], "pathLenConstraint is 1"),
        (
            &cm,
            vec!["--permit-dns", "other.com", "--permit-ip", "10.1.0.0/16"],
            "DNS:other.com is outside",
        ),
        (
            &cm,
            vec!["--permit-dns", "internal", "--permit-ip", "10.1.0.0/16"],
            "outside",
        ),
        (
            &cm,
            vec![
                "--permit-dns",
                "a.svc.internal",
                "--permit-ip",
                "192.168.0.0/16",
            ],
            "192.168.0.0/16 is outside",
        ),
        (
            &cm,
            vec![
                "--permit-dns",
                "a.svc.internal",
                "--permit-ip",
                "10.0.0.0/7",
            ],
            "10.0.0.0/7 is outside",
        ),
        (&cm, vec!["--permit-ip", "10.1.0.0/16"], "--permit-dns"),
        (&cm, vec!["--permit-dns", "a.svc.internal"], "--permit-ip"),
        (&cm, vec![], "constrained"),
    ];
    for (parent, extra, message) in cases {
        let before = snapshot(env.tmp.path());
        let mut args = extra.clone();
        args.push("--no-passphrase");
        let out = intermediate(&env, "New CA", parent, &new, &args);
        let err = stderr(&out);
        let what = format!("parent {} {extra:?}", parent.display());
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(message), "{what}: {err}");
        assert!(err.contains("hint:"), "{what}: {err}");
        assert!(!new.exists(), "{what}: the child directory was created");
        assert_eq!(before, snapshot(env.tmp.path()), "{what} changed something");
    }

    // The same checks guard `uca sign --profile intermediate`.
    for (dir, extra, message) in [
        (&root, vec!["--permit-ip", "10.0.0.1/8"], "host bits"),
        (&leafonly, vec![], "may not sign other CAs"),
        (&mid, vec!["--path-len", "1"], "pathLenConstraint is 1"),
        (
            &cm,
            vec!["--permit-dns", "other.com", "--permit-ip", "10.1.0.0/16"],
            "outside",
        ),
    ] {
        let before = snapshot(env.tmp.path());
        let out = uca_at(&env, dir)
            .args(["sign", "--profile", "intermediate", csr.utf8()])
            .args(&extra)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "sign {extra:?}: {err}");
        assert!(
            err.contains(message) && err.contains("hint:"),
            "sign {extra:?}: {err}"
        );
        assert!(
            out.stdout.is_empty(),
            "sign {extra:?} printed a certificate"
        );
        assert_eq!(
            before,
            snapshot(env.tmp.path()),
            "sign {extra:?} changed something"
        );
    }
}
