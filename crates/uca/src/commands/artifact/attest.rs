//! `uca artifact attest`: one stage's detached CMS signature over a manifest.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uca_ca::layout::{CertAndKey, CertRefError};
use uca_custody::cms::{open_detached, sign_detached};
use uca_custody::layout::{attestation_description, attestation_path, meta_path};
use uca_custody::manifest::{Manifest, Meta};
use uca_custody::policy::check_stage_name;
use uca_custody::verify::signer_purpose_problems;
use uca_pki::PrivateKey;
use uca_pki::inspect::parse_certificate;
use uca_pki::validity::display_time;
use uca_pki::verify::read_cert_file;
use zeroize::Zeroizing;

use super::read_arg;
use crate::cli::artifact::AttestArgs;
use crate::exit::{CliError, Exit};
use crate::secrets::read_passphrase_file;
use crate::settings::Settings;

#[derive(Serialize)]
struct Attested {
    manifest: String,
    stage: String,
    signature: String,
    signer: String,
    serial: String,
    #[serde(with = "time::serde::rfc3339")]
    signed_at: OffsetDateTime,
    covers_meta: bool,
}

/// Where the signer's certificate, key and chain are: files, or a NAME this CA issued.
fn signer_files(
    args: &AttestArgs,
    settings: &Settings,
) -> Result<(PathBuf, PathBuf, Option<PathBuf>), CliError> {
    // Paths on the command line are relative to the working directory.
    match CertAndKey::resolve(
        &args.cert,
        args.key.as_deref(),
        Path::new(""),
        Some(&settings.dir),
    ) {
        Ok(found) => {
            let chain = args
                .chain
                .clone()
                .or_else(|| found.issued.as_ref().map(|i| i.chain.clone()));
            Ok((found.cert, found.key, chain))
        }
        Err(CertRefError::KeyRequired { .. }) => Err(CliError::usage(
            "--key is required when --cert is a file",
            Some("pass the signer's private key with --key KEY".to_string()),
        )),
        Err(CertRefError::Unknown { .. }) => Err(CliError::usage(
            format!(
                "'{}' is neither a certificate file nor a certificate issued by the CA in {}",
                args.cert,
                settings.dir.display()
            ),
            Some(format!(
                "issue one with 'uca issue {} --profile code-signing', or give a file path",
                args.cert
            )),
        )),
    }
}

fn key_passphrase(
    args: &AttestArgs,
    settings: &Settings,
    key_path: &Path,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(f) = &args.passphrase_file {
        return read_passphrase_file(f);
    }
    if let Some(p) = &settings.env_key_passphrase {
        return Ok(Zeroizing::new(p.as_bytes().to_vec()));
    }
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(format!("Passphrase for {}: ", key_path.display()))
            .map_err(|e| CliError::failure(format!("cannot read the passphrase: {e}"), None))?;
        return Ok(Zeroizing::new(p.into_bytes()));
    }
    Err(CliError {
        message: format!(
            "the key {} is encrypted and no passphrase was given",
            key_path.display()
        ),
        hint: Some(
            "give it with --passphrase-file FILE or the UCA_KEY_PASSPHRASE environment variable"
                .into(),
        ),
        code: Exit::Locked.into(),
    })
}

pub fn run(args: &AttestArgs, settings: &Settings) -> Result<(), CliError> {
    check_stage_name(&args.stage).map_err(|e| CliError::usage(e.to_string(), None))?;
    let content = read_arg(&args.manifest, "manifest")?;
    // Only a well-formed manifest is worth a signature.
    Manifest::parse(&content)?;
    let meta_file = meta_path(&args.manifest);
    let meta_digest: Option<[u8; 32]> = if meta_file.is_file() {
        let m = read_arg(&meta_file, "manifest sidecar")?;
        Meta::parse(&m)?;
        Some(Sha256::digest(&m).into())
    } else {
        None
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| attestation_path(&args.manifest, &args.stage));
    if out.exists() && !args.force {
        return Err(CliError {
            message: format!("{} exists", out.display()),
            hint: Some("each stage signs once; pass --force to replace the signature".into()),
            code: Exit::Exists.into(),
        });
    }
    let (cert_path, key_path, chain_path) = signer_files(args, settings)?;
    let certs = read_cert_file(&read_arg(&cert_path, "certificate")?)?;
    let Some((cert_der, rest)) = certs.split_first() else {
        return Err(CliError::usage("the certificate file is empty", None));
    };
    let mut chain: Vec<Vec<u8>> = rest.to_vec();
    if let Some(p) = &chain_path {
        chain.extend(read_cert_file(&read_arg(p, "chain")?)?);
    }
    let info = parse_certificate(cert_der)?;
    let now = OffsetDateTime::now_utc();
    let purpose = signer_purpose_problems(cert_der);
    if !purpose.is_empty() {
        return Err(CliError::usage(
            format!(
                "{} cannot sign releases: {}",
                cert_path.display(),
                purpose
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Some("issue a signing certificate: uca issue NAME --profile code-signing".to_string()),
        ));
    }
    if now < info.not_before || now > info.not_after {
        return Err(CliError::usage(
            format!(
                "{} is not valid now (valid {} to {})",
                cert_path.display(),
                display_time(info.not_before),
                display_time(info.not_after)
            ),
            Some("renew it: uca renew NAME".to_string()),
        ));
    }
    let key_bytes = Zeroizing::new(read_arg(&key_path, "key")?);
    let key = if uca_pki::key::is_encrypted_pem(&key_bytes) {
        let pass = key_passphrase(args, settings, &key_path)?;
        PrivateKey::from_pem_or_der(&key_bytes, Some(&pass))
    } else {
        PrivateKey::from_pem_or_der(&key_bytes, None)
    }
    .map_err(|e| match e {
        uca_pki::PkiError::WrongPassphrase => CliError {
            message: format!("wrong passphrase for {}", key_path.display()),
            hint: Some("check --passphrase-file or UCA_KEY_PASSPHRASE".into()),
            code: Exit::Locked.into(),
        },
        other => other.into(),
    })?;
    if key.public_key_der() != info.spki_der {
        return Err(CliError::usage(
            format!(
                "{} is not the key of {}",
                key_path.display(),
                cert_path.display()
            ),
            Some("pass the private key that belongs to the certificate".to_string()),
        ));
    }
    let description = attestation_description(&args.stage, meta_digest.as_ref());
    let signature = sign_detached(&content, &key, cert_der, &chain, now, &description)
        .map_err(|m| CliError::failure(m, None))?;
    // Read our own output back before anyone else has to.
    open_detached(&signature, &content)
        .map_err(|e| CliError::failure(format!("the new signature does not verify: {e}"), None))?;
    if args.force {
        uca_ca::fsio::write_atomic(&out, &signature, 0o644)?;
    } else {
        uca_ca::fsio::write_new_durable(&out, &signature, 0o644)?;
    }
    let done = Attested {
        manifest: args.manifest.display().to_string(),
        stage: args.stage.clone(),
        signature: out.display().to_string(),
        signer: info
            .common_name
            .clone()
            .unwrap_or_else(|| info.subject.clone()),
        serial: info.serial.clone(),
        signed_at: now,
        covers_meta: meta_digest.is_some(),
    };
    if settings.out.json {
        return settings.out.json(&done);
    }
    settings.out.line(format!(
        "attested {} for stage '{}' as {} (serial {}) -> {}",
        done.manifest, done.stage, done.signer, done.serial, done.signature
    ));
    if meta_digest.is_some() {
        settings
            .out
            .line(format!("  also covers {}", meta_file.display()));
    }
    Ok(())
}
