// Shape arithmetic (docs/ARCHITECTURE.md, "Shape arithmetic"): output sizes, 'same' / 'same_lower' /
// explicit padding, the courses' worked examples, parameter counts and flops. Every formula
// is cross-checked against a brute-force count of window positions over the padded input.
#define BOOST_TEST_MODULE shape_arithmetic
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <cstdint>
#include <vector>

using namespace convjit;
using convjit::testing::ConvCase;

namespace {

// Window start positions p = 0, S, 2S, ... over a padded axis of length I + Pb + Pa whose
// K taps p, p + D, ..., p + D(K−1) all lie inside it. No formula: taps are enumerated.
std::int64_t brute_force_output(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                std::int64_t dilation, std::int64_t pad_before,
                                std::int64_t pad_after) {
  const std::int64_t padded = input + pad_before + pad_after;
  std::int64_t count = 0;
  for (std::int64_t p = 0; p < padded; p += stride) {
    bool fits = true;
    for (std::int64_t t = 0; t < kernel; ++t) fits = fits && p + t * dilation < padded;
    if (fits) ++count;
  }
  return count;
}

// 'same' wants one output per stride step over the unpadded input: positions 0, S, 2S, ...
// below I (that is ceil(I / S), counted).
std::int64_t brute_force_same_output(std::int64_t input, std::int64_t stride) {
  std::int64_t count = 0;
  for (std::int64_t p = 0; p < input; p += stride) ++count;
  return count;
}

// The least total padding T >= 0 that gives the 'same' output count, found by search.
std::int64_t brute_force_same_total(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                                    std::int64_t dilation) {
  const std::int64_t want = brute_force_same_output(input, stride);
  for (std::int64_t total = 0;; ++total)
    if (brute_force_output(input, kernel, stride, dilation, 0, total) >= want) return total;
}

ConvShape square(std::int64_t size, std::int64_t k) {
  return ConvCase().input(size, size, 1).kernel(k).shape();
}

}  // namespace

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(course_examples)

BOOST_AUTO_TEST_CASE(eight_by_eight_with_3x3_valid_gives_6x6) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).padding_valid().shape();
  BOOST_TEST(s.out_h == 6);
  BOOST_TEST(s.out_w == 6);
  BOOST_TEST(brute_force_output(8, 3, 1, 1, 0, 0) == 6);
}

BOOST_AUTO_TEST_CASE(eight_by_eight_with_3x3_same_gives_8x8) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).padding_same().shape();
  BOOST_TEST(s.out_h == 8);
  BOOST_TEST(s.out_w == 8);
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 1);
  BOOST_TEST(s.pad_left == 1);
  BOOST_TEST(s.pad_right == 1);
  BOOST_TEST(brute_force_output(8, 3, 1, 1, 1, 1) == 8);
}

BOOST_AUTO_TEST_CASE(eight_by_eight_with_3x3_stride_2_gives_3x3) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).stride(2).shape();
  BOOST_TEST(s.out_h == 3);
  BOOST_TEST(s.out_w == 3);
  BOOST_TEST(brute_force_output(8, 3, 2, 1, 0, 0) == 3);  // windows at 0, 2, 4 (6 would end at 8)
}

BOOST_AUTO_TEST_CASE(twenty_eight_with_k3_p1_stride_1_gives_28) {
  const ConvShape s = ConvCase().input(28, 28, 1).kernel(3).padding(1).stride(1).shape();
  BOOST_TEST(s.out_h == 28);
  BOOST_TEST(s.out_w == 28);
  BOOST_TEST(conv_output_size(28, 3, 1, 1, {1, 1}) == 28);
  BOOST_TEST(brute_force_output(28, 3, 1, 1, 1, 1) == 28);
}

BOOST_AUTO_TEST_CASE(twenty_eight_with_k3_p1_stride_3_gives_10) {
  const ConvShape s = ConvCase().input(28, 28, 1).kernel(3).padding(1).stride(3).shape();
  BOOST_TEST(s.out_h == 10);
  BOOST_TEST(s.out_w == 10);
  BOOST_TEST(conv_output_size(28, 3, 3, 1, {1, 1}) == 10);  // floor((28 + 2 − 3) / 3) + 1 = 9 + 1
  BOOST_TEST(brute_force_output(28, 3, 3, 1, 1, 1) == 10);
}

BOOST_AUTO_TEST_CASE(course_slide_formula_divides_by_s_plus_1_and_is_wrong) {
  // The slide's (I − K + 2P)/(S + 1) misses its own example; (I − K + 2P)/S + 1 hits it.
  const std::int64_t I = 28, K = 3, P = 1, S = 3;
  const std::int64_t slide = (I - K + 2 * P) / (S + 1);
  const std::int64_t right = (I - K + 2 * P) / S + 1;
  BOOST_TEST(slide == 6);
  BOOST_TEST(right == 10);
  BOOST_TEST(conv_output_size(I, K, S, 1, {P, P}) == right);
  BOOST_TEST(conv_output_size(I, K, S, 1, {P, P}) != slide);
}

BOOST_AUTO_TEST_CASE(five_by_five_same_stride_2_gives_3x3) {
  const ConvShape s = ConvCase().input(5, 5, 1).kernel(3).stride(2).padding_same().shape();
  BOOST_TEST(s.out_h == 3);
  BOOST_TEST(s.out_w == 3);
  // T = (3 − 1)·2 + 3 − 5 = 2: one pixel each side.
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 1);
  BOOST_TEST(brute_force_output(5, 3, 2, 1, 1, 1) == 3);
}

BOOST_AUTO_TEST_CASE(thirty_two_with_5x5_gives_28x28) {
  const ConvShape s = square(32, 5);
  BOOST_TEST(s.out_h == 28);
  BOOST_TEST(s.out_w == 28);
  BOOST_TEST(brute_force_output(32, 5, 1, 1, 0, 0) == 28);
}

BOOST_AUTO_TEST_CASE(seven_5x5_valid_layers_leave_4x4) {
  std::int64_t size = 32;
  const std::vector<std::int64_t> expected = {28, 24, 20, 16, 12, 8, 4};
  for (std::int64_t layer = 0; layer < 7; ++layer) {
    const ConvShape s = ConvCase().input(size, size, 3).output_channels(3).kernel(5).shape();
    BOOST_TEST(s.out_h == expected[layer], "layer " << layer + 1);
    BOOST_TEST(s.out_w == expected[layer], "layer " << layer + 1);
    size = s.out_h;
  }
  BOOST_TEST(size == 4);
  // An eighth 5×5 layer does not fit a 4×4 input.
  BOOST_CHECK_EXCEPTION(square(4, 5), convjit::Error,
                        [](const convjit::Error& e) { return e.field() == "kh"; });
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(output_size)

BOOST_AUTO_TEST_CASE(effective_kernel_spreads_taps_by_dilation) {
  BOOST_TEST(effective_kernel(3, 1) == 3);
  BOOST_TEST(effective_kernel(3, 2) == 5);
  BOOST_TEST(effective_kernel(3, 4) == 9);
  BOOST_TEST(effective_kernel(1, 6) == 1);  // one tap has no spread
  BOOST_TEST(effective_kernel(11, 6) == 61);
  BOOST_TEST(effective_kernel(2, 3) == 4);
}

BOOST_AUTO_TEST_CASE(output_size_counts_window_positions_over_the_padded_input) {
  for (std::int64_t I = 1; I <= 24; ++I)
    for (std::int64_t K = 1; K <= 7; ++K)
      for (std::int64_t S = 1; S <= 4; ++S)
        for (std::int64_t D = 1; D <= 4; ++D)
          for (std::int64_t Pb = 0; Pb <= 3; ++Pb)
            for (std::int64_t Pa = 0; Pa <= 3; ++Pa) {
              const std::int64_t got = conv_output_size(I, K, S, D, {Pb, Pa});
              const std::int64_t want = brute_force_output(I, K, S, D, Pb, Pa);
              if (got != want)
                BOOST_ERROR("I=" << I << " K=" << K << " S=" << S << " D=" << D << " Pb=" << Pb
                                 << " Pa=" << Pa << ": " << got << " != brute force " << want);
            }
}

BOOST_AUTO_TEST_CASE(output_size_is_zero_when_padded_input_is_smaller_than_extent) {
  BOOST_TEST(conv_output_size(2, 3, 1, 1, {0, 0}) == 0);
  BOOST_TEST(conv_output_size(8, 3, 1, 4, {0, 0}) == 0);   // E = 9 > 8
  BOOST_TEST(conv_output_size(8, 3, 1, 4, {1, 0}) == 1);   // padded 9 = E: exactly one
  BOOST_TEST(conv_output_size(1, 3, 1, 1, {1, 1}) == 1);
  BOOST_TEST(conv_output_size(1, 3, 1, 1, {1, 0}) == 0);
}

BOOST_AUTO_TEST_CASE(stride_larger_than_remaining_input_gives_one_output) {
  BOOST_TEST(conv_output_size(5, 3, 4, 1, {0, 0}) == 1);
  BOOST_TEST(conv_output_size(5, 5, 3, 1, {0, 0}) == 1);
  BOOST_TEST(conv_output_size(7, 3, 4, 1, {0, 0}) == 2);  // windows at 0 and 4
  BOOST_TEST(brute_force_output(7, 3, 4, 1, 0, 0) == 2);
}

BOOST_AUTO_TEST_CASE(dilation_shrinks_output_like_a_larger_kernel) {
  // A 3-tap kernel with dilation 2 spans 5: same count as a dense 5-tap kernel.
  for (std::int64_t I = 5; I <= 30; ++I)
    for (std::int64_t S = 1; S <= 3; ++S)
      BOOST_TEST(conv_output_size(I, 3, S, 2, {0, 0}) == conv_output_size(I, 5, S, 1, {0, 0}));
  const ConvShape s = ConvCase().input(56, 56, 1).kernel(3).dilation(2).padding(2).shape();
  BOOST_TEST(s.out_h == 56);  // bench's dilated_d2_56
}

BOOST_AUTO_TEST_CASE(height_and_width_are_computed_independently) {
  const ConvShape s = ConvCase()
                          .input(20, 11, 1)
                          .kernel(5, 2)
                          .stride(3, 1)
                          .dilation(1, 4)
                          .padding(2, 0, 1, 3)
                          .shape();
  BOOST_TEST(s.out_h == brute_force_output(20, 5, 3, 1, 2, 0));
  BOOST_TEST(s.out_w == brute_force_output(11, 2, 1, 4, 1, 3));
  BOOST_TEST(s.out_h == 6);   // (20 + 2 − 5) / 3 + 1 = 5 + 1
  BOOST_TEST(s.out_w == 11);  // (11 + 4 − 5) / 1 + 1
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(same_and_same_lower)

BOOST_AUTO_TEST_CASE(same_output_is_ceil_of_input_over_stride) {
  for (std::int64_t I = 1; I <= 40; ++I)
    for (std::int64_t K = 1; K <= 8; ++K)
      for (std::int64_t S = 1; S <= 3; ++S)
        for (std::int64_t D = 1; D <= 4; ++D)
          for (bool lower : {false, true}) {
            const AxisPadding pad = same_padding(I, K, S, D, lower);
            const std::int64_t out = conv_output_size(I, K, S, D, pad);
            const std::int64_t want = brute_force_same_output(I, S);
            if (out != want || out != (I + S - 1) / S)
              BOOST_ERROR("I=" << I << " K=" << K << " S=" << S << " D=" << D << " lower="
                               << lower << ": output " << out << ", want " << want);
          }
}

BOOST_AUTO_TEST_CASE(same_total_padding_is_the_least_that_gives_that_output) {
  for (std::int64_t I = 1; I <= 40; ++I)
    for (std::int64_t K = 1; K <= 8; ++K)
      for (std::int64_t S = 1; S <= 3; ++S)
        for (std::int64_t D = 1; D <= 4; ++D) {
          const AxisPadding upper = same_padding(I, K, S, D, false);
          const AxisPadding lower = same_padding(I, K, S, D, true);
          const std::int64_t total = brute_force_same_total(I, K, S, D);
          const std::int64_t formula =
              std::max<std::int64_t>(((I + S - 1) / S - 1) * S + effective_kernel(K, D) - I, 0);
          if (upper.before + upper.after != total || lower.before + lower.after != total ||
              total != formula)
            BOOST_ERROR("I=" << I << " K=" << K << " S=" << S << " D=" << D << ": same "
                             << upper.before << "+" << upper.after << ", same_lower "
                             << lower.before << "+" << lower.after << ", brute force total "
                             << total << ", formula " << formula);
          // SAME_UPPER: floor(T/2) before; SAME_LOWER: the extra pixel before.
          if (upper.before != total / 2 || lower.before != total - total / 2)
            BOOST_ERROR("I=" << I << " K=" << K << " S=" << S << " D=" << D
                             << ": wrong split of " << total);
        }
}

BOOST_AUTO_TEST_CASE(same_padding_puts_extra_pixel_after) {
  BOOST_TEST((same_padding(8, 2, 1, 1, false) == AxisPadding{0, 1}));
  BOOST_TEST((same_padding(8, 4, 1, 1, false) == AxisPadding{1, 2}));
  BOOST_TEST((same_padding(8, 6, 1, 1, false) == AxisPadding{2, 3}));
  BOOST_TEST((same_padding(8, 3, 2, 1, false) == AxisPadding{0, 1}));  // O=4, T=(3)·2+3−8=1
  BOOST_TEST((same_padding(9, 2, 1, 2, false) == AxisPadding{1, 1}));  // E=3: even T
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(2, 4).padding_same().shape();
  BOOST_TEST(s.pad_top == 0);
  BOOST_TEST(s.pad_bottom == 1);
  BOOST_TEST(s.pad_left == 1);
  BOOST_TEST(s.pad_right == 2);
  BOOST_TEST(s.out_h == 8);
  BOOST_TEST(s.out_w == 8);
}

BOOST_AUTO_TEST_CASE(same_lower_puts_extra_pixel_before) {
  BOOST_TEST((same_padding(8, 2, 1, 1, true) == AxisPadding{1, 0}));
  BOOST_TEST((same_padding(8, 4, 1, 1, true) == AxisPadding{2, 1}));
  BOOST_TEST((same_padding(8, 6, 1, 1, true) == AxisPadding{3, 2}));
  BOOST_TEST((same_padding(8, 3, 2, 1, true) == AxisPadding{1, 0}));
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(2, 4).padding_same_lower().shape();
  BOOST_TEST(s.pad_top == 1);
  BOOST_TEST(s.pad_bottom == 0);
  BOOST_TEST(s.pad_left == 2);
  BOOST_TEST(s.pad_right == 1);
  BOOST_TEST(s.out_h == 8);
  BOOST_TEST(s.out_w == 8);
}

BOOST_AUTO_TEST_CASE(odd_kernel_with_stride_1_pads_symmetrically_in_both_modes) {
  for (std::int64_t K : {1, 3, 5, 7, 9, 11})
    for (std::int64_t D = 1; D <= 4; ++D)
      for (std::int64_t I : {1, 2, 7, 8, 32}) {
        const std::int64_t half = (effective_kernel(K, D) - 1) / 2;
        BOOST_TEST((same_padding(I, K, 1, D, false) == AxisPadding{half, half}),
                   "K=" << K << " D=" << D << " I=" << I);
        BOOST_TEST((same_padding(I, K, 1, D, true) == AxisPadding{half, half}),
                   "K=" << K << " D=" << D << " I=" << I);
      }
}

BOOST_AUTO_TEST_CASE(even_kernel_with_stride_1_pads_one_more_on_one_side) {
  for (std::int64_t K : {2, 4, 6, 8, 10})
    for (std::int64_t I : {1, 5, 8, 13}) {
      const std::int64_t T = K - 1;  // D = 1
      BOOST_TEST((same_padding(I, K, 1, 1, false) == AxisPadding{T / 2, T / 2 + 1}));
      BOOST_TEST((same_padding(I, K, 1, 1, true) == AxisPadding{T / 2 + 1, T / 2}));
    }
  // Dilation 2 makes an even kernel's extent odd: symmetric again.
  BOOST_TEST((same_padding(10, 2, 1, 2, false) == AxisPadding{1, 1}));
  BOOST_TEST((same_padding(10, 4, 1, 2, true) == AxisPadding{3, 3}));
}

BOOST_AUTO_TEST_CASE(same_padding_is_never_negative) {
  // The stride covers more than the kernel: no padding needed (T would be negative).
  BOOST_TEST((same_padding(7, 1, 5, 1, false) == AxisPadding{0, 0}));  // (2−1)·5 + 1 − 7 = −1
  BOOST_TEST((same_padding(8, 2, 2, 1, false) == AxisPadding{0, 0}));  // (4−1)·2 + 2 − 8 = 0
  BOOST_TEST((same_padding(10, 1, 3, 1, true) == AxisPadding{0, 0}));
  const ConvShape s = ConvCase().input(7, 7, 1).kernel(1).stride(5).padding_same().shape();
  BOOST_TEST(s.out_h == 2);
  BOOST_TEST(s.pad_top + s.pad_bottom == 0);
}

BOOST_AUTO_TEST_CASE(same_padding_lets_a_kernel_larger_than_the_input_fit) {
  // I=2, K=5: O = 2, T = 1 + 5 − 2 = 4.
  BOOST_TEST((same_padding(2, 5, 1, 1, false) == AxisPadding{2, 2}));
  const ConvShape s = ConvCase().input(2, 3, 1).kernel(5).padding_same().shape();
  BOOST_TEST(s.out_h == 2);
  BOOST_TEST(s.out_w == 3);
  BOOST_TEST(s.pad_top == 2);
  BOOST_TEST(s.pad_left == 2);
  // With 'valid' the same kernel is an error.
  BOOST_CHECK_THROW(ConvCase().input(2, 3, 1).kernel(5).shape(), convjit::Error);
}

BOOST_AUTO_TEST_CASE(same_with_stride_1_centres_odd_windows_on_their_output_pixel) {
  for (std::int64_t K : {1, 3, 5, 7})
    for (std::int64_t D : {1, 2, 3}) {
      const ConvShape s = ConvCase().input(16, 16, 1).kernel(K).dilation(D).padding_same().shape();
      for (std::int64_t o = 0; o < s.out_h; ++o) {
        const std::int64_t first = o - s.pad_top;  // input row of tap 0
        const std::int64_t centre = first + D * (K - 1) / 2;
        BOOST_TEST(centre == o, "K=" << K << " D=" << D << " o=" << o);
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(explicit_padding)

BOOST_AUTO_TEST_CASE(symmetric_padding_adds_twice_the_pad) {
  const ConvShape s = ConvCase().input(8, 10, 1).kernel(3).padding(2).shape();
  BOOST_TEST(s.out_h == 10);  // 8 + 4 − 3 + 1
  BOOST_TEST(s.out_w == 12);
  const ConvShape t = ConvCase().input(8, 10, 1).kernel(3).padding(1, 0).shape();
  BOOST_TEST(t.out_h == 8);
  BOOST_TEST(t.out_w == 8);
}

BOOST_AUTO_TEST_CASE(asymmetric_padding_counts_each_side) {
  for (auto [pt, pb] : std::vector<std::pair<std::int64_t, std::int64_t>>{
           {2, 0}, {0, 2}, {3, 1}, {1, 3}, {0, 5}, {4, 0}}) {
    const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).stride(2).padding(pt, pb, pb, pt).shape();
    BOOST_TEST(s.pad_top == pt);
    BOOST_TEST(s.pad_bottom == pb);
    BOOST_TEST(s.pad_left == pb);
    BOOST_TEST(s.pad_right == pt);
    BOOST_TEST(s.out_h == brute_force_output(8, 3, 2, 1, pt, pb));
    BOOST_TEST(s.out_w == brute_force_output(8, 3, 2, 1, pb, pt));
  }
}

BOOST_AUTO_TEST_CASE(padding_wider_than_the_kernel_is_kept_not_clamped) {
  // Border outputs see only padding; nothing is silently clamped.
  const ConvShape s = ConvCase().input(4, 4, 1).kernel(3).padding(5).shape();
  BOOST_TEST(s.pad_top == 5);
  BOOST_TEST(s.out_h == 12);  // 4 + 10 − 3 + 1
  BOOST_TEST(s.out_h == brute_force_output(4, 3, 1, 1, 5, 5));
}

BOOST_AUTO_TEST_CASE(padding_alone_can_make_a_large_kernel_fit) {
  const ConvShape s = ConvCase().input(1, 1, 1).kernel(3).padding(1).shape();
  BOOST_TEST(s.out_h == 1);
  BOOST_TEST(s.out_w == 1);
  BOOST_CHECK_THROW(ConvCase().input(1, 1, 1).kernel(3).padding(1, 0, 1, 1).shape(), convjit::Error);
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(resolve_cross_check)

BOOST_AUTO_TEST_CASE(resolve_agrees_with_brute_force_for_every_padding_kind) {
  struct Pads { PaddingMode mode; std::int64_t t, b, l, r; };
  const std::vector<Pads> kinds = {
      {PaddingMode::valid, 0, 0, 0, 0},       {PaddingMode::same, 0, 0, 0, 0},
      {PaddingMode::same_lower, 0, 0, 0, 0},  {PaddingMode::explicit_pads, 1, 1, 1, 1},
      {PaddingMode::explicit_pads, 2, 1, 0, 3}, {PaddingMode::explicit_pads, 0, 4, 2, 0}};
  int resolved = 0, rejected = 0;
  for (std::int64_t h = 1; h <= 12; ++h)
    for (std::int64_t k = 1; k <= 5; ++k)
      for (std::int64_t s = 1; s <= 3; ++s)
        for (std::int64_t d = 1; d <= 4; ++d)
          for (const Pads& p : kinds) {
            ConvSpec spec;
            spec.c = spec.oc = 1;
            spec.h = h;
            spec.w = h + 3;
            spec.kh = k;
            spec.kw = k;
            spec.sh = s;
            spec.sw = 1;
            spec.dh = d;
            spec.dw = 1;
            spec.padding = p.mode;
            spec.pad_top = p.t; spec.pad_bottom = p.b; spec.pad_left = p.l; spec.pad_right = p.r;
            std::int64_t pt = p.t, pb = p.b, pl = p.l, pr = p.r;
            if (p.mode == PaddingMode::valid) pt = pb = pl = pr = 0;
            if (p.mode == PaddingMode::same || p.mode == PaddingMode::same_lower) {
              const std::int64_t th = brute_force_same_total(h, k, s, d);
              const std::int64_t tw = brute_force_same_total(h + 3, k, 1, 1);
              const bool lower = p.mode == PaddingMode::same_lower;
              pt = lower ? th - th / 2 : th / 2;
              pb = th - pt;
              pl = lower ? tw - tw / 2 : tw / 2;
              pr = tw - pl;
            }
            const std::int64_t want_h = brute_force_output(h, k, s, d, pt, pb);
            const std::int64_t want_w = brute_force_output(h + 3, k, 1, 1, pl, pr);
            const std::string where = spec.to_string();
            if (want_h == 0 || want_w == 0) {
              ++rejected;
              BOOST_CHECK_EXCEPTION(spec.resolve(), convjit::Error, [&](const convjit::Error& e) {
                const bool ok = e.field() == (want_h == 0 ? "kh" : "kw");
                if (!ok) BOOST_TEST_MESSAGE(where << ": field " << e.field());
                return ok;
              });
              continue;
            }
            ++resolved;
            const ConvShape shape = spec.resolve();
            if (shape.out_h != want_h || shape.out_w != want_w || shape.pad_top != pt ||
                shape.pad_bottom != pb || shape.pad_left != pl || shape.pad_right != pr)
              BOOST_ERROR(where << " resolved to " << shape.to_string() << " out " << shape.out_h
                                << "x" << shape.out_w << ", brute force " << want_h << "x"
                                << want_w << " pads " << pt << "," << pb << "," << pl << ","
                                << pr);
          }
  BOOST_TEST(resolved > 1000);
  BOOST_TEST(rejected > 50);
}

BOOST_AUTO_TEST_CASE(random_shapes_resolve_to_brute_force_sizes) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 500; ++i) {
    const ConvShape s = convjit::testing::random_shape(rng);
    BOOST_TEST(s.out_h == brute_force_output(s.h, s.kh, s.sh, s.dh, s.pad_top, s.pad_bottom),
               s.to_string());
    BOOST_TEST(s.out_w == brute_force_output(s.w, s.kw, s.sw, s.dw, s.pad_left, s.pad_right),
               s.to_string());
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(params_and_flops)

BOOST_AUTO_TEST_CASE(keras_3x3_single_channel_conv_has_10_params) {
  const ConvShape s = ConvCase().input(8, 8, 1).output_channels(1).kernel(3).shape();
  BOOST_TEST(s.weight_elems() == 9);
  BOOST_TEST(s.bias_elems() == 1);
  BOOST_TEST(s.params() == 10);
}

BOOST_AUTO_TEST_CASE(params_without_bias_are_the_weights_only) {
  const ConvShape s = ConvCase().input(8, 8, 1).kernel(3).bias(false).shape();
  BOOST_TEST(s.params() == 9);
  BOOST_TEST(s.bias_elems() == 0);
}

BOOST_AUTO_TEST_CASE(keras_summary_param_counts) {
  // LeNet C1: 5·5·1·6 + 6; a ResNet 3×3 64→64: 3·3·64·64 + 64; ResNet conv1 without bias.
  BOOST_TEST(ConvCase().input(32, 32, 1).output_channels(6).kernel(5).shape().params() == 156);
  BOOST_TEST(ConvCase().input(56, 56, 64).output_channels(64).kernel(3).shape().params() == 36928);
  BOOST_TEST(ConvCase().input(224, 224, 3).output_channels(64).kernel(7).bias(false).shape().params() ==
             9408);
  // Seven 5×5 layers of 3 → 3 channels: 7 · (5·5·3·3 + 3).
  std::int64_t total = 0, size = 32;
  for (int i = 0; i < 7; ++i) {
    const ConvShape s = ConvCase().input(size, size, 3).output_channels(3).kernel(5).shape();
    total += s.params();
    size = s.out_h;
  }
  BOOST_TEST(total == 7 * 228);
}

BOOST_AUTO_TEST_CASE(groups_divide_the_weights) {
  // Depthwise 3×3 over 32 channels (Keras DepthwiseConv2D): 3·3·32 + 32.
  BOOST_TEST(ConvCase().input(8, 8, 32).kernel(3).depthwise().shape().params() == 320);
  // 4 groups of 16 → 16: 3·3·16·64 + 64.
  BOOST_TEST(ConvCase().input(8, 8, 64).output_channels(64).kernel(3).groups(4).shape().params() ==
             9280);
  // Channel multiplier 2: 3·3·1·64 + 64.
  BOOST_TEST(ConvCase().input(8, 8, 32).output_channels(64).kernel(3).groups(32).shape().params() ==
             640);
}

BOOST_AUTO_TEST_CASE(flops_count_two_per_multiply_add_including_padded_taps) {
  BOOST_TEST(ConvCase().input(8, 8, 1).kernel(3).shape().flops() == 648.0);                 // 2·36·9
  BOOST_TEST(ConvCase().input(8, 8, 1).kernel(3).padding_same().shape().flops() == 1152.0);  // 2·64·9
  BOOST_TEST(ConvCase().input(56, 56, 64).output_channels(64).kernel(3).padding(1).shape().flops() ==
             231211008.0);  // 2·56·56·64·64·9
  BOOST_TEST(ConvCase().input(8, 8, 32).kernel(3).depthwise().padding(1).shape().flops() ==
             2.0 * 64 * 32 * 9);
}

BOOST_AUTO_TEST_CASE(flops_scale_with_batch) {
  const ConvShape one = ConvCase().input(28, 28, 64).output_channels(64).kernel(3).padding(1).shape();
  const ConvShape eight =
      ConvCase().batch(8).input(28, 28, 64).output_channels(64).kernel(3).padding(1).shape();
  BOOST_TEST(eight.flops() == 8 * one.flops());
}

BOOST_AUTO_TEST_CASE(flops_match_counted_multiply_adds_on_random_shapes) {
  std::mt19937_64 rng(22);
  for (int i = 0; i < 200; ++i) {
    const ConvShape s = convjit::testing::random_shape(rng);
    // Count the multiply-adds of the reference loop nest (padded taps included).
    double macs = 0;
    for (std::int64_t b = 0; b < s.n; ++b)
      for (std::int64_t oh = 0; oh < s.out_h; ++oh)
        for (std::int64_t ow = 0; ow < s.out_w; ++ow)
          for (std::int64_t o = 0; o < s.oc; ++o) macs += static_cast<double>(s.kh * s.kw * s.c / s.groups);
    BOOST_TEST(s.flops() == 2 * macs, s.to_string());
  }
}

BOOST_AUTO_TEST_SUITE_END()
