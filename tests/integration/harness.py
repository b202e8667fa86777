"""Test bed for the Unbound module: NSD as the upstream and the built Unbound with the module,
both on free loopback ports, plus small DNS clients. Python 3 standard library only.

Paths come from the environment (tests/integration/integration.cmake sets them):
  DNSVERDICT_CLI      the built `dnsverdict` program
  DNSVERDICT_MODULE   the built dnsverdict.so
  UNBOUND_EXECUTABLE  an Unbound with the dynlib module
  NSD_EXECUTABLE      nsd (default /usr/sbin/nsd)

Everything started is stopped: processes run in their own process groups and are killed by
group on stop(), with bounded waits.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

CLI = os.environ.get("DNSVERDICT_CLI", "dnsverdict")
MODULE = os.environ.get("DNSVERDICT_MODULE", "dnsverdict.so")
UNBOUND = os.environ.get("UNBOUND_EXECUTABLE", "unbound")
NSD = os.environ.get("NSD_EXECUTABLE", "/usr/sbin/nsd")
# Set for a sanitizer build of the module: the ASan or TSan runtime, preloaded into Unbound
# only (TSan reads TSAN_OPTIONS from the environment: the `tsan` test preset sets it).
UNBOUND_PRELOAD = os.environ.get("DNSVERDICT_UNBOUND_PRELOAD", "")
# ThreadSanitizer's shadow memory grows with every address it has seen: resident memory is
# printed but not checked under it.
THREAD_SANITIZER = "tsan" in os.path.basename(UNBOUND_PRELOAD)
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer")

ZONE = """$ORIGIN lab.
$TTL 300
@       SOA ns.lab. hostmaster.lab. 1 3600 600 86400 60
@       NS  ns.lab.
ns      A   127.0.0.1
*       A   10.0.0.1
*       AAAA fd00::1
*       MX  10 mail.lab.
alias   CNAME evil-chain.lab.
alias2  CNAME later2.lab.
walled  A   10.9.9.9
*.v4    A   10.0.0.5
alias4  CNAME evil4.v4.lab.
c2      A   10.66.1.1
c2      AAAA fd66::1
c2alias CNAME c2.lab.
c2deep  CNAME c2alias.lab.
c2ok    A   10.66.1.1
c2later A   10.66.2.2
c2later-alias CNAME c2later.lab.
c2sink  A   10.66.3.3
c2log   A   10.66.4.4
c2v6    AAAA fd66::2
"""

# Served beside lab.; a bed that sets `stub_host_zone` delegates child.zz. to a name server
# known by name only (ns.slowns.zz), so that the iterator looks that name's address up, and
# asks for that address through a SlowProxy on `slow_port`: the lookup takes a while.
CHILD_ZONE = """$ORIGIN child.zz.
$TTL 300
@       SOA ns.slowns.zz. hostmaster.lab. 1 3600 600 86400 60
@       NS  ns.slowns.zz.
*       A   10.7.7.7
"""
SLOWNS_ZONE = """$ORIGIN slowns.zz.
$TTL 300
@       SOA ns.slowns.zz. hostmaster.lab. 1 3600 600 86400 60
@       NS  ns.slowns.zz.
ns      A   127.0.0.1
host    A   10.0.0.8
"""

# Served beside lab. when a bed sets `referral_zone`: ref.zz. delegates child.ref.zz. to
# ns.hosts.zz, a name the iterator learns from that referral only (no glue, not in
# unbound.conf). ns.hosts.zz is the bed's ChildServer, port 53 of a loopback address of its own.
REF_ZONE = """$ORIGIN ref.zz.
$TTL 300
@       SOA ns.hosts.zz. hostmaster.lab. 1 3600 600 86400 60
@       NS  ns.hosts.zz.
child   NS  ns.hosts.zz.
"""
HOSTS_ZONE = """$ORIGIN hosts.zz.
$TTL 300
@       SOA ns.hosts.zz. hostmaster.lab. 1 3600 600 86400 60
@       NS  ns.hosts.zz.
ns      A   {address}
"""

# Signed with fresh keys when a bed asks for DNSSEC; Unbound gets its DS as the trust anchor.
SIGNED_ZONE = """$ORIGIN sec.
$TTL 300
@       SOA ns.sec. hostmaster.sec. 1 3600 600 86400 60
@       NS  ns.sec.
ns      A   127.0.0.1
good    A   10.0.0.2
bad     A   10.0.0.3
logged  A   10.0.0.4
alias   CNAME bad.sec.
"""


def wait_for(condition, timeout=5.0, step=0.1):
    """True once condition() is true, False after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1, below the kernel's ephemeral ports
    (32768-60999 by default), which clients' source ports and other servers take meanwhile."""
    for _ in range(50):
        port = random.randint(20000, 32767)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
                 socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
                return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def start_process(args, log_path, env=None):
    log = open(log_path, "ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop_process(process, timeout=5):
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=timeout)


def compile_store(path, feeds, force=True):
    """feeds: list of (content, [options]) compiled with the real CLI into `path`."""
    directory = os.path.dirname(path)
    args = [CLI, "compile", "-q", "-o", path]
    if force:
        args += ["--force"]
    for index, (content, options) in enumerate(feeds):
        feed = os.path.join(directory, "feed-%d-%d.txt" % (os.getpid(), index))
        with open(feed, "w") as out:
            out.write(content)
        args += list(options) + [feed]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("compile failed: %s %s" % (result.stdout, result.stderr))
    return path


def publish_store(path, feeds):
    """Compiles beside `path`, then renames into place (what `dnsverdict compile` does)."""
    temporary = path + ".new"
    compile_store(temporary, feeds)
    os.rename(temporary, path)


class Answer:
    def __init__(self, text, returncode):
        self.text = text
        self.returncode = returncode
        match = re.search(r"status: (\w+)", text)
        self.status = match.group(1) if match else None
        match = re.search(r";; flags: ([a-z ]*);", text)
        self.flags = match.group(1).split() if match else []
        match = re.search(r"; EDE: (\d+)[^:]*:?\s*(?:\((.*)\))?", text)
        self.ede_code = int(match.group(1)) if match else None
        self.ede_text = (match.group(2) or "") if match else None
        self.records = []
        section = None
        for line in text.splitlines():
            if line.startswith(";; ANSWER SECTION"):
                section = "answer"
                continue
            if line.startswith(";;"):
                section = None if not line.startswith(";; ANSWER") else section
            if section == "answer" and line and not line.startswith(";"):
                fields = line.split()
                if len(fields) >= 5:
                    self.records.append((fields[0].rstrip("."), fields[3], fields[4].rstrip(".")))

    @property
    def timed_out(self):
        return self.status is None

    def addresses(self, rtype="A"):
        return sorted(r[2] for r in self.records if r[1] == rtype)

    def __repr__(self):
        return "Answer(%s, %s, %s, ede=%s)" % (self.status, self.flags, self.records, self.ede_code)


class Testbed:
    """NSD + Unbound with the module, in a temporary folder."""

    def __init__(self, config_lines=(), store_feeds=None, create_store=True, remote_control=False,
                 dnssec=False, module_config="dynlib validator iterator", server_lines=(),
                 stub_host_zone=False, exempt=True, referral_zone=False):
        self.dir = tempfile.mkdtemp(prefix="dnsverdict-it-")
        self.control_port = free_port() if remote_control else None
        self.store = os.path.join(self.dir, "verdicts.mdb")
        self.hit_log = os.path.join(self.dir, "hits.jsonl")
        self.stats_store = os.path.join(self.dir, "stats.mdb")  # used when configured
        self.prometheus_file = os.path.join(self.dir, "dnsverdict.prom")
        self.nsd = None
        self.unbound = None
        self.unbound_log = os.path.join(self.dir, "unbound.out")
        self.nsd_port = free_port()
        self.port = free_port()
        self.slow_port = free_port()  # a SlowProxy to NSD, when a test starts one
        if create_store:
            compile_store(self.store, store_feeds or [("placeholder.lab\n", [])])
        self.config_lines = list(config_lines)
        self.server_lines = list(server_lines)  # extra unbound.conf server: lines
        self.module_config = module_config  # unbound.conf module-config
        self.stub_host_zone = stub_host_zone  # child.zz. through a name server known by name
        self.dnssec = dnssec  # also serve sec., signed, with its DS as Unbound's trust anchor
        self.exempt = exempt  # 127.0.0.2 is an exempt client (`exempt:` in dnsverdict.conf)
        # child.ref.zz. through a delegation learned from a referral (REF_ZONE)
        self.child_server = ChildServer() if referral_zone else None
        self.unbound_env = {}  # more environment for Unbound (LD_PRELOAD of libfaketime, ...)

    # -- lifecycle
    def start(self):
        try:
            self._start_nsd()
            self._start_unbound()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        stop_process(self.unbound)
        stop_process(self.nsd)
        self.unbound = self.nsd = None
        report = SANITIZER_REPORT.search(self.log())
        if report:
            raise AssertionError("sanitizer report from Unbound:\n" + self.log()[report.start():][:6000])

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.child_server:
                self.child_server.stop()
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()

    def _start_nsd(self):
        with open(os.path.join(self.dir, "lab.zone"), "w") as out:
            out.write(ZONE)
        with open(os.path.join(self.dir, "child.zone"), "w") as out:
            out.write(CHILD_ZONE)
        with open(os.path.join(self.dir, "slowns.zone"), "w") as out:
            out.write(SLOWNS_ZONE)
        if self.child_server:
            with open(os.path.join(self.dir, "ref.zone"), "w") as out:
                out.write(REF_ZONE)
            with open(os.path.join(self.dir, "hosts.zone"), "w") as out:
                out.write(HOSTS_ZONE.format(address=self.child_server.address))
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as out:
            out.write("""server:
  ip-address: 127.0.0.1@{port}
  username: ""
  database: ""
  zonesdir: "{dir}"
  zonelistfile: "{dir}/zone.list"
  xfrdfile: "{dir}/xfrd.state"
  pidfile: "{dir}/nsd.pid"
  logfile: "{dir}/nsd.log"
  server-count: 1
  verbosity: 0
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "lab."
  zonefile: "{dir}/lab.zone"
zone:
  name: "child.zz."
  zonefile: "{dir}/child.zone"
zone:
  name: "slowns.zz."
  zonefile: "{dir}/slowns.zone"
""".format(port=self.nsd_port, dir=self.dir))
            if self.dnssec:
                out.write('zone:\n  name: "sec."\n  zonefile: "%s"\n' % self._sign_zone())
            if self.child_server:
                for zone in ("ref", "hosts"):
                    out.write('zone:\n  name: "%s.zz."\n  zonefile: "%s/%s.zone"\n'
                              % (zone, self.dir, zone))
        self.nsd = start_process([NSD, "-d", "-c", conf], os.path.join(self.dir, "nsd.out"))
        self._wait_until(lambda: self._raw_ok(self.nsd_port, "ns.lab"), "nsd")

    def _sign_zone(self):
        """Writes sec. signed with a new KSK and ZSK (dnssec-signzone, NSEC); returns the
        signed file. The DS set lands in dsset-sec. for Unbound's trust-anchor-file."""
        keys = os.path.join(self.dir, "keys")
        os.makedirs(keys, exist_ok=True)
        zone = os.path.join(self.dir, "sec.zone")
        with open(zone, "w") as out:
            out.write(SIGNED_ZONE)
        for extra in (["-f", "KSK"], []):
            subprocess.run(["dnssec-keygen", "-q", "-K", keys, "-a", "ECDSAP256SHA256"] + extra +
                           ["sec."], check=True, capture_output=True, timeout=30)
        subprocess.run(["dnssec-signzone", "-q", "-S", "-K", keys, "-d", self.dir, "-o", "sec.",
                        "-f", zone + ".signed", zone], check=True, capture_output=True,
                       timeout=30)
        return zone + ".signed"

    def module_config_text(self):
        lines = ["store: " + self.store, "hit-log: " + self.hit_log, "check-interval: 200ms"]
        if self.exempt:
            lines.append("exempt: 127.0.0.2/32")
        keys = {line.split(":", 1)[0] for line in self.config_lines}
        lines = [line for line in lines if line.split(":", 1)[0] not in keys]
        return "\n".join(lines + self.config_lines) + "\n"

    def write_unbound_conf(self):
        """unbound.conf for this bed; `self.server_lines` go into its server: clause."""
        conf = os.path.join(self.dir, "unbound.conf")
        server_lines = "".join("  %s\n" % line for line in self.server_lines)
        with open(conf, "w") as out:
            out.write("""server:
  interface: 127.0.0.1
  port: {port}
  num-threads: 2
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: "{dir}/unbound.pid"
  logfile: ""
  use-syslog: no
  verbosity: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "{module_config}"
  ede: yes
  minimal-responses: yes
{server_lines}dynlib:
  dynlib-file: "{module}"
stub-zone:
  name: "lab."
  stub-addr: 127.0.0.1@{nsd}
{remote_control}
""".format(port=self.port, dir=self.dir, module=MODULE, nsd=self.nsd_port,
           remote_control=self._remote_control_text(), server_lines=server_lines,
           module_config=self.module_config))
            if self.stub_host_zone:
                out.write('stub-zone:\n  name: "child.zz."\n  stub-host: ns.slowns.zz@%d\n'
                          'stub-zone:\n  name: "slowns.zz."\n  stub-addr: 127.0.0.1@%d\n'
                          % (self.nsd_port, self.slow_port))
            if self.child_server:
                out.write('stub-zone:\n  name: "ref.zz."\n  stub-addr: 127.0.0.1@%d\n'
                          'stub-zone:\n  name: "hosts.zz."\n  stub-addr: 127.0.0.1@%d\n'
                          % (self.nsd_port, self.nsd_port))
            if self.dnssec:
                out.write('server:\n  trust-anchor-file: "%s/dsset-sec."\n'
                          'stub-zone:\n  name: "sec."\n  stub-addr: 127.0.0.1@%d\n'
                          % (self.dir, self.nsd_port))
        return conf

    def _start_unbound(self):
        self.module_conf = os.path.join(self.dir, "dnsverdict.conf")
        with open(self.module_conf, "w") as out:
            out.write(self.module_config_text())
        conf = self.write_unbound_conf()
        env = dict(os.environ, DNSVERDICT_CONFIG=self.module_conf)
        env.update(self.unbound_env)
        if UNBOUND_PRELOAD:
            # Unbound's own allocations are not the module's to answer for: leaks are not
            # checked (Unbound keeps some of its startup allocations until exit).
            env.update(LD_PRELOAD=":".join(filter(None, [UNBOUND_PRELOAD, env.get("LD_PRELOAD")])),
                       ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1",
                       UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
        self.unbound = start_process([UNBOUND, "-d", "-c", conf], self.unbound_log, env=env)
        self._wait_until(lambda: self.unbound.poll() is not None or
                         raw_query(self.port, "ns.lab", timeout=0.3) is not None, "unbound")
        if self.unbound.poll() is not None:
            raise RuntimeError("unbound exited (status %d):\n%s"
                               % (self.unbound.returncode, self.log()))

    def stop_unbound(self, timeout=10):
        """SIGTERM to Unbound only (NSD keeps running) and waits: the module's deinit runs
        (final stats flush). Returns Unbound's exit code."""
        process, self.unbound = self.unbound, None
        stop_process(process, timeout=timeout)
        return process.returncode

    def restart_unbound(self):
        """Starts Unbound again (after stop_unbound) with the same configuration."""
        self._start_unbound()

    def stats(self, *options):
        """`dnsverdict stats --json` on this bed's stats store, parsed."""
        result = subprocess.run([CLI, "stats", "--json"] + list(options) + [self.stats_store],
                                capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            raise RuntimeError("stats failed: %s %s" % (result.stdout, result.stderr))
        return json.loads(result.stdout)

    def _remote_control_text(self):
        if self.control_port is None:
            return "remote-control:\n  control-enable: no"
        return ("remote-control:\n  control-enable: yes\n  control-use-cert: no\n"
                "  control-interface: 127.0.0.1\n  control-port: %d" % self.control_port)

    def control(self, *command):
        """Runs unbound-control (beside the unbound binary) against this Unbound."""
        control = os.path.join(os.path.dirname(UNBOUND), "unbound-control")
        conf = os.path.join(self.dir, "unbound.conf")
        return subprocess.run([control, "-c", conf] + list(command), capture_output=True,
                              text=True, timeout=30)

    def cache_hits(self):
        """Unbound's total.num.cachehits so far (a bed with remote_control)."""
        result = self.control("stats_noreset")
        if result.returncode != 0:
            raise RuntimeError("unbound-control stats_noreset: %s" % result.stderr)
        values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        return int(values["total.num.cachehits"])

    def status(self):
        """The Unbound process's /proc status fields (VmRSS, RssAnon, RssFile ...) in kB."""
        fields = {}
        with open("/proc/%d/status" % self.unbound.pid) as text:
            for line in text:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    fields[key] = int(value.split()[0])
        return fields

    def mapped_stores(self):
        """How many store files Unbound has mapped (old ones must be unmapped). A file renamed
        over or removed since is still mapped under its old path, marked " (deleted)": files
        are told apart by device and inode."""
        files = set()
        with open("/proc/%d/maps" % self.unbound.pid) as text:
            for line in text:
                fields = line.split(None, 5)  # address perms offset dev inode path
                if len(fields) == 6 and fields[5].startswith(self.store):
                    files.add((fields[3], fields[4]))
        return len(files)

    def open_files(self):
        return len(os.listdir("/proc/%d/fd" % self.unbound.pid))

    def _raw_ok(self, port, name):
        return raw_query(port, name, timeout=0.3) is not None

    def reload(self, command="reload", timeout=15):
        """`unbound-control reload` (or `command`, e.g. reload_keep_cache), then waits until
        the module's new instance has started (its start line appears once more) and Unbound
        answers: unbound-control returns once the command is sent, and the old workers may
        still answer for a moment."""
        starts = self.log().count("built for Unbound")
        result = self.control(command)
        deadline = time.time() + timeout
        while (result.returncode == 0 and time.time() < deadline and
               self.log().count("built for Unbound") <= starts):
            time.sleep(0.1)
        self.wait_answering()
        return result

    def wait_answering(self, timeout=10):
        """Waits until Unbound answers again (after a reload), at most `timeout` s."""
        deadline = time.time() + timeout
        while time.time() < deadline and raw_query(self.port, "ns.lab") is None:
            time.sleep(0.1)

    @staticmethod
    def _wait_until(ready, what, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(what + " did not start")

    def log(self):
        try:
            with open(self.unbound_log, errors="replace") as text:
                return text.read()
        except OSError:
            return ""

    def wait_for_log(self, text, timeout=15):
        """True once Unbound's log holds `text` (a watcher's line comes within its check
        interval; the timeout leaves room for a loaded machine)."""
        return wait_for(lambda: text in self.log(), timeout)

    # -- queries
    def dig(self, name, rtype="A", source="127.0.0.1", tcp=False, edns=True, timeout=2,
            options=()):
        args = ["dig", "@127.0.0.1", "-p", str(self.port), "-b", source, name, rtype,
                "+tries=1", "+time=%d" % timeout, "+noall", "+comments", "+answer"]
        args += list(options)
        args.append("+tcp" if tcp else "+notcp")
        args.append("+edns=0" if edns else "+noedns")
        args.append("+ignore")  # show a truncated UDP answer instead of retrying over TCP
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout + 5)
        return Answer(result.stdout, result.returncode)

    def hits(self, wait_for=None, timeout=10):
        """The hit-log lines as dicts; waits until `wait_for(lines)` is true (or timeout).
        A line the writer has not finished yet (no newline) is left for the next read."""
        deadline = time.time() + timeout
        while True:
            lines = []
            if os.path.exists(self.hit_log):
                with open(self.hit_log) as text:
                    complete = text.read().split("\n")[:-1]
                lines = [json.loads(line) for line in complete if line.strip()]
            if wait_for is None or wait_for(lines) or time.time() > deadline:
                return lines
            time.sleep(0.1)

    def swap(self, feeds, settle=1.0):
        """Publishes a new store and waits until the module has picked it up and swept the
        cache for it (within settle s). The sweep runs on a worker's timer: some query must
        have reached a worker since Unbound started (start() sends one)."""
        log = self.log()
        swaps, sweeps = log.count("store swapped in"), log.count("] info: dnsverdict: cache sweep")
        publish_store(self.store, feeds)
        started = time.time()
        deadline = started + settle + 15  # a bound for a loaded machine, seldom reached
        while time.time() < deadline:
            log = self.log()
            if (log.count("store swapped in") > swaps and
                    log.count("] info: dnsverdict: cache sweep") > sweeps):
                return time.time() - started
            time.sleep(0.05)
        raise AssertionError("store swap not picked up and swept:\n" + self.log()[-2000:])


class UdpServer:
    """A UDP server on a thread of its own: each datagram received on `self._socket` goes
    to `_handle(query, client)`, until stop() or until `_handle` returns False."""

    def _start(self):
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                query, client = self._socket.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if not self._handle(query, client):
                return

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


class ChildServer(UdpServer):
    """An authoritative server for child.ref.zz. on port 53 of a loopback address of its own
    (name servers learned from a referral are asked on port 53): every A question gets
    10.7.7.8, any other type an empty answer. Stops with stop()."""

    ADDRESS = "10.7.7.8"

    def __init__(self):
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(20):
            self.address = "127.45.%d.%d" % (random.randint(0, 255), random.randint(1, 254))
            try:
                self._socket.bind((self.address, 53))
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no loopback address with port 53 free")
        self.answered = 0
        self._start()

    def _answer(self, query):
        end = 12
        while end < len(query) and query[end] != 0:
            end += query[end] + 1
        question = query[12:end + 5]
        if len(question) < 5:
            return None
        qtype = struct.unpack("!H", question[-4:-2])[0]
        records = b""
        if qtype == 1:
            records = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) +
                       socket.inet_aton(self.ADDRESS))
        flags = 0x8400 | (struct.unpack("!H", query[2:4])[0] & 0x0100)  # QR AA, RD as asked
        return (query[:2] + struct.pack("!HHHHH", flags, 1, 1 if records else 0, 0, 0) +
                question + records)

    def _handle(self, query, client):
        answer = self._answer(query)
        if answer:
            self.answered += 1
            self._socket.sendto(answer, client)
        return True


class SlowProxy(UdpServer):
    """Relays UDP queries from `port` to the upstream on `upstream_port`, each answer
    `delay` s late; at most `limit` queries, then it stops by itself (or on stop())."""

    def __init__(self, port, upstream_port, delay=0.4, limit=1000):
        self.port, self.upstream_port, self.delay, self.limit = port, upstream_port, delay, limit
        self.relayed = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", port))
        self._start()

    def _relay(self, query, client):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(2)
            try:
                upstream.sendto(query, ("127.0.0.1", self.upstream_port))
                answer, _ = upstream.recvfrom(65535)
            except OSError:
                return
        if self._stop.wait(self.delay):
            return
        try:
            self._socket.sendto(answer, client)
        except OSError:
            pass

    def _handle(self, query, client):
        self.relayed += 1
        threading.Thread(target=self._relay, args=(query, client), daemon=True).start()
        return self.relayed < self.limit


class BedTestCase(unittest.TestCase):
    """A fresh test bed for each test, made from `bed_options` (Testbed's arguments)."""

    bed_options = {}

    def setUp(self):
        self.bed = Testbed(**self.bed_options)
        self.bed.start()

    def tearDown(self):
        self.bed.cleanup()


def run_tests():
    """unittest.main for a test program; exits 77 (CTest: skipped) without dig or NSD."""
    for tool in ("dig", NSD):
        if shutil.which(tool) is None:
            print("skipped: %s not found" % tool)
            sys.exit(77)
    unittest.main(verbosity=2)


# -- a minimal DNS client for load (no process per query)
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def encode_query(name, qtype=1, query_id=None):
    query_id = random.randint(0, 0xffff) if query_id is None else query_id
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".") if label)
    return query_id, header + labels + b"\x00" + struct.pack("!HH", qtype, 1)


def raw_exchange(port, name, qtype=1, timeout=1.0, source="127.0.0.1"):
    """Returns (rcode name, answer record count), or (None, None) on timeout."""
    query_id, packet = encode_query(name, qtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, ("127.0.0.1", port))
            while True:
                data, _ = sock.recvfrom(4096)
                if len(data) >= 12 and struct.unpack("!H", data[:2])[0] == query_id:
                    return (RCODES.get(data[3] & 0x0f, str(data[3] & 0x0f)),
                            struct.unpack("!H", data[6:8])[0])
        except (socket.timeout, OSError):
            return None, None


def raw_query(port, name, qtype=1, timeout=1.0, source="127.0.0.1"):
    """Returns the rcode name, or None on timeout."""
    return raw_exchange(port, name, qtype, timeout, source)[0]
