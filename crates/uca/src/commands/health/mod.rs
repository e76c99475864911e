//! `uca health`: the watcher and the one-shot check.

pub mod check;
pub mod watch;
