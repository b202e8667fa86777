"""Faults around the resolver: a damaged store, a full disk, a store folder replaced, an
unreadable store, the clock jumping. The real Unbound (2 threads) with the module, NSD
upstream, dig. Tests that mount a tmpfs need root and say so when skipped; every mount is
undone even when a test fails. Run by CTest (tests/integration/integration.cmake)."""

import os
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def wait_for(condition, timeout=5.0, step=0.1):
    """True once condition() is true, False after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


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
        wait_for(lambda: "new store rejected" in self.bed.log(), 5)
        time.sleep(0.5)  # a few more check intervals
        self.assertIsNone(self.bed.unbound.poll(), "Unbound exited:\n" + self.bed.log()[-2000:])
        self.assertEqual(self.bed.dig("first.lab").status, "NXDOMAIN")  # the old store
        self.assertEqual(self.bed.dig("second.lab").addresses(), ["10.0.0.1"])
        self.assertEqual(self.bed.log().count("new store rejected"), 1, self.bed.log()[-2000:])
        self.assertIn("checksum", self.bed.log())
        self.bed.swap([("second.lab\n", [])])
        self.assertEqual(self.bed.dig("second.lab").status, "NXDOMAIN")


if __name__ == "__main__":
    harness.run_tests()
