//! Where validation may connect (RFC 8555 §10.4, server-side request forgery): private ranges
//! yes (it is a private CA), the machine itself, link-local (cloud metadata), unspecified,
//! multicast and broadcast no, unless the operator allows a range explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use uca_pki::constraints::IpNet;

/// The address policy of the validator.
#[derive(Debug, Clone, Default)]
pub struct NetPolicy {
    /// Ranges allowed even though they are refused by default (`--allow-validation-to`).
    pub allow: Vec<IpNet>,
    /// Ranges refused even though they are allowed by default (`[acme] deny_validation_to`).
    pub deny: Vec<IpNet>,
    /// The server's own listeners: never a validation target, whatever `allow` says.
    pub own: Vec<SocketAddr>,
}

/// Why an address is refused by default, if it is.
fn default_refusal(ip: IpAddr) -> Option<&'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address (this includes cloud metadata services)")
            } else if v4.is_unspecified() || v4.octets()[0] == 0 {
                Some("an unspecified address")
            } else if v4.is_multicast() {
                Some("a multicast address")
            } else if v4 == Ipv4Addr::BROADCAST {
                Some("the broadcast address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("an unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if is_v6_link_local(v6) {
                Some("a link-local address")
            } else {
                None
            }
        }
    }
}

fn is_v6_link_local(v6: Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xffc0) == 0xfe80
}

impl NetPolicy {
    /// `Err(reason)` if validation must not connect to `addr`.
    pub fn check(&self, addr: SocketAddr) -> Result<(), String> {
        let ip = addr.ip();
        if self
            .own
            .iter()
            .any(|own| own.port() == addr.port() && (own.ip() == ip || own.ip().is_unspecified()))
        {
            return Err(format!("{addr} is this server's own listener"));
        }
        if let Some(net) = self.deny.iter().find(|n| n.contains(ip)) {
            return Err(format!(
                "{ip} is in {}/{}, which validation may not reach",
                net.addr, net.prefix
            ));
        }
        match default_refusal(ip) {
            Some(_) if self.allow.iter().any(|n| n.contains(ip)) => Ok(()),
            Some(why) => Err(format!(
                "{ip} is {why}; validation does not connect there (allow a range with --allow-validation-to)"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_ranges_pass_and_the_machine_itself_does_not() {
        let p = NetPolicy::default();
        assert!(p.check(sock("10.1.2.3:80")).is_ok());
        assert!(p.check(sock("192.168.1.1:80")).is_ok());
        assert!(p.check(sock("[fd00::1]:80")).is_ok());
        for bad in [
            "127.0.0.1:80",
            "169.254.169.254:80",
            "0.0.0.0:80",
            "224.0.0.1:80",
            "255.255.255.255:80",
            "[::1]:80",
            "[fe80::1]:80",
            "[::ffff:127.0.0.1]:80",
            "[ff02::1]:80",
        ] {
            assert!(p.check(sock(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_opens_a_range_but_never_the_servers_own_listener() {
        let p = NetPolicy {
            allow: vec![IpNet::parse("127.0.0.0/8").unwrap()],
            deny: vec![IpNet::parse("10.9.0.0/16").unwrap()],
            own: vec![sock("127.0.0.1:8443")],
        };
        assert!(p.check(sock("127.0.0.1:5002")).is_ok());
        assert!(
            p.check(sock("127.0.0.1:8443"))
                .unwrap_err()
                .contains("own listener")
        );
        assert!(p.check(sock("10.9.1.1:80")).is_err());
        assert!(p.check(sock("169.254.169.254:80")).is_err());
    }
}
