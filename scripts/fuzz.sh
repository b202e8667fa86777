#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz/ (docs/hardening.md), built in build-fuzz by the `fuzz`
# preset (clang, every library instrumented, ASan + UBSan).
#   fuzz.sh smoke            every target's CTest entry: its seed corpus replayed, then
#                            DNSVERDICT_FUZZ_SECONDS (3) of fuzzing. `make test` runs this.
#   fuzz.sh run [TARGET...]  each target (default: all) for FUZZ_SECONDS, two at a time, then
#                            one line per target: executions, coverage (libFuzzer's cov: and
#                            ft:), corpus size, crashes. `make fuzz` runs this.
# New inputs go to build-fuzz/tests/fuzz/corpus/TARGET, crashes to build-fuzz/tests/fuzz/crashes/
# (TARGET-crash-SHA1: replay one with build-fuzz/tests/fuzz/fuzz_TARGET FILE).
# The *_file targets open raw bytes as store files: LMDB itself crashes on some damaged pages
# (docs/hardening.md), so `run` fuzzes them in fork mode, counting crashes instead of stopping
# at the first, and does not fail on them; their CTest entries replay the corpus only.
# Environment: JOBS (build jobs), FUZZ_SECONDS (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-2}
build=build-fuzz
work=$build/tests/fuzz

if ! command -v clang++ >/dev/null; then
  echo "dnsverdict: the fuzz targets need clang (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs" >/dev/null

if [[ "${1:-}" == smoke ]]; then
  exec ctest --preset fuzz -j2 --timeout 300
fi
[[ "${1:-}" == run ]] || { echo "usage: fuzz.sh smoke | run [TARGET...]" >&2; exit 2; }
shift

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if ((${#targets[@]} == 0)); then
  for binary in "$work"/fuzz_*; do targets+=("${binary##*/fuzz_}"); done
fi

# One target: fuzzes, then prints "TARGET EXECUTIONS COV FT CORPUS CRASHES".
run_one() {
  local target=$1 seconds=$2 work=$3 log mode=()
  log=$work/logs/$target.log
  mkdir -p "$work/logs" "$work/corpus/$target" "$work/crashes"
  [[ "$target" == *_file ]] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  local before
  before=$(find "$work/crashes" -name "$target-*" | wc -l)
  "$work/fuzz_$target" "${mode[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$work/crashes/$target-" \
    "$work/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1 || true
  local last executions cov ft corpus crashes
  last=$(grep -E 'cov: [0-9]+' "$log" | tail -1)
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -n "$executions" ]] || executions=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corpus=$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")
  crashes=$(( $(find "$work/crashes" -name "$target-*" | wc -l) - before ))
  echo "$target ${executions:-?} ${cov:-?} ${ft:-?} ${corpus:-?} $crashes"
}
export -f run_one

echo "dnsverdict: ${#targets[@]} fuzz targets, ${seconds} s each, two at a time (logs in $work/logs/)" >&2
results=$(printf '%s\n' "${targets[@]}" | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$work")
failed=0
printf '%-20s %12s %6s %7s %7s %8s\n' target executions cov ft corpus crashes
while read -r target executions cov ft corpus crashes; do
  note=""
  if ((crashes > 0)); then
    if [[ "$target" == *_file ]]; then note="  (raw store files: see docs/hardening.md)"; else failed=1; note="  FAILED"; fi
  fi
  printf '%-20s %12s %6s %7s %7s %8s%s\n' "$target" "$executions" "$cov" "$ft" "$corpus" "$crashes" "$note"
done < <(sort <<<"$results")
exit $failed
