"""Faults around the resolver: a damaged store, a full disk, a store folder replaced, an
unreadable store, the clock jumping, memory across reloads. The real Unbound (2 threads) with the module, NSD
upstream, dig. Tests that mount a tmpfs need root and say so when skipped; every mount is
undone even when a test fails. Run by CTest (tests/integration/integration.cmake)."""

import os
import shutil
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import soak_test  # noqa: E402


def damage_main_leaf(path):
    """Points every node of the LMDB main database's root page (a leaf holding the named
    databases, not a meta page) 65520 octets on: LMDB reads the nodes from there."""
    with open(path, "r+b") as store:
        data = bytearray(store.read())
        metas = []
        for offset in (0, 4096):
            main_root, = struct.unpack_from("<Q", data, offset + 128)
            txn_id, = struct.unpack_from("<Q", data, offset + 144)
            metas.append((txn_id, main_root))
        page = max(metas)[1] * 4096
        lower, = struct.unpack_from("<H", data, page + 12)
        for pointer in range(page + 16, page + lower, 2):
            struct.pack_into("<H", data, pointer, 0xfff0)
        store.seek(0)
        store.write(data)


class DamagedStoreTest(harness.BedTestCase):
    """A store published with a damaged B-tree page (LMDB itself faults reading it) is
    refused before LMDB opens it: Unbound stays up on the old store, says so once, and takes
    the next good store."""

    bed_options = dict(store_feeds=[("first.lab\n", [])])

    def test_damaged_page_keeps_the_old_store(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        damaged = os.path.join(self.bed.dir, "damaged.mdb")
        harness.compile_store(damaged, [("second.lab\n", [])])
        damage_main_leaf(damaged)
        os.rename(damaged, self.bed.store)
        self.assertTrue(self.bed.wait_for_log("new store rejected"), self.bed.log()[-2000:])
        time.sleep(0.5)  # a few more check intervals
        self.assertIsNone(self.bed.unbound.poll(), "Unbound exited:\n" + self.bed.log()[-2000:])
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")  # the old store
        self.assertEqual(self.bed.dig("second.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.log().count("new store rejected"), 1, self.bed.log()[-2000:])
        self.assertIn("checksum", self.bed.log())
        self.bed.swap([("second.lab\n", [])])
        self.assertEqual(self.bed.dig("second.lab").status, "NXDOMAIN")


FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # Debian: libfaketime
# An address rule for *.v4.lab's address (harness.ZONE), and a name-server rule for the name
# server of child.zz. (harness.CHILD_ZONE).
EXPIRING_RPZ = """$ORIGIN rpz.lab.
$TTL 60
@ SOA localhost. root.localhost. 1 3600 600 86400 60
@ NS localhost.
32.5.0.0.10.rpz-ip CNAME .
ns.slowns.zz.rpz-nsdname CNAME .
"""
IS_ROOT = os.geteuid() == 0
needs_root = unittest.skipUnless(IS_ROOT, "needs root: mounts a tmpfs / changes users")


def mount_tmpfs(test, path, size):
    """A tmpfs of `size` at `path`, unmounted when `test` ends (lazily: a process that still
    holds a file open there does not keep it mounted)."""
    os.makedirs(path, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path],
                            capture_output=True, text=True)
    if result.returncode != 0:
        test.skipTest("cannot mount a tmpfs here: " + result.stderr.strip())
    test.addCleanup(subprocess.run, ["umount", "-l", path], capture_output=True)


def fill(path):
    """Writes `path` until the file system is full; returns its size."""
    with open(path, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return os.path.getsize(path)


class TmpfsBed(unittest.TestCase):
    """A bed whose `small` folder is a tmpfs of `tmpfs_size`; setUp_bed() places files there
    before Unbound starts."""

    tmpfs_size = "2m"

    def setUp(self):
        self.bed = harness.Testbed(create_store=False)
        self.addCleanup(self.bed.cleanup)  # runs last: after the unmount
        self.small = os.path.join(self.bed.dir, "small")
        mount_tmpfs(self, self.small, self.tmpfs_size)
        self.setUp_bed()
        self.bed.start()


@needs_root
class DiskFullCompileTest(TmpfsBed):
    """`compile` onto a full disk fails with a clear error and publishes nothing: the old
    store stays in place and in use."""

    def setUp_bed(self):
        self.bed.store = os.path.join(self.small, "verdicts.mdb")
        harness.compile_store(self.bed.store, [("first.lab\n", [])])

    def test_compile_fails_and_the_old_store_stays(self):
        feed = os.path.join(self.bed.dir, "big.txt")  # on the large disk; the store is not
        with open(feed, "w") as out:
            out.writelines("n%d.big.lab\n" % i for i in range(60000))  # ~4 MB of store
        before = sorted(os.listdir(self.small))
        old = open(self.bed.store, "rb").read()
        result = subprocess.run([harness.CLI, "compile", "-q", "--force", "-o", self.bed.store,
                                 feed], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(self.bed.store, result.stderr)
        self.assertIn("No space left on device", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertEqual(sorted(os.listdir(self.small)), before)  # no temporary file left
        self.assertEqual(open(self.bed.store, "rb").read(), old)
        time.sleep(0.5)  # a few check intervals
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("n1.big.lab").addresses(), ["10.0.0.1"])
        self.assertNotIn("store swapped in", self.bed.log())
        self.assertNotIn("rejected", self.bed.log())


@needs_root
class DiskFullWhileServingTest(TmpfsBed):
    """The hit log and the stats store on a full disk: the resolver keeps answering, each
    says so in one line, and both write again once there is room."""

    tmpfs_size = "4m"

    def setUp_bed(self):
        harness.compile_store(self.bed.store, [("first.lab\n", [])])
        self.bed.hit_log = os.path.join(self.small, "hits.jsonl")
        self.bed.stats_store = os.path.join(self.small, "stats.mdb")
        self.bed.config_lines = ["stats-store: " + self.bed.stats_store,
                                 "stats-flush-interval: 1", "hit-log-rate-limit: 0"]

    def test_full_then_room_again(self):
        self.assertEqual(self.bed.dig("a0.first.lab").status, "NXDOMAIN")
        self.assertTrue(harness.wait_for(lambda: len(self.bed.hits()) == 1))
        self.assertTrue(harness.wait_for(lambda: self.query_count() == 1, 5), self.bed.log()[-2000:])
        filler = os.path.join(self.small, "filler")
        fill(filler)
        for i in range(1, 201):
            self.assertEqual(harness.raw_query(self.bed.port, "b%d.first.lab" % i), "NXDOMAIN")
        time.sleep(2.5)  # two flushes or more, into the full disk
        self.assertIsNone(self.bed.unbound.poll(), self.bed.log()[-3000:])
        log = self.bed.log()
        self.assertEqual(log.count("No space left on device"), 2, log[-3000:])  # hits, stats
        os.remove(filler)
        for i in range(1, 11):
            self.assertEqual(harness.raw_query(self.bed.port, "c%d.first.lab" % i), "NXDOMAIN")
        self.assertTrue(harness.wait_for(lambda: any(line.get("qname", "").startswith("c10.")
                                             for line in self.bed.hits()), 5),
                        self.bed.log()[-3000:])
        # Counting goes on: a flush that could not be stored drops its snapshot (memory stays
        # bounded; docs/counters.md), so the hits while the disk was full are not counted.
        self.assertTrue(harness.wait_for(lambda: self.query_count() == 11, 5),
                        (self.query_count(), self.bed.log()[-3000:]))
        # Each says it works again once its writes go on succeeding: the hit log after 5 s of
        # good writes, the stats store after two good flushes in a row.
        self.assertTrue(harness.wait_for(
            lambda: "writing to %s again after" % self.bed.hit_log in self.bed.log()
            and "stats store working again after" in self.bed.log(), 15), self.bed.log()[-3000:])
        log = self.bed.log()
        self.assertEqual(log.count("No space left on device"), 2, log[-3000:])
        lines = self.bed.hits()  # every line parses: a write cut short was taken back
        with open(self.bed.hit_log) as text:
            self.assertTrue(text.read().endswith("\n"), "the hit log ends inside a line")
        self.assertEqual([line["qname"] for line in lines][:1], ["a0.first.lab"])

    def query_count(self):
        try:
            report = self.bed.stats()
        except RuntimeError:
            return None
        return sum(rule["queries"] for rule in report.get("rules", []))


class StoreFolderReplacedTest(unittest.TestCase):
    """The store's folder removed (the store in use goes with it) and made again with a new
    store: the module answers from the store it has meanwhile and takes the new one."""

    def setUp(self):
        self.bed = harness.Testbed(create_store=False)
        self.addCleanup(self.bed.cleanup)
        self.folder = os.path.join(self.bed.dir, "stores")
        os.makedirs(self.folder)
        self.bed.store = os.path.join(self.folder, "verdicts.mdb")
        harness.compile_store(self.bed.store, [("first.lab\n", [])])
        self.bed.start()

    def test_removed_then_recreated(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        shutil.rmtree(self.folder)
        self.assertTrue(self.bed.wait_for_log("the store file is gone"), self.bed.log()[-2000:])
        time.sleep(0.6)  # three more check intervals: said once
        self.assertEqual(self.bed.dig("x.first.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.log().count("the store file is gone"), 1, self.bed.log())
        os.makedirs(self.folder)
        harness.publish_store(self.bed.store, [("second.lab\n", [])])
        self.assertTrue(harness.wait_for(lambda: self.bed.dig("second.lab").status == "NXDOMAIN", 5),
                        self.bed.log()[-2000:])
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["10.0.0.1"])
        self.assertIsNone(self.bed.unbound.poll())


@needs_root
class UnreadableStoreTest(unittest.TestCase):
    """A new store the resolver's user cannot read (Unbound runs as `nobody` here; as root,
    mode 000 would not stop it): the old store stays, one line says why, and the file is
    taken once it is readable."""

    def setUp(self):
        self.bed = harness.Testbed(store_feeds=[("first.lab\n", [])],
                                   server_lines=['username: "nobody"'])
        self.addCleanup(self.bed.cleanup)
        os.chmod(self.bed.dir, 0o755)
        logs = os.path.join(self.bed.dir, "logs")
        os.makedirs(logs)
        os.chmod(logs, 0o777)
        self.bed.hit_log = os.path.join(logs, "hits.jsonl")
        self.bed.start()

    def test_unreadable_then_fixed(self):
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        fresh = os.path.join(self.bed.dir, "fresh.mdb")
        harness.compile_store(fresh, [("second.lab\n", [])])
        os.chmod(fresh, 0o600)  # root's only
        os.rename(fresh, self.bed.store)
        self.assertTrue(self.bed.wait_for_log("new store rejected"), self.bed.log()[-2000:])
        time.sleep(0.8)  # four more check intervals: said once
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")
        self.assertEqual(self.bed.dig("second.lab").addresses(), ["10.0.0.1"])
        log = self.bed.log()
        self.assertEqual(log.count("new store rejected"), 1, log[-2000:])
        self.assertIn("missing or inaccessible", log)
        os.chmod(self.bed.store, 0o644)  # the change time moves, not the identity
        self.assertTrue(harness.wait_for(lambda: self.bed.dig("second.lab").status == "NXDOMAIN", 5),
                        self.bed.log()[-2000:])
        self.assertEqual(self.bed.dig("first.lab").addresses(), ["10.0.0.1"])


@unittest.skipUnless(os.path.exists(FAKETIME), "needs libfaketime (Debian: faketime)")
class ReloadMemoryTest(unittest.TestCase):
    """Reloads under load leave Unbound's memory where it was: each reload ends Unbound's
    worker threads and the module's threads and starts new ones, and what the ended threads
    freed must go back to the system rather than stay resident in their malloc arenas.
    Ten reloads, 8 s apart, under dnsperf load with a store published every 2 s: the
    anonymous resident memory before the last three reloads (median) is within 20% of that
    before the second (the caches have filled by then). Each reload used to leave about a
    worker's worth more (+38% by the tenth); 0.2-0.3 MB per reload remains (+2% to +9%)."""

    RELOADS = 10
    RELOAD_EVERY = 8
    GROWTH = 0.20

    def setUp(self):
        if harness.UNBOUND_PRELOAD:
            # A sanitizer's allocator keeps freed memory in quarantine (and TSan its shadow).
            self.skipTest("memory is measured only with glibc's allocator")
        for tool in ("dnsperf",):
            if shutil.which(tool) is None:
                self.skipTest(tool + " not found")
        self.bed = harness.Testbed(store_feeds=soak_test.feeds(0), remote_control=True)
        self.addCleanup(self.bed.cleanup)
        self.bed.config_lines = ["stats-store: " + self.bed.stats_store,
                                 "stats-flush-interval: 2"]
        self.bed.start()

    def test_reloads_do_not_grow_memory(self):
        queries = os.path.join(self.bed.dir, "queries.txt")
        soak_test.query_file(queries)
        seconds = self.RELOADS * self.RELOAD_EVERY + 4
        load = threading.Thread(target=soak_test.dnsperf,
                                args=(self.bed, queries, seconds, 2000), daemon=True)
        load.start()
        samples = []
        generation = 0
        for _ in range(self.RELOADS):
            deadline = time.time() + self.RELOAD_EVERY
            while time.time() < deadline:
                generation += 1
                harness.publish_store(self.bed.store, soak_test.feeds(generation))
                time.sleep(min(2.0, max(0.0, deadline - time.time())))
            samples.append(self.bed.status()["RssAnon"])
            self.assertEqual(self.bed.reload().returncode, 0)
        load.join(seconds + 60)
        print("anonymous resident memory before each reload (kB): %s"
              % ", ".join(str(sample) for sample in samples))
        early = samples[1]
        late = sorted(samples[-3:])[1]
        self.assertLessEqual(late, early * (1 + self.GROWTH),
                             "resident memory grew over %d reloads: %s"
                             % (self.RELOADS, samples))


class ClockJumpTest(unittest.TestCase):
    """Unbound under libfaketime, its clock moved by rewriting a file: a rule stops applying
    once the clock passes its expiry and applies again when the clock goes back (a rule on
    the name, on its address and on its name server alike), also to names answered while it
    had expired (they were not cached); the hourly counters keep every hit across the jumps."""

    def setUp(self):
        if harness.UNBOUND_PRELOAD:
            # libfaketime's start-up and a sanitizer runtime's, both preloaded, hang Unbound
            # before it starts (seen with libasan): the clock cannot be moved under them.
            self.skipTest("libfaketime cannot be preloaded beside a sanitizer runtime")
        self.expires = int(time.time()) + 3600
        self.bed = harness.Testbed(store_feeds=[
            ("first.lab\n", []),
            ("soon.lab\n", ["--expires", str(self.expires)]),
            (EXPIRING_RPZ, ["--format", "rpz", "--expires", str(self.expires)])],
            stub_host_zone=True)
        self.addCleanup(self.bed.cleanup)
        proxy = harness.SlowProxy(self.bed.slow_port, self.bed.nsd_port, delay=0.0)
        self.addCleanup(proxy.stop)
        self.clock = os.path.join(self.bed.dir, "faketime")
        self.jump("+0")
        self.bed.config_lines = ["stats-store: " + self.bed.stats_store, "stats-flush-interval: 1"]
        # NO_FAKE_STAT: a clock step leaves the files' times as they are; libfaketime would
        # move them with the clock, and the module would take the store for one modified in
        # place and load it again.
        self.bed.unbound_env = {"LD_PRELOAD": FAKETIME, "FAKETIME_TIMESTAMP_FILE": self.clock,
                                "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
                                "NO_FAKE_STAT": "1"}
        self.bed.start()

    def jump(self, offset):
        with open(self.clock + ".new", "w") as out:
            out.write(offset + "\n")
        os.rename(self.clock + ".new", self.clock)
        # libfaketime 0.9.10 reads this file into buffers and offsets that all threads share,
        # without a lock: a thread of Unbound's that opened the file before the rename can
        # still be parsing the old offset, and overwrite the new one another thread has just
        # read, for that thread's next clock reading. Two threads reading the clock in a loop
        # make 10 of 20,000 readings right after a rename see the old offset; none in 2,000
        # after waiting 20 ms. Ask only once those reads are over.
        time.sleep(0.5)

    def queries(self):
        try:
            report = self.bed.stats()
        except RuntimeError:
            return None
        return sum(rule["queries"] for rule in report.get("rules", []))

    def test_expiry_and_counters_across_jumps(self):
        sent = 0
        for phase, (offset, blocked) in enumerate([("+0", True), ("+7200", False),
                                                   ("-7200", True), ("+0", True)]):
            self.jump(offset)
            for i in range(2):
                for zone, address in (("soon.lab", "10.0.0.1"), ("v4.lab", "10.0.0.5"),
                                      ("child.zz", "10.7.7.7")):
                    name = "p%d-%d.%s" % (phase, i, zone)
                    answer = self.bed.dig(name, timeout=5)  # child.zz.: through a relay
                    if blocked:
                        self.assertEqual(answer.status, "NXDOMAIN", (offset, answer.text))
                        sent += 1
                    else:
                        self.assertEqual(answer.addresses(), [address], (offset, answer.text))
                self.assertEqual(self.bed.dig("p%d-%d.first.lab" % (phase, i)).status, "NXDOMAIN")
                sent += 1
            # names answered while the rules had expired are blocked again once they apply
            for name in ("p1-0.soon.lab", "p1-0.v4.lab", "p1-0.child.zz"):
                answer = self.bed.dig(name, timeout=5)
                self.assertEqual(answer.status, "NXDOMAIN" if blocked else "NOERROR",
                                 (offset, name, answer.text))
                sent += blocked
            time.sleep(1.1)  # a flush in this phase
        self.assertIsNone(self.bed.unbound.poll(), self.bed.log()[-2000:])
        self.assertTrue(harness.wait_for(lambda: self.queries() == sent, 5),
                        (self.queries(), sent, self.bed.log()[-3000:]))
        log = self.bed.log()
        self.assertNotIn("a cached answer for a blocked name was served", log)
        self.assertNotIn("modified in place", log)


if __name__ == "__main__":
    harness.run_tests()
