//! TLS on every link (issue 12, §7), with a CA made in the test (rcgen): grpcurl with
//! `-cacert` and the command-line client over gRPC, a `wss://` client and HTTPS on the HTTP
//! port, a client certificate refused and accepted with `--tls-client-ca`, and Redis over TLS
//! (`rediss://`, Debian's redis-server with `--tls-port`), a Sentinel group included: its
//! master, replica and Sentinels on TLS ports alone.

use std::sync::Arc;

use futures::{SinkExt as _, StreamExt as _};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rift::{
    pb,
    server::Config,
    transport::{TlsConfig, TransportConfig},
};
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream, rustls};

use crate::support::{
    grpc::{complete_task, strings},
    redis::{RedisServer, free_port},
    rift::{RiftProcess, TestRift},
    sentinel::{SentinelGroup, TlsFiles},
    tools::grpcurl,
};

/// A CA and what it signed, as PEM files in a temporary directory: `ca.pem`, `server.pem` /
/// `server.key` (for 127.0.0.1 and localhost), `client.pem` / `client.key`, and `other-ca.pem`
/// with `stranger.pem` / `stranger.key`, a client certificate from a CA nobody trusts.
struct Pki {
    dir: TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text).expect("write PEM");
        };
        let ca = |name: &str| {
            let key = KeyPair::generate().expect("CA key");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).expect("CA certificate");
            (cert.pem(), Issuer::new(params, key))
        };
        let leaf = |issuer: &Issuer<'_, KeyPair>, purpose: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
            params
                .subject_alt_names
                .push(SanType::IpAddress("127.0.0.1".parse().expect("IP")));
            params.extended_key_usages = vec![purpose];
            let cert = params.signed_by(&key, issuer).expect("certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (ca_pem, issuer) = ca("Rift test CA");
        write("ca.pem", ca_pem);
        let (cert, key) = leaf(&issuer, ExtendedKeyUsagePurpose::ServerAuth);
        write("server.pem", cert);
        write("server.key", key);
        let (cert, key) = leaf(&issuer, ExtendedKeyUsagePurpose::ClientAuth);
        write("client.pem", cert);
        write("client.key", key);
        let (other_pem, other) = ca("Nobody's CA");
        write("other-ca.pem", other_pem);
        let (cert, key) = leaf(&other, ExtendedKeyUsagePurpose::ClientAuth);
        write("stranger.pem", cert);
        write("stranger.key", key);
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn tls(&self, client_ca: bool) -> TlsConfig {
        TlsConfig {
            cert: self.dir.path().join("server.pem"),
            key: self.dir.path().join("server.key"),
            client_ca: client_ca.then(|| self.dir.path().join("ca.pem")),
        }
    }

    /// A rustls client trusting the test CA, with `client` (a name: `client`, `stranger`) as
    /// its certificate if given, offering `alpn`.
    fn connector(&self, client: Option<&str>, alpn: &[u8]) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        let pem = |name: &str| std::fs::read(self.dir.path().join(name)).expect("read PEM");
        for cert in rustls_pemfile_certs(&pem("ca.pem")) {
            roots.add(cert).expect("CA");
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots);
        let mut config = match client {
            Some(name) => {
                use rustls::pki_types::{PrivateKeyDer, pem::PemObject as _};
                let key = PrivateKeyDer::from_pem_slice(&pem(&format!("{name}.key"))).expect("key");
                builder
                    .with_client_auth_cert(rustls_pemfile_certs(&pem(&format!("{name}.pem"))), key)
                    .expect("client certificate")
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        TlsConnector::from(Arc::new(config))
    }
}

fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .expect("certificates")
}

fn with_tls(pki: &Pki, client_ca: bool) -> Config {
    Config {
        transport: TransportConfig {
            tls: Some(pki.tls(client_ca)),
            ..TransportConfig::default()
        },
        ..Config::default()
    }
}

async fn run_grpcurl(args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(grpcurl())
        .args(args)
        .output()
        .await
        .expect("run grpcurl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn grpcurl_and_the_cli_call_over_tls_with_the_test_ca() {
    let pki = Pki::new();
    let rift = TestRift::start(with_tls(&pki, false)).await;
    let addr = rift.grpc_addr.to_string();
    let ca = pki.path("ca.pem");
    let (ok, text) = run_grpcurl(&[
        "-cacert",
        &ca,
        "-d",
        r#"{"task_id": "101", "data": ["a", "b"]}"#,
        &addr,
        "rift.v1.Rift/Analyze",
    ])
    .await;
    assert!(ok && text.contains("Analyzed 2 items"), "{text}");
    // Plaintext to a TLS port, and TLS without trusting the CA, both fail.
    let (ok, text) = run_grpcurl(&["-plaintext", &addr, "list"]).await;
    assert!(!ok, "plaintext against TLS: {text}");
    let (ok, text) = run_grpcurl(&[&addr, "list"]).await;
    assert!(!ok && text.contains("certificate"), "an unknown CA: {text}");

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
        .args([
            "progress", "101", "--addr", &addr, "--tls-ca", &ca, "--json",
        ])
        .output()
        .await
        .expect("run rift progress");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("IN_PROGRESS"),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// TLS to the HTTP port with `alpn` (`http/1.1`), ready for a request.
async fn tls_to(
    pki: &Pki,
    addr: std::net::SocketAddr,
    client: Option<&str>,
) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    pki.connector(client, b"http/1.1")
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("TLS handshake")
}

#[tokio::test]
async fn wss_and_https_on_the_http_port() {
    let pki = Pki::new();
    let rift = TestRift::start(with_tls(&pki, false)).await;
    let mut https = tls_to(&pki, rift.http_addr, None).await;
    https
        .write_all(
            format!(
                "GET /readyz HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
                rift.http_addr.port()
            )
            .as_bytes(),
        )
        .await
        .expect("request");
    let mut response = Vec::new();
    let _ = https.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let tls = tls_to(&pki, rift.http_addr, None).await;
    let url = format!("wss://localhost:{}/ws", rift.http_addr.port());
    let (mut socket, _) = tokio_tungstenite::client_async(url.as_str(), tls)
        .await
        .expect("wss:// handshake");
    socket
        .send(tokio_tungstenite::tungstenite::Message::text(
            "Analyze data for task w with data: [1]",
        ))
        .await
        .expect("send");
    let reply = socket.next().await.expect("a reply").expect("a frame");
    assert!(
        reply.to_text().expect("text").contains("Analyzed 1 items"),
        "{reply:?}"
    );
}

#[tokio::test]
async fn with_a_client_ca_a_client_certificate_is_needed() {
    let pki = Pki::new();
    let rift = TestRift::start(with_tls(&pki, true)).await;
    let addr = rift.grpc_addr.to_string();
    let ca = pki.path("ca.pem");
    let list = |cert: Option<&'static str>| {
        let (addr, ca) = (addr.clone(), ca.clone());
        let (cert_path, key_path) = cert.map_or((None, None), |name| {
            (
                Some(pki.path(&format!("{name}.pem"))),
                Some(pki.path(&format!("{name}.key"))),
            )
        });
        async move {
            let mut args = vec!["-cacert".to_owned(), ca];
            if let (Some(cert), Some(key)) = (cert_path, key_path) {
                args.extend(["-cert".to_owned(), cert, "-key".to_owned(), key]);
            }
            args.extend([addr, "list".to_owned()]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_grpcurl(&args).await
        }
    };
    let (ok, text) = list(None).await;
    assert!(!ok, "no client certificate: {text}");
    let (ok, text) = list(Some("stranger")).await;
    assert!(!ok, "a certificate from an untrusted CA: {text}");
    let (ok, text) = list(Some("client")).await;
    assert!(ok && text.contains("rift.v1.Rift"), "{text}");

    // The HTTP port asks the same.
    let tcp = TcpStream::connect(rift.http_addr).await.expect("connect");
    let refused = pki
        .connector(None, b"http/1.1")
        .connect("localhost".try_into().expect("name"), tcp)
        .await;
    let refused = match refused {
        // TLS 1.3: the server's refusal arrives with the first read.
        Ok(mut stream) => {
            let _ = stream
                .write_all(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await;
            let mut buffer = [0u8; 64];
            stream
                .read(&mut buffer)
                .await
                .map(|n| n == 0)
                .unwrap_or(true)
        }
        Err(_) => true,
    };
    assert!(
        refused,
        "the HTTP port served a client without a certificate"
    );
    let mut stream = tls_to(&pki, rift.http_addr, Some("client")).await;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));

    // And the command-line client presents one.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rift"))
        .args(["progress", "m", "--addr", &addr, "--tls-ca", &ca])
        .args([
            "--client-cert",
            &pki.path("client.pem"),
            "--client-key",
            &pki.path("client.key"),
        ])
        .output()
        .await
        .expect("run rift progress");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn redis_over_tls() {
    let pki = Pki::new();
    let port = free_port().to_string();
    let redis = RedisServer::start_with_args(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &pki.path("server.pem"),
        "--tls-key-file",
        &pki.path("server.key"),
        "--tls-ca-cert-file",
        &pki.path("ca.pem"),
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{port}");
    let ca = pki.path("ca.pem");
    // The Redis client trusts the system roots, or SSL_CERT_FILE.
    let rift = RiftProcess::spawn_with(
        "127.0.0.1:0",
        &[("SSL_CERT_FILE", &ca)],
        &["--redis-url", &url],
    )
    .await;
    assert_eq!(
        rift.serving["fields"]["memory"], "redis",
        "{}",
        rift.serving
    );
    let mut client = rift.client().await;
    client
        .analyze(pb::AnalyzeRequest {
            task_id: "tls".into(),
            data: strings(&["a"]),
            ..Default::default()
        })
        .await
        .expect("analyze over rediss://");
    // It landed in that Redis (read back over its unix socket).
    let mut connection = redis.connection().await;
    let stored: Option<String> = redis::cmd("GET")
        .arg("TechAgent:analysis:tls")
        .query_async(&mut connection)
        .await
        .expect("GET");
    assert!(stored.is_some_and(|json| json.contains("Analyzed 1 items")));
}

/// `--redis-mode sentinel` with `rediss://` Sentinel URLs: the master they name is reached
/// over TLS too. Nothing in the group listens in plain text on TCP, so a master reached in
/// plain text would leave every call `UNAVAILABLE`.
#[tokio::test]
async fn sentinel_over_tls() {
    let pki = Pki::new();
    let mut group = SentinelGroup::start_tls(&TlsFiles {
        cert: pki.path("server.pem"),
        key: pki.path("server.key"),
        ca: pki.path("ca.pem"),
    })
    .await;
    let urls = group.url();
    assert!(urls.starts_with("rediss://"), "{urls}");
    let ca = pki.path("ca.pem");
    let rift = RiftProcess::spawn_with(
        "127.0.0.1:0",
        &[("SSL_CERT_FILE", &ca)],
        &["--redis-mode", "sentinel", "--redis-url", &urls],
    )
    .await;
    let mut client = rift.client().await;
    let (analysis, progress) = complete_task(&mut client, "tls-sentinel").await;
    assert_eq!(analysis.version, 1);
    assert_eq!(progress.status(), pb::TaskStatus::Completed);
    // The keys are on the master the Sentinels name (read back over its unix socket).
    let mut master = group.master().await.connection().await;
    for key in [
        "TechAgent:analysis:tls-sentinel",
        "ConceptAgent:narrative:tls-sentinel",
        "TaskAgent:progress:tls-sentinel",
        "shared:task_context:tls-sentinel",
    ] {
        let exists: bool = redis::cmd("EXISTS")
            .arg(key)
            .query_async(&mut master)
            .await
            .expect("EXISTS");
        assert!(exists, "{key} on the master");
    }
}
