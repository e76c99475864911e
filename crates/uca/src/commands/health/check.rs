//! `uca health check URL`: N probes, one status line with perfdata, monitoring-plugins exit code.

use uca_health::check::{CheckOptions, run as run_check};
use uca_health::spec::{Threshold, percent};
use uca_health::window::percent_1;
use uca_pki::{Bare, Color, Span};

use crate::cli::health::HealthCheckArgs;
use crate::exit::{CliError, Verdict, health_hint};
use crate::settings::Settings;

fn parse<T: std::str::FromStr<Err: std::fmt::Display>>(flag: &str, v: &str) -> Result<T, CliError> {
    v.parse()
        .map_err(|e| CliError::unknown(format!("--{flag}: {e}"), None))
}

/// A certificate threshold: a bare number counts days, as `uca expiring --warn` takes it.
fn days(flag: &str, v: &str) -> Result<Span, CliError> {
    Span::parse(v, Bare::Days).map_err(|e| CliError::unknown(format!("--{flag}: {e}"), None))
}

/// Probes and judges; the verdict is the exit code. Whatever stops the check (bad arguments
/// included) is UNKNOWN, never a usage error a monitoring system would read as CRITICAL.
pub fn run(args: &HealthCheckArgs, settings: &Settings) -> Result<Verdict, CliError> {
    if args.count == 0 || args.count > 1000 {
        return Err(CliError::unknown(
            "--count must be between 1 and 1000",
            None,
        ));
    }
    let opts = CheckOptions {
        url: args.url.clone(),
        count: args.count,
        ok: parse::<Threshold>("ok", &args.ok)?,
        warn: parse::<Threshold>("warn", &args.warn)?,
        ca: args.ca.clone(),
        client_cert: args.client.client_cert.clone(),
        client_key: args.client.client_key.clone(),
        server_name: args.server_name.clone(),
        cert_warn: days("cert-warn", &args.cert_warn)?,
        cert_crit: days("cert-crit", &args.cert_crit)?,
        timeout: parse::<Span>("timeout", &args.timeout)?,
        expect_status: args.expect_status.clone(),
        body: args.body.clone(),
        ca_dir: Some(settings.dir.clone()),
        ledger: settings.ledger.clone(),
    };
    let (endpoint, st) =
        run_check(&opts).map_err(|e| CliError::unknown(e.to_string(), health_hint(&e)))?;
    let verdict = match st.color {
        Color::Green => Verdict::Ok,
        Color::Yellow => Verdict::Warning,
        Color::Red => Verdict::Critical,
        Color::Unknown => Verdict::Unknown,
    };
    if settings.out.json {
        settings.out.json(&st)?;
        return Ok(verdict);
    }
    let word = match st.color {
        Color::Green => "OK",
        Color::Yellow => "WARNING",
        Color::Red => "CRITICAL",
        Color::Unknown => "UNKNOWN",
    };
    let good = endpoint.history.fine.since(0);
    let mut perf = vec![format!(
        "good_share={}%;{}:;{}:;0;100",
        st.probe
            .share_ok
            .map(percent_1)
            .unwrap_or_else(|| "0".into()),
        percent(opts.ok.share),
        percent(opts.warn.share)
    )];
    if let Some(p50) = st.latency_ms_p50 {
        perf.push(format!(
            "latency_p50={:.4}s;{};{}",
            p50 / 1000.0,
            opts.ok.within.as_duration().as_secs_f64(),
            opts.warn.within.as_duration().as_secs_f64()
        ));
    }
    if let Some(max) = st.latency_ms_max {
        perf.push(format!("latency_max={:.4}s", max / 1000.0));
    }
    if let Some(c) = &st.cert {
        perf.push(format!(
            "cert_days={:.1};{}:;{}:",
            (c.seconds_left as f64 / 8_640.0).floor() / 10.0,
            opts.cert_warn.as_duration().as_secs() / 86_400,
            opts.cert_crit.as_duration().as_secs() / 86_400
        ));
    }
    let mut words = vec![format!(
        "{}/{} probes answered within {}",
        good.good_ok, good.total, opts.ok.within
    )];
    // The probe's own "N% within T" says again what the count says.
    words.extend(
        st.reasons
            .iter()
            .filter(|r| !(st.probe.color == Color::Green && **r == st.probe.reason))
            .cloned(),
    );
    words.dedup();
    settings.out.line(format!(
        "UCA-HEALTH {word} - {}: {} | {}",
        args.url,
        words.join("; "),
        perf.join(" ")
    ));
    Ok(verdict)
}
