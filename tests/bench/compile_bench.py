#!/usr/bin/env python3
"""Times `dnsverdict compile` of a plain domain list: wall, user, system, page faults, peak RSS.

Generates a deterministic list of N names (random 40-bit hex label + "q" under eight TLDs,
seed 7: the list docs/benchmarks.md uses), then runs each given dnsverdict binary --runs
times, interleaved (A B A B ...), so that two builds see the same machine load. Each run
replaces the store the previous one wrote (the usual case: a feed refreshed, the store
republished), after one untimed warm-up run per binary. Prints every run and the medians.

    tests/bench/compile_bench.py --names 1000000 --runs 5 build/tools/dnsverdict [OTHER ...]
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys

TLDS = ["com", "net", "org", "info", "xyz", "top", "ru", "cn"]


def make_list(path, names):
    if os.path.exists(path) and sum(1 for _ in open(path, "rb")) == names:
        return
    rng = random.Random(7)
    with open(path + ".part", "w") as out:
        out.writelines("%xq.%s\n" % (rng.getrandbits(40), TLDS[i % 8]) for i in range(names))
    os.replace(path + ".part", path)


FIELDS = {
    "wall": r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)",
    "user": r"User time \(seconds\): (\S+)",
    "sys": r"System time \(seconds\): (\S+)",
    "minor_faults": r"Minor \(reclaiming a frame\) page faults: (\d+)",
    "rss_mb": r"Maximum resident set size \(kbytes\): (\d+)",
}


def parse_time(text):
    values = {}
    for name, pattern in FIELDS.items():
        match = re.search(pattern, text)
        if not match:
            raise RuntimeError("no %s in /usr/bin/time output:\n%s" % (name, text))
        raw = match.group(1)
        if name == "wall":
            seconds = 0.0
            for part in raw.split(":"):
                seconds = seconds * 60 + float(part)
            values[name] = seconds
        elif name == "rss_mb":
            values[name] = int(raw) / 1024.0
        else:
            values[name] = float(raw)
    return values


def run_once(binary, store, feed):
    command = ["/usr/bin/time", "-v", binary, "compile", "-q", "--build-time", "1700000000",
               "-o", store, feed]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d):\n%s" % (" ".join(command), done.returncode, done.stderr))
    return parse_time(done.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binaries", nargs="+", help="dnsverdict binaries to compare")
    parser.add_argument("--names", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", default="/tmp/dnsverdict-compile-bench")
    parser.add_argument("--fresh", action="store_true",
                        help="remove the store and its feed cache before every run")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    feed = os.path.join(args.dir, "list%d.txt" % args.names)
    make_list(feed, args.names)
    print("load average at start: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    print("list: %s (%d names, %d bytes)" % (feed, args.names, os.path.getsize(feed)))

    stores = {}
    for number, binary in enumerate(args.binaries):
        stores[binary] = os.path.join(args.dir, "store%d.mdb" % number)
        run_once(binary, stores[binary], feed)  # warm-up: page cache, a store to replace

    results = {binary: [] for binary in args.binaries}
    for run in range(args.runs):
        for binary in args.binaries:
            if args.fresh:
                for path in (stores[binary], stores[binary] + ".feeds"):
                    if os.path.isdir(path):
                        shutil.rmtree(path)
                    elif os.path.exists(path):
                        os.unlink(path)
            values = run_once(binary, stores[binary], feed)
            results[binary].append(values)
            print("run %d %s: wall %.2f s, user %.2f s, sys %.2f s, %d minor faults, peak %.0f MB"
                  % (run + 1, binary, values["wall"], values["user"], values["sys"],
                     values["minor_faults"], values["rss_mb"]))
            sys.stdout.flush()
    print("load average at end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    for binary in args.binaries:
        median = {name: statistics.median(v[name] for v in results[binary]) for name in FIELDS}
        walls = sorted(v["wall"] for v in results[binary])
        print("%s: median of %d: wall %.2f s (%.2f-%.2f) = %.2fM rules/s; user %.2f s, sys %.2f s, "
              "%d minor faults, peak %.0f MB, store %.1f MB"
              % (binary, args.runs, median["wall"], walls[0], walls[-1],
                 args.names / median["wall"] / 1e6, median["user"], median["sys"],
                 median["minor_faults"], median["rss_mb"],
                 os.path.getsize(stores[binary]) / 1e6))


if __name__ == "__main__":
    main()
