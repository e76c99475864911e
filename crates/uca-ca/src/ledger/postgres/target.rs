//! Where a PostgreSQL ledger lives: the `ledger = "postgres://…"` setting, checked before any
//! connection is tried, and shown everywhere with its password left out.
//!
//! The URL is libpq's, with the TLS words libpq operators already write: `sslmode=verify-full`
//! with `sslrootcert=FILE` (the server's certificate must chain to FILE and name the host), or
//! `sslmode=disable`. libpq's weaker modes (`prefer`, `require`, `verify-ca`) would accept a
//! server nobody checked, so they are refused with the fix in the message. Without `sslmode`, a
//! loopback or Unix-socket host gets plain connections and any other host must say which.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use postgres::config::{Host, SslMode};

use crate::ledger::LedgerError;

/// A checked PostgreSQL ledger location.
#[derive(Clone)]
pub struct PgTarget {
    pub(crate) config: postgres::Config,
    pub(crate) tls: PgTls,
    shown: String,
}

/// How the connection is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    /// Plain TCP or a Unix socket.
    Disable,
    /// TLS; the server's certificate must chain to the CA certificates in `root` and name the
    /// host connected to.
    VerifyFull { root: PathBuf },
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// True for a setting that names a PostgreSQL ledger (and not the embedded one).
pub fn is_postgres_url(setting: &str) -> bool {
    setting.starts_with("postgres://") || setting.starts_with("postgresql://")
}

impl PgTarget {
    /// Reads a `postgres://` URL. `password` (from the environment) is used when the URL has
    /// none.
    pub fn parse(url: &str, password: Option<&str>) -> Result<PgTarget, LedgerError> {
        let shown = redact(url);
        let bad = |reason: String| LedgerError::BadSetting {
            setting: shown.clone(),
            reason,
        };
        if !is_postgres_url(url) {
            return Err(bad("a PostgreSQL ledger is a postgres:// URL".into()));
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        let mut sslmode = None;
        let mut root = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(k).as_deref() {
                Some("sslmode") => sslmode = Some(percent_decode(v).unwrap_or_default()),
                Some("sslrootcert") => {
                    root =
                        Some(PathBuf::from(percent_decode(v).ok_or_else(|| {
                            bad("sslrootcert is not valid UTF-8".into())
                        })?))
                }
                Some("sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "passfile") => {
                    return Err(bad(format!(
                        "'{k}' is not supported: authenticate with a password (in the URL or PGPASSWORD)"
                    )));
                }
                _ => kept.push(pair),
            }
        }
        let plain = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config = postgres::Config::from_str(&plain).map_err(|e| {
            // The client's own text is "invalid configuration"; the reason is its source.
            match std::error::Error::source(&e) {
                Some(why) => bad(why.to_string()),
                None => bad(e.to_string()),
            }
        })?;
        if config.get_hosts().is_empty() {
            return Err(bad("the URL names no host".into()));
        }
        if config.get_user().is_none() {
            return Err(bad("the URL names no user (postgres://USER@HOST/DB)".into()));
        }
        if config.get_dbname().is_none() {
            return Err(bad(
                "the URL names no database (postgres://USER@HOST/DB)".into()
            ));
        }
        let local = config.get_hosts().iter().all(|h| match h {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_matches(|c| c == '[' || c == ']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        });
        let tls = match (sslmode.as_deref(), root) {
            (Some("disable"), None) => PgTls::Disable,
            (Some("disable"), Some(_)) => {
                return Err(bad(
                    "sslrootcert goes with sslmode=verify-full, not disable".into(),
                ));
            }
            (Some("verify-full") | None, Some(root)) => PgTls::VerifyFull { root },
            (Some("verify-full"), None) => {
                return Err(bad(
                    "sslmode=verify-full needs sslrootcert=FILE (the CA certificate that signed the server's)".into(),
                ));
            }
            (None, None) if local => PgTls::Disable,
            (None, None) => {
                return Err(bad(
                    "say how to reach a remote database: sslmode=verify-full&sslrootcert=FILE, or sslmode=disable on a network you trust".into(),
                ));
            }
            (Some(other), _) => {
                return Err(bad(format!(
                    "sslmode={other} would trust a server nobody checked: use sslmode=verify-full&sslrootcert=FILE, or sslmode=disable"
                )));
            }
        };
        config.ssl_mode(match tls {
            PgTls::Disable => SslMode::Disable,
            PgTls::VerifyFull { .. } => SslMode::Require,
        });
        if config.get_password().is_none()
            && let Some(p) = password
        {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("uca");
        }
        config.keepalives_idle(std::time::Duration::from_secs(30));
        Ok(PgTarget { config, tls, shown })
    }

    /// A connection to the database, TLS as the URL asks (no schema check: see
    /// [`super::migrate`]).
    pub fn connect(&self) -> Result<postgres::Client, LedgerError> {
        let connected = match self.tls() {
            PgTls::Disable => self.config.connect(postgres::NoTls),
            PgTls::VerifyFull { root } => self
                .config
                .connect(super::tls::MakeRustls::from_root_file(root)?),
        };
        connected.map_err(|source| LedgerError::Connect {
            target: self.to_string(),
            source,
        })
    }

    pub fn tls(&self) -> &PgTls {
        &self.tls
    }
}

/// The URL with its password replaced by `***`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map(|(u, _)| u).unwrap_or(userinfo);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

/// Whether the URL carries a password (`user:password@host`).
pub(crate) fn has_password(url: &str) -> bool {
    redact(url) != url
}

/// `%XX` escapes of a URL query value (`+` stays itself, as libpq reads it).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> String {
        match PgTarget::parse(url, None) {
            Err(LedgerError::BadSetting { reason, .. }) => reason,
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn loopback_and_sockets_default_to_plain_and_remote_hosts_must_choose() {
        let t = PgTarget::parse("postgres://uca@127.0.0.1:5432/uca", None).unwrap();
        assert_eq!(t.tls(), &PgTls::Disable);
        let t = PgTarget::parse("postgres://uca@%2Frun%2Fpostgresql/uca", None).unwrap();
        assert_eq!(t.tls(), &PgTls::Disable);
        assert!(reason("postgres://uca@db.internal/uca").contains("sslmode=verify-full"));
        let t = PgTarget::parse(
            "postgres://uca@db.internal/uca?sslrootcert=%2Fetc%2Fpg%20ca.pem",
            None,
        )
        .unwrap();
        assert_eq!(
            t.tls(),
            &PgTls::VerifyFull {
                root: PathBuf::from("/etc/pg ca.pem")
            }
        );
    }

    #[test]
    fn weak_tls_modes_and_client_certificates_are_refused_with_the_fix() {
        for mode in ["prefer", "require", "verify-ca", "allow"] {
            let r = reason(&format!("postgres://u@db/x?sslmode={mode}"));
            assert!(r.contains("verify-full"), "{mode}: {r}");
        }
        assert!(reason("postgres://u@db/x?sslmode=verify-full").contains("sslrootcert"));
        assert!(reason("postgres://u@db/x?sslcert=c.pem&sslmode=disable").contains("sslcert"));
        assert!(reason("mysql://u@db/x").contains("postgres://"));
        assert!(reason("postgres://u@127.0.0.1/x?bogus=1").contains("bogus"));
        assert!(reason("postgres://127.0.0.1/x").contains("no user"));
        assert!(reason("postgres://u@127.0.0.1").contains("no database"));
    }

    #[test]
    fn the_password_never_shows_and_the_environment_fills_a_missing_one() {
        let t = PgTarget::parse("postgres://uca:s3cret@127.0.0.1/uca", Some("other")).unwrap();
        assert_eq!(t.to_string(), "postgres://uca:***@127.0.0.1/uca");
        assert_eq!(t.config.get_password(), Some(&b"s3cret"[..]));
        let t = PgTarget::parse("postgres://uca@127.0.0.1/uca", Some("fromenv")).unwrap();
        assert_eq!(t.config.get_password(), Some(&b"fromenv"[..]));
        assert!(has_password("postgres://uca:s3cret@127.0.0.1/uca"));
        assert!(!has_password(
            "postgres://uca@127.0.0.1/uca?password_hint=a:b@c"
        ));
        let e = PgTarget::parse("postgres://uca:s3cret@db/uca?sslmode=prefer", None).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
