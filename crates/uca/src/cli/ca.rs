//! The CA's own commands, in `Command` order: init, issue, sign, list, show, revoke, crl, renew,
//! intermediate, seal, passphrase, ledger; then the flag groups they share.

use std::path::PathBuf;

use clap::{Args, Subcommand};

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
    #[command(flatten)]
    pub new_passphrase: NewPassphraseArgs,
    /// Store the CA key unencrypted (anyone who can read the file can sign certificates)
    #[arg(long, conflicts_with = "generate_passphrase")]
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
still gets a leaf. The CSR's own SANs are used only with --accept-csr-sans.",
    // The constraints apply only to a CA certificate, which sign makes only with that profile.
    mut_arg("path_len", |a| a.help("With --profile intermediate: pathLenConstraint")),
    mut_arg("permit_dns", |a| a.help("With --profile intermediate: permit only this DNS domain (repeatable)")),
    mut_arg("permit_ip", |a| a.help("With --profile intermediate: permit only this IP range (repeatable)")),
)]
pub struct SignArgs {
    /// The CSR, PEM or DER ('-' for stdin)
    #[arg(value_name = "CSR")]
    pub csr: PathBuf,
    /// NAME (CN and ledger name); defaults to the CSR's CN
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// server, client, both (default, from the config), code-signing, or intermediate (a CA)
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Extra SubjectAltName (repeatable)
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
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

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca revoke rmq2 --reason keyCompromise
  uca revoke 3f1c0a9e… --reason superseded
  uca crl                                      # then publish DIR/crl.pem

Reasons: keyCompromise, superseded, cessationOfOperation, affiliationChanged, caCompromise,
certificateHold, unspecified (the default). Revoking twice changes nothing and says so.")]
pub struct RevokeArgs {
    /// A NAME (its current certificate) or a serial number
    #[arg(value_name = "NAME|SERIAL")]
    pub target: String,
    /// Why (RFC 5280 reason)
    #[arg(long, value_name = "REASON", default_value = "unspecified")]
    pub reason: String,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca crl                                      # DIR/crl.pem, valid 7 days
  uca crl --days 30 --out /srv/www/pki/ca.crl --der
  openssl crl -in pki/crl.pem -CAfile pki/ca.crt -noout -verify

Publish it again before nextUpdate (cron: daily). Every CRL gets the next CRL number from the ledger.")]
pub struct CrlArgs {
    /// Days until nextUpdate
    #[arg(long, value_name = "N", default_value_t = uca_ca::DEFAULT_CRL_DAYS)]
    pub days: u32,
    /// Where to write it [default: DIR/crl.pem]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// DER instead of PEM
    #[arg(long)]
    pub der: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca renew rmq1                               # same key, new certificate
  uca renew rmq1 --rekey --revoke-old          # new key; the old certificate is revoked (superseded)

The old certificate becomes 'superseded' (still valid until it expires) unless --revoke-old.
The files in DIR/issued/NAME are swapped in one step.")]
pub struct RenewArgs {
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Make a new key too
    #[arg(long)]
    pub rekey: bool,
    /// Validity in days (default from the config)
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Revoke the old certificate (reason superseded)
    #[arg(long)]
    pub revoke_old: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca intermediate 'Acme Issuing CA 1' --parent /srv/root-ca --dir /srv/issuing-ca \\
      --permit-dns svc.internal --permit-ip 10.0.0.0/8 --child-passphrase-file issuing.pass
  uca --dir /srv/issuing-ca issue rmq1         # chain.pem now holds the intermediate and the root

--dir names the NEW child directory; the parent is --parent DIR, else $UCA_DIR, else ./pki.
The child's key passphrase: --child-passphrase-file, --same-passphrase (the parent's),
--generate-passphrase [--passphrase-out FILE], a prompt on a terminal, or --no-passphrase.
The child holds ca.crt (the intermediate), ca-chain.pem (intermediate + issuers) and root.crt.",
    mut_arg("generate_passphrase", |a| a.help("Make a strong random passphrase for the child key")),
    mut_arg("passphrase_out", |a| a.help("With --generate-passphrase: write it to FILE (mode 0400)")),
)]
pub struct IntermediateArgs {
    /// The intermediate's CN
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The parent CA directory [default: $UCA_DIR, else ./pki]
    #[arg(long, value_name = "DIR")]
    pub parent: Option<PathBuf>,
    #[command(flatten)]
    pub constraints: ConstraintArgs,
    /// Validity in days (clamped to the parent's)
    #[arg(long, value_name = "N", default_value_t = 1825)]
    pub days: u32,
    /// Key type of the intermediate
    #[arg(long, value_name = "TYPE", default_value = "ec-p256")]
    pub key: String,
    /// The child key's passphrase: first line of FILE
    #[arg(long, value_name = "FILE", conflicts_with_all = ["same_passphrase", "generate_passphrase", "no_passphrase"])]
    pub child_passphrase_file: Option<PathBuf>,
    /// Encrypt the child key with the parent's passphrase
    #[arg(long, conflicts_with_all = ["generate_passphrase", "no_passphrase"])]
    pub same_passphrase: bool,
    #[command(flatten)]
    pub new_passphrase: NewPassphraseArgs,
    /// Store the child key unencrypted
    #[arg(long, conflicts_with = "generate_passphrase")]
    pub no_passphrase: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca seal                                     # asks you to type the CA's name
  uca seal --yes --crl-days 3650               # scripts

Sealing writes a final CRL (DIR/crl.pem, nextUpdate --crl-days ahead, default: the CA's own expiry),
then overwrites, syncs and deletes the CA key. A sealed CA still lists, shows, verifies and records
revocations, but signs nothing: issue from an intermediate made before, or create a new CA.
On copy-on-write filesystems and with snapshots or backups, old copies of the key may survive:
sealing destroys this file, not your backups.")]
pub struct SealArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Days until the final CRL's nextUpdate [default: until the CA expires]
    #[arg(long, value_name = "N")]
    pub crl_days: Option<u32>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Subcommand)]
pub enum PassphraseCommand {
    /// Re-encrypt the CA key under a new passphrase
    #[command(after_help = "EXAMPLES:
  uca passphrase change --passphrase-file old.pass --new-passphrase-file new.pass
  UCA_PASSPHRASE=old UCA_NEW_PASSPHRASE=new uca passphrase change
  uca passphrase change --generate-passphrase --passphrase-out new.pass

The key file is replaced atomically: after a crash, exactly one of the two passphrases opens it.")]
    Change(PassphraseChangeArgs),
}

#[derive(Debug, Args)]
#[command(
    mut_arg("generate_passphrase", |a| a.help("Make a strong random new passphrase")),
    mut_arg("passphrase_out", |a| a.help("With --generate-passphrase: write it to FILE (mode 0400)")),
)]
pub struct PassphraseChangeArgs {
    /// The new passphrase: first line of FILE (else $UCA_NEW_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE", conflicts_with = "generate_passphrase")]
    pub new_passphrase_file: Option<PathBuf>,
    #[command(flatten)]
    pub new_passphrase: NewPassphraseArgs,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

// Flag groups, each declared once so its flags cannot drift apart between commands. A command
// whose help needs other words for a flag says so with `mut_arg`, next to its own help.

/// The passphrase that unlocks the CA key, for every command that signs.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the CA passphrase from the first line of FILE (else $UCA_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// A new key's passphrase made by uca (init, intermediate, passphrase change). A command that takes
/// no passphrase at all declares `--no-passphrase` itself, with the conflict.
#[derive(Debug, Args)]
pub struct NewPassphraseArgs {
    /// Make a strong random passphrase; shown once on stderr unless --passphrase-out is given
    #[arg(long)]
    pub generate_passphrase: bool,
    /// With --generate-passphrase: write it to FILE (mode 0400) instead of showing it
    #[arg(long, value_name = "FILE", requires = "generate_passphrase")]
    pub passphrase_out: Option<PathBuf>,
}

/// What a CA certificate may sign below it (intermediate, and sign --profile intermediate).
#[derive(Debug, Args)]
pub struct ConstraintArgs {
    /// pathLenConstraint: how many CA levels may sit below it (0: it signs leaves only)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub path_len: u8,
    /// Permit only this DNS domain and its subdomains (repeatable)
    #[arg(long = "permit-dns", value_name = "DOMAIN")]
    pub permit_dns: Vec<String>,
    /// Permit only this IP range (repeatable), e.g. 10.0.0.0/8
    #[arg(long = "permit-ip", value_name = "CIDR")]
    pub permit_ip: Vec<String>,
}

impl ConstraintArgs {
    /// Whether any constraint was asked for (sign refuses them on a leaf).
    pub fn any(&self) -> bool {
        self.path_len != 0 || !self.permit_dns.is_empty() || !self.permit_ip.is_empty()
    }
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Copy every certificate, revocation, CRL number and export record of this CA's ledger
    /// into an empty one, then read it back and compare
    #[command(after_help = "EXAMPLES:
  uca ledger copy --to 'postgres://uca@db.internal/uca?sslmode=verify-full&sslrootcert=/etc/uca/db-ca.pem'
  uca --ledger postgres://uca@127.0.0.1/uca ledger copy --to ./pki/ledger.sqlite   # and back

Stop `uca serve` first. The copy is verified (counts, serials, fingerprints, statuses,
certificates); then set `ledger = \"URL\"` in uca.toml (or remove it for ledger.sqlite).")]
    Copy(LedgerCopyArgs),
}

#[derive(Debug, Args)]
pub struct LedgerCopyArgs {
    /// The destination: a postgres:// URL or a SQLite file; it must hold no certificate yet
    #[arg(long, value_name = "URL|FILE")]
    pub to: String,
}
