#pragma once
// One factory per backend; each turns a plan into executable KernelCode.
#include <convjit/jit.hpp>

#include "generator/plan.hpp"
#include "runtime/kernel_code.hpp"

#include <memory>

namespace convjit {

std::shared_ptr<const KernelCode> make_reference_code(const KernelPlan& plan);
std::shared_ptr<const KernelCode> make_generic_code(const KernelPlan& plan);
std::shared_ptr<const KernelCode> make_xbyak_code(const KernelPlan& plan);
// LLVM IR from the plan, compiled by ORC's LLJIT for the host CPU (generator/llvm/).
std::shared_ptr<const KernelCode> make_llvm_code(const KernelPlan& plan);

// Dispatches on a concrete backend (not `automatic`); throws convjit::Error("backend", …)
// for one this build or CPU cannot run.
std::shared_ptr<const KernelCode> make_code(const KernelPlan& plan, Backend backend);

bool cpu_has_avx2_fma();

}  // namespace convjit
