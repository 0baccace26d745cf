//! HTTPS for `skuswap serve --tls`: a private CA and a server certificate made at start (or
//! the user's own pair), and an accept loop that does each TLS handshake on its own task so a
//! slow or silent client never holds up the others.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, String),
    #[error("{0} holds no certificate")]
    NoCertificate(PathBuf),
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's TLS configuration, and the CA file clients should trust (when made here).
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub ca_file: Option<PathBuf>,
}

/// A directory of this process's own under the system temp directory (readable by its owner
/// only), for the CA file when no `--tls-dir` is given.
pub fn private_dir() -> Result<PathBuf, TlsError> {
    let base = std::env::temp_dir();
    let mut last = None;
    for n in 0..100 {
        let dir = base.join(format!("skuswap-serve-{}-{n}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(TlsError::Write(dir, e)),
        }
    }
    Err(TlsError::Write(base, last.unwrap_or_else(|| std::io::Error::other("no free directory name"))))
}

/// A CA and a server certificate for `hosts` (names or IP addresses), made now; the CA's
/// certificate is written to `dir` for clients' `--ca-cert`. Both keys stay in memory.
pub fn made_at_start(dir: &Path, hosts: &[String]) -> Result<Tls, TlsError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "skuswap serve local CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(hosts.to_vec())?;
    leaf.distinguished_name.push(DnType::CommonName, "skuswap serve");
    leaf.use_authority_key_identifier_extension = true;
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    std::fs::create_dir_all(dir).map_err(|e| TlsError::Write(dir.to_path_buf(), e))?;
    let ca_file = dir.join("skuswap-serve-ca.pem");
    // A fresh file, never through a link or a file someone else left there.
    match std::fs::remove_file(&ca_file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(TlsError::Write(ca_file, e)),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&ca_file)
        .map_err(|e| TlsError::Write(ca_file.clone(), e))?;
    std::io::Write::write_all(&mut file, ca_cert.pem().as_bytes()).map_err(|e| TlsError::Write(ca_file.clone(), e))?;
    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let key =
        PrivateKeyDer::try_from(leaf_key.serialize_der()).map_err(|e| TlsError::Read(ca_file.clone(), e.into()))?;
    Ok(Tls { config: server_config(chain, key)?, ca_file: Some(ca_file) })
}

/// The user's own certificate chain and key (PEM files).
pub fn from_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Read(cert.to_path_buf(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Read(cert.to_path_buf(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_path_buf()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Read(key.to_path_buf(), e.to_string()))?;
    Ok(Tls { config: server_config(chain, key)?, ca_file: None })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// How long a client may take over its TLS handshake before it is dropped.
const HANDSHAKE_SECONDS: u64 = 10;

/// Serve `app` over TLS on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    // Handlers that build links back to this server (the device-code page) need the scheme.
    let app = app.layer(axum::Extension(mock_server::http::signin::Https));
    super::connection::accept_each(listener, shutdown, move |tcp| {
        let (acceptor, app) = (acceptor.clone(), app.clone());
        async move {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(HANDSHAKE_SECONDS), acceptor.accept(tcp));
            let Ok(Ok(stream)) = handshake.await else { return };
            super::connection::serve_connection(stream, app).await;
        }
    })
    .await
}
