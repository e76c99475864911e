//! `uca intermediate` and `uca sign --profile intermediate`: constraints, pathlen, CRL, Vault.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

fn read_text(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// How many PEM certificates a file holds.
fn count_certs(p: &Path) -> usize {
    read_text(p).matches("-----BEGIN CERTIFICATE-----").count()
}

/// `uca --dir DIR` on another CA directory, passphrase set, run in the temp dir.
fn uca_at(env: &Env, dir: &Path) -> assert_cmd::Command {
    let mut c = uca_bare();
    c.current_dir(env.tmp.path())
        .env("UCA_PASSPHRASE", PASS)
        .arg("--dir")
        .arg(dir);
    c
}

/// Runs `uca intermediate NAME --parent PARENT --dir CHILD EXTRA` with the parent's passphrase.
fn intermediate(env: &Env, name: &str, parent: &Path, child: &Path, extra: &[&str]) -> Output {
    uca_bare()
        .current_dir(env.tmp.path())
        .env("UCA_PASSPHRASE", PASS)
        .args([
            "intermediate",
            name,
            "--parent",
            s(parent),
            "--dir",
            s(child),
        ])
        .args(extra)
        .output()
        .unwrap()
}

/// Same, asserting success.
fn intermediate_ok(env: &Env, name: &str, parent: &Path, child: &Path, extra: &[&str]) {
    let out = intermediate(env, name, parent, child, extra);
    assert!(
        out.status.success(),
        "uca intermediate {name} {extra:?} failed:\n{}",
        stderr(&out)
    );
}

/// `openssl verify -x509_strict -CAfile ROOT [-untrusted CHAIN] CERT` → (success, stdout+stderr).
fn verify(root: &Path, untrusted: Option<&Path>, cert: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["verify", "-x509_strict", "-CAfile", s(root)];
    if let Some(u) = untrusted {
        args.extend(["-untrusted", s(u)]);
    }
    args.extend_from_slice(extra);
    args.push(s(cert));
    let out = run("openssl", &args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A certificate made by openssl alone (`req -x509 -CA`), bypassing every check uca makes:
/// fresh P-256 key at `STEM.key`, certificate at `STEM.crt`, with the given extension lines.
fn forge(
    env: &Env,
    stem: &str,
    subj: &str,
    ext: &str,
    ca_cert: &Path,
    ca_key: &Path,
    passin: Option<&str>,
) -> PathBuf {
    let cfg = env.path(&format!("{stem}.cnf"));
    std::fs::write(
        &cfg,
        format!(
            "[req]\ndistinguished_name=dn\n[dn]\n[ext]\n{ext}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
        ),
    )
    .unwrap();
    let key = env.path(&format!("{stem}.key"));
    let crt = env.path(&format!("{stem}.crt"));
    let pass = passin.map(|p| format!("pass:{p}"));
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-config",
        s(&cfg),
        "-extensions",
        "ext",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&key),
        "-subj",
        subj,
        "-days",
        "30",
        "-CA",
        s(ca_cert),
        "-CAkey",
        s(ca_key),
        "-out",
        s(&crt),
    ];
    if let Some(p) = &pass {
        args.extend(["-passin", p.as_str()]);
    }
    openssl(&args);
    crt
}

const LEAF_EXT: &str = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth";

/// A root at env.ca_dir() ("Test Root") and a child at `child` constrained to svc.internal and
/// 10.0.0.0/8, its key under the same passphrase.
fn root_and_constrained_child(env: &Env) -> PathBuf {
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

/// The serial in the ledger's spelling (lowercase hex) of a certificate file.
fn serial_of(cert: &Path) -> String {
    let out = openssl(&["x509", "-in", s(cert), "-noout", "-serial"]);
    out.trim()
        .trim_start_matches("serial=")
        .to_ascii_lowercase()
}

/// The intermediate has CA extensions and name constraints; its leaves verify via -untrusted.
#[test]
fn constrained_intermediate_has_ca_extensions_and_its_leaves_verify() {
    let env = Env::new();
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
        s(&key),
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
    assert_eq!(entry["serial"].as_str().unwrap(), serial_of(&ca));

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
    let env = Env::new();
    let child = root_and_constrained_child(&env);
    let csr = env.path("evil.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&env.path("evil.key")),
        "-subj",
        "/CN=evil.example.com",
        "-out",
        s(&csr),
    ]);
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
            vec!["sign", s(&csr)],
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
    let env = Env::new();
    let child = root_and_constrained_child(&env);
    let (ca, key, root, chain) = (
        child.join("ca.crt"),
        child.join("private/ca.key"),
        child.join("root.crt"),
        child.join("ca-chain.pem"),
    );
    // Control: the same forging path inside the constraints verifies.
    let good = forge(
        &env,
        "good",
        "/CN=ok.svc.internal",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:ok.svc.internal,IP:10.9.9.9"),
        &ca,
        &key,
        Some(PASS),
    );
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
            &env,
            stem,
            subj,
            &format!("{LEAF_EXT}\nsubjectAltName={san}"),
            &ca,
            &key,
            Some(PASS),
        );
        let (ok, msg) = verify(&root, Some(&chain), &bad, &[]);
        assert!(!ok, "{san}: {msg}");
        assert!(msg.contains("permitted subtree violation"), "{san}: {msg}");
    }
}

/// pathlen 1 allows one more CA level; below pathlen 0 or a too-large --path-len: exit 2.
#[test]
fn path_length_is_enforced() {
    let env = Env::new();
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
        &env,
        "rogue",
        "/CN=Rogue",
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign",
        &sub.join("ca.crt"),
        &sub.join("private/ca.key"),
        None,
    );
    let leaf = forge(
        &env,
        "rogue-leaf",
        "/CN=x.example",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:x.example"),
        &rogue,
        &env.path("rogue.key"),
        None,
    );
    let untrusted = env.path("rogue-chain.pem");
    std::fs::write(
        &untrusted,
        read_text(&rogue) + &read_text(&sub.join("ca-chain.pem")),
    )
    .unwrap();
    let (ok, msg) = verify(&env.ca_cert(), Some(&untrusted), &leaf, &[]);
    assert!(
        !ok && msg.contains("path length constraint exceeded"),
        "{msg}"
    );
}

/// The child signs its own CRL; openssl's -crl_check then rejects its revoked leaf.
#[test]
fn child_crl_is_signed_by_the_child_and_revokes_its_leaf() {
    let env = Env::new();
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
    let out = run(
        "openssl",
        &[
            "crl",
            "-in",
            s(&crl),
            "-CAfile",
            s(&ca),
            "-noout",
            "-verify",
        ],
    );
    assert!(
        out.status.success() && stderr(&out).contains("verify OK"),
        "{}",
        stderr(&out)
    );
    let out = run(
        "openssl",
        &[
            "crl",
            "-in",
            s(&crl),
            "-CAfile",
            s(&env.ca_cert()),
            "-noout",
            "-verify",
        ],
    );
    assert!(
        !out.status.success(),
        "the child's CRL verified against the root"
    );
    let text = openssl(&["crl", "-in", s(&crl), "-noout", "-text"]);
    assert!(text.contains("Issuer: CN = Issuing 1"), "{text}");
    let revoked = serial_of(&child.join("issued/web.svc.internal/cert.pem"));
    assert!(
        text.to_ascii_lowercase().contains(&revoked),
        "{revoked} not in {text}"
    );

    let trust = env.path("trust.pem");
    std::fs::write(&trust, read_text(&env.ca_cert()) + &read_text(&ca)).unwrap();
    let check = |name: &str| {
        verify(
            &trust,
            None,
            &child.join(format!("issued/{name}/cert.pem")),
            &["-crl_check", "-CRLfile", s(&crl)],
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
    let env = Env::new();
    env.init(&["--name", "Test Root"]);
    let (csr, vkey, vcrt) = (env.path("v.csr"), env.path("v.key"), env.path("v.crt"));
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&vkey),
        "-subj",
        "/CN=Vault Intermediate",
        "-out",
        s(&csr),
    ]);
    env.uca_pass()
        .args(["sign", "--profile", "intermediate", s(&csr)])
        .args(["--out", s(&vcrt), "--permit-dns", "vault.internal"])
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
    assert_eq!(
        openssl(&["x509", "-in", s(&vcrt), "-noout", "-pubkey"]),
        openssl(&["pkey", "-in", s(&vkey), "-pubout"])
    );

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
        &env,
        "a",
        "/CN=a.vault.internal",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:a.vault.internal"),
        &vcrt,
        &vkey,
        None,
    );
    let (ok, msg) = verify(&env.ca_cert(), Some(&vcrt), &leaf, &[]);
    assert!(ok && msg.contains("OK"), "{msg}");
    let outside = forge(
        &env,
        "b",
        "/CN=b.example.com",
        &format!("{LEAF_EXT}\nsubjectAltName=DNS:b.example.com"),
        &vcrt,
        &vkey,
        None,
    );
    let (ok, msg) = verify(&env.ca_cert(), Some(&vcrt), &outside, &[]);
    assert!(!ok && msg.contains("permitted subtree violation"), "{msg}");
}

/// Bad constraints, pathlen or subtrees: exit 2, a hint, no child dir, nothing changed.
#[test]
fn bad_intermediate_requests_change_nothing() {
    let env = Env::new();
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
    let csr = env.path("v.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        s(&env.path("v.key")),
        "-subj",
        "/CN=Vault Intermediate",
        "-out",
        s(&csr),
    ]);

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
            .args(["sign", "--profile", "intermediate", s(&csr)])
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
