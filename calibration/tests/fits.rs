//! Maximum-likelihood fits recover the parameters of synthetic samples (10,000 draws, within
//! 2 %, per family); the choice by AIC picks the generating family; bad input is refused with
//! the component named.

use faastwin_calibration::fit::{
    fit, fit_family, ks_p_value, ks_statistic, ks_two_sample, parameters,
};
use faastwin_models::{Distribution, RawDistribution, rng_from_seed};

fn draws(raw: RawDistribution, n: usize, seed: u64) -> Vec<f64> {
    let d = Distribution::new(raw).unwrap();
    let mut rng = rng_from_seed(seed);
    (0..n).map(|_| d.sample(&mut rng)).collect()
}

fn close(name: &str, got: f64, want: f64) {
    assert!(
        (got / want - 1.0).abs() <= 0.02,
        "{name}: fitted {got}, generating {want}"
    );
}

#[test]
fn every_family_recovers_its_parameters_within_2_percent() {
    let cases = [
        RawDistribution::Lognormal {
            mu: -0.5,
            sigma: 0.3,
        },
        RawDistribution::Gamma {
            shape: 3.0,
            scale: 0.4,
        },
        RawDistribution::Weibull {
            shape: 1.8,
            scale: 2.5,
        },
        RawDistribution::Normal {
            mean: 4.0,
            std: 0.5,
        },
        RawDistribution::ShiftedExponential {
            shift: 0.8,
            rate: 4.0,
        },
    ];
    for (i, raw) in cases.into_iter().enumerate() {
        let model = Distribution::new(raw.clone()).unwrap();
        let sample = draws(raw, 10_000, i as u64);
        let fitted = fit_family(&sample, model.family()).unwrap();
        assert_eq!(parameters(&fitted).len(), 2, "{}", model.family());
        for ((name, got), (_, want)) in parameters(&fitted).into_iter().zip(parameters(&model)) {
            if name == "mu" {
                // mu = ln(median) may be near zero: compare the median instead.
                close("median", got.exp(), want.exp());
            } else {
                close(&format!("{} {name}", model.family()), got, want);
            }
        }
    }
}

#[test]
fn weibull_shape_is_unbiased_over_seeds() {
    let mut shapes = Vec::new();
    for seed in 0..8 {
        let sample = draws(
            RawDistribution::Weibull {
                shape: 1.8,
                scale: 2.5,
            },
            10_000,
            seed,
        );
        shapes.push(parameters(&fit_family(&sample, "weibull").unwrap())[0].1);
    }
    eprintln!("weibull shapes {shapes:?}");
    let mean = shapes.iter().sum::<f64>() / shapes.len() as f64;
    close("mean weibull shape", mean, 1.8);
}

#[test]
fn aic_picks_the_generating_family() {
    let cases = [
        (
            "lognormal",
            RawDistribution::Lognormal {
                mu: 0.0,
                sigma: 0.8,
            },
        ),
        (
            "weibull",
            RawDistribution::Weibull {
                shape: 0.7,
                scale: 1.0,
            },
        ),
        (
            "normal",
            RawDistribution::Normal {
                mean: 10.0,
                std: 1.0,
            },
        ),
        (
            "shifted_exponential",
            RawDistribution::ShiftedExponential {
                shift: 2.0,
                rate: 1.0,
            },
        ),
    ];
    for (i, (family, raw)) in cases.into_iter().enumerate() {
        let report = fit(&draws(raw, 10_000, 7 + i as u64), "test component").unwrap();
        assert_eq!(report.family, family, "{:?}", report.candidates);
        assert!(report.ks_p_value > 0.01);
        assert!(
            report.candidates.windows(2).all(|w| w[0].aic <= w[1].aic),
            "sorted by AIC"
        );
    }
}

#[test]
fn a_shape_no_family_fits_falls_back_to_the_empirical_distribution() {
    // Two well separated modes: every unimodal family is rejected by KS.
    let mut sample = draws(
        RawDistribution::Normal {
            mean: 1.0,
            std: 0.05,
        },
        2_000,
        1,
    );
    sample.extend(draws(
        RawDistribution::Normal {
            mean: 5.0,
            std: 0.05,
        },
        2_000,
        2,
    ));
    let report = fit(&sample, "bimodal").unwrap();
    assert_eq!(report.family, "quantile_table");
    assert!(report.note.contains("rejected by KS"), "{}", report.note);
    assert!(
        report.ks_statistic < 0.02,
        "the empirical model matches its data: {}",
        report.ks_statistic
    );
}

#[test]
fn ties_zeros_and_constant_samples_are_handled() {
    let zeros = fit(&[0.0, 0.0, 0.001, 0.002, 0.0015, 0.0], "gap").unwrap();
    assert_eq!(zeros.floored, 3, "zeros raised to the 1 µs floor");
    let constant = fit(&[0.25, 0.25, 0.25], "ties").unwrap();
    assert_eq!(constant.family, "constant");
    assert_eq!(constant.model.mean(), 0.25);
    assert_eq!(parameters(&constant.model), vec![("value", 0.25)]);
}

#[test]
fn empty_and_single_value_input_name_the_component() {
    let err = fit(&[], "platform slurm, component startup (runs /r1)")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("component startup") && err.contains("/r1") && err.contains("0 value"),
        "{err}"
    );
    let err = fit(&[1.0], "platform local, component completion")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("completion") && err.contains("1 value"),
        "{err}"
    );
    let err = fit(&[1.0, f64::NAN], "c").unwrap_err().to_string();
    assert!(err.contains("not finite"), "{err}");
}

#[test]
fn ks_statistics_match_hand_computed_values() {
    // Uniform(0, 1) against the sample {0.1, 0.5, 0.9}: D = max(|i/n - F|, |(i+1)/n - F|) = 0.2333
    let model = Distribution::new(RawDistribution::Uniform {
        low: 0.0,
        high: 1.0,
    })
    .unwrap();
    let d = ks_statistic(&[0.1, 0.5, 0.9], &model);
    assert!((d - (1.0 / 3.0 - 0.1)).abs() < 1e-12, "{d}");
    assert_eq!(ks_two_sample(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
    assert_eq!(ks_two_sample(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
    // The 5 % critical value of the Kolmogorov distribution is 1.358 / sqrt(n) for large n.
    let p = ks_p_value(1.358 / 100.0, 10_000);
    assert!((p - 0.05).abs() < 0.005, "{p}");
}

/// The density from the model's own CDF (central difference), independent of the fit code.
fn ln_pdf(model: &Distribution, x: f64) -> f64 {
    let h = 1e-6 * x;
    ((model.cdf(x + h) - model.cdf(x - h)) / (2.0 * h)).ln()
}

#[test]
fn every_candidates_aic_is_four_minus_twice_its_log_likelihood() {
    let sample = draws(
        RawDistribution::Gamma {
            shape: 4.0,
            scale: 0.1,
        },
        300,
        11,
    );
    let report = fit(&sample, "aic").unwrap();
    let families: std::collections::BTreeSet<&str> = report
        .candidates
        .iter()
        .map(|c| c.family.as_str())
        .collect();
    assert_eq!(
        families,
        [
            "gamma",
            "lognormal",
            "normal",
            "shifted_exponential",
            "weibull"
        ]
        .into_iter()
        .collect(),
        "every family is a candidate under its own name"
    );
    for c in &report.candidates {
        let model = fit_family(&sample, &c.family).unwrap();
        let ll: f64 = sample.iter().map(|&x| ln_pdf(&model, x)).sum();
        let want = 2.0 * 2.0 - 2.0 * ll;
        assert!(
            (c.aic - want).abs() < 1e-4 * want.abs().max(1.0),
            "{}: AIC {} against {want} from the CDF",
            c.family,
            c.aic
        );
        let d = ks_statistic(
            &{
                let mut s = sample.clone();
                s.sort_by(f64::total_cmp);
                s
            },
            &model,
        );
        assert_eq!(c.ks_statistic, d, "{}", c.family);
    }
}

#[test]
fn only_values_below_the_floor_are_counted_as_floored() {
    // 0 and 1e-9 are raised to 1 µs; 1 µs itself is not below it.
    let report = fit(&[0.0, 1e-9, 1e-6, 0.5, 0.7, 0.9], "floor").unwrap();
    assert_eq!(report.floored, 2);
}

#[test]
fn a_gamma_shape_beyond_the_search_range_is_not_fitted() {
    // Nearly constant values: the gamma shape would be ~1e8, beyond the bracket [1e-4, 1e7].
    let sample: Vec<f64> = (0..50).map(|i| 1.0 + 1e-4 * f64::from(i % 2)).collect();
    assert!(fit_family(&sample, "gamma").is_none());
    // Within the bracket it is found.
    let spread: Vec<f64> = (0..50).map(|i| 1.0 + 0.1 * f64::from(i % 2)).collect();
    let shape = parameters(&fit_family(&spread, "gamma").unwrap())[0].1;
    assert!(shape > 100.0 && shape < 1e7, "{shape}");
}

#[test]
fn the_shifted_exponential_takes_the_bias_corrected_shift_by_hand() {
    // min 1, mean 2.5, excess 1.5: shift = 1 - 1.5 / 3 = 0.5, rate = 1 / (2.5 - 0.5).
    let model = fit_family(&[4.0, 1.0, 3.0, 2.0], "shifted_exponential").unwrap();
    assert_eq!(parameters(&model), vec![("shift", 0.5), ("rate", 0.5)]);
    // A shift that would fall below zero is zero.
    let model = fit_family(&[0.1, 0.2, 3.0], "shifted_exponential").unwrap();
    assert_eq!(parameters(&model)[0], ("shift", 0.0));
}

#[test]
fn ks_statistics_take_the_larger_side_and_either_sample_may_run_out_first() {
    let uniform = Distribution::new(RawDistribution::Uniform {
        low: 0.0,
        high: 1.0,
    })
    .unwrap();
    // Above the CDF: D = 1 - 0.3 at the last value.
    let d = ks_statistic(&[0.1, 0.2, 0.3], &uniform);
    assert!((d - 0.7).abs() < 1e-12, "{d}");
    // Below it: D = 0.7 - 0 at the first value.
    let d = ks_statistic(&[0.7, 0.8, 0.9], &uniform);
    assert!((d - 0.7).abs() < 1e-12, "{d}");
    assert_eq!(ks_two_sample(&[3.0, 4.0], &[1.0, 2.0]), 1.0);
    // Ties across the samples step together: {1, 2} against {2, 3}: D = 1/2 at 1 and at 2.
    assert_eq!(ks_two_sample(&[1.0, 2.0], &[2.0, 3.0]), 0.5);
}

#[test]
fn ks_p_values_follow_kolmogorov_with_stephens_correction_at_small_n() {
    // Stephens: the 5 % critical value at n = 10 is 1.358 / (sqrt(10) + 0.12 + 0.11 / sqrt(10)).
    let sqrt_n = 10f64.sqrt();
    let p = ks_p_value(1.358 / (sqrt_n + 0.12 + 0.11 / sqrt_n), 10);
    assert!((p - 0.05).abs() < 5e-4, "{p}");
    // Q(0.8) = 0.5441, where the series' second term counts (with its sign).
    let p = ks_p_value(0.8 / (10.0 + 0.12 + 0.011), 100);
    assert!((p - 0.5441).abs() < 2e-4, "{p}");
    // Tiny distances: p = 1 exactly, not a partial sum of a slowly converging series.
    assert_eq!(ks_p_value(0.001, 100), 1.0);
    assert!(ks_p_value(0.5, 100) < 1e-9, "a large distance is no fit");
}
