//! `uca --help` and the help of its commands: examples, the exit codes they document, and
//! snapshots of the help people read first.

use predicates::prelude::*;

use crate::support::*;

/// `--help` explains options with examples and documents exit codes.
#[test]
fn help_has_examples_and_exit_codes() {
    uca_bare()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("EXAMPLES").and(predicate::str::contains("EXIT CODES")));
    for cmd in ["init", "issue", "sign", "show"] {
        uca_bare()
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains("EXAMPLES"));
    }
}

/// The help people read first, as snapshots: `uca --help` and two commands' help (accept a
/// deliberate change with `cargo insta review`).
#[test]
fn help_texts_match_their_snapshots() {
    let cases: [(&str, &[&str]); 3] = [
        ("uca_help", &["--help"]),
        ("uca_issue_help", &["issue", "--help"]),
        ("uca_health_check_help", &["health", "check", "--help"]),
    ];
    each_case(
        cases.map(|(name, args)| (name, (name, args))),
        |(name, args)| {
            // clap wraps at the terminal's width, or at COLUMNS without one.
            let out = uca_bare()
                .env("COLUMNS", "100")
                .args(args)
                .output()
                .unwrap();
            let text = expect(&out, 0);
            insta::assert_snapshot!(name, text);
        },
    );
}
