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
        code: Exit::Locked.into(),
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

/// A new passphrase chosen by one of the usual routes, and what to tell the user about it.
pub struct NewPassphrase {
    /// `None`: store the key unencrypted (only with an explicit flag).
    pub value: Option<Zeroizing<Vec<u8>>>,
    /// The generated passphrase, to show once or write to a file.
    pub generated: Option<Zeroizing<String>>,
}

/// Resolves a new passphrase: FILE, then `env`, then `generate`, then a prompt on a terminal;
/// `none` means unencrypted. Without any of them and no terminal, a usage error naming the flags.
pub fn new_passphrase(
    file: Option<&Path>,
    env: Option<&Zeroizing<String>>,
    generate: bool,
    none: bool,
    whose: &str,
    flags_hint: &str,
) -> Result<NewPassphrase, CliError> {
    if none {
        return Ok(NewPassphrase {
            value: None,
            generated: None,
        });
    }
    let value = if let Some(path) = file {
        read_passphrase_file(path)?
    } else if let Some(p) = env.filter(|_| !generate) {
        Zeroizing::new(p.as_bytes().to_vec())
    } else if generate {
        let p = uca_pki::key::generate_passphrase()?;
        let bytes = Zeroizing::new(p.as_bytes().to_vec());
        return Ok(NewPassphrase {
            value: Some(bytes),
            generated: Some(p),
        });
    } else if std::io::stdin().is_terminal() {
        prompt_new_passphrase()?
    } else {
        return Err(CliError::usage(
            format!("{whose} needs a passphrase and none was given"),
            Some(flags_hint.to_string()),
        ));
    };
    check_new_passphrase(&value)?;
    Ok(NewPassphrase {
        value: Some(value),
        generated: None,
    })
}

/// Writes a generated passphrase to `out` (mode 0400, refusing to overwrite) before the
/// operation that uses it, so that it can never be lost; returns the path written.
pub fn save_generated(
    p: &NewPassphrase,
    out: Option<&Path>,
) -> Result<Option<std::path::PathBuf>, CliError> {
    let (Some(g), Some(out)) = (&p.generated, out) else {
        return Ok(None);
    };
    uca_ca::fsio::write_new_durable(out, format!("{}\n", g.as_str()).as_bytes(), 0o400).map_err(|e| match e {
        uca_ca::CaError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => CliError::exists(
            format!("{} already exists", out.display()),
            Some("uca will not overwrite a passphrase file; choose another --passphrase-out path".to_string()),
        ),
        other => CliError::from(other),
    })?;
    Ok(Some(out.to_path_buf()))
}

/// Shows a generated passphrase once on stderr, when it was not written to a file.
pub fn show_generated(p: &NewPassphrase, saved: &Option<std::path::PathBuf>, what: &str) {
    if let (Some(g), None) = (&p.generated, saved) {
        crate::output::note(format!(
            "{what} (shown once, store it now):\n\n    {}\n",
            g.as_str()
        ));
    }
}
