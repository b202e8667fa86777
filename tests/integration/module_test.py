"""Integration tests: the real Unbound (2 threads) with the module, NSD upstream, dig clients.
Run by CTest (tests/integration/integration.cmake); see harness.py for the environment."""

import os
import random
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RPZ = """$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
redirect.lab CNAME walled.lab.
ownsink.lab A 192.0.2.66
"""

FEEDS = [
    ("nx.lab\nevil-chain.lab\n", ["--action", "nxdomain", "--campaign", "LookAlike"]),
    ("nodata.lab\n", ["--action", "nodata"]),
    ("refuse.lab\n", ["--action", "refuse"]),
    ("drop.lab\n", ["--action", "drop"]),
    ("sink.lab\n", ["--action", "sinkhole"]),
    ("logged.lab\n", ["--action", "log"]),
    ("tagged.lab\n", ["--action", "tag"]),
    ("tcponly.lab\n", ["--action", "tcp-only"]),
    ("low.lab\n", ["--action", "nxdomain", "--confidence", "40"]),
    ("mid.lab\n", ["--action", "nxdomain", "--confidence", "60"]),
    ("high.lab\n", ["--action", "nxdomain", "--confidence", "90"]),
    ("exempted.lab\nconcurrent.lab\n", ["--action", "nxdomain"]),
    (RPZ, ["--format", "rpz", "--campaign", ""]),
]


def set_format_version(path, version):
    """Rewrites a real store's format version in its meta with LMDB's own tools (the
    checksum trailer is removed first: the store is then read unverified, as one written
    before checksums, and refused for its version alone)."""
    with open(path, "r+b") as store:
        store.seek(-32, os.SEEK_END)
        if store.read(8) == b"DVSUM001":
            store.truncate(os.path.getsize(path) - 32)
    dumped = subprocess.run(["mdb_dump", "-n", "-p", "-s", "meta", path], capture_output=True,
                            text=True, check=True).stdout
    dumped, replaced = re.subn(r" format_version\n \d+\n", " format_version\n %d\n" % version,
                               dumped)
    assert replaced == 1, dumped
    subprocess.run(["mdb_load", "-n", "-s", "meta", path], input=dumped, text=True,
                   capture_output=True, check=True)
    for leftover in (path + "-lock",):
        if os.path.exists(leftover):
            os.remove(leftover)


class ModuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bed = harness.Testbed(store_feeds=FEEDS)
        cls.bed.start()

    @classmethod
    def tearDownClass(cls):
        cls.bed.cleanup()

    def dig(self, *args, **kwargs):
        return self.bed.dig(*args, **kwargs)

    def test_actions(self):
        self.assertEqual(self.dig("nx.lab").status, "NXDOMAIN")
        self.assertEqual(self.dig("www.nx.lab").status, "NXDOMAIN")  # subtree rule
        answer = self.dig("nodata.lab")
        self.assertEqual((answer.status, answer.records), ("NOERROR", []))
        self.assertEqual(self.dig("refuse.lab").status, "REFUSED")
        self.assertTrue(self.dig("drop.lab", timeout=1).timed_out)
        self.assertEqual(self.dig("sink.lab").addresses(), ["0.0.0.0"])
        self.assertEqual(self.dig("sink.lab", "AAAA").addresses("AAAA"), ["::"])
        answer = self.dig("sink.lab", "MX")
        self.assertEqual((answer.status, answer.records), ("NOERROR", []))
        self.assertEqual(self.dig("ownsink.lab").addresses(), ["192.0.2.66"])
        # The walled garden is resolved behind the CNAME: stub resolvers do not chase it.
        answer = self.dig("redirect.lab")
        self.assertEqual(answer.status, "NOERROR")
        self.assertIn(("redirect.lab", "CNAME", "walled.lab"), answer.records)
        self.assertIn(("walled.lab", "A", "10.9.9.9"), answer.records)
        answer = self.dig("redirect.lab", "AAAA")  # the target has no AAAA: CNAME, NODATA
        self.assertEqual((answer.status, answer.records),
                         ("NOERROR", [("redirect.lab", "CNAME", "walled.lab")]))
        answer = self.dig("redirect.lab", "CNAME")  # asked for the CNAME: only the CNAME
        self.assertEqual(answer.records, [("redirect.lab", "CNAME", "walled.lab")])
        for name in ("logged.lab", "tagged.lab", "unlisted.lab"):
            answer = self.dig(name)
            self.assertEqual(answer.addresses(), ["10.0.0.1"], name)
            self.assertIsNone(answer.ede_code, name)
        answer = self.dig("tcponly.lab")
        self.assertIn("tc", answer.flags)
        self.assertEqual(answer.records, [])
        self.assertEqual(self.dig("tcponly.lab", tcp=True).addresses(), ["10.0.0.1"])
        # answered from cache by now for the pass-through names: still right
        self.assertEqual(self.dig("logged.lab").addresses(), ["10.0.0.1"])
        self.assertIn("tc", self.dig("tcponly.lab").flags)

    def test_ede(self):
        answer = self.dig("nx.lab")
        self.assertEqual(answer.ede_code, 15)
        self.assertIn("LookAlike", answer.ede_text)
        self.assertEqual(self.dig("sink.lab").ede_code, 15)
        answer = self.dig("nx.lab", edns=False)
        self.assertEqual(answer.status, "NXDOMAIN")
        self.assertIsNone(answer.ede_code)

    def test_confidence_thresholds(self):
        self.assertEqual(self.dig("low.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.dig("mid.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.dig("high.lab").status, "NXDOMAIN")
        lines = self.bed.hits(lambda l: {"low.lab", "mid.lab", "high.lab"} <= {x["qname"] for x in l})
        applied = {x["qname"]: x["action"] for x in lines}
        self.assertEqual(applied["low.lab"], "log")
        self.assertEqual(applied["mid.lab"], "tag")
        self.assertEqual(applied["high.lab"], "nxdomain")

    def test_exempt_clients_and_cache(self):
        # exempt first: the real answer must not be cached for the others ...
        self.assertEqual(self.dig("exempted.lab", source="127.0.0.2").addresses(), ["10.0.0.1"])
        self.assertEqual(self.dig("exempted.lab").status, "NXDOMAIN")
        # ... nor the blocked answer handed to the exempt client
        self.assertEqual(self.dig("exempted.lab", source="127.0.0.2").addresses(), ["10.0.0.1"])
        self.assertEqual(self.dig("exempted.lab").status, "NXDOMAIN")

    def test_cname_chain_and_cache(self):
        answer = self.dig("alias.lab")  # alias.lab CNAME evil-chain.lab (listed) at NSD
        self.assertEqual(answer.status, "NXDOMAIN")
        self.assertIn(("alias.lab", "CNAME", "evil-chain.lab"), answer.records)
        for _ in range(2):  # the iterator followed the chain: nothing of it may be cached
            self.assertEqual(self.dig("evil-chain.lab").status, "NXDOMAIN")
            self.assertEqual(self.dig("alias.lab").status, "NXDOMAIN")

    def test_concurrent_clients(self):
        results = []

        def ask(source):
            results.append((source, self.dig("concurrent.lab", source=source)))

        threads = [threading.Thread(target=ask, args=("127.0.0.1" if i % 3 else "127.0.0.2",))
                   for i in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(len(results), 12)
        for source, answer in results:
            if source == "127.0.0.1":  # a blocked client never sees the real answer
                self.assertEqual(answer.status, "NXDOMAIN", answer)
                self.assertEqual(answer.records, [])

    def test_hit_log_lines(self):
        self.dig("nx.lab", source="127.0.0.1")
        lines = self.bed.hits(lambda l: any(x["qname"] == "nx.lab" for x in l))
        line = next(x for x in lines if x["qname"] == "nx.lab")
        self.assertEqual(line["action"], "nxdomain")
        self.assertEqual(line["campaign"], "LookAlike")
        self.assertEqual(line["client"], "127.0.0.1")
        self.assertEqual(line["qtype"], "A")
        self.assertEqual(line["rule"], "nx.lab")
        self.assertTrue(line["build_id"])


class DnssecTest(unittest.TestCase):
    """A signed zone (sec.) that Unbound validates against its DS: answers the module writes
    never say they were validated (no AD), real answers still do."""

    @classmethod
    def setUpClass(cls):
        cls.bed = harness.Testbed(dnssec=True, store_feeds=[
            ("bad.sec\n", ["--action", "sinkhole"]), ("logged.sec\n", ["--action", "log"])])
        cls.bed.start()

    @classmethod
    def tearDownClass(cls):
        cls.bed.cleanup()

    def test_real_answers_are_validated(self):
        for options in (["+dnssec"], ["+adflag", "+nodnssec"]):
            answer = self.bed.dig("good.sec", options=options)
            self.assertEqual(answer.addresses(), ["10.0.0.2"])
            self.assertIn("ad", answer.flags, answer.text)
            answer = self.bed.dig("logged.sec", options=options)  # a log rule answers for real
            self.assertEqual(answer.addresses(), ["10.0.0.4"])
            self.assertIn("ad", answer.flags, answer.text)

    def test_blocked_answer_is_not_marked_validated(self):
        answer = self.bed.dig("bad.sec", options=["+dnssec"])
        self.assertEqual(answer.addresses(), ["0.0.0.0"])
        self.assertNotIn("ad", answer.flags, answer.text)

    def test_rewritten_chain_answer_is_not_marked_validated(self):
        # alias.sec CNAME bad.sec: resolved and validated (secure), then rewritten for the
        # blocked client after Unbound decided "secure" from the real answer.
        for options in (["+dnssec"], ["+adflag", "+nodnssec"]):
            exempt = self.bed.dig("alias.sec", source="127.0.0.2", options=options)
            self.assertEqual(exempt.addresses(), ["10.0.0.3"])
            self.assertIn("ad", exempt.flags, exempt.text)
            blocked = self.bed.dig("alias.sec", options=options)
            self.assertEqual(blocked.addresses(), ["0.0.0.0"], blocked.text)
            self.assertNotIn("ad", blocked.flags, blocked.text)
            self.assertNotIn("RRSIG", blocked.text)


class HotSwapTest(harness.BedTestCase):
    bed_options = dict(store_feeds=[("first.lab\n", [])])

    def test_cache_filled_before_swap(self):
        self.assertEqual(self.bed.dig("later.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.dig("alias2.lab").addresses(), ["10.0.0.1"])  # CNAME later2
        self.assertEqual(self.bed.dig("later2.lab").addresses(), ["10.0.0.1"])
        self.bed.swap([("first.lab\nlater.lab\nlater2.lab\n", [])])
        self.assertEqual(self.bed.dig("later.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("later2.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("alias2.lab").status, "NXDOMAIN")

    def test_cached_name_listed_later_gets_its_hit_lines(self):
        # Answered from the cache again and again (each worker's memo of names the filter
        # rejected holds it: module/logic/pass_memo.h), then listed by a log rule: the answers
        # still come from the cache, and each now writes its hit line. A memo that outlived
        # the swap would let them through unseen.
        for _ in range(8):
            self.assertEqual(self.bed.dig("watched-later.lab").addresses(), ["10.0.0.1"])
        self.bed.swap([("first.lab\n", []), ("watched-later.lab\n", ["--action", "log"])])
        for _ in range(8):
            self.assertEqual(self.bed.dig("watched-later.lab").addresses(), ["10.0.0.1"])
        lines = self.bed.hits(lambda l: sum(x["qname"] == "watched-later.lab" for x in l) >= 8)
        watched = [x for x in lines if x["qname"] == "watched-later.lab"]
        self.assertEqual([(x["action"], x.get("note")) for x in watched], [("log", "cache")] * 8)
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")

    def test_swap_under_load_loses_nothing(self):
        failures = []
        answered = [0]
        stop = threading.Event()

        def load(source):
            # Unlisted names come from a pool of 50: the first asks recurse, the rest are cache
            # hits. Every name fresh would make this a test of NSD under CPU starvation (its
            # timeouts are SERVFAILs too), not of the swap.
            names = ["first.lab", "load%d.lab", "www.first.lab"]
            i = 0
            while not stop.is_set() and i < 20000:
                name = names[i % 3] % (i % 50) if "%" in names[i % 3] else names[i % 3]
                rcode = harness.raw_query(self.bed.port, name, timeout=2.0, source=source)
                if rcode not in ("NOERROR", "NXDOMAIN"):
                    failures.append((name, rcode))
                answered[0] += 1
                i += 1

        threads = [threading.Thread(target=load, args=(s,)) for s in ("127.0.0.1", "127.0.0.3")]
        for thread in threads:
            thread.start()
        try:
            for generation in range(5):
                self.bed.swap([("first.lab\nswap%d.lab\n" % generation, [])])
                time.sleep(0.2)
        finally:
            stop.set()
            for thread in threads:
                thread.join(30)
        self.assertEqual(failures, [])
        self.assertGreater(answered[0], 100)

    def test_garbage_swapped_in_keeps_last_good(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        garbage = self.bed.store + ".garbage"
        with open(garbage, "wb") as out:
            out.write(os.urandom(40000))
        os.rename(garbage, self.bed.store)
        self.assertTrue(self.bed.wait_for_log("new store rejected"), self.bed.log()[-2000:])
        time.sleep(0.8)  # four more check intervals: said once
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("other.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.log().count("new store rejected"), 1)
        self.bed.swap([("second.lab\n", [])])  # a good store is picked up again
        self.assertEqual(self.bed.dig("second.lab").status, "NXDOMAIN")


    def test_older_format_swapped_in_keeps_last_good(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        older = self.bed.store + ".older"
        harness.compile_store(older, [("second.lab\n", [])])
        set_format_version(older, 2)
        os.rename(older, self.bed.store)
        self.assertTrue(self.bed.wait_for_log("new store rejected"), self.bed.log()[-2000:])
        time.sleep(0.8)  # four more check intervals: said once
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("second.lab").addresses(), ["10.0.0.1"])
        log = self.bed.log()
        self.assertEqual(log.count("new store rejected"), 1)
        self.assertIn("store format version 2, this build reads version 3", log)
        self.bed.swap([("second.lab\n", [])])  # a store of this version is picked up again
        self.assertEqual(self.bed.dig("second.lab").status, "NXDOMAIN")


class ManySwapsTest(harness.BedTestCase):
    """Memory, mappings and descriptors stay flat across 100 swaps; reload works."""

    bed_options = dict(store_feeds=[("first.lab\n", [])], config_lines=["check-interval: 50ms"],
                       remote_control=True)

    def test_hundred_swaps_keep_memory_flat(self):
        names = "".join("n%d.lab\n" % i for i in range(2000))
        self.bed.swap([(names + "gen0.lab\n", [])])
        for _ in range(20):  # warm up: caches, allocator arenas of both threads
            self.bed.dig("gen0.lab")
        before, files_before = self.bed.status(), self.bed.open_files()
        for generation in range(1, 101):
            self.bed.swap([(names + "gen%d.lab\n" % generation, [])], settle=0.5)
            if generation % 10 == 0:
                self.assertEqual(self.bed.dig("gen%d.lab" % generation).status, "NXDOMAIN")
                self.assertEqual(self.bed.dig("gen%d.lab" % (generation - 1)).addresses(),
                                 ["10.0.0.1"])
        after = self.bed.status()
        growth = after["RssAnon"] - before["RssAnon"]
        print("RssAnon %d -> %d kB, RssFile %d -> %d kB, fds %d -> %d" % (
            before["RssAnon"], after["RssAnon"], before["RssFile"], after["RssFile"],
            files_before, self.bed.open_files()), file=sys.stderr)
        if not harness.THREAD_SANITIZER:
            self.assertLess(growth, 4096, "anonymous memory grew by %d kB over 100 swaps" % growth)
        # Old stores are unmapped once each worker has moved on (its timer: within 50 ms).
        self.assertTrue(harness.wait_for(lambda: self.bed.mapped_stores() <= 1, 5),
                        "store files mapped: %d" % self.bed.mapped_stores())
        self.assertLessEqual(self.bed.open_files(), files_before + 1)

    def test_unbound_control_reload(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        harness.publish_store(self.bed.store, [("reloaded.lab\n", [])])
        result = self.bed.reload()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.bed.dig("reloaded.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["10.0.0.1"])
        self.assertGreaterEqual(self.bed.log().count("built for Unbound"), 2)


    def test_reload_resizing_caches_while_stores_swap(self):
        """A reload that changes the cache sizes makes Unbound delete and recreate its caches
        after stopping the workers and before the module's deinit; a store swap landing then
        must not touch them (the cache sweep runs on worker threads only). Ten such reloads,
        each with a new store published at the same moment, under a query load."""
        stop = threading.Event()
        answered = [0]

        def load():
            i = 0
            while not stop.is_set() and i < 20000:
                if harness.raw_query(self.bed.port, "load%d.lab" % (i % 50), timeout=0.5):
                    answered[0] += 1
                i += 1

        thread = threading.Thread(target=load)
        thread.start()
        try:
            for round_ in range(10):
                size = "%dm" % (4 if round_ % 2 else 8)
                self.bed.server_lines = ["msg-cache-size: " + size, "rrset-cache-size: " + size]
                self.bed.write_unbound_conf()
                harness.publish_store(self.bed.store, [("first.lab\nround%d.lab\n" % round_, [])])
                result = self.bed.control("reload")
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                time.sleep(0.3)
        finally:
            stop.set()
            thread.join(30)
        # The last reload's instance has started (unbound-control returns before it has).
        self.assertTrue(harness.wait_for(lambda: self.bed.log().count("built for Unbound") >= 11,
                                         30), self.bed.log()[-3000:])
        self.bed.wait_answering()
        self.assertIsNone(self.bed.unbound.poll(), self.bed.log()[-3000:])
        self.assertEqual(self.bed.dig("round9.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("round8.lab").addresses(), ["10.0.0.1"])
        self.assertGreater(answered[0], 0)


class IdleWorkerTest(harness.BedTestCase):
    """A worker that answers nothing after a swap moves on to the new store from its timer
    (started by the first query it resolves): the replaced store is unmapped, and its deleted
    file's disk space given back. One worker, so that the bed's first query reached it."""

    bed_options = dict(store_feeds=[("first.lab\n", [])], config_lines=["check-interval: 50ms"],
                       server_lines=["num-threads: 1"])

    def test_replaced_store_is_unmapped_while_idle(self):
        for generation in range(3):  # no query after the swaps
            self.bed.swap([("idle%d.lab\n" % generation, [])])
        self.assertTrue(harness.wait_for(lambda: self.bed.mapped_stores() == 1, 5),
                        "store files mapped: %d" % self.bed.mapped_stores())


class KeptCacheTest(harness.BedTestCase):
    """`unbound-control reload_keep_cache` keeps the caches: the new module instance sweeps
    them for the store it opens (the watcher here would not notice the new store for a
    minute)."""

    bed_options = dict(store_feeds=[("first.lab\n", [])], config_lines=["check-interval: 60s"],
                       remote_control=True)

    def test_kept_cache_is_swept_at_init(self):
        self.assertEqual(self.bed.dig("later.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.dig("alias2.lab").addresses(), ["10.0.0.1"])  # CNAME later2
        harness.publish_store(self.bed.store, [("first.lab\nlater.lab\nlater2.lab\n", [])])
        result = self.bed.reload("reload_keep_cache")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.bed.dig("later.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("alias2.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("later2.lab").status, "NXDOMAIN")
        self.assertIn("cache sweep for store build", self.bed.log())


BLOCKED_CACHE_FEEDS = [
    ("cached.lab\ngone.lab\nchanges.lab\nevil-chain.lab\nflushed.lab\n",
     ["--action", "nxdomain", "--campaign", "LookAlike", "--category", "malware"]),
    ("empty.lab\n", ["--action", "nodata", "--category", "malware"]),
    ("grouped.lab\n", ["--action", "nxdomain", "--category", "adult"]),  # not the pilot group's
    ("tcponly.lab\n", ["--action", "tcp-only", "--category", "malware"]),
]


class BlockedAnswerCacheTest(unittest.TestCase):
    """Blocked answers that every client gets alike come from the message cache (no exempt
    clients here; the pilot group gets the rules of category malware only): hit lines,
    counters and EDE as for an answer made by the module, and never a verdict the current
    store does not give."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=BLOCKED_CACHE_FEEDS, remote_control=True,
                                   exempt=False)
        self.bed.config_lines = ["client-group: pilot 127.0.0.3/32",
                                 "group-categories: pilot malware",
                                 "stats-store: " + self.bed.stats_store,
                                 "stats-flush-interval: 1"]
        self.bed.start()

    def tearDown(self):
        self.bed.cleanup()

    def ask(self, name, rtype="A", source="127.0.0.1", tcp=False):
        """The answer, and whether it came from Unbound's message cache."""
        before = self.bed.cache_hits()
        answer = self.bed.dig(name, rtype, source=source, tcp=tcp)
        return answer, self.bed.cache_hits() > before

    def test_blocked_answer_from_cache_has_hit_line_counters_and_ede(self):
        first, cached = self.ask("cached.lab")
        self.assertEqual((first.status, first.records, cached), ("NXDOMAIN", [], False))
        second, cached = self.ask("cached.lab", source="127.0.0.3")
        self.assertEqual((second.status, second.records, cached), ("NXDOMAIN", [], True))
        self.assertEqual(second.ede_code, 15)
        self.assertIn("LookAlike", second.ede_text)
        answer, cached = self.ask("empty.lab", "AAAA")
        answer, cached = self.ask("empty.lab", "AAAA")
        self.assertEqual((answer.status, answer.records, cached), ("NOERROR", [], True))
        lines = self.bed.hits(lambda l: len([x for x in l if x["qname"] == "cached.lab"]) >= 2)
        lines = [x for x in lines if x["qname"] == "cached.lab"]
        self.assertEqual([x["client"] for x in lines], ["127.0.0.1", "127.0.0.3"])
        first_line, second_line = ({k: v for k, v in x.items() if k not in ("time", "client", "client_port")}
                                   for x in lines)
        self.assertEqual(first_line, second_line)  # the same line as the module's own answer
        self.assertEqual(first_line["action"], "nxdomain")
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])
        counted = next(r for r in self.bed.stats()["rules"] if r["rule"] == "cached.lab")
        self.assertEqual(counted["queries"], 2)
        self.assertEqual(counted["clients"]["footprint"], 2)

    def test_client_dependent_answers_are_not_cached(self):
        for _ in range(2):  # the pilot group does not block grouped.lab
            answer, cached = self.ask("grouped.lab")
            self.assertEqual((answer.status, cached), ("NXDOMAIN", False))
        answer, cached = self.ask("grouped.lab", source="127.0.0.3")
        self.assertEqual((answer.addresses(), cached), (["10.0.0.1"], False))
        for _ in range(2):  # tcp-only truncates over UDP only
            answer, cached = self.ask("tcponly.lab")
            self.assertIn("tc", answer.flags)
            self.assertFalse(cached)
        answer, cached = self.ask("tcponly.lab", tcp=True)
        self.assertEqual(answer.addresses(), ["10.0.0.1"])
        # Unlisted names: resolved, then cached, as without the module.
        answer, cached = self.ask("unlisted.lab")
        self.assertEqual((answer.addresses(), cached), (["10.0.0.1"], False))
        answer, cached = self.ask("unlisted.lab")
        self.assertEqual((answer.addresses(), cached), (["10.0.0.1"], True))

    def test_swap_removing_or_changing_rules(self):
        for name in ("gone.lab", "changes.lab", "cached.lab"):
            for _ in range(2):
                answer, cached = self.ask(name)
                self.assertEqual(answer.status, "NXDOMAIN")
            self.assertTrue(cached, name)
        self.bed.swap([("cached.lab\n", ["--action", "nxdomain", "--category", "malware"]),
                       ("changes.lab\n", ["--action", "sinkhole", "--category", "malware"])])
        self.assertEqual(self.bed.dig("gone.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.dig("changes.lab").addresses(), ["0.0.0.0"])
        self.assertEqual(self.bed.dig("cached.lab").status, "NXDOMAIN")
        self.bed.swap([("changes.lab\n", ["--action", "nodata", "--category", "malware"])])
        answer = self.bed.dig("changes.lab")
        self.assertEqual((answer.status, answer.records), ("NOERROR", []))
        self.assertEqual(self.bed.dig("cached.lab").addresses(), ["10.0.0.1"])

    def test_chain_into_a_cached_blocked_answer(self):
        for _ in range(2):
            self.assertEqual(self.ask("evil-chain.lab")[0].status, "NXDOMAIN")
        answer = self.bed.dig("alias.lab")  # alias.lab CNAME evil-chain.lab at NSD
        self.assertEqual(answer.status, "NXDOMAIN")
        self.assertEqual(answer.records, [("alias.lab", "CNAME", "evil-chain.lab")])
        lines = self.bed.hits(lambda l: any(x["qname"] == "alias.lab" for x in l))
        chain = [x for x in lines if x["qname"] == "alias.lab"]
        self.assertEqual([(x["rule"], x["trigger"]) for x in chain],
                         [("evil-chain.lab", "cname-chain")])

    def test_flush_and_reload(self):
        for _ in range(2):
            self.assertEqual(self.ask("flushed.lab")[0].status, "NXDOMAIN")
        for command in (["flush", "flushed.lab"], ["flush_zone", "lab"], ["flush_negative"]):
            self.assertEqual(self.bed.control(*command).returncode, 0, command)
            answer, cached = self.ask("flushed.lab")
            self.assertEqual((answer.status, cached), ("NXDOMAIN", False), command)
            answer, cached = self.ask("flushed.lab")
            self.assertEqual((answer.status, cached), ("NXDOMAIN", True), command)
        # A reload keeping the cache, with a store that no longer lists the name: init's sweep
        # removes the kept blocked answer.
        harness.publish_store(self.bed.store, [("other.lab\n", ["--category", "malware"])])
        self.assertEqual(self.bed.control("reload_keep_cache").returncode, 0)
        self.bed.wait_answering()
        time.sleep(0.5)
        self.assertEqual(self.bed.dig("flushed.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.dig("other.lab").status, "NXDOMAIN")
        self.bed.reload()
        self.assertEqual(self.bed.dig("other.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("unlisted2.lab").addresses(), ["10.0.0.1"])
        # A cached blocked answer, then a configuration with an exempt client, cache kept:
        # the exempt client gets the real answer.
        for _ in range(2):
            answer, cached = self.ask("other.lab")
        self.assertEqual((answer.status, cached), ("NXDOMAIN", True))
        self.bed.exempt = True
        with open(self.bed.module_conf, "w") as out:
            out.write(self.bed.module_config_text())
        starts = self.bed.log().count("built for Unbound")
        self.assertEqual(self.bed.control("reload_keep_cache").returncode, 0)
        deadline = time.time() + 15
        while self.bed.log().count("built for Unbound") <= starts and time.time() < deadline:
            time.sleep(0.1)
        self.bed.wait_answering()
        self.assertEqual(self.bed.dig("other.lab", source="127.0.0.2").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.dig("other.lab").status, "NXDOMAIN")

    def test_rule_expiry_caps_the_cache_time(self):
        expires = int(time.time()) + 7
        self.bed.swap([("soon.lab\n", ["--action", "nxdomain", "--category", "malware",
                                         "--expires", str(expires)])])
        time.sleep(2.5)  # after the follow-up sweep, which removes cached blocked answers too
        for _ in range(2):
            answer, cached = self.ask("soon.lab")
            self.assertEqual(answer.status, "NXDOMAIN")
        self.assertTrue(cached)
        time.sleep(max(0.0, expires + 1 - time.time()))
        self.assertEqual(self.bed.dig("soon.lab").addresses(), ["10.0.0.1"])


class HitLogFailureTest(unittest.TestCase):
    """The hit log never stops the resolver: a folder that is missing at start or moved away
    before `unbound-control reload` is logged and retried, and Unbound answers and blocks
    throughout; a flood from one client gets the rate limit's lines and a summary."""

    FEEDS = [("blocked.lab\n", ["--action", "nxdomain"])]

    def make_bed(self, config_lines=(), remote_control=False):
        bed = harness.Testbed(store_feeds=self.FEEDS, config_lines=config_lines,
                              remote_control=remote_control)
        self.addCleanup(bed.cleanup)
        self.folder = os.path.join(bed.dir, "logs")
        bed.hit_log = os.path.join(self.folder, "hits.jsonl")
        return bed

    def assert_answers_and_blocks(self, bed):
        self.assertEqual(bed.dig("blocked.lab").status, "NXDOMAIN", bed.log()[-2000:])
        self.assertEqual(bed.dig("www.blocked.lab").status, "NXDOMAIN")
        self.assertEqual(bed.dig("other.lab").addresses(), ["10.0.0.1"])

    def assert_lines_appear(self, bed, name):
        """Asks `name` until its hit line appears (the log retries opening every second)."""
        deadline = time.time() + 10
        while time.time() < deadline:
            self.assertEqual(bed.dig(name).status, "NXDOMAIN")
            if any(line.get("qname") == name for line in bed.hits(timeout=0.5)):
                return
        self.fail("no hit line for %s:\n%s" % (name, bed.log()[-2000:]))

    def test_starts_without_the_hit_log_folder(self):
        bed = self.make_bed()
        bed.start()
        self.assert_answers_and_blocks(bed)
        self.assertEqual(bed.log().count("hit log: cannot open " + bed.hit_log), 1, bed.log())
        os.mkdir(self.folder)
        self.assert_lines_appear(bed, "late.blocked.lab")
        self.assertIn("hit log: %s open again" % bed.hit_log, bed.log())
        self.assertEqual(os.stat(bed.hit_log).st_mode & 0o7777, 0o640)

    def test_reload_after_the_hit_log_folder_moved(self):
        bed = self.make_bed(remote_control=True)
        os.mkdir(self.folder)
        bed.start()
        self.assert_lines_appear(bed, "blocked.lab")
        os.rename(self.folder, self.folder + ".old")
        result = bed.reload()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIsNone(bed.unbound.poll(), bed.log()[-3000:])
        self.assertGreaterEqual(bed.log().count("built for Unbound"), 2)
        self.assert_answers_and_blocks(bed)
        self.assertIn("hit log: cannot open " + bed.hit_log, bed.log())
        os.mkdir(self.folder)
        self.assert_lines_appear(bed, "after-reload.blocked.lab")

    def test_flood_from_one_client_is_summarised(self):
        limit, queries = 5, 300
        bed = self.make_bed(config_lines=["hit-log-rate-limit: %d" % limit])
        os.mkdir(self.folder)
        bed.start()
        for i in range(queries):
            name = "r%d-%d.blocked.lab" % (i, random.randint(0, 1 << 30))
            self.assertEqual(harness.raw_query(bed.port, name), "NXDOMAIN")
        bed.stop_unbound()  # the interval's summary is written when the log closes
        lines = [line for line in bed.hits() if line.get("rule") == "blocked.lab"]
        summaries = [line for line in lines if "suppressed" in line]
        hits = [line for line in lines if "suppressed" not in line]
        # One interval, or two if the flood crossed the clock's minute.
        self.assertIn(len(summaries), (1, 2), lines)
        self.assertLessEqual(len(hits), limit * len(summaries))
        self.assertEqual(len(hits) + sum(line["suppressed"] for line in summaries), queries)
        for summary in summaries:
            self.assertEqual((summary["limit"], summary["client"], summary["action"]),
                             ("per-client", "127.0.0.1", "nxdomain"))
            self.assertLessEqual(summary["first"], summary["last"])


class StartFailureTest(unittest.TestCase):
    def run_with(self, fail_mode, prepare):
        bed = harness.Testbed(config_lines=["fail-mode: " + fail_mode],
                              store_feeds=[("blocked.lab\n", [])])
        try:
            prepare(bed.store)
            bed.start()
            return bed.dig("blocked.lab").status, bed.log()
        finally:
            bed.cleanup()

    @staticmethod
    def missing(path):
        os.remove(path)

    @staticmethod
    def garbage(path):
        with open(path, "wb") as out:
            out.write(b"not a verdict store\n" * 100)

    @staticmethod
    def other_version(path):
        """A real store whose meta says format version 99."""
        set_format_version(path, 99)

    @staticmethod
    def older_version(path):
        """The previous format (2), as an older dnsverdict compiled it."""
        set_format_version(path, 2)

    @staticmethod
    def newer_version(path):
        set_format_version(path, 4)

    @staticmethod
    def truncated(path):
        size = os.path.getsize(path)
        with open(path, "r+b") as out:
            out.truncate(size // 2)

    def test_another_format_version_is_refused_loudly(self):
        for prepare, version in ((self.older_version, 2), (self.newer_version, 4)):
            status, log = self.run_with("open", prepare)
            self.assertEqual(status, "NOERROR", prepare.__name__)
            self.assertEqual(log.count("NO STORE"), 1, prepare.__name__)
            self.assertIn("store format version %d, this build reads version 3" % version, log)

    def test_fail_open_and_closed(self):
        for prepare in (self.missing, self.garbage, self.truncated, self.other_version):
            status, log = self.run_with("open", prepare)
            self.assertEqual(status, "NOERROR", prepare.__name__)
            self.assertEqual(log.count("NO STORE"), 1, prepare.__name__)
            status, log = self.run_with("closed", prepare)
            self.assertEqual(status, "SERVFAIL", prepare.__name__)
            self.assertIn("fail-mode closed", log)


if __name__ == "__main__":
    harness.run_tests()
