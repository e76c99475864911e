//! Shared helpers for the integration tests: a hermetic `uca`, temp CA directories, and the
//! independent judges (openssl and friends).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use assert_cmd::Command;
use std::io::{Read, Write};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const PASS: &str = "correct horse battery staple";

/// A temp directory holding one CA at `dir/pki`.
pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.path("pki")
    }

    /// `uca` with a clean environment, run in the temp dir, pointed at the CA.
    pub fn uca(&self) -> Command {
        let mut c = uca_bare();
        c.current_dir(self.tmp.path())
            .arg("--dir")
            .arg(self.ca_dir());
        c
    }

    /// Same, with the CA passphrase in UCA_PASSPHRASE.
    pub fn uca_pass(&self) -> Command {
        let mut c = self.uca();
        c.env("UCA_PASSPHRASE", PASS);
        c
    }

    /// A CA with an encrypted key (passphrase [`PASS`]) and the given extra init args.
    pub fn init(&self, extra: &[&str]) -> &Env {
        self.uca_pass().arg("init").args(extra).assert().success();
        self
    }

    /// A CA with an unencrypted key (fast for tests that do not care).
    pub fn init_plain(&self, extra: &[&str]) -> &Env {
        self.uca()
            .arg("init")
            .arg("--no-passphrase")
            .args(extra)
            .assert()
            .success();
        self
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.ca_dir().join("ca.crt")
    }

    pub fn issued(&self, name: &str, file: &str) -> PathBuf {
        self.ca_dir().join("issued").join(name).join(file)
    }

    /// Runs `uca --json ARGS` (passphrase set) and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self
            .uca_pass()
            .arg("--json")
            .args(args)
            .output()
            .expect("run uca");
        assert!(
            out.status.success(),
            "uca {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("uca --json prints JSON")
    }
}

/// `uca` with every UCA_* variable and NO_COLOR removed, so a developer's shell cannot leak in.
pub fn uca_bare() -> Command {
    let mut c = Command::cargo_bin("uca").expect("uca binary");
    for (k, _) in std::env::vars() {
        if k.starts_with("UCA_") {
            c.env_remove(&k);
        }
    }
    c.env_remove("NO_COLOR");
    c
}

/// Runs a command and returns its output, failing the test if it cannot start.
pub fn run(program: &str, args: &[&str]) -> Output {
    StdCommand::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (is it installed? run the README's test command)")
        })
}

/// `openssl ARGS`, asserting success; returns stdout as text.
pub fn openssl(args: &[&str]) -> String {
    let out = run("openssl", args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `openssl x509 -text` of a certificate file.
pub fn x509_text(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.to_str().expect("utf-8 path"),
        "-noout",
        "-text",
    ])
}

/// The text between `header` and the next extension header in `openssl x509 -text` output,
/// e.g. section(text, "X509v3 Key Usage") → (critical, "Digital Signature").
pub fn extension(text: &str, header: &str) -> Option<(bool, String)> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if t.starts_with(header) {
            let critical = t.contains("critical");
            let value = lines
                .next()
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            return Some((critical, value));
        }
    }
    None
}

/// Every file under `dir` with its bytes and mode: compare before/after to prove a failed
/// command changed nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                out.insert(p.clone(), (Vec::new(), meta.permissions().mode()));
                stack.push(p);
            } else {
                out.insert(
                    p.clone(),
                    (std::fs::read(&p).expect("read"), meta.permissions().mode()),
                );
            }
        }
    }
    out
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A child process killed when dropped, so servers stop even when a test fails.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on the port (or panics after ~10 s).
pub fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}

/// How long a client process (openssl s_client, curl, java…) may run before the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// A plain HTTP request, for `openssl s_server -www`.
pub const HTTP_GET: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

/// The first line of `openssl s_server -www`'s answer: only sent to an accepted client.
pub const WWW_OK: &str = "HTTP/1.0 200 ok";

/// What a finished client process left behind.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// For clients of a test server: the length of the server log when this client started.
    pub log_from: usize,
}

impl Out {
    pub fn all(&self) -> String {
        format!(
            "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// The `-www` page the server sent back, only sent to an accepted client.
    pub fn www_page(&self) -> Option<&str> {
        Some(&self.stdout[self.stdout.find(WWW_OK)?..])
    }
}

/// Runs a program with `input` on stdin (then closed), killing it and failing the test if it
/// has not exited after [`CLIENT_TIMEOUT`].
pub fn run_timeout(program: &str, args: &[&str], input: &[u8]) -> Out {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (is it installed?)"));
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    {
        let mut stdin = child.stdin.take().expect("stdin");
        // The program may exit (e.g. on a handshake failure) before reading everything.
        let _ = stdin.write_all(input);
    }
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(st) = child.0.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            let _ = child.0.wait();
            let o = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
            let e = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
            panic!(
                "{program} {args:?} did not finish within {CLIENT_TIMEOUT:?}\n--- stdout:\n{o}\n--- stderr:\n{e}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        status,
        stdout: String::from_utf8_lossy(&out_t.join().expect("stdout reader")).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().expect("stderr reader")).into_owned(),
        log_from: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers most test files need: paths as &str, a command's output for messages, files.

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A finished command, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The exit code, asserting that uca neither panicked nor died of a signal.
pub fn code(out: &Output) -> i32 {
    assert!(
        !stderr(out).contains("panicked"),
        "uca panicked:\n{}",
        text(out)
    );
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal:\n{}", text(out)))
}

/// Asserts the exit code (see [`code`]) and returns stdout + stderr.
pub fn expect(out: &Output, want: i32) -> String {
    assert_eq!(code(out), want, "expected exit {want}:\n{}", text(out));
    format!("{}{}", stdout(out), stderr(out))
}

/// Writes a file, creating its parent directories.
pub fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

/// Copies a file, creating the target's parent directories.
pub fn copy(from: &Path, to: &Path) {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::copy(from, to).unwrap();
}

/// `openssl cms -sign -binary -outform DER` (detached) of `content` into `out`.
pub fn cms_sign(
    cert: &Path,
    key: &Path,
    chain: Option<&Path>,
    content: &Path,
    out: &Path,
    extra: &[&str],
) {
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-outform",
        "DER",
        "-signer",
        s(cert),
        "-inkey",
        s(key),
    ];
    if let Some(c) = chain {
        args.extend(["-certfile", s(c)]);
    }
    args.extend(["-in", s(content), "-out", s(out)]);
    args.extend_from_slice(extra);
    openssl(&args);
}

/// Reads a child's pipe on a thread into a shared string, so a long-running process never
/// blocks on a full pipe and its output can be read while it runs.
pub fn collect(
    mut r: impl std::io::Read + Send + 'static,
) -> std::sync::Arc<std::sync::Mutex<String>> {
    let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let t = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => t
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    });
    text
}
