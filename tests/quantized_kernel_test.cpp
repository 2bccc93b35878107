// The 8-bit kernels (Xbyak: AVX512-VNNI, and AVX2's exact int16 pairs): bit for bit equal to
// the exact reference (core/quantized_reference.hpp) on random shapes of every padding, stride,
// dilation, group count, channel count (partial groups of four), pixel stride, data type and
// bias kind, in buffers flush against guard pages; then the zero point's compensation at the
// borders, and what an 8-bit kernel refuses. Each case runs on every instruction set the CPU
// has; the AVX-512 ones are skipped, visibly, without AVX512-VNNI.
#define BOOST_TEST_MODULE quantized_kernel
#include <boost/test/unit_test.hpp>

#include <convjit/error.hpp>
#include <convjit/jit.hpp>
#include <convjit/quantization.hpp>

#include "core/cpu_features.hpp"
#include "core/quantized_reference.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

boost::test_tools::assertion_result cpu_runs_vnni(boost::unit_test::test_unit_id) {
  return skip_unless(cpu_has_avx512_vnni(),
                     "this CPU has no AVX512-VNNI (or AVX512-BW): its 8-bit kernels are not built");
}

boost::test_tools::assertion_result cpu_runs_avx2(boost::unit_test::test_unit_id) {
  return skip_unless(cpu_has_avx2_fma(), "this CPU has no AVX2+FMA: no Xbyak kernels run here");
}

// Bytes in a guarded buffer, flush against the guard page on `side`: a kernel that reads or
// writes one byte beyond them faults.
class GuardedBytes {
 public:
  GuardedBytes(std::size_t bytes, GuardSide side)
      : buffer_((bytes + 3) / 4, side),
        data_(reinterpret_cast<std::byte*>(buffer_.data()) +
              (side == GuardSide::trailing ? buffer_.size() * 4 - bytes : 0)),
        size_(bytes) {}
  std::byte* data() { return data_; }
  std::span<std::byte> span() { return {data_, size_}; }

 private:
  GuardedBuffer buffer_;
  std::byte* data_;
  std::size_t size_;
};

// An 8-bit layer: its shape, quantization, tensors as bytes and bias.
struct Layer {
  ConvShape shape;
  Quantization q;
  std::vector<std::byte> src;
  std::vector<std::int8_t> weights;
  std::vector<std::int32_t> integer_bias;
  std::vector<float> float_bias;

  const void* bias() const {
    if (!integer_bias.empty()) return integer_bias.data();
    if (!float_bias.empty()) return float_bias.data();
    return nullptr;
  }
  QuantizedBias reference_bias() const {
    if (!integer_bias.empty()) return integer_bias.data();
    if (!float_bias.empty()) return float_bias.data();
    return nullptr;
  }
  std::size_t dst_bytes() const {
    return static_cast<std::size_t>(shape.dst_elems()) * bytes_of(shape.dst_type);
  }
};

std::int32_t random_in(DataType type, std::mt19937_64& rng) {
  const IntegerRange r = range_of(type);
  return std::uniform_int_distribution<std::int32_t>(r.lo, r.hi)(rng);
}

float random_scale(std::mt19937_64& rng) {
  return std::pow(10.0f, std::uniform_real_distribution<float>(-3.0f, 0.0f)(rng));
}

// Quantization and tensors for `shape` (whose src_type, dst_type and act it follows): random
// zero points, scales per tensor or per channel, a bias of either kind (or none), and an output
// scale that puts most outputs inside the type's range and saturates some.
Layer random_layer(const ConvShape& shape, std::mt19937_64& rng) {
  Layer layer;
  layer.shape = shape;
  Quantization& q = layer.q;
  const auto oc = static_cast<std::size_t>(shape.oc);
  q.input_type = shape.src_type;
  q.input_scale = random_scale(rng);
  q.input_zero_point = random_in(q.input_type, rng);
  q.weight_type = DataType::s8;
  q.weight_scales.clear();
  const std::size_t scales = rng() % 2 ? oc : 1;
  for (std::size_t o = 0; o < scales; ++o) q.weight_scales.push_back(random_scale(rng));
  q.weight_zero_points = {0};
  q.output_type = shape.dst_type;
  layer.src.resize(static_cast<std::size_t>(shape.src_elems()));
  for (std::byte& b : layer.src) b = static_cast<std::byte>(rng());
  layer.weights.resize(static_cast<std::size_t>(shape.weight_elems()));
  for (std::int8_t& w : layer.weights) w = static_cast<std::int8_t>(rng());
  if (shape.bias && rng() % 3) {
    // s32 output is the accumulator: no real domain to add a float bias in.
    if (rng() % 2 || q.output_type == DataType::s32) {
      q.bias_type = DataType::s32;
      layer.integer_bias.resize(oc);
      for (auto& b : layer.integer_bias) b = std::uniform_int_distribution<std::int32_t>(-200000, 200000)(rng);
    } else {
      q.bias_type = DataType::f32;
      layer.float_bias.resize(oc);
      for (auto& b : layer.float_bias) b = std::uniform_real_distribution<float>(-5.0f, 5.0f)(rng);
    }
  }
  if (q.output_type == DataType::u8 || q.output_type == DataType::s8) {
    q.output_zero_point = random_in(q.output_type, rng);
    // A sum of K products of about ±74 · ±74 spreads over about 5500·√K: scaled to ±150 steps.
    const double taps = static_cast<double>(shape.kh * shape.kw * shape.ic_per_group());
    const double spread = 5500.0 * std::sqrt(taps) * std::uniform_real_distribution<double>(0.3, 3.0)(rng);
    q.output_scale = static_cast<float>(q.input_scale * q.weight_scales.front() * spread / 150.0);
  }
  return layer;
}

std::int64_t random_between(std::int64_t lo, std::int64_t hi, std::mt19937_64& rng) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

// A random shape the 8-bit kernels take: NHWC, any padding, stride, dilation and groups
// (depthwise too), odd channel counts, pixel strides, every output type, ReLU on u8/s8.
ConvShape random_8bit_shape(std::mt19937_64& rng) {
  while (true) {
    ConvSpec spec;
    spec.n = random_between(1, 2, rng);
    const int kind = static_cast<int>(rng() % 6);
    spec.groups = kind == 0 ? random_between(2, 4, rng) : 1;
    const std::int64_t icg = kind == 1 ? random_between(1, 3, rng) : random_between(1, 70, rng);
    const std::int64_t ocg = random_between(1, 40, rng);
    spec.c = icg * spec.groups;
    spec.oc = ocg * spec.groups;
    if (kind == 2) spec.groups = spec.c = spec.oc = random_between(2, 40, rng);  // depthwise
    spec.h = random_between(1, 14, rng);
    spec.w = random_between(1, 20, rng);
    spec.kh = random_between(1, rng() % 4 ? 3 : 7, rng);
    spec.kw = random_between(1, rng() % 4 ? 3 : 7, rng);
    spec.sh = random_between(1, 3, rng);
    spec.sw = random_between(1, 3, rng);
    spec.dh = rng() % 4 ? 1 : 2;
    spec.dw = rng() % 4 ? 1 : 2;
    spec.padding = PaddingMode::explicit_pads;
    spec.pad_top = random_between(0, spec.kh - 1, rng);
    spec.pad_bottom = random_between(0, spec.kh - 1, rng);
    spec.pad_left = random_between(0, spec.kw - 1, rng);
    spec.pad_right = random_between(0, spec.kw - 1, rng);
    spec.bias = rng() % 4 != 0;
    spec.src_type = rng() % 2 ? DataType::u8 : DataType::s8;
    const DataType outputs[] = {DataType::u8, DataType::s8, DataType::s32, DataType::f32};
    spec.dst_type = outputs[rng() % 4];
    if ((spec.dst_type == DataType::u8 || spec.dst_type == DataType::s8) && rng() % 3 == 0)
      spec.act.kind = ActivationKind::relu;
    if (rng() % 5 == 0) spec.src_stride = spec.c + random_between(1, 9, rng);
    if (rng() % 5 == 0) spec.dst_stride = spec.oc + random_between(1, 9, rng);
    try {
      return spec.resolve();
    } catch (const Error&) {
      // The kernel is larger than the padded input: draw again.
    }
  }
}

std::vector<std::byte> reference_output(const Layer& layer, std::byte fill) {
  std::vector<std::byte> dst(layer.dst_bytes(), fill);
  std::vector<std::byte> src = layer.src;
  quantized_reference_conv(layer.shape, layer.q, src.data(), layer.weights.data(),
                           layer.reference_bias(), dst.data());
  return dst;
}

// One kind of 8-bit kernel: an instruction set, and at avx2 whether it may use AVX-VNNI
// (CONVJIT_AVX_VNNI, read when a kernel is planned).
struct Target {
  const char* name;
  Isa isa;
  bool avx_vnni;
  Backend backend = Backend::xbyak;
};

// Every kind this CPU runs: Xbyak's avx2 int16 pairs always (the suite needs AVX2), avx2 with
// AVX-VNNI and avx512 with AVX512-VNNI where the CPU has them; LLVM's integer IR from plans of
// either packed layout, at avx2 and (on AVX-512 CPUs) avx512.
std::vector<Target> targets_here() {
  std::vector<Target> targets{{"xbyak avx2 (int16 pairs)", Isa::avx2, false}};
  if (cpu_has_avx_vnni()) targets.push_back({"xbyak avx2 (AVX-VNNI)", Isa::avx2, true});
  if (cpu_has_avx512_vnni()) targets.push_back({"xbyak avx512 (AVX512-VNNI)", Isa::avx512, true});
  targets.push_back({"llvm avx2 (int16 pair layout)", Isa::avx2, false, Backend::llvm});
  if (cpu_has_avx_vnni()) targets.push_back({"llvm avx2 (AVX-VNNI)", Isa::avx2, true, Backend::llvm});
  if (cpu_has_avx512()) targets.push_back({"llvm avx512 (quad layout)", Isa::avx512, true, Backend::llvm});
  return targets;
}

// A Jit per target (each caches its own kernels), its kernels planned with the target's
// AVX-VNNI setting.
std::shared_ptr<const Kernel> kernel_for(const Target& target, const ConvShape& shape) {
  static std::map<std::string, std::unique_ptr<Jit>> jits;
  std::unique_ptr<Jit>& jit = jits[target.name];
  if (!jit)
    jit = std::make_unique<Jit>(JitOptions{.backend = target.backend, .isa = target.isa,
                                           .threads = 1, .tune = Tuning::off});
  setenv("CONVJIT_AVX_VNNI", target.avx_vnni ? "1" : "0", 1);
  return jit->get(shape);
}

// Runs the layer's kernel with src and dst flush against guard pages on `side`; dst starts as
// `fill`, so bytes between pixel slices that the kernel must not touch keep it.
std::vector<std::byte> kernel_output(const Target& target, const Layer& layer, GuardSide side,
                                     std::byte fill) {
  const auto kernel = kernel_for(target, layer.shape);
  const PackedWeights packed = kernel->pack_weights(layer.weights.data(), layer.q, layer.bias());
  GuardedBytes src(layer.src.size(), side);
  std::copy(layer.src.begin(), layer.src.end(), src.data());
  GuardedBytes dst(layer.dst_bytes(), side);
  std::fill(dst.span().begin(), dst.span().end(), fill);
  kernel->run_bytes(src.data(), packed, dst.data());
  return {dst.span().begin(), dst.span().end()};
}


std::string describe(const Layer& layer) {
  return layer.shape.to_string() + " input zero point " + std::to_string(layer.q.input_zero_point) +
         (layer.integer_bias.empty() ? "" : " s32 bias") + (layer.float_bias.empty() ? "" : " f32 bias");
}

// Where the kernel and the reference first differ, or "" when they are equal.
std::string first_difference(const Layer& layer, const std::vector<std::byte>& got,
                             const std::vector<std::byte>& want) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i])
      return describe(layer) + ": byte " + std::to_string(i) + " is " +
             std::to_string(static_cast<int>(got[i])) + ", the reference's " +
             std::to_string(static_cast<int>(want[i]));
  return {};
}

// every_backend false: Xbyak's kernels only (LLVM's take milliseconds each to compile).
void check_equal_to_reference(const Layer& layer, GuardSide side, bool every_backend = true) {
  const std::byte fill{0x5A};
  const std::vector<std::byte> want = reference_output(layer, fill);
  for (const Target& target : targets_here()) {
    if (!every_backend && target.backend != Backend::xbyak) continue;
    const std::vector<std::byte> got = kernel_output(target, layer, side, fill);
    const std::string difference = first_difference(layer, got, want);
    BOOST_TEST(difference.empty(), target.name << ": " << difference);
  }
}

Layer layer_of(const std::string& spec, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return random_layer(ConvSpec::parse(spec).resolve(), rng);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(quantized_kernel, *boost::unit_test::precondition(cpu_runs_avx2))

BOOST_AUTO_TEST_CASE(random_shapes_equal_the_reference_bit_for_bit) {
  for (const Target& target : targets_here()) BOOST_TEST_MESSAGE("8-bit kernels checked at " << target.name);
  std::mt19937_64 rng(20261207);
  constexpr int kShapes = 2000;
  for (int i = 0; i < kShapes; ++i) {
    const Layer layer = random_layer(random_8bit_shape(rng), rng);
    // LLVM's kernels on one shape in ten.
    check_equal_to_reference(layer, i % 2 ? GuardSide::leading : GuardSide::trailing, i % 10 == 0);
  }
}

BOOST_AUTO_TEST_CASE(taps_in_padding_add_nothing_whatever_the_input_zero_point) {
  // Every border of a 5x5 kernel with 2 pixels of padding, a zero point far from 0, and an s32
  // output that shows the accumulator itself.
  for (const char* type : {"u8", "s8"}) {
    Layer layer = layer_of(std::string("c=8,h=7,w=9,oc=16,k=5,p=2,dst=s32,src=") + type, 3);
    layer.q.input_zero_point = std::string(type) == "u8" ? 200 : -100;
    check_equal_to_reference(layer, GuardSide::trailing);
  }
}

BOOST_AUTO_TEST_CASE(looped_reductions_equal_the_reference) {
  // Enough input channels that the reduction is a counted loop, with a partial group of four
  // after it, in rows of several padding kinds.
  for (const char* spec : {"c=258,h=6,w=7,oc=40,k=3,p=1,src=u8", "c=515,h=5,w=5,oc=17,k=3,p=same,src=s8,dst=s32",
                           "c=1024,h=4,w=4,oc=64,k=1,src=u8,dst=f32"})
    check_equal_to_reference(layer_of(spec, 5), GuardSide::trailing);
}

BOOST_AUTO_TEST_CASE(partial_groups_of_four_channels_read_no_byte_past_the_input) {
  // Three channels: every tap reads a partial group; the last pixel's ends flush at the guard.
  for (const char* spec : {"c=3,h=9,w=9,oc=32,k=7,s=2,p=3,src=u8", "c=1,h=5,w=5,oc=5,k=3,src=s8",
                           "c=6,h=4,w=4,oc=8,k=2,g=2,src=u8,dst=s8"}) {
    check_equal_to_reference(layer_of(spec, 7), GuardSide::trailing);
    check_equal_to_reference(layer_of(spec, 8), GuardSide::leading);
  }
}

BOOST_AUTO_TEST_CASE(relu_clamps_at_the_output_zero_point) {
  Layer layer = layer_of("c=16,h=6,w=6,oc=16,k=3,p=1,src=u8,act=relu", 11);
  layer.q.output_zero_point = 100;
  check_equal_to_reference(layer, GuardSide::trailing);
  const std::vector<std::byte> got =
      kernel_output(targets_here().back(), layer, GuardSide::trailing, std::byte{0});
  BOOST_TEST(std::all_of(got.begin(), got.end(), [](std::byte b) { return static_cast<int>(b) >= 100; }));
}

BOOST_AUTO_TEST_CASE(batches_and_threads_give_the_same_bytes) {
  Layer layer = layer_of("n=3,c=32,h=11,w=10,oc=48,k=3,p=1,src=u8", 13);
  const auto kernel = kernel_for(targets_here().back(), layer.shape);
  const PackedWeights packed = kernel->pack_weights(layer.weights.data(), layer.q, layer.bias());
  std::vector<std::byte> one(layer.dst_bytes()), two(layer.dst_bytes());
  kernel->run_bytes(layer.src.data(), packed, one.data(), RunOptions{.threads = 1});
  kernel->run_bytes(layer.src.data(), packed, two.data(), RunOptions{.threads = 2});
  BOOST_TEST(one == two);
  BOOST_TEST(one == reference_output(layer, std::byte{0}));
}

BOOST_AUTO_TEST_CASE(an_8bit_kernel_refuses_what_does_not_fit_it) {
  Layer layer = layer_of("c=8,h=4,w=4,oc=8,k=3,src=u8", 17);
  const auto kernel = kernel_for(targets_here().front(), layer.shape);
  const std::vector<float> floats(1024);
  std::vector<float> out(1024);
  BOOST_TEST(error_field([&] { kernel->pack_weights(floats.data(), nullptr); }) == "weights");
  const PackedWeights packed = kernel->pack_weights(layer.weights.data(), layer.q, layer.bias());
  BOOST_TEST(error_field([&] { kernel->run(floats.data(), packed, out.data()); }) == "src");
  BOOST_TEST(error_field([&] { kernel->run(floats.data(), packed, out.data(), RunOptions{}); }) == "src");
  Quantization wrong = layer.q;
  wrong.input_type = DataType::s8;
  wrong.input_zero_point = 0;
  BOOST_TEST(error_field([&] { kernel->pack_weights(layer.weights.data(), wrong, layer.bias()); }) == "input_type");
  wrong = layer.q;
  wrong.output_type = DataType::s32;
  wrong.output_zero_point = 0;
  wrong.output_scale = 1.0f;
  BOOST_TEST(error_field([&] { kernel->pack_weights(layer.weights.data(), wrong, layer.bias()); }) == "output_type");
  wrong = layer.q;
  wrong.weight_zero_points = {3};
  BOOST_TEST(error_field([&] { kernel->pack_weights(layer.weights.data(), wrong, layer.bias()); }) == "weight_zero_points");
  wrong = layer.q;
  wrong.input_scale = std::nanf("");
  BOOST_TEST(error_field([&] { kernel->pack_weights(layer.weights.data(), wrong, layer.bias()); }) == "input_scale");
  BOOST_TEST(error_field([&] { kernel->pack_weights(nullptr, layer.q, layer.bias()); }) == "weights");
  std::vector<std::byte> dst(layer.dst_bytes());
  BOOST_TEST(error_field([&] { kernel->run_bytes(layer.src.data(), PackedWeights{}, dst.data()); }) == "weights");
  // An fp32 kernel takes no 8-bit packing.
  const auto fp32 = kernel_for(targets_here().front(), ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3").resolve());
  BOOST_TEST(error_field([&] { fp32->pack_weights(layer.weights.data(), layer.q, nullptr); }) == "weights");
}

BOOST_AUTO_TEST_CASE(only_xbyak_and_llvm_generate_8bit_kernels) {
  const ConvShape shape = ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3,src=u8").resolve();
  for (Backend backend : {Backend::generic, Backend::reference}) {
    Jit jit(JitOptions{.backend = backend, .threads = 1, .tune = Tuning::off});
    BOOST_TEST(error_field([&] { jit.get(shape); }) == "backend", to_string(backend));
  }
}

BOOST_AUTO_TEST_CASE(kernels_without_vnni_multiply_int16_pairs) {
  const ConvShape shape = ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3,src=u8").resolve();
  const ConvShape depthwise = ConvSpec::parse("c=24,h=4,w=4,oc=24,k=3,g=24,src=s8").resolve();
  for (const Target& target : targets_here()) {
    const bool vnni = target.avx_vnni;
    if (target.backend != Backend::xbyak) continue;
    BOOST_TEST((kernel_plan(*kernel_for(target, shape)).product ==
                (vnni ? Product::dot_quads : Product::pair_quads)), target.name);
    BOOST_TEST((kernel_plan(*kernel_for(target, depthwise)).product ==
                (vnni ? Product::widened : Product::widened_pairs)), target.name);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(quantized_spec)

BOOST_AUTO_TEST_CASE(an_8bit_source_outputs_its_own_type_unless_dst_says) {
  BOOST_TEST((ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3,src=u8").dst_type == DataType::u8));
  BOOST_TEST((ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3,src=s8,dst=f32").dst_type == DataType::f32));
  const ConvShape shape = ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3,src=s8,dst=s32").resolve();
  BOOST_TEST((ConvSpec::parse(shape.to_string()).resolve() == shape));
  BOOST_TEST(shape.to_string().find("src=s8,dst=s32") != std::string::npos, shape.to_string());
  BOOST_TEST(ConvSpec::parse("c=8,h=4,w=4,oc=8,k=3").resolve().to_string().find("src=") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(specs_the_8bit_kernels_cannot_compute_name_their_key) {
  auto field = [](const char* spec) { return error_field([&] { ConvSpec::parse(spec).resolve(); }); };
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u16") == "src");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=s32") == "src");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,dst=u8") == "dst");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,layout=nchw") == "layout");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,algo=winograd") == "algo");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,add=1") == "add");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,act=silu") == "act");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,dst=s32,act=relu") == "act");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=3,src=u8,dst=f32") == "");
}

BOOST_AUTO_TEST_SUITE_END()
