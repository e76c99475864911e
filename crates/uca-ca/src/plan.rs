//! Declarative plans (`uca.plan.toml`): which components exist, how each consumes its
//! credentials. `uca plan` diffs a plan against the ledger and the files on disk; `uca apply`
//! converges, in batches that each cost one filesystem sync.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use toml::Spanned;
use uca_pki::sign::CaSigner;
use uca_pki::{KeyType, Profile, San, Subject};
use zeroize::Zeroizing;

use uca_pki::{Bare, Span};

use crate::toml_file::{ConfigFile, TomlFile};
use crate::export::{ExportFormat, ExportOptions};
use crate::fsio::{self, io_err};
use crate::ledger::{ExportStamp, Ledger, Source, Status};
use crate::{Ca, CaError, IssueRequest};

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
    pub owner: Option<(u32, u32)>,
    pub key_mode: u32,
    pub cert_mode: u32,
    pub dir_mode: u32,
    pub password_file: Option<PathBuf>,
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
        let mode = |m: &Option<Spanned<String>>, default: u32| match m {
            None => Ok(default),
            Some(m) => u32::from_str_radix(m.get_ref().trim_start_matches("0o"), 8)
                .ok()
                .filter(|v| *v <= 0o7777)
                .ok_or_else(|| {
                    at(
                        m.span().start,
                        format!("'{}' is not an octal mode", m.get_ref()),
                    )
                }),
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
                let owner = match &o.owner {
                    None => None,
                    Some(s) => {
                        let bad = || {
                            at(
                                s.span().start,
                                format!("owner '{}' is not UID:GID", s.get_ref()),
                            )
                        };
                        let (u, g) = s.get_ref().split_once(':').ok_or_else(bad)?;
                        Some((u.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?))
                    }
                };
                for inst in &instances {
                    let expanded = resolve(path, &o.path.get_ref().replace("{name}", inst));
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
                let key_mode = mode(&o.key_mode, fsio::KEY_MODE)?;
                if key_mode & 0o007 != 0 {
                    return Err(at(
                        o.key_mode.as_ref().map(|m| m.span().start).unwrap_or(0),
                        "a key mode must not let everyone read the key".into(),
                    ));
                }
                outputs.push(PlanOutput {
                    format,
                    path: o.path.get_ref().clone(),
                    owner,
                    key_mode,
                    cert_mode: mode(&o.cert_mode, fsio::PUBLIC_MODE)?,
                    dir_mode: mode(&o.dir_mode, fsio::PRIVATE_DIR_MODE)?,
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

/// What `apply` will do for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Issue,
    Renew,
    Reissue,
    ReExport,
    Unchanged,
    Remove,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Issue => "issue",
            Change::Renew => "renew",
            Change::Reissue => "reissue",
            Change::ReExport => "re-export",
            Change::Unchanged => "unchanged",
            Change::Remove => "remove",
        }
    }
}

/// One line of the diff.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    pub name: String,
    pub change: Change,
    /// Why, in words (which SAN changed, how long is left, which output is missing…).
    pub why: String,
    /// Outputs to (re)write.
    pub outputs: Vec<OutputChange>,
}

/// One output to (re)write, and why.
#[derive(Debug, Clone, Serialize)]
pub struct OutputChange {
    pub format: String,
    pub path: PathBuf,
    pub why: String,
}

/// The whole diff.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub items: Vec<PlanItem>,
}

impl PlanReport {
    pub fn count(&self, c: Change) -> usize {
        self.items.iter().filter(|i| i.change == c).count()
    }

    pub fn is_noop(&self) -> bool {
        self.items.iter().all(|i| i.change == Change::Unchanged)
    }
}

const PLAN_NAMES: &str = "plan_names";

fn settings_of(o: &PlanOutput) -> String {
    format!(
        "{}|{:o}|{:o}|{:o}|{:?}",
        o.format, o.key_mode, o.cert_mode, o.dir_mode, o.owner
    )
}

fn output_path(o: &PlanOutput, instance: &str, plan: &Path) -> PathBuf {
    resolve(plan, &o.path.replace("{name}", instance))
}

/// SHA-256 over the files as they are on disk (name, mode, owner, bytes); `None` if one is
/// missing.
fn digest_files(files: &[PathBuf]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut all = Vec::new();
    for f in files {
        let meta = std::fs::metadata(f).ok()?;
        let data = std::fs::read(f).ok()?;
        all.extend_from_slice(
            format!(
                "{}|{:o}|{}|{}|{}\n",
                f.display(),
                meta.mode() & 0o7777,
                meta.uid(),
                meta.gid(),
                data.len()
            )
            .as_bytes(),
        );
        all.extend_from_slice(&data);
    }
    Some(uca_pki::Fingerprint::of_der(&all).to_string())
}

/// The files an output writes, to check that they are all there.
fn output_files(format: ExportFormat, path: &Path, instance: &str) -> Vec<PathBuf> {
    match format {
        ExportFormat::PemDir | ExportFormat::Volume => [
            "cert.pem",
            "key.pem",
            "chain.pem",
            "fullchain.pem",
            "ca.pem",
        ]
        .iter()
        .map(|f| path.join(f))
        .collect(),
        ExportFormat::Haproxy => vec![path.join(format!("{instance}.pem")), path.join("ca.pem")],
        ExportFormat::Nginx => ["fullchain.pem", "key.pem", "client-ca.pem"]
            .iter()
            .map(|f| path.join(f))
            .collect(),
        _ => vec![path.to_path_buf()],
    }
}

impl Ca {
    /// Diffs `plan` against the ledger and the output files.
    pub fn plan(&self, plan: &Plan, now: OffsetDateTime) -> Result<PlanReport, CaError> {
        let rows = self.ledger.summaries()?;
        let mut current: HashMap<&str, &crate::CertRecord> = HashMap::new();
        for r in &rows {
            if r.status == Status::Issued && r.source == Source::Issue {
                current.insert(r.name.as_str(), r);
            }
        }
        let stamps: HashMap<(PathBuf, String), ExportStamp> = self
            .ledger
            .export_stamps()?
            .into_iter()
            .map(|s| ((s.path.clone(), s.name.clone()), s))
            .collect();
        // Hashing every output file is most of a no-op plan's work: spread it over the cores.
        let outputs: Vec<(PathBuf, String, Vec<PathBuf>)> = plan
            .components
            .iter()
            .flat_map(|c| {
                c.instances.iter().flat_map(move |inst| {
                    c.outputs.iter().map(move |o| {
                        let path = output_path(o, inst, &plan.path);
                        let files = output_files(o.format, &path, inst);
                        (path, inst.clone(), files)
                    })
                })
            })
            .filter(|(path, inst, _)| stamps.contains_key(&(path.clone(), inst.clone())))
            .collect();
        let digests: HashMap<(PathBuf, String), Option<String>> =
            crate::parallel::map(&outputs, |(path, inst, files)| {
                Ok::<_, CaError>(((path.clone(), inst.clone()), digest_files(files)))
            })?
            .into_iter()
            .collect();
        let mut items = Vec::new();
        let mut wanted = HashSet::new();
        for c in &plan.components {
            for inst in &c.instances {
                wanted.insert(inst.clone());
                let name_san = crate::issue::parse_name(inst)?;
                let desired: BTreeSet<String> = self
                    .config
                    .san_rules
                    .sans_for(&name_san, &c.sans)?
                    .iter()
                    .map(San::to_string)
                    .collect();
                let (change, why) = match current.get(inst.as_str()) {
                    None => (Change::Issue, "no certificate yet".to_string()),
                    Some(r) => {
                        let have: BTreeSet<String> = r.sans.iter().cloned().collect();
                        if have != desired {
                            let added: Vec<_> = desired.difference(&have).cloned().collect();
                            let removed: Vec<_> = have.difference(&desired).cloned().collect();
                            (
                                Change::Reissue,
                                format!(
                                    "SANs change: +[{}] -[{}]",
                                    added.join(", "),
                                    removed.join(", ")
                                ),
                            )
                        } else if r.key_type != c.key.as_str() {
                            (
                                Change::Reissue,
                                format!("key type {} → {}", r.key_type, c.key),
                            )
                        } else if r.profile != c.profile.as_str() {
                            (
                                Change::Reissue,
                                format!("profile {} → {}", r.profile, c.profile),
                            )
                        } else if r.not_after - now <= c.renew_before {
                            (
                                Change::Renew,
                                format!("expires {}", uca_pki::validity::display_time(r.not_after)),
                            )
                        } else {
                            (Change::Unchanged, String::new())
                        }
                    }
                };
                let serial = current
                    .get(inst.as_str())
                    .map(|r| r.serial.hex())
                    .unwrap_or_default();
                let mut outputs = Vec::new();
                let mut output_why = Vec::new();
                for o in &c.outputs {
                    let path = output_path(o, inst, &plan.path);
                    let stale = match stamps.get(&(path.clone(), inst.clone())) {
                        _ if change != Change::Unchanged => Some("new certificate"),
                        None => Some("never written"),
                        Some(st) if st.serial != serial => Some("holds an older certificate"),
                        Some(st) if st.settings != settings_of(o) => {
                            Some("format, modes or owner changed")
                        }
                        Some(st) => match digests
                            .get(&(path.clone(), inst.clone()))
                            .cloned()
                            .flatten()
                        {
                            None => Some("files missing"),
                            Some(d) if d != st.digest => Some("files changed on disk"),
                            Some(_) => None,
                        },
                    };
                    if let Some(w) = stale {
                        output_why.push(format!("{} {}: {w}", o.format, path.display()));
                        outputs.push(OutputChange {
                            format: o.format.to_string(),
                            path,
                            why: w.to_string(),
                        });
                    }
                }
                let (change, why) = if change == Change::Unchanged && !outputs.is_empty() {
                    (Change::ReExport, output_why.join("; "))
                } else {
                    (change, why)
                };
                items.push(PlanItem {
                    name: inst.clone(),
                    change,
                    why,
                    outputs,
                });
            }
        }
        if let Some(before) = self.ledger.meta(PLAN_NAMES)? {
            let before: Vec<String> = serde_json::from_str(&before).unwrap_or_default();
            for name in before.into_iter().filter(|n| !wanted.contains(n)) {
                if current.contains_key(name.as_str()) {
                    items.push(PlanItem {
                        name,
                        change: Change::Remove,
                        why: "no longer in the plan".into(),
                        outputs: Vec::new(),
                    });
                }
            }
        }
        Ok(PlanReport { items })
    }

    /// Converges: issues, renews and reissues in batches, re-exports, then (with `prune`)
    /// revokes what left the plan. `progress(phase, done, total)` reports as it goes.
    pub fn apply(
        &mut self,
        signer: &CaSigner,
        plan: &Plan,
        report: &PlanReport,
        prune: bool,
        now: OffsetDateTime,
        progress: &mut dyn FnMut(&str, usize, usize),
    ) -> Result<(), CaError> {
        let by_name: HashMap<&str, &Component> = plan
            .components
            .iter()
            .flat_map(|c| c.instances.iter().map(move |i| (i.as_str(), c)))
            .collect();
        let mut requests = Vec::new();
        for item in &report.items {
            let Some(c) = by_name.get(item.name.as_str()) else {
                continue;
            };
            let (force, reuse_key) = match item.change {
                Change::Issue => (false, None),
                Change::Reissue => (true, None),
                Change::Renew => {
                    let p = self.paths.issued_dir(&item.name).join("key.pem");
                    (
                        true,
                        Some(Zeroizing::new(
                            std::fs::read_to_string(&p).map_err(io_err("read", &p))?,
                        )),
                    )
                }
                _ => continue,
            };
            requests.push(IssueRequest {
                name: item.name.clone(),
                extra_sans: c.sans.clone(),
                profile: c.profile,
                key_type: c.key,
                days: c.days,
                no_rules: false,
                force,
                reuse_key,
                sans_override: None,
            });
        }
        let total = requests.len();
        let mut done = 0;
        progress("issue", 0, total);
        for chunk in requests.chunks(APPLY_BATCH) {
            self.issue(signer, chunk.to_vec(), now)?;
            done += chunk.len();
            progress("issue", done, total);
        }
        // Exports: rendered after issuing, written with one sync per batch.
        let serials: HashMap<String, String> = self
            .ledger
            .summaries()?
            .into_iter()
            .filter(|r| r.status == Status::Issued && r.source == Source::Issue)
            .map(|r| (r.name, r.serial.hex()))
            .collect();
        let mut jobs = Vec::new();
        for item in report.items.iter().filter(|i| !i.outputs.is_empty()) {
            let Some(c) = by_name.get(item.name.as_str()) else {
                continue;
            };
            for o in &c.outputs {
                let path = output_path(o, &item.name, &plan.path);
                if item
                    .outputs
                    .iter()
                    .any(|c| c.path == path && c.format == o.format.as_str())
                {
                    jobs.push((item.name.clone(), o, path));
                }
            }
        }
        let total = jobs.len();
        progress("export", 0, total);
        let mut done = 0;
        for chunk in jobs.chunks(APPLY_BATCH) {
            let mut files = Vec::new();
            let mut stamps = Vec::new();
            for (name, o, path) in chunk {
                let mut opts = ExportOptions::new(o.format, path.clone());
                opts.owner = o.owner;
                opts.key_mode = o.key_mode;
                opts.cert_mode = o.cert_mode;
                opts.dir_mode = o.dir_mode;
                if let Some(pf) = &o.password_file {
                    let text =
                        Zeroizing::new(std::fs::read_to_string(pf).map_err(io_err("read", pf))?);
                    let first = text.lines().next().unwrap_or("");
                    if first.is_empty() {
                        return Err(CaError::Invalid(format!(
                            "the password file {} is empty",
                            pf.display()
                        )));
                    }
                    opts.password = Some(Zeroizing::new(first.to_string()));
                }
                let (pending, _) = self.render_export(Some(name), &opts)?;
                files.extend(pending);
                stamps.push(ExportStamp {
                    path: path.clone(),
                    name: name.clone(),
                    format: o.format.to_string(),
                    serial: serials.get(name).cloned().unwrap_or_default(),
                    settings: settings_of(o),
                    digest: String::new(),
                    updated_at: now,
                });
            }
            fsio::write_files(&files)?;
            let digests = crate::parallel::map(&stamps, |st| {
                let format: ExportFormat = st.format.parse()?;
                Ok::<_, CaError>(
                    digest_files(&output_files(format, &st.path, &st.name)).unwrap_or_default(),
                )
            })?;
            for (st, d) in stamps.iter_mut().zip(digests) {
                st.digest = d;
            }
            self.ledger.record_exports(&stamps)?;
            done += chunk.len();
            progress("export", done, total);
        }
        if prune {
            for item in report.items.iter().filter(|i| i.change == Change::Remove) {
                self.revoke(
                    &item.name,
                    uca_pki::crl::RevocationReason::CessationOfOperation,
                    now,
                )?;
            }
        }
        let names: Vec<&String> = plan
            .components
            .iter()
            .flat_map(|c| c.instances.iter())
            .collect();
        let mut keep: Vec<String> = names.into_iter().cloned().collect();
        if !prune {
            // Removed components stay tracked until they are pruned.
            keep.extend(
                report
                    .items
                    .iter()
                    .filter(|i| i.change == Change::Remove)
                    .map(|i| i.name.clone()),
            );
        }
        let json = serde_json::to_string(&keep).map_err(|e| CaError::Ledger(e.to_string()))?;
        self.ledger.set_meta(PLAN_NAMES, &json)?;
        self.ledger.maintain()
    }
}

/// Certificates (and outputs) per batch: each batch costs one filesystem sync.
const APPLY_BATCH: usize = 1000;
