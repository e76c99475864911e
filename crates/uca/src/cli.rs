//! Command-line syntax (clap). Values stay raw strings here; commands parse them into domain
//! types so every error gets uca's message and hint.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::EXIT_CODES_HELP;

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
          after_help = format!("{EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
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
    /// Print one JSON document on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a CA: root certificate, encrypted key, config file and ledger
    Init(InitArgs),
    /// Make keys and certificates for one or more NAMEs
    Issue(IssueArgs),
    /// Sign a CSR made elsewhere (openssl, keytool, Go); the key never comes here
    Sign(SignArgs),
    /// List every certificate in the ledger
    List(ListArgs),
    /// Show one certificate in detail, extensions in words
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the CA passphrase from the first line of FILE (else $UCA_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca init --name 'Acme Internal CA' --subject 'O=Acme,OU=Platform,C=US' --generate-passphrase --passphrase-out ca.pass
  UCA_PASSPHRASE='correct horse battery staple' uca init --dir /srv/pki --key ec-p384
  uca init --no-passphrase          # unencrypted key: only for throwaway test CAs

The passphrase comes from --passphrase-file, else $UCA_PASSPHRASE, else a prompt on a terminal, else
--generate-passphrase must be given. The key is PKCS#8 encrypted with scrypt + AES-256-CBC; OpenSSL reads
it with 'openssl pkey -in DIR/private/ca.key'.")]
pub struct InitArgs {
    /// Common name of the root certificate [default: 'uca Root CA' plus a random 8-hex-digit id, so
    /// that two CAs never share a name]
    #[arg(long, value_name = "CN")]
    pub name: Option<String>,
    /// Subject fields, 'O=Acme,OU=Ops,C=US' or '/O=Acme/OU=Ops/C=US' (keys: O, OU, C, ST, L, CN)
    #[arg(long, value_name = "DN")]
    pub subject: Option<String>,
    /// Root key type: ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096
    #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
    pub key: String,
    /// Root validity in days
    #[arg(long, value_name = "N", default_value_t = uca_pki::validity::DEFAULT_ROOT_DAYS)]
    pub days: u32,
    /// Read the new passphrase from the first line of FILE
    #[arg(long, value_name = "FILE", conflicts_with_all = ["generate_passphrase", "no_passphrase"])]
    pub passphrase_file: Option<PathBuf>,
    /// Make a strong random passphrase; shown once on stderr unless --passphrase-out is given
    #[arg(long, conflicts_with = "no_passphrase")]
    pub generate_passphrase: bool,
    /// With --generate-passphrase: write it to FILE (mode 0400) instead of showing it
    #[arg(long, value_name = "FILE", requires = "generate_passphrase")]
    pub passphrase_out: Option<PathBuf>,
    /// Store the CA key unencrypted (anyone who can read the file can sign certificates)
    #[arg(long)]
    pub no_passphrase: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca issue rmq1 rmq2 rmq3                     # SANs rmqN and rmq (default rule)
  uca issue web1 --san web.example.org --san 10.0.0.7 --profile server
  uca issue backup-agent --profile client --days 90
  uca issue signer --profile code-signing --key ec-p384
  uca issue rmq1 --force                       # new certificate, new serial; the old one stays in the ledger

SANs are typed by syntax: DNS names (one leading '*.' allowed), IPv4/IPv6, emails, URIs (spiffe://…).
Force a type with dns:, ip:, email: or uri:. Files land in DIR/issued/NAME/: cert.pem, key.pem (0600),
chain.pem, fullchain.pem.")]
pub struct IssueArgs {
    /// Names to issue (each becomes the CN and a SAN)
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    /// server, client, both (default, from the config) or code-signing
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Extra SubjectAltName for every NAME (repeatable)
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    /// Key type (default from the config: ec-p256)
    #[arg(long, value_name = "TYPE")]
    pub key: Option<String>,
    /// Validity in days (default from the config: 397); clamped to the CA's own expiry
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Do not apply the config's SAN rules for this call
    #[arg(long)]
    pub no_rules: bool,
    /// Replace an existing certificate for NAME (new key, new serial)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout app.key -subj /CN=app -out app.csr
  uca sign app.csr --out app.crt
  uca sign app.csr --name api --san api.example.org --profile server --out api.crt
  keytool -certreq -alias svc -keystore svc.p12 -file svc.csr && uca sign svc.csr --accept-csr-sans

The CSR's self-signature is checked. The profile decides every extension: a CSR asking for CA:TRUE
still gets a leaf. The CSR's own SANs are used only with --accept-csr-sans.")]
pub struct SignArgs {
    /// The CSR, PEM or DER ('-' for stdin)
    #[arg(value_name = "CSR")]
    pub csr: PathBuf,
    /// NAME (CN and ledger name); defaults to the CSR's CN
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// server, client, both (default, from the config) or code-signing
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Extra SubjectAltName (repeatable)
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    /// Also include the SANs the CSR asks for
    #[arg(long)]
    pub accept_csr_sans: bool,
    /// Do not apply the config's SAN rules
    #[arg(long)]
    pub no_rules: bool,
    /// Validity in days (default from the config)
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Write the certificate followed by its chain to FILE (default: stdout)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace the active certificate of NAME (it becomes superseded) and overwrite --out
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Colors on a terminal: green more than 30 days left, yellow within 30, red within 7 or expired.
Set NO_COLOR to turn them off."
)]
pub struct ListArgs {
    /// Only certificates with this status: issued, superseded, revoked, void, pending
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca show rmq1
  uca show 3f1c0a…             # by serial (hex, colons allowed)
  uca show rmq1 --json")]
pub struct ShowArgs {
    /// A NAME or a serial number
    #[arg(value_name = "NAME|SERIAL")]
    pub target: String,
}
