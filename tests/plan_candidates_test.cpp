// The planner's candidates for tuning: pure data, checked without running any machine code.
#define BOOST_TEST_MODULE plan_candidates
#include <boost/test/unit_test.hpp>

#include "generator/plan_candidates.hpp"
#include "tests/support/test_support.hpp"

#include <random>
#include <set>
#include <vector>

using namespace convjit;

namespace {

const std::vector<Isa> kAvx2{Isa::avx2};
const std::vector<Isa> kBoth{Isa::avx2, Isa::avx512};

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

std::vector<PlanCandidate> candidates_of(const char* spec, Isa model_isa = Isa::avx512,
                                         const std::vector<Isa>& isas = kBoth) {
  return plan_candidates(shape_of(spec), model_isa, isas);
}

bool any_winograd(const std::vector<PlanCandidate>& list) {
  for (const PlanCandidate& c : list)
    if (c.plan.strategy == Strategy::winograd) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_cost_models_pick_comes_first) {
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=1", "c=6,h=20,w=20,oc=6,k=5",
                           "c=32,h=16,w=16,oc=32,g=32,k=3,p=1", "c=16,h=9,w=9,oc=24,k=3,layout=nchw"})
    for (const Isa isa : {Isa::avx2, Isa::avx512}) {
      const auto list = candidates_of(spec, isa);
      BOOST_TEST_CONTEXT(spec << " " << to_string(isa)) {
        BOOST_TEST(list.front().plan.name == make_plan(shape_of(spec), isa).name);
        BOOST_TEST(list.front().why == "the cost model's pick");
      }
    }
}

BOOST_AUTO_TEST_CASE(no_two_candidates_build_the_same_kernel) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 200; ++i) {
    const ConvShape s = testing::random_shape(rng);
    std::set<std::string> names;
    for (const PlanCandidate& c : plan_candidates(s, Isa::avx512, kBoth))
      BOOST_TEST(names.insert(c.plan.name).second, s.to_string() << ": " << c.plan.name << " twice");
  }
}

BOOST_AUTO_TEST_CASE(ineligible_shapes_get_no_winograd_candidates) {
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=1,s=2", "c=64,h=56,w=56,oc=64,k=5,p=2",
                           "c=64,h=56,w=56,oc=64,k=3,p=2,d=2", "c=64,h=56,w=56,oc=64,k=3,p=1,g=2"})
    BOOST_TEST(!any_winograd(candidates_of(spec)), spec);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    const ConvShape s = testing::random_shape(rng);
    if (!winograd_ineligibility(s).empty())
      BOOST_TEST(!any_winograd(plan_candidates(s, Isa::avx512, kBoth)), s.to_string());
  }
}

BOOST_AUTO_TEST_CASE(eligible_shapes_offer_every_winograd_tile_size_beside_direct) {
  std::set<std::string> families;
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1")) families.insert(c.family);
  for (const char* family : {"avx2 direct", "avx2 winograd_f2", "avx2 winograd_f4", "avx2 winograd_f6",
                             "avx512 zmm direct", "avx512 ymm32 direct", "avx512 zmm winograd_f4",
                             "avx512 ymm32 winograd_f6"})
    BOOST_TEST(families.count(family) == 1u, family);
}

BOOST_AUTO_TEST_CASE(avx512_candidates_appear_only_when_asked_for) {
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::avx2, kAvx2))
    BOOST_TEST((c.plan.isa == Isa::avx2), c.plan.name);
  bool avx512 = false;
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::avx2, kBoth))
    avx512 = avx512 || c.plan.isa == Isa::avx512;
  BOOST_TEST(avx512);
}

BOOST_AUTO_TEST_CASE(an_explicit_algorithm_is_the_only_one_offered) {
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1,algo=direct"))
    BOOST_TEST(to_string(c.plan.strategy) != "winograd", c.plan.name);
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1,algo=winograd_f4")) {
    BOOST_TEST(to_string(c.plan.strategy) == "winograd");
    BOOST_TEST(c.plan.winograd.m == 4);
  }
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1,algo=winograd"))
    BOOST_TEST(to_string(c.plan.strategy) == "winograd", c.plan.name);
}

BOOST_AUTO_TEST_CASE(every_candidate_keeps_the_shapes_algo_key) {
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=1", "c=64,h=56,w=56,oc=64,k=3,p=1,algo=winograd"})
    for (const PlanCandidate& c : candidates_of(spec))
      BOOST_TEST((c.plan.shape.algo == shape_of(spec).algo), c.plan.name);
}

BOOST_AUTO_TEST_CASE(each_other_family_is_represented_before_any_runner_up_tile) {
  const auto list = candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1");
  std::set<std::string> seen;
  bool runner_up_seen = false;
  for (const PlanCandidate& c : list) {
    const bool new_family = seen.insert(c.family).second;
    if (!new_family) runner_up_seen = true;
    BOOST_TEST(!(new_family && runner_up_seen), c.family << " came after a runner-up");
  }
}

BOOST_AUTO_TEST_CASE(after_the_pick_each_section_is_ranked_by_estimate) {
  const auto list = candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1");
  std::set<std::string> seen{list.front().family};
  double previous_family = 0, previous_rest = 0;
  for (std::size_t i = 1; i < list.size(); ++i) {
    BOOST_TEST(list[i].estimated_cycles > 0);
    double& previous = seen.insert(list[i].family).second ? previous_family : previous_rest;
    BOOST_TEST(list[i].estimated_cycles >= previous, list[i].plan.name);
    previous = list[i].estimated_cycles;
  }
}

BOOST_AUTO_TEST_CASE(the_first_family_is_the_estimates_and_its_pick_has_the_best_tile) {
  // The pick and a forced plan of the same vector shape, memory variant and rank 0 are the
  // same kernel.
  const ConvShape s = shape_of("c=64,h=56,w=56,oc=64,k=3,p=1,algo=direct");
  const KernelPlan pick = make_plan(s, Isa::avx2);
  const DirectMemory memory{pick.stages_nchw(), pick.work.band_units > 0, pick.ic_passes > 1};
  const auto forced = make_direct_plan_with(s, Isa::avx2, VectorShape{8, 16}, 0, memory);
  BOOST_REQUIRE(forced.has_value());
  BOOST_TEST(forced->name == pick.name);
  BOOST_TEST(forced->estimated_cycles == pick.estimated_cycles);
  const auto runner_up = make_direct_plan_with(s, Isa::avx2, VectorShape{8, 16}, 1, memory);
  BOOST_REQUIRE(runner_up.has_value());
  BOOST_TEST(runner_up->name != pick.name);
  BOOST_TEST(runner_up->estimated_cycles >= pick.estimated_cycles);
}

BOOST_AUTO_TEST_CASE(neon_offers_direct_kernels_only) {
  const std::vector<Isa> neon{Isa::neon};
  for (const PlanCandidate& c : candidates_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::neon, neon)) {
    BOOST_TEST((c.plan.isa == Isa::neon));
    BOOST_TEST(to_string(c.plan.strategy) != "winograd");
  }
}

BOOST_AUTO_TEST_CASE(the_models_isa_must_be_among_the_candidates) {
  BOOST_CHECK_THROW(candidates_of("c=8,h=8,w=8,oc=8,k=3", Isa::avx512, kAvx2), Error);
}

BOOST_AUTO_TEST_CASE(depthwise_layers_offer_a_tile_spanning_two_cache_lines_of_each_pixel) {
  for (const Isa isa : {Isa::avx2, Isa::avx512}) {
    const auto list = candidates_of("c=32,h=112,w=112,oc=32,g=32,k=3,p=1", isa,
                                    isa == Isa::avx2 ? kAvx2 : kBoth);
    bool wide = false;
    for (const PlanCandidate& c : list) {
      const bool spans = 4 * std::min<std::int64_t>(c.plan.oc_tile * c.plan.lanes, 32) >= kWideDepthwiseTileBytes;
      BOOST_TEST(spans == (c.family.find(" wide tile") != std::string::npos), c.plan.name);
      wide = wide || spans;
    }
    BOOST_TEST(wide, to_string(isa));
  }
}

BOOST_AUTO_TEST_CASE(only_depthwise_pixels_of_two_lines_or_more_get_a_wide_tile) {
  const VectorShape zmm{16, 32};
  BOOST_TEST(!make_wide_depthwise_plan(shape_of("c=64,h=56,w=56,oc=64,k=3,p=1"), Isa::avx512, zmm));
  // 16 channels are one 64-byte zmm block, 20 are 80 bytes in two blocks: no tile spans two
  // lines of real channels.
  BOOST_TEST(!make_wide_depthwise_plan(shape_of("c=16,h=56,w=56,oc=16,g=16,k=3,p=1"), Isa::avx512, zmm));
  BOOST_TEST(!make_wide_depthwise_plan(shape_of("c=20,h=56,w=56,oc=20,g=20,k=3,p=1"), Isa::avx512, zmm));
  for (const PlanCandidate& c : candidates_of("c=20,h=56,w=56,oc=20,g=20,k=3,p=1"))
    BOOST_TEST(c.family.find(" wide tile") == std::string::npos, c.plan.name);
  const auto wide = make_wide_depthwise_plan(shape_of("c=144,h=56,w=56,oc=144,g=144,k=3,p=1"),
                                             Isa::avx512, zmm);
  BOOST_REQUIRE(wide.has_value());
  BOOST_TEST(wide->oc_tile >= 2);
  BOOST_TEST(is_wide_depthwise_tile(*wide));
}
