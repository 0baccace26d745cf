//! Request-side translation: who is calling (bearer token), which request this is
//! (`MS-RequestId` / `MS-CorrelationId`), and bodies, queries and ids parsed into typed
//! values, every failure becoming a Partner Center error body rather than axum's plain text.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use super::error::PcError;
use crate::Mock;
use crate::model::{Actor, Cause, TokenMode};

pub const MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
pub const MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
pub const MS_CONTINUATION_TOKEN: HeaderName = HeaderName::from_static("ms-continuationtoken");

/// The request and correlation ids of the current call (client's, or minted when absent).
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: String,
    pub correlation_id: String,
}

impl RequestIds {
    /// The audit-log cause for a Partner Center operation made by this request.
    pub fn cause(&self, operation: super::operations::Operation) -> Cause {
        Cause::Request { operation: operation.name().into(), request_id: self.request_id.clone() }
    }
}

/// Longest `MS-RequestId` / `MS-CorrelationId` accepted (a GUID is 36; the mock stores and
/// echoes them, so an unbounded one would be kept in the world).
pub const MAX_REQUEST_ID: usize = 128;

impl RequestIds {
    /// The request's ids, given or minted, attached to it for the handlers; a refusal if one
    /// given is over [`MAX_REQUEST_ID`].
    pub fn attach(mock: &Mock, req: &mut Request) -> Result<RequestIds, PcError> {
        let oversized = [&MS_REQUEST_ID, &MS_CORRELATION_ID]
            .iter()
            .any(|name| req.headers().get(*name).is_some_and(|v| v.len() > MAX_REQUEST_ID));
        if oversized {
            return Err(PcError::invalid_input(format!(
                "MS-RequestId and MS-CorrelationId may be at most {MAX_REQUEST_ID} characters (a GUID is 36)."
            )));
        }
        let header = |name: &HeaderName| {
            req.headers().get(name).and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty()).map(str::to_string)
        };
        let mut mint = || format!("{}{:012x}", crate::state::MINTED_REQUEST_ID, mock.next_request_number());
        let request_id = header(&MS_REQUEST_ID).unwrap_or_else(&mut mint);
        let correlation_id = header(&MS_CORRELATION_ID).unwrap_or_else(mint);
        let ids = RequestIds { request_id, correlation_id };
        req.extensions_mut().insert(ids.clone());
        Ok(ids)
    }

    /// Echo both ids on the answer, errors included.
    pub fn echo(self, resp: &mut Response) {
        for (name, value) in [(MS_REQUEST_ID, self.request_id), (MS_CORRELATION_ID, self.correlation_id)] {
            if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
                resp.headers_mut().insert(name, v);
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestIds {
    type Rejection = PcError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PcError> {
        Ok(parts
            .extensions
            .get::<RequestIds>()
            .cloned()
            .unwrap_or(RequestIds { request_id: String::new(), correlation_id: String::new() }))
    }
}

/// The authenticated partner, with any token mode.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub partner: Uuid,
    pub mode: TokenMode,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::Partner(self.partner)
    }
}

/// The bearer token of a request, if it carries a non-empty one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty())
}

impl FromRequestParts<Mock> for Caller {
    type Rejection = PcError;
    async fn from_request_parts(parts: &mut Parts, mock: &Mock) -> Result<Self, PcError> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(PcError::missing_token)?;
        value.to_str().map_err(|_| PcError::access_denied())?;
        let token = bearer(&parts.headers).ok_or_else(PcError::missing_token)?;
        let found = mock.token(token).ok_or_else(PcError::access_denied)?;
        Ok(Caller { partner: found.partner, mode: found.mode })
    }
}

/// A caller with an app+user token, for the routes Partner Center documents as app+user only.
#[derive(Debug, Clone, Copy)]
pub struct DelegatedCaller(pub Caller);

impl FromRequestParts<Mock> for DelegatedCaller {
    type Rejection = PcError;
    async fn from_request_parts(parts: &mut Parts, mock: &Mock) -> Result<Self, PcError> {
        let caller = Caller::from_request_parts(parts, mock).await?;
        match caller.mode {
            TokenMode::AppUser => Ok(DelegatedCaller(caller)),
            TokenMode::App => Err(PcError::needs_app_user()),
        }
    }
}

/// The `If-Match` header, if present and readable: extracted on its own so a write does not
/// copy every header to read one.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = PcError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PcError> {
        Ok(IfMatch(parts.headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string)))
    }
}

/// Query parameters, with names folded to lower case (Partner Center matches them
/// case-insensitively: `seekOperation`, `seekoperation`).
#[derive(Debug, Clone, Default)]
pub struct PcQuery(pub BTreeMap<String, String>);

impl PcQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PcQuery {
    type Rejection = PcError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PcError> {
        let Query(raw) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| PcError::invalid_input(format!("Malformed query string: {e}")))?;
        Ok(PcQuery(raw.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect()))
    }
}

/// A JSON body accepted in camelCase or PascalCase (Partner Center deserialises property
/// names case-insensitively; its docs show both), parsed into `T`.
pub struct PcJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PcJson<T> {
    type Rejection = PcError;
    async fn from_request(req: Request, state: &S) -> Result<Self, PcError> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| PcError::invalid_input(format!("The request body could not be read: {}", e.body_text())))?;
        parse_body(&bytes).map(PcJson)
    }
}

pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, PcError> {
    if bytes.is_empty() {
        return Err(PcError::invalid_input("The request body is empty; a JSON object was expected."));
    }
    // One scan that builds nothing: is it JSON, and are its keys camelCase already (as the
    // SDKs send them)? Then it is read straight into `T`; only other bodies pay for a tree.
    let CamelKeys(camel) = serde_json::from_slice(bytes)
        .map_err(|e| PcError::invalid_input(format!("The request body is not valid JSON: {e}")))?;
    // serde would read a struct from an array by position (`["suspended"]` as a status): every
    // body Partner Center and the admin API take is an object.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(PcError::invalid_input("The request body must be a JSON object."));
    }
    let invalid =
        |e: serde_json::Error| PcError::invalid_input(format!("The request body has an invalid property: {e}"));
    if camel {
        return serde_json::from_slice(bytes).map_err(invalid);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(invalid)?;
    serde_json::from_value(camel_case_keys(value)).map_err(invalid)
}

/// Whether every object key in a JSON value, at any depth, is camelCase already (its first
/// letter unchanged by lower-casing), read without keeping anything.
struct CamelKeys(bool);

impl<'de> serde::Deserialize<'de> for CamelKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CamelKeysVisitor)
    }
}

struct CamelKeysVisitor;

impl<'de> serde::de::Visitor<'de> for CamelKeysVisitor {
    type Value = CamelKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_i64<E>(self, _: i64) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_u64<E>(self, _: u64) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_f64<E>(self, _: f64) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_str<E>(self, _: &str) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_unit<E>(self) -> Result<CamelKeys, E> {
        Ok(CamelKeys(true))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<CamelKeys, A::Error> {
        let mut camel = true;
        while let Some(CamelKeys(item)) = seq.next_element()? {
            camel &= item;
        }
        Ok(CamelKeys(camel))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<CamelKeys, A::Error> {
        let mut camel = true;
        // A key is looked at where it lies (`CamelKey`), not copied into a `String`.
        while let Some(CamelKey(key)) = map.next_key()? {
            let CamelKeys(value) = map.next_value()?;
            camel &= key && value;
        }
        Ok(CamelKeys(camel))
    }
}

/// Whether one object key is camelCase already.
struct CamelKey(bool);

impl<'de> serde::Deserialize<'de> for CamelKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CamelKeyVisitor)
    }
}

struct CamelKeyVisitor;

impl<'de> serde::de::Visitor<'de> for CamelKeyVisitor {
    type Value = CamelKey;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, key: &str) -> Result<CamelKey, E> {
        Ok(CamelKey(camel_case_key(key).is_none()))
    }
}

/// Lower-case the first letter of every object key, recursively. Bodies from Partner
/// Center's own SDKs are camelCase already: their objects are kept as they are, not rebuilt.
pub fn camel_case_keys(v: Value) -> Value {
    match v {
        Value::Object(mut map) if map.keys().all(|k| camel_case_key(k).is_none()) => {
            for value in map.values_mut() {
                *value = camel_case_keys(std::mem::take(value));
            }
            Value::Object(map)
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (camel_case_key(&k).unwrap_or(k), camel_case_keys(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(camel_case_keys).collect()),
        other => other,
    }
}

/// The key with its first letter lower-cased, or `None` if that changes nothing.
fn camel_case_key(k: &str) -> Option<String> {
    let mut chars = k.chars();
    let first = chars.next()?;
    let mut lower = first.to_lowercase();
    if lower.len() == 1 && lower.next() == Some(first) {
        return None;
    }
    Some(first.to_lowercase().chain(chars).collect())
}

/// Parse a GUID from a path or body, naming what it was meant to identify.
pub fn guid(what: &str, s: &str) -> Result<Uuid, PcError> {
    Uuid::try_parse(s.trim()).map_err(|_| PcError::invalid_input(format!("The {what} {s:?} is not a valid GUID.")))
}

/// The raw body bytes, with a size-limit or read failure rendered as a Partner Center error.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = PcError;
    async fn from_request(req: Request, state: &S) -> Result<Self, PcError> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|e| PcError::invalid_input(format!("The request body could not be read: {}", e.body_text())))
    }
}
