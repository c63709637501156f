# Sourced by the examples after they set `root` (the repository) and
# `work` (their scratch directory): output helpers, loopback ports and
# random test passwords, and the agentward binary to run.

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
random_password() { python3 -c 'import secrets; print(secrets.token_urlsafe(18))'; }

# Sets `agentward`: $AGENTWARD_BIN, or a release build of this checkout.
# Components are cached in the scratch directory unless the caller says.
build_agentward() {
    step "build agentward and the role components"
    if [ -n "${AGENTWARD_BIN:-}" ]; then
        agentward="$AGENTWARD_BIN"
    else
        (cd "$root" && cargo build --release --quiet)
        agentward="$root/target/release/agentward"
    fi
    export AGENTWARD_CACHE_DIR="${AGENTWARD_CACHE_DIR:-$work/cache}"
}
