"""Soak: the real Unbound with the module under dnsperf load (pass traffic and 10% listed
names) while, every few seconds, a new store is published, the hit log is rotated with the
shipped logrotate rule, Unbound reloads and the stats are flushed. Prints its figures and
fails when a check fails:

  - Unbound never crashes (same process from start to end, clean exit on SIGTERM);
  - no SERVFAIL beyond a baseline run of the same load without swaps or reloads (NSD answers
    every name, so the baseline has none);
  - Unbound's resident memory stays within +-5% of its value after warm-up;
  - its open file descriptors do not grow;
  - every hit-log line the module counted as written is in the log files (current and
    rotated, compressed ones too), and written + dropped accounts for the listed queries
    answered.

  soak_test.py [--seconds N] [--reload-every N]   (default: SOAK_SECONDS or 600, SOAK_RELOAD_EVERY
                                                  or 120; CTest's integration.soak: 60 and 20)

Every loop stops by itself: dnsperf runs for --seconds, the disturbing loop until then.
"""

import argparse
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOGROTATE_RULE = os.path.join(ROOT, "packaging", "logrotate", "dnsverdict")
PASS_NAMES = 5000  # distinct pass names: mostly cache hits once warm
LISTED_NAMES = 500
LISTED_SHARE = 10  # percent of the queries


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS", 600)))
    parser.add_argument("--reload-every", type=int,
                        default=int(os.environ.get("SOAK_RELOAD_EVERY", 120)))
    parser.add_argument("--swap-every", type=int, default=5)
    parser.add_argument("--rotate-every", type=int, default=30)
    parser.add_argument("--baseline-seconds", type=int, default=10)
    parser.add_argument("--qps", type=int, default=2000, help="offered load (dnsperf -Q)")
    parser.add_argument("--no-memory-check", action="store_true",
                        default=os.environ.get("SOAK_MEMORY_CHECK") == "0",
                        help="print resident memory but do not check it (ThreadSanitizer's "
                             "shadow memory grows with what it has seen)")
    parser.add_argument("--sample-every", type=float, default=2.0)
    parser.add_argument("--warmup", type=int, default=0,
                        help="seconds before the reference sample of memory and descriptors "
                             "(default: 10 s after the second reload: Unbound's own heap "
                             "grows over its first reloads; at least half the run)")
    return parser.parse_args()


def listed_name(index):
    return "listed-%d.lab" % index


def query_file(path):
    """10 lines in 100 ask a listed name, the rest a pass name; dnsperf reads it in a loop."""
    with open(path, "w") as out:
        for line in range(20000):
            if line % 100 < LISTED_SHARE:
                out.write("%s A\n" % listed_name(line % LISTED_NAMES))
            else:
                out.write("pass-%d.lab A\n" % (line * 7919 % PASS_NAMES))


def feeds(generation):
    """The listed names (same every time) and names no query asks, new each generation: every
    store published differs from the last."""
    listed = "".join(listed_name(i) + "\n" for i in range(LISTED_NAMES))
    extra = "".join("gen%d-%d.example\n" % (generation, i) for i in range(2000))
    return [(listed + extra, [])]


def logrotate_config(bed, directory):
    """The shipped rule with this bed's hit log as its path, this user as owner, and enough
    rotations kept that no line is deleted during the run."""
    with open(LOGROTATE_RULE) as text:
        rule = text.read()
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip()
    rule = rule.replace("/var/log/dnsverdict/hits.jsonl", bed.hit_log)
    rule = re.sub(r"\brotate \d+", "rotate 1000", rule)
    rule = rule.replace("su unbound unbound", "su %s %s" % (user, group))
    rule = rule.replace("create 0640 unbound unbound", "create 0640 %s %s" % (user, group))
    if rule.count(bed.hit_log) != 1 or "rotate 1000" not in rule:
        raise RuntimeError("the logrotate rule changed shape: " + LOGROTATE_RULE)
    config = os.path.join(directory, "logrotate.conf")
    with open(config, "w") as out:
        out.write(rule)
    os.chmod(config, 0o644)
    return config


def dnsperf(bed, queries, seconds, qps):
    """Runs dnsperf for `seconds`; returns its counts: sent, completed, lost, rcodes."""
    result = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(bed.port), "-d", queries,
                             "-l", str(seconds), "-Q", str(qps), "-c", "4", "-t", "2"],
                            capture_output=True, text=True, timeout=seconds + 60)
    text = result.stdout
    counts = {"output": text}
    for key, pattern in (("sent", r"Queries sent:\s+(\d+)"),
                         ("completed", r"Queries completed:\s+(\d+)"),
                         ("lost", r"Queries lost:\s+(\d+)")):
        match = re.search(pattern, text)
        if not match:
            raise RuntimeError("dnsperf printed no %s:\n%s%s" % (key, text, result.stderr))
        counts[key] = int(match.group(1))
    match = re.search(r"Response codes:\s+(.*)", text)
    counts["rcodes"] = {name: int(number) for number, name in
                        ((n, c) for c, n in re.findall(r"(\w+) (\d+) \(", match.group(1)))} \
        if match else {}
    return counts


def hit_log_lines(bed):
    """Lines in the hit log and every rotated copy (plain or gzip)."""
    total = 0
    for path in glob.glob(bed.hit_log + "*"):
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as data:
            total += sum(1 for line in data if line.strip())
    return total, len(glob.glob(bed.hit_log + "*"))


def prometheus_value(bed, name):
    try:
        with open(bed.prometheus_file) as text:
            for line in text:
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.split()[-1])
    except OSError:
        pass
    return None


class Disturber:
    """Publishes a store every swap_every s, rotates the hit log every rotate_every s and
    reloads Unbound every reload_every s until `until`; counts what it did and failed."""

    def __init__(self, bed, options, logrotate_conf, state_file, until):
        self.bed, self.options, self.until = bed, options, until
        self.logrotate = ["logrotate", "-f", "-s", state_file, logrotate_conf]
        self.swaps = self.rotations = self.reloads = 0
        self.errors = []
        self.reload_times = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        started = time.time()
        next_swap = started + self.options.swap_every
        next_rotate = started + self.options.rotate_every
        next_reload = started + self.options.reload_every
        while True:
            now = time.time()
            if now >= self.until:
                return
            try:
                if now >= next_swap:
                    self.swaps += 1
                    harness.publish_store(self.bed.store, feeds(self.swaps))
                    next_swap += self.options.swap_every
                if now >= next_rotate:
                    result = subprocess.run(self.logrotate, capture_output=True, text=True,
                                            timeout=60)
                    if result.returncode != 0:
                        self.errors.append("logrotate: " + result.stderr)
                    self.rotations += 1
                    next_rotate += self.options.rotate_every
                if now >= next_reload and now + 5 < self.until:
                    result = self.bed.reload()
                    if result.returncode != 0:
                        self.errors.append("reload: %s %s" % (result.stdout, result.stderr))
                    self.reloads += 1
                    self.reload_times.append(time.time() - started)
                    next_reload += self.options.reload_every
            except Exception as error:  # noqa: BLE001 -- counted and reported as a failure
                self.errors.append("%s: %s" % (type(error).__name__, error))
            time.sleep(min(0.2, max(0.0, self.until - time.time())))


class Sampler:
    """Unbound's resident memory (kB) and open descriptors every `every` s until `until`."""

    def __init__(self, bed, every, until):
        self.bed, self.every, self.until = bed, every, until
        self.samples = []  # (seconds since start, VmRSS kB, open fds)
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        started = time.time()
        while time.time() < self.until:
            try:
                self.samples.append((time.time() - started, self.bed.status()["VmRSS"],
                                     self.bed.open_files()))
            except (OSError, KeyError):
                pass  # Unbound gone: the crash check says so
            time.sleep(self.every)


def main():
    options = arguments()
    for tool in ("dig", "dnsperf", "logrotate", harness.NSD):
        if shutil.which(tool) is None:
            print("skipped: %s not found" % tool)
            return 77
    bed = harness.Testbed(store_feeds=feeds(0), remote_control=True)
    bed.config_lines = ["stats-store: " + bed.stats_store, "prometheus-file: " + bed.prometheus_file,
                        "stats-flush-interval: 5",
                        # every hit becomes a line: the check compares lines with the counts
                        "hit-log-rate-limit: 0", "hit-log-max-lines-per-second: 0"]
    failures = []
    try:
        bed.start()
        pid = bed.unbound.pid
        queries = os.path.join(bed.dir, "queries.txt")
        query_file(queries)
        logrotate_conf = logrotate_config(bed, bed.dir)
        for index in range(LISTED_NAMES):  # the listed names are blocked from the start
            if index % 100 == 0 and bed.dig(listed_name(index)).status != "NXDOMAIN":
                failures.append("%s is not blocked" % listed_name(index))

        baseline = dnsperf(bed, queries, options.baseline_seconds, options.qps)

        warmup = options.warmup or min(max(options.seconds // 2, 2 * options.reload_every + 10),
                                       options.seconds - 10)
        until = time.time() + options.seconds
        disturber = Disturber(bed, options, logrotate_conf, os.path.join(bed.dir, "lr.state"),
                              until)
        sampler = Sampler(bed, options.sample_every, until)
        disturber.thread.start()
        sampler.thread.start()
        soak = dnsperf(bed, queries, options.seconds, options.qps)
        disturber.thread.join(options.seconds + 120)
        sampler.thread.join(30)
        time.sleep(1)
        prom_written = prometheus_value(bed, "dnsverdict_hit_log_written_total")
        prom_flush = prometheus_value(bed, "dnsverdict_stats_last_flush_timestamp_seconds")

        alive = bed.unbound is not None and bed.unbound.poll() is None and bed.unbound.pid == pid
        exit_code = bed.stop_unbound(timeout=30) if alive else None
        log = bed.log()
        totals = [tuple(int(n) for n in match) for match in re.findall(
            r"dnsverdict: hit log: (\d+) lines written, (\d+) dropped, (\d+) left out", log)]
        written = sum(t[0] for t in totals)
        dropped = sum(t[1] for t in totals)
        suppressed = sum(t[2] for t in totals)
        lines, files = hit_log_lines(bed)
        stats = bed.stats()

        # -- figures
        reference = [s for s in sampler.samples if s[0] >= warmup]
        print("soak: %d s at %d qps offered, store published every %d s, hit log rotated every "
              "%d s, reload every %d s" % (options.seconds, options.qps, options.swap_every,
                                           options.rotate_every, options.reload_every))
        print("baseline (%d s, no swaps): sent %d, completed %d, lost %d, rcodes %s"
              % (options.baseline_seconds, baseline["sent"], baseline["completed"],
                 baseline["lost"], baseline["rcodes"]))
        print("soak: sent %d, completed %d, lost %d, rcodes %s"
              % (soak["sent"], soak["completed"], soak["lost"], soak["rcodes"]))
        print("done: %d stores published, %d rotations, %d reloads (at %s s), %d errors"
              % (disturber.swaps, disturber.rotations, disturber.reloads,
                 ", ".join("%.0f" % t for t in disturber.reload_times), len(disturber.errors)))
        print("unbound: same process %s, exit code on SIGTERM %s" % (alive, exit_code))
        if reference:
            rss0, fd0 = reference[0][1], reference[0][2]
            rss = [s[1] for s in reference]
            fds = [s[2] for s in reference]
            print("resident memory: %d kB at start, %d kB after warm-up (%.0f s), later %d..%d kB "
                  "(%+.1f%%..%+.1f%%), %d kB at the end; %d samples"
                  % (sampler.samples[0][1], rss0, reference[0][0], min(rss), max(rss),
                     100.0 * (min(rss) - rss0) / rss0, 100.0 * (max(rss) - rss0) / rss0,
                     rss[-1], len(sampler.samples)))
            before = []
            for when in disturber.reload_times + [options.seconds]:
                earlier = [sample for sample in sampler.samples if sample[0] < when]
                if earlier:
                    before.append("%d" % earlier[-1][1])
            print("resident memory before each reload and at the end (kB): " + ", ".join(before))
            print("open descriptors: %d after warm-up, later %d..%d, %d at the end"
                  % (fd0, min(fds), max(fds), fds[-1]))
        print("hit log: %d lines in %d files; module instances %d: %d written, %d dropped, "
              "%d left out by rate limits; Prometheus written_total of the last instance %s"
              % (lines, files, len(totals), written, dropped, suppressed, prom_written))
        listed_answered = soak["rcodes"].get("NXDOMAIN", 0) + baseline["rcodes"].get("NXDOMAIN", 0)
        print("listed queries answered (NXDOMAIN, baseline + soak) %d, hits written + dropped %d"
              % (listed_answered, written + dropped))
        print("stats: %s flush %.0f s before the end; stats store: %d rules counted"
              % ("last" if prom_flush else "no", time.time() - prom_flush if prom_flush else -1,
                 len(stats.get("rules", []))))

        # -- checks
        if not alive or exit_code != 0:
            failures.append("Unbound crashed or did not exit cleanly:\n" + log[-3000:])
        if harness.SANITIZER_REPORT.search(log) or "fatal error" in log:
            failures.append("fatal error or sanitizer report in Unbound's log")
        failures += ["disturber: " + error for error in disturber.errors]
        if disturber.reloads < max(1, options.seconds // options.reload_every - 1):
            failures.append("too few reloads: %d" % disturber.reloads)
        servfail = soak["rcodes"].get("SERVFAIL", 0)
        if servfail > baseline["rcodes"].get("SERVFAIL", 0) * options.seconds / \
                max(1, options.baseline_seconds):
            failures.append("SERVFAIL during swaps: %d (baseline %d in %d s)"
                            % (servfail, baseline["rcodes"].get("SERVFAIL", 0),
                               options.baseline_seconds))
        if not reference:
            failures.append("no samples after warm-up")
        else:
            for when, value, fd in reference:
                if options.no_memory_check:
                    break
                if abs(value - rss0) > 0.05 * rss0:
                    failures.append("resident memory %d kB at %.0f s: more than 5%% from %d kB"
                                    % (value, when, rss0))
                    break
            if fds[-1] > fd0:
                failures.append("open descriptors grew from %d to %d" % (fd0, fds[-1]))
        if len(totals) != disturber.reloads + 1:
            failures.append("%d hit-log summaries in Unbound's log, expected %d (one per module "
                            "instance)" % (len(totals), disturber.reloads + 1))
        if lines != written:
            failures.append("hit log: %d lines on disk, the module wrote %d" % (lines, written))
        if written + dropped < listed_answered:
            failures.append("hits lost: %d listed queries answered, %d written + dropped"
                            % (listed_answered, written + dropped))
        if prom_flush is None or time.time() - prom_flush > 15:
            failures.append("the stats flusher did not flush in the last 15 s")
    finally:
        try:
            bed.cleanup()
        except AssertionError as error:  # a sanitizer report at stop
            failures.append(str(error))
    for failure in failures:
        print("FAIL: " + failure)
    print("soak: %s" % ("FAILED" if failures else "passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
