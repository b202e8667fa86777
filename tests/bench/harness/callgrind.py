"""Instructions per query inside Unbound, counted by valgrind's callgrind: a deterministic
figure beside the noisy CPU time.

One Unbound runs under `valgrind --tool=callgrind --toggle-collect=comm_point_udp_callback`:
only user-space instructions executed inside Unbound's UDP receive callback are counted
(receive, cache lookup or mesh, the modules' callbacks, encode, send; for queries that recurse
also the upstream answers, which arrive through the same callback). Kernel time is not
counted. After the warm-up, for each traffic kind:

  1. `unbound-control stats_noreset` (queries, cache hits and misses so far);
  2. `callgrind_control --zero`: the counters start at 0;
  3. dnsperf sends the query file once, one query outstanding at a time (`-q 1`) at a low
     rate: every callback receives one packet and then EAGAIN, so nothing depends on timing;
  4. `callgrind_control --dump`: the counts of exactly that part;
  5. `unbound-control stats_noreset` again: the part must have answered every query, and for
     traffic meant to be cached, with 0 cache misses; otherwise it is measured again.

callgrind_control's commands are read by the running program; Unbound idle in epoll_wait
reads them when woken, which the unbound-control call (TCP, not counted) does.

Instructions per query = the dump's total / queries answered. `functions()` gives the
inclusive instructions per query of each function (callgrind_annotate --inclusive=yes).
"""

import os
import re
import subprocess
import threading
import time

import measure
import servers

IDLE_THREAD_SOURCE = r"""
#include <pthread.h>
#include <unistd.h>
static void *idle(void *a) { for (;;) pause(); return a; }
__attribute__((constructor)) static void start(void) {
  pthread_t t; pthread_create(&t, 0, idle, 0); pthread_detach(t);
}
"""


def idle_thread_library(directory):
    """A preload library that starts one idle thread: a plain Unbound that pays what a
    multi-threaded process pays (glibc's cancellation wrappers around recvfrom/sendto), as
    with the module's watcher and flusher threads."""
    source = os.path.join(directory, "idle-thread.c")
    library = os.path.join(directory, "idle-thread.so")
    with open(source, "w") as out:
        out.write(IDLE_THREAD_SOURCE)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", library, source, "-lpthread"], check=True,
                   timeout=120)
    return library


def with_remote_control(conf_text, control_port):
    text = conf_text.replace("remote-control:\n  control-enable: no\n", "")
    return text + ("remote-control:\n  control-enable: yes\n  control-use-cert: no\n"
                   "  control-interface: 127.0.0.1\n  control-port: %d\n" % control_port)


class CallgrindUnbound:
    """One Unbound under callgrind, with remote control on a free port."""

    def __init__(self, unbound, directory, name, conf_text, probe, env=None, preload=None):
        self.unbound = unbound
        self.control = os.path.join(os.path.dirname(unbound), "unbound-control")
        self.work = os.path.join(directory, name)
        os.makedirs(self.work, exist_ok=True)
        self.port = int(re.search(r"port: (\d+)", conf_text).group(1))
        self.conf = os.path.join(self.work, "unbound.conf")
        with open(self.conf, "w") as out:
            out.write(with_remote_control(conf_text, servers.free_port()))
        env = dict(env or os.environ)
        if preload:
            env["LD_PRELOAD"] = preload
        self.out_prefix = os.path.join(self.work, "callgrind.out")
        for stale in os.listdir(self.work):
            if stale.startswith("callgrind.out"):
                os.remove(os.path.join(self.work, stale))
        self.log_path = os.path.join(self.work, "valgrind.log")
        self.process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--toggle-collect=comm_point_udp_callback",
             "--callgrind-out-file=%s.%%p" % self.out_prefix, unbound, "-d", "-c", self.conf],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        deadline = time.monotonic() + 180
        while servers.query(self.port, probe, timeout=2) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Unbound under callgrind did not answer; %s" % self.log_path)
            time.sleep(0.5)
        self.parts = 0

    def stats(self):
        done = subprocess.run([self.control, "-c", self.conf, "stats_noreset"],
                              capture_output=True, text=True, timeout=120)
        values = {}
        for line in done.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.startswith("total.num."):
                values[key[len("total.num."):]] = int(float(value))
        if "queries" not in values:
            raise RuntimeError("unbound-control stats failed: %s %s" % (done.stdout, done.stderr))
        return values

    def _callgrind_control(self, option):
        """callgrind_control OPTION, and a wake-up of Unbound so that it reads the command."""
        result = {}

        def run():
            result["done"] = subprocess.run(["callgrind_control", option, str(self.process.pid)],
                                            capture_output=True, text=True, timeout=120)
        thread = threading.Thread(target=run)
        thread.start()
        while thread.is_alive():
            time.sleep(0.3)
            subprocess.run([self.control, "-c", self.conf, "status"], capture_output=True,
                           timeout=120)
            thread.join(1)
        if result["done"].returncode != 0:
            raise RuntimeError("callgrind_control %s: %s" % (option, result["done"].stdout))

    def warm(self, dnsperf, query_file, times=2):
        for _ in range(times):
            dnsperf_once(dnsperf, self.port, query_file, rate=None)

    def measure(self, dnsperf, query_file, cached, attempts=3):
        """Instructions per query for one pass over query_file; see the module's docstring."""
        for attempt in range(attempts):
            before = self.stats()
            self._callgrind_control("--zero")
            run = dnsperf_once(dnsperf, self.port, query_file)
            self._callgrind_control("--dump")
            self.parts += 1
            after = self.stats()
            delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
            dump = self._latest_dump()
            total = total_instructions(dump)
            ok = run["completed"] == run["sent"] and delta["queries"] == run["sent"] and (
                not cached or delta.get("cachemiss", 0) == 0)
            if ok or attempt + 1 == attempts:
                return {"instructions": total, "queries": delta["queries"],
                        "per_query": total / max(delta["queries"], 1),
                        "cachehits": delta.get("cachehits", 0),
                        "cachemiss": delta.get("cachemiss", 0), "dump": dump,
                        "attempts": attempt + 1, "clean": ok}

    def _latest_dump(self):
        dumps = [os.path.join(self.work, f) for f in os.listdir(self.work)
                 if f.startswith("callgrind.out")]
        return max(dumps, key=os.path.getmtime)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


# Queries per second while counting: slow enough that Unbound (50x slower under valgrind)
# has gone back to epoll_wait before the next query arrives, so that every callback reads
# one packet and then EAGAIN, whatever the machine's load.
RATE = 150


def dnsperf_once(dnsperf, port, query_file, rate=RATE):
    """Every line once, one query outstanding at a time, at RATE (a lost query is caught by
    the caller's check of Unbound's statistics)."""
    args = [dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", query_file, "-n", "1",
            "-q", "1", "-t", "5"] + (["-Q", str(rate)] if rate else [])
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    return measure.parse_dnsperf(done.stdout + done.stderr)


def total_instructions(dump):
    with open(dump) as data:
        for line in data:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    return 0


LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*(?:\[(.*)\])?\s*$")


def functions(dump, inclusive=True):
    """{function: (instructions, object)} from callgrind_annotate."""
    args = ["callgrind_annotate", "--threshold=100", dump]
    if inclusive:
        args.insert(1, "--inclusive=yes")
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    result = {}
    started = False
    for line in done.stdout.splitlines():
        if not started:
            started = "file:function" in line
            continue
        match = LINE.match(line)
        if not match:
            continue
        count = int(match.group(1).replace(",", ""))
        name = re.sub(r" \([\d,]+x\)$", "", match.group(2))
        if ":" in name:
            name = name.split(":", 1)[1]
        # A function whose code comes from several files (inlined headers) has a line per
        # file; the largest is the function's own entry.
        known_count, known_object = result.get(name, (0, ""))
        result[name] = (max(known_count, count), known_object or match.group(3) or "")
    return result


def breakdown(dump, queries, objects=("dnsverdict.so",), extra=()):
    """The module's functions (inclusive, per query), largest first, with the extra names
    (e.g. __tls_get_addr, glibc's cancellation wrappers) wherever they live."""
    rows = []
    for name, (count, obj) in functions(dump).items():
        if any(o in obj for o in objects) or any(name.startswith(e) for e in extra):
            rows.append((count / max(queries, 1), name, os.path.basename(obj)))
    rows.sort(reverse=True)
    return rows
