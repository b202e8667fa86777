#!/usr/bin/env bash
# Builds Unbound with the dynlib module into a private prefix, once.
#   build-unbound.sh PREFIX WORKDIR [SOURCE]
# SOURCE: an operator's own Unbound source tree, or a release tarball (unbound-X.Y.Z.tar.gz,
# extracted into WORKDIR); without it, Debian's source package (apt-get source unbound) is
# fetched into WORKDIR. The module compiles against the tree (its config.h), so the tree is
# configured in place. A finished build is not repeated: PREFIX/.built records the tree it
# came from, and a PREFIX built from another tree is refused rather than reused.
set -euo pipefail

prefix=$1
workdir=$2
source=${3:-}

# The tree SOURCE stands for (a tarball's once extracted), without extracting anything yet.
source_dir=
tarball=
if [[ -n "$source" ]]; then
  if [[ -d "$source" ]]; then
    source_dir=$(cd "$source" && pwd)
  elif [[ -f "$source" && "$source" == *.tar.gz ]]; then
    tarball=$(cd "$(dirname "$source")" && pwd)/$(basename "$source")
    source_dir=$workdir/$(basename "$tarball" .tar.gz)
  else
    echo "dnsverdict: $source is neither an Unbound source tree nor a release tarball (.tar.gz)" >&2
    exit 1
  fi
fi

if [[ -x "$prefix/sbin/unbound" && -f "$prefix/.built" ]]; then
  built_from=$(cat "$prefix/.built")
  if [[ -n "$source_dir" && "$built_from" != "$source_dir" ]]; then
    echo "dnsverdict: $prefix holds an Unbound built from $built_from, not $source_dir;" \
         "choose another UNBOUND_PREFIX or remove that one" >&2
    exit 1
  fi
  exit 0
fi
mkdir -p "$workdir"

if [[ -n "$tarball" && ! -d "$source_dir" ]]; then
  top=$(tar -tzf "$tarball" | awk -F/ 'NR == 1 { print $1 }')  # reads all: no SIGPIPE
  if [[ "$workdir/$top" != "$source_dir" ]]; then
    echo "dnsverdict: $tarball unpacks into $top/, expected $(basename "$source_dir")/" >&2
    exit 1
  fi
  tar -xzf "$tarball" -C "$workdir"
fi

if [[ -z "$source_dir" ]]; then
  source_dir=$("$(dirname "$0")/fetch-unbound-source.sh" "$workdir")
fi

if [[ ! -f "$source_dir/dynlibmod/dynlibmod.h" ]]; then
  echo "dnsverdict: $source_dir is not an Unbound source tree with dynlibmod/" >&2
  exit 1
fi

echo "dnsverdict: building Unbound from $source_dir into $prefix (once)" >&2
cd "$source_dir"
# A tree configured for another prefix would install there: configure it again for this one.
if [[ ! -f config.status ]] || ! ./config.status --config | grep -qF -- "--prefix=$prefix'"; then
  if [[ -f config.status ]]; then
    echo "dnsverdict: $source_dir was configured for another prefix; configuring it for $prefix" >&2
    make distclean >/dev/null 2>&1 || true
  fi
  ./configure --prefix="$prefix" --with-dynlibmodule --with-libevent \
    --disable-flto --with-pidfile="" --with-rootkey-file="" \
    --with-conf-file="$prefix/etc/unbound.conf" >/dev/null
fi
make -j"${JOBS:-$(nproc)}" >/dev/null
make install >/dev/null
echo "$source_dir" > "$prefix/.built"
