#!/usr/bin/env bash
# Builds Unbound with the dynlib module into a private prefix, once.
#   build-unbound.sh PREFIX WORKDIR [SOURCE_DIR]
# SOURCE_DIR: an operator's own Unbound source tree; without it, Debian's source package
# (apt-get source unbound) is fetched into WORKDIR. A finished build is not repeated:
# PREFIX/.built records the source it came from.
set -euo pipefail

prefix=$1
workdir=$2
source_dir=${3:-}

if [[ -x "$prefix/sbin/unbound" && -f "$prefix/.built" ]]; then
  exit 0
fi
mkdir -p "$workdir"

if [[ -z "$source_dir" ]]; then
  existing=$(find "$workdir" -maxdepth 1 -type d -name 'unbound-1.*' | sort | tail -n 1)
  if [[ -z "$existing" ]]; then
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
      if [[ $(id -u) -ne 0 ]]; then
        echo "dnsverdict: Unbound's source needs a deb-src entry; as root add one, or pass -DUNBOUND_SOURCE_DIR=<tree>" >&2
        exit 1
      fi
      # A deb-src twin of every deb entry in the deb822 sources.
      for sources in /etc/apt/sources.list.d/*.sources; do
        [[ -f "$sources" ]] || continue
        sed -n '/^Types: deb$/,/^$/p' "$sources" | sed 's/^Types: deb$/Types: deb-src/' \
          > "/etc/apt/sources.list.d/dnsverdict-src-$(basename "$sources")"
      done
      apt-get update -qq
    fi
    (cd "$workdir" && apt-get source --download-only -qq unbound >/dev/null 2>&1 || apt-get source --download-only unbound)
    dsc=$(ls "$workdir"/unbound_*.dsc | sort | tail -n 1)
    (cd "$workdir" && dpkg-source --no-check -x "$dsc" >/dev/null)
    existing=$(find "$workdir" -maxdepth 1 -type d -name 'unbound-1.*' | sort | tail -n 1)
  fi
  source_dir=$existing
fi

if [[ ! -f "$source_dir/dynlibmod/dynlibmod.h" ]]; then
  echo "dnsverdict: $source_dir is not an Unbound source tree with dynlibmod/" >&2
  exit 1
fi

echo "dnsverdict: building Unbound from $source_dir into $prefix (once)" >&2
cd "$source_dir"
if [[ ! -f config.status ]]; then
  ./configure --prefix="$prefix" --with-dynlibmodule --with-libevent \
    --disable-flto --with-pidfile="" --with-rootkey-file="" \
    --with-conf-file="$prefix/etc/unbound.conf" >/dev/null
fi
make -j"$(nproc)" >/dev/null
make install >/dev/null
echo "$source_dir" > "$prefix/.built"
