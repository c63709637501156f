#!/usr/bin/env bash
# The second flagship: rotate an app's PostgreSQL credential with
# alternating users while the app keeps querying, end to end, against a
# real PostgreSQL on 127.0.0.1.
#
#   bash examples/postgres-password-rotation/run.sh [--keep DIR]
#
# From nothing, it makes a throwaway CA and a server certificate with
# openssl, runs initdb and pg_ctl into a temporary directory (TLS on, every
# statement logged), creates two login roles with the same grants (app_a,
# app_b) and a CREATEROLE admin (rotator), initialises an agentward project
# with policy and workflow, imports the app's credential as the URL
# consumers read, and starts the consumer: a process under
# `agentward secrets exec --watch` that queries every 100 ms. Then the
# rotation: plan → mint (app_b gets a host-generated password) → review →
# two checks as app_b → promote (the consumer is restarted with app_b) →
# health watch → revoke (app_a's password invalidated).
# The proof: failed consumer queries across the rotation (goal 0), the old
# password refused, the log verifies, no password in any log, the
# database's statement log included.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --keep) keep="$2"; shift 2 ;;
        *) echo "usage: $0 [--keep DIR]" >&2; exit 2 ;;
    esac
done

source "$root/examples/lib/common.sh"

work="${keep:-$(mktemp -d)}"
mkdir -p "$work"
# The database server runs as its own user and must reach its directory.
chmod 711 "$work"
pgbin="" pgdir="$work/pg" supervisor=""
as_pg=()
cleanup() {
    [ -z "$supervisor" ] || kill "$supervisor" 2>/dev/null || true
    [ -z "$pgbin" ] || "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -m fast stop >/dev/null 2>&1 || true
    [ -n "$keep" ] || rm -rf "$work"
}
trap cleanup EXIT

build_agentward

step "a throwaway CA and a certificate for the database on 127.0.0.1"
tls="$work/tls"
ca="$tls/db-ca.pem"
source "$root/examples/lib/throwaway-ca.sh"
throwaway_ca "$tls" db-ca.pem "agentward postgres flagship throwaway CA"
echo "CA $ca; server certificate for 127.0.0.1"

step "PostgreSQL on 127.0.0.1 (initdb, pg_ctl; TLS on, every statement logged)"
pgbin="$(bash "$root/scripts/install-postgres.sh" | tail -n 1)"
# PostgreSQL refuses to run as root: as root, run it as `postgres`.
[ "$(id -u)" -ne 0 ] || as_pg=(setpriv --reuid postgres --regid postgres --init-groups --)
port="$(free_port)"
superuser_password="$(random_password)"
mkdir -p "$pgdir"
printf '%s\n' "$superuser_password" >"$pgdir/pwfile"
cp "$tls/server.pem" "$tls/server.key" "$pgdir/"
chmod 600 "$pgdir/server.key" "$pgdir/pwfile"
[ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$pgdir"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=scram-sha-256 \
    --pwfile="$pgdir/pwfile" -E UTF8 >"$pgdir/initdb.log" 2>&1 || { cat "$pgdir/initdb.log"; fail "initdb"; }
rm -f "$pgdir/pwfile"
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -o \
    "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgdir -c ssl=on -c ssl_cert_file=$pgdir/server.pem -c ssl_key_file=$pgdir/server.key -c log_statement=all" \
    start >/dev/null || { cat "$pgdir/postgres.log"; fail "PostgreSQL did not start"; }
# This script's own connections verify the server too.
export PGSSLMODE=verify-full PGSSLROOTCERT="$ca"
endpoint="postgres://127.0.0.1:$port/app"
# The setup's own statements carry the first passwords: kept out of the
# statement log, which later proves the rotation never sent one.
sql() { PGPASSWORD="$superuser_password" "$pgbin/psql" "host=127.0.0.1 port=$port user=postgres dbname=$1" \
    -v ON_ERROR_STOP=1 -qtAX -c "SET log_statement = 'none'" -c "$2"; }
app_password="$(random_password)"
rotator_password="$(random_password)"
sql postgres "CREATE DATABASE app"
sql postgres "CREATE ROLE app_readers NOLOGIN;
    CREATE ROLE app_a LOGIN PASSWORD '$app_password' IN ROLE app_readers;
    CREATE ROLE app_b LOGIN IN ROLE app_readers;
    CREATE ROLE rotator LOGIN CREATEROLE PASSWORD '$rotator_password';"
sql app "CREATE TABLE orders (id int); GRANT SELECT ON orders TO app_readers;
    INSERT INTO orders SELECT generate_series(1, 1000);"
echo "database $endpoint: login roles app_a (current) and app_b (no password), admin rotator"

step "an agentward project holding the app's credential"
project="$work/project"
"$agentward" init "$project" >/dev/null
mkdir -p "$project/repos" "$project/certs"
cp "$ca" "$project/certs/db-ca.pem"
sed "s#@ENDPOINT@#$endpoint#g" "$here/policy.toml" >"$project/policies/default.toml"
sed "s#@ENDPOINT@#$endpoint#g" "$here/workflow.toml" >"$project/policies/workflow.toml"
old_url="postgres://app_a:$app_password@127.0.0.1:$port/app"
# A service whose config holds the credential in plaintext, as many do.
service="$project/repos/orders-service"
mkdir -p "$service/config"
printf 'PORT=8080\nDATABASE_URL=%s\n' "$old_url" >"$service/.env"
printf 'production:\n  adapter: postgresql\n  host: 127.0.0.1\n  port: %s\n  database: app\n  username: app_a\n  password: %s\n' \
    "$port" "$app_password" >"$service/config/database.yml"
git -C "$service" init -q -b main
git -C "$service" add -A
git -C "$service" -c user.name=dev -c user.email=dev@localhost commit -qm "initial"
python3 - "$work/seed.json" "$old_url" "postgres://rotator:$rotator_password@127.0.0.1:$port/app" <<'EOF'
import json, sys
path, app, rotator = sys.argv[1:]
json.dump({
    "db/app": {"value": app, "expires": "2026-11-28T00:00:00Z", "owner": "app-team",
               "custom": [["credential_id", "app_a"]]},
    "db/rotator": {"value": rotator, "owner": "dba-team"},
}, open(path, "w"))
EOF
"$agentward" --project "$project" secrets import "$work/seed.json"
rm -f "$work/seed.json"
"$agentward" --project "$project" check

step "the consumer: queries every 100 ms under secrets exec --watch"
consumer_log="$work/consumer.log"
: >"$consumer_log"
"$agentward" --project "$project" secrets exec --watch --poll-ms 100 --grace-ms 5000 \
    --env DATABASE_URL=db/app -- bash "$here/consumer.sh" "$consumer_log" "$pgbin/psql" \
    2>"$work/supervisor.log" &
supervisor=$!
for _ in $(seq 1 100); do
    [ "$(grep -c '^ok' "$consumer_log")" -ge 5 ] && break
    sleep 0.1
done
[ "$(grep -c '^ok' "$consumer_log")" -ge 5 ] || { cat "$consumer_log" "$consumer_log.err" 2>/dev/null; fail "the consumer does not query"; }
echo "consumer running as $(awk '/^start/ {print $2; exit}' "$consumer_log")"

step "dry run: what would happen, with nothing real changed"
"$agentward" --project "$project" rotate --dry-run --now 2026-11-25T05:30:00Z >"$work/dry-run.txt" ||
    { cat "$work/dry-run.txt"; fail "the dry run did not complete"; }
cat "$work/dry-run.txt"

step "the rotation"
started="$(now_ms)"
"$agentward" --project "$project" rotate --now 2026-11-25T05:30:00Z --json >"$work/result.json" ||
    { cat "$work/result.json"; fail "the rotation did not complete"; }
wall_ms=$(( $(now_ms) - started ))
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
change="$(json "['change_id']" <"$work/result.json")"
python3 - "$work/result.json" "$wall_ms" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1])); wall = float(sys.argv[2]); t = doc["timing"]
by = t.get("host_calls_by_interface_ms", {})
database = by.get("sql", 0.0)
store = sum(v for k, v in by.items() if k.startswith("secrets") or k == "handles")
host = wall - t["guest_ms"] - database - store
for item in doc["items"]:
    print(f"{item['path']}: version {item['old_version']} -> {item['new_version']}, {item['state']}")
print(f"\nwall time {wall:.0f} ms (process start to exit; the health watch waits 4 s of it), {t['role_runs']} role runs:")
for name, ms in [("guests (wasm, incl. instantiation)", t["guest_ms"]), ("sql (statements, connections)", database),
                 ("store (secrets, handles)", store), ("host (process, policy, mediation, audit, manifest, health waits)", host)]:
    print(f"  {name:66} {ms:8.1f} ms  {100 * ms / wall:5.1f}%")
EOF
# Let the consumer run on the new credential for a moment.
sleep 1

step "timeline of change $change"
"$agentward" --project "$project" audit timeline "$change"

step "proof"
kill -TERM "$supervisor"
wait "$supervisor" || fail "the supervisor did not stop cleanly"
supervisor=""
starts="$(grep '^start' "$consumer_log" | awk '{print $2}' | paste -sd' ')"
echo "consumer starts: $starts (one per version of db/app)"
[ "$starts" = "app_a app_b" ] || fail "the consumer was not restarted onto app_b exactly once"
queries="$(grep -c '^\(ok\|fail\)' "$consumer_log")"
failed="$(grep -c '^fail' "$consumer_log" || true)"
echo "$queries consumer queries across the rotation, $failed failed queries"
[ "$failed" = 0 ] || { cat "$consumer_log.err"; fail "the consumer lost queries"; }
if PGPASSWORD="" "$pgbin/psql" "$old_url" -tAXqc 'SELECT 1' >/dev/null 2>"$work/old.err"; then
    fail "the old password still works"
fi
echo "old password: refused by the server ($(grep -o 'password authentication failed for user "[a-z_]*"' "$work/old.err" | head -n 1))"
"$agentward" --project "$project" audit verify
branch="agentward/$change"
git -C "$service" log -1 --format='%h %s%n%(trailers:key=Change-Id)' "$branch" || fail "no staged commit in orders-service"
for file in .env config/database.yml; do
    staged="$(git -C "$service" show "$branch:$file")"
    if printf '%s' "$staged" | grep -qF "$app_password"; then fail "$file still holds the password on $branch"; fi
    echo "orders-service/$file on $branch: $(printf '%s' "$staged" | grep -E 'DATABASE_URL|url:')"
done
# The new password is checked for inside a child that holds it: it never
# passes through this script. The old one goes by environment, not on the
# command line (which the audit log records).
OLD_PASSWORD="$app_password" "$agentward" --project "$project" secrets exec --env NEW_URL=db/app -- bash -c '
    pw="${NEW_URL#*://*:}"; pw="${pw%%@*}"
    for value in "$pw" "$OLD_PASSWORD"; do
        ! grep -rqF -- "$value" "$@" || { echo "a password is in a log" >&2; exit 1; }
    done' _ "$project/manifests" "$project/logs" "$pgdir/postgres.log" "$consumer_log" ||
    fail "a password is in a manifest or log"
echo "no password in any manifest, audit log, consumer log or the database's statement log"
[ -n "$keep" ] && echo "project kept in $project"
echo "done"
