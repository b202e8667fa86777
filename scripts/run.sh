#!/usr/bin/env bash
# `make run`: compiles conf/feeds.manifest, starts NSD (upstream for every name: a root zone
# with wildcard records, since there is no internet here) and the built Unbound with the
# module in the foreground on 127.0.0.1:5353, counting hits into BUILD_DIR/run/stats.mdb.
# Ctrl-C stops both (Unbound's shutdown flushes the last counts).
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
    -e "s|^stats-store:.*|stats-store: $run/stats.mdb|" \
    -e "s|^stats-flush-interval:.*|stats-flush-interval: 10|" \
    -e "s|^stats-resolver-name:.*|stats-resolver-name: make-run|" \
    -e "s|^# *prometheus-file:.*|prometheus-file: $run/dnsverdict.prom|" \
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
  dig @127.0.0.1 -p 5353 baidugif.com                  # sinkhole 10.66.66.66 (campaign lookalike-image-cc), EDE 15
  dig @127.0.0.1 -p 5353 www.qqjpeg.com AAAA           # subtree rule, IPv6 sinkhole fd00::6666
  dig @127.0.0.1 -p 5353 163pics.com MX                # sinkhole, other types: NODATA
  dig @127.0.0.1 -p 5353 nxdomain.example.test         # RPZ CNAME .            -> NXDOMAIN
  dig @127.0.0.1 -p 5353 nodata.example.test           # RPZ CNAME *.           -> NOERROR, no records
  dig @127.0.0.1 -p 5353 refuse.example.test           # JSON Lines indicator   -> REFUSED
  dig @127.0.0.1 -p 5353 drop.example.test +tries=1    # RPZ rpz-drop.          -> no answer
  dig @127.0.0.1 -p 5353 tcp-only.example.test +ignore # RPZ rpz-tcp-only.      -> TC over UDP (+tcp passes)
  dig @127.0.0.1 -p 5353 sinkhole.example.test         # RPZ local data         -> 192.0.2.53
  dig @127.0.0.1 -p 5353 redirect.example.test         # RPZ CNAME target       -> walled-garden.example.
  dig @127.0.0.1 -p 5353 a.wildcard.example.test       # *.name: below only     -> NXDOMAIN (the apex passes)
  dig @127.0.0.1 -p 5353 ads.example.com               # hosts file             -> NXDOMAIN
  dig @127.0.0.1 -p 5353 cdn.example.org               # domain list (subtree)  -> NXDOMAIN
  dig @127.0.0.1 -p 5353 static.cdn.example.org        # allowlisted under it   -> resolves
  dig @127.0.0.1 -p 5353 suspicious.test               # log: resolves, hit line written
  dig @127.0.0.1 -p 5353 adult.example                 # tag: resolves, hit line + counters
  dig @127.0.0.1 -p 5353 low-confidence.example.test   # confidence 40 < 50: only logged
  dig @127.0.0.1 -p 5353 mid-confidence.example.test   # confidence 65 < 80: tagged, not blocked
  dig @127.0.0.1 -p 5353 example.org                   # not listed: 10.0.0.1 from the local upstream
  tail -f $run/hits.jsonl                              # one JSON line per hit
  $build/tools/dnsverdict stats $run/stats.mdb         # clients per campaign (flushed every 10 s and at Ctrl-C)
  cat $run/dnsverdict.prom                             # the Prometheus textfile
  $build/tools/dnsverdict lookup --config $run/dnsverdict.conf $run/verdicts.mdb NAME   # what a name gets, and why
  $build/tools/dnsverdict check-config $run/dnsverdict.conf   # the module config, checked
Recompile while it runs (picked up within 1 s):
  $build/tools/dnsverdict compile -o $run/verdicts.mdb --manifest $root/conf/feeds.manifest
Ctrl-C stops.

HELP
DNSVERDICT_CONFIG="$run/dnsverdict.conf" "$unbound" -d -c "$run/unbound.conf" & pids+=($!)
wait -n
