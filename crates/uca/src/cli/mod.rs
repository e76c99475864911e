//! Command-line syntax (clap). This file holds the top level; each command group's arguments live
//! in their own file, in `Command` order: `ca` (init … renew, intermediate, seal, passphrase),
//! `monitor` (expiring, verify), `deploy` (export, trust, plan, apply), `artifact`, `health`, `serve` (serve, acme).
//! Values stay raw strings; commands parse them into domain types so every error gets uca's
//! message and hint. `argv` finds the subcommand of a command line clap refused.

pub mod argv;
pub mod artifact;
pub mod ca;
pub mod deploy;
pub mod health;
pub mod monitor;
pub mod serve;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::{Exit, exit_codes_help};

const ABOUT: &str = "A micro-CA for mutual TLS between containerized services";

const LONG_ABOUT: &str = "uca keeps one private root of trust in a directory: it creates the root, issues \
certificates whose SubjectAltNames follow rules (rmq1 also answers as rmq), signs CSRs made elsewhere, and \
records everything in a ledger.

The CA directory is --dir DIR, else $UCA_DIR, else ./pki.";

const EXAMPLES: &str = "EXAMPLES:
  uca init --name 'Acme Internal CA' --generate-passphrase --passphrase-out ca.pass
  UCA_PASSPHRASE=$(cat ca.pass) uca issue rmq1 rmq2 rmq3
  uca issue --profile client --passphrase-file ca.pass backup-agent
  uca sign --passphrase-file ca.pass app.csr --out app.crt
  uca list
  uca show rmq1";

#[derive(Debug, Parser)]
#[command(name = "uca", version, about = ABOUT, long_about = LONG_ABOUT,
          after_help = format!("{EXAMPLES}\n\n{}", exit_codes_help(Exit::ALL, true)))]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// CA directory [env: UCA_DIR] [default: ./pki]
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The ledger: a postgres:// URL (password from PGPASSWORD if not in it), or a SQLite file;
    /// overrides uca.toml's `ledger` [env: UCA_LEDGER] [default: DIR/ledger.sqlite]
    #[arg(long, global = true, value_name = "URL")]
    pub ledger: Option<String>,
    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a CA: root certificate, encrypted key, config file and ledger
    Init(ca::InitArgs),
    /// Make keys and certificates for one or more NAMEs
    Issue(ca::IssueArgs),
    /// Sign a CSR made elsewhere (openssl, keytool, Go); the key never comes here
    Sign(ca::SignArgs),
    /// List every certificate in the ledger
    List(ca::ListArgs),
    /// Show one certificate in detail, extensions in words
    Show(ca::ShowArgs),
    /// Revoke a certificate (by NAME or serial) in the ledger
    Revoke(ca::RevokeArgs),
    /// Sign and write a CRL of every revoked certificate
    Crl(ca::CrlArgs),
    /// Renew a certificate: new serial, same names, same key unless --rekey
    Renew(ca::RenewArgs),
    /// Green / Yellow / Red by time left, with monitoring-plugin exit codes
    Expiring(monitor::ExpiringArgs),
    /// Create a child CA directory signed by this CA
    Intermediate(ca::IntermediateArgs),
    /// Destroy the CA key for good, after a final CRL
    Seal(ca::SealArgs),
    /// Manage the CA key's passphrase
    #[command(subcommand)]
    Passphrase(ca::PassphraseCommand),
    /// Check a certificate against this CA: chain, dates, ledger, CRL
    Verify(monitor::VerifyArgs),
    /// Write a certificate and key for HAProxy, nginx, Java, Kubernetes or a volume, or as PKCS#12
    Export(deploy::ExportArgs),
    /// Install the CA certificate into trust stores (system, NSS, Java), or remove it
    #[command(subcommand)]
    Trust(deploy::TrustCommand),
    /// Show what `uca apply` would change for a plan file
    Plan(deploy::PlanArgs),
    /// Converge the CA and the output files to a plan file
    Apply(deploy::ApplyArgs),
    /// Chain of custody: sha256sum manifests, stage attestations, policy checks before deploy
    #[command(subcommand)]
    Artifact(artifact::ArtifactCommand),
    /// Endpoint health: Green / Yellow / Red per endpoint, with a forecast
    #[command(subcommand)]
    Health(health::HealthCommand),
    /// The online issuer: an ACME server (RFC 8555) over this CA and its ledger
    Serve(serve::ServeArgs),
    /// The ACME server's accounts, orders and external account keys
    #[command(subcommand)]
    Acme(serve::AcmeCommand),
    /// The ledger itself: copy it between SQLite and PostgreSQL
    #[command(subcommand)]
    Ledger(ca::LedgerCommand),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// clap's own consistency checks: every id named in a conflict or requirement exists (flag
    /// groups are flattened, so a typo would only show at run time), no flag is declared twice.
    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
