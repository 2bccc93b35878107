// The benchmark suite's run: for each shape, prepare every backend's case and check its output
// against the reference, time the cases together, report. The pieces are in bench_backends,
// bench_environment, bench_timer, bench_output and shapes_file.
#include "bench/bench_suite.hpp"

#include "bench/baseline.hpp"
#include "bench/bench_backends.hpp"
#include "bench/bench_case.hpp"
#include "bench/bench_environment.hpp"
#include "bench/bench_format.hpp"
#include "bench/bench_output.hpp"
#include "core/quantized_reference.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <random>

namespace convjit::bench {
namespace {

// Fixed, so that every run measures the same data.
constexpr std::uint32_t first_seed = 20240611;

void check_options(const BenchOptions& o) {
  if (o.shapes.empty()) throw Error("shapes", "no shapes to benchmark");
  if (o.threads < 1) throw Error("threads", "must be at least 1");
  if (!(o.min_seconds_per_case >= 0)) throw Error("min_seconds_per_case", "must not be negative");
  if (!(o.min_batch_seconds >= 0)) throw Error("min_batch_seconds", "must not be negative");
  if (o.repetitions < 1) throw Error("repetitions", "must be at least 1");
  if (o.max_repetitions < o.repetitions)
    throw Error("max_repetitions", "must be at least repetitions");
}

// Must precede the first oneDNN / OpenBLAS call: both read these once, at initialisation.
// A caller's own setting wins.
void cap_baselines_to_avx2() {
  setenv("DNNL_MAX_CPU_ISA", "AVX2", 0);
  setenv("OPENBLAS_CORETYPE", "Haswell", 0);
}

// ------------------------------------------------------------------ preparing cases

// The inputs of one shape, shared by its cases. 8-bit shapes keep theirs as bytes (src, and
// expected in the shape's dst type), s8 weights, an int32 bias and their quantization.
struct ShapeData {
  std::vector<float> src, weights, bias, residual, expected;
  std::vector<std::byte> src_bytes, expected_bytes;
  std::vector<std::int8_t> weights_s8;
  std::vector<std::int32_t> bias_s32;
  Quantization q;
};

// A layer as a quantized network holds it: activations after a ReLU (zero point 0), s8
// weights with per-channel scales, an int32 bias, and an output scale that spreads the outputs
// over the type's range.
ShapeData make_quantized_data(const ConvShape& s, std::uint32_t seed, bool with_expected) {
  ShapeData d;
  std::mt19937 rng(seed);
  Quantization& q = d.q;
  q.input_type = s.src_type;
  q.output_type = s.dst_type;
  q.input_scale = 0.05f;
  q.weight_scales.clear();
  std::uniform_real_distribution<float> scale(0.001f, 0.01f);
  for (std::int64_t o = 0; o < s.oc; ++o) q.weight_scales.push_back(scale(rng));
  if (s.dst_type == DataType::u8 || s.dst_type == DataType::s8) {
    const double taps = static_cast<double>(s.kh * s.kw * s.ic_per_group());
    q.output_scale = static_cast<float>(q.input_scale * 0.005 * 40.0 * 70.0 * std::sqrt(taps) / 100.0);
  }
  d.src_bytes.resize(static_cast<std::size_t>(s.src_elems()));
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::byte& b : d.src_bytes) b = static_cast<std::byte>(byte(rng));
  d.weights_s8.resize(static_cast<std::size_t>(s.weight_elems()));
  for (std::int8_t& w : d.weights_s8) w = static_cast<std::int8_t>(byte(rng) - 128);
  if (s.bias) {
    d.bias_s32.resize(static_cast<std::size_t>(s.oc));
    for (std::int32_t& b : d.bias_s32) b = byte(rng) * 40 - 5000;
  }
  if (with_expected) {
    d.expected_bytes.resize(static_cast<std::size_t>(s.dst_elems()) * bytes_of(s.dst_type));
    quantized_reference_conv(s, q, d.src_bytes.data(), d.weights_s8.data(),
                             d.bias_s32.empty() ? QuantizedBias() : QuantizedBias(d.bias_s32.data()),
                             d.expected_bytes.data());
  }
  return d;
}

ShapeData make_data(const ConvShape& s, std::uint32_t seed, bool with_expected) {
  if (s.quantized()) return make_quantized_data(s, seed, with_expected);
  ShapeData d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  d.src.resize(static_cast<std::size_t>(s.src_elems()));
  d.weights.resize(static_cast<std::size_t>(s.weight_elems()));
  d.bias.resize(static_cast<std::size_t>(s.oc));
  for (float& v : d.src) v = uni(rng);
  for (float& v : d.weights) v = uni(rng);
  for (float& v : d.bias) v = uni(rng);
  if (s.add_residual) {
    d.residual.resize(static_cast<std::size_t>(s.dst_elems()));
    for (float& v : d.residual) v = uni(rng);
  }
  if (with_expected) {
    d.expected.resize(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, d.src.data(), d.weights.data(), d.bias.data(), d.expected.data(),
                   s.add_residual ? d.residual.data() : nullptr);
  }
  return d;
}

// What the cases of every shape are prepared with.
struct Preparation {
  const BenchOptions& options;
  bool reference_explicit = false;
  std::map<std::string, const Baseline*> baseline_by_name;
};

Preparation make_preparation(const BenchOptions& o,
                             const std::vector<std::unique_ptr<Baseline>>& baselines) {
  Preparation p{o, std::find(o.backends.begin(), o.backends.end(), "reference") != o.backends.end(),
                {}};
  for (const auto& b : baselines) p.baseline_by_name[b->name()] = b.get();
  return p;
}

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
  c.algorithm = c.kernel->algorithm();
  const auto t0 = Clock::now();
  c.packed = shape.quantized()
                 ? c.kernel->pack_weights(d.weights_s8.data(), d.q,
                                          d.bias_s32.empty() ? nullptr : d.bias_s32.data())
                 : c.kernel->pack_weights(d.weights.data(), shape.bias ? d.bias.data() : nullptr);
  c.pack_us = seconds_since(t0) * 1e6;
  const Kernel* k = c.kernel.get();
  const PackedWeights* w = &c.packed;
  if (shape.quantized()) {
    const void* src = d.src_bytes.data();
    void* dst = c.dst.data();
    const RunOptions options{.threads = threads};
    c.call = [k, w, src, dst, options] { k->run_bytes(src, *w, dst, options); };
    return;
  }
  const float* src = d.src.data();
  float* dst = c.dst.data();
  if (!shape.add_residual) {
    c.call = [k, w, src, dst, threads] { k->run(src, *w, dst, threads); };
    return;
  }
  const RunOptions options{.threads = threads, .residual = d.residual.data()};
  c.call = [k, w, src, dst, options] { k->run(src, *w, dst, options); };
}

void prepare_baseline(Case& c, const Baseline& b, const ConvShape& shape, const ShapeData& d,
                      int threads) {
  if (const std::string why = b.unsupported_reason(shape); !why.empty()) {
    c.skip("unsupported: " + why);
    return;
  }
  const auto t0 = Clock::now();
  c.prepared = shape.quantized()
                   ? b.prepare_quantized(shape, d.q, d.weights_s8.data(),
                                         d.bias_s32.empty() ? nullptr : d.bias_s32.data(), threads)
                   : b.prepare(shape, d.weights.data(), shape.bias ? d.bias.data() : nullptr, threads);
  c.compile_us = seconds_since(t0) * 1e6;
  c.impl = c.prepared->describe();
  c.algorithm = c.prepared->algorithm();
  // Into the baseline's own layout, if it has one: not part of the timed call.
  c.prepared->stage_input(d.src.data());
  PreparedConv* p = c.prepared.get();
  const float* src = shape.quantized() ? reinterpret_cast<const float*>(d.src_bytes.data()) : d.src.data();
  float* dst = c.dst.data();
  c.call = [p, src, dst] { p->run(src, dst); };
}

bool reference_too_slow(const ConvShape& shape, const Preparation& p) {
  return !p.reference_explicit && shape.flops() > p.options.reference_max_mflops * 1e6;
}

std::string reference_too_slow_reason(const ConvShape& shape, const BenchOptions& o) {
  return fixed(shape.flops() * 1e-6, 1) + " MFLOP > " + fixed(o.reference_max_mflops, 0) +
         " MFLOP, too slow (list 'reference' in the backends to run it anyway)";
}

// Compiles the kernel or prepares the baseline; a backend that cannot run the shape is
// skipped with the reason, which the report shows.
void prepare_case(Case& c, const ConvShape& shape, const ShapeData& d, const Preparation& p) {
  // NaN, so that a kernel that leaves outputs unwritten fails the check.
  // The gaps between strided slices start as the zeros the reference leaves there.
  // 8-bit outputs are bytes in the same buffer, whole floats of them.
  const std::size_t dst_floats =
      static_cast<std::size_t>((shape.dst_elems() * shape.dst_element_bytes() + 3) / 4);
  c.dst.assign(dst_floats, std::numeric_limits<float>::quiet_NaN());
  if (!shape.dense_dst())
    for (std::size_t i = 0; i < c.dst.size(); ++i)
      if (static_cast<std::int64_t>(i) % shape.dst_pixel_stride() >= shape.oc) c.dst[i] = 0.0f;
  if (c.backend == "reference" && reference_too_slow(shape, p)) {
    c.skip(reference_too_slow_reason(shape, p.options));
    return;
  }
  try {
    if (is_convjit_backend(c.backend)) {
      prepare_convjit(c, shape, d, p.options.threads, p.options.same_isa);
    } else if (shape.add_residual || !shape.dense_src() || !shape.dense_dst()) {
      c.skip("unsupported: the fused residual add and pixel strides are convjit's own");
    } else if (auto it = p.baseline_by_name.find(c.backend);
               shape.quantized() && it != p.baseline_by_name.end() && !it->second->computes_8bit()) {
      c.skip("unsupported: fp32 only");
    } else if (auto it = p.baseline_by_name.find(c.backend); it != p.baseline_by_name.end()) {
      prepare_baseline(c, *it->second, shape, d, p.options.threads);
    } else {
      c.skip(baseline_missing_reason(c.backend));
    }
  } catch (const Error& e) {
    // For these two the field name adds nothing to the reason; other errors keep it.
    c.skip(e.field() == "backend" || e.field() == "baseline" ? e.reason()
                                                             : std::string(e.what()));
  } catch (const std::exception& e) {
    c.skip(std::string("failed to prepare: ") + e.what());
  }
}

// The largest difference between an 8-bit output and the exact reference, in the output
// type's units (quantized steps, or the f32 value).
double max_quantized_difference(const Case& c, const ConvShape& s, const ShapeData& d) {
  const std::byte* got = reinterpret_cast<const std::byte*>(c.dst.data());
  const std::byte* want = d.expected_bytes.data();
  double worst = 0;
  for (std::size_t i = 0; i < d.expected_bytes.size() / bytes_of(s.dst_type); ++i) {
    double a = 0, b = 0;
    switch (s.dst_type) {
      case DataType::u8: a = static_cast<std::uint8_t>(got[i]); b = static_cast<std::uint8_t>(want[i]); break;
      case DataType::s8: a = static_cast<std::int8_t>(got[i]); b = static_cast<std::int8_t>(want[i]); break;
      case DataType::s32: {
        std::int32_t x, y;
        std::memcpy(&x, got + 4 * i, 4);
        std::memcpy(&y, want + 4 * i, 4);
        a = x, b = y;
        break;
      }
      case DataType::f32: {
        float x, y;
        std::memcpy(&x, got + 4 * i, 4);
        std::memcpy(&y, want + 4 * i, 4);
        a = x, b = y;
        if (std::isnan(a) != std::isnan(b)) return std::numeric_limits<double>::infinity();
        break;
      }
    }
    worst = std::max(worst, std::abs(a - b));
  }
  return worst;
}

// convjit's 8-bit kernels equal the exact reference; a library that rounds in its own order
// is expected within one step (f32 output: a relative 1e-5 of the largest value), and marked
// inexact beyond.
void check_quantized(Case& c, const ConvShape& shape, const ShapeData& d) {
  c.max_abs_err = max_quantized_difference(c, shape, d);
  double bound = is_convjit_backend(c.backend) ? 0.0 : 1.0;
  if (shape.dst_type == DataType::f32 && !is_convjit_backend(c.backend)) {
    float largest = 0;
    for (std::size_t i = 0; i + 4 <= d.expected_bytes.size(); i += 4) {
      float v;
      std::memcpy(&v, d.expected_bytes.data() + i, 4);
      largest = std::max(largest, std::abs(v));
    }
    bound = 1e-5 * largest;
  }
  if (c.max_abs_err <= bound) return;
  if (!is_convjit_backend(c.backend)) {
    // A library's int8 path may be inexact by design (oneDNN halves the weights where there is
    // no VNNI, to keep vpmaddubsw from saturating): timed, and marked, as what users get.
    c.impl += " [inexact: up to " + json_number(c.max_abs_err, 6) + " from the exact result]";
    return;
  }
  c.status = "mismatch";
  c.reason = "output differs from the exact 8-bit reference by up to " +
             json_number(c.max_abs_err, 6) + " (allowed " + json_number(bound, 6) + ")";
  c.call = nullptr;
}

void check_against_reference(Case& c, const ConvShape& shape, const ShapeData& d) {
  if (shape.quantized()) return check_quantized(c, shape, d);
  c.max_abs_err = max_abs_error(c.dst, d.expected);
  // Every backend is held to its algorithm's bound (Winograd rounds differently).
  const double bound = tolerance(shape, c.algorithm, d.expected);
  if (c.max_abs_err <= bound) return;
  c.status = "mismatch";
  c.reason = "output differs from the reference: max abs error " +
             json_number(c.max_abs_err, 6) + " (tolerance " + json_number(bound, 6) + ")";
  c.call = nullptr;
}

// The first call is the correctness check (and the first warm-up call).
void first_call(Case& c, const ConvShape& shape, const ShapeData& d, bool verify) {
  try {
    c.call();
    // Out of the baseline's own layout, if it has one, for the check.
    if (c.prepared) c.prepared->finish_output(c.dst.data());
  } catch (const std::exception& e) {
    c.skip_failed_run(e);
    return;
  }
  if (verify) check_against_reference(c, shape, d);
}

// Keeps what the report needs; the next shape's cases need the memory.
void release_kernels_and_buffers(ShapeResult& r) {
  for (Case& c : r.cases) {
    c.call = nullptr;
    c.prepared.reset();
    c.packed = PackedWeights();
    c.kernel.reset();
    std::vector<float>().swap(c.dst);
  }
}

ShapeResult measure_shape(const ShapeEntry& entry, std::uint32_t seed,
                          const std::vector<std::string>& backends, const Preparation& p) {
  const ConvShape& shape = entry.shape;
  const ShapeData data = make_data(shape, seed, p.options.verify);
  ShapeResult r{entry.name, shape, {}, entry.count, entry.source};
  // No reallocation: each case's call points into the Case itself (its packed weights).
  r.cases.reserve(backends.size());
  for (const std::string& b : backends) {
    Case& c = r.cases.emplace_back();
    c.backend = b;
    prepare_case(c, shape, data, p);
    if (c.ok()) first_call(c, shape, data, p.options.verify);
  }
  time_cases(r.cases, p.options);
  release_kernels_and_buffers(r);
  return r;
}

bool has_mismatch(const ShapeResult& r) {
  return std::any_of(r.cases.begin(), r.cases.end(),
                     [](const Case& c) { return c.status == "mismatch"; });
}

}  // namespace

int run_bench(const BenchOptions& o, std::ostream& out) {
  check_options(o);
  if (o.same_isa) cap_baselines_to_avx2();
  const std::vector<std::string> backends = resolve_backends(o);
  const auto baselines = available_baselines();
  const Preparation preparation = make_preparation(o, baselines);

  const Environment env = probe_environment(baselines);
  // The summary's multiple of peak: of the VNNI peak when every shape is 8-bit.
  const bool all_8bit = std::all_of(o.shapes.begin(), o.shapes.end(),
                                    [](const ShapeEntry& e) { return e.shape.quantized(); });
  const double peak = all_8bit ? peak_for(env, o, o.shapes.front().shape) : peak_gflops(env, o);
  print_environment(env, o, backends, out);

  std::vector<ShapeResult> results;
  bool any_mismatch = false;
  for (std::size_t i = 0; i < o.shapes.size(); ++i) {
    ShapeResult r = measure_shape(o.shapes[i], first_seed + static_cast<std::uint32_t>(i),
                                  backends, preparation);
    any_mismatch = any_mismatch || has_mismatch(r);
    print_shape(r, i + 1, o, peak_for(env, o, r.shape), out);
    results.push_back(std::move(r));
  }
  print_summary(results, backends, o, peak, out);
  out.flush();
  return any_mismatch ? 1 : 0;
}

}  // namespace convjit::bench
