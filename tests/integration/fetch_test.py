"""Feeds that arrive by zone transfer and HTTPS, from real servers on loopback: Knot DNS as
an RPZ primary with TSIG (AXFR, then IXFR after a serial bump), and a Python HTTPS server with
a self-signed certificate (ETag and 304, a 500, a truncated body, an HTML page, a shrunk
list). A feed that fails is compiled from its last good copy: exit status 3, a warning that
names it. Run by CTest (tests/integration/integration.cmake) with DNSVERDICT_CLI set."""

import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CLI = os.environ.get("DNSVERDICT_CLI", "dnsverdict")
SECRET = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KNOTC = shutil.which("knotc") or "/usr/sbin/knotc"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Folder(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="dnsverdict-fetch-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.store = os.path.join(self.dir, "verdicts.mdb")

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as out:
            out.write(text)
        return self.path(name)

    def compile(self, *extra):
        return subprocess.run([CLI, "compile", "--manifest", self.path("feeds.manifest"),
                               "-o", self.store, *extra], capture_output=True, text=True,
                              timeout=60)

    def matches(self, name):
        result = subprocess.run([CLI, "lookup", "--json", self.store, name],
                                capture_output=True, text=True, timeout=30)
        return '"match":true' in result.stdout


ZONE = """$ORIGIN rpz.example.
$TTL 300
@ SOA ns.rpz.example. hostmaster.rpz.example. {serial} 3600 600 86400 300
  NS ns.rpz.example.
{records}
"""


class ZoneTransferTest(Folder):
    """Knot DNS 3 serves the RPZ with TSIG; the compiled store follows AXFR, then IXFR."""

    def setUp(self):
        super().setUp()
        if not os.path.exists(KNOTD) or not shutil.which("kdig"):
            self.skipTest("knotd or kdig missing (apt-get install knot knot-dnsutils)")
        self.port = free_port()
        os.makedirs(self.path("db"))
        self.write("rpz.example.zone", ZONE.format(
            serial=1, records="bad.test CNAME .\nworse.test CNAME .\nkeep.test CNAME rpz-drop."))
        self.write("knot.conf", f"""server:
    listen: 127.0.0.1@{self.port}
    rundir: {self.dir}
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: {SECRET}
acl:
  - id: xfr
    key: xfr-key
    action: transfer
template:
  - id: default
    storage: {self.dir}
    journal-content: all
    zonefile-load: difference
database:
    storage: {self.path("db")}
zone:
  - domain: rpz.example
    file: rpz.example.zone
    acl: xfr
log:
  - target: stderr
    any: info
""")
        self.log = open(self.path("knotd.log"), "w")
        self.knot = subprocess.Popen([KNOTD, "-c", self.path("knot.conf")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_knot)
        # Knot can take seconds to start on a loaded machine (CTest runs tests side by side).
        self.assertTrue(harness.wait_for(lambda: "SOA" in self.kdig("SOA").stdout, 30),
                        "knotd did not answer in 30 s:\n" + self.knot_log())
        self.write("xfr.secret", SECRET + "\n")
        self.write("feeds.manifest", f"""[feed rpz.example]
primary = 127.0.0.1@{self.port}
tsig = xfr-key:hmac-sha256:xfr.secret
timeout = 5
format = rpz
""")

    def knot_log(self):
        with open(self.path("knotd.log")) as log:
            return log.read()

    def stop_knot(self):
        if self.knot.poll() is None:
            self.knot.terminate()
            self.knot.wait(10)
        self.log.close()

    def kdig(self, *query):
        return subprocess.run(["kdig", "@127.0.0.1", "-p", str(self.port), "-y",
                               f"hmac-sha256:xfr-key:{SECRET}", "rpz.example", *query],
                              capture_output=True, text=True, timeout=10)

    def test_axfr_then_ixfr_after_a_serial_bump(self):
        result = self.compile()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("rpz.example. from 127.0.0.1@%d (rpz), 3 entries read (new)" % self.port,
                      result.stderr)
        self.assertIn("    AXFR, serial 1\n", result.stderr)
        self.assertTrue(self.matches("worse.test"))

        self.write("rpz.example.zone", ZONE.format(
            serial=2, records="bad.test CNAME .\nkeep.test CNAME rpz-drop.\nnew.test CNAME ."))
        subprocess.run([KNOTC, "-c", self.path("knot.conf"), "zone-reload", "rpz.example"],
                       check=True, capture_output=True, timeout=10)
        self.assertTrue(
            harness.wait_for(lambda: " 2 3600 " in self.kdig("SOA", "+short").stdout, 30),
            "knotd did not load serial 2 in 30 s:\n" + self.knot_log())
        # The primary really answers incrementally: new SOA, old SOA, deletions, ...
        ixfr = [line for line in self.kdig("IXFR=1").stdout.splitlines()
                if line and not line.startswith(";;") and "TSIG" not in line]
        self.assertIn(" 1 3600 ", ixfr[1], ixfr)
        self.assertIn("worse.test", "\n".join(ixfr))

        result = self.compile()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("3 entries read (unchanged)", result.stderr)
        self.assertIn("    IXFR, serial 2\n", result.stderr)
        self.assertTrue(harness.wait_for(lambda: "IXFR, outgoing" in self.knot_log(), 30),
                        self.knot_log())  # knotd logs the transfer as it ends
        self.assertTrue(self.matches("new.test"))
        self.assertFalse(self.matches("worse.test"))
        self.assertTrue(self.matches("keep.test"))

        result = self.compile()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("    unchanged, serial 2\n", result.stderr)

        info = subprocess.run([CLI, "info", self.store], capture_output=True, text=True)
        self.assertIn("serial 2", info.stdout)

        # A wrong key, then a primary that is gone: the last good copy, loudly.
        self.write("xfr.secret", "d3JvbmcgIHdyb25nICB3cm9uZyAgd3Jvbmcgd3Jvbmc=\n")
        result = self.compile()
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("compiled from its last good copy", result.stderr)
        self.stop_knot()
        self.write("xfr.secret", SECRET + "\n")
        result = self.compile()
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("warning: rpz.example. from 127.0.0.1@%d: " % self.port, result.stderr)
        self.assertIn("but 1 of 1 feeds from their last good copy: rpz.example.", result.stderr)
        self.assertTrue(self.matches("new.test"))


LIST = "".join(f"host{i}.evil.example\n" for i in range(8))


class FeedServer(http.server.BaseHTTPRequestHandler):
    mode = "list"
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        FeedServer.requests.append((self.path, self.headers.get("If-None-Match")))
        mode = FeedServer.mode
        if mode == "list" and self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()
            return
        if mode == "error":
            body, status = b"oops\n", 500
        elif mode == "html":
            body, status = b"<!DOCTYPE html><html><head><title>Maintenance</title></head></html>", 200
        elif mode == "short":
            body, status = b"host0.evil.example\n", 200
        else:
            body, status = LIST.encode(), 200
        self.send_response(status)
        self.send_header("ETag", '"%s"' % ("v1" if mode == "list" else mode))
        length = len(body) * 4 if mode == "truncated" else len(body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        if mode == "truncated":
            self.close_connection = True


class HttpsTest(Folder):
    """A list over HTTPS: fetched with its ETag, not downloaded again when unchanged, and
    every kind of failure compiled from the last good copy."""

    def setUp(self):
        super().setUp()
        if not shutil.which("openssl"):
            self.skipTest("openssl missing")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", self.path("key.pem"), "-out", self.path("cert.pem")],
                       check=True, capture_output=True, timeout=60)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.path("cert.pem"), self.path("key.pem"))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FeedServer)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(self.server.shutdown)
        FeedServer.mode, FeedServer.requests = "list", []
        self.url = "https://127.0.0.1:%d/list.txt" % self.server.server_address[1]
        self.write("local.txt", "local.example\n")
        self.write("feeds.manifest", f"""[feed list]
url = {self.url}
ca-file = cert.pem
timeout = 5
format = domains

[feed local.txt]
""")

    def expect_last_good_copy(self, mode, reason):
        FeedServer.mode = mode
        result = self.compile()
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn(f"warning: {self.url}: {reason}", result.stderr)
        self.assertIn("compiled from its last good copy of", result.stderr)
        self.assertIn("(8 entries) instead", result.stderr)
        self.assertIn(f"published {self.store}, but 1 of 2 feeds from their last good copy: "
                      f"{self.url}", result.stderr)
        self.assertTrue(self.matches("host7.evil.example"))

    def test_fetch_with_etag_and_every_failure(self):
        result = self.compile()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(f"source 1: {self.url} (domains), 8 entries read (new)", result.stderr)
        self.assertIn('    fetched, etag "v1"\n', result.stderr)
        self.assertTrue(self.matches("host3.evil.example"))

        result = self.compile()
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(FeedServer.requests[-1], ("/list.txt", '"v1"'))
        self.assertIn('8 entries read (unchanged)', result.stderr)
        self.assertIn('    unchanged, etag "v1"\n', result.stderr)

        self.expect_last_good_copy("error", "HTTP status 500")
        self.expect_last_good_copy("truncated", "transfer closed with")
        self.expect_last_good_copy("html", 'an HTML page ("Maintenance"), not a feed')
        self.expect_last_good_copy(
            "short", "1 entries, fewer than 50% of the 8 of its last good copy")

        info = subprocess.run([CLI, "info", self.store], capture_output=True, text=True)
        self.assertIn("last good copy: %s: 1 entries" % self.url, info.stdout)

        # --force takes the feed as it is now.
        result = self.compile("--force")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(self.matches("host7.evil.example"))

    def test_a_failed_fetch_without_a_last_good_copy_publishes_nothing(self):
        FeedServer.mode = "error"
        result = self.compile()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"dnsverdict compile: {self.url}: HTTP status 500", result.stderr)
        self.assertFalse(os.path.exists(self.store))

    def test_an_untrusted_certificate_fails(self):
        self.write("feeds.manifest", f"[feed list]\nurl = {self.url}\ntimeout = 5\n")
        result = self.compile()
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn(f"dnsverdict compile: {self.url}: SSL certificate problem", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
