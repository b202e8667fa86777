#!/usr/bin/env bash
# `make run`: compiles conf/feeds.manifest, starts NSD (upstream for every name: a root zone
# with wildcard records, since there is no internet here) and the built Unbound with the
# module in the foreground on 127.0.0.1:PORT, counting hits into BUILD_DIR/run/stats.mdb.
# Ctrl-C stops both (Unbound's shutdown flushes the last counts).
#   run.sh [BUILD_DIR] [UNBOUND_EXECUTABLE]
# Environment: PORT (Unbound, default 5353), UPSTREAM_PORT (NSD, default 5300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
unbound=${2:-${UNBOUND_EXECUTABLE:-$build/unbound/sbin/unbound}}
port=${PORT:-5353}
nsd_port=${UPSTREAM_PORT:-5300}
run="$build/run"
mkdir -p "$run"

# Both ports must be free on 127.0.0.1 (UDP and TCP), or the server that cannot bind them
# would stop with its reason in a log file.
port_in_use() {
  [[ -n "$(ss -Hlnu "sport = :$1" 2>/dev/null)$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
}
for check in "PORT $port Unbound" "UPSTREAM_PORT $nsd_port NSD"; do
  read -r variable number server <<<"$check"
  if ! [[ "$number" =~ ^[0-9]+$ ]] || ((number < 1 || number > 65535)); then
    echo "dnsverdict: $variable=$number is not a port (1-65535)" >&2
    exit 1
  fi
  if port_in_use "$number"; then
    echo "dnsverdict: port $number ($server) is already in use on this machine; choose another:" \
         "make run $variable=<port>" >&2
    exit 1
  fi
done
if [[ "$port" == "$nsd_port" ]]; then
  echo "dnsverdict: PORT and UPSTREAM_PORT are both $port; choose two ports" >&2
  exit 1
fi

"$build/tools/dnsverdict" compile -o "$run/verdicts.mdb" --force --manifest "$root/conf/feeds.manifest"

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
sed -e "s|@RUN_DIR@|$run|g" -e "s|@PORT@|$port|g" -e "s|@MODULE@|$build/module/dnsverdict.so|g" \
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
# A server that stops at start says why in its own log: repeat that here.
sleep 0.5
if ! kill -0 "${pids[0]}" 2>/dev/null; then
  echo "dnsverdict: NSD (the local upstream on 127.0.0.1:$nsd_port) stopped at start:" >&2
  tail -n 5 "$run/nsd.log" >&2 || true
  exit 1
fi
cat <<HELP

dnsverdict demo on 127.0.0.1:$port (hit log: $run/hits.jsonl). Try:
  dig @127.0.0.1 -p $port baidugif.com                  # sinkhole 10.66.66.66 (campaign lookalike-image-cc), EDE 15
  dig @127.0.0.1 -p $port www.qqjpeg.com AAAA           # subtree rule, IPv6 sinkhole fd00::6666
  dig @127.0.0.1 -p $port 163pics.com MX                # sinkhole, other types: NODATA
  dig @127.0.0.1 -p $port nxdomain.example.test         # RPZ CNAME .            -> NXDOMAIN
  dig @127.0.0.1 -p $port nodata.example.test           # RPZ CNAME *.           -> NOERROR, no records
  dig @127.0.0.1 -p $port refuse.example.test           # JSON Lines indicator   -> REFUSED
  dig @127.0.0.1 -p $port drop.example.test +tries=1    # RPZ rpz-drop.          -> no answer
  dig @127.0.0.1 -p $port tcp-only.example.test +ignore # RPZ rpz-tcp-only.      -> TC over UDP (+tcp passes)
  dig @127.0.0.1 -p $port sinkhole.example.test         # RPZ local data         -> 192.0.2.53
  dig @127.0.0.1 -p $port redirect.example.test         # RPZ CNAME target       -> walled-garden.example.
  dig @127.0.0.1 -p $port a.wildcard.example.test       # *.name: below only     -> NXDOMAIN (the apex passes)
  dig @127.0.0.1 -p $port ads.example.com               # hosts file             -> NXDOMAIN
  dig @127.0.0.1 -p $port cdn.example.org               # domain list (subtree)  -> NXDOMAIN
  dig @127.0.0.1 -p $port static.cdn.example.org        # allowlisted under it   -> resolves
  dig @127.0.0.1 -p $port suspicious.test               # log: resolves, hit line written
  dig @127.0.0.1 -p $port adult.example                 # tag: resolves, hit line + counters
  dig @127.0.0.1 -p $port low-confidence.example.test   # confidence 40 < 50: only logged
  dig @127.0.0.1 -p $port mid-confidence.example.test   # confidence 65 < 80: tagged, not blocked
  dig @127.0.0.1 -p $port example.org                   # not listed: 10.0.0.1 from the local upstream
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
