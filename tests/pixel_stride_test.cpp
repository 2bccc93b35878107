// Pixel strides (spec keys src_stride, dst_stride): a layer reads a channel slice of a wider
// NHWC input and writes into a slice of a concatenated output, touching nothing between the
// slices.
#define BOOST_TEST_MODULE pixel_strides
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <random>

using namespace convjit;
using namespace convjit::testing;

BOOST_AUTO_TEST_SUITE(pixel_strides)

BOOST_AUTO_TEST_CASE(every_backend_matches_the_reference_on_random_strided_shapes) {
  RandomShapeLimits limits;
  limits.max_flops = 4e5;
  limits.layout = Layout::nhwc;
  std::mt19937_64 rng(777);
  for (int i = 0; i < 200; ++i) {
    const ConvShape s = with_random_engine_options(random_shape(rng, limits), rng);
    for (const JitTarget& target : all_targets()) check_backend_matches_reference(s, target, i);
  }
}

BOOST_AUTO_TEST_CASE(every_strategy_reads_and_writes_slices) {
  for (const char* spec : {
           "c=64,h=14,w=14,oc=64,k=3,p=same,src_stride=256,dst_stride=256",
           "c=5,h=9,w=11,oc=21,k=3,p=1,src_stride=7,dst_stride=29",
           "c=24,h=9,w=9,oc=24,g=24,k=3,p=1,src_stride=40,dst_stride=33",
           "c=1,h=8,w=8,oc=1,k=3,src_stride=3,dst_stride=2",  // no longer width vectors
           "c=256,h=7,w=7,oc=24,k=1,src_stride=512",
           "n=3,c=8,h=5,w=7,oc=9,k=3,s=2,p=1,dst_stride=18",
       }) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    for (const JitTarget& target : all_targets()) check_backend_matches_reference(s, target, 5);
  }
}

BOOST_AUTO_TEST_CASE(two_layers_write_a_concatenation_in_place) {
  // Inception-style: two convolutions of one input write channels [0, 24) and [24, 64) of
  // one 64-channel output; the result equals the two outputs concatenated.
  const ConvShape a = ConvSpec::parse("c=16,h=9,w=9,oc=24,k=3,p=same,dst_stride=64").resolve();
  const ConvShape b = ConvSpec::parse("c=16,h=9,w=9,oc=40,k=1,dst_stride=64").resolve();
  const ConvShape a_dense = with_pixel_strides(a, 0, 0), b_dense = with_pixel_strides(b, 0, 0);
  const auto src = random_floats(static_cast<std::size_t>(a.src_elems()), 1);
  const auto wa = random_floats(static_cast<std::size_t>(a.weight_elems()), 2);
  const auto wb = random_floats(static_cast<std::size_t>(b.weight_elems()), 3);
  for (const JitTarget& target : all_targets()) {
    Jit jit(target.options());
    std::vector<float> concat(81 * 64, -1.0f), out_a(81 * 24), out_b(81 * 40);
    auto ka = jit.get(a), kb = jit.get(b);
    ka->run(src.data(), ka->pack_weights(wa.data(), nullptr), concat.data());
    kb->run(src.data(), kb->pack_weights(wb.data(), nullptr), concat.data() + 24);
    auto da = jit.get(a_dense), db = jit.get(b_dense);
    da->run(src.data(), da->pack_weights(wa.data(), nullptr), out_a.data());
    db->run(src.data(), db->pack_weights(wb.data(), nullptr), out_b.data());
    bool same = true;
    for (int p = 0; p < 81; ++p) {
      same = same && std::memcmp(&concat[p * 64], &out_a[p * 24], 24 * sizeof(float)) == 0;
      same = same && std::memcmp(&concat[p * 64 + 24], &out_b[p * 40], 40 * sizeof(float)) == 0;
    }
    BOOST_TEST(same, target.name());
  }
}

BOOST_AUTO_TEST_CASE(a_layer_may_read_one_slice_and_write_another_of_the_same_tensor) {
  // DenseNet-style: channels [0, 32) of a 48-channel buffer in, channels [32, 48) out.
  const ConvShape s =
      ConvSpec::parse("c=32,h=6,w=6,oc=16,k=3,p=same,src_stride=48,dst_stride=48").resolve();
  std::vector<float> buffer = random_floats(36 * 48, 9);
  const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 10);
  std::vector<float> expected(buffer.size(), 0.0f);
  reference_conv(s, buffer.data(), w.data(), nullptr, expected.data() + 32);
  Jit jit;
  auto kernel = jit.get(s);
  kernel->run(buffer.data(), kernel->pack_weights(w.data(), nullptr), buffer.data() + 32);
  double worst = 0;
  for (int p = 0; p < 36; ++p)
    worst = std::max(worst, max_abs_error(&buffer[p * 48 + 32], &expected[p * 48 + 32], 16));
  BOOST_TEST(worst <= tolerance(s, kernel->algorithm(), expected));
}

BOOST_AUTO_TEST_CASE(strides_are_part_of_the_cache_key_and_dense_has_one_spelling) {
  Jit jit;
  auto dense = jit.get(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3"));
  auto spelled = jit.get(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3,src_stride=8,dst_stride=8"));
  auto strided = jit.get(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3,dst_stride=16"));
  BOOST_TEST(dense.get() == spelled.get());
  BOOST_TEST(dense.get() != strided.get());
  BOOST_TEST(strided->shape().to_string().find("dst_stride=16") != std::string::npos);
  BOOST_TEST((ConvSpec::parse(strided->shape().to_string()).resolve() == strided->shape()));
}

BOOST_AUTO_TEST_CASE(a_strided_tensor_ends_with_its_last_pixels_channels) {
  const ConvShape s =
      ConvSpec::parse("n=2,c=3,h=4,w=5,oc=6,k=1,src_stride=10,dst_stride=8").resolve();
  BOOST_TEST(s.src_image_floats() == 4 * 5 * 10);
  BOOST_TEST(s.src_elems() == 2 * 4 * 5 * 10 - (10 - 3));
  BOOST_TEST(s.dst_elems() == 2 * 4 * 5 * 8 - (8 - 6));
}

BOOST_AUTO_TEST_SUITE_END()
