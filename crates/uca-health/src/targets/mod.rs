//! Health targets: the endpoint type with the one constructor that owns its rules
//! (`target.rs`), the targets file that feeds it (`file.rs`), and target URLs (`url.rs`).

mod file;
mod target;
mod url;

pub use file::{Targets, WatchActions};
pub use target::{
    BodyMatch, CaSource, ClientCert, ClientCertError, Field, Target, TargetError, TargetSpec,
    TlsFiles, defaults, resolve_client_cert,
};
pub use url::{Kind, Url, UrlError, parse_url};
