//! The mock's own sign-in authority (not Partner Center: Azure AD's role, shaped like its v2
//! endpoints): app registrations, the three OAuth grants partners use, device codes, and
//! access tokens with a lifetime on the virtual clock.
//!
//! Every secret (client secret, refresh token, access token, device code) arrives from the
//! caller: the model draws no randomness of its own, and the HTTP layer draws them at random.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Actor, Cause, EventKind, ModelError, Result, Subject, Token, TokenMode, World};

/// Access token lifetimes the mock accepts, in seconds (Azure AD's are 60–90 minutes).
pub const MIN_TOKEN_LIFETIME: u32 = 30;
pub const MAX_TOKEN_LIFETIME: u32 = 86_400;
/// How long a device code waits for its person, and how often clients should poll.
pub const DEVICE_CODE_SECONDS: i64 = 900;
pub const DEVICE_POLL_SECONDS: i64 = 5;

/// An app registered with the authority, acting for one partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct App {
    pub client_id: String,
    pub partner: Uuid,
    pub client_secret: String,
    pub token_lifetime_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refresh {
    client_id: String,
    /// Issued to a public client (device code): redeemable without the secret.
    public: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeviceCode {
    client_id: String,
    user_code: String,
    expires_at: DateTime<Utc>,
    approved: bool,
}

/// What the authority keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Authority {
    apps: Vec<App>,
    refresh_tokens: imbl::OrdMap<String, Refresh>,
    device_codes: imbl::OrdMap<String, DeviceCode>,
}

/// One token request, as the token endpoint's form says.
#[derive(Debug, Clone)]
pub enum GrantRequest {
    ClientCredentials { client_id: String, client_secret: String },
    RefreshToken { client_id: String, client_secret: Option<String>, refresh_token: String },
    DeviceCode { client_id: String, device_code: String },
}

/// Fresh secrets for an answer (the caller draws them; unused ones are dropped).
pub struct FreshSecrets {
    pub access_token: String,
    pub refresh_token: String,
}

/// A token endpoint answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: u32,
    pub refresh_token: Option<String>,
    pub mode: TokenMode,
}

/// The OAuth 2.0 error codes (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("The client id is not registered or its secret is wrong")]
    InvalidClient,
    #[error("The refresh token or device code is not valid for this client")]
    InvalidGrant,
    #[error("The code has not been entered yet")]
    AuthorizationPending,
    #[error("The device code expired")]
    ExpiredToken,
    #[error("{0}")]
    InvalidRequest(String),
}

impl SignInError {
    /// The `error` field of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            SignInError::InvalidClient => "invalid_client",
            SignInError::InvalidGrant => "invalid_grant",
            SignInError::AuthorizationPending => "authorization_pending",
            SignInError::ExpiredToken => "expired_token",
            SignInError::InvalidRequest(_) => "invalid_request",
        }
    }
}

impl Authority {
    pub fn apps(&self) -> &[App] {
        &self.apps
    }
}

impl World {
    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// Register an app for `partner` (default: the first) with the secrets the caller drew;
    /// `refresh_token` is the consented user's, as the secure application model's consent
    /// step would leave it.
    pub fn register_app(
        &mut self,
        partner: Option<Uuid>,
        app: (String, String, String),
        token_lifetime_seconds: u32,
    ) -> Result<App> {
        let (client_id, client_secret, refresh_token) = app;
        let partner = match partner {
            Some(p) if self.partner(p).is_some() => p,
            Some(p) => return Err(ModelError::PartnerNotFound(p)),
            None => self.default_partner()?,
        };
        if !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&token_lifetime_seconds) {
            return Err(ModelError::InvalidInput(format!(
                "tokenLifetimeSeconds must be between {MIN_TOKEN_LIFETIME} and {MAX_TOKEN_LIFETIME}"
            )));
        }
        if self.authority.apps.iter().any(|a| a.client_id == client_id) {
            return Err(ModelError::InvalidInput(format!("client id {client_id} is already registered")));
        }
        let app = App { client_id: client_id.clone(), partner, client_secret, token_lifetime_seconds };
        self.authority.apps.push(app.clone());
        self.authority.refresh_tokens.insert(refresh_token, Refresh { client_id, public: false });
        Ok(app)
    }

    fn app(&self, client_id: &str) -> std::result::Result<&App, SignInError> {
        self.authority.apps.iter().find(|a| a.client_id == client_id).ok_or(SignInError::InvalidClient)
    }

    /// Start a device-code sign-in (RFC 8628) with the codes the caller drew.
    pub fn start_device_code(
        &mut self,
        client_id: &str,
        device_code: String,
        user_code: String,
    ) -> std::result::Result<(i64, i64), SignInError> {
        self.app(client_id)?;
        let expires_at = self.now() + Duration::seconds(DEVICE_CODE_SECONDS);
        self.authority.device_codes.insert(
            device_code,
            DeviceCode { client_id: client_id.to_string(), user_code, expires_at, approved: false },
        );
        Ok((DEVICE_CODE_SECONDS, DEVICE_POLL_SECONDS))
    }

    /// The person entered `user_code` and consented (the mock's stand-in for a browser
    /// sign-in). Case and dashes do not matter, as on Azure AD's page.
    pub fn approve_device_code(&mut self, user_code: &str) -> std::result::Result<(), SignInError> {
        let wanted = normalise_code(user_code);
        let now = self.now();
        let key = self
            .authority
            .device_codes
            .iter()
            .find(|(_, d)| normalise_code(&d.user_code) == wanted && d.expires_at > now)
            .map(|(k, _)| k.clone())
            .ok_or(SignInError::InvalidGrant)?;
        if let Some(code) = self.authority.device_codes.get_mut(&key) {
            code.approved = true;
        }
        Ok(())
    }

    /// Answer a token request: check everything, then mint with the caller's secrets.
    pub fn grant_token(&mut self, req: GrantRequest, fresh: FreshSecrets) -> std::result::Result<Issued, SignInError> {
        let now = self.now();
        // The client is authenticated first (RFC 6749 §5.2): without its secret nobody learns
        // whether a refresh token is valid.
        let (app, mode, refresh) = match &req {
            GrantRequest::ClientCredentials { client_id, client_secret } => {
                let app = self.app(client_id)?.clone();
                if &app.client_secret != client_secret {
                    return Err(SignInError::InvalidClient);
                }
                (app, TokenMode::App, None)
            }
            GrantRequest::RefreshToken { client_id, client_secret, refresh_token } => {
                let app = self.app(client_id)?.clone();
                if client_secret.as_ref().is_some_and(|s| s != &app.client_secret) {
                    return Err(SignInError::InvalidClient);
                }
                let held = self.authority.refresh_tokens.get(refresh_token).ok_or(SignInError::InvalidGrant)?;
                if &held.client_id != client_id {
                    return Err(SignInError::InvalidGrant);
                }
                // A confidential client's refresh token needs the secret; a device-code one not.
                if client_secret.is_none() && !held.public {
                    return Err(SignInError::InvalidClient);
                }
                (app, TokenMode::AppUser, Some(held.public))
            }
            GrantRequest::DeviceCode { client_id, device_code } => {
                let app = self.app(client_id)?.clone();
                let code = self.authority.device_codes.get(device_code).ok_or(SignInError::InvalidGrant)?;
                if &code.client_id != client_id {
                    return Err(SignInError::InvalidGrant);
                }
                if code.expires_at <= now {
                    return Err(SignInError::ExpiredToken);
                }
                if !code.approved {
                    return Err(SignInError::AuthorizationPending);
                }
                (app, TokenMode::AppUser, Some(true))
            }
        };
        // Everything is checked: from here on the grant is issued.
        if let GrantRequest::DeviceCode { device_code, .. } = &req {
            self.authority.device_codes.remove(device_code);
        }
        let client_id = app.client_id.clone();
        let expires_in = app.token_lifetime_seconds;
        let token = Token { partner: app.partner, mode, expires: Some(now + Duration::seconds(i64::from(expires_in))) };
        self.tokens.insert(fresh.access_token.clone(), token);
        // A new refresh token each time, as Azure AD rotates them; the old one stays valid.
        let refresh_token = refresh.map(|public| {
            self.authority.refresh_tokens.insert(fresh.refresh_token.clone(), Refresh { client_id, public });
            fresh.refresh_token
        });
        let batch = self.open_batch(Cause::Admin { operation: "signIn".into() }, Actor::Admin);
        self.log(
            &batch,
            Subject::default(),
            EventKind::TokenIssued { partner: app.partner, mode: mode.as_str().into() },
        );
        Ok(Issued { access_token: fresh.access_token, expires_in, refresh_token, mode })
    }
}

fn normalise_code(code: &str) -> String {
    code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}
