#!/usr/bin/env bash
# Keeps what is needed to redraw a `faastwin loop` result and to calibrate again from its runs:
# the calibration, every run's run.json, summary.csv and invocations.csv (every timing layer
# of every invocation; the bodies' result files are left out), the loop's printed table, and
# the validation of each held-out run as CSV (predicted against measured, per metric): B1-B4,
# or the H configurations of a loop with --held-out (drawn at random).
#
# Usage: docs/loops/collect.sh LOOP_OUT NAME [LOOP_STDOUT]
#   LOOP_OUT     the --out directory of `faastwin loop`
#   NAME         the folder under docs/loops/ to write (e.g. k8s-1)
#   LOOP_STDOUT  the loop's printed table, if it was saved
set -euo pipefail
loop="$1"
name="$2"
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/docs/loops/$name"
faastwin="${FAASTWIN:-$root/target/release/faastwin}"
mkdir -p "$dest"
cp "$loop/calibration.toml" "$dest/"
for run in "$loop"/run-*; do
  base="$(basename "$run")"
  mkdir -p "$dest/$base"
  cp "$run/run.json" "$run/summary.csv" "$run/invocations.csv" "$dest/$base/"
  [ -f "$run/ksi-startup.csv" ] && cp "$run/ksi-startup.csv" "$dest/$base/"
done
if [ $# -ge 3 ]; then cp "$3" "$dest/loop.txt"; fi
shopt -s nullglob
held_out=("$loop"/run-B* "$loop"/run-H*)
# validate exits 1 when an error exceeds its tolerance: the CSV is what matters here.
"$faastwin" validate --calibration "$loop/calibration.toml" --runs "${held_out[@]}" \
  --format csv > "$dest/validation.csv" || true
echo "kept $loop as $dest"
