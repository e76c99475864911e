//! Target URLs: the four schemes a probe speaks, split into kind, host, port and path.

/// How a target is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Http,
    Https,
    /// A plain TCP connect.
    Tcp,
    /// A TLS handshake, no HTTP.
    Tls,
}

impl Kind {
    pub fn uses_tls(self) -> bool {
        matches!(self, Kind::Https | Kind::Tls)
    }
}

/// A URL taken apart: what to connect to and, for HTTP(S), what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
    /// Path and query for HTTP(S), `/` otherwise.
    pub path: String,
}

/// Why a URL was refused; each variant keeps the URL (or the part) the user wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("'{url}' is not a URL (https://, http://, tcp:// or tls://)")]
    NoScheme { url: String },
    #[error("unsupported scheme '{scheme}' (https, http, tcp or tls)")]
    Scheme { scheme: String },
    #[error("'{url}': {scheme}:// takes host:port only")]
    HostPortOnly { url: String, scheme: String },
    #[error("'{url}': unclosed '[' in the host")]
    UnclosedBracket { url: String },
    #[error("'{url}' has no host")]
    NoHost { url: String },
    #[error("'{url}': '{port}' is not a port")]
    Port { url: String, port: String },
    #[error("'{url}': {scheme}:// needs a port (host:port)")]
    NeedsPort { url: String, scheme: String },
}

/// Parses a URL of the four supported schemes.
pub fn parse_url(url: &str) -> Result<Url, UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| UrlError::NoScheme {
        url: url.to_string(),
    })?;
    let (kind, default_port) = match scheme {
        "https" => (Kind::Https, Some(443)),
        "http" => (Kind::Http, Some(80)),
        "tcp" => (Kind::Tcp, None),
        "tls" => (Kind::Tls, None),
        other => {
            return Err(UrlError::Scheme {
                scheme: other.to_string(),
            });
        }
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if kind == Kind::Http || kind == Kind::Https => (&rest[..i], rest[i..].to_string()),
        Some(_) => {
            return Err(UrlError::HostPortOnly {
                url: url.to_string(),
                scheme: scheme.to_string(),
            });
        }
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| UrlError::UnclosedBracket {
                url: url.to_string(),
            })?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::NoHost {
            url: url.to_string(),
        });
    }
    let port = match (port, default_port) {
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| UrlError::Port {
                url: url.to_string(),
                port: p.to_string(),
            })?,
        (None, Some(d)) => d,
        (None, None) => {
            return Err(UrlError::NeedsPort {
                url: url.to_string(),
                scheme: scheme.to_string(),
            });
        }
    };
    Ok(Url {
        kind,
        host,
        port,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("https://a.b:8443/x?y").unwrap();
        assert_eq!(
            (u.kind, u.host.as_str(), u.port, u.path.as_str()),
            (Kind::Https, "a.b", 8443, "/x?y")
        );
        let u = parse_url("http://[::1]/").unwrap();
        assert_eq!(
            (u.kind, u.host.as_str(), u.port, u.path.as_str()),
            (Kind::Http, "::1", 80, "/")
        );
        assert_eq!(parse_url("tcp://db:5432").unwrap().port, 5432);
        assert!(matches!(
            parse_url("tcp://db"),
            Err(UrlError::NeedsPort { .. })
        ));
        assert!(matches!(parse_url("ftp://x"), Err(UrlError::Scheme { .. })));
    }
}
