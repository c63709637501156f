#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the timeline screenshot test
# (tests/timeline.rs). Idempotent: does nothing when /usr/bin/chromium exists.
# Needs root (CI and the development machines run as root).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-chromium.sh: must run as root (apt-get install chromium)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# fonts-dejavu-core: a font the page can always fall back to, so text renders.
apt-get install -y chromium fonts-dejavu-core

if [ ! -x /usr/bin/chromium ]; then
    echo "install-chromium.sh: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
