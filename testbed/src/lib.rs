//! A real Kubernetes on one machine, built from source, shaped like the clusters faastwin
//! measures.
//!
//! ```text
//!  faastwin-testbed build   Go modules ──go build──▶ kube-apiserver, kube-controller-manager,
//!                           (cached by a stamp)        kube-scheduler, kubelet, kubectl, kine, kwok
//!                           pause.c ──gcc -static──▶ pause image; worker image (podman) → OCI archives
//!
//!  faastwin-testbed up      kine (SQLite) ◀── kube-apiserver ◀── controller manager, scheduler
//!                                                  ▲
//!                           containerd ◀── kubelet ┘ (one real node; images imported, never pulled)
//!                           kwok ── M fake nodes (optional, control-plane experiments)
//!                           → DIR/kubeconfig, once a Job can be accepted (and, with --probe, run)
//!
//!  faastwin-testbed down    stops only what `up` started (pid files, checked against the command
//!                           line), removes its pods' cgroups, mounts, bridge and IPAM state
//! ```
//!
//! Everything an instance creates lives under its directory, its `/run/faastwin-testbed/<id>`
//! socket directory and its cgroup `/faastwin-<id>`, so several instances (KSI's one cluster per
//! Slurm node, on one host) run side by side. Ports are chosen free at start and recorded in
//! `DIR/testbed.json`.

#![warn(missing_docs)]

pub mod build;
mod cluster;
mod config;
mod error;
pub mod node;
mod pki;
mod process;
mod ready;

pub use build::{Artifacts, BuildOptions, KUBERNETES_VERSION};
pub use cluster::{Instance, StartupStep, UpOptions, down, restart, status, up};
pub use error::TestbedError;
