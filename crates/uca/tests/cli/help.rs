//! `uca --help` and the help of its commands: examples and the exit codes they document.

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
