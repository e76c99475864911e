//! One probe: a fresh connection every time (so TLS problems show), the whole exchange under
//! the target's timeout, and a precise reason when it fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::targets::{CaSource, ClientCert, Kind, Target};

/// Most of a response body uca reads: enough for any health endpoint.
const MAX_RESPONSE: usize = 256 * 1024;

/// A certificate the endpoint presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCert {
    pub subject: String,
    pub serial_hex: String,
    pub not_after_unix: i64,
    pub der: Vec<u8>,
}

/// The outcome of one probe.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub success: bool,
    pub latency: Duration,
    pub error: Option<String>,
    pub status: Option<u16>,
    /// The chain the server presented, leaf first (TLS targets whose handshake succeeded).
    pub chain: Option<Vec<SeenCert>>,
}

/// Why a TLS client configuration could not be built; each variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Pem {
        path: PathBuf,
        source: uca_pki::PkiError,
    },
    #[error("{} holds no CERTIFICATE", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{}: not a usable CA certificate: {source}", path.display())]
    UnusableCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("a TLS target needs a CA: set ca = \"ca.pem\" or run where the uca CA directory is")]
    NoCa,
    #[error("{0}")]
    Protocols(rustls::Error),
    #[error("{}: no unencrypted PKCS#8 'PRIVATE KEY' block", path.display())]
    NoKey { path: PathBuf },
    #[error("client certificate: {0}")]
    ClientCert(rustls::Error),
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let data = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&data);
    let certs = uca_pki::inspect::all_certificates_der(&text).map_err(|source| TlsError::Pem {
        path: path.to_path_buf(),
        source,
    })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs.into_iter().map(CertificateDer::from).collect())
}

/// A TLS client configuration for a CA bundle and an optional client certificate. Session
/// resumption is off: every probe does a full handshake.
pub fn client_config(
    ca: Option<&CaSource>,
    client: Option<&ClientCert>,
    alpn_http: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(CaSource::ThisCa(p)) | Some(CaSource::File(p)) => {
            for c in read_pem_certs(p)? {
                roots.add(c).map_err(|source| TlsError::UnusableCa {
                    path: p.clone(),
                    source,
                })?;
            }
        }
        None => {
            return Err(TlsError::NoCa);
        }
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?
        .with_root_certificates(roots);
    let mut config = match client {
        Some(cc) => {
            let chain = read_pem_certs(&cc.cert)?;
            let key_data = std::fs::read(&cc.key).map_err(|source| TlsError::Read {
                path: cc.key.clone(),
                source,
            })?;
            let key = uca_pki::pem::first(&String::from_utf8_lossy(&key_data), &["PRIVATE KEY"])
                .ok()
                .flatten()
                .ok_or_else(|| TlsError::NoKey {
                    path: cc.key.clone(),
                })?;
            builder
                .with_client_auth_cert(chain, PrivateKeyDer::Pkcs8(key.der.into()))
                .map_err(TlsError::ClientCert)?
        }
        None => builder.with_no_client_auth(),
    };
    config.resumption = rustls::client::Resumption::disabled();
    if alpn_http {
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
    }
    Ok(Arc::new(config))
}

fn seen(chain: &[CertificateDer<'_>]) -> Vec<SeenCert> {
    chain
        .iter()
        .filter_map(|c| {
            let (_, x) = X509Certificate::from_der(c.as_ref()).ok()?;
            let subject = x
                .subject()
                .iter_common_name()
                .next()
                .and_then(|n| n.as_str().ok())
                .map(|cn| format!("CN={cn}"))
                .unwrap_or_else(|| x.subject().to_string());
            Some(SeenCert {
                subject,
                serial_hex: uca_pki::Serial::from_der_content(x.raw_serial()).hex(),
                not_after_unix: x.validity().not_after.timestamp(),
                der: c.as_ref().to_vec(),
            })
        })
        .collect()
}

/// Words for an I/O error, with what the probe was doing.
fn io_words(stage: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    if let Some(inner) = e.get_ref()
        && let Some(tls) = inner.downcast_ref::<rustls::Error>()
    {
        return tls_words(tls);
    }
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => format!("connection reset {stage}"),
        K::UnexpectedEof => format!("connection closed {stage}"),
        K::TimedOut => format!("timed out {stage}"),
        _ => format!("{e} ({stage})"),
    }
}

fn tls_words(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::Expired) => "TLS: the server's certificate has expired".into(),
        E::InvalidCertificate(C::ExpiredContext { time, not_after }) => format!(
            "TLS: the server's certificate expired ({}s ago)",
            time.as_secs().saturating_sub(not_after.as_secs())
        ),
        E::InvalidCertificate(C::UnknownIssuer) => {
            "TLS: the server's certificate is not from a trusted CA (unknown issuer)".into()
        }
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "TLS: the server's certificate does not name this host (set server_name?)".into()
        }
        E::InvalidCertificate(C::Revoked) => "TLS: the server's certificate is revoked".into(),
        E::InvalidCertificate(other) => format!("TLS: bad server certificate: {other:?}"),
        E::AlertReceived(A::CertificateRequired) => {
            "TLS: the server requires a client certificate and none was given (client_cert)".into()
        }
        E::AlertReceived(A::UnknownCA) => {
            "TLS: the server does not trust our client certificate (unknown CA)".into()
        }
        E::AlertReceived(A::BadCertificate) => {
            "TLS: the server rejected our client certificate".into()
        }
        E::AlertReceived(A::CertificateRevoked) => {
            "TLS: the server says our client certificate is revoked".into()
        }
        E::AlertReceived(a) => format!("TLS: the server sent alert {a:?}"),
        E::InvalidMessage(m) => format!("TLS: garbage from the server ({m:?}): not TLS?"),
        other => format!("TLS: {other}"),
    }
}

async fn http_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    t: &Target,
) -> Result<(u16, String), String> {
    let host = if t.host.contains(':') {
        format!("[{}]", t.host)
    } else {
        t.host.clone()
    };
    let host_header = match (t.kind, t.port) {
        (Kind::Https, 443) | (Kind::Http, 80) => host,
        _ => format!("{host}:{}", t.port),
    };
    let req = format!(
        "{} {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: uca-health\r\nAccept: */*\r\nConnection: close\r\n{}\r\n",
        t.method,
        t.path,
        if t.method == "POST" {
            "Content-Length: 0\r\n"
        } else {
            ""
        }
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| io_words("sending the request", &e))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if buf.len() >= MAX_RESPONSE || response_complete(&buf) {
                    break;
                }
            }
            // A server that closes without close_notify after a complete response is common.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => break,
            Err(e) => return Err(io_words("waiting for the response", &e)),
        }
    }
    parse_response(&buf, t.method == "HEAD")
}

fn header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

fn response_complete(buf: &[u8]) -> bool {
    let Some(end) = header_end(buf) else {
        return false;
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    // The server's number: never trusted for arithmetic.
    content_length(&head).is_some_and(|n| buf.len().saturating_sub(end) >= n)
}

fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&rest[..pos]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 {
            break;
        }
        let start = pos + 2;
        let end = start.saturating_add(size).min(rest.len());
        out.extend_from_slice(rest.get(start..end).unwrap_or(&[]));
        rest = rest.get(end.saturating_add(2)..).unwrap_or(&[]);
    }
    out
}

fn parse_response(buf: &[u8], head_only: bool) -> Result<(u16, String), String> {
    if buf.is_empty() {
        return Err("the server closed the connection without answering".into());
    }
    let end = header_end(buf)
        .ok_or_else(|| "garbage instead of an HTTP response (no complete header)".to_string())?;
    let head = String::from_utf8_lossy(&buf[..end]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!(
            "garbage instead of an HTTP status line: {status_line:.60}"
        ));
    };
    if !version.starts_with("HTTP/") {
        return Err(format!(
            "garbage instead of an HTTP status line: {status_line:.60}"
        ));
    }
    let code: u16 = code
        .parse()
        .map_err(|_| format!("garbage instead of an HTTP status line: {status_line:.60}"))?;
    let body = &buf[end..];
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
        })
    });
    let body = if head_only {
        String::new()
    } else if chunked {
        String::from_utf8_lossy(&dechunk(body)).into_owned()
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    Ok((code, body))
}

async fn tls_connect(
    tcp: TcpStream,
    t: &Target,
    config: &Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let name = t.server_name.as_deref().unwrap_or(&t.host);
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| format!("'{name}' is not a valid TLS server name"))?;
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(server_name, tcp)
        .await
        .map_err(|e| io_words("during the TLS handshake", &e))
}

fn judge_http(t: &Target, code: u16, body: &str) -> Result<(), String> {
    let status_ok = if t.expect_status.is_empty() {
        (200..400).contains(&code)
    } else {
        t.expect_status.contains(&code)
    };
    if !status_ok {
        let want = if t.expect_status.is_empty() {
            "200-399".to_string()
        } else {
            t.expect_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!("HTTP {code} (expected {want})"));
    }
    if let Some(m) = &t.body
        && !m.matches(body)
    {
        return Err(format!(
            "HTTP {code} but the body does not contain {}",
            m.describe()
        ));
    }
    Ok(())
}

/// Probes `t` once. `tls` is the client configuration for TLS targets.
pub async fn probe(t: &Target, tls: Option<&Arc<ClientConfig>>) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome {
        success: false,
        latency: Duration::ZERO,
        error: None,
        status: None,
        chain: None,
    };
    let stage = std::sync::Mutex::new("while connecting");
    let work = async {
        let addr = format!("{}:{}", t.host, t.port);
        let tcp = TcpStream::connect(addr.as_str())
            .await
            .map_err(|e| io_words("while connecting", &e))?;
        let _ = tcp.set_nodelay(true);
        match t.kind {
            Kind::Tcp => Ok((None, None)),
            Kind::Http => {
                set(&stage, "waiting for the response");
                let mut tcp = tcp;
                let (code, body) = http_exchange(&mut tcp, t).await?;
                judge_http(t, code, &body)
                    .map(|()| (Some(code), None))
                    .map_err(|e| (e, Some(code)).0)
            }
            Kind::Tls | Kind::Https => {
                let config = tls.ok_or("no TLS configuration for this target")?;
                set(&stage, "during the TLS handshake");
                let mut stream = tls_connect(tcp, t, config).await?;
                let chain = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(seen)
                    .unwrap_or_default();
                if t.kind == Kind::Tls {
                    let _ = stream.shutdown().await;
                    return Ok((None, Some(chain)));
                }
                set(&stage, "waiting for the response");
                let (code, body) = http_exchange(&mut stream, t).await?;
                judge_http(t, code, &body)?;
                Ok((Some(code), Some(chain)))
            }
        }
    };
    match tokio::time::timeout(t.timeout.as_duration(), work).await {
        Ok(Ok((status, chain))) => {
            outcome.success = true;
            outcome.status = status;
            outcome.chain = chain;
        }
        Ok(Err(e)) => outcome.error = Some(e),
        Err(_) => {
            let at = *stage.lock().unwrap_or_else(|p| p.into_inner());
            outcome.error = Some(format!("timed out after {} {at}", t.timeout));
        }
    }
    outcome.latency = started.elapsed();
    outcome
}

/// POSTs a JSON body to an http:// (or https://, trusting this CA) URL: the webhook.
pub async fn post_json(url: &str, body: &str) -> Result<(), String> {
    let crate::targets::Url {
        kind,
        host,
        port,
        path,
    } = crate::targets::parse_url(url).map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: uca-health\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let work = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| io_words("while connecting", &e))?;
        let mut buf = Vec::new();
        if kind == Kind::Https {
            return Err(
                "https webhooks are not supported; use http:// on a local relay".to_string(),
            );
        }
        let mut tcp = tcp;
        tcp.write_all(req.as_bytes())
            .await
            .map_err(|e| io_words("sending", &e))?;
        tcp.read_to_end(&mut buf)
            .await
            .map_err(|e| io_words("waiting for the answer", &e))?;
        let (code, _) = parse_response(&buf, false)?;
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!("answered HTTP {code}"))
        }
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| "timed out after 10s".to_string())?
}

fn set(stage: &std::sync::Mutex<&'static str>, s: &'static str) {
    *stage.lock().unwrap_or_else(|p| p.into_inner()) = s;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let (c, b) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false).unwrap();
        assert_eq!((c, b.as_str()), (200, "ok"));
        let (_, b) = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(b, "abcde");
        assert!(
            parse_response(b"SSH-2.0-OpenSSH\r\n", false)
                .unwrap_err()
                .contains("garbage")
        );
        assert!(
            parse_response(b"", false)
                .unwrap_err()
                .contains("without answering")
        );
    }
}
