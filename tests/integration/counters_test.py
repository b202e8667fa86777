"""Integration tests of the infection-scale counters (docs/counters.md): the real
Unbound (2 threads) with the module, NSD upstream, dig clients from distinct loopback
addresses, and `dnsverdict stats` reading the stats store the module wrote.
Run by CTest (tests/integration/integration.cmake); see harness.py for the environment."""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FEEDS = [
    ("baidugif.lab\nqqjpeg.lab\n", ["--action", "nxdomain", "--campaign", "LookAlike"]),
    ("watched.lab\n", ["--action", "log", "--campaign", "Watch"]),
]
PROMTOOL = "/usr/bin/promtool"


def campaign(report, name):
    return next(c for c in report["campaigns"] if c["campaign"] == name)


def rule(report, name):
    return next(r for r in report["rules"] if r["rule"] == name)


def counting_bed(*config_lines, remote_control=False):
    bed = harness.Testbed(store_feeds=FEEDS, remote_control=remote_control)
    bed.config_lines = ["stats-store: " + bed.stats_store] + list(config_lines)
    return bed


class PersistenceTest(unittest.TestCase):
    """Counts survive an Unbound restart: the final flush at SIGTERM, then the union."""

    def setUp(self):
        # An hour between flushes: whatever reaches the store comes from the final flush.
        self.bed = counting_bed("stats-flush-interval: 3600").start()

    def tearDown(self):
        self.bed.cleanup()

    def ask(self, name, source):
        self.assertEqual(self.bed.dig(name, source=source).status, "NXDOMAIN")

    def test_counts_survive_restart(self):
        self.ask("baidugif.lab", "127.0.0.3")
        self.ask("baidugif.lab", "127.0.0.3")
        self.ask("qqjpeg.lab", "127.0.0.4")
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])
        first = campaign(self.bed.stats(), "LookAlike")
        self.assertEqual(first["queries"], 3)
        self.assertEqual(first["clients"]["footprint"], 2)

        self.bed.restart_unbound()
        self.ask("baidugif.lab", "127.0.0.5")
        self.assertEqual(self.bed.dig("other.lab", source="127.0.0.6").addresses(),
                         ["10.0.0.1"])  # not listed: not counted
        self.ask("baidugif.lab", "127.0.0.5")
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])

        report = self.bed.stats()
        look_alike = campaign(report, "LookAlike")
        self.assertEqual(look_alike["queries"], 5)
        self.assertEqual(look_alike["clients"]["footprint"], 3)  # .3, .4, .5: the union
        self.assertEqual(look_alike["networks"]["footprint"], 1)  # all in 127.0.0.0/24
        self.assertEqual(rule(report, "baidugif.lab")["queries"], 4)
        self.assertEqual(rule(report, "baidugif.lab")["clients"]["footprint"], 2)
        self.assertEqual(rule(report, "qqjpeg.lab")["queries"], 1)
        self.assertEqual(self.bed.log().count("counting hits into"), 2)

        # Devices beside addresses: three IPv4 sites, too few to learn one device from, so
        # the range is the uncorrected one, with its method.
        devices = look_alike["devices"]
        self.assertEqual(devices["sites"], 3)
        self.assertEqual(devices["addresses"], 3)
        self.assertFalse(devices["corrected"])
        self.assertLessEqual(devices["low"], 3)
        self.assertGreaterEqual(devices["high"], 3)
        self.assertIn("no correction", devices["method"]["middle"])
        self.assertFalse(devices["period"]["found"])  # the period line's detail, as estimate's
        self.assertTrue(devices["period"]["text"])
        self.assertIsNone(rule(report, "baidugif.lab").get("devices"))
        text = subprocess.run([harness.CLI, "stats", self.bed.stats_store], capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(text.returncode, 0, text.stderr)
        self.assertIn("campaign LookAlike: 3 sites (IPv4 addresses, IPv6 /64s) of 3 addresses",
                      text.stdout)
        self.assertRegex(text.stdout, r"devices +\d+ \.\. \d+, middle \d+")
        self.assertIn("low    = peak hourly distinct clients", text.stdout)


class ReloadTest(unittest.TestCase):
    """`unbound-control reload` re-initialises the module in the same process: the final
    flush, then the same stats store opened again."""

    def setUp(self):
        self.bed = counting_bed("stats-flush-interval: 3600", remote_control=True).start()

    def tearDown(self):
        self.bed.cleanup()

    def test_counts_survive_reload(self):
        self.assertEqual(self.bed.dig("qqjpeg.lab", source="127.0.0.3").status, "NXDOMAIN")
        result = self.bed.reload()
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(campaign(self.bed.stats(), "LookAlike")["queries"], 1)  # final flush
        self.assertEqual(self.bed.dig("qqjpeg.lab", source="127.0.0.4").status, "NXDOMAIN")
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])
        look_alike = campaign(self.bed.stats(), "LookAlike")
        self.assertEqual(look_alike["queries"], 2)
        self.assertEqual(look_alike["clients"]["footprint"], 2)
        self.assertNotIn("stats store disabled", self.bed.log())


class CacheHitTest(unittest.TestCase):
    """A hit answered from Unbound's message cache (only the reply_cache callback sees it)."""

    def setUp(self):
        self.bed = counting_bed("stats-flush-interval: 1").start()

    def tearDown(self):
        self.bed.cleanup()

    def test_cache_hits_counted(self):
        for source in ("127.0.0.2", "127.0.0.3"):
            self.assertEqual(self.bed.dig("watched.lab", source=source).addresses(), ["10.0.0.1"])
        lines = self.bed.hits(lambda lines: len(lines) >= 2)
        self.assertEqual([line["client"] for line in lines], ["127.0.0.2", "127.0.0.3"])
        self.assertEqual(lines[1].get("note"), "cache")  # the second answer came from the cache
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])
        watched = rule(self.bed.stats(), "watched.lab")
        self.assertEqual(watched["queries"], 2)
        self.assertEqual(watched["clients"]["footprint"], 2)
        self.assertEqual(watched["campaign"], "Watch")


class StoreNotWritableAtStartTest(unittest.TestCase):
    """A stats store that cannot be created at start (its folder is not there yet: the tests
    run as root, for whom no mode makes a folder unwritable) does not stop Unbound: the
    failure is logged once, queries are answered, and counting starts once the folder
    appears."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=FEEDS)
        self.folder = os.path.join(self.bed.dir, "later")
        self.bed.stats_store = os.path.join(self.folder, "stats.mdb")
        self.bed.config_lines = ["stats-store: " + self.bed.stats_store, "stats-flush-interval: 1",
                                 "prometheus-file: " + self.bed.prometheus_file]
        self.bed.start()

    def tearDown(self):
        self.bed.cleanup()

    def metric(self, name):
        try:
            with open(self.bed.prometheus_file) as text:
                return sample(parse_exposition(text.read()), name)
        except (OSError, AssertionError):
            return None

    def wait_for(self, condition, timeout=10):
        deadline = time.time() + timeout
        while not condition() and time.time() < deadline:
            time.sleep(0.2)
        return condition()

    def test_counting_starts_when_the_folder_appears(self):
        self.assertEqual(self.bed.dig("baidugif.lab", source="127.0.0.3").status, "NXDOMAIN")
        self.assertTrue(self.wait_for(lambda: (self.metric("dnsverdict_stats_flush_errors_total")
                                               or 0) >= 3), self.bed.log()[-2000:])
        self.assertEqual(self.metric("dnsverdict_stats_store_open"), 0)
        self.assertEqual(self.bed.log().count(self.folder), 1, self.bed.log()[-2000:])  # once
        self.assertNotIn("counting hits into", self.bed.log())

        os.mkdir(self.folder, 0o750)
        self.assertTrue(self.wait_for(lambda: self.metric("dnsverdict_stats_store_open") == 1),
                        self.bed.log()[-2000:])
        for source in ("127.0.0.4", "127.0.0.5"):
            self.assertEqual(self.bed.dig("baidugif.lab", source=source).status, "NXDOMAIN")
        self.assertEqual(self.bed.stop_unbound(), 0, self.bed.log()[-2000:])
        log = self.bed.log()
        self.assertIn("counting hits into", log)
        self.assertIn("working again after", log)
        look_alike = campaign(self.bed.stats(), "LookAlike")
        self.assertEqual(look_alike["queries"], 2)  # the query before the folder was not counted
        self.assertEqual(look_alike["clients"]["footprint"], 2)
        for path in (self.bed.stats_store, self.bed.stats_store + "-lock"):
            self.assertEqual(os.stat(path).st_mode & 0o7777, 0o640, path)
        self.assertEqual(os.stat(self.bed.stats_store + ".key").st_mode & 0o7777, 0o600)
        self.assertEqual(os.stat(self.bed.prometheus_file).st_mode & 0o7777, 0o640)


# The exposition format, checked strictly (the rules of tests/unit/counters/prometheus_test.cpp): every
# line is HELP, TYPE or a sample; HELP then TYPE once per family, before its samples; valid
# names; quoted label values with only \\ \" \n escapes; numeric values; no duplicate series;
# counters end in _total; no timestamps; a final newline.
HELP = re.compile(r"# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)")
TYPE = re.compile(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)")
SAMPLE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})?'
                    r" ([-+]?[0-9.eE+-]+|NaN|[-+]Inf)")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_exposition(text):
    """{(name, frozenset of label pairs): value}; raises AssertionError at the first problem."""
    assert text.endswith("\n"), "does not end in a newline"
    helped, typed, samples = set(), set(), {}
    family = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %s" % (number, line)
        match = HELP.fullmatch(line)
        if match:
            assert match.group(1) not in helped, where + ": second HELP"
            helped.add(match.group(1))
            family = match.group(1)
            continue
        match = TYPE.fullmatch(line)
        if match:
            assert match.group(1) == family, where + ": TYPE without HELP"
            assert family not in typed, where + ": second TYPE"
            typed.add(family)
            if match.group(2) == "counter":
                assert family.endswith("_total"), where + ": counter not ending in _total"
            continue
        match = SAMPLE.fullmatch(line)
        assert match, where + ": not HELP, TYPE or a sample"
        assert match.group(1) == family and family in typed, where + ": undeclared family"
        labels = frozenset(LABEL.findall(match.group(3) or ""))
        key = (match.group(1), labels)
        assert key not in samples, where + ": duplicate series"
        samples[key] = float(match.group(4))
    return samples


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class PrometheusFileTest(unittest.TestCase):
    """The textfile after a periodic flush; counting does not need the hit log."""

    def setUp(self):
        self.bed = counting_bed("stats-flush-interval: 1", "hit-log:")
        self.bed.config_lines.append("prometheus-file: " + self.bed.prometheus_file)
        self.bed.start()

    def tearDown(self):
        self.bed.cleanup()

    def read_samples(self):
        with open(self.bed.prometheus_file) as text:
            content = text.read()
        return content, parse_exposition(content)

    def test_file_parses_and_counts(self):
        sent = 5
        hour_before = time.gmtime().tm_hour
        for index in range(sent):
            self.assertEqual(self.bed.dig("baidugif.lab", source="127.0.0.%d" % (10 + index)).status,
                             "NXDOMAIN")
        hour_after = time.gmtime().tm_hour
        deadline = time.time() + 10
        while True:  # the next periodic flush (every second) rewrites the file
            content, samples = "", {}
            if os.path.exists(self.bed.prometheus_file):
                content, samples = self.read_samples()
            if sample(samples, "dnsverdict_counters_hits_total") == sent or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertFalse(os.path.exists(self.bed.hit_log))  # no hit log configured

        hits = {window: sample(samples, "dnsverdict_campaign_hits", campaign="LookAlike",
                               window=window) for window in ("current_hour", "1h")}
        clients = sample(samples, "dnsverdict_campaign_unique_clients", campaign="LookAlike",
                         window="current_hour")
        if hour_before == hour_after:
            self.assertEqual(hits["current_hour"], sent, content)
            self.assertEqual(round(clients), sent, content)
        else:  # the queries straddled the top of the hour: two windows hold them
            self.assertEqual(hits["current_hour"] + hits["1h"], sent, content)
        self.assertEqual(sample(samples, "dnsverdict_store_loaded"), 1)
        self.assertGreaterEqual(sample(samples, "dnsverdict_lookups_total"), sent)
        self.assertEqual(sample(samples, "dnsverdict_hits_total"), sent)
        self.assertEqual(sample(samples, "dnsverdict_errors_total"), 0)
        self.assertEqual(sample(samples, "dnsverdict_stats_flush_errors_total"), 0)

        if not os.access(PROMTOOL, os.X_OK):
            print("promtool not installed: strict format check only", file=sys.stderr)
            return
        result = subprocess.run([PROMTOOL, "check", "metrics"], input=content,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr + content)


if __name__ == "__main__":
    harness.run_tests()
