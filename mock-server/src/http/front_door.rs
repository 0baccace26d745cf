//! The front door every request passes before routing, in one layer (each `from_fn` layer
//! costs a boxed future and a cloned service per request): the head's bounds, the path's
//! encoding and its segments, the virtual clock catching up, request ids, the fault plan (on
//! `/v1`), and the virtual `Date`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::PcError;
use super::extract::RequestIds;
use crate::state::Mock;

/// In this order: a head over the bounds or a path that is not UTF-8 is refused before
/// anything reads it; a virtual clock that follows the wall clock is brought up to date; the
/// request gets its ids ([`RequestIds::attach`]), echoed on its answer, a path with an empty
/// segment's 404 too; a Partner Center call then meets the fault plan. Every answer, refusals
/// too, is dated on the virtual clock, as a 429's is (its HTTP-date `Retry-After` is measured
/// from it), so a client reading either sees one clock.
pub async fn front_door(State(mock): State<Mock>, mut req: Request, next: Next) -> Response {
    let mut resp = match oversized_head(&req).or_else(|| undecodable_path(&req)) {
        Some(refusal) => refusal,
        None => {
            mock.catch_up();
            match RequestIds::attach(&mock, &mut req) {
                Err(refusal) => refusal.into_response(),
                Ok(ids) => {
                    let mut resp = match empty_segment(&req) {
                        Some(not_found) => not_found,
                        None => super::faults::faults(&mock, req, next).await,
                    };
                    ids.echo(&mut resp);
                    resp
                }
            }
        }
    };
    if !resp.headers().contains_key(axum::http::header::DATE)
        && let Some(v) = mock.http_date()
    {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
    resp
}

/// The longest request target (path and query) answered: Azure's front doors refuse longer.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// The most header bytes (names and values) and headers a request may carry.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
pub const MAX_HEADERS: usize = 100;

/// A request target or headers over the bounds get 414 or 431 with Partner Center's error
/// body, before anything reads them.
fn oversized_head(req: &Request) -> Option<Response> {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Some(
            PcError::new(
                StatusCode::URI_TOO_LONG,
                800_002,
                format!("The request target is {target} bytes; at most {MAX_URI_BYTES} are accepted."),
            )
            .into_response(),
        );
    }
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(PcError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            800_002,
            format!(
                "The request has {} headers of {bytes} bytes; at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes are accepted.",
                headers.len()
            ),
        )
        .into_response());
    }
    None
}

/// A path with an empty segment (`/v1//customers`) names no resource. Said here because the
/// `/v1` group, nested as one service, would otherwise be handed `//customers` with its prefix
/// stripped to `/customers`.
fn empty_segment(req: &Request) -> Option<Response> {
    req.uri().path().contains("//").then(|| super::no_such_resource().into_response())
}

/// A path whose percent-escapes do not decode to UTF-8 gets Partner Center's error body (the
/// path extractors would otherwise answer in plain text).
fn undecodable_path(req: &Request) -> Option<Response> {
    // Without an escape the path is already a `str`: nothing to decode.
    if !req.uri().path().contains('%') {
        return None;
    }
    let raw = req.uri().path().as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Some(
            PcError::invalid_input("The request path is not valid UTF-8 once its %-escapes are decoded.")
                .into_response(),
        );
    }
    None
}
