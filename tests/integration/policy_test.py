"""Integration tests: policy beyond the query name. Address rules (RPZ's IP trigger): an
answer whose A or AAAA records (anywhere in its CNAME chain) fall in a listed prefix gets that
rule's verdict, on every query path: fresh, cached, cached before the rule arrived.
Name-server rules (RPZ's NSDNAME and NSIP triggers): names served by a listed name server.
Client groups. The real Unbound (2 threads) with the module, NSD upstream (harness.ZONE), dig
clients."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RPZ_HEADER = """$ORIGIN rpz.lab.
$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
"""

# 10.66.1.0/24 and fd66::/16 blocked (NXDOMAIN); 10.66.3.3 sinkholed to the rule's own
# address; c2ok.lab passed by a QNAME rule (QNAME beats IP).
ADDRESS_RPZ = RPZ_HEADER + """24.0.1.66.10.rpz-ip CNAME .
16.zz.fd66.rpz-ip CNAME .
32.3.3.66.10.rpz-ip A 192.0.2.99
c2ok.lab CNAME rpz-passthru.
"""
FEEDS = [
    (ADDRESS_RPZ, ["--format", "rpz", "--campaign", "LookAlike"]),
    ("nx.lab\n", ["--format", "domains", "--action", "nxdomain"]),
]


def hits_for(bed, qname):
    return bed.hits(lambda lines: any(line.get("qname") == qname for line in lines))


class AddressRuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = harness.Testbed(store_feeds=FEEDS)
        cls.bed.start()

    @classmethod
    def tearDownClass(cls):
        cls.bed.cleanup()

    def dig(self, *args, **kwargs):
        return self.bed.dig(*args, **kwargs)

    def test_never_listed_name_resolving_into_a_listed_prefix_is_blocked(self):
        for _ in range(3):  # the first answer and the ones after it: none comes from cache
            self.assertEqual(self.dig("c2.lab").status, "NXDOMAIN")
            self.assertEqual(self.dig("c2.lab", "AAAA").status, "NXDOMAIN")
            self.assertEqual(self.dig("c2v6.lab", "AAAA").status, "NXDOMAIN")
        self.assertEqual(self.dig("unlisted.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.dig("c2.lab", "MX").status, "NOERROR")  # no address in it
        lines = [line for line in hits_for(self.bed, "c2.lab") if line.get("qname") == "c2.lab"]
        self.assertTrue(lines)
        self.assertEqual((lines[0]["trigger"], lines[0]["rule"], lines[0]["action"],
                          lines[0]["campaign"]),
                         ("ip", "24.0.1.66.10.rpz-ip", "nxdomain", "LookAlike"))
        v6 = [line for line in hits_for(self.bed, "c2v6.lab") if line.get("qname") == "c2v6.lab"]
        self.assertEqual(v6[0]["rule"], "16.zz.fd66.rpz-ip")

    def test_cname_chain_into_a_listed_prefix(self):
        # As RPZ's IP trigger: the chain up to the name holding the address, then the verdict.
        for name in ("c2alias.lab", "c2deep.lab", "c2alias.lab"):
            answer = self.dig(name)
            self.assertEqual(answer.status, "NXDOMAIN", name)
            self.assertNotIn("10.66.1.1", answer.addresses(), name)
            self.assertIn(("c2alias.lab", "CNAME", "c2.lab"), answer.records, name)
        # The chain's end, asked directly after the chain was resolved: not from cache either.
        self.assertEqual(self.dig("c2.lab").status, "NXDOMAIN")

    def test_sinkhole_rule_answers_with_its_own_address(self):
        for _ in range(2):
            self.assertEqual(self.dig("c2sink.lab").addresses(), ["192.0.2.99"])

    def test_qname_rule_beats_the_address_rule(self):
        self.assertEqual(self.dig("c2ok.lab").addresses(), ["10.66.1.1"])

    def test_exempt_client_gets_the_real_answer(self):
        self.assertEqual(self.dig("c2.lab", source="127.0.0.2").addresses(), ["10.66.1.1"])
        self.assertEqual(self.dig("c2.lab").status, "NXDOMAIN")  # and it was not cached

    def test_answer_cached_before_the_rule_arrived(self):
        for name in ("c2later.lab", "c2later-alias.lab"):
            self.assertEqual(self.dig(name).addresses(), ["10.66.2.2"], name)
            self.assertEqual(self.dig(name).addresses(), ["10.66.2.2"], name)  # cached now
        try:
            self.bed.swap(FEEDS + [(RPZ_HEADER + "32.2.2.66.10.rpz-ip CNAME .\n",
                                    ["--format", "rpz"])])
            for name in ("c2later.lab", "c2later-alias.lab"):
                self.assertEqual(self.dig(name).status, "NXDOMAIN", name)
            self.assertIn("rrsets of listed names or addresses removed", self.bed.log())
        finally:
            self.bed.swap(FEEDS)
        for name in ("c2later.lab", "c2later-alias.lab"):
            self.assertEqual(self.dig(name).addresses(), ["10.66.2.2"], name)


# child.zz. is delegated (a stub-host) to the name server ns.slowns.zz, at 127.0.0.1; lab. is
# served by an address alone (stub-addr 127.0.0.1).
NS_NAME_RPZ = RPZ_HEADER + "ns.slowns.zz.rpz-nsdname CNAME .\n"
NS_ADDRESS_RPZ = RPZ_HEADER + """32.1.0.0.127.rpz-nsip CNAME .
ok.lab CNAME rpz-passthru.
"""


class NameServerRuleTest(unittest.TestCase):
    """A name served by a listed name server gets the rule's verdict: by the server's name
    (rpz-nsdname) or its address (rpz-nsip); fresh, from cache, and cached before the rule."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=[("placeholder.lab\n", [])], stub_host_zone=True)
        self.proxy = harness.SlowProxy(self.bed.slow_port, self.bed.nsd_port, delay=0.0)
        self.bed.start()

    def tearDown(self):
        self.proxy.stop()
        self.bed.cleanup()

    def dig(self, *args, **kwargs):
        return self.bed.dig(*args, **kwargs)

    def test_names_served_by_a_listed_name_server(self):
        # Cached before the rule arrives: the swap's sweep takes it out.
        # The first lookup resolves ns.slowns.zz through the relay first.
        self.assertEqual(self.dig("early.child.zz", timeout=5).addresses(), ["10.7.7.7"])
        self.assertEqual(self.dig("early.child.zz").addresses(), ["10.7.7.7"])
        self.bed.swap([(NS_NAME_RPZ, ["--format", "rpz", "--campaign", "BadHoster"])])
        self.assertIn("every message and CNAME/DNAME: the name-server rules changed", self.bed.log())
        for _ in range(3):  # none from cache
            for name in ("early.child.zz", "new.child.zz"):
                answer = self.dig(name)
                self.assertEqual((answer.status, answer.records), ("NXDOMAIN", []), name)
            self.assertEqual(self.dig("www.lab").addresses(), ["10.0.0.1"])  # not served by it
        # The exempt client gets the real answer, and it is not cached for the others.
        self.assertEqual(self.dig("other.child.zz", source="127.0.0.2").addresses(), ["10.7.7.7"])
        self.assertEqual(self.dig("other.child.zz").status, "NXDOMAIN")
        lines = [line for line in hits_for(self.bed, "new.child.zz")
                 if line.get("qname") == "new.child.zz"]
        self.assertTrue(lines)
        self.assertEqual((lines[0]["trigger"], lines[0]["rule"], lines[0]["action"],
                          lines[0]["campaign"]),
                         ("nsdname", "ns.slowns.zz.rpz-nsdname", "nxdomain", "BadHoster"))
        # The rule goes: served again.
        self.bed.swap([("placeholder.lab\n", [])])
        self.assertEqual(self.dig("new.child.zz").addresses(), ["10.7.7.7"])

    def test_names_served_from_a_listed_address(self):
        self.bed.swap([(NS_ADDRESS_RPZ, ["--format", "rpz"])])
        for _ in range(3):
            for name in ("www.lab", "a.child.zz"):
                answer = self.dig(name)
                self.assertEqual((answer.status, answer.records), ("NXDOMAIN", []), name)
            self.assertEqual(self.dig("ok.lab").addresses(), ["10.0.0.1"])  # QNAME beats NSIP
        lines = [line for line in hits_for(self.bed, "www.lab") if line.get("qname") == "www.lab"]
        self.assertEqual((lines[0]["trigger"], lines[0]["rule"]), ("nsip", "32.1.0.0.127.rpz-nsip"))


class ClientGroupTest(unittest.TestCase):
    """Three policies, one resolver: ungrouped clients (127.0.0.1) get malware blocked only;
    the kids group (127.0.0.4) blocks the adult category too; the pilot group (127.0.0.3) is
    only monitored. Answers that differ per client are never shared through the cache."""

    GROUPS = [
        "client-group: kids 127.0.0.4",
        "client-group: pilot 127.0.0.3/32",
        "group-mode: pilot monitor",
        "group-categories: default malware",
        "group-categories: kids malware adult",
    ]
    FEEDS = [
        ("malware.lab\n", ["--action", "nxdomain", "--category", "malware"]),
        ("adult.lab\n", ["--action", "nxdomain", "--category", "Adult"]),
        (RPZ_HEADER + "32.1.1.66.10.rpz-ip CNAME .\n", ["--format", "rpz", "--category", "malware"]),
    ]

    @classmethod
    def setUpClass(cls):
        cls.bed = harness.Testbed(store_feeds=cls.FEEDS, config_lines=cls.GROUPS)
        cls.bed.start()

    @classmethod
    def tearDownClass(cls):
        cls.bed.cleanup()

    def answer(self, name, source):
        answer = self.bed.dig(name, source=source)
        return answer.status if answer.status != "NOERROR" else ",".join(answer.addresses())

    def test_each_group_gets_its_own_answer_in_any_order(self):
        expected = {
            ("adult.lab", "127.0.0.1"): "10.0.0.1",
            ("adult.lab", "127.0.0.4"): "NXDOMAIN",
            ("adult.lab", "127.0.0.3"): "10.0.0.1",
            ("malware.lab", "127.0.0.1"): "NXDOMAIN",
            ("malware.lab", "127.0.0.4"): "NXDOMAIN",
            ("malware.lab", "127.0.0.3"): "10.0.0.1",
            ("c2.lab", "127.0.0.1"): "NXDOMAIN",
            ("c2.lab", "127.0.0.3"): "10.66.1.1",
        }
        # Twice, in two orders: whoever asks first, the cache shares nothing between groups.
        for order in (sorted(expected), sorted(expected, key=lambda key: key[1], reverse=True)):
            for name, source in order:
                self.assertEqual(self.answer(name, source), expected[(name, source)],
                                 (name, source))

    def test_hit_lines_say_what_each_group_got(self):
        self.answer("malware.lab", "127.0.0.3")
        self.answer("adult.lab", "127.0.0.1")
        lines = self.bed.hits(lambda lines: any(line.get("client") == "127.0.0.3" and
                                                line.get("qname") == "malware.lab"
                                                for line in lines))
        pilot = [line for line in lines
                 if line.get("client") == "127.0.0.3" and line.get("qname") == "malware.lab"]
        self.assertTrue(pilot)
        self.assertEqual((pilot[0]["action"], pilot[0]["rule_action"], pilot[0]["note"]),
                         ("log", "nxdomain", "monitor-group"))
        # The adult rule is not the default group's business: no line for its clients.
        self.assertFalse([line for line in lines
                          if line.get("client") == "127.0.0.1" and line.get("qname") == "adult.lab"])


if __name__ == "__main__":
    harness.run_tests()
