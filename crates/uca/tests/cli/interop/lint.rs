//! RFC 5280 conformance of everything `uca` signs, judged by DigiCert's pkilint
//! (`lint_pkix_cert`, `lint_pkix_signer_signee_cert_chain`; `pip install pkilint==0.13.3`).
//!
//! Policy: no finding of severity NOTICE or higher, except a short list of known pkilint false
//! positives that are matched by code AND by the exact offending value (see
//! [`known_false_positive`]). uca's SKI follows RFC 7093 method 1, which pkilint recognizes, so
//! even its `unknown_subject_key_identifier_calculation_method` notice must not appear.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use crate::support::*;
use serde_json::Value;

const SUBJECT: &str = "O=Acme,OU=Platform,C=US,ST=Oregon,L=Portland";
const CA_KEYS: [&str; 4] = ["ec-p256", "ec-p384", "ed25519", "rsa-2048"];
const LEAF_KEYS: [&str; 5] = ["ec-p256", "ec-p384", "ed25519", "rsa-2048", "rsa-3072"];
const PROFILES: [&str; 4] = ["server", "client", "both", "code-signing"];
const INSTALL_HINT: &str = "pkilint is not installed: run the README's test command `bash scripts/test.sh` \
     (it runs `python3 -m pip install pkilint==0.13.3`)";

fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lint-certs.py")
}

/// One pkilint finding.
#[derive(Debug, Clone)]
struct Finding {
    job: String,
    validator: String,
    node: String,
    severity: String,
    code: String,
    message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} @ {}: {} ({}) {}",
            self.job, self.validator, self.node, self.code, self.severity, self.message
        )
    }
}

fn findings_of(job: &str, report: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in report["results"].as_array().expect("results[]") {
        for d in r["finding_descriptions"]
            .as_array()
            .expect("finding_descriptions[]")
        {
            out.push(Finding {
                job: job.to_string(),
                validator: r["validator"].as_str().unwrap_or("").to_string(),
                node: r["node_path"].as_str().unwrap_or("").to_string(),
                severity: d["severity"].as_str().unwrap_or("").to_string(),
                code: d["code"].as_str().unwrap_or("").to_string(),
                message: d["message"].as_str().unwrap_or("").to_string(),
            });
        }
    }
    out
}

/// What to lint: a single certificate, or an issuer/subject pair.
enum Job {
    Cert(PathBuf),
    Chain(PathBuf, PathBuf),
}

/// Lints every job in one pkilint process (scripts/lint-certs.py); returns all findings of
/// severity NOTICE and above, and the full raw report for failure messages.
fn lint(jobs: &[Job]) -> (Vec<Finding>, String) {
    let mut child = StdCommand::new("python3")
        .arg(driver())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}; {INSTALL_HINT}"));
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for j in jobs {
            let line = match j {
                Job::Cert(c) => format!("cert\t{}\n", c.utf8()),
                Job::Chain(i, c) => format!("chain\t{}\t{}\n", i.utf8(), c.utf8()),
            };
            stdin.write_all(line.as_bytes()).expect("write job");
        }
    }
    let out = child.wait_with_output().expect("lint-certs.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("{INSTALL_HINT}\n{stderr}");
    }
    assert!(
        out.status.success(),
        "scripts/lint-certs.py failed: {stderr}"
    );
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = raw.lines();
    let header: Value =
        serde_json::from_str(lines.next().expect("header line")).expect("JSON header");
    eprintln!("pkilint {}", header["pkilint"]);
    let mut findings = Vec::new();
    let mut count = 0;
    for l in lines {
        let v: Value = serde_json::from_str(l).expect("JSON line");
        let job: Vec<&str> = v["job"]
            .as_array()
            .expect("job")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        findings.extend(findings_of(&job.join(" "), &v["report"]));
        count += 1;
    }
    assert_eq!(count, jobs.len(), "pkilint skipped jobs:\n{raw}\n{stderr}");
    (findings, raw)
}

fn is_ldh_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// Known pkilint 0.13.3 false positives, each matched by code and by the offending value.
/// Returns the reason when `f` is one of them.
fn known_false_positive(f: &Finding) -> Option<&'static str> {
    let quoted = |prefix: &str| {
        f.message
            .strip_prefix(prefix)
            .and_then(|m| m.strip_prefix('"'))
            .and_then(|m| m.strip_suffix('"'))
            .map(str::to_string)
    };
    match f.code.as_str() {
        // pkilint checks dNSName with python-validators' domain(), which demands a dot and an
        // alphabetic TLD. RFC 5280 §4.2.1.6 asks for RFC 1034 §3.5 preferred name syntax, in which
        // a single label (rmq1, the `{base}` rmq) is valid; uca's core feature is these names.
        "pkix.invalid_domain_name_syntax" => {
            let name = quoted("Invalid domain name syntax: ")?;
            if is_ldh_label(&name) && !name.bytes().all(|b| b.is_ascii_digit()) {
                return Some("single-label DNS name (valid RFC 1034 preferred name syntax)");
            }
            // A leading wildcard label is not RFC 1034 syntax; RFC 5280 leaves wildcards to other
            // specs (RFC 6125 §6.4.3, RFC 9525), which every TLS client implements.
            let rest = name.strip_prefix("*.")?;
            (rest.split('.').count() >= 2 && rest.split('.').all(is_ldh_label))
                .then_some("leading wildcard label (RFC 6125 §6.4.3)")
        }
        // pkilint checks URIs with python-validators' url(), which knows only a fixed list of
        // schemes (http, https, ftp, ftps, git, rtsp, sftp, ssh, telnet). spiffe: and urn: URIs
        // are valid RFC 3986 URIs.
        "pkix.invalid_uri_syntax" => {
            let uri = quoted("Invalid URI syntax: ")?;
            (uri.starts_with("spiffe://") || uri.starts_with("urn:"))
                .then_some("URI scheme unknown to python-validators (valid RFC 3986)")
        }
        _ => None,
    }
}

/// Fails on every NOTICE/WARNING/ERROR/FATAL finding that is not a known false positive, printing the
/// whole report; prints the rest.
fn assert_clean(findings: &[Finding], raw: &str) {
    let mut bad = Vec::new();
    let mut tolerated = std::collections::BTreeMap::<String, usize>::new();
    for f in findings {
        match f.severity.as_str() {
            "NOTICE" | "WARNING" | "ERROR" | "FATAL" => match known_false_positive(f) {
                Some(why) => eprintln!("known pkilint false positive ({why}): {f}"),
                None => bad.push(f),
            },
            _ => {
                *tolerated
                    .entry(format!("{} ({})", f.code, f.severity))
                    .or_default() += 1
            }
        }
    }
    for (what, n) in &tolerated {
        eprintln!("tolerated: {n} x {what}");
    }
    if !bad.is_empty() {
        let list: Vec<String> = bad.iter().map(|f| f.to_string()).collect();
        panic!(
            "pkilint findings of severity NOTICE or higher:\n{}\n\nfull report:\n{raw}",
            list.join("\n")
        );
    }
}

/// Roots and leaves of every key type × profile have no WARNING/ERROR findings, alone or as a pair.
#[test]
fn pkix_lint_roots_and_leaves_of_every_profile_and_key_type() {
    let envs: Vec<(&str, TempCa)> = CA_KEYS.iter().map(|&k| (k, TempCa::new())).collect();
    let mut jobs = Vec::new();
    for (ca_key, env) in &envs {
        env.init_plain(&["--key", ca_key, "--subject", SUBJECT]);
        jobs.push(Job::Cert(env.ca_cert()));
        let mut cases: Vec<(&str, &str, Vec<&str>)> = Vec::new();
        for key in LEAF_KEYS {
            for profile in PROFILES {
                cases.push((key, profile, vec![]));
            }
        }
        if *ca_key == "ec-p256" {
            cases.push(("rsa-4096", "server", vec![]));
        }
        for (key, profile, extra) in cases {
            let name = format!("{key}-{profile}.example.org");
            let mut args = vec![
                "issue",
                &name,
                "--key",
                key,
                "--profile",
                profile,
                "--san",
                "10.0.0.7",
                "--san",
                "2001:db8::1",
                "--san",
                "ops@example.org",
                "--san",
                "https://svc.example.org/x",
            ];
            args.extend(extra);
            env.json(&args);
            let cert = env.issued(&name, "cert.pem");
            jobs.push(Job::Chain(env.ca_cert(), cert.clone()));
            jobs.push(Job::Cert(cert));
        }
    }
    // A leaf clamped to a short-lived CA (notAfter equals the issuer's).
    let short = TempCa::new();
    short.init_plain(&["--days", "30", "--subject", SUBJECT]);
    short.json(&["issue", "clamped.example.org"]);
    jobs.push(Job::Cert(short.ca_cert()));
    jobs.push(Job::Cert(short.issued("clamped.example.org", "cert.pem")));
    jobs.push(Job::Chain(
        short.ca_cert(),
        short.issued("clamped.example.org", "cert.pem"),
    ));
    // A NAME too long for a CN (ub-common-name 64) under a CA without subject defaults: the
    // subject is empty, so the SAN must be critical (RFC 5280 §4.2.1.6).
    let bare = TempCa::new();
    bare.init_plain(&[]);
    let long = format!("{}.example.org", "a".repeat(60));
    bare.json(&["issue", &long]);
    jobs.push(Job::Cert(bare.issued(&long, "cert.pem")));
    jobs.push(Job::Chain(bare.ca_cert(), bare.issued(&long, "cert.pem")));

    assert_eq!(jobs.len(), 4 + 2 * (4 * 20 + 1) + 3 + 2);
    let (findings, raw) = lint(&jobs);
    assert_clean(&findings, &raw);
}

/// Single-label NAMEs, wildcards and spiffe:/urn: URIs draw only the known pkilint false positives.
#[test]
fn pkix_lint_single_label_wildcard_and_uri_sans() {
    let env = TempCa::new();
    env.init_plain(&["--subject", SUBJECT]);
    env.json(&[
        "issue",
        "rmq1",
        "--san",
        "*.svc.internal",
        "--san",
        "spiffe://example.org/svc",
        "--san",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "--san",
        "bücher.example",
    ]);
    env.json(&[
        "issue",
        "backup-agent",
        "--profile",
        "client",
        "--key",
        "rsa-2048",
    ]);
    let mut jobs = Vec::new();
    for name in ["rmq1", "backup-agent"] {
        jobs.push(Job::Cert(env.issued(name, "cert.pem")));
        jobs.push(Job::Chain(env.ca_cert(), env.issued(name, "cert.pem")));
    }
    let (findings, raw) = lint(&jobs);
    assert_clean(&findings, &raw);
}

/// The harness sees real findings: a bad dNSName and a leaf/CA pair that does not chain.
#[test]
fn pkix_lint_harness_catches_bad_certificates() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&[]);
    other.json(&["issue", "stranger.example.org"]);
    let key = env.path("bad.key");
    let bad = env.path("bad.crt");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.utf8(),
        "-out",
        bad.utf8(),
        "-subj",
        "/CN=bad",
        "-days",
        "1",
        "-addext",
        "subjectAltName=DNS:bad-.example",
    ]);
    let (findings, _) = lint(&[
        Job::Cert(bad),
        Job::Chain(
            env.ca_cert(),
            other.issued("stranger.example.org", "cert.pem"),
        ),
    ]);
    let has = |code: &str| {
        findings
            .iter()
            .any(|f| f.code == code && known_false_positive(f).is_none())
    };
    assert!(has("pkix.invalid_domain_name_syntax"), "{findings:#?}");
    assert!(has("pkix.signature_verification_failed"), "{findings:#?}");
}

/// The `lint_pkix_cert` command itself (what the README documents) reports the same as the driver.
#[test]
fn lint_pkix_cert_cli_agrees_with_the_driver() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.json(&["issue", "web.example.org", "--profile", "server"]);
    let cert = env.issued("web.example.org", "cert.pem");
    let out = StdCommand::new("lint_pkix_cert")
        .args(["lint", "-s", "NOTICE", "-f", "JSON", cert.utf8()])
        .output()
        .unwrap_or_else(|e| panic!("cannot run lint_pkix_cert: {e}; {INSTALL_HINT}"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lint_pkix_cert printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let cli: Vec<String> = findings_of("", &report)
        .iter()
        .map(|f| format!("{} {}", f.code, f.node))
        .collect();
    let (driver, _) = lint(&[Job::Cert(cert)]);
    let driver: Vec<String> = driver
        .iter()
        .map(|f| format!("{} {}", f.code, f.node))
        .collect();
    assert_eq!(cli, driver);
}
