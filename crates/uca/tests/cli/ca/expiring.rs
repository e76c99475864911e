//! `uca expiring` as a monitoring check (colors, dates, exit codes 0-3), and the lifecycle
//! states `list` and `show` report.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::*;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

/// `uca expiring ARGS` (no passphrase: a monitoring check must not need one).
fn expiring(env: &TempCa, args: &[&str]) -> Output {
    env.uca()
        .arg("expiring")
        .args(args)
        .output()
        .expect("run uca expiring")
}

/// `uca expiring --json ARGS`: the exit code and the one JSON document on stdout (anything after
/// it, or anything on stderr, fails the test).
fn check_json(env: &TempCa, args: &[&str]) -> (i32, Value) {
    let out = expiring(env, &[&["--json"], args].concat());
    assert!(
        out.stderr.is_empty(),
        "stderr must be empty on success: {}",
        stderr(&out)
    );
    let mut docs = serde_json::Deserializer::from_slice(&out.stdout).into_iter::<Value>();
    let v = docs
        .next()
        .expect("a JSON document")
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stdout(&out)));
    assert!(
        docs.next().is_none(),
        "more than one document: {}",
        stdout(&out)
    );
    (code(&out), v)
}

/// `uca expiring --summary ARGS`: exit code and the single stdout line (without its newline).
fn summary(env: &TempCa, args: &[&str]) -> (i32, String) {
    let out = expiring(env, &[&["--summary"], args].concat());
    let text = stdout(&out);
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "--summary prints exactly one line: {text:?}"
    );
    (code(&out), text.trim_end_matches('\n').to_string())
}

fn rows(v: &Value) -> &Vec<Value> {
    v["certificates"].as_array().expect("certificates array")
}

fn row<'a>(v: &'a Value, name: &str) -> &'a Value {
    let found: Vec<&Value> = rows(v).iter().filter(|r| r["name"] == name).collect();
    assert_eq!(found.len(), 1, "exactly one row for {name}: {v}");
    found[0]
}

fn names(v: &Value) -> Vec<String> {
    rows(v)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn rfc3339(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().expect("a timestamp string"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap_or_else(|e| panic!("not RFC 3339 ({e}): {v}"))
}

/// notAfter as openssl reads it from the file.
fn openssl_not_after(cert: &Path) -> OffsetDateTime {
    openssl_date("x509", cert, "-enddate", "notAfter")
}

/// The serial in the ledger's spelling (lower-case hex).
fn openssl_serial(cert: &Path) -> String {
    serial_of(cert).to_lowercase()
}

/// A CA named "Test Root" with `soon` (3 days: red), `mid` (20 days: yellow) and `web` (397
/// days: green) under the default thresholds.
fn three_colors() -> TempCa {
    let env = TempCa::new();
    env.init_plain(&["--name", "Test Root"]);
    for (name, days) in [("soon", "3"), ("mid", "20")] {
        env.uca()
            .args(["issue", name, "--days", days])
            .assert()
            .success();
    }
    env.uca().args(["issue", "web"]).assert().success();
    env
}

/// `uca sign` of a fresh CSR for NAME whose delivery fails (stdout is /dev/full), so the
/// ledger row ends up `void`.
fn void_certificate(env: &TempCa, name: &str, days: &str) {
    let csr = make_csr(
        &env.path(&format!("{name}.csr")),
        EC_P256,
        &format!("/CN={name}"),
        &[],
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = env
        .uca_std()
        .args(["sign", csr.utf8(), "--days", days])
        .stdin(Stdio::null())
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success(), "writing to /dev/full must fail");
}

/// Serials the ledger (via `list --json`) holds with the given status.
fn serials_with_status(env: &TempCa, status: &str) -> BTreeSet<String> {
    env.json(&["list"])["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["serial"].as_str().unwrap().to_string())
        .collect()
}

/// A CA in every lifecycle state: `soon` revoked (keyCompromise), `mid` superseded by a
/// 397-day successor, `ghost` void, `web` issued. Returns (old mid serial, new mid serial).
fn lifecycle() -> (TempCa, String, String) {
    let env = three_colors();
    let old_mid = env.json(&["show", "mid"])["record"]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    env.uca()
        .args(["revoke", "soon", "--reason", "keyCompromise"])
        .assert()
        .success();
    env.uca()
        .args(["issue", "mid", "--force"])
        .assert()
        .success();
    let new_mid = env.json(&["show", "mid"])["record"]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(old_mid, new_mid);
    void_certificate(&env, "ghost", "2");
    (env, old_mid, new_mid)
}

/// An all-green CA is OK (exit 0) in every output mode, with the plugin-style summary line and perfdata.
#[test]
fn all_green_is_ok_with_summary_and_perfdata() {
    let env = TempCa::new();
    env.init_plain(&["--name", "Test Root"]);
    env.uca().args(["issue", "web"]).assert().success();

    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["status"], "OK");
    assert_eq!(v["warn"], "30d");
    assert_eq!(v["crit"], "7d");
    assert_eq!(
        (v["green"].as_u64(), v["yellow"].as_u64(), v["red"].as_u64()),
        (Some(2), Some(0), Some(0))
    );
    assert_eq!(names(&v), ["web", "Test Root"]);
    let web_day = &row(&v, "web")["not_after"].as_str().unwrap()[..10];

    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 0, "{line}");
    let prefix = "UCA EXPIRY OK - 0 red, 0 yellow, 2 green; soonest: web expires in ";
    let suffix = format!(" ({web_day}) | red=0 yellow=0 green=2");
    assert!(
        line.starts_with(prefix) && line.ends_with(&suffix),
        "{line}"
    );
    let left = &line[prefix.len()..line.len() - suffix.len()];
    assert!(
        left.starts_with("396d"),
        "time left of a 397-day certificate: {line}"
    );
    let (_, perf) = line.split_once(" | ").unwrap();
    assert_eq!(perf, "red=0 yellow=0 green=2");

    let out = expiring(&env, &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("COLOR"), "{text}");
    assert!(
        text.lines().skip(1).all(|l| l.starts_with("green")),
        "{text}"
    );
}

/// One certificate inside --warn makes the check WARNING (exit 1); nothing else changes color.
#[test]
fn a_yellow_certificate_is_a_warning() {
    let env = TempCa::new();
    env.init_plain(&["--name", "Test Root"]);
    env.uca().args(["issue", "web"]).assert().success();
    env.uca()
        .args(["issue", "mid", "--days", "20"])
        .assert()
        .success();

    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["status"], "WARNING");
    assert_eq!(
        (v["green"].as_u64(), v["yellow"].as_u64(), v["red"].as_u64()),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(row(&v, "mid")["color"], "yellow");
    assert_eq!(row(&v, "web")["color"], "green");
    assert_eq!(row(&v, "Test Root")["color"], "green");

    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 1, "{line}");
    assert!(
        line.starts_with(
            "UCA EXPIRY WARNING - 0 red, 1 yellow, 2 green; soonest: mid expires in 19d"
        ),
        "{line}"
    );
    assert!(line.ends_with(" | red=0 yellow=1 green=2"), "{line}");
    assert_eq!(code(&expiring(&env, &[])), 1);
}

/// A CA certificate itself inside --warn (`init --days 20`) is a WARNING row of its own.
#[test]
fn a_ca_near_its_end_is_yellow_itself() {
    let env = TempCa::new();
    env.init_plain(&["--name", "Short Root", "--days", "20"]);
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["status"], "WARNING");
    assert_eq!(rows(&v).len(), 1, "{v}");
    let ca = row(&v, "Short Root");
    assert_eq!(ca["color"], "yellow");
    assert_eq!(ca["profile"], "root");
    assert_eq!(rfc3339(&ca["not_after"]), openssl_not_after(&env.ca_cert()));
}

/// A certificate inside --crit is CRITICAL (exit 2); the CA's own certificate is one of the rows.
#[test]
fn a_red_certificate_is_critical_and_the_ca_is_a_row() {
    let env = three_colors();

    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 2, "{v}");
    assert_eq!(v["status"], "CRITICAL");
    assert_eq!(
        (v["green"].as_u64(), v["yellow"].as_u64(), v["red"].as_u64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(row(&v, "soon")["color"], "red");
    assert_eq!(row(&v, "soon")["expired"], false);
    let ca = row(&v, "Test Root");
    assert_eq!(ca["profile"], "root");
    assert_eq!(ca["color"], "green");
    assert_eq!(
        ca["serial"].as_str().unwrap(),
        openssl_serial(&env.ca_cert())
    );
    assert_eq!(rfc3339(&ca["not_after"]), openssl_not_after(&env.ca_cert()));
    let soon_day = &row(&v, "soon")["not_after"].as_str().unwrap()[..10];

    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 2, "{line}");
    assert_eq!(
        line,
        format!(
            "UCA EXPIRY CRITICAL - 1 red, 1 yellow, 2 green; soonest: soon expires in 2d 23h ({soon_day}) | red=1 yellow=1 green=2"
        )
    );

    let out = expiring(&env, &[]);
    assert_eq!(code(&out), 2);
    let text = stdout(&out);
    let first = text.lines().nth(1).unwrap();
    assert!(first.starts_with("red") && first.contains("soon"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("green") && l.contains("Test Root")),
        "{text}"
    );
}

/// yellow_at and red_at are exactly notAfter − warn and notAfter − crit (notAfter as openssl
/// reads the files); custom --warn/--crit (w, m, h, bare days) move both colors and dates.
#[test]
fn yellow_and_red_dates_are_not_after_minus_warn_and_crit() {
    let env = three_colors();
    let files = [
        ("soon", env.issued("soon", "cert.pem")),
        ("mid", env.issued("mid", "cert.pem")),
        ("web", env.issued("web", "cert.pem")),
        ("Test Root", env.ca_cert()),
    ];
    let check_dates = |v: &Value, warn: Duration, crit: Duration| {
        for (name, file) in &files {
            let r = row(v, name);
            let not_after = openssl_not_after(file);
            assert_eq!(rfc3339(&r["not_after"]), not_after, "{name}");
            assert_eq!(rfc3339(&r["yellow_at"]), not_after - warn, "{name}: {r}");
            assert_eq!(rfc3339(&r["red_at"]), not_after - crit, "{name}: {r}");
            assert_eq!(
                r["serial"].as_str().unwrap(),
                openssl_serial(file),
                "{name}"
            );
            let left = (not_after - OffsetDateTime::now_utc()).whole_seconds();
            let secs = r["seconds_left"].as_i64().unwrap();
            assert!(
                (left..=left + 60).contains(&secs),
                "{name}: {secs} vs {left}"
            );
        }
    };

    // Defaults: 30d / 7d.
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 2);
    check_dates(&v, Duration::days(30), Duration::days(7));

    // --warn 2w --crit 90m: soon (3 days) is only yellow, mid (20 days) is green.
    let (rc, v) = check_json(&env, &["--warn", "2w", "--crit", "90m"]);
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["warn"], "14d");
    check_dates(&v, Duration::days(14), Duration::minutes(90));
    assert_eq!(row(&v, "soon")["color"], "yellow");
    assert_eq!(row(&v, "mid")["color"], "green");

    // Bare numbers are days: --warn 45 --crit 21 makes mid (20 days) red too.
    let (rc, v) = check_json(&env, &["--warn", "45", "--crit", "21"]);
    assert_eq!(rc, 2, "{v}");
    assert_eq!(
        (v["warn"].as_str(), v["crit"].as_str()),
        (Some("45d"), Some("21d"))
    );
    check_dates(&v, Duration::days(45), Duration::days(21));
    assert_eq!(row(&v, "mid")["color"], "red");
    assert_eq!(row(&v, "soon")["color"], "red");
    assert_eq!(row(&v, "web")["color"], "green");

    // Hours, and crit == warn is allowed: 12h leaves everything green.
    let (rc, v) = check_json(&env, &["--warn", "12h", "--crit", "12h"]);
    assert_eq!(rc, 0, "{v}");
    assert_eq!(v["warn"], "12h");
    check_dates(&v, Duration::hours(12), Duration::hours(12));

    // A year of warning turns the 397-day certificate yellow, not the 10-year CA.
    let (rc, v) = check_json(&env, &["--warn", "1y", "--crit", "1d"]);
    assert_eq!(rc, 1, "{v}");
    assert_eq!(v["warn"], "365d");
    check_dates(&v, Duration::days(365), Duration::days(1));
    assert_eq!(row(&v, "web")["color"], "green", "397 days > 1y");
    let (_, v) = check_json(&env, &["--warn", "400", "--crit", "1d"]);
    assert_eq!(row(&v, "web")["color"], "yellow");
    assert_eq!(row(&v, "Test Root")["color"], "green");

    // The text table shows the same dates, to the minute.
    let out = expiring(&env, &[]);
    let soon = openssl_not_after(&env.issued("soon", "cert.pem"));
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let line = stdout(&out)
        .lines()
        .find(|l| l.contains(" soon "))
        .unwrap()
        .to_string();
    for t in [soon, soon - Duration::days(30), soon - Duration::days(7)] {
        let s = t.format(&fmt).unwrap();
        assert!(line.contains(&s), "{s} not in {line}");
    }
}

/// --within keeps only certificates expiring inside the span, and the status covers only those.
#[test]
fn within_keeps_only_what_expires_inside_the_span() {
    let env = three_colors();
    let cases: &[(&str, &[&str], i32)] = &[
        ("2d", &[], 0),
        ("12h", &[], 0),
        ("10d", &["soon"], 2),
        ("30d", &["soon", "mid"], 2),
        ("1y", &["soon", "mid"], 2),
        ("400", &["soon", "mid", "web"], 2),
        ("11y", &["soon", "mid", "web", "Test Root"], 2),
    ];
    for (span, want, want_rc) in cases {
        let (rc, v) = check_json(&env, &["--within", span]);
        assert_eq!(names(&v), *want, "--within {span}: {v}");
        assert_eq!(rc, *want_rc, "--within {span}: {v}");
        let n = v["green"].as_u64().unwrap()
            + v["yellow"].as_u64().unwrap()
            + v["red"].as_u64().unwrap();
        assert_eq!(n as usize, want.len(), "{v}");
    }
    // Nothing inside the span: OK, with an empty list, no "soonest", and a plain-text note.
    let (_, v) = check_json(&env, &["--within", "2d"]);
    assert_eq!(v["status"], "OK");
    assert_eq!(v["certificates"], serde_json::json!([]));
    let (rc, line) = summary(&env, &["--within", "2d"]);
    assert_eq!(rc, 0);
    assert_eq!(
        line,
        "UCA EXPIRY OK - 0 red, 0 yellow, 0 green | red=0 yellow=0 green=0"
    );
    let out = expiring(&env, &["--within", "2d"]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out).trim(), "nothing to watch");
    // The warn window does not filter by itself: --within 30d with --warn 10d shows mid green.
    let (rc, v) = check_json(&env, &["--within", "30d", "--warn", "10d", "--crit", "1d"]);
    assert_eq!(rc, 1, "soon is yellow under --crit 1d: {v}");
    assert_eq!(row(&v, "mid")["color"], "green");
}

/// Revoked, superseded and void certificates are not watched; only each NAME's current one is.
#[test]
fn revoked_superseded_and_void_certificates_are_not_watched() {
    let env = three_colors();
    assert_eq!(
        code(&expiring(&env, &[])),
        2,
        "soon is red before it is revoked"
    );

    env.uca().args(["revoke", "soon"]).assert().success();
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 1, "revoked soon no longer counts; mid is yellow: {v}");
    assert!(!names(&v).contains(&"soon".to_string()), "{v}");

    let old_mid = row(&v, "mid")["serial"].as_str().unwrap().to_string();
    env.uca()
        .args(["issue", "mid", "--force"])
        .assert()
        .success();
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 0, "the superseded 20-day mid no longer counts: {v}");
    let mid = row(&v, "mid");
    assert_ne!(mid["serial"].as_str().unwrap(), old_mid);
    assert_eq!(
        mid["serial"].as_str().unwrap(),
        openssl_serial(&env.issued("mid", "cert.pem"))
    );

    void_certificate(&env, "ghost", "2");
    assert_eq!(
        serials_with_status(&env, "void").len(),
        1,
        "the sign left a void row"
    );
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 0, "a void 2-day certificate is not watched: {v}");

    // Exactly the ledger's `issued` rows, nothing else.
    let watched: BTreeSet<String> = rows(&v)
        .iter()
        .map(|r| r["serial"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(watched, serials_with_status(&env, "issued"));
    // web and the re-issued mid have the same lifetime, so their order depends on whether a
    // second passed between the two issues: check the set, and that the soonest come first.
    let mut listed = names(&v);
    assert_eq!(listed.pop().as_deref(), Some("Test Root"), "{v}");
    listed.sort();
    assert_eq!(listed, ["mid", "web"]);
    let not_afters: Vec<&str> = rows(&v)
        .iter()
        .map(|r| r["not_after"].as_str().unwrap())
        .collect();
    assert!(not_afters.is_sorted(), "soonest first: {not_afters:?}");
    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 0);
    assert!(line.ends_with("| red=0 yellow=0 green=3"), "{line}");
}

/// `list` and `show` report every lifecycle state: issued, revoked (with reason), superseded
/// (with its successor and in the NAME's history) and void.
#[test]
fn list_and_show_report_lifecycle_states() {
    let (env, old_mid, new_mid) = lifecycle();

    let v = env.json(&["list"]);
    let all = v["certificates"].as_array().unwrap();
    let by = |name: &str, status: &str| -> Vec<&Value> {
        all.iter()
            .filter(|r| r["name"] == name && r["status"] == status)
            .collect()
    };
    assert_eq!(by("Test Root", "issued").len(), 1);
    assert_eq!(by("web", "issued").len(), 1);
    let soon = by("soon", "revoked");
    assert_eq!(soon.len(), 1, "{v}");
    assert_eq!(soon[0]["revocation_reason"], "keyCompromise");
    assert!(!soon[0]["revoked_at"].is_null(), "{}", soon[0]);
    let sup = by("mid", "superseded");
    assert_eq!(sup.len(), 1, "{v}");
    assert_eq!(sup[0]["serial"], old_mid.as_str());
    assert_eq!(sup[0]["superseded_by"], new_mid.as_str());
    let cur = by("mid", "issued");
    assert_eq!(cur.len(), 1, "{v}");
    assert_eq!(cur[0]["serial"], new_mid.as_str());
    assert!(cur[0]["superseded_by"].is_null());
    assert_eq!(by("ghost", "void").len(), 1, "{v}");
    assert_eq!(all.len(), 6, "{v}");

    // list --status filters by state.
    for (status, want) in [
        ("revoked", vec!["soon"]),
        ("superseded", vec!["mid"]),
        ("void", vec!["ghost"]),
        ("issued", vec!["Test Root", "web", "mid"]),
    ] {
        let v = env.json(&["list", "--status", status]);
        let got: BTreeSet<&str> = v["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            got,
            want.into_iter().collect::<BTreeSet<_>>(),
            "--status {status}"
        );
    }
    let out = env.uca().args(["list"]).output().unwrap();
    let text = stdout(&out);
    for (name, status) in [
        ("soon", "revoked"),
        ("mid", "superseded"),
        ("mid", "issued"),
        ("ghost", "void"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(name) && l.contains(&format!(" {status} "))),
            "{name} {status} in:\n{text}"
        );
    }

    // show NAME is the current certificate, with the superseded one in its history.
    let v = env.json(&["show", "mid"]);
    assert_eq!(v["record"]["serial"], new_mid.as_str());
    assert_eq!(v["record"]["status"], "issued");
    let history = v["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{v}");
    assert_eq!(history[0]["serial"], old_mid.as_str());
    assert_eq!(history[0]["status"], "superseded");
    let text = stdout(&env.uca().args(["show", "mid"]).output().unwrap());
    assert!(
        text.lines()
            .any(|l| l.starts_with("status") && l.contains("issued")),
        "{text}"
    );
    assert!(
        text.contains("earlier certificates for this name"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&old_mid) && l.contains("superseded")),
        "{text}"
    );

    // show SERIAL of the old one names its successor.
    let text = stdout(&env.uca().args(["show", &old_mid]).output().unwrap());
    assert!(
        text.lines()
            .any(|l| l.starts_with("status") && l.contains("superseded")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("superseded by") && l.trim_end().ends_with(&new_mid)),
        "{text}"
    );

    // Revoked and void, by name.
    let v = env.json(&["show", "soon"]);
    assert_eq!(v["record"]["status"], "revoked");
    assert_eq!(v["record"]["revocation_reason"], "keyCompromise");
    let text = stdout(&env.uca().args(["show", "soon"]).output().unwrap());
    assert!(
        text.lines()
            .any(|l| l.starts_with("status") && l.contains("revoked")),
        "{text}"
    );
    let v = env.json(&["show", "ghost"]);
    assert_eq!(v["record"]["status"], "void");
    assert_eq!(v["record"]["source"], "csr");
    let text = stdout(&env.uca().args(["show", "ghost"]).output().unwrap());
    assert!(
        text.lines()
            .any(|l| l.starts_with("status") && l.contains("void")),
        "{text}"
    );
}

/// No CA and bad arguments are UNKNOWN (exit 3): the error on stderr, with --summary also an
/// `UCA EXPIRY UNKNOWN - …` line on stdout, and nothing written anywhere.
#[test]
fn unknown_when_the_check_cannot_run() {
    let env = TempCa::new();
    // No CA.
    let out = expiring(&env, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert!(stderr(&out).contains("no CA"), "{}", stderr(&out));
    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 3);
    assert_eq!(
        line,
        format!("UCA EXPIRY UNKNOWN - no CA at {}", env.ca_dir().display())
    );
    assert_eq!(code(&expiring(&env, &["--json"])), 3);
    assert!(
        !env.ca_dir().exists(),
        "a check must not create the CA directory"
    );

    // Bad arguments on a real CA.
    env.init_plain(&[]);
    let before = snapshot(&env.ca_dir());
    let bad: &[(&[&str], &str)] = &[
        (&["--warn", "soon"], "--warn"),
        (
            &["--crit", "40d", "--warn", "30d"],
            "--crit is longer than --warn",
        ),
        (&["--crit", "40d"], "--crit is longer than --warn"),
        (&["--within", "soon"], "--within"),
        (&["--warn", "30D"], "--warn"),
        (&["--warn", "3x"], "--warn"),
        (&["--warn=-5d"], "--warn"),
        (&["--crit", ""], "--crit"),
    ];
    for (args, says) in bad {
        let out = expiring(&env, args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
        let (rc, line) = summary(&env, args);
        assert_eq!(rc, 3, "{args:?}");
        assert!(
            line.starts_with("UCA EXPIRY UNKNOWN - "),
            "{args:?}: {line}"
        );
        assert!(line.contains(says), "{args:?}: {line}");
        assert_eq!(
            code(&expiring(&env, &[&["--json"], *args].concat())),
            3,
            "{args:?}"
        );
    }
    assert_eq!(
        before,
        snapshot(&env.ca_dir()),
        "a failed check changed the CA"
    );
}

/// A ledger that is not a database is UNKNOWN (exit 3), not OK.
#[test]
fn an_unreadable_ledger_is_unknown() {
    let env = TempCa::new();
    env.init_plain_sqlite(&[]);
    let ledger = env.ca_dir().join("ledger.sqlite");
    let _ = std::fs::remove_file(env.ca_dir().join("ledger.sqlite-wal"));
    let _ = std::fs::remove_file(env.ca_dir().join("ledger.sqlite-shm"));
    std::fs::write(
        &ledger,
        b"this is not a database, just some text\n".repeat(200),
    )
    .unwrap();
    let out = expiring(&env, &[]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("ledger"), "{}", stderr(&out));
    let (rc, line) = summary(&env, &[]);
    assert_eq!(rc, 3);
    assert!(line.starts_with("UCA EXPIRY UNKNOWN - ledger"), "{line}");
    assert_eq!(code(&expiring(&env, &["--json"])), 3);
}

/// The check needs no passphrase on an encrypted CA and leaves the CA directory byte-for-byte unchanged.
#[test]
fn the_check_needs_no_passphrase_and_changes_nothing() {
    let env = TempCa::new();
    env.init(&[]);
    env.uca_pass()
        .args(["issue", "soon", "--days", "3"])
        .assert()
        .success();
    let before = snapshot(&env.ca_dir());
    for args in [&[][..], &["--summary"], &["--json"], &["--within", "5d"]] {
        let out = env
            .uca()
            .arg("expiring")
            .args(args)
            .write_stdin("")
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    assert_eq!(before, snapshot(&env.ca_dir()));
}

/// Without a terminal there are no ANSI codes in any mode; on a terminal the colors show,
/// unless NO_COLOR is set (an empty NO_COLOR does not count).
#[test]
fn colors_only_on_a_terminal_and_never_with_no_color() {
    let env = three_colors();
    for args in [&[][..], &["--summary"], &["--json"]] {
        let out = expiring(&env, args);
        assert_eq!(code(&out), 2);
        assert!(
            !stdout(&out).contains('\u{1b}'),
            "{args:?}: {:?}",
            stdout(&out)
        );
        let out = env
            .uca()
            .env("NO_COLOR", "1")
            .arg("expiring")
            .args(args)
            .output()
            .unwrap();
        assert!(
            !stdout(&out).contains('\u{1b}'),
            "{args:?}: {:?}",
            stdout(&out)
        );
    }

    let (rc, text) = on_terminal(&env, "expiring", &[], &[]);
    assert_eq!(rc, 2, "{text}");
    for (code, what) in [
        ("\u{1b}[31m", "red"),
        ("\u{1b}[33m", "yellow"),
        ("\u{1b}[32m", "green"),
    ] {
        assert!(text.contains(code), "{what} on a terminal: {text:?}");
    }
    let (rc, text) = on_terminal(&env, "expiring", &[], &[("NO_COLOR", "1")]);
    assert_eq!(rc, 2, "{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR: {text:?}");
    assert!(text.contains("red ") && text.contains("soon"), "{text:?}");
    let (_, text) = on_terminal(&env, "expiring", &[], &[("NO_COLOR", "")]);
    assert!(text.contains("\u{1b}[31m"), "empty NO_COLOR: {text:?}");
    // The monitoring formats stay plain even on a terminal.
    for args in ["expiring --summary", "expiring --json"] {
        let (rc, text) = on_terminal(&env, args, &[], &[]);
        assert_eq!(rc, 2, "{text}");
        assert!(!text.contains('\u{1b}'), "{args}: {text:?}");
    }
}

/// Rows are sorted soonest first (ties by name), in JSON and in the table alike.
#[test]
fn rows_are_sorted_soonest_first() {
    let env = TempCa::new();
    env.init_plain(&["--name", "Test Root"]);
    for args in [
        &["issue", "web"][..],
        &["issue", "d100", "--days", "100"],
        &["issue", "soon", "--days", "3"],
        &["issue", "zeta", "alpha", "--days", "50"],
        &["issue", "mid", "--days", "20"],
    ] {
        env.uca().args(args).assert().success();
    }
    let (rc, v) = check_json(&env, &[]);
    assert_eq!(rc, 2);
    let got = names(&v);
    let key = |r: &Value| {
        (
            rfc3339(&r["not_after"]),
            r["name"].as_str().unwrap().to_string(),
        )
    };
    let mut sorted = rows(&v).clone();
    sorted.sort_by_key(key);
    assert_eq!(
        sorted
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        got,
        "sorted by (notAfter, name)"
    );
    let without_tie: Vec<&str> = got
        .iter()
        .map(String::as_str)
        .filter(|n| *n != "zeta" && *n != "alpha")
        .collect();
    assert_eq!(without_tie, ["soon", "mid", "d100", "web", "Test Root"]);
    let (a, z) = (row(&v, "alpha"), row(&v, "zeta"));
    if a["not_after"] == z["not_after"] {
        let pos = |n: &str| got.iter().position(|g| g == n).unwrap();
        assert!(
            pos("alpha") < pos("zeta"),
            "same notAfter: by name: {got:?}"
        );
    }
    let secs: Vec<i64> = rows(&v)
        .iter()
        .map(|r| r["seconds_left"].as_i64().unwrap())
        .collect();
    assert!(secs.windows(2).all(|w| w[0] <= w[1]), "{secs:?}");

    let text = stdout(&expiring(&env, &[]));
    let table: Vec<String> = text
        .lines()
        .skip(1)
        .map(|l| {
            let after_color = l.split_at(8).1;
            after_color.split("  ").next().unwrap().trim().to_string()
        })
        .collect();
    assert_eq!(table, got, "{text}");
}

/// --json prints exactly one document with the documented keys and consistent counts, and
/// stderr stays empty on success (in every mode, for every status).
#[test]
fn json_is_one_document_and_stderr_is_silent() {
    let env = three_colors();
    for (args, status, rc_want) in [
        (&["--warn", "1h", "--crit", "1h"][..], "OK", 0),
        (&["--crit", "1h"][..], "WARNING", 1),
        (&[][..], "CRITICAL", 2),
    ] {
        let (rc, v) = check_json(&env, args);
        assert_eq!(rc, rc_want, "{args:?}: {v}");
        assert_eq!(v["status"], status);
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "certificates",
                "crit",
                "green",
                "red",
                "status",
                "warn",
                "yellow"
            ]
            .into_iter()
            .collect()
        );
        for color in ["green", "yellow", "red"] {
            let n = rows(&v).iter().filter(|r| r["color"] == color).count();
            assert_eq!(v[color].as_u64(), Some(n as u64), "{color}: {v}");
        }
        for r in rows(&v) {
            let keys: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "color",
                    "expired",
                    "name",
                    "not_after",
                    "profile",
                    "red_at",
                    "seconds_left",
                    "serial",
                    "yellow_at"
                ]
                .into_iter()
                .collect(),
                "{r}"
            );
            assert_eq!(r["expired"], false);
        }
        for mode in [&[][..], &["--summary"]] {
            let out = expiring(&env, &[mode, args].concat());
            assert_eq!(code(&out), rc_want);
            assert!(out.stderr.is_empty(), "{mode:?} {args:?}: {}", stderr(&out));
        }
    }
}

/// BUG (ignored until fixed): arguments clap rejects exit 2 (= CRITICAL), not 3 UNKNOWN.
#[test]
fn bug_clap_rejected_arguments_are_unknown_too() {
    let env = TempCa::new();
    env.init_plain(&[]);
    for args in [
        &["--warn", "-5d"][..],
        &["--bogus"],
        &["--warn"],
        &["--summary", "--bogus"],
    ] {
        let out = expiring(&env, args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
    }
}

/// BUG (ignored until fixed): huge spans panic (exit 101) instead of UNKNOWN.
#[test]
fn bug_huge_spans_are_unknown_not_a_panic() {
    let env = TempCa::new();
    env.init_plain(&[]);
    for args in [
        &["--warn", "9999999999999999d"][..],
        &["--warn", "99999999999999w", "--crit", "1"],
        &["--warn", "20000y", "--crit", "1"],
    ] {
        let out = expiring(&env, args);
        assert_eq!(code(&out), 3, "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// BUG (ignored until fixed): a deleted ledger is silently recreated empty and reported OK.
#[test]
fn bug_a_missing_ledger_is_unknown() {
    let env = TempCa::new();
    env.init_plain_sqlite(&[]);
    env.uca()
        .args(["issue", "soon", "--days", "3"])
        .assert()
        .success();
    for f in ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"] {
        let _ = std::fs::remove_file(env.ca_dir().join(f));
    }
    let out = expiring(&env, &["--summary"]);
    assert_eq!(code(&out), 3, "{}", stdout(&out));
    assert!(
        !env.ca_dir().join("ledger.sqlite").exists(),
        "a check must not create a new, empty ledger"
    );
}
