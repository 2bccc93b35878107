// Run-time batch: one compiled kernel runs any batch given to run(); the spec's n is only a
// default, the cache ignores it, and one packing serves every batch.
#define BOOST_TEST_MODULE run_time_batch
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>

using namespace convjit;
using namespace convjit::testing;

namespace {

ConvShape with_batch(ConvShape s, std::int64_t n) {
  ConvSpec spec = s.spec();
  spec.n = n;
  return spec.resolve();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run_time_batch)

BOOST_AUTO_TEST_CASE(one_kernel_serves_batch_1_to_32_with_the_bits_of_a_kernel_compiled_for_it) {
  for (const char* spec : {"c=16,h=8,w=8,oc=24,k=3,p=same,act=relu",
                           "c=6,h=7,w=9,oc=6,g=6,k=3,p=1",
                           "c=3,h=9,w=13,oc=5,k=3,layout=nchw",
                           "c=8,h=6,w=6,oc=8,k=3,p=1,add=1,src_stride=12,dst_stride=10"}) {
    const ConvShape one = ConvSpec::parse(spec).resolve();
    for (const JitTarget& target : all_targets()) {
      Jit jit(target.options());
      auto shared = jit.get(one);
      const auto w = random_floats(static_cast<std::size_t>(one.weight_elems()), 1);
      const PackedWeights packed = shared->pack_weights(w.data(), nullptr);
      for (std::int64_t batch : {1, 2, 3, 5, 8, 13, 32}) {
        const ConvShape s = with_batch(one, batch);
        const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), batch);
        const auto residual = random_floats(static_cast<std::size_t>(s.dst_elems()), batch + 50);
        const float* r = s.add_residual ? residual.data() : nullptr;
        std::vector<float> at_run(static_cast<std::size_t>(s.dst_elems()), 0.0f);
        shared->run(src.data(), packed, at_run.data(), RunOptions{.batch = batch, .residual = r});
        // A kernel compiled for this batch alone, outside the cache.
        auto own = Jit(target.options()).compile(s);
        std::vector<float> compiled(at_run.size(), 0.0f);
        own->run(src.data(), own->pack_weights(w.data(), nullptr), compiled.data(),
                 RunOptions{.residual = r});
        BOOST_TEST(std::memcmp(at_run.data(), compiled.data(), at_run.size() * sizeof(float)) == 0,
                   spec << " " << target.name() << " batch=" << batch);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_batch_is_not_part_of_the_cache_key) {
  Jit jit;
  auto one = jit.get(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3"));
  auto four = jit.get(ConvSpec::parse("n=4,c=8,h=8,w=8,oc=8,k=3"));
  auto four_again = jit.get(ConvSpec::parse("n=4,c=8,h=8,w=8,oc=8,k=3"));
  BOOST_TEST(jit.stats().misses == 1u);
  BOOST_TEST(jit.stats().hits == 2u);
  // The spec's n is the kernel's default batch, and the same n gives the same kernel.
  BOOST_TEST(one->shape().n == 1);
  BOOST_TEST(four->shape().n == 4);
  BOOST_TEST(four.get() == four_again.get());
  BOOST_TEST(four->name() == one->name());
}

BOOST_AUTO_TEST_CASE(weights_packed_once_serve_every_batch_and_every_default) {
  Jit jit;
  auto one = jit.get(ConvSpec::parse("c=8,h=5,w=5,oc=8,k=3"));
  auto four = jit.get(ConvSpec::parse("n=4,c=8,h=5,w=5,oc=8,k=3"));
  const auto w = random_floats(static_cast<std::size_t>(one->shape().weight_elems()), 1);
  const PackedWeights packed = one->pack_weights(w.data(), nullptr);
  const auto src = random_floats(static_cast<std::size_t>(four->shape().src_elems()), 2);
  std::vector<float> by_default(static_cast<std::size_t>(four->shape().dst_elems()));
  std::vector<float> by_option(by_default.size());
  four->run(src.data(), packed, by_default.data());
  one->run(src.data(), packed, by_option.data(), RunOptions{.batch = 4});
  BOOST_TEST(std::memcmp(by_default.data(), by_option.data(), by_option.size() * sizeof(float)) == 0);
}

BOOST_AUTO_TEST_CASE(the_batch_is_shared_out_across_threads_with_the_same_bits) {
  Jit jit(JitOptions{.threads = 1});
  auto kernel = jit.get(ConvSpec::parse("c=8,h=6,w=6,oc=16,k=3,p=1"));
  const auto w = random_floats(static_cast<std::size_t>(kernel->shape().weight_elems()), 1);
  const PackedWeights packed = kernel->pack_weights(w.data(), nullptr);
  const std::int64_t batch = 7;
  const auto src = random_floats(static_cast<std::size_t>(kernel->shape().src_elems() * batch), 2);
  std::vector<float> one(static_cast<std::size_t>(kernel->shape().dst_elems() * batch));
  kernel->run(src.data(), packed, one.data(), RunOptions{.batch = batch, .threads = 1});
  for (int threads : {2, 3, 5, 16}) {
    std::vector<float> many(one.size(), -1.0f);
    kernel->run(src.data(), packed, many.data(), RunOptions{.batch = batch, .threads = threads});
    BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0, threads);
  }
}

BOOST_AUTO_TEST_SUITE_END()
