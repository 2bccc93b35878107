#!/usr/bin/env python3
"""Renders bench/results/report.md and the PNG charts from the raw files bench/report wrote.

    python3 bench/report.py --raw bench/results/raw --out bench/results

Python standard library only; charts need gnuplot (pngcairo terminal if available, else png).
Re-running it on existing raw files re-renders the report without measuring anything again.
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

BACKEND_ORDER = ["xbyak", "llvm", "generic", "reference", "onednn", "xnnpack", "im2col_openblas"]
# The order the issue lists the comparisons in.
VERSUS_ORDER = ["generic", "reference", "im2col_openblas", "onednn", "xnnpack", "llvm"]
COLOURS = {
    "xbyak": "#1f77b4", "llvm": "#9467bd", "generic": "#7f7f7f", "reference": "#bcbd22",
    "onednn": "#d62728", "xnnpack": "#2ca02c", "im2col_openblas": "#ff7f0e",
}
BIG_MFLOP = 10.0
PEAK_SHAPES = ["resnet_3x3_56", "resnet_3x3_28", "resnet_3x3_14"]
THREAD_TARGET_SHAPES = ["resnet_3x3_56", "batch8_3x3_28"]


# ------------------------------------------------------------------------------------------
# loading


class Bench:
    """One `convjit bench --json-env` run."""

    def __init__(self, path):
        self.path = path
        self.env = {}
        self.rows = []
        self.by = {}
        self.shapes = []      # names, in the suite's order
        self.mflop = {}
        self.backends = []
        if not os.path.exists(path):
            return
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                d = json.loads(line)
                if "environment" in d:
                    self.env = d["environment"]
                    continue
                self.rows.append(d)
                self.by[(d["name"], d["backend"])] = d
                if d["name"] not in self.mflop:
                    self.shapes.append(d["name"])
                if d.get("mflop") is not None:
                    self.mflop[d["name"]] = d["mflop"]
                else:
                    self.mflop.setdefault(d["name"], None)
                if d["backend"] not in self.backends:
                    self.backends.append(d["backend"])
        self.backends.sort(key=lambda b: BACKEND_ORDER.index(b) if b in BACKEND_ORDER else 99)

    def ok(self, name, backend):
        d = self.by.get((name, backend))
        if d and d.get("status") == "ok" and d.get("median_us"):
            return d
        return None

    def median(self, name, backend, key="median_us"):
        d = self.ok(name, backend)
        return d.get(key) if d else None

    def speedup(self, name, other):
        """median(other) / median(xbyak): > 1 means xbyak is faster."""
        a, x = self.median(name, other), self.median(name, "xbyak")
        return a / x if a and x else None

    def geomean_speedup(self, other, shapes=None):
        shapes = self.shapes if shapes is None else shapes
        vals = [self.speedup(s, other) for s in shapes]
        vals = [v for v in vals if v]
        return (geomean(vals), len(vals)) if vals else (None, 0)

    def big_shapes(self):
        return [s for s in self.shapes if (self.mflop.get(s) or 0) >= BIG_MFLOP]

    def peak(self):
        # The suite's %peak is of the widest vectors convjit generated in that run.
        if self.env.get("convjit_isa") == "avx512":
            return self.env.get("avx512_fma_peak_gflops")
        return self.env.get("fma_peak_gflops")

    def peak_name(self):
        return "AVX-512" if self.env.get("convjit_isa") == "avx512" else "AVX2"

    def not_ok(self):
        return [d for d in self.rows if d.get("status") != "ok"]


def geomean(vals):
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


def read_text(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def read_kv(path):
    kv = {}
    for line in read_text(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            kv[k] = v
    return kv


class Micro:
    """convjit_microbench --benchmark_format=json with repetitions (aggregates)."""

    def __init__(self, path):
        self.context = {}
        self.agg = {}   # (run_name, aggregate_name) -> entry
        self.present = os.path.exists(path) and os.path.getsize(path) > 0
        if not self.present:
            return
        with open(path) as f:
            d = json.load(f)
        self.context = d.get("context", {})
        for b in d.get("benchmarks", []):
            run = b.get("run_name") or b["name"]
            agg = b.get("aggregate_name") or ("single" if b.get("run_type") != "aggregate" else "?")
            self.agg[(run, agg)] = b

    def get(self, run, agg="median"):
        b = self.agg.get((run, agg)) or self.agg.get((run, "single"))
        return b

    def time_ns(self, run, which="cpu_time", agg="median"):
        b = self.get(run, agg)
        if not b:
            return None
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
        return b[which] * scale

    def counter(self, run, key, agg="median"):
        b = self.get(run, agg)
        return b.get(key) if b else None

    def repetitions(self):
        for (run, agg), b in self.agg.items():
            if "repetitions" in b:
                return b["repetitions"]
        return None


# ------------------------------------------------------------------------------------------
# formatting


def fx(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}×"


def fnum(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def fus(v):
    if v is None:
        return "—"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fpct(v, digits=0):
    return "—" if v is None else f"{100 * v:.{digits}f}%"


def table(header, rows, align=None):
    align = align or (["l"] + ["r"] * (len(header) - 1))
    sep = ["---:" if a == "r" else ":---:" if a == "c" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def verdict(ok):
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


# ------------------------------------------------------------------------------------------
# targets


def compute_targets(avx2, native, t1, t2, micro):
    T = []

    def add(issue, target, measured, ok, native_info="", detail=""):
        T.append([issue, target, measured, verdict(ok), native_info, detail])

    have = set(avx2.backends)

    # issue 3 ---------------------------------------------------------------------------
    big = avx2.big_shapes()
    if "onednn" in have:
        g, n = avx2.geomean_speedup("onednn", big)
        gn, nn = native.geomean_speedup("onednn", native.big_shapes())
        add("3", "geomean oneDNN time / xbyak time, shapes ≥ 10 MFLOP ≥ 1.0×",
            f"{fx(g)} over {n} shapes", None if g is None else g >= 1.0,
            f"{fx(gn)} ({nn} shapes)" if gn else "")
    else:
        add("3", "geomean oneDNN time / xbyak time, shapes ≥ 10 MFLOP ≥ 1.0×", "oneDNN not built", None)

    peak = avx2.peak()
    for s in PEAK_SHAPES:
        d = avx2.ok(s, "xbyak")
        if d is None:
            add("3", f"{s}: xbyak ≥ 85% of measured AVX2 FMA peak", "not measured (shape not in this run)", None)
            continue
        pf = d.get("peak_fraction")
        add("3", f"{s}: xbyak ≥ 85% of measured AVX2 FMA peak",
            f"{fpct(pf, 1)} ({d['gflops']:.1f} of {peak:.1f} GFLOP/s)", pf >= 0.85,
            f"{fpct(native.median(s, 'xbyak', 'peak_fraction'), 1)} of {native.peak_name()} peak")

    small = [s for s in avx2.shapes if s.startswith("seed_") or s == "lenet_c1"]
    for other, need, label in (("onednn", 5.0, "oneDNN"), ("xnnpack", 2.0, "XNNPACK")):
        target = f"seed_* and lenet_c1: each ≥ {need:g}× faster than {label}"
        if other not in have:
            add("3", target, f"{label} not built", None)
            continue
        vals = [(avx2.speedup(s, other), s) for s in small]
        vals = [(v, s) for v, s in vals if v]
        if not vals:
            add("3", target, "no seed shapes measured", None)
            continue
        worst, ws = min(vals)
        nvals = [(native.speedup(s, other), s) for s in small]
        nvals = [(v, s) for v, s in nvals if v]
        add("3", target, f"min {fx(worst, 1)} ({ws}) over {len(vals)} shapes", worst >= need,
            f"min {fx(min(nvals)[0], 1)}" if nvals else "",
            ", ".join(f"{s} {v:.1f}×" for v, s in vals))

    g, n = avx2.geomean_speedup("generic")
    add("3", "xbyak vs generic ≥ 1.5× geomean (all shapes)", f"{fx(g)} over {n} shapes",
        None if g is None else g >= 1.5)

    gen = generation_times(avx2, native, micro)
    if gen:
        worst = max(gen, key=lambda r: r[1])
        src = "microbench median" if micro.present else "suite compile_us (one sample)"
        detail = src + " of `Kernel::generation_us()` (wall clock inside the library)"
        cpu = [(micro.time_ns("generation/" + s, "cpu_time"), s) for s, _ in gen] if micro.present else []
        cpu = [(v / 1000.0, s) for v, s in cpu if v]
        if cpu:
            cw = max(cpu)
            detail += (f"; CPU time per `Jit::compile` call (process CPU time, not inflated by other "
                       f"processes): max {cw[0]:.0f} µs ({cw[1]})")
        if busy(avx2):
            detail += f"; load average {avx2.env.get('load_average')}: wall-clock times are inflated"
        add("3", "xbyak generation time median ≤ 200 µs for every shape",
            f"max {worst[1]:.0f} µs ({worst[0]}) over {len(gen)} shapes", worst[1] <= 200.0, "",
            detail)
    else:
        add("3", "xbyak generation time median ≤ 200 µs for every shape", "not measured", None)

    # issue 4 ---------------------------------------------------------------------------
    hit = micro.time_ns("cache_hit_by_shape") if micro.present else None
    hit_wall = micro.time_ns("cache_hit_by_shape", "real_time") if micro.present else None
    add("4", "cache hit (Jit::get of a compiled shape) median ≤ 200 ns",
        "not measured" if hit is None else f"{hit:.0f} ns CPU ({hit_wall:.0f} ns wall)",
        None if hit is None else hit <= 200.0)

    for s in THREAD_TARGET_SHAPES:
        sp = thread_speedup(t1, t2, s, "xbyak")
        alt = thread_speedup(t1, t2, s, "xbyak", "median_cpu_us")
        note = ""
        if sp:
            note = (f"1-thread CPU / 2-thread wall: {fx(alt)}; load average at the 2-thread run "
                    f"{t2.env.get('load_average', '?')}")
            if busy(t2):
                note += " (≥ the number of CPUs: the machine was busy, this verdict says little)"
        add("4", f"{s}: xbyak 2 threads vs 1 ≥ 1.8×",
            "not measured" if sp is None else f"{fx(sp)} (wall medians)",
            None if sp is None else sp >= 1.8, "", note)

    run = micro.time_ns("run_on_seed") if micro.present else None
    bare = micro.time_ns("bare_entry_call_on_seed") if micro.present else None
    if run and bare:
        rw = micro.time_ns("run_on_seed", "real_time")
        bw = micro.time_ns("bare_entry_call_on_seed", "real_time")
        add("4", "run() on the 8×8 seed ≤ 1.2× the bare kernel call",
            f"{fx(run / bare)} ({run:.1f} vs {bare:.1f} ns CPU)", run / bare <= 1.2, "",
            f"wall: {rw:.1f} vs {bw:.1f} ns = {rw / bw:.2f}×")
    else:
        add("4", "run() on the 8×8 seed ≤ 1.2× the bare kernel call", "not measured", None)

    # issue 5 ---------------------------------------------------------------------------
    if "llvm" in have:
        vals = [1.0 / v for v in (avx2.speedup(s, "llvm") for s in avx2.shapes) if v]
        g = geomean(vals) if vals else None
        nvals = [1.0 / v for v in (native.speedup(s, "llvm") for s in native.shapes) if v]
        add("5", "llvm vs xbyak speed (xbyak time / llvm time) ≥ 0.7× geomean",
            f"{fx(g)} over {len(vals)} shapes", None if g is None else g >= 0.7,
            fx(geomean(nvals)) if nvals else "")
        comp = [d["compile_us"] for d in avx2.rows
                if d["backend"] == "llvm" and d.get("compile_us") is not None]
        if comp:
            med = statistics.median(comp)
            add("5", "llvm compile time median ≤ 100 ms",
                f"{med / 1000:.1f} ms (median over {len(comp)} shapes; max {max(comp) / 1000:.1f} ms)",
                med <= 100000.0)
    else:
        add("5", "llvm backend targets", "llvm backend not built", None)

    # issue 6 ---------------------------------------------------------------------------
    for other, need in (("reference", 20.0), ("im2col_openblas", 1.5)):
        target = f"xbyak ≥ {need:g}× {other} (geomean over the shapes file)"
        if other not in have:
            add("6", target, f"{other} not built", None)
            continue
        g, n = avx2.geomean_speedup(other)
        missing = len(avx2.shapes) - n
        gn, nn = native.geomean_speedup(other) if other != "reference" else (None, 0)
        add("6", target, f"{fx(g, 1)} over {n} shapes" + (f" ({missing} not run)" if missing else ""),
            None if g is None else g >= need, f"{fx(gn, 1)}" if gn else "")
    return T


def thread_speedup(t1, t2, shape, backend, one_thread_key="median_wall_us"):
    # The 2-thread run is timed with the wall clock; compare with the 1-thread wall median
    # (or, with one_thread_key="median_cpu_us", with the undisturbed 1-thread CPU time).
    a = t1.median(shape, backend, one_thread_key)
    b = t2.median(shape, backend, "median_us")
    return a / b if a and b else None


def busy(b):
    try:
        return float(b.env.get("load_average")) >= float(b.env.get("logical_cpus"))
    except (TypeError, ValueError):
        return False


def generation_times(avx2, native, micro):
    """[(shape, median generation µs)] — microbench medians, else the suite's compile_us."""
    out = []
    if micro.present:
        for s in avx2.shapes or []:
            v = micro.counter("generation/" + s, "generation_us")
            if v is not None:
                out.append((s, v))
        if out:
            return out
    for s in avx2.shapes:
        vals = [b.median(s, "xbyak", "compile_us") for b in (avx2, native)]
        vals = [v for v in vals if v is not None]
        if vals:
            out.append((s, statistics.median(vals)))
    return out


# ------------------------------------------------------------------------------------------
# charts (gnuplot)


class Plotter:
    def __init__(self, raw, out):
        # Scripts and data files name each other relative to `out` (gnuplot runs there), so
        # raw/ holds no absolute paths of the machine that made it.
        self.raw, self.out = raw, out
        self.rel = os.path.relpath(raw, out)
        self.gnuplot = shutil.which("gnuplot")
        self.terminal = None
        if self.gnuplot:
            ok = subprocess.run([self.gnuplot, "-e", "set terminal pngcairo"],
                                capture_output=True).returncode == 0
            self.terminal = "pngcairo" if ok else "png"
        self.made = []
        self.errors = []

    def header(self, png, width, height):
        font = "font 'DejaVu Sans,11'" if self.terminal == "pngcairo" else "font ',10'"
        return (f"set terminal {self.terminal} size {width},{height} noenhanced {font}\n"
                f"set output '{png}'\n"
                "set style fill solid 0.9 border rgb '#404040'\n"
                "set grid ytics lc rgb '#d0d0d0'\n"
                "set key outside top center horizontal\n"
                "set bmargin 6.5\n")

    def xtics(self, shapes):
        tics = ", ".join(f'"{s}" {i}' for i, s in enumerate(shapes))
        return (f"set xtics ({tics}) rotate by 30 right nomirror\n"
                f"set xrange [-0.6:{len(shapes) - 0.4}]\n")

    def bars(self, name, shapes, series, base):
        """series: [(label, colour, {shape: value})]; one bar per (shape, series) from `base`.
        Returns the plot clauses; writes NAME.dat with one index block per series."""
        nser = max(1, len(series))
        width = 0.84 / nser
        dat = os.path.join(self.raw, name + ".dat")
        clauses = []
        with open(dat, "w") as f:
            for j, (label, colour, values) in enumerate(series):
                f.write(f"# {label}\n")
                wrote = False
                for i, s in enumerate(shapes):
                    v = values.get(s)
                    if v is None or v <= 0:
                        continue
                    x = i - 0.42 + width * (j + 0.5)
                    f.write(f"{x:.4f} {v:.6g} {x - width / 2:.4f} {x + width / 2:.4f} "
                            f"{min(base, v):.6g} {max(base, v):.6g}\n")
                    wrote = True
                if not wrote:  # keep the index numbering; an off-range dummy point
                    f.write("-100 1 -100 -100 1 1\n")
                f.write("\n\n")
                clauses.append(f"'{os.path.join(self.rel, name + '.dat')}' index {j} using 1:2:3:4:5:6 with boxxyerror "
                               f"lc rgb '{colour}' title '{label}'")
        return clauses

    def run(self, name, script):
        if not self.gnuplot:
            return False
        gp = os.path.join(self.raw, name + ".gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run([self.gnuplot, os.path.abspath(gp)], capture_output=True, text=True,
                           cwd=self.out)
        if r.returncode != 0:
            self.errors.append(f"{name}: {r.stderr.strip()[:300]}")
            return False
        self.made.append(name + ".png")
        return True


def log_range(values, pad_low=0.7, pad_high=1.6):
    """A log-scale range: the lower bound a 1/2/5 step below the smallest value."""
    vals = [v for v in values if v and v > 0]
    if not vals:
        return 0.1, 10.0
    low = min(vals) * pad_low
    decade = 10 ** math.floor(math.log10(low))
    lo = max(m * decade for m in (1, 2, 5) if m * decade <= low)
    hi = max(vals) * pad_high
    return lo, hi


def chart_gflops(p, b, peak):
    series = [(be, COLOURS.get(be, "#000000"),
               {s: b.median(s, be, "gflops") for s in b.shapes}) for be in b.backends]
    allv = [v for _, _, d in series for v in d.values() if v]
    lo, hi = log_range(allv + ([peak] if peak else []))
    clauses = p.bars("gflops", b.shapes, series, lo)
    if peak:
        clauses.append(f"{peak} with lines dt 2 lw 2 lc rgb '#000000' "
                       f"title 'measured AVX2 FMA peak ({peak:.1f})'")
    script = (p.header("gflops.png", 1500, 700) + p.xtics(b.shapes) +
              "set logscale y\n"
              f"set yrange [{lo}:{hi}]\n"
              "set ylabel 'GFLOP/s (single thread, log scale)'\n"
              "set title 'GFLOP/s per shape and backend (--isa avx2: baselines capped to AVX2)'\n"
              "plot " + ", \\\n     ".join(clauses) + "\n")
    return p.run("gflops", script)


def chart_peak(p, b):
    chosen = [be for be in ("xbyak", "llvm", "onednn", "xnnpack") if be in b.backends]
    series = []
    for be in chosen:
        vals = {s: b.median(s, be, "peak_fraction") for s in b.shapes}
        series.append((be, COLOURS[be], {s: 100 * v for s, v in vals.items() if v}))
    allv = [v for _, _, d in series for v in d.values() if v]
    top = max([110.0] + [v * 1.1 for v in allv])
    clauses = p.bars("peak_fraction", b.shapes, series, 0.0)
    clauses.append("85 with lines dt 2 lw 2 lc rgb '#000000' title '85% (issue 3 target)'")
    clauses.append("100 with lines dt 1 lw 1 lc rgb '#808080' title '100% of AVX2 FMA peak'")
    script = (p.header("peak_fraction.png", 1500, 650) + p.xtics(b.shapes) +
              f"set yrange [0:{top:.0f}]\n"
              "set format y '%.0f%%'\n"
              "set ylabel '% of measured AVX2 FMA peak'\n"
              "set title 'Fraction of the measured single-thread AVX2 FMA peak (--isa avx2; "
              "XNNPACK cannot be capped and may use AVX-512)'\n"
              "plot " + ", \\\n     ".join(clauses) + "\n")
    return p.run("peak_fraction", script)


def chart_speedup(p, b):
    others = [o for o in VERSUS_ORDER if o in b.backends]
    series = [(f"vs {o}", COLOURS[o], {s: b.speedup(s, o) for s in b.shapes}) for o in others]
    allv = [v for _, _, d in series for v in d.values() if v]
    lo, hi = log_range(allv + [1.0], 0.8, 1.8)
    clauses = p.bars("speedup", b.shapes, series, 1.0)
    clauses.append("1 with lines lw 2 lc rgb '#000000' notitle")
    script = (p.header("speedup.png", 1500, 700) + p.xtics(b.shapes) +
              "set logscale y\n"
              f"set yrange [{lo}:{hi}]\n"
              "set ylabel 'other median / xbyak median (log scale; > 1: xbyak faster)'\n"
              "set title 'Speed-up of xbyak over each other backend (--isa avx2, single thread)'\n"
              "plot " + ", \\\n     ".join(clauses) + "\n")
    return p.run("speedup", script)


def chart_threads(p, t1, t2):
    shapes = [s for s in t2.shapes]
    chosen = [be for be in ("xbyak", "onednn") if be in t2.backends]
    if not shapes or not chosen:
        return False
    series = [(f"{be}: 2 threads vs 1", COLOURS[be],
               {s: thread_speedup(t1, t2, s, be) for s in shapes}) for be in chosen]
    allv = [v for _, _, d in series for v in d.values() if v]
    top = max([2.3] + [v * 1.15 for v in allv])
    clauses = p.bars("threads", shapes, series, 0.0)
    # value labels above the bars
    lab = os.path.join(p.raw, "threads_labels.dat")
    width = 0.84 / len(series)
    with open(lab, "w") as f:
        for j, (_, _, d) in enumerate(series):
            for i, s in enumerate(shapes):
                if d.get(s):
                    f.write(f"{i - 0.42 + width * (j + 0.5):.4f} {d[s]:.4f} \"{d[s]:.2f}x\"\n")
    clauses.append(f"'{os.path.join(p.rel, 'threads_labels.dat')}' using 1:2:3 with labels "
                   "offset 0,0.8 notitle")
    clauses.append("1.8 with lines dt 2 lw 2 lc rgb '#000000' title '1.8x (issue 4 target)'")
    clauses.append("2.0 with lines dt 1 lw 1 lc rgb '#808080' title '2x (ideal on 2 cores)'")
    script = (p.header("threads.png", 1000, 600) + p.xtics(shapes) +
              f"set yrange [0:{top:.2f}]\n"
              "set ylabel 'median wall time 1 thread / 2 threads'\n"
              f"set title 'Thread scaling, 1 -> 2 threads (load average {t2.env.get('load_average', '?')})'\n"
              "plot " + ", \\\n     ".join(clauses) + "\n")
    return p.run("threads", script)


# ------------------------------------------------------------------------------------------
# report sections


def gflops_table(b):
    peak = b.peak()
    header = ["shape", "MFLOP"] + [f"{be}" for be in b.backends]
    rows = []
    for s in b.shapes:
        r = [s, fnum(b.mflop.get(s), 2 if (b.mflop.get(s) or 0) < 1 else 1)]
        for be in b.backends:
            d = b.ok(s, be)
            if d:
                r.append(f"{d['gflops']:.1f} ({fpct(d.get('peak_fraction'))})")
            else:
                st = b.by.get((s, be), {})
                r.append(st.get("status", "—") if st else "—")
        rows.append(r)
    # geomean GFLOP/s per backend over the shapes it ran
    g = ["**geomean**", ""]
    for be in b.backends:
        vals = [b.median(s, be, "gflops") for s in b.shapes]
        vals = [v for v in vals if v]
        g.append(f"{geomean(vals):.1f} ({fpct(geomean(vals) / peak) if peak else '—'})" +
                 (f" [{len(vals)}]" if len(vals) != len(b.shapes) else "") if vals else "—")
    rows.append(g)
    return table(header, rows)


def speedup_table(b):
    others = [o for o in VERSUS_ORDER if o in b.backends]
    header = ["shape", "MFLOP"] + [f"vs {o}" for o in others]
    rows = []
    for s in b.shapes:
        rows.append([s, fnum(b.mflop.get(s), 2 if (b.mflop.get(s) or 0) < 1 else 1)] +
                    [fx(b.speedup(s, o)) for o in others])
    for label, shapes in (("all shapes", b.shapes), (f"shapes ≥ {BIG_MFLOP:g} MFLOP", b.big_shapes())):
        r = [f"**geomean, {label}**", ""]
        for o in others:
            g, n = b.geomean_speedup(o, shapes)
            r.append("—" if g is None else f"**{fx(g)}**" + (f" [{n}]" if n != len(shapes) else ""))
        rows.append(r)
    return table(header, rows)


def detail_table(b):
    header = ["shape"] + b.backends
    rows = []
    for s in b.shapes:
        r = [s]
        for be in b.backends:
            d = b.ok(s, be)
            if d:
                spread = (d["p75_us"] - d["p25_us"]) / d["median_us"] if d.get("p75_us") else None
                r.append(f"{fus(d['median_us'])} ±{fpct(spread / 2 if spread is not None else None)}")
            else:
                r.append("—")
        rows.append(r)
    return table(header, rows)


def quality_line(b):
    und = [d.get("undisturbed") for d in b.rows if d.get("status") == "ok" and d.get("undisturbed") is not None]
    reps = [d.get("reps") for d in b.rows if d.get("status") == "ok" and d.get("reps")]
    if not und:
        return ""
    return (f"Repetitions per case: {min(reps)}–{max(reps)}; median share of repetitions not preempted "
            f"(`undisturbed`): {fpct(statistics.median(und))} (timer: {b.env.get('timer', '?')}).")


def skipped_section(benches):
    lines = []
    for label, b in benches:
        for d in b.not_ok():
            lines.append(f"- {label}: {d['name']} / {d['backend']}: {d.get('status')} — {d.get('reason', '')}")
    return "\n".join(lines)


def env_section(avx2, native, t2, micro, tools, load_start, load_end, date_start, elapsed):
    e = avx2.env
    ne = native.env
    bl = e.get("baselines", {})
    nbl = ne.get("baselines", {})
    rows = [
        ["date (UTC, start)", date_start.strip()],
        ["CPU", f"{e.get('cpu', '?')}, {e.get('logical_cpus', '?')} logical CPUs"
                + (f", {tools.get('hypervisor')} guest" if tools.get("hypervisor") else "")
                + (f" (flags: {tools.get('cpu_flags')})" if tools.get("cpu_flags") else "")],
        ["measured AVX2 FMA peak (1 thread)",
         f"{e.get('fma_peak_gflops', '?')} GFLOP/s (avx2 run), {ne.get('fma_peak_gflops', '?')} GFLOP/s (native run)"],
        ["measured AVX-512 FMA peak (context)", f"{e.get('avx512_fma_peak_gflops', '?')} GFLOP/s"],
        ["kernel", tools.get("kernel", "?")],
        ["compiler", tools.get("compiler", "?")],
        ["build type", tools.get("build_type", "?")],
        ["convjit", f"git {tools.get('convjit_git', '?')}; backends built: {', '.join(e.get('convjit_backends', []))}"],
        ["LLVM", tools.get("llvm", "not found")],
        ["Xbyak", tools.get("pkg_libxbyak-dev", "?") + " (Debian package)"],
    ]
    for name in ("onednn", "xnnpack", "im2col_openblas"):
        rows.append([f"{name} (avx2 run)", bl.get(name, "not built")])
        if name != "xnnpack":
            rows.append([f"{name} (native run)", nbl.get(name, "not built")])
    rows += [
        ["Google Benchmark", (tools.get("pkg_libbenchmark-dev", "?") +
                              (f" (library_build_type: {micro.context.get('library_build_type')})"
                               if micro.context else ""))],
        ["gnuplot", tools.get("gnuplot", "?")],
        ["ISA modes", "main tables: `--isa avx2` (convjit generates AVX2+FMA; DNNL_MAX_CPU_ISA=AVX2, "
                      "OPENBLAS_CORETYPE=Haswell; XNNPACK cannot be capped); second table: "
                      "`--isa native` (convjit generates AVX-512 where the CPU has it, and oneDNN/OpenBLAS "
                      "use what they choose). The caller's DNNL_MAX_CPU_ISA / "
                      "OPENBLAS_CORETYPE are removed so the modes mean what they say."],
        ["load average (1/5/15 min)", f"start {' '.join(load_start.split()[:3])}; end {' '.join(load_end.split()[:3])}; "
                                      f"at the avx2 run {e.get('load_average', '?')}, native {ne.get('load_average', '?')}, "
                                      f"2-thread run {t2.env.get('load_average', '?')}"],
        ["measuring time", f"{elapsed.strip() or '?'} s"],
    ]
    note = ("\n(oneDNN's version string always carries the hint \"DNNL_MAX_CPU_ISA=AVX2 caps it\"; "
            "the *effective isa* in it is what each run used.)\n")
    return table(["", ""], rows, ["l", "l"]) + "\n" + note


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    raw, out = a.raw, a.out

    avx2 = Bench(os.path.join(raw, "bench_avx2.jsonl"))
    native = Bench(os.path.join(raw, "bench_native.jsonl"))
    t1 = Bench(os.path.join(raw, "threads_1.jsonl"))
    t2 = Bench(os.path.join(raw, "threads_2.jsonl"))
    micro = Micro(os.path.join(raw, "microbench.json"))
    tools = read_kv(os.path.join(raw, "tools.txt"))
    if not avx2.rows:
        sys.exit("bench/report.py: no results in " + os.path.join(raw, "bench_avx2.jsonl"))
    quick = tools.get("quick") == "1"
    load_start = read_text(os.path.join(raw, "loadavg_start.txt"), "? ? ?")
    load_end = read_text(os.path.join(raw, "loadavg_end.txt"), "? ? ?")

    plot = Plotter(raw, out)
    peak = avx2.peak()
    chart_gflops(plot, avx2, peak)
    chart_peak(plot, avx2)
    chart_speedup(plot, avx2)
    chart_threads(plot, t1, t2)

    targets = compute_targets(avx2, native, t1, t2, micro)
    npass = sum(1 for t in targets if "PASS" in t[3])
    nfail = sum(1 for t in targets if "FAIL" in t[3])

    md = []
    w = md.append
    w("# convjit benchmark report\n")
    w("Regenerate with `bench/report` (full run, a few minutes on 2 cores; `--build DIR` if the build "
      "is not in `build/`) or `bench/report --quick` (a smoke test of the script, not for conclusions). "
      "Raw data (suite JSON lines, microbench JSON, gnuplot scripts) is in `raw/`; "
      "`python3 bench/report.py --raw bench/results/raw --out bench/results` re-renders this file "
      "without measuring again.\n")
    if quick:
        w("> **QUICK RUN** (`--quick`): a subset of shapes, short measuring times, 3 microbench repetitions. "
          "The verdicts below cover only these shapes and are not conclusive.\n")
    if tools.get("stale"):
        w(f"> **Warning:** when this ran, the library in the build directory was newer than "
          f"{tools['stale']}: the build looked incomplete, so these programs may not match the library.\n")
    w(f"Shapes: {len(avx2.shapes)} ({', '.join(avx2.shapes)}). "
      f"Issue targets: {npass} PASS, {nfail} FAIL, {len(targets) - npass - nfail} n/a.\n")

    w("## Environment\n")
    w("> The machine may be shared with other jobs: the 1-minute load average was "
      f"**{load_start.split()[0]}** at the start of the run (on {avx2.env.get('logical_cpus', '?')} logical CPUs). "
      "Single-thread timings use the calling thread's CPU time, so time given to other processes is not "
      "counted, but caches and memory bandwidth are still shared; 2-thread timings use the wall clock and "
      "suffer most from a busy machine.\n")
    w(env_section(avx2, native, t2, micro, tools, load_start, load_end,
                  read_text(os.path.join(raw, "date_start.txt"), "?"),
                  read_text(os.path.join(raw, "elapsed_s.txt"), "?")))
    w("")
    for isa in ("avx2", "native"):
        block = read_text(os.path.join(raw, f"environment_{isa}.txt"))
        head = block.split("\n\n")[0].strip() if block else ""
        if head:
            w(f"<details><summary>The suite's own environment block, <code>--isa {isa}</code> "
              "(from a probe run just before the measurements)</summary>\n")
            w("```\n" + head + "\n```\n</details>\n")

    w("## Issue targets\n")
    w("Measured in the `--isa avx2` run (baselines capped to AVX2 like convjit) unless the target says "
      "otherwise; the *native* column repeats the value from the `--isa native` run for information only. "
      "Speed-ups are other backend's median time / xbyak median time (> 1: xbyak faster); geomeans are "
      "over the shapes both backends ran. Microbenchmark verdicts use Google Benchmark's CPU time "
      "(wall time shown alongside).\n")
    w(table(["issue", "target", "measured", "verdict", "native (info)", "details"],
            targets, ["c", "l", "l", "c", "l", "l"]))
    w("")

    w("## Main comparison: `--isa avx2` (single thread)\n")
    w(f"GFLOP/s per shape and backend, with the fraction of the measured AVX2 FMA peak "
      f"({peak} GFLOP/s) in parentheses. oneDNN and OpenBLAS are capped to AVX2; XNNPACK cannot be "
      "capped and may run AVX-512 code (so it can exceed 100% of the AVX2 peak). The reference "
      "backend was requested explicitly, so it runs on every shape.\n")
    w(gflops_table(avx2))
    w("")
    if "gflops.png" in plot.made:
        w("![GFLOP/s per shape and backend](gflops.png)\n")
    if "peak_fraction.png" in plot.made:
        w("![fraction of measured AVX2 FMA peak](peak_fraction.png)\n")
    w("### Speed-up of xbyak over each backend (`--isa avx2`)\n")
    w("Other backend's median / xbyak median per shape; `[n]` = geomean over n shapes where one was missing.\n")
    w(speedup_table(avx2))
    w("")
    if "speedup.png" in plot.made:
        w("![speed-up of xbyak over each backend](speedup.png)\n")
    w("### Median time per call, µs (± half the interquartile range, as % of the median), `--isa avx2`\n")
    w(detail_table(avx2))
    w("")
    w(quality_line(avx2) + "\n")

    w("## Second comparison: `--isa native` (single thread, every library at the widest vectors)\n")
    if native.rows:
        w("Here convjit and each library use the widest vectors this CPU has (convjit: "
          f"{native.env.get('convjit_isa', '?')}; oneDNN: "
          f"{native.env.get('baselines', {}).get('onednn', 'n/a')}; OpenBLAS: "
          f"{native.env.get('baselines', {}).get('im2col_openblas', 'n/a')}). The generic kernel "
          f"stays AVX2. Percentages are of the measured {native.peak_name()} FMA peak "
          f"({native.peak()} GFLOP/s). No reference backend in this run.\n")
        w(gflops_table(native))
        w("")
        w("Speed-up of xbyak, `--isa native`:\n")
        w(speedup_table(native))
        w("")
        w(quality_line(native) + "\n")
    else:
        w("Not measured.\n")

    w("## Thread scaling: 1 → 2 threads (`--isa avx2`)\n")
    if t2.rows:
        w("`--threads 2` is timed with the wall clock, so the speed-up compares wall medians: "
          "1-thread wall median / 2-thread wall median, both from dedicated runs of these shapes "
          "right after each other. On a 2-core machine that other jobs use, 2 threads compete with "
          f"them (load average {t1.env.get('load_average', '?')} at the 1-thread run, "
          f"{t2.env.get('load_average', '?')} at the 2-thread run).\n")
        rows = []
        for s in t2.shapes:
            for be in t2.backends:
                a = t1.median(s, be, "median_wall_us")
                c1 = t1.median(s, be, "median_us")
                b2 = t2.median(s, be, "median_us")
                sp = thread_speedup(t1, t2, s, be)
                alt = thread_speedup(t1, t2, s, be, "median_cpu_us")
                g2 = t2.median(s, be, "gflops")
                rows.append([s, be, fus(a), fus(c1), fus(b2), f"**{fx(sp)}**" if sp else "—",
                             fpct(sp / 2 if sp else None), fx(alt), fnum(g2)])
        w(table(["shape", "backend", "1 thread, wall µs", "1 thread, CPU µs", "2 threads, wall µs",
                 "speed-up (wall / wall)", "efficiency", "1T CPU / 2T wall", "2-thread GFLOP/s"], rows,
                ["l", "l"] + ["r"] * 7))
        w("")
        w("*1T CPU / 2T wall* compares with the single-thread time an idle core would give; on an idle "
          "machine both speed-up columns agree.\n")
        if busy(t2) or busy(t1):
            w(f"> **The machine was busy during these runs** (1-minute load average "
              f"{t1.env.get('load_average', '?')} / {t2.env.get('load_average', '?')} on "
              f"{t2.env.get('logical_cpus', '?')} logical CPUs): a 2-thread call waits for its slower thread, "
              "and when another process holds one of the two cores that thread waits for a scheduler time "
              "slice, so 2-thread wall times come out as multiples of a few milliseconds. Re-run on an idle "
              "machine before reading anything into these numbers.\n")
        if "threads.png" in plot.made:
            w("![thread scaling](threads.png)\n")
    else:
        w("Not measured (no thread-scaling shapes in the shapes file).\n")

    w("## Generation time and runtime overheads (convjit_microbench)\n")
    if micro.present:
        reps = micro.repetitions()
        w(f"Google Benchmark, `--benchmark_format=json --benchmark_repetitions={reps}` with random "
          "interleaving; medians over the repetitions. CPU time is the process's CPU time; wall time "
          "includes preemption by other processes.\n")
        rows = []
        for run, label in (("cache_hit_by_shape", "cache hit: `Jit::get(ConvShape)` of a compiled shape"),
                           ("cache_hit_by_spec_string", "cache hit via spec string (parse + resolve + get)"),
                           ("run_on_seed", "`Kernel::run` on the 8×8 seed"),
                           ("bare_entry_call_on_seed", "bare generated entry call on the 8×8 seed")):
            c, r = micro.time_ns(run), micro.time_ns(run, "real_time")
            cv = micro.get(run, "cv")
            rows.append([label, fnum(c), fnum(r), fpct(cv.get("cpu_time") if cv else None)])
        run, bare = micro.time_ns("run_on_seed"), micro.time_ns("bare_entry_call_on_seed")
        if run and bare:
            rows.append(["run() / bare call", fx(run / bare),
                         fx(micro.time_ns("run_on_seed", "real_time") /
                            micro.time_ns("bare_entry_call_on_seed", "real_time")), ""])
        w(table(["latency", "median CPU ns", "median wall ns", "CV (CPU)"], rows))
        w("")
    rows = []
    gen = dict(generation_times(avx2, native, micro)) if micro.present else {}
    for s in avx2.shapes:
        cv = micro.get("generation/" + s, "cv") if micro.present else None
        cpu_us = micro.time_ns("generation/" + s, "cpu_time") if micro.present else None
        rows.append([s, fnum(gen.get(s)), fpct(cv.get("generation_us") if cv else None),
                     fnum(cpu_us / 1000.0 if cpu_us else None),
                     fnum(avx2.median(s, "xbyak", "compile_us")),
                     fnum(native.median(s, "xbyak", "compile_us")),
                     fnum((avx2.median(s, "llvm", "compile_us") or 0) / 1000 or None, 1)])
    w("Generation time per shape: plan + emit + make executable. *microbench* = median of the "
      "per-repetition mean `Kernel::generation_us()` (wall clock inside the library; the same "
      "quantity the suite reports as `compile_us`); *CPU µs* = Google Benchmark's process CPU time "
      "per `Jit::compile` call, which a busy machine does not inflate; the suite columns are single "
      "first-compile samples in the two bench runs.\n")
    w(table(["shape", "xbyak µs (microbench median)", "CV", "xbyak CPU µs per compile (median)",
             "xbyak compile_us (avx2 run)",
             "xbyak compile_us (native run)", "llvm compile ms (avx2 run)"], rows))
    w("")

    sk = skipped_section([("avx2", avx2), ("native", native), ("1 thread", t1), ("2 threads", t2)])
    if sk:
        w("## Cases that did not run\n")
        w(sk + "\n")

    w("## Method\n")
    w("- Everything is measured by the suite itself (`convjit bench`, see bench/README.md): each "
      "backend's output is checked against the reference first, backends are timed round-robin "
      "(interleaved repetitions, each a batch of back-to-back calls ≥ 2 ms, after a warm-up), and "
      "the median per call is reported with min/max/IQR. Single-thread runs use the calling "
      "thread's CPU time; multi-thread runs use the wall clock.")
    w("- The measured peak is 12 independent chains of `vfmadd231ps ymm` timed in the same process, "
      "so %peak refers to this machine and clock.")
    w("- Runs, in order: `--isa avx2` with every backend (reference explicitly requested, so it "
      "runs above 50 MFLOP too); `--isa native` without reference; `--threads 1` then "
      "`--threads 2` for xbyak and onednn on " + ", ".join(n for n in t2.shapes or ["(none)"]) +
      "; then convjit_microbench. Raw output in `raw/`.")
    w("- Geometric means are over the shapes both backends ran; “≥ 10 MFLOP” uses the suite's "
      "`mflop` per shape.")
    if plot.errors:
        w("\nChart errors: " + "; ".join(plot.errors))
    elif not plot.gnuplot:
        w("\n(gnuplot not found: no charts.)")
    w("")

    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(out, "README"), "w") as f:
        f.write("Generated by bench/report (bench/report --quick for a smoke test); see report.md.\n"
                "Re-render from raw/ without measuring: python3 bench/report.py --raw bench/results/raw "
                "--out bench/results\n")
    if plot.errors:
        print("bench/report.py: chart errors:\n  " + "\n  ".join(plot.errors), file=sys.stderr)
    print(f"bench/report.py: {npass} PASS, {nfail} FAIL, {len(targets) - npass - nfail} n/a -> "
          f"{os.path.join(out, 'report.md')}", file=sys.stderr)


if __name__ == "__main__":
    main()
