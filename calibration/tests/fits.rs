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
