"""The cache sweep after a hot swap, with a large cache: how long it takes, how long one
worker stops serving at most (its longest step), and what a client sees meanwhile.

Fills Unbound's caches with N distinct names (dnsperf, each a recursion to NSD), then swaps
in stores that list every 100th of them, a few times, while one client asks a cached name
in a loop and times each answer. Prints the module's sweep lines and the client's figures.
Bounded: the fill is one dnsperf pass at a fixed rate, each swap waits at most 30 s.

  DNSVERDICT_CLI=build/tools/dnsverdict DNSVERDICT_MODULE=build/module/dnsverdict.so \\
  UNBOUND_EXECUTABLE=build/unbound/sbin/unbound python3 tests/bench/sweep_bench.py [N]
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

SWEEP_LINE = re.compile(r"\] info: dnsverdict: cache sweep for store build \w+: (.*)")


def cache_counts(bed):
    text = bed.control("stats_noreset").stdout
    counts = dict(re.findall(r"^(msg\.cache\.count|rrset\.cache\.count)=(\d+)$", text, re.M))
    return int(counts.get("msg.cache.count", 0)), int(counts.get("rrset.cache.count", 0))


def timed_queries(port, name, stop, samples):
    """One client asking a cached name back to back; each answer's time in ms."""
    _, packet = harness.encode_query(name, query_id=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        while not stop.is_set():
            started = time.monotonic()
            sock.sendto(packet, ("127.0.0.1", port))
            try:
                sock.recvfrom(4096)
                samples.append((time.monotonic() - started) * 1000)
            except socket.timeout:
                samples.append(None)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    names = ["n%d.lab" % i for i in range(count)]
    bed = harness.Testbed(store_feeds=[("placeholder.lab\n", [])],
                          config_lines=["check-interval: 100ms"], remote_control=True)
    bed.server_lines = ["msg-cache-size: 1g", "rrset-cache-size: 2g", "extended-statistics: yes"]
    bed.start()
    try:
        queries = os.path.join(bed.dir, "fill.txt")
        with open(queries, "w") as out:
            out.write("".join("%s A\n" % name for name in names))
        started = time.monotonic()
        subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(bed.port), "-d", queries,
                        "-n", "1", "-Q", "20000", "-t", "5", "-q", "2000"],
                       capture_output=True, text=True, timeout=count / 1000 + 120)
        messages, rrsets = cache_counts(bed)
        print("filled in %.1f s: %d messages, %d rrsets cached" % (
            time.monotonic() - started, messages, rrsets))
        bed.dig("client.lab")  # the client's name, cached
        for round_ in range(3):
            listed = "".join(name + "\n" for name in names[round_::100])
            samples, stop = [], threading.Event()
            client = threading.Thread(target=timed_queries, args=(bed.port, "client.lab", stop, samples))
            client.start()
            time.sleep(0.5)
            before = len(samples)
            try:
                bed.swap([("placeholder.lab\n" + listed, [])], settle=30)
                time.sleep(0.5)
            finally:
                stop.set()
                client.join(10)
            line = SWEEP_LINE.findall(bed.log())[-1]
            during = [s for s in samples[before:] if s is not None]
            lost = sum(1 for s in samples[before:] if s is None)
            baseline = sorted(s for s in samples[:before] if s is not None)
            print("swap %d (%d names listed): %s" % (round_ + 1, len(names[round_::100]), line))
            print("  client: %d answers around the swap, slowest %.1f ms, %d unanswered; "
                  "before it: median %.2f ms, slowest %.1f ms" % (
                      len(during), max(during), lost, baseline[len(baseline) // 2],
                      baseline[-1]))
        print("after: %d messages, %d rrsets cached" % cache_counts(bed))
    finally:
        bed.cleanup()


if __name__ == "__main__":
    main()
