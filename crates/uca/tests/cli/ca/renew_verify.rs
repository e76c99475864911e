//! `uca renew` (same or new key, ledger, atomic swap) and `uca verify`, judged by OpenSSL.

use crate::support::*;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The subjectAltName extension as OpenSSL prints it.
fn sans_of(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-ext",
        "subjectAltName",
    ])
}

/// The ledger row of a serial (lowercase hex) from `uca list --json`.
fn row(env: &TempCa, serial: &str) -> serde_json::Value {
    let list = env.json(&["list"]);
    list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["serial"] == serial)
        .unwrap_or_else(|| panic!("{serial} not in the ledger: {list}"))
        .clone()
}

/// `uca verify ARGS` (no passphrase), returning the output.
fn verify(env: &TempCa, args: &[&str]) -> Output {
    env.uca()
        .arg("verify")
        .args(args)
        .output()
        .expect("run uca verify")
}

/// `uca --json verify ARGS`, returning (exit code, parsed JSON).
fn verify_json(env: &TempCa, args: &[&str]) -> (i32, serde_json::Value) {
    let out = env
        .uca()
        .arg("--json")
        .arg("verify")
        .args(args)
        .output()
        .expect("run uca verify");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}): {}", text(&out)));
    (out.status.code().unwrap(), v)
}

/// A copy of `src` (file) at `env.path(name)`, e.g. to keep a certificate that renew replaces.
fn keep(env: &TempCa, src: &Path, name: &str) -> PathBuf {
    let dst = env.path(name);
    std::fs::copy(src, &dst).unwrap();
    dst
}

// ---------------------------------------------------------------------------------------------
// renew

/// `renew` keeps the key (per OpenSSL), changes the serial, keeps SANs, supersedes the old serial.
#[test]
fn renew_keeps_key_new_serial_same_sans() {
    let env = TempCa::new();
    env.init(&[]);
    let cert = env
        .issue(
            "svc1",
            &[
                "--san",
                "svc.example.org",
                "--san",
                "10.1.2.3",
                "--profile",
                "server",
            ],
        )
        .cert;
    let key = env.issued("svc1", "key.pem");
    let old_copy = keep(&env, &cert, "old.pem");
    let old_serial = serial_of(&cert);
    let old_sans = sans_of(&cert);
    let old_pub = key_pubkey(&key);
    let old_key_bytes = std::fs::read(&key).unwrap();
    let old_eku = extension(&x509_text(&cert), "X509v3 Extended Key Usage");
    assert!(old_sans.contains("DNS:svc1") && old_sans.contains("IP Address:10.1.2.3"));

    let r = env.json(&["renew", "svc1"]);
    assert_eq!(r["rekeyed"], false, "{r}");
    assert_eq!(r["old_serial"], old_serial.to_lowercase(), "{r}");
    assert!(r["old_revoked"].is_null(), "{r}");
    assert_eq!(r["name"], "svc1", "{r}");
    assert_eq!(r["status"], "issued", "{r}");
    assert_eq!(Path::new(r["files"]["cert"].as_str().unwrap()), cert, "{r}");

    let new_serial = serial_of(&cert);
    assert_ne!(new_serial, old_serial, "renew must change the serial");
    assert_eq!(r["serial"], new_serial.to_lowercase(), "{r}");
    assert_eq!(sans_of(&cert), old_sans, "same SANs");
    assert_eq!(
        extension(&x509_text(&cert), "X509v3 Extended Key Usage"),
        old_eku,
        "same profile"
    );
    assert_eq!(key_pubkey(&key), old_pub, "same key");
    assert_eq!(
        cert_pubkey(&cert),
        old_pub,
        "the new certificate is for that key"
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        old_key_bytes,
        "key.pem untouched"
    );
    assert_eq!(mode(&key), 0o600);
    let (ok, v) = openssl_verify(&env.ca_cert(), &[], &cert);
    assert!(ok, "{v}");
    // fullchain.pem is the new certificate followed by the CA.
    let full = std::fs::read_to_string(env.issued("svc1", "fullchain.pem")).unwrap();
    assert!(
        full.starts_with(&std::fs::read_to_string(&cert).unwrap()),
        "{full}"
    );
    let (ok, v) = openssl_verify(
        &env.ca_cert(),
        &["-untrusted", env.issued("svc1", "chain.pem").utf8()],
        &env.issued("svc1", "fullchain.pem"),
    );
    assert!(ok, "{v}");

    let old_row = row(&env, &old_serial.to_lowercase());
    assert_eq!(old_row["status"], "superseded", "{old_row}");
    assert_eq!(
        old_row["superseded_by"],
        new_serial.to_lowercase(),
        "{old_row}"
    );
    assert_eq!(row(&env, &new_serial.to_lowercase())["status"], "issued");
    // The old certificate is still a valid certificate (superseded, not revoked).
    let (ok, v) = openssl_verify(&env.ca_cert(), &[], &old_copy);
    assert!(ok, "{v}");
}

/// `renew --rekey` makes a new key of the same type that the new certificate matches.
#[test]
fn renew_rekey_changes_the_key() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let cert = env
        .issue("agent", &["--profile", "client", "--key", "ed25519"])
        .cert;
    let key = env.issued("agent", "key.pem");
    let old_pub = key_pubkey(&key);
    let old_serial = serial_of(&cert);
    let old_sans = sans_of(&cert);

    let r = env.json(&["renew", "agent", "--rekey"]);
    assert_eq!(r["rekeyed"], true, "{r}");
    assert_eq!(r["key_type"], "ed25519", "{r}");
    let new_pub = key_pubkey(&key);
    assert_ne!(new_pub, old_pub, "--rekey must change the key");
    assert_eq!(
        cert_pubkey(&cert),
        new_pub,
        "certificate matches the new key"
    );
    assert!(
        x509_text(&cert).contains("Public Key Algorithm: ED25519"),
        "key type kept"
    );
    assert_eq!(mode(&key), 0o600);
    assert_ne!(serial_of(&cert), old_serial);
    assert_eq!(sans_of(&cert), old_sans);
    let (ok, v) = openssl_verify(&env.ca_cert(), &["-purpose", "sslclient"], &cert);
    assert!(ok, "{v}");
    assert_eq!(
        row(&env, &old_serial.to_lowercase())["status"],
        "superseded"
    );
}

/// `renew --revoke-old` revokes the old serial so the next CRL makes OpenSSL reject it.
#[test]
fn renew_revoke_old_is_listed_in_the_next_crl() {
    let env = TempCa::new();
    env.init(&[]);
    let cert = env.issue("rmq1", &[]).cert;
    let old = keep(&env, &cert, "old.pem");
    let old_serial = serial_of(&cert);
    let r = env.json(&["renew", "rmq1", "--revoke-old"]);
    assert_eq!(r["old_revoked"]["already"], false, "{r}");
    assert_eq!(r["old_revoked"]["record"]["status"], "revoked", "{r}");
    let old_row = row(&env, &old_serial.to_lowercase());
    assert_eq!(old_row["status"], "revoked", "{old_row}");
    assert_eq!(old_row["revocation_reason"], "superseded", "{old_row}");
    let new_serial = serial_of(&cert);

    env.json(&["crl"]);
    let crl = env.ca_dir().join("crl.pem");
    let t = openssl(&["crl", "-in", crl.utf8(), "-noout", "-text"]);
    let entry = t
        .split("Serial Number:")
        .find(|e| e.trim_start().starts_with(&old_serial))
        .unwrap_or_else(|| panic!("old serial not in the CRL:\n{t}"));
    assert!(entry.contains("Superseded"), "{t}");
    assert!(!t.contains(&new_serial), "{t}");

    let mut b = std::fs::read(env.ca_cert()).unwrap();
    b.extend(std::fs::read(&crl).unwrap());
    let bundle = env.path("ca+crl.pem");
    std::fs::write(&bundle, b).unwrap();
    let (ok, v) = openssl_verify(&bundle, &["-crl_check"], &old);
    assert!(!ok && v.contains("certificate revoked"), "{v}");
    let (ok, v) = openssl_verify(&bundle, &["-crl_check"], &cert);
    assert!(ok, "{v}");
}

/// Renewing a revoked, CSR-signed, unknown or CA name exits 2 and changes nothing.
#[test]
fn renew_refuses_revoked_csr_and_unknown_names() {
    let env = TempCa::new();
    env.init(&[]);
    env.issue("gone", &[]);
    env.uca()
        .args(["revoke", "gone", "--reason", "keyCompromise"])
        .assert()
        .success();
    // A CSR-signed name: the key never came to uca.
    let csr = make_csr(&env.path("app.csr"), EC_P256, "/CN=app", &[]);
    let crt = env.path("app.crt");
    env.uca_pass()
        .args(["sign", csr.utf8(), "--out", crt.utf8()])
        .assert()
        .success();
    let list = env.json(&["list"]);
    let ca_name = list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["profile"] == "root")
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();

    let snap = snapshot(&env.ca_dir());
    let cases: [(Vec<&str>, &[&str]); 5] = [
        (vec!["gone"], &["cannot renew", "revoked"]),
        (
            vec!["gone", "--rekey", "--revoke-old"],
            &["cannot renew", "revoked"],
        ),
        (vec!["app"], &["cannot renew", "CSR"]),
        (vec!["nosuch"], &["nosuch", "hint:"]),
        (vec![ca_name.as_str()], &["cannot renew", "CA"]),
    ];
    for (target, needles) in cases {
        let out = env.uca_pass().arg("renew").args(&target).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "renew {target:?}: {}",
            text(&out)
        );
        let e = stderr(&out);
        for n in needles {
            assert!(
                e.contains(n),
                "renew {target:?}: missing {n:?}: {}",
                text(&out)
            );
        }
        assert!(
            snapshot(&env.ca_dir()) == snap,
            "renew {target:?} changed the CA directory"
        );
    }
}

/// Readers never see a mixed cert/key pair or a partial file while `renew --rekey` runs 20 times.
#[test]
fn renew_swaps_cert_and_key_atomically() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("svc", &[]);
    let dir = env.ca_dir().join("issued").join("svc");
    let cert = env.issued("svc", "cert.pem");
    let key = env.issued("svc", "key.pem");

    // A process holding the files open before the renewals.
    let mut held_cert = std::fs::File::open(&cert).unwrap();
    let mut held_key = std::fs::File::open(&key).unwrap();

    let mut known: Vec<(Vec<u8>, Vec<u8>)> =
        vec![(std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap())];

    let stop = Arc::new(AtomicBool::new(false));
    type Seen = (
        HashSet<(Vec<u8>, Vec<u8>)>,
        HashSet<Vec<u8>>,
        HashSet<Vec<u8>>,
        usize,
        usize,
    );
    let reader = {
        let stop = Arc::clone(&stop);
        let dir = dir.clone();
        std::thread::spawn(move || -> Seen {
            let mut pairs = HashSet::new();
            let mut certs = HashSet::new();
            let mut keys = HashSet::new();
            let (mut reads, mut vanished) = (0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                // 1. Through a handle on the directory: the pair of one generation.
                if let Ok(d) = std::fs::File::open(&dir) {
                    use std::os::fd::AsRawFd;
                    let base = format!("/proc/self/fd/{}", d.as_raw_fd());
                    let c = std::fs::read(format!("{base}/cert.pem"));
                    let k = std::fs::read(format!("{base}/key.pem"));
                    match (c, k) {
                        (Ok(c), Ok(k)) => {
                            pairs.insert((c, k));
                            reads += 1;
                        }
                        // The old generation was removed after the swap: try again.
                        _ => vanished += 1,
                    }
                } else {
                    vanished += 1;
                }
                // 2. By path, each file alone: always a whole file of some generation.
                match (
                    std::fs::read(dir.join("cert.pem")),
                    std::fs::read(dir.join("key.pem")),
                ) {
                    (Ok(c), Ok(k)) => {
                        certs.insert(c);
                        keys.insert(k);
                    }
                    _ => vanished += 1,
                }
            }
            (pairs, certs, keys, reads, vanished)
        })
    };

    let start = Instant::now();
    for i in 0..20 {
        env.uca()
            .args(["renew", "svc", "--rekey"])
            .assert()
            .success();
        known.push((std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap()));
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "renewals too slow ({i} done)"
        );
    }
    // Let the reader see the last generation too.
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let (pairs, certs, keys, reads, vanished) = reader.join().unwrap();

    // Every known generation is a matching pair, and each is different (--rekey).
    let tmp = env.path("pair");
    std::fs::create_dir(&tmp).unwrap();
    for (i, (c, k)) in known.iter().enumerate() {
        let cp = tmp.join(format!("{i}.crt"));
        let kp = tmp.join(format!("{i}.key"));
        std::fs::write(&cp, c).unwrap();
        std::fs::write(&kp, k).unwrap();
        assert_eq!(
            cert_pubkey(&cp),
            key_pubkey(&kp),
            "generation {i} is not a pair"
        );
    }
    let known_set: HashSet<_> = known.iter().cloned().collect();
    assert_eq!(known_set.len(), 21, "each renewal is a new pair");
    let known_certs: HashSet<_> = known.iter().map(|(c, _)| c.clone()).collect();
    let known_keys: HashSet<_> = known.iter().map(|(_, k)| k.clone()).collect();

    assert!(reads > 20, "the reader barely ran ({reads} reads)");
    assert!(
        pairs.len() >= 2,
        "the reader never saw a swap ({} generations in {reads} reads)",
        pairs.len()
    );
    for (c, k) in &pairs {
        assert!(
            known_set.contains(&(c.clone(), k.clone())),
            "a reader saw a mixed or partial pair:\n{}\n{}",
            String::from_utf8_lossy(c),
            String::from_utf8_lossy(k)
        );
    }
    for c in &certs {
        assert!(
            known_certs.contains(c),
            "partial cert.pem read:\n{}",
            String::from_utf8_lossy(c)
        );
    }
    for k in &keys {
        assert!(
            known_keys.contains(k),
            "partial key.pem read ({} bytes)",
            k.len()
        );
    }
    eprintln!(
        "atomic swap: {reads} pair reads, {} generations seen, {vanished} retries",
        pairs.len()
    );

    // The process that held the old files still reads the first, matching pair.
    use std::io::Read;
    let mut c = Vec::new();
    let mut k = Vec::new();
    held_cert.read_to_end(&mut c).unwrap();
    held_key.read_to_end(&mut k).unwrap();
    assert_eq!((c, k), known[0]);
    // Only the current generation is left in issued/ (no staging leftovers).
    let names: Vec<_> = std::fs::read_dir(env.ca_dir().join("issued"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["svc".to_string()]);
}

// ---------------------------------------------------------------------------------------------
// verify

/// `verify` accepts a good certificate (PEM, DER, fullchain) with exit 0 and a correct JSON report.
#[test]
fn verify_good_certificate() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let cert = env.issue("web1", &[]).cert;
    let out = verify(&env, &[cert.utf8()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout(&out).contains("valid"), "{}", text(&out));
    assert!(!stdout(&out).contains("why not"), "{}", text(&out));

    let (code, j) = verify_json(&env, &[cert.utf8()]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["valid"], true, "{j}");
    assert_eq!(j["subject"], "CN=web1", "{j}");
    assert_eq!(j["serial"], serial_of(&cert).to_lowercase(), "{j}");
    assert_eq!(j["ledger_status"], "issued", "{j}");
    assert_eq!(j["issued_by_anchor"], true, "{j}");
    assert_eq!(j["problems"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(j["path"].as_array().unwrap().len(), 2, "{j}");
    let ca_subject = openssl(&[
        "x509",
        "-in",
        env.ca_cert().utf8(),
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
    ]);
    assert_eq!(
        ca_subject.trim().strip_prefix("subject=").unwrap(),
        j["path"][1],
        "{j}"
    );

    let der = env.path("web1.der");
    openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-outform",
        "DER",
        "-out",
        der.utf8(),
    ]);
    let out = verify(&env, &[der.utf8()]);
    assert_eq!(out.status.code(), Some(0), "DER: {}", text(&out));
    let out = verify(&env, &[env.issued("web1", "fullchain.pem").utf8()]);
    assert_eq!(out.status.code(), Some(0), "fullchain: {}", text(&out));
}

/// `verify` of a revoked certificate exits 7 with a "why not:" line naming the revocation.
#[test]
fn verify_revoked_certificate() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let cert = env.issue("rmq2", &[]).cert;
    env.uca()
        .args(["revoke", "rmq2", "--reason", "keyCompromise"])
        .assert()
        .success();
    let out = verify(&env, &[cert.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let o = stdout(&out);
    assert!(o.contains("NOT valid"), "{}", text(&out));
    let why: Vec<&str> = o.lines().filter(|l| l.contains("why not:")).collect();
    assert_eq!(why.len(), 1, "{}", text(&out));
    assert!(
        why[0].contains("revoked") && why[0].contains("keyCompromise"),
        "{o}"
    );

    let (code, j) = verify_json(&env, &[cert.utf8()]);
    assert_eq!(code, 7, "{j}");
    assert_eq!(j["valid"], false, "{j}");
    assert_eq!(j["ledger_status"], "revoked", "{j}");
    assert!(
        j["problems"][0].as_str().unwrap().contains("revoked"),
        "{j}"
    );
}

/// `verify --crl` says "CRL lists it" even when only the CRL (not the ledger) knows.
#[test]
fn verify_with_crl_listing_the_certificate() {
    let env = TempCa::new();
    // The copy below must keep a snapshot of the ledger: a file, not a shared database.
    env.init_sqlite(&[]);
    let cert = env.issue("rmq3", &[]).cert;
    let good = env.issue("rmq4", &[]).cert;
    let copy = env.path("copy");
    let out = run("cp", &["-a", env.ca_dir().utf8(), copy.utf8()]);
    assert!(out.status.success(), "{}", text(&out));
    let clean = env.path("clean.pem");
    env.json(&["crl", "--out", clean.utf8()]);
    env.uca()
        .args(["revoke", "rmq3", "--reason", "keyCompromise"])
        .assert()
        .success();
    env.json(&["crl"]);
    let crl = env.ca_dir().join("crl.pem");

    // In the original: both the ledger and the CRL say so.
    let out = verify(&env, &[cert.utf8(), "--crl", crl.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(stdout(&out).contains("CRL lists it"), "{}", text(&out));
    assert!(
        stdout(&out).contains("revoked in the ledger"),
        "{}",
        text(&out)
    );

    // In the copy: only the CRL knows.
    let in_copy = |args: &[&str]| env.uca_at(&copy).arg("verify").args(args).output().unwrap();
    let out = in_copy(&[cert.utf8()]);
    assert_eq!(out.status.code(), Some(0), "copy, no CRL: {}", text(&out));
    let out = in_copy(&[cert.utf8(), "--crl", crl.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let o = stdout(&out);
    assert!(
        o.contains("why not:") && o.contains("CRL lists it"),
        "{}",
        text(&out)
    );
    assert!(!o.contains("revoked in the ledger"), "{}", text(&out));
    let out = in_copy(&[cert.utf8(), "--crl", clean.utf8()]);
    assert_eq!(out.status.code(), Some(0), "clean CRL: {}", text(&out));
    let out = in_copy(&[good.utf8(), "--crl", crl.utf8()]);
    assert_eq!(out.status.code(), Some(0), "good cert: {}", text(&out));
    // OpenSSL agrees about both certificates with this CRL.
    let mut b = std::fs::read(env.ca_cert()).unwrap();
    b.extend(std::fs::read(&crl).unwrap());
    let bundle = env.path("ca+crl.pem");
    std::fs::write(&bundle, b).unwrap();
    assert!(!openssl_verify(&bundle, &["-crl_check"], &cert).0);
    assert!(openssl_verify(&bundle, &["-crl_check"], &good).0);
    // Another CA's CRL is refused, not trusted (exit 2).
    let other = TempCa::new();
    other.init_plain(&[]);
    other.uca().arg("crl").assert().success();
    let out = verify(
        &env,
        &[good.utf8(), "--crl", other.ca_dir().join("crl.pem").utf8()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// `verify` of a cert from another (or a same-named impostor) CA exits 7: no path to this CA.
#[test]
fn verify_certificate_from_another_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&[]);
    let foreign = other.issue("rmq1", &[]).cert;
    let out = verify(&env, &[foreign.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        stdout(&out).contains("no path to this CA"),
        "{}",
        text(&out)
    );
    let (code, j) = verify_json(&env, &[foreign.utf8()]);
    assert_eq!(code, 7);
    assert_eq!(j["valid"], false, "{j}");
    assert_eq!(j["issued_by_anchor"], false, "{j}");
    assert!(j["ledger_status"].is_null(), "{j}");
    assert!(!openssl_verify(&env.ca_cert(), &[], &foreign).0);

    let ca_name = openssl(&["x509", "-in", env.ca_cert().utf8(), "-noout", "-subject"]);
    let cn = ca_name
        .trim()
        .strip_prefix("subject=CN = ")
        .unwrap()
        .to_string();
    let impostor = TempCa::new();
    impostor.init_plain(&["--name", &cn]);
    let fake = impostor.issue("rmq1", &[]).cert;
    let out = verify(&env, &[fake.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(stdout(&out).contains("signature"), "{}", text(&out));
    let (ok, v) = openssl_verify(&env.ca_cert(), &[], &fake);
    assert!(!ok, "{v}");
}

/// `verify` of a superseded certificate exits 0 with a note naming the newer serial.
#[test]
fn verify_superseded_certificate_notes_it() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let cert = env.issue("api", &[]).cert;
    let old = keep(&env, &cert, "old.pem");
    env.uca().args(["renew", "api"]).assert().success();
    let new_serial = serial_of(&cert).to_lowercase();
    let out = verify(&env, &[old.utf8()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let o = stdout(&out);
    assert!(o.contains("superseded") && o.contains(&new_serial), "{o}");
    assert!(!o.contains("why not"), "{o}");
    let (code, j) = verify_json(&env, &[old.utf8()]);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["valid"], true, "{j}");
    assert_eq!(j["ledger_status"], "superseded", "{j}");
    assert!(
        j["notes"][0].as_str().unwrap().contains("superseded"),
        "{j}"
    );
}

/// `verify` of garbage, empty, truncated, key, CRL or missing files exits 2.
#[test]
fn verify_garbage_is_bad_input() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("x", &[]);
    env.uca().arg("crl").assert().success();
    let garbage = env.path("garbage.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let empty = env.path("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let trunc = env.path("truncated.pem");
    let c = std::fs::read_to_string(env.issued("x", "cert.pem")).unwrap();
    std::fs::write(&trunc, &c[..c.len() / 2]).unwrap();
    let missing = env.path("missing.pem");
    let key = env.issued("x", "key.pem");
    let crl = env.ca_dir().join("crl.pem");
    for f in [&garbage, &empty, &trunc, &key, &crl, &missing] {
        let out = verify(&env, &[f.utf8()]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            f.display(),
            text(&out)
        );
        assert!(stderr(&out).contains("error:"), "{}", text(&out));
    }
    // A garbage CRL is bad input too.
    let out = verify(
        &env,
        &[env.issued("x", "cert.pem").utf8(), "--crl", garbage.utf8()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// uca BUG: a leaf below an intermediate revoked by this CA verifies as valid (OpenSSL rejects it).
#[test]
fn verify_rejects_leaf_below_revoked_intermediate() {
    let env = TempCa::new();
    env.init(&[]);
    let sub = env.path("sub");
    env.uca_pass()
        .args(["intermediate", "Sub1", "--parent"])
        .arg(env.ca_dir())
        .arg("--dir")
        .arg(&sub)
        .arg("--same-passphrase")
        .assert()
        .success();
    env.uca_at(&sub)
        .env("UCA_PASSPHRASE", PASS)
        .args(["issue", "leaf1"])
        .assert()
        .success();
    let full = sub.join("issued/leaf1/fullchain.pem");
    assert_eq!(verify(&env, &[full.utf8()]).status.code(), Some(0));
    env.uca()
        .args(["revoke", "Sub1", "--reason", "caCompromise"])
        .assert()
        .success();
    env.json(&["crl"]);
    let crl = env.ca_dir().join("crl.pem");
    let out = verify(&env, &[full.utf8(), "--crl", crl.utf8()]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
}
