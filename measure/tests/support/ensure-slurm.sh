#!/usr/bin/env bash
# Starts the two-node test Slurm (n1, n2, each owning its share of this host's CPUs) unless one
# started so already answers. Used by the test suites; needs root and Debian's slurm-wlm + munge
# (slurm-up.sh installs them).
set -euo pipefail
if timeout 10 sinfo -h -N -o %N 2>/dev/null | grep -qx n2 \
  && [ "$(cat /run/slurm-local/started-as 2>/dev/null)" = "2 cores" ]; then
  exit 0
fi
exec bash "$(dirname "$0")/slurm-up.sh" 2 cores
