//! One endpoint to probe, and the one constructor that owns its rules. The targets file and
//! `uca health check`'s flags both build a [`TargetSpec`] and call [`Target::new`], so a value one
//! front door refuses the other refuses too, in the same words with its own names for the fields.

use std::path::{Path, PathBuf};

use crate::spec::Threshold;
use crate::targets::url::{Kind, UrlError, parse_url};
use uca_ca::layout::{CertAndKey, CertRefError};
use uca_pki::Span;

/// Defaults for keys neither the target nor `[defaults]` sets, and for the check's flags.
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

/// The shortest probe interval: below it a target would flood the endpoint.
const MIN_INTERVAL: Span = Span::millis(100);

/// The methods a probe may send: none of them changes the endpoint.
const METHODS: [&str; 4] = ["GET", "HEAD", "POST", "OPTIONS"];

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaSource {
    /// This uca CA's certificate (and chain).
    ThisCa(PathBuf),
    File(PathBuf),
}

/// A client certificate and key (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

/// A target as a front door read it: every value already in its type, nothing checked against
/// anything else yet. Absent values were filled from the defaults by the front door.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// `None`: the target is named after its URL (the check's flags), which no name rule limits.
    pub name: Option<String>,
    pub url: String,
    /// `None`: GET.
    pub method: Option<String>,
    /// As written (a file holds any integer); checked to be HTTP status codes.
    pub expect_status: Vec<i64>,
    pub body: Option<String>,
    pub body_regex: Option<String>,
    pub timeout: Span,
    pub interval: Span,
    pub server_name: Option<String>,
    pub ok: Threshold,
    pub warn: Threshold,
    pub window: Span,
    pub cert_warn: Span,
    pub cert_crit: Span,
    /// As written; checked to be positive and reachable within the window.
    pub min_samples: i64,
    pub horizon: Span,
    /// The files a TLS target reads, checked by [`Target::open_files`], not by [`Target::new`].
    pub files: TlsFiles,
}

/// The files a TLS target names, before they are looked at.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// A CA bundle (already relative to where it was written); `None`: this uca CA, if any.
    pub ca: Option<PathBuf>,
    /// A NAME this CA issued, or a PEM file.
    pub client_cert: Option<String>,
    pub client_key: Option<PathBuf>,
}

/// A field of a target, as each front door names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Name,
    Url,
    Method,
    ExpectStatus,
    Body,
    BodyRegex,
    Timeout,
    Interval,
    Ca,
    ClientCert,
    ClientKey,
    Ok,
    Warn,
    Window,
    CertWarn,
    CertCrit,
    MinSamples,
}

impl Field {
    /// The key in the targets file.
    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Url => "url",
            Field::Method => "method",
            Field::ExpectStatus => "expect_status",
            Field::Body => "body",
            Field::BodyRegex => "body_regex",
            Field::Timeout => "timeout",
            Field::Interval => "interval",
            Field::Ca => "ca",
            Field::ClientCert => "client_cert",
            Field::ClientKey => "client_key",
            Field::Ok => "ok",
            Field::Warn => "warn",
            Field::Window => "window",
            Field::CertWarn => "cert_warn",
            Field::CertCrit => "cert_crit",
            Field::MinSamples => "min_samples",
        }
    }

    /// The flag of `uca health check`; fields the check fixes itself keep their file key.
    pub fn flag(self) -> &'static str {
        match self {
            Field::Url => "URL",
            Field::ExpectStatus => "--expect-status",
            Field::Body => "--body",
            Field::Timeout => "--timeout",
            Field::Ca => "--ca",
            Field::ClientCert => "--client-cert",
            Field::ClientKey => "--client-key",
            Field::Ok => "--ok",
            Field::Warn => "--warn",
            Field::CertWarn => "--cert-warn",
            Field::CertCrit => "--cert-crit",
            Field::MinSamples => "--count",
            other => other.key(),
        }
    }
}

/// A target refused, with the values that broke the rule.
#[derive(Debug)]
pub enum TargetError {
    Name {
        name: String,
    },
    Url(UrlError),
    Method {
        method: String,
    },
    ExpectStatus {
        code: i64,
    },
    BodyAndRegex,
    BodyRegex(regex::Error),
    BodyNeedsHttp {
        kind: Kind,
    },
    WarnNotLooser {
        ok: Threshold,
        warn: Threshold,
    },
    CertCritLonger {
        crit: Span,
        warn: Span,
    },
    IntervalTooShort {
        interval: Span,
    },
    TimeoutZero,
    WindowShorterThanInterval {
        window: Span,
        interval: Span,
    },
    MinSamplesNotPositive {
        value: i64,
    },
    MinSamplesUnreachable {
        min_samples: u32,
        window: Span,
        interval: Span,
        fits: u32,
    },
    /// The CA bundle cannot be opened.
    CaUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    ClientCert(ClientCertError),
}

impl TargetError {
    /// The fields to point at, best first: the file front door points at the first one the
    /// target (or `[defaults]`) wrote, else at the `[[target]]` table.
    pub fn fields(&self) -> &'static [Field] {
        match self {
            TargetError::Name { .. } => &[Field::Name],
            TargetError::Url(_) | TargetError::BodyNeedsHttp { .. } => &[Field::Url],
            TargetError::Method { .. } => &[Field::Method],
            TargetError::ExpectStatus { .. } => &[Field::ExpectStatus],
            TargetError::BodyAndRegex => &[Field::Body],
            TargetError::BodyRegex(_) => &[Field::BodyRegex],
            TargetError::WarnNotLooser { .. } => &[Field::Warn, Field::Ok],
            TargetError::CertCritLonger { .. } => &[Field::CertCrit],
            TargetError::IntervalTooShort { .. } => &[Field::Interval],
            TargetError::TimeoutZero => &[Field::Timeout],
            TargetError::WindowShorterThanInterval { .. } => &[Field::Window],
            TargetError::MinSamplesNotPositive { .. } => &[Field::MinSamples],
            TargetError::MinSamplesUnreachable { .. } => &[Field::MinSamples, Field::Window],
            TargetError::CaUnreadable { .. } => &[Field::Ca],
            TargetError::ClientCert(_) => &[Field::ClientCert],
        }
    }

    /// The message, naming fields with `name` (file keys or flags).
    pub fn describe(&self, name: fn(Field) -> &'static str) -> String {
        match self {
            TargetError::Name { name } => format!(
                "target name '{name}' must be 1-100 characters without quotes, backslashes or control characters"
            ),
            TargetError::Url(e) => e.to_string(),
            TargetError::Method { method } => format!(
                "{} '{method}' is not one of {}",
                name(Field::Method),
                METHODS.join(", ")
            ),
            TargetError::ExpectStatus { code } => format!(
                "{}: {code} is not an HTTP status code",
                name(Field::ExpectStatus)
            ),
            TargetError::BodyAndRegex => format!(
                "set {} or {}, not both",
                name(Field::Body),
                name(Field::BodyRegex)
            ),
            TargetError::BodyRegex(e) => format!("{}: {e}", name(Field::BodyRegex)),
            TargetError::BodyNeedsHttp { .. } => {
                "body matching needs an http:// or https:// url".into()
            }
            TargetError::WarnNotLooser { ok, warn } => format!(
                "{} ({warn}) must be looser than {} ({ok}): a lower or equal share within a longer or equal time",
                name(Field::Warn),
                name(Field::Ok)
            ),
            TargetError::CertCritLonger { .. } => format!(
                "{} must not be longer than {}",
                name(Field::CertCrit),
                name(Field::CertWarn)
            ),
            TargetError::IntervalTooShort { .. } => {
                format!("{} must be at least {MIN_INTERVAL}", name(Field::Interval))
            }
            TargetError::TimeoutZero => format!("{} must be more than 0", name(Field::Timeout)),
            TargetError::WindowShorterThanInterval { window, interval } => format!(
                "{} ({window}) is shorter than the probe interval ({interval})",
                name(Field::Window)
            ),
            TargetError::MinSamplesNotPositive { .. } => {
                format!("{} must be a positive number", name(Field::MinSamples))
            }
            TargetError::MinSamplesUnreachable {
                min_samples,
                window,
                interval,
                fits,
            } => format!(
                "{} ({min_samples}) can never be reached: a {window} window holds at most {fits} probes at one per {interval}",
                name(Field::MinSamples)
            ),
            TargetError::CaUnreadable { path, source } => format!(
                "{}: cannot read {}: {source}",
                name(Field::Ca),
                path.display()
            ),
            TargetError::ClientCert(e) => e.describe(name),
        }
    }

    /// The message in the words of `uca health check`'s flags.
    pub fn for_flags(&self) -> String {
        self.describe(Field::flag)
    }
}

/// In the words of the targets file.
impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Field::key))
    }
}

impl std::error::Error for TargetError {}

/// Why a client certificate could not be found.
#[derive(Debug)]
pub enum ClientCertError {
    /// A certificate file without its key.
    KeyRequired { value: String },
    /// Neither a file nor a NAME this CA issued.
    Unknown { value: String },
    KeyUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ClientCertError {
    /// The message, naming fields with `name` (file keys or flags).
    pub fn describe(&self, name: fn(Field) -> &'static str) -> String {
        match self {
            ClientCertError::KeyRequired { value } => format!(
                "{} '{value}' is a file: name its key with {}",
                name(Field::ClientCert),
                name(Field::ClientKey)
            ),
            ClientCertError::Unknown { value } => format!(
                "client certificate '{value}' is neither a file nor a certificate this CA issued (uca issue {value} --profile client)"
            ),
            ClientCertError::KeyUnreadable { path, source } => {
                format!("cannot read {}: {source}", path.display())
            }
        }
    }
}

impl std::fmt::Display for ClientCertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Field::key))
    }
}

impl std::error::Error for ClientCertError {}

impl Target {
    /// Builds a target and checks every rule that needs no file: the one constructor both front
    /// doors call. TLS files are looked at afterwards, by [`Target::open_files`].
    pub fn new(spec: TargetSpec) -> Result<Target, TargetError> {
        if let Some(n) = &spec.name
            && (n.is_empty()
                || n.len() > 100
                || n.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            return Err(TargetError::Name { name: n.clone() });
        }
        let url = parse_url(&spec.url).map_err(TargetError::Url)?;
        let method = match &spec.method {
            Some(m) => {
                let upper = m.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) {
                    return Err(TargetError::Method { method: m.clone() });
                }
                upper
            }
            None => "GET".into(),
        };
        let expect_status = spec
            .expect_status
            .iter()
            .map(|c| {
                u16::try_from(*c)
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or(TargetError::ExpectStatus { code: *c })
            })
            .collect::<Result<Vec<u16>, _>>()?;
        let body = match (spec.body, spec.body_regex) {
            (Some(_), Some(_)) => return Err(TargetError::BodyAndRegex),
            (Some(b), None) => Some(BodyMatch::Substring(b)),
            (None, Some(r)) => Some(BodyMatch::Regex(
                regex::Regex::new(&r).map_err(TargetError::BodyRegex)?,
            )),
            (None, None) => None,
        };
        if body.is_some() && !matches!(url.kind, Kind::Http | Kind::Https) {
            return Err(TargetError::BodyNeedsHttp { kind: url.kind });
        }
        let (ok, warn) = (spec.ok, spec.warn);
        if warn.share > ok.share || warn.within < ok.within {
            return Err(TargetError::WarnNotLooser { ok, warn });
        }
        if spec.cert_crit > spec.cert_warn {
            return Err(TargetError::CertCritLonger {
                crit: spec.cert_crit,
                warn: spec.cert_warn,
            });
        }
        let interval = spec.interval;
        if interval < MIN_INTERVAL {
            return Err(TargetError::IntervalTooShort { interval });
        }
        if spec.timeout.is_zero() {
            return Err(TargetError::TimeoutZero);
        }
        let window = spec.window;
        if window < interval {
            return Err(TargetError::WindowShorterThanInterval { window, interval });
        }
        let min_samples = u32::try_from(spec.min_samples)
            .ok()
            .filter(|m| *m >= 1)
            .ok_or(TargetError::MinSamplesNotPositive {
                value: spec.min_samples,
            })?;
        let fits =
            (window.as_duration().as_millis() / interval.as_duration().as_millis().max(1)) as u32;
        if min_samples > fits.max(1) {
            return Err(TargetError::MinSamplesUnreachable {
                min_samples,
                window,
                interval,
                fits,
            });
        }
        Ok(Target {
            name: spec.name.unwrap_or_else(|| spec.url.clone()),
            url: spec.url,
            kind: url.kind,
            host: url.host,
            port: url.port,
            path: url.path,
            method,
            expect_status,
            body,
            timeout: spec.timeout,
            interval,
            ca: None,
            client_cert: None,
            server_name: spec.server_name,
            ok,
            warn,
            window,
            cert_warn: spec.cert_warn,
            cert_crit: spec.cert_crit,
            min_samples,
            horizon: spec.horizon,
        })
    }

    /// The filesystem step: for a TLS target, opens the CA bundle (or takes this uca CA's
    /// certificate) and finds the client certificate, so a watcher never starts with a file it
    /// cannot read. Non-TLS targets read no files. `base` is what relative names are relative
    /// to; `ca_dir` is this uca CA, for the default bundle and client certificates by NAME.
    pub fn open_files(
        mut self,
        files: &TlsFiles,
        base: &Path,
        ca_dir: Option<&Path>,
    ) -> Result<Target, TargetError> {
        if !self.kind.uses_tls() {
            return Ok(self);
        }
        self.ca = match &files.ca {
            Some(c) => {
                let path = base.join(c);
                std::fs::File::open(&path).map_err(|source| TargetError::CaUnreadable {
                    path: path.clone(),
                    source,
                })?;
                Some(CaSource::File(path))
            }
            None => ca_dir
                .filter(|d| uca_ca::CaPaths::is_ca(d))
                .map(|d| CaSource::ThisCa(uca_ca::CaPaths::new(d).ca_cert())),
        };
        self.client_cert = match &files.client_cert {
            Some(c) => Some(
                resolve_client_cert(c, files.client_key.as_deref(), base, ca_dir)
                    .map_err(TargetError::ClientCert)?,
            ),
            None => None,
        };
        Ok(self)
    }
}

/// Resolves a client certificate given as a path or as the NAME of a certificate the CA at
/// `ca_dir` issued.
pub fn resolve_client_cert(
    value: &str,
    key: Option<&Path>,
    base: &Path,
    ca_dir: Option<&Path>,
) -> Result<ClientCert, ClientCertError> {
    match CertAndKey::resolve(value, key, base, ca_dir) {
        Ok(found) => {
            if found.issued.is_none() {
                std::fs::File::open(&found.key).map_err(|source| {
                    ClientCertError::KeyUnreadable {
                        path: found.key.clone(),
                        source,
                    }
                })?;
            }
            Ok(ClientCert {
                // A NAME presents its whole chain, as a server would.
                cert: found.issued.map(|i| i.fullchain).unwrap_or(found.cert),
                key: found.key,
            })
        }
        Err(CertRefError::KeyRequired { .. }) => Err(ClientCertError::KeyRequired {
            value: value.to_string(),
        }),
        Err(CertRefError::Unknown { .. }) => Err(ClientCertError::Unknown {
            value: value.to_string(),
        }),
    }
}
