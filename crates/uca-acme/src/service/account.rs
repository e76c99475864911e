//! newAccount (§7.3, with external account binding §7.3.4), account update and deactivation
//! (§7.3.2, §7.3.6), key rollover (§7.3.5).

use serde_json::Value;

use super::{
    Acme, Authenticated, EabMode, KeyForm, Limit, Post, Reply, Signer, account_jwk, payload_object,
    render, require_account, store_problem,
};
use crate::jose::{Jwk, Jws, KeyRef, parse_eab};
use crate::model::{Account, AccountStatus};
use crate::problem::{Problem, ProblemType};
use crate::random;
use crate::store::Commit;

/// Contact URLs: `mailto:` with one plain address each (§7.3), nothing else.
fn parse_contact(v: Option<&Value>) -> Result<Option<Vec<String>>, Problem> {
    let Some(v) = v else { return Ok(None) };
    let list = v
        .as_array()
        .ok_or_else(|| Problem::malformed("'contact' must be an array of URLs"))?;
    let mut out = Vec::new();
    for item in list {
        let url = item
            .as_str()
            .ok_or_else(|| Problem::malformed("each 'contact' entry must be a string"))?;
        let Some(addr) = url.strip_prefix("mailto:") else {
            return Err(Problem::new(
                ProblemType::UnsupportedContact,
                format!("'{url}': only mailto: contacts are supported"),
            ));
        };
        let valid = addr.len() <= 254
            && !addr.contains(['?', ',', '%', ' ', '<', '>'])
            && addr.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && uca_pki::san::parse_dns(domain, false).is_ok()
            });
        if !valid {
            return Err(Problem::new(
                ProblemType::InvalidContact,
                format!("'{url}' is not a mailto: URL with one plain email address"),
            ));
        }
        out.push(url.to_string());
    }
    if out.len() > 10 {
        return Err(Problem::new(
            ProblemType::InvalidContact,
            "at most 10 contacts",
        ));
    }
    Ok(Some(out))
}

impl Acme {
    /// POST /acme/new-account.
    pub fn new_account(&self, post: &Post<'_>, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Jwk, now)?;
        let Signer::Key(jwk) = &auth.signer else {
            return Err(Problem::malformed("newAccount is signed with a 'jwk'"));
        };
        let payload = payload_object(&auth)?;
        let thumbprint = jwk.thumbprint();
        if let Some(existing) = self
            .store()
            .read()
            .account_by_thumbprint(&thumbprint)
            .map_err(store_problem)?
        {
            if existing.status != AccountStatus::Valid {
                return Err(Problem::unauthorized(format!(
                    "the account of this key is {}; register with a new key",
                    existing.status
                ))
                .with_status(401));
            }
            // §7.3.1: the existing account, whatever else the request says.
            let url = Self::account_url(post.base, &existing.id);
            return Ok(Reply::json(200, render::account(post.base, &existing)).at(url));
        }
        if payload.get("onlyReturnExisting").and_then(Value::as_bool) == Some(true) {
            return Err(Problem::new(
                ProblemType::AccountDoesNotExist,
                "no account exists for this key",
            ));
        }
        match payload.get("termsOfServiceAgreed") {
            None | Some(Value::Bool(_)) => {}
            Some(_) => {
                return Err(Problem::malformed(
                    "'termsOfServiceAgreed' must be a boolean",
                ));
            }
        }
        let contact = parse_contact(payload.get("contact"))?.unwrap_or_default();
        if let Some(ip) = post.peer {
            self.take_limit(Limit::Accounts, &ip.to_string(), now)
                .map_err(|secs| {
                    super::rate_limited(
                        &format!("new accounts from {ip}"),
                        self.settings.limits.new_accounts_per_ip,
                        secs,
                    )
                })?;
        }
        let eab_kid = match (payload.get("externalAccountBinding"), self.settings.eab) {
            (None, EabMode::Required) => {
                return Err(Problem::new(
                    ProblemType::ExternalAccountRequired,
                    "this server requires an external account binding; ask its operator for a key ('uca acme eab add KID')",
                ));
            }
            (None, _) => None,
            (Some(_), EabMode::Off) => {
                return Err(Problem::malformed(
                    "this server does not use external account binding",
                ));
            }
            (Some(eab), _) => Some(self.check_eab(eab, jwk, &post.url())?),
        };
        let account = Account {
            id: random::id().map_err(|e| Problem::internal(e.to_string()))?,
            jwk: jwk.to_json().to_string(),
            thumbprint,
            status: AccountStatus::Valid,
            contact,
            eab_kid,
            created_at: now,
        };
        let spki = jwk.spki_der();
        let inserted = self.store().write(Commit::Durable, |tx| {
            // Racing newAccounts with one key: the unique thumbprint makes one of them lose.
            if let Some(existing) = tx.account_by_thumbprint(&account.thumbprint)? {
                return Ok(Err(existing));
            }
            tx.insert_account(&account, &spki)?;
            Ok(Ok(()))
        });
        match inserted.map_err(store_problem)? {
            Ok(()) => {
                let url = Self::account_url(post.base, &account.id);
                let mut doc = render::account(post.base, &account);
                // §7.3.4: the reply carries the binding as the request sent it.
                if let Some(binding) = payload.get("externalAccountBinding") {
                    doc["externalAccountBinding"] = binding.clone();
                }
                Ok(Reply::json(201, doc).at(url))
            }
            Err(existing) => {
                let url = Self::account_url(post.base, &existing.id);
                Ok(Reply::json(200, render::account(post.base, &existing)).at(url))
            }
        }
    }

    /// The external account binding of a newAccount: a known KID, its MAC, over this key.
    fn check_eab(&self, eab: &Value, jwk: &Jwk, url: &str) -> Result<String, Problem> {
        let eab = parse_eab(eab)
            .map_err(|e| Problem::malformed(format!("externalAccountBinding: {e}")))?;
        let key = self
            .store()
            .read()
            .eab(eab.kid())
            .map_err(store_problem)?
            .ok_or_else(|| {
                Problem::unauthorized(format!(
                    "externalAccountBinding: unknown key ID '{}'",
                    eab.kid()
                ))
            })?;
        eab.verify(&key.hmac_key, jwk, url)
            .map_err(|e| Problem::unauthorized(format!("externalAccountBinding: {e}")))?;
        Ok(key.kid)
    }

    /// POST /acme/acct/ID: read (POST-as-GET or an empty object), update contact, deactivate.
    pub fn account(&self, post: &Post<'_>, id: &str, now: i64) -> Result<Reply, Problem> {
        let auth = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?;
        if account.id != id {
            return Err(Problem::unauthorized(
                "an account can only read and change itself",
            ));
        }
        let url = Self::account_url(post.base, id);
        if auth.jws.is_post_as_get() {
            return Ok(Reply::json(200, render::account(post.base, account)).at(url));
        }
        let payload = payload_object(&auth)?;
        let contact = parse_contact(payload.get("contact"))?;
        let deactivate = match payload.get("status") {
            None => false,
            Some(Value::String(s)) if s == "deactivated" => true,
            Some(other) => {
                return Err(Problem::malformed(format!(
                    "an account's status can only be set to \"deactivated\", not {other}"
                )));
            }
        };
        if payload.contains_key("orders") || payload.contains_key("key") {
            return Err(Problem::malformed(
                "'orders' and 'key' cannot be changed here (use keyChange for the key)",
            ));
        }
        let id_owned = account.id.clone();
        let written = self.store().write(Commit::Durable, |tx| {
            if let Some(c) = &contact {
                tx.set_account_contact(&id_owned, c)?;
            }
            if deactivate {
                tx.set_account_status(&id_owned, AccountStatus::Deactivated)?;
                tx.deactivate_pending_authzs(&id_owned)?;
                let doc = Problem::unauthorized("the account was deactivated")
                    .to_json()
                    .to_string();
                tx.fail_open_orders(&id_owned, &doc, &self.busy())?;
            }
            Ok(())
        });
        self.forget_account(&id_owned);
        written.map_err(store_problem)?;
        let updated = self
            .store()
            .read()
            .account(id)
            .map_err(store_problem)?
            .ok_or_else(|| Problem::internal("the account vanished"))?;
        Ok(Reply::json(200, render::account(post.base, &updated)).at(url))
    }

    /// POST /acme/key-change (§7.3.5): the outer JWS by the account's current key, the inner by
    /// the new key, naming the account and its old key.
    pub fn key_change(&self, post: &Post<'_>, now: i64) -> Result<Reply, Problem> {
        let auth: Authenticated = self.authenticate(post, KeyForm::Kid, now)?;
        let account = require_account(&auth)?.clone();
        let inner = Jws::parse(&auth.jws.payload)
            .map_err(|e| Problem::malformed(format!("the keyChange payload is not a JWS: {e}")))?;
        let KeyRef::Jwk(new_key) = &inner.protected.key else {
            return Err(Problem::malformed(
                "the inner JWS of keyChange must carry the new key as 'jwk'",
            ));
        };
        inner.verify(new_key).map_err(super::jose_problem)?;
        if inner.protected.url.as_deref() != Some(post.url().as_str()) {
            return Err(Problem::malformed(
                "the inner JWS's url must equal the outer one",
            ));
        }
        let payload = match inner.payload_json().map_err(super::jose_problem)? {
            Value::Object(m) => m,
            _ => {
                return Err(Problem::malformed(
                    "the inner payload must be a JSON object",
                ));
            }
        };
        let account_url = Self::account_url(post.base, &account.id);
        if payload.get("account").and_then(Value::as_str) != Some(account_url.as_str()) {
            return Err(Problem::malformed(
                "the inner payload's 'account' must be the URL of the signing account",
            ));
        }
        let old_key = payload
            .get("oldKey")
            .ok_or_else(|| Problem::malformed("the inner payload has no 'oldKey'"))
            .and_then(|v| Jwk::from_json(v).map_err(super::jose_problem))?;
        let current = account_jwk(&account)?;
        if old_key.thumbprint() != current.thumbprint() {
            return Err(Problem::malformed(
                "'oldKey' is not the account's current key",
            ));
        }
        let new_thumb = new_key.thumbprint();
        if new_thumb == current.thumbprint() {
            return Err(Problem::malformed("the new key is the current key"));
        }
        let changed = self.store().write(Commit::Durable, |tx| {
            if let Some(holder) = tx.account_by_thumbprint(&new_thumb)? {
                return Ok(Err(holder.id));
            }
            if !tx.set_account_key(
                &account.id,
                &new_key.to_json().to_string(),
                &new_thumb,
                &new_key.spki_der(),
            )? {
                return Ok(Err(String::new()));
            }
            Ok(Ok(()))
        });
        self.forget_account(&account.id);
        match changed.map_err(store_problem)? {
            Ok(()) => {
                let updated = self
                    .store()
                    .read()
                    .account(&account.id)
                    .map_err(store_problem)?
                    .ok_or_else(|| Problem::internal("the account vanished"))?;
                Ok(Reply::json(200, render::account(post.base, &updated)).at(account_url))
            }
            Err(holder) => {
                let mut p =
                    Problem::malformed("another account already uses the new key").with_status(409);
                if !holder.is_empty() {
                    // §7.3.5: the URL of the account holding the key, in Location.
                    p.location = Some(Self::account_url(post.base, &holder));
                }
                Err(p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_plain_mailto_urls() {
        let ok = parse_contact(Some(&serde_json::json!(["mailto:ops@example.test"]))).unwrap();
        assert_eq!(ok.unwrap(), vec!["mailto:ops@example.test"]);
        let bad = |v: Value| parse_contact(Some(&v)).unwrap_err().kind;
        assert_eq!(
            bad(serde_json::json!(["tel:+1555"])),
            ProblemType::UnsupportedContact
        );
        assert_eq!(
            bad(serde_json::json!(["mailto:a@b.test,c@d.test"])),
            ProblemType::InvalidContact
        );
        assert_eq!(
            bad(serde_json::json!(["mailto:nobody"])),
            ProblemType::InvalidContact
        );
        assert_eq!(
            bad(serde_json::json!(["mailto:a@b.test?subject=x"])),
            ProblemType::InvalidContact
        );
        assert_eq!(
            bad(serde_json::json!("mailto:a@b.test")),
            ProblemType::Malformed
        );
        assert_eq!(bad(serde_json::json!([1])), ProblemType::Malformed);
    }
}
