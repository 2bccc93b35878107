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
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      normalized, cpu.empty() ? "generic" : cpu, features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOpt::Aggressive));
  if (!machine) throw Error("llvm", "cannot create a target machine for '" + triple + "'");
  return machine;
}

}  // namespace

CrossCompiledKernel cross_compile_kernel(const KernelPlan& plan, const std::string& triple,
                                         const std::string& cpu, const std::string& features) {
  auto machine = make_target_machine(triple, cpu, features);
  CrossCompiledKernel out;
  out.triple = machine->getTargetTriple().str();
  llvm::LLVMContext context;
  auto module = build_kernel_module(plan, plan.name, context, *machine);
  optimize_module(*module, *machine);
  out.ir = module_text(*module);
  // Code generation consumes nothing of the module, so both files come from the same IR.
  const auto assembly = generate_code(*module, *machine, llvm::CGFT_AssemblyFile);
  out.assembly.assign(assembly.begin(), assembly.end());
  const auto object = generate_code(*module, *machine, llvm::CGFT_ObjectFile);
  out.object.assign(object.begin(), object.end());
  return out;
}

}  // namespace convjit
