//! `uca health check URL`: the one-shot form for cron and Nagios/Icinga. N probes in a row, the
//! same status rules as the watcher (the window is those N probes), one verdict.

use std::path::PathBuf;
use std::time::Duration;

use crate::HealthError;
use crate::cawatch::{CaWatch, Question};
use crate::endpoint::{Endpoint, Status, status};
use crate::probe::{client_config, probe};
use crate::spec::Threshold;
use uca_pki::Span;
use crate::targets::{CaSource, Kind, Target, defaults, parse_url, resolve_client_cert};

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
}

/// Pause between the probes of one check.
const SPACING: Duration = Duration::from_millis(100);

/// The target a check probes, built and validated from the flags.
pub fn target(o: &CheckOptions) -> Result<Target, HealthError> {
    let bad = |m: String| HealthError::Setup(m);
    let (kind, host, port, path) = parse_url(&o.url).map_err(bad)?;
    if o.warn.share > o.ok.share || o.warn.within < o.ok.within {
        return Err(bad(format!(
            "--warn ({}) must be looser than --ok ({})",
            o.warn, o.ok
        )));
    }
    if o.cert_crit > o.cert_warn {
        return Err(bad("--cert-crit must not be longer than --cert-warn".into()));
    }
    let ca_dir = o.ca_dir.as_deref().filter(|d| uca_ca::CaPaths::is_ca(d));
    let ca = if kind.uses_tls() {
        match (&o.ca, ca_dir) {
            (Some(p), _) => {
                std::fs::File::open(p).map_err(|e| HealthError::Io {
                    path: p.clone(),
                    source: e,
                })?;
                Some(CaSource::File(p.clone()))
            }
            (None, Some(d)) => Some(CaSource::ThisCa(uca_ca::CaPaths::new(d).ca_cert())),
            (None, None) => None,
        }
    } else {
        None
    };
    let client_cert = match &o.client_cert {
        Some(c) => Some(
            resolve_client_cert(
                c,
                o.client_key.as_ref().and_then(|k| k.to_str()),
                std::path::Path::new("."),
                ca_dir,
            )
            .map_err(bad)?,
        ),
        None => None,
    };
    let window = Span::hours(1);
    Ok(Target {
        name: o.url.clone(),
        url: o.url.clone(),
        kind,
        host,
        port,
        path,
        method: "GET".into(),
        expect_status: o.expect_status.clone(),
        body: o.body.clone().map(crate::targets::BodyMatch::Substring),
        timeout: o.timeout,
        interval: Span::from_duration(SPACING),
        ca,
        client_cert,
        server_name: o.server_name.clone(),
        ok: o.ok,
        warn: o.warn,
        window,
        cert_warn: o.cert_warn,
        cert_crit: o.cert_crit,
        min_samples: o.count.max(1),
        horizon: defaults::HORIZON,
    })
}

/// Runs the check: `count` probes, then the status (with this CA's ledger findings).
pub fn run(o: &CheckOptions) -> Result<(Endpoint, Status), HealthError> {
    let t = target(o)?;
    let tls = if t.kind.uses_tls() {
        Some(client_config(
            t.ca.as_ref(),
            t.client_cert.as_ref(),
            t.kind == Kind::Https,
        )?)
    } else {
        None
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HealthError::Setup(format!("cannot start the runtime: {e}")))?;
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
    ) && let Some(ca) = CaWatch::at(dir)
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
