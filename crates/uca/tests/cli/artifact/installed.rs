//! `uca artifact verify --content` and `--installed`: the files a release installed, judged
//! against the attested manifest and its sidecar like `rpm -V` (modified, missing, extra, mode,
//! link, type), with the policy's mutable paths allowed.

use crate::support::artifact::*;
use crate::support::*;

#[test]
fn changed_file_is_reported_modified_with_content() {
    let env = TempCa::new();
    signed_release(&env);
    let args = ["rel/M", "--require", "build", "--content", "tree"];
    let (c, v) = verify_json(&env, &args);
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["content"]["ok"], true, "{v:#}");
    assert_eq!(v["content"]["checked"], 3, "{v:#}");
    write(&env.path("tree/lib/data.bin"), b"patched");
    let (c, v) = verify_json(&env, &args);
    assert_eq!(c, 7, "{v:#}");
    // (What "holds" says here is json_holds_is_the_overall_verdict's business.)
    // The signatures are fine; the files are not.
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    let f = v["content"]["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["change"], "modified");
    assert_eq!(f[0]["path"], "lib/data.bin");
    assert_eq!(f[0]["allowed"], false);
    let human = expect(&verify(&env, &args), 7);
    assert!(
        human.contains("modified") && human.contains("lib/data.bin"),
        "{human}"
    );
}

#[test]
fn installed_tree_reports_every_kind_of_change() {
    let env = TempCa::new();
    signed_release(&env);
    let policy = env.path("policy.toml");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\nmutable = [\"etc/*.conf\"]\n",
    );
    let tree = env.path("tree");
    let args = ["rel/M", "--policy", policy.utf8(), "--installed", "tree"];
    let check = |want_code: i32| -> Vec<serde_json::Value> {
        let (c, v) = verify_json(&env, &args);
        assert_eq!(c, want_code, "{v:#}");
        assert_eq!(v["meta_covered"], true, "{v:#}");
        assert!(
            v.get("content").is_none() || v["content"].is_null(),
            "{v:#}"
        );
        v["installed"]["findings"].as_array().unwrap().clone()
    };
    assert!(check(0).is_empty());
    let only = |findings: &[serde_json::Value], change: &str, path: &str| {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0]["change"], change, "{findings:#?}");
        assert_eq!(findings[0]["path"], path, "{findings:#?}");
        assert_eq!(findings[0]["allowed"], false, "{findings:#?}");
    };

    // Extra file.
    write(&tree.join("lib/extra.so"), b"dropped in\n");
    only(&check(7), "extra", "lib/extra.so");
    std::fs::remove_file(tree.join("lib/extra.so")).unwrap();
    // Missing file.
    let data = std::fs::read(tree.join("lib/data.bin")).unwrap();
    std::fs::remove_file(tree.join("lib/data.bin")).unwrap();
    only(&check(7), "missing", "lib/data.bin");
    write(&tree.join("lib/data.bin"), &data);
    chmod(&tree.join("lib/data.bin"), 0o644);
    assert!(check(0).is_empty());
    // Modified file (same mode).
    let app = std::fs::read(tree.join("bin/app")).unwrap();
    write(&tree.join("bin/app"), b"#!/bin/sh\necho trojan\n");
    only(&check(7), "modified", "bin/app");
    write(&tree.join("bin/app"), &app);
    // Mode change.
    chmod(&tree.join("bin/app"), 0o777);
    let f = check(7);
    only(&f, "mode", "bin/app");
    assert!(f[0]["detail"].as_str().unwrap().contains("0777"), "{f:#?}");
    assert!(f[0]["detail"].as_str().unwrap().contains("0755"), "{f:#?}");
    chmod(&tree.join("bin/app"), 0o755);
    // Symlink retargeted.
    std::fs::remove_file(tree.join("current")).unwrap();
    std::os::unix::fs::symlink("etc/app.conf", tree.join("current")).unwrap();
    only(&check(7), "link", "current");
    std::fs::remove_file(tree.join("current")).unwrap();
    std::os::unix::fs::symlink("bin/app", tree.join("current")).unwrap();
    assert!(check(0).is_empty());

    // A mutable path changed: reported, allowed, the policy holds.
    write(&tree.join("etc/app.conf"), b"level = debug\n");
    let f = check(0);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["change"], "modified");
    assert_eq!(f[0]["path"], "etc/app.conf");
    assert_eq!(f[0]["allowed"], true);
    let human = expect(&verify(&env, &args), 0);
    assert!(human.contains("mutable: allowed"), "{human}");
    // ... but not together with anything else.
    write(&tree.join("stray"), b"x\n");
    let f = check(7);
    assert_eq!(f.len(), 2, "{f:#?}");
    let human = expect(&verify(&env, &args), 7);
    assert!(
        human.contains("extra") && human.contains("stray"),
        "{human}"
    );
    // Without the policy nothing is mutable.
    std::fs::remove_file(tree.join("stray")).unwrap();
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--installed", "tree"],
    );
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["installed"]["findings"][0]["allowed"], false, "{v:#}");
}

/// The attested sidecar says `bin/app` is a regular file with mode 0755: a symbolic link in its
/// place (here to a 0600 copy outside the tree, same bytes today) is a change `--installed` must
/// report, like `rpm -V` reports a file type change.
#[test]

fn installed_file_replaced_by_a_symlink_is_reported() {
    let env = TempCa::new();
    signed_release(&env);
    let tree = env.path("tree");
    let outside = env.path("elsewhere/app");
    copy(&tree.join("bin/app"), &outside);
    chmod(&outside, 0o600);
    std::fs::remove_file(tree.join("bin/app")).unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("bin/app")).unwrap();
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--installed", "tree"],
    );
    assert_eq!(v["meta_covered"], true, "{v:#}");
    let findings = v["installed"]["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["path"] == "bin/app" && f["allowed"] == false),
        "no finding for bin/app: {v:#}"
    );
    assert_eq!(c, 7, "{v:#}");
}

/// Regression: `--installed current` (a symbolic link to the release) judged the link, not the
/// tree it points to, with or without a trailing slash.
#[test]
fn installed_tree_behind_a_symlinked_root_is_judged() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("ci-build", &["--profile", "code-signing"]);
    write(&env.path("releases/1/bin/app"), b"#!/bin/sh\necho v1\n");
    write(&env.path("releases/1/etc/app.conf"), b"level = info\n");
    expect(
        &env.run(&[
            "artifact",
            "manifest",
            "--base",
            "releases/1",
            "releases/1",
            "--out",
            "M",
        ]),
        0,
    );
    expect(
        &env.run(&[
            "artifact", "attest", "M", "--cert", "ci-build", "--stage", "build",
        ]),
        0,
    );
    std::os::unix::fs::symlink("releases/1", env.path("current")).unwrap();
    for root in ["current", "current/"] {
        let all = expect(
            &env.run(&[
                "artifact",
                "verify",
                "M",
                "--require",
                "build",
                "--installed",
                root,
            ]),
            0,
        );
        assert!(all.contains("HOLDS"), "{root}: {all}");
        assert!(!all.contains("extra"), "{root}: {all}");
        assert!(!all.contains("missing"), "{root}: {all}");
    }
    write(&env.path("releases/1/etc/app.conf"), b"level = debug\n");
    for root in ["current", "current/"] {
        let all = expect(
            &env.run(&[
                "artifact",
                "verify",
                "M",
                "--require",
                "build",
                "--installed",
                root,
            ]),
            7,
        );
        assert!(
            all.contains("modified") && all.contains("etc/app.conf"),
            "{root}: {all}"
        );
    }
}
