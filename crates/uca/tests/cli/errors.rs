//! Bad input gets a clear error with a hint, a documented exit code, and leaves the CA
//! directory byte-for-byte unchanged.

use std::path::Path;

use crate::support::*;

/// Runs `uca` with `args` on an initialized CA and asserts: exit `code`, stderr contains
/// `message` and a hint, and nothing under the CA directory changed.
fn refused(env: &TempCa, args: &[&str], code: i32, message: &str) {
    let before = snapshot(&env.ca_dir());
    let out = env.uca_pass().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "uca {args:?}: wrong exit code; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "uca {args:?}: expected '{message}' in:\n{stderr}"
    );
    assert!(
        stderr.contains("hint:"),
        "uca {args:?}: no hint in:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "uca {args:?}: data on stdout for a failure"
    );
    assert_eq!(
        before,
        snapshot(&env.ca_dir()),
        "uca {args:?} changed the CA directory"
    );
}

fn ca() -> TempCa {
    let env = TempCa::new();
    env.init(&[]);
    env
}

#[test]
fn san_with_a_space() {
    refused(
        &ca(),
        &["issue", "web1", "--san", "a b.example"],
        2,
        "contains whitespace",
    );
}

#[test]
fn name_with_a_space() {
    refused(&ca(), &["issue", "my host"], 2, "contains whitespace");
}

#[test]
fn san_with_an_empty_label() {
    refused(
        &ca(),
        &["issue", "web1", "--san", "a..example.org"],
        2,
        "empty label",
    );
}

#[test]
fn san_with_a_label_over_63_bytes() {
    let long = format!("{}.example.org", "a".repeat(64));
    refused(&ca(), &["issue", "web1", "--san", &long], 2, "at most 63");
}

#[test]
fn san_over_253_bytes() {
    let long = vec!["a".repeat(50); 6].join(".");
    refused(&ca(), &["issue", "web1", "--san", &long], 2, "at most 253");
}

#[test]
fn bad_ip_addresses() {
    let env = ca();
    refused(
        &env,
        &["issue", "web1", "--san", "10.0.0.256"],
        2,
        "not a valid one",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "ip:10.0.0"],
        2,
        "not a valid IPv4 or IPv6 address",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "fe80::1::2"],
        2,
        "not a valid IPv6 address",
    );
}

#[test]
fn unknown_uri_forms() {
    let env = ca();
    refused(
        &env,
        &["issue", "web1", "--san", "mailto:ops"],
        2,
        "unknown URI form",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "uri:foo:bar"],
        2,
        "unknown URI form",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "spiffe:///no-host"],
        2,
        "no host",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "https://exa mple.org/"],
        2,
        "whitespace",
    );
}

#[test]
fn wildcards_in_the_wrong_place() {
    let env = ca();
    refused(
        &env,
        &["issue", "web1", "--san", "api.*.example.org"],
        2,
        "only allowed as the leftmost label",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "w*.example.org"],
        2,
        "must be a whole label",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "*.org"],
        2,
        "at least two labels",
    );
    refused(
        &env,
        &["issue", "web1", "--san", "email:ops@*.example.org"],
        2,
        "not allowed here",
    );
}

#[test]
fn invalid_internationalized_name() {
    refused(
        &ca(),
        &["issue", "web1", "--san", "xn--zz.example"],
        2,
        "internationalized",
    );
}

#[test]
fn unknown_profile() {
    refused(
        &ca(),
        &["issue", "web1", "--profile", "webserver"],
        2,
        "unknown profile 'webserver'",
    );
}

#[test]
fn unknown_key_type() {
    refused(
        &ca(),
        &["issue", "web1", "--key", "dsa-1024"],
        2,
        "unknown key type 'dsa-1024'",
    );
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
fn name_already_issued_without_force() {
    let env = ca();
    env.uca_pass().args(["issue", "web1"]).assert().success();
    refused(&env, &["issue", "web1"], 5, "already has a certificate");
    // A batch with one conflict issues nothing at all.
    refused(
        &env,
        &["issue", "web2", "web1", "web3"],
        5,
        "'web1' already has a certificate",
    );
    assert!(!env.issued("web2", "cert.pem").exists());
}

#[test]
fn one_bad_name_in_a_batch_issues_nothing() {
    refused(
        &ca(),
        &["issue", "good1", "bad_name", "good2"],
        2,
        "underscores",
    );
}

#[test]
fn the_same_name_twice_in_one_call() {
    refused(&ca(), &["issue", "web1", "WEB1"], 2, "named twice");
}

#[test]
fn zero_days() {
    refused(
        &ca(),
        &["issue", "web1", "--days", "0"],
        2,
        "--days must be at least 1",
    );
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
fn sign_out_into_a_missing_directory() {
    let env = ca();
    let csr = make_csr(&env.path("app.csr"), EC_P256, "/CN=app1", &[]);
    let out_file = env.path("nope/app.crt");
    refused(
        &env,
        &["sign", csr.utf8(), "--out", out_file.utf8()],
        2,
        "does not exist",
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

#[test]
fn show_unknown_name() {
    refused(
        &ca(),
        &["show", "nobody"],
        2,
        "nothing in the ledger matches 'nobody'",
    );
}
