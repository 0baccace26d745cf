//! The mock's own sign-in authority over HTTP, shaped like Azure AD's v2 endpoints so the
//! same OAuth client signs in here and there: `POST /{tenant}/oauth2/v2.0/token`,
//! `POST /{tenant}/oauth2/v2.0/devicecode`, the page where a person enters a device code
//! (`/devicelogin`), and `POST /admin/apps` to register an app. Not Partner Center's API.
//!
//! Secrets are drawn here at random (never from the scenario's seed); the model only stores
//! them.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::error::PcError;
use super::extract::{RawBody, guid, parse_body};
use crate::Mock;
use crate::model::signin::{FreshSecrets, GrantRequest, SignInError};

type Reply = Result<Response, PcError>;

/// Marks requests that arrived over HTTPS (set by the TLS server that hosts the mock), so
/// links back to the server use the right scheme.
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// A random secret: 32 bytes from the operating system, as hex, with a prefix that says what
/// it is. `None` when the system has no randomness to give (then nothing is issued).
pub fn secret(prefix: &str) -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(format!("{prefix}.{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// A short code a person can type: eight letters, `ABCD-EFGH`.
fn user_code() -> Option<String> {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    let code: String = bytes.iter().map(|b| LETTERS[usize::from(*b) % LETTERS.len()] as char).collect();
    Some(format!("{}-{}", &code[..4], &code[4..]))
}

/// An OAuth error answer (RFC 6749 §5.2): the authority's one error type.
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.error, "error_description": self.description }))).into_response()
    }
}

fn oauth_error(status: StatusCode, error: &'static str, description: String) -> OAuthError {
    OAuthError { status, error, description }
}

fn invalid_request(description: String) -> OAuthError {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn no_randomness() -> OAuthError {
    oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "no randomness for a secret".into())
}

impl From<SignInError> for OAuthError {
    fn from(e: SignInError) -> Self {
        let status = match e {
            SignInError::InvalidClient => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        oauth_error(status, e.code(), e.to_string())
    }
}

/// The form fields of a token or device-code request.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(invalid_request("the body must be application/x-www-form-urlencoded".into()));
    }
    serde_urlencoded::from_bytes(body).map_err(|e| invalid_request(format!("malformed form: {e}")))
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Result<&'a str, OAuthError> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_request(format!("{name} is required")))
}

fn optional(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
}

/// `POST /{tenant}/oauth2/v2.0/token`: the three grants.
pub async fn token(State(m): State<Mock>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, OAuthError> {
    let form = form(&headers, &body)?;
    let request = grant_request(&form)?;
    let (Some(access_token), Some(refresh_token)) = (secret("pcmock-at"), secret("pcmock-rt")) else {
        return Err(no_randomness());
    };
    let scope = optional(&form, "scope").unwrap_or_default();
    let issued = m.with(|w| w.grant_token(request, FreshSecrets { access_token, refresh_token }))?;
    let mut answer = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": issued.expires_in,
        "ext_expires_in": issued.expires_in,
        "access_token": issued.access_token,
    });
    if let Some(r) = issued.refresh_token {
        answer["refresh_token"] = json!(r);
    }
    // Tokens must not be cached by anything in between.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}

fn grant_request(form: &[(String, String)]) -> Result<GrantRequest, OAuthError> {
    let client_id = field(form, "client_id")?.to_string();
    match field(form, "grant_type")? {
        "client_credentials" => {
            Ok(GrantRequest::ClientCredentials { client_id, client_secret: field(form, "client_secret")?.to_string() })
        }
        "refresh_token" => Ok(GrantRequest::RefreshToken {
            client_id,
            client_secret: optional(form, "client_secret"),
            refresh_token: field(form, "refresh_token")?.to_string(),
        }),
        "urn:ietf:params:oauth:grant-type:device_code" => {
            Ok(GrantRequest::DeviceCode { client_id, device_code: field(form, "device_code")?.to_string() })
        }
        other => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant_type {other:?} is not supported (client_credentials, refresh_token, device_code)"),
        )),
    }
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`: start a device-code sign-in.
pub async fn device_code(
    State(m): State<Mock>,
    https: Option<axum::Extension<Https>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, OAuthError> {
    let form = form(&headers, &body)?;
    let client_id = field(&form, "client_id")?.to_string();
    let (Some(device), Some(user)) = (secret("pcmock-dc"), user_code()) else {
        return Err(no_randomness());
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1:8080").to_string();
    let scheme = if https.is_some() { "https" } else { "http" };
    let verification_uri = format!("{scheme}://{host}/devicelogin");
    let (expires_in, interval) = m.with(|w| w.start_device_code(&client_id, device.clone(), user.clone()))?;
    Ok(Json(json!({
        "device_code": device,
        "user_code": user,
        "verification_uri": verification_uri,
        "expires_in": expires_in,
        "interval": interval,
        "message": format!("To sign in, open {verification_uri} and enter the code {user} to authenticate."),
    }))
    .into_response())
}

/// `GET /devicelogin`: where the person enters the code.
pub async fn device_login_page() -> Html<String> {
    Html(device_page(None).into_string())
}

fn device_page(outcome: Option<&str>) -> maud::Markup {
    html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Sign in (skuswap mock)" } }
            body {
                h1 { "Enter the code shown on your terminal" }
                p { "This is the mock's own sign-in page, not Microsoft's." }
                @if let Some(o) = outcome { p role="status" { (o) } }
                form method="post" action="/devicelogin" {
                    label { "Code " input name="user_code" autocomplete="off" required; }
                    button type="submit" { "Sign in" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DeviceLoginForm {
    user_code: String,
}

/// `POST /devicelogin`: the person entered the code and consents.
pub async fn device_login(State(m): State<Mock>, RawBody(body): RawBody) -> Response {
    let Ok(f) = serde_urlencoded::from_bytes::<DeviceLoginForm>(&body) else {
        return (StatusCode::BAD_REQUEST, Html(device_page(Some("Enter the code.")).into_string())).into_response();
    };
    match m.with(|w| w.approve_device_code(&f.user_code)) {
        Ok(()) => Html(device_page(Some("Signed in. You can close this page.")).into_string()).into_response(),
        Err(_) => {
            (StatusCode::BAD_REQUEST, Html(device_page(Some("That code is not valid or has expired.")).into_string()))
                .into_response()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppBody {
    #[serde(default)]
    partner_id: Option<String>,
    #[serde(default)]
    token_lifetime_seconds: Option<u32>,
}

/// `POST /admin/apps`: register an app with its secret and a consented user's refresh token,
/// as a partner's app registration and consent would leave them. Answered once, 201.
pub async fn register_app(State(m): State<Mock>, RawBody(body): RawBody) -> Reply {
    let req: AppBody = if body.iter().all(u8::is_ascii_whitespace) { AppBody::default() } else { parse_body(&body)? };
    let partner = req.partner_id.as_deref().map(|p| guid("partnerId", p)).transpose()?;
    let lifetime = req.token_lifetime_seconds.unwrap_or(3600);
    let (Some(client_id), Some(client_secret), Some(refresh_token)) =
        (secret("pcmock-app"), secret("pcmock-secret"), secret("pcmock-rt"))
    else {
        return Ok(no_randomness().into_response());
    };
    // A client id is a GUID on Azure AD; derive one from the random string.
    let client_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, client_id.as_bytes()).to_string();
    let app = m.with(|w| w.register_app(partner, (client_id, client_secret, refresh_token.clone()), lifetime))?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "clientId": app.client_id,
            "clientSecret": app.client_secret,
            "refreshToken": refresh_token,
            "partnerId": app.partner,
            "tenant": app.partner,
            "tokenLifetimeSeconds": app.token_lifetime_seconds,
        })),
    )
        .into_response())
}
