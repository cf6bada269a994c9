//! Parsers for the numbers a user gives the measurement mode: every duration and rate is
//! checked before any work starts, so `NaN`, a negative or a zero never reaches a timer.

/// Longest duration accepted anywhere [s]: a week.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Lowest open-loop rate accepted [1/s]: one arrival a day.
pub const MIN_RATE_PER_S: f64 = 1.0 / 86_400.0;

/// Highest open-loop rate accepted [1/s] per partition.
pub const MAX_RATE_PER_S: f64 = 100_000.0;

/// A duration in seconds: finite, above 0, at most a week.
pub fn positive_seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if value.is_finite() && value > 0.0 && value <= MAX_SECONDS {
        Ok(value)
    } else {
        Err(format!(
            "{text} s is not a duration: give a number above 0 and at most {MAX_SECONDS} (a week)"
        ))
    }
}

/// An open-loop arrival rate per partition [1/s].
pub fn rate_per_s(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a rate"))?;
    if value.is_finite() && (MIN_RATE_PER_S..=MAX_RATE_PER_S).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{text}/s is not a usable rate: give one between {MIN_RATE_PER_S:.2e} (one a day) and {MAX_RATE_PER_S} per second"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_refuse_what_no_timer_can_take() {
        assert_eq!(positive_seconds("600"), Ok(600.0));
        assert_eq!(positive_seconds("0.5"), Ok(0.5));
        for bad in ["NaN", "-1", "0", "inf", "1e300", "ten"] {
            assert!(positive_seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(rate_per_s("2.5"), Ok(2.5));
        for bad in ["-1", "NaN", "0", "1e-300", "1e9"] {
            assert!(rate_per_s(bad).is_err(), "{bad}");
        }
    }
}
