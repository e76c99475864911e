//! `uca list` and `uca show`: what the ledger records matches the certificates, as openssl
//! reads them.

use crate::support::*;
use predicates::prelude::*;

/// Every ledger field the issue names is there, and matches openssl's view of the file.
#[test]
fn ledger_rows_match_the_certificates() {
    let env = TempCa::new();
    env.init(&[]);
    env.uca_pass()
        .args(["issue", "rmq1", "--san", "10.0.0.7"])
        .assert()
        .success();
    let v = env.json(&["list"]);
    let rows = v["certificates"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let root = &rows[0];
    assert_eq!(root["source"], "root");
    assert_eq!(root["profile"], "root");
    let row = &rows[1];
    for k in [
        "serial",
        "name",
        "profile",
        "key_type",
        "sans",
        "not_before",
        "not_after",
        "fingerprint_sha256",
        "status",
        "source",
        "created_at",
        "updated_at",
        "seconds_left",
    ] {
        assert!(!row[k].is_null(), "missing {k} in {row}");
    }
    assert_eq!(row["name"], "rmq1");
    assert_eq!(row["profile"], "both");
    assert_eq!(row["key_type"], "ec-p256");
    assert_eq!(row["status"], "issued");
    assert_eq!(
        row["sans"],
        serde_json::json!(["DNS:rmq1", "DNS:rmq", "IP:10.0.0.7"])
    );
    let cert = env.issued("rmq1", "cert.pem");
    assert_eq!(
        serial_of(&cert).to_lowercase(),
        row["serial"].as_str().unwrap()
    );
    assert_eq!(
        fingerprint(&cert).trim().rsplit('=').next().unwrap(),
        row["fingerprint_sha256"].as_str().unwrap()
    );
    let end = openssl(&["x509", "-in", cert.utf8(), "-noout", "-enddate"]);
    let secs = row["seconds_left"].as_i64().unwrap();
    assert!(
        (396 * 86400..=397 * 86400).contains(&secs),
        "{secs} ({end})"
    );
}

/// `show` describes the extensions in words, by NAME or by serial, and keeps the history.
#[test]
fn show_by_name_and_serial() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.uca()
        .args(["issue", "api1", "--profile", "server"])
        .assert()
        .success();
    env.uca()
        .args(["issue", "api1", "--profile", "server", "--force"])
        .assert()
        .success();
    let out = env.uca().args(["show", "api1"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for needle in [
        "Basic Constraints [critical]",
        "CA:FALSE",
        "Key Usage [critical]",
        "Digital Signature",
        "TLS Web Server Authentication",
        "Subject Alternative Name",
        "DNS:api1, DNS:api",
        "Authority Key Identifier",
        "earlier certificates for this name",
        "superseded",
    ] {
        assert!(text.contains(needle), "missing '{needle}' in:\n{text}");
    }
    let v = env.json(&["show", "api1"]);
    let serial = v["record"]["serial"].as_str().unwrap().to_string();
    assert_eq!(v["history"].as_array().unwrap().len(), 1);
    assert_eq!(v["history"][0]["status"], "superseded");
    assert_eq!(v["history"][0]["superseded_by"], serial.as_str());
    // By serial, in openssl's colon form and upper case too.
    let colon: Vec<String> = serial
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect();
    let by_serial = env.json(&["show", &colon.join(":")]);
    assert_eq!(by_serial["record"]["serial"], serial.as_str());
    assert_eq!(by_serial["certificate"]["is_ca"], false);
}

/// Without a terminal, list prints no color codes; with --status it filters.
#[test]
fn list_is_plain_text_without_a_terminal() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.uca().args(["issue", "a1", "b1"]).assert().success();
    env.uca()
        .args(["issue", "a1", "--force"])
        .assert()
        .success();
    env.uca()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("NAME").and(predicate::str::contains("\u{1b}[").not()));
    let v = env.json(&["list", "--status", "superseded"]);
    let rows = v["certificates"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "a1");
}

/// `show` of a NAME the ledger does not know is refused (exit 2, a hint) and changes nothing.
#[test]
fn show_unknown_name() {
    let env = TempCa::new();
    env.init(&[]);
    env.refuses(
        &["show", "nobody"],
        2,
        "nothing in the ledger matches 'nobody'",
    );
}
