//! Exit codes are an API: scripts and monitoring systems read them. This file is their one table:
//! the two code enums, the exit code and hint of every library error, in one exhaustive table,
//! the code of a command line clap refused, and the EXIT CODES text of `--help`, generated from
//! the enums' own docs. The hints name commands and flags, which only the binary knows; the
//! libraries' errors carry the facts.

use std::process::ExitCode;

use uca_ca::{CaError, ConfigError, ConfigFile};
use uca_custody::CustodyError;
use uca_health::HealthError;
use uca_health::probe::TlsError;
use uca_health::targets::TargetError;
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

/// The hint printed under any SAN error.
const SAN_HINT: &str = "SANs are DNS names (rmq1, *.svc.internal), IP addresses (10.0.0.7, ::1), emails \
(ops@example.org) or URIs (spiffe://example.org/svc); force a type with a dns:, ip:, email: or uri: prefix";

/// The hint under a command's own misuse: where its options and examples are.
const HELP_HINT: &str = "see 'uca help' for the command's options and examples";

/// The hint under an unreadable path.
const PATH_HINT: &str = "check the path and its permissions";

/// The exit code and hint of each X.509 error. No `_` arm: a new variant needs a decision here.
fn pki_diagnosis(e: &PkiError) -> (Exit, Option<String>) {
    match e {
        PkiError::WrongPassphrase => (
            Exit::Locked,
            Some("check the passphrase (--passphrase-file FILE or UCA_PASSPHRASE); 'openssl pkey -in private/ca.key' tests it independently".into()),
        ),
        PkiError::PassphraseRequired => (
            Exit::Locked,
            Some("give the CA passphrase with --passphrase-file FILE or the UCA_PASSPHRASE environment variable".into()),
        ),
        PkiError::UnknownKeyType(_) => (
            Exit::Usage,
            Some(format!("use one of: {}", uca_pki::KeyType::names())),
        ),
        PkiError::UnknownProfile(_) => (
            Exit::Usage,
            Some(format!("use one of: {}", uca_pki::Profile::names())),
        ),
        PkiError::BadCsr(_) | PkiError::CsrSignature => (
            Exit::Usage,
            Some("inspect it with 'openssl req -in FILE -noout -text' (add -inform DER for DER); uca needs a PKCS#10 request signed with the key it carries".into()),
        ),
        PkiError::UnsupportedCsrKey(_) => (
            Exit::Usage,
            Some(format!(
                "make the key as one of {} (e.g. openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256)",
                uca_pki::KeyType::names()
            )),
        ),
        PkiError::BadCertificate(_) | PkiError::BadSubject { .. } => (Exit::Usage, None),
        PkiError::BadValidity(_) => (
            Exit::Usage,
            Some("use --days between 1 and 36500; an expired CA is replaced, not used (uca init, or a new intermediate)".into()),
        ),
        PkiError::UnknownReason(_) => (
            Exit::Usage,
            Some(format!(
                "use one of: {}",
                uca_pki::crl::RevocationReason::names()
            )),
        ),
        PkiError::BadCrl(_) => (Exit::Usage, Some("make a fresh one with 'uca crl'".into())),
        PkiError::BadConstraint { .. } => (
            Exit::Usage,
            Some("DNS subtrees look like svc.internal (or .svc.internal), IP ranges like 10.0.0.0/8".into()),
        ),
        PkiError::ConstraintViolation(_) => (
            Exit::Usage,
            Some("the CA's name constraints and path length bound what it may sign; 'uca show' on the CA certificate lists them".into()),
        ),
        PkiError::BadKey(_) => (
            Exit::Failure,
            Some("the key file is damaged or not PKCS#8; for the CA key (private/ca.key), restore it from your backup".into()),
        ),
        PkiError::KeyGeneration(_) | PkiError::Signing(_) => (Exit::Failure, None),
    }
}

/// The hint of a TOML file's error: where to read about that file's format. No `_` arm: a new
/// kind of file needs a decision here.
fn config_hint(e: &ConfigError) -> &'static str {
    match e.file {
        ConfigFile::CaConfig => {
            "fix that line of the CA's config file; 'uca init' writes a commented example"
        }
        ConfigFile::Plan => "fix that line of the file; 'uca plan --help' shows the plan format",
        ConfigFile::Policy => "see 'Policy file' in the README for the keys a policy takes",
        ConfigFile::Targets => "see 'Targets file' in the README for the keys a target takes",
    }
}

/// The exit code and hint of each CA error. No `_` arm: a new variant needs a decision here.
fn ca_diagnosis(e: &CaError) -> (Exit, Option<String>) {
    let usage = |hint: &str| (Exit::Usage, Some(hint.to_string()));
    match e {
        CaError::NotFound { dir } => (
            Exit::NoCa,
            Some(format!(
                "create one with 'uca init --dir {}', or point at an existing CA with --dir or UCA_DIR",
                dir.display()
            )),
        ),
        CaError::AlreadyExists { dir } => (
            Exit::Exists,
            Some(format!(
                "uca never overwrites a CA; use another --dir, or inspect this one with 'uca list --dir {}'",
                dir.display()
            )),
        ),
        CaError::NotEmpty { .. } => (
            Exit::Exists,
            Some("choose a new or empty directory for the CA".into()),
        ),
        CaError::AlreadyIssued { name, .. } => (
            Exit::Exists,
            Some(format!(
                "add --force to replace the certificate of '{name}' (the old one stays in the ledger as superseded), or see it with 'uca show {name}'"
            )),
        ),
        CaError::Sealed { .. } => (
            Exit::Sealed,
            Some("a sealed CA can only list, show, verify and revoke; issue from an intermediate made before sealing, or create a new CA with 'uca init --dir NEW_DIR'".into()),
        ),
        CaError::KeyMissing { .. } => (
            Exit::Sealed,
            Some("restore private/ca.key from your backup; a CA without its key cannot sign".into()),
        ),
        CaError::Pki(p) => pki_diagnosis(p),
        CaError::Config(c) => usage(config_hint(c)),
        CaError::San(_) => usage(SAN_HINT),
        CaError::DuplicateName(n) => (
            Exit::Usage,
            Some(format!(
                "name '{n}' once per call (NAMEs are compared after lowercasing)"
            )),
        ),
        CaError::BadName { .. } => usage(
            "a NAME is a host name (rmq1), an IP address or an email address; put URIs in --san",
        ),
        CaError::NotInLedger(_) => usage("'uca list' shows every NAME and serial the CA knows"),
        CaError::ZeroDays
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
        | CaError::UnknownTrustTarget { .. } => usage(HELP_HINT),
        // The library knows why this certificate cannot be renewed, and says what to do instead.
        CaError::NotRenewable { hint, .. } => (Exit::Usage, Some(hint.clone())),
        CaError::NotRevocable { .. } => usage("'uca list' shows what can be revoked"),
        CaError::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => (
            Exit::Failure,
            Some("check the directory's owner and permissions (the CA directory must be writable by this user)".into()),
        ),
        CaError::Io { .. } => (
            Exit::Failure,
            Some("check that the path exists and the disk is not full".into()),
        ),
        CaError::Ledger(l) => ledger_diagnosis(l),
        CaError::BadCaCert { .. } | CaError::Rng(_) => (Exit::Failure, None),
    }
}

/// The exit code and hint of each ledger error. No `_` arm: a new variant needs a decision here.
fn ledger_diagnosis(e: &uca_ca::LedgerError) -> (Exit, Option<String>) {
    use uca_ca::LedgerError as L;
    let hint = |exit: Exit, hint: &str| (exit, Some(hint.to_string()));
    match e {
        L::BadSetting { .. } => hint(
            Exit::Usage,
            "the ledger is set by --ledger, UCA_LEDGER or `ledger` in uca.toml: postgres://USER@HOST/DB?sslmode=verify-full&sslrootcert=FILE",
        ),
        L::TlsRoot { .. } => hint(
            Exit::Usage,
            "sslrootcert must be a PEM file with the CA certificate that signed the database server's",
        ),
        L::Connect { .. } => hint(
            Exit::Failure,
            "check that PostgreSQL is up and reachable, the user and database exist, and the password (in the URL or PGPASSWORD) is right",
        ),
        L::Pg(_) => hint(
            Exit::Failure,
            "the database refused or lost the connection; nothing was acknowledged unless uca said so: run the command again",
        ),
        L::CommitUnknown { .. } => hint(
            Exit::Failure,
            "once the database is back, `uca list` / `uca show` say whether it was recorded; `uca` repairs what it left pending at its next run",
        ),
        L::SyncUnknown { .. } => hint(
            Exit::Failure,
            "the disk refused to flush: check it (dmesg, free space); `uca list` shows what was recorded",
        ),
        L::ForeignCa { .. } => hint(
            Exit::Usage,
            "each CA needs its own ledger: point this one at its own database (or the right CA directory)",
        ),
        L::NotEmpty { .. } => hint(
            Exit::Usage,
            "a new CA or a copy needs an empty ledger: create a new database (createdb) or remove the file",
        ),
        L::CopyMismatch { .. } => hint(
            Exit::Failure,
            "the destination does not hold what was copied: do not switch to it; drop it and copy again",
        ),
        L::NewerSchema { .. } => hint(
            Exit::Failure,
            "a newer uca has upgraded this ledger: run that version (or newer) here too",
        ),
        L::TwiceIssued { .. } => hint(
            Exit::Failure,
            "an earlier uca recorded both; revoke the one its client did not receive (uca revoke SERIAL --reason superseded) with that earlier uca, then run this one",
        ),
        L::Unlocked => hint(Exit::Failure, "another uca process holds the CA; try again"),
        L::Missing { .. } => hint(
            Exit::Failure,
            "restore ledger.sqlite from backup (with ledger.sqlite-wal), or point --ledger at the CA's ledger",
        ),
        L::Db(_)
        | L::Open { .. }
        | L::BadTimestamp { .. }
        | L::BadSerial { .. }
        | L::BadSan { .. }
        | L::BadSanList(_)
        | L::Json(_)
        | L::UnknownWord { .. }
        | L::DuplicateSerial { .. }
        | L::UnknownSerial { .. }
        | L::Vanished { .. }
        | L::NothingIssued => hint(
            Exit::Failure,
            "the ledger is ledger.sqlite in the CA directory (or the database in `ledger`); restore it from backup if it is damaged",
        ),
    }
}

/// The exit code and hint of each chain-of-custody error. No `_` arm: a new variant needs a
/// decision here.
fn custody_diagnosis(e: &CustodyError) -> (Exit, Option<String>) {
    let hint = |exit: Exit, hint: &str| (exit, Some(hint.to_string()));
    match e {
        // The release itself is wrong: the verdict is "not valid", never a pass.
        CustodyError::ManifestLine { .. } | CustodyError::EmptyManifest => hint(
            Exit::NotValid,
            "a manifest is 'SHA256  PATH' lines as sha256sum prints them; rebuild it with 'uca artifact manifest'",
        ),
        CustodyError::MetaLine { .. } => hint(
            Exit::NotValid,
            "the sidecar is written by 'uca artifact manifest --out'; rebuild both together",
        ),
        CustodyError::DuplicatePath(_) => hint(
            Exit::NotValid,
            "each file may appear once; rebuild the manifest with 'uca artifact manifest'",
        ),
        CustodyError::Io { .. } => hint(Exit::Usage, PATH_HINT),
        CustodyError::OutsideBase { .. } => hint(
            Exit::Usage,
            "name paths inside --base (default: the current directory), or pass a --base that contains them",
        ),
        CustodyError::Config(c) => hint(Exit::Usage, config_hint(c)),
        CustodyError::NotADirectory { .. } | CustodyError::NotUtf8Name { .. } => {
            (Exit::Usage, None)
        }
        // An X.509 error inside custody keeps its X.509 code and hint.
        CustodyError::Pki(p) => pki_diagnosis(p),
        CustodyError::SpecialFile { .. } => hint(
            Exit::Failure,
            "a release tree holds files, directories and links; remove it or name the paths to include",
        ),
        CustodyError::NotHashed { .. } => (Exit::Failure, None),
    }
}

/// The hint of a TLS client configuration that could not be made. No `_` arm.
fn tls_hint(e: &TlsError) -> Option<&'static str> {
    match e {
        TlsError::Read { .. } => Some(PATH_HINT),
        TlsError::Pem { .. }
        | TlsError::NoCertificate { .. }
        | TlsError::UnusableCa { .. }
        | TlsError::NoCa
        | TlsError::Protocols(_)
        | TlsError::NoKey { .. }
        | TlsError::ClientCert(_) => None,
    }
}

/// The hint of a health target refused for its flags. No `_` arm.
fn target_hint(e: &TargetError) -> Option<&'static str> {
    match e {
        TargetError::CaUnreadable { .. } => Some(PATH_HINT),
        TargetError::Name { .. }
        | TargetError::Url(_)
        | TargetError::Method { .. }
        | TargetError::ExpectStatus { .. }
        | TargetError::BodyAndRegex
        | TargetError::BodyRegex(_)
        | TargetError::BodyNeedsHttp { .. }
        | TargetError::WarnNotLooser { .. }
        | TargetError::CertCritLonger { .. }
        | TargetError::IntervalTooShort { .. }
        | TargetError::TimeoutZero
        | TargetError::WindowShorterThanInterval { .. }
        | TargetError::MinSamplesNotPositive { .. }
        | TargetError::MinSamplesUnreachable { .. }
        | TargetError::ClientCert(_) => None,
    }
}

/// The exit code and hint of each endpoint-health error (`health watch`; `health check` reports
/// any of them as UNKNOWN, with the same hint). No `_` arm: a new variant needs a decision here.
fn health_diagnosis(e: &HealthError) -> (Exit, Option<String>) {
    match e {
        HealthError::Config(c) => (Exit::Usage, Some(config_hint(c).into())),
        HealthError::Io { .. } => (Exit::Usage, Some(PATH_HINT.into())),
        HealthError::Flags(t) => (Exit::Usage, target_hint(t).map(Into::into)),
        HealthError::Tls { error, .. } => (Exit::Usage, tls_hint(error).map(Into::into)),
        HealthError::Runtime(_)
        | HealthError::Listen { .. }
        | HealthError::Ca { .. }
        | HealthError::Ledger(_) => (Exit::Usage, None),
        HealthError::Store { .. } => (
            Exit::Failure,
            Some("the store keeps probe history only; move it aside to start afresh".into()),
        ),
    }
}

/// The hint of a health error, for `health check`, which exits UNKNOWN whatever the error.
pub fn health_hint(e: &HealthError) -> Option<String> {
    health_diagnosis(e).1
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
        let (exit, hint) = ca_diagnosis(&e);
        CliError::new(exit, e.to_string(), hint)
    }
}

impl From<PkiError> for CliError {
    fn from(e: PkiError) -> CliError {
        let (exit, hint) = pki_diagnosis(&e);
        CliError::new(exit, e.to_string(), hint)
    }
}

impl From<uca_pki::SanError> for CliError {
    fn from(e: uca_pki::SanError) -> CliError {
        CaError::from(e).into()
    }
}

impl From<CustodyError> for CliError {
    fn from(e: CustodyError) -> CliError {
        let (exit, hint) = custody_diagnosis(&e);
        CliError::new(exit, e.to_string(), hint)
    }
}

impl From<HealthError> for CliError {
    fn from(e: HealthError) -> CliError {
        let (exit, hint) = health_diagnosis(&e);
        CliError::new(exit, e.to_string(), hint)
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

    fn hint(e: impl Into<CliError>) -> String {
        e.into().hint.unwrap_or_default()
    }

    #[test]
    fn ca_hints_name_the_next_command() {
        let not_found = hint(CaError::NotFound {
            dir: PathBuf::from("pki"),
        });
        assert!(not_found.contains("'uca init --dir pki'"), "{not_found}");
        let wrong = hint(PkiError::WrongPassphrase);
        assert!(wrong.contains("--passphrase-file FILE"), "{wrong}");
        // Through a CA error or on its own, an X.509 error has the same hint.
        assert_eq!(hint(CaError::Pki(PkiError::WrongPassphrase)), wrong);
        let required = hint(CustodyError::Pki(PkiError::PassphraseRequired));
        assert!(required.contains("UCA_PASSPHRASE"), "{required}");
        assert!(hint(CaError::ZeroDays).contains("'uca help'"));
        let san = uca_pki::SanError {
            input: "a b".into(),
            reason: "x".into(),
        };
        assert!(hint(san).contains("force a type with a dns:"));
        assert!(CliError::from(CaError::Rng("x".into())).hint.is_none());
    }

    #[test]
    fn an_io_hint_depends_on_the_error_kind() {
        let io = |kind: std::io::ErrorKind| CaError::Io {
            op: "write",
            path: PathBuf::from("pki/x"),
            source: std::io::Error::from(kind),
        };
        let denied = hint(io(std::io::ErrorKind::PermissionDenied));
        assert!(denied.contains("owner and permissions"), "{denied}");
        let other = hint(io(std::io::ErrorKind::NotFound));
        assert!(other.contains("the disk is not full"), "{other}");
        assert_eq!(code(io(std::io::ErrorKind::PermissionDenied)), 1);
    }

    #[test]
    fn a_config_hint_depends_on_the_file() {
        let config = |file: ConfigFile| ConfigError {
            file,
            path: PathBuf::from("f.toml"),
            line: 1,
            column: 1,
            message: "x".into(),
        };
        assert!(hint(CaError::Config(config(ConfigFile::CaConfig))).contains("'uca init'"));
        assert!(hint(CaError::Config(config(ConfigFile::Plan))).contains("'uca plan --help'"));
        assert!(hint(CustodyError::Config(config(ConfigFile::Policy))).contains("'Policy file'"));
        let targets = HealthError::Config(config(ConfigFile::Targets));
        assert!(hint(targets).contains("'Targets file'"));
        assert_eq!(code(CustodyError::Config(config(ConfigFile::Policy))), 2);
    }

    #[test]
    fn health_hints_point_at_unreadable_files() {
        let path = || PathBuf::from("ca.pem");
        let tls = HealthError::Tls {
            target: None,
            error: TlsError::Read {
                path: path(),
                source: std::io::Error::other("x"),
            },
        };
        assert_eq!(health_hint(&tls).as_deref(), Some(PATH_HINT));
        let flags = HealthError::Flags(TargetError::CaUnreadable {
            path: path(),
            source: std::io::Error::other("x"),
        });
        assert_eq!(health_hint(&flags).as_deref(), Some(PATH_HINT));
        assert_eq!(
            health_hint(&HealthError::Flags(TargetError::TimeoutZero)),
            None
        );
        let no_ca = HealthError::Tls {
            target: None,
            error: TlsError::NoCa,
        };
        assert_eq!(health_hint(&no_ca), None);
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
