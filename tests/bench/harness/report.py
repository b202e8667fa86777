"""The Markdown section `make bench` writes into docs/benchmarks.md, between its markers.

Only the text between BEGIN and END is ever rewritten; the sections other engineers keep in
the same file (store micro-benchmarks, counters, estimate) are left as they are.
"""

import os
import time

from measure import median

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

VARIANT_TITLES = {
    "plain": "plain Unbound",
    "rpz": "Unbound + native RPZ",
    "dnsverdict": "Unbound + dnsverdict",
    "dnsdist": "dnsdist + LMDB → plain Unbound",
}
MB = 1024 * 1024


def update_doc(path, section):
    text = ""
    if os.path.exists(path):
        with open(path) as doc:
            text = doc.read()
    block = BEGIN + "\n" + section.rstrip("\n") + "\n" + END
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    elif text:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = "# Benchmarks\n\n" + block + "\n"
    temporary = path + ".tmp"
    with open(temporary, "w") as doc:
        doc.write(text)
    os.replace(temporary, path)


def fmt(value, pattern="%.2f", missing="—"):
    return missing if value is None else pattern % value


def ratio(value, base):
    if value is None or not base:
        return "—"
    return "%.2f×" % (value / base)


def cpu_median(figures, traffic):
    return median(run["cpu_us_per_query"] for run in figures["runs"].get(traffic, []))


def runs_median(runs):
    return median(run["cpu_us_per_query"] for run in runs) if runs else None


def cpu_range(figures, traffic):
    values = [run["cpu_us_per_query"] for run in figures["runs"].get(traffic, [])]
    return (min(values), max(values)) if values else (None, None)


def lost(figures, traffic):
    return sum((run["lost"] or 0) for run in figures["runs"].get(traffic, []))


def size_label(size):
    if size >= 1000000 and size % 1000000 == 0:
        return "%dM" % (size // 1000000)
    if size >= 1000 and size % 1000 == 0:
        return "%dk" % (size // 1000)
    return str(size)


def total_memory(figures):
    memory = dict(figures.get("memory") or {})
    backend = figures.get("backend_memory")
    if backend:
        for key in ("RssAnon", "RssFile"):
            memory[key] = memory.get(key, 0) + backend.get(key, 0)
    return memory


def micro_median(results, name):
    """Median real time in ns of a store_bench benchmark (name like lookup_miss/10000000)."""
    for entry in results.get("store") or []:
        if entry.get("run_name") == name and entry.get("aggregate_name") == "median":
            return to_ns(entry["real_time"], entry.get("time_unit", "ns"))
    for entry in results.get("store") or []:
        if entry.get("name") == name:
            return to_ns(entry["real_time"], entry.get("time_unit", "ns"))
    return None


def to_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}.get(unit, 1)


def compile_rate_micro(results):
    line = results.get("compile_line") or ""
    if "rules/s" in line:
        return float(line.split(" = ")[1].split()[0])
    return None


def verdict(ok):
    return "**met**" if ok else "**not met**"


def targets(results):
    """[(figure, target, measured text, met or None)] as the targets table lists them."""
    sizes = results["sizes"]
    rows = []

    def variant(size, name):
        return sizes.get(size, {}).get("variants", {}).get(name)

    def cpu_row(title, limit, base, value):
        target = "≤ %.2f× plain" % limit
        if base and value:
            rows.append((title, target, "%.3f× (%.2f µs vs %.2f µs, medians)" % (
                value / base, value, base), value / base <= limit))
        else:
            rows.append((title, target, "not measured in this run", None))

    for size in (1000000, 10000000):
        label = size_label(size)
        plain, module = variant(size, "plain"), variant(size, "dnsverdict")
        cpu_row("Unbound CPU per query, pass traffic, %s rules" % label, 1.02,
                plain and cpu_median(plain, "pass"), module and cpu_median(module, "pass"))
        two = sizes.get(size, {}).get("two_threads") or {}
        if two:
            cpu_row("same, Unbound at two threads, %s rules" % label, 1.02,
                    runs_median(two.get("plain", {}).get("pass")),
                    runs_median(two.get("dnsverdict", {}).get("pass")))
        cpu_row("Unbound CPU per query, mix 10%% listed, %s rules" % label, 1.10,
                plain and cpu_median(plain, "mix"), module and cpu_median(module, "mix"))
        if two:
            cpu_row("same, Unbound at two threads, %s rules" % label, 1.10,
                    runs_median(two.get("plain", {}).get("mix")),
                    runs_median(two.get("dnsverdict", {}).get("mix")))

    for size in (1000000, 10000000):
        label = size_label(size)
        counted = (sizes.get(size, {}).get("instructions") or {}).get("variants") or {}
        figure = lambda name, traffic: ((counted.get(name) or {}).get(traffic) or {}).get(
            "per_query")
        plain, idle, module = (figure("plain", "pass"), figure("plain+idle", "pass"),
                               figure("dnsverdict", "pass"))
        title = "instructions added per cached pass query (module's own), %s rules" % label
        if plain and idle and module:
            rows.append((title, "≤ 250 (dnsverdict − plain + idle thread)",
                         "%+.0f (%.0f vs %.0f; the threads' share apart: %+.0f)" % (
                             module - idle, module, idle, idle - plain), module - idle <= 250))
        else:
            rows.append((title, "≤ 250", "not measured in this run", None))
        plain, module = figure("plain", "mix"), figure("dnsverdict", "mix")
        title = "instructions per query, mix 10%% listed, %s rules" % label
        if plain and module:
            rows.append((title, "≤ 1.10× plain", "%.3f× (%.0f vs %.0f)" % (
                module / plain, module, plain), module / plain <= 1.10))
        else:
            rows.append((title, "≤ 1.10× plain", "not measured in this run", None))

    big = max(sizes) if sizes else None
    plain, module = (variant(big, "plain"), variant(big, "dnsverdict")) if big else (None, None)
    big_label = size_label(big) if big else "?"
    if plain and module:
        base, value = total_memory(plain), total_memory(module)
        anon = (value.get("RssAnon", 0) - base.get("RssAnon", 0)) / MB
        file_backed = (value.get("RssFile", 0) - base.get("RssFile", 0)) / MB
        # Judged on anonymous memory: the store's resident pages are file-backed page cache,
        # shared and reclaimable (and inflated by the kernel's fault-around, see the notes).
        rows.append(("memory added, %s rules" % big_label, "≤ 20 MB",
                     "anonymous %+.1f MB; file-backed %+.1f MB (mapped store pages)" % (
                         anon, file_backed),
                     anon <= 20))
        base_start = median(plain["start_seconds"])
        value_start = median(module["start_seconds"])
        rows.append(("start to first answer, %s rules" % big_label, "≤ 100 ms more than plain",
                     "%+.0f ms (%.0f ms vs %.0f ms)" % ((value_start - base_start) * 1000,
                                                       value_start * 1000, base_start * 1000),
                     value_start - base_start <= 0.1))
    else:
        rows.append(("memory added, %s rules" % big_label, "≤ 20 MB", "not measured", None))
        rows.append(("start to first answer, %s rules" % big_label, "≤ 100 ms more than plain",
                     "not measured", None))

    swaps = [(size, entry["swap"]) for size, entry in sorted(sizes.items()) if entry.get("swap")]
    if swaps:
        times = [swap["seconds"] for _, entry in swaps for swap in entry["swaps"]]
        lost_total = sum(entry["load"]["lost"] or 0 for _, entry in swaps)
        servfail = sum(entry["load"]["rcodes"].get("SERVFAIL", 0) for _, entry in swaps)
        worst = None if None in times else max(times)
        rows.append(("new store visible after rename", "≤ 1 s, 0 queries lost",
                     "worst %s over %d swaps (%s rules); %d lost, %d SERVFAIL" % (
                         "never" if worst is None else "%.2f s" % worst, len(times),
                         ", ".join(size_label(size) for size, _ in swaps), lost_total, servfail),
                     worst is not None and worst <= 1.0 and lost_total == 0 and servfail == 0))
    else:
        rows.append(("new store visible after rename", "≤ 1 s, 0 queries lost", "not measured", None))

    micro = results.get("micro") or {}
    micro_size = max((int(s) for s in results["args"].get("micro_sizes") or []), default=None)
    miss = micro_median(micro, "lookup_miss/%s" % micro_size) if micro_size else None
    hit = micro_median(micro, "lookup_hit/%s" % micro_size) if micro_size else None
    if miss is not None and hit is not None:
        rows.append(("lookup, %s rules (micro)" % size_label(micro_size),
                     "miss ≤ 150 ns, hit ≤ 500 ns",
                     "miss %.0f ns, hit %.0f ns" % (miss, hit), miss <= 150 and hit <= 500))
    else:
        rows.append(("lookup (micro)", "miss ≤ 150 ns, hit ≤ 500 ns", "not measured", None))

    def compile_rate(size, entry):
        runs = entry.get("compile_runs") or [entry["compile_seconds"]]
        text = "%s rules: %.2fM rules/s (%.2fM per CPU second)" % (
            size_label(size), size / entry["compile_seconds"] / 1e6,
            size / max(entry.get("compile_cpu_seconds", 0), 1e-9) / 1e6)
        if len(runs) > 1:
            text += ", median of %d runs of %.2f–%.2f s" % (len(runs), min(runs), max(runs))
        return text

    compile_rates = [compile_rate(int(size), entry)
                     for size, entry in sorted(results["data"].items(), key=lambda kv: int(kv[0]))]
    # Judged on a 1M-name list (the largest list compiled when 1M was not).
    judged = 1000000 if any(int(size) == 1000000 for size in results["data"]) else big
    data_judged = results["data"].get(judged) or results["data"].get(str(judged))
    cli_rate = judged / data_judged["compile_seconds"] if data_judged else None
    micro_rate = compile_rate_micro(micro)
    text = "`dnsverdict compile` from a plain list, wall clock: " + "; ".join(compile_rates)
    if micro_rate:
        text += "; in-process (store_bench): %.2fM rules/s" % (micro_rate / 1e6)
    text += "; judged on the %s list" % size_label(judged) if judged else ""
    rows.append(("compile", "≥ 1M rules/s", text, cli_rate is not None and cli_rate >= 1e6))
    return rows


def rpz_extrapolation(results, size):
    """Why native RPZ is left out at `size`: what the largest RPZ measured in this run cost."""
    measured = [(int(s), e["variants"]["rpz"]) for s, e in results["sizes"].items()
                if "rpz" in e["variants"]]
    if not measured:
        return ""
    rpz_size, figures = max(measured)
    start = median(figures["start_seconds"])
    anon = (figures.get("memory") or {}).get("RssAnon", 0) / MB
    factor = size / rpz_size
    return ("In this run native RPZ with %s rules took %.1f s to answer and %.0f MB of "
            "anonymous memory; both grow with the rules, so %s rules would need about %.0f s and "
            "%.1f GB, beyond what the 30-minute budget and this shared machine allow "
            "(`BENCH_ARGS=--rpz-max=%d` tries it, bounded in time and address space)." % (
                size_label(rpz_size), start, anon, size_label(size), start * factor,
                anon * factor / 1024, size))


def with_int_sizes(results):
    """The same results with rule-set sizes as int keys (JSON turns them into strings), so
    that a results.json can be rendered again: report.py --render FILE."""
    results = dict(results)
    for part in ("sizes", "data"):
        results[part] = {int(size): value for size, value in results[part].items()}
    return results


IR_TRAFFIC = (("pass", "pass (cache hits)"), ("mix", "mix 10% listed"),
              ("unique", "never seen"))


def render_instructions(add, counted):
    add("### Instructions per query (callgrind)")
    add("")
    add("User-space instructions inside Unbound's UDP receive callback per query "
        "(tests/bench/harness/callgrind.py): one Unbound at a time under valgrind's callgrind, "
        "one worker thread, warmed twice, then each traffic file asked once, one query at a "
        "time (pass and mix traffic asked once more just before); the count covers exactly "
        "that pass, and for pass and mix traffic Unbound's statistics must show every query "
        "answered from the cache (0 cache misses; the mix's blocked answers are cached "
        "too). *plain + idle "
        "thread*: plain Unbound with one idle thread preloaded, as the module's watcher and "
        "flusher threads make the process multi-threaded (glibc's cancellation wrappers "
        "around recvfrom/sendto); dnsverdict minus that is the module's own work.")
    add("")
    add("| rules | traffic | queries | plain | plain + idle thread | dnsverdict | "
        "module's own (− plain + idle) | threads (idle − plain) | × plain |")
    add("|---|---|---|---|---|---|---|---|---|")
    for size, figures in counted:
        variants = figures["variants"]
        for traffic, label in IR_TRAFFIC:
            plain = (variants.get("plain") or {}).get(traffic)
            idle = (variants.get("plain+idle") or {}).get(traffic)
            module = (variants.get("dnsverdict") or {}).get(traffic)
            if not plain:
                continue
            clean = all(f is None or f.get("clean", True) for f in (plain, idle, module))
            add("| %s | %s | %d | %.0f | %s | %s | %s | %s | %s |" % (
                size_label(int(size)), label + ("" if clean else " (not clean)"),
                plain["queries"], plain["per_query"],
                fmt(idle and idle["per_query"], "%.0f"), fmt(module and module["per_query"], "%.0f"),
                fmt(module and idle and module["per_query"] - idle["per_query"], "%+.0f"),
                fmt(idle and idle["per_query"] - plain["per_query"], "%+.0f"),
                fmt(module and module["per_query"] / plain["per_query"], "%.3f×")))
    add("")
    for size, figures in counted:
        module = (figures["variants"].get("dnsverdict") or {}).get("pass") or {}
        if not module.get("functions"):
            continue
        add("dnsverdict at %s rules, pass traffic: the module's functions, inclusive "
            "instructions per query (callgrind_annotate --inclusive=yes; a function's figure "
            "includes what it calls):" % size_label(int(size)))
        add("")
        add("| instructions | function | object |")
        add("|---|---|---|")
        for per_query, name, obj in module["functions"]:
            add("| %.1f | `%s` | %s |" % (per_query, name.replace("|", "\\|"), obj or "—"))
        add("")


def render(results):
    results = with_int_sizes(results)
    environment = results["environment"]
    args = results["args"]
    lines = []
    add = lines.append
    add("## Resolver benchmarks")
    add("")
    add("Written by `make bench` on %s (%.0f min); rerun it rather than edit this section. "
        "Raw figures: `%s/results.json`." % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(
                                                 results.get("finished"))),
                                             results["seconds"] / 60,
                                             os.path.relpath(args["work"], os.getcwd())
                                             if args["work"].startswith(os.getcwd()) else args["work"]))
    add("")
    add("| machine and versions | |")
    add("|---|---|")
    load = environment["load_at_start"]
    add("| machine | %d cores, %s, %.1f GB RAM, Linux %s; load average at start %.2f %.2f %.2f |" % (
        environment["nproc"], environment["cpu"], environment["memory_gb"], environment["kernel"],
        load[0], load[1], load[2]))
    add("| Unbound | %s (one worker thread unless said, built with the dynlib module) |"
        % environment["unbound"])
    build_ids = ", ".join("%s: `%s`" % (size_label(int(size)), entry.get("build_id", "?"))
                          for size, entry in sorted(results["data"].items(), key=lambda kv: int(kv[0])))
    add("| dnsverdict | %s; store build ids %s |" % (environment["dnsverdict"], build_ids))
    add("| dnsdist | %s |" % environment["dnsdist"])
    add("| dnsperf | %s |" % environment["dnsperf"])
    add("| NSD (upstream) | %s |" % environment["nsd"])
    add("")
    add("Command: `%s`" % (args.get("command") or "make bench"))
    add("")

    add("### Targets")
    add("")
    add("| figure | target | measured | |")
    add("|---|---|---|---|")
    for figure, target, measured, met in targets(results):
        add("| %s | %s | %s | %s |" % (figure, target, measured,
                                       "not measured" if met is None else verdict(met)))
    add("")
    for size, entry in sorted(results["sizes"].items(), key=lambda kv: int(kv[0]))[-1:]:
        hit_log = entry.get("hit_log")
        if hit_log:
            added = (hit_log["with"].get("RssAnon", 0) - hit_log["without"].get("RssAnon", 0)) / MB
            add("The dnsverdict variant runs without a hit log, as the others log nothing. "
                "Turning on the hit log with its default capacity adds %.1f MB of anonymous "
                "memory at start (%s rules; it does not depend on the rules)."
                % (added, size_label(int(size))))
            add("")

    add("### Per rule-set size")
    add("")
    add("CPU: µs of the server's CPU time (utime+stime) per answered query at a fixed offered "
        "rate, median of the runs; for dnsdist, dnsdist's and its Unbound's together. "
        "Ratios are to plain Unbound of the same size.")
    add("")
    for size, entry in sorted(results["sizes"].items(), key=lambda kv: int(kv[0])):
        variants = entry["variants"]
        plain = variants.get("plain")
        add("#### %s rules" % size_label(int(size)))
        add("")
        add("| variant | CPU pass (%d qps) | × | range | CPU mix 10%% listed | × | CPU never seen (%d qps) | × "
            "| saturating qps | × | RssAnon MB | RssFile MB | start to first answer |"
            % (args["rate"], args["unique_rate"]))
        add("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in ("plain", "rpz", "dnsverdict", "dnsdist"):
            figures = variants.get(name)
            if figures is None:
                continue
            low, high = cpu_range(figures, "pass")
            row = [VARIANT_TITLES[name]]
            for traffic in ("pass", "mix", "unique"):
                value = cpu_median(figures, traffic)
                row += ["%.2f µs" % value if value is not None else "—",
                        ratio(value, cpu_median(plain, traffic) if plain else None)]
                if traffic == "pass":
                    row.append("%s–%s" % (fmt(low), fmt(high)))
            qps = (figures.get("saturating") or {}).get("qps")
            row += ["{:,.0f}".format(qps) if qps else "—",
                    ratio(qps, (plain.get("saturating") or {}).get("qps") if plain else None)]
            memory = total_memory(figures)
            row += ["%.1f" % (memory.get("RssAnon", 0) / MB), "%.1f" % (memory.get("RssFile", 0) / MB)]
            starts = [s for s in figures["start_seconds"] if s is not None]
            row.append("%.0f ms" % (median(starts) * 1000) if starts else "—")
            add("| " + " | ".join(row) + " |")
        add("")
        notes = []
        for name, reason in sorted(entry["skipped"].items()):
            note = "%s: not measured (%s)." % (VARIANT_TITLES[name], reason)
            if name == "rpz" and "--rpz-max" in reason:
                note += " " + rpz_extrapolation(results, int(size))
            notes.append(note)
        losses = ["%s %d" % (VARIANT_TITLES[name], sum(lost(figures, t) for t in ("pass", "mix", "unique")))
                  for name, figures in variants.items()]
        notes.append("Queries lost over all fixed-rate runs: " + ", ".join(losses) + ".")
        profile = (variants.get("dnsverdict") or {}).get("profile")
        if profile:
            notes.append("perf, one more pass run at %d qps: dnsverdict.so with libxxhash and "
                          "liblmdb took %.2f%% of the dnsverdict server's CPU samples (kernel "
                          "%.1f%%, unbound %.1f%%)." % (
                              args["rate"], profile["module_percent"],
                              profile["by_object"].get("[kernel.kallsyms]", 0),
                              profile["by_object"].get("unbound", 0)))
        data = results["data"].get(size) or results["data"].get(str(size)) or {}
        store_note = "Store %.1f MB, compiled in %.1f s" % (data.get("store_bytes", 0) / MB,
                                                             data.get("compile_seconds", 0))
        if data.get("rpz_bytes"):
            store_note += "; RPZ dump %.1f MB, written in %.1f s" % (data["rpz_bytes"] / MB,
                                                                     data["dump_seconds"])
        notes.append(store_note + ".")
        for note in notes:
            add("- " + note)
        add("")

    two = [(size, entry["two_threads"]) for size, entry in
           sorted(results["sizes"].items(), key=lambda kv: int(kv[0])) if entry.get("two_threads")]
    if two:
        add("### Unbound at two threads")
        add("")
        add("Plain Unbound and Unbound + dnsverdict again with `num-threads: 2` (both servers at "
            "once, warmed, rounds alternating), pass and mix traffic at %d qps: µs of CPU per "
            "answered query, median of the runs (range)." % args["rate"])
        add("")
        add("| rules | traffic | plain | dnsverdict | × plain |")
        add("|---|---|---|---|---|")
        for size, figures in two:
            for traffic, label in (("pass", "pass"), ("mix", "mix 10% listed")):
                plain = (figures.get("plain") or {}).get(traffic) or []
                module = (figures.get("dnsverdict") or {}).get(traffic) or []
                if not plain or not module:
                    continue
                base, value = runs_median(plain), runs_median(module)
                span = lambda runs: "%.2f–%.2f" % (min(r["cpu_us_per_query"] for r in runs),
                                                    max(r["cpu_us_per_query"] for r in runs))
                add("| %s | %s | %.2f µs (%s) | %.2f µs (%s) | %s |" % (
                    size_label(int(size)), label, base, span(plain), value, span(module),
                    ratio(value, base)))
        add("")

    swaps = [(size, entry["swap"]) for size, entry in sorted(results["sizes"].items(), key=lambda kv: int(kv[0]))
             if entry.get("swap")]
    if swaps:
        add("### Hot swap (dnsverdict)")
        add("")
        add("A complete store renamed over the live path while dnsperf offers a fixed rate of "
            "cached pass traffic; each swap alternately adds and removes a rule for a marker "
            "name that was asked (and cached) just before. Time: rename until the marker's "
            "answer flips, polled every 10 ms.")
        add("")
        add("| rules | swaps | new verdict visible after | load | answered | lost | SERVFAIL "
            "| lost in the same load without a swap |")
        add("|---|---|---|---|---|---|---|---|")
        for size, swap in swaps:
            times = ", ".join("never" if s["seconds"] is None else "%.2f s" % s["seconds"]
                              for s in swap["swaps"])
            load = swap["load"]
            baseline = swap.get("baseline") or {}
            add("| %s | %d | %s | %d qps | %d of %d | %d | %d | %s of %s |" % (
                size_label(int(size)), len(swap["swaps"]), times, swap["rate"], load["completed"],
                load["sent"], load["lost"] or 0, load["rcodes"].get("SERVFAIL", 0),
                baseline.get("lost", "—"), baseline.get("sent", "—")))
        add("")

    counted = [(size, entry["instructions"]) for size, entry in
               sorted(results["sizes"].items(), key=lambda kv: int(kv[0]))
               if entry.get("instructions")]
    if counted:
        render_instructions(add, counted)

    micro = results.get("micro") or {}
    if micro.get("store") or micro.get("other"):
        add("### Micro-benchmarks")
        add("")
        if micro.get("compile_line"):
            add("store_bench: %s" % micro["compile_line"])
            add("")
        add("| benchmark | median | ")
        add("|---|---|")
        for entry in micro.get("store") or []:
            if entry.get("aggregate_name") in (None, "", "median"):
                add("| store_bench %s | %.0f ns |" % (entry.get("run_name", entry["name"]),
                                                     to_ns(entry["real_time"], entry.get("time_unit", "ns"))))
        for program, entries in sorted(micro.get("other", {}).items()):
            if isinstance(entries, str):
                entries = [entries]
            for entry in entries:
                if isinstance(entry, str):  # a line a plain program printed
                    add("| %s | %s |" % (program, entry.replace("|", "\\|")))
                    continue
                if entry.get("aggregate_name") in (None, "", "median"):
                    add("| %s %s | %.0f ns |" % (program, entry.get("run_name") or entry["name"],
                                                to_ns(entry["real_time"], entry.get("time_unit", "ns"))))
        add("")

    add("### How it was measured")
    add("")
    add("- Data (tests/bench/harness/datagen.py, fixed seeds): rule sets are plain domain lists "
        "of random `<12 hex>.benchN` names (subtree rules, action nxdomain); the smaller sets are "
        "prefixes of the larger. Pass traffic: 200,000 queries drawn from a pool of 10,000 names "
        "that no rule covers (1–3 labels above the registered name), all cached after warm-up. "
        "Mix: the same with 10% listed names or names below them. Never seen: names asked once "
        "each (a new file per round), so every query recurses to NSD.")
    add("- Upstream: NSD on loopback serving one small zone per TLD `bench0`–`bench7` with a "
        "wildcard `A`; Unbound reaches it through `stub-zone:` clauses (`qname-minimisation: no`, "
        "`do-not-query-localhost: no`, one thread, `verbosity: 0`, default cache sizes).")
    add("- Variants: plain = `module-config: \"validator iterator\"`; native RPZ = "
        "`\"respip validator iterator\"` with an `rpz:` clause whose zone file is "
        "`dnsverdict dump --format rpz` of the same compiled store (a subtree rule becomes "
        "`name` and `*.name`, two records per rule); dnsverdict = "
        "`\"dynlib validator iterator\"` with build/module/dnsverdict.so and the module's "
        "defaults (check-interval 1 s) but no hit log, like the other variants (its memory is "
        "measured apart); dnsdist = "
        "Debian's dnsdist with `newLMDBKVStore` (DNS wire-format keys, loaded with `mdb_load`) "
        "and `KeyValueStoreLookupRule(kvs, KeyValueLookupKeySuffix())` → NXDOMAIN, in front of "
        "its own plain Unbound.")
    add("- Every variant of a size runs at once on its own port; each is warmed with every "
        "pool and listed name, then measured in rounds whose order rotates (A B C, B C A, …). "
        "Fixed-rate runs: %d rounds of pass traffic (%.0f s each), %d of mix and never-seen "
        "(%.0f s each). "
        "Saturating qps: one dnsperf process, %.0f s, no rate limit — dnsperf on the same 2 cores "
        "saturates near the server's speed, so that column says less than the CPU columns." % (
            args["runs"], args["seconds"], args["other_runs"], args["other_seconds"],
            args["saturate_seconds"]))
    add("- Memory: RssAnon and RssFile from /proc/PID/status after warm-up. A mapped store's "
        "pages count as file-backed: they are the kernel's page cache, shared between processes "
        "and reclaimable, and RssFile overstates what queries touched, since a page fault on a "
        "file mapping maps up to 64 KB of neighbouring cached pages (fault-around). The memory "
        "target is therefore judged on RssAnon; RssFile is shown beside it. Start to "
        "first answer: from exec until a UDP query is answered, polled every 5 ms (median of "
        "%d starts for plain and dnsverdict, one for the others)." % args["starts"])
    add("")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse
    import json
    parser = argparse.ArgumentParser(description="Render a bench results.json again")
    parser.add_argument("results")
    parser.add_argument("--doc", help="rewrite the bench section of this file instead of printing")
    options = parser.parse_args()
    with open(options.results) as data:
        section = render(json.load(data))
    if options.doc:
        update_doc(options.doc, section)
    else:
        print(section)
