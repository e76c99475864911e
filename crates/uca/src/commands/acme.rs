//! `uca acme eab add|list|remove`, `uca acme accounts`, `uca acme orders`: the ACME server's
//! state, read and edited beside a running `uca serve`.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::Serialize;
use time::OffsetDateTime;
use uca_acme::model::{EabKey, OrderStatus};
use uca_acme::store::{Commit, Retention, Store, StoreError};
use uca_pki::pattern::NamePattern;

use crate::cli::serve::{
    AcmeCommand, EabAddArgs, EabCommand, EabRemoveArgs, OrdersArgs, PruneArgs,
};
use crate::commands::serve::store_error;
use crate::exit::{CliError, Exit};
use crate::output::{note, when};
use crate::settings::Settings;

pub fn run(cmd: &AcmeCommand, settings: &Settings) -> Result<(), CliError> {
    match cmd {
        AcmeCommand::Eab(EabCommand::Add(a)) => eab_add(a, settings),
        AcmeCommand::Eab(EabCommand::List) => eab_list(settings),
        AcmeCommand::Eab(EabCommand::Remove(a)) => eab_remove(a, settings),
        AcmeCommand::Accounts => accounts(settings),
        AcmeCommand::Orders(a) => orders(a, settings),
        AcmeCommand::Prune(a) => prune(a, settings),
    }
}

fn prune(args: &PruneArgs, settings: &Settings) -> Result<(), CliError> {
    let dead_grace = grace_of("--older-than", &args.older_than, "every dead order")?;
    let expired_grace = grace_of(
        "--expired-for",
        &args.expired_for,
        "every expired certificate's order",
    )?;
    let mut store = open_store(settings)?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let pruned = store
        .prune(&Retention::at(now, dead_grace, expired_grace))
        .map_err(store_error)?;
    if settings.out.json {
        return settings.out.json(&pruned);
    }
    settings.out.line(format!(
        "removed {} order(s) ({} of them for certificates that expired), {} authorization(s), {} challenge(s) and {} expired nonce(s); the ledger keeps every certificate",
        pruned.orders, pruned.certificates, pruned.authzs, pruned.challenges, pruned.nonces
    ));
    Ok(())
}

/// Seconds of a `--older-than`-style span; `0` is none.
fn grace_of(flag: &str, text: &str, zero_means: &str) -> Result<i64, CliError> {
    if text.trim() == "0" {
        return Ok(0);
    }
    let span = uca_pki::Span::parse(text, uca_pki::Bare::Days).map_err(|e| {
        CliError::usage(
            format!("{flag}: {e}"),
            Some(format!("e.g. {flag} 1d, 12h, or 0 for {zero_means}")),
        )
    })?;
    Ok(span.as_time().whole_seconds())
}

/// The store of the CA directory (which must be a CA).
fn open_store(settings: &Settings) -> Result<Store, CliError> {
    if !uca_ca::CaPaths::is_ca(&settings.dir) {
        return Err(uca_ca::CaError::NotFound {
            dir: settings.dir.clone(),
        }
        .into());
    }
    let location = uca_ca::Ca::ledger_location_of(&settings.dir, &settings.ledger)?;
    uca_serve::acme_store::open(&settings.dir, &location).map_err(store_error)
}

/// For people: `2027-01-05 14:03 UTC`.
fn stamp(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(when)
        .unwrap_or_default()
}

/// For `--json`: RFC 3339.
fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
struct EabAdded<'a> {
    kid: &'a str,
    /// base64url; absent when written to a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    hmac_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    out: Option<String>,
    allow: &'a [String],
    profiles: &'a [String],
}

fn eab_add(args: &EabAddArgs, settings: &Settings) -> Result<(), CliError> {
    let kid = args.kid.trim();
    if kid.is_empty()
        || kid.len() > 64
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(CliError::usage(
            format!("'{}' is not a key ID", args.kid),
            Some("use 1-64 letters, digits, '-', '_' or '.', e.g. ci-runners".into()),
        ));
    }
    let mut allow = Vec::new();
    for p in &args.allow {
        let pattern = NamePattern::parse(p).map_err(|why| {
            CliError::usage(
                format!("--allow '{p}' is not a name pattern: {why}"),
                Some("use host.example, *.example, 10.0.0.7 or 10.0.0.0/8".into()),
            )
        })?;
        allow.push(pattern.to_string());
    }
    let mut profiles = Vec::new();
    for p in &args.profiles {
        match p.parse::<uca_pki::Profile>() {
            Ok(uca_pki::Profile::Server | uca_pki::Profile::Client | uca_pki::Profile::Both) => {
                profiles.push(p.clone())
            }
            _ => {
                return Err(CliError::usage(
                    format!("--profile '{p}' is not an ACME profile"),
                    Some("use server, client or both".into()),
                ));
            }
        }
    }
    if let Some(out) = &args.out
        && out.exists()
    {
        return Err(CliError::new(
            Exit::Exists,
            format!("{} already exists", out.display()),
            Some("choose another --out, or remove the old file first".into()),
        ));
    }
    let mut secret = zeroize::Zeroizing::new([0u8; 32]);
    uca_acme::random::fill(secret.as_mut()).map_err(|e| CliError::failure(e.to_string(), None))?;
    let encoded = zeroize::Zeroizing::new(Base64UrlUnpadded::encode_string(secret.as_ref()));
    let store = open_store(settings)?;
    let key = EabKey {
        kid: kid.to_string(),
        hmac_key: secret.to_vec(),
        allow: allow.clone(),
        profiles: profiles.clone(),
        created_at: OffsetDateTime::now_utc().unix_timestamp(),
        accounts: 0,
    };
    let mut store = store;
    store
        .write(Commit::Durable, |tx| tx.insert_eab(&key))
        .map_err(|e| match e {
            StoreError::DuplicateKid { .. } => CliError::new(
                Exit::Exists,
                e.to_string(),
                Some(format!(
                    "pick another KID, or 'uca acme eab remove {kid}' first"
                )),
            ),
            other => store_error(other),
        })?;
    if let Some(out) = &args.out {
        uca_ca::fsio::write_atomic(
            out,
            format!("{}\n", encoded.as_str()).as_bytes(),
            uca_ca::fsio::KEY_MODE,
        )?;
    }
    let shown = args.out.is_none().then_some(encoded.as_str());
    if settings.out.json {
        return settings.out.json(&EabAdded {
            kid,
            hmac_key: shown,
            out: args.out.as_ref().map(|p| p.display().to_string()),
            allow: &allow,
            profiles: &profiles,
        });
    }
    settings.out.line(format!("kid: {kid}"));
    match &args.out {
        Some(out) => settings.out.line(format!(
            "hmac key: written to {} (mode 0600)",
            out.display()
        )),
        None => {
            settings.out.line(format!("hmac key: {}", encoded.as_str()));
            note("the HMAC key is shown only now; give it to the client over a safe channel");
        }
    }
    if allow.is_empty() {
        note("accounts bound with this key may obtain any name the server's [acme] policy allows");
    } else {
        note(format!(
            "accounts bound with this key may obtain: {}",
            allow.join(", ")
        ));
    }
    if !profiles.is_empty() {
        note(format!("with the profiles: {}", profiles.join(", ")));
    }
    Ok(())
}

#[derive(Serialize)]
struct EabRow {
    kid: String,
    allow: Vec<String>,
    profiles: Vec<String>,
    created_at: String,
    accounts: u64,
    #[serde(skip)]
    created: i64,
}

fn eab_list(settings: &Settings) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let keys = store.read().eabs().map_err(store_error)?;
    let rows: Vec<EabRow> = keys
        .into_iter()
        .map(|k| EabRow {
            kid: k.kid,
            allow: k.allow,
            profiles: k.profiles,
            created_at: rfc3339(k.created_at),
            accounts: k.accounts,
            created: k.created_at,
        })
        .collect();
    if settings.out.json {
        return settings.out.json(&serde_json::json!({ "eab_keys": rows }));
    }
    if rows.is_empty() {
        settings.out.line("no external account keys");
        return Ok(());
    }
    for r in rows {
        let allow = if r.allow.is_empty() {
            "(server policy)".to_string()
        } else {
            r.allow.join(", ")
        };
        let profiles = if r.profiles.is_empty() {
            "any".to_string()
        } else {
            r.profiles.join(", ")
        };
        settings.out.line(format!(
            "{}  created {}  accounts {}  allow {}  profiles {}",
            r.kid,
            stamp(r.created),
            r.accounts,
            allow,
            profiles
        ));
    }
    Ok(())
}

fn eab_remove(args: &EabRemoveArgs, settings: &Settings) -> Result<(), CliError> {
    let mut store = open_store(settings)?;
    store
        .write(Commit::Durable, |tx| tx.remove_eab(&args.kid))
        .map_err(|e| match e {
            StoreError::UnknownKid { .. } => CliError::usage(
                e.to_string(),
                Some("'uca acme eab list' shows the key IDs".into()),
            ),
            other => store_error(other),
        })?;
    if settings.out.json {
        return settings
            .out
            .json(&serde_json::json!({ "removed": args.kid }));
    }
    settings.out.line(format!(
        "removed external account key {}; accounts bound with it can no longer order certificates",
        args.kid
    ));
    Ok(())
}

#[derive(Serialize)]
struct AccountRow {
    id: String,
    status: String,
    contact: Vec<String>,
    eab_kid: Option<String>,
    thumbprint: String,
    created_at: String,
    #[serde(skip)]
    created: i64,
}

fn accounts(settings: &Settings) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let rows: Vec<AccountRow> = store
        .read()
        .accounts()
        .map_err(store_error)?
        .into_iter()
        .map(|a| AccountRow {
            id: a.id,
            status: a.status.to_string(),
            contact: a.contact,
            eab_kid: a.eab_kid,
            thumbprint: a.thumbprint,
            created_at: rfc3339(a.created_at),
            created: a.created_at,
        })
        .collect();
    if settings.out.json {
        return settings.out.json(&serde_json::json!({ "accounts": rows }));
    }
    if rows.is_empty() {
        settings.out.line("no ACME accounts");
        return Ok(());
    }
    for r in rows {
        settings.out.line(format!(
            "{}  {}  created {}  eab {}  {}",
            r.id,
            r.status,
            stamp(r.created),
            r.eab_kid.as_deref().unwrap_or("-"),
            if r.contact.is_empty() {
                "-".to_string()
            } else {
                r.contact.join(", ")
            }
        ));
    }
    Ok(())
}

#[derive(Serialize)]
struct OrderRow {
    id: String,
    account: String,
    status: String,
    identifiers: Vec<String>,
    certificate: Option<String>,
    created_at: String,
    /// When a pending or ready order lapses; absent once it is valid or invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
}

fn orders(args: &OrdersArgs, settings: &Settings) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let rows: Vec<OrderRow> = store
        .read()
        .orders()
        .map_err(store_error)?
        .into_iter()
        .filter(|o| args.account.as_ref().is_none_or(|a| &o.account == a))
        .map(|o| OrderRow {
            id: o.id,
            account: o.account,
            status: o.status.to_string(),
            identifiers: o.identifiers.iter().map(|i| i.value()).collect(),
            certificate: o.certificate,
            created_at: rfc3339(o.created_at),
            expires: matches!(o.status, OrderStatus::Pending | OrderStatus::Ready)
                .then(|| rfc3339(o.expires)),
        })
        .collect();
    if settings.out.json {
        return settings.out.json(&serde_json::json!({ "orders": rows }));
    }
    if rows.is_empty() {
        settings.out.line("no ACME orders");
        return Ok(());
    }
    for r in rows {
        settings.out.line(format!(
            "{}  {:10}  account {}  {}  {}",
            r.id,
            r.status,
            r.account,
            r.identifiers.join(", "),
            r.certificate
                .map(|s| format!("serial {s}"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}
