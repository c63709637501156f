#!/usr/bin/env bash
# Builds the JavaScript roles in plugins/js/ into WebAssembly components
# with componentize-js, for a policy's `component = "<path>.wasm"`.
#
# Each directory plugins/js/<world>/ holding <world>.js becomes
# target/js-roles/js_<world>.wasm, built against the world of the same name
# in wit/. Every engine feature that needs a WASI import (stdio, random,
# clocks, http, fetch-event) is disabled, so the component imports nothing
# but the world's agentward interfaces (docs/plugins/javascript.md).
#
# componentize-js comes from the npm registry at the exact version the
# role's package.json pins (locked by its package-lock.json), installed with
# `npm ci` into $AGENTWARD_JS_TOOLS or <repo>/target/tools/js/<world>
# (git-ignored): the source tree holds no node_modules.
#
# Needs node (20 or newer) and npm, and the npm registry on the first run.
# Idempotent: the toolchain is reused while the lock file is unchanged, and
# a component newer than its sources (the role's files, wit/, this script)
# is not rebuilt.
#
# Usage: scripts/build-js-roles.sh [WORLD...]   (default: every role)
# Prints the path of each component on its own line, last.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$repo/scripts/build-js-roles.sh"
roles_dir="$repo/plugins/js"
tools="${AGENTWARD_JS_TOOLS:-$repo/target/tools/js}"
out_dir="$repo/target/js-roles"
node="${NODE:-node}"
# Engine features that would import WASI interfaces the role does not need.
disabled=(stdio random clocks http fetch-event)

for tool in "$node" npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-js-roles.sh needs $tool (Node.js 20 or newer, with npm)" >&2
        exit 1
    fi
done
major="$("$node" -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
    echo "build-js-roles.sh needs Node.js 20 or newer; $node is $("$node" --version)" >&2
    exit 1
fi

mkdir -p "$out_dir" "$tools"

# One build at a time: test binaries may run this script concurrently.
exec 9>"$out_dir/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

# Newer than `file`: any source of the role, the WIT, this script.
stale() { # <component> <role dir>
    [ -f "$1" ] || return 0
    [ -n "$(find "$2" "$repo/wit" "$script" -newer "$1" \
        -not -path '*/node_modules*' -print -quit)" ]
}

# The role's toolchain: exactly its lock file, installed with `npm ci`.
toolchain() { # <role dir> <world> -> the toolchain directory
    local role_dir="$1" dir="$tools/$2"
    if [ ! -f "$dir/node_modules/@bytecodealliance/componentize-js/src/cli.js" ] ||
        ! cmp -s "$role_dir/package-lock.json" "$dir/package-lock.json"; then
        echo "installing componentize-js for $2 into $dir" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        cp "$role_dir/package.json" "$role_dir/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    echo "$dir"
}

if [ "$#" -gt 0 ]; then
    worlds=("$@")
else
    worlds=()
    for role_dir in "$roles_dir"/*/; do
        world="$(basename "$role_dir")"
        [ -f "$role_dir/$world.js" ] && worlds+=("$world")
    done
fi
if [ "${#worlds[@]}" -eq 0 ]; then
    echo "no JavaScript roles under $roles_dir (a role is a directory <world>/ holding <world>.js)" >&2
    exit 1
fi

built=()
for world in "${worlds[@]}"; do
    role_dir="$roles_dir/$world"
    source_file="$role_dir/$world.js"
    if [ ! -f "$source_file" ] || [ ! -f "$role_dir/package-lock.json" ]; then
        echo "no JavaScript role $world: $source_file or its package-lock.json is missing" >&2
        exit 1
    fi
    out="$out_dir/js_${world//-/_}.wasm"
    if stale "$out" "$role_dir"; then
        dir="$(toolchain "$role_dir" "$world")"
        echo "building $out" >&2
        tmp="$out.tmp.$$"
        "$node" "$dir/node_modules/@bytecodealliance/componentize-js/src/cli.js" \
            "$source_file" --wit "$repo/wit" --world-name "$world" \
            --disable "${disabled[@]}" --out "$tmp" >&2
        mv -f "$tmp" "$out"
    else
        echo "$out is up to date" >&2
    fi
    built+=("$out")
done
printf '%s\n' "${built[@]}"
