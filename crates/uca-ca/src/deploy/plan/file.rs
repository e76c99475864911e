//! The plan file format (`uca.plan.toml`): the raw TOML shapes, and [`Plan::parse`], which
//! checks every value through its type's one constructor and reports `FILE:LINE:COLUMN`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use time::Duration;
use toml::Spanned;
use uca_pki::{Bare, KeyType, Profile, San, Span, Subject};

use crate::CaError;
use crate::deploy::export::{ExportFormat, FormatFile};
use crate::deploy::perms::{FileMode, Owner};
use crate::fsio::{self, io_err};
use crate::toml_file::{ConfigFile, TomlFile};

/// The CA a plan may declare (used by `apply --init`).
#[derive(Debug, Clone)]
pub struct PlanCa {
    pub name: Option<String>,
    pub subject: Subject,
    pub key: KeyType,
    pub days: u32,
}

/// One output of a component: a format written to a path (`{name}` is the instance name).
#[derive(Debug, Clone)]
pub struct PlanOutput {
    pub format: ExportFormat,
    pub path: String,
    pub owner: Option<Owner>,
    pub key_mode: FileMode,
    pub cert_mode: FileMode,
    pub dir_mode: FileMode,
    pub password_file: Option<PathBuf>,
}

impl PlanOutput {
    /// Where this output goes for `instance` (`{name}` expanded, relative to the plan file).
    pub fn path_for(&self, instance: &str, plan: &Path) -> PathBuf {
        resolve(plan, &self.path.replace("{name}", instance))
    }

    /// The files this output writes for `instance`.
    pub fn files_for(&self, instance: &str, plan: &Path) -> Vec<FormatFile> {
        self.format
            .files(&self.path_for(instance, plan), Some(instance))
    }
}

/// A component: one NAME, or NAME1..NAMEn with `count`.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub instances: Vec<String>,
    pub profile: Profile,
    pub sans: Vec<San>,
    pub key: KeyType,
    pub days: u32,
    pub renew_before: Duration,
    pub outputs: Vec<PlanOutput>,
}

/// A parsed plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub path: PathBuf,
    pub ca: Option<PlanCa>,
    pub components: Vec<Component>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    ca: Option<RawCa>,
    defaults: Option<RawDefaults>,
    #[serde(default)]
    component: Vec<RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCa {
    name: Option<String>,
    subject: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    days: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    profile: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    days: Option<Spanned<i64>>,
    renew_before: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    name: Spanned<String>,
    count: Option<Spanned<i64>>,
    profile: Option<Spanned<String>>,
    #[serde(default)]
    sans: Vec<Spanned<String>>,
    key: Option<Spanned<String>>,
    days: Option<Spanned<i64>>,
    renew_before: Option<Spanned<String>>,
    #[serde(default)]
    output: Vec<RawOutput>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    format: Spanned<String>,
    path: Spanned<String>,
    owner: Option<Spanned<String>>,
    key_mode: Option<Spanned<String>>,
    cert_mode: Option<Spanned<String>>,
    dir_mode: Option<Spanned<String>>,
    password_file: Option<String>,
}

impl Plan {
    pub fn load(path: &Path) -> Result<Plan, CaError> {
        let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
        Plan::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Plan, CaError> {
        let file = TomlFile::new(ConfigFile::Plan, path, text);
        let at = |offset: usize, message: String| CaError::from(file.error_at(offset, message));
        let raw: RawPlan = file.decode()?;
        let f = crate::config::Fields { file };
        let days = |d: &Spanned<i64>| f.days(d);
        let key = |k: &Spanned<String>| f.key(k);
        let profile = |p: &Spanned<String>| f.profile(p);
        let span = |s: &Spanned<String>| {
            Span::parse(s.get_ref(), Bare::Days)
                .map(Span::as_time)
                .map_err(|e| at(s.span().start, e.to_string()))
        };
        let mode = |m: &Option<Spanned<String>>, default: FileMode| match m {
            None => Ok(default),
            Some(m) => m
                .get_ref()
                .parse::<FileMode>()
                .map_err(|e| at(m.span().start, e.to_string())),
        };
        let ca = match raw.ca {
            None => None,
            Some(c) => Some(PlanCa {
                name: c.name,
                subject: match &c.subject {
                    Some(s) => Subject::parse(s.get_ref())
                        .map_err(|e| at(s.span().start, e.to_string()))?,
                    None => Subject::default(),
                },
                key: c
                    .key
                    .as_ref()
                    .map(key)
                    .transpose()?
                    .unwrap_or(KeyType::EcP256),
                days: c
                    .days
                    .as_ref()
                    .map(days)
                    .transpose()?
                    .unwrap_or(uca_pki::validity::DEFAULT_ROOT_DAYS),
            }),
        };
        let d = raw.defaults.unwrap_or_default();
        let def_profile = d
            .profile
            .as_ref()
            .map(profile)
            .transpose()?
            .unwrap_or(Profile::Both);
        let def_key = d
            .key
            .as_ref()
            .map(key)
            .transpose()?
            .unwrap_or(KeyType::EcP256);
        let def_days = d
            .days
            .as_ref()
            .map(days)
            .transpose()?
            .unwrap_or(uca_pki::validity::DEFAULT_LEAF_DAYS);
        let def_renew = d
            .renew_before
            .as_ref()
            .map(span)
            .transpose()?
            .unwrap_or(Duration::days(30));
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut written: HashSet<PathBuf> = HashSet::new();
        let mut components = Vec::new();
        for c in raw.component {
            let base = crate::issue::parse_name(c.name.get_ref())
                .map_err(|e| at(c.name.span().start, e.to_string()))?
                .value();
            let instances = match &c.count {
                None => vec![base.clone()],
                Some(n) => {
                    let count = usize::try_from(*n.get_ref())
                        .ok()
                        .filter(|n| (1..=100_000).contains(n))
                        .ok_or_else(|| {
                            at(n.span().start, "count must be between 1 and 100000".into())
                        })?;
                    (1..=count).map(|i| format!("{base}{i}")).collect()
                }
            };
            for i in &instances {
                if seen.insert(i.clone(), c.name.span().start).is_some() {
                    return Err(at(c.name.span().start, format!("'{i}' is declared twice")));
                }
                crate::issue::parse_name(i).map_err(|e| at(c.name.span().start, e.to_string()))?;
            }
            let sans = c
                .sans
                .iter()
                .map(|s| San::parse(s.get_ref()).map_err(|e| at(s.span().start, e.to_string())))
                .collect::<Result<Vec<_>, _>>()?;
            let mut outputs = Vec::new();
            for o in &c.output {
                let format: ExportFormat = o.format.get_ref().parse().map_err(|_| {
                    at(
                        o.format.span().start,
                        format!(
                            "unknown output format '{}' (one of {})",
                            o.format.get_ref(),
                            ExportFormat::names()
                        ),
                    )
                })?;
                // HAProxy's directory of NAME.pem files is meant to be shared.
                if instances.len() > 1
                    && format != ExportFormat::Haproxy
                    && !o.path.get_ref().contains("{name}")
                {
                    return Err(at(o.path.span().start, "with count > 1 the path must contain {name}, or every instance writes the same files".into()));
                }
                if format.needs_password() && o.password_file.is_none() {
                    return Err(at(
                        o.format.span().start,
                        format!("the {format} output needs password_file = \"…\""),
                    ));
                }
                let owner = o
                    .owner
                    .as_ref()
                    .map(|s| {
                        s.get_ref()
                            .parse::<Owner>()
                            .map_err(|e| at(s.span().start, format!("owner {e}")))
                    })
                    .transpose()?;
                for inst in &instances {
                    let expanded = resolve(path, &o.path.get_ref().replace("{name}", inst));
                    // HAProxy's shared directory: each instance owns only its NAME.pem.
                    let key = if format == ExportFormat::Haproxy {
                        expanded.join(format!("{inst}.pem"))
                    } else {
                        expanded
                    };
                    if !written.insert(key.clone()) {
                        return Err(at(
                            o.path.span().start,
                            format!("another output already writes {}", key.display()),
                        ));
                    }
                }
                let key_mode = mode(&o.key_mode, FileMode::KEY)?.for_key().map_err(|e| {
                    at(
                        o.key_mode.as_ref().map(|m| m.span().start).unwrap_or(0),
                        e.to_string(),
                    )
                })?;
                outputs.push(PlanOutput {
                    format,
                    path: o.path.get_ref().clone(),
                    owner,
                    key_mode,
                    cert_mode: mode(&o.cert_mode, FileMode::PUBLIC)?,
                    dir_mode: mode(&o.dir_mode, FileMode::PRIVATE_DIR)?,
                    password_file: o.password_file.as_ref().map(|p| resolve(path, p)),
                });
            }
            components.push(Component {
                name: base,
                instances,
                profile: c
                    .profile
                    .as_ref()
                    .map(profile)
                    .transpose()?
                    .unwrap_or(def_profile),
                sans,
                key: c.key.as_ref().map(key).transpose()?.unwrap_or(def_key),
                days: c.days.as_ref().map(days).transpose()?.unwrap_or(def_days),
                renew_before: c
                    .renew_before
                    .as_ref()
                    .map(span)
                    .transpose()?
                    .unwrap_or(def_renew),
                outputs,
            });
        }
        Ok(Plan {
            path: path.to_path_buf(),
            ca,
            components,
        })
    }
}

/// Relative paths in a plan are relative to the plan file.
fn resolve(plan: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        fsio::parent_of(plan).join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::perms::ModeError;

    fn parse(text: &str) -> Result<Plan, CaError> {
        Plan::parse(text, Path::new("/etc/uca/plan.toml"))
    }

    const OUTPUT: &str = "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n";

    /// Every refusal names its line and column (1-based, the value's first character).
    #[test]
    fn malformed_plans_name_the_place_and_the_problem() {
        let with = |extra: &str| format!("{OUTPUT}{extra}");
        let cases: Vec<(String, usize, usize, &str)> = vec![
            ("[[component]]\nname = \"a\"\ncolour = \"red\"\n".into(), 3, 1, "unknown field `colour`"),
            (with("  mode = \"0600\"\n"), 6, 3, "unknown field `mode`"),
            ("[defaults]\nrenew = \"30d\"\n".into(), 2, 1, "unknown field `renew`"),
            ("[defaults]\nrenew_before = \"soon\"\n".into(), 2, 16, "soon"),
            ("[[component]]\nname = \"a\"\ncount = 0\n".into(), 3, 9, "count must be between 1 and 100000"),
            ("[[component]]\nname = \"a\"\ncount = -1\n".into(), 3, 9, "count must be between 1 and 100000"),
            ("[[component]]\nname = \"rmq\"\ncount = 2\n\n[[component]]\nname = \"rmq1\"\n".into(), 6, 8, "'rmq1' is declared twice"),
            ("[[component]]\nname = \"a\"\n\n[[component]]\nname = \"a\"\n".into(), 5, 8, "'a' is declared twice"),
            ("[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"jks\"\n  path = \"x\"\n".into(), 4, 12, "unknown output format 'jks' (one of pem-dir, "),
            ("[[component]]\nname = \"a\"\ncount = 2\n  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n".into(), 6, 10, "with count > 1 the path must contain {name}"),
            ("[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"pkcs12\"\n  path = \"out/a.p12\"\n".into(), 4, 12, "the pkcs12 output needs password_file = \"…\""),
            ("[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"java-truststore\"\n  path = \"t.p12\"\n".into(), 4, 12, "the java-truststore output needs password_file"),
            (with("  key_mode = \"0644\"\n"), 6, 14, "a key mode must not let everyone read the key"),
            (with("  key_mode = \"0601\"\n"), 6, 14, "a key mode must not let everyone read the key"),
            (with("  key_mode = \"rw\"\n"), 6, 14, "'rw' is not an octal mode"),
            (with("  cert_mode = \"0800\"\n"), 6, 15, "'0800' is not an octal mode"),
            (with("  dir_mode = \"17777\"\n"), 6, 14, "'17777' is not an octal mode"),
            (with("  owner = \"root\"\n"), 6, 11, "owner 'root' is not UID:GID"),
            (with("  owner = \"1:x\"\n"), 6, 11, "owner '1:x' is not UID:GID"),
            (format!("{OUTPUT}  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n"), 8, 10, "another output already writes /etc/uca/out/a"),
            ("[ca]\nsubject = \"XX=1\"\n".into(), 2, 11, ""),
            ("[ca]\ndays = 0\n".into(), 2, 8, "days must be between 1 and"),
            ("[defaults]\nkey = \"dsa\"\n".into(), 2, 7, "dsa"),
            ("[[component]]\nname = \"a b\"\n".into(), 2, 8, "a b"),
            ("[[component]]\nname = \"a\"\nsans = [\"ftp:x\"]\n".into(), 3, 9, ""),
        ];
        for (text, line, column, fragment) in cases {
            let err = match parse(&text) {
                Err(CaError::Config(e)) => e,
                other => panic!("{text:?}: {other:?}"),
            };
            assert_eq!((err.line, err.column), (line, column), "{text:?}: {err}");
            assert!(err.message.contains(fragment), "{text:?}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("/etc/uca/plan.toml:{line}:{column}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn outputs_take_modes_and_owner_through_their_types() {
        let plan = parse(&format!(
            "{OUTPUT}  key_mode = \"0640\"\n  cert_mode = \"0o444\"\n  owner = \"999:998\"\n"
        ))
        .unwrap();
        let o = &plan.components[0].outputs[0];
        assert_eq!(o.key_mode, "0640".parse::<FileMode>().unwrap());
        assert_eq!(o.cert_mode.bits(), 0o444);
        assert_eq!(o.dir_mode, FileMode::PRIVATE_DIR);
        assert_eq!(o.owner, Some(Owner { uid: 999, gid: 998 }));
        let plain = parse(OUTPUT).unwrap();
        let o = &plain.components[0].outputs[0];
        assert_eq!(
            (o.key_mode, o.cert_mode, o.owner),
            (FileMode::KEY, FileMode::PUBLIC, None)
        );
    }

    /// The plan and `uca export --key-mode` call the same constructor: whatever one refuses,
    /// so does the other.
    #[test]
    fn plan_and_export_flags_refuse_the_same_key_modes() {
        for value in [
            "0644", "0604", "0777", "0602", "0600", "0640", "0400", "8", "0o7",
        ] {
            let door = value.parse::<FileMode>().and_then(FileMode::for_key);
            let plan = parse(&format!("{OUTPUT}  key_mode = \"{value}\"\n"));
            assert_eq!(door.is_ok(), plan.is_ok(), "{value}");
            if let (Err(e), Err(CaError::Config(c))) = (&door, &plan) {
                assert_eq!(c.message, e.to_string(), "{value}");
                assert!(matches!(
                    e,
                    ModeError::NotOctal { .. } | ModeError::WorldReadableKey { .. }
                ));
            }
        }
    }

    #[test]
    fn haproxy_instances_share_a_directory_and_other_formats_need_name() {
        let shared = "[[component]]\nname = \"lb\"\ncount = 3\n  [[component.output]]\n  format = \"haproxy\"\n  path = \"haproxy\"\n";
        let plan = parse(shared).unwrap();
        assert_eq!(plan.components[0].instances, ["lb1", "lb2", "lb3"]);
        let files = plan.components[0].outputs[0].files_for("lb2", &plan.path);
        assert_eq!(files[0].path, Path::new("/etc/uca/haproxy/lb2.pem"));
    }
}
