//! `uca artifact bundle`: this CA's certificate and current CRL beside a release.

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::CaPaths;
use uca_custody::layout::{bundled_ca_path, bundled_crl_path};
use uca_pki::validity::display_time;

use super::read_arg;
use crate::cli::artifact::BundleArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::settings::Settings;

#[derive(Serialize)]
struct Bundled {
    ca_certificate: String,
    crl: String,
    #[serde(with = "time::serde::rfc3339::option")]
    crl_next_update: Option<OffsetDateTime>,
}

pub fn run(args: &BundleArgs, settings: &Settings) -> Result<(), CliError> {
    read_arg(&args.manifest, "manifest")?;
    let ca = open_ca(settings)?;
    let crl_path = CaPaths::new(&settings.dir).crl();
    let crl = std::fs::read(&crl_path).map_err(|_| {
        CliError::usage(
            format!(
                "this CA has published no CRL ({} is missing)",
                crl_path.display()
            ),
            Some("publish one first: uca crl".to_string()),
        )
    })?;
    let spki = ca.cert_info().spki_der.clone();
    let info = uca_pki::crl::parse_crl(&crl, &spki)?;
    let now = OffsetDateTime::now_utc();
    if let Some(next) = info.next_update
        && next < now
    {
        return Err(CliError::usage(
            format!(
                "the CA's CRL is past its nextUpdate ({})",
                display_time(next)
            ),
            Some("publish a fresh one first: uca crl".to_string()),
        ));
    }
    let cert_out = bundled_ca_path(&args.manifest);
    let crl_out = bundled_crl_path(&args.manifest);
    uca_ca::fsio::write_atomic(&cert_out, ca.chain_pem().as_bytes(), 0o644)?;
    uca_ca::fsio::write_atomic(&crl_out, &crl, 0o644)?;
    let done = Bundled {
        ca_certificate: cert_out.display().to_string(),
        crl: crl_out.display().to_string(),
        crl_next_update: info.next_update,
    };
    if settings.out.json {
        return settings.out.json(&done);
    }
    settings.out.line(format!(
        "wrote {} and {} (CRL #{}, next update {})",
        done.ca_certificate,
        done.crl,
        info.number.unwrap_or(0),
        info.next_update
            .map(display_time)
            .unwrap_or_else(|| "none".into())
    ));
    Ok(())
}
