//! Real mutual-TLS handshakes with uca certificates, judged by independent implementations:
//! `openssl s_server` / `openssl s_client` (OpenSSL's verifier and TLS stack) and `curl`.
//!
//! Every server binds 127.0.0.1 on a free port, is waited for by its "ACCEPT" line (no sleeps),
//! and is killed on drop, so a failing assertion never leaves a process behind. Every client
//! runs under a hard timeout.
//!
//! OpenSSL notes (3.0.x, default config), checked by these tests:
//! - Ed25519 leaf certificates work in TLS 1.3 AND in TLS 1.2 (RFC 8422 EdDSA in TLS 1.2 is
//!   supported by OpenSSL ≥ 1.1.1); it is not TLS-1.3-only.
//! - In TLS 1.3 the client finishes its handshake before the server has judged the client
//!   certificate, so a refused client only learns of it from the alert that follows; the tests
//!   therefore send an HTTP request (`-ign_eof`) and require the `-www` answer, which the
//!   server sends only after accepting the client.
//! - `s_server -verify_return_error` enforces the sslclient purpose (EKU clientAuth) on client
//!   certificates ("unsuitable certificate purpose", alert 43 "unsupported certificate"), and
//!   `s_client` / curl enforce sslserver on server certificates.

use crate::support::*;

/// Asserts a complete mutual-TLS exchange: both sides verified (0), the server answered, its
/// page shows our client certificate and the expected protocol.
fn assert_mutual_ok(server: &OpensslServer, out: &TextOutput, client: &Issued, protocol: &str) {
    let ctx = || format!("{}\n--- server log:\n{}", out.all(), server.log());
    assert!(out.status.success(), "s_client failed:\n{}", ctx());
    assert!(
        out.stdout.contains("Verify return code: 0 (ok)"),
        "client did not verify the server:\n{}",
        ctx()
    );
    let page = out
        .www_page()
        .unwrap_or_else(|| panic!("server did not answer the request:\n{}", ctx()));
    // The page is the server's view: its session (our protocol, its verify result of our
    // certificate) and the client certificate it received.
    assert!(
        page.contains(&format!("Protocol  : {protocol}")),
        "{}",
        ctx()
    );
    assert!(
        page.contains("Verify return code: 0 (ok)"),
        "server did not verify the client:\n{}",
        ctx()
    );
    assert!(page.contains("Client certificate"), "{}", ctx());
    assert!(
        page.contains(&format!("Subject: CN={}", client.name)),
        "{}",
        ctx()
    );
    let log = server.wait_log(out, &format!("depth=0 CN = {}", client.name));
    assert!(!log.contains("verify error"), "{}", ctx());
}

/// Asserts the server refused the client: no answer, a failing s_client, `server_log` in the
/// server's log and `client_alert` in the client's errors.
fn assert_refused(server: &OpensslServer, out: &TextOutput, server_log: &str, client_alert: &str) {
    let ctx = || format!("{}\n--- server log:\n{}", out.all(), server.log());
    assert!(
        !out.status.success(),
        "s_client succeeded but should not have:\n{}",
        ctx()
    );
    assert!(
        out.www_page().is_none(),
        "server answered a refused client:\n{}",
        ctx()
    );
    server.wait_log(out, server_log);
    assert!(
        out.stderr.contains(client_alert),
        "client did not get alert {client_alert:?}:\n{}",
        ctx()
    );
}

/// Issues a `server`-profile and a `client`-profile certificate with `key` from one fresh CA and
/// runs full mutual-TLS exchanges for every protocol version in `versions`.
fn mutual_tls_with_key(key: &str, versions: &[(&str, &str)], sig_type: &str) {
    let env = TempCa::new();
    env.init_plain(&[]);
    let server_leaf = env.issue("rmq1", &["--profile", "server", "--key", key]);
    let client_leaf = env.issue("agent", &["--profile", "client", "--key", key]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
    for (flag, protocol) in versions {
        let out = server.s_client(&client_leaf, &ca, "rmq1", flag, &[]);
        assert_mutual_ok(&server, &out, &client_leaf, protocol);
        assert!(
            out.stdout
                .contains(&format!("Peer signature type: {sig_type}")),
            "{key} {flag}:\n{}",
            out.all()
        );
    }
}

const BOTH_VERSIONS: &[(&str, &str)] = &[("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")];

/// Server and client certificates of every key type complete mutual TLS 1.3 and 1.2 with
/// OpenSSL, signing the handshake with their key: ECDSA (EC P-256, P-384), Ed25519 (in TLS 1.2
/// too: OpenSSL >= 1.1.1, RFC 8422) and RSA-PSS (RSA-2048).
#[test]
fn mtls_openssl_every_key_type_tls13_and_tls12() {
    let cases = [
        ("ec-p256", "ECDSA"),
        ("ec-p384", "ECDSA"),
        ("ed25519", "ed25519"),
        ("rsa-2048", "RSA-PSS"),
    ];
    each_case_at_once(cases.map(|(key, sig)| (key, (key, sig))), |(key, sig)| {
        mutual_tls_with_key(key, BOTH_VERSIONS, sig)
    });
}

/// An RSA server certificate also serves legacy static-RSA key exchange (TLS 1.2
/// AES128-GCM-SHA256), which needs keyEncipherment in its key usage.
#[test]
fn mtls_openssl_rsa_static_key_exchange_tls12() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let server_leaf = env.issue("legacy1", &["--profile", "server", "--key", "rsa-2048"]);
    let client_leaf = env.issue("agent", &["--profile", "client", "--key", "rsa-2048"]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
    let out = server.s_client(
        &client_leaf,
        &ca,
        "legacy1",
        "-tls1_2",
        &["-cipher", "AES128-GCM-SHA256"],
    );
    assert_mutual_ok(&server, &out, &client_leaf, "TLSv1.2");
    assert!(
        out.www_page()
            .is_some_and(|p| p.contains("Cipher    : AES128-GCM-SHA256")),
        "{}",
        out.all()
    );
}

/// A server trusting only its own uca CA refuses a client certificate from another uca CA.
#[test]
fn mtls_openssl_refuses_client_cert_from_another_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&[]);
    let server_leaf = env.issue("rmq1", &[]);
    let good = env.issue("agent", &["--profile", "client"]);
    // Same name and profile, different CA: only the issuer differs.
    let foreign = other.issue("agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
    for (flag, protocol) in BOTH_VERSIONS {
        // Control: the same server accepts its own CA's client.
        let ok = server.s_client(&good, &ca, "rmq1", flag, &[]);
        assert_mutual_ok(&server, &ok, &good, protocol);
        let out = server.s_client(&foreign, &ca, "rmq1", flag, &[]);
        assert_refused(
            &server,
            &out,
            "verify error:num=20:unable to get local issuer certificate",
            "alert unknown ca",
        );
    }
}

/// A client trusting only its uca CA refuses a server certificate from another uca CA.
#[test]
fn mtls_openssl_client_refuses_server_cert_from_another_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&[]);
    let impostor = other.issue("rmq1", &[]);
    let client_leaf = env.issue("agent", &["--profile", "client"]);
    // The impostor server trusts our CA for clients, so only the client's check can fail.
    let server = OpensslServer::start(env.tmp.path(), &impostor, Some(&env.ca_cert()), &[]);
    let out = server.s_client(&client_leaf, &env.ca_cert(), "rmq1", "-tls1_3", &[]);
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.www_page().is_none(), "{}", out.all());
    assert!(
        out.stdout
            .contains("Verify return code: 20 (unable to get local issuer certificate)"),
        "{}",
        out.all()
    );
    let curl = server.curl("rmq1", &env.ca_cert(), Some(&client_leaf));
    assert_eq!(curl.status.code(), Some(60), "{}", curl.all());
}

/// OpenSSL's verifier honours uca profiles: server-only, client-only and code-signing
/// certificates pass exactly the purposes their EKU allows; `both` passes both.
#[test]
fn profiles_map_to_openssl_purposes() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let ca = env.ca_cert();
    let cases = [
        ("web1", "server", true, false),
        ("agent", "client", false, true),
        ("rmq1", "both", true, true),
        ("signer", "code-signing", false, false),
    ];
    for (name, profile, server_ok, client_ok) in cases {
        let leaf = env.issue(name, &["--profile", profile]);
        for (purpose, expect) in [("sslserver", server_ok), ("sslclient", client_ok)] {
            let out = run(
                "openssl",
                &[
                    "verify",
                    "-CAfile",
                    ca.utf8(),
                    "-purpose",
                    purpose,
                    leaf.cert.utf8(),
                ],
            );
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                out.status.success(),
                expect,
                "{profile} cert, -purpose {purpose}:\n{text}"
            );
            if !expect {
                assert!(
                    text.contains("unsuitable certificate purpose"),
                    "{profile} {purpose}:\n{text}"
                );
            }
        }
    }
}

/// A `--profile server` certificate cannot log in as a TLS client: s_server rejects it for
/// its purpose (EKU lacks clientAuth), in TLS 1.3 and 1.2.
#[test]
fn mtls_openssl_refuses_server_profile_cert_as_client() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let server_leaf = env.issue("rmq1", &["--profile", "server"]);
    let server_only = env.issue("web1", &["--profile", "server"]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
    for (flag, _) in BOTH_VERSIONS {
        let out = server.s_client(&server_only, &ca, "rmq1", flag, &[]);
        assert_refused(
            &server,
            &out,
            "verify error:num=26:unsuitable certificate purpose",
            "alert unsupported certificate",
        );
    }
}

/// A `--profile client` certificate cannot act as a TLS server: s_client and curl reject it
/// (EKU lacks serverAuth) even though it chains to the trusted CA and matches the name.
#[test]
fn mtls_refuses_client_profile_cert_as_server() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let client_only_server = env.issue("agent1", &["--profile", "client"]);
    let client_leaf = env.issue("agent2", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &client_only_server, Some(&ca), &[]);
    let out = server.s_client(&client_leaf, &ca, "agent1", "-tls1_3", &[]);
    assert!(!out.status.success(), "{}", out.all());
    assert!(out.www_page().is_none(), "{}", out.all());
    assert!(
        out.stdout
            .contains("Verify return code: 26 (unsuitable certificate purpose)"),
        "{}",
        out.all()
    );
    let curl = server.curl("agent1", &ca, Some(&client_leaf));
    assert_eq!(curl.status.code(), Some(60), "{}", curl.all());
    assert!(
        curl.stderr.contains("unsuitable certificate purpose"),
        "{}",
        curl.all()
    );
}

/// curl, presenting a uca client certificate, completes mutual TLS with an OpenSSL server that
/// requires one, and the server receives that certificate; without one curl is refused.
#[test]
fn curl_mtls_with_uca_client_cert() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let server_leaf = env.issue("rmq1", &["--profile", "server"]);
    let client_leaf = env.issue("agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
    let out = server.curl("rmq1", &ca, Some(&client_leaf));
    assert!(
        out.status.success(),
        "{}\n--- server log:\n{}",
        out.all(),
        server.log()
    );
    assert!(
        out.stdout.contains("Client certificate") && out.stdout.contains("Subject: CN=agent"),
        "{}",
        out.all()
    );
    // The server demands a certificate: an anonymous curl gets no page.
    let anon = server.curl("rmq1", &ca, None);
    assert!(!anon.status.success(), "{}", anon.all());
    assert!(
        !anon.stdout.contains("Client certificate"),
        "{}",
        anon.all()
    );
    server.wait_log(&anon, "peer did not return a certificate");
}

/// curl's hostname check follows the SANs: the default rule makes `rmq1` answer as `rmq1` and
/// `rmq` but not as `rmq2`, nor as 127.0.0.1 (no IP SAN unless asked); `--san 127.0.0.1` yields
/// an IP SAN that curl accepts for `https://127.0.0.1:PORT/`, and names outside the SANs still
/// fail.
#[test]
fn curl_hostname_check_follows_the_sans() {
    // (case, server NAME, its issue arguments, hosts that pass, hosts that fail, and the
    // words curl must print for those)
    type Case = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        Option<&'static str>,
    );
    let cases: [(&str, Case); 2] = [
        (
            "the default SAN rule",
            (
                "rmq1",
                &[],
                &["rmq1", "rmq"],
                &["rmq2", "127.0.0.1"],
                Some("no alternative certificate subject name matches"),
            ),
        ),
        (
            "an IP SAN",
            (
                "web1",
                &["--profile", "server", "--san", "127.0.0.1"],
                &["127.0.0.1", "web1"],
                &["web2"],
                None,
            ),
        ),
    ];
    each_case_at_once(cases, |(name, args, good, bad, words)| {
        let env = TempCa::new();
        env.init_plain(&[]);
        let server_leaf = env.issue(name, args);
        let client_leaf = env.issue("agent", &["--profile", "client"]);
        let ca = env.ca_cert();
        let server = OpensslServer::start(env.tmp.path(), &server_leaf, Some(&ca), &[]);
        for host in good {
            let out = server.curl(host, &ca, Some(&client_leaf));
            assert!(
                out.status.success(),
                "as {host}:\n{}\n--- server log:\n{}",
                out.all(),
                server.log()
            );
            assert!(out.stdout.contains("Subject: CN=agent"), "{}", out.all());
        }
        for host in bad {
            let out = server.curl(host, &ca, Some(&client_leaf));
            assert_eq!(
                out.status.code(),
                Some(60),
                "as {host} must fail the hostname check:\n{}",
                out.all()
            );
            if let Some(words) = words {
                assert!(out.stderr.contains(words), "{}", out.all());
            }
        }
    });
}
