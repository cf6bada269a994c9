//! Size-dependent models: `latency + per_byte · bytes`.

use serde::{Deserialize, Serialize};

use crate::{Distribution, Rng};

/// A duration that grows with the bytes an invocation handles: `latency + per_byte · bytes`
/// [s], each term drawn from its own distribution per invocation. Either term may be absent
/// (zero). Serde form: `{ latency = { family = ... }, per_byte = { family = ... } }`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeModel {
    /// Fixed part [s].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Distribution>,
    /// Part proportional to the input size [s/byte].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_byte: Option<Distribution>,
}

impl SizeModel {
    /// A model with only a fixed part.
    pub fn fixed(latency: Distribution) -> Self {
        SizeModel {
            latency: Some(latency),
            per_byte: None,
        }
    }

    /// True when both terms are absent (the stage takes no time).
    pub fn is_zero(&self) -> bool {
        self.latency.is_none() && self.per_byte.is_none()
    }

    /// Draws one duration for an input of `bytes` [s].
    pub fn sample(&self, bytes: f64, rng: &mut Rng) -> f64 {
        let a = self.latency.as_ref().map_or(0.0, |d| d.sample(rng));
        let b = self.per_byte.as_ref().map_or(0.0, |d| d.sample(rng));
        a + b * bytes
    }

    /// Mean duration for an input of `bytes` [s].
    pub fn mean(&self, bytes: f64) -> f64 {
        self.latency.as_ref().map_or(0.0, Distribution::mean)
            + self.per_byte.as_ref().map_or(0.0, Distribution::mean) * bytes
    }
}
