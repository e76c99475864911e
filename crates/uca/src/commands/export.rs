//! `uca export`

use zeroize::Zeroizing;

use uca_ca::{ExportFormat, ExportOptions};

use crate::cli::deploy::ExportArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::note;
use crate::secrets;
use crate::settings::Settings;

fn mode(value: &str, flag: &str) -> Result<u32, CliError> {
    u32::from_str_radix(value.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| {
            CliError::usage(
                format!("{flag} '{value}' is not an octal mode"),
                Some("e.g. 0600, 0640, 0444".to_string()),
            )
        })
}

fn owner(value: &str) -> Result<(u32, u32), CliError> {
    let bad = || {
        CliError::usage(
            format!("--owner '{value}' is not UID:GID"),
            Some("numeric ids, e.g. --owner 999:999".to_string()),
        )
    };
    let (u, g) = value.split_once(':').ok_or_else(bad)?;
    Ok((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?))
}

pub fn run(args: &ExportArgs, settings: &Settings) -> Result<(), CliError> {
    let format: ExportFormat = args.format.parse()?;
    let mut opts = ExportOptions::new(format, args.out.clone());
    opts.key_mode = mode(&args.files.key_mode, "--key-mode")?;
    opts.cert_mode = mode(&args.files.cert_mode, "--cert-mode")?;
    opts.dir_mode = mode(&args.files.dir_mode, "--dir-mode")?;
    if opts.key_mode & 0o007 != 0 {
        return Err(CliError::usage(
            format!(
                "--key-mode {:04o} lets everyone read the private key",
                opts.key_mode
            ),
            Some("use 0600, 0400, or 0640 with --owner for a group".to_string()),
        ));
    }
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
