//! Replays the fuzz inputs of the uca-pki targets (fuzz/corpus/TARGET/ and, once a crash is
//! fixed, fuzz/artifacts/TARGET/) through the same harness the fuzz targets run
//! (fuzz/harness/pki.rs, included below), on stable and without a sanitizer. It asserts only
//! that nothing panics: most inputs are refused, and that is fine.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

#[allow(dead_code)]
mod harness {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/harness/pki.rs"));
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under fuzz/corpus/TARGET/ and fuzz/artifacts/TARGET/ (if present), sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(dir).join(target)) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// Runs `harness` on every input of `target`, then fails naming each input that panicked.
fn replay(target: &str, harness: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no seed inputs under fuzz/corpus/{target}/");
    let mut panicked = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if catch_unwind(AssertUnwindSafe(|| harness(&data))).is_err() {
            panicked.push(file.display().to_string());
        }
    }
    assert!(panicked.is_empty(), "the {target} harness panicked on: {panicked:#?}");
}

#[test]
fn csr() {
    replay("csr", harness::csr);
}

#[test]
fn certificate() {
    replay("certificate", harness::certificate);
}
