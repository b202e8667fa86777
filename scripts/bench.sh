#!/usr/bin/env bash
# `make bench`: dnsverdict against plain Unbound, Unbound's native RPZ and dnsdist + LMDB, in
# one run; rewrites the bench section of docs/benchmarks.md (tests/bench/harness/).
#
#   scripts/bench.sh [BUILD]              BUILD: a configured and built build dir (default build)
#   BENCH_ARGS="--sizes 100000" scripts/bench.sh build   extra harness options (bench.py --help)
#
# As root, installs the Debian packages it needs; otherwise prints the apt-get line and stops.
# Bounded: the harness is stopped after BENCH_TIMEOUT (default 45m), and stops what it started.
set -euo pipefail

build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The test bed's packages (nsd, dnsperf, lmdb-utils, ...), dnsdist for the comparison and
# valgrind for instructions per query (callgrind).
scripts/install-deps.sh dnsdist valgrind

if [[ ! -x "$build/tools/dnsverdict" ]]; then
  echo "bench: $build/tools/dnsverdict is not built; run make bench (or make build BUILD=$build)" >&2
  exit 1
fi

read -r load _ < /proc/loadavg
echo "bench: $(nproc) cores, load average $load at start (figures are steadiest on an idle machine)"

# shellcheck disable=SC2086
exec timeout --signal=TERM --kill-after=60 "${BENCH_TIMEOUT:-45m}" \
  python3 tests/bench/harness/bench.py --build "$build" --doc docs/benchmarks.md \
  --command "make bench" ${BENCH_ARGS:-}
