//! The probe history of one endpoint, kept as counts per time bucket (never raw probes), and what
//! it says: the color now, the error-budget burn rates, and when the color will next change.
//!
//! Two rings per endpoint: fine buckets (window/60 wide, two windows deep) for the status and the
//! trend, and one-minute buckets six hours deep for the burn rates. At one probe a second that is
//! about 10 KB per endpoint, whatever the probe rate.

mod forecast;
mod history;
mod ring;
mod verdict;

#[cfg(test)]
mod tests;

pub use forecast::Prediction;
pub use history::{History, Rules, RulesFingerprint, Sample};
pub use ring::{Bucket, Ring};
pub use verdict::{
    Burn, BurnWindow, DOWN_AFTER, FAST_BURN, ProbeVerdict, SLOW_BURN, evaluate, percent_1,
};
