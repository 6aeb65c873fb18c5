//! TLS on both listeners: rustls (the `ring` provider), with an optional client CA for mutual
//! TLS. One server config serves gRPC (ALPN `h2`), grpc-web, the dashboard and `wss://`
//! (ALPN `http/1.1`).
//!
//! The provider is also installed as the process default, which the Redis client's
//! `rediss://` connections use (it trusts the system roots, or `SSL_CERT_FILE`).

use std::{io, path::PathBuf, sync::Arc};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
    server::WebPkiClientVerifier,
};

/// Where the server's certificate, key and (for mutual TLS) client CA are.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM: the certificate chain, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// PEM: the private key (`--tls-key`).
    pub key: PathBuf,
    /// PEM: CAs whose client certificates are accepted; given, a client without one is
    /// refused in the handshake (`--tls-client-ca`).
    pub client_ca: Option<PathBuf>,
}

/// Why TLS could not be set up. Names files, never their contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM of the kind needed.
    #[error("{flag} {path}: {source}")]
    File {
        /// The flag that named the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Installs rustls' `ring` provider as the process default (idempotent).
pub fn install_crypto_provider() {
    // Err only when a provider is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The server config `config` names.
pub fn server_config(config: &TlsConfig) -> Result<Arc<ServerConfig>, TlsError> {
    install_crypto_provider();
    let file_error = |flag: &'static str, path: &PathBuf| {
        let path = path.clone();
        move |source: rustls::pki_types::pem::Error| TlsError::File {
            flag,
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, source.to_string()),
        }
    };
    let certs = CertificateDer::pem_file_iter(&config.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(file_error("--tls-cert", &config.cert))?;
    if certs.is_empty() {
        return Err(TlsError::File {
            flag: "--tls-cert",
            path: config.cert.clone(),
            source: io::Error::new(io::ErrorKind::InvalidData, "no certificate in the file"),
        });
    }
    let key =
        PrivateKeyDer::from_pem_file(&config.key).map_err(file_error("--tls-key", &config.key))?;
    let builder = ServerConfig::builder();
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(file_error("--tls-client-ca", path))?
            {
                roots
                    .add(cert)
                    .map_err(|error| TlsError::Config(format!("--tls-client-ca: {error}")))?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .map_err(|error| TlsError::Config(format!("--tls-client-ca: {error}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|error| TlsError::Config(format!("--tls-cert and --tls-key: {error}")))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}
