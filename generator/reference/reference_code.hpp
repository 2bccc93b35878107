#pragma once
// The reference backend's factory: the oracle's plain loops (core/reference.hpp) behind the
// KernelCode interface, reading weights in the user's layout.
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"

#include <memory>

namespace convjit {

std::shared_ptr<const KernelCode> make_reference_code(const KernelPlan& plan);

}  // namespace convjit
