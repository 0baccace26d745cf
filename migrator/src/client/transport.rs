//! How bytes reach Partner Center: over real HTTP (reqwest), or in-process by calling a tower
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
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Incoming {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// The request could not be completed: the answer is unknown (it may have been applied).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

pub trait Transport: Send + Sync {
    fn send(&self, req: Outgoing) -> impl Future<Output = Result<Incoming, TransportError>> + Send;
}

/// Real HTTP with reqwest, against `skuswap serve` or Partner Center itself.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base_url: String,
}

impl Http {
    pub fn new(base_url: &str) -> Result<Self, TransportError> {
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| TransportError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Http { client, base_url: base_url.trim_end_matches('/').to_string() })
    }
}

impl Transport for Http {
    async fn send(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        let url = format!("{}{}", self.base_url, req.path);
        let mut builder = self.client.request(req.method, &url);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let resp = builder.send().await.map_err(|e| TransportError(format!("{url}: {e}")))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| TransportError(format!("{url}: reading the answer: {e}")))?;
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
        let mut builder = http::Request::builder().method(req.method).uri(&req.path);
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let request = builder
            .body(Full::new(Bytes::from(req.body.unwrap_or_default())))
            .map_err(|e| TransportError(format!("bad request {}: {e}", req.path)))?;
        let resp =
            self.service.clone().oneshot(request).await.map_err(|e| TransportError(format!("{}: {e}", req.path)))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| TransportError(format!("{}: reading the answer: {e}", req.path)))?
            .to_bytes();
        Ok(Incoming { status, headers, body })
    }
}
