// The reference convolution (core/reference.hpp), the oracle of every differential test:
// the courses' worked feature maps, layouts, bias and activation, groups, padding, batches.
#define BOOST_TEST_MODULE reference
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

std::vector<float> run_reference(const ConvShape& s, const std::vector<float>& src,
                                 const std::vector<float>& weights, const float* bias) {
  BOOST_REQUIRE(static_cast<std::int64_t>(src.size()) == s.src_elems());
  BOOST_REQUIRE(static_cast<std::int64_t>(weights.size()) == s.weight_elems());
  std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()),
                         std::numeric_limits<float>::quiet_NaN());
  reference_conv(s, src.data(), weights.data(), bias, dst.data());
  return dst;
}

std::vector<float> run_reference(const ConvShape& s, const std::vector<float>& src,
                                 const std::vector<float>& weights,
                                 const std::vector<float>& bias) {
  return run_reference(s, src, weights, bias.data());
}

// Integer values in [-3, 3]: every sum is exact in float and double, so results compare
// exactly whatever the order of the additions.
std::vector<float> random_small_integers(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> dist(-3, 3);
  std::vector<float> out(n);
  for (float& v : out) v = static_cast<float>(dist(rng));
  return out;
}

std::int64_t src_index(const ConvShape& s, std::int64_t b, std::int64_t ch, std::int64_t y,
                       std::int64_t x) {
  return s.layout == Layout::nhwc ? ((b * s.h + y) * s.w + x) * s.c + ch
                                  : ((b * s.c + ch) * s.h + y) * s.w + x;
}

std::int64_t dst_index(const ConvShape& s, std::int64_t b, std::int64_t o, std::int64_t y,
                       std::int64_t x) {
  return s.layout == Layout::nhwc ? ((b * s.out_h + y) * s.out_w + x) * s.oc + o
                                  : ((b * s.oc + o) * s.out_h + y) * s.out_w + x;
}

// Output rows of a one-channel, one-image result, for readable comparisons.
std::vector<std::vector<float>> rows_of(const ConvShape& s, const std::vector<float>& dst) {
  std::vector<std::vector<float>> rows(static_cast<std::size_t>(s.out_h));
  for (std::int64_t y = 0; y < s.out_h; ++y)
    rows[y].assign(dst.begin() + y * s.out_w, dst.begin() + (y + 1) * s.out_w);
  return rows;
}

// The 8×8 image of the courses' vertical-line example: zeros, with a two-pixel-wide vertical
// line of ones in columns 3 and 4 (0-based).
std::vector<float> two_pixel_line_image() {
  std::vector<float> img(64, 0.0f);
  for (int y = 0; y < 8; ++y) img[y * 8 + 3] = img[y * 8 + 4] = 1.0f;
  return img;
}

// The vertical-line detector that gives the courses' rows. With every image row identical,
// output (i, j) of a 3×3 kernel K is Σ_t colsum(K)[t] · img[j + t] (valid), and the rows
// [0, 0, 3, 3, 0, 0] pin the column sums:
//   j = 1 (columns 1,2,3; line at t=2):    colsum[2]            = 0
//   j = 2 (columns 2,3,4; line at t=1,2):  colsum[1] + colsum[2] = 3
//   j = 3 (columns 3,4,5; line at t=0,1):  colsum[0] + colsum[1] = 3
//   j = 4 (columns 4,5,6; line at t=0):    colsum[0]            = 0
// so colsum = (0, 3, 0): K = [[0,1,0],[0,1,0],[0,1,0]], a vertical line of ones. Then
// valid:  out(i, j) = img[j+1]·3  -> j+1 ∈ {3,4}  -> [0, 0, 3, 3, 0, 0] on every row,
// stride 2: columns j = 0, 2, 4 of that -> [0, 3, 0],
// same (pad 1): out(i, j) = img[j]·(image rows inside the window: 2 at i = 0 and 7, else 3)
//               -> [0,0,0,2,2,0,0,0] on rows 0 and 7, [0,0,0,3,3,0,0,0] on rows 1..6.
// (The edge detector [[1,0,-1]]×3 gives [0,-3,-3,3,3,0] and the line detector [[-1,2,-1]]×3
// gives [0,-3,3,3,-3,0]: see other_classic_kernels_give_signed_responses.)
const std::vector<float> kVerticalLine = {0, 1, 0,  //
                                          0, 1, 0,  //
                                          0, 1, 0};

}  // namespace

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(worked_examples)

BOOST_AUTO_TEST_CASE(ramp_3x3_with_2x2_kernel_gives_19_25_37_43) {
  // input [[0,1,2],[3,4,5],[6,7,8]], kernel [[0,1],[2,3]] (cross-correlation, as every
  // framework computes it):
  //   (0,0): 0·0 + 1·1 + 3·2 + 4·3 = 19     (0,1): 1·0 + 2·1 + 4·2 + 5·3 = 25
  //   (1,0): 3·0 + 4·1 + 6·2 + 7·3 = 37     (1,1): 4·0 + 5·1 + 7·2 + 8·3 = 43
  std::vector<float> src(9);
  std::iota(src.begin(), src.end(), 0.0f);
  const std::vector<float> kernel = {0, 1, 2, 3};
  const std::vector<float> expected = {19, 25, 37, 43};
  for (Layout layout : {Layout::nhwc, Layout::nchw}) {
    const ConvShape s = ConvCase().input(3, 3, 1).kernel(2).bias(false).layout(layout).shape();
    BOOST_TEST(s.out_h == 2);
    BOOST_TEST(s.out_w == 2);
    BOOST_TEST(run_reference(s, src, kernel, nullptr) == expected, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(ramp_example_adds_the_bias_once_per_output) {
  std::vector<float> src(9);
  std::iota(src.begin(), src.end(), 0.0f);
  const ConvShape s = ConvCase().input(3, 3, 1).kernel(2).shape();
  const std::vector<float> bias = {0.5f};
  const std::vector<float> expected = {19.5f, 25.5f, 37.5f, 43.5f};
  BOOST_TEST(run_reference(s, src, {0, 1, 2, 3}, bias) == expected,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vertical_line_detector_valid_gives_rows_0_0_3_3_0_0) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).padding_valid().bias(false).shape();
  const auto rows = rows_of(s, run_reference(s, two_pixel_line_image(), kVerticalLine, nullptr));
  BOOST_REQUIRE(rows.size() == 6u);
  const std::vector<float> expected = {0, 0, 3, 3, 0, 0};
  for (const auto& row : rows) BOOST_TEST(row == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vertical_line_detector_stride_2_gives_rows_0_3_0) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).stride(2).bias(false).shape();
  const auto rows = rows_of(s, run_reference(s, two_pixel_line_image(), kVerticalLine, nullptr));
  BOOST_REQUIRE(rows.size() == 3u);
  const std::vector<float> expected = {0, 3, 0};
  for (const auto& row : rows) BOOST_TEST(row == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(vertical_line_detector_same_gives_8x8_with_weaker_border_rows) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).padding_same().bias(false).shape();
  const auto rows = rows_of(s, run_reference(s, two_pixel_line_image(), kVerticalLine, nullptr));
  BOOST_REQUIRE(rows.size() == 8u);
  const std::vector<float> border = {0, 0, 0, 2, 2, 0, 0, 0};  // one window row in padding
  const std::vector<float> inner = {0, 0, 0, 3, 3, 0, 0, 0};
  for (std::size_t y = 0; y < 8; ++y)
    BOOST_TEST(rows[y] == ((y == 0 || y == 7) ? border : inner), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(other_classic_kernels_give_signed_responses) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).bias(false).shape();
  const std::vector<float> edge = {1, 0, -1, 1, 0, -1, 1, 0, -1};
  const std::vector<float> line = {-1, 2, -1, -1, 2, -1, -1, 2, -1};
  const std::vector<float> edge_row = {0, -3, -3, 3, 3, 0};
  const std::vector<float> line_row = {0, -3, 3, 3, -3, 0};
  for (const auto& row : rows_of(s, run_reference(s, two_pixel_line_image(), edge, nullptr)))
    BOOST_TEST(row == edge_row, boost::test_tools::per_element());
  for (const auto& row : rows_of(s, run_reference(s, two_pixel_line_image(), line, nullptr)))
    BOOST_TEST(row == line_row, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(worked_examples_through_the_reference_backend_kernel) {
  // The same feature maps through the public Kernel path (Jit → pack_weights → run).
  Jit jit(JitOptions{.backend = Backend::reference, .threads = 1});
  const auto kernel = jit.compile(ConvCase().input(8, 8, 1).kernel(3).padding_same().bias(false).shape());
  BOOST_TEST(kernel->backend() == "reference");
  const PackedWeights packed = kernel->pack_weights(kVerticalLine.data(), nullptr);
  const auto img = two_pixel_line_image();
  std::vector<float> dst(64, -1.0f);
  kernel->run(img.data(), packed, dst.data());
  BOOST_TEST(dst == run_reference(kernel->shape(), img, kVerticalLine, nullptr),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(layouts)

BOOST_AUTO_TEST_CASE(nhwc_and_nchw_agree_on_random_shapes) {
  std::mt19937_64 rng(41);
  RandomShapeLimits lim;
  lim.max_flops = 5e5;  // 2 × 250 reference runs stay well under a second
  for (std::uint64_t i = 0; i < 250; ++i) {
    const ConvShape shape = random_shape(rng, lim);
    const ConvShape nhwc = with_layout(shape, Layout::nhwc);
    const ConvShape nchw = with_layout(shape, Layout::nchw);
    const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), i);
    const auto hwio = random_floats(static_cast<std::size_t>(shape.weight_elems()), i + 1000);
    const auto bias = random_floats(static_cast<std::size_t>(shape.oc), i + 2000);
    const auto out_nhwc = run_reference(nhwc, src, hwio, bias);
    const auto out_nchw =
        run_reference(nchw, src_nhwc_to_nchw(shape, src), hwio_to_oihw(shape, hwio), bias);
    // Same sums in the same order: bit-identical.
    BOOST_TEST(max_abs_error(out_nhwc, dst_nchw_to_nhwc(shape, out_nchw)) == 0.0,
               shape.to_string());
  }
}

BOOST_AUTO_TEST_CASE(one_channel_images_are_the_same_memory_in_both_layouts) {
  const ConvShape s = ConvCase().input(9, 7, 1).kernel(3).stride(2).padding_same().shape();
  const auto src = random_floats(63, 1);
  const auto w = random_floats(9, 2);
  const std::vector<float> b = {0.25f};
  BOOST_TEST(run_reference(with_layout(s, Layout::nhwc), src, w, b) ==
             run_reference(with_layout(s, Layout::nchw), src, w, b));
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(bias_and_activation)

BOOST_AUTO_TEST_CASE(bias_is_added_after_the_sum) {
  std::mt19937_64 rng(42);
  RandomShapeLimits lim;
  lim.allow_activation = false;
  lim.max_flops = 2e5;
  for (std::uint64_t i = 0; i < 100; ++i) {
    ConvShape s = random_shape(rng, lim);
    s.bias = true;
    const auto src = random_small_integers(static_cast<std::size_t>(s.src_elems()), i);
    const auto w = random_small_integers(static_cast<std::size_t>(s.weight_elems()), i + 1);
    const auto bias = random_small_integers(static_cast<std::size_t>(s.oc), i + 2);
    const auto with = run_reference(s, src, w, bias);
    const auto without = run_reference(s, src, w, nullptr);  // nullptr: zeros
    bool ok = true;
    for (std::int64_t b = 0; b < s.n; ++b)
      for (std::int64_t y = 0; y < s.out_h; ++y)
        for (std::int64_t x = 0; x < s.out_w; ++x)
          for (std::int64_t o = 0; o < s.oc; ++o) {
            const auto k = dst_index(s, b, o, y, x);
            ok = ok && with[k] == without[k] + bias[o];
          }
    BOOST_TEST(ok, s.to_string());
  }
}

BOOST_AUTO_TEST_CASE(bias_pointer_is_ignored_when_the_shape_has_no_bias) {
  const ConvShape with_bias = ConvCase().input(5, 5, 2).output_channels(3).kernel(3).shape();
  ConvShape no_bias = with_bias;
  no_bias.bias = false;
  const auto src = random_floats(50, 1), w = random_floats(54, 2), b = random_floats(3, 3);
  BOOST_TEST(run_reference(no_bias, src, w, b) == run_reference(with_bias, src, w, nullptr));
  BOOST_TEST(run_reference(no_bias, src, w, b) != run_reference(with_bias, src, w, b));
}

BOOST_AUTO_TEST_CASE(relu_is_applied_after_the_bias) {
  // 1×1 convolution of one pixel: y = act(x·w + b).
  auto one = [](float x, float w, float b, const ConvCase& c) {
    const ConvShape s = c.shape();
    return run_reference(s, {x}, {w}, std::vector<float>{b})[0];
  };
  const ConvCase relu = ConvCase().relu();
  BOOST_TEST(one(1, -2, 3, relu) == 1.0f);   // relu(−2 + 3); relu before the bias would give 3
  BOOST_TEST(one(1, -2, 1, relu) == 0.0f);   // relu(−2 + 1); relu before the bias would give 1
  BOOST_TEST(one(2, 3, -1, relu) == 5.0f);
  BOOST_TEST(one(-2, 3, 10, relu) == 4.0f);
  BOOST_TEST(one(0.5f, -1, 0, relu) == 0.0f);
}

BOOST_AUTO_TEST_CASE(clamp_bounds_the_biased_sum) {
  auto one = [](float x, float w, float b, const ConvCase& c) {
    return run_reference(c.shape(), {x}, {w}, std::vector<float>{b})[0];
  };
  const ConvCase clamp = ConvCase().clamp(-1, 6);
  BOOST_TEST(one(2, 4, 1, clamp) == 6.0f);     // 9 → 6
  BOOST_TEST(one(2, -4, 5, clamp) == -1.0f);   // −3 → −1
  BOOST_TEST(one(2, 2, -1, clamp) == 3.0f);    // inside
  BOOST_TEST(one(1, 7, -1, clamp) == 6.0f);    // 6 exactly (bias first: clamp then bias = 5)
  BOOST_TEST(one(1, -3, 2, ConvCase().clamp(0, 0)) == 0.0f);
}

BOOST_AUTO_TEST_CASE(activation_equals_act_of_the_linear_output_on_random_shapes) {
  std::mt19937_64 rng(43);
  RandomShapeLimits lim;
  lim.max_flops = 2e5;
  for (std::uint64_t i = 0; i < 100; ++i) {
    const ConvShape linear = [&] {
      ConvShape s = random_shape(rng, lim);
      s.act = {};
      return s;
    }();
    const auto src = random_floats(static_cast<std::size_t>(linear.src_elems()), i);
    const auto w = random_floats(static_cast<std::size_t>(linear.weight_elems()), i + 1);
    const auto bias = random_floats(static_cast<std::size_t>(linear.oc), i + 2);
    const auto plain = run_reference(linear, src, w, bias);
    for (Activation act : {Activation{ActivationKind::relu, 0, 0},
                           Activation{ActivationKind::clamp, -0.25f, 0.5f},
                           Activation{ActivationKind::clamp, 0.0f, 0.0f}}) {
      ConvShape s = linear;
      s.act = act;
      const auto activated = run_reference(s, src, w, bias);
      std::vector<float> expected(plain.size());
      for (std::size_t k = 0; k < plain.size(); ++k) {
        float v = plain[k];
        if (act.kind == ActivationKind::relu) v = std::max(v, 0.0f);
        if (act.kind == ActivationKind::clamp) v = std::min(std::max(v, act.lo), act.hi);
        expected[k] = v;
      }
      BOOST_TEST(activated == expected, s.to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(apply_activation_maps_single_values) {
  BOOST_TEST(apply_activation({}, -3.5f) == -3.5f);
  BOOST_TEST(apply_activation({ActivationKind::relu, 0, 0}, -3.5f) == 0.0f);
  BOOST_TEST(apply_activation({ActivationKind::relu, 0, 0}, 2.0f) == 2.0f);
  BOOST_TEST(apply_activation({ActivationKind::clamp, 0, 6}, 7.0f) == 6.0f);
  BOOST_TEST(apply_activation({ActivationKind::clamp, 0, 6}, -1.0f) == 0.0f);
  BOOST_TEST(apply_activation({ActivationKind::clamp, 0, 6}, 3.0f) == 3.0f);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(groups)

BOOST_AUTO_TEST_CASE(each_group_is_an_independent_convolution) {
  std::mt19937_64 rng(44);
  RandomShapeLimits lim;
  lim.max_flops = 3e5;
  int grouped = 0;
  for (std::uint64_t i = 0; grouped < 120; ++i) {
    const ConvShape s = random_shape(rng, lim);
    if (s.groups == 1) continue;
    ++grouped;
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 1);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), i + 2);
    const auto whole = run_reference(s, src, w, bias);

    // Run each group as its own dense convolution and scatter its outputs into place.
    ConvShape sub = s;
    sub.c = s.ic_per_group();
    sub.oc = s.oc_per_group();
    sub.groups = 1;
    std::vector<float> pieced(whole.size(), std::numeric_limits<float>::quiet_NaN());
    for (std::int64_t g = 0; g < s.groups; ++g) {
      std::vector<float> sub_src(static_cast<std::size_t>(sub.src_elems()));
      for (std::int64_t b = 0; b < s.n; ++b)
        for (std::int64_t ch = 0; ch < sub.c; ++ch)
          for (std::int64_t y = 0; y < s.h; ++y)
            for (std::int64_t x = 0; x < s.w; ++x)
              sub_src[src_index(sub, b, ch, y, x)] = src[src_index(s, b, g * sub.c + ch, y, x)];
      std::vector<float> sub_w(static_cast<std::size_t>(sub.weight_elems()));
      for (std::int64_t o = 0; o < sub.oc; ++o)
        for (std::int64_t ic = 0; ic < sub.c; ++ic)
          for (std::int64_t y = 0; y < s.kh; ++y)
            for (std::int64_t x = 0; x < s.kw; ++x)
              sub_w[user_weight_index(sub, o, ic, y, x)] =
                  w[user_weight_index(s, g * sub.oc + o, ic, y, x)];
      const std::vector<float> sub_bias(bias.begin() + g * sub.oc, bias.begin() + (g + 1) * sub.oc);
      const auto out = run_reference(sub, sub_src, sub_w, sub_bias);
      for (std::int64_t b = 0; b < s.n; ++b)
        for (std::int64_t o = 0; o < sub.oc; ++o)
          for (std::int64_t y = 0; y < s.out_h; ++y)
            for (std::int64_t x = 0; x < s.out_w; ++x)
              pieced[dst_index(s, b, g * sub.oc + o, y, x)] = out[dst_index(sub, b, o, y, x)];
    }
    BOOST_TEST(max_abs_error(whole, pieced) == 0.0, s.to_string());
  }
}

BOOST_AUTO_TEST_CASE(depthwise_output_channel_reads_only_its_input_channel) {
  for (Layout layout : {Layout::nhwc, Layout::nchw}) {
    const ConvShape s =
        ConvCase().input(6, 7, 5).kernel(3).depthwise().padding_same().bias(false).layout(layout).shape();
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 3);
    for (std::int64_t lit = 0; lit < s.c; ++lit) {
      // Random values in one input channel, zeros elsewhere.
      std::vector<float> src(static_cast<std::size_t>(s.src_elems()), 0.0f);
      const auto values = random_floats(static_cast<std::size_t>(s.h * s.w), lit);
      for (std::int64_t y = 0; y < s.h; ++y)
        for (std::int64_t x = 0; x < s.w; ++x) src[src_index(s, 0, lit, y, x)] = values[y * s.w + x];
      const auto dst = run_reference(s, src, w, nullptr);
      for (std::int64_t o = 0; o < s.oc; ++o) {
        double energy = 0;
        for (std::int64_t y = 0; y < s.out_h; ++y)
          for (std::int64_t x = 0; x < s.out_w; ++x) energy += std::abs(dst[dst_index(s, 0, o, y, x)]);
        if (o == lit) BOOST_TEST(energy > 0.0);
        else BOOST_TEST(energy == 0.0, "channel " << lit << " leaked into output " << o);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(channel_multiplier_outputs_read_their_groups_channel) {
  // g = c = 3, oc = 6: outputs 2j and 2j+1 read input channel j.
  const ConvShape s = ConvCase().input(4, 4, 3).output_channels(6).groups(3).kernel(2).bias(false).shape();
  BOOST_TEST(s.ic_per_group() == 1);
  BOOST_TEST(s.oc_per_group() == 2);
  std::vector<float> src(static_cast<std::size_t>(s.src_elems()), 0.0f);
  for (std::int64_t y = 0; y < 4; ++y)
    for (std::int64_t x = 0; x < 4; ++x) src[src_index(s, 0, 1, y, x)] = 1.0f;  // channel 1 only
  const std::vector<float> w(static_cast<std::size_t>(s.weight_elems()), 1.0f);
  const auto dst = run_reference(s, src, w, nullptr);
  for (std::int64_t o = 0; o < 6; ++o)
    BOOST_TEST(dst[dst_index(s, 0, o, 1, 1)] == ((o == 2 || o == 3) ? 4.0f : 0.0f), "output " << o);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(padding_rows_and_batches)

BOOST_AUTO_TEST_CASE(padded_taps_read_zeros) {
  // The reference skips taps in padding; a 'valid' convolution over an explicitly
  // zero-padded copy of the input must give the same numbers.
  std::mt19937_64 rng(45);
  RandomShapeLimits lim;
  lim.max_flops = 2e5;
  lim.layout = Layout::nhwc;
  for (std::uint64_t i = 0; i < 100; ++i) {
    const ConvShape s = random_shape(rng, lim);
    ConvShape padded = s;
    padded.h = s.h + s.pad_top + s.pad_bottom;
    padded.w = s.w + s.pad_left + s.pad_right;
    padded.pad_top = padded.pad_bottom = padded.pad_left = padded.pad_right = 0;
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
    std::vector<float> big(static_cast<std::size_t>(padded.src_elems()), 0.0f);
    for (std::int64_t b = 0; b < s.n; ++b)
      for (std::int64_t y = 0; y < s.h; ++y)
        for (std::int64_t x = 0; x < s.w; ++x)
          for (std::int64_t ch = 0; ch < s.c; ++ch)
            big[src_index(padded, b, ch, y + s.pad_top, x + s.pad_left)] = src[src_index(s, b, ch, y, x)];
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 1);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), i + 2);
    BOOST_TEST(max_abs_error(run_reference(s, src, w, bias), run_reference(padded, big, w, bias)) == 0.0,
               s.to_string());
  }
}

BOOST_AUTO_TEST_CASE(outputs_entirely_in_padding_are_bias_then_activation) {
  // p=4 around a 2×2 input with a 3×3 kernel: the outer ring of outputs sees no pixel.
  const ConvShape s = ConvCase().input(2, 2, 1).kernel(3).padding(4).relu().shape();
  BOOST_TEST(s.out_h == 8);
  const auto dst = run_reference(s, {1, 1, 1, 1}, std::vector<float>(9, 1.0f), std::vector<float>{-0.5f});
  BOOST_TEST(dst[0] == 0.0f);                       // relu(−0.5)
  BOOST_TEST(dst[dst_index(s, 0, 0, 3, 3)] == 3.5f);  // all four pixels − 0.5
  ConvShape linear = s;
  linear.act = {};
  BOOST_TEST(run_reference(linear, {1, 1, 1, 1}, std::vector<float>(9, 1.0f), std::vector<float>{-0.5f})[0] ==
             -0.5f);
}

BOOST_AUTO_TEST_CASE(row_ranges_compose_to_the_whole_output) {
  std::mt19937_64 rng(46);
  RandomShapeLimits lim;
  lim.max_flops = 2e5;
  lim.max_batch = 1;
  for (std::uint64_t i = 0; i < 60; ++i) {
    const ConvShape s = random_shape(rng, lim);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 1);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), i + 2);
    const auto whole = run_reference(s, src, w, bias);
    std::vector<float> pieces(whole.size(), std::numeric_limits<float>::quiet_NaN());
    const std::int64_t split = s.out_h / 2;
    reference_conv_rows(s, src.data(), w.data(), bias.data(), pieces.data(), split, s.out_h);
    reference_conv_rows(s, src.data(), w.data(), bias.data(), pieces.data(), 0, split);
    BOOST_TEST(max_abs_error(whole, pieces) == 0.0, s.to_string());
    // An empty range writes nothing.
    std::vector<float> untouched(whole.size(), 7.0f);
    reference_conv_rows(s, src.data(), w.data(), bias.data(), untouched.data(), split, split);
    BOOST_TEST(std::all_of(untouched.begin(), untouched.end(), [](float v) { return v == 7.0f; }));
  }
}

BOOST_AUTO_TEST_CASE(batch_images_are_independent) {
  for (Layout layout : {Layout::nhwc, Layout::nchw}) {
    const ConvShape batch =
        ConvCase().batch(3).input(6, 5, 4).output_channels(3).kernel(3).stride(2).padding_same().layout(layout).shape();
    ConvShape single = batch;
    single.n = 1;
    const auto src = random_floats(static_cast<std::size_t>(batch.src_elems()), 1);
    const auto w = random_floats(static_cast<std::size_t>(batch.weight_elems()), 2);
    const auto bias = random_floats(3, 3);
    const auto all = run_reference(batch, src, w, bias);
    const auto src_image = static_cast<std::size_t>(single.src_elems());
    const auto dst_image = static_cast<std::size_t>(single.dst_elems());
    for (std::size_t b = 0; b < 3; ++b) {
      const std::vector<float> img(src.begin() + b * src_image, src.begin() + (b + 1) * src_image);
      const auto out = run_reference(single, img, w, bias);
      BOOST_TEST(std::equal(out.begin(), out.end(), all.begin() + b * dst_image), "image " << b);
    }
  }
}

BOOST_AUTO_TEST_CASE(strided_dilated_output_matches_hand_computed_taps) {
  // 1 channel, 7×7 input x[y][x] = 10y + x, 2×2 kernel of ones, stride 2, dilation 3:
  // output (i, j) = x[2i][2j] + x[2i][2j+3] + x[2i+3][2j] + x[2i+3][2j+3] = 4·(20i + 2j) + 66.
  std::vector<float> src(49);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) src[y * 7 + x] = static_cast<float>(10 * y + x);
  const ConvShape s = ConvCase().input(7, 7, 1).kernel(2).stride(2).dilation(3).bias(false).shape();
  BOOST_TEST(s.out_h == 2);  // (7 − 4) / 2 + 1
  const auto dst = run_reference(s, src, {1, 1, 1, 1}, nullptr);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) BOOST_TEST(dst[i * 2 + j] == 4.0f * (20 * i + 2 * j) + 66.0f);
}

BOOST_AUTO_TEST_SUITE_END()
