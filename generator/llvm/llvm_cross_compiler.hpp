#pragma once
// Ahead-of-time compilation of a plan's LLVM IR for any target LLVM was built with (e.g.
// "aarch64-linux-gnu"): the same IR the JIT compiles for the host, turned into assembly text
// and an object file. Nothing runs; this shows the IR is portable. No LLVM types here, so
// tests and tools include it without LLVM's headers.
#include "generator/plan.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convjit {

struct CrossCompiledKernel {
  std::string triple;
  std::string ir;                   // the optimised module
  std::string assembly;             // the target's assembly text
  std::vector<std::uint8_t> object; // an object file for the target
};

// cpu "" means the target's generic CPU; features as in llc's -mattr ("+neon,...").
// Throws convjit::Error("llvm", ...) when LLVM lacks the target.
CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const std::string& triple,
                                         const std::string& cpu = "",
                                         const std::string& features = "");

}  // namespace convjit
