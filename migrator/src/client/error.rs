//! Why a call to Partner Center did not succeed, sorted by what the caller may do next: an
//! answer (refused, with its code), a refused token, no answer (a read), an unknown outcome (a
//! write that may have been applied), nothing sent, throttled, or a sign-in that failed.

use super::auth::AuthError;

#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error(
        "{operation}: Partner Center answered HTTP {status}, code {code}: {description} (MS-RequestId {request_id})"
    )]
    Api { operation: String, status: u16, code: String, description: String, request_id: String },
    #[error(
        "{operation}: the token was refused (HTTP 401, code {code}): get a fresh token or sign in again (a fresh --token-file or PARTNER_CENTER_TOKEN, or check the app's consent)"
    )]
    Unauthorized { operation: String, code: String },
    /// A write that may have reached the server but got no clear answer.
    #[error(
        "{operation}: outcome unknown after {attempts} attempt(s) ({detail}); it may have been applied (MS-RequestId {request_id})"
    )]
    OutcomeUnknown { operation: String, attempts: u32, detail: String, request_id: String },
    /// A read that got no clear answer (nothing was changed by it).
    #[error("{operation}: no answer after {attempts} attempt(s) ({detail})")]
    NoAnswer { operation: String, attempts: u32, detail: String },
    /// Nothing reached the server: nothing was changed.
    #[error("{operation}: cannot reach Partner Center after {attempts} attempt(s): {detail} (nothing was sent)")]
    Unreachable { operation: String, attempts: u32, detail: String },
    /// Every attempt was refused with 429: nothing was changed.
    #[error("{operation}: still throttled (429) after {attempts} attempt(s) (nothing was changed)")]
    Throttled { operation: String, attempts: u32 },
    #[error("{operation}: {error}")]
    SignIn { operation: String, error: AuthError },
    #[error("{operation}: unexpected answer: {detail}")]
    Decode { operation: String, detail: String },
}

/// The Partner Center error codes the engine reacts to (every other code is a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 2055: the ETag sent with a PATCH is stale; read the resource again.
    StaleEtag,
}

impl ErrorCode {
    pub const fn code(self) -> &'static str {
        match self {
            ErrorCode::StaleEtag => "2055",
        }
    }
}

impl ClientError {
    /// Did Partner Center answer with this code?
    pub fn is(&self, code: ErrorCode) -> bool {
        self.code() == Some(code.code())
    }

    /// Partner Center's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } | ClientError::Unauthorized { code, .. } => Some(code),
            _ => None,
        }
    }

    /// No clear answer, so the step is neither done nor refused: read, then try again.
    pub fn is_unclear(&self) -> bool {
        matches!(
            self,
            ClientError::OutcomeUnknown { .. }
                | ClientError::NoAnswer { .. }
                | ClientError::Unreachable { .. }
                | ClientError::Throttled { .. }
                | ClientError::SignIn { error: AuthError::Unreachable { .. }, .. }
        )
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            ClientError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}
