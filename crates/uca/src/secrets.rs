//! Passphrases: from a file, the environment, a prompt on a terminal, or generated.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::exit::{CliError, Exit};
use crate::settings::Settings;

/// Reads a passphrase file: the first line, without its line ending.
pub fn read_passphrase_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let data = Zeroizing::new(std::fs::read(path).map_err(|e| {
        CliError::usage(
            format!("cannot read passphrase file {}: {e}", path.display()),
            Some("check the path given to --passphrase-file".to_string()),
        )
    })?);
    let line = data.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Err(CliError::usage(
            format!("the passphrase file {} is empty", path.display()),
            Some("put the passphrase on the first line of the file".to_string()),
        ));
    }
    Ok(Zeroizing::new(line.to_vec()))
}

/// The passphrase to unlock an existing CA key: --passphrase-file, UCA_PASSPHRASE, or a prompt
/// when stdin is a terminal.
pub fn unlock_passphrase(
    file: Option<&Path>,
    settings: &Settings,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(path) = file {
        return read_passphrase_file(path);
    }
    if let Some(p) = &settings.env_passphrase {
        return Ok(Zeroizing::new(p.as_bytes().to_vec()));
    }
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password("CA passphrase: ")
            .map_err(|e| CliError::failure(format!("cannot read the passphrase: {e}"), None))?;
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    Err(CliError {
        message: "the CA key is encrypted and no passphrase was given".into(),
        hint: Some(
            "give it with --passphrase-file FILE or the UCA_PASSPHRASE environment variable".into(),
        ),
        code: Exit::Locked,
    })
}

/// Minimum length of a new CA passphrase.
pub const MIN_PASSPHRASE: usize = 8;

/// Asks twice on the terminal for a new passphrase.
pub fn prompt_new_passphrase() -> Result<Zeroizing<Vec<u8>>, CliError> {
    let read = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|e| CliError::failure(format!("cannot read the passphrase: {e}"), None))
    };
    let first = read("New CA passphrase: ")?;
    let second = read("Repeat it: ")?;
    if *first != *second {
        return Err(CliError::usage(
            "the two passphrases differ",
            Some("run the command again".to_string()),
        ));
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

pub fn check_new_passphrase(p: &[u8]) -> Result<(), CliError> {
    if p.len() < MIN_PASSPHRASE {
        return Err(CliError::usage(
            format!("the passphrase is shorter than {MIN_PASSPHRASE} characters"),
            Some("use a longer one, or let uca make one with --generate-passphrase".to_string()),
        ));
    }
    Ok(())
}
