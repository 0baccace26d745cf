//! Users over HTTP: `POST …/users` (create) and `PATCH …/users/{id}` (update, password reset,
//! restore), app+user only, as Partner Center documents. The password in a body is checked and
//! dropped here and in the model: it is never stored, logged or sent back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::PcError;
use super::extract::{DelegatedCaller, PcJson, RequestIds, guid};
use super::operations::Operation;
use super::user_shape::UserShape;
use crate::Mock;
use crate::model::UserState;
use crate::model::users::{NewUser, UserChanges};

type Reply = Result<Response, PcError>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PasswordProfile {
    /// A string; anything else (the swagger's `SecureString` object, which carries no text)
    /// counts as no password given.
    password: Option<serde_json::Value>,
}

/// A `CustomerUser` as a client sends it; read-only fields it echoes (`id`, `links`, …) are
/// ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    user_principal_name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    usage_location: Option<String>,
    password_profile: Option<PasswordProfile>,
    state: Option<String>,
}

fn required(field: &str, v: Option<String>) -> Result<String, PcError> {
    v.filter(|s| !s.trim().is_empty()).ok_or_else(|| PcError::invalid_input(format!("{field} is required.")))
}

fn password(profile: Option<PasswordProfile>) -> String {
    match profile.and_then(|p| p.password) {
        Some(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `POST /customers/{c}/users`: 201 with the user and its `Location`. Without a password the
/// user is created with none set (the tenant's admin sets one), as clients generated from the
/// swagger cannot send one.
pub async fn create(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    ids: RequestIds,
    Path(cid): Path<String>,
    PcJson(body): PcJson<UserBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let new = NewUser {
        user_principal_name: required("userPrincipalName", body.user_principal_name)?,
        first_name: required("firstName", body.first_name)?,
        last_name: required("lastName", body.last_name)?,
        usage_location: body.usage_location.unwrap_or_default(),
        password: password(body.password_profile),
    };
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateUser), caller.actor());
        let id = w.create_user(&batch, caller.partner, cid, &new)?;
        let c = w.customer_of(caller.partner, cid)?;
        let shape = UserShape { customer: c.id, user: w.user_of(caller.partner, cid, id)? };
        let mut resp = (StatusCode::CREATED, Json(shape)).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("/v1/customers/{cid}/users/{id}")) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        Ok(resp)
    })
}

/// `PATCH /customers/{c}/users/{u}`.
pub async fn update(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    ids: RequestIds,
    Path((cid, uid)): Path<(String, String)>,
    PcJson(body): PcJson<UserBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let uid = guid("user id", &uid)?;
    let state = match body.state.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some("active") => Some(UserState::Active),
        Some("inactive") => Some(UserState::Inactive),
        Some(other) => return Err(PcError::unknown_enum("state (active, inactive)", other)),
    };
    let changes = UserChanges {
        user_principal_name: body.user_principal_name,
        first_name: body.first_name,
        last_name: body.last_name,
        usage_location: body.usage_location,
        password: Some(password(body.password_profile)).filter(|p| !p.is_empty()),
        state,
    };
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::UpdateUser), caller.actor());
        w.update_user(&batch, caller.partner, cid, uid, &changes)?;
        let c = w.customer_of(caller.partner, cid)?;
        Ok(Json(UserShape { customer: c.id, user: w.user_of(caller.partner, cid, uid)? }).into_response())
    })
}
