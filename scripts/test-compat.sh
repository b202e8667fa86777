#!/usr/bin/env bash
# The module against each supported Unbound: for every VERSION, a build directory of its own
# (build-compat/VERSION) with that Unbound built into it, the module and the CLI built against
# it, and the integration tests run on it. Then each module is loaded into every other
# version's Unbound, which it must refuse with one line ("dnsverdict.so was built for Unbound
# X, this is Y: rebuild"). Every version is tried, then a summary is printed; the exit status
# is non-zero when anything failed.
#   test-compat.sh RELEASES VERSION...
# RELEASES: the folder of release tarballs (unbound-VERSION.tar.gz). A VERSION without a
# tarball there is built from Debian's source package, which must then be that version (the
# Unbound of `make test`'s build, when it is that version, is reused instead of built again).
# Environment: BUILD (make test's build directory, default build), BUILD_TYPE, JOBS.
set -uo pipefail
cd "$(dirname "$0")/.."

releases=$1
shift
build_type=${BUILD_TYPE:-RelWithDebInfo}
jobs=${JOBS:-$(nproc)}
default_build=${BUILD:-build}
mkdir -p build-compat

# The version of the Unbound tree a prefix was built from, or nothing.
prefix_version() {
  local tree
  tree=$(cat "$1/.built" 2>/dev/null) || return 0
  sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$tree/config.h" 2>/dev/null
}

summary=()
failed=0
built=()  # the versions whose module built
for version in "$@"; do
  dir=build-compat/$version
  log=build-compat/$version.log
  args=(-DCMAKE_BUILD_TYPE="$build_type")
  tarball=$releases/unbound-$version.tar.gz
  if [[ -f "$tarball" ]]; then
    args+=(-DUNBOUND_RELEASE_TARBALL="$(cd "$releases" && pwd)/unbound-$version.tar.gz")
  elif [[ "$(prefix_version "$default_build/unbound")" == "$version" ]]; then
    args+=(-DUNBOUND_PREFIX="$(cd "$default_build/unbound" && pwd)")
  fi
  echo "dnsverdict: Unbound $version: configuring $dir (log: $log)" >&2
  started=$(date +%s)
  result=passed
  if ! cmake -S . -B "$dir" "${args[@]}" >"$log" 2>&1; then
    result="CONFIGURE FAILED"
  else
    found=$(sed -n 's/.*dnsverdict: module built against Unbound \([^ ]*\) .*/\1/p' "$log" | tail -n 1)
    if [[ "$found" != "$version" ]]; then
      result="WRONG VERSION (no $tarball; the source found is Unbound ${found:-unknown})"
    fi
  fi
  configured=$(date +%s)
  if [[ "$result" == passed ]]; then
    echo "dnsverdict: Unbound $version: building the module and the CLI" >&2
    if ! cmake --build "$dir" -j"$jobs" --target dnsverdict_module dnsverdict >>"$log" 2>&1; then
      result="BUILD FAILED"
    fi
  fi
  compiled=$(date +%s)
  if [[ "$result" == passed ]]; then
    built+=("$version")
    echo "dnsverdict: Unbound $version: integration tests" >&2
    if ! ctest --test-dir "$dir" -L integration --output-on-failure -j2 --timeout 900 >>"$log" 2>&1; then
      result="TESTS FAILED"
    fi
  fi
  finished=$(date +%s)
  [[ "$result" == passed ]] || failed=1
  summary+=("$(printf 'Unbound %-8s %-22s configure %4ds  build %4ds  tests %4ds  (%s)' \
    "$version" "$result" $((configured - started)) $((compiled - configured)) \
    $((finished - compiled)) "$log")")
done

# Each module loaded into every other version's Unbound must refuse with one line.
for module_version in "${built[@]}"; do
  for unbound_version in "${built[@]}"; do
    [[ "$module_version" != "$unbound_version" ]] || continue
    prefix=$(sed -n 's/^UNBOUND_PREFIX:PATH=//p' "build-compat/$unbound_version/CMakeCache.txt")
    work=$(mktemp -d)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$work/unbound.conf" <<EOF
server:
  interface: 127.0.0.1@$port
  username: ""
  chroot: ""
  directory: "$work"
  pidfile: ""
  do-daemonize: no
  use-syslog: no
  logfile: ""
  module-config: "dynlib iterator"
remote-control:
  control-enable: no
dynlib:
  dynlib-file: "$PWD/build-compat/$module_version/module/dnsverdict.so"
EOF
    expected="dnsverdict.so was built for Unbound $module_version, this is $unbound_version: rebuild"
    output=$(timeout 20 "$prefix/sbin/unbound" -d -c "$work/unbound.conf" 2>&1)
    status=$?
    rm -rf "$work"
    if [[ $status -ne 0 && $status -ne 124 ]] && grep -qF -- "error: $expected" <<<"$output"; then
      result="refused"
    else
      result="NOT REFUSED"
      failed=1
      printf '%s\n' "$output" >>"build-compat/$module_version.log"
    fi
    summary+=("$(printf 'module for %-8s in Unbound %-8s %s' "$module_version" "$unbound_version" "$result")")
  done
done

echo "dnsverdict: the module against each Unbound:" >&2
printf '  %s\n' "${summary[@]}" >&2
# What failed, from each failing version's log: the tests ctest lists, and each failing test
# case's traceback and message, up to 25 lines each (the whole output stays in the log).
for version in "$@"; do
  log=build-compat/$version.log
  if grep -q '^The following tests FAILED:' "$log" 2>/dev/null; then
    echo "dnsverdict: Unbound $version: what failed ($log):" >&2
    awk '
      /^(FAIL|ERROR): / { block = 1; lines = 0; print; next }
      block && /^(--------------------+|====================+)$/ { if (lines > 0) block = 0; next }
      block && /^Traceback/ { lines = 1; next }
      block && lines > 0 && lines <= 25 { print; ++lines; next }
      /^[[:space:]]+[0-9]+ - / { print }
    ' "$log" | tail -n 120 | sed 's/^/  /' >&2
  fi
done
exit $failed
