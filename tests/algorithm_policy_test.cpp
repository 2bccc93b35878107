// Which algorithms may compute a shape, decided in one place (generator/algorithm_policy.hpp)
// and read by the planner, the tuning candidates and the Jit. Pure data: no code runs.
#define BOOST_TEST_MODULE algorithm_policy
#include <boost/test/unit_test.hpp>

#include "generator/algorithm_policy.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"

#include <convjit/error.hpp>

#include <vector>

using namespace convjit;

namespace {

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

const char* kEligible = "c=16,h=14,w=14,oc=16,k=3,p=1";
const char* kStrided = "c=16,h=14,w=14,oc=16,k=3,s=2,p=1";

bool refuses_algo(auto&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.field() == "algo";
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(algorithm_policy)

BOOST_AUTO_TEST_CASE(the_specs_algorithm_wins_over_the_jits_default) {
  ConvShape s = shape_of(kEligible);
  s.algo = Algorithm::direct;
  BOOST_TEST((requested_algorithm(s, Backend::xbyak, Algorithm::winograd_f4) == Algorithm::direct));
  s.algo = Algorithm::winograd_f2;
  BOOST_TEST((requested_algorithm(s, Backend::llvm, Algorithm::direct) == Algorithm::winograd_f2));
}

BOOST_AUTO_TEST_CASE(a_jits_winograd_default_applies_only_where_winograd_can_serve) {
  BOOST_TEST((requested_algorithm(shape_of(kEligible), Backend::xbyak, Algorithm::winograd) ==
              Algorithm::winograd));
  BOOST_TEST((requested_algorithm(shape_of(kStrided), Backend::xbyak, Algorithm::winograd) ==
              Algorithm::automatic));
  BOOST_TEST((requested_algorithm(shape_of(kStrided), Backend::xbyak, Algorithm::direct) ==
              Algorithm::direct));
}

BOOST_AUTO_TEST_CASE(backends_without_winograd_plan_direct_and_refuse_a_winograd_spec) {
  BOOST_TEST((requested_algorithm(shape_of(kEligible), Backend::generic, Algorithm::winograd) ==
              Algorithm::direct));
  ConvShape s = shape_of(kEligible);
  s.algo = Algorithm::winograd_f4;
  BOOST_TEST(refuses_algo([&] { requested_algorithm(s, Backend::reference, Algorithm::automatic); }));
  BOOST_TEST(!backend_traits(Backend::generic).winograd);
  BOOST_TEST(backend_traits(Backend::llvm).winograd);
}

BOOST_AUTO_TEST_CASE(tuning_reaches_xbyak_from_fast_and_llvm_only_at_full) {
  BOOST_TEST(backend_traits(Backend::xbyak).tunes(Tuning::fast));
  BOOST_TEST(!backend_traits(Backend::xbyak).tunes(Tuning::off));
  BOOST_TEST(!backend_traits(Backend::llvm).tunes(Tuning::fast));
  BOOST_TEST(backend_traits(Backend::llvm).tunes(Tuning::full));
  BOOST_TEST(!backend_traits(Backend::reference).tunes(Tuning::full));
}

BOOST_AUTO_TEST_CASE(winograd_tiles_follow_the_requested_algorithm) {
  const ConvShape s = shape_of(kEligible);
  BOOST_TEST((winograd_tiles(s, Isa::avx2, Algorithm::automatic) == std::vector<int>{2, 4, 6}));
  BOOST_TEST((winograd_tiles(s, Isa::avx512, Algorithm::winograd_f4) == std::vector<int>{4}));
  BOOST_TEST(winograd_tiles(s, Isa::avx2, Algorithm::direct).empty());
  BOOST_TEST(winograd_tiles(shape_of(kStrided), Isa::avx2, Algorithm::automatic).empty());
}

BOOST_AUTO_TEST_CASE(neon_plans_are_direct_under_auto_and_refuse_a_winograd_request) {
  const ConvShape s = shape_of(kEligible);
  BOOST_TEST(winograd_tiles(s, Isa::neon, Algorithm::automatic).empty());
  BOOST_TEST(!winograd_ineligibility(s, Isa::neon).empty());
  BOOST_TEST(refuses_algo([&] { winograd_tiles(s, Isa::neon, Algorithm::winograd); }));
  BOOST_TEST(refuses_algo([&] { make_plan(s, Isa::neon, Algorithm::winograd_f2); }));
}

BOOST_AUTO_TEST_CASE(the_plan_keeps_the_shape_as_given_whatever_algorithm_is_asked) {
  const ConvShape s = shape_of(kEligible);  // algo=auto
  const KernelPlan winograd = make_plan(s, Isa::avx2, Algorithm::winograd_f4);
  BOOST_TEST((algorithm_of(winograd) == Algorithm::winograd_f4));
  BOOST_TEST((winograd.shape.algo == Algorithm::automatic));
  const KernelPlan direct = make_plan(s, Isa::avx2, Algorithm::direct);
  BOOST_TEST((algorithm_of(direct) == Algorithm::direct));
  BOOST_TEST((direct.shape == s));
  for (const PlanCandidate& c : plan_candidates(s, Algorithm::winograd_f2, Isa::avx2, std::vector<Isa>{Isa::avx2})) {
    BOOST_TEST((algorithm_of(c.plan) == Algorithm::winograd_f2), c.plan.name);
    BOOST_TEST((c.plan.shape.algo == Algorithm::automatic));
  }
}

BOOST_AUTO_TEST_SUITE_END()
