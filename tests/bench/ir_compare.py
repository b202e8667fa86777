"""Instructions per cached query inside Unbound (callgrind), for plain Unbound, plain Unbound
with one idle thread, and each module given: deterministic figures to compare builds.

  python3 tests/bench/ir_compare.py [--rules N] [--address-rules N] [--feed FILE] [--names N]
                                    [--breakdown N] [--keep DIR] MODULE.so...

Starts NSD (the integration harness's test bed) for the upstream, compiles a store of N
random listed names (default 100,000) and, with --address-rules, as many random IPv4 /32
and /24 address rules (RPZ rpz-ip triggers), then for each variant starts Unbound (one
worker thread) under callgrind, resolves the pass names (default 2,000 unlisted names) twice
and counts one more pass over them, all answered from the cache (harness/callgrind.py: the
count covers exactly that pass, and is repeated unless every query was answered with 0
cache misses). Prints instructions per query, the module's functions (inclusive, per query)
and the differences. The plain variant with one idle thread is the fair baseline for the
module's own work: the module's watcher and flusher threads make the process
multi-threaded, which costs glibc's cancellation wrappers on every recvfrom/sendto.
Environment: DNSVERDICT_CLI, UNBOUND_EXECUTABLE (as for the integration tests).
"""

import argparse
import os
import random
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "harness"))
import callgrind  # noqa: E402
import harness  # noqa: E402
import servers  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("modules", nargs="+")
    parser.add_argument("--rules", type=int, default=100000)
    parser.add_argument("--address-rules", type=int, default=0)
    parser.add_argument("--feed", action="append", default=[], metavar="FILE",
                        help="a further feed compiled into the store (e.g. rules at other "
                             "label depths than the random names' three)")
    parser.add_argument("--names", type=int, default=2000,
                        help="pass names: warmed twice, then each asked once, all cache hits")
    parser.add_argument("--breakdown", type=int, default=25,
                        help="print the module's N largest functions (inclusive, per query)")
    parser.add_argument("--keep", metavar="DIR",
                        help="keep the callgrind files there (callgrind.out.N, N = variant)")
    options = parser.parse_args()
    bed = harness.Testbed(create_store=False)
    try:
        bed._start_nsd()
        rng = random.Random(7)
        with open(os.path.join(bed.dir, "listed.txt"), "w") as out:
            for _ in range(options.rules):
                out.write("%08x.listed.example\n" % rng.getrandbits(32))
        feeds = [os.path.join(bed.dir, "listed.txt")]
        if options.address_rules:
            # Outside 10.0.0.0/8, where the lab zone's addresses are: pass traffic stays pass.
            with open(os.path.join(bed.dir, "addresses.rpz"), "w") as out:
                out.write("$ORIGIN rpz.test.\n$TTL 60\n"
                          "@ SOA localhost. root.localhost. 1 3600 600 86400 60\n"
                          "@ NS localhost.\n")
                for i in range(options.address_rules):
                    address = rng.randrange(11 << 24, 224 << 24)
                    octets = [(address >> shift) & 255 for shift in (0, 8, 16, 24)]
                    if i % 2:
                        out.write("32.%d.%d.%d.%d.rpz-ip CNAME .\n" % tuple(octets))
                    else:
                        out.write("24.0.%d.%d.%d.rpz-ip CNAME .\n" % tuple(octets[1:]))
            feeds += ["--format", "rpz", os.path.join(bed.dir, "addresses.rpz")]
        feeds += [os.path.abspath(feed) for feed in options.feed]
        subprocess.run([harness.CLI, "compile", "-q", "--force", "-o", bed.store] + feeds,
                       check=True, timeout=600)
        warm = os.path.join(bed.dir, "warm.txt")
        with open(warm, "w") as out:
            for i in range(options.names):
                out.write("pass%d.lab A\n" % i)
        with open(os.path.join(bed.dir, "dnsverdict.conf"), "w") as out:
            out.write("store: %s\n" % bed.store)
        # Absolute paths: Unbound resolves dynlib-file from its own directory.
        variants = [("plain Unbound", None, False),
                    ("plain Unbound + 1 idle thread", None, True)] + [
            (m, os.path.abspath(m), False) for m in options.modules]
        idle = callgrind.idle_thread_library(bed.dir)
        dnsperf = shutil.which("dnsperf")
        figures = {}
        for index, (label, module, idle_thread) in enumerate(variants):
            env = dict(os.environ, DNSVERDICT_CONFIG=os.path.join(bed.dir, "dnsverdict.conf"))
            server = callgrind.CallgrindUnbound(
                harness.UNBOUND, bed.dir, "ir-%d" % index, conf_text(bed, module), "probe.lab",
                env=env, preload=idle if idle_thread else None)
            try:
                server.warm(dnsperf, warm)
                result = server.measure(dnsperf, warm, cached=True)
            finally:
                server.stop()
            figures[label] = result
            print("%-60s %8.1f   (%d queries, %d cache misses, %d attempt(s)%s)" % (
                label, result["per_query"], result["queries"], result["cachemiss"],
                result["attempts"], "" if result["clean"] else ", NOT CLEAN"))
            if module and options.breakdown:
                for per_query, name, obj in callgrind.breakdown(
                        result["dump"], result["queries"], objects=(os.path.basename(module),),
                        extra=EXTRA)[:options.breakdown]:
                    print("    %8.1f  %s  [%s]" % (per_query, name, obj))
            if options.keep:
                os.makedirs(options.keep, exist_ok=True)
                kept = os.path.join(options.keep, "callgrind.out.%d" % index)
                shutil.copyfile(result["dump"], kept)
                print("    callgrind file: %s" % kept)
            sys.stdout.flush()
        base = figures["plain Unbound + 1 idle thread"]["per_query"]
        threads = base - figures["plain Unbound"]["per_query"]
        print("one idle thread costs plain Unbound %+.1f instructions per query" % threads)
        for label, module, _ in variants[2:]:
            print("%s: %+.1f per query over plain + idle thread (module's own), %+.1f over "
                  "plain" % (label, figures[label]["per_query"] - base,
                             figures[label]["per_query"] - figures["plain Unbound"]["per_query"]))
    finally:
        bed.cleanup()


def conf_text(bed, module):
    """The benchmark harness's unbound.conf (one thread, no per-query logging) for lab."""
    variant = "dnsverdict" if module else "plain"
    return servers.unbound_config(bed.port, bed.dir, bed.nsd_port, [("lab", None)], variant,
                                  module=module)


# Beside the module's own functions: what it causes elsewhere.
EXTRA = ("__tls_get_addr", "__libc_recvfrom", "__libc_sendto", "recvfrom", "sendto",
         "__pthread_enable_asynccancel", "__pthread_disable_asynccancel")


if __name__ == "__main__":
    main()
