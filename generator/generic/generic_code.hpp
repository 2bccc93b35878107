#pragma once
// The generic backend's factory: the plan's blocking compiled ahead of time (AVX2+FMA), with
// runtime loop bounds and per-tap border checks: "what you would write without a JIT". It
// runs direct 8-lane plans only.
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"

#include <memory>

namespace convjit {

std::shared_ptr<const KernelCode> make_generic_code(const KernelPlan& plan);

}  // namespace convjit
