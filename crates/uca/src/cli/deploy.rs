//! Putting certificates where services read them, in `Command` order: export, trust, plan, apply.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ca::PassphraseArgs;

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
    #[command(flatten)]
    pub files: FileModeArgs,
    /// k8s-secret: metadata.name [default: NAME-tls]
    #[arg(long, value_name = "NAME")]
    pub k8s_name: Option<String>,
    /// k8s-secret: metadata.namespace
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// Owner and modes of the files an export writes (a plan file says the same per output, with
/// `owner`, `key_mode`, `cert_mode` and `dir_mode`).
#[derive(Debug, Args)]
pub struct FileModeArgs {
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
