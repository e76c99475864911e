//! ACME identifiers (RFC 8555 §9.7.7 `dns`, RFC 8738 `ip`), strict about their textual form.

use std::fmt;
use std::net::IpAddr;

use serde_json::{Value, json};
use uca_pki::San;

/// One identifier of an order or authorization.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identifier {
    /// A DNS name in lowercase A-label form; an order's may start with `*.` (a wildcard).
    Dns(String),
    Ip(IpAddr),
}

/// Why an identifier object was refused, with the problem type it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifierError {
    /// Not an object with string `type` and `value`.
    Shape(String),
    /// A type other than `dns` or `ip`.
    UnsupportedType(String),
    /// A value that is not a name or address in the required form.
    BadValue { value: String, reason: String },
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentifierError::Shape(why) => write!(f, "identifier {why}"),
            IdentifierError::UnsupportedType(t) => {
                write!(f, "identifier type '{t}' is not supported (use dns or ip)")
            }
            IdentifierError::BadValue { value, reason } => {
                write!(f, "identifier '{value}' is refused: {reason}")
            }
        }
    }
}

impl Identifier {
    /// Reads `{"type": ..., "value": ...}`. DNS values must already be in the ASCII, lowercase,
    /// no-trailing-dot form (§7.1.4); IP values in their canonical text (RFC 8738 §3: RFC 1123
    /// for IPv4, RFC 5952 for IPv6), so the same name cannot hide behind two spellings.
    pub fn from_json(v: &Value) -> Result<Identifier, IdentifierError> {
        let obj = v
            .as_object()
            .ok_or_else(|| IdentifierError::Shape("is not a JSON object".into()))?;
        let kind = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| IdentifierError::Shape("has no string 'type'".into()))?;
        let value = obj
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| IdentifierError::Shape("has no string 'value'".into()))?;
        let bad = |reason: &str| IdentifierError::BadValue {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        match kind {
            "dns" => {
                if !value.is_ascii() {
                    return Err(bad("DNS identifiers must be in A-label (xn--) form"));
                }
                if value.ends_with('.') {
                    return Err(bad("a DNS identifier must not end with a dot"));
                }
                if value.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(bad("a DNS identifier must be lowercase"));
                }
                if value.parse::<IpAddr>().is_ok() {
                    return Err(bad(
                        "an IP address is an 'ip' identifier (RFC 8738), not 'dns'",
                    ));
                }
                let name = uca_pki::san::parse_dns(value, true).map_err(|e| bad(&e.reason))?;
                if name != value {
                    return Err(bad("it is not in canonical form"));
                }
                if !name.contains('.') && name.starts_with("*") {
                    return Err(bad("a wildcard needs a domain under it"));
                }
                Ok(Identifier::Dns(name))
            }
            "ip" => {
                let ip: IpAddr = value
                    .parse()
                    .map_err(|_| bad("not an IPv4 or IPv6 address"))?;
                if ip.to_string() != value {
                    return Err(bad(&format!("not in canonical text form (write {ip})")));
                }
                Ok(Identifier::Ip(ip))
            }
            other => Err(IdentifierError::UnsupportedType(other.to_string())),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Identifier::Dns(_) => "dns",
            Identifier::Ip(_) => "ip",
        }
    }

    pub fn value(&self) -> String {
        match self {
            Identifier::Dns(name) => name.clone(),
            Identifier::Ip(ip) => ip.to_string(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "type": self.kind(), "value": self.value() })
    }

    /// Whether this is a `*.` name (validated only by dns-01, §7.1.3).
    pub fn is_wildcard(&self) -> bool {
        matches!(self, Identifier::Dns(n) if n.starts_with("*."))
    }

    /// The identifier an authorization covers: a wildcard's base domain (§7.1.4).
    pub fn authorization_target(&self) -> Identifier {
        match self {
            Identifier::Dns(n) => Identifier::Dns(n.strip_prefix("*.").unwrap_or(n).to_string()),
            Identifier::Ip(ip) => Identifier::Ip(*ip),
        }
    }

    /// The SubjectAltName that certifies it.
    pub fn san(&self) -> San {
        match self {
            Identifier::Dns(n) => San::Dns(n.clone()),
            Identifier::Ip(ip) => San::Ip(*ip),
        }
    }

    /// Stored form, `dns:NAME` or `ip:ADDR`.
    pub fn to_stored(&self) -> String {
        format!("{}:{}", self.kind(), self.value())
    }

    pub fn from_stored(s: &str) -> Option<Identifier> {
        let (kind, value) = s.split_once(':')?;
        match kind {
            "dns" => Some(Identifier::Dns(value.to_string())),
            "ip" => value.parse().ok().map(Identifier::Ip),
            _ => None,
        }
    }
}

impl serde::Serialize for Identifier {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: &str, value: &str) -> Result<Identifier, IdentifierError> {
        Identifier::from_json(&json!({"type": kind, "value": value}))
    }

    #[test]
    fn accepts_canonical_names_and_addresses() {
        assert_eq!(
            id("dns", "app.test").unwrap(),
            Identifier::Dns("app.test".into())
        );
        assert!(id("dns", "*.wild.test").unwrap().is_wildcard());
        assert_eq!(
            id("dns", "*.wild.test").unwrap().authorization_target(),
            Identifier::Dns("wild.test".into())
        );
        assert_eq!(id("ip", "10.0.0.7").unwrap().value(), "10.0.0.7");
        assert_eq!(id("ip", "2001:db8::1").unwrap().value(), "2001:db8::1");
        let back = Identifier::from_stored(&id("ip", "::1").unwrap().to_stored()).unwrap();
        assert_eq!(back, Identifier::Ip("::1".parse().unwrap()));
    }

    #[test]
    fn refuses_other_spellings_and_types() {
        for (kind, value) in [
            ("dns", "App.test"),
            ("dns", "app.test."),
            ("dns", "bücher.example"),
            ("dns", "a..b"),
            ("dns", "a*.b.test"),
            ("dns", "10.0.0.1"),
            ("dns", ""),
            ("ip", "2001:DB8::1"),
            ("ip", "2001:db8:0::1"),
            ("ip", "010.0.0.1"),
            ("ip", "app.test"),
        ] {
            assert!(
                matches!(id(kind, value), Err(IdentifierError::BadValue { .. })),
                "{kind} {value}"
            );
        }
        assert!(matches!(
            id("email", "a@b.test"),
            Err(IdentifierError::UnsupportedType(_))
        ));
        assert!(matches!(
            Identifier::from_json(&json!({"type": "dns"})),
            Err(IdentifierError::Shape(_))
        ));
        assert!(matches!(
            Identifier::from_json(&json!("x")),
            Err(IdentifierError::Shape(_))
        ));
    }
}
