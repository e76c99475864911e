//! Judging a release: every attestation beside the manifest, against trusted roots, CRLs, the
//! CA's ledger and the policy's rules. The result is a table an auditor can read — stage,
//! signer, signed at, verdict, why — and one verdict. Pure: files are read by the caller.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uca_pki::Span;
use uca_pki::Serial;
use uca_pki::crl::{CrlInfo, parse_crl};
use uca_pki::validity::display_time;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::CustodyError;
use crate::cms::open_detached;
use crate::policy::{SignerPattern, check_stage_name};

/// How far in the future a signing time may be before it is refused (clock skew).
const FUTURE_SKEW_SECONDS: i64 = 300;

/// The description uca writes into a signature's content hint.
pub fn attestation_description(stage: &str, meta_sha256: Option<&[u8; 32]>) -> String {
    match meta_sha256 {
        Some(h) => format!(
            "uca-attestation stage={stage} meta-sha256={}",
            hex::encode(h)
        ),
        None => format!("uca-attestation stage={stage}"),
    }
}

/// Reads back [`attestation_description`]: (stage, meta digest).
fn parse_description(d: &str) -> Option<(String, Option<String>)> {
    let mut words = d.split(' ');
    if words.next()? != "uca-attestation" {
        return None;
    }
    let mut stage = None;
    let mut meta = None;
    for w in words {
        if let Some(s) = w.strip_prefix("stage=") {
            stage = Some(s.to_string());
        } else if let Some(m) = w.strip_prefix("meta-sha256=") {
            meta = Some(m.to_string());
        }
    }
    Some((stage?, meta))
}

/// A signature file found beside a manifest.
#[derive(Debug, Clone)]
pub struct AttestationFile {
    pub stage: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// A manifest's own file beside it: `MANIFEST<suffix>` (the sidecar, signatures, the bundle).
pub fn beside(manifest: &Path, suffix: &str) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The default file for a stage: `MANIFEST.<stage>.p7s`.
pub fn attestation_path(manifest: &Path, stage: &str) -> PathBuf {
    beside(manifest, &format!(".{stage}.p7s"))
}

/// The sidecar of a manifest: `MANIFEST.meta`.
pub fn meta_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".meta")
}

/// The CRL `uca artifact bundle` puts beside a manifest: `MANIFEST.crl`.
pub fn bundled_crl_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".crl")
}

/// The CA certificate `uca artifact bundle` puts beside a manifest: `MANIFEST.ca.crt`.
pub fn bundled_ca_path(manifest: &Path) -> PathBuf {
    beside(manifest, ".ca.crt")
}

/// Every `MANIFEST.<stage>.p7s` beside the manifest, sorted by stage.
pub fn find_attestations(manifest: &Path) -> Result<Vec<AttestationFile>, CustodyError> {
    let io = |p: &Path, e| CustodyError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let dir = match manifest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(base) = manifest.file_name().and_then(|n| n.to_str()) else {
        return Err(CustodyError::Input(format!(
            "{} has no UTF-8 file name",
            manifest.display()
        )));
    };
    let prefix = format!("{base}.");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
        let entry = entry.map_err(|e| io(&dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stage) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".p7s"))
        else {
            continue;
        };
        let path = entry.path();
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        out.push(AttestationFile {
            stage: stage.to_string(),
            path,
            bytes,
        });
    }
    out.sort_by(|a, b| a.stage.cmp(&b.stage));
    Ok(out)
}

/// What the CA's ledger says about a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not a certificate of this ledger.
    Unknown,
    /// Known and not revoked.
    Good,
    /// Revoked, with the words to show (when, why).
    Revoked(String),
}

/// What to trust and how strictly.
pub struct Trust<'a> {
    /// Trusted root certificates, DER.
    pub roots: Vec<Vec<u8>>,
    /// CRL files as read (PEM or DER), with the name to show.
    pub crls: Vec<(String, Vec<u8>)>,
    pub allow_stale_crl: bool,
    /// The CA's ledger, when verifying on the CA's machine: a serial's revocation, in words.
    pub ledger: Option<&'a dyn Fn(&Serial) -> Standing>,
}

/// What the policy demands.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub require: Vec<String>,
    pub stages: BTreeMap<String, Vec<SignerPattern>>,
    pub max_age: Option<Span>,
    /// Fail, rather than note, an attestation whose signer's revocation could not be checked.
    pub require_revocation: bool,
}

/// One line of the auditor's table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub stage: String,
    pub file: String,
    pub signer: Option<String>,
    pub signer_serial: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub signed_at: Option<OffsetDateTime>,
    /// Subjects from the signer up to the trusted root.
    pub chain: Vec<String>,
    pub ok: bool,
    /// Why not, one sentence each; empty when ok.
    pub problems: Vec<String>,
    pub notes: Vec<String>,
    /// The sidecar digest this attestation signed, when it signed one.
    #[serde(skip)]
    pub meta_sha256: Option<String>,
}

/// A CRL's standing.
#[derive(Debug, Clone, Serialize)]
pub struct CrlStatus {
    pub file: String,
    pub issuer: Option<String>,
    pub number: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub this_update: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
    pub age_seconds: Option<i64>,
    pub stale: bool,
    /// Set when the CRL cannot be used; such a CRL fails the verification.
    pub problem: Option<String>,
}

/// The verdict on the attestations.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Required stages with no valid attestation.
    pub missing: Vec<String>,
    pub crls: Vec<CrlStatus>,
    /// Whether a valid attestation covers the sidecar (so its modes can be trusted).
    pub meta_covered: bool,
    /// The attestations alone satisfy the policy (files are judged separately).
    pub attestations_hold: bool,
}

struct ParsedCrl {
    name: String,
    spki: Vec<u8>,
    info: CrlInfo,
}

fn cert_names(cert: &X509Certificate<'_>) -> (Option<String>, Vec<String>) {
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_string);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                GeneralName::DNSName(d) => sans.push(d.to_string()),
                GeneralName::RFC822Name(e) => sans.push(e.to_string()),
                GeneralName::URI(u) => sans.push(u.to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => sans.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&ip[..]).unwrap_or([0; 4]))
                            .to_string(),
                    ),
                    16 => sans.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&ip[..]).unwrap_or([0; 16]))
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    (cn, sans)
}

fn spki_of(der: &[u8]) -> Option<Vec<u8>> {
    X509Certificate::from_der(der)
        .ok()
        .map(|(_, c)| c.public_key().raw.to_vec())
}

/// Reads and checks the CRLs against every certificate that could have issued them (roots, and
/// any CA certificate embedded in the signatures).
fn load_crls(
    trust: &Trust<'_>,
    candidates: &[Vec<u8>],
    now: OffsetDateTime,
) -> (Vec<ParsedCrl>, Vec<CrlStatus>) {
    let mut parsed = Vec::new();
    let mut statuses = Vec::new();
    for (name, bytes) in &trust.crls {
        let found = trust
            .roots
            .iter()
            .chain(candidates.iter())
            .filter_map(|c| spki_of(c))
            .find_map(|spki| parse_crl(bytes, &spki).ok().map(|info| (spki, info)));
        match found {
            Some((spki, info)) => {
                let stale = info.next_update.is_some_and(|n| now > n);
                let problem = (stale && !trust.allow_stale_crl).then(|| {
                    format!(
                        "the CRL is past its nextUpdate ({}): fetch a fresh one ('uca artifact bundle' on the CA) or pass --allow-stale-crl",
                        info.next_update.map(display_time).unwrap_or_default()
                    )
                });
                statuses.push(CrlStatus {
                    file: name.clone(),
                    issuer: Some(info.issuer.clone()),
                    number: info.number,
                    this_update: Some(info.this_update),
                    next_update: info.next_update,
                    age_seconds: Some((now - info.this_update).whole_seconds()),
                    stale,
                    problem,
                });
                parsed.push(ParsedCrl {
                    name: name.clone(),
                    spki,
                    info,
                });
            }
            None => statuses.push(CrlStatus {
                file: name.clone(),
                issuer: None,
                number: None,
                this_update: None,
                next_update: None,
                age_seconds: None,
                stale: false,
                problem: Some(
                    "not a CRL signed by a trusted root or by a CA on a signer's chain".into(),
                ),
            }),
        }
    }
    (parsed, statuses)
}

/// Checks every attestation of `manifest` (its exact bytes) and the required stages.
pub fn evaluate(
    manifest: &[u8],
    meta: Option<&[u8]>,
    files: &[AttestationFile],
    trust: &Trust<'_>,
    rules: &Rules,
    now: OffsetDateTime,
) -> Report {
    let meta_hex = meta.map(|m| hex::encode(Sha256::digest(m)));
    let opened: Vec<_> = files
        .iter()
        .map(|f| open_detached(&f.bytes, manifest))
        .collect();
    let embedded: Vec<Vec<u8>> = opened
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .flat_map(|o| o.certs.iter().cloned())
        .collect();
    let (crls, crl_status) = load_crls(trust, &embedded, now);
    let mut rows = Vec::new();
    for (file, opened) in files.iter().zip(opened) {
        let mut row = Row {
            stage: file.stage.clone(),
            file: file.path.display().to_string(),
            signer: None,
            signer_serial: None,
            signed_at: None,
            chain: Vec::new(),
            ok: false,
            problems: Vec::new(),
            notes: Vec::new(),
            meta_sha256: None,
        };
        match opened {
            Err(e) => row.problems.push(e.to_string()),
            Ok(o) => judge(&mut row, &o, trust, &crls, rules, meta_hex.as_deref(), now),
        }
        if let Err(m) = check_stage_name(&file.stage) {
            row.problems.push(m);
        }
        row.ok = row.problems.is_empty();
        rows.push(row);
    }
    let missing: Vec<String> = rules
        .require
        .iter()
        .filter(|s| !rows.iter().any(|r| &r.stage == *s && r.ok))
        .cloned()
        .collect();
    let meta_covered = match &meta_hex {
        Some(h) => rows
            .iter()
            .any(|r| r.ok && r.meta_sha256.as_deref() == Some(h.as_str())),
        None => false,
    };
    let attestations_hold = missing.is_empty()
        && rows.iter().all(|r| r.ok)
        && crl_status.iter().all(|c| c.problem.is_none());
    Report {
        rows,
        missing,
        crls: crl_status,
        meta_covered,
        attestations_hold,
    }
}

fn judge(
    row: &mut Row,
    o: &crate::cms::Opened,
    trust: &Trust<'_>,
    crls: &[ParsedCrl],
    rules: &Rules,
    meta_hex: Option<&str>,
    now: OffsetDateTime,
) {
    let Ok((_, leaf)) = X509Certificate::from_der(&o.signer_der) else {
        row.problems
            .push("the signer certificate cannot be parsed".into());
        return;
    };
    let (cn, sans) = cert_names(&leaf);
    row.signer = Some(cn.clone().unwrap_or_else(|| leaf.subject().to_string()));
    row.signer_serial = Some(Serial::from_der_content(leaf.raw_serial()).hex());
    // Stage: the signature's own word beats the file name.
    match o.description.as_deref().and_then(parse_description) {
        Some((stage, meta)) => {
            if stage != row.stage {
                row.problems.push(format!(
                    "this signature attests stage '{stage}' but is filed as '{}' (renamed or swapped file)",
                    row.stage
                ));
            }
            match (meta, meta_hex) {
                (Some(signed), Some(now_hex)) if signed != now_hex => row
                    .problems
                    .push("the sidecar (modes, links) changed after this stage signed it".into()),
                (Some(_), None) => row
                    .problems
                    .push("this stage signed a sidecar (MANIFEST.meta) that is missing now".into()),
                (m, _) => row.meta_sha256 = m,
            }
        }
        None => row.notes.push(format!(
            "the signature does not name its stage (not made by uca); the file name says '{}'",
            row.stage
        )),
    }
    // When: the signing time, checked against now and the policy's age limit.
    let at = match o.signing_time {
        Some(t) => {
            row.signed_at = Some(t);
            if (t - now).whole_seconds() > FUTURE_SKEW_SECONDS {
                row.problems.push(format!(
                    "signed in the future ({}): the signer's clock is wrong or the time is forged",
                    display_time(t)
                ));
            }
            if let Some(max) = rules.max_age
                && now - t > max.as_time()
            {
                row.problems.push(format!(
                    "attested {} ago; the policy allows at most {max}",
                    Span::between(t, now)
                ));
            }
            t
        }
        None => {
            if let Some(max) = rules.max_age {
                row.problems.push(format!(
                    "the signature has no signing time, so its age cannot be held to the policy's {max}"
                ));
            } else {
                row.notes.push(
                    "no signing time in the signature: certificates checked as of now".into(),
                );
            }
            now
        }
    };
    // Chain: to one of the trusted roots, every certificate valid at signing time.
    let mut best: Option<uca_pki::verify::ChainCheck> = None;
    for root in &trust.roots {
        match uca_pki::verify::check_chain(&o.signer_der, &o.certs, root, &[], at) {
            Ok(c) if c.problems.is_empty() => {
                best = Some(c);
                break;
            }
            Ok(c) => {
                let better = best.as_ref().is_none_or(|b| {
                    b.problems.iter().any(|p| p.starts_with("no path"))
                        && !c.problems.iter().any(|p| p.starts_with("no path"))
                });
                if better {
                    best = Some(c);
                }
            }
            Err(e) => row.problems.push(e.to_string()),
        }
    }
    let Some(chain) = best else {
        row.problems.push("no trusted root is configured".into());
        return;
    };
    row.chain = chain.path.clone();
    for p in &chain.problems {
        if p.starts_with("no path") {
            row.problems.push(format!(
                "the signer does not chain to a trusted root ({p}): signed by a certificate from another CA?"
            ));
        } else {
            row.problems
                .push(format!("at signing time ({}): {p}", display_time(at)));
        }
    }
    // Purpose: codeSigning, and a key usage that allows signatures.
    row.problems.extend(purpose_problems(&leaf));
    // Revocation: each certificate on the path against its issuer's CRL, and the ledger.
    let path = &chain.path_der;
    let mut covered = false;
    for (i, der) in path.iter().enumerate().take(path.len().saturating_sub(1)) {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            continue;
        };
        let serial = Serial::from_der_content(cert.raw_serial());
        let who = if i == 0 {
            "the signer certificate".to_string()
        } else {
            format!("the intermediate {}", cert.subject())
        };
        if let Some(issuer_spki) = path.get(i + 1).and_then(|d| spki_of(d)) {
            for crl in crls.iter().filter(|c| c.spki == issuer_spki) {
                covered |= i == 0;
                if let Some((_, when, reason)) =
                    crl.info.revoked.iter().find(|(s, _, _)| *s == serial)
                {
                    row.problems.push(format!(
                        "{who} (serial {}) is revoked since {}{} per {}",
                        serial.hex(),
                        display_time(*when),
                        reason
                            .as_deref()
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default(),
                        crl.name
                    ));
                }
            }
        }
        match trust.ledger.map(|ledger| ledger(&serial)) {
            Some(Standing::Revoked(words)) => {
                covered |= i == 0;
                row.problems
                    .push(format!("{who} (serial {}) {words}", serial.hex()));
            }
            Some(Standing::Good) => covered |= i == 0,
            _ => {}
        }
    }
    if !covered {
        let words =
            "revocation not checked: no CRL from the signer's issuer and no CA ledger at hand";
        if rules.require_revocation {
            row.problems
                .push(format!("{words} (the policy requires a revocation check)"));
        } else {
            row.notes.push(words.into());
        }
    }
    // Who: the policy's allowed signers for this stage.
    if let Some(allowed) = rules.stages.get(&row.stage)
        && !allowed.iter().any(|p| p.matches(cn.as_deref(), &sans))
    {
        row.problems.push(format!(
            "{} may not attest stage '{}': the policy allows {}",
            describe_signer(cn.as_deref(), &sans),
            row.stage,
            allowed
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

fn describe_signer(cn: Option<&str>, sans: &[String]) -> String {
    let mut s = format!("CN={}", cn.unwrap_or("(none)"));
    if !sans.is_empty() {
        s.push_str(&format!(" (SAN {})", sans.join(", ")));
    }
    s
}

/// Why a certificate may not sign releases: no codeSigning EKU, or a keyUsage without
/// digitalSignature.
fn purpose_problems(leaf: &X509Certificate<'_>) -> Vec<String> {
    let mut problems = Vec::new();
    match leaf.extended_key_usage() {
        Ok(Some(eku)) if eku.value.code_signing => {}
        Ok(Some(eku)) => {
            let mut have = Vec::new();
            if eku.value.server_auth {
                have.push("serverAuth");
            }
            if eku.value.client_auth {
                have.push("clientAuth");
            }
            if eku.value.email_protection {
                have.push("emailProtection");
            }
            if eku.value.any {
                have.push("anyExtendedKeyUsage");
            }
            problems.push(format!(
                "the signer certificate is not for code signing (extendedKeyUsage: {}); issue one with --profile code-signing",
                if have.is_empty() { "other".to_string() } else { have.join(", ") }
            ));
        }
        _ => problems.push(
            "the signer certificate has no extendedKeyUsage codeSigning; issue one with --profile code-signing".into(),
        ),
    }
    if let Ok(Some(ku)) = leaf.key_usage()
        && !ku.value.digital_signature()
        && !ku.value.non_repudiation()
    {
        problems.push("the signer certificate's keyUsage does not allow signatures".into());
    }
    problems
}

/// [`purpose_problems`] for a DER certificate, for `uca artifact attest` to refuse early.
pub fn signer_purpose_problems(der: &[u8]) -> Vec<String> {
    match X509Certificate::from_der(der) {
        Ok((_, c)) => purpose_problems(&c),
        Err(e) => vec![format!("the certificate cannot be parsed: {e}")],
    }
}
