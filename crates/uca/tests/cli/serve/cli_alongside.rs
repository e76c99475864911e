//! The CLI on the CA directory while `uca serve` runs on it: `uca issue`, `uca list`, `uca
//! revoke` of an ACME certificate (the server notices it in the ledger and re-signs /crl),
//! `uca crl`, `uca acme accounts/orders`; and the server's plain endpoints (/ca.crt, /healthz,
//! /crl) judged by curl and openssl.

use std::time::Duration;

use crate::support::*;

/// `curl -q -sS URL` trusting only the CA, with `extra` arguments; asserts success.
fn get(lab: &AcmeLab, path: &str, extra: &[&str]) -> TextOutput {
    let out = curl(&lab.server.url(path), &lab.ca_cert(), None, extra);
    assert!(out.status.success(), "GET /{path}: {}", out.all());
    out
}

/// The server's endpoints: /ca.crt is DIR/ca.crt byte for byte, /healthz says ok, /crl is a
/// DER CRL (application/pkix-crl) that openssl verifies against the CA.
#[test]
fn ca_crt_healthz_and_crl_endpoints() {
    let lab = AcmeLab::start(&[]);
    let chain = lab.path("served-ca.crt");
    get(&lab, "ca.crt", &["-o", chain.utf8()]);
    assert_eq!(
        read_bytes(&chain),
        read_bytes(&lab.ca_cert()),
        "/ca.crt differs from DIR/ca.crt"
    );

    let out = get(&lab, "healthz", &[]);
    assert_eq!(out.stdout.trim(), "ok", "/healthz: {}", out.all());

    let der = lab.path("served.crl");
    let out = get(
        &lab,
        "crl",
        &["-o", der.utf8(), "-w", "%{http_code} %{content_type}"],
    );
    assert_eq!(
        out.stdout.trim(),
        "200 application/pkix-crl",
        "{}",
        out.all()
    );
    let verified = openssl_crl_verify(&der, &lab.ca_cert(), true);
    assert!(
        verified.status.success() && verified.stderr.contains("verify OK"),
        "/crl does not verify against the CA: {}",
        verified.all()
    );
}

/// While the server runs: lego obtains a certificate, `uca issue` works beside it, `uca list`
/// shows both (the ACME one with its account and order), `uca acme accounts/orders --json`
/// name the same account and order, `uca revoke SERIAL` reaches /crl within 10 s (the server
/// watches the ledger) and `uca crl` lists it too.
#[test]
fn cli_commands_work_while_the_server_runs() {
    let lab = AcmeLab::start(&[]);
    let ca = lab.ca_cert();
    let http = format!("127.0.0.1:{}", lab.http01);
    let out = lab.lego(
        "lego",
        &[
            "--domains",
            "cli.test",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
        &[],
    );
    assert_ok(&out, &lab.server, "lego run");
    let (cert, _) = lab.lego_files("lego", "cli.test");
    let serial = judge_cert(&ca, &cert, &["DNS:cli.test"]);
    let row = lab.acme_row(&serial);

    // uca issue beside the server (the CA lock is only held for one write at a time).
    let out = lab.env.uca().args(["issue", "x"]).output().unwrap();
    expect(&out, 0);
    let x = lab.env.files("x");
    let x_serial = judge_cert(&ca, &x.cert, &["DNS:x"]);
    served_by_openssl(lab.env.tmp.path(), &x.fullchain, &x.key, "x", &ca);

    // uca list: both; the JSON tells where each came from (the table has no source column).
    let rows = lab.ledger();
    let cli_row = rows
        .iter()
        .find(|r| {
            r["serial"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(&x_serial))
        })
        .unwrap_or_else(|| panic!("uca issue's certificate is not listed: {rows:#?}"));
    assert_eq!(cli_row["source"], "issue", "{cli_row:#}");
    assert!(cli_row.get("acme").is_none(), "{cli_row:#}");
    let out = lab.env.uca().arg("list").output().unwrap();
    let text = expect(&out, 0);
    for want in ["cli.test", &serial.to_lowercase(), &x_serial.to_lowercase()] {
        assert!(text.contains(want), "uca list misses {want}:\n{text}");
    }

    // uca acme accounts / orders: the account and the order of the ledger row.
    let account = row["acme"]["account"].as_str().unwrap();
    let order = row["acme"]["order"].as_str().unwrap();
    let accounts = lab.env.json(&["acme", "accounts"]);
    let found = accounts["accounts"]
        .as_array()
        .expect("accounts[]")
        .iter()
        .find(|a| a["id"] == account)
        .unwrap_or_else(|| panic!("uca acme accounts does not list {account}: {accounts:#}"));
    assert_eq!(found["status"], "valid", "{found:#}");
    assert_eq!(found["contact"][0], format!("mailto:{EMAIL}"), "{found:#}");
    let orders = lab.env.json(&["acme", "orders", "--account", account]);
    let found = orders["orders"]
        .as_array()
        .expect("orders[]")
        .iter()
        .find(|o| o["id"] == order)
        .unwrap_or_else(|| panic!("uca acme orders does not list {order}: {orders:#}"));
    assert_eq!(found["status"], "valid", "{found:#}");
    assert_eq!(found["account"], account, "{found:#}");
    assert_eq!(
        found["identifiers"],
        serde_json::json!(["cli.test"]),
        "{found:#}"
    );
    assert!(
        found["certificate"]
            .as_str()
            .is_some_and(|c| c.eq_ignore_ascii_case(&serial)),
        "{found:#}"
    );

    // uca revoke of the ACME certificate, by serial: the server notices within 10 s.
    assert!(!lab.served_crl_serials().contains(&serial));
    let out = lab
        .env
        .uca()
        .args([
            "revoke",
            &serial.to_lowercase(),
            "--reason",
            "keyCompromise",
        ])
        .output()
        .unwrap();
    expect(&out, 0);
    let waited = lab.wait_crl_lists(&serial, Duration::from_secs(12));
    assert!(
        waited <= Duration::from_secs(11),
        "the server took {waited:?}"
    );
    assert_eq!(lab.acme_row(&serial)["status"], "revoked");
    let text = lab.served_crl_text();
    assert_eq!(
        crl_reason(&text, &serial).as_deref(),
        Some("Key Compromise"),
        "{text}"
    );

    // uca crl beside the server: its CRL lists the serial too.
    let der = lab.path("cli.crl");
    let out = lab
        .env
        .uca()
        .args(["crl", "--der", "--out", der.utf8()])
        .output()
        .unwrap();
    expect(&out, 0);
    assert!(
        crl_serials(&der).contains(&serial),
        "uca crl misses {serial}"
    );
    let verified = openssl_crl_verify(&der, &ca, true);
    assert!(verified.status.success(), "{}", verified.all());

    // uca acme prune beside the server: nothing is dead and the certificate has not expired,
    // so the valid order stays, even with no grace at all.
    let pruned = lab
        .env
        .json(&["acme", "prune", "--older-than", "0", "--expired-for", "0"]);
    assert_eq!(pruned["orders"], 0, "{pruned:#}");
    assert_eq!(pruned["certificates"], 0, "{pruned:#}");
    let orders = lab.env.json(&["acme", "orders", "--account", account]);
    assert!(
        orders["orders"]
            .as_array()
            .expect("orders[]")
            .iter()
            .any(|o| o["id"] == order),
        "{orders:#}"
    );
    let out = lab
        .env
        .uca()
        .args(["acme", "prune", "--expired-for", "soon"])
        .output()
        .unwrap();
    expect(&out, 2);
    let out = TextOutput::from(&out);
    assert!(
        out.stderr.contains("--expired-for") && out.stderr.contains("hint"),
        "{}",
        out.all()
    );

    // The server still answers afterwards.
    assert_eq!(get(&lab, "healthz", &[]).stdout.trim(), "ok");
}
