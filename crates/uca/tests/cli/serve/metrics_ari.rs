//! The server's /metrics after real orders, judged by the Prometheus project's parser, and its
//! renewal information (RFC 9773) for a certificate lego obtained, with the ID computed by
//! openssl from the certificate itself.

use crate::support::prometheus::*;
use crate::support::*;

#[test]
fn metrics_count_what_lego_did_and_renewal_info_answers_for_its_certificate() {
    let lab = AcmeLab::start(&[]);
    let http = format!("127.0.0.1:{}", lab.http01);
    let out = lab.lego(
        "lego",
        &["--domains", "m.test", "--http", "--http.port", &http, "run"],
        &[],
    );
    assert_ok(&out, &lab.server, "lego http-01");
    let (cert, _) = lab.lego_files("lego", "m.test");

    let out = curl(&lab.server.url("metrics"), &lab.ca_cert(), None, &[]);
    assert!(out.status.success(), "{}", out.all());
    let m = parse_metrics(&out.stdout);
    let count = |family: &str, name: &str, labels: &[(&str, &str)]| {
        sample(&m, family, name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in {m}"))
    };
    assert_eq!(
        count(
            "uca_acme_requests",
            "uca_acme_requests_total",
            &[("resource", "new-order"), ("status", "201")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "uca_acme_requests",
            "uca_acme_requests_total",
            &[("resource", "finalize"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "uca_acme_orders",
            "uca_acme_orders_total",
            &[("status", "valid")]
        ),
        1.0
    );
    assert_eq!(
        count(
            "uca_acme_validations",
            "uca_acme_validations_total",
            &[("type", "http-01"), ("outcome", "valid")]
        ),
        1.0
    );
    assert_eq!(m["uca_acme_issuance_seconds"]["type"], "histogram");
    assert_eq!(
        count(
            "uca_acme_ledger_commit_seconds",
            "uca_acme_ledger_commit_seconds_count",
            &[]
        ),
        1.0
    );

    // ARI: the certificate's ID from its own AKI and serial, as a client computes it.
    let text = run_timeout(
        "openssl",
        &[
            "x509",
            "-in",
            cert.utf8(),
            "-noout",
            "-ext",
            "authorityKeyIdentifier",
            "-serial",
        ],
        b"",
    );
    assert!(text.status.success(), "{}", text.all());
    let hex_of = |s: &str| -> Vec<u8> {
        let clean: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
            .collect()
    };
    let aki_line = text
        .stdout
        .lines()
        .find(|l| l.trim().chars().nth(2) == Some(':') || l.contains("keyid:"))
        .unwrap_or_else(|| panic!("no AKI in {}", text.stdout));
    let aki = hex_of(aki_line.trim().trim_start_matches("keyid:"));
    let serial_line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("serial="))
        .unwrap();
    let mut serial = hex_of(serial_line.trim_start_matches("serial="));
    if serial[0] & 0x80 != 0 {
        serial.insert(0, 0);
    }
    let b64 = |b: &[u8]| {
        let out = run_timeout("basenc", &["--base64url", "-w0"], b);
        out.stdout.trim().trim_end_matches('=').to_string()
    };
    let id = format!("{}.{}", b64(&aki), b64(&serial));
    let out = curl(
        &lab.server.url(&format!("acme/renewal-info/{id}")),
        &lab.ca_cert(),
        None,
        &["-i"],
    );
    assert!(out.status.success(), "{}", out.all());
    assert!(out.stdout.contains("retry-after: 21600"), "{}", out.stdout);
    assert!(out.stdout.contains("\"suggestedWindow\""), "{}", out.stdout);
}
