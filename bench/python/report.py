#!/usr/bin/env python3
"""Builds bench/RESULTS.md and bench/plots/*.png from one scripts/bench run.

Inputs (in --raw): bench_<module>.json (Google Benchmark JSON), *.rss (peak
RSS in KiB of each program), python.jsonl (bench/python/mp_baselines.py).
The comparisons (ours vs each baseline) are declared in bench/python/workloads.py.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import workloads  # noqa: E402


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_time(raw):
    """When the benchmark run started (scripts/bench writes run.time), else now."""
    try:
        return open(os.path.join(raw, "run.time")).read().strip()
    except OSError:
        return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def load_raw(raw):
    gb = {}   # benchmark name -> record (with module)
    rss = {}
    for path in sorted(glob.glob(os.path.join(raw, "bench_*.json"))):
        module = os.path.basename(path)[: -len(".json")]
        try:
            data = json.load(open(path))
        except (OSError, ValueError):
            continue
        medians = []
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                # With --benchmark_repetitions the median stands for the benchmark.
                if b.get("aggregate_name") == "median":
                    medians.append(b)
                continue
            b["module"] = module
            gb[b["name"]] = b
        for b in medians:
            b["module"] = module
            b["name"] = b.get("run_name", b["name"])
            gb[b["name"]] = b
    for path in glob.glob(os.path.join(raw, "*.rss")):
        try:
            rss[os.path.basename(path)[:-4]] = int(open(path).read().strip())
        except (OSError, ValueError):
            pass
    py = {}
    p = os.path.join(raw, "python.jsonl")
    if os.path.exists(p):
        for line in open(p):
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                py[r["name"]] = r
    return gb, rss, py


UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def metric(rec, what):
    """what: 'rate:<counter>' (higher is better), 'time' (ns per iteration, lower is better),
    or 'counter:<name>' (raw counter, lower is better)."""
    if rec is None:
        return None
    if "value" in rec and "unit" in rec and "module" not in rec:  # python record
        if what == "py_us":  # microseconds -> ns, to compare with Google Benchmark times
            return rec["value"] * 1e3
        return rec["value"]
    if what == "time":
        return rec["real_time"] * UNIT_NS.get(rec.get("time_unit", "ns"), 1.0)
    kind, _, name = what.partition(":")
    v = rec.get(name)
    return float(v) if v is not None else None


def find(gb, py, ref):
    src, name = ref
    if src == "py":
        return py.get(name)
    # name may be a regex; take the first match
    if name in gb:
        return gb[name]
    rx = re.compile(name)
    for k, v in gb.items():
        if rx.fullmatch(k):
            return v
    return None


def fmt(v, unit):
    if v is None:
        return "n/a"
    if unit.endswith("/s"):
        for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if v >= div:
                return "%.2f %s%s" % (v / div, suf, unit)
        return "%.1f %s" % (v, unit)
    if unit == "ns":
        if v >= 1e6:
            return "%.2f ms" % (v / 1e6)
        if v >= 1e3:
            return "%.2f us" % (v / 1e3)
        return "%.1f ns" % v
    return "%.3g %s" % (v, unit)


def ratio(ours, base, higher_better):
    if ours is None or base is None or ours == 0 or base == 0:
        return None
    return ours / base if higher_better else base / ours


def gnuplot(script):
    if not shutil.which("gnuplot"):
        return False
    subprocess.run(["gnuplot"], input=script.encode(), check=False)
    return True


def section_lines(section, gb, py, ratios=None):
    """The lines of one section's table; each ratio that could be computed is
    also appended to `ratios` (label, ratio) when a list is given (the plot)."""
    L = ["## %s\n" % section["title"]]
    if section.get("note"):
        L.append(section["note"] + "\n")
    L.append("| workload | procs/cores | ours | baseline | baseline figure | ratio |")
    L.append("|---|---|---|---|---|---|")
    for w in section["rows"]:
        hb = w.get("higher_better", True)
        ours = metric(find(gb, py, w["ours"]), w["metric"])
        for label, ref, bmetric in w["baselines"]:
            base = metric(find(gb, py, ref), bmetric)
            r = ratio(ours, base, hb)
            if r is not None and ratios is not None:
                ratios.append(("%s vs %s" % (w["name"], label), r))
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                w["name"], w.get("procs", "1") + "/%d" % os.cpu_count(), fmt(ours, w["unit"]), label,
                fmt(base, w["unit"]), "%.2fx" % r if r is not None else "n/a"))
    return L


def splice_section(a, gb, py):
    """--only: replace one section of an existing report with figures from a partial run."""
    path = os.path.join(a.out, "RESULTS.md")
    text = open(path).read().split("\n")
    section = next(x for x in workloads.SECTIONS if x["title"] == a.only)
    new = section_lines(section, gb, py)
    new.insert(1, "This section alone comes from a later run (`%s`, %s; load average %s at the start), not from "
                  "the run named at the top: its figures and their baselines were measured together in that run.\n"
               % (a.command, run_time(a.raw), open(os.path.join(a.raw, "load.avg")).read().strip()
                  if os.path.exists(os.path.join(a.raw, "load.avg")) else "n/a"))
    start = text.index("## %s" % section["title"])
    end = next(i for i in range(start + 1, len(text)) if text[i].startswith("## "))
    text[start:end] = new + [""]
    modules = {r["module"] for r in gb.values()}
    rows = ["| %s | %s | %s | %s |" % (r["module"], n, fmt(metric(r, "time"), "ns"), ", ".join(
        "%s=%s" % (k, fmt(float(v), "/s") if k.endswith("per_second") else "%.4g" % float(v)) for k, v in r.items()
        if k in ("items_per_second", "bytes_per_second", "p50_ns", "p99_ns", "p999_ns"))) for n, r in gb.items()]
    # Only the rows of the per-benchmark table are replaced: the memory table
    # above it also starts its rows with a program name, and keeps them.
    every = text.index("## Every benchmark of this run")
    kept = text[:every] + [l for l in text[every:] if not any(l.startswith("| %s | " % m) for m in modules)]
    at = kept.index("## Every benchmark of this run") + 4
    kept[at:at] = rows
    with open(path, "w") as f:
        f.write("\n".join(kept))
    print("report: replaced section '%s' and the rows of %s in %s" % (a.only, ", ".join(sorted(modules)), path))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", default="scripts/bench")
    ap.add_argument("--only", default=None,
                    help="regenerate one section (its title) in the existing OUT/RESULTS.md from a partial run, "
                         "and the rows of the programs that run measured in 'Every benchmark of this run'")
    a = ap.parse_args()
    gb, rss, py = load_raw(a.raw)
    if a.only:
        splice_section(a, gb, py)
        return
    plots = os.path.join(a.out, "plots")
    os.makedirs(plots, exist_ok=True)

    L = []
    L.append("# Benchmark results\n")
    L.append("Generated by `bench/python/report.py` from one run of `%s` on %s. Do not edit by hand: "
             "rerun the command.\n" % (a.command, run_time(a.raw)))
    L.append("- Machine: %d cores, `%s`, Linux %s" % (os.cpu_count(), cpu_model(), platform.release()))
    L.append("- Every figure below and its baselines were measured in the same run on this machine.")
    L.append("- Ratios are 'how many times better ours is' (>1 = ours faster). Multi-process rows say how many "
             "processes ran on how many cores; with more processes than cores, spinning variants are "
             "penalised and blocking variants are the realistic ones.")
    L.append("- Scaling from 1 to 16 processes on one shared slot (a 16-core machine, its own run): "
             "[SCALING.md](SCALING.md), from `scripts/bench-scaling`.\n")

    ratios = []
    for section in workloads.SECTIONS:
        L += section_lines(section, gb, py, ratios)
        L.append("")

    # Ratio bar chart.
    if ratios:
        dat = os.path.join(plots, "ratios.dat")
        with open(dat, "w") as f:
            for i, (n, r) in enumerate(ratios):
                f.write('%d "%s" %g\n' % (i, n.replace('"', "'"), r))
        png = os.path.join(plots, "ratios.png")
        if gnuplot("""set terminal pngcairo size 1400,%d font ",9" noenhanced
set output "%s"
set style fill solid 0.8
set logscale x 10
set xlabel "times faster than the baseline (log scale, >1 = ours faster)"
set ytics nomirror
set yrange [-1:%d]
set grid xtics
unset key
plot "%s" using 3:1:(1):3:($1-0.4):($1+0.4):ytic(2) with boxxyerror lc rgb "#3070b0"
""" % (200 + 18 * len(ratios), png, len(ratios), dat)):
            L.append("![ratios](plots/ratios.png)\n")

    # Series plots declared by workloads.SERIES: throughput against a parameter.
    for s in workloads.SERIES:
        lines = []
        for label, pattern, m in s["curves"]:
            pts = []
            for x in s["xs"]:
                rec = find(gb, py, (pattern[0], pattern[1].format(x=x)))
                v = metric(rec, m)
                if v is not None:
                    pts.append((x, v))
            if pts:
                dat = os.path.join(plots, "%s_%s.dat" % (s["id"], re.sub(r"\W+", "_", label)))
                with open(dat, "w") as f:
                    for x, v in pts:
                        f.write("%g %g\n" % (x, v))
                lines.append('"%s" using 1:2 with linespoints title "%s"' % (dat, label))
        if lines:
            png = os.path.join(plots, s["id"] + ".png")
            if gnuplot("""set terminal pngcairo size 900,500 font ",10" noenhanced
set output "%s"
set title "%s"
set xlabel "%s"
set ylabel "%s"
set logscale x 2
%s
set grid
set key left top
plot %s
""" % (png, s["title"], s["xlabel"], s["ylabel"], "set logscale y 10" if s.get("logy") else "", ", ".join(lines))):
                L.append("![%s](plots/%s.png)\n" % (s["title"], s["id"]))

    L.append("## Memory\n")
    L.append("Peak resident memory of each benchmark program (all its processes' maximum, from getrusage), and the "
             "shared-memory footprint where a benchmark reports it (counter `shm_bytes`).\n")
    L.append("| program | peak RSS |")
    L.append("|---|---|")
    for k in sorted(rss):
        L.append("| %s | %.1f MiB |" % (k, rss[k] / 1024.0))
    shm = [(n, r["shm_bytes"]) for n, r in gb.items() if "shm_bytes" in r]
    if shm:
        L.append("\n| benchmark | shared memory |")
        L.append("|---|---|")
        for n, v in shm:
            L.append("| %s | %.1f KiB |" % (n, v / 1024.0))
    L.append("")

    L.append("## Every benchmark of this run\n")
    L.append("| program | benchmark | time per iteration | counters |")
    L.append("|---|---|---|---|")
    for n, r in gb.items():
        counters = ", ".join("%s=%s" % (k, fmt(float(v), "/s") if k.endswith("per_second") else "%.4g" % float(v))
                             for k, v in r.items()
                             if k not in ("name", "family_index", "per_family_instance_index", "run_name",
                                          "run_type", "repetitions", "repetition_index", "threads", "iterations",
                                          "real_time", "cpu_time", "time_unit", "module", "label",
                                          "aggregate_name", "aggregate_unit", "error_occurred", "error_message")
                             and isinstance(v, (int, float)))
        L.append("| %s | %s | %s | %s |" % (r["module"], n, fmt(metric(r, "time"), "ns"), counters))
    L.append("\n| python baseline | figure | processes | what |")
    L.append("|---|---|---|---|")
    for n, r in py.items():
        L.append("| %s | %.4g %s | %s | %s |" % (n, r["value"], r["unit"], r["procs"], r["note"]))
    L.append("")
    with open(os.path.join(a.out, "RESULTS.md"), "w") as f:
        f.write("\n".join(L))
    print("report: wrote %s" % os.path.join(a.out, "RESULTS.md"))


if __name__ == "__main__":
    main()
