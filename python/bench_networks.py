#!/usr/bin/env python3
"""Real networks end to end: torchvision ResNet-18, ResNet-50, MobileNetV2 and VGG-16 (random
weights, nothing downloaded) at 224x224, batch 1, on one pinned core. The whole model's forward
converted by convjit.torch.convert against PyTorch eager, in NCHW and in channels_last, plus a
per-layer table (each nn.Conv2d against its converted module, on the input it sees in the
network), the call overhead of a tiny converted convolution, and gnuplot charts.

    PYTHONPATH=build/python /usr/bin/python3 python/bench_networks.py
        [--models resnet18,resnet50,mobilenet_v2,vgg16] [--core N] [--reps N]
        [--out bench/results/networks] [--quick] [--render-only]

--quick: 2 models, few repetitions, a smoke test of the script (numbers not for conclusions).
--render-only: re-renders report.md and the charts from OUT/raw/networks.json.

Timings are medians of the calling thread's CPU time (PyTorch with one thread and convjit with
threads=1 compute in it), so time the shared machine gives to other processes is not counted;
wall-clock medians are recorded beside them. Eager and converted runs alternate, so a busy
spell slows both. Writes OUT/report.md, OUT/forward.png, OUT/layers_MODEL.png and OUT/raw/.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
# Python puts this script's directory first on sys.path, and python/convjit there is the
# package's source without its compiled modules: the built one comes from PYTHONPATH.
if sys.path and os.path.abspath(sys.path[0]) == HERE:
    sys.path.pop(0)
MODELS = ["resnet18", "resnet50", "mobilenet_v2", "vgg16"]
TITLES = {"resnet18": "ResNet-18", "resnet50": "ResNet-50", "mobilenet_v2": "MobileNetV2", "vgg16": "VGG-16"}
FORMATS = ["nchw", "channels_last"]
# The targets: converted / eager channels_last speed-ups, accuracy, tiny-call latency.
SPEEDUP_TARGETS = {"resnet50": 1.2, "mobilenet_v2": 1.1}
ACCURACY_TARGET = 1e-4  # relative; convjit has no Winograd kernels, so the tighter bound
TINY_CALL_TARGET_US = 3.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--core", type=int, default=None, help="CPU to pin to (default: the last one allowed)")
    p.add_argument("--reps", type=int, default=None, help="whole-forward repetitions (default 11, quick 3)")
    p.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "networks"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        p.error(f"--models: unknown {unknown}; choose from {MODELS}")
    if args.quick and args.models == MODELS:
        args.models = ["resnet18", "mobilenet_v2"]
    if args.reps is None:
        args.reps = 3 if args.quick else 11
    return args


def pin(core):
    """Pins this process to one CPU before PyTorch starts any thread."""
    allowed = sorted(os.sched_getaffinity(0))
    core = allowed[-1] if core is None else core
    if core not in allowed:
        sys.exit(f"bench_networks: --core {core} is not among the allowed CPUs {allowed}")
    os.sched_setaffinity(0, {core})
    os.environ["OMP_NUM_THREADS"] = "1"
    return core


# ------------------------------------------------------------------------------------------
# measuring


class Timer:
    """Median thread-CPU and wall time per call of fn, each sample >= min_seconds of calls."""

    def __init__(self, min_seconds):
        self.min_seconds = min_seconds

    def calls_per_sample(self, fn):
        start = time.perf_counter()
        fn()
        once = max(time.perf_counter() - start, 1e-7)
        return max(1, int(self.min_seconds / once))

    @staticmethod
    def sample(fn, calls):
        wall, cpu = time.perf_counter_ns(), time.thread_time_ns()
        for _ in range(calls):
            fn()
        return (time.thread_time_ns() - cpu) / calls / 1e3, (time.perf_counter_ns() - wall) / calls / 1e3

    def compare(self, fns, reps):
        """Round-robin samples of several functions; {name: {cpu_us, wall_us, samples}}."""
        calls = {name: self.calls_per_sample(fn) for name, fn in fns.items()}
        samples = {name: [] for name in fns}
        for rep in range(reps):
            order = list(fns) if rep % 2 == 0 else list(reversed(fns))
            for name in order:
                samples[name].append(self.sample(fns[name], calls[name]))
        return {name: {"cpu_us": statistics.median(s[0] for s in got),
                       "wall_us": statistics.median(s[1] for s in got),
                       "samples": len(got), "calls_per_sample": calls[name]}
                for name, got in samples.items()}


def conv_description(conv):
    return {"c": conv.in_channels, "oc": conv.out_channels, "k": list(conv.kernel_size),
            "s": list(conv.stride), "g": conv.groups, "d": list(conv.dilation)}


def conv_mflop(conv, out_shape):
    n, oc, oh, ow = out_shape
    kh, kw = conv.kernel_size
    return 2.0 * n * oc * oh * ow * kh * kw * conv.in_channels / conv.groups / 1e6


def layer_inputs(torch, model, x):
    """Each nn.Conv2d's input and output shape in one eager forward, in call order."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, args, out, path=path: seen.append((path, m, args[0], tuple(out.shape))))
             for path, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        model(x)
    for h in hooks:
        h.remove()
    return seen


def measure_model(torch, torchvision, convjit_torch, name, args, randomised_batchnorm, relative_error):
    torch.manual_seed(0)
    eager = randomised_batchnorm(getattr(torchvision.models, name)(weights=None))
    started = time.perf_counter()
    converted = convjit_torch.convert(eager, inplace=False)
    convert_s = time.perf_counter() - started
    forward_timer = Timer(0.0)
    layer_timer = Timer(0.002 if args.quick else 0.005)
    layer_reps = 3 if args.quick else 7
    result = {"model": name, "convert_s": convert_s, "formats": {}}
    for fmt_name in FORMATS:
        fmt = torch.channels_last if fmt_name == "channels_last" else torch.contiguous_format
        eager.to(memory_format=fmt)
        converted.to(memory_format=fmt)
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1)).contiguous(memory_format=fmt)
        with torch.inference_mode():
            started = time.perf_counter()
            got = converted(x)  # compiles every kernel for this input size and memory format
            first_call_s = time.perf_counter() - started
            expected = eager(x)
            error = relative_error(got, expected)
            eager(x), converted(x)
            forward = forward_timer.compare({"eager": lambda: eager(x), "convjit": lambda: converted(x)}, args.reps)
        layers = []
        for path, conv, layer_x, out_shape in layer_inputs(torch, eager, x):
            fast = converted.get_submodule(path)
            with torch.inference_mode():
                fast(layer_x)
                times = layer_timer.compare({"eager": lambda: conv(layer_x), "convjit": lambda: fast(layer_x)},
                                            layer_reps)
            kernel = fast.kernels()[0]
            layers.append({"path": path, **conv_description(conv), "in": list(layer_x.shape), "out": list(out_shape),
                           "mflop": conv_mflop(conv, out_shape), "eager_us": times["eager"]["cpu_us"],
                           "convjit_us": times["convjit"]["cpu_us"], "kernel": kernel["name"],
                           "backend": kernel["backend"], "batchnorm_folded": fast.folded_batchnorm,
                           "activation": fast.activation})
        result["formats"][fmt_name] = {"forward": forward, "relative_error": error,
                                       "first_call_s": first_call_s, "layers": layers}
        print(f"  {TITLES[name]:12s} {fmt_name:13s} eager {forward['eager']['cpu_us'] / 1e3:8.1f} ms   "
              f"convjit {forward['convjit']['cpu_us'] / 1e3:8.1f} ms   "
              f"x{forward['eager']['cpu_us'] / forward['convjit']['cpu_us']:.2f}   rel. error {error:.1e}",
              flush=True)
    return result


def measure_tiny_call(torch, convjit_torch):
    """A converted nn.Conv2d(1, 1, 3) on one 8x8 image against PyTorch's own module call:
    per-call thread CPU time and wall time, 15 repeats of many calls."""
    import timeit
    conv = torch.nn.Conv2d(1, 1, 3).eval()
    fast = convjit_torch.Conv2d(conv)
    x = torch.randn(1, 1, 8, 8)
    result = {}
    with torch.no_grad():
        for label, fn, number in (("pytorch", lambda: conv(x), 2000), ("convjit", lambda: fast(x), 20000)):
            fn()
            for clock, timer in (("cpu", time.thread_time), ("wall", time.perf_counter)):
                per_call = [t / number * 1e6 for t in timeit.repeat(fn, number=number, repeat=15, timer=timer)]
                result[label + "_" + clock] = {"min_us": min(per_call), "median_us": statistics.median(per_call)}
    return result


def environment(torch, torchvision, convjit, core):
    def read(path):
        try:
            with open(path) as f:
                return f.read().strip()
        except OSError:
            return "?"
    cpu = "?"
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu,
            "logical_cpus": os.cpu_count(), "pinned_core": core, "loadavg_start": read("/proc/loadavg"),
            "python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "convjit_backend": convjit.backend(), "convjit_isa": convjit.isa(),
            "convjit_git": git.stdout.strip() or "unknown", "kernel": platform.release()}


def measure(args):
    core = pin(args.core)
    import torch  # only now: OMP_NUM_THREADS and the affinity must be set first
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import torchvision
    import convjit
    import convjit.torch as convjit_torch
    sys.path.insert(0, os.path.join(HERE, "tests"))
    from torch_support import randomised_batchnorm, relative_error  # the tests' own helpers

    data = {"environment": environment(torch, torchvision, convjit, core), "quick": args.quick,
            "reps": args.reps, "models": []}
    print(f"bench_networks: pinned to CPU {core}; load average {data['environment']['loadavg_start']}", flush=True)
    started = time.perf_counter()
    for name in args.models:
        data["models"].append(measure_model(torch, torchvision, convjit_torch, name, args,
                                            randomised_batchnorm, relative_error))
    data["tiny_call"] = measure_tiny_call(torch, convjit_torch)
    data["environment"]["loadavg_end"] = open("/proc/loadavg").read().strip()
    data["environment"]["elapsed_s"] = time.perf_counter() - started
    return data


# ------------------------------------------------------------------------------------------
# rendering


def speedup(fmt):
    return fmt["forward"]["eager"]["cpu_us"] / fmt["forward"]["convjit"]["cpu_us"]


def verdict(ok):
    return "PASS" if ok else "FAIL"


def targets(data):
    rows = []
    by_name = {m["model"]: m for m in data["models"]}
    for name, goal in SPEEDUP_TARGETS.items():
        if name in by_name:
            s = speedup(by_name[name]["formats"]["channels_last"])
            rows.append((f"{TITLES[name]} forward, converted vs eager channels_last >= {goal}x",
                         f"{s:.2f}x", verdict(s >= goal)))
    ratios = [(m["model"], f, speedup(m["formats"][f])) for m in data["models"] for f in FORMATS]
    if ratios:
        worst = min(ratios, key=lambda r: r[2])
        rows.append(("no converted model slower than PyTorch (both formats)",
                     f"slowest {worst[2]:.2f}x ({TITLES[worst[0]]}, {worst[1]})", verdict(worst[2] >= 1.0)))
        error = max(m["formats"][f]["relative_error"] for m in data["models"] for f in FORMATS)
        rows.append((f"outputs within {ACCURACY_TARGET:g} relative of PyTorch's", f"worst {error:.1e}",
                     verdict(error <= ACCURACY_TARGET)))
    tiny = data["tiny_call"]
    rows.append((f"converted nn.Conv2d on a 1x1x8x8 image <= {TINY_CALL_TARGET_US:g} us",
                 f"median {tiny['convjit_cpu']['median_us']:.2f} us CPU, {tiny['convjit_wall']['median_us']:.2f} us wall; "
                 f"PyTorch's module: {tiny['pytorch_cpu']['median_us']:.2f} us CPU",
                 verdict(tiny["convjit_cpu"]["median_us"] <= TINY_CALL_TARGET_US)))
    return rows


def forward_table(data):
    lines = ["| model | format | PyTorch eager ms | convjit ms | speed-up | wall ms (eager / convjit) | rel. error | first call s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for m in data["models"]:
        for f in FORMATS:
            r = m["formats"][f]
            e, c = r["forward"]["eager"], r["forward"]["convjit"]
            lines.append(f"| {TITLES[m['model']]} | {f} | {e['cpu_us'] / 1e3:.1f} | {c['cpu_us'] / 1e3:.1f} | "
                         f"**{speedup(r):.2f}x** | {e['wall_us'] / 1e3:.1f} / {c['wall_us'] / 1e3:.1f} | "
                         f"{r['relative_error']:.1e} | {r['first_call_s']:.2f} |")
    return "\n".join(lines)


def layer_table(model, fmt):
    layers = model["formats"][fmt]["layers"]
    lines = ["| layer | input | c→oc | k | s | g | MFLOP | eager µs | convjit µs | speed-up | GFLOP/s (convjit) | fused | kernel |",
             "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for l in layers:
        fused = ", ".join(x for x in (["bn"] if l["batchnorm_folded"] else []) +
                          ([str(l["activation"])] if l["activation"] else [])) or "—"
        lines.append(f"| {l['path']} | {'x'.join(map(str, l['in'][1:]))} | {l['c']}→{l['oc']} | "
                     f"{l['k'][0]}x{l['k'][1]} | {l['s'][0]} | {l['g']} | {l['mflop']:.1f} | "
                     f"{l['eager_us']:.0f} | {l['convjit_us']:.0f} | {l['eager_us'] / l['convjit_us']:.2f}x | "
                     f"{l['mflop'] / l['convjit_us'] * 1e3:.0f} | {fused} | `{l['kernel']}` |")
    eager = sum(l["eager_us"] for l in layers)
    fast = sum(l["convjit_us"] for l in layers)
    lines.append(f"| **all {len(layers)} convolutions** | | | | | | {sum(l['mflop'] for l in layers):.0f} | "
                 f"**{eager / 1e3:.1f} ms** | **{fast / 1e3:.1f} ms** | **{eager / fast:.2f}x** | | | |")
    return "\n".join(lines)


class Charts:
    """gnuplot bar charts, written as raw/NAME.dat + raw/NAME.gp and run from `out`."""

    def __init__(self, out):
        self.out, self.raw = out, os.path.join(out, "raw")
        self.gnuplot = shutil.which("gnuplot")
        self.terminal = None
        if self.gnuplot:
            ok = subprocess.run([self.gnuplot, "-e", "set terminal pngcairo"], capture_output=True).returncode == 0
            self.terminal = "pngcairo" if ok else "png"
        self.made, self.errors = [], []

    def header(self, png, width, height):
        font = "font 'DejaVu Sans,11'" if self.terminal == "pngcairo" else "font ',10'"
        return (f"set terminal {self.terminal} size {width},{height} noenhanced {font}\n"
                f"set output '{png}'\nset style fill solid 0.9 border rgb '#404040'\n"
                "set grid ytics lc rgb '#d0d0d0'\nset key outside top center horizontal\n")

    def bars(self, name, title, ylabel, labels, series, width=900, height=480, rotate=False):
        """series: [(legend, colour, [value per label])]."""
        if not self.gnuplot or not labels:
            return None
        dat = os.path.join(self.raw, name + ".dat")
        with open(dat, "w") as f:
            f.write("# label " + " ".join(s[0].replace(" ", "_") for s in series) + "\n")
            for i, label in enumerate(labels):
                f.write(f"{i} " + " ".join(f"{s[2][i]:.6g}" for s in series) + f"  # {label}\n")
        n = len(series)
        bar = 0.8 / n
        tics = ", ".join(f'"{label}" {i}' for i, label in enumerate(labels))
        plots = ", ".join(
            f"'raw/{name}.dat' using ($1{(j - (n - 1) / 2) * bar:+.4f}):{j + 2} with boxes lc rgb '{colour}' title '{legend}'"
            for j, (legend, colour, _) in enumerate(series))
        rotation = " rotate by 45 right" if rotate else ""
        script = (self.header(f"{name}.png", width, height) +
                  f"set title '{title}'\nset ylabel '{ylabel}'\nset boxwidth {bar * 0.95}\n"
                  f"set xtics ({tics}){rotation} nomirror\nset xrange [-0.6:{len(labels) - 0.4}]\n"
                  "set yrange [0:*]\nset arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb '#000000' dt 2\n"
                  f"plot {plots}\n")
        gp = os.path.join(self.raw, name + ".gp")
        with open(gp, "w") as f:
            f.write(script)
        run = subprocess.run([self.gnuplot, os.path.relpath(gp, self.out)], cwd=self.out, capture_output=True, text=True)
        if run.returncode != 0:
            self.errors.append(f"{name}: {run.stderr.strip()}")
            return None
        self.made.append(name + ".png")
        return name + ".png"


def render(data, out):
    charts = Charts(out)
    models = data["models"]
    forward_png = charts.bars(
        "forward", "Whole forward at 224x224, batch 1, one core: PyTorch eager time / convjit time",
        "speed-up (x)", [TITLES[m["model"]] for m in models],
        [("NCHW", "#1f77b4", [speedup(m["formats"]["nchw"]) for m in models]),
         ("channels_last", "#ff7f0e", [speedup(m["formats"]["channels_last"]) for m in models])])
    layer_pngs = []
    for m in models:
        layers = {f: m["formats"][f]["layers"] for f in FORMATS}
        png = charts.bars(
            f"layers_{m['model']}", f"{TITLES[m['model']]}, per convolution: eager nn.Conv2d time / converted module time",
            "speed-up (x)", [l["path"] for l in layers["nchw"]],
            [(label, colour, [l["eager_us"] / l["convjit_us"] for l in layers[f]])
             for f, label, colour in (("nchw", "NCHW", "#1f77b4"), ("channels_last", "channels_last", "#ff7f0e"))],
            width=max(700, 24 * len(layers["nchw"]) + 160), height=480, rotate=True)
        if png:
            layer_pngs.append((m["model"], png))

    env = data["environment"]
    lines = ["# convjit on whole networks (torchvision, 224x224, batch 1, one core)", "",
             "Regenerate with `PYTHONPATH=build/python /usr/bin/python3 python/bench_networks.py` "
             "(`--quick` for a smoke test; `--render-only` re-renders this file from `raw/networks.json`).",
             "" if not data["quick"] else "\n**This is a `--quick` run: its numbers are not for conclusions.**\n",
             "## Targets", "", "| target | measured | |", "| --- | --- | --- |"]
    lines += [f"| {t} | {m} | {v} |" for t, m, v in targets(data)]
    lines += ["", "## Whole forward", "",
              "Medians of thread CPU time per forward (wall-clock medians beside them), "
              f"{data['reps']} round-robin repetitions each; speed-up = eager / convjit. "
              "The converted model is `convjit.torch.convert(model)`: BatchNorm folded and "
              "ReLU / ReLU6 fused where torch.fx shows it safe; everything else is PyTorch's. "
              "Relative error: max |convjit − eager| / max |eager| on the output (BatchNorm "
              "statistics randomised so folding is tested). First call: compiling every kernel.", "",
              forward_table(data), ""]
    if forward_png:
        lines += [f"![Whole-forward speed-up]({forward_png})", ""]
    tiny = data["tiny_call"]
    lines += ["## A tiny convolution's call", "",
              "`convjit.torch.Conv2d(nn.Conv2d(1, 1, 3))` on a 1x1x8x8 tensor against the "
              "nn.Conv2d it came from, under `torch.no_grad()`: timeit, 15 repeats, per call, "
              "including Python's call overhead:", "",
              "| call | CPU min µs | CPU median µs | wall min µs | wall median µs |",
              "| --- | ---: | ---: | ---: | ---: |"] + [
              f"| {label} | {tiny[key + '_cpu']['min_us']:.2f} | {tiny[key + '_cpu']['median_us']:.2f} | "
              f"{tiny[key + '_wall']['min_us']:.2f} | {tiny[key + '_wall']['median_us']:.2f} |"
              for label, key in (("PyTorch nn.Conv2d module", "pytorch"), ("converted module", "convjit"))] + ["",
              "## Per layer", "",
              "Each nn.Conv2d of the eager model against its converted module, on the input it sees "
              "in the network; medians of thread CPU time. The converted module may include a "
              "folded BatchNorm and a fused activation (column *fused*): extra work PyTorch does "
              "in separate passes, not counted on its side here.", ""]
    pngs = dict(layer_pngs)
    for m in models:
        lines += [f"### {TITLES[m['model']]}", ""]
        if m["model"] in pngs:
            lines += [f"![{TITLES[m['model']]} per layer]({pngs[m['model']]})", ""]
        for f in FORMATS:
            lines += [f"<details><summary>{TITLES[m['model']]}, {f}: every convolution</summary>", "",
                      layer_table(m, f), "", "</details>", ""]
    lines += ["## Environment", "", "| | |", "| --- | --- |"]
    for key in ("date", "cpu", "logical_cpus", "pinned_core", "loadavg_start", "loadavg_end", "elapsed_s",
                "python", "torch", "torchvision", "torch_threads", "torch_interop_threads", "mkldnn",
                "convjit_backend", "convjit_isa", "convjit_git", "kernel"):
        value = env.get(key, "?")
        lines.append(f"| {key} | {value:.0f} s |" if key == "elapsed_s" else f"| {key} | {value} |")
    lines += ["", "The machine may be shared: the load averages above say how busy it was; CPU-time "
              "medians are robust to preemption but not to shared caches and memory bandwidth.", ""]
    if charts.errors:
        lines += ["Chart errors: " + "; ".join(charts.errors), ""]
    elif not charts.gnuplot:
        lines += ["(gnuplot not found: no charts; Debian: gnuplot-nox)", ""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines))


def main():
    args = parse_args()
    raw = os.path.join(args.out, "raw")
    os.makedirs(raw, exist_ok=True)
    path = os.path.join(raw, "networks.json")
    if args.render_only:
        with open(path) as f:
            data = json.load(f)
    else:
        data = measure(args)
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
    render(data, args.out)
    print(f"bench_networks: wrote {os.path.join(args.out, 'report.md')}")
    for target, measured, result in targets(data):
        print(f"  {result}  {target}: {measured}")


if __name__ == "__main__":
    main()
