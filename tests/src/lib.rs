//! Test support shared by the workspace's one integration-test binary: a harness that drives
//! the mock's router in-process (tower `oneshot`, no sockets) and knows the article scenario.
//!
//! # Layout
//! - [`Harness`]: build the app from a scenario, mint tokens, send requests, read the judge.
//! - [`article`]: the article scenario's fixed ids.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use mock_server::Mock;
use mock_server::model::World;
use serde_json::Value;
use tower::ServiceExt;

/// Fixed ids of the built-in `article` scenario (see `scenarios/named/article.json`).
pub mod article {
    pub const PARTNER: &str = "7c1a5c2e-0f3b-4a57-9d5e-2b8f0c6d1a01";
    pub const OTHER_PARTNER: &str = "8d2b6d3f-1a4c-4b68-8e6f-3c9a1d7e2b02";
    pub const WINGTIP: &str = "3f2b9c61-8a4e-4d0b-b7c5-1e6a9d2f4c10";
    pub const WINGTIP_AX: &str = "a1e7c3d5-2b4f-4e6a-8c9d-0f1e2a3b4c51";
    pub const WINGTIP_AX_TASK: &str = "a1e7c3d5-2b4f-4e6a-8c9d-0f1e2a3b4c52";
    pub const TAILSPIN: &str = "5b8e1f24-6c3d-4a9e-8d72-4f0b3c6a9e20";
    pub const TAILSPIN_CRM: &str = "b2f8d4e6-3c5a-4f7b-9dae-1a2b3c4d5e61";
    pub const TAILSPIN_FIELD_SERVICE: &str = "b2f8d4e6-3c5a-4f7b-9dae-1a2b3c4d5e62";
    pub const NORTHWIND: &str = "7d4a2c89-1e5f-4b3a-9c68-2a7e5d1b8f30";
    pub const NORTHWIND_OPEN_CRM: &str = "c3a9e5f7-4d6b-4a8c-8ebf-2b3c4d5e6f71";
    pub const ADVENTURE_WORKS: &str = "9e6c4b1d-3f7a-4c5e-8b94-3c8f6e2d0a40";
    pub const ADVENTURE_WORKS_AX: &str = "d4b0f6a8-5e7c-4b9d-9fc0-3c4d5e6f7a81";
}

/// The answer to one request.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The Partner Center error code, if this is an error body.
    pub fn code(&self) -> Option<u64> {
        self.body.get("code").and_then(Value::as_u64)
    }
}

pub struct Harness {
    pub mock: Mock,
    pub app: Router,
    pub token: String,
}

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

impl Harness {
    /// The built-in article scenario with its own seed, and an app+user token.
    pub fn article() -> Result<Self, Box<dyn std::error::Error>> {
        Self::builtin("article", None)
    }

    pub fn builtin(name: &str, seed: Option<u64>) -> Result<Self, Box<dyn std::error::Error>> {
        let scenario = skuswap_scenarios::named::resolve(name, None, None)?;
        Self::from_world(World::from_scenario(&scenario, seed)?)
    }

    pub fn from_world(mut world: World) -> Result<Self, Box<dyn std::error::Error>> {
        let token = mock_server::mint_token(&mut world, None, mock_server::model::TokenMode::AppUser, None)?;
        let mock = skuswap_scenarios::named::mock(world);
        let app = mock_server::app(mock.clone());
        Ok(Harness { mock, app, token })
    }

    /// Send a request; `body` of `None` sends none. Adds the harness token unless the path
    /// starts with `/admin` or `headers` already has `authorization`.
    pub async fn send(&self, method: Method, path: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        let has_auth = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("authorization"));
        if !has_auth && !path.starts_with("/admin") {
            req = req.header("authorization", format!("Bearer {}", self.token));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let typed = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if body.is_some() && !typed {
            req = req.header("content-type", "application/json");
        }
        let req = match req.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))) {
            Ok(r) => r,
            Err(e) => panic!("test built a bad request: {e}"),
        };
        let resp = match self.app.clone().oneshot(req).await {
            Ok(r) => r,
            Err(e) => match e {},
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => panic!("body could not be read: {e}"),
        };
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Reply {
        self.send(Method::PATCH, path, Some(body), headers).await
    }

    /// A token for another partner or mode.
    pub async fn token_for(&self, partner: Option<&str>, mode: &str) -> String {
        let body = match partner {
            Some(p) => format!(r#"{{"partnerId":"{p}","mode":"{mode}"}}"#),
            None => format!(r#"{{"mode":"{mode}"}}"#),
        };
        let r = self.post("/admin/tokens", &body).await;
        r.body["accessToken"].as_str().unwrap_or_default().to_string()
    }

    pub async fn advance_days(&self, days: i64) -> Reply {
        self.post("/admin/clock/advance", &format!(r#"{{"days":{days}}}"#)).await
    }

    pub async fn invariants(&self) -> Value {
        self.get("/admin/invariants").await.body
    }

    /// Offer id of a catalog key (`ax-enterprise`).
    pub fn offer_id(&self, key: &str) -> String {
        self.mock.read(|w| w.catalog.resolve(key).map(|o| o.id.clone()).unwrap_or_default())
    }

    /// SKU id of a catalog key.
    pub fn sku_id(&self, key: &str) -> String {
        self.mock.read(|w| w.catalog.resolve(key).map(|o| o.sku_id.to_string()).unwrap_or_default())
    }

    /// Ids of the customer's users holding the SKU of `key`.
    pub fn holders(&self, customer: &str, key: &str) -> Vec<String> {
        self.mock.read(|w| {
            let sku = w.catalog.resolve(key).map(|o| o.sku_id);
            let c = customer.parse().ok().and_then(|id| w.customer_any(id));
            match (sku, c) {
                (Some(sku), Some(c)) => c.users_in_order().filter(|u| u.holds(sku)).map(|u| u.id.to_string()).collect(),
                _ => Vec::new(),
            }
        })
    }

    pub async fn buy(&self, customer: &str, key: &str, quantity: u32) -> Reply {
        let body = format!(
            r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{}","quantity":{quantity}}}]}}"#,
            self.offer_id(key)
        );
        self.post(&format!("/v1/customers/{customer}/orders"), &body).await
    }

    /// One atomic swap of `from` for `to` for one user.
    pub async fn swap(&self, customer: &str, user: &str, from: &str, to: &str) -> Reply {
        let body = format!(
            r#"{{"licensesToAssign":[{{"skuId":"{}","excludedPlans":null}}],"licensesToRemove":["{}"]}}"#,
            self.sku_id(to),
            self.sku_id(from)
        );
        self.post(&format!("/v1/customers/{customer}/users/{user}/licenseupdates"), &body).await
    }

    pub async fn set_status(&self, customer: &str, subscription: &str, status: &str) -> Reply {
        let path = format!("/v1/customers/{customer}/subscriptions/{subscription}");
        let mut sub = self.get(&path).await.body;
        sub["status"] = Value::String(status.to_string());
        self.patch(&path, &sub.to_string(), &[]).await
    }
}

/// Rehearsal options as the tests start from: the built-in mapping at 500 requests a minute,
/// no faults, nothing meanwhile.
pub fn rehearsal_options() -> skuswap_scenarios::rehearsal::Options {
    skuswap_scenarios::rehearsal::Options {
        rate: 500,
        mapping: skuswap_migrator::mapping::Mapping::builtin(),
        seed: None,
        faults: None,
        meanwhile: None,
        reapply: false,
        token_lifetime: None,
        shards: 1,
    }
}

/// Engine clients against a harness's mock, over either transport.
pub mod engine {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};

    use skuswap_migrator::client::{Http, InProcess, RestClient, RetryPolicy};

    use super::Harness;

    pub type InProcessClient = RestClient<InProcess<axum::Router>>;

    /// A retry policy for tests: quick, and seeded.
    pub fn quick_policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(20),
            call_timeout: std::time::Duration::from_secs(10),
            seed: 7,
        }
    }

    pub fn in_process(h: &Harness) -> InProcessClient {
        RestClient::new(InProcess::new(h.app.clone()), h.token.clone(), quick_policy())
    }

    /// The harness's app on a loopback socket; dropped, the server stops.
    pub struct Served {
        pub base_url: String,
        /// The CA to trust, when served over HTTPS.
        pub ca: Option<Vec<u8>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    pub async fn serve(h: &Harness) -> Result<Served, Box<dyn std::error::Error>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = h.app.clone();
        let task = tokio::spawn(async move {
            let _ = skuswap_scenarios::cli::connection::serve_plain(listener, app, std::future::pending()).await;
        });
        Ok(Served { base_url: format!("http://{addr}"), ca: None, task })
    }

    /// The harness's app over HTTPS, as `skuswap serve --tls` serves it (a CA and certificate
    /// made now; the client trusts the CA file it wrote).
    pub async fn serve_tls(h: &Harness) -> Result<Served, Box<dyn std::error::Error>> {
        use skuswap_scenarios::cli::tls;
        let dir = std::env::temp_dir().join(format!("skuswap-tls-{}-{}", std::process::id(), next()));
        let made = tls::made_at_start(&dir, &["localhost".to_string(), "127.0.0.1".to_string()])?;
        let ca = std::fs::read(made.ca_file.as_ref().ok_or("no CA file")?)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app = h.app.clone();
        let task = tokio::spawn(async move {
            let _ = tls::serve(listener, made.config, app, std::future::pending()).await;
        });
        Ok(Served { base_url: format!("https://{addr}"), ca: Some(ca), task })
    }

    pub fn http(h: &Harness, served: &Served) -> Result<RestClient<Http>, Box<dyn std::error::Error>> {
        let transport = Http::trusting(&served.base_url, served.ca.as_deref())?;
        Ok(RestClient::new(transport, h.token.clone(), quick_policy()))
    }

    fn next() -> u64 {
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh journal path in the temp directory (removed if it exists).
    pub fn journal_path(name: &str) -> PathBuf {
        let n = next();
        let p = std::env::temp_dir().join(format!("skuswap-test-{}-{n}-{name}.db", std::process::id()));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
        }
        p
    }
}
