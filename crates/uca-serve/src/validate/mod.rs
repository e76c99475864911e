//! Challenge validation: the only code that reaches the network on a client's behalf.
//!
//! Names are resolved once with the configured resolver; every address is checked against the
//! [`NetPolicy`] and then connected to directly (no second lookup, so no DNS rebinding between
//! check and connect). Each attempt is bounded in time and bytes, and what a target sent is
//! never echoed back to the client.

mod dns01;
mod http01;
mod net;
mod tlsalpn01;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use uca_acme::model::ChallengeType;
use uca_acme::service::ValidationJob;
use uca_acme::{Identifier, Problem, ProblemType};

pub use http01::{body_matches, redirect_target};
pub use net::NetPolicy;
pub use tlsalpn01::check_certificate;

/// How validation behaves.
#[derive(Debug, Clone)]
pub struct ValidationSettings {
    pub net: NetPolicy,
    /// `None`: the system's resolver (`/etc/resolv.conf`, `/etc/hosts`).
    pub resolver: Option<SocketAddr>,
    /// http-01 port: 80 unless a test overrides it (`--insecure-http01-port`).
    pub http01_port: u16,
    /// tls-alpn-01 port: 443 unless a test overrides it (`--insecure-tlsalpn01-port`).
    pub tlsalpn01_port: u16,
    /// The whole of one validation, lookups and connections included.
    pub timeout: Duration,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        ValidationSettings {
            net: NetPolicy::default(),
            resolver: None,
            http01_port: 80,
            tlsalpn01_port: 443,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a validator could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error("the DNS resolver could not be set up: {0}")]
    Resolver(String),
}

/// Runs validation jobs.
pub struct Validator {
    pub settings: ValidationSettings,
    resolver: TokioResolver,
}

impl Validator {
    pub fn new(settings: ValidationSettings) -> Result<Validator, ValidatorError> {
        let provider = TokioRuntimeProvider::default();
        let builder = match settings.resolver {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    provider,
                )
            }
            None => TokioResolver::builder(provider)
                .map_err(|e| ValidatorError::Resolver(e.to_string()))?,
        };
        let mut builder = builder;
        let opts = builder.options_mut();
        // Answers are checked as they are now, not as they were cached minutes ago.
        opts.cache_size = 0;
        // A silent DNS server is reported as a DNS problem well inside the validation timeout.
        opts.timeout = Duration::from_secs(2);
        opts.attempts = 1;
        let resolver = builder
            .build()
            .map_err(|e| ValidatorError::Resolver(e.to_string()))?;
        Ok(Validator { settings, resolver })
    }

    /// Validates one challenge within the configured time.
    pub async fn validate(&self, job: &ValidationJob) -> Result<(), Problem> {
        let work = async {
            match job.kind() {
                ChallengeType::Http01 => http01::validate(self, job).await,
                ChallengeType::Dns01 => dns01::validate(self, job).await,
                ChallengeType::TlsAlpn01 => tlsalpn01::validate(self, job).await,
            }
        };
        match tokio::time::timeout(self.settings.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(Problem::new(
                ProblemType::Connection,
                format!(
                    "validation of {} did not finish within {} s",
                    job.identifier(),
                    self.settings.timeout.as_secs()
                ),
            )),
        }
    }

    /// The addresses to try for an identifier on `port`, after the policy: an IP identifier
    /// is itself; a name is looked up (A and AAAA) once.
    async fn targets(&self, id: &Identifier, port: u16) -> Result<Vec<SocketAddr>, Problem> {
        let ips: Vec<IpAddr> = match id {
            Identifier::Ip(ip) => vec![*ip],
            Identifier::Dns(name) => self.lookup(name).await?,
        };
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for ip in ips {
            let addr = SocketAddr::new(ip, port);
            match self.settings.net.check(addr) {
                Ok(()) => allowed.push(addr),
                Err(why) => refused.push(why),
            }
        }
        if allowed.is_empty() {
            return Err(Problem::new(
                ProblemType::Connection,
                format!(
                    "{id}: no address validation may connect to ({})",
                    refused.join("; ")
                ),
            ));
        }
        Ok(allowed)
    }

    async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, Problem> {
        let fqdn = format!("{name}.");
        match self.resolver.lookup_ip(fqdn.as_str()).await {
            Ok(found) => {
                let ips: Vec<IpAddr> = found.iter().collect();
                if ips.is_empty() {
                    Err(Problem::new(
                        ProblemType::Dns,
                        format!("{name} has no A or AAAA record"),
                    ))
                } else {
                    Ok(ips)
                }
            }
            Err(e) => Err(Problem::new(
                ProblemType::Dns,
                format!("looking up {name} failed: {}", short(&e.to_string())),
            )),
        }
    }
}

/// Our own error text, cut to a line (never anything the target sent).
fn short(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    line.chars().take(200).collect()
}
