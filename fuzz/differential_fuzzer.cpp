// libFuzzer target: bytes -> a valid small convolution -> every compiled backend (xbyak,
// llvm, generic: whatever available_backends() lists) against the reference; abort on any
// mismatch beyond the test suite's error bound, and (through guard pages) on any access
// outside the input, weights or output.
//
// Input format (missing bytes read as 0, so every input is valid; see make_corpus.py):
//   [0] flags: bit 0 nchw, bit 1 bias, bits 2-3 act (0 none, 1 relu, 2 clamp, 3 from [14]),
//       bit 4 batch of 2, bits 5-7 groups (0-3 dense, 4-5 depthwise, 6 depthwise with a
//       channel multiplier, 7 grouped)
//   [1] c        [2] oc       [3] h        [4] w
//   [5] kh       [6] kw       [7] strides (low nibble sh, high nibble sw)
//   [8] dilations (low nibble dh, high nibble dw)
//   [9] padding: 0 valid, 1 same, 2 same_lower, 3 symmetric p, 4 ph/pw, 5 pt/pb/pl/pr
//   [10..13] pads (modulo the kernel extent + 1)
//   [14] clamp bounds (low nibble: -lo in 1/8, high nibble: hi in 1/8); with act 3, bits 0-1
//        the activation (0 leaky_relu, 1 hardswish, 2 silu, 3 sigmoid), bits 2-3 the
//        leaky_relu slope (-0.5, 0.01, 0.2, 1.5)
//   [15] guard side (bit 0: flush against the leading guard), threads (bit 1: 2 threads) and
//        the L2 budget of bands and input-channel passes (bit 2: CONVJIT_BAND_BYTES=4096, so
//        these small shapes get them where the cost model prefers them)
//   [16..23] data seed
//   [24] 8 bits: bit 0 makes the layer 8-bit (NHWC, act none or relu, zero points and scales
//        from the seed) and checks every backend that generates 8-bit kernels byte for byte
//        against the exact integer reference; bit 1 s8 input (else u8); bits 2-3 the output
//        (u8, s8, s32, f32)
// Shapes above 2 MFLOP are skipped (not interesting, and slow under ASan). Bytes past 25 are
// ignored: run with -max_len=25.
//
// CONVJIT_FUZZ_BACKENDS=xbyak,llvm,... restricts the backends (default: every compiled one).
#include <convjit/convjit.hpp>

#include "core/quantized_reference.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"
#include "tests/support/guarded_buffer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace convjit;
using convjit::testing::GuardedBuffer;
using convjit::testing::GuardSide;

namespace {

struct Bytes {
  const std::uint8_t* data;
  std::size_t size;
  std::uint8_t operator[](std::size_t i) const { return i < size ? data[i] : 0; }
};

// The spec the bytes describe (it may still fail to resolve: then the input is skipped).
ConvSpec spec_from(const Bytes& b) {
  ConvSpec s;
  const std::uint8_t flags = b[0];
  s.layout = (flags & 1) ? Layout::nchw : Layout::nhwc;
  s.bias = (flags & 2) != 0;
  switch ((flags >> 2) & 3) {
    case 1: s.act = {ActivationKind::relu, 0.0f, 0.0f}; break;
    case 2:
      s.act = {ActivationKind::clamp, -static_cast<float>(b[14] & 15) / 8.0f,
               static_cast<float>(b[14] >> 4) / 8.0f};
      break;
    case 3: {
      constexpr float kSlopes[] = {-0.5f, 0.01f, 0.2f, 1.5f};
      constexpr ActivationKind kKinds[] = {ActivationKind::leaky_relu, ActivationKind::hardswish,
                                           ActivationKind::silu, ActivationKind::sigmoid};
      s.act.kind = kKinds[b[14] & 3];
      if (s.act.kind == ActivationKind::leaky_relu) s.act.alpha = kSlopes[(b[14] >> 2) & 3];
      break;
    }
    default: break;
  }
  s.n = (flags & 16) ? 2 : 1;
  const int group_mode = flags >> 5;
  const std::int64_t c = 1 + b[1] % 24, oc = 1 + b[2] % 24;
  if (group_mode <= 3) {
    s.c = c; s.oc = oc; s.groups = 1;
  } else if (group_mode <= 5) {
    s.c = s.oc = s.groups = c;
  } else if (group_mode == 6) {
    s.c = s.groups = c;
    s.oc = c * (1 + oc % 3);
  } else {
    const std::int64_t g = 2 + c % 3;
    s.groups = g;
    s.c = g * (1 + b[1] / 24 % 6);
    s.oc = g * (1 + oc % 6);
  }
  s.h = 1 + b[3] % 24;
  s.w = 1 + b[4] % 40;
  s.kh = 1 + b[5] % 7;
  s.kw = 1 + b[6] % 7;
  s.sh = 1 + (b[7] & 15) % 3;
  s.sw = 1 + (b[7] >> 4) % 3;
  s.dh = 1 + (b[8] & 15) % 3;
  s.dw = 1 + (b[8] >> 4) % 3;
  const std::int64_t eh = s.dh * (s.kh - 1) + 1, ew = s.dw * (s.kw - 1) + 1;
  switch (b[9] % 6) {
    case 0: s.padding = PaddingMode::valid; break;
    case 1: s.padding = PaddingMode::same; break;
    case 2: s.padding = PaddingMode::same_lower; break;
    case 3:
      s.padding = PaddingMode::explicit_pads;
      s.pad_top = s.pad_bottom = s.pad_left = s.pad_right = b[10] % (std::min(eh, ew) + 1);
      break;
    case 4:
      s.padding = PaddingMode::explicit_pads;
      s.pad_top = s.pad_bottom = b[10] % (eh + 1);
      s.pad_left = s.pad_right = b[11] % (ew + 1);
      break;
    default:
      s.padding = PaddingMode::explicit_pads;
      s.pad_top = b[10] % (eh + 1);
      s.pad_bottom = b[11] % (eh + 1);
      s.pad_left = b[12] % (ew + 1);
      s.pad_right = b[13] % (ew + 1);
      break;
  }
  if (b[24] & 1) {  // 8-bit: what those kernels compute
    s.layout = Layout::nhwc;
    s.src_type = (b[24] & 2) ? DataType::s8 : DataType::u8;
    constexpr DataType kOutputs[] = {DataType::u8, DataType::s8, DataType::s32, DataType::f32};
    s.dst_type = kOutputs[(b[24] >> 2) & 3];
    const bool relu_allowed = s.dst_type == DataType::u8 || s.dst_type == DataType::s8;
    s.act = relu_allowed && s.act.kind == ActivationKind::relu ? s.act : Activation{};
    return s;
  }
  // One input in 32 asks for a Winograd kernel: a 3x3 stride-1 dense layer at one tile size.
  if (group_mode == 0 && (b[14] & 3) == 3 && (b[5] & 3) == 0) {
    s.kh = s.kw = 3;
    s.sh = s.sw = s.dh = s.dw = 1;
    const Algorithm sizes[] = {Algorithm::winograd, Algorithm::winograd_f2, Algorithm::winograd_f4,
                               Algorithm::winograd_f6};
    s.algo = sizes[b[14] >> 2 & 3];
    if (s.padding == PaddingMode::explicit_pads) {
      for (std::int64_t* pad : {&s.pad_top, &s.pad_bottom, &s.pad_left, &s.pad_right}) *pad %= 3;
    }
  }
  return s;
}

void fill_random(GuardedBuffer& buffer, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& v : buffer.span()) v = dist(rng);
}

// Every compiled backend, or those CONVJIT_FUZZ_BACKENDS names (e.g. "xbyak,generic": LLVM
// takes ~100x longer per kernel, so leaving it out fuzzes the others 100x faster).
std::vector<Backend> compiled_backends() {
  std::vector<Backend> out;
  const char* env = std::getenv("CONVJIT_FUZZ_BACKENDS");
  const std::string wanted = env ? "," + std::string(env) + "," : "";
  for (Backend b : available_backends())
    if (b != Backend::reference &&
        (wanted.empty() || wanted.find("," + std::string(to_string(b)) + ",") != std::string::npos))
      out.push_back(b);
  if (out.empty()) {
    std::fprintf(stderr, "differential_fuzzer: no backend left (CONVJIT_FUZZ_BACKENDS=%s)\n", env);
    std::abort();
  }
  return out;
}

using Jits = std::vector<std::pair<std::string, std::unique_ptr<Jit>>>;

[[noreturn]] void report_8bit_difference(const std::string& backend, const ConvShape& shape,
                                         std::size_t at, int want, int got, int threads) {
  std::fprintf(stderr,
               "differential_fuzzer: %s differs from the exact 8-bit reference\n  shape: %s\n"
               "  dst byte %zu: expected %d, got %d, threads %d\n",
               backend.c_str(), shape.to_string().c_str(), at, want, got, threads);
  std::abort();
}

// An 8-bit layer: random bytes, s8 weights, an int32 bias and zero points from the seed; every
// backend that generates 8-bit kernels must give the reference's bytes exactly.
void check_8bit(const ConvShape& shape, const Jits& jits, GuardSide side, int threads,
                std::mt19937_64& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  Quantization q;
  q.input_type = shape.src_type;
  q.output_type = shape.dst_type;
  q.input_zero_point = byte(rng) - (shape.src_type == DataType::s8 ? 128 : 0);
  q.input_scale = 0.02f;
  q.weight_scales = {0.01f};
  if (shape.dst_type == DataType::u8 || shape.dst_type == DataType::s8) {
    q.output_zero_point = byte(rng) - (shape.dst_type == DataType::s8 ? 128 : 0);
    q.output_scale = static_cast<float>(0.02 * 0.01 * 5500.0 *
                                        std::sqrt(static_cast<double>(shape.kh * shape.kw * shape.ic_per_group())) / 150.0);
  }
  const std::size_t src_bytes = static_cast<std::size_t>(shape.src_elems());
  const std::size_t dst_bytes = static_cast<std::size_t>(shape.dst_elems() * shape.dst_element_bytes());
  // Bytes flush against the guard on `side` (a float buffer's slack kept on the other side).
  auto flush = [&](GuardedBuffer& buffer, std::size_t bytes) {
    auto* base = reinterpret_cast<std::uint8_t*>(buffer.data());
    return side == GuardSide::trailing ? base + buffer.size() * 4 - bytes : base;
  };
  GuardedBuffer src((src_bytes + 3) / 4, side);
  std::uint8_t* x = flush(src, src_bytes);
  for (std::size_t i = 0; i < src_bytes; ++i) x[i] = static_cast<std::uint8_t>(byte(rng));
  std::vector<std::int8_t> weights(static_cast<std::size_t>(shape.weight_elems()));
  for (std::int8_t& w : weights) w = static_cast<std::int8_t>(byte(rng) - 128);
  std::vector<std::int32_t> bias(static_cast<std::size_t>(shape.oc));
  for (std::int32_t& v : bias) v = byte(rng) * 40 - 5000;
  std::vector<std::uint8_t> expected(dst_bytes, 0);
  quantized_reference_conv(shape, q, x, weights.data(),
                           shape.bias ? QuantizedBias(bias.data()) : QuantizedBias(), expected.data());
  for (const auto& [backend, jit] : jits) {
    std::shared_ptr<const Kernel> kernel;
    try {
      kernel = jit->compile(shape);
    } catch (const convjit::Error& e) {
      if (e.field() != "backend" && e.field() != "isa") throw;
      continue;  // a backend, or an instruction set, without 8-bit kernels
    }
    const PackedWeights packed = kernel->pack_weights(weights.data(), q, shape.bias ? bias.data() : nullptr);
    GuardedBuffer dst((dst_bytes + 3) / 4, side);
    std::uint8_t* y = flush(dst, dst_bytes);
    kernel->run_bytes(x, packed, y, RunOptions{.threads = threads});
    for (std::size_t i = 0; i < dst_bytes; ++i)
      if (y[i] != expected[i]) report_8bit_difference(backend, shape, i, expected[i], y[i], threads);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes bytes{data, size};
  ConvShape shape;
  try {
    shape = spec_from(bytes).resolve();
  } catch (const convjit::Error&) {
    return 0;  // e.g. a kernel larger than the padded input: not a valid shape
  }
  if (shape.flops() > 2e6) return 0;

  const GuardSide side = (bytes[15] & 1) ? GuardSide::leading : GuardSide::trailing;
  const int threads = (bytes[15] & 2) ? 2 : 1;
  // The planner reads the budget when it plans, so each input sets or clears it.
  if (bytes[15] & 4) ::setenv("CONVJIT_BAND_BYTES", "4096", 1);
  else ::unsetenv("CONVJIT_BAND_BYTES");
  std::uint64_t seed = 0;
  for (std::size_t i = 16; i < 24; ++i) seed = seed << 8 | bytes[i];
  std::mt19937_64 rng(seed);

  // One Jit per backend for the whole run (an LLVM Jit owns an LLJIT: costly to create);
  // compile() bypasses its cache, so every input really generates code.
  // The JIT backends once per instruction set this CPU runs (avx2, avx512).
  static const Jits jits = [] {
    Jits out;
    for (Backend b : compiled_backends()) {
      const bool generates = b == Backend::xbyak || b == Backend::llvm;
      for (Isa isa : generates ? available_isas() : std::vector<Isa>{Isa::automatic})
        out.emplace_back(std::string(to_string(b)) + (generates ? "/" + std::string(to_string(isa)) : ""),
                         std::make_unique<Jit>(JitOptions{
                             .backend = b, .isa = isa, .threads = 1, .cache_capacity = 1,
                             // the cost model's kernels: an input reproduces its failure
                             .tune = Tuning::off}));
    }
    return out;
  }();
  if (shape.quantized()) {
    check_8bit(shape, jits, side, threads, rng);
    return 0;
  }

  GuardedBuffer src(static_cast<std::size_t>(shape.src_elems()), side);
  GuardedBuffer weights(static_cast<std::size_t>(shape.weight_elems()), side);
  GuardedBuffer bias(static_cast<std::size_t>(shape.oc), side);
  fill_random(src, rng);
  fill_random(weights, rng);
  fill_random(bias, rng);
  src.make_read_only();
  weights.make_read_only();
  bias.make_read_only();

  std::vector<float> expected(static_cast<std::size_t>(shape.dst_elems()));
  reference_conv(shape, src.data(), weights.data(), shape.bias ? bias.data() : nullptr,
                 expected.data());

  for (const auto& [backend, jit] : jits) {
    std::shared_ptr<const Kernel> kernel;
    try {
      kernel = jit->compile(shape);
    } catch (const convjit::Error& e) {
      if (e.field() != "algo") throw;
      continue;  // a backend that computes direct convolution only (the spec asked otherwise)
    }
    const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
    GuardedBuffer dst(expected.size(), side);
    dst.fill(std::numeric_limits<float>::quiet_NaN());
    kernel->run(src.data(), packed, dst.data(), threads);
    const double bound = tolerance(shape, kernel->algorithm(), expected);
    for (std::size_t i = 0; i < expected.size(); ++i) {
      const float got = dst.data()[i], want = expected[i];
      const double err = max_abs_error(&got, &want, 1);
      if (err > bound) {
        std::fprintf(stderr,
                     "differential_fuzzer: %s differs from the reference\n  shape: %s\n"
                     "  dst[%zu]: expected %.9g, got %.9g (|error| %.3g > %.3g), threads %d\n",
                     backend.c_str(), shape.to_string().c_str(), i,
                     static_cast<double>(want), static_cast<double>(got), err, bound, threads);
        std::abort();
      }
    }
  }
  return 0;
}
