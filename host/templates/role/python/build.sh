#!/bin/sh
# Builds {{name}}.wasm, a WASI 0.2 component, with componentize-py.
set -eu
cd "$(dirname "$0")"
py="${COMPONENTIZE_PY:-componentize-py}"
if ! command -v "$py" >/dev/null 2>&1; then
    echo "build.sh needs componentize-py: python3 -m pip install componentize-py=={{componentize_py}} (or set COMPONENTIZE_PY to its path)" >&2
    exit 1
fi
PYTHONDONTWRITEBYTECODE=1 "$py" -d wit -w role componentize app -p . -o {{name}}.wasm
echo "$(pwd)/{{name}}.wasm"
