//! One file per command verb; this module dispatches, prints errors and exits with their code.

mod acme;
mod apply;
mod artifact;
mod crl;
mod expiring;
mod export;
mod health;
pub(crate) mod init;
mod intermediate;
mod issue;
mod ledger;
mod list;
mod passphrase;
mod plan;
mod renew;
mod revoke;
mod seal;
mod serve;
mod show;
mod sign;
mod trust;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use uca_ca::Ca;
use uca_pki::sign::CaSigner;

use crate::cli::artifact::ArtifactCommand;
use crate::cli::ca::{LedgerCommand, PassphraseArgs, PassphraseCommand};
use crate::cli::health::HealthCommand;
use crate::cli::{Cli, Command, argv};
use crate::exit::{CliError, Code, Exit, parse_error_code};
use crate::output::{note, warn};
use crate::secrets;
use crate::settings::Settings;

pub fn run() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            let mut cmd = Cli::command();
            cmd.build();
            let code = parse_error_code(&e, &argv::subcommand_path(&cmd, &args));
            let _ = e.print();
            return code.into();
        }
    };
    let settings = Settings::resolve(&cli.global);
    let ok = |()| Code::Exit(Exit::Ok);
    let result: Result<Code, CliError> = match &cli.command {
        Command::Init(a) => init::run(a, &settings).map(ok),
        Command::Issue(a) => issue::run(a, &settings).map(ok),
        Command::Sign(a) => sign::run(a, &settings).map(ok),
        Command::List(a) => list::run(a, &settings).map(ok),
        Command::Show(a) => show::run(a, &settings).map(ok),
        Command::Revoke(a) => revoke::run(a, &settings).map(ok),
        Command::Crl(a) => crl::run(a, &settings).map(ok),
        Command::Renew(a) => renew::run(a, &settings).map(ok),
        Command::Expiring(a) => expiring::run(a, &settings).map(Code::from),
        Command::Intermediate(a) => intermediate::run(a, &cli.global, &settings).map(ok),
        Command::Seal(a) => seal::run(a, &settings).map(ok),
        Command::Passphrase(PassphraseCommand::Change(a)) => {
            passphrase::change(a, &settings).map(ok)
        }
        Command::Verify(a) => verify::run(a, &settings).map(Code::from),
        Command::Export(a) => export::run(a, &settings).map(ok),
        Command::Trust(t) => trust::run(t, &settings).map(Code::from),
        Command::Plan(a) => plan::show(a, &settings).map(ok),
        Command::Apply(a) => apply::run(a, &settings).map(ok),
        Command::Artifact(ArtifactCommand::Manifest(a)) => {
            artifact::manifest::run(a, &settings).map(ok)
        }
        Command::Artifact(ArtifactCommand::Attest(a)) => {
            artifact::attest::run(a, &settings).map(ok)
        }
        Command::Artifact(ArtifactCommand::Verify(a)) => {
            artifact::verify::run(a, &settings).map(Code::from)
        }
        Command::Artifact(ArtifactCommand::Bundle(a)) => {
            artifact::bundle::run(a, &settings).map(ok)
        }
        Command::Health(HealthCommand::Watch(a)) => health::watch::run(a, &settings).map(ok),
        Command::Health(HealthCommand::Check(a)) => {
            health::check::run(a, &settings).map(Code::from)
        }
        Command::Serve(a) => serve::run(a, &settings).map(ok),
        Command::Acme(c) => acme::run(c, &settings).map(ok),
        Command::Ledger(LedgerCommand::Copy(a)) => ledger::copy(a, &settings).map(ok),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("\nhint: {h}");
            }
            e.code.into()
        }
    }
}

/// Opens the CA directory, telling the user if another uca holds the lock and what an
/// interrupted run left to repair.
pub(crate) fn open_ca(settings: &Settings) -> Result<Ca, CliError> {
    let dir = settings.dir.clone();
    let mut on_wait = || {
        note(format!(
            "waiting for another uca process to finish with {} …",
            dir.display()
        ))
    };
    let (ca, repair) = Ca::open(&settings.dir, &settings.ledger, &mut on_wait)?;
    if !repair.is_empty() {
        warn(format!(
            "repaired an interrupted run: {} certificate(s) completed, {} voided (never delivered), {} leftover file(s) removed",
            repair.completed.len(),
            repair.voided.len(),
            repair.cleaned
        ));
    }
    Ok(ca)
}

/// The CA key's passphrase, asked for before the CA is opened: opening takes the CA lock, and a
/// prompt waiting for a person must never hold the lock that `uca serve` needs for its next
/// write. `None` when the key is not encrypted (or not there: unlocking then says why).
pub(crate) struct KeyPassphrase(Option<zeroize::Zeroizing<Vec<u8>>>);

pub(crate) fn ask_passphrase(
    args: &PassphraseArgs,
    settings: &Settings,
) -> Result<KeyPassphrase, CliError> {
    let key = uca_ca::CaPaths::new(&settings.dir).ca_key();
    let encrypted = std::fs::read(&key)
        .map(|data| uca_pki::key::is_encrypted_pem(&data))
        .unwrap_or(false);
    if !encrypted {
        return Ok(KeyPassphrase(None));
    }
    Ok(KeyPassphrase(Some(secrets::unlock_passphrase(
        args.passphrase_file.as_deref(),
        settings,
    )?)))
}

impl KeyPassphrase {
    /// Unlocks the CA key of the opened CA.
    pub(crate) fn unlock(&self, ca: &Ca) -> Result<CaSigner, CliError> {
        ca.ensure_can_sign()?;
        if !ca.key_is_encrypted()? {
            return Ok(ca.unlock(None)?);
        }
        match &self.0 {
            Some(pass) => Ok(ca.unlock(Some(pass))?),
            None => Err(CliError {
                message: "the CA key is encrypted and no passphrase was given".into(),
                hint: Some(
                    "give it with --passphrase-file FILE or the UCA_PASSPHRASE environment variable".into(),
                ),
                code: Exit::Locked.into(),
            }),
        }
    }

    /// The passphrase itself (to re-encrypt with, or to reuse for a child key), after checking
    /// that the CA can sign.
    pub(crate) fn current(&self, ca: &Ca) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, CliError> {
        ca.ensure_can_sign()?;
        if ca.key_is_encrypted()? {
            self.unlock(ca)?;
            Ok(self.0.clone())
        } else {
            Ok(None)
        }
    }
}

/// Parses every `--san` value up front.
pub(crate) fn parse_sans(values: &[String]) -> Result<Vec<uca_pki::San>, CliError> {
    values
        .iter()
        .map(|v| uca_pki::San::parse(v).map_err(CliError::from))
        .collect()
}
