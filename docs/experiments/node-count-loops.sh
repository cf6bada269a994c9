#!/usr/bin/env bash
# Held-out node counts on a real platform (issue 25.3): `faastwin loop --calibration-nodes 1`
# (with `--held-out K --seed S` among the LOOP OPTIONs: K configurations drawn at random, on one
# node or both, instead of B1-B4; issue 30.3)
# on two nodes of one CPU each, calibrated on node 1 alone and predicting, besides B1-B3 on
# node 1, B4-2-nodes (A-small's two partitions per node, on both nodes). The loop is kept as
# docs/loops/NAME (docs/loops/collect.sh) and its printed table as NAME's loop.txt.
#   slurm      the test Slurm's n1, n2 (measure/tests/support/slurm-up.sh 2: one CPU each)
#   ksi        the same nodes, one temporary cluster each
#   k8s        a testbed of two real nodes (faastwin-testbed up --nodes 2), stopped at the end
#   container  two logical nodes (--logical-nodes 2)
#   local      two logical nodes
#
# Usage: docs/experiments/node-count-loops.sh PLATFORM NAME [LOOP OPTION...]
#   e.g. docs/experiments/node-count-loops.sh slurm slurm-1
# Needs target/release/faastwin and faastwin-testbed (cargo build --release).
set -euo pipefail
platform="$1"
name="$2"
shift 2
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${FAASTWIN_BIN:-$root/target/release}"
out="/tmp/loop-$name"
args=(--platform "$platform" --calibration-nodes 1 --out "$out")
case "$platform" in
  slurm) ;;
  ksi) args+=(--ksi-run-workload "$root/testbed/run-workload.sh" --ksi-shared "/tmp/ksi-$name"
              --image-pull-policy Never) ;;
  k8s)
    testbed="/tmp/faastwin-testbed-nodes"
    "$bin/faastwin-testbed" up --nodes 2 --dir "$testbed" > /dev/null
    trap '"$bin/faastwin-testbed" down --dir "$testbed" > /dev/null' EXIT
    # The testbed names its nodes after this host: HOST (CPU 0, and the control plane), HOST-2.
    host="$(cat /proc/sys/kernel/hostname)"
    args+=(--kubeconfig "$testbed/kubeconfig" --image-pull-policy Never --nodes "$host,$host-2") ;;
  container | local) args+=(--logical-nodes 2) ;;
  *) echo "node-count-loops.sh: unknown platform $platform" >&2; exit 2 ;;
esac
# loop exits 1 when the median error exceeds its tolerance: the kept loop is what matters here.
"$bin/faastwin" loop "${args[@]}" "$@" | tee "$out.txt" || true
FAASTWIN="$bin/faastwin" "$root/docs/loops/collect.sh" "$out" "$name" "$out.txt"
