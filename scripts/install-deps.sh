#!/usr/bin/env bash
# Installs the Debian packages dnsverdict needs to build and test, only those missing.
# As root it runs apt-get; otherwise it prints the exact command and exits 1.
#   install-deps.sh [--run] [PACKAGE...]
# --run: only what `make run` needs (build the CLI, Unbound and the module; serve the demo),
# without the test and benchmark tools. PACKAGEs are added (make bench adds dnsdist).
set -euo pipefail

run_only=0
if [[ "${1:-}" == --run ]]; then
  run_only=1
  shift
fi
packages=(
  build-essential cmake pkg-config dpkg-dev
  liblmdb-dev libxxhash-dev libfmt-dev libidn2-dev zlib1g-dev
  libfstrm-dev libprotobuf-c-dev protobuf-c-compiler
  libssl-dev libexpat1-dev libevent-dev bison flex
  libcurl4-openssl-dev libldns-dev
  nsd dnsutils iproute2
)
if ((!run_only)); then
  packages+=(
    lmdb-utils libgtest-dev libgmock-dev libbenchmark-dev fstrm-bin
    bind9-utils knot-dnsutils dnsperf prometheus python3 knot openssl
    # the soak test rotates the hit log with the shipped rule
    logrotate
    # integration.faults moves Unbound's clock with libfaketime
    faketime
    # the fuzz targets: libFuzzer and the sanitizer runtimes are in libclang-rt-14-dev, which
    # clang only recommends
    clang libclang-rt-14-dev
  )
fi
packages+=("$@")

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

install_line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "dnsverdict: missing packages; run as root:" >&2
  echo "  apt-get update && $install_line" >&2
  exit 1
fi

echo "dnsverdict: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nsd's and knot's packages start a system daemon on port 53; tests run their own on loopback
# ports. (dnsdist too, for make bench.)
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nsd knot dnsdist >/dev/null 2>&1 || true; fi
