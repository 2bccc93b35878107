// The test support library itself: every differential suite relies on it, so it is pinned
// here (random data, layout transforms, random shapes, tolerance, the builder, the shape
// list and the backend-vs-reference check, exercised with the reference backend).
#define BOOST_TEST_MODULE test_support
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <map>
#include <set>

#include <unistd.h>

using namespace convjit;
using namespace convjit::testing;

namespace {

std::vector<float> iota_floats(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_values)

BOOST_AUTO_TEST_CASE(random_floats_are_uniform_in_minus_one_to_one) {
  const auto v = random_floats(100000, 7);
  BOOST_TEST(v.size() == 100000u);
  double sum = 0, lo = 2, hi = -2;
  for (float x : v) {
    lo = std::min<double>(lo, x);
    hi = std::max<double>(hi, x);
    sum += x;
  }
  BOOST_TEST(lo >= -1.0);
  BOOST_TEST(hi <= 1.0);
  BOOST_TEST(lo < -0.99);
  BOOST_TEST(hi > 0.99);
  BOOST_TEST(std::abs(sum / v.size()) < 0.02);
}

BOOST_AUTO_TEST_CASE(random_floats_are_deterministic_per_seed) {
  BOOST_TEST(random_floats(64, 1) == random_floats(64, 1));
  BOOST_TEST(random_floats(64, 1) != random_floats(64, 2));
  // A prefix does not depend on the length asked for.
  const auto long_run = random_floats(64, 3);
  const auto short_run = random_floats(16, 3);
  BOOST_TEST(std::equal(short_run.begin(), short_run.end(), long_run.begin()));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(layout_transforms)

BOOST_AUTO_TEST_CASE(nhwc_to_nchw_moves_channels_outermost) {
  // n=1, h=2, w=3, c=2: NHWC element (y, x, ch) has value (y*3 + x)*2 + ch.
  const auto nchw = nhwc_to_nchw(iota_floats(12), 1, 2, 3, 2);
  const std::vector<float> expected = {0, 2, 4, 6, 8, 10,   // channel 0
                                       1, 3, 5, 7, 9, 11};  // channel 1
  BOOST_TEST(nchw == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(activation_transforms_are_inverse) {
  const auto data = random_floats(2 * 3 * 4 * 5, 11);
  BOOST_TEST(nchw_to_nhwc(nhwc_to_nchw(data, 2, 3, 4, 5), 2, 5, 3, 4) == data);
  BOOST_TEST(nhwc_to_nchw(nchw_to_nhwc(data, 2, 5, 3, 4), 2, 3, 4, 5) == data);
}

BOOST_AUTO_TEST_CASE(src_and_dst_transforms_use_the_shapes_sizes) {
  const ConvShape s = ConvCase().batch(2).input(5, 4, 3).output_channels(6).kernel(2).shape();
  const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
  const auto dst = random_floats(static_cast<std::size_t>(s.dst_elems()), 2);
  BOOST_TEST(src_nhwc_to_nchw(s, src) == nhwc_to_nchw(src, 2, 5, 4, 3));
  BOOST_TEST(src_nchw_to_nhwc(s, src_nhwc_to_nchw(s, src)) == src);
  BOOST_TEST(dst_nhwc_to_nchw(s, dst) == nhwc_to_nchw(dst, 2, 4, 3, 6));
  BOOST_TEST(dst_nchw_to_nhwc(s, dst_nhwc_to_nchw(s, dst)) == dst);
  BOOST_CHECK_THROW(src_nhwc_to_nchw(s, dst), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(weight_transforms_follow_hwio_and_oihw_with_groups) {
  // kh=1, kw=2, c=4, g=2 (I = 2), oc=2: HWIO [1][2][2][2], OIHW [2][2][1][2].
  const ConvShape s = ConvCase().input(3, 3, 4).output_channels(2).kernel(1, 2).groups(2).shape();
  BOOST_TEST(s.weight_elems() == 8);
  // HWIO index ((y*kw + x)*I + i)*oc + o  ->  OIHW index ((o*I + i)*kh + y)*kw + x
  const auto oihw = hwio_to_oihw(s, iota_floats(8));
  const std::vector<float> expected = {0, 4, 2, 6,   // o=0: (i=0: x=0,1), (i=1: x=0,1)
                                       1, 5, 3, 7};  // o=1
  BOOST_TEST(oihw == expected, boost::test_tools::per_element());
  const auto w = random_floats(8, 4);
  BOOST_TEST(oihw_to_hwio(s, hwio_to_oihw(s, w)) == w);
}

BOOST_AUTO_TEST_CASE(weight_transforms_are_inverse_on_random_shapes) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100; ++i) {
    const ConvShape s = random_shape(rng);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i);
    BOOST_TEST(oihw_to_hwio(s, hwio_to_oihw(s, w)) == w, s.to_string());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(random_shapes)

BOOST_AUTO_TEST_CASE(random_shapes_resolve_within_the_default_limits) {
  std::mt19937_64 rng(1);
  const RandomShapeLimits lim;
  for (int i = 0; i < 1000; ++i) {
    const ConvShape s = random_shape(rng);
    BOOST_TEST_CONTEXT(s.to_string()) {
      BOOST_TEST(s.flops() <= lim.max_flops);
      BOOST_TEST((s.h >= 1 && s.h <= 64 && s.w >= 1 && s.w <= 64));
      BOOST_TEST((s.c >= 1 && s.c <= 70 && s.oc >= 1 && s.oc <= 70));
      BOOST_TEST((s.kh >= 1 && s.kh <= 11 && s.kw >= 1 && s.kw <= 11));
      BOOST_TEST((s.sh >= 1 && s.sh <= 4 && s.sw >= 1 && s.sw <= 4));
      BOOST_TEST((s.dh >= 1 && s.dh <= 6 && s.dw >= 1 && s.dw <= 6));
      BOOST_TEST((s.out_h >= 1 && s.out_w >= 1));
      BOOST_TEST(s.c % s.groups == 0);
      BOOST_TEST(s.oc % s.groups == 0);
      // The canonical string parses back to the same shape.
      BOOST_TEST((ConvSpec::parse(s.to_string()).resolve() == s));
    }
  }
}

BOOST_AUTO_TEST_CASE(random_shapes_cover_every_kind) {
  std::mt19937_64 rng(2);
  std::set<std::string> seen;
  for (int i = 0; i < 3000; ++i) {
    const ConvShape s = random_shape(rng);
    seen.insert(s.layout == Layout::nhwc ? "nhwc" : "nchw");
    seen.insert(s.bias ? "bias" : "no bias");
    seen.insert(std::string("act ") + std::string(to_string(s.act).substr(0, 5)));
    if (s.groups == 1) seen.insert("dense");
    if (s.is_depthwise()) seen.insert("depthwise");
    if (s.groups > 1 && s.groups == s.c && s.oc > s.c) seen.insert("channel multiplier");
    if (s.groups > 1 && s.groups < s.c) seen.insert("grouped");
    if (s.n > 1) seen.insert("batch");
    if (s.sh > 1 || s.sw > 1) seen.insert("stride");
    if (s.sh != s.sw) seen.insert("unequal strides");
    if (s.dh > 1 || s.dw > 1) seen.insert("dilation");
    if (s.kh != s.kw) seen.insert("rectangular kernel");
    if (s.kh == 1 && s.kw == 1) seen.insert("1x1");
    if (s.kh == 11 || s.kw == 11) seen.insert("kernel 11");
    if (s.pad_top + s.pad_bottom + s.pad_left + s.pad_right == 0) seen.insert("no padding");
    if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) seen.insert("asymmetric pads");
    if (s.pad_top > 0 && s.pad_top == s.pad_bottom && s.pad_top == s.pad_left &&
        s.pad_top == s.pad_right)
      seen.insert("symmetric pads");
    if (s.pad_top >= effective_kernel(s.kh, s.dh) || s.pad_left >= effective_kernel(s.kw, s.dw))
      seen.insert("output entirely in padding");
    if (s.out_h == 1 && s.out_w == 1) seen.insert("1x1 output");
    if (s.h >= 48 && s.w >= 48) seen.insert("large image");
    if (s.c >= 48 || s.oc >= 48) seen.insert("many channels");
  }
  for (const char* kind :
       {"nhwc", "nchw", "bias", "no bias", "act none", "act relu", "act clamp", "act leaky",
        "act hards", "act silu", "act sigmo", "dense",
        "depthwise", "channel multiplier", "grouped", "batch", "stride", "unequal strides",
        "dilation", "rectangular kernel", "1x1", "kernel 11", "no padding", "asymmetric pads",
        "symmetric pads", "output entirely in padding", "1x1 output", "large image",
        "many channels"})
    BOOST_TEST(seen.count(kind) == 1u, "never drew: " << kind);
}

BOOST_AUTO_TEST_CASE(random_shapes_honour_tightened_limits) {
  std::mt19937_64 rng(3);
  RandomShapeLimits lim;
  lim.max_flops = 1e4;
  lim.max_spatial = 10;
  lim.allow_groups = false;
  lim.allow_activation = false;
  lim.layout = Layout::nchw;
  lim.bias = false;
  for (int i = 0; i < 300; ++i) {
    const ConvShape s = random_shape(rng, lim);
    BOOST_TEST_CONTEXT(s.to_string()) {
      BOOST_TEST(s.flops() <= 1e4);
      BOOST_TEST((s.h <= 10 && s.w <= 10));
      BOOST_TEST(s.groups == 1);
      BOOST_TEST((s.act.kind == ActivationKind::none));
      BOOST_TEST((s.layout == Layout::nchw));
      BOOST_TEST(!s.bias);
    }
  }
}

BOOST_AUTO_TEST_CASE(random_shapes_are_deterministic_per_seed) {
  std::mt19937_64 a(9), b(9);
  for (int i = 0; i < 50; ++i) BOOST_TEST((random_shape(a) == random_shape(b)));
}

BOOST_AUTO_TEST_CASE(impossible_limits_throw_instead_of_looping) {
  std::mt19937_64 rng(4);
  RandomShapeLimits lim;
  lim.max_flops = 1;  // below the 2 flops of the smallest convolution
  lim.max_attempts = 100;
  BOOST_CHECK_THROW(random_shape(rng, lim), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_bounds)

BOOST_AUTO_TEST_CASE(tolerance_grows_with_accumulation_length) {
  const ConvShape small = ConvCase().input(8, 8, 1).kernel(3).shape();
  const ConvShape medium = ConvCase().input(8, 8, 64).kernel(3).shape();
  const ConvShape large = ConvCase().input(16, 16, 64).kernel(11).shape();
  BOOST_TEST(accumulation_length(small) == 9);
  BOOST_TEST(accumulation_length(medium) == 576);
  BOOST_TEST(accumulation_length(large) == 7744);
  BOOST_TEST(tolerance(small) > 0.0);
  BOOST_TEST(tolerance(small) < 1e-5);
  BOOST_TEST(tolerance(small) < tolerance(medium));
  BOOST_TEST(tolerance(medium) < tolerance(large));
  BOOST_TEST(tolerance(medium) < 0.01);  // well below one wrong tap (~0.25 on average)
}

BOOST_AUTO_TEST_CASE(tolerance_depends_on_channels_per_group) {
  const ConvShape dense = ConvCase().input(8, 8, 32).output_channels(32).kernel(3).shape();
  const ConvShape depthwise = ConvCase().input(8, 8, 32).kernel(3).depthwise().shape();
  BOOST_TEST(accumulation_length(depthwise) == 9);
  BOOST_TEST(tolerance(depthwise) < tolerance(dense));
}

BOOST_AUTO_TEST_CASE(tolerance_covers_float_accumulation_in_any_order) {
  // Sum in float, forwards and backwards, against a double sum: the bound must hold.
  for (std::int64_t c : {1, 7, 64, 300}) {
    const ConvShape s = ConvCase().input(3, 3, c).kernel(3).shape();
    const auto n = static_cast<std::size_t>(accumulation_length(s));
    double worst = 0;
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
      const auto x = random_floats(n, seed), w = random_floats(n, seed + 1000);
      double exact = 0;
      float forward = 0, backward = 0;
      for (std::size_t i = 0; i < n; ++i) {
        exact += static_cast<double>(x[i]) * w[i];
        forward = std::fma(x[i], w[i], forward);
        backward += x[n - 1 - i] * w[n - 1 - i];
      }
      worst = std::max({worst, static_cast<double>(std::abs(forward - static_cast<float>(exact))),
                        static_cast<double>(std::abs(backward - static_cast<float>(exact)))});
    }
    BOOST_TEST(worst <= tolerance(s), "c=" << c << " worst " << worst);
  }
}

BOOST_AUTO_TEST_CASE(max_abs_error_finds_the_largest_difference) {
  BOOST_TEST(max_abs_error({1, 2, 3}, {1, 2, 3}) == 0.0);
  BOOST_TEST(max_abs_error({1, 2, 3}, {1, 2.5f, 2}) == 1.0);
  BOOST_TEST(max_abs_error({-1}, {1}) == 2.0);
}

BOOST_AUTO_TEST_CASE(max_abs_error_is_infinite_for_nan_or_size_mismatch) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  BOOST_TEST(std::isinf(max_abs_error({1, nan}, {1, 2})));
  BOOST_TEST(std::isinf(max_abs_error({1, 2}, {1, nan})));
  BOOST_TEST(std::isinf(max_abs_error({nan}, {nan})));
  BOOST_TEST(std::isinf(max_abs_error({1, 2}, {1, 2, 3})));
  BOOST_TEST(max_abs_error({inf}, {inf}) == 0.0);
  BOOST_TEST(std::isinf(max_abs_error({inf}, {1})));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(conv_case_builder)

BOOST_AUTO_TEST_CASE(builder_defaults_to_a_1x1_dense_convolution) {
  const ConvShape s = ConvCase().shape();
  BOOST_TEST(s.to_string() == "n=1,c=1,h=1,w=1,oc=1,k=1,pt=0,pb=0,pl=0,pr=0");
}

BOOST_AUTO_TEST_CASE(builder_sets_every_field) {
  const ConvSpec spec = ConvCase()
                            .batch(2)
                            .input(9, 10, 8)
                            .output_channels(4)
                            .kernel(3, 2)
                            .stride(2, 1)
                            .dilation(1, 2)
                            .padding(1, 0, 2, 3)
                            .groups(2)
                            .nchw()
                            .bias(false)
                            .clamp(-1, 6)
                            .spec();
  BOOST_TEST(spec.to_string() ==
             "n=2,c=8,h=9,w=10,oc=4,kh=3,kw=2,sh=2,sw=1,dh=1,dw=2,pt=1,pb=0,pl=2,pr=3,g=2,"
             "layout=nchw,bias=0,act=clamp:-1:6");
  BOOST_TEST(ConvCase().input(8, 8, 1).kernel(3).padding_same().spec().to_string() ==
             "n=1,c=1,h=8,w=8,oc=1,k=3,p=same");
  BOOST_TEST(ConvCase().input(8, 8, 1).kernel(3).padding(1).padding_same_lower().spec().to_string() ==
             "n=1,c=1,h=8,w=8,oc=1,k=3,p=same_lower");
  BOOST_TEST(ConvCase().input(8, 8, 1).kernel(3).padding(1, 2).relu().spec().to_string() ==
             "n=1,c=1,h=8,w=8,oc=1,k=3,pt=1,pb=1,pl=2,pr=2,act=relu");
}

BOOST_AUTO_TEST_CASE(builder_depthwise_uses_the_input_channels) {
  const ConvShape s = ConvCase().input(8, 8, 16).kernel(3).depthwise().shape();
  BOOST_TEST(s.is_depthwise());
  BOOST_TEST(s.groups == 16);
  BOOST_TEST(s.oc == 16);
}

BOOST_AUTO_TEST_CASE(builder_shape_throws_convjit_error_when_invalid) {
  BOOST_CHECK_THROW(ConvCase().input(2, 2, 1).kernel(3).shape(), convjit::Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shapes_file)

BOOST_AUTO_TEST_CASE(bench_shapes_file_loads) {
  const auto shapes = load_shapes_file(shapes_file_path());
  BOOST_TEST(shapes.size() >= 13u);
  std::map<std::string, ConvShape> by_name(shapes.begin(), shapes.end());
  BOOST_TEST(by_name.size() == shapes.size());  // names are unique
  BOOST_REQUIRE(by_name.count("seed_8x8_valid"));
  BOOST_TEST(by_name["seed_8x8_valid"].out_h == 6);
  BOOST_TEST(by_name["seed_8x8_same"].out_h == 8);
  BOOST_TEST(by_name["seed_8x8_s2"].out_w == 3);
  BOOST_TEST(by_name["seed_28_s3_p1"].out_h == 10);
  BOOST_TEST(by_name["lenet_c1"].params() == 156);
  const ConvShape conv1 = by_name["resnet_conv1"];
  BOOST_TEST(conv1.out_h == 112);
  BOOST_TEST(conv1.pad_top == 3);
  BOOST_TEST(conv1.pad_right == 3);
  BOOST_TEST(by_name["dilated_d2_56"].dh == 2);
  BOOST_TEST(by_name["dilated_d2_56"].out_w == 56);
  BOOST_TEST(by_name["batch8_3x3_28"].n == 8);
  for (const auto& [name, s] : shapes) {
    BOOST_TEST((s.layout == Layout::nhwc), name);
    BOOST_TEST(s.bias, name);
  }
}

BOOST_AUTO_TEST_CASE(shapes_file_skips_comments_and_rejects_malformed_lines) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto good = dir / ("convjit_shapes_good_" + std::to_string(::getpid()) + ".txt");
  const auto bad = dir / ("convjit_shapes_bad_" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(good);
    out << "# comment\n\n  one 1 2 5 6 3 3 3 1 1 1 0 1 1   # trailing comment\n"
        << "two 2 4 9 9 8 3 3 2 2 1 1 2 2\n";
  }
  {
    std::ofstream out(bad);
    out << "ok 1 1 8 8 1 3 3 1 1 0 0 1 1\nshort 1 1 8 8 1 3\n";
  }
  const auto shapes = load_shapes_file(good.string());
  BOOST_REQUIRE(shapes.size() == 2u);
  BOOST_TEST(shapes[0].first == "one");
  BOOST_TEST(shapes[0].second.to_string() == "n=1,c=2,h=5,w=6,oc=3,k=3,pt=1,pb=1,pl=0,pr=0");
  BOOST_TEST(shapes[1].second.out_h == 4);  // (9 + 2 - 5) / 2 + 1
  BOOST_CHECK_THROW(load_shapes_file(bad.string()), std::runtime_error);
  BOOST_CHECK_THROW(load_shapes_file((dir / "convjit_no_such_file.txt").string()),
                    std::runtime_error);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backend_check)

BOOST_AUTO_TEST_CASE(reference_backend_matches_reference_on_random_shapes) {
  std::mt19937_64 rng(6);
  for (std::uint64_t i = 0; i < 40; ++i)
    check_backend_matches_reference(random_shape(rng), Backend::reference, i);
}

BOOST_AUTO_TEST_CASE(reference_backend_matches_bench_seed_shapes) {
  for (const auto& [name, s] : load_shapes_file(shapes_file_path()))
    if (s.flops() < 2e6) check_backend_matches_reference(s, Backend::reference, 1);
}

BOOST_AUTO_TEST_CASE(comparison_reports_exact_agreement_and_intact_guards) {
  const ConvShape s = ConvCase().input(8, 8, 3).output_channels(5).kernel(3).padding_same().shape();
  const Comparison r = compare_backend_with_reference(s, Backend::reference, 42);
  BOOST_TEST(r.ok());
  BOOST_TEST(r.guards_intact);
  BOOST_TEST(r.max_error == 0.0);
  BOOST_TEST(r.tolerance == tolerance(s));
}

BOOST_AUTO_TEST_SUITE_END()
