//! How bytes reach Partner Center: over real HTTP or HTTPS (reqwest, rustls), or in-process by calling a tower
//! service (such as the mock's axum router) directly, so simulations run every line of
//! serialisation code at in-memory speed. The engine never knows which.

use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tower::{Service, ServiceExt};

/// One HTTP request, transport-neutral.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: http::Method,
    /// Path and query under the base URL, e.g. `/v1/customers?size=500`.
    pub path: String,
    /// Built once by the client, with the bearer token marked sensitive (a `Debug` print of
    /// the headers shows no token; a sign-in body still holds its secret), and moved into the request as it is.
    pub headers: http::HeaderMap,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Incoming {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// The request could not be completed. Which way matters: a request that never left this
/// machine cannot have been applied, one cut off on the way may have been.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// Nothing reached the server, and trying again will not help (bad URL or scheme, DNS,
    /// a certificate the client does not trust).
    #[error("{0}")]
    Rejected(String),
    /// Nothing reached the server this time (a refused or timed-out connection).
    #[error("{0}")]
    NotSent(String),
    /// The request may have reached the server, but no whole answer came back.
    #[error("{0}")]
    Interrupted(String),
}

pub trait Transport: Send + Sync {
    fn send(&self, req: Outgoing) -> impl Future<Output = Result<Incoming, TransportError>> + Send;
}

/// Real HTTP(S) with reqwest and rustls, against `skuswap serve` or Partner Center itself.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base_url: String,
}

impl Http {
    /// HTTP or HTTPS to `base_url`, trusting the platform's certificate authorities.
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        Self::trusting(base_url, None)
    }

    /// As [`Http::new`], also trusting the PEM certificates in `ca_pem` (a private CA, or the
    /// one `skuswap serve --tls` writes).
    pub fn trusting(base_url: &str, ca_pem: Option<&[u8]>) -> Result<Self, TransportError> {
        let url = reqwest::Url::parse(base_url)
            .map_err(|e| TransportError::Rejected(format!("{base_url} is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportError::Rejected(format!(
                "{base_url}: unsupported scheme \"{}\" (use https:// for Partner Center, http:// or https:// for skuswap serve)",
                url.scheme()
            )));
        }
        install_crypto();
        let mut builder = reqwest::Client::builder();
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| TransportError::Rejected(format!("the CA certificate file is not PEM: {e}")))?;
            if certs.is_empty() {
                return Err(TransportError::Rejected("the CA certificate file holds no certificate".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| TransportError::Rejected(format!("cannot build the HTTP client: {}", chain(&e))))?;
        Ok(Http { client, base_url: base_url.trim_end_matches('/').to_string() })
    }
}

/// Make ring the process's TLS crypto provider. reqwest is built without a default one (see
/// Cargo.toml), so anything that builds a reqwest client calls this first; a second install
/// is refused harmlessly.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error and every cause under it, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text = format!("{text}: {next}");
        }
        source = s.source();
    }
    text
}

/// What a failed connection's causes say, by their types (their text is only read for DNS,
/// whose error type is not public; no cause's text holds the URL).
fn connect_failure(e: &reqwest::Error) -> Option<(bool, &'static str)> {
    const UNTRUSTED: (bool, &str) = (true, "TLS handshake failed (to trust a private CA pass --ca-cert FILE)");
    let tls = |t: &rustls::Error| match t {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType => UNTRUSTED,
        _ => (false, "TLS handshake failed"),
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(t) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls(t));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            // rustls's error arrives wrapped in io::Errors (one per layer), whose `source`
            // skips what they wrap: step inside instead.
            if let Some(inner) = io.get_ref() {
                source = Some(inner);
                continue;
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some((false, "connection refused (is the server running on that port?)"));
                }
                std::io::ErrorKind::TimedOut => return Some((false, "connecting timed out")),
                _ => {}
            }
        }
        let text = cause.to_string().to_ascii_lowercase();
        if text.starts_with("dns error") {
            // EAI_AGAIN is worth another try; "no such host" is not.
            let transient = text.contains("temporary failure") || text.contains("try again");
            return Some((!transient, "DNS lookup failed"));
        }
        source = cause.source();
    }
    None
}

/// Name the cause of a failed request in words a user can act on, and say whether the request
/// can have reached the server.
fn classify(url: &str, e: &reqwest::Error) -> TransportError {
    let detail = chain(e);
    if e.is_builder() {
        return TransportError::Rejected(format!("{url}: cannot send: {detail}"));
    }
    if e.is_connect() {
        return match connect_failure(e) {
            Some((true, cause)) => TransportError::Rejected(format!("{url}: {cause}: {detail}")),
            Some((false, cause)) => TransportError::NotSent(format!("{url}: {cause}: {detail}")),
            None => TransportError::NotSent(format!("{url}: cannot connect: {detail}")),
        };
    }
    TransportError::Interrupted(format!("{url}: {detail}"))
}

impl Transport for Http {
    async fn send(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        let url = format!("{}{}", self.base_url, req.path);
        let mut builder = self.client.request(req.method, &url).headers(req.headers);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let mut resp = builder.send().await.map_err(|e| classify(&url, &e))?;
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        let body = resp
            .bytes()
            .await
            .map_err(|e| TransportError::Interrupted(format!("{url}: reading the answer: {}", chain(&e))))?;
        Ok(Incoming { status, headers, body })
    }
}

/// In-process: hand the request to a tower service without a socket.
#[derive(Clone)]
pub struct InProcess<S> {
    service: S,
}

impl<S> InProcess<S> {
    pub fn new(service: S) -> Self {
        InProcess { service }
    }
}

impl<S, B> Transport for InProcess<S>
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: std::fmt::Display,
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: std::fmt::Display,
{
    async fn send(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        let uri = http::Uri::try_from(req.path.as_str())
            .map_err(|e| TransportError::Rejected(format!("bad request {}: {e}", req.path)))?;
        let mut request = http::Request::new(Full::new(Bytes::from(req.body.unwrap_or_default())));
        *request.method_mut() = req.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = req.headers;
        let resp = self
            .service
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| TransportError::Interrupted(format!("{}: {e}", req.path)))?;
        let (head, body) = resp.into_parts();
        let (status, headers) = (head.status.as_u16(), head.headers);
        let body = body
            .collect()
            .await
            .map_err(|e| TransportError::Interrupted(format!("{}: reading the answer: {e}", req.path)))?
            .to_bytes();
        Ok(Incoming { status, headers, body })
    }
}
