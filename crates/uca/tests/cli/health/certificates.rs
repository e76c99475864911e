//! The certificate an endpoint serves, as `health check` and `health watch` judge it: expired,
//! from another CA, expiring soon (with a forecast), and cross-checked with this CA's ledger
//! (revoked, superseded, never recorded) and CRL.

use std::path::PathBuf;

use crate::support::health::*;
use crate::support::*;

/// A server certificate for 127.0.0.1 signed with this CA's key behind uca's back, by
/// `openssl ca` (which takes -startdate / -enddate, also in the past); uca's ledger never saw it.
fn openssl_ca_cert(env: &TempCa, cn: &str, start: &str, end: &str) -> (PathBuf, PathBuf) {
    OpensslCa::new(env, &format!("openssl-ca-{cn}")).issue(cn, "ext_server", start, end)
}

/// A server certificate for 127.0.0.1 from this CA's key that expired in 2021.
fn expired_cert(env: &TempCa) -> (PathBuf, PathBuf) {
    let (cert, key) = openssl_ca_cert(env, "expired", "20200101000000Z", "20210101000000Z");
    // Sanity: OpenSSL itself calls it expired, and otherwise fine.
    let v = run(
        "openssl",
        &["verify", "-CAfile", env.ca_cert().utf8(), cert.utf8()],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(text.contains("certificate has expired"), "{text}");
    (cert, key)
}

#[test]
fn check_expired_server_certificate_is_critical() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let (cert, key) = expired_cert(&env);
    let server = FlakyServer::tls_files(&cert, &key, &[]);
    for url in [
        server.url("https"),
        format!("tls://127.0.0.1:{}", server.port),
    ] {
        let c = health_check_json(&env, &[&url, "--count", "3"]);
        assert_eq!(c.code, 2, "{url}: {}", c.all());
        let st = c.json();
        assert_eq!(st["color"], "red", "{st}");
        assert!(reasons(&st).contains("expired"), "{url}: {st}");
        assert!(
            reasons(&st).contains("TLS: the server's certificate"),
            "{st}"
        );
    }
}

#[test]
fn check_certificate_from_another_ca_is_critical() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = env.path("other");
    uca_bare()
        .current_dir(env.tmp.path())
        .args(["--dir", other.utf8(), "init", "--no-passphrase"])
        .assert()
        .success();
    uca_bare()
        .current_dir(env.tmp.path())
        .args([
            "--dir",
            other.utf8(),
            "issue",
            "foreign",
            "--san",
            "127.0.0.1",
        ])
        .assert()
        .success();
    let issued = other.join("issued/foreign");
    let server =
        FlakyServer::tls_files(&issued.join("fullchain.pem"), &issued.join("key.pem"), &[]);
    let url = server.url("https");
    let c = health_check(&env, &[&url, "--count", "3"]);
    assert_eq!(c.code, 2, "{}", c.all());
    assert!(
        c.stdout
            .contains("TLS: the server's certificate is not from a trusted CA (unknown issuer)"),
        "{}",
        c.all()
    );
    // With --ca naming the other CA it is fine: it is the trust, not the server.
    let ok = health_check(
        &env,
        &[&url, "--count", "3", "--ca", other.join("ca.crt").utf8()],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
}

#[test]
fn check_certificate_expiring_soon_is_critical_or_warning_by_thresholds() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("soon", &["--days", "5", "--san", "127.0.0.1"]);
    let server = FlakyServer::tls(&env.files("soon"), &[]);
    let url = server.url("https");

    // Default cert_crit 7d: Red.
    let c = health_check(&env, &[&url, "--count", "3"]);
    assert_eq!(c.code, 2, "{}", c.all());
    assert!(
        c.stdout.starts_with("UCA-HEALTH CRITICAL - "),
        "{}",
        c.all()
    );
    // 5 days minus the seconds since the issue: "4 days", or "5 days" within the same second.
    assert!(
        c.stdout.contains("certificate CN=soon expires in 4 days")
            || c.stdout.contains("certificate CN=soon expires in 5 days"),
        "{}",
        c.all()
    );
    let days: f64 = c
        .stdout
        .split(" cert_days=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no cert_days perfdata: {}", c.all()));
    assert!(days > 4.0 && days <= 5.0, "{}", c.all());
    assert!(c.stdout.trim_end().ends_with(";30:;7:"), "{}", c.all());

    // Within cert_warn but not cert_crit: Yellow, exit 1.
    let c = health_check_json(
        &env,
        &[
            &url,
            "--count",
            "3",
            "--cert-crit",
            "1d",
            "--cert-warn",
            "10d",
        ],
    );
    assert_eq!(c.code, 1, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "yellow", "{st}");
    assert_eq!(st["probe"]["color"], "green", "{st}");
    assert_eq!(st["cert"]["color"], "yellow", "{st}");
    assert_eq!(st["cert"]["subject"], "CN=soon", "{st}");
    assert!(
        same_serial(
            st["cert"]["serial"].as_str().unwrap(),
            &serial_of(&env.issued("soon", "cert.pem"))
        ),
        "{st}"
    );
    let left = st["cert"]["seconds_left"].as_i64().unwrap();
    assert!((4 * 86_400..=5 * 86_400).contains(&left), "{st}");
    assert!(
        reasons(&st).contains(&format!("expires in {} days", left / 86_400)),
        "{st}"
    );
    let text = health_check(
        &env,
        &[
            &url,
            "--count",
            "3",
            "--cert-crit",
            "1d",
            "--cert-warn",
            "10d",
        ],
    );
    assert_eq!(text.code, 1, "{}", text.all());
    assert!(
        text.stdout.starts_with("UCA-HEALTH WARNING - "),
        "{}",
        text.all()
    );
    assert!(text.stdout.contains(";10:;1:"), "{}", text.all());

    // tls:// (a handshake, no HTTP) judges the same certificate.
    let tls = health_check_json(
        &env,
        &[&format!("tls://127.0.0.1:{}", server.port), "--count", "2"],
    );
    assert_eq!(tls.code, 2, "{}", tls.all());
    let st = tls.json();
    assert_eq!(st["probe"]["color"], "green", "{st}");
    assert_eq!(st["cert"]["color"], "red", "{st}");

    // Green today, Yellow within the (24 h) horizon: a certificate forecast.
    let c = health_check_json(
        &env,
        &[
            &url,
            "--count",
            "2",
            "--cert-warn",
            "4.5d",
            "--cert-crit",
            "1d",
        ],
    );
    assert_eq!(c.code, 0, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "green", "{st}");
    let p = &st["prediction"];
    assert_eq!(p["to"], "yellow", "{st}");
    let secs = p["in_seconds"].as_i64().unwrap();
    assert!((11 * 3600..=12 * 3600 + 60).contains(&secs), "{st}");
    assert!(
        p["basis"]
            .as_str()
            .is_some_and(|b| b.starts_with("the certificate's notAfter")),
        "{st}"
    );
    assert!(
        st["forecast"]
            .as_str()
            .is_some_and(|f| f.starts_with("certificate: Yellow in ~12 h")
                || f.starts_with("certificate: Yellow in ~11 h")),
        "{st}"
    );
}

#[test]
fn check_cross_checks_the_served_certificate_with_the_ledger() {
    let env = TempCa::new();
    env.init_plain(&[]);

    // Revoked while still served → Red.
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let web = FlakyServer::tls(&env.files("web"), &[]);
    let url = web.url("https");
    let serial = serial_of(&env.issued("web", "cert.pem"));
    let before = health_check_json(&env, &[&url, "--count", "2"]);
    assert_eq!(before.code, 0, "{}", before.all());
    assert!(before.json()["ca_findings"].as_array().unwrap().is_empty());
    env.uca().args(["revoke", "web"]).assert().success();
    let c = health_check_json(&env, &[&url, "--count", "2"]);
    assert_eq!(c.code, 2, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "red", "{st}");
    assert_eq!(st["probe"]["color"], "green", "{st}");
    let finding = st["ca_findings"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(finding.starts_with("serving serial "), "{st}");
    assert!(finding.contains(", revoked on "), "{st}");
    assert!(finding.ends_with(": replace the certificate"), "{st}");
    let shown = finding
        .trim_start_matches("serving serial ")
        .split(',')
        .next()
        .unwrap();
    assert!(same_serial(shown, &serial), "{shown} vs {serial}: {st}");
    assert_eq!(st["reasons"][0].as_str(), Some(finding.as_str()), "{st}");
    let text = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(text.code, 2, "{}", text.all());
    assert!(text.stdout.contains("revoked"), "{}", text.all());

    // Renewed while the old certificate is still served → Yellow: reload the service.
    for (name, how) in [
        ("api", vec!["renew", "api"]),
        ("db", vec!["issue", "db", "--force", "--san", "127.0.0.1"]),
    ] {
        env.issue(name, &["--san", "127.0.0.1", "--profile", "server"]);
        let server = FlakyServer::tls(&env.files(name), &[]);
        let url = server.url("https");
        let old = serial_of(&env.issued(name, "cert.pem"));
        env.uca().args(&how).assert().success();
        let new = serial_of(&env.issued(name, "cert.pem"));
        assert!(!same_serial(&old, &new), "{how:?} kept the serial");
        let c = health_check_json(&env, &[&url, "--count", "2"]);
        assert_eq!(c.code, 1, "{how:?}: {}", c.all());
        let st = c.json();
        assert_eq!(st["color"], "yellow", "{how:?}: {st}");
        let finding = st["ca_findings"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(finding.contains(", superseded by "), "{how:?}: {st}");
        assert!(finding.ends_with(": reload the service"), "{how:?}: {st}");
        let shown = finding
            .trim_start_matches("serving serial ")
            .split(',')
            .next()
            .unwrap();
        assert!(same_serial(shown, &old), "{how:?}: {shown} vs {old}: {st}");
        let by = finding
            .split(", superseded by ")
            .nth(1)
            .and_then(|r| r.split(" on ").next())
            .unwrap();
        assert!(
            same_serial(by, &new),
            "{how:?}: superseded by {by}, new is {new}: {st}"
        );
        let text = health_check(&env, &[&url, "--count", "2"]);
        assert_eq!(text.code, 1, "{}", text.all());
        assert!(
            text.stdout.starts_with("UCA-HEALTH WARNING - "),
            "{}",
            text.all()
        );
        assert!(text.stdout.contains("reload the service"), "{}", text.all());
    }
}

/// A certificate signed with this CA's key but missing from its ledger: Yellow.
#[test]
fn check_flags_a_certificate_this_ca_signed_but_never_recorded() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let (cert, key) = openssl_ca_cert(&env, "rogue", "20240101000000Z", "20990101000000Z");
    let server = FlakyServer::tls_files(&cert, &key, &[]);
    let c = health_check_json(&env, &[&server.url("https"), "--count", "2"]);
    assert_eq!(c.code, 1, "{}", c.all());
    let st = c.json();
    assert_eq!(st["probe"]["color"], "green", "{st}");
    assert_eq!(st["color"], "yellow", "{st}");
    let f = st["ca_findings"][0].as_str().unwrap_or_default();
    assert!(
        f.contains("signed by this CA but not in its ledger"),
        "{st}"
    );
    assert!(f.to_ascii_lowercase().contains("7e57e0"), "{st}");
}

/// This CA's CRL is watched like an expiry: a CRL past its nextUpdate is Red for every endpoint
/// serving one of this CA's certificates.
#[test]
fn check_flags_a_stale_crl_of_this_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let server = FlakyServer::tls(&env.files("web"), &[]);
    // A CRL signed by this CA's key whose nextUpdate passed in 2020 (openssl ca can backdate).
    OpensslCa::new(&env, "old-crl").crl(
        "20200101000000Z",
        "20200108000000Z",
        &env.ca_dir().join("crl.pem"),
    );
    let c = health_check_json(&env, &[&server.url("https"), "--count", "2"]);
    assert_eq!(c.code, 2, "{}", c.all());
    let st = c.json();
    assert_eq!(st["probe"]["color"], "green", "{st}");
    assert!(
        reasons(&st).contains("the CA's CRL is past its nextUpdate (2020-01-08"),
        "{st}"
    );
    assert!(reasons(&st).contains("run uca crl"), "{st}");
}

/// Right after `uca crl` (default lifetime 7 days, "publish it again daily") a healthy endpoint
/// serving one of this CA's certificates is still OK.
#[test]
fn check_fresh_crl_is_not_a_problem() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let server = FlakyServer::tls(&env.files("web"), &[]);
    let url = server.url("https");
    let before = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(before.code, 0, "{}", before.all());
    env.uca().arg("crl").assert().success();
    let after = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(
        after.code,
        0,
        "a CRL published a moment ago with uca's default lifetime:\n{}",
        after.all()
    );
    assert!(!after.stdout.contains("CRL"), "{}", after.all());
}

/// The watcher cross-checks the served certificates with the ledger too (first look ~2 s in).
#[test]
fn watch_reports_revoked_and_superseded_certificates() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let mut servers = Vec::new();
    for name in ["revoked", "renewed", "fine"] {
        env.issue(name, &["--san", "127.0.0.1", "--profile", "server"]);
        servers.push(FlakyServer::tls(&env.files(name), &[]));
    }
    env.uca().args(["revoke", "revoked"]).assert().success();
    env.uca().args(["renew", "renewed"]).assert().success();
    let mut text = defaults("4s");
    for (name, server) in ["revoked", "renewed", "fine"].iter().zip(&servers) {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url("https")
        ));
    }
    let file = targets_file(&env, "targets.toml", &text);
    let w = Watch::start(&env, &[], &file, &[]);
    let doc = w.wait_until(15, "ledger findings", |d| {
        endpoint_of(d, "revoked")["color"] == "red"
            && endpoint_of(d, "renewed")["color"] == "yellow"
            && endpoint_of(d, "fine")["color"] == "green"
    });
    let r = endpoint_of(&doc, "revoked");
    assert_eq!(r["probe"]["color"], "green", "{r}");
    assert!(reasons(&r).contains(", revoked on "), "{r}");
    assert!(reasons(&r).contains("replace the certificate"), "{r}");
    let y = endpoint_of(&doc, "renewed");
    assert!(reasons(&y).contains(", superseded by "), "{y}");
    assert!(reasons(&y).contains("reload the service"), "{y}");
    let g = endpoint_of(&doc, "fine");
    assert!(g["ca_findings"].as_array().unwrap().is_empty(), "{g}");
    assert_eq!(doc["summary"]["red"], 1, "{doc}");
    assert_eq!(doc["summary"]["yellow"], 1, "{doc}");
    assert_eq!(doc["summary"]["green"], 1, "{doc}");
}
