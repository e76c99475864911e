//! The release policy: which stages production requires, who may attest each, what is trusted,
//! how old an attestation may be, which installed paths may change. A TOML file, read once into
//! typed values with `FILE:LINE:COLUMN` errors.
//!
//! ```toml
//! require = ["build", "qa"]
//! roots = ["ca.crt"]            # relative to this file
//! crl = "ca.crl"                # optional
//! max_age = "90d"               # optional
//! mutable = ["etc/app.conf"]    # installed paths reported, not failed, when changed
//!
//! [stages.build]
//! signers = ["build-*"]         # subject CN or any SAN; "cn:" / "san:" restrict
//! [stages.qa]
//! signers = ["cn:qa-bot", "san:qa.*.internal"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use uca_ca::toml_file::{ConfigFile, TomlFile};

use crate::CustodyError;
use crate::verify::{RuleProblem, RuleSpec, Rules, StageSpec, Written};

/// Which names of the signer certificate a pattern looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameField {
    CommonName,
    San,
    Either,
}

/// One allowed signer identity: a glob over the subject CN and/or SAN values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerPattern {
    pub field: NameField,
    pub glob: String,
}

/// A signer pattern with nothing after its `cn:`/`san:` prefix (or nothing at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signer pattern '{pattern}' is empty")]
pub struct SignerPatternError {
    pub pattern: String,
}

impl SignerPattern {
    pub fn parse(s: &str) -> Result<SignerPattern, SignerPatternError> {
        let (field, glob) = if let Some(g) = s.strip_prefix("cn:") {
            (NameField::CommonName, g)
        } else if let Some(g) = s.strip_prefix("san:") {
            (NameField::San, g)
        } else {
            (NameField::Either, s)
        };
        if glob.is_empty() {
            return Err(SignerPatternError {
                pattern: s.to_string(),
            });
        }
        Ok(SignerPattern {
            field,
            glob: glob.to_string(),
        })
    }

    /// Whether a signer with this CN and these SAN values (as text) matches.
    pub fn matches(&self, cn: Option<&str>, sans: &[String]) -> bool {
        let cn_ok = || cn.is_some_and(|c| glob_match(&self.glob, c, false));
        let san_ok = || sans.iter().any(|s| glob_match(&self.glob, s, false));
        match self.field {
            NameField::CommonName => cn_ok(),
            NameField::San => san_ok(),
            NameField::Either => cn_ok() || san_ok(),
        }
    }
}

impl std::fmt::Display for SignerPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.field {
            NameField::CommonName => write!(f, "cn:{}", self.glob),
            NameField::San => write!(f, "san:{}", self.glob),
            NameField::Either => write!(f, "{}", self.glob),
        }
    }
}

/// `*` any run of characters (not `/` when `paths`, where `**` crosses directories), `?` one
/// character; everything else literal, case-sensitive.
pub fn glob_match(glob: &str, text: &str, paths: bool) -> bool {
    fn go(g: &[char], t: &[char], paths: bool) -> bool {
        match g.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => {
                let (crosses, rest) = match rest.split_first() {
                    Some(('*', r)) if paths => (true, r),
                    _ => (!paths, rest),
                };
                (0..=t.len())
                    .take_while(|&i| crosses || i == 0 || t[i - 1] != '/')
                    .any(|i| go(rest, &t[i..], paths))
            }
            Some(('?', rest)) => {
                !(t.is_empty() || paths && t[0] == '/') && go(rest, &t[1..], paths)
            }
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..], paths),
        }
    }
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&g, &t, paths)
}

/// A stage name that cannot be part of `MANIFEST.<stage>.p7s`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stage '{stage}' must be lower-case letters, digits, '-' or '_' (e.g. build, qa, release)")]
pub struct StageNameError {
    pub stage: String,
}

/// A stage name as it appears in `MANIFEST.<stage>.p7s`.
pub fn check_stage_name(s: &str) -> Result<(), StageNameError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(StageNameError {
            stage: s.to_string(),
        })
    }
}

/// A parsed policy. Paths are resolved against the policy file's directory.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Required stages, allowed signers per stage (a stage without an entry accepts any
    /// code-signing certificate that chains to a trusted root), max_age, and whether every
    /// signer's revocation must be checkable (a CRL from its issuer, or the CA's ledger).
    pub rules: Rules,
    pub roots: Vec<PathBuf>,
    pub crl: Option<PathBuf>,
    pub allow_stale_crl: bool,
    pub mutable: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    require: Option<Vec<Spanned<String>>>,
    roots: Option<Vec<Spanned<String>>>,
    crl: Option<Spanned<String>>,
    max_age: Option<Spanned<String>>,
    allow_stale_crl: Option<bool>,
    require_revocation: Option<bool>,
    stages: Option<BTreeMap<Spanned<String>, RawStage>>,
    mutable: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    signers: Vec<Spanned<String>>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, CustodyError> {
        let text = std::fs::read_to_string(path).map_err(|e| CustodyError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Policy::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Policy, CustodyError> {
        let file = TomlFile::new(ConfigFile::Policy, path, text);
        let at =
            |offset: usize, message: String| CustodyError::from(file.error_at(offset, message));
        let raw: RawPolicy = file.decode()?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let written = |s: Spanned<String>| Written::new(s.get_ref().clone(), s.span().start);
        let spec = RuleSpec {
            require: raw
                .require
                .unwrap_or_default()
                .into_iter()
                .map(written)
                .collect(),
            stages: raw
                .stages
                .unwrap_or_default()
                .into_iter()
                .map(|(name, stage)| StageSpec {
                    name: written(name),
                    signers: stage.signers.into_iter().map(written).collect(),
                })
                .collect(),
            max_age: raw.max_age.map(written),
            require_revocation: raw.require_revocation.unwrap_or(false),
        };
        let rules = Rules::new(spec).map_err(|e| {
            let message = match e.problem {
                RuleProblem::NoStage => {
                    "the policy requires no stage: add require = [\"build\", …]".to_string()
                }
                RuleProblem::MaxAge(m) => format!("max_age: {m}"),
                other => other.to_string(),
            };
            at(e.at.unwrap_or(0), message)
        })?;
        let mut p = Policy {
            rules,
            allow_stale_crl: raw.allow_stale_crl.unwrap_or(false),
            ..Policy::default()
        };
        for r in raw.roots.unwrap_or_default() {
            p.roots.push(dir.join(r.get_ref()));
        }
        if p.roots.is_empty() {
            return Err(at(
                0,
                "the policy trusts no root: add roots = [\"ca.crt\"]".into(),
            ));
        }
        p.crl = raw.crl.map(|c| dir.join(c.get_ref()));
        p.mutable = raw
            .mutable
            .unwrap_or_default()
            .into_iter()
            .map(Spanned::into_inner)
            .collect();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uca_pki::{Bare, Span};

    #[test]
    fn globs() {
        assert!(glob_match("build-*", "build-07", false));
        assert!(glob_match("*.ci.internal", "a.b.ci.internal", false));
        assert!(!glob_match("qa-?", "qa-10", false));
        assert!(glob_match("etc/*.conf", "etc/app.conf", true));
        assert!(!glob_match("etc/*.conf", "etc/d/app.conf", true));
        assert!(glob_match("etc/**", "etc/d/app.conf", true));
    }

    #[test]
    fn parses_a_policy() {
        let p = Policy::parse(
            "require = [\"build\",\"qa\"]\nroots=[\"ca.crt\"]\nmax_age = \"90\"\nrequire_revocation = true\n[stages.qa]\nsigners=[\"cn:qa-*\"]\n",
            Path::new("etc/p.toml"),
        )
        .unwrap();
        assert_eq!(p.rules.require, ["build", "qa"]);
        assert_eq!(p.rules.stages["qa"][0].field, NameField::CommonName);
        assert_eq!(
            p.rules.max_age,
            Some(Span::parse("90d", Bare::Days).unwrap())
        );
        assert!(p.rules.require_revocation);
        assert_eq!(p.roots, [Path::new("etc/ca.crt")]);
    }

    /// Each error of the policy file: its `FILE:LINE:COLUMN` and its words.
    #[test]
    fn errors_point_at_the_value() {
        const OK: &str = "require = [\"build\"]\nroots = [\"a\"]\n";
        let cases: &[(&str, &str, &str)] = &[
            (
                "require = [\"build\"]\nroots = [\"a\"]\nbogus = 1\n",
                "p.toml:3:1:",
                "bogus",
            ),
            (
                "require = [\"Build\"]\nroots = [\"a\"]\n",
                "p.toml:1:12:",
                "stage 'Build' must be lower-case",
            ),
            (
                "require = [\"qa\", \"qa\"]\nroots = [\"a\"]\n",
                "p.toml:1:18:",
                "stage 'qa' is required twice",
            ),
            (
                "require = []\nroots = [\"a\"]\n",
                "p.toml:1:1:",
                "the policy requires no stage: add require",
            ),
            (
                "require = [\"qa\"]\n",
                "p.toml:1:1:",
                "the policy trusts no root",
            ),
            (
                &format!("{OK}max_age = \"9x\"\n"),
                "p.toml:3:11:",
                "max_age: ",
            ),
            (
                &format!("{OK}[stages.QA]\nsigners = [\"x\"]\n"),
                "p.toml:3:9:",
                "stage 'QA' must be",
            ),
            (
                &format!("{OK}[stages.qa]\nsigners = [\"san:\"]\n"),
                "p.toml:4:12:",
                "signer pattern 'san:' is empty",
            ),
            (
                &format!("{OK}[stages.qa]\nsigners = []\n"),
                "p.toml:3:9:",
                "stage 'qa' lists no signers",
            ),
        ];
        for (text, place, words) in cases {
            let e = Policy::parse(text, Path::new("p.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(place), "{text:?}: {e}");
            assert!(e.contains(words), "{text:?}: {e}");
        }
    }
}
