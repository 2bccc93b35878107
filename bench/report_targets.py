"""The performance targets report.md checks, each with its verdict from the measurements."""
import statistics

from report_data import busy, generation_times, geomean, thread_speedup
from report_format import fpct, fx, verdict

PEAK_SHAPES = ["resnet_3x3_56", "resnet_3x3_28", "resnet_3x3_14"]
THREAD_TARGET_SHAPES = ["resnet_3x3_56", "batch8_3x3_28"]
# Shared with the charts, which draw them as lines named after the target.
PEAK_FRACTION_TARGET = 0.85
PEAK_TARGET_NAME = "share of FMA peak"
THREAD_SPEEDUP_TARGET = 1.8
THREAD_TARGET_NAME = "2-thread scaling"


class Targets:
    """The rows of the targets table, in the order they were checked."""

    def __init__(self):
        self.rows = []

    def add(self, name, criterion, measured, ok, native_info="", detail=""):
        """`name` says what the target measures, `criterion` what it requires."""
        self.rows.append([name, criterion, measured, verdict(ok), native_info, detail])

    def count(self, word):
        return sum(1 for row in self.rows if word in row[3])

    def summary(self):
        npass, nfail = self.count("PASS"), self.count("FAIL")
        return f"{npass} PASS, {nfail} FAIL, {len(self.rows) - npass - nfail} n/a"


def compute_targets(r):
    targets = Targets()
    for check in (large_layers_vs_onednn, share_of_peak, tiny_shapes_vs_libraries,
                  xbyak_vs_generic, generation_time, cache_hit, thread_scaling, run_overhead,
                  llvm_backend, xbyak_vs_reference_and_openblas):
        check(targets, r)
    return targets


def large_layers_vs_onednn(t, r):
    criterion = "geomean oneDNN time / xbyak time, shapes ≥ 10 MFLOP ≥ 1.0×"
    if "onednn" not in r.avx2.backends:
        t.add("large layers vs oneDNN", criterion, "oneDNN not built", None)
        return
    g, n = r.avx2.geomean_speedup("onednn", r.avx2.big_shapes())
    gn, nn = r.native.geomean_speedup("onednn", r.native.big_shapes())
    t.add("large layers vs oneDNN", criterion, f"{fx(g)} over {n} shapes", None if g is None else g >= 1.0,
          f"{fx(gn)} ({nn} shapes)" if gn else "")


def share_of_peak(t, r):
    peak = r.avx2.peak()
    for s in PEAK_SHAPES:
        criterion = f"{s}: xbyak ≥ {100 * PEAK_FRACTION_TARGET:.0f}% of measured AVX2 FMA peak"
        d = r.avx2.ok(s, "xbyak")
        if d is None:
            t.add(PEAK_TARGET_NAME, criterion, "not measured (shape not in this run)", None)
            continue
        pf = d.get("peak_fraction")
        t.add(PEAK_TARGET_NAME, criterion, f"{fpct(pf, 1)} ({d['gflops']:.1f} of {peak:.1f} GFLOP/s)",
              pf >= PEAK_FRACTION_TARGET,
              f"{fpct(r.native.median(s, 'xbyak', 'peak_fraction'), 1)} of {r.native.peak_name()} peak")


def tiny_shapes_vs_libraries(t, r):
    small = [s for s in r.avx2.shapes if s.startswith("seed_") or s == "lenet_c1"]
    for other, need, label in (("onednn", 5.0, "oneDNN"), ("xnnpack", 2.0, "XNNPACK")):
        name = f"tiny shapes vs {label}"
        criterion = f"seed_* and lenet_c1: each ≥ {need:g}× faster than {label}"
        if other not in r.avx2.backends:
            t.add(name, criterion, f"{label} not built", None)
            continue
        vals = speedups_measured(r.avx2, small, other)
        if not vals:
            t.add(name, criterion, "no seed shapes measured", None)
            continue
        worst, ws = min(vals)
        nvals = speedups_measured(r.native, small, other)
        t.add(name, criterion, f"min {fx(worst, 1)} ({ws}) over {len(vals)} shapes", worst >= need,
              f"min {fx(min(nvals)[0], 1)}" if nvals else "",
              ", ".join(f"{s} {v:.1f}×" for v, s in vals))


def speedups_measured(bench, shapes, other):
    """[(speed-up of xbyak over `other`, shape)] for the shapes both ran."""
    vals = [(bench.speedup(s, other), s) for s in shapes]
    return [(v, s) for v, s in vals if v]


def xbyak_vs_generic(t, r):
    g, n = r.avx2.geomean_speedup("generic")
    t.add("xbyak vs generic", "xbyak vs generic ≥ 1.5× geomean (all shapes)", f"{fx(g)} over {n} shapes",
          None if g is None else g >= 1.5)


def generation_time(t, r):
    criterion = "xbyak generation time median ≤ 200 µs for every shape"
    gen = generation_times(r.avx2, r.native, r.micro)
    if not gen:
        t.add("generation time", criterion, "not measured", None)
        return
    worst = max(gen, key=lambda row: row[1])
    t.add("generation time", criterion, f"max {worst[1]:.0f} µs ({worst[0]}) over {len(gen)} shapes",
          worst[1] <= 200.0, "", generation_time_detail(r, gen))


def generation_time_detail(r, gen):
    micro = r.micro
    src = "microbench median" if micro.present else "suite compile_us (one sample)"
    detail = src + " of `Kernel::generation_us()` (wall clock inside the library)"
    cpu = [(micro.time_ns("generation/" + s, "cpu_time"), s) for s, _ in gen] if micro.present else []
    cpu = [(v / 1000.0, s) for v, s in cpu if v]
    if cpu:
        cw = max(cpu)
        detail += (f"; CPU time per `Jit::compile` call (process CPU time, not inflated by other "
                   f"processes): max {cw[0]:.0f} µs ({cw[1]})")
    if busy(r.avx2):
        detail += f"; load average {r.avx2.env.get('load_average')}: wall-clock times are inflated"
    return detail


def cache_hit(t, r):
    micro = r.micro
    hit = micro.time_ns("cache_hit_by_shape") if micro.present else None
    hit_wall = micro.time_ns("cache_hit_by_shape", "real_time") if micro.present else None
    t.add("cache hit", "cache hit (Jit::get of a compiled shape) median ≤ 200 ns",
          "not measured" if hit is None else f"{hit:.0f} ns CPU ({hit_wall:.0f} ns wall)",
          None if hit is None else hit <= 200.0)


def thread_scaling(t, r):
    t1, t2 = r.t1, r.t2
    for s in THREAD_TARGET_SHAPES:
        sp = thread_speedup(t1, t2, s, "xbyak")
        alt = thread_speedup(t1, t2, s, "xbyak", "median_cpu_us")
        note = ""
        if sp:
            note = (f"1-thread CPU / 2-thread wall: {fx(alt)}; load average at the 2-thread run "
                    f"{t2.env.get('load_average', '?')}")
            if busy(t2):
                note += " (≥ the number of CPUs: the machine was busy, this verdict says little)"
        t.add(THREAD_TARGET_NAME, f"{s}: xbyak 2 threads vs 1 ≥ {THREAD_SPEEDUP_TARGET:g}×",
              "not measured" if sp is None else f"{fx(sp)} (wall medians)",
              None if sp is None else sp >= THREAD_SPEEDUP_TARGET, "", note)


def run_overhead(t, r):
    criterion = "run() on the 8×8 seed ≤ 1.2× the bare kernel call"
    micro = r.micro
    run = micro.time_ns("run_on_seed") if micro.present else None
    bare = micro.time_ns("bare_entry_call_on_seed") if micro.present else None
    if not (run and bare):
        t.add("run() overhead", criterion, "not measured", None)
        return
    rw = micro.time_ns("run_on_seed", "real_time")
    bw = micro.time_ns("bare_entry_call_on_seed", "real_time")
    t.add("run() overhead", criterion, f"{fx(run / bare)} ({run:.1f} vs {bare:.1f} ns CPU)", run / bare <= 1.2, "",
          f"wall: {rw:.1f} vs {bw:.1f} ns = {rw / bw:.2f}×")


def llvm_backend(t, r):
    avx2, native = r.avx2, r.native
    if "llvm" not in avx2.backends:
        t.add("LLVM backend", "llvm backend targets", "llvm backend not built", None)
        return
    vals = [1.0 / v for v in (avx2.speedup(s, "llvm") for s in avx2.shapes) if v]
    g = geomean(vals) if vals else None
    nvals = [1.0 / v for v in (native.speedup(s, "llvm") for s in native.shapes) if v]
    t.add("LLVM kernel speed", "llvm vs xbyak speed (xbyak time / llvm time) ≥ 0.7× geomean",
          f"{fx(g)} over {len(vals)} shapes", None if g is None else g >= 0.7,
          fx(geomean(nvals)) if nvals else "")
    comp = [d["compile_us"] for d in avx2.rows
            if d["backend"] == "llvm" and d.get("compile_us") is not None]
    if comp:
        med = statistics.median(comp)
        t.add("LLVM compile time", "llvm compile time median ≤ 100 ms",
              f"{med / 1000:.1f} ms (median over {len(comp)} shapes; max {max(comp) / 1000:.1f} ms)",
              med <= 100000.0)


def xbyak_vs_reference_and_openblas(t, r):
    avx2, native = r.avx2, r.native
    for other, need, label in (("reference", 20.0, "reference"),
                               ("im2col_openblas", 1.5, "im2col + OpenBLAS")):
        name = f"xbyak vs {label}"
        criterion = f"xbyak ≥ {need:g}× {other} (geomean over the shapes file)"
        if other not in avx2.backends:
            t.add(name, criterion, f"{other} not built", None)
            continue
        g, n = avx2.geomean_speedup(other)
        missing = len(avx2.shapes) - n
        gn, nn = native.geomean_speedup(other) if other != "reference" else (None, 0)
        t.add(name, criterion, f"{fx(g, 1)} over {n} shapes" + (f" ({missing} not run)" if missing else ""),
              None if g is None else g >= need, f"{fx(gn, 1)}" if gn else "")
