//! The CA's config file, `uca.toml`: parsed once into typed values, errors with file:line:column.

use std::path::{Path, PathBuf};

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;
use uca_pki::constraints::IpNet;
use uca_pki::pattern::NamePattern;
use uca_pki::rate::Rate;
use uca_pki::san::SanTemplate;
use uca_pki::{KeyType, Profile, San, SanRules, Subject};

use crate::CaError;
use crate::toml_file::{ConfigError, ConfigFile, TomlFile};

/// Settings read from `uca.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Subject fields every certificate gets (O, OU, C, ST, L).
    pub subject: Subject,
    /// Key type for new leaf keys when `--key` is not given.
    pub key: KeyType,
    /// Validity of new leaves in days when `--days` is not given.
    pub days: u32,
    /// Profile when `--profile` is not given.
    pub profile: Profile,
    /// SAN templates applied to every DNS NAME.
    pub san_rules: SanRules,
    /// `[serve]`: how `uca serve` listens and validates.
    pub serve: ServeSection,
    /// `[acme]`: what `uca serve` issues over ACME.
    pub acme: AcmeSection,
    /// `ledger`: a `postgres://` URL when the ledger is in PostgreSQL; `ledger.sqlite` in the
    /// CA directory when unset.
    pub ledger: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            subject: Subject::default(),
            key: KeyType::EcP256,
            days: uca_pki::validity::DEFAULT_LEAF_DAYS,
            profile: Profile::Both,
            san_rules: SanRules::default(),
            serve: ServeSection::default(),
            acme: AcmeSection::default(),
            ledger: None,
        }
    }
}

/// `[serve]` of `uca.toml`; every field is optional and the command line wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeSection {
    pub listen: Option<SocketAddr>,
    /// Names of the server's own certificate.
    pub server_names: Vec<San>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// DNS server validation asks (`ADDR:PORT`); the system's resolver when unset.
    pub resolver: Option<SocketAddr>,
    /// Ranges validation may reach although they are refused by default (loopback, ...).
    pub allow_validation_to: Vec<IpNet>,
    /// Ranges validation may not reach although they are allowed by default.
    pub deny_validation_to: Vec<IpNet>,
}

/// External account binding policy of `[acme] eab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EabPolicy {
    Off,
    Optional,
    Required,
}

impl EabPolicy {
    pub fn parse(s: &str) -> Option<EabPolicy> {
        match s {
            "off" => Some(EabPolicy::Off),
            "optional" => Some(EabPolicy::Optional),
            "required" => Some(EabPolicy::Required),
            _ => None,
        }
    }
}

/// `[acme]` of `uca.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AcmeSection {
    /// The uca profile of ACME certificates (`both` when unset: components do mutual TLS).
    pub profile: Option<Profile>,
    /// Lifetime when an order asks for none.
    pub days: Option<u32>,
    /// The longest lifetime an order may ask for.
    pub max_days: Option<u32>,
    pub allow: Vec<NamePattern>,
    pub deny: Vec<NamePattern>,
    /// `required` by default unless the server listens on loopback only.
    pub eab: Option<EabPolicy>,
    /// The profiles ACME clients may pick (draft-aaron-acme-profiles); all of server, client
    /// and both when unset.
    pub profiles: Vec<Profile>,
    /// Rate limits: unset keeps the server's default, `Some(None)` is `"off"`.
    pub new_accounts_per_ip: Option<Option<Rate>>,
    pub new_orders_per_account: Option<Option<Rate>>,
    pub failed_validations_per_identifier: Option<Option<Rate>>,
    /// Replicas on a shared ledger: a finalization claimed longer ago than this by a server
    /// that stopped is settled by another (default 2 minutes).
    pub finalize_timeout: Option<uca_pki::Span>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    ledger: Option<Spanned<String>>,
    #[serde(default)]
    subject: Option<RawSubject>,
    #[serde(default)]
    issue: Option<RawIssue>,
    #[serde(default)]
    san: Option<RawSan>,
    #[serde(default)]
    serve: Option<RawServe>,
    #[serde(default)]
    acme: Option<RawAcme>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServe {
    listen: Option<Spanned<String>>,
    server_names: Option<Vec<Spanned<String>>>,
    tls_cert: Option<Spanned<String>>,
    tls_key: Option<Spanned<String>>,
    resolver: Option<Spanned<String>>,
    allow_validation_to: Option<Vec<Spanned<String>>>,
    deny_validation_to: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcme {
    profile: Option<Spanned<String>>,
    days: Option<Spanned<i64>>,
    max_days: Option<Spanned<i64>>,
    allow: Option<Vec<Spanned<String>>>,
    deny: Option<Vec<Spanned<String>>>,
    eab: Option<Spanned<String>>,
    profiles: Option<Vec<Spanned<String>>>,
    new_accounts_per_ip: Option<Spanned<String>>,
    new_orders_per_account: Option<Spanned<String>>,
    failed_validations_per_identifier: Option<Spanned<String>>,
    finalize_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubject {
    #[serde(rename = "O")]
    o: Option<Spanned<String>>,
    #[serde(rename = "OU")]
    ou: Option<Spanned<String>>,
    #[serde(rename = "C")]
    c: Option<Spanned<String>>,
    #[serde(rename = "ST")]
    st: Option<Spanned<String>>,
    #[serde(rename = "L")]
    l: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssue {
    key: Option<Spanned<String>>,
    days: Option<Spanned<i64>>,
    profile: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSan {
    rules: Option<Vec<Spanned<String>>>,
}

/// Typed readers for the fields `uca.toml` and plan files share, with located errors.
pub(crate) struct Fields<'a> {
    pub file: TomlFile<'a>,
}

impl Fields<'_> {
    pub fn key(&self, k: &Spanned<String>) -> Result<KeyType, ConfigError> {
        k.get_ref().parse().map_err(|_| {
            self.file.at(
                k,
                format!(
                    "unknown key type '{}' (one of {})",
                    k.get_ref(),
                    KeyType::names()
                ),
            )
        })
    }

    pub fn profile(&self, p: &Spanned<String>) -> Result<Profile, ConfigError> {
        p.get_ref().parse().map_err(|_| {
            self.file.at(
                p,
                format!(
                    "unknown profile '{}' (one of {})",
                    p.get_ref(),
                    Profile::names()
                ),
            )
        })
    }

    pub fn days(&self, d: &Spanned<i64>) -> Result<u32, ConfigError> {
        let max = uca_pki::validity::MAX_DAYS;
        u32::try_from(*d.get_ref())
            .ok()
            .filter(|d| (1..=max).contains(d))
            .ok_or_else(|| self.file.at(d, format!("days must be between 1 and {max}")))
    }
}

impl Fields<'_> {
    fn socket(&self, v: &Spanned<String>, what: &str) -> Result<SocketAddr, ConfigError> {
        v.get_ref().parse().map_err(|_| {
            self.file.at(
                v,
                format!(
                    "{what} '{}' is not ADDRESS:PORT (e.g. 127.0.0.1:8443, [::1]:53)",
                    v.get_ref()
                ),
            )
        })
    }

    fn nets(&self, v: Option<Vec<Spanned<String>>>) -> Result<Vec<IpNet>, ConfigError> {
        v.unwrap_or_default()
            .iter()
            .map(|n| IpNet::parse(n.get_ref()).map_err(|e| self.file.at(n, e.to_string())))
            .collect()
    }

    fn patterns(&self, v: Option<Vec<Spanned<String>>>) -> Result<Vec<NamePattern>, ConfigError> {
        v.unwrap_or_default()
            .iter()
            .map(|p| {
                NamePattern::parse(p.get_ref()).map_err(|why| {
                    self.file.at(
                        p,
                        format!(
                            "'{}' is not a name pattern ({why}); use host.example, *.example, 10.0.0.7 or 10.0.0.0/8",
                            p.get_ref()
                        ),
                    )
                })
            })
            .collect()
    }

    fn serve(&self, raw: RawServe) -> Result<ServeSection, ConfigError> {
        let path = |v: Option<Spanned<String>>| v.map(|p| PathBuf::from(p.into_inner()));
        let mut names = Vec::new();
        for n in raw.server_names.unwrap_or_default() {
            match San::parse(n.get_ref()) {
                Ok(san @ (San::Dns(_) | San::Ip(_))) => names.push(san),
                Ok(_) => {
                    return Err(self
                        .file
                        .at(&n, "a server name is a DNS name or an IP address"));
                }
                Err(e) => return Err(self.file.at(&n, e.reason)),
            }
        }
        if raw.tls_cert.is_some() != raw.tls_key.is_some() {
            let at = raw.tls_cert.as_ref().or(raw.tls_key.as_ref());
            return Err(self.file.at_or(at, 0, "tls_cert and tls_key go together"));
        }
        Ok(ServeSection {
            listen: raw
                .listen
                .as_ref()
                .map(|l| self.socket(l, "listen"))
                .transpose()?,
            server_names: names,
            resolver: raw
                .resolver
                .as_ref()
                .map(|r| self.socket(r, "resolver"))
                .transpose()?,
            allow_validation_to: self.nets(raw.allow_validation_to)?,
            deny_validation_to: self.nets(raw.deny_validation_to)?,
            tls_cert: path(raw.tls_cert),
            tls_key: path(raw.tls_key),
        })
    }

    fn acme(&self, raw: RawAcme) -> Result<AcmeSection, ConfigError> {
        let days = raw.days.as_ref().map(|d| self.days(d)).transpose()?;
        let max_days = raw.max_days.as_ref().map(|d| self.days(d)).transpose()?;
        if let (Some(d), Some(m), Some(span)) = (days, max_days, raw.days.as_ref())
            && d > m
        {
            return Err(self
                .file
                .at(span, format!("days ({d}) is more than max_days ({m})")));
        }
        let eab = match &raw.eab {
            None => None,
            Some(e) => Some(EabPolicy::parse(e.get_ref()).ok_or_else(|| {
                self.file.at(
                    e,
                    format!(
                        "eab '{}' is not one of off, optional, required",
                        e.get_ref()
                    ),
                )
            })?),
        };
        let mut profiles = Vec::new();
        for p in raw.profiles.unwrap_or_default() {
            let profile = self.profile(&p)?;
            if profile == Profile::CodeSigning {
                return Err(self
                    .file
                    .at(&p, "ACME certificates are for TLS: server, client or both"));
            }
            profiles.push(profile);
        }
        let rate = |v: &Option<Spanned<String>>| -> Result<Option<Option<Rate>>, ConfigError> {
            v.as_ref()
                .map(|r| Rate::parse(r.get_ref()).map_err(|why| self.file.at(r, why)))
                .transpose()
        };
        let finalize_timeout = raw
            .finalize_timeout
            .as_ref()
            .map(|t| {
                uca_pki::Span::parse(t.get_ref(), uca_pki::Bare::Refused)
                    .map_err(|e| self.file.at(t, format!("{e} (e.g. \"2m\" or \"30s\")")))
            })
            .transpose()?;
        Ok(AcmeSection {
            finalize_timeout,
            new_accounts_per_ip: rate(&raw.new_accounts_per_ip)?,
            new_orders_per_account: rate(&raw.new_orders_per_account)?,
            failed_validations_per_identifier: rate(&raw.failed_validations_per_identifier)?,
            profiles,
            profile: raw.profile.as_ref().map(|p| self.profile(p)).transpose()?,
            days,
            max_days,
            allow: self.patterns(raw.allow)?,
            deny: self.patterns(raw.deny)?,
            eab,
        })
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, CaError> {
        let text = std::fs::read_to_string(path).map_err(crate::fsio::io_err("read", path))?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, CaError> {
        let file = TomlFile::new(ConfigFile::CaConfig, path, text);
        let at = |offset: usize, message: String| file.error_at(offset, message);
        let raw: RawConfig = file.decode()?;
        let mut cfg = Config::default();
        if let Some(s) = raw.subject {
            let get = |v: Option<Spanned<String>>| v.map(|s| s.into_inner());
            let c_span = s.c.as_ref().map(|c| c.span().start).unwrap_or(0);
            cfg.subject = Subject {
                organization: get(s.o),
                organizational_unit: get(s.ou),
                country: get(s.c),
                state: get(s.st),
                locality: get(s.l),
                common_name: None,
            };
            cfg.subject
                .validate()
                .map_err(|m| at(c_span, format!("[subject]: {m}")))?;
        }
        let f = Fields { file };
        if let Some(i) = raw.issue {
            if let Some(k) = &i.key {
                cfg.key = f.key(k)?;
            }
            if let Some(d) = &i.days {
                cfg.days = f.days(d)?;
            }
            if let Some(p) = &i.profile {
                cfg.profile = f.profile(p)?;
            }
        }
        if let Some(san) = raw.san
            && let Some(rules) = san.rules
        {
            let mut templates = Vec::new();
            for r in rules {
                templates.push(SanTemplate::parse(r.get_ref()).map_err(|m| at(r.span().start, m))?);
            }
            cfg.san_rules = SanRules { templates };
        }
        if let Some(serve) = raw.serve {
            cfg.serve = f.serve(serve)?;
        }
        if let Some(acme) = raw.acme {
            cfg.acme = f.acme(acme)?;
        }
        if let Some(l) = raw.ledger {
            if !crate::ledger::postgres::target::is_postgres_url(l.get_ref()) {
                return Err(f.file.at(
                    &l,
                    "ledger is a postgres:// URL (leave it out for ledger.sqlite in the CA directory)",
                ).into());
            }
            // Checked now (without the password, which may come from the environment) so a
            // typo is reported with its line, not at the first connection.
            crate::ledger::PgTarget::parse(l.get_ref(), Some(""))
                .map_err(|e| f.file.at(&l, e.to_string()))?;
            cfg.ledger = Some(l.into_inner());
        }
        Ok(cfg)
    }

    /// The file `uca init` writes: every setting present and explained, so operators edit
    /// rather than look things up.
    pub fn render(&self, ca_name: &str, ca_key: KeyType) -> String {
        let q = |v: &Option<String>| v.as_ref().map(|s| toml_string(s));
        let mut subject = String::new();
        for (k, v) in [
            ("O", q(&self.subject.organization)),
            ("OU", q(&self.subject.organizational_unit)),
            ("C", q(&self.subject.country)),
            ("ST", q(&self.subject.state)),
            ("L", q(&self.subject.locality)),
        ] {
            match v {
                Some(v) => subject.push_str(&format!("{k} = {v}\n")),
                None => subject.push_str(&format!("# {k} = \"\"\n")),
            }
        }
        let rules: Vec<String> = self
            .san_rules
            .templates
            .iter()
            .map(|t| toml_string(t.as_str()))
            .collect();
        format!(
            "# uca CA configuration for {name} (root key: {ca_key}).\n\
             # Read on every run; edit freely. Changes apply to certificates issued afterwards.\n\
             \n\
             # The ledger: ledger.sqlite in this directory unless a PostgreSQL URL is set (the\n\
             # password may come from PGPASSWORD instead of the URL).\n\
             {ledger}\n\
             \n\
             # Subject fields every certificate gets (C is a two-letter country code).\n\
             [subject]\n{subject}\n\
             # Defaults for `uca issue` and `uca sign`; flags override them.\n\
             [issue]\n\
             key = \"{key}\"          # ec-p256 | ec-p384 | ed25519 | rsa-2048 | rsa-3072 | rsa-4096\n\
             days = {days}              # validity of new certificates (398 is the ceiling TLS clients enforce)\n\
             profile = \"{profile}\"        # server | client | both | code-signing\n\
             \n\
             # SubjectAltName rules, applied to every DNS NAME (turn off per call with --no-rules).\n\
             #   {{name}}  the NAME itself                       rmq1 -> rmq1\n\
             #   {{base}}  NAME with the trailing digits of its first label removed\n\
             #           rmq1 -> rmq, rmq12.svc -> rmq.svc, web-3 -> web   (skipped when there are none)\n\
             # Suffixes work too: \"{{name}}.svc.internal\" makes rmq1 -> rmq1.svc.internal.\n\
             # The NAME is always a SAN, whatever the rules say.\n\
             [san]\n\
             rules = [{rules}]\n\
             \n\
             # `uca serve` (the ACME server). Everything is optional; flags win.\n\
             # [serve]\n\
             # listen = \"127.0.0.1:8443\"\n\
             # server_names = [\"ca.example.internal\"]     # names of its own certificate\n\
             # resolver = \"10.0.0.53:53\"                   # DNS for validation (default: the system's)\n\
             # allow_validation_to = [\"127.0.0.0/8\"]        # loopback etc. are refused unless listed\n\
             # [acme]\n\
             # profile = \"both\"          # server | client | both: what an order gets unless it picks one\n\
             # profiles = [\"server\", \"client\", \"both\"]   # what orders may pick (ACME profiles)\n\
             # days = 90                   # lifetime when an order asks for none\n\
             # max_days = 397              # longest lifetime an order may ask for\n\
             # allow = [\"*.svc.internal\", \"10.0.0.0/8\"]\n\
             # deny = [\"db.svc.internal\"]\n\
             # eab = \"required\"          # off | optional | required (default: required unless loopback only)\n\
             # new_accounts_per_ip = \"50/1h\"                  # rate limits: N/PERIOD, or \"off\"\n\
             # new_orders_per_account = \"300/1h\"\n\
             # failed_validations_per_identifier = \"20/1h\"\n",
            name = ca_name,
            ledger = match &self.ledger {
                Some(url) => format!("ledger = {}", toml_string(url)),
                None => "# ledger = \"postgres://uca@db.internal/uca?sslmode=verify-full&sslrootcert=/etc/uca/db-ca.pem\"".into(),
            },
            key = self.key,
            days = self.days,
            profile = self.profile,
            rules = rules.join(", "),
        )
    }

    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(crate::layout::CONFIG_FILE)
    }
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_config_parses_back() {
        let mut cfg = Config::default();
        cfg.subject.organization = Some("Acme \"Ops\"".into());
        cfg.subject.country = Some("DE".into());
        let text = cfg.render("Acme Root", KeyType::EcP384);
        let back = Config::parse(&text, Path::new("uca.toml")).unwrap();
        assert_eq!(back.subject, cfg.subject);
        assert_eq!(back.san_rules, cfg.san_rules);
    }

    #[test]
    fn errors_point_at_line_and_column() {
        let text = "[issue]\nkey = \"ec-p999\"\n";
        let e = Config::parse(text, Path::new("uca.toml")).unwrap_err();
        let CaError::Config(ConfigError {
            line,
            column,
            message,
            ..
        }) = e
        else {
            panic!("wrong error")
        };
        assert_eq!((line, column), (2, 7));
        assert!(message.contains("ec-p999"));
        let e = Config::parse("[issue]\nfoo = 1\n", Path::new("uca.toml")).unwrap_err();
        assert!(
            matches!(e, CaError::Config(ConfigError { line: 2, .. })),
            "{e}"
        );
        let e = Config::parse("[san]\nrules = [\"{nme}\"]\n", Path::new("uca.toml")).unwrap_err();
        assert!(e.to_string().contains("nme"));
    }

    #[test]
    fn serve_and_acme_sections_parse_with_located_errors() {
        let text = "[serve]\nlisten = \"127.0.0.1:9443\"\nserver_names = [\"ca.test\", \"10.0.0.1\"]\n\
                    allow_validation_to = [\"127.0.0.0/8\"]\n[acme]\nprofile = \"server\"\ndays = 30\nmax_days = 90\n\
                    allow = [\"*.svc.internal\", \"10.0.0.0/8\"]\neab = \"optional\"\n";
        let cfg = Config::parse(text, Path::new("uca.toml")).unwrap();
        assert_eq!(cfg.serve.listen, Some("127.0.0.1:9443".parse().unwrap()));
        assert_eq!(cfg.serve.server_names.len(), 2);
        assert_eq!(cfg.acme.profile, Some(Profile::Server));
        assert_eq!((cfg.acme.days, cfg.acme.max_days), (Some(30), Some(90)));
        assert_eq!(cfg.acme.allow.len(), 2);
        assert_eq!(cfg.acme.eab, Some(EabPolicy::Optional));
        for (text, line, needle) in [
            ("[serve]\nlisten = \"8443\"\n", 2, "ADDRESS:PORT"),
            (
                "[serve]\nallow_validation_to = [\"10.0.0.1/8\"]\n",
                2,
                "10.0.0.1/8",
            ),
            ("[serve]\ntls_cert = \"a.pem\"\n", 2, "go together"),
            ("[acme]\nallow = [\"a..b\"]\n", 2, "name pattern"),
            ("[acme]\neab = \"maybe\"\n", 2, "maybe"),
            ("[acme]\ndays = 100\nmax_days = 90\n", 2, "max_days"),
            ("[acme]\nbogus = 1\n", 2, "bogus"),
            ("[acme]\nnew_orders_per_account = \"lots\"\n", 2, "N/PERIOD"),
        ] {
            let e = Config::parse(text, Path::new("uca.toml")).unwrap_err();
            let CaError::Config(c) = &e else {
                panic!("{e}")
            };
            assert_eq!(c.line, line, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
    }
}
