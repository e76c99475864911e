//! The attackers of `uca serve` and their judges (serve/abuse.rs): a blocking HTTPS/1.1 client
//! on rustls that sends exactly the bytes it is told, when it is told (`Https`), raw TCP from any
//! loopback source address (`tcp_from`), Ed25519 JWSes signed by hand, well or badly
//! (`JwsKey`), a bare ACME client for what lego would not do (`Wire`), attacker threads that
//! stop by themselves (`under_attack`), the server's resident memory (`Memory`), a timed lego
//! order (`timed_lego`) and the CA's state before and after (`CaState`).

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{Value, json};

use super::acme::{AcmeLab, assert_ok, judge_cert};

/// How long any one read or write of an attacker or judge may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(15);

/// The longest an attack may run: every attacker stops by itself before this.
pub const ATTACK_LIMIT: Duration = Duration::from_secs(15);

/// A TLS client configuration trusting only `ca` (the lab's DIR/ca.crt).
pub fn tls_config(ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read the CA certificate") {
        roots
            .add(cert.expect("CA certificate PEM"))
            .expect("add root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The name every TLS client of the lab checks: the server's certificate names 127.0.0.1.
fn server_name() -> ServerName<'static> {
    ServerName::try_from("127.0.0.1".to_string()).expect("server name")
}

/// The first TLS record a client sends: its ClientHello, as rustls writes it for `config`.
pub fn client_hello(config: &Arc<ClientConfig>) -> Vec<u8> {
    let mut conn = ClientConnection::new(config.clone(), server_name()).expect("client");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("write ClientHello");
    }
    hello
}

/// A TCP connection to 127.0.0.1:`port` from `src` (any 127.0.0.0/8 address, so that a rate
/// limit per source address sees another client), blocking, with [`IO_TIMEOUT`] on reads and
/// writes.
pub fn tcp_from(src: Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    let stream = if src == Ipv4Addr::LOCALHOST {
        TcpStream::connect(("127.0.0.1", port))?
    } else {
        // std cannot bind before connecting; tokio's TcpSocket can, and hands the socket over.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let stream = rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::from((src, 0)))?;
            sock.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .await
        })?;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        stream
    };
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// Whether the peer has closed a plain TCP connection (EOF or reset), waiting at most `wait`
/// (zero: just looking); whatever the peer sent first (a TLS alert) is read and dropped.
pub fn tcp_closed(sock: &mut TcpStream, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    let mut b = [0u8; 4096];
    let seen = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = sock.set_nonblocking(true);
        } else {
            let _ = sock.set_read_timeout(Some(left));
        }
        match sock.read(&mut b) {
            Ok(0) => break Some("EOF".into()),
            Ok(_) if Instant::now() < deadline => {}
            Ok(_) => break None,
            Err(e) if is_timeout(&e) => break None,
            Err(e) => break Some(e.kind().to_string()),
        }
    };
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(IO_TIMEOUT));
    seen
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One HTTP response as it came.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        format!(
            "{} {:?}\n{}",
            self.status,
            self.headers,
            String::from_utf8_lossy(&self.body)
        )
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The ACME problem type (after `urn:ietf:params:acme:error:`) of a problem document whose
    /// `status` is the HTTP status and whose Content-Type is application/problem+json; what is
    /// wrong with it otherwise.
    pub fn problem_type(&self) -> Result<String, String> {
        if self.header("content-type") != Some("application/problem+json") {
            return Err(format!("not application/problem+json: {}", self.text()));
        }
        let doc: Value = serde_json::from_slice(&self.body)
            .map_err(|e| format!("problem document is not JSON ({e}): {}", self.text()))?;
        if doc["status"].as_u64() != Some(u64::from(self.status)) {
            return Err(format!(
                "problem status is not the HTTP status: {}",
                self.text()
            ));
        }
        doc["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:ietf:params:acme:error:"))
            .map(str::to_string)
            .ok_or_else(|| format!("problem without an ACME type: {}", self.text()))
    }

    /// Asserts a problem document of `status` and ACME type `kind`; returns it.
    pub fn assert_problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.problem_type().unwrap_or_else(|e| panic!("{e}")),
            kind,
            "{}",
            self.text()
        );
        self.json()
    }
}

/// What became of a connection the server was expected to close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Nothing yet.
    Open,
    /// The server answered (e.g. 408 or 413) and may close next.
    Answered(String),
    /// Closed (close_notify, EOF, reset, broken pipe).
    Closed(String),
}

/// A blocking HTTPS/1.1 connection to the lab's server (keep-alive; requests are written as
/// given, so they may be malformed, partial, or trickled).
pub struct Https {
    pub tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
    pub port: u16,
}

impl Https {
    /// Connects to 127.0.0.1:`port` and completes the TLS handshake.
    pub fn connect(port: u16, config: &Arc<ClientConfig>) -> io::Result<Https> {
        Https::connect_from(Ipv4Addr::LOCALHOST, port, config)
    }

    /// [`Https::connect`] from the source address `src`.
    pub fn connect_from(src: Ipv4Addr, port: u16, config: &Arc<ClientConfig>) -> io::Result<Https> {
        let sock = tcp_from(src, port)?;
        let conn =
            ClientConnection::new(config.clone(), server_name()).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(Https {
            tls,
            buf: Vec::new(),
            port,
        })
    }

    /// Writes `bytes` (one TLS record or more) and flushes them.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.write_all(bytes)?;
        self.tls.flush()
    }

    /// A request head: `METHOD PATH HTTP/1.1`, Host, `headers`, and a blank line.
    pub fn head(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n",
            self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.into_bytes()
    }

    /// Sends a request (with Content-Length when there is a body) and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> io::Result<Response> {
        let len = body.map(|b| b.len().to_string());
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(len) = &len {
            all.push(("Content-Length", len));
        }
        let mut bytes = self.head(method, path, &all);
        bytes.extend_from_slice(body.unwrap_or_default());
        self.send(&bytes)?;
        self.response(method == "HEAD")
    }

    /// Reads more of the connection into the buffer: the count, 0 at close_notify. Reads only
    /// (unlike `StreamOwned::read`, which first flushes what is pending and so reports a broken
    /// pipe instead of the answer a server sent before it closed).
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.tls.conn.reader().read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            self.tls.conn.read_tls(&mut self.tls.sock)?;
            self.tls
                .conn
                .process_new_packets()
                .map_err(io::Error::other)?;
        }
    }

    fn need(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Reads one response (no body after a HEAD).
    pub fn response(&mut self, head: bool) -> io::Result<Response> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if self.buf.len() > 1 << 20 {
                return Err(io::Error::other("a response head over 1 MiB"));
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let status = first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {first:?}")))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head || status / 100 == 1 || status == 204 || status == 304 {
            return Ok(resp);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
        if chunked {
            loop {
                let line = self.line()?;
                let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| io::Error::other(format!("bad chunk size {line:?}")))?;
                if size == 0 {
                    while !self.line()?.is_empty() {}
                    break;
                }
                self.need(size + 2)?;
                resp.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
            }
        } else if let Some(n) = resp.header("content-length").and_then(|v| v.parse().ok()) {
            self.need(n)?;
            resp.body = self.buf.drain(..n).collect();
        } else {
            loop {
                match self.fill() {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// Looks (waiting at most `wait`; zero: just looking) whether the server closed the
    /// connection or answered.
    pub fn peer(&mut self, wait: Duration) -> Peer {
        if !self.buf.is_empty() {
            return Peer::Answered(String::from_utf8_lossy(&self.buf).into_owned());
        }
        let _ = if wait.is_zero() {
            self.tls.sock.set_nonblocking(true)
        } else {
            self.tls.sock.set_read_timeout(Some(wait))
        };
        let seen = match self.fill() {
            Ok(0) => Peer::Closed("close_notify".into()),
            Ok(_) => Peer::Answered(String::from_utf8_lossy(&self.buf).into_owned()),
            Err(e) if is_timeout(&e) => Peer::Open,
            Err(e) => Peer::Closed(e.kind().to_string()),
        };
        let _ = self.tls.sock.set_nonblocking(false);
        let _ = self.tls.sock.set_read_timeout(Some(IO_TIMEOUT));
        seen
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    Base64UrlUnpadded::encode_string(bytes.as_ref())
}

/// An Ed25519 account key that signs flattened JWSes (RFC 8555 §6.2) exactly as told.
pub struct JwsKey {
    key: uca_pki::PrivateKey,
    x: String,
}

impl Default for JwsKey {
    fn default() -> Self {
        JwsKey::new()
    }
}

impl JwsKey {
    pub fn new() -> JwsKey {
        let key = uca_pki::KeyType::Ed25519.generate().expect("Ed25519 key");
        let spki = key.public_key_der();
        let x = b64(&spki[spki.len() - 32..]);
        JwsKey { key, x }
    }

    pub fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.x})
    }

    /// A flattened JWS of `payload` ("" for POST-as-GET) under `protected` as given.
    pub fn sign(&self, protected: &Value, payload: &str) -> Value {
        let p = b64(protected.to_string());
        let pl = b64(payload);
        let sig = self
            .key
            .sign(format!("{p}.{pl}").as_bytes())
            .expect("Ed25519 signature");
        json!({"protected": p, "payload": pl, "signature": b64(sig)})
    }
}

/// A bare ACME client on one keep-alive connection: EdDSA JWSes, the nonce of the last
/// response, `kid` once its account exists.
pub struct Wire {
    pub https: Https,
    pub key: JwsKey,
    pub kid: Option<String>,
    pub nonce: Option<String>,
    src: Ipv4Addr,
    config: Arc<ClientConfig>,
    last_used: Instant,
}

impl Wire {
    /// A fresh key on a connection from 127.0.0.1.
    pub fn new(lab: &AcmeLab) -> Wire {
        Wire::new_from(lab, Ipv4Addr::LOCALHOST)
    }

    /// A fresh key on a connection from `src`.
    pub fn new_from(lab: &AcmeLab, src: Ipv4Addr) -> Wire {
        let config = tls_config(&lab.ca_cert());
        let https = Https::connect_from(src, lab.server.port, &config).expect("connect");
        Wire {
            https,
            key: JwsKey::new(),
            kid: None,
            nonce: None,
            src,
            config,
            last_used: Instant::now(),
        }
    }

    pub fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.https.port)
    }

    /// The connection, opened again if it sat idle long enough for the server to close it.
    fn conn(&mut self) -> &mut Https {
        if self.last_used.elapsed() > Duration::from_secs(5) {
            self.https =
                Https::connect_from(self.src, self.https.port, &self.config).expect("reconnect");
        }
        self.last_used = Instant::now();
        &mut self.https
    }

    /// A fresh nonce: the last response's, or HEAD newNonce.
    pub fn nonce(&mut self) -> String {
        if let Some(n) = self.nonce.take() {
            return n;
        }
        let resp = self
            .conn()
            .request("HEAD", "/acme/new-nonce", &[], None)
            .expect("HEAD new-nonce");
        assert_eq!(resp.status, 200, "{}", resp.text());
        resp.header("replay-nonce")
            .expect("Replay-Nonce")
            .to_string()
    }

    /// POST `payload` (None: POST-as-GET) to `url` (absolute, or a path), signed with `kid` or
    /// else `jwk`; keeps the response's nonce.
    pub fn post(&mut self, url: &str, payload: Option<&Value>) -> Response {
        let base = self.base();
        let url = if url.starts_with("https://") {
            url.to_string()
        } else {
            format!("{base}{url}")
        };
        let path = url
            .strip_prefix(&base)
            .expect("a URL of the lab")
            .to_string();
        let mut protected = json!({"alg": "EdDSA", "nonce": self.nonce(), "url": url});
        match &self.kid {
            Some(kid) => protected["kid"] = json!(kid),
            None => protected["jwk"] = self.key.jwk(),
        }
        let payload = payload.map(Value::to_string).unwrap_or_default();
        let body = self.key.sign(&protected, &payload).to_string();
        let resp = self
            .conn()
            .request(
                "POST",
                &path,
                &[("Content-Type", "application/jose+json")],
                Some(body.as_bytes()),
            )
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        self.last_used = Instant::now();
        self.nonce = resp.header("replay-nonce").map(str::to_string);
        resp
    }

    /// newAccount (terms agreed); on 201 the account's URL becomes `kid`.
    pub fn new_account(&mut self) -> Response {
        let resp = self.post(
            "/acme/new-account",
            Some(&json!({"termsOfServiceAgreed": true})),
        );
        if resp.status == 201 {
            self.kid = Some(resp.header("location").expect("Location").to_string());
        }
        resp
    }

    /// newOrder for DNS `names`, asserting 201: (order URL, order).
    pub fn new_order(&mut self, names: &[&str]) -> (String, Value) {
        let ids: Vec<Value> = names
            .iter()
            .map(|n| json!({"type": "dns", "value": n}))
            .collect();
        let resp = self.post("/acme/new-order", Some(&json!({"identifiers": ids})));
        assert_eq!(resp.status, 201, "newOrder: {}", resp.text());
        (
            resp.header("location").expect("Location").to_string(),
            resp.json(),
        )
    }

    /// The http-01 challenge of an authorization: (challenge URL, token).
    pub fn http01(&mut self, authz_url: &str) -> (String, String) {
        let resp = self.post(authz_url, None);
        assert_eq!(resp.status, 200, "authz: {}", resp.text());
        let authz = resp.json();
        let ch = authz["challenges"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == "http-01"))
            .unwrap_or_else(|| panic!("no http-01 challenge: {authz:#}"));
        (
            ch["url"].as_str().expect("url").to_string(),
            ch["token"].as_str().expect("token").to_string(),
        )
    }
}

/// Tells attackers to stop: when the test asks, when the test fails, or at the deadline.
pub struct Stop {
    asked: AtomicBool,
    aborted: AtomicBool,
    pub started: Instant,
    deadline: Instant,
}

impl Stop {
    /// Time to stop: asked to, or [`Stop::expired`].
    pub fn stopped(&self) -> bool {
        self.asked.load(Ordering::Relaxed) || self.expired()
    }

    /// The deadline has passed, or the test failed (for attackers that watch until the end).
    pub fn expired(&self) -> bool {
        self.aborted.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    pub fn stop(&self) {
        self.asked.store(true, Ordering::Relaxed);
    }

    /// Sleeps `d`, or less if told to stop; false when stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if self.stopped() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10).min(until - Instant::now()));
        }
        !self.stopped()
    }
}

/// Asks the attackers to stop when the legitimate client is done, and aborts them when it
/// panicked.
struct StopOnDrop<'a>(&'a Stop);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.aborted.store(true, Ordering::Relaxed);
        }
        self.0.stop();
    }
}

/// Runs `attack(i, stop)` on `threads` threads while `legit(stop)` runs on this one; then tells
/// them to stop (and aborts them when `legit` panics) and joins them all. Attackers must return
/// once `stop.stopped()` (or, if they watch to the end, `stop.expired()`), which is true at the
/// latest `limit` (at most [`ATTACK_LIMIT`]) after the start. Returns what `legit` and each attacker returned.
pub fn under_attack<A: Send, L>(
    threads: usize,
    limit: Duration,
    attack: impl Fn(usize, &Stop) -> A + Sync,
    legit: impl FnOnce(&Stop) -> L,
) -> (L, Vec<A>) {
    assert!(
        limit <= ATTACK_LIMIT,
        "attacks stop within {ATTACK_LIMIT:?}"
    );
    let now = Instant::now();
    let stop = Stop {
        asked: AtomicBool::new(false),
        aborted: AtomicBool::new(false),
        started: now,
        deadline: now + limit,
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let (stop, attack) = (&stop, &attack);
                s.spawn(move || attack(i, stop))
            })
            .collect();
        let guard = StopOnDrop(&stop);
        let l = legit(&stop);
        drop(guard);
        let results = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        (l, results)
    })
}

/// The server's resident memory, from /proc/PID/status.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// VmRSS, MiB.
    pub rss: f64,
    /// VmHWM (the peak RSS so far), MiB.
    pub peak: f64,
}

impl Memory {
    pub fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e} (has the server died?)"));
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
                / 1024.0
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }

    /// Asserts that the server's memory stayed bounded from `before` to `after`: the peak
    /// under 200 MiB and at most 100 MiB above the resident size before the attack.
    pub fn assert_bounded(before: Memory, after: Memory, what: &str) {
        eprintln!(
            "{what}: server RSS {:.1} MiB before, {:.1} MiB after, peak {:.1} MiB",
            before.rss, after.rss, after.peak
        );
        assert!(
            after.peak < 200.0 && after.peak - before.rss < 100.0,
            "{what}: the server's memory grew from {:.1} MiB to a peak of {:.1} MiB (now {:.1} MiB)",
            before.rss,
            after.peak,
            after.rss
        );
    }
}

/// How long a legitimate lego order may take while an attack runs.
pub const LEGIT_ORDER_LIMIT: Duration = Duration::from_secs(5);

/// A lego order for `domain` with a fresh account under TMP/`state`, solved as `solver` says
/// (e.g. `--http --http.port 127.0.0.1:PORT`), timed; asserts that it succeeded within
/// [`LEGIT_ORDER_LIMIT`] and that its certificate chains to the CA and names `domain`.
/// Returns the time taken and the certificate's serial.
pub fn timed_lego(lab: &AcmeLab, state: &str, domain: &str, solver: &[&str]) -> (Duration, String) {
    let started = Instant::now();
    let out = lab.lego(
        state,
        &[&["--domains", domain][..], solver, &["run"]].concat(),
        &[],
    );
    let took = started.elapsed();
    assert_ok(
        &out,
        &lab.server,
        &format!("lego for {domain} under attack"),
    );
    let (cert, _) = lab.lego_files(state, domain);
    let serial = judge_cert(&lab.ca_cert(), &cert, &[&format!("DNS:{domain}")]);
    eprintln!("lego order for {domain} under attack: {took:?}");
    assert!(
        took < LEGIT_ORDER_LIMIT,
        "the legitimate order took {took:?} under attack (limit {LEGIT_ORDER_LIMIT:?})"
    );
    (took, serial)
}

/// [`timed_lego`] answering http-01 on the lab's port.
pub fn timed_lego_http01(lab: &AcmeLab, domain: &str) -> (Duration, String) {
    let http = format!("127.0.0.1:{}", lab.http01);
    timed_lego(lab, "lego", domain, &["--http", "--http.port", &http])
}

/// What the CA holds: ledger rows, ACME accounts, ACME orders.
#[derive(Debug, Clone)]
pub struct CaState {
    pub ledger: Vec<Value>,
    pub accounts: Vec<Value>,
    pub orders: Vec<Value>,
}

impl CaState {
    pub fn of(lab: &AcmeLab) -> CaState {
        let list = |what: &str| {
            lab.env.json(&["acme", what])[what]
                .as_array()
                .unwrap_or_else(|| panic!("uca acme {what} --json has no {what}[]"))
                .clone()
        };
        CaState {
            ledger: lab.ledger(),
            accounts: list("accounts"),
            orders: list("orders"),
        }
    }

    /// The IDs of `rows` that `before` does not have.
    fn new_ids(rows: &[Value], before: &[Value]) -> Vec<String> {
        rows.iter()
            .filter_map(|r| r["id"].as_str())
            .filter(|id| !before.iter().any(|b| b["id"].as_str() == Some(id)))
            .map(str::to_string)
            .collect()
    }

    /// Asserts that from `self` to `after` the ledger gained exactly the row of `serial` (an
    /// ACME row) and kept every other row as it was, and that the only new ACME account and
    /// order (unless `orders_too` is false) are that row's.
    pub fn assert_only(&self, after: &CaState, lab: &AcmeLab, serial: &str, orders_too: bool) {
        let row = lab.acme_row(serial);
        // What a row says apart from the time left, which `uca list` computes when it runs.
        let fixed = |rows: &[Value]| -> Vec<Value> {
            rows.iter()
                .cloned()
                .map(|mut r| {
                    if let Some(o) = r.as_object_mut() {
                        o.remove("seconds_left");
                    }
                    r
                })
                .collect()
        };
        let mut want = fixed(&self.ledger);
        want.extend(fixed(std::slice::from_ref(&row)));
        let key = |r: &Value| {
            r["serial"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        let mut got = fixed(&after.ledger);
        want.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(
            got, want,
            "the ledger changed other than by the legitimate certificate {serial}"
        );
        let accounts = CaState::new_ids(&after.accounts, &self.accounts);
        assert_eq!(
            accounts,
            vec![
                row["acme"]["account"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            ],
            "new ACME accounts other than the legitimate client's: {:#?}",
            after.accounts
        );
        if orders_too {
            let orders = CaState::new_ids(&after.orders, &self.orders);
            assert_eq!(
                orders,
                vec![
                    row["acme"]["order"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                ],
                "new ACME orders other than the legitimate client's: {:#?}",
                after.orders
            );
        }
    }
}
