//! Thresholds and durations written the way people say them: `"99% within 300ms"`, `"10m"`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// A duration with a unit: `250ms`, `5s`, `10m`, `6h`, `30d`, `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: f64 = num
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (e.g. 300ms, 5s, 10m, 30d)"))?;
        let unit_ms: f64 = match unit.trim() {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3_600e3,
            "d" => 86_400e3,
            "w" => 7.0 * 86_400e3,
            "" => return Err(format!("'{s}' needs a unit: ms, s, m, h, d or w")),
            other => {
                return Err(format!(
                    "unknown unit '{other}' in '{s}' (use ms, s, m, h, d or w)"
                ));
            }
        };
        let ms = n * unit_ms;
        if !(ms.is_finite() && (0.0..=3_650.0 * 86_400e3).contains(&ms)) {
            return Err(format!("'{s}' is out of range (0 to 10 years)"));
        }
        Ok(Span(Duration::from_micros((ms * 1000.0).round() as u64)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// "P% within D": at least share P of probes answered correctly within latency D.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// 0 < share ≤ 1.
    pub share: f64,
    #[serde(serialize_with = "ser_span")]
    pub within: Span,
}

fn ser_span<S: serde::Serializer>(s: &Span, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&s.to_string())
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
        let within: Span = within.parse()?;
        if within.0.is_zero() {
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
        assert_eq!(t.within.0, Duration::from_millis(300));
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

    #[test]
    fn spans() {
        assert_eq!("10m".parse::<Span>().unwrap().0, Duration::from_secs(600));
        assert_eq!(
            "1.5s".parse::<Span>().unwrap().0,
            Duration::from_millis(1500)
        );
        assert!("10".parse::<Span>().is_err());
        assert!("10x".parse::<Span>().is_err());
    }
}
