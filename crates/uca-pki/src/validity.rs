//! Validity periods: backdated for clock skew, clamped to the issuer.

use time::{Duration, OffsetDateTime};

/// How far notBefore is set in the past so that peers whose clocks run a little behind
/// still accept a certificate that was just issued.
pub const BACKDATE: Duration = Duration::minutes(5);

/// Default leaf validity: inside the 398-day ceiling that Apple and browsers apply to TLS
/// server certificates.
pub const DEFAULT_LEAF_DAYS: u32 = 397;

/// The longest validity uca signs: a century.
pub const MAX_DAYS: u32 = 36_500;

/// Default root validity: ten years.
pub const DEFAULT_ROOT_DAYS: u32 = 3650;

/// A certificate's validity window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// `true` when notAfter was cut back to the issuer's own notAfter.
    pub clamped: bool,
}

impl Validity {
    /// `days` from `now`, notBefore backdated by [`BACKDATE`], both inside the issuer's window
    /// when one is given. Whole seconds, as X.509 encodes them.
    pub fn starting(
        now: OffsetDateTime,
        days: u32,
        issuer: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<Validity, crate::PkiError> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        if days == 0 || days > MAX_DAYS {
            return Err(crate::PkiError::BadValidity(format!(
                "days must be between 1 and {MAX_DAYS}, not {days}"
            )));
        }
        let not_before = now - BACKDATE;
        let not_after = now
            .checked_add(Duration::days(i64::from(days)))
            .ok_or_else(|| {
                crate::PkiError::BadValidity(format!(
                    "{days} days from now is not a representable date"
                ))
            })?;
        Validity::between(not_before, not_after, issuer).map_err(|_| {
            let end = issuer.map_or(not_after, |(_, issuer_na)| issuer_na);
            crate::PkiError::BadValidity(format!(
                "the issuing CA expired on {}: it cannot issue certificates any more",
                display_time(end)
            ))
        })
    }
}

impl Validity {
    /// Exactly `not_before` to `not_after` (an ACME order's window), cut to the issuer's window
    /// when one is given. Whole seconds.
    pub fn between(
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        issuer: Option<(OffsetDateTime, OffsetDateTime)>,
    ) -> Result<Validity, crate::PkiError> {
        let whole = |t: OffsetDateTime| t.replace_nanosecond(0).unwrap_or(t);
        let (mut not_before, mut not_after) = (whole(not_before), whole(not_after));
        let mut clamped = false;
        if let Some((issuer_nb, issuer_na)) = issuer {
            if not_before < issuer_nb {
                not_before = issuer_nb;
            }
            if not_after > issuer_na {
                not_after = issuer_na;
                clamped = true;
            }
        }
        if not_after <= not_before {
            return Err(crate::PkiError::BadValidity(format!(
                "the window {} to {} is empty (or outside the issuing CA's life)",
                display_time(not_before),
                display_time(not_after)
            )));
        }
        Ok(Validity {
            not_before,
            not_after,
            clamped,
        })
    }
}

/// A time as uca prints it in messages: `2027-01-05 14:03 UTC`.
pub fn display_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| t.to_string())
}
