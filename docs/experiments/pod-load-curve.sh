#!/usr/bin/env bash
# Jobs with real pods under load: 1, 2, 4, 8, 12 and 16 partitions in flight, each submitting
# ETL Jobs (1 MiB shards, as `faastwin loop`) one after another to the testbed's one real
# kubelet node. The control-plane curve (control-plane-curve.sh) drives the control plane
# alone on fake nodes; this one adds what a real node does per Job (the kubelet, containerd,
# runc, the pod's process), which is what `faastwin loop` extrapolates from two loads to a
# third. Writes one run per load and a CSV of Job throughput and latency against load
# (docs/experiments/pod-load-curve.csv).
#
# Usage: docs/experiments/pod-load-curve.sh [JOBS_PER_PARTITION] [REPETITIONS]
# Needs `cargo build --release` and the testbed's components (faastwin-testbed build); about
# 15 minutes on 2 cores with the defaults.
set -euo pipefail
per_partition="${1:-6}"
repetitions="${2:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$root/target/release"
work="${FAASTWIN_CURVE_DIR:-/tmp/faastwin-pod-load-curve}"
testbed="$work/testbed"
mkdir -p "$work"
"$bin/faastwin-testbed" up --dir "$testbed" --reuse >/dev/null
loads=(1 2 4 8 12 16)
"$bin/faastwin" dataset etl --count $((16 * per_partition)) --shard-bytes 1MiB --out "$work/data" 2>/dev/null
out="$root/docs/experiments/pod-load-curve.csv"
echo "partitions,repetition,jobs,makespan_s,throughput_jobs_per_s,p50_latency_s,p95_latency_s,mean_latency_s,mean_pre_body_s,mean_completion_s" > "$out"
for p in "${loads[@]}"; do
  run="$work/runs/p$p"
  rm -rf "$run"
  # One warm-up Job per partition, as the loops' runs: the first pulls nothing but starts cold.
  "$bin/faastwin" measure --platform k8s --kubeconfig "$testbed/kubeconfig" \
    --image-pull-policy Never --partitions "$p" --invocations $((p * per_partition)) \
    --warmup 1 --repetitions "$repetitions" --dataset "$work/data" --out "$run" >/dev/null
  python3 - "$run" "$p" >> "$out" <<'PY'
import csv, sys
run, p = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{run}/invocations.csv")))
for s in csv.DictReader(open(f"{run}/summary.csv")):
    rep = s["repetition"]
    warm = [r for r in rows if r["repetition"] == rep and r["warmup"] != "true" and r["e2e_s"]]
    mean = lambda k: sum(float(r[k]) for r in warm if r[k]) / max(1, sum(1 for r in warm if r[k]))
    pre = [float(r["control_plane_s"] or 0) + float(r["startup_s"] or 0) for r in warm]
    jobs = int(s["warm_succeeded"])
    makespan = float(s["warm_makespan_s"])
    print(f'{p},{rep},{jobs},{makespan:.4f},{jobs / makespan:.4f},'
          f'{float(s["p50_latency_s"]):.4f},{float(s["p95_latency_s"]):.4f},{float(s["mean_latency_s"]):.4f},'
          f'{sum(pre) / len(pre):.4f},{mean("completion_s"):.4f}')
PY
  echo "partitions $p done: $(tail -n "$repetitions" "$out" | cut -d, -f5,8 | paste -sd' ') (Jobs/s,mean latency)" >&2
done
echo "wrote $out" >&2
