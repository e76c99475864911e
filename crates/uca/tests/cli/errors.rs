//! What every command shares when it fails: a clear `error:` with a `hint:`, a documented exit
//! code, no panic, and the CA directory byte-for-byte unchanged: wrong or missing passphrases, a
//! damaged key or config, no CA, an unwritable directory, usage errors. A refusal that belongs
//! to one command (a bad SAN for `issue`) is tested with that command.

use std::path::Path;

use crate::support::*;

/// A CA with an encrypted key.
fn ca() -> TempCa {
    let env = TempCa::new();
    env.init(&[]);
    env
}

#[test]
fn wrong_passphrase() {
    let env = ca();
    let before = snapshot(&env.ca_dir());
    let out = env
        .uca()
        .env("UCA_PASSPHRASE", "not the passphrase")
        .args(["issue", "web1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("wrong passphrase") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert_eq!(before, snapshot(&env.ca_dir()));
}

#[test]
fn missing_passphrase_without_a_terminal() {
    let env = ca();
    let before = snapshot(&env.ca_dir());
    let out = env.uca().args(["issue", "web1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("UCA_PASSPHRASE"), "{stderr}");
    assert_eq!(before, snapshot(&env.ca_dir()));
}

#[test]
fn corrupted_ca_key() {
    for (label, damage) in [
        ("garbage", b"this is not a key".to_vec()),
        ("truncated", Vec::new()),
        ("flipped", Vec::from([0u8])),
    ] {
        let env = ca();
        let key = env.ca_dir().join("private/ca.key");
        let mut pem = std::fs::read(&key).unwrap();
        match label {
            "garbage" => pem = damage,
            "truncated" => pem.truncate(pem.len() / 2),
            _ => {
                // Change one base64 character in the middle of the encrypted blob.
                let i = pem.len() / 2;
                pem[i] = if pem[i] == b'A' { b'B' } else { b'A' };
            }
        }
        std::fs::write(&key, &pem).unwrap();
        let before = snapshot(&env.ca_dir());
        let out = env.uca_pass().args(["issue", "web1"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(1) | Some(6)),
            "{label}: {stderr}"
        );
        assert!(
            stderr.contains("error:") && stderr.contains("hint:"),
            "{label}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(before, snapshot(&env.ca_dir()), "{label}");
    }
}

#[test]
fn missing_ca_directory() {
    let env = TempCa::new();
    let out = env.uca_pass().args(["issue", "web1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("no CA at") && stderr.contains("uca init --dir"),
        "{stderr}"
    );
    assert!(
        !env.ca_dir().exists(),
        "a failed command must not create the CA directory"
    );
    for cmd in [&["list"][..], &["show", "web1"], &["sign", "x.csr"]] {
        let out = env.uca_pass().args(cmd).output().unwrap();
        assert!(matches!(out.status.code(), Some(4) | Some(2)), "{cmd:?}");
    }
}

#[test]
fn broken_config_file_points_at_the_line() {
    let env = ca();
    let cfg = env.ca_dir().join("uca.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("key = \"ec-p256\"", "key = \"ec-p999\"");
    std::fs::write(&cfg, text).unwrap();
    let out = env.uca_pass().args(["issue", "web1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("uca.toml:") && stderr.contains("ec-p999"),
        "{stderr}"
    );
}

/// Makes `dir` unwritable even for root (chattr +i) and restores it on drop.
struct ReadOnly<'a>(&'a Path, bool);

impl<'a> ReadOnly<'a> {
    fn new(dir: &'a Path) -> ReadOnly<'a> {
        use std::os::unix::fs::MetadataExt;
        let probe = dir.join(".probe");
        std::fs::write(&probe, b"").unwrap();
        let root = std::fs::metadata(&probe).unwrap().uid() == 0;
        std::fs::remove_file(&probe).unwrap();
        if root {
            let ok = run("chattr", &["+i", dir.utf8()]).status.success();
            assert!(
                ok,
                "chattr +i failed: the test needs a filesystem with immutable attributes when run as root"
            );
        } else {
            run("chmod", &["0500", dir.utf8()]);
        }
        ReadOnly(dir, root)
    }
}

impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        if self.1 {
            run("chattr", &["-i", self.0.utf8()]);
        } else {
            run("chmod", &["0700", self.0.utf8()]);
        }
    }
}

#[test]
fn unwritable_output_directory() {
    let env = ca();
    let issued = env.ca_dir().join("issued");
    let before = snapshot(&env.ca_dir());
    {
        let _guard = ReadOnly::new(&issued);
        let out = env
            .uca_pass()
            .args(["issue", "web1", "web2"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("cannot create directory") && stderr.contains("hint:"),
            "{stderr}"
        );
    }
    assert_eq!(before, snapshot(&env.ca_dir()));
    // And the ledger knows nothing of it.
    let v = env.json(&["list"]);
    assert_eq!(
        v["certificates"].as_array().unwrap().len(),
        1,
        "only the root: {v}"
    );
}

#[test]
fn unknown_flags_and_missing_arguments_are_usage_errors() {
    let env = ca();
    env.uca().args(["issue"]).assert().code(2);
    env.uca()
        .args(["issue", "x", "--frobnicate"])
        .assert()
        .code(2);
    env.uca().args(["show"]).assert().code(2);
    env.uca()
        .args(["list", "--status", "sideways"])
        .assert()
        .code(2);
}

/// The words of a few key failures, as snapshots (accept a deliberate change with `cargo insta
/// review`): the temp directory, serials and times are redacted, since they change every run.
#[test]
fn key_errors_match_their_snapshots() {
    let env = ca();
    let web1 = env.issue("web1", &[]);
    let gone = env.issue("gone1", &[]);
    env.uca()
        .args(["revoke", "gone1", "--reason", "keyCompromise"])
        .assert()
        .success();
    let nowhere = env.path("nowhere");
    let cases: Vec<(&str, assert_cmd::Command)> = vec![
        ("no_ca", {
            let mut c = env.uca_at(&nowhere);
            c.args(["issue", "web2"]);
            c
        }),
        ("wrong_passphrase", {
            let mut c = env.uca();
            c.env("UCA_PASSPHRASE", "not the passphrase")
                .args(["issue", "web2"]);
            c
        }),
        ("already_issued", {
            let mut c = env.uca_pass();
            c.args(["issue", "web1"]);
            c
        }),
        ("unknown_serial", {
            let mut c = env.uca();
            c.args(["revoke", "0123456789abcdef0123456789abcdef"]);
            c
        }),
        ("revoked_certificate", {
            let mut c = env.uca();
            c.arg("verify").arg(&gone.cert);
            c
        }),
        ("not_a_certificate", {
            let mut c = env.uca();
            c.arg("verify").arg(&web1.key);
            c
        }),
    ];
    let tmp = env.tmp.path().display().to_string().replace('.', r"\.");
    let filters = vec![
        (tmp.as_str(), "[TMP]"),
        (r"\b[0-9a-fA-F]{32}\b", "[SERIAL]"),
        // A CA made without --name is "uca Root CA" and 8 random hex digits.
        (r"uca Root CA [0-9a-f]{8}\b", "uca Root CA [ID]"),
        (r"\b[0-9A-F]{2}(:[0-9A-F]{2}){15}\b", "[SERIAL]"),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z| UTC)?",
            "[TIME]",
        ),
    ];
    each_case(
        cases.into_iter().map(|(name, c)| (name, (name, c))),
        |(name, mut c)| {
            let out = c.output().unwrap();
            let code = code(&out);
            assert_ne!(code, 0, "{name}: {}", text(&out));
            let shown = format!(
                "exit {code}\n--- stdout:\n{}--- stderr:\n{}",
                stdout(&out),
                stderr(&out)
            );
            insta::with_settings!({ filters => filters.clone() }, {
                insta::assert_snapshot!(name, shown);
            });
        },
    );
}
