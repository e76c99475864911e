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
    /// Revoke a certificate (by NAME or serial) in the ledger
    Revoke(RevokeArgs),
    /// Sign and write a CRL of every revoked certificate
    Crl(CrlArgs),
    /// Renew a certificate: new serial, same names, same key unless --rekey
    Renew(RenewArgs),
    /// Green / Yellow / Red by time left, with monitoring-plugin exit codes
    Expiring(ExpiringArgs),
    /// Create a child CA directory signed by this CA
    Intermediate(IntermediateArgs),
    /// Destroy the CA key for good, after a final CRL
    Seal(SealArgs),
    /// Manage the CA key's passphrase
    #[command(subcommand)]
    Passphrase(PassphraseCommand),
    /// Check a certificate against this CA: chain, dates, ledger, CRL
    Verify(VerifyArgs),
    /// Write a certificate and key as HAProxy, nginx, PKCS#12, Java, Kubernetes or a volume eat them
    Export(ExportArgs),
    /// Install the CA certificate into trust stores (system, NSS, Java), or remove it
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Show what `uca apply` would change for a plan file
    Plan(PlanArgs),
    /// Converge the CA and the output files to a plan file
    Apply(ApplyArgs),
    /// Chain of custody: sha256sum manifests, stage attestations, policy checks before deploy
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Endpoint health: Green / Yellow / Red per endpoint, with a forecast
    #[command(subcommand)]
    Health(HealthCommand),
}

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
        after_help = "URL: https://host[:port]/path, http://..., tcp://host:port (connect), tls://host:port
(handshake). The CA defaults to this uca CA; --client-cert takes a NAME this CA issued.

Output: 'UCA-HEALTH OK - reason | perfdata'. EXIT CODES (monitoring plugins): 0 OK (Green),
1 WARNING (Yellow), 2 CRITICAL (Red), 3 UNKNOWN (bad arguments, too few probes).

EXAMPLES:
  uca health check https://rmq1.internal:15671/api/health/checks/alarms --client-cert prober
  uca health check tls://db.internal:5432 --count 3 --cert-warn 21d
  uca health check http://127.0.0.1:8080/healthz --ok '99% within 50ms' --body ok"
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

// The defaults are the targets file's own, written once in `uca_health::targets::defaults`.
#[derive(Debug, Args)]
pub struct HealthCheckArgs {
    /// https://…, http://…, tcp://host:port or tls://host:port
    #[arg(value_name = "URL")]
    pub url: String,
    /// Probes to make
    #[arg(long, value_name = "N", default_value = "5")]
    pub count: u32,
    /// Green when at least this share answered within this time
    #[arg(long, value_name = "THRESHOLD", default_value_t = uca_health::targets::defaults::OK.to_string())]
    pub ok: String,
    /// Yellow when at least this share did (else Red)
    #[arg(long, value_name = "THRESHOLD", default_value_t = uca_health::targets::defaults::WARN.to_string())]
    pub warn: String,
    /// CA bundle to verify the server with (default: this uca CA)
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Client certificate: a NAME this CA issued, or a PEM file (then --client-key)
    #[arg(long, value_name = "NAME|PATH")]
    pub client_cert: Option<String>,
    /// The client certificate's key (PEM, unencrypted PKCS#8)
    #[arg(long, value_name = "PATH")]
    pub client_key: Option<PathBuf>,
    /// TLS server name to send and verify, when it differs from the URL's host
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// Yellow when a presented certificate expires within this
    #[arg(long, value_name = "SPAN", default_value_t = uca_health::targets::defaults::CERT_WARN.to_string())]
    pub cert_warn: String,
    /// Red when a presented certificate expires within this
    #[arg(long, value_name = "SPAN", default_value_t = uca_health::targets::defaults::CERT_CRIT.to_string())]
    pub cert_crit: String,
    /// Per-probe timeout
    #[arg(long, value_name = "SPAN", default_value_t = uca_health::targets::defaults::TIMEOUT.to_string())]
    pub timeout: String,
    /// Accepted HTTP status codes (default 200-399)
    #[arg(long, value_name = "CODE", value_delimiter = ',')]
    pub expect_status: Vec<u16>,
    /// The body must contain this text
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactCommand {
    /// Write a sha256sum-format manifest of files and directories
    #[command(
        after_help = "The output is exactly what GNU sha256sum prints (paths relative to --base, sorted
bytewise, LF line ends, coreutils escaping for names with \\, LF or CR), so
'sha256sum -c MANIFEST' checks a release with no uca installed. With --out, modes and
symbolic links go to the sidecar MANIFEST.meta (sha256sum cannot say them). The
manifest and its own files beside it (MANIFEST.meta, MANIFEST.<stage>.p7s, MANIFEST.crl,
MANIFEST.ca.crt) are left out of the walk.

EXAMPLES:
  uca artifact manifest dist --out release/SHA256SUMS
  uca artifact manifest --base dist dist --out SHA256SUMS     # paths relative to dist/
  (cd dist && sha256sum -c ../SHA256SUMS)"
    )]
    Manifest(ManifestArgs),
    /// Sign a manifest for one stage (build, qa, release…): a detached CMS signature
    #[command(
        after_help = "Writes MANIFEST.<stage>.p7s (DER CMS SignedData, detached, with the signer's chain and
signed content type, message digest, signing time and stage). The manifest itself is
never rewritten. Stock OpenSSL verifies it:

  openssl cms -verify -binary -inform DER -in SHA256SUMS.build.p7s -content SHA256SUMS \\
      -CAfile ca.crt -purpose any -out /dev/null

(OpenSSL 3.2+ can check the purpose itself with -purpose codesign. OpenSSL 3.0 cannot
verify Ed25519 CMS signatures: use EC or RSA signing keys where it must.)

EXAMPLES:
  uca issue ci-build --profile code-signing
  uca artifact attest SHA256SUMS --cert ci-build --stage build
  uca artifact attest SHA256SUMS --cert qa.crt --key qa.key --chain chain.pem --stage qa"
    )]
    Attest(AttestArgs),
    /// Check a manifest's attestations against a policy, and optionally the files
    #[command(
        after_help = "Checks every MANIFEST.<stage>.p7s beside the manifest: signature, chain to a trusted
root, signer valid at its signing time, not revoked (CRL, MANIFEST.crl beside it, or this
CA's ledger), codeSigning EKU, signer allowed for the stage, age; then that every
required stage is present. --content DIR checks every listed file; --installed DIR also
reports files not in the manifest and, when the sidecar is attested, mode and link
changes (rpm -V style).

Without --policy: --require STAGES [--root FILE]... [--signer STAGE=PATTERN]...; the
root defaults to this CA's certificate only when --dir or UCA_DIR names it.

EXAMPLES:
  uca artifact verify SHA256SUMS --policy release-policy.toml --content dist
  uca artifact verify SHA256SUMS --root ca.crt --require build,qa
  uca artifact verify SHA256SUMS --policy prod.toml --installed /opt/app

EXIT CODES: 0 the policy holds, 7 it does not (the table says why), 2 bad arguments."
    )]
    Verify(ArtifactVerifyArgs),
    /// Put the CA certificate and current CRL beside a release, for offline verification
    #[command(
        after_help = "Writes MANIFEST.ca.crt (this CA's certificate chain) and MANIFEST.crl (its current
CRL, from 'uca crl'). 'uca artifact verify' picks MANIFEST.crl up by itself (after
checking its signature against the trusted roots); the CA certificate is a copy for
openssl users and is never trusted just because it is there.

EXAMPLES:
  uca crl && uca artifact bundle release/SHA256SUMS"
    )]
    Bundle(BundleArgs),
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// Files and directories to include (directories are walked recursively)
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Paths in the manifest are relative to DIR
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub base: PathBuf,
    /// Write the manifest to FILE (and modes/links to FILE.meta) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing manifest (its attestations no longer verify)
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Follow symbolic links instead of recording them
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Do not write the FILE.meta sidecar
    #[arg(long, requires = "out")]
    pub no_meta: bool,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The manifest to sign
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The signer certificate: a PEM/DER file, or the NAME of a certificate this CA issued
    #[arg(long, value_name = "CERT|NAME")]
    pub cert: String,
    /// The signer's private key (PKCS#8, possibly encrypted); default for a NAME: its key.pem
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Intermediate certificates to embed (PEM); default for a NAME: its chain
    #[arg(long, value_name = "CHAIN")]
    pub chain: Option<PathBuf>,
    /// The stage this signature attests
    #[arg(long, value_name = "NAME", default_value = "build")]
    pub stage: String,
    /// Write the signature to FILE (default MANIFEST.<stage>.p7s)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing signature file
    #[arg(long)]
    pub force: bool,
    /// Read the key's passphrase from the first line of FILE (else $UCA_KEY_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ArtifactVerifyArgs {
    /// The manifest; its attestations are the MANIFEST.<stage>.p7s files beside it
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// The policy file (TOML): required stages, allowed signers, roots, CRL, max age
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// A trusted root certificate (repeatable; without --policy)
    #[arg(long = "root", value_name = "FILE", conflicts_with = "policy")]
    pub roots: Vec<PathBuf>,
    /// Stages that must be attested, comma-separated (without --policy)
    #[arg(
        long,
        value_name = "STAGES",
        value_delimiter = ',',
        conflicts_with = "policy"
    )]
    pub require: Vec<String>,
    /// Who may attest a stage: STAGE=PATTERN, glob over CN or SAN (repeatable; without --policy)
    #[arg(
        long = "signer",
        value_name = "STAGE=PATTERN",
        conflicts_with = "policy"
    )]
    pub signers: Vec<String>,
    /// A CRL to check signers against (in addition to the policy's and MANIFEST.crl)
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
    /// Attestations older than this fail, e.g. 90d (without --policy)
    #[arg(long, value_name = "SPAN", conflicts_with = "policy")]
    pub max_age: Option<String>,
    /// Accept a CRL past its nextUpdate (its age is still shown)
    #[arg(long)]
    pub allow_stale_crl: bool,
    /// Fail an attestation whose signer's revocation cannot be checked (no CRL, no ledger)
    #[arg(long)]
    pub require_revocation: bool,
    /// Check every file of the manifest under DIR (like sha256sum -c)
    #[arg(long, value_name = "DIR", conflicts_with = "installed")]
    pub content: Option<PathBuf>,
    /// Compare the deployed tree DIR with the manifest: modified, missing, extra, modes
    #[arg(long, value_name = "DIR")]
    pub installed: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The release's manifest
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
}

const PLAN_HELP: &str = "PLAN FILE (TOML):
  [ca]                           # optional: the CA itself, for 'apply --init'
  name = \"Acme Internal CA\"
  subject = \"O=Acme,C=US\"
  key = \"ec-p256\"

  [defaults]                     # optional
  profile = \"both\"             # server | client | both | code-signing
  key = \"ec-p256\"
  days = 397
  renew_before = \"30d\"

  [[component]]
  name = \"rmq\"
  count = 3                      # rmq1, rmq2, rmq3
  sans = [\"rmq.svc.internal\"]
    [[component.output]]
    format = \"haproxy\"           # pem-dir | volume | haproxy | nginx | pkcs12 | java-truststore | k8s-secret
    path = \"/etc/haproxy/certs/{name}\"   # {name}: the instance; relative paths are relative to the plan
    owner = \"99:99\"              # optional, UID:GID
    key_mode = \"0400\"            # optional; also cert_mode, dir_mode
    # password_file = \"p12.pass\" # for pkcs12 and java-truststore";

#[derive(Debug, Args)]
#[command(after_help = format!("{PLAN_HELP}\n\nEXAMPLES:\n  uca plan uca.plan.toml\n  uca plan uca.plan.toml --json"))]
pub struct PlanArgs {
    /// The plan file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca apply uca.plan.toml                      # shows the diff, asks, applies
  uca apply uca.plan.toml --yes                # scripts, cron
  uca apply uca.plan.toml --yes --init --seal  # create the CA, issue everything, destroy the key
  uca apply uca.plan.toml --yes --prune        # also revoke what left the plan

Applying the same plan twice changes nothing the second time. See 'uca plan --help' for the file.")]
pub struct ApplyArgs {
    /// The plan file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Do not ask for confirmation
    #[arg(long)]
    pub yes: bool,
    /// Create the CA from the plan's [ca] section if there is none
    #[arg(long)]
    pub init: bool,
    /// Seal the CA (destroy its key) once everything is issued
    #[arg(long)]
    pub seal: bool,
    /// Revoke the certificates of components removed from the plan
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(
    after_help = "FORMATS (--out is a directory for the first four, a file for the rest):
  pem-dir          cert.pem, key.pem, chain.pem, fullchain.pem, ca.pem
  volume           the same, with --owner UID:GID and the modes asked for, to mount into a container
  haproxy          NAME.pem (certificate, chain, key: what 'crt' wants) and ca.pem (for 'ca-file')
  nginx            fullchain.pem, key.pem, client-ca.pem; prints the ssl_* lines to use them
  pkcs12           PBES2/AES-256 PKCS#12 with the chain, friendly name NAME (keytool, openssl 3)
  java-truststore  PKCS#12 holding the CA as a trusted entry (javax.net.ssl.trustStore); no NAME needed
  k8s-secret       a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) as YAML

EXAMPLES:
  uca export rmq1 --format haproxy --out /etc/haproxy/certs
  uca export web1 --format nginx --out /etc/nginx/tls
  UCA_EXPORT_PASSWORD=changeit uca export app1 --format pkcs12 --out app1.p12
  uca export --format java-truststore --out truststore.p12 --password-file tspass
  uca export rmq1 --format k8s-secret --out rmq1-secret.yaml --namespace messaging
  uca export rmq1 --format volume --out /srv/volumes/rmq1 --owner 999:999 --key-mode 0400

The password for pkcs12 and java-truststore: --password, --password-file, or UCA_EXPORT_PASSWORD."
)]
pub struct ExportArgs {
    /// The issued NAME (not needed for java-truststore)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// pem-dir, volume, haproxy, nginx, pkcs12, java-truststore, k8s-secret
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// Where to write (a directory or a file, see FORMATS)
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// PKCS#12 password (visible in the process list: prefer --password-file or UCA_EXPORT_PASSWORD)
    #[arg(long, value_name = "PASSWORD", conflicts_with = "password_file")]
    pub password: Option<String>,
    /// PKCS#12 password: the first line of FILE
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Owner of every file written, UID:GID (needs root)
    #[arg(long, value_name = "UID:GID")]
    pub owner: Option<String>,
    /// Mode of the private key file
    #[arg(long, value_name = "MODE", default_value = "0600")]
    pub key_mode: String,
    /// Mode of certificate files
    #[arg(long, value_name = "MODE", default_value = "0644")]
    pub cert_mode: String,
    /// Mode of the output directory (applied to a directory uca creates, or with --owner)
    #[arg(long, value_name = "MODE", default_value = "0700")]
    pub dir_mode: String,
    /// k8s-secret: metadata.name [default: NAME-tls]
    #[arg(long, value_name = "NAME")]
    pub k8s_name: Option<String>,
    /// k8s-secret: metadata.namespace
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
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
  uca expiring                                 # everything, colored
  uca expiring --within 30d
  uca expiring --summary --warn 30d --crit 7d  # one line for Nagios / Icinga / cron

EXIT CODES (monitoring-plugins):
  0  OK: everything green
  1  WARNING: something yellow (inside --warn)
  2  CRITICAL: something red (inside --crit, or expired)
  3  UNKNOWN: the CA or its ledger could not be read")]
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
#[command(after_help = "EXAMPLES:
  uca intermediate 'Acme Issuing CA 1' --parent /srv/root-ca --dir /srv/issuing-ca \\
      --permit-dns svc.internal --permit-ip 10.0.0.0/8 --child-passphrase-file issuing.pass
  uca --dir /srv/issuing-ca issue rmq1         # chain.pem now holds the intermediate and the root

--dir names the NEW child directory; the parent is --parent DIR, else $UCA_DIR, else ./pki.
The child's key passphrase: --child-passphrase-file, --same-passphrase (the parent's),
--generate-passphrase [--passphrase-out FILE], a prompt on a terminal, or --no-passphrase.
The child holds ca.crt (the intermediate), ca-chain.pem (intermediate + issuers) and root.crt.")]
pub struct IntermediateArgs {
    /// The intermediate's CN
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The parent CA directory [default: $UCA_DIR, else ./pki]
    #[arg(long, value_name = "DIR")]
    pub parent: Option<PathBuf>,
    /// pathLenConstraint: how many CA levels may sit below it (0: it signs leaves only)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub path_len: u8,
    /// Permit only this DNS domain and its subdomains (repeatable)
    #[arg(long = "permit-dns", value_name = "DOMAIN")]
    pub permit_dns: Vec<String>,
    /// Permit only this IP range (repeatable), e.g. 10.0.0.0/8
    #[arg(long = "permit-ip", value_name = "CIDR")]
    pub permit_ip: Vec<String>,
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
    /// Make a strong random passphrase for the child key
    #[arg(long, conflicts_with = "no_passphrase")]
    pub generate_passphrase: bool,
    /// With --generate-passphrase: write it to FILE (mode 0400)
    #[arg(long, value_name = "FILE", requires = "generate_passphrase")]
    pub passphrase_out: Option<PathBuf>,
    /// Store the child key unencrypted
    #[arg(long)]
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
pub struct PassphraseChangeArgs {
    /// The new passphrase: first line of FILE (else $UCA_NEW_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE", conflicts_with = "generate_passphrase")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Make a strong random new passphrase
    #[arg(long)]
    pub generate_passphrase: bool,
    /// With --generate-passphrase: write it to FILE (mode 0400)
    #[arg(long, value_name = "FILE", requires = "generate_passphrase")]
    pub passphrase_out: Option<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

#[derive(Debug, Args)]
#[command(after_help = "EXAMPLES:
  uca verify pki/issued/rmq1/cert.pem
  uca verify fullchain.pem --crl pki/crl.pem

EXIT CODES: 0 valid, 7 not valid (the reasons are printed), others as for every command.")]
pub struct VerifyArgs {
    /// The certificate (PEM, possibly followed by intermediates, or DER)
    #[arg(value_name = "CERT")]
    pub cert: PathBuf,
    /// Also check this CRL (signature, freshness, and whether it lists the certificate)
    #[arg(long, value_name = "FILE")]
    pub crl: Option<PathBuf>,
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
    /// server, client, both (default, from the config), code-signing, or intermediate (a CA)
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Extra SubjectAltName (repeatable)
    #[arg(long = "san", value_name = "VALUE")]
    pub sans: Vec<String>,
    /// With --profile intermediate: pathLenConstraint
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub path_len: u8,
    /// With --profile intermediate: permit only this DNS domain (repeatable)
    #[arg(long = "permit-dns", value_name = "DOMAIN")]
    pub permit_dns: Vec<String>,
    /// With --profile intermediate: permit only this IP range (repeatable)
    #[arg(long = "permit-ip", value_name = "CIDR")]
    pub permit_ip: Vec<String>,
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

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Add the CA certificate to every trust store found
    Install(TrustArgs),
    /// Remove it again
    Uninstall(TrustArgs),
    /// Show where it is installed
    Status(TrustArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "TARGETS:
  system  Debian/Ubuntu: /usr/local/share/ca-certificates + update-ca-certificates;
          RHEL/Fedora: /etc/pki/ca-trust/source/anchors + update-ca-trust (needs root)
  nss     the NSS databases browsers use (~/.pki/nssdb, Firefox profiles), with certutil
          (Debian: libnss3-tools); --nss-db DIR names one explicitly
  java    a Java keystore with keytool: --java-keystore PATH [--java-storepass P]

--target system|nss|java (repeatable) limits the run to those targets.

Each target reports installed / removed / present / absent / skipped (and why) / failed.
The exit code is 1 when a target failed.

EXAMPLES:
  sudo uca trust install
  uca trust install --java-keystore $JAVA_HOME/lib/security/cacerts --java-storepass changeit
  uca trust status --json")]
pub struct TrustArgs {
    /// A Java keystore to add the CA to
    #[arg(long, value_name = "PATH")]
    pub java_keystore: Option<PathBuf>,
    /// The Java keystore's password (handed to keytool through its environment)
    #[arg(long, value_name = "PASSWORD", default_value = "changeit")]
    pub java_storepass: String,
    /// An NSS database directory (repeatable; default: the ones found under $HOME)
    #[arg(long = "nss-db", value_name = "DIR")]
    pub nss_dbs: Vec<PathBuf>,
    /// Only these targets: system, nss, java (repeatable; default: all)
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
}
