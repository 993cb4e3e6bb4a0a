//! The one storage error type. Messages name the problem; the HTTP layer maps the variant to a
//! status (404, 409, 503, 400, 500) and keeps 5xx bodies generic.

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A unique name is taken, or the change conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store cannot be reached or is busy.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request is malformed (bad window, invalid config...).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Anything else: corrupt row, bug.
    #[error("internal store error: {0}")]
    Internal(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
