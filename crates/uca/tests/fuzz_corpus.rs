//! Replays every fuzz target's inputs (fuzz/corpus/TARGET/ and, once a crash is fixed,
//! fuzz/artifacts/TARGET/) through the same harness the fuzz target runs (fuzz/harness/*.rs,
//! included below: the harness files are the single source of truth), on stable and without a
//! sanitizer. It asserts that nothing panics (most mutated inputs are refused, and that is
//! fine), and that at least a given number of the committed seeds still go all the way through,
//! so that a change of format cannot quietly turn a corpus into noise. The structure-aware
//! targets' inputs are decoded with `arbitrary::Unstructured`, as libFuzzer's
//! `fuzz_target!(|input: T| …)` decodes them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod pki {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/pki.rs"
    ));
}

#[allow(dead_code)]
mod acme {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/acme.rs"
    ));
}

#[allow(dead_code)]
mod custody {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/custody.rs"
    ));
}

#[allow(dead_code)]
mod config {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/config.rs"
    ));
}

#[allow(dead_code)]
mod serve {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/serve.rs"
    ));
}

#[allow(dead_code)]
mod service {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/acme_service.rs"
    ));
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/structured.rs"
    ));
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under fuzz/corpus/TARGET/ and fuzz/artifacts/TARGET/ (if present), sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// Runs `harness` on every input of `target`, then fails naming each input that panicked, or if
/// fewer than `min_accepted` of the committed seeds (fuzz/corpus/TARGET/) were accepted.
fn replay(target: &str, harness: impl Fn(&[u8]) -> bool, min_accepted: usize) {
    let files = inputs(target);
    assert!(
        !files.is_empty(),
        "no seed inputs under fuzz/corpus/{target}/"
    );
    let seeds = fuzz_dir().join("corpus");
    let (mut panicked, mut accepted) = (Vec::new(), 0);
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        match catch_unwind(AssertUnwindSafe(|| harness(&data))) {
            Ok(true) if file.starts_with(&seeds) => accepted += 1,
            Ok(_) => {}
            Err(_) => panicked.push(file.display().to_string()),
        }
    }
    eprintln!("{target}: {accepted} of {} inputs accepted", files.len());
    assert!(
        panicked.is_empty(),
        "the {target} harness panicked on: {panicked:#?}"
    );
    assert!(
        accepted >= min_accepted,
        "only {accepted} of the {target} seeds were accepted, expected at least {min_accepted}"
    );
}

/// [`replay`] for a structure-aware harness: the bytes decoded into `T` first.
fn replay_structured<T: for<'a> arbitrary::Arbitrary<'a>>(
    target: &str,
    harness: fn(&T) -> bool,
    min_accepted: usize,
) {
    replay(
        target,
        |data| {
            T::arbitrary_take_rest(arbitrary::Unstructured::new(data)).is_ok_and(|v| harness(&v))
        },
        min_accepted,
    );
}

// uca-pki

#[test]
fn csr() {
    // every openssl CSR, PEM and DER
    replay("csr", pki::csr, 9);
}

#[test]
fn certificate() {
    // every certificate but the garbage one
    replay("certificate", pki::certificate, 14);
}

#[test]
fn crl() {
    // uca's CRLs and openssl's, signed by the fixture CA's key, PEM and DER
    replay("crl", pki::crl, 5);
}

#[test]
fn pkcs8() {
    // every key, plain and encrypted with the seeds' passphrase
    replay("pkcs8", pki::pkcs8, 10);
}

#[test]
fn pem() {
    // every well-formed PEM text, however wrapped
    replay("pem", pki::pem, 7);
}

// uca-acme

#[test]
fn jws() {
    // every JWS signed with its jwk, the kid ones, the POST-as-GETs
    replay("jws", acme::jws, 8);
}

#[test]
fn jwk() {
    // the public EC, RSA and OKP keys
    replay("jwk", acme::jwk, 5);
}

#[test]
fn eab() {
    // the bindings under the right MAC key
    replay("eab", acme::eab, 4);
}

#[test]
fn identifier() {
    // all but the email type and the uppercase name with a trailing dot
    replay("identifier", acme::identifier, 7);
}

#[test]
fn csr_order() {
    // the CSRs naming exactly the order's identifiers
    replay("csr_order", acme::csr_order, 3);
}

#[test]
fn acme_new_account() {
    replay("acme_new_account", service::acme_new_account, 4);
}

#[test]
fn acme_account() {
    replay("acme_account", service::acme_account, 4);
}

#[test]
fn acme_key_change() {
    replay("acme_key_change", service::acme_key_change, 1);
}

#[test]
fn acme_new_order() {
    replay("acme_new_order", service::acme_new_order, 5);
}

#[test]
fn acme_finalize() {
    replay("acme_finalize", service::acme_finalize, 3);
}

#[test]
fn acme_revoke() {
    replay("acme_revoke", service::acme_revoke, 2);
}

#[test]
fn acme_authz() {
    replay("acme_authz", service::acme_authz, 2);
}

#[test]
fn acme_challenge() {
    replay("acme_challenge", service::acme_challenge, 2);
}

#[test]
fn acme_request() {
    replay_structured("acme_request", service::acme_request, 9);
}

#[test]
fn csr_fields() {
    replay_structured("csr_fields", service::csr_fields, 4);
}

// uca-custody

#[test]
fn manifest() {
    replay("manifest", custody::manifest, 4);
}

#[test]
fn meta() {
    replay("meta", custody::meta, 2);
}

#[test]
fn cms() {
    replay("cms", custody::cms, 4);
}

// the TOML files

#[test]
fn uca_toml() {
    replay("uca_toml", config::uca_toml, 2);
}

#[test]
fn plan() {
    replay("plan", config::plan, 2);
}

#[test]
fn policy() {
    replay("policy", config::policy, 2);
}

#[test]
fn targets() {
    replay("targets", config::targets, 2);
}

// uca-serve

#[test]
fn http01() {
    replay("http01", serve::http01, 5);
}

#[test]
fn tlsalpn01() {
    replay("tlsalpn01", serve::tlsalpn01, 2);
}
