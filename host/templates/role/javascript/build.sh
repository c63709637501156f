#!/bin/sh
# Builds {{name}}.wasm, a WASI 0.2 component, with componentize-js. Every
# engine feature that would import WASI (stdio, random, clocks, http,
# fetch-event) is off, so the component imports only what wit/role.wit names.
set -eu
cd "$(dirname "$0")"
for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh needs $tool (Node.js 20 or newer, with npm)" >&2
        exit 1
    fi
done
if [ ! -f node_modules/@bytecodealliance/componentize-js/src/cli.js ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
fi
node node_modules/@bytecodealliance/componentize-js/src/cli.js role.js \
    --wit wit --world-name role \
    --disable stdio random clocks http fetch-event --out {{name}}.wasm >&2
echo "$(pwd)/{{name}}.wasm"
