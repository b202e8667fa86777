#!/usr/bin/env python3
"""`make bench`: dnsverdict against plain Unbound, Unbound's native RPZ and dnsdist + LMDB,
side by side on this machine, in one run. Python 3 standard library only.

usage: bench.py --build BUILD [--sizes 100000,1000000,10000000] [--doc docs/benchmarks.md]
                [--smoke] [options, see --help]

For each rule-set size it starts every variant (each Unbound with one thread, on its own
loopback port, all forwarding to one NSD), warms the caches, then measures:
  start to first answer, resident memory (RssAnon, RssFile) after warm-up,
  saturating qps (dnsperf, no rate limit),
  CPU time per query (utime+stime of the server from /proc/PID/stat) while dnsperf offers a
  fixed rate, for pass, mixed and never-seen traffic; variants interleaved (the order
  rotates every round) and repeated, medians reported,
  hot swap (dnsverdict): time from rename to the new verdict, queries lost and SERVFAIL
  during swaps under load.
Then the micro-benchmarks (tests/bench/*_bench), and the report (report.py).
"""

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import callgrind  # noqa: E402
import datagen  # noqa: E402
import measure  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402

PROBE = "startup-probe.bench0"
SWAP_MARKER = "swap-marker.bench0"
LMDB_DATABASE = "blocklist"
MISSING_TOOL = 77  # CTest's skip code for the smoke test


def log(message):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="the build directory (products, CMakeCache)")
    parser.add_argument("--cli", help="the dnsverdict program (default BUILD/tools/dnsverdict)")
    parser.add_argument("--module", help="dnsverdict.so (default BUILD/module/dnsverdict.so)")
    parser.add_argument("--unbound", help="a dynlib-enabled unbound (default from CMakeCache)")
    parser.add_argument("--work", help="data and server folders (default BUILD/bench)")
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--runs", type=int, default=5, help="rounds of pass traffic per variant")
    parser.add_argument("--other-runs", type=int, default=3, help="rounds of mix and never-seen traffic")
    parser.add_argument("--seconds", type=float, default=8, help="length of one pass-traffic run")
    parser.add_argument("--other-seconds", type=float, default=5, help="length of one mix or never-seen run")
    parser.add_argument("--rate", type=int, default=20000, help="offered qps, pass and mix traffic")
    parser.add_argument("--unique-rate", type=int, default=4000, help="offered qps, never-seen names")
    parser.add_argument("--saturate-seconds", type=float, default=4)
    parser.add_argument("--starts", type=int, default=3, help="start-ups timed per fast variant")
    parser.add_argument("--swaps", type=int, default=3)
    parser.add_argument("--rpz-max", type=int, default=1000000,
                        help="largest rule set loaded into native RPZ (see the report for why)")
    parser.add_argument("--rpz-timeout", type=float, default=180)
    parser.add_argument("--dnsdist-max", type=int, default=1000000)
    parser.add_argument("--ir-sizes", default="1000000,10000000",
                        help="rule-set sizes for instructions per query (callgrind); '' skips")
    parser.add_argument("--ir-names", type=int, default=2000,
                        help="queries per traffic kind counted under callgrind")
    parser.add_argument("--threads2-sizes", default="1000000,10000000",
                        help="rule-set sizes whose pass and mix CPU is measured again with "
                             "plain and dnsverdict Unbound at two threads; '' skips")
    parser.add_argument("--micro-sizes", default="1000000,10000000", help="'' skips store_bench")
    parser.add_argument("--micro-compile", type=int, default=1000000)
    parser.add_argument("--compile-runs", type=int, default=3,
                        help="compiles timed per size up to 1M rules (the median is reported; "
                             "larger sizes are compiled once)")
    parser.add_argument("--doc", default="", help="Markdown file whose bench section is rewritten")
    parser.add_argument("--command", default="", help="the command line to print in the report")
    parser.add_argument("--swap-seconds", type=float, default=3, help="load time per hot swap")
    parser.add_argument("--micro-other", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the other tests/bench/*_bench programs")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="perf the dnsverdict variant during one more pass run (if perf exists)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every variant answered and blocked as expected")
    parser.add_argument("--smoke", action="store_true",
                        help="a small end-to-end run (10k rules, 1 s runs, one round) with --check")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = "10000"
        args.runs = args.other_runs = 1
        args.seconds = args.other_seconds = 1
        args.saturate_seconds = 1
        args.starts = 1
        args.swaps = 1
        args.swap_seconds = 2
        args.unique_rate = 1000
        args.micro_sizes = "10000"
        args.ir_sizes = ""
        args.threads2_sizes = ""
        args.micro_compile = 10000
        args.compile_runs = 1
        args.micro_other = False
        args.profile = False
        args.check = True
    args.sizes = sorted(int(size) for size in args.sizes.split(",") if size)
    args.micro_sizes = [int(size) for size in args.micro_sizes.split(",") if size]
    args.ir_sizes = [int(size) for size in args.ir_sizes.split(",") if size]
    args.threads2_sizes = [int(size) for size in args.threads2_sizes.split(",") if size]
    args.work = os.path.abspath(args.work or os.path.join(args.build, "bench"))
    args.build = os.path.abspath(args.build)
    return args


# -- tools and versions

def cmake_cache(build, key):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as cache:
            for line in cache:
                if line.startswith(key + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def find_tools(args):
    build = args.build
    prefix = cmake_cache(build, "UNBOUND_PREFIX") or os.path.join(build, "unbound")
    tools = {
        "cli": args.cli or os.path.join(build, "tools", "dnsverdict"),
        # Absolute: Unbound opens the module from its own working folder.
        "module": os.path.abspath(args.module or os.path.join(build, "module", "dnsverdict.so")),
        "unbound": args.unbound or os.path.join(prefix, "sbin", "unbound"),
        "nsd": shutil.which("nsd") or "/usr/sbin/nsd",
        "dnsperf": shutil.which("dnsperf"),
        "dnsdist": shutil.which("dnsdist"),
        "mdb_load": shutil.which("mdb_load"),
        "perf": shutil.which("perf"),
        "valgrind": shutil.which("valgrind") if shutil.which("callgrind_control") else None,
    }
    for required in ("cli", "unbound", "nsd", "dnsperf"):
        if not tools[required] or not os.path.exists(tools[required]):
            print("bench: %s not found (%s); scripts/bench.sh installs and builds what is "
                  "missing" % (required, tools[required]))
            raise SystemExit(MISSING_TOOL)
    if not os.path.exists(tools["module"]):
        log("no %s: the dnsverdict variant is left out" % tools["module"])
        tools["module"] = None
    if not (tools["dnsdist"] and tools["mdb_load"]):
        log("dnsdist or mdb_load missing: the dnsdist variant is left out")
        tools["dnsdist"] = None
    return tools


def first_line(args):
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
        text = (done.stdout or done.stderr).strip()
        return text.splitlines()[0] if text else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dnsperf_version(dnsperf):
    done = subprocess.run([dnsperf, "-h"], capture_output=True, text=True, timeout=20)
    for line in (done.stdout + done.stderr).splitlines():
        if line.startswith("Version"):
            return "dnsperf " + line.split()[-1]
    return "unknown"


def machine_and_versions(tools):
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kb = int(info.readline().split()[1])
    unbound_version = first_line([tools["unbound"], "-V"])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": memory_kb / 1024 / 1024,
        "kernel": os.uname().release,
        "load_at_start": os.getloadavg(),
        "unbound": unbound_version,
        "dnsverdict": first_line([tools["cli"], "--version"]),
        "dnsdist": first_line([tools["dnsdist"], "--version"]) if tools["dnsdist"] else "not installed",
        "dnsperf": dnsperf_version(tools["dnsperf"]),
        "nsd": first_line([tools["nsd"], "-v"]),
    }


# -- data

def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args, timeout):
    """Runs a tool; returns (wall seconds, its CPU seconds)."""
    start, cpu = time.monotonic(), children_cpu_seconds()
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(args), done.stdout, done.stderr))
    return time.monotonic() - start, children_cpu_seconds() - cpu


def store_build_id(cli, store):
    done = subprocess.run([cli, "info", store], capture_output=True, text=True, timeout=60)
    for line in done.stdout.splitlines():
        if "build id" in line.lower():
            return line.split()[-1]
    return "unknown"


def prepare_data(args, tools):
    os.makedirs(args.work, exist_ok=True)
    data = {"sizes": {}}
    log("generating rule lists %s" % args.sizes)
    started = time.monotonic()
    rule_paths = datagen.write_rule_lists(args.sizes, args.work)
    data["generate_seconds"] = time.monotonic() - started
    listed = datagen.listed_names(rule_paths[args.sizes[0]], min(1000, args.sizes[0]))
    data["queries"] = datagen.write_query_files(args.work, listed)
    warm = os.path.join(args.work, "warm.txt")
    with open(data["queries"]["pool"]) as pool:
        warm_names = [line.split()[0] for line in pool]
    datagen.write_queries(warm, warm_names + listed + ["www." + name for name in listed])
    data["queries"]["warm"] = warm
    unique_count = int(args.unique_rate * args.other_seconds)
    data["queries"]["unique"] = [
        datagen.write_unique_queries(os.path.join(args.work, "unique-%d.txt" % chunk),
                                     unique_count, chunk)
        for chunk in range(args.other_runs)]
    data["zones"] = datagen.write_nsd_zones(args.work)
    marker = os.path.join(args.work, "swap-marker.txt")
    with open(marker, "w") as out:
        out.write(SWAP_MARKER + "\n")

    for size in args.sizes:
        entry = {"rules": rule_paths[size]}
        directory = os.path.join(args.work, "size-%d" % size)
        os.makedirs(directory, exist_ok=True)
        entry["dir"] = directory
        entry["store"] = os.path.join(directory, "store.mdb")
        # The first compile creates the store, the others replace it (a feed refreshed).
        runs = max(1, args.compile_runs) if size <= 1000000 else 1
        log("compiling %d rules (%d times)" % (size, runs))
        timings = [timed([tools["cli"], "compile", "-q", "--force", "-o", entry["store"],
                          "--action", "nxdomain", rule_paths[size]], timeout=600)
                   for _ in range(runs)]
        entry["compile_runs"] = [seconds for seconds, _ in timings]
        entry["compile_seconds"] = statistics.median(entry["compile_runs"])
        entry["compile_cpu_seconds"] = statistics.median(cpu for _, cpu in timings)
        entry["store_bytes"] = os.path.getsize(entry["store"])
        entry["build_id"] = store_build_id(tools["cli"], entry["store"])
        if tools["module"]:
            entry["store_marked"] = os.path.join(directory, "store-marked.mdb")
            timed([tools["cli"], "compile", "-q", "--force", "-o", entry["store_marked"],
                   "--action", "nxdomain", rule_paths[size], marker], timeout=600)
        if size <= args.rpz_max:
            entry["rpz"] = os.path.join(directory, "dump.rpz")
            seconds, _ = timed([tools["cli"], "dump", "--format", "rpz", "--origin", "rpz.bench",
                                "-o", entry["rpz"], entry["store"]], timeout=600)
            entry["dump_seconds"] = seconds
            entry["rpz_bytes"] = os.path.getsize(entry["rpz"])
        if tools["dnsdist"] and size <= args.dnsdist_max:
            entry["lmdb"] = os.path.join(directory, "dnsdist.lmdb")
            load_input = os.path.join(directory, "dnsdist-load.txt")
            datagen.write_lmdb_load_input(rule_paths[size], load_input,
                                          map_size=max(64 << 20, size * 256))
            for stale in (entry["lmdb"], entry["lmdb"] + "-lock"):
                if os.path.exists(stale):
                    os.remove(stale)
            timed([tools["mdb_load"], "-n", "-s", LMDB_DATABASE, "-f", load_input,
                   entry["lmdb"]], timeout=600)
            os.remove(load_input)
        data["sizes"][size] = entry
    return data


# -- one rule-set size

class Variant:
    def __init__(self, name, server, cpu_pids, backend=None):
        self.name = name
        self.server = server
        self.cpu_pids = cpu_pids
        self.backend = backend
        self.figures = {"start_seconds": [], "runs": {}}


def publish_copy(source, live):
    """What `dnsverdict compile` does: a complete file renamed over the live path."""
    temporary = live + ".tmp"
    shutil.copyfile(source, temporary)
    os.replace(temporary, live)


def write_module_conf(directory, store, hit_log=False):
    """The module's defaults, with the store in the bench's folder and no hit log unless
    asked: the other variants log nothing either (the hit log is measured on its own)."""
    path = os.path.join(directory, "dnsverdict%s.conf" % ("-hit-log" if hit_log else ""))
    with open(path, "w") as out:
        out.write("store: %s\n" % store)
        if hit_log:
            out.write("hit-log: %s\n" % os.path.join(directory, "hits.jsonl"))
    return path


def start_variant(args, tools, data, entry, processes, nsd, name):
    zones = data["zones"]
    common = dict(nsd_port=nsd.port, zones=zones, probe_name=PROBE)
    if name == "plain":
        server = servers.start_unbound(processes, tools["unbound"], entry["dir"], "plain",
                                       variant="plain", **common)
        return server, [server.pid], None
    if name == "dnsverdict":
        server = servers.start_unbound(processes, tools["unbound"], entry["dir"], "dnsverdict",
                                       variant="dnsverdict", module=tools["module"],
                                       module_conf=entry["module_conf"], **common)
        return server, [server.pid], None
    if name == "rpz":
        # Bounded: a rule set too large for native RPZ fails here instead of pushing the
        # machine into swap or the OOM killer.
        with open("/proc/meminfo") as info:
            memory_limit = int(info.readline().split()[1]) * 1024 * 6 // 10
        server = servers.start_unbound(processes, tools["unbound"], entry["dir"], "rpz",
                                       variant="rpz", rpz_zone=entry["rpz"],
                                       timeout=args.rpz_timeout,
                                       limits=[(resource.RLIMIT_AS, memory_limit)], **common)
        return server, [server.pid], None
    if name == "dnsdist":
        backend = servers.start_unbound(processes, tools["unbound"], entry["dir"],
                                        "dnsdist-backend", variant="plain", **common)
        server = servers.start_dnsdist(processes, tools["dnsdist"], entry["dir"], "dnsdist",
                                       backend.port, entry["lmdb"], LMDB_DATABASE, PROBE)
        return server, [server.pid, backend.pid], backend
    raise ValueError(name)


def measure_size(args, tools, data, size, processes, nsd):
    entry = data["sizes"][size]
    names = ["plain"]
    skipped = {}
    if "rpz" in entry:
        names.append("rpz")
    else:
        skipped["rpz"] = "rule set larger than --rpz-max %d" % args.rpz_max
    if tools["module"]:
        names.append("dnsverdict")
        entry["live_store"] = os.path.join(entry["dir"], "live", "verdicts.mdb")
        os.makedirs(os.path.dirname(entry["live_store"]), exist_ok=True)
        publish_copy(entry["store"], entry["live_store"])
        entry["module_conf"] = write_module_conf(entry["dir"], entry["live_store"])
    else:
        skipped["dnsverdict"] = "build/module/dnsverdict.so not built"
    if "lmdb" in entry:
        names.append("dnsdist")
    else:
        skipped["dnsdist"] = ("dnsdist not installed" if not tools["dnsdist"] else
                              "rule set larger than --dnsdist-max %d" % args.dnsdist_max)

    variants = {}
    try:
        # Start-up: the fast variants are started and stopped a few times, then left running.
        for name in names:
            starts = args.starts if name in ("plain", "dnsverdict") else 1
            for attempt in range(starts):
                log("size %d: starting %s (%d/%d)" % (size, name, attempt + 1, starts))
                try:
                    server, pids, backend = start_variant(args, tools, data, entry, processes,
                                                          nsd, name)
                except (RuntimeError, TimeoutError) as error:
                    skipped[name] = "did not start: %s" % str(error).splitlines()[0]
                    log(skipped[name])
                    variants.pop(name, None)
                    break
                variant = variants.setdefault(name, Variant(name, server, pids, backend))
                variant.server, variant.cpu_pids, variant.backend = server, pids, backend
                variant.figures["start_seconds"].append(server.first_answer_seconds)
                variant.figures["memory_at_start"] = measure.memory(server.pid)
                if attempt + 1 < starts:
                    processes.stop(server)
                    if backend:
                        processes.stop(backend)
        order = [name for name in names if name in variants]

        for name in order:
            variant = variants[name]
            log("size %d: warming %s" % (size, name))
            warm = measure.run_dnsperf(tools["dnsperf"], variant.server.port,
                                       data["queries"]["warm"], 60, once=True)
            variant.figures["warm"] = warm
            variant.figures["memory"] = measure.memory(variant.server.pid)
            if variant.backend:
                variant.figures["backend_memory"] = measure.memory(variant.backend.pid)

        for name in order:
            log("size %d: saturating %s" % (size, name))
            variants[name].figures["saturating"] = measure.run_dnsperf(
                tools["dnsperf"], variants[name].server.port, data["queries"]["pass"],
                args.saturate_seconds)

        plan = [("pass", args.runs, args.rate, args.seconds),
                ("mix", args.other_runs, args.rate, args.other_seconds),
                ("unique", args.other_runs, args.unique_rate, args.other_seconds)]
        for traffic, rounds, rate, seconds in plan:
            for round_index in range(rounds):
                shift = round_index % len(order)
                for name in order[shift:] + order[:shift]:
                    variant = variants[name]
                    query_file = (data["queries"]["unique"][round_index] if traffic == "unique"
                                  else data["queries"][traffic])
                    result = measure.cpu_per_query(tools["dnsperf"], variant.server.port,
                                                   variant.cpu_pids, query_file, seconds, rate,
                                                   once=traffic == "unique",
                                                   outstanding=1000 if traffic == "unique" else 200)
                    variant.figures["runs"].setdefault(traffic, []).append(result)
                    log("size %d: %-6s %-10s round %d: %.2f us/query, %d/%d answered" % (
                        size, traffic, name, round_index + 1, result["cpu_us_per_query"],
                        result["completed"], result["sent"]))

        swap = hit_log = None
        if "dnsverdict" in variants and tools["perf"] and args.profile:
            variants["dnsverdict"].figures["profile"] = profile_module(
                args, tools, data, entry, variants["dnsverdict"])
        if "dnsverdict" in variants:
            swap = measure_swaps(args, tools, data, entry, variants["dnsverdict"])
            hit_log = measure_hit_log_memory(tools, data, entry, processes, nsd,
                                             variants["dnsverdict"])
        for name in order:
            variants[name].figures["memory_end"] = measure.memory(variants[name].server.pid)
    finally:
        for variant in variants.values():
            processes.stop(variant.server)
            if variant.backend:
                processes.stop(variant.backend)
    two_threads = None
    if size in args.threads2_sizes and tools["module"]:
        two_threads = measure_two_threads(args, tools, data, entry, size, processes, nsd)
    instructions = None
    if size in args.ir_sizes and tools["valgrind"]:
        instructions = measure_instructions(args, tools, data, entry, size, nsd)
    return {
        "variants": {name: variant.figures for name, variant in variants.items()},
        "skipped": skipped,
        "swap": swap,
        "hit_log": hit_log,
        "two_threads": two_threads,
        "instructions": instructions,
    }


def measure_two_threads(args, tools, data, entry, size, processes, nsd):
    """Pass and mix CPU per query of plain and dnsverdict Unbound at two worker threads
    (`num-threads: 2`), run the same way as the one-thread rounds: both servers at once,
    warmed, the rounds' order alternating. {variant: {traffic: [run, ...]}}."""
    common = dict(nsd_port=nsd.port, zones=data["zones"], probe_name=PROBE, threads=2)
    started = {}
    figures = {}
    try:
        for name in ("plain", "dnsverdict"):
            log("size %d: starting %s at two threads" % (size, name))
            extra = {} if name == "plain" else dict(module=tools["module"],
                                                     module_conf=entry["module_conf"])
            started[name] = servers.start_unbound(processes, tools["unbound"], entry["dir"],
                                                  name + "-2t", variant=name, **common, **extra)
            measure.run_dnsperf(tools["dnsperf"], started[name].port, data["queries"]["warm"],
                                60, once=True)
            figures[name] = {}
        order = list(started)
        for traffic, rounds, seconds in (("pass", args.runs, args.seconds),
                                         ("mix", args.other_runs, args.other_seconds)):
            for round_index in range(rounds):
                for name in order[round_index % 2:] + order[:round_index % 2]:
                    result = measure.cpu_per_query(tools["dnsperf"], started[name].port,
                                                   [started[name].pid], data["queries"][traffic],
                                                   seconds, args.rate, outstanding=200)
                    figures[name].setdefault(traffic, []).append(result)
                    log("size %d: %-6s %-10s two threads, round %d: %.2f us/query, %d/%d "
                        "answered" % (size, traffic, name, round_index + 1,
                                      result["cpu_us_per_query"], result["completed"],
                                      result["sent"]))
    finally:
        for server in started.values():
            processes.stop(server)
    return figures


# Beside the module's own functions in the breakdown: what it causes elsewhere.
IR_EXTRA = ("__tls_get_addr", "__pthread_enable_asynccancel", "__pthread_disable_asynccancel")


def head_file(source, target, count):
    with open(source) as lines, open(target, "w") as out:
        for index, line in enumerate(lines):
            if index >= count:
                break
            out.write(line)
    return target


def measure_instructions(args, tools, data, entry, size, nsd):
    """Instructions per query under callgrind (harness/callgrind.py), one Unbound at a time:
    plain, plain with one idle thread (what the module's own threads cost any Unbound), and
    dnsverdict; pass traffic (cache hits, checked), mix (10% listed) and never-seen names."""
    directory = os.path.join(entry["dir"], "callgrind")
    os.makedirs(directory, exist_ok=True)
    count = args.ir_names
    files = {
        "pass": head_file(data["queries"]["pass"], os.path.join(directory, "pass.txt"), count),
        "mix": head_file(data["queries"]["mix"], os.path.join(directory, "mix.txt"), count),
    }
    # Never seen: fresh names, fewer (each recurses to NSD, 50x slower under valgrind).
    files["unique"] = datagen.write_unique_queries(
        os.path.join(directory, "unique.txt"), max(count // 4, 100), 1000 + size % 997)
    idle = callgrind.idle_thread_library(directory)
    module_conf = write_module_conf(directory, entry["store"])
    result = {"names": count, "variants": {}}
    for name in ("plain", "plain+idle", "dnsverdict"):
        if name == "dnsverdict" and not tools["module"]:
            continue
        variant = "dnsverdict" if name == "dnsverdict" else "plain"
        text = servers.unbound_config(servers.free_port(), os.path.join(directory, name),
                                      nsd.port, data["zones"], variant,
                                      module=tools["module"])
        env = dict(os.environ, DNSVERDICT_CONFIG=module_conf)
        log("size %d: callgrind %s" % (size, name))
        server = callgrind.CallgrindUnbound(tools["unbound"], directory, name, text, PROBE,
                                            env=env, preload=idle if name == "plain+idle" else None)
        figures = {}
        try:
            # Each cached traffic kind once more right before it is counted: a blocked answer
            # stays in the cache for answer-ttl (60 s), which counting a pass under valgrind
            # (13 s) and what comes before it can outlast. Then every query is a cache hit.
            server.warm(tools["dnsperf"], files["mix"])
            server.warm(tools["dnsperf"], files["pass"])
            for traffic, cached in (("pass", True), ("mix", True), ("unique", False)):
                if cached:
                    server.warm(tools["dnsperf"], files[traffic], times=1)
                measured = server.measure(tools["dnsperf"], files[traffic], cached=cached)
                if traffic == "pass" and name == "dnsverdict":
                    measured["functions"] = callgrind.breakdown(
                        measured["dump"], measured["queries"], extra=IR_EXTRA)[:16]
                figures[traffic] = measured
                log("size %d: callgrind %-10s %-6s %.0f instructions/query (%d queries, "
                    "%d cache misses%s)" % (size, name, traffic, measured["per_query"],
                                           measured["queries"], measured["cachemiss"],
                                           "" if measured["clean"] else ", NOT CLEAN"))
        finally:
            server.stop()
        result["variants"][name] = figures
    return result


MODULE_OBJECTS = ("dnsverdict.so", "libxxhash", "liblmdb")


def profile_module(args, tools, data, entry, variant):
    """The module's share of the server's CPU samples (perf, by shared object) during one more
    run of pass traffic: a direct reading of its cost, steadier than a ratio of two noisy
    medians. Not counted in the CPU figures (perf itself slows the server a little)."""
    out = os.path.join(entry["dir"], "perf-dnsverdict.data")
    load = subprocess.Popen(measure.dnsperf_command(tools["dnsperf"], variant.server.port,
                                                    data["queries"]["pass"], args.seconds,
                                                    rate=args.rate),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        time.sleep(min(1.0, args.seconds / 4))
        subprocess.run([tools["perf"], "record", "-q", "-F", "2000", "-o", out, "-p",
                        str(variant.server.pid), "--", "sleep", str(max(1, args.seconds - 2))],
                       capture_output=True, timeout=args.seconds + 60)
        load.wait(timeout=args.seconds + 30)
    finally:
        if load.poll() is None:
            os.killpg(load.pid, 9)
            load.wait(timeout=10)
    done = subprocess.run([tools["perf"], "report", "-i", out, "--no-children", "--sort", "dso",
                           "--stdio"], capture_output=True, text=True, timeout=120)
    shares = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0].endswith("%"):
            shares[fields[1]] = float(fields[0].rstrip("%"))
    os.remove(out)
    module = sum(share for dso, share in shares.items()
                 if any(dso.startswith(name) for name in MODULE_OBJECTS))
    log("perf: dnsverdict.so and its libraries: %.2f%% of the server's CPU samples" % module)
    return {"module_percent": module, "by_object": shares}


def measure_hit_log_memory(tools, data, entry, processes, nsd, without):
    """Resident memory at start of the dnsverdict variant with the hit log on (its default
    capacity), against the same variant without (`without`, already measured)."""
    conf = write_module_conf(entry["dir"], entry["live_store"], hit_log=True)
    server = servers.start_unbound(processes, tools["unbound"], entry["dir"], "dnsverdict-hit-log",
                                   nsd_port=nsd.port, zones=data["zones"], probe_name=PROBE,
                                   variant="dnsverdict", module=tools["module"], module_conf=conf)
    try:
        return {"with": measure.memory(server.pid), "without": without.figures["memory_at_start"]}
    finally:
        processes.stop(server)


def measure_swaps(args, tools, data, entry, variant):
    """Swaps under load at a fixed rate: every swap renames a complete store into place,
    alternately one that blocks SWAP_MARKER and one that does not, and polls until the
    marker's answer flips. The marker is asked (and cached) before each swap."""
    port = variant.server.port
    per_swap = args.swap_seconds
    seconds = 2 + per_swap * args.swaps
    # The same load without a swap first: what is lost anyway on this machine.
    baseline = measure.run_dnsperf(tools["dnsperf"], port, data["queries"]["pass"], seconds,
                                   rate=args.rate // 2)
    load = subprocess.Popen(measure.dnsperf_command(tools["dnsperf"], port,
                                                    data["queries"]["pass"], seconds,
                                                    rate=args.rate // 2),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    visible = []
    try:
        time.sleep(1)
        for index in range(args.swaps):
            block = index % 2 == 0
            before = servers.query(port, SWAP_MARKER, timeout=1)
            expected = "NXDOMAIN" if block else "NOERROR"
            source = entry["store_marked"] if block else entry["store"]
            temporary = entry["live_store"] + ".tmp"
            shutil.copyfile(source, temporary)  # not timed: the compile's part
            renamed = time.monotonic()
            os.replace(temporary, entry["live_store"])
            seen = None
            while time.monotonic() - renamed < per_swap + 2:
                if servers.query(port, SWAP_MARKER, timeout=0.2) == expected:
                    seen = time.monotonic() - renamed
                    break
                time.sleep(0.01)
            visible.append({"blocks": block, "before": before, "seconds": seen})
            log("swap %d: %s visible after %s" % (index + 1, expected,
                                                    "%.3f s" % seen if seen is not None else "never"))
            rest = per_swap - (time.monotonic() - renamed)
            if rest > 0:
                time.sleep(rest)
        output, _ = load.communicate(timeout=seconds + 30)
    finally:
        if load.poll() is None:
            os.killpg(load.pid, 9)
            load.wait(timeout=10)
    result = measure.parse_dnsperf(output)
    return {"swaps": visible, "load": result, "baseline": baseline, "rate": args.rate // 2}


# -- micro-benchmarks

def run_micro(args, tools):
    results = {"store": None, "compile_line": None, "other": {}}
    bench_dir = os.path.join(args.build, "tests", "bench")
    store_bench = os.path.join(bench_dir, "store_bench")
    micro_work = os.path.join(args.work, "micro")
    os.makedirs(micro_work, exist_ok=True)
    if args.micro_sizes and os.path.exists(store_bench):
        out = os.path.join(micro_work, "store_bench.json")
        log("micro: store_bench %s" % args.micro_sizes)
        done = subprocess.run(
            [store_bench, "--sizes=" + ",".join(map(str, args.micro_sizes)), "--dir=" + micro_work,
             "--compile=%d" % args.micro_compile,
             "--benchmark_repetitions=%d" % (1 if args.smoke else 3),
             "--benchmark_min_time=%s" % ("0.05" if args.smoke else "0.5"),
             "--benchmark_report_aggregates_only=true", "--benchmark_out=" + out,
             "--benchmark_out_format=json"],
            capture_output=True, text=True, timeout=900)
        results["compile_line"] = next((line for line in done.stdout.splitlines()
                                        if line.startswith("compile ")), None)
        if os.path.exists(out):
            with open(out) as data:
                results["store"] = json.load(data)["benchmarks"]
    programs = sorted(os.listdir(bench_dir)) if args.micro_other and os.path.isdir(bench_dir) else []
    for program in programs:
        path = os.path.join(bench_dir, program)
        if not program.endswith("_bench") or program == "store_bench" or not os.access(path, os.X_OK):
            continue
        out = os.path.join(micro_work, program + ".json")
        log("micro: %s" % program)
        try:
            subprocess.run([path, "--benchmark_out=" + out, "--benchmark_out_format=json",
                            "--benchmark_min_time=0.2"],
                           capture_output=True, text=True, timeout=300, cwd=micro_work)
            if os.path.exists(out):
                with open(out) as data:
                    results["other"][program] = json.load(data)["benchmarks"]
            else:  # a plain program that prints its figures (estimate_bench): its defaults
                done = subprocess.run([path], capture_output=True, text=True, timeout=300,
                                      cwd=micro_work)
                results["other"][program] = [line for line in done.stdout.splitlines()
                                             if line.strip()] or ["printed nothing"]
        except (OSError, subprocess.SubprocessError, ValueError) as error:
            results["other"][program] = ["failed: %s" % error]
    return results


def check(results):
    """Sanity of a run, not timing: every variant answered, the blocking ones blocked the
    listed tenth of the mix and nothing else, a swap took effect. Returns the problems."""
    problems = []
    for size, entry in results["sizes"].items():
        for name, figures in entry["variants"].items():
            for traffic, runs in figures["runs"].items():
                for run in runs:
                    if run["completed"] < 0.9 * run["sent"]:
                        problems.append("%s %s %s: %d of %d answered" % (
                            size, name, traffic, run["completed"], run["sent"]))
                    share = run["rcodes"].get("NXDOMAIN", 0) / max(run["completed"], 1)
                    blocks = name != "plain" and traffic == "mix"
                    if (blocks and not 0.05 < share < 0.15) or (not blocks and share > 0):
                        problems.append("%s %s %s: %.1f%% NXDOMAIN" % (size, name, traffic,
                                                                       share * 100))
        if "dnsverdict" in entry["variants"]:
            swap = entry.get("swap") or {"swaps": []}
            if not swap["swaps"] or any(s["seconds"] is None for s in swap["swaps"]):
                problems.append("%s: a swapped store never took effect" % size)
        for name, reason in entry["skipped"].items():
            if name in ("plain", "dnsverdict") or reason.startswith("did not start"):
                problems.append("%s %s: %s" % (size, name, reason))
    return problems


def main(argv):
    args = parse_args(argv)
    # SIGTERM (timeout, CTest) unwinds like Ctrl-C, so every finally stops its servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tools = find_tools(args)
    started = time.monotonic()
    environment = machine_and_versions(tools)
    data = prepare_data(args, tools)
    results = {"environment": environment, "args": {k: v for k, v in vars(args).items()},
               "data": {size: {key: value for key, value in entry.items()
                               if key in ("compile_seconds", "compile_cpu_seconds", "compile_runs",
                                          "store_bytes", "build_id",
                                          "dump_seconds", "rpz_bytes")}
                        for size, entry in data["sizes"].items()},
               "sizes": {}}
    processes = servers.Processes()
    try:
        nsd = servers.start_nsd(processes, tools["nsd"], args.work, data["zones"])
        for size in args.sizes:
            results["sizes"][size] = measure_size(args, tools, data, size, processes, nsd)
    finally:
        processes.stop_all()
    results["micro"] = run_micro(args, tools)
    results["seconds"] = time.monotonic() - started
    results["finished"] = time.time()
    with open(os.path.join(args.work, "results.json"), "w") as out:
        json.dump(results, out, indent=1, default=str)
    section = report.render(results)
    print(section)
    if args.doc:
        report.update_doc(args.doc, section)
        log("wrote %s" % args.doc)
    log("raw figures: %s" % os.path.join(args.work, "results.json"))
    if args.check:
        problems = check(results)
        for problem in problems:
            print("FAIL " + problem)
        print("bench check: %s" % ("%d problem(s)" % len(problems) if problems else "all variants answered and blocked as expected"))
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
