//! The one error type of the HTTP surface and its one `IntoResponse`, which renders Partner
//! Center's error body `{code, description, data, source}`. Every refusal — a model rule, a
//! malformed body, a bad id, an unknown route — leaves through here, so no client ever sees a
//! plain-text error or a 500 for bad input.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::model::ModelError;

#[derive(Debug, Clone, PartialEq)]
pub struct PcError {
    pub status: StatusCode,
    pub code: u32,
    pub description: String,
    pub data: Vec<Value>,
}

impl PcError {
    pub fn new(status: StatusCode, code: u32, description: impl Into<String>) -> Self {
        let mut description = description.into();
        // Partner Center caps descriptions at 1024 characters.
        if description.len() > 1024 {
            let mut cut = 1021;
            while !description.is_char_boundary(cut) {
                cut -= 1;
            }
            description.truncate(cut);
            description.push_str("...");
        }
        PcError { status, code, description, data: Vec::new() }
    }

    pub fn with_data(mut self, data: Vec<Value>) -> Self {
        self.data = data;
        self
    }

    /// 400 / 800002: the request itself is malformed.
    pub fn invalid_input(description: impl Into<String>) -> Self {
        PcError::new(StatusCode::BAD_REQUEST, 800_002, description)
    }

    /// 400 / 900126: an enum string Partner Center does not know.
    pub fn unknown_enum(field: &str, value: &str) -> Self {
        PcError::new(StatusCode::BAD_REQUEST, 900_126, format!("Unable to parse the enum value {value:?} for {field}."))
    }

    pub fn missing_token() -> Self {
        PcError::new(
            StatusCode::UNAUTHORIZED,
            800_001,
            "Partner token is missing. Send 'Authorization: Bearer <token>'.",
        )
    }

    pub fn access_denied() -> Self {
        PcError::new(StatusCode::UNAUTHORIZED, 400, "Access denied: the bearer token is not valid for this service.")
    }

    pub fn needs_app_user() -> Self {
        PcError::new(
            StatusCode::FORBIDDEN,
            2032,
            "Access denied: this operation requires an app+user (delegated) token; app-only tokens are not accepted.",
        )
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        PcError::new(StatusCode::NOT_FOUND, 1000, description)
    }
}

impl From<ModelError> for PcError {
    fn from(e: ModelError) -> Self {
        use ModelError as M;
        let (status, code) = match &e {
            M::CustomerNotFound(_) => (StatusCode::NOT_FOUND, 60_003),
            M::NoRelationship(_) => (StatusCode::FORBIDDEN, 20_002),
            M::SubscriptionNotFound(_) => (StatusCode::NOT_FOUND, 20_003),
            M::OrderNotFound(_) => (StatusCode::NOT_FOUND, 20_000),
            M::UserNotFound(_) => (StatusCode::NOT_FOUND, 60_002),
            M::OfferNotFound(_) => (StatusCode::BAD_REQUEST, 800_004),
            M::OfferNotPurchasable(_) => (StatusCode::FORBIDDEN, 2091),
            M::QuantityOutOfRange { .. } => (StatusCode::BAD_REQUEST, 2002),
            M::LineItemNumbers(_) => (StatusCode::BAD_REQUEST, 800_071),
            M::MissingBaseSubscription { .. } | M::ParentNotActive(_) => (StatusCode::CONFLICT, 27_009),
            M::StaleEtag => (StatusCode::BAD_REQUEST, 2055),
            M::SubscriptionDeleted(_) => (StatusCode::BAD_REQUEST, 2011),
            M::SubscriptionSuspended(_) => (StatusCode::BAD_REQUEST, 800_091),
            M::StatusChangeNotAllowed { .. } => (StatusCode::BAD_REQUEST, 800_096),
            M::AutoRenewNotAllowed(_) => (StatusCode::BAD_REQUEST, 800_093),
            M::UnknownSku(_) => (StatusCode::BAD_REQUEST, 3000),
            M::OutOfLicenses { .. } => (StatusCode::BAD_REQUEST, 60_012),
            M::AlreadyCustomer(_) => (StatusCode::CONFLICT, 800_002),
            M::MigrationIneligible { .. } => (StatusCode::BAD_REQUEST, 800_082),
            M::MigrationNotFound(_) | M::ScheduleNotFound(_) => (StatusCode::NOT_FOUND, 800_083),
            M::MigrationInProgress(_) | M::ScheduleConflict(_) => (StatusCode::CONFLICT, 800_084),
            M::SeatReductionNotAllowed(_) => (StatusCode::BAD_REQUEST, 800_090),
            M::TransitionNotAllowed(_) => (StatusCode::BAD_REQUEST, 800_085),
            M::UserExists(_) => (StatusCode::CONFLICT, 60_004),
            M::SeatsInUse { .. } => (StatusCode::BAD_REQUEST, 800_095),
            M::EmptyOrder
            | M::EmptyLicenseUpdate
            | M::DuplicateSku(_)
            | M::UserInactive(_)
            | M::PartnerNotFound(_)
            | M::NoPartners
            | M::ClockBackwards { .. }
            | M::InvalidScenario(_)
            | M::InvalidInput(_) => (StatusCode::BAD_REQUEST, 800_002),
        };
        if let M::OutOfLicenses { .. } = e {
            // The documented body: a generic description, the exception text in `data`.
            return PcError::new(
                status,
                code,
                "Sorry, you've run out of licenses. Buy more licenses or free some up, then try again.",
            )
            .with_data(vec![Value::String(e.to_string())]);
        }
        PcError::new(status, code, e.to_string())
    }
}

impl IntoResponse for PcError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "description": self.description,
            "data": self.data,
            "source": "PartnerFD",
        });
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"PartnerCenterMock\""));
        }
        resp
    }
}
