#!/usr/bin/env bash
# The control plane under load: 1, 2, 4, 8, 16 and 32 partitions in flight, each submitting its
# Jobs one after another to fake nodes (kwok: their pods run no body), on the testbed's real API
# server, controller manager and scheduler. Writes one run per load and a CSV of Job throughput
# and latency against load (docs/experiments/control-plane-curve.csv).
#
# Usage: docs/experiments/control-plane-curve.sh [JOBS_PER_PARTITION] [REPETITIONS]
# Needs `cargo build --release` and the testbed's components (faastwin-testbed build).
set -euo pipefail
per_partition="${1:-10}"
repetitions="${2:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release"
work="${FAASTWIN_CURVE_DIR:-/tmp/faastwin-control-plane-curve}"
testbed="$work/testbed"
mkdir -p "$work"
"$bin/faastwin-testbed" up --dir "$testbed" --fake-nodes 32 --reuse >/dev/null
nodes=$(seq -s, -f 'fake-%g' 0 31)
"$bin/faastwin" dataset relay --count $((32 * per_partition)) --out "$work/data" 2>/dev/null
out="$root/docs/experiments/control-plane-curve.csv"
echo "partitions,repetition,jobs,makespan_s,throughput_jobs_per_s,p50_latency_s,p95_latency_s,mean_latency_s" > "$out"
for p in 1 2 4 8 16 32; do
  run="$work/runs/p$p"
  rm -rf "$run"
  "$bin/faastwin" measure --platform k8s --kubeconfig "$testbed/kubeconfig" --no-body \
    --nodes "$nodes" --partitions "$p" --invocations $((p * per_partition)) \
    --repetitions "$repetitions" --dataset "$work/data" --out "$run" >/dev/null
  # summary.csv: one row per repetition.
  python3 - "$run/summary.csv" "$p" >> "$out" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    jobs = int(row["warm_succeeded"])
    makespan = float(row["warm_makespan_s"])
    print(f'{sys.argv[2]},{row["repetition"]},{jobs},{makespan:.4f},{jobs / makespan:.4f},'
          f'{float(row["p50_latency_s"]):.4f},{float(row["p95_latency_s"]):.4f},{float(row["mean_latency_s"]):.4f}')
PY
  echo "partitions $p done: $(tail -n "$repetitions" "$out" | cut -d, -f5 | paste -sd' ') Jobs/s" >&2
done
echo "wrote $out" >&2
