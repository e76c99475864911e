//! Settings resolved once per command: flag, then environment, then default.
//! This is the only place that reads the process environment.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::cli::Global;
use crate::output::Output;

/// The CA directory when neither --dir nor UCA_DIR is given.
pub const DEFAULT_DIR: &str = "./pki";

/// Everything a command needs from flags and the environment.
pub struct Settings {
    pub dir: PathBuf,
    pub out: Output,
    /// UCA_PASSPHRASE, if set (never printed).
    pub env_passphrase: Option<Zeroizing<String>>,
}

impl Settings {
    pub fn resolve(global: &Global) -> Settings {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let dir = global
            .dir
            .clone()
            .or_else(|| env("UCA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Settings {
            dir,
            out: Output::new(global.json, no_color),
            env_passphrase: std::env::var("UCA_PASSPHRASE").ok().map(Zeroizing::new),
        }
    }
}
