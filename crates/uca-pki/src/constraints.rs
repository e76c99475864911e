//! Name constraints (RFC 5280 4.2.1.10) for intermediate CAs: parsing what operators type,
//! writing the extension, reading it back from a CA certificate, and checking SANs against it
//! before anything is signed.

use std::net::IpAddr;

use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{PkiError, San};

/// An IP range, `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(input: &str) -> Result<IpNet, PkiError> {
        let bad = |reason: &str| PkiError::BadConstraint {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = input
            .split_once('/')
            .ok_or_else(|| bad("an IP range is ADDRESS/PREFIX, e.g. 10.0.0.0/8"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| bad("not an IP address before the '/'"))?;
        let prefix: u8 = prefix
            .parse()
            .map_err(|_| bad("the prefix length is not a number"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(bad(&format!("the prefix length is more than {max}")));
        }
        let net = IpNet { addr, prefix };
        if net.network() != addr {
            return Err(bad(&format!(
                "host bits are set; did you mean {}/{prefix}?",
                net.network()
            )));
        }
        Ok(net)
    }

    fn bits(addr: IpAddr) -> (u128, u32) {
        match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn mask(&self) -> u128 {
        let (_, width) = Self::bits(self.addr);
        if self.prefix == 0 {
            0
        } else {
            (!0u128 << (width - u32::from(self.prefix))) & (!0u128 >> (128 - width))
        }
    }

    fn network(&self) -> IpAddr {
        let (bits, _) = Self::bits(self.addr);
        let n = bits & self.mask();
        match self.addr {
            IpAddr::V4(_) => IpAddr::from(u32::try_from(n).unwrap_or(0).to_be_bytes()),
            IpAddr::V6(_) => IpAddr::from(n.to_be_bytes()),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.addr.is_ipv4() {
            return false;
        }
        let (a, _) = Self::bits(ip);
        let (b, _) = Self::bits(self.addr);
        a & self.mask() == b & self.mask()
    }

    /// The extension's encoding: address then mask, 8 or 32 bytes.
    fn from_der(bytes: &[u8]) -> Option<IpNet> {
        if bytes.len() != 8 && bytes.len() != 32 {
            return None;
        }
        let half = bytes.len() / 2;
        let mask = &bytes[half..];
        // The mask must be contiguous ones, then zeros.
        let bits: Vec<bool> = mask
            .iter()
            .flat_map(|b| (0..8).rev().map(move |i| b & (1 << i) != 0))
            .collect();
        if bits.windows(2).any(|w| !w[0] && w[1]) {
            return None;
        }
        let addr = match half {
            4 => IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]]),
            16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(&bytes[..16]);
                IpAddr::from(a)
            }
            _ => return None,
        };
        let prefix = bytes[half..].iter().map(|b| b.count_ones()).sum::<u32>();
        Some(IpNet {
            addr,
            prefix: u8::try_from(prefix).ok()?,
        })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Permitted and excluded DNS names and IP ranges of a CA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraints {
    pub permitted_dns: Vec<String>,
    pub permitted_ip: Vec<IpNet>,
    pub excluded_dns: Vec<String>,
    pub excluded_ip: Vec<IpNet>,
}

/// `svc.internal` or `.svc.internal` (both mean: that domain and everything under it, the
/// RFC 5280 reading; the leading dot is dropped because it is not DNS syntax).
pub fn parse_dns_constraint(input: &str) -> Result<String, PkiError> {
    let trimmed = input.strip_prefix('.').unwrap_or(input);
    crate::san::parse_dns(trimmed, false).map_err(|e| PkiError::BadConstraint {
        input: input.to_string(),
        reason: e.reason,
    })
}

fn dns_within(name: &str, domain: &str) -> bool {
    name == domain || name.ends_with(&format!(".{domain}"))
}

impl NameConstraints {
    pub fn is_empty(&self) -> bool {
        self == &NameConstraints::default()
    }

    pub(crate) fn to_rcgen(&self) -> rcgen::NameConstraints {
        use rcgen::{CidrSubnet, GeneralSubtree};
        let tree = |dns: &[String], ip: &[IpNet]| {
            dns.iter()
                .map(|d| GeneralSubtree::DnsName(d.clone()))
                .chain(ip.iter().map(|n| {
                    GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(n.addr, n.prefix))
                }))
                .collect()
        };
        rcgen::NameConstraints {
            permitted_subtrees: tree(&self.permitted_dns, &self.permitted_ip),
            excluded_subtrees: tree(&self.excluded_dns, &self.excluded_ip),
        }
    }

    /// The constraints a CA certificate carries; `Ok(None)` without the extension. Constraint
    /// forms uca cannot check (email, URI, directory names) are an error, so that nothing is
    /// issued that the CA's own relying parties would refuse.
    pub fn from_cert_der(der: &[u8]) -> Result<Option<NameConstraints>, PkiError> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| PkiError::BadCertificate(e.to_string()))?;
        let Some(ext) = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::NameConstraints(nc) => Some(nc.clone()),
                _ => None,
            })
        else {
            return Ok(None);
        };
        let mut out = NameConstraints::default();
        let read = |trees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>,
                    dns: &mut Vec<String>,
                    ip: &mut Vec<IpNet>|
         -> Result<(), PkiError> {
            for t in trees.iter().flatten() {
                match &t.base {
                    GeneralName::DNSName(d) => {
                        dns.push(d.trim_start_matches('.').to_ascii_lowercase())
                    }
                    GeneralName::IPAddress(b) => ip.push(IpNet::from_der(b).ok_or_else(|| {
                        PkiError::BadCertificate(
                            "a malformed IP range in the CA's name constraints".into(),
                        )
                    })?),
                    other => {
                        return Err(PkiError::BadCertificate(format!(
                            "the CA's name constraints use a form uca cannot check ({other:?})"
                        )));
                    }
                }
            }
            Ok(())
        };
        read(
            &ext.permitted_subtrees,
            &mut out.permitted_dns,
            &mut out.permitted_ip,
        )?;
        read(
            &ext.excluded_subtrees,
            &mut out.excluded_dns,
            &mut out.excluded_ip,
        )?;
        Ok(Some(out))
    }

    /// Whether `san` is allowed; `Err` says why not, in words.
    pub fn check(&self, san: &San) -> Result<(), String> {
        match san {
            San::Dns(name) => {
                let base = name.strip_prefix("*.").unwrap_or(name);
                if let Some(ex) = self
                    .excluded_dns
                    .iter()
                    .find(|d| dns_within(base, d) || dns_within(d, base))
                {
                    return Err(format!("DNS:{name} falls in the excluded subtree {ex}"));
                }
                if !self.permitted_dns.is_empty()
                    && !self.permitted_dns.iter().any(|d| dns_within(base, d))
                {
                    return Err(format!(
                        "DNS:{name} is outside the permitted DNS subtrees ({})",
                        self.permitted_dns.join(", ")
                    ));
                }
            }
            San::Ip(ip) => {
                if let Some(ex) = self.excluded_ip.iter().find(|n| n.contains(*ip)) {
                    return Err(format!("IP:{ip} falls in the excluded range {ex}"));
                }
                let same_family: Vec<&IpNet> = self
                    .permitted_ip
                    .iter()
                    .filter(|n| n.addr.is_ipv4() == ip.is_ipv4())
                    .collect();
                let any_ip = !self.permitted_ip.is_empty();
                if any_ip && !same_family.iter().any(|n| n.contains(*ip)) {
                    let list: Vec<String> =
                        self.permitted_ip.iter().map(ToString::to_string).collect();
                    return Err(format!(
                        "IP:{ip} is outside the permitted ranges ({})",
                        list.join(", ")
                    ));
                }
            }
            San::Email(_) | San::Uri(_) => {}
        }
        Ok(())
    }

    /// A child CA's constraints must stay inside this CA's: every permitted subtree of the child
    /// within one of ours (when we have any of that kind).
    pub fn check_child(&self, child: &NameConstraints) -> Result<(), String> {
        for d in &child.permitted_dns {
            self.check(&San::Dns(d.clone()))?;
        }
        if !self.permitted_dns.is_empty() && child.permitted_dns.is_empty() {
            return Err(format!(
                "this CA may only issue under {}; the intermediate must be constrained to them too (--permit-dns)",
                self.permitted_dns.join(", ")
            ));
        }
        for n in &child.permitted_ip {
            if !self.permitted_ip.is_empty()
                && !self
                    .permitted_ip
                    .iter()
                    .any(|p| p.contains(n.addr) && p.prefix <= n.prefix)
            {
                return Err(format!(
                    "the range {n} is outside this CA's permitted IP ranges"
                ));
            }
        }
        if !self.permitted_ip.is_empty() && child.permitted_ip.is_empty() {
            return Err(
                "this CA is constrained to IP ranges; the intermediate must be too (--permit-ip)"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.1/8").is_err());
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("10.0.0.0").is_err());
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
    }

    #[test]
    fn dns_subtrees() {
        let nc = NameConstraints {
            permitted_dns: vec!["svc.internal".into()],
            ..Default::default()
        };
        assert!(nc.check(&San::Dns("svc.internal".into())).is_ok());
        assert!(nc.check(&San::Dns("a.svc.internal".into())).is_ok());
        assert!(nc.check(&San::Dns("*.svc.internal".into())).is_ok());
        assert!(nc.check(&San::Dns("evilsvc.internal".into())).is_err());
        assert!(nc.check(&San::Dns("rmq".into())).is_err());
        assert!(nc.check(&San::Ip("10.0.0.1".parse().unwrap())).is_ok());
        assert_eq!(
            parse_dns_constraint(".svc.internal").unwrap(),
            "svc.internal"
        );
        assert!(parse_dns_constraint("bad name").is_err());
    }
}
