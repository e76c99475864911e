//! The health harness: `uca health check` runs (`HealthCheck`), a running `uca health watch`
//! (`Watch`) and the `/status.json` documents it serves.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::ca::TempCa;
use super::files::write;
use super::process::{KillOnDrop, collect};
use super::servers::http_get;

/// What `uca health check` did.
pub struct HealthCheck {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl HealthCheck {
    pub fn all(&self) -> String {
        format!(
            "exit {}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// The status object `--json` printed.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("check --json is not JSON ({e}):\n{}", self.all()))
    }
}

/// `uca [PRE...] health check ARGS...` with a hard timeout.
pub fn health_check_with(env: &TempCa, pre: &[&str], args: &[&str]) -> HealthCheck {
    let out = env
        .uca()
        .args(pre)
        .args(["health", "check"])
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run uca health check");
    HealthCheck {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `uca health check ARGS...`.
pub fn health_check(env: &TempCa, args: &[&str]) -> HealthCheck {
    health_check_with(env, &[], args)
}

/// `uca --json health check ARGS...`.
pub fn health_check_json(env: &TempCa, args: &[&str]) -> HealthCheck {
    health_check_with(env, &["--json"], args)
}

/// All reasons of a status object, joined.
pub fn reasons(st: &Value) -> String {
    st["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

/// Hex serials compared the way people read them: case and leading zeros do not matter.
pub fn same_serial(a: &str, b: &str) -> bool {
    let n = |x: &str| {
        x.trim_start_matches('0')
            .to_ascii_lowercase()
            .replace(':', "")
    };
    n(a) == n(b)
}

/// The `[defaults]` of most watch tests: a probe every 100 ms, 5 samples before a color,
/// Green at 90% within 300 ms, Yellow at 70% within 1 s.
pub fn defaults(window: &str) -> String {
    format!(
        "[defaults]\ninterval = \"100ms\"\nwindow = \"{window}\"\nmin_samples = 5\ntimeout = \"2s\"\n\
         ok = \"90% within 300ms\"\nwarn = \"70% within 1s\"\n"
    )
}

/// Writes a targets file at `rel` under the temp dir; returns its path.
pub fn targets_file(env: &TempCa, rel: &str, text: &str) -> PathBuf {
    let p = env.path(rel);
    write(&p, text.as_bytes());
    p
}

/// The endpoint object NAME of a /status.json document.
pub fn endpoint_of(doc: &Value, name: &str) -> Value {
    doc["endpoints"]
        .as_array()
        .expect("endpoints array")
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no endpoint {name} in {doc}"))
}

/// A running `uca health watch`, killed on drop; its stdout and stderr are collected.
pub struct Watch {
    pub port: u16,
    pub child: KillOnDrop,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
}

impl Watch {
    /// `uca [PRE...] health watch TARGETS --listen 127.0.0.1:0 [EXTRA...]`; waits for the
    /// "serving http://ADDR/" line and takes the port from it.
    pub fn start(env: &TempCa, pre: &[&str], targets: &Path, extra: &[&str]) -> Watch {
        let mut c = env.uca_std();
        c.args(pre)
            .args(["health", "watch"])
            .arg(targets)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Watch::spawn(c, Duration::from_secs(20))
    }

    /// Starts `cmd` (a `uca … health watch … --listen 127.0.0.1:0`) and waits up to `limit`
    /// for it to serve.
    pub fn spawn(mut cmd: std::process::Command, limit: Duration) -> Watch {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run uca health watch");
        let out = collect(child.stdout.take().unwrap());
        let err = collect(child.stderr.take().unwrap());
        let mut child = KillOnDrop(child);
        let deadline = Instant::now() + limit;
        loop {
            let text = err.lock().unwrap().clone();
            if let Some(i) = text.find("serving http://127.0.0.1:") {
                let rest = &text[i + "serving http://127.0.0.1:".len()..];
                let port: u16 = rest
                    .split('/')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| panic!("no port in {text:?}"));
                return Watch {
                    port,
                    child,
                    out,
                    err,
                };
            }
            if let Some(st) = child.0.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "uca health watch exited ({st}) before serving:\n{}",
                    err.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "uca health watch did not serve within {limit:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    pub fn status(&self) -> Value {
        let (code, body) = self.get("/status.json");
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status.json: {e}:\n{body}"))
    }

    /// The endpoint object NAME of /status.json.
    pub fn endpoint(&self, name: &str) -> Value {
        endpoint_of(&self.status(), name)
    }

    /// Polls /status.json every 200 ms until `cond` holds for it; fails after `secs`.
    pub fn wait_until(&self, secs: u64, what: &str, mut cond: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let doc = self.status();
            if cond(&doc) {
                return doc;
            }
            last = doc;
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "{what}: not within {secs} s; last /status.json:\n{}\n--- watch stdout:\n{}\n--- watch stderr:\n{}",
            serde_json::to_string_pretty(&last).unwrap(),
            self.stdout(),
            self.stderr()
        );
    }

    /// Waits until endpoint NAME has `color`.
    pub fn wait_color(&self, name: &str, color: &str, secs: u64) -> Value {
        let doc = self.wait_until(secs, &format!("{name} to become {color}"), |d| {
            endpoint_of(d, name)["color"] == color
        });
        endpoint_of(&doc, name)
    }

    /// Waits for the watcher to exit by itself (it was given --duration).
    pub fn wait_exit(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.0.try_wait().unwrap() {
                // Let the readers take the last output.
                std::thread::sleep(Duration::from_millis(100));
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "uca health watch did not stop within {secs} s:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
