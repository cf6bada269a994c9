#!/usr/bin/env bash
# Which confinement of a logical node holds for what it starts (issue 25): CPU affinity
# (taskset) or a cgroup-v1 cpuset set on a parent, checked on a plain child, a podman/runc
# container, and the testbed's containerd shims and pods. Each case prints the CPUs the
# confined process may run on (Cpus_allowed_list) and the CPU it ran on (sched_getcpu), then a
# timing check: two CPU-bound bodies on n1 (core 0) against one, with and without a third on
# n2 (core 1). Root, gcc (static libc), podman and runc; the testbed case needs
# target/release/faastwin-testbed and its components built (skipped otherwise).
#
# Usage: docs/experiments/confinement.sh [ROUNDS]     (default 3; prints CSV-like lines)
set -euo pipefail
rounds="${1:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ "$(nproc)" -ge 2 ] || { echo "confinement.sh: needs 2 CPUs" >&2; exit 2; }
work="$(mktemp -d)"
cg=/sys/fs/cgroup/cpuset/faastwin-confinement-$$
cleanup() {
  rmdir "$cg" 2>/dev/null || true
  [ -f "$work/tb/testbed.json" ] && "$root/target/release/faastwin-testbed" down --dir "$work/tb" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A static CPU-bound body: prints where it may run, spins about 0.3 s, prints where it ran.
mkdir -p "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev"
cat > "$work/show.c" <<'C'
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>
int main(void) {
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "Cpus_allowed_list:", 18)) printf("allowed=%s", line + 19 + strspn(line + 18, "\t ") - 1);
  volatile unsigned long x = 0;
  for (unsigned long i = 0; i < 500000000UL; i++) x += i;
  printf("ran_on=%d\n", sched_getcpu());
  return 0;
}
C
gcc -O1 -static -o "$work/rootfs/show" "$work/show.c"
show="$work/rootfs/show"
oneline() { tr '\n\t' '  ' | sed 's/  */ /g; s/ $//'; }
podman_run=(podman --runtime runc run --rm --network=none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

echo "uname=$(uname -r) runc=$(runc --version | head -1 | awk '{print $3}') podman=$(podman --version | awk '{print $3}')"
echo "case,result"
echo "affinity on the parent: child process,$(taskset -c 0 "$show" | oneline)"
mkdir -p "$cg"; echo 0 > "$cg/cpuset.cpus"; echo 0 > "$cg/cpuset.mems"
echo "cpuset cgroup on the parent: child process,$(sh -c "echo \$\$ > $cg/cgroup.procs; exec $show" | oneline)"
echo "affinity on podman: container,$(taskset -c 0 "${podman_run[@]}" --rootfs "$work/rootfs" /show 2>&1 | oneline)"
echo "cpuset cgroup on podman: container,$(sh -c "echo \$\$ > $cg/cgroup.procs; exec ${podman_run[*]} --rootfs $work/rootfs /show" 2>&1 | oneline)"
echo "podman --cpuset-cpus 1: container,$("${podman_run[@]}" --cpuset-cpus 1 --rootfs "$work/rootfs" /show 2>&1 | oneline)"

testbed="$root/target/release/faastwin-testbed"
kubectl="${FAASTWIN_TESTBED_CACHE:-$HOME/.cache/faastwin-testbed}/bin/kubectl"
if [ -x "$testbed" ] && [ -x "$kubectl" ]; then
  taskset -c 0 "$testbed" up --dir "$work/tb" --no-probe > /dev/null 2>&1
  export KUBECONFIG="$work/tb/kubeconfig"
  node="$("$kubectl" get nodes -o name | head -1 | cut -d/ -f2)"
  pause="$(awk -F'"' '/sandbox_image/ {print $2}' "$work/tb/containerd.toml")"
  "$kubectl" run confinement-probe --image="$pause" --image-pull-policy=Never \
    --overrides="{\"spec\":{\"nodeName\":\"$node\"}}" > /dev/null
  "$kubectl" wait --for=condition=Ready pod/confinement-probe --timeout=60s > /dev/null
  for name in containerd containerd-shim kubelet pause; do
    # (Every such process on the machine: run this where no other cluster runs.)
    for pid in $(pgrep -x "$name" || true); do
      echo "affinity on the testbed ($name $pid),allowed=$(awk '/Cpus_allowed_list/ {print $2}' "/proc/$pid/status")"
    done
  done
  "$testbed" down --dir "$work/tb" > /dev/null 2>&1
else
  echo "testbed,skipped ($testbed or $kubectl not built)"
fi

# Timing: seconds of two bodies on n1 alone, of one, and of two on n1 beside one on n2.
elapsed() { local s e; s=$(date +%s%N); "$@"; e=$(date +%s%N); echo "scale=3; ($e - $s) / 1000000000" | bc; }
one() { taskset -c 0 "$show" > /dev/null; }
two() { taskset -c 0 "$show" > /dev/null & taskset -c 0 "$show" > /dev/null & wait; }
two_beside() {
  taskset -c 1 "$show" > /dev/null & local other=$!
  taskset -c 0 "$show" > /dev/null & local a=$!
  taskset -c 0 "$show" > /dev/null & local b=$!
  wait "$a" "$b"; wait "$other"
}
echo "round,one_on_n1_s,two_on_n1_s,two_on_n1_beside_one_on_n2_s"
for r in $(seq "$rounds"); do
  echo "$r,$(elapsed one),$(elapsed two),$(elapsed two_beside)"
done
