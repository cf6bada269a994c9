//! Errors of model construction.

/// A model's parameters are out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// One parameter is out of its allowed range.
    #[error("{family}: {field} = {value} is out of range (allowed: {allowed})")]
    OutOfRange {
        /// The distribution family.
        family: &'static str,
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: f64,
        /// The allowed range, in words.
        allowed: &'static str,
    },
    /// A list parameter is unusable (empty, unsorted, weights not positive).
    #[error("{family}: {field}: {problem}")]
    BadList {
        /// The distribution family.
        family: &'static str,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}
