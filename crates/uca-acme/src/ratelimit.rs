//! Rate limits in memory for one server (no fsync, lost on restart on purpose; replicas keep the
//! same cells in their shared store, see [`crate::store::Tx::take_rate`]): the generic cell rate algorithm,
//! one theoretical arrival time per key, so a limit of N per period admits a burst of N and then
//! one every period/N.

use std::collections::HashMap;
use std::sync::Mutex;

pub use uca_pki::rate::Rate;

/// At most this many keys are remembered per limiter; beyond it, idle keys are dropped first
/// and then the limiter refuses new keys (an attacker minting keys cannot grow the server).
const MAX_KEYS: usize = 100_000;

/// One limit over many keys (addresses, accounts, identifiers).
#[derive(Debug)]
pub struct Limiter {
    rate: Option<Rate>,
    tat: Mutex<HashMap<String, f64>>,
}

impl Limiter {
    pub fn new(rate: Option<Rate>) -> Limiter {
        Limiter {
            rate,
            tat: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }

    /// The cell's step and burst tolerance in microseconds, for a store that keeps the cells
    /// (replicas share them); `None` when the limit is off.
    pub fn cell_us(&self) -> Option<(i64, i64)> {
        let rate = self.rate?;
        let interval = rate.interval_secs();
        let us = |s: f64| (s * 1e6).round() as i64;
        Some((us(interval), us(rate.period_secs - interval)))
    }

    /// Whether `key` may act now; if not, the seconds until it may. Does not count the event.
    pub fn check(&self, key: &str, now: f64) -> Result<(), u64> {
        let Some(rate) = self.rate else { return Ok(()) };
        let tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let t = tat.get(key).copied().unwrap_or(now).max(now);
        let tolerance = rate.period_secs - rate.interval_secs();
        if t - now > tolerance {
            Err(((t - now - tolerance).ceil() as u64).max(1))
        } else {
            Ok(())
        }
    }

    /// Counts an event for `key` if the limit allows it; otherwise the seconds to wait.
    pub fn take(&self, key: &str, now: f64) -> Result<(), u64> {
        let Some(rate) = self.rate else { return Ok(()) };
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        let t = tat.get(key).copied().unwrap_or(now).max(now);
        let tolerance = rate.period_secs - rate.interval_secs();
        if t - now > tolerance {
            return Err(((t - now - tolerance).ceil() as u64).max(1));
        }
        if tat.len() >= MAX_KEYS && !tat.contains_key(key) {
            tat.retain(|_, v| *v > now);
            if tat.len() >= MAX_KEYS {
                return Err(rate.interval_secs().ceil() as u64);
            }
        }
        tat.insert(key.to_string(), t + rate.interval_secs());
        Ok(())
    }

    /// Forgets keys whose every event has aged out.
    pub fn sweep(&self, now: f64) {
        let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        tat.retain(|_, v| *v > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let l = Limiter::new(Some(Rate {
            count: 3,
            period_secs: 30.0,
        }));
        for _ in 0..3 {
            assert!(l.take("a", 100.0).is_ok());
        }
        assert_eq!(l.take("a", 100.0), Err(10));
        assert_eq!(l.check("a", 105.0), Err(5));
        assert!(l.take("b", 100.0).is_ok(), "keys are independent");
        assert!(l.take("a", 110.0).is_ok(), "one interval later, one more");
        assert!(l.take("a", 110.0).is_err());
        l.sweep(200.0);
        assert!(l.tat.lock().unwrap().is_empty());
        let off = Limiter::new(None);
        for _ in 0..1000 {
            assert!(off.take("a", 0.0).is_ok());
        }
    }
}
