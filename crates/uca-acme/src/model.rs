//! The ACME objects as the store keeps them (RFC 8555 §7.1), and their statuses.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::identifier::Identifier;

macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl FromStr for $name {
            type Err = crate::store::StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok($name::$variant),)+
                    other => Err(crate::store::StoreError::UnknownWord {
                        column: stringify!($name),
                        value: other.to_string(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum!(
    /// §7.1.6: an account is valid until its owner deactivates it (or the CA revokes it).
    AccountStatus { Valid => "valid", Deactivated => "deactivated", Revoked => "revoked" }
);

status_enum!(
    /// §7.1.6 order states.
    OrderStatus {
        Pending => "pending",
        Ready => "ready",
        Processing => "processing",
        Valid => "valid",
        Invalid => "invalid",
    }
);

status_enum!(
    /// §7.1.6 authorization states.
    AuthzStatus {
        Pending => "pending",
        Valid => "valid",
        Invalid => "invalid",
        Deactivated => "deactivated",
        Expired => "expired",
        Revoked => "revoked",
    }
);

status_enum!(
    /// §7.1.6 challenge states.
    ChallengeStatus {
        Pending => "pending",
        Processing => "processing",
        Valid => "valid",
        Invalid => "invalid",
    }
);

status_enum!(
    /// The validation methods uca offers.
    ChallengeType {
        Http01 => "http-01",
        Dns01 => "dns-01",
        TlsAlpn01 => "tls-alpn-01",
    }
);

/// A registered account.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: String,
    /// The account key as canonical public JWK JSON.
    pub jwk: String,
    /// RFC 7638 thumbprint of the key (unique: one account per key).
    pub thumbprint: String,
    pub status: AccountStatus,
    pub contact: Vec<String>,
    /// The external account key it was bound with, if any.
    pub eab_kid: Option<String>,
    pub created_at: i64,
}

/// An order for a certificate.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub id: String,
    pub account: String,
    pub status: OrderStatus,
    pub identifiers: Vec<Identifier>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub expires: i64,
    /// A problem document (JSON) for an invalid order.
    pub error: Option<String>,
    /// Serial (hex) of the certificate, once valid.
    pub certificate: Option<String>,
    pub created_at: i64,
    /// The ARI certificate ID (RFC 9773 §4.1) of the certificate this order renews, as the
    /// client sent it in `replaces`.
    pub replaces: Option<String>,
    /// The certificate profile (draft-aaron-acme-profiles) it asked for; `None`: the default.
    pub profile: Option<String>,
}

/// An authorization for one identifier, owned by one order of one account (never shared or
/// reused across orders: a private CA has no rate limits to save, and reuse widens what a
/// stolen account key can do).
#[derive(Debug, Clone, Serialize)]
pub struct Authz {
    pub id: String,
    pub order: String,
    pub account: String,
    pub identifier: Identifier,
    pub wildcard: bool,
    pub status: AuthzStatus,
    pub expires: i64,
}

/// One way to prove control of an authorization's identifier.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub id: String,
    pub authz: String,
    pub kind: ChallengeType,
    /// 128 random bits, base64url (§8.3, §11.3).
    pub token: String,
    pub status: ChallengeStatus,
    pub validated: Option<i64>,
    /// A problem document (JSON) for an invalid challenge.
    pub error: Option<String>,
}

/// An external account key (§7.3.4) and the names accounts bound with it may obtain.
#[derive(Debug, Clone, Serialize)]
pub struct EabKey {
    pub kid: String,
    #[serde(skip)]
    pub hmac_key: Vec<u8>,
    /// Name and CIDR patterns; empty means whatever the server's own policy allows.
    pub allow: Vec<String>,
    /// Profiles its accounts may order; empty means every profile the server offers.
    pub profiles: Vec<String>,
    pub created_at: i64,
    /// Accounts bound with it.
    pub accounts: u64,
}

/// A certificate issued to an order (the ledger holds the record; this is what download
/// serves).
#[derive(Debug, Clone)]
pub struct IssuedCert {
    pub id: String,
    pub serial: String,
    pub order: String,
    pub account: String,
    /// Leaf and issuer chain, PEM.
    pub chain_pem: String,
    /// The leaf's notAfter, unix seconds: when its records may go. `None` for one recorded
    /// before the store kept it, until a prune reads it from the PEM.
    pub not_after: Option<i64>,
}
