//! The ACME harness: a running `uca serve` (`AcmeServer`), the DNS stub `pebble-challtestsrv`
//! (`ChallTestSrv`), both on loopback in one `AcmeLab` with the validation ports a client
//! answers on, a plain webroot HTTP server (`Webroot`), the real ACME clients run under a
//! timeout with a clean environment (`client_cmd`), an independent wire-level client,
//! python3-acme (`acme_client.py`: POST-as-GET downloads, newAccount without EAB), and the judges of what they obtained (`judge_cert`,
//! `served_by_openssl`, `acme_row`, `crl_serials`).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ca::{Issued, TempCa};
use super::files::{PathUtf8, write};
use super::openssl::{openssl, openssl_verify};
use super::process::{KillOnDrop, TextOutput, collect, free_port, run_within, wait_for_port};
use super::servers::{OpensslServer, curl};
use super::servers::{Ready, Server};

/// How long `uca serve` may take to print its directory URL.
const SERVE_START: Duration = Duration::from_secs(30);

/// How long one ACME client run may take (certbot alone starts in 1–3 s and sleeps 2 s).
pub const ACME_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The e-mail address every client registers with.
pub const EMAIL: &str = "a@example.test";

/// Environment variables that would make a client trust, or proxy, something else.
const LEAKY_ENV: &[&str] = &[
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "LEGO_CA_CERTIFICATES",
    "LEGO_CA_SERVER_NAME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A running `uca serve` on 127.0.0.1, its stderr gathered, killed on drop.
pub struct AcmeServer {
    pub port: u16,
    child: Option<KillOnDrop>,
    err: Arc<Mutex<String>>,
}

impl AcmeServer {
    /// `uca --dir CA serve --listen LISTEN ARGS` (loopback validation allowed); waits for its
    /// `ACME directory:` line and reads the port from `listening on`.
    pub fn start(env: &TempCa, listen: &str, args: &[String]) -> AcmeServer {
        Self::start_with_env(env, listen, args, &[])
    }

    /// [`AcmeServer::start`] with environment variables added (test hooks).
    pub fn start_with_env(
        env: &TempCa,
        listen: &str,
        args: &[String],
        vars: &[(&str, &str)],
    ) -> AcmeServer {
        let mut cmd = env.uca_std();
        cmd.envs(vars.iter().copied());
        cmd.args(["serve", "--listen", listen])
            .args(["--allow-validation-to", "127.0.0.0/8"])
            .args(["--allow-validation-to", "::1/128"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run uca serve");
        let err = collect(child.stderr.take().expect("stderr"));
        let mut child = KillOnDrop(child);
        let deadline = Instant::now() + SERVE_START;
        loop {
            let text = err.lock().unwrap().clone();
            if text.contains("ACME directory: ") {
                let port = text
                    .lines()
                    .find_map(|l| l.split("listening on ").nth(1))
                    .and_then(|a| a.trim().rsplit(':').next()?.parse().ok())
                    .unwrap_or_else(|| panic!("no 'listening on ADDR:PORT' in:\n{text}"));
                return AcmeServer {
                    port,
                    child: Some(child),
                    err,
                };
            }
            if let Some(st) = child.0.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "uca serve exited ({st}) before listening:\n{}",
                    err.lock().unwrap()
                );
            }
            if Instant::now() > deadline {
                panic!("uca serve did not listen within {SERVE_START:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The directory URL clients are given.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/acme/directory", self.port)
    }

    /// `https://127.0.0.1:PORT/PATH` (path without the leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    /// Everything the server printed on stderr so far.
    pub fn log(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").0.id()
    }

    /// Sends `signal` (e.g. "TERM", "KILL") with kill(1) and waits at most `limit` for the
    /// exit; returns the exit status and the whole log.
    pub fn signal_and_wait(
        &mut self,
        signal: &str,
        limit: Duration,
    ) -> (std::process::ExitStatus, String) {
        let pid = self.pid().to_string();
        let st = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{signal} {pid} failed");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.0.try_wait().expect("try_wait") {
                // Let the reader see the end of the pipe.
                let end = Instant::now() + Duration::from_secs(5);
                while Arc::strong_count(&self.err) > 1 && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(5));
                }
                return (status, self.log());
            }
            if Instant::now() > deadline {
                drop(child);
                panic!(
                    "uca serve did not exit within {limit:?} of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `pebble-challtestsrv` as the DNS server of validation and of lego's checks: every name
/// resolves to 127.0.0.1 / ::1; TXT records come and go through its management API.
pub struct ChallTestSrv {
    pub dns_port: u16,
    pub management_port: u16,
    _child: KillOnDrop,
}

impl ChallTestSrv {
    /// Starts it on free ports (retrying when a port was taken in between), log in `dir`.
    pub fn start(dir: &Path) -> ChallTestSrv {
        let mut last = String::new();
        for attempt in 0..5 {
            let (dns_port, management_port) = (free_port(), free_port());
            let log = dir.join(format!("challtestsrv-{attempt}.log"));
            let file = std::fs::File::create(&log).expect("create log");
            let child = Command::new("pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{management_port}")])
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("clone log"))
                .stderr(file)
                .spawn()
                .expect("cannot run pebble-challtestsrv (is it installed?)");
            let mut child = KillOnDrop(child);
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.0.try_wait().expect("try_wait").is_some() {
                    break;
                }
                let up = TcpStream::connect(("127.0.0.1", management_port)).is_ok()
                    && TcpStream::connect(("127.0.0.1", dns_port)).is_ok();
                if up && child.0.try_wait().expect("try_wait").is_none() {
                    return ChallTestSrv {
                        dns_port,
                        management_port,
                        _child: child,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("pebble-challtestsrv did not start, 5 times; last log:\n{last}");
    }

    /// `127.0.0.1:PORT` of the DNS server.
    pub fn resolver(&self) -> String {
        format!("127.0.0.1:{}", self.dns_port)
    }
}

/// A CA (unencrypted key), the DNS stub, and `uca serve` validating http-01 on `http01` and
/// tls-alpn-01 on `tlsalpn01` (ports nobody listens on until a client does), resolving through
/// the stub. Dropped in field order: the server and the stub die before the temp dir goes.
pub struct AcmeLab {
    pub server: AcmeServer,
    pub dns: ChallTestSrv,
    pub http01: u16,
    pub tlsalpn01: u16,
    /// The extra `uca serve` arguments, kept for [`AcmeLab::restart`].
    extra: Vec<String>,
    pub env: TempCa,
}

impl AcmeLab {
    /// A fresh CA and a server with `extra` arguments (e.g. `--eab required`).
    pub fn start(extra: &[&str]) -> AcmeLab {
        let env = TempCa::new();
        env.init_plain(&["--name", "ACME Test Root"]);
        AcmeLab::start_on(env, extra)
    }

    /// A server on an existing CA.
    pub fn start_on(env: TempCa, extra: &[&str]) -> AcmeLab {
        let dns = ChallTestSrv::start(env.tmp.path());
        let (http01, tlsalpn01) = (free_port(), free_port());
        let mut args: Vec<String> = vec![
            "--insecure-http01-port".into(),
            http01.to_string(),
            "--insecure-tlsalpn01-port".into(),
            tlsalpn01.to_string(),
            "--resolver".into(),
            dns.resolver(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let server = AcmeServer::start(&env, "127.0.0.1:0", &args);
        AcmeLab {
            server,
            dns,
            http01,
            tlsalpn01,
            extra: args,
            env,
        }
    }

    /// Another server with this lab's arguments, over another CA directory (a replica's copy
    /// of this one).
    pub fn start_replica(&self, env: &TempCa) -> AcmeServer {
        AcmeServer::start(env, "127.0.0.1:0", &self.extra)
    }

    /// [`AcmeLab::start_replica`] with environment variables added (test hooks).
    pub fn start_replica_with_env(&self, env: &TempCa, vars: &[(&str, &str)]) -> AcmeServer {
        AcmeServer::start_with_env(env, "127.0.0.1:0", &self.extra, vars)
    }

    /// `acme_client.py replicas` against this server and `other` (see the script).
    pub fn replica_check(&self, other: &AcmeServer) -> Value {
        let out = self.python_client(&["replicas".to_string(), other.directory()]);
        assert!(
            out.status.success(),
            "acme_client.py replicas:\n{}",
            out.all()
        );
        serde_json::from_str(out.stdout.trim())
            .unwrap_or_else(|e| panic!("replicas JSON: {e}\n{}", out.all()))
    }

    /// Starts the server again on the same port (after it was stopped or killed).
    pub fn restart(&mut self) {
        let listen = format!("127.0.0.1:{}", self.server.port);
        self.server = AcmeServer::start(&self.env, &listen, &self.extra);
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.env.ca_cert()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.env.path(rel)
    }

    /// `lego --server DIRECTORY --accept-tos --email EMAIL --path TMP/STATE ARGS`, trusting
    /// the CA through LEGO_CA_CERTIFICATES, with `envs` added.
    pub fn lego(&self, state: &str, args: &[&str], envs: &[(&str, &str)]) -> TextOutput {
        let mut c = client_cmd("lego", self.env.tmp.path());
        c.env("LEGO_CA_CERTIFICATES", self.ca_cert())
            .args(["--server", &self.server.directory(), "--accept-tos"])
            .args(["--email", EMAIL, "--path", self.path(state).utf8()])
            .args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        finish(c, "lego", ACME_CLIENT_TIMEOUT)
    }

    /// lego's files for DOMAIN under TMP/STATE: (certificate with its chain, key).
    pub fn lego_files(&self, state: &str, domain: &str) -> (PathBuf, PathBuf) {
        let base = self.path(state).join("certificates");
        let stem = domain.replace('*', "_");
        (
            base.join(format!("{stem}.crt")),
            base.join(format!("{stem}.key")),
        )
    }

    /// A script for lego's exec DNS provider (`EXEC_PATH`): `present|cleanup FQDN VALUE` →
    /// the stub's set-txt / clear-txt. Returns its path.
    pub fn lego_dns_exec(&self) -> String {
        let script = self.path("lego-dns.sh");
        write_script(
            &script,
            &format!(
                "#!/bin/sh\n\
                 case \"$1\" in\n\
                 \x20 present) what=set-txt ;;\n\
                 \x20 cleanup) what=clear-txt ;;\n\
                 \x20 *) exit 0 ;;\n\
                 esac\n\
                 exec curl -q -sS --fail --noproxy '*' --max-time 5 \\\n\
                 \x20 -d \"{{\\\"host\\\":\\\"$2\\\",\\\"value\\\":\\\"$3\\\"}}\" \\\n\
                 \x20 http://127.0.0.1:{}/$what\n",
                self.dns.management_port
            ),
        );
        script.display().to_string()
    }

    /// `certbot SUBCOMMAND --server DIRECTORY ARGS` with its config, work and logs dirs under
    /// TMP/STATE, trusting only the CA (REQUESTS_CA_BUNDLE set for this command only).
    pub fn certbot(&self, state: &str, subcommand: &str, args: &[&str]) -> TextOutput {
        let base = self.path(state);
        let mut c = client_cmd("certbot", self.env.tmp.path());
        c.env("REQUESTS_CA_BUNDLE", self.ca_cert())
            .arg(subcommand)
            .args(["--server", &self.server.directory(), "--non-interactive"])
            .args(["--config-dir", base.join("conf").utf8()])
            .args(["--work-dir", base.join("work").utf8()])
            .args(["--logs-dir", base.join("logs").utf8()])
            .args(args);
        finish(c, "certbot", ACME_CLIENT_TIMEOUT)
    }

    /// `unshare -m sh -c 'mount --bind BUNDLE /etc/ssl/certs/ca-certificates.crt && uacme …'`
    /// with `-v -o -t EC -a DIRECTORY ARGS`: uacme has no CA-bundle option (libcurl reads the
    /// system store only), so it runs in a private mount namespace where the system bundle
    /// also holds the test CA (see [`AcmeLab::system_bundle`]). Needs root.
    pub fn uacme(&self, bundle: &Path, args: &[&str]) -> TextOutput {
        let mut c = client_cmd("unshare", self.env.tmp.path());
        c.args(["-m", "sh", "-c"])
            .arg(format!(
                "mount --bind {} /etc/ssl/certs/ca-certificates.crt && exec uacme \"$@\"",
                bundle.display()
            ))
            .arg("uacme")
            .args(["-v", "-o", "-t", "EC", "-a", &self.server.directory()])
            .args(args);
        finish(c, "uacme", ACME_CLIENT_TIMEOUT)
    }

    /// A bundle of the system roots and this CA, for clients that only read the system store.
    pub fn system_bundle(&self) -> PathBuf {
        let mut all = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
        all.extend(std::fs::read(self.ca_cert()).unwrap());
        let out = self.path("system-bundle.pem");
        write(&out, &all);
        out
    }

    /// `uca --dir CA --json list` (no passphrase needed): the ledger rows.
    pub fn ledger(&self) -> Vec<Value> {
        let out = self
            .env
            .uca()
            .args(["--json", "list"])
            .output()
            .expect("run uca list");
        assert!(
            out.status.success(),
            "uca list: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("uca --json list prints JSON");
        v["certificates"]
            .as_array()
            .expect("certificates[]")
            .clone()
    }

    /// The ledger row of `serial` (openssl's upper-case hex), asserting it came from ACME
    /// with an account and an order; returns it.
    pub fn acme_row(&self, serial: &str) -> Value {
        let rows = self.ledger();
        let row = rows
            .iter()
            .find(|r| {
                r["serial"]
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(serial))
            })
            .unwrap_or_else(|| panic!("serial {serial} is not in the ledger: {rows:#?}"))
            .clone();
        assert_eq!(row["source"], "acme", "not an ACME row: {row:#}");
        for field in ["account", "order"] {
            assert!(
                row["acme"][field].as_str().is_some_and(|s| !s.is_empty()),
                "ACME row without acme.{field}: {row:#}"
            );
        }
        row
    }

    /// `acme_client.py ARGS` (python3-acme) against this server, trusting only the CA.
    fn python_client(&self, args: &[String]) -> TextOutput {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cli/support/acme_client.py"
        );
        let mut c = client_cmd("/usr/bin/python3", self.env.tmp.path());
        c.arg(script)
            .arg(&args[0])
            .arg(self.server.directory())
            .arg(self.ca_cert())
            .args(&args[1..]);
        finish(c, "acme_client.py", ACME_CLIENT_TIMEOUT)
    }

    /// An order and its certificate fetched with POST-as-GET by python3-acme, signed with
    /// `account_key` as account `account` (an id, as in the ledger): (the order's JSON, the
    /// certificate's Content-Type, the PEM chain).
    pub fn download_order(
        &self,
        account_key: &Path,
        account: &str,
        order: &str,
    ) -> (Value, String, String) {
        let out = self.python_client(&[
            "download".into(),
            account_key.utf8().into(),
            self.server.url(&format!("acme/acct/{account}")),
            self.server.url(&format!("acme/order/{order}")),
        ]);
        assert_ok(&out, &self.server, "acme_client.py download");
        let mut parts = out.stdout.splitn(3, '\n');
        let json = parts.next().unwrap_or_default();
        let order: Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("order JSON {json:?}: {e}"));
        let content_type = parts.next().unwrap_or_default().to_string();
        (
            order,
            content_type,
            parts.next().unwrap_or_default().to_string(),
        )
    }

    /// newAccount by python3-acme with a fresh key and no external account binding (it does
    /// not look at the directory's meta first): Ok(account URL) or Err(problem document).
    pub fn register_without_eab(&self) -> Result<String, Value> {
        self.register_without_eab_from(None)
    }

    /// [`AcmeLab::register_without_eab`] connecting from the local address `source` (any of
    /// 127.0.0.0/8, for limits per source address).
    pub fn register_without_eab_from(&self, source: Option<&str>) -> Result<String, Value> {
        let mut args = vec!["register".to_string()];
        args.extend(source.map(str::to_string));
        let out = self.python_client(&args);
        match out.status.code() {
            Some(0) => Ok(out.stdout.trim().to_string()),
            Some(3) => Err(
                serde_json::from_str(out.stdout.lines().next().unwrap_or_default())
                    .unwrap_or_else(|e| panic!("problem JSON: {e}\n{}", out.all())),
            ),
            _ => panic!("acme_client.py register failed:\n{}", out.all()),
        }
    }

    /// The server's `/crl` (DER) as `openssl crl -text` prints it.
    pub fn served_crl_text(&self) -> String {
        let der = self.path("served.crl");
        let out = curl(
            &self.server.url("crl"),
            &self.ca_cert(),
            None,
            &["-o", der.utf8()],
        );
        assert!(out.status.success(), "GET /crl: {}", out.all());
        openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            der.utf8(),
            "-noout",
            "-text",
        ])
    }

    /// The serials (upper-case hex, as openssl prints them) on the server's `/crl`.
    pub fn served_crl_serials(&self) -> Vec<String> {
        serials_in_crl_text(&self.served_crl_text())
    }

    /// Polls the served CRL until it lists `serial` (at most `limit`); fails the test with the
    /// last CRL and the server log otherwise.
    pub fn wait_crl_lists(&self, serial: &str, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let serials = self.served_crl_serials();
            if serials.iter().any(|s| s.eq_ignore_ascii_case(serial)) {
                return start.elapsed();
            }
            if start.elapsed() > limit {
                panic!(
                    "/crl still does not list {serial} after {limit:?}: {serials:?}\n--- server log:\n{}",
                    self.server.log()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A client command with a clean environment (no CA bundle or proxy from the developer's
/// shell, HOME in the test's temp dir) run in `cwd`.
pub fn client_cmd(program: &str, cwd: &Path) -> Command {
    let mut c = Command::new(program);
    for k in LEAKY_ENV {
        c.env_remove(k);
    }
    c.env("HOME", cwd).current_dir(cwd);
    c
}

/// Runs a client command to its end (at most `limit`, else the test fails with what it printed).
pub fn finish(cmd: Command, what: &str, limit: Duration) -> TextOutput {
    match run_within(cmd, limit) {
        Ok((out, _)) => TextOutput::from(&out),
        Err(printed) => panic!("{what} did not finish within {limit:?}:\n{printed}"),
    }
}

/// Asserts that a client run succeeded, with its output and the server log otherwise.
pub fn assert_ok(out: &TextOutput, server: &AcmeServer, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n--- uca serve log:\n{}",
        out.all(),
        server.log()
    );
}

/// The subjectAltName entries of a certificate as openssl prints them ("DNS:a", "IP
/// Address:127.0.0.1"), sorted.
pub fn sans_of(cert: &Path) -> Vec<String> {
    let text = openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-ext",
        "subjectAltName",
    ]);
    let mut sans: Vec<String> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    sans.sort();
    sans
}

/// The judge of an issued certificate: it chains to the CA for openssl (only the CA trusted),
/// and its SANs are exactly `want` ("DNS:x", "IP Address:y", any order). Returns its serial.
pub fn judge_cert(ca: &Path, cert: &Path, want: &[&str]) -> String {
    let (ok, out) = openssl_verify(ca, &[], cert);
    assert!(
        ok && out.contains(": OK"),
        "openssl verify {}: {out}",
        cert.display()
    );
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(sans_of(cert), want, "SANs of {}", cert.display());
    super::ca::serial_of(cert)
}

/// Serves `cert` (a chain) with `key` from `openssl s_server -www` and fetches the page with
/// curl as `https://HOST:PORT/` (HOST resolved to 127.0.0.1), trusting only `ca`.
pub fn served_by_openssl(dir: &Path, cert: &Path, key: &Path, host: &str, ca: &Path) {
    let leaf = Issued {
        name: host.replace('*', "star"),
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        chain: cert.to_path_buf(),
        fullchain: cert.to_path_buf(),
    };
    let server = OpensslServer::start(dir, &leaf, None, &[]);
    let out = server.curl(host, ca, None);
    assert!(
        out.status.success() && out.stdout.contains("s_server"),
        "curl https://{host}:{}/ trusting only the CA: {}",
        server.port(),
        out.all()
    );
}

/// The serials a CRL file (DER) lists, upper-case hex.
pub fn crl_serials(der: &Path) -> Vec<String> {
    serials_in_crl_text(&openssl(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        der.utf8(),
        "-noout",
        "-text",
    ]))
}

/// The serials in `openssl crl -text` output, upper-case hex.
fn serials_in_crl_text(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Serial Number: "))
        .map(|s| s.trim().to_uppercase())
        .collect()
}

/// The reason `openssl crl -text` prints under the entry of `serial` ("Key Compromise"…), if any.
pub fn crl_reason(text: &str, serial: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    lines.find(|l| {
        l.strip_prefix("Serial Number: ")
            .is_some_and(|s| s.eq_ignore_ascii_case(serial))
    })?;
    for l in lines {
        if l.starts_with("Serial Number: ") {
            return None;
        }
        if l.starts_with("X509v3 CRL Reason Code") {
            continue;
        }
        if !l.is_empty() && !l.starts_with("Revocation Date") && !l.starts_with("CRL entry") {
            return Some(l.to_string());
        }
    }
    None
}

/// A plain HTTP server of a directory on 127.0.0.1 (`python3 -m http.server`), for webroot
/// http-01 clients (dehydrated, uacme's hook); killed on drop.
pub struct Webroot {
    pub root: PathBuf,
    _child: KillOnDrop,
}

impl Webroot {
    /// Serves `root` (created) on `port`, waiting until it accepts connections.
    pub fn start(root: &Path, port: u16) -> Webroot {
        std::fs::create_dir_all(root.join(".well-known/acme-challenge")).unwrap();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .args(["--directory", root.utf8()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run python3 (is it installed?)");
        let child = KillOnDrop(child);
        wait_for_port(port);
        Webroot {
            root: root.to_path_buf(),
            _child: child,
        }
    }
}

/// A file made executable (hook scripts).
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(path, text.as_bytes());
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// HAProxy in front of `uca serve` replicas (`backends`: their ports), as the README shows it:
/// TLS ended with `bundle` (a `uca export --format haproxy` file), every request balanced round
/// robin, re-encrypted to the replicas and checked against `ca`, `/healthz` deciding which
/// replicas take requests.
pub fn acme_proxy(dir: &Path, bundle: &Path, ca: &Path, backends: &[u16]) -> Server {
    let cfg = dir.join("haproxy-acme.cfg");
    Server::start("haproxy-acme", dir, Ready::Connect, |port| {
        let mut text = format!(
            "global\n    log stderr format raw local0 info\n\n\
             defaults\n    mode http\n    log global\n    option httplog\n\
             \x20   timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n\n\
             frontend acme\n    bind 127.0.0.1:{port} ssl crt {}\n    default_backend replicas\n\n\
             backend replicas\n    balance roundrobin\n    option httpchk GET /healthz\n\
             \x20   http-check expect status 200\n    default-server inter 1s fall 2 rise 1\n",
            bundle.display()
        );
        for (i, b) in backends.iter().enumerate() {
            let name = (b'a' + i as u8) as char;
            text.push_str(&format!(
                "    server {name} 127.0.0.1:{b} ssl verify required ca-file {} check\n",
                ca.display()
            ));
        }
        std::fs::write(&cfg, text).expect("write haproxy-acme.cfg");
        let mut c = Command::new("haproxy");
        c.args(["-f", cfg.utf8(), "-db"]);
        c
    })
}

/// The load generator's binary (built by `scripts/test.sh`; built here when missing).
pub fn loadgen() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf();
    let bin = target.join("uca-loadgen");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-q", "-p", "uca-loadgen"])
            .status()
            .expect("cargo build -p uca-loadgen");
        assert!(ok.success(), "cannot build uca-loadgen");
    }
    bin
}
