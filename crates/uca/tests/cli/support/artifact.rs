//! A release to attest (`release`, `signed_release`) and the verdict of `uca artifact verify`
//! (`verify_json`, `assert_fails`).

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use super::ca::TempCa;
use super::files::{chmod, write};
use super::process::{code, expect, text};

/// `uca artifact manifest ARGS` on the env's CA, run in the env's dir.
pub fn manifest(env: &TempCa, args: &[&str]) -> Output {
    env.uca()
        .args(["artifact", "manifest"])
        .args(args)
        .output()
        .unwrap()
}

/// A small release tree `tree/` (an executable, a config, data, a symlink) and its manifest
/// `rel/M` (+ `rel/M.meta`), built with `--base tree tree --out rel/M`. Returns the manifest.
pub fn release(env: &TempCa) -> PathBuf {
    let tree = env.path("tree");
    write(&tree.join("bin/app"), b"#!/bin/sh\necho app v1\n");
    chmod(&tree.join("bin/app"), 0o755);
    write(&tree.join("etc/app.conf"), b"level = info\n");
    chmod(&tree.join("etc/app.conf"), 0o644);
    write(&tree.join("lib/data.bin"), &[0u8, 1, 2, 3, 255, 254]);
    chmod(&tree.join("lib/data.bin"), 0o644);
    std::os::unix::fs::symlink("bin/app", tree.join("current")).unwrap();
    std::fs::create_dir_all(env.path("rel")).unwrap();
    expect(
        &manifest(env, &["--base", "tree", "tree", "--out", "rel/M"]),
        0,
    );
    env.path("rel/M")
}

/// A plain CA with a code-signing certificate `ci-build`, the [`release`], and its `build`
/// attestation `rel/M.build.p7s`. Returns the manifest.
pub fn signed_release(env: &TempCa) -> PathBuf {
    env.init_plain(&[]);
    let m = release(env);
    env.issue("ci-build", &["--profile", "code-signing"]);
    attest(env, "rel/M", "ci-build", "build");
    m
}

/// `uca artifact attest MANIFEST --cert NAME --stage STAGE`, asserting success.
pub fn attest(env: &TempCa, manifest: &str, cert: &str, stage: &str) {
    let out = env
        .uca()
        .args([
            "artifact", "attest", manifest, "--cert", cert, "--stage", stage,
        ])
        .output()
        .unwrap();
    expect(&out, 0);
}

/// `uca artifact verify ARGS` against the env's CA (run in the env's dir).
pub fn verify(env: &TempCa, args: &[&str]) -> Output {
    env.uca()
        .args(["artifact", "verify"])
        .args(args)
        .output()
        .unwrap()
}

/// `uca --json artifact verify ARGS`: (exit code, report).
pub fn verify_json(env: &TempCa, args: &[&str]) -> (i32, Value) {
    let out = env
        .uca()
        .args(["--json", "artifact", "verify"])
        .args(args)
        .output()
        .unwrap();
    let c = code(&out);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out)));
    (c, v)
}

/// The report row of one stage.
pub fn row<'a>(report: &'a Value, stage: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["stage"] == stage)
        .unwrap_or_else(|| panic!("no row for stage {stage}: {report:#}"))
}

/// All problems (or notes) of a row, joined.
pub fn words(row: &Value, key: &str) -> String {
    row[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Runs verify --json and asserts exit 7 with `want` among the problems of `stage`, and the
/// same words in the human table.
pub fn assert_fails(env: &TempCa, args: &[&str], stage: &str, want: &str) -> Value {
    let (c, v) = verify_json(env, args);
    assert_eq!(c, 7, "{args:?} should not hold: {v:#}");
    assert_eq!(v["holds"], false, "{v:#}");
    let r = row(&v, stage);
    assert_eq!(r["ok"], false, "{v:#}");
    let p = words(r, "problems");
    assert!(p.contains(want), "expected {want:?} in the problems: {p}");
    let out = verify(env, args);
    let all = expect(&out, 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains(want), "expected {want:?} in the table:\n{all}");
    v
}
