"""Instructions per cached query inside Unbound (callgrind), for plain Unbound and for each
module given: deterministic figures to compare two builds of the module.

  python3 tests/bench/ir_compare.py [--rules N] [--address-rules N] [--queries N]
                                    [--shared DIR] MODULE.so...

Starts NSD (the integration harness's test bed) for the upstream, compiles a store of N
random listed names (default 100,000) and, with --address-rules, as many random IPv4 /32
and /24 address rules (RPZ rpz-ip triggers), and runs ../shared/tools/ir-per-query.sh once for
plain Unbound (with one idle thread, as the module starts threads of its own) and once per
module, all with one worker thread and pass traffic (2,000 unlisted names, all cache hits).
Environment: DNSVERDICT_CLI, UNBOUND_EXECUTABLE (as for the integration tests).
"""

import argparse
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "harness"))
import harness  # noqa: E402
import servers  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("modules", nargs="+")
    parser.add_argument("--rules", type=int, default=100000)
    parser.add_argument("--address-rules", type=int, default=0)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--verbose", action="store_true",
                        help="also print the tool's output (where its callgrind files are)")
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    options = parser.parse_args()
    tool = os.path.join(options.shared, "tools", "ir-per-query.sh")
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
        subprocess.run([harness.CLI, "compile", "-q", "--force", "-o", bed.store] + feeds,
                       check=True, timeout=600)
        warm = os.path.join(bed.dir, "warm.txt")
        with open(warm, "w") as out:
            for i in range(2000):
                out.write("pass%d.lab A\n" % i)
        with open(os.path.join(bed.dir, "dnsverdict.conf"), "w") as out:
            out.write("store: %s\n" % bed.store)
        # Absolute paths: Unbound resolves dynlib-file from its own directory.
        variants = [("plain Unbound (+1 idle thread)", None)] + [
            (m, os.path.abspath(m)) for m in options.modules]
        for label, module in variants:
            conf = write_conf(bed, module)
            env = dict(os.environ, DNSVERDICT_CONFIG=os.path.join(bed.dir, "dnsverdict.conf"),
                       IDLE_THREAD="1" if module is None else "0")
            result = subprocess.run(["bash", tool, harness.UNBOUND, conf, str(bed.port),
                                     "probe.lab", warm, str(options.queries)],
                                    capture_output=True, text=True, env=env, timeout=1800)
            match = re.search(r"instructions per query: (-?\d+)", result.stdout)
            print("%-60s %s" % (label, match.group(1) if match else result.stdout + result.stderr))
            if options.verbose:
                print(result.stdout)
            sys.stdout.flush()
    finally:
        bed.cleanup()


def write_conf(bed, module):
    """The benchmark harness's unbound.conf (one thread, no per-query logging) for lab."""
    path = os.path.join(bed.dir, "ir-unbound.conf")
    variant = "dnsverdict" if module else "plain"
    with open(path, "w") as out:
        out.write(servers.unbound_config(bed.port, bed.dir, bed.nsd_port, [("lab", None)],
                                         variant, module=module))
    return path


if __name__ == "__main__":
    main()
