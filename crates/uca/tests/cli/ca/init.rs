//! `uca init`: the root certificate, the encrypted key, the config, refusal to overwrite.

use crate::support::*;
use predicates::prelude::*;

#[test]
fn root_has_ca_extensions_and_verifies_itself() {
    let env = TempCa::new();
    env.init(&[
        "--name",
        "Acme Root",
        "--subject",
        "O=Acme,OU=Platform,C=US,ST=Oregon,L=Portland",
    ]);
    let text = x509_text(&env.ca_cert());
    assert!(
        text.contains(
            "Subject: C = US, ST = Oregon, L = Portland, O = Acme, OU = Platform, CN = Acme Root"
        ),
        "{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE".into()))
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some((true, "Certificate Sign, CRL Sign".into()))
    );
    assert!(extension(&text, "X509v3 Subject Key Identifier").is_some());
    assert!(!text.contains("Extended Key Usage"));
    let ca = env.ca_cert();
    let ca = ca.utf8();
    assert!(openssl(&["verify", "-x509_strict", "-CAfile", ca, ca]).contains("OK"));
    // countryName must be a PrintableString (X.520), not UTF8String.
    let asn1 = openssl(&["asn1parse", "-in", ca]);
    let country = asn1
        .lines()
        .skip_while(|l| !l.contains(":countryName"))
        .nth(1)
        .unwrap_or("");
    assert!(country.contains("PRINTABLESTRING"), "{asn1}");
}

#[test]
fn every_key_type_makes_a_root_openssl_accepts() {
    for key in ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] {
        let env = TempCa::new();
        env.init_plain(&["--key", key]);
        let ca = env.ca_cert();
        let ca = ca.utf8();
        assert!(
            openssl(&["verify", "-x509_strict", "-CAfile", ca, ca]).contains("OK"),
            "{key}"
        );
        openssl(&["pkey", "-in", env.ca_key().utf8(), "-noout"]);
    }
}

#[test]
fn key_is_encrypted_pkcs8_that_openssl_reads_only_with_the_passphrase() {
    let env = TempCa::new();
    env.init(&[]);
    let key = env.ca_dir().join("private/ca.key");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&env.ca_dir().join("private")), 0o700);
    assert_eq!(mode(&env.ca_dir()), 0o700);
    let k = key.utf8();
    let pass = format!("pass:{PASS}");
    let info = openssl(&["asn1parse", "-in", k]);
    assert!(
        info.contains("PBES2") && info.contains(":scrypt") && info.contains("aes-256-cbc"),
        "{info}"
    );
    openssl(&["pkey", "-in", k, "-passin", &pass, "-noout"]);
    let wrong = run(
        "openssl",
        &["pkey", "-in", k, "-passin", "pass:wrong", "-noout"],
    );
    assert!(!wrong.status.success());
    let none = run("openssl", &["pkey", "-in", k, "-passin", "pass:", "-noout"]);
    assert!(!none.status.success());
}

#[test]
fn passphrase_file_is_read_and_used() {
    let env = TempCa::new();
    std::fs::write(env.path("pass.txt"), format!("{PASS}\n")).unwrap();
    env.uca()
        .args(["init", "--passphrase-file"])
        .arg(env.path("pass.txt"))
        .assert()
        .success();
    env.uca()
        .args(["issue", "svc1", "--passphrase-file"])
        .arg(env.path("pass.txt"))
        .assert()
        .success();
}

#[test]
fn generated_passphrase_is_shown_once_on_stderr_and_works() {
    let env = TempCa::new();
    let out = env
        .uca()
        .args(["init", "--generate-passphrase"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pass = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 35 && l.matches('-').count() == 3)
        .unwrap_or_else(|| panic!("no passphrase in: {stderr}"))
        .to_string();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&pass),
        "passphrase must not go to stdout"
    );
    env.uca()
        .env("UCA_PASSPHRASE", &pass)
        .args(["issue", "a1"])
        .assert()
        .success();
    env.uca()
        .env("UCA_PASSPHRASE", "not it")
        .args(["issue", "a2"])
        .assert()
        .code(6);
}

#[test]
fn generated_passphrase_can_go_to_a_0400_file() {
    let env = TempCa::new();
    let out_file = env.path("ca.pass");
    let out = env
        .uca()
        .args(["init", "--generate-passphrase", "--passphrase-out"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(mode(&out_file), 0o400);
    let pass = std::fs::read_to_string(&out_file).unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(pass.trim()));
    env.uca()
        .args(["issue", "a1", "--passphrase-file"])
        .arg(&out_file)
        .assert()
        .success();
}

#[test]
fn no_passphrase_needs_the_flag_and_warns() {
    let env = TempCa::new();
    // No TTY, no passphrase source: refuse, and create nothing.
    env.uca().arg("init").assert().code(2).stderr(
        predicate::str::contains("needs a passphrase").and(predicate::str::contains("hint:")),
    );
    assert!(!env.ca_dir().exists());
    env.uca()
        .args(["init", "--no-passphrase"])
        .assert()
        .success()
        .stderr(predicate::str::contains("NOT encrypted"));
    let pem = std::fs::read_to_string(env.ca_dir().join("private/ca.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn refuses_to_overwrite_an_existing_ca() {
    let env = TempCa::new();
    env.init(&[]);
    let before = snapshot(&env.ca_dir());
    env.uca_pass().arg("init").assert().code(5).stderr(
        predicate::str::contains("a CA already exists").and(predicate::str::contains("hint:")),
    );
    assert_eq!(before, snapshot(&env.ca_dir()));
}

#[test]
fn refuses_a_non_empty_directory_but_accepts_an_empty_one() {
    let env = TempCa::new();
    std::fs::create_dir(env.ca_dir()).unwrap();
    std::fs::write(env.ca_dir().join("notes.txt"), "mine").unwrap();
    env.uca()
        .args(["init", "--no-passphrase"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("not empty"));
    assert_eq!(
        std::fs::read_to_string(env.ca_dir().join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_file(env.ca_dir().join("notes.txt")).unwrap();
    env.uca()
        .args(["init", "--no-passphrase"])
        .assert()
        .success();
}

#[test]
fn json_reports_every_path() {
    let env = TempCa::new();
    let v = env.json(&["init"]);
    for k in ["dir", "ca_cert", "ca_key", "config", "ledger"] {
        let p = v[k].as_str().unwrap_or_else(|| panic!("missing {k}: {v}"));
        assert!(std::path::Path::new(p).exists(), "{k} = {p}");
    }
    assert_eq!(v["key_encrypted"], true);
    assert_eq!(v["key_type"], "ec-p256");
    assert!(v["key_encryption"].as_str().unwrap().contains("scrypt"));
}

#[test]
fn config_file_is_commented_and_holds_the_subject_defaults() {
    let env = TempCa::new();
    env.init_plain(&["--subject", "O=Acme,C=DE"]);
    let cfg = std::fs::read_to_string(env.ca_dir().join("uca.toml")).unwrap();
    assert!(cfg.contains("O = \"Acme\""), "{cfg}");
    assert!(cfg.contains("C = \"DE\""), "{cfg}");
    assert!(cfg.contains("rules = [\"{name}\", \"{base}\"]"), "{cfg}");
    assert!(cfg.contains("days = 397"), "{cfg}");
}
