#!/usr/bin/env bash
# Builds the Python roles in plugins/python/ into WebAssembly components
# with componentize-py, for a policy's `component = "<path>.wasm"`.
#
# Each directory plugins/python/<world>/ holding an app.py becomes
# target/python-roles/python_<world>.wasm, built against the world of the
# same name in wit/ (`componentize-py -d wit -w <world> componentize app`).
# componentize-py imports every interface of that world; a role's uses.wit
# (a world `uses` naming the imports the role calls) is intersected with it
# (`-i`), so the component imports only those.
# componentize-py comes from PyPI at the version plugins/python/requirements.txt
# pins, into a venv at $AGENTWARD_PYTHON_VENV or <repo>/target/tools/python
# (git-ignored).
#
# Needs python3 (with the venv module) and network access to PyPI on the
# first run. Idempotent: the venv is reused while the requirements are
# unchanged, and a component newer than its sources (the role's files,
# wit/, the requirements, this script) is not rebuilt.
#
# Usage: scripts/build-python-roles.sh [WORLD...]   (default: every role)
# Prints the path of each component on its own line, last.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$repo/scripts/build-python-roles.sh"
roles_dir="$repo/plugins/python"
requirements="$roles_dir/requirements.txt"
venv="${AGENTWARD_PYTHON_VENV:-$repo/target/tools/python}"
out_dir="$repo/target/python-roles"
python="${PYTHON:-python3}"

# A caller's own venv or PYTHONPATH must not change what a component holds.
unset VIRTUAL_ENV PYTHONPATH

mkdir -p "$out_dir" "$(dirname "$venv")"

# One build at a time: test binaries may run this script concurrently.
exec 9>"$out_dir/.lock"
if command -v flock >/dev/null 2>&1; then
    flock 9
fi

# The toolchain: a venv holding exactly the pinned requirements.
stamp="$venv/.agentward-requirements"
if [ ! -x "$venv/bin/componentize-py" ] || ! cmp -s "$requirements" "$stamp"; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "build-python-roles.sh needs $python (3.9 or newer, with venv and pip)" >&2
        exit 1
    fi
    echo "installing the Python role toolchain into $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --require-virtualenv -r "$requirements" >&2
    cp "$requirements" "$stamp"
fi
componentize="$venv/bin/componentize-py"

# Newer than `file`: any source of the role, the WIT, the toolchain pin.
stale() { # <component> <role dir>
    [ -f "$1" ] || return 0
    [ -n "$(find "$2" "$repo/wit" "$requirements" "$script" \
        -newer "$1" -not -path '*/__pycache__*' -print -quit)" ]
}

if [ "$#" -gt 0 ]; then
    worlds=("$@")
else
    worlds=()
    for app in "$roles_dir"/*/app.py; do
        [ -f "$app" ] && worlds+=("$(basename "$(dirname "$app")")")
    done
fi
if [ "${#worlds[@]}" -eq 0 ]; then
    echo "no Python roles under $roles_dir (a role is a directory holding app.py)" >&2
    exit 1
fi

# The package of wit/ (agentward:host@0.1.1): with a role's uses.wit beside
# it, a world must be named in full.
host_package="$(sed -n 's/^package \([^;]*\);.*/\1/p' "$repo/wit/worlds.wit" | head -n 1)"
host_package_name="${host_package%@*}"
host_package_version="${host_package#*@}"

built=()
for world in "${worlds[@]}"; do
    role_dir="$roles_dir/$world"
    if [ ! -f "$role_dir/app.py" ]; then
        echo "no Python role $world: $role_dir/app.py does not exist" >&2
        exit 1
    fi
    out="$out_dir/python_${world//-/_}.wasm"
    if stale "$out" "$role_dir"; then
        echo "building $world from $role_dir" >&2
        # From a copy: componentize-py imports the app while it builds, and
        # the sources should not gain a __pycache__.
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        cp -R "$role_dir/." "$work/"
        rm -rf "$work/__pycache__"
        wit_args=(-d "$repo/wit" -w "$host_package_name/$world@$host_package_version")
        intersect=()
        if [ -f "$role_dir/uses.wit" ]; then
            package="$(sed -n 's/^package \([^;@]*\).*;.*/\1/p' "$role_dir/uses.wit" | head -n 1)"
            wit_args+=(-d "$work/uses.wit")
            intersect=(-i "$package/uses")
        fi
        (cd "$work" && "$componentize" --quiet "${wit_args[@]}" \
            componentize app "${intersect[@]}" -p . -o "$work/component.wasm") >&2
        mv -f "$work/component.wasm" "$out"
        rm -rf "$work"
        trap - EXIT
    else
        echo "$world is up to date" >&2
    fi
    built+=("$out")
done
printf '%s\n' "${built[@]}"
