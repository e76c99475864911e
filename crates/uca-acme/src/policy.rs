//! Which identifiers the server will certify: allow/deny patterns from `[acme]` and from an
//! external account key, on top of the CA's own name constraints.

use std::fmt;
use std::net::IpAddr;

use uca_pki::constraints::IpNet;

use crate::identifier::Identifier;

/// One name or address pattern: `host.example` (exactly), `*.example` (any name under it, at
/// any depth, and wildcards under it), `10.0.0.7` (exactly), `10.0.0.0/8` (a range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact(String),
    Under(String),
    Ip(IpAddr),
    Net(IpNet),
}

impl Pattern {
    pub fn parse(input: &str) -> Result<Pattern, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("an empty pattern".into());
        }
        if s.contains('/') {
            return IpNet::parse(s).map(Pattern::Net).map_err(|e| e.to_string());
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Pattern::Ip(ip));
        }
        if let Some(rest) = s.strip_prefix("*.") {
            let base = uca_pki::san::parse_dns(rest, false).map_err(|e| e.reason)?;
            return Ok(Pattern::Under(base));
        }
        uca_pki::san::parse_dns(s, false)
            .map(Pattern::Exact)
            .map_err(|e| e.reason)
    }

    pub fn matches(&self, id: &Identifier) -> bool {
        match (self, id) {
            (Pattern::Exact(p), Identifier::Dns(n)) => p == n,
            (Pattern::Under(base), Identifier::Dns(n)) => {
                let under = |n: &str| {
                    n.len() > base.len()
                        && n.ends_with(base.as_str())
                        && n.as_bytes().get(n.len() - base.len() - 1) == Some(&b'.')
                };
                match n.strip_prefix("*.") {
                    // `*.base` itself only stands for names under base.
                    Some(wild_base) => wild_base == base || under(wild_base),
                    None => under(n),
                }
            }
            (Pattern::Ip(p), Identifier::Ip(ip)) => p == ip,
            (Pattern::Net(net), Identifier::Ip(ip)) => net.contains(*ip),
            _ => false,
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Exact(n) => f.write_str(n),
            Pattern::Under(n) => write!(f, "*.{n}"),
            Pattern::Ip(ip) => write!(f, "{ip}"),
            Pattern::Net(net) => write!(f, "{}/{}", net.addr, net.prefix),
        }
    }
}

/// Allow and deny lists: deny wins; an empty allow list allows what deny does not refuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamePolicy {
    pub allow: Vec<Pattern>,
    pub deny: Vec<Pattern>,
}

impl NamePolicy {
    /// Why `id` is refused, or `None` if it may be certified.
    pub fn refusal(&self, id: &Identifier) -> Option<String> {
        if let Some(p) = self.deny.iter().find(|p| p.matches(id)) {
            return Some(format!("'{id}' matches the deny pattern '{p}'"));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| p.matches(id)) {
            let list: Vec<String> = self.allow.iter().map(ToString::to_string).collect();
            return Some(format!("'{id}' is not in the allowed patterns ({})", list.join(", ")));
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
    fn patterns_match_names_under_a_domain_and_addresses_in_a_range() {
        let under = Pattern::parse("*.svc.internal").unwrap();
        assert!(under.matches(&dns("a.svc.internal")));
        assert!(under.matches(&dns("b.a.svc.internal")));
        assert!(under.matches(&dns("*.svc.internal")));
        assert!(under.matches(&dns("*.a.svc.internal")));
        assert!(!under.matches(&dns("*.internal")));
        assert!(!under.matches(&dns("svc.internal")));
        assert!(!under.matches(&dns("evilsvc.internal")));
        let net = Pattern::parse("10.0.0.0/8").unwrap();
        assert!(net.matches(&Identifier::Ip("10.1.2.3".parse().unwrap())));
        assert!(!net.matches(&Identifier::Ip("11.0.0.1".parse().unwrap())));
        assert!(!net.matches(&dns("10.0.0.1.example")));
        assert!(Pattern::parse("10.0.0.1/8").is_err());
        assert!(Pattern::parse("a..b").is_err());
        assert!(Pattern::parse("").is_err());
    }

    #[test]
    fn deny_wins_and_an_allow_list_narrows() {
        let policy = NamePolicy {
            allow: vec![Pattern::parse("*.svc.internal").unwrap()],
            deny: vec![Pattern::parse("db.svc.internal").unwrap()],
        };
        assert!(policy.refusal(&dns("web.svc.internal")).is_none());
        assert!(policy.refusal(&dns("db.svc.internal")).unwrap().contains("deny"));
        assert!(policy.refusal(&dns("example.org")).unwrap().contains("allowed"));
        assert!(NamePolicy::default().refusal(&dns("anything.test")).is_none());
    }
}
