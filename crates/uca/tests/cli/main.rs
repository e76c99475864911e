//! The integration tests of the `uca` binary: one test binary, laid out like the command tree.
//! Every test runs the real binary in a temporary directory and lets an independent judge
//! (openssl, curl, nginx, HAProxy, keytool, Java, rustls, pkilint, Chromium, Prometheus' parser)
//! decide whether the result is right.
//!
//! Where a new test goes: in the module of the command it exercises, listed below; a command
//! without a module gets one, in its group. A regression test goes beside the tests of the
//! command it guards and is named after what it caught. Tests of one shape are one test over a
//! table of cases (`support::each_case`), each case named. Helpers go in `support/`, never in a
//! test module that another module would have to import. Snapshots (insta) are in `snapshots/`;
//! accept a deliberate change with `cargo insta review`.
//!
//! The crate's only other test binary, `tests/fuzz_corpus.rs`, replays the fuzz targets' seeds
//! and fixed crash inputs (`fuzz/`) through the harnesses the targets run; a new fuzz target
//! gets its replay test there.

#![allow(clippy::unwrap_used)]

// The shared harness: a hermetic `uca`, a temporary CA, the judges, the servers, tables.
mod support;

// Replicas over a Patroni-run PostgreSQL, judged by kills and a frozen primary.
mod ha;

// `uca --help` and the help of each command, with snapshots of the ones read first.
mod help;
// What every command shares when it fails: the exit code, `error:` and `hint:`, nothing changed,
// and snapshots of the key error messages.
mod errors;
// On a real terminal: passphrase prompts and colors (the health watch table is in health).
mod terminal;

// The CA itself, one module per command (or pair of commands that belong together).
mod ca {
    // `uca init`: the root certificate, the encrypted key, the config, refusal to overwrite.
    mod init;
    // `uca issue`: extensions per profile and key type, SAN rules, files, validity, batches.
    mod issue;
    // `uca sign`: CSRs from openssl and keytool, the profile deciding the extensions.
    mod sign;
    // `uca list` and `uca show`: the ledger, as openssl reads the certificates.
    mod list_show;
    // `uca revoke` and `uca crl`: CRLs judged by openssl crl, verify and s_server -CRL.
    mod revoke_crl;
    // `uca renew` (same or new key, atomic swap) and `uca verify`.
    mod renew_verify;
    // `uca intermediate` and `uca sign --profile intermediate`: constraints, pathlen, CRLs.
    mod intermediate;
    // The ledger on PostgreSQL: every command, psql as judge, `uca ledger copy`, TLS, refusals.
    mod postgres;
    // `uca seal`: the final CRL, the destroyed key, what a sealed CA still does and refuses.
    mod seal;
    // `uca passphrase change`, also killed at random moments.
    mod passphrase;
    // `uca expiring`: the monitoring check, and the lifecycle states list and show report.
    mod expiring;
    // Several uca processes on one CA directory serialize on its lock.
    mod concurrency;
    // `kill -9` in the middle of a batch leaves a ledger that matches the files.
    mod crash;
}

// Getting certificates to the software that uses them.
mod deploy {
    // `uca export`, judged by HAProxy, nginx, curl, OpenSSL, keytool and a Java client.
    mod export;
    // `uca plan` and `uca apply`: declarative plans diffed and converged.
    mod plan;
    // `uca trust`: the system store, NSS databases, Java keystores.
    mod trust;
}

// `uca artifact`: releases, their attestations and their verification.
mod artifact {
    // `uca artifact manifest`: sha256sum's text, determinism, what is left out.
    mod manifest;
    // `uca artifact attest`: CMS that openssl verifies, for every key type.
    mod attest;
    // `uca artifact verify`: signatures, signers and tampering; exit 7 with its own words.
    mod verify;
    // `uca artifact verify --policy` and its flags: signers, age, CRLs, revocation.
    mod policy;
    // `uca artifact verify --content/--installed`: the installed files, like `rpm -V`.
    mod installed;
}

// `uca health`: endpoints probed, watched and reported.
mod health {
    // `uca health check`: probes, its output line, perfdata, JSON and exit codes.
    mod check;
    // The served certificate: expiry, trust, this CA's ledger and CRL (check and watch).
    mod certificates;
    // `uca health watch`: colors over time, announcements, forecasts, restarts, signals.
    mod watch;
    // The watcher's /metrics, judged by prometheus_client.
    mod metrics;
    // The watcher's status page and its HTTP server.
    mod page;
    // Targets files and their errors.
    mod targets;
}

// `uca serve`, the ACME server, judged by real ACME clients on loopback.
mod serve {
    // lego, certbot, uacme, dehydrated and Caddy obtain, renew and revoke certificates.
    mod clients;
    // The CLI while the server runs: issue, list, revoke (seen on /crl), crl, acme; endpoints.
    mod cli_alongside;
    // SIGTERM, kill -9 and restart, a sealed CA, EAB required.
    mod lifecycle;
    // /metrics, judged by prometheus_client, and /acme/renewal-info (ARI).
    mod metrics_ari;
    // Attacks (slow connections, floods, oversized bodies, hostile validation targets, account
    // minting) while a lego order still gets through, memory bounded, nothing written.
    mod abuse;
}

// uca's certificates in other TLS stacks and linters (for what `uca issue` makes).
mod interop {
    // RFC 5280 conformance judged by pkilint.
    mod lint;
    // Mutual TLS with openssl s_server/s_client and curl.
    mod tls;
    // Mutual TLS with rustls/webpki, in process.
    mod rustls;
}
