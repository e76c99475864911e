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
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::HealthError;
use crate::targets::target::{Field, Target, TargetSpec, TlsFiles, defaults};
use crate::targets::url::{Kind, parse_url};
use uca_ca::toml_file::{ConfigFile, TomlFile};
use uca_pki::Span;

/// What to do when a color changes.
#[derive(Debug, Clone, Default)]
pub struct WatchActions {
    pub on_change: Option<String>,
    pub webhook: Option<String>,
}

/// A whole targets file: the endpoints and the `[watch]` actions.
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

impl RawTarget {
    /// This table's keys, each falling back to `[defaults]`.
    fn or(&self, d: &RawTarget) -> RawTarget {
        macro_rules! merged {
            ($t:expr, $d:expr; $($f:ident),*) => {
                RawTarget { $($f: $t.$f.clone().or_else(|| $d.$f.clone()),)* }
            };
        }
        merged!(
            self, d;
            name, url, method, expect_status, body, body_regex, timeout, interval, ca, client_cert,
            client_key, server_name, ok, warn, window, cert_warn, cert_crit, min_samples, horizon
        )
    }

    /// Where a field was written, if it was.
    fn offset(&self, f: Field) -> Option<usize> {
        fn at<T>(v: &Option<Spanned<T>>) -> Option<usize> {
            v.as_ref().map(|s| s.span().start)
        }
        match f {
            Field::Name => at(&self.name),
            Field::Url => at(&self.url),
            Field::Method => at(&self.method),
            Field::ExpectStatus => at(&self.expect_status),
            Field::Body => at(&self.body),
            Field::BodyRegex => at(&self.body_regex),
            Field::Timeout => at(&self.timeout),
            Field::Interval => at(&self.interval),
            Field::Ca => at(&self.ca),
            Field::ClientCert => at(&self.client_cert),
            Field::ClientKey => at(&self.client_key),
            Field::Ok => at(&self.ok),
            Field::Warn => at(&self.warn),
            Field::Window => at(&self.window),
            Field::CertWarn => at(&self.cert_warn),
            Field::CertCrit => at(&self.cert_crit),
            Field::MinSamples => at(&self.min_samples),
        }
    }
}

/// The file being read, for errors at `FILE:LINE:COLUMN`.
struct Ctx<'a> {
    file: TomlFile<'a>,
}

impl Ctx<'_> {
    fn at(&self, offset: usize, message: impl Into<String>) -> HealthError {
        HealthError::from(self.file.error_at(offset, message))
    }

    /// A value in the grammar of its type, or the default when neither the target nor
    /// `[defaults]` sets it.
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

    /// The typed values of one merged `[[target]]`; rules between them are `Target::new`'s.
    fn spec(&self, t: &RawTarget, name: String, url: String) -> Result<TargetSpec, HealthError> {
        let text = |v: &Option<Spanned<String>>| v.as_ref().map(|s| s.get_ref().clone());
        Ok(TargetSpec {
            name: Some(name),
            url,
            method: text(&t.method),
            expect_status: t
                .expect_status
                .as_ref()
                .map(|c| c.get_ref().clone())
                .unwrap_or_default(),
            body: text(&t.body),
            body_regex: text(&t.body_regex),
            ok: self.parse("ok", t.ok.as_ref(), defaults::OK)?,
            warn: self.parse("warn", t.warn.as_ref(), defaults::WARN)?,
            cert_warn: self.days_span("cert_warn", t.cert_warn.as_ref(), defaults::CERT_WARN)?,
            cert_crit: self.days_span("cert_crit", t.cert_crit.as_ref(), defaults::CERT_CRIT)?,
            interval: self.parse("interval", t.interval.as_ref(), defaults::INTERVAL)?,
            timeout: self.parse("timeout", t.timeout.as_ref(), defaults::TIMEOUT)?,
            window: self.parse("window", t.window.as_ref(), defaults::WINDOW)?,
            horizon: self.parse("horizon", t.horizon.as_ref(), defaults::HORIZON)?,
            min_samples: t
                .min_samples
                .as_ref()
                .map(|m| *m.get_ref())
                .unwrap_or(i64::from(defaults::MIN_SAMPLES)),
            server_name: text(&t.server_name),
            files: TlsFiles {
                ca: text(&t.ca).map(Into::into),
                client_cert: text(&t.client_cert),
                client_key: text(&t.client_key).map(Into::into),
            },
        })
    }
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
            let t = spanned.get_ref().or(&defaults);
            let table_at = spanned.span().start;
            let name = t
                .name
                .as_ref()
                .ok_or_else(|| cx.at(table_at, "this [[target]] has no name"))?;
            let n = name.get_ref();
            let url = t
                .url
                .as_ref()
                .ok_or_else(|| cx.at(table_at, format!("target '{n}' has no url")))?;
            let spec = cx.spec(&t, n.clone(), url.get_ref().clone())?;
            let files = spec.files.clone();
            // The first field the error names that this table (or [defaults]) wrote.
            let locate = |e: crate::targets::TargetError| {
                let at = e
                    .fields()
                    .iter()
                    .find_map(|f| t.offset(*f))
                    .unwrap_or(table_at);
                cx.at(at, e.to_string())
            };
            let target = Target::new(spec).map_err(locate)?;
            if !seen.insert(n.clone()) {
                return Err(cx.at(name.span().start, format!("duplicate target name '{n}'")));
            }
            targets.push(target.open_files(&files, base, ca_dir).map_err(locate)?);
        }
        let watch = raw.watch.unwrap_or_default();
        if let Some(w) = &watch.webhook {
            let url = parse_url(w.get_ref())
                .map_err(|m| cx.at(w.span().start, format!("webhook: {m}")))?;
            if url.kind != Kind::Http {
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

    const HEAD: &str = "[[target]]\nname = \"a\"\n";

    /// Every refusal of the file, with where it points and what it says.
    #[test]
    fn refusals_point_at_the_key() {
        let tcp = format!("{HEAD}url = \"tcp://x:1\"\n");
        let http = format!("{HEAD}url = \"http://x/\"\n");
        let cases: Vec<(String, &str, &str)> = vec![
            (format!("{tcp}bogus = 1\n"), "4:1", "bogus"),
            (format!("{tcp}ok = \"99 within\"\n"), "4:6", "ok: '99 within' is not a threshold"),
            (format!("{tcp}ok = \"101% within 1s\"\n"), "4:6", "at most 100%"),
            (
                format!("{tcp}[[target]]\nname = \"a\"\nurl = \"tcp://y:1\"\n"),
                "5:8",
                "duplicate target name 'a'",
            ),
            (
                format!("{HEAD}url = \"https://x:1\"\nca = \"/nonexistent/ca.pem\"\n"),
                "4:6",
                "ca: cannot read /nonexistent/ca.pem",
            ),
            (
                format!("{tcp}window = \"1m\"\ninterval = \"10s\"\n"),
                "4:10",
                "min_samples (10) can never be reached: a 1m window holds at most 6 probes at one per 10s",
            ),
            (
                "[defaults]\nwindow = \"1m\"\ninterval = \"10s\"\n[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\n"
                    .into(),
                "2:10",
                "can never be reached",
            ),
            (format!("{tcp}min_samples = 0\n"), "4:15", "min_samples must be a positive number"),
            (format!("{http}expect_status = [200, 700]\n"), "4:17", "expect_status: 700 is not an HTTP status code"),
            (format!("{http}method = \"DELETE\"\n"), "4:10", "method 'DELETE' is not one of GET, HEAD, POST, OPTIONS"),
            (format!("{http}body = \"x\"\nbody_regex = \"y\"\n"), "4:8", "set body or body_regex, not both"),
            (format!("{http}body_regex = \"(\"\n"), "4:14", "body_regex: "),
            (format!("{tcp}body = \"x\"\n"), "3:7", "body matching needs an http:// or https:// url"),
            (
                format!("{tcp}warn = \"99.5% within 1s\"\n"),
                "4:8",
                "warn (99.5% within 1s) must be looser than ok (99% within 300ms)",
            ),
            (
                format!("{tcp}ok = \"90% within 2s\"\n"),
                "4:6",
                "must be looser than ok (90% within 2s)",
            ),
            (format!("{tcp}cert_crit = \"60d\"\n"), "4:13", "cert_crit must not be longer than cert_warn"),
            (format!("{tcp}cert_warn = \"1d\"\n"), "1:1", "cert_crit must not be longer than cert_warn"),
            (format!("{tcp}interval = \"50ms\"\n"), "4:12", "interval must be at least 100ms"),
            (format!("{tcp}timeout = \"0s\"\n"), "4:11", "timeout must be more than 0"),
            (
                format!("{tcp}window = \"1s\"\nmin_samples = 1\n"),
                "4:10",
                "window (1s) is shorter than the probe interval (10s)",
            ),
            (format!("{HEAD}url = \"ftp://x\"\n"), "3:7", "unsupported scheme 'ftp'"),
            (format!("{HEAD}url = \"tcp://x\"\n"), "3:7", "tcp:// needs a port"),
            (HEAD.to_string(), "1:1", "target 'a' has no url"),
            ("[[target]]\nurl = \"tcp://x:1\"\n".into(), "1:1", "this [[target]] has no name"),
            ("[[target]]\nname = \"a\\\"b\"\nurl = \"tcp://x:1\"\n".into(), "2:8", "target name 'a\"b' must be 1-100 characters"),
            ("[defaults]\nurl = \"tcp://x:1\"\n".into(), "2:7", "[defaults] cannot set url"),
            ("".into(), "1:1", "no [[target]] tables"),
            (
                format!("{tcp}client_cert = \"prober\"\nurl2 = 1\n"),
                "5:1",
                "url2",
            ),
            (
                format!("{HEAD}url = \"tls://x:1\"\nclient_cert = \"prober\"\n"),
                "4:15",
                "client certificate 'prober' is neither a file nor a certificate this CA issued",
            ),
            (
                format!("{tcp}[watch]\nwebhook = \"https://h/\"\n"),
                "5:11",
                "webhook: needs an http:// url",
            ),
        ];
        for (text, at, words) in cases {
            let e = parse(&text).expect_err(&text);
            assert!(e.starts_with(&format!("t.toml:{at}:")), "{text:?}: {e}");
            assert!(e.contains(words), "{text:?}: {e}");
        }
    }

    #[test]
    fn defaults_fill_what_targets_leave_out() {
        let t =
            parse("[defaults]\nwindow = \"5m\"\n[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\n")
                .unwrap();
        assert_eq!(t.targets[0].window.to_string(), "5m");
        assert_eq!(t.targets[0].ok, defaults::OK);
        assert_eq!(t.targets[0].min_samples, defaults::MIN_SAMPLES);
        // A non-TLS target reads no files, whatever it names.
        let t = parse("[[target]]\nname = \"a\"\nurl = \"tcp://x:1\"\nca = \"/nonexistent\"\n")
            .unwrap();
        assert!(t.targets[0].ca.is_none());
    }
}
