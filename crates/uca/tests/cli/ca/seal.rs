//! `uca seal`: the final CRL, the destroyed key, what a sealed CA still does and what it refuses.

use std::path::Path;
use std::process::Output;

use crate::support::*;

const DAY: i64 = 86_400;

/// `openssl CMD -in FILE -noout OPTION` → the time after `field=`, in seconds since the epoch.
fn openssl_secs(cmd: &str, file: &Path, option: &str, field: &str) -> i64 {
    openssl_date(cmd, file, option, field).unix_timestamp()
}

/// `openssl crl -verify` of DIR/crl.pem against DIR/ca.crt.
fn assert_crl_verifies(dir: &Path) {
    let out = openssl_crl_verify(&dir.join("crl.pem"), &dir.join("ca.crt"), false);
    assert!(
        out.status.success() && out.stderr.contains("verify OK"),
        "{}",
        out.stderr
    );
}

/// Asserts exit 8, "is sealed" and a hint.
fn assert_sealed(out: &Output, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(8), "{what}: {err}");
    assert!(err.contains("is sealed"), "{what}: {err}");
    assert!(err.contains("hint:"), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what} printed {:?}", out.stdout);
}

/// Sealed: key gone, final CRL to notAfter, reads and revoke work, every signing command exits 8.
#[test]
fn sealed_ca_reads_and_revokes_but_signs_nothing() {
    let env = TempCa::new();
    env.init(&["--name", "Seal Root", "--days", "400"]);
    env.uca_pass()
        .args(["issue", "a1", "a2"])
        .assert()
        .success();
    let csr = make_csr(&env.path("app.csr"), EC_P256, "/CN=app", &[]);
    let key = env.ca_dir().join("private/ca.key");
    let backup = std::fs::read(&key).unwrap();

    let out = env.uca_pass().args(["seal", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let sealed_at = now_unix();
    assert!(!key.exists(), "the CA key survived sealing");
    let leftovers: Vec<_> = std::fs::read_dir(env.ca_dir().join("private"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(leftovers.is_empty(), "private/ still holds {leftovers:?}");

    // The final CRL: signed by the CA, valid until (about) the CA's own expiry.
    let crl = env.ca_dir().join("crl.pem");
    assert_crl_verifies(&env.ca_dir());
    let next = openssl_secs("crl", &crl, "-nextupdate", "nextUpdate");
    let last = openssl_secs("crl", &crl, "-lastupdate", "lastUpdate");
    let not_after = openssl_secs("x509", &env.ca_cert(), "-enddate", "notAfter");
    assert!(
        (last - sealed_at).abs() < 600,
        "lastUpdate {last} vs now {sealed_at}"
    );
    assert!(
        next <= not_after,
        "nextUpdate {next} after the CA's notAfter {not_after}"
    );
    assert!(
        not_after - next <= DAY + 60,
        "nextUpdate {next} is not about the CA's notAfter {not_after}"
    );

    // Read-only commands still work.
    env.uca().arg("list").assert().success();
    env.uca().args(["show", "a1"]).assert().success();
    env.uca().args(["show", "Seal Root"]).assert().success();
    env.uca()
        .arg("verify")
        .arg(env.issued("a1", "fullchain.pem"))
        .assert()
        .success();

    // Every signing command is refused and changes nothing.
    std::fs::write(env.path("new.pass"), "a brand new passphrase\n").unwrap();
    let before = snapshot(env.tmp.path());
    let child = env.path("child");
    let refused: Vec<(&str, Output)> = vec![
        (
            "issue",
            env.uca_pass().args(["issue", "b1"]).output().unwrap(),
        ),
        (
            "sign",
            env.uca_pass().arg("sign").arg(&csr).output().unwrap(),
        ),
        (
            "sign intermediate",
            env.uca_pass()
                .args(["sign", "--profile", "intermediate"])
                .arg(&csr)
                .output()
                .unwrap(),
        ),
        (
            "renew",
            env.uca_pass().args(["renew", "a1"]).output().unwrap(),
        ),
        ("crl", env.uca_pass().arg("crl").output().unwrap()),
        (
            "intermediate",
            uca_bare()
                .current_dir(env.tmp.path())
                .env("UCA_PASSPHRASE", PASS)
                .args(["intermediate", "Late", "--parent", env.ca_dir().utf8()])
                .args(["--dir", child.utf8(), "--no-passphrase"])
                .output()
                .unwrap(),
        ),
        (
            "seal",
            env.uca_pass().args(["seal", "--yes"]).output().unwrap(),
        ),
        (
            "passphrase change",
            env.uca_pass()
                .args(["passphrase", "change", "--new-passphrase-file"])
                .arg(env.path("new.pass"))
                .output()
                .unwrap(),
        ),
    ];
    for (what, out) in &refused {
        assert_sealed(out, what);
    }
    assert!(!child.exists());
    assert_eq!(
        before,
        snapshot(env.tmp.path()),
        "a refused command changed something"
    );

    // The ledger, not the missing file, says sealed: a restored key does not unseal.
    std::fs::write(&key, &backup).unwrap();
    assert_sealed(
        &env.uca_pass().args(["issue", "b1"]).output().unwrap(),
        "issue with the key restored",
    );
    std::fs::remove_file(&key).unwrap();

    // Revoking is still recorded (the final CRL cannot list it; uca verify knows).
    let out = env
        .uca()
        .args(["revoke", "a2", "--reason", "keyCompromise"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let show = env.json(&["show", "a2"]);
    assert_eq!(show["record"]["status"], "revoked", "{show}");
    env.uca()
        .arg("verify")
        .arg(env.issued("a2", "cert.pem"))
        .assert()
        .code(7);
    assert_crl_verifies(&env.ca_dir());
}

/// `--crl-days N` sets the final CRL's nextUpdate N days ahead.
#[test]
fn crl_days_sets_the_final_crl_lifetime() {
    let env = TempCa::new();
    env.init(&[]);
    env.uca_pass()
        .args(["seal", "--yes", "--crl-days", "30"])
        .assert()
        .success();
    assert!(!env.ca_dir().join("private/ca.key").exists());
    assert_crl_verifies(&env.ca_dir());
    let next = openssl_secs(
        "crl",
        &env.ca_dir().join("crl.pem"),
        "-nextupdate",
        "nextUpdate",
    );
    let expected = now_unix() + 30 * DAY;
    assert!(
        (next - expected).abs() < 600,
        "nextUpdate {next}, expected about {expected}"
    );
}

/// Without --yes and without a terminal, or with a wrong passphrase, sealing changes nothing.
#[test]
fn seal_without_confirmation_or_passphrase_changes_nothing() {
    let env = TempCa::new();
    env.init(&["--name", "Seal Root"]);
    let key = env.ca_dir().join("private/ca.key");
    let before = snapshot(env.tmp.path());

    // Typing the name on a pipe is no confirmation: stdin is not a terminal.
    let out = env
        .uca_pass()
        .arg("seal")
        .write_stdin("Seal Root\n")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--yes") && err.contains("hint:"), "{err}");
    assert!(key.exists());
    assert_eq!(before, snapshot(env.tmp.path()));

    let out = env
        .uca()
        .env("UCA_PASSPHRASE", "not the passphrase")
        .args(["seal", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(key.exists());
    assert_eq!(before, snapshot(env.tmp.path()));

    let out = env.uca().args(["seal", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(before, snapshot(env.tmp.path()));

    // Still a working CA.
    env.uca_pass().args(["issue", "web1"]).assert().success();
}

/// An intermediate made before the root was sealed keeps issuing; its leaves pass -crl_check_all.
#[test]
fn intermediate_made_before_sealing_still_issues() {
    let env = TempCa::new();
    env.init(&["--name", "Seal Root"]);
    let child = env.path("child");
    uca_bare()
        .current_dir(env.tmp.path())
        .env("UCA_PASSPHRASE", PASS)
        .args(["intermediate", "Issuing 1", "--parent", env.ca_dir().utf8()])
        .args(["--dir", child.utf8(), "--same-passphrase"])
        .assert()
        .success();
    env.uca_pass().args(["seal", "--yes"]).assert().success();
    assert_sealed(
        &env.uca_pass().args(["issue", "x"]).output().unwrap(),
        "issue from the sealed root",
    );

    let child_uca = || {
        let mut c = env.uca_at(&child);
        c.env("UCA_PASSPHRASE", PASS);
        c
    };
    child_uca().args(["issue", "web1"]).assert().success();
    child_uca().arg("crl").assert().success();
    assert_crl_verifies(&child);

    let leaf = child.join("issued/web1");
    let trust = env.path("trust.pem");
    cat(&[&env.ca_cert(), &child.join("ca.crt")], &trust);
    let out = openssl(&[
        "verify",
        "-x509_strict",
        "-crl_check_all",
        "-CAfile",
        trust.utf8(),
        "-CRLfile",
        env.ca_dir().join("crl.pem").utf8(),
        "-CRLfile",
        child.join("crl.pem").utf8(),
        leaf.join("cert.pem").utf8(),
    ]);
    assert!(out.contains("OK"), "{out}");
    let out = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        child.join("root.crt").utf8(),
        "-untrusted",
        leaf.join("chain.pem").utf8(),
        leaf.join("cert.pem").utf8(),
    ]);
    assert!(out.contains("OK"), "{out}");
}
