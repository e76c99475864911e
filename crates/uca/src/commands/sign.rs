//! `uca sign`

use std::io::Read;

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::{CaError, CsrRequest, fsio};
use uca_pki::Profile;
use uca_pki::san::San;

use crate::cli::ca::SignArgs;
use crate::commands::{ask_passphrase, open_ca, parse_sans};
use crate::exit::CliError;
use crate::output::{day, note, warn};
use crate::settings::Settings;

#[derive(Serialize)]
struct SignReport {
    name: String,
    serial: String,
    profile: String,
    key_type: String,
    sans: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    fingerprint_sha256: String,
    out: Option<String>,
    certificate_pem: String,
    chain_pem: String,
}

pub fn run(args: &SignArgs, settings: &Settings) -> Result<(), CliError> {
    let intermediate = args
        .profile
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case(uca_ca::INTERMEDIATE));
    let profile: Option<Profile> = if intermediate {
        None
    } else {
        args.profile.as_deref().map(str::parse).transpose()?
    };
    let extra_sans = parse_sans(&args.sans)?;
    if args.days == Some(0) {
        return Err(CliError::usage(
            "--days must be at least 1",
            Some("give a positive number of days, e.g. --days 90".to_string()),
        ));
    }
    let data = if args.csr.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| CliError::usage(format!("cannot read the CSR from stdin: {e}"), None))?;
        buf
    } else {
        std::fs::read(&args.csr).map_err(|e| {
            CliError::usage(
                format!("cannot read CSR {}: {e}", args.csr.display()),
                Some("give the path of a PEM or DER PKCS#10 request".to_string()),
            )
        })?
    };
    if !intermediate && args.constraints.any() {
        return Err(CliError::usage(
            "--path-len, --permit-dns and --permit-ip only apply to --profile intermediate",
            Some(
                "a leaf's names are bounded by its SANs; add --profile intermediate to sign a CA"
                    .to_string(),
            ),
        ));
    }
    let csr = uca_pki::csr::parse_csr(&data)?;
    if let Some(out) = &args.out {
        if out.exists() && !args.force {
            return Err(CliError::exists(
                format!("{} already exists", out.display()),
                Some("add --force to overwrite it, or choose another --out".to_string()),
            ));
        }
        let parent = fsio::parent_of(out);
        if !parent.is_dir() {
            return Err(CliError::usage(
                format!(
                    "cannot write {}: the directory {} does not exist",
                    out.display(),
                    parent.display()
                ),
                Some("create the directory first or choose another --out".to_string()),
            ));
        }
    }

    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let signer = pass.unlock(&ca)?;
    let chain = ca.chain_pem().to_string();
    if intermediate {
        return sign_intermediate(args, settings, &mut ca, &signer, &csr, &chain);
    }
    let req = CsrRequest {
        csr,
        name: args.name.clone(),
        extra_sans,
        profile: profile.unwrap_or(ca.config.profile),
        days: args.days.unwrap_or(ca.config.days),
        no_rules: args.no_rules,
        accept_csr_sans: args.accept_csr_sans,
        force: args.force,
    };
    let key_type = req.csr.key_type.to_string();
    let profile = req.profile;
    let ignored_sans = !args.accept_csr_sans && !req.csr.requested_sans.is_empty();
    let json = settings.out.json;
    let out_path = args.out.clone();
    let signed = ca.sign_csr(&signer, req, OffsetDateTime::now_utc(), |cert| {
        deliver(cert, &chain, out_path.as_deref(), json)
    })?;

    if signed.ignored_ca_request {
        warn(
            "the CSR asked for CA:TRUE; it was signed as a leaf (use the intermediate profile for CAs)",
        );
    }
    if ignored_sans {
        warn("the CSR's own SANs were ignored; add --accept-csr-sans to include them");
    }
    if signed.clamped {
        warn(format!(
            "validity cut back to the CA's own expiry ({})",
            day(signed.cert.not_after)
        ));
    }
    if json {
        return settings.out.json(&SignReport {
            name: signed.name,
            serial: signed.cert.serial.hex(),
            profile: profile.to_string(),
            key_type,
            sans: signed.sans.iter().map(San::to_string).collect(),
            not_before: signed.cert.not_before,
            not_after: signed.cert.not_after,
            fingerprint_sha256: signed.cert.fingerprint.to_string(),
            out: args.out.as_ref().map(|p| p.display().to_string()),
            certificate_pem: signed.cert.pem.clone(),
            chain_pem: chain,
        });
    }
    note(format!(
        "signed {} serial {} ({profile}, {key_type}) until {}; SANs {}",
        signed.name,
        signed.cert.serial,
        day(signed.cert.not_after),
        signed
            .sans
            .iter()
            .map(San::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(out) = &args.out {
        note(format!(
            "wrote {} (certificate, then the issuer chain)",
            out.display()
        ));
    }
    Ok(())
}

/// `uca sign --profile intermediate`: a CA certificate for a CSR from Vault, OpenBao, openssl.
fn sign_intermediate(
    args: &SignArgs,
    settings: &Settings,
    ca: &mut uca_ca::Ca,
    signer: &uca_pki::sign::CaSigner,
    csr: &uca_pki::csr::Csr,
    chain: &str,
) -> Result<(), CliError> {
    if !args.sans.is_empty() || args.accept_csr_sans {
        return Err(CliError::usage(
            "an intermediate CA certificate carries no SANs",
            Some("bound what it may sign with --permit-dns and --permit-ip instead".to_string()),
        ));
    }
    let name = match (&args.name, &csr.common_name) {
        (Some(n), _) | (None, Some(n)) => n.clone(),
        (None, None) => {
            return Err(CliError::usage(
                "the CSR has no CN",
                Some("name the intermediate with --name NAME".to_string()),
            ));
        }
    };
    let nc = crate::commands::intermediate::constraints(&args.constraints)?;
    let days = args.days.unwrap_or(1825);
    let json = settings.out.json;
    let out_path = args.out.clone();
    let cert = ca.sign_intermediate_csr(
        signer,
        csr,
        &name,
        days,
        args.constraints.path_len,
        nc,
        OffsetDateTime::now_utc(),
        |cert| deliver(cert, chain, out_path.as_deref(), json),
    )?;
    if json {
        return settings.out.json(&serde_json::json!({
            "name": name,
            "serial": cert.serial.hex(),
            "profile": uca_ca::INTERMEDIATE,
            "path_len": args.constraints.path_len,
            "not_before": cert.not_before.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "not_after": cert.not_after.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "fingerprint_sha256": cert.fingerprint.to_string(),
            "out": args.out.as_ref().map(|p| p.display().to_string()),
            "certificate_pem": cert.pem,
            "chain_pem": chain,
        }));
    }
    note(format!(
        "signed intermediate CA '{name}' serial {} (pathLenConstraint {}) until {}",
        cert.serial,
        args.constraints.path_len,
        day(cert.not_after)
    ));
    if let Some(out) = &args.out {
        note(format!(
            "wrote {} (the intermediate, then its issuers): give it to Vault's set-signed",
            out.display()
        ));
    }
    Ok(())
}

/// Hands a signed certificate over: the certificate then its chain, to `--out` (atomically) or to
/// stdout (unless stdout is for the JSON document).
fn deliver(
    cert: &uca_pki::sign::SignedCert,
    chain: &str,
    out: Option<&std::path::Path>,
    json: bool,
) -> Result<(), CaError> {
    let bundle = format!("{}{}", cert.pem, chain);
    match out {
        Some(path) => fsio::write_atomic(path, bundle.as_bytes(), fsio::PUBLIC_MODE),
        None if json => Ok(()),
        None => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(bundle.as_bytes())
                .map_err(|e| CaError::Io {
                    op: "write",
                    path: "stdout".into(),
                    source: e,
                })
        }
    }
}
