"""Do no harm: the resolver survives what operators do around the module, and no answer
changes that should not. The real Unbound (2 threads) with the module, NSD upstream, dig.
Run by CTest (tests/integration/integration.cmake); see harness.py for the environment."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

EXEMPT = "127.0.0.2"  # the harness's exempt client


class ReloadConfigTest(harness.BedTestCase):
    """A broken dnsverdict.conf on reload keeps the previous configuration: Unbound stays up
    and keeps blocking; a fixed file applies at the next reload."""

    bed_options = dict(store_feeds=[("first.lab\n", ["--action", "sinkhole"])],
                       remote_control=True)

    def write_config(self, extra):
        with open(self.bed.module_conf, "w") as out:
            out.write(self.bed.module_config_text() + extra)

    def reload(self):
        result = self.bed.reload()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIsNone(self.bed.unbound.poll(), self.bed.log()[-3000:])

    def test_typo_on_reload_keeps_previous_configuration(self):
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["0.0.0.0"])
        self.write_config("sinkhole-ipv4: 192.0.2.1\nstor: typo\n")
        self.reload()
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["0.0.0.0"])  # previous config
        log = self.bed.log()
        self.assertIn("dnsverdict.conf:%d: stor: unknown key" % (
            len(self.bed.module_config_text().splitlines()) + 2), log)
        self.assertIn("RELOAD KEEPS THE PREVIOUS CONFIGURATION", log)
        self.write_config("sinkhole-ipv4: 192.0.2.1\n")
        self.reload()
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["192.0.2.1"])

    def test_unreadable_config_on_reload_keeps_previous_configuration(self):
        os.rename(self.bed.module_conf, self.bed.module_conf + ".moved")
        self.reload()
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["0.0.0.0"])
        self.assertIn("cannot read", self.bed.log())


class StartRefusalTest(unittest.TestCase):
    """At first start a bad configuration or an unsupported module chain refuses to start,
    with one clear line."""

    def start_expecting_exit(self, bed):
        try:
            with self.assertRaises(RuntimeError):
                bed.start()
            return bed.log()
        finally:
            bed.cleanup()

    def test_bad_config_refuses_with_file_line_key(self):
        bed = harness.Testbed(config_lines=["answer-ttl: forever"])
        log = self.start_expecting_exit(bed)
        self.assertRegex(log, r"dnsverdict\.conf:\d+: answer-ttl: expected 0 to 604800 seconds")

    def test_dns64_before_dynlib_refuses(self):
        bed = harness.Testbed(module_config="dns64 dynlib validator iterator",
                              server_lines=["dns64-prefix: 64:ff9b::/96"])
        log = self.start_expecting_exit(bed)
        self.assertIn("dynlib must come first", log)
        self.assertIn('supported: "dynlib iterator"', log)

    def test_other_module_after_dynlib_refuses(self):
        bed = harness.Testbed(module_config="dynlib respip validator iterator")
        log = self.start_expecting_exit(bed)
        self.assertIn("module respip is not supported", log)


DNS64_FEEDS = [
    ("nodata.v4.lab\nnodata2.v4.lab\n", ["--action", "nodata"]),
    ("evil4.v4.lab\nex.v4.lab\n", ["--action", "nxdomain"]),
    ("tcp.v4.lab\n", ["--action", "tcp-only"]),
]


class Dns64Test(harness.BedTestCase):
    """dns64 after the module (`dynlib dns64 validator iterator`): dns64 stores what passes
    through it in the cache and makes its own A lookups; listed names still never come back
    from the cache. Names under v4.lab have A records only, so dns64 synthesizes AAAA."""

    bed_options = dict(store_feeds=DNS64_FEEDS,
                       module_config="dynlib dns64 validator iterator",
                       server_lines=["dns64-prefix: 64:ff9b::/96"])

    def dig(self, *args, **kwargs):
        return self.bed.dig(*args, **kwargs)

    def test_unlisted_names_are_synthesized(self):
        self.assertEqual(self.dig("fine.v4.lab", "AAAA").addresses("AAAA"), ["64:ff9b::a00:5"])
        self.assertEqual(self.dig("fine.v4.lab").addresses(), ["10.0.0.5"])

    def test_nodata_name_is_not_synthesized_nor_cached(self):
        for _ in range(2):
            for rtype in ("AAAA", "A"):
                answer = self.dig("nodata.v4.lab", rtype)
                self.assertEqual((answer.status, answer.records), ("NOERROR", []), rtype)

    def test_exempt_answer_never_reaches_blocked_clients(self):
        # The exempt client's AAAA makes dns64 look the real A up, and dns64 caches it.
        self.assertEqual(self.dig("nodata2.v4.lab", "AAAA", source=EXEMPT).addresses("AAAA"),
                         ["64:ff9b::a00:5"])
        self.assertEqual(self.dig("ex.v4.lab", "AAAA", source=EXEMPT).addresses("AAAA"),
                         ["64:ff9b::a00:5"])
        self.assertEqual(self.dig("ex.v4.lab", source=EXEMPT).addresses(), ["10.0.0.5"])
        for _ in range(2):
            answer = self.dig("nodata2.v4.lab")
            self.assertEqual((answer.status, answer.records), ("NOERROR", []))
            answer = self.dig("nodata2.v4.lab", "AAAA")
            self.assertEqual((answer.status, answer.records), ("NOERROR", []))
            self.assertEqual(self.dig("ex.v4.lab").status, "NXDOMAIN")
            self.assertEqual(self.dig("ex.v4.lab", "AAAA").status, "NXDOMAIN")

    def test_cname_chain_to_listed_name_stays_blocked(self):
        for _ in range(2):  # alias4.lab CNAME evil4.v4.lab
            self.assertEqual(self.dig("alias4.lab").status, "NXDOMAIN")
            self.assertEqual(self.dig("alias4.lab", "AAAA").status, "NXDOMAIN")
        self.assertEqual(self.dig("evil4.v4.lab").status, "NXDOMAIN")

    def test_tcp_only_answer_does_not_reach_udp_from_cache(self):
        for rtype in ("A", "AAAA"):
            self.assertTrue(self.dig("tcp.v4.lab", rtype, tcp=True).records, rtype)
        for rtype in ("A", "AAAA"):
            answer = self.dig("tcp.v4.lab", rtype)
            self.assertIn("tc", answer.flags, rtype)
            self.assertEqual(answer.records, [], rtype)


class SuperQueriesTest(harness.BedTestCase):
    """Queries that other queries wait for see the real answer, whoever joins them. Here: an
    exempt client's AAAA for host.slowns.zz (A record only, listed `nodata`) makes dns64 look
    the A up; that lookup starts at dns64 and is slow (a SlowProxy before NSD). A blocked
    client asking for the A meanwhile joins it: the blocked client must get its NODATA, and
    dns64 the real A to synthesize the exempt client's AAAA from."""

    bed_options = dict(store_feeds=[("host.slowns.zz\n", ["--action", "nodata"])],
                       stub_host_zone=True, module_config="dynlib dns64 validator iterator",
                       server_lines=["num-threads: 1", "dns64-prefix: 64:ff9b::/96"])

    def setUp(self):
        self.bed = harness.Testbed(**self.bed_options)
        # Below Unbound's first timeout for a server it has not measured yet (376 ms).
        self.proxy = harness.SlowProxy(self.bed.slow_port, self.bed.nsd_port, delay=0.3)
        self.bed.start()

    def tearDown(self):
        self.proxy.stop()
        self.bed.cleanup()

    def test_joined_blocked_client_does_not_change_what_supers_see(self):
        self.assertEqual(self.bed.dig("warm.slowns.zz").status, "NXDOMAIN")  # learns the delay
        results = {}

        def exempt_client():
            results["exempt"] = self.bed.dig("host.slowns.zz", "AAAA", source=EXEMPT, timeout=6)

        resolving = threading.Thread(target=exempt_client)
        resolving.start()
        # The blocked client asks every 20 ms while the exempt client's query resolves: the
        # asks that take more than 100 ms were waiting in a lookup that was under way.
        blocked = []
        deadline = time.time() + 3
        while resolving.is_alive() and time.time() < deadline:
            started = time.time()
            rcode, count = harness.raw_exchange(self.bed.port, "host.slowns.zz", timeout=3)
            blocked.append((rcode, count, time.time() - started))
            time.sleep(0.02)
        resolving.join(10)
        joined = [answer for answer in blocked if answer[2] > 0.1]
        print("blocked client: %d answers, %d joined a lookup" % (len(blocked), len(joined)),
              file=sys.stderr)
        self.assertTrue(joined, "the blocked client never joined dns64's lookup: %s" % blocked)
        self.assertEqual({(rcode, count) for rcode, count, _ in blocked}, {("NOERROR", 0)})
        self.assertEqual(results["exempt"].addresses("AAAA"), ["64:ff9b::a00:8"],
                         results["exempt"].text)
        answer = self.bed.dig("host.slowns.zz")  # and nothing real was cached for it
        self.assertEqual((answer.status, answer.records), ("NOERROR", []), answer.text)


class StoreRewrittenInPlaceTest(harness.BedTestCase):
    """`cp new.mdb verdicts.mdb` truncates the mapped file: reads of it fault (SIGBUS). The
    resolver stays up, answers as if nothing were listed meanwhile, and takes the rewritten
    file once it is complete."""

    bed_options = dict(store_feeds=[("first.lab\n", [])])

    def test_truncated_then_rewritten_store(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        fresh = os.path.join(self.bed.dir, "fresh.mdb")
        harness.compile_store(fresh, [("second.lab\n", [])])
        with open(self.bed.store, "r+b") as store:
            store.truncate(0)
        for i in range(50):  # every worker looks names up in the truncated store
            self.assertIsNotNone(harness.raw_query(self.bed.port, "x%d.first.lab" % i, timeout=5),
                                 self.bed.log()[-2000:])
        self.assertIsNone(self.bed.unbound.poll(), self.bed.log()[-2000:])
        shutil.copyfile(fresh, self.bed.store)  # in place, as cp does
        deadline = time.time() + 15
        while time.time() < deadline and self.bed.dig("second.lab").status != "NXDOMAIN":
            time.sleep(0.1)
        self.assertEqual(self.bed.dig("second.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["10.0.0.1"])
        self.assertIsNone(self.bed.unbound.poll())
        self.assertIn("rewritten in place", self.bed.log())


class QueryClassTest(harness.BedTestCase):
    """Verdicts apply to class IN and to class ANY (which would otherwise ask around them);
    synthesized records are always class IN. CHAOS and HESIOD hold no Internet data: they
    pass, and never get a synthesized record."""

    bed_options = dict(store_feeds=[("sink.lab\n", ["--action", "sinkhole"]),
                                    ("nx.lab\n", ["--action", "nxdomain"])])

    def test_class_any_is_blocked_with_class_in_records(self):
        answer = self.bed.dig("sink.lab", options=["-c", "ANY"])
        self.assertIn("sink.lab.\t\t60\tIN\tA\t0.0.0.0", answer.text)
        self.assertEqual(self.bed.dig("nx.lab", options=["-c", "ANY"]).status, "NXDOMAIN")

    def test_chaos_gets_no_synthesized_records(self):
        for name in ("sink.lab", "nx.lab"):
            answer = self.bed.dig(name, options=["-c", "CH"], timeout=3)
            self.assertNotIn("0.0.0.0", answer.text, answer.text)
            self.assertNotIn("\tCH\tA\t", answer.text, answer.text)
        self.assertEqual(self.bed.dig("sink.lab").addresses(), ["0.0.0.0"])
        self.assertIsNone(self.bed.unbound.poll())


class ListedNameServerHostTest(unittest.TestCase):
    """A listed name that is also a name server's host: clients asking for it get its verdict,
    and the zones it serves still resolve. The iterator looks a name server's address up in
    sub-queries that start at the iterator (never at this module) and read the message cache
    first: whatever a client got for the listed name must not be there for them. No exempt
    client here, so that nothing depends on the client."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=[("ns.slowns.zz\n", [])], exempt=False,
                                   stub_host_zone=True)
        self.proxy = harness.SlowProxy(self.bed.slow_port, self.bed.nsd_port, delay=0.0)
        self.bed.start()

    def tearDown(self):
        self.proxy.stop()
        self.bed.cleanup()

    def test_zone_of_a_listed_name_server_host_resolves(self):
        # child.zz. is delegated to ns.slowns.zz, known by name only.
        for _ in range(2):
            self.assertEqual(self.bed.dig("ns.slowns.zz").status, "NXDOMAIN")
        for name in ("www.child.zz", "www.child.zz", "other.child.zz"):
            self.assertEqual(self.bed.dig(name).addresses(), ["10.7.7.7"], name)
        self.assertEqual(self.bed.dig("ns.slowns.zz").status, "NXDOMAIN")


class LearnedNameServerHostTest(unittest.TestCase):
    """A listed name that is the host of a delegation the iterator learns from a referral
    (ref.zz. delegates child.ref.zz. to ns.hosts.zz, which nothing else names): clients get
    its blocked answer, and child.ref.zz. still resolves. Blocked answers are cached here (no
    exempt client), and the iterator takes an answer without addresses from the message
    cache as "this host has none": a blocked answer must never be there for a host."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=[("placeholder.lab\n", [])], exempt=False,
                                   referral_zone=True, remote_control=True)
        self.bed.start()

    def tearDown(self):
        self.bed.cleanup()

    def assert_blocked_twice(self, name, cached):
        """`name` blocked twice; the second answer from the cache or not, as `cached` says."""
        self.assertEqual(self.bed.dig(name).status, "NXDOMAIN")
        before = self.bed.cache_hits()
        self.assertEqual(self.bed.dig(name).status, "NXDOMAIN")
        self.assertEqual(self.bed.cache_hits() > before, cached, name)

    def test_host_learned_from_a_referral(self):
        self.bed.swap([("ns.hosts.zz\nother.lab\n", [])])
        time.sleep(2.5)  # past the follow-up sweep: blocked answers are cached again
        self.assert_blocked_twice("other.lab", cached=True)
        self.assert_blocked_twice("ns.hosts.zz", cached=True)  # not known as a host yet
        for name in ("www.child.ref.zz", "www.child.ref.zz", "more.child.ref.zz"):
            self.assertEqual(self.bed.dig(name).addresses(), [harness.ChildServer.ADDRESS], name)
        self.assert_blocked_twice("ns.hosts.zz", cached=False)  # a host now: never cached
        self.assertEqual(self.bed.dig("last.child.ref.zz").addresses(),
                         [harness.ChildServer.ADDRESS])

    def test_delegation_cached_before_the_rule(self):
        # The delegation and its host's address are cached, then a store lists the host: the
        # swap's sweep finds the host in the cached delegation.
        self.assertEqual(self.bed.dig("www.child.ref.zz").addresses(),
                         [harness.ChildServer.ADDRESS])
        self.bed.swap([("ns.hosts.zz\n", [])])
        time.sleep(2.5)
        self.assert_blocked_twice("ns.hosts.zz", cached=False)
        self.assertEqual(self.bed.dig("other.child.ref.zz").addresses(),
                         [harness.ChildServer.ADDRESS])


if __name__ == "__main__":
    harness.run_tests()
