//! `uca passphrase change`

use crate::cli::ca::PassphraseChangeArgs;
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::secrets;
use crate::settings::Settings;

pub fn change(args: &PassphraseChangeArgs, settings: &Settings) -> Result<(), CliError> {
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let old = pass.current(&ca)?;
    let new = secrets::new_passphrase(
        args.new_passphrase_file.as_deref(),
        settings.env_new_passphrase.as_ref(),
        args.new_passphrase.generate_passphrase,
        false,
        "the re-encrypted CA key",
        "give it with --new-passphrase-file FILE, UCA_NEW_PASSPHRASE, or --generate-passphrase [--passphrase-out FILE]",
    )?;
    let saved = secrets::save_generated(&new, args.new_passphrase.passphrase_out.as_deref())?;
    if let Err(e) = ca.change_passphrase(
        old.as_deref().map(|p| &p[..]),
        new.value.as_deref().map(|p| &p[..]),
    ) {
        if let Some(p) = &saved {
            let _ = std::fs::remove_file(p);
        }
        return Err(e.into());
    }
    secrets::show_generated(&new, &saved, "new CA passphrase");
    if settings.out.json {
        return settings.out.json(&serde_json::json!({
            "key": ca.paths.ca_key().display().to_string(),
            "passphrase_file": saved.map(|p| p.display().to_string()),
        }));
    }
    settings.out.line(format!(
        "re-encrypted {} under the new passphrase{}",
        ca.paths.ca_key().display(),
        if old.is_some() {
            "; the old one no longer opens it"
        } else {
            " (it was not encrypted before)"
        }
    ));
    Ok(())
}
