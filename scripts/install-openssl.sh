#!/usr/bin/env bash
# Installs Debian's openssl command: the flagship example makes its
# throwaway CA and server certificate with it, and tests/http_tls.rs runs
# `openssl s_server` limited to TLS 1.1 to show agentward refuses it.
# Idempotent: does nothing when `openssl` is on PATH. Needs root otherwise.
set -euo pipefail

if command -v openssl >/dev/null; then
    echo "openssl already installed: $(openssl version)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-openssl.sh: must run as root (apt-get install openssl)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y openssl
echo "installed: $(openssl version)"
