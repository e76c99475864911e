//! Exit codes (documented in `uca --help` and the README) and the error type that carries one.

use std::process::ExitCode;

use uca_ca::CaError;
use uca_pki::PkiError;

/// Exit codes of `uca`. Scripts rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The operation failed (I/O, ledger, crypto).
    Failure = 1,
    /// Invalid input: flags, names, SANs, files.
    Usage = 2,
    /// `uca expiring`: the check could not be made (monitoring-plugins UNKNOWN).
    Unknown = 3,
    /// No CA at the directory.
    NoCa = 4,
    /// Refused: it exists already (a CA, a NAME without --force, an output file).
    Exists = 5,
    /// The CA key could not be unlocked (wrong or missing passphrase).
    Locked = 6,
    /// `uca verify`: the certificate is not valid.
    NotValid = 7,
    /// The CA is sealed (or its key is gone): it cannot sign.
    Sealed = 8,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

pub const EXIT_CODES_HELP: &str = "EXIT CODES:
  0  success
  1  the operation failed (I/O, ledger, crypto)
  2  invalid input (flags, NAMEs, SANs, files)
  4  no CA in the directory
  5  refused because something exists (a CA, a NAME without --force, an output file)
  6  the CA key could not be unlocked (wrong or missing passphrase)
  7  uca verify: the certificate is not valid; uca artifact verify: the policy does not hold
  8  the CA is sealed (its key was destroyed) and cannot sign
  uca expiring and uca health check use the monitoring-plugins codes instead: 0 OK, 1 WARNING,
  2 CRITICAL, 3 UNKNOWN";

/// An error as the user sees it: message, optional hint, exit code.
#[derive(Debug)]
pub struct CliError {
    pub message: String,
    pub hint: Option<String>,
    pub code: Exit,
}

impl CliError {
    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError {
            message: message.into(),
            hint: hint.into(),
            code: Exit::Usage,
        }
    }

    pub fn exists(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError {
            message: message.into(),
            hint: hint.into(),
            code: Exit::Exists,
        }
    }

    pub fn failure(message: impl Into<String>, hint: impl Into<Option<String>>) -> CliError {
        CliError {
            message: message.into(),
            hint: hint.into(),
            code: Exit::Failure,
        }
    }
}

impl From<CaError> for CliError {
    fn from(e: CaError) -> CliError {
        let code = match &e {
            CaError::NotFound { .. } => Exit::NoCa,
            CaError::AlreadyExists { .. }
            | CaError::NotEmpty { .. }
            | CaError::AlreadyIssued { .. } => Exit::Exists,
            CaError::Pki(PkiError::WrongPassphrase | PkiError::PassphraseRequired) => Exit::Locked,
            CaError::Sealed { .. } | CaError::KeyMissing { .. } => Exit::Sealed,
            CaError::Pki(
                PkiError::UnknownKeyType(_)
                | PkiError::UnknownProfile(_)
                | PkiError::BadCsr(_)
                | PkiError::CsrSignature
                | PkiError::UnsupportedCsrKey(_)
                | PkiError::BadSubject { .. }
                | PkiError::BadValidity(_)
                | PkiError::UnknownReason(_)
                | PkiError::BadConstraint { .. }
                | PkiError::ConstraintViolation(_)
                | PkiError::BadCrl(_)
                | PkiError::BadCertificate(_),
            )
            | CaError::NotRenewable { .. }
            | CaError::NotRevocable { .. }
            | CaError::San(_)
            | CaError::BadName { .. }
            | CaError::DuplicateName(_)
            | CaError::NotInLedger(_)
            | CaError::Config(_)
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
            | CaError::UnknownTrustTarget { .. } => Exit::Usage,
            _ => Exit::Failure,
        };
        CliError {
            hint: e.hint(),
            message: e.to_string(),
            code,
        }
    }
}

impl From<PkiError> for CliError {
    fn from(e: PkiError) -> CliError {
        CaError::from(e).into()
    }
}

impl From<uca_pki::SanError> for CliError {
    fn from(e: uca_pki::SanError) -> CliError {
        CaError::from(e).into()
    }
}

impl From<uca_custody::CustodyError> for CliError {
    fn from(e: uca_custody::CustodyError) -> CliError {
        use uca_custody::CustodyError as E;
        let e = match e {
            E::Pki(p) => return CliError::from(p),
            other => other,
        };
        let code = match &e {
            // The release itself is wrong: the verdict is "not valid", never a pass.
            E::ManifestLine { .. }
            | E::MetaLine { .. }
            | E::EmptyManifest
            | E::DuplicatePath(_) => Exit::NotValid,
            E::Io { .. } | E::Input(_) | E::Config(_) | E::OutsideBase { .. } => Exit::Usage,
            _ => Exit::Failure,
        };
        CliError {
            hint: e.hint(),
            message: e.to_string(),
            code,
        }
    }
}

impl From<uca_health::HealthError> for CliError {
    fn from(e: uca_health::HealthError) -> CliError {
        use uca_health::HealthError as E;
        let code = match &e {
            E::Config(_) | E::Io { .. } | E::Setup(_) => Exit::Usage,
            E::Store { .. } => Exit::Failure,
        };
        CliError {
            hint: e.hint(),
            message: e.to_string(),
            code,
        }
    }
}
