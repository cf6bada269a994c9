#!/usr/bin/env bash
# A first held-out node count (issue 25), on local processes: this host split into two logical
# nodes of one CPU each (--logical-nodes 2). Calibrated on node n1 alone (2 partitions, 1 and
# 2 MiB shards), then predicted: 4 partitions on two nodes (n1, n2) and, for contrast, 4
# partitions on n1 alone. 40 ETL invocations, 3 repetitions a run; ROUNDS rounds (default 3).
#
# Usage: docs/experiments/node-counts-local.sh [ROUNDS]   Needs target/release/faastwin.
set -euo pipefail
rounds="${1:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
faastwin="${FAASTWIN:-$root/target/release/faastwin}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$faastwin" dataset etl --count 40 --shard-bytes 1MiB --out "$work/d1" 2> /dev/null
"$faastwin" dataset etl --count 40 --shard-bytes 2MiB --out "$work/d2" 2> /dev/null
measure() { "$faastwin" measure --platform local --logical-nodes 2 --repetitions 3 --warmup 1 "$@" > /dev/null 2>&1; }
echo "round,run,measured_warm_makespan_s,predicted_s,error_pct"
for round in $(seq "$rounds"); do
  r="$work/r$round"
  measure --nodes n1 --partitions 2 --dataset "$work/d1" --out "$r/run-A-small"
  measure --nodes n1 --partitions 2 --dataset "$work/d2" --out "$r/run-A-double"
  measure --nodes n1,n2 --partitions 4 --dataset "$work/d1" --out "$r/run-B-2-nodes-4-partitions"
  measure --nodes n1 --partitions 4 --dataset "$work/d1" --out "$r/run-B-1-node-4-partitions"
  "$faastwin" calibrate "$r"/run-A-* --out "$r/c.toml" > /dev/null 2>&1
  # validate exits 1 above its tolerance: the CSV is what matters here.
  { "$faastwin" validate --calibration "$r/c.toml" --runs "$r"/run-B-* --format csv 2> /dev/null || true; } |
    awk -F, -v round="$round" '$3 == "warm_makespan_s" {
      n = split($1, p, "/"); printf "%s,%s,%.4f,%.4f,%+.1f\n", round, p[n], $4, $5, 100 * $7 }'
done
