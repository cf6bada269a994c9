#!/usr/bin/env bash
# KSI's run-workload.sh for the faastwin testbed, with KSI's contract (gwdg/pub-2025-ksi):
#
#   srun -N<n> bash run-workload.sh WORKLOAD SHARED
#
# On every node of the allocation (one Slurm task each) it starts a temporary single-node
# Kubernetes (kine, API server, controller manager, scheduler, kubelet with containerd; what
# `faastwin-testbed up` starts), writes its kubeconfig to SHARED/kubeconfig-liqo-$SLURM_PROCID.yaml,
# runs WORKLOAD with KUBECONFIG pointing at it, and tears the cluster down when WORKLOAD returns
# (or the step is cancelled). faastwin gives each run its own SHARED
# (`<--ksi-shared>/faastwin-<run>`), and its WORKLOAD returns once the measuring process stops
# touching SHARED/alive for two minutes, so a killed driver leaves no cluster running.
# Each startup step is printed as it is reached:
#
#   [ksi <procid> <node>] testbed: step <name> <seconds since the cluster's start>
#
# Needs `faastwin-testbed build` to have run once (the components and the worker image are
# taken from its cache; nothing is built inside a Slurm step). FAASTWIN_TESTBED overrides the
# testbed binary, FAASTWIN_TESTBED_CACHE its cache.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: run-workload.sh WORKLOAD SHARED" >&2
  exit 2
fi
workload="$1"
shared="$2"
procid="${SLURM_PROCID:-0}"
node="${SLURMD_NODENAME:-$(hostname -s)}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
testbed="${FAASTWIN_TESTBED:-$here/../target/release/faastwin-testbed}"
dir="$shared/ksi-${SLURM_JOB_ID:-local}-$procid"
kubeconfig="$shared/kubeconfig-liqo-$procid.yaml"

say() { echo "[ksi $procid $node] $*"; }

if [ ! -x "$testbed" ]; then
  say "no testbed binary at $testbed (cargo build --release, or set FAASTWIN_TESTBED)" >&2
  exit 3
fi

teardown() {
  status=$?
  say "deleting cluster"
  rm -f "$kubeconfig"
  if "$testbed" down --dir "$dir" >"$dir.down.log" 2>&1; then
    # What a user may want of the cluster is its components' logs; the rest (its datastore,
    # images, credentials: about 10 MB a node) goes with it.
    rm -rf "$dir.logs"
    if [ -d "$dir/logs" ]; then
      mv "$dir/logs" "$dir.logs"
      mv "$dir.down.log" "$dir.logs/down.log"
    fi
    rm -rf "$dir"
    say "cluster deleted; its logs are in $dir.logs"
  else
    say "teardown failed: see $dir.down.log" >&2
  fi
  exit "$status"
}
trap teardown EXIT
trap 'exit 143' TERM INT

say "creating cluster (node $node) in $dir"
# Clusters of the other tasks start on the same host at the same moment: a port chosen free
# may be taken before its component binds it. `up` then fails at once, naming the component;
# the cluster is removed and started again (three attempts).
attempt=1
until "$testbed" up --dir "$dir" --node "$node" --no-probe --no-worker-image \
  --kubeconfig "$kubeconfig" 2> >(sed -u "s/^/[ksi $procid $node] /" >&2) >/dev/null; do
  if [ "$attempt" -ge 3 ]; then
    say "cluster did not start in $attempt attempts" >&2
    exit 1
  fi
  say "cluster start failed (attempt $attempt); removing it and starting again" >&2
  "$testbed" down --dir "$dir" >"$dir.down.log" 2>&1 || true
  attempt=$((attempt + 1))
done
say "cluster ready"
KUBECONFIG="$kubeconfig" bash "$workload"
say "workload done"
