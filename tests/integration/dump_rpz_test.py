#!/usr/bin/env python3
"""`dnsverdict dump --format rpz` loads in Unbound's own `rpz:` clause and answers as the store says.

Compiles a store with every action and rule kind, dumps it as RPZ, checks the zone with
unbound-checkconf, then starts the real Unbound (no dnsverdict module: plain `respip iterator`)
on a loopback port with the dump as its RPZ zone, forwarding to a tiny upstream on loopback
that answers every A query with 198.51.100.1, and asks it with dig.

usage: dump_rpz_test.py --cli build/tools/dnsverdict --unbound PREFIX/sbin/unbound
                        [--checkconf PREFIX/sbin/unbound-checkconf]
Exit 0 when every check passes, 1 otherwise, 77 (skipped) when dig is missing.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import struct
import tempfile
import threading
import time

RPZ_FEED = """$TTL 300
$ORIGIN feed.test.
@ SOA localhost. hostmaster.localhost. 1 3600 600 604800 300
@ NS localhost.
exact.example CNAME .
*.wild.example CNAME .
nodata.example CNAME *.
drop.example CNAME rpz-drop.
tcp.example CNAME rpz-tcp-only.
pass.evil.example CNAME rpz-passthru.
sink.example A 192.0.2.1
sink.example AAAA 2001:db8::1
redirect.example CNAME walled.garden.test.
"""
LIST_FEED = "evil.example\n"      # subtree, nxdomain
LOG_FEED = "logged.example\n"     # log: exported as passthru
SINK_FEED = "nowhere.example\n"   # sinkhole without addresses: left out of the zone

failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        return udp.getsockname()[1]


UPSTREAM_ADDRESS = "198.51.100.1"


class Upstream:
    """An authoritative-looking server on loopback: A queries get UPSTREAM_ADDRESS, others
    NOERROR with no data. Enough for the names the zone lets pass."""

    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                query, client = self.socket.recvfrom(4096)
            except socket.timeout:
                continue
            if len(query) < 12:
                continue
            end = 12
            while end < len(query) and query[end] != 0:
                end += query[end] + 1
            question = query[12:end + 5]
            qtype = struct.unpack("!H", query[end + 1:end + 3])[0] if end + 3 <= len(query) else 0
            answer = b""
            if qtype == 1:
                answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(UPSTREAM_ADDRESS)
            header = query[:2] + struct.pack("!HHHHH", 0x8400 | (query[2] & 1) << 8, 1,
                                             1 if answer else 0, 0, 0)
            self.socket.sendto(header + question + answer, client)

    def stop(self):
        self.running = False
        self.thread.join()
        self.socket.close()


def dig(port, name, qtype="A", tcp=False):
    """Returns (status, flags, answer lines) or (None, ...) on timeout."""
    command = ["dig", "@127.0.0.1", "-p", str(port), name, qtype, "+tries=1", "+time=2",
               "+noedns", "+ignore"]
    if tcp:
        command.append("+tcp")
    output = subprocess.run(command, capture_output=True, text=True).stdout
    status, flags, answers, in_answer = None, "", [], False
    for line in output.splitlines():
        if "status:" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        if line.startswith(";; flags:"):
            flags = line.split(";")[2].split(":")[1].strip()
        if line.startswith(";; ANSWER SECTION:"):
            in_answer = True
            continue
        if in_answer:
            if not line.strip():
                in_answer = False
            else:
                answers.append(" ".join(line.split()))
    return status, flags, answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cli", required=True)
    parser.add_argument("--unbound", required=True)
    parser.add_argument("--checkconf")
    args = parser.parse_args()
    if shutil.which("dig") is None:
        print("skipped: dig is not installed (dnsutils)")
        return 77
    checkconf = args.checkconf or os.path.join(os.path.dirname(args.unbound), "unbound-checkconf")

    with tempfile.TemporaryDirectory(prefix="dnsverdict-dump-") as work:
        def write(name, text):
            path = os.path.join(work, name)
            with open(path, "w") as out:
                out.write(text)
            return path

        store = os.path.join(work, "store.mdb")
        compile_run = subprocess.run(
            [args.cli, "compile", "-q", "-o", store, write("policy.rpz", RPZ_FEED),
             "--format", "domains", write("list.txt", LIST_FEED),
             "--action", "log", write("log.txt", LOG_FEED),
             "--action", "sinkhole", write("sink.txt", SINK_FEED)],
            capture_output=True, text=True)
        check(compile_run.returncode == 0, "compile: " + compile_run.stderr.strip())
        zone = os.path.join(work, "dump.rpz")
        dump_run = subprocess.run([args.cli, "dump", "-o", zone, "--origin", "rpz.example.org", store],
                                  capture_output=True, text=True)
        check(dump_run.returncode == 0, "dump: " + dump_run.stderr.strip())
        if failures:
            return 1

        port = free_port()
        upstream = Upstream()
        config = write("unbound.conf", f"""server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "{work}"
  pidfile: ""
  verbosity: 1
  do-ip6: no
  module-config: "respip iterator"
  do-not-query-localhost: no
  qname-minimisation: no
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@{upstream.port}
rpz:
  name: "rpz.example.org."
  zonefile: "{zone}"
""")
        checked = subprocess.run([checkconf, config], capture_output=True, text=True)
        check(checked.returncode == 0,
              "unbound-checkconf accepts the rpz: clause: " + (checked.stdout + checked.stderr).strip())

        log_path = os.path.join(work, "unbound.log")
        with open(log_path, "w") as log:
            server = subprocess.Popen([args.unbound, "-d", "-c", config], stdout=log, stderr=log)
        try:
            deadline = time.time() + 10
            while time.time() < deadline and dig(port, "exact.example")[0] is None:
                if server.poll() is not None:
                    break
                time.sleep(0.2)
            with open(log_path) as log:
                log_text = log.read()
            check(server.poll() is None, "unbound starts with the dumped zone")
            check("error" not in log_text.lower(), "unbound logs no error loading the zone")
            if server.poll() is not None:
                print(log_text)
                return 1

            status, _, _ = dig(port, "exact.example")
            check(status == "NXDOMAIN", f"exact rule: exact.example NXDOMAIN (got {status})")
            status, _, answers = dig(port, "www.exact.example")
            check(status == "NOERROR" and any(UPSTREAM_ADDRESS in a for a in answers),
                  f"exact rule does not cover www.exact.example (got {status} {answers})")
            status, _, _ = dig(port, "a.b.wild.example")
            check(status == "NXDOMAIN", f"wildcard: a.b.wild.example NXDOMAIN (got {status})")
            status, _, answers = dig(port, "wild.example")
            check(status == "NOERROR" and any(UPSTREAM_ADDRESS in a for a in answers),
                  f"wildcard does not cover its own name: wild.example resolves (got {status} {answers})")
            status, _, _ = dig(port, "evil.example")
            check(status == "NXDOMAIN", f"subtree: evil.example NXDOMAIN (got {status})")
            status, _, _ = dig(port, "x.evil.example")
            check(status == "NXDOMAIN", f"subtree: x.evil.example NXDOMAIN (got {status})")
            status, _, answers = dig(port, "pass.evil.example")
            check(status == "NOERROR" and any(UPSTREAM_ADDRESS in a for a in answers),
                  f"passthru below a subtree block: pass.evil.example resolves (got {status} {answers})")
            status, _, answers = dig(port, "nodata.example")
            check(status == "NOERROR" and not answers, f"nodata: NOERROR, no answer (got {status} {answers})")
            status, _, answers = dig(port, "sink.example")
            check(any(a.endswith("A 192.0.2.1") for a in answers), f"sinkhole A (got {status} {answers})")
            status, _, answers = dig(port, "sink.example", "AAAA")
            check(any(a.endswith("AAAA 2001:db8::1") for a in answers),
                  f"sinkhole AAAA (got {status} {answers})")
            status, _, answers = dig(port, "redirect.example")
            check(any("CNAME walled.garden.test." in a for a in answers) and
                  any(a.startswith("walled.garden.test.") and UPSTREAM_ADDRESS in a for a in answers),
                  f"redirect: CNAME to walled.garden.test., then its address (got {status} {answers})")
            status, flags, _ = dig(port, "tcp.example")
            check("tc" in flags.split(), f"tcp-only: UDP answer truncated (got flags '{flags}')")
            status, _, _ = dig(port, "drop.example")
            check(status is None, f"drop: no answer (got {status})")
            status, _, answers = dig(port, "logged.example")
            check(status == "NOERROR" and any(UPSTREAM_ADDRESS in a for a in answers),
                  f"log rule exported as passthru: logged.example resolves (got {status} {answers})")
        finally:
            upstream.stop()
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print(f"{len(failures)} failure(s)" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
