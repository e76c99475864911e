//! Replays the fuzz inputs of the uca-acme targets (fuzz/corpus/TARGET/ and, once a crash is
//! fixed, fuzz/artifacts/TARGET/) through the same harness the fuzz targets run
//! (fuzz/harness/acme.rs, included below), on stable and without a sanitizer. It asserts only
//! that nothing panics (most mutated inputs are refused, and that is fine), and that some seeds
//! still go all the way through, so that a change of format cannot turn the corpus into noise.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod harness {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/harness/acme.rs"
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
fn replay(target: &str, harness: fn(&[u8]) -> bool, min_accepted: usize) {
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
    assert!(
        panicked.is_empty(),
        "the {target} harness panicked on: {panicked:#?}"
    );
    assert!(
        accepted >= min_accepted,
        "only {accepted} of the {target} seeds were accepted, expected at least {min_accepted}"
    );
}

#[test]
fn jws() {
    // every JWS signed with its jwk, the kid ones, the POST-as-GETs
    replay("jws", harness::jws, 8);
}

#[test]
fn jwk() {
    // the public EC, RSA and OKP keys
    replay("jwk", harness::jwk, 5);
}

#[test]
fn eab() {
    // the bindings under the right MAC key
    replay("eab", harness::eab, 4);
}

#[test]
fn identifier() {
    // all but the email type and the uppercase name with a trailing dot
    replay("identifier", harness::identifier, 7);
}
