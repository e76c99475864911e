//! Problem documents (RFC 7807 as RFC 8555 §6.7 uses them): every refusal the server sends.

use serde_json::{Value, json};

use crate::identifier::Identifier;

/// The ACME error types (`urn:ietf:params:acme:error:*`), each with the HTTP status it is sent
/// with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    AccountDoesNotExist,
    AlreadyRevoked,
    BadCsr,
    BadNonce,
    BadPublicKey,
    BadRevocationReason,
    BadSignatureAlgorithm,
    Caa,
    Compound,
    Connection,
    Dns,
    ExternalAccountRequired,
    IncorrectResponse,
    InvalidContact,
    Malformed,
    OrderNotReady,
    RateLimited,
    RejectedIdentifier,
    ServerInternal,
    Tls,
    Unauthorized,
    UnsupportedContact,
    UnsupportedIdentifier,
    UserActionRequired,
    /// draft-aaron-acme-profiles.
    InvalidProfile,
    /// RFC 9773: newOrder's `replaces` names a certificate another order already replaces.
    AlreadyReplaced,
}

impl ProblemType {
    /// The last part of the URN.
    pub fn code(self) -> &'static str {
        match self {
            ProblemType::AccountDoesNotExist => "accountDoesNotExist",
            ProblemType::AlreadyRevoked => "alreadyRevoked",
            ProblemType::BadCsr => "badCSR",
            ProblemType::BadNonce => "badNonce",
            ProblemType::BadPublicKey => "badPublicKey",
            ProblemType::BadRevocationReason => "badRevocationReason",
            ProblemType::BadSignatureAlgorithm => "badSignatureAlgorithm",
            ProblemType::Caa => "caa",
            ProblemType::Compound => "compound",
            ProblemType::Connection => "connection",
            ProblemType::Dns => "dns",
            ProblemType::ExternalAccountRequired => "externalAccountRequired",
            ProblemType::IncorrectResponse => "incorrectResponse",
            ProblemType::InvalidContact => "invalidContact",
            ProblemType::Malformed => "malformed",
            ProblemType::OrderNotReady => "orderNotReady",
            ProblemType::RateLimited => "rateLimited",
            ProblemType::RejectedIdentifier => "rejectedIdentifier",
            ProblemType::ServerInternal => "serverInternal",
            ProblemType::Tls => "tls",
            ProblemType::Unauthorized => "unauthorized",
            ProblemType::UnsupportedContact => "unsupportedContact",
            ProblemType::UnsupportedIdentifier => "unsupportedIdentifier",
            ProblemType::UserActionRequired => "userActionRequired",
            ProblemType::InvalidProfile => "invalidProfile",
            ProblemType::AlreadyReplaced => "alreadyReplaced",
        }
    }

    pub fn urn(self) -> String {
        format!("urn:ietf:params:acme:error:{}", self.code())
    }

    /// The HTTP status sent with it. RFC 8555 fixes some (orderNotReady is 403, §7.4;
    /// accountDoesNotExist 400, §7.3.1); the rest follow Boulder and Pebble.
    pub fn status(self) -> u16 {
        match self {
            ProblemType::Unauthorized | ProblemType::OrderNotReady => 403,
            ProblemType::RateLimited => 429,
            ProblemType::AlreadyReplaced => 409,
            ProblemType::ServerInternal => 500,
            ProblemType::UserActionRequired => 403,
            _ => 400,
        }
    }
}

/// One problem document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemType,
    pub detail: String,
    /// Per-identifier problems (§6.7.1), e.g. each refused name of a newOrder.
    pub subproblems: Vec<Subproblem>,
    /// For badSignatureAlgorithm: the algorithms the server accepts (§6.2).
    pub algorithms: Option<Vec<&'static str>>,
    /// Overrides [`ProblemType::status`] where a resource needs another code (404, 405, 413,
    /// 415).
    pub status: Option<u16>,
    /// Seconds for a `Retry-After` header (rate limits, validation still running).
    pub retry_after: Option<u64>,
    /// A `Location` header (the account that holds a key, §7.3.5).
    pub location: Option<String>,
    /// Not a refusal: the outcome of a write is unknown (the database connection broke during
    /// its commit and could not be re-read). Nothing may be undone on the strength of it.
    pub undecided: bool,
}

/// A problem about one identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subproblem {
    pub kind: ProblemType,
    pub detail: String,
    pub identifier: Identifier,
}

impl Problem {
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Problem {
        Problem {
            kind,
            detail: detail.into(),
            subproblems: Vec::new(),
            algorithms: None,
            status: None,
            retry_after: None,
            location: None,
            undecided: false,
        }
    }

    /// A write whose outcome is unknown: `serverInternal`, retry later, and nothing undone.
    pub fn undecided(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(ProblemType::ServerInternal, detail);
        p.retry_after = Some(5);
        p.undecided = true;
        p
    }

    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::Malformed, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::Unauthorized, detail)
    }

    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(ProblemType::ServerInternal, detail)
    }

    /// A resource that does not exist, or that this account may not see: the two look the
    /// same from outside (§10.5: no account-to-name links through probing).
    pub fn not_found() -> Problem {
        Problem::malformed("no such resource").with_status(404)
    }

    pub fn with_status(mut self, status: u16) -> Problem {
        self.status = Some(status);
        self
    }

    pub fn with_subproblems(mut self, subproblems: Vec<Subproblem>) -> Problem {
        self.subproblems = subproblems;
        self
    }

    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.kind.status())
    }

    /// The `application/problem+json` body.
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "type": self.kind.urn(),
            "detail": self.detail,
            "status": self.http_status(),
        });
        if !self.subproblems.is_empty() {
            doc["subproblems"] = self
                .subproblems
                .iter()
                .map(|s| {
                    json!({
                        "type": s.kind.urn(),
                        "detail": s.detail,
                        "identifier": s.identifier.to_json(),
                    })
                })
                .collect();
        }
        if let Some(algs) = &self.algorithms {
            doc["algorithms"] = json!(algs);
        }
        doc
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_not_ready_is_403_and_documents_carry_urn_and_subproblems() {
        let p = Problem::new(ProblemType::OrderNotReady, "authorizations pending");
        assert_eq!(p.http_status(), 403);
        let ident = Identifier::Dns("evil.example".into());
        let p = Problem::new(ProblemType::RejectedIdentifier, "refused").with_subproblems(vec![
            Subproblem {
                kind: ProblemType::RejectedIdentifier,
                detail: "not allowed".into(),
                identifier: ident,
            },
        ]);
        let doc = p.to_json();
        assert_eq!(doc["type"], "urn:ietf:params:acme:error:rejectedIdentifier");
        assert_eq!(doc["status"], 400);
        assert_eq!(doc["subproblems"][0]["identifier"]["value"], "evil.example");
        assert_eq!(Problem::not_found().http_status(), 404);
        assert_eq!(
            ProblemType::BadCsr.urn(),
            "urn:ietf:params:acme:error:badCSR"
        );
    }
}
