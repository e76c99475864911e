//! `uca apply`: converge the CA and the output files to a plan file.

use std::io::{BufRead, IsTerminal, Write};

use time::OffsetDateTime;
use uca_ca::deploy::plan::{Change, Plan};
use uca_ca::{CaPaths, Config, InitOptions};

use crate::cli::deploy::ApplyArgs;
use crate::commands::plan::{counts, print_diff};
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::note;
use crate::secrets;
use crate::settings::Settings;

/// Creates the CA from the plan's [ca] section (`apply --init`).
fn init_from_plan(plan: &Plan, args: &ApplyArgs, settings: &Settings) -> Result<(), CliError> {
    let ca = plan.ca.clone();
    let passphrase = match &args.passphrase.passphrase_file {
        Some(f) => Some(secrets::read_passphrase_file(f)?),
        None => settings
            .env_passphrase
            .as_ref()
            .map(|p| zeroize::Zeroizing::new(p.as_bytes().to_vec())),
    };
    let Some(passphrase) = passphrase else {
        return Err(CliError::usage(
            "apply --init needs the new CA's passphrase",
            Some("give it with --passphrase-file FILE or UCA_PASSPHRASE".to_string()),
        ));
    };
    secrets::check_new_passphrase(&passphrase)?;
    let name = ca
        .as_ref()
        .and_then(|c| c.name.clone())
        .unwrap_or_else(|| "uca Root CA".into());
    let result = uca_ca::init(
        InitOptions {
            dir: settings.dir.clone(),
            name,
            subject: ca.as_ref().map(|c| c.subject.clone()).unwrap_or_default(),
            key_type: ca
                .as_ref()
                .map(|c| c.key)
                .unwrap_or(uca_pki::KeyType::EcP256),
            days: ca
                .as_ref()
                .map(|c| c.days)
                .unwrap_or(uca_pki::validity::DEFAULT_ROOT_DAYS),
            passphrase: Some(passphrase),
            config: Config {
                ledger: settings.ledger.url.clone(),
                ..Config::default()
            },
            ledger_access: settings.ledger.clone(),
        },
        OffsetDateTime::now_utc(),
    )?;
    note(format!("created the CA in {}", result.paths.dir.display()));
    Ok(())
}

/// Asks on a terminal; refuses without one unless `--yes`.
fn confirm(args: &ApplyArgs, question: &str) -> Result<(), CliError> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "apply needs confirmation",
            Some("add --yes to apply from a script".to_string()),
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failure(format!("cannot read: {e}"), None))?;
    if !answer.trim().eq_ignore_ascii_case("y") && !answer.trim().eq_ignore_ascii_case("yes") {
        return Err(CliError::usage("not applied", None));
    }
    Ok(())
}

pub fn run(args: &ApplyArgs, settings: &Settings) -> Result<(), CliError> {
    let plan = Plan::load(&args.file)?;
    if args.init && !CaPaths::is_ca(&settings.dir) {
        confirm(
            args,
            &format!(
                "create a CA in {} and apply the plan?",
                settings.dir.display()
            ),
        )?;
        init_from_plan(&plan, args, settings)?;
    }
    let ca = open_ca(settings)?;
    let already_sealed = ca.sealed_at()?.is_some();
    let now = OffsetDateTime::now_utc();
    let report = ca.plan(&plan, now)?;
    let out = &settings.out;
    let pending = report.items.iter().any(|i| match i.change {
        Change::Unchanged => false,
        Change::Remove => args.prune,
        _ => true,
    });
    if !pending && (!args.seal || already_sealed) {
        if out.json {
            return out.json(&serde_json::json!({ "changed": false, "counts": counts(&report), "items": report.items }));
        }
        if report.count(Change::Remove) > 0 {
            print_diff(out, &report, args.prune);
            out.line("nothing applied: the removed components stay issued until 'uca apply --prune' revokes them");
        } else {
            out.line("nothing to do: everything matches the plan");
        }
        return Ok(());
    }
    if !out.json {
        print_diff(out, &report, args.prune);
    }
    // Questions for a person are asked with the CA closed: its lock is what `uca serve` needs
    // for its next write. The plan is then made again and must be the one confirmed.
    drop(ca);
    confirm(
        args,
        &format!(
            "apply these changes{}?",
            if args.seal && !already_sealed {
                " and SEAL the CA"
            } else {
                ""
            }
        ),
    )?;
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let again = ca.plan(&plan, now)?;
    if serde_json::to_value(&again.items).ok() != serde_json::to_value(&report.items).ok() {
        return Err(CliError::failure(
            "the CA changed while the plan was shown (another uca process wrote to it); nothing was applied",
            Some("run 'uca apply' again to see the current plan".into()),
        ));
    }
    let report = again;
    let signer = pass.unlock(&ca)?;
    let tty = !out.json && std::io::stderr().is_terminal();
    let mut progress = |phase: &str, done: usize, total: usize| {
        if out.json || total == 0 {
            return;
        }
        if tty {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r{phase:7} [{}{}] {done}/{total}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
            if done == total {
                eprintln!();
            }
        } else {
            eprintln!("{phase}: {done}/{total}");
        }
    };
    ca.apply(&signer, &plan, &report, args.prune, now, &mut progress)?;
    let sealed = if args.seal && !already_sealed {
        let until = ca.cert_info().not_after;
        let crl = ca.seal(signer, until, now)?;
        note(format!(
            "sealed the CA: the key is destroyed; final CRL #{} in {}",
            crl.number,
            ca.paths.crl().display()
        ));
        true
    } else {
        false
    };
    if out.json {
        return out.json(&serde_json::json!({ "changed": true, "sealed": sealed, "counts": counts(&report), "items": report.items }));
    }
    out.line("applied");
    Ok(())
}
