// The exact 8-bit reference (core/quantized_reference.hpp) and the store arithmetic it follows
// (core/requantization.hpp): hand-computed layers, then random shapes against an independent
// naive loop in exact integers and double precision, then the parameters it refuses.
#define BOOST_TEST_MODULE quantized_reference
#include <boost/test/unit_test.hpp>

#include <convjit/data_type.hpp>
#include <convjit/quantization.hpp>

#include "core/quantized_reference.hpp"
#include "core/requantization.hpp"
#include "tests/support/test_support.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

using Values = std::vector<std::int32_t>;

// ------------------------------------------------------------------ tensors as bytes

std::vector<std::byte> encode(const Values& values, DataType type) {
  std::vector<std::byte> bytes(values.size() * bytes_of(type));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (type == DataType::u8) bytes[i] = static_cast<std::byte>(values[i]);
    if (type == DataType::s8) bytes[i] = static_cast<std::byte>(static_cast<std::int8_t>(values[i]));
    if (type == DataType::s32) std::memcpy(&bytes[i * 4], &values[i], 4);
  }
  return bytes;
}

Values decode(const std::vector<std::byte>& bytes, DataType type) {
  Values values(bytes.size() / bytes_of(type));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (type == DataType::u8) values[i] = static_cast<std::uint8_t>(bytes[i]);
    if (type == DataType::s8) values[i] = static_cast<std::int8_t>(bytes[i]);
    if (type == DataType::s32) std::memcpy(&values[i], &bytes[i * 4], 4);
  }
  return values;
}

std::vector<float> decode_floats(const std::vector<std::byte>& bytes) {
  std::vector<float> values(bytes.size() / 4);
  std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

// A layer's integer tensors (values, whatever their type) and bias, as a framework holds them.
struct Layer {
  ConvShape shape;
  Quantization q;
  Values src;      // the shape's src_elems() values of q.input_type
  Values weights;  // weight_elems() values of q.weight_type, in user_weight_index() order
  Values integer_bias;
  std::vector<float> float_bias;

  QuantizedBias bias() const {
    if (!integer_bias.empty()) return integer_bias.data();
    if (!float_bias.empty()) return float_bias.data();
    return nullptr;
  }
};

// Runs the reference; dst starts as `fill` bytes so untouched gaps can be seen.
std::vector<std::byte> run_bytes(const Layer& layer, std::byte fill = std::byte{0xAB}) {
  const ConvShape& s = layer.shape;
  BOOST_REQUIRE(static_cast<std::int64_t>(layer.src.size()) == s.src_elems());
  BOOST_REQUIRE(static_cast<std::int64_t>(layer.weights.size()) == s.weight_elems());
  const std::vector<std::byte> src = encode(layer.src, layer.q.input_type);
  std::vector<std::byte> dst(static_cast<std::size_t>(s.dst_elems()) * bytes_of(layer.q.output_type),
                             fill);
  const std::vector<std::byte> weights = encode(layer.weights, layer.q.weight_type);
  const QuantizedWeights typed =
      layer.q.weight_type == DataType::s8
          ? QuantizedWeights(reinterpret_cast<const std::int8_t*>(weights.data()))
          : QuantizedWeights(reinterpret_cast<const std::uint8_t*>(weights.data()));
  quantized_reference_conv(s, layer.q, src.data(), typed, layer.bias(), dst.data());
  return dst;
}

Values run(const Layer& layer) { return decode(run_bytes(layer), layer.q.output_type); }
std::vector<float> run_floats(const Layer& layer) { return decode_floats(run_bytes(layer)); }

// The layer with another output type; s32 output has no real domain, so a float bias goes.
Layer with_output(Layer layer, DataType type) {
  layer.q.output_type = type;
  if (type == DataType::s32 || type == DataType::f32) {
    layer.q.output_scale = 1.0f;
    layer.q.output_zero_point = 0;
    layer.q.clamp.reset();
  }
  if (type == DataType::s32 && layer.q.bias_type == DataType::f32) {
    layer.float_bias.clear();
    layer.q.bias_type = DataType::s32;
  }
  return layer;
}

std::int64_t output_channel_of(const ConvShape& s, std::int64_t dst_index) {
  return s.layout == Layout::nhwc ? dst_index % s.oc : dst_index / (s.out_h * s.out_w) % s.oc;
}

// One pixel of c channels through a 1×1 convolution to oc channels: the smallest layer that
// exercises the store.
Layer pointwise(const Values& pixel, const Values& weights_oc_by_c, std::int64_t oc) {
  Layer layer;
  layer.shape = ConvCase()
                    .input(1, 1, static_cast<std::int64_t>(pixel.size()))
                    .output_channels(oc)
                    .kernel(1)
                    .shape();
  layer.src = pixel;
  // HWIO with h = w = 1 is [c][oc]: transpose the readable [oc][c] rows.
  const auto c = static_cast<std::int64_t>(pixel.size());
  layer.weights.resize(static_cast<std::size_t>(c * oc));
  for (std::int64_t o = 0; o < oc; ++o)
    for (std::int64_t i = 0; i < c; ++i) layer.weights[i * oc + o] = weights_oc_by_c[o * c + i];
  return layer;
}

// ------------------------------------------------------------------ the naive oracle

std::int64_t dense_src_index(const ConvShape& s, std::int64_t b, std::int64_t ch, std::int64_t y,
                             std::int64_t x) {
  return s.layout == Layout::nhwc ? ((b * s.h + y) * s.w + x) * s.c + ch
                                  : ((b * s.c + ch) * s.h + y) * s.w + x;
}

std::int64_t dense_dst_index(const ConvShape& s, std::int64_t b, std::int64_t o, std::int64_t y,
                             std::int64_t x) {
  return s.layout == Layout::nhwc ? ((b * s.out_h + y) * s.out_w + x) * s.oc + o
                                  : ((b * s.oc + o) * s.out_h + y) * s.out_w + x;
}

std::int64_t hwio_or_oihw_index(const ConvShape& s, std::int64_t o, std::int64_t i,
                                std::int64_t y, std::int64_t x) {
  const std::int64_t icg = s.c / s.groups;
  return s.layout == Layout::nhwc ? ((y * s.kw + x) * icg + i) * s.oc + o
                                  : ((o * icg + i) * s.kh + y) * s.kw + x;
}

// The convolution from its definition on real numbers: each output's exact integer sum (with
// the int32 bias), and its real value acc · x_scale · w_scale (+ float bias) in double.
struct Naive {
  std::vector<std::int64_t> acc;
  std::vector<double> real;
};

Naive naive_conv(const Layer& layer) {
  const ConvShape& s = layer.shape;
  const Quantization& q = layer.q;
  Naive out{std::vector<std::int64_t>(static_cast<std::size_t>(s.dst_elems())),
            std::vector<double>(static_cast<std::size_t>(s.dst_elems()))};
  const std::int64_t icg = s.c / s.groups, ocg = s.oc / s.groups;
  for (std::int64_t b = 0; b < s.n; ++b)
    for (std::int64_t o = 0; o < s.oc; ++o)
      for (std::int64_t oy = 0; oy < s.out_h; ++oy)
        for (std::int64_t ox = 0; ox < s.out_w; ++ox) {
          std::int64_t acc = 0;
          for (std::int64_t i = 0; i < icg; ++i)
            for (std::int64_t y = 0; y < s.kh; ++y)
              for (std::int64_t x = 0; x < s.kw; ++x) {
                const std::int64_t iy = oy * s.sh + y * s.dh - s.pad_top;
                const std::int64_t ix = ox * s.sw + x * s.dw - s.pad_left;
                if (iy < 0 || ix < 0 || iy >= s.h || ix >= s.w) continue;  // a real zero
                const std::int64_t xv =
                    layer.src[dense_src_index(s, b, (o / ocg) * icg + i, iy, ix)];
                const std::int64_t wv = layer.weights[hwio_or_oihw_index(s, o, i, y, x)];
                acc += (xv - q.input_zero_point) * (wv - q.weight_zero_point(o));
              }
          if (!layer.integer_bias.empty()) acc += layer.integer_bias[o];
          double real = static_cast<double>(acc) * q.input_scale * q.weight_scale(o);
          if (!layer.float_bias.empty()) real += layer.float_bias[o];
          const std::int64_t at = dense_dst_index(s, b, o, oy, ox);
          out.acc[at] = acc;
          out.real[at] = real;
        }
  return out;
}

// The output the real value calls for: round(real / y_scale) + zero point, saturated, in double.
std::int32_t exact_quantized(double real, const Quantization& q) {
  const double scaled = std::nearbyint(real / q.output_scale) + q.output_zero_point;
  const IntegerRange range = q.output_range();
  return static_cast<std::int32_t>(std::clamp<double>(scaled, range.lo, range.hi));
}

// How far the float formula may move y = real / y_scale: float(acc), the multiplier's two
// roundings, the offset's one and the fma's one, each a relative 2^-24 of its term.
double float_formula_error(std::int64_t acc, double real, const Layer& layer, std::int64_t o) {
  const double u = std::ldexp(1.0, -24);
  const double scaled_acc = std::abs(static_cast<double>(acc) * layer.q.input_scale *
                                     layer.q.weight_scale(o) / layer.q.output_scale);
  const double offset =
      layer.float_bias.empty() ? 0.0 : std::abs(layer.float_bias[o] / layer.q.output_scale);
  return 8 * u * (scaled_acc + offset + std::abs(real / layer.q.output_scale));
}

// Where y = real / y_scale lies within `error` of a half, float and double may round it apart.
bool near_a_half(double y, double error) {
  return std::abs(y - std::floor(y) - 0.5) <= error;
}

// ------------------------------------------------------------------ random layers

Values random_values(std::size_t n, DataType type, std::mt19937_64& rng) {
  const IntegerRange r = range_of(type);
  std::uniform_int_distribution<std::int32_t> dist(r.lo, r.hi);
  Values v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

std::int32_t random_in(DataType type, std::mt19937_64& rng) { return random_values(1, type, rng)[0]; }

float random_scale(std::mt19937_64& rng) {
  return std::pow(10.0f, std::uniform_real_distribution<float>(-3.0f, 0.0f)(rng));
}

// Every input, weight and zero-point kind, scales per tensor or per channel, and a bias of
// either kind (or none), for a random shape without activation or residual.
// Random shapes in NHWC only, where an image's rows and pixels are contiguous.
RandomShapeLimits nhwc_limits() {
  RandomShapeLimits limits;
  limits.layout = Layout::nhwc;
  return limits;
}

Layer random_layer(std::mt19937_64& rng, RandomShapeLimits limits = {}) {
  limits.allow_activation = false;
  limits.max_flops = 3e5;
  Layer layer;
  layer.shape = random_shape(rng, limits);
  Quantization& q = layer.q;
  const auto oc = static_cast<std::size_t>(layer.shape.oc);
  q.input_type = rng() % 2 ? DataType::u8 : DataType::s8;
  q.input_scale = random_scale(rng);
  q.input_zero_point = random_in(q.input_type, rng);
  q.weight_type = rng() % 3 ? DataType::s8 : DataType::u8;
  const bool per_channel = rng() % 2;
  q.weight_scales.clear();
  for (std::size_t o = 0; o < (per_channel ? oc : 1); ++o) q.weight_scales.push_back(random_scale(rng));
  const bool zero_weight_zero_point = q.weight_type == DataType::s8 && rng() % 2;
  q.weight_zero_points = zero_weight_zero_point
                             ? Values{0}
                             : random_values(per_channel ? oc : 1, q.weight_type, rng);
  layer.src = random_values(static_cast<std::size_t>(layer.shape.src_elems()), q.input_type, rng);
  layer.weights =
      random_values(static_cast<std::size_t>(layer.shape.weight_elems()), q.weight_type, rng);
  switch (layer.shape.bias ? rng() % 2 : 2) {
    case 0:
      q.bias_type = DataType::s32;
      layer.integer_bias = Values(oc);
      for (auto& b : layer.integer_bias)
        b = std::uniform_int_distribution<std::int32_t>(-100000, 100000)(rng);
      break;
    case 1:
      q.bias_type = DataType::f32;
      layer.float_bias = std::vector<float>(oc);
      for (auto& b : layer.float_bias) b = std::uniform_real_distribution<float>(-20.0f, 20.0f)(rng);
      break;
    default: break;
  }
  q.output_type = rng() % 2 ? DataType::u8 : DataType::s8;
  q.output_zero_point = random_in(q.output_type, rng);
  // An output scale that spreads the outputs over about ±150 steps: most land inside the
  // type's range, some saturate.
  const Naive naive = naive_conv(layer);
  double largest = 1e-3;
  for (double r : naive.real) largest = std::max(largest, std::abs(r));
  q.output_scale = static_cast<float>(largest / 150.0);
  return layer;
}

std::string describe(const Layer& layer) {
  return layer.shape.to_string() + " in " + std::string(to_string(layer.q.input_type)) +
         " w " + std::string(to_string(layer.q.weight_type)) + " out " +
         std::string(to_string(layer.q.output_type));
}

// ------------------------------------------------------------------ layout transforms

std::vector<float> as_floats(const Values& v) { return {v.begin(), v.end()}; }
Values as_values(const std::vector<float>& v) { return {v.begin(), v.end()}; }

Layer in_nchw(Layer layer) {
  const ConvShape nhwc = layer.shape;
  layer.shape = with_layout(nhwc, Layout::nchw);
  layer.src = as_values(src_nhwc_to_nchw(nhwc, as_floats(layer.src)));
  layer.weights = as_values(hwio_to_oihw(nhwc, as_floats(layer.weights)));
  return layer;
}

}  // namespace

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(accumulator)

BOOST_AUTO_TEST_CASE(s32_output_is_the_raw_accumulator) {
  // The courses' ramp [[0,1,2],[3,4,5],[6,7,8]] with kernel [[0,1],[2,3]] gives
  // [[19,25],[37,43]]; shifted by the zero points (input +10, weights +2) it must give the same.
  Layer layer;
  layer.shape = ConvCase().input(3, 3, 1).kernel(2).bias(false).shape();
  layer.src = {10, 11, 12, 13, 14, 15, 16, 17, 18};
  layer.weights = {2, 3, 4, 5};
  layer.q.input_zero_point = 10;
  layer.q.weight_zero_points = {2};
  layer.q.output_type = DataType::s32;
  BOOST_TEST(run(layer) == (Values{19, 25, 37, 43}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(padding_is_the_input_zero_point) {
  // A 2×2 image of x_zp + 1 under a 3×3 kernel of ones, padded by 1: each output sees the 4
  // real pixels (1 each) and 5 padded taps, which add nothing. Were the padding a stored 0,
  // each padded tap would add (0 − 128) · 1.
  Layer layer;
  layer.shape = ConvCase().input(2, 2, 1).kernel(3).padding(1).bias(false).shape();
  layer.q.input_zero_point = 128;
  layer.src = Values(4, 129);
  layer.weights = Values(9, 1);
  layer.q.output_type = DataType::s32;
  BOOST_TEST(run(layer) == (Values{4, 4, 4, 4}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(weight_zero_points_apply_per_output_channel) {
  // u8 weights, as ONNX allows: channel 0 has zero point 100, channel 1 zero point 0.
  Layer layer = pointwise({5, 7}, {101, 102, 101, 102}, 2);
  layer.q.weight_type = DataType::u8;
  layer.q.weight_zero_points = {100, 0};
  layer.q.output_type = DataType::s32;
  // channel 0: 5·1 + 7·2 = 19;  channel 1: 5·101 + 7·102 = 1219
  BOOST_TEST(run(layer) == (Values{19, 1219}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(int32_bias_is_added_to_the_accumulator) {
  Layer layer = pointwise({3}, {4}, 1);
  layer.q.output_type = DataType::s32;
  layer.integer_bias = {-20};
  BOOST_TEST(run(layer) == (Values{-8}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(accumulator_wraps_modulo_2_to_the_32) {
  // 70000 channels of 255 · (−128) sum to −2 284 800 000, below −2^31: int32 lanes, whatever
  // order they add in, hold it plus 2^32.
  const std::int64_t c = 70000;
  Layer layer = pointwise(Values(c, 255), Values(c, -128), 1);
  layer.q.output_type = DataType::s32;
  BOOST_TEST(run(layer) == (Values{static_cast<std::int32_t>(-2284800000LL + (1LL << 32))}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(random_shapes_equal_the_naive_integer_sum) {
  std::mt19937_64 rng(22);
  for (int trial = 0; trial < 150; ++trial) {
    const Layer layer = with_output(random_layer(rng), DataType::s32);
    const Naive naive = naive_conv(layer);
    const Values got = run(layer);
    BOOST_TEST_CONTEXT(describe(layer)) {
      BOOST_TEST(std::equal(got.begin(), got.end(), naive.acc.begin(), naive.acc.end()));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(requantization)

BOOST_AUTO_TEST_CASE(rounds_half_to_even) {
  // x_scale 0.5, w_scale 1, y_scale 1: y = acc / 2 lands on halves for odd accumulators.
  Layer layer = pointwise({1}, {1}, 1);
  layer.q.input_type = DataType::s8;
  layer.q.input_scale = 0.5f;
  layer.q.output_type = DataType::s8;
  const std::vector<std::pair<std::int32_t, std::int32_t>> acc_to_output = {
      {1, 0}, {3, 2}, {5, 2}, {7, 4}, {-1, 0}, {-3, -2}, {-5, -2}, {2, 1}};
  for (auto [acc, expected] : acc_to_output) {
    layer.src = {acc};
    BOOST_TEST_CONTEXT("acc " << acc) { BOOST_TEST(run(layer) == (Values{expected}), boost::test_tools::per_element()); }
  }
}

BOOST_AUTO_TEST_CASE(round_half_to_even_ignores_the_rounding_mode_it_is_not_given) {
  for (auto [y, expected] : std::vector<std::pair<float, std::int32_t>>{
           {0.5f, 0}, {1.5f, 2}, {2.5f, 2}, {-0.5f, 0}, {-1.5f, -2}, {-2.5f, -2}, {0.49999997f, 0},
           {0.50000006f, 1}, {-7.25f, -7}, {254.5f, 254}, {8388607.5f, 8388608}})
    BOOST_TEST(round_half_to_even(y) == expected, "round_half_to_even(" << y << ")");
}

BOOST_AUTO_TEST_CASE(output_zero_point_is_added_after_rounding) {
  // y = 2.5 rounds to 2, plus 101 is 103; rounding y + 101 = 103.5 would give 104.
  Layer layer = pointwise({5}, {1}, 1);
  layer.q.input_scale = 0.5f;
  layer.q.output_zero_point = 101;
  BOOST_TEST(run(layer) == (Values{103}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(saturates_at_the_type_bounds) {
  Layer layer = pointwise({100}, {100, -100}, 2);
  layer.q.output_zero_point = 10;
  // acc = ±10000 with multiplier 1: far outside both types.
  BOOST_TEST(run(layer) == (Values{255, 0}), boost::test_tools::per_element());
  layer.q.output_type = DataType::s8;
  BOOST_TEST(run(layer) == (Values{127, -128}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(saturates_where_y_leaves_the_int32_range) {
  // acc 10^4 times a multiplier of 10^8 is 10^12: cvtps2dq alone would give 0x80000000.
  Layer layer = pointwise({100}, {100, -100}, 2);
  layer.q.output_scale = 1e-8f;
  layer.q.output_type = DataType::s8;
  BOOST_TEST(run(layer) == (Values{127, -128}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(per_channel_scales_apply_per_output_channel) {
  // The same weights and accumulator (40) on three channels, scaled by 1, 1/2 and 1/4.
  Layer layer = pointwise({10}, {4, 4, 4}, 3);
  layer.q.weight_scales = {1.0f, 0.5f, 0.25f};
  BOOST_TEST(run(layer) == (Values{40, 20, 10}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(int32_bias_is_added_before_scaling) {
  // acc 1 + bias 1, times 0.5, is 1. Adding the bias after scaling would give 1.5 -> 2.
  Layer layer = pointwise({1}, {1}, 1);
  layer.q.input_scale = 0.5f;
  layer.integer_bias = {1};
  BOOST_TEST(run(layer) == (Values{1}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(float_bias_is_added_in_the_real_domain) {
  // real = acc · 0.5 + 0.75 = 1.25 for acc 1; over y_scale 0.5 that is 2.5, which rounds to 2.
  Layer layer = pointwise({1}, {1}, 1);
  layer.q.input_scale = 0.5f;
  layer.q.output_scale = 0.5f;
  layer.q.bias_type = DataType::f32;
  layer.float_bias = {0.75f};
  BOOST_TEST(run(layer) == (Values{2}), boost::test_tools::per_element());
  const Layer dequantized = with_output(layer, DataType::f32);
  BOOST_TEST(run_floats(dequantized) == (std::vector<float>{1.25f}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(f32_output_is_the_dequantized_accumulator) {
  Layer layer = with_output(pointwise({3, 5}, {2, -1, 4, 4}, 2), DataType::f32);
  layer.q.input_scale = 0.25f;
  layer.q.weight_scales = {2.0f, 0.5f};
  // channel 0: (3·2 − 5) · 0.25 · 2 = 0.5;  channel 1: (3·4 + 5·4) · 0.25 · 0.5 = 4
  BOOST_TEST(run_floats(layer) == (std::vector<float>{0.5f, 4.0f}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(clamp_applies_in_the_quantized_domain) {
  // ReLU for u8 with zero point 50 is [50, 255]; ReLU6 at y_scale 0.1 adds hi = 50 + 60.
  Layer layer = pointwise({100}, {-1, 1}, 2);
  layer.q.output_zero_point = 50;
  layer.q.clamp = IntegerRange{50, 255};
  BOOST_TEST(run(layer) == (Values{50, 150}), boost::test_tools::per_element());
  layer.q.clamp = IntegerRange{50, 110};
  BOOST_TEST(run(layer) == (Values{50, 110}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_accumulator_is_scaled_in_float_not_double) {
  // 0.1f is 0.100000001490116: acc 5 times it is 0.50000000745 in double, which rounds to 1
  // (ONNX's reference multiplies in float64 and gives 1), but the float product is 0.5 exactly,
  // which rounds half to even to 0.
  Layer layer = pointwise({5}, {1}, 1);
  layer.q.input_scale = 0.1f;
  BOOST_TEST(run(layer) == (Values{0}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(scales_combine_in_the_documented_order) {
  // (0.05f · 0.03f) / 0.07f times acc 70 is 1.5 in float and rounds to 2; the order
  // 0.05f · (0.03f / 0.07f) gives 1.4999999 and 1, as does exact decimal arithmetic.
  Layer layer = pointwise({70}, {1}, 1);
  layer.q.input_scale = 0.05f;
  layer.q.weight_scales = {0.03f};
  layer.q.output_scale = 0.07f;
  BOOST_TEST(run(layer) == (Values{2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(u8_and_s8_outputs_are_the_documented_float_formula_of_the_accumulator) {
  // requantization.hpp's formula written out once more, in the order it states, on the exact
  // accumulators: the contract kernels reproduce bit for bit.
  std::mt19937_64 rng(8);
  for (int trial = 0; trial < 100; ++trial) {
    const Layer layer = random_layer(rng);
    const Quantization& q = layer.q;
    const Naive naive = naive_conv(layer);
    const Values got = run(layer);
    const IntegerRange range = q.output_range();
    std::size_t mismatches = 0;
    for (std::size_t at = 0; at < got.size(); ++at) {
      const std::int64_t o = output_channel_of(layer.shape, static_cast<std::int64_t>(at));
      const float multiplier = (q.input_scale * q.weight_scale(o)) / q.output_scale;
      const float offset = layer.float_bias.empty() ? 0.0f : layer.float_bias[o] / q.output_scale;
      const float y = std::fma(static_cast<float>(naive.acc[at]), multiplier, offset);
      const float bounded = std::clamp(y, static_cast<float>(range.lo - q.output_zero_point),
                                       static_cast<float>(range.hi - q.output_zero_point));
      const auto expected = static_cast<std::int32_t>(std::nearbyint(bounded)) + q.output_zero_point;
      mismatches += got[at] != expected;
    }
    BOOST_TEST(mismatches == 0u, describe(layer) << ": " << mismatches << " elements differ");
  }
}

BOOST_AUTO_TEST_CASE(differs_from_exact_rounding_only_next_to_a_half) {
  // Against round(real / y_scale) in double: equal, or 1 apart where the real value lies
  // within the float formula's error of a half, which is where ONNX's and PyTorch's own
  // float orders may land on either side too.
  std::mt19937_64 rng(1);
  std::size_t elements = 0, next_to_a_half = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const Layer layer = random_layer(rng);
    const Naive naive = naive_conv(layer);
    const Values got = run(layer);
    for (std::size_t at = 0; at < got.size(); ++at) {
      const std::int32_t exact = exact_quantized(naive.real[at], layer.q);
      if (got[at] == exact) continue;
      const std::int64_t o = output_channel_of(layer.shape, static_cast<std::int64_t>(at));
      const double y = naive.real[at] / layer.q.output_scale;
      const double error = float_formula_error(naive.acc[at], naive.real[at], layer, o);
      BOOST_TEST((std::abs(got[at] - exact) == 1 && near_a_half(y, error)),
                 describe(layer) << " element " << at << ": " << got[at] << " for y = " << y);
      ++next_to_a_half;
    }
    elements += got.size();
  }
  BOOST_TEST_MESSAGE(next_to_a_half << " of " << elements << " elements rounded to the other side of a half");
  BOOST_TEST(elements > 100000u);
}

BOOST_AUTO_TEST_CASE(f32_output_is_within_a_few_roundings_of_the_real_value) {
  std::mt19937_64 rng(32);
  for (int trial = 0; trial < 100; ++trial) {
    const Layer layer = with_output(random_layer(rng), DataType::f32);
    const Naive naive = naive_conv(layer);
    const std::vector<float> got = run_floats(layer);
    double worst = 0;
    for (std::size_t at = 0; at < got.size(); ++at) {
      const std::int64_t o = output_channel_of(layer.shape, static_cast<std::int64_t>(at));
      const double scaled_acc = std::abs(static_cast<double>(naive.acc[at]) *
                                         layer.q.input_scale * layer.q.weight_scale(o));
      const double bias = layer.float_bias.empty() ? 0.0 : std::abs(layer.float_bias[o]);
      // float(acc), the multiplier and the fma: three roundings of 2^-24 each.
      const double bound = 3 * std::ldexp(1.0, -24) * (scaled_acc + bias) + 1e-30;
      worst = std::max(worst, std::abs(got[at] - naive.real[at]) / bound);
    }
    BOOST_TEST(worst <= 1.0, describe(layer) << ": error " << worst << " of the bound");
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(layouts_groups_and_batches)

BOOST_AUTO_TEST_CASE(grouped_and_depthwise_match_a_naive_loop) {
  std::mt19937_64 rng(4);
  int grouped = 0, depthwise = 0;
  while (grouped < 40 || depthwise < 40) {
    const Layer layer = with_output(random_layer(rng), DataType::s32);
    if (layer.shape.groups == 1) continue;
    (layer.shape.is_depthwise() ? depthwise : grouped) += 1;
    const Naive naive = naive_conv(layer);
    const Values got = run(layer);
    BOOST_TEST(std::equal(got.begin(), got.end(), naive.acc.begin(), naive.acc.end()),
               describe(layer));
  }
}

BOOST_AUTO_TEST_CASE(nchw_and_nhwc_agree) {
  std::mt19937_64 rng(5);
  const RandomShapeLimits nhwc_only = nhwc_limits();
  for (int trial = 0; trial < 60; ++trial) {
    const Layer nhwc = random_layer(rng, nhwc_only);
    const Layer nchw = in_nchw(nhwc);
    const Values in_nhwc = run(nhwc);
    const Values back = as_values(dst_nchw_to_nhwc(nhwc.shape, as_floats(run(nchw))));
    BOOST_TEST(in_nhwc == back, describe(nhwc));
  }
}

BOOST_AUTO_TEST_CASE(batch_images_are_independent) {
  // Each image of a batch gives what it gives alone.
  std::mt19937_64 rng(6);
  int batched = 0;
  while (batched < 20) {
    const Layer layer = random_layer(rng);
    if (layer.shape.n < 2) continue;
    ++batched;
    const Values whole = run(layer);
    Layer single = layer;
    single.shape.n = 1;
    const std::int64_t src_image = layer.shape.src_image_floats();
    const std::int64_t dst_image = layer.shape.dst_image_floats();
    for (std::int64_t b = 0; b < layer.shape.n; ++b) {
      single.src.assign(layer.src.begin() + b * src_image, layer.src.begin() + (b + 1) * src_image);
      const Values alone = run(single);
      BOOST_TEST(std::equal(alone.begin(), alone.end(), whole.begin() + b * dst_image),
                 describe(layer) << " image " << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(row_ranges_compose_to_the_whole_output) {
  std::mt19937_64 rng(7);
  const RandomShapeLimits nhwc_only = nhwc_limits();
  for (int trial = 0; trial < 30; ++trial) {
    const Layer layer = with_output(random_layer(rng, nhwc_only), DataType::s32);
    const ConvShape& s = layer.shape;
    const Values whole = run(layer);
    const std::vector<std::byte> src = encode(layer.src, layer.q.input_type);
    const std::vector<std::byte> weights = encode(layer.weights, layer.q.weight_type);
    const QuantizedWeights typed =
        layer.q.weight_type == DataType::s8
            ? QuantizedWeights(reinterpret_cast<const std::int8_t*>(weights.data()))
            : QuantizedWeights(reinterpret_cast<const std::uint8_t*>(weights.data()));
    const std::int64_t last = s.n - 1;  // the last image, to see the image offsets
    Values rows(static_cast<std::size_t>(s.dst_image_floats()));
    const std::int64_t split = s.out_h / 2;
    for (auto [begin, end] : {std::pair{std::int64_t{0}, split}, std::pair{split, s.out_h}})
      quantized_reference_conv_rows(s, layer.q, src.data() + last * s.src_image_floats() *
                                                    static_cast<std::int64_t>(bytes_of(layer.q.input_type)),
                                    typed, layer.bias(), rows.data(), begin, end);
    BOOST_TEST(std::equal(rows.begin(), rows.end(), whole.begin() + last * s.dst_image_floats()),
               describe(layer));
  }
}

BOOST_AUTO_TEST_CASE(pixel_strides_read_their_slices_and_leave_the_gaps_untouched) {
  std::mt19937_64 rng(9);
  const RandomShapeLimits nhwc_only = nhwc_limits();
  for (int trial = 0; trial < 20; ++trial) {
    const Layer dense = random_layer(rng, nhwc_only);
    Layer strided = dense;
    strided.shape = with_pixel_strides(dense.shape, dense.shape.c + 3, dense.shape.oc * 2);
    // The dense input in the strided tensor's slices; the gaps hold values it must not read.
    strided.src = random_values(static_cast<std::size_t>(strided.shape.src_elems()),
                                dense.q.input_type, rng);
    for (std::int64_t pixel = 0; pixel < dense.shape.n * dense.shape.h * dense.shape.w; ++pixel)
      std::copy_n(dense.src.begin() + pixel * dense.shape.c, dense.shape.c,
                  strided.src.begin() + pixel * strided.shape.src_pixel_stride());
    const Values expected = run(dense);
    const std::vector<std::byte> got = run_bytes(strided, std::byte{0xAB});
    const Values values = decode(got, strided.q.output_type);
    for (std::int64_t i = 0; i < strided.shape.dst_elems(); ++i) {
      if (is_output_element(strided.shape, i)) continue;
      BOOST_TEST(std::to_integer<int>(got[static_cast<std::size_t>(i)]) == 0xAB,
                 describe(strided) << " gap " << i);
    }
    for (std::int64_t pixel = 0; pixel < dense.shape.n * dense.shape.out_h * dense.shape.out_w; ++pixel)
      BOOST_TEST(std::equal(expected.begin() + pixel * dense.shape.oc,
                            expected.begin() + (pixel + 1) * dense.shape.oc,
                            values.begin() + pixel * strided.shape.dst_pixel_stride()),
                 describe(strided) << " pixel " << pixel);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(validation)

Quantization valid() { return {}; }

BOOST_AUTO_TEST_CASE(the_defaults_are_valid) { BOOST_CHECK_NO_THROW(valid().validate(8)); }

BOOST_AUTO_TEST_CASE(scales_must_be_positive_and_finite) {
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    Quantization q = valid();
    q.input_scale = bad;
    BOOST_TEST(error_field([&] { q.validate(1); }) == "input_scale");
    q = valid();
    q.output_scale = bad;
    BOOST_TEST(error_field([&] { q.validate(1); }) == "output_scale");
    q = valid();
    q.weight_scales = {1.0f, bad};
    BOOST_TEST(error_field([&] { q.validate(2); }) == "weight_scales[1]");
  }
}

BOOST_AUTO_TEST_CASE(zero_points_must_lie_in_their_types_range) {
  Quantization q = valid();
  q.input_zero_point = 256;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "input_zero_point");
  q = valid();
  q.input_type = DataType::s8;
  q.input_zero_point = 128;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "input_zero_point");
  q = valid();
  q.weight_zero_points = {-129};
  BOOST_TEST(error_field([&] { q.validate(1); }) == "weight_zero_points[0]");
  q = valid();
  q.weight_type = DataType::u8;
  q.weight_zero_points = {0, -1};
  BOOST_TEST(error_field([&] { q.validate(2); }) == "weight_zero_points[1]");
  q = valid();
  q.output_zero_point = -1;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "output_zero_point");
}

BOOST_AUTO_TEST_CASE(per_channel_vectors_hold_one_value_or_one_per_output_channel) {
  Quantization q = valid();
  q.weight_scales = {1.0f, 1.0f, 1.0f};
  BOOST_TEST(error_field([&] { q.validate(4); }) == "weight_scales");
  BOOST_CHECK_NO_THROW(q.validate(3));
  q.weight_scales = {};
  BOOST_TEST(error_field([&] { q.validate(3); }) == "weight_scales");
  q = valid();
  q.weight_zero_points = {0, 0};
  BOOST_TEST(error_field([&] { q.validate(3); }) == "weight_zero_points");
}

BOOST_AUTO_TEST_CASE(each_field_takes_only_its_types) {
  Quantization q = valid();
  q.input_type = DataType::f32;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "input_type");
  q = valid();
  q.weight_type = DataType::s32;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "weight_type");
  q = valid();
  q.bias_type = DataType::u8;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "bias_type");
  q = valid();
  q.output_type = DataType::s32;
  q.bias_type = DataType::f32;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "bias_type");
}

BOOST_AUTO_TEST_CASE(s32_and_f32_outputs_refuse_an_output_scale_or_zero_point) {
  for (DataType type : {DataType::s32, DataType::f32}) {
    Quantization q = valid();
    q.output_type = type;
    BOOST_CHECK_NO_THROW(q.validate(1));
    q.output_scale = 0.5f;
    BOOST_TEST(error_field([&] { q.validate(1); }) == "output_scale");
    q.output_scale = 1.0f;
    q.output_zero_point = 3;
    BOOST_TEST(error_field([&] { q.validate(1); }) == "output_zero_point");
  }
}

BOOST_AUTO_TEST_CASE(the_output_multiplier_must_be_a_positive_finite_float) {
  Quantization q = valid();
  q.input_scale = 1e30f;
  q.weight_scales = {1e30f};
  BOOST_TEST(error_field([&] { q.validate(1); }) == "output_scale");
  q.weight_scales = {1e-30f};
  q.input_scale = 1e-30f;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "output_scale");
  q.output_type = DataType::f32;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "weight_scales");
}

BOOST_AUTO_TEST_CASE(the_clamp_is_an_ordered_range_of_a_u8_or_s8_output) {
  Quantization q = valid();
  q.clamp = IntegerRange{10, 5};
  BOOST_TEST(error_field([&] { q.validate(1); }) == "clamp");
  q.clamp = IntegerRange{0, 256};
  BOOST_TEST(error_field([&] { q.validate(1); }) == "clamp");
  q.clamp = IntegerRange{0, 6};
  q.output_type = DataType::s32;
  BOOST_TEST(error_field([&] { q.validate(1); }) == "clamp");
}

BOOST_AUTO_TEST_CASE(the_reference_names_what_it_refuses) {
  Layer layer = pointwise({1}, {1}, 1);
  const std::vector<std::uint8_t> src = {1};
  const std::vector<std::int8_t> s8_weights = {1};
  const std::vector<std::uint8_t> u8_weights = {1};
  const std::vector<float> float_bias = {std::numeric_limits<float>::infinity()};
  const std::vector<std::int32_t> integer_bias = {0};
  std::vector<std::uint8_t> dst(1);
  auto call = [&](const ConvShape& s, const Quantization& q, QuantizedWeights w, QuantizedBias b) {
    return error_field([&] { quantized_reference_conv(s, q, src.data(), w, b, dst.data()); });
  };
  BOOST_TEST(call(layer.shape, layer.q, u8_weights.data(), nullptr) == "weight_type");
  BOOST_TEST(call(layer.shape, layer.q, s8_weights.data(), float_bias.data()) == "bias_type");
  Quantization float_bias_q = layer.q;
  float_bias_q.bias_type = DataType::f32;
  BOOST_TEST(call(layer.shape, float_bias_q, s8_weights.data(), float_bias.data()) == "bias");
  BOOST_TEST(call(layer.shape, layer.q, s8_weights.data(), integer_bias.data()) == "");
  ConvShape clamp = ConvCase().input(1, 1, 1).kernel(1).relu().shape();
  clamp.act = Activation{ActivationKind::clamp, 0.0f, 1.0f};
  BOOST_TEST(call(clamp, layer.q, s8_weights.data(), nullptr) == "act");
  Quantization s32_output = layer.q;
  s32_output.output_type = DataType::s32;
  std::vector<std::int32_t> s32_dst(1);
  const ConvShape relu = ConvCase().input(1, 1, 1).kernel(1).relu().shape();
  BOOST_TEST(error_field([&] {
               quantized_reference_conv(relu, s32_output, src.data(), s8_weights.data(), nullptr,
                                        s32_dst.data());
             }) == "act");
  ConvShape residual = with_residual(layer.shape);
  BOOST_TEST(call(residual, layer.q, s8_weights.data(), nullptr) == "add");
  Quantization bad = layer.q;
  bad.weight_scales = {1.0f, 1.0f};
  BOOST_TEST(call(layer.shape, bad, s8_weights.data(), nullptr) == "weight_scales");
}

BOOST_AUTO_TEST_CASE(data_types_have_names_sizes_and_ranges) {
  BOOST_TEST(to_string(DataType::f32) == "f32");
  BOOST_TEST(to_string(DataType::u8) == "u8");
  BOOST_TEST(to_string(DataType::s8) == "s8");
  BOOST_TEST(to_string(DataType::s32) == "s32");
  BOOST_TEST(bytes_of(DataType::u8) == 1u);
  BOOST_TEST(bytes_of(DataType::s32) == 4u);
  BOOST_TEST((range_of(DataType::s8) == IntegerRange{-128, 127}));
  BOOST_TEST((range_of(DataType::u8) == IntegerRange{0, 255}));
  BOOST_TEST(error_field([] { range_of(DataType::f32, "output_type"); }) == "output_type");
}

BOOST_AUTO_TEST_SUITE_END()
