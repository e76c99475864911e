//! `uca health check URL`: the one-shot form for cron and Nagios/Icinga. N probes in a row, the
//! same status rules as the watcher (the window is those N probes), one verdict.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::HealthError;
use crate::cawatch::{CaWatch, Question};
use crate::endpoint::{Endpoint, Status, status};
use crate::probe::{client_config, probe};
use crate::spec::Threshold;
use crate::targets::{Kind, Target, TargetSpec, TlsFiles, defaults};
use uca_pki::Span;

/// The flags of `uca health check`, already typed.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub url: String,
    pub count: u32,
    pub ok: Threshold,
    pub warn: Threshold,
    pub ca: Option<PathBuf>,
    pub client_cert: Option<String>,
    pub client_key: Option<PathBuf>,
    pub server_name: Option<String>,
    pub cert_warn: Span,
    pub cert_crit: Span,
    pub timeout: Span,
    pub expect_status: Vec<u16>,
    pub body: Option<String>,
    /// This uca CA, when there is one: default CA bundle, client certificates by NAME, ledger.
    pub ca_dir: Option<PathBuf>,
    /// How to reach that CA's ledger when it is not the directory's own file.
    pub ledger: uca_ca::LedgerAccess,
}

/// Pause between the probes of one check.
const SPACING: Duration = Duration::from_millis(100);

/// A check's window: longer than any count of probes it makes, so all of them count.
const WINDOW: Span = Span::hours(1);

/// The target a check probes, through the same constructor as a targets file: the window is
/// the `count` probes, made `SPACING` apart, and relative paths are relative to where uca runs.
pub fn target(o: &CheckOptions) -> Result<Target, HealthError> {
    let spec = TargetSpec {
        name: None,
        url: o.url.clone(),
        method: None,
        expect_status: o.expect_status.iter().map(|c| i64::from(*c)).collect(),
        body: o.body.clone(),
        body_regex: None,
        timeout: o.timeout,
        interval: Span::from_duration(SPACING),
        server_name: o.server_name.clone(),
        ok: o.ok,
        warn: o.warn,
        window: WINDOW,
        cert_warn: o.cert_warn,
        cert_crit: o.cert_crit,
        min_samples: i64::from(o.count.max(1)),
        horizon: defaults::HORIZON,
        files: TlsFiles {
            ca: o.ca.clone(),
            client_cert: o.client_cert.clone(),
            client_key: o.client_key.clone(),
        },
    };
    let files = spec.files.clone();
    Target::new(spec)
        .and_then(|t| t.open_files(&files, Path::new(""), o.ca_dir.as_deref()))
        .map_err(HealthError::Flags)
}

/// Runs the check: `count` probes, then the status (with this CA's ledger findings).
pub fn run(o: &CheckOptions) -> Result<(Endpoint, Status), HealthError> {
    let t = target(o)?;
    let tls = if t.kind.uses_tls() {
        Some(
            client_config(t.ca.as_ref(), t.client_cert.as_ref(), t.kind == Kind::Https).map_err(
                |error| HealthError::Tls {
                    target: None,
                    error,
                },
            )?,
        )
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(HealthError::Runtime)?;
    let mut e = Endpoint::new(t.clone());
    rt.block_on(async {
        for i in 0..o.count.max(1) {
            if i > 0 {
                tokio::time::sleep(SPACING).await;
            }
            let at = crate::watch::now_ms();
            let outcome = probe(&t, tls.as_ref()).await;
            e.record(at, &outcome);
        }
    });
    if let (Some(dir), Some(leaf)) = (
        o.ca_dir.as_deref(),
        e.chain.as_ref().and_then(|c| c.first().cloned()),
    ) && let Some(ca) = CaWatch::at(dir, &o.ledger)
    {
        let q = [Question {
            leaf: &leaf,
            warn: t.cert_warn,
            crit: t.cert_crit,
        }];
        if let Ok(Some(mut f)) = ca.findings(&q, time::OffsetDateTime::now_utc()) {
            e.ca_findings = f.pop().unwrap_or_default();
        }
    }
    let now = crate::watch::now_ms();
    let st = status(&e, now);
    Ok((e, st))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::{TargetError, Targets};

    fn options(url: &str) -> CheckOptions {
        CheckOptions {
            url: url.into(),
            count: 5,
            ok: defaults::OK,
            warn: defaults::WARN,
            ca: None,
            client_cert: None,
            client_key: None,
            server_name: None,
            cert_warn: defaults::CERT_WARN,
            cert_crit: defaults::CERT_CRIT,
            timeout: defaults::TIMEOUT,
            expect_status: Vec::new(),
            body: None,
            ca_dir: None,
            ledger: Default::default(),
        }
    }

    fn refusal(o: &CheckOptions) -> TargetError {
        match target(o) {
            Err(HealthError::Flags(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_refuse_a_status_the_file_refuses() {
        let mut o = options("http://127.0.0.1:9/");
        o.expect_status = vec![200, 700];
        let e = refusal(&o);
        assert!(
            matches!(e, TargetError::ExpectStatus { code: 700 }),
            "{e:?}"
        );
        assert_eq!(
            HealthError::Flags(e).to_string(),
            "--expect-status: 700 is not an HTTP status code"
        );
        o.expect_status = vec![99];
        assert!(matches!(
            refusal(&o),
            TargetError::ExpectStatus { code: 99 }
        ));
        o.expect_status = vec![100, 599];
        assert!(target(&o).is_ok());
    }

    /// The same rule refuses the same values from both front doors, each in its own names.
    #[test]
    fn same_rule_same_refusal_from_flags_and_file() {
        // What to set, the file's key line, the flags' words, the file's words.
        type Case = (
            fn(&mut CheckOptions),
            &'static str,
            &'static str,
            &'static str,
        );
        let cases: [Case; 4] = [
            (
                |o| o.expect_status = vec![700],
                "expect_status = [700]",
                "--expect-status: 700 is not an HTTP status code",
                "expect_status: 700 is not an HTTP status code",
            ),
            (
                |o| o.warn = "99.5% within 1s".parse().unwrap(),
                "warn = \"99.5% within 1s\"",
                "--warn (99.5% within 1s) must be looser than --ok (99% within 300ms)",
                "warn (99.5% within 1s) must be looser than ok (99% within 300ms)",
            ),
            (
                |o| o.cert_crit = Span::days(60),
                "cert_crit = \"60d\"",
                "--cert-crit must not be longer than --cert-warn",
                "cert_crit must not be longer than cert_warn",
            ),
            (
                |o| o.timeout = Span::ZERO,
                "timeout = \"0s\"",
                "--timeout must be more than 0",
                "timeout must be more than 0",
            ),
        ];
        for (set, key, flag_words, file_words) in cases {
            let mut o = options("http://127.0.0.1:9/");
            set(&mut o);
            let by_flags = refusal(&o);
            let file = format!("[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n{key}\n");
            let by_file = Targets::parse(&file, Path::new("t.toml"), None)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(by_flags.for_flags().starts_with(flag_words), "{by_flags:?}");
            assert!(by_file.starts_with("t.toml:4:"), "{by_file}");
            assert!(by_file.contains(file_words), "{by_file}");
            assert_eq!(
                by_flags.to_string().split(':').next(),
                file_words.split(':').next()
            );
        }
    }

    #[test]
    fn flags_refuse_body_matching_without_http() {
        let mut o = options("tcp://127.0.0.1:9");
        o.body = Some("ok".into());
        assert!(matches!(refusal(&o), TargetError::BodyNeedsHttp { .. }));
    }

    #[test]
    fn a_long_url_is_not_held_to_the_name_rule() {
        let url = format!("http://127.0.0.1:9/{}", "x".repeat(200));
        assert_eq!(target(&options(&url)).unwrap().name, url);
    }
}
