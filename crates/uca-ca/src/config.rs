//! The CA's config file, `uca.toml`: parsed once into typed values, errors with file:line:column.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use uca_pki::san::SanTemplate;
use uca_pki::{KeyType, Profile, SanRules, Subject};

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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            subject: Subject::default(),
            key: KeyType::EcP256,
            days: uca_pki::validity::DEFAULT_LEAF_DAYS,
            profile: Profile::Both,
            san_rules: SanRules::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    subject: Option<RawSubject>,
    #[serde(default)]
    issue: Option<RawIssue>,
    #[serde(default)]
    san: Option<RawSan>,
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
             rules = [{rules}]\n",
            name = ca_name,
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
        assert!(matches!(e, CaError::Config(ConfigError { line: 2, .. })), "{e}");
        let e = Config::parse("[san]\nrules = [\"{nme}\"]\n", Path::new("uca.toml")).unwrap_err();
        assert!(e.to_string().contains("nme"));
    }
}
