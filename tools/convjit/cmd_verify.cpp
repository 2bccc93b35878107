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
#include "tools/convjit/cli.hpp"

#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <algorithm>
#include <cmath>
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

Outcome check_backend(const ConvShape& shape, Backend backend, int threads,
                      const std::vector<float>& src, const std::vector<float>& weights,
                      const std::vector<float>& bias, const std::vector<float>& residual,
                      const std::vector<float>& expected, bool explicitly_requested) {
  Outcome outcome;
  std::shared_ptr<const Kernel> kernel;
  try {
    kernel = Jit(JitOptions{.backend = backend, .threads = threads}).compile(shape);
  } catch (const Error& e) {
    outcome.status = explicitly_requested ? "FAILED" : "skipped";
    outcome.detail = "unavailable: " + e.reason();
    outcome.failed = explicitly_requested;
    return outcome;
  }
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
