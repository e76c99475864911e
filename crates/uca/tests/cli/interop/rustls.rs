//! Real mutual TLS in-process with rustls (aws-lc-rs provider, webpki verifiers): a server that
//! requires client certificates and a client, both using uca-issued PEM files, talk over a
//! loopback TCP connection on two threads.
//!
//! rustls/webpki is stricter than OpenSSL in places (no CN fallback, EKU always enforced,
//! DER strictness), so passing here is an independent second opinion on uca's certificates.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::support::*;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, ProtocolVersion,
    RootCertStore, ServerConfig, ServerConnection, StreamOwned, SupportedProtocolVersion,
};

const TIMEOUT: Duration = Duration::from_secs(10);
const VERSIONS: [(&SupportedProtocolVersion, ProtocolVersion); 2] = [
    (&rustls::version::TLS13, ProtocolVersion::TLSv1_3),
    (&rustls::version::TLS12, ProtocolVersion::TLSv1_2),
];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

fn key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

fn roots(ca: &Path) -> Arc<RootCertStore> {
    let mut store = RootCertStore::empty();
    for c in certs(ca) {
        store.add(c).expect("uca's ca.crt is a usable trust anchor");
    }
    Arc::new(store)
}

/// A server presenting `name`'s fullchain.pem, REQUIRING a client certificate from `env`'s CA.
fn server_config(
    env: &TempCa,
    name: &str,
    version: &'static SupportedProtocolVersion,
) -> Arc<ServerConfig> {
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&env.ca_cert()), provider())
        .build()
        .expect("client verifier");
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&env.issued(name, "fullchain.pem")),
            key(&env.issued(name, "key.pem")),
        )
        .unwrap_or_else(|e| panic!("rustls rejects {name}'s server certificate/key: {e:?}"));
    Arc::new(config)
}

/// A client trusting only `trust`'s CA, presenting `client` (cert.pem) from `issuer`, or nothing.
fn client_config(
    trust: &TempCa,
    client: Option<(&TempCa, &str)>,
    version: &'static SupportedProtocolVersion,
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("protocol versions")
        .with_root_certificates(roots(&trust.ca_cert()));
    let config = match client {
        Some((issuer, name)) => builder
            .with_client_auth_cert(
                certs(&issuer.issued(name, "cert.pem")),
                key(&issuer.issued(name, "key.pem")),
            )
            .unwrap_or_else(|e| panic!("rustls rejects {name}'s client certificate/key: {e:?}")),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// What the client got from a successful exchange: the answer and the server's chain.
type ClientResult = io::Result<(Vec<u8>, Vec<CertificateDer<'static>>)>;

/// What the server saw of a successful exchange.
#[derive(Debug)]
struct Seen {
    peer: Vec<CertificateDer<'static>>,
    version: Option<ProtocolVersion>,
    received: Vec<u8>,
}

/// Accepts one connection on a loopback port (bound before returning, so no waiting is needed),
/// reads "ping", answers "pong".
fn serve_once(config: Arc<ServerConfig>) -> (u16, JoinHandle<io::Result<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(TIMEOUT))?;
        sock.set_write_timeout(Some(TIMEOUT))?;
        let conn = ServerConnection::new(config).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(conn, sock);
        let mut exchange = || -> io::Result<Seen> {
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf)?;
            tls.write_all(b"pong")?;
            tls.conn.send_close_notify();
            tls.flush()?;
            Ok(Seen {
                peer: tls
                    .conn
                    .peer_certificates()
                    .map(|c| c.to_vec())
                    .unwrap_or_default(),
                version: tls.conn.protocol_version(),
                received: buf.to_vec(),
            })
        };
        let result = exchange();
        if result.is_err() {
            // rustls has already written its alert; drain until the client hangs up so the
            // kernel does not answer the client's unread data with a RST that hides the alert.
            let _ = tls.sock.shutdown(std::net::Shutdown::Write);
            let mut sink = [0u8; 1024];
            while matches!(tls.sock.read(&mut sink), Ok(n) if n > 0) {}
        }
        result
    });
    (port, handle)
}

/// Connects as `server_name`, sends "ping", reads the answer; returns it and the server's chain.
fn connect(
    port: u16,
    config: Arc<ClientConfig>,
    server_name: &str,
) -> io::Result<(Vec<u8>, Vec<CertificateDer<'static>>)> {
    let sock = TcpStream::connect(("127.0.0.1", port))?;
    sock.set_read_timeout(Some(TIMEOUT))?;
    sock.set_write_timeout(Some(TIMEOUT))?;
    let name = ServerName::try_from(server_name.to_string()).expect("server name");
    let conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(conn, sock);
    tls.write_all(b"ping")?;
    tls.flush()?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf)?;
    let peer = tls
        .conn
        .peer_certificates()
        .map(|c| c.to_vec())
        .unwrap_or_default();
    Ok((buf.to_vec(), peer))
}

/// The rustls error inside an I/O error from `StreamOwned`, if that is what it is.
fn tls_error(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// One full exchange; returns (client result, server result).
fn exchange(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    server_name: &str,
) -> (ClientResult, io::Result<Seen>) {
    let (port, handle) = serve_once(server);
    let client_result = connect(port, client, server_name);
    let server_result = handle.join().expect("server thread panicked");
    (client_result, server_result)
}

/// Asserts a successful exchange in which each side saw exactly the other's uca certificate.
fn assert_exchange_ok(
    env: &TempCa,
    server: &str,
    client: &str,
    server_name: &str,
    version: &'static SupportedProtocolVersion,
    expect: ProtocolVersion,
) {
    let (c, s) = exchange(
        server_config(env, server, version),
        client_config(env, Some((env, client)), version),
        server_name,
    );
    let ctx = format!("{client} -> {server} as {server_name}, {expect:?}");
    let (answer, server_chain) =
        c.unwrap_or_else(|e| panic!("{ctx}: client failed: {e} ({:?})", tls_error(&e)));
    let seen = s.unwrap_or_else(|e| panic!("{ctx}: server failed: {e} ({:?})", tls_error(&e)));
    assert_eq!(answer, b"pong", "{ctx}");
    assert_eq!(seen.received, b"ping", "{ctx}");
    assert_eq!(seen.version, Some(expect), "{ctx}");
    // The server authenticated the client by exactly its uca certificate (cert.pem: leaf only).
    assert_eq!(seen.peer, certs(&env.issued(client, "cert.pem")), "{ctx}");
    // The client received the server's fullchain.pem: leaf then the CA.
    assert_eq!(
        server_chain,
        certs(&env.issued(server, "fullchain.pem")),
        "{ctx}"
    );
    assert_eq!(server_chain.len(), 2, "{ctx}");
}

/// Server and client certificates of one CA complete rustls mutual TLS 1.3 and 1.2 for every
/// leaf key type, and across algorithms (an RSA root signing Ed25519 and P-384 leaves).
#[test]
fn rustls_mtls_every_key_type() {
    // (case, CA key (None: the default), server key, client key)
    let cases = [
        ("ec-p256", None, "ec-p256", "ec-p256"),
        ("ec-p384", None, "ec-p384", "ec-p384"),
        ("ed25519", None, "ed25519", "ed25519"),
        ("rsa-2048", None, "rsa-2048", "rsa-2048"),
        (
            "RSA root, Ed25519 and P-384 leaves",
            Some("rsa-2048"),
            "ed25519",
            "ec-p384",
        ),
    ];
    each_case_at_once(
        cases.map(|(name, ca, server, client)| (name, (ca, server, client))),
        |(ca_key, server_key, client_key)| {
            let env = TempCa::new();
            match ca_key {
                Some(k) => env.init_plain(&["--key", k]),
                None => env.init_plain(&[]),
            };
            env.issue("rmq1", &["--profile", "server", "--key", server_key]);
            env.issue("agent", &["--profile", "client", "--key", client_key]);
            for (version, expect) in VERSIONS {
                assert_exchange_ok(&env, "rmq1", "agent", "rmq1", version, expect);
            }
        },
    );
}

/// A rustls server requiring client certificates refuses one issued by another uca CA, both
/// when that CA has a different name and when it has the same default name ("uca Root CA").
#[test]
fn rustls_refuses_client_cert_from_another_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &[]);
    // Every CA made by a bare `uca init` is called "CN=uca Root CA": webpki then finds our root
    // by subject name, tries its key and reports BadSignature instead of UnknownIssuer. Either
    // way the client is refused; with a distinct CA name the error is the canonical one.
    let same_name = TempCa::new();
    same_name.init_plain(&[]);
    let renamed = TempCa::new();
    renamed.init_plain(&["--name", "Other Team CA"]);
    for (other, same) in [(&same_name, true), (&renamed, false)] {
        other.issue("agent", &["--profile", "client"]);
        for (version, _) in VERSIONS {
            let ctx = format!("{version:?}, foreign CA with the same name: {same}");
            let (c, s) = exchange(
                server_config(&env, "rmq1", version),
                client_config(&env, Some((other, "agent")), version),
                "rmq1",
            );
            let s = s.expect_err("server must refuse a foreign client certificate");
            let c = c.expect_err("client must see the refusal");
            let (server_err, client_err) = (tls_error(&s), tls_error(&c));
            if same {
                assert!(
                    matches!(
                        server_err,
                        Some(rustls::Error::InvalidCertificate(
                            CertificateError::UnknownIssuer | CertificateError::BadSignature
                        ))
                    ),
                    "{ctx}: {s} / {server_err:?}"
                );
                assert!(
                    matches!(client_err, Some(rustls::Error::AlertReceived(_))),
                    "{ctx}: {c} / {client_err:?}"
                );
            } else {
                assert!(
                    matches!(
                        server_err,
                        Some(rustls::Error::InvalidCertificate(
                            CertificateError::UnknownIssuer
                        ))
                    ),
                    "{ctx}: {s} / {server_err:?}"
                );
                assert!(
                    matches!(
                        client_err,
                        Some(rustls::Error::AlertReceived(AlertDescription::UnknownCA))
                    ),
                    "{ctx}: {c} / {client_err:?}"
                );
            }
        }
    }
}

/// A rustls client trusting only its uca CA refuses a server certificate from another uca CA.
#[test]
fn rustls_client_refuses_server_cert_from_another_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = TempCa::new();
    other.init_plain(&["--name", "Impostor CA"]);
    other.issue("rmq1", &[]);
    env.issue("agent", &["--profile", "client"]);
    let version = &rustls::version::TLS13;
    // The impostor server is configured to accept our client, so only the client can object.
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(&env.ca_cert()), provider())
        .build()
        .expect("verifier");
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[version])
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&other.issued("rmq1", "fullchain.pem")),
            key(&other.issued("rmq1", "key.pem")),
        )
        .expect("server config");
    let (c, s) = exchange(
        Arc::new(server),
        client_config(&env, Some((&env, "agent")), version),
        "rmq1",
    );
    let c = c.expect_err("client must refuse the impostor");
    assert!(
        matches!(
            tls_error(&c),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "{c} / {:?}",
        tls_error(&c)
    );
    assert!(s.is_err(), "server must not complete the exchange: {s:?}");
}

/// The rustls server really requires a certificate: an anonymous client is refused.
#[test]
fn rustls_refuses_client_without_certificate() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &[]);
    for (version, _) in VERSIONS {
        let (c, s) = exchange(
            server_config(&env, "rmq1", version),
            client_config(&env, None, version),
            "rmq1",
        );
        let s = s.expect_err("server must refuse an anonymous client");
        assert!(
            matches!(tls_error(&s), Some(rustls::Error::NoCertificatesPresented)),
            "{version:?}: {s}"
        );
        assert!(
            c.is_err(),
            "{version:?}: client must not complete the exchange"
        );
    }
}

/// webpki enforces uca profiles: a server-only cert cannot be a client, a client-only cert
/// cannot be a server, code-signing can be neither (EKU → InvalidPurpose).
#[test]
fn rustls_enforces_profiles() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &["--profile", "server"]);
    env.issue("web1", &["--profile", "server"]);
    env.issue("agent1", &["--profile", "client"]);
    env.issue("agent2", &["--profile", "client"]);
    env.issue("signer", &["--profile", "code-signing"]);
    let bad_purpose = |e: &io::Error| {
        matches!(
            tls_error(e),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. }
            ))
        )
    };
    for (version, _) in VERSIONS {
        // Server-profile and code-signing certificates presented as client certificates.
        for client in ["web1", "signer"] {
            let (_, s) = exchange(
                server_config(&env, "rmq1", version),
                client_config(&env, Some((&env, client)), version),
                "rmq1",
            );
            let s = s.expect_err("server must refuse a client cert without clientAuth");
            assert!(
                bad_purpose(&s),
                "{client} {version:?}: {s} / {:?}",
                tls_error(&s)
            );
        }
        // Client-profile and code-signing certificates presented as server certificates.
        for server in ["agent1", "signer"] {
            let (c, _) = exchange(
                server_config(&env, server, version),
                client_config(&env, Some((&env, "agent2")), version),
                server,
            );
            let c = c.expect_err("client must refuse a server cert without serverAuth");
            assert!(
                bad_purpose(&c),
                "{server} {version:?}: {c} / {:?}",
                tls_error(&c)
            );
        }
    }
}

/// The default SAN rule makes `rmq1` valid for rustls as `rmq1` and `rmq` but not `rmq2`; an
/// IP SAN from `--san 127.0.0.1` matches an IP server name.
#[test]
fn rustls_server_name_check_follows_san_rules() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("rmq1", &[]);
    env.issue("web1", &["--profile", "server", "--san", "127.0.0.1"]);
    env.issue("agent", &["--profile", "client"]);
    let v13 = &rustls::version::TLS13;
    assert_exchange_ok(&env, "rmq1", "agent", "rmq", v13, ProtocolVersion::TLSv1_3);
    assert_exchange_ok(
        &env,
        "web1",
        "agent",
        "127.0.0.1",
        v13,
        ProtocolVersion::TLSv1_3,
    );
    for (server, name) in [("rmq1", "rmq2"), ("rmq1", "127.0.0.1"), ("web1", "web2")] {
        let (c, _) = exchange(
            server_config(&env, server, v13),
            client_config(&env, Some((&env, "agent")), v13),
            name,
        );
        let c = c.expect_err("client must refuse a certificate not valid for the name");
        assert!(
            matches!(
                tls_error(&c),
                Some(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{server} as {name}: {c} / {:?}",
            tls_error(&c)
        );
    }
}
