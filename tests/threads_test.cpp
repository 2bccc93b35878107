// run() split across threads: the same bits as one thread, for every thread count.
#define BOOST_TEST_MODULE threads
#include <boost/test/unit_test.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/work_split.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <random>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

namespace {

WorkSplit split_of(const Kernel& kernel, int team) {
  const KernelState& k = kernel.state();
  return split_work(k.images, k.units, k.channel_tiles, k.splits_channel_tiles, team);
}

// How often each (image, channel tile, row) is computed when `team` threads take their shares.
std::vector<int> coverage(const Kernel& kernel, const WorkSplit& split, int team) {
  const KernelState& k = kernel.state();
  std::vector<int> seen(static_cast<std::size_t>(k.images * k.channel_tiles * k.units), 0);
  for (int t = 0; t < team; ++t)
    split.for_each_call(split.share_begin(t, team), split.share_begin(t + 1, team),
                        [&](std::int64_t image, std::int64_t tile_begin, std::int64_t tile_end,
                            std::int64_t row_begin, std::int64_t row_end) {
                          if (tile_end < 0) {
                            tile_begin = 0;
                            tile_end = k.channel_tiles;
                          }
                          for (std::int64_t tile = tile_begin; tile < tile_end; ++tile)
                            for (std::int64_t row = row_begin; row < row_end; ++row)
                              ++seen[static_cast<std::size_t>(
                                  (image * k.channel_tiles + tile) * k.units + row)];
                        });
  return seen;
}

}  // namespace

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

BOOST_AUTO_TEST_CASE(few_output_rows_split_channel_tiles_with_the_same_bits) {
  // One, two or three output rows cannot be shared out by rows alone: run() splits channel
  // tiles.
  // Each has several channel tiles at every instruction set.
  for (const char* spec : {"c=32,h=7,w=7,oc=256,k=7", "c=16,h=3,w=9,oc=200,k=1",
                           "c=128,h=5,w=5,oc=128,g=128,k=3", "c=8,h=3,w=19,oc=21,k=1,layout=nchw",
                           "c=12,h=4,w=4,oc=36,g=3,k=2,s=2"}) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    for (const JitTarget& target : all_targets()) {
      if (target.backend == Backend::reference) continue;  // computes whole images only
      const std::string backend = target.name();
      auto kernel = Jit(target.options()).compile(s);
      const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
      const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
      const auto b = random_floats(static_cast<std::size_t>(s.oc), 3);
      const auto packed = kernel->pack_weights(w.data(), b.data());
      std::vector<float> one(static_cast<std::size_t>(s.dst_elems()), -1.0f);
      kernel->run(src.data(), packed, one.data(), 1);
      for (int t : {2, 3, 5}) {
        // Rows that share out evenly stay whole; the others are split into channel tiles.
        const WorkSplit split = split_of(*kernel, t);
        const bool rows_share_evenly = s.out_h % t == 0;
        BOOST_TEST(split.by_channel_tiles == !rows_share_evenly,
                   spec << " " << backend << " threads=" << t);
        BOOST_TEST(kernel->state().channel_tiles > 1);
        if (split.by_channel_tiles) BOOST_TEST(split.tiles == kernel->state().channel_tiles);
        for (int n : coverage(*kernel, split, t)) BOOST_TEST(n == 1);
        std::vector<float> many(one.size(), -2.0f);
        kernel->run(src.data(), packed, many.data(), t);
        BOOST_TEST(std::memcmp(one.data(), many.data(), one.size() * sizeof(float)) == 0,
                   spec << " " << backend << " threads=" << t);
      }
      check_backend_matches_reference(s, target, 9);
    }
  }
}

BOOST_AUTO_TEST_CASE(many_output_rows_are_split_by_rows_alone) {
  auto kernel = Jit(JitOptions{.backend = Backend::xbyak}).compile(
      ConvSpec::parse("c=16,h=40,w=9,oc=64,k=3,p=1,algo=direct").resolve());
  for (int t : {2, 3, 4}) {
    const WorkSplit split = split_of(*kernel, t);
    BOOST_TEST(!split.by_channel_tiles);
    BOOST_TEST(split.items() == 40);
    for (int n : coverage(*kernel, split, t)) BOOST_TEST(n == 1);
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
