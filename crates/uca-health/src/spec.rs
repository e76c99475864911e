//! Thresholds and durations written the way people say them: `"99% within 300ms"`, `"10m"`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use uca_pki::Span;

/// "P% within D": at least share P of probes answered correctly within latency D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// 0 < share ≤ 1.
    pub share: f64,
    pub within: Span,
}

impl FromStr for Threshold {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shape = || format!("'{s}' is not a threshold: write it as \"99% within 300ms\"");
        let (pct, rest) = s.trim().split_once('%').ok_or_else(shape)?;
        let within = rest
            .trim()
            .strip_prefix("within")
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .ok_or_else(shape)?;
        let p: f64 = pct.trim().parse().map_err(|_| shape())?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(format!(
                "'{s}': the share must be more than 0% and at most 100%"
            ));
        }
        let within: Span = within
            .parse()
            .map_err(|e: uca_pki::SpanError| e.to_string())?;
        if within.is_zero() {
            return Err(format!("'{s}': the latency must be more than 0"));
        }
        Ok(Threshold {
            share: p / 100.0,
            within,
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}% within {}", percent(self.share), self.within)
    }
}

/// A share as people write it: `99`, `99.9`, `97.1`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round() as i64)
    } else {
        let s = format!("{p:.2}");
        s.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        let t: Threshold = "99% within 300ms".parse().unwrap();
        assert_eq!(t.share, 0.99);
        assert_eq!(t.within, Span::millis(300));
        assert_eq!(t.to_string(), "99% within 300ms");
        let t: Threshold = "99.5 % within 1s".parse().unwrap();
        assert_eq!(t.to_string(), "99.5% within 1s");
        for bad in [
            "99 within",
            "101% within 1s",
            "0% within 1s",
            "99% within",
            "99% in 1s",
            "99% within 5",
        ] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad}");
        }
    }
}
