#!/usr/bin/env python3
"""Turns an LMDB file (a verdict store, a stats store) into the records the fuzz targets
verdict_store and stats_store write back through LMDB (fuzz_support.h, write_lmdb_records):
  lmdb_records.py FILE OUT DATABASE...
DATABASEs in the order the target lists them. Reads the file with mdb_dump (lmdb-utils)."""
import os
import struct
import subprocess
import sys


def main():
    path, out, databases = sys.argv[1], sys.argv[2], sys.argv[3:]
    lock = path + "-lock"
    had_lock = os.path.exists(lock)
    dump = subprocess.run(["mdb_dump", "-n", "-a", path], check=True, capture_output=True,
                          text=True).stdout
    if not had_lock and os.path.exists(lock):
        os.remove(lock)  # mdb_dump's, not the file's
    mask, records, database, pending = 0, [], None, None
    for line in dump.splitlines():
        if line.startswith("database="):
            database = databases.index(line.split("=", 1)[1])
            mask |= 1 << database
        elif line.startswith(" ") and database is not None:
            value = bytes.fromhex(line.strip())
            if pending is None:
                pending = value
            else:
                records.append(struct.pack("<BHI", database, len(pending), len(value)) + pending + value)
                pending = None
    with open(out, "wb") as file:
        file.write(bytes([mask]) + b"".join(records))


if __name__ == "__main__":
    main()
