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
use uca_pki::{Bare, Span};

use crate::CustodyError;

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

impl SignerPattern {
    pub fn parse(s: &str) -> Result<SignerPattern, String> {
        let (field, glob) = if let Some(g) = s.strip_prefix("cn:") {
            (NameField::CommonName, g)
        } else if let Some(g) = s.strip_prefix("san:") {
            (NameField::San, g)
        } else {
            (NameField::Either, s)
        };
        if glob.is_empty() {
            return Err(format!("signer pattern '{s}' is empty"));
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

/// A stage name as it appears in `MANIFEST.<stage>.p7s`.
pub fn check_stage_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "stage '{s}' must be lower-case letters, digits, '-' or '_' (e.g. build, qa, release)"
        ))
    }
}

/// A parsed policy. Paths are resolved against the policy file's directory.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub require: Vec<String>,
    pub roots: Vec<PathBuf>,
    pub crl: Option<PathBuf>,
    pub max_age: Option<Span>,
    pub allow_stale_crl: bool,
    /// Every signer's revocation must be checkable (a CRL from its issuer, or the CA's ledger).
    pub require_revocation: bool,
    /// Allowed signers per stage; a stage without an entry accepts any code-signing
    /// certificate that chains to a trusted root.
    pub stages: BTreeMap<String, Vec<SignerPattern>>,
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
        let at = |offset: usize, message: String| CustodyError::from(file.error_at(offset, message));
        let raw: RawPolicy = file.decode()?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut p = Policy {
            allow_stale_crl: raw.allow_stale_crl.unwrap_or(false),
            require_revocation: raw.require_revocation.unwrap_or(false),
            ..Policy::default()
        };
        for s in raw.require.unwrap_or_default() {
            check_stage_name(s.get_ref()).map_err(|m| at(s.span().start, m))?;
            if p.require.contains(s.get_ref()) {
                return Err(at(
                    s.span().start,
                    format!("stage '{}' is required twice", s.get_ref()),
                ));
            }
            p.require.push(s.into_inner());
        }
        if p.require.is_empty() {
            return Err(at(
                0,
                "the policy requires no stage: add require = [\"build\", …]".into(),
            ));
        }
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
        if let Some(m) = raw.max_age {
            p.max_age = Some(
                Span::parse(m.get_ref(), Bare::Days)
                    .map_err(|e| at(m.span().start, format!("max_age: {e}")))?,
            );
        }
        for (name, stage) in raw.stages.unwrap_or_default() {
            check_stage_name(name.get_ref()).map_err(|m| at(name.span().start, m))?;
            let mut pats = Vec::new();
            for s in stage.signers {
                pats.push(SignerPattern::parse(s.get_ref()).map_err(|m| at(s.span().start, m))?);
            }
            if pats.is_empty() {
                return Err(at(
                    name.span().start,
                    format!(
                        "stage '{}' lists no signers; remove the section to accept any signer from the trusted roots",
                        name.get_ref()
                    ),
                ));
            }
            p.stages.insert(name.into_inner(), pats);
        }
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
    fn located_errors() {
        let p = Path::new("p.toml");
        let e = Policy::parse("require = [\"build\"]\nroots = [\"a\"]\nbogus = 1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:3:1:"), "{e}");
        let e = Policy::parse(
            "require = [\"build\"]\nroots = [\"a\"]\nmax_age = \"9x\"\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p.toml:3:11") && e.contains("unit"), "{e}");
        let ok = Policy::parse(
            "require = [\"build\",\"qa\"]\nroots=[\"ca.crt\"]\n[stages.qa]\nsigners=[\"cn:qa-*\"]\n",
            p,
        )
        .unwrap();
        assert_eq!(ok.stages["qa"][0].field, NameField::CommonName);
    }
}
