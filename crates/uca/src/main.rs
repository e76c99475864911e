//! The `uca` command: parse, resolve settings, call the libraries, print.

mod cli;
mod commands;
mod exit;
mod output;
mod secrets;
mod settings;

fn main() -> std::process::ExitCode {
    commands::run()
}
