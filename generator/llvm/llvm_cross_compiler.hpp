#pragma once
// Ahead-of-time compilation of a plan's LLVM IR for any target LLVM was built with (e.g.
// "aarch64-linux-gnu"): the same IR the JIT compiles for the host, turned into assembly text
// and an object file. This is how neon plans reach AArch64 (tests/aarch64_qemu_test.cpp links
// the objects into a program and runs it under qemu-aarch64). No LLVM types here, so tests
// and tools include it without LLVM's headers.
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

// What to compile for: cpu "" means the target's generic CPU; features as in llc's -mattr
// ("+neon,...").
struct CrossTarget {
  std::string triple;
  std::string cpu;
  std::string features;
};

// The target an instruction set names: neon is AArch64 Linux with NEON, avx2 and avx512 are
// x86-64 Linux on a CPU that has them (haswell, skylake-avx512).
CrossTarget cross_target(Isa isa);

// The kernel is exported as `symbol` (`void symbol(const KernelCallArgs*)`), so objects of
// several plans, whose names need not differ, can be linked into one program.
// Throws convjit::Error("llvm", ...) when LLVM lacks the target.
CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const CrossTarget& target,
                                         const std::string& symbol);
// The same, exported under the plan's name.
CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const std::string& triple,
                                         const std::string& cpu = "",
                                         const std::string& features = "");

}  // namespace convjit
