//! `uca expiring`: time left per certificate, as Green / Yellow / Red with the dates each
//! turns. Pure: `now` is a parameter.

use serde::Serialize;
use time::OffsetDateTime;
use uca_pki::{Color, Span};

use crate::ledger::{CertRecord, Status};

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
    warn: Span,
    crit: Span,
    within: Option<Span>,
) -> Vec<ExpiryRow> {
    let mut rows: Vec<ExpiryRow> = records
        .iter()
        .filter(|r| r.status == Status::Issued)
        .filter(|r| within.is_none_or(|w| r.not_after - now <= w.as_time()))
        .map(|r| {
            let left = r.not_after - now;
            let color = Color::of_time_left(left, warn, crit);
            ExpiryRow {
                name: r.name.clone(),
                serial: r.serial.hex(),
                profile: r.profile.clone(),
                color,
                not_after: r.not_after,
                yellow_at: r.not_after - warn.as_time(),
                red_at: r.not_after - crit.as_time(),
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
    use time::Duration;

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
            acme: None,
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
            Span::days(30),
            Span::days(7),
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
            Span::days(30),
            Span::days(7),
            Some(Span::days(10)),
        );
        assert!(within.is_empty());
    }
}
