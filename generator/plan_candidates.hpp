#pragma once
// PlanCandidate: one of the kernels the planner could build for a shape, with the cost
// model's estimate. The tuner (runtime/tuner.hpp) times the best-ranked few and keeps the
// fastest; without tuning the first one is the kernel. Pure data, like KernelPlan: this
// decides what may be tried, never what is emitted.
#include "generator/plan.hpp"

#include <convjit/backend.hpp>
#include <convjit/shape.hpp>

#include <span>
#include <string>
#include <vector>

namespace convjit {

struct PlanCandidate {
  KernelPlan plan;
  double estimated_cycles = 0;  // the plan's, per image on one thread
  // Why it is on the list: "the cost model's pick", "best avx512 zmm direct", ...
  std::string why;
  // What kind of kernel: instruction set, vector shape and algorithm, e.g. "avx512 ymm32
  // winograd_f4". Candidates of one family differ only in their register tile.
  std::string family;
};

// Every kernel the planner can build for `shape` with one of `isas` (avx2, avx512, neon),
// ranked:
//  1. make_plan(shape, model_isa), the cost model's own pick (model_isa must be in isas);
//  2. the cheapest candidate of every other family, by estimate: each vector shape of each
//     instruction set (avx2 ymm; avx512 zmm and ymm with 32 registers), each algorithm the
//     shape's algo allows (direct; Winograd F2/F4/F6 where winograd_ineligibility is empty:
//     all three for auto and winograd, one for winograd_fM, none for direct), and for direct
//     each memory variant (direct_memory_variants: staged NCHW, bands of rows);
//  3. the rest by estimate: direct plans with the runner-up register tiles of their family.
// No two candidates have the same kernel name (which spells isa, vector shape, algorithm
// and tile). `algorithm` is what was asked for (algorithm_policy.hpp says which kernels it
// allows; without it, the shape's algo); every plan keeps the shape as given. `threads`: the
// team the kernels will run with (KernelPlan::threads).
std::vector<PlanCandidate> plan_candidates(const ConvShape& shape, Algorithm algorithm,
                                           Isa model_isa, std::span<const Isa> isas, int threads = 1);
std::vector<PlanCandidate> plan_candidates(const ConvShape& shape, Isa model_isa,
                                           std::span<const Isa> isas);

// The family of a plan, as PlanCandidate::family spells it.
std::string plan_family(const KernelPlan& plan);

}  // namespace convjit
