//! The integration tests of the `uca` binary: one test binary, laid out like the command tree.
//! Every test runs the real binary in a temporary directory and lets an independent judge
//! (openssl, curl, nginx, HAProxy, keytool, rustls, pkilint, Chromium, Prometheus' parser)
//! decide whether the result is right.
//!
//! Where a new test goes: in the module of the command it exercises, below. A regression test
//! goes beside the tests of the command it guards and is named after what it caught. Shared
//! helpers go in `support/`, never in a test module.

#![allow(clippy::unwrap_used)]

// The shared harness: a hermetic `uca`, a temporary CA, the judges and the servers.
mod support;

// CA commands, one module per command (or pair of commands that only make sense together).
mod ca {
    // `uca init`: the root certificate, the encrypted key, the config, refusal to overwrite.
    mod init;
    // `uca issue`: extensions per profile and key type, SAN rules, files, validity, batches.
    mod issue;
    // `uca sign`: CSRs from openssl and keytool, the profile deciding the extensions.
    mod sign;
    // `uca list` and `uca show`: the ledger as openssl sees the certificates.
    mod list_show;
    // `uca revoke` and `uca crl`: CRLs judged by openssl crl, verify and s_server.
    mod revoke_crl;
    // `uca renew` and `uca verify`.
    mod renew_verify;
    // `uca intermediate` and `uca sign --profile intermediate`: constraints, pathlen.
    mod intermediate;
    // `uca seal`: the final CRL, the destroyed key, what a sealed CA refuses.
    mod seal;
    // `uca passphrase change`.
    mod passphrase;
    // `uca expiring`: the monitoring check, and lifecycle states in list and show.
    mod expiring;
    // Several uca processes on one CA directory serialize on its lock.
    mod concurrency;
    // `kill -9` in the middle of a batch leaves a consistent ledger.
    mod crash;
}

// Getting certificates to the software that uses them.
mod deploy {
    // `uca export`, judged by HAProxy, nginx, curl, OpenSSL, keytool and Java.
    mod export;
    // `uca plan` and `uca apply`.
    mod plan;
    // `uca trust`: the system store, NSS databases, Java keystores.
    mod trust;
}

// `uca artifact`: manifests, attestations, verification.
mod artifact;

// `uca health check` and `uca health watch`.
mod health;

// uca's certificates in other TLS stacks and linters.
mod interop {
    // RFC 5280 conformance judged by pkilint.
    mod lint;
    // Mutual TLS with openssl s_server/s_client and curl.
    mod tls;
    // Mutual TLS with rustls/webpki, in process.
    mod rustls;
}

// Bad input: a clear error with a hint, a documented exit code, nothing changed.
mod errors;

// Regressions found in review, by round.
mod hardening;

// Behaviour on a real terminal: prompts, colors.
mod terminal;
