#!/usr/bin/env bash
# make test-package: installs the packages `make package` built on this machine, runs them as
# an operator would, and purges them, leaving the machine as it was (also when a step fails).
#   test-package.sh DEBS_DIR
# Steps: package contents (dpkg-deb -c, conffiles, the exact unbound dependency); apt-get
# install of the rebuilt unbound and dnsverdict; the packaged Unbound started by hand with
# the packaged configuration (plus a loopback port and an NSD upstream: no internet here) as
# Unbound's own user; a sinkholed seed domain and an unlisted name; the compile timer's
# ExecStart run as its User=; the hit log rotated with the shipped logrotate file, no line
# lost; check-config, stats; systemd-analyze verify on the units; man pages; purge, nothing
# left. Services are not started by the packages here (policy-rc.d): the test starts Unbound
# itself, on loopback only. Needs root, and a machine without unbound installed.
set -euo pipefail

# grep -q in a pipeline stops reading early: the writer's SIGPIPE then fails the pipeline.
contains() { grep "$@" >/dev/null; }

debs=$(cd "$1" && pwd)
"$(dirname "$0")/install-deps.sh" systemd man-db
if [[ $(id -u) -ne 0 ]]; then
  echo "dnsverdict: test-package installs packages: run it as root" >&2
  exit 1
fi
for package in unbound dnsverdict; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | contains 'ok installed'; then
    echo "dnsverdict: $package is installed on this machine; test-package installs and purges" \
         "its own: run it where $package is not installed" >&2
    exit 1
  fi
done
unbound_deb=$(ls "$debs"/unbound_*.deb)
dnsverdict_deb=$(ls "$debs"/dnsverdict_*.deb)

work=$(mktemp -d /tmp/dnsverdict-test-package.XXXXXX)
chmod 0755 "$work"
pids=()
created_policy=no
had_user=no
getent passwd unbound >/dev/null && had_user=yes
dpkg-query -W -f='${Package}\n' | sort > "$work/packages.before"

step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if dpkg-query -W dnsverdict unbound >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq dnsverdict unbound >/dev/null 2>&1 || true
  fi
  # Exactly the packages this test installed (the dependencies apt added), no others.
  dpkg-query -W -f='${Package}\n' | sort > "$work/packages.after"
  added=$(comm -13 "$work/packages.before" "$work/packages.after" | tr '\n' ' ')
  if [[ -n "${added// }" ]]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $added >/dev/null 2>&1 || true
  fi
  if [[ $had_user == no ]] && getent passwd unbound >/dev/null; then
    userdel unbound 2>/dev/null || true
    getent group unbound >/dev/null && groupdel unbound 2>/dev/null || true
  fi
  [[ $created_policy == yes ]] && rm -f /usr/sbin/policy-rc.d
  rm -rf "$work"
  if ((status != 0)); then echo "test-package: FAILED" >&2; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

step "package contents"
dpkg-deb -c "$dnsverdict_deb" | awk '{print $6}' > "$work/contents"
unbound_version=$(dpkg-deb -f "$unbound_deb" Version)
[[ "$unbound_version" == *+dnsverdict* ]] || fail "$unbound_deb is not the dnsverdict build of unbound"
unbound_upstream=${unbound_version%%-*}
for path in ./usr/bin/dnsverdict \
            "./usr/lib/dnsverdict/unbound-$unbound_upstream/dnsverdict.so" \
            ./usr/share/dnsverdict/unbound-module.conf \
            ./etc/dnsverdict/dnsverdict.conf ./etc/dnsverdict/feeds.manifest \
            ./etc/dnsverdict/feeds/netlab-lookalike.csv \
            ./etc/logrotate.d/dnsverdict ./etc/apparmor.d/unbound.d/dnsverdict \
            ./lib/systemd/system/dnsverdict-compile.service \
            ./lib/systemd/system/dnsverdict-compile.timer \
            ./usr/share/man/man8/dnsverdict.8.gz ./usr/share/man/man5/dnsverdict.conf.5.gz \
            ./usr/share/doc/dnsverdict/operations.md; do
  grep -qxF "$path" "$work/contents" || fail "$path is not in $(basename "$dnsverdict_deb")"
done
if grep -q '^\./usr/etc/\|^\./var/' "$work/contents"; then
  fail "files outside Debian's places: $(grep '^\./usr/etc/\|^\./var/' "$work/contents" | tr '\n' ' ')"
fi
dpkg-deb -f "$dnsverdict_deb" Depends | contains -F "unbound (= $unbound_version)" \
  || fail "dnsverdict does not depend on exactly unbound $unbound_version"
dpkg-deb --ctrl-tarfile "$dnsverdict_deb" | tar -xOf - ./conffiles > "$work/conffiles"
for conffile in /etc/dnsverdict/dnsverdict.conf /etc/dnsverdict/feeds.manifest \
                /etc/logrotate.d/dnsverdict; do
  grep -qxF "$conffile" "$work/conffiles" || fail "$conffile is not a conffile"
done
dpkg-deb -c "$unbound_deb" | contains ' \./usr/sbin/unbound$' || fail "no /usr/sbin/unbound in $unbound_deb"
echo "ok: $(wc -l < "$work/contents") paths, $(wc -l < "$work/conffiles") conffiles, Depends unbound (= $unbound_version)"

step "apt-get install ./$(basename "$unbound_deb") ./$(basename "$dnsverdict_deb") (with Recommends: dns-root-data, the trust anchor)"
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  # No service is started by the packages: this test starts Unbound itself on loopback.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  created_policy=yes
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  "$unbound_deb" "$dnsverdict_deb" > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; fail "apt-get install"; }
grep '^dnsverdict:' "$work/apt.log" || true
/usr/sbin/unbound -V | contains 'dynlib' || fail "the installed unbound has no dynlib module"
for dir in /var/lib/dnsverdict /var/log/dnsverdict; do
  [[ $(stat -c '%U:%G %a' "$dir") == "unbound:unbound 750" ]] \
    || fail "$dir is $(stat -c '%U:%G %a' "$dir"), not unbound:unbound 750"
done
[[ $(stat -c '%U %a' /var/lib/dnsverdict/verdicts.mdb) == "unbound 640" ]] \
  || fail "the first store is $(stat -c '%U %a' /var/lib/dnsverdict/verdicts.mdb), not unbound 640"
[[ -L /etc/unbound/unbound.conf.d/dnsverdict.conf ]] || fail "the module is not linked into unbound.conf.d"
dnsverdict info /var/lib/dnsverdict/verdicts.mdb | head -n 3
runuser -u unbound -- dnsverdict check-config /etc/dnsverdict/dnsverdict.conf | head -n 1

step "systemd-analyze verify"
systemd-analyze verify /lib/systemd/system/dnsverdict-compile.service \
  /lib/systemd/system/dnsverdict-compile.timer
echo "ok: both units"

step "man pages"
man 8 dnsverdict 2>/dev/null | contains 'check-config' || fail "man 8 dnsverdict"
man 5 dnsverdict.conf 2>/dev/null | contains 'stats-store' || fail "man 5 dnsverdict.conf"
echo "ok: dnsverdict(8), dnsverdict.conf(5)"

step "the packaged Unbound, the packaged configuration, on loopback"
nsd_port=$(free_port)
unbound_port=$(free_port)
cat > "$work/root.zone" <<ZONE
\$TTL 300
.  SOA ns.root. hostmaster.root. 1 3600 600 86400 60
.  NS  ns.root.
ns.root. A 127.0.0.1
*  A    10.0.0.1
ZONE
cat > "$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nsd_port
  username: ""
  database: ""
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "."
  zonefile: "$work/root.zone"
CONF
/usr/sbin/nsd -d -c "$work/nsd.conf" & pids+=($!)
# Debian's unbound.conf (with unbound.conf.d/, where the package linked the module) as the
# service runs it, plus what a test on loopback without internet needs.
cat > "$work/unbound.conf" <<CONF
include-toplevel: "/etc/unbound/unbound.conf"
server:
  interface: 127.0.0.1
  port: $unbound_port
  do-not-query-localhost: no
  # The test's root is unsigned (the packaged trust anchor is the real root's): names under
  # these are not validated.
  domain-insecure: "org."
  domain-insecure: "com."
  logfile: ""
  use-syslog: no
  verbosity: 1
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@$nsd_port
remote-control:
  control-enable: no
CONF
# What unbound.service runs before Unbound (the trust anchor), then Unbound as the unit does.
/usr/libexec/unbound-helper root_trust_anchor_update >/dev/null 2>&1 || true
/usr/sbin/unbound -d -p -c "$work/unbound.conf" 2> "$work/unbound.log" & unbound_pid=$!
pids+=("$unbound_pid")
for _ in $(seq 50); do
  dig @127.0.0.1 -p "$unbound_port" +time=1 +tries=1 example.org >/dev/null 2>&1 && break
  kill -0 "$unbound_pid" 2>/dev/null || { cat "$work/unbound.log"; fail "unbound did not start"; }
  sleep 0.2
done
grep -m1 'dnsverdict' "$work/unbound.log" || { cat "$work/unbound.log"; fail "the module did not load"; }
[[ $(ps -o user= -p "$unbound_pid") == unbound ]] || fail "unbound does not run as its user"
answer=$(dig @127.0.0.1 -p "$unbound_port" +short baidugif.com)
[[ "$answer" == 10.66.66.66 ]] || fail "baidugif.com answered '$answer', not the sinkhole 10.66.66.66"
echo "baidugif.com -> $answer (sinkholed, campaign lookalike-image-cc)"
answer=$(dig @127.0.0.1 -p "$unbound_port" +short example.org)
[[ "$answer" == 10.0.0.1 ]] || fail "example.org answered '$answer', not the upstream's 10.0.0.1"
echo "example.org -> $answer (not listed: resolved)"

step "the compile timer's ExecStart, as the unit's User="
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/dnsverdict-compile.service)
user=$(sed -n 's/^User=//p' /lib/systemd/system/dnsverdict-compile.service)
umask_value=$(sed -n 's/^UMask=//p' /lib/systemd/system/dnsverdict-compile.service)
echo "$exec_start"
# shellcheck disable=SC2086
(umask "$umask_value" && runuser -u "$user" -- $exec_start) || fail "the compile service's ExecStart"
[[ $(stat -c '%U %a' /var/lib/dnsverdict/verdicts.mdb) == "$user 640" ]] || fail "store mode after compile"
echo "ok: $(dnsverdict info /var/lib/dnsverdict/verdicts.mdb | grep -m1 -i build)"

step "logrotate -f with the shipped file: no hit line lost"
hits=/var/log/dnsverdict/hits.jsonl
ask() { for name in "$@"; do dig @127.0.0.1 -p "$unbound_port" +short "$name" >/dev/null; done; }
lines() { cat "$@" 2>/dev/null | wc -l; }
wait_lines() {  # until the files hold $1 lines (the writer is asynchronous)
  for _ in $(seq 50); do (( $(lines "${@:2}") >= $1 )) && return 0; sleep 0.1; done
  return 1
}
ask qqjpeg.com 163pics.com 163image.com
wait_lines 4 "$hits" || fail "expected 4 hit lines before rotation, found $(lines "$hits")"
[[ $(stat -c '%U %a' "$hits") == "unbound 640" ]] || fail "hit log mode $(stat -c '%U %a' "$hits")"
logrotate -f -s "$work/logrotate.state" /etc/logrotate.d/dnsverdict
[[ -f $hits.1 ]] || fail "logrotate did not rotate $hits"
sleep 0.5   # the module notices the rename within 200 ms
ask www.baidugif.com www.qqjpeg.com img.163pics.com
wait_lines 7 "$hits.1" "$hits" || fail "lines lost in rotation: $(lines "$hits.1") + $(lines "$hits") of 7"
(( $(lines "$hits") == 3 )) || fail "the module did not reopen $hits after rotation"
echo "ok: $(lines "$hits.1") lines in hits.jsonl.1, $(lines "$hits") in the new hits.jsonl"

step "stats after Unbound stops (it flushes at shutdown)"
kill "$unbound_pid"; wait "$unbound_pid" 2>/dev/null || true
dnsverdict stats /var/lib/dnsverdict/stats.mdb | grep -A2 '^campaigns'
dnsverdict stats /var/lib/dnsverdict/stats.mdb | contains lookalike-image-cc || fail "nothing counted"
ls -l /var/lib/dnsverdict /var/log/dnsverdict

step "docs/operations.md's estimate, on the shipped sample"
examples=/usr/share/doc/dnsverdict/examples
dnsverdict estimate --indicators "$examples/lookalike-images.csv" "$examples/unbound-queries.log" \
  --suspects > "$work/estimate.txt"
grep -E '^  devices|doubeidong.com' "$work/estimate.txt" || fail "no estimate"

step "purge: nothing left"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq dnsverdict unbound > "$work/purge.log" 2>&1 \
  || { cat "$work/purge.log"; fail "apt-get purge"; }
left=()
for path in /etc/dnsverdict /var/lib/dnsverdict /var/log/dnsverdict /usr/lib/dnsverdict \
            /usr/share/dnsverdict /usr/share/doc/dnsverdict /etc/logrotate.d/dnsverdict \
            /etc/apparmor.d/unbound.d /etc/unbound /usr/bin/dnsverdict /usr/sbin/unbound \
            /etc/systemd/system/timers.target.wants/dnsverdict-compile.timer; do
  [[ -e $path || -L $path ]] && left+=("$path")
done
left+=($(find /var/lib/systemd/deb-systemd-helper-enabled -name '*dnsverdict*' 2>/dev/null))
((${#left[@]} == 0)) || fail "left after purge: ${left[*]}"
echo "ok: nothing of dnsverdict or unbound left"
echo "test-package: passed"
