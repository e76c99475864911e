//! `uca passphrase change`: judged by openssl, refusals, generated passphrases, SIGKILL safety.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

const NEW: &str = "a different passphrase entirely";
const THIRD: &str = "yet another passphrase, from a file";

/// Whether openssl opens the key with `passphrase`.
fn opens(key: &Path, passphrase: &str) -> bool {
    run(
        "openssl",
        &[
            "pkey",
            "-in",
            key.utf8(),
            "-passin",
            &format!("pass:{passphrase}"),
            "-noout",
        ],
    )
    .status
    .success()
}

/// Asserts that the key, opened with `passphrase`, is the CA certificate's key.
fn assert_key_matches_cert(env: &TempCa, passphrase: &str) {
    let key_pub = openssl(&[
        "pkey",
        "-in",
        env.ca_key().utf8(),
        "-passin",
        &format!("pass:{passphrase}"),
        "-pubout",
    ]);
    let cert_pub = cert_pubkey(&env.ca_cert());
    assert_eq!(
        key_pub, cert_pub,
        "the key no longer belongs to the CA certificate"
    );
}

/// Asserts the key file's form: encrypted PKCS#8, mode 0600.
fn assert_key_file(env: &TempCa) {
    let key = env.ca_key();
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{pem}"
    );
    assert_eq!(mode(&key), 0o600);
}

/// Names in `dir` other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}

/// Changing via UCA_NEW_PASSPHRASE, then via files: openssl and uca accept only the new one.
#[test]
fn change_via_env_and_via_files() {
    let env = TempCa::new();
    env.init(&[]);
    let key = env.ca_key();

    let out = env
        .uca_pass()
        .env("UCA_NEW_PASSPHRASE", NEW)
        .args(["passphrase", "change"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains(NEW) && !String::from_utf8_lossy(&out.stdout).contains(NEW));
    assert!(opens(&key, NEW), "the new passphrase does not open the key");
    assert!(!opens(&key, PASS), "the old passphrase still opens the key");
    assert_key_file(&env);
    assert_key_matches_cert(&env, NEW);
    let out = env.uca_pass().args(["issue", "web1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    env.uca()
        .env("UCA_PASSPHRASE", NEW)
        .args(["issue", "web1"])
        .assert()
        .success();

    // Files: first line only.
    let (old_file, new_file) = (env.path("old.pass"), env.path("new.pass"));
    std::fs::write(&old_file, format!("{NEW}\nignored second line\n")).unwrap();
    std::fs::write(&new_file, format!("{THIRD}\n")).unwrap();
    env.uca()
        .args(["passphrase", "change", "--passphrase-file", old_file.utf8()])
        .args(["--new-passphrase-file", new_file.utf8()])
        .assert()
        .success();
    assert!(opens(&key, THIRD));
    assert!(!opens(&key, NEW) && !opens(&key, PASS));
    assert_key_file(&env);
    assert_key_matches_cert(&env, THIRD);
    let out = env
        .uca()
        .args(["issue", "web2", "--passphrase-file", old_file.utf8()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    env.uca()
        .args(["issue", "web2", "--passphrase-file", new_file.utf8()])
        .assert()
        .success();
    assert_eq!(
        others(&env.ca_dir().join("private"), &["ca.key"]),
        Vec::<String>::new()
    );
}

/// A wrong old passphrase, or no new one, is refused and leaves the key's bytes unchanged.
#[test]
fn wrong_old_passphrase_changes_nothing() {
    let env = TempCa::new();
    env.init(&[]);
    let key = env.ca_key();
    let bytes = std::fs::read(&key).unwrap();
    let before = snapshot(&env.ca_dir());

    let out = env
        .uca()
        .env("UCA_PASSPHRASE", "not the passphrase")
        .env("UCA_NEW_PASSPHRASE", NEW)
        .args(["passphrase", "change"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), bytes);
    assert_eq!(before, snapshot(&env.ca_dir()));
    assert!(opens(&key, PASS) && !opens(&key, NEW));

    // No old passphrase at all (no terminal to ask on).
    let out = env
        .uca()
        .env("UCA_NEW_PASSPHRASE", NEW)
        .args(["passphrase", "change"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(before, snapshot(&env.ca_dir()));

    // No new passphrase (no terminal to ask on).
    let out = env
        .uca_pass()
        .args(["passphrase", "change"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--new-passphrase-file"), "{err}");
    assert_eq!(before, snapshot(&env.ca_dir()));
    assert!(opens(&key, PASS));
}

/// --generate-passphrase --passphrase-out writes a 0400 file whose passphrase opens the key.
#[test]
fn generated_passphrase_goes_to_a_private_file() {
    let env = TempCa::new();
    env.init(&[]);
    let key = env.ca_key();
    let out_file = env.path("generated.pass");
    let out = env
        .uca_pass()
        .args([
            "passphrase",
            "change",
            "--generate-passphrase",
            "--passphrase-out",
        ])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&out_file), 0o400);
    let generated = std::fs::read_to_string(&out_file).unwrap();
    let generated = generated.lines().next().unwrap().to_string();
    assert!(
        generated.len() >= 16,
        "weak generated passphrase {generated:?}"
    );
    assert!(
        !stderr(&out).contains(&generated)
            && !String::from_utf8_lossy(&out.stdout).contains(&generated),
        "the passphrase written to a file was also printed"
    );
    let passin = format!("file:{}", out_file.utf8());
    openssl(&["pkey", "-in", key.utf8(), "-passin", &passin, "-noout"]);
    assert!(opens(&key, &generated) && !opens(&key, PASS));
    assert_key_file(&env);
    assert_key_matches_cert(&env, &generated);
    env.uca()
        .args(["issue", "web1", "--passphrase-file", out_file.utf8()])
        .assert()
        .success();
}

/// SIGKILL at random moments: exactly one passphrase opens the key; leftovers get cleaned.
#[test]
fn killed_change_leaves_exactly_one_working_passphrase() {
    let env = TempCa::new();
    env.init(&[]);
    let key = env.ca_key();
    let private = env.ca_dir().join("private");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let seed = u64::from(nanos) | 1;
    let mut rng = seed;
    let mut next_rand = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut current, mut other) = (PASS, NEW);
    let (mut killed_before, mut killed_after, mut temp_seen) = (0, 0, 0);
    // Run 0 is not killed and measures how long a change takes; the kills then land anywhere
    // from half-way (inside scrypt) to just past the end (around the write and the rename).
    let mut full_run_ms = 100;
    for i in 0..10 {
        let kill = i % 5 != 0; // runs 0 and 5 complete, the other 8 are killed
        let delay = full_run_ms / 2 + next_rand() % (full_run_ms * 6 / 10 + 1);
        let what = format!("run {i} (seed {seed}, kill {kill} after {delay} ms)");
        let mut cmd = uca_std();
        let started = std::time::Instant::now();
        let mut child = cmd
            .current_dir(env.tmp.path())
            .env("UCA_PASSPHRASE", current)
            .env("UCA_NEW_PASSPHRASE", other)
            .args(["--dir", env.ca_dir().utf8(), "passphrase", "change"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let status = if kill {
            std::thread::sleep(Duration::from_millis(delay));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap()
        } else {
            let status = child.wait().unwrap();
            full_run_ms = u64::try_from(started.elapsed().as_millis()).unwrap().max(2);
            status
        };
        let by_current = opens(&key, current);
        let by_other = opens(&key, other);
        assert!(
            by_current ^ by_other,
            "{what}: current opens {by_current}, other opens {by_other}"
        );
        if status.success() {
            assert!(
                by_other,
                "{what}: uca succeeded but the new passphrase fails"
            );
        } else {
            assert!(kill, "{what}: uca failed without being killed: {status}");
        }
        if by_other {
            std::mem::swap(&mut current, &mut other);
            if kill {
                killed_after += 1;
            }
        } else {
            killed_before += 1;
        }
        assert_key_file(&env);
        assert_key_matches_cert(&env, current);

        // Only uca's own temp files may be left, and the next command removes them.
        for name in others(&private, &["ca.key"]) {
            assert!(
                name.starts_with(".ca.key.tmp-"),
                "{what}: leftover private/{name}"
            );
            temp_seen += 1;
        }
        for name in others(&env.ca_dir(), &[]) {
            assert!(!name.contains(".tmp-"), "{what}: leftover {name}");
        }
        env.uca()
            .arg("list")
            .timeout(Duration::from_secs(30))
            .assert()
            .success();
        assert_eq!(
            others(&private, &["ca.key"]),
            Vec::<String>::new(),
            "{what}: uca list did not clean up"
        );
    }
    eprintln!(
        "seed {seed}: {killed_before} killed before the switch, {killed_after} after, \
         {temp_seen} temp file(s) left for the next command (a full run: {full_run_ms} ms)"
    );
    env.uca()
        .env("UCA_PASSPHRASE", current)
        .args(["issue", "web1"])
        .assert()
        .success();

    // What a kill between writing the temp file and the rename leaves behind is removed by the
    // next command, and the key is untouched.
    let stale = private.join(".ca.key.tmp-deadbeef");
    std::fs::write(&stale, b"half-written").unwrap();
    let bytes = std::fs::read(&key).unwrap();
    env.uca().arg("list").assert().success();
    assert!(!stale.exists(), "uca list left {}", stale.display());
    assert_eq!(std::fs::read(&key).unwrap(), bytes);
}
