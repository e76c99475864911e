//! What a release must show: required stages, allowed signers per stage, the age limit. Built by
//! one constructor, [`Rules::new`], that both front doors call (the policy file and
//! `uca artifact verify`'s flags), so every rule is checked once and worded once.

use std::collections::BTreeMap;
use std::fmt;

use uca_pki::{Bare, Span, SpanError};

use crate::policy::{SignerPattern, SignerPatternError, StageNameError, check_stage_name};

/// What the policy demands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub require: Vec<String>,
    pub stages: BTreeMap<String, Vec<SignerPattern>>,
    pub max_age: Option<Span>,
    /// Fail, rather than note, an attestation whose signer's revocation could not be checked.
    pub require_revocation: bool,
}

/// One value as written, and where (a file offset, or `()` for a flag): errors point back at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written<L> {
    pub text: String,
    pub at: L,
}

impl<L> Written<L> {
    pub fn new(text: impl Into<String>, at: L) -> Written<L> {
        Written {
            text: text.into(),
            at,
        }
    }
}

/// The signers allowed for one stage, as written.
#[derive(Debug, Clone)]
pub struct StageSpec<L> {
    pub name: Written<L>,
    pub signers: Vec<Written<L>>,
}

/// The rules as written, before they are checked.
#[derive(Debug, Clone)]
pub struct RuleSpec<L> {
    pub require: Vec<Written<L>>,
    pub stages: Vec<StageSpec<L>>,
    pub max_age: Option<Written<L>>,
    pub require_revocation: bool,
}

/// Why rules cannot be built. `Display` is the message; the front door adds where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleProblem {
    StageName(StageNameError),
    RequiredTwice {
        stage: String,
    },
    /// No stage is required: the front door says how to require one in its own syntax.
    NoStage,
    MaxAge(SpanError),
    SignerPattern(SignerPatternError),
    NoSigners {
        stage: String,
    },
}

impl fmt::Display for RuleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleProblem::StageName(e) => e.fmt(f),
            RuleProblem::RequiredTwice { stage } => write!(f, "stage '{stage}' is required twice"),
            RuleProblem::NoStage => f.write_str("no stage is required"),
            RuleProblem::MaxAge(e) => e.fmt(f),
            RuleProblem::SignerPattern(e) => e.fmt(f),
            RuleProblem::NoSigners { stage } => write!(
                f,
                "stage '{stage}' lists no signers; remove the section to accept any signer from the trusted roots"
            ),
        }
    }
}

/// A [`RuleProblem`] and where the offending value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError<L> {
    pub problem: RuleProblem,
    /// `None` for a problem of the whole (no stage required).
    pub at: Option<L>,
}

impl Rules {
    /// Checks the rules as written: stage names, each required once, at least one required,
    /// `max_age` a span (bare number = days), signer patterns not empty, each listed stage
    /// with at least one signer. The first problem is returned, in that order.
    pub fn new<L: Clone>(spec: RuleSpec<L>) -> Result<Rules, RuleError<L>> {
        let fail = |problem, at: &L| RuleError {
            problem,
            at: Some(at.clone()),
        };
        let mut rules = Rules {
            require_revocation: spec.require_revocation,
            ..Rules::default()
        };
        for s in spec.require {
            check_stage_name(&s.text).map_err(|e| fail(RuleProblem::StageName(e), &s.at))?;
            if rules.require.contains(&s.text) {
                return Err(fail(RuleProblem::RequiredTwice { stage: s.text }, &s.at));
            }
            rules.require.push(s.text);
        }
        if rules.require.is_empty() {
            return Err(RuleError {
                problem: RuleProblem::NoStage,
                at: None,
            });
        }
        if let Some(m) = spec.max_age {
            rules.max_age = Some(
                Span::parse(&m.text, Bare::Days)
                    .map_err(|e| fail(RuleProblem::MaxAge(e), &m.at))?,
            );
        }
        for stage in spec.stages {
            check_stage_name(&stage.name.text)
                .map_err(|e| fail(RuleProblem::StageName(e), &stage.name.at))?;
            let mut patterns = Vec::new();
            for s in &stage.signers {
                patterns.push(
                    SignerPattern::parse(&s.text)
                        .map_err(|e| fail(RuleProblem::SignerPattern(e), &s.at))?,
                );
            }
            if patterns.is_empty() {
                return Err(fail(
                    RuleProblem::NoSigners {
                        stage: stage.name.text,
                    },
                    &stage.name.at,
                ));
            }
            rules
                .stages
                .entry(stage.name.text)
                .or_default()
                .extend(patterns);
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        require: &[&str],
        stages: &[(&str, &[&str])],
        max_age: Option<&str>,
    ) -> RuleSpec<usize> {
        let w = |(i, s): (usize, &&str)| Written::new(*s, i);
        RuleSpec {
            require: require.iter().enumerate().map(w).collect(),
            stages: stages
                .iter()
                .enumerate()
                .map(|(i, (n, sig))| StageSpec {
                    name: Written::new(*n, 100 + i),
                    signers: sig
                        .iter()
                        .enumerate()
                        .map(|(j, s)| Written::new(*s, 200 + j))
                        .collect(),
                })
                .collect(),
            max_age: max_age.map(|m| Written::new(m, 300)),
            require_revocation: false,
        }
    }

    #[test]
    fn builds_rules() {
        let r = Rules::new(spec(
            &["build", "qa"],
            &[("qa", &["cn:qa-*", "qa.example"])],
            Some("90"),
        ))
        .unwrap();
        assert_eq!(r.require, ["build", "qa"]);
        assert_eq!(r.stages["qa"].len(), 2);
        assert_eq!(r.max_age, Some(Span::parse("90d", Bare::Days).unwrap()));
    }

    #[test]
    fn each_rule_is_checked_with_its_place() {
        let cases: &[(RuleSpec<usize>, Option<usize>, &str)] = &[
            (
                spec(&["Build"], &[], None),
                Some(0),
                "stage 'Build' must be lower-case",
            ),
            (
                spec(&["qa", "qa"], &[], None),
                Some(1),
                "stage 'qa' is required twice",
            ),
            (spec(&[], &[], None), None, "no stage is required"),
            (spec(&["qa"], &[], Some("9x")), Some(300), "unit"),
            (
                spec(&["qa"], &[("q a", &["x"])], None),
                Some(100),
                "stage 'q a' must be",
            ),
            (
                spec(&["qa"], &[("qa", &["cn:"])], None),
                Some(200),
                "signer pattern 'cn:' is empty",
            ),
            (
                spec(&["qa"], &[("qa", &[])], None),
                Some(100),
                "stage 'qa' lists no signers",
            ),
        ];
        for (s, at, words) in cases {
            let e = Rules::new(s.clone()).unwrap_err();
            assert_eq!(e.at, *at, "{words}");
            assert!(
                e.problem.to_string().contains(words),
                "{} !~ {words}",
                e.problem
            );
        }
    }
}
