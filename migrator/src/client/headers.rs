//! The headers every Partner Center call carries, built once per attempt straight into the
//! map the transport sends (no string pairs to convert on the way), the token marked
//! sensitive so no `Debug` print of a request shows it.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use super::auth::Secret;

pub const MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
pub const MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
pub const MS_CONTINUATION_TOKEN: HeaderName = HeaderName::from_static("ms-continuationtoken");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// What one attempt of a call sends besides its path and body.
pub struct Head<'a> {
    pub token: &'a Secret,
    pub request_id: &'a str,
    pub correlation_id: String,
    /// Per call: `If-Match`, `MS-ContinuationToken`.
    pub extra: &'a [(HeaderName, String)],
    pub has_body: bool,
}

impl Head<'_> {
    /// The request's headers, or why one cannot go on the wire (the value itself is not
    /// repeated: it may be a token).
    pub fn headers(self) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::with_capacity(8);
        let mut bearer = value(&AUTHORIZATION, format!("Bearer {}", self.token.expose()))?;
        bearer.set_sensitive(true);
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(ACCEPT, JSON);
        headers.insert(MS_REQUEST_ID, value(&MS_REQUEST_ID, self.request_id.to_string())?);
        headers.insert(MS_CORRELATION_ID, value(&MS_CORRELATION_ID, self.correlation_id)?);
        for (name, v) in self.extra {
            headers.append(name.clone(), value(name, v.clone())?);
        }
        if self.has_body {
            headers.insert(CONTENT_TYPE, JSON);
        }
        Ok(headers)
    }
}

fn value(name: &HeaderName, value: String) -> Result<HeaderValue, String> {
    HeaderValue::from_maybe_shared(Bytes::from(value))
        .map_err(|_| format!("cannot send: the {name} header holds a character HTTP does not allow"))
}
