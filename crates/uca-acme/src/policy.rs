//! Which identifiers the server will certify: allow/deny patterns from `[acme]` and from an
//! external account key, on top of the CA's own name constraints.

pub use uca_pki::pattern::NamePattern;

use crate::identifier::Identifier;

/// Allow and deny lists: deny wins; an empty allow list allows what deny does not refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamePolicy {
    pub allow: Vec<NamePattern>,
    pub deny: Vec<NamePattern>,
}

impl NamePolicy {
    /// Why `id` is refused, or `None` if it may be certified.
    pub fn refusal(&self, id: &Identifier) -> Option<String> {
        let san = id.san();
        if let Some(p) = self.deny.iter().find(|p| p.matches(&san)) {
            return Some(format!("'{id}' matches the deny pattern '{p}'"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(&san)) {
            let list: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
            return Some(format!(
                "'{id}' is not in the allowed patterns ({})",
                list.join(", ")
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(n: &str) -> Identifier {
        Identifier::Dns(n.into())
    }

    #[test]
    fn deny_wins_and_an_allow_list_narrows() {
        let policy = NamePolicy {
            allow: vec![NamePattern::parse("*.svc.internal").unwrap()],
            deny: vec![NamePattern::parse("db.svc.internal").unwrap()],
        };
        assert!(policy.refusal(&dns("web.svc.internal")).is_none());
        assert!(
            policy
                .refusal(&dns("db.svc.internal"))
                .unwrap()
                .contains("deny")
        );
        assert!(
            policy
                .refusal(&dns("example.org"))
                .unwrap()
                .contains("allowed")
        );
        assert!(
            NamePolicy::default()
                .refusal(&dns("anything.test"))
                .is_none()
        );
    }
}
