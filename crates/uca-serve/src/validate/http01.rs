//! http-01 (RFC 8555 §8.3): `GET http://NAME/.well-known/acme-challenge/TOKEN` must answer
//! 200 with the key authorization. Redirects are followed (at most 10) only to http on port 80
//! (or the test port) or https on 443 (its certificate is not judged, as Let's Encrypt does not
//! either: the key authorization is the proof), each hop resolved and checked again; the body
//! is capped.

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use uca_acme::service::ValidationJob;
use uca_acme::{Identifier, Problem, ProblemType};

use super::{Validator, short};

/// A key authorization is 43 + 1 + 43 characters; anything much longer is not one.
const MAX_BODY: usize = 1024;
const MAX_REDIRECTS: usize = 10;

pub(super) async fn validate(v: &Validator, job: &ValidationJob) -> Result<(), Problem> {
    let id = job.identifier().clone();
    let mut host = id.clone();
    let mut path = format!("/.well-known/acme-challenge/{}", job.challenge.token);
    let mut port = v.settings.http01_port;
    let mut tls = false;
    for _ in 0..=MAX_REDIRECTS {
        let (status, location, body) = fetch(v, &host, port, tls, &path).await?;
        if status.is_redirection() {
            let Some(location) = location else {
                return Err(incorrect(format!("{id}: a redirect without a Location")));
            };
            (host, port, tls, path) = redirect_target(v, &location)?;
            continue;
        }
        if status != StatusCode::OK {
            return Err(Problem::new(
                ProblemType::Unauthorized,
                format!(
                    "{id}: {}://{}{path} answered {} instead of 200 with the key authorization",
                    if tls { "https" } else { "http" },
                    authority(&host, port, tls),
                    status.as_u16()
                ),
            ));
        }
        return if body_matches(&body, &job.key_authorization) {
            Ok(())
        } else {
            Err(Problem::new(
                ProblemType::Unauthorized,
                format!(
                    "{id}: the response to http-01 is not this challenge's key authorization (token {})",
                    job.challenge.token
                ),
            ))
        };
    }
    Err(incorrect(format!(
        "{id}: more than {MAX_REDIRECTS} redirects"
    )))
}

/// Whether a fetched http-01 body is the key authorization: its text, lossily decoded, with
/// trailing whitespace ignored (RFC 8555 §8.3).
pub fn body_matches(body: &[u8], key_authorization: &str) -> bool {
    String::from_utf8_lossy(body).trim_end() == key_authorization
}

fn incorrect(detail: String) -> Problem {
    Problem::new(ProblemType::IncorrectResponse, detail)
}

fn authority(host: &Identifier, port: u16, tls: bool) -> String {
    let h = match host {
        Identifier::Ip(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
        other => other.value(),
    };
    if port == if tls { 443 } else { 80 } {
        h
    } else {
        format!("{h}:{port}")
    }
}

/// Where a redirect may lead: http on port 80 (or the test port) or https on 443, to a name or
/// address that is itself checked when fetched.
pub fn redirect_target(
    v: &Validator,
    location: &str,
) -> Result<(Identifier, u16, bool, String), Problem> {
    let refuse = |why: &str| incorrect(format!("redirect to '{}' refused: {why}", short(location)));
    let (scheme, rest) = location
        .split_once("://")
        .ok_or_else(|| refuse("only absolute http:// and https:// redirects are followed"))?;
    let tls = match scheme {
        "http" => false,
        "https" => true,
        _ => return Err(refuse("only http:// and https:// redirects are followed")),
    };
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if auth.contains('@') {
        return Err(refuse("credentials in a URL"));
    }
    let (host, port) = if let Some(v6) = auth.strip_prefix('[') {
        let (ip, tail) = v6
            .split_once(']')
            .ok_or_else(|| refuse("bad IPv6 literal"))?;
        (ip.to_string(), tail.strip_prefix(':').map(str::to_string))
    } else {
        match auth.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (auth.to_string(), None),
        }
    };
    let port = match port {
        None if tls => 443,
        None => 80,
        Some(p) => p.parse::<u16>().map_err(|_| refuse("bad port"))?,
    };
    let allowed = if tls {
        port == 443
    } else {
        port == 80 || port == v.settings.http01_port
    };
    if !allowed {
        return Err(refuse(
            "redirects may only go to http on port 80 or https on port 443",
        ));
    }
    let host = match host.parse() {
        Ok(ip) => Identifier::Ip(ip),
        Err(_) => Identifier::Dns(
            uca_pki::san::parse_dns(&host, false).map_err(|_| refuse("not a host name"))?,
        ),
    };
    Ok((host, port, tls, path))
}

/// One GET to the first address of `host` that the policy allows and that answers.
async fn fetch(
    v: &Validator,
    host: &Identifier,
    port: u16,
    tls: bool,
    path: &str,
) -> Result<(StatusCode, Option<String>, Bytes), Problem> {
    let targets = v.targets(host, port).await?;
    let mut last = String::new();
    for addr in targets {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => {
                last = format!("{addr}: {e}");
                continue;
            }
        };
        return if tls {
            let config = super::tlsalpn01::client_config(&[b"http/1.1"])?;
            let name = rustls::pki_types::ServerName::try_from(super::tlsalpn01::sni(host))
                .map_err(|e| connection(host, &e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, stream)
                .await
                .map_err(|e| connection(host, &format!("TLS with {addr}: {e}")))?;
            get(stream, host, port, tls, path).await
        } else {
            get(stream, host, port, tls, path).await
        };
    }
    Err(connection(host, &last))
}

async fn get<S>(
    stream: S,
    host: &Identifier,
    port: u16,
    tls: bool,
    path: &str,
) -> Result<(StatusCode, Option<String>, Bytes), Problem>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| connection(host, &e.to_string()))?;
    let driver = tokio::spawn(conn);
    let req = Request::get(path)
        .header(hyper::header::HOST, authority(host, port, tls))
        .header(hyper::header::USER_AGENT, "uca-acme-validator")
        .header(hyper::header::ACCEPT, "*/*")
        .body(Empty::<Bytes>::new())
        .map_err(|e| connection(host, &e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| connection(host, &e.to_string()))?;
    let status = resp.status();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    driver.abort();
    Ok((status, location, body))
}

fn connection(host: &Identifier, why: &str) -> Problem {
    Problem::new(
        ProblemType::Connection,
        format!(
            "{host}: could not fetch the http-01 response: {}",
            short(why)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::ValidationSettings;

    #[test]
    fn redirects_go_only_to_http_on_80_or_https_on_443() {
        let v = Validator::new(ValidationSettings::default()).unwrap();
        let (host, port, tls, path) = redirect_target(&v, "http://b.test/x?y").unwrap();
        assert_eq!(
            (host, port, tls, path.as_str()),
            (Identifier::Dns("b.test".into()), 80, false, "/x?y")
        );
        let (host, _, _, path) = redirect_target(&v, "http://[::1]:80").unwrap();
        assert_eq!(
            (host, path.as_str()),
            (Identifier::Ip("::1".parse().unwrap()), "/")
        );
        let (_, port, tls, _) = redirect_target(&v, "https://b.test/.well-known/x").unwrap();
        assert_eq!((port, tls), (443, true));
        for bad in [
            "https://b.test:8443/",
            "ftp://b.test/",
            "/relative",
            "http://b.test:8080/",
            "http://user@b.test/",
            "http://bad..name/",
        ] {
            let p = redirect_target(&v, bad).unwrap_err();
            assert_eq!(p.kind, ProblemType::IncorrectResponse, "{bad}");
        }
    }
}
