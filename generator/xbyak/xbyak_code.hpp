#pragma once
// The Xbyak backend's factory: x86-64 machine code (AVX2 or AVX-512) emitted from the plan's
// schedule, in W^X memory of its own.
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"

#include <memory>

namespace convjit {

std::shared_ptr<const KernelCode> make_xbyak_code(const KernelPlan& plan);

}  // namespace convjit
