//! The `ksi` platform: the launcher's clusters, each driven as a `k8s` platform.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::launcher::{KsiConfig, KsiLauncher};
use super::startup::{NodeStartup, write_startup};
use crate::k8s::{JobTemplate, K8sPlatform, describe_job};
use crate::platform::{Platform, PlatformInfo};
use crate::{DriverClock, InvocationSpec, MeasureError, Observation, Outcome, PlatformKind};

/// The KSI platform: a launcher and one Kubernetes platform per node cluster.
pub struct KsiPlatform {
    launcher: KsiLauncher,
    template: JobTemplate,
    run_dir: PathBuf,
    clusters: tokio::sync::OnceCell<Vec<(String, K8sPlatform)>>,
}

impl KsiPlatform {
    /// KSI per `config`, Jobs per `template`; startup records go to `run_dir`.
    pub fn new(
        config: KsiConfig,
        template: JobTemplate,
        run_id: &str,
        run_dir: PathBuf,
        clock: DriverClock,
    ) -> Result<Self, MeasureError> {
        Ok(KsiPlatform {
            launcher: KsiLauncher::new(config, run_id, clock)?,
            template: JobTemplate {
                pinning: crate::k8s::Pinning::None,
                ..template
            },
            run_dir,
            clusters: tokio::sync::OnceCell::new(),
        })
    }

    fn write_startup(&self, nodes: &[NodeStartup]) -> Result<(), MeasureError> {
        write_startup(&self.run_dir.join("ksi-startup.csv"), nodes)?;
        self.write_log()
    }

    /// Writes `ksi.log` into the run directory, made if missing (a cleanup before the first
    /// launch, as a loop's first session does, comes before `prepare` has made it).
    fn write_log(&self) -> Result<(), MeasureError> {
        std::fs::create_dir_all(&self.run_dir).map_err(|source| MeasureError::Io {
            path: self.run_dir.clone(),
            source,
        })?;
        let path = self.run_dir.join("ksi.log");
        let text: String = self
            .launcher
            .log()
            .iter()
            .map(|(t, line)| format!("{t} {line}\n"))
            .collect();
        std::fs::write(&path, text).map_err(|source| MeasureError::Io { path, source })
    }
}

#[async_trait]
impl Platform for KsiPlatform {
    async fn prepare(&self, nodes: &[String]) -> Result<PlatformInfo, MeasureError> {
        std::fs::create_dir_all(&self.run_dir).map_err(|source| MeasureError::Io {
            path: self.run_dir.clone(),
            source,
        })?;
        let ready = self.launcher.launch(nodes).await?;
        let log = self.launcher.log();
        let startups: Vec<NodeStartup> = ready
            .iter()
            .map(|c| {
                let mut startup = c.startup.clone();
                for (seen, line) in &log {
                    startup.apply_step(line, *seen);
                }
                startup
            })
            .collect();
        self.write_startup(&startups)?;
        let overhead = startups
            .iter()
            .filter_map(NodeStartup::overhead_s)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let mut clusters = Vec::new();
        for cluster in ready {
            let node = cluster
                .startup
                .node
                .clone()
                .unwrap_or_else(|| format!("procid-{}", cluster.startup.procid));
            let platform = K8sPlatform::new(
                cluster.client,
                self.template.clone(),
                &self.launcher.run_id,
                self.launcher.clock,
            )?
            .as_part_of(PlatformKind::Ksi);
            platform.prepare(&[]).await?;
            clusters.push((node, platform));
        }
        let names: Vec<String> = clusters.iter().map(|(n, _)| n.clone()).collect();
        if let Some(unknown) = nodes.iter().find(|n| !names.contains(n)) {
            return Err(KsiLauncher::fail(format!(
                "unknown node {unknown:?} (KSI started on: {})",
                names.join(", ")
            )));
        }
        if self.clusters.set(clusters).is_err() {
            return Err(KsiLauncher::fail("prepared twice".into()));
        }
        Ok(PlatformInfo {
            versions: vec![
                ("faastwin".into(), env!("CARGO_PKG_VERSION").into()),
                (
                    "ksi".into(),
                    self.launcher.config.run_workload.display().to_string(),
                ),
            ],
            nodes: names,
            startup_overhead_s: overhead,
            ..PlatformInfo::new(PlatformKind::Ksi)
        })
    }

    fn describe_submission(&self, spec: &InvocationSpec) -> String {
        format!(
            "on the KSI cluster of node {}: {}",
            spec.node,
            describe_job(spec, &self.template)
        )
    }

    async fn invoke(
        &self,
        spec: &InvocationSpec,
        clock: &DriverClock,
        timeout: Duration,
    ) -> Observation {
        let cluster = self
            .clusters
            .get()
            .and_then(|cs| cs.iter().find(|(n, _)| *n == spec.node));
        match cluster {
            Some((_, platform)) => platform.invoke(spec, clock, timeout).await,
            None => Observation {
                outcome: Some(Outcome::SubmitError),
                error: Some(format!("no KSI cluster on node {}", spec.node)),
                ..Observation::default()
            },
        }
    }

    async fn cleanup(&self, run_id: &str) -> Result<(), MeasureError> {
        let mut result = Ok(());
        if let Some(clusters) = self.clusters.get() {
            for (_, platform) in clusters {
                if let Err(e) = platform.cleanup(run_id).await {
                    result = Err(e);
                }
            }
        }
        self.launcher.teardown().await;
        self.write_log()?;
        result
    }
}
