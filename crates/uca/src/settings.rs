//! Settings resolved once per command: flag, then environment, then default.
//! This is the only place that reads the process environment.

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::cli::Global;
use crate::output::Output;

/// The CA directory when neither --dir nor UCA_DIR is given.
pub const DEFAULT_DIR: &str = "./pki";

/// Everything a command needs from flags and the environment.
#[derive(Clone)]
pub struct Settings {
    pub dir: PathBuf,
    /// The CA directory was named (--dir or UCA_DIR), not just the ./pki default: a verifier
    /// only trusts a CA it was pointed at, never one that happens to sit in the working directory.
    pub dir_explicit: bool,
    /// The CA directory without --dir (UCA_DIR, else ./pki): the parent for `uca intermediate`,
    /// whose --dir names the new child.
    pub parent_dir: PathBuf,
    pub out: Output,
    /// UCA_PASSPHRASE, if set (never printed).
    pub env_passphrase: Option<Zeroizing<String>>,
    /// UCA_NEW_PASSPHRASE, for `uca passphrase change` (never printed).
    pub env_new_passphrase: Option<Zeroizing<String>>,
    /// UCA_KEY_PASSPHRASE, for a signer's key in `uca artifact attest` (never printed).
    pub env_key_passphrase: Option<Zeroizing<String>>,
    /// UCA_EXPORT_PASSWORD, for PKCS#12 exports (never printed).
    pub env_export_password: Option<Zeroizing<String>>,
    /// HOME, where browsers keep their NSS databases.
    pub home: Option<PathBuf>,
    /// PATH, where `uca trust` finds update-ca-certificates, certutil and keytool.
    pub search_path: Vec<PathBuf>,
    /// --ledger or UCA_LEDGER, and PGPASSWORD (never printed).
    pub ledger: uca_ca::LedgerAccess,
}

impl Settings {
    pub fn resolve(global: &Global) -> Settings {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let parent_dir = env("UCA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        let dir = global.dir.clone().unwrap_or_else(|| parent_dir.clone());
        let dir_explicit = global.dir.is_some() || env("UCA_DIR").is_some();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Settings {
            ledger: uca_ca::LedgerAccess {
                url: global.ledger.clone().or_else(|| env("UCA_LEDGER")),
                password: std::env::var("PGPASSWORD").ok().map(Zeroizing::new),
            },
            dir,
            dir_explicit,
            out: Output::new(global.json, no_color),
            parent_dir,
            env_passphrase: std::env::var("UCA_PASSPHRASE").ok().map(Zeroizing::new),
            env_new_passphrase: std::env::var("UCA_NEW_PASSPHRASE").ok().map(Zeroizing::new),
            home: std::env::var_os("HOME").map(PathBuf::from),
            search_path: std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
            env_key_passphrase: std::env::var("UCA_KEY_PASSPHRASE").ok().map(Zeroizing::new),
            env_export_password: std::env::var("UCA_EXPORT_PASSWORD")
                .ok()
                .filter(|v| !v.is_empty())
                .map(Zeroizing::new),
        }
    }
}
