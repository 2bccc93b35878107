// The per-shape kernel cache: single-flight compilation, LRU bound, statistics.
#define BOOST_TEST_MODULE kernel_cache
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <map>
#include <mutex>
#include <random>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

namespace {

std::vector<ConvShape> distinct_small_shapes(std::size_t count, std::uint64_t seed) {
  RandomShapeLimits limits;
  limits.max_flops = 2e5;
  std::mt19937_64 rng(seed);
  std::vector<ConvShape> shapes;
  while (shapes.size() < count) {
    const ConvShape s = random_shape(rng, limits);
    if (std::find(shapes.begin(), shapes.end(), s) == shapes.end()) shapes.push_back(s);
  }
  return shapes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kernel_cache)

BOOST_AUTO_TEST_CASE(a_second_get_returns_the_same_kernel) {
  Jit jit(JitOptions{.cache_capacity = 8});
  auto spec = ConvSpec::parse("c=3,h=9,w=9,oc=4,k=3,p=same");
  auto a = jit.get(spec);
  auto b = jit.get(spec);
  BOOST_TEST(a.get() == b.get());
  BOOST_TEST(jit.stats().misses == 1u);
  BOOST_TEST(jit.stats().hits == 1u);
}

BOOST_AUTO_TEST_CASE(sixteen_threads_asking_for_200_shapes_compile_each_once) {
  const auto shapes = distinct_small_shapes(200, 99);
  Jit jit(JitOptions{.threads = 1, .cache_capacity = 1000});
  std::mutex m;
  std::map<std::size_t, const Kernel*> seen;  // shape index -> kernel
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t k = 0; k < shapes.size(); ++k) {
        const std::size_t i = (k * 7 + static_cast<std::size_t>(t) * 13) % shapes.size();
        auto kernel = jit.get(shapes[i]);
        // Every result verified: run random data through the kernel against the reference.
        const auto src = random_floats(static_cast<std::size_t>(shapes[i].src_elems()), i);
        const auto w = random_floats(static_cast<std::size_t>(shapes[i].weight_elems()), i + 1);
        const auto b = random_floats(static_cast<std::size_t>(shapes[i].oc), i + 2);
        std::vector<float> out(static_cast<std::size_t>(shapes[i].dst_elems()));
        std::vector<float> ref(out.size());
        kernel->run(src.data(), kernel->pack_weights(w.data(), b.data()), out.data());
        reference_conv(shapes[i], src.data(), w.data(), b.data(), ref.data());
        const bool ok = max_abs_error(out, ref) <= tolerance(shapes[i], kernel->algorithm(), ref);
        std::lock_guard lock(m);
        if (!ok) failures.push_back(shapes[i].to_string());
        auto [it, inserted] = seen.emplace(i, kernel.get());
        if (!inserted && it->second != kernel.get()) failures.push_back("two kernels for " + shapes[i].to_string());
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_TEST(failures.empty(), (failures.empty() ? "" : failures.front()));
  const CacheStats stats = jit.stats();
  BOOST_TEST(stats.misses == 200u);
  BOOST_TEST(stats.hits == 16u * 200u - 200u);
  BOOST_TEST(stats.size == 200u);
  BOOST_TEST(stats.evictions == 0u);
  BOOST_TEST(stats.generation_us_total > 0.0);
}

BOOST_AUTO_TEST_CASE(capacity_bounds_the_cache_and_evicts_least_recently_used) {
  const auto shapes = distinct_small_shapes(40, 5);
  Jit jit(JitOptions{.cache_capacity = 16});
  for (const ConvShape& s : shapes) jit.get(s);
  CacheStats stats = jit.stats();
  BOOST_TEST(stats.size == 16u);
  BOOST_TEST(stats.evictions == 24u);
  // The 16 most recent are still there: asking again is a hit.
  for (std::size_t i = 24; i < 40; ++i) jit.get(shapes[i]);
  BOOST_TEST(jit.stats().misses == 40u);
  jit.get(shapes[0]);  // long evicted
  BOOST_TEST(jit.stats().misses == 41u);
}

BOOST_AUTO_TEST_CASE(an_evicted_kernel_stays_valid_for_its_holders) {
  Jit jit(JitOptions{.cache_capacity = 1});
  const ConvShape first = ConvSpec::parse("c=4,h=10,w=10,oc=8,k=3,p=1").resolve();
  auto held = jit.get(first);
  jit.get(ConvSpec::parse("c=4,h=10,w=11,oc=8,k=3,p=1"));  // evicts `first`
  BOOST_TEST(jit.stats().evictions == 1u);
  const auto src = random_floats(static_cast<std::size_t>(first.src_elems()), 1);
  const auto w = random_floats(static_cast<std::size_t>(first.weight_elems()), 2);
  std::vector<float> out(static_cast<std::size_t>(first.dst_elems())), ref(out.size());
  held->run(src.data(), held->pack_weights(w.data(), nullptr), out.data());
  reference_conv(first, src.data(), w.data(), nullptr, ref.data());
  BOOST_TEST(max_abs_error(out, ref) <= tolerance(first, held->algorithm(), ref));
}

BOOST_AUTO_TEST_SUITE_END()
