//! Name and address patterns for issuance policy (`[acme] allow/deny`, external account keys):
//! `host.example` (exactly), `*.example` (any name under it, at any depth, and wildcards
//! under it), `10.0.0.7` (exactly), `10.0.0.0/8` (a range).

use std::fmt;
use std::net::IpAddr;

use crate::San;
use crate::constraints::IpNet;

/// One pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    Exact(String),
    Under(String),
    Ip(IpAddr),
    Net(IpNet),
}

impl NamePattern {
    pub fn parse(input: &str) -> Result<NamePattern, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("an empty pattern".into());
        }
        if s.contains('/') {
            return IpNet::parse(s)
                .map(NamePattern::Net)
                .map_err(|e| e.to_string());
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(NamePattern::Ip(ip));
        }
        if let Some(rest) = s.strip_prefix("*.") {
            let base = crate::san::parse_dns(rest, false).map_err(|e| e.reason)?;
            return Ok(NamePattern::Under(base));
        }
        crate::san::parse_dns(s, false)
            .map(NamePattern::Exact)
            .map_err(|e| e.reason)
    }

    /// Whether the pattern covers a DNS or IP SubjectAltName (never an email or URI).
    pub fn matches(&self, san: &San) -> bool {
        match (self, san) {
            (NamePattern::Exact(p), San::Dns(n)) => p == n,
            (NamePattern::Under(base), San::Dns(n)) => {
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
            (NamePattern::Ip(p), San::Ip(ip)) => p == ip,
            (NamePattern::Net(net), San::Ip(ip)) => net.contains(*ip),
            _ => false,
        }
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamePattern::Exact(n) => f.write_str(n),
            NamePattern::Under(n) => write!(f, "*.{n}"),
            NamePattern::Ip(ip) => write!(f, "{ip}"),
            NamePattern::Net(net) => write!(f, "{}/{}", net.addr, net.prefix),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(n: &str) -> San {
        San::Dns(n.into())
    }

    #[test]
    fn patterns_match_names_under_a_domain_and_addresses_in_a_range() {
        let under = NamePattern::parse("*.svc.internal").unwrap();
        assert!(under.matches(&dns("a.svc.internal")));
        assert!(under.matches(&dns("b.a.svc.internal")));
        assert!(under.matches(&dns("*.svc.internal")));
        assert!(under.matches(&dns("*.a.svc.internal")));
        assert!(!under.matches(&dns("*.internal")));
        assert!(!under.matches(&dns("svc.internal")));
        assert!(!under.matches(&dns("evilsvc.internal")));
        let net = NamePattern::parse("10.0.0.0/8").unwrap();
        assert!(net.matches(&San::Ip("10.1.2.3".parse().unwrap())));
        assert!(!net.matches(&San::Ip("11.0.0.1".parse().unwrap())));
        assert!(!net.matches(&dns("10.0.0.1.example")));
        assert_eq!(
            NamePattern::parse("10.0.0.7").unwrap().to_string(),
            "10.0.0.7"
        );
        assert_eq!(under.to_string(), "*.svc.internal");
        assert!(NamePattern::parse("10.0.0.1/8").is_err());
        assert!(NamePattern::parse("a..b").is_err());
        assert!(NamePattern::parse("").is_err());
    }
}
