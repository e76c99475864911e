//! Tables of cases: one test runs every case of a table, and a failing case names itself.

use std::any::Any;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `check` on every `(name, case)` in order. Every case runs even when an earlier one
/// failed; the test then fails naming each failed case with its panic message.
pub fn each_case<N: Display, T>(cases: impl IntoIterator<Item = (N, T)>, mut check: impl FnMut(T)) {
    let mut results = Vec::new();
    for (name, case) in cases {
        let result = catch_unwind(AssertUnwindSafe(|| check(case)));
        results.push((name.to_string(), result.err()));
    }
    report(results);
}

/// The same for cases that share nothing (each makes its own CA): they run at once, on one
/// thread each.
pub fn each_case_at_once<N: Display, T: Send>(
    cases: impl IntoIterator<Item = (N, T)>,
    check: impl Fn(T) + Sync,
) {
    let check = &check;
    let results = std::thread::scope(|scope| {
        let running: Vec<_> = cases
            .into_iter()
            .map(|(name, case)| (name.to_string(), scope.spawn(move || check(case))))
            .collect();
        running
            .into_iter()
            .map(|(name, thread)| (name, thread.join().err()))
            .collect::<Vec<_>>()
    });
    report(results);
}

fn report(results: Vec<(String, Option<Box<dyn Any + Send>>)>) {
    assert!(!results.is_empty(), "a table without cases");
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(name, panic)| {
            panic
                .as_ref()
                .map(|p| format!("case {name}: {}", panic_message(p.as_ref())))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic without a message)".to_string()
    }
}
