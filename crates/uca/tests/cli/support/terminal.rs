//! A real terminal: `uca` inside a pseudo-terminal from util-linux `script`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::ca::TempCa;

/// Runs `uca --dir CA ARGS` inside a pseudo-terminal (TERM=xterm, no UCA_* or NO_COLOR from
/// the caller, plus `extra_env`), typing each of `lines` after a pause (prompts switch echo
/// off, which may discard input typed before they are shown). Returns the exit code (-1 for a
/// signal) and everything the terminal showed.
pub fn on_terminal(
    env: &TempCa,
    args: &str,
    lines: &[&str],
    extra_env: &[(&str, &str)],
) -> (i32, String) {
    let bin = env!("CARGO_BIN_EXE_uca");
    let cmd = format!("{bin} --dir {} {args}", env.ca_dir().display());
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .current_dir(env.tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, _) in std::env::vars() {
        if k.starts_with("UCA_") {
            c.env_remove(&k);
        }
    }
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .expect("util-linux 'script' is needed (run the README's test command)");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in lines {
        std::thread::sleep(Duration::from_millis(700));
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("type");
    }
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
