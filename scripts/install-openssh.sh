#!/usr/bin/env bash
# Installs Debian's ssh-keygen (openssh-client): approvals may be SSH
# signatures, and tests/ssh_approvals.rs makes keys and signs with it.
# Idempotent: does nothing when `ssh-keygen` is on PATH. Needs root otherwise.
set -euo pipefail

if command -v ssh-keygen >/dev/null; then
    echo "ssh-keygen already installed: $(ssh -V 2>&1)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-openssh.sh: must run as root (apt-get install openssh-client)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y openssh-client
echo "installed: $(ssh -V 2>&1)"
