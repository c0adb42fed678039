#!/usr/bin/env python3
"""Writes the tracing-cost tables of BENCHMARKS.md from `apiary-bench tracing`'s JSON.

    python3 Benchmarks/tracing_report.py Benchmarks/results-tracing.json [--markdown BENCHMARKS.md]

The tables go between the markers `<!-- tracing:begin -->` and `<!-- tracing:end -->`
(added before "## Optimisation log" when missing); the rest of the file is kept.
Ratios are computed within each run (each way against "off" of the same run) and
the median over runs is reported.
"""

import argparse
import json
import statistics

BEGIN, END = "<!-- tracing:begin -->", "<!-- tracing:end -->"
WAYS = [("off", "tracing off (no Configuration)"), ("rate-0.0001", "on, samplingRate 0.0001 (daprd's default)"),
        ("rate-1", "on, samplingRate 1, every span exported")]
PATHS = [("grpc", "gRPC GetState"), ("http", "HTTP GET state")]


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def fmt(value, digits=0):
    if value != value:
        return "–"
    return f"{value:,.{digits}f}"


def render(data):
    results = data["results"]
    runs = sorted({r["run"] for r in results})

    def one(run, way, path):
        return next((r for r in results if r["run"] == run and r["way"] == way and r["path"] == path), None)

    lines = [
        f"Machine: {data['machine']['cpus']} CPUs, {data['machine']['cpuModel']}; transport {data['transport']}; "
        f"{len(runs)} runs, the three ways measured in turn within each run (`{data['command']}`).",
        "",
        "| path | way | p50 µs (1 in flight) | calls/s (16 in flight) | apiary CPU s / 1000 calls | exports |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for path, path_name in PATHS:
        for way, way_name in WAYS:
            rows = [one(run, way, path) for run in runs]
            rows = [r for r in rows if r]
            lines.append(
                f"| {path_name} | {way_name} | {fmt(median([r['inFlight1']['p50'] for r in rows]))} | "
                f"{fmt(median([r['inFlight16']['throughput'] for r in rows]))} | "
                f"{fmt(median([r['inFlight16']['cpuPer1000'].get('apiary', float('nan')) for r in rows]), 3)} | "
                f"{fmt(median([r['exports'] for r in rows]))} |")
    lines += [
        "",
        "Ratios against tracing off, computed within each run, median over runs:",
        "",
        "| path | way | p50 / off | throughput / off | apiary CPU per call / off |",
        "|---|---|---:|---:|---:|",
    ]
    for path, path_name in PATHS:
        for way, way_name in WAYS[1:]:
            p50, throughput, cpu = [], [], []
            for run in runs:
                base, measured = one(run, "off", path), one(run, way, path)
                if not base or not measured:
                    continue
                p50.append(measured["inFlight1"]["p50"] / base["inFlight1"]["p50"])
                throughput.append(measured["inFlight16"]["throughput"] / base["inFlight16"]["throughput"])
                base_cpu = base["inFlight16"]["cpuPer1000"].get("apiary")
                if base_cpu:
                    cpu.append(measured["inFlight16"]["cpuPer1000"].get("apiary", float("nan")) / base_cpu)
            lines.append(f"| {path_name} | {way_name} | {fmt(median(p50), 2)} | {fmt(median(throughput), 2)} | "
                         f"{fmt(median(cpu), 2)} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--markdown", default="BENCHMARKS.md")
    args = parser.parse_args()
    with open(args.results, encoding="utf-8") as source:
        data = json.load(source)
    block = f"{BEGIN}\n{render(data)}\n{END}"
    with open(args.markdown, encoding="utf-8") as source:
        text = source.read()
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + block + text[text.index(END) + len(END):]
    else:
        anchor = "## Optimisation log"
        section = f"## Tracing cost\n\n{block}\n\n"
        text = text.replace(anchor, section + anchor, 1) if anchor in text else text + "\n" + section
    with open(args.markdown, "w", encoding="utf-8") as out:
        out.write(text)
    print(render(data))


if __name__ == "__main__":
    main()
