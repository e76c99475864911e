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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A leaf certificate and its key as written by `uca issue`.
struct Leaf {
    name: String,
    cert: PathBuf,
    key: PathBuf,
}

/// `uca issue NAME ARGS...`, asserting success; returns the written files.
fn issue(env: &Env, name: &str, args: &[&str]) -> Leaf {
    env.uca()
        .arg("issue")
        .arg(name)
        .args(args)
        .assert()
        .success();
    Leaf {
        name: name.to_string(),
        cert: env.issued(name, "cert.pem"),
        key: env.issued(name, "key.pem"),
    }
}

/// A running `openssl s_server -www` that requires a client certificate from the CA in `ca`.
struct Server {
    port: u16,
    log: PathBuf,
    _child: KillOnDrop,
}

impl Server {
    /// Starts `openssl s_server` on 127.0.0.1 with `leaf` as its identity, requiring and
    /// verifying client certificates against `ca` only (no system trust store). Retries on
    /// another port if the chosen one was taken between `free_port()` and the bind.
    fn start(dir: &Path, leaf: &Leaf, ca: &Path, extra: &[&str]) -> Server {
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.join(format!("s_server-{port}-{attempt}.log"));
            let file = std::fs::File::create(&log).expect("create log");
            let accept = format!("127.0.0.1:{port}");
            let child = Command::new("openssl")
                .args([
                    "s_server",
                    "-accept",
                    &accept,
                    "-cert",
                    s(&leaf.cert),
                    "-key",
                    s(&leaf.key),
                ])
                .args(["-CAfile", s(ca), "-no-CApath", "-no-CAstore"])
                .args(["-Verify", "1", "-verify_return_error", "-www"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("clone log"))
                .stderr(file)
                .spawn()
                .expect("cannot run openssl s_server (is openssl installed?)");
            let mut child = KillOnDrop(child);
            let deadline = Instant::now() + TIMEOUT;
            loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("ACCEPT") {
                    return Server {
                        port,
                        log,
                        _child: child,
                    };
                }
                if child.0.try_wait().expect("try_wait").is_some() {
                    // Port stolen, or a bad argument: retry, and report the log if all fail.
                    if attempt == 4 {
                        panic!("openssl s_server exited before listening:\n{text}");
                    }
                    break;
                }
                if Instant::now() > deadline {
                    panic!("openssl s_server did not listen within {TIMEOUT:?}:\n{text}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        unreachable!()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server log written since `out`'s client started, once it contains `needle` (its
    /// stderr is written while the client is already reporting); fails the test if it never does.
    fn wait_log(&self, out: &Out, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self
                .log()
                .get(out.log_from..)
                .unwrap_or_default()
                .to_string();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                panic!("s_server log never showed {needle:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `openssl s_client` with `client` as its certificate, trusting only `ca`, asking for the
    /// `-www` page over TLS `version` ("-tls1_3" / "-tls1_2") plus `extra` args.
    fn s_client(
        &self,
        client: &Leaf,
        ca: &Path,
        servername: &str,
        version: &str,
        extra: &[&str],
    ) -> Out {
        let connect = format!("127.0.0.1:{}", self.port);
        let mut args = vec![
            "s_client",
            "-connect",
            &connect,
            "-servername",
            servername,
            version,
            "-CAfile",
            s(ca),
            "-no-CApath",
            "-no-CAstore",
            "-verify_return_error",
            "-cert",
            s(&client.cert),
            "-key",
            s(&client.key),
            "-ign_eof",
        ];
        args.extend_from_slice(extra);
        let log_from = self.log().len();
        Out {
            log_from,
            ..run_timeout("openssl", &args, HTTP_GET)
        }
    }

    /// `curl -q` (no curlrc, no proxy) fetching `https://HOST:PORT/`, with `host` resolved to
    /// 127.0.0.1, trusting `ca`, presenting `client` if given; prints the body on stdout.
    fn curl(&self, host: &str, ca: &Path, client: Option<&Leaf>) -> Out {
        let url = format!("https://{host}:{}/", self.port);
        let resolve = format!("{host}:{}:127.0.0.1", self.port);
        let mut args = vec![
            "-q",
            "-sS",
            "--noproxy",
            "*",
            "--max-time",
            "10",
            "--cacert",
            s(ca),
        ];
        if host.parse::<std::net::IpAddr>().is_err() {
            args.extend_from_slice(&["--resolve", &resolve]);
        }
        if let Some(c) = client {
            args.extend_from_slice(&["--cert", s(&c.cert), "--key", s(&c.key)]);
        }
        args.push(&url);
        let log_from = self.log().len();
        Out {
            log_from,
            ..run_timeout("curl", &args, b"")
        }
    }
}

/// Asserts a complete mutual-TLS exchange: both sides verified (0), the server answered, its
/// page shows our client certificate and the expected protocol.
fn assert_mutual_ok(server: &Server, out: &Out, client: &Leaf, protocol: &str) {
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
fn assert_refused(server: &Server, out: &Out, server_log: &str, client_alert: &str) {
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
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(&env, "rmq1", &["--profile", "server", "--key", key]);
    let client_leaf = issue(&env, "agent", &["--profile", "client", "--key", key]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
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

/// EC P-256 server and client certificates complete mutual TLS 1.3 and 1.2 with OpenSSL.
#[test]
fn mtls_openssl_ec_p256_tls13_and_tls12() {
    mutual_tls_with_key("ec-p256", BOTH_VERSIONS, "ECDSA");
}

/// EC P-384 server and client certificates complete mutual TLS 1.3 and 1.2 with OpenSSL.
#[test]
fn mtls_openssl_ec_p384_tls13_and_tls12() {
    mutual_tls_with_key("ec-p384", BOTH_VERSIONS, "ECDSA");
}

/// Ed25519 certificates complete mutual TLS 1.3 and (OpenSSL ≥ 1.1.1, RFC 8422) TLS 1.2.
#[test]
fn mtls_openssl_ed25519_tls13_and_tls12() {
    mutual_tls_with_key("ed25519", BOTH_VERSIONS, "ed25519");
}

/// RSA-2048 certificates complete mutual TLS 1.3 and 1.2 (RSA-PSS handshake signatures).
#[test]
fn mtls_openssl_rsa_2048_tls13_and_tls12() {
    mutual_tls_with_key("rsa-2048", BOTH_VERSIONS, "RSA-PSS");
}

/// An RSA server certificate also serves legacy static-RSA key exchange (TLS 1.2
/// AES128-GCM-SHA256), which needs keyEncipherment in its key usage.
#[test]
fn mtls_openssl_rsa_static_key_exchange_tls12() {
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(
        &env,
        "legacy1",
        &["--profile", "server", "--key", "rsa-2048"],
    );
    let client_leaf = issue(&env, "agent", &["--profile", "client", "--key", "rsa-2048"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
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
    let env = Env::new();
    env.init_plain(&[]);
    let other = Env::new();
    other.init_plain(&[]);
    let server_leaf = issue(&env, "rmq1", &[]);
    let good = issue(&env, "agent", &["--profile", "client"]);
    // Same name and profile, different CA: only the issuer differs.
    let foreign = issue(&other, "agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
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
    let env = Env::new();
    env.init_plain(&[]);
    let other = Env::new();
    other.init_plain(&[]);
    let impostor = issue(&other, "rmq1", &[]);
    let client_leaf = issue(&env, "agent", &["--profile", "client"]);
    // The impostor server trusts our CA for clients, so only the client's check can fail.
    let server = Server::start(env.tmp.path(), &impostor, &env.ca_cert(), &[]);
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
    let env = Env::new();
    env.init_plain(&[]);
    let ca = env.ca_cert();
    let cases = [
        ("web1", "server", true, false),
        ("agent", "client", false, true),
        ("rmq1", "both", true, true),
        ("signer", "code-signing", false, false),
    ];
    for (name, profile, server_ok, client_ok) in cases {
        let leaf = issue(&env, name, &["--profile", profile]);
        for (purpose, expect) in [("sslserver", server_ok), ("sslclient", client_ok)] {
            let out = run(
                "openssl",
                &[
                    "verify",
                    "-CAfile",
                    s(&ca),
                    "-purpose",
                    purpose,
                    s(&leaf.cert),
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
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(&env, "rmq1", &["--profile", "server"]);
    let server_only = issue(&env, "web1", &["--profile", "server"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
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
    let env = Env::new();
    env.init_plain(&[]);
    let client_only_server = issue(&env, "agent1", &["--profile", "client"]);
    let client_leaf = issue(&env, "agent2", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &client_only_server, &ca, &[]);
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
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(&env, "rmq1", &["--profile", "server"]);
    let client_leaf = issue(&env, "agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
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

/// The default SAN rule makes `rmq1` answer as `rmq` and `rmq1` for curl's hostname check, but
/// not as `rmq2`, nor as 127.0.0.1 (no IP SAN unless asked).
#[test]
fn curl_hostname_check_follows_san_rules() {
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(&env, "rmq1", &[]);
    let client_leaf = issue(&env, "agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
    for host in ["rmq1", "rmq"] {
        let out = server.curl(host, &ca, Some(&client_leaf));
        assert!(
            out.status.success(),
            "as {host}:\n{}\n--- server log:\n{}",
            out.all(),
            server.log()
        );
        assert!(out.stdout.contains("Subject: CN=agent"), "{}", out.all());
    }
    for host in ["rmq2", "127.0.0.1"] {
        let out = server.curl(host, &ca, Some(&client_leaf));
        assert_eq!(
            out.status.code(),
            Some(60),
            "as {host} must fail the hostname check:\n{}",
            out.all()
        );
        assert!(
            out.stderr
                .contains("no alternative certificate subject name matches"),
            "{}",
            out.all()
        );
    }
}

/// `--san 127.0.0.1` yields an IP SAN that curl accepts for `https://127.0.0.1:PORT/`.
#[test]
fn curl_accepts_ip_san() {
    let env = Env::new();
    env.init_plain(&[]);
    let server_leaf = issue(&env, "web1", &["--profile", "server", "--san", "127.0.0.1"]);
    let client_leaf = issue(&env, "agent", &["--profile", "client"]);
    let ca = env.ca_cert();
    let server = Server::start(env.tmp.path(), &server_leaf, &ca, &[]);
    for host in ["127.0.0.1", "web1"] {
        let out = server.curl(host, &ca, Some(&client_leaf));
        assert!(
            out.status.success(),
            "as {host}:\n{}\n--- server log:\n{}",
            out.all(),
            server.log()
        );
        assert!(out.stdout.contains("Subject: CN=agent"), "{}", out.all());
    }
    // Names outside the SANs still fail the check.
    let out = server.curl("web2", &ca, Some(&client_leaf));
    assert_eq!(out.status.code(), Some(60), "{}", out.all());
}
