"""What is measured, and how: dnsperf runs, CPU time and memory from /proc."""

import os
import re
import statistics
import subprocess

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads) from /proc/PID/stat, in seconds."""
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat(5)


def memory(pid):
    """RssAnon and RssFile (file-backed, e.g. a mapped store) in bytes."""
    values = {}
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem", "VmRSS"):
                values[key] = int(rest.split()[0]) * 1024
    return values


def parse_dnsperf(text):
    def number(pattern, cast=float):
        match = re.search(pattern, text)
        return cast(match.group(1)) if match else None
    result = {
        "sent": number(r"Queries sent:\s+(\d+)", int),
        "completed": number(r"Queries completed:\s+(\d+)", int),
        "lost": number(r"Queries lost:\s+(\d+)", int),
        "qps": number(r"Queries per second:\s+([\d.]+)"),
        "latency": number(r"Average Latency \(s\):\s+([\d.]+)"),
        "rcodes": {},
    }
    match = re.search(r"Response codes:\s+(.*)", text)
    if match:
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", match.group(1)):
            result["rcodes"][code] = int(count)
    if result["completed"] is None:
        raise RuntimeError("dnsperf printed no statistics:\n" + text[-2000:])
    return result


def dnsperf_command(dnsperf, port, query_file, seconds, rate=None, once=False, outstanding=200):
    args = [dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", query_file, "-l", str(seconds),
            "-q", str(outstanding), "-t", "2"]
    if rate:
        args += ["-Q", str(int(rate))]
    if once:
        args += ["-n", "1"]
    return args


def run_dnsperf(dnsperf, port, query_file, seconds, rate=None, once=False, outstanding=200):
    args = dnsperf_command(dnsperf, port, query_file, seconds, rate, once, outstanding)
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30)
    return parse_dnsperf(done.stdout + done.stderr)


def cpu_per_query(dnsperf, port, pids, query_file, seconds, rate, once=False, outstanding=200):
    """Offers `rate` qps for `seconds`; returns microseconds of CPU (summed over `pids`) per
    completed query, with the dnsperf figures."""
    before = sum(cpu_seconds(pid) for pid in pids)
    result = run_dnsperf(dnsperf, port, query_file, seconds, rate=rate, once=once,
                         outstanding=outstanding)
    after = sum(cpu_seconds(pid) for pid in pids)
    result["cpu_seconds"] = after - before
    result["cpu_us_per_query"] = (after - before) * 1e6 / max(result["completed"], 1)
    return result


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None
