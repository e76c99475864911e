//! Declarative plans (`uca.plan.toml`): which components exist, how each consumes its
//! credentials. `uca plan` diffs a plan against the ledger and the files on disk; `uca apply`
//! converges, in batches that each cost one filesystem sync. Re-exports only.

mod apply;
mod diff;
mod file;

pub use diff::{Change, OutputChange, OutputSettings, PlanFacts, PlanItem, PlanReport, diff};
pub use file::{Component, Plan, PlanCa, PlanOutput};
