// Winograd F(m×m, 3×3) kernels (strategy winograd): the Cook-Toom transforms, the algo key,
// the planner's choice, accuracy against the double-accumulating reference per tile size
// (their own bound, core/tolerance.hpp), borders, fused epilogues, scratch that run() never
// allocates, threads, and the backends that do not generate them.
#define BOOST_TEST_MODULE winograd
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "core/tolerance.hpp"
#include "generator/plan.hpp"
#include "generator/winograd_transform.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <map>
#include <new>
#include <random>
#include <sstream>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

BOOST_TEST_DONT_PRINT_LOG_VALUE(convjit::ConvSpec)
BOOST_TEST_DONT_PRINT_LOG_VALUE(convjit::Algorithm)
BOOST_TEST_DONT_PRINT_LOG_VALUE(convjit::Strategy)
BOOST_TEST_DONT_PRINT_LOG_VALUE(convjit::ColumnTile)


namespace {

constexpr int kTileSizes[] = {2, 4, 6};

Algorithm tile_algorithm(int m) {
  return m == 2 ? Algorithm::winograd_f2 : m == 4 ? Algorithm::winograd_f4 : Algorithm::winograd_f6;
}

// The backends that generate Winograd kernels; the others compute every shape directly.
bool generates_winograd(Backend backend) { return backend == Backend::xbyak || backend == Backend::llvm; }

std::vector<JitTarget> winograd_targets() {
  std::vector<JitTarget> targets;
  for (const JitTarget& t : jit_targets())
    if (generates_winograd(t.backend)) targets.push_back(t);
  return targets;
}

ConvShape with_algorithm(const ConvShape& shape, Algorithm algo) {
  ConvSpec spec = ConvSpec::parse(shape.to_string());
  spec.algo = algo;
  return spec.resolve();
}

ConvShape parse_shape(const std::string& spec) { return ConvSpec::parse(spec).resolve(); }

// Log-uniform in [lo, hi], so small and large counts are both common.
std::int64_t log_uniform(std::mt19937_64& rng, std::int64_t lo, std::int64_t hi) {
  std::uniform_real_distribution<double> u(std::log(static_cast<double>(lo)),
                                           std::log(static_cast<double>(hi) + 1.0));
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::exp(u(rng))), lo, hi);
}

// A random shape Winograd can compute: 3×3, stride 1, dilation 1, groups 1, each border's
// padding drawn on its own (0, 1 or 2), every tenth shape with 512 input channels, odd
// indices NCHW.
ConvShape random_winograd_shape(std::mt19937_64& rng, int index, double max_flops) {
  std::uniform_int_distribution<int> pad(0, 2), coin(0, 1), act(0, 2);
  for (;;) {
    ConvCase c;
    c.batch(index % 7 == 3 ? 2 : 1)
        .input(log_uniform(rng, 1, 40), log_uniform(rng, 1, 40),
               index % 10 == 0 ? 512 : log_uniform(rng, 1, 512))
        .output_channels(log_uniform(rng, 1, 160))
        .kernel(3)
        .padding(pad(rng), pad(rng), pad(rng), pad(rng))
        .bias(coin(rng) == 1)
        .layout(index % 2 ? Layout::nchw : Layout::nhwc);
    ConvShape s;
    try {
      s = c.shape();
    } catch (const Error&) {
      continue;  // the padded input is smaller than the kernel
    }
    if (s.flops() <= max_flops) return s;
  }
}

struct Run {
  std::vector<float> expected, actual;
};

// One run of `kernel` on data from `seed`, with its reference result.
Run run_against_reference(const ConvShape& s, const Kernel& kernel, std::uint64_t seed, int threads = 1) {
  const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), seed);
  const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), seed + 1);
  const auto bias = random_floats(static_cast<std::size_t>(s.oc), seed + 2);
  Run r;
  r.expected.resize(static_cast<std::size_t>(s.dst_elems()));
  reference_conv(s, src.data(), weights.data(), s.bias ? bias.data() : nullptr, r.expected.data());
  r.actual.assign(r.expected.size(), std::numeric_limits<float>::quiet_NaN());
  const PackedWeights packed = kernel.pack_weights(weights.data(), bias.data());
  kernel.run(src.data(), packed, r.actual.data(), threads);
  return r;
}

double largest_magnitude(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, std::abs(static_cast<double>(x)));
  return m;
}

// max |y − y_ref| / max |y_ref|, the accuracy the README publishes.
double relative_error(const Run& r) {
  return max_abs_error(r.actual, r.expected) / std::max(largest_magnitude(r.expected), 1e-30);
}

std::string channel_bucket(std::int64_t c) {
  return c <= 16 ? "c<=16" : c <= 64 ? "c<=64" : c <= 256 ? "c<=256" : "c<=512";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(winograd)

BOOST_AUTO_TEST_CASE(transforms_turn_products_into_a_three_tap_correlation) {
  std::mt19937_64 rng(12);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int m : kTileSizes) {
    const WinogradTransform& t = winograd_transform(m);
    BOOST_TEST(t.alpha == m + 2);
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> d(t.alpha), g(3);
      for (double& x : d) x = u(rng);
      for (double& x : g) x = u(rng);
      std::vector<double> product(t.alpha);
      for (int e = 0; e < t.alpha; ++e) {
        double gg = 0, bd = 0;
        for (int k = 0; k < 3; ++k) gg += t.g_at(e, k) * g[k];
        for (int k = 0; k < t.alpha; ++k) bd += t.bt_at(e, k) * d[k];
        product[e] = gg * bd;
      }
      for (int i = 0; i < m; ++i) {
        double y = 0, direct = 0;
        for (int e = 0; e < t.alpha; ++e) y += t.at_at(i, e) * product[e];
        for (int k = 0; k < 3; ++k) direct += d[i + k] * g[k];
        BOOST_TEST(std::abs(y - direct) <= 1e-12, "F(" << m << ",3) output " << i << ": " << y
                                                      << " vs " << direct);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(algo_key_round_trips_every_name) {
  for (const char* name : {"auto", "direct", "winograd", "winograd_f2", "winograd_f4", "winograd_f6"}) {
    const Algorithm a = parse_algorithm(name);
    BOOST_TEST(to_string(a) == name);
    const ConvSpec spec = ConvSpec::parse(std::string("c=8,h=8,w=8,oc=8,k=3,p=same,algo=") + name);
    BOOST_TEST(ConvSpec::parse(spec.to_string()) == spec);
  }
  BOOST_TEST(parse_algorithm("winograd_f4") == Algorithm::winograd_f4);
  BOOST_TEST(winograd_tile_of(Algorithm::winograd_f6) == 6);
  BOOST_TEST(winograd_tile_of(Algorithm::direct) == 0);
}

BOOST_AUTO_TEST_CASE(unknown_algorithm_is_an_error_naming_algo) {
  BOOST_TEST(error_field([] { ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3,algo=fft"); }) == "algo");
  BOOST_TEST(error_field([] { ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3,algo=winograd_f3"); }) == "algo");
}

BOOST_AUTO_TEST_CASE(forced_winograd_on_a_shape_it_cannot_compute_is_an_error_naming_algo) {
  for (const char* spec : {"c=8,h=9,w=9,oc=8,k=5,algo=winograd",         // kernel
                           "c=8,h=9,w=9,oc=8,k=3,s=2,algo=winograd_f2",  // stride
                           "c=8,h=9,w=9,oc=8,k=3,d=2,algo=winograd_f4",  // dilation
                           "c=8,h=9,w=9,oc=8,k=3,g=2,algo=winograd"}) {  // groups
    BOOST_TEST_CONTEXT(spec) {
      BOOST_TEST(error_field([&] { ConvSpec::parse(spec).resolve(); }) == "algo");
      try {
        ConvSpec::parse(spec).resolve();
      } catch (const Error& e) {
        BOOST_TEST(std::string(e.what()).find("cannot compute") != std::string::npos, e.what());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(algo_direct_gives_the_direct_plan) {
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=same", "c=5,h=9,w=11,oc=21,k=3,p=1",
                           "c=256,h=14,w=14,oc=256,k=3,p=same,act=relu"}) {
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const ConvShape automatic = parse_shape(spec);
      const KernelPlan forced = make_plan(with_algorithm(automatic, Algorithm::direct), isa);
      const KernelPlan direct = make_cheapest_direct_plan(automatic, isa);
      BOOST_TEST_CONTEXT(spec << " " << to_string(isa)) {
        BOOST_TEST(forced.strategy != Strategy::winograd);
        BOOST_TEST(forced.name == direct.name);
        BOOST_TEST(forced.ur_w == direct.ur_w);
        BOOST_TEST(forced.oc_tile == direct.oc_tile);
        BOOST_TEST(forced.rows.size() == direct.rows.size());
        BOOST_TEST(forced.columns == direct.columns);
        BOOST_TEST(forced.packed.format() == direct.packed.format());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(auto_picks_winograd_on_wide_3x3_layers_and_says_why) {
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=same", "c=128,h=28,w=28,oc=128,k=3,p=same",
                             "c=64,h=56,w=56,oc=64,k=3,p=same,layout=nchw"}) {
      const KernelPlan plan = make_plan(parse_shape(spec), isa);
      BOOST_TEST_CONTEXT(spec << " " << to_string(isa)) {
        BOOST_TEST(plan.strategy == Strategy::winograd);
        BOOST_TEST(plan.winograd.m >= 2);
        const std::string tile = "F" + std::to_string(plan.winograd.m);
        BOOST_TEST(plan.algorithm_choice.find(tile) != std::string::npos, plan.algorithm_choice);
        BOOST_TEST(plan.name.find("winograd") != std::string::npos, plan.name);
        const std::string d = plan.describe();
        BOOST_TEST(d.find("scratch") != std::string::npos);
        BOOST_TEST(d.find("block(s) of") != std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(auto_stays_direct_where_winograd_cannot_pay_off) {
  for (const char* spec : {"c=1,h=8,w=8,oc=1,k=3", "c=3,h=224,w=224,oc=16,k=3,p=same",
                           "c=64,h=56,w=56,oc=64,k=3,s=2,p=1", "c=64,h=56,w=56,oc=64,k=1"}) {
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const KernelPlan plan = make_plan(parse_shape(spec), isa);
      BOOST_TEST(plan.strategy != Strategy::winograd, spec << " " << to_string(isa));
      BOOST_TEST(!plan.algorithm_choice.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(automatic_choice_only_takes_tile_sizes_within_the_published_bound) {
  std::mt19937_64 rng(31);
  for (int i = 0; i < 200; ++i) {
    const ConvShape s = random_winograd_shape(rng, i, 1e12);
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const KernelPlan plan = make_plan(s, isa);
      if (plan.strategy == Strategy::winograd)
        BOOST_TEST(winograd_relative_bound(plan.winograd.m) <= 1e-4, s.to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(kernel_name_and_describe_say_the_tile_size) {
  for (const JitTarget& target : winograd_targets()) {
    Jit jit(target.options());
    for (int m : kTileSizes) {
      auto k = jit.get(with_algorithm(parse_shape("c=16,h=20,w=20,oc=16,k=3,p=same"), tile_algorithm(m)));
      BOOST_TEST(k->algorithm() == tile_algorithm(m));
      const std::string tile = "F(" + std::to_string(m) + "x" + std::to_string(m) + ", 3x3)";
      BOOST_TEST(k->describe().find(tile) != std::string::npos, k->describe());
      BOOST_TEST(k->name().find("winograd") != std::string::npos, k->name());
    }
  }
}

// ≥ 200 random eligible shapes up to 512 input channels, each through every tile size on
// every Winograd backend and ISA, against the reference: the bound per tile size holds, and
// the table (tile size × channel count, with the direct kernels' error beside it) is printed
// with --log_level=message.
BOOST_AUTO_TEST_CASE(random_shapes_stay_within_each_tile_sizes_relative_bound) {
  const auto targets = winograd_targets();
  BOOST_TEST_REQUIRE(!targets.empty());
  std::mt19937_64 rng(20261202);
  std::map<std::string, std::map<std::string, double>> worst;  // algorithm → bucket → error
  std::int64_t widest = 0;
  int padded[4] = {0, 0, 0, 0};  // shapes padded at top, bottom, left, right
  int nchw = 0;
  constexpr int kShapes = 200;
  for (int i = 0; i < kShapes; ++i) {
    const ConvShape s = random_winograd_shape(rng, i, 3e7);
    widest = std::max(widest, s.c);
    nchw += s.layout == Layout::nchw;
    padded[0] += s.pad_top > 0, padded[1] += s.pad_bottom > 0;
    padded[2] += s.pad_left > 0, padded[3] += s.pad_right > 0;
    const std::string bucket = channel_bucket(s.c);
    for (const JitTarget& target : targets) {
      // An LLVM kernel takes 0.1-0.9 s to compile, an Xbyak one a millisecond: LLVM runs every
      // fourth shape (its kernels do the same operations in the same order; tests/
      // llvm_winograd_test.cpp adds its own shapes).
      if (target.backend == Backend::llvm && i % 4 != 0) continue;
      Jit jit(target.options());
      for (int m : kTileSizes) {
        auto kernel = jit.get(with_algorithm(s, tile_algorithm(m)));
        const Run r = run_against_reference(s, *kernel, 100 * i + m);
        const double rel = relative_error(r);
        double& w = worst[std::string(to_string(tile_algorithm(m)))][bucket];
        w = std::max(w, rel);
        BOOST_TEST(rel <= winograd_relative_bound(m),
                   s.to_string() << " on " << target.name() << ", F" << m << ": relative error " << rel);
      }
      const Run direct = run_against_reference(s, *jit.get(with_algorithm(s, Algorithm::direct)), 100 * i);
      double& w = worst["direct"][bucket];
      w = std::max(w, relative_error(direct));
    }
  }
  BOOST_TEST(widest == 512);
  BOOST_TEST(nchw == kShapes / 2);
  for (int side = 0; side < 4; ++side) BOOST_TEST(padded[side] >= kShapes / 4);

  std::ostringstream table;
  table << "max |y - y_ref| / max |y_ref| over " << kShapes << " shapes\n" << std::setw(12) << "";
  for (const char* b : {"c<=16", "c<=64", "c<=256", "c<=512"}) table << std::setw(10) << b;
  for (const auto& [algo, buckets] : worst) {
    table << "\n" << std::setw(12) << algo;
    for (const char* b : {"c<=16", "c<=64", "c<=256", "c<=512"}) {
      const auto it = buckets.find(b);
      table << std::setw(10) << std::setprecision(2) << std::scientific << (it == buckets.end() ? 0.0 : it->second);
    }
  }
  BOOST_TEST_MESSAGE(table.str());
}

BOOST_AUTO_TEST_CASE(partial_edge_tiles_store_only_their_valid_pixels) {
  // Output sizes that are not multiples of any tile size, strided output pixels whose gaps
  // must keep their values, and single-row and single-column outputs.
  for (const char* spec : {"c=8,h=13,w=11,oc=8,k=3,p=same",
                           "c=9,h=7,w=17,oc=13,k=3,p=0",
                           "c=16,h=3,w=30,oc=16,k=3,p=0",
                           "c=16,h=30,w=3,oc=5,k=3,p=0",
                           "c=16,h=1,w=1,oc=24,k=3,p=1",
                           "c=12,h=10,w=10,oc=12,k=3,p=same,dst_stride=20",
                           "c=12,h=10,w=10,oc=12,k=3,p=same,src_stride=15",
                           "n=3,c=7,h=9,w=5,oc=11,k=3,p=2",
                           "c=9,h=7,w=17,oc=13,k=3,p=0,layout=nchw",
                           "n=2,c=8,h=13,w=11,oc=8,k=3,p=same,layout=nchw"}) {
    for (int m : kTileSizes) {
      const ConvShape s = with_algorithm(parse_shape(spec), tile_algorithm(m));
      for (const JitTarget& target : winograd_targets()) check_backend_matches_reference(s, target, m);
    }
  }
}

BOOST_AUTO_TEST_CASE(bias_activation_and_residual_are_fused_into_the_output_transform) {
  for (const char* spec : {"c=32,h=14,w=14,oc=32,k=3,p=same,act=relu",
                           "c=32,h=14,w=14,oc=40,k=3,p=same,act=clamp:-0.5:0.5",
                           "c=20,h=9,w=9,oc=20,k=3,p=1,bias=0,act=relu,add=1",
                           "c=64,h=12,w=12,oc=64,k=3,p=same,add=1",
                           "n=2,c=24,h=11,w=13,oc=24,k=3,p=same,add=1,dst_stride=32",
                           "n=2,c=24,h=11,w=13,oc=20,k=3,p=same,add=1,act=relu,layout=nchw"}) {
    for (int m : kTileSizes) {
      const ConvShape s = with_algorithm(parse_shape(spec), tile_algorithm(m));
      for (const JitTarget& target : winograd_targets()) check_backend_matches_reference(s, target, 3 * m);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_public_3x3_benchmark_layer_matches_with_winograd) {
  for (const auto& [name, shape] : load_shapes_file(shapes_file_path())) {
    if (!winograd_ineligibility(shape).empty() || shape.flops() > 2e9) continue;
    for (int m : kTileSizes) {
      const ConvShape s = with_algorithm(shape, tile_algorithm(m));
      for (const JitTarget& target : winograd_targets()) {
        BOOST_TEST_CONTEXT(name) { check_backend_matches_reference(s, target, m); }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(kernels_stay_inside_guarded_buffers) {
  for (const char* spec : {"c=8,h=13,w=11,oc=8,k=3,p=same", "c=3,h=6,w=6,oc=5,k=3,p=0",
                           "c=5,h=7,w=9,oc=6,k=3,p=1,layout=nchw,add=1",
                           "c=17,h=9,w=10,oc=9,k=3,p=2", "n=2,c=16,h=8,w=8,oc=16,k=3,p=same,add=1"}) {
    for (int m : kTileSizes) {
      const ConvShape s = with_algorithm(parse_shape(spec), tile_algorithm(m));
      const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
      const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
      const auto residual = random_floats(static_cast<std::size_t>(s.dst_elems()), 3);
      std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
      reference_conv(s, src.data(), weights.data(), nullptr, expected.data(),
                     s.add_residual ? residual.data() : nullptr);
      for (const JitTarget& target : winograd_targets()) {
        Jit jit(target.options());
        auto kernel = jit.get(s);
        for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
          GuardedBuffer gsrc(src.size(), side), gres(residual.size(), side), gdst(expected.size(), side);
          gsrc.assign(src.data(), src.size());
          gres.assign(residual.data(), residual.size());
          gsrc.make_read_only();
          gres.make_read_only();
          gdst.fill(std::numeric_limits<float>::quiet_NaN());
          const PackedWeights packed = kernel->pack_weights(weights.data(), nullptr);
          RunOptions options;
          options.threads = 1;
          if (s.add_residual) options.residual = gres.data();
          kernel->run(gsrc.data(), packed, gdst.data(), options);
          const double err = max_abs_error(gdst.data(), expected.data(), expected.size());
          BOOST_TEST(err <= tolerance(s, kernel->algorithm(), expected),
                     spec << " F" << m << " " << target.name() << ": " << err);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(run_allocates_nothing_once_the_thread_has_its_scratch) {
  for (const char* spec : {"c=32,h=20,w=20,oc=32,k=3,p=same", "c=32,h=20,w=20,oc=32,k=3,p=same,layout=nchw"}) {
    const ConvShape s = with_algorithm(parse_shape(spec), Algorithm::winograd_f4);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
    std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()));
    for (const JitTarget& target : winograd_targets()) {
      Jit jit(target.options());
      auto kernel = jit.get(s);
      const PackedWeights packed = kernel->pack_weights(weights.data(), nullptr);
      kernel->run(src.data(), packed, dst.data(), 1);  // the thread's scratch grows here
      const long before = testing::allocations.load();
      for (int i = 0; i < 5; ++i) kernel->run(src.data(), packed, dst.data(), 1);
      BOOST_TEST(testing::allocations.load() - before == 0, target.name() << " allocated in run() of " << spec);
    }
  }
}

BOOST_AUTO_TEST_CASE(packing_format_records_the_algorithm_and_tile_size) {
  const ConvShape s = parse_shape("c=16,h=12,w=12,oc=16,k=3,p=same");
  for (const JitTarget& target : winograd_targets()) {
    Jit jit(target.options());
    std::vector<std::shared_ptr<const Kernel>> kernels{jit.get(with_algorithm(s, Algorithm::direct))};
    for (int m : kTileSizes) kernels.push_back(jit.get(with_algorithm(s, tile_algorithm(m))));
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
    std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()));
    std::vector<PackedWeights> packed;
    for (const auto& k : kernels) packed.push_back(k->pack_weights(weights.data(), nullptr));
    for (std::size_t a = 0; a < kernels.size(); ++a) {
      for (std::size_t b = 0; b < kernels.size(); ++b) {
        if (a == b) continue;
        BOOST_TEST(packed[a].format() != packed[b].format());
        BOOST_TEST(error_field([&] { kernels[b]->run(src.data(), packed[a], dst.data(), 1); }) != "",
                   kernels[b]->name() << " ran weights packed for " << kernels[a]->name());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(two_threads_give_the_same_bits_as_one) {
  for (const char* spec : {"c=16,h=30,w=30,oc=16,k=3,p=same", "n=3,c=8,h=9,w=9,oc=8,k=3,p=1",
                           "n=2,c=8,h=12,w=12,oc=8,k=3,p=1,layout=nchw"}) {
    for (int m : kTileSizes) {
      const ConvShape s = with_algorithm(parse_shape(spec), tile_algorithm(m));
      for (const JitTarget& target : winograd_targets()) {
        Jit jit(target.options());
        auto kernel = jit.get(s);
        const Run one = run_against_reference(s, *kernel, 5, 1);
        const Run two = run_against_reference(s, *kernel, 5, 2);
        BOOST_TEST(one.actual == two.actual, spec << " F" << m << " " << target.name());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(concurrent_runs_on_many_threads_each_use_their_own_scratch) {
  const ConvShape s = with_algorithm(parse_shape("c=24,h=17,w=17,oc=24,k=3,p=same"), Algorithm::winograd_f4);
  for (const JitTarget& target : winograd_targets()) {
    Jit jit(target.options());
    auto kernel = jit.get(s);
    const Run expected = run_against_reference(s, *kernel, 9);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 9);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 10);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), 11);
    const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
    std::vector<std::vector<float>> outputs(4, std::vector<float>(expected.actual.size()));
    std::vector<std::thread> threads;
    for (auto& out : outputs)
      threads.emplace_back([&, o = out.data()] {
        for (int i = 0; i < 20; ++i) kernel->run(src.data(), packed, o, 1);
      });
    for (auto& t : threads) t.join();
    for (const auto& out : outputs) BOOST_TEST(out == expected.actual, target.name());
  }
}

BOOST_AUTO_TEST_CASE(backends_without_winograd_refuse_it_when_forced_and_stay_direct_on_auto) {
  const ConvShape automatic = parse_shape("c=64,h=28,w=28,oc=64,k=3,p=same");
  for (const JitTarget& target : all_targets()) {
    if (generates_winograd(target.backend)) continue;
    BOOST_TEST_CONTEXT(target.name()) {
      Jit jit(target.options());
      BOOST_TEST(jit.get(automatic)->algorithm() == Algorithm::direct);
      BOOST_TEST(error_field([&] { jit.get(with_algorithm(automatic, Algorithm::winograd_f4)); }) == "algo");
      Jit asks(JitOptions{.backend = target.backend, .isa = target.isa, .threads = 1,
                          .algo = Algorithm::winograd});
      BOOST_TEST(asks.get(automatic)->algorithm() == Algorithm::direct);
    }
  }
}

BOOST_AUTO_TEST_CASE(jit_option_asks_for_winograd_only_where_the_shape_allows_it) {
  for (const JitTarget& target : winograd_targets()) {
    Jit jit(JitOptions{.backend = target.backend, .isa = target.isa, .threads = 1,
                       .algo = Algorithm::winograd_f2});
    BOOST_TEST(jit.get(parse_shape("c=8,h=9,w=9,oc=8,k=3,p=1"))->algorithm() == Algorithm::winograd_f2);
    BOOST_TEST(jit.get(parse_shape("c=8,h=9,w=9,oc=8,k=3,s=2,p=1"))->algorithm() == Algorithm::direct);
    // The spec's own algo wins over the option.
    BOOST_TEST(jit.get(parse_shape("c=8,h=9,w=9,oc=8,k=3,p=1,algo=direct"))->algorithm() == Algorithm::direct);
  }
}

BOOST_AUTO_TEST_SUITE_END()
