"""The PNG charts of report.md, drawn by gnuplot from data and scripts written to raw/."""
import math
import os
import shutil
import subprocess

from report_data import VERSUS_ORDER, thread_speedup
from report_targets import (PEAK_FRACTION_TARGET, PEAK_TARGET_NAME, THREAD_SPEEDUP_TARGET,
                            THREAD_TARGET_NAME)

COLOURS = {
    "xbyak": "#1f77b4", "llvm": "#9467bd", "generic": "#7f7f7f", "reference": "#bcbd22",
    "onednn": "#d62728", "xnnpack": "#2ca02c", "im2col_openblas": "#ff7f0e",
}


def bar_width(series):
    # The bars of one shape share 84% of its unit-wide slot.
    return 0.84 / max(1, len(series))


def bar_centre(shape_index, series_index, width):
    return shape_index - 0.42 + width * (series_index + 0.5)


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
        width = bar_width(series)
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
                    x = bar_centre(i, j, width)
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


def draw_charts(r, out):
    """Draws every chart; the Plotter says which were made and what failed."""
    plot = Plotter(r.raw, out)
    chart_gflops(plot, r.avx2, r.avx2.peak())
    chart_peak(plot, r.avx2)
    chart_speedup(plot, r.avx2)
    chart_threads(plot, r.t1, r.t2)
    return plot


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


def plotted_values(series):
    return [v for _, _, d in series for v in d.values() if v]


def plot_command(clauses):
    return "plot " + ", \\\n     ".join(clauses) + "\n"


def chart_gflops(p, b, peak):
    series = [(be, COLOURS.get(be, "#000000"),
               {s: b.median(s, be, "gflops") for s in b.shapes}) for be in b.backends]
    lo, hi = log_range(plotted_values(series) + ([peak] if peak else []))
    clauses = p.bars("gflops", b.shapes, series, lo)
    if peak:
        clauses.append(f"{peak} with lines dt 2 lw 2 lc rgb '#000000' "
                       f"title 'measured AVX2 FMA peak ({peak:.1f})'")
    script = (p.header("gflops.png", 1500, 700) + p.xtics(b.shapes) +
              "set logscale y\n"
              f"set yrange [{lo}:{hi}]\n"
              "set ylabel 'GFLOP/s (single thread, log scale)'\n"
              "set title 'GFLOP/s per shape and backend (--isa avx2: baselines capped to AVX2)'\n" +
              plot_command(clauses))
    return p.run("gflops", script)


def chart_peak(p, b):
    chosen = [be for be in ("xbyak", "llvm", "onednn", "xnnpack") if be in b.backends]
    series = []
    for be in chosen:
        vals = {s: b.median(s, be, "peak_fraction") for s in b.shapes}
        series.append((be, COLOURS[be], {s: 100 * v for s, v in vals.items() if v}))
    top = max([110.0] + [v * 1.1 for v in plotted_values(series)])
    clauses = p.bars("peak_fraction", b.shapes, series, 0.0)
    target = 100 * PEAK_FRACTION_TARGET
    clauses.append(f"{target:.0f} with lines dt 2 lw 2 lc rgb '#000000' "
                   f"title '{target:.0f}% ({PEAK_TARGET_NAME} target)'")
    clauses.append("100 with lines dt 1 lw 1 lc rgb '#808080' title '100% of AVX2 FMA peak'")
    script = (p.header("peak_fraction.png", 1500, 650) + p.xtics(b.shapes) +
              f"set yrange [0:{top:.0f}]\n"
              "set format y '%.0f%%'\n"
              "set ylabel '% of measured AVX2 FMA peak'\n"
              "set title 'Fraction of the measured single-thread AVX2 FMA peak (--isa avx2; "
              "XNNPACK cannot be capped and may use AVX-512)'\n" +
              plot_command(clauses))
    return p.run("peak_fraction", script)


def chart_speedup(p, b):
    others = [o for o in VERSUS_ORDER if o in b.backends]
    series = [(f"vs {o}", COLOURS[o], {s: b.speedup(s, o) for s in b.shapes}) for o in others]
    lo, hi = log_range(plotted_values(series) + [1.0], 0.8, 1.8)
    clauses = p.bars("speedup", b.shapes, series, 1.0)
    clauses.append("1 with lines lw 2 lc rgb '#000000' notitle")
    script = (p.header("speedup.png", 1500, 700) + p.xtics(b.shapes) +
              "set logscale y\n"
              f"set yrange [{lo}:{hi}]\n"
              "set ylabel 'other median / xbyak median (log scale; > 1: xbyak faster)'\n"
              "set title 'Speed-up of xbyak over each other backend (--isa avx2, single thread)'\n" +
              plot_command(clauses))
    return p.run("speedup", script)


def chart_threads(p, t1, t2):
    shapes = [s for s in t2.shapes]
    chosen = [be for be in ("xbyak", "onednn") if be in t2.backends]
    if not shapes or not chosen:
        return False
    series = [(f"{be}: 2 threads vs 1", COLOURS[be],
               {s: thread_speedup(t1, t2, s, be) for s in shapes}) for be in chosen]
    top = max([2.3] + [v * 1.15 for v in plotted_values(series)])
    clauses = p.bars("threads", shapes, series, 0.0)
    clauses.append(threads_value_labels(p, shapes, series))
    clauses.append(f"{THREAD_SPEEDUP_TARGET:g} with lines dt 2 lw 2 lc rgb '#000000' "
                   f"title '{THREAD_SPEEDUP_TARGET:g}x ({THREAD_TARGET_NAME} target)'")
    clauses.append("2.0 with lines dt 1 lw 1 lc rgb '#808080' title '2x (ideal on 2 cores)'")
    script = (p.header("threads.png", 1000, 600) + p.xtics(shapes) +
              f"set yrange [0:{top:.2f}]\n"
              "set ylabel 'median wall time 1 thread / 2 threads'\n"
              f"set title 'Thread scaling, 1 -> 2 threads (load average {t2.env.get('load_average', '?')})'\n" +
              plot_command(clauses))
    return p.run("threads", script)


def threads_value_labels(p, shapes, series):
    """The plot clause printing each bar's value above it."""
    lab = os.path.join(p.raw, "threads_labels.dat")
    width = bar_width(series)
    with open(lab, "w") as f:
        for j, (_, _, d) in enumerate(series):
            for i, s in enumerate(shapes):
                if d.get(s):
                    f.write(f"{bar_centre(i, j, width):.4f} {d[s]:.4f} \"{d[s]:.2f}x\"\n")
    return (f"'{os.path.join(p.rel, 'threads_labels.dat')}' using 1:2:3 with labels "
            "offset 0,0.8 notitle")
