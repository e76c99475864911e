//! `uca expiring`: time left per certificate, as Green / Yellow / Red with the dates each
//! turns. Pure: `now` is a parameter.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::ledger::{CertRecord, Status};

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
        let d = match unit {
            "" | "d" => Duration::days(n),
            "h" => Duration::hours(n),
            "m" => Duration::minutes(n),
            "s" => Duration::seconds(n),
            "w" => Duration::weeks(n),
            "y" => Duration::days(n * 365),
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{s}' (use s, m, h, d, w or y)"
                ));
            }
        };
        Ok(Span(d))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.whole_days() >= 1 && d == Duration::days(d.whole_days()) {
            write!(f, "{}d", d.whole_days())
        } else if d == Duration::hours(d.whole_hours()) {
            write!(f, "{}h", d.whole_hours())
        } else {
            write!(f, "{}s", d.whole_seconds())
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

    #[test]
    fn spans() {
        assert_eq!("30d".parse::<Span>().unwrap().0, Duration::days(30));
        assert_eq!("12h".parse::<Span>().unwrap().0, Duration::hours(12));
        assert_eq!("2w".parse::<Span>().unwrap().0, Duration::days(14));
        assert_eq!("7".parse::<Span>().unwrap().0, Duration::days(7));
        assert!("soon".parse::<Span>().is_err());
        assert!("3x".parse::<Span>().is_err());
        assert_eq!(Span(Duration::days(30)).to_string(), "30d");
    }
}
