//! The online issuer: `uca serve` (the ACME server) and `uca acme` (its accounts, orders and
//! external account keys).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::ca::PassphraseArgs;

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca serve --passphrase-file ca.pass                       # https://127.0.0.1:8443/acme/directory
  uca serve --listen 10.0.0.5:443 --server-name ca.internal --passphrase-file ca.pass
  uca serve --dir issuing --eab required       # an intermediate made by uca intermediate

Clients trust the root: DIR/ca.crt, or DIR/root.crt for an intermediate (the chain is at /ca.crt). New accounts need an external account key
('uca acme eab add KID') unless the server listens on loopback only or --eab says otherwise.
Validation never connects to loopback, link-local or multicast addresses, or to this server,
unless --allow-validation-to opens a range. Settings also come from uca.toml [serve] and [acme];
flags win.")]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8443, or [serve] listen]
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// A name of the server's own certificate (repeatable) [default: the listen address and localhost]
    #[arg(long = "server-name", value_name = "NAME")]
    pub server_names: Vec<String>,
    /// Serve this certificate (PEM, with its chain) instead of one issued by this CA
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// DNS server validation uses [default: the system's resolver]
    #[arg(long, value_name = "ADDR:PORT")]
    pub resolver: Option<String>,
    /// Let validation reach a range it refuses by default, e.g. 127.0.0.0/8 (repeatable)
    #[arg(long = "allow-validation-to", value_name = "CIDR")]
    pub allow_validation_to: Vec<String>,
    /// External account binding: off, optional or required [default: required unless listening on loopback only]
    #[arg(long, value_name = "MODE")]
    pub eab: Option<String>,
    /// Profile of ACME certificates: server, client or both [default: both]
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Lifetime when an order asks for none [default: 90]
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Longest lifetime an order may ask for [default: 397]
    #[arg(long, value_name = "N")]
    pub max_days: Option<u32>,
    /// TESTS ONLY: validate http-01 on this port instead of 80
    #[arg(long, value_name = "PORT")]
    pub insecure_http01_port: Option<u16>,
    /// TESTS ONLY: validate tls-alpn-01 on this port instead of 443
    #[arg(long, value_name = "PORT")]
    pub insecure_tlsalpn01_port: Option<u16>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// External account keys: who may register with the server, and for which names
    #[command(subcommand)]
    Eab(EabCommand),
    /// List ACME accounts
    Accounts,
    /// List ACME orders
    Orders(OrdersArgs),
    /// Remove dead orders (invalid, or expired unfinished) and those of long-expired certificates, with their authorizations and challenges, now; the server does it hourly
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only dead orders that ended longer ago than this (e.g. 1d, 12h; 0 for all)
    #[arg(long, value_name = "SPAN", default_value = "1d")]
    pub older_than: String,
    /// Valid orders go with their certificate's record once it has been expired this long (0: as soon as it expires; the ledger keeps every certificate)
    #[arg(long, value_name = "SPAN", default_value = "30d")]
    pub expired_for: String,
}

#[derive(Debug, Subcommand)]
pub enum EabCommand {
    /// Create an external account key (shown once, or written to --out)
    Add(EabAddArgs),
    /// List external account keys (never their secrets)
    List,
    /// Remove an external account key; accounts bound with it can no longer order
    Remove(EabRemoveArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca acme eab add ci-runners --allow '*.ci.internal'
  uca acme eab add rmq --allow rmq1.svc --allow rmq2.svc --allow 10.0.0.0/8 --out rmq.eab

Give the client the KID and the HMAC key, e.g.
  certbot register --eab-kid KID --eab-hmac-key KEY ...
  lego --eab --kid KID --hmac KEY ...")]
pub struct EabAddArgs {
    /// Key ID the client presents
    #[arg(value_name = "KID")]
    pub kid: String,
    /// Names accounts bound with this key may obtain: host.example, *.example, 10.0.0.7, 10.0.0.0/8 (repeatable) [default: whatever [acme] allows]
    #[arg(long, value_name = "PATTERN")]
    pub allow: Vec<String>,
    /// Profiles accounts bound with this key may order: server, client, both (repeatable) [default: any the server offers]
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Write the HMAC key (base64url) to FILE, mode 0600, instead of printing it
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EabRemoveArgs {
    #[arg(value_name = "KID")]
    pub kid: String,
}

#[derive(Debug, Args)]
pub struct OrdersArgs {
    /// Only this account's orders
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}
