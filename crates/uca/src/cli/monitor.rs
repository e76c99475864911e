//! Commands that judge certificates and say so in the exit code: expiring, verify.

use std::path::PathBuf;

use clap::Args;

use crate::exit::{Exit, exit_codes_help};

#[derive(Debug, Args)]
#[command(after_help = format!("EXAMPLES:
  uca expiring                                 # everything, colored
  uca expiring --within 30d
  uca expiring --summary --warn 30d --crit 7d  # one line for Nagios / Icinga / cron

{}", exit_codes_help(&[], true)))]
pub struct ExpiringArgs {
    /// Only certificates expiring within this span (e.g. 30d, 12h, 2w)
    #[arg(long, value_name = "SPAN")]
    pub within: Option<String>,
    /// Yellow inside this span
    #[arg(long, value_name = "SPAN", default_value = "30d")]
    pub warn: String,
    /// Red inside this span (or expired)
    #[arg(long, value_name = "SPAN", default_value = "7d")]
    pub crit: String,
    /// One line, monitoring-plugin style
    #[arg(long)]
    pub summary: bool,
}

#[derive(Debug, Args)]
#[command(after_help = format!("EXAMPLES:
  uca verify pki/issued/rmq1/cert.pem
  uca verify fullchain.pem --crl pki/crl.pem

{}", exit_codes_help(&[Exit::Ok, Exit::NotValid], false)))]
pub struct VerifyArgs {
    /// The certificate (PEM, possibly followed by intermediates, or DER)
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,
    /// Also check this CRL (signature, freshness, and whether it lists the certificate)
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
}
