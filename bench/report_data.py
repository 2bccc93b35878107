"""The raw files bench/report writes, loaded, and the aggregates the report is built from."""
import json
import math
import os
import statistics

BACKEND_ORDER = ["xbyak", "llvm", "generic", "reference", "onednn", "onednn_winograd", "xnnpack",
                 "im2col_openblas"]
# The backends xbyak's speed-ups are given against, in the order the comparisons were asked for.
VERSUS_ORDER = ["generic", "reference", "im2col_openblas", "onednn", "xnnpack", "llvm"]
BIG_MFLOP = 10.0


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


class RawResults:
    """Everything one bench/report run left in its raw/ directory."""

    def __init__(self, raw):
        def path(name):
            return os.path.join(raw, name)

        self.raw = raw
        self.avx2_path = path("bench_avx2.jsonl")
        self.avx2 = Bench(self.avx2_path)
        self.native = Bench(path("bench_native.jsonl"))
        self.t1 = Bench(path("threads_1.jsonl"))
        self.t2 = Bench(path("threads_2.jsonl"))
        self.micro = Micro(path("microbench.json"))
        self.tools = read_kv(path("tools.txt"))
        self.quick = self.tools.get("quick") == "1"
        self.load_start = read_text(path("loadavg_start.txt"), "? ? ?")
        self.load_end = read_text(path("loadavg_end.txt"), "? ? ?")
        self.date_start = read_text(path("date_start.txt"), "?")
        self.elapsed = read_text(path("elapsed_s.txt"), "?")
        # The text header `convjit bench` printed in each ISA mode.
        self.suite_environment = {isa: read_text(path(f"environment_{isa}.txt"))
                                  for isa in ("avx2", "native")}

    def runs(self):
        """(label, Bench) of every suite run, in the order the report lists them."""
        return [("avx2", self.avx2), ("native", self.native), ("1 thread", self.t1),
                ("2 threads", self.t2)]


def geomean(vals):
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


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
