//! Judging a release: every attestation beside the manifest, against trusted roots, CRLs, the
//! CA's ledger and the policy's rules. The result is a table an auditor can read — stage,
//! signer, signed at, verdict, why — and one verdict. `discover` reads the signature files;
//! everything else is pure.

mod discover;
mod judge;
mod problem;
mod rules;

pub use discover::{AttestationFile, find_attestations};
pub use judge::{CrlStatus, Report, Row, Standing, Trust, evaluate, signer_purpose_problems};
pub use problem::{AttestationProblem, CrlProblem, REVOCATION_UNCHECKED, RevocationSource};
pub use rules::{RuleError, RuleProblem, RuleSpec, Rules, StageSpec, Written};
