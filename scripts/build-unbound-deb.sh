#!/usr/bin/env bash
# Rebuilds Debian's own unbound source package with the dynlib module, for dnsverdict.
#   build-unbound-deb.sh WORKDIR
# The result is the distribution's Unbound (same configure options, paths, unbound.service,
# AppArmor profile) plus --with-dynlibmodule, under the version "<Debian's>+dnsverdict1".
# The .debs land in WORKDIR; WORKDIR/unbound-tree names the source tree and WORKDIR/
# unbound-build the configured build folder (b/unbound) the module must compile against.
# Done once: WORKDIR/.built holds the version built. Needs root for the build dependencies.
set -euo pipefail

workdir=$(mkdir -p "$1" && cd "$1" && pwd)
suffix=+dnsverdict1
here=$(cd "$(dirname "$0")" && pwd)

if [[ -f "$workdir/.built" ]]; then
  exit 0
fi

tree=$("$here/fetch-unbound-source.sh" "$workdir")
cd "$tree"
debian_version=$(dpkg-parsechangelog -S Version)
if [[ "$debian_version" != *"$suffix" ]]; then
  # The daemon's configure gets the dynlib module (the libunbound-only build does not need it).
  sed -i 's/^\t\t--enable-systemd \\$/&\n\t\t--with-dynlibmodule \\/' debian/rules
  grep -q -- '--with-dynlibmodule' debian/rules || {
    echo "dnsverdict: could not add --with-dynlibmodule to $tree/debian/rules" >&2; exit 1; }
  # AppArmor: modules loaded through dynlib bring their own rules in /etc/apparmor.d/unbound.d/.
  sed -i 's|^  #include <local/usr.sbin.unbound>$|  # Rules of modules loaded with the dynlib module (dnsverdict ships one).\n  include if exists <unbound.d>\n\n&|' debian/apparmor-profile
  grep -q 'include if exists <unbound.d>' debian/apparmor-profile || {
    echo "dnsverdict: could not extend $tree/debian/apparmor-profile" >&2; exit 1; }
  distribution=$(dpkg-parsechangelog -S Distribution)
  {
    echo "unbound (${debian_version}${suffix}) ${distribution}; urgency=medium"
    echo
    echo "  * Rebuilt with the dynlib module (--with-dynlibmodule) for dnsverdict."
    echo "  * AppArmor profile: include /etc/apparmor.d/unbound.d/ for dynlib modules."
    echo
    echo " -- ${DEBFULLNAME:-dnsverdict maintainers} <${DEBEMAIL:-dnsverdict@localhost}>  $(date -R)"
    echo
    cat debian/changelog
  } > debian/changelog.new
  mv debian/changelog.new debian/changelog
fi

if [[ $(id -u) -eq 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get build-dep -y -qq --no-install-recommends "$tree" >/dev/null
fi
echo "dnsverdict: building Debian's unbound $(dpkg-parsechangelog -S Version) (nocheck, 2 jobs)" >&2
# The distribution's tools only: a Python (or compiler) earlier in PATH, such as pyenv's,
# would end up in the package.
PATH=/usr/sbin:/usr/bin:/sbin:/bin DEB_BUILD_OPTIONS="nocheck parallel=${JOBS:-2}" \
  dpkg-buildpackage -b -uc -us -j"${JOBS:-2}" >"$workdir/unbound-build.log" 2>&1 || {
  tail -n 40 "$workdir/unbound-build.log" >&2
  echo "dnsverdict: the unbound package build failed (log: $workdir/unbound-build.log)" >&2
  exit 1; }
grep -q '^#define WITH_DYNLIBMODULE 1' b/unbound/config.h || {
  echo "dnsverdict: the unbound package was built without the dynlib module" >&2; exit 1; }
ln -sfn "$tree" "$workdir/unbound-tree"
ln -sfn "$tree/b/unbound" "$workdir/unbound-build"
dpkg-parsechangelog -S Version > "$workdir/.built"
