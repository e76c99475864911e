// The uca-custody fuzz harnesses: manifests, their sidecar and CMS attestations, through the
// same library calls `uca artifact verify` and `uca artifact attest` make. Included
// (`include!`) both by the fuzz targets (fuzz/fuzz_targets/*.rs) and by the replay test
// (crates/uca/tests/fuzz_corpus.rs). A panic here is a bug in uca-custody, never in the
// harness. Each returns whether the input was accepted, for the replay test's seed counts.

/// The release the attestation seeds sign (fuzz/seeds/make_seeds.py): a manifest written by
/// `uca artifact manifest`, its sidecar, the CA that issued the signers and its CRL.
const FIXTURE_MANIFEST: &[u8] = include_bytes!("fixtures/SHA256SUMS");
const FIXTURE_META: &[u8] = include_bytes!("fixtures/SHA256SUMS.meta");
const FIXTURE_CA_PEM: &[u8] = include_bytes!("fixtures/ca.crt");
const FIXTURE_CRL: &[u8] = include_bytes!("fixtures/crl.pem");
/// When the seeds are judged (unix seconds): inside every fixture certificate's validity.
const FIXTURE_NOW: &str = include_str!("fixtures/now.txt");

/// A manifest (`sha256sum` text): `Manifest::parse`; whatever parses must render to bytes that
/// parse to the same manifest (the writer and the reader agree on every escape).
pub fn manifest(data: &[u8]) -> bool {
    let Ok(m) = uca_custody::manifest::Manifest::parse(data) else {
        return false;
    };
    let again = uca_custody::manifest::Manifest::parse(&m.render());
    assert_eq!(again.ok().as_ref(), Some(&m), "render/parse round trip");
    true
}

/// A manifest's sidecar (`MANIFEST.meta`): `Meta::parse`, and the same round trip.
pub fn meta(data: &[u8]) -> bool {
    let Ok(m) = uca_custody::manifest::Meta::parse(data) else {
        return false;
    };
    let again = uca_custody::manifest::Meta::parse(&m.render());
    assert_eq!(again.ok().as_ref(), Some(&m), "render/parse round trip");
    true
}

/// A detached CMS signature over the fixture manifest (`MANIFEST.build.p7s`): `open_detached`,
/// then the whole judgement `uca artifact verify` makes (`evaluate`: chain to the fixture CA,
/// its CRL, purpose, stage, time). Accepted when the attestation holds.
pub fn cms(data: &[u8]) -> bool {
    use uca_custody::verify::{AttestationFile, RuleSpec, Rules, Trust, Written, evaluate};
    let _ = uca_custody::cms::open_detached(data, FIXTURE_MANIFEST);
    let Ok(root) = uca_pki::inspect::certificate_der(FIXTURE_CA_PEM) else {
        return false;
    };
    let Ok(rules) = Rules::new(RuleSpec {
        require: vec![Written::new("build", ())],
        stages: Vec::new(),
        max_age: None,
        require_revocation: true,
    }) else {
        return false;
    };
    let trust = Trust {
        roots: vec![root],
        crls: vec![("SHA256SUMS.crl".to_string(), FIXTURE_CRL.to_vec())],
        allow_stale_crl: true,
        ledger: None,
    };
    let files = [AttestationFile {
        stage: "build".to_string(),
        path: "SHA256SUMS.build.p7s".into(),
        bytes: data.to_vec(),
    }];
    let now = FIXTURE_NOW
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let report = evaluate(
        FIXTURE_MANIFEST,
        Some(FIXTURE_META),
        &files,
        &trust,
        &rules,
        now,
    );
    report.attestations_hold
}
