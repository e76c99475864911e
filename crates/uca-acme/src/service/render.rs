//! The JSON of each ACME object (§7.1.2–§7.1.5), with its URLs under the request's base.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::paths;
use crate::model::{Account, Authz, Challenge, Order};

/// RFC 3339 in UTC, as the protocol's timestamps are written.
pub(crate) fn timestamp(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(crate) fn account(base: &str, a: &Account) -> Value {
    let mut doc = json!({
        "status": a.status.as_str(),
        "contact": a.contact,
        "orders": format!("{base}{}{}/orders", paths::ACCOUNT, a.id),
        "createdAt": timestamp(a.created_at),
    });
    if let Ok(key) = serde_json::from_str::<Value>(&a.jwk) {
        doc["key"] = key;
    }
    doc
}

pub(crate) fn order(base: &str, o: &Order, authzs: &[Authz]) -> Value {
    let mut doc = json!({
        "status": o.status.as_str(),
        "expires": timestamp(o.expires),
        "identifiers": o.identifiers.iter().map(|i| i.to_json()).collect::<Vec<_>>(),
        "authorizations": authzs.iter().map(|a| format!("{base}{}{}", paths::AUTHZ, a.id)).collect::<Vec<_>>(),
        "finalize": format!("{base}{}{}/finalize", paths::ORDER, o.id),
    });
    if let Some(nb) = o.not_before {
        doc["notBefore"] = Value::String(timestamp(nb));
    }
    if let Some(na) = o.not_after {
        doc["notAfter"] = Value::String(timestamp(na));
    }
    if let Some(err) = o
        .error
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
    {
        doc["error"] = err;
    }
    if let Some(profile) = &o.profile {
        doc["profile"] = Value::String(profile.clone());
    }
    if let Some(cert_id) = &o.replaces {
        doc["replaces"] = Value::String(cert_id.clone());
    }
    if o.certificate.is_some() {
        doc["certificate"] = Value::String(format!("{base}{}{}", paths::CERT, o.id));
    }
    doc
}

pub(crate) fn authz(base: &str, a: &Authz, challenges: &[Challenge]) -> Value {
    let mut doc = json!({
        "identifier": a.identifier.to_json(),
        "status": a.status.as_str(),
        "expires": timestamp(a.expires),
        "challenges": challenges.iter().map(|c| challenge(base, c)).collect::<Vec<_>>(),
    });
    if a.wildcard {
        doc["wildcard"] = Value::Bool(true);
    }
    doc
}

pub(crate) fn challenge(base: &str, c: &Challenge) -> Value {
    let mut doc = json!({
        "type": c.kind.as_str(),
        "url": format!("{base}{}{}", paths::CHALLENGE, c.id),
        "status": c.status.as_str(),
        "token": c.token,
    });
    if let Some(v) = c.validated {
        doc["validated"] = Value::String(timestamp(v));
    }
    if let Some(err) = c
        .error
        .as_deref()
        .and_then(|e| serde_json::from_str::<Value>(e).ok())
    {
        doc["error"] = err;
    }
    doc
}
