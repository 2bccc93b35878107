// The benchmark suite: environment, per-shape interleaved timing of every backend, summary.
#include "bench/bench_suite.hpp"

#include "bench/baseline.hpp"
#include "bench/bench_backends.hpp"
#include "bench/bench_case.hpp"
#include "bench/bench_environment.hpp"
#include "bench/bench_format.hpp"
#include "bench/bench_output.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>

namespace convjit::bench {
using namespace std::string_literals;
namespace {

// ------------------------------------------------------------------ one (shape, backend) case

struct ShapeData {
  std::vector<float> src, weights, bias, expected;
};

ShapeData make_data(const ConvShape& s, std::uint32_t seed, bool with_expected) {
  ShapeData d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  d.src.resize(static_cast<std::size_t>(s.src_elems()));
  d.weights.resize(static_cast<std::size_t>(s.weight_elems()));
  d.bias.resize(static_cast<std::size_t>(s.oc));
  for (float& v : d.src) v = uni(rng);
  for (float& v : d.weights) v = uni(rng);
  for (float& v : d.bias) v = uni(rng);
  if (with_expected) {
    d.expected.resize(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, d.src.data(), d.weights.data(), d.bias.data(), d.expected.data());
  }
  return d;
}


// ------------------------------------------------------------------ preparing cases

void prepare_convjit(Case& c, const ConvShape& shape, const ShapeData& d, int threads,
                     bool same_isa) {
  JitOptions jo;
  jo.backend = parse_backend(c.backend);
  jo.isa = same_isa ? Isa::avx2 : Isa::automatic;
  jo.threads = threads;
  Jit jit(jo);
  c.kernel = jit.compile(shape);
  c.compile_us = c.kernel->generation_us();
  c.impl = c.kernel->name();
  const auto t0 = Clock::now();
  c.packed = c.kernel->pack_weights(d.weights.data(), shape.bias ? d.bias.data() : nullptr);
  c.pack_us = seconds_since(t0) * 1e6;
  const Kernel* k = c.kernel.get();
  const PackedWeights* w = &c.packed;
  const float* src = d.src.data();
  float* dst = c.dst.data();
  c.call = [k, w, src, dst, threads] { k->run(src, *w, dst, threads); };
}

void prepare_baseline(Case& c, const Baseline& b, const ConvShape& shape, const ShapeData& d,
                      int threads) {
  if (const std::string why = b.unsupported_reason(shape); !why.empty()) {
    c.skip("unsupported: " + why);
    return;
  }
  const auto t0 = Clock::now();
  c.prepared = b.prepare(shape, d.weights.data(), shape.bias ? d.bias.data() : nullptr, threads);
  c.compile_us = seconds_since(t0) * 1e6;
  c.impl = c.prepared->describe();
  PreparedConv* p = c.prepared.get();
  const float* src = d.src.data();
  float* dst = c.dst.data();
  c.call = [p, src, dst] { p->run(src, dst); };
}

// ------------------------------------------------------------------ option checks

void check_options(const BenchOptions& o) {
  if (o.shapes.empty()) throw Error("shapes", "no shapes to benchmark");
  if (o.threads < 1) throw Error("threads", "must be at least 1");
  if (!(o.min_seconds_per_case >= 0)) throw Error("min_seconds_per_case", "must not be negative");
  if (!(o.min_batch_seconds >= 0)) throw Error("min_batch_seconds", "must not be negative");
  if (o.repetitions < 1) throw Error("repetitions", "must be at least 1");
  if (o.max_repetitions < o.repetitions)
    throw Error("max_repetitions", "must be at least repetitions");
}

}  // namespace

int run_bench(const BenchOptions& o, std::ostream& out) {
  check_options(o);
  // Must precede the first oneDNN / OpenBLAS call: both read these once, at initialisation.
  if (o.same_isa) {
    setenv("DNNL_MAX_CPU_ISA", "AVX2", 0);
    setenv("OPENBLAS_CORETYPE", "Haswell", 0);
  }
  const std::vector<std::string> backends = resolve_backends(o);
  const bool reference_explicit =
      std::find(o.backends.begin(), o.backends.end(), "reference") != o.backends.end();

  const auto baselines = available_baselines();
  std::map<std::string, const Baseline*> baseline_by_name;
  for (const auto& b : baselines) baseline_by_name[b->name()] = b.get();

  const Environment env = probe_environment(baselines);
  const double peak = peak_gflops(env, o);
  if (!o.json)
    print_environment_text(env, o, backends, out);
  else if (o.json_environment)
    out << environment_json(env, o) << "\n";
  out.flush();

  std::vector<ShapeResult> results;
  bool any_mismatch = false;
  std::uint32_t seed = 20240611;
  for (std::size_t si = 0; si < o.shapes.size(); ++si) {
    const auto& [name, shape] = o.shapes[si];
    const ShapeData data = make_data(shape, seed++, o.verify);
    ShapeResult r{name, shape, {}};
    r.cases.reserve(backends.size());
    for (const std::string& b : backends) {
      Case& c = r.cases.emplace_back();
      c.backend = b;
      c.dst.assign(static_cast<std::size_t>(shape.dst_elems()),
                   std::numeric_limits<float>::quiet_NaN());
      if (b == "reference" && !reference_explicit &&
          shape.flops() > o.reference_max_mflops * 1e6) {
        c.skip(fixed(shape.flops() * 1e-6, 1) + " MFLOP > " + fixed(o.reference_max_mflops, 0) +
               " MFLOP, too slow (list 'reference' in the backends to run it anyway)");
        continue;
      }
      try {
        if (is_convjit_backend(b)) {
          prepare_convjit(c, shape, data, o.threads, o.same_isa);
        } else if (auto it = baseline_by_name.find(b); it != baseline_by_name.end()) {
          prepare_baseline(c, *it->second, shape, data, o.threads);
        } else {
          c.skip(baseline_missing_reason(b));
        }
      } catch (const Error& e) {
        c.skip(e.field() == "backend" || e.field() == "baseline" ? e.reason()
                                                                 : std::string(e.what()));
      } catch (const std::exception& e) {
        c.skip(std::string("failed to prepare: ") + e.what());
      }
      if (!c.ok()) continue;
      // First call: the correctness check (and the first warm-up call).
      try {
        c.call();
      } catch (const std::exception& e) {
        c.skip_failed_run(e);
        continue;
      }
      if (o.verify) {
        c.max_abs_err = max_abs_error(c.dst, data.expected);
        if (!(c.max_abs_err <= tolerance(shape))) {
          c.status = "mismatch";
          c.reason = "output differs from the reference: max abs error " +
                     json_number(c.max_abs_err, 6) + " (tolerance " +
                     json_number(tolerance(shape), 6) + ")";
          c.call = nullptr;
          any_mismatch = true;
        }
      }
    }
    time_cases(r.cases, o);
    // Release buffers and kernels before the next shape; keep what the report needs.
    for (Case& c : r.cases) {
      c.call = nullptr;
      c.prepared.reset();
      c.packed = PackedWeights();
      c.kernel.reset();
      std::vector<float>().swap(c.dst);
    }
    if (o.json)
      print_shape_json(r, o, peak, out);
    else
      print_shape_text(r, si + 1, o.shapes.size(), peak, out);
    results.push_back(std::move(r));
  }
  if (!o.json) print_summary_text(results, backends, peak, out);
  out.flush();
  return any_mismatch ? 1 : 0;
}


}  // namespace convjit::bench
