//! `uca export` judged by the software that eats its files: HAProxy, nginx, curl, OpenSSL, keytool, Java.
//!
//! Every server binds 127.0.0.1 on a free port (retried on another port if the bind loses a
//! race), runs in the foreground as this test's child with its configuration, pid and logs in
//! the test's temp dir, and is killed on drop, so a failing assertion never leaves a process
//! behind. Every client runs under a hard timeout.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const P12_PASS: &str = "p12 secret";
const TRUST_PASS: &str = "changeit-too";

/// `uca export ARGS...` (clean environment plus `envs`), returning its output.
fn export_out(env: &TempCa, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = env.uca();
    c.arg("export").args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run uca export")
}

/// `uca export ARGS...`, asserting success; returns stderr (where the hints go).
fn export(env: &TempCa, args: &[&str]) -> String {
    let out = export_out(env, args, &[]);
    assert!(
        out.status.success(),
        "uca export {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `uca export --json ARGS...`, asserting success; returns the parsed document.
fn export_json(env: &TempCa, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = export_out(env, &all, &[]);
    assert!(
        out.status.success(),
        "uca export {all:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("uca export --json prints JSON")
}

/// The `{path: (role, mode)}` of a `--json` export document, checking the mode reported is the
/// mode on disk.
fn json_files(doc: &serde_json::Value) -> BTreeMap<PathBuf, (String, String)> {
    let mut out = BTreeMap::new();
    for f in doc["files"].as_array().expect("files array") {
        let path = PathBuf::from(f["path"].as_str().expect("path"));
        let role = f["role"].as_str().expect("role").to_string();
        let m = f["mode"].as_str().expect("mode").to_string();
        assert_eq!(
            format!("{:04o}", mode(&path)),
            m,
            "{} reported mode {m}",
            path.display()
        );
        out.insert(path, (role, m));
    }
    out
}

fn hints(doc: &serde_json::Value) -> Vec<String> {
    doc["hints"]
        .as_array()
        .expect("hints array")
        .iter()
        .map(|h| h.as_str().expect("hint string").to_string())
        .collect()
}

/// [`curl`] of `url` that trusts only `ca` (no CA path either) and prints a last line
/// `HTTP_CODE=NNN` after the body.
fn curl_code(url: &str, ca: &Path, client: Option<&Issued>) -> TextOutput {
    curl(
        url,
        ca,
        client,
        &["--capath", "/nonexistent", "-w", "\nHTTP_CODE=%{http_code}"],
    )
}

fn http_code(out: &TextOutput) -> Option<u16> {
    out.stdout
        .rsplit_once("HTTP_CODE=")
        .and_then(|(_, c)| c.trim().parse().ok())
}

/// HAProxy with the `haproxy` export terminates mTLS and re-encrypts with mTLS to two backends.
#[test]
fn haproxy_terminates_and_reencrypts_mutual_tls() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let backends: Vec<Issued> = ["backend1", "backend2"]
        .into_iter()
        .map(|b| env.issue(b, &["--profile", "both", "--san", "127.0.0.1"]))
        .collect();
    env.issue("proxy", &["--san", "127.0.0.1"]);
    let agent = env.issue("agent", &["--profile", "client"]);
    let ca = env.ca_cert();

    let out_dir = env.path("haproxy");
    let doc = export_json(
        &env,
        &["proxy", "--format", "haproxy", "--out", out_dir.utf8()],
    );
    assert_eq!(doc["name"], "proxy");
    assert_eq!(doc["format"], "haproxy");
    let bundle = out_dir.join("proxy.pem");
    let ca_file = out_dir.join("ca.pem");
    let files = json_files(&doc);
    assert_eq!(
        files.get(&bundle),
        Some(&("bundle".to_string(), "0600".to_string())),
        "{doc}"
    );
    assert_eq!(
        files.get(&ca_file),
        Some(&("ca".to_string(), "0644".to_string())),
        "{doc}"
    );
    assert_eq!(files.len(), 2, "{doc}");
    // The bundle is what `crt` wants: the certificate, its chain, then the key.
    let text = String::from_utf8(read_bytes(&bundle)).unwrap();
    let fullchain = String::from_utf8(read_bytes(&env.issued("proxy", "fullchain.pem"))).unwrap();
    let key = String::from_utf8(read_bytes(&env.issued("proxy", "key.pem"))).unwrap();
    assert_eq!(text, format!("{fullchain}{key}"));
    assert_eq!(read_bytes(&ca_file), read_bytes(&ca));

    // The hints, used as written (only the addresses are ours).
    let hs = hints(&doc);
    let bind_hint = format!(
        "bind :443 ssl crt {} ca-file {} verify required",
        bundle.display(),
        ca_file.display()
    );
    let server_hint = format!(
        "server app 10.0.0.1:443 ssl crt {} ca-file {} verify required",
        bundle.display(),
        ca_file.display()
    );
    assert!(hs.contains(&bind_hint), "{hs:#?}");
    assert!(hs.contains(&server_hint), "{hs:#?}");
    // The text mode prints the same hints on stderr.
    let stderr = export(
        &env,
        &["proxy", "--format", "haproxy", "--out", out_dir.utf8()],
    );
    assert!(stderr.contains(&bind_hint), "{stderr}");
    assert!(stderr.contains(&server_hint), "{stderr}");

    let b1 = OpensslServer::start(env.tmp.path(), &backends[0], Some(&ca), &[]);
    let b2 = OpensslServer::start(env.tmp.path(), &backends[1], Some(&ca), &[]);
    let cfg = env.path("haproxy.cfg");
    let write_cfg = |port: u16| {
        let bind = bind_hint.replacen("bind :443", &format!("bind 127.0.0.1:{port}"), 1);
        let server = |n: &str, p: u16| {
            server_hint.replacen(
                "server app 10.0.0.1:443",
                &format!("server {n} 127.0.0.1:{p}"),
                1,
            )
        };
        let text = format!(
            "global\n    log stderr format raw local0 info\n\n\
             defaults\n    mode http\n    log global\n    option httplog\n\
             \x20   timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\n\
             frontend fe\n    {bind}\n    default_backend be\n\n\
             backend be\n    balance roundrobin\n    {}\n    {}\n",
            server("b1", b1.port()),
            server("b2", b2.port())
        );
        std::fs::write(&cfg, text).expect("write haproxy.cfg");
    };

    // HAProxy's own configuration check accepts the exported files.
    write_cfg(free_port());
    let check = run_timeout("haproxy", &["-c", "-f", cfg.utf8()], b"");
    assert!(
        check.status.success(),
        "haproxy -c rejected:\n{}\n--- config:\n{}",
        check.all(),
        std::fs::read_to_string(&cfg).unwrap()
    );
    assert!(
        format!("{}{}", check.stdout, check.stderr).contains("Configuration file is valid"),
        "{}",
        check.all()
    );

    let proxy = Server::start("haproxy", env.tmp.path(), Ready::Connect, |port| {
        write_cfg(port);
        let mut c = Command::new("haproxy");
        c.args(["-f", cfg.utf8(), "-db"]);
        c
    });
    let ctx = || {
        format!(
            "--- haproxy:\n{}\n--- backend1:\n{}\n--- backend2:\n{}",
            proxy.log(),
            b1.log(),
            b2.log()
        )
    };
    // Two requests: round robin sends one to each backend.
    for _ in 0..2 {
        let out = curl_code(&proxy.url(), &ca, Some(&agent));
        assert!(out.status.success(), "{}\n{}", out.all(), ctx());
        assert_eq!(http_code(&out), Some(200), "{}\n{}", out.all(), ctx());
        // s_server's page shows the client certificate IT received: the proxy's, verified.
        assert!(
            out.stdout.contains("Client certificate"),
            "{}\n{}",
            out.all(),
            ctx()
        );
        assert!(
            out.stdout.contains("Subject: CN=proxy"),
            "{}\n{}",
            out.all(),
            ctx()
        );
        assert!(
            out.stdout.contains("Verify return code: 0 (ok)"),
            "{}\n{}",
            out.all(),
            ctx()
        );
    }
    // Both backends verified the proxy's certificate (s_server logs the verified chain).
    for b in [&b1, &b2] {
        b.server.wait_log(0, "depth=0 CN = proxy");
        assert!(!b.log().contains("verify error"), "{}", ctx());
    }
    // Without a client certificate HAProxy refuses the connection.
    let anon = curl_code(&proxy.url(), &ca, None);
    assert!(!anon.status.success(), "{}\n{}", anon.all(), ctx());
    assert!(
        !anon.stdout.contains("Client certificate"),
        "{}",
        anon.all()
    );
}

/// An nginx server using its `nginx` export (run with `-p TMP -c TMP/nginx.conf`): the `ssl_*`
/// lines uca printed are pasted into the `server` block as they are.
struct Nginx {
    server: Server,
    ca: PathBuf,
}

impl Nginx {
    /// Exports NAME for nginx into TMP/nginx-tls and runs nginx with the printed hints.
    fn start(env: &TempCa, name: &str) -> Nginx {
        let out_dir = env.path("nginx-tls");
        let stderr = export(env, &[name, "--format", "nginx", "--out", out_dir.utf8()]);
        let full = out_dir.join("fullchain.pem");
        let key = out_dir.join("key.pem");
        let ca = out_dir.join("client-ca.pem");
        let lines: Vec<String> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("ssl_"))
            .map(str::to_string)
            .collect();
        for want in [
            format!("ssl_certificate {};", full.display()),
            format!("ssl_certificate_key {};", key.display()),
            format!("ssl_client_certificate {};", ca.display()),
            "ssl_verify_client on;".to_string(),
        ] {
            assert!(lines.contains(&want), "missing hint {want:?} in:\n{stderr}");
        }
        // Files and modes.
        assert_eq!(
            read_bytes(&full),
            read_bytes(&env.issued(name, "fullchain.pem"))
        );
        assert_eq!(read_bytes(&key), read_bytes(&env.issued(name, "key.pem")));
        assert_eq!(read_bytes(&ca), read_bytes(&env.ca_cert()));
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&full), 0o644);
        assert_eq!(mode(&ca), 0o644);

        let server = start_nginx(
            env.tmp.path(),
            &lines,
            &format!("hello from {name} to $ssl_client_s_dn"),
        );
        Nginx { server, ca }
    }
}

/// nginx with the `nginx` export: uca client cert → 200, none → 400, another CA's cert → 400.
#[test]
fn nginx_requires_uca_client_certificates() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&[]);
    env.issue("web1", &["--profile", "server", "--san", "127.0.0.1"]);
    let good = env.issue("agent", &["--profile", "client"]);
    let foreign = other.issue("agent", &["--profile", "client"]);
    let nginx = Nginx::start(&env, "web1");
    let url = nginx.server.url();
    let ctx = || format!("--- nginx:\n{}", nginx.server.log());

    let ok = curl_code(&url, &nginx.ca, Some(&good));
    assert!(ok.status.success(), "{}\n{}", ok.all(), ctx());
    assert_eq!(http_code(&ok), Some(200), "{}\n{}", ok.all(), ctx());
    assert!(
        ok.stdout.contains("hello from web1 to CN=agent"),
        "{}",
        ok.all()
    );

    let anon = curl_code(&url, &nginx.ca, None);
    assert_eq!(http_code(&anon), Some(400), "{}\n{}", anon.all(), ctx());
    assert!(
        anon.stdout.contains("No required SSL certificate was sent"),
        "{}",
        anon.all()
    );
    assert!(!anon.stdout.contains("hello from"), "{}", anon.all());

    let bad = curl_code(&url, &nginx.ca, Some(&foreign));
    assert_eq!(http_code(&bad), Some(400), "{}\n{}", bad.all(), ctx());
    assert!(
        bad.stdout.contains("The SSL certificate error"),
        "{}",
        bad.all()
    );
    assert!(!bad.stdout.contains("hello from"), "{}", bad.all());
    assert!(
        nginx
            .server
            .log()
            .contains("client SSL certificate verify error"),
        "{}",
        ctx()
    );
}

/// `openssl pkcs12 -info` of a PKCS#12 file (OpenSSL 3, no `-legacy`), without keys.
fn p12_info(file: &Path, pass: &str) -> TextOutput {
    run_timeout(
        "openssl",
        &[
            "pkcs12",
            "-info",
            "-in",
            file.utf8(),
            "-passin",
            &format!("pass:{pass}"),
            "-nokeys",
        ],
        b"",
    )
}

fn keytool_list(file: &Path, pass: &str) -> TextOutput {
    run_timeout(
        "keytool",
        &[
            "-list",
            "-v",
            "-keystore",
            file.utf8(),
            "-storetype",
            "PKCS12",
            "-storepass",
            pass,
        ],
        b"",
    )
}

/// pkcs12 is PBES2/AES-256 + HMAC-SHA256 for OpenSSL 3 and keytool; truststore is trustedCertEntry.
#[test]
fn pkcs12_and_truststore_read_by_openssl_and_keytool() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("app1", &["--profile", "client"]);
    let p12 = env.path("app1.p12");
    export(
        &env,
        &[
            "app1",
            "--format",
            "pkcs12",
            "--out",
            p12.utf8(),
            "--password",
            P12_PASS,
        ],
    );
    assert_eq!(mode(&p12), 0o600, "a PKCS#12 file holds a key");

    let info = p12_info(&p12, P12_PASS);
    assert!(info.status.success(), "{}", info.all());
    let text = format!("{}{}", info.stdout, info.stderr);
    assert!(text.contains("MAC: sha256"), "{text}");
    assert!(
        text.contains("PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC"),
        "{text}"
    );
    assert!(
        text.contains("Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC"),
        "{text}"
    );
    assert!(text.contains("PRF hmacWithSHA256"), "{text}");
    assert!(!text.contains("RC2") && !text.contains("3DES"), "{text}");
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "{text}");
    // `-noout` (as the brief's consumer runs it) works too.
    let noout = run_timeout(
        "openssl",
        &[
            "pkcs12",
            "-info",
            "-in",
            p12.utf8(),
            "-passin",
            &format!("pass:{P12_PASS}"),
            "-nokeys",
            "-noout",
        ],
        b"",
    );
    assert!(noout.status.success(), "{}", noout.all());

    // The key and certificate inside are the issued ones.
    let key_out = env.path("p12-key.pem");
    let cert_out = env.path("p12-cert.pem");
    let pass_arg = format!("pass:{P12_PASS}");
    openssl(&[
        "pkcs12",
        "-in",
        p12.utf8(),
        "-passin",
        &pass_arg,
        "-nocerts",
        "-nodes",
        "-out",
        key_out.utf8(),
    ]);
    openssl(&[
        "pkcs12",
        "-in",
        p12.utf8(),
        "-passin",
        &pass_arg,
        "-clcerts",
        "-nokeys",
        "-out",
        cert_out.utf8(),
    ]);
    assert_eq!(
        key_pubkey(&key_out),
        key_pubkey(&env.issued("app1", "key.pem"))
    );
    // The key bag carries the friendly name NAME (keytool's alias, checked below).
    let key_text = std::fs::read_to_string(&key_out).unwrap();
    assert!(
        key_text.lines().any(|l| l.trim() == "friendlyName: app1"),
        "{key_text}"
    );
    assert_eq!(
        openssl(&[
            "x509",
            "-in",
            cert_out.utf8(),
            "-noout",
            "-fingerprint",
            "-sha256"
        ]),
        openssl(&[
            "x509",
            "-in",
            env.issued("app1", "cert.pem").utf8(),
            "-noout",
            "-fingerprint",
            "-sha256"
        ])
    );

    // keytool: one PrivateKeyEntry under alias NAME with the chain.
    let kt = keytool_list(&p12, P12_PASS);
    assert!(kt.status.success(), "{}", kt.all());
    assert!(
        kt.stdout.contains("Your keystore contains 1 entry"),
        "{}",
        kt.all()
    );
    assert!(kt.stdout.contains("Alias name: app1"), "{}", kt.all());
    assert!(
        kt.stdout.contains("Entry type: PrivateKeyEntry"),
        "{}",
        kt.all()
    );
    let chain_len: usize = kt
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Certificate chain length: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no chain length:\n{}", kt.all()));
    assert!(chain_len >= 2, "{}", kt.all());
    assert!(kt.stdout.contains("Owner: CN=app1"), "{}", kt.all());

    // Wrong passwords fail, for OpenSSL and keytool alike.
    let wrong = p12_info(&p12, "not the password");
    assert!(!wrong.status.success(), "{}", wrong.all());
    assert!(wrong.stderr.contains("Mac verify error"), "{}", wrong.all());
    let kt_wrong = keytool_list(&p12, "not the password");
    assert!(!kt_wrong.status.success(), "{}", kt_wrong.all());
    assert!(
        format!("{}{}", kt_wrong.stdout, kt_wrong.stderr).contains("password was incorrect"),
        "{}",
        kt_wrong.all()
    );

    // --password-file (first line only) and UCA_EXPORT_PASSWORD give the password too.
    let pw_file = env.path("p12.pass");
    std::fs::write(&pw_file, "from the file\nnot this line\n").unwrap();
    let p12_file = env.path("app1-file.p12");
    export(
        &env,
        &[
            "app1",
            "--format",
            "p12",
            "--out",
            p12_file.utf8(),
            "--password-file",
            pw_file.utf8(),
        ],
    );
    assert!(p12_info(&p12_file, "from the file").status.success());
    let p12_env = env.path("app1-env.p12");
    let out = export_out(
        &env,
        &["app1", "--format", "pkcs12", "--out", p12_env.utf8()],
        &[("UCA_EXPORT_PASSWORD", "from the environment")],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(p12_info(&p12_env, "from the environment").status.success());
    assert!(!p12_info(&p12_env, P12_PASS).status.success());

    // The truststore: the CA certificate as a trusted entry, no key, readable by all.
    let ts = env.path("truststore.p12");
    let doc = export_json(
        &env,
        &[
            "--format",
            "java-truststore",
            "--out",
            ts.utf8(),
            "--password",
            TRUST_PASS,
        ],
    );
    assert_eq!(doc["format"], "java-truststore");
    let files = json_files(&doc);
    assert_eq!(
        files.get(&ts).map(|f| f.0.as_str()),
        Some("truststore"),
        "{doc}"
    );
    let kt = keytool_list(&ts, TRUST_PASS);
    assert!(kt.status.success(), "{}", kt.all());
    assert!(
        kt.stdout.contains("Entry type: trustedCertEntry"),
        "{}",
        kt.all()
    );
    assert!(!kt.stdout.contains("PrivateKeyEntry"), "{}", kt.all());
    let ts_info = p12_info(&ts, TRUST_PASS);
    assert!(ts_info.status.success(), "{}", ts_info.all());
    assert!(
        ts_info.stderr.contains("PBES2, PBKDF2, AES-256-CBC"),
        "{}",
        ts_info.all()
    );
    // Java's "trusted for any purpose" bag attribute (Oracle OID), what makes it a trust anchor.
    assert!(
        ts_info.stdout.contains("2.16.840.1.113894.746875.1.1"),
        "{}",
        ts_info.all()
    );
    let ts_ca = env.path("ts-ca.pem");
    openssl(&[
        "pkcs12",
        "-in",
        ts.utf8(),
        "-passin",
        &format!("pass:{TRUST_PASS}"),
        "-nokeys",
        "-out",
        ts_ca.utf8(),
    ]);
    assert_eq!(
        openssl(&[
            "x509",
            "-in",
            ts_ca.utf8(),
            "-noout",
            "-fingerprint",
            "-sha256"
        ]),
        openssl(&[
            "x509",
            "-in",
            env.ca_cert().utf8(),
            "-noout",
            "-fingerprint",
            "-sha256"
        ])
    );
    let kt_wrong = keytool_list(&ts, "wrong");
    assert!(!kt_wrong.status.success(), "{}", kt_wrong.all());
}

/// A Java client using only the pkcs12 and java-truststore exports gets 200 from mTLS nginx.
#[test]
fn java_client_mutual_tls_with_pkcs12_and_truststore() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web1", &["--profile", "server", "--san", "127.0.0.1"]);
    env.issue("javaapp", &["--profile", "client"]);
    let ks = env.path("javaapp.p12");
    let ts = env.path("truststore.p12");
    let pw_file = env.path("ks.pass");
    std::fs::write(&pw_file, format!("{P12_PASS}\n")).unwrap();
    export(
        &env,
        &[
            "javaapp",
            "--format",
            "pkcs12",
            "--out",
            ks.utf8(),
            "--password-file",
            pw_file.utf8(),
        ],
    );
    export(
        &env,
        &[
            "--format",
            "java-truststore",
            "--out",
            ts.utf8(),
            "--password",
            TRUST_PASS,
        ],
    );

    // Compile the client while nginx starts.
    let classes = env.path("classes");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/support/MtlsClient.java");
    let javac = run_timeout("javac", &["-d", classes.utf8(), source.utf8()], b"");
    assert!(javac.status.success(), "javac failed:\n{}", javac.all());
    let nginx = Nginx::start(&env, "web1");
    let url = nginx.server.url();

    let java = |with_keystore: bool| {
        let mut args = vec![
            "-XX:+UseSerialGC".to_string(),
            "-XX:TieredStopAtLevel=1".to_string(),
            "-Djava.net.useSystemProxies=false".to_string(),
            format!("-Djavax.net.ssl.trustStore={}", ts.display()),
            "-Djavax.net.ssl.trustStoreType=PKCS12".to_string(),
            format!("-Djavax.net.ssl.trustStorePassword={TRUST_PASS}"),
        ];
        if with_keystore {
            args.push(format!("-Djavax.net.ssl.keyStore={}", ks.display()));
            args.push("-Djavax.net.ssl.keyStoreType=PKCS12".to_string());
            args.push(format!("-Djavax.net.ssl.keyStorePassword={P12_PASS}"));
        }
        args.extend([
            "-cp".to_string(),
            classes.utf8().to_string(),
            "MtlsClient".to_string(),
            url.clone(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run_timeout("java", &refs, b"")
    };
    let ok = java(true);
    let ctx = |o: &TextOutput| format!("{}\n--- nginx:\n{}", o.all(), nginx.server.log());
    assert!(ok.status.success(), "{}", ctx(&ok));
    assert!(ok.stdout.contains("status 200"), "{}", ctx(&ok));
    assert!(
        ok.stdout.contains("hello from web1 to CN=javaapp"),
        "{}",
        ctx(&ok)
    );
    let anon = java(false);
    assert!(anon.status.success(), "{}", ctx(&anon));
    assert!(anon.stdout.contains("status 400"), "{}", ctx(&anon));
    assert!(!anon.stdout.contains("hello from"), "{}", ctx(&anon));
}

/// A minimal reader for the fixed, block-style YAML uca writes: `key: value` lines, nesting by
/// indentation; returns `{"metadata/name": "..."}`-style paths ('/' joins, since keys hold dots).
fn parse_simple_yaml(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') || body == "---" {
            continue;
        }
        let indent = line.len() - body.len();
        assert!(!line.contains('\t'), "tab in YAML: {line:?}");
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let (key, value) = match body.split_once(": ") {
            Some((k, v)) => (k.to_string(), v.trim().to_string()),
            None => (
                body.strip_suffix(':')
                    .unwrap_or_else(|| panic!("not a YAML mapping line: {line:?}"))
                    .to_string(),
                String::new(),
            ),
        };
        let path: Vec<&str> = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .chain([key.as_str()])
            .collect();
        let path = path.join("/");
        assert!(
            out.insert(path.clone(), value.clone()).is_none(),
            "duplicate key {path}"
        );
        if value.is_empty() {
            stack.push((indent, key));
        }
    }
    out
}

/// base64-decodes with coreutils `base64 -d`, an independent decoder.
fn b64decode(env: &TempCa, data: &str) -> Vec<u8> {
    let f = env.path("b64.txt");
    std::fs::write(&f, data).unwrap();
    let out = run("base64", &["-d", f.utf8()]);
    assert!(out.status.success(), "base64 -d failed on {data:?}");
    out.stdout
}

/// k8s-secret is a kubernetes.io/tls Secret whose data is byte-for-byte fullchain, key and CA.
#[test]
fn k8s_secret_holds_fullchain_key_and_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &[]);
    let yaml_path = env.path("rmq1-secret.yaml");
    export(
        &env,
        &[
            "rmq1",
            "--format",
            "k8s-secret",
            "--out",
            yaml_path.utf8(),
            "--namespace",
            "messaging",
        ],
    );
    assert_eq!(mode(&yaml_path), 0o600, "the Secret holds a private key");
    let text = std::fs::read_to_string(&yaml_path).unwrap();
    let y = parse_simple_yaml(&text);
    let get = |k: &str| {
        y.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("no {k} in:\n{text}"))
    };
    assert_eq!(get("apiVersion"), "v1");
    assert_eq!(get("kind"), "Secret");
    assert_eq!(get("type"), "kubernetes.io/tls");
    assert_eq!(get("metadata/name"), "rmq1-tls");
    assert_eq!(get("metadata/namespace"), "messaging");
    let data: Vec<&String> = y.keys().filter(|k| k.starts_with("data/")).collect();
    assert_eq!(data.len(), 3, "{text}");
    assert_eq!(
        b64decode(&env, &get("data/tls.crt")),
        read_bytes(&env.issued("rmq1", "fullchain.pem"))
    );
    assert_eq!(
        b64decode(&env, &get("data/tls.key")),
        read_bytes(&env.issued("rmq1", "key.pem"))
    );
    assert_eq!(
        b64decode(&env, &get("data/ca.crt")),
        read_bytes(&env.ca_cert())
    );
    // The same bytes as a pem-dir export.
    let pem_dir = env.path("pem");
    export(
        &env,
        &["rmq1", "--format", "pem-dir", "--out", pem_dir.utf8()],
    );
    assert_eq!(
        b64decode(&env, &get("data/tls.crt")),
        read_bytes(&pem_dir.join("fullchain.pem"))
    );
    assert_eq!(
        b64decode(&env, &get("data/ca.crt")),
        read_bytes(&pem_dir.join("ca.pem"))
    );
    // The key really is the certificate's (OpenSSL's view of the decoded files).
    let crt = env.path("tls.crt");
    let key = env.path("tls.key");
    std::fs::write(&crt, b64decode(&env, &get("data/tls.crt"))).unwrap();
    std::fs::write(&key, b64decode(&env, &get("data/tls.key"))).unwrap();
    assert_eq!(cert_pubkey(&crt), key_pubkey(&key));

    // A real YAML parser agrees, where one is installed (python3 with PyYAML).
    let py = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            yaml_path.utf8(),
        ])
        .output();
    match py {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["type"], "kubernetes.io/tls");
            assert_eq!(v["metadata"]["name"], "rmq1-tls");
            assert_eq!(v["metadata"]["namespace"], "messaging");
            for k in ["tls.crt", "tls.key", "ca.crt"] {
                assert_eq!(v["data"][k], get(&format!("data/{k}")), "{k}");
            }
        }
        _ => eprintln!("python3 with PyYAML not available: line parsing only"),
    }

    // --k8s-name overrides metadata.name; without --namespace there is none.
    let named = env.path("named.yaml");
    export(
        &env,
        &[
            "rmq1",
            "--format",
            "k8s-secret",
            "--out",
            named.utf8(),
            "--k8s-name",
            "broker-certs",
        ],
    );
    let y2 = parse_simple_yaml(&std::fs::read_to_string(&named).unwrap());
    assert_eq!(
        y2.get("metadata/name").map(String::as_str),
        Some("broker-certs")
    );
    assert!(!y2.contains_key("metadata/namespace"), "{y2:#?}");
    assert_eq!(
        y2.get("type").map(String::as_str),
        Some("kubernetes.io/tls")
    );
}

fn is_root() -> bool {
    String::from_utf8_lossy(&run("id", &["-u"]).stdout).trim() == "0"
}

/// volume applies exactly the owner and modes asked for, and matches the pem-dir export.
#[test]
fn volume_owner_and_modes_exactly_as_asked() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &[]);
    let pem_dir = env.path("pem");
    let doc = export_json(
        &env,
        &["rmq1", "--format", "pem-dir", "--out", pem_dir.utf8()],
    );
    let files = json_files(&doc);
    let names = [
        "cert.pem",
        "key.pem",
        "chain.pem",
        "fullchain.pem",
        "ca.pem",
    ];
    assert_eq!(files.len(), names.len(), "{doc}");
    for n in names {
        let p = pem_dir.join(n);
        let want = if n == "key.pem" { 0o600 } else { 0o644 };
        assert_eq!(mode(&p), want, "{n}");
        assert!(files.contains_key(&p), "{n} not in {doc}");
    }
    assert_eq!(mode(&pem_dir), 0o700);
    assert_eq!(
        read_bytes(&pem_dir.join("cert.pem")),
        read_bytes(&env.issued("rmq1", "cert.pem"))
    );
    assert_eq!(
        read_bytes(&pem_dir.join("key.pem")),
        read_bytes(&env.issued("rmq1", "key.pem"))
    );
    assert_eq!(
        read_bytes(&pem_dir.join("chain.pem")),
        read_bytes(&env.issued("rmq1", "chain.pem"))
    );
    assert_eq!(
        read_bytes(&pem_dir.join("fullchain.pem")),
        read_bytes(&env.issued("rmq1", "fullchain.pem"))
    );
    assert_eq!(
        read_bytes(&pem_dir.join("ca.pem")),
        read_bytes(&env.ca_cert())
    );
    openssl(&[
        "verify",
        "-CAfile",
        pem_dir.join("ca.pem").utf8(),
        "-untrusted",
        pem_dir.join("chain.pem").utf8(),
        pem_dir.join("cert.pem").utf8(),
    ]);

    let root = is_root();
    let vol = env.path("volumes/rmq1");
    let mut args = vec![
        "rmq1",
        "--format",
        "volume",
        "--out",
        vol.utf8(),
        "--key-mode",
        "0400",
        "--cert-mode",
        "0444",
        "--dir-mode",
        "0750",
    ];
    if root {
        args.extend_from_slice(&["--owner", "1234:1234"]);
    } else {
        eprintln!("not root: --owner is not checked");
    }
    // Twice: the second export replaces files it wrote before (now owned by someone else).
    for round in 0..2 {
        let doc = export_json(&env, &args);
        assert_eq!(doc["format"], "volume");
        let files = json_files(&doc);
        assert_eq!(files.len(), names.len(), "{doc}");
        assert_eq!(mode(&vol), 0o750, "round {round}");
        let dmeta = std::fs::metadata(&vol).unwrap();
        if root {
            assert_eq!((dmeta.uid(), dmeta.gid()), (1234, 1234), "round {round}");
        }
        for n in names {
            let p = vol.join(n);
            let meta = std::fs::symlink_metadata(&p).unwrap();
            assert!(meta.file_type().is_file(), "{n} is not a plain file");
            let want = if n == "key.pem" { 0o400 } else { 0o444 };
            assert_eq!(meta.mode() & 0o7777, want, "{n}, round {round}");
            assert_eq!(
                files.get(&p).map(|f| f.1.clone()),
                Some(format!("{want:04o}")),
                "{doc}"
            );
            if root {
                assert_eq!((meta.uid(), meta.gid()), (1234, 1234), "{n}, round {round}");
            }
            assert_eq!(
                read_bytes(&p),
                read_bytes(&pem_dir.join(n)),
                "{n} differs from pem-dir"
            );
        }
        // No stray temporary files left next to them.
        let mut listed: Vec<String> = std::fs::read_dir(&vol)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        listed.sort();
        let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        want.sort();
        assert_eq!(listed, want, "round {round}");
    }
}

/// Bad exports (format, password, NAME, world-readable key mode) exit 2 and write nothing.
#[test]
fn bad_exports_exit_2_and_write_nothing() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web1", &[]);
    env.issue("gone", &[]);
    env.uca().args(["revoke", "gone"]).assert().success();
    let area = env.path("out");
    std::fs::create_dir(&area).unwrap();
    std::fs::write(area.join("keep.txt"), "untouched").unwrap();
    let before = snapshot(&area);
    let dir = area.join("new-dir");
    let file = area.join("new.p12");
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "unknown format",
            vec!["web1", "--format", "pem-zip", "--out", dir.utf8()],
            "unknown export format",
        ),
        (
            "pkcs12 without password",
            vec!["web1", "--format", "pkcs12", "--out", file.utf8()],
            "needs a password",
        ),
        (
            "truststore without password",
            vec!["--format", "java-truststore", "--out", file.utf8()],
            "needs a password",
        ),
        (
            "never issued",
            vec!["ghost", "--format", "pem-dir", "--out", dir.utf8()],
            "ghost",
        ),
        (
            "revoked",
            vec!["gone", "--format", "nginx", "--out", dir.utf8()],
            "no current certificate",
        ),
        (
            "missing NAME",
            vec!["--format", "k8s-secret", "--out", file.utf8()],
            "needs a NAME",
        ),
        (
            "world-readable key, cert mode 0600",
            vec![
                "web1",
                "--format",
                "pem-dir",
                "--out",
                dir.utf8(),
                "--key-mode",
                "0644",
                "--cert-mode",
                "0600",
            ],
            "lets everyone read the private key",
        ),
        (
            "world-readable and writable key",
            vec![
                "web1",
                "--format",
                "volume",
                "--out",
                dir.utf8(),
                "--key-mode",
                "0666",
            ],
            "lets everyone read the private key",
        ),
        (
            "world-readable key 0644 (default cert mode)",
            vec![
                "web1",
                "--format",
                "pem-dir",
                "--out",
                dir.utf8(),
                "--key-mode",
                "0644",
            ],
            "lets everyone read the private key",
        ),
        (
            "world-readable key 0604",
            vec![
                "web1",
                "--format",
                "haproxy",
                "--out",
                dir.utf8(),
                "--key-mode",
                "0604",
            ],
            "lets everyone read the private key",
        ),
    ];
    let mut failures = Vec::new();
    for (what, args, needle) in &cases {
        let out = export_out(&env, args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let after = snapshot(&area);
        if out.status.code() != Some(2) || !stderr.contains(needle) || after != before {
            failures.push(format!(
                "{what}: uca export {args:?} → {} (wanted exit 2, {needle:?}, nothing written)\n\
                 stdout: {}\nstderr: {stderr}\nwritten: {:?}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                after
                    .keys()
                    .filter(|k| !before.contains_key(*k))
                    .collect::<Vec<_>>()
            ));
            // Start the next case from a clean area.
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_file(&file);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A temp file left by an interrupted export (it may hold key material) is removed by the next
/// export into the same place, and only temp files of the files being written are touched.
#[test]
fn stale_temp_files_are_cleaned_by_the_next_export() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.uca().args(["issue", "web1"]).assert().success();
    let out = env.path("pd");
    std::fs::create_dir(&out).unwrap();
    let stale = out.join(".key.pem.tmp-123-abcdef");
    let other = out.join(".notes.txt.tmp-1-2");
    std::fs::write(&stale, "stale key material").unwrap();
    std::fs::write(&other, "someone else's").unwrap();
    env.uca()
        .args(["export", "web1", "--format", "pem-dir", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(!stale.exists(), "the stale temp key was left behind");
    assert!(other.exists(), "a temp file of another file was removed");
}
