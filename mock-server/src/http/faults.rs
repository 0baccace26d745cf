//! The fault layer: the front door's step before a Partner Center route that asks the model
//! what to do with each call (pass, throttle, fail, delay, drop, lose the answer, deliver
//! twice) and acts it out. Every decision and its audit event come from the model; this file
//! only speaks HTTP.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::MAX_BODY;
use super::error::PcError;
use super::extract::{RequestIds, bearer};
use super::operations::Operation;
use super::wire::obj;
use crate::Mock;
use crate::model::faults::{Call, Effect};

pub(crate) fn http_date(t: DateTime<Utc>) -> Option<HeaderValue> {
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

/// The throttling answer Partner Center really sends: not its usual error shape.
fn throttled(retry_after: u32, as_date: bool, now: DateTime<Utc>) -> Response {
    let message = format!("Rate limit is exceeded. Try again in {retry_after} seconds.");
    let body = obj([("statusCode", 429.into()), ("message", message.into())]);
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let value = if as_date {
        http_date(now + chrono::Duration::seconds(i64::from(retry_after)))
    } else {
        HeaderValue::from_str(&retry_after.to_string()).ok()
    };
    if let Some(v) = value {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    // The answer's own Date is the virtual now, so a client can read an HTTP-date Retry-After
    // without consulting its own clock.
    if let Some(v) = http_date(now) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

fn server_error(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let (code, text) = match status.as_u16() {
        503 => (800_006, "The service is temporarily unavailable. Try again later."),
        504 => (800_004, "The request timed out before the service answered."),
        502 => (800_005, "Bad gateway."),
        _ => (800_003, "Unexpected service error."),
    };
    PcError::new(status, code, text).into_response()
}

/// A response whose body fails mid-way: the connection drops before a whole answer arrives.
fn dropped() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection dropped"))
    });
    Response::new(Body::from_stream(stream))
}

/// Consult the fault plan before a Partner Center route runs (the front door's last step, so
/// a refused head or path never reaches the plan).
pub async fn faults(mock: &Mock, req: Request, next: Next) -> Response {
    // Most runs have no plan: no lock, nothing parsed. Only `/v1` is Partner Center's.
    if !mock.faults_on() || !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let Some((operation, customer)) = Operation::of(&method, &path) else {
        return next.run(req).await;
    };
    let (operation, group) = (operation.name(), operation.group());
    let token = bearer(req.headers()).map(str::to_string);
    let request_id = req.extensions().get::<RequestIds>().map(|r| r.request_id.clone()).unwrap_or_default();
    let (decision, now) = mock.with(|w| {
        let partner = token.as_deref().and_then(|t| w.token(t)).map(|t| t.partner);
        let call = Call { operation, group, method: &method, path: &path, partner, customer, request_id: &request_id };
        (w.decide(&call), w.now())
    });
    match decision {
        None => next.run(req).await,
        Some(Effect::Throttle { retry_after_seconds, http_date }) => throttled(retry_after_seconds, http_date, now),
        Some(Effect::Error { status }) => server_error(status),
        Some(Effect::Drop) => dropped(),
        Some(Effect::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(Effect::LostResponse { status }) => {
            let _ = next.run(req).await;
            server_error(status)
        }
        Some(Effect::Duplicate) => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return PcError::invalid_input("The request body is too large.").into_response();
            };
            let again = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
            let first = next.clone().run(Request::from_parts(parts, Body::from(bytes))).await;
            let _ = next.run(again).await;
            first
        }
    }
}
