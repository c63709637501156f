#!/usr/bin/env bash
# Runs the benchmark suite and writes docs/benchmarks.md: `make bench`.
#
# Each bench in host/benches/ measures a subject against a baseline in the
# same process and, with AGENTWARD_BENCH_OUT set, appends its rows, targets
# and detail to files there; this script runs them one after another (never
# in parallel: they would disturb each other), profiles the mediated host
# call with callgrind when its target is missed, and assembles one report
# with the machine it ran on. It prints the report and writes it to
# docs/benchmarks.md.
#
# Needs what `make setup` installs (the wasm32-wasip2 target, OpenBao, the
# JavaScript toolchain, the model server; the Python roles are built by the languages bench)
# and valgrind for the profile (skipped, and said so, without it). A bench
# that fails leaves a line saying so in the report and makes this script
# exit non-zero.
#
# Environment: AGENTWARD_BENCH_DOC (default docs/benchmarks.md) is where the
# report goes.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
doc="${AGENTWARD_BENCH_DOC:-$repo/docs/benchmarks.md}"
out="$(mktemp -d "${TMPDIR:-/tmp}/agentward-bench.XXXXXX")"
trap 'rm -rf "$out"' EXIT
export AGENTWARD_BENCH_OUT="$out"
failed=()

load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"

# Build once, then run the executables themselves: `cargo bench` per bench
# would wait for the build-directory lock while another cargo runs, and
# rebuild mid-suite if the sources changed.
echo "== building the benches (cargo bench --no-run)" >&2
if ! cargo bench -p agentward --no-run --message-format=json-render-diagnostics >"$out/build.json"; then
    echo "the benches do not build" >&2
    exit 1
fi
# "<target name> <executable>" for each bench target.
executable() {
    sed -n 's/.*"target":{[^}]*"kind":\["bench"\][^}]*"name":"\([^"]*\)"[^}]*}.*"executable":"\([^"]*\)".*/\1 \2/p' \
        "$out/build.json" | awk -v name="$1" '$1 == name { print $2; exit }'
}

started=$SECONDS
for bench in table audit store coldstart workflow languages tls model npm cluster; do
    echo "== cargo bench --bench $bench" >&2
    t0=$SECONDS
    exe="$(executable "$bench")"
    # Every bench starts from the same page cache: none. Writes into a
    # large cache (the build's, the last bench's) cost 2-3x more on this
    # kind of machine, which moves the audit log rows from 7x to 16x.
    # Needs root; without it the benches run as the cache stands.
    sync
    echo 3 2>/dev/null >/proc/sys/vm/drop_caches || true
    # Run as cargo would: from the package directory.
    if [ -z "$exe" ] || ! (cd "$repo/host" && "$exe" --bench) >"$out/log-$bench.txt" 2>&1; then
        tail -20 "$out/log-$bench.txt" >&2
        failed+=("$bench")
    fi
    echo "   ($((SECONDS - t0)) s)" >&2
done

# ---- callgrind profile of the mediated call, when its target is missed ----

profile_md="$out/profile.md"
# "<mediation alone / bare> <recorded into the buffered log / bare>"
read -r null_ratio audit_ratio <"$out/mediated-ratio.txt" 2>/dev/null || true
profile_calls=20000
profile_runs=2

# Inclusive instructions of the first function line matching $2 in $1.
incl() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v pat="$2" 'index($0, pat) { gsub(",", "", $1); print $1; exit }'
}

# A callgrind annotate line's function, readable: no file, no binary.
clean_names() {
    sed -E 's/^[[:space:]]*[0-9,]+ \([ 0-9.]+%\)[[:space:]]+//; s/^\?\?\?://; s/^[^ ]*\.(c|S|h):([^ ]*)/\2/; s/ \[[^]]*\]$//; s/\|/\\|/g' |
        awk '{ if (length($0) > 120) print substr($0, 1, 117) "..."; else print }'
}

# Runs the table bench's profile mode under callgrind: $1 kind, $2 output.
callgrind() {
    AGENTWARD_BENCH_POOL_SLOTS=1 AGENTWARD_BENCH_PROFILE="$1" \
        AGENTWARD_BENCH_PROFILE_RUNS=$profile_runs AGENTWARD_BENCH_CALLS=$profile_calls \
        valgrind --tool=callgrind --callgrind-out-file="$2" --collect-atstart=no \
        --toggle-collect='*profile_loop_with_calls*' \
        --toggle-collect='*profile_loop_without_calls*' \
        "$table_bin" >"$2.log" 2>&1
}

# Instructions per call of a profile: (with − without) / (runs × calls).
per_call() {
    local with without
    with="$(incl "$1" 'table::profile_loop_with_calls ')"
    without="$(incl "$1" 'table::profile_loop_without_calls ')"
    awk -v w="${with:-0}" -v o="${without:-0}" -v n=$((profile_runs * profile_calls)) \
        'BEGIN { printf "%.0f", (w - o) / n }'
}

# The top functions by inclusive instructions at or below $2 (a function
# line pattern) in profile $1, per call and as a share of $3 (Ir per call).
top_inclusive() {
    local total
    total="$(incl "$1" "$2")"
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk -v total="$total" 'match($0, /^ *[0-9,]+ \(/) {
            n = $1; gsub(",", "", n);
            if (n + 0 <= total + 0) print n "\t" $0 }' |
        head -"$4" |
        while IFS=$'\t' read -r n line; do
            name="$(printf '%s\n' "$line" | clean_names)"
            awk -v n="$n" -v calls=$((profile_runs * profile_calls)) -v per="$3" -v name="$name" \
                'BEGIN { printf "| `%s` | %.0f | %.0f%% |\n", name, n / calls, 100 * n / calls / per }'
        done
}

# Self (exclusive) instructions of profile $1 in buckets, per call.
buckets() {
    callgrind_annotate --threshold=100 "$1" 2>/dev/null |
        awk -v calls=$((profile_runs * profile_calls)) '
        match($0, /^ *[0-9,]+ \(/) && !/PROGRAM TOTALS/ {
            n = $1; gsub(",", "", n); f = $0
            if (f ~ /malloc\.c|arena\.c|__rust_alloc|__rust_dealloc|__rust_realloc|__rdl_|finish_grow|RawVec/) b = "allocation (malloc, free, growing buffers)"
            else if (f ~ /time::formatting|time::offset_date_time|format_into|Rfc3339/) b = "RFC 3339 timestamp (time crate: now, format)"
            else if (f ~ /clock_gettime|Timespec|Instant/) b = "clock reads and durations (clock_gettime, Instant)"
            else if (f ~ /btree|BTreeMap|serde_json/) b = "argument map (BTreeMap of serde_json values: build, drop)"
            else if (f ~ /sha2|sha256|Sha256|compress/) b = "sha256 (hash chain)"
            else if (f ~ /serde|Serialize|itoa|ryu|escape/) b = "JSON serialisation"
            else if (f ~ /redact|scrub|CharSearcher|Searcher|memchr/) b = "scrubbing (secret redaction of arguments)"
            else if (f ~ /record_of|call_record|CallRecord|Args|String as core::clone|to_owned|to_string/) b = "record building (CallRecord, Args)"
            else if (f ~ /memcpy|memmove|memset|memcmp/) b = "memcpy, memcmp"
            else if (f ~ /write|syscall|libc|pthread|futex|Mutex|lock/) b = "writes, locks (user-space side)"
            else if (f ~ /wasmtime|\?\?\?:0x|cranelift/) b = "wasmtime (trampolines, lifting, JIT code)"
            else if (f ~ /agentward::/) b = "agentward (scope check, log call, other)"
            else b = "other"
            sum[b] += n; total += n
        }
        END { for (b in sum) printf "%.0f\t%s\t%.0f%%\n", sum[b] / calls, b, 100 * sum[b] / total }' |
        sort -rn | awk -F'\t' '{ printf "| %s | %s | %s |\n", $2, $1, $3 }'
}

if awk -v n="${null_ratio:-0}" -v a="${audit_ratio:-0}" 'BEGIN { exit !(n > 2 || a > 10) }'; then
    echo "== mediated call missed a target (${null_ratio}x alone, ${audit_ratio}x recorded): callgrind" >&2
    table_bin="$(executable table)"
    if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
        echo "The mediated-call target is missed, but valgrind is not installed: no profile." >"$profile_md"
    elif [ -z "$table_bin" ] || ! callgrind null "$out/cg.null" || ! callgrind audit "$out/cg.audit" ||
        ! callgrind bare "$out/cg.bare"; then
        echo "The callgrind run failed; see scripts/bench.sh." >"$profile_md"
        failed+=(callgrind)
    else
        null_ir="$(per_call "$out/cg.null")"
        audit_ir="$(per_call "$out/cg.audit")"
        bare_ir="$(per_call "$out/cg.bare")"
        log_fn='agentward::capabilities::log::<impl'
        entry_fn='wasmtime::runtime::component::func::host::HostFn::entrypoint '
        log_null="$(incl "$out/cg.null" "$log_fn")"
        log_audit="$(incl "$out/cg.audit" "$log_fn")"
        entry_null="$(incl "$out/cg.null" "$entry_fn")"
        entry_bare="$(incl "$out/cg.bare" "$entry_fn")"
        calls=$((profile_runs * profile_calls))
        f() { awk -v a="${1:-0}" -v n="$calls" 'BEGIN { printf "%.0f", a / n }'; }
        r() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
        {
            cat <<EOF
Instructions counted by \`valgrind --tool=callgrind\` (deterministic, unlike
time) in the table bench's profile mode: $profile_runs runs of $profile_calls calls of
\`log(info, "x")\` and $profile_runs runs of none, each inside its own function;
instructions per call = (inclusive Ir of the first − of the second) / calls.
These count user-space instructions only: the audit log's \`write\` system
call (one per record) is not in them.

| side | instructions per call | vs bare | in the host function (\`HostFn::entrypoint\`) | in agentward's \`log\` |
| --- | ---: | ---: | ---: | ---: |
| bare \`func_wrap\` (default engine) | $bare_ir | 1.0× | $(f "$entry_bare") | — |
| mediated, NullSink | $null_ir | $(r "$null_ir" "$bare_ir")× | $(f "$entry_null") | $(f "$log_null") |
| mediated, \`AuditLog\` Buffered | $audit_ir | $(r "$audit_ir" "$bare_ir")× | — | $(f "$log_audit") |

The rest of each call (guest loop iteration, trampolines into the host,
lifting the arguments) is the same on both sides: bare − its host function
≈ mediated − its host function.

**Mediation alone (NullSink): top functions by inclusive instructions**, per
call, from agentward's \`log\` down (a function's figure includes its callees):

| function | Ir per call | share of the mediated call |
| --- | ---: | ---: |
EOF
            top_inclusive "$out/cg.null" "$log_fn" "$null_ir" 22
            cat <<EOF

**Where the instructions go, NullSink**: self (exclusive) instructions per
call, in buckets (the buckets add up to the whole call, guest included):

| bucket | Ir per call | share |
| --- | ---: | ---: |
EOF
            buckets "$out/cg.null"
            cat <<EOF

**Recording into the real audit log (Buffered)**: top functions by inclusive
instructions, from agentward's \`log\` down:

| function | Ir per call | share of the mediated call |
| --- | ---: | ---: |
EOF
            top_inclusive "$out/cg.audit" "$log_fn" "$audit_ir" 22
            cat <<EOF

Self instructions per call in buckets, audit log Buffered:

| bucket | Ir per call | share |
| --- | ---: | ---: |
EOF
            buckets "$out/cg.audit"
            # What bounds it, in words, with this run's figures.
            read -r bare_ns null_ns audit_ns rec_bytes <"$out/mediated-ns.txt" || true
            sha_mibs="$(cat "$out/sha-mibs.txt" 2>/dev/null || echo 0)"
            sha_ir="$(buckets "$out/cg.audit" | awk -F' [|] ' '/^[|] sha256/ { print $2 }')"
            calc() { awk "BEGIN { printf \"%.0f\", $1 }"; }
            cat <<EOF

**What bounds it.** Mediation alone costs $null_ir − $bare_ir = $(calc "$null_ir - $bare_ir")
instructions per call more than the bare call, all of it inside agentward's
\`log\` ($(f "$log_null") per call). The call path builds a \`CallRecord\`
(audit/call_record.rs) that formats and copies nothing: the run's change,
role and component are one shared \`Arc<Caller>\`, the time is a
\`SystemTime\` formatted when the line is written, the arguments are one
\`Vec\` of static names (no map), the message is moved, not copied, and an
\`ok\` outcome is borrowed. What is left is the scope and message-count
check, the two clock reads that give the record its time and duration
(about 20 ns each on this machine, in time; the largest part left in the
table's figure), one allocation for the argument list and one for the
level's string, and the handover to the sink. Reaching 2× would take a
mediated call of about $((2 * bare_ir)) instructions, against $null_ir now;
the clock reads alone are most of the distance, and a record without its
time or duration would record less than the log does today.

Recording into the real audit log: $audit_ir instructions per call,
${sha_ir:-?} of them in sha256 of the record (about $rec_bytes bytes of JSON
each, hashed for the chain), then JSON string escaping. Those run on the
log's writer thread (\`AuditLog::record_later\` queues the record; the
thread encodes, chains and writes batches), beside the guest: in time the
audit log adds $(calc "$audit_ns - $null_ns") ns per call. The sha256 share is inflated under
valgrind, which does not emulate the SHA extensions (natively this CPU
hashes at $sha_mibs MiB/s, area 3, about $(calc "$rec_bytes / ($sha_mibs * 1048576) * 1e9") ns per record); the
kernel's copy of each batch into the page cache, which callgrind does not
count, is the largest part of the writer's time under \`perf\`.
EOF
        } >"$profile_md"
    fi
fi

# ---- the report ----

cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)"
cores="$(nproc 2>/dev/null)"
mem="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)"
os="$(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), Linux $(uname -r)"
virt="$(systemd-detect-virt 2>/dev/null || true)"
rustc_v="$(rustc --version)"
wasmtime_v="$(awk '/^name = "wasmtime"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)"
when="$(date -u '+%Y-%m-%d %H:%M UTC')"
elapsed=$((SECONDS - started))

cat_area() { # <kind> <area number>
    [ -f "$out/$1-$2.md" ] && cat "$out/$1-$2.md"
    return 0
}

{
    cat <<EOF
# Benchmarks

Generated by \`make bench\` (\`bash scripts/bench.sh\`, ${elapsed} s of
benchmarks after the build). Every figure is a ratio against a baseline
measured in the same run, mostly in the same process with the two sides
interleaved, so it holds on a noisy machine; the absolute figures are this
machine's. Each bench starts with the page cache dropped (when the script
runs as root), since writes into a large cache cost 2-3x more here.

Machine: ${cpu:-unknown CPU}, ${cores} cores${virt:+ ($virt)}, ${mem} memory,
${os}; ${rustc_v}; wasmtime ${wasmtime_v} (Cargo.lock). Run on ${when}, load
average ${load} at the start (anything above 0 is other work sharing the cores).

## Targets

| target | measured | |
| --- | --- | --- |
EOF
    for area in 1 2 3 6 9 10; do cat_area targets $area; done
    cat <<EOF

## Comparison

Ratio is subject ÷ baseline in time (how many times longer), except where it
says rate (audit appends: how many times more per second) or % (verify: share
of the sha256 ceiling).

| area | comparison | subject | baseline | ratio |
| --- | --- | ---: | ---: | ---: |
EOF
    for area in 1 2 3 4 5 6 7 8 9 10 11; do cat_area rows $area; done
    if [ "${#failed[@]}" -gt 0 ]; then
        echo
        echo "**Failed in this run:** ${failed[*]} (their rows are missing; see the output of \`make bench\`)."
    fi
    cat <<'EOF'

## 1. Instantiate

`cargo bench --bench table` (and the same under criterion: `--bench runtime`).
agentward's side is everything `Host::run` does per run of a component with
no host calls: output capture, sandbox `WasiCtx`, `CallContext`, store
limiter, fuel and epoch deadline, pooled instantiation from `InstancePre`,
`agent.run`, outcome classification and scrubbing. Bare wasmtime uses
`Engine::default()` (no pooling) with an `InstancePre` made once and an
empty `WasiCtx` per run. The pooling allocator is why agentward is faster
than the default engine; against bare wasmtime on agentward's own engine the
mediation layer's per-run cost is within noise.

## 2. Mediated host call

`(t(N) − t(0)) / N` over runs of the `bench-call-loop` guest calling
`log(info, "x")` N times. The mediated call checks scope, scrubs the
arguments, timestamps and builds one `CallEvent` and records it; the bare
call is a no-op `func_wrap` that only lifts its arguments. NullSink discards
events (mediation alone); MemorySink keeps them; `AuditLog` is the real
tamper-evident log (hash chain, one JSON line per call). A `log` call
changes and sends nothing, so its record is queued and written in batches
off the call path (docs/audit.md); with GroupCommit it is not synced per
call either, which is why that row is close to the Buffered one.

EOF
    cat_area detail 2
    if [ -s "$profile_md" ]; then
        echo
        echo "### What bounds the mediated call (callgrind)"
        echo
        cat "$profile_md"
    fi
    cat <<'EOF'

## 3. Audit log

`cargo bench --bench audit`. Appends with 8 threads at once per durability
mode; verify of a 1,000,000-record log against the machine's raw sha256
throughput over the same bytes, the ceiling for any verifier that hashes
every record. The fsync figures depend on the disk; the ratio is what group
commit buys (concurrent appenders share each sync).

EOF
    cat_area detail 3
    cat <<'EOF'

## 4. Secret stores

`cargo bench --bench store`. The embedded store against bare file I/O in the
same directory; OpenBao (a `bao server -dev` started on 127.0.0.1 the way
tests/support/openbao.rs does) against bare KV v2 requests to the same server
on a keep-alive connection.

EOF
    cat_area detail 4
    cat <<'EOF'

## 5. Cold start

`cargo bench --bench coldstart`, on a project made by `agentward init`.
The last two rows split out creating the `Host`: wasmtime's pooling
allocator defaults to 1,000 stack slots (for async fibers), each with a
guard page `mprotect`ed when the engine is created, and agentward's engine
configuration (host/src/runtime/engine.rs) sizes the pool's instances,
memories and tables from `max_concurrent_roles` but not its stacks; the
row compares that configuration, rebuilt in the bench, with the same plus
`total_stacks(16)`.

EOF
    cat_area detail 5
    cat <<'EOF'

## 6. Workflow: dry-run and live rotations

`cargo bench --bench workflow`: `agentward rotate --dry-run --json` on
projects with 1, 100 and 1,000 secrets due, one item after another, then
1,000 at the default concurrency; the process reports where its time went.
Then live rotations of 100, 1,000 and 10,000 secrets at the default
concurrency, and 1,000 one after another.

EOF
    cat_area detail 6
    cat <<'EOF'

## 7. Guest languages

`cargo bench --bench languages`: the Rust reviewer against the Python
reviewer (componentize-py, scripts/build-python-roles.sh) on the same
`ReviewTask`, and the Rust planner against the JavaScript planner
(componentize-js, scripts/build-js-roles.sh) on the same `PlanTask` and
store, through `Host::run` with a precompile cache. First compile is
`Host::load` on a fresh host with an empty cache (Cranelift, then the cache
file written), paid once per component and machine.

EOF
    cat_area detail 7
    cat <<'EOF'

## 8. HTTPS

`cargo bench --bench tls`: a mediated HTTPS GET (the `bench-http-loop`
guest through `Host::run`: scope and egress checks, audit intent and
outcome, the grant's shared `TlsClient`, response scrubbing) against the
same GET made from the host with rustls directly, both to a rustls server
on 127.0.0.1 with a certificate from a test CA, a new connection per
request; and the client configuration built once per policy (what a grant
holds) against per call.

EOF
    cat_area detail 8
    cat <<'EOF'

## 9. Model

`cargo bench --bench model`: a mediated `model.complete` (the
`model-client` guest through `Host::run`: budgets, the prompt's exposure
scan, the grant's `GET /models` check once per run, audit intent and
outcome, the completion scrubbed) against the same chat-completions body
POSTed by the host with ureq, both to a llama.cpp server serving
SmolLM2-135M-Instruct on 127.0.0.1 (scripts/install-llama.sh); and the
model's completion tokens per second on this machine.

EOF
    cat_area detail 9
    cat <<'EOF'

## 10. npm tokens in flight

`cargo bench --bench npm`: 100 npm tokens of 100 registry users rotated
live against one Verdaccio on 127.0.0.1 (the rotation tests' registry and
projects), 32 in flight against one after another, alternating, twice:
with the registry on loopback, and behind a proxy on 127.0.0.1 that gives
it a 10 ms round trip.

EOF
    cat_area detail 10
    cat <<'EOF'

## 11. Many hosts on one OpenBao cluster

`cargo bench --bench cluster`: live rotations against a 3-node OpenBao
Raft cluster on 127.0.0.1, with `[cluster]` against without, and three
hosts at once against one ([cluster.md](cluster.md)).

EOF
    cat_area detail 11
} >"$out/report.md"

cp "$out/report.md" "$doc"
cat "$out/report.md"
echo >&2
echo "wrote $doc (${elapsed} s of benchmarks)" >&2
if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}" >&2
    exit 1
fi
