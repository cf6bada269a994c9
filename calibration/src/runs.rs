//! Measured runs as calibration and validation read them.

use std::path::{Path, PathBuf};

use faastwin_measure::{InvocationRecord, RunMeta, read_records};

use crate::CalibrationError;

/// One run directory: its metadata and records.
#[derive(Debug, Clone)]
pub struct Run {
    /// The directory.
    pub dir: PathBuf,
    /// `run.json`.
    pub meta: RunMeta,
    /// `invocations.csv`.
    pub records: Vec<InvocationRecord>,
}

impl Run {
    /// Reads `dir/run.json` and `dir/invocations.csv`.
    pub fn load(dir: &Path) -> Result<Run, CalibrationError> {
        let measure = |source| CalibrationError::Measure {
            what: format!("run {}", dir.display()),
            source,
        };
        let meta = RunMeta::read(dir).map_err(measure)?;
        let records = read_records(&dir.join("invocations.csv")).map_err(measure)?;
        if records.is_empty() {
            return Err(CalibrationError::Run {
                dir: dir.to_owned(),
                detail: "invocations.csv holds no invocation".into(),
            });
        }
        Ok(Run {
            dir: dir.to_owned(),
            meta,
            records,
        })
    }

    /// The platform it ran on.
    pub fn platform(&self) -> faastwin_measure::PlatformKind {
        self.meta.options.platform
    }

    /// The function body it ran.
    pub fn workload(&self) -> faastwin_measure::Body {
        self.meta.dataset_spec.body()
    }

    /// Succeeded invocations outside warm-up.
    pub fn warm(&self) -> impl Iterator<Item = &InvocationRecord> {
        self.records.iter().filter(|r| r.succeeded() && !r.warmup)
    }

    /// Partitions that share one node, at most.
    pub fn partitions_per_node(&self) -> u32 {
        let nodes = self.meta.options.nodes.len().max(1) as u32;
        self.meta.options.partitions.div_ceil(nodes)
    }

    /// Invocations in flight on its busiest node at once, closed loop (each partition's window,
    /// summed over the partitions of a node); `None` for an open-loop run, whose load its
    /// arrivals set.
    pub fn in_flight_per_node(&self) -> Option<u32> {
        let window = self.meta.options.policy.window()?;
        Some(self.partitions_per_node() * window)
    }

    /// True when every node the run used owned CPUs of its own (`run.json` names each in
    /// `node_cpus`): logical nodes, or the testbed's real nodes.
    pub fn nodes_own_cpus(&self) -> bool {
        let owned = &self.meta.platform.node_cpus;
        !owned.is_empty()
            && self
                .meta
                .options
                .nodes
                .iter()
                .all(|n| owned.iter().any(|(m, _)| m == n))
    }

    /// Most bodies in flight on one node at once.
    pub fn bodies_per_node(&self) -> u32 {
        let window = self.meta.options.policy.window().unwrap_or(1);
        self.partitions_per_node() * window
    }

    /// A label for errors: `run <dir>`.
    pub fn label(&self) -> String {
        format!("run {}", self.dir.display())
    }
}

/// A run kept under `docs/loops/` (`LOOP/RUN`), for tests.
#[cfg(test)]
pub(crate) fn kept(path: &str) -> Run {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/loops")
        .join(path);
    Run::load(&dir).unwrap_or_else(|e| panic!("kept run {path}: {e}"))
}
