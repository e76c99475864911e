//! Why an attestation or a CRL fails: typed findings whose `Display` is the auditor's sentence
//! and whose code is the stable word in `--json` (`problem_codes[]`, `problem_code`).

use std::fmt;

use time::OffsetDateTime;
use uca_pki::Serial;
use uca_pki::Span;
use uca_pki::validity::display_time;
use uca_pki::verify::{Coded, Problem};

use crate::cms::SignatureProblem;
use crate::policy::{SignerPattern, StageNameError};

/// Where a revocation was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    /// A CRL, by the name it was given (its file).
    Crl(String),
    /// The CA's ledger, on the CA's machine.
    Ledger,
}

/// Why one attestation does not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationProblem {
    /// The file is not a valid signature over this manifest.
    Signature(SignatureProblem),
    /// The file name's stage is not a stage name.
    StageName(StageNameError),
    /// The signer certificate embedded in the signature cannot be parsed.
    UnparsableSigner,
    /// The signature names another stage than its file name (renamed or swapped).
    StageMismatch { signed: String, filed: String },
    /// The sidecar's digest differs from the one this stage signed.
    MetaChanged,
    /// This stage signed a sidecar that is not there now.
    MetaMissing,
    /// The signing time is ahead of now by more than the allowed clock skew.
    SignedInFuture { at: OffsetDateTime },
    /// Older than the policy's max_age.
    TooOld { age: Span, max: Span },
    /// No signing time, yet the policy bounds the age.
    NoSigningTime { max: Span },
    /// A certificate offered as signer or chain cannot be read.
    BadCertificate(String),
    /// Nothing to chain to.
    NoTrustedRoot,
    /// The chain's problem, judged at the signing time (a `no_path` means another CA).
    Chain {
        at: OffsetDateTime,
        problem: Problem,
    },
    /// The signer certificate is not for code signing: `None` when it has no extendedKeyUsage,
    /// else the purposes it does have.
    WrongPurpose { usages: Option<Vec<&'static str>> },
    /// The signer's keyUsage does not allow signatures.
    NoDigitalSignature,
    /// A certificate on the path is revoked.
    Revoked {
        /// `None`: the signer; else the intermediate's subject.
        intermediate: Option<String>,
        serial: Serial,
        since: Option<OffsetDateTime>,
        reason: Option<String>,
        source: RevocationSource,
    },
    /// The policy requires a revocation check and none could be made.
    RevocationUnchecked,
    /// The policy allows other signers for this stage.
    SignerNotAllowed {
        cn: Option<String>,
        sans: Vec<String>,
        stage: String,
        allowed: Vec<SignerPattern>,
    },
}

/// The words for a revocation check that could not be made (a note, or a problem by policy).
pub const REVOCATION_UNCHECKED: &str =
    "revocation not checked: no CRL from the signer's issuer and no CA ledger at hand";

impl Coded for AttestationProblem {
    fn code(&self) -> &'static str {
        use AttestationProblem as P;
        match self {
            P::Signature(s) => match s {
                SignatureProblem::NotCms(_) => "not_cms",
                SignatureProblem::Unsupported(_) => "unsupported_signature",
                SignatureProblem::SignerNotEmbedded => "signer_not_embedded",
                SignatureProblem::DigestMismatch => "digest_mismatch",
                SignatureProblem::BadSignature => "bad_signature",
            },
            P::StageName(_) => "bad_stage_name",
            P::UnparsableSigner | P::BadCertificate(_) => "unparsable_certificate",
            P::StageMismatch { .. } => "stage_mismatch",
            P::MetaChanged => "meta_changed",
            P::MetaMissing => "meta_missing",
            P::SignedInFuture { .. } => "signed_in_future",
            P::TooOld { .. } => "too_old",
            P::NoSigningTime { .. } => "no_signing_time",
            P::NoTrustedRoot => "no_trusted_root",
            P::Chain { problem, .. } => problem.code(),
            P::WrongPurpose { .. } => "wrong_purpose",
            P::NoDigitalSignature => "no_digital_signature",
            P::Revoked { .. } => "revoked",
            P::RevocationUnchecked => "revocation_unchecked",
            P::SignerNotAllowed { .. } => "signer_not_allowed",
        }
    }
}

/// `CN=… (SAN …)`, as the policy's patterns see a signer.
fn describe_signer(f: &mut fmt::Formatter<'_>, cn: Option<&str>, sans: &[String]) -> fmt::Result {
    write!(f, "CN={}", cn.unwrap_or("(none)"))?;
    if !sans.is_empty() {
        write!(f, " (SAN {})", sans.join(", "))?;
    }
    Ok(())
}

impl fmt::Display for AttestationProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use AttestationProblem as P;
        match self {
            P::Signature(s) => s.fmt(f),
            P::StageName(e) => e.fmt(f),
            P::UnparsableSigner => f.write_str("the signer certificate cannot be parsed"),
            P::StageMismatch { signed, filed } => write!(
                f,
                "this signature attests stage '{signed}' but is filed as '{filed}' (renamed or swapped file)"
            ),
            P::MetaChanged => f.write_str("the sidecar (modes, links) changed after this stage signed it"),
            P::MetaMissing => {
                f.write_str("this stage signed a sidecar (MANIFEST.meta) that is missing now")
            }
            P::SignedInFuture { at } => write!(
                f,
                "signed in the future ({}): the signer's clock is wrong or the time is forged",
                display_time(*at)
            ),
            P::TooOld { age, max } => {
                write!(f, "attested {age} ago; the policy allows at most {max}")
            }
            P::NoSigningTime { max } => write!(
                f,
                "the signature has no signing time, so its age cannot be held to the policy's {max}"
            ),
            P::BadCertificate(e) => f.write_str(e),
            P::NoTrustedRoot => f.write_str("no trusted root is configured"),
            P::Chain {
                problem: p @ Problem::NoPath { .. },
                ..
            } => write!(
                f,
                "the signer does not chain to a trusted root ({p}): signed by a certificate from another CA?"
            ),
            P::Chain { at, problem } => {
                write!(f, "at signing time ({}): {problem}", display_time(*at))
            }
            P::WrongPurpose { usages: None } => f.write_str(
                "the signer certificate has no extendedKeyUsage codeSigning; issue one with --profile code-signing",
            ),
            P::WrongPurpose { usages: Some(u) } => write!(
                f,
                "the signer certificate is not for code signing (extendedKeyUsage: {}); issue one with --profile code-signing",
                if u.is_empty() { "other".to_string() } else { u.join(", ") }
            ),
            P::NoDigitalSignature => {
                f.write_str("the signer certificate's keyUsage does not allow signatures")
            }
            P::Revoked {
                intermediate,
                serial,
                since,
                reason,
                source,
            } => {
                match intermediate {
                    None => f.write_str("the signer certificate")?,
                    Some(s) => write!(f, "the intermediate {s}")?,
                }
                write!(f, " (serial {}) ", serial.hex())?;
                let reason = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                match source {
                    RevocationSource::Crl(name) => write!(
                        f,
                        "is revoked since {}{reason} per {name}",
                        since.map(display_time).unwrap_or_default()
                    ),
                    RevocationSource::Ledger => write!(
                        f,
                        "is revoked in the CA's ledger{}{reason}",
                        since
                            .map(|t| format!(" since {}", display_time(t)))
                            .unwrap_or_default()
                    ),
                }
            }
            P::RevocationUnchecked => {
                write!(f, "{REVOCATION_UNCHECKED} (the policy requires a revocation check)")
            }
            P::SignerNotAllowed {
                cn,
                sans,
                stage,
                allowed,
            } => {
                describe_signer(f, cn.as_deref(), sans)?;
                write!(
                    f,
                    " may not attest stage '{stage}': the policy allows {}",
                    allowed
                        .iter()
                        .map(|p| format!("'{p}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        }
    }
}

/// Why a CRL cannot be used; such a CRL fails the verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrlProblem {
    /// Past its nextUpdate, and stale CRLs are not allowed.
    Stale { next_update: Option<OffsetDateTime> },
    /// No trusted root and no CA on a signer's chain signed it.
    Untrusted,
}

impl Coded for CrlProblem {
    fn code(&self) -> &'static str {
        match self {
            CrlProblem::Stale { .. } => "crl_stale",
            CrlProblem::Untrusted => "crl_untrusted",
        }
    }
}

impl fmt::Display for CrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrlProblem::Stale { next_update } => write!(
                f,
                "the CRL is past its nextUpdate ({}): fetch a fresh one ('uca artifact bundle' on the CA) or pass --allow-stale-crl",
                next_update.map(display_time).unwrap_or_default()
            ),
            CrlProblem::Untrusted => {
                f.write_str("not a CRL signed by a trusted root or by a CA on a signer's chain")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_codes() {
        let t = time::macros::datetime!(2030-01-02 03:04:05 UTC);
        let cases: Vec<(AttestationProblem, &str, &str)> = vec![
            (
                AttestationProblem::StageMismatch {
                    signed: "qa".into(),
                    filed: "release".into(),
                },
                "stage_mismatch",
                "this signature attests stage 'qa' but is filed as 'release' (renamed or swapped file)",
            ),
            (
                AttestationProblem::WrongPurpose {
                    usages: Some(vec!["serverAuth", "clientAuth"]),
                },
                "wrong_purpose",
                "the signer certificate is not for code signing (extendedKeyUsage: serverAuth, clientAuth); issue one with --profile code-signing",
            ),
            (
                AttestationProblem::Chain {
                    at: t,
                    problem: Problem::NoPath {
                        anchor: "CN=A".into(),
                        ends_at: uca_pki::verify::PathEnd::OtherRoot {
                            root: "CN=B".into(),
                        },
                    },
                },
                "no_path",
                "the signer does not chain to a trusted root (no path to this CA (CN=A): the chain ends at another root, CN=B): signed by a certificate from another CA?",
            ),
            (
                AttestationProblem::Revoked {
                    intermediate: None,
                    serial: Serial::from_der_content(&[0x01, 0x02]),
                    since: None,
                    reason: Some("keyCompromise".into()),
                    source: RevocationSource::Ledger,
                },
                "revoked",
                "the signer certificate (serial 0102) is revoked in the CA's ledger (keyCompromise)",
            ),
            (
                AttestationProblem::SignerNotAllowed {
                    cn: Some("ci".into()),
                    sans: vec!["ci.example".into()],
                    stage: "qa".into(),
                    allowed: vec![SignerPattern::parse("cn:qa-bot").unwrap()],
                },
                "signer_not_allowed",
                "CN=ci (SAN ci.example) may not attest stage 'qa': the policy allows 'cn:qa-bot'",
            ),
        ];
        for (p, code, text) in cases {
            assert_eq!(p.code(), code);
            assert_eq!(p.to_string(), text);
        }
        assert_eq!(CrlProblem::Untrusted.code(), "crl_untrusted");
    }
}
