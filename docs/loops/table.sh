#!/usr/bin/env bash
# Prints the README's tables of held-out errors for the current build: each kept loop is
# calibrated again from its A runs and validated on its held-out runs (B1 more partitions,
# B2 8x shards, B3 window of two), as a Markdown row per loop. The partitions of B1 are in
# brackets: 4 or 8, or 16 where the loop climbed a rung (A's latency flat, B1-8 joined A).
#
# Usage: docs/loops/table.sh [LOOP...]     (default: every loop under docs/loops)
# Needs target/release/faastwin (cargo build --release) or FAASTWIN=path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
faastwin="${FAASTWIN:-$root/target/release/faastwin}"
[ -x "$faastwin" ] || { echo "table.sh: $faastwin not found: cargo build --release" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ $# -eq 0 ]; then
  set -- $(cd "$root/docs/loops" && ls -d */ | tr -d /)
fi
echo "| platform | loop | more partitions | 8× shards | window 2 | median \\|error\\| | within measured spread | latency KS | 8 MB body predicted / measured |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for loop in "$@"; do
  dir="$root/docs/loops/$loop"
  [ -d "$dir" ] || { echo "table.sh: no loop $dir" >&2; exit 2; }
  "$faastwin" calibrate "$dir"/run-A-* --out "$work/$loop.toml" > /dev/null 2> "$work/$loop.err" \
    || { cat "$work/$loop.err" >&2; exit 1; }
  # validate exits 1 when an error exceeds its tolerance: the CSV is what matters here.
  "$faastwin" validate --calibration "$work/$loop.toml" --runs "$dir"/run-B* --format csv \
    > "$work/$loop.csv" 2> /dev/null || true
  awk -F, -v loop="$loop" '
    $3 == "warm_makespan_s" { e[++n] = 100 * $7; a[n] = e[n] < 0 ? -e[n] : e[n]; pred[$1] = $5 }
    $3 == "warm_makespan_s" && match($1, /run-B1-[0-9]+-partitions/) {
      b1 = substr($1, RSTART + 7, RLENGTH - 18)
    }
    $3 == "lowest_warm_makespan_s" { low[$1] = $4 }
    $3 == "highest_warm_makespan_s" { m++; if (pred[$1] >= low[$1] && pred[$1] <= $4) within++ }
    $3 == "latency_ks_distance" { k = $5 + 0; if (lo == "" || k < lo) lo = k; if (hi == "" || k > hi) hi = k }
    $1 ~ /run-B2/ && $3 == "mean_body_s" { body = sprintf("%.2f", $5 / $4) }
    END {
      # median of the |errors| (n is 3 for every kept loop)
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      med = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      split(loop, p, "-")
      printf "| %s | %s | %+.1f %% (%s) | %+.1f %% | %+.1f %% | %.1f %% | %d of %d | %.2f–%.2f | %s |\n",
        p[1], p[2], e[1], b1, e[2], e[3], med, within, m, lo, hi, body
    }' "$work/$loop.csv" | sed 's/| -/| −/g'
done
