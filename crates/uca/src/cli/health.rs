//! `uca health`: endpoint health.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use uca_health::targets::defaults;

use crate::exit::exit_codes_help;

#[derive(Debug, Subcommand)]
pub enum HealthCommand {
    /// Probe every target of a targets file continuously; serve a status page, JSON and metrics
    #[command(
        after_help = "Serves http://LISTEN/ (status page), /status.json and /metrics (Prometheus). On a
terminal it also shows a live table; every color change is one line on stdout (a JSON
object per line with --json), runs [watch] on_change and POSTs [watch] webhook.
The probe history is kept in --store (default: TARGETS with .health.sqlite), so a
restart keeps the windows. SIGINT/SIGTERM stop it cleanly.

EXAMPLES:
  uca health watch targets.toml
  uca health watch targets.toml --listen 0.0.0.0:9480 --store /var/lib/uca/health.sqlite"
    )]
    Watch(HealthWatchArgs),
    /// Probe one URL a few times and print one status line (Nagios/Icinga plugin)
    #[command(
        after_help = format!("URL: https://host[:port]/path, http://..., tcp://host:port (connect), tls://host:port
(handshake). The CA defaults to this uca CA; --client-cert takes a NAME this CA issued.

Output: 'UCA-HEALTH OK - reason | perfdata'.

EXAMPLES:
  uca health check https://rmq1.internal:15671/api/health/checks/alarms --client-cert prober
  uca health check tls://db.internal:5432 --count 3 --cert-warn 21d
  uca health check http://127.0.0.1:8080/healthz --ok '99% within 50ms' --body ok

{}", exit_codes_help(&[], true))
    )]
    Check(HealthCheckArgs),
}

#[derive(Debug, Args)]
pub struct HealthWatchArgs {
    /// The targets file (TOML)
    #[arg(value_name = "TARGETS")]
    pub targets: PathBuf,
    /// Address for the status page, /status.json and /metrics
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9480")]
    pub listen: String,
    /// Where the probe history is kept (SQLite)
    #[arg(long, value_name = "FILE")]
    pub store: Option<PathBuf>,
    /// Probes in flight at once
    #[arg(long, value_name = "N", default_value = "256")]
    pub concurrency: usize,
    /// Stop after this long (e.g. 60s); default: until SIGINT/SIGTERM
    #[arg(long, value_name = "SPAN")]
    pub duration: Option<String>,
}

#[derive(Debug, Args)]
pub struct HealthCheckArgs {
    /// https://…, http://…, tcp://host:port or tls://host:port
    #[arg(value_name = "URL")]
    pub url: String,
    /// Probes to make
    #[arg(long, value_name = "N", default_value = "5")]
    pub count: u32,
    /// Green when at least this share answered within this time
    #[arg(long, value_name = "THRESHOLD", default_value_t = defaults::OK.to_string())]
    pub ok: String,
    /// Yellow when at least this share did (else Red)
    #[arg(long, value_name = "THRESHOLD", default_value_t = defaults::WARN.to_string())]
    pub warn: String,
    /// CA bundle to verify the server with (default: this uca CA)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientCertArgs,
    /// TLS server name to send and verify, when it differs from the URL's host
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Yellow when a presented certificate expires within this
    #[arg(long, value_name = "SPAN", default_value_t = defaults::CERT_WARN.to_string())]
    pub cert_warn: String,
    /// Red when a presented certificate expires within this
    #[arg(long, value_name = "SPAN", default_value_t = defaults::CERT_CRIT.to_string())]
    pub cert_crit: String,
    /// Per-probe timeout
    #[arg(long, value_name = "SPAN", default_value_t = defaults::TIMEOUT.to_string())]
    pub timeout: String,
    /// Accepted HTTP status codes (default 200-399)
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub expect_status: Vec<u16>,
    /// The body must contain this text
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
}

/// The certificate a probe presents when the endpoint asks for mutual TLS.
#[derive(Debug, Args)]
pub struct ClientCertArgs {
    /// Client certificate: a NAME this CA issued, or a PEM file (then --client-key)
    #[arg(long, value_name = "NAME|PATH")]
    pub client_cert: Option<String>,
    /// The client certificate's key (PEM, unencrypted PKCS#8)
    #[arg(long, value_name = "PATH")]
    pub client_key: Option<PathBuf>,
}
