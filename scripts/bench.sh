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

packages=(dnsperf dnsdist nsd lmdb-utils dnsutils python3)
missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  install_line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "bench: missing packages; run as root:" >&2
    echo "  apt-get update && $install_line" >&2
    exit 1
  fi
  echo "bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packages start system daemons on port 53 where an init system runs; the bench starts
  # its own on loopback ports.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now dnsdist nsd >/dev/null 2>&1 || true
  fi
fi

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
