#pragma once
// The benchmark suite behind `convjit bench` (docs/ARCHITECTURE.md, "Command-line contract").
//
// Typical use (the tool):
//
//   convjit::bench::BenchOptions o;
//   o.shapes = convjit::bench::load_shape_entries("bench/shapes.txt");    // --shapes FILE
//   o.shapes.push_back({spec_text, convjit::ConvSpec::parse(spec_text).resolve()});  // SPEC
//   o.backends = convjit::bench::parse_backend_list("xbyak,onednn");      // --backend (optional)
//   o.threads = 1;                                                        // --threads N
//   o.json = true;                                                        // --json
//   return convjit::bench::run_bench(o, std::cout);
//
// Every convjit::Error thrown here (bad shapes file, unknown backend name, bad option) means
// "bad argument": the tool prints e.what() on one line and exits 2. Nothing else is thrown for
// a backend that cannot run a shape: that is reported as skipped in the output.
#include "bench/shape_entry.hpp"
#include "bench/shapes_file.hpp"  // load_shape_entries, parse_shape_entries

#include <convjit/shape.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace convjit::bench {

// The text as the inside of a JSON string (quotes, backslashes and control characters escaped).
std::string json_escape(std::string_view text);

// Backend names, in the order the suite reports them: convjit's "xbyak", "llvm", "generic",
// "reference", then the baselines "onednn", "onednn_winograd", "xnnpack", "im2col_openblas".
const std::vector<std::string>& known_backend_names();

// The default set (what an empty BenchOptions::backends means): convjit's available_backends()
// plus every baseline built into this binary.
std::vector<std::string> default_backend_names();

// "xbyak,onednn" -> {"xbyak","onednn"}; "all" -> {} (the default set). Throws
// convjit::Error("backend", ...) on an unknown or empty name. Duplicates are dropped.
std::vector<std::string> parse_backend_list(const std::string& comma_separated);

// What a repetition's duration is measured with. `cpu` = the calling thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID): time the scheduler gave to other processes is not counted, which
// keeps single-thread numbers meaningful on a busy machine; it would undercount work done on
// other threads, so `automatic` means cpu for threads == 1 and wall otherwise.
enum class Timer { automatic, wall, cpu };

struct BenchOptions {
  // The name is only a label (the tool uses the spec text for SPEC args). The text report
  // ends with a total per source (shapes file) of more than one entry: the sum of each
  // backend's median times weighted by the entries' counts (a whole network's convolutions).
  std::vector<ShapeEntry> shapes;
  // Backend names (see known_backend_names()). Empty = the default set. The reference kernel
  // is skipped for shapes above `reference_max_mflops` unless "reference" is listed here.
  std::vector<std::string> backends;
  // Threads per kernel call, for convjit and the baselines alike (1 = the single-core
  // comparison the suite is designed for).
  int threads = 1;
  // false: environment + a table per shape + summary. true: one JSON object per line per
  // (shape, backend) and nothing else on `out`.
  bool json = false;
  // Measuring time per (shape, backend), spread over the repetitions.
  double min_seconds_per_case = 0.2;
  // Lower and upper bounds on the number of timed repetitions per (shape, backend). Each
  // repetition times a batch of back-to-back calls lasting at least `min_batch_seconds`
  // (at least one call), so tiny shapes are timed over many calls.
  int repetitions = 7;
  int max_repetitions = 200;
  double min_batch_seconds = 0.002;
  Timer timer = Timer::automatic;
  // Compare every backend's output with the reference convolution before timing it; a backend
  // whose output differs is reported as "mismatch" and not timed.
  bool verify = true;
  // Above this many MFLOP the reference backend is skipped unless explicitly requested.
  double reference_max_mflops = 50.0;
  // JSON mode only: print the environment as a first line {"environment": {...}}.
  bool json_environment = false;
  // Cap the baselines to convjit's instruction set (AVX2+FMA) so the comparison is of code,
  // not of vector width: sets DNNL_MAX_CPU_ISA=AVX2 and OPENBLAS_CORETYPE=Haswell unless the
  // environment already sets them. XNNPACK has no such switch and keeps its own choice.
  // false (`--isa native`): every library picks what this CPU offers (AVX-512 where present).
  bool same_isa = true;
};

// Runs the suite and writes the report to `out` (progress never goes to `out`).
// Returns 0 when every case that ran matched the reference (or verify is off), 1 when some
// backend produced a wrong result. Throws convjit::Error on bad options (no shapes, unknown
// backend, threads < 1, ...) before measuring anything.
//
// JSON lines (one per shape and backend, in the order of the text tables):
//   {"name":..., "spec": ConvShape::to_string(), "backend":..., "status":"ok",
//    "algorithm": "direct" or "winograd_f2/f4/f6" (the error bound it was checked with),
//    "count": the shapes file's COUNT (1 for a SPEC), "source": the file's stem ("" for a SPEC),
//    "median_us":..., "min_us":..., "max_us":..., "p25_us":..., "p75_us":... (per call, with
//    the chosen "timer": "cpu" or "wall"), "median_wall_us":..., "median_cpu_us":...,
//    "undisturbed": fraction of repetitions whose CPU time was >= 95% of their wall time,
//    "gflops": direct-convolution flops / median (an effective rate for Winograd, which can
//    exceed the peak), "peak_fraction": gflops / measured FMA peak (a multiple, > 1 possible),
//    "compile_us": Kernel::generation_us() (convjit) or prepare() time (baselines),
//    "pack_us":..., "mflop":..., "threads":..., "reps":..., "calls_per_rep":...,
//    "max_abs_err":..., "speedup_of_xbyak": median(this) / median(xbyak) or null}
// A case that did not run has "status":"skipped" (or "mismatch"), a "reason", and null
// median_us / gflops (compile_us is null unless compilation happened).
int run_bench(const BenchOptions& options, std::ostream& out);

}  // namespace convjit::bench
