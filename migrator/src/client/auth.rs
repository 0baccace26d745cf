//! Where the bearer token comes from: a fixed token, or OAuth 2.0 against an authority (Azure
//! AD's v2 endpoints, or `skuswap serve`'s own), renewed before it expires and once after a
//! 401, so a migration of many hours never stops for a token.
//!
//! Flows: app + user from a refresh token (Partner Center's secure application model), app-only
//! client credentials, and the device code for a person at a terminal (after which its refresh
//! token renews silently). Secrets are [`Secret`]s: never printed, never logged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::rest::Pause;
use super::transport::{Outgoing, Transport, TransportError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What time it is, for token expiry: the wall clock in the binary, a virtual clock in a
/// rehearsal (the engine itself never reads a clock).
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// A secret string: its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("sign-in refused by {authority}: {error}: {description}")]
    Refused { authority: String, error: String, description: String },
    #[error("sign-in at {authority}: {detail}")]
    Unreachable { authority: String, detail: String },
    #[error("sign-in at {authority}: unexpected answer: {detail}")]
    Decode { authority: String, detail: String },
    #[error("device sign-in at {authority} {why}")]
    DeviceCode { authority: String, why: String },
}

/// The source of bearer tokens a [`super::RestClient`] sends.
pub trait Credentials: Send + Sync {
    /// A token to send now (renewed first when it is close to expiry).
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>>;
    /// `rejected` was answered 401: a fresh token, or `None` when this source cannot renew.
    fn renew(&self, rejected: &Secret) -> BoxFuture<'_, Result<Option<Secret>, AuthError>>;
    /// Tokens obtained after the first one.
    fn renewals(&self) -> u64 {
        0
    }
}

/// A token handed in whole (`--token-file`, `PARTNER_CENTER_TOKEN`, or a mock's own).
pub struct Fixed(pub Secret);

impl Credentials for Fixed {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        let t = self.0.clone();
        Box::pin(async move { Ok(t) })
    }

    fn renew(&self, _: &Secret) -> BoxFuture<'_, Result<Option<Secret>, AuthError>> {
        Box::pin(async { Ok(None) })
    }
}

/// How to obtain a Partner Center token.
#[derive(Debug, Clone)]
pub enum Grant {
    /// App + user: the secure application model's refresh token, exchanged with the app's
    /// client id and secret.
    RefreshToken { client_id: String, client_secret: Secret, refresh_token: Secret },
    /// App only (some routes refuse it: Partner Center wants app + user there).
    ClientCredentials { client_id: String, client_secret: Secret },
    /// A person signs in in a browser with a code shown on the terminal.
    DeviceCode { client_id: String },
}

/// What the person at the terminal is asked to do.
#[derive(Debug, Clone, Deserialize)]
pub struct DevicePrompt {
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub message: String,
}

/// Where to sign in.
#[derive(Debug, Clone)]
pub struct Authority {
    /// e.g. `https://login.microsoftonline.com`, or `skuswap serve`'s URL.
    pub url: String,
    /// The partner's Azure AD tenant (id or domain).
    pub tenant: String,
    /// The resource the token is for (`https://api.partnercenter.microsoft.com`).
    pub resource: String,
}

struct Issued {
    access: Secret,
    expires_at: DateTime<Utc>,
    lifetime: chrono::Duration,
}

/// OAuth 2.0 against `authority`, over any transport.
pub struct OAuth<A> {
    transport: A,
    authority: Authority,
    grant: Grant,
    clock: Arc<dyn Clock>,
    pause: Arc<dyn Pause>,
    prompt: Box<dyn Fn(&DevicePrompt) + Send + Sync>,
    /// The refresh token in use (rotated when the authority sends a new one; device code
    /// sign-in fills it). Held across the sign-in call so concurrent callers wait for one.
    state: tokio::sync::Mutex<(Option<Issued>, Option<Secret>)>,
    renewals: AtomicU64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorAnswer {
    error: String,
    error_description: String,
}

#[derive(Deserialize)]
struct DeviceAnswer {
    device_code: String,
    #[serde(flatten)]
    prompt: DevicePrompt,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Requests to the authority before a sign-in is given up (1 + 2 + 4 + 8 + 16 s of waiting).
const AUTHORITY_ATTEMPTS: u32 = 6;

/// The answer to a token request: a token, or the authority's error code.
enum Answer<T> {
    Ok(T),
    Refused(ErrorAnswer),
}

impl<A: Transport> OAuth<A> {
    pub fn new(transport: A, authority: Authority, grant: Grant, clock: Arc<dyn Clock>, pause: Arc<dyn Pause>) -> Self {
        let refresh = match &grant {
            Grant::RefreshToken { refresh_token, .. } => Some(refresh_token.clone()),
            _ => None,
        };
        OAuth {
            transport,
            authority,
            grant,
            clock,
            pause,
            prompt: Box::new(|p| eprintln!("{}", p.message)),
            state: tokio::sync::Mutex::new((None, refresh)),
            renewals: AtomicU64::new(0),
        }
    }

    /// Show the device-code prompt with `prompt` instead of on standard error.
    pub fn with_prompt(mut self, prompt: impl Fn(&DevicePrompt) + Send + Sync + 'static) -> Self {
        self.prompt = Box::new(prompt);
        self
    }

    fn endpoint(&self, leaf: &str) -> String {
        format!("/{}/oauth2/v2.0/{leaf}", self.authority.tenant)
    }

    fn scope(&self) -> String {
        let resource = self.authority.resource.trim_end_matches('/');
        match self.grant {
            Grant::ClientCredentials { .. } => format!("{resource}/.default"),
            Grant::RefreshToken { .. } => format!("{resource}/user_impersonation"),
            Grant::DeviceCode { .. } => format!("{resource}/user_impersonation offline_access"),
        }
    }

    /// One request to the authority, retried with back-off while the authority is out of
    /// reach, busy (429, 5xx) or says `temporarily_unavailable`: a blip at renewal time must
    /// not end a migration of many hours.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: String,
        form: &[(&str, &str)],
    ) -> Result<Answer<T>, AuthError> {
        let authority = self.authority.url.clone();
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| AuthError::Decode { authority: authority.clone(), detail: e.to_string() })?;
        let mut wait = Duration::from_secs(1);
        for attempt in 1..=AUTHORITY_ATTEMPTS {
            let req = Outgoing {
                method: http::Method::POST,
                path: path.clone(),
                headers: http::HeaderMap::from_iter([
                    (http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/x-www-form-urlencoded")),
                    (http::header::ACCEPT, http::HeaderValue::from_static("application/json")),
                ]),
                body: Some(body.clone().into_bytes()),
            };
            let detail = match self.transport.send(req).await {
                Err(TransportError::Rejected(d)) => return Err(AuthError::Unreachable { authority, detail: d }),
                Err(TransportError::NotSent(d) | TransportError::Interrupted(d)) => d,
                Ok(resp) if resp.status == 429 || resp.status >= 500 => format!("HTTP {}", resp.status),
                Ok(resp) => match self.answer(resp)? {
                    Answer::Refused(e) if e.error == "temporarily_unavailable" => e.error_description,
                    answer => return Ok(answer),
                },
            };
            if attempt == AUTHORITY_ATTEMPTS {
                return Err(AuthError::Unreachable { authority, detail: format!("{detail} ({attempt} attempts)") });
            }
            self.pause.pause(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        Err(AuthError::Unreachable { authority, detail: "no attempt made".into() })
    }

    fn answer<T: serde::de::DeserializeOwned>(&self, resp: super::transport::Incoming) -> Result<Answer<T>, AuthError> {
        let authority = self.authority.url.clone();
        if (200..300).contains(&resp.status) {
            return serde_json::from_slice(&resp.body)
                .map(Answer::Ok)
                .map_err(|e| AuthError::Decode { authority, detail: e.to_string() });
        }
        let error: ErrorAnswer = serde_json::from_slice(&resp.body).unwrap_or_default();
        if error.error.is_empty() {
            return Err(AuthError::Decode {
                authority,
                detail: format!("HTTP {} without an OAuth error", resp.status),
            });
        }
        Ok(Answer::Refused(error))
    }

    fn refused(&self, e: ErrorAnswer) -> AuthError {
        AuthError::Refused { authority: self.authority.url.clone(), error: e.error, description: e.error_description }
    }

    /// A token request the authority must answer with a token (its refusal is the error).
    async fn grant_token(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, AuthError> {
        match self.post(self.endpoint("token"), form).await? {
            Answer::Ok(t) => Ok(t),
            Answer::Refused(e) => Err(self.refused(e)),
        }
    }

    /// One token request with `refresh` (when there is one), else the grant's first sign-in.
    async fn obtain(&self, refresh: &mut Option<Secret>) -> Result<Issued, AuthError> {
        let scope = self.scope();
        let answer: TokenAnswer = match (&self.grant, refresh.as_ref()) {
            (Grant::ClientCredentials { client_id, client_secret }, _) => {
                let form = [
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                    ("scope", &scope),
                ];
                self.grant_token(&form).await?
            }
            (Grant::RefreshToken { client_id, client_secret, .. }, Some(r)) => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                    ("refresh_token", r.expose()),
                    ("scope", &scope),
                ];
                self.grant_token(&form).await?
            }
            (Grant::DeviceCode { client_id }, Some(r)) => {
                let form = [
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id),
                    ("refresh_token", r.expose()),
                    ("scope", &scope),
                ];
                match self.post(self.endpoint("token"), &form).await? {
                    Answer::Ok(t) => t,
                    // An expired or revoked refresh token: sign in again at the terminal.
                    Answer::Refused(_) => self.device_sign_in(client_id, &scope).await?,
                }
            }
            (Grant::DeviceCode { client_id }, None) => self.device_sign_in(client_id, &scope).await?,
            (Grant::RefreshToken { .. }, None) => {
                return Err(AuthError::Decode {
                    authority: self.authority.url.clone(),
                    detail: "no refresh token".into(),
                });
            }
        };
        if let Some(r) = answer.refresh_token.filter(|r| !r.is_empty()) {
            *refresh = Some(Secret::new(r));
        }
        let seconds = match &answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600)
        .clamp(1, 86_400);
        let lifetime = chrono::Duration::seconds(seconds);
        Ok(Issued { access: Secret::new(answer.access_token), expires_at: self.clock.now() + lifetime, lifetime })
    }

    async fn device_sign_in(&self, client_id: &str, scope: &str) -> Result<TokenAnswer, AuthError> {
        let authority = self.authority.url.clone();
        let device: DeviceAnswer =
            match self.post(self.endpoint("devicecode"), &[("client_id", client_id), ("scope", scope)]).await? {
                Answer::Ok(d) => d,
                Answer::Refused(e) => return Err(self.refused(e)),
            };
        (self.prompt)(&device.prompt);
        let mut interval = device.interval.unwrap_or(5).clamp(1, 60);
        let deadline = self.clock.now() + chrono::Duration::seconds(device.expires_in.unwrap_or(900).min(3600) as i64);
        loop {
            self.pause.pause(Duration::from_secs(interval)).await;
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", client_id),
                ("device_code", &device.device_code),
            ];
            match self.post::<TokenAnswer>(self.endpoint("token"), &form).await? {
                Answer::Ok(t) => return Ok(t),
                Answer::Refused(e) if e.error == "authorization_pending" => {}
                Answer::Refused(e) if e.error == "slow_down" => interval = (interval + 5).min(60),
                Answer::Refused(e) => {
                    return Err(AuthError::DeviceCode {
                        authority,
                        why: format!("failed: {}: {}", e.error, e.error_description),
                    });
                }
            }
            if self.clock.now() > deadline {
                return Err(AuthError::DeviceCode { authority, why: "expired before the code was entered".into() });
            }
        }
    }

    /// Sign in again (state held locked by the caller) and keep the new token; a renewal when
    /// there was one before.
    async fn replace(&self, state: &mut (Option<Issued>, Option<Secret>)) -> Result<Secret, AuthError> {
        let (issued, refresh) = state;
        let fresh = self.obtain(refresh).await?;
        if issued.is_some() {
            self.renewals.fetch_add(1, Ordering::Relaxed);
        }
        let access = fresh.access.clone();
        *issued = Some(fresh);
        Ok(access)
    }

    /// How long before expiry a token is renewed: five minutes, or a fifth of a short lifetime.
    fn margin(issued: &Issued) -> chrono::Duration {
        (issued.lifetime / 5).min(chrono::Duration::minutes(5))
    }
}

impl<A: Transport> Credentials for OAuth<A> {
    fn token(&self) -> BoxFuture<'_, Result<Secret, AuthError>> {
        Box::pin(async move {
            let mut state = self.state.lock().await;
            if let Some(issued) = &state.0
                && self.clock.now() + Self::margin(issued) < issued.expires_at
            {
                return Ok(issued.access.clone());
            }
            self.replace(&mut state).await
        })
    }

    fn renew(&self, rejected: &Secret) -> BoxFuture<'_, Result<Option<Secret>, AuthError>> {
        let rejected = rejected.clone();
        Box::pin(async move {
            let mut state = self.state.lock().await;
            // Another caller may have renewed already.
            if let Some(issued) = &state.0
                && issued.access != rejected
            {
                return Ok(Some(issued.access.clone()));
            }
            self.replace(&mut state).await.map(Some)
        })
    }

    fn renewals(&self) -> u64 {
        self.renewals.load(Ordering::Relaxed)
    }
}
