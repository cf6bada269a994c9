//! From measured runs to latency models, and predictions checked against new runs.
//!
//! [`calibrate`] reads run directories ([`Run`]: `run.json` and `invocations.csv`) and fits,
//! per platform, one model per component of the timing layers: client gap, control plane,
//! startup, read, compute, write, completion, KSI's node startup. Each fixed component is
//! fitted by maximum likelihood with five families (lognormal, gamma, weibull, normal, shifted
//! exponential), the family with the lowest AIC is kept unless a Kolmogorov–Smirnov test
//! rejects it (then the empirical distribution is kept); read, compute and write become
//! `a + b·bytes` models. The result is a simulator [`faastwin_sim::Calibration`] whose
//! `provenance` records family, parameters, n, KS statistic and p-value, the runners-up and
//! the method of every component.
//!
//! [`validate`] builds, for a run, the scenario that describes it, simulates it with
//! replications and compares warm makespan, latency quantiles, the mean decomposition and the
//! KS distance between predicted and measured latency distributions.
//!
//! [`run_loop`] closes the loop for real: it measures configuration A, calibrates, then measures
//! and predicts held-out configurations; on Kubernetes it climbs to more partitions while A's
//! latency stays flat ([`next_rung`]).
//!
//! Quantiles everywhere are type 7 ([`faastwin_models::quantile`]), as in measure and sim.

#![warn(missing_docs)]

mod calibrate;
mod closed_loop;
mod error;
pub mod fit;
pub mod interval;
mod runs;
mod validate;

pub use calibrate::{ComponentFit, PlatformFit, calibrate, platform_names, write_fits};
pub use closed_loop::{
    CALIBRATION, HELD_OUT, LoopConfig, LoopOptions, LoopOutcome, LoopPolicy, LoopProgress,
    configurations, next_rung, run_loop,
};
pub use error::CalibrationError;
pub use runs::Run;
pub use validate::{
    ErrorDistribution, IntervalCheck, MetricComparison, RunValidation, ValidationFormat,
    by_platform, coverage, coverage_note, extrapolation_note, median_abs_makespan_error,
    spread_note, validate, within_spread, workload_of, write_validations,
};
