#pragma once
// The steps from a plan to machine code that the JIT and the cross-compiler share:
// IR from the plan (LlvmEmitter, verified), the new-pass-manager optimisation pipeline, and
// code generation into memory. Nothing here executes generated code.
#include "generator/plan.hpp"

#include <llvm/ADT/SmallVector.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/CodeGen.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>

namespace convjit {

// A module for `target` (triple and data layout) holding the plan's kernel as `symbol`.
// Throws convjit::Error("llvm", ...) when the emitted IR does not verify.
std::unique_ptr<llvm::Module> build_kernel_module(const KernelPlan& plan, const std::string& symbol,
                                                  llvm::LLVMContext& context,
                                                  const llvm::TargetMachine& target);

// The IR-level optimisation, on the new pass manager: early CSE over memory SSA (the same
// input element is loaded by neighbouring columns' taps; address arithmetic repeats) and
// CFG simplification. That is all the emitted IR needs: it is already vector code with the
// plan's unrolling and register tiling. Measured on the benchmark shapes, the default O3
// pipeline produced kernels of the same speed (within noise) and doubled compile time
// (InstCombine, GVN, LICM and IndVarSimplify on kernels of 3,000-7,000 instructions).
// Code generation (generate_code) still runs at CodeGenOpt::Aggressive.
void optimize_module(llvm::Module& module, llvm::TargetMachine& target);

// Object file or assembly text. `target` must not be used by another thread meanwhile.
llvm::SmallVector<char, 0> generate_code(llvm::Module& module, llvm::TargetMachine& target,
                                         llvm::CodeGenFileType type);

// The module as text.
std::string module_text(const llvm::Module& module);

}  // namespace convjit
