//! SubjectAltName values typed by their syntax, and the rules that derive extra names.
//!
//! Clients such as Go and Chrome ignore the CN, so every certificate lists its names here.
//! Parsing is strict (RFC 5280 §4.2.1.6, RFC 1034 preferred name syntax) because a name a
//! TLS stack will not match is worse than an error at issuance time.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

/// One SubjectAltName entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum San {
    /// A DNS name in lowercase A-label form; may start with one `*.` wildcard label.
    Dns(String),
    Ip(IpAddr),
    /// An rfc822Name (ASCII local part, A-label domain).
    Email(String),
    Uri(String),
}

/// Why a SAN value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid SAN '{input}': {reason}")]
pub struct SanError {
    pub input: String,
    pub reason: String,
}

fn err(input: &str, reason: impl Into<String>) -> SanError {
    SanError {
        input: input.to_string(),
        reason: reason.into(),
    }
}

impl San {
    /// Parses a value, typed by syntax: `scheme://…` or `urn:…` is a URI, `a@b` an email, an
    /// IPv4/IPv6 literal an IP, anything else a DNS name. A `dns:`, `ip:`, `email:` or `uri:`
    /// prefix forces the type.
    pub fn parse(input: &str) -> Result<San, SanError> {
        let raw = input;
        if raw.is_empty() {
            return Err(err(raw, "it is empty"));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(err(raw, "it contains whitespace"));
        }
        if raw.chars().any(|c| c.is_control()) {
            return Err(err(raw, "it contains control characters"));
        }
        let lower = raw.to_ascii_lowercase();
        for (prefix, kind) in [("dns:", 0), ("ip:", 1), ("email:", 2), ("uri:", 3)] {
            if lower.starts_with(prefix) && !lower.starts_with("uri://") {
                let rest = &raw[prefix.len()..];
                return match kind {
                    0 => parse_dns(rest, true).map(San::Dns),
                    1 => parse_ip(rest).map(San::Ip),
                    2 => parse_email(rest).map(San::Email),
                    _ => parse_uri(rest).map(San::Uri),
                }
                .map_err(|e| SanError {
                    input: raw.to_string(),
                    reason: e.reason,
                });
            }
        }
        if raw.contains("://") || lower.starts_with("urn:") {
            return parse_uri(raw).map(San::Uri);
        }
        if raw.contains('@') {
            return parse_email(raw).map(San::Email);
        }
        if let Ok(ip) = parse_ip(raw) {
            return Ok(San::Ip(ip));
        }
        if raw.contains(':') {
            let looks_v6 = raw
                .chars()
                .all(|c| c.is_ascii_hexdigit() || ":.[]".contains(c));
            return Err(err(
                raw,
                if looks_v6 {
                    "not a valid IPv6 address"
                } else {
                    "unknown URI form: uca accepts scheme://host/… and urn:… URIs (':' is not allowed in a DNS name)"
                },
            ));
        }
        parse_dns(raw, true).map(San::Dns)
    }

    /// The GeneralName type as OpenSSL prints it (`DNS`, `IP Address`, `email`, `URI`).
    pub fn kind(&self) -> &'static str {
        match self {
            San::Dns(_) => "DNS",
            San::Ip(_) => "IP",
            San::Email(_) => "email",
            San::Uri(_) => "URI",
        }
    }

    pub fn value(&self) -> String {
        match self {
            San::Dns(s) | San::Email(s) | San::Uri(s) => s.clone(),
            San::Ip(ip) => ip.to_string(),
        }
    }

    pub(crate) fn to_rcgen(&self) -> Result<rcgen::SanType, SanError> {
        let ia5 = |s: &str| {
            rcgen::string::Ia5String::try_from(s.to_string()).map_err(|e| err(s, e.to_string()))
        };
        Ok(match self {
            San::Dns(s) => rcgen::SanType::DnsName(ia5(s)?),
            San::Ip(ip) => rcgen::SanType::IpAddress(*ip),
            San::Email(s) => rcgen::SanType::Rfc822Name(ia5(s)?),
            San::Uri(s) => rcgen::SanType::URI(ia5(s)?),
        })
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.value())
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, SanError> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if inner.contains('%') {
        return Err(err(
            s,
            "IPv6 zone identifiers (%eth0) cannot appear in a certificate",
        ));
    }
    inner
        .parse::<IpAddr>()
        .map_err(|_| err(s, "not a valid IPv4 or IPv6 address"))
}

/// Validates and normalizes a DNS name: IDNs become A-labels, letters become lowercase, one
/// trailing dot is dropped. With `allow_wildcard`, the first label may be exactly `*`.
pub fn parse_dns(input: &str, allow_wildcard: bool) -> Result<String, SanError> {
    let mut name = input.strip_suffix('.').unwrap_or(input).to_string();
    if name.is_empty() {
        return Err(err(input, "the DNS name is empty"));
    }
    let needs_idna = !name.is_ascii()
        || name
            .split('.')
            .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("xn--"));
    if needs_idna {
        let (wild, rest) = match name.strip_prefix("*.") {
            Some(rest) => ("*.", rest),
            None => ("", name.as_str()),
        };
        let ascii = idna::domain_to_ascii_strict(rest).map_err(|_| {
            err(
                input,
                "not a valid internationalized domain name (it cannot be converted to A-labels)",
            )
        })?;
        name = format!("{wild}{ascii}");
    }
    let name = name.to_ascii_lowercase();
    if name.len() > 253 {
        return Err(err(
            input,
            format!(
                "the name is {} bytes long; DNS allows at most 253",
                name.len()
            ),
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Err(err(
                input,
                "it has an empty label (two dots in a row, or a leading dot)",
            ));
        }
        if label.contains('*') {
            if *label != "*" {
                return Err(err(
                    input,
                    "a wildcard must be a whole label ('*.example.org'), not part of one",
                ));
            }
            if i != 0 {
                return Err(err(
                    input,
                    "a wildcard is only allowed as the leftmost label",
                ));
            }
            if !allow_wildcard {
                return Err(err(input, "a wildcard is not allowed here"));
            }
            if labels.len() < 3 {
                return Err(err(
                    input,
                    "a wildcard needs at least two labels after it ('*.svc.internal'), or it would cover a whole top-level domain",
                ));
            }
            continue;
        }
        if label.len() > 63 {
            return Err(err(
                input,
                format!(
                    "the label '{label}' is {} bytes long; DNS allows at most 63",
                    label.len()
                ),
            ));
        }
        if label.contains('_') {
            return Err(err(input, "underscores are not allowed in host names"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(err(
                input,
                format!("the character '{c}' is not allowed in a DNS name"),
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(err(
                input,
                format!("the label '{label}' starts or ends with a hyphen"),
            ));
        }
    }
    if labels.len() == 4 && labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return Err(err(
            input,
            "it looks like an IPv4 address but is not a valid one",
        ));
    }
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        // RFC 1123 2.1: the top label is alphabetic; resolvers read "123" as 0.0.0.123.
        return Err(err(
            input,
            "the last label of a DNS name cannot be all digits (it would read as an IP address)",
        ));
    }
    Ok(name)
}

fn parse_email(input: &str) -> Result<String, SanError> {
    let (local, domain) = input
        .rsplit_once('@')
        .ok_or_else(|| err(input, "an email address needs exactly one '@'"))?;
    if local.is_empty() || local.contains('@') {
        return Err(err(
            input,
            "an email address needs exactly one '@' with a local part before it",
        ));
    }
    if !local.is_ascii() {
        return Err(err(
            input,
            "non-ASCII local parts (SmtpUTF8Mailbox) are not supported",
        ));
    }
    if local.len() > 64 {
        return Err(err(input, "the local part is longer than 64 bytes"));
    }
    let ok_local = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    if !local.chars().all(ok_local)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(err(
            input,
            "the local part has characters or dots an address cannot have",
        ));
    }
    let domain =
        parse_dns(domain, false).map_err(|e| err(input, format!("bad domain: {}", e.reason)))?;
    Ok(format!("{local}@{domain}"))
}

fn parse_uri(input: &str) -> Result<String, SanError> {
    let (scheme, rest) = input
        .split_once(':')
        .ok_or_else(|| err(input, "a URI needs a scheme ('spiffe://…')"))?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(err(input, format!("'{scheme}' is not a valid URI scheme")));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    if let Some(c) = input.chars().find(|c| !allowed(*c)) {
        return Err(err(
            input,
            format!("the character '{c}' must be percent-encoded in a URI"),
        ));
    }
    let bytes = input.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return Err(err(input, "a '%' must be followed by two hex digits"));
        }
    }
    let scheme_lower = scheme.to_ascii_lowercase();
    if scheme_lower == "urn" {
        let (nid, nss) = rest
            .split_once(':')
            .ok_or_else(|| err(input, "a URN is urn:<namespace>:<name>"))?;
        if nid.is_empty() || nss.is_empty() {
            return Err(err(input, "a URN is urn:<namespace>:<name>"));
        }
        return Ok(format!("urn:{rest}"));
    }
    let Some(after) = rest.strip_prefix("//") else {
        return Err(err(
            input,
            "unknown URI form: uca accepts scheme://host/… and urn:… URIs",
        ));
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, _) = v6
            .split_once(']')
            .ok_or_else(|| err(input, "unclosed '[' in the URI host"))?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| err(input, "the URI host is not a valid IPv6 address"))?;
        None
    } else {
        let host = match host_port.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            Some(_) => return Err(err(input, "the URI port is not a number")),
            None => host_port,
        };
        Some(host)
    };
    if let Some(host) = host {
        if host.is_empty() {
            return Err(err(input, "the URI has no host (RFC 5280 requires one)"));
        }
        if host.parse::<std::net::Ipv4Addr>().is_err() {
            parse_dns(host, false)
                .map_err(|e| err(input, format!("the URI host is not valid: {}", e.reason)))?;
        }
    }
    if scheme_lower == "spiffe" && (host_port.contains(':') || authority.contains('@')) {
        return Err(err(
            input,
            "a SPIFFE ID has no port or user info (spiffe://trust-domain/path)",
        ));
    }
    Ok(format!("{scheme_lower}:{rest}"))
}

/// One SAN template from the config: text with `{name}` (the NAME) and `{base}` (NAME with
/// the first label's trailing digits removed, so `rmq1` → `rmq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanTemplate(String);

impl SanTemplate {
    pub fn parse(s: &str) -> Result<SanTemplate, String> {
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in SAN template '{s}'"))?;
            let var = &rest[open + 1..open + close];
            if var != "name" && var != "base" {
                return Err(format!(
                    "unknown placeholder '{{{var}}}' in SAN template '{s}' (use {{name}} or {{base}})"
                ));
            }
            rest = &rest[open + close + 1..];
        }
        if s.contains('}') && !s.contains('{') {
            return Err(format!("stray '}}' in SAN template '{s}'"));
        }
        if s.trim().is_empty() {
            return Err("empty SAN template".to_string());
        }
        Ok(SanTemplate(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Expands the template for a DNS NAME; `None` when it does not apply (e.g. `{base}` for a
    /// name without trailing digits, which would just repeat the name).
    fn expand(&self, name: &str) -> Option<String> {
        let uses_base = self.0.contains("{base}");
        let base = base_name(name);
        if uses_base && base.is_none() {
            return None;
        }
        let base = base.unwrap_or_default();
        Some(self.0.replace("{name}", name).replace("{base}", &base))
    }
}

/// NAME with the trailing digits of its first label removed (and a hyphen left dangling by
/// that): `rmq12` → `rmq`, `web-3.svc` → `web.svc`. An internationalized first label is
/// stripped in its Unicode form (`bücher1` → `bücher`) and converted back. `None` when nothing
/// would change or the label would become empty.
pub fn base_name(name: &str) -> Option<String> {
    let (first, rest) = match name.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (name, None),
    };
    let unicode = if first.starts_with("xn--") {
        let (u, result) = idna::domain_to_unicode(first);
        result.ok()?;
        u
    } else {
        first.to_string()
    };
    let stripped = unicode.trim_end_matches(|c: char| c.is_ascii_digit());
    if stripped.len() == unicode.len() {
        return None;
    }
    let stripped = stripped.trim_end_matches('-');
    if stripped.is_empty() {
        return None;
    }
    let stripped = if stripped.is_ascii() {
        stripped.to_string()
    } else {
        idna::domain_to_ascii(stripped).ok()?
    };
    Some(match rest {
        Some(r) => format!("{stripped}.{r}"),
        None => stripped,
    })
}

/// The SAN rules of a CA: templates applied to every DNS NAME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanRules {
    pub templates: Vec<SanTemplate>,
}

impl Default for SanRules {
    /// The classic micro-CA rule: the name, plus the name without trailing digits.
    fn default() -> Self {
        SanRules {
            templates: vec![SanTemplate("{name}".into()), SanTemplate("{base}".into())],
        }
    }
}

impl SanRules {
    pub fn none() -> SanRules {
        SanRules {
            templates: Vec::new(),
        }
    }

    /// All SANs for NAME: NAME itself first (always: clients ignore the CN), then what the rules
    /// make of it, then `extra`; duplicates removed, order kept.
    pub fn sans_for(&self, name: &San, extra: &[San]) -> Result<Vec<San>, SanError> {
        let mut out = vec![name.clone()];
        if let San::Dns(dns) = name {
            for t in &self.templates {
                if let Some(value) = t.expand(dns) {
                    let san = parse_dns(&value, true)
                        .map(San::Dns)
                        .map_err(|e| SanError {
                            input: value.clone(),
                            reason: format!(
                                "made by SAN rule '{}' from '{dns}': {}",
                                t.as_str(),
                                e.reason
                            ),
                        })?;
                    out.push(san);
                }
            }
        }
        out.extend(extra.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        out.retain(|s| seen.insert(s.clone()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(s: &str) -> San {
        San::Dns(s.into())
    }

    #[test]
    fn types_by_syntax() {
        assert_eq!(San::parse("rmq1").unwrap(), dns("rmq1"));
        assert_eq!(
            San::parse("RMQ1.Svc.Internal.").unwrap(),
            dns("rmq1.svc.internal")
        );
        assert_eq!(San::parse("*.svc.internal").unwrap(), dns("*.svc.internal"));
        assert_eq!(
            San::parse("127.0.0.1").unwrap(),
            San::Ip("127.0.0.1".parse().unwrap())
        );
        assert_eq!(San::parse("::1").unwrap(), San::Ip("::1".parse().unwrap()));
        assert_eq!(
            San::parse("[fe80::1]").unwrap(),
            San::Ip("fe80::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("ops@example.org").unwrap(),
            San::Email("ops@example.org".into())
        );
        assert_eq!(
            San::parse("spiffe://example.org/svc").unwrap(),
            San::Uri("spiffe://example.org/svc".into())
        );
        assert_eq!(
            San::parse("urn:uuid:1234").unwrap(),
            San::Uri("urn:uuid:1234".into())
        );
        assert_eq!(
            San::parse("bücher.example").unwrap(),
            dns("xn--bcher-kva.example")
        );
        assert!(San::parse("dns:10").is_err());
        assert!(San::parse("123").is_err());
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            "a b",
            "",
            "a..b",
            ".a",
            "-a.b",
            "a-.b",
            "foo*.bar.baz",
            "a.*.b",
            "*.com",
            "a_b.c",
            "256.1.1.1",
            "1.2.3",
            "fe80::1%eth0",
            "::g",
            "http:/x",
            "mailto:x",
            "spiffe://",
            "a@",
            "@b",
            "x@y@z",
            "foo:bar",
            "xn--zz.example",
            "spiffe://xn--a.aa/",
        ] {
            assert!(San::parse(bad).is_err(), "{bad} should be refused");
        }
        let long_label = "a".repeat(64);
        assert!(San::parse(&long_label).is_err());
        let long_name = vec!["a".repeat(60); 5].join(".");
        assert!(San::parse(&long_name).unwrap_err().reason.contains("253"));
    }

    #[test]
    fn default_rules_strip_trailing_digits() {
        let r = SanRules::default();
        let sans = |n: &str| r.sans_for(&San::parse(n).unwrap(), &[]).unwrap();
        assert_eq!(sans("rmq1"), vec![dns("rmq1"), dns("rmq")]);
        assert_eq!(sans("rmq12"), vec![dns("rmq12"), dns("rmq")]);
        assert_eq!(sans("rmq"), vec![dns("rmq")]);
        assert_eq!(sans("web-3.svc"), vec![dns("web-3.svc"), dns("web.svc")]);
        assert_eq!(
            sans("bücher1"),
            vec![dns("xn--bcher1-3ya"), dns("xn--bcher-kva")]
        );
        assert_eq!(sans("node-1a"), vec![dns("node-1a")]);
    }

    #[test]
    fn suffix_rules() {
        let r = SanRules {
            templates: [
                "{name}",
                "{base}",
                "{name}.svc.internal",
                "{base}.svc.internal",
            ]
            .iter()
            .map(|t| SanTemplate::parse(t).unwrap())
            .collect(),
        };
        let sans = r
            .sans_for(&dns("rmq1"), &[San::Ip("127.0.0.1".parse().unwrap())])
            .unwrap();
        let got: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            got,
            [
                "DNS:rmq1",
                "DNS:rmq",
                "DNS:rmq1.svc.internal",
                "DNS:rmq.svc.internal",
                "IP:127.0.0.1"
            ]
        );
        assert!(SanTemplate::parse("{nam}.x").is_err());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// An LDH label. `xn--…` is left out: it claims to be an A-label (RFC 5891), which a random
    /// string almost never is, and the parser rightly refuses a false one.
    fn label() -> impl Strategy<Value = String> {
        "[a-z]([a-z0-9-]{0,20}[a-z0-9])?"
            .prop_filter("no false A-label", |l| !l.starts_with("xn--"))
    }

    /// A DNS name in uca's normal form: lowercase A-labels, the last label alphabetic, maybe a
    /// wildcard in front of at least two labels.
    fn dns() -> impl Strategy<Value = String> {
        (
            any::<bool>(),
            prop::collection::vec(label(), 1..4),
            "[a-z]{2,8}",
        )
            .prop_map(|(wild, mut labels, tld)| {
                labels.push(tld);
                let name = labels.join(".");
                if wild { format!("*.{name}") } else { name }
            })
    }

    fn san() -> impl Strategy<Value = San> {
        prop_oneof![
            dns().prop_map(San::Dns),
            any::<std::net::IpAddr>().prop_map(San::Ip),
            ("[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}", dns())
                .prop_filter("no wildcard domain", |(_, d)| !d.starts_with('*'))
                .prop_map(|(l, d)| San::Email(format!("{l}@{d}"))),
            (
                "(spiffe|https|http)",
                dns(),
                "[a-z0-9._~/-]{0,16}",
                proptest::option::of(1u16..)
            )
                .prop_filter("no wildcard host", |(_, d, _, _)| !d.starts_with('*'))
                .prop_map(|(s, d, p, port)| {
                    let port = match (s.as_str(), port) {
                        ("spiffe", _) | (_, None) => String::new(),
                        (_, Some(n)) => format!(":{n}"),
                    };
                    San::Uri(format!("{s}://{d}{port}/{p}"))
                }),
            ("[a-z0-9]{1,8}", "[a-z0-9:._-]{1,16}")
                .prop_map(|(n, s)| San::Uri(format!("urn:{n}:{s}"))),
        ]
    }

    proptest! {
        /// What `Display` prints (`DNS:…`, `IP:…`, `email:…`, `URI:…`, as `uca show` and the
        /// ledger write it) parses back to the same SAN.
        #[test]
        fn display_parses_back(san in san()) {
            prop_assert_eq!(San::parse(&san.to_string()), Ok(san.clone()));
        }

        /// The bare value parses back to the same SAN too, typed by its syntax.
        #[test]
        fn value_parses_back(san in san()) {
            prop_assert_eq!(San::parse(&san.value()), Ok(san));
        }

        /// Case and one trailing dot do not matter: the normal form is lowercase, dotless.
        #[test]
        fn dns_names_normalize(name in dns(), upper in any::<bool>(), dot in any::<bool>()) {
            let mut text = if upper { name.to_ascii_uppercase() } else { name.clone() };
            if dot {
                text.push('.');
            }
            prop_assert_eq!(San::parse(&text), Ok(San::Dns(name)));
        }

        /// Parsing never panics, whatever the text.
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = San::parse(&text);
            let _ = parse_dns(&text, true);
            let _ = base_name(&text);
            let _ = SanTemplate::parse(&text);
        }
    }
}
