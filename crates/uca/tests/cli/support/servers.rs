//! The servers tests talk to: any program run in the foreground on a free port with its log in
//! the test's temp dir (`Server`), `openssl s_server` (`OpensslServer`), nginx, and the
//! scriptable flaky HTTP(S) server `flaky_server.py` (`FlakyServer`). Every one binds
//! 127.0.0.1, is waited for (never slept for) and is killed on drop, so a failing assertion
//! never leaves a process behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ca::Issued;
use super::files::PathUtf8;
use super::process::{KillOnDrop, TextOutput, free_port, run_timeout, wait_for_port};

/// How long a server may take to listen, and a log line to appear.
const SERVER_TIMEOUT: Duration = Duration::from_secs(20);

/// A plain HTTP request, for `openssl s_server -www`.
pub const HTTP_GET: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// The first line of `openssl s_server -www`'s answer: only sent to an accepted client.
pub const WWW_OK: &str = "HTTP/1.0 200 ok";

/// How to tell that a freshly started server listens.
pub enum Ready {
    /// Its log shows this text (`openssl s_server` prints "ACCEPT").
    Log(&'static str),
    /// A TCP connection to its port succeeds.
    Connect,
}

/// A server running in the foreground, its stdout and stderr in `log`, killed on drop.
pub struct Server {
    pub port: u16,
    log: PathBuf,
    _child: KillOnDrop,
}

impl Server {
    /// Picks a free port, builds the server's command for it with `cmd` and waits until it
    /// listens; if it exits first (the port was taken in between), retries on another port.
    pub fn start(
        what: &str,
        dir: &Path,
        ready: Ready,
        mut cmd: impl FnMut(u16) -> Command,
    ) -> Server {
        let mut last = String::new();
        for attempt in 0..5 {
            let port = free_port();
            let log = dir.join(format!("{what}-{port}-{attempt}.log"));
            let file = std::fs::File::create(&log).expect("create log");
            let child = cmd(port)
                .stdin(Stdio::null())
                .stdout(file.try_clone().expect("clone log"))
                .stderr(file)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {what}: {e} (is it installed?)"));
            let mut child = KillOnDrop(child);
            let deadline = Instant::now() + SERVER_TIMEOUT;
            loop {
                if child.0.try_wait().expect("try_wait").is_some() {
                    last = std::fs::read_to_string(&log).unwrap_or_default();
                    break;
                }
                let up = match ready {
                    Ready::Log(needle) => std::fs::read_to_string(&log)
                        .unwrap_or_default()
                        .contains(needle),
                    Ready::Connect => TcpStream::connect(("127.0.0.1", port)).is_ok(),
                };
                // Listening, and still ours: not a stranger that took the port meanwhile.
                if up && child.0.try_wait().expect("try_wait").is_none() {
                    return Server {
                        port,
                        log,
                        _child: child,
                    };
                }
                if Instant::now() > deadline {
                    panic!(
                        "{what} did not listen within {SERVER_TIMEOUT:?}:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("{what} exited before listening, 5 times; last log:\n{last}");
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    /// The log written from byte `from` on, once it contains `needle` (a server logs while
    /// its client is already reporting); fails the test if it never does.
    pub fn wait_log(&self, from: usize, needle: &str) -> String {
        let deadline = Instant::now() + SERVER_TIMEOUT;
        loop {
            let text = self.log().get(from..).unwrap_or_default().to_string();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                panic!("the server log never showed {needle:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl TextOutput {
    /// The `openssl s_server -www` page the server sent back, only sent to an accepted client.
    pub fn www_page(&self) -> Option<&str> {
        Some(&self.stdout[self.stdout.find(WWW_OK)?..])
    }
}

/// `openssl s_server -www` on 127.0.0.1 presenting an issued certificate; with a client CA it
/// requires and verifies client certificates against that CA only (no system trust store).
pub struct OpensslServer {
    pub server: Server,
}

impl OpensslServer {
    /// Starts the server as `leaf`, requiring client certificates from `client_ca` when given,
    /// with `extra` s_server arguments (e.g. `-CRL FILE -crl_check`).
    pub fn start(
        dir: &Path,
        leaf: &Issued,
        client_ca: Option<&Path>,
        extra: &[&str],
    ) -> OpensslServer {
        let server = Server::start(
            &format!("s_server-{}", leaf.name),
            dir,
            Ready::Log("ACCEPT"),
            |port| {
                let mut c = Command::new("openssl");
                c.args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
                    .args(["-cert", leaf.cert.utf8(), "-key", leaf.key.utf8()]);
                if let Some(ca) = client_ca {
                    c.args(["-CAfile", ca.utf8(), "-no-CApath", "-no-CAstore"])
                        .args(["-Verify", "1", "-verify_return_error"]);
                }
                c.arg("-www").args(extra);
                c
            },
        );
        OpensslServer { server }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The server log written since `out`'s client started, once it contains `needle`.
    pub fn wait_log(&self, out: &TextOutput, needle: &str) -> String {
        self.server.wait_log(out.log_from, needle)
    }

    /// `openssl s_client` with `client` as its certificate, trusting only `ca`, asking for the
    /// `-www` page over TLS `version` ("-tls1_3" / "-tls1_2") plus `extra` args.
    pub fn s_client(
        &self,
        client: &Issued,
        ca: &Path,
        servername: &str,
        version: &str,
        extra: &[&str],
    ) -> TextOutput {
        let connect = format!("127.0.0.1:{}", self.port());
        let mut args = vec![
            "s_client",
            "-connect",
            &connect,
            "-servername",
            servername,
            version,
            "-CAfile",
            ca.utf8(),
            "-no-CApath",
            "-no-CAstore",
            "-verify_return_error",
            "-cert",
            client.cert.utf8(),
            "-key",
            client.key.utf8(),
            "-ign_eof",
        ];
        args.extend_from_slice(extra);
        let log_from = self.log().len();
        TextOutput {
            log_from,
            ..run_timeout("openssl", &args, HTTP_GET)
        }
    }

    /// `curl` (see [`curl`]) fetching `https://HOST:PORT/`, with `host` resolved to 127.0.0.1.
    pub fn curl(&self, host: &str, ca: &Path, client: Option<&Issued>) -> TextOutput {
        let url = format!("https://{host}:{}/", self.port());
        let resolve = format!("{host}:{}:127.0.0.1", self.port());
        let mut extra = Vec::new();
        if host.parse::<std::net::IpAddr>().is_err() {
            extra.extend_from_slice(&["--resolve", resolve.as_str()]);
        }
        let log_from = self.log().len();
        TextOutput {
            log_from,
            ..curl(&url, ca, client, &extra)
        }
    }
}

/// `curl -q` (no curlrc, no proxy) GET of `url`, trusting only `ca`, presenting `client` if
/// given, with `extra` arguments; the body is on stdout.
pub fn curl(url: &str, ca: &Path, client: Option<&Issued>, extra: &[&str]) -> TextOutput {
    let mut args = vec![
        "-q",
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        "--cacert",
        ca.utf8(),
    ];
    args.extend_from_slice(extra);
    if let Some(c) = client {
        args.extend_from_slice(&["--cert", c.cert.utf8(), "--key", c.key.utf8()]);
    }
    args.push(url);
    run_timeout("curl", &args, b"")
}

/// nginx in the foreground (`-p DIR`, pid, temp paths and log in `dir`), serving HTTPS on a
/// free port with the `ssl_*` directives given, answering every request 200 with `answer`
/// (nginx variables such as `$ssl_client_s_dn` allowed).
pub fn start_nginx(dir: &Path, ssl: &[String], answer: &str) -> Server {
    let conf = dir.join("nginx.conf");
    let t = dir.display().to_string();
    let ssl = ssl.join("\n        ");
    let nginx = if Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    };
    Server::start("nginx", dir, Ready::Connect, |port| {
        let text = format!(
            "daemon off;\n\
             master_process off;\n\
             pid {t}/nginx.pid;\n\
             error_log stderr info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   client_body_temp_path {t}/nginx-body;\n\
             \x20   proxy_temp_path {t}/nginx-proxy;\n\
             \x20   fastcgi_temp_path {t}/nginx-fastcgi;\n\
             \x20   uwsgi_temp_path {t}/nginx-uwsgi;\n\
             \x20   scgi_temp_path {t}/nginx-scgi;\n\
             \x20   server {{\n\
             \x20       listen 127.0.0.1:{port} ssl;\n\
             \x20       {ssl}\n\
             \x20       location / {{\n\
             \x20           default_type text/plain;\n\
             \x20           return 200 \"{answer}\\n\";\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n"
        );
        std::fs::write(&conf, text).expect("write nginx.conf");
        let mut c = Command::new(nginx);
        c.args(["-e", "stderr", "-p", &t, "-c", conf.utf8()]);
        c
    })
}

/// `flaky_server.py`: an HTTP(S) server whose failure share, latency, slow ramps, hanging and
/// garbage modes a test sets (at start, or later through `/control`); killed on drop.
pub struct FlakyServer {
    pub port: u16,
    _child: KillOnDrop,
}

impl FlakyServer {
    /// Starts the server on a port the kernel picks and waits for its `READY port=N` line.
    pub fn start(args: &[&str]) -> FlakyServer {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cli/support/flaky_server.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot run python3 (is it installed?)");
        let stdout = child.stdout.take().expect("stdout");
        let child = KillOnDrop(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the server never blocks on a full pipe.
            let mut rest = Vec::new();
            let _ = r.read_to_end(&mut rest);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .expect("flaky_server.py did not print READY within 15 s");
        let port: u16 = line
            .trim()
            .strip_prefix("READY port=")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("flaky_server.py {args:?} did not start: {line:?}"));
        wait_for_port(port);
        FlakyServer {
            port,
            _child: child,
        }
    }

    /// A TLS flaky server presenting `leaf`'s full chain with its key.
    pub fn tls(leaf: &Issued, extra: &[&str]) -> FlakyServer {
        FlakyServer::tls_files(&leaf.fullchain, &leaf.key, extra)
    }

    /// A TLS flaky server presenting `cert` (a chain) with `key`.
    pub fn tls_files(cert: &Path, key: &Path, extra: &[&str]) -> FlakyServer {
        let mut args = vec!["--cert", cert.utf8(), "--key", key.utf8()];
        args.extend_from_slice(extra);
        FlakyServer::start(&args)
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/health", self.port)
    }

    /// `GET /control?QUERY`: changes the behaviour; returns the server's state.
    pub fn control(&self, query: &str) -> Value {
        let (code, body) = http_get(self.port, &format!("/control?{query}"));
        assert_eq!(code, 200, "control {query}: {body}");
        serde_json::from_str(&body).expect("control answers JSON")
    }
}

/// A plain HTTP/1.1 GET to 127.0.0.1:PORT; returns (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut sock = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    sock.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    sock.read_to_end(&mut buf)
        .unwrap_or_else(|e| panic!("reading the answer to GET {path}: {e}"));
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("GET {path}: not an HTTP answer: {text:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no status code in {head:?}"));
    (code, body.to_string())
}
