//! The deployment half of the CA: putting issued credentials where software reads them
//! (`export`), converging a declared plan (`plan`/`apply`) and installing the trust anchor
//! (`trust`). Re-exports only.

pub mod export;
pub mod perms;
pub mod plan;
pub mod trust;

pub use export::{ExportFormat, ExportOptions, Exported, ExportedFile, FileRole, FormatFile};
pub use perms::{FileMode, ModeError, Owner, OwnerError};
