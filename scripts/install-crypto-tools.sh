#!/usr/bin/env bash
# Installs Debian's openssl and ssh-keygen (openssh-client) commands. The
# flagship example makes its throwaway CA and server certificate with
# openssl, and tests/http_tls.rs runs `openssl s_server` limited to TLS 1.1
# to show agentward refuses it; approvals may be SSH signatures, and
# tests/ssh_approvals.rs makes keys and signs with ssh-keygen.
# Idempotent: installs only what is missing from PATH. Needs root for that.
set -euo pipefail

missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-crypto-tools.sh: must run as root (apt-get install ${missing[*]})" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y "${missing[@]}"
fi
echo "openssl: $(openssl version); ssh-keygen: $(ssh -V 2>&1)"
