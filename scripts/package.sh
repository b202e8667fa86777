#!/usr/bin/env bash
# make package: the Debian packages for this distribution, into WORKDIR/debs/.
#   package.sh WORKDIR
# 1. Debian's unbound source package rebuilt with the dynlib module (build-unbound-deb.sh,
#    once: its .debs are reused by later runs).
# 2. dnsverdict, its module compiled against that very build's configuration, depending on
#    exactly that unbound version (packaging/debian/).
# 3. lintian on the dnsverdict package.
# Needs root for the build dependencies (or them installed already).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
workdir=$(mkdir -p "$1" && cd "$1" && pwd)
export JOBS=${JOBS:-2}

"$here/install-deps.sh" debhelper lintian
"$here/build-unbound-deb.sh" "$workdir/unbound"
unbound_version=$(cat "$workdir/unbound/.built")

# The project's version, and the package's: it names the unbound build it belongs to, so a
# rebuild for a new unbound (a security update) is a newer dnsverdict package too.
project_version=$(sed -n 's/^project(dnsverdict VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
unbound_part=${unbound_version//[-+]/.}
package_version="${project_version}+unbound${unbound_part}-1"
# Who the packages name as maintainer: set DEBFULLNAME and DEBEMAIL to yours.
maintainer="${DEBFULLNAME:-dnsverdict maintainers} <${DEBEMAIL:-dnsverdict@localhost}>"

# A copy of the working tree (tracked and new files, not the build folders) with debian/.
source=$workdir/dnsverdict-$project_version
rm -rf "$source"
mkdir -p "$source"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$source"
cp -r "$repo/packaging/debian" "$source/debian"
sed -i "s/^Maintainer: .*/Maintainer: $maintainer/" "$source/debian/control"
{
  echo "dnsverdict ($package_version) $(dpkg-parsechangelog -l "$workdir/unbound/unbound-tree/debian/changelog" -S Distribution); urgency=medium"
  echo
  echo "  * dnsverdict $project_version for unbound $unbound_version."
  echo
  echo " -- $maintainer  $(date -R)"
} > "$source/debian/changelog"

echo "dnsverdict: building dnsverdict $package_version" >&2
(cd "$source" &&
  DNSVERDICT_UNBOUND_SOURCE="$workdir/unbound/unbound-tree" \
  DNSVERDICT_UNBOUND_BUILD="$workdir/unbound/unbound-build" \
  DNSVERDICT_UNBOUND_VERSION="$unbound_version" \
  PATH=/usr/sbin:/usr/bin:/sbin:/bin DEB_BUILD_OPTIONS="nocheck parallel=$JOBS" \
  dpkg-buildpackage -b -uc -us >"$workdir/dnsverdict-build.log" 2>&1) || {
  tail -n 40 "$workdir/dnsverdict-build.log" >&2
  echo "dnsverdict: the dnsverdict package build failed (log: $workdir/dnsverdict-build.log)" >&2
  exit 1; }

rm -rf "$workdir/debs"
mkdir -p "$workdir/debs"
cp "$workdir"/unbound/*_"$unbound_version"_*.deb "$workdir/debs/"
cp "$workdir"/dnsverdict_"$package_version"_*.deb "$workdir/debs/"
rm -f "$workdir/debs"/*-dbgsym_*.deb
echo "lintian:" >&2
lintian --profile debian "$workdir"/debs/dnsverdict_*.deb >&2 || true
echo "packages in $workdir/debs:" >&2
(cd "$workdir/debs" && ls -s -h -1 ./*.deb) >&2
