// Residual add (spec key add=1): dst = act(conv(src) + bias + residual), fused into the store
// of every backend and strategy, with the residual beside dst or dst itself.
#define BOOST_TEST_MODULE residual_add
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <random>

using namespace convjit;
using namespace convjit::testing;

BOOST_AUTO_TEST_SUITE(residual_add)

BOOST_AUTO_TEST_CASE(every_backend_adds_the_residual_on_random_shapes) {
  RandomShapeLimits limits;
  limits.max_flops = 4e5;
  std::mt19937_64 rng(4242);
  for (int i = 0; i < 150; ++i) {
    const ConvShape s = with_residual(random_shape(rng, limits));
    for (const JitTarget& target : all_targets()) check_backend_matches_reference(s, target, i);
  }
}

BOOST_AUTO_TEST_CASE(every_strategy_and_tail_adds_the_residual) {
  for (const char* spec : {
           "c=64,h=14,w=14,oc=64,k=3,p=same,act=relu",         // oc vectors, whole blocks
           "c=5,h=9,w=11,oc=21,k=3,p=1",                       // oc vectors, channel tail
           "c=24,h=9,w=9,oc=24,g=24,k=3,p=1,act=clamp:-0.5:0.5",  // depthwise with a tail
           "c=3,h=13,w=29,oc=5,k=3,p=same,layout=nchw",        // width vectors, column tail
           "c=2,h=13,w=29,oc=3,k=3,s=2,p=same,layout=nchw",    // width vectors, gathered
           "c=1,h=8,w=8,oc=1,k=3",                             // nhwc c = oc = 1
           "c=256,h=7,w=7,oc=24,k=1,bias=0",                   // looped input channels
           "n=3,c=8,h=5,w=7,oc=9,k=3,p=1",                     // a batch
       }) {
    const ConvShape s = with_residual(ConvSpec::parse(spec).resolve());
    for (const JitTarget& target : all_targets()) check_backend_matches_reference(s, target, 7);
  }
}

BOOST_AUTO_TEST_CASE(accumulating_in_place_equals_a_separate_residual) {
  for (const char* spec : {"c=16,h=10,w=10,oc=16,k=3,p=same,act=relu,add=1",
                           "c=7,h=9,w=9,oc=7,g=7,k=3,p=1,add=1",
                           "c=3,h=9,w=19,oc=4,k=3,layout=nchw,add=1",
                           "n=2,c=6,h=6,w=6,oc=10,k=3,p=1,add=1,dst_stride=16"}) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    for (const JitTarget& target : all_targets()) {
      Jit jit(target.options());
      auto kernel = jit.get(s);
      const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
      const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
      const auto residual = random_floats(static_cast<std::size_t>(s.dst_elems()), 3);
      const PackedWeights packed = kernel->pack_weights(w.data(), nullptr);
      std::vector<float> apart(residual.size(), 0.0f);
      kernel->run(src.data(), packed, apart.data(), RunOptions{.residual = residual.data()});
      std::vector<float> in_place = residual;
      kernel->run(src.data(), packed, in_place.data(), RunOptions{.residual = in_place.data()});
      for (std::size_t i = 0; i < apart.size(); ++i)
        if (!is_output_element(s, static_cast<std::int64_t>(i))) apart[i] = residual[i];
      BOOST_TEST(std::memcmp(apart.data(), in_place.data(), apart.size() * sizeof(float)) == 0,
                 spec << " " << target.name());
    }
  }
}

BOOST_AUTO_TEST_CASE(the_residual_is_added_before_the_activation) {
  // 1x1 kernel, weight 1, no bias: dst = relu(src + residual) exactly.
  const ConvShape s = ConvSpec::parse("c=1,h=1,w=4,oc=1,k=1,bias=0,act=relu,add=1").resolve();
  const float src[] = {1.0f, -1.0f, 2.0f, -3.0f}, weight = 1.0f;
  const float residual[] = {-2.0f, 2.0f, -1.0f, 1.0f};
  for (const JitTarget& target : all_targets()) {
    Jit jit(target.options());
    auto kernel = jit.get(s);
    float dst[4] = {};
    kernel->run(src, kernel->pack_weights(&weight, nullptr), dst, RunOptions{.residual = residual});
    BOOST_TEST(dst[0] == 0.0f);
    BOOST_TEST(dst[1] == 1.0f);
    BOOST_TEST(dst[2] == 1.0f);
    BOOST_TEST(dst[3] == 0.0f);
  }
}

BOOST_AUTO_TEST_CASE(add_zero_kernels_are_the_kernels_they_were) {
  // add=0 and add=1 are different kernels (the cache keeps both), and their names say it.
  Jit jit;
  const ConvShape plain = ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3").resolve();
  auto a = jit.get(plain), b = jit.get(with_residual(plain));
  BOOST_TEST(a.get() != b.get());
  BOOST_TEST(a->name().find("_add") == std::string::npos);
  BOOST_TEST(b->name().find("_add") != std::string::npos);
  BOOST_TEST(jit.stats().misses == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
