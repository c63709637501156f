#!/usr/bin/env bash
# Installs cargo-fuzz (crates.io) into target/tools/cargo-fuzz: the driver
# scripts/fuzz-smoke.sh builds and runs the fuzz/ targets with. Built from
# source once, then cached; idempotent. Prints the binary's path last.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${AGENTWARD_TOOLS:-$root/target/tools}/cargo-fuzz"
bin="$dir/bin/cargo-fuzz"
if [ ! -x "$bin" ]; then
    # Its own target dir, so the install neither waits on nor evicts the
    # host's build.
    CARGO_TARGET_DIR="$dir/build" cargo install --locked --quiet cargo-fuzz --root "$dir"
    rm -rf "$dir/build"
fi
echo "$bin"
