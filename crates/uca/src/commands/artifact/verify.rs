//! `uca artifact verify`: who attested what, when — and whether that satisfies the policy.

use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;
use uca_ca::CaPaths;
use uca_custody::installed::{TreeCheck, TreeReport, check_tree};
use uca_custody::layout::{bundled_crl_path, meta_path};
use uca_custody::manifest::{Manifest, Meta};
use uca_custody::policy::Policy;
use uca_custody::verify::{
    Report, RuleProblem, RuleSpec, Rules, StageSpec, Standing, Trust, Written, evaluate,
    find_attestations,
};
use uca_pki::Serial;
use uca_pki::validity::display_time;
use uca_pki::verify::read_cert_file;

use super::read_arg;
use crate::cli::artifact::ArtifactVerifyArgs;
use crate::commands::open_ca;
use crate::exit::{CliError, Exit};
use crate::output::{Output, Style, when};
use crate::settings::Settings;

#[derive(Serialize)]
struct Verdict<'a> {
    manifest: String,
    holds: bool,
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a TreeReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed: Option<&'a TreeReport>,
}

/// The trust and rules from the policy file, or from the flags.
struct Resolved {
    rules: Rules,
    roots: Vec<PathBuf>,
    crls: Vec<PathBuf>,
    allow_stale_crl: bool,
    mutable: Vec<String>,
}

fn from_flags(args: &ArtifactVerifyArgs) -> Result<Resolved, CliError> {
    let mut stages = Vec::new();
    for spec in &args.signers {
        let (stage, pattern) = spec.split_once('=').ok_or_else(|| {
            CliError::usage(
                format!("--signer '{spec}' is not STAGE=PATTERN"),
                Some("e.g. --signer 'qa=cn:qa-*'".to_string()),
            )
        })?;
        stages.push(StageSpec {
            name: Written::new(stage, ()),
            signers: vec![Written::new(pattern, ())],
        });
    }
    let rules = Rules::new(RuleSpec {
        require: args.require.iter().map(|s| Written::new(s, ())).collect(),
        stages,
        max_age: args.max_age.as_ref().map(|m| Written::new(m, ())),
        require_revocation: args.require_revocation,
    })
    .map_err(|e| match e.problem {
        RuleProblem::NoStage => CliError::usage(
            "say which stages production needs",
            Some("pass --policy FILE, or --require build,qa [--root ca.crt]".to_string()),
        ),
        RuleProblem::MaxAge(m) => CliError::usage(format!("--max-age: {m}"), None),
        other => CliError::usage(other.to_string(), None),
    })?;
    Ok(Resolved {
        rules,
        roots: args.roots.clone(),
        crls: Vec::new(),
        allow_stale_crl: args.allow_stale_crl,
        mutable: Vec::new(),
    })
}

fn resolve(args: &ArtifactVerifyArgs) -> Result<Resolved, CliError> {
    let mut r = match &args.policy {
        Some(path) => {
            let p = Policy::load(path)?;
            Resolved {
                rules: Rules {
                    require_revocation: p.rules.require_revocation || args.require_revocation,
                    ..p.rules
                },
                roots: p.roots,
                crls: p.crl.into_iter().collect(),
                allow_stale_crl: p.allow_stale_crl || args.allow_stale_crl,
                mutable: p.mutable,
            }
        }
        None => from_flags(args)?,
    };
    r.crls.extend(args.crl.iter().cloned());
    let bundled = bundled_crl_path(&args.manifest);
    if bundled.is_file() {
        r.crls.push(bundled);
    }
    Ok(r)
}

pub fn run(args: &ArtifactVerifyArgs, settings: &Settings) -> Result<Exit, CliError> {
    let manifest_bytes = read_arg(&args.manifest, "manifest")?;
    let manifest = Manifest::parse(&manifest_bytes)?;
    let meta_file = meta_path(&args.manifest);
    let meta_bytes = if meta_file.is_file() {
        Some(read_arg(&meta_file, "manifest sidecar")?)
    } else {
        None
    };
    let meta = meta_bytes.as_deref().map(Meta::parse).transpose()?;
    let resolved = resolve(args)?;
    let files = find_attestations(&args.manifest)?;

    // This CA, when one is at hand: a default root and a ledger that knows revocations.
    let ca = if settings.dir_explicit && CaPaths::is_ca(&settings.dir) {
        Some(open_ca(settings)?)
    } else {
        None
    };
    let mut roots = Vec::new();
    for path in &resolved.roots {
        roots.extend(read_cert_file(&read_arg(path, "root certificate")?)?);
    }
    if roots.is_empty() {
        match &ca {
            Some(ca) => roots.extend(read_cert_file(ca.cert_pem().as_bytes())?),
            None => {
                return Err(CliError::usage(
                    "no trusted root",
                    Some("pass --root ca.crt (or roots = [...] in the policy), or name this CA with --dir / UCA_DIR (a ./pki that merely sits in the working directory is not trusted)".to_string()),
                ));
            }
        }
    }
    let mut crls = Vec::new();
    for path in &resolved.crls {
        crls.push((path.display().to_string(), read_arg(path, "CRL")?));
    }
    let ledger_lookup = |serial: &Serial| -> Standing {
        let Some(Ok(Some(rec))) = ca.as_ref().map(|ca| ca.ledger().by_serial(serial)) else {
            return Standing::Unknown;
        };
        if rec.status != uca_ca::Status::Revoked {
            return Standing::Good;
        }
        Standing::Revoked {
            since: rec.revoked_at,
            reason: rec.revocation_reason,
        }
    };
    let trust = Trust {
        roots,
        crls,
        allow_stale_crl: resolved.allow_stale_crl,
        ledger: ca
            .as_ref()
            .map(|_| &ledger_lookup as &dyn Fn(&Serial) -> Standing),
    };
    let now = OffsetDateTime::now_utc();
    let report = evaluate(
        &manifest_bytes,
        meta_bytes.as_deref(),
        &files,
        &trust,
        &resolved.rules,
        now,
    );
    // Release the CA directory's lock before hashing what may be a large tree.
    drop(trust);
    drop(ca);
    let content = args
        .content
        .as_ref()
        .map(|dir| {
            check_tree(
                dir,
                &manifest,
                &TreeCheck {
                    extras: false,
                    meta: None,
                    mutable: &[],
                },
            )
        })
        .transpose()?;
    let installed = args
        .installed
        .as_ref()
        .map(|dir| {
            check_tree(
                dir,
                &manifest,
                &TreeCheck {
                    extras: true,
                    meta: meta.as_ref().filter(|_| report.meta_covered),
                    mutable: &resolved.mutable,
                },
            )
        })
        .transpose()?;
    let holds = report.attestations_hold
        && content.as_ref().is_none_or(|c| c.ok)
        && installed.as_ref().is_none_or(|c| c.ok);
    let code = if holds { Exit::Ok } else { Exit::NotValid };
    if settings.out.json {
        settings.out.json(&Verdict {
            manifest: args.manifest.display().to_string(),
            holds,
            report: &report,
            content: content.as_ref(),
            installed: installed.as_ref(),
        })?;
        return Ok(code);
    }
    print_human(
        &settings.out,
        args,
        &report,
        content.as_ref(),
        installed.as_ref(),
        meta.is_some(),
        holds,
        now,
    );
    Ok(code)
}

#[allow(
    clippy::too_many_arguments,
    reason = "one value per section of the report"
)]
fn print_human(
    out: &Output,
    args: &ArtifactVerifyArgs,
    report: &Report,
    content: Option<&TreeReport>,
    installed: Option<&TreeReport>,
    has_meta: bool,
    holds: bool,
    now: OffsetDateTime,
) {
    let verdict = if holds {
        out.paint("the policy HOLDS", Style::Green)
    } else {
        out.paint("the policy does NOT hold", Style::Red)
    };
    out.line(format!("{}: {verdict}", args.manifest.display()));
    out.line(format!(
        "  {:<10} {:<24} {:<22} {:<8} WHY",
        "STAGE", "SIGNER", "SIGNED AT", "VERDICT"
    ));
    for r in &report.rows {
        let verdict = if r.ok {
            out.paint("ok", Style::Green)
        } else {
            out.paint("FAIL", Style::Red)
        };
        let why = if r.ok {
            r.chain.join(" <- ")
        } else {
            r.problems
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        };
        out.line(format!(
            "  {:<10} {:<24} {:<22} {:<8} {why}",
            r.stage,
            r.signer.as_deref().unwrap_or("-"),
            r.signed_at.map(display_time).unwrap_or_else(|| "-".into()),
            verdict,
        ));
        for p in r.problems.iter().skip(1) {
            out.line(format!("  {:<66} {p}", ""));
        }
        for n in &r.notes {
            out.line(format!("  {:<66} note: {n}", ""));
        }
    }
    for m in &report.missing {
        if report.rows.iter().any(|r| &r.stage == m) {
            continue;
        }
        out.line(format!(
            "  {:<10} {:<24} {:<22} {:<8} no attestation for this required stage ({}.{m}.p7s)",
            m,
            "-",
            "-",
            out.paint("MISSING", Style::Red),
            args.manifest.display()
        ));
    }
    for c in &report.crls {
        match (&c.problem, c.this_update, c.next_update) {
            (None, Some(this), next) => out.line(format!(
                "  CRL {}{}: issued {}, {}",
                c.file,
                c.number.map(|n| format!(" #{n}")).unwrap_or_default(),
                when(this),
                match next {
                    Some(n) if n < now => format!("STALE since {} (accepted)", display_time(n)),
                    Some(n) => format!("next update {}", when(n)),
                    None => "no nextUpdate".into(),
                }
            )),
            (Some(p), _, _) => out.line(format!(
                "  CRL {}: {}",
                c.file,
                out.paint(&p.to_string(), Style::Red)
            )),
            _ => {}
        }
    }
    if has_meta && !report.meta_covered && installed.is_some() {
        out.line(
            "  note: no valid attestation covers the sidecar, so modes and links were not compared",
        );
    }
    for t in [content, installed].into_iter().flatten() {
        let bad = t.findings.iter().filter(|f| !f.allowed).count();
        out.line(format!(
            "  files under {}: {} checked, {}",
            t.root,
            t.checked,
            if bad == 0 {
                out.paint("all match", Style::Green)
            } else {
                out.paint(&format!("{bad} differ"), Style::Red)
            }
        ));
        for f in &t.findings {
            let tag = if f.allowed { " (mutable: allowed)" } else { "" };
            out.line(format!(
                "    {:<10} {}  {}{tag}",
                f.change.as_str(),
                f.path,
                f.detail
            ));
        }
    }
}
