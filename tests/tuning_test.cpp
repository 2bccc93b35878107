// Tuning at first use: which candidates are timed, which one wins, and that every kernel it
// can choose computes the convolution. The only suite that runs with tuning on.
#define BOOST_TEST_MODULE tuning
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"
#include "runtime/backends.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/tuner.hpp"
#include "tests/support/test_support.hpp"

#include <stdlib.h>

#include <random>
#include <string>

using namespace convjit;
using testing::JitTarget;

namespace {

const char* const kEligible = "c=32,h=20,w=20,oc=32,k=3,p=1";

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

std::shared_ptr<const Kernel> compile(const char* spec, Tuning tune, Isa isa = Isa::automatic,
                                      Backend backend = Backend::xbyak) {
  Jit jit(JitOptions{.backend = backend, .isa = isa, .threads = 1, .tune = tune});
  return jit.compile(shape_of(spec));
}

const TuningReport& report_of(const Kernel& kernel) {
  BOOST_REQUIRE(kernel.state().tuning != nullptr);
  return *kernel.state().tuning;
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.empty()) ::unsetenv(name_);
    else ::setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(choice)

BOOST_AUTO_TEST_CASE(off_builds_the_cost_models_pick_and_reports_no_tuning) {
  const auto kernel = compile(kEligible, Tuning::off);
  BOOST_TEST(kernel->name() == make_plan(shape_of(kEligible), Jit(JitOptions{.backend = Backend::xbyak}).isa()).name);
  BOOST_TEST(kernel->state().tuning == nullptr);
  BOOST_TEST(kernel->describe().find("tuning") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_first_candidate_timed_is_the_cost_models_pick) {
  const auto kernel = compile(kEligible, Tuning::fast);
  const TuningReport& r = report_of(*kernel);
  BOOST_TEST(r.candidates.front().why == "the cost model's pick");
  BOOST_TEST(r.candidates.front().name == compile(kEligible, Tuning::off)->name());
}

BOOST_AUTO_TEST_CASE(the_winner_is_the_fastest_unless_the_pick_is_within_the_noise) {
  for (int i = 0; i < 3; ++i) {
    const auto kernel = compile(kEligible, Tuning::fast);
    const TuningReport& r = report_of(*kernel);
    double fastest = r.candidates.front().median_us;
    for (const TunedCandidate& c : r.candidates)
      if (c.rejected.empty() && c.median_us >= 0) fastest = std::min(fastest, c.median_us);
    const TunedCandidate& won = r.candidates.at(r.winner);
    BOOST_TEST(kernel->name() == won.name);
    BOOST_TEST(won.rejected.empty());
    if (r.winner == 0)
      BOOST_TEST(won.median_us <= (1 + Tuner::kNoise) * fastest, r.describe());
    else
      BOOST_TEST((won.median_us == fastest && r.candidates[0].median_us > (1 + Tuner::kNoise) * fastest),
                 r.describe());
  }
}

BOOST_AUTO_TEST_CASE(fast_times_at_most_four_candidates_and_ten_calls_each_on_tiny_shapes) {
  const TuningReport r = report_of(*compile("c=8,h=8,w=8,oc=8,k=3,p=1", Tuning::fast));
  BOOST_TEST(r.candidates.size() <= 4u);
  BOOST_TEST(r.candidates.size() >= 2u, r.describe());
  for (const TunedCandidate& c : r.candidates) BOOST_TEST(c.calls + 1 <= 10, c.name);
  // 20 ms of budget, with room for a loaded machine.
  BOOST_TEST(r.tuning_us < 100000, r.describe());
}

BOOST_AUTO_TEST_CASE(full_times_more_candidates_than_fast) {
  const auto fast = report_of(*compile(kEligible, Tuning::fast));
  const auto full = report_of(*compile(kEligible, Tuning::full));
  BOOST_TEST(full.candidates.size() > fast.candidates.size(), full.describe());
}

BOOST_AUTO_TEST_CASE(tuning_time_counts_in_the_generation_time_and_describe_lists_it) {
  const auto kernel = compile(kEligible, Tuning::fast);
  const TuningReport& r = report_of(*kernel);
  BOOST_TEST(kernel->generation_us() >= r.tuning_us);
  const std::string text = kernel->describe();
  BOOST_TEST(text.find("(tuning included)") != std::string::npos, text);
  BOOST_TEST(text.find("tuning     fast") != std::string::npos, text);
  BOOST_TEST(text.find("  * ") != std::string::npos, text);
  for (const TunedCandidate& c : r.candidates) BOOST_TEST(text.find(c.name) != std::string::npos, c.name);
}

BOOST_AUTO_TEST_CASE(an_explicit_isa_is_the_only_one_tuned, *boost::unit_test::precondition(testing::cpu_runs_avx512)) {
  for (const Isa isa : {Isa::avx2, Isa::avx512}) {
    const TuningReport r = report_of(*compile(kEligible, Tuning::full, isa));
    for (const TunedCandidate& c : r.candidates)
      BOOST_TEST(c.family.rfind(std::string(to_string(isa)) + " ", 0) == 0, c.family);
  }
}

BOOST_AUTO_TEST_CASE(an_isa_from_the_environment_is_the_only_one_tuned) {
  const ScopedEnv env("CONVJIT_ISA", "avx2");
  const TuningReport r = report_of(*compile(kEligible, Tuning::full));
  for (const TunedCandidate& c : r.candidates) BOOST_TEST(c.family.rfind("avx2 ", 0) == 0, c.family);
}

BOOST_AUTO_TEST_CASE(an_explicit_algorithm_is_the_only_one_tuned) {
  const auto direct = compile("c=32,h=20,w=20,oc=32,k=3,p=1,algo=direct", Tuning::full);
  for (const TunedCandidate& c : report_of(*direct).candidates)
    BOOST_TEST(c.family.find("winograd") == std::string::npos, c.family);
  const auto f2 = compile("c=32,h=20,w=20,oc=32,k=3,p=1,algo=winograd_f2", Tuning::full);
  for (const TunedCandidate& c : report_of(*f2).candidates)
    BOOST_TEST(c.family.find("winograd_f2") != std::string::npos, c.family);
}

BOOST_AUTO_TEST_CASE(the_ahead_of_time_backends_are_not_tuned) {
  for (const Backend backend : {Backend::generic, Backend::reference})
    BOOST_TEST(compile(kEligible, Tuning::full, Isa::automatic, backend)->state().tuning == nullptr);
}

BOOST_AUTO_TEST_CASE(candidates_of_one_packed_format_run_on_weights_packed_once) {
  const TuningReport r = report_of(*compile("c=64,h=56,w=56,oc=64,k=3,p=1,algo=direct", Tuning::full));
  BOOST_TEST(!r.candidates.front().shared_weights);
  int shared = 0;
  for (const TunedCandidate& c : r.candidates) {
    shared += c.shared_weights;
    // Weights packed for another kernel of the same format compute the same convolution.
    if (c.shared_weights) BOOST_TEST(c.rejected.empty(), c.name << ": " << c.rejected);
  }
  BOOST_TEST(shared > 0, r.describe());
  BOOST_TEST(r.describe().find("weights shared") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_team_times_candidates_planned_and_run_with_its_threads) {
  Jit jit(JitOptions{.backend = Backend::xbyak, .isa = Isa::avx2, .threads = 2, .tune = Tuning::full});
  const auto kernel = jit.compile(shape_of("c=256,h=14,w=14,oc=256,k=3,p=1"));
  const TuningReport& r = report_of(*kernel);
  BOOST_TEST(r.threads == 2);
  BOOST_TEST(r.describe().find("full, 2 threads") != std::string::npos, r.describe());
  BOOST_TEST(kernel->state().plan->threads == 2);
  BOOST_TEST(report_of(*compile(kEligible, Tuning::fast)).threads == 1);
}

BOOST_AUTO_TEST_CASE(fast_does_not_tune_llvm_kernels_whose_generation_alone_exceeds_the_budget) {
  BOOST_TEST(compile("c=8,h=8,w=8,oc=8,k=3,p=1", Tuning::fast, Isa::automatic, Backend::llvm)
                 ->state().tuning == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(the_environment_chooses_the_mode_and_fast_is_the_default) {
  {
    const ScopedEnv env("CONVJIT_TUNE", "full");
    BOOST_TEST((resolve_tuning(Tuning::automatic) == Tuning::full));
    BOOST_TEST((resolve_tuning(Tuning::off) == Tuning::off));
    BOOST_TEST((Jit(JitOptions{.backend = Backend::xbyak}).tuning() == Tuning::full));
  }
  {
    const ScopedEnv env("CONVJIT_TUNE", "");
    BOOST_TEST((resolve_tuning(Tuning::automatic) == Tuning::fast));
  }
}

BOOST_AUTO_TEST_CASE(a_bad_mode_names_the_tune_field) {
  BOOST_TEST(testing::error_field([] { parse_tuning("fastest"); }) == "tune");
  const ScopedEnv env("CONVJIT_TUNE", "always");
  BOOST_TEST(testing::error_field([] { Jit jit(JitOptions{.backend = Backend::xbyak}); }) == "tune");
}

BOOST_AUTO_TEST_CASE(the_suites_run_with_tuning_off_unless_told_otherwise) {
  BOOST_TEST(testing::tuning_is_off_by_default());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(differential)

// Whatever tuning picks must compute the convolution: full tuning of random shapes (every
// kind testing::random_shape draws) and of Winograd-eligible ones, against the reference.
BOOST_AUTO_TEST_CASE(fully_tuned_kernels_match_the_reference_on_random_shapes) {
  std::mt19937_64 rng(2026);
  testing::RandomShapeLimits limits;
  limits.max_flops = 1e6;
  for (int i = 0; i < 24; ++i)
    testing::check_backend_matches_reference(testing::random_shape(rng, limits),
                                             JitTarget(Backend::xbyak, Isa::automatic, Tuning::full), 100 + i);
}

BOOST_AUTO_TEST_CASE(fully_tuned_kernels_match_the_reference_on_winograd_eligible_shapes) {
  std::mt19937_64 rng(6);
  std::uniform_int_distribution<int> size(3, 24), channels(1, 40), layout(0, 1), add(0, 1);
  for (int i = 0; i < 12; ++i) {
    const std::string spec = "c=" + std::to_string(channels(rng)) + ",h=" + std::to_string(size(rng)) +
                             ",w=" + std::to_string(size(rng)) + ",oc=" + std::to_string(channels(rng)) +
                             ",k=3,p=1" + (layout(rng) ? ",layout=nchw" : "") + (add(rng) ? ",act=relu" : "");
    testing::check_backend_matches_reference(shape_of(spec.c_str()),
                                             JitTarget(Backend::xbyak, Isa::automatic, Tuning::full), 300 + i);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(candidates)

// Not only the winners: every kernel tuning may time, built and run alone.
BOOST_AUTO_TEST_CASE(every_candidate_of_every_family_matches_the_reference) {
  const std::vector<Isa> isas = available_isas();
  for (const char* spec : {"c=13,h=11,w=9,oc=21,k=3,p=1", "c=24,h=7,w=12,oc=8,k=3,p=1,layout=nchw",
                           "c=16,h=10,w=10,oc=16,k=3,p=1,g=16", "c=9,h=15,w=15,oc=17,k=5,s=2"}) {
    const ConvShape s = shape_of(spec);
    const auto src = testing::random_floats(static_cast<std::size_t>(s.src_elems()), 1);
    const auto weights = testing::random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
    const auto bias = testing::random_floats(static_cast<std::size_t>(s.oc), 3);
    std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, src.data(), weights.data(), bias.data(), expected.data());
    for (const PlanCandidate& c : plan_candidates(s, isas.back(), isas)) {
      const auto kernel = make_kernel(std::make_shared<const KernelPlan>(c.plan),
                                      make_code(c.plan, Backend::xbyak), 0, 1);
      std::vector<float> dst(expected.size());
      kernel->run(src.data(), kernel->pack_weights(weights.data(), bias.data()), dst.data());
      const testing::Comparison cmp =
          testing::compare_outputs(s, dst.data(), expected.data(), dst.size(), kernel->algorithm());
      BOOST_TEST(cmp.ok(), spec << " " << c.plan.name << ": error " << cmp.max_error << " > " << cmp.tolerance);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
