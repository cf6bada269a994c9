//! Behaviour of the latency models: sampling agrees with the analytic moments and quantiles,
//! the serde form round-trips and bad parameters are named.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use faastwin_models::{Distribution, RawDistribution, SizeModel, quantile, rng_from_seed};
use proptest::prelude::*;

fn families() -> Vec<Distribution> {
    let raw = [
        r#"family = "constant"
value = 2.5"#,
        r#"family = "uniform"
low = 1.0
high = 3.0"#,
        r#"family = "normal"
mean = 1.0
std = 0.8"#,
        r#"family = "lognormal"
mu = 0.3
sigma = 0.4"#,
        r#"family = "gamma"
shape = 2.5
scale = 0.4"#,
        r#"family = "weibull"
shape = 1.7
scale = 2.0"#,
        r#"family = "shifted_exponential"
shift = 0.5
rate = 2.0"#,
        r#"family = "empirical"
values = [1.0, 2.0, 2.0, 3.5, 7.0]"#,
        r#"family = "quantile_table"
points = [[0.0, 1.0], [0.5, 2.0], [0.9, 3.0], [1.0, 6.0]]"#,
        r#"family = "mixture"
components = [ { weight = 3.0, model = { family = "constant", value = 1.0 } },
               { weight = 1.0, model = { family = "uniform", low = 2.0, high = 4.0 } } ]"#,
    ];
    raw.iter().map(|s| toml::from_str(s).unwrap()).collect()
}

#[test]
fn sample_mean_and_quantiles_agree_with_the_analytic_ones() {
    let mut rng = rng_from_seed(7);
    for d in families() {
        let mut draws: Vec<f64> = (0..200_000).map(|_| d.sample(&mut rng)).collect();
        assert!(
            draws.iter().all(|x| *x >= 0.0),
            "{} drew a negative value",
            d.family()
        );
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!(
            (mean - d.mean()).abs() <= 0.01 * d.mean(),
            "{}: sample mean {mean}, analytic {}",
            d.family(),
            d.mean()
        );
        draws.sort_by(f64::total_cmp);
        for p in [0.1, 0.5, 0.9] {
            let q = d.quantile(p);
            let sample_q = quantile::sorted(&draws, p).unwrap();
            if d.family() == "empirical" || d.family() == "mixture" {
                // Atoms: compare through the CDF instead of the value.
                assert!(d.cdf(sample_q) >= p - 0.01, "{} p={p}", d.family());
                continue;
            }
            assert!(
                (q - sample_q).abs() <= 0.02 * q.max(0.05),
                "{} p={p}: {q} vs sample {sample_q}",
                d.family()
            );
            if d.family() != "constant" {
                assert!(
                    (d.cdf(q) - p).abs() < 1e-6,
                    "{}: cdf(quantile({p})) = {}",
                    d.family(),
                    d.cdf(q)
                );
            }
        }
    }
}

#[test]
fn serde_form_round_trips() {
    for d in families() {
        let text = toml::to_string(&d).unwrap();
        let back: Distribution = toml::from_str(&text).unwrap();
        assert_eq!(back, d, "{text}");
    }
    let size: SizeModel = toml::from_str(
        "latency = { family = \"constant\", value = 0.1 }\nper_byte = { family = \"constant\", value = 1e-8 }",
    )
    .unwrap();
    assert!((size.mean(1e8) - 1.1).abs() < 1e-12);
    assert_eq!(
        toml::from_str::<SizeModel>(&toml::to_string(&size).unwrap()).unwrap(),
        size
    );
}

#[test]
fn bad_parameters_name_family_field_and_range() {
    let err = toml::from_str::<Distribution>("family = \"lognormal\"\nmu = 0.0\nsigma = -1.0")
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("lognormal") && msg.contains("sigma") && msg.contains(">= 0"),
        "{msg}"
    );

    let err = Distribution::new(RawDistribution::Gamma {
        shape: 0.0,
        scale: 1.0,
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("gamma: shape = 0"), "{err}");

    let err = toml::from_str::<Distribution>("family = \"uniform\"\nlow = 3.0\nhigh = 1.0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("high") && err.contains(">= low"), "{err}");

    let err =
        toml::from_str::<Distribution>("family = \"gamma\"\nshape = 1.0\nscale = 1.0\nrate = 2.0")
            .unwrap_err()
            .to_string();
    assert!(err.contains("rate"), "unknown field named: {err}");

    let err = toml::from_str::<Distribution>("family = \"poisson\"\nlambda = 1.0")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("poisson") && err.contains("lognormal"),
        "lists the known families: {err}"
    );

    let err = Distribution::new(RawDistribution::QuantileTable {
        points: vec![[0.0, 1.0], [0.5, 0.5], [1.0, 2.0]],
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("decreases"), "{err}");
    assert!(Distribution::new(RawDistribution::Empirical { values: vec![] }).is_err());
}

#[test]
fn truncated_normal_mean_accounts_for_the_cut() {
    // Half-normal: mean 0, std 1 truncated at 0 has mean sqrt(2/pi).
    let d = Distribution::new(RawDistribution::Normal {
        mean: 0.0,
        std: 1.0,
    })
    .unwrap();
    assert!((d.mean() - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-9);
}

proptest! {
    #[test]
    fn same_seed_same_stream(seed in any::<u64>(), mu in -3.0f64..3.0, sigma in 0.0f64..2.0) {
        let d = Distribution::new(RawDistribution::Lognormal { mu, sigma }).unwrap();
        let (mut a, mut b) = (rng_from_seed(seed), rng_from_seed(seed));
        for _ in 0..16 {
            prop_assert_eq!(d.sample(&mut a).to_bits(), d.sample(&mut b).to_bits());
        }
    }

    #[test]
    fn quantiles_are_monotone(shape in 0.2f64..10.0, scale in 0.01f64..10.0, p in 0.0f64..0.99) {
        for d in [
            Distribution::new(RawDistribution::Gamma { shape, scale }).unwrap(),
            Distribution::new(RawDistribution::Weibull { shape, scale }).unwrap(),
        ] {
            prop_assert!(d.quantile(p) <= d.quantile(p + 0.01) + 1e-12);
        }
    }
}

fn model(text: &str) -> Distribution {
    toml::from_str(text).unwrap()
}

fn close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() < 1e-9, "{what}: {got} vs {want}");
}

/// The CDF and quantile of every family at points computed by hand, below, inside and above
/// the support.
#[test]
fn cdf_and_quantile_match_hand_computed_values() {
    let e1 = 1.0 - (-1.0f64).exp();
    let cases: [(&str, &[(f64, f64)]); 10] = [
        (
            r#"family = "constant"
value = 2.0"#,
            &[(1.99, 0.0), (2.0, 1.0), (9.0, 1.0)],
        ),
        (
            r#"family = "uniform"
low = 1.0
high = 3.0"#,
            &[(0.5, 0.0), (1.5, 0.25), (2.5, 0.75), (3.0, 1.0)],
        ),
        (
            r#"family = "weibull"
shape = 2.0
scale = 1.5"#,
            &[(-1.0, 0.0), (1.5, e1), (3.0, 1.0 - (-4.0f64).exp())],
        ),
        (
            r#"family = "shifted_exponential"
shift = 0.1
rate = 5.0"#,
            &[(0.1, 0.0), (0.3, e1), (0.5, 1.0 - (-2.0f64).exp())],
        ),
        (
            r#"family = "lognormal"
mu = 0.0
sigma = 1.0"#,
            &[
                (0.0, 0.0),
                (1.0, 0.5),
                (std::f64::consts::E, 0.841_344_746_068_542_9),
            ],
        ),
        (
            r#"family = "gamma"
shape = 1.0
scale = 2.0"#,
            &[(0.0, 0.0), (2.0, e1), (4.0, 1.0 - (-2.0f64).exp())],
        ),
        // Truncated at 0, but 10 standard deviations away: the plain normal's values.
        (
            r#"family = "normal"
mean = 10.0
std = 1.0"#,
            &[(-1.0, 0.0), (10.0, 0.5), (11.0, 0.841_344_746_068_542_9)],
        ),
        (
            r#"family = "empirical"
values = [4.0, 1.0, 3.0, 2.0]"#,
            &[(0.5, 0.0), (2.0, 0.5), (2.5, 0.5), (4.0, 1.0)],
        ),
        (
            r#"family = "quantile_table"
points = [[0.0, 1.0], [0.5, 2.0], [1.0, 4.0]]"#,
            &[(0.5, 0.0), (1.5, 0.25), (2.0, 0.5), (3.0, 0.75), (5.0, 1.0)],
        ),
        (
            r#"family = "mixture"
components = [ { weight = 1.0, model = { family = "constant", value = 1.0 } },
               { weight = 3.0, model = { family = "uniform", low = 2.0, high = 4.0 } } ]"#,
            &[
                (0.5, 0.0),
                (1.0, 0.25),
                (3.0, 0.25 + 0.75 * 0.5),
                (4.0, 1.0),
            ],
        ),
    ];
    for (text, points) in cases {
        let d = model(text);
        for &(x, p) in points {
            close(d.cdf(x), p, &format!("{} cdf({x})", d.family()));
            // Inside the support of a continuous family, the quantile inverts the CDF.
            let continuous = !matches!(d.family(), "constant" | "empirical" | "mixture");
            if continuous && p > 0.0 && p < 1.0 {
                close(d.quantile(p), x, &format!("{} quantile({p})", d.family()));
            }
        }
    }
}

/// Mixtures have no closed-form quantile: bisection finds the smallest value whose CDF reaches
/// p, also far above the first bracket [0, 1].
#[test]
fn mixture_quantiles_invert_the_cdf_by_bisection() {
    let d = model(
        r#"family = "mixture"
components = [ { weight = 1.0, model = { family = "uniform", low = 5000.0, high = 6000.0 } },
               { weight = 1.0, model = { family = "uniform", low = 7000.0, high = 9000.0 } } ]"#,
    );
    close(d.quantile(0.25), 5500.0, "first component's median");
    close(d.quantile(0.75), 8000.0, "second component's median");
    close(d.quantile(0.5), 6000.0, "the gap between them");
    let small = model(
        r#"family = "mixture"
components = [ { weight = 1.0, model = { family = "uniform", low = 0.2, high = 0.4 } },
               { weight = 1.0, model = { family = "constant", value = 0.6 } } ]"#,
    );
    close(small.quantile(0.25), 0.3, "below the first bracket");
    close(small.quantile(0.9), 0.6, "an atom");
}

/// `a + b·bytes` with its two terms drawn per call: constant terms give the sum exactly.
#[test]
fn a_size_model_adds_the_fixed_part_to_the_per_byte_part_times_bytes() {
    let mut rng = rng_from_seed(1);
    let both = SizeModel {
        latency: Some(Distribution::constant(0.5).unwrap()),
        per_byte: Some(Distribution::constant(2e-9).unwrap()),
    };
    close(both.sample(3e9, &mut rng), 6.5, "both terms");
    close(both.mean(3e9), 6.5, "mean");
    let fixed = SizeModel::fixed(Distribution::constant(0.5).unwrap());
    close(fixed.sample(3e9, &mut rng), 0.5, "fixed only");
    let per_byte = SizeModel {
        latency: None,
        per_byte: Some(Distribution::constant(2e-9).unwrap()),
    };
    close(per_byte.sample(3e9, &mut rng), 6.0, "per byte only");
    close(SizeModel::default().sample(3e9, &mut rng), 0.0, "absent");
}

/// What the mutants of `cdf`, `quantile`, `mean` and equality showed unpinned: the cut of the
/// truncated normal, a lognormal without spread, type-7 quantiles of empirical values, the
/// table's mean, and equality by parameters.
#[test]
fn edges_of_the_families_are_pinned() {
    let phi_minus_1 = 0.158_655_253_931_457_07;
    let normal = model("family = \"normal\"\nmean = 1.0\nstd = 1.0");
    close(normal.cdf(-1.0), 0.0, "nothing below the cut at 0");
    close(
        normal.cdf(1.0),
        (0.5 - phi_minus_1) / (1.0 - phi_minus_1),
        "truncated normal at its mean",
    );
    let point = model("family = \"lognormal\"\nmu = 0.0\nsigma = 0.0");
    close(point.cdf(0.5), 0.0, "lognormal, sigma 0, below e^mu");
    close(point.cdf(1.0), 1.0, "at e^mu");
    close(point.cdf(2.0), 1.0, "above e^mu");
    let empirical = model("family = \"empirical\"\nvalues = [4.0, 1.0, 3.0, 2.0]");
    close(empirical.quantile(0.5), 2.5, "type 7 interpolates");
    close(empirical.quantile(0.25), 1.75, "type 7 at 0.25");
    let table = model("family = \"quantile_table\"\npoints = [[0.0, 1.0], [0.5, 2.0], [1.0, 4.0]]");
    close(
        table.mean(),
        0.5 * 1.5 + 0.5 * 3.0,
        "table mean: trapezoids",
    );
    close(
        table.quantile(1.0),
        4.0,
        "table quantile at 1: the last value",
    );
    close(
        table.quantile(0.0),
        1.0,
        "table quantile at 0: the first value",
    );
    close(
        model("family = \"uniform\"\nlow = 1.0\nhigh = 4.0").mean(),
        2.5,
        "uniform mean",
    );
    assert!(normal != point, "different families differ");
    assert!(
        model("family = \"constant\"\nvalue = 1.0") != model("family = \"constant\"\nvalue = 2.0"),
        "different parameters differ"
    );
    assert!(normal == model("family = \"normal\"\nmean = 1.0\nstd = 1.0"));
}

/// A stage with neither term takes no time and says so; either term alone makes it non-zero.
#[test]
fn a_size_model_is_zero_only_without_both_terms() {
    let d = || Some(Distribution::constant(1.0).unwrap());
    assert!(SizeModel::default().is_zero());
    assert!(
        !SizeModel {
            latency: d(),
            per_byte: None
        }
        .is_zero()
    );
    assert!(
        !SizeModel {
            latency: None,
            per_byte: d()
        }
        .is_zero()
    );
}

/// A quantile table needs two points at least, from probability 0 to 1, increasing, with
/// values that never decrease; two points are enough.
#[test]
fn quantile_tables_are_checked_point_by_point() {
    let table = |points: &str| {
        toml::from_str::<Distribution>(&format!("family = \"quantile_table\"\npoints = {points}"))
    };
    assert!(table("[[0.0, 1.0], [1.0, 2.0]]").is_ok());
    for bad in [
        "[[0.0, 1.0]]",
        "[[0.1, 1.0], [1.0, 2.0]]",
        "[[0.0, 1.0], [0.9, 2.0]]",
        "[[0.0, 1.0], [0.5, 2.0], [0.5, 3.0], [1.0, 4.0]]",
        "[[0.0, 2.0], [1.0, 1.0]]",
        "[[0.0, -1.0], [1.0, 1.0]]",
    ] {
        let err = table(bad).expect_err(bad).to_string();
        assert!(err.contains("points"), "{bad}: {err}");
    }
}
