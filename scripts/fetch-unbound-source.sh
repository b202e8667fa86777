#!/usr/bin/env bash
# Fetches and unpacks Debian's unbound source package into WORKDIR, once, and prints the
# unpacked tree's path. A tree already unpacked there is reused.
#   fetch-unbound-source.sh WORKDIR
# `apt-get source` needs a deb-src entry: as root, one is added beside every deb entry of the
# deb822 sources (/etc/apt/sources.list.d/dnsverdict-src-*.sources) when none exists.
set -euo pipefail

workdir=$1
mkdir -p "$workdir"
existing=$(find "$workdir" -maxdepth 1 -type d -name 'unbound-1.*' | sort | tail -n 1)
if [[ -n "$existing" ]]; then
  echo "$existing"
  exit 0
fi

if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "dnsverdict: Unbound's source needs a deb-src entry; as root add one, or pass -DUNBOUND_SOURCE_DIR=<tree>" >&2
    exit 1
  fi
  for sources in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$sources" ]] || continue
    sed -n '/^Types: deb$/,/^$/p' "$sources" | sed 's/^Types: deb$/Types: deb-src/' \
      > "/etc/apt/sources.list.d/dnsverdict-src-$(basename "$sources")"
  done
  apt-get update -qq
fi
(cd "$workdir" && apt-get source --download-only -qq unbound >/dev/null 2>&1 || apt-get source --download-only unbound) >&2
dsc=$(ls "$workdir"/unbound_*.dsc | sort | tail -n 1)
(cd "$workdir" && dpkg-source --no-check -x "$dsc" >/dev/null)
find "$workdir" -maxdepth 1 -type d -name 'unbound-1.*' | sort | tail -n 1
