//! `uca artifact manifest`: byte for byte the text GNU sha256sum prints (and `sha256sum -c`
//! accepts), the same for the same content in any order and at any time, written with `--out`
//! without overwriting, leaving out exactly the manifest's own files.

use std::path::Path;
use std::process::Output;

use crate::support::artifact::*;
use crate::support::*;

/// The coreutils text for `sha256sum -- FILES` run in `dir`.
fn sha256sum_in(dir: &Path, files: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("sha256sum")
        .arg("--")
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

#[test]
fn manifest_is_byte_for_byte_sha256sum_and_sha256sum_c_accepts_it() {
    let env = TempCa::new();
    // A simple tree whose names test bytewise order: upper case first, '-' < '/' < '0'.
    let simple = env.path("simple");
    for (name, data) in [
        ("B.txt", "upper\n"),
        ("a-b", "dash\n"),
        ("a/b", "slash\n"),
        ("a0", "zero\n"),
        ("lib/deep/x.so", "so\n"),
        ("z", ""),
    ] {
        write(&simple.join(name), data.as_bytes());
    }
    let ours = uca_bare()
        .current_dir(&simple)
        .args(["artifact", "manifest", "."])
        .output()
        .unwrap();
    expect(&ours, 0);
    let expected = std::process::Command::new("sh")
        .arg("-c")
        .arg("find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum --")
        .current_dir(&simple)
        .output()
        .unwrap();
    assert!(expected.status.success(), "{}", text(&expected));
    assert!(!expected.stdout.is_empty());
    assert_eq!(
        stdout(&ours),
        stdout(&expected),
        "uca's manifest differs from find | LC_ALL=C sort | sha256sum"
    );
    // The same bytes from outside with --base.
    let based = manifest(&env, &["--base", "simple", "simple"]);
    expect(&based, 0);
    assert_eq!(based.stdout, expected.stdout);
    let check = std::process::Command::new("sha256sum")
        .args(["--strict", "-c", "-"])
        .current_dir(&simple)
        .stdin(
            std::fs::File::open({
                let p = env.path("simple.sums");
                std::fs::write(&p, &ours.stdout).unwrap();
                p
            })
            .unwrap(),
        )
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));

    // Odd names: a space, a backslash, a newline (coreutils escapes the last two).
    let odd = env.path("odd");
    let names = ["with space", "back\\slash", "new\nline", "sub/plain"];
    for (i, n) in names.iter().enumerate() {
        write(&odd.join(n), format!("content {i}\n").as_bytes());
    }
    let out = manifest(&env, &["--base", "odd", "odd", "--out", "odd.sums"]);
    expect(&out, 0);
    let manifest = std::fs::read(env.path("odd.sums")).unwrap();
    // Each line is exactly what sha256sum prints for that file.
    for n in names {
        let line = sha256sum_in(&odd, &[n]);
        assert!(
            manifest.windows(line.len()).any(|w| w == line.as_slice()),
            "sha256sum's line {:?} is not in the manifest:\n{}",
            String::from_utf8_lossy(&line),
            String::from_utf8_lossy(&manifest)
        );
    }
    assert_eq!(
        manifest.iter().filter(|&&b| b == b'\n').count(),
        names.len(),
        "one line per file:\n{}",
        String::from_utf8_lossy(&manifest)
    );
    let check = std::process::Command::new("sha256sum")
        .args(["--strict", "-c", "../odd.sums"])
        .current_dir(&odd)
        .output()
        .unwrap();
    assert!(check.status.success(), "sha256sum -c: {}", text(&check));
    assert_eq!(
        stdout(&check).matches(": OK").count(),
        names.len(),
        "{}",
        text(&check)
    );
    // And sha256sum -c notices a change.
    write(&odd.join("new\nline"), b"changed\n");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "../odd.sums"])
        .current_dir(&odd)
        .output()
        .unwrap();
    assert!(!check.status.success(), "{}", text(&check));
}

fn touch(path: &Path, date: &str) {
    let out = run("touch", &["-h", "-d", date, path.utf8()]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn same_content_in_any_order_and_mtime_gives_identical_manifest_and_sidecar() {
    let env = TempCa::new();
    let files: [(&str, &[u8], u32); 5] = [
        ("a/1", b"one\n", 0o644),
        ("b/2", b"two\n", 0o600),
        ("b/sub/3", b"three\n", 0o755),
        ("c", b"", 0o644),
        ("d e", b"spaced\n", 0o640),
    ];
    let make = |root: &str, order: &[usize], date: &str| {
        let dir = env.path(root);
        for &i in order {
            let (name, data, mode) = files[i];
            write(&dir.join(name), data);
            chmod(&dir.join(name), mode);
            touch(&dir.join(name), date);
        }
        std::os::unix::fs::symlink("b/sub/3", dir.join("link")).unwrap();
        touch(&dir.join("link"), date);
    };
    make("t1", &[0, 1, 2, 3, 4], "2001-02-03 04:05:06");
    make("t2", &[4, 3, 2, 1, 0], "2024-12-31 23:59:59");
    for (t, m) in [("t1", "m1"), ("t2", "m2")] {
        let out = manifest(&env, &["--base", t, t, "--out", m]);
        expect(&out, 0);
    }
    let m1 = std::fs::read(env.path("m1")).unwrap();
    let m2 = std::fs::read(env.path("m2")).unwrap();
    assert_eq!(m1, m2, "manifests differ");
    assert_eq!(String::from_utf8_lossy(&m1).lines().count(), files.len());
    let s1 = std::fs::read(env.path("m1.meta")).unwrap();
    let s2 = std::fs::read(env.path("m2.meta")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&s1),
        String::from_utf8_lossy(&s2),
        "sidecars differ"
    );
    let side = String::from_utf8_lossy(&s1);
    assert!(
        side.starts_with("# uca manifest meta v1: MODE TYPE PATH [TARGET]\n"),
        "{side}"
    );
    assert!(side.contains("0755 f b/sub/3\n"), "{side}");
    assert!(side.contains("0600 f b/2\n"), "{side}");
    assert!(side.contains("0777 l link b/sub/3\n"), "{side}");
    // Stdout form is the same bytes as the file, run after run.
    for t in ["t1", "t2", "t1"] {
        let out = manifest(&env, &["--base", t, t]);
        expect(&out, 0);
        assert_eq!(out.stdout, m1);
    }
}

#[test]
fn manifest_out_refuses_to_overwrite_and_leaves_itself_and_links_out() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("app"), b"app\n");
    std::os::unix::fs::symlink("app", tree.join("alias")).unwrap();
    // Writing inside the tree: the manifest, its sidecar and signatures are not release files.
    write(&tree.join("SUMS.build.p7s"), b"an old signature");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/SUMS"]);
    expect(&out, 0);
    let m = std::fs::read_to_string(tree.join("SUMS")).unwrap();
    assert_eq!(m.lines().count(), 1, "only app is a release file:\n{m}");
    assert!(m.ends_with("  app\n"), "{m}");
    let meta = std::fs::read_to_string(tree.join("SUMS.meta")).unwrap();
    assert!(meta.contains(" l alias app\n"), "{meta}");
    // Again: refused, exit 5, nothing changed.
    let before = snapshot(&tree);
    write(&tree.join("app"), b"app v2\n");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/SUMS"]);
    let all = expect(&out, 5);
    assert!(all.contains("exists"), "{all}");
    assert_eq!(
        std::fs::read(tree.join("SUMS")).unwrap(),
        before[&tree.join("SUMS")].0
    );
    // --force replaces it.
    let out = manifest(
        &env,
        &["--base", "tree", "tree", "--out", "tree/SUMS", "--force"],
    );
    expect(&out, 0);
    let m2 = std::fs::read_to_string(tree.join("SUMS")).unwrap();
    assert_ne!(m, m2);
    // --follow-symlinks: the link is hashed as a file under its own name.
    let out = manifest(
        &env,
        &[
            "--base",
            "tree",
            "tree/app",
            "tree/alias",
            "--follow-symlinks",
        ],
    );
    expect(&out, 0);
    let followed = stdout(&out);
    let lines: Vec<&str> = followed.lines().collect();
    assert_eq!(lines.len(), 2, "{followed}");
    assert!(
        lines[0].ends_with("  alias") && lines[1].ends_with("  app"),
        "{followed}"
    );
    assert_eq!(lines[0][..64], lines[1][..64]);
}

/// Only the manifest's own files (the manifest, `MANIFEST.meta`, `MANIFEST.*.p7s` beside it) are
/// left out of the walk, as the help says ("files named MANIFEST*"): not every path that happens
/// to start with the same bytes, such as a directory `Mods/` beside `--out tree/M`.
#[test]

fn manifest_out_inside_the_tree_leaves_out_only_its_own_files() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("Mods/lib.so"), b"module\n");
    write(&tree.join("keep"), b"kept\n");
    write(&tree.join("M.build.p7s"), b"an old signature");
    let out = manifest(&env, &["--base", "tree", "tree", "--out", "tree/M"]);
    expect(&out, 0);
    let m = std::fs::read_to_string(tree.join("M")).unwrap();
    assert!(m.contains("  keep\n"), "{m}");
    assert!(!m.contains("M.build.p7s"), "{m}");
    assert!(
        m.contains("  Mods/lib.so\n"),
        "Mods/lib.so was silently left out:\n{m}"
    );
}

/// Regression: `--out tree/app` left out every file whose name starts with `app` (app.so,
/// app.d/); only the manifest's own files may be left out.
#[test]
fn manifest_keeps_files_that_only_share_its_name_as_a_prefix() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("app.so"), b"shared object\n");
    write(&tree.join("app.d/x"), b"drop-in\n");
    write(&tree.join("keep"), b"kept\n");
    write(&tree.join("app.build.p7s"), b"an old signature");
    write(&tree.join("app.crl"), b"an old CRL");
    let lines_of = |m: &str| -> Vec<String> {
        m.lines()
            .map(|l| l.get(66..).unwrap_or_default().to_string())
            .collect()
    };
    let mut first = None;
    for extra in [&[][..], &["--force"][..]] {
        let out = uca_in(
            env.tmp.path(),
            &[
                &[
                    "artifact", "manifest", "--base", "tree", "tree", "--out", "tree/app",
                ][..],
                extra,
            ]
            .concat(),
        );
        expect(&out, 0);
        let m = std::fs::read_to_string(tree.join("app")).unwrap();
        let names = lines_of(&m);
        assert_eq!(
            names,
            ["app.d/x", "app.so", "keep"],
            "{extra:?}: manifest:\n{m}"
        );
        assert!(tree.join("app.meta").is_file());
        if let Some(f) = &first {
            assert_eq!(f, &m, "the --force rerun listed other files");
        }
        first = Some(m);
    }
}

/// `uca artifact manifest ARGS` in `dir` as an unprivileged user: as is when not root; as root,
/// through `setpriv` as nobody (root reads mode 000 files). None when that is impossible.
fn manifest_unprivileged(dir: &Path, args: &[&str]) -> Option<Output> {
    let uid = stdout(&run("id", &["-u"])).trim().to_string();
    if uid != "0" {
        return Some(
            uca_bare()
                .current_dir(dir)
                .args(["artifact", "manifest"])
                .args(args)
                .output()
                .unwrap(),
        );
    }
    let drop = ["--reuid=65534", "--regid=65534", "--clear-groups"];
    let probe = std::process::Command::new("setpriv")
        .args(drop)
        .arg("true")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let mut c = std::process::Command::new("setpriv");
    c.args(drop)
        .arg(assert_cmd::cargo::cargo_bin("uca"))
        .args(["artifact", "manifest"])
        .args(args)
        .current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("UCA_") {
            c.env_remove(&k);
        }
    }
    Some(c.output().unwrap())
}

#[test]
fn unreadable_file_stops_the_manifest() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("ok"), b"fine\n");
    write(&tree.join("secret"), b"no\n");
    chmod(&tree.join("secret"), 0o000);
    std::fs::create_dir_all(env.path("rel")).unwrap();
    // Reachable by an unprivileged user: the temp dir and tree readable, rel/ writable.
    chmod(env.tmp.path(), 0o755);
    chmod(&tree, 0o755);
    chmod(&env.path("rel"), 0o777);
    let args = ["--base", "tree", "tree", "--out", "rel/M"];
    let Some(out) = manifest_unprivileged(env.tmp.path(), &args) else {
        eprintln!("skipped: running as root and cannot drop privileges with setpriv");
        return;
    };
    let c = code(&out);
    assert_ne!(c, 0, "{}", text(&out));
    assert!(stderr(&out).contains("secret"), "{}", text(&out));
    assert!(!env.path("rel/M").exists(), "a manifest was written");
    assert!(!env.path("rel/M.meta").exists(), "a sidecar was written");
    let out = manifest_unprivileged(env.tmp.path(), &["--base", "tree", "tree"]).unwrap();
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    // Readable again: the same command works (so the failure above was the unreadable file).
    chmod(&tree.join("secret"), 0o644);
    let out = manifest_unprivileged(env.tmp.path(), &args).unwrap();
    expect(&out, 0);
    assert_eq!(
        std::fs::read_to_string(env.path("rel/M"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}
