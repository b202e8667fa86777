#!/usr/bin/env bash
# `make run`: compiles conf/feeds.manifest, starts NSD (upstream for every name: a root zone
# with wildcard records, since there is no internet here) and the built Unbound with the
# module in the foreground on 127.0.0.1:5353. Ctrl-C stops both.
#   run.sh [BUILD_DIR] [UNBOUND_EXECUTABLE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
unbound=${2:-${UNBOUND_EXECUTABLE:-$build/unbound/sbin/unbound}}
run="$build/run"
mkdir -p "$run"

"$build/tools/dnsverdict" compile -o "$run/verdicts.mdb" --force --manifest "$root/conf/feeds.manifest"

nsd_port=5300
cat > "$run/root.zone" <<ZONE
\$TTL 300
.  SOA ns.root. hostmaster.root. 1 3600 600 86400 60
.  NS  ns.root.
ns.root. A 127.0.0.1
*  A    10.0.0.1
*  AAAA fd00::1
ZONE
cat > "$run/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$nsd_port
  username: ""
  database: ""
  zonelistfile: "$run/zone.list"
  xfrdfile: "$run/xfrd.state"
  pidfile: "$run/nsd.pid"
  logfile: "$run/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "."
  zonefile: "$run/root.zone"
CONF
sed -e "s|@RUN_DIR@|$run|g" -e "s|@MODULE@|$build/module/dnsverdict.so|g" \
    -e "s|@STUB_ZONES@|stub-zone:\n  name: \".\"\n  stub-addr: 127.0.0.1@$nsd_port|" \
    "$root/conf/unbound.conf.in" > "$run/unbound.conf"
sed -e "s|^store:.*|store: $run/verdicts.mdb|" -e "s|^hit-log:.*|hit-log: $run/hits.jsonl|" \
    "$root/conf/dnsverdict.conf" > "$run/dnsverdict.conf"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

/usr/sbin/nsd -d -c "$run/nsd.conf" & pids+=($!)
cat <<HELP

dnsverdict demo on 127.0.0.1:5353 (hit log: $run/hits.jsonl). Try:
  dig @127.0.0.1 -p 5353 baidugif.com        # sinkholed (campaign lookalike-image-cc), EDE 15
  dig @127.0.0.1 -p 5353 www.qqjpeg.com AAAA # subtree rule, IPv6 sinkhole
  dig @127.0.0.1 -p 5353 163pics.com MX      # sinkhole, other types: NODATA
  dig @127.0.0.1 -p 5353 example.org         # not listed: 10.0.0.1 from the local upstream
  $build/tools/dnsverdict lookup $run/verdicts.mdb NAME   # what a name gets, and why
Recompile while it runs (picked up within 1 s):
  $build/tools/dnsverdict compile -o $run/verdicts.mdb --manifest $root/conf/feeds.manifest
Ctrl-C stops.

HELP
DNSVERDICT_CONFIG="$run/dnsverdict.conf" "$unbound" -d -c "$run/unbound.conf" & pids+=($!)
wait -n
