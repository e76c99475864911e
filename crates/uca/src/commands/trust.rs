//! `uca trust install | uninstall | status`

use uca_ca::deploy::trust::{TrustAction, TrustAnchor, TrustOptions};

use crate::cli::deploy::TrustCommand;
use crate::commands::open_ca;
use crate::exit::{CliError, Exit};
use crate::output::Style;
use crate::settings::Settings;

pub fn run(command: &TrustCommand, settings: &Settings) -> Result<Exit, CliError> {
    let (action, args) = match command {
        TrustCommand::Install(a) => (TrustAction::Install, a),
        TrustCommand::Uninstall(a) => (TrustAction::Uninstall, a),
        TrustCommand::Status(a) => (TrustAction::Status, a),
    };
    let ca = open_ca(settings)?;
    let opts = TrustOptions {
        java_keystore: args.java_keystore.clone(),
        java_storepass: args.java_storepass.clone(),
        nss_dbs: args.nss_dbs.clone(),
        home: settings.home.clone(),
        search_path: settings.search_path.clone(),
        only: args.targets.clone(),
    };
    let results = TrustAnchor::of(&ca)?.trust(action, &opts)?;
    let failed = results.iter().any(|r| r.state == "failed");
    let code = if failed { Exit::Failure } else { Exit::Ok };
    if settings.out.json {
        settings
            .out
            .json(&serde_json::json!({ "targets": results }))?;
        return Ok(code);
    }
    let out = &settings.out;
    let w = results
        .iter()
        .map(|r| r.target.chars().count())
        .max()
        .unwrap_or(6);
    for r in &results {
        let color = match r.state {
            "installed" | "removed" | "present" => Style::Green,
            "failed" => Style::Red,
            _ => Style::Dim,
        };
        out.line(format!(
            "{:w$}  {}  {}",
            r.target,
            out.paint(&format!("{:9}", r.state), color),
            r.detail
        ));
    }
    Ok(code)
}
