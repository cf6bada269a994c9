#!/usr/bin/env bash
# Does the control plane's cost per Job grow with the number of nodes (issue 25.2)? The
# testbed's real API server, controller manager and scheduler with M fake nodes (kwok; their
# pods run no body), M = 32, 10, 100, 1000. Jobs go through the scheduler (`--pin
# node-selector`: it filters every node to find the one its selector names), spread over all
# M nodes; 1 and 8 partitions, JOBS_PER_PARTITION Jobs each, REPETITIONS repetitions. The
# calibration from the 32-node runs then predicts every other node count
# (docs/experiments/fake-nodes-curve.csv: measured and predicted warm makespan).
#
# Usage: docs/experiments/fake-nodes-curve.sh [JOBS_PER_PARTITION] [REPETITIONS]
# Needs `cargo build --release` and the testbed's components (faastwin-testbed build).
set -euo pipefail
per_partition="${1:-10}"
repetitions="${2:-3}"
rounds="${3:-1}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release"
work="${FAASTWIN_CURVE_DIR:-/tmp/faastwin-fake-nodes-curve}"
mkdir -p "$work"
"$bin/faastwin" dataset relay --count $((8 * per_partition)) --out "$work/data" 2> /dev/null
out="$root/docs/experiments/fake-nodes-curve.csv"
measure_at() {  # NODES: testbed up with NODES fake nodes, runs at 1 and 8 partitions
  local m="$1" testbed="$work/testbed-$1" p
  "$bin/faastwin-testbed" up --dir "$testbed" --fake-nodes "$m" --no-probe > /dev/null
  local nodes; nodes=$(seq -s, -f 'fake-%g' 0 $((m - 1)))
  for p in 1 8; do
    rm -rf "$work/runs/m$m-p$p"
    "$bin/faastwin" measure --platform k8s --kubeconfig "$testbed/kubeconfig" --no-body \
      --pin node-selector --nodes "$nodes" --partitions "$p" --invocations $((p * per_partition)) \
      --repetitions "$repetitions" --dataset "$work/data" --out "$work/runs/m$m-p$p" > /dev/null
    echo "$m fake nodes, $p partitions: measured" >&2
  done
  "$bin/faastwin-testbed" down --dir "$testbed" > /dev/null
}
echo "round,fake_nodes,partitions,measured_warm_makespan_s,predicted_s,error_pct,measured_p50_s,predicted_p50_s" > "$out"
for round in $(seq "$rounds"); do
  for m in 32 10 100 1000; do measure_at "$m"; done
  "$bin/faastwin" calibrate "$work"/runs/m32-p* --out "$work/calibration-32.toml" > /dev/null 2>&1
  for m in 10 32 100 1000; do
    for p in 1 8; do
      { "$bin/faastwin" validate --calibration "$work/calibration-32.toml" --runs "$work/runs/m$m-p$p" \
          --format csv 2> /dev/null || true; } |
        awk -F, -v r="$round" -v m="$m" -v p="$p" '
          $3 == "warm_makespan_s" { mk = $4; pk = $5; e = 100 * $7 }
          $3 == "p50_latency_s" { m50 = $4; p50 = $5 }
          END { printf "%s,%s,%s,%.3f,%.3f,%+.1f,%.3f,%.3f\n", r, m, p, mk, pk, e, m50, p50 }' >> "$out"
    done
  done
  echo "round $round done" >&2
done
cat "$out"
