#include "tests/support/test_support.hpp"

#include "bench/shapes_file.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <iterator>
#include <limits>
#include <stdexcept>

namespace convjit::testing {

// ------------------------------------------------------------------ tuning

namespace {
// The suites pin the cost model's kernels and their generation times: tuning at first use
// (timing several kernels, keeping the fastest) would make both depend on the machine's load.
// Off unless the environment says otherwise; tests/tuning_test.cpp asks for it explicitly.
const bool tuning_off_by_default = [] {
  ::setenv("CONVJIT_TUNE", "off", /*overwrite=*/0);
  return true;
}();
}  // namespace

bool tuning_is_off_by_default() { return tuning_off_by_default; }

// ------------------------------------------------------------------ random data

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> out(n);
  for (float& v : out) v = dist(rng);
  return out;
}

// ------------------------------------------------------------------ layout transforms

namespace {

void require_size(const std::vector<float>& data, std::int64_t expected, const char* what) {
  if (static_cast<std::int64_t>(data.size()) != expected)
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(expected) +
                                " floats, got " + std::to_string(data.size()));
}

}  // namespace

std::vector<float> nhwc_to_nchw(const std::vector<float>& data, std::int64_t n, std::int64_t h,
                                std::int64_t w, std::int64_t c) {
  require_size(data, n * h * w * c, "nhwc_to_nchw");
  std::vector<float> out(data.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t ch = 0; ch < c; ++ch)
          out[((b * c + ch) * h + y) * w + x] = data[((b * h + y) * w + x) * c + ch];
  return out;
}

std::vector<float> nchw_to_nhwc(const std::vector<float>& data, std::int64_t n, std::int64_t c,
                                std::int64_t h, std::int64_t w) {
  require_size(data, n * c * h * w, "nchw_to_nhwc");
  std::vector<float> out(data.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x)
          out[((b * h + y) * w + x) * c + ch] = data[((b * c + ch) * h + y) * w + x];
  return out;
}

std::vector<float> src_nhwc_to_nchw(const ConvShape& s, const std::vector<float>& data) {
  return nhwc_to_nchw(data, s.n, s.h, s.w, s.c);
}
std::vector<float> src_nchw_to_nhwc(const ConvShape& s, const std::vector<float>& data) {
  return nchw_to_nhwc(data, s.n, s.c, s.h, s.w);
}
std::vector<float> dst_nhwc_to_nchw(const ConvShape& s, const std::vector<float>& data) {
  return nhwc_to_nchw(data, s.n, s.out_h, s.out_w, s.oc);
}
std::vector<float> dst_nchw_to_nhwc(const ConvShape& s, const std::vector<float>& data) {
  return nchw_to_nhwc(data, s.n, s.oc, s.out_h, s.out_w);
}

std::vector<float> hwio_to_oihw(const ConvShape& s, const std::vector<float>& data) {
  require_size(data, s.weight_elems(), "hwio_to_oihw");
  const std::int64_t icg = s.ic_per_group();
  std::vector<float> out(data.size());
  for (std::int64_t y = 0; y < s.kh; ++y)
    for (std::int64_t x = 0; x < s.kw; ++x)
      for (std::int64_t i = 0; i < icg; ++i)
        for (std::int64_t o = 0; o < s.oc; ++o)
          out[((o * icg + i) * s.kh + y) * s.kw + x] = data[((y * s.kw + x) * icg + i) * s.oc + o];
  return out;
}

std::vector<float> oihw_to_hwio(const ConvShape& s, const std::vector<float>& data) {
  require_size(data, s.weight_elems(), "oihw_to_hwio");
  const std::int64_t icg = s.ic_per_group();
  std::vector<float> out(data.size());
  for (std::int64_t o = 0; o < s.oc; ++o)
    for (std::int64_t i = 0; i < icg; ++i)
      for (std::int64_t y = 0; y < s.kh; ++y)
        for (std::int64_t x = 0; x < s.kw; ++x)
          out[((y * s.kw + x) * icg + i) * s.oc + o] = data[((o * icg + i) * s.kh + y) * s.kw + x];
  return out;
}

ConvShape with_layout(ConvShape s, Layout layout) {
  s.layout = layout;
  return s;
}

// ------------------------------------------------------------------ random shapes

namespace {

std::int64_t uniform_int(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  if (hi < lo) hi = lo;
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

// Log-uniform in [lo, hi]: every octave equally likely, so small values are common but the
// upper end is still reached.
std::int64_t log_uniform(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  if (hi <= lo) return lo;
  std::uniform_real_distribution<double> dist(std::log(static_cast<double>(lo)),
                                              std::log(static_cast<double>(hi) + 1.0));
  const auto v = static_cast<std::int64_t>(std::floor(std::exp(dist(rng))));
  return std::clamp(v, lo, hi);
}

bool chance(std::mt19937_64& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

// Stride and dilation: 1 is the common case, larger values still well covered.
std::int64_t small_factor(std::mt19937_64& rng, std::int64_t max, double p_one) {
  if (max <= 1 || chance(rng, p_one)) return 1;
  return uniform_int(rng, 2, max);
}

ConvSpec draw_spec(std::mt19937_64& rng, const RandomShapeLimits& lim) {
  ConvSpec spec;
  spec.n = chance(rng, 0.75) ? 1 : uniform_int(rng, 1, lim.max_batch);

  // Channels and groups.
  const int group_mode = lim.allow_groups ? static_cast<int>(uniform_int(rng, 0, 9)) : 0;
  const std::int64_t max_ch = lim.max_channels;
  if (group_mode <= 4 || max_ch < 2) {  // dense, g = 1
    spec.groups = 1;
    spec.c = log_uniform(rng, 1, max_ch);
    spec.oc = log_uniform(rng, 1, max_ch);
  } else if (group_mode <= 6) {  // depthwise, g = c = oc
    spec.groups = spec.c = spec.oc = log_uniform(rng, 2, max_ch);
  } else if (group_mode == 7) {  // depthwise with a channel multiplier, oc = m * c
    const std::int64_t m = uniform_int(rng, 2, 4);
    spec.groups = spec.c = log_uniform(rng, 1, std::max<std::int64_t>(max_ch / m, 1));
    spec.oc = spec.c * m;
    if (spec.oc > max_ch) spec.oc = spec.c;
  } else {  // grouped: c and oc multiples of g
    const std::int64_t g = uniform_int(rng, 2, std::min(lim.max_groups, max_ch));
    spec.groups = g;
    spec.c = g * log_uniform(rng, 1, std::max<std::int64_t>(max_ch / g, 1));
    spec.oc = g * log_uniform(rng, 1, std::max<std::int64_t>(max_ch / g, 1));
  }

  // Spatial sizes, kernel, stride, dilation.
  spec.h = log_uniform(rng, 1, lim.max_spatial);
  spec.w = chance(rng, 0.5) ? spec.h : log_uniform(rng, 1, lim.max_spatial);
  spec.kh = log_uniform(rng, 1, lim.max_kernel);
  spec.kw = chance(rng, 0.6) ? spec.kh : log_uniform(rng, 1, lim.max_kernel);
  spec.sh = small_factor(rng, lim.max_stride, 0.4);
  spec.sw = chance(rng, 0.5) ? spec.sh : small_factor(rng, lim.max_stride, 0.4);
  spec.dh = small_factor(rng, lim.max_dilation, 0.6);
  spec.dw = chance(rng, 0.5) ? spec.dh : small_factor(rng, lim.max_dilation, 0.6);

  // Padding: valid, same, same_lower, p (all sides), ph/pw, pt/pb/pl/pr.
  const std::int64_t extent_h = effective_kernel(spec.kh, spec.dh);
  const std::int64_t extent_w = effective_kernel(spec.kw, spec.dw);
  switch (uniform_int(rng, 0, 5)) {
    case 0: spec.padding = PaddingMode::valid; break;
    case 1: spec.padding = PaddingMode::same; break;
    case 2: spec.padding = PaddingMode::same_lower; break;
    case 3: {
      spec.padding = PaddingMode::explicit_pads;
      const std::int64_t p = uniform_int(rng, 0, std::max(extent_h, extent_w) / 2 + 1);
      spec.pad_top = spec.pad_bottom = spec.pad_left = spec.pad_right = p;
      break;
    }
    case 4:
      spec.padding = PaddingMode::explicit_pads;
      spec.pad_top = spec.pad_bottom = uniform_int(rng, 0, extent_h / 2 + 1);
      spec.pad_left = spec.pad_right = uniform_int(rng, 0, extent_w / 2 + 1);
      break;
    default:
      // Up to the whole extent, so some border outputs see nothing but padding.
      spec.padding = PaddingMode::explicit_pads;
      spec.pad_top = uniform_int(rng, 0, extent_h);
      spec.pad_bottom = uniform_int(rng, 0, extent_h);
      spec.pad_left = uniform_int(rng, 0, extent_w);
      spec.pad_right = uniform_int(rng, 0, extent_w);
      break;
  }

  spec.layout = lim.layout ? *lim.layout : (chance(rng, 0.5) ? Layout::nhwc : Layout::nchw);
  spec.bias = lim.bias ? *lim.bias : chance(rng, 0.5);
  if (lim.allow_activation) {
    switch (uniform_int(rng, 0, 6)) {
      case 0: spec.act = {}; break;
      case 1: spec.act = {ActivationKind::relu, 0.0f, 0.0f}; break;
      case 2:
        // Multiples of 1/8: exact in binary, so they print and parse back exactly.
        spec.act = {ActivationKind::clamp, -static_cast<float>(uniform_int(rng, 0, 8)) / 8.0f,
                    static_cast<float>(uniform_int(rng, 0, 8)) / 8.0f};
        break;
      case 3:
        // Negative, PyTorch's default, a usual one, and above 1 (where the lowering takes
        // the smaller of x and alpha·x).
        spec.act = {ActivationKind::leaky_relu, 0.0f, 0.0f,
                    kRandomLeakyReluSlopes[uniform_int(
                        rng, 0, static_cast<std::int64_t>(std::size(kRandomLeakyReluSlopes)) - 1)]};
        break;
      case 4: spec.act = {ActivationKind::hardswish}; break;
      case 5: spec.act = {ActivationKind::silu}; break;
      default: spec.act = {ActivationKind::sigmoid}; break;
    }
  }
  return spec;
}

}  // namespace

ConvShape random_shape(std::mt19937_64& rng, const RandomShapeLimits& limits) {
  for (int attempt = 0; attempt < limits.max_attempts; ++attempt) {
    const ConvSpec spec = draw_spec(rng, limits);
    try {
      ConvShape shape = spec.resolve();
      if (shape.flops() <= limits.max_flops) return shape;
    } catch (const convjit::Error&) {
      // Kernel larger than the padded input and the like: draw again.
    }
  }
  throw std::runtime_error("random_shape: no shape within the limits after " +
                           std::to_string(limits.max_attempts) + " attempts");
}

ConvShape with_residual(const ConvShape& shape, bool add) {
  ConvSpec spec = shape.spec();
  spec.add_residual = add;
  return spec.resolve();
}

ConvShape with_pixel_strides(const ConvShape& shape, std::int64_t src_stride,
                             std::int64_t dst_stride) {
  ConvSpec spec = shape.spec();
  spec.src_stride = src_stride;
  spec.dst_stride = dst_stride;
  return spec.resolve();
}

ConvShape with_random_engine_options(const ConvShape& shape, std::mt19937_64& rng,
                                     EngineOptions options) {
  ConvSpec spec = shape.spec();
  if (options.residual) spec.add_residual = chance(rng, 0.5);
  if (options.strides && shape.layout == Layout::nhwc) {
    auto stride = [&](std::int64_t channels) -> std::int64_t {
      if (!chance(rng, 2.0 / 3.0)) return 0;
      return chance(rng, 0.5) ? channels + uniform_int(rng, 1, 9) : channels * uniform_int(rng, 2, 4);
    };
    spec.src_stride = stride(shape.c);
    spec.dst_stride = stride(shape.oc);
  }
  return spec.resolve();
}

bool is_output_element(const ConvShape& shape, std::int64_t i) {
  return shape.layout == Layout::nchw || i % shape.dst_pixel_stride() < shape.oc;
}

// ------------------------------------------------------------------ comparison


// ------------------------------------------------------------------ fluent builder

ConvCase::ConvCase() {
  spec_.c = spec_.h = spec_.w = spec_.oc = 1;
  spec_.kh = spec_.kw = 1;
}

ConvCase& ConvCase::batch(std::int64_t n) { spec_.n = n; return *this; }
ConvCase& ConvCase::input(std::int64_t h, std::int64_t w, std::int64_t c) {
  spec_.h = h; spec_.w = w; spec_.c = c; return *this;
}
ConvCase& ConvCase::input_size(std::int64_t h, std::int64_t w) { spec_.h = h; spec_.w = w; return *this; }
ConvCase& ConvCase::input_channels(std::int64_t c) { spec_.c = c; return *this; }
ConvCase& ConvCase::output_channels(std::int64_t oc) { spec_.oc = oc; return *this; }
ConvCase& ConvCase::kernel(std::int64_t k) { return kernel(k, k); }
ConvCase& ConvCase::kernel(std::int64_t kh, std::int64_t kw) { spec_.kh = kh; spec_.kw = kw; return *this; }
ConvCase& ConvCase::stride(std::int64_t s) { return stride(s, s); }
ConvCase& ConvCase::stride(std::int64_t sh, std::int64_t sw) { spec_.sh = sh; spec_.sw = sw; return *this; }
ConvCase& ConvCase::dilation(std::int64_t d) { return dilation(d, d); }
ConvCase& ConvCase::dilation(std::int64_t dh, std::int64_t dw) { spec_.dh = dh; spec_.dw = dw; return *this; }
ConvCase& ConvCase::padding(std::int64_t p) { return padding(p, p, p, p); }
ConvCase& ConvCase::padding(std::int64_t ph, std::int64_t pw) { return padding(ph, ph, pw, pw); }
ConvCase& ConvCase::padding(std::int64_t top, std::int64_t bottom, std::int64_t left,
                            std::int64_t right) {
  spec_.padding = PaddingMode::explicit_pads;
  spec_.pad_top = top; spec_.pad_bottom = bottom; spec_.pad_left = left; spec_.pad_right = right;
  return *this;
}
ConvCase& ConvCase::padding_valid() {
  spec_.padding = PaddingMode::valid;
  spec_.pad_top = spec_.pad_bottom = spec_.pad_left = spec_.pad_right = 0;
  return *this;
}
ConvCase& ConvCase::padding_same() { padding_valid(); spec_.padding = PaddingMode::same; return *this; }
ConvCase& ConvCase::padding_same_lower() {
  padding_valid();
  spec_.padding = PaddingMode::same_lower;
  return *this;
}
ConvCase& ConvCase::groups(std::int64_t g) { spec_.groups = g; return *this; }
ConvCase& ConvCase::depthwise() { spec_.groups = spec_.oc = spec_.c; return *this; }
ConvCase& ConvCase::layout(Layout l) { spec_.layout = l; return *this; }
ConvCase& ConvCase::bias(bool on) { spec_.bias = on; return *this; }
ConvCase& ConvCase::relu() { spec_.act = {ActivationKind::relu, 0.0f, 0.0f}; return *this; }
ConvCase& ConvCase::clamp(float lo, float hi) { spec_.act = {ActivationKind::clamp, lo, hi}; return *this; }
ConvCase& ConvCase::leaky_relu(float alpha) {
  spec_.act = {ActivationKind::leaky_relu, 0.0f, 0.0f, alpha};
  return *this;
}
ConvCase& ConvCase::hardswish() { spec_.act = {ActivationKind::hardswish}; return *this; }
ConvCase& ConvCase::silu() { spec_.act = {ActivationKind::silu}; return *this; }
ConvCase& ConvCase::sigmoid() { spec_.act = {ActivationKind::sigmoid}; return *this; }

// ------------------------------------------------------------------ benchmark shapes

std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path) {
  return bench::load_shapes_file(path);
}

// ------------------------------------------------------------------ preconditions

boost::test_tools::assertion_result skip_unless(bool met, const std::string& why_not) {
  if (met) return true;
  std::cout << "convjit-test-skipped: " << why_not << std::endl;
  boost::test_tools::assertion_result result(false);
  result.message() << why_not;
  return result;
}

// ------------------------------------------------------------------ differential check

std::string error_field(const std::function<void()>& f) {
  try {
    f();
  } catch (const convjit::Error& e) {
    BOOST_TEST_MESSAGE("  threw: " << e.what());
    BOOST_TEST(std::string(e.what()).find(e.field()) != std::string::npos);
    BOOST_TEST(!e.reason().empty());
    return e.field();
  }
  return "";
}

std::string JitTarget::name() const {
  std::string out(to_string(backend));
  if (isa != Isa::automatic) out += "/" + std::string(to_string(isa));
  if (tune != Tuning::automatic) out += "/tune=" + std::string(to_string(tune));
  return out;
}

boost::test_tools::assertion_result cpu_runs_avx512(boost::unit_test::test_unit_id) {
  const auto isas = available_isas();
  boost::test_tools::assertion_result has(std::find(isas.begin(), isas.end(), Isa::avx512) !=
                                          isas.end());
  if (!has) has.message() << "this CPU has no AVX-512F+VL: its kernels are not generated here";
  return has;
}

std::vector<JitTarget> jit_targets() {
  std::vector<JitTarget> out;
  for (Backend b : available_backends())
    if (b == Backend::xbyak || b == Backend::llvm)
      for (Isa isa : available_isas()) out.emplace_back(b, isa);
  return out;
}

std::vector<JitTarget> all_targets() {
  std::vector<JitTarget> out = jit_targets();
  for (Backend b : available_backends())
    if (b != Backend::xbyak && b != Backend::llvm) out.emplace_back(b);
  return out;
}

Comparison compare_outputs(const ConvShape& shape, const float* actual, const float* expected,
                           std::size_t count, Algorithm algo) {
  Comparison result;
  result.tolerance = tolerance(shape, algo, expected, count);
  for (std::size_t i = 0; i < count; ++i) {
    const double err = max_abs_error(actual + i, expected + i, 1);
    if (i == 0 || err > result.max_error) {
      result.max_error = err;
      result.worst_index = i;
      result.expected = expected[i];
      result.actual = actual[i];
    }
  }
  return result;
}

Comparison compare_backend_with_reference(const ConvShape& shape, const JitTarget& target,
                                          std::uint64_t seed) {
  Jit jit(target.options());
  const std::shared_ptr<const Kernel> kernel = jit.compile(shape);

  const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), seed);
  const auto weights =
      random_floats(static_cast<std::size_t>(shape.weight_elems()), seed ^ 0x5bd1e995u);
  const auto bias = random_floats(static_cast<std::size_t>(shape.oc), seed ^ 0xc2b2ae35u);

  // The bias pointer is passed even when shape.bias is false: both the kernel and the
  // reference must then ignore it.
  const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
  const auto dst_elems = static_cast<std::size_t>(shape.dst_elems());
  const std::vector<float> residual =
      shape.add_residual ? random_floats(dst_elems, seed ^ 0x27d4eb2fu) : std::vector<float>{};

  // dst sits between two guard regions; its own elements start as NaN so an output the
  // kernel never writes is an infinite error, and the gaps between strided pixels' slices
  // hold the sentinel, like the guards.
  constexpr std::size_t guard = 64;
  constexpr float sentinel = -12345.5f;
  std::vector<float> buffer(dst_elems + 2 * guard, sentinel);
  for (std::size_t i = 0; i < dst_elems; ++i)
    if (is_output_element(shape, static_cast<std::int64_t>(i)))
      buffer[guard + i] = std::numeric_limits<float>::quiet_NaN();
  RunOptions options;
  options.threads = 1;
  options.residual = shape.add_residual ? residual.data() : nullptr;
  kernel->run(src.data(), packed, buffer.data() + guard, options);

  std::vector<float> expected(dst_elems, sentinel);
  reference_conv(shape, src.data(), weights.data(), shape.bias ? bias.data() : nullptr,
                 expected.data(), shape.add_residual ? residual.data() : nullptr);

  Comparison result = compare_outputs(shape, buffer.data() + guard, expected.data(), dst_elems,
                                      kernel->algorithm());
  for (std::size_t i = 0; i < guard; ++i)
    result.guards_intact = result.guards_intact && buffer[i] == sentinel &&
                           buffer[guard + dst_elems + i] == sentinel;
  // The gaps between strided pixels' slices must still hold the sentinel.
  const float* actual = buffer.data() + guard;
  for (std::size_t i = 0; i < dst_elems; ++i)
    if (!is_output_element(shape, static_cast<std::int64_t>(i)))
      result.guards_intact = result.guards_intact && actual[i] == sentinel;
  return result;
}

void check_backend_matches_reference(const ConvShape& shape, const JitTarget& target,
                                     std::uint64_t seed) {
  const std::string backend = target.name();
  Comparison r;
  try {
    r = compare_backend_with_reference(shape, target, seed);
  } catch (const std::exception& e) {
    BOOST_FAIL(shape.to_string() << " backend=" << backend << " seed=" << seed
                                 << ": threw " << e.what());
  }
  BOOST_TEST(r.guards_intact, shape.to_string() << " backend=" << backend
                                                << " seed=" << seed
                                                << ": wrote outside dst");
  BOOST_TEST(r.max_error <= r.tolerance,
             shape.to_string() << " backend=" << backend << " seed=" << seed
                               << ": max |error| " << r.max_error << " > tolerance "
                               << r.tolerance << " at dst[" << r.worst_index << "]: expected "
                               << r.expected << ", got " << r.actual);
}

}  // namespace convjit::testing
