//! `kill -9` in the middle of a large batch never leaves a certificate the ledger does not
//! know, nor a ledger row claiming files that are not there.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Instant, SystemTime};

use crate::support::*;

fn batch(round: usize, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("r{round}-node{i}")).collect()
}

/// A cheap, seedless pseudo-random delay (the test prints what it used).
fn random_fraction(round: usize) -> f64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (f64::from(nanos % 1000) / 1000.0 + round as f64 * 0.137) % 1.0
}

/// The SHA-256 fingerprint, as the ledger writes it (the same form as `openssl x509 -fingerprint
/// -sha256`; the test in `issue.rs` checks that equivalence with openssl itself).
fn sha256_fingerprint(cert: &std::path::Path) -> String {
    let der = uca_pki::inspect::certificate_der(&std::fs::read(cert).unwrap()).unwrap();
    uca_pki::Fingerprint::of_der(&der).to_string()
}

#[test]
fn kill_dash_nine_during_large_batches() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let n = 400;

    // Time one complete batch to know where the "random moments" can fall.
    let start = Instant::now();
    env.uca().arg("issue").args(batch(0, n)).assert().success();
    let full = start.elapsed();

    for round in 1..=8 {
        let delay = full.mul_f64(1.2 * random_fraction(round));
        let mut child = uca_std()
            .arg("--dir")
            .arg(env.ca_dir())
            .arg("issue")
            .args(batch(round, n))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?} of ~{full:?} ({status})");
    }

    // The next command repairs and lists a consistent ledger.
    let v = env.json(&["list"]);
    let certs = v["certificates"].as_array().unwrap();
    let mut by_fp: HashMap<String, &serde_json::Value> = HashMap::new();
    for c in certs {
        assert_ne!(
            c["status"], "pending",
            "repair must leave no pending rows: {c}"
        );
        by_fp.insert(c["fingerprint_sha256"].as_str().unwrap().to_string(), c);
    }
    // Every certificate on disk is in the ledger, as the issued one for its NAME.
    let issued_dir = env.ca_dir().join("issued");
    let mut on_disk = 0;
    for entry in std::fs::read_dir(&issued_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "leftover staging directory {name}");
        let cert = entry.path().join("cert.pem");
        let fp = sha256_fingerprint(&cert);
        let row = by_fp
            .get(&fp)
            .unwrap_or_else(|| panic!("{name}: certificate on disk not in the ledger"));
        assert_eq!(row["name"], name.as_str());
        assert_eq!(row["status"], "issued", "{name}");
        for f in ["key.pem", "chain.pem", "fullchain.pem"] {
            assert!(entry.path().join(f).exists(), "{name}/{f} missing");
        }
        on_disk += 1;
    }
    // Every row that says issued has its files.
    let issued_rows = certs
        .iter()
        .filter(|c| c["source"] == "issue" && c["status"] == "issued")
        .count();
    assert_eq!(
        issued_rows, on_disk,
        "ledger says {issued_rows} issued, disk has {on_disk}"
    );
    assert!(
        on_disk >= n,
        "the first, uninterrupted batch must be complete"
    );

    // Keys still match their certificates (spot check across rounds).
    for round in 0..=8 {
        let name = format!("r{round}-node{}", n / 2);
        let cert = env.issued(&name, "cert.pem");
        if cert.exists() {
            assert_eq!(
                cert_pubkey(&cert),
                key_pubkey(&env.issued(&name, "key.pem")),
                "{name}: key does not match certificate"
            );
        }
    }
    // And the CA keeps working: the interrupted names can be issued now.
    let leftover: Vec<String> = batch(8, n)
        .into_iter()
        .filter(|name| !env.issued(name, "cert.pem").exists())
        .take(5)
        .collect();
    if !leftover.is_empty() {
        env.uca().arg("issue").args(&leftover).assert().success();
    }
}
