//! `uca plan`: the desired state (a [`Plan`]) against the facts (the ledger's current
//! certificates, its exports table and the files on disk), as a list of changes.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::{San, SanRules};

use super::file::{Plan, PlanOutput};
use crate::deploy::export::{ExportFormat, FormatFile};
use crate::deploy::perms::{FileMode, Owner};
use crate::ledger::{CertRecord, ExportStamp, Source, Status};
use crate::{Ca, CaError};

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

/// The ledger meta key holding the NAMEs the last `apply` managed (JSON list).
pub(super) const PLAN_NAMES: &str = "plan_names";

/// What of an output, besides its certificate, decides its bytes and permissions: when these
/// change, the files are rewritten.
///
/// Stored in the ledger's exports table as `FORMAT|KEY|CERT|DIR|OWNER` (modes in octal without
/// a leading zero, the owner as `None` or `Some((UID, GID))`): the form every uca so far has
/// written, so existing CA directories keep their stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputSettings {
    pub format: ExportFormat,
    pub key_mode: FileMode,
    pub cert_mode: FileMode,
    pub dir_mode: FileMode,
    pub owner: Option<Owner>,
}

impl OutputSettings {
    pub fn of(o: &PlanOutput) -> OutputSettings {
        OutputSettings {
            format: o.format,
            key_mode: o.key_mode,
            cert_mode: o.cert_mode,
            dir_mode: o.dir_mode,
            owner: o.owner,
        }
    }
}

impl fmt::Display for OutputSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{:o}|{:o}|{:o}|",
            self.format,
            self.key_mode.bits(),
            self.cert_mode.bits(),
            self.dir_mode.bits()
        )?;
        match self.owner {
            None => f.write_str("None"),
            Some(o) => write!(f, "Some(({}, {}))", o.uid, o.gid),
        }
    }
}

/// Reads the stored form back; `Err(())` for anything else (treated as "changed").
impl FromStr for OutputSettings {
    type Err = ();
    fn from_str(s: &str) -> Result<OutputSettings, ()> {
        let mut parts = s.splitn(5, '|');
        let mut next = || parts.next().ok_or(());
        let format: ExportFormat = next()?.parse().map_err(|_| ())?;
        let mode = |p: &str| -> Result<FileMode, ()> { p.parse().map_err(|_| ()) };
        let key_mode = mode(next()?)?;
        let cert_mode = mode(next()?)?;
        let dir_mode = mode(next()?)?;
        let owner = match next()? {
            "None" => None,
            some => {
                let pair = some
                    .strip_prefix("Some((")
                    .and_then(|p| p.strip_suffix("))"))
                    .ok_or(())?;
                let (uid, gid) = pair.split_once(", ").ok_or(())?;
                Some(Owner {
                    uid: uid.parse().map_err(|_| ())?,
                    gid: gid.parse().map_err(|_| ())?,
                })
            }
        };
        Ok(OutputSettings {
            format,
            key_mode,
            cert_mode,
            dir_mode,
            owner,
        })
    }
}

/// SHA-256 over the files as they are on disk (name, mode, owner, bytes); `None` if one is
/// missing.
pub(super) fn digest_files(files: &[FormatFile]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut all = Vec::new();
    for f in files.iter().map(|f| &f.path) {
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

/// The facts a plan is compared with, as the CA holds them.
pub struct PlanFacts<'a> {
    /// The ledger's rows (without their PEM).
    pub rows: Vec<CertRecord>,
    /// The ledger's exports table: which output holds which serial, written how.
    pub stamps: Vec<ExportStamp>,
    /// The NAMEs the last `apply` managed (a JSON list), if any apply ran.
    pub managed: Option<String>,
    pub san_rules: &'a SanRules,
}

impl Ca {
    /// Diffs `plan` against the ledger and the output files.
    pub fn plan(&self, plan: &Plan, now: OffsetDateTime) -> Result<PlanReport, CaError> {
        let facts = PlanFacts {
            rows: self.ledger.summaries()?,
            stamps: self.ledger.export_stamps()?,
            managed: self.ledger.meta(PLAN_NAMES)?,
            san_rules: &self.config.san_rules,
        };
        diff(plan, &facts, now)
    }
}

/// The changes that make the outputs of `plan` true, given `facts` and the files on disk.
pub fn diff(plan: &Plan, facts: &PlanFacts, now: OffsetDateTime) -> Result<PlanReport, CaError> {
    let mut current: HashMap<&str, &CertRecord> = HashMap::new();
    for r in &facts.rows {
        if r.status == Status::Issued && r.source == Source::Issue {
            current.insert(r.name.as_str(), r);
        }
    }
    let stamps: HashMap<(PathBuf, String), &ExportStamp> = facts
        .stamps
        .iter()
        .map(|s| ((s.path.clone(), s.name.clone()), s))
        .collect();
    // Hashing every output file is most of a no-op plan's work: spread it over the cores.
    let outputs: Vec<(PathBuf, String, Vec<FormatFile>)> = plan
        .components
        .iter()
        .flat_map(|c| {
            c.instances.iter().flat_map(move |inst| {
                c.outputs.iter().map(move |o| {
                    let path = o.path_for(inst, &plan.path);
                    let files = o.files_for(inst, &plan.path);
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
            let desired: BTreeSet<String> = facts
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
                let path = o.path_for(inst, &plan.path);
                let stale = match stamps.get(&(path.clone(), inst.clone())) {
                    _ if change != Change::Unchanged => Some("new certificate"),
                    None => Some("never written"),
                    Some(st) if st.serial != serial => Some("holds an older certificate"),
                    Some(st)
                        if st.settings.parse::<OutputSettings>() != Ok(OutputSettings::of(o)) =>
                    {
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
    if let Some(before) = &facts.managed {
        let before: Vec<String> = serde_json::from_str(before).unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Stamps written by earlier versions (`format!("{}|{:o}|{:o}|{:o}|{:?}", …)`) still read.
    #[test]
    fn stored_settings_read_back_in_the_form_earlier_versions_wrote() {
        let cases = [
            (
                "pem-dir|600|644|700|None",
                OutputSettings {
                    format: ExportFormat::PemDir,
                    key_mode: FileMode::KEY,
                    cert_mode: FileMode::PUBLIC,
                    dir_mode: FileMode::PRIVATE_DIR,
                    owner: None,
                },
            ),
            (
                "volume|640|444|750|Some((999, 998))",
                OutputSettings {
                    format: ExportFormat::Volume,
                    key_mode: "0640".parse().unwrap(),
                    cert_mode: "0444".parse().unwrap(),
                    dir_mode: "0750".parse().unwrap(),
                    owner: Some(Owner { uid: 999, gid: 998 }),
                },
            ),
        ];
        for (stored, settings) in cases {
            assert_eq!(stored.parse::<OutputSettings>(), Ok(settings));
            assert_eq!(settings.to_string(), stored);
        }
        for bad in [
            "",
            "pem-dir",
            "jks|600|644|700|None",
            "pem-dir|600|644|700|Some(1)",
        ] {
            assert_eq!(bad.parse::<OutputSettings>(), Err(()), "{bad}");
        }
    }
}
