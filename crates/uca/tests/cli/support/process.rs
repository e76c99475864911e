//! Running programs: a hermetic `uca`, judges under a timeout, children killed on drop, and what
//! a finished program printed, for assertion messages.

use std::io::{Read, Write};
use std::process::{Child, Command as StdCommand, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// How long a client process (openssl s_client, curl, java…) may run before the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

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

/// `uca ARGS` with no CA named at all (no --dir, no UCA_DIR), run in `cwd`; its output.
pub fn uca_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    uca_bare()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run uca")
}

/// The same hermetic `uca` as a plain std Command, for children that run on (a watcher) or
/// that a test starts itself.
pub fn uca_std() -> StdCommand {
    let mut c = StdCommand::new(env!("CARGO_BIN_EXE_uca"));
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

/// What a finished program left behind, as text.
pub struct TextOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// For clients of a test server: the length of the server log when this client started.
    pub log_from: usize,
}

impl TextOutput {
    /// Status, stdout and stderr, for assertion messages.
    pub fn all(&self) -> String {
        format!(
            "status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl From<&Output> for TextOutput {
    fn from(out: &Output) -> TextOutput {
        TextOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            log_from: 0,
        }
    }
}

/// A finished command, for assertion messages.
pub fn text(out: &Output) -> String {
    TextOutput::from(out).all()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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

/// A child process killed when dropped, so servers stop even when a test fails.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a child's pipe on a thread into a shared string, so a long-running process never
/// blocks on a full pipe and its output can be read while it runs.
pub fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
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

/// Runs a program with `input` on stdin (then closed), killing it and failing the test if it
/// has not exited after [`CLIENT_TIMEOUT`].
pub fn run_timeout(program: &str, args: &[&str], input: &[u8]) -> TextOutput {
    let mut child = StdCommand::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (is it installed?)"));
    let so = collect(child.stdout.take().expect("stdout"));
    let se = collect(child.stderr.take().expect("stderr"));
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
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "{program} {args:?} did not finish within {CLIENT_TIMEOUT:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                so.lock().unwrap(),
                se.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    TextOutput {
        status,
        stdout: finished(&so),
        stderr: finished(&se),
        log_from: 0,
    }
}

/// Runs `cmd` and waits at most `limit`: Ok(output, elapsed) or Err(what it printed) when it
/// had to be killed.
pub fn run_within(mut cmd: StdCommand, limit: Duration) -> Result<(Output, Duration), String> {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let mut child = KillOnDrop(child);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let elapsed = start.elapsed();
            let stdout = finished(&out).into_bytes();
            let stderr = finished(&err).into_bytes();
            return Ok((
                Output {
                    status,
                    stdout,
                    stderr,
                },
                elapsed,
            ));
        }
        if start.elapsed() > limit {
            let _ = child.0.kill();
            let _ = child.0.wait();
            std::thread::sleep(Duration::from_millis(100));
            return Err(format!(
                "--- stdout:\n{}\n--- stderr:\n{}",
                out.lock().unwrap(),
                err.lock().unwrap()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The text a [`collect`] reader gathered from a process that has exited: waits until the
/// reader has seen the end of the pipe (the reader holds the only other reference until then).
fn finished(text: &Arc<Mutex<String>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Arc::strong_count(text) > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    text.lock().unwrap().clone()
}

/// A free TCP port on 127.0.0.1, never one this process handed out before: a port reserved
/// for a server that starts later (a client's http-01 responder) is free until then, and must
/// not be given to another server meanwhile.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// Waits until something accepts connections on the port (or panics after ~10 s).
pub fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on 127.0.0.1:{port}");
}
