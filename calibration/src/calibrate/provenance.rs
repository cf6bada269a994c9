//! The `[provenance]` table of a calibration file: how every component was modelled.

use super::PlatformFit;
use crate::fit::parameters;

/// The provenance of one platform's fit.
pub(super) fn provenance_of(report: &PlatformFit) -> toml::Value {
    let mut table = toml::Table::new();
    table.insert(
        "runs".into(),
        toml::Value::Array(
            report
                .runs
                .iter()
                .cloned()
                .map(toml::Value::String)
                .collect(),
        ),
    );
    table.insert("rows".into(), toml::Value::Integer(report.rows as i64));
    table.insert(
        "row_selection".into(),
        toml::Value::String(
            "every succeeded invocation of the runs that is not a warm-up (outcome = succeeded, warmup = false in invocations.csv)".into(),
        ),
    );
    let mut components = toml::Table::new();
    for c in &report.components {
        let mut t = toml::Table::new();
        t.insert("family".into(), toml::Value::String(c.fit.family.clone()));
        t.insert("n".into(), toml::Value::Integer(c.fit.n as i64));
        for (k, v) in parameters(&c.fit.model) {
            t.insert(k.into(), toml::Value::Float(v));
        }
        if c.fit.aic.is_finite() {
            t.insert("aic".into(), toml::Value::Float(c.fit.aic));
        }
        t.insert(
            "ks_statistic".into(),
            toml::Value::Float(c.fit.ks_statistic),
        );
        t.insert("ks_p_value".into(), toml::Value::Float(c.fit.ks_p_value));
        let runners_up: Vec<toml::Value> = c
            .fit
            .candidates
            .iter()
            .filter(|x| x.family != c.fit.family)
            .map(|x| {
                toml::Value::String(format!(
                    "{} (AIC {:.1}, KS p {:.3})",
                    x.family, x.aic, x.ks_p_value
                ))
            })
            .collect();
        t.insert("runners_up".into(), toml::Value::Array(runners_up));
        if let Some((lo, hi)) = c.bytes_range {
            t.insert(
                "bytes_range".into(),
                toml::Value::Array(vec![
                    toml::Value::Integer(lo as i64),
                    toml::Value::Integer(hi as i64),
                ]),
            );
        }
        t.insert("method".into(), toml::Value::String(c.method.clone()));
        t.insert("note".into(), toml::Value::String(c.fit.note.clone()));
        if c.fit.floored > 0 {
            t.insert(
                "floored_below_1us".into(),
                toml::Value::Integer(c.fit.floored as i64),
            );
        }
        components.insert(c.component.clone(), toml::Value::Table(t));
    }
    table.insert("components".into(), toml::Value::Table(components));
    if let Some(loads) = report.loads {
        table.insert(
            "in_flight_per_node".into(),
            crate::interval::loads_toml(loads),
        );
    }
    if !report.run_to_run.is_empty() {
        table.insert(
            faastwin_sim::interval::RUN_TO_RUN.into(),
            crate::interval::run_to_run_toml(&report.run_to_run),
        );
    }
    toml::Value::Table(table)
}
