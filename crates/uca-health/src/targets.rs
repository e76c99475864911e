//! The targets file: what to probe, how, and what counts as OK. Parsed once, completely, into
//! typed values with `FILE:LINE:COLUMN` errors, so a watcher never starts half-configured.
//!
//! ```toml
//! [defaults]                       # every key of a target except name and url
//! ok = "99% within 300ms"
//! warn = "95% within 1s"
//! window = "10m"
//! interval = "10s"
//! client_cert = "prober"           # a certificate this CA issued, or a PEM path
//!
//! [[target]]
//! name = "rmq-mgmt"
//! url = "https://rmq1.internal:15671/api/health/checks/alarms"
//! expect_status = [200]
//! body = "\"status\":\"ok\""
//!
//! [watch]
//! on_change = "logger -t uca-health"
//! webhook = "http://127.0.0.1:9000/hooks/health"
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::HealthError;
use crate::spec::Threshold;
use uca_ca::layout::{CertAndKey, CertRefError};
use uca_ca::toml_file::{ConfigFile, TomlFile};
use uca_pki::Span;

/// How a target is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Http,
    Https,
    /// A plain TCP connect.
    Tcp,
    /// A TLS handshake, no HTTP.
    Tls,
}

impl Kind {
    pub fn uses_tls(self) -> bool {
        matches!(self, Kind::Https | Kind::Tls)
    }
}

/// What the body must contain.
#[derive(Debug, Clone)]
pub enum BodyMatch {
    Substring(String),
    Regex(regex::Regex),
}

impl BodyMatch {
    pub fn matches(&self, body: &str) -> bool {
        match self {
            BodyMatch::Substring(s) => body.contains(s.as_str()),
            BodyMatch::Regex(r) => r.is_match(body),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            BodyMatch::Substring(s) => format!("'{s}'"),
            BodyMatch::Regex(r) => format!("/{}/", r.as_str()),
        }
    }
}

/// Where the trust anchors for a TLS target come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// This uca CA's certificate (and chain).
    ThisCa(PathBuf),
    File(PathBuf),
}

/// A client certificate and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// One endpoint, fully resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub url: String,
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// Path and query for HTTP(S).
    pub path: String,
    pub method: String,
    /// Accepted status codes; empty means 200–399.
    pub expect_status: Vec<u16>,
    pub body: Option<BodyMatch>,
    pub timeout: Span,
    pub interval: Span,
    pub ca: Option<CaSource>,
    pub client_cert: Option<ClientCert>,
    pub server_name: Option<String>,
    pub ok: Threshold,
    pub warn: Threshold,
    pub window: Span,
    pub cert_warn: Span,
    pub cert_crit: Span,
    pub min_samples: u32,
    pub horizon: Span,
}

/// What to do when a color changes.
#[derive(Debug, Clone, Default)]
pub struct WatchActions {
    pub on_change: Option<String>,
    pub webhook: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Targets {
    pub targets: Vec<Target>,
    pub actions: WatchActions,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawTarget>,
    #[serde(default)]
    target: Vec<Spanned<RawTarget>>,
    watch: Option<RawWatch>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    on_change: Option<String>,
    webhook: Option<Spanned<String>>,
}

/// One `[[target]]` table; `[defaults]` uses the same keys except `name` and `url`.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    expect_status: Option<Spanned<Vec<i64>>>,
    body: Option<Spanned<String>>,
    body_regex: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    ca: Option<Spanned<String>>,
    client_cert: Option<Spanned<String>>,
    client_key: Option<Spanned<String>>,
    server_name: Option<Spanned<String>>,
    ok: Option<Spanned<String>>,
    warn: Option<Spanned<String>>,
    window: Option<Spanned<String>>,
    cert_warn: Option<Spanned<String>>,
    cert_crit: Option<Spanned<String>>,
    min_samples: Option<Spanned<i64>>,
    horizon: Option<Spanned<String>>,
}

/// Defaults for keys neither the target nor `[defaults]` sets.
pub mod defaults {
    use crate::spec::Threshold;
    use uca_pki::Span;

    pub const OK: Threshold = Threshold {
        share: 0.99,
        within: Span::millis(300),
    };
    pub const WARN: Threshold = Threshold {
        share: 0.95,
        within: Span::seconds(1),
    };
    pub const WINDOW: Span = Span::minutes(10);
    pub const INTERVAL: Span = Span::seconds(10);
    pub const TIMEOUT: Span = Span::seconds(5);
    pub const CERT_WARN: Span = uca_pki::color::EXPIRY_WARN;
    pub const CERT_CRIT: Span = uca_pki::color::EXPIRY_CRIT;
    pub const HORIZON: Span = Span::hours(24);
    /// Samples the window must hold before it gives a color (Unknown before).
    pub const MIN_SAMPLES: u32 = 10;
}

/// Parses a URL of the four supported schemes into (kind, host, port, path).
pub fn parse_url(url: &str) -> Result<(Kind, String, u16, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("'{url}' is not a URL (https://, http://, tcp:// or tls://)"))?;
    let (kind, default_port) = match scheme {
        "https" => (Kind::Https, Some(443)),
        "http" => (Kind::Http, Some(80)),
        "tcp" => (Kind::Tcp, None),
        "tls" => (Kind::Tls, None),
        other => {
            return Err(format!(
                "unsupported scheme '{other}' (https, http, tcp or tls)"
            ));
        }
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if kind == Kind::Http || kind == Kind::Https => (&rest[..i], rest[i..].to_string()),
        Some(_) => return Err(format!("'{url}': {scheme}:// takes host:port only")),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("'{url}': unclosed '[' in the host"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("'{url}' has no host"));
    }
    let port = match (port, default_port) {
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{url}': '{p}' is not a port"))?,
        (None, Some(d)) => d,
        (None, None) => return Err(format!("'{url}': {scheme}:// needs a port (host:port)")),
    };
    Ok((kind, host, port, path))
}

/// Resolves a client certificate given as a path or as the NAME of a certificate the CA at
/// `ca_dir` issued.
pub fn resolve_client_cert(
    value: &str,
    key: Option<&str>,
    base: &Path,
    ca_dir: Option<&Path>,
) -> Result<ClientCert, String> {
    match CertAndKey::resolve(value, key.map(Path::new), base, ca_dir) {
        Ok(found) => {
            if found.issued.is_none() {
                std::fs::File::open(&found.key)
                    .map_err(|e| format!("cannot read {}: {e}", found.key.display()))?;
            }
            Ok(ClientCert {
                // A NAME presents its whole chain, as a server would.
                cert: found
                    .issued
                    .map(|i| i.fullchain)
                    .unwrap_or(found.cert),
                key: found.key,
            })
        }
        Err(CertRefError::KeyRequired { .. }) => Err(format!(
            "client_cert '{value}' is a file: name its key with client_key"
        )),
        Err(CertRefError::Unknown { .. }) => Err(format!(
            "client certificate '{value}' is neither a file nor a certificate this CA issued (uca issue {value} --profile client)"
        )),
    }
}

struct Ctx<'a> {
    file: TomlFile<'a>,
}

impl Ctx<'_> {
    fn at(&self, offset: usize, message: impl Into<String>) -> HealthError {
        HealthError::from(self.file.error_at(offset, message))
    }

    fn parse<T: std::str::FromStr<Err: std::fmt::Display>>(
        &self,
        key: &str,
        v: Option<&Spanned<String>>,
        fallback: T,
    ) -> Result<T, HealthError> {
        match v {
            Some(s) => s
                .get_ref()
                .parse()
                .map_err(|e| self.at(s.span().start, format!("{key}: {e}"))),
            None => Ok(fallback),
        }
    }

    /// A certificate threshold: a bare number counts days, as `uca expiring` takes it.
    fn days_span(
        &self,
        key: &str,
        v: Option<&Spanned<String>>,
        fallback: Span,
    ) -> Result<Span, HealthError> {
        match v {
            Some(s) => Span::parse(s.get_ref(), uca_pki::Bare::Days)
                .map_err(|e| self.at(s.span().start, format!("{key}: {e}"))),
            None => Ok(fallback),
        }
    }
}

macro_rules! merged {
    ($t:expr, $d:expr, $($f:ident),*) => {
        RawTarget { $($f: $t.$f.clone().or_else(|| $d.$f.clone()),)* }
    };
}

impl Targets {
    pub fn load(path: &Path, ca_dir: Option<&Path>) -> Result<Targets, HealthError> {
        let text = std::fs::read_to_string(path).map_err(|e| HealthError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Targets::parse(&text, path, ca_dir)
    }

    /// `ca_dir` is this uca CA, for the default CA bundle and client certificates by NAME.
    pub fn parse(text: &str, path: &Path, ca_dir: Option<&Path>) -> Result<Targets, HealthError> {
        let cx = Ctx {
            file: TomlFile::new(ConfigFile::Targets, path, text),
        };
        let raw: RawFile = cx.file.decode()?;
        let base = path.parent().unwrap_or(Path::new("."));
        let defaults = raw.defaults.unwrap_or_default();
        for (key, v) in [("name", &defaults.name), ("url", &defaults.url)] {
            if let Some(v) = v {
                return Err(cx.at(
                    v.span().start,
                    format!("[defaults] cannot set {key}; it belongs to each [[target]]"),
                ));
            }
        }
        if raw.target.is_empty() {
            return Err(cx.at(
                text.len(),
                "no [[target]] tables: add at least one endpoint",
            ));
        }
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        for spanned in &raw.target {
            let t0 = spanned.get_ref();
            let t = merged!(
                t0,
                defaults,
                name,
                url,
                method,
                expect_status,
                body,
                body_regex,
                timeout,
                interval,
                ca,
                client_cert,
                client_key,
                server_name,
                ok,
                warn,
                window,
                cert_warn,
                cert_crit,
                min_samples,
                horizon
            );
            let table_at = spanned.span().start;
            let name = t
                .name
                .as_ref()
                .ok_or_else(|| cx.at(table_at, "this [[target]] has no name"))?;
            let n = name.get_ref();
            if n.is_empty()
                || n.len() > 100
                || n.chars().any(|c| c.is_control() || c == '"' || c == '\\')
            {
                return Err(cx.at(name.span().start, format!("target name '{n}' must be 1-100 characters without quotes, backslashes or control characters")));
            }
            if !seen.insert(n.clone()) {
                return Err(cx.at(name.span().start, format!("duplicate target name '{n}'")));
            }
            let url = t
                .url
                .as_ref()
                .ok_or_else(|| cx.at(table_at, format!("target '{n}' has no url")))?;
            let (kind, host, port, upath) =
                parse_url(url.get_ref()).map_err(|m| cx.at(url.span().start, m))?;
            let method = t
                .method
                .as_ref()
                .map(|m| m.get_ref().to_ascii_uppercase())
                .unwrap_or_else(|| "GET".into());
            if let Some(m) = &t.method
                && !["GET", "HEAD", "POST", "OPTIONS"].contains(&method.as_str())
            {
                return Err(cx.at(
                    m.span().start,
                    format!(
                        "method '{}' is not one of GET, HEAD, POST, OPTIONS",
                        m.get_ref()
                    ),
                ));
            }
            let mut expect_status = Vec::new();
            if let Some(codes) = &t.expect_status {
                for c in codes.get_ref() {
                    let c = u16::try_from(*c)
                        .ok()
                        .filter(|c| (100..=599).contains(c))
                        .ok_or_else(|| {
                            cx.at(
                                codes.span().start,
                                format!("expect_status: {c} is not an HTTP status code"),
                            )
                        })?;
                    expect_status.push(c);
                }
            }
            let body = match (&t.body, &t.body_regex) {
                (Some(b), Some(_)) => {
                    return Err(cx.at(b.span().start, "set body or body_regex, not both"));
                }
                (Some(b), None) => Some(BodyMatch::Substring(b.get_ref().clone())),
                (None, Some(r)) => Some(BodyMatch::Regex(
                    regex::Regex::new(r.get_ref())
                        .map_err(|e| cx.at(r.span().start, format!("body_regex: {e}")))?,
                )),
                (None, None) => None,
            };
            if body.is_some() && !matches!(kind, Kind::Http | Kind::Https) {
                return Err(cx.at(
                    url.span().start,
                    "body matching needs an http:// or https:// url",
                ));
            }
            let ok: Threshold = cx.parse("ok", t.ok.as_ref(), defaults::OK)?;
            let warn: Threshold = cx.parse("warn", t.warn.as_ref(), defaults::WARN)?;
            if warn.share > ok.share || warn.within < ok.within {
                let at = t
                    .warn
                    .as_ref()
                    .or(t.ok.as_ref())
                    .map(|s| s.span().start)
                    .unwrap_or(table_at);
                return Err(cx.at(at, format!("warn ({warn}) must be looser than ok ({ok}): a lower or equal share within a longer or equal time")));
            }
            let cert_warn: Span =
                cx.days_span("cert_warn", t.cert_warn.as_ref(), defaults::CERT_WARN)?;
            let cert_crit: Span =
                cx.days_span("cert_crit", t.cert_crit.as_ref(), defaults::CERT_CRIT)?;
            if cert_crit > cert_warn {
                let at = t
                    .cert_crit
                    .as_ref()
                    .map(|s| s.span().start)
                    .unwrap_or(table_at);
                return Err(cx.at(at, "cert_crit must not be longer than cert_warn"));
            }
            let interval: Span = cx.parse("interval", t.interval.as_ref(), defaults::INTERVAL)?;
            if interval < Span::millis(100) {
                let at = t
                    .interval
                    .as_ref()
                    .map(|s| s.span().start)
                    .unwrap_or(table_at);
                return Err(cx.at(at, "interval must be at least 100ms"));
            }
            let timeout: Span = cx.parse("timeout", t.timeout.as_ref(), defaults::TIMEOUT)?;
            if timeout.is_zero() {
                let at = t
                    .timeout
                    .as_ref()
                    .map(|s| s.span().start)
                    .unwrap_or(table_at);
                return Err(cx.at(at, "timeout must be more than 0"));
            }
            let window: Span = cx.parse("window", t.window.as_ref(), defaults::WINDOW)?;
            if window < interval {
                let at = t
                    .window
                    .as_ref()
                    .map(|s| s.span().start)
                    .unwrap_or(table_at);
                return Err(cx.at(
                    at,
                    format!("window ({window}) is shorter than the probe interval ({interval})"),
                ));
            }
            let horizon: Span = cx.parse("horizon", t.horizon.as_ref(), defaults::HORIZON)?;
            let min_samples = match &t.min_samples {
                Some(m) => u32::try_from(*m.get_ref())
                    .ok()
                    .filter(|m| *m >= 1)
                    .ok_or_else(|| {
                        cx.at(m.span().start, "min_samples must be a positive number")
                    })?,
                None => defaults::MIN_SAMPLES,
            };
            let fits = (window.as_duration().as_millis() / interval.as_duration().as_millis().max(1)) as u32;
            if min_samples > fits.max(1) {
                let at = t
                    .min_samples
                    .as_ref()
                    .map(|s| s.span().start)
                    .or(t.window.as_ref().map(|s| s.span().start))
                    .unwrap_or(table_at);
                return Err(cx.at(at, format!("min_samples ({min_samples}) can never be reached: a {window} window holds at most {fits} probes at one per {interval}")));
            }
            let ca = if kind.uses_tls() {
                match &t.ca {
                    Some(c) => {
                        let p = base.join(c.get_ref());
                        std::fs::File::open(&p).map_err(|e| {
                            cx.at(
                                c.span().start,
                                format!("ca: cannot read {}: {e}", p.display()),
                            )
                        })?;
                        Some(CaSource::File(p))
                    }
                    None => ca_dir
                        .filter(|d| uca_ca::CaPaths::is_ca(d))
                        .map(|d| CaSource::ThisCa(uca_ca::CaPaths::new(d).ca_cert())),
                }
            } else {
                None
            };
            let client_cert = match &t.client_cert {
                Some(c) if kind.uses_tls() => Some(
                    resolve_client_cert(
                        c.get_ref(),
                        t.client_key.as_ref().map(|k| k.get_ref().as_str()),
                        base,
                        ca_dir,
                    )
                    .map_err(|m| cx.at(c.span().start, m))?,
                ),
                _ => None,
            };
            targets.push(Target {
                name: n.clone(),
                url: url.get_ref().clone(),
                kind,
                host,
                port,
                path: upath,
                method,
                expect_status,
                body,
                timeout,
                interval,
                ca,
                client_cert,
                server_name: t.server_name.as_ref().map(|s| s.get_ref().clone()),
                ok,
                warn,
                window,
                cert_warn,
                cert_crit,
                min_samples,
                horizon,
            });
        }
        let watch = raw.watch.unwrap_or_default();
        if let Some(w) = &watch.webhook {
            let (kind, ..) = parse_url(w.get_ref())
                .map_err(|m| cx.at(w.span().start, format!("webhook: {m}")))?;
            if kind != Kind::Http {
                return Err(cx.at(
                    w.span().start,
                    "webhook: needs an http:// url (a local relay for anything else)",
                ));
            }
        }
        Ok(Targets {
            targets,
            actions: WatchActions {
                on_change: watch.on_change,
                webhook: watch.webhook.map(Spanned::into_inner),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Targets, String> {
        Targets::parse(text, Path::new("t.toml"), None).map_err(|e| e.to_string())
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("https://a.b:8443/x?y").unwrap(),
            (Kind::Https, "a.b".into(), 8443, "/x?y".into())
        );
        assert_eq!(
            parse_url("http://[::1]/").unwrap(),
            (Kind::Http, "::1".into(), 80, "/".into())
        );
        assert_eq!(parse_url("tcp://db:5432").unwrap().2, 5432);
        assert!(parse_url("tcp://db").is_err());
        assert!(parse_url("ftp://x").is_err());
    }

    #[test]
    fn located_errors() {
        let e = parse("[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\nok = \"99 within\"\n")
            .unwrap_err();
        assert!(e.starts_with("t.toml:4:6:"), "{e}");
        let e = parse("[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\nok = \"101% within 1s\"\n")
            .unwrap_err();
        assert!(e.contains("at most 100%"), "{e}");
        let e = parse("[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\n[[target]]\nname = \"a\"\nurl = \"tcp://y:1\"\n").unwrap_err();
        assert!(
            e.starts_with("t.toml:5:8:") && e.contains("duplicate"),
            "{e}"
        );
        let e = parse("[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\nbogus = 1\n").unwrap_err();
        assert!(e.starts_with("t.toml:4:1:"), "{e}");
        let e = parse(
            "[[target]]\nname = \"a\"\nurl = \"https://x:1\"\nca = \"/nonexistent/ca.pem\"\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("t.toml:4:6:") && e.contains("cannot read"),
            "{e}"
        );
        let e = parse(
            "[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\nwindow = \"1m\"\ninterval = \"10s\"\n",
        )
        .unwrap_err();
        assert!(e.contains("can never be reached"), "{e}");
        let t =
            parse("[defaults]\nwindow = \"5m\"\n[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\n")
                .unwrap();
        assert_eq!(t.targets[0].window.to_string(), "5m");
    }
}
