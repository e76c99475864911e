//! `uca expiring`: time left per certificate, as Green / Yellow / Red with the dates each
//! turns. Pure: `now` is a parameter.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::ledger::{CertRecord, Status};

/// The longest span accepted: a century (dates computed from it stay representable).
const MAX_SPAN_SECONDS: i64 = 100 * 365 * 86_400;

/// A length of time as operators write it: `30d`, `12h`, `2w`, `90m`, `1y` (365 days); a bare
/// number means days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: i64 = num
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (e.g. 30d, 12h, 2w)"))?;
        let unit_seconds: i64 = match unit {
            "" | "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            "w" => 7 * 86_400,
            "y" => 365 * 86_400,
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{s}' (use s, m, h, d, w or y)"
                ));
            }
        };
        let seconds = n
            .checked_mul(unit_seconds)
            .filter(|s| *s <= MAX_SPAN_SECONDS)
            .ok_or_else(|| format!("'{s}' is longer than 100 years"))?;
        Ok(Span(Duration::seconds(seconds)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.whole_seconds();
        match s {
            0 => write!(f, "0s"),
            _ if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            _ if s % 3_600 == 0 => write!(f, "{}h", s / 3_600),
            _ if s % 60 == 0 => write!(f, "{}m", s / 60),
            _ => write!(f, "{s}s"),
        }
    }
}

/// The monitoring colors; their order is their severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }
}

/// One certificate's expiry picture.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryRow {
    pub name: String,
    pub serial: String,
    pub profile: String,
    pub color: Color,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// When it turns (or turned) yellow: notAfter − warn.
    #[serde(with = "time::serde::rfc3339")]
    pub yellow_at: OffsetDateTime,
    /// When it turns (or turned) red: notAfter − crit.
    #[serde(with = "time::serde::rfc3339")]
    pub red_at: OffsetDateTime,
    pub seconds_left: i64,
    pub expired: bool,
}

/// Classifies every current certificate (status `issued`, the CA's own included), soonest
/// expiry first; `within` keeps only those expiring inside that span.
pub fn classify(
    records: &[CertRecord],
    now: OffsetDateTime,
    warn: Duration,
    crit: Duration,
    within: Option<Duration>,
) -> Vec<ExpiryRow> {
    let mut rows: Vec<ExpiryRow> = records
        .iter()
        .filter(|r| r.status == Status::Issued)
        .filter(|r| within.is_none_or(|w| r.not_after - now <= w))
        .map(|r| {
            let left = r.not_after - now;
            let color = if left <= crit {
                Color::Red
            } else if left <= warn {
                Color::Yellow
            } else {
                Color::Green
            };
            ExpiryRow {
                name: r.name.clone(),
                serial: r.serial.hex(),
                profile: r.profile.clone(),
                color,
                not_after: r.not_after,
                yellow_at: r.not_after - warn,
                red_at: r.not_after - crit,
                seconds_left: left.whole_seconds(),
                expired: left.is_negative(),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        a.not_after
            .cmp(&b.not_after)
            .then_with(|| a.name.cmp(&b.name))
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, not_after: OffsetDateTime, status: Status) -> CertRecord {
        CertRecord {
            serial: uca_pki::Serial::parse("01").unwrap(),
            name: name.into(),
            profile: "both".into(),
            key_type: "ec-p256".into(),
            sans: Vec::new(),
            not_before: not_after - Duration::days(397),
            not_after,
            fingerprint_sha256: String::new(),
            status,
            source: crate::ledger::Source::Issue,
            created_at: not_after,
            updated_at: not_after,
            superseded_by: None,
            revoked_at: None,
            revocation_reason: None,
            cert_pem: String::new(),
        }
    }

    /// The clock is a parameter: an expired certificate is red, and the dates each color starts
    /// are notAfter minus the thresholds.
    #[test]
    fn colors_and_dates() {
        let now = time::macros::datetime!(2030-01-01 00:00 UTC);
        let rows = classify(
            &[
                record("green", now + Duration::days(100), Status::Issued),
                record("yellow", now + Duration::days(20), Status::Issued),
                record("red", now + Duration::days(3), Status::Issued),
                record("gone", now - Duration::days(1), Status::Issued),
                record("old", now + Duration::days(1), Status::Superseded),
            ],
            now,
            Duration::days(30),
            Duration::days(7),
            None,
        );
        let names: Vec<(&str, Color, bool)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.color, r.expired))
            .collect();
        assert_eq!(
            names,
            [
                ("gone", Color::Red, true),
                ("red", Color::Red, false),
                ("yellow", Color::Yellow, false),
                ("green", Color::Green, false)
            ]
        );
        assert_eq!(rows[3].yellow_at, now + Duration::days(70));
        assert_eq!(rows[3].red_at, now + Duration::days(93));
        let within = classify(
            &[record("y", now + Duration::days(20), Status::Issued)],
            now,
            Duration::days(30),
            Duration::days(7),
            Some(Duration::days(10)),
        );
        assert!(within.is_empty());
    }

    #[test]
    fn spans() {
        assert_eq!("30d".parse::<Span>().unwrap().0, Duration::days(30));
        assert_eq!("12h".parse::<Span>().unwrap().0, Duration::hours(12));
        assert_eq!("2w".parse::<Span>().unwrap().0, Duration::days(14));
        assert_eq!("7".parse::<Span>().unwrap().0, Duration::days(7));
        assert!("soon".parse::<Span>().is_err());
        assert!("3x".parse::<Span>().is_err());
        assert!("9999999999999999d".parse::<Span>().is_err());
        assert!("101y".parse::<Span>().is_err());
        assert_eq!(Span(Duration::minutes(90)).to_string(), "90m");
        assert_eq!(Span(Duration::days(30)).to_string(), "30d");
    }
}
