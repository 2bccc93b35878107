// Packed weights: their format names the packed layout and nothing else, so one packing
// serves a layer at every batch size and activation, and run() refuses any other packing.
#define BOOST_TEST_MODULE packed_weights
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>

using namespace convjit;
using testing::random_floats;

namespace {

std::shared_ptr<const Kernel> kernel_for(const testing::JitTarget& target, const char* spec) {
  return Jit(target.options()).compile(ConvSpec::parse(spec).resolve());
}

std::vector<float> run(const Kernel& kernel, const std::vector<float>& src, const PackedWeights& w) {
  std::vector<float> dst(static_cast<std::size_t>(kernel.shape().dst_elems()));
  kernel.run(src.data(), w, dst.data());
  return dst;
}

std::string field_of_refusal(const Kernel& kernel, const PackedWeights& w) {
  std::vector<float> src(static_cast<std::size_t>(kernel.shape().src_elems()));
  std::vector<float> dst(static_cast<std::size_t>(kernel.shape().dst_elems()));
  try {
    kernel.run(src.data(), w, dst.data());
  } catch (const Error& e) {
    return e.field();
  }
  return "(accepted)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(packed_weights)

BOOST_AUTO_TEST_CASE(weights_packed_at_batch_one_serve_the_layer_at_batch_three_with_relu) {
  // One layer per strategy: output-channel vectors with a channel tail, depthwise, NCHW.
  const std::pair<const char*, const char*> layers[] = {
      {"c=16,h=9,w=11,oc=20,k=3,p=1", "n=3,c=16,h=9,w=11,oc=20,k=3,p=1,act=relu"},
      {"c=24,h=8,w=8,oc=24,g=24,k=3,p=same", "n=3,c=24,h=8,w=8,oc=24,g=24,k=3,p=same,act=relu"},
      {"c=3,h=10,w=13,oc=5,k=3,layout=nchw", "n=3,c=3,h=10,w=13,oc=5,k=3,layout=nchw,act=relu"},
  };
  for (const testing::JitTarget& target : testing::all_targets()) {
    for (const auto& [once, later] : layers) {
      BOOST_TEST_CONTEXT(target.name() << " " << later) {
        const auto first = kernel_for(target, once);
        const auto batched = kernel_for(target, later);
        const ConvShape& s = batched->shape();
        const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 1);
        const auto bias = random_floats(static_cast<std::size_t>(s.oc), 2);
        const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 3);
        const PackedWeights reused = first->pack_weights(weights.data(), bias.data());
        const PackedWeights own = batched->pack_weights(weights.data(), bias.data());
        BOOST_TEST(reused.format() == own.format());
        const auto with_reused = run(*batched, src, reused);
        const auto with_own = run(*batched, src, own);
        BOOST_TEST(std::memcmp(with_reused.data(), with_own.data(),
                               with_own.size() * sizeof(float)) == 0);
        std::vector<float> expected(with_own.size());
        reference_conv(s, src.data(), weights.data(), bias.data(), expected.data());
        BOOST_TEST(max_abs_error(with_own, expected) <= tolerance(s, batched->algorithm(), expected));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(one_channel_nhwc_and_nchw_layers_share_one_packing) {
  // With c = oc = 1, HWIO and OIHW are the same memory and both kernels use width vectors.
  for (const testing::JitTarget& target : testing::all_targets()) {
    if (target.backend == Backend::reference) continue;  // keeps the user's layout, per layout
    BOOST_TEST_CONTEXT(target.name()) {
      const auto nhwc = kernel_for(target, "c=1,h=9,w=9,oc=1,k=3");
      const auto nchw = kernel_for(target, "c=1,h=9,w=9,oc=1,k=3,layout=nchw");
      const ConvShape& s = nchw->shape();
      const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 6);
      const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 7);
      const PackedWeights packed = nhwc->pack_weights(weights.data(), nullptr);
      std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
      reference_conv(s, src.data(), weights.data(), nullptr, expected.data());
      BOOST_TEST(max_abs_error(run(*nchw, src, packed), expected) <= tolerance(s));
    }
  }
}

BOOST_AUTO_TEST_CASE(weights_of_another_kernel_size_or_channel_count_are_refused) {
  const auto kernel = kernel_for(Backend::automatic, "c=16,h=9,w=9,oc=16,k=3,p=1");
  for (const char* other : {"c=16,h=9,w=9,oc=16,k=5,p=2", "c=8,h=9,w=9,oc=16,k=3,p=1",
                            "c=16,h=9,w=9,oc=12,k=3,p=1", "c=16,h=9,w=9,oc=16,k=3,p=1,bias=0"}) {
    const auto donor = kernel_for(Backend::automatic, other);
    const ConvShape& s = donor->shape();
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 4);
    BOOST_TEST(field_of_refusal(*kernel, donor->pack_weights(w.data(), nullptr)) == "weights",
               other);
  }
}

BOOST_AUTO_TEST_CASE(packed_weights_of_the_right_format_but_the_wrong_size_are_refused) {
  const auto kernel = kernel_for(Backend::automatic, "c=16,h=9,w=9,oc=16,k=3,p=1");
  const ConvShape& s = kernel->shape();
  const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 5);
  const PackedWeights good = kernel->pack_weights(w.data(), nullptr);
  const PackedWeights short_by_one(std::shared_ptr<const float>(good.data(), [](const float*) {}),
                                   good.size() - 1, good.bias_offset(), good.format());
  BOOST_TEST(field_of_refusal(*kernel, short_by_one) == "weights");
  BOOST_TEST(field_of_refusal(*kernel, good) == "(accepted)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(host_placed_packed_weights)

BOOST_AUTO_TEST_CASE(packing_into_the_hosts_memory_gives_the_same_results) {
  for (const testing::JitTarget& target : testing::all_targets()) {
    auto kernel = kernel_for(target, "c=5,h=8,w=8,oc=21,k=3,p=1");
    const ConvShape& s = kernel->shape();
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 1);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), 2);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 3);
    // An arena with room for more: the packing takes packed_size() floats at its start.
    std::vector<float> arena(kernel->packed_size() + 64 + 100, -7.0f);
    auto* start = reinterpret_cast<float*>(
        (reinterpret_cast<std::uintptr_t>(arena.data()) + 63) / 64 * 64);
    const std::span<float> memory(start, kernel->packed_size() + 100);
    const PackedWeights placed = kernel->pack_weights_into(memory, w.data(), bias.data());
    BOOST_TEST(placed.data() == start);
    BOOST_TEST(placed.size() == kernel->packed_size());
    BOOST_TEST(start[kernel->packed_size()] == -7.0f, target.name());  // nothing past it
    const PackedWeights owned = kernel->pack_weights(w.data(), bias.data());
    BOOST_TEST(std::memcmp(placed.data(), owned.data(), owned.size() * sizeof(float)) == 0);
    BOOST_TEST(run(*kernel, src, placed) == run(*kernel, src, owned));
  }
}

BOOST_AUTO_TEST_CASE(a_span_too_small_or_misaligned_is_an_error_naming_the_memory) {
  auto kernel = kernel_for(testing::JitTarget(Backend::automatic), "c=5,h=8,w=8,oc=21,k=3");
  const auto w = random_floats(static_cast<std::size_t>(kernel->shape().weight_elems()), 1);
  std::vector<float> arena(kernel->packed_size() + 64);
  auto* start = reinterpret_cast<float*>(
      (reinterpret_cast<std::uintptr_t>(arena.data()) + 63) / 64 * 64);
  BOOST_TEST(testing::error_field([&] {
               kernel->pack_weights_into({start, kernel->packed_size() - 1}, w.data(), nullptr);
             }) == "memory");
  BOOST_TEST(testing::error_field([&] {
               kernel->pack_weights_into({start + 1, kernel->packed_size()}, w.data(), nullptr);
             }) == "memory");
  BOOST_TEST(testing::error_field([&] {
               kernel->pack_weights_into({start, kernel->packed_size()}, nullptr, nullptr);
             }) == "weights");
}

BOOST_AUTO_TEST_SUITE_END()
