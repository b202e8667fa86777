#!/usr/bin/env python3
"""docs/architecture.md matches the tree: every folder of module/ and tools/ is named there,
every path it names exists, and every library it names is a CMake target of that folder."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    text = open(os.path.join(ROOT, "docs", "architecture.md"), encoding="utf-8").read()
    failures = []
    for part in ("module", "tools"):
        for folder in sorted(os.listdir(os.path.join(ROOT, part))):
            if os.path.isdir(os.path.join(ROOT, part, folder)) and f"`{part}/{folder}/`" not in text:
                failures.append(f"{part}/{folder}/ is not described")
    for path in set(re.findall(r"`((?:module|tools)/[\w./]*)`", text)):
        if not os.path.exists(os.path.join(ROOT, path)):
            failures.append(f"{path} does not exist")
    for row in re.findall(r"^\| `((?:module|tools)/[\w/]*)` \| `(dnsverdict_\w+)`", text, re.M):
        folder, library = row
        cmake = "".join(open(os.path.join(dirpath, name), encoding="utf-8").read()
                        for dirpath, _, names in os.walk(os.path.join(ROOT, folder.rstrip("/")))
                        for name in names if name == "CMakeLists.txt" or name.endswith(".cmake"))
        cmake += open(os.path.join(ROOT, "module", "module.cmake")).read() if folder == "module/unbound/" else ""
        if f"add_library({library} " not in cmake:
            failures.append(f"{library} is not a library of {folder}")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
