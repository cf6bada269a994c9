//! Latency models of faastwin: what a stage of an invocation costs.
//!
//! - [`Distribution`]: one random duration [s] — constant, uniform, normal truncated at zero,
//!   lognormal, gamma, weibull, shifted exponential, empirical (measured values or a quantile
//!   table) and mixtures. Its serde form is a table with a `family` key and the family's
//!   parameters, read by calibration and scenario files:
//!   `{ family = "lognormal", mu = 0.3, sigma = 0.05 }`. Constructors validate; an error names the
//!   family, the field and the allowed range.
//! - [`SizeModel`]: `latency + per_byte · bytes`, each term with its own noise distribution, for
//!   the stages that grow with the input (read, compute, write).
//! - [`cpus`]: CPU lists in the kernel's format and the CPUs a process may use.
//! - [`quantile`]: the one quantile estimator faastwin uses everywhere (linear interpolation
//!   between order statistics, Hyndman & Fan type 7).
//!
//! - [`Body`], [`PlatformKind`], [`SubmitPolicy`]: the closed sets every crate speaks of (which
//!   function body, which kind of platform, how a partition submits), named once here.
//!
//! Sampling goes through `rand_distr` with any `rand::Rng`; faastwin uses the portable
//! [`rand_pcg::Pcg64Mcg`] ([`Rng`]) so a seed gives the same stream on every machine.

#![warn(missing_docs)]

pub mod cpus;
mod distribution;
mod error;
pub mod quantile;
mod size;
mod vocabulary;

pub use distribution::{Distribution, MixtureComponent, RawDistribution};
pub use error::ModelError;
pub use size::SizeModel;
pub use vocabulary::{
    Body, CORES, ClusterStep, Metric, PlatformKind, SlurmJobState, SubmitPolicy, UnknownName,
};

/// The random number generator faastwin uses: small, fast and portable across platforms.
pub type Rng = rand_pcg::Pcg64Mcg;

/// A generator seeded from `seed`, spreading nearby seeds apart (SplitMix64).
pub fn rng_from_seed(seed: u64) -> Rng {
    use rand::SeedableRng;
    Rng::seed_from_u64(splitmix64(seed))
}

/// SplitMix64's mixing function: derives independent seeds from structured ones (a base seed
/// and a replication index, say).
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An error and its causes on one line, `outer: inner: innermost`, for places that must keep
/// an error as text (a CSV cell, a report's input error). Causes already spelled out by the
/// outer message are not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_the_reference_outputs() {
        // The first outputs of SplitMix64 (Steele, Lea, Flood 2014) from states 0, 1 and
        // 0xdeadbeef, as its reference C code computes them.
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(1), 0x910a_2dec_8902_5cc1);
        assert_eq!(splitmix64(0xdead_beef), 0x4adf_b90f_68c9_eb9b);
    }

    #[derive(Debug)]
    struct Layer {
        text: &'static str,
        cause: Option<Box<Layer>>,
    }

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.text)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.cause.as_deref().map(|c| c as _)
        }
    }

    fn chain(texts: &[&'static str]) -> Layer {
        let mut layer: Option<Box<Layer>> = None;
        for text in texts.iter().rev() {
            layer = Some(Box::new(Layer { text, cause: layer }));
        }
        *layer.unwrap()
    }

    #[test]
    fn an_error_chain_joins_its_causes_and_skips_those_already_said() {
        assert_eq!(
            error_chain(&chain(&["reading run.json", "permission denied"])),
            "reading run.json: permission denied"
        );
        assert_eq!(
            error_chain(&chain(&[
                "reading run.json: permission denied",
                "permission denied",
                "os error 13"
            ])),
            "reading run.json: permission denied: os error 13"
        );
        assert_eq!(error_chain(&chain(&["alone"])), "alone");
    }
}
