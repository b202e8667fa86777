"""Deterministic benchmark data: rule lists, query files, NSD zones, dnsdist's LMDB input.

Every name lives under one of TLDS, each served by NSD with a wildcard, so every query
resolves at the upstream whether or not a rule lists it. The three kinds of names are
disjoint by construction (their second-level labels have different lengths), so no pass or
never-seen name is ever covered by a rule, whatever the rule-set size:

  listed      <12 hex>.<tld>                  the rules (a plain domain list: subtree rules)
  pass        [www.|a.b.]<11 hex>.<tld>       a pool of names not listed (cache hits)
  never seen  <8 hex>.<10 hex>.<tld>          unique names, each asked once (cache misses)

The rule lists of all sizes come from one random stream: the first N lines of the 10M list
are the 1M list, so the listed names used in the mixed traffic (taken from the smallest
set) are listed at every size. Python 3 standard library only.
"""

import os
import random

TLDS = ["bench%d" % i for i in range(8)]
ZONE_TTL = 3600  # longer than a whole run: the pass pool stays cached
SEED = 20240401


def _tld(bits):
    return TLDS[bits & 7]


def write_rule_lists(sizes, directory):
    """Writes rules-<N>.txt for every N in `sizes` (one name per line); returns {N: path}.
    Existing files of the right line count are kept (generation is deterministic)."""
    sizes = sorted(set(sizes))
    paths = {size: os.path.join(directory, "rules-%d.txt" % size) for size in sizes}
    if all(_line_count_ok(paths[size], size) for size in sizes):
        return paths
    rng = random.Random(SEED)
    outputs = [(size, open(paths[size] + ".tmp", "w")) for size in sizes]
    try:
        largest = sizes[-1]
        chunk = []
        for index in range(largest):
            bits = rng.getrandbits(51)
            chunk.append("%012x.%s\n" % (bits >> 3, _tld(bits)))
            if len(chunk) == 65536 or index == largest - 1:
                start = index + 1 - len(chunk)
                text = "".join(chunk)
                for size, out in outputs:
                    if start + len(chunk) <= size:
                        out.write(text)
                    elif start < size:
                        out.write("".join(chunk[:size - start]))
                chunk = []
    finally:
        for _, out in outputs:
            out.close()
    for size in sizes:
        os.replace(paths[size] + ".tmp", paths[size])
    return paths


def _line_count_ok(path, expected):
    if not os.path.exists(path):
        return False
    with open(path, "rb") as data:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 20), b"")) == expected


def listed_names(rules_path, count):
    """The first `count` names of a rule list (all listed at every size)."""
    names = []
    with open(rules_path) as rules:
        for line in rules:
            if len(names) == count:
                break
            names.append(line.strip())
    return names


def pass_pool(count):
    rng = random.Random(SEED + 1)
    pool = []
    for _ in range(count):
        bits = rng.getrandbits(47)
        name = "%011x.%s" % (bits >> 3, _tld(bits))
        shape = rng.random()
        if shape < 0.4:
            name = "www." + name
        elif shape < 0.55:
            name = "a.b." + name
        pool.append(name)
    return pool


def write_queries(path, names):
    with open(path, "w") as out:
        for name in names:
            out.write(name + " A\n")


def write_query_files(directory, listed, pool_size=10000, length=200000):
    """pass.txt (pool names drawn at random), pool.txt (each pool name once, for warm-up),
    mix.txt (90% pool names, 10% listed names or names below them). Returns their paths."""
    pool = pass_pool(pool_size)
    rng = random.Random(SEED + 2)
    paths = {kind: os.path.join(directory, kind + ".txt") for kind in ("pool", "pass", "mix")}
    write_queries(paths["pool"], pool)
    write_queries(paths["pass"], (pool[rng.randrange(pool_size)] for _ in range(length)))
    mixed = []
    for _ in range(length):
        if rng.random() < 0.1:
            name = listed[rng.randrange(len(listed))]
            mixed.append(name if rng.random() < 0.5 else "www." + name)
        else:
            mixed.append(pool[rng.randrange(pool_size)])
    write_queries(paths["mix"], mixed)
    return paths


def write_unique_queries(path, count, chunk):
    """`count` names never asked before (nor listed); chunk number `chunk` of a disjoint series."""
    rng = random.Random(SEED + 1000 + chunk)
    with open(path, "w") as out:
        for index in range(count):
            bits = rng.getrandbits(35)
            # The running index makes names unique within the chunk, the chunk number across chunks.
            out.write("%08x.%04x%06x.%s A\n" % (bits >> 3, chunk, index, _tld(bits)))
    return path


def write_nsd_zones(directory):
    """One small zone per TLD: SOA, NS and a wildcard A/AAAA. Returns [(zone, path)]."""
    zones = []
    for tld in TLDS:
        path = os.path.join(directory, tld + ".zone")
        with open(path, "w") as out:
            out.write("$ORIGIN %s.\n$TTL %d\n" % (tld, ZONE_TTL))
            out.write("@ SOA ns.%s. hostmaster.%s. 1 3600 600 86400 %d\n" % (tld, tld, ZONE_TTL))
            out.write("@ NS ns.%s.\nns A 127.0.0.1\n* A 10.0.0.1\n* AAAA fd00::1\n" % tld)
        zones.append((tld, path))
    return zones


def name_to_wire(name):
    wire = b""
    for label in name.lower().strip(".").split("."):
        wire += bytes([len(label)]) + label.encode("ascii")
    return wire + b"\x00"


def write_lmdb_load_input(rules_path, out_path, map_size):
    """Input for `mdb_load -n -s NAME`: every listed name as a DNS wire-format key
    (what dnsdist's KeyValueLookupKeySuffix looks up), sorted as LMDB compares keys."""
    with open(rules_path) as rules:
        keys = sorted({name_to_wire(line.strip()) for line in rules if line.strip()})
    with open(out_path, "w") as out:
        out.write("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=%d\nHEADER=END\n" % map_size)
        value = " " + b"block".hex() + "\n"
        for key in keys:
            out.write(" " + key.hex() + "\n")
            out.write(value)
        out.write("DATA=END\n")
    return len(keys)
