//! The one REST client: Partner Center's paths, headers and paging over any [`Transport`],
//! with retries that honour `Retry-After` on 429, capped exponential backoff with seeded
//! jitter on 5xx and timeouts, and a per-call timeout. A mutating call that never got a clear
//! answer is [`ClientError::OutcomeUnknown`], never "failed": it may have been applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use http::header::{HeaderName, IF_MATCH};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::auth::{Credentials, Fixed, Secret};
use super::headers::{Head, MS_CONTINUATION_TOKEN};
use super::transport::{Incoming, Outgoing, Transport, TransportError};
use super::wire::*;
use super::{PartnerCenter, Result};

pub use super::error::{ClientError, ErrorCode};

pub use super::retry::{Pause, RealTime, RetryPolicy};

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A GUID-shaped id derived from two numbers (deterministic request/correlation ids).
pub fn derived_guid(a: u64, b: u64) -> String {
    let hi = splitmix64(a ^ splitmix64(b));
    let lo = splitmix64(hi ^ b.rotate_left(17));
    let bytes = (u128::from(hi) << 64 | u128::from(lo)).to_be_bytes();
    uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
}

pub struct RestClient<T> {
    transport: T,
    pause: Arc<dyn Pause>,
    credentials: Arc<dyn Credentials>,
    policy: RetryPolicy,
    jitter: Mutex<u64>,
    /// Logical operations started (numbers the generated request ids).
    operations: AtomicU64,
    /// HTTP requests sent, retries included.
    sent: AtomicU64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Collection<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    continuation_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    code: Value,
    description: String,
    message: String,
}

/// Why the last attempt of a call did not succeed.
enum Failure {
    /// Throttled (429): refused, nothing applied.
    Throttled,
    /// Never left this machine: nothing applied.
    NotSent(String),
    /// Cut off, timed out or a 5xx: a write may have been applied.
    Unclear(String),
}

const VALIDATE_MIGRATION: &str = "validate migration";

/// The SDK's answer to a migration query.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MigrationPage {
    #[serde(default = "Vec::new")]
    new_commerce_migrations: Vec<Migration>,
    #[serde(default)]
    continuation_token: Option<String>,
}

/// What one call asks for.
struct Call<'a> {
    operation: &'a str,
    method: Method,
    path: String,
    /// The JSON body, written once for every attempt.
    body: Option<Vec<u8>>,
    request_id: Option<&'a str>,
    extra: Vec<(HeaderName, String)>,
}

impl<'a> Call<'a> {
    fn get(operation: &'a str, path: String) -> Self {
        Call { operation, method: Method::GET, path, body: None, request_id: None, extra: Vec::new() }
    }
}

impl<T: Transport> RestClient<T> {
    /// A client sending one fixed bearer token.
    pub fn new(transport: T, token: impl Into<String>, policy: RetryPolicy) -> Self {
        Self::with_credentials(transport, Arc::new(Fixed(Secret::new(token))), policy)
    }

    /// A client whose tokens come from `credentials` (renewed as they expire).
    pub fn with_credentials(transport: T, credentials: Arc<dyn Credentials>, policy: RetryPolicy) -> Self {
        let seed = policy.seed;
        RestClient {
            transport,
            pause: Arc::new(RealTime),
            credentials,
            policy,
            jitter: Mutex::new(seed),
            operations: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        }
    }

    /// Wait with `pause` instead of the real clock (a rehearsal's virtual time).
    pub fn with_pause(mut self, pause: Arc<dyn Pause>) -> Self {
        self.pause = pause;
        self
    }

    fn next_jitter(&self) -> f64 {
        let mut state = self.jitter.lock().unwrap_or_else(|p| p.into_inner());
        *state = splitmix64(*state);
        (*state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.policy.base_delay.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.policy.max_delay);
        capped.mul_f64(0.5 + 0.5 * self.next_jitter())
    }

    async fn call(&self, call: Call<'_>) -> Result<Incoming> {
        let n = self.operations.fetch_add(1, Ordering::Relaxed);
        let request_id =
            call.request_id.map(str::to_string).unwrap_or_else(|| derived_guid(self.policy.seed, n.wrapping_mul(2)));
        let sign_in = |error| ClientError::SignIn { operation: call.operation.to_string(), error };
        let mut token = self.credentials.token().await.map_err(sign_in)?;
        let mut renewed = false;
        // Only reads are retried blindly. A write that got no clear answer may have been
        // applied: it comes back as OutcomeUnknown at once and the engine reconciles (reads,
        // then repeats with the same MS-RequestId). A 429, or a request that never left this
        // machine, is safe to retry: nothing was applied.
        // A validation changes nothing: it may be retried like a read.
        let idempotent = call.method == Method::GET || call.operation == VALIDATE_MIGRATION;
        let mut last = Failure::Unclear(String::new());
        let mut attempts = 0;
        let mut attempt = 0;
        while attempt < self.policy.max_attempts {
            attempts = attempt + 1;
            // Asked again before every attempt: waits between attempts (a long Retry-After)
            // may outlast the token, and it is renewed ahead of expiry, not after a 401.
            if attempt > 0 && !renewed {
                token = self.credentials.token().await.map_err(sign_in)?;
            }
            let req = self.outgoing(&call, &request_id, &token).map_err(|detail| ClientError::Unreachable {
                operation: call.operation.to_string(),
                attempts,
                detail,
            })?;
            let wait = match tokio::time::timeout(self.policy.call_timeout, self.transport.send(req)).await {
                Err(_) => {
                    last = Failure::Unclear(format!("no answer within {:?}", self.policy.call_timeout));
                    self.backoff(attempt)
                }
                // Nothing left this machine and trying again will not change that.
                Ok(Err(TransportError::Rejected(detail))) => {
                    return Err(ClientError::Unreachable { operation: call.operation.to_string(), attempts, detail });
                }
                Ok(Err(TransportError::NotSent(e))) => {
                    last = Failure::NotSent(e);
                    self.backoff(attempt)
                }
                Ok(Err(TransportError::Interrupted(e))) => {
                    last = Failure::Unclear(e);
                    self.backoff(attempt)
                }
                Ok(Ok(resp)) if (200..300).contains(&resp.status) => return Ok(resp),
                Ok(Ok(resp)) if resp.status == 429 => {
                    last = Failure::Throttled;
                    retry_after(&resp).unwrap_or_else(|| self.backoff(attempt))
                }
                Ok(Ok(resp)) if resp.status >= 500 => {
                    last = Failure::Unclear(format!("HTTP {}", resp.status));
                    self.backoff(attempt)
                }
                // An expired token: renew once and send again at once (a 401 changed nothing).
                Ok(Ok(resp)) if resp.status == 401 && !renewed => match self.credentials.renew(&token).await {
                    // The resend is not a new attempt: the 401 was an answer, not a failure.
                    Ok(Some(fresh)) => {
                        token = fresh;
                        renewed = true;
                        continue;
                    }
                    Ok(None) => return Err(api_error(call.operation, &resp, &request_id)),
                    Err(e) => return Err(sign_in(e)),
                },
                Ok(Ok(resp)) => return Err(api_error(call.operation, &resp, &request_id)),
            };
            if matches!(last, Failure::Unclear(_)) && !idempotent {
                break;
            }
            if attempt + 1 < self.policy.max_attempts {
                self.pause.pause(wait).await;
            }
            attempt += 1;
        }
        let operation = call.operation.to_string();
        Err(match last {
            Failure::Throttled => ClientError::Throttled { operation, attempts },
            Failure::NotSent(detail) => ClientError::Unreachable { operation, attempts, detail },
            Failure::Unclear(detail) if idempotent => ClientError::NoAnswer { operation, attempts, detail },
            Failure::Unclear(detail) => ClientError::OutcomeUnknown { operation, attempts, detail, request_id },
        })
    }

    fn outgoing(&self, call: &Call<'_>, request_id: &str, token: &Secret) -> std::result::Result<Outgoing, String> {
        let k = self.sent.fetch_add(1, Ordering::Relaxed);
        let body = call.body.clone();
        let headers = Head {
            token,
            request_id,
            correlation_id: derived_guid(self.policy.seed ^ 0xC0, k),
            extra: &call.extra,
            has_body: body.is_some(),
        }
        .headers()?;
        Ok(Outgoing { method: call.method.clone(), path: call.path.clone(), headers, body })
    }

    /// Tokens obtained after the first (0 for a fixed token).
    pub fn token_renewals(&self) -> u64 {
        self.credentials.renewals()
    }

    async fn json<R: DeserializeOwned>(&self, call: Call<'_>) -> Result<R> {
        let operation = call.operation.to_string();
        let resp = self.call(call).await?;
        decode(&operation, &resp.body)
    }

    /// PATCH the full resource with one field changed, honouring its ETag.
    async fn patch_subscription(
        &self,
        customer: &str,
        current: &FetchedSubscription,
        field: &str,
        value: Value,
        request_id: &str,
    ) -> Result<Subscription> {
        let mut body = current.raw.clone();
        body[field] = value;
        let mut extra = Vec::new();
        if let Some(etag) = &current.subscription.attributes.etag {
            extra.push((IF_MATCH, etag.clone()));
        }
        self.json(Call {
            operation: "update subscription",
            method: Method::PATCH,
            path: format!("/v1/customers/{customer}/subscriptions/{}", current.subscription.id),
            body: Some(body.to_string().into_bytes()),
            request_id: Some(request_id),
            extra,
        })
        .await
    }

    /// One GET, its answer as JSON (for readers that keep more than the engine's wire types,
    /// such as `skuswap capture`).
    pub async fn get_json(&self, operation: &str, path: &str) -> Result<Value> {
        self.json(Call::get(operation, path.to_string())).await
    }

    /// Every page of a seek-paged collection.
    pub async fn all_pages<R: DeserializeOwned>(&self, operation: &str, path: &str) -> Result<Vec<R>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut call = Call::get(operation, format!("{path}?size=500"));
            if let Some(t) = &token {
                call.path = format!("{path}?size=500&seekOperation=Next");
                call.extra.push((MS_CONTINUATION_TOKEN, t.clone()));
            }
            let page: Collection<R> = match self.json(call).await {
                Ok(p) => p,
                // Past the last page Partner Center may answer 400 / 2000: the end.
                Err(e) if token.is_some() && e.code() == Some("2000") => break,
                Err(e) => return Err(e),
            };
            out.extend(page.items);
            match page.continuation_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }
}

fn retry_after(resp: &Incoming) -> Option<Duration> {
    let v = resp.headers.get("retry-after")?.to_str().ok()?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // An HTTP date: how long from the answer's own Date header (never the local clock).
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = resp
        .headers
        .get("date")
        .and_then(|d| d.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())?;
    (at - now).to_std().ok()
}

fn decode<R: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<R> {
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Decode { operation: operation.to_string(), detail: e.to_string() })
}

fn api_error(operation: &str, resp: &Incoming, request_id: &str) -> ClientError {
    let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    let code = match &body.code {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    let description = if body.description.is_empty() { body.message } else { body.description };
    if resp.status == 401 {
        return ClientError::Unauthorized { operation: operation.to_string(), code };
    }
    ClientError::Api {
        operation: operation.to_string(),
        status: resp.status,
        code,
        description,
        request_id: request_id.to_string(),
    }
}

impl<T: Transport> PartnerCenter for RestClient<T> {
    async fn customers(&self) -> Result<Vec<Customer>> {
        self.all_pages("list customers", "/v1/customers").await
    }

    async fn customer(&self, customer: &str) -> Result<Option<Customer>> {
        match self.json(Call::get("get customer", format!("/v1/customers/{customer}"))).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn subscriptions(&self, customer: &str) -> Result<Vec<Subscription>> {
        let c: Collection<Subscription> =
            self.json(Call::get("list subscriptions", format!("/v1/customers/{customer}/subscriptions"))).await?;
        Ok(c.items)
    }

    async fn subscription(&self, customer: &str, id: &str) -> Result<FetchedSubscription> {
        let raw: Value =
            self.json(Call::get("get subscription", format!("/v1/customers/{customer}/subscriptions/{id}"))).await?;
        let subscription = serde_json::from_value(raw.clone())
            .map_err(|e| ClientError::Decode { operation: "get subscription".into(), detail: e.to_string() })?;
        Ok(FetchedSubscription { subscription, raw })
    }

    async fn set_subscription_status(
        &self,
        customer: &str,
        current: &FetchedSubscription,
        status: &SubscriptionStatus,
        request_id: &str,
    ) -> Result<Subscription> {
        self.patch_subscription(customer, current, "status", Value::String(status.to_string()), request_id).await
    }

    async fn set_subscription_quantity(
        &self,
        customer: &str,
        current: &FetchedSubscription,
        quantity: u32,
        request_id: &str,
    ) -> Result<Subscription> {
        self.patch_subscription(customer, current, "quantity", Value::from(quantity), request_id).await
    }

    async fn create_order(&self, customer: &str, lines: &[NewLine], request_id: &str) -> Result<Order> {
        self.json(Call {
            operation: "create order",
            method: Method::POST,
            path: format!("/v1/customers/{customer}/orders"),
            body: Some(json!({ "lineItems": lines }).to_string().into_bytes()),
            request_id: Some(request_id),
            extra: Vec::new(),
        })
        .await
    }

    async fn subscribed_skus(&self, customer: &str) -> Result<Vec<SubscribedSku>> {
        let c: Collection<SubscribedSku> =
            self.json(Call::get("list subscribed SKUs", format!("/v1/customers/{customer}/subscribedskus"))).await?;
        Ok(c.items)
    }

    async fn users(&self, customer: &str) -> Result<Vec<User>> {
        self.all_pages("list users", &format!("/v1/customers/{customer}/users")).await
    }

    async fn user_licenses(&self, customer: &str, user: &str) -> Result<Vec<License>> {
        let c: Collection<License> = self
            .json(Call::get("get user licenses", format!("/v1/customers/{customer}/users/{user}/licenses")))
            .await?;
        Ok(c.items)
    }

    async fn update_licenses(
        &self,
        customer: &str,
        user: &str,
        assign: &[String],
        remove: &[String],
        request_id: &str,
    ) -> Result<()> {
        let operation = "update licenses";
        let body = serde_json::to_vec(&LicenseUpdate::new(assign, remove)).map_err(|e| ClientError::Unreachable {
            operation: operation.to_string(),
            attempts: 0,
            detail: format!("cannot write the request body: {e}"),
        })?;
        self.call(Call {
            operation,
            method: Method::POST,
            path: format!("/v1/customers/{customer}/users/{user}/licenseupdates"),
            body: Some(body),
            request_id: Some(request_id),
            extra: Vec::new(),
        })
        .await
        .map(|_| ())
    }

    async fn offers(&self, country: &str) -> Result<Vec<Offer>> {
        let c: Collection<Offer> = self.json(Call::get("list offers", format!("/v1/offers?country={country}"))).await?;
        Ok(c.items)
    }

    async fn relationship_request_url(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Url {
            url: String,
        }
        let u: Url =
            self.json(Call::get("relationship request", "/v1/customers/relationshiprequests".to_string())).await?;
        Ok(u.url)
    }

    async fn validate_migration(&self, customer: &str, request: &NewMigration) -> Result<Eligibility> {
        self.json(Call {
            operation: VALIDATE_MIGRATION,
            method: Method::POST,
            path: format!("/v1/customers/{customer}/migrations/newcommerce/validate"),
            body: Some(json!(request).to_string().into_bytes()),
            request_id: None,
            extra: Vec::new(),
        })
        .await
    }

    async fn create_migration(&self, customer: &str, request: &NewMigration, request_id: &str) -> Result<Migration> {
        self.json(Call {
            operation: "create migration",
            method: Method::POST,
            path: format!("/v1/customers/{customer}/migrations/newcommerce"),
            body: Some(json!(request).to_string().into_bytes()),
            request_id: Some(request_id),
            extra: Vec::new(),
        })
        .await
    }

    async fn migration(&self, customer: &str, id: &str) -> Result<Migration> {
        self.json(Call::get("get migration", format!("/v1/customers/{customer}/migrations/newcommerce/{id}"))).await
    }

    async fn migrations_of(&self, subscription: &str) -> Result<Vec<Migration>> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        // Bounded: a server that never stops paging cannot hold the engine.
        for _ in 0..1000 {
            let mut call = Call::get(
                "query migrations",
                format!("/v1/migrations/newcommerce?CurrentSubscriptionId={subscription}"),
            );
            if let Some(t) = &token {
                call.extra.push((MS_CONTINUATION_TOKEN, t.clone()));
            }
            let page: MigrationPage = self.json(call).await?;
            all.extend(page.new_commerce_migrations);
            match page.continuation_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(all),
            }
        }
        Ok(all)
    }

    async fn upgrades(&self, customer: &str, subscription: &str) -> Result<Vec<Upgrade>> {
        let path = format!("/v1/customers/{customer}/subscriptions/{subscription}/upgrades");
        let c: Collection<Upgrade> = self.json(Call::get("list upgrades", path)).await?;
        Ok(c.items)
    }

    async fn upgrade(
        &self,
        customer: &str,
        subscription: &str,
        target: &OfferRef,
        quantity: u32,
        request_id: &str,
    ) -> Result<UpgradeResult> {
        let body =
            json!({ "targetOffer": { "id": target.id }, "upgradeType": UPGRADE_WITH_LICENSES, "quantity": quantity });
        self.json(Call {
            operation: "upgrade subscription",
            method: Method::POST,
            path: format!("/v1/customers/{customer}/subscriptions/{subscription}/upgrades"),
            body: Some(body.to_string().into_bytes()),
            request_id: Some(request_id),
            extra: Vec::new(),
        })
        .await
    }

    async fn transition_options(&self, customer: &str, subscription: &str) -> Result<Vec<TransitionOption>> {
        let path = format!(
            "/v1/customers/{customer}/subscriptions/{subscription}/transitionEligibilities?eligibilityType=immediate"
        );
        let c: Collection<TransitionOption> = self.json(Call::get("list transition eligibilities", path)).await?;
        Ok(c.items)
    }

    async fn transition(
        &self,
        customer: &str,
        subscription: &str,
        request: &NewTransition,
        request_id: &str,
    ) -> Result<Transition> {
        self.json(Call {
            operation: "transition subscription",
            method: Method::POST,
            path: format!("/v1/customers/{customer}/subscriptions/{subscription}/transitions"),
            body: Some(json!(request).to_string().into_bytes()),
            request_id: Some(request_id),
            extra: Vec::new(),
        })
        .await
    }

    async fn wait(&self, duration: Duration) {
        self.pause.pause(duration).await;
    }

    fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    async fn back_off(&self, attempt: u32) {
        let wait = self.backoff(attempt);
        self.pause.pause(wait).await;
    }
}
