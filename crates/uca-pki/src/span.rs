//! Lengths of time as operators write them (`300ms`, `5s`, `10m`, `12h`, `30d`, `2w`, `1y`): one
//! type and one grammar for every flag and file of uca.
//!
//! Where a bare number has always meant days (`uca expiring --warn 30`, certificate thresholds,
//! `max_age`), the caller says so with [`Bare::Days`]; everywhere else a unit is required, so
//! `timeout = 5` is an error rather than five days.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// The longest span accepted: a century (dates computed from it stay representable).
pub const MAX: Span = Span(Duration::from_secs(100 * 365 * 86_400));

/// The units, in the order the messages list them, with their length in milliseconds.
const UNITS: [(&str, u64); 7] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 7 * 86_400_000),
    ("y", 365 * 86_400_000),
];

/// What a number without a unit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bare {
    /// A unit is required (latencies, intervals, timeouts).
    Refused,
    /// A bare number counts days (certificate lifetimes and thresholds).
    Days,
}

/// A non-negative length of time, at most [`MAX`], with microsecond resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(Duration);

/// Why a text is not a span; `Display` is the message shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpanError {
    #[error("'{text}' is not a duration (e.g. 300ms, 5s, 10m, 12h, 30d, 2w, 1y)")]
    NotADuration { text: String },
    #[error("'{text}' needs a unit: ms, s, m, h, d, w or y")]
    NeedsUnit { text: String },
    #[error("unknown unit '{unit}' in '{text}' (use ms, s, m, h, d, w or y)")]
    UnknownUnit { text: String, unit: String },
    #[error("'{text}' is longer than 100 years")]
    TooLong { text: String },
}

impl Span {
    pub const ZERO: Span = Span(Duration::ZERO);

    pub const fn millis(n: u64) -> Span {
        Span(Duration::from_millis(n))
    }

    pub const fn seconds(n: u64) -> Span {
        Span(Duration::from_secs(n))
    }

    pub const fn minutes(n: u64) -> Span {
        Span(Duration::from_secs(n * 60))
    }

    pub const fn hours(n: u64) -> Span {
        Span(Duration::from_secs(n * 3_600))
    }

    pub const fn days(n: u64) -> Span {
        Span(Duration::from_secs(n * 86_400))
    }

    /// A measured duration, capped at [`MAX`] (an age or an elapsed time, never user input).
    pub fn from_duration(d: Duration) -> Span {
        Span(d.min(MAX.0))
    }

    /// The signed difference `later - earlier` of two instants, clamped to `0..=MAX`.
    pub fn between(earlier: time::OffsetDateTime, later: time::OffsetDateTime) -> Span {
        let d = later - earlier;
        if d.is_negative() {
            Span::ZERO
        } else {
            Span::from_duration(d.unsigned_abs())
        }
    }

    /// Parses `text`; `bare` says what a number without a unit means.
    pub fn parse(text: &str, bare: Bare) -> Result<Span, SpanError> {
        let t = text.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let unit = unit.trim();
        let not_a_duration = || SpanError::NotADuration {
            text: text.to_string(),
        };
        if number.is_empty() || number.matches('.').count() > 1 || number == "." {
            return Err(not_a_duration());
        }
        let unit_ms = match (unit, bare) {
            ("", Bare::Days) => 86_400_000,
            ("", Bare::Refused) => {
                return Err(SpanError::NeedsUnit {
                    text: text.to_string(),
                });
            }
            (u, _) => {
                UNITS
                    .iter()
                    .find(|(name, _)| *name == u)
                    .ok_or_else(|| SpanError::UnknownUnit {
                        text: text.to_string(),
                        unit: u.to_string(),
                    })?
                    .1
            }
        };
        let too_long = || SpanError::TooLong {
            text: text.to_string(),
        };
        // Integer arithmetic in microseconds: `1.5s` is exact, `1y` never rounds.
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let digits = fraction.len().min(12);
        let fraction_value: u128 = if digits == 0 {
            0
        } else {
            fraction[..digits].parse().map_err(|_| not_a_duration())?
        };
        let scale = 10u128.pow(digits as u32);
        let unit_us = u128::from(unit_ms) * 1_000;
        let micros = whole
            .checked_mul(unit_us)
            .and_then(|w| w.checked_add(fraction_value * unit_us / scale))
            .ok_or_else(too_long)?;
        if micros > MAX.0.as_micros() {
            return Err(too_long());
        }
        let micros = u64::try_from(micros).map_err(|_| too_long())?;
        Ok(Span(Duration::from_micros(micros)))
    }

    /// The span as a standard duration (timers, sleeps).
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// The span as a signed calendar duration (dates: `not_after - warn`).
    pub fn as_time(self) -> time::Duration {
        // At most a century, so the seconds always fit.
        time::Duration::new(self.0.as_secs() as i64, self.0.subsec_nanos() as i32)
    }

    pub fn as_millis(self) -> u64 {
        self.0.as_millis() as u64
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

/// A unit is required: `"30"` is an error, `"30d"` is a span.
impl FromStr for Span {
    type Err = SpanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Span::parse(s, Bare::Refused)
    }
}

/// The shortest exact form: `30d`, `12h`, `90m` → `90m`, `1500ms`; below a millisecond, a
/// decimal number of milliseconds (`1.25ms`), which [`Span::parse`] reads back exactly.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.as_micros();
        if !micros.is_multiple_of(1000) {
            let fraction = format!("{:03}", micros % 1000);
            return write!(f, "{}.{}ms", micros / 1000, fraction.trim_end_matches('0'));
        }
        let ms = self.0.as_millis();
        match ms {
            0 => write!(f, "0s"),
            _ if ms.is_multiple_of(86_400_000) => write!(f, "{}d", ms / 86_400_000),
            _ if ms.is_multiple_of(3_600_000) => write!(f, "{}h", ms / 3_600_000),
            _ if ms.is_multiple_of(60_000) => write!(f, "{}m", ms / 60_000),
            _ if ms.is_multiple_of(1000) => write!(f, "{}s", ms / 1000),
            _ => write!(f, "{ms}ms"),
        }
    }
}

impl serde::Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_parses() {
        for (text, want) in [
            ("300ms", Span::millis(300)),
            ("5s", Span::seconds(5)),
            ("10m", Span::minutes(10)),
            ("12h", Span::hours(12)),
            ("30d", Span::days(30)),
            ("2w", Span::days(14)),
            ("1y", Span::days(365)),
            ("1.5s", Span::millis(1500)),
            (" 7d ", Span::days(7)),
            ("0s", Span::ZERO),
            ("100y", MAX),
        ] {
            assert_eq!(text.parse::<Span>(), Ok(want), "{text}");
            assert_eq!(Span::parse(text, Bare::Days), Ok(want), "{text}");
        }
    }

    #[test]
    fn a_bare_number_is_days_only_where_the_caller_says_so() {
        assert_eq!(Span::parse("30", Bare::Days), Ok(Span::days(30)));
        assert_eq!(
            "30".parse::<Span>(),
            Err(SpanError::NeedsUnit { text: "30".into() })
        );
    }

    #[test]
    fn bad_spans_say_why() {
        for (text, want) in [
            ("", "is not a duration"),
            ("d", "is not a duration"),
            ("1.2.3s", "is not a duration"),
            ("-5d", "is not a duration"),
            ("10x", "unknown unit 'x'"),
            ("101y", "longer than 100 years"),
            (
                "99999999999999999999999999999999999d",
                "longer than 100 years",
            ),
        ] {
            let e = Span::parse(text, Bare::Days).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "30d", "12h", "90m", "5s", "1500ms", "0s", "1.5ms", "0.001ms",
        ] {
            let s: Span = text.parse().unwrap();
            assert_eq!(s.to_string(), text);
            assert_eq!(s.to_string().parse::<Span>(), Ok(s));
        }
        assert_eq!(Span::days(14).to_string(), "14d");
    }

    #[test]
    fn calendar_and_timer_views_agree() {
        let s = Span::millis(90_500);
        assert_eq!(s.as_duration(), Duration::from_millis(90_500));
        assert_eq!(s.as_time(), time::Duration::milliseconds(90_500));
        let t0 = time::OffsetDateTime::UNIX_EPOCH;
        assert_eq!(Span::between(t0, t0 + s.as_time()), s);
        assert_eq!(Span::between(t0 + s.as_time(), t0), Span::ZERO);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn bare() -> impl Strategy<Value = Bare> {
        prop_oneof![Just(Bare::Days), Just(Bare::Refused)]
    }

    proptest! {
        /// Any span up to the maximum, to the microsecond: its display parses back to it.
        #[test]
        fn display_then_parse_is_the_same(micros in 0..=MAX.0.as_micros() as u64, bare in bare()) {
            let span = Span::from_duration(Duration::from_micros(micros));
            prop_assert_eq!(Span::parse(&span.to_string(), bare), Ok(span));
        }

        /// The same for whole numbers of each unit.
        #[test]
        fn whole_units_display_in_their_unit(n in 1u64..=36_500, unit in 0usize..5) {
            let span = [
                Span::millis(n),
                Span::seconds(n),
                Span::minutes(n),
                Span::hours(n),
                Span::days(n),
            ][unit];
            prop_assert_eq!(span.to_string().parse::<Span>(), Ok(span));
        }

        /// Parsing never panics, and what it accepts is at most the maximum.
        #[test]
        fn parse_never_panics(text in any::<String>(), bare in bare()) {
            if let Ok(span) = Span::parse(&text, bare) {
                prop_assert!(span <= MAX);
            }
        }

        /// Near-miss texts: digits, dots, units and spaces in any order.
        #[test]
        fn parse_never_panics_on_near_misses(text in "[0-9. ]{0,30}(ms|s|m|h|d|w|y|x|)[ ]?", bare in bare()) {
            if let Ok(span) = Span::parse(&text, bare) {
                prop_assert!(span <= MAX);
            }
        }
    }
}
