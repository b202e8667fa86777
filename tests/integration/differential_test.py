"""Differential test: the same RPZ zone loaded by Unbound's native `rpz:` (module-config
"respip validator iterator") and compiled for dnsverdict ("dynlib validator iterator"), both
resolving through the same NSD upstream (harness.ZONE), answer a generated query set
identically: the same rcode and the same answer section (owner, type, data; TTLs aside).
Every deliberate difference is in DIFFERENCES below and in docs/module.md ("Compared with
Unbound's native RPZ")."""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ZONE = """$ORIGIN rpz.lab.
$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
nx.lab CNAME .
*.nx.lab CNAME .
exactonly.lab CNAME .
*.wildonly.lab CNAME .
nodata.lab CNAME *.
*.nodata.lab CNAME *.
pass.nx.lab CNAME rpz-passthru.
sink.lab A 192.0.2.66
sink.lab AAAA 2001:db8::66
redirect.lab CNAME walled.lab.
evil-chain.lab CNAME .
24.0.1.66.10.rpz-ip CNAME .
32.3.3.66.10.rpz-ip A 192.0.2.99
16.zz.fd66.rpz-ip CNAME .
c2ok.lab CNAME rpz-passthru.
ns.slowns.zz.rpz-nsdname CNAME .
"""

# Names asked, each for every type in TYPES: the rules' owners, names below and beside them,
# CNAME chains into listed names and addresses, and names no rule lists.
NAMES = [
    "nx.lab", "www.nx.lab", "a.b.nx.lab", "pass.nx.lab", "www.pass.nx.lab",
    "exactonly.lab", "www.exactonly.lab", "wildonly.lab", "www.wildonly.lab",
    "nodata.lab", "x.nodata.lab", "sink.lab", "www.sink.lab", "redirect.lab",
    "alias.lab", "evil-chain.lab",
    "c2.lab", "c2alias.lab", "c2deep.lab", "c2ok.lab", "c2sink.lab", "c2v6.lab",
    "unlisted.lab", "www.unlisted.lab", "walled.lab", "anx.lab",
    "a.child.zz", "www.child.zz",  # served by the listed name server ns.slowns.zz
]
TYPES = ["A", "AAAA", "MX", "TXT"]

# Names whose answers differ on purpose -> why (docs/module.md lists the same). The test
# also checks that each still differs (a difference that went away leaves this list), except
# those in CHANGED_SINCE, where native RPZ itself differs between Unbound versions.
DIFFERENCES = {
    # RPZ: an exact rule matches the name only, so *.nx.lab applies below pass.nx.lab.
    # Unbound's rpz: lets the passthru of pass.nx.lab cover its subtree too.
    "www.pass.nx.lab": "subtree of an exact passthru name",
    # A listed name inside a CNAME chain: dnsverdict applies its rule for every type, fresh
    # and from cache, also where the listed name has no records of the type asked. Unbound
    # 1.17.1's rpz: applies it while resolving the chain for the first type asked, then
    # serves the chain from its cache unchanged; 1.22.0 and 1.26.0 agree with dnsverdict.
    "alias.lab": "listed name inside a CNAME chain, cached",
    # RPZ: a QNAME rule (here rpz-passthru) comes before an IP rule. Unbound's rpz: honours
    # the passthru while resolving, but applies the IP rule to the answer from its cache.
    "c2ok.lab": "passthru name whose address is listed, cached",
}
# Unbound 1.17.1 and 1.22.0 answer c2ok.lab from cache as above; 1.26.0 agrees with dnsverdict.
# alias.lab differs on 1.17.1 only.
CHANGED_SINCE = {"c2ok.lab", "alias.lab"}


def ask(port, name, rtype):
    """(rcode, sorted answer records without TTL) as dig prints them."""
    # Two tries of 4 s: an answer lost or late on a loaded machine is no difference.
    result = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), name, rtype, "+tries=2",
                             "+time=4", "+noall", "+comments", "+answer", "+nocookie"],
                            capture_output=True, text=True, timeout=15)
    match = re.search(r"status: (\w+)", result.stdout)
    rcode = match.group(1) if match else "TIMEOUT"
    records = []
    for line in result.stdout.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        fields = line.split()
        records.append((fields[0].lower(), fields[3], " ".join(fields[4:]).lower()))
    return rcode, sorted(records)


class DifferentialTest(unittest.TestCase):
    exempt = True  # the harness's exempt client is configured: no blocked answer is cached

    @classmethod
    def setUpClass(cls):
        cls.bed = harness.Testbed(store_feeds=[(ZONE, ["--format", "rpz"])], stub_host_zone=True,
                                  exempt=cls.exempt)
        cls.proxy = harness.SlowProxy(cls.bed.slow_port, cls.bed.nsd_port, delay=0.0)
        cls.bed.start()
        cls.native = None
        try:
            cls.native_port = harness.free_port()
            zone = os.path.join(cls.bed.dir, "native.rpz")
            with open(zone, "w") as out:
                out.write(ZONE)
            conf = open(cls.bed.write_unbound_conf()).read()
            conf = conf.replace("port: %d" % cls.bed.port, "port: %d" % cls.native_port)
            conf = conf.replace('module-config: "dynlib validator iterator"',
                                'module-config: "respip validator iterator"')
            conf = conf.replace("unbound.pid", "native.pid")
            conf = re.sub(r"dynlib:\n  dynlib-file: \"[^\"]*\"\n", "", conf)
            conf += 'rpz:\n  name: "rpz.lab."\n  zonefile: "%s"\n' % zone
            native_conf = os.path.join(cls.bed.dir, "native.conf")
            with open(native_conf, "w") as out:
                out.write(conf)
            cls.native = harness.start_process([harness.UNBOUND, "-d", "-c", native_conf],
                                               os.path.join(cls.bed.dir, "native.out"))
            deadline = time.time() + 15
            while time.time() < deadline and cls.native.poll() is None:
                if harness.raw_query(cls.native_port, "ns.lab", timeout=0.3) is not None:
                    break
            if cls.native.poll() is not None:
                raise RuntimeError("native Unbound exited:\n" +
                                   open(os.path.join(cls.bed.dir, "native.out")).read())
        except BaseException:
            harness.stop_process(cls.native)
            cls.proxy.stop()
            cls.bed.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        harness.stop_process(cls.native)
        cls.proxy.stop()
        cls.bed.cleanup()

    def test_same_answers_as_native_rpz(self):
        mismatches = []
        differing = set()
        compared = 0
        # Twice: the first round resolves, the second comes from each resolver's cache.
        for round_ in ("fresh", "cached"):
            for name in NAMES:
                for rtype in TYPES:
                    ours = ask(self.bed.port, name, rtype)
                    native = ask(self.native_port, name, rtype)
                    compared += 1
                    if ours != native:
                        differing.add(name)
                    if ours != native and name not in DIFFERENCES:
                        mismatches.append("%s %s %s:\n  dnsverdict %s\n  native     %s"
                                          % (round_, name, rtype, ours, native))
        print("%d queries compared, %d differ unexpectedly, %d names differ on purpose"
              % (compared, len(mismatches), len(DIFFERENCES)))
        self.assertEqual(mismatches, [], "\n".join(mismatches))
        # The agreement on the name-server rule is an agreement to block.
        self.assertEqual(ask(self.native_port, "a.child.zz", "A"), ("NXDOMAIN", []))
        self.assertEqual(sorted(set(DIFFERENCES) - differing - CHANGED_SINCE), [],
                         "listed differences that no longer differ")


class DifferentialCachedBlockedAnswersTest(DifferentialTest):
    """The same without exempt clients: blocked NXDOMAIN and NODATA answers come from
    Unbound's message cache in the second round, and the iterator meets them in CNAME chains
    and as the address of the listed name server ns.slowns.zz."""

    exempt = False


if __name__ == "__main__":
    harness.run_tests()
