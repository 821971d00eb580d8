//! The one error every config section returns from its `validate`: which field, and why.
//!
//! It sits below every module so that each section (`ingest::config`, `serve::config`, …) can
//! validate itself without depending on the top-level [`crate::config`], which composes them.

/// A config value that cannot be used, named by its path in the file (`windows.durations[1]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config field `{field}`: {reason}")]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

/// Shorthand for building an [`Invalid`].
pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}
