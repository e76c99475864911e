//! Exit codes are an API: scripts and monitoring systems read them. This file is their one table:
//! the two code enums, the mapping from every library error to a code, the code of a command line
//! clap refused, and the EXIT CODES text of `--help`, generated from the enums' own docs.

use std::process::ExitCode;

use uca_ca::CaError;
use uca_custody::CustodyError;
use uca_health::HealthError;
use uca_pki::PkiError;

/// Declares an exit-code enum whose one-line variant docs are also its EXIT CODES lines in
/// `--help`, so the documentation and the help cannot drift apart.
macro_rules! exit_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( #[doc = $doc:literal] $variant:ident = $code:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $( #[doc = $doc] $variant = $code, )*
        }

        impl $name {
            /// Every code, in numeric order.
            pub const ALL: &[$name] = &[$($name::$variant),*];

            /// The number the process exits with.
            pub fn code(self) -> u8 {
                self as u8
            }

            /// What the code means: the variant's doc, as `--help` shows it.
            pub fn meaning(self) -> &'static str {
                match self {
                    $( $name::$variant => $doc.trim(), )*
                }
            }
        }

        impl From<$name> for ExitCode {
            fn from(c: $name) -> ExitCode {
                ExitCode::from(c.code())
            }
        }
    };
}

exit_codes! {
    /// Exit codes of every command but the monitoring checks.
    pub enum Exit {
        /// success
        Ok = 0,
        /// the operation failed (I/O, ledger, crypto)
        Failure = 1,
        /// invalid input (flags, NAMEs, SANs, files)
        Usage = 2,
        /// no CA in the directory
        NoCa = 4,
        /// refused because something exists (a CA, a NAME without --force, an output file)
        Exists = 5,
        /// the CA key could not be unlocked (wrong or missing passphrase)
        Locked = 6,
        /// uca verify: the certificate is not valid; uca artifact verify: the policy does not hold
        NotValid = 7,
        /// the CA is sealed (its key was destroyed) and cannot sign
        Sealed = 8,
    }
}

exit_codes! {
    /// The verdict of a monitoring check (`uca expiring`, `uca health check`), in the
    /// monitoring-plugins codes that Nagios, Icinga and their kin read.
    pub enum Verdict {
        /// OK: everything is green
        Ok = 0,
        /// WARNING: something is yellow
        Warning = 1,
        /// CRITICAL: something is red
        Critical = 2,
        /// UNKNOWN: the check could not be made (bad arguments, no CA or ledger, too few probes)
        Unknown = 3,
    }
}

/// The commands whose exit code is a `Verdict`, as subcommand paths.
pub const MONITORING: &[&[&str]] = &[&["expiring"], &["health", "check"]];

/// What the process exits with: an ordinary command's outcome, or a monitoring check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Exit(Exit),
    Verdict(Verdict),
}

impl From<Exit> for Code {
    fn from(e: Exit) -> Code {
        Code::Exit(e)
    }
}

impl From<Verdict> for Code {
    fn from(v: Verdict) -> Code {
        Code::Verdict(v)
    }
}

impl Code {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Code::Exit(e) => e.code(),
            Code::Verdict(v) => v.code(),
        }
    }
}

impl From<Code> for ExitCode {
    fn from(c: Code) -> ExitCode {
        ExitCode::from(c.code())
    }
}

/// The EXIT CODES section of a `--help`: the lines of `exits` (pointing to `uca --help` for the
/// rest when they are not all of them), then the monitoring verdicts when `verdicts` is set.
pub fn exit_codes_help(exits: &[Exit], verdicts: bool) -> String {
    let line = |code: u8, meaning: &str| format!("\n  {code}  {meaning}");
    let mut text = String::new();
    if !exits.is_empty() {
        text.push_str("EXIT CODES:");
        for e in exits {
            text.push_str(&line(e.code(), e.meaning()));
        }
        if exits.len() < Exit::ALL.len() {
            text.push_str("\n  others as for every command (see 'uca --help')");
        }
    }
    if verdicts {
        if exits.is_empty() {
            text.push_str("EXIT CODES (monitoring plugins):");
        } else {
            text.push_str(
                "\n\nEXIT CODES of uca expiring and uca health check (monitoring plugins):",
            );
        }
        for v in Verdict::ALL {
            text.push_str(&line(v.code(), v.meaning()));
        }
    }
    text
}

/// The exit code of a command line clap refused. `--help` and `--version` arrive here too, as
/// errors that are not failures. A monitoring check says UNKNOWN, since its caller reads every
/// other code as a verdict on what it checks; any other command says "invalid input". `path` is
/// the subcommand path the command line names (`cli::argv::subcommand_path`).
pub fn parse_error_code(e: &clap::Error, path: &[&str]) -> Code {
    if !e.use_stderr() {
        Exit::Ok.into()
    } else if MONITORING.contains(&path) {
        Verdict::Unknown.into()
    } else {
        Exit::Usage.into()
    }
}

/// The exit code of each X.509 error. No `_` arm: a new variant needs a decision here.
fn pki_exit(e: &PkiError) -> Exit {
    match e {
        PkiError::WrongPassphrase | PkiError::PassphraseRequired => Exit::Locked,
        PkiError::UnknownKeyType(_)
        | PkiError::UnknownProfile(_)
        | PkiError::BadCsr(_)
        | PkiError::CsrSignature
        | PkiError::UnsupportedCsrKey(_)
        | PkiError::BadCertificate(_)
        | PkiError::BadSubject { .. }
        | PkiError::BadValidity(_)
        | PkiError::UnknownReason(_)
        | PkiError::BadCrl(_)
        | PkiError::BadConstraint { .. }
        | PkiError::ConstraintViolation(_) => Exit::Usage,
        PkiError::BadKey(_) | PkiError::KeyGeneration(_) | PkiError::Signing(_) => Exit::Failure,
    }
}

/// The exit code of each CA error. No `_` arm: a new variant needs a decision here.
fn ca_exit(e: &CaError) -> Exit {
    match e {
        CaError::NotFound { .. } => Exit::NoCa,
        CaError::AlreadyExists { .. }
        | CaError::NotEmpty { .. }
        | CaError::AlreadyIssued { .. } => Exit::Exists,
        CaError::Sealed { .. } | CaError::KeyMissing { .. } => Exit::Sealed,
        CaError::Pki(p) => pki_exit(p),
        CaError::Config(_)
        | CaError::San(_)
        | CaError::DuplicateName(_)
        | CaError::BadName { .. }
        | CaError::NotInLedger(_)
        | CaError::ZeroDays
        | CaError::ZeroCrlDays
        | CaError::CrlAfterCaExpiry
        | CaError::SamePassphrase
        | CaError::NameIsIntermediate { .. }
        | CaError::CsrWithoutName
        | CaError::UnsupportedCsrSan { .. }
        | CaError::UnknownExportFormat { .. }
        | CaError::NoKeyHere { .. }
        | CaError::ExportNeedsName { .. }
        | CaError::ExportNeedsPassword { .. }
        | CaError::NotADirectory { .. }
        | CaError::Pkcs12(_)
        | CaError::IssuedKeyPem(_)
        | CaError::IssuedKeyMissing
        | CaError::EmptyPasswordFile { .. }
        | CaError::UnknownTrustTarget { .. }
        | CaError::NotRenewable { .. }
        | CaError::NotRevocable { .. } => Exit::Usage,
        CaError::Io { .. } | CaError::Ledger(_) | CaError::BadCaCert { .. } | CaError::Rng(_) => {
            Exit::Failure
        }
    }
}

/// The exit code of each chain-of-custody error. No `_` arm: a new variant needs a decision here.
fn custody_exit(e: &CustodyError) -> Exit {
    match e {
        // The release itself is wrong: the verdict is "not valid", never a pass.
        CustodyError::ManifestLine { .. }
        | CustodyError::MetaLine { .. }
        | CustodyError::EmptyManifest
        | CustodyError::DuplicatePath(_) => Exit::NotValid,
        CustodyError::Io { .. }
        | CustodyError::NotADirectory { .. }
        | CustodyError::NotUtf8Name { .. }
        | CustodyError::OutsideBase { .. }
        | CustodyError::Config(_) => Exit::Usage,
        CustodyError::Pki(p) => pki_exit(p),
        CustodyError::SpecialFile { .. } | CustodyError::NotHashed { .. } => Exit::Failure,
    }
}

/// The exit code of each endpoint-health error (`health watch`; `health check` reports any of
/// them as UNKNOWN). No `_` arm: a new variant needs a decision here.
fn health_exit(e: &HealthError) -> Exit {
    match e {
        HealthError::Config(_)
        | HealthError::Io { .. }
        | HealthError::Flags(_)
        | HealthError::Tls { .. }
        | HealthError::Runtime(_)
        | HealthError::Listen { .. }
        | HealthError::Ca { .. }
        | HealthError::Ledger(_) => Exit::Usage,
        HealthError::Store { .. } => Exit::Failure,
    }
}

/// An error as the user sees it: message, optional hint, exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: Code,
}

impl CliError {
    pub fn new(
        code: impl Into<Code>,
        message: impl Into<String>,
        hint: impl Into<Option<String>>,
    ) -> CliError {
        CliError {
            message: message.into(),
            hint: hint.into(),
            code: code.into(),
        }
    }

    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError::new(Exit::Usage, message, hint)
    }

    pub fn exists(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError::new(Exit::Exists, message, hint)
    }

    pub fn failure(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError::new(Exit::Failure, message, hint)
    }

    /// A monitoring check that could not be made: UNKNOWN, whatever stopped it.
    pub fn unknown(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError::new(Verdict::Unknown, message, hint)
    }
}

impl From<CaError> for CliError {
    fn from(e: CaError) -> CliError {
        CliError::new(ca_exit(&e), e.to_string(), e.hint())
    }
}

impl From<PkiError> for CliError {
    fn from(e: PkiError) -> CliError {
        // The CA error's hint covers the X.509 errors.
        CaError::from(e).into()
    }
}

impl From<uca_pki::SanError> for CliError {
    fn from(e: uca_pki::SanError) -> CliError {
        CaError::from(e).into()
    }
}

impl From<CustodyError> for CliError {
    fn from(e: CustodyError) -> CliError {
        match e {
            CustodyError::Pki(p) => CliError::from(p),
            e => CliError::new(custody_exit(&e), e.to_string(), e.hint()),
        }
    }
}

impl From<HealthError> for CliError {
    fn from(e: HealthError) -> CliError {
        CliError::new(health_exit(&e), e.to_string(), e.hint())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn code(e: impl Into<CliError>) -> u8 {
        e.into().code.code()
    }

    #[test]
    fn ca_errors_keep_their_codes() {
        let dir = PathBuf::from("pki");
        assert_eq!(code(CaError::NotFound { dir: dir.clone() }), 4);
        assert_eq!(code(CaError::NotEmpty { dir: dir.clone() }), 5);
        let issued = CaError::AlreadyIssued {
            name: "rmq1".into(),
            serial: "01".into(),
        };
        assert_eq!(code(issued), 5);
        assert_eq!(code(CaError::Pki(PkiError::WrongPassphrase)), 6);
        assert_eq!(code(CaError::Sealed { dir, since: None }), 8);
        assert_eq!(code(CaError::ZeroDays), 2);
        assert_eq!(code(CaError::SamePassphrase), 2);
        assert_eq!(code(CaError::Ledger(uca_ca::LedgerError::NothingIssued)), 1);
        assert_eq!(code(CaError::Rng("x".into())), 1);
    }

    #[test]
    fn pki_errors_keep_their_codes() {
        assert_eq!(code(PkiError::PassphraseRequired), 6);
        assert_eq!(code(PkiError::CsrSignature), 2);
        assert_eq!(code(PkiError::UnknownProfile("x".into())), 2);
        assert_eq!(code(PkiError::BadKey("x".into())), 1);
        assert_eq!(code(PkiError::Signing("x".into())), 1);
    }

    #[test]
    fn custody_errors_keep_their_codes() {
        let truncated = CustodyError::ManifestLine {
            line: 3,
            message: "no final newline".into(),
        };
        assert_eq!(code(truncated), 7);
        assert_eq!(code(CustodyError::EmptyManifest), 7);
        let dir = || PathBuf::from("release");
        assert_eq!(code(CustodyError::NotADirectory { path: dir() }), 2);
        assert_eq!(code(CustodyError::NotHashed { path: dir() }), 1);
        // An X.509 error inside custody keeps its X.509 code.
        assert_eq!(code(CustodyError::Pki(PkiError::WrongPassphrase)), 6);
    }

    #[test]
    fn health_errors_keep_their_codes() {
        assert_eq!(code(HealthError::Runtime(std::io::Error::other("x"))), 2);
        let store = HealthError::Store {
            path: PathBuf::from("h.sqlite"),
            message: "x".into(),
        };
        assert_eq!(code(store), 1);
    }

    #[test]
    fn verdicts_are_the_monitoring_plugins_codes() {
        let codes: Vec<u8> = Verdict::ALL.iter().map(|v| v.code()).collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        assert_eq!(CliError::unknown("x", None).code.code(), 3);
    }

    #[test]
    fn top_level_help_lists_every_code() {
        let help = exit_codes_help(Exit::ALL, true);
        for e in Exit::ALL {
            let line = format!("\n  {}  {}", e.code(), e.meaning());
            assert!(help.contains(&line), "{line:?} missing from\n{help}");
        }
        for v in Verdict::ALL {
            let line = format!("\n  {}  {}", v.code(), v.meaning());
            assert!(help.contains(&line), "{line:?} missing from\n{help}");
        }
        assert!(!help.contains("others as for every command"), "{help}");
    }

    #[test]
    fn a_command_help_lists_its_codes_and_points_to_the_rest() {
        let help = exit_codes_help(&[Exit::Ok, Exit::NotValid], false);
        assert!(
            help.starts_with("EXIT CODES:\n  0  success\n  7  "),
            "{help}"
        );
        assert!(
            help.ends_with("others as for every command (see 'uca --help')"),
            "{help}"
        );
        let monitoring = exit_codes_help(&[], true);
        assert!(
            monitoring.starts_with("EXIT CODES (monitoring plugins):\n  0  OK"),
            "{monitoring}"
        );
        assert!(monitoring.contains("\n  3  UNKNOWN"), "{monitoring}");
    }

    #[test]
    fn help_lines_fit_the_default_width() {
        // clap wraps after_help at the terminal's width, 100 columns when there is none.
        for line in exit_codes_help(Exit::ALL, true).lines() {
            assert!(line.chars().count() <= 100, "{line:?}");
        }
    }

    /// The README's exit-code tables say what `--help` says.
    #[test]
    fn readme_agrees_with_the_help() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap_or_default();
        let Some((_, section)) = readme.split_once("### Exit codes") else {
            panic!("{} has no '### Exit codes' section", path.display());
        };
        let section = section
            .split("\n## ")
            .next()
            .unwrap_or_default()
            .replace('`', "");
        let rows = Exit::ALL
            .iter()
            .map(|e| (e.code(), e.meaning()))
            .chain(Verdict::ALL.iter().map(|v| (v.code(), v.meaning())));
        for (code, meaning) in rows {
            let row = format!("| {code} | {meaning} |");
            assert!(section.contains(&row), "README lacks {row:?}");
        }
    }
}
