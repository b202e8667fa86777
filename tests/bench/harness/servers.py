"""The servers a benchmark run starts: NSD (upstream), Unbound in its variants, dnsdist.

Every server listens on 127.0.0.1 only, on a free port, runs in its own process group and
is stopped by group (SIGTERM, then SIGKILL) with bounded waits. `Processes` keeps the list,
so that one try/finally in the caller stops everything it started.
"""

import os
import signal
import subprocess
import sys
import time


# The loopback helpers are the integration tests' (tests/integration/harness.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "integration"))
from harness import free_port, raw_query as harness_raw_query  # noqa: E402


def query(port, name, timeout=0.5):
    """One UDP query for `name` A; the rcode name, or None on timeout."""
    return harness_raw_query(port, name, timeout=timeout)


class Server:
    def __init__(self, name, process, port, log_path, started_at):
        self.name = name
        self.process = process
        self.port = port
        self.log_path = log_path
        self.started_at = started_at
        self.first_answer_seconds = None

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process.poll() is None

    def log_tail(self, size=3000):
        try:
            with open(self.log_path, errors="replace") as text:
                return text.read()[-size:]
        except OSError:
            return ""

    def wait_answering(self, probe_name, timeout):
        """Polls until the server answers `probe_name`; records the seconds since start."""
        deadline = self.started_at + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError("%s exited:\n%s" % (self.name, self.log_tail()))
            if query(self.port, probe_name, timeout=0.05) is not None:
                self.first_answer_seconds = time.monotonic() - self.started_at
                return self.first_answer_seconds
            time.sleep(0.005)
        raise TimeoutError("%s did not answer within %.0f s" % (self.name, timeout))


class Processes:
    """Everything started, stopped in reverse order by stop_all()."""

    def __init__(self):
        self.servers = []

    def start(self, name, args, port, log_path, env=None, limits=None):
        log = open(log_path, "ab")
        started_at = time.monotonic()
        preexec = None
        if limits:
            def preexec():
                import resource
                for resource_id, value in limits:
                    resource.setrlimit(resource_id, (value, value))
        try:
            process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL, start_new_session=True,
                                       preexec_fn=preexec)
        finally:
            log.close()
        server = Server(name, process, port, log_path, started_at)
        self.servers.append(server)
        return server

    def stop(self, server, timeout=10):
        if server in self.servers:
            self.servers.remove(server)
        process = server.process
        if process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=timeout)
                return
            except subprocess.TimeoutExpired:
                continue
        process.wait(timeout=timeout)

    def stop_all(self):
        for server in reversed(list(self.servers)):
            try:
                self.stop(server)
            except Exception as error:  # keep stopping the others
                print("warning: could not stop %s: %s" % (server.name, error))


def start_nsd(processes, nsd, directory, zones):
    port = free_port()
    conf = os.path.join(directory, "nsd.conf")
    with open(conf, "w") as out:
        out.write("""server:
  ip-address: 127.0.0.1@{port}
  username: ""
  database: ""
  zonesdir: "{dir}"
  zonelistfile: "{dir}/nsd-zone.list"
  xfrdfile: "{dir}/nsd-xfrd.state"
  pidfile: "{dir}/nsd.pid"
  logfile: "{dir}/nsd.log"
  server-count: 1
  verbosity: 0
remote-control:
  control-enable: no
""".format(port=port, dir=directory))
        for zone, path in zones:
            out.write('zone:\n  name: "%s."\n  zonefile: "%s"\n' % (zone, path))
    server = processes.start("nsd", [nsd, "-d", "-c", conf], port,
                             os.path.join(directory, "nsd.out"))
    server.wait_answering("ns." + zones[0][0], timeout=20)
    return server


# Module chains: what the integration tests and conf/ use, with and without the extra module.
MODULE_CONFIG = {
    "plain": "validator iterator",
    "rpz": "respip validator iterator",
    "dnsverdict": "dynlib validator iterator",
}


def unbound_config(port, directory, nsd_port, zones, variant, module=None, rpz_zone=None,
                   threads=1):
    """unbound.conf for one variant. Everything but the module chain and its clause is the
    same in every variant: one thread (or `threads`), no logging per query, caches at their defaults, 4 MB
    socket buffers (so that a server thread descheduled for a moment on a busy 2-core machine
    does not drop queries; Unbound forces the size as root)."""
    text = """server:
  interface: 127.0.0.1
  port: {port}
  num-threads: {threads}
  so-rcvbuf: 4m
  so-sndbuf: 4m
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  logfile: ""
  use-syslog: no
  verbosity: 0
  do-ip6: no
  do-not-query-localhost: no
  qname-minimisation: no
  access-control: 127.0.0.0/8 allow
  module-config: "{modules}"
""".format(port=port, dir=directory, modules=MODULE_CONFIG[variant], threads=threads)
    if variant == "dnsverdict":
        text += 'dynlib:\n  dynlib-file: "%s"\n' % module
    if variant == "rpz":
        text += 'rpz:\n  name: "rpz.bench."\n  zonefile: "%s"\n' % rpz_zone
    for zone, _ in zones:
        text += 'stub-zone:\n  name: "%s."\n  stub-addr: 127.0.0.1@%d\n' % (zone, nsd_port)
    text += "remote-control:\n  control-enable: no\n"
    return text


def start_unbound(processes, unbound, directory, name, nsd_port, zones, variant, probe_name,
                  module=None, module_conf=None, rpz_zone=None, timeout=120, limits=None,
                  threads=1):
    port = free_port()
    work = os.path.join(directory, name)
    os.makedirs(work, exist_ok=True)
    conf = os.path.join(work, "unbound.conf")
    with open(conf, "w") as out:
        out.write(unbound_config(port, work, nsd_port, zones, variant, module, rpz_zone,
                                 threads))
    env = dict(os.environ)
    if module_conf:
        env["DNSVERDICT_CONFIG"] = module_conf
    server = processes.start(name, [unbound, "-d", "-c", conf], port,
                             os.path.join(work, "unbound.out"), env=env, limits=limits)
    server.wait_answering(probe_name, timeout=timeout)
    return server


def start_dnsdist(processes, dnsdist, directory, name, backend_port, lmdb_path, database,
                  probe_name, timeout=60):
    """dnsdist in front of a plain Unbound: a suffix lookup of the query name (wire format)
    in the LMDB key-value store; a listed name or a name below one gets NXDOMAIN."""
    port = free_port()
    work = os.path.join(directory, name)
    os.makedirs(work, exist_ok=True)
    conf = os.path.join(work, "dnsdist.conf")
    with open(conf, "w") as out:
        out.write("""setLocal("127.0.0.1:{port}")
setSecurityPollSuffix("")
newServer({{address="127.0.0.1:{backend}", checkName="{probe}.", checkInterval=5}})
blocklist = newLMDBKVStore("{lmdb}", "{database}")
addAction(KeyValueStoreLookupRule(blocklist, KeyValueLookupKeySuffix()), RCodeAction(DNSRCode.NXDOMAIN))
""".format(port=port, backend=backend_port, probe=probe_name, lmdb=lmdb_path,
           database=database))
    server = processes.start(name, [dnsdist, "--supervised", "--disable-syslog", "-C", conf],
                             port, os.path.join(work, "dnsdist.out"))
    server.wait_answering(probe_name, timeout=timeout)
    return server
