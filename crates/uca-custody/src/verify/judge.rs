//! Judging a release's attestations: each signature against the trusted roots, CRLs, the CA's
//! ledger and the rules. One function per named check — stage, when, chain, purpose,
//! revocation, who — each adding typed problems (or notes) to the attestation's row. Pure: the
//! files were read by [`super::find_attestations`] and the caller.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uca_pki::Serial;
use uca_pki::Span;
use uca_pki::crl::{CrlInfo, parse_crl};
use uca_pki::inspect::{CertNames, cert_names};
use uca_pki::verify::{ChainCheck, Coded, Problem, Problems, check_chain};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::discover::AttestationFile;
use super::problem::{AttestationProblem, CrlProblem, REVOCATION_UNCHECKED, RevocationSource};
use super::rules::Rules;
use crate::cms::{Opened, open_detached};
use crate::layout::parse_description;
use crate::policy::check_stage_name;

/// How far in the future a signing time may be before it is refused (clock skew).
const FUTURE_SKEW_SECONDS: i64 = 300;

/// What the CA's ledger says about a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Not a certificate of this ledger.
    Unknown,
    /// Known and not revoked.
    Good,
    /// Revoked: since when and why, as far as the ledger knows.
    Revoked {
        since: Option<OffsetDateTime>,
        reason: Option<String>,
    },
}

/// What to trust and how strictly.
pub struct Trust<'a> {
    /// Trusted root certificates, DER.
    pub roots: Vec<Vec<u8>>,
    /// CRL files as read (PEM or DER), with the name to show.
    pub crls: Vec<(String, Vec<u8>)>,
    pub allow_stale_crl: bool,
    /// The CA's ledger, when verifying on the CA's machine: a serial's standing.
    pub ledger: Option<&'a dyn Fn(&Serial) -> Standing>,
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
    /// Why not, one sentence (and code) each; empty when ok.
    #[serde(flatten)]
    pub problems: Problems<AttestationProblem>,
    pub notes: Vec<String>,
    /// The sidecar digest this attestation signed, when it signed one.
    #[serde(skip)]
    pub meta_sha256: Option<String>,
}

impl Row {
    fn new(stage: &str, file: String) -> Row {
        Row {
            stage: stage.to_string(),
            file,
            signer: None,
            signer_serial: None,
            signed_at: None,
            chain: Vec::new(),
            ok: false,
            problems: Problems::default(),
            notes: Vec::new(),
            meta_sha256: None,
        }
    }
}

/// A CRL's standing.
#[derive(Debug, Clone)]
pub struct CrlStatus {
    pub file: String,
    pub issuer: Option<String>,
    pub number: Option<u64>,
    pub this_update: Option<OffsetDateTime>,
    pub next_update: Option<OffsetDateTime>,
    pub age_seconds: Option<i64>,
    pub stale: bool,
    /// Set when the CRL cannot be used; such a CRL fails the verification.
    pub problem: Option<CrlProblem>,
}

/// The JSON of a [`CrlStatus`]: `problem` stays the sentence, `problem_code` is added.
#[derive(Serialize)]
struct CrlStatusJson<'a> {
    file: &'a str,
    issuer: Option<&'a str>,
    number: Option<u64>,
    #[serde(with = "time::serde::rfc3339::option")]
    this_update: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    next_update: Option<OffsetDateTime>,
    age_seconds: Option<i64>,
    stale: bool,
    problem: Option<String>,
    problem_code: Option<&'static str>,
}

impl Serialize for CrlStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CrlStatusJson {
            file: &self.file,
            issuer: self.issuer.as_deref(),
            number: self.number,
            this_update: self.this_update,
            next_update: self.next_update,
            age_seconds: self.age_seconds,
            stale: self.stale,
            problem: self.problem.as_ref().map(ToString::to_string),
            problem_code: self.problem.as_ref().map(Coded::code),
        }
        .serialize(s)
    }
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
                let problem = (stale && !trust.allow_stale_crl).then_some(CrlProblem::Stale {
                    next_update: info.next_update,
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
                problem: Some(CrlProblem::Untrusted),
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
        let mut row = Row::new(&file.stage, file.path.display().to_string());
        match opened {
            Err(e) => row.problems.push(AttestationProblem::Signature(e)),
            Ok(o) => judge(&mut row, &o, trust, &crls, rules, meta_hex.as_deref(), now),
        }
        if let Err(e) = check_stage_name(&file.stage) {
            row.problems.push(AttestationProblem::StageName(e));
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

/// One attestation, check by check. The chain check ends the judgement when there is no
/// chain to judge further.
fn judge(
    row: &mut Row,
    o: &Opened,
    trust: &Trust<'_>,
    crls: &[ParsedCrl],
    rules: &Rules,
    meta_hex: Option<&str>,
    now: OffsetDateTime,
) {
    let Ok((_, leaf)) = X509Certificate::from_der(&o.signer_der) else {
        row.problems.push(AttestationProblem::UnparsableSigner);
        return;
    };
    let names = cert_names(&leaf);
    row.signer = Some(
        names
            .common_name
            .clone()
            .unwrap_or_else(|| leaf.subject().to_string()),
    );
    row.signer_serial = Some(Serial::from_der_content(leaf.raw_serial()).hex());
    check_stage(row, o.description.as_deref(), meta_hex);
    let at = check_when(row, o.signing_time, rules.max_age, now);
    let Some(chain) = check_signer_chain(row, o, &trust.roots, at) else {
        return;
    };
    row.problems.extend(purpose_problems(&leaf));
    check_revocation(
        row,
        &chain.path_der,
        crls,
        trust.ledger,
        rules.require_revocation,
    );
    check_who(row, rules, &names);
}

/// Stage: the signature's own word (its content hint) beats the file name, and the sidecar it
/// signed must be the one beside the manifest now.
fn check_stage(row: &mut Row, description: Option<&str>, meta_hex: Option<&str>) {
    let Some(hint) = description.and_then(parse_description) else {
        row.notes.push(format!(
            "the signature does not name its stage (not made by uca); the file name says '{}'",
            row.stage
        ));
        return;
    };
    if hint.stage != row.stage {
        row.problems.push(AttestationProblem::StageMismatch {
            signed: hint.stage,
            filed: row.stage.clone(),
        });
    }
    match (hint.meta_sha256, meta_hex) {
        (Some(signed), Some(now_hex)) if signed != now_hex => {
            row.problems.push(AttestationProblem::MetaChanged)
        }
        (Some(_), None) => row.problems.push(AttestationProblem::MetaMissing),
        (m, _) => row.meta_sha256 = m,
    }
}

/// When: the signing time, against now (clock skew) and the policy's age limit. Returns the
/// time the chain is judged at: the signing time, or now when there is none.
fn check_when(
    row: &mut Row,
    signing_time: Option<OffsetDateTime>,
    max_age: Option<Span>,
    now: OffsetDateTime,
) -> OffsetDateTime {
    let Some(t) = signing_time else {
        match max_age {
            Some(max) => row.problems.push(AttestationProblem::NoSigningTime { max }),
            None => row
                .notes
                .push("no signing time in the signature: certificates checked as of now".into()),
        }
        return now;
    };
    row.signed_at = Some(t);
    if (t - now).whole_seconds() > FUTURE_SKEW_SECONDS {
        row.problems
            .push(AttestationProblem::SignedInFuture { at: t });
    }
    if let Some(max) = max_age
        && now - t > max.as_time()
    {
        row.problems.push(AttestationProblem::TooOld {
            age: Span::between(t, now),
            max,
        });
    }
    t
}

/// Chain: to one of the trusted roots, every certificate valid at signing time. The first
/// root with a clean chain wins; else the most telling failure (one that reached a root over
/// one with no path). `None` when there is no chain to judge further.
fn check_signer_chain(
    row: &mut Row,
    o: &Opened,
    roots: &[Vec<u8>],
    at: OffsetDateTime,
) -> Option<ChainCheck> {
    let no_path = |c: &ChainCheck| {
        c.problems
            .iter()
            .any(|p| matches!(p, Problem::NoPath { .. }))
    };
    let mut best: Option<ChainCheck> = None;
    for root in roots {
        match check_chain(&o.signer_der, &o.certs, root, &[], at) {
            Ok(c) if c.problems.is_empty() => {
                best = Some(c);
                break;
            }
            Ok(c) => {
                if best.as_ref().is_none_or(|b| no_path(b) && !no_path(&c)) {
                    best = Some(c);
                }
            }
            Err(e) => row
                .problems
                .push(AttestationProblem::BadCertificate(e.to_string())),
        }
    }
    let Some(chain) = best else {
        row.problems.push(AttestationProblem::NoTrustedRoot);
        return None;
    };
    row.chain = chain.path.clone();
    for problem in chain.problems.iter().cloned() {
        row.problems.push(AttestationProblem::Chain { at, problem });
    }
    Some(chain)
}

/// Purpose: why a certificate may not sign releases — no codeSigning EKU, or a keyUsage
/// without digitalSignature (or nonRepudiation).
fn purpose_problems(leaf: &X509Certificate<'_>) -> Vec<AttestationProblem> {
    let mut problems = Vec::new();
    match leaf.extended_key_usage() {
        Ok(Some(eku)) if eku.value.code_signing => {}
        Ok(Some(eku)) => {
            let usages = [
                (eku.value.server_auth, "serverAuth"),
                (eku.value.client_auth, "clientAuth"),
                (eku.value.email_protection, "emailProtection"),
                (eku.value.any, "anyExtendedKeyUsage"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            problems.push(AttestationProblem::WrongPurpose {
                usages: Some(usages),
            });
        }
        _ => problems.push(AttestationProblem::WrongPurpose { usages: None }),
    }
    if let Ok(Some(ku)) = leaf.key_usage()
        && !ku.value.digital_signature()
        && !ku.value.non_repudiation()
    {
        problems.push(AttestationProblem::NoDigitalSignature);
    }
    problems
}

/// [`purpose_problems`] for a DER certificate, for `uca artifact attest` to refuse early.
pub fn signer_purpose_problems(der: &[u8]) -> Vec<AttestationProblem> {
    match X509Certificate::from_der(der) {
        Ok((_, c)) => purpose_problems(&c),
        Err(e) => vec![AttestationProblem::BadCertificate(format!(
            "the certificate cannot be parsed: {e}"
        ))],
    }
}

/// Revocation: each certificate on the path (signer first, root excluded) against its issuer's
/// CRLs and the CA's ledger. Unchecked is a note, or a problem when the rules require a check.
fn check_revocation(
    row: &mut Row,
    path: &[Vec<u8>],
    crls: &[ParsedCrl],
    ledger: Option<&dyn Fn(&Serial) -> Standing>,
    required: bool,
) {
    let mut covered = false;
    for (i, der) in path.iter().enumerate().take(path.len().saturating_sub(1)) {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            continue;
        };
        let serial = Serial::from_der_content(cert.raw_serial());
        let intermediate = (i > 0).then(|| cert.subject().to_string());
        let revoked = |since, reason, source| AttestationProblem::Revoked {
            intermediate: intermediate.clone(),
            serial: serial.clone(),
            since,
            reason,
            source,
        };
        if let Some(issuer_spki) = path.get(i + 1).and_then(|d| spki_of(d)) {
            for crl in crls.iter().filter(|c| c.spki == issuer_spki) {
                covered |= i == 0;
                if let Some((_, when, reason)) =
                    crl.info.revoked.iter().find(|(s, _, _)| *s == serial)
                {
                    row.problems.push(revoked(
                        Some(*when),
                        reason.clone(),
                        RevocationSource::Crl(crl.name.clone()),
                    ));
                }
            }
        }
        match ledger.map(|ledger| ledger(&serial)) {
            Some(Standing::Revoked { since, reason }) => {
                covered |= i == 0;
                row.problems
                    .push(revoked(since, reason, RevocationSource::Ledger));
            }
            Some(Standing::Good) => covered |= i == 0,
            Some(Standing::Unknown) | None => {}
        }
    }
    if !covered {
        if required {
            row.problems.push(AttestationProblem::RevocationUnchecked);
        } else {
            row.notes.push(REVOCATION_UNCHECKED.into());
        }
    }
}

/// Who: the signers the rules allow for this stage (any, when the stage lists none).
fn check_who(row: &mut Row, rules: &Rules, names: &CertNames) {
    if let Some(allowed) = rules.stages.get(&row.stage)
        && !allowed
            .iter()
            .any(|p| p.matches(names.common_name.as_deref(), &names.sans))
    {
        row.problems.push(AttestationProblem::SignerNotAllowed {
            cn: names.common_name.clone(),
            sans: names.sans.clone(),
            stage: row.stage.clone(),
            allowed: allowed.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::attestation_description;
    use crate::policy::SignerPattern;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2030-06-01 12:00 UTC);

    fn row(stage: &str) -> Row {
        Row::new(stage, format!("M.{stage}.p7s"))
    }

    fn codes(r: &Row) -> Vec<&'static str> {
        r.problems.codes()
    }

    #[test]
    fn stage_from_the_hint_beats_the_file_name() {
        let mut r = row("release");
        check_stage(&mut r, Some(&attestation_description("qa", None)), None);
        assert_eq!(codes(&r), ["stage_mismatch"]);

        let mut r = row("qa");
        let signed = attestation_description("qa", Some(&[1; 32]));
        check_stage(&mut r, Some(&signed), Some(&hex::encode([2u8; 32])));
        assert_eq!(codes(&r), ["meta_changed"]);

        let mut r = row("qa");
        check_stage(&mut r, Some(&signed), None);
        assert_eq!(codes(&r), ["meta_missing"]);

        let mut r = row("qa");
        check_stage(&mut r, Some(&signed), Some(&hex::encode([1u8; 32])));
        assert!(r.problems.is_empty());
        assert_eq!(r.meta_sha256, Some(hex::encode([1u8; 32])));

        let mut r = row("qa");
        check_stage(&mut r, Some("made elsewhere"), None);
        assert!(r.problems.is_empty() && r.notes[0].contains("does not name its stage"));
    }

    #[test]
    fn when_holds_the_signing_time_to_now_and_max_age() {
        let day = Span::parse("1d", uca_pki::Bare::Days).unwrap();
        let mut r = row("qa");
        assert_eq!(check_when(&mut r, None, None, NOW), NOW);
        assert!(r.problems.is_empty() && r.notes.len() == 1);

        let mut r = row("qa");
        check_when(&mut r, None, Some(day), NOW);
        assert_eq!(codes(&r), ["no_signing_time"]);

        let old = NOW - time::Duration::days(2);
        let mut r = row("qa");
        assert_eq!(check_when(&mut r, Some(old), Some(day), NOW), old);
        assert_eq!(codes(&r), ["too_old"]);
        assert_eq!(r.signed_at, Some(old));

        let mut r = row("qa");
        check_when(&mut r, Some(NOW + time::Duration::hours(1)), None, NOW);
        assert_eq!(codes(&r), ["signed_in_future"]);

        let mut r = row("qa");
        check_when(&mut r, Some(NOW + time::Duration::minutes(4)), None, NOW);
        assert!(r.problems.is_empty(), "within the clock skew");
    }

    #[test]
    fn who_must_match_the_stage_patterns() {
        let mut rules = Rules::default();
        rules
            .stages
            .insert("qa".into(), vec![SignerPattern::parse("cn:qa-*").unwrap()]);
        let names = |cn: &str| CertNames {
            common_name: Some(cn.into()),
            sans: vec![],
        };
        let mut r = row("qa");
        check_who(&mut r, &rules, &names("qa-bot"));
        assert!(r.problems.is_empty());
        check_who(&mut r, &rules, &names("build-1"));
        assert_eq!(codes(&r), ["signer_not_allowed"]);
        let mut r = row("build");
        check_who(&mut r, &rules, &names("anyone"));
        assert!(
            r.problems.is_empty(),
            "a stage without patterns takes any signer"
        );
    }

    #[test]
    fn unchecked_revocation_is_a_note_or_a_problem_by_rule() {
        let mut r = row("qa");
        check_revocation(&mut r, &[], &[], None, false);
        assert!(r.problems.is_empty() && r.notes == [REVOCATION_UNCHECKED]);
        let mut r = row("qa");
        check_revocation(&mut r, &[], &[], None, true);
        assert_eq!(codes(&r), ["revocation_unchecked"]);
    }

    #[test]
    fn no_root_means_no_chain() {
        let o = Opened {
            signer_der: Vec::new(),
            certs: Vec::new(),
            signing_time: None,
            description: None,
            digest: "sha256",
        };
        let mut r = row("qa");
        assert!(check_signer_chain(&mut r, &o, &[], NOW).is_none());
        assert_eq!(codes(&r), ["no_trusted_root"]);
    }
}
