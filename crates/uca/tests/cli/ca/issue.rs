//! `uca issue`: every extension per profile and key type, SAN rules, files and modes, validity,
//! --force and batches, each judged by openssl rather than by uca's own parser.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use crate::support::*;
use predicates::prelude::*;
use serde_json::Value;

const SUBJECT: &str = "O=Acme,OU=Platform,C=US,ST=Oregon,L=Portland";
const PROFILES: [&str; 4] = ["server", "client", "both", "code-signing"];
const LEAF_KEYS: [&str; 5] = ["ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072"];

fn sig_alg(ca_key: &str) -> &'static str {
    match ca_key {
        "ec-p256" => "ecdsa-with-SHA256",
        "ec-p384" => "ecdsa-with-SHA384",
        "ed25519" => "ED25519",
        k if k.starts_with("rsa-") => "sha256WithRSAEncryption",
        k => panic!("unknown key type {k}"),
    }
}

/// A key identifier as openssl prints it, without an optional `keyid:` prefix.
fn key_id(v: &str) -> String {
    v.trim().trim_start_matches("keyid:").to_ascii_uppercase()
}

fn line_with<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' in:\n{text}"))
}

fn san_line(cert: &Path) -> String {
    let text = x509_text(cert);
    let (critical, value) =
        extension(&text, "X509v3 Subject Alternative Name").expect("SAN present");
    assert!(
        !critical,
        "SAN must be non-critical when the subject is not empty:\n{text}"
    );
    value
}

/// `openssl verify -x509_strict -CAfile ca.crt [EXTRA] cert`: Ok(stdout) or Err(stdout+stderr).
fn verify(env: &TempCa, cert: &Path, extra: &[&str]) -> Result<String, String> {
    let ca = env.ca_cert();
    let mut args = vec!["verify", "-x509_strict", "-CAfile", ca.utf8()];
    args.extend_from_slice(extra);
    args.push(cert.utf8());
    let out = run("openssl", &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() && stdout.contains(": OK") {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The certificate's public key equals the one derived from key.pem (which openssl can read).
fn assert_key_matches(cert: &Path, key: &Path) {
    assert_eq!(
        cert_pubkey(cert),
        key_pubkey(key),
        "{} does not belong to {}",
        key.utf8(),
        cert.utf8()
    );
}

/// The serial as openssl sees it: equals uca's JSON serial, 16 content bytes, positive, and the
/// DER INTEGER really is 16 bytes long.
fn assert_serial(cert: &Path, json_serial: &str) {
    let out = openssl(&["x509", "-in", cert.utf8(), "-noout", "-serial"]);
    let hex = out
        .trim()
        .strip_prefix("serial=")
        .expect("serial=")
        .to_string();
    assert_eq!(
        hex,
        json_serial.to_ascii_uppercase(),
        "JSON serial differs from the certificate's"
    );
    assert_eq!(hex.len(), 32, "serial {hex} is not 16 bytes");
    let first = u8::from_str_radix(&hex[..2], 16).expect("hex");
    assert!(
        (1..0x80).contains(&first),
        "serial {hex}: first byte must be 0x01..0x7f"
    );
    let asn1 = openssl(&["asn1parse", "-in", cert.utf8()]);
    let serial_line = asn1
        .lines()
        .find(|l| l.contains("d=2") && l.contains("INTEGER"))
        .expect("serial INTEGER");
    assert!(
        serial_line.contains("l=  16 prim: INTEGER"),
        "serial DER length is not 16: {serial_line}"
    );
}

/// Root: BC CA:TRUE critical, KU keyCertSign+cRLSign critical, SKI, signature per key type.
fn check_root(env: &TempCa, ca_key: &str) -> String {
    let ca = env.ca_cert();
    let text = x509_text(&ca);
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some((true, "CA:TRUE".into())),
        "{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some((true, "Certificate Sign, CRL Sign".into())),
        "{text}"
    );
    let (ski_critical, ski) = extension(&text, "X509v3 Subject Key Identifier").expect("root SKI");
    assert!(!ski_critical);
    assert!(!text.contains("Extended Key Usage"), "{text}");
    assert_eq!(
        line_with(&text, "Signature Algorithm:"),
        format!("Signature Algorithm: {}", sig_alg(ca_key))
    );
    assert!(verify(env, &ca, &[]).is_ok(), "root does not verify itself");
    key_id(&ski)
}

/// Every property of one issued leaf, judged by openssl.
fn check_leaf(
    env: &TempCa,
    ca_key: &str,
    ca_ski: &str,
    entry: &Value,
    leaf_key: &str,
    profile: &str,
) {
    let name = entry["name"].as_str().expect("name");
    let ctx = format!("CA {ca_key}, leaf {name} {leaf_key} {profile}");
    let cert = env.issued(name, "cert.pem");
    let key = env.issued(name, "key.pem");
    let text = x509_text(&cert);
    let ca_text = x509_text(&env.ca_cert());

    // JSON agrees with the request.
    assert_eq!(entry["profile"], profile, "{ctx}");
    assert_eq!(entry["key_type"], leaf_key, "{ctx}");
    assert_eq!(entry["clamped"], false, "{ctx}");
    assert_eq!(
        fingerprint(&cert).trim(),
        format!(
            "sha256 Fingerprint={}",
            entry["fingerprint_sha256"].as_str().expect("fp")
        ),
        "{ctx}"
    );

    // Version, names, algorithms.
    assert!(text.contains("Version: 3 (0x2)"), "{ctx}:\n{text}");
    assert_eq!(
        line_with(&text, "Subject:"),
        format!("Subject: C = US, ST = Oregon, L = Portland, O = Acme, OU = Platform, CN = {name}"),
        "{ctx}"
    );
    assert_eq!(
        line_with(&text, "Issuer:"),
        line_with(&ca_text, "Subject:").replacen("Subject:", "Issuer:", 1),
        "{ctx}"
    );
    let alg = format!("Signature Algorithm: {}", sig_alg(ca_key));
    assert_eq!(
        text.lines().filter(|l| l.trim() == alg).count(),
        2,
        "{ctx}: want {alg} twice:\n{text}"
    );
    match leaf_key {
        "ec-p256" | "ec-p384" => {
            assert!(
                text.contains("Public Key Algorithm: id-ecPublicKey"),
                "{ctx}:\n{text}"
            );
            let curve = if leaf_key == "ec-p256" {
                "NIST CURVE: P-256"
            } else {
                "NIST CURVE: P-384"
            };
            assert!(text.contains(curve), "{ctx}:\n{text}");
        }
        "ed25519" => assert!(
            text.contains("Public Key Algorithm: ED25519"),
            "{ctx}:\n{text}"
        ),
        rsa => {
            let bits = rsa.strip_prefix("rsa-").expect("rsa-N");
            assert!(
                text.contains("Public Key Algorithm: rsaEncryption"),
                "{ctx}:\n{text}"
            );
            assert!(
                text.contains(&format!("Public-Key: ({bits} bit)")),
                "{ctx}:\n{text}"
            );
            assert!(text.contains("Exponent: 65537"), "{ctx}:\n{text}");
        }
    }

    // Exactly these six extensions, with the right criticality and values.
    let want: BTreeSet<String> = [
        "X509v3 Authority Key Identifier",
        "X509v3 Basic Constraints",
        "X509v3 Extended Key Usage",
        "X509v3 Key Usage",
        "X509v3 Subject Alternative Name",
        "X509v3 Subject Key Identifier",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    assert_eq!(
        extension_headers(&text)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        want,
        "{ctx}:\n{text}"
    );
    assert_eq!(
        extension(&text, "X509v3 Basic Constraints"),
        Some((true, "CA:FALSE".into())),
        "{ctx}"
    );
    // keyEncipherment only where RSA key transport can happen: RSA keys on TLS profiles.
    let ku = if leaf_key.starts_with("rsa-") && profile != "code-signing" {
        "Digital Signature, Key Encipherment"
    } else {
        "Digital Signature"
    };
    assert_eq!(
        extension(&text, "X509v3 Key Usage"),
        Some((true, ku.into())),
        "{ctx}"
    );
    assert_eq!(
        extension(&text, "X509v3 Extended Key Usage"),
        Some((false, eku_of(profile).into())),
        "{ctx}"
    );
    let (ski_critical, ski) = extension(&text, "X509v3 Subject Key Identifier").expect("SKI");
    assert!(!ski_critical, "{ctx}");
    assert_eq!(key_id(&ski).len(), 59, "{ctx}: SKI {ski} is not 20 bytes");
    assert_ne!(key_id(&ski), ca_ski, "{ctx}: leaf SKI equals the CA's");
    let (aki_critical, aki) = extension(&text, "X509v3 Authority Key Identifier").expect("AKI");
    assert!(!aki_critical, "{ctx}");
    assert_eq!(key_id(&aki), ca_ski, "{ctx}: AKI must be the CA's SKI");
    let san = san_line(&cert);
    assert!(
        san.split(", ").any(|x| x == format!("DNS:{name}")),
        "{ctx}: SAN {san} lacks the NAME"
    );

    // countryName is a PrintableString (X.520) in issuer and subject alike.
    let asn1 = openssl(&["asn1parse", "-in", cert.utf8()]);
    let mut lines = asn1.lines();
    let mut countries = 0;
    while let Some(l) = lines.next() {
        if l.contains(":countryName") {
            countries += 1;
            let v = lines.next().unwrap_or("");
            assert!(v.contains("PRINTABLESTRING"), "{ctx}: {v}");
        }
    }
    assert_eq!(countries, 2, "{ctx}: C in issuer and subject");

    // Serial.
    assert_serial(&cert, entry["serial"].as_str().expect("serial"));

    // Chain validation, and purposes matching the profile (and failing for the others).
    verify(env, &cert, &[]).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let (server_ok, client_ok) = match profile {
        "server" => (true, false),
        "client" => (false, true),
        "both" => (true, true),
        _ => (false, false),
    };
    for (purpose, want_ok) in [("sslserver", server_ok), ("sslclient", client_ok)] {
        match verify(env, &cert, &["-purpose", purpose]) {
            Ok(out) => assert!(want_ok, "{ctx}: -purpose {purpose} must fail but: {out}"),
            Err(e) => {
                assert!(!want_ok, "{ctx}: -purpose {purpose} must pass: {e}");
                assert!(e.contains("unsuitable certificate purpose"), "{ctx}: {e}");
            }
        }
    }

    // The key belongs to the certificate and openssl reads it.
    assert_key_matches(&cert, &key);
}

/// One CA key type against every leaf key type, rotating the profile so that across the four CA
/// tests every (CA, profile) and (leaf key, profile) pair occurs.
fn matrix(ca_key: &str, offset: usize, extra_keys: &[(&str, &str)]) {
    let env = TempCa::new();
    env.init_plain(&["--key", ca_key, "--subject", SUBJECT]);
    let ca_ski = check_root(&env, ca_key);
    let mut cases: Vec<(String, &str, &str)> = LEAF_KEYS
        .iter()
        .enumerate()
        .map(|(j, &k)| {
            (
                format!("{k}-{}", PROFILES[(offset + j) % 4]),
                k,
                PROFILES[(offset + j) % 4],
            )
        })
        .collect();
    cases.extend(extra_keys.iter().map(|&(k, p)| (format!("{k}-{p}"), k, p)));
    for (name, key, profile) in &cases {
        let issued = env.issue_json(&[name, "--key", key, "--profile", profile]);
        assert_eq!(issued.len(), 1);
        check_leaf(&env, ca_key, &ca_ski, &issued[0], key, profile);
    }
}

/// P-256 CA: ecdsa-with-SHA256 leaves of every key type (plus RSA-4096 once) verify with the right purposes.
#[test]
fn matrix_ca_ec_p256() {
    matrix("ec-p256", 0, &[("rsa-4096", "server")]);
}

/// P-384 CA: ecdsa-with-SHA384 leaves of every key type verify with the right extensions and purposes.
#[test]
fn matrix_ca_ec_p384() {
    matrix("ec-p384", 1, &[]);
}

/// Ed25519 CA: ED25519-signed leaves of every key type verify with the right extensions and purposes.
#[test]
fn matrix_ca_ed25519() {
    matrix("ed25519", 2, &[]);
}

/// RSA CA: sha256WithRSAEncryption leaves of every key type verify with the right extensions and purposes.
#[test]
fn matrix_ca_rsa_2048() {
    matrix("rsa-2048", 3, &[]);
}

/// Every profile with one key type gives exactly its EKU (the matrix covers the rest).
#[test]
fn every_profile_gives_its_eku() {
    let env = TempCa::new();
    env.init_plain(&["--subject", SUBJECT]);
    let ca_ski = check_root(&env, "ec-p256");
    for profile in PROFILES {
        let name = format!("p-{profile}");
        let issued = env.issue_json(&[&name, "--profile", profile]);
        check_leaf(&env, "ec-p256", &ca_ski, &issued[0], "ec-p256", profile);
    }
    // The default profile is both.
    let issued = env.issue_json(&["default-profile"]);
    check_leaf(&env, "ec-p256", &ca_ski, &issued[0], "ec-p256", "both");
}

/// Default rule: a NAME ending in digits also answers without them; one without digits gets only itself.
#[test]
fn default_san_rule_adds_the_base_name() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let issued = env.issue_json(&["rmq1", "rmq12", "web"]);
    let want = [
        ("rmq1", "DNS:rmq1, DNS:rmq"),
        ("rmq12", "DNS:rmq12, DNS:rmq"),
        ("web", "DNS:web"),
    ];
    for ((name, sans), entry) in want.iter().zip(&issued) {
        assert_eq!(entry["name"], *name);
        assert_eq!(san_line(&env.issued(name, "cert.pem")), *sans, "{name}");
        let json: Vec<&str> = entry["sans"]
            .as_array()
            .expect("sans")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(json.join(", "), *sans, "{name}: JSON SANs");
    }
    // The base name is usable for hostname verification.
    verify(
        &env,
        &env.issued("rmq1", "cert.pem"),
        &["-verify_hostname", "rmq"],
    )
    .expect("rmq1 answers as rmq");
}

/// --no-rules leaves only the NAME.
#[test]
fn no_rules_leaves_only_the_name() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue_json(&["rmq1", "--no-rules"]);
    assert_eq!(san_line(&env.issued("rmq1", "cert.pem")), "DNS:rmq1");
    let err = verify(
        &env,
        &env.issued("rmq1", "cert.pem"),
        &["-verify_hostname", "rmq"],
    );
    assert!(err.is_err(), "rmq must not match without rules");
}

/// Rules edited in uca.toml apply to the next issue, and --no-rules still turns them off.
#[test]
fn custom_rules_from_the_config_file() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let cfg_path = env.ca_dir().join("uca.toml");
    let cfg = std::fs::read_to_string(&cfg_path).expect("uca.toml");
    let old = r#"rules = ["{name}", "{base}"]"#;
    assert!(cfg.contains(old), "{cfg}");
    let new = r#"rules = ["{name}", "{base}", "{name}.svc.internal", "{base}.svc.internal"]"#;
    std::fs::write(&cfg_path, cfg.replace(old, new)).expect("write uca.toml");

    env.issue_json(&["rmq1", "web"]);
    let sans = |name: &str| -> BTreeSet<String> {
        san_line(&env.issued(name, "cert.pem"))
            .split(", ")
            .map(str::to_string)
            .collect()
    };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|x| x.to_string()).collect() };
    assert_eq!(
        sans("rmq1"),
        set(&[
            "DNS:rmq1",
            "DNS:rmq",
            "DNS:rmq1.svc.internal",
            "DNS:rmq.svc.internal"
        ])
    );
    assert_eq!(sans("web"), set(&["DNS:web", "DNS:web.svc.internal"]));
    assert!(
        san_line(&env.issued("rmq1", "cert.pem")).starts_with("DNS:rmq1, "),
        "the NAME comes first"
    );
    verify(
        &env,
        &env.issued("rmq1", "cert.pem"),
        &["-verify_hostname", "rmq.svc.internal"],
    )
    .expect("rule SAN");

    env.issue_json(&["rmq2", "--no-rules"]);
    assert_eq!(san_line(&env.issued("rmq2", "cert.pem")), "DNS:rmq2");
}

/// --san of every type (DNS, wildcard, IP, email, URI, IDN, prefixes) is typed, normalized and deduplicated.
#[test]
fn extra_sans_of_every_type() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let args = [
        "rmq1",
        "--san",
        "web.example.org",
        "--san",
        "*.svc.internal",
        "--san",
        "10.0.0.7",
        "--san",
        "2001:db8::1",
        "--san",
        "ops@example.org",
        "--san",
        "spiffe://example.org/svc",
        "--san",
        "bücher.example",
        "--san",
        "Api.Example.ORG.",
        "--san",
        "dns:db.example.org",
        "--san",
        "ip:::1",
        "--san",
        "email:dev@example.org",
        "--san",
        "uri:urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "--san",
        "rmq1",
        "--san",
        "rmq",
        "--san",
        "10.0.0.7",
    ];
    let issued = env.issue_json(&args);
    let json: Vec<String> = issued[0]["sans"]
        .as_array()
        .expect("sans")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let want_json = [
        "DNS:rmq1",
        "DNS:rmq",
        "DNS:web.example.org",
        "DNS:*.svc.internal",
        "IP:10.0.0.7",
        "IP:2001:db8::1",
        "email:ops@example.org",
        "URI:spiffe://example.org/svc",
        "DNS:xn--bcher-kva.example",
        "DNS:api.example.org",
        "DNS:db.example.org",
        "IP:::1",
        "email:dev@example.org",
        "URI:urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    ];
    let sorted = |v: &[String]| -> Vec<String> {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    let want_json: Vec<String> = want_json.iter().map(|x| x.to_string()).collect();
    assert_eq!(
        sorted(&json),
        sorted(&want_json),
        "JSON SANs (duplicates must be dropped)"
    );
    assert_eq!(json[0], "DNS:rmq1", "the NAME comes first");

    let cert = env.issued("rmq1", "cert.pem");
    let line = san_line(&cert);
    let got: Vec<String> = line.split(", ").map(str::to_string).collect();
    let want_openssl: Vec<String> = want_json
        .iter()
        .map(|x| match x.as_str() {
            "IP:10.0.0.7" => "IP Address:10.0.0.7".to_string(),
            "IP:2001:db8::1" => "IP Address:2001:DB8:0:0:0:0:0:1".to_string(),
            "IP:::1" => "IP Address:0:0:0:0:0:0:0:1".to_string(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        sorted(&got),
        sorted(&want_openssl),
        "certificate SANs: {line}"
    );
    assert_eq!(got.iter().filter(|x| *x == "DNS:rmq1").count(), 1, "{line}");

    for check in [
        ["-verify_hostname", "rmq1"],
        ["-verify_hostname", "web.example.org"],
        ["-verify_hostname", "anything.svc.internal"],
        ["-verify_hostname", "xn--bcher-kva.example"],
        ["-verify_hostname", "api.example.org"],
        ["-verify_ip", "10.0.0.7"],
        ["-verify_ip", "2001:db8::1"],
        ["-verify_ip", "::1"],
        ["-verify_email", "ops@example.org"],
    ] {
        verify(&env, &cert, &check).unwrap_or_else(|e| panic!("{check:?}: {e}"));
    }
    for check in [
        ["-verify_hostname", "a.b.svc.internal"],
        ["-verify_hostname", "other"],
        ["-verify_ip", "10.0.0.8"],
    ] {
        assert!(
            verify(&env, &cert, &check).is_err(),
            "{check:?} must not match"
        );
    }
}

/// Every malformed NAME, SAN, profile, key type or validity is refused (exit 2) with its own
/// words and a hint, before anything is written; one bad NAME in a batch stops the batch.
#[test]
fn issue_refuses_bad_input_with_a_hint_and_changes_nothing() {
    let env = TempCa::new();
    env.init(&[]);
    let long_label = format!("{}.example.org", "a".repeat(64));
    let long_name = vec!["a".repeat(50); 6].join(".");
    let san = |value: &str| {
        vec!["issue", "web1", "--san", value]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        (
            "SAN with a space",
            san("a b.example"),
            "contains whitespace",
        ),
        (
            "NAME with a space",
            args(&["issue", "my host"]),
            "contains whitespace",
        ),
        (
            "SAN with an empty label",
            san("a..example.org"),
            "empty label",
        ),
        (
            "SAN with a label over 63 bytes",
            san(&long_label),
            "at most 63",
        ),
        ("SAN over 253 bytes", san(&long_name), "at most 253"),
        (
            "IPv4 with an octet over 255",
            san("10.0.0.256"),
            "not a valid one",
        ),
        (
            "ip: with three octets",
            san("ip:10.0.0"),
            "not a valid IPv4 or IPv6 address",
        ),
        (
            "IPv6 with two ::",
            san("fe80::1::2"),
            "not a valid IPv6 address",
        ),
        ("mailto: URI", san("mailto:ops"), "unknown URI form"),
        (
            "uri: of an unknown form",
            san("uri:foo:bar"),
            "unknown URI form",
        ),
        (
            "spiffe: URI without a host",
            san("spiffe:///no-host"),
            "no host",
        ),
        (
            "URI with a space",
            san("https://exa mple.org/"),
            "whitespace",
        ),
        (
            "wildcard in a middle label",
            san("api.*.example.org"),
            "only allowed as the leftmost label",
        ),
        (
            "wildcard inside a label",
            san("w*.example.org"),
            "must be a whole label",
        ),
        (
            "wildcard over one label",
            san("*.org"),
            "at least two labels",
        ),
        (
            "wildcard in an email",
            san("email:ops@*.example.org"),
            "not allowed here",
        ),
        (
            "invalid internationalized name",
            san("xn--zz.example"),
            "internationalized",
        ),
        (
            "unknown profile",
            args(&["issue", "web1", "--profile", "webserver"]),
            "unknown profile 'webserver'",
        ),
        (
            "unknown key type",
            args(&["issue", "web1", "--key", "dsa-1024"]),
            "unknown key type 'dsa-1024'",
        ),
        (
            "one bad NAME in a batch",
            args(&["issue", "good1", "bad_name", "good2"]),
            "underscores",
        ),
        (
            "the same NAME twice in one call",
            args(&["issue", "web1", "WEB1"]),
            "named twice",
        ),
        (
            "zero days",
            args(&["issue", "web1", "--days", "0"]),
            "--days must be at least 1",
        ),
    ];
    each_case(
        cases
            .into_iter()
            .map(|(name, a, message)| (name, (a, message))),
        |(a, message)| {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            env.refuses(&a, 2, message);
        },
    );
}

/// A NAME that already has a certificate needs --force (exit 5); in a batch, one conflict
/// issues nothing at all.
#[test]
fn name_already_issued_without_force() {
    let env = TempCa::new();
    env.init(&[]);
    env.uca_pass().args(["issue", "web1"]).assert().success();
    env.refuses(&["issue", "web1"], 5, "already has a certificate");
    env.refuses(
        &["issue", "web2", "web1", "web3"],
        5,
        "'web1' already has a certificate",
    );
    assert!(!env.issued("web2", "cert.pem").exists());
}

/// Malformed SANs are refused with exit 2 and leave the CA directory untouched.
#[test]
fn invalid_sans_are_refused_and_change_nothing() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let before = snapshot(&env.ca_dir());
    for bad in [
        "*.*.svc.internal",
        "foo.*.example",
        "a_b.example",
        "10.0.0.256",
        "email:nobody",
        "ip:1.2.3",
        "",
    ] {
        env.uca()
            .args(["issue", "x1", "--san", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("invalid SAN"));
    }
    assert_eq!(before, snapshot(&env.ca_dir()));
}

/// key.pem 0600/dir 0700, PKCS#8 v1 matching the cert; chain.pem = ca.crt; fullchain = cert + chain.
#[test]
fn files_modes_chain_and_keys() {
    let env = TempCa::new();
    env.init_plain(&[]);
    for (name, key) in [
        ("f-ec", "ec-p256"),
        ("f-ed", "ed25519"),
        ("f-rsa", "rsa-2048"),
        ("f-p384", "ec-p384"),
    ] {
        let entry = &env.issue_json(&[name, "--key", key])[0];
        let cert_path = env.issued(name, "cert.pem");
        let key_path = env.issued(name, "key.pem");
        let chain_path = env.issued(name, "chain.pem");
        let full_path = env.issued(name, "fullchain.pem");

        // JSON paths point at those files.
        let files = &entry["files"];
        for (k, p) in [
            ("cert", &cert_path),
            ("key", &key_path),
            ("chain", &chain_path),
            ("fullchain", &full_path),
        ] {
            let reported = files[k].as_str().unwrap_or_else(|| panic!("files.{k}"));
            let reported = env.path("").join(reported);
            assert_eq!(
                std::fs::canonicalize(&reported).expect("reported path"),
                std::fs::canonicalize(p).expect("path")
            );
        }

        assert_eq!(mode(&key_path), 0o600, "{name} key.pem");
        assert_eq!(mode(&env.issued(name, "")), 0o700, "{name} dir");

        let pem = std::fs::read_to_string(&key_path).expect("key.pem");
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{name}: unencrypted PKCS#8 expected"
        );
        let asn1 = openssl(&["asn1parse", "-in", key_path.utf8()]);
        let version = asn1.lines().nth(1).unwrap_or("");
        assert!(
            version.contains("INTEGER") && version.trim_end().ends_with(":00"),
            "{name}: not PKCS#8 v1:\n{asn1}"
        );
        openssl(&["pkey", "-in", key_path.utf8(), "-noout"]);
        assert_key_matches(&cert_path, &key_path);

        let cert = std::fs::read(&cert_path).expect("cert");
        let chain = std::fs::read(&chain_path).expect("chain");
        let full = std::fs::read(&full_path).expect("fullchain");
        assert_eq!(
            chain,
            std::fs::read(env.ca_cert()).expect("ca.crt"),
            "{name}: chain.pem != ca.crt"
        );
        assert_eq!(
            full,
            [cert.clone(), chain.clone()].concat(),
            "{name}: fullchain != cert + chain"
        );
        assert_eq!(
            String::from_utf8_lossy(&cert)
                .matches("-----BEGIN CERTIFICATE-----")
                .count(),
            1
        );

        let out = openssl(&[
            "verify",
            "-CAfile",
            env.ca_cert().utf8(),
            "-untrusted",
            chain_path.utf8(),
            cert_path.utf8(),
        ]);
        assert!(out.contains(": OK"), "{out}");
        let out = openssl(&[
            "verify",
            "-CAfile",
            env.ca_cert().utf8(),
            "-untrusted",
            full_path.utf8(),
            full_path.utf8(),
        ]);
        assert!(out.contains(": OK"), "{out}");
    }
}

fn openssl_dates(cert: &Path) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    let out = openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-dates",
        "-dateopt",
        "iso_8601",
    ]);
    let get = |k: &str| {
        let v = out
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {out}"));
        time::PrimitiveDateTime::parse(v.trim(), &fmt)
            .expect("iso date")
            .assume_utc()
    };
    (get("notBefore="), get("notAfter="))
}

fn json_time(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().expect("date string"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339 date")
}

fn assert_about(got: time::Duration, want: time::Duration, slack_s: i64, what: &str) {
    assert!(
        (got - want).whole_seconds().abs() <= slack_s,
        "{what}: got {got}, want {want} ±{slack_s}s"
    );
}

/// Default 397 days, --days 30, notBefore backdated 5 minutes, JSON dates equal the certificate's.
#[test]
fn validity_default_and_days() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let now = time::OffsetDateTime::now_utc();
    for (name, args, days) in [
        ("v-default", vec![], 397),
        ("v-30", vec!["--days", "30"], 30),
    ] {
        let mut all = vec![name];
        all.extend(args);
        let entry = &env.issue_json(&all)[0];
        let (nb, na) = openssl_dates(&env.issued(name, "cert.pem"));
        assert_eq!(json_time(&entry["not_before"]), nb, "{name}");
        assert_eq!(json_time(&entry["not_after"]), na, "{name}");
        assert_eq!(entry["clamped"], false);
        assert_about(
            na - nb,
            time::Duration::days(days) + time::Duration::minutes(5),
            2,
            name,
        );
        assert_about(
            now - nb,
            time::Duration::minutes(5),
            60,
            "notBefore backdated ~5 min",
        );
    }
}

/// Under a 30-day CA a default leaf is clamped to the CA's notAfter with a warning; a 10-day one is not.
#[test]
fn validity_is_clamped_to_the_ca() {
    let env = TempCa::new();
    env.init_plain(&["--days", "30"]);
    let (_, ca_na) = openssl_dates(&env.ca_cert());

    let out = env
        .uca()
        .args(["--json", "issue", "c1"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("CA's own expiry"),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["issued"][0]["clamped"], true);
    let (_, na) = openssl_dates(&env.issued("c1", "cert.pem"));
    assert!(na <= ca_na, "leaf notAfter {na} outlives the CA {ca_na}");
    assert_about(ca_na - na, time::Duration::ZERO, 1, "clamped notAfter");
    verify(&env, &env.issued("c1", "cert.pem"), &[]).expect("clamped leaf verifies");

    let out = env
        .uca()
        .args(["--json", "issue", "c2", "--days", "10"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["issued"][0]["clamped"], false);
    let (nb, na) = openssl_dates(&env.issued("c2", "cert.pem"));
    assert_about(
        na - nb,
        time::Duration::days(10) + time::Duration::minutes(5),
        2,
        "10-day leaf",
    );
}

/// A NAME over 64 chars gets no CN; with an empty subject the SAN is critical (RFC 5280 §4.2.1.6).
#[test]
fn long_name_has_no_cn_and_critical_san_when_subject_is_empty() {
    let long = format!("{}.example.org", "a".repeat(60));
    assert_eq!(long.len(), 72);

    let with_defaults = TempCa::new();
    with_defaults.init_plain(&["--subject", SUBJECT]);
    with_defaults.issue_json(&[&long]);
    let cert = with_defaults.issued(&long, "cert.pem");
    let text = x509_text(&cert);
    assert_eq!(
        line_with(&text, "Subject:"),
        "Subject: C = US, ST = Oregon, L = Portland, O = Acme, OU = Platform"
    );
    assert_eq!(san_line(&cert), format!("DNS:{long}"));

    let bare = TempCa::new();
    bare.init_plain(&[]);
    bare.issue_json(&[&long]);
    let cert = bare.issued(&long, "cert.pem");
    let text = x509_text(&cert);
    let subject = openssl(&["x509", "-in", cert.utf8(), "-noout", "-subject"]);
    assert_eq!(subject.trim(), "subject=", "{text}");
    assert_eq!(
        extension(&text, "X509v3 Subject Alternative Name"),
        Some((true, format!("DNS:{long}"))),
        "empty subject needs a critical SAN"
    );
    verify(&bare, &cert, &["-verify_hostname", &long]).expect("verifies by SAN");
}

/// --days 0 is invalid input (exit 2) and writes nothing.
#[test]
fn zero_days_is_rejected() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let before = snapshot(&env.ca_dir());
    env.uca()
        .args(["issue", "z1", "--days", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--days"));
    assert_eq!(before, snapshot(&env.ca_dir()));
}

/// Re-issuing needs --force (else exit 5, nothing changed); --force gives new key+serial, old superseded.
#[test]
fn force_reissues_and_supersedes() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let first = env.issue_json(&["rmq1"])[0].clone();
    let s1 = first["serial"].as_str().expect("serial").to_string();
    let cert1 = std::fs::read(env.issued("rmq1", "cert.pem")).expect("cert");
    let key1 = std::fs::read(env.issued("rmq1", "key.pem")).expect("key");

    let before = snapshot(&env.ca_dir());
    env.uca()
        .args(["issue", "rmq1"])
        .assert()
        .code(5)
        .stderr(predicate::str::contains("--force").and(predicate::str::contains("hint:")));
    assert_eq!(
        before,
        snapshot(&env.ca_dir()),
        "a refused issue must change nothing"
    );

    let second = env.issue_json(&["rmq1", "--force"])[0].clone();
    let s2 = second["serial"].as_str().expect("serial").to_string();
    assert_ne!(s1, s2);
    assert_eq!(second["replaced"], s1.as_str());
    let cert2 = env.issued("rmq1", "cert.pem");
    assert_ne!(
        cert1,
        std::fs::read(&cert2).expect("cert"),
        "cert.pem not replaced"
    );
    assert_ne!(
        key1,
        std::fs::read(env.issued("rmq1", "key.pem")).expect("key"),
        "key.pem not replaced"
    );
    assert_serial(&cert2, &s2);
    assert_key_matches(&cert2, &env.issued("rmq1", "key.pem"));
    verify(&env, &cert2, &[]).expect("new certificate verifies");
    assert_eq!(mode(&env.issued("rmq1", "key.pem")), 0o600);

    let rows = env.ledger();
    let status = |serial: &str| {
        rows.iter()
            .find(|r| r["serial"] == serial)
            .unwrap_or_else(|| panic!("{serial} not in ledger"))["status"]
            .clone()
    };
    assert_eq!(status(&s1), "superseded");
    assert_eq!(status(&s2), "issued");
    let superseded = env.json(&["list", "--status", "superseded"]);
    let sup = superseded["certificates"].as_array().expect("certificates");
    assert_eq!(sup.len(), 1);
    assert_eq!(sup[0]["serial"], s1.as_str());
}

/// One call issues 50 NAMEs: 50 directories, 50 "issued" ledger rows, 50 distinct serials.
#[test]
fn batch_of_fifty() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let names: Vec<String> = (1..=50).map(|i| format!("a{i}")).collect();
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let issued = env.issue_json(&args);
    assert_eq!(issued.len(), 50);
    let serials: HashSet<&str> = issued.iter().filter_map(|e| e["serial"].as_str()).collect();
    assert_eq!(serials.len(), 50, "serials must be unique");
    for (name, entry) in names.iter().zip(&issued) {
        assert_eq!(entry["name"], name.as_str());
        assert_eq!(
            entry["sans"],
            serde_json::json!([format!("DNS:{name}"), "DNS:a"])
        );
        assert!(
            env.issued(name, "cert.pem").is_file() && env.issued(name, "key.pem").is_file(),
            "{name}"
        );
        assert_serial(
            &env.issued(name, "cert.pem"),
            entry["serial"].as_str().expect("serial"),
        );
    }
    let dirs = std::fs::read_dir(env.ca_dir().join("issued"))
        .expect("issued/")
        .count();
    assert_eq!(dirs, 50);
    let rows: Vec<Value> = env
        .ledger()
        .into_iter()
        .filter(|r| r["profile"] != "root")
        .collect();
    assert_eq!(rows.len(), 50);
    assert!(rows.iter().all(|r| r["status"] == "issued"), "{rows:?}");
    let ledger_serials: HashSet<&str> = rows.iter().filter_map(|r| r["serial"].as_str()).collect();
    assert_eq!(ledger_serials, serials);
}
