//! A rate, `N/PERIOD` (`20/1h`): how many events a limit admits per period.

use std::fmt;

/// N events per period, e.g. `20/1h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub period_secs: f64,
}

impl Rate {
    /// `N/SPAN` with a span of the duration grammar (`20/1h`, `300/1d`), or `off`.
    pub fn parse(s: &str) -> Result<Option<Rate>, String> {
        let s = s.trim();
        if s == "off" {
            return Ok(None);
        }
        let (n, span) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not N/PERIOD (e.g. 20/1h) or off"))?;
        let count: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| format!("'{n}' is not a positive count"))?;
        let period =
            crate::Span::parse(span.trim(), crate::Bare::Refused).map_err(|e| e.to_string())?;
        let period_secs = period.as_time().as_seconds_f64();
        if period_secs <= 0.0 {
            return Err("the period must be longer than zero".into());
        }
        Ok(Some(Rate { count, period_secs }))
    }

    /// Seconds between events once the burst is spent.
    pub fn interval_secs(self) -> f64 {
        self.period_secs / f64::from(self.count)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {} s", self.count, self.period_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_or_say_why_not() {
        assert_eq!(
            Rate::parse("20/1h").unwrap(),
            Some(Rate {
                count: 20,
                period_secs: 3600.0
            })
        );
        assert_eq!(Rate::parse("off").unwrap(), None);
        for bad in ["20", "0/1h", "x/1h", "20/", "20/1", "20/0s", "-1/1h"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
