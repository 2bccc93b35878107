#include "generator/llvm/llvm_cross_compiler.hpp"

#include "generator/llvm/llvm_pipeline.hpp"

#include <convjit/error.hpp>

#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/TargetParser/Triple.h>

#include <mutex>

namespace convjit {
namespace {

void initialize_all_targets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  });
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(const std::string& triple,
                                                         const std::string& cpu,
                                                         const std::string& features) {
  initialize_all_targets();
  const std::string normalized = llvm::Triple::normalize(triple);
  std::string problem;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(normalized, problem);
  if (!target) throw Error("llvm", "no target for '" + triple + "': " + problem);
  llvm::TargetOptions options;
  // Assembly for people and tests: loop nests ("Loop Header: Depth=2") and spills ("Folded
  // Spill") annotated. The object file is the same either way.
  options.MCOptions.AsmVerbose = true;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      normalized, cpu.empty() ? "generic" : cpu, features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOpt::Aggressive));
  if (!machine) throw Error("llvm", "cannot create a target machine for '" + triple + "'");
  return machine;
}

}  // namespace

CrossTarget cross_target(Isa isa) {
  switch (isa) {
    case Isa::neon: return {"aarch64-linux-gnu", "generic", "+neon"};
    case Isa::avx2: return {"x86_64-linux-gnu", "haswell", ""};
    case Isa::avx512: return {"x86_64-linux-gnu", "skylake-avx512", ""};
    case Isa::automatic: break;
  }
  throw Error("isa", "a cross-compiled kernel needs a concrete instruction set");
}

CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const CrossTarget& target,
                                         const std::string& symbol) {
  auto machine = make_target_machine(target.triple, target.cpu, target.features);
  CrossCompiledKernel out;
  out.triple = machine->getTargetTriple().str();
  llvm::LLVMContext context;
  auto module = build_kernel_module(plan, symbol, context, *machine);
  optimize_module(*module, *machine);
  out.ir = module_text(*module);
  // Code generation consumes nothing of the module, so both files come from the same IR.
  const auto assembly = generate_code(*module, *machine, llvm::CGFT_AssemblyFile);
  out.assembly.assign(assembly.begin(), assembly.end());
  const auto object = generate_code(*module, *machine, llvm::CGFT_ObjectFile);
  out.object.assign(object.begin(), object.end());
  return out;
}

CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const std::string& triple,
                                         const std::string& cpu, const std::string& features) {
  return cross_compile_kernel(plan, CrossTarget{triple, cpu, features}, plan.name);
}

}  // namespace convjit
