// The fuzz harnesses of uca's four TOML files: each parses the text as its loader does after
// reading the file (`Config::parse`, `Plan::parse`, `Policy::parse`, `Targets::parse`).
// Included (`include!`) both by the fuzz targets (fuzz/fuzz_targets/*.rs) and by the replay
// test (crates/uca/tests/fuzz_corpus.rs). A panic here is a bug in the library, never in the
// harness. Each returns whether the file was accepted, for the replay test's seed counts.

use std::path::Path;

/// Where the files "are": a directory that does not exist, so any file a targets file or a
/// plan names relative to itself is simply missing.
const FIXTURE_DIR: &str = "/nonexistent-uca-fuzz";

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// A CA's `uca.toml`: `Config::parse`; what parses renders (as `uca init` writes it) to a file
/// that parses again.
pub fn uca_toml(data: &[u8]) -> bool {
    let Some(text) = text(data) else {
        return false;
    };
    let path = Path::new(FIXTURE_DIR).join("uca.toml");
    let Ok(config) = uca_ca::Config::parse(text, &path) else {
        return false;
    };
    let rendered = config.render("uca fuzz CA", config.key);
    if let Err(e) = uca_ca::Config::parse(&rendered, &path) {
        panic!("the rendered uca.toml does not parse: {e}\n{rendered}");
    }
    true
}

/// A deployment plan (`uca plan`/`uca apply`): `Plan::parse`.
pub fn plan(data: &[u8]) -> bool {
    let Some(text) = text(data) else {
        return false;
    };
    let path = Path::new(FIXTURE_DIR).join("uca.plan.toml");
    uca_ca::deploy::plan::Plan::parse(text, &path).is_ok()
}

/// A custody policy (`uca artifact verify --policy`): `Policy::parse`.
pub fn policy(data: &[u8]) -> bool {
    let Some(text) = text(data) else {
        return false;
    };
    let path = Path::new(FIXTURE_DIR).join("policy.toml");
    uca_custody::policy::Policy::parse(text, &path).is_ok()
}

/// A health targets file (`uca health watch`): `Targets::parse`, with no CA directory.
pub fn targets(data: &[u8]) -> bool {
    let Some(text) = text(data) else {
        return false;
    };
    let path = Path::new(FIXTURE_DIR).join("targets.toml");
    uca_health::targets::Targets::parse(text, &path, None).is_ok()
}
