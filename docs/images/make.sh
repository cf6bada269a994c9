#!/usr/bin/env bash
# Draws the README's picture again from a kept loop with the current build: loop k8s-2
# calibrated from its A runs, its three held-out configurations predicted, and the report's
# predicted-vs-measured figure kept as docs/images/predicted-vs-measured.png.
#
# Usage: docs/images/make.sh      Needs target/release/faastwin (cargo build --release) or FAASTWIN=path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
faastwin="${FAASTWIN:-$root/target/release/faastwin}"
[ -x "$faastwin" ] || { echo "make.sh: $faastwin not found: cargo build --release" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
loop="$root/docs/loops/k8s-2"
"$faastwin" calibrate "$loop"/run-A-* --out "$work/calibration.toml" > /dev/null
# validate exits 1 when an error exceeds its tolerance: the JSON is what matters here.
"$faastwin" validate --calibration "$work/calibration.toml" --runs "$loop"/run-B* --format json \
  > "$work/validation.json" || true
"$faastwin" report "$work/validation.json" --out "$work/report" > /dev/null
cp "$work/report/validation-0.png" "$root/docs/images/predicted-vs-measured.png"
echo "wrote docs/images/predicted-vs-measured.png"
