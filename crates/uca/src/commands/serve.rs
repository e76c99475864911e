//! `uca serve`

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use time::OffsetDateTime;
use uca_acme::policy::NamePolicy;
use uca_acme::{Acme, AcmeSettings, EabMode};
use uca_ca::EabPolicy;
use uca_pki::constraints::IpNet;
use uca_pki::{Profile, San};
use uca_serve::{
    AppState, CertSource, Issuer, NetPolicy, ServerCert, ValidationSettings, Validator,
};

use crate::cli::serve::ServeArgs;
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::note;
use crate::settings::Settings;

/// Where the server listens when neither `--listen` nor `[serve] listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

fn usage(message: String, hint: &str) -> CliError {
    CliError::usage(message, Some(hint.to_string()))
}

fn parse_socket(value: &str, flag: &str) -> Result<SocketAddr, CliError> {
    value.parse().map_err(|_| {
        usage(
            format!("{flag} '{value}' is not ADDRESS:PORT"),
            "e.g. 127.0.0.1:8443, 0.0.0.0:443 or [::1]:8443",
        )
    })
}

pub fn run(args: &ServeArgs, settings: &Settings) -> Result<(), CliError> {
    // A mistyped flag is said before anything asks for a passphrase or opens the CA.
    let listen_flag = args
        .listen
        .as_deref()
        .map(|l| parse_socket(l, "--listen"))
        .transpose()?;
    let eab_flag = args
        .eab
        .as_deref()
        .map(|e| {
            EabPolicy::parse(e).ok_or_else(|| {
                usage(
                    format!("--eab '{e}' is not a mode"),
                    "use off, optional or required",
                )
            })
        })
        .transpose()?;
    let profile_flag = args
        .profile
        .as_deref()
        .map(|p| {
            p.parse::<Profile>().map_err(|_| {
                usage(
                    format!("--profile '{p}' is not a profile"),
                    "use server, client or both",
                )
            })
        })
        .transpose()?;
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let ca = open_ca(settings)?;
    let cfg = ca.config.clone();
    let listen = match (listen_flag, cfg.serve.listen) {
        (Some(l), _) => l,
        (None, Some(l)) => l,
        (None, None) => parse_socket(DEFAULT_LISTEN, "--listen")?,
    };
    let eab = match (eab_flag, cfg.acme.eab) {
        (Some(e), _) => e,
        (None, Some(e)) => e,
        // Anyone who can reach an issuer should not be able to enroll by default.
        (None, None) if listen.ip().is_loopback() => EabPolicy::Off,
        (None, None) => EabPolicy::Required,
    };
    let profile = match (profile_flag, cfg.acme.profile) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => Profile::Both,
    };
    if profile == Profile::CodeSigning {
        return Err(usage(
            "ACME certificates are for TLS; the code-signing profile is not offered".into(),
            "use --profile server, client or both",
        ));
    }
    if !cfg.acme.profiles.is_empty() && !cfg.acme.profiles.contains(&profile) {
        return Err(usage(
            format!("the default profile '{profile}' is not among [acme] profiles"),
            "add it to [acme] profiles in uca.toml, or pick another with --profile",
        ));
    }
    let defaults = AcmeSettings::default();
    let max_days = args
        .max_days
        .or(cfg.acme.max_days)
        .unwrap_or(defaults.max_days);
    let days = args
        .days
        .or(cfg.acme.days)
        .unwrap_or(defaults.default_days.min(max_days));
    if days == 0 || days > max_days {
        return Err(usage(
            format!("--days {days} must be between 1 and --max-days ({max_days})"),
            "lower --days or raise --max-days",
        ));
    }
    let mut names = Vec::new();
    for n in &args.server_names {
        match San::parse(n) {
            Ok(san @ (San::Dns(_) | San::Ip(_))) => names.push(san),
            _ => {
                return Err(usage(
                    format!("--server-name '{n}' is not a DNS name or IP address"),
                    "e.g. --server-name ca.internal --server-name 10.0.0.5",
                ));
            }
        }
    }
    if names.is_empty() {
        names = cfg.serve.server_names.clone();
    }
    let defaulted = names.is_empty();
    if defaulted {
        names = default_server_names(listen.ip());
    }
    let mut allow = cfg.serve.allow_validation_to.clone();
    for c in &args.allow_validation_to {
        allow.push(IpNet::parse(c).map_err(|e| {
            usage(
                format!("--allow-validation-to: {e}"),
                "e.g. --allow-validation-to 127.0.0.0/8",
            )
        })?);
    }
    let resolver = match (&args.resolver, cfg.serve.resolver) {
        (Some(r), _) => Some(parse_socket(r, "--resolver")?),
        (None, r) => r,
    };
    let cert_source = match (
        &args.tls_cert,
        &args.tls_key,
        &cfg.serve.tls_cert,
        &cfg.serve.tls_key,
    ) {
        (Some(c), Some(k), _, _) | (None, None, Some(c), Some(k)) => CertSource::Files {
            cert: c.clone(),
            key: k.clone(),
        },
        _ => CertSource::ThisCa {
            names: names.clone(),
            key_type: cfg.key,
        },
    };

    let signer = pass.unlock(&ca)?;
    if let Some(nc) = signer.constraints() {
        let outside: Vec<String> = names
            .iter()
            .filter(|n| nc.check(n).is_err())
            .map(San::value)
            .collect();
        if defaulted {
            // An intermediate constrained to, say, svc.internal cannot certify localhost.
            names.retain(|n| nc.check(n).is_ok());
        }
        if names.is_empty() || (!defaulted && !outside.is_empty()) {
            return Err(usage(
                format!(
                    "the server's certificate would name {}, outside this CA's name constraints",
                    outside.join(", ")
                ),
                "give --server-name with a name or address the CA may certify (e.g. ca.svc.internal), or --tls-cert/--tls-key",
            ));
        }
    }
    let cert_source = match cert_source {
        CertSource::ThisCa { key_type, .. } => CertSource::ThisCa {
            names: names.clone(),
            key_type,
        },
        files => files,
    };
    let (store, more_connections) =
        uca_serve::acme_store::open_for_server(&ca.paths.dir, &ca.ledger_location)
            .map_err(store_error)?;
    let acme_settings = AcmeSettings {
        eab: match eab {
            EabPolicy::Off => EabMode::Off,
            EabPolicy::Optional => EabMode::Optional,
            EabPolicy::Required => EabMode::Required,
        },
        policy: NamePolicy {
            allow: cfg.acme.allow.clone(),
            deny: cfg.acme.deny.clone(),
        },
        constraints: signer.constraints().cloned(),
        ca_key_id: ca.cert_info().subject_key_id.clone(),
        profiles: offered_profiles(profile, &cfg.acme.profiles, days),
        limits: {
            let d = uca_acme::service::RateLimits::default();
            uca_acme::service::RateLimits {
                new_accounts_per_ip: cfg
                    .acme
                    .new_accounts_per_ip
                    .unwrap_or(d.new_accounts_per_ip),
                new_orders_per_account: cfg
                    .acme
                    .new_orders_per_account
                    .unwrap_or(d.new_orders_per_account),
                failed_validations_per_identifier: cfg
                    .acme
                    .failed_validations_per_identifier
                    .unwrap_or(d.failed_validations_per_identifier),
            }
        },
        default_days: days,
        max_days,
        node: uca_ca::ledger::node_name(&ca.paths),
        abandoned_after: cfg
            .acme
            .finalize_timeout
            .map_or(uca_acme::service::ABANDONED_AFTER_SECS, |t| {
                t.as_time().whole_seconds().max(1)
            }),
        ..defaults
    };
    let acme = Acme::with_connections(acme_settings, store, more_connections)
        .map_err(|e| CliError::failure(format!("cannot start the ACME server: {e}"), None))?;
    let issuer = Issuer::new(&ca, signer, profile);
    // From here on the CA lock is taken only for one write at a time.
    drop(ca);
    // Repair must not guess: if the ledger cannot say which orders got their certificate,
    // the server does not start.
    let (finished, reopened) = acme
        .repair(OffsetDateTime::now_utc().unix_timestamp(), |orders| {
            issuer.issued_of(orders, None).map_err(|e| e.to_string())
        })
        .map_err(|p| CliError::failure(format!("repairing ACME orders failed: {p}"), None))?;
    if finished + reopened > 0 {
        note(format!(
            "repaired orders interrupted by a crash: {finished} completed from the ledger, {reopened} ready to finalize again"
        ));
    }

    let disk = uca_serve::DiskPool::new(uca_serve::disk_pool::DISK_THREADS)
        .map_err(|e| CliError::failure(format!("cannot start the disk threads: {e}"), None))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(uca_serve::acme_store::request_threads(acme.is_shared()))
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}"), None))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            CliError::failure(
                format!("cannot listen on {listen}: {e}"),
                Some("pick a free port with --listen, or stop what holds this one".into()),
            )
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("cannot read the bound address: {e}"), None))?;
        let validator = Validator::new(ValidationSettings {
            net: NetPolicy {
                allow,
                deny: cfg.serve.deny_validation_to.clone(),
                own: vec![bound],
            },
            resolver,
            http01_port: args.insecure_http01_port.unwrap_or(80),
            tlsalpn01_port: args.insecure_tlsalpn01_port.unwrap_or(443),
            ..ValidationSettings::default()
        })
        .map_err(|e| CliError::failure(e.to_string(), None))?;
        let now = OffsetDateTime::now_utc();
        let cert = ServerCert::obtain(&cert_source, &issuer, now).map_err(|e| {
            let hint = match &e {
                uca_serve::tls::TlsError::NameTaken { .. } => {
                    "give the server a name of its own first (--server-name ca.internal ...), or serve --tls-cert/--tls-key"
                }
                _ => "check --tls-cert/--tls-key, or drop them to let the CA issue the server's certificate",
            };
            CliError::failure(e.to_string(), Some(hint.into()))
        })?;
        let host = match names.first() {
            Some(San::Dns(n)) => n.clone(),
            _ => match bound.ip() {
                IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            },
        };
        let base = format!("https://{host}:{}", bound.port());
        let state = Arc::new(AppState {
            acme,
            issuer,
            validator,
            crl: Default::default(),
            default_base: base.clone(),
            metrics: Default::default(),
            disk,
        });
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.crl.refresh(&st.issuer, true, OffsetDateTime::now_utc()))
            .await
            .map_err(|e| CliError::failure(e.to_string(), None))??;
        note(format!("uca serve: listening on {bound}"));
        note(format!("ACME directory: {base}/acme/directory"));
        let paths = uca_ca::CaPaths::new(state.issuer.dir());
        let anchor = if paths.root_cert().exists() { paths.root_cert() } else { paths.ca_cert() };
        note(format!(
            "trust anchor: {} (the chain is at {base}/ca.crt); CRL at {base}/crl",
            anchor.display()
        ));
        note(format!(
            "external account binding: {}; certificates: profile {}, {days} days (at most {max_days})",
            state.acme.settings.eab.as_str(),
            profile
        ));
        if settings.out.json {
            // One document, at start, for scripts that launch the server.
            settings.out.json(&serde_json::json!({
                "listen": bound.to_string(),
                "directory": format!("{base}/acme/directory"),
                "trust_anchor": anchor.display().to_string(),
                "chain": format!("{base}/ca.crt"),
                "crl": format!("{base}/crl"),
                "eab": state.acme.settings.eab.as_str(),
                "profile": profile.as_str(),
                "days": days,
                "max_days": max_days,
            }))?;
        }
        // One write per line: `eprintln!` writes the line and its newline separately to the
        // unbuffered stderr, two system calls for every request.
        let log: Arc<dyn Fn(String) + Send + Sync> = Arc::new(|mut line| {
            use std::io::Write;
            line.push('\n');
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        });
        uca_serve::serve(listener, state, Arc::new(cert), cert_source, log)
            .await
            .map_err(|e| CliError::failure(e.to_string(), None))
    })
}

/// The profiles the directory offers (draft-aaron-acme-profiles), the default first.
fn offered_profiles(default: Profile, configured: &[Profile], days: u32) -> Vec<(String, String)> {
    let mut list = vec![default];
    let all = [Profile::Both, Profile::Server, Profile::Client];
    let pool: &[Profile] = if configured.is_empty() {
        &all
    } else {
        configured
    };
    for p in pool {
        if !list.contains(p) {
            list.push(*p);
        }
    }
    list.into_iter()
        .map(|p| {
            let what = match p {
                Profile::Server => "TLS server (serverAuth)",
                Profile::Client => "TLS client (clientAuth)",
                _ => "mutual TLS, server and client (serverAuth + clientAuth)",
            };
            (
                p.as_str().to_string(),
                format!("{what}, {days} days unless the order asks for less"),
            )
        })
        .collect()
}

/// The listen address (unless it is a wildcard) and `localhost`.
fn default_server_names(ip: IpAddr) -> Vec<San> {
    let mut names = Vec::new();
    if !ip.is_unspecified() {
        names.push(San::Ip(ip));
    }
    names.push(San::Dns("localhost".into()));
    names
}

pub(crate) fn store_error(e: uca_acme::store::StoreError) -> CliError {
    CliError::failure(
        format!("ACME store: {e}"),
        Some("acme.sqlite lives in the CA directory (with a PostgreSQL ledger: the uca_acme schema of its database); check permissions, free space, or that the database is reachable".into()),
    )
}
