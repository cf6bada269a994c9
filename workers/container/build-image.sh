#!/usr/bin/env bash
# Builds the statically linked faastwin-worker and the FROM-scratch image that holds it.
# Usage: workers/container/build-image.sh [IMAGE]   (default: localhost/faastwin-worker:latest)
# Needs: cargo, podman. The static binary goes to target/static/ so it never disturbs the
# ordinary build; glibc static-pie works with +crt-static on the stock toolchain.
set -euo pipefail
image="${1:-localhost/faastwin-worker:latest}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$root/target/static"
CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --quiet --manifest-path "$root/Cargo.toml" \
  -p faastwin-workers --bin faastwin-worker --target "$target"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$CARGO_TARGET_DIR/$target/release/faastwin-worker" "$context/"
cp "$root/workers/container/Containerfile" "$context/"
podman build --quiet -t "$image" -f "$context/Containerfile" "$context" >/dev/null
echo "$image"
