//! `uca artifact verify --policy` and the flags that say the same: who may attest a stage,
//! how old an attestation may be, CRLs and stale CRLs, required revocation checks, and policy
//! files with unknown keys.

use crate::support::artifact::*;
use crate::support::*;

#[test]
fn signer_not_allowed_by_the_policy() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    env.issue("ci-build", &["--profile", "code-signing"]);
    env.issue("qa-bot", &["--profile", "code-signing"]);
    attest(&env, "rel/M", "ci-build", "build");
    attest(&env, "rel/M", "ci-build", "qa"); // the build machine may not sign off QA
    let policy = env.path("policy.toml");
    write(
        &policy,
        br#"require = ["build", "qa"]
roots = ["pki/ca.crt"]
max_age = "90d"

[stages.build]
signers = ["ci-*"]

[stages.qa]
signers = ["cn:qa-bot"]
"#,
    );
    let v = assert_fails(
        &env,
        &["rel/M", "--policy", policy.utf8()],
        "qa",
        "may not attest stage",
    );
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    assert!(
        words(row(&v, "qa"), "problems").contains("cn:qa-bot"),
        "{v:#}"
    );
    // The same rule from the command line.
    assert_fails(
        &env,
        &["rel/M", "--require", "build,qa", "--signer", "qa=cn:qa-*"],
        "qa",
        "may not attest stage",
    );
    // The right signer: it holds.
    std::fs::remove_file(env.path("rel/M.qa.p7s")).unwrap();
    attest(&env, "rel/M", "qa-bot", "qa");
    let (c, v) = verify_json(&env, &["rel/M", "--policy", policy.utf8()]);
    assert_eq!(c, 0, "{v:#}");
    // A "san:" pattern that matches none of the signer's SANs.
    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "qa", "--signer", "qa=san:nobody-*"],
    );
    assert_eq!(c, 7, "{v:#}");
}

#[test]
fn policy_with_unknown_key_is_a_usage_error_with_its_location() {
    let env = TempCa::new();
    signed_release(&env);
    let policy = env.path("policy.toml");
    for (body, loc) in [
        (
            "require = [\"build\"]\nroots = [\"pki/ca.crt\"]\nrequires = [\"qa\"]\n",
            ":3:1:",
        ),
        (
            "require = [\"build\"]\nroots = [\"pki/ca.crt\"]\n[stages.build]\nsigner = [\"ci-*\"]\n",
            ":4:",
        ),
    ] {
        write(&policy, body.as_bytes());
        let out = verify(&env, &["rel/M", "--policy", policy.utf8()]);
        let all = expect(&out, 2);
        assert!(
            all.contains(&format!("policy.toml{loc}")),
            "expected policy.toml{loc}:\n{all}"
        );
        let out = env
            .uca()
            .args([
                "--json",
                "artifact",
                "verify",
                "rel/M",
                "--policy",
                policy.utf8(),
            ])
            .output()
            .unwrap();
        let all = expect(&out, 2);
        assert!(all.contains(&format!("policy.toml{loc}")), "{all}");
    }
    // The valid policy holds, so the failures above were the unknown keys.
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\n[stages.build]\nsigners = [\"ci-*\"]\n",
    );
    expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 0);
}

#[test]
fn old_attestation_and_stale_crl_fail() {
    let env = TempCa::new();
    signed_release(&env);
    // A CRL that went stale in 2020, signed by this CA with openssl ca.
    let stale = env.path("stale.crl");
    OpensslCa::new(&env, "ossl").crl("20200101000000Z", "20200108000000Z", &stale);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_fails(
        &env,
        &["rel/M", "--require", "build", "--max-age", "1s"],
        "build",
        "ago",
    );
    assert_eq!(
        verify_json(&env, &["rel/M", "--require", "build", "--max-age", "1h"]).0,
        0
    );

    let (c, v) = verify_json(
        &env,
        &["rel/M", "--require", "build", "--crl", stale.utf8()],
    );
    assert_eq!(c, 7, "{v:#}");
    assert_eq!(v["holds"], false);
    assert_eq!(row(&v, "build")["ok"], true, "{v:#}");
    assert_eq!(v["crls"][0]["stale"], true, "{v:#}");
    assert!(
        v["crls"][0]["problem"]
            .as_str()
            .unwrap_or_default()
            .contains("nextUpdate"),
        "{v:#}"
    );
    let human = expect(
        &verify(
            &env,
            &["rel/M", "--require", "build", "--crl", stale.utf8()],
        ),
        7,
    );
    assert!(human.contains("nextUpdate"), "{human}");
    let (c, v) = verify_json(
        &env,
        &[
            "rel/M",
            "--require",
            "build",
            "--crl",
            stale.utf8(),
            "--allow-stale-crl",
        ],
    );
    assert_eq!(c, 0, "{v:#}");
    assert_eq!(v["crls"][0]["stale"], true, "{v:#}");
    // Through a policy: crl relative to the policy file.
    let policy = env.path("policy.toml");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\ncrl = \"stale.crl\"\n",
    );
    let human = expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 7);
    assert!(human.contains("nextUpdate"), "{human}");
    write(
        &policy,
        b"require = [\"build\"]\nroots = [\"pki/ca.crt\"]\ncrl = \"stale.crl\"\nallow_stale_crl = true\n",
    );
    expect(&verify(&env, &["rel/M", "--policy", policy.utf8()]), 0);
    // A CRL bundled beside the manifest is used by itself, stale or not.
    copy(&stale, &env.path("rel/M.crl"));
    let human = expect(&verify(&env, &["rel/M", "--require", "build"]), 7);
    assert!(
        human.contains("M.crl") && human.contains("nextUpdate"),
        "{human}"
    );
}

/// Regression: `--max-age` passed a signature that carries no signing time (its age cannot be
/// known).
#[test]
fn max_age_fails_a_signature_without_signing_time() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    env.issue("qa-bot", &["--profile", "code-signing"]);
    cms_sign(
        &env.issued("qa-bot", "cert.pem"),
        &env.issued("qa-bot", "key.pem"),
        Some(&env.issued("qa-bot", "chain.pem")),
        &m,
        &env.path("rel/M.build.p7s"),
        &["-noattr"],
    );
    let all = expect(
        &env.run(&[
            "artifact",
            "verify",
            "rel/M",
            "--require",
            "build",
            "--max-age",
            "30d",
        ]),
        7,
    );
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("no signing time"), "{all}");
    let all = expect(
        &env.run(&["artifact", "verify", "rel/M", "--require", "build"]),
        0,
    );
    assert!(all.contains("HOLDS"), "{all}");
}

/// Regression: `--require-revocation` (and `require_revocation = true`) passed a signer whose
/// revocation nobody checked.
#[test]
fn require_revocation_fails_an_unchecked_signer() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    env.issue("ci-build", &["--profile", "code-signing"]);
    expect(
        &env.run(&[
            "artifact", "attest", "rel/M", "--cert", "ci-build", "--stage", "build",
        ]),
        0,
    );
    // Offline: no CA dir, no CRL, only the root.
    let offline = env.path("offline");
    for f in ["M", "M.meta", "M.build.p7s"] {
        copy(&env.path(&format!("rel/{f}")), &offline.join(f));
    }
    copy(&env.ca_cert(), &offline.join("ca.crt"));
    assert!(!offline.join("pki").exists());
    let base = [
        "artifact",
        "verify",
        "M",
        "--require",
        "build",
        "--root",
        "ca.crt",
    ];

    let all = expect(&uca_in(&offline, &base), 0);
    assert!(all.contains("HOLDS"), "{all}");
    assert!(all.contains("revocation not checked"), "{all}");

    let mut args = base.to_vec();
    args.push("--require-revocation");
    let all = expect(&uca_in(&offline, &args), 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("revocation not checked"), "{all}");

    // The same from the policy file.
    write(
        &offline.join("strict.toml"),
        b"require = [\"build\"]\nroots = [\"ca.crt\"]\nrequire_revocation = true\n",
    );
    write(
        &offline.join("lax.toml"),
        b"require = [\"build\"]\nroots = [\"ca.crt\"]\n",
    );
    let all = expect(
        &uca_in(
            &offline,
            &["artifact", "verify", "M", "--policy", "strict.toml"],
        ),
        7,
    );
    assert!(all.contains("revocation not checked"), "{all}");
    let all = expect(
        &uca_in(
            &offline,
            &["artifact", "verify", "M", "--policy", "lax.toml"],
        ),
        0,
    );
    assert!(all.contains("revocation not checked"), "{all}");
}
