//! `uca export`

use zeroize::Zeroizing;

use uca_ca::{ExportFormat, ExportOptions, FileMode, ModeError, Owner, OwnerError};

use crate::cli::deploy::ExportArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::note;
use crate::secrets;
use crate::settings::Settings;

/// `--key-mode`/`--cert-mode`/`--dir-mode`: the same [`FileMode`] parser plan outputs use.
fn mode(value: &str, flag: &str) -> Result<FileMode, CliError> {
    value.parse().map_err(|e: ModeError| {
        CliError::usage(
            format!("{flag} {e}"),
            Some("e.g. 0600, 0640, 0444".to_string()),
        )
    })
}

/// `--owner`: the same [`Owner`] parser plan outputs use.
fn owner(value: &str) -> Result<Owner, CliError> {
    value.parse().map_err(|e: OwnerError| {
        CliError::usage(
            format!("--owner {e}"),
            Some("numeric ids, e.g. --owner 999:999".to_string()),
        )
    })
}

pub fn run(args: &ExportArgs, settings: &Settings) -> Result<(), CliError> {
    let format: ExportFormat = args.format.parse()?;
    let mut opts = ExportOptions::new(format, args.out.clone());
    let key_mode = mode(&args.files.key_mode, "--key-mode")?;
    opts.cert_mode = mode(&args.files.cert_mode, "--cert-mode")?;
    opts.dir_mode = mode(&args.files.dir_mode, "--dir-mode")?;
    opts.key_mode = key_mode.for_key().map_err(|e| match e {
        ModeError::WorldReadableKey { mode } => CliError::usage(
            format!("--key-mode {mode} lets everyone read the private key"),
            Some("use 0600, 0400, or 0640 with --owner for a group".to_string()),
        ),
        other => CliError::usage(format!("--key-mode {other}"), None),
    })?;
    opts.owner = args.files.owner.as_deref().map(owner).transpose()?;
    opts.k8s_name = args.k8s_name.clone();
    opts.k8s_namespace = args.namespace.clone();
    if format.needs_password() {
        let password = if let Some(p) = &args.password {
            Zeroizing::new(p.clone())
        } else if let Some(f) = &args.password_file {
            let bytes = secrets::read_passphrase_file(f)?;
            Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
        } else if let Some(p) = &settings.env_export_password {
            p.clone()
        } else {
            return Err(CliError::usage(
                format!("the {format} export needs a password"),
                Some(
                    "give it with --password-file FILE, UCA_EXPORT_PASSWORD or --password"
                        .to_string(),
                ),
            ));
        };
        opts.password = Some(password);
    }
    if format.needs_name() && args.name.is_none() {
        return Err(CliError::usage(
            format!("the {format} export needs a NAME"),
            Some(format!("uca export NAME --format {format} --out PATH")),
        ));
    }
    let ca = open_ca(settings)?;
    let exported = ca.export(args.name.as_deref(), &opts)?;
    if settings.out.json {
        return settings.out.json(&exported);
    }
    for f in &exported.files {
        settings.out.line(format!(
            "wrote {} ({}, mode {})",
            f.path.display(),
            f.role,
            f.mode
        ));
    }
    if !exported.hints.is_empty() {
        note("use it:");
        for h in &exported.hints {
            note(format!("    {h}"));
        }
    }
    Ok(())
}
