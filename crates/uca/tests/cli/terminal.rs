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

/// `uca health watch` on a terminal draws a live table (colored) of every endpoint, and stops by
/// itself with --duration.
#[test]
fn health_watch_shows_a_live_table_on_a_terminal() {
    let env = TempCa::new();
    env.init_plain(&[]);
    // One endpoint that answers (a listener uca connects to) and one that refuses.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = free_port();
    std::fs::write(
        env.path("targets.toml"),
        format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"2s\"\nmin_samples = 3\n\
             [[target]]\nname = \"up-tcp\"\nurl = \"tcp://127.0.0.1:{open}\"\n\
             [[target]]\nname = \"down-tcp\"\nurl = \"tcp://127.0.0.1:{closed}\"\n"
        ),
    )
    .unwrap();
    let listen = free_port();
    let (code, text) = on_terminal(
        &env,
        &format!("health watch targets.toml --listen 127.0.0.1:{listen} --duration 4s"),
        &[],
        &[],
    );
    drop(listener);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("STATUS") && text.contains("ENDPOINT"),
        "{text}"
    );
    assert!(
        text.contains("up-tcp") && text.contains("down-tcp"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    // Colors on a terminal: Green and Red rows are painted.
    assert!(
        text.contains("\u{1b}[32mGreen") && text.contains("\u{1b}[31mRed"),
        "{text}"
    );
    assert!(text.contains("recent changes:"), "{text}");
}
