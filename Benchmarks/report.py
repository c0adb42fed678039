#!/usr/bin/env python3
"""Turns the JSON of `apiary-bench run` into the tables of BENCHMARKS.md and a
latency CDF (PNG).

Usage: python3 Benchmarks/report.py RESULTS.json [--baseline OTHER.json] [--markdown BENCHMARKS.md] [--png FILE]

With --baseline (a run of the same harness on the other gRPC transport), a table of
the main figures before and after is added.

Figures are medians over the runs; ratios are computed within each run (same
machine, same minute) and then their median is reported. The generated part of
the Markdown file sits between the markers `<!-- bench:begin -->` and
`<!-- bench:end -->`; everything else in the file (the optimisation log) is kept.
"""

import argparse
import json
import os
import statistics
import sys

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PATHS = [("direct", "(a) direct to the component"), ("grpc", "(b) via apiary gRPC API"), ("http", "(c) via apiary HTTP API")]
OPS = [("get", "state Get, 1 KiB"), ("publish", "Publish, 1 KiB")]


def median(values):
    values = [v for v in values if v is not None and v == v]
    return statistics.median(values) if values else None


def fmt(value, digits=0, unit=""):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def batches(results, op, path, key):
    return [m[key] for m in results["calls"] if m["operation"] == op and m["path"] == path and m.get(key)]


def per_run(results, op, path, key):
    return {m["run"]: m[key] for m in results["calls"] if m["operation"] == op and m["path"] == path and m.get(key)}


def floor_p50(results, mode="grpc", in_flight=1):
    return {f["run"]: f for f in results["floor"] if f["mode"] == mode and f["inFlight"] == in_flight}


def render(results):
    machine = results["machine"]
    lines = []
    add = lines.append
    add(f"Run of {results['date']} on {machine['cpus']} CPUs ({machine['cpuModel']}), "
        f"{fmt((machine.get('memoryBytes') or 0) / 2**30, 1)} GiB, Linux {machine['kernel']}; "
        f"{results['runs']} runs, medians shown.")
    add("")
    add(f"gRPC transport of apiary, the component and the clients: **{results.get('transport', 'nio')}**.")
    add("")
    add(f"Command: `{results['command']}`")
    add("")
    errors = sum(b["errors"] for m in results["calls"] for b in (m.get("inFlight1"), m.get("inFlight16"), m.get("inFlight64")) if b)
    add(f"Failed calls over the whole run: {errors}.")
    add("")

    add("### Latency (1 call in flight) and throughput")
    add("")
    add("| operation | path | p50 µs | p90 µs | p99 µs | calls/s, 16 in flight | calls/s, 64 in flight | CPU ms per call, 16 in flight: apiary / component / client |")
    add("|---|---|---:|---:|---:|---:|---:|---|")
    for op, op_name in OPS:
        for path, path_name in PATHS:
            one = batches(results, op, path, "inFlight1")
            sixteen = batches(results, op, path, "inFlight16")
            sixty_four = batches(results, op, path, "inFlight64")
            cpu = {who: median([b["cpuPer1000"].get(who) for b in sixteen]) for who in ("apiary", "component", "client")}
            cpu_text = " / ".join(
                "—" if (path == "direct" and who == "apiary") else fmt(cpu[who], 3) for who in ("apiary", "component", "client"))
            add(f"| {op_name} | {path_name} | {fmt(median([b['p50'] for b in one]))} | {fmt(median([b['p90'] for b in one]))} "
                f"| {fmt(median([b['p99'] for b in one]))} | {fmt(median([b['throughput'] for b in sixteen]))} "
                f"| {fmt(median([b['throughput'] for b in sixty_four]))} | {cpu_text} |")
    add("")
    add("CPU is seconds per 1000 calls (= ms per call) from /proc; the apiary column of (a) is empty because the sidecar is not on that path.")
    add("")

    if results["floor"]:
        add("### (d) The floor: C++ gRPC client → C++ gRPC echo server, Unix socket, 1 KiB (Benchmarks/floor); and the same client → a Swift server")
        add("")
        add("| transport | in flight | p50 µs | p90 µs | p99 µs | calls/s | CPU ms per call: client / server |")
        add("|---|---:|---:|---:|---:|---:|---|")
        labels = {"grpc": "C++ gRPC server (callback API)", "raw": "raw socket ping-pong",
                  "swift": f"Swift server, {results.get('transport', 'nio')} transport (apiary-bench echo-server)"}
        for mode in ("grpc", "raw", "swift"):
            for in_flight in (1, 16, 64):
                rows = [f for f in results["floor"] if f["mode"] == mode and f["inFlight"] == in_flight]
                if not rows:
                    continue
                add(f"| {labels[mode]} | {in_flight} "
                    f"| {fmt(median([r['p50'] for r in rows]), 1)} | {fmt(median([r['p90'] for r in rows]), 1)} "
                    f"| {fmt(median([r['p99'] for r in rows]), 1)} | {fmt(median([r['throughput'] for r in rows]))} "
                    f"| {fmt(median([r['clientCPUPer1000'] for r in rows]), 3)} / {fmt(median([r['serverCPUPer1000'] for r in rows]), 3)} |")
        add("")

    wakeups = wakeup_rows(results)
    if wakeups:
        add("### Wake-ups: context switches per call (voluntary + involuntary, all threads, /proc/PID/task/*/status)")
        add("")
        add("| process | 1 in flight | 16 in flight |")
        add("|---|---:|---:|")
        for label, one, sixteen in wakeups:
            add(f"| {label} | {fmt(one, 1)} | {fmt(sixteen, 2)} |")
        add("")

    add("### Ratios (computed within each run, median over runs)")
    add("")
    add("| operation | b / a (p50) | c / a (p50) | sidecar-added p50 (b − a) | (b − a) / d | throughput b / a, 64 in flight | throughput c / a, 64 in flight | apiary CPU per call (b) / C++ pair's, 16 in flight |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    pair16 = {f["run"]: f for f in results["floor"] if f["mode"] == "grpc" and f["inFlight"] == 16}
    floor = floor_p50(results)
    goals = {}
    for op, op_name in OPS:
        a1, b1, c1 = (per_run(results, op, p, "inFlight1") for p in ("direct", "grpc", "http"))
        a64, b64, c64 = (per_run(results, op, p, "inFlight64") for p in ("direct", "grpc", "http"))
        runs = sorted(set(a1) & set(b1))
        b_over_a = median([b1[r]["p50"] / a1[r]["p50"] for r in runs])
        c_over_a = median([c1[r]["p50"] / a1[r]["p50"] for r in runs if r in c1])
        added = median([b1[r]["p50"] - a1[r]["p50"] for r in runs])
        over_floor = median([(b1[r]["p50"] - a1[r]["p50"]) / floor[r]["p50"] for r in runs if r in floor])
        tb = median([b64[r]["throughput"] / a64[r]["throughput"] for r in sorted(set(a64) & set(b64))])
        tc = median([c64[r]["throughput"] / a64[r]["throughput"] for r in sorted(set(a64) & set(c64))])
        b16 = per_run(results, op, "grpc", "inFlight16")
        # The sidecar does one server hop and one client hop per call: the work of one
        # C++ client plus one C++ server.
        cpu_ratio = median([
            b16[r]["cpuPer1000"]["apiary"] / (pair16[r]["clientCPUPer1000"] + pair16[r]["serverCPUPer1000"])
            for r in sorted(set(b16) & set(pair16))
            if b16[r]["cpuPer1000"].get("apiary") and (pair16[r]["clientCPUPer1000"] + pair16[r]["serverCPUPer1000"]) > 0])
        goals[op] = (over_floor, tb, cpu_ratio)
        add(f"| {op_name} | {fmt(b_over_a, 2)} | {fmt(c_over_a, 2)} | {fmt(added, 0, ' µs')} | {fmt(over_floor, 2)} "
            f"| {fmt(tb and tb * 100, 0, ' %')} | {fmt(tc and tc * 100, 0, ' %')} | {fmt(cpu_ratio, 2)} |")
    add("")

    add("### Start-up, discovery, memory")
    add("")
    add("| measure | median | runs |")
    add("|---|---:|---|")
    for count in sorted({s["sockets"] for s in results["startup"]}):
        values = [s["seconds"] for s in results["startup"] if s["sockets"] == count]
        add(f"| start to ready (`apiary run` spawned → readiness 200), {count} component socket{'s' if count > 1 else ''} "
            f"| {fmt(median(values) and median(values) * 1000, 0, ' ms')} | {', '.join(fmt(v * 1000, 0) for v in values)} |")
    values = [s["seconds"] for s in results["discovery"]]
    discovered = max((s["sockets"] for s in results["discovery"]), default=0)
    add(f"| `apiary discover` of {discovered} sockets (process start to exit) | {fmt(median(values) and median(values) * 1000, 0, ' ms')} "
        f"| {', '.join(fmt(v * 1000, 0) for v in values)} |")
    memory = results["memory"]
    mib = lambda b: b and b / 2**20  # noqa: E731
    add(f"| apiary resident memory, 10 components, idle | {fmt(mib(memory.get('idleBytes')), 1, ' MiB')} | |")
    add(f"| apiary resident memory, 10 components, right after 64 in flight | {fmt(mib(memory.get('loadedBytes')), 1, ' MiB')} | |")
    add(f"| apiary peak resident memory (VmHWM) over the call benchmark | {fmt(mib(memory.get('peakBytes')), 1, ' MiB')} | |")
    add(f"| of which anonymous (RssAnon: heap and stacks, not shared with other processes), idle | {fmt(mib(memory.get('idleAnonBytes')), 1, ' MiB')} | |")
    add(f"| of which anonymous, right after 64 in flight | {fmt(mib(memory.get('loadedAnonBytes')), 1, ' MiB')} | |")
    for part, size in sorted((memory.get("idleSplit") or {}).items(), key=lambda kv: -kv[1]):
        add(f"| idle resident memory mapped from: {part} | {fmt(mib(size), 1, ' MiB')} | |")
    if memory.get("binaryBytes"):
        add(f"| size of the apiary executable measured | {fmt(mib(memory['binaryBytes']), 1, ' MiB')} | |")
    add("")

    add("### Against the goals")
    add("")
    startup100 = median([s["seconds"] for s in results["startup"] if s["sockets"] == 100])
    def verdict(ok):
        return "n/a" if ok is None else ("met" if ok else "**not met**")
    add("| goal | measured | |")
    add("|---|---|---|")
    for op, op_name in OPS:
        over_floor, tb, cpu_ratio = goals[op]
        add(f"| {op_name}: sidecar-added p50 ≤ 1.5 × floor | {fmt(over_floor, 2)} × | {verdict(None if over_floor is None else over_floor <= 1.5)} |")
        add(f"| {op_name}: apiary CPU per call ≤ 1.5 × the C++ pair's (client + server) | {fmt(cpu_ratio, 2)} × | {verdict(None if cpu_ratio is None else cpu_ratio <= 1.5)} |")
        add(f"| {op_name}: throughput via sidecar at 64 in flight ≥ 60 % of direct | {fmt(tb and tb * 100, 0, ' %')} | {verdict(None if tb is None else tb >= 0.6)} |")
    swift1 = floor_p50(results, "swift")
    cpp1 = floor_p50(results)
    hop = median([swift1[r]["p50"] / cpp1[r]["p50"] for r in sorted(set(swift1) & set(cpp1))])
    add(f"| one Swift server hop ÷ the C++ server (p50, 1 in flight) ≤ 1.3 | {fmt(hop, 2)} × | {verdict(None if hop is None else hop <= 1.3)} |")
    idle, loaded = memory.get("idleBytes"), memory.get("loadedBytes")
    add(f"| apiary RSS idle, 10 components ≤ 30 MiB | {fmt(mib(idle), 1, ' MiB')} | {verdict(None if idle is None else idle <= 30 * 2**20)} |")
    add(f"| apiary RSS after 64 in flight ≤ 40 MiB | {fmt(mib(loaded), 1, ' MiB')} | {verdict(None if loaded is None else loaded <= 40 * 2**20)} |")
    add(f"| start to ready, 100 sockets ≤ 0.4 s | {fmt(startup100, 2, ' s')} | {verdict(None if startup100 is None else startup100 <= 0.4)} |")
    get_switches = median([switches(b, "apiary") for b in batches(results, "get", "grpc", "inFlight1")])
    add(f"| apiary context switches per state Get (gRPC API), 1 in flight ≤ 10 | {fmt(get_switches, 1)} | {verdict(None if get_switches is None else get_switches <= 10)} |")
    get16 = median([switches(b, "apiary") for b in batches(results, "get", "grpc", "inFlight16")])
    cpp16 = median([f.get("serverSwitchesPerCall") for f in results["floor"] if f["mode"] == "grpc" and f["inFlight"] == 16])
    ratio16 = get16 / cpp16 if get16 is not None and cpp16 else None
    add(f"| apiary context switches per state Get at 16 in flight ≤ 1.5 × the C++ server's | {fmt(ratio16, 2)} × | {verdict(None if ratio16 is None else ratio16 <= 1.5)} |")
    return "\n".join(lines)


def switches(batch, who):
    return (batch.get("switchesPerCall") or {}).get(who)


def wakeup_rows(results):
    """(label, per call at 1 in flight, per call at 16) for apiary and the component on
    each path, and the floor's servers; empty for results without the counts."""
    rows = []
    for op, op_name in OPS:
        for path, path_name in PATHS:
            for who in ("apiary", "component"):
                if path == "direct" and who == "apiary":
                    continue
                one = median([switches(b, who) for b in batches(results, op, path, "inFlight1")])
                sixteen = median([switches(b, who) for b in batches(results, op, path, "inFlight16")])
                if one is not None or sixteen is not None:
                    rows.append((f"{who}, {op_name} {path_name}", one, sixteen))
    labels = {"grpc": "C++ gRPC echo server (callback API)",
              "swift": f"Swift echo server, {results.get('transport', 'nio')} transport"}
    for mode, label in labels.items():
        values = {n: median([f.get("serverSwitchesPerCall") for f in results["floor"]
                             if f["mode"] == mode and f["inFlight"] == n]) for n in (1, 16)}
        if values[1] is not None or values[16] is not None:
            rows.append((label, values[1], values[16]))
    return rows


def headline(results):
    """The main figures of one run, by name, for the before/after table."""
    figures = {}
    for op, op_name in OPS:
        for path, path_name in PATHS:
            figures[f"{op_name}: p50 {path_name}"] = (median([b["p50"] for b in batches(results, op, path, "inFlight1")]), 0, " µs")
        figures[f"{op_name}: calls/s via gRPC API, 64 in flight"] = (
            median([b["throughput"] for b in batches(results, op, "grpc", "inFlight64")]), 0, "")
        figures[f"{op_name}: apiary CPU per call via gRPC API, 16 in flight"] = (
            median([b["cpuPer1000"].get("apiary") for b in batches(results, op, "grpc", "inFlight16")]), 3, " ms")
    swift = [f["p50"] for f in results["floor"] if f["mode"] == "swift" and f["inFlight"] == 1]
    figures["C++ client → Swift echo server: p50"] = (median(swift), 0, " µs")
    swift_cpu = [f["serverCPUPer1000"] for f in results["floor"] if f["mode"] == "swift" and f["inFlight"] == 16]
    figures["C++ client → Swift echo server: server CPU per call, 16 in flight"] = (median(swift_cpu), 3, " ms")
    memory = results["memory"]
    for key, label in (("idleBytes", "RSS idle"), ("loadedBytes", "RSS after 64 in flight"),
                       ("idleAnonBytes", "anonymous idle"), ("loadedAnonBytes", "anonymous after 64 in flight")):
        value = memory.get(key)
        figures[f"apiary {label}"] = (value and value / 2**20, 1, " MiB")
    for count in sorted({s["sockets"] for s in results["startup"]}):
        value = median([s["seconds"] for s in results["startup"] if s["sockets"] == count])
        figures[f"start to ready, {count} sockets"] = (value and value * 1000, 0, " ms")
    return figures


def render_comparison(results, baseline):
    before, after = headline(baseline), headline(results)
    lines = [f"### Before and after: {baseline.get('transport', 'nio')} transport → {results.get('transport', 'nio')} transport",
             "",
             f"Two runs of the same harness, one after the other on this machine ({baseline['date']} and {results['date']}); "
             "medians of each run's repeats. The floor (d) is the same C++ pair in both.",
             "",
             f"| figure | {baseline.get('transport', 'nio')} | {results.get('transport', 'nio')} | after / before |",
             "|---|---:|---:|---:|"]
    for name, (value, digits, unit) in after.items():
        old = before.get(name, (None, digits, unit))[0]
        ratio = value / old if value is not None and old else None
        lines.append(f"| {name} | {fmt(old, digits, unit)} | {fmt(value, digits, unit)} | {fmt(ratio, 2)} |")
    return "\n".join(lines)


def write_markdown(path, generated, png_name):
    picture = f"\n\n![Latency CDF of a state Get, 1 in flight: direct vs via the sidecar]({png_name})" if png_name else ""
    body = f"{BEGIN}\n{generated}{picture}\n{END}"
    if os.path.exists(path):
        text = open(path, encoding="utf-8").read()
        if BEGIN in text and END in text:
            start, end = text.index(BEGIN), text.index(END) + len(END)
            text = text[:start] + body + text[end:]
        else:
            text = text.rstrip() + "\n\n" + body + "\n"
    else:
        text = "# Benchmarks\n\n" + body + "\n"
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def write_png(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    last = max(m["run"] for m in results["calls"])
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=110)
    for path_key, label in PATHS:
        for m in results["calls"]:
            if m["run"] == last and m["operation"] == "get" and m["path"] == path_key and m.get("inFlight1", {}).get("latencies"):
                values = m["inFlight1"]["latencies"]
                axis.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    axis.set_xscale("log")
    axis.set_xlabel("latency (µs, log scale)")
    axis.set_ylabel("fraction of calls")
    axis.set_title("State Get of 1 KiB, 1 call in flight")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--baseline", help="results of the other transport, for a before/after table")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    parser.add_argument("--png", default="Benchmarks/latency-cdf.png", help="the CDF plot (needs matplotlib); empty: none")
    args = parser.parse_args()
    results = json.load(open(args.results, encoding="utf-8"))
    generated = render(results)
    if args.baseline:
        generated = render_comparison(results, json.load(open(args.baseline, encoding="utf-8"))) + "\n\n" + generated
    print(generated)
    if args.png:
        write_png(results, args.png)
        picture = os.path.relpath(args.png, os.path.dirname(os.path.abspath(args.markdown)))
    else:
        picture = None
    write_markdown(args.markdown, generated, picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
