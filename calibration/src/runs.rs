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
        let fail = |detail: String| CalibrationError::Run {
            dir: dir.to_owned(),
            detail,
        };
        let meta_path = dir.join("run.json");
        let text = std::fs::read_to_string(&meta_path)
            .map_err(|e| fail(format!("{}: {e}", meta_path.display())))?;
        let meta: RunMeta = serde_json::from_str(&text)
            .map_err(|e| fail(format!("{}: {e}", meta_path.display())))?;
        let records =
            read_records(&dir.join("invocations.csv")).map_err(|e| fail(e.to_string()))?;
        if records.is_empty() {
            return Err(fail("invocations.csv holds no invocation".into()));
        }
        Ok(Run {
            dir: dir.to_owned(),
            meta,
            records,
        })
    }

    /// Platform name.
    pub fn platform(&self) -> &str {
        &self.meta.options.platform
    }

    /// relay | etl.
    pub fn workload(&self) -> &'static str {
        match self.meta.dataset_spec {
            faastwin_workers::dataset::DatasetSpec::Relay { .. } => "relay",
            faastwin_workers::dataset::DatasetSpec::Etl { .. } => "etl",
        }
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

    /// Most bodies in flight on one node at once.
    pub fn bodies_per_node(&self) -> u32 {
        let window = match self.meta.options.policy {
            faastwin_measure::SubmitPolicy::Window { size } => size,
            _ => 1,
        };
        self.partitions_per_node() * window
    }

    /// A label for errors: `run <dir>`.
    pub fn label(&self) -> String {
        format!("run {}", self.dir.display())
    }
}
