#!/bin/sh
# Builds {{name}}.wasm, a WASI 0.2 component, with cargo for wasm32-wasip2.
set -eu
cd "$(dirname "$0")"
if command -v rustup >/dev/null 2>&1 &&
    ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "build.sh needs the wasm32-wasip2 target: rustup target add wasm32-wasip2" >&2
    exit 1
fi
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm" {{name}}.wasm
echo "$(pwd)/{{name}}.wasm"
