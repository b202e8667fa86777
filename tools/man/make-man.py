#!/usr/bin/env python3
"""Generates the man pages from what the program and the shipped config say.

  make-man.py DNSVERDICT CONFIG OUTDIR VERSION

dnsverdict.8: `dnsverdict --help` and every command's `--help`, as the program prints them.
dnsverdict.conf.5: conf/dnsverdict.conf, each key with the comment above it and its
shipped value. Both are rebuilt with the program, so they never describe another version.
"""
import re
import subprocess
import sys
from pathlib import Path


def roff_escape(line):
    line = line.replace("\\", "\\e")
    if line.startswith((".", "'")):
        line = "\\&" + line
    return line.replace("-", "\\-")


def preformatted(text):
    out = [".nf"]
    out += [roff_escape(line) if line.strip() else "" for line in text.rstrip("\n").split("\n")]
    out.append(".fi")
    return out


def help_of(program, *command):
    return subprocess.run([program, *command, "--help"], check=True, capture_output=True,
                          text=True).stdout


def commands_of(main_help):
    section = main_help.split("commands:", 1)[1].split("\n\n", 1)[0]
    return [m.group(1) for m in re.finditer(r"^  (\S+)\s", section, re.M)]


def header(name, section, version, title):
    return [f'.TH {name.upper()} {section} "" "dnsverdict {version}" "{title}"']


def page_8(program, version):
    main_help = help_of(program)
    commands = commands_of(main_help)
    summary = main_help.split("\n\n")[1].replace("\n", " ")
    out = header("dnsverdict", 8, version, "System Administration")
    out += [".SH NAME", "dnsverdict \\- compile, inspect and count DNS verdict stores",
            ".SH SYNOPSIS"]
    for command in commands:
        out += [f".B dnsverdict {command}", "[\\fIOPTIONS\\fR] ...", ".br"]
    out += [".SH DESCRIPTION", roff_escape(summary)]
    out += [".PP", "The Unbound module that applies the store, and its settings:",
            ".BR dnsverdict.conf (5)."]
    out += [".SH COMMANDS"]
    for command in commands:
        out += [f".SS {command}"] + preformatted(help_of(program, command))
    out += [".SH EXIT STATUS", "0 ok, 1 error, 2 usage error.",
            ".SH FILES",
            ".TP", "/etc/dnsverdict/feeds.manifest",
            "the feeds the dnsverdict\\-compile.service compiles (every 15 minutes, its timer)",
            ".TP", "/var/lib/dnsverdict/verdicts.mdb", "the verdict store Unbound reads",
            ".TP", "/var/lib/dnsverdict/stats.mdb", "the module's stats store (dnsverdict stats)",
            ".TP", "/var/log/dnsverdict/hits.jsonl", "the module's hit log",
            ".TP", "/usr/share/doc/dnsverdict/",
            "operations.md (install, upgrade, fleets, monitoring, incidents), cli.md, feeds.md, "
            "module.md, counters.md, estimation.md",
            ".SH SEE ALSO", ".BR dnsverdict.conf (5),", ".BR unbound (8),",
            ".BR unbound.conf (5)"]
    return out


def page_5(config, version):
    out = header("dnsverdict.conf", 5, version, "File Formats")
    out += [".SH NAME", "dnsverdict.conf \\- configuration of the dnsverdict Unbound module",
            ".SH SYNOPSIS", "/etc/dnsverdict/dnsverdict.conf", ".SH DESCRIPTION"]
    comments, intro_done, keys = [], False, []
    for raw in config.read_text().split("\n"):
        line = raw.rstrip()
        if line.startswith("#"):
            text = line[1:].strip()
            if re.fullmatch(r"[a-z0-9-]+:.*", text):  # a commented-out key: an example
                keys.append(([(text.split(":", 1)[0], "")], None, comments, text))
                comments = []
            else:
                comments.append(text)
        elif not line:
            if comments and not intro_done:
                out += [roff_escape(" ".join(comments)), ".PP"]
                intro_done = True
                comments = []
        else:
            key, value = (part.strip() for part in line.split(":", 1))
            if not comments and keys and keys[-1][3] is None:  # described with the key above
                keys[-1][0].append((key, value))
            else:
                keys.append(([(key, value)], None, comments, None))
            comments, intro_done = [], True
    out += ["Every key, with the value the shipped file sets:", ".SH KEYS"]
    for group, _, text, example in keys:
        for index, (key, value) in enumerate(group):
            shown = f" {value}" if value else ""
            out += [".TP" if index == 0 else ".TQ", f"\\fB{key}:\\fR{roff_escape(shown)}"]
        body = " ".join(text)
        if example:
            body += f" Not set in the shipped file; example: {example}"
        out.append(roff_escape(body.strip()) or "(no description)")
    out += [".SH CHECKING", "Check the file before (re)starting Unbound:",
            ".PP", ".B dnsverdict check\\-config /etc/dnsverdict/dnsverdict.conf",
            ".SH FILES", ".TP", "/etc/unbound/unbound.conf.d/dnsverdict.conf",
            "loads the module into Unbound (module\\-config, dynlib\\-file)",
            ".SH SEE ALSO", ".BR dnsverdict (8),", ".BR unbound.conf (5);",
            "/usr/share/doc/dnsverdict/module.md and counters.md"]
    return out


def main():
    program, config, outdir, version = sys.argv[1:5]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "dnsverdict.8").write_text("\n".join(page_8(program, version)) + "\n")
    (outdir / "dnsverdict.conf.5").write_text("\n".join(page_5(Path(config), version)) + "\n")


if __name__ == "__main__":
    main()
