#!/usr/bin/env bash
# Starts the two-node test Slurm (n1, n2) unless a controller with node n2 already answers.
# Used by the test suites; needs root and Debian's slurm-wlm + munge (slurm-up.sh installs them).
set -euo pipefail
if timeout 10 sinfo -h -N -o %N 2>/dev/null | grep -qx n2; then
  exit 0
fi
exec bash "$(dirname "$0")/slurm-up.sh" 2
