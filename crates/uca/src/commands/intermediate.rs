//! `uca intermediate`: `--dir` names the NEW child directory; the parent is `--parent`, else
//! UCA_DIR, else ./pki.

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::IntermediateOptions;
use uca_pki::KeyType;
use uca_pki::constraints::{IpNet, NameConstraints, parse_dns_constraint};

use crate::cli::Global;
use crate::cli::ca::{ConstraintArgs, IntermediateArgs};
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::{day, note, warn};
use crate::secrets;
use crate::settings::Settings;

#[derive(Serialize)]
struct IntermediateReport {
    dir: String,
    parent: String,
    name: String,
    serial: String,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    path_len: u8,
    permitted_dns: Vec<String>,
    permitted_ip: Vec<String>,
    ca_cert: String,
    ca_chain: String,
    root_cert: String,
    key_encrypted: bool,
    passphrase_file: Option<String>,
}

/// Parses the `--permit-dns` and `--permit-ip` values.
pub(crate) fn constraints(args: &ConstraintArgs) -> Result<NameConstraints, CliError> {
    Ok(NameConstraints {
        permitted_dns: args
            .permit_dns
            .iter()
            .map(|d| parse_dns_constraint(d))
            .collect::<Result<_, _>>()?,
        permitted_ip: args
            .permit_ip
            .iter()
            .map(|n| IpNet::parse(n))
            .collect::<Result<_, _>>()?,
        ..Default::default()
    })
}

pub fn run(args: &IntermediateArgs, global: &Global, settings: &Settings) -> Result<(), CliError> {
    let Some(child) = global.dir.clone() else {
        return Err(CliError::usage(
            "name the new child CA directory with --dir CHILD_DIR",
            Some(
                "e.g. uca intermediate 'Issuing CA 1' --parent ./pki --dir ./issuing-ca"
                    .to_string(),
            ),
        ));
    };
    let key_type: KeyType = args.key.parse()?;
    let nc = constraints(&args.constraints)?;
    let parent_dir = args
        .parent
        .clone()
        .unwrap_or_else(|| settings.parent_dir.clone());
    if parent_dir == child {
        return Err(CliError::usage(
            "the child directory is the parent itself",
            Some("give the parent with --parent DIR and the new child with --dir".to_string()),
        ));
    }
    let parent_settings = Settings {
        dir: parent_dir,
        ..settings.clone()
    };
    let pass = ask_passphrase(&args.passphrase, &parent_settings)?;
    let mut ca = open_ca(&parent_settings)?;
    let signer = pass.unlock(&ca)?;
    let child_pass = if args.same_passphrase {
        let same = pass.current(&ca)?;
        secrets::NewPassphrase {
            value: same,
            generated: None,
        }
    } else {
        secrets::new_passphrase(
            args.child_passphrase_file.as_deref(),
            None,
            args.new_passphrase.generate_passphrase,
            args.no_passphrase,
            "the intermediate's key",
            "for the child key: --child-passphrase-file FILE, --same-passphrase, --generate-passphrase [--passphrase-out FILE] or --no-passphrase",
        )?
    };
    let saved =
        secrets::save_generated(&child_pass, args.new_passphrase.passphrase_out.as_deref())?;
    let result = ca.create_intermediate(
        &signer,
        IntermediateOptions {
            name: args.name.clone(),
            dir: child.clone(),
            key_type,
            days: args.days,
            path_len: args.constraints.path_len,
            constraints: nc.clone(),
            passphrase: child_pass.value.clone(),
        },
        OffsetDateTime::now_utc(),
    );
    let (paths, cert, encrypted) = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(p) = &saved {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    };
    if !encrypted {
        warn(format!(
            "the intermediate's key {} is NOT encrypted",
            paths.ca_key().display()
        ));
    }
    secrets::show_generated(&child_pass, &saved, "intermediate CA passphrase");
    let report = IntermediateReport {
        dir: paths.dir.display().to_string(),
        parent: ca.paths.dir.display().to_string(),
        name: args.name.clone(),
        serial: cert.serial.hex(),
        not_after: cert.not_after,
        path_len: args.constraints.path_len,
        permitted_dns: nc.permitted_dns.clone(),
        permitted_ip: nc.permitted_ip.iter().map(ToString::to_string).collect(),
        ca_cert: paths.ca_cert().display().to_string(),
        ca_chain: paths.ca_chain().display().to_string(),
        root_cert: paths.root_cert().display().to_string(),
        key_encrypted: encrypted,
        passphrase_file: saved.map(|p| p.display().to_string()),
    };
    if settings.out.json {
        return settings.out.json(&report);
    }
    let out = &settings.out;
    out.line(format!(
        "created intermediate CA '{}' in {} (serial {}, until {})",
        args.name,
        report.dir,
        report.serial,
        day(cert.not_after)
    ));
    out.line(format!("  pathLenConstraint {}", args.constraints.path_len));
    if !nc.is_empty() {
        out.line(format!(
            "  permitted  {}",
            nc.permitted_dns
                .iter()
                .cloned()
                .chain(report.permitted_ip.iter().cloned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.line(format!(
        "  chain      {}   (peers trust {})",
        report.ca_chain, report.root_cert
    ));
    note(format!(
        "issue from it: uca --dir {} issue NAME",
        report.dir
    ));
    Ok(())
}
