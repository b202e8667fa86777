#!/usr/bin/env python3
"""The table of device scenarios in docs/estimation.md: writes the simulated populations of
tests/unit/estimate/device_sim.h as Unbound logs (tests/sim/device_scenarios), runs
`dnsverdict estimate --json` on each, and prints the truth beside the range.

    scripts/estimation-scenarios.py [--build BUILD] [--update FILE]

--update replaces the table between the <!-- scenarios:begin --> and <!-- scenarios:end -->
lines of FILE instead of printing it. `make estimation-table` builds what it needs and runs
it with --update docs/estimation.md."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

BEGIN, END = "<!-- scenarios:begin -->", "<!-- scenarios:end -->"


def grouped(value):
    return f"{value:,}"


def table(build):
    rows = ["| scenario | population | devices (truth) | addresses | low | middle | high | middle vs truth | IPv6 × churn × NAT | |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    notes = []
    with tempfile.TemporaryDirectory(prefix="dnsverdict-scenarios-") as folder:
        written = subprocess.run([os.path.join(build, "tests", "sim", "device_scenarios"), folder],
                                 check=True, capture_output=True, text=True).stdout
        for line in written.splitlines():
            scenario = json.loads(line)
            report = json.loads(subprocess.run(
                [os.path.join(build, "tools", "dnsverdict"), "estimate", "--no-progress", "--json",
                 "--indicators", os.path.join(folder, "campaign.csv"), scenario["log"]],
                check=True, capture_output=True, text=True).stdout)
            campaign = next(c for c in report["campaigns"] if c["name"] == "c")
            devices, factors = campaign["devices"], campaign["devices"]["factors"]
            truth = scenario["devices"]
            error = (devices["middle"] - truth) / truth
            held = devices["low"] <= truth <= devices["high"] and abs(error) <= 0.25
            mark = "✓" if held else "✗ (see below)"
            if scenario["limitation"]:
                notes.append(f"- **{scenario['name']}**: {scenario['limitation']}.")
            rows.append(f"| `{scenario['name']}` | {scenario['description']} | {grouped(truth)} | "
                        f"{grouped(scenario['addresses'])} | {grouped(devices['low'])} | "
                        f"{grouped(devices['middle'])} | {grouped(devices['high'])} | {error:+.1%} | "
                        f"{factors['ipv6']:.2f} × {factors['churn']:.2f} × {factors['nat']:.2f} | {mark} |")
    return "\n".join(rows + [""] + notes) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--update", metavar="FILE")
    arguments = parser.parse_args()
    text = table(arguments.build)
    if not arguments.update:
        sys.stdout.write(text)
        return 0
    document = open(arguments.update, encoding="utf-8").read()
    if BEGIN not in document or END not in document:
        sys.exit(f"{arguments.update}: no {BEGIN} ... {END} lines")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(arguments.update, "w", encoding="utf-8") as out:
        out.write(head + BEGIN + "\n" + text + END + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
