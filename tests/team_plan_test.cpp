// Plans made for a team of threads, checked on paper (no code runs), so scaling past this
// machine's cores is pinned too: every layer of the network lists shares out evenly among 16
// threads, Winograd cuts an image into blocks for the team, and the choice of algorithm weighs
// what the busiest thread does.
#define BOOST_TEST_MODULE team_plan
#include <boost/test/unit_test.hpp>

#include "bench/shapes_file.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"
#include "generator/work_split.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <filesystem>
#include <string>

using namespace convjit;

namespace {

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

std::filesystem::path networks_dir() {
  return std::filesystem::path(testing::shapes_file_path()).parent_path() / "networks";
}

// The busiest thread's items over the mean, as run() would share one image out.
double imbalance(const KernelPlan& plan, int threads) {
  const WorkSplit split = split_work(1, plan.work.units, plan.work.channel_tiles, true, threads);
  const double items = static_cast<double>(split.items());
  double busiest = 0;
  for (int t = 0; t < threads; ++t)
    busiest = std::max(busiest, static_cast<double>(split.share_begin(t + 1, threads) - split.share_begin(t, threads)));
  return busiest / (items / threads);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// ResNet's 256-channel 3x3 layer at 14x14: F(4x4) has 16 tiles, one block for one thread.
const char* const kSmallImageBigWeights = "c=256,h=14,w=14,oc=256,k=3,p=1";

}  // namespace

BOOST_AUTO_TEST_SUITE(team_plans)

BOOST_AUTO_TEST_CASE(every_network_layer_of_ten_mflop_shares_out_among_sixteen_threads) {
  int layers = 0;
  for (const char* file : {"resnet50.txt", "mobilenet_v2.txt", "vgg16.txt", "efficientnet_b0.txt",
                           "regnet_y_400mf.txt", "googlenet.txt"})
    for (const bench::ShapeEntry& e : bench::load_shape_entries((networks_dir() / file).string())) {
      if (e.shape.flops() < 1e7) continue;
      for (const Isa isa : {Isa::avx2, Isa::avx512}) {
        const KernelPlan plan = make_plan(e.shape, isa, Algorithm::automatic, 16);
        BOOST_TEST(imbalance(plan, 16) <= 1.25, file << " " << e.name << " " << plan.name << ": "
                                                     << plan.work.units << " " << plan.work.unit << "s x "
                                                     << plan.work.channel_tiles << " channel tiles");
        BOOST_TEST(plan.threads == 16);
        ++layers;
      }
    }
  BOOST_TEST(layers > 200);
}

BOOST_AUTO_TEST_CASE(winograd_cuts_an_image_into_a_multiple_of_the_team_where_its_tiles_allow) {
  const ConvShape s = shape_of(kSmallImageBigWeights);
  const KernelPlan alone = make_winograd_plan(s, Isa::avx512, 4);
  BOOST_TEST(alone.work.units == 1);
  for (const int threads : {2, 4, 8, 16}) {
    const KernelPlan team = make_winograd_plan(s, Isa::avx512, 4, 0, threads);
    BOOST_TEST(team.work.units % threads == 0, threads << " threads: " << team.work.units << " blocks");
    BOOST_TEST(imbalance(team, threads) == 1.0);
    BOOST_TEST(has(team.name, "_b" + std::to_string(team.winograd.block_tiles) + "_"), team.name);
    BOOST_TEST(team.name != alone.name);
  }
  // Never more blocks than tiles: 16 tiles for 32 threads are 16 blocks of one.
  const KernelPlan many = make_winograd_plan(s, Isa::avx512, 4, 0, 32);
  BOOST_TEST(many.work.units == 16);
  BOOST_TEST(many.winograd.block_tiles == 1);
}

BOOST_AUTO_TEST_CASE(a_plan_that_already_shares_out_evenly_is_the_single_threads) {
  const ConvShape s = shape_of("c=64,h=56,w=56,oc=64,k=3,p=1");
  const KernelPlan alone = make_winograd_plan(s, Isa::avx2, 4);
  BOOST_REQUIRE(alone.work.units % 2 == 0);
  const KernelPlan pair = make_winograd_plan(s, Isa::avx2, 4, 0, 2);
  BOOST_TEST(pair.name == alone.name);
  BOOST_TEST(pair.work.units == alone.work.units);
}

BOOST_AUTO_TEST_CASE(the_choice_of_algorithm_weighs_the_busiest_threads_share) {
  const ConvShape s = shape_of(kSmallImageBigWeights);
  const KernelPlan alone = make_plan(s, Isa::avx512, Algorithm::automatic, 1);
  BOOST_TEST((alone.strategy == Strategy::winograd), alone.algorithm_choice);
  // Sixteen blocks of one tile would stream the weights once per tile: direct's rows and
  // channel tiles share out better.
  const KernelPlan sixteen = make_plan(s, Isa::avx512, Algorithm::automatic, 16);
  BOOST_TEST((sixteen.strategy != Strategy::winograd), sixteen.algorithm_choice);
  BOOST_TEST(has(sixteen.algorithm_choice, "busiest of 16 threads"), sixteen.algorithm_choice);
  BOOST_TEST(has(sixteen.describe(), "threads    planned for 16"), sixteen.describe());
  BOOST_TEST(busiest_thread_share(alone, 1) == 1.0);
}

BOOST_AUTO_TEST_CASE(candidates_are_planned_for_the_team) {
  const ConvShape s = shape_of(kSmallImageBigWeights);
  const Isa isas[] = {Isa::avx2};
  for (const PlanCandidate& c : plan_candidates(s, Algorithm::automatic, Isa::avx2, isas, 2)) {
    BOOST_TEST(c.plan.threads == 2, c.plan.name);
    if (c.plan.strategy == Strategy::winograd) BOOST_TEST(c.plan.work.units % 2 == 0, c.plan.name);
  }
}

BOOST_AUTO_TEST_CASE(a_jit_plans_for_its_threads) {
  const ConvShape s = shape_of(kSmallImageBigWeights);
  for (const int threads : {1, 2}) {
    Jit jit(JitOptions{.backend = Backend::xbyak, .isa = Isa::avx2, .threads = threads, .tune = Tuning::off});
    const auto kernel = jit.compile(s);
    BOOST_TEST(has(kernel->describe(), "planned for 2") == (threads == 2),
               kernel->describe());
  }
}

BOOST_AUTO_TEST_SUITE_END()
