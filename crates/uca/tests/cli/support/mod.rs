//! The shared harness of every test: a hermetic `uca`, a temporary CA, the independent judges
//! (openssl and friends), the servers tests talk to, and tables of cases. A test module takes
//! it all with `use crate::support::*`; the artifact and health harnesses are imported by name
//! where they are used. New helpers go in the file of their job, not in a test module. Beside
//! the Rust: `flaky_server.py` (the scriptable HTTP(S) server), `MtlsClient.java` (a Java
//! mutual-TLS client) and `acme_client.py` (python3-acme on the wire, for what the ACME clients will not send).

// The ACME harness: a running `uca serve`, the DNS stub, the real ACME clients, their judges.
mod acme;
// The attackers of `uca serve` and their judges: raw HTTPS, hand-signed JWSes, memory, state.
pub mod abuse;
// The artifact harness: a signed release and the verdict of `uca artifact verify`.
pub mod artifact;
// A temporary CA and what it issues.
mod ca;
// Tables of cases that name the failing case.
mod cases;
// Test files: paths as arguments, reading, writing, modes, snapshots.
mod files;
// The health harness: `uca health check` runs and a running `uca health watch`.
pub mod health;
// OpenSSL as the judge, and as the forger of what uca would refuse.
mod openssl;
// The Prometheus parser as the judge of /metrics.
pub mod prometheus;
// A throwaway highly available PostgreSQL: etcd, two Patroni nodes, HAProxy on the primary.
pub mod patroni;
// A throwaway PostgreSQL server (the ledger on PostgreSQL), psql as its judge.
pub mod postgres;
// Running programs: hermetic uca, timeouts, output for assertion messages.
mod process;
// Servers: openssl s_server, nginx, the flaky HTTP server, any foreground server.
mod servers;
// A pseudo-terminal.
mod terminal;

pub use acme::*;
pub use ca::*;
pub use cases::*;
pub use files::*;
pub use openssl::*;
pub use process::*;
pub use servers::*;
pub use terminal::*;
