// convjit verify SPEC... [--backend B,...] [--seed N] [--threads N]
// Random data through each backend and through the reference; the worst absolute error per
// (spec, backend) against a tolerance; exit 1 on any mismatch. A spec with add=1 gets a
// random residual; with src_stride/dst_stride the gaps between the slices must stay zero.
//
// Tolerance. Every output is a bias plus L = kh*kw*c/g products of numbers in [-1, 1]. The
// reference accumulates in double; a kernel accumulates in float, in its own order, with
// FMA. Each float addition rounds with relative error at most 2^-24 ≈ 6e-8 of a partial sum
// bounded by L + 1, so the worst case grows like L²·6e-8 but the error actually seen grows
// far slower (rounding errors cancel). We allow 4e-6 · (L + 8): a few ulps of the largest
// possible partial sum, linear in L: L = 9 (3×3, one channel) allows 6.8e-5, L = 576
// (3×3×64) allows 2.3e-3, while a real bug (a dropped tap, a wrong weight) moves an output
// by the size of one product, typically 0.1 to 1. A non-finite output or one left
// unwritten (outputs start as NaN) is always a mismatch.
//
// 8-bit specs (src=u8|s8) get random bytes, s8 weights, an int32 bias and a quantization with
// zero points far from 0, and must equal the exact integer reference byte for byte
// (tolerance 0; the worst error is in the output type's units).
#include "tools/convjit/cli.hpp"

#include "core/quantized_reference.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>

namespace convjit::cli {
namespace {

struct Outcome {
  std::string status;  // "ok", "MISMATCH", "unavailable"
  std::string detail;  // the error, or why the backend could not run
  double worst = 0;
  double tolerance = 0;   // the kernel's algorithm's bound (core/tolerance.hpp)
  std::string algorithm;  // direct or winograd_f*
  bool failed = false;
};

// The backend's kernel for the shape, or null with the outcome saying why it cannot run
// (a failure only when the backend was asked for).
std::shared_ptr<const Kernel> compile_or_skip(const ConvShape& shape, Backend backend, int threads,
                                              bool explicitly_requested, Outcome& outcome) {
  try {
    return Jit(JitOptions{.backend = backend, .threads = threads}).compile(shape);
  } catch (const Error& e) {
    outcome.status = explicitly_requested ? "FAILED" : "skipped";
    outcome.detail = "unavailable: " + e.reason();
    outcome.failed = explicitly_requested;
    return nullptr;
  }
}

Outcome check_backend(const ConvShape& shape, Backend backend, int threads,
                      const std::vector<float>& src, const std::vector<float>& weights,
                      const std::vector<float>& bias, const std::vector<float>& residual,
                      const std::vector<float>& expected, bool explicitly_requested) {
  Outcome outcome;
  const auto kernel = compile_or_skip(shape, backend, threads, explicitly_requested, outcome);
  if (!kernel) return outcome;
  // Outputs start as NaN (an unwritten one fails), the gaps between strided slices as the
  // zeros the reference leaves there (a write into one shows up as an error).
  std::vector<float> dst(expected.size(), 0.0f);
  for (std::size_t i = 0; i < dst.size(); ++i)
    if (shape.layout == Layout::nchw ||
        static_cast<std::int64_t>(i) % shape.dst_pixel_stride() < shape.oc)
      dst[i] = std::numeric_limits<float>::quiet_NaN();
  const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
  RunOptions options;
  options.threads = threads;
  options.residual = shape.add_residual ? residual.data() : nullptr;
  kernel->run(src.data(), packed, dst.data(), options);
  outcome.algorithm = std::string(to_string(kernel->algorithm()));
  outcome.tolerance = convjit::tolerance(shape, kernel->algorithm(), expected);
  const double tolerance = outcome.tolerance;
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < dst.size(); ++i) {
    const double err = max_abs_error(&dst[i], &expected[i], 1);
    if (err > worst) {
      worst = err;
      worst_at = i;
    }
  }
  outcome.worst = worst;
  if (worst <= tolerance) {
    outcome.status = "ok";
  } else {
    outcome.status = "MISMATCH";
    outcome.failed = true;
    outcome.detail = "at output " + std::to_string(worst_at) + ": got " +
                     format_number(dst[worst_at], 7) + ", expected " +
                     format_number(expected[worst_at], 7);
  }
  return outcome;
}

// The 8-bit layer verify runs: data from `seed`, zero points away from 0, an output scale
// that spreads the sums over the type's range.
struct QuantizedLayer {
  Quantization q;
  std::vector<std::uint8_t> src;
  std::vector<std::int8_t> weights;
  std::vector<std::int32_t> bias;
  std::vector<std::uint8_t> expected;
};

QuantizedLayer quantized_layer(const ConvShape& s, std::uint64_t seed) {
  QuantizedLayer layer;
  auto bytes = [&](std::size_t n, std::uint64_t salt) {
    std::vector<std::uint8_t> out(n);
    std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + salt;
    for (auto& b : out) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = static_cast<std::uint8_t>(x >> 24);
    }
    return out;
  };
  layer.src = bytes(static_cast<std::size_t>(s.src_elems()), 1);
  for (std::uint8_t b : bytes(static_cast<std::size_t>(s.weight_elems()), 2))
    layer.weights.push_back(static_cast<std::int8_t>(b));
  for (std::uint8_t b : bytes(static_cast<std::size_t>(s.oc), 3)) layer.bias.push_back(40 * b - 5000);
  Quantization& q = layer.q;
  q.input_type = s.src_type;
  q.output_type = s.dst_type;
  q.input_zero_point = s.src_type == DataType::u8 ? 131 : -7;
  q.input_scale = 0.02f;
  q.weight_scales = {0.01f};
  if (s.dst_type == DataType::u8 || s.dst_type == DataType::s8) {
    q.output_zero_point = s.dst_type == DataType::u8 ? 100 : 3;
    q.output_scale = static_cast<float>(0.02 * 0.01 * 5500.0 *
                                        std::sqrt(static_cast<double>(s.kh * s.kw * s.ic_per_group())) / 150.0);
  }
  layer.expected.assign(static_cast<std::size_t>(s.dst_elems() * s.dst_element_bytes()), 0);
  quantized_reference_conv(s, q, layer.src.data(), layer.weights.data(),
                           s.bias ? QuantizedBias(layer.bias.data()) : QuantizedBias(), layer.expected.data());
  return layer;
}

// An output element of the shape's type as a number.
double element(const ConvShape& s, const std::vector<std::uint8_t>& bytes, std::size_t i) {
  switch (s.dst_type) {
    case DataType::u8: return bytes[i];
    case DataType::s8: return static_cast<std::int8_t>(bytes[i]);
    case DataType::s32: {
      std::int32_t v;
      std::memcpy(&v, &bytes[4 * i], 4);
      return v;
    }
    case DataType::f32: {
      float v;
      std::memcpy(&v, &bytes[4 * i], 4);
      return v;
    }
  }
  return 0;
}

Outcome check_quantized_backend(const ConvShape& shape, Backend backend, int threads,
                                const QuantizedLayer& layer, bool explicitly_requested) {
  Outcome outcome;
  const auto kernel = compile_or_skip(shape, backend, threads, explicitly_requested, outcome);
  if (!kernel) return outcome;
  // dst starts as what the reference leaves untouched (zeros), so a stray write shows.
  std::vector<std::uint8_t> dst(layer.expected.size(), 0);
  const PackedWeights packed =
      kernel->pack_weights(layer.weights.data(), layer.q, shape.bias ? layer.bias.data() : nullptr);
  kernel->run_bytes(layer.src.data(), packed, dst.data(), RunOptions{.threads = threads});
  outcome.algorithm = "direct, exact";
  std::size_t worst_at = 0;
  const std::size_t elements = dst.size() / static_cast<std::size_t>(shape.dst_element_bytes());
  for (std::size_t i = 0; i < elements; ++i) {
    const double got = element(shape, dst, i), want = element(shape, layer.expected, i);
    const double err = std::isnan(got) || std::isnan(want) ? std::numeric_limits<double>::infinity()
                                                           : std::abs(got - want);
    if (err > outcome.worst) {
      outcome.worst = err;
      worst_at = i;
    }
  }
  const bool equal = dst == layer.expected;
  outcome.status = equal ? "ok" : "MISMATCH";
  outcome.failed = !equal;
  if (!equal)
    outcome.detail = "at output " + std::to_string(worst_at) + ": got " +
                     format_number(element(shape, dst, worst_at), 7) + ", expected " +
                     format_number(element(shape, layer.expected, worst_at), 7);
  return outcome;
}

}  // namespace

int cmd_verify(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "verify", {"--backend", "--seed", "--threads"}, {});
  if (parsed.positional.empty())
    throw Error("verify", "needs at least one SPEC (see convjit verify --help)");
  const bool explicit_backends = parsed.has("--backend");
  std::vector<Backend> backends;
  if (explicit_backends) {
    backends = parse_backend_list(parsed.value("--backend"));
  } else {
    for (Backend b : available_backends())
      if (b != Backend::reference) backends.push_back(b);
    if (backends.empty()) backends.push_back(Backend::reference);
  }
  const std::uint64_t seed = static_cast<std::uint64_t>(
      parse_integer("--seed", parsed.value("--seed", "1"), 0, std::numeric_limits<std::int64_t>::max()));
  const int threads =
      static_cast<int>(parse_integer("--threads", parsed.value("--threads", "0"), 0, 4096));

  // Every spec is parsed before anything runs: a bad one is a usage error (exit 2).
  std::vector<ConvShape> shapes;
  for (const std::string& text : parsed.positional) shapes.push_back(parse_shape(text));

  std::vector<std::vector<std::string>> rows = {
      {"spec", "backend", "algorithm", "worst error", "tolerance", "result"}};
  bool any_failed = false;
  int ran_count = 0;
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    const ConvShape& s = shapes[k];
    const std::uint64_t base = seed * 1000003ull + k * 3;
    if (s.quantized()) {
      const QuantizedLayer layer = quantized_layer(s, base);
      for (Backend b : backends) {
        const Outcome o = check_quantized_backend(s, b, threads, layer, explicit_backends);
        any_failed = any_failed || o.failed;
        const bool ran = o.status == "ok" || o.status == "MISMATCH";
        ran_count += ran ? 1 : 0;
        rows.push_back({parsed.positional[k], std::string(to_string(resolve_backend(b))),
                        ran ? o.algorithm : "-", ran ? format_number(o.worst, 3) : "-",
                        ran ? "0" : "-", o.status + (o.detail.empty() ? "" : " (" + o.detail + ")")});
      }
      continue;
    }
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), base);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), base + 1);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), base + 2);
    const auto residual = s.add_residual
                              ? random_floats(static_cast<std::size_t>(s.dst_elems()), base + 3)
                              : std::vector<float>{};
    std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, src.data(), weights.data(), bias.data(), expected.data(),
                   s.add_residual ? residual.data() : nullptr);
    for (Backend b : backends) {
      const Outcome o = check_backend(s, b, threads, src, weights, bias, residual, expected,
                                      explicit_backends);
      any_failed = any_failed || o.failed;
      const bool ran = o.status == "ok" || o.status == "MISMATCH";
      ran_count += ran ? 1 : 0;
      std::string result = o.status;
      if (!o.detail.empty()) result += " (" + o.detail + ")";
      rows.push_back({parsed.positional[k], std::string(to_string(resolve_backend(b))),
                      ran ? o.algorithm : "-", ran ? format_number(o.worst, 3) : "-",
                      ran ? format_number(o.tolerance, 3) : "-", result});
    }
  }
  print_table(std::cout, rows, "lllrrl");
  if (ran_count == 0) {
    std::cout << "verify: FAILED (no backend could run, nothing was verified)\n";
    return kExitFailure;
  }
  std::cout << (any_failed ? "verify: FAILED\n" : "verify: all ok\n");
  return any_failed ? kExitFailure : kExitOk;
}

}  // namespace convjit::cli
