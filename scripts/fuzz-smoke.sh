#!/usr/bin/env bash
# The fuzz smoke run (`make fuzz-smoke`): builds the cargo-fuzz targets in
# fuzz/ and runs each for FUZZ_SECONDS (default 30) from its seed corpus
# (fuzz/corpus/<target>, plus fuzz/regressions/<target> where present),
# then prints a summary table: runs, execs/s, and libFuzzer's final
# coverage (cov: edges, ft: features) per target. Exits non-zero if any
# target crashed, hung (-timeout) or failed to build; the input that did
# it is left in fuzz/artifacts/<target>/ (see docs/fuzzing.md).
#
#   FUZZ_SECONDS=60 make fuzz-smoke            longer runs
#   FUZZ_TARGETS="policy workflow" make fuzz-smoke
#   FUZZ_SANITIZER=none make fuzz-smoke        without AddressSanitizer
#
# cargo-fuzz needs a nightly compiler's flags (-Z sanitizer, coverage
# instrumentation); this project's toolchain is stable, so RUSTC_BOOTSTRAP=1
# unlocks them for this build only, in its own target directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-address}"
target_dir="$root/target/fuzz"
cargo_fuzz="$(bash scripts/install-cargo-fuzz.sh | tail -n1)"
export PATH="$(dirname "$cargo_fuzz"):$PATH"
export RUSTC_BOOTSTRAP=1
# The fuzz targets run no guest component: skip building plugins/.
export AGENTWARD_SKIP_GUEST_BUILD=1
# 16 codegen units (cargo-fuzz's default is 1) keep the wasmtime build in
# minutes on a two-core machine.
build_flags=(--target-dir "$target_dir" --codegen-units 16 --sanitizer "$sanitizer")

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"
started=$(date +%s)
cargo fuzz build "${build_flags[@]}"
built=$(date +%s)
echo "fuzz build: $((built - started)) s"

logs="$target_dir/smoke"
mkdir -p "$logs"
summary="$logs/summary.md"
{
    echo "| target | runs | execs/s | cov | ft | corpus | result |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
} >"$summary"
failed=()
for target in $targets; do
    # New inputs go to a scratch corpus; the repository's seeds are read only.
    work="$target_dir/corpus/$target"
    mkdir -p "$work" "fuzz/corpus/$target"
    seeds=("fuzz/corpus/$target")
    [ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
    log="$logs/$target.log"
    echo "== $target: ${seconds}s"
    result=ok
    if ! cargo fuzz run "${build_flags[@]}" "$target" "$work" "${seeds[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1; then
        result=FAILED
        failed+=("$target")
        tail -n 40 "$log"
    fi
    # libFuzzer's last status line (`#N DONE cov: X ft: Y corp: Z/…`) and
    # its final stats.
    status=$(grep -E '^#[0-9]+' "$log" | tail -n1 || true)
    field() { sed -n "s/.* $1: \([0-9]*\).*/\1/p" <<<"$status"; }
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    corpus=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
    echo "| $target | ${runs:-?} | ${speed:-?} | $(field cov) | $(field ft) | ${corpus:-?} | $result |" >>"$summary"
done
finished=$(date +%s)
echo
cat "$summary"
echo
echo "fuzz smoke: build $((built - started)) s, runs $((finished - built)) s; logs in $logs"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz smoke FAILED: ${failed[*]} (inputs in fuzz/artifacts/; docs/fuzzing.md says how to turn one into a regression test)" >&2
    exit 1
fi
