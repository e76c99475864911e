//! Targets files: every mistake refused with its `FILE:LINE:COLUMN`, before anything listens.

use std::time::Duration;

use crate::support::health::*;
use crate::support::*;

#[test]
fn bad_targets_files_are_refused_with_a_location_and_nothing_listens() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let head = "[[target]]\nname = \"a\"\n";
    let cases = [
        (
            "unknown-key",
            format!("{head}url = \"http://127.0.0.1:9/\"\nbogus = 1\n"),
            "targets.toml:4:1:",
            "bogus",
        ),
        (
            "bad-threshold",
            format!("{head}url = \"http://127.0.0.1:9/\"\nok = \"99 within\"\n"),
            "targets.toml:4:6:",
            "is not a threshold",
        ),
        (
            "over-100",
            format!("{head}url = \"http://127.0.0.1:9/\"\nok = \"101% within 1s\"\n"),
            "targets.toml:4:6:",
            "at most 100%",
        ),
        (
            "duplicate",
            format!(
                "{head}url = \"http://127.0.0.1:9/\"\n\n[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:10/\"\n"
            ),
            "targets.toml:6:8:",
            "duplicate target name 'a'",
        ),
        (
            "missing-ca",
            format!("{head}url = \"https://127.0.0.1:9/\"\nca = \"missing.pem\"\n"),
            "targets.toml:4:6:",
            "missing.pem",
        ),
    ];
    for (dir, text, at, words) in cases {
        let rel = format!("{dir}/targets.toml");
        targets_file(&env, &rel, &text);
        let out = env
            .uca()
            .args([
                "health",
                "watch",
                &rel,
                "--listen",
                "127.0.0.1:0",
                "--duration",
                "3s",
            ])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{dir}: {stderr}");
        assert!(stderr.contains(at), "{dir}: no {at:?} in:\n{stderr}");
        assert!(stderr.contains(words), "{dir}: no {words:?} in:\n{stderr}");
        assert!(
            !stderr.contains("serving http://"),
            "{dir}: it listened:\n{stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{dir}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            !env.path(dir).join("targets.health.sqlite").exists(),
            "{dir}: a store was created for a refused file"
        );
    }
}

/// Regression: a `min_samples` the window can never hold (1 m at one probe per 10 s) was
/// accepted; in `[defaults]` and in a target it is refused with its location.
#[test]
fn unreachable_min_samples_is_refused_with_its_location() {
    let env = TempCa::new();
    env.init_plain(&[]);
    for (dir, body) in [
        (
            "defaults",
            "[defaults]\nwindow = \"1m\"\ninterval = \"10s\"\nmin_samples = 10\n\n\
             [[target]]\nname = \"a\"\nurl = \"tcp://127.0.0.1:9\"\n",
        ),
        (
            "target",
            "[[target]]\nname = \"a\"\nurl = \"tcp://127.0.0.1:9\"\n\
             window = \"1m\"\ninterval = \"10s\"\nmin_samples = 10\n",
        ),
    ] {
        let rel = format!("{dir}/targets.toml");
        write(&env.path(&rel), body.as_bytes());
        let out = env
            .uca()
            .args([
                "health",
                "watch",
                &rel,
                "--listen",
                "127.0.0.1:0",
                "--duration",
                "3s",
            ])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let all = expect(&out, 2);
        assert!(all.contains("targets.toml:"), "{dir}: {all}");
        assert!(all.contains("can never be reached"), "{dir}: {all}");
        assert!(!all.contains("serving http://"), "{dir}: {all}");
    }
}
