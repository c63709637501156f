#!/usr/bin/env bash
# Installs Debian's PostgreSQL server for the `sql` tests
# (tests/support/postgres.rs runs initdb and postgres as the `postgres`
# user into a temporary directory on a free 127.0.0.1 port). Idempotent:
# does nothing when an initdb is already under /usr/lib/postgresql. Prints
# the server's bin directory last. Needs root otherwise.
set -euo pipefail

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-postgres.sh: must run as root (apt-get install postgresql)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y postgresql
    bin="$(find_bin)"
fi
id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
echo "$bin"
