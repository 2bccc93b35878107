// run() split across threads: the same bits as one thread, for every thread count.
#define BOOST_TEST_MODULE threads
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <random>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(every_thread_count_gives_the_same_bits_as_one_thread) {
  RandomShapeLimits limits;
  limits.max_flops = 1e6;
  std::mt19937_64 rng(31);
  Jit jit(JitOptions{.threads = 1});
  for (int i = 0; i < 60; ++i) {
    const ConvShape s = random_shape(rng, limits);
    auto kernel = jit.get(s);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 100);
    const auto packed = kernel->pack_weights(w.data(), nullptr);
    std::vector<float> one(static_cast<std::size_t>(s.dst_elems()));
    kernel->run(src.data(), packed, one.data(), 1);
    for (int t : {2, 3, 4, 7, 16}) {
      std::vector<float> many(one.size(), -1.0f);
      kernel->run(src.data(), packed, many.data(), t);
      BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0,
                 s.to_string() << " threads=" << t);
    }
  }
}

BOOST_AUTO_TEST_CASE(concurrent_runs_of_one_kernel_do_not_interfere) {
  const ConvShape s = ConvSpec::parse("n=2,c=16,h=20,w=20,oc=24,k=3,p=same").resolve();
  auto kernel = Jit::global().get(s);
  const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 3);
  const auto packed = kernel->pack_weights(w.data(), nullptr);
  const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 4);
  std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
  kernel->run(src.data(), packed, expected.data(), 1);
  std::vector<std::vector<float>> outs(8, std::vector<float>(expected.size()));
  std::vector<std::thread> pool;
  for (auto& out : outs)
    pool.emplace_back([&] { for (int r = 0; r < 20; ++r) kernel->run(src.data(), packed, out.data(), 1); });
  for (auto& t : pool) t.join();
  for (const auto& out : outs) BOOST_TEST(out == expected);
}

BOOST_AUTO_TEST_SUITE_END()
