#include "generator/llvm/llvm_pipeline.hpp"

#include "generator/llvm/llvm_emitter.hpp"
#include "generator/llvm/llvm_winograd_emitter.hpp"

#include <convjit/error.hpp>

#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>

namespace convjit {
namespace {

// An avx2 plan compiled for an AVX-512 host must still be AVX2 code (JitOptions::isa, the
// benchmark's same-ISA mode): the function gets the host's features with AVX-512 switched
// off, which also rules out EVEX encodings, ymm16-31 and opmasks. Every function of the module
// gets them: a kernel's internal functions (shared row bodies, Winograd routines) are code of
// the same plan.
void keep_to_the_plans_instruction_set(llvm::Module& module, const KernelPlan& plan,
                                       const llvm::TargetMachine& target) {
  if (plan.isa != Isa::avx2 || !target.getTargetTriple().isX86()) return;
  std::string features;
  for (llvm::StringRef feature : llvm::split(target.getTargetFeatureString(), ',')) {
    if (feature.empty()) continue;
    if (feature.drop_front().startswith("avx512")) continue;
    features.append(features.empty() ? "" : ",").append(feature.str());
  }
  features.append(features.empty() ? "" : ",").append("-avx512f");
  for (llvm::Function& function : module) {
    if (function.isDeclaration()) continue;
    function.addFnAttr("target-cpu", target.getTargetCPU());
    function.addFnAttr("target-features", features);
  }
}

}  // namespace

std::unique_ptr<llvm::Module> build_kernel_module(const KernelPlan& plan, const std::string& symbol,
                                                  llvm::LLVMContext& context,
                                                  const llvm::TargetMachine& target) {
  auto module = std::make_unique<llvm::Module>(symbol, context);
  module->setTargetTriple(target.getTargetTriple().str());
  module->setDataLayout(target.createDataLayout());
  // The Winograd kernels have an emitter of their own; both translate the plan's schedule.
  if (plan.strategy == Strategy::winograd)
    LlvmWinogradEmitter(plan, make_winograd_schedule(plan), *module).emit(symbol);
  else
    LlvmEmitter(plan, make_schedule(plan), *module).emit(symbol);
  keep_to_the_plans_instruction_set(*module, plan, target);
  std::string problems;
  llvm::raw_string_ostream out(problems);
  if (llvm::verifyModule(*module, &out))
    throw Error("llvm", "the emitted IR of " + plan.name + " does not verify: " + out.str());
  return module;
}

void optimize_module(llvm::Module& module, llvm::TargetMachine& target) {
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager cgscc;
  llvm::ModuleAnalysisManager modules;
  llvm::PassBuilder builder(&target);
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  llvm::FunctionPassManager function_passes;
  function_passes.addPass(llvm::EarlyCSEPass(/*UseMemorySSA=*/true));
  function_passes.addPass(llvm::SimplifyCFGPass());
  llvm::ModulePassManager passes;
  passes.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(function_passes)));
  passes.run(module, modules);
}

llvm::SmallVector<char, 0> generate_code(llvm::Module& module, llvm::TargetMachine& target,
                                         llvm::CodeGenFileType type) {
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream out(bytes);
  llvm::legacy::PassManager passes;
  if (target.addPassesToEmitFile(passes, out, nullptr, type))
    throw Error("llvm", "the target machine " + target.getTargetTriple().str() +
                            " cannot emit this file type");
  passes.run(module);
  return bytes;
}

std::string module_text(const llvm::Module& module) {
  std::string text;
  llvm::raw_string_ostream out(text);
  module.print(out, nullptr);
  return out.str();
}

}  // namespace convjit
