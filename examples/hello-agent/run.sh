#!/usr/bin/env bash
# hello-agent: a project from nothing, its policy checked, then three roles
# run in their sandboxes: the planner finds what is due, the implementer
# mints a pending version and stages an .npmrc change, the reviewer checks
# the staged change for plaintext credentials. Each role's input is the task
# the orchestrator would send it (plugins/handoff/src/lib.rs), written out by
# hand here; `agentward rotate` chains them itself. Every call lands in the
# hash-chained logs/audit.jsonl, secret values replaced by keyed digests,
# and each run ends with a signed checkpoint.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
agentward="$root/target/debug/agentward"
project="$(mktemp -d)/hello-project"

step() { printf '\n== %s\n' "$*"; }

step "agentward init $project"
"$agentward" init "$project"
mkdir -p "$project/repos/app"
# An .npmrc still holding a literal token: the implementer stages it with a
# ${NPM_TOKEN} reference instead.
printf '@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=npm_old_literal\n' >"$project/repos/app/.npmrc"

step "agentward secrets import: seed the project's encrypted store (secrets/, key in keys/store-kek.key)"
"$agentward" --project "$project" secrets import "$here/seed.json"
"$agentward" --project "$project" secrets list npm/

step "agentward check: every role's imports against its grants"
"$agentward" --project "$project" check

step "planner: which secrets are due in the next two weeks?"
"$agentward" --project "$project" run planner --input '{
  "now": "2026-11-25T00:00:00Z", "trigger": "cadence", "breach": null,
  "prefixes": ["npm/"], "cadence_days": 90, "lead_days": 14,
  "window": null, "failures": [], "config": null}'

step "implementer, dry run: what it would write (nothing reaches secrets/)"
"$agentward" --project "$project" run implementer --dry-run --input '{
  "action": "mint", "path": "npm/registry-token", "expected_current": 1,
  "retry_since": null, "dry_run": true, "config": null}'

step "implementer: mint a pending version and stage .npmrc"
"$agentward" --project "$project" run implementer --input '{
  "action": "mint", "path": "npm/registry-token", "expected_current": 1,
  "retry_since": null, "dry_run": false,
  "config": {"npmrc": [{"root": "repos", "file": "app/.npmrc"}]}}'
"$agentward" --project "$project" secrets list npm/

step "reviewer: no plaintext credentials in the staged change"
"$agentward" --project "$project" run reviewer --input '{
  "path": "npm/registry-token", "version": 2,
  "changes": {"path": "npm/registry-token", "version": 2, "credential_id": null,
    "expires": null, "staged": [{"root": "repos", "file": "app/.npmrc"}], "validation": []},
  "proposed": ["@acme:registry=http://127.0.0.1:4873/\n//127.0.0.1:4873/:_authToken=${NPM_TOKEN}\n"],
  "config": null}'

step "a planner that asks for more than its policy grants is refused"
cat >"$project/policies/greedy.toml" <<'POLICY'
[roles.planner]
component = "hostile-secrets-write"
[roles.planner.grants]
log = {}
POLICY
if "$agentward" --project "$project" run planner --policy "$project/policies/greedy.toml"; then
  echo "expected a refusal" >&2
  exit 1
fi

step "agentward audit verify: every record's hash, the chain, the signed checkpoints"
"$agentward" --project "$project" audit verify

step "agentward audit timeline (values appear only as hmac-sha256 digests)"
"$agentward" --project "$project" audit timeline
"$agentward" --project "$project" audit timeline --format html --out "$project/timeline.html"
echo "HTML timeline: $project/timeline.html"
if grep -rq "npm_hello_agent_demo_value" "$project/logs" "$project/secrets"; then
  echo "a secret value reached the log or the store in plain text" >&2
  exit 1
fi
echo
echo "hello-agent done: project left in $project"
