//! `uca apply`: executes a [`PlanReport`]: issues, renews and reissues in batches, writes the
//! outputs with one sync per batch, records them in the exports table, and prunes.

use std::collections::HashMap;

use time::OffsetDateTime;
use uca_pki::sign::CaSigner;
use zeroize::Zeroizing;

use super::diff::{Change, OutputSettings, PLAN_NAMES, PlanReport, digest_files};
use super::file::{Component, Plan};
use crate::deploy::export::{ExportFormat, ExportOptions};
use crate::fsio::{self, io_err};
use crate::ledger::LedgerError;
use crate::ledger::{ExportStamp, Source, Status};
use crate::{Ca, CaError, IssueRequest, IssuedPaths};

impl Ca {
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
                    let p = IssuedPaths::of(&self.paths, &item.name).key;
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
                let path = o.path_for(&item.name, &plan.path);
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
                        return Err(CaError::EmptyPasswordFile { path: pf.clone() });
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
                    settings: OutputSettings::of(o).to_string(),
                    digest: String::new(),
                    updated_at: now,
                });
            }
            fsio::write_files(&files)?;
            let digests = crate::parallel::map(&stamps, |st| {
                let format: ExportFormat = st.format.parse()?;
                Ok::<_, CaError>(
                    digest_files(&format.files(&st.path, Some(&st.name))).unwrap_or_default(),
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
        let json = serde_json::to_string(&keep).map_err(LedgerError::Json)?;
        self.ledger.set_meta(PLAN_NAMES, &json)?;
        self.ledger.maintain()
    }
}

/// Certificates (and outputs) per batch: each batch costs one filesystem sync.
const APPLY_BATCH: usize = 1000;
