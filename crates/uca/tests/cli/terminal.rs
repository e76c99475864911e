//! Behaviour on a real terminal (a pseudo-terminal from util-linux `script`): passphrase
//! prompts, and color in `list` that NO_COLOR turns off.

use crate::support::*;

/// `init` asks twice on a terminal; the key is encrypted with what was typed.
#[test]
fn init_prompts_for_a_new_passphrase_twice() {
    let env = TempCa::new();
    let (code, text) = on_terminal(
        &env,
        "init",
        &["typed passphrase 1", "typed passphrase 1"],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("New CA passphrase:") && text.contains("Repeat it:"),
        "{text}"
    );
    assert!(
        !text.contains("typed passphrase 1"),
        "the passphrase must not be echoed: {text}"
    );
    let key = env.ca_dir().join("private/ca.key");
    openssl(&[
        "pkey",
        "-in",
        key.utf8(),
        "-passin",
        "pass:typed passphrase 1",
        "-noout",
    ]);
}

/// Two different answers create nothing.
#[test]
fn init_refuses_mismatched_passphrases() {
    let env = TempCa::new();
    let (code, text) = on_terminal(
        &env,
        "init",
        &["typed passphrase 1", "typed passphrase 2"],
        &[],
    );
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("the two passphrases differ"), "{text}");
    assert!(!env.ca_dir().exists());
}

/// `issue` asks for the CA passphrase on a terminal; a wrong one is refused.
#[test]
fn issue_prompts_for_the_ca_passphrase() {
    let env = TempCa::new();
    env.init(&[]);
    let (code, text) = on_terminal(&env, "issue web1", &[PASS], &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("CA passphrase:"), "{text}");
    assert!(env.issued("web1", "cert.pem").exists());
    let (code, text) = on_terminal(&env, "issue web2", &["wrong"], &[]);
    assert!(code != 0 && text.contains("wrong passphrase"), "{text}");
}

/// On a terminal `list` colors the time left; NO_COLOR turns color off.
#[test]
fn list_colors_on_a_terminal_unless_no_color() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.uca()
        .args(["issue", "soon", "--days", "3"])
        .assert()
        .success();
    env.uca().args(["issue", "later"]).assert().success();
    let (code, text) = on_terminal(&env, "list", &[], &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\u{1b}[31m"), "red for 3 days left: {text:?}");
    assert!(
        text.contains("\u{1b}[32m"),
        "green for a year left: {text:?}"
    );
    let (code, text) = on_terminal(&env, "list", &[], &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("\u{1b}["), "NO_COLOR: {text:?}");
}
