//! Several `uca` processes on one CA directory serialize on its lock and never corrupt it.

use std::collections::HashSet;
use std::process::Stdio;

use crate::support::*;

/// 8 parallel `uca issue` processes: every certificate lands in the ledger, serials are
/// unique, and the only thing a process says besides its result is that it waits.
#[test]
fn eight_parallel_issuers() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let per_process = 25;
    let children: Vec<_> = (0..8)
        .map(|p| {
            let names: Vec<String> = (1..=per_process).map(|i| format!("p{p}-svc{i}")).collect();
            uca_std()
                .arg("--dir")
                .arg(env.ca_dir())
                .arg("issue")
                .args(&names)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn uca")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "a parallel uca failed:\n{stderr}");
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.starts_with("waiting for another uca process")
                    || line.starts_with("check: openssl verify"),
                "unexpected stderr line: {line}"
            );
        }
    }
    let v = env.json(&["list"]);
    let certs = v["certificates"].as_array().unwrap();
    let leaves: Vec<_> = certs.iter().filter(|c| c["source"] == "issue").collect();
    assert_eq!(leaves.len(), 8 * per_process);
    assert!(leaves.iter().all(|c| c["status"] == "issued"));
    let serials: HashSet<&str> = certs
        .iter()
        .map(|c| c["serial"].as_str().unwrap())
        .collect();
    assert_eq!(serials.len(), certs.len(), "serials must be unique");
    let ca = env.ca_cert();
    for p in 0..8 {
        let cert = env.issued(&format!("p{p}-svc{per_process}"), "cert.pem");
        openssl(&["verify", "-CAfile", ca.utf8(), cert.utf8()]);
    }
}
