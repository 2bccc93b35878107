#include "generator/plan_candidates.hpp"

#include "generator/algorithm_policy.hpp"
#include "generator/winograd_transform.hpp"

#include <convjit/error.hpp>

#include <algorithm>
#include <set>

namespace convjit {
namespace {

// Runner-up register tiles per direct family: enough to catch a tile the model misjudges,
// few enough that `full` tuning stays within its budget.
constexpr int kRunnerUpTiles = 2;

PlanCandidate candidate(KernelPlan plan, std::string why) {
  PlanCandidate c;
  c.estimated_cycles = plan.estimated_cycles;
  c.family = plan_family(plan);
  c.plan = std::move(plan);
  c.why = std::move(why);
  return c;
}

}  // namespace

std::string plan_family(const KernelPlan& plan) {
  std::string family(to_string(plan.isa));
  if (plan.isa == Isa::avx512) family += plan.lanes == 16 ? " zmm" : " ymm32";
  family += plan.strategy == Strategy::winograd ? " winograd_f" + std::to_string(plan.winograd.m)
                                                : std::string(" direct");
  // Staging, bands, channel passes and wide depthwise tiles are families of their own, so tuning
  // times them beside the rest.
  if (plan.strategy != Strategy::winograd && plan.stages_nchw()) family += " staged";
  if (plan.work.band_units > 0) family += " banded";
  if (plan.ic_passes > 1) family += " channel passes";
  if (is_wide_depthwise_tile(plan)) family += " wide tile";
  return family;
}

std::vector<PlanCandidate> plan_candidates(const ConvShape& shape, Isa model_isa,
                                           std::span<const Isa> isas) {
  return plan_candidates(shape, shape.algo, model_isa, isas);
}

std::vector<PlanCandidate> plan_candidates(const ConvShape& shape, Algorithm algorithm,
                                           Isa model_isa, std::span<const Isa> isas, int threads) {
  if (std::find(isas.begin(), isas.end(), model_isa) == isas.end())
    throw Error("isa", "the model's instruction set must be among the candidates'");
  std::vector<PlanCandidate> first{
      candidate(make_plan(shape, model_isa, algorithm, threads), "the cost model's pick")};
  std::vector<PlanCandidate> others;
  for (const Isa isa : isas) {
    if (direct_allowed(algorithm))
      for (const DirectMemory memory : direct_memory_variants(shape, isa))
        for (const VectorShape vectors : vector_shapes(isa))
          for (int rank = 0; rank <= kRunnerUpTiles; ++rank)
            if (auto plan = make_direct_plan_with(shape, isa, vectors, rank, memory, threads)) {
              others.push_back(candidate(std::move(*plan), rank == 0 ? "best tile" : "runner-up tile"));
            }
    if (direct_allowed(algorithm))
      for (const DirectMemory memory : direct_memory_variants(shape, isa))
        for (const VectorShape vectors : vector_shapes(isa))
          if (auto plan = make_wide_depthwise_plan(shape, isa, vectors, memory, threads))
            others.push_back(candidate(std::move(*plan), "wide depthwise tile"));
    for (const int m : winograd_tiles(shape, isa, algorithm))
      for (const int lanes : isa == Isa::avx512 ? std::vector<int>{16, 8} : std::vector<int>{8})
        others.push_back(candidate(make_winograd_plan(shape, isa, m, lanes, threads), "winograd"));
  }
  std::stable_sort(others.begin(), others.end(), [](const PlanCandidate& a, const PlanCandidate& b) {
    return a.estimated_cycles < b.estimated_cycles;
  });
  // Ranked: the pick, then each other family's cheapest, then the rest; no name twice.
  std::vector<PlanCandidate> ranked = std::move(first);
  std::set<std::string> names{ranked.front().plan.name}, families{ranked.front().family};
  std::vector<PlanCandidate> rest;
  for (PlanCandidate& c : others) {
    if (names.count(c.plan.name)) continue;
    names.insert(c.plan.name);
    if (families.insert(c.family).second) {
      c.why = "cheapest " + c.family;
      ranked.push_back(std::move(c));
    } else {
      rest.push_back(std::move(c));
    }
  }
  for (PlanCandidate& c : rest) ranked.push_back(std::move(c));
  return ranked;
}

}  // namespace convjit
